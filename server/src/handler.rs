//! One connection: hello, login, then the session loop.
//!
//! The session loop `select!`s on the client's frames, this user's outbox, a kick signal
//! (slow consumer, login elsewhere), server shutdown and the idle deadline. Each recipient's
//! task seals outgoing messages with its own user's key; the sender's task only decrypts.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use common::connection::{FrameReader, FrameWriter};
use common::crypto::password::hash_password;
use common::crypto::random;
use common::error::{CryptoError, Error, ProtocolError};
use common::protocol::Reason;
use common::protocol::chat::{
    ClientRequest, ErrorMsg, Hello, LOGIN_PREFIX_FIELDS, Notice, NoticeKind, ServerEvent,
    check_text, parse_login_outer, user_list_events,
};
use common::protocol::consts::{
    FILE_IN_STREAM, MAX_BAD_FRAMES, MAX_OFFLINE_DELIVERY, MAX_PASSWORD_LEN, NONCE_LEN,
    PROTOCOL_VERSION,
};
use common::protocol::files::{FileEvent, FileRequest, FileState, Verb};
use common::protocol::history::{HistorySource, history_pages};
use common::protocol::password::{Secret, check_new_password};
use common::protocol::sealed::{Channel, FrameFields, Opener, SealedMessage, Sealer};
use common::protocol::{RawMessage, check_username};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tracing::{debug, info, warn};

use crate::db::{self, DbError, LoginCheck, Visible};
use crate::keys;
use crate::relay::{Credential, Delivery, Kick, Outbox, Outgoing};
use crate::server::Shared;
use crate::throttle::Refusal;

/// How long one batch of outgoing frames may take to write before the client counts as stuck.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most frames sealed into one write.
const BATCH: usize = 64;
/// How long a login waits for the history writer to store what was accepted before it.
const HISTORY_FLUSH_WAIT: Duration = Duration::from_secs(3);

struct Conn {
    reader: FrameReader<OwnedReadHalf>,
    writer: FrameWriter<OwnedWriteHalf>,
    who: String,
}

impl Conn {
    async fn send_error(&mut self, e: &ErrorMsg) {
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            self.writer.write_frame(e.to_text().as_bytes()),
        )
        .await;
    }
}

struct Session {
    username: String,
    nickname: String,
    conn_id: u64,
    send: Sealer,
    recv: Opener,
    outbox: Outbox,
    /// File data for this session: written when `outbox` is empty, one frame at a time.
    files: Outbox,
    /// File bytes written to this client and not acknowledged yet, per transfer:
    /// `(end of the data written, acknowledged)`. At most [`FILE_IN_STREAM`] in all.
    in_stream: HashMap<u64, (u64, u64)>,
    /// Transfers that ended for this client: their frames still queued are not sent.
    files_ended: std::collections::HashSet<u64>,
    kick: Arc<Kick>,
    bad_frames: u32,
}

impl Session {
    /// Whether another file frame may go into the TCP stream ([`FILE_IN_STREAM`]).
    fn file_room(&self) -> bool {
        let in_stream: u64 = self
            .in_stream
            .values()
            .map(|(w, a)| w.saturating_sub(*a))
            .sum();
        in_stream < FILE_IN_STREAM
    }

    /// Keep [`Self::in_stream`] up to date with what goes out; `false` for file data of a
    /// transfer that ended for this client (not sent).
    fn track_file_out(&mut self, ev: &ServerEvent) -> bool {
        match ev {
            ServerEvent::File(FileEvent::Data { id, offset, data }) => {
                if self.files_ended.contains(id) {
                    return false;
                }
                self.in_stream.entry(*id).or_default().0 = offset + data.len() as u64;
            }
            ServerEvent::File(FileEvent::End { id, .. }) => return !self.files_ended.contains(id),
            ServerEvent::File(FileEvent::Status {
                id,
                state: FileState::Failed,
                ..
            }) => self.file_ended(*id),
            _ => {}
        }
        true
    }

    /// Transfer `id` ended for this client: nothing more of it is sent or counted.
    fn file_ended(&mut self, id: u64) {
        self.in_stream.remove(&id);
        self.files_ended.insert(id);
    }

    fn track_file_in(&mut self, req: &FileRequest) {
        match req {
            FileRequest::Ack { id, received } => {
                if let Some(e) = self.in_stream.get_mut(id) {
                    e.1 = e.1.max(*received);
                }
            }
            FileRequest::Control {
                id,
                verb: Verb::Cancel | Verb::Decline | Verb::Done | Verb::BadHash,
            } => self.file_ended(*id),
            _ => {}
        }
    }
}

