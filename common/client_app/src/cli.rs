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
use common::client::texts::t;
use common::client::texts::{Ctx, reason_text};
use common::config::Language;
use common::protocol::chat::{ClientRequest, ServerEvent};
use tokio::sync::mpsc;

use crate::format::{Typed, cli_line, notice_line, online_list, parse_typed};
use crate::gui::logic::render::one_line;

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
            let text = match folder.config.language {
                Language::Zh => {
                    format!("无法读取密码（{e}）。请在终端窗口里运行，或设置 CHAT_PASSWORD。")
                }
                Language::En => format!(
                    "cannot read the password ({e}); run it in a terminal window or set CHAT_PASSWORD"
                ),
            };
            eprintln!("{program}: {text}");
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
    let lang = folder.config.language;
    let zh = lang == Language::Zh;
    let ctx = Ctx::terminal(lang, program);
    let (sender, receiver, info) = match login(folder, &pw, Duration::from_secs(15)).await {
        Ok(x) => x,
        Err(e) => {
            let head = t(lang, "登录失败", "login failed");
            eprintln!("{program}: {head}: {}", e.localized(ctx));
            return ExitCode::FAILURE;
        }
    };
    drop(pw);
    let (as_, to) = (t(lang, "已登录", "logged in as"), t(lang, "服务器", "to"));
    eprintln!(
        "{program}: {as_} {} ({}), {to} {}",
        one_line(&info.nickname),
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
                        eprintln!("{}: {why}", t(lang, "没有发送", "not sent"));
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
                    ServerEvent::UserList(users) => eprintln!("* {}: {}", t(lang, "在线", "online"), online_list(&users)),
                    ServerEvent::LoginOk { .. } | ServerEvent::UserListPart(_) | ServerEvent::Pong => {}
                },
                Some(SessionEvent::Incoming(Incoming::ServerError(e))) => {
                    eprintln!("{program}: {}", reason_text(&e.reason, &e.message, ctx));
                }
                Some(SessionEvent::Incoming(Incoming::Rejected { why, .. })) => {
                    let head = t(lang, "警告：丢弃了一个未通过校验的帧", "warning: dropped a frame from the server that failed its checks");
                    eprintln!("{program}: {head}: {}", one_line(&why));
                }
                Some(SessionEvent::NotSent { why, .. }) => {
                    eprintln!("{program}: {}", why.localized(lang));
                }
                Some(SessionEvent::Sent { .. }) => {}
                Some(SessionEvent::Closed { reason }) => {
                    let Some(text) = reason.localized(ctx) else {
                        eprintln!("{program}: {}", t(lang, "已退出登录", "logged out"));
                        return ExitCode::SUCCESS;
                    };
                    // A server error was printed when it arrived: say only that we are done.
                    if matches!(reason, CloseReason::ServerError(_)) {
                        eprintln!("{program}: {}", t(lang, "连接已断开", "disconnected"));
                    } else {
                        eprintln!("{program}: {text}");
                    }
                    return ExitCode::from(2);
                }
                None => return ExitCode::from(2),
            },
            () = tokio::time::sleep(Duration::from_millis(100)), if quitting.is_some() => {}
        }
    }
}
