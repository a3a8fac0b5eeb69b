//! The history writer: one task that seals accepted messages and inserts them in batches, off
//! the relay's path.
//!
//! The relay calls [`HistorySink::push`] under its lock (a counter and an unbounded channel send:
//! no waiting). The task takes everything queued (up to [`MAX_BATCH`]), seals and inserts it
//! in one transaction on a blocking thread, then sends `1008 STORED` to each sender. While the
//! database fails, the batch stays in memory and is retried every [`RETRY`]; the count of
//! messages not yet written ([`HistorySink`]'s backlog) bounds memory, and the relay refuses new
//! messages when it is full.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::protocol::chat::ChatLine;
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use super::{HistorySettings, seal_line};
use crate::db::{DbError, HistoryRow, UserStore};

/// Most messages written in one transaction (a burst larger than this takes several).
pub const MAX_BATCH: usize = 2048;
/// How long the writer waits before trying a failed write again.
pub const RETRY: Duration = Duration::from_secs(1);
/// How often old messages are purged (`history_days`).
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// One accepted message for the history.
#[derive(Debug)]
pub struct Record {
    pub line: ChatLine,
    /// `false`: a private message whose recipient was offline (held for their next login).
    pub delivered: bool,
}

enum Job {
    Store(Record),
    /// Answered once everything queued before it is in the database.
    Flush(oneshot::Sender<()>),
}

/// The relay's end of the writer: a bounded count of messages not yet written.
#[derive(Debug)]
pub struct HistorySink {
    tx: mpsc::UnboundedSender<Job>,
    backlog: Arc<AtomicUsize>,
    capacity: usize,
}

/// Who is told that their messages are stored: `(username, highest stored id)` pairs.
pub type StoredAcks = Vec<(String, u64)>;

impl HistorySink {
    /// Queue `record`; `false` (and nothing queued) when [`Self`] already holds its capacity of
    /// messages not yet written (the database is down or far behind).
    pub fn push(&self, record: Record) -> bool {
        if self.backlog.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.backlog.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        if self.tx.send(Job::Store(record)).is_err() {
            self.backlog.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        true
    }

    /// Whether a message would be refused now.
    pub fn is_full(&self) -> bool {
        self.backlog.load(Ordering::Acquire) >= self.capacity
    }

    /// Wait until everything queued before this call is written, at most `timeout`; `false` if
    /// that did not happen in time (the database is down).
    pub async fn flush(&self, timeout: Duration) -> bool {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Job::Flush(tx)).is_err() {
            return false;
        }
        matches!(tokio::time::timeout(timeout, rx).await, Ok(Ok(())))
    }
}

/// Start the writer task; it calls `stored` after each written batch. It ends when every
/// [`HistorySink`] is dropped and its queue is written (or cannot be: then it is logged).
pub fn spawn(
    store: Arc<dyn UserStore>,
    settings: HistorySettings,
    stored: impl Fn(StoredAcks) + Send + 'static,
) -> (HistorySink, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let backlog = Arc::new(AtomicUsize::new(0));
    let sink = HistorySink {
        tx,
        backlog: backlog.clone(),
        capacity: settings.queue_len.max(1),
    };
    let task = tokio::spawn(run(rx, store, settings, backlog, stored));
    (sink, task)
}

/// The writer's state between batches.
struct Writer {
    store: Arc<dyn UserStore>,
    settings: HistorySettings,
    backlog: Arc<AtomicUsize>,
    /// Sealed rows that are not in the database yet (oldest first).
    unwritten: Vec<HistoryRow>,
    /// Flushes waiting for `unwritten` to empty.
    flushes: Vec<oneshot::Sender<()>>,
    /// The database failed at the last attempt (logged once per outage).
    down: bool,
    /// While `down`: no new attempt before this.
    retry_at: tokio::time::Instant,
}

