//! The teaching view (`--trace`): each protocol step printed as the seed's `print`s did.
//! Secrets (private keys, plaintext session keys, passwords) appear only with `--show-secrets`.
//!
//! Trace lines quote what came off the network before any check (a login frame's fields are
//! traced before its MAC is verified), so every line goes through
//! [`escape_controls`](crate::text::escape_controls): an attacker's ESC sequences, carriage
//! returns or newlines are printed as `\u{1b}`, `\u{d}`, `\u{a}` and cannot clear the
//! operator's screen, set its title, write its clipboard (OSC 52) or forge a trace line.

use std::fmt;

use crate::protocol::sealed::FrameFields;
use crate::text::{Lines, escape_controls};

/// Whether and how much to trace.
#[derive(Debug, Clone, Copy, Default)]
pub struct Trace {
    pub enabled: bool,
    pub show_secrets: bool,
}

impl Trace {
    pub fn new(enabled: bool, show_secrets: bool) -> Self {
        Self {
            enabled: enabled || show_secrets,
            show_secrets,
        }
    }

    /// Print one step, prefixed by who is speaking (e.g. `server_key#3`, `client_wy`).
    pub fn step(&self, who: &str, args: fmt::Arguments<'_>) {
        if self.enabled {
            println!("{}", line(who, &args.to_string()));
        }
    }

    /// Print a sealed frame's labelled fields ([`frame_report`]) under `heading`.
    pub fn frame(&self, who: &str, heading: fmt::Arguments<'_>, fields: &FrameFields) {
        if self.enabled {
            for l in frame_report(who, &heading.to_string(), fields) {
                println!("{l}");
            }
        }
    }

    /// Print a secret value only with `--show-secrets`.
    pub fn secret(&self, who: &str, label: &str, value: &str) {
        if self.show_secrets {
            let text = format!("{label}: {value}   (secret, shown because of --show-secrets)");
            println!("{}", line(who, &text));
        } else if self.enabled {
            let text = format!("{label}: <hidden; add --show-secrets to see it>");
            println!("{}", line(who, &text));
        }
    }
}

/// One trace line as printed: `[trace WHO] TEXT`, every control character in it escaped.
pub fn line(who: &str, text: &str) -> String {
    format!(
        "[trace {}] {}",
        escape_controls(who, Lines::Escape),
        escape_controls(text, Lines::Escape)
    )
}

/// Hex of `data` for trace output, grouped in 8-byte blocks (one DES block each).
pub fn hex_blocks(data: &[u8]) -> String {
    data.chunks(8)
        .map(hex::encode)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The trace lines of a sealed frame: `heading`, then code, clear fields, sequence number, IV,
/// ciphertext and MAC, each labelled on its own line (bytes in hex, the ciphertext in 8-byte DES
/// blocks; a field that is not valid base64 as it came). Each line is a [`line`], so whatever an
/// unauthenticated peer put in a field is escaped.
pub fn frame_report(who: &str, heading: &str, f: &FrameFields) -> Vec<String> {
    let bytes = |field: &str, what: &str| match FrameFields::bytes(field) {
        Some(b) => format!("{} ({} bytes{what})", hex_blocks(&b), b.len()),
        None => format!("{field} (not base64)"),
    };
    let blocks = FrameFields::bytes(&f.ciphertext).map_or(0, |b| b.len() / 8);
    let mut text = vec![heading.to_owned(), format!("    code       {}", f.code)];
    for p in &f.prefix {
        text.push(format!("    clear      {p}"));
    }
    text.extend([
        format!("    seq        {}", f.seq),
        format!("    IV         {}", bytes(&f.iv, "")),
        format!(
            "    ciphertext {}",
            bytes(&f.ciphertext, &format!(", {blocks} DES blocks"))
        ),
        format!("    MAC        {}", bytes(&f.mac, ", HMAC-SHA-256")),
    ]);
    text.iter().map(|t| line(who, t)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The labelled form quotes fields an unauthenticated client chose: every control
    /// character in them comes out escaped, and each field stays on its own line.
    #[test]
    fn labelled_frames_are_escaped() {
        let fields = FrameFields {
            code: "0002".into(),
            prefix: vec!["user1\u{1b}]0;pwned\u{7}".into()],
            seq: "1\r\n[trace server#1] decrypted: password=111111".into(),
            iv: "AQIDBAUGBwg=".into(),
            ciphertext: "\u{1b}[2J".into(),
            mac: "\u{9b}31m\u{202e}".into(),
        };
        let lines = frame_report("server#1 user1", "frame from user1", &fields);
        assert_eq!(lines.len(), 7, "{lines:#?}");
        for l in &lines {
            assert!(
                !l.chars()
                    .any(|c| c.is_control() || crate::text::is_layout_control(c)),
                "{l:?}"
            );
            assert!(l.starts_with("[trace server#1 user1] "), "{l}");
        }
        assert!(
            lines[3].contains("seq        1\\u{d}\\u{a}[trace"),
            "{}",
            lines[3]
        );
        assert!(
            lines[4].ends_with("IV         0102030405060708 (8 bytes)"),
            "{}",
            lines[4]
        );
        assert!(lines[5].contains("\\u{1b}[2J (not base64)"), "{}", lines[5]);
    }
}
