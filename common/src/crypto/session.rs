//! The session key material that the digital envelope carries and both key files store:
//! a DES working key for confidentiality, an independent HMAC-SHA-256 key for integrity, a key id
//! that names this distribution, the username it belongs to and its expiry.

use std::fmt;

use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::crypto::{DesKey, random};
use crate::crypto::{KEY_ID_LEN, MAC_KEY_LEN};
use crate::error::CryptoError;

/// A distributed session key. Debug never prints key material.
#[derive(Clone)]
pub struct SessionKey {
    pub username: String,
    /// Random id of this distribution; a login must name it, so a stale key is detected.
    pub key_id: String,
    pub des: DesKey,
    pub mac_key: Zeroizing<[u8; MAC_KEY_LEN]>,
    pub expires_at: OffsetDateTime,
}

impl SessionKey {
    /// Fresh key material for `username`, valid for `ttl`.
    pub fn generate(username: &str, ttl: time::Duration) -> Self {
        let now = now_whole_seconds();
        Self {
            username: username.to_owned(),
            key_id: hex::encode(random::bytes::<KEY_ID_LEN>()),
            des: DesKey::generate(),
            mac_key: Zeroizing::new(random::bytes::<MAC_KEY_LEN>()),
            expires_at: now + ttl,
        }
    }

    /// Expired by this computer's clock (the servers judge by their own).
    pub fn is_expired(&self) -> bool {
        self.is_expired_at(OffsetDateTime::now_utc())
    }

    /// Expired at `now` (a client passes its estimate of the server's clock).
    pub fn is_expired_at(&self, now: OffsetDateTime) -> bool {
        now >= self.expires_at
    }

    /// `expires_at` as RFC 3339.
    pub fn expires_rfc3339(&self) -> String {
        format_time(self.expires_at)
    }

    pub fn mac_key_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(*self.mac_key))
    }

    /// Parse a MAC key from 64 hex digits.
    ///
    /// # Errors
    /// [`CryptoError::BadKey`].
    pub fn parse_mac_key(s: &str) -> Result<Zeroizing<[u8; MAC_KEY_LEN]>, CryptoError> {
        let mut k = Zeroizing::new([0u8; MAC_KEY_LEN]);
        hex::decode_to_slice(s.trim(), &mut *k).map_err(|_| {
            CryptoError::BadKey(format!("a MAC key is {} hex digits", MAC_KEY_LEN * 2))
        })?;
        Ok(k)
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionKey")
            .field("username", &self.username)
            .field("key_id", &self.key_id)
            .field("expires_at", &self.expires_rfc3339())
            .finish_non_exhaustive()
    }
}

/// Now in UTC without the fraction of a second (the protocol's times are whole seconds).
pub fn now_whole_seconds() -> OffsetDateTime {
    OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("0 is a valid nanosecond")
}

/// RFC 3339 in UTC, e.g. `2026-11-28T04:00:00Z`.
pub fn format_time(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .expect("any UTC time formats as RFC 3339")
}

/// Parse RFC 3339.
///
/// Only times whose UTC form is in the years 0000 to 9999 are accepted, so that [`format_time`]
/// can always write them back: `0000-01-01T00:00:00+00:01` is year -1 in UTC and
/// `9999-12-31T23:59:59-00:01` is year 10000 (found by fuzzing; both used to panic when printed).
///
/// # Errors
/// A message naming the expected format.
pub fn parse_time(s: &str) -> Result<OffsetDateTime, String> {
    let t = OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("{s:?} is not an RFC 3339 time ({e})"))?;
    match t.checked_to_offset(time::UtcOffset::UTC) {
        Some(utc) if (0..=9999).contains(&utc.year()) => Ok(t),
        _ => Err(format!("{s:?} is outside the years 0000 to 9999 in UTC")),
    }
}
