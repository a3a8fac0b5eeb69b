//! `KeyEnvelope::from_message`, then `Envelope::unseal` with a fixed client private key and
//! `parse_material` against the clear fields (what `VerifiedEnvelope::open` does once the
//! signature verified; the fuzzer cannot forge signatures, so it checks the parts) never panics. The first byte picks a mode, so the fuzzer also reaches the material parser:
//! - 0: the rest is a `1101|...` frame payload, opened as is (the OAEP unwrap almost always fails);
//! - 1: the rest is the envelope's inner plaintext (`username_b64|key_id|expires_at|des|mac`),
//!   sealed under a fixed one-time key that is properly wrapped for the client, then opened with
//!   the clear fields the plaintext itself claims; a success must re-seal and re-open equal.
#![no_main]

use std::sync::LazyLock;

use base64::Engine as _;
use common::crypto::envelope::Envelope;
use common::crypto::{DesKey, PrivateKey, cbc};
use common::protocol::RawMessage;
use common::protocol::keydist::KeyEnvelope;
use common::protocol::material::{parse_material, seal_session};
use libfuzzer_sys::fuzz_target;

/// A 1024-bit test key: the smallest `from_pem` loads, and eight times faster to unwrap with than
/// the 2048-bit fixtures in common/tests/fixtures (see fuzz/fixtures/README.md).
static CLIENT: LazyLock<PrivateKey> = LazyLock::new(|| {
    PrivateKey::from_pem(include_str!("../fixtures/test_rsa_1024_private.pem"))
        .expect("fixture key loads")
});

/// A one-time DES key and its OAEP wrapping for [`CLIENT`] (OAEP is randomized: wrap once).
static ONE_TIME: LazyLock<(DesKey, Vec<u8>)> = LazyLock::new(|| {
    let k = DesKey::from_hex("133457799bbcdff1").expect("valid DES key");
    let wrapped = CLIENT
        .public_key()
        .oaep_encrypt(k.as_bytes())
        .expect("wrap 8 bytes");
    (k, wrapped)
});

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let Ok(m) = RawMessage::parse(rest) else {
            return;
        };
        let Ok(env) = KeyEnvelope::from_message(&m) else {
            return;
        };
        if let Ok((_, plain)) = env.envelope.unseal(&CLIENT)
            && let Ok(key) = parse_material(&plain, "user1", &env.key_id, &env.expires_at)
        {
            let _ = format!("{key:?}");
        }
        return;
    }

    // Mode 1: attacker-chosen material inside a correctly wrapped envelope.
    let (one_time, wrapped) = &*ONE_TIME;
    let iv = [7u8; 8];
    let env = Envelope {
        iv,
        sealed: cbc::encrypt_with_iv(one_time, &iv, rest),
        wrapped_key: wrapped.clone(),
    };
    let text = String::from_utf8_lossy(rest);
    let fields: Vec<&str> = text.split('|').collect();
    let user = fields
        .first()
        .and_then(|f| base64::engine::general_purpose::STANDARD.decode(f).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default();
    let key_id = fields.get(1).copied().unwrap_or_default();
    let expires = fields.get(2).copied().unwrap_or_default();
    let Ok((_, plain)) = env.unseal(&CLIENT) else {
        return;
    };
    let Ok(key) = parse_material(&plain, &user, key_id, expires) else {
        return;
    };
    // Everything a caller does with an opened key must work: show it, re-seal it, store it.
    let _ = format!("{key:?}");
    let (again, _) = seal_session(&CLIENT.public_key(), &key).expect("seal");
    let (_, plain) = again.unseal(&CLIENT).expect("re-sealed envelope unseals");
    let back = parse_material(&plain, &key.username, &key.key_id, &key.expires_rfc3339())
        .unwrap_or_else(|e| panic!("re-sealed envelope does not open: {e}"));
    assert_eq!(back.username, key.username);
    assert_eq!(back.key_id, key.key_id);
    assert_eq!(back.des, key.des);
    assert_eq!(*back.mac_key, *key.mac_key);
    assert_eq!(back.expires_at, key.expires_at);
});
