//! Issue 15: chat history and offline messages against the real chat server in-process, on a
//! SQLite file: the late joiner's last 100, private messages held for an offline user and
//! delivered once, scroll-back pages, `1008 STORED`, a database outage, a restart, what the
//! database file reveals, export and purge; `mysql_history_end_to_end` runs the main cases on
//! MySQL/MariaDB when `CHAT_TEST_MYSQL_URL` is set. (SIGKILL of the real binary:
//! `history_restart.rs`; every store query on both backends: `db_sqlite.rs`, `db_mysql.rs`.)

#[path = "common/mod.rs"]
mod harness;

use std::path::Path;
use std::sync::Arc;

use common::crypto::storage::StorageKey;
use common::protocol::chat::{ChatLine, ClientRequest, NoticeKind, ServerEvent};
use common::protocol::history::HistorySource;
use harness::*;
use server::db::{UserStore, Visible};
use server::history::HistorySettings;
use server::history::export::{self, Format};
use server::server::Settings;

/// History on, under `key`, with `on_join` public messages at login.
fn history(key: &Arc<StorageKey>, on_join: usize) -> impl FnOnce(&mut Settings) {
    let key = key.clone();
    move |s: &mut Settings| {
        let mut h = HistorySettings::new(key);
        h.on_join = on_join;
        s.history = Some(h);
    }
}

/// A server with history on, on a fresh SQLite file in `dir`.
async fn start(dir: &Path, key: &Arc<StorageKey>, on_join: usize) -> TestServer {
    let store = fast_store(&dir.join("users.db"));
    TestServer::start_with(store, history(key, on_join)).await
}

/// The server again on the same file (after a shutdown).
async fn restart(dir: &Path, key: &Arc<StorageKey>) -> TestServer {
    let store =
        server::db::open(&format!("sqlite://{}", dir.join("users.db").display())).expect("reopen");
    TestServer::start_with(store, history(key, 100)).await
}

/// Read one whole `1007` answer of `source`.
async fn answer(c: &mut Client, source: HistorySource) -> Vec<ChatLine> {
    let mut lines = Vec::new();
    loop {
        match c.event().await {
            ServerEvent::History(page) => {
                assert_eq!(page.source, source, "{}", c.user);
                lines.extend(page.lines);
                if !page.more {
                    return lines;
                }
            }
            ServerEvent::Stored { .. } => {}
            other => panic!(
                "{}: expected a {source:?} history page, got {other:?}",
                c.user
            ),
        }
    }
}

/// Log in and read the login's history.
async fn join(server: &TestServer, user: &str) -> (Client, Vec<ChatLine>) {
    let mut c = server.login(user).await;
    let lines = answer(&mut c, HistorySource::Login).await;
    (c, lines)
}

/// Send `texts` (to `to`) and read their echoes: their ids.
async fn send_all(c: &mut Client, to: Option<&str>, texts: &[String]) -> Vec<u64> {
    for t in texts {
        c.send(&ClientRequest::Chat {
            to: to.map(str::to_owned),
            text: t.clone(),
        })
        .await;
    }
    let mut ids = Vec::new();
    while ids.len() < texts.len() {
        match c.event().await {
            ServerEvent::Chat(line) if line.from_user == c.user => {
                assert_eq!(line.text, texts[ids.len()]);
                ids.push(line.msg_id);
            }
            ServerEvent::Chat(_) | ServerEvent::Notice(_) | ServerEvent::Stored { .. } => {}
            other => panic!("{}: unexpected {other:?}", c.user),
        }
    }
    ids
}

/// Wait for `1008 STORED` covering `id` (skipping anything else).
async fn stored(c: &mut Client, id: u64) {
    loop {
        if let ServerEvent::Stored { upto } = c.event().await
            && upto >= id
        {
            return;
        }
    }
}

fn texts(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix} {i} 你好")).collect()
}

