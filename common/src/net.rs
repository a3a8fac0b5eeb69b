//! TCP plumbing both servers and the clients share: the listening socket, the accept loop and
//! connecting with a deadline. One copy each, so the two servers cannot drift apart.
//!
//! The accept loop follows mini-redis's listener: a semaphore bounds the live connections, each
//! connection runs in its own task with its errors kept inside it, a connection over the limit
//! gets one refusal frame (written with a deadline, so a peer that never reads costs nothing),
//! and at shutdown the caller can wait for the connections still running.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tracing::warn;

use crate::connection::FrameWriter;

/// Pending-connection queue length. Rust's default (128) drops SYNs when a classroom (or a load
/// test) connects hundreds of clients at once, costing each a one-second TCP retry.
pub const LISTEN_BACKLOG: u32 = 1024;

/// How long the refusal frame to a connection over the limit may take to write: a peer that does
/// not read must not keep a task (and its socket) alive.
pub const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long an accept error (out of file descriptors and the like) pauses the loop, instead of
/// spinning on the same error.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Bind `addr` (`host:port`, first resolved address) and listen with [`LISTEN_BACKLOG`].
///
/// # Errors
/// Resolution, bind (address in use) and listen errors.
pub async fn listen(addr: &str) -> std::io::Result<TcpListener> {
    let resolved: SocketAddr = tokio::net::lookup_host(addr).await?.next().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{addr} resolves to nothing"),
        )
    })?;
    let socket = if resolved.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(resolved)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Connect to `addr` (`host:port`) within `timeout`, with Nagle off (frames are small and
/// interactive).
///
/// # Errors
/// The connect error, or [`std::io::ErrorKind::TimedOut`] ("connection timed out").
pub async fn connect(addr: &str, timeout: Duration) -> std::io::Result<TcpStream> {
    connect_from(addr, None, timeout).await
}

/// [`connect`] from the local address `source` (load and attack tools pose as other PCs with
/// 127.0.0.x); `None` lets the system choose.
///
/// # Errors
/// As [`connect`].
pub async fn connect_from(
    addr: &str,
    source: Option<std::net::IpAddr>,
    timeout: Duration,
) -> std::io::Result<TcpStream> {
    let attempt = async {
        let Some(src) = source else {
            return TcpStream::connect(addr).await;
        };
        let target = tokio::net::lookup_host(addr)
            .await?
            .find(|a| a.is_ipv4() == src.is_ipv4())
            .ok_or_else(|| std::io::Error::other(format!("{addr}: no address of {src}'s kind")))?;
        let socket = if src.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.bind(std::net::SocketAddr::new(src, 0))?;
        socket.connect(target).await
    };
    let stream = tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connection timed out"))??;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// What [`serve`] needs besides the listener and the handler.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Connections handled at once; one more gets [`Self::refusal`] and is closed.
    pub max_connections: usize,
    /// The frame payload sent to a connection over the limit (the server's "full"/"busy" error).
    pub refusal: Vec<u8>,
}

/// The connections still running after [`serve`] returned.
#[derive(Debug)]
pub struct InFlight {
    limit: Arc<Semaphore>,
    max: usize,
}

impl InFlight {
    /// Wait until every connection task has finished, or `at_most` has passed. Returns `true`
    /// when all finished.
    pub async fn wait(self, at_most: Duration) -> bool {
        // Every task holds one permit; when all permits are back, every connection is closed.
        let all = u32::try_from(self.max).unwrap_or(u32::MAX);
        tokio::time::timeout(at_most, self.limit.acquire_many(all))
            .await
            .is_ok()
    }
}

/// Accept connections on `listener` until `shutdown` completes, running `handle(stream, peer)`
/// in its own task for each (Nagle off). Over [`ServeOptions::max_connections`], a connection
/// gets [`ServeOptions::refusal`] (written within [`REFUSAL_WRITE_TIMEOUT`]) and is closed.
/// Returns the connections still running, for the caller to tell them and wait for them.
pub async fn serve<H, F>(
    listener: TcpListener,
    opts: ServeOptions,
    shutdown: impl Future,
    handle: H,
) -> InFlight
where
    H: Fn(TcpStream, SocketAddr) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let limit = Arc::new(Semaphore::new(opts.max_connections));
    let refusal: Arc<[u8]> = opts.refusal.into();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    match limit.clone().try_acquire_owned() {
                        Ok(permit) => {
                            let task = handle(stream, peer);
                            tokio::spawn(async move {
                                task.await;
                                drop(permit);
                            });
                        }
                        Err(_) => {
                            warn!(%peer, "connection limit reached; refusing");
                            tokio::spawn(refuse(stream, refusal.clone()));
                        }
                    }
                }
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            }
        }
    }
    InFlight {
        limit,
        max: opts.max_connections,
    }
}

/// Send the refusal frame (within [`REFUSAL_WRITE_TIMEOUT`]) and close.
async fn refuse(stream: TcpStream, refusal: Arc<[u8]>) {
    let (_, w) = stream.into_split();
    let mut w = FrameWriter::new(w);
    let _ = tokio::time::timeout(REFUSAL_WRITE_TIMEOUT, w.write_frame(&refusal)).await;
    let _ = tokio::time::timeout(REFUSAL_WRITE_TIMEOUT, w.shutdown()).await;
}

/// A UDP socket bound to `addr` with broadcast allowed and `SO_REUSEADDR` set, so several
/// responders on one computer (two server_key instances, or a test's rogue) each receive a
/// broadcast query.
///
/// # Errors
/// The socket could not be made or bound.
pub fn bind_udp_shared(addr: SocketAddr) -> std::io::Result<tokio::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_broadcast(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    tokio::net::UdpSocket::from_std(socket.into())
}
