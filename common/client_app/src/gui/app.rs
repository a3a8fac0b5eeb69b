//! The GUI thread's controller: owns the two views, the chat model and the command sender to the
//! network thread, and holds the one `match` over [`UiMsg`]. Decisions live in `logic.rs`; this
//! file applies them to the widgets.

use std::fs::File;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use common::client::folder::ClientFolder;
use common::config::Language;
use fltk::app::{self, Sender};
use fltk::dialog;
use fltk::enums::Color;
use fltk::prelude::*;
use tokio::sync::mpsc::UnboundedSender;

use super::logic::{
    ChatState, Compose, Entry, Labels, LoginDialog, Rendered, Update, chat_title,
    key_step_failed_text, labels, log_lines, login_dialog, render, status_text, validate_login,
};
use super::msg::{NetCmd, UiMsg};
use super::view::{ChatView, LoginView, chat_view, login_view};
use super::x11;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Login,
    Chat,
}

/// The controller.
pub struct Controller {
    folder: ClientFolder,
    lang: Language,
    l: &'static Labels,
    net: UnboundedSender<NetCmd>,
    login: LoginView,
    chat: ChatView,
    phase: Phase,
    state: ChatState,
    show_wire: bool,
    /// Text appended since the last flush.
    batch: Rendered,
    /// The whole list must be rendered again at the next flush.
    rerender: bool,
    /// A login or key step is running.
    in_flight: bool,
    reconnecting: bool,
    urgent: bool,
    /// `MINICHAT_GUI_TEST=1`: print window ids; with `MINICHAT_GUI_LOG`, log displayed lines.
    test_mode: bool,
    log: Option<File>,
    /// Set when the program should end.
    pub done: bool,
    pub failed: bool,
}

impl Controller {
    pub fn new(folder: ClientFolder, tx: Sender<UiMsg>, net: UnboundedSender<NetCmd>) -> Self {
        let lang = folder.config.language;
        let l = labels(lang);
        super::view::set_dialog_labels(lang);
        let login = login_view(l, &folder.config.username, &folder.chat_addr(), tx);
        let chat = chat_view(l, tx);
        let test_mode = std::env::var("MINICHAT_GUI_TEST").is_ok_and(|v| v == "1");
        let log = std::env::var_os("MINICHAT_GUI_LOG")
            .filter(|_| test_mode)
            .and_then(|p| File::options().create(true).append(true).open(p).ok());
        let state = ChatState::new(
            lang,
            &folder.program,
            &folder.config.username,
            &folder.config.username,
        );
        Self {
            folder,
            lang,
            l,
            net,
            login,
            chat,
            phase: Phase::Login,
            state,
            show_wire: false,
            batch: Rendered::default(),
            rerender: false,
            in_flight: false,
            reconnecting: false,
            urgent: false,
            test_mode,
            log,
            done: false,
            failed: false,
        }
    }

    fn net(&self, cmd: NetCmd) {
        // Fails only when the network thread is gone, which NetFailed already reported.
        let _ = self.net.send(cmd);
    }

    fn announce(&self, kind: &str, win: &fltk::window::Window) {
        if self.test_mode {
            eprintln!("GUI-WINDOW {kind} {}", win.raw_handle());
        }
    }

    fn log(&mut self, line: &str) {
        if let Some(f) = &mut self.log {
            let _ = writeln!(f, "{line}");
        }
    }

    /// A modal message (logged first in test mode, so the GUI test sees it).
    fn alert(&mut self, title: &str, text: &str) {
        self.log(&format!("# dialog: {}", text.replace('\n', " ")));
        dialog::message_title_default(title);
        dialog::alert_default(text);
    }

    /// A modal question with buttons `cancel` and `run` (the default, Enter); true for `run`.
    fn ask(&mut self, title: &str, text: &str, cancel: &str, run: &str) -> bool {
        self.log(&format!("# dialog: {}", text.replace('\n', " ")));
        dialog::message_title_default(title);
        dialog::choice2_default(text, cancel, run, "") == Some(1)
    }

    /// Show the login window.
    pub fn start(&mut self) {
        self.login.win.show();
        let _ = self.login.password.take_focus();
        self.announce("login", &self.login.win);
    }

