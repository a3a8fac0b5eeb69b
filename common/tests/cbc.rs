//! DES-CBC with PKCS#7 padding (`common::crypto::cbc`): an independent implementation's vector,
//! error behaviour and fresh IVs.

mod support;

use common::crypto::{DesKey, cbc};
use common::error::CryptoError;
use support::unhex;

const MSG: &str = "digital envelope: 数字信封 | line\n";

/// Made by an independent implementation, OpenSSL 3.0:
/// `printf 'digital envelope: 数字信封 | line\n' | openssl enc -des-cbc -provider legacy
///  -provider default -K 133457799bbcdff1 -iv 0011223344556677 | xxd -p`
const OPENSSL_CT: &str =
    "73cf276def9107b76f7afb7fef6b0af9195bd0d8a33398b271e44318e393440811842a897b89374b";

fn key() -> DesKey {
    DesKey::from_hex("133457799bbcdff1").unwrap()
}

fn iv() -> [u8; 8] {
    unhex("0011223344556677").try_into().unwrap()
}

#[test]
fn encrypt_matches_openssl() {
    let ct = cbc::encrypt_with_iv(&key(), &iv(), MSG.as_bytes());
    assert_eq!(hex::encode(&ct), OPENSSL_CT);
    // PKCS#7: 38 bytes of UTF-8 become 40.
    assert_eq!(MSG.len(), 38);
    assert_eq!(ct.len(), 40);
}

#[test]
fn decrypt_matches_openssl() {
    let pt = cbc::decrypt(&key(), &iv(), &unhex(OPENSSL_CT)).unwrap();
    assert_eq!(String::from_utf8(pt).unwrap(), MSG);
}

#[test]
fn padding_always_adds_one_to_eight_bytes() {
    let k = key();
    for len in 0..=33usize {
        let pt = vec![b'x'; len];
        let ct = cbc::encrypt_with_iv(&k, &iv(), &pt);
        assert_eq!(ct.len(), (len / 8 + 1) * 8, "plaintext of {len} bytes");
        assert_eq!(cbc::decrypt(&k, &iv(), &ct).unwrap(), pt);
    }
}

#[test]
fn wrong_key_fails() {
    // Deterministic: this wrong key turns the last block's padding into garbage.
    let wrong = DesKey::from_hex("0123456789abcdef").unwrap();
    assert_eq!(
        cbc::decrypt(&wrong, &iv(), &unhex(OPENSSL_CT)),
        Err(CryptoError::Decrypt)
    );
}

#[test]
fn bad_padding_fails() {
    let k = key();
    // Encrypt one full block whose last byte is not valid padding, then drop the padding block:
    // the decrypted final block ends in 0x00, 0x09 (> block size) or an inconsistent run.
    for last_block in [
        &b"1234567\x00"[..],
        b"1234567\x09",
        b"123456\x03\x02",
        b"\x08\x08\x08\x08\x08\x08\x08\x07",
    ] {
        let ct = cbc::encrypt_with_iv(&k, &iv(), last_block);
        assert_eq!(
            cbc::decrypt(&k, &iv(), &ct[..8]),
            Err(CryptoError::Decrypt),
            "{last_block:?}"
        );
    }
    // A valid run of 8 is accepted (sanity check of the construction above).
    let ct = cbc::encrypt_with_iv(&k, &iv(), b"\x08\x08\x08\x08\x08\x08\x08\x08");
    assert_eq!(cbc::decrypt(&k, &iv(), &ct[..8]).unwrap(), Vec::<u8>::new());
}

#[test]
fn malformed_inputs_fail_with_the_same_opaque_error() {
    let k = key();
    let ct = unhex(OPENSSL_CT);
    assert_eq!(
        cbc::decrypt(&k, &iv(), &[]),
        Err(CryptoError::Decrypt),
        "empty"
    );
    assert_eq!(
        cbc::decrypt(&k, &iv(), &ct[..39]),
        Err(CryptoError::Decrypt),
        "not whole blocks"
    );
    assert_eq!(
        cbc::decrypt(&k, &iv()[..7], &ct),
        Err(CryptoError::Decrypt),
        "short IV"
    );
    assert_eq!(
        cbc::decrypt(&k, &[0u8; 9], &ct),
        Err(CryptoError::Decrypt),
        "long IV"
    );
}

#[test]
fn wrong_iv_changes_only_the_first_block() {
    let k = key();
    let mut iv2 = iv();
    iv2[0] ^= 0x01;
    let pt = cbc::decrypt(&k, &iv2, &unhex(OPENSSL_CT)).unwrap();
    assert_ne!(pt, MSG.as_bytes());
    assert_eq!(pt[0], MSG.as_bytes()[0] ^ 0x01);
    assert_eq!(&pt[1..], &MSG.as_bytes()[1..]);
}

#[test]
fn random_ivs_differ_and_round_trip() {
    let k = DesKey::generate();
    let (iv1, ct1) = cbc::encrypt(&k, MSG.as_bytes());
    let (iv2, ct2) = cbc::encrypt(&k, MSG.as_bytes());
    assert_ne!(iv1, iv2, "each encryption draws a fresh IV");
    assert_ne!(ct1, ct2, "so equal messages give different ciphertexts");
    assert_eq!(cbc::decrypt(&k, &iv1, &ct1).unwrap(), MSG.as_bytes());
    assert_eq!(cbc::decrypt(&k, &iv2, &ct2).unwrap(), MSG.as_bytes());
    assert_ne!(cbc::random_iv(), cbc::random_iv());
}
