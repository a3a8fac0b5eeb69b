//! Harness shared by the `chat_*.rs` integration tests (included with
//! `#[path = "common/mod.rs"] mod harness;`, so the name does not clash with the `common` crate).
//!
//! - [`TestServer`]: the real chat server ([`server::server::run`]) in-process on 127.0.0.1:0,
//!   with its own temporary session-key folder. Session keys skip the RSA key step: the harness
//!   generates a [`SessionKey`] and writes the server's `<user>.txt` itself.
//! - [`Client`]: a session through the client library ([`chat_client::login_with_key`]).
//! - [`Raw`]: a raw TCP connection whose sealed [`Channel`] the test controls, for forged,
//!   tampered, replayed and malformed frames.
//! - [`SwitchableStore`]: a [`UserStore`] that can be "stopped" (every call fails with
//!   [`DbError::Unavailable`]) and started again.
//!
//! Every await goes through [`within`] (or an explicit timeout), so a bug fails the test instead
//! of hanging it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::client::chat_client::{
    self, ChatReceiver, ChatSender, Incoming, LoginError, LoginInfo,
};
use common::client::folder::ClientFolder;
use common::config::ClientConfig;
use common::connection::{FrameReader, FrameWriter};
use common::crypto::SessionKey;
use common::crypto::password::hash_password_with;
use common::keyfile::KeyFile;
use common::protocol::RawMessage;
use common::protocol::chat::{
    ChatLine, ClientRequest, ErrorMsg, Hello, Notice, NoticeKind, OnlineUser, ServerEvent,
    login_request,
};
use common::protocol::consts::code;
use common::protocol::message::b64;
use common::protocol::sealed::{Channel, Opener, Sealer};
use server::db::{self, DbError, UserRecord, UserStore};
use server::server::Settings;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

mod wait;
pub use wait::{PW, T, within};
/// How long "nothing arrives" is watched for.
pub const QUIET: Duration = Duration::from_millis(250);

/// A fresh seeded in-memory store (user1/user2/user3, password 111111), exactly as the server
/// opens it. Seeding costs three full-strength PBKDF2 hashes (slow in a debug build).
pub fn memory_store() -> Arc<dyn UserStore> {
    db::open("sqlite::memory:").expect("sqlite::memory: opens and seeds")
}

/// PBKDF2 iterations of the seed users in [`fast_store`].
pub const FAST_ITERATIONS: u32 = 1_000;

/// The seed users in a SQLite file at `path`, hashed with [`FAST_ITERATIONS`] so that the many
/// logins of these tests stay fast in a debug build (the hash records its own cost, so the
/// server verifies them unchanged), then opened with [`db::open`] like the server does.
pub fn fast_store(path: &Path) -> Arc<dyn UserStore> {
    let conn = rusqlite::Connection::open(path).expect("create test database");
    conn.execute_batch(include_str!("../../../sql/sqlite_schema.sql"))
        .expect("schema");
    for (user, password, nickname) in db::SEED_USERS {
        conn.execute(
            "INSERT INTO users (user_name, user_password, user_nickname) VALUES (?1, ?2, ?3)",
            rusqlite::params![
                user,
                hash_password_with(password, FAST_ITERATIONS),
                nickname
            ],
        )
        .expect("insert seed user");
    }
    drop(conn);
    db::open(&format!("sqlite://{}", path.display())).expect("open test database")
}

/// A chat message to everyone.
pub fn say(text: &str) -> ClientRequest {
    ClientRequest::Chat {
        to: None,
        text: text.to_owned(),
    }
}

/// A private chat message.
pub fn whisper(to: &str, text: &str) -> ClientRequest {
    ClientRequest::Chat {
        to: Some(to.to_owned()),
        text: text.to_owned(),
    }
}

/// A session key for `user` valid for an hour.
pub fn new_key(user: &str) -> SessionKey {
    SessionKey::generate(user, time::Duration::hours(1))
}

/// The key-file form of `key`.
pub fn key_file(key: &SessionKey) -> KeyFile {
    KeyFile {
        key: key.clone(),
        created_at: time::OffsetDateTime::now_utc(),
        server_fingerprint: "test".into(),
        client_fingerprint: "test".into(),
        clock_offset_secs: None,
    }
}

