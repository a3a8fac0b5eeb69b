//! Login and chat messages (server, port 8090). PROTOCOL.md describes them byte by byte.
//!
//! ```text
//! server -> client  1000|version|conn_nonce                                plain hello
//! client -> server  0001|username|key_id|seq|iv|ct|mac                     login, inner: password
//! server -> client  1001|seq|iv|ct|mac                                     login ok, inner: OK|username|nickname
//!                   (or CHANGE_PASSWORD|username|nickname: only 0006, 0004, 0005 until changed)
//! client -> server  0002|seq|iv|ct|mac                                     chat, inner: to|text
//! server -> client  1002|seq|iv|ct|mac                                     chat message, inner: id|time|from|nick|to|text
//! client -> server  0003 / 0004 / 0005 |seq|iv|ct|mac                      list users / logout / ping, inner empty
//! client -> server  0006|seq|iv|ct|mac                                     change password, inner: old|new
//! server -> client  1003 / 1004 / 1005 |seq|iv|ct|mac                      user list / notice / pong
//! server -> client  1006|seq|iv|ct|mac                                     password result, inner: OK or reason
//! client -> server  0007, server -> client 1007 / 1008                     history: see [`crate::protocol::history`]
//!                   (1003 inner: END or MORE|user|nick|...; a long list comes in parts)
//! client -> server  0008..0012, server -> client 1010..1015             files: see [`crate::protocol::files`]
//! server -> client  1009|reason|message                                    plain error
//! ```
//! Sealing is described in [`crate::protocol::sealed`].

use crate::error::ProtocolError;
use crate::protocol::consts::{
    KEY_ID_LEN, MAX_FRAME_LEN, MAX_HISTORY_COUNT, MAX_MESSAGE_BYTES, MAX_USERNAME_LEN, NONCE_LEN,
    PROTOCOL_VERSION, code,
};
use crate::protocol::files::{FileEvent, FileRequest};
use crate::protocol::history::{HistoryPage, line_fields, parse_line};
use crate::protocol::message::{RawMessage, b64};
use crate::protocol::password::Secret;
use crate::protocol::reason::{Family, Reason};
use crate::protocol::sealed::{SealedMessage, Sealer, sealed_len};

/// Plain server hello carrying the connection nonce that every MAC on this connection covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    pub version: u32,
    pub nonce: [u8; NONCE_LEN],
}

impl Hello {
    pub fn to_text(&self) -> String {
        format!("{}|{}|{}", code::HELLO, self.version, b64(self.nonce))
    }

    /// # Errors
    /// [`ProtocolError`] for a malformed hello or another protocol version.
    pub fn from_message(m: &RawMessage) -> Result<Self, ProtocolError> {
        m.expect_code(code::HELLO)?;
        m.expect_fields(2)?;
        let version = u32::try_from(m.number(0)?).unwrap_or(u32::MAX);
        if version != PROTOCOL_VERSION {
            return Err(ProtocolError::Version(version));
        }
        Ok(Self {
            version,
            nonce: m.array(1)?,
        })
    }
}

/// Build the sealed login request. The username and key id travel in clear (the server needs
/// them to pick the key) but are covered by the MAC; the password is only inside the ciphertext.
pub fn login_request(ch: &mut Sealer, username: &str, key_id: &str, password: &str) -> String {
    ch.seal(code::LOGIN, &[&b64(username), key_id], &[&b64(password)])
}

/// Read the clear part of a login request: `(username, key_id)`.
///
/// # Errors
/// [`ProtocolError`] for a malformed request.
pub fn parse_login_outer(m: &RawMessage) -> Result<(String, String), ProtocolError> {
    m.expect_code(code::LOGIN)?;
    m.expect_fields(6)?;
    let username = m.text(0)?;
    if username.is_empty() || username.len() > MAX_USERNAME_LEN {
        return Err(ProtocolError::BadField {
            code: m.code.clone(),
            index: 0,
            reason: format!("username must be 1 to {MAX_USERNAME_LEN} bytes"),
        });
    }
    Ok((username, m.hex_id(1, KEY_ID_LEN)?))
}

