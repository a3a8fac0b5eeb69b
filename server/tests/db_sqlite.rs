//! The SQLite user store, on temporary files. Always runs.

#[path = "db_shared.rs"]
mod shared;

use std::path::Path;
use std::sync::Arc;

use server::admin;
use server::db::{self, LoginCheck, UserStore, check_login};
use shared::*;

fn url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

fn fresh() -> (tempfile::TempDir, Arc<dyn UserStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = db::open(&url(&dir.path().join("mini_chat.db"))).unwrap();
    (dir, store)
}

#[test]
fn open_creates_folder_file_and_seed_users() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not/yet/there/mini_chat.db");
    let store = db::open(&url(&path)).unwrap();
    assert!(path.is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert_eq!(store.describe(), format!("sqlite:{}", path.display()));
    store.ping().unwrap();
    check_seeded(&*store);
    // The raw file holds no plaintext password.
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM users WHERE user_password LIKE '%111111%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 0);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn memory_database_is_seeded() {
    let store = db::open("sqlite::memory:").unwrap();
    assert_eq!(store.describe(), "sqlite::memory:");
    check_seeded(&*store);
    assert_eq!(login(&*store, "user1", "111111"), ok("wang_yuan"));
}

#[test]
fn logins() {
    let (_dir, store) = fresh();
    check_logins(&*store);
}

#[test]
fn sql_injection_is_inert() {
    let (_dir, store) = fresh();
    check_injection(&*store);
    check_seeded(&*store);
    assert_eq!(login(&*store, "user1", "111111"), ok("wang_yuan"));
}

#[test]
fn add_passwd_list_remove() {
    let (_dir, store) = fresh();
    check_admin_crud(&*store);
    check_seeded(&*store);
}

#[test]
fn chinese_nicknames_round_trip() {
    let (_dir, store) = fresh();
    check_unicode(&*store);
}

#[test]
fn unknown_user_costs_a_hash() {
    let (_dir, store) = fresh();
    check_timing(&*store);
}

#[test]
fn legacy_plaintext_database_logs_in_and_upgrades() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("legacy.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(include_str!("common/legacy_seed.sqlite.sql"))
            .unwrap();
    }
    let store = db::open(&url(&path)).unwrap();
    check_legacy_upgrade(&*store);
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM users WHERE user_password = '111111'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 0);
}

#[test]
fn reopening_does_not_reseed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mini_chat.db");
    {
        let store = db::open(&url(&path)).unwrap();
        admin::user_passwd(&*store, "user1", "new-secret").unwrap();
        admin::user_remove(&*store, "user3").unwrap();
    }
    let store = db::open(&url(&path)).unwrap();
    assert_eq!(store.init().unwrap(), 0);
    let names: Vec<String> = store
        .list_users()
        .unwrap()
        .into_iter()
        .map(|u| u.user_name)
        .collect();
    assert_eq!(names, ["user1", "user2"]);
    assert_eq!(login(&*store, "user1", "new-secret"), ok("wang_yuan"));
    assert_eq!(login(&*store, "user1", "111111"), LoginCheck::Bad);
    let msg = admin::db_init(&*store).unwrap();
    assert!(msg.ends_with("ready, 2 users."), "{msg}");

    // A table emptied on purpose stays empty at the next start; `server db init` re-seeds it.
    admin::user_remove(&*store, "user1").unwrap();
    admin::user_remove(&*store, "user2").unwrap();
    drop(store);
    let store = db::open(&url(&path)).unwrap();
    assert!(
        store.list_users().unwrap().is_empty(),
        "an emptied table was re-seeded on open"
    );
    let msg = admin::db_init(&*store).unwrap();
    assert!(msg.contains("created 3 seed users"), "{msg}");
    check_seeded(&*store);
}

#[test]
fn db_init_message_on_empty_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(include_str!("../../sql/sqlite_schema.sql"))
        .unwrap();
    drop(conn);
    let store = db::SqliteStore::open(&path).unwrap();
    let msg = admin::db_init(&store).unwrap();
    assert!(msg.contains("created 3 seed users"), "{msg}");
    check_seeded(&store);
}

#[test]
fn concurrent_logins_and_writes() {
    let (_dir, store) = fresh();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let name = format!("t{i}");
                admin::user_add(&*store, &name, "线程", "pw").unwrap();
                assert_eq!(check_login(&*store, &name, "pw").unwrap(), ok("线程"));
                assert_eq!(
                    check_login(&*store, "user1", "111111").unwrap(),
                    ok("wang_yuan")
                );
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(store.list_users().unwrap().len(), 11);
}

#[test]
fn second_process_style_handle_sees_writes() {
    // `server user add` runs in another process while the chat server holds the file open.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let server_side = db::open(&url(&path)).unwrap();
    let admin_side = db::open(&url(&path)).unwrap();
    admin::user_add(&*admin_side, "newbie", "新人", "pw").unwrap();
    assert_eq!(login(&*server_side, "newbie", "pw"), ok("新人"));
}

#[test]
fn bad_urls_are_rejected() {
    for u in [
        "sqlite://",
        "sqlite:relative.db",
        "postgres://localhost/db",
        "mini_chat.db",
    ] {
        assert!(
            matches!(db::open(u), Err(db::DbError::BadUrl { .. })),
            "{u}"
        );
    }
}

#[test]
fn roster_imports_in_every_encoding() {
    let (dir, store) = fresh();
    check_roster_imports(&*store, dir.path());
}

#[test]
fn roster_reimport_and_reset() {
    let (dir, store) = fresh();
    check_reimport(&*store, dir.path());
}

#[test]
fn roster_bad_rows_write_nothing() {
    let (dir, store) = fresh();
    check_bad_roster(&*store, dir.path());
}

#[test]
fn history_table() {
    let (_dir, store) = fresh();
    check_history(&*store);
}

#[test]
fn memory_database_has_history() {
    let store = db::open("sqlite::memory:").unwrap();
    check_history(&*store);
}

#[test]
fn a_database_from_before_the_history_gets_its_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("legacy.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(include_str!("common/legacy_seed.sqlite.sql"))
            .unwrap();
        let n: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'chat_history'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 0);
    }
    let store = db::open(&url(&path)).unwrap();
    store.upgrade().unwrap();
    check_history(&*store);
}