/// The online list for these `(username, nickname)` pairs.
pub fn online(users: &[(&str, &str)]) -> Vec<OnlineUser> {
    users
        .iter()
        .map(|(u, n)| OnlineUser {
            username: (*u).to_owned(),
            nickname: (*n).to_owned(),
        })
        .collect()
}

/// Nickname of a seed user.
pub fn nick(user: &str) -> &'static str {
    match user {
        "user1" => "wang_yuan",
        "user2" => "ding_zhen",
        "user3" => "cxk",
        other => panic!("no seed user {other}"),
    }
}

/// The chat server running in this process.
pub struct TestServer {
    pub addr: SocketAddr,
    pub store: Arc<dyn UserStore>,
    /// The server's session-key folder (server_key's `sessions/`).
    pub sessions: PathBuf,
    dir: tempfile::TempDir,
    keys: Mutex<HashMap<String, Arc<SessionKey>>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    /// A server on a fresh [`fast_store`] with default settings.
    pub async fn start() -> Self {
        Self::start_tweaked(|_| {}).await
    }

    /// A server on a fresh [`fast_store`], with settings adjusted by `tweak`.
    pub async fn start_tweaked(tweak: impl FnOnce(&mut Settings)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = fast_store(&dir.path().join("users.db"));
        Self::launch(dir, store, tweak).await
    }

    /// A server on `store`, with settings adjusted by `tweak`.
    pub async fn start_with(store: Arc<dyn UserStore>, tweak: impl FnOnce(&mut Settings)) -> Self {
        Self::launch(tempfile::tempdir().expect("tempdir"), store, tweak).await
    }

