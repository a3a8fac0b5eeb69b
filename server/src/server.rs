//! The listener: accepts connections up to a limit and runs one [`crate::handler`] task each.
//! Errors stay inside their connection; the listener only logs them.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::connection::FrameWriter;
use common::protocol::Reason;
use common::protocol::chat::ErrorMsg;
use common::protocol::consts::{
    CLIENT_QUEUE_LEN, HANDSHAKE_TIMEOUT_SECS, IDLE_TIMEOUT_SECS, MAX_CLIENTS,
};
use common::trace::Trace;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, broadcast};
use tracing::{info, warn};

use crate::db::UserStore;
use crate::relay::Registry;

/// Settings of a running chat server.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Folder holding server_key's `<username>.txt` session keys.
    pub session_key_dir: PathBuf,
    pub max_connections: usize,
    pub queue_len: usize,
    pub handshake_timeout: Duration,
    pub idle_timeout: Duration,
    pub trace: Trace,
}

impl Settings {
    pub fn new(session_key_dir: PathBuf) -> Self {
        Self {
            session_key_dir,
            max_connections: MAX_CLIENTS,
            queue_len: CLIENT_QUEUE_LEN,
            handshake_timeout: Duration::from_secs(HANDSHAKE_TIMEOUT_SECS),
            idle_timeout: Duration::from_secs(IDLE_TIMEOUT_SECS),
            trace: Trace::default(),
        }
    }
}

/// State shared by all connections.
pub struct Shared {
    pub settings: Settings,
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
    let limit = Arc::new(Semaphore::new(settings.max_connections));
    let shared = Arc::new(Shared {
        registry: Registry::new(settings.queue_len),
        settings,
        store,
        shutdown: shutdown_tx,
        next_conn: AtomicU64::new(1),
    });
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    match limit.clone().try_acquire_owned() {
                        Ok(permit) => {
                            let shared = shared.clone();
                            tokio::spawn(async move {
                                crate::handler::handle(stream, peer, shared).await;
                                drop(permit);
                            });
                        }
                        Err(_) => {
                            warn!(%peer, "connection limit reached; refusing");
                            tokio::spawn(async move {
                                let (_, w) = stream.into_split();
                                let mut w = FrameWriter::new(w);
                                let full = ErrorMsg::new(Reason::ServerFull, "the chat server is full; try again later");
                                let _ = tokio::time::timeout(Duration::from_secs(2), w.write_frame(full.to_text().as_bytes())).await;
                                w.shutdown().await;
                            });
                        }
                    }
                }
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
    info!(
        online = shared.registry.len(),
        "shutting down: telling connected clients"
    );
    let _ = shared.shutdown.send(());
    shared.registry.kick_all(&ErrorMsg::new(
        Reason::Shutdown,
        "the chat server is shutting down; reconnect when it is back",
    ));
    // Every handler holds a permit; when all permits are back, every connection is closed.
    let all = u32::try_from(shared.settings.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(Duration::from_secs(5), limit.acquire_many(all)).await;
}
