//! The chat window's file transfers (issue 16), without widgets: the transfers panel (one line
//! per transfer, the one the progress bar follows, what the accept / decline / cancel buttons act
//! on), the message-list line for each [`Update`], the file chooser's title, and what a drop on
//! the window means (`text/uri-list` parsing). The transfers themselves are
//! [`common::client::files::Transfers`], owned by the network worker.

use std::path::PathBuf;
use std::time::Duration;

use common::client::files::{Direction, Failure, Update, human_bytes};
use common::client::texts::{Ctx, file_failure_text, file_progress_text, reason_text};
use common::config::Language;
use common::protocol::Reason;
use common::protocol::files::FileState;
use fltk::enums::Event;

use super::labels::labels;
use super::render::one_line;

/// Where a transfer is.
#[derive(Debug, Clone, PartialEq)]
pub enum RowState {
    /// Our offer went to the server; no id yet.
    Offering,
    /// Our offer has an id; nobody accepted yet.
    Waiting,
    /// Someone offers us this file: accept or decline.
    Offered,
    Running,
    /// Received, checked and saved here (the only state that says a received file is complete).
    Saved(PathBuf),
    /// Our file reached these users.
    Delivered(Vec<String>),
    /// We declined this offer.
    Declined,
    /// Cancelled here (with 取消 or `/cancel`): not a failure, so not called one.
    Cancelled,
    /// Ended without the file on this side: why, in the interface language.
    Failed(String),
}

/// One transfer, as the panel shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub direction: Direction,
    /// The server's transfer id (`None` until our offer was accepted by the server).
    pub id: Option<u64>,
    /// Our offer's reference, which the server's answer to it carries (sent files only).
    pub reference: Option<u64>,
    pub name: String,
    /// The recipient (sent: a user or "everyone") or the sender (received).
    pub peer: String,
    pub done: u64,
    pub total: u64,
    pub speed: f64,
    pub eta: Option<Duration>,
    pub state: RowState,
}

impl Row {
    /// A transfer just offered, nothing moved yet.
    fn new(
        (direction, id): (Direction, Option<u64>),
        name: &str,
        peer: String,
        total: u64,
        state: RowState,
    ) -> Self {
        let name = name.to_owned();
        let (done, speed, eta) = (0, 0.0, None);
        Self {
            direction,
            id,
            reference: None,
            name,
            peer,
            done,
            total,
            speed,
            eta,
            state,
        }
    }

    /// Still running or waiting (cancel applies).
    pub fn active(&self) -> bool {
        matches!(
            self.state,
            RowState::Offering | RowState::Waiting | RowState::Offered | RowState::Running
        )
    }

    /// The progress bar's label: the percentage, and how the transfer ended when it ended
    /// without the file (the bar keeps the point it stopped at, which must not read as running).
    pub fn bar_label(&self, lang: Language) -> String {
        let l = labels(lang);
        let pct = format!("{:.0}%", self.fraction() * 100.0);
        match self.state {
            RowState::Cancelled => format!("{} · {pct}", l.file_cancelled),
            RowState::Declined => l.file_declined.to_owned(),
            RowState::Failed(_) => format!("{} · {pct}", l.file_failed),
            _ => pct,
        }
    }

    /// 0.0 to 1.0.
    pub fn fraction(&self) -> f64 {
        match self.state {
            RowState::Saved(_) | RowState::Delivered(_) => 1.0,
            _ if self.total == 0 => 0.0,
            _ => self.done as f64 / self.total as f64,
        }
    }
}

/// The transfers panel's model.
#[derive(Debug)]
pub struct TransferPanel {
    lang: Language,
    rows: Vec<Row>,
    /// Index into `rows` of the line the user clicked.
    selected: Option<usize>,
}

impl TransferPanel {
    pub fn new(lang: Language) -> Self {
        Self {
            lang,
            rows: Vec::new(),
            selected: None,
        }
    }

    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    fn find(&mut self, direction: Direction, id: u64) -> Option<&mut Row> {
        self.rows
            .iter_mut()
            .find(|r| r.direction == direction && r.id == Some(id))
    }