/// Number of clear fields before the sealed part of a login request.
pub const LOGIN_PREFIX_FIELDS: usize = 2;

/// A plain `1009|reason|message` error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorMsg {
    pub reason: Reason,
    pub message: String,
}

impl ErrorMsg {
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }

    pub fn to_text(&self) -> String {
        format!("{}|{}|{}", code::ERROR, self.reason, b64(&self.message))
    }

    /// # Errors
    /// [`ProtocolError`] for a malformed error.
    pub fn from_message(m: &RawMessage) -> Result<Self, ProtocolError> {
        m.expect_code(code::ERROR)?;
        m.expect_fields(2)?;
        Ok(Self {
            reason: Reason::from_wire(Family::Chat, m.token(0)?),
            message: m.text(1)?,
        })
    }
}

/// What a logged-in client asks for (sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientRequest {
    /// `to = None` sends to everyone; `Some(username)` privately.
    Chat {
        to: Option<String>,
        text: String,
    },
    ListUsers,
    Logout,
    Ping,
    /// Replace the own password; `old` is the current one.
    ChangePassword {
        old: Secret,
        new: Secret,
    },
    /// Up to `count` stored messages this user may see (public, or private from or to them)
    /// with ids below `before_id` (0: the newest), answered with `1007 OLDER` pages. The server
    /// answers at most [`MAX_HISTORY_COUNT`].
    History {
        before_id: u64,
        count: u32,
    },
    /// A file transfer request (`0008`..`0012`, [`crate::protocol::files`]).
    File(FileRequest),
}

impl SealedMessage for ClientRequest {
    fn code(&self) -> &'static str {
        match self {
            Self::Chat { .. } => code::CHAT,
            Self::ListUsers => code::LIST_USERS,
            Self::Logout => code::LOGOUT,
            Self::Ping => code::PING,
            Self::ChangePassword { .. } => code::CHANGE_PASSWORD,
            Self::History { .. } => code::HISTORY,
            Self::File(f) => f.code(),
        }
    }

    fn inner_text(&self) -> String {
        match self {
            Self::Chat { to, text } => {
                format!("{}|{}", b64(to.as_deref().unwrap_or("")), b64(text))
            }
            Self::ListUsers | Self::Logout | Self::Ping => String::new(),
            Self::ChangePassword { old, new } => {
                format!("{}|{}", b64(old.expose()), b64(new.expose()))
            }
            Self::History { before_id, count } => format!("{before_id}|{count}"),
            Self::File(f) => f.inner_text(),
        }
    }

    fn inner_data(&self) -> &[u8] {
        match self {
            Self::File(f) => f.inner_data(),
            _ => &[],
        }
    }

    fn from_inner(m: &RawMessage) -> Result<Self, ProtocolError> {
        match m.code.as_str() {
            code::CHAT => {
                m.expect_fields(2)?;
                let to = m.text(0)?;
                Ok(Self::Chat {
                    to: (!to.is_empty()).then_some(to),
                    text: m.text(1)?,
                })
            }
            code::LIST_USERS => m.expect_fields(0).map(|()| Self::ListUsers),
            code::LOGOUT => m.expect_fields(0).map(|()| Self::Logout),
            code::PING => m.expect_fields(0).map(|()| Self::Ping),
            code::CHANGE_PASSWORD => {
                m.expect_fields(2)?;
                Ok(Self::ChangePassword {
                    old: Secret::new(m.text(0)?),
                    new: Secret::new(m.text(1)?),
                })
            }
            code::HISTORY => {
                m.expect_fields(2)?;
                let count = m.number(1)?;
                if count == 0 {
                    return Err(ProtocolError::BadField {
                        code: m.code.clone(),
                        index: 1,
                        reason: "count must be at least 1".into(),
                    });
                }
                Ok(Self::History {
                    before_id: m.number(0)?,
                    count: u32::try_from(count)
                        .unwrap_or(u32::MAX)
                        .min(MAX_HISTORY_COUNT),
                })
            }
            c if FileRequest::is_file_code(c) => FileRequest::from_inner(m).map(Self::File),
            other => Err(ProtocolError::Unexpected {
                got: other.to_owned(),
                expected: "a chat request".into(),
            }),
        }
    }
}

