//! Terminal mode (`client_xx cli`): scripts and tests drive the system through it.
//!
//! stdout carries only received chat lines, one per message: `[HH:MM:SS] NICKNAME: TEXT`
//! (private ones marked); stored ones (at login, and `/history N`) as `[历史 HH:MM:SS] ...` (with
//! the date when not today), followed by the line `—— 以上为历史消息 ——`. Notices, the online
//! list and errors go to stderr. EOF on stdin logs out
//! and exits 0; a failed login exits 1 with the reason; a connection closed by the server exits 2.
//!
//! Passwords: `CHAT_PASSWORD`, else a prompt without echo. When the server demands a new password
//! at login (the first login of an imported user), `CHAT_NEW_PASSWORD`, else a prompt (twice);
//! without either the program exits 1 and says how to set it. `/passwd` changes the password in a
//! running session: the current and the new password are asked for without echo on the terminal,
//! or read as the next two lines of stdin when there is no terminal (scripts).

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::Duration;

use common::client::chat_client::{
    ChatReceiver, ChatSender, CloseReason, Incoming, LoginInfo, SessionEvent, change_password,
    key_clock, login, spawn_session_with_files,
};
use common::client::files::{Transfers, Update};
use common::client::folder::ClientFolder;
use common::client::kept::Keeper;
use common::client::texts::t;
use common::client::texts::{Ctx, password_changed, reason_text};
use common::config::Language;
use common::protocol::chat::{ChatLine, ClientRequest, ServerEvent};
use common::protocol::history::{HistoryPage, HistorySource};
use common::protocol::password::{Secret, check_new_password};
use tokio::sync::mpsc;

use crate::format::{
    FileAction, Typed, cli_line, history_cli_line, history_end_line, notice_line, now_ms,
    online_list, parse_typed,
};
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
    let ctx = Ctx::terminal(folder.config.language, &folder.program);
    let (sender, receiver) = match log_in(folder, pw, ctx).await {
        Ok(halves) => halves,
        Err(code) => return code,
    };
    let (cmd_tx, cmd_rx) = mpsc::channel::<ClientRequest>(256);
    // File chunks wait here, behind any command: two at most, so a chat line typed during a
    // transfer waits for one chunk, not for a queue of them.
    let (file_tx, file_rx) = mpsc::channel::<ClientRequest>(2);
    let mut events = spawn_session_with_files(sender, receiver, cmd_rx, file_rx, 4096);
    let mut line_rx = read_stdin(folder.config.language);
    let mut term = Terminal::new(folder, ctx, cmd_tx);
    loop {
        // At the end of the input, transfers still running finish (or fail) first.
        if let Some(deadline) = term.quitting
            && (term.answered >= term.sent || tokio::time::Instant::now() >= deadline)
            && !term.files.transfers.sending()
            && !term.files.transfers.receiving()
        {
            term.cmd_tx = None;
            term.quitting = None;
        }
        tokio::select! {
            typed = line_rx.recv(), if term.cmd_tx.is_some() && term.quitting.is_none() => {
                term.input(typed.unwrap_or(Input::Typed(Typed::Quit))).await;
            }
            ev = events.recv() => {
                if let Some(code) = term.session_event(ev).await {
                    return code;
                }
            }
            // Lowest priority: the next file chunk, when one may go and the queue has room.
            permit = file_tx.reserve(), if term.files.transfers.has_chunk() => {
                if let Ok(permit) = permit {
                    term.next_chunk(permit).await;
                }
            }
            () = tokio::time::sleep(Duration::from_millis(100)), if term.quitting.is_some() => {}
        }
    }
}

/// Log in (and choose a new password when the server demands one), then say who we are, where,
/// and whether this PC's clock is off. The error is the exit code, the reason already printed.
async fn log_in(
    folder: &ClientFolder,
    pw: String,
    ctx: Ctx<'_>,
) -> Result<(ChatSender, ChatReceiver), ExitCode> {
    let (program, lang) = (&folder.program, folder.config.language);
    let (mut sender, mut receiver, info) = match login(folder, &pw, Duration::from_secs(15)).await {
        Ok(x) => x,
        Err(e) => {
            let head = t(lang, "登录失败", "login failed");
            eprintln!("{program}: {head}: {}", e.localized(ctx));
            return Err(ExitCode::FAILURE);
        }
    };
    if info.must_change_password {
        first_password(folder, &info, &pw, &mut sender, &mut receiver).await?;
    }
    drop(pw);
    if let Some(d) = &info.discovered {
        for line in common::client::texts::discovered_lines(d, ctx) {
            eprintln!("{program}: {line}");
        }
    }
    let (as_, to) = (t(lang, "已登录", "logged in as"), t(lang, "服务器", "to"));
    eprintln!(
        "{program}: {as_} {} ({}), {to} {}",
        one_line(&info.nickname),
        info.username,
        info.chat_addr
    );
    let key_file = common::keyfile::KeyFile::load(&folder.session_key_path());
    if let Some(warning) = key_file.ok().and_then(|f| key_clock(&f).warning(lang)) {
        eprintln!("{program}: {warning}");
    }
    Ok((sender, receiver))
}

