//! The wire protocol: frames, the seed's `CODE|field|...` text messages, and the typed messages
//! of each family.
//!
//! # Layout
//! - [`consts`]: every code, limit, port and label.
//! - [`frame`]: `[u32 BE length][payload]` framing, pure functions.
//! - [`message`]: the `CODE|field|field` text form and field codecs.
//! - [`sealed`]: encrypt-then-MAC chat frames with sequence numbers (the wire form of a
//!   [`crypto`](crate::crypto) session key's DES-CBC and HMAC).
//! - [`reason`]: why a server refused or closed (`1009`/`1109` reasons), one enum.
//! - [`keydist`]: key-distribution messages (port 8091); only a verified `1101` opens.
//! - [`material`]: the session material inside the digital envelope.
//! - [`chat`]: login and chat messages (port 8090).
//! - [`history`]: stored messages on the wire (`0007`, `1007`, `1008`).
//! - [`files`]: file transfer (`0008`..`0012`, `1010`..`1015`).
//! - [`discovery`]: the UDP datagrams that find server_key on the local network (port 8092).
//! - [`password`]: the rule for a new password, and [`password::Secret`].

pub mod chat;
pub mod consts;
pub mod discovery;
pub mod files;
pub mod frame;
pub mod history;
pub mod keydist;
pub mod material;
pub mod message;
pub mod password;
pub mod reason;
pub mod sealed;

pub use message::RawMessage;
pub use reason::Reason;

use consts::MAX_USERNAME_LEN;

/// Check a username. Usernames name files (`sessions/<username>.txt`, `clients/<username>.pem`,
/// and a client folder `client_<username>`), so they are restricted to ASCII letters, digits,
/// `_`, `-` and `.`, 1 to [`MAX_USERNAME_LEN`] bytes, not starting with `.` (hidden files, `..`)
/// or `-` (read as an option by command-line tools), and not a Windows device name (`con`,
/// `nul`, `aux`, `prn`, `com1`-`com9`, `lpt1`-`lpt9`, any case, with or without an extension),
/// which Windows cannot use as a file name.
///
/// # Errors
/// A sentence for the user.
pub fn check_username(name: &str) -> Result<(), String> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    if name.is_empty()
        || name.len() > MAX_USERNAME_LEN
        || !ok_chars
        || name.starts_with('.')
        || name.starts_with('-')
    {
        return Err(format!(
            "invalid username {name:?}: use 1 to {MAX_USERNAME_LEN} ASCII letters, digits, '_', '-' or '.', not starting with '.' or '-'"
        ));
    }
    if is_windows_device_name(name) {
        return Err(format!(
            "invalid username {name:?}: {} is a device name on Windows and cannot name a file there",
            name.split('.').next().unwrap_or(name)
        ));
    }
    Ok(())
}

/// `con`, `nul`, `aux`, `prn`, `com1`-`com9`, `lpt1`-`lpt9` (any case), alone or before a `.`
/// (also used for received file names, [`crate::client::files::sanitize_file_name`]).
pub(crate) fn is_windows_device_name(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name).to_ascii_lowercase();
    match stem.as_str() {
        "con" | "nul" | "aux" | "prn" => true,
        s if s.len() == 4 && (s.starts_with("com") || s.starts_with("lpt")) => {
            matches!(s.as_bytes()[3], b'1'..=b'9')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::check_username;

    #[test]
    fn usernames() {
        for good in [
            "user1", "s_01", "a-b", "a.b", "console", "com0", "com10", "lpt", "nul1",
        ] {
            assert!(check_username(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".x",
            "..",
            "-rf",
            "--help",
            "a/b",
            "a b",
            "王",
            "con",
            "CON",
            "Nul.txt",
            "aux.tar.gz",
            "prn",
            "com1",
            "COM9.log",
            "lpt1",
            "LpT5",
            &"a".repeat(31),
        ] {
            assert!(check_username(bad).is_err(), "{bad}");
        }
    }
}
