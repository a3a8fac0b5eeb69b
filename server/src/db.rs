//! The `users` and `chat_history` tables, behind one trait with an embedded SQLite and a
//! MySQL/MariaDB implementation.
//!
//! # Backends
//! - `sqlite://PATH` (the default, `sqlite://data/mini_chat.db`): the folder and file are created
//!   and the schema and the three seed users are put in on first open, so a fresh machine needs no
//!   setup. `sqlite::memory:` is a throw-away database (tests).
//! - `mysql://user:pass@host:3306/mini_chat`: the database is created if missing, then the table
//!   and seed users as for SQLite. If the server is down at [`open`], the store is still returned
//!   and connects on first use; meanwhile every call fails with [`DbError::Unavailable`].
//!
//! Opening seeds only a table it has just created: a table an operator emptied on purpose does
//! not get the classroom accounts back at the next start (`server db init` does that).
//!
//! # Blocking
//! Every call is synchronous: rusqlite and the `mysql` crate are blocking drivers, and a login
//! also spends ~40 ms of CPU in PBKDF2. The chat server therefore calls them through
//! `tokio::task::spawn_blocking`, never directly on an async worker thread.
//!
//! # Safety rules
//! - Every query that carries user input is parameterised; identifiers (the MySQL database name)
//!   are validated to `[A-Za-z0-9_]+` and backquoted.
//! - Passwords are stored as PBKDF2 hash strings ([`common::crypto::password`]). Rows from the
//!   seed's database still hold plaintext: they log in (with a warning) until `server db upgrade`
//!   hashes them in place.
//! - [`check_login`] gives one answer for an unknown user and a wrong password, after the same
//!   amount of PBKDF2 work, so neither the answer nor its timing reveals which usernames exist.
//! - [`UserStore::describe`] and every error message leave the database password out.

mod mysql;
mod sqlite;

use std::sync::{Arc, OnceLock};

use common::crypto::mac::ct_eq;
use common::crypto::password::{hash_password, is_hash, verify_password};
use common::protocol::consts::{MAX_PASSWORD_LEN, MAX_USERNAME_LEN};

pub use self::mysql::MysqlStore;
pub use self::sqlite::SqliteStore;

/// Errors of the user store.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database cannot be reached (server down, refused, timed out, locked): try again later.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Query(String),
    /// [`UserStore::add_user`] with a name that is taken.
    #[error("user {0} already exists")]
    Exists(String),
    /// A URL that [`open`] does not understand (its password, if any, is masked).
    #[error("invalid database URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
}

/// One row of the `users` table (the seed's column names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub user_id: i64,
    pub user_name: String,
    /// A PBKDF2 hash string, or a legacy plaintext password (see [`is_hash`]).
    pub user_password: String,
    pub user_nickname: String,
    /// The user must choose a new password before chatting (set by `server user import`; a
    /// database without the column, not yet upgraded, reads as `false`).
    pub must_change_password: bool,
}

/// What [`UserStore::import_users`] does with one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportAction {
    /// Insert a new row (the whole import fails with [`DbError::Exists`] if the name is taken).
    Add,
    /// Replace the password of an existing row (`--reset-passwords`).
    ResetPassword,
}

/// One user written by [`UserStore::import_users`]; always flagged `must_change_password`.
#[derive(Debug, Clone)]
pub struct ImportUser {
    pub username: String,
    pub nickname: String,
    pub password_hash: String,
    pub action: ImportAction,
}

/// The seed's three accounts `(user_name, password, nickname)`, inserted (hashed) into an empty
/// table by [`UserStore::init`]. Classroom accounts: change their passwords on a real deployment.
pub const SEED_USERS: [(&str, &str, &str); 3] = [
    ("user1", "111111", "wang_yuan"),
    ("user2", "111111", "ding_zhen"),
    ("user3", "111111", "cxk"),
];

/// The column [`ImportUser`]s are flagged in; `server db upgrade` adds it to older tables.
pub const FLAG_COLUMN: &str = "must_change_password";

/// One row of the `chat_history` table: the routing fields in clear (they are indexed), the
/// sender's nickname and the text only inside `body`, sealed under the server's storage key
/// ([`crate::history::StorageKey`]), which never enters the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    /// The message id the relay gave the message (unique, increasing).
    pub msg_id: u64,
    /// Server time in milliseconds since the Unix epoch.
    pub sent_ms: u64,
    pub from_user: String,
    /// `None` for a message to everyone.
    pub to_user: Option<String>,
    /// `false` for a private message held for its offline recipient until their next login.
    pub delivered: bool,
    /// IV, DES-CBC ciphertext and HMAC (see [`crate::history::StorageKey::seal`]).
    pub body: Vec<u8>,
}

/// Which stored messages [`UserStore::history_before`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visible<'a> {
    /// Messages to everyone only.
    Public,
    /// Messages to everyone, and private ones from or to this user.
    To(&'a str),
    /// Every message (the teacher's export of the course record).
    All,
}

