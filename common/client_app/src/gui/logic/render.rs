//! How things look, as text plus a style string: one entry of the message list, the frames
//! beneath it, the list as a whole ([`Screen`]: what the next redraw appends or replaces), and
//! text made safe for one-line places and narrow dialogs.

use common::config::Language;

use super::labels::labels;
use crate::format::{clock, visible};

/// Text for places that hold one line (titles, list rows): control characters escaped, newlines
/// and tabs as spaces.
pub fn one_line(text: &str) -> String {
    visible(text).replace(['\n', '\t'], " ")
}

/// Break long lines at spaces (and beside CJK characters) so a dialog stays narrow; CJK
/// characters count as two columns.
pub fn wrap_text(text: &str, max_cols: usize) -> String {
    use unicode_width::{UnicodeWidthChar as _, UnicodeWidthStr as _};
    let mut out = String::with_capacity(text.len() + 16);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut col = 0;
        for (j, word) in line.split(' ').enumerate() {
            let w = word.width();
            if j > 0 {
                if col > 0 && col + 1 + w > max_cols {
                    out.push('\n');
                    col = 0;
                } else {
                    out.push(' ');
                    col += 1;
                }
            }
            // Chinese text has no spaces: it may break beside any wide character. A Latin word
            // (a path, an address) is never split.
            let mut prev_wide = false;
            for ch in word.chars() {
                let cw = ch.width().unwrap_or(0);
                if col > 0 && col + cw > max_cols && (cw >= 2 || prev_wide) {
                    out.push('\n');
                    col = 0;
                }
                out.push(ch);
                col += cw;
                prev_wide = cw >= 2;
            }
        }
    }
    out
}

/// Style letters of the message list (`'A'` is the first entry of the style table).
pub mod style {
    /// Message text.
    pub const TEXT: char = 'A';
    /// Sender and time (green).
    pub const HEADER: char = 'B';
    /// System messages: joins, leaves, errors, warnings (red).
    pub const SYSTEM: char = 'C';
    /// Frame text as it crossed the wire (grey, monospace).
    pub const WIRE: char = 'D';
    /// Local information: logged in, who is online, key step (blue).
    pub const INFO: char = 'E';
    /// Someone joined or left (neutral grey: red is for errors).
    pub const NOTICE: char = 'F';
    /// The header of one's own message (blue).
    pub const OWN_HEADER: char = 'G';
    /// The header of a private message, either way (purple).
    pub const PRIVATE_HEADER: char = 'H';
    /// The header of a stored message (history: light grey, bold).
    pub const HISTORY_HEADER: char = 'I';
    /// The text of a stored message (history: grey).
    pub const HISTORY_TEXT: char = 'J';
}

/// Whose chat line, for its colour: one's own and private messages stand out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// From someone else, to everyone.
    Others,
    /// One's own, to everyone.
    Own,
    /// Private, sent or received.
    Private,
}

/// What kind of entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Chat(Tone),
    /// A stored message (at login or scrolled back to): greyed, apart from live ones.
    History,
    /// The line under stored messages ("以上为历史消息", grey).
    HistoryEnd,
    /// An error or warning (red).
    System,
    /// Local information (blue).
    Info,
    /// A join or leave (grey).
    Notice,
}

/// Which way a frame went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireDir {
    Sent,
    Received,
    Rejected,
}

/// One item of the message list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: EntryKind,
    /// Sender and time for chat lines; empty otherwise.
    pub header: String,
    /// The text as received (escaped when rendered).
    pub body: String,
    /// Frames behind this entry, shown with "show ciphertext".
    pub wires: Vec<(WireDir, String)>,
    /// The plaintext inside each frame of [`Self::wires`] that was opened (received) or sealed
    /// (sent) by this client, for the frame inspector.
    pub plain: Vec<(WireDir, String)>,
}

impl Entry {
    /// The plaintext of the frame that went `dir`, if it is known.
    pub fn plain_of(&self, dir: WireDir) -> Option<&str> {
        self.plain
            .iter()
            .find(|(d, _)| *d == dir)
            .map(|(_, p)| p.as_str())
    }

    /// A red system line stamped with `now_ms`.
    pub fn system(text: impl Into<String>, now_ms: u64) -> Self {
        Self {
            kind: EntryKind::System,
            header: clock(now_ms),
            body: text.into(),
            wires: Vec::new(),
            plain: Vec::new(),
        }
    }

    /// A grey join/leave line stamped with `now_ms`.
    pub fn notice(text: impl Into<String>, now_ms: u64) -> Self {
        Self {
            kind: EntryKind::Notice,
            header: clock(now_ms),
            body: text.into(),
            wires: Vec::new(),
            plain: Vec::new(),
        }
    }

