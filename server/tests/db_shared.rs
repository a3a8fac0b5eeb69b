//! Checks shared by `db_sqlite.rs` and `db_mysql.rs` (included there with `#[path]`); as a test
//! target of its own it has no tests.
#![allow(dead_code)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::crypto::password::is_hash;
use server::admin;
use server::db::{DbError, LoginCheck, UserStore, check_login};

pub const INJECTIONS: [&str; 6] = [
    "' OR '1'='1",
    "user1'--",
    "user1' OR 1=1 --",
    "user1'; DROP TABLE users; --",
    "\" OR \"\"=\"",
    "user1\\",
];

pub fn ok(nickname: &str) -> LoginCheck {
    LoginCheck::Ok {
        nickname: nickname.to_owned(),
    }
}

pub fn login(store: &dyn UserStore, user: &str, pw: &str) -> LoginCheck {
    check_login(store, user, pw).expect("check_login")
}

/// A fresh store holds the three seed users, hashed.
pub fn check_seeded(store: &dyn UserStore) {
    let users = store.list_users().unwrap();
    let got: Vec<(&str, &str)> = users
        .iter()
        .map(|u| (u.user_name.as_str(), u.user_nickname.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("user1", "wang_yuan"),
            ("user2", "ding_zhen"),
            ("user3", "cxk")
        ]
    );
    for u in &users {
        assert!(is_hash(&u.user_password), "{} not hashed", u.user_name);
        assert!(!u.user_password.contains("111111"));
    }
    assert!(users.windows(2).all(|w| w[0].user_id < w[1].user_id));
}

pub fn check_logins(store: &dyn UserStore) {
    assert_eq!(login(store, "user1", "111111"), ok("wang_yuan"));
    assert_eq!(login(store, "user2", "111111"), ok("ding_zhen"));
    assert_eq!(login(store, "user3", "111111"), ok("cxk"));
    assert_eq!(login(store, "user1", "111112"), LoginCheck::Bad);
    assert_eq!(login(store, "user1", ""), LoginCheck::Bad);
    assert_eq!(login(store, "nobody", "111111"), LoginCheck::Bad);
    assert_eq!(login(store, "", "111111"), LoginCheck::Bad);
    assert_eq!(login(store, &"u".repeat(200), "111111"), LoginCheck::Bad);
    // Exact names only, on every backend (MySQL collations ignore case and trailing spaces).
    assert_eq!(login(store, "USER1", "111111"), LoginCheck::Bad);
    assert_eq!(login(store, "user1 ", "111111"), LoginCheck::Bad);
    assert!(store.find_user("USER1").unwrap().is_none());
}

pub fn check_injection(store: &dyn UserStore) {
    let before = store.list_users().unwrap();
    for inj in INJECTIONS {
        assert_eq!(login(store, inj, "111111"), LoginCheck::Bad, "{inj}");
        assert_eq!(login(store, inj, inj), LoginCheck::Bad, "{inj}");
        assert_eq!(login(store, "user1", inj), LoginCheck::Bad, "{inj}");
        assert!(store.find_user(inj).unwrap().is_none(), "{inj}");
        assert!(!store.set_password(inj, "x").unwrap(), "{inj}");
        assert!(!store.remove_user(inj).unwrap(), "{inj}");
    }
    // Stored verbatim when used as data.
    store
        .add_user("inj", "pbkdf2-sha256$1$AA$AA", "' OR '1'='1")
        .unwrap();
    assert_eq!(
        store.find_user("inj").unwrap().unwrap().user_nickname,
        "' OR '1'='1"
    );
    assert!(store.remove_user("inj").unwrap());
    assert_eq!(store.list_users().unwrap(), before, "table changed");
}

