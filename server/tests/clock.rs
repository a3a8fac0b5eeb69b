//! A student PC whose clock is wrong (issue 12). The real client program runs under `faketime`
//! (libfaketime, an LD_PRELOAD that shifts the clock the program reads) against real servers
//! whose clock is right. Before the key step learned the key server's clock, a client two days
//! fast judged its brand-new 24-hour key expired and looped through the key step forever; now it
//! says how far off the clock is, judges expiry by the server's clock, logs in and ends.

mod realsys;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::keyfile::KeyFile;
use realsys::*;

/// The bound: a clock message and the end of the program within 30 s.
const LIMIT: Duration = Duration::from_secs(30);
const DAY: i64 = 86_400;

/// `faketime`, or `None` with the reason printed (CI installs it through scripts/bootstrap.sh,
/// and there a missing one is a failure, not a skip).
fn faketime() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("faketime"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "faketime is missing under CI (scripts/bootstrap.sh installs it)"
        );
        println!("SKIPPED: faketime not installed (run scripts/bootstrap.sh)");
    }
    found
}

/// Run `client_wy <args>` with its clock shifted by `shift` (faketime's syntax, e.g. `+2d`),
/// feeding `stdin`; kill it after [`LIMIT`]. Returns (success, everything it printed).
fn client_with_clock(faketime: &Path, shift: &str, args: &[&str], stdin: &str) -> (bool, String) {
    let mut child = Command::new(faketime)
        .arg("-f")
        .arg(shift)
        .arg(client_exe())
        .args(args)
        // Only the wall clock is shifted: timers and timeouts keep their real pace.
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .env("CHAT_PASSWORD", PW)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start faketime client_wy");
    let mut input = child.stdin.take().expect("stdin");
    // A client that already ended (and so closed its input) is judged by its output below.
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    let mut readers = Vec::new();
    for mut stream in [
        Box::new(child.stdout.take().expect("stdout")) as Box<dyn Read + Send>,
        Box::new(child.stderr.take().expect("stderr")),
    ] {
        readers.push(std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stream.read_to_string(&mut text);
            text
        }));
    }
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text: String = readers.into_iter().map(|r| r.join().unwrap()).collect();
    let Some(status) = status else {
        panic!("client_wy {args:?} with clock {shift} still ran after {LIMIT:?}:\n{text}");
    };
    (status.success(), text)
}

/// A client folder for user1 with its client.toml; returns the config's path.
fn folder(sys: &System, language: &str) -> PathBuf {
    let dir = sys.folder("user1").dir;
    let toml = dir.join("client.toml");
    std::fs::write(
        &toml,
        format!(
            "server_host = \"127.0.0.1\"\nchat_port = {}\nkey_port = {}\nusername = \"user1\"\nlanguage = \"{language}\"\n",
            sys.chat_port, sys.key_port
        ),
    )
    .expect("client.toml");
    toml
}

fn offset_kept(sys: &System) -> i64 {
    let file = KeyFile::load(&sys.folder("user1").session_key_path()).expect("session_key.txt");
    file.clock_offset_secs.expect("the client keeps the offset")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_two_days_fast_is_told_and_still_logs_in() {
    let Some(faketime) = faketime() else { return };
    let sys = System::start(Setup::default());
    let toml = folder(&sys, "zh");
    let config = toml.to_str().unwrap();

    let (ok, out) = client_with_clock(&faketime, "+2d", &["key", "--config", config], "");
    assert!(ok, "the key step works with a fast clock:\n{out}");
    assert!(out.contains("你的电脑时钟比服务器快 2 天"), "{out}");
    let offset = offset_kept(&sys);
    assert!(
        (offset + 2 * DAY).abs() < 60,
        "offset {offset} s, expected about -2 days"
    );

    // The key (24 h by the server's clock) is not expired by the server's clock: the terminal
    // mode logs in, says the clock is off, sends and ends at the end of its input.
    let (ok, out) = client_with_clock(
        &faketime,
        "+2d",
        &["cli", "--config", config],
        "时钟快了两天\n",
    );
    assert!(ok, "the terminal mode logs in and ends:\n{out}");
    assert!(out.contains("已登录"), "{out}");
    assert!(out.contains("你的电脑时钟比服务器快 2 天"), "{out}");
    assert!(!out.contains("过期"), "no expiry message: {out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_one_day_slow_still_works_and_is_told_in_english() {
    let Some(faketime) = faketime() else { return };
    let sys = System::start(Setup::default());
    let toml = folder(&sys, "en");
    let config = toml.to_str().unwrap();

    let (ok, out) = client_with_clock(&faketime, "-1d", &["key", "--config", config], "");
    assert!(ok, "{out}");
    assert!(
        out.contains("Your computer's clock is 1 day behind the server's"),
        "{out}"
    );
    let offset = offset_kept(&sys);
    assert!(
        (offset - DAY).abs() < 60,
        "offset {offset} s, expected about +1 day"
    );
    let (ok, out) = client_with_clock(&faketime, "-1d", &["cli", "--config", config], "hi\n");
    assert!(ok, "{out}");
    assert!(out.contains("logged in as"), "{out}");
}

/// A right clock: no clock message at all, and the offset kept is about zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_right_clock_gets_no_clock_message() {
    let Some(faketime) = faketime() else { return };
    let sys = System::start(Setup::default());
    let toml = folder(&sys, "zh");
    let config = toml.to_str().unwrap();
    let (ok, out) = client_with_clock(&faketime, "+0", &["key", "--config", config], "");
    assert!(ok, "{out}");
    assert!(!out.contains("时钟"), "{out}");
    assert!(offset_kept(&sys).abs() < 60);
}
