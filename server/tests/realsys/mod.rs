//! Harness for the tests that run the REAL executables (`attack_table.rs`, `faults.rs`; included
//! with `mod realsys;`): `server` and `server_key` are started as child processes the way an
//! operator starts them, with temporary config files and `--config X --listen 127.0.0.1:<port>`,
//! and are killed when the test ends, however it ends.
//!
//! - [`System`]: a key server and a chat server (SQLite in the temporary folder unless told
//!   otherwise) plus client folders; either server can be stopped (SIGINT or SIGKILL) and started
//!   again on the same port.
//! - [`Chatter`]: a session through the client library (`chat_client::login` + `spawn_session`).
//! - [`Raw`]: a raw chat connection for hand-made bytes and frames.
//! - [`FrameProxy`]: a frame-level man in the middle with a hook; [`TcpProxy`]: a byte-level
//!   forwarder that can be cut (every connection closed, new ones refused) and restored.
//!
//! Every wait has a deadline ([`within`], [`T`]), so a broken build fails instead of hanging.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use common::client::chat_client::{self, Incoming, LoginError, SessionEvent, spawn_session};
use common::client::folder::ClientFolder;
use common::client::key_client::{KeyStepError, KeyStepOptions, KeyStepOutcome, run_key_step};
use common::config::ClientConfig;
use common::connection::{FrameReader, FrameWriter};
use common::crypto::{PrivateKey, SessionKey, fingerprint, random};
use common::keyfile::KeyFile;
use common::protocol::RawMessage;
use common::protocol::chat::{
    ClientRequest, ErrorMsg, Hello, Notice, NoticeKind, ServerEvent, login_request,
};
use common::protocol::consts::code;
use common::protocol::keydist::{KeyHello, KeyRequest, Transcript};
use common::protocol::sealed::{Channel, Opener, SealedMessage, Sealer};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

#[path = "../common/wait.rs"]
mod wait;
pub use wait::{PW, T, within};

/// Wait until `f()` holds (polling), or panic naming `what` after [`T`].
pub async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    within(what, async {
        while !f() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// The executables

/// The chat server built for this test run.
pub fn server_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_server"))
}

/// The `server_key` executable beside [`server_exe`]. `cargo test --workspace` builds it; when it
/// is missing, or older than its sources, it is built here with the same profile.
pub fn server_key_exe() -> PathBuf {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| build_exe("server_key", &["server_key"]))
        .clone()
}

/// The `client_wy` executable (the terminal mode of a real client), built like
/// [`server_key_exe`].
pub fn client_exe() -> PathBuf {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| build_exe("client_wy", &["client_wy", "common/client_app"]))
        .clone()
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("server/ is inside the workspace")
        .to_path_buf()
}

/// Newest modification time of the files under `paths`.
fn newest(paths: &[PathBuf]) -> Option<SystemTime> {
    fn walk(p: &Path, best: &mut Option<SystemTime>) {
        let Ok(meta) = std::fs::metadata(p) else {
            return;
        };
        if meta.is_dir() {
            for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
                walk(&e.path(), best);
            }
        } else if let Ok(m) = meta.modified() {
            *best = Some(best.map_or(m, |b| b.max(m)));
        }
    }
    let mut best = None;
    for p in paths {
        walk(p, &mut best);
    }
    best
}

/// The executable `package` (one binary of the same name) beside [`server_exe`], built when it is
/// missing or older than the sources of `crates` (folders of the workspace) and `common`.
fn build_exe(package: &str, crates: &[&str]) -> PathBuf {
    let exe = server_exe().with_file_name(format!("{package}{}", std::env::consts::EXE_SUFFIX));
    let ws = workspace();
    let built = std::fs::metadata(&exe).and_then(|m| m.modified()).ok();
    let mut dirs = vec![ws.join("common/src"), ws.join("common/Cargo.toml")];
    for c in crates {
        dirs.push(ws.join(c).join("src"));
        dirs.push(ws.join(c).join("Cargo.toml"));
    }
    let sources = newest(&dirs);
    if matches!((built, sources), (Some(b), Some(s)) if b >= s) {
        return exe;
    }
    let profile_dir = exe.parent().expect("target/<profile>");
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("debug")
        .to_owned();
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "-p", package, "--bin", package, "--manifest-path"])
        .arg(ws.join("Cargo.toml"));
    match profile.as_str() {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    // target/<profile>, or target/<triple>/<profile> when built with --target.
    let parent = profile_dir.parent().expect("target dir");
    if parent.join("CACHEDIR.TAG").exists() {
        cmd.env("CARGO_TARGET_DIR", parent);
    } else if let Some(target) = parent.parent()
        && target.join("CACHEDIR.TAG").exists()
    {
        cmd.env("CARGO_TARGET_DIR", target)
            .arg("--target")
            .arg(parent.file_name().expect("triple"));
    }
    eprintln!(
        "realsys: {} is missing or older than its sources; building it ({profile})",
        exe.display()
    );
    let status = cmd.status().expect("run cargo build");
    assert!(status.success(), "cargo build -p {package} failed");
    assert!(exe.exists(), "{} was not built", exe.display());
    exe
}

