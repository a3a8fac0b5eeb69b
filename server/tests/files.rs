//! File transfer (issue 16, PROTOCOL.md §6.11) against the real chat server: files arrive bit
//! for bit to one and to several users, hostile names are saved safely, declines, cancels on both
//! sides, a killed and a slow recipient, the limits, and chat latency during a transfer.
//!
//! Each client is a [`Bot`]: a task that runs the client library's [`Transfers`] over a real
//! session, as the terminal mode does, and reports what it sees.

#[path = "common/mod.rs"]
mod harness;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::client::files::{Direction, Failure, Transfers, Update};
use common::crypto::password::hash_password_with;
use common::protocol::Reason;
use common::protocol::chat::{ClientRequest, ServerEvent};
use common::protocol::files::{FileEvent, FileRequest, FileState};
use harness::{Client, FAST_ITERATIONS, PW, T, TestServer, within};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

/// What a bot saw.
#[derive(Debug, Clone)]
enum Seen {
    File(Update),
    /// A chat message: its text and when it arrived.
    Chat(String, Instant),
}

enum Cmd {
    Offer(PathBuf, Option<String>),
    Say(String),
    Cancel(u64),
}

/// How a bot answers offers and acknowledges data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Accept,
    Decline,
    /// Accepts, but never acknowledges: a recipient that stopped making progress.
    NoAcks,
    /// Does not take part in transfers at all (sender-only bots answer nothing).
    Ignore,
}

struct Bot {
    user: String,
    dir: PathBuf,
    cmds: mpsc::UnboundedSender<Cmd>,
    seen: mpsc::UnboundedReceiver<Seen>,
    /// File updates seen while waiting for a chat message, for the next `wait_for`.
    backlog: std::collections::VecDeque<Update>,
    task: tokio::task::JoinHandle<()>,
}

impl Bot {
    async fn start(server: &TestServer, user: &str, style: Style, root: &Path) -> Self {
        let client = server.login(user).await;
        Self::run(client, style, root)
    }

    fn run(client: Client, style: Style, root: &Path) -> Self {
        Self::run_on(&tokio::runtime::Handle::current(), client, style, root)
    }

    /// [`Self::run`] on another runtime (the chat latency test's own "process").
    fn run_on(rt: &tokio::runtime::Handle, client: Client, style: Style, root: &Path) -> Self {
        let dir = root.join(&client.user);
        let user = client.user.clone();
        let (cmds, cmd_rx) = mpsc::unbounded_channel();
        let (seen_tx, seen) = mpsc::unbounded_channel();
        let transfers = Transfers::new(
            dir.clone(),
            style != Style::Decline && style != Style::Ignore,
        );
        let task = rt.spawn(bot_loop(client, transfers, style, cmd_rx, seen_tx));
        Self {
            user,
            dir,
            cmds,
            seen,
            backlog: Default::default(),
            task,
        }
    }

    fn send(&self, cmd: Cmd) {
        self.cmds.send(cmd).expect("bot alive");
    }

    /// The next file update matching `want` (other things seen are skipped), within [`T`].
    async fn wait_for(&mut self, what: &str, want: impl Fn(&Update) -> bool) -> Update {
        self.wait_long(what, T, want).await
    }

    /// [`Self::wait_for`] within `limit`.
    async fn wait_long(
        &mut self,
        what: &str,
        limit: Duration,
        want: impl Fn(&Update) -> bool,
    ) -> Update {
        if let Some(i) = self.backlog.iter().position(&want) {
            return self.backlog.remove(i).expect("found");
        }
        let user = self.user.clone();
        let wait = async {
            loop {
                match self.seen.recv().await {
                    Some(Seen::File(u)) if want(&u) => return u,
                    Some(_) => {}
                    None => panic!("{user}: bot ended while waiting for {what}"),
                }
            }
        };
        match tokio::time::timeout(limit, wait).await {
            Ok(u) => u,
            Err(_) => panic!("{}: timed out after {limit:?}: {what}", self.user),
        }
    }

