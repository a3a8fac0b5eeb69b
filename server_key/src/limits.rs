//! What one source address or one username may make server_key do.
//!
//! The expensive part of a key exchange is the server's RSA signature (~3 ms of CPU). A client
//! key of many small primes makes the attacker's own signature ~50x cheaper, so without limits
//! one machine could keep the signers busy and delay every student's key step by seconds. Before
//! signing, each exchange therefore needs:
//! - a token from its source address's budget (`key_requests_per_minute_per_address`), taken
//!   before a first-use binding is written;
//! - a token from its username's budget (`key_requests_per_minute_per_user`), taken once the
//!   client key is known to be the user's, so nobody can use up someone else's budget;
//! - a free slot among its address's concurrent exchanges (`max_exchanges_per_address`).
//!
//! A refusal is `1109 BUSY` with the time to wait. `0` turns a limit off (load tests, which run a
//! thousand clients from one loopback address).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::config::ServerKeyConfig;
use common::ratelimit::{Rate, RateLimiter};

/// The three limits.
#[derive(Debug)]
pub struct Limits {
    per_address: RateLimiter<IpAddr>,
    per_user: RateLimiter<String>,
    max_per_address: usize,
    active: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One exchange's slot among its address's concurrent exchanges; released on drop.
#[derive(Debug)]
pub struct Slot {
    addr: IpAddr,
    active: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self.active.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.addr) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.addr);
            }
        }
    }
}

/// Why an exchange may not go on, as a sentence for the client.
pub type Refused = String;

impl Limits {
    pub fn new(
        per_address_per_minute: u32,
        per_user_per_minute: u32,
        max_per_address: usize,
    ) -> Self {
        Self {
            per_address: RateLimiter::new(Rate::per_minute(per_address_per_minute)),
            per_user: RateLimiter::new(Rate::per_minute(per_user_per_minute)),
            max_per_address,
            active: Arc::default(),
        }
    }

    pub fn from_config(cfg: &ServerKeyConfig) -> Self {
        Self::new(
            cfg.key_requests_per_minute_per_address,
            cfg.key_requests_per_minute_per_user,
            cfg.max_exchanges_per_address,
        )
    }

    /// A concurrent-exchange slot and a token for `addr`.
    ///
    /// # Errors
    /// What to tell the client.
    pub fn admit_address(&self, addr: IpAddr) -> Result<Slot, Refused> {
        {
            let mut map = self.active.lock().unwrap_or_else(|e| e.into_inner());
            let n = map.entry(addr).or_insert(0);
            if self.max_per_address > 0 && *n >= self.max_per_address {
                return Err(format!(
                    "{} key exchanges from your address are already running; try again in a few seconds",
                    self.max_per_address
                ));
            }
            *n += 1;
        }
        let slot = Slot {
            addr,
            active: self.active.clone(),
        };
        self.per_address
            .take(&addr)
            .map_err(|wait| too_many("your address", wait))?;
        Ok(slot)
    }

    /// A token for `username`.
    ///
    /// # Errors
    /// What to tell the client.
    pub fn admit_user(&self, username: &str) -> Result<(), Refused> {
        self.per_user
            .take(&username.to_owned())
            .map_err(|wait| too_many(&format!("user {username}"), wait))
    }
}

fn too_many(whom: &str, wait: Duration) -> String {
    format!(
        "too many key requests for {whom}; try again in {} s",
        wait.as_secs() + 1
    )
}
