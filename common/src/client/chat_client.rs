//! A chat session: connect, log in with the stored session key, then send and receive sealed
//! frames. Used by the GUI's network thread, the terminal mode, the tests and the load generator.
//!
//! [`login`] returns a [`ChatSender`] and a [`ChatReceiver`] that can live in different tasks;
//! a [`Session`] holds both plus the heartbeat clock for an owner that runs its own loop, and
//! [`spawn_session`] runs a session in a task and talks through channels.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

use crate::client::folder::ClientFolder;
use crate::connection::{FrameReader, FrameWriter, ReadError, read_message};
use crate::error::{CryptoError, Error, KeyFileError, ProtocolError};
use crate::keyfile::KeyFile;
use crate::lowprio::{LowPriority, Pending};
use crate::protocol::RawMessage;
use crate::protocol::chat::{
    ClientRequest, ErrorMsg, Hello, ServerEvent, UserListMerger, login_request,
};
use crate::protocol::consts::{HEARTBEAT_SECS, code};
use crate::protocol::files::{FileEvent, FileRequest};
use crate::protocol::password::{Secret, check_new_password};
use crate::protocol::reason::Reason;
use crate::protocol::sealed::{Channel, Opener, SealedMessage, Sealer};

/// Why a login failed; each message says what to do next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    #[error("no session key for {user} ({path} is missing) - run `{program} key` first")]
    NoSessionKey {
        user: String,
        path: String,
        program: String,
    },
    #[error(
        "the session key for {user} expired at {expires_at} - run `{program} key` to get a new one"
    )]
    KeyExpired {
        user: String,
        expires_at: String,
        program: String,
    },
    #[error("{path} holds the key of {found}, not {user} - run `{program} key` again")]
    WrongKeyUser {
        user: String,
        found: String,
        path: String,
        program: String,
    },
    #[error("{0} - run `{1} key` to get a new one")]
    BadKeyFile(KeyFileError, String),
    #[error(
        "cannot reach the chat server at {addr}: {source}. Is `server` running there, and is TCP port {port} open \
         in that machine's firewall? (server_host/chat_port are set in client.toml)"
    )]
    Unreachable {
        addr: String,
        port: u16,
        source: std::io::Error,
    },
    /// The server answered with a `1009` error; `hint` is what to do next.
    #[error("{message}{hint}")]
    Refused {
        reason: Reason,
        message: String,
        hint: String,
    },
    #[error("the chat server did not answer within {0} s")]
    Timeout(u64),
    #[error("the chat server closed the connection during login")]
    Closed,
    #[error("unexpected answer from the chat server: {0}")]
    Protocol(String),
    /// `chat_port` reached the key server (its hello came instead of the chat server's).
    #[error(
        "chat_port {} reached the key server, not the chat server; set chat_port = {} in client.toml",
        .0.port, .0.should_be
    )]
    WrongServer(crate::client::folder::WrongPort),
    /// `server_host = "auto"` found no server to use.
    #[error("{0}")]
    Discovery(#[from] crate::client::discover::DiscoveryError),
}

impl LoginError {
    /// True when running the key step would fix this.
    pub fn needs_key_step(&self) -> bool {
        self.key_step_for().is_some()
    }

    /// The key problem behind this error, as the server would name it, when a key step would
    /// fix it: a GUI that just ran the key step for a reason does not offer it again for the same
    /// one.
    pub fn key_step_for(&self) -> Option<Reason> {
        match self {
            Self::NoSessionKey { .. } => Some(Reason::NoSessionKey),
            Self::KeyExpired { .. } => Some(Reason::KeyExpired),
            Self::WrongKeyUser { .. } | Self::BadKeyFile(..) => Some(Reason::KeyMismatch),
            Self::Refused { reason, .. } => fixed_by_key_step(reason).then(|| reason.clone()),
            Self::Unreachable { .. }
            | Self::Timeout(_)
            | Self::Closed
            | Self::Protocol(_)
            | Self::WrongServer(_)
            | Self::Discovery(_) => None,
        }
    }
}

