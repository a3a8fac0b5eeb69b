//! Delivery checking shared by `loadgen` (mini-chat) and `ircload` (ngircd), so both systems are
//! judged by exactly the same rules. (A folder without `main.rs`: cargo does not make it a binary.)

use std::collections::{HashMap, HashSet};

/// The load pattern both generators take, with the same flags and defaults.
#[derive(Debug, Clone, clap::Args)]
pub struct Pattern {
    /// Clients.
    #[arg(long, default_value_t = 50)]
    pub users: usize,
    /// How many of them send.
    #[arg(long, default_value_t = 10)]
    pub senders: usize,
    /// Total messages per second over all senders; 0 = as fast as accepted.
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Unacknowledged messages allowed per sender at rate 0.
    #[arg(long, default_value_t = 4)]
    pub window: usize,
    /// Seconds.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Message size in bytes (IRC lines are at most 512 bytes with the prefix).
    #[arg(long, default_value_t = 100)]
    pub size: usize,
}

/// What one receiver's deliveries from all senders add up to.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub delivered: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub reordered: u64,
}

impl Tally {
    /// Check one receiver: `per_sender` holds each sender's sequence numbers in arrival order;
    /// sender `s` had `accepted[s]` messages (0..accepted) accepted. Deliveries from `skip` are
    /// counted but not checked (ircload's own messages are not echoed back).
    pub fn add_receiver(
        &mut self,
        per_sender: &HashMap<usize, Vec<u64>>,
        accepted: &[u64],
        skip: Option<usize>,
    ) {
        for (s, &acc) in accepted.iter().enumerate() {
            let seqs = per_sender.get(&s).map(Vec::as_slice).unwrap_or(&[]);
            self.delivered += seqs.len() as u64;
            if Some(s) == skip {
                continue;
            }
            let mut uniq = HashSet::new();
            let mut prev: Option<u64> = None;
            for &q in seqs {
                if !uniq.insert(q) {
                    self.duplicated += 1;
                }
                if prev.is_some_and(|p| q <= p) {
                    self.reordered += 1;
                }
                prev = Some(q);
            }
            self.lost += (0..acc).filter(|q| !uniq.contains(q)).count() as u64;
        }
    }
}

/// The `p` quantile (0..=1) of sorted microsecond latencies, in milliseconds.
pub fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        0.0
    } else {
        f64::from(sorted_us[((sorted_us.len() - 1) as f64 * p) as usize]) / 1000.0
    }
}
