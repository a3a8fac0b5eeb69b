//! `server --trace` as a lesson shows it (issue 13): each message field by field, its MAC checked
//! and its DES-CBC decrypted with the sender's keys, then sealed again for each recipient with
//! that recipient's keys. Runs the real executables (`realsys/mod.rs`). That every printed
//! character is escaped is `hardening.rs`'s `trace_prints_no_terminal_control_sequence`.

mod realsys;

use realsys::*;

/// `server --trace` shows the envelope at work for each message (issue 13): the sender's frame
/// field by field, its MAC checked with the sender's MAC key, DES-CBC decrypted with the
/// sender's session key and the frame's IV, then the message sealed again for each recipient
/// with that recipient's keys. The text itself appears only with `--show-secrets`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_shows_each_message_decrypted_and_resealed_for_each_recipient() {
    let mut sys = System::start(Setup {
        chat: Launch {
            args: vec!["--trace".into()],
            ..Launch::default()
        },
        ..Setup::default()
    });
    sys.key_steps(&["user1", "user2", "user3"]).await;
    let mut u1 = sys.login("user1").await;
    let mut u2 = sys.login("user2").await;
    let mut u3 = sys.login("user3").await;
    u1.say("the envelope at work").await;
    for u in [&mut u1, &mut u2, &mut u3] {
        u.hears("user1", "the envelope at work").await;
    }
    let chat = sys.chat_proc();
    let resealed_for_all = || {
        let out = String::from_utf8_lossy(&chat.stdout_bytes()).into_owned();
        ["user1", "user2", "user3"].iter().all(|u| {
            out.contains(&format!(
                "from user1 re-sealed for {u}: DES-CBC encrypted with {u}'s session key under a fresh random IV, then MAC with {u}'s MAC key"
            ))
        })
    };
    eventually(
        "the message re-sealed for every recipient in the trace",
        resealed_for_all,
    )
    .await;
    let text = String::from_utf8_lossy(&chat.stdout_bytes()).into_owned();
    let trace: Vec<&str> = text.lines().filter(|l| l.starts_with("[trace ")).collect();
    let at = |what: &str| {
        trace
            .iter()
            .position(|l| l.contains(what))
            .unwrap_or_else(|| panic!("{what:?} missing from the trace:\n{text}"))
    };
    let frame = at("frame from user1, field by field:");
    let mac = at("MAC checked with user1's MAC key: authentic");
    let des =
        at("DES-CBC decrypted with user1's session key and this IV: a chat message to everyone");
    assert!(frame < mac && mac < des, "out of order:\n{text}");
    for label in [
        "    code       0002",
        "    seq        ",
        "    IV         ",
        "    ciphertext ",
        "    MAC        ",
    ] {
        assert!(
            trace[frame..mac].iter().any(|l| l.contains(label)),
            "{label:?} missing:\n{text}"
        );
    }
    assert!(
        trace[frame..mac].iter().any(|l| l.contains("DES blocks)")),
        "{text}"
    );
    for u in ["user2", "user3"] {
        assert!(at(&format!("re-sealed for {u}: DES-CBC")) > des, "{text}");
    }
    assert!(
        text.contains("plaintext: <hidden; add --show-secrets"),
        "{text}"
    );
    assert!(
        !text.contains("the envelope at work"),
        "the text was traced without --show-secrets:\n{text}"
    );
}
