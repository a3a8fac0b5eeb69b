//! Widget construction: the login window and the chat window. Callbacks only send a [`UiMsg`];
//! `app.rs` decides what happens.

use std::ffi::CStr;

use fltk::app::{self, Sender};
use fltk::browser::HoldBrowser;
use fltk::button::{Button, CheckButton, ReturnButton};
use fltk::enums::{Align, Color, Event, Font, Key};
use fltk::frame::Frame;
use fltk::input::{Input, SecretInput};
use fltk::misc::Progress;
use fltk::prelude::*;
use fltk::text::{StyleTableEntry, TextBuffer, TextDisplay, TextEditor, WrapMode};
use fltk::window::Window;

use super::logic::files::{DropStep, DropTarget};
use super::logic::input_history::recall_applies;
use super::logic::labels::Labels;
use super::msg::UiMsg;

const FONT_SIZE: i32 = 14;

/// Only the window manager's close button closes a window: FLTK would also close it on Esc,
/// which must not throw away typed text. Esc sends `on_esc` instead, if given.
fn close_only_on_wm(win: &mut Window, tx: Sender<UiMsg>, on_close: UiMsg, on_esc: Option<UiMsg>) {
    win.set_callback(move |_| {
        if app::event() == Event::Close {
            tx.send(on_close.clone());
        } else if let Some(m) = &on_esc {
            tx.send(m.clone());
        }
    });
}

unsafe extern "C" {
    /// FLTK's label of an alert's only button (`"Close"`); fltk-rs has no setter.
    static mut fl_close: *const std::os::raw::c_char;
    /// FLTK's labels of the password prompt's buttons (`"OK"`, `"Cancel"`).
    static mut fl_ok: *const std::os::raw::c_char;
    static mut fl_cancel: *const std::os::raw::c_char;
}

/// Put the buttons of FLTK's alerts and password prompts in the interface language.
pub fn set_dialog_labels(lang: common::config::Language) {
    let (close, ok, cancel): (&'static CStr, &'static CStr, &'static CStr) = match lang {
        common::config::Language::Zh => (c"确定", c"确定", c"取消"),
        common::config::Language::En => (c"OK", c"OK", c"Cancel"),
    };
    // SAFETY: FLTK only reads these pointers (on the GUI thread, which is the caller); they
    // point to NUL-terminated strings that live for the whole program.
    unsafe {
        fl_close = close.as_ptr();
        fl_ok = ok.as_ptr();
        fl_cancel = cancel.as_ptr();
    }
}

/// The login window.
pub struct LoginView {
    pub win: Window,
    pub username: Input,
    pub password: SecretInput,
    pub login: ReturnButton,
    /// "Reset", or "Cancel" while a login or key step runs.
    pub reset: Button,
    pub status: Frame,
}

/// Build the login window (hidden): fixed size, centred on the screen.
pub fn login_view(l: &Labels, username: &str, server: &str, tx: Sender<UiMsg>) -> LoginView {
    let (w, h) = (380, 230);
    let mut win = Window::new(0, 0, w, h, None).center_screen();
    win.set_label(l.login_window);

    let mut heading = Frame::new(0, 12, w, 30, None);
    heading.set_label(l.login_heading);
    heading.set_label_size(17);
    heading.set_label_font(Font::HelveticaBold);

    let mut user_in = Input::new(120, 58, 210, 30, None);
    user_in.set_label(l.username);
    user_in.set_value(username);
    user_in.set_text_size(FONT_SIZE);
    let mut pw = SecretInput::new(120, 98, 210, 30, None);
    pw.set_label(l.password);
    pw.set_text_size(FONT_SIZE);

    let mut status = Frame::new(10, 134, w - 20, 26, None);
    status.set_label(&format!("{}: {server}", l.server));
    status.set_label_size(12);
    status.set_label_color(Color::from_rgb(90, 90, 90));
    status.set_align(Align::Center | Align::Inside | Align::Wrap);

    let mut reset = Button::new(85, 172, 95, 34, None);
    reset.set_label(l.reset);
    let mut login = ReturnButton::new(200, 172, 95, 34, None);
    login.set_label(l.login);
    win.end();

    reset.set_callback(move |_| tx.send(UiMsg::ResetClicked));
    login.set_callback(move |_| tx.send(UiMsg::LoginClicked));
    close_only_on_wm(&mut win, tx, UiMsg::LoginWindowClosed, None);
    LoginView {
        win,
        username: user_in,
        password: pw,
        login,
        reset,
        status,
    }
}

