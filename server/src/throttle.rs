//! Bounds on the work a login can make the server do, and on password guessing.
//!
//! Every login that passed its MAC costs one PBKDF2 verification (~17 ms of CPU). Without
//! bounds, a flood of bad logins queued without limit and real logins took seconds, and one
//! username could be guessed at ~50 passwords a second. So, before any hashing:
//!
//! * **Locked usernames** are refused at once (`1009 LOCKED`): [`Limits::lock_after`] failed or
//!   too-early attempts in a row lock a username for [`Limits::lock_for`], or until the teacher
//!   runs `server user unlock NAME` (or restarts the server: locks live in memory).
//! * **Failure budgets** (token buckets, [`common::ratelimit`]): each wrong password uses one
//!   token of its source address's budget and one of its username's; an attempt whose budgets
//!   are spent is refused at once (`1009 SLOW_DOWN`, saying how long to wait). The per-user
//!   budget bounds guessing: 3 at once, then one every 10 s (under 10 a minute). Right passwords
//!   use nothing, so a class logging in at once is never slowed.
//! * **Concurrency**: at most [`Limits::checks_per_address`] password checks of one source
//!   address run or queue for a core at a time (the others of that address wait their turn, so a
//!   flood from one PC never fills the queue), at most one check per core runs, and at most
//!   [`Limits::max_queued`] wait for a core; any more are refused at once (`1009 BUSY`).
//!
//! The whole login, waiting included, stays within the login deadline (handler).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::ratelimit::{Rate, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The policy; [`Limits::default`] is what the server uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Wrong passwords per username (`per_minute: 0` = no limit).
    pub per_user: Rate,
    /// Wrong passwords per source address.
    pub per_address: Rate,
    /// Failed or too-early attempts in a row that lock a username (0 = never).
    pub lock_after: u32,
    /// How long a lock lasts unless the teacher lifts it first.
    pub lock_for: Duration,
    /// Password checks of one source address running or waiting for a core at once.
    pub checks_per_address: usize,
    /// Password checks waiting for a core, beyond which a login gets `BUSY`.
    pub max_queued: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_user: Rate {
                per_minute: 6.0,
                burst: 3.0,
            },
            per_address: Rate {
                per_minute: 60.0,
                burst: 20.0,
            },
            lock_after: 10,
            lock_for: Duration::from_secs(15 * 60),
            checks_per_address: 4,
            max_queued: 64,
        }
    }
}

/// Most usernames (and addresses) whose state is remembered at once.
const MAX_TRACKED: usize = 10_000;

/// Why a login was refused before its password was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The username is locked.
    Locked,
    /// The address's or the username's failure budget is spent; try again after this long.
    SlowDown(Duration),
    /// Too many password checks are waiting.
    Busy,
}

/// Shared by all connections of one server.
#[derive(Debug)]
pub struct LoginGuard {
    limits: Limits,
    per_address: RateLimiter<IpAddr>,
    per_user: RateLimiter<String>,
    /// Failed or too-early attempts in a row, per username.
    streaks: Mutex<HashMap<String, u32>>,
    locked: Mutex<HashMap<String, Instant>>,
    address_slots: Mutex<HashMap<IpAddr, Arc<Semaphore>>>,
    cores: Arc<Semaphore>,
    queued: AtomicUsize,
}

/// A login allowed to check its password. The permits move into the blocking task that
/// hashes, so the bounds hold even if the login gives up meanwhile.
#[derive(Debug)]
pub struct Admitted {
    addr: IpAddr,
    user: String,
    pub permits: Option<(OwnedSemaphorePermit, OwnedSemaphorePermit)>,
}

impl LoginGuard {
    /// `cores` password checks at once.
    pub fn new(limits: Limits, cores: usize) -> Self {
        Self {
            per_address: RateLimiter::new(limits.per_address),
            per_user: RateLimiter::new(limits.per_user),
            limits,
            streaks: Mutex::new(HashMap::new()),
            locked: Mutex::new(HashMap::new()),
            address_slots: Mutex::new(HashMap::new()),
            cores: Arc::new(Semaphore::new(cores.max(1))),
            queued: AtomicUsize::new(0),
        }
    }

    /// One check per available core.
    pub fn for_this_machine(limits: Limits) -> Self {
        Self::new(
            limits,
            std::thread::available_parallelism().map_or(1, usize::from),
        )
    }

