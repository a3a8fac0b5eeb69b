//! The bad-input table, against the REAL executables (`server` and `server_key` started as child
//! processes from temporary config files; see `realsys/mod.rs`).
//!
//! Two table-driven tests, one per server. Every case sends one kind of bad input on its own
//! connection and asserts the exact documented answer (PROTOCOL.md §2, §5.8, §6.4, §6.6, §6.7):
//! a `1009`/`1109` reason followed by the connection closing, a sealed `1004 WARN` after which the
//! session continues (or, when the bad frame was a real frame of the client damaged on the way,
//! after which the client's next frame gets `1009 FRAME_LOST`: PROTOCOL.md §6.3), or the
//! connection closing without a word. After EVERY case a logged-in
//! bystander sends a chat message and it reaches both bystanders (and, for server_key, a
//! bystander's key step still succeeds), and the attacked server process is still running.
//!
//! Each test prints its results to stderr as a Markdown table (`| case | sent | expected | got |`)
//! for docs/SECURITY.md, then fails if any row did not match.
//!
//! The one case that waits for the 10 s handshake timeout (`HANDSHAKE_TIMEOUT_SECS`; server.toml
//! cannot change it) runs in parallel with the others. The 10,000-connection case raises
//! `RLIMIT_NOFILE` first (before the servers start, so they inherit it).

mod realsys;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::client::chat_client::{Incoming, SessionEvent};
use common::connection::{FrameReader, FrameWriter};
use common::crypto::random;
use common::crypto::{PrivateKey, SessionKey, cbc};
use common::protocol::Reason;
use common::protocol::chat::login_request;
use common::protocol::consts::{MAX_KEY_CLIENTS, code, label};
use common::protocol::keydist::{KeyError, KeyHello};
use common::protocol::message::{RawMessage, b64};
use common::protocol::sealed;
use realsys::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// Connections opened (and left idle) by the flood case, and the chat server's limit for it.
const FLOOD: usize = 10_000;
const FLOOD_MAX: usize = 200;
/// Connections opened at once during the flood (below the listen backlog of 128).
const WAVE: usize = 100;
/// Idle connections opened at server_key (its limit is `MAX_KEY_CLIENTS` = 256).
const KEY_FLOOD: usize = 300;
/// "1 MB".
const MB: usize = 1 << 20;

/// One row of a results table.
struct Row {
    case: String,
    sent: String,
    expected: String,
    got: String,
    ok: bool,
}

impl Row {
    fn exact(case: &str, sent: &str, expected: &str, got: String) -> Self {
        Self {
            case: case.into(),
            sent: sent.into(),
            expected: expected.into(),
            ok: got == expected,
            got,
        }
    }
}

/// Print the table as Markdown and fail if any row did not match.
fn report(title: &str, rows: &[Row]) {
    let mut out = format!("\n{title}\n\n| case | sent | expected | got |\n|---|---|---|---|\n");
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {}{} |\n",
            cell(&r.case),
            cell(&r.sent),
            cell(&r.expected),
            cell(&r.got),
            if r.ok { "" } else { " **MISMATCH**" }
        ));
    }
    let failed: Vec<&str> = rows
        .iter()
        .filter(|r| !r.ok)
        .map(|r| r.case.as_str())
        .collect();
    out.push_str(&format!(
        "\n{} cases, {} as documented\n",
        rows.len(),
        rows.len() - failed.len()
    ));
    eprintln!("{out}");
    assert!(
        failed.is_empty(),
        "cases not answered as documented: {failed:?}"
    );
}

/// A frame: 4-byte big-endian length, then `payload`.
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut b = u32::try_from(payload.len()).unwrap().to_be_bytes().to_vec();
    b.extend_from_slice(payload);
    b
}

/// A 100-byte frame header followed by only 10 bytes.
fn short_frame() -> Vec<u8> {
    let mut b = 100u32.to_be_bytes().to_vec();
    b.extend_from_slice(b"0001|dXNlc");
    b
}

/// A header announcing 1 MB, then the whole megabyte.
fn megabyte_frame() -> Vec<u8> {
    let mut body = b"0002|1|".to_vec();
    body.resize(MB, b'A');
    frame(&body)
}

/// Flip one bit in the middle of a base64 field.
fn flip_b64(field: &str) -> String {
    let mut bytes = RawMessage::new(code::CHAT, vec![field.to_owned()])
        .bytes(0)
        .expect("base64");
    let i = bytes.len() / 2;
    bytes[i] ^= 1;
    b64(bytes)
}

/// A correctly sealed `0002` to everyone (text "forged"), for the MAC cases to damage.
fn sealed_chat(raw: &mut Raw) -> String {
    raw.seal(code::CHAT, &format!("|{}", b64("forged")))
}

/// A MAC "downgraded" to its first 16 bytes (a 128-bit tag instead of 256).
fn truncate_b64(field: &str) -> String {
    let bytes = RawMessage::new(code::CHAT, vec![field.to_owned()])
        .bytes(0)
        .expect("base64");
    b64(&bytes[..16])
}

/// `text` without its last `|`-field (a frame with its MAC removed).
fn drop_last(text: &str) -> String {
    text.rsplit_once('|').expect("a field").0.to_owned()
}

/// `text` with its last `|`-field replaced by `f(field)`.
fn edit_last(text: &str, f: impl FnOnce(&str) -> String) -> String {
    let (head, last) = text.rsplit_once('|').expect("a field");
    format!("{head}|{}", f(last))
}

