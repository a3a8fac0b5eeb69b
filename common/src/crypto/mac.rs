//! HMAC-SHA-256 and constant-time comparisons.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::crypto::MAC_LEN;
use crate::error::CryptoError;

type HmacSha256 = Hmac<Sha256>;

fn keyed(key: &[u8]) -> HmacSha256 {
    <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length")
}

/// HMAC-SHA-256 over the concatenation of `parts`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; MAC_LEN] {
    let mut m = keyed(key);
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// Check a tag in constant time.
///
/// # Errors
/// [`CryptoError::BadMac`] for a wrong tag or a tag of the wrong length.
pub fn verify_hmac_sha256(key: &[u8], parts: &[&[u8]], tag: &[u8]) -> Result<(), CryptoError> {
    let mut m = keyed(key);
    for p in parts {
        m.update(p);
    }
    m.verify_slice(tag).map_err(|_| CryptoError::BadMac)
}

/// Constant-time equality of two byte strings (lengths are not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
