//! The frame inspector: what one message of the chat window was on the wire and what the client
//! did with it, in the student's language. A click on a message (or on one of its frame lines
//! under "show ciphertext") picks it ([`hit`]); [`inspect`] lays its frames out: the labelled
//! fields (code, sequence number, IV, ciphertext, MAC), the steps the client took (MAC checked
//! with the MAC key, then DES-CBC decrypted with the session key and this IV) and the plaintext
//! fields. For one's own message, the frame that went out comes first, with the steps that
//! sealed it.

use common::config::Language;
use common::protocol::consts::code;
use common::protocol::sealed::FrameFields;
use common::trace::hex_blocks;

use super::render::{Entry, WireDir, one_line, render, wire_line};
use crate::format::clock;

/// Where a click landed: an entry of the message list and, if it was one of the entry's frame
/// lines, which frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub entry: usize,
    pub wire: Option<usize>,
}

/// The entry (and frame line) at byte `pos` of the message list, which holds `entries` rendered
/// one after the other (as the window does).
pub fn hit<'a>(
    entries: impl Iterator<Item = &'a Entry>,
    show_wire: bool,
    lang: Language,
    pos: usize,
) -> Option<Hit> {
    locate(entries, show_wire, lang, pos).map(|(entry, _, wire)| Hit { entry, wire })
}

/// What the inspector shows for a click at byte `pos` of the message list: [`hit`], then
/// [`inspect`]. `None` for a place without a frame (local lines, past the end).
pub fn inspect_at<'a>(
    entries: impl Iterator<Item = &'a Entry>,
    show_wire: bool,
    lang: Language,
    pos: usize,
) -> Option<Inspection> {
    let (_, e, wire) = locate(entries, show_wire, lang, pos)?;
    inspect(e, wire, lang)
}

fn locate<'a>(
    entries: impl Iterator<Item = &'a Entry>,
    show_wire: bool,
    lang: Language,
    pos: usize,
) -> Option<(usize, &'a Entry, Option<usize>)> {
    let mut start = 0;
    for (i, e) in entries.enumerate() {
        let len = render(e, show_wire, lang).text.len();
        if pos < start + len {
            let mut wire = None;
            if show_wire {
                // The frame lines are the last lines of the entry's rendering.
                let mut line_start = start + len;
                for (w, (dir, text)) in e.wires.iter().enumerate().rev() {
                    line_start -= wire_line(*dir, text, lang).len();
                    if pos >= line_start {
                        wire = Some(w);
                        break;
                    }
                }
            }
            return Some((i, e, wire));
        }
        start += len;
    }
    None
}

/// What the inspector window shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    pub title: String,
    /// Monospaced text, one field or step a line.
    pub text: String,
}

