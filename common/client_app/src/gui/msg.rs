//! The two message types: [`UiMsg`] into the GUI thread (from widgets and from the network
//! worker, through the one `fltk::app::channel`), [`NetCmd`] into the network worker.

use std::sync::Arc;

use common::client::chat_client::{CloseReason, NotSentReason};
use common::client::key_client::{KeyStepError, KeyStepOutcome};
use common::client::key_events::KeyStepEvent;
use common::protocol::chat::{ClientRequest, ErrorMsg, ServerEvent};

use super::logic::login::LoginFailure;

/// Everything the GUI thread reacts to. FLTK's channel is global and typed by downcasting, so
/// this is the only message type the process sends through it.
#[derive(Debug, Clone)]
pub enum UiMsg {
    // ---- from the login window
    LoginClicked,
    /// The left button: "reset" clears the password; while a login or key step runs it is
    /// "cancel".
    ResetClicked,
    LoginWindowClosed,
    // ---- from the chat window
    SendClicked,
    /// Up (`true`) or Down in the input box on its first/last line.
    Recall(bool),
    UserSelected(i32),
    WireToggled(bool),
    /// A click in the message list at this byte position: the frame inspector shows what is
    /// there.
    MessageClicked(i32),
    /// The message list was scrolled to its top: fetch older messages (issue 15).
    ScrolledToTop,
    ReconnectClicked,
    /// The chat window's "change password" button (or `/passwd`).
    ChangePasswordClicked,
    ChatWindowClosed,
    /// Esc in the chat window: ignored (in test mode, the input box's text is logged).
    EscapePressed,
    /// Twice a second: notice focus changes (unread count, urgency hint).
    Tick,
    // ---- file transfer (issue 16), from the chat window
    /// The "send file" button: open the file chooser.
    SendFileClicked,
    /// Files were dropped on the chat window (the paths read from the drop's text).
    FilesDropped(Vec<std::path::PathBuf>),
    /// A row of the transfers panel was clicked.
    TransferSelected(i32),
    /// The transfers panel's accept / decline / cancel buttons.
    AcceptFileClicked,
    DeclineFileClicked,
    CancelFileClicked,
    // ---- file transfer, from the network worker
    /// Something to show about a transfer.
    File(common::client::files::Update),
    /// A local file action failed (nothing was sent): what to say.
    FileNotice(String),
    // ---- from the network worker: login and key step
    /// A login (or, in the chat window, a reconnect) succeeded.
    LoggedIn {
        username: String,
        nickname: String,
        key_info: String,
        /// This PC's clock is off the key server's by more than a few minutes: what to say.
        clock_warning: Option<String>,
    },
    LoginFailed(LoginFailure),
    /// The login succeeded but the server demands a new password first (an imported user's
    /// first login); `refused` says why the last one was not accepted.
    MustChangePassword {
        refused: Option<String>,
    },
    /// One step of a running key step, for the key-step view.
    KeyStep(KeyStepEvent),
    /// The key-step view's "show keys (teaching only)" switch.
    KeySecretsToggled(bool),
    /// The key step finished (the error is shared: it is not `Clone`).
    KeyStepDone(Result<KeyStepOutcome, Arc<KeyStepError>>),
    // ---- from the network worker: the session
    /// An authenticated, decrypted event; `wire` is the frame as it crossed the network.
    Event {
        event: ServerEvent,
        wire: String,
    },
    /// A `1009` error from the server (the connection closes after it).
    ServerError(ErrorMsg),
    /// A frame that failed its checks was dropped.
    Rejected {
        why: String,
        wire: String,
    },
    /// A request was refused before sending (too large); nothing went on the wire.
    Unsendable(NotSentReason),
    /// A request went out as `wire`.
    Sent {
        request: ClientRequest,
        wire: String,
    },
    /// The session ended.
    Closed {
        reason: CloseReason,
    },
    /// A request came back from the network worker: there is no session.
    NotConnected {
        request: ClientRequest,
    },
    /// The network worker could not start.
    NetFailed(String),
}

/// What the network worker is asked to do.
#[derive(Debug)]
pub enum NetCmd {
    /// Log in as `username` (the login window).
    Login { username: String, password: String },
    /// The new password for a login that must change it (the old one is the login's).
    FirstPassword { new: String },
    /// Send a request in the current session.
    Request(ClientRequest),
    /// Log in again with the remembered username and password.
    Reconnect,
    /// Run the key step for the current username (the answer is `UiMsg::KeyStepDone`).
    RunKeyStep,
    /// Abandon the login or key step that runs (its connection is dropped; no answer comes).
    Cancel,
    /// Offer the file at `path` to `to` (`None`: everyone online).
    SendFile { path: String, to: Option<String> },
    /// Accept or decline offer `id`.
    FileAnswer { id: u64, accept: bool },
    /// Stop transfer `id` (either direction).
    CancelFile(u64),
    /// Log out if logged in and end the worker.
    Quit,
}
