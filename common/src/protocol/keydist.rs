//! Key-distribution messages (server_key, port 8091). PROTOCOL.md describes them byte by byte.
//!
//! ```text
//! server -> client  1100|version|server_pub|server_nonce                         KeyHello
//! client -> server  0101|username|client_pub|client_nonce|client_sig              KeyRequest
//! server -> client  1101|key_id|expires_at|issued_at|iv|sealed|wrapped_key|server_sig  KeyEnvelope
//! client -> server  0102|key_id|confirm_mac                                       KeyConfirm
//! server -> client  1102|key_id|done_mac                                          KeyDone
//! server -> client  1109|reason|message                                           KeyError (any time)
//! ```

use zeroize::Zeroizing;

use crate::crypto::envelope::Envelope;
use crate::crypto::{DesKey, PrivateKey, PublicKey, SessionKey};
use crate::error::{CryptoError, ProtocolError};
use crate::protocol::consts::{KEY_ID_LEN, MAC_LEN, NONCE_LEN, PROTOCOL_VERSION, code, label};
use crate::protocol::material::parse_material;
use crate::protocol::message::{RawMessage, b64};
use crate::protocol::reason::{Family, Reason};

/// Server hello: who the server is and its fresh nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyHello {
    pub version: u32,
    pub server_pub: Vec<u8>,
    pub server_nonce: [u8; NONCE_LEN],
}

/// Client request, signed by the client's long-term key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRequest {
    pub username: String,
    pub client_pub: Vec<u8>,
    pub client_nonce: [u8; NONCE_LEN],
    pub signature: Vec<u8>,
}

/// The signed digital envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEnvelope {
    pub key_id: String,
    pub expires_at: String,
    /// The key server's clock when it made the envelope (RFC 3339, whole seconds, UTC). Signed
    /// with the rest, so the client can trust it to judge expiry by the server's clock.
    pub issued_at: String,
    pub envelope: Envelope,
    pub signature: Vec<u8>,
}

/// Client's proof that it opened the envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyConfirm {
    pub key_id: String,
    pub mac: [u8; MAC_LEN],
}

/// A refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    pub reason: Reason,
    pub message: String,
}

impl KeyHello {
    pub fn to_text(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            code::KEY_HELLO,
            self.version,
            b64(&self.server_pub),
            b64(self.server_nonce)
        )
    }

    /// # Errors
    /// [`ProtocolError`] for a malformed message or another protocol version.
    pub fn from_message(m: &RawMessage) -> Result<Self, ProtocolError> {
        m.expect_code(code::KEY_HELLO)?;
        m.expect_fields(3)?;
        let version = u32::try_from(m.number(0)?).unwrap_or(u32::MAX);
        if version != PROTOCOL_VERSION {
            return Err(ProtocolError::Version(version));
        }
        Ok(Self {
            version,
            server_pub: m.bytes(1)?,
            server_nonce: m.array(2)?,
        })
    }
}

impl KeyRequest {
    pub fn to_text(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}",
            code::KEY_REQUEST,
            b64(&self.username),
            b64(&self.client_pub),
            b64(self.client_nonce),
            b64(&self.signature)
        )
    }

    /// # Errors
    /// [`ProtocolError`] for a malformed message.
    pub fn from_message(m: &RawMessage) -> Result<Self, ProtocolError> {
        m.expect_code(code::KEY_REQUEST)?;
        m.expect_fields(4)?;
        Ok(Self {
            username: m.text(0)?,
            client_pub: m.bytes(1)?,
            client_nonce: m.array(2)?,
            signature: m.bytes(3)?,
        })
    }
}

impl KeyEnvelope {
    /// The fields exactly as they appear on the wire (and in the signed transcript).
    fn wire_fields(&self) -> [String; 6] {
        [
            self.key_id.clone(),
            self.expires_at.clone(),
            self.issued_at.clone(),
            b64(self.envelope.iv),
            b64(&self.envelope.sealed),
            b64(&self.envelope.wrapped_key),
        ]
    }

