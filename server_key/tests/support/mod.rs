//! Helpers shared by the server_key integration tests (each test binary uses a subset):
//! a pool of RSA keys generated once per binary, in-process servers on 127.0.0.1:0, client
//! folders, a frame-level man-in-the-middle proxy, and folder snapshots.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use common::client::folder::ClientFolder;
use common::client::key_client::{KeyStepError, KeyStepOptions, KeyStepOutcome, run_key_step};
use common::config::{ClientConfig, Registration};
use common::connection::{FrameReader, FrameWriter};
use common::crypto::PrivateKey;
use common::protocol::message::b64;
use common::protocol::{RawMessage, Reason};
use common::trace::Trace;
use server_key::keystore::KeyStore;
use server_key::server::{KeyServer, run};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

// ---------------------------------------------------------------------------------------------
// Keys

/// Pool indices. Keys are shared between tests (each test has its own key folders), so the
/// binary generates each 2048-bit key at most once.
pub const SERVER_A: usize = 0;
pub const SERVER_B: usize = 1;
pub const CLIENT_1: usize = 2;
pub const CLIENT_2: usize = 3;
pub const CLIENT_3: usize = 4;
pub const CLIENT_X: usize = 5;
const POOL_LEN: usize = 6;

static POOL: [OnceLock<PrivateKey>; POOL_LEN] = [const { OnceLock::new() }; POOL_LEN];
static SMALL: OnceLock<PrivateKey> = OnceLock::new();

/// The 2048-bit pool key `i`, generated on first use.
pub fn key(i: usize) -> &'static PrivateKey {
    POOL[i].get_or_init(|| PrivateKey::generate(2048).expect("generate a 2048-bit key"))
}

/// A 1024-bit key (loadable, but below what server_key accepts from clients).
pub fn small_key() -> &'static PrivateKey {
    SMALL.get_or_init(|| PrivateKey::generate(1024).expect("generate a 1024-bit key"))
}

/// Generate several pool keys in parallel (each on its own thread).
pub fn warm(indices: &[usize]) {
    std::thread::scope(|s| {
        for &i in indices {
            s.spawn(move || {
                key(i);
            });
        }
    });
}

/// Write `identity` as the server key pair in `key_dir`, so `KeyStore::server_identity` loads it.
pub fn seed_identity(key_dir: &Path, identity: &PrivateKey) {
    identity
        .save(
            &key_dir.join("server_private.pem"),
            &key_dir.join("server_public.pem"),
        )
        .expect("seed server identity");
}

// ---------------------------------------------------------------------------------------------
// Servers

/// A real `server_key` running in this process.
pub struct TestServer {
    pub port: u16,
    pub server: Arc<KeyServer>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Start on 127.0.0.1:0 with the identity in (or created in) `key_dir`.
    pub async fn start(key_dir: &Path, registration: Registration) -> Self {
        Self::start_with(key_dir, registration, 0, |_| {}).await
    }

    /// Start on 127.0.0.1:`port` (0 = any), letting `configure` adjust the server first.
    pub async fn start_with(
        key_dir: &Path,
        registration: Registration,
        port: u16,
        configure: impl FnOnce(&mut KeyServer),
    ) -> Self {
        let store = KeyStore::new(key_dir.to_path_buf());
        let (identity, _created) = store.server_identity(2048).expect("server identity");
        let mut server = KeyServer::new(
            store,
            identity,
            registration,
            common::config::SessionTtl::from_hours(24),
            Trace::default(),
        );
        configure(&mut server);
        let server = Arc::new(server);
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind 127.0.0.1");
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(run(listener, server.clone(), async move {
            let _ = rx.await;
        }));
        Self {
            port,
            server,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Stop accepting (the shutdown future completes) and wait for the accept loop to end.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .expect("accept loop ends after shutdown")
                .expect("accept loop did not panic");
        }
    }

    pub fn fingerprint(&self) -> &str {
        &self.server.fingerprint
    }

