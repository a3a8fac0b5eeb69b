//! `loadgen`: drives a running server_key + server through the real protocol and checks and
//! measures what happens. Used by `scripts/load.sh` (attack/fault/load suite) and
//! `scripts/bench.sh` (benchmarks).
//!
//! Modes:
//! - `relay`: key step for N users (one shared client key, so 1,000 users cost one key
//!   generation), log all in, S of them send messages of `--size` bytes at `--rate` messages/s
//!   in total (0 = as fast as the server accepts, with `--window` unacknowledged messages per
//!   sender), for `--duration` seconds. Every receiver records every message; the checker
//!   verifies that each accepted message (the server echoes it to its sender) reached every user
//!   exactly once and in order, and reports throughput and end-to-end latency.
//! - `keydist`: K concurrent clients run key steps back to back for `--duration` seconds.
//! - `idle`: log N users in and hold them for `--duration` seconds (memory per connection).
//! - `files`: a file of `--file-mb` MiB from the first user to the N-1 others (one: privately;
//!   more: to everyone), each recipient accepting and saving it as the terminal mode does; reports
//!   the throughput against this machine's single-core DES-CBC + HMAC-SHA-256 rate measured in
//!   the same run (the floor: the server decrypts and re-encrypts every byte), and with `--check`
//!   compares every received copy with the original.
//! - `flood`: `--concurrency` connections from 127.0.0.2 log in as one user with wrong
//!   passwords, over and over, for `--duration` seconds, while a real user logs in from
//!   127.0.0.1 every 200 ms (its login latency is the result); then a paced guesser from
//!   127.0.0.3 tries a third user's password for 60 s, as fast as the server lets it check
//!   (the checked guesses per minute are the result). These three users have full-cost
//!   password hashes, as real users do.
//!
//! Users `lg00001`.. are created in the server's database (`--db`, the same URL the server
//! uses) with a cheap PBKDF2 cost (1,000 iterations), so 1,000 logins measure the relay, not
//! password hashing. Message text: `<sender>|<seq>|<send time µs>|` padded to `--size`; the send
//! time is on this process's monotonic clock (senders and receivers are in this one process).
//!
//! At a fixed `--rate`, sender i starts i/rate seconds after sender 0, so the offered load is
//! spread evenly instead of arriving in bursts of S messages. `--server-pid` (relay, keydist)
//! adds the server's CPU seconds during the measured phase (from /proc/PID/stat) and this
//! process's own, so results can be set against the CPU the server actually got on a shared
//! machine. `--reuse-keys` skips the key step for users whose session key file is present and
//! unexpired (repeated runs against the same server_key/server folders).

#[path = "loadcheck/files.rs"]
mod files;
#[path = "loadcheck/flood.rs"]
mod flood;
#[path = "loadcheck/mod.rs"]
mod loadcheck;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use common::client::chat_client::{ChatReceiver, ChatSender, Incoming, load_session_key, login};
use common::client::folder::ClientFolder;
use common::client::key_client::{KeyStepOptions, run_key_step_with};
use common::config::ClientConfig;
use common::crypto::PrivateKey;
use common::protocol::chat::{ClientRequest, ServerEvent};
use tokio::sync::{Semaphore, mpsc};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Relay,
    Keydist,
    Idle,
    Flood,
    Files,
}