    async fn launch(
        dir: tempfile::TempDir,
        store: Arc<dyn UserStore>,
        tweak: impl FnOnce(&mut Settings),
    ) -> Self {
        let sessions = dir.path().join("sessions");
        std::fs::create_dir_all(&sessions).expect("sessions dir");
        let mut settings = Settings::new(sessions.clone());
        tweak(&mut settings);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::server::run(
            listener,
            store.clone(),
            settings,
            async move {
                let _ = stopped.await;
            },
        ));
        Self {
            addr,
            store,
            sessions,
            dir,
            keys: Mutex::new(HashMap::new()),
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Trigger the shutdown future and wait for `run()` to complete.
    pub async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            within("server run() to complete after shutdown", task)
                .await
                .expect("server task panicked");
        }
    }

    /// Write `key` as the server's session key for its user (what server_key does).
    pub fn write_key(&self, key: &SessionKey) {
        key_file(key)
            .save(&self.sessions.join(format!("{}.txt", key.username)))
            .expect("save server key file");
    }

    /// Distribute a new key for `user` (replacing any earlier one) and return it.
    pub fn issue_key(&self, user: &str) -> Arc<SessionKey> {
        let key = Arc::new(new_key(user));
        self.write_key(&key);
        self.keys
            .lock()
            .unwrap()
            .insert(user.to_owned(), key.clone());
        key
    }

    /// The current key for `user`, distributed on first use.
    pub fn key(&self, user: &str) -> Arc<SessionKey> {
        let existing = self.keys.lock().unwrap().get(user).cloned();
        existing.unwrap_or_else(|| self.issue_key(user))
    }

    /// A client folder for `user` pointing at this server (created, without a session key).
    pub fn folder(&self, user: &str) -> ClientFolder {
        let folder = self.folder_at(user, self.dir.path().join("clients").join(user));
        std::fs::create_dir_all(&folder.dir).expect("client dir");
        folder
    }

    /// A client folder whose files are never touched (any username, even a hostile one).
    fn folder_at(&self, user: &str, dir: PathBuf) -> ClientFolder {
        ClientFolder::new(
            ClientConfig {
                server_host: "127.0.0.1".into(),
                chat_port: self.addr.port(),
                username: user.to_owned(),
                ..Default::default()
            },
            dir,
            "client_test",
        )
    }

    /// Log in through the client library with an explicit key and password.
    pub async fn try_login(
        &self,
        user: &str,
        key: Arc<SessionKey>,
        password: &str,
    ) -> Result<(ChatSender, ChatReceiver, LoginInfo), LoginError> {
        within(
            &format!("login of {user}"),
            chat_client::login_with_key(
                &self.folder_at(user, self.dir.path().join("unused")),
                key,
                password,
                T,
            ),
        )
        .await
    }

    /// The login error for these credentials (panics if the login succeeds).
    pub async fn login_error(
        &self,
        user: &str,
        key: Arc<SessionKey>,
        password: &str,
    ) -> LoginError {
        match self.try_login(user, key, password).await {
            Ok(_) => panic!("login of {user:?} unexpectedly succeeded"),
            Err(e) => e,
        }
    }

    /// Log in a seed user (its current key, password 111111) and read the initial user list.
    pub async fn login(&self, user: &str) -> Client {
        let (tx, rx, info) = self
            .try_login(user, self.key(user), PW)
            .await
            .unwrap_or_else(|e| panic!("login of {user} failed: {e}"));
        Client::after_login(user, tx, rx, info).await
    }

    /// A raw connection that has read the server's hello.
    pub async fn raw(&self) -> Raw {
        let stream = within("connect", TcpStream::connect(self.addr))
            .await
            .expect("connect");
        Raw::after_connect(stream).await
    }

    /// A raw connection whose socket receive buffer is `recv_buf` bytes (a slow reader).
    pub async fn raw_small_buffer(&self, recv_buf: u32) -> Raw {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(recv_buf).expect("SO_RCVBUF");
        let stream = within("connect", socket.connect(self.addr))
            .await
            .expect("connect");
        Raw::after_connect(stream).await
    }

    /// A raw connection logged in as `user` (its current key), initial user list read.
    pub async fn raw_login(&self, user: &str) -> Raw {
        let mut raw = self.raw().await;
        raw.login_ok(user, self.key(user)).await;
        raw
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A logged-in session through the client library.
pub struct Client {
    pub user: String,
    pub info: LoginInfo,
    pub tx: ChatSender,
    pub rx: ChatReceiver,
    /// The `1003` user list that followed the login.
    pub online: Vec<OnlineUser>,
}

impl Client {
    pub async fn after_login(
        user: &str,
        tx: ChatSender,
        mut rx: ChatReceiver,
        info: LoginInfo,
    ) -> Self {
        let online = match within("user list after login", rx.next()).await {
            Ok(Some(Incoming::Event {
                event: ServerEvent::UserList(list),
                ..
            })) => list,
            other => panic!("{user}: expected the user list after login, got {other:?}"),
        };
        Self {
            user: user.to_owned(),
            info,
            tx,
            rx,
            online,
        }
    }

    /// Send one request.
    pub async fn send(&mut self, req: &ClientRequest) {
        within(&format!("{} sending", self.user), self.tx.send(req))
            .await
            .unwrap_or_else(|e| panic!("{} send failed: {e}", self.user));
    }

    pub async fn say(&mut self, text: &str) {
        self.send(&say(text)).await;
    }

    /// Next thing received; panics on timeout or a closed connection.
    pub async fn next(&mut self) -> Incoming {
        let what = format!("{} waiting for a frame", self.user);
        match within(&what, self.rx.next()).await {
            Ok(Some(i)) => i,
            Ok(None) => panic!("{}: the server closed the connection", self.user),
            Err(e) => panic!("{}: connection error: {e}", self.user),
        }
    }

    /// Next thing received within `d`, or `None`.
    pub async fn next_within(&mut self, d: Duration) -> Option<Incoming> {
        match tokio::time::timeout(d, self.rx.next()).await {
            Err(_) => None,
            Ok(Ok(Some(i))) => Some(i),
            Ok(other) => panic!("{}: connection ended: {other:?}", self.user),
        }
    }

    /// Assert nothing arrives for [`QUIET`].
    pub async fn assert_quiet(&mut self) {
        if let Some(i) = self.next_within(QUIET).await {
            panic!("{}: expected nothing, got {i:?}", self.user);
        }
    }

    /// Next authenticated event (panics on anything else).
    pub async fn event(&mut self) -> ServerEvent {
        match self.next().await {
            Incoming::Event { event, .. } => event,
            other => panic!("{}: expected an event, got {other:?}", self.user),
        }
    }

    /// Next event, which must be a chat message.
    pub async fn chat(&mut self) -> ChatLine {
        match self.event().await {
            ServerEvent::Chat(c) => c,
            other => panic!("{}: expected a chat message, got {other:?}", self.user),
        }
    }

    /// Next chat message, skipping notices.
    pub async fn chat_skipping_notices(&mut self) -> ChatLine {
        loop {
            match self.event().await {
                ServerEvent::Chat(c) => return c,
                ServerEvent::Notice(_) => {}
                other => panic!("{}: expected a chat message, got {other:?}", self.user),
            }
        }
    }

    /// Next event, which must be a notice of `kind`.
    pub async fn notice(&mut self, kind: NoticeKind) -> Notice {
        match self.event().await {
            ServerEvent::Notice(n) if n.kind == kind => n,
            other => panic!("{}: expected a {kind:?} notice, got {other:?}", self.user),
        }
    }

    /// Next event, which must be a JOIN of `user`.
    pub async fn joined(&mut self, user: &str) {
        let n = self.notice(NoticeKind::Join).await;
        assert_eq!((n.user.as_str(), n.nick.as_str()), (user, nick(user)));
    }

    /// Next event, which must be a LEAVE of `user`; returns its text.
    pub async fn left(&mut self, user: &str) -> String {
        let n = self.notice(NoticeKind::Leave).await;
        assert_eq!((n.user.as_str(), n.nick.as_str()), (user, nick(user)));
        n.text
    }

    /// Read until a plain `1009` error (skipping sealed events), then expect the connection to
    /// close. Returns the error.
    pub async fn closed_with(&mut self) -> ErrorMsg {
        loop {
            match self.next().await {
                Incoming::ServerError(e) => {
                    self.expect_eof().await;
                    return e;
                }
                Incoming::Rejected { why, wire } => {
                    panic!("{}: rejected frame {why}: {wire}", self.user)
                }
                Incoming::Event { .. } => {}
            }
        }
    }

    /// The server closes the connection next.
    pub async fn expect_eof(&mut self) {
        let what = format!("{} waiting for the connection to close", self.user);
        match within(&what, self.rx.next()).await {
            Ok(None) | Err(_) => {}
            Ok(Some(i)) => panic!("{}: expected the connection to close, got {i:?}", self.user),
        }
    }

    /// Log out and wait until the server closes the connection.
    pub async fn logout(mut self) {
        self.send(&ClientRequest::Logout).await;
        loop {
            let what = format!("{} waiting for logout", self.user);
            match within(&what, self.rx.next()).await {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return,
            }
        }
    }
}

/// A raw connection: frames in and out under the test's control.
pub struct Raw {
    pub reader: FrameReader<OwnedReadHalf>,
    pub writer: FrameWriter<OwnedWriteHalf>,
    /// The connection nonce from the server's hello.
    pub nonce: [u8; 16],
    /// The sealing side of this connection's channel, once logged in.
    pub send: Option<Sealer>,
    /// The opening side.
    pub recv: Option<Opener>,
    /// The login frame this connection sent (for replays).
    pub login_frame: Option<String>,
}

impl Raw {
    /// Wrap a connected stream without reading anything.
    pub fn wrap(stream: TcpStream) -> Self {
        let _ = stream.set_nodelay(true);
        let (r, w) = stream.into_split();
        Self {
            reader: FrameReader::new(r),
            writer: FrameWriter::new(w),
            nonce: [0; 16],
            send: None,
            recv: None,
            login_frame: None,
        }
    }

    async fn after_connect(stream: TcpStream) -> Self {
        let mut raw = Self::wrap(stream);
        let frame = raw.frame().await.expect("hello");
        let msg = RawMessage::parse(&frame).expect("hello parses");
        raw.nonce = Hello::from_message(&msg).expect("a hello").nonce;
        raw
    }

    /// Set up this connection's channel with `key` (what a client does after the hello).
    pub fn use_key(&mut self, key: Arc<SessionKey>) {
        let (send, recv) = Channel::client(key, &self.nonce).split();
        self.send = Some(send);
        self.recv = Some(recv);
    }

    /// Send a login for `user` with `key`; returns the frame sent.
    pub async fn send_login(&mut self, user: &str, key: Arc<SessionKey>, password: &str) -> String {
        let key_id = key.key_id.clone();
        self.use_key(key);
        let frame = login_request(self.send.as_mut().unwrap(), user, &key_id, password);
        self.send_text(&frame).await;
        self.login_frame = Some(frame.clone());
        frame
    }

    /// Log in and read the login result and the user list (panics on refusal).
    pub async fn login_ok(&mut self, user: &str, key: Arc<SessionKey>) -> Vec<OnlineUser> {
        self.send_login(user, key, PW).await;
        match self.event().await {
            ServerEvent::LoginOk { username, .. } => assert_eq!(username, user),
            other => panic!("raw {user}: expected login ok, got {other:?}"),
        }
        match self.event().await {
            ServerEvent::UserList(list) => list,
            other => panic!("raw {user}: expected the user list, got {other:?}"),
        }
    }

    /// Seal `req` with this connection's channel (not sent).
    pub fn seal(&mut self, req: &ClientRequest) -> String {
        self.send
            .as_mut()
            .expect("logged in")
            .seal_msg(req)
            .expect("a test request fits a frame")
    }

    /// Seal and send `req`; returns the frame text.
    pub async fn send_req(&mut self, req: &ClientRequest) -> String {
        let text = self.seal(req);
        self.send_text(&text).await;
        text
    }

    /// Send one frame with this payload.
    pub async fn send_text(&mut self, text: &str) {
        within("write frame", self.writer.write_frame(text.as_bytes()))
            .await
            .expect("write frame");
    }

    /// Write raw bytes (headers, partial frames).
    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        let w = self.writer.get_mut();
        within("write bytes", async {
            w.write_all(bytes).await?;
            w.flush().await
        })
        .await
        .expect("write bytes");
    }

    /// Next frame payload; `None` when the connection ended (cleanly or not).
    pub async fn frame(&mut self) -> Option<Vec<u8>> {
        within("raw read", self.reader.read_frame())
            .await
            .ok()
            .flatten()
    }

    /// Next thing received, decoded; `None` when the connection ended.
    pub async fn next(&mut self) -> Option<Incoming> {
        let frame = self.frame().await?;
        Some(self.decode(&frame))
    }

    fn decode(&mut self, frame: &[u8]) -> Incoming {
        let wire = String::from_utf8_lossy(frame).into_owned();
        let msg = match RawMessage::parse(frame) {
            Ok(m) => m,
            Err(e) => {
                return Incoming::Rejected {
                    why: e.to_string(),
                    wire,
                };
            }
        };
        if msg.code == code::ERROR {
            return Incoming::ServerError(ErrorMsg::from_message(&msg).expect("a 1009 error"));
        }
        let Some(recv) = self.recv.as_mut() else {
            return Incoming::Rejected {
                why: "sealed frame before login".into(),
                wire,
            };
        };
        match recv.open_msg(&msg) {
            Ok(event) => Incoming::Event { event, wire },
            Err(e) => Incoming::Rejected {
                why: e.to_string(),
                wire,
            },
        }
    }

    /// Next authenticated event (panics on anything else).
    pub async fn event(&mut self) -> ServerEvent {
        match self.next().await {
            Some(Incoming::Event { event, .. }) => event,
            other => panic!("raw: expected an event, got {other:?}"),
        }
    }

    /// Next event, which must be a notice of `kind`.
    pub async fn notice(&mut self, kind: NoticeKind) -> Notice {
        match self.event().await {
            ServerEvent::Notice(n) if n.kind == kind => n,
            other => panic!("raw: expected a {kind:?} notice, got {other:?}"),
        }
    }

    /// Read until a `1009` error, skipping sealed events; then the connection must end.
    pub async fn closed_with(&mut self) -> ErrorMsg {
        loop {
            match self.next().await {
                Some(Incoming::ServerError(e)) => {
                    if let Some(more) = self.next().await {
                        panic!("raw: expected the connection to close after {e:?}, got {more:?}");
                    }
                    return e;
                }
                Some(Incoming::Event { .. }) => {}
                Some(other) => panic!("raw: unexpected {other:?}"),
                None => panic!("raw: connection closed without a 1009 error"),
            }
        }
    }

    /// The next frame is a `1009` error, then the connection ends.
    pub async fn error_then_close(&mut self) -> ErrorMsg {
        match self.next().await {
            Some(Incoming::ServerError(e)) => {
                if let Some(more) = self.next().await {
                    panic!("raw: expected the connection to close after {e:?}, got {more:?}");
                }
                e
            }
            other => panic!("raw: expected a 1009 error, got {other:?}"),
        }
    }
}

