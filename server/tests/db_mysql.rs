//! The MySQL / MariaDB user store against a real server. Runs only when `CHAT_TEST_MYSQL_URL` is
//! set (e.g. `mysql://root@127.0.0.1:3306`, no database part); otherwise every test prints
//! `SKIPPED: CHAT_TEST_MYSQL_URL not set` and passes. Each test that ran prints
//! `MYSQL-TEST-RAN <name>`, so CI can tell a skip from a pass.
//!
//! Every test works in its own database `minichat_test_<pid>_<random>`, dropped afterwards even
//! if the test panics.

#[path = "db_shared.rs"]
mod shared;

use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use mysql::{Conn, Opts, OptsBuilder};
use server::admin;
use server::db::{self, DbError, LoginCheck, UserStore, check_login};
use shared::*;

/// A uniquely named scratch database, dropped on drop.
struct TestDb {
    base: String,
    name: String,
}

impl TestDb {
    /// `None` (after printing the skip line) when no server is configured.
    fn new(test: &str) -> Option<Self> {
        let Ok(base) = std::env::var("CHAT_TEST_MYSQL_URL") else {
            eprintln!("SKIPPED: CHAT_TEST_MYSQL_URL not set");
            return None;
        };
        let base = base.trim_end_matches('/').to_owned();
        let rand = common::crypto::random::bytes::<4>();
        let name = format!(
            "minichat_test_{}_{:02x}{:02x}{:02x}{:02x}",
            std::process::id(),
            rand[0],
            rand[1],
            rand[2],
            rand[3]
        );
        eprintln!("MYSQL-TEST-RAN {test}");
        Some(Self { base, name })
    }

    /// The URL of the scratch database.
    fn url(&self) -> String {
        format!("{}/{}", self.base, self.name)
    }

    /// A raw connection (to the scratch database if `with_db`), TCP only.
    fn raw(&self, with_db: bool) -> Conn {
        let opts = Opts::from_url(&self.base).expect("CHAT_TEST_MYSQL_URL");
        let opts = OptsBuilder::from_opts(opts)
            .prefer_socket(false)
            .db_name(with_db.then(|| self.name.clone()))
            .init(vec!["SET NAMES utf8mb4"]);
        Conn::new(opts).expect("connect to CHAT_TEST_MYSQL_URL")
    }

    fn create(&self) {
        self.raw(false)
            .query_drop(format!("CREATE DATABASE `{}`", self.name))
            .unwrap();
    }

    fn open(&self) -> Arc<dyn UserStore> {
        db::open(&self.url()).expect("open")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match Conn::new(
            OptsBuilder::from_opts(Opts::from_url(&self.base).unwrap()).prefer_socket(false),
        ) {
            Ok(mut c) => {
                if let Err(e) = c.query_drop(format!("DROP DATABASE IF EXISTS `{}`", self.name)) {
                    eprintln!("could not drop {}: {e}", self.name);
                }
            }
            Err(e) => eprintln!("could not drop {}: {e}", self.name),
        }
    }
}

macro_rules! test_db {
    ($name:literal) => {
        match TestDb::new($name) {
            Some(t) => t,
            None => return,
        }
    };
}

#[test]
fn open_creates_database_table_and_seed_users() {
    let t = test_db!("open_creates_database_table_and_seed_users");
    let store = t.open();
    assert!(
        store.describe().ends_with(&format!("/{}", t.name)),
        "{}",
        store.describe()
    );
    store.ping().unwrap();
    check_seeded(&*store);
    assert_eq!(store.init().unwrap(), 0);
    // Database and table are utf8mb4; the password column is wide.
    let mut c = t.raw(true);
    let cs: Option<String> = c
        .exec_first(
            "SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
            (&t.name,),
        )
        .unwrap();
    assert_eq!(cs.as_deref(), Some("utf8mb4"));
    assert_eq!(password_width(&mut c, &t.name), 255);
    let plain: Option<i64> = c
        .query_first("SELECT COUNT(*) FROM users WHERE user_password LIKE '%111111%'")
        .unwrap();
    assert_eq!(plain, Some(0));
}

#[test]
fn logins() {
    let t = test_db!("logins");
    let store = t.open();
    check_logins(&*store);
    check_timing(&*store);
}

#[test]
fn sql_injection_is_inert() {
    let t = test_db!("sql_injection_is_inert");
    let store = t.open();
    check_injection(&*store);
    check_seeded(&*store);
    assert_eq!(login(&*store, "user1", "111111"), ok("wang_yuan"));
    let tables: Vec<String> = t.raw(true).query("SHOW TABLES").unwrap();
    assert_eq!(tables, ["chat_history", "users"]);
}

