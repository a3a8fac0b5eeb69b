//! The wire protocol: frames, the seed's `CODE|field|...` text messages, and the typed messages
//! of each family.
//!
//! # Layout
//! - [`consts`]: every code, limit, port and label.
//! - [`frame`]: `[u32 BE length][payload]` framing, pure functions.
//! - [`message`]: the `CODE|field|field` text form and field codecs.
//! - [`keydist`]: key-distribution messages (port 8091).
//! - [`chat`]: login and chat messages (port 8090).

pub mod chat;
pub mod consts;
pub mod frame;
pub mod keydist;
pub mod message;

pub use message::RawMessage;
