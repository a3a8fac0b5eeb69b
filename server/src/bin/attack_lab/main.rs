//! `attack_lab` (issue 13): an on-path attacker for the network-security lab. It sits between a
//! client and a server (server_key or the chat server), forwards whole frames both ways and prints
//! every one of them; on command it flips one bit of a chosen frame, replays a frame, drops a
//! frame or substitutes the server key in the key hello, and says what it did, in Chinese and
//! English. The victim's refusal then shows up in its window (docs/LESSON.md walks through each).
//!
//! ```text
//! attack_lab --listen 127.0.0.1:9091 --to 127.0.0.1:8091 [--flip 1101:4] [--drop 0002] ...
//! ```
//!
//! It does nothing by itself: no attack is armed until a flag or a typed command arms it, and
//! each armed attack acts once. It only forwards to (and listens on) loopback addresses, or an
//! address repeated with `--allow-remote`, so it cannot be pointed at someone else's server by a
//! slip of the keyboard.

mod attack;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use attack::{Attack, Command, Dir, Outcome, Said};
use clap::Parser;
use common::connection::{FrameReader, FrameWriter};
use common::crypto::{PrivateKey, random};
use common::protocol::consts::DEFAULT_RSA_BITS;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// attack_lab：实验用的中间人（记录、翻转一位、重放、丢弃、替换服务器公钥）。 A man in the middle
/// for the lab: records, flips a bit, replays, drops, substitutes the server key.
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// 受害者连接的地址（把这个端口写进它的 client.toml，作为 key_port 或 chat_port）。 Where the
    /// victim connects (its client.toml's key_port or chat_port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9091")]
    listen: SocketAddr,
    /// 真正的服务器：server_key（127.0.0.1:8091）或聊天服务器（127.0.0.1:8090）。 The real
    /// server: server_key or the chat server.
    #[arg(long, value_name = "ADDR")]
    to: SocketAddr,
    /// 允许这个非本机地址用于 --to 或 --listen（要特意再写一遍）。 Allow this address that is
    /// not loopback for --to or --listen (given again on purpose).
    #[arg(long = "allow-remote", value_name = "IP")]
    allow_remote: Vec<IpAddr>,
    /// 翻转下一个 CODE 帧的一位，如 1101:4 或 1002。 Flip one bit of the next CODE frame.
    #[arg(long, value_name = "CODE[:FIELD[:BIT]]")]
    flip: Vec<String>,
    /// 丢弃下一个 CODE 帧，如 0002。 Drop the next CODE frame.
    #[arg(long, value_name = "CODE")]
    drop: Vec<String>,
    /// 重放下一个 CODE 帧（发两次），如 0002。 Send the next CODE frame twice.
    #[arg(long, value_name = "CODE")]
    replay: Vec<String>,
    /// 把下一个 1100 帧里的服务器公钥换成攻击者自己的。 Put the attacker's own RSA key into the
    /// next 1100 key hello.
    #[arg(long)]
    substitute_server_key: bool,
    /// 把每个完整的帧也写入 FILE。 Also write every whole frame to FILE.
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
}

/// Where each frame goes: the writer task of one side of one connection.
type Out = mpsc::UnboundedSender<Vec<u8>>;

/// What the lab knows: armed attacks, open connections, the last frame of each code.
struct State {
    armed: Vec<Attack>,
    conns: HashMap<u64, [Out; 2]>,
    /// Per code: the connection and direction it went, and the frame.
    last: HashMap<&'static str, (u64, Dir, Vec<u8>)>,
    frames: u64,
    record: Option<std::fs::File>,
}

struct Lab {
    state: Mutex<State>,
    /// The attacker's RSA public key (SPKI DER), made when key substitution is first armed.
    attacker_key: Mutex<Option<Vec<u8>>>,
}

fn say(s: &Said) {
    println!("[attack_lab] {s}");
}

fn side(dir: Dir) -> usize {
    match dir {
        Dir::ToServer => 0,
        Dir::ToClient => 1,
    }
}

fn check_address(what: &str, ip: IpAddr, allowed: &[IpAddr]) -> anyhow::Result<()> {
    if ip.is_loopback() || allowed.contains(&ip) {
        return Ok(());
    }
    bail!(
        "{what} {ip} 不是本机地址；只有同时写上 --allow-remote {ip} 才会使用它 / \
         {what} {ip} is not a loopback address; it is used only when also given as --allow-remote {ip}"
    )
}

