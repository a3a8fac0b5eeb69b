//! Stored messages in the chat window: the ones a login brings (appended, greyed, then the line
//! "以上为历史消息"), and older ones fetched when the list is scrolled to its top (put before
//! everything, in order). Every message id is shown once: a reconnect's login history skips what
//! is already on screen.

use std::collections::HashSet;

use common::protocol::chat::{ChatLine, ClientRequest};
use common::protocol::history::{HistoryPage, HistorySource};

use super::chat::{ChatState, Update};
use super::render::{Entry, EntryKind, WireDir};
use crate::format::stamp;

/// Messages one scroll to the top asks for.
pub const SCROLL_BACK_COUNT: u32 = 50;

/// What the window knows about stored messages.
#[derive(Debug, Default)]
pub struct Stored {
    /// Ids of every chat line shown (live or stored).
    seen: HashSet<u64>,
    /// The smallest of them: scroll-back asks for messages before it.
    oldest: Option<u64>,
    /// Entries of the `OLDER` answer being received (shown when its last page arrives).
    older: Vec<Entry>,
    /// Messages of the answer being received, shown or not.
    received: usize,
    /// Entries shown of the `LOGIN` answer being received.
    login_shown: usize,
    /// The count of the `0007` in flight.
    asked: Option<u32>,
    /// The server had fewer older messages than asked: there are no more.
    exhausted: bool,
}

impl Stored {
    /// A chat line with this id is on screen.
    pub fn saw(&mut self, id: u64) -> bool {
        self.oldest = Some(self.oldest.map_or(id, |o| o.min(id)));
        self.seen.insert(id)
    }
}

impl ChatState {
    /// The oldest message id on screen.
    pub fn oldest_id(&self) -> Option<u64> {
        self.stored.oldest
    }

    /// Whether reaching the top of the list should fetch older messages now (none in flight, and
    /// the server has not said there are no more).
    pub fn wants_older(&self) -> bool {
        self.stored.asked.is_none() && !self.stored.exhausted
    }

    /// The `0007` for `count` messages older than any on screen; `None` while one is in flight
    /// or when the server said there are no older ones.
    pub fn older_request(&mut self, count: u32) -> Option<ClientRequest> {
        if !self.wants_older() {
            return None;
        }
        self.stored.asked = Some(count);
        Some(ClientRequest::History {
            before_id: self.stored.oldest.unwrap_or(0),
            count,
        })
    }

    /// The connection ended: an answer in flight will not come.
    pub fn history_reset(&mut self) {
        self.stored.asked = None;
        self.stored.older.clear();
        self.stored.received = 0;
        self.stored.login_shown = 0;
    }

    fn history_entry(&self, line: &ChatLine, now_ms: u64) -> Entry {
        Entry {
            kind: EntryKind::History,
            header: self.header_at(line, stamp(line.time_ms, now_ms)),
            body: line.text.clone(),
            wires: Vec::new(),
            plain: Vec::new(),
        }
    }

    /// A `1007` page; `frame` is its wire text and its opened plaintext.
    pub(super) fn on_history(
        &mut self,
        page: HistoryPage,
        frame: (String, (WireDir, String)),
        now_ms: u64,
        up: &mut Update,
    ) {
        let (wire, plain) = frame;
        self.stored.received += page.lines.len();
        let new_lines: Vec<&ChatLine> = page
            .lines
            .iter()
            .filter(|l| self.stored.saw(l.msg_id))
            .collect();
        let mut fresh: Vec<Entry> = new_lines
            .into_iter()
            .map(|l| self.history_entry(l, now_ms))
            .collect();
        // The page's frame goes under its last message (or the closing line).
        let mut wire = Some(((WireDir::Received, wire), plain));
        if let Some(last) = fresh.last_mut()
            && let Some((w, p)) = wire.take()
        {
            last.wires.push(w);
            last.plain.push(p);
        }
        match page.source {
            HistorySource::Login => {
                self.stored.login_shown += fresh.len();
                for e in fresh {
                    self.record(e, up);
                }
                if !page.more {
                    if self.stored.login_shown > 0 {
                        let mut end = Entry {
                            kind: EntryKind::HistoryEnd,
                            header: String::new(),
                            body: self.l().history_end.to_owned(),
                            wires: Vec::new(),
                            plain: Vec::new(),
                        };
                        if let Some((w, p)) = wire {
                            end.wires.push(w);
                            end.plain.push(p);
                        }
                        self.record(end, up);
                    }
                    self.stored.login_shown = 0;
                    self.stored.received = 0;
                }
            }
            HistorySource::Older => {
                self.stored.older.append(&mut fresh);
                if !page.more {
                    let asked = self.stored.asked.take().unwrap_or(0) as usize;
                    let mut older = std::mem::take(&mut self.stored.older);
                    if self.stored.received < asked {
                        self.stored.exhausted = true;
                        older.insert(
                            0,
                            Entry {
                                kind: EntryKind::HistoryEnd,
                                header: String::new(),
                                body: self.l().no_older.to_owned(),
                                wires: Vec::new(),
                                plain: Vec::new(),
                            },
                        );
                    }
                    self.stored.received = 0;
                    self.prepend(older, up);
                }
            }
        }
    }
}
