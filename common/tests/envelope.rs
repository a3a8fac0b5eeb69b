//! The digital envelope (`common::crypto::envelope`) and the key-distribution messages
//! (`common::protocol::keydist`).

mod support;

use common::crypto::envelope::Envelope;
use common::crypto::{PrivateKey, SessionKey};
use common::error::{CryptoError, ProtocolError};
use common::protocol::RawMessage;
use common::protocol::consts::PROTOCOL_VERSION;
use common::protocol::keydist::{
    KeyConfirm, KeyDone, KeyEnvelope, KeyError, KeyHello, KeyRequest, Transcript, VerifiedEnvelope,
};
use common::protocol::material::{parse_material, seal_session};
use common::protocol::message::b64;
use support::{other_key, test_key};

fn session(user: &str) -> SessionKey {
    SessionKey::generate(user, time::Duration::hours(24))
}

/// Open as the client does once the signature verified ([`VerifiedEnvelope::open`] is these
/// two steps): unwrap k and decrypt, then check the material against the clear fields.
fn open_with(
    env: &Envelope,
    k: &PrivateKey,
    user: &str,
    key_id: &str,
    expires_at: &str,
) -> Result<SessionKey, CryptoError> {
    let (_, plain) = env.unseal(k)?;
    parse_material(&plain, user, key_id, expires_at)
}

fn open(env: &Envelope, k: &PrivateKey, s: &SessionKey) -> Result<SessionKey, CryptoError> {
    open_with(env, k, &s.username, &s.key_id, &s.expires_rfc3339())
}

/// Seal as server_key does.
fn seal(client: &PrivateKey, s: &SessionKey) -> Envelope {
    seal_session(&client.public_key(), s).unwrap().0
}

fn assert_same_material(a: &SessionKey, b: &SessionKey) {
    assert_eq!(a.username, b.username);
    assert_eq!(a.key_id, b.key_id);
    assert_eq!(a.des, b.des);
    assert_eq!(*a.mac_key, *b.mac_key);
    assert_eq!(a.expires_at, b.expires_at);
}

#[test]
fn seal_and_open() {
    let client = test_key();
    for user in ["user1", "张三", "a|b"] {
        let s = session(user);
        let env = seal(&client, &s);
        assert_eq!(env.wrapped_key.len(), 256);
        assert_same_material(&open(&env, &client, &s).unwrap(), &s);
    }
}

#[test]
fn each_seal_is_different() {
    let client = test_key();
    let s = session("user1");
    let a = seal(&client, &s);
    let b = seal(&client, &s);
    assert_ne!(a.iv, b.iv);
    assert_ne!(a.sealed, b.sealed);
    assert_ne!(a.wrapped_key, b.wrapped_key);
}

#[test]
fn wrong_recipient_or_clear_fields_fail() {
    let client = test_key();
    let s = session("user1");
    let env = seal(&client, &s);
    let exp = s.expires_rfc3339();
    assert_eq!(
        open(&env, &other_key(), &s).unwrap_err(),
        CryptoError::BadEnvelope
    );
    assert_eq!(
        open_with(&env, &client, "user2", &s.key_id, &exp).unwrap_err(),
        CryptoError::BadEnvelope
    );
    assert_eq!(
        open_with(&env, &client, "user1 ", &s.key_id, &exp).unwrap_err(),
        CryptoError::BadEnvelope
    );
    assert_eq!(
        open_with(&env, &client, "user1", "0000000000000000", &exp).unwrap_err(),
        CryptoError::BadEnvelope
    );
    let later = common::crypto::session::format_time(s.expires_at + time::Duration::seconds(1));
    assert_eq!(
        open_with(&env, &client, "user1", &s.key_id, &later).unwrap_err(),
        CryptoError::BadEnvelope
    );
    assert_eq!(
        open_with(&env, &client, "user1", &s.key_id, "").unwrap_err(),
        CryptoError::BadEnvelope
    );
    // Sanity check: the right values open it.
    assert!(open_with(&env, &client, "user1", &s.key_id, &exp).is_ok());
}

#[test]
fn any_flipped_byte_fails() {
    let client = test_key();
    let s = session("user1");
    let env = seal(&client, &s);
    for i in 0..env.iv.len() {
        let mut e = env.clone();
        e.iv[i] ^= 0x01;
        assert_eq!(
            open(&e, &client, &s).unwrap_err(),
            CryptoError::BadEnvelope,
            "iv byte {i}"
        );
    }
    for i in 0..env.sealed.len() {
        let mut e = env.clone();
        e.sealed[i] ^= 0x01;
        assert_eq!(
            open(&e, &client, &s).unwrap_err(),
            CryptoError::BadEnvelope,
            "sealed byte {i}"
        );
    }
    for i in 0..env.wrapped_key.len() {
        let mut e = env.clone();
        e.wrapped_key[i] ^= 0x01;
        assert_eq!(
            open(&e, &client, &s).unwrap_err(),
            CryptoError::BadEnvelope,
            "wrapped byte {i}"
        );
    }
    let mut e = env.clone();
    e.sealed.truncate(e.sealed.len() - 8);
    assert_eq!(
        open(&e, &client, &s).unwrap_err(),
        CryptoError::BadEnvelope,
        "truncated"
    );
    let mut e = env.clone();
    e.wrapped_key.pop();
    assert_eq!(
        open(&e, &client, &s).unwrap_err(),
        CryptoError::BadEnvelope,
        "short wrapped key"
    );
}