/// What the user can do about a refusal: the one exhaustive list behind [`fixed_by_key_step`]
/// and [`hint_for`], so a new reason is decided once.
enum Remedy {
    /// A new session key (the key step) fixes it.
    KeyStep,
    /// This hint, appended to the server's message.
    Hint(&'static str),
    /// The server's own message already says what to do.
    ServerSays,
}

fn remedy(reason: &Reason) -> Remedy {
    match reason {
        Reason::NoSessionKey | Reason::KeyExpired | Reason::KeyMismatch => Remedy::KeyStep,
        Reason::BadLogin => Remedy::Hint(" - check the username and password"),
        Reason::Idle => Remedy::Hint(" - reconnect to continue"),
        Reason::LoggedInElsewhere => {
            Remedy::Hint(" - this account logged in from another window or PC")
        }
        Reason::BadFrame
        | Reason::DbUnavailable
        | Reason::TooSlow
        | Reason::ServerFull
        | Reason::Shutdown
        | Reason::TooLong
        | Reason::TooManyErrors
        | Reason::FrameLost
        | Reason::Revoked
        | Reason::ServerBusy
        | Reason::SlowDown
        | Reason::Locked
        | Reason::PasswordChangeRequired
        | Reason::WrongPassword
        | Reason::PasswordTooShort
        | Reason::PasswordTooLong
        | Reason::PasswordIsUsername
        | Reason::PasswordUnchanged
        | Reason::PasswordControlChar
        | Reason::Timeout
        | Reason::Internal
        | Reason::BadRequest
        | Reason::BadSignature
        | Reason::KeySize
        | Reason::ClientKeyMismatch
        | Reason::UnknownClient
        | Reason::NotAUser
        | Reason::BadConfirm
        | Reason::Busy
        | Reason::FileTooLarge
        | Reason::TooManyTransfers
        | Reason::NotOnline
        | Reason::NobodyOnline
        | Reason::BadOffer
        | Reason::OfferExpired
        | Reason::Declined
        | Reason::FileTooSlow
        | Reason::SenderCancelled
        | Reason::RecipientCancelled
        | Reason::SenderLeft
        | Reason::RecipientLeft
        | Reason::BadHash
        | Reason::BadChunk
        | Reason::UnknownTransfer
        | Reason::Unknown(_) => Remedy::ServerSays,
    }
}

/// Whether a new session key (the key step) fixes what the server refused for `reason`.
pub fn fixed_by_key_step(reason: &Reason) -> bool {
    matches!(remedy(reason), Remedy::KeyStep)
}

/// What to tell the user to do about a `1009` reason (appended to the server's message).
pub fn hint_for(reason: &Reason, program: &str) -> String {
    match remedy(reason) {
        Remedy::KeyStep => format!(" (`{program} key`)"),
        Remedy::Hint(hint) => hint.into(),
        Remedy::ServerSays => String::new(),
    }
}

/// Load and check the folder's session key.
///
/// # Errors
/// [`LoginError`] variants that all say "run the key step".
pub fn load_session_key(folder: &ClientFolder) -> Result<KeyFile, LoginError> {
    let path = folder.session_key_path();
    let user = folder.config.username.clone();
    let program = folder.program.clone();
    let file = KeyFile::load(&path).map_err(|e| match e {
        KeyFileError::Missing { .. } => LoginError::NoSessionKey {
            user: user.clone(),
            path: path.display().to_string(),
            program: program.clone(),
        },
        other => LoginError::BadKeyFile(other, program.clone()),
    })?;
    if file.key.username != user {
        return Err(LoginError::WrongKeyUser {
            user,
            found: file.key.username.clone(),
            path: path.display().to_string(),
            program,
        });
    }
    // Judged by the key server's clock (as the chat server will judge it), not this PC's: a PC
    // whose clock is days fast would otherwise throw away every new key at once.
    if file.key.is_expired_at(key_clock(&file).server_now()) {
        return Err(LoginError::KeyExpired {
            user,
            expires_at: crate::client::clock::local_datetime(file.key.expires_at),
            program,
        });
    }
    Ok(file)
}

/// The offset between this PC's clock and the key server's kept in a key file (none for a file
/// from before it was kept).
pub fn key_clock(file: &KeyFile) -> crate::client::clock::ClockOffset {
    crate::client::clock::ClockOffset(file.clock_offset_secs.unwrap_or(0))
}

/// The sending half of a logged-in session.
#[derive(Debug)]
pub struct ChatSender {
    writer: FrameWriter<OwnedWriteHalf>,
    channel: Sealer,
}

/// The receiving half of a logged-in session.
#[derive(Debug)]
pub struct ChatReceiver {
    reader: FrameReader<OwnedReadHalf>,
    channel: Opener,
    /// Joins a user list sent in several `1003` parts.
    lists: UserListMerger,
    /// File events in order, each with its frame text (see [`Self::next_frame`]).
    lane: std::collections::VecDeque<(Lane, String)>,
    /// The server closed the connection (what is in the lane still comes out).
    ended: bool,
}

/// Who we are after login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginInfo {
    pub username: String,
    pub nickname: String,
    /// The server accepts nothing but a password change (and ping, logout) until
    /// [`change_password`] succeeds: the first login of an imported user.
    pub must_change_password: bool,
    /// The chat server's address (`host:port`), found by discovery when `server_host = "auto"`.
    pub chat_addr: String,
    /// What `server_host = "auto"` found (`None`: the host was set by hand).
    pub discovered: Option<crate::client::discover::Discovered>,
}

