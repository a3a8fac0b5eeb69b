//! The GUI thread's controller: owns the two views, the chat model, the [`Phase`] and the command
//! sender to the network worker, and holds the one `match` over [`UiMsg`]. Decisions live in
//! `logic/`; this file applies them to the widgets.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use common::client::chat_client::CloseReason;
use common::client::folder::ClientFolder;
use common::client::kept::Keeper;
use common::client::key_client::{KeyStepError, KeyStepOutcome};
use common::config::Language;
use common::protocol::chat::ClientRequest;
use common::protocol::password::Secret;
use common::protocol::reason::Reason;
use fltk::app::{self, Sender};
use fltk::dialog::{self, FileChooser, FileChooserType};
use fltk::enums::Color;
use fltk::prelude::*;
use tokio::sync::mpsc::UnboundedSender;

use super::keystep_view::{KeyStepView, keystep_view};
use super::logic::chat::{ChatState, Compose, Update, status_text};
use super::logic::files::{TransferPanel, chooser_title};
use super::logic::history::SCROLL_BACK_COUNT;
use super::logic::inspector::inspect_at;
use super::logic::keyview::KeyLog;
use super::logic::labels::{Labels, chat_title, labels, reconnect_in};
use super::logic::login::{
    LoginDialog, LoginFailure, check_password_form, key_step_failed_text, login_dialog,
    session_end_dialog, validate_login,
};
use super::logic::phase::Phase;
use super::logic::reconnect::Backoff;
use super::logic::render::{Entry, Paint, Screen, log_lines, render, wrap_text};
use super::msg::{NetCmd, UiMsg};
use super::view::{ChatView, InspectorView, LoginView, chat_view, inspector_view, login_view};
use super::x11;
use crate::format::FileAction;

/// Width of a password prompt's text in columns (a CJK character takes two): a long prompt
/// wraps instead of stretching the dialog across the screen (the first-login prompt has its own
/// line break, and each of its lines fits).
const PROMPT_COLS: usize = 64;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `MINICHAT_GUI_TEST=1`: window ids go to stderr and, with `MINICHAT_GUI_LOG`, every displayed
/// line, dialog and unread count to that file (scripts/gui-test.sh reads both).
pub(super) struct TestHooks {
    pub(super) log: Option<File>,
    /// The last `# last entry at X Y` logged (only a change is logged again).
    last_place: Option<(i32, i32)>,
}

impl TestHooks {
    pub(super) fn from_env() -> Option<Self> {
        if !std::env::var("MINICHAT_GUI_TEST").is_ok_and(|v| v == "1") {
            return None;
        }
        let log = std::env::var_os("MINICHAT_GUI_LOG")
            .and_then(|p| File::options().create(true).append(true).open(p).ok());
        Some(Self {
            log,
            last_place: None,
        })
    }
}

/// The controller.
pub struct Controller {
    lang: Language,
    net: UnboundedSender<NetCmd>,
    login: LoginView,
    chat: ChatView,
    inspector: InspectorView,
    /// The key-step view (密钥分发过程) and what it shows.
    key_view: KeyStepView,
    key_log: KeyLog,
    phase: Phase,
    state: ChatState,
    /// Automatic reconnection after the server went away.
    backoff: Backoff,
    /// The problem the key step last ran for, until a login succeeds: not offered twice for it.
    key_step_ran_for: Option<Reason>,
    screen: Screen,
    /// Entries just put before the list (scroll-back): the next redraw keeps the old top in view.
    keep_top: Option<usize>,
    test: Option<TestHooks>,
    /// The client folder (`keep_history` and where kept messages go).
    folder: ClientFolder,
    /// The messages kept in the folder (nothing unless `keep_history = true`).
    kept: Keeper,
    /// File transfers as the panel shows them.
    files: TransferPanel,
    /// The file chooser (made at the first use) and whom the file it chooses goes to.
    chooser: Option<(FileChooser, Option<String>)>,
    /// The chooser is open (its answer has not been taken yet).
    choosing: bool,
    /// The panel's lines last logged (test mode logs a line when it changes).
    files_logged: Vec<String>,
}

