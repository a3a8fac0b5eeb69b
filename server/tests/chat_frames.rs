//! Hostile and broken frames against the real server, on raw connections whose sealed channel
//! the test controls: tampered, forged, replayed, moved and reflected frames, a replayed login,
//! a client killed in the middle of a frame, oversize, empty and unknown frames. Other users keep
//! chatting throughout.

#[path = "common/mod.rs"]
mod harness;

use std::sync::Arc;

use common::client::chat_client::Incoming;
use common::protocol::Reason;
use common::protocol::chat::{ClientRequest, NoticeKind, ServerEvent};
use common::protocol::consts::{MAX_BAD_FRAMES, code};
use common::protocol::sealed::Channel;
use harness::*;

/// user1 and user2 through the library, user3 raw; join notices absorbed.
async fn two_and_raw(server: &TestServer) -> (Client, Client, Raw) {
    let mut u1 = server.login("user1").await;
    let mut u2 = server.login("user2").await;
    u1.joined("user2").await;
    let raw = server.raw_login("user3").await;
    u1.joined("user3").await;
    u2.joined("user3").await;
    (u1, u2, raw)
}

/// The next thing `raw` receives is a WARN notice about a rejected frame; returns its text.
async fn expect_rejected(raw: &mut Raw) -> String {
    let n = raw.notice(NoticeKind::Warn).await;
    assert!(n.text.contains("rejected a frame"), "{n:?}");
    n.text
}

/// `c` receives exactly this chat message next.
async fn hears(c: &mut Client, from: &str, text: &str) {
    let line = c.chat().await;
    assert_eq!(
        (line.from_user.as_str(), line.text.as_str()),
        (from, text),
        "{}",
        c.user
    );
}

