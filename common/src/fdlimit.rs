//! The open-file limit and the connection limit that must fit under it.
//!
//! Every connection costs one file descriptor. On Linux the usual soft `RLIMIT_NOFILE` is 1,024
//! while the hard limit is far higher; with the default `max_connections = 2000` the 1,0xxth
//! connection made `accept()` fail ("Too many open files") before the server could answer
//! `SERVER_FULL`, and those clients waited in the backlog with no word. So at start a server
//! raises its soft limit to the hard limit (allowed without privileges) and, if its
//! `max_connections` still does not fit, lowers it and says so: beyond the limit a client then
//! gets `SERVER_FULL` instead of silence.

/// Descriptors kept free besides the connections: stdio, the listener, the runtime's epoll and
/// wakers, the database (SQLite files, MySQL sockets), a session key file being read, and the
/// short-lived sockets accepted only to be told `SERVER_FULL`.
pub const FD_RESERVE: u64 = 64;

/// What [`fit_connections`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdFit {
    /// Soft limit found at start (`None` where the platform has no such limit).
    pub soft_before: Option<u64>,
    /// Soft limit now in force.
    pub soft: Option<u64>,
    /// `max_connections` to use: the configured value, or less if it did not fit.
    pub max_connections: usize,
}

impl FdFit {
    /// Lines for the operator's log (empty when nothing changed).
    pub fn report(&self, configured: usize) -> Vec<String> {
        let mut lines = Vec::new();
        if let (Some(before), Some(now)) = (self.soft_before, self.soft)
            && now != before
        {
            lines.push(format!(
                "open-file limit raised from {before} to {now} (the hard limit)"
            ));
        }
        if self.max_connections < configured {
            lines.push(format!(
                "max_connections lowered from {configured} to {} to fit the open-file limit of {} \
                 ({FD_RESERVE} kept for the server itself); raise the hard limit (ulimit -Hn, \
                 LimitNOFILE=) to allow more",
                self.max_connections,
                self.soft.unwrap_or_default()
            ));
        }
        lines
    }
}

/// Raise the soft open-file limit to the hard limit, then clamp `wanted` connections to what
/// fits under it with [`FD_RESERVE`] to spare. Where there is no such limit (Windows) or it
/// cannot be read, `wanted` is kept.
pub fn fit_connections(wanted: usize) -> FdFit {
    let (soft_before, soft) = raise_soft_to_hard();
    let max_connections = match soft {
        Some(s) => clamp(wanted, s),
        None => wanted,
    };
    FdFit {
        soft_before,
        soft,
        max_connections,
    }
}

/// `wanted`, or fewer so that it fits under a soft limit of `soft` descriptors (at least 1).
pub fn clamp(wanted: usize, soft: u64) -> usize {
    let room = usize::try_from(soft.saturating_sub(FD_RESERVE)).unwrap_or(usize::MAX);
    wanted.min(room).max(1)
}

#[cfg(unix)]
fn raise_soft_to_hard() -> (Option<u64>, Option<u64>) {
    let before = rlimit::Resource::NOFILE.get().ok().map(|(soft, _)| soft);
    // On error (a sandbox that forbids setrlimit) keep whatever is in force.
    let now = rlimit::increase_nofile_limit(u64::MAX)
        .ok()
        .or_else(|| rlimit::Resource::NOFILE.get().ok().map(|(soft, _)| soft));
    (before, now)
}

#[cfg(not(unix))]
fn raise_soft_to_hard() -> (Option<u64>, Option<u64>) {
    (None, None)
}
