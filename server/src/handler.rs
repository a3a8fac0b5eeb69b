//! One connection: hello, login, then the session loop.
//!
//! The session loop `select!`s on the client's frames, this user's outbox, a kick signal
//! (slow consumer, login elsewhere), server shutdown and the idle deadline. Each recipient's
//! task seals outgoing messages with its own user's key; the sender's task only decrypts.
//!
//! # Layout
//! - this file: the connection, the session loop and the requests of a logged-in client.
//! - [`login`]: hello, then read -> open -> authenticate -> enter the session.
//! - [`password`]: a password change (the forced first one and a later one).
//! - [`history`]: stored messages at login and on request.
//! - [`lane`]: a client's file requests in order while its chunks are decrypted.
//! - [`replies`]: the `1009` errors the handler sends.
//! - [`trace`]: the `--trace` teaching view of each frame.

mod history;
mod lane;
mod login;
mod password;
mod replies;
mod trace;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::connection::{FrameReader, FrameWriter};
use common::error::{CryptoError, Error, ProtocolError};
use common::lowprio::{LowPriority, Pending};
use common::protocol::Reason;
use common::protocol::chat::{
    ClientRequest, ErrorMsg, Notice, NoticeKind, ServerEvent, check_text, user_list_events,
};
use common::protocol::consts::{FILE_IN_STREAM, MAX_BAD_FRAMES, code};
use common::protocol::files::{FileEvent, FileRequest, FileState, Verb};
use common::protocol::message::RawMessage;
use common::protocol::sealed::{Encrypted, Opener, SealedMessage, Sealer};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tracing::{debug, info, warn};

use crate::relay::{Delivery, Kick, Outbox, Outgoing};
use crate::server::Shared;
use history::older_history;
use lane::FileLane;
use login::login;
use password::change_password;
use replies::{frame_error, frame_lost, too_many_errors};
use trace::{trace_opened, trace_received, trace_refused, trace_sealed};

/// How long one batch of outgoing frames may take to write before the client counts as stuck.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most frames sealed into one write.
const BATCH: usize = 64;

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
    /// The file chunk being encrypted for this client, at most one.
    chunk: Option<Encrypting>,
    /// This client's file requests waiting for the chunks before them to be decrypted.
    lane: FileLane,
    kick: Arc<Kick>,
    bad_frames: u32,
}

/// A file chunk being encrypted on the low-priority threads (common::lowprio). It has no
/// sequence number yet: chat sealed meanwhile goes out first, and the chunk is numbered, MACed
/// and written when its encryption is done ([`Sealer::seal_encrypted`]).
struct Encrypting {
    ev: Arc<Outgoing>,
    job: Pending<Result<Encrypted, ProtocolError>>,
}

impl Encrypting {
    fn start(s: &Session, ev: Arc<Outgoing>) -> Self {
        let (encryptor, plain) = (s.send.encryptor(), PlainOf(ev.clone()));
        let code = ev.event.code();
        let job = LowPriority::global().start(move || encryptor.encrypt(code, plain));
        Self { ev, job }
    }
}

/// The encryption of `chunk` when it is done (cancel-safe); never, when there is none.
async fn encrypted(chunk: &mut Option<Encrypting>) -> Result<Encrypted, ProtocolError> {
    match chunk {
        Some(c) => (&mut c.job).await,
        None => std::future::pending().await,
    }
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
            frame = conn.reader.read_frame(), if !s.lane.is_full() => {
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
            // A file request whose turn came (a chunk decrypted, or what waited behind one).
            request = s.lane.next() => {
                if let Some(end) = opened_request(conn, shared, s, request).await {
                    return end;
                }
            }
            // A chunk whose encryption is done: numbered now, after any chat sealed meanwhile.
            done = encrypted(&mut s.chunk) => {
                let Some(Encrypting { ev, .. }) = s.chunk.take() else { continue };
                if let Err(why) = write_chunk(conn, shared, s, &ev, done).await {
                    return why;
                }
                // As for a chunk received: other connections' chat before the next chunk.
                tokio::task::yield_now().await;
            }
            // Lowest priority: the next file frame, one at a time. A chunk starts its encryption
            // (off the async threads); the other file events are written at once.
            Some(ev) = s.files.recv(), if s.file_room() && s.chunk.is_none() => {
                if matches!(ev.event, ServerEvent::File(FileEvent::Data { .. })) {
                    s.chunk = Some(Encrypting::start(s, ev));
                } else if let Err(why) = write_batch(conn, shared, s, vec![ev]).await {
                    return why;
                }
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
        // Checked before sealing: a frame not sent must not use up a sequence number.
        let stale = !s.track_file_out(&ev.event);
        if !stale {
            let sealed = s.send.seal_checked(ev.event.code(), &[], &ev.inner);
            queue_sealed(conn, shared, s, &ev.event, sealed);
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

/// Number, MAC and write a chunk whose encryption is done, unless its transfer ended for this
/// client meanwhile (then it is dropped and uses no number).
async fn write_chunk(
    conn: &mut Conn,
    shared: &Shared,
    s: &mut Session,
    ev: &Outgoing,
    encrypted: Result<Encrypted, ProtocolError>,
) -> Result<(), String> {
    if !s.track_file_out(&ev.event) {
        return Ok(());
    }
    let sealed = encrypted.map(|e| s.send.seal_encrypted(&e));
    queue_sealed(conn, shared, s, &ev.event, sealed);
    write_batch(conn, shared, s, Vec::new()).await
}

/// Queue a sealed frame for writing (traced), or log why it was not sealed.
fn queue_sealed(
    conn: &mut Conn,
    shared: &Shared,
    s: &Session,
    event: &ServerEvent,
    sealed: Result<String, ProtocolError>,
) {
    match sealed {
        Ok(text) => {
            trace_sealed(shared.settings.trace, &conn.who, &s.username, event, &text);
            let _ = conn.writer.queue(text.as_bytes());
        }
        Err(e) => warn!(error = %e, "outgoing frame too large; not sent"),
    }
}

/// An event's plaintext, shared with a low-priority thread without a copy.
struct PlainOf(Arc<Outgoing>);

impl AsRef<[u8]> for PlainOf {
    fn as_ref(&self) -> &[u8] {
        &self.0.inner
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
    trace_received(shared.settings.trace, &conn.who, &s.username, frame);
    let msg = match RawMessage::parse(frame) {
        Ok(msg) => msg,
        Err(e) => return refused_frame(conn, shared, s, e.into()).await,
    };
    // A chunk counts as received once checked; it is decrypted in the lane, off this thread.
    if msg.code == code::FILE_CHUNK {
        return match s.recv.check(&msg) {
            Ok(checked) => {
                s.lane.push_chunk(checked);
                None
            }
            Err(e) => refused_frame(conn, shared, s, e).await,
        };
    }
    let request = s.recv.open_msg(&msg);
    if FileRequest::is_file_code(&msg.code) && !s.lane.is_empty() {
        s.lane.push_ready(request);
        return None;
    }
    opened_request(conn, shared, s, request).await
}

/// Act on a request opened (or refused); `Some(reason)` ends the session.
async fn opened_request(
    conn: &mut Conn,
    shared: &Shared,
    s: &mut Session,
    request: Result<ClientRequest, Error>,
) -> Option<String> {
    match request {
        Ok(r) => {
            trace_opened(shared.settings.trace, &conn.who, &s.username, &r);
            client_request(conn, shared, s, r).await
        }
        Err(e) => refused_frame(conn, shared, s, e).await,
    }
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