impl Lab {
    /// Make the attacker's key if needed (RSA generation takes a moment: off the async threads).
    async fn ensure_attacker_key(&self) -> anyhow::Result<()> {
        if self.attacker_key.lock().unwrap().is_some() {
            return Ok(());
        }
        let key = tokio::task::spawn_blocking(|| PrivateKey::generate(DEFAULT_RSA_BITS))
            .await?
            .context("generate the attacker's RSA key")?;
        let public = key.public_key();
        say(&Said {
            zh: format!("已生成攻击者的 RSA 密钥 {}", public.fingerprint()),
            en: format!("made the attacker's RSA key {}", public.fingerprint()),
        });
        *self.attacker_key.lock().unwrap() = Some(public.to_der());
        Ok(())
    }

    /// Arm an attack; a replay of a code already recorded on an open connection happens at once.
    async fn arm(&self, attack: Attack) -> anyhow::Result<()> {
        if attack == Attack::SubstituteServerKey {
            self.ensure_attacker_key().await?;
        }
        if let Attack::Replay { code } = &attack {
            let mut st = self.state.lock().unwrap();
            let recorded = st.last.get(code.as_str()).cloned();
            if let Some((conn, dir, frame)) = recorded
                && let Some(outs) = st.conns.get(&conn)
                && outs[side(dir)].send(frame.clone()).is_ok()
            {
                say(&attack::replayed(code));
                st.note(conn, dir, &frame);
                return Ok(());
            }
        }
        let what = attack.describe();
        self.state.lock().unwrap().armed.push(attack);
        say(&Said {
            zh: format!("已准备：{}", what.zh),
            en: format!("armed: {}", what.en),
        });
        Ok(())
    }

    /// Record one frame, run the first armed attack that waits for it, and forward the result.
    fn pass(&self, conn: u64, dir: Dir, frame: Vec<u8>, out: &Out) {
        let attacker_key = self.attacker_key.lock().unwrap().clone();
        let mut st = self.state.lock().unwrap();
        st.note(conn, dir, &frame);
        let code = attack::code_of(&frame);
        if let Some(code) = code {
            st.last.insert(code, (conn, dir, frame.clone()));
        }
        let hit = code.and_then(|c| st.armed.iter().position(|a| a.code() == c));
        let Some(i) = hit else {
            let _ = out.send(frame);
            return;
        };
        let attack = st.armed.remove(i);
        let random = u64::from_be_bytes(random::bytes::<8>());
        match attack.apply(&frame, attacker_key.as_deref(), random) {
            Ok((outcome, said)) => {
                say(&said);
                match outcome {
                    Outcome::Forward(f) => {
                        println!("{}", attack::altered_line(&f));
                        let _ = out.send(f);
                    }
                    Outcome::Drop => {}
                    Outcome::Twice(f) => {
                        let _ = out.send(f.clone());
                        st.note(conn, dir, &f);
                        let _ = out.send(f);
                    }
                }
            }
            Err(said) => {
                say(&said);
                let _ = out.send(frame);
            }
        }
    }
}

impl State {
    /// Print (and save) one frame as it arrived (an attack's change is told in its own line).
    fn note(&mut self, conn: u64, dir: Dir, frame: &[u8]) {
        self.frames += 1;
        println!("{}", attack::record_line(self.frames, conn, dir, frame));
        if let Some(f) = &mut self.record {
            use std::io::Write as _;
            let _ = writeln!(f, "{}", attack::saved_line(conn, dir, frame));
        }
    }
}

/// Read frames from one side and hand each to the lab; returns when that side closes.
async fn pump(lab: Arc<Lab>, conn: u64, dir: Dir, r: OwnedReadHalf, out: Out) {
    let mut r = FrameReader::new(r);
    loop {
        match r.read_frame().await {
            Ok(Some(frame)) => lab.pass(conn, dir, frame, &out),
            Ok(None) => return,
            Err(e) => {
                let e = common::text::escape_controls(&e.to_string(), common::text::Lines::Escape)
                    .into_owned();
                say(&Said {
                    zh: format!("连接 #{conn}（{}）读帧出错：{e}", dir.label()),
                    en: format!("conn #{conn} ({}): cannot read a frame: {e}", dir.label()),
                });
                return;
            }
        }
    }
}