    pub fn to_text(&self) -> String {
        format!(
            "{}|{}|{}",
            code::KEY_ENVELOPE,
            self.wire_fields().join("|"),
            b64(&self.signature)
        )
    }

    /// # Errors
    /// [`ProtocolError`] for a malformed message.
    pub fn from_message(m: &RawMessage) -> Result<Self, ProtocolError> {
        m.expect_code(code::KEY_ENVELOPE)?;
        m.expect_fields(7)?;
        Ok(Self {
            key_id: m.hex_id(0, KEY_ID_LEN)?,
            expires_at: time_field(m, 1)?,
            issued_at: time_field(m, 2)?,
            envelope: Envelope {
                iv: m.array(3)?,
                sealed: m.bytes(4)?,
                wrapped_key: m.bytes(5)?,
            },
            signature: m.bytes(6)?,
        })
    }
}

impl KeyEnvelope {
    /// Check the server's signature over the whole transcript (with the server's key from
    /// `1100`, already compared with the pinned one). Only a [`VerifiedEnvelope`] can be opened:
    /// "verify, then open" is the type's rule, not the caller's.
    ///
    /// # Errors
    /// [`CryptoError`] when the signature does not verify.
    pub fn verify(
        self,
        server_key: &PublicKey,
        transcript: &Transcript,
    ) -> Result<VerifiedEnvelope, CryptoError> {
        server_key.verify(&transcript.envelope_bytes(&self), &self.signature)?;
        Ok(VerifiedEnvelope {
            envelope: self,
            username: transcript.username.clone(),
        })
    }
}

/// A `1101` whose signature verified over the transcript for `username`.
#[derive(Debug, Clone)]
pub struct VerifiedEnvelope {
    envelope: KeyEnvelope,
    username: String,
}

/// An opened envelope: the session key, and the one-time key and material it came in (for the
/// key-step view and `--show-secrets`). Debug shows none of the secrets.
pub struct OpenedSession {
    pub session: SessionKey,
    /// `k`, recovered with the client's private key.
    pub one_time_key: DesKey,
    /// The decrypted material text.
    pub material: Zeroizing<String>,
}

impl std::fmt::Debug for OpenedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedSession")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl VerifiedEnvelope {
    pub fn envelope(&self) -> &KeyEnvelope {
        &self.envelope
    }

    pub fn into_envelope(self) -> KeyEnvelope {
        self.envelope
    }

    /// Open with the client's private key: `k`, then the material, which must name this
    /// transcript's user and the clear `key_id` and `expires_at`.
    ///
    /// # Errors
    /// [`CryptoError::BadEnvelope`], deliberately opaque.
    pub fn open(&self, client_key: &PrivateKey) -> Result<OpenedSession, CryptoError> {
        let (one_time_key, plain) = self.envelope.envelope.unseal(client_key)?;
        let session = parse_material(
            &plain,
            &self.username,
            &self.envelope.key_id,
            &self.envelope.expires_at,
        )?;
        let material = Zeroizing::new(String::from_utf8_lossy(&plain).into_owned());
        Ok(OpenedSession {
            session,
            one_time_key,
            material,
        })
    }
}

/// Field `index` of `m`, which must be an RFC 3339 time; kept as sent (it is signed as sent).
fn time_field(m: &RawMessage, index: usize) -> Result<String, ProtocolError> {
    let t = m.token(index)?;
    crate::crypto::session::parse_time(t).map_err(|reason| ProtocolError::BadField {
        code: m.code.clone(),
        index,
        reason,
    })?;
    Ok(t.to_owned())
}

impl KeyConfirm {
    pub fn to_text(&self) -> String {
        format!("{}|{}|{}", code::KEY_CONFIRM, self.key_id, b64(self.mac))
    }

