//! The discovery responder (PROTOCOL.md 5.12): answers a client's `server_host = "auto"` query
//! on UDP with the key port, the chat port, this server's key fingerprint and a name.
//!
//! The answer gives nothing away that the key hello does not (the fingerprint is public), is
//! never longer than the query (a forged source address gains no amplification), and each
//! source address gets at most [`DISCOVERY_ANSWERS_PER_SECOND`] answers a second.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use common::protocol::consts::{DISCOVERY_ANSWERS_PER_SECOND, DISCOVERY_QUERY_LEN};
use common::protocol::discovery::{Answer, Query, sanitize_name};
use tokio::net::UdpSocket;
use tokio::time::Instant;
use tracing::{debug, warn};

/// What this server announces.
#[derive(Debug, Clone)]
pub struct Announce {
    pub key_port: u16,
    pub chat_port: u16,
    pub fingerprint: String,
    /// Made announceable by [`sanitize_name`] when the responder starts.
    pub name: String,
}

/// Bind the discovery socket on all addresses at `port` (0: any free port, for tests).
///
/// # Errors
/// The port is taken without `SO_REUSEADDR` by another program, or not permitted.
pub fn bind(port: u16) -> std::io::Result<UdpSocket> {
    common::net::bind_udp_shared(SocketAddr::from(([0, 0, 0, 0], port)))
}

/// This computer's name, for the announcement when server_key.toml sets no `server_name`.
pub fn computer_name() -> String {
    let from_env = ["COMPUTERNAME", "HOSTNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok());
    let from_file = || std::fs::read_to_string("/proc/sys/kernel/hostname").ok();
    from_env
        .or_else(from_file)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "mini-chat".to_owned())
}

/// Answer queries on `socket` until `shutdown` completes.
pub async fn respond(socket: UdpSocket, announce: Announce, shutdown: impl Future) {
    let announce = Announce {
        name: sanitize_name(&announce.name),
        ..announce
    };
    let mut budget = Budget::default();
    let mut buf = [0u8; DISCOVERY_QUERY_LEN + 1];
    tokio::pin!(shutdown);
    loop {
        let (n, from) = tokio::select! {
            _ = &mut shutdown => return,
            r = socket.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => {
                    // ICMP errors from an earlier answer surface here on some systems.
                    debug!(error = %e, "discovery receive error");
                    continue;
                }
            },
        };
        let Ok(query) = Query::parse(&buf[..n]) else {
            continue;
        };
        if !budget.allow(from.ip(), Instant::now()) {
            continue;
        }
        let answer = Answer {
            nonce: query.nonce,
            key_port: announce.key_port,
            chat_port: announce.chat_port,
            fingerprint: announce.fingerprint.clone(),
            name: announce.name.clone(),
        };
        if let Err(e) = socket.send_to(&answer.to_bytes(), from).await {
            warn!(peer = %from, error = %e, "cannot send a discovery answer");
        } else {
            debug!(peer = %from, "answered a discovery query");
        }
    }
}

/// Answers per source address in the current one-second window.
#[derive(Default)]
struct Budget {
    window: Option<Instant>,
    counts: HashMap<IpAddr, u32>,
}

impl Budget {
    fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        if self
            .window
            .is_none_or(|w| now.duration_since(w) >= Duration::from_secs(1))
        {
            self.window = Some(now);
            self.counts.clear();
        }
        let n = self.counts.entry(ip).or_insert(0);
        *n += 1;
        *n <= DISCOVERY_ANSWERS_PER_SECOND
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_gets_a_bounded_number_of_answers_per_second() {
        let mut b = Budget::default();
        let t0 = Instant::now();
        let (a, c) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        for _ in 0..DISCOVERY_ANSWERS_PER_SECOND {
            assert!(b.allow(a, t0));
        }
        assert!(!b.allow(a, t0));
        assert!(b.allow(c, t0), "another address has its own budget");
        assert!(b.allow(a, t0 + Duration::from_secs(1)), "a new second");
    }
}
