//! `keep_history = true` in client.toml (issue 15): the real client program's terminal mode
//! against real servers. The chat server runs with `--no-history`, so whatever the client shows
//! as history at its next start can only come from its own folder. Without the switch the
//! folder gains no file; with it the messages file holds no text, is private, survives the
//! client's restart and is shown; an altered record is reported and not shown.

mod realsys;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::client::kept::{KEY_FILE, data_path};
use common::protocol::message::b64;
use realsys::*;

/// A client folder for `user` with `extra` lines in its client.toml; returns the config's path.
fn folder(sys: &System, user: &str, extra: &str) -> PathBuf {
    let dir = sys.folder(user).dir;
    let toml = dir.join("client.toml");
    std::fs::write(
        &toml,
        format!(
            "server_host = \"127.0.0.1\"\nchat_port = {}\nkey_port = {}\nusername = \"{user}\"\n{extra}",
            sys.chat_port, sys.key_port
        ),
    )
    .expect("client.toml");
    toml
}

/// Run `client_wy cli --config toml` with `stdin` (then EOF: it logs out); its exit success,
/// stdout and stderr.
fn cli(toml: &Path, stdin: &str) -> (bool, String, String) {
    let mut child = cli_command(toml).spawn().expect("start client_wy cli");
    let mut input = child.stdin.take().expect("stdin");
    // A client that already ended (and so closed its input) is judged by its output.
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("client_wy cli still ran after 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_messages_are_sealed_private_and_shown_at_the_next_start() {
    let sys = System::start(Setup {
        chat: Launch {
            args: vec!["--no-history".into()],
            ..Launch::default()
        },
        ..Setup::default()
    });
    sys.key_steps(&["user1", "user2"]).await;
    let secret = "考试答案 the answer is 42";

    // keep_history off (the default): the folder gains no file.
    let off = folder(&sys, "user2", "");
    let dir2 = off.parent().unwrap().to_path_buf();
    let before = files(&dir2);
    let (ok, _, err) = cli(&off, &format!("{secret} (user2)\n"));
    assert!(ok, "{err}");
    assert_eq!(files(&dir2), before, "keep_history = false writes nothing");

    // keep_history on.
    let on = folder(&sys, "user1", "keep_history = true\n");
    let dir1 = on.parent().unwrap().to_path_buf();
    let (ok, out, err) = cli(&on, &format!("{secret}\n"));
    assert!(ok, "{out}\n{err}");
    let data = data_path(&dir1, "user1");
    let raw = std::fs::read(&data).expect("the messages file exists");
    for needle in [
        secret.as_bytes().to_vec(),
        b"the answer".to_vec(),
        b64(secret).into_bytes(),
        hex::encode(secret).into_bytes(),
        hex::encode(secret).to_uppercase().into_bytes(),
    ] {
        assert!(
            !contains(&raw, &needle),
            "{:?} is in the file",
            String::from_utf8_lossy(&needle)
        );
    }
    #[cfg(unix)]
    for p in [data.clone(), dir1.join(KEY_FILE)] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", p.display());
    }

    // The client again (the server keeps nothing): shown as history, from the folder.
    let (ok, out, err) = cli(&on, "");
    assert!(ok, "{err}");
    let line = out
        .lines()
        .find(|l| l.contains(secret))
        .unwrap_or_else(|| panic!("the kept message is not shown:\n{out}\n{err}"));
    assert!(line.starts_with("[历史 "), "{line}");
    assert!(out.contains("—— 以上为本机保存的消息 ——"), "{out}");

    // One bit of the record flipped: reported, not shown, and the client still runs.
    let mut raw = std::fs::read(&data).unwrap();
    let last = raw.len() - 40;
    raw[last] ^= 0x04;
    std::fs::write(&data, &raw).unwrap();
    let (ok, out, err) = cli(&on, "after\n");
    assert!(ok, "{out}\n{err}");
    assert!(!out.contains(secret), "an altered record was shown:\n{out}");
    assert!(err.contains("有 1 条无法读取"), "{err}");
}
