//! `loadgen --mode files`: one file from the first session to all the others through the real
//! server, each side run by the client library's [`Transfers`] as the terminal mode runs it, and
//! the floor it is compared with: this machine's single-core DES-CBC + HMAC-SHA-256 rate over
//! the same chunks, measured in the same run (the server decrypts and re-encrypts every byte, so
//! no relay can beat one core's worth of that).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use common::client::chat_client::{ChatReceiver, ChatSender, Incoming};
use common::client::files::{Transfers, Update};
use common::crypto::{SessionKey, cbc, mac};
use common::protocol::chat::ServerEvent;
use common::protocol::consts::FILE_CHUNK_LEN;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

/// Bytes per second of DES-CBC encryption plus HMAC-SHA-256 of the result, over 32 KiB chunks,
/// on one core, for about `secs`.
fn floor_bytes_per_sec(secs: f64) -> f64 {
    let key = SessionKey::generate("floor", time::Duration::hours(1));
    let chunk = vec![0x5a_u8; FILE_CHUNK_LEN];
    let start = Instant::now();
    let mut bytes = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        let (iv, ct) = cbc::encrypt(&key.des, &chunk);
        std::hint::black_box(mac::hmac_sha256(&*key.mac_key, &[&iv, &ct]));
        bytes += chunk.len() as u64;
    }
    bytes as f64 / start.elapsed().as_secs_f64()
}

/// `len` pseudo-random bytes in `path` (xorshift: cheap, and no run of zeros to compress).
fn make_file(path: &Path, len: u64) -> anyhow::Result<()> {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    let mut left = len;
    while left > 0 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let b = x.to_le_bytes();
        let n = left.min(8) as usize;
        f.write_all(&b[..n])?;
        left -= n as u64;
    }
    f.flush()?;
    Ok(())
}

fn sha_of(path: &Path) -> anyhow::Result<[u8; 32]> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(h.finalize().into());
        }
        h.update(&buf[..n]);
    }
}

/// Drive one session's transfers until told to stop; every update goes to `updates`.
async fn drive(
    mut tx: ChatSender,
    mut rx: ChatReceiver,
    mut transfers: Transfers,
    mut offer: Option<(PathBuf, Option<String>)>,
    updates: mpsc::UnboundedSender<Update>,
) -> anyhow::Result<()> {
    if let Some((path, to)) = offer.take() {
        let (req, _) = transfers.offer(&path, to)?;
        tx.send(&req).await?;
    }
    loop {
        tokio::select! {
            biased;
            inc = rx.next() => {
                let Some(inc) = inc? else { return Ok(()) };
                let Incoming::Event { event: ServerEvent::File(ev), .. } = inc else { continue };
                let h = transfers.on_event(ev);
                for req in h.requests {
                    tx.send(&req).await?;
                }
                for u in h.updates {
                    if updates.send(u).is_err() {
                        return Ok(());
                    }
                }
            }
            () = std::future::ready(()), if transfers.has_chunk() => {
                if let Some((req, _)) = transfers.next_chunk() {
                    tx.send(&req).await?;
                }
            }
        }
    }
}

/// Send a `file_mb` MiB file from session 0 to every other session; print the `FILES` line.
pub async fn run(
    work: &Path,
    file_mb: u64,
    check: bool,
    sessions: Vec<(ChatSender, ChatReceiver)>,
) -> anyhow::Result<()> {
    let recipients = sessions.len().saturating_sub(1);
    if recipients == 0 {
        bail!("files: give --users 2 or more (one sender, the others receive)");
    }
    let dir = work.join("files");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let src = dir.join("source.bin");
    let len = file_mb * 1024 * 1024;
    make_file(&src, len).context("writing the source file")?;
    let floor = tokio::task::spawn_blocking(|| floor_bytes_per_sec(2.0)).await?;
    let to = (recipients == 1).then(|| super::username(1));
    let (up_tx, mut updates) = mpsc::unbounded_channel();
    let mut tasks = Vec::new();
    let start = Instant::now();
    for (i, (tx, rx)) in sessions.into_iter().enumerate() {
        let transfers = Transfers::new(dir.join(super::username(i)), i > 0);
        let offer = (i == 0).then(|| (src.clone(), to.clone()));
        tasks.push(tokio::spawn(drive(tx, rx, transfers, offer, up_tx.clone())));
    }
    let (mut saved, mut over) = (Vec::new(), None);
    while over.is_none() || saved.len() < recipients {
        let next = tokio::time::timeout(Duration::from_secs(600), updates.recv()).await;
        match next.context("files: no progress for 10 minutes")? {
            Some(Update::Saved { path, .. }) => saved.push(path),
            Some(Update::Finished {
                delivered, reason, ..
            }) => {
                over = Some(start.elapsed());
                if delivered.len() < recipients {
                    bail!(
                        "files: only {} of {recipients} got the file ({reason:?})",
                        delivered.len()
                    );
                }
            }
            Some(Update::Failed { failure, name, .. }) => bail!("files: {name}: {failure:?}"),
            // E.g. FILE_TOO_LARGE for a --file-mb above the server's max_file_mb.
            Some(Update::OfferRefused { name, reason, .. }) => {
                bail!("files: the server refused the offer of {name}: {reason:?}")
            }
            Some(_) => {}
            None => bail!("files: every session ended"),
        }
    }
    let secs = over.unwrap_or_default().as_secs_f64();
    for t in &tasks {
        t.abort();
    }
    if check {
        let want = sha_of(&src)?;
        for p in &saved {
            if sha_of(p)? != want {
                bail!("files: {} differs from the original", p.display());
            }
        }
    }
    let rate = len as f64 / secs;
    println!(
        "FILES recipients={recipients} bytes={len} seconds={secs:.2} mb_per_s={:.1} \
         floor_mb_per_s={:.1} ratio={:.2} recipient_mb_per_s={:.1} checked={check}",
        rate / 1e6,
        floor / 1e6,
        rate / floor,
        rate * recipients as f64 / 1e6,
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
