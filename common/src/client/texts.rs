//! The client's own text table: every error and refusal a student sees, in Chinese (the default)
//! and English, chosen by [`Reason`] or by the client's error kind.
//!
//! Text that came from the network (a `1009`/`1109` message, a frame's rejection detail) is never
//! shown as an instruction: the local text says what happened and what to do; the server's words
//! appear, if at all, only for a reason this build does not know, quoted after the local text
//! ([`quoted`]). Each function here is an exhaustive `match`, so a new reason or error kind does
//! not compile until it has both texts; `tests` checks every one has both languages.

use crate::client::chat_client::{CloseReason, LoginError, NotSentReason, PasswordError};
use crate::client::discover::{Discovered, DiscoveryError, Found};
use crate::client::files::{
    Direction, Failure, FileError, Update, bar, human_bytes, human_duration,
};
use crate::client::key_client::KeyStepError;
use crate::config::Language;
use crate::protocol::consts::{MAX_PASSWORD_LEN, MIN_PASSWORD_CHARS};
use crate::protocol::files::FileState;
use crate::protocol::reason::Reason;

/// Where the text is shown: the remedy for a stale key differs (a button in the GUI, a command
/// in the terminal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface<'a> {
    /// The FLTK windows: the dialog that follows offers the key step.
    Gui,
    /// The terminal mode and the key step's output: `program` is `client_xx`.
    Terminal { program: &'a str },
}

/// The language and the surface a text is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ctx<'a> {
    pub lang: Language,
    pub surface: Surface<'a>,
}

impl<'a> Ctx<'a> {
    /// Text for the terminal mode of `program`.
    pub fn terminal(lang: Language, program: &'a str) -> Self {
        Self {
            lang,
            surface: Surface::Terminal { program },
        }
    }

    /// Text for the GUI.
    pub fn gui(lang: Language) -> Self {
        Self {
            lang,
            surface: Surface::Gui,
        }
    }

    fn zh(&self) -> bool {
        self.lang == Language::Zh
    }

    /// "Get a new key": the key step's remedy on this surface.
    fn get_key(&self) -> String {
        match (self.surface, self.zh()) {
            (Surface::Gui, true) => "请点击“获取密钥并登录”重新获取密钥。".into(),
            (Surface::Gui, false) => "Click \"Get key and log in\" to get a new key.".into(),
            (Surface::Terminal { program }, true) => {
                format!("请先运行 {program} key 重新获取密钥，再登录。")
            }
            (Surface::Terminal { program }, false) => {
                format!("Run {program} key to get a new key, then log in again.")
            }
        }
    }

    /// "Log in again".
    fn again(&self) -> &'static str {
        match (self.surface, self.zh()) {
            (Surface::Gui, true) => "请点击“重新连接”。",
            (Surface::Gui, false) => "Click \"Reconnect\".",
            (Surface::Terminal { .. }, true) => "请重新运行程序登录。",
            (Surface::Terminal { .. }, false) => "Start the program again to log in.",
        }
    }

    fn pick(&self, zh: impl Into<String>, en: impl Into<String>) -> String {
        if self.zh() { zh.into() } else { en.into() }
    }
}

/// Pick the text for `lang`.
pub fn t(lang: Language, zh: &'static str, en: &'static str) -> &'static str {
    match lang {
        Language::Zh => zh,
        Language::En => en,
    }
}

/// Network text as a quoted detail: one line, at most 120 characters, in quotation marks, after
/// a label saying whose words they are. Never an instruction of ours.
pub fn quoted(lang: Language, who_zh: &str, who_en: &str, text: &str) -> String {
    let mut line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(120)
        .collect();
    if text.chars().count() > 120 {
        line.push('…');
    }
    match lang {
        Language::Zh => format!("（{who_zh}原话：“{line}”）"),
        Language::En => format!(" ({who_en} said: \"{line}\")"),
    }
}

