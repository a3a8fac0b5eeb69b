//! The outside review's attacks (issue 14), each against the REAL executables (`server`,
//! `server_key` and a real client's terminal mode as child processes; see `realsys/mod.rs`).
//! Every test here failed before its fix; docs/SECURITY.md ("Outside review") has the table of
//! attacks with the figures before and after.

mod realsys;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::client::chat_client::{Incoming, SessionEvent};
use common::client::texts::{Ctx, reason_text};
use common::config::Language;
use common::connection::{FrameReader, FrameWriter};
use common::crypto::password::hash_password_with;
use common::crypto::{PrivateKey, SessionKey};
use common::keyfile::KeyFile;
use common::protocol::Reason;
use common::protocol::chat::{ClientRequest, NoticeKind, OnlineUser, ServerEvent};
use common::protocol::consts::code;
use common::protocol::keydist::{KeyError, KeyHello};
use common::protocol::message::{RawMessage, b64};
use realsys::*;

// ---------------------------------------------------------------------------------------------
// Item 1: login work without limit, online guessing

/// One login as `user` with `key` and `password`, from the source address `src` (through the
/// client library): `Ok(())` for a login result, else the `1009` reason.
async fn login_as(
    src: IpAddr,
    port: u16,
    user: &str,
    key: &Arc<SessionKey>,
    password: &str,
) -> Result<(), Reason> {
    let config = common::config::ClientConfig {
        server_host: "127.0.0.1".into(),
        chat_port: port,
        username: user.to_owned(),
        ..Default::default()
    };
    let folder = common::client::folder::ClientFolder::new(config, "unused".into(), "attacker");
    match common::client::chat_client::login_with_key_from(
        &folder,
        key.clone(),
        password,
        T,
        Some(src),
    )
    .await
    {
        Ok(_) => Ok(()),
        Err(common::client::chat_client::LoginError::Refused { reason, .. }) => Err(reason),
        Err(e) => panic!("login of {user} from {src}: {e}"),
    }
}

/// The review guessed one username's password at ~50 a second with no lockout. Now three wrong
/// passwords in a row are checked, later ones are refused unhashed (`SLOW_DOWN`: one guess per
/// 10 s), and ten failed or too-early attempts in a row lock the name (`LOCKED`, the right
/// password included) until the teacher runs `server user unlock`. Others, from the same PC,
/// are not affected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_guessing_is_slowed_then_locked_until_the_teacher_unlocks() {
    let sys = System::start(Setup::default());
    sys.key_steps(&["user1", "user2"]).await;
    let key1 = folder_key(&sys.folder("user1"));
    let here = IpAddr::from([127, 0, 0, 1]);
    let started = Instant::now();
    let mut answers = Vec::new();
    for i in 0..12 {
        answers.push(login_as(here, sys.chat_port, "user1", &key1, &format!("guess-{i}")).await);
    }
    let checked = answers
        .iter()
        .filter(|a| **a == Err(Reason::BadLogin))
        .count();
    eprintln!(
        "12 guesses in {:.1} s: {answers:?}; {checked} had their password checked",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(checked, 3, "{answers:?}");
    assert!(
        answers[3..]
            .iter()
            .all(|a| matches!(a, Err(Reason::SlowDown | Reason::Locked))),
        "{answers:?}"
    );
    assert_eq!(answers[11], Err(Reason::Locked), "{answers:?}");
    assert_eq!(
        login_as(here, sys.chat_port, "user1", &key1, PW).await,
        Err(Reason::Locked),
        "locked: even the right password"
    );
    // user2, from the same PC, logs in.
    let key2 = folder_key(&sys.folder("user2"));
    assert_eq!(
        login_as(here, sys.chat_port, "user2", &key2, PW).await,
        Ok(())
    );

    sys.server_admin(&["user", "unlock", "user1"], "");
    let t = Instant::now();
    loop {
        match login_as(here, sys.chat_port, "user1", &key1, PW).await {
            Ok(()) => break,
            Err(Reason::Locked) if t.elapsed() < Duration::from_secs(6) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => panic!("after `server user unlock`: {other:?}"),
        }
    }
    eprintln!("unlocked after {:.1} s", t.elapsed().as_secs_f64());
}

