//! Everything the chat window decides, without widgets: labels, what each event shows, the
//! online-user list and who the next message goes to, input history, the unread counter, and what
//! to do when a login fails. `tests/gui_logic.rs` tests it without a display; `app.rs` only
//! applies the results to the widgets.

use std::collections::VecDeque;

use common::client::chat_client::{Incoming, LoginError, SessionEvent, hint_for};
use common::config::Language;
use common::protocol::chat::{
    ChatLine, ClientRequest, ErrorMsg, NoticeKind, OnlineUser, ServerEvent, check_text,
};
use common::protocol::consts::MAX_PASSWORD_LEN;

use crate::format::{Typed, clock, notice_line, parse_typed, visible};

// ------------------------------------------------------------------------------------------ labels

/// Every fixed text of the two windows, in one language.
#[derive(Debug)]
pub struct Labels {
    pub login_window: &'static str,
    pub login_heading: &'static str,
    pub username: &'static str,
    pub password: &'static str,
    pub reset: &'static str,
    pub login: &'static str,
    pub server: &'static str,
    pub logging_in: &'static str,
    pub key_step_running: &'static str,
    pub key_step_done: &'static str,
    pub login_failed: &'static str,
    pub key_step_failed: &'static str,
    pub offer_key_step: &'static str,
    pub cancel: &'static str,
    pub get_key_and_login: &'static str,
    pub ok: &'static str,
    pub everyone: &'static str,
    pub me: &'static str,
    pub online_users: &'static str,
    pub send: &'static str,
    pub send_hint: &'static str,
    pub show_wire: &'static str,
    pub reconnect: &'static str,
    pub click_reconnect: &'static str,
    pub to_everyone: &'static str,
    pub to_user: &'static str,
    pub private: &'static str,
    pub connected: &'static str,
    pub reconnecting: &'static str,
    pub disconnected: &'static str,
    pub wire_sent: &'static str,
    pub wire_received: &'static str,
    pub wire_rejected: &'static str,
    pub not_connected: &'static str,
    pub online_now: &'static str,
    pub target_left: &'static str,
    pub logged_in_as: &'static str,
    pub session_key_info: &'static str,
    pub reconnected: &'static str,
    pub connection_lost: &'static str,
    pub server_error: &'static str,
    pub frame_rejected: &'static str,
    pub not_sent: &'static str,
    pub empty_password: &'static str,
    pub password_too_long: &'static str,
    pub bad_username: &'static str,
}

/// Chinese labels (the default).
pub const ZH: Labels = Labels {
    login_window: "登录 - 加密聊天室",
    login_heading: "基于数字信封的加密聊天室",
    username: "用户名:",
    password: "密码:",
    reset: "重置",
    login: "登录",
    server: "服务器",
    logging_in: "正在登录…",
    key_step_running: "正在运行密钥分发（获取数字信封中的会话密钥）…",
    key_step_done: "密钥分发完成",
    login_failed: "登录失败",
    key_step_failed: "密钥分发失败",
    offer_key_step: "会话密钥缺失、已过期或与服务器不一致。\n现在运行密钥分发获取新的会话密钥，然后重新登录吗？",
    cancel: "取消",
    get_key_and_login: "获取密钥并登录",
    ok: "确定",
    everyone: "所有人",
    me: "（我）",
    online_users: "在线用户",
    send: "发送",
    send_hint: "Enter 发送\nShift+Enter 换行\n↑/↓ 历史",
    show_wire: "显示密文",
    reconnect: "重新连接",
    click_reconnect: "点击“重新连接”可以重新登录。",
    to_everyone: "发送给: 所有人",
    to_user: "私聊给: ",
    private: "私聊",
    connected: "已连接",
    reconnecting: "正在重新连接…",
    disconnected: "已断开连接",
    wire_sent: "发出的密文帧",
    wire_received: "收到的密文帧",
    wire_rejected: "被丢弃的帧",
    not_connected: "未连接，消息没有发送（输入框中的文字已保留）。请点击“重新连接”。",
    online_now: "当前在线",
    target_left: "已离开，之后的消息发送给所有人",
    logged_in_as: "已登录",
    session_key_info: "会话密钥",
    reconnected: "已重新连接",
    connection_lost: "连接已断开",
    server_error: "服务器",
    frame_rejected: "警告：丢弃了一个未通过校验（MAC/序号/格式）的帧",
    not_sent: "消息没有发送",
    empty_password: "请输入密码",
    password_too_long: "密码太长",
    bad_username: "用户名无效",
};