/// stdin is blocking: read it on its own thread and forward parsed lines. `/passwd` asks for the
/// passwords on this thread too, so they are never read as chat lines. The end of the input is
/// [`Typed::Quit`].
fn read_stdin(lang: Language) -> mpsc::Receiver<Input> {
    let (line_tx, line_rx) = mpsc::channel::<Input>(256);
    std::thread::spawn(move || {
        let mut lines = std::io::stdin().lock().lines();
        while let Some(Ok(line)) = lines.next() {
            let input = match parse_typed(&line) {
                Typed::Passwd => match ask_change(lang, &mut lines) {
                    Some((old, new)) => Input::Passwd { old, new },
                    None => Input::Typed(Typed::Empty),
                },
                typed => Input::Typed(typed),
            };
            if line_tx.blocking_send(input).is_err() {
                return;
            }
        }
        let _ = line_tx.blocking_send(Input::Typed(Typed::Quit));
    });
    line_rx
}

/// The logged-in terminal: what was typed goes out, what arrives is printed.
struct Terminal<'a> {
    program: &'a str,
    me: String,
    lang: Language,
    ctx: Ctx<'a>,
    /// `None` once the input ended and everything was answered: the session logs out.
    cmd_tx: Option<mpsc::Sender<ClientRequest>>,
    stdout: std::io::Stdout,
    // EOF must not lose what was typed: log out only once the server has answered every message
    // sent (its echo to us, or a warning such as "not online"), or after a grace period.
    sent: u64,
    answered: u64,
    quitting: Option<tokio::time::Instant>,
    keeper: Keeper,
    shown: Shown,
    files: FileUi<'a>,
}

impl<'a> Terminal<'a> {
    /// Ready to chat: the kept messages (keep_history) are printed first.
    fn new(folder: &'a ClientFolder, ctx: Ctx<'a>, cmd_tx: mpsc::Sender<ClientRequest>) -> Self {
        let me = folder.config.username.clone();
        let auto_accept = std::env::var("CHAT_ACCEPT_FILES").is_ok_and(|v| v == "1");
        let (keeper, start) = Keeper::start(folder, &me);
        let mut term = Self {
            program: &folder.program,
            me,
            lang: folder.config.language,
            ctx,
            cmd_tx: Some(cmd_tx),
            stdout: std::io::stdout(),
            sent: 0,
            answered: 0,
            quitting: None,
            keeper,
            shown: Shown::default(),
            files: FileUi {
                transfers: Transfers::new(folder.downloads_dir(), auto_accept),
                shown: std::collections::HashMap::new(),
                ctx,
            },
        };
        for note in &start.notes {
            eprintln!("{}: {note}", term.program);
        }
        term.show_kept(&start.lines);
        term
    }

    fn zh(&self) -> bool {
        self.lang == Language::Zh
    }

    fn show_kept(&mut self, lines: &[ChatLine]) {
        if lines.is_empty() {
            return;
        }
        let (now, zh) = (now_ms(), self.zh());
        for line in lines {
            self.shown.saw(line.msg_id);
            let _ = writeln!(self.stdout, "{}", history_cli_line(line, &self.me, now, zh));
        }
        let end = t(
            self.lang,
            "—— 以上为本机保存的消息 ——",
            "—— kept on this computer, above ——",
        );
        let _ = writeln!(self.stdout, "{end}");
    }

    async fn send(&self, req: ClientRequest) {
        if let Some(tx) = &self.cmd_tx {
            let _ = tx.send(req).await;
        }
    }