    pub fn session_path(&self, user: &str) -> PathBuf {
        self.server.store.session_path(user)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Clients

/// A client folder in `dir` talking to 127.0.0.1:`port` as `user`, with `key` as its client key
/// pair (written to the folder) or, when `None`, a key created by the first key step.
pub fn client(dir: &Path, port: u16, user: &str, key: Option<&PrivateKey>) -> ClientFolder {
    std::fs::create_dir_all(dir).unwrap();
    let config = ClientConfig {
        server_host: "127.0.0.1".into(),
        key_port: port,
        username: user.into(),
        ..Default::default()
    };
    let folder = ClientFolder::new(config, dir.to_path_buf(), "client_test");
    if let Some(k) = key {
        k.save(&folder.private_key_path(), &folder.public_key_path())
            .expect("save client key");
    }
    folder
}

/// Key step options for tests: a short answer deadline so a hang fails fast.
pub fn opts() -> KeyStepOptions {
    KeyStepOptions {
        timeout: Duration::from_secs(10),
        ..KeyStepOptions::default()
    }
}

/// Run the key step with the folder's own key pair.
pub async fn key_step(folder: &ClientFolder) -> Result<KeyStepOutcome, KeyStepError> {
    run_key_step(folder, opts()).await
}

/// The refusal reason and message, panicking on any other outcome.
pub fn refused(r: Result<KeyStepOutcome, KeyStepError>) -> (Reason, String) {
    match r {
        Err(KeyStepError::Refused { reason, message }) => (reason, message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Snapshots

/// Every file under `dir` (recursively) with its content: "nothing stored" means equal snapshots.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.insert(
                    p.strip_prefix(base).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// File names in a snapshot (for readable assertion messages).
pub fn names(s: &BTreeMap<PathBuf, Vec<u8>>) -> Vec<String> {
    s.keys().map(|p| p.display().to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// Frames

/// Parse a frame payload.
pub fn parse(frame: &[u8]) -> RawMessage {
    RawMessage::parse(frame).expect("a protocol message")
}

/// The message code of a frame payload.
pub fn code_of(frame: &[u8]) -> String {
    parse(frame).code
}

/// Rewrite field `index` of a message with `f`.
pub fn edit_field(frame: &[u8], index: usize, f: impl FnOnce(&str) -> String) -> Vec<u8> {
    let mut m = parse(frame);
    m.fields[index] = f(&m.fields[index]);
    m.to_text().into_bytes()
}

/// Decode a base64 field, flip one bit in its middle byte, re-encode: the field still parses.
pub fn flip_b64(field: &str) -> String {
    let m = RawMessage::new("", vec![field.to_owned()]);
    let mut bytes = m.bytes(0).expect("base64 field");
    let i = bytes.len() / 2;
    bytes[i] ^= 0x01;
    b64(bytes)
}

/// Replace the middle hex digit with another lowercase hex digit: the field still parses.
pub fn flip_hex(field: &str) -> String {
    let mut b = field.as_bytes().to_vec();
    let i = b.len() / 2;
    b[i] = if b[i] == b'0' { b'1' } else { b'0' };
    String::from_utf8(b).unwrap()
}

/// Move an RFC 3339 time one year on (last digit of the year): still a valid time.
pub fn flip_year(field: &str) -> String {
    let mut b = field.as_bytes().to_vec();
    b[3] = b'0' + (b[3] - b'0' + 1) % 10;
    String::from_utf8(b).unwrap()
}

/// Flip the low bit of the middle byte of the field's text as sent (may no longer parse).
pub fn flip_raw(field: &str) -> String {
    let mut b = field.as_bytes().to_vec();
    let i = b.len() / 2;
    b[i] ^= 0x01;
    String::from_utf8(b).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Man in the middle

/// Which way a frame travels through the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    ToServer,
    ToClient,
}

/// What the proxy does with one frame.
#[derive(Debug)]
pub enum Verdict {
    /// Forward unchanged.
    Pass,
    /// Forward this instead.
    Replace(Vec<u8>),
    /// Drop the frame and both connections.
    Close,
    /// Forward the frame, then drop both connections.
    PassThenClose,
}

type Hook = Arc<dyn Fn(Dir, &[u8]) -> Verdict + Send + Sync>;

/// A TCP proxy in front of a server that forwards whole frames and lets a hook rewrite them.
pub struct Proxy {
    pub port: u16,
    hook: Arc<Mutex<Hook>>,
    finished: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// A pass-through proxy to 127.0.0.1:`upstream`.
    pub async fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let pass: Hook = Arc::new(|_, _| Verdict::Pass);
        let hook = Arc::new(Mutex::new(pass));
        let finished = Arc::new(AtomicUsize::new(0));
        let (h, f) = (hook.clone(), finished.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((down, _)) = listener.accept().await else {
                    continue;
                };
                let hook = h.lock().unwrap().clone();
                let finished = f.clone();
                tokio::spawn(async move {
                    if let Ok(up) = TcpStream::connect(("127.0.0.1", upstream)).await {
                        let _ = (down.set_nodelay(true), up.set_nodelay(true));
                        let (dr, dw) = down.into_split();
                        let (ur, uw) = up.into_split();
                        let to_server = pump(dr, uw, Dir::ToServer, hook.clone());
                        let to_client = pump(ur, dw, Dir::ToClient, hook);
                        tokio::pin!(to_server, to_client);
                        // A direction that ends normally half-closes its side; a Close verdict
                        // drops everything at once.
                        tokio::select! {
                            close = &mut to_server => if !close { to_client.await; },
                            close = &mut to_client => if !close { to_server.await; },
                        }
                    }
                    finished.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        Self {
            port,
            hook,
            finished,
            task,
        }
    }

    /// Use `f` for connections accepted from now on.
    pub fn set_hook(&self, f: impl Fn(Dir, &[u8]) -> Verdict + Send + Sync + 'static) {
        *self.hook.lock().unwrap() = Arc::new(f);
    }

    /// Wait until `n` proxied connections have ended on both sides.
    pub async fn wait_finished(&self, n: usize) {
        tokio::time::timeout(Duration::from_secs(10), async {
            while self.finished.load(Ordering::SeqCst) < n {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("proxied connections end");
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Forward frames one way. Returns true when the hook asked to close everything.
async fn pump(r: OwnedReadHalf, w: OwnedWriteHalf, dir: Dir, hook: Hook) -> bool {
    let mut r = FrameReader::new(r);
    let mut w = FrameWriter::new(w);
    loop {
        let frame = match r.read_frame().await {
            Ok(Some(f)) => f,
            _ => {
                w.shutdown().await;
                return false;
            }
        };
        let sent = match hook(dir, &frame) {
            Verdict::Pass => w.write_frame(&frame).await,
            Verdict::Replace(other) => w.write_frame(&other).await,
            Verdict::Close => return true,
            Verdict::PassThenClose => {
                let _ = w.write_frame(&frame).await;
                return true;
            }
        };
        if sent.is_err() {
            return false;
        }
    }
}
