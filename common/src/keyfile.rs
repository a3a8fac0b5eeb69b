//! The session-key txt file that both sides write: the client's `session_key.txt` and
//! server_key's `sessions/<username>.txt`. A small TOML document, written atomically with
//! mode 0600; a malformed file is an error that names the file and the problem.

use std::path::Path;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::crypto::session::{format_time, parse_time};
use crate::crypto::{DesKey, SessionKey};
use crate::error::KeyFileError;

/// The file's fields. Unknown keys are refused so a typo cannot silently drop a field.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileToml {
    username: String,
    key_id: String,
    /// DES working key, 16 hex digits.
    des_key: String,
    /// HMAC-SHA-256 key for frame integrity, 64 hex digits.
    mac_key: String,
    /// RFC 3339.
    expires_at: String,
    /// RFC 3339.
    created_at: String,
    server_fingerprint: String,
    client_fingerprint: String,
    /// Client side only: the key server's clock minus this computer's, in seconds, measured at
    /// the key step (absent in older files and on the server side: 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    clock_offset_secs: Option<i64>,
}

/// A session key plus who it was agreed between.
#[derive(Debug, Clone)]
pub struct KeyFile {
    pub key: SessionKey,
    pub created_at: time::OffsetDateTime,
    pub server_fingerprint: String,
    pub client_fingerprint: String,
    /// The key server's clock minus this computer's clock, in seconds, measured when the
    /// (signed) envelope arrived; the client judges expiry by `now + offset`. `None` on the
    /// server side and in files written before the offset was kept.
    pub clock_offset_secs: Option<i64>,
}

impl KeyFile {
    /// Serialize to the TOML text (contains secrets).
    pub fn to_toml(&self) -> Zeroizing<String> {
        let t = KeyFileToml {
            username: self.key.username.clone(),
            key_id: self.key.key_id.clone(),
            des_key: self.key.des.to_hex(),
            mac_key: self.key.mac_key_hex().to_string(),
            expires_at: self.key.expires_rfc3339(),
            created_at: format_time(self.created_at),
            server_fingerprint: self.server_fingerprint.clone(),
            client_fingerprint: self.client_fingerprint.clone(),
            clock_offset_secs: self.clock_offset_secs,
        };
        let body = toml::to_string(&t).expect("plain strings always serialize");
        // The username is escaped in the comment: a control character there is invalid TOML and a
        // newline would put the rest of the name into the TOML (found by fuzzing: the file then
        // failed to load).
        Zeroizing::new(format!(
            "# mini-chat session key for {}. SECRET: whoever holds this file can read and forge\n\
             # this user's chat traffic until expires_at. Written by the key step; do not edit.\n{body}",
            self.key.username.escape_debug()
        ))
    }

    /// Parse TOML text; `path` only names the file in errors.
    ///
    /// # Errors
    /// [`KeyFileError::Malformed`] naming the file and the problem.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, KeyFileError> {
        let bad = |message: String| KeyFileError::Malformed {
            path: path.to_path_buf(),
            message,
        };
        let t: KeyFileToml = toml::from_str(text).map_err(|e| bad(e.message().to_owned()))?;
        let des = DesKey::from_hex(&t.des_key).map_err(|e| bad(format!("des_key: {e}")))?;
        let mac_key =
            SessionKey::parse_mac_key(&t.mac_key).map_err(|e| bad(format!("mac_key: {e}")))?;
        if t.key_id.len() != 16
            || !t
                .key_id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(bad("key_id: must be 16 lowercase hex digits".into()));
        }
        Ok(Self {
            key: SessionKey {
                username: t.username,
                key_id: t.key_id,
                des,
                mac_key,
                expires_at: parse_time(&t.expires_at)
                    .map_err(|e| bad(format!("expires_at: {e}")))?,
            },
            created_at: parse_time(&t.created_at).map_err(|e| bad(format!("created_at: {e}")))?,
            server_fingerprint: t.server_fingerprint,
            client_fingerprint: t.client_fingerprint,
            clock_offset_secs: t.clock_offset_secs,
        })
    }

    /// Read and parse a key file.
    ///
    /// # Errors
    /// [`KeyFileError::Missing`], [`KeyFileError::Read`] or [`KeyFileError::Malformed`], naming the file.
    pub fn load(path: &Path) -> Result<Self, KeyFileError> {
        let text = Zeroizing::new(crate::fsutil::read_key_text(path)?);
        Self::from_toml(&text, path)
    }

    /// Write atomically with mode 0600; on failure the previous file is intact.
    ///
    /// # Errors
    /// [`KeyFileError::Write`] naming the file.
    pub fn save(&self, path: &Path) -> Result<(), KeyFileError> {
        crate::fsutil::write_atomic(path, self.to_toml().as_bytes(), true).map_err(|source| {
            KeyFileError::Write {
                path: path.to_path_buf(),
                source,
            }
        })
    }
}
