//! Changing one's own password through the real server: an imported user (flagged
//! `must_change_password`) can do nothing but change it at the first login and is not online
//! until then; a logged-in user changes it with the current password; a wrong current password
//! is refused and guessing it costs the connection; the rule for new passwords holds at the
//! server, not only in the client.

#[path = "common/mod.rs"]
mod harness;

use common::client::chat_client::{self, Incoming, PasswordError};
use common::crypto::password::hash_password_with;
use common::protocol::Reason;
use common::protocol::chat::{ClientRequest, NoticeKind, ServerEvent};
use common::protocol::consts::MAX_BAD_FRAMES;
use common::protocol::password::Secret;
use harness::*;
use server::db::{self, LoginCheck};

/// An imported student: username long enough for the "not the username" rule to matter.
const STUDENT: &str = "student01";
const INITIAL: &str = "Kq7-initial";
const NEW: &str = "correct-horse-7";

fn change(old: &str, new: &str) -> ClientRequest {
    ClientRequest::ChangePassword {
        old: Secret::new(old),
        new: Secret::new(new),
    }
}

/// Add [`STUDENT`] as `server user import` does: an initial password and the flag set.
fn import_student(server: &TestServer) {
    let hash = hash_password_with(INITIAL, FAST_ITERATIONS);
    server.store.add_user(STUDENT, &hash, "学生一").unwrap();
    assert!(server.store.set_password(STUDENT, &hash, true).unwrap());
}

fn login_check(server: &TestServer, user: &str, password: &str) -> LoginCheck {
    db::check_login(&*server.store, user, password).unwrap()
}

/// The next event on a bare receiver.
async fn event(rx: &mut chat_client::ChatReceiver) -> ServerEvent {
    match within("an event", rx.next()).await {
        Ok(Some(Incoming::Event { event, .. })) => event,
        other => panic!("expected an event, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_user_must_change_the_password_before_anything_else() {
    let server = TestServer::start().await;
    import_student(&server);
    let mut u2 = server.login("user2").await;

    let (mut tx, mut rx, info) = server
        .try_login(STUDENT, server.key(STUDENT), INITIAL)
        .await
        .expect("the login itself succeeds");
    assert!(info.must_change_password, "{info:?}");
    // Not online yet: nobody sees the student join.
    u2.assert_quiet().await;

    // Chat and the user list are refused with CHANGE_PASSWORD; ping still works.
    for req in [say("hello before changing"), ClientRequest::ListUsers] {
        tx.send(&req).await.unwrap();
        assert_eq!(
            event(&mut rx).await,
            ServerEvent::PasswordResult(Err(Reason::PasswordChangeRequired))
        );
    }
    tx.send(&ClientRequest::Ping).await.unwrap();
    assert_eq!(event(&mut rx).await, ServerEvent::Pong);
    u2.assert_quiet().await;

    // The server applies the rule itself (these requests bypass the client's own check).
    for (new, why) in [
        ("short", Reason::PasswordTooShort),
        (&"x".repeat(129) as &str, Reason::PasswordTooLong),
        ("tab\there-too", Reason::PasswordControlChar),
        ("STUDENT01", Reason::PasswordIsUsername),
        (INITIAL, Reason::PasswordUnchanged),
    ] {
        tx.send(&change(INITIAL, new)).await.unwrap();
        assert_eq!(
            event(&mut rx).await,
            ServerEvent::PasswordResult(Err(why)),
            "{new}"
        );
    }
    // A wrong current password is refused and changes nothing.
    tx.send(&change("not-the-password", NEW)).await.unwrap();
    assert_eq!(
        event(&mut rx).await,
        ServerEvent::PasswordResult(Err(Reason::WrongPassword))
    );
    assert!(matches!(
        login_check(&server, STUDENT, INITIAL),
        LoginCheck::Ok {
            must_change: true,
            ..
        }
    ));

    // The client library checks locally first: nothing weak leaves the PC.
    let local = chat_client::change_password(&mut tx, &mut rx, STUDENT, INITIAL, "short", T).await;
    assert_eq!(local, Err(PasswordError::Refused(Reason::PasswordTooShort)));

    chat_client::change_password(&mut tx, &mut rx, STUDENT, INITIAL, NEW, T)
        .await
        .expect("the change succeeds");
    // Now online: the user list follows, and user2 sees the join.
    let mut s = Client::after_login(STUDENT, tx, rx, info).await;
    assert!(
        s.online.iter().any(|u| u.username == STUDENT),
        "{:?}",
        s.online
    );
    let joined = u2.notice(NoticeKind::Join).await;
    assert_eq!(
        (joined.user.as_str(), joined.nick.as_str()),
        (STUDENT, "学生一")
    );
    s.say("my own password now").await;
    assert_eq!(s.chat().await.text, "my own password now");
    assert_eq!(u2.chat().await.text, "my own password now");

    // Stored: the flag is cleared and only the new password works.
    assert!(matches!(
        login_check(&server, STUDENT, NEW),
        LoginCheck::Ok {
            must_change: false,
            ..
        }
    ));
    assert_eq!(login_check(&server, STUDENT, INITIAL), LoginCheck::Bad);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logged_in_user_changes_the_password_with_the_current_one() {
    let server = TestServer::start().await;
    let mut u1 = server.login("user1").await;
    assert!(!u1.info.must_change_password);

    u1.send(&change("111112", NEW)).await;
    assert_eq!(
        u1.event().await,
        ServerEvent::PasswordResult(Err(Reason::WrongPassword))
    );
    assert!(matches!(
        login_check(&server, "user1", PW),
        LoginCheck::Ok { .. }
    ));

    u1.send(&change(PW, NEW)).await;
    assert_eq!(u1.event().await, ServerEvent::PasswordResult(Ok(())));
    assert_eq!(login_check(&server, "user1", PW), LoginCheck::Bad);
    assert!(matches!(
        login_check(&server, "user1", NEW),
        LoginCheck::Ok { .. }
    ));

    // The session goes on.
    u1.say("still here").await;
    assert_eq!(u1.chat().await.text, "still here");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_the_current_password_costs_the_connection() {
    let server = TestServer::start().await;
    let mut u1 = server.login("user1").await;
    for i in 1..MAX_BAD_FRAMES {
        u1.send(&change(&format!("guess-{i}"), NEW)).await;
        assert_eq!(
            u1.event().await,
            ServerEvent::PasswordResult(Err(Reason::WrongPassword))
        );
    }
    u1.send(&change("guess-last", NEW)).await;
    assert_eq!(u1.closed_with().await.reason, Reason::TooManyErrors);
    assert!(matches!(
        login_check(&server, "user1", PW),
        LoginCheck::Ok { .. }
    ));

    // Before the first change too.
    import_student(&server);
    let (mut tx, mut rx, _) = server
        .try_login(STUDENT, server.key(STUDENT), INITIAL)
        .await
        .unwrap();
    for i in 1..=MAX_BAD_FRAMES {
        tx.send(&change(&format!("guess-{i}"), NEW)).await.unwrap();
    }
    let mut refusals = 0;
    let end = loop {
        match within("the close", rx.next()).await {
            Ok(Some(Incoming::Event {
                event: ServerEvent::PasswordResult(Err(Reason::WrongPassword)),
                ..
            })) => refusals += 1,
            Ok(Some(Incoming::ServerError(e))) => break e,
            other => panic!("expected refusals then a close, got {other:?}"),
        }
    };
    assert_eq!(refusals, MAX_BAD_FRAMES - 1);
    assert_eq!(end.reason, Reason::TooManyErrors);
}