/// The `users` table. All methods block (see the module documentation).
pub trait UserStore: Send + Sync + 'static {
    /// The row whose `user_name` is exactly `username` (byte for byte, on every backend).
    fn find_user(&self, username: &str) -> Result<Option<UserRecord>, DbError>;
    /// All rows, by `user_id`.
    fn list_users(&self) -> Result<Vec<UserRecord>, DbError>;
    /// Insert a user. [`DbError::Exists`] if the name is taken.
    fn add_user(&self, username: &str, password_hash: &str, nickname: &str) -> Result<(), DbError>;
    /// Replace a password hash and set `must_change_password` to `must_change`; `false` if
    /// there is no such user.
    fn set_password(
        &self,
        username: &str,
        password_hash: &str,
        must_change: bool,
    ) -> Result<bool, DbError>;
    /// Write many users in one transaction, all flagged `must_change_password`: either every
    /// row is written or none. [`DbError::Exists`] if an [`ImportAction::Add`] name is taken,
    /// [`DbError::Query`] if an [`ImportAction::ResetPassword`] name is missing or the table
    /// has no `must_change_password` column yet (`server db upgrade` adds it).
    fn import_users(&self, users: &[ImportUser]) -> Result<(), DbError>;
    /// Delete a user; `false` if there is no such user.
    fn remove_user(&self, username: &str) -> Result<bool, DbError>;
    /// Create the schema if missing and insert the [`SEED_USERS`] (hashed) if the table is
    /// empty. Returns the number of rows inserted.
    fn init(&self) -> Result<usize, DbError>;
    /// Bring a legacy table's schema up to date (MySQL: create it if missing, widen
    /// `user_password`, utf8mb4; SQLite: create it if missing; both: add the
    /// `must_change_password` column). The first half of
    /// [`Self::upgrade`].
    fn upgrade_schema(&self) -> Result<(), DbError>;
    /// Set the password of row `user_id` to `new_hash`, only if it is still `expected` (so a
    /// password changed meanwhile is not overwritten); `false` if it was not.
    fn replace_password(
        &self,
        user_id: i64,
        expected: &str,
        new_hash: &str,
    ) -> Result<bool, DbError>;
    /// Bring a legacy table up to date ([`Self::upgrade_schema`]) and hash every plaintext
    /// password in place. Returns the number of passwords hashed.
    fn upgrade(&self) -> Result<usize, DbError> {
        self.upgrade_schema()?;
        let mut upgraded = 0;
        for u in self.list_users()? {
            if !is_hash(&u.user_password) {
                let hash = hash_password(&u.user_password);
                upgraded +=
                    usize::from(self.replace_password(u.user_id, &u.user_password, &hash)?);
            }
        }
        Ok(upgraded)
    }
    /// Check that the database answers.
    fn ping(&self) -> Result<(), DbError>;
    /// Insert stored messages in one transaction (all or none). A row whose id is already
    /// stored is left as it is (a retried batch after an unclear failure).
    fn history_append(&self, rows: &[HistoryRow]) -> Result<(), DbError>;
    /// Up to `limit` of the newest messages with ids below `before_id` (`u64::MAX`: all) that
    /// `visible` selects, in ascending id order.
    fn history_before(
        &self,
        visible: Visible<'_>,
        before_id: u64,
        limit: usize,
    ) -> Result<Vec<HistoryRow>, DbError>;
    /// Up to `limit` of the oldest private messages to `username` not yet delivered, ascending.
    fn history_undelivered(&self, username: &str, limit: usize)
    -> Result<Vec<HistoryRow>, DbError>;
    /// Mark the private messages to `username` with ids up to `upto` delivered.
    fn history_mark_delivered(&self, username: &str, upto: u64) -> Result<(), DbError>;
    /// The largest stored message id (0 for none).
    fn history_max_id(&self) -> Result<u64, DbError>;
    /// Delete messages sent before `before_ms`; returns how many.
    fn history_purge(&self, before_ms: u64) -> Result<u64, DbError>;
    /// Where the data lives, for logs, e.g. `sqlite:/srv/chat/data/mini_chat.db` or
    /// `mysql://root@127.0.0.1:3306/mini_chat`. Never includes a password.
    fn describe(&self) -> String;
}

