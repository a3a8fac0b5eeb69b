//! `client_xx key`: run the key step and report in one line per fact.

use std::process::ExitCode;

use common::client::folder::ClientFolder;
use common::client::key_client::{KeyStepOptions, run_key_step};
use common::trace::Trace;

/// Run the key step; exit 0 on success, 1 with a one-line reason otherwise.
pub fn run(folder: &ClientFolder, trace: bool, show_secrets: bool) -> ExitCode {
    let program = &folder.program;
    let opts = KeyStepOptions {
        trace: Trace::new(trace, show_secrets),
        ..KeyStepOptions::default()
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{program}: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run_key_step(folder, opts)) {
        Ok(out) => {
            if out.client_key_created {
                println!(
                    "{program}: created client key pair {} ({})",
                    folder.private_key_path().display(),
                    out.client_fingerprint
                );
            }
            if out.pinned_now {
                println!(
                    "{program}: trusting server key {} on first use; pinned in {}",
                    out.server_fingerprint,
                    folder.server_key_path().display()
                );
            } else {
                println!(
                    "{program}: server key {} matches the pinned key",
                    out.server_fingerprint
                );
            }
            println!(
                "{program}: session key {} for {} stored in {} (valid until {})",
                out.key_id,
                folder.config.username,
                folder.session_key_path().display(),
                out.expires_at
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{program}: key step failed: {e}");
            ExitCode::FAILURE
        }
    }
}