/// One thing received, with the frame text that crossed the wire (for the ciphertext view).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// An authenticated, decrypted event.
    Event { event: ServerEvent, wire: String },
    /// A plain `1009` error from the server (the connection usually closes after it).
    ServerError(ErrorMsg),
    /// A frame that failed its checks and was dropped (the session continues).
    Rejected { why: String, wire: String },
}

/// Why a request was refused before anything was sent (the session continues).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotSentReason {
    /// The sealed frame would exceed the frame limit; the value is its size in bytes.
    #[error("the message is too large ({0} bytes)")]
    TooLarge(usize),
}

/// Why a session ended. `Display` gives the English text shown after "connection lost".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloseReason {
    /// We logged out (a logout request, or the request sender was dropped).
    #[error("logged out")]
    LoggedOut,
    /// The server sent this `1009` error (already reported as [`Incoming::ServerError`]) and
    /// closed.
    #[error("{}", .0.message)]
    ServerError(ErrorMsg),
    /// The server closed the connection without an error.
    #[error("the server closed the connection")]
    ServerClosed,
    /// Reading from or writing to the connection failed.
    #[error("connection lost{}: {error}", if *.sending { " while sending" } else { "" })]
    ConnectionLost { sending: bool, error: String },
    /// A frame from the server never arrived: the next authentic one skipped sequence numbers
    /// (deleted, or altered so it failed its MAC, on the way). The session cannot go on without
    /// hiding the loss, so it ends.
    #[error(
        "a message from the server was lost on the way (frame {expected} never arrived, {got} came next)"
    )]
    FrameLost { got: u64, expected: u64 },
    /// The session's task ended without saying why (nobody listened any more).
    #[error("connection lost")]
    Gone,
}

impl CloseReason {
    /// Why the session ended after receiving failed with `e` (from [`ChatReceiver::next`]).
    pub fn from_receive_error(e: &Error) -> Self {
        match e {
            Error::Crypto(CryptoError::FrameLost { got, expected }) => Self::FrameLost {
                got: *got,
                expected: *expected,
            },
            other => Self::ConnectionLost {
                sending: false,
                error: other.to_string(),
            },
        }
    }
}

/// Connect and log in.
///
/// # Errors
/// [`LoginError`].
pub async fn login(
    folder: &ClientFolder,
    password: &str,
    timeout: Duration,
) -> Result<(ChatSender, ChatReceiver, LoginInfo), LoginError> {
    let key = load_session_key(folder)?;
    login_with_key(folder, Arc::new(key.key), password, timeout).await
}