/// English labels (`language = "en"`).
pub const EN: Labels = Labels {
    login_window: "Log in - mini-chat",
    login_heading: "Encrypted chat (digital envelope)",
    username: "Username:",
    password: "Password:",
    reset: "Reset",
    login: "Log in",
    server: "Server",
    logging_in: "Logging in…",
    key_step_running: "Running the key step (session key in a digital envelope)…",
    key_step_done: "Key step done",
    login_failed: "Login failed",
    key_step_failed: "The key step failed",
    offer_key_step: "The session key is missing, expired or not the one the server has.\nRun the key step now to get a new session key, then log in again?",
    cancel: "Cancel",
    get_key_and_login: "Get key and log in",
    ok: "OK",
    everyone: "Everyone",
    me: " (me)",
    online_users: "Online users",
    send: "Send",
    send_hint: "Enter: send\nShift+Enter: newline\nUp/Down: history",
    show_wire: "Show ciphertext",
    reconnect: "Reconnect",
    click_reconnect: "Click \"Reconnect\" to log in again.",
    to_everyone: "To: everyone",
    to_user: "Private to: ",
    private: "private",
    connected: "Connected",
    reconnecting: "Reconnecting…",
    disconnected: "Disconnected",
    wire_sent: "frame sent",
    wire_received: "frame received",
    wire_rejected: "frame dropped",
    not_connected: "Not connected: the message was not sent (your text is still in the input box). Click \"Reconnect\".",
    online_now: "Online now",
    target_left: "left; your messages now go to everyone",
    logged_in_as: "Logged in as",
    session_key_info: "session key",
    reconnected: "Reconnected",
    connection_lost: "Connection lost",
    server_error: "Server",
    frame_rejected: "Warning: dropped a frame that failed its checks (MAC, sequence number or format)",
    not_sent: "Not sent",
    empty_password: "Please enter the password",
    password_too_long: "The password is too long",
    bad_username: "Invalid username",
};

/// The labels for `lang`.
pub fn labels(lang: Language) -> &'static Labels {
    match lang {
        Language::Zh => &ZH,
        Language::En => &EN,
    }
}

/// The chat window's title.
pub fn chat_title(lang: Language, nickname: &str) -> String {
    let nick = one_line(nickname);
    match lang {
        Language::Zh => format!("欢迎 {nick} 进入聊天室!"),
        Language::En => format!("Welcome {nick} to the chat room!"),
    }
}

/// The title with the unread count in front while there is any: `(3) 欢迎 ...`.
pub fn title_with_unread(base: &str, unread: usize) -> String {
    if unread == 0 {
        base.to_owned()
    } else {
        format!("({unread}) {base}")
    }
}

/// Text for places that hold one line (titles, list rows): control characters escaped, newlines
/// and tabs as spaces.
pub fn one_line(text: &str) -> String {
    visible(text).replace(['\n', '\t'], " ")
}

/// Break long lines at spaces so a dialog stays narrow; CJK characters count as two columns.
pub fn wrap_text(text: &str, max_cols: usize) -> String {
    let width = |c: char| if c.len_utf8() >= 3 { 2 } else { 1 };
    let mut out = String::with_capacity(text.len() + 16);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut col = 0;
        for (j, word) in line.split(' ').enumerate() {
            let w: usize = word.chars().map(width).sum();
            if j > 0 {
                if col > 0 && col + 1 + w > max_cols {
                    out.push('\n');
                    col = 0;
                } else {
                    out.push(' ');
                    col += 1;
                }
            }
            out.push_str(word);
            col += w;
        }
    }
    out
}

// ------------------------------------------------------------------------------------------ login

/// A failed login as the GUI thread gets it from the network thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginFailure {
    /// `LoginError`'s message, which already says what to do next.
    pub message: String,
    /// Running the key step would fix it (missing, expired or mismatched session key).
    pub needs_key_step: bool,
}

/// Summarise a [`LoginError`] for the GUI thread.
pub fn login_failure(e: &LoginError) -> LoginFailure {
    LoginFailure {
        message: e.to_string(),
        needs_key_step: e.needs_key_step(),
    }
}