/// What a `1009` (chat server) or `1109` (key server) refusal means and what to do about it.
/// `server_message` is shown only, quoted, for a reason this build does not know.
pub fn reason_text(reason: &Reason, server_message: &str, c: Ctx<'_>) -> String {
    let key = c.get_key();
    match reason {
        Reason::BadLogin => c.pick(
            "用户名或密码不对。请检查后重新输入（注意大小写和输入法）；忘记密码请找老师。",
            "Wrong username or password. Check them and type again (mind Caps Lock); ask the teacher if you forgot it.",
        ),
        Reason::NoSessionKey => c.pick(
            format!("服务器上没有你的会话密钥（可能还没做过密钥分发）。{key}"),
            format!("The server has no session key for you (the key step was not done yet). {key}"),
        ),
        Reason::KeyExpired => c.pick(
            format!("你的会话密钥已过期。{key}"),
            format!("Your session key has expired. {key}"),
        ),
        Reason::KeyMismatch => c.pick(
            format!("服务器不接受你的会话密钥（可能还没获取过、在别的电脑上重新获取过，或被老师撤销了）。{key}"),
            format!("The server does not accept your session key (not fetched yet, fetched again on another PC, or revoked by the teacher). {key}"),
        ),
        Reason::LoggedInElsewhere => c.pick(
            format!("这个账号在别的窗口或电脑上登录了，这里已退出。如果不是你本人，请告诉老师并修改密码；要在这里继续，{}", c.again()),
            format!("This account logged in from another window or PC, so this one was logged out. If that was not you, tell the teacher and change your password. To continue here: {}", c.again()),
        ),
        Reason::ServerFull => c.pick(
            "聊天服务器已满（在线人数达到上限）。请过一会儿再登录，或请老师调高 max_connections。",
            "The chat server is full (too many people online). Try again in a while, or ask the teacher to raise max_connections.",
        ),
        Reason::Busy => c.pick(
            "密钥服务器正忙（很多同学同时在获取密钥）。请等几秒钟再试一次。",
            "The key server is busy (many students are getting keys at once). Wait a few seconds and try again.",
        ),
        Reason::DbUnavailable => c.pick(
            "服务器暂时连不上用户数据库，不是你的问题。请告诉老师，稍后再试。",
            "The server cannot reach its user database right now; it is not your fault. Tell the teacher and try again later.",
        ),
        Reason::Shutdown => c.pick(
            format!("聊天服务器正在关闭或重启。请等一会儿，{}", c.again()),
            format!("The chat server is shutting down or restarting. Wait a moment. {}", c.again()),
        ),
        Reason::Idle => c.pick(
            format!("太久没有活动，服务器断开了连接。{}", c.again()),
            format!("The server closed the connection after a long time without activity. {}", c.again()),
        ),
        Reason::TooSlow => c.pick(
            format!("这台电脑接收消息太慢（网络很差或程序卡住），服务器断开了连接。{}", c.again()),
            format!("This PC received messages too slowly (bad network or a frozen program), so the server closed the connection. {}", c.again()),
        ),
        Reason::Timeout => c.pick(
            "服务器等你的程序回应等得太久，断开了连接。请检查网络后再试一次。",
            "The server waited too long for your program and closed the connection. Check the network and try again.",
        ),
        Reason::BadFrame | Reason::TooLong | Reason::TooManyErrors | Reason::BadRequest => c.pick(
            "服务器收到了它无法理解的数据，断开了连接。可能程序版本和服务器不一致：请向老师要最新的客户端文件夹。",
            "The server received data it could not understand and closed the connection. The program may not match the server: ask the teacher for the current client folder.",
        ),
        Reason::FrameLost => c.pick(
            format!("你发出的消息有一条没有到达服务器（可能在网络上被人删除），服务器断开了连接。{}", c.again()),
            format!("A message you sent never reached the server (someone on the network may have deleted it), so the server closed the connection. {}", c.again()),
        ),
        Reason::Internal => c.pick(
            "服务器内部出错，不是你的问题。请告诉老师，稍后再试。",
            "Something went wrong inside the server; it is not your fault. Tell the teacher and try again later.",
        ),
        Reason::BadSignature | Reason::KeySize => c.pick(
            "密钥服务器不接受这个文件夹里的客户端密钥（client_private.pem / client_public.pem）。请向老师要一个新的客户端文件夹。",
            "The key server does not accept this folder's client key (client_private.pem / client_public.pem). Ask the teacher for a new client folder.",
        ),
        Reason::ClientKeyMismatch => c.pick(
            "这个用户名已经绑定了另一台电脑（另一个客户端密钥）。请用你自己的客户端文件夹，或请老师解除绑定。",
            "This username is bound to another PC (another client key). Use your own client folder, or ask the teacher to reset the binding.",
        ),
        Reason::UnknownClient => c.pick(
            "密钥服务器不认识这个客户端（用户名还没有登记）。请检查 client.toml 里的 username，或请老师登记你的客户端。",
            "The key server does not know this client (the username is not registered). Check username in client.toml, or ask the teacher to register your client.",
        ),
        Reason::NotAUser => c.pick(
            "服务器的用户名单里没有这个用户名。请检查 client.toml 里的 username 是否写对，或请老师把你加进名单。",
            "This username is not in the server's user list. Check username in client.toml, or ask the teacher to add you.",
        ),
        Reason::BadConfirm => c.pick(
            "密钥确认没有通过，新的密钥没有生效。请再运行一次密钥分发。",
            "The key confirmation failed, so the new key was not accepted. Run the key step again.",
        ),
        Reason::ServerBusy => c.pick(
            "聊天服务器正忙（很多人同时在登录）。请等几秒钟再登录。",
            "The chat server is busy (many people are logging in at once). Wait a few seconds and log in again.",
        ),
        Reason::SlowDown => c.pick(
            "密码错误的次数太多了，请等半分钟再试，并仔细检查用户名和密码；忘记密码请找老师。",
            "Too many wrong passwords. Wait half a minute before trying again, and check the username and password; ask the teacher if you forgot it.",
        ),
        Reason::Locked => c.pick(
            "这个账号因为密码错误太多次被暂时锁定了（15 分钟后自动解除）。如果不是你本人在试密码，请告诉老师；老师可以立即解锁。",
            "This account is locked for now after too many wrong passwords (it unlocks by itself after 15 minutes). If that was not you trying, tell the teacher, who can unlock it at once.",
        ),
        Reason::Revoked => c.pick(
            format!("老师在服务器上删除了这个账号或重置了它的密码，这里已退出。请向老师要新密码；{}", c.again()),
            format!("The teacher removed this account or reset its password on the server, so you were logged out. Ask the teacher for the new password. {}", c.again()),
        ),
        Reason::PasswordChangeRequired => c.pick(
            "第一次登录必须先设置你自己的新密码，设置好之后才能聊天。",
            "At your first login you must choose your own new password before you can chat.",
        ),
        Reason::WrongPassword => c.pick(
            "当前密码不对。请输入你现在登录用的密码（注意大小写）。",
            "The current password is wrong. Type the password you log in with now (mind Caps Lock).",
        ),
        Reason::PasswordTooShort => c.pick(
            format!("新密码太短：至少要 {MIN_PASSWORD_CHARS} 个字符。请换一个更长的密码。"),
            format!("The new password is too short: use at least {MIN_PASSWORD_CHARS} characters."),
        ),
        Reason::PasswordTooLong => c.pick(
            format!("新密码太长：最多 {MAX_PASSWORD_LEN} 个字节（约 40 个汉字）。请换一个短一些的密码。"),
            format!("The new password is too long: at most {MAX_PASSWORD_LEN} bytes. Choose a shorter one."),
        ),
        Reason::PasswordIsUsername => c.pick(
            "新密码不能和用户名一样。请换一个别人猜不到的密码。",
            "The new password must not be your username. Choose one others cannot guess.",
        ),
        Reason::PasswordUnchanged => c.pick(
            "新密码和当前密码一样。请换一个新的密码。",
            "The new password is the same as the current one. Choose a different one.",
        ),
        Reason::PasswordControlChar => c.pick(
            "新密码里不能有制表符、换行等控制字符。请只用字母、数字、符号或汉字。",
            "The new password must not contain tabs, line breaks or other control characters.",
        ),
        Reason::FileTooLarge => c.pick(
            "文件太大，服务器不转发（上限见服务器的 max_file_mb）。可以压缩或分成几个文件再发。",
            "The file is larger than the server relays (its max_file_mb). Compress it or split it into several files.",
        ),
        Reason::TooManyTransfers => c.pick(
            "你同时发送的文件太多了（服务器的 max_transfers_per_user）。请等前面的发完再发。",
            "You are already sending as many files as the server allows at once (max_transfers_per_user). Wait until one finishes.",
        ),
        Reason::NotOnline => c.pick(
            "对方不在线，文件没有发送（文件不会留到对方上线）。",
            "That user is not online, so the file was not sent (files are not kept until they log in).",
        ),
        Reason::NobodyOnline => c.pick(
            "现在没有别人在线，文件没有发送。",
            "Nobody else is online, so the file was not sent.",
        ),
        Reason::BadOffer => c.pick(
            "这个文件不能发送（文件名为空或太长，或者发给了自己）。",
            "This file cannot be sent (its name is empty or too long, or it was sent to yourself).",
        ),
        Reason::OfferExpired => c.pick(
            "对方没有及时接收，传输已经开始或结束。",
            "The offer was not answered in time; the transfer went ahead without it.",
        ),
        Reason::Declined => c.pick("对方拒绝接收这个文件。", "The recipient declined the file."),
        Reason::FileTooSlow => c.pick(
            "接收方太慢，被移出了这次文件传输（聊天不受影响）。",
            "The recipient was too slow and was dropped from this transfer (the chat goes on).",
        ),
        Reason::SenderCancelled => c.pick("发送方取消了文件传输。", "The sender cancelled the transfer."),
        Reason::RecipientCancelled => {
            c.pick("接收方取消了文件传输。", "The recipient cancelled the transfer.")
        }
        Reason::SenderLeft => c.pick(
            "发送方断开了连接，文件传输中止。",
            "The sender disconnected; the transfer stopped.",
        ),
        Reason::RecipientLeft => c.pick(
            "接收方断开了连接，文件传输中止。",
            "The recipient disconnected; the transfer to them stopped.",
        ),
        Reason::BadHash => c.pick(
            "收到的文件校验（SHA-256）不符，已丢弃，请重新发送。",
            "The received file's SHA-256 does not match; it was discarded. Send it again.",
        ),
        Reason::BadChunk => c.pick(
            "发送方的程序没有按规则发送文件数据，传输已中止。请向老师要最新的客户端。",
            "The sender's program broke the transfer rules; the transfer stopped. Ask the teacher for the current client.",
        ),
        Reason::UnknownTransfer => c.pick(
            "没有这个文件传输（已经结束或被取消）。",
            "There is no such transfer (it ended or was cancelled).",
        ),
        Reason::Unknown(token) => {
            let q = quoted(c.lang, "服务器", "server", server_message);
            c.pick(
                format!("服务器拒绝了请求（代码 {token}）。请把这条消息告诉老师。{q}"),
                format!("The server refused the request (code {token}). Show this message to the teacher.{q}"),
            )
        }
    }
}