    /// React to one message (the one `match`).
    pub fn handle(&mut self, msg: UiMsg) {
        match msg {
            UiMsg::LoginClicked => self.submit_login(),
            UiMsg::ResetClicked => {
                self.login.password.set_value("");
                let _ = self.login.password.take_focus();
            }
            UiMsg::LoginWindowClosed => {
                if self.phase == Phase::Login {
                    self.login.win.hide();
                    self.done = true;
                }
            }
            UiMsg::SendClicked => self.send_input(),
            UiMsg::Recall(up) => self.recall(up),
            UiMsg::UserSelected(row) => {
                if self.state.select_row(row) {
                    self.refresh_status();
                }
                self.chat.users.select(self.state.selected_row());
                let _ = self.chat.input.take_focus();
            }
            UiMsg::WireToggled(on) => {
                self.show_wire = on;
                self.rerender = true;
                let _ = self.chat.input.take_focus();
            }
            UiMsg::ReconnectClicked => self.reconnect(),
            UiMsg::ChatWindowClosed => {
                self.state.logging_out();
                self.chat.win.hide();
                self.done = true;
            }
            UiMsg::EscapePressed => {
                if self.test_mode {
                    let text =
                        crate::format::visible(&self.chat.input_buf.text()).replace('\n', "\\n");
                    self.log(&format!("# input: {text}"));
                }
            }
            UiMsg::Tick => self.tick(),
            UiMsg::LoggedIn {
                username,
                nickname,
                key_info,
                reconnect,
            } => {
                self.logged_in(&username, &nickname, &key_info, reconnect);
            }
            UiMsg::LoginFailed { failure, reconnect } => {
                self.in_flight = false;
                self.login.login.activate();
                if reconnect && self.phase == Phase::Chat {
                    self.reconnecting = false;
                    let up = self.state.add(Entry::system(
                        format!("{}: {}", self.l.reconnect, failure.message),
                        now_ms(),
                    ));
                    self.apply(up);
                    self.refresh_status();
                } else {
                    self.login.status.set_label(self.l.login_failed);
                }
                match login_dialog(&failure, self.lang) {
                    LoginDialog::Alert(text) => {
                        self.alert(self.l.login_failed, &text);
                        if self.phase == Phase::Login {
                            let _ = self.login.password.take_focus();
                        }
                    }
                    LoginDialog::OfferKeyStep { text, cancel, run } => {
                        if self.ask(self.l.login_failed, &text, cancel, run) {
                            self.run_key_step();
                        }
                    }
                }
            }
            UiMsg::KeyStepDone(Ok(summary)) => {
                let text = format!(
                    "{}: {} {summary}",
                    self.l.key_step_done, self.l.session_key_info
                );
                if self.phase == Phase::Chat {
                    let up = self.state.add(Entry::info(text, now_ms()));
                    self.apply(up);
                    self.in_flight = false;
                    self.reconnect();
                } else {
                    self.login.status.set_label(&text);
                    self.in_flight = false;
                    self.submit_login();
                }
            }
            UiMsg::KeyStepDone(Err(why)) => {
                self.in_flight = false;
                self.login.login.activate();
                self.login.status.set_label(self.l.key_step_failed);
                self.refresh_status();
                self.alert(
                    self.l.key_step_failed,
                    &key_step_failed_text(&why, self.lang),
                );
            }
            UiMsg::Session(ev) => {
                if self.phase == Phase::Chat {
                    let up = self.state.on_event(ev, now_ms());
                    self.apply(up);
                }
            }
            UiMsg::NotSent { text } => {
                if self.chat.input_buf.length() == 0 {
                    self.chat.input_buf.set_text(&text);
                }
                let up = self
                    .state
                    .add(Entry::system(self.l.not_connected, now_ms()));
                self.apply(up);
            }
            UiMsg::NetFailed(why) => {
                self.alert("mini-chat", &why);
                self.failed = true;
                self.login.win.hide();
                self.chat.win.hide();
                self.done = true;
            }
        }
    }

    fn submit_login(&mut self) {
        if self.in_flight || self.phase != Phase::Login {
            return;
        }
        let username = self.login.username.value().trim().to_owned();
        let password = self.login.password.value();
        if let Err(why) = validate_login(&username, &password, self.lang) {
            self.login.login.activate();
            self.login.status.set_label(&why);
            self.alert(self.l.login_failed, &why);
            let _ = self.login.password.take_focus();
            return;
        }
        self.in_flight = true;
        self.login.login.deactivate();
        self.login.status.set_label(self.l.logging_in);
        self.net(NetCmd::Login { username, password });
    }

    fn run_key_step(&mut self) {
        self.in_flight = true;
        self.login.login.deactivate();
        self.login.status.set_label(self.l.key_step_running);
        if self.phase == Phase::Chat {
            let up = self
                .state
                .add(Entry::info(self.l.key_step_running, now_ms()));
            self.apply(up);
        }
        self.net(NetCmd::RunKeyStep);
    }

    fn logged_in(&mut self, username: &str, nickname: &str, key_info: &str, reconnect: bool) {
        self.in_flight = false;
        self.reconnecting = false;
        let first = self.phase == Phase::Login;
        if first {
            self.phase = Phase::Chat;
            self.state = ChatState::new(self.lang, &self.folder.program, username, nickname);
            self.login.password.set_value("");
        }
        let up = self
            .state
            .on_logged_in(nickname, key_info, reconnect, now_ms());
        self.chat
            .heading
            .set_label(&chat_title(self.lang, nickname));
        self.chat.win.set_label(&self.state.title());
        if first {
            self.login.win.hide();
            self.chat.win.show();
            let _ = self.chat.input.take_focus();
            self.announce("chat", &self.chat.win);
        }
        self.apply(up);
        self.refresh_users();
        self.refresh_status();
    }

