//! `client_xx key`: run the key step and report in one line per fact.

use std::process::ExitCode;

use common::client::folder::ClientFolder;
use common::client::key_client::{KeyStepError, KeyStepOptions, KeyStepOutcome, run_key_step};
use common::client::texts::t;
use common::client::texts::{Ctx, key_id_label};
use common::config::Language;

use crate::format::local_time;
use common::trace::Trace;

/// Run the key step; exit 0 on success, 1 with a one-line reason otherwise. With `gui`, the
/// key-step view (密钥分发过程) shows the exchange as it happens and stays open until closed.
pub fn run(folder: &ClientFolder, trace: bool, show_secrets: bool, gui: bool) -> ExitCode {
    let program = &folder.program;
    let opts = KeyStepOptions {
        trace: Trace::new(trace, show_secrets),
        ..KeyStepOptions::default()
    };
    if gui {
        return crate::gui::key_step_window(folder, opts);
    }
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{program}: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    report(folder, rt.block_on(run_key_step(folder, opts)).as_ref())
}

/// Print the key step's result in the folder's language: the facts, or the reason.
pub fn report(folder: &ClientFolder, result: Result<&KeyStepOutcome, &KeyStepError>) -> ExitCode {
    let (program, lang) = (&folder.program, folder.config.language);
    match result {
        Ok(out) => {
            for line in success_lines(folder, out) {
                println!("{program}: {line}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            let head = t(lang, "密钥分发失败", "key step failed");
            eprintln!(
                "{program}: {head}: {}",
                e.localized(Ctx::terminal(lang, program))
            );
            ExitCode::FAILURE
        }
    }
}

/// The key step's report, one line per fact, in the folder's language.
pub fn success_lines(folder: &ClientFolder, out: &KeyStepOutcome) -> Vec<String> {
    let lang = folder.config.language;
    let zh = lang == Language::Zh;
    let mut lines = Vec::new();
    if let Some(d) = &out.discovered {
        lines.extend(common::client::texts::discovered_lines(
            d,
            Ctx::terminal(lang, &folder.program),
        ));
    }
    if out.client_key_created {
        let path = folder.private_key_path();
        let fp = &out.client_fingerprint;
        lines.push(if zh {
            format!("已生成客户端密钥对 {}（指纹 {fp}）", path.display())
        } else {
            format!(
                "created client key pair {} (fingerprint {fp})",
                path.display()
            )
        });
    }
    let fp = &out.server_fingerprint;
    let pinned = folder.server_key_path();
    lines.push(match (out.pinned_now, zh) {
        (true, true) => format!(
            "第一次连接，信任服务器密钥（指纹 {fp}），已保存到 {}",
            pinned.display()
        ),
        (true, false) => format!(
            "trusting server key {fp} on first use; pinned in {}",
            pinned.display()
        ),
        (false, true) => format!("服务器密钥（指纹 {fp}）与保存的一致"),
        (false, false) => format!("server key {fp} matches the pinned key"),
    });
    let (id, user, path, until) = (
        &out.key_id,
        &folder.config.username,
        folder.session_key_path(),
        local_time(&out.expires_at),
    );
    let label = key_id_label(lang);
    lines.push(if zh {
        format!(
            "已获得 {user} 的会话密钥（{label} {id}），保存在 {}，有效期到 {until}",
            path.display()
        )
    } else {
        format!(
            "got the session key for {user} ({label} {id}), stored in {} (valid until {until})",
            path.display()
        )
    });
    lines.extend(out.clock_offset.warning(lang));
    lines
}