/// The chat window.
pub struct ChatView {
    pub win: Window,
    pub heading: Frame,
    pub disp: TextDisplay,
    pub buf: TextBuffer,
    pub styles: TextBuffer,
    pub users: HoldBrowser,
    pub status: Frame,
    pub reconnect: Button,
    /// Shown while online, where Reconnect is shown while offline.
    pub change_password: Button,
    pub input: TextEditor,
    pub input_buf: TextBuffer,
    pub send: Button,
    pub files: FilesView,
}

/// The chat window's file transfers: the send-file button, one line per transfer, a progress
/// bar for the selected (or newest) one, and the buttons that act on it.
pub struct FilesView {
    pub send_file: Button,
    pub list: HoldBrowser,
    pub bar: Progress,
    pub accept: Button,
    pub decline: Button,
    pub cancel: Button,
}

/// Layout (the script clicks the check button at its centre, see scripts/gui-test.sh).
pub mod layout {
    pub const W: i32 = 800;
    pub const H: i32 = 730;
    /// `(x, y, w, h)` of the file transfer buttons (the GUI test clicks their centres).
    pub const SEND_FILE: (i32, i32, i32, i32) = (590, 600, 200, 30);
    pub const ACCEPT_FILE: (i32, i32, i32, i32) = (590, 636, 97, 28);
    pub const DECLINE_FILE: (i32, i32, i32, i32) = (693, 636, 97, 28);
    pub const CANCEL_FILE: (i32, i32, i32, i32) = (590, 670, 200, 28);
    /// `(x, y, w, h)` of the "show ciphertext" check button.
    pub const WIRE: (i32, i32, i32, i32) = (400, 432, 180, 26);
}

/// The message list's style table; letters in `logic::render::style`.
fn style_table() -> Vec<StyleTableEntry> {
    vec![
        StyleTableEntry {
            color: Color::Black,
            font: Font::Helvetica,
            size: FONT_SIZE,
        },
        StyleTableEntry {
            color: Color::from_rgb(0, 128, 0),
            font: Font::HelveticaBold,
            size: FONT_SIZE - 1,
        },
        StyleTableEntry {
            color: Color::from_rgb(200, 0, 0),
            font: Font::Helvetica,
            size: FONT_SIZE - 1,
        },
        StyleTableEntry {
            color: Color::from_rgb(120, 120, 120),
            font: Font::Courier,
            size: FONT_SIZE - 3,
        },
        StyleTableEntry {
            color: Color::from_rgb(0, 70, 170),
            font: Font::Helvetica,
            size: FONT_SIZE - 1,
        },
        // F: joins and leaves, neutral.
        StyleTableEntry {
            color: Color::from_rgb(110, 110, 110),
            font: Font::Helvetica,
            size: FONT_SIZE - 1,
        },
        // G: one's own messages' header.
        StyleTableEntry {
            color: Color::from_rgb(0, 70, 170),
            font: Font::HelveticaBold,
            size: FONT_SIZE - 1,
        },
        // H: private messages' header.
        StyleTableEntry {
            color: Color::from_rgb(140, 0, 140),
            font: Font::HelveticaBold,
            size: FONT_SIZE - 1,
        },
        // I: stored messages' header (history, greyed).
        StyleTableEntry {
            color: Color::from_rgb(150, 150, 150),
            font: Font::HelveticaBold,
            size: FONT_SIZE - 1,
        },
        // J: stored messages' text (history, greyed).
        StyleTableEntry {
            color: Color::from_rgb(130, 130, 130),
            font: Font::Helvetica,
            size: FONT_SIZE,
        },
    ]
}

/// Whether the first line of the message list is the top line shown.
fn at_top(d: &TextDisplay) -> bool {
    let top = d.xy_to_position(d.x() + 4, d.y() + 4, fltk::text::PositionType::Cursor);
    d.buffer().is_some_and(|b| b.length() > 0) && d.line_start(top) == 0
}

