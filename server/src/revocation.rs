//! Sessions end when what let them in is withdrawn. Every [`Settings::revocation_check`] one
//! task compares each online session's [`Credential`] with the files and the database:
//!
//! * the session key file is gone (`server_key clients revoke`), names another key id (a new key
//!   step elsewhere), or has expired: `1009 NO_SESSION_KEY` / `KEY_MISMATCH` / `KEY_EXPIRED`,
//!   the same answers a login would get now;
//! * the user was removed, or their stored password hash changed (`server user passwd`, an
//!   import with `--reset-passwords`): `1009 REVOKED`. A session's own password change updates
//!   its credential first ([`crate::relay::Registry::set_password_hash`]), so it stays.
//!
//! The admin commands run in another process, so polling is how the chat server learns of them;
//! the same tick picks up `server user unlock` requests ([`crate::throttle`]).
//! The cost per check is one `list_users` query and one small file read per online session.
//! When the database cannot be reached, only the key files are checked (a database outage must
//! not log everybody out).
//!
//! [`Settings::revocation_check`]: crate::server::Settings::revocation_check
//! [`Credential`]: crate::relay::Credential

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use common::protocol::Reason;
use common::protocol::chat::ErrorMsg;
use tracing::{info, warn};

use crate::db::UserStore;
use crate::keys::session_key_for;
use crate::relay::Held;
use crate::server::Shared;

/// Check the online sessions every `settings.revocation_check` until the task is aborted.
pub async fn watch(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(shared.settings.revocation_check);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Some(dir) = shared.settings.unlock_dir.clone() {
            let names = tokio::task::spawn_blocking(move || take_unlock_requests(&dir))
                .await
                .unwrap_or_default();
            for name in names {
                info!(user = name, "unlocked by `server user unlock`");
                shared.logins.unlock(&name);
            }
        }
        let held = shared.registry.credentials();
        if held.is_empty() {
            continue;
        }
        let store = shared.store.clone();
        let dir = shared.settings.session_key_dir.clone();
        let Ok(ended) = tokio::task::spawn_blocking(move || withdrawn(&*store, &dir, held)).await
        else {
            continue;
        };
        for (h, why) in ended {
            info!(user = h.username, reason = %why.reason, "session ended: {}", why.message);
            shared.registry.kick(&h.username, h.conn_id, why);
        }
    }
}

/// The sessions among `held` whose credential no longer holds, each with the error to send.
pub fn withdrawn(store: &dyn UserStore, dir: &Path, held: Vec<Held>) -> Vec<(Held, ErrorMsg)> {
    let hashes: Option<HashMap<String, String>> = match store.list_users() {
        Ok(users) => Some(
            users
                .into_iter()
                .map(|u| (u.user_name, u.user_password))
                .collect(),
        ),
        Err(e) => {
            warn!(error = %e, "revocation check: database unavailable; checking key files only");
            None
        }
    };
    let mut out = Vec::new();
    for h in held {
        if let Err(why) = session_key_for(dir, &h.username, &h.credential.key_id) {
            out.push((h, why));
            continue;
        }
        let Some(hashes) = &hashes else { continue };
        let why = match hashes.get(&h.username) {
            None => "the user was removed from the chat server",
            Some(hash) if !h.credential.accepts(hash) => {
                "the user's password was changed on the chat server"
            }
            Some(_) => continue,
        };
        out.push((h, ErrorMsg::new(Reason::Revoked, why)));
    }
    out
}

/// The usernames `server user unlock` asked for (files in `dir`), removing the requests.
fn take_unlock_requests(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if let Some(name) = path.file_name().and_then(|n| n.to_str())
            && common::protocol::check_username(name).is_ok()
            && std::fs::remove_file(&path).is_ok()
        {
            names.push(name.to_owned());
        }
    }
    names
}
