//! The wire protocol: frames, the seed's `CODE|field|...` text messages, and the typed messages
//! of each family.
//!
//! # Layout
//! - [`consts`]: every code, limit, port and label.
//! - [`frame`]: `[u32 BE length][payload]` framing, pure functions.
//! - [`message`]: the `CODE|field|field` text form and field codecs.
//! - [`reason`]: why a server refused or closed (`1009`/`1109` reasons), one enum.
//! - [`keydist`]: key-distribution messages (port 8091).
//! - [`chat`]: login and chat messages (port 8090).

pub mod chat;
pub mod consts;
pub mod frame;
pub mod keydist;
pub mod message;
pub mod reason;

pub use message::RawMessage;
pub use reason::Reason;

use consts::MAX_USERNAME_LEN;

/// Check a username. Usernames name files (`sessions/<username>.txt`, `clients/<username>.pem`),
/// so they are restricted to ASCII letters, digits, `_`, `-` and `.`, not starting with `.`,
/// 1 to [`MAX_USERNAME_LEN`] bytes: no path can be smuggled in.
///
/// # Errors
/// A sentence for the user.
pub fn check_username(name: &str) -> Result<(), String> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    if name.is_empty() || name.len() > MAX_USERNAME_LEN || !ok_chars || name.starts_with('.') {
        return Err(format!(
            "invalid username {name:?}: use 1 to {MAX_USERNAME_LEN} ASCII letters, digits, '_', '-' or '.', not starting with '.'"
        ));
    }
    Ok(())
}
