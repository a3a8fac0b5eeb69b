//! Shared core of mini-chat, an encrypted multi-person chat built on the digital envelope.
//!
//! # Layout
//! - [`protocol`]: frames, the seed's `CODE|field|...` messages, every code and limit.
//! - [`connection`]: buffered, cancel-safe frame I/O over TCP.
//! - [`crypto`]: DES-CBC, HMAC-SHA-256, RSA (signatures, OAEP, PEM), PBKDF2, the envelope and
//!   sealed chat frames.
//! - [`keyfile`]: the session-key txt file both sides store.
//! - [`config`]: the three TOML configs.
//! - [`net`]: listening sockets with a classroom-sized backlog.
//! - [`client`]: client logic shared by the three client folders (key step, chat session).
//! - [`trace`]: the `--trace` teaching view.
//! - [`error`]: typed errors.

pub mod client;
pub mod config;
pub mod connection;
pub mod crypto;
pub mod error;
pub mod fsutil;
pub mod keyfile;
pub mod net;
pub mod protocol;
pub mod trace;

pub use error::{Error, Result};
