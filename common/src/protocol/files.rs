//! File transfer on the wire (issue 16): offers, answers, chunks, acknowledgements, credit and
//! the end check. PROTOCOL.md §6.11 describes every field byte by byte; all of these travel
//! sealed, exactly like chat (the sender's key to the server, each recipient's key from it).
//!
//! ```text
//! client -> server  0008 inner: ref|b64(to)|b64(name)|size          offer (to empty: everyone)
//! server -> client  1012 inner: ref|id|OK  or  ref|0|REASON         the offer's answer
//! server -> client  1010 inner: id|b64(from)|b64(nick)|b64(name)|size   offered to a recipient
//! client -> server  0009 inner: id|ACCEPT|DECLINE|CANCEL|DONE|BAD_HASH  answer / cancel / verdict
//! server -> client  1013 inner: id|upto                             the sender may send bytes < upto
//! client -> server  0010 inner: id|offset|<raw data>                sender's chunk (1..=32 KiB)
//! server -> client  1014 inner: id|offset|<raw data>                relayed chunk
//! client -> server  0011 inner: id|received                         recipient's acknowledgement
//! client -> server  0012 inner: id|hex(sha256)                      sender: every byte sent
//! server -> client  1015 inner: id|hex(sha256)                      relayed end, then the verdict
//! server -> client  1011 inner: id|STATE|b64(user)|REASON-or-empty  what happened
//! ```

use crate::error::ProtocolError;
use crate::protocol::consts::{FILE_CHUNK_LEN, MAX_FILE_NAME_BYTES, code};
use crate::protocol::message::{RawMessage, b64};
use crate::protocol::reason::{Family, Reason};

/// SHA-256 of a whole file.
pub type Sha256 = [u8; 32];

/// What a `0009` says about a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// A recipient takes the offer.
    Accept,
    /// A recipient refuses the offer.
    Decline,
    /// Sender or recipient stops the transfer.
    Cancel,
    /// A recipient stored the whole file and its SHA-256 matched.
    Done,
    /// A recipient received every byte, but the SHA-256 did not match (the file was discarded).
    BadHash,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accept => "ACCEPT",
            Self::Decline => "DECLINE",
            Self::Cancel => "CANCEL",
            Self::Done => "DONE",
            Self::BadHash => "BAD_HASH",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ACCEPT" => Self::Accept,
            "DECLINE" => Self::Decline,
            "CANCEL" => Self::Cancel,
            "DONE" => Self::Done,
            "BAD_HASH" => Self::BadHash,
            _ => return None,
        })
    }
}

/// A file request from a logged-in client (the inner message of `0008`..`0012`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileRequest {
    /// `0008`: offer `name` (`size` bytes) to `to` (`None`: everyone online). `reference` is the
    /// client's own number for the offer, repeated in the `1012` answer.
    Offer {
        reference: u64,
        to: Option<String>,
        name: String,
        size: u64,
    },
    /// `0009`.
    Control { id: u64, verb: Verb },
    /// `0010`: bytes `offset..offset + data.len()` of the file.
    Chunk { id: u64, offset: u64, data: Vec<u8> },
    /// `0011`: the first `received` bytes are written.
    Ack { id: u64, received: u64 },
    /// `0012`: every byte was sent; `sha256` of the whole file.
    End { id: u64, sha256: Sha256 },
}

/// What a `1011` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    /// To the sender: `user` accepted.
    Accepted,
    /// To the sender: `user` declined.
    Declined,
    /// To the sender: `user` stored the file and its SHA-256 matched.
    Done,
    /// To the sender: the transfer to `user` ended without the file (the reason says why). To a
    /// recipient: the transfer ended for it (`user` is the sender).
    Failed,
    /// To the sender: nobody is left to send to; the transfer is over (reason empty when every
    /// recipient was served, else why it ended).
    Over,
}

impl FileState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "ACCEPTED",
            Self::Declined => "DECLINED",
            Self::Done => "DONE",
            Self::Failed => "FAILED",
            Self::Over => "OVER",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ACCEPTED" => Self::Accepted,
            "DECLINED" => Self::Declined,
            "DONE" => Self::Done,
            "FAILED" => Self::Failed,
            "OVER" => Self::Over,
            _ => return None,
        })
    }
}