/// Where the server is and which port: the text for "cannot connect".
fn unreachable_text(c: Ctx<'_>, what_zh: &str, what_en: &str, addr: &str, port: u16) -> String {
    c.pick(
        format!(
            "连不上{what_zh}（{addr}）。请确认老师的服务器已经启动、这台电脑和服务器在同一个网络，\
             并且服务器电脑的防火墙放行了 TCP 端口 {port}；地址和端口写在 client.toml 里（server_host、端口）。"
        ),
        format!(
            "Cannot connect to the {what_en} at {addr}. Check that the teacher's server is running, that this PC is on \
             the same network, and that the server PC's firewall allows TCP port {port}; the address and ports are in \
             client.toml (server_host and the ports)."
        ),
    )
}

impl LoginError {
    /// The text for the student, in `c.lang`.
    pub fn localized(&self, c: Ctx<'_>) -> String {
        let key = c.get_key();
        match self {
            Self::NoSessionKey { .. } => c.pick(
                format!("这个文件夹里还没有会话密钥（session_key.txt）。{key}"),
                format!("This folder has no session key yet (session_key.txt). {key}"),
            ),
            Self::KeyExpired { expires_at, .. } => c.pick(
                format!("你的会话密钥在 {expires_at} 过期了。{key}"),
                format!("Your session key expired at {expires_at}. {key}"),
            ),
            Self::WrongKeyUser { user, found, .. } => c.pick(
                format!("session_key.txt 里是用户 {found} 的密钥，不是 {user} 的。{key}"),
                format!("session_key.txt holds the key of {found}, not of {user}. {key}"),
            ),
            Self::BadKeyFile(..) => c.pick(
                format!("会话密钥文件 session_key.txt 损坏或无法读取。{key}"),
                format!("The session key file session_key.txt is damaged or cannot be read. {key}"),
            ),
            Self::Unreachable { addr, port, .. } => {
                unreachable_text(c, "聊天服务器", "chat server", addr, *port)
            }
            Self::Refused {
                reason, message, ..
            } => reason_text(reason, message, c),
            Self::Timeout(secs) => c.pick(
                format!("聊天服务器 {secs} 秒内没有回应。可能服务器太忙或网络不通，请稍后再试。"),
                format!("The chat server did not answer within {secs} s. It may be busy or the network is down; try again later."),
            ),
            Self::Closed => c.pick(
                "登录时聊天服务器断开了连接。请检查 client.toml 里的 chat_port 是否是聊天服务器的端口，然后再试一次。",
                "The chat server closed the connection during login. Check that chat_port in client.toml is the chat server's port, then try again.",
            ),
            Self::WrongServer(w) => crate::client::config_texts::wrong_port_text(w, c.lang),
            Self::Discovery(e) => e.localized(c),
            Self::Protocol(detail) => c.pick(
                format!(
                    "聊天服务器的回答无法识别。请检查 client.toml 里的 chat_port（不要写成 key_port），或向老师要最新的客户端。{}",
                    quoted(c.lang, "错误", "error", detail)
                ),
                format!(
                    "The chat server's answer was not understood. Check chat_port in client.toml (not the key_port), or ask the teacher for the current client.{}",
                    quoted(c.lang, "错误", "error", detail)
                ),
            ),
        }
    }
}