    /// Our offer `reference`, still waiting for the server's answer.
    fn offering(&mut self, reference: u64) -> Option<&mut Row> {
        self.rows
            .iter_mut()
            .find(|r| r.state == RowState::Offering && r.reference == Some(reference))
    }

    /// Our oldest offer of `name` still without an id (a failure before the server answered
    /// names no id; the server answers offers in order).
    fn offering_named(&mut self, name: &str) -> Option<&mut Row> {
        self.rows
            .iter_mut()
            .find(|r| r.state == RowState::Offering && r.name == name)
    }

    /// Take an update; returns the line for the message list (none for progress).
    pub fn on_update(&mut self, u: &Update) -> Option<String> {
        let ctx = Ctx::gui(self.lang);
        let l = labels(self.lang);
        match u {
            Update::OfferSent {
                reference,
                name,
                to,
                size,
            } => {
                let peer = to.clone().unwrap_or_else(|| l.file_to_everyone.to_owned());
                let state = RowState::Offering;
                let mut row = Row::new((Direction::Send, None), name, peer, *size, state);
                row.reference = Some(*reference);
                self.rows.push(row);
            }
            Update::OfferRefused {
                reference, reason, ..
            } => {
                let why = reason_text(reason, "", ctx);
                if let Some(r) = self.offering(*reference) {
                    r.state = RowState::Failed(why);
                }
            }
            Update::OfferAccepted { reference, id, .. } => {
                if let Some(r) = self.offering(*reference) {
                    r.id = Some(*id);
                    r.state = RowState::Waiting;
                }
            }
            Update::Offered {
                id,
                from_user,
                from_nick,
                name,
                size,
                auto,
            } => {
                let peer = format!("{} ({from_user})", one_line(from_nick));
                let state = if *auto {
                    RowState::Running
                } else {
                    RowState::Offered
                };
                let row = Row::new((Direction::Receive, Some(*id)), name, peer, *size, state);
                self.rows.push(row);
            }
            Update::Recipient { id, state, .. } => {
                if let Some(r) = self.find(Direction::Send, *id)
                    && *state == FileState::Accepted
                    && r.state == RowState::Waiting
                {
                    r.state = RowState::Running;
                }
            }
            Update::Progress {
                id,
                direction,
                done,
                total,
                speed,
                eta,
                ..
            } => {
                if let Some(r) = self.find(*direction, *id)
                    && r.active()
                {
                    (r.done, r.total, r.speed, r.eta) = (*done, *total, *speed, *eta);
                    r.state = RowState::Running;
                }
            }
            Update::Saved { id, path, .. } => {
                if let Some(r) = self.find(Direction::Receive, *id) {
                    r.done = r.total;
                    r.state = RowState::Saved(path.clone());
                }
            }
            Update::Failed {
                id,
                direction,
                name,
                failure,
            } => self.failed(*id, *direction, name, failure),
            Update::Finished {
                id,
                delivered,
                reason,
                ..
            } => self.finished(*id, delivered, reason.as_ref()),
        }
        offer_line(u, self.lang).or_else(|| common::client::texts::file_update_text(u, ctx))
    }

    /// A transfer ended without the file on this side.
    fn failed(&mut self, id: u64, direction: Direction, name: &str, failure: &Failure) {
        let why = file_failure_text(failure, Ctx::gui(self.lang));
        let state = match (failure, direction) {
            (Failure::Cancelled, _) => RowState::Cancelled,
            (_, Direction::Receive) => {
                RowState::Failed(format!("{why}; {}", labels(self.lang).file_part_removed))
            }
            (_, Direction::Send) => RowState::Failed(why),
        };
        let found = match self.find(direction, id) {
            Some(r) => Some(r),
            None if direction == Direction::Send => self.offering_named(name),
            None => None,
        };
        if let Some(r) = found {
            r.state = state;
        }
    }

    /// Our outgoing transfer is over: delivered to these, or to nobody (and why).
    fn finished(&mut self, id: u64, delivered: &[String], reason: Option<&Reason>) {
        let state = if delivered.is_empty() {
            let why = reason.map(|r| reason_text(r, "", Ctx::gui(self.lang)));
            RowState::Failed(why.unwrap_or_default())
        } else {
            RowState::Delivered(delivered.to_vec())
        };
        if let Some(r) = self.find(Direction::Send, id) {
            r.state = state;
        }
    }