/// A client frame sealed by hand: `code|prefix..|seq|iv|ct|tag` with a correct tag for `ct`
/// (whatever it decrypts to) on the connection with nonce `nonce`.
fn seal_by_hand(
    key: &SessionKey,
    nonce: &[u8; 16],
    code: &str,
    prefix: &[&str],
    seq: u64,
    iv: &[u8; 8],
    ct: &[u8],
) -> String {
    let mut covered = code.to_owned();
    for p in prefix {
        covered.push('|');
        covered.push_str(p);
    }
    covered.push_str(&format!("|{seq}|{}|{}", b64(iv), b64(ct)));
    let tag = sealed::frame_tag(key, label::CLIENT_TO_SERVER, &b64(nonce), &covered);
    format!("{covered}|{}", b64(tag))
}

/// One DES block whose plaintext ends in `00`: not valid PKCS#7 padding.
fn bad_padding_block(key: &SessionKey) -> ([u8; 8], Vec<u8>) {
    let iv = random::bytes::<8>();
    // Encrypting 8 bytes adds a whole padding block; keeping only the first block leaves a
    // ciphertext that decrypts to "AAAAAAA\0", i.e. a padding length of 0.
    let ct = cbc::encrypt_with_iv(&key.des, &iv, b"AAAAAAA\0")[..8].to_vec();
    assert!(
        cbc::decrypt(&key.des, &iv, &ct).is_err(),
        "the block must fail its padding check"
    );
    (iv, ct)
}

// =============================================================================================
// The chat server

/// What the chat cases can use.
struct ChatCtx {
    key1: Arc<SessionKey>,
    /// A login frame user1 sent on an earlier connection.
    recorded_login: String,
}

/// Before or after logging in (as user1, on a raw connection).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Fresh,
    LoggedIn,
}

/// What happens after the bytes are written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Then {
    Wait,
    Eof,
}

type ChatBuild = fn(&mut Raw, &ChatCtx) -> Vec<u8>;

enum ChatAction {
    /// Write the bytes `build` makes on a fresh (or logged-in) raw connection, read the answer.
    Bytes {
        stage: Stage,
        build: ChatBuild,
        then: Then,
    },
    /// A login with this username and password; the users table must not change.
    Injection {
        username: &'static str,
        password: &'static str,
    },
    /// A 1 MB chat text handed to the client library.
    LibraryHuge,
    /// [`FLOOD`] connections opened and left idle.
    Flood,
}

struct ChatCase {
    name: &'static str,
    sent: &'static str,
    action: ChatAction,
    expected: &'static str,
}

fn fresh(
    name: &'static str,
    sent: &'static str,
    build: ChatBuild,
    then: Then,
    expected: &'static str,
) -> ChatCase {
    ChatCase {
        name,
        sent,
        action: ChatAction::Bytes {
            stage: Stage::Fresh,
            build,
            then,
        },
        expected,
    }
}

fn logged_in(
    name: &'static str,
    sent: &'static str,
    build: ChatBuild,
    then: Then,
    expected: &'static str,
) -> ChatCase {
    ChatCase {
        name,
        sent,
        action: ChatAction::Bytes {
            stage: Stage::LoggedIn,
            build,
            then,
        },
        expected,
    }
}

fn injection(
    name: &'static str,
    sent: &'static str,
    username: &'static str,
    password: &'static str,
) -> ChatCase {
    ChatCase {
        name,
        sent,
        action: ChatAction::Injection { username, password },
        expected: "1009 BAD_LOGIN, closed; users table intact",
    }
}

/// A correct login frame for user1 on this connection (without sending it).
fn good_login(raw: &mut Raw, ctx: &ChatCtx) -> String {
    raw.use_key(ctx.key1.clone());
    login_request(raw.send.as_mut().unwrap(), "user1", &ctx.key1.key_id, PW)
}

const CLOSED_TOO_LONG: &str = "1009 TOO_LONG, closed";
const CLOSED_BAD_FRAME: &str = "1009 BAD_FRAME, closed";
const CLOSED_KEY_MISMATCH: &str = "1009 KEY_MISMATCH, closed";
const WARNED: &str = "1004 WARN, session continues";
/// A frame the client sealed was damaged on the way and dropped: its sequence number never
/// arrived, so the client's next frame is an authentic frame after a gap (PROTOCOL.md §6.3).
const WARNED_THEN_LOST: &str = "1004 WARN, the next frame gets 1009 FRAME_LOST, closed";