/// The review's flood: 1,000 concurrent bad logins (with a session key for the name, so each
/// passed the MAC) made real logins take 1.5-16 s, some failing. Now the flood from one address
/// is answered almost entirely without hashing, and a real user's logins from another PC all
/// succeed meanwhile (their latencies are printed; the benchmark figures are in SECURITY.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_bad_logins_does_not_hold_up_real_ones() {
    raise_nofile(8_192);
    let sys = System::start(Setup::default());
    sys.key_steps(&["user1", "user2"]).await;
    let (key1, key2) = (
        folder_key(&sys.folder("user1")),
        folder_key(&sys.folder("user2")),
    );
    let port = sys.chat_port;
    let attacker = IpAddr::from([127, 0, 0, 2]);
    let flood_started = Instant::now();
    let mut flood = tokio::task::JoinSet::new();
    for i in 0..1000 {
        let key = key2.clone();
        flood.spawn(
            async move { login_as(attacker, port, "user2", &key, &format!("flood-{i}")).await },
        );
    }
    let mut latencies = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let r = login_as(IpAddr::from([127, 0, 0, 1]), port, "user1", &key1, PW).await;
        latencies.push(t.elapsed());
        assert_eq!(r, Ok(()), "a real login during the flood");
    }
    let mut outcomes: std::collections::BTreeMap<String, usize> = Default::default();
    while let Some(r) = flood.join_next().await {
        let r = r.expect("flood task");
        *outcomes.entry(format!("{r:?}")).or_default() += 1;
    }
    latencies.sort();
    eprintln!(
        "flood of 1000 bad logins from {attacker}: {outcomes:?}; real logins: median {:?}, max {:?}",
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1]
    );
    let hashed = outcomes
        .get(&format!("{:?}", Err::<(), _>(Reason::BadLogin)))
        .copied()
        .unwrap_or(0);
    // At most the username's failure budget (3) plus what one address may have in flight
    // when the budget runs out (4) are hashed, and one more for each 10 s the flood lasted (the
    // budget's refill: on a loaded machine the 1,000 attempts can take longer than 10 s); the
    // rest are refused without hashing.
    let refills = flood_started.elapsed().as_secs() / 10;
    let bound = 3 + 4 + usize::try_from(refills).unwrap_or(usize::MAX);
    assert!(
        hashed <= bound,
        "only a handful are hashed ({hashed} > {bound} after {refills} refills): {outcomes:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Item 2: sessions that outlive their key, their user or their password

/// Within this a withdrawn session must be closed (the check runs every 2 s).
const REVOKED_WITHIN: Duration = Duration::from_secs(6);

/// The review kept chatting as user1 after `server_key clients revoke user1`, and 75 s past the
/// key's expiry. Now the session ends with the answer a login would get: NO_SESSION_KEY after the
/// revocation, KEY_EXPIRED at the expiry, and the others see the user leave.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_when_their_key_is_revoked_or_expires() {
    let sys = System::start(Setup::default());
    sys.key_steps(&["user1", "user2", "user3"]).await;
    let mut u1 = sys.login("user1").await;
    let mut u2 = sys.login("user2").await;
    let mut u3 = sys.login("user3").await;

    sys.key_admin(&["clients", "revoke", "user1"]);
    let t = Instant::now();
    let (err, _) = u1.closed().await;
    assert_eq!(err.map(|e| e.reason), Some(Reason::NoSessionKey));
    assert!(t.elapsed() < REVOKED_WITHIN, "{:?}", t.elapsed());
    u3.notice(NoticeKind::Leave, "user1").await;

    // The server's copy of user2's key reaches its expiry (as if its day had passed).
    let path = sys.server_session_file("user2");
    let mut file = KeyFile::load(&path).expect("user2's key file");
    file.key.expires_at = time::OffsetDateTime::now_utc() + time::Duration::seconds(1);
    file.save(&path).expect("rewrite user2's key file");
    let t = Instant::now();
    let (err, _) = u2.closed().await;
    assert_eq!(err.map(|e| e.reason), Some(Reason::KeyExpired));
    assert!(t.elapsed() < REVOKED_WITHIN, "{:?}", t.elapsed());
    u3.notice(NoticeKind::Leave, "user2").await;

    // Nothing happened to user3.
    u3.say("still here").await;
    u3.hears("user3", "still here").await;
}

