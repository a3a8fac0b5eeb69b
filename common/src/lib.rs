//! Shared core of mini-chat, an encrypted multi-person chat built on the digital envelope.
//!
//! # Layout
//! - [`protocol`]: frames, the seed's `CODE|field|...` messages, sealed chat frames, every code
//!   and limit.
//! - [`connection`]: buffered, cancel-safe frame I/O over TCP; the next message within a deadline.
//! - [`crypto`]: the primitives, knowing no protocol: DES-CBC, HMAC-SHA-256, RSA (signatures,
//!   OAEP, PEM), PBKDF2, the envelope, the session key material.
//! - [`keyfile`]: the session-key txt file both sides store.
//! - [`config`]: the three TOML configs.
//! - [`ratelimit`]: per-key token buckets (per address, per username).
//! - [`net`]: listening with a classroom-sized backlog, the accept loop both servers run,
//!   connecting with a deadline.
//! - [`fdlimit`]: the open-file limit raised at start, the connection limit fitted under it.
//! - [`logging`]: the `tracing` set-up every program shares.
//! - [`client`]: client logic shared by the three client folders (key step, chat session).
//! - [`trace`]: the `--trace` teaching view.
//! - [`text`]: network text made safe for terminals and log lines (control and bidi escapes).
//! - [`userlist`]: the user list file the chat server writes for server_key.
//! - [`error`]: typed errors.

pub mod cli_help;
pub mod client;
pub mod config;
pub mod connection;
pub mod crypto;
pub mod error;
pub mod fdlimit;
pub mod fsutil;
pub mod keyfile;
pub mod logging;
pub mod lowprio;
pub mod net;
pub mod protocol;
pub mod ratelimit;
pub mod text;
pub mod trace;
pub mod userlist;

pub use error::{Error, Result};
