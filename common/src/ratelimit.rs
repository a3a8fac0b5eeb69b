//! Per-key request budgets (token buckets) for the servers' expensive steps, keyed by source
//! address or username.
//!
//! Each key has a bucket of `burst` tokens that refills at `per_minute` tokens a minute; a request
//! takes one token or is refused with the time until the next one. The map is bounded: when it
//! holds [`MAX_TRACKED`] keys, buckets that have refilled completely (they carry no information)
//! are dropped first, then the fullest ones, so a flood of made-up usernames cannot grow memory.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most keys tracked at once.
pub const MAX_TRACKED: usize = 10_000;

/// A rate: `per_minute` requests a minute on average, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_minute: f64,
    pub burst: f64,
}

impl Rate {
    /// `per_minute` a minute, with bursts of up to as many at once. `0` means no limit.
    pub fn per_minute(per_minute: u32) -> Self {
        Self {
            per_minute: f64::from(per_minute),
            burst: f64::from(per_minute),
        }
    }

    fn unlimited(&self) -> bool {
        self.per_minute <= 0.0
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets keyed by `K` (a source address, a username).
#[derive(Debug)]
pub struct RateLimiter<K> {
    rate: Rate,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Eq + Hash + Clone> RateLimiter<K> {
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Take one token for `key` now.
    ///
    /// # Errors
    /// The time until a token is available, when none is.
    pub fn take(&self, key: &K) -> Result<(), Duration> {
        self.take_at(key, Instant::now())
    }

    /// [`Self::take`] at a given time (tests).
    ///
    /// # Errors
    /// As [`Self::take`].
    pub fn take_at(&self, key: &K, now: Instant) -> Result<(), Duration> {
        if self.rate.unlimited() {
            return Ok(());
        }
        let per_sec = self.rate.per_minute / 60.0;
        let mut map = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_TRACKED && !map.contains_key(key) {
            self.prune(&mut map, now);
        }
        let b = map.entry(key.clone()).or_insert(Bucket {
            tokens: self.rate.burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * per_sec).min(self.rate.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / per_sec))
        }
    }

    /// Whether `key` has a token now, without taking it.
    ///
    /// # Errors
    /// The time until a token is available, when none is.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        if self.rate.unlimited() {
            return Ok(());
        }
        let now = Instant::now();
        let per_sec = self.rate.per_minute / 60.0;
        let map = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let Some(b) = map.get(key) else {
            return Ok(());
        };
        let tokens = (b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_sec)
            .min(self.rate.burst);
        if tokens >= 1.0 {
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - tokens) / per_sec))
        }
    }

    /// Return a token taken for `key` (the request it was reserved for turned out fine).
    pub fn give_back(&self, key: &K) {
        if let Some(b) = self
            .buckets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(key)
        {
            b.tokens = (b.tokens + 1.0).min(self.rate.burst);
        }
    }

    /// Forget `key`: its next request starts with a full bucket.
    pub fn forget(&self, key: &K) {
        self.buckets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    /// Drop refilled buckets; if that frees nothing, the fullest half.
    fn prune(&self, map: &mut HashMap<K, Bucket>, now: Instant) {
        let per_sec = self.rate.per_minute / 60.0;
        let level =
            |b: &Bucket| b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_sec;
        map.retain(|_, b| level(b) < self.rate.burst);
        if map.len() >= MAX_TRACKED {
            let mut levels: Vec<f64> = map.values().map(level).collect();
            levels.sort_by(f64::total_cmp);
            let cut = levels[levels.len() / 2];
            map.retain(|_, b| level(b) < cut);
        }
    }
}
