//! `ircload`: loadgen's relay pattern against a plaintext IRC server (ngircd in
//! `scripts/bench.sh`), as the reference mini-chat's relay is compared with. Starts nothing
//! itself: point it at a running server with `--host`/`--port`.
//!
//! N clients register (`NICK`/`USER`, wait for `001`) and `JOIN` one channel (wait for `366`);
//! S of them send `PRIVMSG #channel :<sender>|<seq>|<send time µs>|` padded to `--size` bytes,
//! at `--rate` messages/s in total (spread evenly: sender i starts i/rate seconds after sender 0),
//! or with `--rate 0` as fast as the server takes them with `--window` unacknowledged messages
//! per sender. IRC does not echo a channel message to its sender, so at rate 0 each message is
//! followed by `PING :<seq>` in the same write and the `PONG` (which the server sends after it has
//! handled the message, i.e. after it has queued it to every member) is the acknowledgement: the
//! same role as mini-chat's echo. At a fixed rate only one final `PING` per sender is sent.
//!
//! Every receiver records every message; the checker verifies that each sent message reached
//! every other member exactly once and in order, and prints the same `RELAY ...` line as
//! `loadgen --mode relay` (here a message has N-1 deliveries, in mini-chat N: the sender's echo).
//! Latency is measured from the send time written in the message to its arrival at each
//! receiver, on one monotonic clock of this process.
//!
//! `--server-pid` adds the server's CPU seconds during the send phase (from /proc/PID/stat) to the
//! RELAY line, so throughput can be set against the CPU the server actually got on a shared
//! machine.

#[path = "loadcheck/mod.rs"]
mod loadcheck;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Semaphore, mpsc, watch};

/// Relay load against a plaintext IRC server.
#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 6667)]
    port: u16,
    /// Clients (all registered in one channel), senders, rate, window, duration and size.
    #[command(flatten)]
    load: loadcheck::Pattern,
    /// Concurrent registrations.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    #[arg(long, default_value = "#bench")]
    channel: String,
    /// Nick prefix (nicks are PREFIX00000.. ).
    #[arg(long, default_value = "ib")]
    nick_prefix: String,
    /// Exit 1 on any loss, duplicate or reordering.
    #[arg(long)]
    check: bool,
    /// The IRC server's process id: report its CPU seconds during the send phase.
    #[arg(long)]
    server_pid: Option<u32>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    loadcheck::now_us();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async_main(args))
}

type Lines = BufReader<OwnedReadHalf>;

async fn read_line(r: &mut Lines, buf: &mut String, what: &str) -> anyhow::Result<()> {
    buf.clear();
    let n = tokio::time::timeout(Duration::from_secs(60), r.read_line(buf))
        .await
        .with_context(|| format!("timed out waiting for {what}"))??;
    if n == 0 {
        bail!("server closed the connection while waiting for {what}");
    }
    if buf.starts_with("ERROR") {
        bail!("server said {}", buf.trim_end());
    }
    Ok(())
}

/// Connect, register and join; returns the line reader and the write half.
async fn connect(args: &Args, i: usize) -> anyhow::Result<(Lines, OwnedWriteHalf)> {
    let addr = format!("{}:{}", args.host, args.port);
    let stream = tokio::time::timeout(Duration::from_secs(30), TcpStream::connect(&addr))
        .await
        .with_context(|| format!("connecting to {addr} timed out"))?
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    let nick = format!("{}{i:05}", args.nick_prefix);
    w.write_all(format!("NICK {nick}\r\nUSER {nick} 0 * :ircload\r\n").as_bytes())
        .await?;
    let mut line = String::new();
    loop {
        read_line(&mut r, &mut line, "the welcome (001)").await?;
        if let Some(token) = line.strip_prefix("PING ") {
            w.write_all(format!("PONG {}", token.trim_end()).as_bytes())
                .await?;
            w.write_all(b"\r\n").await?;
        } else if line.split(' ').nth(1) == Some("001") {
            break;
        } else if line.split(' ').nth(1).is_some_and(|c| c.starts_with('4')) {
            bail!("registration of {nick} refused: {}", line.trim_end());
        }
    }
    w.write_all(format!("JOIN {}\r\n", args.channel).as_bytes())
        .await?;
    loop {
        read_line(&mut r, &mut line, "the end of NAMES (366)").await?;
        let code = line.split(' ').nth(1);
        if code == Some("366") {
            break;
        }
        if code.is_some_and(|c| c.starts_with('4')) {
            bail!("JOIN of {nick} refused: {}", line.trim_end());
        }
    }
    Ok((r, w))
}