    /// We answered offer `id` (the button or `/accept`, `/decline`): no update comes for that,
    /// so the line changes here (the first progress follows an accept).
    pub fn answered(&mut self, id: u64, accept: bool) {
        if let Some(r) = self.find(Direction::Receive, id)
            && r.state == RowState::Offered
        {
            r.state = if accept {
                RowState::Running
            } else {
                RowState::Declined
            };
        }
    }

    /// The panel's lines, oldest first.
    pub fn lines(&self) -> Vec<String> {
        self.rows.iter().map(|r| row_line(r, self.lang)).collect()
    }

    /// A line was clicked (1-based, as the browser counts; 0 = none).
    pub fn select(&mut self, line: i32) {
        self.selected = usize::try_from(line)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .filter(|&i| i < self.rows.len());
    }

    /// The selected line (1-based, 0 = none), for the browser.
    pub fn selected_line(&self) -> i32 {
        self.selected
            .map_or(0, |i| i32::try_from(i + 1).unwrap_or(0))
    }

    /// The transfer the progress bar shows: the selected one, else the newest.
    pub fn bar_row(&self) -> Option<&Row> {
        self.selected
            .and_then(|i| self.rows.get(i))
            .or_else(|| self.rows.last())
    }

    /// The offer accept and decline act on: the selected line if it is an open offer, else the
    /// newest open offer.
    pub fn answer_target(&self) -> Option<u64> {
        let open = |r: &Row| r.state == RowState::Offered;
        self.pick(open)
    }

    /// The transfer cancel acts on: the selected line if it runs or waits, else the newest that
    /// does (an offer not yet answered by the server has no id to cancel).
    pub fn cancel_target(&self) -> Option<u64> {
        self.pick(|r| r.active() && r.id.is_some())
    }

    fn pick(&self, ok: impl Fn(&Row) -> bool) -> Option<u64> {
        let selected = self.selected.and_then(|i| self.rows.get(i));
        match selected {
            Some(r) if ok(r) => r.id,
            _ => self.rows.iter().rev().find(|r| ok(r)).and_then(|r| r.id),
        }
    }
}

/// An offer to us, for the message list: who, what, how large, and the buttons to answer with
/// (the typed commands work too).
fn offer_line(u: &Update, lang: Language) -> Option<String> {
    let Update::Offered {
        id,
        from_user,
        from_nick,
        name,
        size,
        auto: false,
    } = u
    else {
        return None;
    };
    let who = format!("{} ({from_user})", one_line(from_nick));
    let size = human_bytes(*size);
    Some(match lang {
        Language::Zh => format!(
            "{who} 发来文件 {name:?}（{size}，编号 {id}）。在下方“文件传输”里点“接收”或“拒绝”（或输入 /accept {id}、/decline {id}）"
        ),
        Language::En => format!(
            "{who} offers {name:?} ({size}, transfer {id}). Click Accept or Decline under \"File transfers\" below (or type /accept {id}, /decline {id})"
        ),
    })
}

