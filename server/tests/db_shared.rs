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
        must_change: false,
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
        assert!(!store.set_password(inj, "x", false).unwrap(), "{inj}");
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
                &store.find_user("alice").unwrap().unwrap().user_password,
                false
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

/// Held by [`check_timing`] and by the roster imports (160 PBKDF2 hashes), so the imports'
/// CPU load in a neighbouring test thread does not skew the timing comparison.
pub static CPU_HEAVY: Mutex<()> = Mutex::new(());

fn cpu_heavy() -> std::sync::MutexGuard<'static, ()> {
    CPU_HEAVY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Unknown users cost about as much PBKDF2 time as known ones (loose bound: shared CI machines).
pub fn check_timing(store: &dyn UserStore) {
    let _heavy = cpu_heavy();
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

    // No must_change_password column yet: an import says to upgrade and writes nothing.
    let dir = tempfile::tempdir().unwrap();
    let roster = dir.path().join("r.csv");
    std::fs::write(&roster, "newkid,新同学\n").unwrap();
    let e = server::import::user_import(store, &roster, false, dir.path()).unwrap_err();
    assert!(format!("{e:#}").contains("server db upgrade"), "{e:#}");
    assert_eq!(store.list_users().unwrap().len(), 3);

    let msg = admin::db_upgrade(store).unwrap();
    assert!(msg.contains("hashed 3 plaintext passwords"), "{msg}");
    // The upgrade added the column: the import works and flags the new user, not the old ones.
    server::import::user_import(store, &roster, false, dir.path()).unwrap();
    assert!(
        store
            .find_user("newkid")
            .unwrap()
            .unwrap()
            .must_change_password
    );
    assert!(
        !store
            .find_user("user1")
            .unwrap()
            .unwrap()
            .must_change_password
    );
    assert!(store.remove_user("newkid").unwrap());
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

/// The encodings a roster arrives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RosterFormat {
    Utf8,
    Utf8Bom,
    Gb18030,
    Xlsx,
}

impl RosterFormat {
    pub const ALL: [RosterFormat; 4] = [Self::Utf8, Self::Utf8Bom, Self::Gb18030, Self::Xlsx];

    fn prefix(self) -> &'static str {
        match self {
            Self::Utf8 => "u8",
            Self::Utf8Bom => "bom",
            Self::Gb18030 => "gb",
            Self::Xlsx => "xl",
        }
    }
}

/// A generated class of `n` students: `(username, nickname, given password)`. Every seventh
/// student has a password in the roster; the others get generated ones. Nicknames are Chinese.
pub fn class_of(format: RosterFormat, n: usize) -> Vec<(String, String, Option<String>)> {
    const FAMILY: [&str; 8] = ["王", "丁", "蔡", "李", "张", "刘", "陈", "赵"];
    (1..=n)
        .map(|i| {
            (
                format!("{}_s{i:02}", format.prefix()),
                format!("{}同学{i}号", FAMILY[i % FAMILY.len()]),
                (i % 7 == 0).then(|| format!("given-pw-{i}")),
            )
        })
        .collect()
}

