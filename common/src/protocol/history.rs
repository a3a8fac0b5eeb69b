//! Stored messages on the wire: the `0007` request for older messages, the `1007` pages that
//! carry stored messages (at login and in answer to `0007`) and the `1008` stored
//! acknowledgement. PROTOCOL.md §6.10 describes them byte by byte.
//!
//! ```text
//! client -> server  0007|seq|iv|ct|mac   inner: before_id|count
//! server -> client  1007|seq|iv|ct|mac   inner: KIND|FLAG|id|time|from|nick|to|text|id|...
//!                   KIND: LOGIN (sent once, right after the login's 1003) or OLDER (a 0007 answer)
//!                   FLAG: MORE (more 1007 frames of this answer follow) or END (the last one)
//! server -> client  1008|seq|iv|ct|mac   inner: upto_id (every message this user sent with
//!                                        an id up to upto_id is in the database)
//! ```
//! One answer's messages come in ascending id order over all its frames. A message's six fields
//! are those of a `1002`.

use crate::error::ProtocolError;
use crate::protocol::chat::ChatLine;
use crate::protocol::consts::{MAX_FRAME_LEN, code};
use crate::protocol::message::{RawMessage, b64};
use crate::protocol::sealed::sealed_len;

/// Why a `1007` page was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistorySource {
    /// At login: the latest public messages and the private messages held for this user while
    /// offline. Always sent (possibly empty) right after the login's user list, before any live
    /// message, so a client knows where history ends.
    Login,
    /// The answer to a `0007` request.
    Older,
}

impl HistorySource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "LOGIN",
            Self::Older => "OLDER",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "LOGIN" => Some(Self::Login),
            "OLDER" => Some(Self::Older),
            _ => None,
        }
    }
}

/// One `1007` frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    pub source: HistorySource,
    /// `false` on the last frame of an answer (`END`).
    pub more: bool,
    /// Ascending ids.
    pub lines: Vec<ChatLine>,
}

/// `FLAG` of a page with more to follow.
const MORE: &str = "MORE";
/// `FLAG` of the last page of an answer.
const END: &str = "END";
/// Fields per message in a page (those of a `1002`).
pub const FIELDS_PER_LINE: usize = 6;

/// The six `1002` fields of `line`, `|`-joined.
pub fn line_fields(line: &ChatLine) -> String {
    format!(
        "{}|{}|{}|{}|{}|{}",
        line.msg_id,
        line.time_ms,
        b64(&line.from_user),
        b64(&line.from_nick),
        b64(line.to.as_deref().unwrap_or("")),
        b64(&line.text)
    )
}

/// Read the six `1002` fields starting at field `at`.
///
/// # Errors
/// [`ProtocolError`] for a malformed field.
pub fn parse_line(m: &RawMessage, at: usize) -> Result<ChatLine, ProtocolError> {
    let to = m.text(at + 4)?;
    Ok(ChatLine {
        msg_id: m.number(at)?,
        time_ms: m.number(at + 1)?,
        from_user: m.text(at + 2)?,
        from_nick: m.text(at + 3)?,
        to: (!to.is_empty()).then_some(to),
        text: m.text(at + 5)?,
    })
}

impl HistoryPage {
    /// The plaintext inside the seal.
    pub fn inner_text(&self) -> String {
        let mut out = format!(
            "{}|{}",
            self.source.as_str(),
            if self.more { MORE } else { END }
        );
        for line in &self.lines {
            out.push('|');
            out.push_str(&line_fields(line));
        }
        out
    }

    /// Decode an opened `1007`.
    ///
    /// # Errors
    /// [`ProtocolError`] for an unknown kind or flag, or a field count that is not two plus a
    /// multiple of six.
    pub fn from_inner(m: &RawMessage) -> Result<Self, ProtocolError> {
        let n = m.fields.len();
        if n < 2 || !(n - 2).is_multiple_of(FIELDS_PER_LINE) {
            return Err(ProtocolError::FieldCount {
                code: m.code.clone(),
                expected: "KIND, FLAG, then six per message:".into(),
                got: n,
            });
        }
        let bad = |index: usize, reason: &str| ProtocolError::BadField {
            code: m.code.clone(),
            index,
            reason: reason.into(),
        };
        let source =
            HistorySource::parse(m.token(0)?).ok_or_else(|| bad(0, "expected LOGIN or OLDER"))?;
        let more = match m.token(1)? {
            MORE => true,
            END => false,
            _ => return Err(bad(1, "expected MORE or END")),
        };
        let lines = (0..(n - 2) / FIELDS_PER_LINE)
            .map(|i| parse_line(m, 2 + i * FIELDS_PER_LINE))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            source,
            more,
            lines,
        })
    }
}

fn b64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// Length of [`line_fields`] without building it.
fn line_len(line: &ChatLine) -> usize {
    line.msg_id.to_string().len()
        + line.time_ms.to_string().len()
        + b64_len(line.from_user.len())
        + b64_len(line.from_nick.len())
        + b64_len(line.to.as_deref().map_or(0, str::len))
        + b64_len(line.text.len())
        + 5
}