fn chat_cases() -> Vec<ChatCase> {
    use Then::{Eof, Wait};
    vec![
        // ---- before login
        fresh(
            "oversize length 0xFFFFFFFF",
            "header ffffffff",
            |_, _| u32::MAX.to_be_bytes().to_vec(),
            Wait,
            CLOSED_TOO_LONG,
        ),
        fresh(
            "oversize length 65537",
            "header 00010001 + 65537 bytes",
            |_, _| frame(&[b'A'; 65_537]),
            Wait,
            CLOSED_TOO_LONG,
        ),
        fresh(
            "zero length",
            "header 00000000",
            |_, _| vec![0; 4],
            Wait,
            CLOSED_BAD_FRAME,
        ),
        fresh(
            "length > data, then EOF",
            "header 100, 10 bytes, FIN",
            |_, _| short_frame(),
            Eof,
            CLOSED_BAD_FRAME,
        ),
        fresh(
            "non-UTF-8 payload",
            "ff fe 7c 80",
            |_, _| frame(b"\xff\xfe|\x80"),
            Wait,
            CLOSED_BAD_FRAME,
        ),
        fresh(
            "missing fields",
            "0001|b64(user1)|key_id",
            |_, ctx| frame(format!("0001|dXNlcjE=|{}", ctx.key1.key_id).as_bytes()),
            Wait,
            CLOSED_BAD_FRAME,
        ),
        fresh(
            "extra fields",
            "valid login + |x",
            |raw, ctx| frame(format!("{}|x", good_login(raw, ctx)).as_bytes()),
            Wait,
            CLOSED_BAD_FRAME,
        ),
        fresh(
            "bad base64",
            "login, username dXNlcjE (padding missing)",
            |raw, ctx| {
                frame(
                    good_login(raw, ctx)
                        .replacen("dXNlcjE=", "dXNlcjE", 1)
                        .as_bytes(),
                )
            },
            Wait,
            CLOSED_BAD_FRAME,
        ),
        fresh(
            "bad padding",
            "login sealed by hand: MAC correct, plaintext ends 00",
            |raw, ctx| {
                let (iv, ct) = bad_padding_block(&ctx.key1);
                let user = b64("user1");
                frame(
                    seal_by_hand(
                        &ctx.key1,
                        &raw.nonce,
                        code::LOGIN,
                        &[&user, &ctx.key1.key_id],
                        0,
                        &iv,
                        &ct,
                    )
                    .as_bytes(),
                )
            },
            Wait,
            CLOSED_KEY_MISMATCH,
        ),
        fresh(
            "wrong MAC",
            "login, one tag bit flipped",
            |raw, ctx| frame(edit_last(&good_login(raw, ctx), flip_b64).as_bytes()),
            Wait,
            CLOSED_KEY_MISMATCH,
        ),
        fresh(
            "missing MAC",
            "login without its tag field",
            |raw, ctx| frame(drop_last(&good_login(raw, ctx)).as_bytes()),
            Wait,
            CLOSED_BAD_FRAME,
        ),
        fresh(
            "downgraded MAC",
            "login, tag cut to its first 16 bytes",
            |raw, ctx| frame(edit_last(&good_login(raw, ctx), truncate_b64).as_bytes()),
            Wait,
            CLOSED_KEY_MISMATCH,
        ),
        fresh(
            "replayed login",
            "user1's login from an earlier connection",
            |_, ctx| frame(ctx.recorded_login.as_bytes()),
            Wait,
            CLOSED_KEY_MISMATCH,
        ),
        fresh(
            "unknown code",
            "9999|x",
            |_, _| frame(b"9999|x"),
            Wait,
            CLOSED_BAD_FRAME,
        ),
        fresh(
            "key-server code at the chat server",
            "0101|b64(user1)|AAAA|AAAA|AAAA",
            |_, _| frame(b"0101|dXNlcjE=|AAAA|AAAA|AAAA"),
            Wait,
            CLOSED_BAD_FRAME,
        ),
        injection(
            "SQL injection username",
            "username ' OR '1'='1",
            "' OR '1'='1",
            PW,
        ),
        injection(
            "SQL injection username",
            "username user1'--",
            "user1'--",
            PW,
        ),
        injection(
            "SQL injection username",
            "username user1' OR 1=1 --",
            "user1' OR 1=1 --",
            PW,
        ),
        injection(
            "SQL injection password",
            "user1, password ' OR '1'='1",
            "user1",
            "' OR '1'='1",
        ),
        // ---- after login (user1 on a raw connection)
        logged_in(
            "oversize length 0xFFFFFFFF",
            "after login: header ffffffff",
            |_, _| u32::MAX.to_be_bytes().to_vec(),
            Wait,
            CLOSED_TOO_LONG,
        ),
        logged_in(
            "1 MB message as one frame",
            "after login: header 00100000 + 1 MB",
            |_, _| megabyte_frame(),
            Wait,
            CLOSED_TOO_LONG,
        ),
        logged_in(
            "zero length",
            "after login: header 00000000",
            |_, _| vec![0; 4],
            Wait,
            CLOSED_BAD_FRAME,
        ),
        logged_in(
            "length > data, then EOF",
            "after login: header 100, 10 bytes, FIN",
            |_, _| short_frame(),
            Eof,
            "connection closed, no 1009",
        ),
        logged_in(
            "non-UTF-8 payload",
            "after login: ff fe 7c 80",
            |_, _| frame(b"\xff\xfe|\x80"),
            Wait,
            WARNED,
        ),
        logged_in(
            "missing fields",
            "after login: 0002|1|2",
            |_, _| frame(b"0002|1|2"),
            Wait,
            WARNED,
        ),
        logged_in(
            "extra fields",
            "after login: sealed 0005 + |x",
            |raw, _| frame(format!("{}|x", raw.seal(code::PING, "")).as_bytes()),
            Wait,
            WARNED_THEN_LOST,
        ),
        logged_in(
            "bad base64",
            "after login: sealed 0002, inner !!|$$",
            |raw, _| frame(raw.seal(code::CHAT, "!!|$$").as_bytes()),
            Wait,
            WARNED,
        ),
        logged_in(
            "bad padding",
            "after login: 0002 sealed by hand with the next seq (1), MAC correct, plaintext ends 00",
            |raw, ctx| {
                let (iv, ct) = bad_padding_block(&ctx.key1);
                // The login was C-seq 0: 1 is the number the server expects, so the padding is
                // what gets checked. The frame is refused and does not count, and `raw`'s own
                // counter did not move, so its next frame (seq 1 again) is accepted.
                frame(seal_by_hand(&ctx.key1, &raw.nonce, code::CHAT, &[], 1, &iv, &ct).as_bytes())
            },
            Wait,
            WARNED,
        ),
        logged_in(
            "deleted frame",
            "after login: sealed 0005 with seq 2, seq 1 sealed but never sent",
            |raw, _| {
                let _deleted = raw.seal(code::PING, "");
                frame(raw.seal(code::PING, "").as_bytes())
            },
            Wait,
            "1009 FRAME_LOST, closed",
        ),
        logged_in(
            "wrong MAC",
            "after login: sealed 0002, one tag bit flipped",
            |raw, _| {
                let sealed = sealed_chat(raw);
                frame(edit_last(&sealed, flip_b64).as_bytes())
            },
            Wait,
            WARNED_THEN_LOST,
        ),
        logged_in(
            "missing MAC",
            "after login: sealed 0002 without its tag field",
            |raw, _| {
                let sealed = sealed_chat(raw);
                frame(drop_last(&sealed).as_bytes())
            },
            Wait,
            WARNED_THEN_LOST,
        ),
        logged_in(
            "downgraded MAC",
            "after login: sealed 0002, tag cut to its first 16 bytes",
            |raw, _| {
                let sealed = sealed_chat(raw);
                frame(edit_last(&sealed, truncate_b64).as_bytes())
            },
            Wait,
            WARNED_THEN_LOST,
        ),
        logged_in(
            "empty MAC",
            "after login: sealed 0002 with an empty tag field",
            |raw, _| {
                let sealed = sealed_chat(raw);
                frame(edit_last(&sealed, |_| String::new()).as_bytes())
            },
            Wait,
            WARNED_THEN_LOST,
        ),
        logged_in(
            "unknown code",
            "after login: 9999|x",
            |_, _| frame(b"9999|x"),
            Wait,
            WARNED,
        ),
        logged_in(
            "key-server code at the chat server",
            "after login: 0101|b64(user1)|AAAA|AAAA|AAAA",
            |_, _| frame(b"0101|dXNlcjE=|AAAA|AAAA|AAAA"),
            Wait,
            WARNED,
        ),
        // ---- special
        ChatCase {
            name: "1 MB text through the client library",
            sent: "ChatSender via spawn_session: 0002 with a 1,048,576-byte text",
            action: ChatAction::LibraryHuge,
            expected: "refused client-side (not sent: the message is too large), nothing sent, session continues",
        },
        ChatCase {
            name: "10,000 idle connections",
            sent: "10,000 connects, nothing sent (max_connections = 200)",
            action: ChatAction::Flood,
            expected: "up to 198 get 1000 hello (the 2 bystanders hold the other slots), all others 1009 SERVER_FULL; bystanders chat meanwhile; hello again after closing",
        },
    ]
}