    /// A typed line (or a `/passwd` answered on the stdin thread).
    async fn input(&mut self, input: Input) {
        let typed = match input {
            Input::Typed(typed) => typed,
            Input::Passwd { old, new } => {
                if let Err(reason) = check_new_password(&self.me, &old, &new) {
                    eprintln!("{}: {}", self.program, reason_text(&reason, "", self.ctx));
                } else {
                    let (old, new) = (Secret::new(old), Secret::new(new));
                    self.send(ClientRequest::ChangePassword { old, new }).await;
                }
                return;
            }
        };
        let Some(req) = self.request(typed) else {
            return;
        };
        if let ClientRequest::Chat { text, .. } = &req {
            if let Err(why) = common::protocol::chat::check_text(text) {
                eprintln!("{}: {why}", t(self.lang, "没有发送", "not sent"));
                return;
            }
            self.sent += 1;
        }
        self.send(req).await;
    }

    /// What a typed line asks the server for, if anything.
    fn request(&mut self, typed: Typed) -> Option<ClientRequest> {
        match typed {
            Typed::Say(text) => Some(ClientRequest::Chat { to: None, text }),
            Typed::Whisper { to, text } => Some(ClientRequest::Chat { to: Some(to), text }),
            Typed::Who => Some(ClientRequest::ListUsers),
            Typed::History(count) => Some(ClientRequest::History {
                before_id: self.shown.before_id(),
                count,
            }),
            Typed::SendFile { path, to } => self.files.offer(&path, to),
            Typed::FileAction { action, id } => self.files.act(action, id),
            Typed::Help(h) => {
                eprintln!("{h}");
                None
            }
            Typed::Passwd | Typed::Empty => None,
            Typed::Quit => {
                self.quitting = Some(tokio::time::Instant::now() + Duration::from_secs(10));
                None
            }
        }
    }

    /// What the session reported; `Some` when the program ends, with its exit code.
    async fn session_event(&mut self, ev: Option<SessionEvent>) -> Option<ExitCode> {
        let program = self.program;
        match ev {
            Some(SessionEvent::Incoming(Incoming::Event { event, .. })) => {
                self.server_event(event).await;
            }
            Some(SessionEvent::Incoming(Incoming::ServerError(e))) => {
                eprintln!(
                    "{program}: {}",
                    reason_text(&e.reason, &e.message, self.ctx)
                );
            }
            Some(SessionEvent::Incoming(Incoming::Rejected { why, .. })) => {
                let head = t(
                    self.lang,
                    "警告：丢弃了一个未通过校验的帧",
                    "warning: dropped a frame from the server that failed its checks",
                );
                eprintln!("{program}: {head}: {}", one_line(&why));
            }
            Some(SessionEvent::NotSent { why, .. }) => {
                eprintln!("{program}: {}", why.localized(self.lang));
            }
            Some(SessionEvent::Sent { .. }) => {}
            Some(SessionEvent::Closed { reason }) => return Some(self.closed(&reason)),
            None => return Some(ExitCode::from(2)),
        }
        None
    }

    /// The session ended: transfers fail, and the exit code says how it ended.
    fn closed(&mut self, reason: &CloseReason) -> ExitCode {
        let (program, lang) = (self.program, self.lang);
        for u in self.files.transfers.disconnected() {
            self.files.show(&u);
        }
        let Some(text) = reason.localized(self.ctx) else {
            eprintln!("{program}: {}", t(lang, "已退出登录", "logged out"));
            return ExitCode::SUCCESS;
        };
        // A server error was printed when it arrived: say only that we are done.
        if matches!(reason, CloseReason::ServerError(_)) {
            eprintln!("{program}: {}", t(lang, "连接已断开", "disconnected"));
        } else {
            eprintln!("{program}: {text}");
        }
        ExitCode::from(2)
    }

    /// An authenticated event from the server.
    async fn server_event(&mut self, event: ServerEvent) {
        let (program, lang, zh) = (self.program, self.lang, self.zh());
        if let Some(text) = self.keeper.keep_event(&event, lang) {
            eprintln!("{program}: {text}");
        }
        match event {
            ServerEvent::Chat(line) => {
                if line.from_user == self.me {
                    self.answered += 1;
                }
                self.shown.saw(line.msg_id);
                let _ = writeln!(self.stdout, "{}", cli_line(&line, &self.me));
                let _ = self.stdout.flush();
            }
            ServerEvent::History(page) => self.history_page(&page),
            ServerEvent::Notice(n) => {
                if n.kind == common::protocol::chat::NoticeKind::Warn {
                    self.answered += 1;
                }
                eprintln!("* {}", notice_line(&n, zh));
            }
            ServerEvent::UserList(users) => {
                eprintln!("* {}: {}", t(lang, "在线", "online"), online_list(&users));
            }
            ServerEvent::PasswordResult(Ok(())) => {
                eprintln!("{program}: {}", password_changed(lang));
            }
            ServerEvent::PasswordResult(Err(reason)) => {
                let head = t(lang, "密码没有修改", "password not changed");
                eprintln!("{program}: {head}: {}", reason_text(&reason, "", self.ctx));
            }
            ServerEvent::File(ev) => {
                for req in self.files.on_event(ev) {
                    self.send(req).await;
                }
            }
            ServerEvent::LoginOk { .. }
            | ServerEvent::UserListPart(_)
            | ServerEvent::Pong
            | ServerEvent::Stored { .. } => {}
        }
    }

