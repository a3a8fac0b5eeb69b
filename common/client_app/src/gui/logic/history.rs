//! Stored messages in the chat window: the ones kept on this computer (`keep_history`, shown at
//! start), the ones a login brings (appended, greyed, then the line "以上为历史消息"), and older
//! ones fetched when the list is scrolled to its top (put before everything, in order). Every
//! message id is shown once: a reconnect's login history skips what is already on screen.
//!
//! **The gap.** A login brings only the latest `history_on_join` public messages. When the
//! window already shows messages (before a reconnect, or kept ones) and more than that many
//! were sent in between, the login's messages start after a gap that scroll-back (which asks
//! for messages before the *oldest* shown) would never reach. So when a login's answer has new
//! messages and none the window already showed, the window asks at once for the messages
//! before the answer's first, page after page (`0007`, [`MAX_HISTORY_COUNT`] each), and puts
//! them between the two, until a page reaches a message shown before the login or the server
//! has no more.

use std::collections::HashSet;

use common::protocol::chat::{ChatLine, ClientRequest};
use common::protocol::consts::MAX_HISTORY_COUNT;
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
    /// The largest of them.
    newest: Option<u64>,
    /// The login answer being received: what it found and brought.
    login: Option<LoginAnswer>,
    /// Messages missing between those shown before the last login and its answer's.
    gap: Option<Gap>,
    /// The gap's page being received reached a message shown before the login.
    gap_closed: bool,
    /// The smallest id of the answer being received (the next gap page asks before it).
    next_before: Option<u64>,
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

/// A login answer while it arrives.
#[derive(Debug)]
struct LoginAnswer {
    /// The newest id shown before it began.
    before: Option<u64>,
    /// Whether it held a message shown before it (then there is no gap).
    overlaps: bool,
    /// The smallest id of its new messages, and the entry index of the first one shown.
    first_new: Option<(u64, usize)>,
}

/// Messages newer than `after` and older than those already put at entry `at` are missing.
#[derive(Debug, Clone, Copy)]
struct Gap {
    after: u64,
    at: usize,
}

impl Stored {
    /// A chat line with this id is on screen.
    pub fn saw(&mut self, id: u64) -> bool {
        self.oldest = Some(self.oldest.map_or(id, |o| o.min(id)));
        self.newest = Some(self.newest.map_or(id, |o| o.max(id)));
        self.seen.insert(id)
    }

    /// `n` entries were dropped from the front of the list.
    pub(super) fn dropped_front(&mut self, n: usize) {
        if let Some(g) = &mut self.gap {
            g.at = g.at.saturating_sub(n);
        }
        if let Some((_, at)) = self.login.as_mut().and_then(|a| a.first_new.as_mut()) {
            *at = at.saturating_sub(n);
        }
    }

    /// `n` entries were put in front of the list.
    pub(super) fn added_front(&mut self, n: usize) {
        if let Some(g) = &mut self.gap {
            g.at += n;
        }
    }
}

impl ChatState {
    /// The oldest message id on screen.
    pub fn oldest_id(&self) -> Option<u64> {
        self.stored.oldest
    }

    /// Whether reaching the top of the list should fetch older messages now (none in flight, no
    /// gap being filled, and the server has not said there are no more).
    pub fn wants_older(&self) -> bool {
        self.stored.asked.is_none() && self.stored.gap.is_none() && !self.stored.exhausted
    }

    /// Whether messages missing after a login are being fetched ([`self`]'s module: the gap).
    pub fn filling_gap(&self) -> bool {
        self.stored.gap.is_some()
    }

    /// Show the messages kept on this computer (`keep_history`, oldest first) as history, closed
    /// by their own line. The login's history that follows skips them.
    pub fn show_kept(&mut self, lines: &[ChatLine], now_ms: u64) -> Update {
        let mut up = Update::default();
        let mut shown = 0;
        for l in lines {
            if self.stored.saw(l.msg_id) {
                let e = self.history_entry(l, now_ms);
                self.record(e, &mut up);
                shown += 1;
            }
        }
        if shown > 0 {
            let end = self.history_line(self.l().kept_end);
            self.record(end, &mut up);
        }
        up
    }

