//! Checks the chat server makes before it listens, so a teacher's mistake stops the start with
//! one message naming the setting and the fix, instead of a running server that sends students
//! to the wrong remedy ("try again in a moment", "run the key step").
//!
//! - [`check_session_key_dir`]: the folder server_key writes session keys to must exist.
//! - [`wait_for_database`]: the database must answer (or, with `--wait-for-db`, be waited for,
//!   with a countdown the operator can see).

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::config::{Loaded, ServerConfig};

use crate::db::{DbError, UserStore, redact_url};

/// Why the server does not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "session_key_dir {dir} does not exist (set in {server_toml}{line}). It must be the \"sessions\" folder \
         inside server_key's key folder, i.e. server_key.toml's key_dir + \"/sessions\"{key_toml}. Fix: start \
         server_key once (it creates KEY_DIR/sessions), or correct session_key_dir in server.toml to point at it"
    )]
    NoSessionKeyDir {
        dir: PathBuf,
        server_toml: String,
        line: String,
        /// `" (server_key.toml found at X: key_dir = ...)"` when one is found where the default
        /// layout puts it, else empty.
        key_toml: String,
    },
    #[error(
        "cannot reach the database {url}: {reason}. Check that MySQL/MariaDB is running on that host and port and \
         that the user and password in `database` ({server_toml}) are right; or start the server with \
         --wait-for-db to keep retrying until it answers"
    )]
    DatabaseUnreachable {
        /// Without the password.
        url: String,
        reason: String,
        server_toml: String,
    },
    #[error("database {url}: {source}")]
    Database {
        url: String,
        #[source]
        source: DbError,
    },
}

fn config_name(loaded: &Loaded<ServerConfig>) -> String {
    loaded.path.as_deref().map_or_else(
        || "the defaults: no server.toml was found".to_owned(),
        |p| p.display().to_string(),
    )
}

/// The folder server_key writes `<user>.txt` session keys to must exist: without it every login
/// would be refused with "no session key" and students would run the key step in vain.
///
/// # Errors
/// [`StartError::NoSessionKeyDir`] naming server.toml's `session_key_dir` and server_key.toml's
/// `key_dir`.
pub fn check_session_key_dir(loaded: &Loaded<ServerConfig>) -> Result<PathBuf, StartError> {
    let dir = loaded.resolve(&loaded.config.session_key_dir);
    if dir.is_dir() {
        return Ok(dir);
    }
    let line = loaded
        .path
        .as_deref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| common::config::mistake::line_of_key(&t, "session_key_dir"))
        .map_or_else(
            || {
                format!(
                    ", session_key_dir = {:?} (the default)",
                    loaded.config.session_key_dir
                )
            },
            |l| format!(", line {l}"),
        );
    // The default layout: <root>/server_key/server_key.toml with key_dir = "keys", sessions in
    // <root>/server_key/keys/sessions.
    let key_toml = dir
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("server_key.toml"))
        .filter(|p| p.is_file())
        .map(|p| format!(" (is it {}?)", p.display()))
        .unwrap_or_default();
    Err(StartError::NoSessionKeyDir {
        dir,
        server_toml: config_name(loaded),
        line,
        key_toml,
    })
}

/// How long `--wait-for-db` waits between tries.
pub const DB_RETRY: Duration = Duration::from_secs(5);

/// Make sure the database answers. With `wait`, try again every [`DB_RETRY`] until it does,
/// printing a countdown (one line per second on a terminal, one line per try otherwise).
///
/// # Errors
/// [`StartError::DatabaseUnreachable`] (without `wait`), or another database error.
pub fn wait_for_database(
    store: &dyn UserStore,
    url: &str,
    loaded: &Loaded<ServerConfig>,
    wait: bool,
) -> Result<(), StartError> {
    let shown = redact_url(url);
    let mut attempt = 1u32;
    loop {
        match store.ping() {
            Ok(()) => {
                if attempt > 1 {
                    eprintln!("server: database {shown} answers now");
                }
                return Ok(());
            }
            Err(DbError::Unavailable(reason)) if wait => {
                countdown(&shown, attempt, &reason);
                attempt += 1;
            }
            Err(DbError::Unavailable(reason)) => {
                return Err(StartError::DatabaseUnreachable {
                    url: shown,
                    reason,
                    server_toml: config_name(loaded),
                });
            }
            Err(source) => {
                return Err(StartError::Database { url: shown, source });
            }
        }
    }
}

fn countdown(url: &str, attempt: u32, reason: &str) {
    let secs = DB_RETRY.as_secs();
    eprintln!("server: --wait-for-db: database {url} not reachable (try {attempt}): {reason}");
    if std::io::stderr().is_terminal() {
        for left in (1..=secs).rev() {
            eprint!("\rserver: next try in {left} s ");
            let _ = std::io::stderr().flush();
            std::thread::sleep(Duration::from_secs(1));
        }
        eprint!("\r");
    } else {
        eprintln!("server: next try in {secs} s");
        std::thread::sleep(DB_RETRY);
    }
}
