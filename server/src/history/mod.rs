//! The message history: every accepted message stored, sealed under the server's storage key.
//!
//! # Design
//! - The relay numbers a message and queues it for its recipients exactly as before; under the
//!   same lock it hands a copy to the [`writer`] (a bounded queue, [`HistorySink`]). The relay
//!   never waits for the database.
//! - The writer task seals each message ([`seal_line`]) and inserts what has accumulated in one
//!   transaction, then tells each sender `1008 STORED` up to its last stored id: that, not the
//!   echo, is the acknowledgement that survives a restart (PROTOCOL.md §6.10).
//! - A database outage: the writer keeps the messages in memory and retries every second;
//!   live chat goes on. When [`HISTORY_QUEUE_LEN`](common::protocol::consts::HISTORY_QUEUE_LEN)
//!   messages wait, new ones are refused with a notice (nothing accepted is dropped).
//! - A private message to an offline user is stored with `delivered = 0` and sent at that user's
//!   next login, then marked delivered. A login first waits for the writer to catch up
//!   ([`HistorySink::flush`]), so a message accepted just before it is not missed.
//! - The storage key is a file in the server's folder ([`key_path`]), created (0600) on first
//!   start and never written to the database: a copied database alone reveals no message text.

pub mod export;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::crypto::storage::StorageKey;
use common::error::CryptoError;
use common::protocol::chat::ChatLine;
use common::protocol::consts::label;

use crate::db::HistoryRow;
pub use writer::{HistorySink, Record};

/// The storage key's file name, in the server's folder (beside `server.toml`).
pub const KEY_FILE: &str = "history_key.txt";

/// Where the storage key of a server whose config lives in `base_dir` is.
pub fn key_path(base_dir: &Path) -> PathBuf {
    base_dir.join(KEY_FILE)
}

/// History settings of a running server (`None` in [`crate::server::Settings`]: history off).
#[derive(Debug, Clone)]
pub struct HistorySettings {
    pub key: Arc<StorageKey>,
    /// Public messages sent at login (`history_on_join`; 0 = none).
    pub on_join: usize,
    /// Messages older than this many days are deleted (`history_days`; 0 = kept for ever).
    pub days: u32,
    /// Messages that may wait in memory for the database.
    pub queue_len: usize,
}

impl HistorySettings {
    pub fn new(key: Arc<StorageKey>) -> Self {
        Self {
            key,
            on_join: common::protocol::consts::DEFAULT_HISTORY_ON_JOIN,
            days: common::protocol::consts::DEFAULT_HISTORY_DAYS,
            queue_len: common::protocol::consts::HISTORY_QUEUE_LEN,
        }
    }
}

/// What a row's MAC binds its body to: id, time, sender and recipient (a body moved to
/// another row, or a row whose routing was edited, fails to open).
fn aad(msg_id: u64, sent_ms: u64, from: &str, to: Option<&str>) -> Vec<u8> {
    format!("{msg_id}|{sent_ms}|{from}|{}", to.unwrap_or("")).into_bytes()
}

/// The row that stores `line`: nickname and text sealed, routing in clear.
pub fn seal_line(key: &StorageKey, line: &ChatLine, delivered: bool) -> HistoryRow {
    let nick = line.from_nick.as_bytes();
    let mut plain = Vec::with_capacity(4 + nick.len() + line.text.len());
    plain.extend_from_slice(&(nick.len() as u32).to_be_bytes());
    plain.extend_from_slice(nick);
    plain.extend_from_slice(line.text.as_bytes());
    let aad = aad(
        line.msg_id,
        line.time_ms,
        &line.from_user,
        line.to.as_deref(),
    );
    HistoryRow {
        msg_id: line.msg_id,
        sent_ms: line.time_ms,
        from_user: line.from_user.clone(),
        to_user: line.to.clone(),
        delivered,
        body: key.seal(label::HISTORY_ROW, &aad, &plain),
    }
}

/// The message a row stores.
///
/// # Errors
/// [`CryptoError::BadMac`] for a row altered in the database or sealed under another key.
pub fn open_row(key: &StorageKey, row: &HistoryRow) -> Result<ChatLine, CryptoError> {
    let aad = aad(
        row.msg_id,
        row.sent_ms,
        &row.from_user,
        row.to_user.as_deref(),
    );
    let plain = key.open(label::HISTORY_ROW, &aad, &row.body)?;
    let bad = || CryptoError::Decrypt;
    let len = u32::from_be_bytes(
        plain
            .get(..4)
            .ok_or_else(bad)?
            .try_into()
            .map_err(|_| bad())?,
    );
    let rest = &plain[4..];
    let (nick, text) = rest.split_at_checked(len as usize).ok_or_else(bad)?;
    Ok(ChatLine {
        msg_id: row.msg_id,
        time_ms: row.sent_ms,
        from_user: row.from_user.clone(),
        from_nick: String::from_utf8(nick.to_vec()).map_err(|_| bad())?,
        to: row.to_user.clone(),
        text: String::from_utf8(text.to_vec()).map_err(|_| bad())?,
    })
}

/// Open every row; a row that fails its check is left out and logged (a database edited by
/// hand, or rows from before the key file was replaced).
pub fn open_rows(key: &StorageKey, rows: &[HistoryRow]) -> Vec<ChatLine> {
    let mut lines = Vec::with_capacity(rows.len());
    let mut refused = 0usize;
    for row in rows {
        match open_row(key, row) {
            Ok(line) => lines.push(line),
            Err(_) => refused += 1,
        }
    }
    if refused > 0 {
        tracing::warn!(
            refused,
            "stored messages failed their check under the storage key (edited in the database, or sealed under another {KEY_FILE}); left out"
        );
    }
    lines
}

/// The first message id of a server starting with `max_stored` as the largest stored id: above
/// it, and at least the start time in microseconds, so an id handed out live but lost in a crash
/// before it was written is never given to another message.
pub fn first_msg_id(max_stored: u64) -> u64 {
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    (max_stored + 1).max(now_us)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_and_are_bound_to_their_routing() {
        let key = StorageKey::generate();
        let line = ChatLine {
            msg_id: 7,
            time_ms: 1_700_000_000_123,
            from_user: "user1".into(),
            from_nick: "王远|x".into(),
            to: Some("user2".into()),
            text: "秘密 | secret\n".into(),
        };
        let row = seal_line(&key, &line, false);
        assert!(!row.delivered);
        assert_eq!(open_row(&key, &row).unwrap(), line);
        for edit in [
            |r: &mut HistoryRow| r.msg_id = 8,
            |r: &mut HistoryRow| r.to_user = None,
            |r: &mut HistoryRow| r.from_user = "user3".into(),
            |r: &mut HistoryRow| r.sent_ms += 1,
        ] {
            let mut moved = row.clone();
            edit(&mut moved);
            assert_eq!(open_row(&key, &moved), Err(CryptoError::BadMac));
        }
        assert!(open_rows(&StorageKey::generate(), &[row]).is_empty());
    }
}
