//! The real `server_key` executable: startup output, serving a key step, `clients list`,
//! `clients register` and `clients revoke`.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use support::*;

const EXE: &str = env!("CARGO_BIN_EXE_server_key");

/// Kills the server when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn cli(config: &Path, args: &[&str]) -> Output {
    let out = Command::new(EXE)
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("run server_key");
    assert!(
        out.status.success(),
        "server_key {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_key_binary_serves_and_manages_clients() {
    warm(&[SERVER_A, CLIENT_1, CLIENT_2]);
    let tmp = tempfile::tempdir().unwrap();
    let key_dir = tmp.path().join("keys");
    seed_identity(&key_dir, key(SERVER_A));
    let fp = key(SERVER_A).public_key().fingerprint();
    let config = tmp.path().join("server_key.toml");
    std::fs::write(
        &config,
        format!(
            "key_dir = {:?}\nregistration = \"tofu\"\n",
            key_dir.display().to_string()
        ),
    )
    .unwrap();

    let port = free_port();
    let child = Command::new(EXE)
        .arg("--config")
        .arg(&config)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start server_key");
    let mut server = Running(child);
    let (tx, rx) = mpsc::channel();
    let out = server.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    while !lines.iter().any(|l: &String| l.contains("listening on")) {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(l) => lines.push(l),
            Err(e) => panic!("server_key did not start ({e}); output so far: {lines:#?}"),
        }
    }
    let text = lines.join("\n");
    assert!(
        text.contains(&format!("server_key: fingerprint {fp}")),
        "{text}"
    );
    assert!(text.contains("loaded server key"), "{text}");
    assert!(
        text.contains(&format!("listening on 127.0.0.1:{port}")),
        "{text}"
    );

    let f1 = client(&tmp.path().join("c1"), port, "user1", Some(key(CLIENT_1)));
    let o = key_step(&f1).await.expect("key step against the binary");
    assert_eq!(o.server_fingerprint, fp);

    let list = stdout(&cli(&config, &["clients", "list"]));
    let line = list
        .lines()
        .find(|l| l.starts_with("user1"))
        .unwrap_or_else(|| panic!("user1 listed: {list}"));
    assert!(
        line.contains(&key(CLIENT_1).public_key().fingerprint()),
        "{line}"
    );
    assert!(
        line.contains(&format!("session key expires {}", o.expires_at)),
        "{line}"
    );

    // register: bind user2 to its public key by hand.
    let f2 = client(&tmp.path().join("c2"), port, "user2", Some(key(CLIENT_2)));
    let reg = stdout(&cli(
        &config,
        &[
            "clients",
            "register",
            "user2",
            f2.public_key_path().to_str().unwrap(),
        ],
    ));
    assert!(
        reg.contains(&format!(
            "bound user2 to {}",
            key(CLIENT_2).public_key().fingerprint()
        )),
        "{reg}"
    );
    let list = stdout(&cli(&config, &["clients", "list"]));
    assert!(
        list.lines()
            .any(|l| l.starts_with("user2") && l.contains("no session key")),
        "{list}"
    );

    let revoke = stdout(&cli(&config, &["clients", "revoke", "user1"]));
    assert!(revoke.contains("revoked user1"), "{revoke}");
    assert!(
        !key_dir.join("sessions").join("user1.txt").exists(),
        "revoke removes the session key"
    );
    let list = stdout(&cli(&config, &["clients", "list"]));
    assert!(!list.lines().any(|l| l.starts_with("user1")), "{list}");

    // After the revoke the running server lets user1 bind a new key.
    let f1b = client(&tmp.path().join("c1b"), port, "user1", Some(key(CLIENT_2)));
    key_step(&f1b)
        .await
        .expect("user1 binds a new key after revoke");
    drop(server);
}

/// A mistake in server_key.toml stops the start with one line naming the file, the line, what
/// is wrong and the fix; `init` creates the sessions folder the chat server needs.
#[test]
fn a_config_mistake_is_one_line_with_the_fix_and_init_creates_the_sessions_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("server_key.toml");
    std::fs::write(&config, "key_dir = \"keys\"\nregistration = \"open\"\n").unwrap();
    let out = Command::new(EXE)
        .arg("--config")
        .arg(&config)
        .args(["--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .output()
        .expect("run server_key");
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        format!(
            "server_key: {}, line 2: registration must be \"tofu\" or \"strict\", not \"open\": for example registration = \"tofu\"",
            std::path::absolute(&config).unwrap().display()
        )
    );

    warm(&[SERVER_A]);
    seed_identity(&tmp.path().join("keys"), key(SERVER_A));
    std::fs::write(&config, "key_dir = \"keys\"\n").unwrap();
    cli(&config, &["init"]);
    assert!(tmp.path().join("keys/sessions").is_dir());
}