impl KeyStepError {
    /// The text for the student, in `c.lang`.
    pub fn localized(&self, c: Ctx<'_>) -> String {
        let still = c.pick(
            "你原来的会话密钥（如果有）仍然有效。",
            "Your previous session key (if any) is still valid.",
        );
        match self {
            Self::Unreachable { addr, port, .. } => {
                unreachable_text(c, "密钥服务器", "key server", addr, *port)
            }
            Self::Refused { reason, message } => reason_text(reason, message, c),
            Self::ServerKeyMismatch { got, pinned, .. } => c.pick(
                format!(
                    "服务器的身份和以前不一样（保存的指纹 {pinned}，现在是 {got}），可能有人在冒充服务器，什么都没有保存。\
                     请马上告诉老师；只有老师确认服务器换了密钥，才用老师给的新 server_public.pem 替换这个文件夹里的旧文件。"
                ),
                format!(
                    "The server's identity changed (pinned fingerprint {pinned}, now {got}); someone may be impersonating \
                     the server, and nothing was stored. Tell the teacher now; only if the teacher confirms the server's \
                     key changed, replace server_public.pem in this folder with the teacher's new one."
                ),
            ),
            Self::BadSignature { .. } | Self::BadEnvelope => c.pick(
                "收到的数字信封没有通过校验（签名或解密失败），什么都没有保存。可能网络被篡改：请告诉老师，再试一次。",
                "The digital envelope failed its checks (signature or decryption), and nothing was stored. The network may be tampered with: tell the teacher and try again.",
            ),
            Self::Timeout(secs) => c.pick(
                format!("密钥服务器 {secs} 秒内没有回应，请稍后再试。{still}"),
                format!("The key server did not answer within {secs} s; try again later. {still}"),
            ),
            Self::Closed { .. } => c.pick(
                format!("密钥服务器中途断开了连接。请检查 client.toml 里的 key_port 是否是密钥服务器的端口，然后再试一次。{still}"),
                format!("The key server closed the connection. Check that key_port in client.toml is the key server's port, then try again. {still}"),
            ),
            Self::Unconfirmed => c.pick(
                "密钥服务器没有确认新密钥（连接中断，或收到的确认没有通过校验），新旧密钥可能不一致。请再运行一次密钥分发。",
                "The key server did not confirm the new key (the connection broke, or the confirmation failed its check), so the keys may not match. Run the key step again.",
            ),
            Self::CannotStore { path, .. } => c.pick(
                format!("新的会话密钥无法写入 {path}（磁盘满了或文件夹只读）。请把客户端文件夹放到可以写入的地方（例如桌面），再试一次。{still}"),
                format!("The new session key cannot be written to {path} (disk full or folder read-only). Put the client folder somewhere writable (such as the desktop) and try again. {still}"),
            ),
            Self::WrongServer(w) => crate::client::config_texts::wrong_port_text(w, c.lang),
            Self::Discovery(e) => e.localized(c),
            Self::Protocol(detail) => c.pick(
                format!(
                    "密钥服务器的回答无法识别。请检查 client.toml 里的 key_port（不要写成 chat_port），或向老师要最新的客户端。{}",
                    quoted(c.lang, "错误", "error", detail)
                ),
                format!(
                    "The key server's answer was not understood. Check key_port in client.toml (not the chat_port), or ask the teacher for the current client.{}",
                    quoted(c.lang, "错误", "error", detail)
                ),
            ),
            Self::Local(e) => c.pick(
                format!(
                    "这个文件夹里的密钥文件无法读取或写入。请检查文件夹是否完整、可以写入，或向老师要一个新的客户端文件夹。{}",
                    quoted(c.lang, "错误", "error", &e.to_string())
                ),
                format!(
                    "A key file in this folder cannot be read or written. Check that the folder is complete and writable, or ask the teacher for a new client folder.{}",
                    quoted(c.lang, "错误", "error", &e.to_string())
                ),
            ),
        }
    }
}

/// A server as discovery met it, for a list: address, name (escaped: it came from the network),
/// ports and fingerprint.
fn found_line(f: &Found, c: Ctx<'_>) -> String {
    let name = crate::text::escape_controls(&f.name, crate::text::Lines::Escape);
    c.pick(
        format!(
            "{}（“{name}”，密钥端口 {}，聊天端口 {}，指纹 {}）",
            f.ip, f.key_port, f.chat_port, f.fingerprint
        ),
        format!(
            "{} (\"{name}\", key port {}, chat port {}, fingerprint {})",
            f.ip, f.key_port, f.chat_port, f.fingerprint
        ),
    )
}

/// One answer announcing another key than the pinned one.
fn wrong_key_text(f: &Found, c: Ctx<'_>) -> String {
    c.pick(
        format!(
            "局域网里有一个服务器自称是老师的服务器，但公钥不对，已忽略：{}。如果经常出现，请告诉老师。",
            found_line(f, c)
        ),
        format!(
            "A server on the local network claims to be the teacher's server, but its key is not the pinned one; ignored: {}. Tell the teacher if this keeps happening.",
            found_line(f, c)
        ),
    )
}

