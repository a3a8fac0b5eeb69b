//! The embedded SQLite backend: one connection behind a mutex, WAL mode, a busy timeout.
//!
//! One connection is enough: each call holds it for a single indexed query (microseconds); the
//! expensive part of a login, PBKDF2, runs outside the lock in [`super::check_login`]. WAL lets
//! `server user ...` commands in another process write while the chat server reads, and the busy
//! timeout makes a writer wait for the other process instead of failing at once.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};

use super::{
    DbError, FLAG_COLUMN, HistoryRow, ImportAction, ImportUser, SEED_USERS, UserRecord, UserStore,
    Visible, no_flag_column,
};
use common::crypto::password::hash_password;

/// The schema, from `sql/sqlite_schema.sql` (idempotent: `CREATE TABLE IF NOT EXISTS`).
const SCHEMA: &str = include_str!("../../../sql/sqlite_schema.sql");

/// How long a writer waits for another process's lock before reporting "unavailable".
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The SQLite user store.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    describe: String,
    /// The table has the `must_change_password` column (checked whenever the schema is run;
    /// an older file gets it from `server db upgrade`).
    has_flag: AtomicBool,
}

impl SqliteStore {
    /// Open (creating the folder and an owner-only file if needed) the database at `path`.
    /// Does not create the table: call [`UserStore::init`] or [`Self::init_fresh`] (as
    /// [`super::open`] does).
    ///
    /// # Errors
    /// [`DbError::Unavailable`] if the folder or file cannot be created or opened.
    pub fn open(path: &Path) -> Result<Self, DbError> {
        let path: PathBuf = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                DbError::Unavailable(format!("cannot create folder {}: {e}", dir.display()))
            })?;
        }
        create_private_file(&path)?;
        let conn = Connection::open(&path)
            .map_err(|e| DbError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(map_err)?;
        // Returns the resulting mode as a row, so it is a query rather than an update.
        let _mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(map_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(map_err)?;
        Ok(Self {
            conn: Mutex::new(conn),
            describe: format!("sqlite:{}", path.display()),
            has_flag: AtomicBool::new(false),
        })
    }

    /// A private in-memory database (gone when the store is dropped).
    ///
    /// # Errors
    /// Only if SQLite cannot allocate it.
    pub fn open_in_memory() -> Result<Self, DbError> {
        let conn = Connection::open_in_memory().map_err(map_err)?;
        Ok(Self {
            conn: Mutex::new(conn),
            describe: "sqlite::memory:".into(),
            has_flag: AtomicBool::new(false),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves the connection itself usable.
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn count(conn: &Connection) -> Result<i64, DbError> {
        conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))
            .map_err(map_err)
    }

    /// What [`super::open`] runs: create the table if missing, and only if this call created it
    /// (a fresh database) insert the seed users. So a table an operator emptied on purpose does
    /// not get the classroom accounts back at the next start; `server db init` does that.
    ///
    /// # Errors
    /// Database errors.
    pub fn init_fresh(&self) -> Result<usize, DbError> {
        if self.create_schema()? {
            self.seed_if_empty()
        } else {
            Ok(0)
        }
    }

    /// Run the schema script; `true` if the `users` table did not exist before.
    fn create_schema(&self) -> Result<bool, DbError> {
        let conn = self.conn();
        let existed: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'users'",
                [],
                |r| r.get(0),
            )
            .map_err(map_err)?;
        conn.execute_batch(SCHEMA).map_err(map_err)?;
        self.has_flag
            .store(Self::flag_present(&conn)?, Ordering::Release);
        Ok(existed == 0)
    }

    fn flag_present(conn: &Connection) -> Result<bool, DbError> {
        let n: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM pragma_table_info('users') WHERE name = ?1",
                params![FLAG_COLUMN],
                |r| r.get(0),
            )
            .map_err(map_err)?;
        Ok(n > 0)
    }

    /// The SELECT list: the flag column, or a constant 0 on a table without it.
    fn select(&self) -> &'static str {
        if self.has_flag.load(Ordering::Acquire) {
            SELECT_WITH_FLAG
        } else {
            SELECT_WITHOUT_FLAG
        }
    }

    /// One import row inside the transaction.
    fn import_one(tx: &rusqlite::Transaction<'_>, u: &ImportUser) -> Result<(), DbError> {
        match u.action {
            ImportAction::Add => tx
                .execute(
                    "INSERT INTO users (user_name, user_password, user_nickname, must_change_password) \
                     VALUES (?1, ?2, ?3, 1)",
                    params![u.username, u.password_hash, u.nickname],
                )
                .map(drop)
                .map_err(|e| match e.sqlite_error_code() {
                    Some(ErrorCode::ConstraintViolation) => DbError::Exists(u.username.clone()),
                    _ => map_err(e),
                }),
            ImportAction::ResetPassword => {
                let n = tx
                    .execute(
                        "UPDATE users SET user_password = ?1, must_change_password = 1 \
                         WHERE user_name = ?2",
                        params![u.password_hash, u.username],
                    )
                    .map_err(map_err)?;
                if n == 0 {
                    return Err(DbError::Query(format!(
                        "user {} disappeared during the import",
                        u.username
                    )));
                }
                Ok(())
            }
        }
    }

    /// Insert the seed users if the table is empty; returns how many.
    fn seed_if_empty(&self) -> Result<usize, DbError> {
        if Self::count(&self.conn())? > 0 {
            return Ok(0);
        }
        // Hash outside the lock (PBKDF2 takes a while), then insert only if still empty.
        let seeds: Vec<_> = SEED_USERS
            .iter()
            .map(|(n, p, nick)| (*n, hash_password(p), *nick))
            .collect();
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        if Self::count(&tx)? > 0 {
            return Ok(0);
        }
        for (name, hash, nick) in &seeds {
            tx.execute(
                "INSERT INTO users (user_name, user_password, user_nickname) VALUES (?1, ?2, ?3)",
                params![name, hash, nick],
            )
            .map_err(map_err)?;
        }
        tx.commit().map_err(map_err)?;
        tracing::warn!(
            "created the {} seed users (user1..user3, password 111111) in {}; change their passwords with `server user passwd`",
            seeds.len(),
            self.describe
        );
        Ok(seeds.len())
    }
}

