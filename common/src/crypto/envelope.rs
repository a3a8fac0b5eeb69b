//! The digital envelope of the seed, as a primitive: a plaintext encrypted with DES-CBC under a
//! random one-time DES key `k`, and `k` wrapped with RSA-OAEP-SHA-256 under the recipient's
//! public key. What the plaintext is (the session material) and the rule that an envelope is
//! opened only after the server's signature verified belong to the key-distribution protocol
//! (`protocol/keydist.rs`): a primitive knows no protocol.

use zeroize::Zeroizing;

use crate::crypto::{DES_KEY_LEN, DesKey, IV_LEN, PrivateKey, PublicKey, cbc};
use crate::error::CryptoError;

/// The envelope's three parts as they travel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// IV of the DES-CBC layer.
    pub iv: [u8; IV_LEN],
    /// DES-CBC(k, iv, plaintext).
    pub sealed: Vec<u8>,
    /// RSA-OAEP(recipient public key, k).
    pub wrapped_key: Vec<u8>,
}

impl Envelope {
    /// Seal `plaintext` for `recipient` under a fresh one-time key, which is returned too (for
    /// `--show-secrets`; drop it otherwise).
    ///
    /// # Errors
    /// [`CryptoError::Rsa`] if OAEP fails (a key too small to wrap 8 bytes).
    pub fn seal(recipient: &PublicKey, plaintext: &[u8]) -> Result<(Self, DesKey), CryptoError> {
        let one_time = DesKey::generate();
        let (iv, sealed) = cbc::encrypt(&one_time, plaintext);
        let wrapped_key = recipient.oaep_encrypt(one_time.as_bytes())?;
        let envelope = Self {
            iv,
            sealed,
            wrapped_key,
        };
        Ok((envelope, one_time))
    }

    /// Recover `k` with the recipient's private key, then the plaintext with `k` and the IV.
    ///
    /// # Errors
    /// [`CryptoError::BadEnvelope`] for anything wrong (deliberately opaque): not wrapped for
    /// this key, a `k` that is not a valid DES key, bad padding.
    pub fn unseal(
        &self,
        recipient: &PrivateKey,
    ) -> Result<(DesKey, Zeroizing<Vec<u8>>), CryptoError> {
        let k = recipient
            .oaep_decrypt(&self.wrapped_key)
            .map_err(|_| CryptoError::BadEnvelope)?;
        let k: [u8; DES_KEY_LEN] = k
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::BadEnvelope)?;
        let one_time = DesKey::from_bytes(k).map_err(|_| CryptoError::BadEnvelope)?;
        let plain = Zeroizing::new(
            cbc::decrypt(&one_time, &self.iv, &self.sealed)
                .map_err(|_| CryptoError::BadEnvelope)?,
        );
        Ok((one_time, plain))
    }
}
