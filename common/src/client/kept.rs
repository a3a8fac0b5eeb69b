//! Messages kept in the client folder (`keep_history = true` in `client.toml`; default off, and
//! then nothing here runs and the client writes no message to disk).
//!
//! Two files beside `client.toml`: `history_key.txt`, the **folder key** (a
//! [`StorageKey`]: a DES key and a 256-bit MAC key, drawn on first use, mode 0600, written
//! atomically), and `history_<username>.dat`, the messages. Why a folder key and not the session
//! key's MAC key: the session key is replaced at every key step and expires (`session_ttl`), so
//! messages sealed under it would become unreadable at the next key step; and a key that never
//! travels cannot be learnt from the network. The folder key never leaves the folder: a copy of
//! the `.dat` file without it reveals no text, no nickname, no name (only how many messages there
//! are and roughly how long each is).
//!
//! The `.dat` file: the line [`MAGIC`], then one record per message,
//! `u32_be(len) | IV | DES-CBC ciphertext | HMAC-SHA-256`, the seal of the message's six `1002`
//! fields (PROTOCOL.md §6.5) by [`StorageKey::seal`] with label [`label::KEPT_RECORD`] and the
//! username as associated data (a record from another user's file does not open). A record that
//! does not open (altered, truncated, from another folder) is counted and skipped, never shown;
//! the file is then rewritten without it. Records are appended without fsync: a crash loses at
//! most the last messages, and a torn last record is skipped like an altered one.
//!
//! Size: at most [`MAX_KEPT_MESSAGES`] messages and [`MAX_KEPT_BYTES`] bytes; beyond either, the
//! oldest go until three quarters remain (an atomic rewrite).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::client::folder::ClientFolder;
use crate::config::Language;
use crate::crypto::storage::StorageKey;
use crate::error::KeyFileError;
use crate::protocol::chat::{ChatLine, ServerEvent};
use crate::protocol::consts::{MAX_KEPT_BYTES, MAX_KEPT_MESSAGES, label};
use crate::protocol::history::{FIELDS_PER_LINE, line_fields, parse_line};
use crate::protocol::message::RawMessage;

/// First line of the messages file.
pub const MAGIC: &[u8] = b"minichat-kept-v1\n";
/// The folder key's file name.
pub const KEY_FILE: &str = "history_key.txt";
/// Longest record accepted when reading: a message of the longest kind sealed, with room to
/// spare. A longer length field is damage.
const MAX_RECORD: usize = 64 * 1024;

/// The messages file of `username` in `dir`.
pub fn data_path(dir: &Path, username: &str) -> PathBuf {
    dir.join(format!("history_{username}.dat"))
}

/// What the messages file held when it was opened.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The messages that opened, in `msg_id` order.
    pub lines: Vec<ChatLine>,
    /// Records that did not open (altered, torn, or sealed under another key): not shown.
    pub refused: usize,
}

/// The kept messages of one user in one folder.
#[derive(Debug)]
pub struct Kept {
    path: PathBuf,
    key: StorageKey,
    username: String,
    /// Sealed records by `msg_id` (the file's content, oldest first).
    records: BTreeMap<u64, Vec<u8>>,
    /// Bytes of the records (without their length fields).
    bytes: usize,
}

impl Kept {
    /// Open the kept messages of `username` in `dir`, creating the folder key on first use.
    /// The messages file is created at the first message kept. A file with records that did not
    /// open is rewritten without them.
    ///
    /// # Errors
    /// The folder key cannot be read, created or parsed ([`KeyFileError`], never replaced: the
    /// messages sealed under it would be lost), or the messages file cannot be read or rewritten.
    pub fn open(dir: &Path, username: &str) -> Result<(Self, Loaded), KeyFileError> {
        let (key, _) = StorageKey::load_or_create(&dir.join(KEY_FILE))?;
        let path = data_path(dir, username);
        let raw = match std::fs::read(&path) {
            Ok(raw) => Some(raw),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(KeyFileError::Read { path, source }),
        };
        let mut kept = Self {
            path,
            key,
            username: username.to_owned(),
            records: BTreeMap::new(),
            bytes: 0,
        };
        let mut loaded = Loaded::default();
        if let Some(raw) = raw {
            loaded.refused = kept.read_records(&raw);
            if loaded.refused > 0 {
                kept.rewrite()?;
            }
        }
        loaded.lines = kept
            .records
            .values()
            .filter_map(|r| kept.open_record(r))
            .collect();
        Ok((kept, loaded))
    }

