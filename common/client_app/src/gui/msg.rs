//! The two message types: [`UiMsg`] into the GUI thread (from widgets and from the network
//! thread, through the one `fltk::app::channel`), [`NetCmd`] into the network thread.

use common::client::chat_client::SessionEvent;

use super::logic::LoginFailure;

/// Everything the GUI thread reacts to. FLTK's channel is global and typed by downcasting, so
/// this is the only message type the process sends through it.
#[derive(Debug, Clone)]
pub enum UiMsg {
    // ---- from the login window
    LoginClicked,
    ResetClicked,
    LoginWindowClosed,
    // ---- from the chat window
    SendClicked,
    /// Up (`true`) or Down in the input box on its first/last line.
    Recall(bool),
    UserSelected(i32),
    WireToggled(bool),
    ReconnectClicked,
    ChatWindowClosed,
    /// Esc in the chat window: ignored (in test mode, the input box's text is logged).
    EscapePressed,
    /// Twice a second: notice focus changes (unread count, urgency hint).
    Tick,
    // ---- from the network thread
    LoggedIn {
        username: String,
        nickname: String,
        key_info: String,
        reconnect: bool,
    },
    LoginFailed {
        failure: LoginFailure,
        reconnect: bool,
    },
    KeyStepDone(Result<String, String>),
    Session(SessionEvent),
    /// A message could not be handed to the session (not connected).
    NotSent {
        text: String,
    },
    /// The network thread could not start.
    NetFailed(String),
}

/// What the network thread is asked to do.
#[derive(Debug)]
pub enum NetCmd {
    Login {
        username: String,
        password: String,
    },
    Send {
        to: Option<String>,
        text: String,
    },
    ListUsers,
    Logout,
    /// Log in again with the remembered username and password.
    Reconnect,
    /// Run the key step for the current username (the answer is `UiMsg::KeyStepDone`).
    RunKeyStep,
    /// Log out if logged in and end the thread.
    Quit,
}
