//! `server user import FILE [--reset-passwords]`: many users at once from a class roster.
//!
//! 1. [`crate::roster::read`] turns the file (CSV in UTF-8/GB18030, or `.xlsx`) into rows.
//! 2. Every row is checked (username, nickname, optional password, duplicates in the file and
//!    against existing users that differ only in case). Any bad row: all of them are reported
//!    with their line numbers ([`BadRows`]) and nothing is written.
//! 3. Rows without a password get a random one ([`random_password`]); new users and, with
//!    `--reset-passwords`, existing ones are written in one transaction
//!    ([`UserStore::import_users`]), flagged to choose their own password at first login.
//!    Existing users are otherwise left alone.
//! 4. The class sheet `passwords.csv` (`username,nickname,password`, UTF-8 with BOM so Excel
//!    shows Chinese nicknames, mode 0600) is written beside the database. Rows of an earlier
//!    sheet for users not touched now are kept, so importing a second roster does not lose the
//!    first one's passwords. Passwords appear only in that file, never in a log or on screen.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::admin::{validate_nickname, validate_password};
use crate::db::{ImportAction, ImportUser, UserStore};
use crate::roster::{self, RosterRow, SourceKind};
use common::crypto::password::hash_password;
use common::protocol::check_username;

/// File name of the class sheet.
pub const SHEET_NAME: &str = "passwords.csv";

/// Characters of generated passwords: letters and digits without look-alikes (0/O/o, 1/l/I/i).
pub const PASSWORD_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// Length of generated passwords: 10 characters of a 55-letter alphabet, about 58 bits.
pub const GENERATED_PASSWORD_LEN: usize = 10;

/// One refused row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    pub line: usize,
    pub message: String,
}

/// Every refused row of a roster; nothing was written.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} bad row(s) in {file}; nothing was imported:\n{}", rows.len(), list(rows))]
pub struct BadRows {
    pub file: String,
    pub rows: Vec<BadRow>,
}

