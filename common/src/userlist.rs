//! The user list file: how the chat server tells server_key which usernames exist, without
//! server_key ever reading the database.
//!
//! `server` writes it (atomically) when it starts and after every `server user ...` or
//! `server db ...` command; server_key reads it on each key request in `tofu` mode and refuses
//! names that are not in it. Format: UTF-8 text, one username per line, `#` comment lines.
//!
//! Default place: `chat_users.txt` in server_key's `key_dir`, which is where both default
//! configs already meet (the chat server's `session_key_dir` is `key_dir/sessions`, so the list
//! is `session_key_dir/../chat_users.txt`); `user_list` in either config overrides it.

use std::collections::BTreeSet;
use std::path::Path;

/// File name of the user list.
pub const FILE_NAME: &str = "chat_users.txt";

/// The file's text for `names`.
pub fn render<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::from(
        "# mini-chat users, written by `server` for server_key (tofu mode gives keys only to these).\n\
         # Do not edit: `server user add/import/remove` rewrites it.\n",
    );
    for n in names {
        out.push_str(n);
        out.push('\n');
    }
    out
}

/// The usernames in `text`.
pub fn parse(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// Write the list for `names` to `path` atomically (readable by server_key, not secret).
///
/// # Errors
/// I/O errors.
pub fn write<'a>(path: &Path, names: impl IntoIterator<Item = &'a str>) -> std::io::Result<()> {
    crate::fsutil::write_atomic(path, render(names).as_bytes(), false)
}

/// Read the list at `path`: `Ok(None)` if there is no such file.
///
/// # Errors
/// Any other I/O error, or text that is not UTF-8.
pub fn load(path: &Path) -> std::io::Result<Option<BTreeSet<String>>> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(parse(&t))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let text = render(["user1", "s01"]);
        let got: Vec<String> = parse(&text).into_iter().collect();
        assert_eq!(got, ["s01", "user1"]);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(FILE_NAME);
        assert!(load(&p).unwrap().is_none());
        write(&p, ["a"]).unwrap();
        assert!(load(&p).unwrap().unwrap().contains("a"));
    }
}