/// Serve one connection to the end. Never panics on input; every error stays here.
pub async fn handle(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let conn_id = shared.next_conn_id();
    let (r, w) = stream.into_split();
    let mut conn = Conn {
        reader: FrameReader::new(r),
        writer: FrameWriter::new(w),
        who: format!("server#{conn_id}"),
    };
    let mut shutdown = shared.shutdown.subscribe();
    let login = tokio::select! {
        r = login(&mut conn, &shared, conn_id, peer.ip()) => r,
        _ = shutdown.recv() => Err(ErrorMsg::new(Reason::Shutdown, "the chat server is shutting down")),
    };
    match login {
        Ok(Some(mut session)) => {
            info!(%peer, user = session.username, "logged in");
            let why = session_loop(&mut conn, &shared, &mut session, &mut shutdown).await;
            shared.registry.leave(&session.username, conn_id);
            info!(%peer, user = session.username, why, "session ended");
        }
        Ok(None) => debug!(%peer, "closed before login"),
        Err(e) => {
            info!(%peer, reason = %e.reason, message = %e.message, "login refused");
            conn.send_error(&e).await;
        }
    }
    conn.writer.shutdown().await;
}

/// Hello, then the login's three steps: read the request, authenticate it (its key, then the
/// password), enter the session. `Ok(None)`: the client left on the way.
async fn login(
    conn: &mut Conn,
    shared: &Shared,
    conn_id: u64,
    peer: IpAddr,
) -> Result<Option<Session>, ErrorMsg> {
    // One deadline for the whole login, the password check included (not for a first
    // password change that follows, which has the idle timeout).
    let deadline = tokio::time::Instant::now() + shared.settings.handshake_timeout;
    let nonce = random::bytes::<NONCE_LEN>();
    let Some(request) = read_login(conn, &shared.settings, deadline, nonce).await? else {
        return Ok(None);
    };
    let (send, recv, password) = open_login(conn, &shared.settings, &request, &nonce).await?;
    let user = authenticate(shared, peer, &request.username, password, deadline).await?;
    conn.who = format!("server#{conn_id} {}", request.username);
    enter_session(conn, shared, conn_id, request, user, (send, recv)).await
}

/// A login request whose clear part (username, key id) was read and checked; still sealed.
struct LoginRequest {
    msg: RawMessage,
    username: String,
    key_id: String,
}

/// What the password check established about a user.
struct Authenticated {
    nickname: String,
    must_change: bool,
    /// The hash that let this session in: when it changes (the teacher resets the password),
    /// the session ends (crate::revocation).
    password_hash: String,
}

/// Send the hello with `nonce` and read the login request's clear part. `Ok(None)` when the
/// client closed first.
async fn read_login(
    conn: &mut Conn,
    s: &crate::server::Settings,
    deadline: tokio::time::Instant,
    nonce: [u8; NONCE_LEN],
) -> Result<Option<LoginRequest>, ErrorMsg> {
    let hello = Hello {
        version: PROTOCOL_VERSION,
        nonce,
    };
    conn.writer
        .write_frame(hello.to_text().as_bytes())
        .await
        .map_err(|_| ErrorMsg::new(Reason::BadFrame, "connection lost"))?;
    let frame = match tokio::time::timeout_at(deadline, conn.reader.read_frame()).await {
        Err(_) => return Err(login_timeout(s)),
        Ok(Ok(None)) => return Ok(None),
        Ok(Ok(Some(f))) => f,
        Ok(Err(e)) => return Err(frame_error(&e)),
    };
    let msg = RawMessage::parse(&frame).map_err(|e| bad_frame(&e.to_string()))?;
    let (username, key_id) = parse_login_outer(&msg).map_err(|e| bad_frame(&e.to_string()))?;
    check_username(&username).map_err(|_| bad_login())?;
    s.trace.step(
        &conn.who,
        format_args!(
            "in  login from {username}: {}",
            String::from_utf8_lossy(&frame)
        ),
    );
    if let Some(f) = FrameFields::of(&msg, LOGIN_PREFIX_FIELDS) {
        s.trace.frame(
            &conn.who,
            format_args!(
                "    login frame of {username} (clear: username, key id; sealed: the password)"
            ),
            &f,
        );
    }
    Ok(Some(LoginRequest {
        msg,
        username,
        key_id,
    }))
}

/// Open the login request with the session key it names: the connection's channel halves and
/// the password. The key's expiry is told only after the frame proved its holder.
async fn open_login(
    conn: &Conn,
    s: &crate::server::Settings,
    request: &LoginRequest,
    nonce: &[u8; NONCE_LEN],
) -> Result<(Sealer, Opener, String), ErrorMsg> {
    let (username, key_id) = (&request.username, &request.key_id);
    let dir = s.session_key_dir.clone();
    let (u, k) = (username.clone(), key_id.clone());
    let (keyfile, expired) = tokio::task::spawn_blocking(move || keys::login_key(&dir, &u, &k))
        .await
        .map_err(|_| internal())??;
    let expired = expired.then(|| keys::expired(&keyfile));
    let (send, mut recv) = Channel::server(Arc::new(keyfile.key), nonce).split();
    let opened = recv.open(&request.msg, LOGIN_PREFIX_FIELDS).map_err(|e| {
        warn!(user = username, error = %e, "login frame failed authentication");
        trace_refused(s.trace, &conn.who, username, &e);
        keys::key_refused()
    })?;
    s.trace.step(
        &conn.who,
        format_args!("    MAC checked with {username}'s MAC key (session key {key_id}): authentic"),
    );
    s.trace.step(
        &conn.who,
        format_args!(
            "    DES-CBC decrypted with {username}'s session key and this IV: the password (never shown)"
        ),
    );
    // Only the key's holder learns that it expired (and when).
    if let Some(e) = expired {
        return Err(e);
    }
    // An empty password seals as an empty plaintext, which opens as zero fields: it is a wrong
    // password (BAD_LOGIN, after the same PBKDF2 work), not a malformed frame.
    let password = if opened.inner.fields.is_empty() {
        String::new()
    } else {
        opened
            .inner
            .expect_fields(1)
            .map_err(|e| bad_frame(&e.to_string()))?;
        opened
            .inner
            .text(0)
            .map_err(|e| bad_frame(&e.to_string()))?
    };
    if password.len() > MAX_PASSWORD_LEN {
        return Err(bad_login());
    }
    Ok((send, recv, password))
}