#[test]
fn envelope_from_another_session_fails_the_clear_field_check() {
    // The envelope cannot be swapped for one carrying another user's or another id's material.
    let client = test_key();
    let (s1, s2) = (session("user1"), session("user1"));
    let env2 = seal(&client, &s2);
    assert_eq!(
        open(&env2, &client, &s1).unwrap_err(),
        CryptoError::BadEnvelope
    );
}

/// "Verify, then open" is the type's rule: a `1101` opens only as a [`VerifiedEnvelope`], which
/// only a signature by the server's key over this transcript makes.
#[test]
fn only_a_verified_envelope_opens() {
    let (client, server) = (test_key(), other_key());
    let s = session("user1");
    let transcript = Transcript {
        username: "user1".into(),
        client_fingerprint: client.public_key().fingerprint(),
        server_fingerprint: server.public_key().fingerprint(),
        server_nonce: [1; 16],
        client_nonce: [2; 16],
    };
    let mut ke = KeyEnvelope {
        key_id: s.key_id.clone(),
        expires_at: s.expires_rfc3339(),
        issued_at: "2026-11-27T04:00:00Z".into(),
        envelope: seal(&client, &s),
        signature: Vec::new(),
    };
    ke.signature = server.sign(&transcript.envelope_bytes(&ke));
    let verified: VerifiedEnvelope = ke
        .clone()
        .verify(&server.public_key(), &transcript)
        .expect("signed by the server");
    let opened = verified.open(&client).expect("opens");
    assert_same_material(&opened.session, &s);
    assert_eq!(opened.material.split('|').nth(1), Some(s.key_id.as_str()));
    // Another key's signature, or a changed clear field, does not verify.
    assert!(
        ke.clone()
            .verify(&client.public_key(), &transcript)
            .is_err()
    );
    let mut changed = ke.clone();
    changed.issued_at = "2026-11-27T04:00:01Z".into();
    assert!(changed.verify(&server.public_key(), &transcript).is_err());
    // A server that signs clear fields the material does not hold: verified, but it won't open.
    let mut lying = ke;
    lying.key_id = "0000000000000000".into();
    lying.signature = server.sign(&transcript.envelope_bytes(&lying));
    let lying = lying.verify(&server.public_key(), &transcript).unwrap();
    assert_eq!(lying.open(&client).unwrap_err(), CryptoError::BadEnvelope);
}

fn reparse(text: &str) -> RawMessage {
    RawMessage::parse_str(text).unwrap()
}

fn sample_envelope() -> (SessionKey, KeyEnvelope) {
    let s = session("user1");
    let envelope = seal(&test_key(), &s);
    let ke = KeyEnvelope {
        key_id: s.key_id.clone(),
        expires_at: s.expires_rfc3339(),
        issued_at: "2026-11-27T04:00:00Z".into(),
        envelope,
        signature: vec![9; 256],
    };
    (s, ke)
}

#[test]
fn keydist_messages_round_trip() {
    let server = other_key();
    let hello = KeyHello {
        version: PROTOCOL_VERSION,
        server_pub: server.public_key().to_der(),
        server_nonce: [1; 16],
    };
    assert_eq!(
        KeyHello::from_message(&reparse(&hello.to_text())).unwrap(),
        hello
    );

    let req = KeyRequest {
        username: "用户|1".into(),
        client_pub: test_key().public_key().to_der(),
        client_nonce: [2; 16],
        signature: vec![3; 256],
    };
    assert_eq!(
        KeyRequest::from_message(&reparse(&req.to_text())).unwrap(),
        req
    );

    let (s, ke) = sample_envelope();
    let text = ke.to_text();
    assert!(
        text.starts_with(&format!("1101|{}|{}|", s.key_id, s.expires_rfc3339())),
        "{text}"
    );
    assert_eq!(KeyEnvelope::from_message(&reparse(&text)).unwrap(), ke);

    let confirm = KeyConfirm {
        key_id: s.key_id.clone(),
        mac: [4; 32],
    };
    assert_eq!(
        KeyConfirm::from_message(&reparse(&confirm.to_text())).unwrap(),
        confirm
    );

    let err = KeyError::new(
        common::protocol::Reason::BadSignature,
        "签名 | wrong\nnewline",
    );
    assert_eq!(
        KeyError::from_message(&reparse(&err.to_text())).unwrap(),
        err
    );

    let done = KeyDone {
        key_id: s.key_id.clone(),
        mac: [7u8; 32],
    };
    assert_eq!(
        done.to_text(),
        format!("1102|{}|{}", s.key_id, b64([7u8; 32]))
    );
    assert_eq!(
        KeyDone::from_message(&reparse(&done.to_text())).unwrap(),
        done
    );
}