    fn history_page(&mut self, page: &HistoryPage) {
        let (now, zh) = (now_ms(), self.zh());
        for line in self.shown.page(page) {
            let _ = writeln!(
                self.stdout,
                "{}",
                history_cli_line(&line, &self.me, now, zh)
            );
        }
        match self.shown.page_end(page) {
            Some(PageEnd::Line) => {
                let _ = writeln!(self.stdout, "{}", history_end_line(zh));
            }
            Some(PageEnd::NoOlder) => {
                let none = t(self.lang, "没有更早的消息", "no earlier messages");
                eprintln!("* {none}");
            }
            None => {}
        }
        let _ = self.stdout.flush();
    }

    /// Send the next file frame into the reserved slot of the file queue.
    async fn next_chunk(&mut self, permit: mpsc::Permit<'_, ClientRequest>) {
        let Some((req, update)) = self.files.transfers.next_chunk() else {
            return;
        };
        if let ClientRequest::File(common::protocol::files::FileRequest::Control { .. }) = req {
            // A file that could not be read cancels its transfer: a command.
            self.send(req).await;
        } else {
            permit.send(req);
        }
        if let Some(u) = update {
            self.files.show(&u);
        }
    }
}

/// What the terminal has shown of the stored messages: every id once (kept ones, the login's
/// history, live ones, `/history` pages), and where `/history` goes on from.
#[derive(Debug, Default)]
struct Shown {
    seen: HashSet<u64>,
    /// The smallest id shown: `/history` asks for messages before it.
    oldest: Option<u64>,
    /// Messages of the answer being received, and how many of them were new.
    received: usize,
    printed: usize,
    /// The login's answer being received: whether messages were shown before it (kept ones),
    /// whether it brought one of them, and the smallest new id it brought.
    login: Option<(bool, bool, Option<u64>)>,
}

/// What ends a history answer on the terminal.
enum PageEnd {
    /// `—— 以上为历史消息 ——`.
    Line,
    /// The server has no older messages.
    NoOlder,
}

impl Shown {
    fn saw(&mut self, id: u64) -> bool {
        self.oldest = Some(self.oldest.map_or(id, |o| o.min(id)));
        self.seen.insert(id)
    }

    fn before_id(&self) -> u64 {
        self.oldest.unwrap_or(0)
    }

    /// The lines of `page` not shown yet.
    fn page(&mut self, page: &HistoryPage) -> Vec<ChatLine> {
        self.received += page.lines.len();
        let is_login = page.source == HistorySource::Login;
        if is_login && self.login.is_none() {
            self.login = Some((!self.seen.is_empty(), false, None));
        }
        let mut new = Vec::new();
        for line in &page.lines {
            let fresh = self.saw(line.msg_id);
            if let Some((_, overlaps, first_new)) = self.login.as_mut().filter(|_| is_login) {
                *overlaps |= !fresh;
                if fresh && first_new.is_none() {
                    *first_new = Some(line.msg_id);
                }
            }
            if fresh {
                new.push(line.clone());
            }
        }
        self.printed += new.len();
        new
    }

    /// After `page`'s lines: what closes the answer, if it is its last page. When the login's
    /// answer starts after kept messages without reaching them, `/history` goes on from its
    /// first message, so the messages in between come first (as the chat window's gap).
    fn page_end(&mut self, page: &HistoryPage) -> Option<PageEnd> {
        if page.more {
            return None;
        }
        let received = std::mem::take(&mut self.received);
        let printed = std::mem::take(&mut self.printed);
        if page.source == HistorySource::Login
            && let Some((true, false, Some(first_new))) = self.login.take()
        {
            self.oldest = Some(first_new);
        }
        self.login = None;
        if printed > 0 {
            Some(PageEnd::Line)
        } else if page.source == HistorySource::Older && received == 0 {
            Some(PageEnd::NoOlder)
        } else {
            None
        }
    }
}

