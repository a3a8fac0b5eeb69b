//! The digital envelope of the seed, kept: the session material is encrypted with DES-CBC under
//! a random one-time DES key `k`, and `k` is wrapped with RSA-OAEP-SHA-256 under the client's
//! public key. Authenticity comes from the server's signature over the whole transcript (see
//! [`crate::protocol::keydist::Transcript`]), which the client checks before opening anything.

use zeroize::Zeroizing;

use crate::crypto::{DesKey, PrivateKey, PublicKey, SessionKey, cbc, session};
use crate::error::CryptoError;
use crate::protocol::consts::{DES_KEY_LEN, IV_LEN};
use crate::protocol::message::{RawMessage, b64};

/// The envelope's three parts as they travel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// IV of the DES-CBC layer.
    pub iv: [u8; IV_LEN],
    /// DES-CBC(k, iv, session material).
    pub sealed: Vec<u8>,
    /// RSA-OAEP(client public key, k).
    pub wrapped_key: Vec<u8>,
}

/// The session material's plaintext form inside the envelope:
/// `username_b64|key_id|expires_at|des_key_hex|mac_key_hex`.
fn material_text(key: &SessionKey) -> Zeroizing<String> {
    Zeroizing::new(format!(
        "{}|{}|{}|{}|{}",
        b64(&key.username),
        key.key_id,
        key.expires_rfc3339(),
        key.des.to_hex(),
        *key.mac_key_hex()
    ))
}

impl Envelope {
    /// Seal `key` for `recipient`.
    ///
    /// # Errors
    /// [`CryptoError::Rsa`] if OAEP fails (a key too small to wrap 8 bytes).
    pub fn seal(recipient: &PublicKey, key: &SessionKey) -> Result<Self, CryptoError> {
        Self::seal_showing(recipient, key).map(|(envelope, _)| envelope)
    }

    /// [`seal`](Self::seal), also returning the one-time key `k` (for `--show-secrets`).
    ///
    /// # Errors
    /// As [`seal`](Self::seal).
    pub fn seal_showing(
        recipient: &PublicKey,
        key: &SessionKey,
    ) -> Result<(Self, DesKey), CryptoError> {
        let one_time = DesKey::generate();
        let (iv, sealed) = cbc::encrypt(&one_time, material_text(key).as_bytes());
        let wrapped_key = recipient.oaep_encrypt(one_time.as_bytes())?;
        let envelope = Self {
            iv,
            sealed,
            wrapped_key,
        };
        Ok((envelope, one_time))
    }

    /// Open with the recipient's private key and check the material is what the clear fields said.
    ///
    /// # Errors
    /// [`CryptoError::BadEnvelope`] for anything wrong, deliberately opaque.
    pub fn open(
        &self,
        recipient: &PrivateKey,
        username: &str,
        key_id: &str,
        expires_at: &str,
    ) -> Result<SessionKey, CryptoError> {
        self.open_showing(recipient, username, key_id, expires_at)
            .map(|o| o.session)
    }

    /// [`open`](Self::open), keeping what a student may want to see: the one-time key `k` and
    /// the session material's plaintext.
    ///
    /// # Errors
    /// [`CryptoError::BadEnvelope`] for anything wrong, deliberately opaque.
    pub fn open_showing(
        &self,
        recipient: &PrivateKey,
        username: &str,
        key_id: &str,
        expires_at: &str,
    ) -> Result<Opened, CryptoError> {
        let k = recipient.oaep_decrypt(&self.wrapped_key)?;
        let k: [u8; DES_KEY_LEN] = k
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::BadEnvelope)?;
        let one_time = DesKey::from_bytes(k).map_err(|_| CryptoError::BadEnvelope)?;
        let plain = Zeroizing::new(
            cbc::decrypt(&one_time, &self.iv, &self.sealed)
                .map_err(|_| CryptoError::BadEnvelope)?,
        );
        let text = std::str::from_utf8(&plain).map_err(|_| CryptoError::BadEnvelope)?;
        let m = RawMessage {
            code: String::new(),
            fields: text.split('|').map(str::to_owned).collect(),
        };
        let bad = |_| CryptoError::BadEnvelope;
        m.expect_fields(5).map_err(bad)?;
        let got_user = m.text(0).map_err(bad)?;
        if got_user != username || m.fields[1] != key_id || m.fields[2] != expires_at {
            return Err(CryptoError::BadEnvelope);
        }
        let session = SessionKey {
            username: got_user,
            key_id: key_id.to_owned(),
            des: DesKey::from_hex(&m.fields[3]).map_err(|_| CryptoError::BadEnvelope)?,
            mac_key: SessionKey::parse_mac_key(&m.fields[4])
                .map_err(|_| CryptoError::BadEnvelope)?,
            expires_at: session::parse_time(expires_at).map_err(|_| CryptoError::BadEnvelope)?,
        };
        Ok(Opened {
            session,
            one_time_key: one_time,
            material: Zeroizing::new(text.to_owned()),
        })
    }
}

/// An opened envelope: the session key, and the one-time key and plaintext it came in.
/// Debug shows none of the secrets.
pub struct Opened {
    pub session: SessionKey,
    /// `k`, recovered with the recipient's private key.
    pub one_time_key: DesKey,
    /// The session material as decrypted (`username_b64|key_id|expires_at|des_hex|mac_hex`).
    pub material: Zeroizing<String>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}