/// Create `path` with mode 0600 (it will hold password hashes) if it does not exist yet.
fn create_private_file(path: &Path) -> Result<(), DbError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(DbError::Unavailable(format!(
            "cannot create {}: {e}",
            path.display()
        ))),
    }
}

fn map_err(e: rusqlite::Error) -> DbError {
    match e.sqlite_error_code() {
        Some(
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::CannotOpen
            | ErrorCode::SystemIoFailure
            | ErrorCode::DiskFull
            | ErrorCode::OutOfMemory,
        ) => DbError::Unavailable(e.to_string()),
        _ => DbError::Query(e.to_string()),
    }
}

fn row_to_record(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        user_id: r.get(0)?,
        user_name: r.get(1)?,
        user_password: r.get(2)?,
        user_nickname: r.get(3)?,
        must_change_password: r.get::<_, i64>(4)? != 0,
    })
}

/// The columns of a [`HistoryRow`], in its order.
const HISTORY_COLUMNS: &str =
    "SELECT msg_id, sent_ms, from_user, to_user, delivered, body FROM chat_history";

fn row_to_history(r: &rusqlite::Row<'_>) -> rusqlite::Result<HistoryRow> {
    Ok(HistoryRow {
        msg_id: r.get::<_, i64>(0)? as u64,
        sent_ms: r.get::<_, i64>(1)? as u64,
        from_user: r.get(2)?,
        to_user: r.get(3)?,
        delivered: r.get::<_, i64>(4)? != 0,
        body: r.get(5)?,
    })
}

