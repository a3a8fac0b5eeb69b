//! Text from the network made safe for a terminal or a log line.
//!
//! Anything a peer sends may contain characters that a terminal or a line-splitting reader
//! obeys instead of showing: C0/C1 controls (ESC starts clear-screen, window-title and OSC 52
//! clipboard sequences; CR rewrites a line), the Unicode line and paragraph separators U+2028 and
//! U+2029 (a reader that splits on Unicode separators sees a forged line) and the bidirectional
//! overrides and isolates (U+202E shows `txt.exe` as `exe.txt`). Each becomes its visible
//! `\u{..}` escape, so the operator and the user see what was sent and nothing acts on it.

use std::borrow::Cow;

/// Whether to keep `\n` and `\t` (a chat message's own lines) or escape them too (a trace or log
/// line, which must stay one line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    Keep,
    Escape,
}

/// Characters that change how text is laid out or read rather than adding to it: the Unicode
/// line/paragraph separators and the bidirectional controls (marks, embeddings, overrides,
/// isolates and the Arabic letter mark).
pub fn is_layout_control(c: char) -> bool {
    matches!(
        c,
        '\u{2028}' | '\u{2029}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
    )
}

/// `text` with every control character (C0, DEL, C1) and every layout control (see
/// [`is_layout_control`]) replaced by its `\u{..}` escape; with [`Lines::Keep`], `\n` and `\t`
/// stay as they are. Borrowed when there is nothing to escape (the common case).
pub fn escape_controls(text: &str, lines: Lines) -> Cow<'_, str> {
    let keep = |c: char| lines == Lines::Keep && (c == '\n' || c == '\t');
    let unsafe_char = |c: char| (c.is_control() || is_layout_control(c)) && !keep(c);
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}
