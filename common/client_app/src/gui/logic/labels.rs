//! Every fixed text of the two windows, in Chinese (the default) and English, and the chat
//! window's title. Texts chosen by a reason (issue 12's error table) belong in a file of their
//! own beside this one.

use common::config::Language;

use super::render::one_line;

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
    pub login_cancelled: &'static str,
    pub key_step_running: &'static str,
    pub key_step_done: &'static str,
    pub login_failed: &'static str,
    pub key_step_failed: &'static str,
    pub offer_key_step: &'static str,
    pub session_ended: &'static str,
    pub offer_new_key: &'static str,
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
    pub password_not_changed: &'static str,
    pub change_password: &'static str,
    pub current_password: &'static str,
    pub new_password: &'static str,
    pub new_password_again: &'static str,
    pub passwords_differ: &'static str,
    pub must_change_password: &'static str,
    pub empty_password: &'static str,
    pub password_too_long: &'static str,
    pub bad_username: &'static str,
    /// Under the stored messages a login brought.
    pub history_end: &'static str,
    /// Above the oldest stored message, when there is none older.
    pub no_older: &'static str,
    /// Below the messages kept on this computer (`keep_history`), shown at start.
    pub kept_end: &'static str,
    // ---- file transfer (issue 16)
    pub send_file: &'static str,
    /// The file chooser's title starts with this; the recipient follows.
    pub choose_file: &'static str,
    pub transfers: &'static str,
    pub accept_file: &'static str,
    pub decline_file: &'static str,
    pub cancel_file: &'static str,
    pub file_to_everyone: &'static str,
    pub file_offering: &'static str,
    pub file_waiting: &'static str,
    pub file_offered: &'static str,
    pub file_running: &'static str,
    /// A received file with every byte in, before its SHA-256 is checked and it is renamed.
    pub file_checking: &'static str,
    pub file_saved_as: &'static str,
    pub file_delivered_to: &'static str,
    pub file_failed: &'static str,
    pub file_cancelled: &'static str,
    pub file_declined: &'static str,
    pub file_part_removed: &'static str,
    pub file_nothing_dropped: &'static str,
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
    login_cancelled: "已取消登录。可以修改后重新登录。",
    key_step_running: "正在运行密钥分发（获取数字信封中的会话密钥）…",
    key_step_done: "密钥分发完成",
    login_failed: "登录失败",
    key_step_failed: "密钥分发失败",
    offer_key_step: "会话密钥缺失、已过期或与服务器不一致。\n现在运行密钥分发获取新的会话密钥，然后重新登录吗？",
    session_ended: "会话已结束",
    offer_new_key: "现在运行密钥分发获取新的会话密钥，然后重新连接吗？",
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
    session_key_info: "密钥编号",
    reconnected: "已重新连接",
    connection_lost: "连接已断开",
    server_error: "服务器",
    frame_rejected: "警告：丢弃了一个未通过校验（MAC/序号/格式）的帧",
    not_sent: "消息没有发送",
    password_not_changed: "密码没有修改",
    change_password: "修改密码",
    current_password: "当前密码：",
    new_password: "新密码（至少 8 个字符）：",
    new_password_again: "再输入一次新密码：",
    passwords_differ: "两次输入的新密码不一样，请重新输入。",
    must_change_password: "第一次登录，请设置你自己的新密码\n（至少 8 个字符，不能和用户名或旧密码相同）：",
    empty_password: "请输入密码",
    password_too_long: "密码太长",
    bad_username: "用户名无效",
    history_end: "—— 以上为历史消息 ——",
    no_older: "—— 没有更早的消息了 ——",
    kept_end: "—— 以上为本机保存的消息 ——",
    send_file: "发送文件",
    choose_file: "选择要发送的文件",
    transfers: "文件传输",
    accept_file: "接收",
    decline_file: "拒绝",
    cancel_file: "取消",
    file_to_everyone: "所有人",
    file_offering: "等待服务器",
    file_waiting: "等待对方接收",
    file_offered: "等待你接收：点“接收”或“拒绝”",
    file_running: "传输中",
    file_checking: "正在校验",
    file_saved_as: "已保存为",
    file_delivered_to: "已送达",
    file_failed: "失败",
    file_cancelled: "已取消",
    file_declined: "已拒绝",
    file_part_removed: "未完成的文件已删除",
    file_nothing_dropped: "拖进来的不是本机的文件，没有发送",
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
    login_cancelled: "Login cancelled. You can change the form and log in again.",
    key_step_running: "Running the key step (session key in a digital envelope)…",
    key_step_done: "Key step done",
    login_failed: "Login failed",
    key_step_failed: "The key step failed",
    offer_key_step: "The session key is missing, expired or not the one the server has.\nRun the key step now to get a new session key, then log in again?",
    session_ended: "Session ended",
    offer_new_key: "Run the key step now to get a new session key, then reconnect?",
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
    session_key_info: "key id",
    reconnected: "Reconnected",
    connection_lost: "Connection lost",
    server_error: "Server",
    frame_rejected: "Warning: dropped a frame that failed its checks (MAC, sequence number or format)",
    not_sent: "Not sent",
    password_not_changed: "Password not changed",
    change_password: "Change password",
    current_password: "Current password:",
    new_password: "New password (at least 8 characters):",
    new_password_again: "New password again:",
    passwords_differ: "The two new passwords differ; type them again.",
    must_change_password: "First login: choose your own new password\n(at least 8 characters, not your username or the old password):",
    empty_password: "Please enter the password",
    password_too_long: "The password is too long",
    bad_username: "Invalid username",
    history_end: "—— earlier messages above ——",
    no_older: "—— no earlier messages ——",
    kept_end: "—— kept on this computer, above ——",
    send_file: "Send file",
    choose_file: "Choose a file to send",
    transfers: "File transfers",
    accept_file: "Accept",
    decline_file: "Decline",
    cancel_file: "Cancel",
    file_to_everyone: "everyone",
    file_offering: "waiting for the server",
    file_waiting: "waiting for an answer",
    file_offered: "click Accept or Decline",
    file_running: "running",
    file_checking: "checking",
    file_saved_as: "saved as",
    file_delivered_to: "delivered to",
    file_failed: "failed",
    file_cancelled: "cancelled",
    file_declined: "declined",
    file_part_removed: "the partial file was removed",
    file_nothing_dropped: "what was dropped is not a local file; nothing was sent",
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

/// The line for an automatic reconnection planned in `secs` seconds (`again`: an attempt has
/// just failed).
pub fn reconnect_in(lang: Language, secs: u64, again: bool) -> String {
    match (lang, again) {
        (Language::Zh, false) => {
            format!("连接断开了，{secs} 秒后自动重新连接（也可以直接点“重新连接”）。")
        }
        (Language::Zh, true) => format!("重新连接没有成功，{secs} 秒后再试。"),
        (Language::En, false) => {
            format!("Disconnected; reconnecting by itself in {secs} s (or click Reconnect).")
        }
        (Language::En, true) => format!("Reconnecting did not work; trying again in {secs} s."),
    }
}
