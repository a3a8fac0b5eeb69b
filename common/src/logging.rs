//! The log set-up every program shares: `tracing` to stderr, filtered by `RUST_LOG`.

use std::io::IsTerminal as _;

/// Send `tracing` output to stderr, filtered by `RUST_LOG` (or `default_filter`, e.g. `"info"`,
/// when it is unset or invalid). Colours only when stderr is a terminal, so logs redirected to a
/// file or read by a test hold no escape codes. Call once, at the start of `main`.
pub fn init(default_filter: &str) {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_filter.into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