async fn run(
    mut rx: mpsc::UnboundedReceiver<Job>,
    store: Arc<dyn UserStore>,
    settings: HistorySettings,
    backlog: Arc<AtomicUsize>,
    stored: impl Fn(StoredAcks),
) {
    let mut w = Writer {
        store,
        settings,
        backlog,
        unwritten: Vec::new(),
        flushes: Vec::new(),
        down: false,
        retry_at: tokio::time::Instant::now(),
    };
    let mut next_purge = tokio::time::Instant::now();
    let mut closed = false;
    while !closed || !w.unwritten.is_empty() {
        if tokio::time::Instant::now() >= next_purge {
            w.purge().await;
            next_purge = tokio::time::Instant::now() + PURGE_EVERY;
        }
        let mut fresh = Vec::new();
        if w.unwritten.is_empty() {
            match rx.recv().await {
                Some(job) => w.take(job, &mut fresh),
                None => closed = true,
            }
        } else if !closed {
            // Retry after RETRY, or sooner with new messages (they join the same transaction).
            tokio::select! {
                job = rx.recv() => match job {
                    Some(job) => w.take(job, &mut fresh),
                    None => closed = true,
                },
                () = tokio::time::sleep_until(w.retry_at) => {}
            }
        } else {
            tokio::time::sleep_until(w.retry_at).await;
        }
        while fresh.len() + w.unwritten.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => w.take(job, &mut fresh),
                Err(_) => break,
            }
        }
        if let Some(acks) = w.write(fresh).await {
            stored(acks);
        }
        if closed && w.down {
            warn!(
                unwritten = w.unwritten.len(),
                "shutting down with messages the database did not take; they are lost"
            );
            break;
        }
    }
}

impl Writer {
    fn take(&mut self, job: Job, fresh: &mut Vec<Record>) {
        match job {
            Job::Store(r) => fresh.push(r),
            Job::Flush(done) => self.flushes.push(done),
        }
    }

    /// Seal `fresh`, then insert it with whatever is still unwritten, in one transaction. The
    /// senders to acknowledge when that worked.
    async fn write(&mut self, fresh: Vec<Record>) -> Option<StoredAcks> {
        let key = self.settings.key.clone();
        if self.down && tokio::time::Instant::now() < self.retry_at {
            // Not yet time to try again: only hold the new messages.
            self.unwritten
                .extend(fresh.iter().map(|r| seal_line(&key, &r.line, r.delivered)));
            return None;
        }
        let mut rows = std::mem::take(&mut self.unwritten);
        let store = self.store.clone();
        let (rows, result) = tokio::task::spawn_blocking(move || {
            rows.extend(fresh.iter().map(|r| seal_line(&key, &r.line, r.delivered)));
            let result = if rows.is_empty() {
                Ok(())
            } else {
                store.history_append(&rows)
            };
            (rows, result)
        })
        .await
        .unwrap_or_else(|_| {
            (
                Vec::new(),
                Err(DbError::Query("history writer panicked".into())),
            )
        });
        match result {
            Ok(()) => {
                if self.down {
                    info!(
                        written = rows.len(),
                        "history database is back; held messages written"
                    );
                    self.down = false;
                }
                self.backlog.fetch_sub(rows.len(), Ordering::AcqRel);
                for done in self.flushes.drain(..) {
                    let _ = done.send(());
                }
                Some(acks(&rows))
            }
            Err(e) => {
                if !self.down {
                    warn!(error = %e, held = rows.len(), "cannot write the message history; holding messages in memory and retrying");
                    self.down = true;
                }
                self.unwritten = rows;
                self.retry_at = tokio::time::Instant::now() + RETRY;
                None
            }
        }
    }

    async fn purge(&self) {
        if self.settings.days == 0 {
            return;
        }
        let cutoff = purge_cutoff_ms(self.settings.days);
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || store.history_purge(cutoff)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => info!(
                deleted = n,
                days = self.settings.days,
                "purged old messages"
            ),
            Ok(Err(e)) => warn!(error = %e, "could not purge old messages"),
            Err(_) => {}
        }
    }
}

/// Milliseconds since the epoch `days` days ago.
pub fn purge_cutoff_ms(days: u32) -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    now.saturating_sub(u64::from(days) * 86_400_000)
}

/// Each sender's highest id in `rows`.
fn acks(rows: &[HistoryRow]) -> StoredAcks {
    let mut by_sender: HashMap<&str, u64> = HashMap::new();
    for r in rows {
        let e = by_sender.entry(&r.from_user).or_default();
        *e = (*e).max(r.msg_id);
    }
    by_sender
        .into_iter()
        .map(|(u, id)| (u.to_owned(), id))
        .collect()
}