/// Raise this process's soft `RLIMIT_NOFILE` to at least `want` (children inherit it).
/// Returns the soft limit now in force.
pub fn raise_nofile(want: u64) -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        if r.rlim_cur < want {
            let raised = libc::rlimit {
                rlim_cur: want,
                rlim_max: r.rlim_max.max(want),
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
                // Not allowed to raise the hard limit: go as far as it allows.
                let capped = libc::rlimit {
                    rlim_cur: want.min(r.rlim_max),
                    rlim_max: r.rlim_max,
                };
                libc::setrlimit(libc::RLIMIT_NOFILE, &capped);
            }
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        }
    }
    r.rlim_cur
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind 127.0.0.1:0")
        .local_addr()
        .expect("local addr")
        .port()
}

// ---------------------------------------------------------------------------------------------
// Processes

/// A running executable; killed (SIGKILL) on drop if still running.
pub struct Proc {
    pub name: String,
    child: Child,
    pub port: u16,
    out: PathBuf,
    err: PathBuf,
}

impl Proc {
    /// Start `exe --config <config> --listen 127.0.0.1:<port>` with stdout and stderr appended to
    /// `<log_dir>/<name>.out|.log`, and wait until it prints `listening on`.
    ///
    /// # Errors
    /// The process exited (or did not listen within 30 s); the text is its output.
    pub fn start(
        name: &str,
        exe: &Path,
        config: &Path,
        port: u16,
        log_dir: &Path,
    ) -> Result<Self, String> {
        Self::start_with(name, exe, config, port, log_dir, &Launch::default())
    }

