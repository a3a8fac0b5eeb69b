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