/// The newest `?2` messages before id `?1` that `visible` may see (`?3`: the user), newest first.
fn before_sql(visible: Visible<'_>) -> String {
    let order = "ORDER BY msg_id DESC LIMIT ?2";
    match visible {
        // `+to_user` keeps SQLite off the (to_user, delivered, msg_id) index, which it prefers
        // for `IS NULL`: it then collected every public message and sorted them, 0.4 s per
        // login with 460,000 stored (and logins wait for each other's query). Walking the
        // primary key down from `?1` stops after `?2` rows.
        Visible::Public => {
            format!("{HISTORY_COLUMNS} WHERE msg_id < ?1 AND +to_user IS NULL {order}")
        }
        Visible::To(_) => format!(
            "{HISTORY_COLUMNS} WHERE msg_id < ?1 \
             AND (to_user IS NULL OR to_user = ?3 OR from_user = ?3) {order}"
        ),
        Visible::All => format!("{HISTORY_COLUMNS} WHERE msg_id < ?1 {order}"),
    }
}

/// An id or time as SQLite's signed 64-bit integer (ours stay far below `i64::MAX`).
fn sql_int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl SqliteStore {
    fn history_query(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<HistoryRow>, DbError> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(sql).map_err(map_err)?;
        let rows = st.query_map(params, row_to_history).map_err(map_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(map_err)
    }
}

const SELECT_WITH_FLAG: &str =
    "SELECT user_id, user_name, user_password, user_nickname, must_change_password FROM users";
const SELECT_WITHOUT_FLAG: &str =
    "SELECT user_id, user_name, user_password, user_nickname, 0 FROM users";

impl UserStore for SqliteStore {
    fn find_user(&self, username: &str) -> Result<Option<UserRecord>, DbError> {
        self.conn()
            .prepare_cached(&format!("{} WHERE user_name = ?1", self.select()))
            .and_then(|mut st| st.query_row(params![username], row_to_record).optional())
            .map_err(map_err)
    }

    fn list_users(&self) -> Result<Vec<UserRecord>, DbError> {
        let conn = self.conn();
        let mut st = conn
            .prepare(&format!("{} ORDER BY user_id", self.select()))
            .map_err(map_err)?;
        let rows = st.query_map([], row_to_record).map_err(map_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(map_err)
    }

    fn add_user(&self, username: &str, password_hash: &str, nickname: &str) -> Result<(), DbError> {
        let r = self.conn().execute(
            "INSERT INTO users (user_name, user_password, user_nickname) VALUES (?1, ?2, ?3)",
            params![username, password_hash, nickname],
        );
        match r {
            Ok(_) => Ok(()),
            Err(e) if e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => {
                Err(DbError::Exists(username.to_owned()))
            }
            Err(e) => Err(map_err(e)),
        }
    }

    fn set_password(
        &self,
        username: &str,
        password_hash: &str,
        must_change: bool,
    ) -> Result<bool, DbError> {
        let conn = self.conn();
        let n = if self.has_flag.load(Ordering::Acquire) {
            conn.execute(
                "UPDATE users SET user_password = ?1, must_change_password = ?3 WHERE user_name = ?2",
                params![password_hash, username, must_change],
            )
        } else {
            conn.execute(
                "UPDATE users SET user_password = ?1 WHERE user_name = ?2",
                params![password_hash, username],
            )
        }
        .map_err(map_err)?;
        Ok(n > 0)
    }

    fn import_users(&self, users: &[ImportUser]) -> Result<(), DbError> {
        let mut conn = self.conn();
        if !Self::flag_present(&conn)? {
            return Err(no_flag_column());
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        for u in users {
            Self::import_one(&tx, u)?;
        }
        // Dropping `tx` on an error above rolls everything back.
        tx.commit().map_err(map_err)
    }

    fn remove_user(&self, username: &str) -> Result<bool, DbError> {
        let n = self
            .conn()
            .execute("DELETE FROM users WHERE user_name = ?1", params![username])
            .map_err(map_err)?;
        Ok(n > 0)
    }

    fn init(&self) -> Result<usize, DbError> {
        self.create_schema()?;
        self.seed_if_empty()
    }

    fn upgrade_schema(&self) -> Result<(), DbError> {
        // SQLite TEXT has no width to widen: the table has to exist, with the flag column.
        self.create_schema()?;
        let conn = self.conn();
        if !Self::flag_present(&conn)? {
            conn.execute_batch(&format!(
                "ALTER TABLE users ADD COLUMN {FLAG_COLUMN} INTEGER NOT NULL DEFAULT 0"
            ))
            .map_err(map_err)?;
            tracing::info!("added the column users.{FLAG_COLUMN}");
        }
        self.has_flag.store(true, Ordering::Release);
        Ok(())
    }

    fn replace_password(
        &self,
        user_id: i64,
        expected: &str,
        new_hash: &str,
    ) -> Result<bool, DbError> {
        let n = self
            .conn()
            .execute(
                "UPDATE users SET user_password = ?1 WHERE user_id = ?2 AND user_password = ?3",
                params![new_hash, user_id, expected],
            )
            .map_err(map_err)?;
        Ok(n > 0)
    }

    fn ping(&self) -> Result<(), DbError> {
        self.conn()
            .query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
            .map(drop)
            .map_err(map_err)
    }

    fn history_append(&self, rows: &[HistoryRow]) -> Result<(), DbError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO chat_history \
                     (msg_id, sent_ms, from_user, to_user, delivered, body) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(map_err)?;
            for r in rows {
                st.execute(params![
                    sql_int(r.msg_id),
                    sql_int(r.sent_ms),
                    r.from_user,
                    r.to_user,
                    r.delivered,
                    r.body
                ])
                .map_err(map_err)?;
            }
        }
        tx.commit().map_err(map_err)
    }

    fn history_before(
        &self,
        visible: Visible<'_>,
        before_id: u64,
        limit: usize,
    ) -> Result<Vec<HistoryRow>, DbError> {
        let (before, limit) = (sql_int(before_id), sql_int(limit as u64));
        let sql = before_sql(visible);
        let mut rows = match visible {
            Visible::Public | Visible::All => self.history_query(&sql, params![before, limit]),
            Visible::To(user) => self.history_query(&sql, params![before, limit, user]),
        }?;
        rows.reverse();
        Ok(rows)
    }

    fn history_undelivered(
        &self,
        username: &str,
        limit: usize,
    ) -> Result<Vec<HistoryRow>, DbError> {
        self.history_query(
            &format!(
                "{HISTORY_COLUMNS} WHERE to_user = ?1 AND delivered = 0 ORDER BY msg_id LIMIT ?2"
            ),
            params![username, sql_int(limit as u64)],
        )
    }

    fn history_mark_delivered(&self, username: &str, upto: u64) -> Result<(), DbError> {
        self.conn()
            .execute(
                "UPDATE chat_history SET delivered = 1 \
                 WHERE to_user = ?1 AND delivered = 0 AND msg_id <= ?2",
                params![username, sql_int(upto)],
            )
            .map(drop)
            .map_err(map_err)
    }

    fn history_max_id(&self) -> Result<u64, DbError> {
        self.conn()
            .query_row(
                "SELECT COALESCE(MAX(msg_id), 0) FROM chat_history",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .map_err(map_err)
    }

    fn history_purge(&self, before_ms: u64) -> Result<u64, DbError> {
        self.conn()
            .execute(
                "DELETE FROM chat_history WHERE sent_ms < ?1",
                params![sql_int(before_ms)],
            )
            .map(|n| n as u64)
            .map_err(map_err)
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every page of history walks the primary key down and stops at the limit: a plan that
    /// sorts (a temporary B-tree) reads every matching message first, however many are stored.
    #[test]
    fn history_pages_are_read_in_key_order_without_sorting() {
        let store = SqliteStore::open_in_memory().unwrap();
        store.init().unwrap();
        let conn = store.conn();
        for visible in [Visible::Public, Visible::To("user1"), Visible::All] {
            let sql = format!("EXPLAIN QUERY PLAN {}", before_sql(visible));
            let mut st = conn.prepare(&sql).unwrap();
            let step = |r: &rusqlite::Row<'_>| r.get::<_, String>(3);
            let plan: rusqlite::Result<Vec<String>> = match visible {
                Visible::To(user) => st.query_map(params![1, 1, user], step).unwrap().collect(),
                _ => st.query_map(params![1, 1], step).unwrap().collect(),
            };
            let plan = plan.unwrap();
            assert!(
                !plan.iter().any(|step| step.contains("TEMP B-TREE")),
                "{visible:?}: {plan:?}"
            );
        }
    }
}
