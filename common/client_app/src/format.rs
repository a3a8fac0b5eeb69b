//! Pure text formatting shared by the terminal mode and the GUI (tested without a display).

use common::protocol::chat::{ChatLine, Notice, NoticeKind, OnlineUser};
use common::protocol::consts::MAX_HISTORY_COUNT;
use common::text::{Lines, escape_controls};

pub use common::client::clock::{init_local_offset, local_time};

/// Messages `/history` without a number asks for.
pub const DEFAULT_HISTORY_COUNT: u32 = 20;

/// `HH:MM:SS` in local time for a server timestamp in milliseconds.
pub fn clock(time_ms: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(time_ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(common::client::clock::local_offset());
    format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
}

/// A server timestamp in local time, and that day.
fn local(time_ms: u64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(time_ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(common::client::clock::local_offset())
}

/// `HH:MM:SS` when `time_ms` is on the same local day as `now_ms`, else `YYYY-MM-DD HH:MM:SS`
/// (a stored message from another day says which).
pub fn stamp(time_ms: u64, now_ms: u64) -> String {
    let t = local(time_ms);
    if t.date() == local(now_ms).date() {
        clock(time_ms)
    } else {
        format!(
            "{:04}-{:02}-{:02} {}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            clock(time_ms)
        )
    }
}

/// The current time in milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// One terminal line for a stored message: `[历史 HH:MM:SS] NICKNAME: TEXT` (with the date when
/// not today), so it never reads as a live `[HH:MM:SS]` line.
pub fn history_cli_line(line: &ChatLine, me: &str, now: u64, zh: bool) -> String {
    let text = visible(&line.text).replace('\n', "\n    ");
    format!(
        "[{} {}] {}: {}",
        if zh { "历史" } else { "history" },
        stamp(line.time_ms, now),
        sender_label(line, me),
        text
    )
}

/// The line under the history a login brought.
pub fn history_end_line(zh: bool) -> &'static str {
    if zh {
        "—— 以上为历史消息 ——"
    } else {
        "—— earlier messages above ——"
    }
}

/// Make text safe to show: control characters (NUL, ESC, ...), the Unicode line/paragraph
/// separators and the bidi overrides become visible `\u{..}` escapes instead of truncating,
/// corrupting or reordering the display (or forging a line for a reader that splits on U+2028);
/// newlines and tabs stay.
pub fn visible(text: &str) -> String {
    escape_controls(text, Lines::Keep).into_owned()
}

/// A name (nickname, username) on one line: every control and layout character escaped.
fn name(n: &str) -> String {
    escape_controls(n, Lines::Escape).into_owned()
}

/// The header of a chat line: `NICK` or `NICK -> TO (private)` / `NICK (private)`.
pub fn sender_label(line: &ChatLine, me: &str) -> String {
    let nick = name(&line.from_nick);
    match &line.to {
        None => nick,
        Some(to) if line.from_user == me => format!("{nick} -> {} (private)", name(to)),
        Some(_) => format!("{nick} (private)"),
    }
}

/// One terminal line: `[HH:MM:SS] NICKNAME: TEXT`, continuation lines indented.
pub fn cli_line(line: &ChatLine, me: &str) -> String {
    let text = visible(&line.text).replace('\n', "\n    ");
    format!(
        "[{}] {}: {}",
        clock(line.time_ms),
        sender_label(line, me),
        text
    )
}

/// A notice as one line.
pub fn notice_line(n: &Notice, zh: bool) -> String {
    let who = name(if n.nick.is_empty() { &n.user } else { &n.nick });
    match (n.kind, zh) {
        (NoticeKind::Join, true) => format!("{who} 进入了聊天室"),
        (NoticeKind::Join, false) => format!("{who} joined"),
        (NoticeKind::Leave, true) if n.text.is_empty() => format!("{who} 离开了聊天室"),
        (NoticeKind::Leave, false) if n.text.is_empty() => format!("{who} left"),
        (NoticeKind::Leave, true) => format!("{who} 离开了聊天室 ({})", name(&n.text)),
        (NoticeKind::Leave, false) => format!("{who} left ({})", name(&n.text)),
        (NoticeKind::Held, true) => format!("对方不在线，上线后会收到（{who}）"),
        (NoticeKind::Held, false) => {
            format!("{who} is offline; they will receive it when they next log in")
        }
        (NoticeKind::Info | NoticeKind::Warn, _) => visible(&n.text),
    }
}

/// `nick (user), nick (user)`.
pub fn online_list(users: &[OnlineUser]) -> String {
    users
        .iter()
        .map(|u| format!("{} ({})", name(&u.nickname), name(&u.username)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A command typed in the terminal or the GUI input box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Typed {
    Say(String),
    Whisper {
        to: String,
        text: String,
    },
    Who,
    Quit,
    /// `/passwd`: change the own password (asked for without echo, never on this line).
    Passwd,
    /// `/history N`: the N messages before the oldest one shown.
    History(u32),
    /// `/send PATH [USER]`: offer a file to USER, or to everyone. A PATH with spaces is quoted
    /// (`/send "my file.txt" user2`).
    SendFile {
        path: String,
        to: Option<String>,
    },
    /// `/accept ID`, `/decline ID`, `/cancel ID`.
    FileAction {
        action: FileAction,
        id: u64,
    },
    /// Unrecognised `/command`: show usage.
    Help(String),
    Empty,
}

/// What to do with a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileAction {
    Accept,
    Decline,
    Cancel,
}

/// `PATH [USER]` of `/send`: a quoted path is taken as it is; otherwise a last word after a
/// space is the user.
fn parse_send(arg: &str) -> Typed {
    let arg = arg.trim();
    let usage = || {
        Typed::Help(
            "usage: /send PATH [USER]   (quote a PATH with spaces: /send \"a b.txt\" user2)".into(),
        )
    };
    let (path, rest) = if let Some(quoted) = arg.strip_prefix('"') {
        match quoted.split_once('"') {
            Some((p, rest)) => (p.to_owned(), rest.trim()),
            None => return usage(),
        }
    } else {
        match arg.rsplit_once(' ') {
            Some((p, user)) => (p.trim_end().to_owned(), user),
            None => (arg.to_owned(), ""),
        }
    };
    if path.is_empty() || rest.contains(' ') {
        return usage();
    }
    Typed::SendFile {
        path,
        to: (!rest.is_empty()).then(|| rest.to_owned()),
    }
}

/// The file and recipient `/send PATH [USER]` means: a path with a space whose last word was
/// taken for the user is taken whole when that is the file that exists (the terminal and the
/// chat window both ask this before offering).
pub fn send_args(path: &str, to: Option<String>) -> (String, Option<String>) {
    match &to {
        Some(user) if !std::path::Path::new(path).exists() => {
            let whole = format!("{path} {user}");
            if std::path::Path::new(&whole).is_file() {
                (whole, None)
            } else {
                (path.to_owned(), to)
            }
        }
        _ => (path.to_owned(), to),
    }
}

/// Parse one typed line: `/w USER TEXT`, `/who`, `/quit`, otherwise a message.
pub fn parse_typed(line: &str) -> Typed {
    let trimmed = line.trim_end_matches(['\r', '\n']);
    if trimmed.trim().is_empty() {
        return Typed::Empty;
    }
    let Some(cmd) = trimmed.strip_prefix('/') else {
        return Typed::Say(trimmed.to_owned());
    };
    let mut parts = cmd.splitn(3, ' ');
    match parts.next().unwrap_or("") {
        "w" | "msg" => match (parts.next(), parts.next()) {
            (Some(to), Some(text)) if !to.is_empty() && !text.trim().is_empty() => Typed::Whisper {
                to: to.to_owned(),
                text: text.to_owned(),
            },
            _ => Typed::Help("usage: /w USER TEXT".into()),
        },
        "who" => Typed::Who,
        "history" => match parts.next().map(str::trim) {
            None | Some("") => Typed::History(DEFAULT_HISTORY_COUNT),
            Some(n) => match n.parse::<u32>() {
                Ok(n) if (1..=MAX_HISTORY_COUNT).contains(&n) => Typed::History(n),
                _ => Typed::Help(format!("usage: /history N (1 to {MAX_HISTORY_COUNT})")),
            },
        },
        "send" => {
            let arg = cmd.split_once(' ').map_or("", |(_, a)| a);
            parse_send(arg)
        }
        verb @ ("accept" | "decline" | "cancel") => {
            let action = match verb {
                "accept" => FileAction::Accept,
                "decline" => FileAction::Decline,
                _ => FileAction::Cancel,
            };
            match parts
                .next()
                .map(str::trim)
                .and_then(|n| n.parse::<u64>().ok())
            {
                Some(id) if parts.next().is_none() => Typed::FileAction { action, id },
                _ => Typed::Help(format!(
                    "usage: /{verb} ID (the number shown with the file)"
                )),
            }
        }
        "quit" | "exit" => Typed::Quit,
        "passwd" | "password" => Typed::Passwd,
        other => Typed::Help(format!(
            "unknown command /{other}; use /w USER TEXT, /who, /history N, /passwd, /send PATH [USER], /accept ID, /decline ID, /cancel ID or /quit"
        )),
    }
}

#[cfg(test)]
mod history_tests {
    use super::*;

    fn line(time_ms: u64) -> ChatLine {
        ChatLine {
            msg_id: 7,
            time_ms,
            from_user: "user2".into(),
            from_nick: "ding_zhen".into(),
            to: None,
            text: "早上好\nline 2".into(),
        }
    }

    #[test]
    fn history_command_takes_a_count() {
        assert_eq!(
            parse_typed("/history"),
            Typed::History(DEFAULT_HISTORY_COUNT)
        );
        assert_eq!(parse_typed("/history 5"), Typed::History(5));
        assert_eq!(
            parse_typed("/history 200"),
            Typed::History(MAX_HISTORY_COUNT)
        );
        for bad in ["/history 0", "/history 201", "/history x"] {
            assert!(matches!(parse_typed(bad), Typed::Help(_)), "{bad}");
        }
    }

    /// `/send my file.txt` read as PATH `my` and USER `file.txt`: taken whole when that file
    /// exists and `my` does not.
    #[test]
    fn send_args_take_a_path_with_a_space_whole() {
        let dir = std::env::temp_dir().join(format!("send-args-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let whole = dir.join("my file.txt");
        std::fs::write(&whole, b"x").unwrap();
        let first = dir.join("my").display().to_string();
        assert_eq!(
            send_args(&first, Some("file.txt".into())),
            (whole.display().to_string(), None)
        );
        assert_eq!(
            send_args(&first, Some("user2".into())),
            (first.clone(), Some("user2".into()))
        );
        let path = whole.display().to_string();
        assert_eq!(send_args(&path, None), (path.clone(), None));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn file_commands() {
        let send = |path: &str, to: Option<&str>| Typed::SendFile {
            path: path.into(),
            to: to.map(Into::into),
        };
        assert_eq!(parse_typed("/send a.txt"), send("a.txt", None));
        assert_eq!(
            parse_typed("/send /tmp/a.txt user2"),
            send("/tmp/a.txt", Some("user2"))
        );
        assert_eq!(
            parse_typed("/send \"my file.txt\" user2"),
            send("my file.txt", Some("user2"))
        );
        assert_eq!(
            parse_typed("/send \"my file.txt\""),
            send("my file.txt", None)
        );
        for bad in [
            "/send",
            "/send \"open",
            "/send \"a\" b c",
            "/accept",
            "/accept x",
            "/cancel 1 2",
        ] {
            assert!(matches!(parse_typed(bad), Typed::Help(_)), "{bad}");
        }
        assert_eq!(
            parse_typed("/accept 12"),
            Typed::FileAction {
                action: FileAction::Accept,
                id: 12
            }
        );
        assert_eq!(
            parse_typed("/decline 3"),
            Typed::FileAction {
                action: FileAction::Decline,
                id: 3
            }
        );
        assert_eq!(
            parse_typed("/cancel 4"),
            Typed::FileAction {
                action: FileAction::Cancel,
                id: 4
            }
        );
    }

    #[test]
    fn stored_lines_never_read_as_live_ones() {
        let now = 1_700_000_000_000;
        let today = history_cli_line(&line(now - 1000), "user1", now, true);
        assert!(today.starts_with("[历史 "), "{today}");
        assert!(!today.contains('-'), "no date today: {today}");
        assert!(today.ends_with("ding_zhen: 早上好\n    line 2"), "{today}");
        let old = history_cli_line(&line(now - 3 * 86_400_000), "user1", now, false);
        assert!(old.starts_with("[history 2023-11-"), "{old}");
        // A live line starts `[HH:MM:SS]`: scripts tell the two apart.
        assert!(cli_line(&line(now), "user1").starts_with(&format!("[{}]", clock(now))));
    }

    #[test]
    fn held_notice_in_both_languages() {
        let n = Notice {
            kind: NoticeKind::Held,
            user: "user3".into(),
            nick: String::new(),
            text: String::new(),
        };
        assert_eq!(notice_line(&n, true), "对方不在线，上线后会收到（user3）");
        assert!(notice_line(&n, false).contains("next log in"));
    }
}
