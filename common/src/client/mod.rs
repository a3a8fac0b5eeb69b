//! Client logic shared by `client_wy`, `client_dz` and `client_cxk`: the three folders differ
//! only in name and configuration.
//!
//! # Layout
//! - [`clock`]: this computer's clock against the server's; local times.
//! - [`folder`]: a client folder: its config and the key files beside it.
//! - [`discover`]: `server_host = "auto"`: finding the teacher's servers on the local network.
//! - [`kept`]: `keep_history = true`: the messages shown, sealed in the client folder.
//! - [`key_client`]: the key step (`client_xx key`), step by step.
//! - [`key_events`]: what the key step reports to its watcher (the trace, the GUI's view).
//! - [`chat_client`]: a chat session (login, send, receive), used by the GUI and the terminal mode.
//! - [`files`]: file transfer state, progress, the file name sanitiser and the downloads writer.
//! - [`config_texts`]: mistakes in client.toml and swapped ports, in both languages.
//! - [`texts`]: the error and refusal table, by reason and by error kind, in both languages.

pub mod chat_client;
pub mod clock;
pub mod config_texts;
pub mod discover;
pub mod files;
pub mod folder;
pub mod kept;
pub mod key_client;
pub mod key_events;
pub mod texts;
