//! File transfer on the client side, without any display: the state of every outgoing and
//! incoming transfer, offers, progress (speed, time left), the file name sanitiser and the
//! downloads writer (`.part` while receiving, a name that never overwrites when complete).
//!
//! The terminal mode and the GUI drive one [`Transfers`]: they hand it every
//! [`FileEvent`] ([`Transfers::on_event`]) and send the requests it returns, show the
//! [`Update`]s, and call [`Transfers::next_chunk`] whenever they can send a file frame (after
//! any chat message waiting: a chunk is the lowest priority). A name from the network is data:
//! it is sanitised ([`sanitize_file_name`]) before it names anything, and shown quoted.
//!
//! A received file is written to `NAME.part` (never under its final name) and hashed as it
//! arrives; only when every byte is in and the SHA-256 matches the sender's is it renamed to a
//! name that does not exist yet (`NAME (1).ext`, ...). Anything else removes the `.part` file.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::protocol::chat::ClientRequest;
use crate::protocol::consts::{FILE_ACK_EVERY, FILE_CHUNK_LEN, MAX_FILE_NAME_BYTES};
use crate::protocol::files::{FileEvent, FileRequest, FileState, Verb};
use crate::protocol::reason::Reason;

/// Longest saved file name in bytes (the `.part` and ` (99)` suffixes still fit the 255 bytes
/// most file systems allow).
pub const MAX_SAVED_NAME_BYTES: usize = 200;

/// The name used when nothing of the offered name survives sanitising.
pub const DEFAULT_FILE_NAME: &str = "file";

/// Longest extension kept when a long name is shortened.
const MAX_KEPT_EXTENSION: usize = 16;

/// The suffix of a file still being received.
pub const PART_SUFFIX: &str = ".part";

/// How often a transfer reports progress at most (its last update always comes).
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// A safe local file name for `offered`: only its last path component (after `/` or `\`), no
/// control or bidirectional-override characters, none of `<>:"|?*`, no leading dots or
/// spaces, no trailing dots or spaces (Windows drops them), not a Windows device name (`con`,
/// `nul.txt`, ...: prefixed with `_`), at most [`MAX_SAVED_NAME_BYTES`] bytes (cut on a
/// character boundary, the extension kept), and never empty ([`DEFAULT_FILE_NAME`]).
pub fn sanitize_file_name(offered: &str) -> String {
    let last = offered.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !is_bidi_or_invisible(*c))
        .map(|c| if "<>:\"|?*".contains(c) { '_' } else { c })
        .collect();
    let trimmed = cleaned
        .trim_start_matches(['.', ' '])
        .trim_end_matches(['.', ' ']);
    let mut name = if trimmed.is_empty() {
        DEFAULT_FILE_NAME.to_owned()
    } else {
        trimmed.to_owned()
    };
    if crate::protocol::is_windows_device_name(&name) {
        name.insert(0, '_');
    }
    shorten_keeping_extension(&name, MAX_SAVED_NAME_BYTES)
}

/// Layout controls ([`crate::text::is_layout_control`]: bidirectional overrides make
/// `gpj.exe` look like `exe.jpg`) and zero-width characters (invisible in a file list).
fn is_bidi_or_invisible(c: char) -> bool {
    crate::text::is_layout_control(c) || matches!(c, '\u{200b}'..='\u{200d}' | '\u{feff}')
}

/// `name` cut to at most `max` bytes on a character boundary, keeping a short extension.
fn shorten_keeping_extension(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_owned();
    }
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 && name.len() - i <= MAX_KEPT_EXTENSION => name.split_at(i),
        _ => (name, ""),
    };
    let mut cut = max - ext.len();
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{ext}", &stem[..cut])
}

/// `name (n).ext` for the `n`-th alternative of `name` (`n = 0`: `name` itself).
fn numbered(name: &str, n: u32) -> String {
    if n == 0 {
        return name.to_owned();
    }
    match name.rfind('.') {
        Some(i) if i > 0 => format!("{} ({n}){}", &name[..i], &name[i..]),
        _ => format!("{name} ({n})"),
    }
}

/// Most numbered alternatives tried before giving up.
const MAX_ALTERNATIVES: u32 = 10_000;