/// Load generator and checker for mini-chat.
#[derive(Parser)]
struct Args {
    #[arg(long, value_enum, default_value = "relay")]
    mode: Mode,
    /// Host of both servers.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 8090)]
    chat_port: u16,
    #[arg(long, default_value_t = 8091)]
    key_port: u16,
    /// The server's database URL, to create the load users in.
    #[arg(long)]
    db: String,
    /// server_key's user list (`key_dir/chat_users.txt`): rewritten after the load users are
    /// created, as `server user add` does, so server_key in `tofu` mode gives them keys.
    #[arg(long)]
    user_list: Option<PathBuf>,
    /// Logged-in users, senders, rate, window, duration (of sending in relay, handshaking in
    /// keydist, holding in idle) and message size.
    #[command(flatten)]
    load: loadcheck::Pattern,
    /// Concurrent key steps (keydist) and concurrent logins (all modes).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Exit 1 on any loss, duplicate or reordering.
    #[arg(long)]
    check: bool,
    /// Folder for the load users' key files and the shared client key. Reuse it across runs:
    /// server_key binds each load username to that key on first use.
    #[arg(long, default_value = "target/loadgen")]
    work_dir: PathBuf,
    /// The server's process id (chat server for relay, server_key for keydist): report its CPU
    /// seconds during the measured phase.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Skip the key step for users whose session key file is present and unexpired.
    #[arg(long)]
    reuse_keys: bool,
    /// `files`: the size of the file sent, in MiB.
    #[arg(long, default_value_t = 100)]
    file_mb: u64,
}

const PASSWORD: &str = "load-password";

/// CPU seconds of the server (`--server-pid`) and of this process, for a measured phase.
struct CpuMeter {
    server_pid: Option<String>,
    server0: Option<f64>,
    self0: Option<f64>,
}

impl CpuMeter {
    fn start(server_pid: Option<u32>) -> Self {
        let server_pid = server_pid.map(|p| p.to_string());
        Self {
            server0: server_pid.as_deref().and_then(loadcheck::proc_cpu_seconds),
            server_pid,
            self0: loadcheck::proc_cpu_seconds("self"),
        }
    }

    /// ` server_cpu_s=.. server_cores=.. client_cpu_s=..` for what could be measured.
    fn fields(&self, secs: f64) -> String {
        let mut out = String::new();
        if let (Some(pid), Some(c0)) = (&self.server_pid, self.server0)
            && let Some(c1) = loadcheck::proc_cpu_seconds(pid)
        {
            out.push_str(&format!(
                " server_cpu_s={:.2} server_cores={:.2}",
                c1 - c0,
                (c1 - c0) / secs
            ));
        }
        if let (Some(c0), Some(c1)) = (self.self0, loadcheck::proc_cpu_seconds("self")) {
            out.push_str(&format!(" client_cpu_s={:.2}", c1 - c0));
        }
        out
    }
}

fn username(i: usize) -> String {
    format!("lg{i:05}")
}

fn folder(args: &Args, dir: &std::path::Path, i: usize) -> ClientFolder {
    let cfg = ClientConfig {
        server_host: args.host.clone(),
        chat_port: args.chat_port,
        key_port: args.key_port,
        username: username(i),
        ..ClientConfig::default()
    };
    ClientFolder::new(cfg, dir.join(username(i)), "loadgen")
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    loadcheck::now_us();
    let work = args.work_dir.clone();
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async_main(args, work))
}

async fn async_main(args: Args, work: PathBuf) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let n = match args.mode {
        Mode::Keydist => args.concurrency,
        Mode::Flood => 3,
        Mode::Relay | Mode::Idle | Mode::Files => args.load.users,
    };
    create_users(&args.db, n, args.user_list.as_deref())?;
    if args.mode == Mode::Flood {
        full_cost_passwords(&args.db, n)?;
    }
    let (priv_path, pub_path) = (
        work.join("loadgen_client_private.pem"),
        work.join("loadgen_client_public.pem"),
    );
    let client_key = Arc::new(
        tokio::task::spawn_blocking(move || {
            PrivateKey::load_or_create(&priv_path, &pub_path, 2048)
        })
        .await??
        .0,
    );
    let folders: Vec<ClientFolder> = (0..n).map(|i| folder(&args, &work, i)).collect();
    if args.mode == Mode::Keydist {
        return keydist(&args, folders, client_key).await;
    }
    key_steps(&args, &folders, &client_key).await?;
    eprintln!(
        "loadgen: key step for {n} users done in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    if args.mode == Mode::Flood {
        return flood::run(&args, &folders, PASSWORD).await;
    }
    let t1 = Instant::now();
    let sessions = login_all(&args, &folders).await?;
    eprintln!(
        "loadgen: {n} users logged in in {:.1} s",
        t1.elapsed().as_secs_f64()
    );
    match args.mode {
        Mode::Idle => {
            println!("IDLE users={n} holding={}s", args.load.duration);
            tokio::time::sleep(Duration::from_secs_f64(args.load.duration)).await;
            drop(sessions);
            Ok(())
        }
        Mode::Files => files::run(&work, args.file_mb, args.check, sessions).await,
        _ => relay(&args, sessions).await,
    }
}