/// `server user passwd` and `server user remove` ran while the user was logged in, and the
/// session went on. Now it ends with REVOKED; a session's own password change does not end it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_when_the_teacher_resets_the_password_or_removes_the_user() {
    let mut sys = System::start(Setup::default());
    sys.key_steps(&["user1", "user2", "user3"]).await;
    let mut u1 = sys.login("user1").await;
    let mut u2 = sys.login("user2").await;
    let mut u3 = sys.login("user3").await;

    sys.server_admin(
        &["user", "passwd", "user1", "--password-stdin"],
        "teacher-set-1\n",
    );
    let (err, _) = u1.closed().await;
    assert_eq!(err.map(|e| e.reason), Some(Reason::Revoked));
    sys.server_admin(&["user", "remove", "user2"], "");
    let (err, _) = u2.closed().await;
    assert_eq!(err.map(|e| e.reason), Some(Reason::Revoked));

    // user3 changes its own password and stays, through several checks.
    u3.send(ClientRequest::ChangePassword {
        old: common::protocol::password::Secret::new(PW),
        new: common::protocol::password::Secret::new("user3-own-pass"),
    })
    .await;
    loop {
        match u3.next().await {
            SessionEvent::Incoming(Incoming::Event {
                event: ServerEvent::PasswordResult(r),
                ..
            }) => {
                assert_eq!(r, Ok(()));
                break;
            }
            SessionEvent::Sent { .. } | SessionEvent::Incoming(Incoming::Event { .. }) => {}
            other => panic!("user3: waiting for the password result, got {other:?}"),
        }
    }
    tokio::time::sleep(REVOKED_WITHIN).await;
    u3.say("my own change").await;
    u3.hears("user3", "my own change").await;
    sys.assert_chat_alive();
}

// ---------------------------------------------------------------------------------------------
// Item 3: terminal escapes through `server --trace`

/// Before authentication the trace quotes a login frame's seq/iv/ct/mac fields. The review sent
/// clear-screen, a window title, an OSC 52 clipboard write and a forged trace line in them, and
/// all of it reached the operator's terminal. Now every control character comes out escaped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_prints_no_terminal_control_sequence() {
    let mut sys = System::start(Setup {
        chat: Launch {
            args: vec!["--trace".into()],
            ..Launch::default()
        },
        ..Setup::default()
    });
    let clear_and_title = "\x1b[2J\x1b]0;pwned\x07";
    let clipboard = "\x1b]52;c;ZXZpbA==\x07";
    let forged_line = "\r\n[trace server#1] decrypted: password=\"111111\"";
    let payload = format!(
        "0001|{}|0123456789abcdef|{clear_and_title}|{clipboard}|{forged_line}|\x1b[31mAAAA",
        b64("user1")
    );
    let mut raw = Raw::chat(sys.chat_port).await;
    raw.send_frame(payload.as_bytes()).await;
    let (answer, _) = raw.answer().await;
    assert!(answer.starts_with("1009 "), "login refused: {answer}");

    let chat = sys.chat_proc();
    eventually("the login frame in the trace", || {
        String::from_utf8_lossy(&chat.stdout_bytes()).contains("in  login from user1")
    })
    .await;
    let out = chat.stdout_bytes();
    let text = String::from_utf8_lossy(&out);
    for (byte, name) in [(0x1b, "ESC"), (0x07, "BEL"), (b'\r', "CR")] {
        assert!(
            !out.contains(&byte),
            "the trace printed a raw {name}:\n{text}"
        );
    }
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("[trace server#1] decrypted")),
        "a forged trace line was printed:\n{text}"
    );
    for escaped in [
        "\\u{1b}]52;c;",
        "\\u{7}",
        "\\u{d}\\u{a}[trace server#1] decrypted",
        // The labelled form of the same frame (issue 13) quotes the fields escaped as well.
        "    seq        \\u{1b}[2J\\u{1b}]0;pwned\\u{7}",
        "    IV         \\u{1b}]52;c;ZXZpbA==\\u{7} (not base64)",
        "    MAC        \\u{1b}[31mAAAA (not base64)",
    ] {
        assert!(text.contains(escaped), "{escaped} missing from:\n{text}");
    }
    sys.assert_chat_alive();
}

// ---------------------------------------------------------------------------------------------
// Item 4: silent deletion