/// Check `password` for `username` within the login's throttles and `deadline`.
async fn authenticate(
    shared: &Shared,
    peer: IpAddr,
    username: &str,
    password: String,
    deadline: tokio::time::Instant,
) -> Result<Authenticated, ErrorMsg> {
    let s = &shared.settings;
    // Bounded work: a locked name, a spent budget or a full queue is refused before hashing.
    let mut admitted =
        match tokio::time::timeout_at(deadline, shared.logins.admit(peer, username)).await {
            Err(_) => return Err(login_timeout(s)),
            Ok(Err(refusal)) => return Err(throttled(&refusal, &s.login_limits)),
            Ok(Ok(a)) => a,
        };
    let permits = admitted.permits.take();
    let store = shared.store.clone();
    let u = username.to_owned();
    let check = tokio::task::spawn_blocking(move || {
        // The core is ours until the hash is done, even if the login gives up meanwhile.
        let _permits = permits;
        let check = db::check_login(&*store, &u, &password)?;
        let hash = match check {
            LoginCheck::Ok { .. } => store.find_user(&u)?.map(|r| r.user_password),
            LoginCheck::Bad => None,
        };
        Ok::<_, DbError>((check, hash.unwrap_or_default()))
    });
    let check = match tokio::time::timeout_at(deadline, check).await {
        Err(_) => return Err(login_timeout(s)),
        Ok(joined) => joined.map_err(|_| internal())?,
    };
    match check {
        Ok((
            LoginCheck::Ok {
                nickname,
                must_change,
            },
            password_hash,
        )) => {
            shared.logins.succeeded(admitted);
            Ok(Authenticated {
                nickname,
                must_change,
                password_hash,
            })
        }
        Ok((LoginCheck::Bad, _)) => {
            shared.logins.failed(admitted);
            Err(bad_login())
        }
        Err(DbError::Unavailable(e)) => {
            warn!(error = %e, "database unavailable at login");
            Err(db_unavailable())
        }
        Err(e) => {
            warn!(error = %e, "database error at login");
            Err(internal())
        }
    }
}

/// Answer the login (after a first password change if one is due), join the registry and send
/// the user list and the stored messages. `Ok(None)` when the client left on the way.
async fn enter_session(
    conn: &mut Conn,
    shared: &Shared,
    conn_id: u64,
    request: LoginRequest,
    user: Authenticated,
    (mut send, mut recv): (Sealer, Opener),
) -> Result<Option<Session>, ErrorMsg> {
    let s = &shared.settings;
    let LoginRequest {
        username, key_id, ..
    } = request;
    let Authenticated {
        nickname,
        must_change,
        mut password_hash,
    } = user;
    let first = if must_change {
        // Not online yet: nobody sees this user until the password is their own.
        let ok = ServerEvent::LoginOk {
            username: username.clone(),
            nickname: nickname.clone(),
            must_change_password: true,
        };
        if !write_sealed(conn, s, &mut send, &username, [ok]).await {
            return Ok(None);
        }
        match forced_change(conn, shared, &username, &mut send, &mut recv).await? {
            Some(hash) => password_hash = hash,
            None => return Ok(None),
        }
        ServerEvent::PasswordResult(Ok(()))
    } else {
        ServerEvent::LoginOk {
            username: username.clone(),
            nickname: nickname.clone(),
            must_change_password: false,
        }
    };
    let credential = Credential::new(key_id, password_hash);
    let joined = shared
        .registry
        .join(&username, &nickname, conn_id, credential);
    let (history, held_upto) = login_history(shared, &username, joined.live_from).await;
    let events = std::iter::once(first)
        .chain(user_list_events(joined.online))
        .chain(history);
    if !write_sealed(conn, s, &mut send, &username, events).await {
        shared.registry.leave(&username, conn_id);
        return Ok(None);
    }
    if let Some(upto) = held_upto {
        mark_delivered(shared, &username, upto).await;
    }
    Ok(Some(Session {
        username,
        nickname,
        conn_id,
        send,
        recv,
        outbox: joined.outbox,
        files: joined.files,
        in_stream: HashMap::new(),
        files_ended: Default::default(),
        kick: joined.kick,
        bad_frames: 0,
    }))
}

