//! Listening sockets for both servers.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};

/// Pending-connection queue length. Rust's default (128) drops SYNs when a classroom (or a load
/// test) connects hundreds of clients at once, costing each a one-second TCP retry.
pub const LISTEN_BACKLOG: u32 = 1024;

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