/// What one receiver saw.
use loadcheck::Seen;

/// `:nick!user@host PRIVMSG #chan :payload` -> payload.
fn privmsg_payload(line: &str) -> Option<&str> {
    let at = line.find(" PRIVMSG ")?;
    let rest = &line[at + 9..];
    Some(&rest[rest.find(" :")? + 2..])
}

/// `:server PONG server :token` -> token.
fn pong_token(line: &str) -> Option<u64> {
    let at = line.find(" PONG ")?;
    let rest = &line[at + 6..];
    rest[rest.find(':')? + 1..].parse().ok()
}

async fn receive(
    mut r: Lines,
    ack: mpsc::UnboundedSender<u64>,
    mut stop: watch::Receiver<bool>,
) -> Seen {
    let mut seen = Seen::default();
    let mut buf = Vec::with_capacity(512);
    loop {
        let n = tokio::select! {
            n = r.read_until(b'\n', &mut buf) => n,
            _ = stop.changed() => break,
        };
        match n {
            Ok(0) => {
                seen.closed = Some("server closed".into());
                break;
            }
            Ok(_) => {}
            Err(e) => {
                seen.closed = Some(e.to_string());
                break;
            }
        }
        let arrived = loadcheck::now_us();
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim_end();
        if let Some(payload) = privmsg_payload(line) {
            seen.record(payload, arrived);
        } else if let Some(token) = pong_token(line) {
            let _ = ack.send(token);
        } else if line.starts_with("ERROR") {
            seen.closed = Some(line.to_owned());
            break;
        }
        buf.clear();
    }
    seen
}

/// One sender: `PRIVMSG`s paced by `pacer`. At rate 0 each message is followed by `PING :<seq>`
/// and its `PONG` is the acknowledgement; at a fixed rate one `PING` after the last message
/// acknowledges them all (the server answers it after handling everything before it). Returns
/// how many were acknowledged.
async fn sender_loop(
    me: usize,
    mut w: OwnedWriteHalf,
    mut acks: mpsc::UnboundedReceiver<u64>,
    channel: String,
    mut pacer: loadcheck::Pacer,
    size: usize,
    acked_total: Arc<AtomicU64>,
) -> (OwnedWriteHalf, u64) {
    let head = format!("PRIVMSG {channel} :");
    while pacer.ready(&mut acks).await {
        let mut line = format!("{head}{}\r\n", loadcheck::payload(me, pacer.sent, size));
        if !pacer.fixed_rate() {
            line.push_str(&format!("PING :{}\r\n", pacer.sent));
        }
        if w.write_all(line.as_bytes()).await.is_err() {
            break;
        }
        pacer.sent += 1;
    }
    if pacer.fixed_rate() {
        let token = 1u64 << 40;
        if w.write_all(format!("PING :{token}\r\n").as_bytes())
            .await
            .is_ok()
        {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            while let Ok(Some(t)) = tokio::time::timeout_at(deadline, acks.recv()).await {
                if t == token {
                    pacer.acked = pacer.sent;
                    break;
                }
            }
        }
    } else {
        pacer.drain(&mut acks).await;
    }
    acked_total.fetch_add(pacer.acked, Ordering::Relaxed);
    (w, pacer.acked)
}

