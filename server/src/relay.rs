//! Who is online, and fan-out of accepted messages to their outboxes.
//!
//! The registry is a `std::sync::Mutex` (never held across `.await`: every operation here is a
//! few map lookups and non-blocking `try_send`s). Accepting a message, numbering it and pushing
//! it to every recipient's queue happen under the one lock, so every recipient receives
//! messages in the order the server accepted them. The expensive part, sealing the message with
//! each recipient's own key, happens later in each recipient's own task, spread over all cores.
//!
//! A recipient whose bounded queue is full is removed and told why (`TOO_SLOW`); it is never
//! skipped silently and never delays anybody else.
//!
//! With history on, the same lock hands each accepted message to the history writer
//! ([`crate::history::HistorySink`]: a counter and a channel send, no waiting), so the stored
//! order is the relay's order, and whether a private message's recipient was online (delivered
//! live) or not (held for their next login) is decided once, at the same moment as the fan-out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use common::protocol::Reason;
use common::protocol::chat::{ChatLine, ErrorMsg, Notice, NoticeKind, OnlineUser, ServerEvent};
use common::protocol::consts::FILE_QUEUE_LEN;
use common::protocol::sealed::SealedMessage;
use tokio::sync::{Notify, mpsc};

use crate::history::{HistorySink, Record};

pub mod files;
pub use files::FileLimits;

/// An event for recipients, with its plaintext built once (not once per recipient).
#[derive(Debug)]
pub struct Outgoing {
    pub event: ServerEvent,
    pub inner: Vec<u8>,
}

impl Outgoing {
    pub fn new(event: ServerEvent) -> Arc<Self> {
        let inner = event.inner_plain();
        Arc::new(Self { event, inner })
    }
}

/// What a connection's task receives from others.
pub type Outbox = mpsc::Receiver<Arc<Outgoing>>;

/// Tells one connection to close, with the reason to send it. Set once, then notified.
#[derive(Debug, Default)]
pub struct Kick {
    why: Mutex<Option<ErrorMsg>>,
    pub notify: Notify,
}

impl Kick {
    pub fn kick(&self, why: ErrorMsg) {
        let mut slot = self.why.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(why);
        }
        drop(slot);
        self.notify.notify_one();
    }

    pub fn reason(&self) -> Option<ErrorMsg> {
        self.why.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// What let a session in, kept so that withdrawing it ends the session
/// ([`crate::revocation`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The session key's id at login.
    pub key_id: String,
    /// The stored password hash at login (or after the session's own password change).
    pub password_hash: String,
    /// The hash a password change of this session is writing right now: accepted as well, so
    /// a check that runs between the write and [`Registry::set_password_hash`] does not end the
    /// session that made the change.
    pub next_password_hash: Option<String>,
}

impl Credential {
    pub fn new(key_id: String, password_hash: String) -> Self {
        Self {
            key_id,
            password_hash,
            next_password_hash: None,
        }
    }

    /// Whether `stored` (the hash in the database now) is one this session holds.
    pub fn accepts(&self, stored: &str) -> bool {
        stored == self.password_hash || self.next_password_hash.as_deref() == Some(stored)
    }
}

/// One online session's credential, as [`Registry::credentials`] lists them.
#[derive(Debug, Clone)]
pub struct Held {
    pub username: String,
    pub conn_id: u64,
    pub credential: Credential,
}

#[derive(Debug)]
struct Member {
    conn_id: u64,
    nickname: String,
    credential: Credential,
    tx: mpsc::Sender<Arc<Outgoing>>,
    /// File data for this connection: written only when `tx` has nothing waiting.
    files_tx: mpsc::Sender<Arc<Outgoing>>,
    kick: Arc<Kick>,
}

#[derive(Debug, Default)]
struct Inner {
    members: HashMap<String, Member>,
    next_msg_id: u64,
    files: files::Files,
}

/// The registry of logged-in users.
#[derive(Debug)]
pub struct Registry {
    inner: Mutex<Inner>,
    queue_len: usize,
    /// The history writer's queue, when history is on ([`Self::set_history`]).
    history: OnceLock<HistorySink>,
    file_limits: FileLimits,
}

/// What [`Registry::join`] gives the new session.
#[derive(Debug)]
pub struct Joined {
    pub outbox: Outbox,
    /// File data for this session, lower priority than `outbox` ([`files`]).
    pub files: Outbox,
    pub kick: Arc<Kick>,
    /// The online list, the new user included.
    pub online: Vec<OnlineUser>,
    /// The id of the first message this session receives live: older ones are history.
    pub live_from: u64,
}