/// The `1007 LOGIN` pages for a session that receives messages live from id `live_from` on:
/// the latest public messages before it and the private messages held for this user, and the
/// highest held id among them (marked delivered once they are sent). Nothing with history off.
async fn login_history(
    shared: &Shared,
    username: &str,
    live_from: u64,
) -> (Vec<ServerEvent>, Option<u64>) {
    let Some(h) = &shared.settings.history else {
        return (Vec::new(), None);
    };
    // Everything accepted before the join must be in the database before it is read.
    if !shared.registry.flush_history(HISTORY_FLUSH_WAIT).await {
        warn!(
            user = username,
            "history not written yet at login; sending what is stored"
        );
    }
    let (store, user, on_join) = (shared.store.clone(), username.to_owned(), h.on_join);
    let read = tokio::task::spawn_blocking(move || {
        let mut rows = if on_join > 0 {
            store.history_before(Visible::Public, live_from, on_join)?
        } else {
            Vec::new()
        };
        let held = store.history_undelivered(&user, MAX_OFFLINE_DELIVERY)?;
        let upto = held.last().map(|r| r.msg_id);
        rows.extend(held);
        rows.sort_by_key(|r| r.msg_id);
        rows.dedup_by_key(|r| r.msg_id);
        Ok::<_, DbError>((rows, upto))
    })
    .await;
    let (lines, upto) = match read {
        Ok(Ok((rows, upto))) => (crate::history::open_rows(&h.key, &rows), upto),
        Ok(Err(e)) => {
            warn!(user = username, error = %e, "cannot read the history at login");
            (Vec::new(), None)
        }
        Err(_) => (Vec::new(), None),
    };
    let pages = history_pages(HistorySource::Login, lines)
        .into_iter()
        .map(ServerEvent::History)
        .collect();
    (pages, upto)
}

/// The held private messages to `username` up to `upto` were sent: not again at the next login.
async fn mark_delivered(shared: &Shared, username: &str, upto: u64) {
    let (store, user) = (shared.store.clone(), username.to_owned());
    match tokio::task::spawn_blocking(move || store.history_mark_delivered(&user, upto)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            warn!(user = username, error = %e, "cannot mark held messages delivered; they come again at the next login")
        }
        Err(_) => {}
    }
}

/// The `1007 OLDER` pages answering a `0007` from `username` (one empty page with history off).
async fn older_history(
    shared: &Shared,
    username: &str,
    before_id: u64,
    count: u32,
) -> Vec<ServerEvent> {
    let lines = match &shared.settings.history {
        None => Vec::new(),
        Some(h) => {
            let before = if before_id == 0 { u64::MAX } else { before_id };
            let (store, user) = (shared.store.clone(), username.to_owned());
            let read = tokio::task::spawn_blocking(move || {
                store.history_before(Visible::To(&user), before, count as usize)
            })
            .await;
            match read {
                Ok(Ok(rows)) => crate::history::open_rows(&h.key, &rows),
                Ok(Err(e)) => {
                    warn!(user = username, error = %e, "cannot read older messages");
                    Vec::new()
                }
                Err(_) => Vec::new(),
            }
        }
    };
    history_pages(HistorySource::Older, lines)
        .into_iter()
        .map(ServerEvent::History)
        .collect()
}

/// Seal `events` with `send` and write them in one go; `false` if the connection failed.
async fn write_sealed(
    conn: &mut Conn,
    s: &crate::server::Settings,
    send: &mut Sealer,
    username: &str,
    events: impl IntoIterator<Item = ServerEvent>,
) -> bool {
    for ev in events {
        let Ok(text) = send.seal_msg(&ev) else {
            continue;
        };
        trace_sealed(s.trace, &conn.who, username, &ev, &text);
        let _ = conn.writer.queue(text.as_bytes());
    }
    matches!(
        tokio::time::timeout(WRITE_TIMEOUT, conn.writer.flush()).await,
        Ok(Ok(()))
    )
}