    /// Read the records of `raw` into `self`; returns how many did not open.
    fn read_records(&mut self, raw: &[u8]) -> usize {
        let Some(mut rest) = raw.strip_prefix(MAGIC) else {
            // Not a kept-messages file at all: whatever it holds counts as one refusal.
            return 1;
        };
        let mut refused = 0;
        while !rest.is_empty() {
            let len = rest
                .get(..4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
            let Some(record) = len
                .filter(|&n| n <= MAX_RECORD)
                .and_then(|n| rest.get(4..4 + n))
            else {
                // A torn last record or a damaged length: nothing after it can be framed.
                return refused + 1;
            };
            rest = &rest[4 + record.len()..];
            match self.open_record(record) {
                Some(line) => {
                    self.bytes += record.len();
                    self.records.insert(line.msg_id, record.to_vec());
                }
                None => refused += 1,
            }
        }
        refused
    }

    fn open_record(&self, record: &[u8]) -> Option<ChatLine> {
        let plain = self
            .key
            .open(label::KEPT_RECORD, self.username.as_bytes(), record)
            .ok()?;
        let text = String::from_utf8(plain).ok()?;
        let m = RawMessage::new(
            crate::protocol::consts::code::CHAT_MESSAGE,
            text.split('|').map(str::to_owned).collect(),
        );
        m.expect_fields(FIELDS_PER_LINE).ok()?;
        parse_line(&m, 0).ok()
    }

    /// The messages file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keep `lines` (those not kept yet), then drop the oldest if over the limits.
    ///
    /// # Errors
    /// The file cannot be written (the messages stay in memory and go with the next write).
    pub fn keep<'a>(
        &mut self,
        lines: impl IntoIterator<Item = &'a ChatLine>,
    ) -> Result<(), KeyFileError> {
        let mut out = Vec::new();
        for line in lines {
            if self.records.contains_key(&line.msg_id) {
                continue;
            }
            let record = self.key.seal(
                label::KEPT_RECORD,
                self.username.as_bytes(),
                line_fields(line).as_bytes(),
            );
            push_record(&mut out, &record);
            self.bytes += record.len();
            self.records.insert(line.msg_id, record);
        }
        if out.is_empty() {
            return Ok(());
        }
        if self.records.len() > MAX_KEPT_MESSAGES || self.bytes > MAX_KEPT_BYTES {
            while self.records.len() > MAX_KEPT_MESSAGES * 3 / 4
                || self.bytes > MAX_KEPT_BYTES * 3 / 4
            {
                if let Some((_, r)) = self.records.pop_first() {
                    self.bytes -= r.len();
                }
            }
            return self.rewrite();
        }
        self.append(&out)
    }

    fn append(&self, out: &[u8]) -> Result<(), KeyFileError> {
        let write_err = |source| KeyFileError::Write {
            path: self.path.clone(),
            source,
        };
        if !self.path.exists() {
            let mut all = MAGIC.to_vec();
            all.extend_from_slice(out);
            return crate::fsutil::write_atomic(&self.path, &all, true).map_err(write_err);
        }
        std::fs::OpenOptions::new()
            .append(true)
            .open(&self.path)
            .and_then(|mut f| f.write_all(out))
            .map_err(write_err)
    }

    /// Write every record again, atomically (after dropping the oldest or a damaged record).
    fn rewrite(&self) -> Result<(), KeyFileError> {
        let mut all = MAGIC.to_vec();
        for r in self.records.values() {
            push_record(&mut all, r);
        }
        crate::fsutil::write_atomic(&self.path, &all, true).map_err(|source| KeyFileError::Write {
            path: self.path.clone(),
            source,
        })
    }
}

/// The kept messages as the GUI and the terminal mode use them: nothing at all unless
/// `keep_history = true`; a failure is shown once and then keeping stops (chat goes on).
#[derive(Debug, Default)]
pub struct Keeper {
    kept: Option<Kept>,
}

/// What [`Keeper::start`] found: the messages to show first, and lines to show about them.
#[derive(Debug, Default)]
pub struct Start {
    pub lines: Vec<ChatLine>,
    pub notes: Vec<String>,
}

