//! Typed errors for the library. Binaries turn them into one-line messages at their edges.

use std::path::PathBuf;

/// Problems with bytes on the wire: framing and message syntax.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    #[error("frame of {0} bytes exceeds the {max} byte limit", max = crate::protocol::consts::MAX_FRAME_LEN)]
    TooLarge(usize),
    #[error("empty frame")]
    Empty,
    #[error("connection closed in the middle of a frame")]
    Truncated,
    #[error("frame payload is not valid UTF-8")]
    NotUtf8,
    #[error("unknown message code {0:?}")]
    UnknownCode(String),
    #[error("message {code} expects {expected} fields, got {got}")]
    FieldCount {
        code: String,
        expected: String,
        got: usize,
    },
    #[error("field {index} of message {code} is invalid: {reason}")]
    BadField {
        code: String,
        index: usize,
        reason: String,
    },
    #[error("unexpected message {got} (expected {expected})")]
    Unexpected { got: String, expected: String },
    #[error("peer speaks protocol version {0}, we speak {v}", v = crate::protocol::consts::PROTOCOL_VERSION)]
    Version(u32),
}

/// Cryptographic failures. Deliberately opaque where detail would help an attacker
/// (which check failed, padding versus MAC).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CryptoError {
    #[error("message authentication failed (MAC mismatch)")]
    BadMac,
    #[error("signature verification failed")]
    BadSignature,
    #[error("the digital envelope could not be opened")]
    BadEnvelope,
    #[error("decryption failed")]
    Decrypt,
    #[error("replayed or out-of-order frame (sequence {got}, already accepted up to {last})")]
    Replay { got: u64, last: u64 },
    /// An authentic frame whose sequence number skips one or more: the frames in between were
    /// sent but never arrived (dropped, or altered so that they failed their MAC, on the way).
    /// The connection cannot continue without losing them silently.
    #[error("frame lost: sequence {got} arrived, {expected} never did")]
    FrameLost { got: u64, expected: u64 },
    #[error("RSA key of {0} bits is too small (at least {min} bits)", min = crate::crypto::MIN_RSA_BITS)]
    KeyTooSmall(usize),
    #[error("RSA key of {got} bits is outside the accepted range {min}..={max}")]
    KeySize { got: usize, min: usize, max: usize },
    #[error("invalid key material: {0}")]
    BadKey(String),
    #[error("weak DES key")]
    WeakKey,
    #[error("RSA operation failed: {0}")]
    Rsa(String),
    #[error("the operating system random number generator failed")]
    Rng,
    #[error("malformed password hash string")]
    BadHash,
}

/// Configuration file problems; every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// One mistake in the file: where, what, and the fix (see [`crate::config::mistake`]).
    #[error("{}{}: {mistake}", path.display(), line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Mistake {
        path: PathBuf,
        /// 1-based; `None` when the position is unknown.
        line: Option<usize>,
        /// Boxed: the error stays small on every `Result` path.
        mistake: Box<crate::config::Mistake>,
    },
    #[error("no {name} found (looked in: {})", looked.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    NotFound { name: String, looked: Vec<PathBuf> },
}

/// Key and session-key file problems; every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    #[error("{path} does not exist")]
    Missing { path: PathBuf },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is malformed: {message}")]
    Malformed { path: PathBuf, message: String },
}

/// Top-level library error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    #[error("network error: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