/// A login that must choose a new password first: answer only a password change, ping and
/// logout until the password is changed (`Ok(Some(new hash))`); anything else gets
/// `CHANGE_PASSWORD`. `Ok(None)` when the client logged out or left. A wrong current password counts as a bad
/// frame, so guessing it costs a connection every [`MAX_BAD_FRAMES`] tries.
async fn forced_change(
    conn: &mut Conn,
    shared: &Shared,
    username: &str,
    send: &mut Sealer,
    recv: &mut Opener,
) -> Result<Option<String>, ErrorMsg> {
    let s = &shared.settings;
    let mut bad = 0u32;
    loop {
        let frame = match tokio::time::timeout(s.idle_timeout, conn.reader.read_frame()).await {
            Err(_) => {
                return Err(ErrorMsg::new(
                    Reason::Idle,
                    format!(
                        "nothing received for {} s; connection closed",
                        s.idle_timeout.as_secs()
                    ),
                ));
            }
            Ok(Ok(None)) => return Ok(None),
            Ok(Ok(Some(f))) => f,
            Ok(Err(e)) => return Err(frame_error(&e)),
        };
        s.trace.step(
            &conn.who,
            format_args!("in  {username}: {}", String::from_utf8_lossy(&frame)),
        );
        let answer = match recv.open_frame(&frame) {
            Ok(ClientRequest::ChangePassword { old, new }) => {
                match change_password(shared, username, &old, &new, None).await {
                    Ok(hash) => return Ok(Some(hash)),
                    Err(reason) => {
                        bad += u32::from(reason == Reason::WrongPassword);
                        Some(ServerEvent::PasswordResult(Err(reason)))
                    }
                }
            }
            Ok(ClientRequest::Ping) => Some(ServerEvent::Pong),
            Ok(ClientRequest::Logout) => return Ok(None),
            Ok(
                ClientRequest::Chat { .. }
                | ClientRequest::ListUsers
                | ClientRequest::History { .. }
                | ClientRequest::File(_),
            ) => Some(ServerEvent::PasswordResult(Err(
                Reason::PasswordChangeRequired,
            ))),
            Err(Error::Crypto(CryptoError::FrameLost { got, expected })) => {
                return Err(frame_lost(username, got, expected));
            }
            Err(e) => {
                warn!(user = username, error = %e, "frame rejected before the password change");
                bad += 1;
                None
            }
        };
        if bad >= MAX_BAD_FRAMES {
            return Err(too_many_errors());
        }
        if let Some(answer) = answer
            && !write_sealed(conn, s, send, username, [answer]).await
        {
            return Ok(None);
        }
    }
}

/// Check and store a new password for `username`: its new hash, or the reason it was refused.
/// `session` is the registered session making the change (none before the first change): the
/// registry learns the new hash before it is stored, so the revocation check keeps that session.
async fn change_password(
    shared: &Shared,
    username: &str,
    old: &Secret,
    new: &Secret,
    session: Option<u64>,
) -> Result<String, Reason> {
    check_new_password(username, old.expose(), new.expose())?;
    let store = shared.store.clone();
    let (user, old, new) = (
        username.to_owned(),
        old.expose().to_owned(),
        new.expose().to_owned(),
    );
    let verified = tokio::task::spawn_blocking(move || {
        Ok::<_, DbError>(match db::check_login(&*store, &user, &old)? {
            LoginCheck::Ok { .. } => Ok(hash_password(&new)),
            LoginCheck::Bad => Err(Reason::WrongPassword),
        })
    })
    .await
    .unwrap_or(Ok(Err(Reason::Internal)));
    let hash = db_answer(verified, "a password check")?;
    let expect = |h: Option<String>| {
        if let Some(conn_id) = session {
            shared.registry.expect_password_hash(username, conn_id, h);
        }
    };
    expect(Some(hash.clone()));
    let (store, user, h) = (shared.store.clone(), username.to_owned(), hash.clone());
    let stored = tokio::task::spawn_blocking(move || {
        // `false`: the user was removed meanwhile.
        Ok::<_, DbError>(if store.set_password(&user, &h, false)? {
            Ok(())
        } else {
            Err(Reason::Internal)
        })
    })
    .await
    .unwrap_or(Ok(Err(Reason::Internal)));
    match db_answer(stored, "a password change") {
        Ok(()) => {
            if let Some(conn_id) = session {
                shared
                    .registry
                    .set_password_hash(username, conn_id, hash.clone());
            }
            info!(user = username, "password changed");
            Ok(hash)
        }
        Err(reason) => {
            expect(None);
            Err(reason)
        }
    }
}

/// A database step's answer, with database failures as the reason to send (and logged).
fn db_answer<T>(r: Result<Result<T, Reason>, DbError>, what: &str) -> Result<T, Reason> {
    match r {
        Ok(r) => r,
        Err(DbError::Unavailable(e)) => {
            warn!(error = %e, "database unavailable at {what}");
            Err(Reason::DbUnavailable)
        }
        Err(e) => {
            warn!(error = %e, "database error at {what}");
            Err(Reason::Internal)
        }
    }
}

fn db_unavailable() -> ErrorMsg {
    ErrorMsg::new(
        Reason::DbUnavailable,
        "the chat server cannot reach its user database right now; try again in a moment",
    )
}

fn too_many_errors() -> ErrorMsg {
    ErrorMsg::new(
        Reason::TooManyErrors,
        format!(
            "{MAX_BAD_FRAMES} frames from this connection failed their checks; connection closed"
        ),
    )
}

/// A frame from the client never arrived (PROTOCOL.md §6.3): the session cannot go on without
/// losing it silently, so it ends and the student is told.
fn frame_lost(username: &str, got: u64, expected: u64) -> ErrorMsg {
    warn!(
        user = username,
        got, expected, "frame lost: gap in the client's sequence numbers"
    );
    ErrorMsg::new(
        Reason::FrameLost,
        format!(
            "frame {expected} from you never arrived (lost or deleted on the way; frame {got} came next); \
             connection closed, connect again"
        ),
    )
}