/// One line of the panel: `↑ #3 running · sending "a.bin" [####......] 40% … → user3`.
pub fn row_line(r: &Row, lang: Language) -> String {
    let l = labels(lang);
    let (arrow, link) = match r.direction {
        Direction::Send => ("↑", "→"),
        Direction::Receive => ("↓", "←"),
    };
    let id = r.id.map_or_else(|| "#?".to_owned(), |id| format!("#{id}"));
    let state = match &r.state {
        RowState::Offering => l.file_offering.to_owned(),
        RowState::Waiting => l.file_waiting.to_owned(),
        RowState::Offered => l.file_offered.to_owned(),
        // Every byte in is not yet a file: it is complete only once `Saved` says so.
        RowState::Running if r.direction == Direction::Receive && r.done >= r.total => {
            l.file_checking.to_owned()
        }
        RowState::Running => l.file_running.to_owned(),
        RowState::Saved(path) => format!("{} {}", l.file_saved_as, path.display()),
        RowState::Delivered(users) => format!("{} {}", l.file_delivered_to, users.join(", ")),
        RowState::Declined => l.file_declined.to_owned(),
        RowState::Cancelled if r.direction == Direction::Receive => {
            format!("{}; {}", l.file_cancelled, l.file_part_removed)
        }
        RowState::Cancelled => l.file_cancelled.to_owned(),
        RowState::Failed(why) => format!("{}: {why}", l.file_failed),
    };
    let middle = if r.state == RowState::Running {
        file_progress_text(
            r.direction,
            &r.name,
            r.done,
            r.total,
            r.speed,
            r.eta,
            Ctx::gui(lang),
        )
    } else {
        format!("{:?} ({})", r.name, human_bytes(r.total))
    };
    // The state first: a long name or path must not push it out of sight.
    format!("{arrow} {id} {state} · {middle} {link} {}", r.peer)
}

/// The file chooser's title: what it is for, and to whom (the user selected in the online list,
/// else everyone).
pub fn chooser_title(lang: Language, target: Option<&str>) -> String {
    let l = labels(lang);
    let to = target.unwrap_or(l.file_to_everyone);
    match lang {
        Language::Zh => format!("{}（发给 {to}）", l.choose_file),
        Language::En => format!("{} (to {to})", l.choose_file),
    }
}

/// The files in a drop's pasted text: one per line, `file://` URIs (X11, `%`-escaped, with or
/// without `localhost`) or plain paths (Windows); comments, empty lines and other URIs (a link
/// dragged from a browser) are skipped.
pub fn dropped_paths(text: &str) -> Vec<PathBuf> {
    text.lines()
        .map(|line| line.trim_matches(['\r', '\0']).trim())
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| match line.strip_prefix("file://") {
            Some(rest) => file_uri_path(rest),
            None if line.contains("://") => None,
            None => Some(PathBuf::from(line)),
        })
        .collect()
}

/// The path of `file://` + `rest`: the host part (empty or `localhost`) goes; `/C:/x` is `C:/x`.
fn file_uri_path(rest: &str) -> Option<PathBuf> {
    let path = match rest.find('/') {
        Some(0) => rest,
        Some(i) if rest[..i].eq_ignore_ascii_case("localhost") => &rest[i..],
        _ => return None,
    };
    let decoded = percent_decode(path)?;
    let bytes = decoded.as_bytes();
    let windows_drive = bytes.len() >= 3 && bytes[2] == b':' && bytes[1].is_ascii_alphabetic();
    Some(PathBuf::from(if windows_drive {
        &decoded[1..]
    } else {
        &decoded[..]
    }))
}

/// `%XX` escapes to bytes; `None` when the result is not UTF-8 or an escape is broken.
fn percent_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next()?, bytes.next()?];
            let hex = std::str::from_utf8(&hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

/// What the message list does with an event of a drag and drop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropStep {
    /// Not a drop event: the display's own handling.
    Pass,
    /// Part of a drag over the window: say yes, so the drop is allowed.
    Take,
    /// The drop's data arrived: offer these paths (maybe none).
    Dropped(Vec<PathBuf>),
}

/// A drop on the window: FLTK sends `DndEnter`/`DndDrag`, then `DndRelease`, then `Paste` with
/// the data. A paste that does not follow a release is not a drop.
#[derive(Debug, Default)]
pub struct DropTarget {
    released: bool,
}

impl DropTarget {
    /// Decide about `ev`; `text` gives the pasted data (read only for the paste of a drop).
    pub fn step(&mut self, ev: Event, text: impl FnOnce() -> String) -> DropStep {
        match ev {
            Event::DndEnter | Event::DndDrag => DropStep::Take,
            Event::DndLeave => {
                self.released = false;
                DropStep::Take
            }
            Event::DndRelease => {
                self.released = true;
                DropStep::Take
            }
            Event::Paste if self.released => {
                self.released = false;
                DropStep::Dropped(dropped_paths(&text()))
            }
            _ => DropStep::Pass,
        }
    }
}