/// Build the chat window (hidden).
pub fn chat_view(l: &Labels, tx: Sender<UiMsg>) -> ChatView {
    use layout::{H, W};
    let mut win = Window::new(0, 0, W, H, None).center_screen();

    let mut heading = Frame::new(10, 4, 570, 26, None);
    heading.set_label_font(Font::HelveticaBold);
    heading.set_label_size(15);
    heading.set_align(Align::Left | Align::Inside);

    let mut disp = TextDisplay::new(10, 32, 570, 392, None);
    let buf = TextBuffer::default();
    let styles = TextBuffer::default();
    disp.set_buffer(buf.clone());
    disp.set_highlight_data(styles.clone(), style_table());
    disp.wrap_mode(WrapMode::AtBounds, 0);
    disp.set_text_size(FONT_SIZE);

    let mut users_label = Frame::new(590, 4, 200, 26, None);
    users_label.set_label(l.online_users);
    users_label.set_label_font(Font::HelveticaBold);
    users_label.set_align(Align::Left | Align::Inside);
    let mut users = HoldBrowser::new(590, 32, 200, 392, None);
    users.set_text_size(FONT_SIZE);

    let mut status = Frame::new(10, 432, 380, 26, None);
    status.set_align(Align::Left | Align::Inside);
    status.set_label_size(13);
    let (x, y, w, h) = layout::WIRE;
    let mut wire = CheckButton::new(x, y, w, h, None);
    wire.set_label(l.show_wire);
    wire.set_tooltip("DES-CBC + HMAC-SHA-256: 0002 = chat request, 1002 = chat message, 1003 = user list, 1004 = notice");
    let mut reconnect = Button::new(650, 432, 140, 26, None);
    reconnect.set_label(l.reconnect);
    reconnect.hide();
    let mut change_password = Button::new(650, 432, 140, 26, None);
    change_password.set_label(l.change_password);
    change_password.hide();

    let mut input = TextEditor::new(10, 466, 670, 104, None);
    let input_buf = TextBuffer::default();
    input.set_buffer(input_buf.clone());
    input.wrap_mode(WrapMode::AtBounds, 0);
    input.set_text_size(FONT_SIZE);
    let mut send = Button::new(690, 466, 100, 40, None);
    send.set_label(l.send);
    send.set_label_font(Font::HelveticaBold);
    let mut hint = Frame::new(690, 510, 100, 60, None);
    hint.set_label(l.send_hint);
    hint.set_label_size(10);
    hint.set_label_color(Color::from_rgb(110, 110, 110));
    hint.set_align(Align::Left | Align::Top | Align::Inside | Align::Wrap);
    let files = files_view(l, tx);
    win.end();
    win.resizable(&disp);
    win.size_range(560, 420, 0, 0);

    handle_message_list(&mut disp, tx);
    users.set_callback(move |b| tx.send(UiMsg::UserSelected(b.value())));
    wire.set_callback(move |b| tx.send(UiMsg::WireToggled(b.is_checked())));
    reconnect.set_callback(move |_| tx.send(UiMsg::ReconnectClicked));
    change_password.set_callback(move |_| tx.send(UiMsg::ChangePasswordClicked));
    send.set_callback(move |_| tx.send(UiMsg::SendClicked));
    handle_input(&mut input, tx);
    close_only_on_wm(
        &mut win,
        tx,
        UiMsg::ChatWindowClosed,
        Some(UiMsg::EscapePressed),
    );
    ChatView {
        win,
        heading,
        disp,
        buf,
        styles,
        users,
        status,
        reconnect,
        change_password,
        input,
        input_buf,
        send,
        files,
    }
}

fn button(rect: (i32, i32, i32, i32), label: &str, tx: Sender<UiMsg>, msg: UiMsg) -> Button {
    let mut b = Button::new(rect.0, rect.1, rect.2, rect.3, None);
    b.set_label(label);
    b.set_callback(move |_| tx.send(msg.clone()));
    b
}