impl Keeper {
    /// Open the kept messages of `username` in `folder` when its `keep_history` is on.
    pub fn start(folder: &ClientFolder, username: &str) -> (Self, Start) {
        let lang = folder.config.language;
        if !folder.config.keep_history {
            return (Self::default(), Start::default());
        }
        match Kept::open(&folder.dir, username) {
            Ok((kept, loaded)) => {
                let notes = (loaded.refused > 0)
                    .then(|| refused_text(loaded.refused, lang))
                    .into_iter()
                    .collect();
                let start = Start {
                    lines: loaded.lines,
                    notes,
                };
                (Self { kept: Some(kept) }, start)
            }
            Err(e) => (
                Self::default(),
                Start {
                    lines: Vec::new(),
                    notes: vec![error_text(&e, lang)],
                },
            ),
        }
    }

    /// Keep the chat lines of `event` (a message, or a page of stored ones). Returns a text to
    /// show when the file cannot be written (keeping then stops).
    pub fn keep_event(&mut self, event: &ServerEvent, lang: Language) -> Option<String> {
        let kept = self.kept.as_mut()?;
        let result = match event {
            ServerEvent::Chat(line) => kept.keep([line]),
            ServerEvent::History(page) => kept.keep(&page.lines),
            _ => return None,
        };
        result.err().map(|e| {
            self.kept = None;
            error_text(&e, lang)
        })
    }
}

fn push_record(out: &mut Vec<u8>, record: &[u8]) {
    // A record is at most a few tens of KB (one chat message), far below u32::MAX.
    out.extend_from_slice(&(record.len() as u32).to_be_bytes());
    out.extend_from_slice(record);
}

/// Shown when records did not open: `n` kept messages were not shown.
pub fn refused_text(n: usize, lang: Language) -> String {
    match lang {
        Language::Zh => format!(
            "本机保存的消息中有 {n} 条无法读取（文件被改动、损坏，或不是用这个文件夹的密钥保存的），没有显示，已从文件中删除"
        ),
        Language::En => format!(
            "{n} kept message(s) could not be read (the file was altered or damaged, or they were not sealed with this folder's key); they are not shown and were removed from the file"
        ),
    }
}

