//! The real `server` executable refuses to start on a teacher's mistake, with one clear message
//! on stderr and a non-zero exit: a database it cannot reach (the URL shown without its
//! password), a `session_key_dir` that does not exist, a config mistake. `--wait-for-db` waits
//! for the database with a countdown instead.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const EXE: &str = env!("CARGO_BIN_EXE_server");

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Run the server on `config` and wait (at most 60 s) for it to exit.
fn run(config: &Path, extra: &[&str]) -> Output {
    let child = Command::new(EXE)
        .arg("--config")
        .arg(config)
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start server");
    finish(child)
}

/// Wait (at most 60 s) for `child` to exit; a server that keeps running fails the test.
fn finish(mut child: std::process::Child) -> Output {
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the server did not stop:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

#[test]
fn an_unreachable_database_stops_the_start_without_showing_the_password() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("keys/sessions")).unwrap();
    let port = closed_port();
    let config = dir.path().join("server.toml");
    std::fs::write(
        &config,
        format!(
            "database = \"mysql://root:secret@127.0.0.1:{port}/x\"\nsession_key_dir = \"keys/sessions\"\n"
        ),
    )
    .unwrap();
    let out = run(&config, &[]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(!out.status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot reach the database mysql://root:***@127.0.0.1:{port}/x"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("--wait-for-db"), "{stderr}");
    assert!(
        !stderr.contains("secret") && !stdout.contains("secret"),
        "password shown:\n{stdout}{stderr}"
    );
    assert!(!stdout.contains("listening on"), "{stdout}");
    assert!(
        !stderr.contains('\u{1b}'),
        "no colour codes in a pipe: {stderr}"
    );
}

#[test]
fn a_missing_session_key_dir_stops_the_start_naming_both_config_files() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("server.toml");
    std::fs::write(
        &config,
        "database = \"sqlite://data/chat.db\"\nsession_key_dir = \"../server_key/keys/sessions\"\n",
    )
    .unwrap();
    let out = run(&config, &[]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let missing = std::path::absolute(dir.path())
        .unwrap()
        .join("../server_key/keys/sessions");
    assert!(
        stderr.contains(&format!(
            "session_key_dir {} does not exist (set in {}, line 2)",
            missing.display(),
            config.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("server_key.toml's key_dir"), "{stderr}");
    assert!(stderr.contains("start server_key once"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one message: {stderr}");
    assert!(
        !dir.path().join("data").exists(),
        "no database is created for a server that does not start"
    );
}

#[test]
fn a_config_mistake_stops_the_start_with_the_line_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("server.toml");
    std::fs::write(&config, "# chat server\nlisten = 0.0.0.0:8090\n").unwrap();
    let out = run(&config, &[]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert_eq!(
        stderr.trim(),
        format!(
            "server: {}, line 2: the value of listen must be in quotes: listen = \"0.0.0.0:8090\"",
            std::path::absolute(&config).unwrap().display()
        )
    );
}

/// `--wait-for-db` counts down and starts once the database answers: a forwarder to the test
/// MySQL/MariaDB (`CHAT_TEST_MYSQL_URL`) opens on the configured port after the first failure.
#[test]
fn wait_for_db_retries_until_the_database_answers() {
    let Ok(base) = std::env::var("CHAT_TEST_MYSQL_URL") else {
        eprintln!("SKIPPED: CHAT_TEST_MYSQL_URL not set");
        return;
    };
    // mysql://user[:pw]@host:port -> user part and host:port.
    let rest = base.trim_start_matches("mysql://").trim_end_matches('/');
    let (auth, upstream) = rest.rsplit_once('@').expect("user@host:port");
    let upstream = upstream.split('/').next().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("keys/sessions")).unwrap();
    let port = closed_port();
    let config = dir.path().join("server.toml");
    std::fs::write(
        &config,
        format!(
            "database = \"mysql://{auth}@127.0.0.1:{port}/mini_chat_wait_test\"\nsession_key_dir = \"keys/sessions\"\n"
        ),
    )
    .unwrap();
    let err_log = dir.path().join("err.log");
    let out_log = dir.path().join("out.log");
    let mut child = Command::new(EXE)
        .arg("--config")
        .arg(&config)
        .args(["--listen", "127.0.0.1:0", "--wait-for-db"])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_log).unwrap())
        .stderr(std::fs::File::create(&err_log).unwrap())
        .spawn()
        .unwrap();
    let wait_for = |file: &Path, needle: &str, child: &mut std::process::Child| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let t = std::fs::read_to_string(file).unwrap_or_default();
            if t.contains(needle) {
                return t;
            }
            if let Some(s) = child.try_wait().unwrap() {
                panic!("the server exited ({s}) before {needle:?}:\n{t}");
            }
            assert!(Instant::now() < deadline, "no {needle:?} within 60 s:\n{t}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let first = wait_for(&err_log, "next try in 5 s", &mut child);
    assert!(first.contains("not reachable (try 1)"), "{first}");
    // The database "comes up": forward the configured port to the real one.
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    std::thread::spawn(move || {
        for down in listener.incoming().flatten() {
            let Ok(up) = std::net::TcpStream::connect(&upstream) else {
                continue;
            };
            let (mut down_r, mut down_w) = (down.try_clone().unwrap(), down);
            let (mut up_r, mut up_w) = (up.try_clone().unwrap(), up);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut down_r, &mut up_w);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut up_r, &mut down_w);
            });
        }
    });
    wait_for(&out_log, "listening on", &mut child);
    let _ = child.kill();
    let _ = child.wait();
}

/// A copy of the server outside the build tree never uses the source tree's server.toml (nor its
/// database): without a server.toml of its own it runs on the defaults, relative to its working
/// directory, and here stops because server_key's sessions folder is not beside it.
#[test]
fn a_copied_server_does_not_use_the_source_trees_config() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("server");
    std::fs::copy(EXE, &copy).unwrap();
    let out = finish(
        Command::new(&copy)
            .args(["--listen", "127.0.0.1:0"])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the copied server"),
    );
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("(set in the defaults: no server.toml was found"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(env!("CARGO_MANIFEST_DIR")),
        "the source tree is not used: {stderr}"
    );
}