/// What to show for a failed login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginDialog {
    /// An alert with this text.
    Alert(String),
    /// Ask whether to run the key step and retry; `choice` buttons are `cancel` and `run`.
    OfferKeyStep {
        text: String,
        cancel: &'static str,
        run: &'static str,
    },
}

/// The dialog for a failed login.
pub fn login_dialog(f: &LoginFailure, lang: Language) -> LoginDialog {
    let l = labels(lang);
    let reason = wrap_text(&f.message, 72);
    if f.needs_key_step {
        LoginDialog::OfferKeyStep {
            text: format!("{}:\n{reason}\n\n{}", l.login_failed, l.offer_key_step),
            cancel: l.cancel,
            run: l.get_key_and_login,
        }
    } else {
        LoginDialog::Alert(format!("{}:\n{reason}", l.login_failed))
    }
}

/// The alert for a failed key step.
pub fn key_step_failed_text(message: &str, lang: Language) -> String {
    format!(
        "{}:\n{}",
        labels(lang).key_step_failed,
        wrap_text(message, 72)
    )
}

/// Check the login form before sending anything.
///
/// # Errors
/// A sentence for the user.
pub fn validate_login(username: &str, password: &str, lang: Language) -> Result<(), String> {
    let l = labels(lang);
    if let Err(why) = common::protocol::check_username(username.trim()) {
        return Err(format!("{}: {why}", l.bad_username));
    }
    if password.is_empty() {
        return Err(l.empty_password.to_owned());
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(format!(
            "{} (> {MAX_PASSWORD_LEN} bytes)",
            l.password_too_long
        ));
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------ entries

/// Style letters of the message list (`'A'` is the first entry of the style table).
pub mod style {
    /// Message text.
    pub const TEXT: char = 'A';
    /// Sender and time (green).
    pub const HEADER: char = 'B';
    /// System messages: joins, leaves, errors, warnings (red).
    pub const SYSTEM: char = 'C';
    /// Frame text as it crossed the wire (grey, monospace).
    pub const WIRE: char = 'D';
    /// Local information: logged in, who is online, key step (blue).
    pub const INFO: char = 'E';
}

/// What kind of entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Chat,
    System,
    Info,
}

/// Which way a frame went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireDir {
    Sent,
    Received,
    Rejected,
}

/// One item of the message list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: EntryKind,
    /// Sender and time for chat lines; empty otherwise.
    pub header: String,
    /// The text as received (escaped when rendered).
    pub body: String,
    /// Frames behind this entry, shown with "show ciphertext".
    pub wires: Vec<(WireDir, String)>,
}

impl Entry {
    /// A red system line stamped with `now_ms`.
    pub fn system(text: impl Into<String>, now_ms: u64) -> Self {
        Self {
            kind: EntryKind::System,
            header: clock(now_ms),
            body: text.into(),
            wires: Vec::new(),
        }
    }

    /// A blue information line stamped with `now_ms`.
    pub fn info(text: impl Into<String>, now_ms: u64) -> Self {
        Self {
            kind: EntryKind::Info,
            header: clock(now_ms),
            body: text.into(),
            wires: Vec::new(),
        }
    }
}

/// An entry as text plus its style string (one style letter per byte of the text).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    pub style: String,
}

impl Rendered {
    /// Append `text` in style `s`.
    pub fn push(&mut self, text: &str, s: char) {
        self.text.push_str(text);
        self.style.extend(std::iter::repeat_n(s, text.len()));
    }

    /// Append another rendering.
    pub fn extend(&mut self, other: &Rendered) {
        self.text.push_str(&other.text);
        self.style.push_str(&other.style);
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }
}

/// The display text of one frame line under a message.
pub fn wire_line(dir: WireDir, wire: &str, lang: Language) -> String {
    let l = labels(lang);
    let (arrow, label) = match dir {
        WireDir::Sent => ("↑", l.wire_sent),
        WireDir::Received => ("↓", l.wire_received),
        WireDir::Rejected => ("✗", l.wire_rejected),
    };
    format!("    {arrow} {label}: {}\n", one_line(wire))
}

