//! Expiry you can show (issue 13): with `session_ttl = "1m"` in server_key.toml, a session that
//! is logged in when its key expires is ended by the chat server with `1009 KEY_EXPIRED` within a
//! few seconds, and the real client's terminal mode says so in the student's language (with the
//! command that gets a new key) and exits with status 2. Runs the real executables
//! (`realsys/mod.rs`); it lasts a little over the key's minute.

mod realsys;

use std::time::Duration;

use common::client::texts::{Ctx, reason_text};
use common::config::Language;
use common::protocol::Reason;
use realsys::*;

/// The revocation check runs every 2 s; the rest is scheduling slack on a loaded CI machine.
const ENDED_WITHIN: Duration = Duration::from_secs(6);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_whose_key_expires_is_closed_with_key_expired() {
    let mut sys = System::start(Setup {
        key_config: "session_ttl = \"1m\"\n".into(),
        ..Setup::default()
    });
    sys.key_steps(&["user1"]).await;
    let expires_at = folder_key(&sys.folder("user1")).expires_at;
    let lifetime = expires_at - time::OffsetDateTime::now_utc();
    assert!(
        lifetime > time::Duration::seconds(50) && lifetime <= time::Duration::seconds(60),
        "session_ttl = \"1m\" gave a key valid for {lifetime}"
    );

    let mut client = Cli::start(&sys, "user1", sys.chat_port, "zh");
    client.line_with("已登录").await;
    client.type_line("还没过期");
    client.line_with("还没过期").await;
    let wait = Duration::try_from(lifetime).unwrap_or_default() + ENDED_WITHIN;
    let (status, lines) = client.exited_within(wait).await;
    let ended = time::OffsetDateTime::now_utc();
    let out = lines.join("\n");

    assert!(
        ended >= expires_at,
        "the session ended before its key expired ({ended} < {expires_at}):\n{out}"
    );
    let text = reason_text(
        &Reason::KeyExpired,
        "",
        Ctx::terminal(Language::Zh, "client_wy"),
    );
    assert!(out.contains(&text), "{text:?} missing from:\n{out}");
    assert!(out.contains("client_wy key"), "{out}");
    assert_eq!(status.code(), Some(2), "{out}");
    let log = sys.chat_proc().output();
    assert!(log.contains("KEY_EXPIRED"), "server log:\n{log}");
    sys.assert_chat_alive();
}