async fn async_main(args: Args) -> anyhow::Result<()> {
    let n = args.load.users;
    if n < 2 {
        bail!("--users must be at least 2 (IRC does not echo to the sender)");
    }
    let args = Arc::new(args);
    let t1 = Instant::now();
    let limit = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = Vec::new();
    for i in 0..n {
        let (limit, args) = (limit.clone(), args.clone());
        conns.push(tokio::spawn(async move {
            let _p = limit.acquire().await;
            connect(&args, i)
                .await
                .with_context(|| format!("client {i}"))
        }));
    }
    // Start each receiver as soon as its client has joined, so JOIN notices never pile up.
    let mut recv_tasks = Vec::new();
    let mut writers = Vec::new();
    let mut ack_rxs = Vec::new();
    for c in conns {
        let (r, w) = c.await??;
        let (ack_tx, ack_rx) = mpsc::unbounded_channel::<u64>();
        recv_tasks.push(tokio::spawn(receive(r, ack_tx, stop_rx.clone())));
        writers.push(w);
        ack_rxs.push(ack_rx);
    }
    eprintln!(
        "ircload: {n} clients registered and joined {} in {:.1} s",
        args.channel,
        t1.elapsed().as_secs_f64()
    );
    // Let the last JOIN notices drain before measuring.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let senders = args.load.senders.min(n);
    let server_cpu0 = args
        .server_pid
        .and_then(|p| loadcheck::proc_cpu_seconds(&p.to_string()));
    let self_cpu0 = loadcheck::proc_cpu_seconds("self");
    let stop_at = Instant::now() + Duration::from_secs_f64(args.load.duration);
    let acked_total = Arc::new(AtomicU64::new(0));
    let mut send_tasks = Vec::new();
    let mut idle_writers = Vec::new();
    for (i, (w, ack_rx)) in writers.into_iter().zip(ack_rxs).enumerate() {
        if i < senders {
            let pacer = loadcheck::Pacer::new(&args.load, i, senders, stop_at);
            send_tasks.push(tokio::spawn(sender_loop(
                i,
                w,
                ack_rx,
                args.channel.clone(),
                pacer,
                args.load.size,
                acked_total.clone(),
            )));
        } else {
            idle_writers.push(w);
        }
    }
    let t_start = Instant::now();
    let mut accepted_per_sender = Vec::new();
    for t in send_tasks {
        let (w, acked) = t.await?;
        idle_writers.push(w);
        accepted_per_sender.push(acked);
    }
    let send_secs = t_start.elapsed().as_secs_f64();
    let server_cpu = server_cpu0
        .and_then(|c0| Some(loadcheck::proc_cpu_seconds(&args.server_pid?.to_string())? - c0));
    let self_cpu = self_cpu0.and_then(|c0| Some(loadcheck::proc_cpu_seconds("self")? - c0));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let _ = stop_tx.send(true);
    let mut seens = Vec::new();
    for t in recv_tasks {
        seens.push(t.await?);
    }
    drop(idle_writers);

    let total_accepted: u64 = accepted_per_sender.iter().sum();
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
    } = loadcheck::Verdict::of("ircload", seens, &accepted_per_sender, true);
    let pct = |p: f64| loadcheck::percentile_ms(&lat, p);
    let mut cpu = String::new();
    if let Some(c) = server_cpu {
        cpu.push_str(&format!(
            " server_cpu_s={c:.2} server_cores={:.2}",
            c / send_secs
        ));
    }
    if let Some(c) = self_cpu {
        cpu.push_str(&format!(" client_cpu_s={c:.2}"));
    }
    println!(
        "RELAY users={n} senders={senders} rate={} size={} seconds={send_secs:.2} accepted={total_accepted} \
         (echoed {}) expected_deliveries={} delivered={delivered} lost={lost} duplicated={duplicated} \
         reordered={reordered} msg_id_regressions=0 disconnected={disconnected} deliveries_per_s={:.0} \
         latency_ms_p50={:.2} p99={:.2} max={:.2}{cpu}",
        args.load.rate,
        args.load.size,
        acked_total.load(Ordering::Relaxed),
        total_accepted * (n as u64 - 1),
        delivered as f64 / send_secs,
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
    let ok =
        lost == 0 && duplicated == 0 && reordered == 0 && disconnected == 0 && total_accepted > 0;
    println!("CHECK {}", if ok { "PASS" } else { "FAIL" });
    if args.check && !ok {
        bail!("loss, duplication, reordering or disconnection detected");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_privmsg_and_pong() {
        assert_eq!(
            privmsg_payload(":ib00001!~ib00001@127.0.0.1 PRIVMSG #bench :1|2|3|xx"),
            Some("1|2|3|xx")
        );
        assert_eq!(loadcheck::parse_payload("1|2|3|xx"), Some((1, 2, 3)));
        assert_eq!(
            pong_token(":bench.irc.local PONG bench.irc.local :42"),
            Some(42)
        );
        assert_eq!(pong_token(":bench.irc.local NOTICE x :hi"), None);
    }

    #[test]
    fn reads_own_cpu_time() {
        assert!(loadcheck::proc_cpu_seconds("self").is_some());
    }
}