/// Every row of the users table.
fn users_table(path: &std::path::Path) -> Vec<(i64, String, String, String)> {
    let conn = rusqlite::Connection::open(path).expect("open the users database");
    let mut st = conn
        .prepare(
            "SELECT user_id, user_name, user_password, user_nickname FROM users ORDER BY user_id",
        )
        .expect("select users");
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("query users")
        .map(|r| r.expect("row"))
        .collect()
}

/// The row of the handshake-timeout case (which runs in parallel with the others).
async fn timeout_row(
    case: &str,
    sent: &str,
    expected: &str,
    task: tokio::task::JoinHandle<(String, Duration)>,
) -> Row {
    let (got, took) = tokio::time::timeout(Duration::from_secs(25), task)
        .await
        .expect("the handshake-timeout case ends within 25 s")
        .expect("the handshake-timeout task");
    let mut row = Row::exact(
        case,
        &format!("{sent} (answer after {:.1} s)", took.as_secs_f64()),
        expected,
        got,
    );
    // HANDSHAKE_TIMEOUT_SECS = 10.
    row.ok &= (Duration::from_secs(9)..Duration::from_secs(15)).contains(&took);
    row
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chat_server_bad_input_table() {
    let nofile = raise_nofile(16_384);
    assert!(
        nofile >= 12_000,
        "RLIMIT_NOFILE is {nofile}; the 10,000-connection case needs at least 12,000"
    );
    let mut sys = System::start(Setup {
        max_connections: FLOOD_MAX,
        ..Setup::default()
    });
    let port = sys.chat_port;
    sys.key_steps(&["user1", "user2", "user3"]).await;
    let sqlite = sys.sqlite.clone().expect("SQLite database");
    let users_before = users_table(&sqlite);
    assert_eq!(users_before.len(), 3, "three seed users");

    // The one slow case (10 s handshake timeout) runs while the others do.
    let mut silent = Some(tokio::spawn(async move {
        let mut raw = Raw::chat(port).await;
        raw.write(&short_frame()).await.expect("write");
        let started = Instant::now();
        let (got, _) = raw.answer_within(Duration::from_secs(20)).await;
        (got, started.elapsed())
    }));

    let mut b2 = sys.login("user2").await;
    let mut b3 = sys.login("user3").await;
    still_chatting(&mut b2, &mut b3, "before the attacks").await;

    let key1 = folder_key(&sys.folder("user1"));
    let recorded_login = {
        let mut raw = Raw::chat(port).await;
        raw.login("user1", key1.clone()).await
    };
    let ctx = ChatCtx {
        key1,
        recorded_login,
    };

    let mut rows = Vec::new();
    for (i, case) in chat_cases().into_iter().enumerate() {
        let row = match case.action {
            ChatAction::Bytes { stage, build, then } => {
                let mut raw = Raw::chat(port).await;
                if stage == Stage::LoggedIn {
                    raw.login("user1", ctx.key1.clone()).await;
                }
                let bytes = build(&mut raw, &ctx);
                // The server may close before reading everything (oversize): a failed write is
                // part of the attack, the answer is what counts.
                let _ = raw.write(&bytes).await;
                if then == Then::Eof {
                    raw.shutdown_write().await;
                }
                let (got, _) = raw.answer().await;
                Row::exact(case.name, case.sent, case.expected, got)
            }
            ChatAction::Injection { username, password } => {
                let mut raw = Raw::chat(port).await;
                raw.use_key(ctx.key1.clone());
                let login = login_request(
                    raw.send.as_mut().unwrap(),
                    username,
                    &ctx.key1.key_id,
                    password,
                );
                raw.send_frame(login.as_bytes()).await;
                let (got, _) = raw.answer().await;
                let intact = users_table(&sqlite) == users_before;
                let got = format!(
                    "{got}; users table {}",
                    if intact { "intact" } else { "CHANGED" }
                );
                Row::exact(case.name, case.sent, case.expected, got)
            }
            ChatAction::LibraryHuge => library_huge(&sys, &mut b2, &mut b3, &case).await,
            ChatAction::Flood => {
                // The timeout case first, so that the only other connections are the two
                // bystanders.
                let task = silent.take().expect("timeout case pending");
                rows.push(
                    timeout_row(
                        "length > data, then silence",
                        "header 100, 10 bytes, then nothing",
                        "1009 TIMEOUT, closed",
                        task,
                    )
                    .await,
                );
                flood(port, &mut b2, &mut b3, &case).await
            }
        };
        rows.push(row);
        sys.assert_chat_alive();
        still_chatting(&mut b2, &mut b3, &format!("bystander check after case {i}")).await;
    }
    report("Bad input at the chat server (real `server` binary)", &rows);
}

/// A 1 MB text handed to the library is refused before anything is written; the session goes on.
async fn library_huge(sys: &System, b2: &mut Chatter, b3: &mut Chatter, case: &ChatCase) -> Row {
    let mut c = sys.login("user1").await;
    c.say(&"x".repeat(MB)).await;
    let why = loop {
        match c.next().await {
            SessionEvent::NotSent { why, .. } => break format!("not sent: {why}"),
            SessionEvent::Incoming(Incoming::Event { .. }) => {}
            other => panic!("1 MB text: expected a client-side refusal, got {other:?}"),
        }
    };
    // Had it been sent, the server would have closed the connection (TOO_LONG); instead the
    // session continues and nobody received anything from user1 but the next message.
    c.say("after the 1 MB attempt").await;
    c.hears("user1", "after the 1 MB attempt").await;
    for b in [&mut *b2, &mut *b3] {
        loop {
            match b.next().await {
                SessionEvent::Incoming(Incoming::Event {
                    event: common::protocol::chat::ServerEvent::Chat(line),
                    ..
                }) => {
                    assert_eq!(line.text, "after the 1 MB attempt", "{}: {line:?}", b.user);
                    break;
                }
                SessionEvent::Incoming(Incoming::Event { .. }) | SessionEvent::Sent { .. } => {}
                other => panic!("{}: {other:?}", b.user),
            }
        }
    }
    drop(c);
    let ok = why.starts_with("not sent: the message is too large");
    Row {
        case: case.name.into(),
        sent: case.sent.into(),
        expected: case.expected.into(),
        got: format!("refused client-side ({why}), nothing sent, session continues"),
        ok,
    }
}

/// Read the first frame of a raw stream: `Ok(payload)`, or what went wrong.
async fn first_frame(s: &mut TcpStream) -> Result<String, String> {
    let read = async {
        let mut len = [0u8; 4];
        s.read_exact(&mut len).await?;
        let mut body = vec![0u8; u32::from_be_bytes(len).min(4096) as usize];
        s.read_exact(&mut body).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&body).into_owned())
    };
    match tokio::time::timeout(T, read).await {
        Ok(Ok(p)) => Ok(p),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("nothing within 10 s".into()),
    }
}