/// Write `rows` (with a header row) as a roster file of `format` in `dir`.
pub fn write_roster(
    dir: &std::path::Path,
    format: RosterFormat,
    rows: &[(String, String, Option<String>)],
) -> std::path::PathBuf {
    let mut csv = String::from("username,nickname,password\r\n");
    for (u, n, p) in rows {
        csv.push_str(&format!("{u},{n},{}\r\n", p.as_deref().unwrap_or("")));
    }
    let (name, bytes) = match format {
        RosterFormat::Utf8 => ("roster.csv", csv.into_bytes()),
        RosterFormat::Utf8Bom => ("roster-bom.csv", format!("\u{FEFF}{csv}").into_bytes()),
        RosterFormat::Gb18030 => {
            let (b, _, bad) = encoding_rs::GB18030.encode(&csv);
            assert!(!bad);
            ("roster-gbk.csv", b.into_owned())
        }
        RosterFormat::Xlsx => {
            let path = dir.join("roster.xlsx");
            let mut wb = rust_xlsxwriter::Workbook::new();
            let ws = wb.add_worksheet();
            for (c, title) in ["用户名", "昵称", "密码"].iter().enumerate() {
                ws.write_string(0, c as u16, *title).unwrap();
            }
            for (r, (u, n, p)) in rows.iter().enumerate() {
                let r = r as u32 + 1;
                ws.write_string(r, 0, u).unwrap();
                ws.write_string(r, 1, n).unwrap();
                if let Some(p) = p {
                    ws.write_string(r, 2, p).unwrap();
                }
            }
            wb.save(&path).unwrap();
            return path;
        }
    };
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A 40-student roster in each encoding imports: rows, nicknames, flags, the class sheet, and
/// the passwords in it log in (flagged to change).
pub fn check_roster_imports(store: &dyn UserStore, dir: &std::path::Path) {
    let _heavy = cpu_heavy();
    use server::import::{PASSWORD_ALPHABET, SHEET_NAME, read_sheet, user_import};
    let before = store.list_users().unwrap().len();
    let sheet = dir.join(SHEET_NAME);
    for format in RosterFormat::ALL {
        let class = class_of(format, 40);
        let file = write_roster(dir, format, &class);
        let report = user_import(store, &file, false, dir).unwrap();
        assert_eq!(report.added.len(), 40, "{format:?}");
        assert!(report.kept.is_empty() && report.reset.is_empty());
        assert_eq!(report.sheet, sheet);
        let msg = report.message();
        let rows = read_sheet(&sheet).unwrap();
        for (u, n, given) in &class {
            let rec = store.find_user(u).unwrap().unwrap_or_else(|| panic!("{u}"));
            assert_eq!(&rec.user_nickname, n, "{format:?}");
            assert!(rec.must_change_password, "{u} not flagged");
            assert!(is_hash(&rec.user_password));
            let row = rows.iter().find(|r| &r[0] == u).expect("in the sheet");
            assert_eq!(&row[1], n);
            match given {
                Some(p) => assert_eq!(&row[2], p),
                None => {
                    assert!(row[2].len() >= 8, "{}", row[2]);
                    assert!(row[2].bytes().all(|b| PASSWORD_ALPHABET.contains(&b)));
                }
            }
            assert!(!msg.contains(&row[2]), "password in the message");
        }
        // Two logins per format (PBKDF2 is slow on purpose): one generated, one given.
        for (u, n, _) in [&class[0], &class[6]] {
            let pw = &rows.iter().find(|r| &r[0] == u).unwrap()[2];
            assert_eq!(
                login(store, u, pw),
                LoginCheck::Ok {
                    nickname: n.clone(),
                    must_change: true
                }
            );
        }
    }
    assert_eq!(store.list_users().unwrap().len(), before + 160);
    // The sheet: UTF-8 with BOM, owner-only, every imported user once.
    let bytes = std::fs::read(&sheet).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBFusername,nickname,password\r\n"));
    assert_eq!(read_sheet(&sheet).unwrap().len(), 160);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&sheet).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The seed users are not flagged.
    for u in ["user1", "user2", "user3"] {
        assert!(!store.find_user(u).unwrap().unwrap().must_change_password);
    }
}

/// Importing again leaves existing users alone; `--reset-passwords` gives them new ones.
pub fn check_reimport(store: &dyn UserStore, dir: &std::path::Path) {
    let _heavy = cpu_heavy();
    use server::import::{SHEET_NAME, read_sheet, user_import};
    let class = class_of(RosterFormat::Utf8, 40);
    let file = write_roster(dir, RosterFormat::Utf8, &class);
    user_import(store, &file, false, dir).unwrap();
    let first = read_sheet(&dir.join(SHEET_NAME)).unwrap();
    // A student changes their password (clears the flag); a re-import does not touch it.
    admin::user_passwd(store, &class[0].0, "my-own-pw").unwrap();
    let again = user_import(store, &file, false, dir).unwrap();
    assert_eq!((again.added.len(), again.kept.len()), (0, 40));
    assert_eq!(read_sheet(&dir.join(SHEET_NAME)).unwrap(), first);
    assert_eq!(login(store, &class[0].0, "my-own-pw"), ok(&class[0].1));
    let reset = user_import(store, &file, true, dir).unwrap();
    assert_eq!((reset.added.len(), reset.reset.len()), (0, 40));
    let second = read_sheet(&dir.join(SHEET_NAME)).unwrap();
    assert_eq!(second.len(), 40);
    assert_eq!(login(store, &class[0].0, "my-own-pw"), LoginCheck::Bad);
    assert!(login(store, &class[0].0, &second[0][2]) != LoginCheck::Bad);
    assert!(
        store
            .find_user(&class[0].0)
            .unwrap()
            .unwrap()
            .must_change_password
    );
    // A generated password changed; a given one is the roster's again.
    assert_ne!(first[0][2], second[0][2]);
    assert_eq!(second[6][2], "given-pw-7");
}