/// A [`FrameProxy`] to `upstream` that deletes the first frame with `code` travelling `dir`
/// (and nothing else); the flag says whether it did.
async fn deleting_proxy(
    upstream: u16,
    dir: Dir,
    code: &'static str,
) -> (FrameProxy, Arc<std::sync::atomic::AtomicBool>) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let deleted = Arc::new(AtomicBool::new(false));
    let flag = deleted.clone();
    let prefix = format!("{code}|");
    let proxy = FrameProxy::start(upstream, move |d, frame| {
        if d == dir && frame.starts_with(prefix.as_bytes()) && !flag.swap(true, Ordering::SeqCst) {
            Verdict::Drop
        } else {
            Verdict::Pass
        }
    })
    .await;
    (proxy, deleted)
}

/// `u` sees `user` leave, and no chat message from `user` before that.
async fn leaves_without_a_word(u: &mut Chatter, user: &str) {
    loop {
        match u.next().await {
            SessionEvent::Incoming(Incoming::Event {
                event: ServerEvent::Chat(line),
                ..
            }) => assert_ne!(line.from_user, user, "{}: {line:?}", u.user),
            SessionEvent::Incoming(Incoming::Event {
                event: ServerEvent::Notice(n),
                ..
            }) if n.kind == NoticeKind::Leave && n.user == user => return,
            SessionEvent::Sent { .. } | SessionEvent::Incoming(Incoming::Event { .. }) => {}
            other => panic!("{}: waiting for {user} to leave, got {other:?}", u.user),
        }
    }
}

/// The review deleted single chat frames from a student's client to the server, and the server
/// went on as if the student had never written them. Now the student's next frame is an authentic
/// frame after a gap: the server answers `1009 FRAME_LOST` and closes, the real client shows its
/// own text for it and exits, and the others see the student leave without either message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_deleted_towards_the_server_ends_the_session_with_frame_lost() {
    let mut sys = System::start(Setup::default());
    sys.key_steps(&["user1", "user2"]).await;
    let mut u2 = sys.login("user2").await;
    let (proxy, deleted) = deleting_proxy(sys.chat_port, Dir::ToServer, code::CHAT).await;
    let mut client = Cli::start(&sys, "user1", proxy.port, "zh");
    u2.notice(NoticeKind::Join, "user1").await;
    client.type_line("第一条（在路上被删掉）");
    client.type_line("第二条");
    let (status, lines) = client.exited().await;
    let out = lines.join("\n");
    assert!(
        deleted.load(std::sync::atomic::Ordering::SeqCst),
        "the proxy deleted the first 0002"
    );
    let text = reason_text(
        &Reason::FrameLost,
        "",
        Ctx::terminal(Language::Zh, "client_wy"),
    );
    assert!(out.contains(&text), "{text:?} missing from:\n{out}");
    assert!(
        !out.contains("第二条"),
        "the second message was relayed:\n{out}"
    );
    assert_eq!(status.code(), Some(2), "{out}");
    leaves_without_a_word(&mut u2, "user1").await;
    let log = sys.chat_proc().output();
    assert!(log.contains("frame lost"), "server log:\n{log}");
    u2.say("still here").await;
    u2.hears("user2", "still here").await;
    sys.assert_chat_alive();
}

/// The review deleted a `1002` on its way to a student, and the student's client went on as if
/// nothing had happened. Now the next `1002` is an authentic frame after a gap: the client ends
/// the session and says, in its own words, that a message was lost on the network.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_deleted_towards_the_client_ends_its_session_with_a_local_message() {
    let mut sys = System::start(Setup::default());
    sys.key_steps(&["user1", "user2"]).await;
    let mut u2 = sys.login("user2").await;
    let (proxy, deleted) = deleting_proxy(sys.chat_port, Dir::ToClient, code::CHAT_MESSAGE).await;
    let client = Cli::start(&sys, "user1", proxy.port, "zh");
    u2.notice(NoticeKind::Join, "user1").await;
    for text in ["第一条（在路上被删掉）", "第二条"] {
        u2.say(text).await;
        u2.hears("user2", text).await;
    }
    let (status, lines) = client.exited().await;
    let out = lines.join("\n");
    assert!(
        deleted.load(std::sync::atomic::Ordering::SeqCst),
        "the proxy deleted the first 1002"
    );
    let lost = "有消息在网络上丢失了（可能被人删除），连接已断开。请重新连接。";
    assert!(out.contains(lost), "{lost:?} missing from:\n{out}");
    assert!(
        !out.contains("第一条") && !out.contains("第二条"),
        "a message was shown:\n{out}"
    );
    assert_eq!(status.code(), Some(2), "{out}");
    u2.notice(NoticeKind::Leave, "user1").await;
    sys.assert_chat_alive();
}