/// [`FLOOD`] idle connections against `max_connections` = [`FLOOD_MAX`].
async fn flood(port: u16, b2: &mut Chatter, b3: &mut Chatter, case: &ChatCase) -> Row {
    let started = Instant::now();
    // Waves of WAVE connections, each read up to its first frame before the next wave starts,
    // so the connects go no faster than the server accepts them. (A burst larger than the
    // listen backlog, 128 by Rust's default, makes the kernel drop SYNs, which clients retry
    // after 1 s; that measures the kernel, not the server.) Nothing is ever sent on them.
    let (mut hello, mut full, mut other) = (0usize, 0usize, Vec::new());
    let mut held = Vec::with_capacity(FLOOD);
    for _ in 0..FLOOD / WAVE {
        let mut wave = tokio::task::JoinSet::new();
        for _ in 0..WAVE {
            wave.spawn(async move {
                let mut s = within("flood connect", TcpStream::connect(("127.0.0.1", port)))
                    .await
                    .expect("flood connect");
                let first = first_frame(&mut s).await;
                (s, first)
            });
        }
        while let Some(r) = within("flood wave", wave.join_next()).await {
            let (s, first) = r.expect("flood task");
            match first {
                Ok(p) if p.starts_with("1000|") => hello += 1,
                Ok(p) if p.starts_with(&format!("1009|{}|", Reason::ServerFull)) => {
                    // Check a sample of the refusals in full.
                    if full % 1000 == 0 {
                        let e = common::protocol::chat::ErrorMsg::from_message(
                            &RawMessage::parse_str(&p).expect("1009 parses"),
                        )
                        .expect("a 1009");
                        assert!(e.message.contains("full"), "{e:?}");
                    }
                    full += 1;
                }
                other_frame => other.push(format!("{other_frame:?}")),
            }
            held.push(s);
        }
    }
    let opened = started.elapsed();
    // Everybody already logged in keeps chatting while all of them are held open.
    still_chatting(b2, b3, "during the flood").await;
    let held_for = started.elapsed();
    drop(held);
    // Capacity comes back once they are closed.
    let deadline = Instant::now() + Duration::from_secs(5);
    let back = loop {
        let mut raw = Raw::connect(port).await;
        match raw.next().await {
            Got::Hello => break true,
            Got::Error(e) if e.reason == Reason::ServerFull && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            _ => break false,
        }
    };
    eprintln!(
        "flood: {FLOOD} connections opened in {:.1} s, all held until {:.1} s: {hello} hello, \
         {full} SERVER_FULL, {} other",
        opened.as_secs_f64(),
        held_for.as_secs_f64(),
        other.len()
    );
    // Two slots are the bystanders' (a connection of an earlier case may still be releasing
    // its slot: a few fewer hellos are fine). An accepted idle connection is closed after the
    // 10 s login deadline, freeing its slot, so on a machine too slow to open them all within
    // 10 s more of them may legitimately see a hello.
    let free = FLOOD_MAX - 2;
    let max_hello = free * (1 + opened.as_secs() as usize / 10);
    let ok = other.is_empty()
        && hello + full == FLOOD
        && (free - 5..=max_hello).contains(&hello)
        && back;
    Row {
        case: case.name.into(),
        sent: case.sent.into(),
        expected: case.expected.into(),
        got: format!(
            "{hello} × 1000 hello, {full} × 1009 SERVER_FULL, {} other{} (all open after {:.1} s); {}",
            other.len(),
            other
                .first()
                .map(|o| format!(" (e.g. {o})"))
                .unwrap_or_default(),
            opened.as_secs_f64(),
            if back {
                "hello again after closing"
            } else {
                "NO hello after closing"
            }
        ),
        ok,
    }
}