/// The server key discovery must find for a login: the pinned `server_public.pem`, else the one
/// the session key came from. Unreadable files count as no pin here: the login itself only
/// succeeds with the server that holds this session key.
fn login_pin(folder: &ClientFolder) -> Option<String> {
    if !folder.config.auto_host() {
        return None;
    }
    crate::client::discover::pinned_fingerprint(folder)
        .ok()
        .flatten()
        .or_else(|| {
            KeyFile::load(&folder.session_key_path())
                .ok()
                .map(|f| f.server_fingerprint)
        })
}

/// Log in with an already loaded session key (tests and load generators).
///
/// # Errors
/// [`LoginError`].
pub async fn login_with_key(
    folder: &ClientFolder,
    key: Arc<crate::crypto::SessionKey>,
    password: &str,
    timeout: Duration,
) -> Result<(ChatSender, ChatReceiver, LoginInfo), LoginError> {
    login_with_key_from(folder, key, password, timeout, None).await
}

/// [`login_with_key`] from the local address `source` (load and attack tools posing as other
/// PCs).
///
/// # Errors
/// [`LoginError`].
pub async fn login_with_key_from(
    folder: &ClientFolder,
    key: Arc<crate::crypto::SessionKey>,
    password: &str,
    timeout: Duration,
    source: Option<std::net::IpAddr>,
) -> Result<(ChatSender, ChatReceiver, LoginInfo), LoginError> {
    let resolved = crate::client::discover::resolve(folder, login_pin(folder).as_deref()).await?;
    let folder = &resolved.folder;
    let addr = folder.chat_addr();
    let port = folder.config.chat_port;
    let stream = crate::net::connect_from(&addr, source, timeout)
        .await
        .map_err(|source| LoginError::Unreachable {
            addr: addr.clone(),
            port,
            source,
        })?;
    let (r, w) = stream.into_split();
    let mut reader = FrameReader::new(r);
    let mut writer = FrameWriter::new(w);
    let program = folder.program.clone();

    let first = next_login_message(&mut reader, timeout, &program).await?;
    if first.code == code::KEY_HELLO {
        // chat_port points at the key server.
        let wrong = folder.wrong_port(crate::client::folder::PortKey::ChatPort);
        return Err(LoginError::WrongServer(wrong));
    }
    let hello = Hello::from_message(&first).map_err(|e| LoginError::Protocol(e.to_string()))?;
    let key_id = key.key_id.clone();
    let (mut send_ch, mut recv_ch) = Channel::client(key, &hello.nonce).split();
    let req = login_request(&mut send_ch, &folder.config.username, &key_id, password);
    writer
        .write_frame(req.as_bytes())
        .await
        .map_err(|_| LoginError::Closed)?;
    let reply = next_login_message(&mut reader, timeout, &program).await?;
    // Opened and decoded apart (not `open_msg`): a reply that fails its checks is told apart
    // from one that is authentic but not a login result.
    let opened = recv_ch
        .open(&reply, 0)
        .map_err(|e| LoginError::Protocol(format!("login reply rejected: {e}")))?;
    match ServerEvent::from_inner(&opened.inner) {
        Ok(ServerEvent::LoginOk {
            username,
            nickname,
            must_change_password,
        }) => Ok((
            ChatSender {
                writer,
                channel: send_ch,
            },
            ChatReceiver {
                reader,
                channel: recv_ch,
                lists: UserListMerger::default(),
                lane: std::collections::VecDeque::new(),
                ended: false,
            },
            LoginInfo {
                username,
                nickname,
                must_change_password,
                chat_addr: addr,
                discovered: resolved.discovered,
            },
        )),
        Ok(other) => Err(LoginError::Protocol(format!(
            "expected a login result, got {}",
            other.code()
        ))),
        Err(e) => Err(LoginError::Protocol(e.to_string())),
    }
}