fn bad_frame(detail: &str) -> ErrorMsg {
    ErrorMsg::new(Reason::BadFrame, format!("malformed frame: {detail}"))
}

fn login_timeout(s: &crate::server::Settings) -> ErrorMsg {
    ErrorMsg::new(
        Reason::Timeout,
        format!(
            "no complete login within {} s; connect again to log in",
            s.handshake_timeout.as_secs()
        ),
    )
}

/// The `1009` for a login refused before its password was checked.
fn throttled(r: &Refusal, limits: &crate::throttle::Limits) -> ErrorMsg {
    match r {
        Refusal::Locked => ErrorMsg::new(
            Reason::Locked,
            format!(
                "this username is locked after {} failed logins in a row; it unlocks after {} minutes, \
                 or when the teacher runs `server user unlock <username>`",
                limits.lock_after,
                limits.lock_for.as_secs() / 60
            ),
        ),
        Refusal::SlowDown(wait) => ErrorMsg::new(
            Reason::SlowDown,
            format!(
                "too many failed logins; try again in {} s",
                wait.as_secs() + 1
            ),
        ),
        Refusal::Busy => ErrorMsg::new(
            Reason::ServerBusy,
            "the chat server is busy checking other logins; try again in a few seconds",
        ),
    }
}

fn bad_login() -> ErrorMsg {
    ErrorMsg::new(Reason::BadLogin, "wrong username or password")
}

fn internal() -> ErrorMsg {
    ErrorMsg::new(
        Reason::Internal,
        "internal server error; see the server log",
    )
}

fn frame_error(e: &Error) -> ErrorMsg {
    match e {
        Error::Protocol(ProtocolError::TooLarge(n)) => ErrorMsg::new(
            Reason::TooLong,
            format!(
                "a frame of {n} bytes exceeds the {} byte limit; connection closed",
                common::protocol::consts::MAX_FRAME_LEN
            ),
        ),
        other => bad_frame(&other.to_string()),
    }
}

/// Run a logged-in session; returns why it ended (for the log).
async fn session_loop(
    conn: &mut Conn,
    shared: &Shared,
    s: &mut Session,
    shutdown: &mut tokio::sync::broadcast::Receiver<()>,
) -> String {
    let idle = shared.settings.idle_timeout;
    let mut deadline = tokio::time::Instant::now() + idle;
    loop {
        tokio::select! {
            biased;
            () = s.kick.notify.notified() => {
                let why = s.kick.reason().unwrap_or_else(|| ErrorMsg::new(Reason::Shutdown, "closed by the server"));
                conn.send_error(&why).await;
                return why.reason.to_string();
            }
            _ = shutdown.recv() => {
                conn.send_error(&ErrorMsg::new(Reason::Shutdown, "the chat server is shutting down; reconnect when it is back")).await;
                return Reason::Shutdown.to_string();
            }
            ev = s.outbox.recv() => {
                let Some(ev) = ev else {
                    // Removed from the registry: it always sets the kick reason first.
                    let why = s.kick.reason().unwrap_or_else(|| ErrorMsg::new(Reason::Shutdown, "closed by the server"));
                    conn.send_error(&why).await;
                    return why.reason.to_string();
                };
                if let Err(why) = write_batch(conn, shared, s, vec![ev]).await {
                    return why;
                }
            }
            // Before file data: a recipient's acknowledgements and chat are read while its
            // file queue is full.
            frame = conn.reader.read_frame() => {
                deadline = tokio::time::Instant::now() + idle;
                match frame {
                    Ok(Some(frame)) => {
                        if let Some(end) = client_frame(conn, shared, s, &frame).await {
                            return end;
                        }
                    }
                    Ok(None) => return "client closed the connection".into(),
                    // An oversize or empty frame leaves the stream unreadable: say why, close.
                    Err(Error::Protocol(e)) if e != ProtocolError::Truncated => {
                        let why = format!("bad frame: {e}");
                        conn.send_error(&frame_error(&Error::Protocol(e))).await;
                        return why;
                    }
                    Err(e) => return format!("connection error: {e}"),
                }
            }
            // Lowest priority: one file frame, after any chat event waiting (write_batch adds
            // those), so a chunk delays a chat message by at most one frame.
            Some(ev) = s.files.recv(), if s.file_room() => {
                if let Err(why) = write_batch(conn, shared, s, vec![ev]).await {
                    return why;
                }
                // As for a chunk received: other connections' chat before the next chunk.
                tokio::task::yield_now().await;
            }
            () = tokio::time::sleep_until(deadline) => {
                conn.send_error(&ErrorMsg::new(
                    Reason::Idle,
                    format!("nothing received for {} s; connection closed", idle.as_secs()),
                )).await;
                return Reason::Idle.to_string();
            }
        }
    }
}

