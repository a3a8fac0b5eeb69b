//! `server_host = "auto"`: find the teacher's servers on the local network before the key step
//! and before login (PROTOCOL.md 5.12).
//!
//! The client broadcasts a query with a fresh nonce to the discovery port (on every network it
//! is on, [`default_targets`]), collects the answers
//! that echo it for [`DISCOVERY_WAIT_MS`], and retries up to [`DISCOVERY_ATTEMPTS`] times. The
//! host is the answer's source address; the ports come from the answer. An answer proves
//! nothing: when the folder pins a server key, only answers announcing that key's fingerprint
//! count (the others are reported and ignored), and the key step still checks the key the
//! server presents, so a rogue answer can get neither a key nor a password. A `server_host` set
//! by hand is used as it is, and no datagram is sent.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::time::Instant;

use crate::client::folder::ClientFolder;
use crate::crypto::{PublicKey, random};
use crate::error::KeyFileError;
use crate::protocol::consts::{
    DISCOVERY_ATTEMPTS, DISCOVERY_WAIT_MS, MAX_DISCOVERY_ANSWER_LEN, NONCE_LEN,
};
use crate::protocol::discovery::{Answer, Query};

/// One server that answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Where the answer came from: the host to connect to.
    pub ip: IpAddr,
    pub key_port: u16,
    pub chat_port: u16,
    pub fingerprint: String,
    /// As announced (data: shown escaped).
    pub name: String,
}

impl Found {
    fn from_answer(ip: IpAddr, a: Answer) -> Self {
        Self {
            ip,
            key_port: a.key_port,
            chat_port: a.chat_port,
            fingerprint: a.fingerprint,
            name: a.name,
        }
    }
}

/// What discovery found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    /// The server used.
    pub server: Found,
    /// Answers announcing another key than the pinned one: ignored, shown as a warning.
    pub wrong_key: Vec<Found>,
}

/// Why discovery found no server to use.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// No usable answer after every attempt; `wrong_key` lists answers with another key.
    #[error(
        "no mini-chat server answered on UDP port {port} (server_host = \"auto\"); is server_key running, \
         is UDP port {port} open in its firewall, or set server_host in client.toml{}",
        if wrong_key.is_empty() { String::new() } else {
            format!("; {} answer(s) with another key than the pinned one were ignored", wrong_key.len())
        }
    )]
    NoAnswer { port: u16, wrong_key: Vec<Found> },
    /// Several servers with different keys answered and nothing is pinned yet.
    #[error("{} different servers answered; set server_host in client.toml to the teacher's", servers.len())]
    Several { servers: Vec<Found> },
    /// The query could not be sent at all.
    #[error("cannot send the discovery query on UDP port {port}: {source}")]
    Socket { port: u16, source: std::io::Error },
}

/// A folder with a concrete host and ports, and what discovery found (`None`: set by hand).
#[derive(Debug, Clone)]
pub struct Resolved {
    pub folder: ClientFolder,
    pub discovered: Option<Discovered>,
}

/// Where the query goes: the limited broadcast address, the loopback network's broadcast
/// address (a server on this same computer) and the broadcast address of every IPv4 network
/// this computer is on. 255.255.255.255 alone leaves by the default route's interface only; a
/// PC with Wi-Fi and Ethernet, or a virtual machine's adapter, would miss the classroom's.
pub fn default_targets(port: u16) -> Vec<SocketAddr> {
    let mut ips = vec![Ipv4Addr::BROADCAST, Ipv4Addr::new(127, 255, 255, 255)];
    for iface in if_addrs::get_if_addrs().unwrap_or_default() {
        if let if_addrs::IfAddr::V4(v4) = iface.addr
            && let Some(b) = v4.broadcast
            && !v4.ip.is_loopback()
            && !ips.contains(&b)
        {
            ips.push(b);
        }
    }
    ips.into_iter()
        .map(|ip| SocketAddr::from((ip, port)))
        .collect()
}