#[tokio::test]
async fn late_joiner_sees_the_last_100_in_order_then_live() {
    let dir = tempfile::tempdir().unwrap();
    let key = Arc::new(StorageKey::generate());
    let server = start(dir.path(), &key, 100).await;
    let (mut a, first) = join(&server, "user1").await;
    assert!(first.is_empty(), "a fresh database has no history");
    let sent = texts("m", 120);
    let ids = send_all(&mut a, None, &sent).await;
    stored(&mut a, *ids.last().unwrap()).await;

    let (mut b, seen) = join(&server, "user2").await;
    let got: Vec<&str> = seen.iter().map(|l| l.text.as_str()).collect();
    let want: Vec<&str> = sent[20..].iter().map(String::as_str).collect();
    assert_eq!(got, want, "the last 100, oldest first");
    assert!(seen.windows(2).all(|w| w[0].msg_id < w[1].msg_id));
    assert_eq!(seen.last().unwrap().msg_id, *ids.last().unwrap());
    assert!(
        seen.iter()
            .all(|l| l.from_user == "user1" && l.from_nick == "wang_yuan")
    );
    // Live messages follow, and the history is not repeated.
    a.say("live").await;
    let live = b.chat_skipping_notices().await;
    assert_eq!(live.text, "live");
    assert!(live.msg_id > *ids.last().unwrap());
}

#[tokio::test]
async fn history_on_join_zero_sends_an_empty_login_answer() {
    let dir = tempfile::tempdir().unwrap();
    let key = Arc::new(StorageKey::generate());
    let server = start(dir.path(), &key, 0).await;
    let (mut a, _) = join(&server, "user1").await;
    let ids = send_all(&mut a, None, &texts("x", 3)).await;
    stored(&mut a, ids[2]).await;
    let (_b, seen) = join(&server, "user2").await;
    assert!(seen.is_empty(), "{seen:?}");
}

#[tokio::test]
async fn offline_private_message_is_held_and_delivered_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let key = Arc::new(StorageKey::generate());
    let server = start(dir.path(), &key, 100).await;
    let (mut a, _) = join(&server, "user1").await;
    a.send(&whisper("user2", "悄悄话 while you were away"))
        .await;
    let echo = a.chat().await;
    assert_eq!(echo.to.as_deref(), Some("user2"));
    let held = a.notice(NoticeKind::Held).await;
    assert_eq!(held.user, "user2");
    stored(&mut a, echo.msg_id).await;

    let (b, seen) = join(&server, "user2").await;
    assert_eq!(seen, [echo], "the held message, marked as history");
    b.logout().await;
    // Delivered once: not at the next login, nor after a restart.
    let (b, seen) = join(&server, "user2").await;
    assert!(seen.is_empty(), "{seen:?}");
    b.logout().await;
    // A public message is history for everyone; the private one stays between the two.
    let (_c, seen) = join(&server, "user3").await;
    assert!(seen.is_empty(), "{seen:?}");
}

#[tokio::test]
async fn private_message_to_an_online_user_is_not_delivered_again_at_login() {
    let dir = tempfile::tempdir().unwrap();
    let key = Arc::new(StorageKey::generate());
    let server = start(dir.path(), &key, 100).await;
    let (mut a, _) = join(&server, "user1").await;
    let (mut b, _) = join(&server, "user2").await;
    a.joined("user2").await;
    let ids = send_all(&mut a, Some("user2"), &["live whisper".to_owned()]).await;
    assert_eq!(b.chat().await.text, "live whisper");
    stored(&mut a, ids[0]).await;
    b.logout().await;
    let (_b, seen) = join(&server, "user2").await;
    assert!(seen.is_empty(), "delivered live, so not held: {seen:?}");
}

