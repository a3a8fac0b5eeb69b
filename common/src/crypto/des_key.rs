//! The DES key type.
//!
//! The seed drew 8 distinct lowercase letters (about 37 bits of key space); here all 56 key bits
//! come from the OS CSPRNG, each byte gets odd parity (bit 0) as FIPS 46-3 defines, and the
//! weak and semi-weak keys are never issued or accepted.

use std::fmt;
use std::sync::OnceLock;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::crypto::DES_KEY_LEN;
use crate::crypto::des_cipher::Des;
use crate::crypto::random;
use crate::error::CryptoError;

/// A DES key with correct parity that is neither weak nor semi-weak.
///
/// It keeps its expanded key schedule once first used: a session key seals thousands of frames,
/// and expanding the schedule for each one cost more than a short message's encryption. Both the
/// key bytes and the schedule are wiped on drop.
pub struct DesKey {
    bytes: [u8; DES_KEY_LEN],
    schedule: OnceLock<Des>,
}

impl Clone for DesKey {
    fn clone(&self) -> Self {
        Self {
            bytes: self.bytes,
            schedule: OnceLock::new(),
        }
    }
}

impl PartialEq for DesKey {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for DesKey {}

/// No `Zeroize` impl on purpose: zeroizing in place would leave an all-zero key, which is weak
/// and has wrong parity, behind a type that promises neither. Wiping happens on drop only (the
/// cached schedule wipes its round keys in its own `Drop`).
impl Drop for DesKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl ZeroizeOnDrop for DesKey {}

impl DesKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        loop {
            let mut k = random::bytes::<DES_KEY_LEN>();
            set_odd_parity(&mut k);
            if let Ok(key) = Self::from_bytes(k) {
                return key;
            }
        }
    }

    /// Accept existing key bytes (from a key file or an envelope).
    ///
    /// # Errors
    /// [`CryptoError::BadKey`] if a byte has even parity, [`CryptoError::WeakKey`] for the
    /// 64 keys `des::weak_key_test` refuses (4 weak, 12 semi-weak, 48 possibly weak).
    pub fn from_bytes(k: [u8; DES_KEY_LEN]) -> Result<Self, CryptoError> {
        if k.iter().any(|b| b.count_ones() % 2 == 0) {
            return Err(CryptoError::BadKey("DES key parity bits are wrong".into()));
        }
        des::weak_key_test(&k).map_err(|_| CryptoError::WeakKey)?;
        Ok(Self {
            bytes: k,
            schedule: OnceLock::new(),
        })
    }

    /// Parse 16 hex digits.
    ///
    /// # Errors
    /// [`CryptoError::BadKey`] for anything but 16 hex digits, plus the checks of [`Self::from_bytes`].
    pub fn from_hex(s: &str) -> Result<Self, CryptoError> {
        let mut k = [0u8; DES_KEY_LEN];
        hex::decode_to_slice(s.trim(), &mut k)
            .map_err(|_| CryptoError::BadKey("a DES key is 16 hex digits".into()))?;
        Self::from_bytes(k)
    }

    /// 16 lowercase hex digits (for the key file and the `--show-secrets` trace only).
    pub fn to_hex(&self) -> String {
        hex::encode(self.bytes)
    }

    pub fn as_bytes(&self) -> &[u8; DES_KEY_LEN] {
        &self.bytes
    }

    /// The expanded DES key schedule, computed on first use.
    pub(crate) fn cipher(&self) -> &Des {
        self.schedule
            .get_or_init(|| Des::new_from_bytes(&self.bytes))
    }
}

/// Set bit 0 of each byte so that the byte has an odd number of one bits.
pub fn set_odd_parity(k: &mut [u8]) {
    for b in k {
        let high = *b & 0xFE;
        *b = high | u8::from(high.count_ones() % 2 == 0);
    }
}

impl fmt::Debug for DesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DesKey(..)")
    }
}
