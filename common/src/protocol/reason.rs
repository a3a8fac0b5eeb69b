//! Why a server refused or closed: the `reason` token of `1009` (chat server) and `1109` (key
//! server) errors, as one enum.
//!
//! The wire tokens are PROTOCOL.md's (§5.8, §6.7), unchanged. One table below names each reason
//! once: its wire token and the families (servers) that send it. Every decision a program makes
//! about a reason (the hint a client prints, whether the key step would fix it, and later the
//! localized text) is an exhaustive `match` on [`Reason`], so a new reason cannot be forgotten.
//!
//! `KEY_MISMATCH` means different things at the two servers (a stale session key at the chat
//! server, a username bound to another client key at the key server) and has a different remedy,
//! so it is two variants: [`Reason::KeyMismatch`] and [`Reason::ClientKeyMismatch`]. Which one a
//! token decodes to depends on the [`Family`] of the message carrying it.

use std::fmt;

/// Which server's errors: the chat server's `1009` or the key server's `1109`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    Chat,
    Key,
}

macro_rules! reasons {
    ($($(#[$doc:meta])* $variant:ident = $wire:literal, chat: $chat:literal, key: $key:literal;)*) => {
        /// A reason in a `1009` or `1109` error.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum Reason {
            $($(#[$doc])* $variant,)*
            /// A token this build does not know (from a newer server): the client shows the
            /// server's message as it is.
            Unknown(String),
        }

        impl Reason {
            /// Every known reason, in table order.
            pub const ALL: &[Reason] = &[$(Reason::$variant),*];

            /// The wire token.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)*
                    Self::Unknown(token) => token,
                }
            }

            /// Whether servers of `family` send this reason.
            pub fn in_family(&self, family: Family) -> bool {
                match self {
                    $(Self::$variant => match family {
                        Family::Chat => $chat,
                        Family::Key => $key,
                    },)*
                    Self::Unknown(_) => false,
                }
            }
        }
    };
}

reasons! {
    // ---- chat server (1009), PROTOCOL.md §6.7
    /// Malformed frame or login message before login; an empty frame after it.
    BadFrame = "BAD_FRAME", chat: true, key: false;
    /// The chat server has no usable session key file for the username.
    NoSessionKey = "NO_SESSION_KEY", chat: true, key: false;
    /// The chat server's session key for the user has expired.
    KeyExpired = "KEY_EXPIRED", chat: true, key: false;
    /// The login names another key id, or does not authenticate with the server's session key.
    KeyMismatch = "KEY_MISMATCH", chat: true, key: false;
    /// Unknown user, wrong password, or an invalid username or password.
    BadLogin = "BAD_LOGIN", chat: true, key: false;
    /// The same username logged in on another connection (newest login wins).
    LoggedInElsewhere = "LOGGED_IN_ELSEWHERE", chat: true, key: false;
    /// The user database cannot be reached at login.
    DbUnavailable = "DB_UNAVAILABLE", chat: true, key: false;
    /// This client's outgoing queue overflowed.
    TooSlow = "TOO_SLOW", chat: true, key: false;
    /// Nothing received for the idle timeout after login.
    Idle = "IDLE", chat: true, key: false;
    /// `max_connections` reached; sent instead of the hello.
    ServerFull = "SERVER_FULL", chat: true, key: false;
    /// The chat server is shutting down.
    Shutdown = "SHUTDOWN", chat: true, key: false;
    /// A frame header announced more than the frame limit.
    TooLong = "TOO_LONG", chat: true, key: false;
    /// Too many rejected frames on one connection.
    TooManyErrors = "TOO_MANY_ERRORS", chat: true, key: false;
    /// Too many password checks are waiting at the chat server; try again in a moment.
    ServerBusy = "BUSY", chat: true, key: false;
    /// Too many failed logins for this username or from this address; wait before trying again.
    SlowDown = "SLOW_DOWN", chat: true, key: false;
    /// The username is locked after too many failed logins in a row (the teacher can lift it).
    Locked = "LOCKED", chat: true, key: false;
    /// A frame from the client never arrived: the next authentic one skipped its sequence number
    /// (deleted or altered on the way).
    FrameLost = "FRAME_LOST", chat: true, key: false;
    /// A running session ended because its user was removed or its password was changed on the
    /// server (not by this session).
    Revoked = "REVOKED", chat: true, key: false;
    // ---- chat server, in a `1006` password result (sealed), PROTOCOL.md §6.8
    /// The user must choose a new password before doing anything else (a request other than a
    /// password change, ping or logout while the login said `CHANGE_PASSWORD`).
    PasswordChangeRequired = "CHANGE_PASSWORD", chat: true, key: false;
    /// The current password given with a password change is wrong.
    WrongPassword = "WRONG_PASSWORD", chat: true, key: false;
    /// The new password has fewer than `MIN_PASSWORD_CHARS` characters.
    PasswordTooShort = "PASSWORD_TOO_SHORT", chat: true, key: false;
    /// The new password is longer than `MAX_PASSWORD_LEN` bytes.
    PasswordTooLong = "PASSWORD_TOO_LONG", chat: true, key: false;
    /// The new password is the username.
    PasswordIsUsername = "PASSWORD_IS_USERNAME", chat: true, key: false;
    /// The new password is the current one.
    PasswordUnchanged = "PASSWORD_UNCHANGED", chat: true, key: false;
    /// The new password contains a control character (a tab, a line break...).
    PasswordControlChar = "PASSWORD_CONTROL_CHAR", chat: true, key: false;
    // ---- chat server, file transfers (`1011`, `1012`), PROTOCOL.md §6.11
    /// The offered file is larger than the server's `max_file_mb`.
    FileTooLarge = "FILE_TOO_LARGE", chat: true, key: false;
    /// The sender already has `max_transfers_per_user` transfers running.
    TooManyTransfers = "TOO_MANY_TRANSFERS", chat: true, key: false;
    /// The private recipient of an offer is not online (files are not held for later).
    NotOnline = "NOT_ONLINE", chat: true, key: false;
    /// An offer to everyone while nobody else is online.
    NobodyOnline = "NOBODY_ONLINE", chat: true, key: false;
    /// An offer with an empty or too long name, or to oneself.
    BadOffer = "BAD_OFFER", chat: true, key: false;
    /// The recipient did not answer the offer in time.
    OfferExpired = "OFFER_EXPIRED", chat: true, key: false;
    /// The recipient declined the offer.
    Declined = "DECLINED", chat: true, key: false;
    /// The recipient fell too far behind and was dropped from the transfer (not from the chat).
    FileTooSlow = "FILE_TOO_SLOW", chat: true, key: false;
    /// The sender cancelled the transfer.
    SenderCancelled = "SENDER_CANCELLED", chat: true, key: false;
    /// The recipient cancelled the transfer.
    RecipientCancelled = "RECIPIENT_CANCELLED", chat: true, key: false;
    /// The sender's connection ended during the transfer.
    SenderLeft = "SENDER_LEFT", chat: true, key: false;
    /// The recipient's connection ended during the transfer.
    RecipientLeft = "RECIPIENT_LEFT", chat: true, key: false;
    /// The received file's SHA-256 differs from the sender's.
    BadHash = "BAD_HASH", chat: true, key: false;
    /// The sender broke the transfer's rules (offset, size, credit, end before the last byte).
    BadChunk = "BAD_CHUNK", chat: true, key: false;
    /// No such transfer (finished, cancelled, or never offered to this user).
    UnknownTransfer = "UNKNOWN_TRANSFER", chat: true, key: false;
    // ---- both servers
    /// No login (chat), or no request or confirmation (key), within the handshake deadline.
    Timeout = "TIMEOUT", chat: true, key: true;
    /// Any other server-side failure.
    Internal = "INTERNAL", chat: true, key: true;
    // ---- key server (1109), PROTOCOL.md §5.8
    /// A malformed, unexpected or truncated key-distribution message, or a failed write.
    BadRequest = "BAD_REQUEST", chat: false, key: true;
    /// The request's signature does not verify with the client key it carries.
    BadSignature = "BAD_SIGNATURE", chat: false, key: true;
    /// The client key's size is outside the accepted range.
    KeySize = "KEY_SIZE", chat: false, key: true;
    /// The username is bound to a different client key (the key server's `KEY_MISMATCH`).
    ClientKeyMismatch = "KEY_MISMATCH", chat: false, key: true;
    /// Strict registration and the username has no registered key.
    UnknownClient = "UNKNOWN_CLIENT", chat: false, key: true;
    /// Tofu registration and the username is not in the chat server's user list.
    NotAUser = "NOT_A_USER", chat: false, key: true;
    /// The key confirmation names another key id or its MAC is wrong.
    BadConfirm = "BAD_CONFIRM", chat: false, key: true;
    /// Too many key exchanges running (sent instead of the hello), or the source address's or
    /// username's budget of key exchanges is spent (sent instead of the envelope).
    Busy = "BUSY", chat: false, key: true;
}

impl Reason {
    /// Decode a wire token of `family`; a token the family does not send is [`Reason::Unknown`].
    pub fn from_wire(family: Family, token: &str) -> Self {
        Self::ALL
            .iter()
            .find(|r| r.in_family(family) && r.as_str() == token)
            .cloned()
            .unwrap_or_else(|| Self::Unknown(token.to_owned()))
    }
}

impl fmt::Display for Reason {
    /// The wire token (what logs and the `(REASON)` suffix of client messages show).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