#[tokio::test]
async fn scroll_back_pages_in_order_without_gap_or_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let key = Arc::new(StorageKey::generate());
    let server = start(dir.path(), &key, 30).await;
    let (mut a, _) = join(&server, "user1").await;
    let public = texts("p", 250);
    let mut all = send_all(&mut a, None, &public[..100]).await;
    // Private messages between user1 and user3 in between: user2 never sees them.
    let secret = send_all(&mut a, Some("user3"), &texts("secret", 5)).await;
    all.extend(send_all(&mut a, None, &public[100..]).await);
    stored(&mut a, *all.last().unwrap()).await;

    let (mut b, seen) = join(&server, "user2").await;
    assert_eq!(seen.len(), 30);
    let mut have: Vec<ChatLine> = seen;
    loop {
        let before = have[0].msg_id;
        b.send(&ClientRequest::History {
            before_id: before,
            count: 40,
        })
        .await;
        let page = answer(&mut b, HistorySource::Older).await;
        assert!(page.iter().all(|l| l.msg_id < before));
        let n = page.len();
        have.splice(0..0, page);
        if n < 40 {
            break;
        }
    }
    let ids: Vec<u64> = have.iter().map(|l| l.msg_id).collect();
    assert_eq!(ids, all, "every public message once, in order");
    let got: Vec<&str> = have.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(got, public.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!ids.iter().any(|id| secret.contains(id)));

    // user3 scrolling back sees the private messages sent to it, in their place.
    let (mut c, held) = join(&server, "user3").await;
    assert_eq!(held.iter().filter(|l| l.to.is_some()).count(), 5);
    c.send(&ClientRequest::History {
        before_id: 0,
        count: 1000,
    })
    .await;
    let newest = answer(&mut c, HistorySource::Older).await;
    assert_eq!(newest.len(), 200, "a count above the limit gets the limit");
    assert_eq!(newest.last().unwrap().msg_id, *all.last().unwrap());
}

#[tokio::test]
async fn sigint_style_shutdown_and_restart_lose_nothing_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let key = Arc::new(StorageKey::generate());
    let mut server = start(dir.path(), &key, 100).await;
    let (mut a, _) = join(&server, "user1").await;
    let sent = texts("before restart", 40);
    // No waiting for 1008: a graceful shutdown writes everything accepted.
    let ids = send_all(&mut a, None, &sent).await;
    send_all(
        &mut a,
        Some("user3"),
        &["held across the restart".to_owned()],
    )
    .await;
    server.shutdown().await;
    drop(a);

    let server = restart(dir.path(), &key).await;
    let (mut b, seen) = join(&server, "user2").await;
    assert_eq!(
        seen.iter().map(|l| l.msg_id).collect::<Vec<_>>(),
        ids,
        "every accepted public message"
    );
    let (_c, held) = join(&server, "user3").await;
    let whisper: Vec<_> = held.iter().filter(|l| l.to.is_some()).collect();
    assert_eq!(whisper.len(), 1);
    assert_eq!(whisper[0].text, "held across the restart");
    // Ids go on increasing after the restart.
    b.say("after").await;
    let after = b.chat_skipping_notices().await;
    assert!(after.msg_id > whisper[0].msg_id);
}

/// Every occurrence of `needle` in `hay`.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn the_database_file_holds_no_message_text() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let key = Arc::new(StorageKey::generate());
    let mut server = start(dir.path(), &key, 100).await;
    let (mut a, _) = join(&server, "user1").await;
    let public = "机密内容 Xq9-public-plaintext";
    let private = "秘密 Zw7-private-plaintext";
    let mut ids = send_all(&mut a, None, &[public.to_owned()]).await;
    ids.extend(send_all(&mut a, Some("user3"), &[private.to_owned()]).await);
    stored(&mut a, ids[1]).await;
    let store = server.store.clone();
    server.shutdown().await;
    drop(a);
    // The rows are there...
    let rows = store.history_before(Visible::All, u64::MAX, 10).unwrap();
    assert_eq!(rows.len(), 2);
    drop(store);
    // ...but no file of the database (the WAL included) holds their text in any form.
    let mut raw = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("users.db")
        {
            raw.extend(std::fs::read(&path).unwrap());
        }
    }
    assert!(raw.len() > 4096);
    for text in [public, private] {
        let b = text.as_bytes();
        for form in [
            b.to_vec(),
            "机密内容".as_bytes().to_vec(),
            b"Xq9-public".to_vec(),
            b"Zw7-private".to_vec(),
            base64::engine::general_purpose::STANDARD
                .encode(b)
                .into_bytes(),
            hex::encode(b).into_bytes(),
            hex::encode_upper(b).into_bytes(),
        ] {
            assert!(
                !contains(&raw, &form),
                "the database files contain {:?}",
                String::from_utf8_lossy(&form)
            );
        }
    }
    // A marker that is stored in clear (a username) is found: the search works.
    assert!(contains(&raw, b"user3"));
}