/// A file event from the server (the inner message of `1010`..`1015`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileEvent {
    /// `1010`: `from_user` offers this user `name` of `size` bytes.
    Offered {
        id: u64,
        from_user: String,
        from_nick: String,
        name: String,
        size: u64,
    },
    /// `1011`.
    Status {
        id: u64,
        state: FileState,
        user: String,
        reason: Option<Reason>,
    },
    /// `1012`: the answer to the offer `reference`: the transfer id, or why it was refused.
    OfferResult {
        reference: u64,
        result: Result<u64, Reason>,
    },
    /// `1013`: the sender may send every byte before `upto`.
    Credit { id: u64, upto: u64 },
    /// `1014`.
    Data { id: u64, offset: u64, data: Vec<u8> },
    /// `1015`: every byte was relayed; the sender's SHA-256 of the file.
    End { id: u64, sha256: Sha256 },
}

/// `1012`'s third field for an accepted offer.
const OFFER_OK: &str = "OK";

impl FileRequest {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Offer { .. } => code::FILE_OFFER,
            Self::Control { .. } => code::FILE_CONTROL,
            Self::Chunk { .. } => code::FILE_CHUNK,
            Self::Ack { .. } => code::FILE_ACK,
            Self::End { .. } => code::FILE_END,
        }
    }

    /// The text of the plaintext inside the seal (a chunk's ends in `|`, its data follows).
    pub fn inner_text(&self) -> String {
        match self {
            Self::Offer {
                reference,
                to,
                name,
                size,
            } => format!(
                "{reference}|{}|{}|{size}",
                b64(to.as_deref().unwrap_or("")),
                b64(name)
            ),
            Self::Control { id, verb } => format!("{id}|{}", verb.as_str()),
            Self::Chunk { id, offset, .. } => format!("{id}|{offset}|"),
            Self::Ack { id, received } => format!("{id}|{received}"),
            Self::End { id, sha256 } => format!("{id}|{}", hex::encode(sha256)),
        }
    }

    /// The raw bytes after [`Self::inner_text`]: a chunk's data, else nothing.
    pub fn inner_data(&self) -> &[u8] {
        match self {
            Self::Chunk { data, .. } => data,
            _ => &[],
        }
    }

    /// Decode an opened inner message whose code is one of `0008`..`0012`.
    ///
    /// # Errors
    /// [`ProtocolError`] for a malformed message.
    pub fn from_inner(m: &RawMessage) -> Result<Self, ProtocolError> {
        match m.code.as_str() {
            code::FILE_OFFER => {
                m.expect_fields(4)?;
                let to = m.text(1)?;
                let name = m.text(2)?;
                if name.is_empty() || name.len() > MAX_FILE_NAME_BYTES {
                    return Err(bad(m, 2, "name must be 1 to 1024 bytes"));
                }
                Ok(Self::Offer {
                    reference: m.number(0)?,
                    to: (!to.is_empty()).then_some(to),
                    name,
                    size: m.number(3)?,
                })
            }
            code::FILE_CONTROL => {
                m.expect_fields(2)?;
                let verb = Verb::parse(m.token(1)?).ok_or_else(|| bad(m, 1, "unknown verb"))?;
                Ok(Self::Control {
                    id: m.number(0)?,
                    verb,
                })
            }
            code::FILE_CHUNK => {
                let (id, offset, data) = chunk_fields(m)?;
                Ok(Self::Chunk { id, offset, data })
            }
            code::FILE_ACK => {
                m.expect_fields(2)?;
                Ok(Self::Ack {
                    id: m.number(0)?,
                    received: m.number(1)?,
                })
            }
            code::FILE_END => {
                let (id, sha256) = end_fields(m)?;
                Ok(Self::End { id, sha256 })
            }
            other => Err(ProtocolError::Unexpected {
                got: other.to_owned(),
                expected: "a file request".into(),
            }),
        }
    }

    /// Whether `code` is one of the file requests.
    pub fn is_file_code(code: &str) -> bool {
        matches!(
            code,
            code::FILE_OFFER
                | code::FILE_CONTROL
                | code::FILE_CHUNK
                | code::FILE_ACK
                | code::FILE_END
        )
    }
}