/// The result of delivering one chat message.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Queued for every recipient that is online (the sender's own copy included).
    Delivered,
    /// A private message to someone who is not online (history off: not accepted).
    NotOnline,
    /// A private message to someone who is not online, accepted and stored for their next
    /// login (history on); only the sender's copy went out, followed by a `HELD` notice.
    Held,
    /// Not accepted: the history writer holds its limit of messages the database has not
    /// taken yet (an outage).
    HistoryFull,
}

impl Registry {
    pub fn new(queue_len: usize, file_limits: FileLimits) -> Self {
        Self {
            inner: Mutex::new(Inner {
                members: HashMap::new(),
                next_msg_id: 1,
                files: files::Files::default(),
            }),
            queue_len,
            history: OnceLock::new(),
            file_limits,
        }
    }

    /// Turn history on: every accepted message goes to `sink`, and message ids continue from
    /// `first_id` (see [`crate::history::first_msg_id`]). Once, before the first login.
    pub fn set_history(&self, sink: HistorySink, first_id: u64) {
        let mut inner = self.lock();
        inner.next_msg_id = inner.next_msg_id.max(first_id);
        let _ = self.history.set(sink);
    }

    /// Wait (at most `timeout`) until every message accepted so far is in the database; `true`
    /// at once with history off.
    pub async fn flush_history(&self, timeout: std::time::Duration) -> bool {
        match self.history.get() {
            Some(h) => h.flush(timeout).await,
            None => true,
        }
    }