impl Controller {
    pub fn new(folder: &ClientFolder, tx: Sender<UiMsg>, net: UnboundedSender<NetCmd>) -> Self {
        let lang = folder.config.language;
        let l = labels(lang);
        super::view::set_dialog_labels(lang);
        let user = &folder.config.username;
        Self {
            lang,
            net,
            login: login_view(l, user, &folder.server_label(), tx),
            chat: chat_view(l, tx),
            inspector: inspector_view(),
            key_view: keystep_view(lang, tx),
            key_log: KeyLog::default(),
            phase: Phase::Login,
            state: ChatState::new(lang, &folder.program, user, user),
            backoff: Backoff::default(),
            key_step_ran_for: None,
            screen: Screen::default(),
            keep_top: None,
            test: TestHooks::from_env(),
            folder: folder.clone(),
            kept: Keeper::default(),
            files: TransferPanel::new(lang),
            chooser: None,
            choosing: false,
            files_logged: Vec::new(),
        }
    }

    /// Where the client is; the loop ends once it [`Phase::ended`].
    pub fn phase(&self) -> Phase {
        self.phase
    }

    fn l(&self) -> &'static Labels {
        labels(self.lang)
    }

    fn net(&self, cmd: NetCmd) {
        // Fails only when the network worker is gone, which NetFailed already reported.
        let _ = self.net.send(cmd);
    }

    fn announce(&self, kind: &str, win: &fltk::window::Window) {
        if self.test.is_some() {
            eprintln!("GUI-WINDOW {kind} {}", win.raw_handle());
        }
    }

    fn log(&mut self, line: &str) {
        if let Some(TestHooks { log: Some(f), .. }) = &mut self.test {
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

    /// A modal password prompt titled "change password" (logged first in test mode, like the
    /// other dialogs); `None` on Cancel.
    fn ask_password(&mut self, label: &str) -> Option<String> {
        self.log(&format!("# dialog: {}", label.replace('\n', " ")));
        dialog::message_title_default(self.l().change_password);
        dialog::password_default(&wrap_text(label, PROMPT_COLS), "")
    }

    /// Show the login window.
    pub fn start(&mut self) {
        self.login.win.show();
        let _ = self.login.password.take_focus();
        self.announce("login", &self.login.win);
    }

    /// Move to `phase`: the login button is on only while nothing runs, and the chat window's
    /// status line and buttons follow.
    fn set_phase(&mut self, phase: Phase) {
        self.phase = phase;
        if phase.busy() {
            self.login.login.deactivate();
        } else {
            self.login.login.activate();
        }
        // The left button cancels a running login or key step, else it clears the password.
        let l = self.l();
        let left = if phase.cancel().is_some() {
            l.cancel
        } else {
            l.reset
        };
        if self.login.reset.label() != left {
            self.login.reset.set_label(left);
        }
        if phase.in_chat() {
            self.refresh_status();
        }
    }

    /// React to one message (the one `match`).
    pub fn handle(&mut self, msg: UiMsg) {
        match msg {
            UiMsg::LoginClicked => self.submit_login(),
            UiMsg::ResetClicked => match self.phase.cancel() {
                Some(next) => self.cancel_login(next),
                None => {
                    self.login.password.set_value("");
                    let _ = self.login.password.take_focus();
                }
            },
            UiMsg::LoginWindowClosed => {
                if self.phase.in_login() {
                    self.login.win.hide();
                    self.phase = Phase::Done;
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
            UiMsg::MessageClicked(pos) => self.inspect(pos),
            UiMsg::ScrolledToTop => self.scroll_back(),
            UiMsg::WireToggled(on) => {
                self.screen.set_show_wire(on);
                let _ = self.chat.input.take_focus();
            }
            UiMsg::ReconnectClicked => {
                // The student takes over: no automatic attempt behind their back.
                self.backoff.reset();
                self.reconnect();
            }
            UiMsg::ChangePasswordClicked => {
                if self.phase.online() {
                    self.change_password();
                }
            }
            UiMsg::ChatWindowClosed => self.leave(),
            UiMsg::EscapePressed => {
                if self.test.is_some() {
                    let text =
                        crate::format::visible(&self.chat.input_buf.text()).replace('\n', "\\n");
                    self.log(&format!("# input: {text}"));
                }
            }
            UiMsg::Tick => self.tick(),
            UiMsg::SendFileClicked => self.choose_file(),
            UiMsg::FilesDropped(paths) => self.files_dropped(paths),
            UiMsg::TransferSelected(line) => {
                self.files.select(line);
                self.refresh_files();
            }
            UiMsg::AcceptFileClicked | UiMsg::DeclineFileClicked => {
                if let Some(id) = self.files.answer_target() {
                    self.answer_file(id, matches!(msg, UiMsg::AcceptFileClicked));
                }
            }
            UiMsg::CancelFileClicked => {
                if let Some(id) = self.files.cancel_target() {
                    self.net(NetCmd::CancelFile(id));
                }
            }
            UiMsg::File(update) => self.file_update(&update),
            UiMsg::FileNotice(text) => {
                let up = self.state.add(Entry::system(text, now_ms()));
                self.apply(up);
            }
            // Results of a cancelled login or key step (sent before the worker saw the cancel)
            // are not shown; a session it opened is closed.
            UiMsg::LoggedIn { .. } | UiMsg::MustChangePassword { .. }
                if !self.phase.awaits_login() =>
            {
                self.net(NetCmd::Request(ClientRequest::Logout));
            }
            UiMsg::LoginFailed(_) if !self.phase.awaits_login() => {}
            UiMsg::KeyStepDone(_) | UiMsg::KeyStep(_) if !self.phase.awaits_key_step() => {}
            UiMsg::KeyStep(event) => {
                self.key_log.push(event);
                self.show_key_log(false);
            }
            UiMsg::KeySecretsToggled(_) => self.show_key_log(false),
            UiMsg::LoggedIn {
                username,
                nickname,
                key_info,
                clock_warning,
            } => self.logged_in(&username, &nickname, &key_info, clock_warning),
            UiMsg::LoginFailed(failure) => self.login_failed(&failure),
            UiMsg::MustChangePassword { refused } => self.first_password(refused.as_deref()),
            UiMsg::KeyStepDone(result) => self.key_step_done(result),
            UiMsg::NetFailed(why) => {
                self.alert("mini-chat", &why);
                self.login.win.hide();
                self.chat.win.hide();
                self.phase = Phase::Failed;
            }
            msg @ (UiMsg::Event { .. }
            | UiMsg::ServerError(_)
            | UiMsg::Rejected { .. }
            | UiMsg::Unsendable(_)
            | UiMsg::Sent { .. }
            | UiMsg::Closed { .. }
            | UiMsg::NotConnected { .. }) => self.session(msg),
        }
    }

    /// What the session reports; shown only while the chat window is (after leaving, the close
    /// we asked for is not an error).
    fn session(&mut self, msg: UiMsg) {
        if !self.phase.in_chat() {
            return;
        }
        let now = now_ms();
        let mut dialog = None;
        let up = match msg {
            UiMsg::Event { event, wire } => {
                let failed = self.kept.keep_event(&event, self.lang);
                let mut up = self.state.on_server_event(event, wire, now);
                if let Some(text) = failed {
                    let more = self.state.add(Entry::system(text, now));
                    up.new_entries.extend(more.new_entries);
                    up.rerender |= more.rerender;
                }
                up
            }
            UiMsg::ServerError(e) => self.state.on_server_error(e, now),
            UiMsg::Rejected { why, wire } => self.state.on_rejected(&why, wire, now),
            UiMsg::Unsendable(why) => self.state.on_not_sent(&why, now),
            UiMsg::Sent { request, wire } => {
                self.state.on_sent(request, wire);
                return;
            }
            UiMsg::Closed { reason } => {
                dialog = session_end_dialog(&reason, self.lang).map(|d| (reason.clone(), d));
                let mut up = self.state.on_closed(&reason, now);
                self.set_phase(self.phase.closed());
                if let Some(delay) = self.backoff.after_close(&reason, now) {
                    let text = reconnect_in(self.lang, delay.as_secs(), false);
                    let more = self.state.add(Entry::info(text, now));
                    up.new_entries.extend(more.new_entries);
                    up.rerender |= more.rerender;
                }
                up
            }
            UiMsg::NotConnected {
                request: ClientRequest::Chat { text, .. },
            } => {
                // The text goes back into the box, unless something new was typed meanwhile.
                if self.chat.input_buf.length() == 0 {
                    self.chat.input_buf.set_text(&text);
                }
                self.state.add(Entry::system(self.l().not_connected, now))
            }
            // Nothing to show (a list request that found no session), or not a session message.
            _ => return,
        };
        self.apply(up);
        if let Some((reason, dialog)) = dialog {
            // The message list says why before the dialog asks.
            self.flush();
            self.offer_after_close(&reason, dialog);
        }
    }

    /// The session ended for `reason` and the dialog for it: an accepted key step offer runs
    /// the key step (and the reconnect after it).
    fn offer_after_close(&mut self, reason: &CloseReason, dialog: LoginDialog) {
        let title = self.l().session_ended;
        match dialog {
            LoginDialog::Alert(text) => self.alert(title, &text),
            LoginDialog::OfferKeyStep { text, cancel, run } => {
                if self.ask(title, &text, cancel, run) {
                    // A reconnect that still fails for the same reason does not offer it again.
                    if let CloseReason::ServerError(e) = reason {
                        self.key_step_ran_for = Some(e.reason.clone());
                    }
                    self.run_key_step();
                }
            }
        }
    }

    fn submit_login(&mut self) {
        let Some(next) = self.phase.submit_login() else {
            return;
        };
        let l = self.l();
        let username = self.login.username.value().trim().to_owned();
        let password = self.login.password.value();
        if let Err(why) = validate_login(&username, &password, self.lang) {
            self.login.status.set_label(&why);
            self.alert(l.login_failed, &why);
            let _ = self.login.password.take_focus();
            return;
        }
        self.set_phase(next);
        self.login.status.set_label(l.logging_in);
        self.net(NetCmd::Login { username, password });
    }

    fn login_failed(&mut self, failure: &LoginFailure) {
        let l = self.l();
        self.set_phase(self.phase.login_failed());
        // An automatic attempt that failed: say when the next one is, without a dialog.
        if self.phase.in_chat() && self.backoff.running() {
            let now = now_ms();
            if let Some(delay) = self.backoff.after_failure(failure.retry_later, now) {
                let text = format!(
                    "{}: {} {}",
                    l.reconnect,
                    failure.message,
                    reconnect_in(self.lang, delay.as_secs(), true)
                );
                let up = self.state.add(Entry::system(text, now));
                self.apply(up);
                return;
            }
        }
        if self.phase.in_chat() {
            let text = format!("{}: {}", l.reconnect, failure.message);
            let up = self.state.add(Entry::system(text, now_ms()));
            self.apply(up);
        } else {
            self.login.status.set_label(l.login_failed);
        }
        match login_dialog(failure, self.key_step_ran_for.as_ref(), self.lang) {
            LoginDialog::Alert(text) => {
                // A wrong password is typed again from scratch (the field shows only dots). Not
                // when the key step is offered: its retry logs in with the password as typed.
                if self.phase.in_login() {
                    self.login.password.set_value("");
                }
                self.alert(l.login_failed, &text);
                if self.phase.in_login() {
                    let _ = self.login.password.take_focus();
                }
            }
            LoginDialog::OfferKeyStep { text, cancel, run } => {
                if self.ask(l.login_failed, &text, cancel, run) {
                    self.key_step_ran_for.clone_from(&failure.key_step_for);
                    self.run_key_step();
                }
            }
        }
    }

    fn run_key_step(&mut self) {
        let Some(next) = self.phase.start_key_step() else {
            return;
        };
        let l = self.l();
        self.set_phase(next);
        self.key_log.clear();
        self.show_key_log(false);
        self.login.status.set_label(l.key_step_running);
        if next.in_chat() {
            let up = self.state.add(Entry::info(l.key_step_running, now_ms()));
            self.apply(up);
        }
        self.net(NetCmd::RunKeyStep);
    }

    /// Show the key-step view with what happened so far; `log` writes its lines to the GUI
    /// test's log (once, at the end).
    fn show_key_log(&mut self, log: bool) {
        let first = !self.key_view.win.shown();
        let lines = self.key_view.show_log(&self.key_log, self.lang);
        if first {
            self.announce("keyview", &self.key_view.win);
        }
        if log {
            for line in lines {
                self.log(&format!("# keyview: {line}"));
            }
        }
    }

    /// The key step ended: on success the login (or reconnect) is tried again.
    fn key_step_done(&mut self, result: Result<KeyStepOutcome, Arc<KeyStepError>>) {
        if let Err(why) = &result {
            self.key_log.fail(why, self.lang);
        }
        self.show_key_log(true);
        let l = self.l();
        self.set_phase(self.phase.key_step_done());
        match result {
            Ok(o) => {
                let until = crate::format::local_time(&o.expires_at);
                let summary = format!("{} (→ {until}), {}", o.key_id, o.server_fingerprint);
                let mut text = format!("{}: {} {summary}", l.key_step_done, l.session_key_info);
                // server_host = "auto": where the server was found, and any answer ignored for
                // announcing another key than the pinned one.
                if let Some(d) = &o.discovered {
                    let ctx = common::client::texts::Ctx::gui(self.lang);
                    let lines = common::client::texts::discovered_lines(d, ctx);
                    text.push(' ');
                    text.push_str(&lines[0]);
                    if lines.len() > 1 {
                        self.alert(l.key_step_done, &lines[1..].join("\n"));
                    }
                }
                if self.phase.in_chat() {
                    let up = self.state.add(Entry::info(text, now_ms()));
                    self.apply(up);
                    self.reconnect();
                } else {
                    self.login.status.set_label(&text);
                    self.submit_login();
                }
            }
            Err(why) => {
                self.login.status.set_label(l.key_step_failed);
                let why = why.localized(common::client::texts::Ctx::gui(self.lang));
                self.alert(l.key_step_failed, &key_step_failed_text(&why, self.lang));
            }
        }
    }

    /// Cancel was clicked while a login or key step ran.
    fn cancel_login(&mut self, next: Phase) {
        self.net(NetCmd::Cancel);
        self.set_phase(next);
        let l = self.l();
        self.login.status.set_label(l.login_cancelled);
        self.log(&format!("# status: {}", l.login_cancelled));
        let _ = self.login.password.take_focus();
    }

    fn logged_in(
        &mut self,
        username: &str,
        nickname: &str,
        key_info: &str,
        clock_warning: Option<String>,
    ) {
        self.backoff.reset();
        self.key_step_ran_for = None;
        let first = self.phase.in_login();
        if first {
            self.state = ChatState::new(self.lang, &self.state.program, username, nickname);
            self.login.password.set_value("");
        }
        let up = self
            .state
            .on_logged_in(nickname, key_info, !first, now_ms());
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
        if first {
            self.show_kept(username);
        }
        if let Some(warning) = clock_warning.filter(|_| first) {
            let up = self.state.add(Entry::system(warning, now_ms()));
            self.apply(up);
        }
        self.refresh_users();
        self.set_phase(self.phase.logged_in());
    }

    /// Show the messages kept in the folder (`keep_history`), before the login's history.
    fn show_kept(&mut self, username: &str) {
        let (kept, start) = Keeper::start(&self.folder, username);
        self.kept = kept;
        let now = now_ms();
        let up = self.state.show_kept(&start.lines, now);
        self.apply(up);
        for note in start.notes {
            let up = self.state.add(Entry::system(note, now));
            self.apply(up);
        }
    }

    fn send_input(&mut self) {
        if !self.phase.in_chat() {
            return;
        }
        let typed = self.chat.input_buf.text();
        match self.state.compose(&typed, self.phase, now_ms()) {
            Compose::Send(req) => {
                self.net(NetCmd::Request(req));
                self.chat.input_buf.set_text("");
            }
            Compose::Quit => self.leave(),
            Compose::ChangePassword => {
                self.chat.input_buf.set_text("");
                self.change_password();
            }
            Compose::SendFile { path, to } => {
                self.net(NetCmd::SendFile { path, to });
                self.chat.input_buf.set_text("");
            }
            Compose::FileAction { action, id } => {
                match action {
                    FileAction::Accept => self.answer_file(id, true),
                    FileAction::Decline => self.answer_file(id, false),
                    FileAction::Cancel => self.net(NetCmd::CancelFile(id)),
                }
                self.chat.input_buf.set_text("");
            }
            Compose::Local(e) => {
                let up = self.state.add(e);
                self.apply(up);
            }
            Compose::Nothing => {}
        }
    }

    /// Ask for the current and the new password (twice) in modal dialogs and send the change;
    /// a form the server would refuse is refused here, with the same text.
    fn change_password(&mut self) {
        let l = self.l();
        let Some(old) = self.ask_password(l.current_password) else {
            return;
        };
        let Some(new) = self.ask_password(l.new_password) else {
            return;
        };
        let Some(again) = self.ask_password(l.new_password_again) else {
            return;
        };
        match check_password_form(&self.state.me, &old, &new, &again, self.lang) {
            Ok(()) => self.net(NetCmd::Request(ClientRequest::ChangePassword {
                old: Secret::new(old),
                new: Secret::new(new),
            })),
            Err(text) => self.alert(l.password_not_changed, &text),
        }
    }

    /// The first login of an imported user: the new password (twice) before anything else. Cancel
    /// logs out, back to the login window.
    fn first_password(&mut self, refused: Option<&str>) {
        let l = self.l();
        if let Some(why) = refused {
            self.alert(l.password_not_changed, why);
        }
        // Behind the dialog, the login window no longer says "logging in".
        self.login.status.set_label(l.change_password);
        let old = self.login.password.value();
        let me = self.login.username.value().trim().to_owned();
        while let Some(new) = self.ask_password(l.must_change_password) {
            let Some(again) = self.ask_password(l.new_password_again) else {
                break;
            };
            match check_password_form(&me, &old, &new, &again, self.lang) {
                Ok(()) => {
                    self.net(NetCmd::FirstPassword { new });
                    return;
                }
                Err(text) => self.alert(l.password_not_changed, &text),
            }
        }
        self.net(NetCmd::Request(ClientRequest::Logout));
        self.set_phase(self.phase.login_failed());
        self.login.status.set_label(l.password_not_changed);
    }

    /// Close the chat window and end the loop; the network worker logs out.
    fn leave(&mut self) {
        self.chat.win.hide();
        self.phase = Phase::Done;
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
        if let Some(next) = self.phase.reconnect() {
            self.set_phase(next);
            self.net(NetCmd::Reconnect);
        }
    }

    fn chat_focused(&self) -> bool {
        self.chat.win.shown()
            && x11::has_focus(&self.chat.win).unwrap_or_else(|| app::focus().is_some())
    }

    /// The chat window got the focus: the unread count and the urgency hint go.
    fn tick(&mut self) {
        if self.phase == Phase::Offline && self.backoff.due(now_ms()) {
            self.reconnect();
        }
        self.log_last_entry_place();
        self.file_chosen();
        if self.phase.in_chat() && self.chat_focused() && self.state.focus_seen() {
            self.chat.win.set_label(&self.state.title());
            x11::set_urgent(&self.chat.win, false);
        }
    }

    /// Apply a model update to the widgets (text is batched until [`Self::flush`]).
    fn apply(&mut self, mut up: Update) {
        if let Some(req) = up.request.take()
            && self.phase.online()
        {
            self.log("# history: asking for the messages missing after the login");
            self.net(NetCmd::Request(req));
        }
        for e in &up.new_entries {
            let r = self.screen.add(e, self.lang);
            for line in log_lines(&r) {
                self.log(line);
            }
        }
        if up.rerender {
            self.screen.replace_all();
        }
        if up.prepended > 0 {
            self.keep_top = Some(up.prepended);
            self.log(&format!(
                "# scroll-back: {} entries put first",
                up.prepended
            ));
            let older: Vec<String> = self
                .state
                .entries()
                .take(up.prepended)
                .map(|e| render(e, self.screen.show_wire(), self.lang).text)
                .collect();
            for text in older {
                for line in text.lines() {
                    self.log(line);
                }
            }
        }
        if up.users_changed {
            self.refresh_users();
        }
        if up.target_changed {
            self.chat.users.select(self.state.selected_row());
            self.refresh_status();
        }
        let was_unread = self.state.unread() > 0;
        if self
            .state
            .note_incoming(up.incoming_chat, self.chat_focused())
        {
            self.chat.win.set_label(&self.state.title());
            if !was_unread {
                x11::set_urgent(&self.chat.win, true);
            }
            self.log(&format!("# unread {}", self.state.unread()));
        }
    }

    /// The list is at its top: ask for older messages (once at a time, while online, until the
    /// server has no more).
    fn scroll_back(&mut self) {
        if !self.phase.online() {
            return;
        }
        if let Some(req) = self.state.older_request(SCROLL_BACK_COUNT) {
            self.log("# scroll-back: asking for older messages");
            self.net(NetCmd::Request(req));
        }
    }

    /// Show the frames of the message at byte `pos` of the message list in the inspector
    /// window (nothing for a line that never crossed the wire).
    fn inspect(&mut self, pos: i32) {
        let Ok(pos) = usize::try_from(pos) else {
            return;
        };
        let show_wire = self.screen.show_wire();
        let Some(view) = inspect_at(self.state.entries(), show_wire, self.lang, pos) else {
            return;
        };
        self.log(&format!("# inspector: {}", view.title));
        for line in view.text.lines() {
            self.log(&format!("# inspector: {line}"));
        }
        self.inspector.win.set_label(&view.title);
        self.inspector.buf.set_text(&view.text);
        if !self.inspector.win.shown() {
            self.inspector.win.show();
            self.announce("inspector", &self.inspector.win);
        }
        self.inspector.win.redraw();
    }

    /// Put batched text on screen and scroll to the newest message. Called once per wake-up,
    /// after every queued message was handled.
    pub fn flush(&mut self) {
        match self.screen.take() {
            Paint::Nothing => return,
            Paint::Append(batch) => {
                self.chat.buf.append(&batch.text);
                self.chat.styles.append(&batch.style);
            }
            Paint::Replace => {
                let all = self.state.render_all(self.screen.show_wire());
                self.chat.buf.set_text(&all.text);
                self.chat.styles.set_text(&all.style);
            }
        }
        // Older messages were put first: keep the line that was at the top in view (the reader
        // scrolls on up); anything else scrolls to the newest message.
        let end = match self.keep_top.take() {
            Some(n) => self
                .state
                .entries()
                .take(n)
                .map(|e| render(e, self.screen.show_wire(), self.lang).text.len())
                .sum::<usize>(),
            None => self.chat.buf.length() as usize,
        };
        let lines = self
            .chat
            .disp
            .count_lines(0, i32::try_from(end).unwrap_or(i32::MAX), true);
        self.chat.disp.scroll(lines, 0);
    }

    /// Test mode: where the newest entry starts in the chat window (window coordinates), so the
    /// GUI test can click it to open the frame inspector. Asked on the tick, after the window
    /// was drawn (before that the display's line starts are stale); logged when it changes.
    fn log_last_entry_place(&mut self) {
        if self.test.is_none() || !self.chat.win.shown() {
            return;
        }
        let Some(last) = self.state.entries().last() else {
            return;
        };
        let len = render(last, self.screen.show_wire(), self.lang).text.len();
        let pos = self.chat.buf.length() - i32::try_from(len).unwrap_or(0);
        let place = self.chat.disp.position_to_xy(pos);
        let Some(hooks) = &mut self.test else {
            return;
        };
        if hooks.last_place.replace(place) != Some(place) {
            self.log(&format!("# last entry at {} {}", place.0, place.1));
        }
    }

    /// The send-file button: FLTK's own file chooser (not modal: chat goes on while it is open),
    /// titled with the recipient, the user selected in the online list or everyone.
    fn choose_file(&mut self) {
        if !self.phase.online() {
            let up = self
                .state
                .add(Entry::system(self.l().not_connected, now_ms()));
            self.apply(up);
            return;
        }
        let target = self.state.target().map(str::to_owned);
        let title = chooser_title(self.lang, target.as_deref());
        // No callback: fltk-rs's FileChooser callback wraps the chooser in a value whose drop
        // deletes it (a crash after the first pick). The tick looks whether it was closed.
        let (fc, to) = self.chooser.get_or_insert_with(|| {
            let home = std::env::var_os("HOME").map_or_else(|| ".".into(), PathBuf::from);
            let fc = FileChooser::new(home, "*", FileChooserType::Single, &title);
            (fc, None)
        });
        *to = target;
        fc.set_label(&title);
        fc.show();
        self.choosing = true;
        let id = fc.window().raw_handle();
        self.log(&format!("# chooser: {title}"));
        if self.test.is_some() {
            eprintln!("GUI-WINDOW chooser {id}");
        }
    }

    /// Once the chooser is closed: offer the chosen file, if any (Cancel leaves none).
    fn file_chosen(&mut self) {
        let Some((fc, to)) = &mut self.chooser else {
            return;
        };
        if !self.choosing || fc.shown() {
            return;
        }
        self.choosing = false;
        if fc.count() == 0 {
            return;
        }
        if let Some(path) = fc.value(1) {
            let to = to.clone();
            self.net(NetCmd::SendFile { path, to });
        }
    }

    /// Files dropped on the window: one offer each, to the selected user or everyone.
    fn files_dropped(&mut self, paths: Vec<PathBuf>) {
        if paths.is_empty() {
            let up = self
                .state
                .add(Entry::system(self.l().file_nothing_dropped, now_ms()));
            self.apply(up);
            return;
        }
        let to = self.state.target().map(str::to_owned);
        for path in paths {
            let path = path.to_string_lossy().into_owned();
            self.net(NetCmd::SendFile {
                path,
                to: to.clone(),
            });
        }
    }

    /// Accept or decline offer `id`.
    fn answer_file(&mut self, id: u64, accept: bool) {
        self.net(NetCmd::FileAnswer { id, accept });
        self.files.answered(id, accept);
        self.refresh_files();
    }

    /// A transfer changed: the panel follows, and the message list says what happened.
    fn file_update(&mut self, update: &common::client::files::Update) {
        if let Some(text) = self.files.on_update(update) {
            let up = self.state.add(Entry::info(text, now_ms()));
            self.apply(up);
        }
        self.refresh_files();
    }

    fn refresh_files(&mut self) {
        let lang = self.lang;
        let lines = self.files.lines();
        let list = &mut self.chat.files.list;
        if list.size() != i32::try_from(lines.len()).unwrap_or(0) {
            list.clear();
            for line in &lines {
                list.add(&format!("@.{line}"));
            }
            // A new transfer is the one to see: scroll the panel down to it.
            list.bottom_line(list.size());
        } else {
            for (i, line) in lines.iter().enumerate() {
                let n = i32::try_from(i + 1).unwrap_or(0);
                if list.text(n).as_deref() != Some(&format!("@.{line}")) {
                    list.set_text(n, &format!("@.{line}"));
                }
            }
        }
        list.select(self.files.selected_line());
        let files = &mut self.chat.files;
        match self.files.bar_row() {
            Some(row) => {
                files.bar.set_value(row.fraction() * 100.0);
                files.bar.set_label(&row.bar_label(lang));
            }
            None => {
                files.bar.set_value(0.0);
                files.bar.set_label("");
            }
        }
        let set = |b: &mut fltk::button::Button, on: bool| {
            if on { b.activate() } else { b.deactivate() }
        };
        let offer = self.files.answer_target().is_some();
        set(&mut files.accept, offer);
        set(&mut files.decline, offer);
        set(&mut files.cancel, self.files.cancel_target().is_some());
        files.bar.redraw();
        files.list.redraw();
        if self.test.is_some() {
            for line in &lines {
                if !self.files_logged.contains(line) {
                    self.log(&format!("# files: {line}"));
                }
            }
            self.files_logged = lines;
        }
    }

    fn refresh_users(&mut self) {
        self.chat.users.clear();
        let rows = self.state.user_rows();
        for row in &rows {
            // "@." stops FLTK from reading formatting codes in nicknames that start with '@'.
            self.chat.users.add(&format!("@.{row}"));
        }
        if self.test.is_some() {
            self.log(&format!("# users: {}", rows.join(" | ")));
        }
        self.chat.users.select(self.state.selected_row());
    }

    fn refresh_status(&mut self) {
        let text = status_text(&self.state, self.phase);
        self.chat.status.set_label(&text);
        let online = self.phase.online();
        self.chat.status.set_label_color(if online {
            Color::from_rgb(0, 110, 0)
        } else {
            Color::from_rgb(200, 0, 0)
        });
        if online {
            self.chat.reconnect.hide();
            self.chat.change_password.show();
            self.chat.send.activate();
            self.chat.files.send_file.activate();
        } else {
            self.chat.files.send_file.deactivate();
            self.chat.change_password.hide();
            self.chat.reconnect.show();
            if self.phase == Phase::Reconnecting {
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
