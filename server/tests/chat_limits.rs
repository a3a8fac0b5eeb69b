//! The server's limits and lifecycle: the slow-consumer rule, idle and handshake timeouts, the
//! connection limit and shutdown.

#[path = "common/mod.rs"]
mod harness;

use std::time::{Duration, Instant};

use common::client::chat_client::{ChatReceiver, Incoming, SessionEvent, spawn_session};
use common::protocol::Reason;
use common::protocol::chat::{ChatLine, ClientRequest, ErrorMsg, NoticeKind, ServerEvent};
use harness::*;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

/// The `i`-th 4 KiB message of the slow-consumer test.
fn bulk(i: usize) -> String {
    let head = format!("{i:05} ");
    format!("{head}{}", "x".repeat(4096 - head.len()))
}

/// Read chat messages up to "END" (reporting progress) and the LEAVE notice of user3; signal
/// `on_leave` when that arrives.
async fn read_bulk(
    user: &'static str,
    mut rx: ChatReceiver,
    progress: watch::Sender<usize>,
    on_leave: watch::Sender<bool>,
) -> (Vec<ChatLine>, String) {
    let mut got = Vec::new();
    let mut leave = None;
    let mut end = false;
    while !end || leave.is_none() {
        match within(&format!("{user} reading"), rx.next()).await {
            Ok(Some(Incoming::Event {
                event: ServerEvent::Chat(c),
                ..
            })) => {
                if c.text == "END" {
                    end = true;
                } else {
                    got.push(c);
                    progress.send_replace(got.len());
                }
            }
            Ok(Some(Incoming::Event {
                event: ServerEvent::Notice(n),
                ..
            })) if n.kind == NoticeKind::Leave && n.user == "user3" => {
                leave = Some(n.text);
                on_leave.send_replace(true);
            }
            other => panic!("{user}: unexpected {other:?}"),
        }
    }
    (got, leave.unwrap())
}