/// Why a password change did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Refused, by the local check before sending or by the server: one of the `Password*`
    /// reasons, [`Reason::WrongPassword`], [`Reason::DbUnavailable`] or [`Reason::Internal`].
    #[error("password not changed ({0})")]
    Refused(Reason),
    /// No answer within the timeout (seconds).
    #[error("the chat server did not answer within {0} s")]
    Timeout(u64),
    /// The session ended.
    #[error("{0}")]
    Closed(CloseReason),
}

/// Change the password right after a login that said [`LoginInfo::must_change_password`]
/// (nothing else arrives before the answer then). The new password is checked here first, with
/// the rule the server applies, so a weak one never leaves this PC. A running session sends
/// [`ClientRequest::ChangePassword`] itself and gets a [`ServerEvent::PasswordResult`] among its
/// events instead.
///
/// # Errors
/// [`PasswordError`]; after `Refused` the session is still usable (try again).
pub async fn change_password(
    sender: &mut ChatSender,
    receiver: &mut ChatReceiver,
    username: &str,
    old: &str,
    new: &str,
    timeout: Duration,
) -> Result<(), PasswordError> {
    check_new_password(username, old, new).map_err(PasswordError::Refused)?;
    let req = ClientRequest::ChangePassword {
        old: Secret::new(old),
        new: Secret::new(new),
    };
    sender.send(&req).await.map_err(|e| {
        PasswordError::Closed(CloseReason::ConnectionLost {
            sending: true,
            error: e.to_string(),
        })
    })?;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let next = tokio::time::timeout_at(deadline, receiver.next())
            .await
            .map_err(|_| PasswordError::Timeout(timeout.as_secs()))?;
        match next {
            Ok(Some(Incoming::Event {
                event: ServerEvent::PasswordResult(result),
                ..
            })) => return result.map_err(PasswordError::Refused),
            Ok(Some(Incoming::ServerError(e))) => {
                return Err(PasswordError::Closed(CloseReason::ServerError(e)));
            }
            // A pong or a dropped frame: not the answer yet.
            Ok(Some(Incoming::Event { .. } | Incoming::Rejected { .. })) => {}
            Ok(None) => return Err(PasswordError::Closed(CloseReason::ServerClosed)),
            Err(e) => return Err(PasswordError::Closed(CloseReason::from_receive_error(&e))),
        }
    }
}

async fn next_login_message(
    reader: &mut FrameReader<OwnedReadHalf>,
    timeout: Duration,
    program: &str,
) -> Result<RawMessage, LoginError> {
    read_message(reader, timeout, Some(code::ERROR))
        .await
        .map_err(|e| match e {
            ReadError::Timeout(t) => LoginError::Timeout(t.as_secs()),
            ReadError::Closed | ReadError::Lost(_) => LoginError::Closed,
            ReadError::Malformed(e) => LoginError::Protocol(e.to_string()),
            ReadError::Refused(msg) => match ErrorMsg::from_message(&msg) {
                Ok(e) => LoginError::Refused {
                    hint: hint_for(&e.reason, program),
                    reason: e.reason,
                    message: e.message,
                },
                Err(e) => LoginError::Protocol(e.to_string()),
            },
        })
}

impl ChatSender {
    /// Seal and send one request; returns the frame text that went on the wire.
    ///
    /// # Errors
    /// I/O errors (connection lost) or a request too large for a frame. A request too large is
    /// refused before sealing, so it uses no sequence number (the server would take the skipped
    /// number for a lost frame and close the session).
    pub async fn send(&mut self, req: &ClientRequest) -> Result<String, Error> {
        let text = if matches!(req, ClientRequest::File(FileRequest::Chunk { .. })) {
            // A chunk's DES and HMAC on the low-priority threads (crate::lowprio): the chat
            // window and the other sessions of this process stay quick during a transfer.
            self.channel.seal_msg_low(req).await?
        } else {
            self.channel.seal_msg(req)?
        };
        self.writer.write_frame(text.as_bytes()).await?;
        Ok(text)
    }

    /// Close the write side.
    pub async fn close(&mut self) {
        self.writer.shutdown().await;
    }
}

