//! What the `server db ...` and `server user ...` commands do. Each returns the message to print;
//! `main.rs` parses the command line, opens the store and prints.
//!
//! Passwords are hashed here ([`hash_password`]) before they reach the store, and never printed:
//! `user list` shows only whether a row is hashed.

use std::io::BufRead;

use anyhow::{Context, bail};

use crate::db::UserStore;
use common::crypto::password::{hash_password, is_hash};
use common::protocol::check_username;
use common::protocol::consts::MAX_PASSWORD_LEN;

/// Longest nickname, in characters (the seed's `varchar(20)`).
pub const MAX_NICKNAME_CHARS: usize = 20;

/// `server db init`: create the table if missing and the seed users if it is empty.
///
/// # Errors
/// Database errors.
pub fn db_init(store: &dyn UserStore) -> anyhow::Result<String> {
    let inserted = store.init().context("initialising the database")?;
    let total = store.list_users().context("counting users")?.len();
    Ok(if inserted > 0 {
        format!(
            "{}: created {inserted} seed users (user1, user2, user3; password 111111). \
             Change their passwords with `server user passwd`.",
            store.describe()
        )
    } else {
        format!("{}: ready, {total} users.", store.describe())
    })
}

/// `server db upgrade`: bring a legacy (seed) table up to date and hash plaintext passwords.
///
/// # Errors
/// Database errors.
pub fn db_upgrade(store: &dyn UserStore) -> anyhow::Result<String> {
    let n = store.upgrade().context("upgrading the database")?;
    Ok(match n {
        0 => format!(
            "{}: schema up to date; no plaintext passwords left.",
            store.describe()
        ),
        n => format!(
            "{}: schema up to date; hashed {n} plaintext password{}.",
            store.describe(),
            if n == 1 { "" } else { "s" }
        ),
    })
}

/// `server user add`.
///
/// # Errors
/// An invalid username, nickname or password, an existing user, or a database error.
pub fn user_add(
    store: &dyn UserStore,
    username: &str,
    nickname: &str,
    password: &str,
) -> anyhow::Result<String> {
    check_username(username).map_err(anyhow::Error::msg)?;
    validate_nickname(nickname)?;
    validate_password(password)?;
    store
        .add_user(username, &hash_password(password), nickname)
        .with_context(|| format!("adding user {username:?}"))?;
    Ok(format!("added user {username} ({nickname})"))
}

/// `server user passwd`.
///
/// # Errors
/// An invalid password, an unknown user, or a database error.
pub fn user_passwd(
    store: &dyn UserStore,
    username: &str,
    password: &str,
) -> anyhow::Result<String> {
    validate_password(password)?;
    if !store
        .set_password(username, &hash_password(password), false)
        .with_context(|| format!("changing the password of {username:?}"))?
    {
        bail!("no such user {username:?}");
    }
    Ok(format!("password of {username} changed"))
}

/// `server user unlock`: leave a request in `dir` for the running server, which lifts the lock
/// of `username` at its next check (every 2 s). Locks live in the server's memory, so a restart
/// lifts them all as well.
///
/// # Errors
/// An invalid username or a write failure.
pub fn user_unlock(dir: &std::path::Path, username: &str) -> anyhow::Result<String> {
    common::protocol::check_username(username).map_err(anyhow::Error::msg)?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(username);
    common::fsutil::write_atomic(&path, b"", false)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(format!(
        "unlock of {username} requested ({}): the running chat server lifts it within 2 s",
        path.display()
    ))
}

/// Write the user list server_key reads ([`common::userlist`]); returns how many names.
///
/// # Errors
/// Database or I/O errors.
pub fn publish_user_list(store: &dyn UserStore, path: &std::path::Path) -> anyhow::Result<usize> {
    let users = store.list_users().context("listing users")?;
    common::userlist::write(path, users.iter().map(|u| u.user_name.as_str()))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(users.len())
}