/// The terminal's side of file transfers: the shared state, and when each transfer's progress
/// was last printed (every 10 % or every second, whichever comes first).
struct FileUi<'a> {
    transfers: Transfers,
    shown: std::collections::HashMap<(u64, bool), (u64, std::time::Instant)>,
    ctx: Ctx<'a>,
}

impl FileUi<'_> {
    /// `/send PATH [USER]`: the offer to send.
    fn offer(&mut self, path: &str, to: Option<String>) -> Option<ClientRequest> {
        let (path, to) = crate::format::send_args(path, to);
        match self.transfers.offer(std::path::Path::new(&path), to) {
            Ok((req, update)) => {
                self.show(&update);
                Some(req)
            }
            Err(e) => {
                eprintln!("* {}", e.localized(self.ctx.lang));
                None
            }
        }
    }

    /// `/accept ID`, `/decline ID`, `/cancel ID`.
    fn act(&mut self, action: FileAction, id: u64) -> Option<ClientRequest> {
        let result = match action {
            FileAction::Accept => self.transfers.accept(id),
            FileAction::Decline => self.transfers.decline(id),
            FileAction::Cancel => self.transfers.cancel(id).map(|(req, update)| {
                self.show(&update);
                req
            }),
        };
        result
            .map_err(|e| eprintln!("* {}", e.localized(self.ctx.lang)))
            .ok()
    }

    /// Take a file event; returns the requests to send.
    fn on_event(&mut self, ev: common::protocol::files::FileEvent) -> Vec<ClientRequest> {
        let handled = self.transfers.on_event(ev);
        for u in &handled.updates {
            self.show(u);
        }
        handled.requests
    }

    fn show(&mut self, u: &Update) {
        if let Update::Progress {
            id,
            direction,
            name,
            done,
            total,
            speed,
            eta,
        } = u
        {
            let key = (*id, *direction == common::client::files::Direction::Send);
            let tenth = if *total == 0 { 10 } else { done * 10 / total };
            let now = std::time::Instant::now();
            let due = match self.shown.get(&key) {
                None => true,
                Some((last, at)) => {
                    tenth > *last || now.duration_since(*at) >= Duration::from_secs(1)
                }
            };
            if due {
                self.shown.insert(key, (tenth, now));
                let line = common::client::texts::file_progress_text(
                    *direction, name, *done, *total, *speed, *eta, self.ctx,
                );
                eprintln!("* {line}");
            }
            return;
        }
        if let Some(line) = common::client::texts::file_update_text(u, self.ctx) {
            eprintln!("* {line}");
        }
    }
}

/// A line from stdin, or a password change asked for by `/passwd`.
enum Input {
    Typed(Typed),
    Passwd { old: String, new: String },
}

/// Ask for the current and the new password (twice) without echo; without a terminal, read them
/// as the next two lines of stdin. `None` when they could not be read or the two new ones differ.
fn ask_change(
    lang: Language,
    lines: &mut std::io::Lines<std::io::StdinLock<'static>>,
) -> Option<(String, String)> {
    let prompt = |zh: &'static str, en: &'static str| rpassword::prompt_password(t(lang, zh, en));
    match prompt("当前密码: ", "current password: ") {
        Ok(old) => {
            let new = prompt(
                "新密码（至少 8 个字符）: ",
                "new password (at least 8 characters): ",
            )
            .ok()?;
            let again = prompt("再输入一次新密码: ", "new password again: ").ok()?;
            if new != again {
                eprintln!(
                    "{}",
                    t(
                        lang,
                        "两次输入的新密码不一样，密码没有修改。",
                        "the two new passwords differ; the password was not changed"
                    )
                );
                return None;
            }
            Some((old, new))
        }
        // No terminal: a script gives the two passwords as the next lines.
        Err(_) => {
            let old = lines.next()?.ok()?;
            let new = lines.next()?.ok()?;
            Some((old, new))
        }
    }
}