/// Check a chat text before sending or relaying it.
///
/// # Errors
/// A sentence for the user.
pub fn check_text(text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Err("empty message".into());
    }
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(format!(
            "message is {} bytes; the limit is {MAX_MESSAGE_BYTES} bytes",
            text.len()
        ));
    }
    Ok(())
}

/// A relayed chat message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatLine {
    /// Server-wide accept order; each recipient sees strictly increasing ids.
    pub msg_id: u64,
    /// Server time in milliseconds since the Unix epoch.
    pub time_ms: u64,
    pub from_user: String,
    pub from_nick: String,
    /// `Some(username)` for a private message.
    pub to: Option<String>,
    pub text: String,
}

/// Kinds of notices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    Join,
    Leave,
    Info,
    Warn,
    /// A private message to `user`, who is offline, was accepted and is held for their next
    /// login (the client says so in its own language).
    Held,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Join => "JOIN",
            Self::Leave => "LEAVE",
            Self::Info => "INFO",
            Self::Warn => "WARN",
            Self::Held => "HELD",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "JOIN" => Self::Join,
            "LEAVE" => Self::Leave,
            "INFO" => Self::Info,
            "WARN" => Self::Warn,
            "HELD" => Self::Held,
            _ => return None,
        })
    }
}

/// A system notice (join, leave, information, warning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub kind: NoticeKind,
    pub user: String,
    pub nick: String,
    pub text: String,
}

/// An online user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnlineUser {
    pub username: String,
    pub nickname: String,
}

/// `FLAG|user|nick|user|nick...` with every name in base64.
fn list_inner(flag: &str, users: &[OnlineUser]) -> String {
    let mut out = flag.to_owned();
    for u in users {
        out.push('|');
        out.push_str(&b64(&u.username));
        out.push('|');
        out.push_str(&b64(&u.nickname));
    }
    out
}

/// First field of a `1003` user list: this frame ends the list.
const LIST_END: &str = "END";
/// First field of a `1003` user list: more parts follow.
const LIST_MORE: &str = "MORE";

/// What the server sends a logged-in client (sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// Logged in. With `must_change_password` the server accepts only a password change, ping
    /// and logout until a [`ServerEvent::PasswordResult`] says `Ok`; the user list follows that.
    LoginOk {
        username: String,
        nickname: String,
        must_change_password: bool,
    },
    Chat(ChatLine),
    /// A `1003` that ends a user list (`END|...`). On the wire it holds the last part; a client
    /// that merges parts ([`UserListMerger`]) hands out the whole list in this variant.
    UserList(Vec<OnlineUser>),
    /// A `1003` part with more to follow (`MORE|...`): a list too long for one frame.
    UserListPart(Vec<OnlineUser>),
    Notice(Notice),
    Pong,
    /// The answer to a password change: `Ok`, or why it was refused (one of the `Password*`
    /// reasons, [`Reason::WrongPassword`], [`Reason::DbUnavailable`] or [`Reason::Internal`]);
    /// [`Reason::PasswordChangeRequired`] answers any other request before the change.
    PasswordResult(Result<(), Reason>),
    /// A `1007` page of stored messages.
    History(HistoryPage),
    /// `1008`: every message this user sent with an id up to `upto` is stored in the database
    /// (it survives a restart of the server). See PROTOCOL.md §6.10 for what the echo promises
    /// and what this one does.
    Stored {
        upto: u64,
    },
    /// A file transfer event (`1010`..`1015`, [`crate::protocol::files`]).
    File(FileEvent),
}