/// Open the store named by `url`: `sqlite://PATH`, `sqlite::memory:` or
/// `mysql://user:pass@host:port/database`.
///
/// SQLite: creates the folder, file and table, and the seed users if it created the table. MySQL:
/// connects, creates the database and table if missing, and the seed users if it created the
/// table; if the server cannot be reached the store is returned anyway and connects on a later
/// call (the chat server's start refuses an unreachable database: see [`crate::startup`]).
///
/// # Errors
/// [`DbError::BadUrl`] for a malformed URL; for SQLite any error opening or initialising the file;
/// for MySQL any error other than [`DbError::Unavailable`] while initialising.
pub fn open(url: &str) -> Result<Arc<dyn UserStore>, DbError> {
    // Compute the dummy hash now rather than during the first unknown-user login.
    let _ = dummy_hash();
    if url == "sqlite::memory:" {
        let store = SqliteStore::open_in_memory()?;
        store.init_fresh()?;
        return Ok(Arc::new(store));
    }
    if let Some(path) = url.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err(bad_url(
                url,
                "no file path; use sqlite://PATH or sqlite::memory:",
            ));
        }
        let store = SqliteStore::open(std::path::Path::new(path))?;
        store.init_fresh()?;
        return Ok(Arc::new(store));
    }
    if url.starts_with("mysql://") {
        let store = MysqlStore::new(url)?;
        match store.init_fresh() {
            Ok(_) => {}
            Err(DbError::Unavailable(e)) => {
                // Not an error here: the chat server's start checks the database itself
                // (`startup::wait_for_database`) and admin commands report their own failure.
                tracing::debug!(
                    "database {} is unavailable ({e}); it is tried again on first use",
                    store.describe()
                );
            }
            Err(e) => return Err(e),
        }
        return Ok(Arc::new(store));
    }
    Err(bad_url(
        url,
        "expected sqlite://PATH, sqlite::memory: or mysql://user:pass@host:port/database",
    ))
}

/// The answer to a login attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginCheck {
    /// Name and password match; the user's nickname, and whether they must choose a new
    /// password before chatting.
    Ok { nickname: String, must_change: bool },
    /// Unknown user or wrong password: deliberately one answer for both.
    Bad,
}

/// Check a username and password.
///
/// Hashed rows are checked with [`verify_password`]; a legacy plaintext row still logs in, by a
/// constant-time comparison, with a warning telling the operator to run `server db upgrade`. An
/// unknown user, a legacy row, an empty or over-long password and a corrupt stored hash all spend
/// one PBKDF2 verification against a dummy hash, so the time taken does not tell them apart.
///
/// # Errors
/// Only database errors ([`DbError::Unavailable`] when the database cannot be reached).
pub fn check_login(
    store: &dyn UserStore,
    username: &str,
    password: &str,
) -> Result<LoginCheck, DbError> {
    let plausible = !username.is_empty() && username.len() <= MAX_USERNAME_LEN;
    let record = if plausible {
        store.find_user(username)?
    } else {
        None
    };
    let password_ok = !password.is_empty() && password.len() <= MAX_PASSWORD_LEN;
    let Some(record) = record else {
        burn_dummy(password);
        return Ok(LoginCheck::Bad);
    };
    let ok = if is_hash(&record.user_password) {
        match verify_password(password, &record.user_password) {
            Ok(ok) => ok,
            Err(_) => {
                tracing::error!(
                    "user {:?} has a malformed password hash in the database; reset it with `server user passwd`",
                    record.user_name
                );
                burn_dummy(password);
                false
            }
        }
    } else {
        tracing::warn!(
            "user {:?} still has a plaintext password in the database; run `server db upgrade` to hash it",
            record.user_name
        );
        burn_dummy(password);
        ct_eq(password.as_bytes(), record.user_password.as_bytes())
    };
    if ok && password_ok {
        Ok(LoginCheck::Ok {
            nickname: record.user_nickname,
            must_change: record.must_change_password,
        })
    } else {
        Ok(LoginCheck::Bad)
    }
}

/// A hash of a random password, computed once: unknown users are "checked" against it.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&hex_random()))
}

fn hex_random() -> String {
    common::crypto::random::bytes::<16>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The error [`UserStore::import_users`] gives on a table without [`FLAG_COLUMN`].
pub(crate) fn no_flag_column() -> DbError {
    DbError::Query(format!(
        "table users has no {FLAG_COLUMN} column yet; run `server db upgrade` first"
    ))
}

/// Spend the same PBKDF2 work as a real check; the result is meaningless.
fn burn_dummy(password: &str) {
    let _ = std::hint::black_box(verify_password(password, dummy_hash()));
}

/// [`DbError::BadUrl`] with the URL's password masked.
pub(crate) fn bad_url(url: &str, reason: &str) -> DbError {
    DbError::BadUrl {
        url: redact_url(url),
        reason: reason.to_owned(),
    }
}

/// The URL with its password masked (one implementation, shared with the config checks).
pub use common::config::redact_url;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("mysql://root:s3cret@h:3306/db"),
            "mysql://root:***@h:3306/db"
        );
        assert_eq!(redact_url("mysql://root@h/db"), "mysql://root@h/db");
        assert_eq!(
            redact_url("mysql://a:b@c@h/db?x=1"),
            "mysql://a:***@h/db?x=1"
        );
        assert_eq!(redact_url("sqlite://data/x.db"), "sqlite://data/x.db");
    }

    #[test]
    fn bad_urls() {
        for url in [
            "postgres://x",
            "sqlite://",
            "",
            "mysql://u:pw@h:3306/",
            "mysql://u:pw@h/bad-name",
        ] {
            match open(url) {
                Err(DbError::BadUrl { url: shown, .. }) => {
                    assert!(!shown.contains("pw"), "{shown}")
                }
                Err(e) => panic!("{url}: {e}"),
                Ok(_) => panic!("{url}: accepted"),
            }
        }
    }
}
