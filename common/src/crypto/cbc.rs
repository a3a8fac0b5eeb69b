//! DES-CBC with PKCS#5/#7 padding.
//!
//! # Security warning
//! CBC alone gives no integrity, and a padding error must never be reported differently from a
//! MAC error. Callers in this crate always verify an HMAC over IV and ciphertext *before*
//! decrypting (see [`crate::crypto::sealed`]); use [`encrypt`] with a fresh random IV per message
//! (the seed's all-zero IV made equal message prefixes visible).

use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit, block_padding::Pkcs7};

use crate::crypto::{DesKey, random};
use crate::error::CryptoError;
use crate::protocol::consts::IV_LEN;

type DesCbcEnc = cbc::Encryptor<des::Des>;
type DesCbcDec = cbc::Decryptor<des::Des>;

/// A fresh random IV.
pub fn random_iv() -> [u8; IV_LEN] {
    random::bytes::<IV_LEN>()
}

/// Encrypt with an explicit IV (known-answer tests and [`encrypt`]).
pub fn encrypt_with_iv(key: &DesKey, iv: &[u8; IV_LEN], plaintext: &[u8]) -> Vec<u8> {
    DesCbcEnc::new_from_slices(key.as_bytes(), iv)
        .expect("DES key and IV have fixed valid lengths")
        .encrypt_padded_vec::<Pkcs7>(plaintext)
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
    DesCbcDec::new_from_slices(key.as_bytes(), iv)
        .map_err(|_| CryptoError::Decrypt)?
        .decrypt_padded_vec::<Pkcs7>(ciphertext)
        .map_err(|_| CryptoError::Decrypt)
}
