//! The DES key type: parity, weak keys, hex parsing, redacted Debug.

use std::collections::HashSet;

use common::crypto::DesKey;
use common::crypto::des_key::set_odd_parity;
use common::error::CryptoError;

#[test]
fn generated_keys_have_odd_parity_and_are_never_weak() {
    let mut seen = HashSet::new();
    for _ in 0..500 {
        let k = DesKey::generate();
        let b = *k.as_bytes();
        for (i, byte) in b.iter().enumerate() {
            assert_eq!(
                byte.count_ones() % 2,
                1,
                "byte {i} of {} has even parity",
                k.to_hex()
            );
        }
        assert!(
            des::weak_key_test(&b).is_ok(),
            "weak key issued: {}",
            k.to_hex()
        );
        assert_eq!(DesKey::from_bytes(b).unwrap(), k);
        assert_eq!(DesKey::from_hex(&k.to_hex()).unwrap(), k);
        assert!(seen.insert(b), "the same key came out twice");
    }
}

#[test]
fn to_hex_is_16_lowercase_digits_and_from_hex_accepts_either_case() {
    let k = DesKey::from_hex("0123456789ABCDEF").unwrap();
    assert_eq!(k.to_hex(), "0123456789abcdef");
    assert_eq!(DesKey::from_hex("0123456789abcdef").unwrap(), k);
    assert_eq!(
        DesKey::from_hex(" 0123456789abcdef\n").unwrap(),
        k,
        "surrounding whitespace is trimmed"
    );
}

#[test]
fn from_hex_rejects_bad_parity() {
    // 0xEE has six one bits.
    assert!(matches!(
        DesKey::from_hex("0123456789abcdee"),
        Err(CryptoError::BadKey(_))
    ));
    // An all-zero key has even parity everywhere.
    assert!(matches!(
        DesKey::from_hex("0000000000000000"),
        Err(CryptoError::BadKey(_))
    ));
    assert!(matches!(
        DesKey::from_bytes([0x03; 8]),
        Err(CryptoError::BadKey(_))
    ));
}

#[test]
fn weak_and_semi_weak_keys_are_refused() {
    for weak in [
        // The four weak keys.
        "0101010101010101",
        "FEFEFEFEFEFEFEFE",
        "E0E0E0E0F1F1F1F1",
        "1F1F1F1F0E0E0E0E",
        // Semi-weak pairs.
        "01FE01FE01FE01FE",
        "FE01FE01FE01FE01",
        "1FE01FE00EF10EF1",
        "E01FE01FF10EF10E",
        "01E001E001F101F1",
        "E001E001F101F101",
        "1FFE1FFE0EFE0EFE",
        "FE1FFE1FFE0EFE0E",
        "011F011F010E010E",
        "1F011F010E010E01",
        "E0FEE0FEF1FEF1FE",
        "FEE0FEE0FEF1FEF1",
    ] {
        assert_eq!(DesKey::from_hex(weak), Err(CryptoError::WeakKey), "{weak}");
    }
}