/// Seal `first` (one or more events that belong together, such as the parts of a user list)
/// and whatever else is already queued (up to [`BATCH`]) with this user's key and write them in
/// one go.
async fn write_batch(
    conn: &mut Conn,
    shared: &Shared,
    s: &mut Session,
    first: Vec<Arc<Outgoing>>,
) -> Result<(), String> {
    let mut n = first.len();
    let mut first = first.into_iter();
    let mut next = first.next();
    while let Some(ev) = next {
        // Checked before sealing: a frame that cannot be sent must not use up a sequence number.
        // Checked before sealing: a frame not sent must not use up a sequence number.
        let stale = !s.track_file_out(&ev.event);
        match (!stale).then(|| s.send.seal_checked(ev.event.code(), &[], &ev.inner)) {
            None => {}
            Some(Ok(text)) => {
                trace_sealed(
                    shared.settings.trace,
                    &conn.who,
                    &s.username,
                    &ev.event,
                    &text,
                );
                let _ = conn.writer.queue(text.as_bytes());
            }
            Some(Err(e)) => warn!(error = %e, "outgoing frame too large; not sent"),
        }
        next = first.next().or_else(|| {
            n += 1;
            if n <= BATCH {
                s.outbox.try_recv().ok()
            } else {
                None
            }
        });
    }
    match tokio::time::timeout(WRITE_TIMEOUT, conn.writer.flush()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("write failed: {e}")),
        Err(_) => Err("client stopped reading (write timed out)".into()),
    }
}

async fn send_event(
    conn: &mut Conn,
    shared: &Shared,
    s: &mut Session,
    ev: ServerEvent,
) -> Result<(), String> {
    write_batch(conn, shared, s, vec![Outgoing::new(ev)]).await
}

fn warn_notice(text: String) -> ServerEvent {
    ServerEvent::Notice(Notice {
        kind: NoticeKind::Warn,
        user: String::new(),
        nick: String::new(),
        text,
    })
}

/// Handle one frame from a logged-in client; `Some(reason)` ends the session.
async fn client_frame(
    conn: &mut Conn,
    shared: &Shared,
    s: &mut Session,
    frame: &[u8],
) -> Option<String> {
    let trace = shared.settings.trace;
    trace_received(trace, &conn.who, &s.username, frame);
    let request = match s.recv.open_frame(frame) {
        Ok(r) => {
            trace_opened(trace, &conn.who, &s.username, &r);
            r
        }
        Err(e) => return refused_frame(conn, shared, s, e).await,
    };
    client_request(conn, shared, s, request).await
}

/// A frame from the client failed its checks: a lost frame ends the session, too many rejected
/// ones too; otherwise the client is warned and the session goes on.
async fn refused_frame(
    conn: &mut Conn,
    shared: &Shared,
    s: &mut Session,
    e: Error,
) -> Option<String> {
    trace_refused(shared.settings.trace, &conn.who, &s.username, &e);
    match e {
        Error::Crypto(CryptoError::FrameLost { got, expected }) => {
            conn.send_error(&frame_lost(&s.username, got, expected))
                .await;
            Some(Reason::FrameLost.to_string())
        }
        e => {
            s.bad_frames += 1;
            warn!(user = s.username, error = %e, bad_frames = s.bad_frames, "frame rejected");
            if s.bad_frames >= MAX_BAD_FRAMES {
                conn.send_error(&too_many_errors()).await;
                return Some(Reason::TooManyErrors.to_string());
            }
            let notice = warn_notice(format!(
                "the server rejected a frame from you and dropped it: {e}"
            ));
            send_event(conn, shared, s, notice).await.err()
        }
    }
}