fn assert_in_order(user: &str, got: &[ChatLine]) {
    for (i, c) in got.iter().enumerate() {
        assert!(
            c.text == bulk(i),
            "{user}: message {i} is {:?}",
            &c.text[..6]
        );
    }
    assert!(got.windows(2).all(|w| w[0].msg_id < w[1].msg_id), "{user}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_consumer_is_disconnected_without_blocking_anyone() {
    // Up to this many 4 KiB messages; the test stops AFTER_DROP messages after the slow client
    // was dropped (a few hundred in, once the socket buffers towards it are full).
    const MAX: usize = 2_000;
    const AFTER_DROP: usize = 100;
    // The fast readers are kept within this many messages of the sender, so that only a reader
    // that really stopped can overflow a queue of 8 (scheduling alone never does).
    const WINDOW: usize = 4;
    let server = TestServer::start_tweaked(|s| s.queue_len = 8).await;
    let mut sender = server.login("user1").await;
    let mut fast = server.login("user2").await;
    sender.joined("user2").await;
    // Logged in, then never reads; a tiny receive buffer makes the backlog reach the server soon.
    let mut slow = server.raw_small_buffer(4096).await;
    slow.login_ok("user3", server.key("user3")).await;
    sender.joined("user3").await;
    fast.joined("user3").await;

    let Client { mut tx, rx, .. } = sender;
    let (echo_progress, mut echo_seen) = watch::channel(0);
    let (fast_progress, mut fast_seen) = watch::channel(0);
    let (echo_leave_tx, _) = watch::channel(false);
    let (dropped_tx, dropped) = watch::channel(false);
    let echo = tokio::spawn(read_bulk("user1", rx, echo_progress, echo_leave_tx));
    let fast = tokio::spawn(read_bulk("user2", fast.rx, fast_progress, dropped_tx));
    // Once the others are told user3 was dropped, user3 reads what it had been sent.
    let mut slow_dropped = dropped.clone();
    let slow = tokio::spawn(async move {
        within("user3 to be dropped", slow_dropped.wait_for(|&d| d))
            .await
            .expect("leave");
        let mut got = Vec::new();
        loop {
            match slow.next().await {
                Some(Incoming::Event {
                    event: ServerEvent::Chat(c),
                    ..
                }) => got.push(c),
                Some(Incoming::ServerError(e)) => {
                    assert!(slow.next().await.is_none(), "closed after the error");
                    return (got, Some(e));
                }
                None => return (got, None),
                other => panic!("user3: unexpected {other:?}"),
            }
        }
    });

    let start = Instant::now();
    let mut sent = 0;
    let mut dropped_at = None;
    let mut slowest = Duration::ZERO;
    while sent < MAX && dropped_at.is_none_or(|d| sent < d + AFTER_DROP) {
        let step = Instant::now();
        let floor = sent.saturating_sub(WINDOW);
        within("user1's echo", echo_seen.wait_for(|&n| n >= floor))
            .await
            .unwrap();
        within("user2 to keep up", fast_seen.wait_for(|&n| n >= floor))
            .await
            .unwrap();
        within(
            "send (the sender must never block)",
            tx.send(&say(&bulk(sent))),
        )
        .await
        .unwrap();
        sent += 1;
        slowest = slowest.max(step.elapsed());
        if dropped_at.is_none() && *dropped.borrow() {
            dropped_at = Some(sent);
        }
    }
    within("send", tx.send(&say("END"))).await.unwrap();
    let send_time = start.elapsed();
    let (echoed, echo_leave) = within("user1 reader", echo).await.unwrap();
    let (received, fast_leave) = within("user2 reader", fast).await.unwrap();
    let (partial, error) = within("user3 reader", slow).await.unwrap();
    eprintln!(
        "slow consumer: {sent} sends took {send_time:?} (slowest {slowest:?}); user3 was dropped after {dropped_at:?} \
         and had been sent {} of them",
        partial.len()
    );

    assert!(dropped_at.is_some(), "user3 was never dropped");
    // Blocking on user3 would stall a send (and the echo) for the server's 10 s write timeout.
    assert!(
        slowest < Duration::from_secs(2),
        "sender held up for {slowest:?}"
    );
    assert!(
        send_time < Duration::from_secs(30),
        "sender held up: {send_time:?}"
    );
    assert_eq!(echoed.len(), sent);
    assert_eq!(received.len(), sent);
    assert_in_order("user1", &echoed);
    assert_in_order("user2", &received);
    assert_eq!(echo_leave, "disconnected: too slow");
    assert_eq!(fast_leave, "disconnected: too slow");
    assert!(partial.len() < sent);
    assert_in_order("user3", &partial);
    let e = error.expect("user3 is told why");
    assert_eq!(e.reason, Reason::TooSlow, "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_handshake_timeouts() {
    let server = TestServer::start_tweaked(|s| {
        s.idle_timeout = Duration::from_secs(1);
        s.handshake_timeout = Duration::from_secs(1);
    })
    .await;
    // user1 pings more often than the idle timeout (its real heartbeat is 30 s).
    let (tx, rx, _) = server
        .try_login("user1", server.key("user1"), PW)
        .await
        .expect("login");
    let (commands, command_rx) = mpsc::channel(16);
    let mut events = spawn_session(tx, rx, command_rx, 256);
    let pinger = tokio::spawn(async move {
        for _ in 0..10 {
            commands.send(ClientRequest::Ping).await.unwrap();
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        commands
    });

    // A silent logged-in client, and a connection that never logs in.
    let start = Instant::now();
    let mut silent = server.raw_login("user2").await;
    let mut mute = server.raw().await;
    let e = silent.closed_with().await;
    assert_eq!(e.reason, Reason::Idle, "{e:?}");
    let idle_after = start.elapsed();
    let e = mute.error_then_close().await;
    assert_eq!(e.reason, Reason::Timeout, "{e:?}");
    assert!(idle_after >= Duration::from_millis(900), "{idle_after:?}");

    let commands = within("pinger", pinger).await.unwrap();
    commands.send(say("alive after 3 s")).await.unwrap();
    let (mut pongs, mut saw_leave) = (0, false);
    loop {
        match within("session events", events.recv()).await {
            Some(SessionEvent::Incoming(Incoming::Event { event, .. })) => match event {
                ServerEvent::Pong => pongs += 1,
                ServerEvent::Notice(n) if n.kind == NoticeKind::Leave => {
                    assert_eq!(n.user, "user2");
                    saw_leave = true;
                }
                ServerEvent::Chat(c) => {
                    assert_eq!(c.text, "alive after 3 s");
                    break;
                }
                _ => {}
            },
            Some(SessionEvent::Sent { .. }) => {}
            other => panic!("user1's session: {other:?}"),
        }
    }
    assert_eq!(pongs, 10);
    assert!(saw_leave);
    assert!(start.elapsed() >= Duration::from_secs(2));
}

/// Connect without expecting a hello.
async fn bare(server: &TestServer) -> Raw {
    Raw::wrap(
        within("connect", TcpStream::connect(server.addr))
            .await
            .expect("connect"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_limit() {
    let server = TestServer::start_tweaked(|s| s.max_connections = 3).await;
    let mut u1 = server.login("user1").await;
    let u2 = server.login("user2").await;
    u1.joined("user2").await;
    let mut raw3 = server.raw_login("user3").await;
    u1.joined("user3").await;

    let mut fourth = bare(&server).await;
    let e = fourth.error_then_close().await;
    assert_eq!(e.reason, Reason::ServerFull, "{e:?}");

    u1.say("three is company").await;
    assert_eq!(u1.chat().await.text, "three is company");
    assert!(matches!(raw3.event().await, ServerEvent::Chat(c) if c.text == "three is company"));

    // A slot frees up when a session ends.
    u2.logout().await;
    u1.left("user2").await;
    let deadline = Instant::now() + T;
    loop {
        let mut next = bare(&server).await;
        match next.next().await {
            Some(Incoming::ServerError(e)) if e.reason == Reason::ServerFull => {
                assert!(Instant::now() < deadline, "the slot was never freed");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Some(Incoming::Rejected { wire, .. }) if wire.starts_with("1000|") => break,
            other => panic!("{other:?}"),
        }
    }
    // That connection (now closed by us) frees its slot as well; user2 logs in again.
    let deadline = Instant::now() + T;
    let mut u2 = loop {
        match server.try_login("user2", server.key("user2"), PW).await {
            Ok((tx, rx, info)) => break (tx, rx, info),
            Err(e) => {
                assert!(Instant::now() < deadline, "{e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    within("send", u2.0.send(&say("back"))).await.unwrap();
    assert_eq!(u1.notice(NoticeKind::Join).await.user, "user2");
    assert_eq!(u1.chat().await.text, "back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_tells_everyone_and_completes() {
    let mut server = TestServer::start().await;
    let mut clients = Vec::new();
    for u in ["user1", "user2", "user3"] {
        clients.push(server.login(u).await);
    }
    let mut pending = server.raw().await;

    let start = Instant::now();
    server.shutdown().await;
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(4),
        "run() waited for stuck handlers: {took:?}"
    );
    for c in &mut clients {
        let e: ErrorMsg = c.closed_with().await;
        assert_eq!(e.reason, Reason::Shutdown, "{}: {e:?}", c.user);
    }
    let e = pending.error_then_close().await;
    assert_eq!(e.reason, Reason::Shutdown, "{e:?}");
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "still listening"
    );
}
