//! Issue 15 on the REAL executables: nothing acknowledged is lost when the chat server is killed
//! (SIGKILL: what `1008 STORED` covered survives) or stopped (SIGINT: everything accepted is
//! written before the process exits), and a private message to an offline user survives both.
//! The storage key is the server's own `history_key.txt` (mode 0600), beside its server.toml.

mod realsys;

use std::os::unix::process::ExitStatusExt;

use common::client::chat_client::{Incoming, SessionEvent};
use common::protocol::chat::{ChatLine, ClientRequest, ServerEvent};
use common::protocol::history::HistorySource;
use realsys::*;

/// The next authenticated event (skipping `Sent` records).
async fn event(c: &mut Chatter) -> ServerEvent {
    loop {
        match c.next().await {
            SessionEvent::Sent { .. } => {}
            SessionEvent::Incoming(Incoming::Event { event, .. }) => return event,
            other => panic!("{}: unexpected {other:?}", c.user),
        }
    }
}

/// Log in and read the login's history.
async fn join(sys: &System, user: &str) -> (Chatter, Vec<ChatLine>) {
    let mut c = sys.login(user).await;
    let mut lines = Vec::new();
    loop {
        match event(&mut c).await {
            ServerEvent::History(page) => {
                assert_eq!(page.source, HistorySource::Login);
                lines.extend(page.lines);
                if !page.more {
                    return (c, lines);
                }
            }
            ServerEvent::UserList(_) | ServerEvent::Notice(_) => {}
            other => panic!("{user}: expected the login history, got {other:?}"),
        }
    }
}

/// Send `n` messages (to `to`) and return their ids once echoed; with `acked`, also wait for
/// `1008 STORED` to cover them.
async fn send(c: &mut Chatter, to: Option<&str>, tag: &str, n: usize, acked: bool) -> Vec<u64> {
    for i in 0..n {
        c.send(ClientRequest::Chat {
            to: to.map(str::to_owned),
            text: format!("{tag} {i}"),
        })
        .await;
    }
    let mut ids = Vec::new();
    let mut stored = 0;
    while ids.len() < n || (acked && stored < *ids.last().unwrap_or(&u64::MAX)) {
        match event(c).await {
            ServerEvent::Chat(l) if l.from_user == c.user => ids.push(l.msg_id),
            ServerEvent::Stored { upto } => stored = stored.max(upto),
            _ => {}
        }
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_or_stopped_server_loses_nothing_acknowledged() {
    let mut sys = System::start(Setup::default());
    sys.key_steps(&["user1", "user2", "user3"]).await;
    let key_file = sys.dir.path().join("history_key.txt");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the storage key is private");
    }

    // SIGKILL: what 1008 acknowledged is there after the restart.
    let (mut u1, _) = join(&sys, "user1").await;
    let mut public = send(&mut u1, None, "before the crash", 30, true).await;
    let held = send(&mut u1, Some("user3"), "for user3, offline", 1, true).await;
    let status = sys.chat_proc().kill();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    sys.chat = None;
    sys.start_chat();
    let (mut u1, seen) = join(&sys, "user1").await;
    assert_eq!(
        seen.iter().map(|l| l.msg_id).collect::<Vec<_>>(),
        public,
        "every acknowledged public message, in order"
    );

    // SIGINT: everything echoed is written at shutdown, acknowledged or not yet.
    public.extend(send(&mut u1, None, "before the stop", 20, false).await);
    let status = sys.chat_proc().interrupt().await;
    assert!(status.success(), "{status}");
    sys.chat = None;
    sys.start_chat();
    let (_u2, seen) = join(&sys, "user2").await;
    assert_eq!(seen.iter().map(|l| l.msg_id).collect::<Vec<_>>(), public);
    assert!(seen.iter().all(|l| l.to.is_none()));
    let (_u3, seen) = join(&sys, "user3").await;
    let private: Vec<_> = seen.iter().filter(|l| l.to.is_some()).collect();
    assert_eq!(
        private.len(),
        1,
        "the held message, once, after two restarts"
    );
    assert_eq!(private[0].msg_id, held[0]);
    assert_eq!(private[0].text, "for user3, offline 0");
}