/// `server user list`: a table of id, name, nickname and whether the password is hashed.
///
/// # Errors
/// Database errors.
pub fn user_list(store: &dyn UserStore) -> anyhow::Result<String> {
    let users = store.list_users().context("listing users")?;
    let rows: Vec<[String; 4]> = users
        .iter()
        .map(|u| {
            [
                u.user_id.to_string(),
                u.user_name.clone(),
                u.user_nickname.clone(),
                if is_hash(&u.user_password) {
                    "hashed"
                } else {
                    "PLAINTEXT (run server db upgrade)"
                }
                .to_owned(),
            ]
        })
        .collect();
    let header = ["id", "name", "nickname", "password"].map(str::to_owned);
    let mut widths = header.clone().map(|h| display_width(&h));
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(display_width(c));
        }
    }
    let mut out = format!("{} ({} users)\n", store.describe(), users.len());
    for r in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, (c, w)) in r.iter().zip(widths).enumerate() {
            line.push_str(c);
            if i + 1 < r.len() {
                line.push_str(&" ".repeat(w - display_width(c) + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    Ok(out.trim_end().to_owned())
}

/// `server user remove`.
///
/// # Errors
/// An unknown user or a database error.
pub fn user_remove(store: &dyn UserStore, username: &str) -> anyhow::Result<String> {
    if !store
        .remove_user(username)
        .with_context(|| format!("removing user {username:?}"))?
    {
        bail!("no such user {username:?}");
    }
    Ok(format!("removed user {username}"))
}

/// Read a new password: from the terminal without echo, asked twice and compared; or, with
/// `from_stdin` (for scripts), one line of standard input without its line ending.
///
/// # Errors
/// No terminal, end of input, the two entries differ, or an invalid password.
pub fn read_password(prompt: &str, from_stdin: bool) -> anyhow::Result<String> {
    let password = if from_stdin {
        let mut line = String::new();
        let n = std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        if n == 0 {
            bail!("no password on stdin (empty input)");
        }
        line.strip_suffix('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .unwrap_or(&line)
            .to_owned()
    } else {
        let first = rpassword::prompt_password(prompt).context(
            "reading the password from the terminal (no terminal? use --password-stdin)",
        )?;
        let second = rpassword::prompt_password("Repeat the password: ")
            .context("reading the password from the terminal")?;
        if first != second {
            bail!("the two passwords differ; nothing changed");
        }
        first
    };
    validate_password(&password)?;
    Ok(password)
}

/// A nickname: 1 to 20 characters (Chinese is fine), no control characters, not only spaces.
///
/// # Errors
/// A sentence saying what is wrong.
pub fn validate_nickname(nickname: &str) -> anyhow::Result<()> {
    let n = nickname.chars().count();
    if n == 0 || n > MAX_NICKNAME_CHARS {
        bail!("a nickname must be 1 to {MAX_NICKNAME_CHARS} characters long (got {n})");
    }
    if nickname.chars().any(char::is_control) {
        bail!("a nickname must not contain control characters");
    }
    if nickname.trim().is_empty() {
        bail!("a nickname must not be only spaces");
    }
    Ok(())
}

/// A new password: 1 to 128 bytes, no control characters (they cannot be typed at login).
///
/// # Errors
/// A sentence saying what is wrong.
pub fn validate_password(password: &str) -> anyhow::Result<()> {
    if password.is_empty() {
        bail!("the password must not be empty");
    }
    if password.len() > MAX_PASSWORD_LEN {
        bail!("the password must be at most {MAX_PASSWORD_LEN} bytes long");
    }
    if password.chars().any(char::is_control) {
        bail!("the password must not contain control characters");
    }
    Ok(())
}

/// Columns a string takes in a terminal (CJK and other wide characters count two).
fn display_width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert!(validate_nickname("王源").is_ok());
        assert!(validate_nickname(&"王".repeat(20)).is_ok());
        for bad in ["", " ", "a\nb", &"王".repeat(21)] {
            assert!(validate_nickname(bad).is_err(), "{bad:?}");
        }
        assert!(validate_password("111111").is_ok());
        assert!(validate_password("").is_err() && validate_password("a\u{0}").is_err());
    }

    #[test]
    fn widths() {
        assert_eq!(display_width("abc"), 3);
        assert_eq!(display_width("王源"), 4);
    }
}