    /// # Errors
    /// [`ProtocolError`] for a malformed message.
    pub fn from_message(m: &RawMessage) -> Result<Self, ProtocolError> {
        m.expect_code(code::KEY_CONFIRM)?;
        m.expect_fields(2)?;
        Ok(Self {
            key_id: m.hex_id(0, KEY_ID_LEN)?,
            mac: m.array(1)?,
        })
    }
}

/// The server's word that it stored the key: `1102|key_id|done_mac`, where `done_mac` is the
/// HMAC-SHA-256 of [`Transcript::done_bytes`] under the new session's MAC key, so that nobody
/// without the new key (an attacker who dropped the confirmation) can forge it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDone {
    pub key_id: String,
    pub mac: [u8; MAC_LEN],
}

impl KeyDone {
    pub fn to_text(&self) -> String {
        format!("{}|{}|{}", code::KEY_DONE, self.key_id, b64(self.mac))
    }

    /// # Errors
    /// [`ProtocolError`] for a malformed message.
    pub fn from_message(m: &RawMessage) -> Result<Self, ProtocolError> {
        m.expect_code(code::KEY_DONE)?;
        m.expect_fields(2)?;
        Ok(Self {
            key_id: m.hex_id(0, KEY_ID_LEN)?,
            mac: m.array(1)?,
        })
    }
}

impl KeyError {
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }

    pub fn to_text(&self) -> String {
        format!("{}|{}|{}", code::KEY_ERROR, self.reason, b64(&self.message))
    }

    /// # Errors
    /// [`ProtocolError`] for a malformed message.
    pub fn from_message(m: &RawMessage) -> Result<Self, ProtocolError> {
        m.expect_code(code::KEY_ERROR)?;
        m.expect_fields(2)?;
        Ok(Self {
            reason: Reason::from_wire(Family::Key, m.token(0)?),
            message: m.text(1)?,
        })
    }
}

/// Everything both sides know after the request: what the signatures bind together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    pub username: String,
    pub client_fingerprint: String,
    pub server_fingerprint: String,
    pub server_nonce: [u8; NONCE_LEN],
    pub client_nonce: [u8; NONCE_LEN],
}

impl Transcript {
    fn base(&self, label: &str) -> String {
        format!(
            "{label}|{}|{}|{}|{}|{}",
            b64(&self.username),
            self.client_fingerprint,
            self.server_fingerprint,
            b64(self.server_nonce),
            b64(self.client_nonce)
        )
    }

    /// What the client signs: `minichat-keyreq-v1|username|client_fp|server_fp|server_nonce|client_nonce`.
    pub fn request_bytes(&self) -> Vec<u8> {
        self.base(label::KEY_REQUEST).into_bytes()
    }

    /// What the server signs: the request transcript under the envelope label, then
    /// `|key_id|expires_at|issued_at|iv|sealed|wrapped_key` exactly as sent.
    pub fn envelope_bytes(&self, env: &KeyEnvelope) -> Vec<u8> {
        format!(
            "{}|{}",
            self.base(label::KEY_ENVELOPE),
            env.wire_fields().join("|")
        )
        .into_bytes()
    }

    /// What the client's confirmation MAC covers: `minichat-keyconfirm-v1|` + hex SHA-256 of the
    /// signed envelope transcript.
    pub fn confirm_bytes(&self, env: &KeyEnvelope) -> Vec<u8> {
        self.envelope_digest_under(label::KEY_CONFIRM, env)
    }

    /// What the server's done MAC covers: `minichat-keydone-v1|` + hex SHA-256 of the signed
    /// envelope transcript (the label keeps it from ever equalling a confirmation).
    pub fn done_bytes(&self, env: &KeyEnvelope) -> Vec<u8> {
        self.envelope_digest_under(label::KEY_DONE, env)
    }

    fn envelope_digest_under(&self, label: &str, env: &KeyEnvelope) -> Vec<u8> {
        format!(
            "{label}|{}",
            hex::encode(crate::crypto::sha256(&self.envelope_bytes(env)))
        )
        .into_bytes()
    }
}