fn create_users(db: &str, n: usize, user_list: Option<&std::path::Path>) -> anyhow::Result<()> {
    let store =
        server::db::open(db).with_context(|| format!("opening {}", server::db::redact_url(db)))?;
    let existing: std::collections::HashSet<String> = store
        .list_users()?
        .into_iter()
        .map(|u| u.user_name)
        .collect();
    let hash = common::crypto::password::hash_password_with(PASSWORD, 1000);
    for i in 0..n {
        let u = username(i);
        if existing.contains(&u) {
            store.set_password(&u, &hash, false)?;
        } else {
            store.add_user(&u, &hash, &format!("load{i}"))?;
        }
    }
    if let Some(path) = user_list {
        server::admin::publish_user_list(store.as_ref(), path)?;
    }
    Ok(())
}

/// Give users `0..n` a full-cost password hash (the flood measures real password checks).
fn full_cost_passwords(db: &str, n: usize) -> anyhow::Result<()> {
    let store = server::db::open(db)?;
    let hash = common::crypto::password::hash_password(PASSWORD);
    for i in 0..n {
        store.set_password(&username(i), &hash, false)?;
    }
    Ok(())
}

async fn key_steps(
    args: &Args,
    folders: &[ClientFolder],
    key: &Arc<PrivateKey>,
) -> anyhow::Result<()> {
    let limit = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let mut tasks = Vec::new();
    for f in folders {
        if args.reuse_keys && args.mode != Mode::Keydist && load_session_key(f).is_ok() {
            continue;
        }
        let (f, limit, key) = (f.clone(), limit.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            let _p = limit.acquire().await;
            run_key_step_with(&f, &key, KeyStepOptions::default())
                .await
                .map(|_| ())
        }));
    }
    for t in tasks {
        t.await?.map_err(|e| anyhow::anyhow!("key step: {e}"))?;
    }
    Ok(())
}

