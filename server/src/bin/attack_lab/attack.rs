//! The attacks, as pure functions over one frame payload: which frame an armed attack waits for,
//! what it turns that frame into, and the sentence (Chinese, then English) that says what it did.
//! Nothing here touches a socket, so every attack is unit-tested on its own.

use std::fmt;

use common::crypto::fingerprint;
use common::protocol::consts::Code;
use common::protocol::consts::code;
use common::protocol::message::b64;
use common::text::{Lines, escape_controls};

/// Which way a frame travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    ToServer,
    ToClient,
}

impl Dir {
    /// "客户端→服务器 / client→server".
    pub fn label(self) -> &'static str {
        match self {
            Self::ToServer => "客户端→服务器 / client→server",
            Self::ToClient => "服务器→客户端 / server→client",
        }
    }
}

/// One armed attack: it waits for the next frame it matches, acts once, and is used up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attack {
    /// Flip one bit of field `field` (counted from 0 after the code, as in PROTOCOL.md; default:
    /// the field before the last, i.e. what the MAC or signature in the last field protects).
    /// `bit` counts from the first byte's most significant bit; default: a random one.
    Flip {
        code: String,
        field: Option<usize>,
        bit: Option<usize>,
    },
    /// Delete the next frame with this code.
    Drop { code: String },
    /// Send the next frame with this code twice (or, typed while one is recorded, the recorded
    /// frame again at once).
    Replay { code: String },
    /// Put the attacker's public key into the next `1100` key hello.
    SubstituteServerKey,
}

/// A command typed on stdin (the command-line flags are the same commands).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Arm(Attack),
    List,
    Help,
    Quit,
}

/// What happens to the matched frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Forward(Vec<u8>),
    Drop,
    Twice(Vec<u8>),
}

/// A sentence in Chinese and English; shown as `中文 / English`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    pub zh: String,
    pub en: String,
}

impl fmt::Display for Said {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} / {}", self.zh, self.en)
    }
}

/// The commands, for `help` and the start banner.
pub const HELP: &str = "\
命令 / commands:
  flip CODE[:FIELD[:BIT]]   翻转下一个 CODE 帧某字段的一位 / flip one bit of the next CODE frame (e.g. flip 1101:4, flip 1002)
  drop CODE                 丢弃下一个 CODE 帧 / drop the next CODE frame (e.g. drop 0002)
  replay CODE               重放最近记录的 CODE 帧（没有就重放下一个）/ replay the last recorded CODE frame (or the next one)
  substitute-server-key     把下一个 1100 帧里的服务器公钥换成攻击者的 / put the attacker's key into the next 1100
  list                      列出待执行的攻击 / list armed attacks
  help | quit";

/// Parse one command line.
///
/// # Errors
/// A sentence (Chinese / English) saying what is wrong.
pub fn parse_command<'a>(line: &'a str) -> Result<Command, Said> {
    let mut words = line.split_whitespace();
    let verb = words.next().unwrap_or_default();
    let arg = words.next();
    if words.next().is_some() {
        return Err(said(
            format!("多余的参数：{line}"),
            format!("too many words: {line}"),
        ));
    }
    let need = |arg: Option<&'a str>| -> Result<&'a str, Said> {
        arg.ok_or_else(|| {
            said(
                format!("{verb} 需要一个帧代码，如 0002"),
                format!("{verb} needs a frame code such as 0002"),
            )
        })
    };
    Ok(match verb {
        "flip" => Command::Arm(parse_flip(need(arg)?)?),
        "drop" => Command::Arm(Attack::Drop {
            code: parse_code(need(arg)?)?,
        }),
        "replay" => Command::Arm(Attack::Replay {
            code: parse_code(need(arg)?)?,
        }),
        "substitute-server-key" if arg.is_none() => Command::Arm(Attack::SubstituteServerKey),
        "list" => Command::List,
        "help" | "?" => Command::Help,
        "quit" | "exit" => Command::Quit,
        _ => {
            return Err(said(
                format!("不认识的命令：{line}（输入 help 查看命令）"),
                format!("unknown command: {line} (type help)"),
            ));
        }
    })
}

fn parse_code(s: &str) -> Result<String, Said> {
    if Code::from_wire(s).is_some() {
        Ok(s.to_owned())
    } else {
        Err(said(
            format!("不是协议里的帧代码：{s}"),
            format!("not a frame code of the protocol: {s}"),
        ))
    }
}