    /// The next chat message whose text is `text`; when it arrived.
    async fn chat(&mut self, text: &str) -> Instant {
        let user = self.user.clone();
        within(&format!("{user}: chat {text:?}"), async {
            loop {
                match self.seen.recv().await {
                    Some(Seen::Chat(t, at)) if t == text => return at,
                    Some(Seen::File(u)) => self.backlog.push_back(u),
                    Some(Seen::Chat(..)) => {}
                    None => panic!("{user}: bot ended"),
                }
            }
        })
        .await
    }
}

async fn bot_loop(
    mut client: Client,
    mut transfers: Transfers,
    style: Style,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
    seen: mpsc::UnboundedSender<Seen>,
) {
    let report = |u: Update| {
        let _ = seen.send(Seen::File(u));
    };
    loop {
        tokio::select! {
            biased;
            cmd = cmds.recv() => {
                let req = match cmd {
                    None => return,
                    Some(Cmd::Offer(path, to)) => {
                        let (req, u) = transfers.offer(&path, to).expect("offer");
                        report(u);
                        req
                    }
                    Some(Cmd::Say(text)) => ClientRequest::Chat { to: None, text },
                    Some(Cmd::Cancel(id)) => {
                        let (req, u) = transfers.cancel(id).expect("cancel");
                        report(u);
                        req
                    }
                };
                if client.tx.send(&req).await.is_err() {
                    return;
                }
            }
            inc = client.rx.next() => {
                let event = match inc {
                    Ok(Some(common::client::chat_client::Incoming::Event { event, .. })) => event,
                    Ok(Some(_)) => continue,
                    _ => return,
                };
                match event {
                    ServerEvent::Chat(line) => {
                        let _ = seen.send(Seen::Chat(line.text, Instant::now()));
                    }
                    ServerEvent::File(ev) => {
                        if style == Style::Ignore && matches!(ev, FileEvent::Offered { .. }) {
                            continue;
                        }
                        let offered = matches!(ev, FileEvent::Offered { id, .. } if style == Style::Decline && transfers.open_offers().iter().all(|o| o.0 != id));
                        let h = transfers.on_event(ev.clone());
                        let mut requests = h.requests;
                        if offered && let FileEvent::Offered { id, .. } = ev {
                            requests.push(transfers.decline(id).expect("offer open"));
                        }
                        for u in h.updates {
                            report(u);
                        }
                        for req in requests {
                            let ack = matches!(req, ClientRequest::File(FileRequest::Ack { .. }));
                            if style == Style::NoAcks && ack {
                                continue;
                            }
                            if client.tx.send(&req).await.is_err() {
                                return;
                            }
                        }
                    }
                    _ => {}
                }
            }
            () = std::future::ready(()), if transfers.has_chunk() => {
                if let Some((req, u)) = transfers.next_chunk() {
                    if let Some(u) = u {
                        report(u);
                    }
                    if client.tx.send(&req).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

/// A file of `len` seeded pseudo-random bytes.
fn make_file(dir: &Path, name: &str, len: usize, seed: u64) -> PathBuf {
    let mut data = vec![0u8; len];
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let b = x.to_le_bytes();
        chunk.copy_from_slice(&b[..chunk.len()]);
    }
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, &data).unwrap();
    path
}

fn sha(path: &Path) -> [u8; 32] {
    Sha256::digest(std::fs::read(path).unwrap()).into()
}

/// Everything in `dir` (names).
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn is_saved(u: &Update) -> bool {
    matches!(u, Update::Saved { .. })
}

fn is_finished(u: &Update) -> bool {
    matches!(u, Update::Finished { .. })
}

fn saved_path(u: Update) -> PathBuf {
    match u {
        Update::Saved { path, .. } => path,
        other => panic!("{other:?}"),
    }
}

/// A fourth user (the seeds are three) with the seed password.
async fn add_user(server: &TestServer, user: &str) {
    server
        .store
        .add_user(user, &hash_password_with(PW, FAST_ITERATIONS), user)
        .expect("add user");
}

async fn login_extra(server: &TestServer, user: &str) -> Client {
    let (tx, rx, info) = server
        .try_login(user, server.key(user), PW)
        .await
        .unwrap_or_else(|e| panic!("login of {user}: {e}"));
    Client::after_login(user, tx, rx, info).await
}

/// `len` bytes from user1 to `to` (`None`: everyone: user2, user3, user4); every recipient's
/// copy is compared with the original.
async fn transfer(len: usize, everyone: bool, limit: Duration) -> Duration {
    let server = TestServer::start().await;
    let root = tempfile::tempdir().unwrap();
    let mut receivers = Vec::new();
    let names: &[&str] = if everyone {
        &["user2", "user3", "user4"]
    } else {
        &["user2"]
    };
    add_user(&server, "user4").await;
    let mut sender = Bot::start(&server, "user1", Style::Ignore, root.path()).await;
    for u in names {
        let c = if *u == "user4" {
            login_extra(&server, u).await
        } else {
            server.login(u).await
        };
        receivers.push(Bot::run(c, Style::Accept, root.path()));
    }
    let src = make_file(&root.path().join("src"), "big.bin", len, len as u64);
    let started = Instant::now();
    let to = (!everyone).then(|| "user2".to_owned());
    sender.send(Cmd::Offer(src.clone(), to));
    let finished = sender
        .wait_long("the transfer to finish", limit, is_finished)
        .await;
    let elapsed = started.elapsed();
    let Update::Finished {
        mut delivered,
        reason,
        ..
    } = finished
    else {
        unreachable!()
    };
    delivered.sort();
    assert_eq!(delivered, names, "reason: {reason:?}");
    let want = sha(&src);
    for r in &mut receivers {
        let path = saved_path(r.wait_for("saved", is_saved).await);
        assert_eq!(path, r.dir.join("big.bin"));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), len as u64);
        assert_eq!(sha(&path), want, "{}: not bit-exact", r.user);
        assert_eq!(listing(&r.dir), ["big.bin"], "{}: no .part left", r.user);
    }
    elapsed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_mb_arrive_bit_exact_to_one() {
    let took = transfer(20 * 1024 * 1024, false, Duration::from_secs(60)).await;
    eprintln!("20 MiB to one: {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_mb_arrive_bit_exact_to_three() {
    let took = transfer(20 * 1024 * 1024, true, Duration::from_secs(90)).await;
    eprintln!("20 MiB to three: {took:?}");
}

/// 100 MiB (the default `max_file_mb`, exactly at the limit) to one user.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_mb_arrive_bit_exact_to_one() {
    let took = transfer(100 * 1024 * 1024, false, Duration::from_secs(240)).await;
    eprintln!("100 MiB to one: {took:?}");
}

/// 100 MiB to everyone (three users at once): the server seals every chunk once per recipient,
/// and each copy must arrive whole. (bench.sh sends the same to 30.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_mb_arrive_bit_exact_to_three() {
    let took = transfer(100 * 1024 * 1024, true, Duration::from_secs(360)).await;
    eprintln!("100 MiB to three: {took:?}");
}

/// A sender that speaks the protocol by hand: offers `name` (any bytes the test likes) of
/// `size` bytes to `to` and waits for the first credit; the transfer id.
async fn offer_by_hand(c: &mut Client, name: &str, to: &str, size: u64) -> u64 {
    c.send(&ClientRequest::File(FileRequest::Offer {
        reference: 1,
        to: Some(to.into()),
        name: name.into(),
        size,
    }))
    .await;
    let id = loop {
        if let ServerEvent::File(FileEvent::OfferResult { result, .. }) = c.event().await {
            break result.expect("offer accepted");
        }
    };
    loop {
        if let ServerEvent::File(FileEvent::Credit { upto, .. }) = c.event().await {
            assert!(upto >= size.min(1));
            return id;
        }
    }
}

/// [`offer_by_hand`], then `data` in one chunk and the end.
async fn send_by_hand(c: &mut Client, name: &str, to: &str, data: &[u8]) -> u64 {
    let id = offer_by_hand(c, name, to, data.len() as u64).await;
    c.send(&ClientRequest::File(FileRequest::Chunk {
        id,
        offset: 0,
        data: data.to_vec(),
    }))
    .await;
    c.send(&ClientRequest::File(FileRequest::End {
        id,
        sha256: Sha256::digest(data).into(),
    }))
    .await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_names_are_saved_safely() {
    let server = TestServer::start().await;
    let root = tempfile::tempdir().unwrap();
    let mut sender = server.login("user1").await;
    let mut r = Bot::start(&server, "user2", Style::Accept, root.path()).await;
    for (offered, saved) in [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("con.txt", "_con.txt"),
        ("NUL", "_NUL"),
        ("evil\u{202e}txt.exe", "eviltxt.exe"),
        ("passwd", "passwd (1)"),
    ] {
        send_by_hand(&mut sender, offered, "user2", offered.as_bytes()).await;
        let path = saved_path(r.wait_for("saved", is_saved).await);
        assert_eq!(path, r.dir.join(saved), "{offered:?}");
        assert_eq!(std::fs::read(&path).unwrap(), offered.as_bytes());
    }
    // Nothing outside the downloads folder.
    assert_eq!(listing(root.path()), ["user2"]);
    assert!(!root.path().join("etc").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_declined_offer_ends_with_nothing_saved() {
    let server = TestServer::start().await;
    let root = tempfile::tempdir().unwrap();
    let mut s = Bot::start(&server, "user1", Style::Ignore, root.path()).await;
    let r = Bot::start(&server, "user2", Style::Decline, root.path()).await;
    let src = make_file(&root.path().join("src"), "a.bin", 1000, 1);
    s.send(Cmd::Offer(src, Some("user2".into())));
    s.wait_for("declined", |u| {
        matches!(u, Update::Recipient { state: FileState::Declined, user, .. } if user == "user2")
    })
    .await;
    let over = s.wait_for("over", is_finished).await;
    assert!(
        matches!(&over, Update::Finished { delivered, reason: Some(Reason::Declined), .. } if delivered.is_empty()),
        "{over:?}"
    );
    assert_eq!(listing(&r.dir), Vec::<String>::new());
}

/// A 30 MiB transfer cancelled by `who` once a few MiB have arrived: the other side is told,
/// the `.part` file is gone and no file appears under the final name.
async fn cancel_mid_transfer(by_sender: bool) {
    let server = TestServer::start().await;
    let root = tempfile::tempdir().unwrap();
    let mut s = Bot::start(&server, "user1", Style::Ignore, root.path()).await;
    let mut r = Bot::start(&server, "user2", Style::Accept, root.path()).await;
    let src = make_file(&root.path().join("src"), "c.bin", 30 * 1024 * 1024, 2);
    s.send(Cmd::Offer(src, Some("user2".into())));
    let id = match s
        .wait_for("id", |u| matches!(u, Update::OfferAccepted { .. }))
        .await
    {
        Update::OfferAccepted { id, .. } => id,
        _ => unreachable!(),
    };
    r.wait_for(
        "some progress",
        |u| matches!(u, Update::Progress { direction: Direction::Receive, done, .. } if *done > 0),
    )
    .await;
    if by_sender {
        s.send(Cmd::Cancel(id));
        let failed = r
            .wait_for("told", |u| matches!(u, Update::Failed { .. }))
            .await;
        assert!(
            matches!(
                &failed,
                Update::Failed {
                    failure: Failure::Remote(Reason::SenderCancelled),
                    ..
                }
            ),
            "{failed:?}"
        );
    } else {
        r.send(Cmd::Cancel(id));
        let told = s
            .wait_for("told", |u| {
                matches!(
                    u,
                    Update::Recipient {
                        state: FileState::Failed,
                        ..
                    }
                )
            })
            .await;
        assert!(
            matches!(
                &told,
                Update::Recipient {
                    state: FileState::Failed,
                    reason: Some(Reason::RecipientCancelled),
                    ..
                }
            ),
            "{told:?}"
        );
        let over = s.wait_for("over", is_finished).await;
        assert!(matches!(&over, Update::Finished { delivered, .. } if delivered.is_empty()));
    }
    // Give frames still in flight time to arrive: they must not recreate anything.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        listing(&r.dir),
        Vec::<String>::new(),
        "no .part, no final name"
    );
    // Both are still chatting.
    s.send(Cmd::Say("after the cancel".into()));
    r.chat("after the cancel").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sender_cancels() {
    cancel_mid_transfer(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_recipient_cancels() {
    cancel_mid_transfer(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_recipient_does_not_stop_the_others() {
    let server = TestServer::start().await;
    let root = tempfile::tempdir().unwrap();
    let mut s = Bot::start(&server, "user1", Style::Ignore, root.path()).await;
    let mut ok = Bot::start(&server, "user2", Style::Accept, root.path()).await;
    let mut killed = Bot::start(&server, "user3", Style::Accept, root.path()).await;
    let src = make_file(&root.path().join("src"), "k.bin", 20 * 1024 * 1024, 3);
    s.send(Cmd::Offer(src.clone(), None));
    killed
        .wait_for("some progress", |u| {
            matches!(u, Update::Progress { direction: Direction::Receive, done, .. } if *done > 0)
        })
        .await;
    killed.task.abort();
    let _ = (&mut killed.task).await;
    let told = s
        .wait_for("told", |u| matches!(u, Update::Recipient { user, state: FileState::Failed, .. } if user == "user3"))
        .await;
    assert!(
        matches!(
            &told,
            Update::Recipient {
                state: FileState::Failed,
                reason: Some(Reason::RecipientLeft),
                ..
            }
        ),
        "{told:?}"
    );
    let path = saved_path(ok.wait_for("saved", is_saved).await);
    assert_eq!(sha(&path), sha(&src));
    let over = s.wait_for("over", is_finished).await;
    assert!(matches!(&over, Update::Finished { delivered, .. } if delivered == &["user2"]));
    // The killed one's folder has at most its .part, never the final name.
    assert!(!killed.dir.join("k.bin").exists());
    // The server is fine: the killed user logs in again and chats.
    let mut again = Bot::start(&server, "user3", Style::Accept, root.path()).await;
    s.send(Cmd::Say("still here".into()));
    again.chat("still here").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_recipient_is_dropped_from_the_transfer_not_from_the_chat() {
    let server = TestServer::start_tweaked(|s| s.files.stall = Duration::from_secs(1)).await;
    let root = tempfile::tempdir().unwrap();
    let mut s = Bot::start(&server, "user1", Style::Ignore, root.path()).await;
    let mut fast = Bot::start(&server, "user2", Style::Accept, root.path()).await;
    let mut slow = Bot::start(&server, "user3", Style::NoAcks, root.path()).await;
    let src = make_file(&root.path().join("src"), "s.bin", 10 * 1024 * 1024, 4);
    s.send(Cmd::Offer(src.clone(), None));
    let told = s
        .wait_for("slow one dropped", |u| matches!(u, Update::Recipient { user, state: FileState::Failed, .. } if user == "user3"))
        .await;
    assert!(
        matches!(
            &told,
            Update::Recipient {
                reason: Some(Reason::FileTooSlow),
                ..
            }
        ),
        "{told:?}"
    );
    let failed = slow
        .wait_for("told", |u| matches!(u, Update::Failed { .. }))
        .await;
    assert!(
        matches!(
            &failed,
            Update::Failed {
                failure: Failure::Remote(Reason::FileTooSlow),
                ..
            }
        ),
        "{failed:?}"
    );
    let path = saved_path(fast.wait_for("saved", is_saved).await);
    assert_eq!(sha(&path), sha(&src));
    assert_eq!(listing(&slow.dir), Vec::<String>::new());
    // Still in the chat, both ways.
    slow.send(Cmd::Say("slow but here".into()));
    fast.chat("slow but here").await;
    s.send(Cmd::Say("hello slow".into()));
    slow.chat("hello slow").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn limits_are_refused_with_reasons() {
    let server = TestServer::start_tweaked(|s| {
        s.files.max_size = 1000;
        s.files.max_per_user = 1;
    })
    .await;
    let root = tempfile::tempdir().unwrap();
    let mut s = Bot::start(&server, "user1", Style::Ignore, root.path()).await;
    let _quiet = Bot::start(&server, "user2", Style::Ignore, root.path()).await;
    let refused = |reason: Reason| move |u: &Update| matches!(u, Update::OfferRefused { reason: r, .. } if *r == reason);
    let big = make_file(&root.path().join("src"), "big.bin", 1001, 5);
    s.send(Cmd::Offer(big, Some("user2".into())));
    s.wait_for("too large", refused(Reason::FileTooLarge)).await;
    let small = make_file(&root.path().join("src"), "small.bin", 1000, 6);
    s.send(Cmd::Offer(small.clone(), Some("nobody".into())));
    s.wait_for("not online", refused(Reason::NotOnline)).await;
    s.send(Cmd::Offer(small.clone(), Some("user1".into())));
    s.wait_for("to oneself", refused(Reason::BadOffer)).await;
    // user2 never answers: the first offer stays open, the second is one too many.
    s.send(Cmd::Offer(small.clone(), Some("user2".into())));
    s.wait_for("first", |u| matches!(u, Update::OfferAccepted { .. }))
        .await;
    s.send(Cmd::Offer(small, Some("user2".into())));
    s.wait_for("too many", refused(Reason::TooManyTransfers))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sender_that_breaks_the_rules_ends_its_transfer() {
    let server = TestServer::start().await;
    let root = tempfile::tempdir().unwrap();
    let mut sender = server.login("user1").await;
    let mut r = Bot::start(&server, "user2", Style::Accept, root.path()).await;
    let id = offer_by_hand(&mut sender, "x", "user2", 10).await;
    // A chunk at the wrong offset.
    sender
        .send(&ClientRequest::File(FileRequest::Chunk {
            id,
            offset: 5,
            data: vec![1; 5],
        }))
        .await;
    let failed = r
        .wait_for("told", |u| matches!(u, Update::Failed { .. }))
        .await;
    assert!(
        matches!(
            &failed,
            Update::Failed {
                failure: Failure::Remote(Reason::BadChunk),
                ..
            }
        ),
        "{failed:?}"
    );
    loop {
        if let ServerEvent::File(FileEvent::Status {
            state: FileState::Over,
            reason,
            ..
        }) = sender.event().await
        {
            assert_eq!(reason, Some(Reason::BadChunk));
            break;
        }
    }
    assert_eq!(listing(&r.dir), Vec::<String>::new());
}

/// One-way delays of `n` chat messages from `talker` to `listener`, one after the other; the
/// 99th percentile. Both bots live in this process, so their clocks are one.
/// The p99 delay of `n` chat lines from `talker` to everyone, as seen by each of `listeners`
/// (the same lines: each bot stamps a line when its own runtime receives it).
async fn chat_p99(
    talker: &mut Bot,
    listeners: &mut [&mut Bot],
    n: usize,
    tag: &str,
) -> Vec<Duration> {
    let mut delays = vec![Vec::with_capacity(n); listeners.len()];
    for i in 0..n {
        let text = format!("{tag} {i}");
        let sent = Instant::now();
        talker.send(Cmd::Say(text.clone()));
        for (l, d) in listeners.iter_mut().zip(&mut delays) {
            d.push(l.chat(&text).await.duration_since(sent));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    delays
        .into_iter()
        .map(|mut d| {
            d.sort();
            d[(n * 99).div_ceil(100) - 1]
        })
        .collect()
}

/// Chat during a 100 MiB transfer (user1 to user2) stays within 3x of its latency without one.
/// user3 talks to everyone: a line to user2, the file's recipient, competes with the file for
/// user2's connection (the server's queues, its TCP stream, user2's client). As on a real LAN, the
/// server, the talker, the two transferring clients and a bystander (user4, in the chat, not in
/// the transfer) each run on their own threads (four runtimes in this process), so the machine's
/// scheduler, not one shared task queue, shares the cores between them. The p99 of 300 lines is
/// measured three times each way, alternating, and the medians are compared; the baseline counts
/// as at least 2 ms so that a sub-millisecond baseline on an idle machine does not turn scheduler
/// noise into a failure (slack: that floor, and the median over three). The bystander's p99 of the
/// same lines tells queueing from starvation: it shares the cores with the transfer but none of
/// its queues, so what it sees is the CPU's share and the rest of user2's delay is queueing. File
/// chunks are sealed and opened on low-priority threads (common::lowprio), so the bystander's p99
/// must stay within 3x of the quiet one with no floor at all.
#[test]
#[ignore = "timing on a shared 2-core machine: run alone (cargo test --test files -- --ignored)"]
fn chat_stays_live_during_a_transfer() {
    let rt = |threads: usize| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
            .unwrap()
    };
    let (server_rt, talker_rt, clients_rt, receiver_rt) = (rt(2), rt(1), rt(1), rt(1));
    let bystander_rt = rt(1);
    let server = std::sync::Arc::new(server_rt.block_on(TestServer::start()));
    let root = tempfile::tempdir().unwrap();
    let srv = server.clone();
    let talker = talker_rt.block_on(async move { srv.login("user3").await });
    let mut talker = Bot::run_on(talker_rt.handle(), talker, Style::Ignore, root.path());
    let srv = server.clone();
    let by = bystander_rt.block_on(async move {
        add_user(&srv, "user4").await;
        login_extra(&srv, "user4").await
    });
    let mut by = Bot::run_on(bystander_rt.handle(), by, Style::Ignore, root.path());
    clients_rt.block_on(async {
        let mut s = Bot::start(&server, "user1", Style::Ignore, root.path()).await;
        let srv = server.clone();
        let r = receiver_rt
            .spawn(async move { srv.login("user2").await })
            .await
            .unwrap();
        let mut r = Bot::run_on(receiver_rt.handle(), r, Style::Accept, root.path());
        let src = make_file(&root.path().join("src"), "l.bin", 100 * 1024 * 1024, 7);
        let (mut quiet, mut busy, mut busy_by) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..3 {
            let q = chat_p99(&mut talker, &mut [&mut r], 300, &format!("quiet{round}")).await;
            quiet.push(q[0]);
            s.send(Cmd::Offer(src.clone(), Some("user2".into())));
            r.wait_for("data flowing", |u| {
                matches!(u, Update::Progress { direction: Direction::Receive, done, .. } if *done > 0)
            })
            .await;
            let b = chat_p99(&mut talker, &mut [&mut r, &mut by], 300, &format!("busy{round}")).await;
            busy.push(b[0]);
            busy_by.push(b[1]);
            let Update::Progress { done, total, .. } = r
                .wait_for("progress", |u| matches!(u, Update::Progress { .. }))
                .await
            else {
                unreachable!()
            };
            assert!(done < total, "round {round}: the transfer ended before the chat was measured");
            r.wait_long("saved", Duration::from_secs(120), is_saved).await;
            s.wait_long("over", Duration::from_secs(30), is_finished).await;
            for f in listing(&r.dir) {
                std::fs::remove_file(r.dir.join(f)).unwrap();
            }
        }
        quiet.sort();
        busy.sort();
        busy_by.sort();
        let (q, b) = (quiet[1].max(Duration::from_millis(2)), busy[1]);
        eprintln!(
            "chat p99 without a transfer {quiet:?}, during one {busy:?}, bystander during one {busy_by:?}"
        );
        assert!(b <= q * 3, "p99 during a transfer {b:?} > 3 x {q:?}");
        let (q_strict, by) = (quiet[1], busy_by[1]);
        assert!(
            by <= q_strict * 3,
            "a bystander's p99 during a transfer {by:?} > 3 x {q_strict:?}"
        );
    });
    drop(talker);
    drop(by);
    clients_rt.shutdown_background();
    receiver_rt.shutdown_background();
    talker_rt.shutdown_background();
    bystander_rt.shutdown_background();
    server_rt.shutdown_background();
}