#[test]
fn add_passwd_list_remove() {
    let t = test_db!("add_passwd_list_remove");
    let store = t.open();
    check_admin_crud(&*store);
    check_seeded(&*store);
    // The case-insensitive unique key refuses a look-alike name.
    assert!(matches!(
        store.add_user("USER1", "h", "n"),
        Err(DbError::Exists(_))
    ));
}

#[test]
fn chinese_and_emoji_nicknames_round_trip() {
    let t = test_db!("chinese_and_emoji_nicknames_round_trip");
    let store = t.open();
    check_unicode(&*store);
    admin::user_add(&*store, "cxk", "蔡徐坤🏀", "pw").unwrap();
    // Read back by a separate client, too: the bytes in the table are real utf8mb4.
    let nick: Option<String> = t
        .raw(true)
        .exec_first(
            "SELECT user_nickname FROM users WHERE user_name = ?",
            ("cxk",),
        )
        .unwrap();
    assert_eq!(nick.as_deref(), Some("蔡徐坤🏀"));
}

#[test]
fn legacy_seed_sql_logs_in_and_upgrades() {
    let t = test_db!("legacy_seed_sql_logs_in_and_upgrades");
    t.create();
    let mut c = t.raw(true);
    // The seed's own SQL, verbatim, in the scratch database.
    for stmt in include_str!("../../sql/legacy_seed_mysql.sql").split(';') {
        if !stmt.trim().is_empty() {
            c.query_drop(stmt).unwrap();
        }
    }
    assert_eq!(password_width(&mut c, &t.name), 30);
    let store = t.open();
    // A hash does not fit the legacy column: a clear error, not a silent truncation.
    let e = store
        .set_password(
            "user1",
            &common::crypto::password::hash_password("x"),
            false,
        )
        .unwrap_err();
    assert!(e.to_string().contains("server db upgrade"), "{e}");
    let e = admin::user_add(&*store, "newbie", "newbie", "pw").unwrap_err();
    assert!(format!("{e:#}").contains("server db upgrade"), "{e:#}");

    check_legacy_upgrade(&*store);

    let width = password_width(&mut c, &t.name);
    assert!(width > 30, "user_password still varchar({width})");
    let plain: Option<i64> = c
        .query_first("SELECT COUNT(*) FROM users WHERE user_password = '111111'")
        .unwrap();
    assert_eq!(plain, Some(0));
    let charsets: Vec<Option<String>> = c
        .exec(
            "SELECT CHARACTER_SET_NAME FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'users' AND DATA_TYPE = 'varchar'",
            (&t.name,),
        )
        .unwrap();
    assert!(
        charsets.iter().all(|c| c.as_deref() == Some("utf8mb4")),
        "{charsets:?}"
    );
    // After the upgrade the legacy table takes emoji, new hashes, and refuses duplicates.
    check_unicode(&*store);
    admin::user_passwd(&*store, "user1", "new-pw").unwrap();
    assert_eq!(login(&*store, "user1", "new-pw"), ok("wang_yuan"));
    let unique: Option<i64> = c
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? \
             AND TABLE_NAME = 'users' AND COLUMN_NAME = 'user_name' AND NON_UNIQUE = 0",
            (&t.name,),
        )
        .unwrap();
    assert_eq!(
        unique,
        Some(1),
        "no unique key on user_name after the upgrade"
    );
}

#[test]
fn pool_survives_killed_connections() {
    let t = test_db!("pool_survives_killed_connections");
    let store = t.open();
    assert_eq!(login(&*store, "user1", "111111"), ok("wang_yuan"));
    let mut admin_conn = t.raw(false);
    for round in 0..3 {
        let ids: Vec<u64> = admin_conn
            .exec(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()",
                (&t.name,),
            )
            .unwrap();
        assert!(
            !ids.is_empty(),
            "round {round}: no pooled connection to kill"
        );
        for id in ids {
            admin_conn.query_drop(format!("KILL {id}")).unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(
            login(&*store, "user2", "111111"),
            ok("ding_zhen"),
            "round {round}"
        );
        store.ping().unwrap();
        assert_eq!(store.list_users().unwrap().len(), 3);
    }
}

#[test]
fn many_threads_share_the_pool() {
    let t = test_db!("many_threads_share_the_pool");
    let store = t.open();
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let name = format!("t{i}");
                admin::user_add(&*store, &name, "线程", "pw").unwrap();
                assert_eq!(check_login(&*store, &name, "pw").unwrap(), ok("线程"));
            })
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
    assert_eq!(store.list_users().unwrap().len(), 19);
    let conns: Option<i64> = t
        .raw(false)
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = ?",
            (&t.name,),
        )
        .unwrap();
    assert!(
        conns.unwrap_or(0) <= 10,
        "pool exceeded its maximum: {conns:?}"
    );
}