    /// Admit a login of `user` from `addr` to its password check, or say why not.
    ///
    /// # Errors
    /// The [`Refusal`]; a refusal for a spent budget counts towards the lock.
    pub async fn admit(&self, addr: IpAddr, user: &str) -> Result<Admitted, Refusal> {
        self.budgets(addr, user)?;
        // This address's turn (waiting here holds no place in the queue for a core).
        let slot = self
            .address_slot(addr)
            .acquire_owned()
            .await
            .map_err(|_| Refusal::Busy)?;
        // The budgets may have been spent by this address's attempts that went first.
        self.budgets(addr, user)?;
        if self.queued.fetch_add(1, Ordering::SeqCst) >= self.limits.max_queued {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            return Err(Refusal::Busy);
        }
        let core = self.cores.clone().acquire_owned().await;
        self.queued.fetch_sub(1, Ordering::SeqCst);
        let core = core.map_err(|_| Refusal::Busy)?;
        Ok(Admitted {
            addr,
            user: user.to_owned(),
            permits: Some((slot, core)),
        })
    }

    /// The password was right: the streak ends.
    pub fn succeeded(&self, a: Admitted) {
        lock(&self.streaks).remove(&a.user);
    }

    /// The password was wrong: it uses the budgets and lengthens the streak.
    pub fn failed(&self, a: Admitted) {
        let _ = self.per_address.take(&a.addr);
        let _ = self.per_user.take(&a.user);
        self.count_failure(&a.user);
    }

    /// Lift the lock and the failure budget of `user` (`server user unlock`).
    pub fn unlock(&self, user: &str) {
        lock(&self.locked).remove(user);
        lock(&self.streaks).remove(user);
        self.per_user.forget(&user.to_owned());
    }

    fn budgets(&self, addr: IpAddr, user: &str) -> Result<(), Refusal> {
        if self.is_locked(user) {
            return Err(Refusal::Locked);
        }
        let spent = self
            .per_address
            .check(&addr)
            .and_then(|()| self.per_user.check(&user.to_owned()));
        spent.map_err(|wait| {
            self.count_failure(user);
            if self.is_locked(user) {
                Refusal::Locked
            } else {
                Refusal::SlowDown(wait)
            }
        })
    }

    fn address_slot(&self, addr: IpAddr) -> Arc<Semaphore> {
        let mut slots = lock(&self.address_slots);
        if slots.len() >= MAX_TRACKED {
            // Idle entries carry nothing: only the caller's own Arc would remain.
            slots.retain(|_, s| Arc::strong_count(s) > 1);
        }
        slots
            .entry(addr)
            .or_insert_with(|| Arc::new(Semaphore::new(self.limits.checks_per_address.max(1))))
            .clone()
    }

    fn is_locked(&self, user: &str) -> bool {
        let mut locked = lock(&self.locked);
        match locked.get(user) {
            Some(until) if Instant::now() < *until => true,
            Some(_) => {
                locked.remove(user);
                false
            }
            None => false,
        }
    }

    fn count_failure(&self, user: &str) {
        if self.limits.lock_after == 0 {
            return;
        }
        let mut streaks = lock(&self.streaks);
        if streaks.len() >= MAX_TRACKED && !streaks.contains_key(user) {
            streaks.retain(|_, n| *n >= self.limits.lock_after / 2);
        }
        let n = streaks.entry(user.to_owned()).or_insert(0);
        *n += 1;
        if *n >= self.limits.lock_after {
            *n = 0;
            drop(streaks);
            tracing::warn!(
                user,
                "locked after {} failed logins in a row; `server user unlock {user}` lifts it",
                self.limits.lock_after
            );
            let mut locked = lock(&self.locked);
            if locked.len() >= MAX_TRACKED {
                let now = Instant::now();
                locked.retain(|_, until| *until > now);
            }
            locked.insert(user.to_owned(), Instant::now() + self.limits.lock_for);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[tokio::test]
    async fn guessing_is_slowed_then_locked_and_unlock_lifts_it() {
        let g = LoginGuard::new(Limits::default(), 1);
        for _ in 0..3 {
            let a = g.admit(A, "u").await.expect("the first three");
            g.failed(a);
        }
        assert!(
            matches!(g.admit(A, "u").await, Err(Refusal::SlowDown(w)) if w > Duration::from_secs(5))
        );
        // Another user from the same PC is not slowed by u's budget.
        let a = g.admit(A, "v").await.expect("v");
        g.succeeded(a);
        for _ in 4..10 {
            assert!(g.admit(A, "u").await.is_err());
        }
        assert_eq!(g.admit(A, "u").await.unwrap_err(), Refusal::Locked);
        g.unlock("u");
        let a = g.admit(A, "u").await.expect("unlocked");
        g.succeeded(a);
    }

    #[tokio::test]
    async fn right_passwords_use_no_budget() {
        let g = LoginGuard::new(Limits::default(), 1);
        for _ in 0..100 {
            let a = g.admit(A, "u").await.expect("right password");
            g.succeeded(a);
        }
    }
}