/// First field of a `1001` login result: logged in.
const LOGIN_OK: &str = "OK";
/// First field of a `1001` login result: logged in, but the password must be changed first.
const LOGIN_CHANGE_PASSWORD: &str = "CHANGE_PASSWORD";
/// The `1006` field for a password that was changed.
const PASSWORD_OK: &str = "OK";

/// The `1003` frames for `users`: as many [`ServerEvent::UserListPart`]s as needed, each
/// sealing to at most [`MAX_FRAME_LEN`] bytes, then one [`ServerEvent::UserList`] (possibly
/// empty). With a classroom-sized list this is a single `UserList`.
pub fn user_list_events(users: Vec<OnlineUser>) -> Vec<ServerEvent> {
    // The MAC covers the whole frame; the flag is the longer of the two.
    let empty = LIST_MORE.len();
    let mut events = Vec::new();
    let mut part: Vec<OnlineUser> = Vec::new();
    let mut inner_len = empty;
    for u in users {
        let entry = 2 + b64_len(u.username.len()) + b64_len(u.nickname.len());
        if !part.is_empty() && sealed_len(code::USER_LIST, 0, inner_len + entry) > MAX_FRAME_LEN {
            events.push(ServerEvent::UserListPart(std::mem::take(&mut part)));
            inner_len = empty;
        }
        inner_len += entry;
        part.push(u);
    }
    events.push(ServerEvent::UserList(part));
    events
}

fn b64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// Joins `1003` parts on the receiving side: [`Self::push`] returns the whole list when its last
/// part arrives. A server sends all parts of one list back to back; the merger still bounds what
/// it holds ([`MAX_LIST_USERS`]) so a broken peer cannot grow it without end.
#[derive(Debug, Default)]
pub struct UserListMerger {
    pending: Vec<OnlineUser>,
}

/// Most users a merged list may hold (well above any server's connection limit).
pub const MAX_LIST_USERS: usize = 100_000;

impl UserListMerger {
    /// Take one event: a part is kept (`Ok(None)`); the end of a list returns the merged
    /// [`ServerEvent::UserList`]; any other event passes through unchanged.
    ///
    /// # Errors
    /// [`ProtocolError::BadField`] when the parts add up to more than [`MAX_LIST_USERS`].
    pub fn push(&mut self, ev: ServerEvent) -> Result<Option<ServerEvent>, ProtocolError> {
        match ev {
            ServerEvent::UserListPart(mut users) => {
                if self.pending.len() + users.len() > MAX_LIST_USERS {
                    self.pending.clear();
                    return Err(ProtocolError::BadField {
                        code: code::USER_LIST.into(),
                        index: 0,
                        reason: format!("user list longer than {MAX_LIST_USERS} users"),
                    });
                }
                self.pending.append(&mut users);
                Ok(None)
            }
            ServerEvent::UserList(users) if !self.pending.is_empty() => {
                let mut all = std::mem::take(&mut self.pending);
                all.extend(users);
                Ok(Some(ServerEvent::UserList(all)))
            }
            other => Ok(Some(other)),
        }
    }
}