#[test]
fn emptied_table_is_not_reseeded_on_open() {
    let t = test_db!("emptied_table_is_not_reseeded_on_open");
    {
        let store = t.open();
        for u in ["user1", "user2", "user3"] {
            assert!(store.remove_user(u).unwrap());
        }
    }
    let store = t.open();
    assert!(store.list_users().unwrap().is_empty());
    assert!(
        admin::db_init(&*store)
            .unwrap()
            .contains("created 3 seed users")
    );
    check_seeded(&*store);
}

#[test]
fn unreachable_server_is_unavailable_quickly() {
    // Uses no database, but runs only with the others so a skip is visible.
    let Some(_t) = TestDb::new("unreachable_server_is_unavailable_quickly") else {
        return;
    };
    let started = Instant::now();
    let store = db::open("mysql://root:secret@127.0.0.1:1/mini_chat").expect("open is lazy");
    assert_eq!(store.describe(), "mysql://root@127.0.0.1:1/mini_chat");
    let e = store.ping().unwrap_err();
    assert!(matches!(e, DbError::Unavailable(_)), "{e:?}");
    assert!(!e.to_string().contains("secret"), "{e}");
    assert!(matches!(
        check_login(&*store, "user1", "111111"),
        Err(DbError::Unavailable(_))
    ));
    assert!(matches!(store.list_users(), Err(DbError::Unavailable(_))));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    // After the fail-fast window it really tries again (and fails again).
    std::thread::sleep(Duration::from_millis(1100));
    assert!(matches!(store.ping(), Err(DbError::Unavailable(_))));
}

#[test]
fn lazy_store_creates_database_on_first_use() {
    // `MysqlStore::new` does not connect (that is what lets the chat server start while the
    // database is down); the first call creates the database, the table and the seed users.
    let t = test_db!("lazy_store_creates_database_on_first_use");
    let store = db::MysqlStore::new(&t.url()).unwrap();
    assert_eq!(
        login(&store, "user1", "111111"),
        LoginCheck::Ok {
            nickname: "wang_yuan".into(),
            must_change: false,
        }
    );
}

fn password_width(c: &mut Conn, db: &str) -> u64 {
    c.exec_first::<u64, _, _>(
        "SELECT CHARACTER_MAXIMUM_LENGTH FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'users' AND COLUMN_NAME = 'user_password'",
        (db,),
    )
    .unwrap()
    .expect("users.user_password exists")
}

#[test]
fn roster_imports_in_every_encoding() {
    let t = test_db!("roster_imports_in_every_encoding");
    let dir = tempfile::tempdir().unwrap();
    check_roster_imports(&*t.open(), dir.path());
}

#[test]
fn roster_reimport_and_reset() {
    let t = test_db!("roster_reimport_and_reset");
    let dir = tempfile::tempdir().unwrap();
    check_reimport(&*t.open(), dir.path());
}

#[test]
fn roster_bad_rows_write_nothing() {
    let t = test_db!("roster_bad_rows_write_nothing");
    let dir = tempfile::tempdir().unwrap();
    check_bad_roster(&*t.open(), dir.path());
}

#[test]
fn history_table() {
    let t = test_db!("history_table");
    let store = t.open();
    check_history(&*store);
    // utf8mb4, indexed by time and by recipient.
    let mut c = t.raw(true);
    let collation: Option<String> = c
        .exec_first(
            "SELECT TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'chat_history'",
            (&t.name,),
        )
        .unwrap();
    assert!(collation.unwrap().starts_with("utf8mb4"));
    let indexes: Vec<String> = c
        .exec(
            "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'chat_history' ORDER BY INDEX_NAME",
            (&t.name,),
        )
        .unwrap();
    assert_eq!(indexes, ["idx_history_time", "idx_history_to", "PRIMARY"]);
}

#[test]
fn upgrade_adds_history_to_a_legacy_database() {
    let t = test_db!("upgrade_adds_history_to_a_legacy_database");
    t.create();
    let mut c = t.raw(true);
    for stmt in include_str!("../../sql/legacy_seed_mysql.sql").split(';') {
        if !stmt.trim().is_empty() {
            c.query_drop(stmt).unwrap();
        }
    }
    let store = t.open();
    store.upgrade().unwrap();
    let tables: Vec<String> = c.query("SHOW TABLES").unwrap();
    assert_eq!(tables, ["chat_history", "users"]);
    check_history(&*store);
}
