//! The DES-CBC layer (`common::crypto::cbc` over the crate's own table-driven DES) against
//! `cbc::Encryptor<des::Des>` (RustCrypto's CBC over RustCrypto's DES), on keys, IVs and messages
//! from a seeded generator. The block cipher alone is compared in its unit tests
//! (`crypto/des_cipher/oracle.rs`, `sp800_17.rs`).

use cbc::cipher::{BlockModeEncrypt, KeyIvInit, block_padding::Pkcs7};
use common::crypto::des_key::set_odd_parity;
use common::crypto::{DesKey, cbc as our_cbc};
use rand::{Rng as _, SeedableRng as _};

/// Fixed, so every run checks the same cases.
const SEED: u64 = 0x6d69_6e69_2d63_6263; // "mini-cbc"

/// A valid (odd parity, not weak) key from `rng`.
fn key_from(rng: &mut impl rand::Rng) -> DesKey {
    loop {
        let mut k = rng.next_u64().to_be_bytes();
        set_odd_parity(&mut k);
        if let Ok(key) = DesKey::from_bytes(k) {
            return key;
        }
    }
}

#[test]
fn cbc_messages_match_cbc_over_the_des_crate() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(SEED);
    for len in (0..200).chain([1000, 4096, 16_384]) {
        let key = key_from(&mut rng);
        let iv = rng.next_u64().to_be_bytes();
        let mut plain = vec![0u8; len];
        rng.fill_bytes(&mut plain);

        let oracle = cbc::Encryptor::<des::Des>::new_from_slices(key.as_bytes(), &iv)
            .unwrap()
            .encrypt_padded_vec::<Pkcs7>(&plain);
        let ours = our_cbc::encrypt_with_iv(&key, &iv, &plain);
        assert_eq!(ours, oracle, "seed {SEED:#x}: CBC of {len} bytes");
        assert_eq!(our_cbc::decrypt(&key, &iv, &ours).unwrap(), plain);
    }
}

#[test]
fn a_cloned_key_encrypts_the_same() {
    // DesKey caches its schedule; a clone starts without one and must agree.
    let key = DesKey::generate();
    let iv = [7u8; 8];
    let first = our_cbc::encrypt_with_iv(&key, &iv, b"same text");
    let copy = key.clone();
    assert_eq!(our_cbc::encrypt_with_iv(&copy, &iv, b"same text"), first);
    assert_eq!(our_cbc::encrypt_with_iv(&key, &iv, b"same text"), first);
}
