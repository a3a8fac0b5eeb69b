//! mini-chat key distribution server (`server_key`).
//!
//! # Layout
//! - [`discovery`]: the UDP responder for clients with `server_host = "auto"`.
//! - [`keystore`]: the key folder: server identity, client bindings, session key files.
//! - [`limits`]: per-address and per-username budgets for the expensive step.
//! - [`server`]: accept loop and the handshake (hello, signed request, signed envelope, confirmation).

pub mod discovery;
pub mod keystore;
pub mod limits;
pub mod server;
