//! DES-CBC with PKCS#5/#7 padding.
//!
//! # Security warning
//! CBC alone gives no integrity, and a padding error must never be reported differently from a
//! MAC error. Callers in this crate always verify an HMAC over IV and ciphertext *before*
//! decrypting (as chat frames do, `protocol/sealed.rs`); use [`encrypt`] with a fresh random IV per message
//! (the seed's all-zero IV made equal message prefixes visible).

use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, InnerIvInit, block_padding::Pkcs7};

use crate::crypto::IV_LEN;
use crate::crypto::des_cipher::Des;
use crate::crypto::{DesKey, random};
use crate::error::CryptoError;

type DesCbcEnc = cbc::Encryptor<Des>;
type DesCbcDec = cbc::Decryptor<Des>;

/// IV bytes fetched from the OS CSPRNG per `getrandom` call (64 IVs).
const IV_POOL_LEN: usize = 64 * IV_LEN;

/// A fresh random IV: eight bytes straight from the OS CSPRNG, taken from a per-thread buffer
/// that is refilled with one `getrandom` call per 64 IVs. Each byte is used once. The chat server
/// seals every message once per recipient, and one system call per IV was about a tenth of its
/// CPU time (perf, scripts/bench.sh); a CBC IV must be unpredictable until it is used, not
/// secret (it travels in clear), so holding the next few in memory gives nothing away. Keys and
/// nonces still come from [`random`] directly. (Not fork-safe: a forked child would repeat the
/// parent's buffered IVs; none of our programs forks.)
pub fn random_iv() -> [u8; IV_LEN] {
    use std::cell::RefCell;
    struct Pool {
        bytes: [u8; IV_POOL_LEN],
        used: usize,
    }
    thread_local! {
        static POOL: RefCell<Pool> = const {
            RefCell::new(Pool { bytes: [0; IV_POOL_LEN], used: IV_POOL_LEN })
        };
    }
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.used == IV_POOL_LEN {
            random::fill(&mut pool.bytes).expect("operating system random number generator failed");
            pool.used = 0;
        }
        let at = pool.used;
        let mut iv = [0u8; IV_LEN];
        iv.copy_from_slice(&pool.bytes[at..at + IV_LEN]);
        pool.bytes[at..at + IV_LEN].fill(0);
        pool.used += IV_LEN;
        iv
    })
}

/// Encrypt with an explicit IV (known-answer tests and [`encrypt`]).
pub fn encrypt_with_iv(key: &DesKey, iv: &[u8; IV_LEN], plaintext: &[u8]) -> Vec<u8> {
    DesCbcEnc::inner_iv_init(key.cipher().clone(), iv.into()).encrypt_padded_vec::<Pkcs7>(plaintext)
}

/// Encrypt under a fresh random IV; returns `(iv, ciphertext)`.
pub fn encrypt(key: &DesKey, plaintext: &[u8]) -> ([u8; IV_LEN], Vec<u8>) {
    let iv = random_iv();
    let ct = encrypt_with_iv(key, &iv, plaintext);
    (iv, ct)
}

/// Decrypt and strip the padding.
///
/// # Errors
/// [`CryptoError::Decrypt`] for a wrong IV length, a ciphertext that is not whole blocks, or bad
/// padding (one opaque error for all).
pub fn decrypt(key: &DesKey, iv: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if iv.len() != IV_LEN || ciphertext.is_empty() || !ciphertext.len().is_multiple_of(IV_LEN) {
        return Err(CryptoError::Decrypt);
    }
    DesCbcDec::inner_iv_slice_init(key.cipher().clone(), iv)
        .map_err(|_| CryptoError::Decrypt)?
        .decrypt_padded_vec::<Pkcs7>(ciphertext)
        .map_err(|_| CryptoError::Decrypt)
}
