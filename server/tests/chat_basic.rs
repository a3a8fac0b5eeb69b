//! Chatting through the real server: three users, private messages, per-recipient ordering,
//! newest login wins, and (when `CHAT_TEST_MYSQL_URL` is set) the three-user chat on MySQL.

#[path = "common/mod.rs"]
mod harness;

use std::collections::HashMap;

use common::protocol::Reason;
use common::protocol::chat::{ClientRequest, NoticeKind, ServerEvent};
use harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_users_chatting() {
    // The database exactly as `server` opens `sqlite::memory:` (seeded, full-cost hashes).
    let server = TestServer::start_with(memory_store(), |_| {}).await;
    three_users_chat(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_messages() {
    let server = TestServer::start().await;
    let mut u1 = server.login("user1").await;
    let mut u2 = server.login("user2").await;
    u1.joined("user2").await;
    let mut u3 = server.login("user3").await;
    u1.joined("user3").await;
    u2.joined("user3").await;

    let secret = "悄悄话 | only for ding_zhen 🤫\n";
    u1.send(&whisper("user2", secret)).await;
    for c in [&mut u2, &mut u1] {
        let line = c.chat().await;
        assert_eq!(line.from_user, "user1", "{}", c.user);
        assert_eq!(line.from_nick, "wang_yuan");
        assert_eq!(line.to.as_deref(), Some("user2"));
        assert_eq!(line.text, secret);
    }
    // The third user gets nothing, and the next public message is the first thing it sees.
    u3.assert_quiet().await;
    u1.say("public after the whisper").await;
    for c in [&mut u3, &mut u2, &mut u1] {
        let line = c.chat().await;
        assert_eq!(
            (
                line.from_user.as_str(),
                line.to.as_deref(),
                line.text.as_str()
            ),
            ("user1", None, "public after the whisper"),
            "{}",
            c.user
        );
    }

    // A private message to somebody offline: the sender is told, nobody else hears of it.
    u3.logout().await;
    u1.left("user3").await;
    u2.left("user3").await;
    for to in ["user3", "nobody"] {
        u1.send(&whisper(to, "are you there?")).await;
        let n = u1.notice(NoticeKind::Warn).await;
        assert!(
            n.text.contains(to) && n.text.contains("not online"),
            "{n:?}"
        );
    }
    u2.say("sentinel").await;
    assert_eq!(u2.chat().await.text, "sentinel");
    assert_eq!(u1.chat().await.text, "sentinel");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_recipient_ordering_under_concurrent_senders() {
    const N: usize = 200;
    let server = TestServer::start().await;
    let mut clients = Vec::new();
    for u in ["user1", "user2", "user3"] {
        clients.push(server.login(u).await);
    }
    // Absorb the join notices so every receiver starts clean.
    clients[0].joined("user2").await;
    clients[0].joined("user3").await;
    clients[1].joined("user3").await;

    let mut senders = Vec::new();
    let mut receivers = Vec::new();
    for c in clients {
        let harness::Client {
            user,
            mut tx,
            mut rx,
            ..
        } = c;
        let who = user.clone();
        senders.push(tokio::spawn(async move {
            for i in 0..N {
                let req = say(&format!("{who} #{i}"));
                within("send", tx.send(&req)).await.expect("send");
            }
            tx
        }));
        receivers.push(tokio::spawn(async move {
            let mut got = Vec::with_capacity(3 * N);
            while got.len() < 3 * N {
                match within(&format!("{user} receiving"), rx.next()).await {
                    Ok(Some(common::client::chat_client::Incoming::Event {
                        event: ServerEvent::Chat(line),
                        ..
                    })) => got.push(line),
                    other => panic!("{user}: unexpected {other:?}"),
                }
            }
            (user, got)
        }));
    }
    let mut keep = Vec::new();
    for s in senders {
        keep.push(within("sender task", s).await.unwrap());
    }
    let mut sequences = Vec::new();
    for r in receivers {
        let (user, got) = within("receiver task", r).await.unwrap();
        assert_eq!(got.len(), 3 * N);
        assert!(
            got.windows(2).all(|w| w[0].msg_id < w[1].msg_id),
            "{user}: msg ids not strictly increasing"
        );
        let mut next: HashMap<String, usize> = HashMap::new();
        for line in &got {
            let i = next.entry(line.from_user.clone()).or_default();
            assert_eq!(
                line.text,
                format!("{} #{}", line.from_user, *i),
                "{user}: out of order, lost or duplicated"
            );
            *i += 1;
        }
        assert_eq!(next.len(), 3);
        assert!(next.values().all(|&n| n == N), "{user}: {next:?}");
        sequences.push(got.iter().map(|l| l.msg_id).collect::<Vec<_>>());
    }
    // Every recipient saw the same server-wide order.
    assert!(sequences.windows(2).all(|w| w[0] == w[1]));
    drop(keep);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newest_login_wins() {
    let server = TestServer::start().await;
    let mut first = server.login("user1").await;
    let mut u2 = server.login("user2").await;
    first.joined("user2").await;

    let mut second = server.login("user1").await;
    assert_eq!(
        second.online,
        online(&[("user1", "wang_yuan"), ("user2", "ding_zhen")])
    );
    let e = first.closed_with().await;
    assert_eq!(e.reason, Reason::LoggedInElsewhere, "{e:?}");
    assert!(e.message.contains("logged in again"), "{e:?}");
    // user1 never went offline: the other user gets neither a LEAVE for the old session nor a
    // JOIN for the new one; the next thing it sees is the new session's message.
    second.say("from the new session").await;
    for c in [&mut u2, &mut second] {
        let line = c.chat().await;
        assert_eq!(
            (line.from_user.as_str(), line.text.as_str()),
            ("user1", "from the new session")
        );
    }
    u2.send(&ClientRequest::ListUsers).await;
    assert_eq!(
        u2.event().await,
        ServerEvent::UserList(online(&[("user1", "wang_yuan"), ("user2", "ding_zhen")]))
    );
}

/// A scratch MySQL database, dropped at the end even if the test panics.
struct MysqlDb {
    base: String,
    name: String,
}

impl MysqlDb {
    fn opts(&self) -> mysql::OptsBuilder {
        let opts = mysql::Opts::from_url(&self.base).expect("CHAT_TEST_MYSQL_URL");
        mysql::OptsBuilder::from_opts(opts).prefer_socket(false)
    }
}

impl Drop for MysqlDb {
    fn drop(&mut self) {
        use mysql::prelude::Queryable;
        match mysql::Conn::new(self.opts()) {
            Ok(mut c) => {
                if let Err(e) = c.query_drop(format!("DROP DATABASE IF EXISTS `{}`", self.name)) {
                    eprintln!("could not drop {}: {e}", self.name);
                }
            }
            Err(e) => eprintln!("could not drop {}: {e}", self.name),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_users_chatting_on_mysql() {
    use mysql::prelude::Queryable;
    let Ok(base) = std::env::var("CHAT_TEST_MYSQL_URL") else {
        eprintln!("SKIPPED: CHAT_TEST_MYSQL_URL not set");
        return;
    };
    let r = common::crypto::random::bytes::<4>();
    let db = MysqlDb {
        base: base.trim_end_matches('/').to_owned(),
        name: format!("minichat_chat_{}_{}", std::process::id(), hex(&r)),
    };
    mysql::Conn::new(db.opts())
        .expect("connect to CHAT_TEST_MYSQL_URL")
        .query_drop(format!("CREATE DATABASE `{}`", db.name))
        .expect("create database");
    let url = format!("{}/{}", db.base, db.name);
    let store = tokio::task::spawn_blocking(move || server::db::open(&url))
        .await
        .unwrap()
        .expect("open the MySQL store");
    assert!(
        store.describe().starts_with("mysql://"),
        "{}",
        store.describe()
    );
    let server = TestServer::start_with(store, |_| {}).await;
    three_users_chat(&server).await;
    eprintln!("MYSQL-TEST-RAN chat_three_users");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