    /// Tell each online sender up to which id its messages are stored (`1008`). A full outbox
    /// skips it: a later `1008` covers it.
    pub fn notify_stored(&self, acks: crate::history::writer::StoredAcks) {
        let inner = self.lock();
        for (user, upto) in acks {
            if let Some(m) = inner.members.get(&user) {
                let _ = m.tx.try_send(Outgoing::new(ServerEvent::Stored { upto }));
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Add `username` (kicking an older session of the same user: the newest login wins, so a
    /// client that crashed can log in again at once). Everybody else gets a JOIN notice.
    pub fn join(
        &self,
        username: &str,
        nickname: &str,
        conn_id: u64,
        credential: Credential,
    ) -> Joined {
        let (tx, rx) = mpsc::channel(self.queue_len);
        let (files_tx, files_rx) = mpsc::channel(FILE_QUEUE_LEN);
        let kick = Arc::new(Kick::default());
        let mut inner = self.lock();
        let replaced = inner.members.remove(username);
        if let Some(old) = &replaced {
            Self::files_gone(&mut inner, username, old.conn_id);
            old.kick.kick(ErrorMsg::new(
                Reason::LoggedInElsewhere,
                format!("{username} logged in again from another client; this session was closed"),
            ));
        }
        let notice = Outgoing::new(ServerEvent::Notice(Notice {
            kind: NoticeKind::Join,
            user: username.to_owned(),
            nick: nickname.to_owned(),
            text: String::new(),
        }));
        // A user who replaces their own session never went offline: no new JOIN for the others.
        if replaced.is_none() {
            Self::fan_out(&mut inner, &notice, &|_| true);
        }
        inner.members.insert(
            username.to_owned(),
            Member {
                conn_id,
                nickname: nickname.to_owned(),
                credential,
                tx,
                files_tx,
                kick: kick.clone(),
            },
        );
        Joined {
            outbox: rx,
            files: files_rx,
            kick,
            online: Self::online_locked(&inner),
            live_from: inner.next_msg_id,
        }
    }

    /// Remove `username` if `conn_id` is still its session; everybody else gets a LEAVE notice.
    pub fn leave(&self, username: &str, conn_id: u64) {
        let mut inner = self.lock();
        let Some(m) = inner.members.get(username) else {
            return;
        };
        if m.conn_id != conn_id {
            return;
        }
        let m = inner.members.remove(username).expect("present");
        Self::files_gone(&mut inner, username, conn_id);
        let notice = Outgoing::new(ServerEvent::Notice(Notice {
            kind: NoticeKind::Leave,
            user: username.to_owned(),
            nick: m.nickname,
            text: String::new(),
        }));
        Self::fan_out(&mut inner, &notice, &|_| true);
    }

    /// Number and deliver a chat message: to everyone (`to == None`) or to the recipient and the
    /// sender (private). The sender's copy confirms acceptance and shows the assigned order.
    pub fn deliver(
        &self,
        from_user: &str,
        from_nick: &str,
        to: Option<String>,
        text: String,
    ) -> Delivery {
        let mut inner = self.lock();
        let history = self.history.get();
        let online = to.as_ref().is_none_or(|t| inner.members.contains_key(t));
        if !online && history.is_none() {
            return Delivery::NotOnline;
        }
        if history.is_some_and(HistorySink::is_full) {
            return Delivery::HistoryFull;
        }
        let msg_id = inner.next_msg_id;
        inner.next_msg_id += 1;
        let time_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let line = ChatLine {
            msg_id,
            time_ms,
            from_user: from_user.to_owned(),
            from_nick: from_nick.to_owned(),
            to: to.clone(),
            text,
        };
        if let Some(h) = history
            && !h.push(Record {
                line: line.clone(),
                delivered: online,
            })
        {
            return Delivery::HistoryFull;
        }
        let event = Outgoing::new(ServerEvent::Chat(line));
        match &to {
            None => Self::fan_out(&mut inner, &event, &|_| true),
            Some(t) => Self::fan_out(&mut inner, &event, &|u| u == t || u == from_user),
        }
        if online {
            return Delivery::Delivered;
        }
        // After the echo, in the same queue: the sender learns it is held for later.
        if let Some(sender) = inner.members.get(from_user) {
            let held = Outgoing::new(ServerEvent::Notice(Notice {
                kind: NoticeKind::Held,
                user: to.unwrap_or_default(),
                nick: String::new(),
                text: String::new(),
            }));
            let _ = sender.tx.try_send(held);
        }
        Delivery::Held
    }

    /// Current online list.
    pub fn online(&self) -> Vec<OnlineUser> {
        Self::online_locked(&self.lock())
    }

    /// How many users are online.
    pub fn online_count(&self) -> usize {
        self.lock().members.len()
    }

    /// Every online session's credential.
    pub fn credentials(&self) -> Vec<Held> {
        self.lock()
            .members
            .iter()
            .map(|(u, m)| Held {
                username: u.clone(),
                conn_id: m.conn_id,
                credential: m.credential.clone(),
            })
            .collect()
    }

    /// The session `conn_id` of `username` is about to store `hash` as its own new password
    /// (`Some`), or the attempt is over (`None`): see [`Credential::next_password_hash`].
    pub fn expect_password_hash(&self, username: &str, conn_id: u64, hash: Option<String>) {
        if let Some(m) = self.lock().members.get_mut(username)
            && m.conn_id == conn_id
        {
            m.credential.next_password_hash = hash;
        }
    }

    /// The session `conn_id` of `username` changed its own password: remember the new hash, so
    /// the change does not end the session that made it.
    pub fn set_password_hash(&self, username: &str, conn_id: u64, hash: String) {
        if let Some(m) = self.lock().members.get_mut(username)
            && m.conn_id == conn_id
        {
            m.credential.password_hash = hash;
            m.credential.next_password_hash = None;
        }
    }

    /// End the session `conn_id` of `username` (if it is still that one) with `why`.
    pub fn kick(&self, username: &str, conn_id: u64, why: ErrorMsg) {
        if let Some(m) = self.lock().members.get(username)
            && m.conn_id == conn_id
        {
            m.kick.kick(why);
        }
    }

    /// Kick everyone (shutdown).
    pub fn kick_all(&self, why: &ErrorMsg) {
        for m in self.lock().members.values() {
            m.kick.kick(why.clone());
        }
    }

    fn online_locked(inner: &Inner) -> Vec<OnlineUser> {
        let mut v: Vec<_> = inner
            .members
            .iter()
            .map(|(u, m)| OnlineUser {
                username: u.clone(),
                nickname: m.nickname.clone(),
            })
            .collect();
        v.sort_by(|a, b| a.username.cmp(&b.username));
        v
    }

    /// Push `event` to every member selected by `to`; members whose queue is full are removed
    /// and kicked with `TOO_SLOW` (after the loop, and they get LEAVE notices).
    fn fan_out(inner: &mut Inner, event: &Arc<Outgoing>, to: &dyn Fn(&str) -> bool) {
        let mut slow = Vec::new();
        for (user, m) in &inner.members {
            if !to(user) {
                continue;
            }
            // A closed queue: the task is already gone; its own leave() will clean up.
            if let Err(mpsc::error::TrySendError::Full(_)) = m.tx.try_send(event.clone()) {
                slow.push(user.clone());
            }
        }
        for user in slow {
            if let Some(m) = inner.members.remove(&user) {
                tracing::warn!(user, "outgoing queue full: disconnecting slow client");
                Self::files_gone(inner, &user, m.conn_id);
                m.kick.kick(ErrorMsg::new(
                    Reason::TooSlow,
                    "your client fell too far behind (its message queue overflowed) and was disconnected; reconnect",
                ));
                let notice = Outgoing::new(ServerEvent::Notice(Notice {
                    kind: NoticeKind::Leave,
                    user: user.clone(),
                    nick: m.nickname,
                    text: "disconnected: too slow".into(),
                }));
                // Recursion depth is bounded: each round removes at least one member.
                Self::fan_out(inner, &notice, &|_| true);
            }
        }
    }
}