/// `CODE[:FIELD[:BIT]]`.
fn parse_flip(s: &str) -> Result<Attack, Said> {
    let mut parts = s.split(':');
    let code = parse_code(parts.next().unwrap_or_default())?;
    let mut number = |what_zh: &str, what_en: &str| -> Result<Option<usize>, Said> {
        parts
            .next()
            .map(|p| {
                p.parse().map_err(|_| {
                    said(
                        format!("{what_zh}应是数字：{s}"),
                        format!("{what_en} must be a number: {s}"),
                    )
                })
            })
            .transpose()
    };
    let field = number("字段号", "the field")?;
    let bit = number("位号", "the bit")?;
    if parts.next().is_some() {
        return Err(said(
            format!("格式是 CODE[:FIELD[:BIT]]：{s}"),
            format!("the form is CODE[:FIELD[:BIT]]: {s}"),
        ));
    }
    Ok(Attack::Flip { code, field, bit })
}

fn said(zh: String, en: String) -> Said {
    Said { zh, en }
}

/// The code of a frame payload (its text up to the first `|`), if it is one of the protocol's.
pub fn code_of(payload: &[u8]) -> Option<&'static str> {
    let end = payload
        .iter()
        .position(|&b| b == b'|')
        .unwrap_or(payload.len());
    let text = std::str::from_utf8(&payload[..end]).ok()?;
    Code::from_wire(text).map(Code::as_str)
}

impl Attack {
    /// The code of the frames this attack waits for.
    pub fn code(&self) -> &str {
        match self {
            Self::Flip { code, .. } | Self::Drop { code } | Self::Replay { code } => code,
            Self::SubstituteServerKey => code::KEY_HELLO,
        }
    }

    /// What the attack waits for, e.g. "翻转下一个 1101 帧 / flip the next 1101 frame".
    pub fn describe(&self) -> Said {
        let c = self.code();
        match self {
            Self::Flip { .. } => said(
                format!("翻转下一个 {c} 帧的一位"),
                format!("flip a bit of the next {c} frame"),
            ),
            Self::Drop { .. } => said(
                format!("丢弃下一个 {c} 帧"),
                format!("drop the next {c} frame"),
            ),
            Self::Replay { .. } => said(
                format!("重放下一个 {c} 帧"),
                format!("replay the next {c} frame"),
            ),
            Self::SubstituteServerKey => said(
                "替换下一个 1100 帧里的服务器公钥".into(),
                "substitute the server key in the next 1100 frame".into(),
            ),
        }
    }

    /// Apply the attack to `payload` (a frame with [`Self::code`]). `attacker_key` is the
    /// attacker's SPKI DER (for [`Attack::SubstituteServerKey`]); `random` picks the bit when
    /// none was chosen.
    ///
    /// # Errors
    /// A sentence when the frame does not have what the attack needs (the frame then passes
    /// unchanged).
    pub fn apply(
        &self,
        payload: &[u8],
        attacker_key: Option<&[u8]>,
        random: u64,
    ) -> Result<(Outcome, Said), Said> {
        let c = self.code();
        match self {
            Self::Flip { field, bit, .. } => flip(payload, *field, *bit, random),
            Self::Drop { .. } => Ok((
                Outcome::Drop,
                said(
                    format!("已丢弃一个 {c} 帧（它没有到达对方）"),
                    format!("dropped a {c} frame (it never arrives)"),
                ),
            )),
            Self::Replay { .. } => Ok((Outcome::Twice(payload.to_vec()), replayed(c))),
            Self::SubstituteServerKey => substitute(payload, attacker_key.unwrap_or_default()),
        }
    }
}

/// "已重放一个 CODE 帧" (the same frame sent again, unchanged).
pub fn replayed(code: &str) -> Said {
    said(
        format!("已重放一个 {code} 帧（原样再发一次）"),
        format!("replayed a {code} frame (sent again unchanged)"),
    )
}

/// Byte ranges of the fields after the code.
fn field_ranges(payload: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, &b) in payload.iter().enumerate() {
        if b == b'|' {
            if let Some(s) = start {
                out.push((s, i));
            }
            start = Some(i + 1);
        }
    }
    if let Some(s) = start {
        out.push((s, payload.len()));
    }
    out
}

/// Standard base64 that decodes and encodes back to the same text (so a flipped bit in the
/// bytes still travels as valid base64 and reaches the cryptographic check).
fn as_base64(text: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    (!bytes.is_empty() && b64(&bytes).as_bytes() == text).then_some(bytes)
}