/// Create a new file in `dir` named `name`, or `name (1).ext`, ... whichever does not exist
/// yet (never opens an existing file).
fn create_unique(dir: &Path, name: &str, suffix: &str) -> std::io::Result<(PathBuf, File)> {
    for n in 0..MAX_ALTERNATIVES {
        let path = dir.join(format!("{}{suffix}", numbered(name, n)));
        match File::options().write(true).create_new(true).open(&path) {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        "too many files with this name",
    ))
}

/// Move the finished `part` to `name` in `dir` (or `name (1).ext`, ...) without overwriting
/// anything: a hard link fails when the name exists; where links are not possible (some USB
/// drives), a rename to a name checked to be free.
fn publish(part: &Path, dir: &Path, name: &str) -> std::io::Result<PathBuf> {
    for n in 0..MAX_ALTERNATIVES {
        let path = dir.join(numbered(name, n));
        match std::fs::hard_link(part, &path) {
            Ok(()) => {
                std::fs::remove_file(part)?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(_) if !path.exists() => {
                std::fs::rename(part, &path)?;
                return Ok(path);
            }
            Err(_) => {}
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        "too many files with this name",
    ))
}

/// Bytes done out of a total, with the speed over the last seconds and the time left.
#[derive(Debug, Clone)]
pub struct Progress {
    pub total: u64,
    pub done: u64,
    started: Instant,
    /// The sample the speed is measured from (moved forward every few seconds, so the speed
    /// follows changes).
    mark: (Instant, u64),
    prev_mark: (Instant, u64),
}

/// How long a speed sample lasts before the next one starts.
const SPEED_WINDOW: Duration = Duration::from_secs(3);

impl Progress {
    pub fn new(total: u64) -> Self {
        let now = Instant::now();
        Self {
            total,
            done: 0,
            started: now,
            mark: (now, 0),
            prev_mark: (now, 0),
        }
    }

    /// `done` bytes are done now.
    pub fn set(&mut self, done: u64) {
        self.done = done.min(self.total);
        let now = Instant::now();
        if now.duration_since(self.mark.0) >= SPEED_WINDOW {
            self.prev_mark = self.mark;
            self.mark = (now, self.done);
        }
    }

    /// 0.0 to 1.0 (1.0 for an empty file).
    pub fn fraction(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            self.done as f64 / self.total as f64
        }
    }

    /// Bytes per second over the last few seconds (since the start at first).
    pub fn speed(&self) -> f64 {
        let (at, bytes) = self.prev_mark;
        let secs = at.elapsed().as_secs_f64();
        if secs <= 0.0 {
            return 0.0;
        }
        self.done.saturating_sub(bytes) as f64 / secs
    }

    /// Time left at the current speed (`None` while the speed is unknown).
    pub fn eta(&self) -> Option<Duration> {
        let speed = self.speed();
        (speed > 0.0)
            .then(|| Duration::from_secs_f64((self.total - self.done) as f64 / speed))
            .filter(|d| *d < Duration::from_secs(100 * 3600))
    }

    /// Time since the transfer started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

/// `1.5 MB`, `320 KB`, `12 B` (powers of 1000, as file managers show sizes).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1000.0;
    let mut unit = 0;
    while v >= 1000.0 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    if v < 10.0 {
        format!("{v:.1} {}", UNITS[unit])
    } else {
        format!("{v:.0} {}", UNITS[unit])
    }
}

/// `1:05`, `12 s`, `1:02:03`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{}:{:02}", s / 60, s % 60),
        _ => format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60),
    }
}

/// A text progress bar of `width` cells: `[#####.....]`.
pub fn bar(fraction: f64, width: usize) -> String {
    let full = ((fraction.clamp(0.0, 1.0)) * width as f64).round() as usize;
    format!("[{}{}]", "#".repeat(full), ".".repeat(width - full))
}

/// Which way a transfer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Send,
    Receive,
}

/// Why a transfer ended without the file, on this side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The server or the other side said why.
    Remote(Reason),
    /// This side cancelled.
    Cancelled,
    /// Reading or writing a local file failed (the text is the system's).
    Local(String),
    /// The connection ended.
    Disconnected,
}