fn list(rows: &[BadRow]) -> String {
    rows.iter()
        .map(|r| format!("  line {}: {}", r.line, r.message))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct ImportReport {
    pub kind: SourceKind,
    pub added: Vec<String>,
    pub reset: Vec<String>,
    /// Existing users left alone (no `--reset-passwords`).
    pub kept: Vec<String>,
    pub sheet: PathBuf,
}

impl ImportReport {
    /// The summary printed by `server user import` (no password in it).
    pub fn message(&self) -> String {
        let mut out = format!(
            "imported {} new user(s) ({}), reset the password of {}",
            self.added.len(),
            self.kind.describe(),
            self.reset.len()
        );
        if !self.kept.is_empty() {
            out.push_str(&format!(
                "; left {} existing user(s) alone ({}; --reset-passwords gives them new ones)",
                self.kept.len(),
                self.kept.join(", ")
            ));
        }
        out.push_str(&format!(
            ".\nclass sheet (username,nickname,password; keep it private): {}\n\
             imported users must choose their own password at their first login.",
            self.sheet.display()
        ));
        out
    }
}

/// A checked roster row.
struct Entry {
    username: String,
    nickname: String,
    password: Option<String>,
}

/// Run an import (see the module documentation).
///
/// # Errors
/// [`BadRows`] (inside the `anyhow::Error`) for refused rows; an unreadable file; a database
/// error (nothing written); the class sheet cannot be written (the users are then imported:
/// the message says to use `--reset-passwords` to get new passwords).
pub fn user_import(
    store: &dyn UserStore,
    file: &Path,
    reset_passwords: bool,
    sheet_dir: &Path,
) -> anyhow::Result<ImportReport> {
    let (kind, rows) = roster::read(file)?;
    let existing: HashMap<String, String> = store
        .list_users()
        .context("reading the users table")?
        .into_iter()
        .map(|u| (u.user_name.to_lowercase(), u.user_name))
        .collect();
    let entries = check_rows(&rows, &existing).map_err(|rows| BadRows {
        file: file.display().to_string(),
        rows,
    })?;
    let mut report = ImportReport {
        kind,
        added: Vec::new(),
        reset: Vec::new(),
        kept: Vec::new(),
        sheet: sheet_dir.join(SHEET_NAME),
    };
    let mut writes = Vec::new();
    let mut sheet_rows = Vec::new();
    for e in entries {
        let action = if existing.contains_key(&e.username.to_lowercase()) {
            if !reset_passwords {
                report.kept.push(e.username);
                continue;
            }
            report.reset.push(e.username.clone());
            ImportAction::ResetPassword
        } else {
            report.added.push(e.username.clone());
            ImportAction::Add
        };
        let password = e.password.unwrap_or_else(random_password);
        writes.push(ImportUser {
            username: e.username.clone(),
            nickname: e.nickname.clone(),
            password_hash: hash_password(&password),
            action,
        });
        sheet_rows.push([e.username, e.nickname, password]);
    }
    if writes.is_empty() {
        return Ok(report);
    }
    store
        .import_users(&writes)
        .context("writing the users (nothing was imported)")?;
    write_sheet(&report.sheet, &sheet_rows).with_context(|| {
        format!(
            "the users were imported, but the class sheet {} could not be written; run the \
             import again with --reset-passwords to give them new passwords",
            report.sheet.display()
        )
    })?;
    Ok(report)
}

/// Check every row; all problems at once.
fn check_rows(
    rows: &[RosterRow],
    existing: &HashMap<String, String>,
) -> Result<Vec<Entry>, Vec<BadRow>> {
    let mut bad = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    for r in rows {
        match check_row(r, existing, &seen) {
            Ok(e) => {
                seen.insert(e.username.to_lowercase(), r.line);
                out.push(e);
            }
            Err(message) => bad.push(BadRow {
                line: r.line,
                message,
            }),
        }
    }
    if rows.is_empty() {
        bad.push(BadRow {
            line: 1,
            message: "the roster has no rows (expected username,nickname[,password])".into(),
        });
    }
    if bad.is_empty() { Ok(out) } else { Err(bad) }
}

fn check_row(
    r: &RosterRow,
    existing: &HashMap<String, String>,
    seen: &HashMap<String, usize>,
) -> Result<Entry, String> {
    let cell = |i: usize| r.cells.get(i).map_or("", String::as_str);
    if r.cells.iter().skip(3).any(|c| !c.is_empty()) {
        return Err(format!(
            "{} columns; expected username,nickname[,password]",
            r.cells.len()
        ));
    }
    let (username, nickname, password) = (cell(0), cell(1), cell(2));
    if username.is_empty() {
        return Err("the username is empty".into());
    }
    check_username(username)?;
    if nickname.is_empty() {
        return Err(format!("{username}: the nickname is empty"));
    }
    validate_nickname(nickname).map_err(|e| format!("{username}: {e}"))?;
    if !password.is_empty() {
        validate_password(password).map_err(|e| format!("{username}: {e}"))?;
    }
    let folded = username.to_lowercase();
    if let Some(first) = seen.get(&folded) {
        return Err(format!(
            "{username} appears twice (first on line {first}; names differing only in case count as one)"
        ));
    }
    if let Some(other) = existing.get(&folded)
        && other != username
    {
        return Err(format!(
            "{username} differs only in case from the existing user {other}"
        ));
    }
    Ok(Entry {
        username: username.to_owned(),
        nickname: nickname.to_owned(),
        password: (!password.is_empty()).then(|| password.to_owned()),
    })
}

/// A password of [`GENERATED_PASSWORD_LEN`] characters of [`PASSWORD_ALPHABET`], from the OS
/// CSPRNG, without modulo bias (bytes above the largest multiple of the alphabet are redrawn).
pub fn random_password() -> String {
    let n = PASSWORD_ALPHABET.len();
    let limit = 256 - 256 % n;
    let mut out = String::with_capacity(GENERATED_PASSWORD_LEN);
    while out.len() < GENERATED_PASSWORD_LEN {
        for b in common::crypto::random::bytes::<16>() {
            if usize::from(b) < limit && out.len() < GENERATED_PASSWORD_LEN {
                out.push(char::from(PASSWORD_ALPHABET[usize::from(b) % n]));
            }
        }
    }
    out
}

/// Merge `rows` into the sheet at `path` (rows for other users kept, in their order) and write
/// it atomically, UTF-8 with BOM, mode 0600.
fn write_sheet(path: &Path, rows: &[[String; 3]]) -> anyhow::Result<()> {
    let mut merged: Vec<[String; 3]> = read_sheet(path).unwrap_or_default();
    let mut index: BTreeMap<String, usize> = merged
        .iter()
        .enumerate()
        .map(|(i, r)| (r[0].clone(), i))
        .collect();
    for r in rows {
        match index.get(&r[0]) {
            Some(&i) => merged[i] = r.clone(),
            None => {
                index.insert(r[0].clone(), merged.len());
                merged.push(r.clone());
            }
        }
    }
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(b"\xEF\xBB\xBF".to_vec());
    w.write_record(["username", "nickname", "password"])?;
    for r in &merged {
        w.write_record(r)?;
    }
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    common::fsutil::write_atomic(path, &bytes, true)?;
    Ok(())
}

/// The rows of an existing sheet (none if it is missing or unreadable).
pub fn read_sheet(path: &Path) -> Option<Vec<[String; 3]>> {
    let bytes = std::fs::read(path).ok()?;
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes)).ok()?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    Some(
        reader
            .records()
            .filter_map(Result::ok)
            .filter(|r| r.len() >= 3)
            .map(|r| [r[0].to_owned(), r[1].to_owned(), r[2].to_owned()])
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords() {
        let a = random_password();
        assert_eq!(a.len(), GENERATED_PASSWORD_LEN);
        assert!(a.bytes().all(|b| PASSWORD_ALPHABET.contains(&b)), "{a}");
        for look_alike in b"0Oo1lIi" {
            assert!(!PASSWORD_ALPHABET.contains(look_alike));
        }
        assert_ne!(a, random_password());
    }
}