/// `raw` receives exactly this chat message next.
async fn raw_hears(raw: &mut Raw, from: &str, text: &str) {
    match raw.event().await {
        ServerEvent::Chat(c) => assert_eq!((c.from_user.as_str(), c.text.as_str()), (from, text)),
        other => panic!("raw: expected {text:?}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_and_forged_frames_are_dropped_then_the_connection_is_closed() {
    let server = TestServer::start().await;
    let (mut u1, mut u2, mut raw) = two_and_raw(&server).await;

    let parts = [Part::Ct, Part::Iv, Part::Mac, Part::Seq];
    assert_eq!(parts.len() as u32, MAX_BAD_FRAMES - 1);
    for part in parts {
        let good = raw.seal(&say(&format!("intact {part:?}")));
        raw.send_text(&flip_bit(&good, part)).await;
        let why = expect_rejected(&mut raw).await;
        assert!(why.contains("MAC"), "{part:?}: {why}");
        // The others keep chatting and never see the tampered copy.
        let text = format!("meanwhile {part:?}");
        u2.say(&text).await;
        hears(&mut u1, "user2", &text).await;
        hears(&mut u2, "user2", &text).await;
        raw_hears(&mut raw, "user2", &text).await;
        // The tampered copy did not count as received (PROTOCOL.md §6.3): the intact frame,
        // with the same sequence number, is still the one the server expects.
        raw.send_text(&good).await;
        let text = format!("intact {part:?}");
        hears(&mut u1, "user3", &text).await;
        hears(&mut u2, "user3", &text).await;
        raw_hears(&mut raw, "user3", &text).await;
    }

    // The fifth bad frame, forged with a key the server does not hold, closes the connection.
    let mut forger = Channel::client(Arc::new(new_key("user3")), &raw.nonce);
    let forged = forger.seal_msg(&say("forged")).unwrap();
    raw.send_text(&forged).await;
    let e = raw.error_then_close().await;
    assert_eq!(e.reason, Reason::TooManyErrors, "{e:?}");
    assert!(e.message.contains(&MAX_BAD_FRAMES.to_string()), "{e:?}");
    assert_eq!(u1.left("user3").await, "");
    assert_eq!(u2.left("user3").await, "");
    u1.say("still fine").await;
    hears(&mut u2, "user1", "still fine").await;
    hears(&mut u1, "user1", "still fine").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_frame_is_relayed_once() {
    let server = TestServer::start().await;
    let (mut u1, mut u2, mut raw) = two_and_raw(&server).await;

    let frame = raw.send_req(&say("only once")).await;
    raw.send_text(&frame).await;
    // The sender sees its echo and a warning about the replay (in either order).
    let (mut echo, mut warn) = (0, 0);
    for _ in 0..2 {
        match raw.event().await {
            ServerEvent::Chat(c) if c.text == "only once" => echo += 1,
            ServerEvent::Notice(n) if n.kind == NoticeKind::Warn => {
                assert!(n.text.contains("replayed"), "{n:?}");
                warn += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((echo, warn), (1, 1));
    // Everybody else got "only once" exactly once.
    for c in [&mut u1, &mut u2] {
        hears(c, "user3", "only once").await;
    }
    // A newer frame that overtakes an older one looks exactly like a lost frame (PROTOCOL.md
    // §6.3): the session ends, and neither text reaches anyone.
    let _older = raw.seal(&say("older"));
    raw.send_req(&say("newer")).await;
    let e = raw.error_then_close().await;
    assert_eq!(e.reason, Reason::FrameLost, "{e:?}");
    for c in [&mut u1, &mut u2] {
        assert_eq!(c.left("user3").await, "");
    }
    u2.say("sentinel").await;
    hears(&mut u1, "user2", "sentinel").await;
    hears(&mut u2, "user2", "sentinel").await;
}

/// A frame deleted on the way, or altered so that it fails its MAC (which the server answers
/// with a WARN), is noticed at the next authentic frame: `1009 FRAME_LOST` and the connection
/// closes; the others see the user leave and never receive either text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_or_altered_frame_ends_the_session_at_the_next_one() {
    let server = TestServer::start().await;
    let (mut u1, mut u2, mut raw) = two_and_raw(&server).await;

    let _deleted = raw.seal(&say("deleted on the way"));
    raw.send_req(&say("after the deleted one")).await;
    let e = raw.error_then_close().await;
    assert_eq!(e.reason, Reason::FrameLost, "{e:?}");
    for c in [&mut u1, &mut u2] {
        assert_eq!(c.left("user3").await, "");
    }

    let mut raw = server.raw_login("user3").await;
    u1.joined("user3").await;
    u2.joined("user3").await;
    let altered = raw.seal(&say("altered on the way"));
    raw.send_text(&flip_bit(&altered, Part::Ct)).await;
    assert!(expect_rejected(&mut raw).await.contains("MAC"));
    raw.send_req(&say("after the altered one")).await;
    let e = raw.error_then_close().await;
    assert_eq!(e.reason, Reason::FrameLost, "{e:?}");
    for c in [&mut u1, &mut u2] {
        assert_eq!(c.left("user3").await, "");
    }
    // Nobody heard any of it: the next chat line each gets is this one.
    u1.say("sentinel").await;
    hears(&mut u1, "user1", "sentinel").await;
    hears(&mut u2, "user1", "sentinel").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_login_on_a_new_connection_is_refused() {
    let server = TestServer::start().await;
    let mut u1 = server.login("user1").await;
    let mut first = server.raw_login("user3").await;
    u1.joined("user3").await;
    let captured = first.login_frame.clone().unwrap();

    let mut replay = server.raw().await;
    replay.send_text(&captured).await;
    let e = replay.error_then_close().await;
    assert_eq!(e.reason, Reason::KeyMismatch, "{e:?}");

    // The genuine session is untouched.
    first.send_req(&say("still me")).await;
    raw_hears(&mut first, "user3", "still me").await;
    hears(&mut u1, "user3", "still me").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_moved_or_reflected_between_connections_are_rejected() {
    let server = TestServer::start().await;
    let mut u1 = server.login("user1").await;
    let mut raw2 = server.raw_login("user2").await;
    u1.joined("user2").await;
    let mut raw3 = server.raw_login("user3").await;
    u1.joined("user3").await;
    assert!(matches!(raw2.notice(NoticeKind::Join).await, n if n.user == "user3"));

    // A frame user2 sealed, sent on user3's connection.
    let moved = raw2.seal(&say("moved from user2"));
    raw3.send_text(&moved).await;
    assert!(expect_rejected(&mut raw3).await.contains("MAC"));

    // A frame the server sent user3, sent back to the server by user3.
    u1.say("reflect me").await;
    hears(&mut u1, "user1", "reflect me").await;
    let wire = match raw3.next().await {
        Some(Incoming::Event {
            event: ServerEvent::Chat(_),
            wire,
        }) => wire,
        other => panic!("{other:?}"),
    };
    raw3.send_text(&wire).await;
    expect_rejected(&mut raw3).await;

    // user2's own copy of its frame is still good on its own connection (nothing was consumed).
    raw2.send_text(&moved).await;
    for _ in 0..2 {
        match raw2.event().await {
            ServerEvent::Chat(c) => assert!(c.text == "reflect me" || c.text == "moved from user2"),
            other => panic!("{other:?}"),
        }
    }
    hears(&mut u1, "user2", "moved from user2").await;
    raw_hears(&mut raw3, "user2", "moved from user2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_killed_mid_frame() {
    let server = TestServer::start().await;
    let (mut u1, mut u2, mut raw) = two_and_raw(&server).await;
    raw.send_bytes(&100u32.to_be_bytes()).await;
    raw.send_bytes(&[b'x'; 10]).await;
    drop(raw);

    assert_eq!(u1.left("user3").await, "");
    assert_eq!(u2.left("user3").await, "");
    u1.say("after the crash").await;
    hears(&mut u1, "user1", "after the crash").await;
    hears(&mut u2, "user1", "after the crash").await;
    // The user can come straight back.
    let mut again = server.raw_login("user3").await;
    u1.joined("user3").await;
    again.send_req(&ClientRequest::Ping).await;
    assert_eq!(again.event().await, ServerEvent::Pong);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_frames_close_the_connection() {
    let server = TestServer::start().await;
    let (mut u1, mut u2, mut raw) = two_and_raw(&server).await;
    // Only the header: the server must refuse before reading (or allocating) the body.
    raw.send_bytes(&(1u32 << 20).to_be_bytes()).await;
    let e = raw.error_then_close().await;
    assert_eq!(e.reason, Reason::TooLong, "{e:?}");
    assert!(e.message.contains("1048576"), "{e:?}");
    u1.left("user3").await;
    u2.left("user3").await;

    // Before login, too.
    let mut fresh = server.raw().await;
    fresh.send_bytes(&u32::MAX.to_be_bytes()).await;
    let e = fresh.error_then_close().await;
    assert_eq!(e.reason, Reason::TooLong, "{e:?}");

    u2.say("unaffected").await;
    hears(&mut u1, "user2", "unaffected").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_malformed_frames_after_login_are_warned_about() {
    let server = TestServer::start().await;
    let (mut u1, _u2, mut raw) = two_and_raw(&server).await;

    raw.send_text("9999|whatever").await;
    let why = expect_rejected(&mut raw).await;
    assert!(why.contains("unknown message code"), "{why}");
    raw.send_bytes(&[0, 0, 0, 3, 0xff, 0xfe, b'|']).await;
    expect_rejected(&mut raw).await;
    raw.send_text("0002|1|2").await;
    expect_rejected(&mut raw).await;
    // A sealed request with a server code.
    let pong_code = raw
        .send
        .as_mut()
        .unwrap()
        .seal_text(code::CHAT_MESSAGE, &[], "1|2|3|4|5|6");
    raw.send_text(&pong_code).await;
    expect_rejected(&mut raw).await;

    // The connection continues.
    raw.send_req(&ClientRequest::Ping).await;
    assert_eq!(raw.event().await, ServerEvent::Pong);
    raw.send_req(&say("still here")).await;
    hears(&mut u1, "user3", "still here").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_frame_after_login_is_an_error() {
    let server = TestServer::start().await;
    let (mut u1, mut u2, mut raw) = two_and_raw(&server).await;
    raw.send_bytes(&[0, 0, 0, 0]).await;
    let e = raw.error_then_close().await;
    assert_eq!(e.reason, Reason::BadFrame, "{e:?}");
    assert!(e.message.contains("empty"), "{e:?}");
    u1.left("user3").await;
    u2.left("user3").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_before_login_is_refused() {
    let server = TestServer::start().await;
    let mut u1 = server.login("user1").await;
    for bad in [
        &b"hello"[..],
        b"",
        b"0002|0|AAAAAAAAAAA=|AAAAAAAAAAA=|AAAA",
        b"0001|dXNlcjE=|not-a-key-id|0|a|b|c",
        b"0001|dXNlcjE=",
        b"\xff\xfe",
    ] {
        let mut raw = server.raw().await;
        let mut frame = (bad.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(bad);
        raw.send_bytes(&frame).await;
        let e = raw.error_then_close().await;
        assert_eq!(
            e.reason,
            Reason::BadFrame,
            "{:?}: {e:?}",
            String::from_utf8_lossy(bad)
        );
    }
    u1.say("unaffected").await;
    hears(&mut u1, "user1", "unaffected").await;
}
