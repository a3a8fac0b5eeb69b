//! Stored messages for a session: the pages at login (public messages and those held for the
//! user) and the older ones a `0007` asks for.

use std::time::Duration;

use common::protocol::chat::ServerEvent;
use common::protocol::consts::MAX_OFFLINE_DELIVERY;
use common::protocol::history::{HistorySource, history_pages};
use tracing::warn;

use crate::db::{DbError, Visible};
use crate::server::Shared;

/// How long a login waits for the history writer to store what was accepted before it.
const HISTORY_FLUSH_WAIT: Duration = Duration::from_secs(3);

/// The `1007 LOGIN` pages for a session that receives messages live from id `live_from` on:
/// the latest public messages before it and the private messages held for this user, and the
/// highest held id among them (marked delivered once they are sent). Nothing with history off.
pub(super) async fn login_history(
    shared: &Shared,
    username: &str,
    live_from: u64,
) -> (Vec<ServerEvent>, Option<u64>) {
    let Some(h) = &shared.settings.history else {
        return (Vec::new(), None);
    };
    // Everything accepted before the join must be in the database before it is read.
    if !shared.registry.flush_history(HISTORY_FLUSH_WAIT).await {
        warn!(
            user = username,
            "history not written yet at login; sending what is stored"
        );
    }
    let (store, user, on_join) = (shared.store.clone(), username.to_owned(), h.on_join);
    let read = tokio::task::spawn_blocking(move || {
        let mut rows = if on_join > 0 {
            store.history_before(Visible::Public, live_from, on_join)?
        } else {
            Vec::new()
        };
        let held = store.history_undelivered(&user, MAX_OFFLINE_DELIVERY)?;
        let upto = held.last().map(|r| r.msg_id);
        rows.extend(held);
        rows.sort_by_key(|r| r.msg_id);
        rows.dedup_by_key(|r| r.msg_id);
        Ok::<_, DbError>((rows, upto))
    })
    .await;
    let (lines, upto) = match read {
        Ok(Ok((rows, upto))) => (crate::history::open_rows(&h.key, &rows), upto),
        Ok(Err(e)) => {
            warn!(user = username, error = %e, "cannot read the history at login");
            (Vec::new(), None)
        }
        Err(_) => (Vec::new(), None),
    };
    let pages = history_pages(HistorySource::Login, lines)
        .into_iter()
        .map(ServerEvent::History)
        .collect();
    (pages, upto)
}

/// The held private messages to `username` up to `upto` were sent: not again at the next login.
pub(super) async fn mark_delivered(shared: &Shared, username: &str, upto: u64) {
    let (store, user) = (shared.store.clone(), username.to_owned());
    match tokio::task::spawn_blocking(move || store.history_mark_delivered(&user, upto)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            warn!(user = username, error = %e, "cannot mark held messages delivered; they come again at the next login")
        }
        Err(_) => {}
    }
}

/// The `1007 OLDER` pages answering a `0007` from `username` (one empty page with history off).
pub(super) async fn older_history(
    shared: &Shared,
    username: &str,
    before_id: u64,
    count: u32,
) -> Vec<ServerEvent> {
    let lines = match &shared.settings.history {
        None => Vec::new(),
        Some(h) => {
            let before = if before_id == 0 { u64::MAX } else { before_id };
            let (store, user) = (shared.store.clone(), username.to_owned());
            let read = tokio::task::spawn_blocking(move || {
                store.history_before(Visible::To(&user), before, count as usize)
            })
            .await;
            match read {
                Ok(Ok(rows)) => crate::history::open_rows(&h.key, &rows),
                Ok(Err(e)) => {
                    warn!(user = username, error = %e, "cannot read older messages");
                    Vec::new()
                }
                Err(_) => Vec::new(),
            }
        }
    };
    history_pages(HistorySource::Older, lines)
        .into_iter()
        .map(ServerEvent::History)
        .collect()
}