/// Render one entry: chat lines as a green `sender  time` line with the text beneath; system
/// and information lines as one `[time] text` line; with `show_wire`, the frames beneath.
pub fn render(e: &Entry, show_wire: bool, lang: Language) -> Rendered {
    let mut r = Rendered::default();
    match e.kind {
        EntryKind::Chat => {
            r.push(&format!("{}\n", e.header), style::HEADER);
            r.push(&format!("{}\n", visible(&e.body)), style::TEXT);
        }
        EntryKind::System | EntryKind::Info => {
            let s = if e.kind == EntryKind::System {
                style::SYSTEM
            } else {
                style::INFO
            };
            r.push(&format!("[{}] {}\n", e.header, visible(&e.body)), s);
        }
    }
    if show_wire {
        for (dir, wire) in &e.wires {
            r.push(&wire_line(*dir, wire, lang), style::WIRE);
        }
    }
    r
}

// ------------------------------------------------------------------------------------------ history

/// Previously sent inputs, recalled with Up/Down like a shell.
#[derive(Debug, Clone, Default)]
pub struct History {
    items: Vec<String>,
    /// Index being shown while browsing.
    pos: Option<usize>,
    /// What was in the box when browsing started.
    draft: String,
}

impl History {
    /// Most inputs kept.
    pub const CAP: usize = 200;

    /// Remember a sent input (not twice in a row) and stop browsing.
    pub fn push(&mut self, text: &str) {
        self.pos = None;
        self.draft.clear();
        if text.trim().is_empty() || self.items.last().is_some_and(|l| l == text) {
            return;
        }
        if self.items.len() == Self::CAP {
            self.items.remove(0);
        }
        self.items.push(text.to_owned());
    }

    /// Up: the previous input, or `None` when there is nothing older (leave the box alone).
    pub fn up(&mut self, current: &str) -> Option<String> {
        let pos = match self.pos {
            None if self.items.is_empty() => return None,
            None => {
                self.draft = current.to_owned();
                self.items.len() - 1
            }
            Some(0) => return None,
            Some(p) => p - 1,
        };
        self.pos = Some(pos);
        Some(self.items[pos].clone())
    }

    /// Down: the next input, the draft after the newest, `None` when not browsing.
    pub fn down(&mut self) -> Option<String> {
        let p = self.pos?;
        if p + 1 < self.items.len() {
            self.pos = Some(p + 1);
            Some(self.items[p + 1].clone())
        } else {
            self.pos = None;
            Some(std::mem::take(&mut self.draft))
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Whether Up/Down should recall history rather than move the cursor: Up on the first line of
/// the input, Down on the last. `pos` is the cursor's byte offset in `text`.
pub fn recall_applies(text: &str, pos: usize, up: bool) -> bool {
    let pos = pos.min(text.len());
    if up {
        !text[..pos].contains('\n')
    } else {
        !text[pos..].contains('\n')
    }
}

// ------------------------------------------------------------------------------------------ chat state

/// What typing into the input box and pressing Enter should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compose {
    /// Send this chat message (clear the box).
    Send { to: Option<String>, text: String },
    /// Ask for the online list (clear the box).
    ListUsers,
    /// Leave (`/quit`).
    Quit,
    /// Show this line and keep the text in the box.
    Local(Entry),
    /// Nothing to do (empty input).
    Nothing,
}

/// What changed after an event; the GUI applies it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Update {
    /// Entries to append to the message list (already recorded in the state).
    pub new_entries: Vec<Entry>,
    /// Older entries were dropped: render the whole list again.
    pub rerender: bool,
    pub users_changed: bool,
    pub target_changed: bool,
    /// The connection state changed (see [`ChatState::connected`]).
    pub connection_changed: bool,
    /// Chat lines from other people (for the unread count and urgency hint).
    pub incoming_chat: usize,
}

/// The chat window's model.
#[derive(Debug)]
pub struct ChatState {
    pub lang: Language,
    /// Program name for hints (`client_wy`).
    pub program: String,
    /// My username.
    pub me: String,
    pub nickname: String,
    users: Vec<OnlineUser>,
    /// Username the next message goes to; `None` = everyone.
    target: Option<String>,
    /// Chat requests sent and not yet echoed by the server: `(to, text, wire)`.
    pending: VecDeque<(Option<String>, String, String)>,
    connected: bool,
    /// The next `Closed` is one we asked for.
    logging_out: bool,
    last_server_error: Option<String>,
    pub history: History,
    unread: usize,
    entries: VecDeque<Entry>,
    max_entries: usize,
}

impl ChatState {
    /// Entries kept for redisplay by default; older ones are dropped in chunks.
    pub const MAX_ENTRIES: usize = 5000;
    const MAX_PENDING: usize = 256;

