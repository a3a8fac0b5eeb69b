//! `Channel::open` (server side, no prefix and the login's 2-field prefix) on arbitrary messages
//! never panics. Three modes, chosen by the first byte, so the fuzzer also gets past the MAC:
//! - 0: the rest is a frame payload, opened as is (almost always a MAC failure);
//! - 1: same, but the target fixes up the MAC so sequence, IV, ciphertext and padding parsing
//!   are reached with attacker-chosen values;
//! - 2: the rest is an inner plaintext; it is sealed by a client channel and must open to exactly
//!   the fields that were sealed (and, sealed as a `0010` file chunk, to its fields and raw data).
#![no_main]

use std::sync::{Arc, LazyLock};

use common::crypto::{DesKey, SessionKey};
use common::error::{CryptoError, Error};
use common::protocol::RawMessage;
use common::protocol::chat::LOGIN_PREFIX_FIELDS;
use common::protocol::consts::label;
use common::protocol::message::b64;
use common::protocol::sealed::{self, Channel};
use libfuzzer_sys::fuzz_target;

const NONCE: [u8; 16] = *b"fuzz conn nonce!";
const MAC_KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

static KEY: LazyLock<Arc<SessionKey>> = LazyLock::new(|| {
    Arc::new(SessionKey {
        username: "user1".into(),
        key_id: "0123456789abcdef".into(),
        // FIPS 81 example key: odd parity, not weak.
        des: DesKey::from_hex("133457799bbcdff1").expect("valid DES key"),
        mac_key: SessionKey::parse_mac_key(MAC_KEY_HEX).expect("valid MAC key"),
        expires_at: time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(365 * 100),
    })
});

/// Open `m` on a fresh server channel; a success must be reported as a replay the second time.
fn open_twice(m: &RawMessage, prefix: usize) {
    let mut ch = Channel::server(KEY.clone(), &NONCE);
    if let Ok(o) = ch.open(m, prefix) {
        assert_eq!(o.inner.code, m.code);
        match ch.open(m, prefix) {
            Err(Error::Crypto(CryptoError::Replay { got, last })) => {
                assert_eq!((got, last), (o.seq, o.seq));
            }
            other => panic!("replayed frame was not refused: {other:?}"),
        }
    }
}

/// Replace the last field with the correct client-to-server MAC for the fields before it.
fn fix_mac(m: &mut RawMessage) {
    let Some(n) = m.fields.len().checked_sub(1) else {
        return;
    };
    let mut covered = m.code.clone();
    for f in &m.fields[..n] {
        covered.push('|');
        covered.push_str(f);
    }
    let tag = sealed::frame_tag(&KEY, label::CLIENT_TO_SERVER, &b64(NONCE), &covered);
    m.fields[n] = b64(tag);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 | 1 => {
            let Ok(mut m) = RawMessage::parse(rest) else {
                return;
            };
            if mode % 3 == 1 {
                fix_mac(&mut m);
            }
            open_twice(&m, 0);
            open_twice(&m, LOGIN_PREFIX_FIELDS);
        }
        _ => {
            // As a file chunk's plaintext (any bytes): it opens to what `from_plain` makes of
            // it, fields and raw data, or is refused exactly when `from_plain` refuses it.
            let mut client = Channel::client(KEY.clone(), &NONCE);
            let mut server = Channel::server(KEY.clone(), &NONCE);
            let sealed = client.seal_text("0010", &[], rest);
            let m = RawMessage::parse_str(&sealed).expect("sealed frames parse");
            let want = RawMessage::from_plain("0010", rest.to_vec());
            match server.open(&m, 0) {
                Ok(o) => assert_eq!(Ok(o.inner), want),
                Err(_) => assert!(want.is_err(), "honest chunk frame refused"),
            }
            let Ok(text) = std::str::from_utf8(rest) else {
                return;
            };
            let mut client = Channel::client(KEY.clone(), &NONCE);
            let mut server = Channel::server(KEY.clone(), &NONCE);
            for prefix in [&[][..], &["dXNlcjE=", "0123456789abcdef"][..]] {
                let sealed = client.seal_text("0002", prefix, text);
                let m = RawMessage::parse_str(&sealed).expect("sealed frames parse");
                let o = server
                    .open(&m, prefix.len())
                    .unwrap_or_else(|e| panic!("honest frame refused: {e}"));
                let want: Vec<String> = if text.is_empty() {
                    Vec::new()
                } else {
                    text.split('|').map(str::to_owned).collect()
                };
                assert_eq!(o.inner.fields, want);
                // The client's own direction must never verify at the client.
                let mut reflect = Channel::client(KEY.clone(), &NONCE);
                assert!(
                    reflect.open(&m, prefix.len()).is_err(),
                    "reflected frame accepted"
                );
            }
        }
    }
});