impl FileEvent {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Offered { .. } => code::FILE_OFFERED,
            Self::Status { .. } => code::FILE_STATUS,
            Self::OfferResult { .. } => code::FILE_OFFER_RESULT,
            Self::Credit { .. } => code::FILE_CREDIT,
            Self::Data { .. } => code::FILE_DATA,
            Self::End { .. } => code::FILE_DONE,
        }
    }

    /// The text of the plaintext inside the seal (a chunk's ends in `|`, its data follows).
    pub fn inner_text(&self) -> String {
        match self {
            Self::Offered {
                id,
                from_user,
                from_nick,
                name,
                size,
            } => format!(
                "{id}|{}|{}|{}|{size}",
                b64(from_user),
                b64(from_nick),
                b64(name)
            ),
            Self::Status {
                id,
                state,
                user,
                reason,
            } => format!(
                "{id}|{}|{}|{}",
                state.as_str(),
                b64(user),
                reason.as_ref().map_or("", Reason::as_str)
            ),
            Self::OfferResult {
                reference,
                result: Ok(id),
            } => format!("{reference}|{id}|{OFFER_OK}"),
            Self::OfferResult {
                reference,
                result: Err(reason),
            } => format!("{reference}|0|{reason}"),
            Self::Credit { id, upto } => format!("{id}|{upto}"),
            Self::Data { id, offset, .. } => format!("{id}|{offset}|"),
            Self::End { id, sha256 } => format!("{id}|{}", hex::encode(sha256)),
        }
    }

    /// The raw bytes after [`Self::inner_text`]: a chunk's data, else nothing.
    pub fn inner_data(&self) -> &[u8] {
        match self {
            Self::Data { data, .. } => data,
            _ => &[],
        }
    }

    /// Decode an opened inner message whose code is one of `1010`..`1015`.
    ///
    /// # Errors
    /// [`ProtocolError`] for a malformed message.
    pub fn from_inner(m: &RawMessage) -> Result<Self, ProtocolError> {
        match m.code.as_str() {
            code::FILE_OFFERED => {
                m.expect_fields(5)?;
                Ok(Self::Offered {
                    id: m.number(0)?,
                    from_user: m.text(1)?,
                    from_nick: m.text(2)?,
                    name: m.text(3)?,
                    size: m.number(4)?,
                })
            }
            code::FILE_STATUS => {
                m.expect_fields(4)?;
                let state =
                    FileState::parse(m.token(1)?).ok_or_else(|| bad(m, 1, "unknown state"))?;
                let reason = m.token(3)?;
                Ok(Self::Status {
                    id: m.number(0)?,
                    state,
                    user: m.text(2)?,
                    reason: (!reason.is_empty()).then(|| Reason::from_wire(Family::Chat, reason)),
                })
            }
            code::FILE_OFFER_RESULT => {
                m.expect_fields(3)?;
                let id = m.number(1)?;
                let result = match m.token(2)? {
                    OFFER_OK if id != 0 => Ok(id),
                    OFFER_OK => return Err(bad(m, 1, "an accepted offer needs an id")),
                    token => Err(Reason::from_wire(Family::Chat, token)),
                };
                Ok(Self::OfferResult {
                    reference: m.number(0)?,
                    result,
                })
            }
            code::FILE_CREDIT => {
                m.expect_fields(2)?;
                Ok(Self::Credit {
                    id: m.number(0)?,
                    upto: m.number(1)?,
                })
            }
            code::FILE_DATA => {
                let (id, offset, data) = chunk_fields(m)?;
                Ok(Self::Data { id, offset, data })
            }
            code::FILE_DONE => {
                let (id, sha256) = end_fields(m)?;
                Ok(Self::End { id, sha256 })
            }
            other => Err(ProtocolError::Unexpected {
                got: other.to_owned(),
                expected: "a file event".into(),
            }),
        }
    }

    /// Whether `code` is one of the file events.
    pub fn is_file_code(code: &str) -> bool {
        matches!(
            code,
            code::FILE_OFFERED
                | code::FILE_STATUS
                | code::FILE_OFFER_RESULT
                | code::FILE_CREDIT
                | code::FILE_DATA
                | code::FILE_DONE
        )
    }
}

fn bad(m: &RawMessage, index: usize, reason: &str) -> ProtocolError {
    ProtocolError::BadField {
        code: m.code.clone(),
        index,
        reason: reason.into(),
    }
}