#[test]
fn from_hex_rejects_wrong_length_and_non_hex() {
    for bad in [
        "",
        "0123456789abcd",
        "0123456789abcdef01",
        "0123456789abcdeg",
        "0x23456789abcdef",
        "01234567 9abcdef",
    ] {
        assert!(
            matches!(DesKey::from_hex(bad), Err(CryptoError::BadKey(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn set_odd_parity_only_touches_bit_zero() {
    let mut k: Vec<u8> = (0..=255u8).collect();
    set_odd_parity(&mut k);
    for (i, b) in k.iter().enumerate() {
        assert_eq!(b.count_ones() % 2, 1, "byte {i}");
        assert_eq!(b & 0xFE, (i as u8) & 0xFE, "byte {i}: high bits changed");
    }
}

#[test]
fn debug_does_not_print_the_key() {
    let k = DesKey::from_hex("133457799bbcdff1").unwrap();
    let shown = format!("{k:?} {k:#?}");
    assert!(
        !shown.contains("133457799bbcdff1") && !shown.to_uppercase().contains("133457799BBCDFF1"),
        "{shown}"
    );
    assert!(!shown.contains("19, 52"), "no byte list either: {shown}");
    assert!(shown.contains("DesKey"));
}

/// Every key `DesKey` refuses as weak, found by trying every key whose first four bytes are
/// each one of 01, 1F, E0, FE and whose last four are each one of 01, 0E, F1, FE (all 64 weak,
/// semi-weak and possibly weak keys have this shape; the test checks that 64 are found), and
/// classified by what the key does:
/// weak = encrypting twice is the identity; semi-weak = encrypting with the key and then with
/// another key of the list is the identity; possibly weak = the rest.
fn refused_weak_keys() -> (Vec<u64>, Vec<(u64, u64)>, Vec<u64>) {
    use des::cipher::{BlockCipherEncrypt, KeyInit};
    const FIRST: [u8; 4] = [0x01, 0x1f, 0xe0, 0xfe];
    const SECOND: [u8; 4] = [0x01, 0x0e, 0xf1, 0xfe];
    let mut refused = Vec::new();
    for n in 0..1u32 << 16 {
        let mut k = [0u8; 8];
        for (i, byte) in k.iter_mut().enumerate() {
            let digit = ((n >> (2 * i)) & 3) as usize;
            *byte = if i < 4 { FIRST[digit] } else { SECOND[digit] };
        }
        if matches!(DesKey::from_bytes(k), Err(CryptoError::WeakKey)) {
            refused.push(u64::from_be_bytes(k));
        }
    }
    refused.sort_unstable();
    let encrypt = |key: u64, x: u64| {
        let mut b = x.to_be_bytes().into();
        des::Des::new(&key.to_be_bytes().into()).encrypt_block(&mut b);
        u64::from_be_bytes(b.0)
    };
    let x = 0x0123_4567_89ab_cdef;
    let (mut weak, mut semi, mut possibly) = (Vec::new(), Vec::new(), Vec::new());
    for &k in &refused {
        if encrypt(k, encrypt(k, x)) == x {
            weak.push(k);
        } else if let Some(&p) = refused.iter().find(|&&p| encrypt(p, encrypt(k, x)) == x) {
            if k < p {
                semi.push((k, p));
            }
        } else {
            possibly.push(k);
        }
    }
    (weak, semi, possibly)
}

/// PROTOCOL.md §4.1's list, as [`refused_weak_keys`] generates it.
fn weak_key_block() -> String {
    let (weak, semi, possibly) = refused_weak_keys();
    let hex = |k: &u64| format!("{k:016x}");
    let mut out = String::from("weak (4):\n");
    out.push_str(&format!(
        "  {}\n",
        weak.iter().map(hex).collect::<Vec<_>>().join(" ")
    ));
    out.push_str("semi-weak (12), in pairs: encrypting with one then the other is the identity:\n");
    for row in semi.chunks(3) {
        let pairs: Vec<String> = row
            .iter()
            .map(|(a, b)| format!("{}/{}", hex(a), hex(b)))
            .collect();
        out.push_str(&format!("  {}\n", pairs.join("  ")));
    }
    out.push_str("possibly weak (48):\n");
    for row in possibly.chunks(4) {
        out.push_str(&format!(
            "  {}\n",
            row.iter().map(hex).collect::<Vec<_>>().join(" ")
        ));
    }
    out
}

#[test]
fn the_weak_keys_in_protocol_md_are_exactly_those_refused() {
    let (weak, semi, possibly) = refused_weak_keys();
    assert_eq!((weak.len(), semi.len(), possibly.len()), (4, 6, 48));
    let block = weak_key_block();
    let doc = include_str!("../../PROTOCOL.md");
    assert!(
        doc.contains(&format!("```text\n{block}```")),
        "PROTOCOL.md §4.1 must list the weak keys exactly as generated:\n```text\n{block}```"
    );
}
