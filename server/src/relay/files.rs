//! File transfers through the relay (PROTOCOL.md §6.11): offers, answers, chunks fanned out to
//! every accepting recipient, acknowledgements, credit for the sender, the end and the verdicts.
//!
//! Everything happens under the registry's one lock, like chat: a few map updates and
//! non-blocking `try_send`s. Control events (offers, statuses, credit) go through each
//! connection's chat queue; file data and the end go through its separate file queue, which the
//! connection writes only when no chat event waits, one frame at a time: a chunk delays a chat
//! message by at most one frame.
//!
//! **Flow control.** The sender may send only the bytes before its credit, which is the
//! slowest active recipient's acknowledged offset plus [`FILE_WINDOW`] (and, with a bandwidth
//! limit, no more than the sender's byte budget allows). So the server holds at most a window
//! per transfer and recipient, and a slow recipient slows its transfer, not the chat. A
//! recipient that does not move for `stall` while data waits for it, or that is `stall` behind
//! the fastest recipient, is dropped from the transfer (`FILE_TOO_SLOW`, told to both sides)
//! and stays in the chat; the others go on at their pace.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::protocol::Reason;
use common::protocol::chat::ServerEvent;
use common::protocol::consts::{
    DEFAULT_MAX_FILE_MB, DEFAULT_MAX_TRANSFERS_PER_USER, FILE_OFFER_TIMEOUT_SECS, FILE_STALL_SECS,
    FILE_WINDOW,
};
use common::protocol::files::{FileEvent, FileRequest, FileState, Sha256, Verb};
use tokio::sync::mpsc;

use super::{Inner, Outgoing, Registry};

/// The server's file limits (`server.toml`).
#[derive(Debug, Clone)]
pub struct FileLimits {
    /// Largest file relayed, in bytes (`max_file_mb`).
    pub max_size: u64,
    /// Transfers one user may send at once (`max_transfers_per_user`).
    pub max_per_user: usize,
    /// File bytes one user may send per second, all transfers together (0: no limit).
    pub bytes_per_sec: u64,
    /// How long a recipient may hold a transfer up before it is dropped from it.
    pub stall: Duration,
    /// How long a transfer waits for every recipient's answer.
    pub offer_timeout: Duration,
}