/// Act on one authenticated request; `Some(reason)` ends the session.
async fn client_request(
    conn: &mut Conn,
    shared: &Shared,
    s: &mut Session,
    request: ClientRequest,
) -> Option<String> {
    match request {
        ClientRequest::Chat { to, text } => {
            if let Err(why) = check_text(&text) {
                return send_event(conn, shared, s, warn_notice(format!("not sent: {why}")))
                    .await
                    .err();
            }
            let target = to.clone();
            let notice = match shared.registry.deliver(&s.username, &s.nickname, to, text) {
                Delivery::Delivered | Delivery::Held => return None,
                Delivery::NotOnline => warn_notice(format!(
                    "{} is not online; the private message was not delivered",
                    target.unwrap_or_default()
                )),
                Delivery::HistoryFull => warn_notice(
                    "not sent: the chat server cannot store messages right now (its database is \
                     unreachable and its waiting queue is full); try again in a moment"
                        .into(),
                ),
            };
            send_event(conn, shared, s, notice).await.err()
        }
        ClientRequest::History { before_id, count } => {
            let pages = older_history(shared, &s.username, before_id, count)
                .await
                .into_iter()
                .map(Outgoing::new)
                .collect();
            write_batch(conn, shared, s, pages).await.err()
        }
        ClientRequest::ListUsers => {
            let parts = user_list_events(shared.registry.online())
                .into_iter()
                .map(Outgoing::new)
                .collect();
            write_batch(conn, shared, s, parts).await.err()
        }
        ClientRequest::Ping => send_event(conn, shared, s, ServerEvent::Pong).await.err(),
        ClientRequest::File(req) => {
            s.track_file_in(&req);
            shared
                .registry
                .file_request(&s.username, &s.nickname, s.conn_id, req);
            // A chunk is CPU work (its DES and MAC): let other connections' chat run before the
            // next one, instead of after tokio's budget of many chunks.
            tokio::task::yield_now().await;
            None
        }
        ClientRequest::Logout => Some("logged out".into()),
        ClientRequest::ChangePassword { old, new } => {
            let result = change_password(shared, &s.username, &old, &new, Some(s.conn_id))
                .await
                .map(|_| ());
            if result == Err(Reason::WrongPassword) {
                s.bad_frames += 1;
                if s.bad_frames >= MAX_BAD_FRAMES {
                    conn.send_error(&too_many_errors()).await;
                    return Some(Reason::TooManyErrors.to_string());
                }
            }
            send_event(conn, shared, s, ServerEvent::PasswordResult(result))
                .await
                .err()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// `--trace`: the digital envelope at work, frame by frame. Each received frame is shown field by
// field, then the two checks in their order (MAC with the sender's MAC key, then DES-CBC with the
// sender's session key and the frame's IV); each frame sent is shown as sealed again with its
// recipient's own keys. Message text and passwords appear only with `--show-secrets`.

/// A frame from `user` as it arrived, raw and field by field (before any check).
fn trace_received(trace: common::trace::Trace, who: &str, user: &str, frame: &[u8]) {
    if !trace.enabled {
        return;
    }
    trace.step(
        who,
        format_args!("in  {user}: {}", String::from_utf8_lossy(frame)),
    );
    if let Some(f) = RawMessage::parse(frame)
        .ok()
        .and_then(|m| FrameFields::of(&m, 0))
    {
        trace.frame(
            who,
            format_args!("    frame from {user}, field by field:"),
            &f,
        );
    }
}

/// The frame from `user` passed its checks and decrypted to `request`.
fn trace_opened(trace: common::trace::Trace, who: &str, user: &str, request: &ClientRequest) {
    if !trace.enabled {
        return;
    }
    trace.step(
        who,
        format_args!(
            "    MAC checked with {user}'s MAC key: authentic, and its seq is the next one"
        ),
    );
    let what = match request {
        ClientRequest::Chat { to: None, .. } => "a chat message to everyone".to_owned(),
        ClientRequest::Chat { to: Some(t), .. } => format!("a private message to {t}"),
        ClientRequest::ListUsers => "a request for the user list".to_owned(),
        ClientRequest::Ping => "a heartbeat".to_owned(),
        ClientRequest::Logout => "a logout".to_owned(),
        ClientRequest::ChangePassword { .. } => {
            "a password change (passwords never shown)".to_owned()
        }
        ClientRequest::History { before_id, count } => {
            format!("a request for {count} stored messages before id {before_id}")
        }
        ClientRequest::File(f) => format!("a file transfer request ({})", f.code()),
    };
    trace.step(
        who,
        format_args!("    DES-CBC decrypted with {user}'s session key and this IV: {what}"),
    );
    if let ClientRequest::Chat { text, .. } = request {
        trace.secret(who, "    plaintext", &format!("{text:?}"));
    }
}

/// The frame from `user` was refused: which check failed (nothing was decrypted after a MAC
/// mismatch).
fn trace_refused(trace: common::trace::Trace, who: &str, user: &str, e: &Error) {
    match e {
        Error::Crypto(CryptoError::BadMac) => trace.step(
            who,
            format_args!(
                "    MAC checked with {user}'s MAC key: MISMATCH (altered, forged or another key); \
                 dropped without decrypting"
            ),
        ),
        other => trace.step(who, format_args!("    refused: {other}")),
    }
}

/// `event` sealed for `user` as the frame `text`: with `user`'s own keys and a fresh IV.
fn trace_sealed(
    trace: common::trace::Trace,
    who: &str,
    user: &str,
    event: &ServerEvent,
    text: &str,
) {
    if !trace.enabled {
        return;
    }
    trace.step(who, format_args!("out {user}: {text}"));
    let what = match event {
        ServerEvent::Chat(line) => format!(
            "message #{} from {} re-sealed for {user}",
            line.msg_id, line.from_user
        ),
        other => format!("{} sealed for {user}", other.code()),
    };
    if let Some(f) = FrameFields::parse(text, 0) {
        trace.frame(
            who,
            format_args!(
                "    {what}: DES-CBC encrypted with {user}'s session key under a fresh random IV, \
                 then MAC with {user}'s MAC key"
            ),
            &f,
        );
    }
    if let ServerEvent::Chat(line) = event {
        trace.secret(who, "    plaintext", &format!("{:?}", line.text));
    }
}
