//! The table-driven DES (`common::crypto::des_cipher`) against RustCrypto's `des` crate, used as
//! an independent oracle: single blocks for thousands of random keys and blocks (both
//! directions), and whole DES-CBC messages against `cbc::Encryptor<des::Des>`.

use cbc::cipher::{
    BlockCipherDecrypt, BlockCipherEncrypt, BlockModeEncrypt, KeyInit, KeyIvInit,
    block_padding::Pkcs7,
};
use common::crypto::des_cipher::Des;
use common::crypto::{DesKey, cbc as our_cbc, random};

#[test]
fn blocks_match_the_des_crate_for_random_keys_and_blocks() {
    for n in 0..5_000 {
        // Any 8 bytes, weak keys and wrong parity included: the cipher must agree on all of them.
        let key: [u8; 8] = random::bytes();
        let block: [u8; 8] = random::bytes();
        let ours = Des::new_from_bytes(&key);
        let oracle = des::Des::new(&key.into());

        let mut expect = block.into();
        oracle.encrypt_block(&mut expect);
        let got = ours.encrypt_u64(u64::from_be_bytes(block)).to_be_bytes();
        assert_eq!(
            got, expect.0,
            "encrypt #{n}: key {key:02x?} block {block:02x?}"
        );

        let mut expect = block.into();
        oracle.decrypt_block(&mut expect);
        let got = ours.decrypt_u64(u64::from_be_bytes(block)).to_be_bytes();
        assert_eq!(
            got, expect.0,
            "decrypt #{n}: key {key:02x?} block {block:02x?}"
        );

        // And through the cipher traits the `cbc` crate uses.
        let mut via_trait = block.into();
        ours.encrypt_block(&mut via_trait);
        ours.decrypt_block(&mut via_trait);
        assert_eq!(via_trait.0, block);
    }
}

#[test]
fn cbc_messages_match_cbc_over_the_des_crate() {
    for len in (0..200).chain([1000, 4096, 16_384]) {
        let key = DesKey::generate();
        let iv: [u8; 8] = random::bytes();
        let mut plain = vec![0u8; len];
        random::fill(&mut plain).unwrap();

        let oracle = cbc::Encryptor::<des::Des>::new_from_slices(key.as_bytes(), &iv)
            .unwrap()
            .encrypt_padded_vec::<Pkcs7>(&plain);
        let ours = our_cbc::encrypt_with_iv(&key, &iv, &plain);
        assert_eq!(ours, oracle, "CBC of {len} bytes");
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