/// Something to show about a transfer.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// An offer went out (`id` not known yet).
    OfferSent {
        reference: u64,
        name: String,
        to: Option<String>,
        size: u64,
    },
    /// The server refused our offer (`reference` is [`Update::OfferSent`]'s).
    OfferRefused {
        reference: u64,
        name: String,
        reason: Reason,
    },
    /// The server accepted our offer `reference` as transfer `id`.
    OfferAccepted {
        reference: u64,
        id: u64,
        name: String,
    },
    /// Someone offers us a file. `name` is already sanitised (what it will be saved as, before
    /// a number is added). `auto` when it was accepted at once (`CHAT_ACCEPT_FILES=1`).
    Offered {
        id: u64,
        from_user: String,
        from_nick: String,
        name: String,
        size: u64,
        auto: bool,
    },
    /// A recipient of our transfer accepted, declined, or received the whole file.
    Recipient {
        id: u64,
        user: String,
        state: FileState,
        reason: Option<Reason>,
    },
    /// Bytes moved (sent by us, or received and written).
    Progress {
        id: u64,
        direction: Direction,
        name: String,
        done: u64,
        total: u64,
        speed: f64,
        eta: Option<Duration>,
    },
    /// A received file is complete, checked and saved as `path`.
    Saved {
        id: u64,
        path: PathBuf,
        from: String,
    },
    /// A transfer ended without the file on this side (a partial file was removed).
    Failed {
        id: u64,
        direction: Direction,
        name: String,
        failure: Failure,
    },
    /// Our outgoing transfer is over: nobody is left to send to. `delivered` received the file.
    Finished {
        id: u64,
        name: String,
        delivered: Vec<String>,
        reason: Option<Reason>,
    },
}

/// Why a local action on a transfer failed (nothing was sent).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    #[error("cannot read {path}: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
    #[error("{0} is not a file")]
    NotAFile(String),
    #[error("cannot create the downloads folder {path}: {source}")]
    Downloads {
        path: String,
        source: std::io::Error,
    },
    #[error("there is no transfer {0}")]
    NoSuchTransfer(u64),
}

struct Outgoing {
    reference: u64,
    id: Option<u64>,
    name: String,
    file: File,
    size: u64,
    sent: u64,
    credit: u64,
    started: bool,
    ended: bool,
    hasher: Sha256,
    progress: Progress,
    reported: Instant,
    delivered: Vec<String>,
}

struct OfferIn {
    from_user: String,
    name: String,
    size: u64,
}

struct Incoming {
    from_user: String,
    name: String,
    size: u64,
    part: PathBuf,
    file: File,
    written: u64,
    acked: u64,
    hasher: Sha256,
    progress: Progress,
    reported: Instant,
}

/// Every transfer of one session.
pub struct Transfers {
    downloads: PathBuf,
    auto_accept: bool,
    next_reference: u64,
    outgoing: Vec<Outgoing>,
    offers: HashMap<u64, OfferIn>,
    incoming: HashMap<u64, Incoming>,
    /// Where [`Self::next_chunk`] looks first (round robin over outgoing transfers).
    turn: usize,
}

impl std::fmt::Debug for Transfers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transfers")
            .field("downloads", &self.downloads)
            .field("outgoing", &self.outgoing.len())
            .field("incoming", &self.incoming.len())
            .finish_non_exhaustive()
    }
}

/// What [`Transfers::on_event`] gives back: requests to send now, and what to show.
#[derive(Debug, Default)]
pub struct Handled {
    pub requests: Vec<ClientRequest>,
    pub updates: Vec<Update>,
}

impl Transfers {
    /// Received files go to `downloads` (created when the first one is accepted). With
    /// `auto_accept` every offer is accepted at once (scripts: `CHAT_ACCEPT_FILES=1`).
    pub fn new(downloads: PathBuf, auto_accept: bool) -> Self {
        Self {
            downloads,
            auto_accept,
            next_reference: 1,
            outgoing: Vec::new(),
            offers: HashMap::new(),
            incoming: HashMap::new(),
            turn: 0,
        }
    }

    /// Where received files go.
    pub fn downloads(&self) -> &Path {
        &self.downloads
    }

