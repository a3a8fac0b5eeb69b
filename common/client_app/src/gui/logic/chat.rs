//! The chat window's model, without widgets: what each event shows, the online-user list and who
//! the next message goes to, which sent frame belongs to which echo, the unread counter, and what
//! Enter does with the input box. The connection state is not here: it is the controller's
//! [`Phase`](super::phase::Phase), passed in where it matters.

use std::collections::VecDeque;

use common::client::chat_client::{CloseReason, NotSentReason};
use common::client::texts::{Ctx, password_changed, reason_text};
use common::config::Language;
use common::protocol::chat::{
    ChatLine, ClientRequest, ErrorMsg, NoticeKind, OnlineUser, ServerEvent, check_text,
};
use common::protocol::sealed::SealedMessage;

use super::input_history::InputHistory;
use super::labels::{Labels, chat_title, labels, title_with_unread};
use super::phase::Phase;
use super::render::{Entry, EntryKind, Rendered, Tone, WireDir, one_line, render};
use crate::format::{FileAction, Typed, clock, notice_line, parse_typed};

/// What typing into the input box and pressing Enter should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compose {
    /// Hand this request to the network worker (and clear the box).
    Send(ClientRequest),
    /// Leave (`/quit`).
    Quit,
    /// Open the change-password dialog (`/passwd`; only when online).
    ChangePassword,
    /// Show this line and keep the text in the box.
    Local(Entry),
    /// Offer a file (`/send PATH [USER]`; the box is cleared).
    SendFile { path: String, to: Option<String> },
    /// `/accept ID`, `/decline ID`, `/cancel ID` (the box is cleared).
    FileAction { action: FileAction, id: u64 },
    /// Nothing to do (empty input).
    Nothing,
}

/// What changed after an event; the GUI applies it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Update {
    /// Entries to append to the message list (already recorded in the state).
    pub new_entries: Vec<Entry>,
    /// Older entries were dropped: render the whole list again.
    pub rerender: bool,
    pub users_changed: bool,
    pub target_changed: bool,
    /// Chat lines from other people (for the unread count and urgency hint).
    pub incoming_chat: usize,
    /// Entries put before the list (older messages scrolled back to): the view keeps the line
    /// that was at the top where it was.
    pub prepended: usize,
    /// A request the model needs sent now (the next page of messages missing after a login,
    /// [`super::history`]).
    pub request: Option<ClientRequest>,
}

/// A chat request sent and not yet echoed by the server, with its frame.
#[derive(Debug, Clone)]
struct Pending {
    to: Option<String>,
    text: String,
    wire: String,
    /// The plaintext that was sealed (for the frame inspector).
    plain: String,
}

/// The chat window's model.
#[derive(Debug)]
pub struct ChatState {
    pub lang: Language,
    /// Program name for hints (`client_wy`).
    pub program: String,
    /// My username.
    pub me: String,
    pub nickname: String,
    users: Vec<OnlineUser>,
    /// Username the next message goes to; `None` = everyone.
    target: Option<String>,
    /// Matched to the server's echo, so one's own message shows the frame that went out.
    pending: VecDeque<Pending>,
    pub history: InputHistory,
    unread: usize,
    entries: VecDeque<Entry>,
    max_entries: usize,
    /// Stored messages shown, scroll-back state ([`super::history`]).
    pub(super) stored: super::history::Stored,
}

impl ChatState {
    /// Entries kept for redisplay by default; older ones are dropped in chunks.
    pub const MAX_ENTRIES: usize = 5000;
    const MAX_PENDING: usize = 256;

    pub fn new(lang: Language, program: &str, me: &str, nickname: &str) -> Self {
        Self {
            lang,
            program: program.to_owned(),
            me: me.to_owned(),
            nickname: nickname.to_owned(),
            users: Vec::new(),
            target: None,
            pending: VecDeque::new(),
            history: InputHistory::default(),
            unread: 0,
            entries: VecDeque::new(),
            max_entries: Self::MAX_ENTRIES,
            stored: super::history::Stored::default(),
        }
    }

    /// Keep at most `n` entries (tests use a small number).
    pub fn with_max_entries(mut self, n: usize) -> Self {
        self.max_entries = n.max(2);
        self
    }