/// Which part of a sealed frame to damage.
#[derive(Debug, Clone, Copy)]
pub enum Part {
    Seq,
    Iv,
    Ct,
    Mac,
}

/// `frame` (a sealed frame without prefix fields) with one bit of `part` flipped.
pub fn flip_bit(frame: &str, part: Part) -> String {
    let mut msg = RawMessage::parse_str(frame).expect("a sealed frame");
    assert_eq!(msg.fields.len(), 4, "seq|iv|ct|mac");
    let flip_b64 = |field: &str| {
        let mut bytes = msg_bytes(field);
        let i = bytes.len() / 2;
        bytes[i] ^= 0x01;
        b64(bytes)
    };
    match part {
        Part::Seq => {
            let seq: u64 = msg.fields[0].parse().expect("seq");
            msg.fields[0] = (seq ^ 1).to_string();
        }
        Part::Iv => msg.fields[1] = flip_b64(&msg.fields[1]),
        Part::Ct => msg.fields[2] = flip_b64(&msg.fields[2]),
        Part::Mac => msg.fields[3] = flip_b64(&msg.fields[3]),
    }
    let out = msg.to_text();
    assert_ne!(out, frame);
    out
}

fn msg_bytes(field: &str) -> Vec<u8> {
    RawMessage::new(code::CHAT, vec![field.to_owned()])
        .bytes(0)
        .expect("base64 field")
}