    /// Offer the file at `path` to `to` (`None`: everyone online): the `0008` to send.
    ///
    /// # Errors
    /// [`FileError`] when the file cannot be opened (nothing is sent).
    pub fn offer(
        &mut self,
        path: &Path,
        to: Option<String>,
    ) -> Result<(ClientRequest, Update), FileError> {
        let shown = path.display().to_string();
        let file = File::open(path).map_err(|source| FileError::Open {
            path: shown.clone(),
            source,
        })?;
        let meta = file.metadata().map_err(|source| FileError::Open {
            path: shown.clone(),
            source,
        })?;
        if !meta.is_file() {
            return Err(FileError::NotAFile(shown));
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| DEFAULT_FILE_NAME.into());
        let name = shorten_keeping_extension(&name, MAX_FILE_NAME_BYTES);
        let reference = self.next_reference;
        self.next_reference += 1;
        let size = meta.len();
        self.outgoing.push(Outgoing {
            reference,
            id: None,
            name: name.clone(),
            file,
            size,
            sent: 0,
            credit: 0,
            started: false,
            ended: false,
            hasher: Sha256::new(),
            progress: Progress::new(size),
            reported: Instant::now(),
            delivered: Vec::new(),
        });
        let update = Update::OfferSent {
            reference,
            name: name.clone(),
            to: to.clone(),
            size,
        };
        let req = FileRequest::Offer {
            reference,
            to,
            name,
            size,
        };
        Ok((ClientRequest::File(req), update))
    }