#[tokio::test]
async fn database_outage_keeps_chat_live_and_writes_when_back() {
    let dir = tempfile::tempdir().unwrap();
    let key = Arc::new(StorageKey::generate());
    let switch = SwitchableStore::new(fast_store(&dir.path().join("users.db")));
    let store: Arc<dyn UserStore> = switch.clone();
    let tweak = {
        let key = key.clone();
        move |s: &mut Settings| {
            let mut h = HistorySettings::new(key);
            h.queue_len = 5;
            s.history = Some(h);
        }
    };
    let server = TestServer::start_with(store, tweak).await;
    let (mut a, _) = join(&server, "user1").await;
    let (mut b, _) = join(&server, "user2").await;
    a.joined("user2").await;

    switch.stop();
    let sent = texts("during the outage", 5);
    for t in &sent {
        a.say(t).await;
    }
    for t in &sent {
        assert_eq!(&b.chat().await.text, t, "live chat goes on");
    }
    let mut last = 0;
    for t in &sent {
        match a.event().await {
            ServerEvent::Chat(l) => {
                assert_eq!(&l.text, t);
                last = l.msg_id;
            }
            other => panic!("expected the echo, got {other:?}"),
        }
    }
    // The sixth finds the queue full: refused, with a notice, and nobody receives it.
    a.say("one too many").await;
    let n = a.notice(NoticeKind::Warn).await;
    assert!(n.text.starts_with("not sent"), "{}", n.text);
    a.assert_quiet().await;
    b.assert_quiet().await;

    switch.start();
    stored(&mut a, last).await;
    let rows = server
        .store
        .history_before(Visible::All, u64::MAX, 100)
        .unwrap();
    let lines = server::history::open_rows(&key, &rows);
    assert_eq!(
        lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(),
        sent.iter().map(String::as_str).collect::<Vec<_>>()
    );
    // And chat is accepted again.
    a.say("back").await;
    assert_eq!(b.chat().await.text, "back");
}

#[tokio::test]
async fn history_off_refuses_offline_private_messages_as_before() {
    let server = TestServer::start().await;
    let mut a = server.login("user1").await;
    a.send(&whisper("user2", "x")).await;
    let n = a.notice(NoticeKind::Warn).await;
    assert!(n.text.contains("not online"), "{}", n.text);
    // And a history request gets an empty answer.
    a.send(&ClientRequest::History {
        before_id: 0,
        count: 10,
    })
    .await;
    assert!(answer(&mut a, HistorySource::Older).await.is_empty());
}

#[tokio::test]
async fn export_and_purge() {
    let dir = tempfile::tempdir().unwrap();
    let key = Arc::new(StorageKey::generate());
    let mut server = start(dir.path(), &key, 100).await;
    let (mut a, _) = join(&server, "user1").await;
    let mut ids = send_all(&mut a, None, &["公开, \"quoted\"\nline".to_owned()]).await;
    ids.extend(send_all(&mut a, Some("user3"), &["to user3 only".to_owned()]).await);
    ids.extend(send_all(&mut a, Some("user2"), &["to user2 only".to_owned()]).await);
    stored(&mut a, ids[2]).await;
    let store = server.store.clone();
    server.shutdown().await;

    let mut csv = Vec::new();
    let n = export::export(&*store, &key, Some("user2"), Format::Csv, &mut csv).unwrap();
    assert_eq!(
        n, 2,
        "user2's export: the public message and its own private one"
    );
    assert!(csv.starts_with("\u{feff}id,time_utc,from,nickname,to,text\n".as_bytes()));
    let text = String::from_utf8(csv).unwrap();
    assert!(text.contains("\"公开, \"\"quoted\"\"\nline\""), "{text}");
    assert!(text.contains("to user2 only") && !text.contains("to user3 only"));

    let mut jsonl = Vec::new();
    assert_eq!(
        export::export(&*store, &key, None, Format::Jsonl, &mut jsonl).unwrap(),
        3
    );
    let jsonl = String::from_utf8(jsonl).unwrap();
    let lines: Vec<&str> = jsonl.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(
        lines[0].contains("\"text\":\"公开, \\\"quoted\\\"\\nline\""),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("\"to\":null") && lines[1].contains("\"to\":\"user3\""));

    // A date before them deletes nothing; one after, everything.
    let msg = export::purge(&*store, Some("2001-01-01"), 30).unwrap();
    assert!(msg.contains("deleted 0 stored messages"), "{msg}");
    let msg = export::purge(&*store, Some("2999-01-01"), 30).unwrap();
    assert!(msg.contains("deleted 3 stored messages"), "{msg}");
    assert!(
        export::purge(&*store, None, 0).is_err(),
        "0 days keeps for ever"
    );
}