    fn history_line(&self, text: &str) -> Entry {
        Entry {
            kind: EntryKind::HistoryEnd,
            header: String::new(),
            body: text.to_owned(),
            wires: Vec::new(),
            plain: Vec::new(),
        }
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

    /// The connection ended: an answer in flight will not come. (A gap still being filled then
    /// stays partly open: the next login fills the one after the newest message shown. Rare: a
    /// gap is filled within a second of the login.)
    pub fn history_reset(&mut self) {
        self.stored.asked = None;
        self.stored.older.clear();
        self.stored.received = 0;
        self.stored.login_shown = 0;
        self.stored.login = None;
        self.stored.gap = None;
        self.stored.gap_closed = false;
        self.stored.next_before = None;
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
        let login = page.source == HistorySource::Login;
        if login && self.stored.login.is_none() {
            self.stored.login = Some(LoginAnswer {
                before: self.stored.newest,
                overlaps: false,
                first_new: None,
            });
        }
        let gap_after = self.stored.gap.filter(|_| !login).map(|g| g.after);
        self.stored.received += page.lines.len();
        let mut fresh: Vec<Entry> = Vec::new();
        for l in &page.lines {
            self.stored.next_before = Some(
                self.stored
                    .next_before
                    .map_or(l.msg_id, |b| b.min(l.msg_id)),
            );
            if gap_after.is_some_and(|after| l.msg_id <= after) {
                self.stored.gap_closed = true;
                continue;
            }
            if !self.stored.saw(l.msg_id) {
                if let Some(a) = &mut self.stored.login {
                    a.overlaps |= login;
                }
                continue;
            }
            let at = self.entry_count() + fresh.len();
            if login
                && let Some(a) = &mut self.stored.login
                && a.first_new.is_none()
            {
                a.first_new = Some((l.msg_id, at));
            }
            fresh.push(self.history_entry(l, now_ms));
        }
        // The page's frame goes under its last message (or the closing line).
        let mut wire = Some(((WireDir::Received, wire), plain));
        if let Some(last) = fresh.last_mut()
            && let Some((w, p)) = wire.take()
        {
            last.wires.push(w);
            last.plain.push(p);
        }
        if login {
            self.stored.login_shown += fresh.len();
            for e in fresh {
                self.record(e, up);
            }
            if !page.more {
                if self.stored.login_shown > 0 {
                    let mut end = self.history_line(self.l().history_end);
                    if let Some((w, p)) = wire {
                        end.wires.push(w);
                        end.plain.push(p);
                    }
                    self.record(end, up);
                }
                self.stored.login_shown = 0;
                self.stored.received = 0;
                self.stored.next_before = None;
                self.login_answer_done(up);
            }
            return;
        }
        self.stored.older.append(&mut fresh);
        if !page.more {
            self.older_answer_done(up);
        }
    }

    /// The login's answer is complete: ask for the gap before it, if there may be one.
    fn login_answer_done(&mut self, up: &mut Update) {
        let Some(answer) = self.stored.login.take() else {
            return;
        };
        if let (Some(after), false, Some((first, at))) =
            (answer.before, answer.overlaps, answer.first_new)
        {
            self.stored.gap = Some(Gap { after, at });
            self.stored.asked = Some(MAX_HISTORY_COUNT);
            up.request = Some(ClientRequest::History {
                before_id: first,
                count: MAX_HISTORY_COUNT,
            });
        }
    }

    /// An `OLDER` answer is complete: scroll-back puts it first; a gap's page goes into the gap
    /// (and the next page is asked for until the gap is closed).
    fn older_answer_done(&mut self, up: &mut Update) {
        let asked = self.stored.asked.take().unwrap_or(0) as usize;
        let mut older = std::mem::take(&mut self.stored.older);
        let short = self.stored.received < asked;
        self.stored.received = 0;
        let next_before = self.stored.next_before.take();
        if let Some(gap) = self.stored.gap {
            self.insert_at(gap.at, older, up);
            let closed = std::mem::take(&mut self.stored.gap_closed) || short;
            match next_before.filter(|_| !closed) {
                Some(before_id) => {
                    self.stored.asked = Some(MAX_HISTORY_COUNT);
                    up.request = Some(ClientRequest::History {
                        before_id,
                        count: MAX_HISTORY_COUNT,
                    });
                }
                None => self.stored.gap = None,
            }
            return;
        }
        if short {
            self.stored.exhausted = true;
            older.insert(0, self.history_line(self.l().no_older));
        }
        self.prepend(older, up);
    }
}
