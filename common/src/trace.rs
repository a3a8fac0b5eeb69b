//! The teaching view (`--trace`): each protocol step printed as the seed's `print`s did.
//! Secrets (private keys, plaintext session keys, passwords) appear only with `--show-secrets`.

use std::fmt;

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
            println!("[trace {who}] {args}");
        }
    }

    /// Print a secret value only with `--show-secrets`.
    pub fn secret(&self, who: &str, label: &str, value: &str) {
        if self.show_secrets {
            println!("[trace {who}] {label}: {value}   (secret, shown because of --show-secrets)");
        } else if self.enabled {
            println!("[trace {who}] {label}: <hidden; add --show-secrets to see it>");
        }
    }
}

/// Hex of `data` for trace output, grouped in 8-byte blocks (one DES block each).
pub fn hex_blocks(data: &[u8]) -> String {
    data.chunks(8)
        .map(hex::encode)
        .collect::<Vec<_>>()
        .join(" ")
}