/// The fingerprint of the pinned `server_public.pem`, if the folder has one.
///
/// # Errors
/// The file exists but cannot be read as a key.
pub fn pinned_fingerprint(folder: &ClientFolder) -> Result<Option<String>, crate::Error> {
    match PublicKey::load(&folder.server_key_path()) {
        Ok(k) => Ok(Some(k.fingerprint())),
        Err(KeyFileError::Missing { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// `folder` with a concrete server: as it is when `server_host` is set by hand, else the server
/// discovery finds, counting only answers with fingerprint `pin` when given.
///
/// # Errors
/// [`DiscoveryError`].
pub async fn resolve(folder: &ClientFolder, pin: Option<&str>) -> Result<Resolved, DiscoveryError> {
    if !folder.config.auto_host() {
        return Ok(Resolved {
            folder: folder.clone(),
            discovered: None,
        });
    }
    let port = folder.config.discovery_port;
    let found = discover(&default_targets(port), pin).await?;
    let mut concrete = folder.clone();
    concrete.config.server_host = found.server.ip.to_string();
    concrete.config.key_port = found.server.key_port;
    concrete.config.chat_port = found.server.chat_port;
    Ok(Resolved {
        folder: concrete,
        discovered: Some(found),
    })
}

/// Ask `targets` (all on one port) and choose among the answers (see the module text).
///
/// # Errors
/// [`DiscoveryError`].
pub async fn discover(
    targets: &[SocketAddr],
    pin: Option<&str>,
) -> Result<Discovered, DiscoveryError> {
    let port = targets.first().map_or(0, SocketAddr::port);
    let socket_err = |source| DiscoveryError::Socket { port, source };
    let socket = crate::net::bind_udp_shared(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)))
        .map_err(socket_err)?;
    let mut nonces: Vec<[u8; NONCE_LEN]> = Vec::new();
    let mut answers: Vec<Found> = Vec::new();
    for _ in 0..DISCOVERY_ATTEMPTS {
        let query = Query {
            nonce: random::bytes::<NONCE_LEN>(),
        };
        nonces.push(query.nonce);
        send_query(&socket, targets, &query)
            .await
            .map_err(socket_err)?;
        collect(&socket, &nonces, &mut answers).await;
        if let Some(result) = choose(&answers, pin) {
            return result;
        }
    }
    Err(DiscoveryError::NoAnswer {
        port,
        wrong_key: wrong_key(&answers, pin),
    })
}

/// Send `query` to every target; an error only when no target could be sent to (a PC without
/// a network still reaches its own loopback).
async fn send_query(
    socket: &tokio::net::UdpSocket,
    targets: &[SocketAddr],
    query: &Query,
) -> std::io::Result<()> {
    let bytes = query.to_bytes();
    let mut last_err = None;
    let mut sent = false;
    for t in targets {
        match socket.send_to(&bytes, t).await {
            Ok(_) => sent = true,
            Err(e) => last_err = Some(e),
        }
    }
    match (sent, last_err) {
        (false, Some(e)) => Err(e),
        _ => Ok(()),
    }
}

/// Collect answers echoing one of `nonces` for [`DISCOVERY_WAIT_MS`]; anything else is ignored.
/// The same server (address and key) answering twice (two targets, or a late answer) counts once.
async fn collect(socket: &tokio::net::UdpSocket, nonces: &[[u8; NONCE_LEN]], out: &mut Vec<Found>) {
    let deadline = Instant::now() + Duration::from_millis(DISCOVERY_WAIT_MS);
    let mut buf = [0u8; MAX_DISCOVERY_ANSWER_LEN + 1];
    while let Ok(received) = tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await {
        // A receive error (Windows reports an ICMP "port unreachable" for an earlier send as
        // one) ends nothing: keep listening until the deadline.
        let Ok((n, from)) = received else {
            continue;
        };
        let Ok(answer) = Answer::parse(&buf[..n]) else {
            continue;
        };
        if !nonces.contains(&answer.nonce) {
            continue;
        }
        let found = Found::from_answer(from.ip(), answer);
        if !out
            .iter()
            .any(|f| f.ip == found.ip && f.fingerprint == found.fingerprint)
        {
            out.push(found);
        }
    }
}

/// The answers announcing another key than `pin`, one per key (a responder answering from
/// several addresses is one warning).
fn wrong_key(answers: &[Found], pin: Option<&str>) -> Vec<Found> {
    let Some(pin) = pin else {
        return Vec::new();
    };
    let mut out: Vec<Found> = Vec::new();
    for f in answers.iter().filter(|f| f.fingerprint != pin) {
        if !out.iter().any(|o| o.fingerprint == f.fingerprint) {
            out.push(f.clone());
        }
    }
    out
}

/// The rule: with a pin, an answer with the pinned fingerprint (others are reported); without
/// one, the only key that answered, and an error when answers carry different keys. Several
/// addresses with the one key are one server: a loopback address, else the first answer. `None`: nothing usable
/// yet, ask again.
fn choose(answers: &[Found], pin: Option<&str>) -> Option<Result<Discovered, DiscoveryError>> {
    let usable: Vec<&Found> = answers
        .iter()
        .filter(|f| pin.is_none_or(|p| f.fingerprint == p))
        .collect();
    let first = (*usable.first()?).clone();
    if usable.iter().any(|f| f.fingerprint != first.fingerprint) {
        let mut servers: Vec<Found> = Vec::new();
        for f in usable {
            if !servers.iter().any(|s| s.fingerprint == f.fingerprint) {
                servers.push(f.clone());
            }
        }
        return Some(Err(DiscoveryError::Several { servers }));
    }
    // One server answering from several addresses (its loopback and its LAN address when it
    // runs on this PC): loopback, which needs no network, else the first answer.
    let server = usable
        .iter()
        .find(|f| f.ip.is_loopback())
        .map_or(first, |f| (*f).clone());
    Some(Ok(Discovered {
        server,
        wrong_key: wrong_key(answers, pin),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(ip: [u8; 4], fp: char) -> Found {
        Found {
            ip: IpAddr::from(ip),
            key_port: 8091,
            chat_port: 8090,
            fingerprint: format!("SHA256:{}", fp.to_string().repeat(43)),
            name: "pc".into(),
        }
    }

    #[test]
    fn an_auto_folder_is_labelled_with_the_udp_port_until_resolved() {
        let folder = |host: &str| {
            ClientFolder::new(
                crate::config::ClientConfig {
                    server_host: host.into(),
                    discovery_port: 9092,
                    ..Default::default()
                },
                std::path::PathBuf::from("."),
                "client_test",
            )
        };
        assert_eq!(folder("AUTO").server_label(), "auto (UDP 9092)");
        assert_eq!(folder("10.0.0.5").server_label(), "10.0.0.5:8090");
    }

    #[test]
    fn the_pin_decides_and_others_are_reported() {
        let (a, b) = (found([10, 0, 0, 2], 'A'), found([10, 0, 0, 9], 'B'));
        let pin = a.fingerprint.clone();
        let b2 = Found {
            ip: IpAddr::from([127, 0, 0, 1]),
            ..b.clone()
        };
        let d = choose(&[b.clone(), a.clone(), b2], Some(&pin))
            .unwrap()
            .unwrap();
        assert_eq!(d.server, a);
        assert_eq!(d.wrong_key, vec![b.clone()], "one warning per key");
        assert!(
            choose(&[b], Some(&pin)).is_none(),
            "only a wrong key: ask again"
        );
    }

    #[test]
    fn without_a_pin_one_key_is_taken_and_two_keys_are_listed() {
        let (a, a2, b) = (
            found([127, 0, 0, 1], 'A'),
            found([10, 0, 0, 2], 'A'),
            found([10, 0, 0, 9], 'B'),
        );
        let d = choose(&[a2.clone(), a.clone()], None).unwrap().unwrap();
        assert_eq!(d.server, a, "this PC's own loopback answer is preferred");
        match choose(&[a.clone(), a2, b.clone()], None) {
            Some(Err(DiscoveryError::Several { servers })) => assert_eq!(servers, vec![a, b]),
            other => panic!("{other:?}"),
        }
        assert!(choose(&[], None).is_none());
    }
}