/// Shown when the kept messages cannot be opened or written; chat goes on without them.
pub fn error_text(e: &KeyFileError, lang: Language) -> String {
    match lang {
        Language::Zh => format!("无法使用本机保存的消息（keep_history）：{e}；聊天照常进行"),
        Language::En => {
            format!("The kept messages (keep_history) cannot be used: {e}; chat goes on")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: u64, text: &str) -> ChatLine {
        ChatLine {
            msg_id: id,
            time_ms: 1_764_547_200_000 + id,
            from_user: "user2".into(),
            from_nick: "丁真".into(),
            to: id.is_multiple_of(2).then(|| "user1".to_owned()),
            text: text.into(),
        }
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn kept_messages_survive_a_reopen_in_order_once() {
        let dir = tempfile::tempdir().unwrap();
        let (mut k, loaded) = Kept::open(dir.path(), "user1").unwrap();
        assert!(loaded.lines.is_empty());
        assert!(!k.path().exists(), "no file before the first message");
        k.keep(&[line(5, "五"), line(3, "三")]).unwrap();
        k.keep(&[line(3, "三"), line(9, "九")]).unwrap();
        let (_, loaded) = Kept::open(dir.path(), "user1").unwrap();
        assert_eq!(loaded.refused, 0);
        assert_eq!(
            loaded.lines,
            vec![line(3, "三"), line(5, "五"), line(9, "九")]
        );
        // Another username in the same folder has its own file.
        let (_, other) = Kept::open(dir.path(), "user2").unwrap();
        assert!(other.lines.is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn both_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (mut k, _) = Kept::open(dir.path(), "user1").unwrap();
        k.keep(&[line(1, "x")]).unwrap();
        k.keep(&[line(2, "y")]).unwrap();
        for p in [dir.path().join(KEY_FILE), data_path(dir.path(), "user1")] {
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", p.display());
        }
    }

    #[test]
    fn the_file_holds_no_text_and_a_copy_without_the_key_reveals_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let secret = "the exam answer is 42 考试答案";
        let (mut k, _) = Kept::open(dir.path(), "user1").unwrap();
        k.keep(&[line(7, secret)]).unwrap();
        let raw = std::fs::read(k.path()).unwrap();
        for needle in [
            secret.as_bytes().to_vec(),
            "exam answer".as_bytes().to_vec(),
            crate::protocol::message::b64(secret).into_bytes(),
            hex::encode(secret).into_bytes(),
            "丁真".as_bytes().to_vec(),
            crate::protocol::message::b64("丁真").into_bytes(),
            b"user2".to_vec(),
            crate::protocol::message::b64("user2").into_bytes(),
        ] {
            assert!(
                !contains(&raw, &needle),
                "{:?} in the file",
                String::from_utf8_lossy(&needle)
            );
        }
        // The file copied into another folder (which makes its own key): nothing opens.
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::copy(k.path(), data_path(elsewhere.path(), "user1")).unwrap();
        let (_, loaded) = Kept::open(elsewhere.path(), "user1").unwrap();
        assert!(loaded.lines.is_empty());
        assert_eq!(loaded.refused, 1);
    }

    #[test]
    fn an_altered_or_torn_record_is_refused_and_the_rest_shown() {
        let dir = tempfile::tempdir().unwrap();
        let (mut k, _) = Kept::open(dir.path(), "user1").unwrap();
        k.keep(&[line(1, "one"), line(2, "two"), line(3, "three")])
            .unwrap();
        let path = k.path().to_path_buf();
        let mut raw = std::fs::read(&path).unwrap();
        // The second record's first ciphertext byte.
        let first_len = u32::from_be_bytes(raw[MAGIC.len()..MAGIC.len() + 4].try_into().unwrap());
        let second = MAGIC.len() + 4 + first_len as usize + 4;
        raw[second + 8] ^= 0x01;
        std::fs::write(&path, &raw).unwrap();
        let (_, loaded) = Kept::open(dir.path(), "user1").unwrap();
        assert_eq!(loaded.refused, 1);
        assert_eq!(loaded.lines, vec![line(1, "one"), line(3, "three")]);
        // The file was rewritten without it.
        let (mut k, loaded) = Kept::open(dir.path(), "user1").unwrap();
        assert_eq!((loaded.refused, loaded.lines.len()), (0, 2));
        // A torn last record (a crash in the middle of an append).
        k.keep(&[line(4, "four")]).unwrap();
        let raw = std::fs::read(&path).unwrap();
        std::fs::write(&path, &raw[..raw.len() - 5]).unwrap();
        let (_, loaded) = Kept::open(dir.path(), "user1").unwrap();
        assert_eq!(loaded.refused, 1);
        assert_eq!(loaded.lines, vec![line(1, "one"), line(3, "three")]);
        // Not a kept-messages file at all.
        std::fs::write(&path, b"hello").unwrap();
        let (_, loaded) = Kept::open(dir.path(), "user1").unwrap();
        assert_eq!((loaded.refused, loaded.lines.len()), (1, 0));
    }

    #[test]
    fn the_oldest_go_beyond_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let (mut k, _) = Kept::open(dir.path(), "user1").unwrap();
        let lines: Vec<ChatLine> = (1..=MAX_KEPT_MESSAGES as u64 + 1)
            .map(|i| line(i, "m"))
            .collect();
        for chunk in lines.chunks(100) {
            k.keep(chunk).unwrap();
        }
        let (_, loaded) = Kept::open(dir.path(), "user1").unwrap();
        let left = MAX_KEPT_MESSAGES * 3 / 4;
        assert_eq!(loaded.lines.len(), left);
        assert_eq!(
            loaded.lines[0].msg_id,
            (MAX_KEPT_MESSAGES + 1 - left) as u64 + 1
        );
        assert_eq!(
            loaded.lines.last().unwrap().msg_id,
            MAX_KEPT_MESSAGES as u64 + 1
        );
        // Long messages: the bytes bound.
        let big = "长".repeat(2700);
        for i in 0..600u64 {
            k.keep(&[line(10_000 + i, &big)]).unwrap();
        }
        let size = std::fs::metadata(k.path()).unwrap().len() as usize;
        assert!(size <= MAX_KEPT_BYTES + 64 * 1024, "{size}");
    }
}