fn flip(
    payload: &[u8],
    field: Option<usize>,
    bit: Option<usize>,
    random: u64,
) -> Result<(Outcome, Said), Said> {
    let c = code_of(payload).unwrap_or("?");
    let ranges = field_ranges(payload);
    let field = field.unwrap_or(ranges.len().saturating_sub(2));
    let Some(&(start, end)) = ranges.get(field) else {
        return Err(said(
            format!(
                "{c} 帧只有 {} 个字段（0 到 {}），没有翻转",
                ranges.len(),
                ranges.len().saturating_sub(1)
            ),
            format!(
                "a {c} frame has {} fields (0 to {}); nothing flipped",
                ranges.len(),
                ranges.len().saturating_sub(1)
            ),
        ));
    };
    let decoded = as_base64(&payload[start..end]);
    let mut bytes = decoded
        .clone()
        .unwrap_or_else(|| payload[start..end].to_vec());
    let bits = bytes.len() * 8;
    if bits == 0 {
        return Err(said(
            format!("{c} 帧第 {field} 字段是空的，没有翻转"),
            format!("field {field} of a {c} frame is empty; nothing flipped"),
        ));
    }
    let bit = bit.unwrap_or((random % bits as u64) as usize);
    if bit >= bits {
        return Err(said(
            format!("{c} 帧第 {field} 字段只有 {bits} 位，没有翻转"),
            format!("field {field} of a {c} frame has {bits} bits; nothing flipped"),
        ));
    }
    bytes[bit / 8] ^= 0x80 >> (bit % 8);
    let (new_field, how_zh, how_en) = match decoded {
        Some(_) => (
            b64(&bytes).into_bytes(),
            "base64 解码后的",
            "of the base64-decoded bytes",
        ),
        None => (bytes, "文本的", "of the text"),
    };
    let mut out = payload[..start].to_vec();
    out.extend_from_slice(&new_field);
    out.extend_from_slice(&payload[end..]);
    Ok((
        Outcome::Forward(out),
        said(
            format!(
                "已翻转 {c} 帧第 {field} 字段的第 {bit} 位（{how_zh}第 {} 字节）",
                bit / 8
            ),
            format!(
                "flipped bit {bit} of field {field} of a {c} frame (byte {} {how_en})",
                bit / 8
            ),
        ),
    ))
}

fn substitute(payload: &[u8], attacker_key: &[u8]) -> Result<(Outcome, Said), Said> {
    let ranges = field_ranges(payload);
    let Some(&(start, end)) = ranges.get(1) else {
        return Err(said(
            "这个 1100 帧没有公钥字段，没有替换".into(),
            "this 1100 frame has no key field; nothing substituted".into(),
        ));
    };
    let was = as_base64(&payload[start..end]).map_or_else(|| "?".into(), |der| fingerprint(&der));
    let now = fingerprint(attacker_key);
    let mut out = payload[..start].to_vec();
    out.extend_from_slice(b64(attacker_key).as_bytes());
    out.extend_from_slice(&payload[end..]);
    Ok((
        Outcome::Forward(out),
        said(
            format!("已把 1100 帧里的服务器公钥 {was} 换成攻击者的公钥 {now}"),
            format!(
                "substituted the server key {was} in a 1100 frame with the attacker's key {now}"
            ),
        ),
    ))
}

/// One recorded frame as printed: direction, code, length and the payload with long fields
/// shortened; control characters escaped (whatever a peer sent is data, never a terminal
/// instruction).
pub fn record_line(n: u64, conn: u64, dir: Dir, payload: &[u8]) -> String {
    let line = format!(
        "[帧 / frame {n}, 连接 / conn #{conn}] {} {} ({} B): {}",
        dir.label(),
        code_of(payload).unwrap_or("????"),
        payload.len(),
        short_view(payload)
    );
    escape_controls(&line, Lines::Escape).into_owned()
}

/// The frame an attack sent on instead, printed under the original so a student can compare
/// them.
pub fn altered_line(payload: &[u8]) -> String {
    let line = format!("    改动后 / sent instead: {}", short_view(payload));
    escape_controls(&line, Lines::Escape).into_owned()
}

