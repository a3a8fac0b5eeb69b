//! The chat server's lifecycle: the shared accept loop ([`common::net::serve`]) runs one
//! [`crate::handler`] task per connection, up to a limit; at shutdown every client is told
//! (`SHUTDOWN`) and the connections get a moment to close. Errors stay inside their connection.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::net::{ServeOptions, serve};
use common::protocol::Reason;
use common::protocol::chat::ErrorMsg;
use common::protocol::consts::{
    CLIENT_QUEUE_LEN, HANDSHAKE_TIMEOUT_SECS, IDLE_TIMEOUT_SECS, MAX_CLIENTS,
};
use common::trace::Trace;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tracing::{info, warn};

use crate::db::UserStore;
use crate::relay::Registry;

/// How often sessions are checked for a withdrawn key, user or password: a revoked session
/// ends within this time.
pub const REVOCATION_CHECK: Duration = Duration::from_secs(2);

/// How long shutdown waits for the connections to close after telling them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How long shutdown waits for the history writer to store what was accepted.
const HISTORY_DRAIN: Duration = Duration::from_secs(10);

/// Settings of a running chat server.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Folder holding server_key's `<username>.txt` session keys.
    pub session_key_dir: PathBuf,
    pub max_connections: usize,
    pub queue_len: usize,
    pub handshake_timeout: Duration,
    pub idle_timeout: Duration,
    /// How often online sessions are checked against their key files and the database
    /// ([`crate::revocation`]).
    pub revocation_check: Duration,
    /// Where `server user unlock` leaves requests, read at each revocation check.
    pub unlock_dir: Option<PathBuf>,
    /// Bounds on login work and password guessing.
    pub login_limits: crate::throttle::Limits,
    pub trace: Trace,
    /// Message history ([`crate::history`]); `None`: nothing is stored, and a private message
    /// to someone offline is refused.
    pub history: Option<crate::history::HistorySettings>,
    /// File transfer limits (`server.toml`: `max_file_mb`, `max_transfers_per_user`,
    /// `file_kb_per_second_per_user`).
    pub files: crate::relay::FileLimits,
}

impl Settings {
    pub fn new(session_key_dir: PathBuf) -> Self {
        Self {
            session_key_dir,
            max_connections: MAX_CLIENTS,
            queue_len: CLIENT_QUEUE_LEN,
            handshake_timeout: Duration::from_secs(HANDSHAKE_TIMEOUT_SECS),
            idle_timeout: Duration::from_secs(IDLE_TIMEOUT_SECS),
            revocation_check: REVOCATION_CHECK,
            unlock_dir: None,
            login_limits: crate::throttle::Limits::default(),
            trace: Trace::default(),
            history: None,
            files: crate::relay::FileLimits::default(),
        }
    }
}

/// State shared by all connections.
pub struct Shared {
    pub settings: Settings,
    /// Bounds on password checks and guessing ([`crate::throttle`]).
    pub logins: crate::throttle::LoginGuard,
    pub store: Arc<dyn UserStore>,
    pub registry: Registry,
    pub shutdown: broadcast::Sender<()>,
    next_conn: AtomicU64,
}

impl Shared {
    pub fn next_conn_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }
}

/// Serve on `listener` until `shutdown` completes; then tell every client (`SHUTDOWN`) and wait
/// briefly for their connections to close.
pub async fn run(
    listener: TcpListener,
    store: Arc<dyn UserStore>,
    settings: Settings,
    shutdown: impl Future,
) {
    let (shutdown_tx, _) = broadcast::channel(1);
    let opts = ServeOptions {
        max_connections: settings.max_connections,
        refusal: ErrorMsg::new(
            Reason::ServerFull,
            "the chat server is full; try again later",
        )
        .to_text()
        .into_bytes(),
    };
    let shared = Arc::new(Shared {
        logins: crate::throttle::LoginGuard::for_this_machine(settings.login_limits.clone()),
        registry: Registry::new(settings.queue_len, settings.files.clone()),
        settings,
        store,
        shutdown: shutdown_tx,
        next_conn: AtomicU64::new(1),
    });
    let writer = start_history(&shared).await;
    let watcher = tokio::spawn(crate::revocation::watch(shared.clone()));
    let files_ticker = tokio::spawn(files_tick(Arc::downgrade(&shared)));
    let handlers = shared.clone();
    let in_flight = serve(listener, opts, shutdown, move |stream, peer| {
        crate::handler::handle(stream, peer, handlers.clone())
    })
    .await;
    info!(
        online = shared.registry.online_count(),
        "shutting down: telling connected clients"
    );
    watcher.abort();
    files_ticker.abort();
    let _ = shared.shutdown.send(());
    shared.registry.kick_all(&ErrorMsg::new(
        Reason::Shutdown,
        "the chat server is shutting down; reconnect when it is back",
    ));
    in_flight.wait(SHUTDOWN_GRACE).await;
    if let Some(writer) = writer {
        // Everything accepted is written before the process ends (a SIGKILL loses at most
        // what was not yet acknowledged with 1008).
        if !shared.registry.flush_history(HISTORY_DRAIN).await {
            warn!("the message history could not be written completely before shutdown");
        }
        writer.abort();
    }
}

/// How often file transfers are checked for expired offers, stalled recipients and credit held
/// back by a bandwidth limit.
const FILES_TICK: Duration = Duration::from_millis(100);

/// Run [`crate::relay::Registry::files_tick`] every [`FILES_TICK`] while the server runs.
async fn files_tick(shared: std::sync::Weak<Shared>) {
    let mut every = tokio::time::interval(FILES_TICK);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        shared.registry.files_tick();
    }
}

/// Start the history writer if history is on: ids continue after the largest stored one.
async fn start_history(shared: &Arc<Shared>) -> Option<tokio::task::JoinHandle<()>> {
    let settings = shared.settings.history.clone()?;
    let store = shared.store.clone();
    let max = match tokio::task::spawn_blocking(move || store.history_max_id()).await {
        Ok(Ok(max)) => max,
        Ok(Err(e)) => {
            warn!(error = %e, "cannot read the largest stored message id");
            0
        }
        Err(_) => 0,
    };
    let weak = Arc::downgrade(shared);
    let (sink, task) = crate::history::writer::spawn(shared.store.clone(), settings, move |acks| {
        if let Some(shared) = weak.upgrade() {
            shared.registry.notify_stored(acks);
        }
    });
    shared
        .registry
        .set_history(sink, crate::history::first_msg_id(max));
    Some(task)
}
