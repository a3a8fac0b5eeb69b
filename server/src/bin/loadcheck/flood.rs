//! `loadgen --mode flood`: a flood of bad logins against one user, and a paced password guesser,
//! measured from the side of a real user (see the module documentation of `loadgen`).
//!
//! Folders: user 0 is the real user, user 1 the flooded one, user 2 the one whose password is
//! guessed. Every login goes through the client library from its own loopback address, so the
//! server's per-address limits treat the attacker and the real user as different PCs.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::client::chat_client::{LoginError, load_session_key, login_with_key_from};
use common::client::folder::ClientFolder;
use common::crypto::SessionKey;

const REAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));
const FLOODER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));
const GUESSER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 3));
const TIMEOUT: Duration = Duration::from_secs(15);
/// How long the guesser runs.
const GUESSING: Duration = Duration::from_secs(60);

/// What one login attempt got: `ok`, the refusal's reason, or `error`.
async fn attempt(f: &ClientFolder, key: &Arc<SessionKey>, pw: &str, from: IpAddr) -> String {
    match login_with_key_from(f, key.clone(), pw, TIMEOUT, Some(from)).await {
        Ok(_) => "ok".into(),
        Err(LoginError::Refused { reason, .. }) => reason.to_string(),
        Err(_) => "error".into(),
    }
}

/// Run the flood, then the guesser; print `FLOOD` and `GUESS` lines.
pub async fn run(
    args: &crate::Args,
    folders: &[ClientFolder],
    password: &str,
) -> anyhow::Result<()> {
    let keys = folders
        .iter()
        .map(|f| load_session_key(f).map(|k| Arc::new(k.key)))
        .collect::<Result<Vec<_>, _>>()?;
    let seconds = args.load.duration;
    let stop = Instant::now() + Duration::from_secs_f64(seconds);
    let outcomes = Arc::new(Mutex::new(BTreeMap::<String, u64>::new()));
    let mut flooders = tokio::task::JoinSet::new();
    for i in 0..args.concurrency {
        let (f, key, outcomes) = (folders[1].clone(), keys[1].clone(), outcomes.clone());
        flooders.spawn(async move {
            while Instant::now() < stop {
                let got = attempt(&f, &key, &format!("flood-{i}"), FLOODER).await;
                *outcomes.lock().unwrap().entry(got).or_default() += 1;
            }
        });
    }
    let (mut latencies, mut failed) = (Vec::new(), 0u64);
    while Instant::now() < stop {
        let t = Instant::now();
        if attempt(&folders[0], &keys[0], password, REAL).await != "ok" {
            failed += 1;
        }
        latencies.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    while flooders.join_next().await.is_some() {}
    latencies.sort_unstable();
    let at = |q: f64| crate::loadcheck::percentile_ms(&latencies, q);
    let outcomes = outcomes.lock().unwrap().clone();
    println!(
        "FLOOD attackers={} seconds={seconds} attempts={} outcomes={outcomes:?} real_logins={} real_failed={failed} \
         latency_ms_p50={:.1} p99={:.1} max={:.1}",
        args.concurrency,
        outcomes.values().sum::<u64>(),
        latencies.len(),
        at(0.5),
        at(0.99),
        at(1.0),
    );
    guess(&folders[2], &keys[2]).await;
    Ok(())
}

/// A guesser that never wastes a try: wrong passwords back to back while they are checked, and
/// after a `SLOW_DOWN` one try every 10 s (the budget's refill), for [`GUESSING`].
async fn guess(folder: &ClientFolder, key: &Arc<SessionKey>) {
    let start = Instant::now();
    let mut answers = BTreeMap::<String, u64>::new();
    let mut pause = Duration::ZERO;
    let mut i = 0;
    while start.elapsed() < GUESSING {
        tokio::time::sleep(pause).await;
        let got = attempt(folder, key, &format!("guess-{i}"), GUESSER).await;
        i += 1;
        if got != "BAD_LOGIN" {
            pause = Duration::from_secs(10);
        }
        *answers.entry(got).or_default() += 1;
    }
    println!(
        "GUESS seconds={} attempts={i} checked={} answers={answers:?}",
        GUESSING.as_secs(),
        answers.get("BAD_LOGIN").copied().unwrap_or(0)
    );
}
