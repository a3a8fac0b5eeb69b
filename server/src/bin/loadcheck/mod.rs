//! Delivery checking shared by `loadgen` (mini-chat) and `ircload` (ngircd), so both systems are
//! judged by exactly the same rules. (A folder without `main.rs`: cargo does not make it a binary.)

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;
use std::time::Instant;

static T0: OnceLock<Instant> = OnceLock::new();

/// Microseconds on this process's monotonic clock (send times written into the messages and
/// arrival times are both taken here).
pub fn now_us() -> u64 {
    T0.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// CPU seconds (user + system, all threads) of a process, from /proc/PID/stat.
pub fn proc_cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux architecture this runs on.
    Some(ticks / 100.0)
}

/// `sender|seq|send time µs|padding` -> (sender, seq, send time): the load message both
/// generators send.
pub fn parse_payload(text: &str) -> Option<(usize, u64, u64)> {
    let mut p = text.split('|');
    Some((
        p.next()?.parse().ok()?,
        p.next()?.parse().ok()?,
        p.next()?.parse().ok()?,
    ))
}

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