impl DiscoveryError {
    /// The text for the student, in `c.lang`.
    pub fn localized(&self, c: Ctx<'_>) -> String {
        match self {
            Self::NoAnswer { port, wrong_key } => {
                let mut text = c.pick(
                    format!(
                        "在局域网里没有找到老师的服务器（client.toml 里 server_host = \"auto\"，查找用 UDP 端口 {port}）。\
                         请确认老师的 server_key 已经启动、这台电脑和服务器在同一个网络，并且服务器电脑的防火墙放行了 UDP 端口 {port}；\
                         也可以在 client.toml 里把 server_host 写成服务器的 IP 地址，例如 server_host = \"192.168.1.10\"。"
                    ),
                    format!(
                        "The teacher's server was not found on the local network (server_host = \"auto\" in client.toml; the search \
                         uses UDP port {port}). Check that the teacher's server_key is running, that this PC is on the same network, \
                         and that the server PC's firewall allows UDP port {port}; or write the server's IP address as server_host \
                         in client.toml, e.g. server_host = \"192.168.1.10\"."
                    ),
                );
                for f in wrong_key {
                    text.push(' ');
                    text.push_str(&wrong_key_text(f, c));
                }
                text
            }
            Self::Several { servers } => {
                let list: Vec<String> = servers.iter().map(|f| found_line(f, c)).collect();
                c.pick(
                    format!(
                        "局域网里有 {} 个不同的服务器回答：{}。这个文件夹还没有保存服务器公钥（server_public.pem），无法判断哪个是老师的。\
                         请问老师，然后在 client.toml 里把 server_host 写成老师服务器的 IP 地址（或者把老师给的 server_public.pem 放进这个文件夹）。",
                        servers.len(),
                        list.join("；")
                    ),
                    format!(
                        "{} different servers answered on the local network: {}. This folder has no pinned server key \
                         (server_public.pem) yet, so it cannot tell which is the teacher's. Ask the teacher, then write the \
                         teacher's server IP address as server_host in client.toml (or put the teacher's server_public.pem in this folder).",
                        servers.len(),
                        list.join("; ")
                    ),
                )
            }
            Self::Socket { port, source } => c.pick(
                format!(
                    "无法发送查找服务器的广播（UDP 端口 {port}）：这台电脑可能没有联网。请检查网络，或在 client.toml 里写上 server_host。{}",
                    quoted(c.lang, "错误", "error", &source.to_string())
                ),
                format!(
                    "Cannot send the broadcast that looks for the server (UDP port {port}): this PC may have no network. Check the network, or set server_host in client.toml.{}",
                    quoted(c.lang, "错误", "error", &source.to_string())
                ),
            ),
        }
    }
}

/// What `server_host = "auto"` found, one line each: the server used, then every ignored
/// answer with another key.
pub fn discovered_lines(d: &Discovered, c: Ctx<'_>) -> Vec<String> {
    let mut lines = vec![c.pick(
        format!("在局域网里找到了老师的服务器：{}", found_line(&d.server, c)),
        format!(
            "found the teacher's server on the local network: {}",
            found_line(&d.server, c)
        ),
    )];
    lines.extend(d.wrong_key.iter().map(|f| wrong_key_text(f, c)));
    lines
}

impl CloseReason {
    /// Why the session ended, for the student (`None` for our own logout).
    pub fn localized(&self, c: Ctx<'_>) -> Option<String> {
        match self {
            Self::LoggedOut => None,
            Self::ServerError(e) => Some(reason_text(&e.reason, &e.message, c)),
            Self::ServerClosed => Some(c.pick(
                format!("服务器关闭了连接（可能正在重启）。{}", c.again()),
                format!(
                    "The server closed the connection (it may be restarting). {}",
                    c.again()
                ),
            )),
            Self::FrameLost { .. } => Some(c.pick(
                "有消息在网络上丢失了（可能被人删除），连接已断开。请重新连接。",
                "A message was lost on the network (someone may have deleted it), so the connection was closed. Please reconnect.",
            )),
            Self::ConnectionLost { .. } | Self::Gone => Some(c.pick(
                format!("和服务器的网络连接断开了。请检查网络，{}", c.again()),
                format!(
                    "The network connection to the server was lost. Check the network. {}",
                    c.again()
                ),
            )),
        }
    }
}

impl PasswordError {
    /// Why the password was not changed, for the student.
    pub fn localized(&self, c: Ctx<'_>) -> String {
        match self {
            Self::Refused(reason) => reason_text(reason, "", c),
            Self::Timeout(secs) => c.pick(
                format!("聊天服务器 {secs} 秒内没有回答，密码可能没有修改。请用原来的密码重新登录试试。"),
                format!("The chat server did not answer within {secs} s; the password may not have changed. Log in again with the old password to check."),
            ),
            Self::Closed(reason) => reason.localized(c).unwrap_or_else(|| {
                c.pick("已退出登录，密码没有修改。", "Logged out; the password was not changed.")
            }),
        }
    }
}

/// "Password changed" for the student.
pub fn password_changed(lang: Language) -> &'static str {
    t(
        lang,
        "密码已修改。下次登录请用新密码。",
        "Password changed. Use the new password from now on.",
    )
}

impl NotSentReason {
    /// Why a message was not sent, for the student.
    pub fn localized(&self, lang: Language) -> String {
        match self {
            Self::TooLarge(n) => match lang {
                Language::Zh => format!("消息太长（{n} 字节），没有发送。请分成几条发送。"),
                Language::En => {
                    format!(
                        "The message is too long ({n} bytes) and was not sent. Split it into several messages."
                    )
                }
            },
        }
    }
}

/// The key step was just run for `problem`, and the login was refused for the same problem again:
/// another key step will not help, so say what the teacher should look at.
pub fn key_step_did_not_help(problem: &Reason, lang: Language) -> String {
    let text = match problem {
        Reason::KeyExpired => t(
            lang,
            "刚刚取得的新密钥，聊天服务器仍然说已过期。再获取一次也没有用：可能是聊天服务器和密钥服务器的时钟不一致，或密钥有效期（session_ttl）设得太短。请告诉老师。",
            "The chat server says the key just fetched has expired too. Fetching another will not help: the chat server's and the key server's clocks may differ, or the key lifetime (session_ttl) is too short. Please tell the teacher.",
        ),
        _ => t(
            lang,
            "刚刚取得了新密钥，聊天服务器仍然不接受。再获取一次也没有用：聊天服务器和密钥服务器可能没有使用同一个密钥目录（session_key_dir），或者你的账号被撤销了。请告诉老师。",
            "The chat server does not accept the key just fetched either. Fetching another will not help: the chat server and the key server may not share the same key folder (session_key_dir), or your account was revoked. Please tell the teacher.",
        ),
    };
    text.to_owned()
}

