//! `--trace` as a lesson shows it (issue 13): the chat server shows each message field by field,
//! its MAC checked and its DES-CBC decrypted with the sender's keys, then sealed again for each
//! recipient with that recipient's keys; with `--show-secrets` both ends of the key step show the
//! envelope's one-time key `k`. Runs the real executables (`realsys/mod.rs`). That every printed
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

/// `--show-secrets` shows the digital envelope's one-time DES key `k` on both sides (issue 13):
/// server_key says where it came from (drawn for this envelope), the client's key step that it
/// unwrapped it with its private key; the two are the same 8 bytes, and not the session key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_secrets_shows_the_one_time_key_on_both_sides() {
    let mut sys = System::start(Setup {
        key: Launch {
            args: vec!["--trace".into(), "--show-secrets".into()],
            ..Launch::default()
        },
        ..Setup::default()
    });
    let folder = sys.folder("user1");
    let toml = folder.dir.join("client.toml");
    std::fs::write(
        &toml,
        format!(
            "server_host = \"127.0.0.1\"\nchat_port = {}\nkey_port = {}\nusername = \"user1\"\nlanguage = \"en\"\n",
            sys.chat_port, sys.key_port
        ),
    )
    .expect("client.toml");
    let out = std::process::Command::new(client_exe())
        .args(["key", "--config"])
        .arg(&toml)
        .args(["--trace", "--show-secrets"])
        .output()
        .expect("run client_wy key");
    let client = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{client}");
    // `LABEL: VALUE   (secret, shown because of --show-secrets)`.
    let value = |text: &str, label: &str| {
        let line = text
            .lines()
            .find(|l| l.contains(label))
            .unwrap_or_else(|| panic!("{label:?} missing from:\n{text}"));
        let v = line.split(": ").nth(1).unwrap_or_default();
        v.split_whitespace().next().unwrap_or_default().to_owned()
    };
    let k_client = value(
        &client,
        "one-time key k (RSA-OAEP-decrypted from the envelope's wrapped key)",
    );
    let wk_client = value(&client, "DES working key wk");
    let key_server = sys.key_proc();
    eventually("server_key's trace of the envelope", || {
        key_server.output().contains("one-time key k (fresh")
    })
    .await;
    let server = key_server.output();
    let k_server = value(
        &server,
        "one-time key k (fresh from the CSPRNG for this envelope only)",
    );
    assert_eq!(k_client.len(), 16, "8 bytes in hex: {client}");
    assert_eq!(k_client, k_server, "client:\n{client}\nserver:\n{server}");
    assert_ne!(k_client, wk_client, "k is not the session's DES key");
}