/// The payload with long fields shortened to their first and last 12 characters (not yet
/// escaped).
fn short_view(payload: &[u8]) -> String {
    String::from_utf8_lossy(payload)
        .split('|')
        .map(|f| {
            let chars: Vec<char> = f.chars().collect();
            if chars.len() > 28 {
                let head: String = chars[..12].iter().collect();
                let tail: String = chars[chars.len() - 12..].iter().collect();
                format!("{head}…{tail}")
            } else {
                f.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("|")
}

/// The whole frame for the `--record` file: `conn dir payload`, control characters escaped.
pub fn saved_line(conn: u64, dir: Dir, payload: &[u8]) -> String {
    let arrow = match dir {
        Dir::ToServer => "C>S",
        Dir::ToClient => "S>C",
    };
    let text = String::from_utf8_lossy(payload);
    format!("{conn} {arrow} {}", escape_controls(&text, Lines::Escape))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_flags_parse() {
        assert_eq!(
            parse_command("flip 1101:4:17").unwrap(),
            Command::Arm(Attack::Flip {
                code: "1101".into(),
                field: Some(4),
                bit: Some(17)
            })
        );
        assert_eq!(
            parse_command("flip 1002").unwrap(),
            Command::Arm(Attack::Flip {
                code: "1002".into(),
                field: None,
                bit: None
            })
        );
        assert_eq!(
            parse_command(" drop 0002 ").unwrap(),
            Command::Arm(Attack::Drop {
                code: "0002".into()
            })
        );
        assert_eq!(
            parse_command("substitute-server-key").unwrap(),
            Command::Arm(Attack::SubstituteServerKey)
        );
        for bad in [
            "flip",
            "flip 9999",
            "flip 1101:x",
            "flip 1101:1:2:3",
            "drop 0002 0003",
            "rm -rf",
        ] {
            let e = parse_command(bad).unwrap_err();
            assert!(!e.zh.is_empty() && !e.en.is_empty(), "{bad}");
        }
    }

    #[test]
    fn flip_changes_exactly_one_bit_of_the_decoded_field() {
        let payload = format!(
            "1002|7|{}|{}|{}",
            b64([1u8; 8]),
            b64([0u8; 16]),
            b64([9u8; 32])
        );
        let (out, said) = Attack::Flip {
            code: "1002".into(),
            field: None,
            bit: Some(9),
        }
        .apply(payload.as_bytes(), None, 0)
        .unwrap();
        let Outcome::Forward(out) = out else { panic!() };
        let mut ct = [0u8; 16];
        ct[1] = 0x40;
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("1002|7|{}|{}|{}", b64([1u8; 8]), b64(ct), b64([9u8; 32]))
        );
        assert_eq!(
            said.zh,
            "已翻转 1002 帧第 2 字段的第 9 位（base64 解码后的第 1 字节）"
        );
        assert_eq!(
            said.en,
            "flipped bit 9 of field 2 of a 1002 frame (byte 1 of the base64-decoded bytes)"
        );
    }

    #[test]
    fn flip_of_a_text_field_and_out_of_range() {
        let (out, _) = Attack::Flip {
            code: "0002".into(),
            field: Some(0),
            bit: Some(7),
        }
        .apply(b"0002|4|a|b|c", None, 0)
        .unwrap();
        assert_eq!(out, Outcome::Forward(b"0002|5|a|b|c".to_vec()));
        let flip = |field, bit| Attack::Flip {
            code: "0002".into(),
            field: Some(field),
            bit: Some(bit),
        };
        assert!(flip(9, 0).apply(b"0002|4|a|b|c", None, 0).is_err());
        assert!(flip(0, 8).apply(b"0002|4|a|b|c", None, 0).is_err());
    }

    #[test]
    fn substitute_replaces_only_the_key() {
        let payload = format!("1100|1|{}|{}", b64(b"server key der"), b64([7u8; 16]));
        let (out, said) = Attack::SubstituteServerKey
            .apply(payload.as_bytes(), Some(b"attacker der"), 0)
            .unwrap();
        assert_eq!(
            out,
            Outcome::Forward(
                format!("1100|1|{}|{}", b64(b"attacker der"), b64([7u8; 16])).into_bytes()
            )
        );
        assert!(said.en.contains(&fingerprint(b"attacker der")), "{said}");
        assert!(said.zh.contains(&fingerprint(b"server key der")), "{said}");
    }

    #[test]
    fn recorded_lines_escape_what_the_peer_sent() {
        let line = record_line(3, 1, Dir::ToClient, b"1009|BAD\x1b]0;pwned\x07|\r\nx");
        assert!(!line.chars().any(char::is_control), "{line:?}");
        assert!(line.contains("\\u{1b}]0;pwned\\u{7}"), "{line}");
        let altered = altered_line(b"0002|\x1b[2J");
        assert_eq!(altered, "    改动后 / sent instead: 0002|\\u{1b}[2J");
        let saved = saved_line(1, Dir::ToServer, b"0002|\x1b[2J");
        assert_eq!(saved, "1 C>S 0002|\\u{1b}[2J");
    }
}