    /// Accept the offer `id`: creates `NAME.part` in the downloads folder.
    ///
    /// # Errors
    /// [`FileError`] for an unknown offer or a downloads folder that cannot be written (the
    /// offer stays open then; decline it).
    pub fn accept(&mut self, id: u64) -> Result<ClientRequest, FileError> {
        let offer = self.offers.get(&id).ok_or(FileError::NoSuchTransfer(id))?;
        let dir = &self.downloads;
        let err = |source| FileError::Downloads {
            path: dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(err)?;
        let (part, file) = create_unique(dir, &offer.name, PART_SUFFIX).map_err(err)?;
        let offer = self.offers.remove(&id).expect("checked above");
        self.incoming.insert(
            id,
            Incoming {
                from_user: offer.from_user,
                name: offer.name,
                size: offer.size,
                part,
                file,
                written: 0,
                acked: 0,
                hasher: Sha256::new(),
                progress: Progress::new(offer.size),
                reported: Instant::now(),
            },
        );
        Ok(control(id, Verb::Accept))
    }

    /// Decline the offer `id`.
    ///
    /// # Errors
    /// [`FileError::NoSuchTransfer`].
    pub fn decline(&mut self, id: u64) -> Result<ClientRequest, FileError> {
        self.offers
            .remove(&id)
            .map(|_| control(id, Verb::Decline))
            .ok_or(FileError::NoSuchTransfer(id))
    }

    /// Cancel transfer `id`, ours or one we receive (its `.part` file is removed), or decline
    /// an open offer.
    ///
    /// # Errors
    /// [`FileError::NoSuchTransfer`].
    pub fn cancel(&mut self, id: u64) -> Result<(ClientRequest, Update), FileError> {
        if let Some(i) = self.outgoing.iter().position(|o| o.id == Some(id)) {
            let o = self.outgoing.remove(i);
            return Ok((
                control(id, Verb::Cancel),
                failed_out(id, &o, Failure::Cancelled),
            ));
        }
        if let Some(inc) = self.incoming.remove(&id) {
            let update = discard(id, inc, Failure::Cancelled);
            return Ok((control(id, Verb::Cancel), update));
        }
        if let Some(offer) = self.offers.remove(&id) {
            let update = Update::Failed {
                id,
                direction: Direction::Receive,
                name: offer.name,
                failure: Failure::Cancelled,
            };
            return Ok((control(id, Verb::Decline), update));
        }
        Err(FileError::NoSuchTransfer(id))
    }

    /// Whether an outgoing transfer is still running (a terminal client waits for them before
    /// it exits at the end of its input).
    pub fn sending(&self) -> bool {
        !self.outgoing.is_empty()
    }

    /// Whether anything is being received.
    pub fn receiving(&self) -> bool {
        !self.incoming.is_empty()
    }

    /// Open offers: `(id, from, sanitised name, size)`.
    pub fn open_offers(&self) -> Vec<(u64, String, String, u64)> {
        let mut v: Vec<_> = self
            .offers
            .iter()
            .map(|(id, o)| (*id, o.from_user.clone(), o.name.clone(), o.size))
            .collect();
        v.sort_by_key(|o| o.0);
        v
    }

    /// Whether [`Self::next_chunk`] has something to send.
    pub fn has_chunk(&self) -> bool {
        self.outgoing.iter().any(Outgoing::ready)
    }

    /// The next file frame to send (a chunk of a transfer with credit, or the end of one whose
    /// every byte went out), round robin over the transfers; `None` when all wait for credit.
    /// A file that cannot be read any more cancels its transfer (the update says why).
    pub fn next_chunk(&mut self) -> Option<(ClientRequest, Option<Update>)> {
        let n = self.outgoing.len();
        for k in 0..n {
            let i = (self.turn + k) % n;
            if !self.outgoing[i].ready() {
                continue;
            }
            self.turn = i + 1;
            return Some(match self.outgoing[i].next_frame() {
                Ok(req) => {
                    let o = &mut self.outgoing[i];
                    let update = o.id.and_then(|id| {
                        progress_due(&mut o.reported, &o.progress)
                            .then(|| progress(id, Direction::Send, &o.name, &o.progress))
                    });
                    (req, update)
                }
                Err(e) => {
                    let o = self.outgoing.remove(i);
                    let id = o.id.unwrap_or_default();
                    let why = Failure::Local(e.to_string());
                    (control(id, Verb::Cancel), Some(failed_out(id, &o, why)))
                }
            });
        }
        None
    }

    /// The connection ended: every transfer fails (partial files are removed).
    pub fn disconnected(&mut self) -> Vec<Update> {
        let mut updates: Vec<Update> = self
            .outgoing
            .drain(..)
            .map(|o| failed_out(o.id.unwrap_or_default(), &o, Failure::Disconnected))
            .collect();
        self.offers.clear();
        let ids: Vec<u64> = self.incoming.keys().copied().collect();
        for id in ids {
            let inc = self.incoming.remove(&id).expect("listed");
            updates.push(discard(id, inc, Failure::Disconnected));
        }
        updates
    }

    /// Take one file event from the server.
    pub fn on_event(&mut self, ev: FileEvent) -> Handled {
        let mut h = Handled::default();
        match ev {
            FileEvent::OfferResult { reference, result } => {
                self.offer_result(reference, result, &mut h)
            }
            FileEvent::Offered {
                id,
                from_user,
                from_nick,
                name,
                size,
            } => self.offered(id, from_user, from_nick, &name, size, &mut h),
            FileEvent::Credit { id, upto } => {
                if let Some(o) = self.outgoing.iter_mut().find(|o| o.id == Some(id)) {
                    o.started = true;
                    o.credit = o.credit.max(upto);
                }
            }
            FileEvent::Status {
                id,
                state,
                user,
                reason,
            } => self.status(id, state, user, reason, &mut h),
            FileEvent::Data { id, offset, data } => self.data(id, offset, &data, &mut h),
            FileEvent::End { id, sha256 } => self.end(id, &sha256, &mut h),
        }
        h
    }

    fn offer_result(&mut self, reference: u64, result: Result<u64, Reason>, h: &mut Handled) {
        let Some(i) = self.outgoing.iter().position(|o| o.reference == reference) else {
            return;
        };
        match result {
            Ok(id) => {
                let o = &mut self.outgoing[i];
                o.id = Some(id);
                h.updates.push(Update::OfferAccepted {
                    reference,
                    id,
                    name: o.name.clone(),
                });
            }
            Err(reason) => {
                let o = self.outgoing.remove(i);
                h.updates.push(Update::OfferRefused {
                    reference,
                    name: o.name,
                    reason,
                });
            }
        }
    }

    fn offered(
        &mut self,
        id: u64,
        from_user: String,
        from_nick: String,
        name: &str,
        size: u64,
        h: &mut Handled,
    ) {
        let name = sanitize_file_name(name);
        self.offers.insert(
            id,
            OfferIn {
                from_user: from_user.clone(),
                name: name.clone(),
                size,
            },
        );
        let mut auto = false;
        if self.auto_accept {
            match self.accept(id) {
                Ok(req) => {
                    auto = true;
                    h.requests.push(req);
                }
                Err(e) => {
                    h.requests.push(control(id, Verb::Decline));
                    self.offers.remove(&id);
                    h.updates.push(Update::Failed {
                        id,
                        direction: Direction::Receive,
                        name: name.clone(),
                        failure: Failure::Local(e.to_string()),
                    });
                    return;
                }
            }
        }
        h.updates.push(Update::Offered {
            id,
            from_user,
            from_nick,
            name,
            size,
            auto,
        });
    }

    fn status(
        &mut self,
        id: u64,
        state: FileState,
        user: String,
        reason: Option<Reason>,
        h: &mut Handled,
    ) {
        if let Some(i) = self.outgoing.iter().position(|o| o.id == Some(id)) {
            if state == FileState::Over {
                let o = self.outgoing.remove(i);
                h.updates.push(Update::Finished {
                    id,
                    name: o.name,
                    delivered: o.delivered,
                    reason,
                });
                return;
            }
            if state == FileState::Done {
                self.outgoing[i].delivered.push(user.clone());
            }
            h.updates.push(Update::Recipient {
                id,
                user,
                state,
                reason,
            });
            return;
        }
        // To a recipient only `FAILED` is sent: the transfer ended for it.
        let failure = Failure::Remote(reason.unwrap_or(Reason::UnknownTransfer));
        if let Some(inc) = self.incoming.remove(&id) {
            h.updates.push(discard(id, inc, failure));
        } else if let Some(offer) = self.offers.remove(&id) {
            h.updates.push(Update::Failed {
                id,
                direction: Direction::Receive,
                name: offer.name,
                failure,
            });
        }
    }

    fn data(&mut self, id: u64, offset: u64, data: &[u8], h: &mut Handled) {
        let Some(inc) = self.incoming.get_mut(&id) else {
            return; // cancelled here: its frames still in flight are dropped
        };
        let fits = offset == inc.written && inc.written + data.len() as u64 <= inc.size;
        let written = if fits {
            inc.file.write_all(data).map_err(|e| e.to_string())
        } else {
            Err(format!(
                "data at {offset} while {} bytes were written",
                inc.written
            ))
        };
        if let Err(why) = written {
            let inc = self.incoming.remove(&id).expect("present");
            h.requests.push(control(id, Verb::Cancel));
            h.updates.push(discard(id, inc, Failure::Local(why)));
            return;
        }
        inc.hasher.update(data);
        inc.written += data.len() as u64;
        inc.progress.set(inc.written);
        if inc.written - inc.acked >= FILE_ACK_EVERY || inc.written == inc.size {
            inc.acked = inc.written;
            h.requests.push(ClientRequest::File(FileRequest::Ack {
                id,
                received: inc.written,
            }));
        }
        if progress_due(&mut inc.reported, &inc.progress) {
            h.updates
                .push(progress(id, Direction::Receive, &inc.name, &inc.progress));
        }
    }

    fn end(&mut self, id: u64, sha256: &[u8; 32], h: &mut Handled) {
        let Some(mut inc) = self.incoming.remove(&id) else {
            return;
        };
        let hash: [u8; 32] = std::mem::take(&mut inc.hasher).finalize().into();
        if inc.written != inc.size || &hash != sha256 {
            h.requests.push(control(id, Verb::BadHash));
            h.updates
                .push(discard(id, inc, Failure::Remote(Reason::BadHash)));
            return;
        }
        let saved = inc
            .file
            .flush()
            .and_then(|()| inc.file.sync_all())
            .and_then(|()| publish(&inc.part, &self.downloads, &inc.name));
        match saved {
            Ok(path) => {
                h.requests.push(control(id, Verb::Done));
                h.updates
                    .push(progress(id, Direction::Receive, &inc.name, &inc.progress));
                h.updates.push(Update::Saved {
                    id,
                    path,
                    from: inc.from_user,
                });
            }
            Err(e) => {
                h.requests.push(control(id, Verb::Cancel));
                h.updates
                    .push(discard(id, inc, Failure::Local(e.to_string())));
            }
        }
    }
}

impl Outgoing {
    /// A chunk (credit left, bytes left) or the end (every byte sent) can go out.
    fn ready(&self) -> bool {
        self.id.is_some()
            && self.started
            && !self.ended
            && (self.sent == self.size || self.sent < self.credit)
    }