/// The first login of an imported user: choose a new password (`CHAT_NEW_PASSWORD`, else asked
/// for twice without echo) before anything else. Returns the exit code when it could not be done.
async fn first_password(
    folder: &ClientFolder,
    info: &LoginInfo,
    old: &str,
    sender: &mut ChatSender,
    receiver: &mut ChatReceiver,
) -> Result<(), ExitCode> {
    let program = &folder.program;
    let lang = folder.config.language;
    let ctx = Ctx::terminal(lang, program);
    eprintln!(
        "{program}: {}",
        reason_text(&common::protocol::Reason::PasswordChangeRequired, "", ctx)
    );
    let from_env = std::env::var("CHAT_NEW_PASSWORD").ok();
    // A script gets one try; a person at the terminal three.
    let tries = if from_env.is_some() { 1 } else { 3 };
    for _ in 0..tries {
        let new = match &from_env {
            Some(p) => p.clone(),
            None => match ask_new(lang) {
                Ok(Some(p)) => p,
                Ok(None) => continue,
                Err(e) => {
                    let text = t(
                        lang,
                        "无法读取新密码。请在终端窗口里运行，或设置 CHAT_NEW_PASSWORD。",
                        "cannot read the new password; run it in a terminal window or set CHAT_NEW_PASSWORD",
                    );
                    eprintln!("{program}: {text} ({e})");
                    return Err(ExitCode::FAILURE);
                }
            },
        };
        match change_password(
            sender,
            receiver,
            &info.username,
            old,
            &new,
            Duration::from_secs(15),
        )
        .await
        {
            Ok(()) => {
                eprintln!("{program}: {}", password_changed(lang));
                return Ok(());
            }
            Err(e) => {
                let head = t(lang, "密码没有修改", "password not changed");
                eprintln!("{program}: {head}: {}", e.localized(ctx));
                if matches!(e, common::client::chat_client::PasswordError::Closed(_)) {
                    return Err(ExitCode::from(2));
                }
            }
        }
    }
    Err(ExitCode::FAILURE)
}

/// Ask for a new password twice; `Ok(None)` when the two differ.
fn ask_new(lang: Language) -> std::io::Result<Option<String>> {
    let new = rpassword::prompt_password(t(
        lang,
        "请设置新密码（至少 8 个字符）: ",
        "choose a new password (at least 8 characters): ",
    ))?;
    let again = rpassword::prompt_password(t(lang, "再输入一次新密码: ", "new password again: "))?;
    if new == again {
        Ok(Some(new))
    } else {
        eprintln!(
            "{}",
            t(
                lang,
                "两次输入的新密码不一样，请重新输入。",
                "the two new passwords differ; type them again"
            )
        );
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(source: HistorySource, ids: std::ops::RangeInclusive<u64>) -> HistoryPage {
        HistoryPage {
            source,
            more: false,
            lines: ids
                .map(|i| ChatLine {
                    msg_id: i,
                    time_ms: 0,
                    from_user: "user2".into(),
                    from_nick: "n".into(),
                    to: None,
                    text: i.to_string(),
                })
                .collect(),
        }
    }

    fn shown_ids(shown: &mut Shown, p: &HistoryPage) -> Vec<u64> {
        let ids = shown.page(p).iter().map(|l| l.msg_id).collect();
        shown.page_end(p);
        ids
    }

    #[test]
    fn history_goes_on_from_the_login_when_it_starts_after_the_kept_messages() {
        // Kept 1..=5; the login brings 50..=60: /history asks before 50, and what comes back
        // is shown once, the kept ones not again.
        let mut shown = Shown::default();
        for id in 1..=5 {
            shown.saw(id);
        }
        let login = page(HistorySource::Login, 50..=60);
        assert_eq!(shown_ids(&mut shown, &login), (50..=60).collect::<Vec<_>>());
        assert_eq!(shown.before_id(), 50);
        let older = page(HistorySource::Older, 3..=49);
        assert_eq!(shown_ids(&mut shown, &older), (6..=49).collect::<Vec<_>>());
        assert_eq!(shown.before_id(), 3);
    }

    #[test]
    fn history_goes_on_from_the_oldest_when_the_login_reaches_the_kept_messages() {
        let mut shown = Shown::default();
        for id in 1..=5 {
            shown.saw(id);
        }
        let login = page(HistorySource::Login, 4..=8);
        assert_eq!(shown_ids(&mut shown, &login), vec![6, 7, 8]);
        assert_eq!(shown.before_id(), 1);
        // Nothing kept: the oldest of the login's messages.
        let mut shown = Shown::default();
        shown_ids(&mut shown, &page(HistorySource::Login, 50..=60));
        assert_eq!(shown.before_id(), 50);
    }
}