/// `id|offset|` and then 1 to [`FILE_CHUNK_LEN`] raw bytes of data (not base64: a chunk's
/// bytes are encrypted and MACed once each hop, not a third more of them).
fn chunk_fields(m: &RawMessage) -> Result<(u64, u64, Vec<u8>), ProtocolError> {
    m.expect_fields(2)?;
    if m.data.is_empty() || m.data.len() > FILE_CHUNK_LEN {
        return Err(bad(m, 2, "a chunk holds 1 to 32768 bytes"));
    }
    Ok((m.number(0)?, m.number(1)?, m.data.clone()))
}

/// `id|hex(sha256)`.
fn end_fields(m: &RawMessage) -> Result<(u64, Sha256), ProtocolError> {
    m.expect_fields(2)?;
    let hex_text = m.hex_id(1, 32)?;
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_text, &mut out).map_err(|_| bad(m, 1, "not hex"))?;
    Ok((m.number(0)?, out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::consts::MAX_FRAME_LEN;
    use crate::protocol::sealed::sealed_len;

    fn plain(text: String, data: &[u8]) -> Vec<u8> {
        [text.as_bytes(), data].concat()
    }

    fn round_request(r: FileRequest) {
        let m = RawMessage::from_plain(r.code(), plain(r.inner_text(), r.inner_data())).unwrap();
        assert_eq!(FileRequest::from_inner(&m).unwrap(), r);
    }

    fn round_event(e: FileEvent) {
        let m = RawMessage::from_plain(e.code(), plain(e.inner_text(), e.inner_data())).unwrap();
        assert_eq!(FileEvent::from_inner(&m).unwrap(), e);
    }

    #[test]
    fn every_message_round_trips() {
        round_request(FileRequest::Offer {
            reference: 7,
            to: Some("user2".into()),
            name: "报告 | final.pdf".into(),
            size: 123,
        });
        round_request(FileRequest::Offer {
            reference: 0,
            to: None,
            name: "a".into(),
            size: 0,
        });
        for verb in [
            Verb::Accept,
            Verb::Decline,
            Verb::Cancel,
            Verb::Done,
            Verb::BadHash,
        ] {
            round_request(FileRequest::Control { id: 3, verb });
        }
        round_request(FileRequest::Chunk {
            id: 3,
            offset: 65536,
            data: vec![0xff; FILE_CHUNK_LEN],
        });
        // Raw bytes that look like delimiters and invalid UTF-8 stay data.
        round_request(FileRequest::Chunk {
            id: 3,
            offset: 0,
            data: b"|7|\xff\xfe|".to_vec(),
        });
        round_request(FileRequest::Ack { id: 3, received: 9 });
        round_request(FileRequest::End {
            id: 3,
            sha256: [0xab; 32],
        });
        round_event(FileEvent::Offered {
            id: 1,
            from_user: "user1".into(),
            from_nick: "王远".into(),
            name: "../../etc/passwd".into(),
            size: 5,
        });
        round_event(FileEvent::Status {
            id: 1,
            state: FileState::Failed,
            user: "user2".into(),
            reason: Some(Reason::FileTooSlow),
        });
        round_event(FileEvent::Status {
            id: 1,
            state: FileState::Over,
            user: String::new(),
            reason: None,
        });
        round_event(FileEvent::OfferResult {
            reference: 4,
            result: Ok(9),
        });
        round_event(FileEvent::OfferResult {
            reference: 4,
            result: Err(Reason::FileTooLarge),
        });
        round_event(FileEvent::Credit { id: 1, upto: 2 });
        round_event(FileEvent::Data {
            id: 1,
            offset: 0,
            data: vec![1, 2, 3],
        });
        round_event(FileEvent::End {
            id: 1,
            sha256: [7; 32],
        });
    }

    /// The example inner texts of PROTOCOL.md §6.11, byte for byte.
    #[test]
    fn documented_examples() {
        let sha: Sha256 =
            hex::decode("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
                .unwrap()
                .try_into()
                .unwrap();
        let requests = [
            (
                FileRequest::Offer {
                    reference: 1,
                    to: Some("user2".into()),
                    name: "报告.pdf".into(),
                    size: 3,
                },
                "0008|1|dXNlcjI=|5oql5ZGKLnBkZg==|3",
            ),
            (
                FileRequest::Chunk {
                    id: 7,
                    offset: 0,
                    data: b"abc".to_vec(),
                },
                "0010|7|0|abc",
            ),
            (FileRequest::Ack { id: 7, received: 3 }, "0011|7|3"),
            (
                FileRequest::End { id: 7, sha256: sha },
                "0012|7|ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
        ];
        for (r, text) in requests {
            let p = plain(r.inner_text(), r.inner_data());
            assert_eq!(
                format!("{}|{}", r.code(), String::from_utf8(p).unwrap()),
                text
            );
        }
        let events = [
            (
                FileEvent::OfferResult {
                    reference: 1,
                    result: Ok(7),
                },
                "1012|1|7|OK",
            ),
            (
                FileEvent::Offered {
                    id: 7,
                    from_user: "user1".into(),
                    from_nick: "王远".into(),
                    name: "报告.pdf".into(),
                    size: 3,
                },
                "1010|7|dXNlcjE=|546L6L+c|5oql5ZGKLnBkZg==|3",
            ),
            (FileEvent::Credit { id: 7, upto: 3 }, "1013|7|3"),
            (
                FileEvent::Status {
                    id: 7,
                    state: FileState::Failed,
                    user: "user2".into(),
                    reason: Some(Reason::FileTooSlow),
                },
                "1011|7|FAILED|dXNlcjI=|FILE_TOO_SLOW",
            ),
        ];
        for (e, text) in events {
            assert_eq!(format!("{}|{}", e.code(), e.inner_text()), text);
        }
        let doc = include_str!("../../../PROTOCOL.md");
        for text in [
            "0008|1|dXNlcjI=|5oql5ZGKLnBkZg==|3",
            "1012|1|7|OK",
            "1010|7|dXNlcjE=|546L6L+c|5oql5ZGKLnBkZg==|3",
            "1013|7|3",
            "0010|7|0|abc",
            "0011|7|3",
            "0012|7|ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "1011|7|FAILED|dXNlcjI=|FILE_TOO_SLOW",
        ] {
            assert!(
                doc.contains(&format!("\n{text}\n")),
                "PROTOCOL.md lacks {text}"
            );
        }
    }

    #[test]
    fn a_full_chunk_fits_a_frame() {
        let e = FileEvent::Data {
            id: u64::MAX,
            offset: u64::MAX,
            data: vec![0; FILE_CHUNK_LEN],
        };
        let len = sealed_len(
            code::FILE_DATA,
            0,
            e.inner_text().len() + e.inner_data().len(),
        );
        assert!(len <= MAX_FRAME_LEN, "{len}");
    }

    #[test]
    fn malformed_messages_are_refused() {
        // `CODE|plaintext` as the opener would see it.
        let opened = |wire: &[u8]| {
            let (code, rest) = wire.split_at(4);
            RawMessage::from_plain(std::str::from_utf8(code).unwrap(), rest[1..].to_vec())
        };
        for text in [
            "0010|1|0|",    // empty chunk
            "0010|x|0|a",   // not a number
            "0008|1||YQ==", // three fields
            "0008|1|||5",   // empty name
            "0009|1|MAYBE", // unknown verb
            "0012|1|abcd",  // short sha
            "0011|x|1",     // not a number
        ] {
            let m = opened(text.as_bytes()).unwrap();
            assert!(FileRequest::from_inner(&m).is_err(), "{text}");
        }
        // A chunk's fields end in `|`: without it there is no data.
        assert!(opened(b"0010|1|0").is_err());
        assert!(opened(b"1014|1").is_err());
        let big = [&b"0010|1|0|"[..], &vec![0u8; FILE_CHUNK_LEN + 1]].concat();
        assert!(FileRequest::from_inner(&opened(&big).unwrap()).is_err());
        let full = [&b"0010|1|0|"[..], &vec![0u8; FILE_CHUNK_LEN]].concat();
        assert!(FileRequest::from_inner(&opened(&full).unwrap()).is_ok());
        let m = RawMessage::parse_str("1012|1|0|OK").unwrap();
        assert!(FileEvent::from_inner(&m).is_err(), "OK without an id");
        let m = RawMessage::parse_str("1011|1|LOST|dXNlcjE=|").unwrap();
        assert!(FileEvent::from_inner(&m).is_err());
    }
}