    pub(super) fn l(&self) -> &'static Labels {
        labels(self.lang)
    }

    pub fn users(&self) -> &[OnlineUser] {
        &self.users
    }

    pub fn target(&self) -> Option<&str> {
        self.target.as_deref()
    }

    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter()
    }

    pub fn unread(&self) -> usize {
        self.unread
    }

    /// Render every entry (after toggling "show ciphertext" or dropping old entries).
    pub fn render_all(&self, show_wire: bool) -> Rendered {
        let mut r = Rendered::default();
        for e in &self.entries {
            r.extend(&render(e, show_wire, self.lang));
        }
        r
    }

    /// Put `older` (oldest first) before every entry, as many as the list has room for (the
    /// newest of them first): the whole list is rendered again, and [`Update::prepended`] says
    /// how many went in.
    pub(super) fn prepend(&mut self, older: Vec<Entry>, up: &mut Update) {
        let room = self.max_entries.saturating_sub(self.entries.len());
        let n = older.len().min(room);
        for e in older.into_iter().rev().take(n) {
            self.entries.push_front(e);
        }
        self.stored.added_front(n);
        up.prepended = n;
        up.rerender = true;
    }

    /// Put `entries` (oldest first) at index `at` of the list (messages missing after a login);
    /// the oldest entries of the list go if it is full.
    pub(super) fn insert_at(&mut self, at: usize, entries: Vec<Entry>, up: &mut Update) {
        if entries.is_empty() {
            return;
        }
        let at = at.min(self.entries.len());
        for (i, e) in entries.into_iter().enumerate() {
            self.entries.insert(at + i, e);
        }
        if self.entries.len() > self.max_entries {
            let drop = self.entries.len() - self.max_entries;
            self.entries.drain(..drop);
            self.stored.dropped_front(drop);
        }
        up.rerender = true;
    }

    /// How many entries the list holds.
    pub(super) fn entry_count(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn record(&mut self, e: Entry, up: &mut Update) {
        self.entries.push_back(e.clone());
        up.new_entries.push(e);
        if self.entries.len() > self.max_entries {
            let drop = (self.max_entries / 5).max(1);
            self.entries.drain(..drop);
            self.stored.dropped_front(drop);
            up.rerender = true;
        }
    }

    /// Add a local line (system or information).
    pub fn add(&mut self, e: Entry) -> Update {
        let mut up = Update::default();
        self.record(e, &mut up);
        up
    }

    fn nick_of(&self, username: &str) -> String {
        if username == self.me {
            return self.nickname.clone();
        }
        self.users
            .iter()
            .find(|u| u.username == username)
            .map_or_else(|| username.to_owned(), |u| u.nickname.clone())
    }

    /// The green line above a message: `nick  HH:MM:SS`, with the private partner.
    pub fn header(&self, line: &ChatLine) -> String {
        self.header_at(line, clock(line.time_ms))
    }

    /// [`Self::header`] with `time` as the time shown.
    pub(super) fn header_at(&self, line: &ChatLine, time: String) -> String {
        let from = one_line(&line.from_nick);
        match &line.to {
            None => format!("{from}  {time}"),
            Some(to) => {
                let to_nick = one_line(&self.nick_of(to));
                format!("{from} → {to_nick}  [{}]  {time}", self.l().private)
            }
        }
    }

    /// The login (or reconnect) succeeded.
    pub fn on_logged_in(
        &mut self,
        nickname: &str,
        key_info: &str,
        reconnect: bool,
        now_ms: u64,
    ) -> Update {
        self.nickname = nickname.to_owned();
        self.pending.clear();
        let l = self.l();
        let text = if reconnect {
            format!("{} ({} {key_info})", l.reconnected, l.session_key_info)
        } else {
            format!(
                "{} {} ({}); {} {key_info}",
                l.logged_in_as,
                one_line(nickname),
                self.me,
                l.session_key_info
            )
        };
        self.add(Entry::info(text, now_ms))
    }

    /// A `1009` error from the server (the connection closes after it).
    pub fn on_server_error(&mut self, e: ErrorMsg, now_ms: u64) -> Update {
        let ErrorMsg { reason, message } = e;
        let text = format!(
            "{}: {}",
            self.l().server_error,
            reason_text(&reason, &message, Ctx::gui(self.lang))
        );
        self.add(Entry::system(text, now_ms))
    }

    /// A frame that failed its checks was dropped; `wire` is what arrived.
    pub fn on_rejected(&mut self, why: &str, wire: String, now_ms: u64) -> Update {
        // `why` is the check that failed (English, from the crypto layer): the frame view
        // beneath shows what arrived; the student gets the local sentence only.
        let _ = why;
        let mut e = Entry::system(self.l().frame_rejected.to_owned(), now_ms);
        e.wires.push((WireDir::Rejected, wire));
        self.add(e)
    }

    /// A message was refused locally (too large to send) and never left.
    pub fn on_not_sent(&mut self, why: &NotSentReason, now_ms: u64) -> Update {
        let text = format!("{}: {}", self.l().not_sent, why.localized(self.lang));
        self.add(Entry::system(text, now_ms))
    }

    /// A request went out as `wire`: a chat message waits for its echo to show the frame.
    pub fn on_sent(&mut self, request: ClientRequest, wire: String) {
        if let ClientRequest::Chat { to, text } = request {
            if self.pending.len() == Self::MAX_PENDING {
                self.pending.pop_front();
            }
            let plain = ClientRequest::Chat {
                to: to.clone(),
                text: text.clone(),
            }
            .inner_text();
            self.pending.push_back(Pending {
                to,
                text,
                wire,
                plain,
            });
        }
    }

    /// The session ended. A logout we asked for shows nothing; anything else says why and how
    /// to get back.
    pub fn on_closed(&mut self, reason: &CloseReason, now_ms: u64) -> Update {
        let mut up = Update::default();
        self.history_reset();
        // The online list is stale now; a reconnect brings a fresh one.
        if !self.users.is_empty() {
            self.users.clear();
            up.users_changed = true;
        }
        if self.target.take().is_some() {
            up.target_changed = true;
        }
        let l = self.l();
        let text = match reason {
            CloseReason::LoggedOut => None,
            // The server's error was shown when it arrived: not again.
            CloseReason::ServerError(_) => {
                Some(format!("{}. {}", l.connection_lost, l.click_reconnect))
            }
            // Says itself that the connection is closed and what to do.
            CloseReason::FrameLost { .. } => reason.localized(Ctx::gui(self.lang)),
            other => other
                .localized(Ctx::gui(self.lang))
                .map(|why| format!("{}: {why}", l.connection_lost)),
        };
        if let Some(text) = text {
            self.record(Entry::system(text, now_ms), &mut up);
        }
        up
    }

    /// An authenticated, decrypted event from the server; `wire` is its frame.
    pub fn on_server_event(&mut self, event: ServerEvent, wire: String, now_ms: u64) -> Update {
        let mut up = Update::default();
        // The decrypted text, as the frame inspector shows it (the encoding is canonical: the
        // event's text is the plaintext that was sealed).
        let plain = (WireDir::Received, event.inner_text());
        match event {
            ServerEvent::Chat(line) => self.on_chat(line, wire, plain, &mut up),
            ServerEvent::Notice(n) => {
                let zh = self.lang == Language::Zh;
                let text = notice_line(&n, zh);
                let mut e = match n.kind {
                    NoticeKind::Join | NoticeKind::Leave => Entry::notice(text, now_ms),
                    NoticeKind::Info | NoticeKind::Warn => Entry::system(text, now_ms),
                    NoticeKind::Held => Entry::info(text, now_ms),
                };
                e.wires.push((WireDir::Received, wire));
                e.plain.push(plain);
                self.record(e, &mut up);
                match n.kind {
                    NoticeKind::Join => self.joined(n.user, n.nick, &mut up),
                    NoticeKind::Leave => self.left(&n.user, &n.nick, now_ms, &mut up),
                    NoticeKind::Info | NoticeKind::Warn | NoticeKind::Held => {}
                }
            }
            ServerEvent::UserList(users) => {
                self.on_user_list(users, (wire, plain), now_ms, &mut up);
            }
            ServerEvent::History(page) => self.on_history(page, (wire, plain), now_ms, &mut up),
            ServerEvent::PasswordResult(result) => {
                let mut e = match result {
                    Ok(()) => Entry::info(password_changed(self.lang).to_owned(), now_ms),
                    Err(reason) => Entry::system(
                        format!(
                            "{}: {}",
                            self.l().password_not_changed,
                            reason_text(&reason, "", Ctx::gui(self.lang))
                        ),
                        now_ms,
                    ),
                };
                e.wires.push((WireDir::Received, wire));
                e.plain.push(plain);
                self.record(e, &mut up);
            }
            // Parts of a long user list are merged by the session (ChatReceiver).
            ServerEvent::LoginOk { .. }
            | ServerEvent::UserListPart(_)
            | ServerEvent::Pong
            | ServerEvent::Stored { .. }
            | ServerEvent::File(_) => {}
        }
        up
    }

    fn on_chat(
        &mut self,
        line: ChatLine,
        wire: String,
        received: (WireDir, String),
        up: &mut Update,
    ) {
        self.stored.saw(line.msg_id);
        let mut wires = Vec::new();
        let mut plain = Vec::new();
        if line.from_user == self.me
            && let Some(i) = self
                .pending
                .iter()
                .position(|p| p.to == line.to && p.text == line.text)
            && let Some(sent) = self.pending.remove(i)
        {
            wires.push((WireDir::Sent, sent.wire));
            plain.push((WireDir::Sent, sent.plain));
        }
        wires.push((WireDir::Received, wire));
        plain.push(received);
        if line.from_user != self.me {
            up.incoming_chat += 1;
        }
        let tone = if line.to.is_some() {
            Tone::Private
        } else if line.from_user == self.me {
            Tone::Own
        } else {
            Tone::Others
        };
        let e = Entry {
            kind: EntryKind::Chat(tone),
            header: self.header(&line),
            body: line.text,
            wires,
            plain,
        };
        self.record(e, up);
    }

    fn joined(&mut self, username: String, nickname: String, up: &mut Update) {
        if !self.users.iter().any(|u| u.username == username) {
            self.users.push(OnlineUser { username, nickname });
            self.sort_users();
            up.users_changed = true;
        }
    }

    fn left(&mut self, username: &str, nickname: &str, now_ms: u64, up: &mut Update) {
        let before = self.users.len();
        self.users.retain(|u| u.username != username);
        up.users_changed |= self.users.len() != before;
        if self.target.as_deref() == Some(username) {
            self.target = None;
            up.target_changed = true;
            let who = one_line(if nickname.is_empty() {
                username
            } else {
                nickname
            });
            let text = format!("{who} {}", self.l().target_left);
            self.record(Entry::info(text, now_ms), up);
        }
    }

    fn on_user_list(
        &mut self,
        users: Vec<OnlineUser>,
        (wire, plain): (String, (WireDir, String)),
        now_ms: u64,
        up: &mut Update,
    ) {
        self.users = users;
        self.sort_users();
        up.users_changed = true;
        if let Some(t) = &self.target
            && !self.users.iter().any(|u| &u.username == t)
        {
            self.target = None;
            up.target_changed = true;
        }
        let names = self
            .users
            .iter()
            .map(|u| one_line(&u.nickname))
            .collect::<Vec<_>>()
            .join(", ");
        let mut e = Entry::info(
            format!("{} ({}): {names}", self.l().online_now, self.users.len()),
            now_ms,
        );
        e.wires.push((WireDir::Received, wire));
        e.plain.push(plain);
        self.record(e, up);
    }

    fn sort_users(&mut self) {
        let me = self.me.clone();
        self.users
            .sort_by(|a, b| (a.username != me, &a.username).cmp(&(b.username != me, &b.username)));
        self.users.dedup_by(|a, b| a.username == b.username);
    }

    /// Rows of the online-user list: everyone first, then me, then the others.
    pub fn user_rows(&self) -> Vec<String> {
        let mut rows = vec![self.l().everyone.to_owned()];
        for u in &self.users {
            let me = if u.username == self.me {
                self.l().me
            } else {
                ""
            };
            rows.push(format!("{} ({}){me}", one_line(&u.nickname), u.username));
        }
        rows
    }

    /// The 1-based row of the current target in [`Self::user_rows`].
    pub fn selected_row(&self) -> i32 {
        self.target
            .as_ref()
            .and_then(|t| self.users.iter().position(|u| &u.username == t))
            .map_or(1, |i| i32::try_from(i).unwrap_or(i32::MAX - 2) + 2)
    }

    /// The user picked row `row` (1-based; 0 = nothing). Picking yourself or nothing means
    /// everyone. Returns whether the target changed.
    pub fn select_row(&mut self, row: i32) -> bool {
        let new = usize::try_from(row)
            .ok()
            .and_then(|r| r.checked_sub(2))
            .and_then(|i| self.users.get(i))
            .filter(|u| u.username != self.me)
            .map(|u| u.username.clone());
        let changed = new != self.target;
        self.target = new;
        changed
    }

    /// Who the next message goes to, for the status line.
    pub fn target_label(&self) -> String {
        let l = self.l();
        match &self.target {
            None => l.to_everyone.to_owned(),
            Some(t) => format!("{}{} ({t})", l.to_user, one_line(&self.nick_of(t))),
        }
    }

    /// The input box's text was submitted in `phase`: nothing is sent unless it is
    /// [`Phase::Online`].
    pub fn compose(&mut self, typed: &str, phase: Phase, now_ms: u64) -> Compose {
        let online = phase.online();
        let (to, text) = match parse_typed(typed) {
            Typed::Empty => return Compose::Nothing,
            Typed::Help(h) => return Compose::Local(Entry::info(h, now_ms)),
            Typed::Quit => return Compose::Quit,
            Typed::Who | Typed::Passwd | Typed::History(_) if !online => {
                return Compose::Local(Entry::system(self.l().not_connected, now_ms));
            }
            Typed::Who => {
                self.history.push(typed);
                return Compose::Send(ClientRequest::ListUsers);
            }
            Typed::Passwd => return Compose::ChangePassword,
            Typed::History(count) => {
                self.history.push(typed);
                return match self.older_request(count) {
                    Some(req) => Compose::Send(req),
                    None => Compose::Nothing,
                };
            }
            // The typed forms of the send-file and transfer buttons, as in the terminal mode.
            Typed::SendFile { .. } | Typed::FileAction { .. } if !online => {
                return Compose::Local(Entry::system(self.l().not_connected, now_ms));
            }
            Typed::SendFile { path, to } => {
                self.history.push(typed.trim_end_matches(['\r', '\n']));
                return Compose::SendFile { path, to };
            }
            Typed::FileAction { action, id } => {
                self.history.push(typed.trim_end_matches(['\r', '\n']));
                return Compose::FileAction { action, id };
            }
            Typed::Say(text) => (self.target.clone(), text),
            Typed::Whisper { to, text } => (Some(to), text),
        };
        if !online {
            return Compose::Local(Entry::system(self.l().not_connected, now_ms));
        }
        if let Err(why) = check_text(&text) {
            return Compose::Local(Entry::system(
                format!("{}: {why}", self.l().not_sent),
                now_ms,
            ));
        }
        self.history.push(typed.trim_end_matches(['\r', '\n']));
        Compose::Send(ClientRequest::Chat { to, text })
    }

    /// Chat lines arrived; counts them as unread when the window is not focused. Returns whether
    /// the title (and urgency hint) should change.
    pub fn note_incoming(&mut self, n: usize, focused: bool) -> bool {
        if n == 0 || focused {
            return false;
        }
        self.unread += n;
        true
    }

    /// The window has the focus: clear the unread count. Returns whether it was non-zero.
    pub fn focus_seen(&mut self) -> bool {
        std::mem::take(&mut self.unread) > 0
    }

    /// The window title now.
    pub fn title(&self) -> String {
        title_with_unread(&chat_title(self.lang, &self.nickname), self.unread)
    }
}

/// Text for the status line.
pub fn status_text(state: &ChatState, phase: Phase) -> String {
    let l = labels(state.lang);
    match phase {
        Phase::Online => format!("{} · {}", l.connected, state.target_label()),
        Phase::Reconnecting => l.reconnecting.to_owned(),
        _ => l.disconnected.to_owned(),
    }
}
