//! The lab's attacker (`attack_lab`, issue 13), run as the real executable between real clients
//! (the client library) and the real servers: each attack it offers is refused by the victim the
//! way the other attack tests expect, and attack_lab prints what it did in Chinese and English.

mod realsys;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::client::chat_client::{CloseReason, Incoming, SessionEvent};
use common::client::folder::ClientFolder;
use common::client::key_client::KeyStepError;
use common::protocol::Reason;
use common::protocol::chat::{NoticeKind, ServerEvent};
use realsys::*;

/// A running `attack_lab` and everything it printed so far.
struct AttackLab {
    child: Child,
    stdin: ChildStdin,
    port: u16,
    printed: Arc<Mutex<String>>,
}

impl AttackLab {
    /// `attack_lab --listen 127.0.0.1:0 --to 127.0.0.1:<to> ARGS`, once it listens.
    async fn start(to: u16, args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_attack_lab"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--to",
                &format!("127.0.0.1:{to}"),
            ])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start attack_lab");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let printed = Arc::new(Mutex::new(String::new()));
        let sink = printed.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                eprintln!("attack_lab| {line}");
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let mut lab = Self {
            child,
            stdin,
            port: 0,
            printed,
        };
        let line = lab.line_with("listening on 127.0.0.1:").await;
        let port = line
            .rsplit("listening on 127.0.0.1:")
            .next()
            .and_then(|s| s.split(',').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        lab.port = port;
        lab
    }

    /// The first printed line containing `text` (waits for it).
    async fn line_with(&self, text: &str) -> String {
        within(&format!("attack_lab to print {text:?}"), async {
            loop {
                if let Some(l) = self
                    .printed
                    .lock()
                    .unwrap()
                    .lines()
                    .find(|l| l.contains(text))
                {
                    return l.to_owned();
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
    }

    /// Type a command.
    fn command(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write to attack_lab");
    }

    fn printed(&self) -> String {
        self.printed.lock().unwrap().clone()
    }
}

impl Drop for AttackLab {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `folder` with its key port (or chat port) pointing at `lab`.
fn via(folder: &ClientFolder, lab: &AttackLab, key: bool) -> ClientFolder {
    let mut f = folder.clone();
    if key {
        f.config.key_port = lab.port;
    } else {
        f.config.chat_port = lab.port;
    }
    f
}

/// The attack lines printed: one line, Chinese then English, with the given parts.
fn assert_said(line: &str, zh: &str, en: &str) {
    assert!(line.starts_with("[attack_lab] "), "{line}");
    let (z, e) = line.split_once(" / ").expect("zh / en");
    assert!(z.contains(zh) && e.contains(en), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_step_attacks_are_refused() {
    let sys = System::start(Setup::default());
    sys.key_steps(&["user1"]).await;
    let f1 = sys.folder("user1");
    let stored = std::fs::read(f1.session_key_path()).unwrap();

    // A bit of the envelope flipped on the way: the signature over it no longer verifies.
    let record = sys.dir.path().join("frames.txt");
    let lab = AttackLab::start(
        sys.key_port,
        &["--flip", "1101", "--record", record.to_str().unwrap()],
    )
    .await;
    let err = sys.try_key_step(&via(&f1, &lab, true)).await.unwrap_err();
    assert!(matches!(err, KeyStepError::BadSignature { .. }), "{err:?}");
    let line = lab.line_with("已翻转").await;
    assert_said(
        &line,
        "已翻转 1101 帧第 5 字段的第 ",
        "of field 5 of a 1101 frame",
    );
    assert!(line.contains("flipped bit "), "{line}");
    // The frames went by, printed with their direction.
    let printed = lab.printed();
    for seen in [
        "客户端→服务器 / client→server 0101",
        "服务器→客户端 / server→client 1101",
    ] {
        assert!(printed.contains(seen), "{seen:?} missing:\n{printed}");
    }
    // --record saved each whole frame: connection, direction, payload.
    let saved = std::fs::read_to_string(&record).unwrap();
    let starts: Vec<&str> = saved.lines().map(|l| &l[..l.len().min(10)]).collect();
    assert_eq!(
        starts,
        ["1 S>C 1100", "1 C>S 0101", "1 S>C 1101"],
        "{saved}"
    );
    drop(lab);

    // One bit of the sealed session material, chosen by field and bit: the same refusal.
    let lab = AttackLab::start(sys.key_port, &["--flip", "1101:4:17"]).await;
    let err = sys.try_key_step(&via(&f1, &lab, true)).await.unwrap_err();
    assert!(matches!(err, KeyStepError::BadSignature { .. }), "{err:?}");
    assert_said(
        &lab.line_with("已翻转").await,
        "已翻转 1101 帧第 4 字段的第 17 位",
        "flipped bit 17 of field 4 of a 1101 frame",
    );
    // The altered frame is shown under the original: the same but for one character of field 4.
    let sent = lab.line_with("改动后 / sent instead: 1101|").await;
    let original = lab.line_with("服务器→客户端 / server→client 1101").await;
    let field4 = |l: &str| l.split('|').nth(5).unwrap().to_owned();
    assert_ne!(field4(&sent), field4(&original), "{sent}\n{original}");
    assert_eq!(field4(&sent).len(), field4(&original).len());
    drop(lab);

    // The server key substituted, against a folder that pinned the real one.
    let lab = AttackLab::start(sys.key_port, &["--substitute-server-key"]).await;
    let made = lab.line_with("made the attacker's RSA key").await;
    let attacker = made.rsplit(' ').next().unwrap().to_owned();
    let err = sys.try_key_step(&via(&f1, &lab, true)).await.unwrap_err();
    match &err {
        KeyStepError::ServerKeyMismatch { got, .. } => assert_eq!(got, &attacker),
        other => panic!("{other:?}"),
    }
    assert_said(
        &lab.line_with("已把 1100").await,
        &format!("换成攻击者的公钥 {attacker}"),
        &format!("with the attacker's key {attacker}"),
    );
    drop(lab);

    // Against a folder with no pin (first use), the request the client signs names the
    // attacker's key, so the real server refuses it.
    let mut lab = AttackLab::start(sys.key_port, &[]).await;
    lab.command("substitute-server-key");
    lab.line_with("armed: substitute the server key").await;
    let f2 = sys.folder("user2");
    let err = sys.try_key_step(&via(&f2, &lab, true)).await.unwrap_err();
    match &err {
        KeyStepError::Refused { reason, .. } => assert_eq!(*reason, Reason::BadSignature),
        other => panic!("{other:?}"),
    }
    assert!(
        !f2.server_key_path().exists(),
        "the attacker's key was pinned"
    );
    lab.line_with("已把 1100").await;

    // Nothing of this touched user1's key.
    assert_eq!(std::fs::read(f1.session_key_path()).unwrap(), stored);
    sys.key_steps(&["user1"]).await;
}

/// Skip `Sent` records and every event that is neither a chat line nor a notice (user lists,
/// "stored" acknowledgements); return the next thing that matters.
async fn next_interesting(c: &mut Chatter) -> SessionEvent {
    loop {
        match c.next().await {
            SessionEvent::Sent { .. } => {}
            SessionEvent::Incoming(Incoming::Event { event, .. })
                if !matches!(event, ServerEvent::Chat(_) | ServerEvent::Notice(_)) => {}
            other => return other,
        }
    }
}

/// The next chat line (sender, text), skipping everything that is not a chat line.
async fn next_chat(c: &mut Chatter) -> (String, String) {
    loop {
        if let SessionEvent::Incoming(Incoming::Event {
            event: ServerEvent::Chat(line),
            ..
        }) = next_interesting(c).await
        {
            return (line.from_user, line.text);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_attacks_are_refused() {
    let mut sys = System::start(Setup::default());
    sys.key_steps(&["user1", "user2"]).await;
    let mut u2 = sys.login("user2").await;
    let f1 = sys.folder("user1");

    // A dropped 0002: the server notices at the next frame (FRAME_LOST) and ends the session.
    let lab = AttackLab::start(sys.chat_port, &["--drop", "0002"]).await;
    let mut u1 = sys.login_from(&via(&f1, &lab, false)).await;
    u2.notice(NoticeKind::Join, "user1").await;
    u1.say("在路上被删掉").await;
    u1.say("第二条").await;
    let (err, _) = u1.closed().await;
    assert_eq!(err.map(|e| e.reason), Some(Reason::FrameLost));
    assert_said(
        &lab.line_with("已丢弃").await,
        "已丢弃一个 0002 帧",
        "dropped a 0002 frame",
    );
    u2.notice(NoticeKind::Leave, "user1").await;
    drop(lab);

    // A replayed 0002 (typed after the message went by): refused as a replay, relayed once.
    let mut lab = AttackLab::start(sys.chat_port, &[]).await;
    let mut u1 = sys.login_from(&via(&f1, &lab, false)).await;
    u2.notice(NoticeKind::Join, "user1").await;
    u1.say("只说一次").await;
    u1.hears("user1", "只说一次").await;
    u2.hears("user1", "只说一次").await;
    lab.command("replay 0002");
    assert_said(
        &lab.line_with("已重放").await,
        "已重放一个 0002 帧",
        "replayed a 0002 frame",
    );
    match next_interesting(&mut u1).await {
        SessionEvent::Incoming(Incoming::Event {
            event: ServerEvent::Notice(n),
            ..
        }) if n.kind == NoticeKind::Warn => assert!(n.text.contains("replayed"), "{n:?}"),
        other => panic!("expected a WARN about the replay, got {other:?}"),
    }
    // Neither side gets a second copy: the next chat line each receives is the next message.
    u1.say("之后").await;
    assert_eq!(next_chat(&mut u1).await, ("user1".into(), "之后".into()));
    assert_eq!(next_chat(&mut u2).await, ("user1".into(), "之后".into()));
    drop(u1);
    u2.notice(NoticeKind::Leave, "user1").await;
    drop(lab);

    // A bit flipped in a 1002 on its way to user1: its MAC fails (rejected), and the next one
    // shows the loss: the client ends the session.
    let lab = AttackLab::start(sys.chat_port, &["--flip", "1002"]).await;
    let mut u1 = sys.login_from(&via(&f1, &lab, false)).await;
    u2.notice(NoticeKind::Join, "user1").await;
    u2.say("被改了一位").await;
    match next_interesting(&mut u1).await {
        SessionEvent::Incoming(Incoming::Rejected { why, .. }) => {
            assert!(why.contains("MAC"), "{why}");
        }
        other => panic!("expected the altered 1002 to be rejected, got {other:?}"),
    }
    assert_said(
        &lab.line_with("已翻转").await,
        "已翻转 1002 帧第 2 字段",
        "of field 2 of a 1002 frame",
    );
    u2.say("下一条").await;
    match next_interesting(&mut u1).await {
        SessionEvent::Closed {
            reason: CloseReason::FrameLost { .. },
        } => {}
        other => panic!("expected the session to end with a lost frame, got {other:?}"),
    }
    sys.assert_chat_alive();
}
