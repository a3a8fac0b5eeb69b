//! What `loadgen` (mini-chat) and `ircload` (ngircd) share, so both systems are loaded by the
//! same senders and judged by exactly the same rules: the load pattern, each sender's pacing,
//! the message payload and the delivery check. (A folder without `main.rs`: cargo does not make
//! it a binary.)

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedReceiver;

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

/// How long a sender at rate 0 waits for an acknowledgement before it gives up (the server
/// stopped taking messages).
const STALL: Duration = Duration::from_secs(10);

/// How long a sender waits, after its last message, for the acknowledgements still missing.
const ACK_DRAIN: Duration = Duration::from_secs(30);

/// One sender's pacing. At a fixed rate, sender `i` of `S` sends every `S / rate` seconds,
/// starting `i / rate` seconds after sender 0, so the offered load is spread evenly instead of
/// arriving in bursts of `S` messages. At rate 0 it sends as fast as acknowledgements come back,
/// with at most `window` messages unacknowledged. An acknowledgement is whatever the generator
/// counts as "the server took it" (mini-chat's echo, IRC's PONG), one `u64` per message on `acks`.
#[derive(Debug)]
pub struct Pacer {
    interval: Option<Duration>,
    next_at: tokio::time::Instant,
    window: u64,
    stop_at: Instant,
    stalled: bool,
    /// Messages sent so far (the next message's sequence number).
    pub sent: u64,
    /// Acknowledgements received so far.
    pub acked: u64,
}

impl Pacer {
    /// Pacing of sender `index` of `senders` under `pattern`, sending until `stop_at`.
    pub fn new(pattern: &Pattern, index: usize, senders: usize, stop_at: Instant) -> Self {
        let fixed = pattern.rate > 0.0;
        let per_sender_rate = pattern.rate / senders.max(1) as f64;
        let phase = if fixed {
            Duration::from_secs_f64(index as f64 / pattern.rate)
        } else {
            Duration::ZERO
        };
        Self {
            interval: fixed.then(|| Duration::from_secs_f64(1.0 / per_sender_rate)),
            next_at: tokio::time::Instant::now() + phase,
            window: pattern.window.max(1) as u64,
            stop_at,
            stalled: false,
            sent: 0,
            acked: 0,
        }
    }

    /// At a fixed rate (true) or as fast as acknowledged (false).
    #[allow(dead_code)] // ircload's acknowledgements depend on it; loadgen's do not
    pub fn fixed_rate(&self) -> bool {
        self.interval.is_some()
    }

    /// Wait for the next send slot: the next tick at a fixed rate, a free place in the window at
    /// rate 0. `false` when the time is up, or when no acknowledgement came for 10 s.
    pub async fn ready(&mut self, acks: &mut UnboundedReceiver<u64>) -> bool {
        if Instant::now() >= self.stop_at {
            return false;
        }
        if let Some(iv) = self.interval {
            tokio::time::sleep_until(self.next_at).await;
            self.next_at += iv;
            if Instant::now() >= self.stop_at {
                return false;
            }
        } else {
            while self.sent - self.acked >= self.window {
                match tokio::time::timeout(STALL, acks.recv()).await {
                    Ok(Some(_)) => self.acked += 1,
                    _ => {
                        self.stalled = true;
                        return false;
                    }
                }
            }
        }
        while acks.try_recv().is_ok() {
            self.acked += 1;
        }
        true
    }

    /// Count the acknowledgements still missing, for at most 30 s (none after a stall).
    pub async fn drain(&mut self, acks: &mut UnboundedReceiver<u64>) {
        if self.stalled {
            return;
        }
        let deadline = tokio::time::Instant::now() + ACK_DRAIN;
        while self.acked < self.sent {
            match tokio::time::timeout_at(deadline, acks.recv()).await {
                Ok(Some(_)) => self.acked += 1,
                _ => break,
            }
        }
    }
}

/// The load message `sender|seq|send time µs|` padded with `x` to `size` bytes (see
/// [`parse_payload`]).
pub fn payload(sender: usize, seq: u64, size: usize) -> String {
    let mut text = format!("{sender}|{seq}|{}|", now_us());
    if text.len() < size {
        text.push_str(&"x".repeat(size - text.len()));
    }
    text
}

/// What one receiver saw: each sender's sequence numbers in arrival order, the latencies, and
/// why it ended early (if it did).
#[derive(Debug, Default)]
pub struct Seen {
    pub per_sender: HashMap<usize, Vec<u64>>,
    pub latencies_us: Vec<u32>,
    pub closed: Option<String>,
}

impl Seen {
    /// Record one load message (see [`payload`]) that arrived at `arrived_us` ([`now_us`]);
    /// returns its `(sender, seq)`, or `None` for text that is not a load message.
    pub fn record(&mut self, text: &str, arrived_us: u64) -> Option<(usize, u64)> {
        let (from, seq, sent) = parse_payload(text)?;
        self.per_sender.entry(from).or_default().push(seq);
        self.latencies_us
            .push(arrived_us.saturating_sub(sent).min(u64::from(u32::MAX)) as u32);
        Some((from, seq))
    }
}

/// All receivers judged together.
#[derive(Debug, Default)]
pub struct Verdict {
    pub tally: Tally,
    /// Receivers that ended early (each is also reported on stderr by `program`).
    pub disconnected: u64,
    /// Every latency, sorted (µs).
    pub latencies_us: Vec<u32>,
}

impl Verdict {
    /// Check every receiver against `accepted` (per sender). With `skip_self`, receiver `r`'s
    /// deliveries from sender `r` are counted but not checked (IRC does not echo).
    pub fn of(program: &str, seens: Vec<Seen>, accepted: &[u64], skip_self: bool) -> Self {
        let mut v = Self::default();
        for (r, mut seen) in seens.into_iter().enumerate() {
            if let Some(why) = &seen.closed {
                v.disconnected += 1;
                eprintln!("{program}: a receiver ended early: {why}");
            }
            v.tally
                .add_receiver(&seen.per_sender, accepted, skip_self.then_some(r));
            v.latencies_us.append(&mut seen.latencies_us);
        }
        v.latencies_us.sort_unstable();
        v
    }
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