impl SealedMessage for ServerEvent {
    fn code(&self) -> &'static str {
        match self {
            Self::LoginOk { .. } => code::LOGIN_RESULT,
            Self::Chat(_) => code::CHAT_MESSAGE,
            Self::UserList(_) | Self::UserListPart(_) => code::USER_LIST,
            Self::Notice(_) => code::NOTICE,
            Self::Pong => code::PONG,
            Self::PasswordResult(_) => code::PASSWORD_RESULT,
            Self::History(_) => code::HISTORY_PAGE,
            Self::Stored { .. } => code::STORED,
            Self::File(f) => f.code(),
        }
    }

    fn inner_text(&self) -> String {
        match self {
            Self::LoginOk {
                username,
                nickname,
                must_change_password,
            } => {
                let flag = if *must_change_password {
                    LOGIN_CHANGE_PASSWORD
                } else {
                    LOGIN_OK
                };
                format!("{flag}|{}|{}", b64(username), b64(nickname))
            }
            Self::Chat(c) => line_fields(c),
            Self::UserList(users) => list_inner(LIST_END, users),
            Self::UserListPart(users) => list_inner(LIST_MORE, users),
            Self::Notice(n) => format!(
                "{}|{}|{}|{}",
                n.kind.as_str(),
                b64(&n.user),
                b64(&n.nick),
                b64(&n.text)
            ),
            Self::Pong => String::new(),
            Self::PasswordResult(Ok(())) => PASSWORD_OK.into(),
            Self::PasswordResult(Err(reason)) => reason.as_str().into(),
            Self::History(page) => page.inner_text(),
            Self::Stored { upto } => upto.to_string(),
            Self::File(f) => f.inner_text(),
        }
    }

    fn inner_data(&self) -> &[u8] {
        match self {
            Self::File(f) => f.inner_data(),
            _ => &[],
        }
    }

    fn from_inner(m: &RawMessage) -> Result<Self, ProtocolError> {
        match m.code.as_str() {
            code::LOGIN_RESULT => {
                m.expect_fields(3)?;
                let must_change_password = match m.token(0)? {
                    LOGIN_OK => false,
                    LOGIN_CHANGE_PASSWORD => true,
                    _ => {
                        return Err(ProtocolError::BadField {
                            code: m.code.clone(),
                            index: 0,
                            reason: "expected OK or CHANGE_PASSWORD".into(),
                        });
                    }
                };
                Ok(Self::LoginOk {
                    username: m.text(1)?,
                    nickname: m.text(2)?,
                    must_change_password,
                })
            }
            code::CHAT_MESSAGE => {
                m.expect_fields(6)?;
                Ok(Self::Chat(parse_line(m, 0)?))
            }
            code::HISTORY_PAGE => HistoryPage::from_inner(m).map(Self::History),
            code::STORED => {
                m.expect_fields(1)?;
                Ok(Self::Stored { upto: m.number(0)? })
            }
            code::USER_LIST => {
                if m.fields.is_empty() || m.fields.len().is_multiple_of(2) {
                    return Err(ProtocolError::FieldCount {
                        code: m.code.clone(),
                        expected: "END or MORE, then an even number of".into(),
                        got: m.fields.len(),
                    });
                }
                let users = (0..m.fields.len() / 2)
                    .map(|i| {
                        Ok(OnlineUser {
                            username: m.text(2 * i + 1)?,
                            nickname: m.text(2 * i + 2)?,
                        })
                    })
                    .collect::<Result<_, _>>()?;
                match m.token(0)? {
                    LIST_END => Ok(Self::UserList(users)),
                    LIST_MORE => Ok(Self::UserListPart(users)),
                    _ => Err(ProtocolError::BadField {
                        code: m.code.clone(),
                        index: 0,
                        reason: "expected END or MORE".into(),
                    }),
                }
            }
            code::NOTICE => {
                m.expect_fields(4)?;
                let kind =
                    NoticeKind::parse(m.token(0)?).ok_or_else(|| ProtocolError::BadField {
                        code: m.code.clone(),
                        index: 0,
                        reason: "unknown notice kind".into(),
                    })?;
                Ok(Self::Notice(Notice {
                    kind,
                    user: m.text(1)?,
                    nick: m.text(2)?,
                    text: m.text(3)?,
                }))
            }
            code::PONG => m.expect_fields(0).map(|()| Self::Pong),
            code::PASSWORD_RESULT => {
                m.expect_fields(1)?;
                Ok(Self::PasswordResult(match m.token(0)? {
                    PASSWORD_OK => Ok(()),
                    token => Err(Reason::from_wire(Family::Chat, token)),
                }))
            }
            c if FileEvent::is_file_code(c) => FileEvent::from_inner(m).map(Self::File),
            other => Err(ProtocolError::Unexpected {
                got: other.to_owned(),
                expected: "a server event".into(),
            }),
        }
    }
}
