//! Automatic reconnection after the server went away (a restart, a network hiccup): when to try
//! again, with a growing delay, and when not to try at all (another login of the same account,
//! a withdrawn key or password: trying again would not help, or would fight the other session).
//! The password needed for it stays in the network worker's memory only while the window is open.

use std::time::Duration;

use common::client::chat_client::{CloseReason, LoginError};
use common::protocol::Reason;

/// The first delay; each failed attempt doubles it, up to [`MAX_DELAY`].
pub const FIRST_DELAY: Duration = Duration::from_secs(2);
/// The longest delay between attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(60);

/// The reconnection schedule of one chat window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backoff {
    /// Attempts made since the session was lost.
    attempts: u32,
    /// When the next attempt is due (milliseconds, the caller's clock); `None`: none planned.
    due_ms: Option<u64>,
}

impl Backoff {
    /// The session ended for `reason` at `now_ms`: plan the first attempt, if reconnecting could
    /// help. Returns the delay.
    pub fn after_close(&mut self, reason: &CloseReason, now_ms: u64) -> Option<Duration> {
        self.attempts = 0;
        self.due_ms = None;
        worth_retrying(reason).then(|| self.plan(now_ms))
    }

    /// An automatic attempt failed at `now_ms`; `retry` says whether the failure is one that
    /// time can fix (the server still down or busy). Returns the next delay.
    pub fn after_failure(&mut self, retry: bool, now_ms: u64) -> Option<Duration> {
        if !retry || self.attempts == 0 {
            self.due_ms = None;
            return None;
        }
        Some(self.plan(now_ms))
    }

    /// Logged in again, or the user took over (Reconnect clicked, window closed): no plan.
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Whether an attempt is due at `now_ms`; if so it counts as started.
    pub fn due(&mut self, now_ms: u64) -> bool {
        match self.due_ms {
            Some(t) if now_ms >= t => {
                self.due_ms = None;
                true
            }
            _ => false,
        }
    }

    /// Whether the last attempt was an automatic one (its failure plans the next).
    pub fn running(&self) -> bool {
        self.attempts > 0
    }

    fn plan(&mut self, now_ms: u64) -> Duration {
        let delay = FIRST_DELAY
            .saturating_mul(1 << self.attempts.min(6))
            .min(MAX_DELAY);
        self.attempts += 1;
        self.due_ms = Some(now_ms + u64::try_from(delay.as_millis()).unwrap_or(u64::MAX));
        delay
    }
}

/// Whether reconnecting by itself can help after the session ended for `reason`.
pub fn worth_retrying(reason: &CloseReason) -> bool {
    match reason {
        CloseReason::ServerClosed | CloseReason::ConnectionLost { .. } | CloseReason::Gone => true,
        // A lost frame may be an attacker on the path: the student decides.
        CloseReason::LoggedOut | CloseReason::FrameLost { .. } => false,
        CloseReason::ServerError(e) => matches!(
            e.reason,
            Reason::Shutdown | Reason::Idle | Reason::TooSlow | Reason::ServerBusy
        ),
    }
}

/// Whether an automatic attempt that failed with `e` is worth repeating later: the server is
/// still down, restarting, full or busy. Not a wrong password, a key problem or a lock.
pub fn login_worth_retrying(e: &LoginError) -> bool {
    match e {
        LoginError::Unreachable { .. } | LoginError::Timeout(_) | LoginError::Closed => true,
        LoginError::Refused { reason, .. } => matches!(
            reason,
            Reason::Shutdown
                | Reason::ServerFull
                | Reason::ServerBusy
                | Reason::DbUnavailable
                | Reason::Timeout
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::protocol::chat::ErrorMsg;

    #[test]
    fn a_restart_is_retried_with_growing_delays_and_other_closes_are_not() {
        let mut b = Backoff::default();
        let shutdown = CloseReason::ServerError(ErrorMsg::new(Reason::Shutdown, "x"));
        assert_eq!(b.after_close(&shutdown, 0), Some(FIRST_DELAY));
        assert!(!b.due(1_999) && b.due(2_000) && !b.due(2_001));
        assert_eq!(b.after_failure(true, 2_500), Some(Duration::from_secs(4)));
        assert_eq!(b.after_failure(true, 7_000), Some(Duration::from_secs(8)));
        for _ in 0..10 {
            b.after_failure(true, 0);
        }
        assert_eq!(b.after_failure(true, 0), Some(MAX_DELAY));
        assert_eq!(
            b.after_failure(false, 0),
            None,
            "a wrong password is not retried"
        );
        b.reset();
        assert!(!b.running());
        let elsewhere = CloseReason::ServerError(ErrorMsg::new(Reason::LoggedInElsewhere, "x"));
        assert_eq!(b.after_close(&elsewhere, 0), None);
        assert_eq!(b.after_close(&CloseReason::LoggedOut, 0), None);
        let revoked = CloseReason::ServerError(ErrorMsg::new(Reason::Revoked, "x"));
        assert_eq!(b.after_close(&revoked, 0), None);
        assert_eq!(
            b.after_close(&CloseReason::ServerClosed, 0),
            Some(FIRST_DELAY)
        );
    }
}