    /// A blue information line stamped with `now_ms`.
    pub fn info(text: impl Into<String>, now_ms: u64) -> Self {
        Self {
            kind: EntryKind::Info,
            header: clock(now_ms),
            body: text.into(),
            wires: Vec::new(),
            plain: Vec::new(),
        }
    }
}

/// An entry as text plus its style string (one style letter per byte of the text).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    pub style: String,
}

impl Rendered {
    /// Append `text` in style `s`.
    pub fn push(&mut self, text: &str, s: char) {
        self.text.push_str(text);
        self.style.extend(std::iter::repeat_n(s, text.len()));
    }

    /// Append another rendering.
    pub fn extend(&mut self, other: &Rendered) {
        self.text.push_str(&other.text);
        self.style.push_str(&other.style);
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }
}

/// The display text of one frame line under a message.
pub fn wire_line(dir: WireDir, wire: &str, lang: Language) -> String {
    let l = labels(lang);
    let (arrow, label) = match dir {
        WireDir::Sent => ("↑", l.wire_sent),
        WireDir::Received => ("↓", l.wire_received),
        WireDir::Rejected => ("✗", l.wire_rejected),
    };
    format!("    {arrow} {label}: {}\n", one_line(wire))
}

/// Render one entry: chat lines as a `sender  time` line (green; blue for one's own, purple for
/// private ones) with the text beneath; system, information and join/leave lines as one
/// `[time] text` line (red, blue, grey); with `show_wire`, the frames beneath.
pub fn render(e: &Entry, show_wire: bool, lang: Language) -> Rendered {
    let mut r = Rendered::default();
    match e.kind {
        EntryKind::Chat(tone) => {
            let header = match tone {
                Tone::Others => style::HEADER,
                Tone::Own => style::OWN_HEADER,
                Tone::Private => style::PRIVATE_HEADER,
            };
            r.push(&format!("{}\n", e.header), header);
            r.push(&format!("{}\n", visible(&e.body)), style::TEXT);
        }
        EntryKind::History => {
            r.push(&format!("{}\n", e.header), style::HISTORY_HEADER);
            r.push(&format!("{}\n", visible(&e.body)), style::HISTORY_TEXT);
        }
        EntryKind::HistoryEnd => r.push(&format!("{}\n", e.body), style::NOTICE),
        EntryKind::System | EntryKind::Info | EntryKind::Notice => {
            let s = match e.kind {
                EntryKind::System => style::SYSTEM,
                EntryKind::Notice => style::NOTICE,
                _ => style::INFO,
            };
            r.push(&format!("[{}] {}\n", e.header, visible(&e.body)), s);
        }
    }
    if show_wire {
        for (dir, wire) in &e.wires {
            r.push(&wire_line(*dir, wire, lang), style::WIRE);
        }
    }
    r
}

/// Lines of a rendering, for the test log.
pub fn log_lines(r: &Rendered) -> impl Iterator<Item = &str> {
    r.text.lines()
}

/// What the message list widget must do at the next redraw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paint {
    /// Nothing changed.
    Nothing,
    /// Append this text (and its styles) at the end.
    Append(Rendered),
    /// Render every entry again (the "show ciphertext" toggle, or old entries were dropped).
    Replace,
}

/// The message list between two redraws: entries are rendered as they arrive and the widget is
/// changed once per wake-up, so a burst of a thousand messages costs one redraw.
#[derive(Debug, Clone, Default)]
pub struct Screen {
    /// "Show ciphertext": the frames beneath each message.
    show_wire: bool,
    /// Text appended since the last redraw.
    batch: Rendered,
    /// The whole list must be rendered again at the next redraw.
    replace: bool,
}

impl Screen {
    pub fn show_wire(&self) -> bool {
        self.show_wire
    }

    /// Turn "show ciphertext" on or off: everything is rendered again.
    pub fn set_show_wire(&mut self, on: bool) {
        self.show_wire = on;
        self.replace_all();
    }

    /// Render a new entry for the next redraw; returns its rendering (for the test log).
    pub fn add(&mut self, e: &Entry, lang: Language) -> Rendered {
        let r = render(e, self.show_wire, lang);
        if !self.replace {
            self.batch.extend(&r);
        }
        r
    }

    /// The next redraw renders the whole list again.
    pub fn replace_all(&mut self) {
        self.replace = true;
        self.batch = Rendered::default();
    }

    /// What to redraw now; afterwards there is nothing pending.
    pub fn take(&mut self) -> Paint {
        if std::mem::take(&mut self.replace) {
            Paint::Replace
        } else if self.batch.is_empty() {
            Paint::Nothing
        } else {
            Paint::Append(std::mem::take(&mut self.batch))
        }
    }
}