    fn send_input(&mut self) {
        if self.phase != Phase::Chat {
            return;
        }
        let typed = self.chat.input_buf.text();
        match self.state.compose(&typed, now_ms()) {
            Compose::Send { to, text } => {
                self.net(NetCmd::Send { to, text });
                self.chat.input_buf.set_text("");
            }
            Compose::ListUsers => {
                self.net(NetCmd::ListUsers);
                self.chat.input_buf.set_text("");
            }
            Compose::Quit => {
                self.state.logging_out();
                self.chat.win.hide();
                self.done = true;
            }
            Compose::Local(e) => {
                let up = self.state.add(e);
                self.apply(up);
            }
            Compose::Nothing => {}
        }
    }

    fn recall(&mut self, up: bool) {
        let current = self.chat.input_buf.text();
        let recalled = if up {
            self.state.history.up(&current)
        } else {
            self.state.history.down()
        };
        if let Some(text) = recalled {
            self.chat.input_buf.set_text(&text);
            self.chat
                .input
                .set_insert_position(self.chat.input_buf.length());
            self.chat.input.show_insert_position();
        }
    }

    fn reconnect(&mut self) {
        if self.phase != Phase::Chat || self.state.connected() || self.in_flight {
            return;
        }
        self.reconnecting = true;
        self.in_flight = true;
        self.refresh_status();
        self.net(NetCmd::Reconnect);
    }

    fn chat_focused(&self) -> bool {
        self.chat.win.shown()
            && x11::has_focus(&self.chat.win).unwrap_or_else(|| app::focus().is_some())
    }

    fn tick(&mut self) {
        if self.phase == Phase::Chat && self.chat_focused() && self.state.focus_seen() {
            self.chat.win.set_label(&self.state.title());
        }
        if self.urgent && self.chat_focused() {
            self.urgent = false;
            x11::set_urgent(&self.chat.win, false);
        }
    }

    /// Apply a model update to the widgets (text is batched until [`Self::flush`]).
    fn apply(&mut self, up: Update) {
        for e in &up.new_entries {
            let r = render(e, self.show_wire, self.lang);
            for line in log_lines(&r) {
                if let Some(f) = &mut self.log {
                    let _ = writeln!(f, "{line}");
                }
            }
            if !self.rerender {
                self.batch.extend(&r);
            }
        }
        if up.rerender {
            self.rerender = true;
        }
        if up.users_changed {
            self.refresh_users();
        }
        if up.target_changed || up.connection_changed {
            self.chat.users.select(self.state.selected_row());
            self.refresh_status();
        }
        let focused = self.chat_focused();
        if self.state.note_incoming(up.incoming_chat, focused) {
            self.chat.win.set_label(&self.state.title());
            if !self.urgent {
                self.urgent = true;
                x11::set_urgent(&self.chat.win, true);
            }
            self.log(&format!("# unread {}", self.state.unread()));
        }
    }

    /// Put batched text on screen and scroll to the newest message. Called once per wake-up,
    /// after every queued message was handled.
    pub fn flush(&mut self) {
        if self.rerender {
            let all = self.state.render_all(self.show_wire);
            self.chat.buf.set_text(&all.text);
            self.chat.styles.set_text(&all.style);
            self.rerender = false;
            self.batch = Rendered::default();
        } else if !self.batch.is_empty() {
            let batch = std::mem::take(&mut self.batch);
            self.chat.buf.append(&batch.text);
            self.chat.styles.append(&batch.style);
        } else {
            return;
        }
        let lines = self.chat.disp.count_lines(0, self.chat.buf.length(), true);
        self.chat.disp.scroll(lines, 0);
    }

    fn refresh_users(&mut self) {
        self.chat.users.clear();
        for row in self.state.user_rows() {
            // "@." stops FLTK from reading formatting codes in nicknames that start with '@'.
            self.chat.users.add(&format!("@.{row}"));
        }
        self.chat.users.select(self.state.selected_row());
    }

    fn refresh_status(&mut self) {
        let text = status_text(&self.state, self.reconnecting);
        self.chat.status.set_label(&text);
        let connected = self.state.connected();
        self.chat.status.set_label_color(if connected {
            Color::from_rgb(0, 110, 0)
        } else {
            Color::from_rgb(200, 0, 0)
        });
        if connected {
            self.chat.reconnect.hide();
            self.chat.send.activate();
        } else {
            self.chat.reconnect.show();
            if self.reconnecting {
                self.chat.reconnect.deactivate();
            } else {
                self.chat.reconnect.activate();
            }
            self.chat.send.deactivate();
        }
        self.chat.status.redraw();
        self.chat.win.redraw();
    }
}