/// The transfers panel under the input box.
fn files_view(l: &Labels, tx: Sender<UiMsg>) -> FilesView {
    use layout::{ACCEPT_FILE, CANCEL_FILE, DECLINE_FILE, SEND_FILE};
    let mut title = Frame::new(10, 576, 300, 22, None);
    title.set_label(l.transfers);
    title.set_label_font(Font::HelveticaBold);
    title.set_align(Align::Left | Align::Inside);
    let mut list = HoldBrowser::new(10, 600, 570, 96, None);
    list.set_text_size(FONT_SIZE - 2);
    list.set_callback(move |b| tx.send(UiMsg::TransferSelected(b.value())));
    let mut bar = Progress::new(10, 700, 570, 22, None);
    bar.set_minimum(0.0);
    bar.set_maximum(100.0);
    bar.set_selection_color(Color::from_rgb(60, 140, 220));
    let mut send_file = button(SEND_FILE, l.send_file, tx, UiMsg::SendFileClicked);
    send_file.set_label_font(Font::HelveticaBold);
    let mut accept = button(ACCEPT_FILE, l.accept_file, tx, UiMsg::AcceptFileClicked);
    let mut decline = button(DECLINE_FILE, l.decline_file, tx, UiMsg::DeclineFileClicked);
    let mut cancel = button(CANCEL_FILE, l.cancel_file, tx, UiMsg::CancelFileClicked);
    accept.deactivate();
    decline.deactivate();
    cancel.deactivate();
    FilesView {
        send_file,
        list,
        bar,
        accept,
        decline,
        cancel,
    }
}

/// A click (not a drag that selects text to copy) on a message opens the frame inspector.
/// The display's own handling runs first and puts the insert position under the pointer.
/// Files dropped on it are offered (the decision is [`DropTarget`]'s).
fn handle_message_list(disp: &mut TextDisplay, tx: Sender<UiMsg>) {
    let mut drop = DropTarget::default();
    disp.handle(move |d, ev| {
        match drop.step(ev, app::event_text) {
            DropStep::Pass => {}
            DropStep::Take => return true,
            DropStep::Dropped(paths) => {
                tx.send(UiMsg::FilesDropped(paths));
                return true;
            }
        }
        if ev == Event::Released && app::event_is_click() {
            tx.send(UiMsg::MessageClicked(d.insert_position()));
        }
        // After a wheel turn, a scrollbar drag or a key: at the top, older messages are fetched.
        // (Not on keys: typing goes to the input box, and a short list is always at its top.)
        let scrolled = match ev {
            Event::MouseWheel => app::event_dy() == app::MouseWheel::Up,
            Event::Released => !app::event_is_click(),
            _ => false,
        };
        if scrolled && at_top(d) {
            tx.send(UiMsg::ScrolledToTop);
        }
        false
    });
}

/// Enter sends, Shift+Enter is a newline (the editor's own handling); Up/Down on the first or
/// last line recall earlier inputs. Our handler runs before the editor's.
fn handle_input(input: &mut TextEditor, tx: Sender<UiMsg>) {
    input.super_handle_first(false);
    input.handle(move |ed, ev| {
        if ev != Event::KeyDown {
            return false;
        }
        let key = app::event_key();
        if (key == Key::Enter || key == Key::KPEnter) && !app::is_event_shift() {
            tx.send(UiMsg::SendClicked);
            return true;
        }
        if key == Key::Up || key == Key::Down {
            let up = key == Key::Up;
            let text = ed.buffer().map(|b| b.text()).unwrap_or_default();
            let pos = usize::try_from(ed.insert_position()).unwrap_or(0);
            if recall_applies(&text, pos, up) {
                tx.send(UiMsg::Recall(up));
                return true;
            }
        }
        false
    });
}

/// The frame inspector: a window of monospaced text (FLTK hides it on close or Esc).
pub struct InspectorView {
    pub win: Window,
    pub buf: TextBuffer,
}

/// Build the frame inspector window (hidden).
pub fn inspector_view() -> InspectorView {
    let (w, h) = (720, 560);
    let win = Window::new(0, 0, w, h, None).center_screen();
    let mut disp = TextDisplay::new(0, 0, w, h, None);
    let buf = TextBuffer::default();
    disp.set_buffer(buf.clone());
    disp.set_text_font(Font::Courier);
    disp.set_text_size(13);
    disp.wrap_mode(WrapMode::AtBounds, 0);
    win.end();
    win.resizable(&disp);
    InspectorView { win, buf }
}
