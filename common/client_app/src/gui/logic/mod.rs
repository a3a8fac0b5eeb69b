//! Every decision of the GUI, without widgets; `tests/gui_logic.rs` drives it without a display
//! and `app.rs` only applies the results.
//!
//! # Layout
//! - [`labels`]: the fixed texts of both windows, Chinese and English.
//! - [`render`]: entries of the message list as styled text, and the redraw batch ([`render::Screen`]).
//! - [`login`]: the login form's checks and the dialogs for a failed login or key step.
//! - [`chat`]: the chat window's model ([`chat::ChatState`]): events, online list, target, Enter.
//! - [`files`]: file transfers: the transfers panel, offers, the chooser's title, drops.
//! - [`history`]: stored messages: greyed at login, scroll-back at the top, each id once.
//! - [`input_history`]: Up/Down recall of earlier inputs.
//! - [`keyview`]: the key-step view (密钥分发过程): the exchange as it happens, field by field.
//! - [`inspector`]: the frame inspector: a clicked message's frames field by field, and the steps.
//! - [`phase`]: where the client is ([`phase::Phase`]) and its transitions.
//! - [`reconnect`]: automatic reconnection after the server went away ([`reconnect::Backoff`]).
//!
//! A new window or view adds a file here for its decisions (and one beside `app.rs` for its
//! widgets), not a branch in an existing one.

pub mod chat;
pub mod files;
pub mod history;
pub mod input_history;
pub mod inspector;
pub mod keyview;
pub mod labels;
pub mod login;
pub mod phase;
pub mod reconnect;
pub mod render;