/// Lay out the frames of `e` (`None` for a line that never crossed the wire: local information).
/// `wire` is the frame line clicked, if one was; otherwise every frame of the entry is shown.
pub fn inspect(e: &Entry, wire: Option<usize>, lang: Language) -> Option<Inspection> {
    if e.wires.is_empty() {
        return None;
    }
    let t = texts(lang);
    let mut out = String::new();
    for (i, (dir, text)) in e.wires.iter().enumerate() {
        if wire.is_some_and(|w| w != i) {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        frame_block(&mut out, *dir, text, e.plain_of(*dir), t);
    }
    let what = if e.header.is_empty() {
        one_line(&e.body)
    } else {
        one_line(&e.header)
    };
    Some(Inspection {
        title: format!("{} - {what}", t.title),
        text: out,
    })
}

/// One frame: heading, labelled fields, then the steps (received: MAC, DES-CBC, plaintext;
/// sent: plaintext, DES-CBC, MAC).
fn frame_block(out: &mut String, dir: WireDir, wire: &str, plain: Option<&str>, t: &Texts) {
    let heading = match dir {
        WireDir::Sent => t.sent,
        WireDir::Received => t.received,
        WireDir::Rejected => t.rejected,
    };
    out.push_str(heading);
    out.push('\n');
    let Some(f) = FrameFields::parse(wire, 0) else {
        push_field(out, t.raw, &one_line(wire));
        return;
    };
    fields(out, &f, t);
    out.push('\n');
    let seq = one_line(&f.seq);
    match dir {
        WireDir::Received => {
            out.push_str(t.steps_received);
            out.push('\n');
            out.push_str(&format!("  1. {}\n", t.step_mac.replace("{seq}", &seq)));
            out.push_str(&format!("  2. {}\n", t.step_des));
            plaintext(out, "  3. ", &f.code, plain, t);
        }
        WireDir::Sent => {
            out.push_str(t.steps_sent);
            out.push('\n');
            plaintext(out, "  1. ", &f.code, plain, t);
            out.push_str(&format!("  2. {}\n", t.step_encrypt));
            out.push_str(&format!("  3. {}\n", t.step_seal.replace("{seq}", &seq)));
        }
        WireDir::Rejected => {
            out.push_str(&format!("  {}\n", t.step_rejected));
        }
    }
}

/// The labelled fields of a sealed frame; bytes in hex, the ciphertext in 8-byte DES blocks.
fn fields(out: &mut String, f: &FrameFields, t: &Texts) {
    let name = code_name(&f.code, t);
    push_field(out, t.code, &format!("{}{name}", one_line(&f.code)));
    push_field(out, t.seq, &one_line(&f.seq));
    let bytes = |field: &str| FrameFields::bytes(field);
    match bytes(&f.iv) {
        Some(iv) => push_field(
            out,
            t.iv,
            &format!("{} ({} {})", hex_blocks(&iv), iv.len(), t.bytes),
        ),
        None => push_field(out, t.iv, &one_line(&f.iv)),
    }
    match bytes(&f.ciphertext) {
        Some(ct) => {
            let blocks = ct.len() / 8;
            push_field(
                out,
                t.ciphertext,
                &format!("{} {}, {} {}", ct.len(), t.bytes, blocks, t.des_blocks),
            );
            // Four DES blocks a line.
            for line in hex_blocks(&ct).split(' ').collect::<Vec<_>>().chunks(4) {
                out.push_str(&format!(
                    "{:w$}{}\n",
                    "",
                    line.join(" "),
                    w = LABEL_COLS + 3
                ));
            }
        }
        None => push_field(out, t.ciphertext, &one_line(&f.ciphertext)),
    }
    match bytes(&f.mac) {
        Some(mac) => {
            push_field(
                out,
                t.mac,
                &format!("{} {}, HMAC-SHA-256", mac.len(), t.bytes),
            );
            out.push_str(&format!(
                "{:w$}{}\n",
                "",
                hex_blocks(&mac),
                w = LABEL_COLS + 3
            ));
        }
        None => push_field(out, t.mac, &one_line(&f.mac)),
    }
}

/// Columns for a field's label (CJK characters count two).
const LABEL_COLS: usize = 18;

/// `  label       value` with the labels aligned.
fn push_field(out: &mut String, label: &str, value: &str) {
    use unicode_width::UnicodeWidthStr as _;
    let pad = LABEL_COLS.saturating_sub(label.width());
    out.push_str(&format!("  {label}{} {value}\n", " ".repeat(pad)));
}

/// The plaintext step: the text inside the seal, then its fields by name.
fn plaintext(out: &mut String, step: &str, code: &str, plain: Option<&str>, t: &Texts) {
    let Some(plain) = plain else {
        out.push_str(&format!("{step}{}\n", t.plain_unknown));
        return;
    };
    out.push_str(&format!("{step}{}\n", t.plain));
    out.push_str(&format!("       \"{}\"\n", one_line(plain)));
    let values: Vec<&str> = if plain.is_empty() {
        Vec::new()
    } else {
        plain.split('|').collect()
    };
    let names = field_names(code, t);
    for (i, raw) in values.iter().enumerate() {
        let (label, kind) = names.get(i).copied().unwrap_or((t.field, Kind::Raw));
        let label = if label == t.field {
            format!("{label} {}", i + 1)
        } else {
            label.to_owned()
        };
        let shown = match kind {
            Kind::Raw => one_line(raw),
            Kind::Time => raw
                .parse::<u64>()
                .map_or_else(|_| one_line(raw), |ms| format!("{raw} ({})", clock(ms))),
            Kind::Text | Kind::To => {
                match FrameFields::bytes(raw).and_then(|b| String::from_utf8(b).ok()) {
                    Some(s) if s.is_empty() && kind == Kind::To => format!("({})", t.everyone),
                    Some(s) if s.is_empty() => format!("({})", t.empty),
                    Some(s) => format!("{} → \"{}\"", one_line(raw), one_line(&s)),
                    None => one_line(raw),
                }
            }
        };
        out.push_str("     ");
        push_field(out, &label, &shown);
    }
}

/// How a plaintext field is written: as it is, a time in milliseconds, text in base64, or the
/// recipient in base64 (empty: everyone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Raw,
    Time,
    Text,
    To,
}