impl Default for FileLimits {
    fn default() -> Self {
        Self {
            max_size: DEFAULT_MAX_FILE_MB * 1024 * 1024,
            max_per_user: DEFAULT_MAX_TRANSFERS_PER_USER,
            bytes_per_sec: 0,
            stall: Duration::from_secs(FILE_STALL_SECS),
            offer_timeout: Duration::from_secs(FILE_OFFER_TIMEOUT_SECS),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Waiting,
    Accepted,
}

#[derive(Debug)]
struct Recipient {
    conn_id: u64,
    answer: Answer,
    acked: u64,
    /// When its acknowledged offset last moved (or it accepted).
    moved: Instant,
}

#[derive(Debug)]
struct Transfer {
    sender: String,
    sender_conn: u64,
    size: u64,
    offered: Instant,
    recipients: HashMap<String, Recipient>,
    /// Bytes received from the sender so far (and relayed).
    received: u64,
    /// Bytes the sender may send (told in `1013`).
    credit: u64,
    /// Every recipient answered (or the offer timed out): data may flow.
    started: bool,
    /// The sender's `0012` came: every byte is relayed.
    ended: bool,
    delivered: usize,
    last_failure: Option<Reason>,
    /// `(offset, when the first recipient acknowledged it)`, ascending: how far behind the
    /// fastest recipient a slow one is, in time.
    firsts: Vec<(u64, Instant)>,
}

/// Every running transfer.
#[derive(Debug, Default)]
pub(super) struct Files {
    map: HashMap<u64, Transfer>,
    next_id: u64,
    /// Per sender: byte budget and when it was last refilled (bandwidth limit).
    budgets: HashMap<String, (f64, Instant)>,
}

/// Why a recipient leaves a transfer, and what the sender is told.
#[derive(Debug, Clone, Copy)]
enum Exit {
    Declined,
    Done,
    Failed(FailWhy),
}

#[derive(Debug, Clone, Copy)]
enum FailWhy {
    Cancelled,
    Left,
    TooSlow,
    BadHash,
    Expired,
}

impl FailWhy {
    fn reason(self) -> Reason {
        match self {
            Self::Cancelled => Reason::RecipientCancelled,
            Self::Left => Reason::RecipientLeft,
            Self::TooSlow => Reason::FileTooSlow,
            Self::BadHash => Reason::BadHash,
            Self::Expired => Reason::OfferExpired,
        }
    }
}

fn status(id: u64, state: FileState, user: &str, reason: Option<Reason>) -> Arc<Outgoing> {
    Outgoing::new(ServerEvent::File(FileEvent::Status {
        id,
        state,
        user: user.to_owned(),
        reason,
    }))
}

impl Registry {
    /// Act on a file request from `user` (session `conn_id`). Every answer goes through the
    /// queues, in order with the user's other events.
    pub fn file_request(&self, user: &str, nick: &str, conn_id: u64, req: FileRequest) {
        // The chunk's plaintext is built once, outside the lock, for every recipient.
        if let FileRequest::Chunk { id, offset, data } = req {
            let len = data.len() as u64;
            let ev = Outgoing::new(ServerEvent::File(FileEvent::Data { id, offset, data }));
            return self.file_chunk(user, conn_id, id, offset, len, ev);
        }
        let mut inner = self.lock();
        let now = Instant::now();
        match req {
            FileRequest::Offer {
                reference,
                to,
                name,
                size,
            } => {
                let result = self.offer(&mut inner, user, nick, conn_id, to, name, size, now);
                let ev = FileEvent::OfferResult { reference, result };
                send_chat(&mut inner, user, Outgoing::new(ServerEvent::File(ev)));
            }
            FileRequest::Control { id, verb } => {
                control(&mut inner, user, conn_id, id, verb);
                self.grant(&mut inner, id, now);
            }
            FileRequest::Ack { id, received } => {
                ack(&mut inner, user, id, received, now);
                self.grant(&mut inner, id, now);
            }
            FileRequest::End { id, sha256 } => end(&mut inner, user, conn_id, id, sha256),
            FileRequest::Chunk { .. } => unreachable!("handled above"),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn offer(
        &self,
        inner: &mut Inner,
        user: &str,
        nick: &str,
        conn_id: u64,
        to: Option<String>,
        name: String,
        size: u64,
        now: Instant,
    ) -> Result<u64, Reason> {
        let limits = &self.file_limits;
        if size > limits.max_size {
            return Err(Reason::FileTooLarge);
        }
        if to.as_deref() == Some(user) {
            return Err(Reason::BadOffer);
        }
        let running = inner
            .files
            .map
            .values()
            .filter(|t| t.sender == user)
            .count();
        if running >= limits.max_per_user {
            return Err(Reason::TooManyTransfers);
        }
        let recipients: Vec<(String, u64)> = match &to {
            Some(t) => match inner.members.get(t) {
                Some(m) => vec![(t.clone(), m.conn_id)],
                None => return Err(Reason::NotOnline),
            },
            None => inner
                .members
                .iter()
                .filter(|(u, _)| *u != user)
                .map(|(u, m)| (u.clone(), m.conn_id))
                .collect(),
        };
        if recipients.is_empty() {
            return Err(Reason::NobodyOnline);
        }
        inner.files.next_id += 1;
        let id = inner.files.next_id;
        let offered = Outgoing::new(ServerEvent::File(FileEvent::Offered {
            id,
            from_user: user.to_owned(),
            from_nick: nick.to_owned(),
            name,
            size,
        }));
        let mut t = Transfer {
            sender: user.to_owned(),
            sender_conn: conn_id,
            size,
            offered: now,
            recipients: HashMap::new(),
            received: 0,
            credit: 0,
            started: false,
            ended: false,
            delivered: 0,
            last_failure: None,
            firsts: Vec::new(),
        };
        for (r, conn_id) in recipients {
            t.recipients.insert(
                r,
                Recipient {
                    conn_id,
                    answer: Answer::Waiting,
                    acked: 0,
                    moved: now,
                },
            );
        }
        // The result is queued (by the caller) before these offers' answers can come back.
        let names: Vec<String> = t.recipients.keys().cloned().collect();
        inner.files.map.insert(id, t);
        for r in names {
            send_chat(inner, &r, offered.clone());
        }
        Ok(id)
    }

    fn file_chunk(
        &self,
        user: &str,
        conn_id: u64,
        id: u64,
        offset: u64,
        len: u64,
        ev: Arc<Outgoing>,
    ) {
        let mut inner = self.lock();
        let Some(t) = inner.files.map.get_mut(&id) else {
            return; // cancelled meanwhile: its chunks in flight are dropped
        };
        if t.sender != user || t.sender_conn != conn_id {
            return;
        }
        let fits = t.started
            && !t.ended
            && offset == t.received
            && offset + len <= t.credit
            && offset + len <= t.size;
        if !fits {
            tracing::warn!(user, id, offset, "file chunk out of order or beyond credit");
            return abort(&mut inner, id, Reason::BadChunk);
        }
        t.received += len;
        let targets: Vec<String> = accepted(t).collect();
        let mut full = Vec::new();
        for r in targets {
            match inner.members.get(&r) {
                Some(m) => {
                    if let Err(mpsc::error::TrySendError::Full(_)) = m.files_tx.try_send(ev.clone())
                    {
                        full.push(r);
                    }
                }
                None => full.push(r),
            }
        }
        for r in full {
            drop_recipient(&mut inner, id, &r, Exit::Failed(FailWhy::TooSlow));
        }
    }

    /// Start a transfer whose recipients all answered (or whose offer timed out), and give its
    /// sender the credit the slowest recipient and the byte budget allow. Ends a transfer with
    /// nobody left.
    fn grant(&self, inner: &mut Inner, id: u64, now: Instant) {
        let Some(t) = inner.files.map.get_mut(&id) else {
            return;
        };
        if !t.started {
            let waiting = t.recipients.values().any(|r| r.answer == Answer::Waiting);
            if waiting {
                return;
            }
            t.started = true;
        }
        if t.recipients.is_empty() {
            return finish(inner, id);
        }
        let slowest = t.recipients.values().map(|r| r.acked).min().unwrap_or(0);
        let mut want = (slowest + FILE_WINDOW).min(t.size);
        let first = t.credit == 0;
        if want <= t.credit && !first {
            return;
        }
        let sender = t.sender.clone();
        if self.file_limits.bytes_per_sec > 0 {
            let rate = self.file_limits.bytes_per_sec as f64;
            let budget = inner
                .files
                .budgets
                .entry(sender.clone())
                .or_insert((rate, now));
            budget.0 = (budget.0 + rate * now.duration_since(budget.1).as_secs_f64()).min(rate);
            budget.1 = now;
            let t = inner.files.map.get_mut(&id).expect("present");
            let allowed = t.credit + budget.0.max(0.0) as u64;
            want = want.min(allowed);
            budget.0 -= want.saturating_sub(t.credit) as f64;
        }
        let t = inner.files.map.get_mut(&id).expect("present");
        if want <= t.credit && !first {
            return;
        }
        t.credit = want.max(t.credit);
        let ev = FileEvent::Credit { id, upto: t.credit };
        send_chat(inner, &sender, Outgoing::new(ServerEvent::File(ev)));
    }

    /// Periodic work: offers that timed out, recipients that hold a transfer up, credit that a
    /// bandwidth budget held back.
    pub fn files_tick(&self) {
        let now = Instant::now();
        let mut inner = self.lock();
        let limits = &self.file_limits;
        let ids: Vec<u64> = inner.files.map.keys().copied().collect();
        for id in ids {
            let Some(t) = inner.files.map.get(&id) else {
                continue;
            };
            let mut out = Vec::new();
            if !t.started && now.duration_since(t.offered) >= limits.offer_timeout {
                out.extend(
                    t.recipients
                        .iter()
                        .filter(|(_, r)| r.answer == Answer::Waiting)
                        .map(|(u, _)| (u.clone(), FailWhy::Expired)),
                );
            }
            if t.started {
                out.extend(stalled(t, now, limits.stall).map(|u| (u, FailWhy::TooSlow)));
            }
            for (u, why) in out {
                drop_recipient(&mut inner, id, &u, Exit::Failed(why));
            }
            self.grant(&mut inner, id, now);
        }
    }

    /// `user`'s session `conn_id` ended: its transfers stop (`SENDER_LEFT` to their
    /// recipients), and it leaves the transfers it received (`RECIPIENT_LEFT` to their senders).
    pub(super) fn files_gone(inner: &mut Inner, user: &str, conn_id: u64) {
        let ids: Vec<u64> = inner.files.map.keys().copied().collect();
        for id in ids {
            let Some(t) = inner.files.map.get(&id) else {
                continue;
            };
            if t.sender == user && t.sender_conn == conn_id {
                abort(inner, id, Reason::SenderLeft);
            } else if t.recipients.get(user).is_some_and(|r| r.conn_id == conn_id) {
                drop_recipient(inner, id, user, Exit::Failed(FailWhy::Left));
            }
        }
    }
}

/// The recipients that accepted.
fn accepted(t: &Transfer) -> impl Iterator<Item = String> + '_ {
    t.recipients
        .iter()
        .filter(|(_, r)| r.answer == Answer::Accepted)
        .map(|(u, _)| u.clone())
}

/// Recipients that hold the transfer up: nothing acknowledged for `stall` while bytes wait for
/// them, or `stall` behind the first recipient that got as far as their next step.
fn stalled(t: &Transfer, now: Instant, stall: Duration) -> impl Iterator<Item = String> + '_ {
    t.recipients.iter().filter_map(move |(u, r)| {
        let waiting = r.acked < t.received || (t.ended && r.acked == t.size);
        let idle = waiting && now.duration_since(r.moved) >= stall;
        let behind = t
            .firsts
            .iter()
            .find(|(offset, _)| *offset > r.acked)
            .is_some_and(|(_, at)| now.duration_since(*at) >= stall);
        (idle || behind).then(|| u.clone())
    })
}

/// Queue a control event for `user` on its chat queue (a full queue is a slow client: the
/// registry's usual rule removes it).
fn send_chat(inner: &mut Inner, user: &str, ev: Arc<Outgoing>) {
    Registry::fan_out(inner, &ev, &|u| u == user);
}

fn control(inner: &mut Inner, user: &str, conn_id: u64, id: u64, verb: Verb) {
    let Some(t) = inner.files.map.get_mut(&id) else {
        return unknown(inner, user, id);
    };
    if t.sender == user && t.sender_conn == conn_id {
        if verb == Verb::Cancel {
            abort(inner, id, Reason::SenderCancelled);
        }
        return;
    }
    let Some(r) = t.recipients.get_mut(user).filter(|r| r.conn_id == conn_id) else {
        return unknown(inner, user, id);
    };
    let sender = t.sender.clone();
    match verb {
        Verb::Accept if r.answer == Answer::Waiting => {
            r.answer = Answer::Accepted;
            r.moved = Instant::now();
            let ev = status(id, FileState::Accepted, user, None);
            send_chat(inner, &sender, ev);
        }
        Verb::Decline if r.answer == Answer::Waiting => {
            drop_recipient(inner, id, user, Exit::Declined);
        }
        Verb::Cancel => drop_recipient(inner, id, user, Exit::Failed(FailWhy::Cancelled)),
        Verb::Done if t.ended && r.acked == t.size => drop_recipient(inner, id, user, Exit::Done),
        Verb::BadHash if t.ended => {
            drop_recipient(inner, id, user, Exit::Failed(FailWhy::BadHash));
        }
        // An answer that does not fit the transfer's state (a second accept, a verdict before
        // the end): the recipient's client is broken; it leaves the transfer.
        _ => drop_recipient(inner, id, user, Exit::Failed(FailWhy::Cancelled)),
    }
}

/// `1011 FAILED UNKNOWN_TRANSFER` to `user`.
fn unknown(inner: &mut Inner, user: &str, id: u64) {
    let ev = status(id, FileState::Failed, "", Some(Reason::UnknownTransfer));
    send_chat(inner, user, ev);
}

fn ack(inner: &mut Inner, user: &str, id: u64, received: u64, now: Instant) {
    let Some(t) = inner.files.map.get_mut(&id) else {
        return;
    };
    let Some(r) = t.recipients.get_mut(user) else {
        return;
    };
    // An acknowledgement can only move forward, and only over bytes that were relayed.
    if received <= r.acked || received > t.received {
        return;
    }
    r.acked = received;
    r.moved = now;
    let max = t.firsts.last().map_or(0, |f| f.0);
    if received > max {
        t.firsts.push((received, now));
    }
    let slowest = t.recipients.values().map(|r| r.acked).min().unwrap_or(0);
    t.firsts.retain(|f| f.0 > slowest);
}

fn end(inner: &mut Inner, user: &str, conn_id: u64, id: u64, sha256: Sha256) {
    let Some(t) = inner.files.map.get_mut(&id) else {
        return;
    };
    if t.sender != user || t.sender_conn != conn_id {
        return;
    }
    if !t.started || t.ended || t.received != t.size {
        return abort(inner, id, Reason::BadChunk);
    }
    t.ended = true;
    let ev = Outgoing::new(ServerEvent::File(FileEvent::End { id, sha256 }));
    let targets: Vec<String> = accepted(t).collect();
    for r in targets {
        let sent = inner
            .members
            .get(&r)
            .is_some_and(|m| m.files_tx.try_send(ev.clone()).is_ok());
        if !sent {
            drop_recipient(inner, id, &r, Exit::Failed(FailWhy::TooSlow));
        }
    }
}

/// `user` leaves transfer `id`: its sender is told why (and the recipient too when it did not
/// end the transfer itself); a transfer with nobody left is over.
fn drop_recipient(inner: &mut Inner, id: u64, user: &str, exit: Exit) {
    let Some(t) = inner.files.map.get_mut(&id) else {
        return;
    };
    if t.recipients.remove(user).is_none() {
        return;
    }
    let sender = t.sender.clone();
    let to_sender = match exit {
        Exit::Declined => {
            t.last_failure = Some(Reason::Declined);
            status(id, FileState::Declined, user, None)
        }
        Exit::Done => {
            t.delivered += 1;
            status(id, FileState::Done, user, None)
        }
        Exit::Failed(why) => {
            t.last_failure = Some(why.reason());
            status(id, FileState::Failed, user, Some(why.reason()))
        }
    };
    let nobody_left = t.recipients.is_empty();
    // The recipient did not end it itself: it learns why (too slow, too late).
    if let Exit::Failed(why @ (FailWhy::TooSlow | FailWhy::Expired)) = exit {
        let ev = status(id, FileState::Failed, &sender, Some(why.reason()));
        send_chat(inner, user, ev);
    }
    send_chat(inner, &sender, to_sender);
    if nobody_left {
        finish(inner, id);
    }
}

/// The transfer is over: its sender gets `OVER` (with the last failure when nobody got the
/// file).
fn finish(inner: &mut Inner, id: u64) {
    let Some(t) = inner.files.map.remove(&id) else {
        return;
    };
    let reason = (t.delivered == 0).then_some(t.last_failure).flatten();
    let ev = status(id, FileState::Over, "", reason);
    send_chat(inner, &t.sender, ev);
}

/// Stop the whole transfer for `reason`: every recipient is told, and the sender gets `OVER`.
fn abort(inner: &mut Inner, id: u64, reason: Reason) {
    let Some(t) = inner.files.map.remove(&id) else {
        return;
    };
    for user in t.recipients.keys() {
        let ev = status(id, FileState::Failed, &t.sender, Some(reason.clone()));
        send_chat(inner, user, ev);
    }
    let ev = status(id, FileState::Over, "", Some(reason));
    send_chat(inner, &t.sender, ev);
}