// =============================================================================================
// server_key

/// A raw connection to server_key.
struct KeyConn {
    reader: FrameReader<OwnedReadHalf>,
    writer: FrameWriter<OwnedWriteHalf>,
    hello: Option<KeyHello>,
}

impl KeyConn {
    /// Connect; with `read_hello`, read and parse the `1100` hello.
    async fn open(port: u16, read_hello: bool) -> Self {
        let s = within(
            "connect to server_key",
            TcpStream::connect(("127.0.0.1", port)),
        )
        .await
        .expect("connect to server_key");
        let _ = s.set_nodelay(true);
        let (r, w) = s.into_split();
        let mut c = Self {
            reader: FrameReader::new(r),
            writer: FrameWriter::new(w),
            hello: None,
        };
        if read_hello {
            let m = c.message().await.expect("server_key hello");
            c.hello = Some(KeyHello::from_message(&m).expect("a 1100 hello"));
        }
        c
    }

    fn hello(&self) -> &KeyHello {
        self.hello.as_ref().expect("hello read")
    }

    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let w = self.writer.get_mut();
        within("write to server_key", async {
            w.write_all(bytes).await?;
            w.flush().await
        })
        .await
    }

    /// The next message, or `Err` describing the end of the connection.
    async fn message(&mut self) -> Result<RawMessage, String> {
        self.message_within(T).await
    }

    async fn message_within(&mut self, d: Duration) -> Result<RawMessage, String> {
        match tokio::time::timeout(d, self.reader.read_frame()).await {
            Err(_) => Err("no answer".into()),
            Ok(Ok(None)) => Err("closed".into()),
            Ok(Err(e)) => Err(format!("closed ({e})")),
            Ok(Ok(Some(f))) => RawMessage::parse(&f).map_err(|e| format!("unreadable: {e}")),
        }
    }

    /// `"1109 REASON, closed"`, `"1101 envelope"`, or how the connection ended.
    async fn answer_within(&mut self, d: Duration) -> String {
        match self.message_within(d).await {
            Ok(m) if m.code == code::KEY_ERROR => {
                let e = KeyError::from_message(&m).expect("a 1109");
                let tail = match self.message().await {
                    Err(end) if end.starts_with("closed") => "closed".to_owned(),
                    other => format!("then {other:?}"),
                };
                format!("1109 {}, {tail}", e.reason)
            }
            Ok(m) => format!("{} message", m.code),
            Err(end) if end.starts_with("closed") => "connection closed, no 1109".into(),
            Err(end) => end,
        }
    }

    async fn answer(&mut self) -> String {
        self.answer_within(T).await
    }
}

/// What the server_key cases can use.
struct KeyCtx {
    /// user1's client key (bound to user1 by its first key step).
    user1: PrivateKey,
    /// Another 2048-bit key.
    other: PrivateKey,
    /// A 1024-bit key.
    small: PrivateKey,
    /// A signed request user1 sent on an earlier connection.
    recorded_request: String,
}

/// user1's correct request on this connection, as text.
fn good_request(hello: &KeyHello, ctx: &KeyCtx) -> String {
    signed_request(hello, "user1", &ctx.user1, &ctx.user1)
        .0
        .to_text()
}

fn request_for(hello: &KeyHello, ctx: &KeyCtx, user: &str) -> Vec<u8> {
    frame(
        signed_request(hello, user, &ctx.user1, &ctx.user1)
            .0
            .to_text()
            .as_bytes(),
    )
}

type KeyBuild = fn(&KeyHello, &KeyCtx) -> Vec<u8>;