/// Labels of the key step's result lines.
pub fn key_id_label(lang: Language) -> &'static str {
    match lang {
        Language::Zh => "密钥编号",
        Language::En => "key id",
    }
}

/// True when `s` contains a CJK ideograph or CJK punctuation.
pub fn has_cjk(s: &str) -> bool {
    s.chars()
        .any(|c| matches!(c as u32, 0x3000..=0x303F | 0x4E00..=0x9FFF | 0xFF00..=0xFFEF))
}

// ---- file transfer (issue 16): what a terminal or the window shows about a transfer. Names from
// the network are shown quoted ({:?} escapes control characters) and were sanitised before.

/// A transfer's failure on this side, in `lang`.
pub fn file_failure_text(f: &Failure, c: Ctx<'_>) -> String {
    match f {
        Failure::Remote(reason) => reason_text(reason, "", c),
        Failure::Cancelled => c.pick("已取消。", "Cancelled."),
        Failure::Local(why) => c.pick(
            format!("本机读写文件出错：{why}"),
            format!("Reading or writing the file on this PC failed: {why}"),
        ),
        Failure::Disconnected => c.pick("连接已断开。", "The connection ended."),
    }
}

impl FileError {
    /// The error in the client's language.
    pub fn localized(&self, lang: Language) -> String {
        let zh = lang == Language::Zh;
        match self {
            Self::Open { path, source } if zh => format!("无法读取 {path}：{source}"),
            Self::Open { path, source } => format!("cannot read {path}: {source}"),
            Self::NotAFile(path) if zh => format!("{path} 不是一个文件"),
            Self::NotAFile(path) => format!("{path} is not a file"),
            Self::Downloads { path, source } if zh => {
                format!(
                    "无法在 {path} 保存文件：{source}（可在 client.toml 里用 downloads 指定别的文件夹）"
                )
            }
            Self::Downloads { path, source } => format!(
                "cannot save files in {path}: {source} (downloads in client.toml sets another folder)"
            ),
            Self::NoSuchTransfer(id) if zh => format!("没有编号为 {id} 的文件传输"),
            Self::NoSuchTransfer(id) => format!("there is no transfer {id}"),
        }
    }
}

/// One line about `u` for a person reading a terminal or a status line; `None` for updates
/// that need no line (progress is drawn by the caller: [`file_progress_text`]).
pub fn file_update_text(u: &Update, c: Ctx<'_>) -> Option<String> {
    Some(match u {
        Update::OfferSent { name, to, size, .. } => match to {
            Some(to) => c.pick(
                format!(
                    "正在把文件 {name:?}（{}）发给 {to}，等待对方接收……",
                    human_bytes(*size)
                ),
                format!(
                    "offering {name:?} ({}) to {to}, waiting for an answer...",
                    human_bytes(*size)
                ),
            ),
            None => c.pick(
                format!(
                    "正在把文件 {name:?}（{}）发给所有人，等待接收……",
                    human_bytes(*size)
                ),
                format!(
                    "offering {name:?} ({}) to everyone, waiting for answers...",
                    human_bytes(*size)
                ),
            ),
        },
        Update::OfferRefused { name, reason, .. } => c.pick(
            format!("文件 {name:?} 没有发送：{}", reason_text(reason, "", c)),
            format!("{name:?} was not sent: {}", reason_text(reason, "", c)),
        ),
        Update::OfferAccepted { id, name, .. } => c.pick(
            format!("文件 {name:?} 的传输编号是 {id}（/cancel {id} 取消）"),
            format!("{name:?} is transfer {id} (/cancel {id} stops it)"),
        ),
        Update::Offered {
            id,
            from_user,
            from_nick,
            name,
            size,
            auto,
        } => {
            let who = format!(
                "{} ({from_user})",
                crate::text::escape_controls(from_nick, crate::text::Lines::Escape)
            );
            match (auto, c.zh()) {
                (true, true) => format!(
                    "{who} 发来文件 {name:?}（{}），已自动接收（编号 {id}）",
                    human_bytes(*size)
                ),
                (true, false) => format!(
                    "{who} sends {name:?} ({}); accepted automatically (transfer {id})",
                    human_bytes(*size)
                ),
                (false, true) => format!(
                    "{who} 发来文件 {name:?}（{}）。接收：/accept {id}　拒绝：/decline {id}",
                    human_bytes(*size)
                ),
                (false, false) => format!(
                    "{who} offers {name:?} ({}). /accept {id} or /decline {id}",
                    human_bytes(*size)
                ),
            }
        }
        Update::Recipient {
            id,
            user,
            state,
            reason,
        } => {
            let why = reason
                .as_ref()
                .map(|r| reason_text(r, "", c))
                .unwrap_or_default();
            match state {
                FileState::Accepted => c.pick(
                    format!("{user} 接收了文件（编号 {id}）"),
                    format!("{user} accepted transfer {id}"),
                ),
                FileState::Declined => c.pick(
                    format!("{user} 拒绝了文件（编号 {id}）"),
                    format!("{user} declined transfer {id}"),
                ),
                FileState::Done => c.pick(
                    format!("{user} 已完整收到文件（编号 {id}，SHA-256 一致）"),
                    format!("{user} received transfer {id} completely (SHA-256 matches)"),
                ),
                FileState::Failed | FileState::Over => c.pick(
                    format!("{user} 没有收到文件（编号 {id}）：{why}"),
                    format!("{user} did not get transfer {id}: {why}"),
                ),
            }
        }
        Update::Progress { .. } => return None,
        Update::Saved { id, path, from } => c.pick(
            format!(
                "已收到 {from} 的文件（编号 {id}），SHA-256 校验一致，保存为 {}",
                path.display()
            ),
            format!(
                "received transfer {id} from {from}; SHA-256 checked; saved as {}",
                path.display()
            ),
        ),
        Update::Failed {
            id,
            direction,
            name,
            failure,
        } => {
            let why = file_failure_text(failure, c);
            match direction {
                Direction::Send => c.pick(format!("发送 {name:?}（编号 {id}）失败：{why}"), format!("sending {name:?} (transfer {id}) failed: {why}")),
                Direction::Receive => c.pick(
                    format!("接收 {name:?}（编号 {id}）没有完成，未完成的文件已删除：{why}"),
                    format!("receiving {name:?} (transfer {id}) did not finish; the partial file was removed: {why}"),
                ),
            }
        }
        Update::Finished {
            id,
            name,
            delivered,
            reason,
        } => {
            if delivered.is_empty() {
                let why = reason
                    .as_ref()
                    .map(|r| reason_text(r, "", c))
                    .unwrap_or_default();
                c.pick(
                    format!("文件 {name:?}（编号 {id}）没有人收到：{why}"),
                    format!("nobody received {name:?} (transfer {id}): {why}"),
                )
            } else {
                let list = delivered.join(", ");
                c.pick(
                    format!("文件 {name:?}（编号 {id}）发送完毕，收到的人：{list}"),
                    format!("{name:?} (transfer {id}) is done; received by {list}"),
                )
            }
        }
    })
}