/// add / passwd / list / remove through the admin functions.
pub fn check_admin_crud(store: &dyn UserStore) {
    assert_eq!(
        admin::user_add(store, "alice", "爱丽丝", "pw-one").unwrap(),
        "added user alice (爱丽丝)"
    );
    assert_eq!(login(store, "alice", "pw-one"), ok("爱丽丝"));
    let e = admin::user_add(store, "alice", "x", "pw").unwrap_err();
    assert!(format!("{e:#}").contains("already exists"), "{e:#}");
    assert!(matches!(store.add_user("alice", "h", "n"), Err(DbError::Exists(n)) if n == "alice"));

    for (name, nick) in [
        ("", "n"),
        ("a/b", "n"),
        ("bad\nname", "n"),
        (&*"x".repeat(31), "n"),
    ] {
        assert!(
            admin::user_add(store, name, nick, "pw").is_err(),
            "{name:?}"
        );
    }
    for nick in ["", &*"王".repeat(21), "a\u{1b}b"] {
        assert!(
            admin::user_add(store, "bob", nick, "pw").is_err(),
            "{nick:?}"
        );
    }
    assert!(admin::user_add(store, "bob", "bob", "").is_err());
    assert!(store.find_user("bob").unwrap().is_none());

    admin::user_passwd(store, "alice", "pw-two").unwrap();
    assert_eq!(login(store, "alice", "pw-one"), LoginCheck::Bad);
    assert_eq!(login(store, "alice", "pw-two"), ok("爱丽丝"));
    assert!(
        format!(
            "{:#}",
            admin::user_passwd(store, "nobody", "x").unwrap_err()
        )
        .contains("no such user")
    );
    assert!(
        store
            .set_password(
                "alice",
                &store.find_user("alice").unwrap().unwrap().user_password
            )
            .unwrap()
    );

    let list = admin::user_list(store).unwrap();
    assert!(
        list.contains("alice") && list.contains("爱丽丝") && list.contains("hashed"),
        "{list}"
    );
    assert!(
        !list.contains("pbkdf2") && !list.contains("PLAINTEXT"),
        "{list}"
    );
    assert_eq!(
        list.lines().count(),
        2 + store.list_users().unwrap().len(),
        "{list}"
    );

    assert_eq!(
        admin::user_remove(store, "alice").unwrap(),
        "removed user alice"
    );
    assert_eq!(login(store, "alice", "pw-two"), LoginCheck::Bad);
    assert!(
        format!("{:#}", admin::user_remove(store, "alice").unwrap_err()).contains("no such user")
    );
}

pub fn check_unicode(store: &dyn UserStore) {
    admin::user_add(store, "wy", "王源", "密码123").unwrap();
    assert_eq!(
        store.find_user("wy").unwrap().unwrap().user_nickname,
        "王源"
    );
    assert_eq!(login(store, "wy", "密码123"), ok("王源"));
    let long = "丁真".repeat(10); // 20 characters, 60 bytes
    admin::user_add(store, "dz", &long, "pw").unwrap();
    assert_eq!(store.find_user("dz").unwrap().unwrap().user_nickname, long);
    admin::user_add(store, "emoji", "🐔你太美", "pw").unwrap();
    assert_eq!(login(store, "emoji", "pw"), ok("🐔你太美"));
    for u in ["wy", "dz", "emoji"] {
        assert!(store.remove_user(u).unwrap());
    }
}

/// Unknown users cost about as much PBKDF2 time as known ones (loose bound: shared CI machines).
pub fn check_timing(store: &dyn UserStore) {
    let time = |u: &str| {
        (0..3)
            .map(|_| {
                let t = std::time::Instant::now();
                let _ = login(store, u, "wrong-password");
                t.elapsed()
            })
            .min()
            .unwrap()
    };
    let known = time("user1");
    let unknown = time("no-such-user");
    assert!(
        unknown * 3 >= known,
        "unknown {unknown:?} vs known {known:?}"
    );
}

/// Log lines emitted while running `f` (this thread only).
pub fn capture_logs<T>(f: impl FnOnce() -> T) -> (T, String) {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8_lossy(&buf.0.lock().unwrap()).into_owned();
    (out, text)
}

/// A legacy (plaintext) store: logs in with a warning, upgrades to hashes, still logs in.
pub fn check_legacy_upgrade(store: &dyn UserStore) {
    let users = store.list_users().unwrap();
    assert_eq!(users.len(), 3, "legacy rows must not be re-seeded");
    assert!(users.iter().all(|u| u.user_password == "111111"));
    let list = admin::user_list(store).unwrap();
    assert_eq!(
        list.matches("PLAINTEXT (run server db upgrade)").count(),
        3,
        "{list}"
    );
    assert!(!list.contains("111111"), "{list}");

    let (r, logs) = capture_logs(|| login(store, "user1", "111111"));
    assert_eq!(r, ok("wang_yuan"));
    assert!(
        logs.contains("WARN") && logs.contains("server db upgrade"),
        "{logs}"
    );
    assert!(!logs.contains("111111"), "password logged: {logs}");
    assert_eq!(login(store, "user1", "111112"), LoginCheck::Bad);
    assert_eq!(login(store, "user1", "11111"), LoginCheck::Bad);

    let msg = admin::db_upgrade(store).unwrap();
    assert!(msg.contains("hashed 3 plaintext passwords"), "{msg}");
    for u in store.list_users().unwrap() {
        assert!(is_hash(&u.user_password), "{u:?}");
        assert!(!u.user_password.contains("111111"));
    }
    let (r, logs) = capture_logs(|| login(store, "user2", "111111"));
    assert_eq!(r, ok("ding_zhen"));
    assert!(!logs.contains("WARN"), "{logs}");
    assert_eq!(login(store, "user3", "wrong"), LoginCheck::Bad);
    assert_eq!(store.upgrade().unwrap(), 0);
    assert!(
        admin::db_upgrade(store)
            .unwrap()
            .contains("no plaintext passwords left")
    );
}