// ---------------------------------------------------------------------------------------------
// Item 8: file descriptors

/// What each of `n` connections opened at once received first.
#[derive(Debug, Default)]
struct Firsts {
    hello: usize,
    full: usize,
    other: Vec<String>,
}

/// Open `n` connections in waves of 100 (below the listen backlog) and keep them open; returns
/// what each received first and the connections.
async fn open_idle(port: u16, n: usize) -> (Firsts, Vec<Raw>) {
    let mut firsts = Firsts::default();
    let mut keep = Vec::with_capacity(n);
    let mut left = n;
    while left > 0 {
        let wave = left.min(100);
        left -= wave;
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..wave {
            set.spawn(async move {
                let mut raw = Raw::connect(port).await;
                let got = raw.next_within(Duration::from_secs(5)).await;
                (got, raw)
            });
        }
        while let Some(r) = set.join_next().await {
            let (got, raw) = r.expect("connection task");
            match got {
                Got::Hello => firsts.hello += 1,
                Got::Error(e) if e.reason == Reason::ServerFull => firsts.full += 1,
                other => firsts.other.push(other.describe()),
            }
            keep.push(raw);
        }
    }
    (firsts, keep)
}

/// At the usual soft limit of 1,024 open files and the default `max_connections = 2000`, 1,100
/// idle connections made accept() fail and nobody got `SERVER_FULL`. Now the server raises its
/// soft limit to the hard limit at start (1,100 connections all get the hello), and where the
/// hard limit itself is too low it lowers `max_connections`, says so, and answers the rest with
/// `SERVER_FULL`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn open_file_limit_raised_and_connections_fitted() {
    let nofile = raise_nofile(4096);
    assert!(nofile >= 3000, "this test needs RLIMIT_NOFILE >= 3000");
    let hard = {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit only writes the struct we pass.
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) };
        r.rlim_max
    };

    // Soft 1,024, hard higher: raised.
    let mut sys = System::start(Setup {
        chat: Launch {
            nofile: Some((1024, hard)),
            ..Launch::default()
        },
        ..Setup::default()
    });
    sys.key_steps(&["user1", "user2"]).await;
    let (firsts, idle) = open_idle(sys.chat_port, 1100).await;
    assert_eq!(
        (firsts.hello, firsts.full, firsts.other.len()),
        (1100, 0, 0),
        "1,100 connections at a soft limit of 1,024: {firsts:?}"
    );
    let mut u1 = sys.login("user1").await;
    let mut u2 = sys.login("user2").await;
    still_chatting(&mut u1, &mut u2, "after 1,100 idle connections").await;
    drop(idle);
    let out = String::from_utf8_lossy(&sys.chat_proc().stdout_bytes()).into_owned();
    assert!(
        out.contains(&format!("open-file limit raised from 1024 to {hard}")),
        "{out}"
    );
    drop(sys);

    // Hard limit 512: max_connections lowered to 512 - 64, the rest told SERVER_FULL.
    let mut sys = System::start(Setup {
        chat: Launch {
            nofile: Some((512, 512)),
            ..Launch::default()
        },
        ..Setup::default()
    });
    let out = String::from_utf8_lossy(&sys.chat_proc().stdout_bytes()).into_owned();
    assert!(
        out.contains("max_connections lowered from 2000 to 448"),
        "{out}"
    );
    let (firsts, idle) = open_idle(sys.chat_port, 600).await;
    assert!(
        firsts.other.is_empty() && firsts.hello + firsts.full == 600,
        "every connection gets the hello or SERVER_FULL: {firsts:?}"
    );
    assert!(
        firsts.hello <= 448 && firsts.full >= 152,
        "at most 448 served: {firsts:?}"
    );
    drop(idle);
    sys.assert_chat_alive();
}

// ---------------------------------------------------------------------------------------------
// Item 9: a user list over 64 KiB

/// A username of 30 bytes (the limit) for user `i`.
fn long_name(i: usize) -> String {
    format!("student_{i:04}_{}", "x".repeat(17))
}