/// `发送 a.bin [#####.....] 52% 10 MB / 20 MB 35 MB/s 剩余 1 s`.
pub fn file_progress_text(
    direction: Direction,
    name: &str,
    done: u64,
    total: u64,
    speed: f64,
    eta: Option<std::time::Duration>,
    c: Ctx<'_>,
) -> String {
    let frac = if total == 0 {
        1.0
    } else {
        done as f64 / total as f64
    };
    let what = match direction {
        Direction::Send => c.pick("发送", "sending"),
        Direction::Receive => c.pick("接收", "receiving"),
    };
    let left = eta.map_or_else(|| "?".to_owned(), human_duration);
    format!(
        "{what} {name:?} {} {:>3.0}% {} / {} {}/s {} {left}",
        bar(frac, 20),
        frac * 100.0,
        human_bytes(done),
        human_bytes(total),
        human_bytes(speed as u64),
        c.pick("剩余", "left"),
    )
}

#[cfg(test)]
mod tests {
    //! Every reason and every client error kind has a text in both languages: the test builds
    //! one value of each kind through an exhaustive `match`, so a new variant fails to compile
    //! here until it is listed.
    use super::*;
    use crate::client::folder::{PortKey, WrongPort};
    use crate::protocol::chat::ErrorMsg;

    fn io() -> std::io::Error {
        std::io::Error::other("x")
    }

    fn wrong_port(key: PortKey) -> WrongPort {
        WrongPort {
            key,
            port: 8090,
            should_be: 8091,
            file: Some("client.toml".into()),
            line: Some(3),
        }
    }

    fn login_errors() -> Vec<LoginError> {
        let mut all = vec![
            LoginError::NoSessionKey {
                user: "u".into(),
                path: "p".into(),
                program: "client_wy".into(),
            },
            LoginError::KeyExpired {
                user: "u".into(),
                expires_at: "2026-12-01 10:00".into(),
                program: "client_wy".into(),
            },
            LoginError::WrongKeyUser {
                user: "u".into(),
                found: "v".into(),
                path: "p".into(),
                program: "client_wy".into(),
            },
            LoginError::BadKeyFile(
                crate::error::KeyFileError::Missing { path: "p".into() },
                "client_wy".into(),
            ),
            LoginError::Unreachable {
                addr: "10.0.0.1:8090".into(),
                port: 8090,
                source: io(),
            },
            LoginError::Refused {
                reason: Reason::BadLogin,
                message: "m".into(),
                hint: String::new(),
            },
            LoginError::Timeout(15),
            LoginError::Closed,
            LoginError::Protocol("detail".into()),
            LoginError::WrongServer(wrong_port(PortKey::ChatPort)),
        ];
        all.extend(discovery_errors().into_iter().map(LoginError::Discovery));
        for e in &all {
            // Exhaustive: a new variant must be added to the list above.
            match e {
                LoginError::NoSessionKey { .. }
                | LoginError::KeyExpired { .. }
                | LoginError::WrongKeyUser { .. }
                | LoginError::BadKeyFile(..)
                | LoginError::Unreachable { .. }
                | LoginError::Refused { .. }
                | LoginError::Timeout(_)
                | LoginError::Closed
                | LoginError::Protocol(_)
                | LoginError::WrongServer(_)
                | LoginError::Discovery(_) => {}
            }
        }
        all
    }

    fn key_errors() -> Vec<KeyStepError> {
        let mut all = vec![
            KeyStepError::Unreachable {
                addr: "10.0.0.1:8091".into(),
                port: 8091,
                source: io(),
            },
            KeyStepError::Refused {
                reason: Reason::Busy,
                message: "m".into(),
            },
            KeyStepError::ServerKeyMismatch {
                addr: "a".into(),
                got: "g".into(),
                pinned: "p".into(),
                path: "x".into(),
            },
            KeyStepError::BadSignature { server: "s".into() },
            KeyStepError::BadEnvelope,
            KeyStepError::Timeout(30),
            KeyStepError::Closed { during: "x" },
            KeyStepError::Unconfirmed,
            KeyStepError::CannotStore {
                path: "p".into(),
                source: io(),
            },
            KeyStepError::Protocol("detail".into()),
            KeyStepError::Local(crate::Error::Io(io())),
            KeyStepError::WrongServer(wrong_port(PortKey::KeyPort)),
        ];
        all.extend(discovery_errors().into_iter().map(KeyStepError::Discovery));
        for e in &all {
            match e {
                KeyStepError::Unreachable { .. }
                | KeyStepError::Refused { .. }
                | KeyStepError::ServerKeyMismatch { .. }
                | KeyStepError::BadSignature { .. }
                | KeyStepError::BadEnvelope
                | KeyStepError::Timeout(_)
                | KeyStepError::Closed { .. }
                | KeyStepError::Unconfirmed
                | KeyStepError::CannotStore { .. }
                | KeyStepError::Protocol(_)
                | KeyStepError::Local(_)
                | KeyStepError::WrongServer(_)
                | KeyStepError::Discovery(_) => {}
            }
        }
        all
    }