/// A [`UserStore`] that delegates to a real one until [`Self::stop`], then fails every call with
/// [`DbError::Unavailable`] until [`Self::start`] (a database outage, without needing one).
pub struct SwitchableStore {
    inner: Arc<dyn UserStore>,
    down: AtomicBool,
}

impl SwitchableStore {
    pub fn new(inner: Arc<dyn UserStore>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            down: AtomicBool::new(false),
        })
    }

    pub fn stop(&self) {
        self.down.store(true, Ordering::SeqCst);
    }

    pub fn start(&self) {
        self.down.store(false, Ordering::SeqCst);
    }

    fn up(&self) -> Result<&dyn UserStore, DbError> {
        if self.down.load(Ordering::SeqCst) {
            Err(DbError::Unavailable(
                "connection refused (test: database stopped)".into(),
            ))
        } else {
            Ok(&*self.inner)
        }
    }
}

impl UserStore for SwitchableStore {
    fn find_user(&self, username: &str) -> Result<Option<UserRecord>, DbError> {
        self.up()?.find_user(username)
    }
    fn list_users(&self) -> Result<Vec<UserRecord>, DbError> {
        self.up()?.list_users()
    }
    fn add_user(&self, username: &str, password_hash: &str, nickname: &str) -> Result<(), DbError> {
        self.up()?.add_user(username, password_hash, nickname)
    }
    fn set_password(
        &self,
        username: &str,
        password_hash: &str,
        must_change: bool,
    ) -> Result<bool, DbError> {
        self.up()?
            .set_password(username, password_hash, must_change)
    }
    fn import_users(&self, users: &[server::db::ImportUser]) -> Result<(), DbError> {
        self.up()?.import_users(users)
    }
    fn remove_user(&self, username: &str) -> Result<bool, DbError> {
        self.up()?.remove_user(username)
    }
    fn init(&self) -> Result<usize, DbError> {
        self.up()?.init()
    }
    fn upgrade_schema(&self) -> Result<(), DbError> {
        self.up()?.upgrade_schema()
    }
    fn replace_password(
        &self,
        user_id: i64,
        expected: &str,
        new_hash: &str,
    ) -> Result<bool, DbError> {
        self.up()?.replace_password(user_id, expected, new_hash)
    }
    fn ping(&self) -> Result<(), DbError> {
        self.up()?.ping()
    }
    fn history_append(&self, rows: &[server::db::HistoryRow]) -> Result<(), DbError> {
        self.up()?.history_append(rows)
    }
    fn history_before(
        &self,
        visible: server::db::Visible<'_>,
        before_id: u64,
        limit: usize,
    ) -> Result<Vec<server::db::HistoryRow>, DbError> {
        self.up()?.history_before(visible, before_id, limit)
    }
    fn history_undelivered(
        &self,
        username: &str,
        limit: usize,
    ) -> Result<Vec<server::db::HistoryRow>, DbError> {
        self.up()?.history_undelivered(username, limit)
    }
    fn history_mark_delivered(&self, username: &str, upto: u64) -> Result<(), DbError> {
        self.up()?.history_mark_delivered(username, upto)
    }
    fn history_max_id(&self) -> Result<u64, DbError> {
        self.up()?.history_max_id()
    }
    fn history_purge(&self, before_ms: u64) -> Result<u64, DbError> {
        self.up()?.history_purge(before_ms)
    }
    fn describe(&self) -> String {
        format!("switchable {}", self.inner.describe())
    }
}