#[test]
fn keydist_messages_refuse_bad_input() {
    let hello = KeyHello {
        version: PROTOCOL_VERSION + 1,
        server_pub: vec![1],
        server_nonce: [1; 16],
    };
    assert_eq!(
        KeyHello::from_message(&reparse(&hello.to_text())),
        Err(ProtocolError::Version(PROTOCOL_VERSION + 1))
    );
    assert!(
        KeyHello::from_message(&reparse(&format!("1100|1|AA==|{}", b64([0u8; 8])))).is_err(),
        "short nonce"
    );

    let (_, ke) = sample_envelope();
    let mut upper = ke.clone();
    upper.key_id = upper
        .key_id
        .to_uppercase()
        .replace(|c: char| c.is_ascii_digit(), "A");
    assert!(matches!(
        KeyEnvelope::from_message(&reparse(&upper.to_text())),
        Err(ProtocolError::BadField { index: 0, .. })
    ));
    let mut bad_time = ke.clone();
    bad_time.expires_at = "tomorrow".into();
    assert!(matches!(
        KeyEnvelope::from_message(&reparse(&bad_time.to_text())),
        Err(ProtocolError::BadField { index: 1, .. })
    ));
    assert!(matches!(
        KeyEnvelope::from_message(&reparse(&format!("{}|extra", ke.to_text()))),
        Err(ProtocolError::FieldCount { .. })
    ));

    assert!(
        KeyConfirm::from_message(&reparse(&format!(
            "0102|0123456789abcdef|{}",
            b64([0u8; 31])
        )))
        .is_err()
    );
    assert!(KeyDone::from_message(&reparse("1102|XYZ")).is_err());
    // The unauthenticated form of earlier versions (no MAC) is refused.
    assert!(KeyDone::from_message(&reparse("1102|0123456789abcdef")).is_err());
    assert!(matches!(
        KeyDone::from_message(&reparse("1109|x|eA==")),
        Err(ProtocolError::Unexpected { .. })
    ));
    assert!(matches!(
        KeyRequest::from_message(&reparse("1100|1|AA==|AA==")),
        Err(ProtocolError::Unexpected { .. })
    ));
}

fn transcript() -> Transcript {
    Transcript {
        username: "user1".into(),
        client_fingerprint: test_key().public_key().fingerprint(),
        server_fingerprint: other_key().public_key().fingerprint(),
        server_nonce: [5; 16],
        client_nonce: [6; 16],
    }
}

#[test]
fn transcript_binds_every_field() {
    let t = transcript();
    let base = t.request_bytes();
    assert!(base.starts_with(b"minichat-keyreq-v1|"));
    let changes: [fn(&mut Transcript); 5] = [
        |t| t.username = "user2".into(),
        |t| t.client_fingerprint.push('x'),
        |t| t.server_fingerprint.push('x'),
        |t| t.server_nonce[15] ^= 1,
        |t| t.client_nonce[0] ^= 1,
    ];
    for (i, change) in changes.iter().enumerate() {
        let mut t2 = t.clone();
        change(&mut t2);
        assert_ne!(t2.request_bytes(), base, "change {i}");
    }
    // Swapping the two nonces changes it too (positions are bound, not just values).
    let mut swapped = t.clone();
    std::mem::swap(&mut swapped.server_nonce, &mut swapped.client_nonce);
    assert_ne!(swapped.request_bytes(), base);
}

#[test]
fn envelope_transcript_binds_the_envelope_and_signs() {
    let t = transcript();
    let (_, ke) = sample_envelope();
    let bytes = t.envelope_bytes(&ke);
    assert!(bytes.starts_with(b"minichat-keyenv-v1|"));
    assert_ne!(bytes, t.request_bytes());
    let server = other_key();
    let sig = server.sign(&bytes);
    assert_eq!(server.public_key().verify(&bytes, &sig), Ok(()));
    // Any changed envelope field changes what the signature covers.
    let mut changed = ke.clone();
    changed.envelope.sealed[0] ^= 1;
    assert_eq!(
        server
            .public_key()
            .verify(&t.envelope_bytes(&changed), &sig),
        Err(CryptoError::BadSignature)
    );
    let mut changed = ke.clone();
    changed.expires_at = "2000-01-01T00:00:00Z".into();
    assert_ne!(t.envelope_bytes(&changed), bytes);
    let mut changed = ke.clone();
    changed.envelope.iv[7] ^= 1;
    assert_ne!(t.envelope_bytes(&changed), bytes);
    // The signature itself is not part of the signed bytes.
    let mut resigned = ke.clone();
    resigned.signature = sig.clone();
    assert_eq!(t.envelope_bytes(&resigned), bytes);
    // The confirmation covers the envelope transcript.
    let confirm = t.confirm_bytes(&ke);
    assert!(confirm.starts_with(b"minichat-keyconfirm-v1|"));
    assert_eq!(confirm.len(), "minichat-keyconfirm-v1|".len() + 64);
    assert_ne!(t.confirm_bytes(&changed), confirm);
}