/// With about 400 users with long names online, the `1003` list exceeded the 64 KiB frame limit
/// and was dropped silently, at login and on request. Now it comes in parts and the client
/// library hands out the whole list.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn user_list_over_64_kib_arrives_whole() {
    const N: usize = 420;
    let sys = System::start(Setup::default());
    sys.key_steps(&["user1"]).await;
    let store = server::db::open(&sys.database).expect("open the test database");
    let hash = hash_password_with(PW, 1000);
    let nick = "长".repeat(30); // 90 bytes of UTF-8
    let sessions = sys.server_session_file("x");
    let sessions = sessions.parent().expect("sessions dir");
    let mut keys = Vec::new();
    for i in 0..N {
        let user = long_name(i);
        store.add_user(&user, &hash, &nick).expect("add user");
        let key = SessionKey::generate(&user, time::Duration::hours(1));
        KeyFile {
            key: key.clone(),
            created_at: time::OffsetDateTime::now_utc(),
            server_fingerprint: String::new(),
            client_fingerprint: String::new(),
            clock_offset_secs: None,
        }
        .save(&sessions.join(format!("{user}.txt")))
        .expect("save key file");
        keys.push((user, Arc::new(key)));
    }
    let mut online = Vec::new();
    for chunk in keys.chunks(30) {
        let mut set = tokio::task::JoinSet::new();
        for (user, key) in chunk.iter().cloned() {
            let port = sys.chat_port;
            set.spawn(async move {
                let mut raw = Raw::chat(port).await;
                raw.login(&user, key).await;
                raw
            });
        }
        while let Some(r) = within("logins", set.join_next()).await {
            online.push(r.expect("login task"));
        }
    }

    let mut u1 = sys.login("user1").await;
    let list = |ev: SessionEvent| match ev {
        SessionEvent::Incoming(Incoming::Event {
            event: ServerEvent::UserList(l),
            ..
        }) => Some(l),
        _ => None,
    };
    let whole = |l: &[OnlineUser]| {
        l.len() == N + 1
            && l.iter().any(|u| u.username == "user1")
            && (0..N).all(|i| {
                l.iter()
                    .any(|u| u.username == long_name(i) && u.nickname == nick)
            })
    };
    let at_login = loop {
        if let Some(l) = list(u1.next().await) {
            break l;
        }
    };
    assert!(
        whole(&at_login),
        "list at login has {} users",
        at_login.len()
    );
    u1.send(ClientRequest::ListUsers).await;
    let asked = loop {
        if let Some(l) = list(u1.next().await) {
            break l;
        }
    };
    assert!(whole(&asked), "list on request has {} users", asked.len());
    drop(online);
}

// ---------------------------------------------------------------------------------------------
// Item 10: the terminal mode and Unicode separators / bidi overrides

/// A real client's terminal mode (`client_wy cli`) printed U+2028/U+2029 and U+202E as they came,
/// so a message could forge a line for anything that splits on Unicode separators, or reverse
/// what follows. Now they come out as visible escapes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminal_mode_escapes_separators_and_bidi_overrides() {
    let sys = System::start(Setup::default());
    sys.key_steps(&["user1", "user2"]).await;
    let mut u2 = sys.login("user2").await;
    let mut client = Cli::start(&sys, "user1", sys.chat_port, "en");
    u2.notice(NoticeKind::Join, "user1").await;
    let attack = "hi\u{2028}[09:00:00] teacher: the exam is cancelled\u{2029}\u{202E}gnp.exe";
    u2.say(attack).await;
    let line = client.line_with("hi").await;
    for c in ['\u{2028}', '\u{2029}', '\u{202E}'] {
        assert!(
            !line.contains(c),
            "U+{:04X} printed raw: {line:?}",
            u32::from(c)
        );
    }
    for e in ["\\u{2028}", "\\u{2029}", "\\u{202e}"] {
        assert!(line.contains(e), "{e} missing: {line:?}");
    }
    let (status, _) = client.quit().await;
    assert!(status.success(), "client_wy cli exited {status}");
}

// ---------------------------------------------------------------------------------------------
// Item 7: cheap RSA work for the key server

