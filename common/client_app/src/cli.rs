//! Terminal mode (`client_xx cli`): scripts and tests drive the system through it.
//!
//! stdout carries only received chat lines, one per message: `[HH:MM:SS] NICKNAME: TEXT`
//! (private ones marked). Notices, the online list and errors go to stderr. EOF on stdin logs out
//! and exits 0; a failed login exits 1 with the reason; a connection closed by the server exits 2.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::Duration;

use common::client::chat_client::{CloseReason, Incoming, SessionEvent, login, spawn_session};
use common::client::folder::ClientFolder;
use common::config::Language;
use common::protocol::chat::{ClientRequest, ServerEvent};
use tokio::sync::mpsc;

use crate::format::{Typed, cli_line, notice_line, online_list, parse_typed};

/// The password: `CHAT_PASSWORD`, else a prompt without echo.
fn password(folder: &ClientFolder) -> std::io::Result<String> {
    if let Ok(p) = std::env::var("CHAT_PASSWORD") {
        return Ok(p);
    }
    rpassword::prompt_password(format!("password for {}: ", folder.config.username))
}

/// Run the terminal mode.
pub fn run(folder: &ClientFolder) -> ExitCode {
    let program = folder.program.clone();
    let pw = match password(folder) {
        Ok(p) => p,
        Err(e) => {
            eprintln!(
                "{program}: cannot read the password ({e}); set CHAT_PASSWORD or run in a terminal"
            );
            return ExitCode::FAILURE;
        }
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{program}: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(session(folder, pw))
}

async fn session(folder: &ClientFolder, pw: String) -> ExitCode {
    let program = &folder.program;
    let me = folder.config.username.clone();
    let zh = folder.config.language == Language::Zh;
    let (sender, receiver, info) = match login(folder, &pw, Duration::from_secs(15)).await {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{program}: login failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    drop(pw);
    eprintln!(
        "{program}: logged in as {} ({}) to {}",
        info.nickname,
        info.username,
        folder.chat_addr()
    );
    let (cmd_tx, cmd_rx) = mpsc::channel::<ClientRequest>(256);
    let mut events = spawn_session(sender, receiver, cmd_rx, 4096);

    // stdin is blocking: read it on its own thread and forward parsed lines.
    let (line_tx, mut line_rx) = mpsc::channel::<Typed>(256);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if line_tx.blocking_send(parse_typed(&line)).is_err() {
                return;
            }
        }
        let _ = line_tx.blocking_send(Typed::Quit);
    });

    let mut cmd_tx = Some(cmd_tx);
    let mut stdout = std::io::stdout();
    // EOF must not lose what was typed: log out only once the server has answered every message
    // sent (its echo to us, or a warning such as "not online"), or after a grace period.
    let (mut sent, mut answered) = (0u64, 0u64);
    let mut quitting: Option<tokio::time::Instant> = None;
    loop {
        if let Some(deadline) = quitting
            && (answered >= sent || tokio::time::Instant::now() >= deadline)
        {
            cmd_tx = None;
            quitting = None;
        }
        tokio::select! {
            typed = line_rx.recv(), if cmd_tx.is_some() && quitting.is_none() => {
                let req = match typed.unwrap_or(Typed::Quit) {
                    Typed::Say(text) => Some(ClientRequest::Chat { to: None, text }),
                    Typed::Whisper { to, text } => Some(ClientRequest::Chat { to: Some(to), text }),
                    Typed::Who => Some(ClientRequest::ListUsers),
                    Typed::Help(h) => { eprintln!("{h}"); None }
                    Typed::Empty => None,
                    Typed::Quit => { quitting = Some(tokio::time::Instant::now() + Duration::from_secs(10)); None }
                };
                if let (Some(req), Some(tx)) = (req, &cmd_tx) {
                    if let ClientRequest::Chat { text, .. } = &req
                        && let Err(why) = common::protocol::chat::check_text(text)
                    {
                        eprintln!("not sent: {why}");
                        continue;
                    }
                    if matches!(req, ClientRequest::Chat { .. }) {
                        sent += 1;
                    }
                    let _ = tx.send(req).await;
                }
            }
            ev = events.recv() => match ev {
                Some(SessionEvent::Incoming(Incoming::Event { event, .. })) => match event {
                    ServerEvent::Chat(line) => {
                        if line.from_user == me {
                            answered += 1;
                        }
                        let _ = writeln!(stdout, "{}", cli_line(&line, &me));
                        let _ = stdout.flush();
                    }
                    ServerEvent::Notice(n) => {
                        if n.kind == common::protocol::chat::NoticeKind::Warn {
                            answered += 1;
                        }
                        eprintln!("* {}", notice_line(&n, zh));
                    }
                    ServerEvent::UserList(users) => eprintln!("* online: {}", online_list(&users)),
                    ServerEvent::LoginOk { .. } | ServerEvent::UserListPart(_) | ServerEvent::Pong => {}
                },
                Some(SessionEvent::Incoming(Incoming::ServerError(e))) => {
                    eprintln!("{program}: {} ({}){}", e.message, e.reason, common::client::chat_client::hint_for(&e.reason, program));
                }
                Some(SessionEvent::Incoming(Incoming::Rejected { why, .. })) => {
                    eprintln!("{program}: warning: dropped a frame from the server that failed its checks: {why}");
                }
                Some(SessionEvent::NotSent { why, .. }) => {
                    eprintln!("{program}: not sent: {why}");
                }
                Some(SessionEvent::Sent { .. }) => {}
                Some(SessionEvent::Closed { reason }) => {
                    if reason == CloseReason::LoggedOut {
                        eprintln!("{program}: logged out");
                        return ExitCode::SUCCESS;
                    }
                    eprintln!("{program}: disconnected: {reason}");
                    return ExitCode::from(2);
                }
                None => return ExitCode::from(2),
            },
            () = tokio::time::sleep(Duration::from_millis(100)), if quitting.is_some() => {}
        }
    }
}
