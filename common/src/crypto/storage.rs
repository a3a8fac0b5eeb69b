//! A key for data at rest: the chat server's storage key for its message history (and any
//! other sealed file), kept in a file of its own, never beside the data it protects.
//!
//! Sealing is the design's encrypt-then-MAC, as for chat frames (`protocol/sealed.rs`): DES-CBC
//! under a random IV, then HMAC-SHA-256 under a separate 256-bit key over a label, the caller's
//! associated data (for a stored message: its id, time, sender and recipient, so a row's body
//! cannot be moved to another row), the IV and the ciphertext. [`StorageKey::open`] checks the
//! MAC before decrypting. DES is the assignment's cipher: its 56-bit key is the weak part (a
//! determined attacker with the database alone could search it); the MAC key is full strength,
//! so stored rows cannot be forged or swapped without the key file.

use std::path::Path;

use zeroize::Zeroizing;

use crate::crypto::mac::{hmac_sha256, verify_hmac_sha256};
use crate::crypto::{DesKey, cbc, random};
use crate::crypto::{IV_LEN, MAC_KEY_LEN, MAC_LEN};
use crate::error::{CryptoError, KeyFileError};

/// First line of a storage key file.
const HEADER: &str = "# mini-chat storage key. SECRET: with this file, a copy of the database reveals every stored message.";

/// A DES key and a MAC key for data at rest.
pub struct StorageKey {
    des: DesKey,
    mac: Zeroizing<[u8; MAC_KEY_LEN]>,
}

impl std::fmt::Debug for StorageKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StorageKey(..)")
    }
}

impl StorageKey {
    /// A fresh key from the OS CSPRNG.
    pub fn generate() -> Self {
        Self {
            des: DesKey::generate(),
            mac: Zeroizing::new(random::bytes::<MAC_KEY_LEN>()),
        }
    }

    /// Seal `plaintext` bound to `label` and `aad`: `IV | ciphertext | MAC`.
    pub fn seal(&self, label: &str, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let (iv, ct) = cbc::encrypt(&self.des, plaintext);
        let tag = self.tag(label, aad, &iv, &ct);
        let mut out = Vec::with_capacity(IV_LEN + ct.len() + MAC_LEN);
        out.extend_from_slice(&iv);
        out.extend_from_slice(&ct);
        out.extend_from_slice(&tag);
        out
    }

    /// Check and open what [`Self::seal`] made with the same `label` and `aad`.
    ///
    /// # Errors
    /// [`CryptoError::BadMac`] for anything altered, moved or sealed under another key (checked
    /// before decrypting); [`CryptoError::Decrypt`] cannot follow a good MAC in practice.
    pub fn open(&self, label: &str, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < IV_LEN + MAC_LEN {
            return Err(CryptoError::BadMac);
        }
        let (iv, rest) = sealed.split_at(IV_LEN);
        let (ct, tag) = rest.split_at(rest.len() - MAC_LEN);
        verify_hmac_sha256(
            &*self.mac,
            &[label.as_bytes(), &len_prefix(aad), aad, iv, ct],
            tag,
        )?;
        cbc::decrypt(&self.des, iv, ct)
    }

    fn tag(&self, label: &str, aad: &[u8], iv: &[u8], ct: &[u8]) -> [u8; MAC_LEN] {
        hmac_sha256(
            &*self.mac,
            &[label.as_bytes(), &len_prefix(aad), aad, iv, ct],
        )
    }

    /// The key file's text.
    fn to_text(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "{HEADER}\ndes_key = {}\nmac_key = {}\n",
            self.des.to_hex(),
            hex::encode(*self.mac)
        ))
    }

    /// Read a key file written by [`Self::load_or_create`].
    ///
    /// # Errors
    /// [`KeyFileError::Missing`], [`KeyFileError::Read`] or [`KeyFileError::Malformed`].
    pub fn load(path: &Path) -> Result<Self, KeyFileError> {
        let text = Zeroizing::new(crate::fsutil::read_key_text(path)?);
        let bad = |message: &str| KeyFileError::Malformed {
            path: path.to_path_buf(),
            message: message.into(),
        };
        let value = |key: &str| {
            text.lines()
                .filter_map(|l| l.split_once('='))
                .find(|(k, _)| k.trim() == key)
                .map(|(_, v)| v.trim().to_owned())
                .ok_or_else(|| bad(&format!("no {key} line")))
        };
        let des = DesKey::from_hex(&value("des_key")?).map_err(|_| bad("bad des_key"))?;
        let mac_hex = Zeroizing::new(value("mac_key")?);
        let mut mac = Zeroizing::new([0u8; MAC_KEY_LEN]);
        hex::decode_to_slice(mac_hex.as_bytes(), &mut mac[..]).map_err(|_| bad("bad mac_key"))?;
        Ok(Self { des, mac })
    }

    /// Load the key at `path`, or create it (mode 0600, written atomically) when there is none.
    /// Returns the key and whether it was created.
    ///
    /// # Errors
    /// A key file that cannot be read or is malformed (never replaced: data sealed under it
    /// would be lost), or one that cannot be written.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), KeyFileError> {
        match Self::load(path) {
            Ok(k) => Ok((k, false)),
            Err(KeyFileError::Missing { .. }) => {
                let key = Self::generate();
                crate::fsutil::write_atomic(path, key.to_text().as_bytes(), true).map_err(
                    |source| KeyFileError::Write {
                        path: path.to_path_buf(),
                        source,
                    },
                )?;
                Ok((key, true))
            }
            Err(e) => Err(e),
        }
    }
}

/// `aad`'s length as 8 bytes, so label, aad and IV cannot be re-split into another valid input.
fn len_prefix(aad: &[u8]) -> [u8; 8] {
    (aad.len() as u64).to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let k = StorageKey::generate();
        let sealed = k.seal("l", b"1|2|a|b", "你好 hello".as_bytes());
        assert_eq!(
            k.open("l", b"1|2|a|b", &sealed).unwrap(),
            "你好 hello".as_bytes()
        );
        assert_eq!(k.open("l", b"1|2|a|c", &sealed), Err(CryptoError::BadMac));
        assert_eq!(k.open("m", b"1|2|a|b", &sealed), Err(CryptoError::BadMac));
        let mut flipped = sealed.clone();
        flipped[IV_LEN] ^= 1;
        assert_eq!(k.open("l", b"1|2|a|b", &flipped), Err(CryptoError::BadMac));
        let other = StorageKey::generate();
        assert_eq!(
            other.open("l", b"1|2|a|b", &sealed),
            Err(CryptoError::BadMac)
        );
        assert_eq!(k.open("l", b"", &sealed[..10]), Err(CryptoError::BadMac));
        // A random IV: the same text seals differently each time.
        assert_ne!(sealed, k.seal("l", b"1|2|a|b", "你好 hello".as_bytes()));
    }

    #[test]
    fn file_is_created_private_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history_key.txt");
        let (k, created) = StorageKey::load_or_create(&path).unwrap();
        assert!(created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, created) = StorageKey::load_or_create(&path).unwrap();
        assert!(!created);
        let sealed = k.seal("l", b"", b"x");
        assert_eq!(again.open("l", b"", &sealed).unwrap(), b"x");
        std::fs::write(&path, "des_key = zz\n").unwrap();
        assert!(matches!(
            StorageKey::load_or_create(&path),
            Err(KeyFileError::Malformed { .. })
        ));
    }
}