impl ChatReceiver {
    /// Next thing from the server; `Ok(None)` when the server closed the connection cleanly.
    /// A user list sent in several parts comes out once, whole, when its last part arrives.
    /// A frame that fails its checks comes out as [`Incoming::Rejected`] and the session goes on.
    ///
    /// # Errors
    /// I/O and framing errors, and [`CryptoError::FrameLost`] when a frame from the server never
    /// arrived: the connection is unusable afterwards ([`CloseReason::from_receive_error`]).
    pub async fn next(&mut self) -> Result<Option<Incoming>, Error> {
        loop {
            let Some(incoming) = self.next_frame().await? else {
                return Ok(None);
            };
            let Incoming::Event { event, wire } = incoming else {
                return Ok(Some(incoming));
            };
            match self.lists.push(event) {
                Ok(None) => {}
                Ok(Some(event)) => return Ok(Some(Incoming::Event { event, wire })),
                Err(e) => {
                    return Ok(Some(Incoming::Rejected {
                        why: e.to_string(),
                        wire,
                    }));
                }
            }
        }
    }

    /// One frame's event, read and opened. File chunks are checked (MAC, sequence number) in
    /// order as they arrive but decrypted on the low-priority threads ([`Opener::check`]): a
    /// chat line behind them is opened and given out at once, while file events keep their own
    /// order in [`Self::lane`]. Cancel-safe, as `next` runs in `select!` loops: a dropped wait
    /// leaves everything in the lane, and reading a frame is cancel-safe.
    async fn next_frame(&mut self) -> Result<Option<Incoming>, Error> {
        loop {
            if matches!(self.lane.front(), Some((Lane::Ready(_), _))) {
                let Some((Lane::Ready(event), wire)) = self.lane.pop_front() else {
                    unreachable!("checked above")
                };
                return opened(event, wire);
            }
            if self.ended && self.lane.is_empty() {
                return Ok(None);
            }
            let read_more = !self.ended && self.lane.len() < LANE_MAX;
            let step = {
                let front = async {
                    match self.lane.front_mut() {
                        Some((Lane::Chunk(job), _)) => job.await,
                        _ => std::future::pending().await,
                    }
                };
                let read = async {
                    if read_more {
                        self.reader.read_frame().await
                    } else {
                        std::future::pending().await
                    }
                };
                tokio::select! {
                    biased;
                    event = front => Step::Chunk(event),
                    frame = read => Step::Frame(frame),
                }
            };
            match step {
                Step::Chunk(event) => {
                    let (_, wire) = self.lane.pop_front().expect("the lane's front");
                    return opened(event, wire);
                }
                Step::Frame(frame) => match frame? {
                    None => self.ended = true,
                    Some(frame) => {
                        if let Some(out) = self.frame_in(&frame) {
                            return out;
                        }
                    }
                },
            }
        }
    }

    /// A frame just read: what to give out now, or `None` when it went into the lane.
    fn frame_in(&mut self, frame: &[u8]) -> Option<Result<Option<Incoming>, Error>> {
        let wire = String::from_utf8_lossy(frame).into_owned();
        let msg = match RawMessage::parse(frame) {
            Ok(m) => m,
            Err(e) => {
                return Some(Ok(Some(Incoming::Rejected {
                    why: e.to_string(),
                    wire,
                })));
            }
        };
        if msg.code == code::ERROR {
            return Some(Ok(Some(match ErrorMsg::from_message(&msg) {
                Ok(e) => Incoming::ServerError(e),
                Err(e) => Incoming::Rejected {
                    why: e.to_string(),
                    wire,
                },
            })));
        }
        if msg.code == code::FILE_DATA {
            return match self.channel.check(&msg) {
                Ok(checked) => {
                    let job = LowPriority::global().start(move || checked.open());
                    self.lane.push_back((Lane::Chunk(job), wire));
                    None
                }
                Err(e) => Some(opened(Err(e), wire)),
            };
        }
        let event = self.channel.open_msg(&msg);
        if FileEvent::is_file_code(&msg.code) && !self.lane.is_empty() {
            self.lane.push_back((Lane::Ready(event), wire));
            return None;
        }
        Some(opened(event, wire))
    }
}