/// The `1007` pages for `lines` (ascending ids): as many as needed, each sealing to at most
/// [`MAX_FRAME_LEN`] bytes, the last one `END`. No lines gives one empty `END` page.
pub fn history_pages(source: HistorySource, lines: Vec<ChatLine>) -> Vec<HistoryPage> {
    let head = source.as_str().len() + 1 + MORE.len();
    let mut pages = Vec::new();
    let mut part: Vec<ChatLine> = Vec::new();
    let mut inner_len = head;
    for line in lines {
        let entry = 1 + line_len(&line);
        if !part.is_empty() && sealed_len(code::HISTORY_PAGE, 0, inner_len + entry) > MAX_FRAME_LEN
        {
            pages.push(HistoryPage {
                source,
                more: true,
                lines: std::mem::take(&mut part),
            });
            inner_len = head;
        }
        inner_len += entry;
        part.push(line);
    }
    pages.push(HistoryPage {
        source,
        more: false,
        lines: part,
    });
    pages
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::consts::MAX_MESSAGE_BYTES;
    use crate::protocol::sealed::SealedMessage;

    fn line(id: u64, text: &str) -> ChatLine {
        ChatLine {
            msg_id: id,
            time_ms: 1_700_000_000_000 + id,
            from_user: "user1".into(),
            from_nick: "王远".into(),
            to: id.is_multiple_of(2).then(|| "user2".to_owned()),
            text: text.into(),
        }
    }

    #[test]
    fn pages_fit_a_frame_and_keep_order() {
        let big = "中".repeat(MAX_MESSAGE_BYTES / 3);
        let lines: Vec<_> = (1..=40).map(|i| line(i, &big)).collect();
        let pages = history_pages(HistorySource::Older, lines.clone());
        assert!(pages.len() > 1, "40 messages of 8 KiB need several frames");
        let mut got = Vec::new();
        for (i, p) in pages.iter().enumerate() {
            assert_eq!(p.more, i + 1 < pages.len());
            let inner = p.inner_text();
            assert!(sealed_len(code::HISTORY_PAGE, 0, inner.len()) <= MAX_FRAME_LEN);
            assert_eq!(line_len(&p.lines[0]), line_fields(&p.lines[0]).len());
            let m =
                RawMessage::parse(format!("{}|{inner}", code::HISTORY_PAGE).as_bytes()).unwrap();
            let back = HistoryPage::from_inner(&m).unwrap();
            assert_eq!(&back, p);
            got.extend(back.lines);
        }
        assert_eq!(got, lines);
    }

    /// The examples of PROTOCOL.md §6.10, byte for byte.
    #[test]
    fn documented_examples() {
        use crate::protocol::chat::{ClientRequest, ServerEvent};
        let doc = include_str!("../../../PROTOCOL.md");
        let l = |id, t, from: &str, nick: &str, to: Option<&str>, text: &str| ChatLine {
            msg_id: id,
            time_ms: t,
            from_user: from.into(),
            from_nick: nick.into(),
            to: to.map(str::to_owned),
            text: text.into(),
        };
        let first = HistoryPage {
            source: HistorySource::Login,
            more: true,
            lines: vec![l(42, 1_764_547_200_000, "user1", "王远", None, "大家好")],
        };
        let older = HistoryPage {
            source: HistorySource::Older,
            more: false,
            lines: vec![
                l(
                    40,
                    1_764_547_100_000,
                    "user2",
                    "ding_zhen",
                    Some("user1"),
                    "悄悄话 | secret",
                ),
                l(41, 1_764_547_150_000, "user1", "王远", None, "hi"),
            ],
        };
        for page in [first, older] {
            let text = page.inner_text();
            assert!(
                doc.contains(&format!("\n{text}\n")),
                "PROTOCOL.md lacks {text}"
            );
            let m = RawMessage::parse(format!("1007|{text}").as_bytes()).unwrap();
            assert_eq!(HistoryPage::from_inner(&m).unwrap(), page);
        }
        let req = ClientRequest::History {
            before_id: 42,
            count: 2,
        };
        assert!(doc.contains(&format!("`{}`", req.inner_text())));
        assert_eq!(ServerEvent::Stored { upto: 42 }.inner_text(), "42");
    }

    #[test]
    fn empty_answer_is_one_end_page() {
        let pages = history_pages(HistorySource::Login, Vec::new());
        assert_eq!(pages.len(), 1);
        assert_eq!(pages[0].inner_text(), "LOGIN|END");
    }

    #[test]
    fn malformed_pages_are_refused() {
        for inner in ["", "LOGIN", "LATER|END", "LOGIN|DONE", "OLDER|END|1|2|3"] {
            let m = RawMessage::parse(format!("1007|{inner}").as_bytes()).unwrap();
            assert!(HistoryPage::from_inner(&m).is_err(), "{inner:?}");
        }
    }
}
