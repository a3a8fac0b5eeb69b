//! The session material: the digital envelope's plaintext (PROTOCOL.md §5.5),
//! `b64(username)|key_id|expires_at|hex(wk)|hex(mk)`, and its check against the `1101`'s clear
//! fields. Opening an envelope is [`VerifiedEnvelope::open`](super::keydist::VerifiedEnvelope),
//! after the signature check.

use zeroize::Zeroizing;

use crate::crypto::envelope::Envelope;
use crate::crypto::{DesKey, PublicKey, SessionKey, session};
use crate::error::CryptoError;
use crate::protocol::message::{RawMessage, b64};

/// The material's text for `key`.
pub fn material_text(key: &SessionKey) -> Zeroizing<String> {
    Zeroizing::new(format!(
        "{}|{}|{}|{}|{}",
        b64(&key.username),
        key.key_id,
        key.expires_rfc3339(),
        key.des.to_hex(),
        *key.mac_key_hex()
    ))
}

/// Seal `key`'s material for `recipient` (server_key's side); also returns the one-time key.
///
/// # Errors
/// [`CryptoError::Rsa`] if OAEP fails.
pub fn seal_session(
    recipient: &PublicKey,
    key: &SessionKey,
) -> Result<(Envelope, DesKey), CryptoError> {
    Envelope::seal(recipient, material_text(key).as_bytes())
}

/// Parse decrypted material and check it names `username`, `key_id` and `expires_at` exactly
/// as the clear fields did.
///
/// # Errors
/// [`CryptoError::BadEnvelope`] for anything wrong, deliberately opaque.
pub fn parse_material(
    plain: &[u8],
    username: &str,
    key_id: &str,
    expires_at: &str,
) -> Result<SessionKey, CryptoError> {
    fn bad<E>(_: E) -> CryptoError {
        CryptoError::BadEnvelope
    }
    let text = std::str::from_utf8(plain).map_err(bad)?;
    let m = RawMessage::new("", text.split('|').map(str::to_owned).collect());
    m.expect_fields(5).map_err(bad)?;
    let got_user = m.text(0).map_err(bad)?;
    if got_user != username || m.fields[1] != key_id || m.fields[2] != expires_at {
        return Err(CryptoError::BadEnvelope);
    }
    Ok(SessionKey {
        username: got_user,
        key_id: key_id.to_owned(),
        des: DesKey::from_hex(&m.fields[3]).map_err(bad)?,
        mac_key: SessionKey::parse_mac_key(&m.fields[4]).map_err(bad)?,
        expires_at: session::parse_time(expires_at).map_err(bad)?,
    })
}