    pub fn new(lang: Language, program: &str, me: &str, nickname: &str) -> Self {
        Self {
            lang,
            program: program.to_owned(),
            me: me.to_owned(),
            nickname: nickname.to_owned(),
            users: Vec::new(),
            target: None,
            pending: VecDeque::new(),
            connected: true,
            logging_out: false,
            last_server_error: None,
            history: History::default(),
            unread: 0,
            entries: VecDeque::new(),
            max_entries: Self::MAX_ENTRIES,
        }
    }

    /// Keep at most `n` entries (tests use a small number).
    pub fn with_max_entries(mut self, n: usize) -> Self {
        self.max_entries = n.max(2);
        self
    }

    fn l(&self) -> &'static Labels {
        labels(self.lang)
    }

    pub fn connected(&self) -> bool {
        self.connected
    }

    pub fn users(&self) -> &[OnlineUser] {
        &self.users
    }

    pub fn target(&self) -> Option<&str> {
        self.target.as_deref()
    }

    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter()
    }

    pub fn unread(&self) -> usize {
        self.unread
    }

    /// Render every entry (after toggling "show ciphertext" or dropping old entries).
    pub fn render_all(&self, show_wire: bool) -> Rendered {
        let mut r = Rendered::default();
        for e in &self.entries {
            r.extend(&render(e, show_wire, self.lang));
        }
        r
    }

    fn record(&mut self, e: Entry, up: &mut Update) {
        self.entries.push_back(e.clone());
        up.new_entries.push(e);
        if self.entries.len() > self.max_entries {
            let drop = (self.max_entries / 5).max(1);
            self.entries.drain(..drop);
            up.rerender = true;
        }
    }

    /// Add a local line (system or information).
    pub fn add(&mut self, e: Entry) -> Update {
        let mut up = Update::default();
        self.record(e, &mut up);
        up
    }

    fn nick_of(&self, username: &str) -> String {
        if username == self.me {
            return self.nickname.clone();
        }
        self.users
            .iter()
            .find(|u| u.username == username)
            .map_or_else(|| username.to_owned(), |u| u.nickname.clone())
    }

    /// The green line above a message: `nick  HH:MM:SS`, with the private partner.
    pub fn header(&self, line: &ChatLine) -> String {
        let from = one_line(&line.from_nick);
        let time = clock(line.time_ms);
        match &line.to {
            None => format!("{from}  {time}"),
            Some(to) => {
                let to_nick = one_line(&self.nick_of(to));
                format!("{from} → {to_nick}  [{}]  {time}", self.l().private)
            }
        }
    }

    /// The login (or reconnect) succeeded.
    pub fn on_logged_in(
        &mut self,
        nickname: &str,
        key_info: &str,
        reconnect: bool,
        now_ms: u64,
    ) -> Update {
        self.nickname = nickname.to_owned();
        self.connected = true;
        self.logging_out = false;
        self.last_server_error = None;
        self.pending.clear();
        let l = self.l();
        let text = if reconnect {
            format!("{} ({} {key_info})", l.reconnected, l.session_key_info)
        } else {
            format!(
                "{} {} ({}); {} {key_info}",
                l.logged_in_as,
                one_line(nickname),
                self.me,
                l.session_key_info
            )
        };
        let mut up = self.add(Entry::info(text, now_ms));
        up.connection_changed = true;
        up
    }

    /// We are logging out on purpose: the coming `Closed` is not an error.
    pub fn logging_out(&mut self) {
        self.logging_out = true;
    }

    /// One event from the session.
    pub fn on_event(&mut self, ev: SessionEvent, now_ms: u64) -> Update {
        let mut up = Update::default();
        match ev {
            SessionEvent::Incoming(Incoming::Event { event, wire }) => {
                self.on_server_event(event, wire, now_ms, &mut up)
            }
            SessionEvent::Incoming(Incoming::ServerError(ErrorMsg { reason, message })) => {
                let hint = hint_for(&reason, &self.program);
                let text = format!("{}: {message} ({reason}){hint}", self.l().server_error);
                self.last_server_error = Some(message);
                self.record(Entry::system(text, now_ms), &mut up);
            }
            SessionEvent::Incoming(Incoming::Rejected { why, wire }) => {
                let mut e = if wire.is_empty() {
                    // Raised locally (e.g. too large to send), not a frame from the server.
                    Entry::system(format!("{}: {why}", self.l().not_sent), now_ms)
                } else {
                    Entry::system(format!("{}: {why}", self.l().frame_rejected), now_ms)
                };
                if !wire.is_empty() {
                    e.wires.push((WireDir::Rejected, wire));
                }
                self.record(e, &mut up);
            }
            SessionEvent::Sent {
                request: ClientRequest::Chat { to, text },
                wire,
            } => {
                if self.pending.len() == Self::MAX_PENDING {
                    self.pending.pop_front();
                }
                self.pending.push_back((to, text, wire));
            }
            SessionEvent::Sent { .. } => {}
            SessionEvent::Closed { reason } => {
                let was_connected = self.connected;
                self.connected = false;
                up.connection_changed = was_connected;
                let expected = self.logging_out || reason == "logged out";
                self.logging_out = false;
                // The online list is stale now; a reconnect brings a fresh one.
                if !self.users.is_empty() {
                    self.users.clear();
                    up.users_changed = true;
                }
                if self.target.take().is_some() {
                    up.target_changed = true;
                }
                if !expected {
                    let l = self.l();
                    let text = match &self.last_server_error {
                        Some(m) if *m == reason => {
                            format!("{}. {}", l.connection_lost, l.click_reconnect)
                        }
                        _ => format!("{}: {reason}. {}", l.connection_lost, l.click_reconnect),
                    };
                    self.record(Entry::system(text, now_ms), &mut up);
                }
            }
        }
        up
    }

    fn on_server_event(&mut self, event: ServerEvent, wire: String, now_ms: u64, up: &mut Update) {
        match event {
            ServerEvent::Chat(line) => {
                let mut wires = Vec::new();
                if line.from_user == self.me
                    && let Some(i) = self
                        .pending
                        .iter()
                        .position(|(to, text, _)| *to == line.to && *text == line.text)
                    && let Some((_, _, sent)) = self.pending.remove(i)
                {
                    wires.push((WireDir::Sent, sent));
                }
                wires.push((WireDir::Received, wire));
                if line.from_user != self.me {
                    up.incoming_chat += 1;
                }
                let e = Entry {
                    kind: EntryKind::Chat,
                    header: self.header(&line),
                    body: line.text,
                    wires,
                };
                self.record(e, up);
            }
            ServerEvent::Notice(n) => {
                let zh = self.lang == Language::Zh;
                let mut e = Entry::system(notice_line(&n, zh), now_ms);
                e.wires.push((WireDir::Received, wire));
                self.record(e, up);
                match n.kind {
                    NoticeKind::Join if !self.users.iter().any(|u| u.username == n.user) => {
                        self.users.push(OnlineUser {
                            username: n.user,
                            nickname: n.nick,
                        });
                        self.sort_users();
                        up.users_changed = true;
                    }
                    NoticeKind::Leave => {
                        let before = self.users.len();
                        self.users.retain(|u| u.username != n.user);
                        up.users_changed |= self.users.len() != before;
                        if self.target.as_deref() == Some(n.user.as_str()) {
                            self.target = None;
                            up.target_changed = true;
                            let who = one_line(if n.nick.is_empty() { &n.user } else { &n.nick });
                            let text = format!("{who} {}", self.l().target_left);
                            self.record(Entry::info(text, now_ms), up);
                        }
                    }
                    _ => {}
                }
            }
            ServerEvent::UserList(users) => {
                self.users = users;
                self.sort_users();
                up.users_changed = true;
                if let Some(t) = &self.target
                    && !self.users.iter().any(|u| &u.username == t)
                {
                    self.target = None;
                    up.target_changed = true;
                }
                let names = self
                    .users
                    .iter()
                    .map(|u| one_line(&u.nickname))
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut e = Entry::info(
                    format!("{} ({}): {names}", self.l().online_now, self.users.len()),
                    now_ms,
                );
                e.wires.push((WireDir::Received, wire));
                self.record(e, up);
            }
            ServerEvent::LoginOk { .. } | ServerEvent::Pong => {}
        }
    }

    fn sort_users(&mut self) {
        let me = self.me.clone();
        self.users
            .sort_by(|a, b| (a.username != me, &a.username).cmp(&(b.username != me, &b.username)));
        self.users.dedup_by(|a, b| a.username == b.username);
    }

    /// Rows of the online-user list: everyone first, then me, then the others.
    pub fn user_rows(&self) -> Vec<String> {
        let mut rows = vec![self.l().everyone.to_owned()];
        for u in &self.users {
            let me = if u.username == self.me {
                self.l().me
            } else {
                ""
            };
            rows.push(format!("{} ({}){me}", one_line(&u.nickname), u.username));
        }
        rows
    }

    /// The 1-based row of the current target in [`Self::user_rows`].
    pub fn selected_row(&self) -> i32 {
        self.target
            .as_ref()
            .and_then(|t| self.users.iter().position(|u| &u.username == t))
            .map_or(1, |i| i32::try_from(i).unwrap_or(i32::MAX - 2) + 2)
    }

    /// The user picked row `row` (1-based; 0 = nothing). Picking yourself or nothing means
    /// everyone. Returns whether the target changed.
    pub fn select_row(&mut self, row: i32) -> bool {
        let new = usize::try_from(row)
            .ok()
            .and_then(|r| r.checked_sub(2))
            .and_then(|i| self.users.get(i))
            .filter(|u| u.username != self.me)
            .map(|u| u.username.clone());
        let changed = new != self.target;
        self.target = new;
        changed
    }

    /// Who the next message goes to, for the status line.
    pub fn target_label(&self) -> String {
        let l = self.l();
        match &self.target {
            None => l.to_everyone.to_owned(),
            Some(t) => format!("{}{} ({t})", l.to_user, one_line(&self.nick_of(t))),
        }
    }

    /// The input box's text was submitted.
    pub fn compose(&mut self, typed: &str, now_ms: u64) -> Compose {
        let (to, text) = match parse_typed(typed) {
            Typed::Empty => return Compose::Nothing,
            Typed::Help(h) => return Compose::Local(Entry::info(h, now_ms)),
            Typed::Quit => return Compose::Quit,
            Typed::Who if self.connected => {
                self.history.push(typed);
                return Compose::ListUsers;
            }
            Typed::Who => return Compose::Local(Entry::system(self.l().not_connected, now_ms)),
            Typed::Say(text) => (self.target.clone(), text),
            Typed::Whisper { to, text } => (Some(to), text),
        };
        if !self.connected {
            return Compose::Local(Entry::system(self.l().not_connected, now_ms));
        }
        if let Err(why) = check_text(&text) {
            return Compose::Local(Entry::system(
                format!("{}: {why}", self.l().not_sent),
                now_ms,
            ));
        }
        self.history.push(typed.trim_end_matches(['\r', '\n']));
        Compose::Send { to, text }
    }

    /// Chat lines arrived; counts them as unread when the window is not focused. Returns whether
    /// the title (and urgency hint) should change.
    pub fn note_incoming(&mut self, n: usize, focused: bool) -> bool {
        if n == 0 || focused {
            return false;
        }
        self.unread += n;
        true
    }

    /// The window has the focus: clear the unread count. Returns whether it was non-zero.
    pub fn focus_seen(&mut self) -> bool {
        std::mem::take(&mut self.unread) > 0
    }

    /// The window title now.
    pub fn title(&self) -> String {
        title_with_unread(&chat_title(self.lang, &self.nickname), self.unread)
    }
}

/// Text for the status line.
pub fn status_text(state: &ChatState, reconnecting: bool) -> String {
    let l = labels(state.lang);
    if state.connected() {
        format!("{} · {}", l.connected, state.target_label())
    } else if reconnecting {
        l.reconnecting.to_owned()
    } else {
        l.disconnected.to_owned()
    }
}

/// Lines of a rendering, for the test log.
pub fn log_lines(r: &Rendered) -> impl Iterator<Item = &str> {
    r.text.lines()
}