    fn next_frame(&mut self) -> std::io::Result<ClientRequest> {
        let id = self.id.unwrap_or_default();
        if self.sent == self.size {
            self.ended = true;
            let sha256 = std::mem::take(&mut self.hasher).finalize().into();
            return Ok(ClientRequest::File(FileRequest::End { id, sha256 }));
        }
        let n = (self.size - self.sent)
            .min(self.credit - self.sent)
            .min(FILE_CHUNK_LEN as u64) as usize;
        let mut data = vec![0u8; n];
        self.file.read_exact(&mut data)?;
        self.hasher.update(&data);
        let offset = self.sent;
        self.sent += n as u64;
        self.progress.set(self.sent);
        Ok(ClientRequest::File(FileRequest::Chunk { id, offset, data }))
    }
}

fn control(id: u64, verb: Verb) -> ClientRequest {
    ClientRequest::File(FileRequest::Control { id, verb })
}

fn progress(id: u64, direction: Direction, name: &str, p: &Progress) -> Update {
    Update::Progress {
        id,
        direction,
        name: name.to_owned(),
        done: p.done,
        total: p.total,
        speed: p.speed(),
        eta: p.eta(),
    }
}

/// Whether a progress update is due (at most every [`PROGRESS_EVERY`], and at the end).
fn progress_due(last: &mut Instant, p: &Progress) -> bool {
    if p.done == p.total || last.elapsed() >= PROGRESS_EVERY {
        *last = Instant::now();
        true
    } else {
        false
    }
}

fn failed_out(id: u64, o: &Outgoing, failure: Failure) -> Update {
    Update::Failed {
        id,
        direction: Direction::Send,
        name: o.name.clone(),
        failure,
    }
}

/// Remove an incoming transfer's `.part` file: a partial file is never left looking complete.
fn discard(id: u64, inc: Incoming, failure: Failure) -> Update {
    drop(inc.file);
    let _ = std::fs::remove_file(&inc.part);
    Update::Failed {
        id,
        direction: Direction::Receive,
        name: inc.name,
        failure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitised() {
        for (offered, saved) in [
            ("../../etc/passwd", "passwd"),
            ("..\\..\\x", "x"),
            ("C:\\Windows\\system32\\cmd.exe", "cmd.exe"),
            ("con.txt", "_con.txt"),
            ("NUL", "_NUL"),
            ("aux.c", "_aux.c"),
            ("com1", "_com1"),
            ("console.txt", "console.txt"),
            ("..", DEFAULT_FILE_NAME),
            ("", DEFAULT_FILE_NAME),
            ("/", DEFAULT_FILE_NAME),
            ("...", DEFAULT_FILE_NAME),
            (".bashrc", "bashrc"),
            ("a\u{0}b\nc\u{1b}[31m.txt", "abc[31m.txt"),
            ("photo\u{202e}gpj.exe", "photogpj.exe"),
            ("zero\u{200b}width\u{2066}.txt", "zerowidth.txt"),
            ("what?<>|*:\".txt", "what_______.txt"),
            ("report. ", "report"),
            ("报告 第1版.docx", "报告 第1版.docx"),
        ] {
            assert_eq!(sanitize_file_name(offered), saved, "{offered:?}");
        }
    }

    #[test]
    fn long_names_are_cut_on_a_character_boundary_keeping_the_extension() {
        let long = format!("{}.pdf", "文".repeat(300));
        let s = sanitize_file_name(&long);
        assert!(s.len() <= MAX_SAVED_NAME_BYTES, "{}", s.len());
        assert!(s.ends_with(".pdf"), "{s}");
        assert!(s.starts_with("文文"), "{s}");
        let no_ext = "é".repeat(400);
        let s = sanitize_file_name(&no_ext);
        assert!(s.len() <= MAX_SAVED_NAME_BYTES && s.chars().all(|c| c == 'é'));
        // A "extension" longer than 16 bytes is not kept.
        let odd = format!("a.{}", "b".repeat(300));
        assert_eq!(sanitize_file_name(&odd).len(), MAX_SAVED_NAME_BYTES);
    }

    #[test]
    fn names_never_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "old").unwrap();
        std::fs::write(dir.path().join("a (1).txt"), "old1").unwrap();
        for (n, want) in [(0, "a (2).txt"), (1, "noext (1)")] {
            let name = if n == 0 { "a.txt" } else { "noext" };
            if n == 1 {
                std::fs::write(dir.path().join("noext"), "x").unwrap();
            }
            let part = dir.path().join("p.part");
            std::fs::write(&part, "new").unwrap();
            let path = publish(&part, dir.path(), name).unwrap();
            assert_eq!(path.file_name().unwrap(), want);
            assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
            assert!(!part.exists());
        }
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a.txt")).unwrap(),
            "old"
        );
        let (p1, _) = create_unique(dir.path(), "b", PART_SUFFIX).unwrap();
        let (p2, _) = create_unique(dir.path(), "b", PART_SUFFIX).unwrap();
        assert_eq!(p1.file_name().unwrap(), "b.part");
        assert_eq!(p2.file_name().unwrap(), "b (1).part");
    }

    #[test]
    fn sizes_and_times_read_well() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_500_000), "1.5 MB");
        assert_eq!(human_bytes(104_857_600), "105 MB");
        assert_eq!(human_duration(Duration::from_secs(65)), "1:05");
        assert_eq!(human_duration(Duration::from_secs(3723)), "1:02:03");
        assert_eq!(bar(0.5, 10), "[#####.....]");
    }

    /// A whole transfer between two [`Transfers`] with the server's part played by hand.
    #[test]
    fn a_file_goes_from_one_side_to_the_other() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("data.bin");
        let bytes: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
        std::fs::write(&src, &bytes).unwrap();
        let mut a = Transfers::new(dir.path().join("a"), false);
        let mut b = Transfers::new(dir.path().join("b"), true);
        let (req, _) = a.offer(&src, Some("b".into())).unwrap();
        let ClientRequest::File(FileRequest::Offer {
            reference,
            name,
            size,
            ..
        }) = req
        else {
            panic!("{req:?}")
        };
        a.on_event(FileEvent::OfferResult {
            reference,
            result: Ok(5),
        });
        let h = b.on_event(FileEvent::Offered {
            id: 5,
            from_user: "a".into(),
            from_nick: "A".into(),
            name,
            size,
        });
        assert_eq!(h.requests, vec![control(5, Verb::Accept)]);
        a.on_event(FileEvent::Credit { id: 5, upto: size });
        let mut verdict = None;
        while let Some((req, _)) = a.next_chunk() {
            let ev = match req {
                ClientRequest::File(FileRequest::Chunk { id, offset, data }) => {
                    FileEvent::Data { id, offset, data }
                }
                ClientRequest::File(FileRequest::End { id, sha256 }) => {
                    FileEvent::End { id, sha256 }
                }
                other => panic!("{other:?}"),
            };
            let h = b.on_event(ev);
            verdict = h.requests.last().cloned();
        }
        assert_eq!(verdict, Some(control(5, Verb::Done)));
        assert_eq!(std::fs::read(dir.path().join("b/data.bin")).unwrap(), bytes);
        assert!(!dir.path().join("b/data.bin.part").exists());
    }

    #[test]
    fn a_wrong_hash_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Transfers::new(dir.path().to_path_buf(), true);
        b.on_event(FileEvent::Offered {
            id: 1,
            from_user: "a".into(),
            from_nick: "A".into(),
            name: "x.txt".into(),
            size: 3,
        });
        assert!(dir.path().join("x.txt.part").exists());
        b.on_event(FileEvent::Data {
            id: 1,
            offset: 0,
            data: b"abc".to_vec(),
        });
        let h = b.on_event(FileEvent::End {
            id: 1,
            sha256: [0; 32],
        });
        assert_eq!(h.requests, vec![control(1, Verb::BadHash)]);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
