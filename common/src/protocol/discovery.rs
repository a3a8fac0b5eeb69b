//! Discovery datagrams (UDP, port 8092 by default): a client with `server_host = "auto"` asks
//! the local network where the teacher's servers are; server_key answers with its ports, its key
//! fingerprint and a name. PROTOCOL.md section 5.12 is the contract.
//!
//! Nothing here is trusted: an answer only says where to try. The key step still checks the
//! pinned `server_public.pem` and the envelope's signature, and the chat login only succeeds
//! with a server that holds this client's session key.

use crate::protocol::consts::discovery::{ANSWER, QUERY, VERSION};
use crate::protocol::consts::{
    DELIMITER, DISCOVERY_QUERY_LEN, MAX_DISCOVERY_ANSWER_LEN, MAX_SERVER_NAME_LEN, NONCE_LEN,
};

/// Why a datagram is not a discovery message of this version (it is then ignored).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatagramError {
    #[error("not a discovery datagram of version {VERSION}")]
    NotDiscovery,
    #[error("a query must be exactly {DISCOVERY_QUERY_LEN} bytes, got {0}")]
    QueryLength(usize),
    #[error("bad field {0}")]
    BadField(&'static str),
}

/// `MINICHAT-DISCOVER|1|<nonce>`, padded with zero bytes to [`DISCOVERY_QUERY_LEN`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Query {
    /// Random per query; the answer echoes it, so an answer to someone else's query (or an old
    /// one) is not taken.
    pub nonce: [u8; NONCE_LEN],
}

impl Query {
    /// The datagram.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!(
            "{QUERY}{DELIMITER}{VERSION}{DELIMITER}{}",
            hex::encode(self.nonce)
        )
        .into_bytes();
        out.resize(DISCOVERY_QUERY_LEN, 0);
        out
    }

    /// Parse a received datagram.
    ///
    /// # Errors
    /// [`DatagramError`]: the caller ignores the datagram.
    pub fn parse(datagram: &[u8]) -> Result<Self, DatagramError> {
        if datagram.len() != DISCOVERY_QUERY_LEN {
            return Err(DatagramError::QueryLength(datagram.len()));
        }
        let end = datagram
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(datagram.len());
        if datagram[end..].iter().any(|&b| b != 0) {
            return Err(DatagramError::BadField("padding"));
        }
        let text =
            std::str::from_utf8(&datagram[..end]).map_err(|_| DatagramError::NotDiscovery)?;
        let fields: Vec<&str> = text.split(DELIMITER).collect();
        let [tag, version, nonce] = fields[..] else {
            return Err(DatagramError::NotDiscovery);
        };
        if tag != QUERY || version != VERSION.to_string() {
            return Err(DatagramError::NotDiscovery);
        }
        Ok(Self {
            nonce: parse_nonce(nonce)?,
        })
    }
}

/// `MINICHAT-HERE|1|<nonce>|<key_port>|<chat_port>|<fingerprint>|<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The query's nonce.
    pub nonce: [u8; NONCE_LEN],
    /// server_key's TCP port.
    pub key_port: u16,
    /// The chat server's TCP port (from server_key.toml's `chat_port`).
    pub chat_port: u16,
    /// server_key's public key fingerprint (`SHA256:` + 43 base64 characters).
    pub fingerprint: String,
    /// A name for people (the teacher's computer): data, shown escaped, never trusted.
    pub name: String,
}

impl Answer {
    /// The datagram.
    pub fn to_bytes(&self) -> Vec<u8> {
        let d = DELIMITER;
        format!(
            "{ANSWER}{d}{VERSION}{d}{}{d}{}{d}{}{d}{}{d}{}",
            hex::encode(self.nonce),
            self.key_port,
            self.chat_port,
            self.fingerprint,
            self.name
        )
        .into_bytes()
    }