async fn login_all(
    args: &Args,
    folders: &[ClientFolder],
) -> anyhow::Result<Vec<(ChatSender, ChatReceiver)>> {
    let limit = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let mut tasks = Vec::new();
    for f in folders {
        let (f, limit) = (f.clone(), limit.clone());
        tasks.push(tokio::spawn(async move {
            let _p = limit.acquire().await;
            login(&f, PASSWORD, Duration::from_secs(60))
                .await
                .map(|(s, r, _)| (s, r))
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await?.map_err(|e| anyhow::anyhow!("login: {e}"))?);
    }
    Ok(out)
}

async fn keydist(
    args: &Args,
    folders: Vec<ClientFolder>,
    key: Arc<PrivateKey>,
) -> anyhow::Result<()> {
    // One warm-up round binds every username to the shared key.
    key_steps(args, &folders, &key).await?;
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs_f64(args.load.duration);
    let start = Instant::now();
    let cpu = CpuMeter::start(args.server_pid);
    let mut tasks = Vec::new();
    for f in folders {
        let (key, done, failed) = (key.clone(), done.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < end {
                match run_key_step_with(&f, &key, KeyStepOptions::default()).await {
                    Ok(_) => done.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        eprintln!("loadgen: key step failed: {e}");
                        failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let secs = start.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    println!(
        "KEYDIST concurrency={} handshakes={n} failed={} seconds={secs:.2} handshakes_per_s={:.1}{}",
        args.concurrency,
        failed.load(Ordering::Relaxed),
        n as f64 / secs,
        cpu.fields(secs)
    );
    if args.check && failed.load(Ordering::Relaxed) > 0 {
        bail!("some key steps failed");
    }
    Ok(())
}

/// What one receiver saw.
/// One receiver: what every load receiver records, plus mini-chat's msg id order.
#[derive(Default)]
struct Seen {
    base: loadcheck::Seen,
    last_msg_id: u64,
    msg_id_regressions: u64,
}

async fn relay(args: &Args, sessions: Vec<(ChatSender, ChatReceiver)>) -> anyhow::Result<()> {
    let n = sessions.len();
    let senders = args.load.senders.min(n);
    let stop_at = Instant::now() + Duration::from_secs_f64(args.load.duration);
    // Receivers record until told to stop; each sender's receiver also feeds its ack channel.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut recv_tasks = Vec::new();
    let mut send_tasks = Vec::new();
    let accepted = Arc::new(AtomicU64::new(0));
    // Load messages received by all receivers together, for the drain at the end.
    let arrived = Arc::new(AtomicU64::new(0));
    let cpu = CpuMeter::start(args.server_pid);
    for (i, (sender, mut receiver)) in sessions.into_iter().enumerate() {
        let (ack_tx, ack_rx) = mpsc::unbounded_channel::<u64>();
        let mut stop = stop_rx.clone();
        let arrived = arrived.clone();
        recv_tasks.push(tokio::spawn(async move {
            let mut seen = Seen::default();
            loop {
                let next = tokio::select! {
                    r = receiver.next() => r,
                    _ = stop.changed() => break,
                };
                match next {
                    Ok(Some(Incoming::Event {
                        event: ServerEvent::Chat(line),
                        ..
                    })) => {
                        if line.msg_id <= seen.last_msg_id {
                            seen.msg_id_regressions += 1;
                        }
                        seen.last_msg_id = line.msg_id;
                        if let Some((from, seq)) = seen.base.record(&line.text, loadcheck::now_us())
                        {
                            arrived.fetch_add(1, Ordering::Relaxed);
                            if from == i {
                                let _ = ack_tx.send(seq);
                            }
                        }
                    }
                    Ok(Some(Incoming::ServerError(e))) => {
                        seen.base.closed = Some(format!("{}: {}", e.reason, e.message));
                        break;
                    }
                    Ok(Some(Incoming::Rejected { why, .. })) => {
                        seen.base.closed = Some(format!("rejected frame: {why}"));
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        seen.base.closed = Some("server closed".into());
                        break;
                    }
                    Err(e) => {
                        seen.base.closed = Some(e.to_string());
                        break;
                    }
                }
            }
            seen
        }));
        if i < senders {
            let pacer = loadcheck::Pacer::new(&args.load, i, senders, stop_at);
            let (size, accepted) = (args.load.size, accepted.clone());
            send_tasks.push(tokio::spawn(sender_loop(
                i, sender, ack_rx, pacer, size, accepted,
            )));
        } else {
            // Non-senders keep their sender alive (dropping it would close the socket) and ping
            // like a real client, so the server's idle timeout never drops them in long runs.
            send_tasks.push(tokio::spawn(async move {
                let mut sender = sender;
                let beat = Duration::from_secs(common::protocol::consts::HEARTBEAT_SECS);
                loop {
                    let next = (Instant::now() + beat).min(stop_at);
                    tokio::time::sleep_until(next.into()).await;
                    if Instant::now() >= stop_at || sender.send(&ClientRequest::Ping).await.is_err()
                    {
                        break;
                    }
                }
                (sender, 0u64)
            }));
        }
    }
    let t_start = Instant::now();
    let mut sent_counts = Vec::new();
    let mut keep = Vec::new();
    for t in send_tasks {
        let (s, c) = t.await?;
        keep.push(s);
        sent_counts.push(c);
    }
    let send_secs = t_start.elapsed().as_secs_f64();
    let cpu_fields = cpu.fields(send_secs);
    // Let the last messages drain: under saturation the server's per-recipient queues still hold
    // messages it accepted when the senders stop. Wait until every receiver has every accepted
    // message, or until nothing has arrived for 10 s (a real loss), then stop the receivers.
    let accepted_now = accepted.load(Ordering::Relaxed);
    let expected: u64 = sent_counts.iter().take(senders).sum::<u64>() * n as u64;
    let (mut last, mut last_change) = (arrived.load(Ordering::Relaxed), Instant::now());
    while last < expected && last_change.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = arrived.load(Ordering::Relaxed);
        if now != last {
            (last, last_change) = (now, Instant::now());
        }
    }
    let drain_secs = t_start.elapsed().as_secs_f64() - send_secs;
    tokio::time::sleep(Duration::from_millis(200)).await; // duplicates would show up here
    let _ = stop_tx.send(true);
    let mut seens = Vec::new();
    for t in recv_tasks {
        seens.push(t.await?);
    }
    drop(keep);

    // Check: every accepted message (sender i, seq 0..accepted_i) reached every receiver once, in order.
    let accepted_per_sender: Vec<u64> = sent_counts.iter().take(senders).copied().collect();
    let total_accepted: u64 = accepted_per_sender.iter().sum();
    let regress: u64 = seens.iter().map(|s| s.msg_id_regressions).sum();
    let loadcheck::Verdict {
        tally:
            loadcheck::Tally {
                delivered,
                lost,
                duplicated,
                reordered,
            },
        disconnected,
        latencies_us: lat,
    } = loadcheck::Verdict::of(
        "loadgen",
        seens.into_iter().map(|s| s.base).collect(),
        &accepted_per_sender,
        false,
    );
    let pct = |p: f64| loadcheck::percentile_ms(&lat, p);
    println!(
        "RELAY users={n} senders={senders} rate={} size={} seconds={send_secs:.2} accepted={total_accepted} \
         (echoed {accepted_now}) expected_deliveries={} delivered={delivered} lost={lost} duplicated={duplicated} \
         reordered={reordered} msg_id_regressions={regress} disconnected={disconnected} deliveries_per_s={:.0} \
         latency_ms_p50={:.2} p99={:.2} max={:.2} drain_seconds={drain_secs:.1}{cpu_fields}",
        args.load.rate,
        args.load.size,
        total_accepted * n as u64,
        delivered as f64 / (send_secs + drain_secs),
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
    let ok = lost == 0
        && duplicated == 0
        && reordered == 0
        && regress == 0
        && disconnected == 0
        && total_accepted > 0;
    println!("CHECK {}", if ok { "PASS" } else { "FAIL" });
    if args.check && !ok {
        bail!("loss, duplication, reordering or disconnection detected");
    }
    Ok(())
}

/// One sender: chat messages paced by `pacer`; an echo of its own message is the acknowledgement
/// (the server accepted it). Returns how many were accepted.
async fn sender_loop(
    me: usize,
    mut sender: ChatSender,
    mut acks: mpsc::UnboundedReceiver<u64>,
    mut pacer: loadcheck::Pacer,
    size: usize,
    accepted: Arc<AtomicU64>,
) -> (ChatSender, u64) {
    while pacer.ready(&mut acks).await {
        let text = loadcheck::payload(me, pacer.sent, size);
        if sender
            .send(&ClientRequest::Chat { to: None, text })
            .await
            .is_err()
        {
            break;
        }
        pacer.sent += 1;
    }
    pacer.drain(&mut acks).await;
    accepted.fetch_add(pacer.acked, Ordering::Relaxed);
    (sender, pacer.acked)
}
