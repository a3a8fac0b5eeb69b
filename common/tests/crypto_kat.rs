//! Known-answer tests against published vectors: DES-CBC (FIPS 46 / FIPS 81), HMAC-SHA-256
//! (RFC 4231) and SHA-256 (FIPS 180-2). Every vector was also re-checked independently
//! (OpenSSL 3.0 for DES, Python's `hmac`/`hashlib` for HMAC and SHA-256).

mod support;

use common::crypto::{DesKey, cbc, mac, sha256};
use common::error::CryptoError;
use support::unhex;

/// (key, plaintext, ciphertext) single-block DES vectors, here through the public DES-CBC (the
/// block cipher itself runs these and the full NIST SP 800-17 tables in its unit tests,
/// `crypto/des_cipher/`).
/// 1. The classic FIPS 81 / "Now is t" block: key 0123456789ABCDEF.
/// 2. The worked example of the DES standard's walkthrough (key 133457799BBCDFF1).
const DES_ECB: &[(&str, &str, &str)] = &[
    ("0123456789ABCDEF", "4E6F772069732074", "3FA40E8A984D4815"),
    ("133457799BBCDFF1", "0123456789ABCDEF", "85E813540F0AB405"),
];

#[test]
fn cbc_with_zero_iv_on_one_block_equals_ecb() {
    // CBC of a single block under IV 0 is exactly ECB; the second block is the PKCS#7 padding.
    for (key, pt, ct) in DES_ECB {
        let k = DesKey::from_hex(key).expect("vector key has odd parity and is not weak");
        let out = cbc::encrypt_with_iv(&k, &[0u8; 8], &unhex(pt));
        assert_eq!(out.len(), 16, "one block plus a whole padding block");
        assert_eq!(&out[..8], unhex(ct).as_slice(), "key {key}");
        assert_eq!(cbc::decrypt(&k, &[0u8; 8], &out).unwrap(), unhex(pt));
    }
}

#[test]
fn fips81_appendix_c_cbc_vector() {
    // FIPS 81, Appendix C (CBC mode): key 0123456789abcdef, IV 1234567890abcdef,
    // "Now is the time for all " -> e5c7cdde872bf27c 43e934008c389c0f 683788499a7c05f6.
    let key = DesKey::from_hex("0123456789abcdef").unwrap();
    let iv: [u8; 8] = unhex("1234567890abcdef").try_into().unwrap();
    let pt = b"Now is the time for all ";
    let ct = cbc::encrypt_with_iv(&key, &iv, pt);
    assert_eq!(ct.len(), 32, "24 bytes of text + one whole PKCS#7 block");
    assert_eq!(
        &ct[..24],
        unhex("e5c7cdde872bf27c 43e934008c389c0f 683788499a7c05f6").as_slice()
    );
    // The padding block as OpenSSL 3.0 computes it (`openssl enc -des-cbc`), then decrypt back.
    assert_eq!(&ct[24..], unhex("62c16a27e4fcf277").as_slice());
    assert_eq!(cbc::decrypt(&key, &iv, &ct).unwrap(), pt);
}

/// (case number, key, data, HMAC-SHA-256 tag).
type Rfc4231Case = (u32, Vec<u8>, Vec<u8>, Vec<u8>);

/// RFC 4231 test cases 1, 2, 3, 4, 6 and 7 (HMAC-SHA-256 column). Case 5 tests truncation,
/// which this code never does.
fn rfc4231() -> Vec<Rfc4231Case> {
    vec![
        (
            1,
            vec![0x0b; 20],
            b"Hi There".to_vec(),
            unhex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        ),
        (
            2,
            b"Jefe".to_vec(),
            b"what do ya want for nothing?".to_vec(),
            unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        ),
        (
            3,
            vec![0xaa; 20],
            vec![0xdd; 50],
            unhex("773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        ),
        (
            4,
            unhex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
            vec![0xcd; 50],
            unhex("82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        ),
        (
            6,
            vec![0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
            unhex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        ),
        (
            7,
            vec![0xaa; 131],
            b"This is a test using a larger than block-size key and a larger than block-size data. \
              The key needs to be hashed before being used by the HMAC algorithm."
                .to_vec(),
            unhex("9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
        ),
    ]
}

#[test]
fn hmac_sha256_rfc4231() {
    for (case, key, data, tag) in rfc4231() {
        assert_eq!(
            mac::hmac_sha256(&key, &[&data]).as_slice(),
            tag.as_slice(),
            "RFC 4231 case {case}"
        );
        // The parts are concatenated: splitting the data anywhere gives the same tag.
        let (a, b) = data.split_at(data.len() / 3);
        assert_eq!(
            mac::hmac_sha256(&key, &[a, &[], b]).as_slice(),
            tag.as_slice(),
            "case {case}, split"
        );
        assert_eq!(
            mac::verify_hmac_sha256(&key, &[&data], &tag),
            Ok(()),
            "case {case} verifies"
        );
    }
}

#[test]
fn hmac_verify_rejects_altered_or_truncated_tags() {
    for (case, key, data, tag) in rfc4231() {
        for bit in [0usize, 7, 100, 255] {
            let mut bad = tag.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                mac::verify_hmac_sha256(&key, &[&data], &bad),
                Err(CryptoError::BadMac),
                "case {case} bit {bit}"
            );
        }
        for len in [0, 16, 31] {
            assert_eq!(
                mac::verify_hmac_sha256(&key, &[&data], &tag[..len]),
                Err(CryptoError::BadMac),
                "case {case}: a {len}-byte prefix of the tag must not verify"
            );
        }
        let mut longer = tag.clone();
        longer.push(0);
        assert_eq!(
            mac::verify_hmac_sha256(&key, &[&data], &longer),
            Err(CryptoError::BadMac)
        );
        // Another key or other data fails too.
        assert_eq!(
            mac::verify_hmac_sha256(b"other key", &[&data], &tag),
            Err(CryptoError::BadMac)
        );
        assert_eq!(
            mac::verify_hmac_sha256(&key, &[&data, b"x"], &tag),
            Err(CryptoError::BadMac)
        );
    }
}

#[test]
fn ct_eq_compares_content_and_length() {
    assert!(mac::ct_eq(b"abc", b"abc"));
    assert!(mac::ct_eq(b"", b""));
    assert!(!mac::ct_eq(b"abc", b"abd"));
    assert!(!mac::ct_eq(b"abc", b"ab"));
}

#[test]
fn sha256_fips180_vectors() {
    assert_eq!(
        sha256(b"abc").to_vec(),
        unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
    assert_eq!(
        sha256(b"").to_vec(),
        unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    );
}
