//! PBKDF2-HMAC-SHA-256 (RFC 7914 §11 vectors) and the password hash strings of
//! `common::crypto::password`.

mod support;

use base64::Engine as _;
use common::crypto::password::{hash_password, hash_password_with, is_hash, verify_password};
use common::error::CryptoError;
use support::unhex;

const RFC7914_1: &str = "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc\
                         49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783";
const RFC7914_2: &str = "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56\
                         a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d";

#[test]
fn pbkdf2_hmac_sha256_rfc7914_vectors() {
    let mut out = [0u8; 64];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(b"passwd", b"salt", 1, &mut out);
    assert_eq!(out.to_vec(), unhex(RFC7914_1));
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(b"Password", b"NaCl", 80_000, &mut out);
    assert_eq!(out.to_vec(), unhex(RFC7914_2));
}

fn nopad(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(b)
}

#[test]
fn verify_password_agrees_with_the_rfc_vectors() {
    // A 32-byte PBKDF2-SHA-256 output is the first block of the 64-byte RFC output.
    let stored = format!(
        "pbkdf2-sha256$1${}${}",
        nopad(b"salt"),
        nopad(&unhex(RFC7914_1)[..32])
    );
    assert_eq!(verify_password("passwd", &stored), Ok(true));
    assert_eq!(verify_password("passwd ", &stored), Ok(false));
    let stored = format!(
        "pbkdf2-sha256$80000${}${}",
        nopad(b"NaCl"),
        nopad(&unhex(RFC7914_2)[..32])
    );
    assert_eq!(verify_password("Password", &stored), Ok(true));
    assert_eq!(verify_password("password", &stored), Ok(false));
}

#[test]
fn hash_and_verify_round_trip() {
    let h = hash_password_with("秘密 password|1", 1000);
    let parts: Vec<&str> = h.split('$').collect();
    assert_eq!(parts.len(), 4, "{h}");
    assert_eq!(parts[0], "pbkdf2-sha256");
    assert_eq!(parts[1], "1000");
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    assert_eq!(b64.decode(parts[2]).unwrap().len(), 16, "16-byte salt");
    assert_eq!(b64.decode(parts[3]).unwrap().len(), 32, "32-byte hash");
    assert_eq!(verify_password("秘密 password|1", &h), Ok(true));
    assert_eq!(verify_password("秘密 password|2", &h), Ok(false));
    assert_eq!(verify_password("", &h), Ok(false));
}

#[test]
fn default_cost_is_used_and_verifies() {
    let h = hash_password("111111");
    assert!(h.starts_with("pbkdf2-sha256$100000$"), "{h}");
    assert_eq!(verify_password("111111", &h), Ok(true));
    assert_eq!(verify_password("111112", &h), Ok(false));
}

#[test]
fn equal_passwords_get_different_salts() {
    let a = hash_password_with("same", 1000);
    let b = hash_password_with("same", 1000);
    assert_ne!(a, b);
    assert_ne!(a.split('$').nth(2), b.split('$').nth(2), "salts differ");
    assert_eq!(verify_password("same", &a), Ok(true));
    assert_eq!(verify_password("same", &b), Ok(true));
}

#[test]
fn malformed_hash_strings_are_errors() {
    let good = hash_password_with("pw", 1000);
    let parts: Vec<&str> = good.split('$').collect();
    let (salt, hash) = (parts[2], parts[3]);
    let short_hash = nopad(&[0u8; 16]);
    for bad in [
        String::new(),
        "111111".into(),
        "pbkdf2-sha256".into(),
        "pbkdf2-sha256$".into(),
        format!("pbkdf2-sha256$1000${salt}"),
        format!("pbkdf2-sha256$1000${salt}${hash}$extra"),
        format!("pbkdf2-sha1$1000${salt}${hash}"),
        format!("PBKDF2-SHA256$1000${salt}${hash}"),
        format!("pbkdf2-sha256$0${salt}${hash}"),
        format!("pbkdf2-sha256$-1${salt}${hash}"),
        format!("pbkdf2-sha256$1e3${salt}${hash}"),
        format!("pbkdf2-sha256$$${salt}${hash}"),
        format!("pbkdf2-sha256$10000001${salt}${hash}"),
        format!("pbkdf2-sha256$4294967296${salt}${hash}"),
        format!("pbkdf2-sha256$1000$!!!${hash}"),
        format!("pbkdf2-sha256$1000${salt}$not*base64"),
        format!("pbkdf2-sha256$1000${salt}${short_hash}"),
        format!("pbkdf2-sha256$1000${salt}${hash}AA"),
    ] {
        assert_eq!(
            verify_password("pw", &bad),
            Err(CryptoError::BadHash),
            "{bad:?}"
        );
    }
    // Sanity check: the well-formed original still verifies.
    assert_eq!(verify_password("pw", &good), Ok(true));
}

#[test]
fn is_hash_tells_hashes_from_legacy_plaintext() {
    assert!(!is_hash("111111"));
    assert!(!is_hash(""));
    assert!(!is_hash("pbkdf2-sha256"));
    assert!(is_hash(&hash_password_with("111111", 1000)));
    // A legacy plaintext password is not a hash string, so verify_password refuses it.
    assert_eq!(
        verify_password("111111", "111111"),
        Err(CryptoError::BadHash)
    );
}
