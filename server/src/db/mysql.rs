//! The MySQL / MariaDB backend, on the pure-Rust `mysql` crate's connection pool.
//!
//! - TCP only (`prefer_socket(false)`): the crate would otherwise switch a loopback address to
//!   the server's Unix socket, which behaves differently in containers.
//! - Every session runs `SET NAMES utf8mb4` (Chinese nicknames, emoji) and a strict `sql_mode`,
//!   so a value that does not fit a column (a hash in a legacy `varchar(30)`) is an error rather
//!   than silently truncated.
//! - Connect, read and write timeouts of a few seconds: a dead database answers
//!   [`DbError::Unavailable`] quickly instead of hanging a login.
//! - The pool pings a connection before handing it out and replaces it if the server dropped it
//!   (`KILL`, `wait_timeout`, restart); a query that still fails with a connection error is
//!   retried once on a fresh connection.
//! - The pool is created on first use, so the chat server starts even while the database is down;
//!   after a failed connect, calls fail fast for [`RETRY_AFTER`] instead of each waiting for a
//!   connect timeout.
//! - Usernames are matched byte for byte in Rust after the SQL lookup, because MySQL collations
//!   compare case-insensitively and ignore trailing spaces; the `UNIQUE` key (case-insensitive)
//!   still refuses `User1` next to `user1`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mysql::consts::CapabilityFlags;
use mysql::prelude::Queryable;
use mysql::{
    Conn, DriverError, Opts, OptsBuilder, Pool, PoolConstraints, PoolOpts, PooledConn, TxOpts,
};

use super::{
    DbError, FLAG_COLUMN, HistoryRow, ImportAction, ImportUser, SEED_USERS, UserRecord, UserStore,
    Visible, bad_url, no_flag_column,
};
use common::crypto::password::hash_password;

/// The schema file; the server runs its `CREATE TABLE` statement (see [`create_table_sql`]).
const SCHEMA: &str = include_str!("../../../sql/mysql_schema.sql");

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait for a free pooled connection.
const POOL_WAIT: Duration = Duration::from_secs(5);
/// After a failed connect, fail fast for this long before trying again.
const RETRY_AFTER: Duration = Duration::from_secs(1);
const POOL_MIN: usize = 1;
const POOL_MAX: usize = 10;
/// Width of `user_password` in the current schema.
const PASSWORD_WIDTH: u64 = 255;

/// Server error codes that mean the connection is gone rather than the query is wrong.
const DISCONNECT_CODES: [u16; 6] = [
    1053, // ER_SERVER_SHUTDOWN
    1927, // ER_CONNECTION_KILLED (MariaDB)
    4031, // ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8 wait_timeout)
    2006, // CR_SERVER_GONE_ERROR
    2013, // CR_SERVER_LOST
    1040, // ER_CON_COUNT_ERROR
];
const ER_DUP_ENTRY: u16 = 1062;
const ER_DATA_TOO_LONG: u16 = 1406;
const ER_TRUNCATED_WRONG_VALUE_FOR_FIELD: u16 = 1366;

/// `(COLUMN_NAME, CHARACTER_SET_NAME, COLLATION_NAME, CHARACTER_MAXIMUM_LENGTH)`.
type ColumnInfo = (String, Option<String>, Option<String>, Option<u64>);

/// The MySQL / MariaDB user store.
pub struct MysqlStore {
    /// Options with the database name.
    opts: Opts,
    db: String,
    describe: String,
    state: Mutex<State>,
    /// Schema ensured (and seed users inserted if the table was empty) on this server.
    ready: AtomicBool,
    init_lock: Mutex<()>,
    /// The table has the `must_change_password` column (checked at the first use and by
    /// `upgrade`; a legacy table reads as "no flag" until `server db upgrade` adds it).
    has_flag: AtomicBool,
}

#[derive(Default)]
struct State {
    pool: Option<Pool>,
    last_failure: Option<(Instant, String)>,
}