enum KeyAction {
    Bytes {
        build: KeyBuild,
        then: Then,
    },
    /// A correct request, then a `0102` whose MAC field is this (base64 or empty; `None`: the
    /// field left out).
    BadConfirm(Option<&'static [u8]>),
    /// [`KEY_FLOOD`] idle connections.
    Flood,
}

struct KeyCase {
    name: &'static str,
    sent: &'static str,
    action: KeyAction,
    expected: &'static str,
}

fn key(
    name: &'static str,
    sent: &'static str,
    build: KeyBuild,
    then: Then,
    expected: &'static str,
) -> KeyCase {
    KeyCase {
        name,
        sent,
        action: KeyAction::Bytes { build, then },
        expected,
    }
}

const BAD_REQUEST: &str = "1109 BAD_REQUEST, closed";

fn key_cases() -> Vec<KeyCase> {
    use Then::{Eof, Wait};
    vec![
        key(
            "oversize length 0xFFFFFFFF",
            "header ffffffff",
            |_, _| u32::MAX.to_be_bytes().to_vec(),
            Wait,
            BAD_REQUEST,
        ),
        key(
            "oversize length 65537",
            "header 00010001 + 65537 bytes",
            |_, _| frame(&[b'A'; 65_537]),
            Wait,
            BAD_REQUEST,
        ),
        key(
            "1 MB message as one frame",
            "header 00100000 + 1 MB",
            |_, _| megabyte_frame(),
            Wait,
            BAD_REQUEST,
        ),
        key(
            "zero length",
            "header 00000000",
            |_, _| vec![0; 4],
            Wait,
            BAD_REQUEST,
        ),
        key(
            "length > data, then EOF",
            "header 100, 10 bytes, FIN",
            |_, _| short_frame(),
            Eof,
            BAD_REQUEST,
        ),
        key(
            "EOF before the request",
            "FIN right after the hello",
            |_, _| Vec::new(),
            Eof,
            BAD_REQUEST,
        ),
        key(
            "non-UTF-8 payload",
            "ff fe 7c 80",
            |_, _| frame(b"\xff\xfe|\x80"),
            Wait,
            BAD_REQUEST,
        ),
        key(
            "missing fields",
            "0101 with 3 fields (no signature)",
            |h, ctx| {
                let text = good_request(h, ctx);
                frame(text.rsplit_once('|').unwrap().0.as_bytes())
            },
            Wait,
            BAD_REQUEST,
        ),
        key(
            "extra fields",
            "valid 0101 + |x",
            |h, ctx| frame(format!("{}|x", good_request(h, ctx)).as_bytes()),
            Wait,
            BAD_REQUEST,
        ),
        key(
            "bad base64",
            "valid 0101, client nonce !!!!",
            |h, ctx| {
                let mut m = RawMessage::parse_str(&good_request(h, ctx)).unwrap();
                m.fields[2] = "!!!!".into();
                frame(m.to_text().as_bytes())
            },
            Wait,
            BAD_REQUEST,
        ),
        key(
            "unknown code",
            "9999|x",
            |_, _| frame(b"9999|x"),
            Wait,
            BAD_REQUEST,
        ),
        key(
            "chat code at the key server",
            "0001|b64(user1)|...",
            |_, _| frame(b"0001|dXNlcjE=|0f1e2d3c4b5a6978|0|AAAAAAAAAAA=|AAAAAAAAAAA=|AAAA"),
            Wait,
            BAD_REQUEST,
        ),
        key(
            "SQL injection username",
            "signed 0101 for ' OR '1'='1",
            |h, ctx| request_for(h, ctx, "' OR '1'='1"),
            Wait,
            BAD_REQUEST,
        ),
        key(
            "SQL injection username",
            "signed 0101 for user1'--",
            |h, ctx| request_for(h, ctx, "user1'--"),
            Wait,
            BAD_REQUEST,
        ),
        key(
            "path in username",
            "signed 0101 for ../sessions/user1",
            |h, ctx| request_for(h, ctx, "../sessions/user1"),
            Wait,
            BAD_REQUEST,
        ),
        key(
            "wrong signature",
            "user1's 0101, one signature bit flipped",
            |h, ctx| frame(edit_last(&good_request(h, ctx), flip_b64).as_bytes()),
            Wait,
            "1109 BAD_SIGNATURE, closed",
        ),
        key(
            "signature by another key",
            "user1's key carried, signed by another key",
            |h, ctx| {
                frame(
                    signed_request(h, "user1", &ctx.user1, &ctx.other)
                        .0
                        .to_text()
                        .as_bytes(),
                )
            },
            Wait,
            "1109 BAD_SIGNATURE, closed",
        ),
        key(
            "replayed request",
            "user1's signed 0101 from an earlier connection",
            |_, ctx| frame(ctx.recorded_request.as_bytes()),
            Wait,
            "1109 BAD_SIGNATURE, closed",
        ),
        key(
            "1024-bit client key",
            "0101 with a 1024-bit key, correctly signed",
            |h, ctx| {
                frame(
                    signed_request(h, "user3", &ctx.small, &ctx.small)
                        .0
                        .to_text()
                        .as_bytes(),
                )
            },
            Wait,
            "1109 KEY_SIZE, closed",
        ),
        key(
            "another client key for a bound user",
            "0101 for user1 with another 2048-bit key, correctly signed",
            |h, ctx| {
                frame(
                    signed_request(h, "user1", &ctx.other, &ctx.other)
                        .0
                        .to_text()
                        .as_bytes(),
                )
            },
            Wait,
            "1109 KEY_MISMATCH, closed",
        ),
        KeyCase {
            name: "wrong key confirmation",
            sent: "user1's correct 0101, then 0102 with a zero MAC",
            action: KeyAction::BadConfirm(Some(&[0u8; 32])),
            expected: "1101 envelope, then 1109 BAD_CONFIRM, closed; sessions/user1.txt unchanged",
        },
        KeyCase {
            name: "downgraded key confirmation MAC",
            sent: "user1's correct 0101, then 0102 with a 16-byte MAC",
            action: KeyAction::BadConfirm(Some(&[0u8; 16])),
            // A MAC of the wrong length is a malformed message (PROTOCOL.md §6), not a wrong MAC.
            expected: "1101 envelope, then 1109 BAD_REQUEST, closed; sessions/user1.txt unchanged",
        },
        KeyCase {
            name: "missing key confirmation MAC",
            sent: "user1's correct 0101, then 0102 without its MAC field",
            action: KeyAction::BadConfirm(None),
            expected: "1101 envelope, then 1109 BAD_REQUEST, closed; sessions/user1.txt unchanged",
        },
        KeyCase {
            name: "300 idle connections",
            sent: "300 connects, nothing sent (MAX_KEY_CLIENTS = 256)",
            action: KeyAction::Flood,
            expected: "<= 256 get 1100 hello, all others 1109 BUSY; key steps work again after closing",
        },
    ]
}

/// The key-step bystander: a user of the chat server who is not chatting here (a new key for a
/// user who is logged in ends that session, see hardening.rs `sessions_end_...`).
const KEY_BYSTANDER: &str = "user4";

/// A key step for the bystander [`KEY_BYSTANDER`] works (BUSY is retried: the permits of
/// just-closed connections come back asynchronously).
async fn key_step_still_works(sys: &System) {
    let folder = sys.folder(KEY_BYSTANDER);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match sys.try_key_step(&folder).await {
            Ok(_) => return,
            Err(common::client::key_client::KeyStepError::Refused { reason, .. })
                if reason == Reason::Busy && Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("bystander key step failed: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn key_server_bad_input_table() {
    raise_nofile(16_384);
    let mut sys = System::start(Setup::default());
    let port = sys.key_port;
    // `server user add` also puts the name on server_key's user list (tofu mode).
    sys.server_admin(
        &[
            "user",
            "add",
            KEY_BYSTANDER,
            "bystander",
            "--password-stdin",
        ],
        "bystander-pass\n",
    );
    sys.key_steps(&["user1", "user2", "user3"]).await;

    let silent = tokio::spawn(async move {
        let mut c = KeyConn::open(port, true).await;
        c.write(&short_frame()).await.expect("write");
        let started = Instant::now();
        let got = c.answer_within(Duration::from_secs(20)).await;
        (got, started.elapsed())
    });

    let mut b2 = sys.login("user2").await;
    let mut b3 = sys.login("user3").await;
    still_chatting(&mut b2, &mut b3, "before the attacks").await;

    let user1 = PrivateKey::load(&sys.folder("user1").private_key_path()).expect("user1's key");
    let (other, small) = tokio::task::spawn_blocking(|| {
        (
            PrivateKey::generate(2048).expect("2048-bit key"),
            PrivateKey::generate(1024).expect("1024-bit key"),
        )
    })
    .await
    .unwrap();
    let recorded_request = {
        let c = KeyConn::open(port, true).await;
        let (req, _) = signed_request(c.hello(), "user1", &user1, &user1);
        req.to_text()
    };
    let ctx = KeyCtx {
        user1,
        other,
        small,
        recorded_request,
    };

    let mut rows = Vec::new();
    for (i, case) in key_cases().into_iter().enumerate() {
        let row = match case.action {
            KeyAction::Bytes { build, then } => {
                let mut c = KeyConn::open(port, true).await;
                let bytes = build(c.hello(), &ctx);
                let _ = c.write(&bytes).await;
                if then == Then::Eof {
                    let _ = c.writer.get_mut().shutdown().await;
                }
                Row::exact(case.name, case.sent, case.expected, c.answer().await)
            }
            KeyAction::BadConfirm(tag) => {
                let stored = sys.server_session_file("user1");
                let before = std::fs::read(&stored).expect("user1's server key");
                let mut c = KeyConn::open(port, true).await;
                let req = good_request(c.hello(), &ctx);
                c.write(&frame(req.as_bytes())).await.expect("write");
                let env = c.message().await.expect("an answer");
                let first = format!("{} envelope", env.code);
                let key_id = env.fields.first().cloned().unwrap_or_default();
                let confirm = match tag {
                    Some(tag) => format!("{}|{key_id}|{}", code::KEY_CONFIRM, b64(tag)),
                    None => format!("{}|{key_id}", code::KEY_CONFIRM),
                };
                c.write(&frame(confirm.as_bytes())).await.expect("write");
                let then = c.answer().await;
                let same = std::fs::read(&stored).expect("user1's server key") == before;
                let got = format!(
                    "{first}, then {then}; sessions/user1.txt {}",
                    if same { "unchanged" } else { "CHANGED" }
                );
                Row::exact(case.name, case.sent, case.expected, got)
            }
            KeyAction::Flood => key_flood(port, &case).await,
        };
        rows.push(row);
        sys.assert_key_server_alive();
        key_step_still_works(&sys).await;
        still_chatting(
            &mut b2,
            &mut b3,
            &format!("bystander check after key case {i}"),
        )
        .await;
    }
    rows.push(
        timeout_row(
            "length > data, then silence",
            "header 100, 10 bytes, then nothing",
            "1109 TIMEOUT, closed",
            silent,
        )
        .await,
    );
    sys.assert_key_server_alive();
    key_step_still_works(&sys).await;
    still_chatting(&mut b2, &mut b3, "bystander check after the timeout case").await;
    report(
        "Bad input at the key server (real `server_key` binary)",
        &rows,
    );
}

/// [`KEY_FLOOD`] idle connections against `MAX_KEY_CLIENTS`.
async fn key_flood(port: u16, case: &KeyCase) -> Row {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..KEY_FLOOD {
        set.spawn(async move {
            let mut s = within("connect", TcpStream::connect(("127.0.0.1", port)))
                .await
                .expect("connect");
            let first = first_frame(&mut s).await;
            (s, first)
        });
    }
    let (mut hello, mut busy, mut other) = (0usize, 0usize, Vec::new());
    let mut held = Vec::new();
    while let Some(r) = within("key flood", set.join_next()).await {
        let (s, first) = r.expect("task");
        match first {
            Ok(p) if p.starts_with("1100|") => hello += 1,
            Ok(p) if p.starts_with("1109|BUSY|") => busy += 1,
            o => other.push(format!("{o:?}")),
        }
        held.push(s);
    }
    drop(held);
    let ok = other.is_empty()
        && hello + busy == KEY_FLOOD
        && hello <= MAX_KEY_CLIENTS
        && busy >= KEY_FLOOD - MAX_KEY_CLIENTS;
    Row {
        case: case.name.into(),
        sent: case.sent.into(),
        expected: case.expected.into(),
        got: format!(
            "{hello} × 1100 hello, {busy} × 1109 BUSY, {} other",
            other.len()
        ),
        ok,
    }
}
