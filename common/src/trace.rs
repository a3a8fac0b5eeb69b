//! The teaching view (`--trace`): each protocol step printed as the seed's `print`s did.
//! Secrets (private keys, plaintext session keys, passwords) appear only with `--show-secrets`.
//!
//! Trace lines quote what came off the network before any check (a login frame's fields are
//! traced before its MAC is verified), so every line goes through
//! [`escape_controls`](crate::text::escape_controls): an attacker's ESC sequences, carriage
//! returns or newlines are printed as `\u{1b}`, `\u{d}`, `\u{a}` and cannot clear the
//! operator's screen, set its title, write its clipboard (OSC 52) or forge a trace line.

use std::fmt;

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