/// One signed key request for `user` with `key`, sent from the loopback address `src`; the
/// answer: `"1101"` (the server signed an envelope) or `"1109 REASON"`.
async fn key_request_from(src: IpAddr, port: u16, user: &str, key: &PrivateKey) -> String {
    let sock = tokio::net::TcpSocket::new_v4().expect("socket");
    sock.bind(SocketAddr::new(src, 0))
        .expect("bind a loopback source address");
    let stream = within(
        "connect to server_key",
        sock.connect(([127, 0, 0, 1], port).into()),
    )
    .await
    .expect("connect to server_key");
    let (r, w) = stream.into_split();
    let (mut r, mut w) = (FrameReader::new(r), FrameWriter::new(w));
    let next = |f: Option<Vec<u8>>| RawMessage::parse(&f.expect("a frame")).expect("a message");
    let hello = next(within("key hello", r.read_frame()).await.expect("read"));
    let hello = KeyHello::from_message(&hello).expect("key hello");
    let (req, _) = signed_request(&hello, user, key, key);
    w.write_frame(req.to_text().as_bytes())
        .await
        .expect("send request");
    let answer = next(within("key answer", r.read_frame()).await.expect("read"));
    if answer.code == code::KEY_ERROR {
        format!(
            "1109 {}",
            KeyError::from_message(&answer).expect("1109").reason
        )
    } else {
        answer.code
    }
}

/// 250 concurrent key requests from one address kept the signers busy (real key steps took
/// 0.7-2.6 s), and one username could be asked for without end. Now each address and each
/// username has a budget (120 and 30 a minute) and an address at most 8 exchanges at once; the
/// rest are told `BUSY`. The attacker's flood comes from 127.0.0.2, the student from 127.0.0.1.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn key_server_limits_requests_per_address_and_per_username() {
    const FLOOD: usize = 250;
    let sys = System::start(Setup::default());
    let port = sys.key_port;
    // In tofu mode server_key gives keys only to users of the chat server (its user list), so
    // the flood's names must be users; otherwise NOT_A_USER refuses them before any signing
    // and the per-address and per-username limits are never reached.
    let flood_names: Vec<String> = (0..FLOOD).map(|i| format!("atk{i}")).collect();
    let users = ["user1", "user2", "user3", "guessme"];
    common::userlist::write(
        &sys.key_dir.join(common::userlist::FILE_NAME),
        users
            .into_iter()
            .chain(flood_names.iter().map(String::as_str)),
    )
    .expect("write the user list");
    let attacker = Arc::new(PrivateKey::generate(2048).expect("attacker key"));
    let src: IpAddr = [127, 0, 0, 2].into();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..FLOOD {
        let key = attacker.clone();
        set.spawn(async move { key_request_from(src, port, &format!("atk{i}"), &key).await });
    }
    let started = Instant::now();
    let student = sys.try_key_step(&sys.folder("user1")).await;
    let student_secs = started.elapsed().as_secs_f64();
    let mut answers: Vec<String> = Vec::new();
    while let Some(a) = within("flood answers", set.join_next()).await {
        answers.push(a.expect("request task"));
    }
    let signed = answers.iter().filter(|a| *a == code::KEY_ENVELOPE).count();
    let busy = answers.iter().filter(|a| *a == "1109 BUSY").count();
    eprintln!(
        "FIGURE key flood: {FLOOD} concurrent requests from one address: {signed} signed, {busy} BUSY; \
         a student's key step meanwhile took {student_secs:.2} s"
    );
    assert!(student.is_ok(), "the student's key step: {student:?}");
    assert_eq!(signed + busy, FLOOD, "every request answered: {answers:?}");
    assert!(
        (1..=130).contains(&signed),
        "at most the address's budget (120 + refill) signed: {signed}"
    );

    // One username from a third address: 30 signed, then BUSY.
    let src3: IpAddr = [127, 0, 0, 3].into();
    let victim = PrivateKey::generate(2048).expect("key");
    let mut per_user = Vec::new();
    for _ in 0..35 {
        per_user.push(key_request_from(src3, port, "guessme", &victim).await);
    }
    let signed = per_user.iter().filter(|a| *a == code::KEY_ENVELOPE).count();
    eprintln!("FIGURE key requests for one username: 35 sent, {signed} signed");
    assert_eq!(signed, 30, "{per_user:?}");
    assert!(
        per_user[30..].iter().all(|a| a == "1109 BUSY"),
        "{per_user:?}"
    );
}
