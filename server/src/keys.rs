//! Session keys written by server_key, read at each login (so a new distribution takes effect
//! at the user's next login, without restarting the chat server).

use std::path::Path;

use common::error::KeyFileError;
use common::keyfile::KeyFile;
use common::protocol::Reason;
use common::protocol::chat::ErrorMsg;

/// Load `<dir>/<username>.txt` and check it is current and names `key_id`.
///
/// # Errors
/// The `1009` error to send the client.
pub fn session_key_for(dir: &Path, username: &str, key_id: &str) -> Result<KeyFile, ErrorMsg> {
    let path = dir.join(format!("{username}.txt"));
    let run_key = "run the key step first";
    let file = KeyFile::load(&path).map_err(|e| match e {
        KeyFileError::Missing { .. } => ErrorMsg::new(
            Reason::NoSessionKey,
            format!("the server has no session key for {username}; {run_key}"),
        ),
        other => {
            tracing::warn!(error = %other, "unusable session key file");
            ErrorMsg::new(
                Reason::NoSessionKey,
                format!("the server's session key for {username} is unreadable; {run_key}"),
            )
        }
    })?;
    if file.key.username != username {
        tracing::warn!(path = %path.display(), "session key file names another user");
        return Err(ErrorMsg::new(
            Reason::NoSessionKey,
            format!("the server's session key for {username} is invalid; {run_key}"),
        ));
    }
    if file.key.is_expired() {
        return Err(ErrorMsg::new(
            Reason::KeyExpired,
            format!(
                "the session key for {username} expired at {}; {run_key}",
                file.key.expires_rfc3339()
            ),
        ));
    }
    if file.key.key_id != key_id {
        return Err(ErrorMsg::new(
            Reason::KeyMismatch,
            format!(
                "your session key {key_id} is not the server's current key for {username}; run the key step again"
            ),
        ));
    }
    Ok(file)
}

/// The key a login names, for checking its MAC: `(file, expired)`. Every problem found before
/// the MAC (no file, an unreadable one, one naming another user or another key id) gets the
/// same answer, `KEY_MISMATCH`, so a connection without the key learns nothing about the
/// user's key state; expiry is answered only after the MAC proved the client holds the key.
///
/// # Errors
/// The one pre-MAC `1009` error.
pub fn login_key(dir: &Path, username: &str, key_id: &str) -> Result<(KeyFile, bool), ErrorMsg> {
    let path = dir.join(format!("{username}.txt"));
    let refused = key_refused;
    let file = match KeyFile::load(&path) {
        Ok(f) => f,
        Err(KeyFileError::Missing { .. }) => return Err(refused()),
        Err(other) => {
            tracing::warn!(error = %other, "unusable session key file");
            return Err(refused());
        }
    };
    if file.key.username != username || file.key.key_id != key_id {
        if file.key.username != username {
            tracing::warn!(path = %path.display(), "session key file names another user");
        }
        return Err(refused());
    }
    let expired = file.key.is_expired();
    Ok((file, expired))
}

/// The one answer to a login whose key the server cannot use (before the MAC, and when the MAC
/// fails): which of the reasons applies is only logged.
pub fn key_refused() -> ErrorMsg {
    ErrorMsg::new(
        Reason::KeyMismatch,
        "the server does not accept this session key (none was distributed, or it was replaced \
         or revoked); run the key step again",
    )
}

/// The `1009 KEY_EXPIRED` for `file` (sent only after the login's MAC verified).
pub fn expired(file: &KeyFile) -> ErrorMsg {
    ErrorMsg::new(
        Reason::KeyExpired,
        format!(
            "the session key for {} expired at {}; run the key step first",
            file.key.username,
            file.key.expires_rfc3339()
        ),
    )
}
