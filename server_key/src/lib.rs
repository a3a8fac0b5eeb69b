//! mini-chat key distribution server (`server_key`).
//!
//! # Layout
//! - [`keystore`]: the key folder: server identity, client bindings, session key files.
//! - [`server`]: accept loop and the handshake (hello, signed request, signed envelope, confirmation).

pub mod keystore;
pub mod server;