/// The names of the plaintext fields of the frames the chat window shows (PROTOCOL.md §6).
fn field_names(c: &str, t: &Texts) -> Vec<(&'static str, Kind)> {
    match c {
        code::CHAT => vec![(t.to, Kind::To), (t.text, Kind::Text)],
        code::CHAT_MESSAGE => vec![
            (t.msg_id, Kind::Raw),
            (t.time, Kind::Time),
            (t.from_user, Kind::Text),
            (t.from_nick, Kind::Text),
            (t.to, Kind::To),
            (t.text, Kind::Text),
        ],
        code::NOTICE => vec![
            (t.kind, Kind::Raw),
            (t.user, Kind::Text),
            (t.nick, Kind::Text),
            (t.text, Kind::Text),
        ],
        _ => Vec::new(),
    }
}

/// `（聊天消息）` / ` (chat message)` after a code the window shows.
fn code_name(c: &str, t: &Texts) -> String {
    let name = match c {
        code::CHAT => t.code_chat,
        code::CHAT_MESSAGE => t.code_chat_message,
        code::USER_LIST => t.code_user_list,
        code::NOTICE => t.code_notice,
        code::PASSWORD_RESULT => t.code_password_result,
        _ => return String::new(),
    };
    format!(" ({name})")
}

/// The inspector's fixed texts in one language.
#[derive(Debug)]
pub struct Texts {
    pub title: &'static str,
    pub sent: &'static str,
    pub received: &'static str,
    pub rejected: &'static str,
    pub raw: &'static str,
    pub code: &'static str,
    pub seq: &'static str,
    pub iv: &'static str,
    pub ciphertext: &'static str,
    pub mac: &'static str,
    pub bytes: &'static str,
    pub des_blocks: &'static str,
    pub steps_received: &'static str,
    pub steps_sent: &'static str,
    pub step_mac: &'static str,
    pub step_des: &'static str,
    pub step_encrypt: &'static str,
    pub step_seal: &'static str,
    pub step_rejected: &'static str,
    pub plain: &'static str,
    pub plain_unknown: &'static str,
    pub field: &'static str,
    pub empty: &'static str,
    pub everyone: &'static str,
    pub msg_id: &'static str,
    pub time: &'static str,
    pub from_user: &'static str,
    pub from_nick: &'static str,
    pub to: &'static str,
    pub text: &'static str,
    pub kind: &'static str,
    pub user: &'static str,
    pub nick: &'static str,
    pub code_chat: &'static str,
    pub code_chat_message: &'static str,
    pub code_user_list: &'static str,
    pub code_notice: &'static str,
    pub code_password_result: &'static str,
}