    /// Parse a received datagram.
    ///
    /// # Errors
    /// [`DatagramError`]: the caller ignores the datagram.
    pub fn parse(datagram: &[u8]) -> Result<Self, DatagramError> {
        if datagram.len() > MAX_DISCOVERY_ANSWER_LEN {
            return Err(DatagramError::BadField("length"));
        }
        let text = std::str::from_utf8(datagram).map_err(|_| DatagramError::NotDiscovery)?;
        let fields: Vec<&str> = text.split(DELIMITER).collect();
        let [tag, version, nonce, key_port, chat_port, fingerprint, name] = fields[..] else {
            return Err(DatagramError::NotDiscovery);
        };
        if tag != ANSWER || version != VERSION.to_string() {
            return Err(DatagramError::NotDiscovery);
        }
        let port = |s: &str, what| match s.parse::<u16>() {
            Ok(p) if p != 0 && p.to_string() == s => Ok(p),
            _ => Err(DatagramError::BadField(what)),
        };
        if !is_fingerprint(fingerprint) {
            return Err(DatagramError::BadField("fingerprint"));
        }
        if !is_name(name) {
            return Err(DatagramError::BadField("name"));
        }
        Ok(Self {
            nonce: parse_nonce(nonce)?,
            key_port: port(key_port, "key_port")?,
            chat_port: port(chat_port, "chat_port")?,
            fingerprint: fingerprint.to_owned(),
            name: name.to_owned(),
        })
    }
}

/// A name a server may announce: at most [`MAX_SERVER_NAME_LEN`] bytes, no `|`, no control or
/// layout characters.
pub fn is_name(name: &str) -> bool {
    name.len() <= MAX_SERVER_NAME_LEN
        && !name.contains(DELIMITER)
        && !name
            .chars()
            .any(|c| c.is_control() || crate::text::is_layout_control(c))
}

/// `name` made announceable: forbidden characters become `_`, cut to the byte limit on a
/// character boundary.
pub fn sanitize_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = if c == DELIMITER || c.is_control() || crate::text::is_layout_control(c) {
            '_'
        } else {
            c
        };
        if out.len() + c.len_utf8() > MAX_SERVER_NAME_LEN {
            break;
        }
        out.push(c);
    }
    out
}

/// The fingerprint format of [`crate::crypto::rsa_keys::fingerprint`].
fn is_fingerprint(s: &str) -> bool {
    s.strip_prefix("SHA256:").is_some_and(|b| {
        b.len() == 43
            && b.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
    })
}

fn parse_nonce(s: &str) -> Result<[u8; NONCE_LEN], DatagramError> {
    let mut out = [0u8; NONCE_LEN];
    if s.len() != 2 * NONCE_LEN || s.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(DatagramError::BadField("nonce"));
    }
    hex::decode_to_slice(s, &mut out).map_err(|_| DatagramError::BadField("nonce"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer() -> Answer {
        Answer {
            nonce: [7; NONCE_LEN],
            key_port: 8091,
            chat_port: 8090,
            fingerprint: format!("SHA256:{}", "A".repeat(43)),
            name: "老师的电脑 teacher-pc".into(),
        }
    }

    #[test]
    fn query_round_trip_and_exact_length() {
        let q = Query {
            nonce: [0xab; NONCE_LEN],
        };
        let b = q.to_bytes();
        assert_eq!(b.len(), DISCOVERY_QUERY_LEN);
        assert!(b.starts_with(b"MINICHAT-DISCOVER|1|abab"));
        assert_eq!(Query::parse(&b), Ok(q));
        assert_eq!(
            Query::parse(&b[..100]),
            Err(DatagramError::QueryLength(100))
        );
        let mut other = b.clone();
        other[18] = b'2';
        assert_eq!(Query::parse(&other), Err(DatagramError::NotDiscovery));
        let mut junk = b;
        junk[255] = 1;
        assert!(Query::parse(&junk).is_err());
    }

    #[test]
    fn answer_round_trip_and_refusals() {
        let a = answer();
        let b = a.to_bytes();
        assert!(b.len() <= MAX_DISCOVERY_ANSWER_LEN);
        assert_eq!(Answer::parse(&b), Ok(a.clone()));
        let text = String::from_utf8(b).unwrap();
        for bad in [
            text.replace("|8091|", "|0|"),
            text.replace("|8091|", "|08091|"),
            text.replace("|8090|", "|70000|"),
            text.replace("SHA256:", "MD5:"),
            text.replace("teacher-pc", "a|b"),
            text.replace("teacher-pc", "\u{1b}[2J"),
            text.replace("HERE|1|", "HERE|2|"),
            text.replace("0707", "0G07"),
        ] {
            assert!(Answer::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_sanitized_to_fit() {
        assert_eq!(sanitize_name("a|b\nc"), "a_b_c");
        let long = "老".repeat(40);
        let s = sanitize_name(&long);
        assert!(s.len() <= MAX_SERVER_NAME_LEN && is_name(&s));
        assert_eq!(s.chars().count(), MAX_SERVER_NAME_LEN / 3);
    }
}