/// File events waiting to be given out in order: a chunk being decrypted, or an event opened
/// already that must not overtake the chunks before it (the end of a transfer, its status).
#[derive(Debug)]
enum Lane {
    Chunk(Pending<Result<ServerEvent, Error>>),
    Ready(Result<ServerEvent, Error>),
}

/// What [`ChatReceiver::next_frame`] waited for.
enum Step {
    Chunk(Result<ServerEvent, Error>),
    Frame(Result<Option<Vec<u8>>, Error>),
}

/// Frames read ahead into the lane at most (the server lets three chunks into the stream
/// beyond the acknowledgement, so this is never reached by an honest server's file data).
const LANE_MAX: usize = 16;

/// An opened frame as what [`ChatReceiver::next_frame`] gives out.
fn opened(event: Result<ServerEvent, Error>, wire: String) -> Result<Option<Incoming>, Error> {
    match event {
        Ok(event) => Ok(Some(Incoming::Event { event, wire })),
        Err(e @ Error::Crypto(CryptoError::FrameLost { .. })) => Err(e),
        Err(e) => Ok(Some(Incoming::Rejected {
            why: e.to_string(),
            wire,
        })),
    }
}

/// Events from a running session (see [`spawn_session`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    Incoming(Incoming),
    /// A request went out; `wire` is the sealed frame text.
    Sent {
        request: ClientRequest,
        wire: String,
    },
    /// A request was refused locally; nothing went on the wire and the session continues.
    NotSent {
        request: ClientRequest,
        why: NotSentReason,
    },
    /// The session ended; `reason` says why.
    Closed {
        reason: CloseReason,
    },
}

/// A logged-in session driven by its owner's loop: both halves of the connection and the
/// heartbeat clock. [`spawn_session`] runs one in a task behind two channels; the GUI's network
/// worker runs one in its own `select!`, so nothing sits between it and the socket.
#[derive(Debug)]
pub struct Session {
    sender: ChatSender,
    receiver: ChatReceiver,
    /// When the last frame went out: a ping follows after [`HEARTBEAT_SECS`] of silence, so the
    /// server's idle timeout never closes a live client.
    last_sent: tokio::time::Instant,
}

impl Session {
    pub fn new(sender: ChatSender, receiver: ChatReceiver) -> Self {
        Self {
            sender,
            receiver,
            last_sent: tokio::time::Instant::now(),
        }
    }

    /// When [`Self::ping`] is due.
    pub fn ping_due(&self) -> tokio::time::Instant {
        self.last_sent + Duration::from_secs(HEARTBEAT_SECS)
    }

    /// Send a heartbeat.
    ///
    /// # Errors
    /// Why the session ended (the connection failed).
    pub async fn ping(&mut self) -> Result<(), CloseReason> {
        self.sender
            .send(&ClientRequest::Ping)
            .await
            .map_err(|e| CloseReason::ConnectionLost {
                sending: false,
                error: e.to_string(),
            })?;
        self.last_sent = tokio::time::Instant::now();
        Ok(())
    }

    /// Seal and send one request; returns what to report: [`SessionEvent::Sent`], or
    /// [`SessionEvent::NotSent`] when it was refused before anything went out.
    ///
    /// # Errors
    /// Why the session ended (the connection failed while sending).
    pub async fn send(&mut self, request: ClientRequest) -> Result<SessionEvent, CloseReason> {
        match self.sender.send(&request).await {
            Ok(wire) => {
                self.last_sent = tokio::time::Instant::now();
                Ok(SessionEvent::Sent { request, wire })
            }
            Err(Error::Protocol(ProtocolError::TooLarge(n))) => Ok(SessionEvent::NotSent {
                request,
                why: NotSentReason::TooLarge(n),
            }),
            Err(e) => Err(CloseReason::ConnectionLost {
                sending: true,
                error: e.to_string(),
            }),
        }
    }