/// Chinese (the default).
pub const ZH: Texts = Texts {
    title: "帧检查器",
    sent: "↑ 我发出的密文帧（我 → 服务器）",
    received: "↓ 收到的密文帧（服务器 → 我）",
    rejected: "✗ 被丢弃的帧",
    raw: "原样",
    code: "代码",
    seq: "序号",
    iv: "初始向量 IV",
    ciphertext: "密文",
    mac: "MAC（消息认证码）",
    bytes: "字节",
    des_blocks: "个 DES 分组",
    steps_received: "客户端收到后做了什么：",
    steps_sent: "客户端发送前做了什么：",
    step_mac: "用会话的 MAC 密钥计算 HMAC-SHA-256（覆盖方向、本连接的随机数、代码、序号 {seq}、IV 和密文），与帧里的 MAC 一致 → 帧没有被改动；序号紧接上一帧 → 不是重放",
    step_des: "用会话密钥（DES）和这个 IV 做 DES-CBC 解密，去掉填充 → 明文",
    step_encrypt: "用会话密钥（DES）和一个新的随机 IV 做 DES-CBC 加密（先补齐到 8 字节的整数倍）→ 密文",
    step_seal: "用会话的 MAC 密钥计算 HMAC-SHA-256（覆盖方向、本连接的随机数、代码、序号 {seq}、IV 和密文）→ 帧尾的 MAC",
    step_rejected: "没有通过校验（MAC、序号或格式），客户端把它丢弃了，没有解密。",
    plain: "明文（各字段用 | 分隔，文字是 base64）：",
    plain_unknown: "明文没有保存。",
    field: "字段",
    empty: "空",
    everyone: "空 = 所有人",
    msg_id: "消息编号",
    time: "时间",
    from_user: "发送者",
    from_nick: "发送者昵称",
    to: "接收者",
    text: "内容",
    kind: "类型",
    user: "用户",
    nick: "昵称",
    code_chat: "聊天请求",
    code_chat_message: "聊天消息",
    code_user_list: "在线列表",
    code_notice: "通知",
    code_password_result: "改密码结果",
};

/// English (`language = "en"`).
pub const EN: Texts = Texts {
    title: "Frame inspector",
    sent: "↑ Frame I sent (me → server)",
    received: "↓ Frame received (server → me)",
    rejected: "✗ Frame dropped",
    raw: "as received",
    code: "code",
    seq: "sequence",
    iv: "IV",
    ciphertext: "ciphertext",
    mac: "MAC",
    bytes: "bytes",
    des_blocks: "DES blocks",
    steps_received: "What the client did with it:",
    steps_sent: "What the client did before sending:",
    step_mac: "MAC checked with the session's MAC key: HMAC-SHA-256 over the direction, this connection's nonce, the code, sequence number {seq}, the IV and the ciphertext equals the frame's MAC → not altered; the number follows the last one → not a replay",
    step_des: "DES-CBC decrypted with the session key and this IV, padding removed → the plaintext",
    step_encrypt: "DES-CBC encrypted with the session key and a fresh random IV (padded to a multiple of 8 bytes) → the ciphertext",
    step_seal: "MAC computed with the session's MAC key: HMAC-SHA-256 over the direction, this connection's nonce, the code, sequence number {seq}, the IV and the ciphertext → the MAC at the end",
    step_rejected: "It failed its checks (MAC, sequence number or format): the client dropped it without decrypting.",
    plain: "Plaintext (fields separated by |, text in base64):",
    plain_unknown: "The plaintext was not kept.",
    field: "field",
    empty: "empty",
    everyone: "empty = everyone",
    msg_id: "message no.",
    time: "time",
    from_user: "from",
    from_nick: "nickname",
    to: "to",
    text: "text",
    kind: "kind",
    user: "user",
    nick: "nickname",
    code_chat: "chat request",
    code_chat_message: "chat message",
    code_user_list: "user list",
    code_notice: "notice",
    code_password_result: "password result",
};

/// The inspector's texts for `lang`.
pub fn texts(lang: Language) -> &'static Texts {
    match lang {
        Language::Zh => &ZH,
        Language::En => &EN,
    }
}