/// Write whatever arrives on `rx` as frames, then close the write side.
fn writer(w: tokio::net::tcp::OwnedWriteHalf) -> (Out, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let task = tokio::spawn(async move {
        let mut w = FrameWriter::new(w);
        while let Some(f) = rx.recv().await {
            if w.write_frame(&f).await.is_err() {
                return;
            }
        }
        w.shutdown().await;
    });
    (tx, task)
}

async fn serve(lab: Arc<Lab>, conn: u64, down: TcpStream, to: SocketAddr) {
    let up = match TcpStream::connect(to).await {
        Ok(s) => s,
        Err(e) => {
            say(&Said {
                zh: format!("连接 #{conn}：连不上服务器 {to}：{e}"),
                en: format!("conn #{conn}: cannot reach the server {to}: {e}"),
            });
            return;
        }
    };
    let (dr, dw) = down.into_split();
    let (ur, uw) = up.into_split();
    let (to_server, up_task) = writer(uw);
    let (to_client, down_task) = writer(dw);
    lab.state
        .lock()
        .unwrap()
        .conns
        .insert(conn, [to_server.clone(), to_client.clone()]);
    tokio::select! {
        () = pump(lab.clone(), conn, Dir::ToServer, dr, to_server) => {}
        () = pump(lab.clone(), conn, Dir::ToClient, ur, to_client) => {}
    }
    // Both senders gone: the writers flush what is queued (a server's last 1009) and close.
    lab.state.lock().unwrap().conns.remove(&conn);
    let _ = tokio::join!(up_task, down_task);
    say(&Said {
        zh: format!("连接 #{conn} 已关闭"),
        en: format!("conn #{conn} closed"),
    });
}

/// Typed commands, one a line, until `quit` or the end of input (scripts close stdin; the lab
/// then keeps forwarding with what is armed). Stdin is read on a thread of its own: a blocking
/// read has no place on the async threads.
async fn commands(lab: Arc<Lab>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    while let Some(line) = rx.recv().await {
        if line.trim().is_empty() {
            continue;
        }
        match attack::parse_command(&line) {
            Ok(Command::Arm(a)) => {
                if let Err(e) = lab.arm(a).await {
                    println!("[attack_lab] {e:#}");
                }
            }
            Ok(Command::List) => {
                let armed = lab.state.lock().unwrap().armed.clone();
                if armed.is_empty() {
                    say(&Said {
                        zh: "没有待执行的攻击".into(),
                        en: "nothing armed".into(),
                    });
                }
                for a in armed {
                    say(&a.describe());
                }
            }
            Ok(Command::Help) => println!("{}", attack::HELP),
            Ok(Command::Quit) => std::process::exit(0),
            Err(said) => say(&said),
        }
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("attack_lab: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("attack_lab: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    check_address("--to", cli.to.ip(), &cli.allow_remote)?;
    check_address("--listen", cli.listen.ip(), &cli.allow_remote)?;
    let mut first = Vec::new();
    for f in &cli.flip {
        first.push(format!("flip {f}"));
    }
    for d in &cli.drop {
        first.push(format!("drop {d}"));
    }
    for r in &cli.replay {
        first.push(format!("replay {r}"));
    }
    if cli.substitute_server_key {
        first.push("substitute-server-key".into());
    }
    let mut attacks = Vec::new();
    for line in &first {
        match attack::parse_command(line) {
            Ok(Command::Arm(a)) => attacks.push(a),
            Ok(_) => unreachable!("flags only arm attacks"),
            Err(said) => bail!("{said}"),
        }
    }
    let record = match &cli.record {
        Some(p) => Some(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        ),
        None => None,
    };
    let lab = Arc::new(Lab {
        state: Mutex::new(State {
            armed: Vec::new(),
            conns: HashMap::new(),
            last: HashMap::new(),
            frames: 0,
            record,
        }),
        attacker_key: Mutex::new(None),
    });
    for a in attacks {
        lab.arm(a).await?;
    }
    let listener = TcpListener::bind(cli.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cli.listen))?;
    let here = listener.local_addr()?;
    say(&Said {
        zh: format!("监听 {here}，转发到 {}", cli.to),
        en: format!("listening on {here}, forwarding to {}", cli.to),
    });
    println!("{}", attack::HELP);
    tokio::spawn(commands(lab.clone()));
    let mut conn = 0;
    loop {
        let (down, peer) = listener.accept().await?;
        conn += 1;
        say(&Said {
            zh: format!("连接 #{conn} 来自 {peer}"),
            en: format!("conn #{conn} from {peer}"),
        });
        tokio::spawn(serve(lab.clone(), conn, down, cli.to));
    }
}