/// Bad rows are all reported with their line numbers, and nothing is written.
pub fn check_bad_roster(store: &dyn UserStore, dir: &std::path::Path) {
    use server::import::{BadRows, SHEET_NAME, user_import};
    let before = store.list_users().unwrap();
    let text = format!(
        "username,nickname\n\
         good1,好学生\n\
         bad name,坏\n\
         good2,好\n\
         good1,重复\n\
         good3,{}\n\
         good4,\n\
         ,无名\n\
         -rf,破折号\n\
         CON.txt,设备名\n\
         USER1,大小写\n\
         good5,好,pw,extra\n\
         good6,好,a\u{1}b\n",
        "长".repeat(21)
    );
    let file = dir.join("bad.csv");
    std::fs::write(&file, text).unwrap();
    let err = user_import(store, &file, false, dir).unwrap_err();
    let bad = err.downcast_ref::<BadRows>().expect("BadRows");
    let lines: Vec<usize> = bad.rows.iter().map(|r| r.line).collect();
    assert_eq!(lines, [3, 5, 6, 7, 8, 9, 10, 11, 12, 13], "{err}");
    let shown = err.to_string();
    assert!(
        shown.contains("line 5: good1 appears twice (first on line 2"),
        "{shown}"
    );
    assert!(
        shown.contains("line 7: good4: the nickname is empty"),
        "{shown}"
    );
    assert!(shown.contains("nothing was imported"), "{shown}");
    assert_eq!(store.list_users().unwrap(), before, "something was written");
    assert!(!dir.join(SHEET_NAME).exists());
    // An empty roster is refused too.
    std::fs::write(&file, "username,nickname\n").unwrap();
    assert!(user_import(store, &file, false, dir).is_err());
}

/// A history row with a recognisable body (the store does not look inside it).
pub fn history_row(
    id: u64,
    from: &str,
    to: Option<&str>,
    delivered: bool,
) -> server::db::HistoryRow {
    server::db::HistoryRow {
        msg_id: id,
        sent_ms: 1_000_000 + id,
        from_user: from.to_owned(),
        to_user: to.map(str::to_owned),
        delivered,
        body: vec![id as u8, 0xff, 0x00, b'|'],
    }
}

/// The `chat_history` methods: order, visibility, limits, held private messages, idempotent
/// appends, purge.
pub fn check_history(store: &dyn UserStore) {
    use server::db::Visible;
    assert_eq!(store.history_max_id().unwrap(), 0);
    let rows: Vec<_> = (1..=30u64)
        .map(|i| match i % 3 {
            0 => history_row(i, "user1", None, true),
            1 => history_row(i, "user2", Some("user3"), i > 20),
            _ => history_row(i, "user3", Some("user1"), true),
        })
        .collect();
    store.history_append(&rows[..10]).unwrap();
    // A retried batch (its first part already stored) neither fails nor duplicates.
    store.history_append(&rows).unwrap();
    assert_eq!(store.history_max_id().unwrap(), 30);
    let ids = |v: Vec<server::db::HistoryRow>| v.into_iter().map(|r| r.msg_id).collect::<Vec<_>>();
    let all = store
        .history_before(Visible::All, u64::MAX, usize::MAX)
        .unwrap();
    assert_eq!(all, rows, "every column round-trips, in id order");
    assert_eq!(
        ids(store.history_before(Visible::Public, 28, 3).unwrap()),
        [21, 24, 27],
        "the newest public ones below the id, ascending"
    );
    let to_user1 = ids(store
        .history_before(Visible::To("user1"), u64::MAX, 4)
        .unwrap());
    assert_eq!(to_user1, [26, 27, 29, 30]);
    // user2 sees public messages and the private ones it sent, not those between 1 and 3.
    let user2 = ids(store.history_before(Visible::To("user2"), 9, 100).unwrap());
    assert_eq!(user2, [1, 3, 4, 6, 7]);
    // Exact names only.
    assert!(
        ids(store
            .history_before(Visible::To("USER1"), u64::MAX, 100)
            .unwrap())
        .iter()
        .all(|id| id % 3 == 0)
    );
    let held = ids(store.history_undelivered("user3", 100).unwrap());
    assert_eq!(held, [1, 4, 7, 10, 13, 16, 19]);
    assert_eq!(ids(store.history_undelivered("user3", 2).unwrap()), [1, 4]);
    assert!(store.history_undelivered("user1", 100).unwrap().is_empty());
    store.history_mark_delivered("user3", 10).unwrap();
    assert_eq!(
        ids(store.history_undelivered("user3", 100).unwrap()),
        [13, 16, 19]
    );
    store
        .history_mark_delivered("user3", u64::MAX >> 2)
        .unwrap();
    assert!(store.history_undelivered("user3", 100).unwrap().is_empty());
    assert_eq!(store.history_purge(1_000_000 + 11).unwrap(), 10);
    assert_eq!(
        ids(store.history_before(Visible::All, u64::MAX, 1).unwrap()),
        [30]
    );
    assert_eq!(
        store
            .history_before(Visible::All, u64::MAX, 100)
            .unwrap()
            .len(),
        20
    );
}