    fn found(last: u8, fp: char) -> Found {
        Found {
            ip: std::net::IpAddr::from([10, 0, 0, last]),
            key_port: 8091,
            chat_port: 8090,
            fingerprint: format!("SHA256:{}", fp.to_string().repeat(43)),
            name: "teacher-pc\u{1b}[2J".into(),
        }
    }

    fn discovery_errors() -> Vec<DiscoveryError> {
        let all = vec![
            DiscoveryError::NoAnswer {
                port: 8092,
                wrong_key: vec![],
            },
            DiscoveryError::NoAnswer {
                port: 8092,
                wrong_key: vec![found(9, 'B')],
            },
            DiscoveryError::Several {
                servers: vec![found(2, 'A'), found(9, 'B')],
            },
            DiscoveryError::Socket {
                port: 8092,
                source: io(),
            },
        ];
        for e in &all {
            match e {
                DiscoveryError::NoAnswer { .. }
                | DiscoveryError::Several { .. }
                | DiscoveryError::Socket { .. } => {}
            }
        }
        all
    }

    #[test]
    fn discovery_texts_name_the_udp_port_and_escape_the_name() {
        for lang in [Language::Zh, Language::En] {
            let c = Ctx::terminal(lang, "client_wy");
            for e in discovery_errors() {
                let t = e.localized(c);
                assert!(!t.contains('\u{1b}'), "{t}");
            }
            let none = discovery_errors()[0].localized(c);
            assert!(none.contains("UDP") && none.contains("8092"), "{none}");
            let d = Discovered {
                server: found(2, 'A'),
                wrong_key: vec![found(9, 'B')],
            };
            let lines = discovered_lines(&d, c);
            assert_eq!(lines.len(), 2);
            assert!(lines[1].contains("10.0.0.9") && lines[1].contains(&"B".repeat(43)));
        }
        let zh = discovered_lines(
            &Discovered {
                server: found(2, 'A'),
                wrong_key: vec![found(9, 'B')],
            },
            Ctx::gui(Language::Zh),
        );
        assert!(
            zh[1].contains("自称是老师的服务器，但公钥不对，已忽略"),
            "{}",
            zh[1]
        );
    }

    fn close_reasons() -> Vec<CloseReason> {
        let all = vec![
            CloseReason::LoggedOut,
            CloseReason::ServerError(ErrorMsg {
                reason: Reason::Idle,
                message: "m".into(),
            }),
            CloseReason::ServerClosed,
            CloseReason::ConnectionLost {
                sending: true,
                error: "e".into(),
            },
            CloseReason::FrameLost {
                got: 3,
                expected: 2,
            },
            CloseReason::Gone,
        ];
        for r in &all {
            match r {
                CloseReason::LoggedOut
                | CloseReason::ServerError(_)
                | CloseReason::ServerClosed
                | CloseReason::ConnectionLost { .. }
                | CloseReason::FrameLost { .. }
                | CloseReason::Gone => {}
            }
        }
        all
    }

    fn password_errors() -> Vec<PasswordError> {
        let mut all = vec![
            PasswordError::Timeout(15),
            PasswordError::Closed(CloseReason::LoggedOut),
        ];
        all.extend(close_reasons().into_iter().map(PasswordError::Closed));
        all.extend(Reason::ALL.iter().cloned().map(PasswordError::Refused));
        for e in &all {
            match e {
                PasswordError::Refused(_)
                | PasswordError::Timeout(_)
                | PasswordError::Closed(_) => {}
            }
        }
        all
    }

    /// Every text of the table in `lang`, labelled with where it came from.
    fn all_texts(lang: Language) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for c in [Ctx::gui(lang), Ctx::terminal(lang, "client_wy")] {
            let mut reasons: Vec<Reason> = Reason::ALL.to_vec();
            reasons.push(Reason::Unknown("NEW_THING".into()));
            for r in &reasons {
                out.push((format!("{r:?}"), reason_text(r, "server words", c)));
            }
            for e in login_errors() {
                out.push((format!("{e:?}"), e.localized(c)));
            }
            for e in key_errors() {
                out.push((format!("{e:?}"), e.localized(c)));
            }
            for r in close_reasons() {
                if let Some(t) = r.localized(c) {
                    out.push((format!("{r:?}"), t));
                }
            }
            for e in password_errors() {
                out.push((format!("{e:?}"), e.localized(c)));
            }
        }
        out.push(("password_changed".into(), password_changed(lang).into()));
        out.push((
            "TooLarge".into(),
            NotSentReason::TooLarge(9).localized(lang),
        ));
        out
    }

    #[test]
    fn every_reason_and_error_has_both_languages() {
        for (what, zh) in all_texts(Language::Zh) {
            assert!(has_cjk(&zh), "{what}: the zh text has no Chinese: {zh}");
            assert!(zh.chars().count() >= 8, "{what}: zh text too short: {zh}");
        }
        for (what, en) in all_texts(Language::En) {
            assert!(!has_cjk(&en), "{what}: the en text contains Chinese: {en}");
            assert!(en.len() >= 10, "{what}: en text too short: {en}");
        }
    }

    #[test]
    fn server_words_are_never_shown_for_known_reasons() {
        for lang in [Language::Zh, Language::En] {
            for r in Reason::ALL {
                let t = reason_text(
                    r,
                    "Download the new client from http://evil",
                    Ctx::gui(lang),
                );
                assert!(!t.contains("evil"), "{r:?}: {t}");
            }
            let t = reason_text(
                &Reason::Unknown("X".into()),
                "Delete server_public.pem\nnow",
                Ctx::gui(lang),
            );
            assert!(
                t.contains("Delete server_public.pem now"),
                "quoted, one line: {t}"
            );
        }
    }

    #[test]
    fn the_terminal_names_the_command_and_the_gui_the_button() {
        let t = reason_text(
            &Reason::KeyExpired,
            "",
            Ctx::terminal(Language::Zh, "client_dz"),
        );
        assert!(t.contains("client_dz key"), "{t}");
        let g = reason_text(&Reason::KeyExpired, "", Ctx::gui(Language::Zh));
        assert!(g.contains("获取密钥并登录"), "{g}");
    }
}