    /// The next thing from the server. Cancel safe (a frame is never lost when another branch of
    /// a `select!` wins), like [`FrameReader::read_frame`]. After a
    /// [`Incoming::ServerError`] the session is over: see [`Incoming::close_reason`].
    ///
    /// # Errors
    /// Why the session ended (the server closed, or the connection failed).
    pub async fn recv(&mut self) -> Result<Incoming, CloseReason> {
        match self.receiver.next().await {
            Ok(Some(inc)) => Ok(inc),
            Ok(None) => Err(CloseReason::ServerClosed),
            Err(e) => Err(CloseReason::from_receive_error(&e)),
        }
    }

    /// Close the write side after a logout was sent.
    pub async fn close(mut self) -> CloseReason {
        self.sender.close().await;
        CloseReason::LoggedOut
    }

    /// Log out and close (a failure to send the logout changes nothing: the session is over).
    pub async fn logout(mut self) -> CloseReason {
        let _ = self.sender.send(&ClientRequest::Logout).await;
        self.close().await
    }
}

impl Incoming {
    /// Why the session ends after this (a `1009` error from the server), if it does.
    pub fn close_reason(&self) -> Option<CloseReason> {
        match self {
            Self::ServerError(e) => Some(CloseReason::ServerError(e.clone())),
            Self::Event { .. } | Self::Rejected { .. } => None,
        }
    }
}

/// Run a logged-in [`Session`] in a task: requests in through `commands`, everything that
/// happens out through the returned receiver. Dropping the command sender logs out.
pub fn spawn_session(
    sender: ChatSender,
    receiver: ChatReceiver,
    commands: mpsc::Receiver<ClientRequest>,
    events_cap: usize,
) -> mpsc::Receiver<SessionEvent> {
    let (_no_files, files) = mpsc::channel(1);
    spawn_session_with_files(sender, receiver, commands, files, events_cap)
}

/// [`spawn_session`] with a second, lower-priority input for file chunks: one is sent only when
/// no command waits and nothing has arrived, so a chat message waits for at most one chunk.
/// Keep `files` short (a few frames): what waits there is what a chat message can queue behind.
pub fn spawn_session_with_files(
    sender: ChatSender,
    receiver: ChatReceiver,
    mut commands: mpsc::Receiver<ClientRequest>,
    mut files: mpsc::Receiver<ClientRequest>,
    events_cap: usize,
) -> mpsc::Receiver<SessionEvent> {
    let (tx, rx) = mpsc::channel(events_cap);
    tokio::spawn(async move {
        let mut session = Session::new(sender, receiver);
        let reason = loop {
            let ping_due = session.ping_due();
            tokio::select! {
                biased;
                cmd = commands.recv() => {
                    let Some(req) = cmd else { break session.logout().await };
                    let logout = req == ClientRequest::Logout;
                    match session.send(req).await {
                        Ok(ev) => {
                            let _ = tx.send(ev).await;
                            if logout {
                                break session.close().await;
                            }
                        }
                        Err(reason) => break reason,
                    }
                }
                incoming = session.recv() => match incoming {
                    Ok(inc) => {
                        let fatal = inc.close_reason();
                        if tx.send(SessionEvent::Incoming(inc)).await.is_err() {
                            break CloseReason::Gone;
                        }
                        if let Some(reason) = fatal {
                            break reason;
                        }
                    }
                    Err(reason) => break reason,
                },
                () = tokio::time::sleep_until(ping_due) => {
                    if let Err(reason) = session.ping().await {
                        break reason;
                    }
                }
                Some(chunk) = files.recv() => match session.send(chunk).await {
                    // Chunks are not reported as sent: the owner counts them itself.
                    Ok(SessionEvent::NotSent { request, why }) => {
                        let _ = tx.send(SessionEvent::NotSent { request, why }).await;
                    }
                    Ok(_) => {}
                    Err(reason) => break reason,
                },
            }
        };
        let _ = tx.send(SessionEvent::Closed { reason }).await;
    });
    rx
}