    /// [`Self::start`] with extra arguments and limits.
    ///
    /// # Errors
    /// As [`Self::start`].
    pub fn start_with(
        name: &str,
        exe: &Path,
        config: &Path,
        port: u16,
        log_dir: &Path,
        launch: &Launch,
    ) -> Result<Self, String> {
        let out = log_dir.join(format!("{name}.out"));
        let err = log_dir.join(format!("{name}.log"));
        let open = |p: &Path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .expect("open log file")
        };
        let start_len = std::fs::metadata(&out).map_or(0, |m| m.len());
        let mut cmd = Command::new(exe);
        cmd.arg("--config")
            .arg(config)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(&launch.args)
            .stdin(Stdio::null())
            .stdout(open(&out))
            .stderr(open(&err));
        if let Some((soft, hard)) = launch.nofile {
            use std::os::unix::process::CommandExt as _;
            // SAFETY: setrlimit is async-signal-safe and touches only the child's limits.
            unsafe {
                cmd.pre_exec(move || {
                    let r = libc::rlimit {
                        rlim_cur: soft,
                        rlim_max: hard,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &r) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
        let mut p = Self {
            name: name.to_owned(),
            child,
            port,
            out,
            err,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let printed = std::fs::read(&p.out).unwrap_or_default();
            let fresh =
                String::from_utf8_lossy(&printed[(start_len as usize).min(printed.len())..])
                    .into_owned();
            if fresh.contains("listening on") {
                return Ok(p);
            }
            if let Ok(Some(status)) = p.child.try_wait() {
                return Err(format!("{name} exited ({status}):\n{}", p.output()));
            }
            if Instant::now() > deadline {
                let _ = p.child.kill();
                return Err(format!(
                    "{name} did not listen within 30 s:\n{}",
                    p.output()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the process wrote to stdout so far, byte for byte.
    pub fn stdout_bytes(&self) -> Vec<u8> {
        std::fs::read(&self.out).unwrap_or_default()
    }

    /// Everything the process printed (stdout, then the last 60 lines of stderr).
    pub fn output(&self) -> String {
        let out = std::fs::read_to_string(&self.out).unwrap_or_default();
        let err = std::fs::read_to_string(&self.err).unwrap_or_default();
        let lines: Vec<&str> = err.lines().collect();
        let tail = lines[lines.len().saturating_sub(60)..].join("\n");
        format!(
            "--- {} stdout\n{out}--- {} stderr (tail)\n{tail}",
            self.name, self.name
        )
    }

    /// Send `sig` (e.g. `libc::SIGINT`) to the process.
    pub fn signal(&self, sig: i32) {
        let pid = i32::try_from(self.pid()).expect("pid fits i32");
        // SAFETY: kill(2) on the pid of our own child.
        unsafe {
            libc::kill(pid, sig);
        }
    }

    /// Wait up to `timeout` for the process to exit.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) -> ExitStatus {
        let _ = self.child.kill();
        self.child.wait().expect("reap child")
    }

    /// SIGINT (Ctrl+C), then wait up to 10 s for a graceful exit.
    pub async fn interrupt(&mut self) -> ExitStatus {
        self.signal(libc::SIGINT);
        match self.wait_exit(Duration::from_secs(10)).await {
            Some(s) => s,
            None => panic!(
                "{} did not exit within 10 s of SIGINT:\n{}",
                self.name,
                self.output()
            ),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The whole system

/// Extra command-line arguments and limits for a server process.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// Appended after `--config X --listen Y` (e.g. `--trace`).
    pub args: Vec<String>,
    /// `(soft, hard)` `RLIMIT_NOFILE` for the process (default: inherited).
    pub nofile: Option<(u64, u64)>,
}

/// How to set up a [`System`].
#[derive(Debug, Clone)]
pub struct Setup {
    /// `max_connections` in server.toml.
    pub max_connections: usize,
    /// `database` in server.toml; default a SQLite file in the temporary folder.
    pub database: Option<String>,
    /// server_key's `key_dir`; default `<tmp>/keys`.
    pub key_dir: Option<PathBuf>,
    /// How the chat server is started.
    pub chat: Launch,
    /// How server_key is started.
    pub key: Launch,
    /// More lines for server_key.toml (e.g. `session_ttl = "1m"`).
    pub key_config: String,
    /// The chat server's port (0: a free one); set when server_key.toml must name it.
    pub chat_port: u16,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            max_connections: 2000,
            database: None,
            key_dir: None,
            chat: Launch::default(),
            key: Launch::default(),
            key_config: String::new(),
            chat_port: 0,
        }
    }
}

/// `server_key` and `server` running from one temporary folder, with client folders beside.
pub struct System {
    pub key_server: Option<Proc>,
    pub chat: Option<Proc>,
    pub key_port: u16,
    pub chat_port: u16,
    pub key_dir: PathBuf,
    pub database: String,
    /// The SQLite file when the default database is used.
    pub sqlite: Option<PathBuf>,
    key_toml: PathBuf,
    chat_toml: PathBuf,
    chat_launch: Launch,
    key_launch: Launch,
    pub dir: tempfile::TempDir,
}

/// Start `exe` on `*port` (a fresh free port if `*port` is 0 or the port turns out taken and
/// `fixed` is false); on the same port a few times when `fixed`.
fn launch(
    name: &str,
    exe: &Path,
    config: &Path,
    port: &mut u16,
    fixed: bool,
    logs: &Path,
    how: &Launch,
) -> Proc {
    let mut last = String::new();
    for _ in 0..5 {
        if *port == 0 {
            *port = free_port();
        }
        match Proc::start_with(name, exe, config, *port, logs, how) {
            Ok(p) => return p,
            Err(e) => {
                last = e;
                if !fixed {
                    *port = 0;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
    panic!("could not start {name}: {last}");
}

impl System {
    /// Write the configs and start both servers.
    pub fn start(setup: Setup) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let key_dir = setup
            .key_dir
            .clone()
            .unwrap_or_else(|| dir.path().join("keys"));
        let sqlite = dir.path().join("users.db");
        let (database, sqlite) = match setup.database {
            Some(d) => (d, None),
            None => (format!("sqlite://{}", sqlite.display()), Some(sqlite)),
        };
        let key_toml = dir.path().join("server_key.toml");
        std::fs::write(
            &key_toml,
            format!(
                "key_dir = {:?}\n{}{}",
                key_dir.display().to_string(),
                // Discovery (UDP) off unless the test asks: tests must not answer on 8092.
                if setup.key_config.contains("discovery_port") {
                    ""
                } else {
                    "discovery_port = 0\n"
                },
                setup.key_config
            ),
        )
        .expect("write server_key.toml");
        let chat_toml = dir.path().join("server.toml");
        std::fs::write(
            &chat_toml,
            format!(
                "database = {:?}\nsession_key_dir = {:?}\nmax_connections = {}\n",
                database,
                key_dir.join("sessions").display().to_string(),
                setup.max_connections
            ),
        )
        .expect("write server.toml");
        let mut sys = Self {
            key_server: None,
            chat: None,
            key_port: 0,
            chat_port: setup.chat_port,
            key_dir,
            database,
            sqlite,
            key_toml,
            chat_toml,
            chat_launch: setup.chat,
            key_launch: setup.key,
            dir,
        };
        sys.start_key_server();
        sys.start_chat();
        sys
    }

    /// Start server_key (again, on the same port once it has one).
    pub fn start_key_server(&mut self) {
        assert!(self.key_server.is_none(), "server_key already running");
        let fixed = self.key_port != 0;
        let mut port = self.key_port;
        let p = launch(
            "server_key",
            &server_key_exe(),
            &self.key_toml,
            &mut port,
            fixed,
            self.dir.path(),
            &self.key_launch,
        );
        self.key_port = port;
        self.key_server = Some(p);
    }

    /// Start the chat server (again, on the same port once it has one).
    pub fn start_chat(&mut self) {
        assert!(self.chat.is_none(), "server already running");
        let fixed = self.chat_port != 0;
        let mut port = self.chat_port;
        let p = launch(
            "server",
            &server_exe(),
            &self.chat_toml,
            &mut port,
            fixed,
            self.dir.path(),
            &self.chat_launch,
        );
        self.chat_port = port;
        self.chat = Some(p);
    }

    pub fn chat_proc(&mut self) -> &mut Proc {
        self.chat.as_mut().expect("chat server running")
    }

    pub fn key_proc(&mut self) -> &mut Proc {
        self.key_server.as_mut().expect("server_key running")
    }

    /// The chat server is still running (panics with its output otherwise).
    pub fn assert_chat_alive(&mut self) {
        let p = self.chat_proc();
        if let Ok(Some(status)) = p.child.try_wait() {
            panic!("the chat server died ({status}):\n{}", p.output());
        }
    }

    /// The key server is still running (panics with its output otherwise).
    pub fn assert_key_server_alive(&mut self) {
        let p = self.key_proc();
        if let Ok(Some(status)) = p.child.try_wait() {
            panic!("server_key died ({status}):\n{}", p.output());
        }
    }

    /// server_key's copy of `user`'s session key (what the chat server reads).
    pub fn server_session_file(&self, user: &str) -> PathBuf {
        self.key_dir.join("sessions").join(format!("{user}.txt"))
    }

    /// A client folder for `user` in `<tmp>/clients/<user>`.
    pub fn folder(&self, user: &str) -> ClientFolder {
        self.folder_in(user, self.dir.path().join("clients").join(user))
    }

    /// A client folder for `user` in `dir` (created).
    pub fn folder_in(&self, user: &str, dir: PathBuf) -> ClientFolder {
        std::fs::create_dir_all(&dir).expect("client folder");
        ClientFolder::new(
            ClientConfig {
                server_host: "127.0.0.1".into(),
                key_port: self.key_port,
                chat_port: self.chat_port,
                username: user.to_owned(),
                ..Default::default()
            },
            dir,
            "client_test",
        )
    }

    /// The key step for `folder` against the running server_key.
    pub async fn try_key_step(
        &self,
        folder: &ClientFolder,
    ) -> Result<KeyStepOutcome, KeyStepError> {
        within(
            "key step",
            run_key_step(
                folder,
                KeyStepOptions {
                    timeout: T,
                    ..KeyStepOptions::default()
                },
            ),
        )
        .await
    }

    /// Run `server --config <server.toml> ARGS` (the teacher's admin commands) to completion
    /// with `stdin`; panics unless it succeeds. Returns its stdout.
    pub fn server_admin(&self, args: &[&str], stdin: &str) -> String {
        run_admin(&server_exe(), &self.chat_toml, args, stdin)
    }

    /// Run `server_key --config <server_key.toml> ARGS` to completion; panics unless it succeeds.
    pub fn key_admin(&self, args: &[&str]) -> String {
        run_admin(&server_key_exe(), &self.key_toml, args, "")
    }

    /// Key steps for these users, in parallel (first runs create 2048-bit client keys).
    pub async fn key_steps(&self, users: &[&str]) {
        let mut set = tokio::task::JoinSet::new();
        for user in users {
            let folder = self.folder(user);
            set.spawn(async move {
                let r = run_key_step(
                    &folder,
                    KeyStepOptions {
                        timeout: T,
                        ..KeyStepOptions::default()
                    },
                )
                .await;
                (folder.config.username.clone(), r)
            });
        }
        while let Some(done) = within("key steps", set.join_next()).await {
            let (user, r) = done.expect("key step task");
            if let Err(e) = r {
                panic!("key step for {user} failed: {e}");
            }
        }
    }

    /// Log `folder`'s user in through the library and run the session.
    pub async fn try_login(&self, folder: &ClientFolder) -> Result<Chatter, LoginError> {
        let user = folder.config.username.clone();
        let (tx, rx, info) = within(
            &format!("login of {user}"),
            chat_client::login(folder, PW, T),
        )
        .await?;
        assert_eq!(info.username, user);
        Ok(Chatter::run(&user, tx, rx))
    }

    /// Log a seed user in (its folder must have a session key).
    pub async fn login(&self, user: &str) -> Chatter {
        match self.try_login(&self.folder(user)).await {
            Ok(c) => c,
            Err(e) => panic!("login of {user} failed: {e}"),
        }
    }

    /// Log in from `folder` (panics on refusal).
    pub async fn login_from(&self, folder: &ClientFolder) -> Chatter {
        match self.try_login(folder).await {
            Ok(c) => c,
            Err(e) => panic!("login of {} failed: {e}", folder.config.username),
        }
    }

    /// The refusal of a login that must fail.
    pub async fn login_error(&self, folder: &ClientFolder) -> LoginError {
        match self.try_login(folder).await {
            Ok(_) => panic!("login of {} unexpectedly succeeded", folder.config.username),
            Err(e) => e,
        }
    }
}

/// The session key stored in a client folder.
pub fn folder_key(folder: &ClientFolder) -> Arc<SessionKey> {
    Arc::new(
        KeyFile::load(&folder.session_key_path())
            .expect("session_key.txt")
            .key,
    )
}

// ---------------------------------------------------------------------------------------------
// A real client's terminal mode

/// `client_wy cli --config toml` with the test password and every stream piped.
pub fn cli_command(toml: &Path) -> Command {
    let mut c = Command::new(client_exe());
    c.arg("cli")
        .arg("--config")
        .arg(toml)
        .env("CHAT_PASSWORD", PW)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// A real client's terminal mode (`client_wy cli`) logged in as `user` through `chat_port`, with
/// `language` in its client.toml. Every line it prints, stdout and stderr alike, comes out of
/// `lines`.
pub struct Cli {
    child: std::process::Child,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
    /// Everything read from `lines` so far.
    seen: Vec<String>,
}

impl Cli {
    pub fn start(sys: &System, user: &str, chat_port: u16, language: &str) -> Self {
        let toml = sys.folder(user).dir.join("client.toml");
        std::fs::write(
            &toml,
            format!(
                "server_host = \"127.0.0.1\"\nchat_port = {chat_port}\nkey_port = {}\nusername = \"{user}\"\nlanguage = \"{language}\"\n",
                sys.key_port
            ),
        )
        .expect("client.toml");
        let mut child = cli_command(&toml).spawn().expect("start client_wy cli");
        let (tx, lines) = tokio::sync::mpsc::unbounded_channel();
        let out = child.stdout.take().expect("stdout");
        let err = child.stderr.take().expect("stderr");
        for stream in [
            Box::new(out) as Box<dyn std::io::Read + Send>,
            Box::new(err),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Type one line.
    pub fn type_line(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{line}").expect("type a line");
        stdin.flush().expect("flush stdin");
    }

    /// The first printed line containing `text` (waiting up to [`T`]).
    pub async fn line_with(&mut self, text: &str) -> String {
        let what = format!("a line with {text:?} from the client");
        within(&what, async {
            loop {
                let l = self.lines.recv().await.expect("client output open");
                self.seen.push(l.clone());
                if l.contains(text) {
                    return l;
                }
            }
        })
        .await
    }

    /// Wait (up to [`T`]) for the client to exit by itself; its status and every line it
    /// printed. A client still running then is killed and the test fails.
    pub async fn exited(self) -> (std::process::ExitStatus, Vec<String>) {
        self.exited_within(T).await
    }

    /// [`Self::exited`] with a longer wait (a session key's lifetime).
    pub async fn exited_within(
        mut self,
        wait: Duration,
    ) -> (std::process::ExitStatus, Vec<String>) {
        let deadline = Instant::now() + wait;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("client status") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                while let Ok(l) = self.lines.try_recv() {
                    self.seen.push(l);
                }
                panic!(
                    "the client did not end by itself within {wait:?}; it printed:\n{}",
                    self.seen.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        while let Some(l) = within("the client's last lines", self.lines.recv()).await {
            self.seen.push(l);
        }
        (status, std::mem::take(&mut self.seen))
    }

    /// Close stdin without waiting (the input of a script ends): dropping the result closes it.
    pub fn child_stdin(&mut self) -> Option<std::process::ChildStdin> {
        self.child.stdin.take()
    }

    /// Close stdin (the user quits) and wait for the exit.
    pub async fn quit(mut self) -> (std::process::ExitStatus, Vec<String>) {
        drop(self.child.stdin.take());
        self.exited().await
    }
}

impl Drop for Cli {
    /// A test that fails half-way leaves no client behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Library sessions

/// A logged-in session run by [`spawn_session`] (a `Session`, as the GUI's network worker runs one).
pub struct Chatter {
    pub user: String,
    cmd: mpsc::Sender<ClientRequest>,
    events: mpsc::Receiver<SessionEvent>,
}

impl Chatter {
    pub fn run(user: &str, tx: chat_client::ChatSender, rx: chat_client::ChatReceiver) -> Self {
        let (cmd, commands) = mpsc::channel(64);
        let events = spawn_session(tx, rx, commands, 8192);
        Self {
            user: user.to_owned(),
            cmd,
            events,
        }
    }

    /// Hand a request to the session task.
    pub async fn send(&self, req: ClientRequest) {
        within("session command", self.cmd.send(req))
            .await
            .unwrap_or_else(|_| panic!("{}: the session task has ended", self.user));
    }

    /// A chat message to everyone.
    pub async fn say(&self, text: &str) {
        self.send(ClientRequest::Chat {
            to: None,
            text: text.to_owned(),
        })
        .await;
    }

    /// The next session event.
    pub async fn next(&mut self) -> SessionEvent {
        let what = format!("{} waiting for a session event", self.user);
        match within(&what, self.events.recv()).await {
            Some(e) => e,
            None => panic!("{}: the session task has ended", self.user),
        }
    }

    /// The next session event within `d`, if any.
    pub async fn next_within(&mut self, d: Duration) -> Option<SessionEvent> {
        tokio::time::timeout(d, self.events.recv())
            .await
            .ok()
            .flatten()
    }

    /// Wait for the chat message `text` from `from`, skipping our own `Sent` records, notices,
    /// user lists and other chat messages; panics on anything the session reports as a problem.
    pub async fn hears(&mut self, from: &str, text: &str) {
        loop {
            match self.next().await {
                SessionEvent::Sent { .. } => {}
                SessionEvent::Incoming(Incoming::Event {
                    event: ServerEvent::Chat(line),
                    ..
                }) if line.text == text => {
                    assert_eq!(line.from_user, from, "{}: {line:?}", self.user);
                    return;
                }
                SessionEvent::Incoming(Incoming::Event { .. }) => {}
                other => panic!(
                    "{}: waiting for {text:?} from {from}, got {other:?}",
                    self.user
                ),
            }
        }
    }

    /// Wait for a notice of `kind` about `user`, skipping everything else that is normal.
    pub async fn notice(&mut self, kind: NoticeKind, user: &str) -> Notice {
        loop {
            match self.next().await {
                SessionEvent::Incoming(Incoming::Event {
                    event: ServerEvent::Notice(n),
                    ..
                }) if n.kind == kind && n.user == user => return n,
                SessionEvent::Sent { .. } | SessionEvent::Incoming(Incoming::Event { .. }) => {}
                other => panic!(
                    "{}: waiting for {kind:?} of {user}, got {other:?}",
                    self.user
                ),
            }
        }
    }

    /// Read until the session ends: the `1009` it got (if any) and the `Closed` reason.
    pub async fn closed(&mut self) -> (Option<ErrorMsg>, String) {
        let mut err = None;
        loop {
            match self.next().await {
                SessionEvent::Closed { reason } => return (err, reason.to_string()),
                SessionEvent::Incoming(Incoming::ServerError(e)) => err = Some(e),
                _ => {}
            }
        }
    }

    /// Everything that arrives within `d`.
    pub async fn drain(&mut self, d: Duration) -> Vec<SessionEvent> {
        let mut got = Vec::new();
        let deadline = tokio::time::Instant::now() + d;
        while let Ok(Some(e)) = tokio::time::timeout_at(deadline, self.events.recv()).await {
            got.push(e);
        }
        got
    }
}

/// `a` sends `tag` to everyone; `a` (its own copy is the acknowledgement) and `b` receive it.
pub async fn still_chatting(a: &mut Chatter, b: &mut Chatter, tag: &str) {
    a.say(tag).await;
    let from = a.user.clone();
    a.hears(&from, tag).await;
    b.hears(&from, tag).await;
}

// ---------------------------------------------------------------------------------------------
// Raw chat connections

/// What a raw connection received next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Got {
    /// The plain `1000` hello.
    Hello,
    /// A plain `1009` error.
    Error(ErrorMsg),
    /// A sealed event that opened with this connection's key.
    Event(ServerEvent),
    /// A frame that did not parse or open.
    Unreadable(String),
    /// Clean end of stream.
    Closed,
    /// A read error (reset, truncated frame).
    Broken(String),
    /// Nothing within the deadline.
    Silent,
}

impl Got {
    /// Short form for the results table.
    pub fn describe(&self) -> String {
        match self {
            Self::Hello => "1000 hello".into(),
            Self::Error(e) => format!("1009 {}", e.reason),
            Self::Event(ServerEvent::Notice(n)) => format!("1004 {}", n.kind.as_str()),
            Self::Event(e) => format!("{} event", e.code()),
            Self::Unreadable(why) => format!("unreadable frame ({why})"),
            Self::Closed | Self::Broken(_) => "connection closed".into(),
            Self::Silent => "no answer".into(),
        }
    }

    pub fn is_end(&self) -> bool {
        matches!(self, Self::Closed | Self::Broken(_))
    }
}

/// A raw TCP connection to the chat server under the test's control.
pub struct Raw {
    pub reader: FrameReader<OwnedReadHalf>,
    pub writer: FrameWriter<OwnedWriteHalf>,
    pub nonce: [u8; 16],
    pub send: Option<Sealer>,
    pub recv: Option<Opener>,
    fd: i32,
}

impl Raw {
    /// Connect without reading anything.
    pub async fn connect(port: u16) -> Self {
        let stream = within("connect", TcpStream::connect(("127.0.0.1", port)))
            .await
            .expect("connect");
        let _ = stream.set_nodelay(true);
        let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
        let (r, w) = stream.into_split();
        Self {
            reader: FrameReader::new(r),
            writer: FrameWriter::new(w),
            nonce: [0; 16],
            send: None,
            recv: None,
            fd,
        }
    }

    /// Connect and read the hello.
    pub async fn chat(port: u16) -> Self {
        let mut raw = Self::connect(port).await;
        match raw.next().await {
            Got::Hello => raw,
            other => panic!("expected the chat server's hello, got {other:?}"),
        }
    }

    /// Write bytes as they are (headers, partial frames).
    ///
    /// # Errors
    /// The write failed (the server may already have closed the connection).
    pub async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let w = self.writer.get_mut();
        within("raw write", async {
            w.write_all(bytes).await?;
            w.flush().await
        })
        .await
    }

    /// Write one frame around `payload` (any length, bypassing the library's limits).
    pub async fn send_frame(&mut self, payload: &[u8]) {
        let mut b = u32::try_from(payload.len())
            .expect("payload fits u32")
            .to_be_bytes()
            .to_vec();
        b.extend_from_slice(payload);
        self.write(&b).await.expect("write frame");
    }

    /// Drop the connection with a reset (`SO_LINGER` 0), as the kernel of a crashed client may.
    pub fn abort(self) {
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: setsockopt on the socket this value owns (still open: `self` is alive), with
        // a correctly sized option value.
        unsafe {
            libc::setsockopt(
                self.fd,
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&raw const linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
        drop(self);
    }

    /// Close our sending side (the server reads end of stream).
    pub async fn shutdown_write(&mut self) {
        let _ = within("shutdown", self.writer.get_mut().shutdown()).await;
    }

    /// Set up the sealed channel with `key` (what a client does after the hello).
    pub fn use_key(&mut self, key: Arc<SessionKey>) {
        let (send, recv) = Channel::client(key, &self.nonce).split();
        self.send = Some(send);
        self.recv = Some(recv);
    }

    /// Seal `inner` under `code` with this connection's channel (not sent).
    pub fn seal(&mut self, code: &str, inner: &str) -> String {
        self.send
            .as_mut()
            .expect("use_key first")
            .seal_text(code, &[], inner)
    }

    /// Log in as `user` with `key` and read the login result, the user list and the history
    /// answer; returns the login frame that was sent.
    pub async fn login(&mut self, user: &str, key: Arc<SessionKey>) -> String {
        let key_id = key.key_id.clone();
        self.use_key(key);
        let frame = login_request(self.send.as_mut().unwrap(), user, &key_id, PW);
        self.send_frame(frame.as_bytes()).await;
        match self.next().await {
            Got::Event(ServerEvent::LoginOk { username, .. }) => assert_eq!(username, user),
            other => panic!("raw login of {user}: expected the login result, got {other:?}"),
        }
        loop {
            match self.next().await {
                Got::Event(ServerEvent::UserList(_)) => break,
                Got::Event(ServerEvent::UserListPart(_)) => {}
                other => panic!("raw login of {user}: expected the user list, got {other:?}"),
            }
        }
        // The login's history answer (history is on in these servers): up to its END frame, so
        // that what a test reads next is live (PROTOCOL.md §6.10).
        loop {
            match self.next().await {
                Got::Event(ServerEvent::History(page)) if !page.more => break,
                Got::Event(ServerEvent::History(_)) => {}
                other => panic!("raw login of {user}: expected the history answer, got {other:?}"),
            }
        }
        frame
    }

    /// The next thing received (within [`T`]).
    pub async fn next(&mut self) -> Got {
        self.next_within(T).await
    }

    /// The next thing received within `d`.
    pub async fn next_within(&mut self, d: Duration) -> Got {
        let frame = match tokio::time::timeout(d, self.reader.read_frame()).await {
            Err(_) => return Got::Silent,
            Ok(Ok(None)) => return Got::Closed,
            Ok(Err(e)) => return Got::Broken(e.to_string()),
            Ok(Ok(Some(f))) => f,
        };
        let msg = match RawMessage::parse(&frame) {
            Ok(m) => m,
            Err(e) => return Got::Unreadable(e.to_string()),
        };
        match msg.code.as_str() {
            code::HELLO => match Hello::from_message(&msg) {
                Ok(h) => {
                    self.nonce = h.nonce;
                    Got::Hello
                }
                Err(e) => Got::Unreadable(e.to_string()),
            },
            code::ERROR => match ErrorMsg::from_message(&msg) {
                Ok(e) => Got::Error(e),
                Err(e) => Got::Unreadable(e.to_string()),
            },
            _ => {
                let Some(recv) = self.recv.as_mut() else {
                    return Got::Unreadable(format!("sealed {} before login", msg.code));
                };
                match recv.open_msg(&msg) {
                    Ok(ev) => Got::Event(ev),
                    Err(e) => Got::Unreadable(e.to_string()),
                }
            }
        }
    }

    /// The server's answer to a bad input, for the table: a `1009` (then the connection must
    /// end: `"1009 R, closed"`), a `WARN` notice (then a ping with the channel's next sequence
    /// number: `"1004 WARN, session continues"` when it gets its pong, `"1004 WARN, the next frame
    /// gets 1009 R, closed"` when the server ends the session instead), or the connection ending
    /// without a word.
    pub async fn answer(&mut self) -> (String, Option<String>) {
        self.answer_within(T).await
    }

    /// [`Self::answer`] with a longer wait for the first frame.
    pub async fn answer_within(&mut self, d: Duration) -> (String, Option<String>) {
        match self.next_within(d).await {
            Got::Error(e) => {
                let after = self.next().await;
                let tail = if after.is_end() {
                    "closed".to_owned()
                } else {
                    format!("then {after:?}")
                };
                (format!("1009 {}, {tail}", e.reason), Some(e.message))
            }
            Got::Event(ServerEvent::Notice(n)) if n.kind == NoticeKind::Warn => {
                let ping = self.seal(code::PING, "");
                self.send_frame(ping.as_bytes()).await;
                let tail = match self.next().await {
                    Got::Event(ServerEvent::Pong) => "session continues".to_owned(),
                    // The rejected frame used up a sequence number the server never received.
                    Got::Error(e) => {
                        let after = self.next().await;
                        let end = if after.is_end() {
                            "closed".to_owned()
                        } else {
                            format!("then {after:?}")
                        };
                        format!("the next frame gets 1009 {}, {end}", e.reason)
                    }
                    other => format!("then {other:?}"),
                };
                (format!("1004 WARN, {tail}"), Some(n.text))
            }
            other if other.is_end() => ("connection closed, no 1009".into(), None),
            other => (other.describe(), None),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Men in the middle

/// Which way a frame travels through a [`FrameProxy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    ToServer,
    ToClient,
}

/// What a [`FrameProxy`] does with one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// Delete this frame only (an on-path attacker); the connection goes on.
    Drop,
    /// Drop the frame and both connections.
    Close,
}

type Hook = Arc<dyn Fn(Dir, &[u8]) -> Verdict + Send + Sync>;

/// A proxy that forwards whole frames to 127.0.0.1:`upstream`, asking a hook about each.
pub struct FrameProxy {
    pub port: u16,
    task: JoinHandle<()>,
}

impl FrameProxy {
    pub async fn start(
        upstream: u16,
        hook: impl Fn(Dir, &[u8]) -> Verdict + Send + Sync + 'static,
    ) -> Self {
        let hook: Hook = Arc::new(hook);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let task = tokio::spawn(async move {
            while let Ok((down, _)) = listener.accept().await {
                let hook = hook.clone();
                tokio::spawn(async move {
                    let Ok(up) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                        return;
                    };
                    let (dr, dw) = down.into_split();
                    let (ur, uw) = up.into_split();
                    tokio::select! {
                        () = pump(dr, uw, Dir::ToServer, hook.clone()) => {}
                        () = pump(ur, dw, Dir::ToClient, hook) => {}
                    }
                });
            }
        });
        Self { port, task }
    }
}

impl Drop for FrameProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pump(r: OwnedReadHalf, w: OwnedWriteHalf, dir: Dir, hook: Hook) {
    let mut r = FrameReader::new(r);
    let mut w = FrameWriter::new(w);
    while let Ok(Some(frame)) = r.read_frame().await {
        match hook(dir, &frame) {
            Verdict::Pass => {
                if w.write_frame(&frame).await.is_err() {
                    return;
                }
            }
            Verdict::Drop => {}
            Verdict::Close => return,
        }
    }
}

/// A byte-level TCP forwarder to `upstream` that can be cut (listener closed so connections
/// are refused, every open connection closed) and restored on the same port.
pub struct TcpProxy {
    pub port: u16,
    upstream: String,
    accept: Mutex<Option<JoinHandle<()>>>,
    conns: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl TcpProxy {
    pub async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let proxy = Self {
            port,
            upstream: upstream.to_owned(),
            accept: Mutex::new(None),
            conns: Arc::new(Mutex::new(Vec::new())),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let upstream = self.upstream.clone();
        let conns = self.conns.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut down, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let h = tokio::spawn(async move {
                    if let Ok(mut up) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                    }
                });
                conns.lock().unwrap().push(h.abort_handle());
            }
        });
        *self.accept.lock().unwrap() = Some(task);
    }

    fn abort_all(&self) {
        if let Some(t) = self.accept.lock().unwrap().take() {
            t.abort();
        }
        for h in self.conns.lock().unwrap().drain(..) {
            h.abort();
        }
    }

    /// "Stop the database": close the listening socket (new connections are refused) and every
    /// forwarded connection; returns once a connection attempt is refused.
    pub async fn cut(&self) {
        self.abort_all();
        within("proxy port to refuse connections", async {
            while TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
    }

    /// "Start the database again": listen on the same port.
    pub async fn restore(&self) {
        let deadline = Instant::now() + T;
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(l) => break l,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("cannot listen on the proxy port {} again: {e}", self.port),
            }
        };
        self.serve(listener);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.abort_all();
    }
}

/// A Markdown table cell: `|` escaped, newlines flattened.
pub fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Run `exe --config CONFIG ARGS` with `stdin`; panics with its output unless it succeeds.
fn run_admin(exe: &Path, config: &Path, args: &[&str], stdin: &str) -> String {
    use std::io::Write;
    let mut child = Command::new(exe)
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", exe.display()));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("admin command");
    assert!(
        out.status.success(),
        "{} {args:?} failed: {}{}",
        exe.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A request for `user` carrying `carried`'s public key, signed by `signer`, for this hello.
pub fn signed_request(
    hello: &KeyHello,
    user: &str,
    carried: &PrivateKey,
    signer: &PrivateKey,
) -> (KeyRequest, Transcript) {
    let public = carried.public_key();
    let t = Transcript {
        username: user.to_owned(),
        client_fingerprint: public.fingerprint(),
        server_fingerprint: fingerprint(&hello.server_pub),
        server_nonce: hello.server_nonce,
        client_nonce: random::bytes::<16>(),
    };
    let req = KeyRequest {
        username: user.to_owned(),
        client_pub: public.to_der(),
        client_nonce: t.client_nonce,
        signature: signer.sign(&t.request_bytes()),
    };
    (req, t)
}
