//! The `1009` errors the handler sends, each with its reason and a sentence for the student.

use common::error::{Error, ProtocolError};
use common::protocol::Reason;
use common::protocol::chat::ErrorMsg;
use common::protocol::consts::MAX_BAD_FRAMES;
use tracing::warn;

use crate::throttle::Refusal;

pub(super) fn db_unavailable() -> ErrorMsg {
    ErrorMsg::new(
        Reason::DbUnavailable,
        "the chat server cannot reach its user database right now; try again in a moment",
    )
}

pub(super) fn too_many_errors() -> ErrorMsg {
    ErrorMsg::new(
        Reason::TooManyErrors,
        format!(
            "{MAX_BAD_FRAMES} frames from this connection failed their checks; connection closed"
        ),
    )
}

/// A frame from the client never arrived (PROTOCOL.md §6.3): the session cannot go on without
/// losing it silently, so it ends and the student is told.
pub(super) fn frame_lost(username: &str, got: u64, expected: u64) -> ErrorMsg {
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

pub(super) fn bad_frame(detail: &str) -> ErrorMsg {
    ErrorMsg::new(Reason::BadFrame, format!("malformed frame: {detail}"))
}

pub(super) fn login_timeout(s: &crate::server::Settings) -> ErrorMsg {
    ErrorMsg::new(
        Reason::Timeout,
        format!(
            "no complete login within {} s; connect again to log in",
            s.handshake_timeout.as_secs()
        ),
    )
}

/// The `1009` for a login refused before its password was checked.
pub(super) fn throttled(r: &Refusal, limits: &crate::throttle::Limits) -> ErrorMsg {
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

pub(super) fn bad_login() -> ErrorMsg {
    ErrorMsg::new(Reason::BadLogin, "wrong username or password")
}

pub(super) fn internal() -> ErrorMsg {
    ErrorMsg::new(
        Reason::Internal,
        "internal server error; see the server log",
    )
}

pub(super) fn frame_error(e: &Error) -> ErrorMsg {
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