#[tokio::test]
async fn a_reconnect_gets_the_public_history_again_with_the_same_ids() {
    // The server's login history repeats the public messages with their ids, so a client drops
    // those it shows already (the GUI: gui_logic.rs).
    let dir = tempfile::tempdir().unwrap();
    let key = Arc::new(StorageKey::generate());
    let server = start(dir.path(), &key, 100).await;
    let (mut a, _) = join(&server, "user1").await;
    let ids = send_all(&mut a, None, &texts("a", 3)).await;
    stored(&mut a, ids[2]).await;
    drop(a);
    let (_a, seen) = join(&server, "user1").await;
    assert_eq!(seen.iter().map(|l| l.msg_id).collect::<Vec<_>>(), ids);
}

/// A client that reconnects after more than `history_on_join` messages: the login brings the
/// latest 100, and the ones in between are reached only by asking before the login's first
/// message (what the chat window and the terminal do: gui_logic.rs), not before the oldest
/// shown (what scroll-back asks). Paging that way until a page reaches the last message seen
/// brings every missed message once.
#[tokio::test]
async fn a_reconnect_after_more_than_history_on_join_fills_the_gap_by_paging_from_the_login() {
    let dir = tempfile::tempdir().unwrap();
    let key = Arc::new(StorageKey::generate());
    let server = start(dir.path(), &key, 100).await;
    let (mut a, _) = join(&server, "user1").await;
    let (mut b, _) = join(&server, "user2").await;
    let live = send_all(&mut a, None, &texts("before", 5)).await;
    let mut seen = Vec::new();
    while seen.len() < live.len() {
        if let ServerEvent::Chat(line) = b.event().await {
            seen.push(line.msg_id);
        }
    }
    assert_eq!(seen, live);
    drop(b);
    let missed = send_all(&mut a, None, &texts("away", 250)).await;
    stored(&mut a, *missed.last().unwrap()).await;

    let (mut b, login) = join(&server, "user2").await;
    let login_ids: Vec<u64> = login.iter().map(|l| l.msg_id).collect();
    assert_eq!(login_ids, missed[150..], "the latest 100");
    // Before the oldest shown: only what is older than everything; the 150 stay out of reach.
    b.send(&ClientRequest::History {
        before_id: seen[0],
        count: 200,
    })
    .await;
    assert!(answer(&mut b, HistorySource::Older).await.is_empty());
    // Before the login's first, page by page, until the last message seen before.
    let last_seen = *seen.last().unwrap();
    let mut gap: Vec<u64> = Vec::new();
    let mut before = login_ids[0];
    loop {
        b.send(&ClientRequest::History {
            before_id: before,
            count: 100,
        })
        .await;
        let page = answer(&mut b, HistorySource::Older).await;
        let reached = page.iter().any(|l| l.msg_id <= last_seen);
        let new: Vec<u64> = page
            .iter()
            .map(|l| l.msg_id)
            .filter(|&id| id > last_seen)
            .collect();
        gap.splice(0..0, new);
        if reached || page.len() < 100 {
            break;
        }
        before = page[0].msg_id;
    }
    let mut all = seen.clone();
    all.extend(gap);
    all.extend(login_ids);
    let mut want = live;
    want.extend(missed);
    assert_eq!(all, want, "every message once, in order");
}