/// Text exercising the encodings: Chinese, emoji, `|`, a newline and a NUL.
pub fn tricky_text(from: &str) -> String {
    format!("你好，世界 from {from} 🎉👩‍💻 a|b||c\nsecond line\0after NUL ✓")
}

/// The three-user scenario, against any server: logins with join notices and user lists, each
/// user's message received exactly once by everybody (sender included) with the right sender
/// and identical text, then a logout with its leave notice.
pub async fn three_users_chat(server: &TestServer) {
    let mut u1 = server.login("user1").await;
    assert_eq!(
        u1.info,
        LoginInfo {
            username: "user1".into(),
            nickname: "wang_yuan".into(),
            must_change_password: false,
            chat_addr: u1.info.chat_addr.clone(),
            discovered: None,
        }
    );
    assert_eq!(u1.online, online(&[("user1", "wang_yuan")]));

    let mut u2 = server.login("user2").await;
    assert_eq!(u2.info.nickname, "ding_zhen");
    assert_eq!(
        u2.online,
        online(&[("user1", "wang_yuan"), ("user2", "ding_zhen")])
    );
    u1.joined("user2").await;

    let mut u3 = server.login("user3").await;
    assert_eq!(u3.info.nickname, "cxk");
    assert_eq!(
        u3.online,
        online(&[
            ("user1", "wang_yuan"),
            ("user2", "ding_zhen"),
            ("user3", "cxk")
        ])
    );
    u1.joined("user3").await;
    u2.joined("user3").await;

    let senders = ["user1", "user2", "user3"];
    u1.say(&tricky_text("user1")).await;
    u2.say(&tricky_text("user2")).await;
    u3.say(&tricky_text("user3")).await;

    let before_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let mut orders = Vec::new();
    for c in [&mut u1, &mut u2, &mut u3] {
        let mut got = Vec::new();
        for _ in 0..3 {
            let line = c.chat().await;
            assert_eq!(line.to, None, "{}: {line:?}", c.user);
            assert_eq!(
                line.from_nick,
                nick(&line.from_user),
                "{}: {line:?}",
                c.user
            );
            assert_eq!(
                line.text,
                tricky_text(&line.from_user),
                "{}: {line:?}",
                c.user
            );
            assert!(
                line.time_ms.abs_diff(before_ms) < 60_000,
                "{}: server time {} far from now",
                c.user,
                line.time_ms
            );
            got.push(line);
        }
        assert!(
            got.windows(2).all(|w| w[0].msg_id < w[1].msg_id),
            "{}: ids not increasing: {got:?}",
            c.user
        );
        let mut from: Vec<&str> = got.iter().map(|l| l.from_user.as_str()).collect();
        from.sort_unstable();
        assert_eq!(from, senders, "{}: each message exactly once", c.user);
        orders.push(got.iter().map(|l| l.msg_id).collect::<Vec<_>>());
    }
    // One accept order, seen by everybody.
    assert!(orders.windows(2).all(|w| w[0] == w[1]), "{orders:?}");

    // Nothing else (no duplicate) is queued before a later message.
    u2.say("sentinel").await;
    for c in [&mut u1, &mut u2, &mut u3] {
        let line = c.chat().await;
        assert_eq!(
            (line.from_user.as_str(), line.text.as_str()),
            ("user2", "sentinel"),
            "{}",
            c.user
        );
    }

    u3.logout().await;
    assert_eq!(u1.left("user3").await, "");
    assert_eq!(u2.left("user3").await, "");
    u1.send(&ClientRequest::ListUsers).await;
    assert_eq!(
        u1.event().await,
        ServerEvent::UserList(online(&[("user1", "wang_yuan"), ("user2", "ding_zhen")]))
    );
    u1.logout().await;
    assert_eq!(u2.left("user1").await, "");
    u2.logout().await;
}