impl MysqlStore {
    /// Parse `url` (`mysql://user:pass@host:port/database`). Does not connect.
    ///
    /// # Errors
    /// [`DbError::BadUrl`] if the URL does not parse or names no valid database.
    pub fn new(url: &str) -> Result<Self, DbError> {
        let parsed = Opts::from_url(url).map_err(|e| bad_url(url, &e.to_string()))?;
        let db = parsed.get_db_name().unwrap_or_default().to_owned();
        if db.is_empty() {
            return Err(bad_url(
                url,
                "no database name; use mysql://user:pass@host:3306/mini_chat",
            ));
        }
        if db.len() > 64 || !db.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(bad_url(
                url,
                "the database name must be 1 to 64 ASCII letters, digits or '_'",
            ));
        }
        let host = parsed.get_ip_or_hostname().into_owned();
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host
        };
        let user = parsed
            .get_user()
            .map(|u| format!("{u}@"))
            .unwrap_or_default();
        let describe = format!("mysql://{user}{host}:{}/{db}", parsed.get_tcp_port());
        let constraints = PoolConstraints::new(POOL_MIN, POOL_MAX)
            .ok_or_else(|| bad_url(url, "bad pool size"))?;
        let opts: Opts = OptsBuilder::from_opts(parsed)
            .prefer_socket(false)
            .tcp_connect_timeout(Some(CONNECT_TIMEOUT))
            .read_timeout(Some(IO_TIMEOUT))
            .write_timeout(Some(IO_TIMEOUT))
            .tcp_keepalive_time_ms(Some(60_000))
            .init(vec![
                "SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci",
                "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'",
            ])
            // Affected rows = rows matched, as in SQLite.
            .additional_capabilities(CapabilityFlags::CLIENT_FOUND_ROWS)
            // We keep no session state, so skip the reset round trip on every return.
            .pool_opts(
                PoolOpts::default()
                    .with_constraints(constraints)
                    .with_reset_connection(false)
                    .with_check_health(true),
            )
            .into();
        Ok(Self {
            opts,
            db,
            describe,
            state: Mutex::new(State::default()),
            ready: AtomicBool::new(false),
            init_lock: Mutex::new(()),
            has_flag: AtomicBool::new(false),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The pool, creating it (and the database) on first use.
    fn pool(&self) -> Result<Pool, DbError> {
        let mut state = self.state();
        if let Some(pool) = &state.pool {
            return Ok(pool.clone());
        }
        if let Some((at, why)) = &state.last_failure
            && at.elapsed() < RETRY_AFTER
        {
            return Err(DbError::Unavailable(why.clone()));
        }
        match self
            .create_database()
            .and_then(|()| Pool::new(self.opts.clone()).map_err(|e| self.unavailable(&e)))
        {
            Ok(pool) => {
                state.last_failure = None;
                state.pool = Some(pool.clone());
                Ok(pool)
            }
            Err(e) => {
                if let DbError::Unavailable(why) = &e {
                    state.last_failure = Some((Instant::now(), why.clone()));
                }
                Err(e)
            }
        }
    }

    fn unavailable(&self, e: &mysql::Error) -> DbError {
        DbError::Unavailable(format!("{}: {e}", self.describe))
    }

    /// `CREATE DATABASE` the URL's database if it does not exist (on a connection without one).
    fn create_database(&self) -> Result<(), DbError> {
        let opts = OptsBuilder::from_opts(self.opts.clone()).db_name(None::<String>);
        let mut conn = Conn::new(opts).map_err(|e| self.unavailable(&e))?;
        let exists: Option<String> = conn
            .exec_first(
                "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
                (&self.db,),
            )
            .map_err(map_err)?;
        if exists.is_none() {
            // An identifier cannot be a parameter; `self.db` is validated to [A-Za-z0-9_]+.
            conn.query_drop(format!(
                "CREATE DATABASE IF NOT EXISTS `{}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
                self.db
            ))
            .map_err(map_err)?;
            tracing::info!("created database {}", self.describe);
        }
        Ok(())
    }

    /// Run `f` on a pooled connection, retrying once on a fresh one if the connection broke.
    fn run_raw<T>(
        &self,
        mut f: impl FnMut(&mut PooledConn) -> mysql::Result<T>,
    ) -> Result<T, DbError> {
        let pool = self.pool()?;
        let mut attempt = 0;
        loop {
            let mut conn = pool.try_get_conn(POOL_WAIT).map_err(|e| match e {
                mysql::Error::DriverError(DriverError::Timeout) => DbError::Unavailable(format!(
                    "{}: all {POOL_MAX} connections busy for {}s",
                    self.describe,
                    POOL_WAIT.as_secs()
                )),
                e => self.unavailable(&e),
            })?;
            match f(&mut conn) {
                Err(e) if attempt == 0 && is_disconnect(&e) => {
                    tracing::debug!("database connection lost ({e}); retrying on a new one");
                    attempt += 1;
                }
                r => return r.map_err(map_err),
            }
        }
    }

    /// [`Self::run_raw`] after making sure the schema exists (once per store).
    fn run<T>(&self, f: impl FnMut(&mut PooledConn) -> mysql::Result<T>) -> Result<T, DbError> {
        if !self.ready.load(Ordering::Acquire) {
            let _guard = self
                .init_lock
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !self.ready.load(Ordering::Acquire) {
                self.init_locked(false)?;
            }
        }
        self.run_raw(f)
    }

    /// What [`super::open`] (and the first call) runs: create the table if missing, and only if
    /// this created it insert the seed users (see [`super::SqliteStore::init_fresh`]).
    ///
    /// # Errors
    /// Database errors; [`DbError::Unavailable`] if the server cannot be reached.
    pub fn init_fresh(&self) -> Result<usize, DbError> {
        let _guard = self
            .init_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.init_locked(false)
    }

    /// Create the table if missing; seed it if empty and (`always` or the table is new).
    /// `init_lock` must be held.
    fn init_locked(&self, always: bool) -> Result<usize, DbError> {
        let has_table: i64 = self.run_raw(|c| {
            c.query_first(
                "SELECT COUNT(*) FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users'",
            )
            .map(Option::unwrap_or_default)
        })?;
        if has_table == 0 {
            let sql = create_table_sql();
            self.run_raw(|c| c.query_drop(sql))?;
            tracing::info!("created table users in {}", self.describe);
        }
        // Idempotent: an older database gets the history table at its first use by this version
        // (and from `server db upgrade`).
        let sql = create_history_sql();
        self.run_raw(|c| c.query_drop(sql))?;
        let has_flag = self.flag_present()?;
        self.has_flag.store(has_flag, Ordering::Release);
        let inserted = if (always || has_table == 0) && self.count()? == 0 {
            self.seed()?
        } else {
            0
        };
        self.ready.store(true, Ordering::Release);
        Ok(inserted)
    }

    fn flag_present(&self) -> Result<bool, DbError> {
        let n: i64 = self.run_raw(|c| {
            c.exec_first(
                "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
                 AND TABLE_NAME = 'users' AND COLUMN_NAME = ?",
                (FLAG_COLUMN,),
            )
            .map(Option::unwrap_or_default)
        })?;
        Ok(n > 0)
    }

    /// The SELECT list: the flag column, or a constant 0 on a table without it.
    fn select(&self) -> &'static str {
        if self.has_flag.load(Ordering::Acquire) {
            "SELECT user_id, user_name, user_password, user_nickname, must_change_password FROM users"
        } else {
            "SELECT user_id, user_name, user_password, user_nickname, 0 FROM users"
        }
    }

    fn count(&self) -> Result<i64, DbError> {
        self.run_raw(|c| {
            c.query_first("SELECT COUNT(*) FROM users")
                .map(Option::unwrap_or_default)
        })
    }

    /// Insert the seed users if the table is (still) empty.
    fn seed(&self) -> Result<usize, DbError> {
        let seeds: Vec<_> = SEED_USERS
            .iter()
            .map(|(n, p, nick)| (*n, hash_password(p), *nick))
            .collect();
        let r = self.run_raw(|c| {
            let mut tx = c.start_transaction(TxOpts::default())?;
            let n: i64 = tx
                .query_first("SELECT COUNT(*) FROM users FOR UPDATE")?
                .unwrap_or_default();
            if n > 0 {
                return Ok(0);
            }
            for (name, hash, nick) in &seeds {
                tx.exec_drop(
                    "INSERT INTO users (user_name, user_password, user_nickname) VALUES (?, ?, ?)",
                    (name, hash, nick),
                )?;
            }
            tx.commit()?;
            Ok(seeds.len())
        });
        match r {
            Ok(n) => {
                if n > 0 {
                    tracing::warn!(
                        "created the {n} seed users (user1..user3, password 111111) in {}; change their passwords with `server user passwd`",
                        self.describe
                    );
                }
                Ok(n)
            }
            // Another process seeded at the same moment.
            Err(DbError::Exists(_)) => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Rows whose name matches `username` under the column's collation; callers filter exactly.
    fn find_exact(
        &self,
        c: &mut impl Queryable,
        username: &str,
    ) -> mysql::Result<Option<UserRecord>> {
        let rows: Vec<Row> = c.exec(
            format!("{} WHERE user_name = ?", self.select()),
            (username,),
        )?;
        Ok(rows
            .into_iter()
            .map(to_record)
            .find(|u| u.user_name == username))
    }

    /// Schema changes of [`UserStore::upgrade`]: utf8mb4 everywhere, a wide binary-collated
    /// `user_password`, a unique `user_name`.
    fn widen_schema(&self) -> Result<(), DbError> {
        let cols: Vec<ColumnInfo> = self.run_raw(|c| {
            c.query(
                "SELECT COLUMN_NAME, CHARACTER_SET_NAME, COLLATION_NAME, CHARACTER_MAXIMUM_LENGTH \
                 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users'",
            )
        })?;
        let col = |name: &str| cols.iter().find(|c| c.0.eq_ignore_ascii_case(name));
        let not_utf8mb4 = cols
            .iter()
            .any(|c| c.1.as_deref().is_some_and(|cs| cs != "utf8mb4"));
        if not_utf8mb4 {
            self.run_raw(|c| {
                c.query_drop(
                    "ALTER TABLE users CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
                )
            })?;
            tracing::info!("converted table users to utf8mb4");
        }
        let pw = col("user_password")
            .ok_or_else(|| DbError::Query("table users has no user_password column".into()))?;
        if not_utf8mb4
            || pw.3.unwrap_or(0) < PASSWORD_WIDTH
            || pw.2.as_deref() != Some("utf8mb4_bin")
        {
            self.run_raw(|c| {
                c.query_drop(
                    "ALTER TABLE users MODIFY user_password VARCHAR(255) \
                     CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL",
                )
            })?;
            tracing::info!("widened users.user_password to VARCHAR({PASSWORD_WIDTH})");
        }
        if col(FLAG_COLUMN).is_none() {
            self.run_raw(|c| {
                c.query_drop(format!(
                    "ALTER TABLE users ADD COLUMN {FLAG_COLUMN} TINYINT(1) NOT NULL DEFAULT 0"
                ))
            })?;
            tracing::info!("added the column users.{FLAG_COLUMN}");
        }
        self.has_flag.store(true, Ordering::Release);
        let unique: i64 = self.run_raw(|c| {
            c.query_first(
                "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() \
                 AND TABLE_NAME = 'users' AND COLUMN_NAME = 'user_name' AND NON_UNIQUE = 0",
            )
            .map(Option::unwrap_or_default)
        })?;
        if unique == 0 {
            match self.run_raw(|c| {
                c.query_drop("ALTER TABLE users ADD UNIQUE KEY uniq_user_name (user_name)")
            }) {
                Ok(()) => tracing::info!("added a unique key on users.user_name"),
                Err(DbError::Exists(_)) => tracing::warn!(
                    "users.user_name has duplicate names, so it cannot be made unique; remove the duplicates with `server user remove`"
                ),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// A row of [`MysqlStore::select`].
type Row = (i64, String, String, String, i64);

fn to_record((user_id, user_name, user_password, user_nickname, flag): Row) -> UserRecord {
    UserRecord {
        user_id,
        user_name,
        user_password,
        user_nickname,
        must_change_password: flag != 0,
    }
}

/// The `CREATE TABLE` statement of `sql/mysql_schema.sql` whose text starts with `head`.
fn create_statement(head: &str) -> String {
    SCHEMA
        .split(';')
        .map(|stmt| {
            let lines = stmt.lines().filter(|l| !l.trim_start().starts_with("--"));
            lines.collect::<Vec<_>>().join("\n").trim().to_owned()
        })
        .find(|s| s.starts_with(head))
        .expect("sql/mysql_schema.sql has the CREATE TABLE statement")
}

/// The `users` table's `CREATE TABLE` statement of `sql/mysql_schema.sql`.
fn create_table_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| create_statement("CREATE TABLE IF NOT EXISTS users"))
}

/// The `chat_history` table's `CREATE TABLE` statement of `sql/mysql_schema.sql`.
fn create_history_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| create_statement("CREATE TABLE IF NOT EXISTS chat_history"))
}

/// The columns of a [`HistoryRow`], in its order.
const HISTORY_COLUMNS: &str =
    "SELECT msg_id, sent_ms, from_user, to_user, delivered, body FROM chat_history";

/// A `chat_history` row as the driver returns it.
type HistoryTuple = (u64, u64, String, Option<String>, i64, Vec<u8>);

fn to_history((msg_id, sent_ms, from_user, to_user, delivered, body): HistoryTuple) -> HistoryRow {
    HistoryRow {
        msg_id,
        sent_ms,
        from_user,
        to_user,
        delivered: delivered != 0,
        body,
    }
}

/// Does `e` mean the connection (not the query) failed?
fn is_disconnect(e: &mysql::Error) -> bool {
    match e {
        mysql::Error::MySqlError(m) => DISCONNECT_CODES.contains(&m.code),
        mysql::Error::DriverError(
            DriverError::MismatchedStmtParams(..)
            | DriverError::Params(_)
            | DriverError::MixedParams
            | DriverError::BulkExecute(_),
        ) => false,
        e => e.is_connectivity_error(),
    }
}

fn map_err(e: mysql::Error) -> DbError {
    match &e {
        _ if is_disconnect(&e) => DbError::Unavailable(e.to_string()),
        mysql::Error::MySqlError(m) if m.code == ER_DUP_ENTRY => DbError::Exists(m.message.clone()),
        mysql::Error::MySqlError(m)
            if m.code == ER_DATA_TOO_LONG || m.code == ER_TRUNCATED_WRONG_VALUE_FOR_FIELD =>
        {
            DbError::Query(format!(
                "{} (a legacy table? run `server db upgrade`)",
                m.message
            ))
        }
        _ => DbError::Query(e.to_string()),
    }
}

impl UserStore for MysqlStore {
    fn find_user(&self, username: &str) -> Result<Option<UserRecord>, DbError> {
        self.run(|c| self.find_exact(c, username))
    }

    fn list_users(&self) -> Result<Vec<UserRecord>, DbError> {
        let rows: Vec<Row> =
            self.run(|c| c.query(format!("{} ORDER BY user_id", self.select())))?;
        Ok(rows.into_iter().map(to_record).collect())
    }

    fn add_user(&self, username: &str, password_hash: &str, nickname: &str) -> Result<(), DbError> {
        // A legacy table may lack the UNIQUE key, so look first; the key catches races.
        if self.find_user(username)?.is_some() {
            return Err(DbError::Exists(username.to_owned()));
        }
        self.run(|c| {
            c.exec_drop(
                "INSERT INTO users (user_name, user_password, user_nickname) VALUES (?, ?, ?)",
                (username, password_hash, nickname),
            )
        })
        .map_err(|e| match e {
            DbError::Exists(_) => DbError::Exists(username.to_owned()),
            e => e,
        })
    }

    fn set_password(
        &self,
        username: &str,
        password_hash: &str,
        must_change: bool,
    ) -> Result<bool, DbError> {
        self.run(|c| {
            let Some(u) = self.find_exact(c, username)? else {
                return Ok(false);
            };
            if self.has_flag.load(Ordering::Acquire) {
                c.exec_drop(
                    "UPDATE users SET user_password = ?, must_change_password = ? WHERE user_id = ?",
                    (password_hash, must_change, u.user_id),
                )?;
            } else {
                c.exec_drop(
                    "UPDATE users SET user_password = ? WHERE user_id = ?",
                    (password_hash, u.user_id),
                )?;
            }
            Ok(c.affected_rows() > 0)
        })
    }

    fn import_users(&self, users: &[ImportUser]) -> Result<(), DbError> {
        self.run(|_| Ok(()))?;
        if !self.flag_present()? {
            return Err(no_flag_column());
        }
        self.has_flag.store(true, Ordering::Release);
        let mut clash = None;
        let r = self.run_raw(|c| {
            clash = None;
            let mut tx = c.start_transaction(TxOpts::default())?;
            for u in users {
                // A legacy table may lack the UNIQUE key, so look first; the key catches races.
                let existing = self.find_exact(&mut tx, &u.username)?;
                match (u.action, existing) {
                    (ImportAction::Add, None) => tx.exec_drop(
                        "INSERT INTO users (user_name, user_password, user_nickname, must_change_password) \
                         VALUES (?, ?, ?, 1)",
                        (&u.username, &u.password_hash, &u.nickname),
                    )?,
                    (ImportAction::ResetPassword, Some(row)) => tx.exec_drop(
                        "UPDATE users SET user_password = ?, must_change_password = 1 WHERE user_id = ?",
                        (&u.password_hash, row.user_id),
                    )?,
                    (ImportAction::Add, Some(_)) | (ImportAction::ResetPassword, None) => {
                        clash = Some((u.action, u.username.clone()));
                        // Dropping `tx` rolls back.
                        return Ok(());
                    }
                }
            }
            tx.commit()
        });
        match (r, clash) {
            (Err(DbError::Exists(_)), _) => Err(DbError::Exists(
                "a username of the roster (another process added it meanwhile)".into(),
            )),
            (Err(e), _) => Err(e),
            (Ok(()), Some((ImportAction::Add, name))) => Err(DbError::Exists(name)),
            (Ok(()), Some((ImportAction::ResetPassword, name))) => Err(DbError::Query(format!(
                "user {name} disappeared during the import"
            ))),
            (Ok(()), None) => Ok(()),
        }
    }

    fn remove_user(&self, username: &str) -> Result<bool, DbError> {
        self.run(|c| {
            let Some(u) = self.find_exact(c, username)? else {
                return Ok(false);
            };
            c.exec_drop("DELETE FROM users WHERE user_id = ?", (u.user_id,))?;
            Ok(c.affected_rows() > 0)
        })
    }

    fn init(&self) -> Result<usize, DbError> {
        let _guard = self
            .init_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.init_locked(true)
    }

    fn upgrade_schema(&self) -> Result<(), DbError> {
        self.init_fresh()?;
        self.widen_schema()
    }

    fn replace_password(
        &self,
        user_id: i64,
        expected: &str,
        new_hash: &str,
    ) -> Result<bool, DbError> {
        self.run(|c| {
            c.exec_drop(
                "UPDATE users SET user_password = ? WHERE user_id = ? AND user_password = ?",
                (new_hash, user_id, expected),
            )?;
            Ok(c.affected_rows() > 0)
        })
    }

    fn ping(&self) -> Result<(), DbError> {
        self.run_raw(|c| c.query_drop("SELECT 1"))
    }

    fn history_append(&self, rows: &[HistoryRow]) -> Result<(), DbError> {
        self.run(|c| {
            let mut tx = c.start_transaction(TxOpts::default())?;
            tx.exec_batch(
                "INSERT IGNORE INTO chat_history \
                 (msg_id, sent_ms, from_user, to_user, delivered, body) VALUES (?, ?, ?, ?, ?, ?)",
                rows.iter().map(|r| {
                    (
                        r.msg_id,
                        r.sent_ms,
                        &r.from_user,
                        &r.to_user,
                        r.delivered,
                        &r.body,
                    )
                }),
            )?;
            tx.commit()
        })
    }

    fn history_before(
        &self,
        visible: Visible<'_>,
        before_id: u64,
        limit: usize,
    ) -> Result<Vec<HistoryRow>, DbError> {
        let limit = limit as u64;
        let order = "ORDER BY msg_id DESC LIMIT ?";
        let rows: Vec<HistoryTuple> = self.run(|c| match visible {
            Visible::Public => c.exec(
                format!("{HISTORY_COLUMNS} WHERE msg_id < ? AND to_user IS NULL {order}"),
                (before_id, limit),
            ),
            Visible::To(user) => c.exec(
                format!(
                    "{HISTORY_COLUMNS} WHERE msg_id < ? \
                     AND (to_user IS NULL OR to_user = ? OR from_user = ?) {order}"
                ),
                (before_id, user, user, limit),
            ),
            Visible::All => c.exec(
                format!("{HISTORY_COLUMNS} WHERE msg_id < ? {order}"),
                (before_id, limit),
            ),
        })?;
        Ok(rows.into_iter().rev().map(to_history).collect())
    }

    fn history_undelivered(
        &self,
        username: &str,
        limit: usize,
    ) -> Result<Vec<HistoryRow>, DbError> {
        let rows: Vec<HistoryTuple> = self.run(|c| {
            c.exec(
                format!(
                    "{HISTORY_COLUMNS} WHERE to_user = ? AND delivered = 0 ORDER BY msg_id LIMIT ?"
                ),
                (username, limit as u64),
            )
        })?;
        Ok(rows.into_iter().map(to_history).collect())
    }

    fn history_mark_delivered(&self, username: &str, upto: u64) -> Result<(), DbError> {
        self.run(|c| {
            c.exec_drop(
                "UPDATE chat_history SET delivered = 1 \
                 WHERE to_user = ? AND delivered = 0 AND msg_id <= ?",
                (username, upto),
            )
        })
    }

    fn history_max_id(&self) -> Result<u64, DbError> {
        let n: Option<u64> =
            self.run(|c| c.query_first("SELECT COALESCE(MAX(msg_id), 0) FROM chat_history"))?;
        Ok(n.unwrap_or(0))
    }

    fn history_purge(&self, before_ms: u64) -> Result<u64, DbError> {
        self.run(|c| {
            c.exec_drop("DELETE FROM chat_history WHERE sent_ms < ?", (before_ms,))?;
            Ok(c.affected_rows())
        })
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_file_has_the_table() {
        let sql = create_table_sql();
        assert!(sql.starts_with("CREATE TABLE IF NOT EXISTS users"), "{sql}");
        assert!(
            sql.contains("varchar(255)") && sql.contains("UNIQUE KEY"),
            "{sql}"
        );
    }

    #[test]
    fn describe_hides_password() {
        let s = MysqlStore::new("mysql://root:hunter2@db.example:3307/mini_chat").unwrap();
        assert_eq!(s.describe(), "mysql://root@db.example:3307/mini_chat");
    }
}