/// The same on MySQL/MariaDB (`CHAT_TEST_MYSQL_URL`, e.g. `mysql://root@127.0.0.1:3306`): a late
/// joiner's history in order, a held private message delivered once, scroll-back, and no message
/// text in the table. Works in its own database, dropped afterwards.
#[tokio::test]
async fn mysql_history_end_to_end() {
    use mysql::prelude::Queryable;
    let Ok(base) = std::env::var("CHAT_TEST_MYSQL_URL") else {
        eprintln!("SKIPPED: CHAT_TEST_MYSQL_URL not set");
        return;
    };
    eprintln!("MYSQL-TEST-RAN mysql_history_end_to_end");
    let base = base.trim_end_matches('/').to_owned();
    let r = common::crypto::random::bytes::<4>();
    let name = format!("minichat_hist_{}_{}", std::process::id(), hex::encode(r));
    /// Drops the scratch database, even when the test panics.
    struct ScratchDb(String, String);
    impl Drop for ScratchDb {
        fn drop(&mut self) {
            let opts = mysql::OptsBuilder::from_opts(mysql::Opts::from_url(&self.0).unwrap())
                .prefer_socket(false);
            if let Ok(mut c) = mysql::Conn::new(opts) {
                let _ = c.query_drop(format!("DROP DATABASE IF EXISTS `{}`", self.1));
            }
        }
    }
    let _drop = ScratchDb(base.clone(), name.clone());
    let url = format!("{base}/{name}");
    let store = server::db::open(&url).expect("open MySQL");
    let key = Arc::new(StorageKey::generate());
    let server = TestServer::start_with(store.clone(), history(&key, 100)).await;

    let (mut a, first) = join(&server, "user1").await;
    assert!(first.is_empty());
    let secret = "机密 mysql-Qx7-plaintext";
    let sent: Vec<String> = (0..110).map(|i| format!("{secret} {i}")).collect();
    let ids = send_all(&mut a, None, &sent).await;
    let held = send_all(&mut a, Some("user3"), &["悄悄话 held in MySQL".to_owned()]).await;
    stored(&mut a, held[0]).await;

    let (mut b, seen) = join(&server, "user2").await;
    assert_eq!(
        seen.iter().map(|l| l.msg_id).collect::<Vec<_>>(),
        ids[10..],
        "the last 100 in order"
    );
    b.send(&ClientRequest::History {
        before_id: seen[0].msg_id,
        count: 50,
    })
    .await;
    let older = answer(&mut b, HistorySource::Older).await;
    assert_eq!(
        older.iter().map(|l| l.msg_id).collect::<Vec<_>>(),
        ids[..10],
        "the 10 before them, then nothing more"
    );
    let (c, seen) = join(&server, "user3").await;
    assert_eq!(seen.iter().filter(|l| l.to.is_some()).count(), 1);
    c.logout().await;
    let (_c, seen) = join(&server, "user3").await;
    assert!(seen.iter().all(|l| l.to.is_none()), "delivered once");

    // The table holds no text: not as it is, nor in base64 or hex.
    use base64::Engine as _;
    let mut conn = mysql::Conn::new(
        mysql::OptsBuilder::from_opts(mysql::Opts::from_url(&url).unwrap()).prefer_socket(false),
    )
    .unwrap();
    let bodies: Vec<Vec<u8>> = conn.query("SELECT body FROM chat_history").unwrap();
    assert_eq!(bodies.len(), 111);
    let all: Vec<u8> = bodies.concat();
    for form in [
        secret.as_bytes().to_vec(),
        b"mysql-Qx7".to_vec(),
        base64::engine::general_purpose::STANDARD
            .encode(secret)
            .into_bytes(),
        hex::encode(secret).into_bytes(),
    ] {
        assert!(!contains(&all, &form));
    }
    let n: Option<i64> = conn
        .exec_first(
            "SELECT COUNT(*) FROM chat_history WHERE body LIKE ? OR HEX(body) LIKE ?",
            (
                "%mysql-Qx7%",
                format!("%{}%", hex::encode_upper("mysql-Qx7")),
            ),
        )
        .unwrap();
    assert_eq!(n, Some(0));
}
