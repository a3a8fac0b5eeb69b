//! What is wrong with a config file, found from the text itself: the line, the key, and the
//! mistake in words a teacher or a student can act on, with the fix.
//!
//! `toml`'s own messages describe the grammar ("invalid float, expected nothing" for
//! `server_host = 192.168.1.10`). Here the error's position only picks the line; the line's key
//! and raw value are then judged against that key's [`Kind`] (a text, a port, a number in a
//! range, one of a few words), so each mistake gets the same [`Mistake`] whatever `toml`'s wording
//! is. The servers show [`Mistake`]'s English `Display`; the clients localize it
//! (`client::config_texts`).

use std::time::Duration;

use super::Language;
use super::duration;

/// What a key of a config file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text in quotes (a host, a name, a path, a URL).
    Text,
    /// A whole number in `min..=max`, without quotes.
    Number { min: u64, max: u64 },
    /// One of these words, in quotes.
    Choice(&'static [&'static str]),
    /// A duration in quotes (`"10m"`, [`super::duration`]) from `min` to `max`.
    Duration { min: Duration, max: Duration },
    /// `true` or `false`, without quotes.
    Bool,
}

/// A key of a config file: its name, what it holds and a correct example line's value.
#[derive(Debug, Clone)]
pub struct Field {
    pub key: &'static str,
    pub kind: Kind,
    /// The value the fix shows when the file's own value cannot be reused (the default).
    pub example: String,
}

impl Field {
    pub fn text(key: &'static str, example: impl Into<String>) -> Self {
        Self {
            key,
            kind: Kind::Text,
            example: example.into(),
        }
    }

    pub fn number(key: &'static str, min: u64, max: u64, example: impl ToString) -> Self {
        Self {
            key,
            kind: Kind::Number { min, max },
            example: example.to_string(),
        }
    }

    pub fn port(key: &'static str, example: u16) -> Self {
        Self::number(key, 1, u64::from(u16::MAX), example)
    }

    pub fn duration(key: &'static str, min: Duration, max: Duration, example: &str) -> Self {
        Self {
            key,
            kind: Kind::Duration { min, max },
            example: example.to_owned(),
        }
    }

    pub fn boolean(key: &'static str, example: bool) -> Self {
        Self {
            key,
            kind: Kind::Bool,
            example: example.to_string(),
        }
    }

    pub fn choice(key: &'static str, choices: &'static [&'static str]) -> Self {
        Self {
            key,
            kind: Kind::Choice(choices),
            example: choices[0].to_owned(),
        }
    }

    /// The correct line with `value` (quoted when the key holds text).
    pub fn line_with(&self, value: &str) -> String {
        match self.kind {
            Kind::Number { .. } | Kind::Bool => format!("{} = {value}", self.key),
            Kind::Text | Kind::Choice(_) | Kind::Duration { .. } => {
                format!("{} = \"{value}\"", self.key)
            }
        }
    }

    /// The correct line with the example value.
    pub fn example_line(&self) -> String {
        self.line_with(&self.example)
    }
}

/// One mistake in a config file. Every variant carries what its fix needs; `fix` is always a
/// complete correct line (or lines) the reader can copy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mistake {
    /// `server_host = 192.168.1.10`: text without quotes.
    Unquoted { key: String, fix: String },
    /// `server_host = "192.168.1.10`: the closing quote is missing.
    Unclosed { key: String, fix: String },
    /// `username =`: no value after `=`.
    Empty { key: String, fix: String },
    /// `chat_port = "8090"`: a number in quotes.
    QuotedNumber { key: String, fix: String },
    /// `chat_port = abc` or `80.5`: not a whole number.
    NotANumber {
        key: String,
        min: u64,
        max: u64,
        fix: String,
    },
    /// `chat_port = 70000`: a whole number outside `min..=max`.
    OutOfRange {
        key: String,
        value: String,
        min: u64,
        max: u64,
        fix: String,
    },
    /// `keep_history = yes`, `"true"` or `1`: a switch is `true` or `false`, without quotes.
    NotBool {
        key: String,
        value: String,
        fix: String,
    },
    /// `language = "cn"`: not one of the accepted words.
    BadChoice {
        key: String,
        value: String,
        choices: &'static [&'static str],
        fix: String,
    },
    /// A key this file does not have (`sever_host`, or a key of another config file).
    UnknownKey {
        key: String,
        /// The key probably meant (same letters up to case, `-`/`_`, one typo).
        suggestion: Option<&'static str>,
        known: Vec<&'static str>,
    },
    /// `[section]`: these files have no sections.
    Section { name: String },
    /// The same key twice.
    Duplicate { key: String },
    /// A line that is not `key = value` (no `=`, stray text).
    NotKeyValue { text: String },
    /// `server_host = "127.0.0.1:38091"`: a port inside the host.
    PortInHost {
        key: String,
        port: String,
        fix: String,
    },
    /// `server_host = "http://..."`, spaces, or another thing that is not a host name or address.
    BadHost {
        key: String,
        value: String,
        fix: String,
    },
    /// `username` breaks the username rules.
    BadUsername { value: String, fix: String },
    /// `key_port` and `chat_port` are the same port: one of them points at the wrong server.
    SamePorts { port: u16 },
    /// `session_ttl = "10"` or `"30s"`: not a duration, or outside `min..=max`; `value` is the
    /// raw text of the line (with its quotes, if any).
    BadDuration {
        key: String,
        value: String,
        min: Duration,
        max: Duration,
        fix: String,
    },
    /// A key and the older key it replaces are both set (`session_ttl` and `session_ttl_hours`).
    Superseded { old: String, new: String },
    /// `listen` is not `address:port`.
    BadListen {
        key: String,
        value: String,
        fix: String,
    },
    /// `database` is not a URL the server understands (its password is masked).
    BadDatabase { value: String },
    /// The file is not UTF-8 (saved as GBK/ANSI by an old editor).
    NotUtf8,
    /// Anything else: `toml`'s own words.
    Syntax { detail: String },
}

impl std::fmt::Display for Mistake {
    /// English, for the servers' operator (clients use their own table).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unquoted { key, fix } => write!(f, "the value of {key} must be in quotes: {fix}"),
            Self::Unclosed { key, fix } => {
                write!(f, "the value of {key} lacks its closing quote: {fix}")
            }
            Self::Empty { key, fix } => write!(f, "{key} has no value after '=': {fix}"),
            Self::QuotedNumber { key, fix } => {
                write!(f, "{key} is a number and takes no quotes: {fix}")
            }
            Self::NotANumber { key, min, max, fix } => {
                write!(f, "{key} must be a whole number from {min} to {max}: {fix}")
            }
            Self::OutOfRange {
                key,
                value,
                min,
                max,
                fix,
            } => write!(
                f,
                "{key} = {value} is outside {min}..={max}: for example {fix}"
            ),
            Self::BadChoice {
                key,
                value,
                choices,
                fix,
            } => write!(
                f,
                "{key} must be {}, not \"{value}\": for example {fix}",
                quoted_list(choices)
            ),
            Self::NotBool { key, value, fix } => write!(
                f,
                "{key} must be true or false (without quotes), not {value}: {fix}"
            ),
            Self::UnknownKey {
                key,
                suggestion,
                known,
            } => match suggestion {
                Some(s) => write!(f, "unknown key {key}; did you mean {s}?"),
                None => write!(
                    f,
                    "unknown key {key} (this file's keys: {}); delete the line or fix the name",
                    known.join(", ")
                ),
            },
            Self::Section { name } => write!(
                f,
                "[{name}]: this file has no sections; delete the line and keep the keys at the top level"
            ),
            Self::Duplicate { key } => {
                write!(f, "{key} is set a second time; delete one of the two lines")
            }
            Self::NotKeyValue { text } => write!(
                f,
                "\"{text}\" is not a setting; each line is key = value (text in quotes), or a # comment"
            ),
            Self::PortInHost { key, port, fix } => write!(
                f,
                "{key} contains a port (:{port}); ports go in their own keys, not in {key}: {fix}"
            ),
            Self::BadHost { key, value, fix } => write!(
                f,
                "{key} = \"{value}\" is not a host name or IP address: for example {fix}"
            ),
            Self::BadUsername { value, fix } => write!(
                f,
                "username \"{value}\" is not valid: use 1 to {} ASCII letters, digits, '_', '-' or '.', not \
                 starting with '.' or '-', and not a Windows device name; for example {fix}",
                crate::protocol::consts::MAX_USERNAME_LEN
            ),
            Self::SamePorts { port } => write!(
                f,
                "key_port and chat_port are both {port}; they must be the key server's and the chat server's \
                 ports (by default key_port = {}, chat_port = {})",
                crate::protocol::consts::DEFAULT_KEY_PORT,
                crate::protocol::consts::DEFAULT_CHAT_PORT
            ),
            Self::BadDuration {
                key,
                value,
                min,
                max,
                fix,
            } => write!(
                f,
                "{key} = {value} is not a duration from {} to {}: a whole number and a unit (s, m, h or d) \
                 in quotes, for example {fix}",
                duration::show(*min),
                duration::show(*max)
            ),
            Self::Superseded { old, new } => write!(
                f,
                "{new} and {old} are both set; delete the {old} line ({new} replaces it)"
            ),
            Self::BadListen { key, value, fix } => write!(
                f,
                "{key} = \"{value}\" is not ADDRESS:PORT: for example {fix}"
            ),
            Self::BadDatabase { value } => write!(
                f,
                "database = \"{value}\" is not sqlite://PATH, sqlite::memory: or \
                 mysql://USER:PASSWORD@HOST:3306/DATABASE: for example database = \"sqlite://data/mini_chat.db\""
            ),
            Self::NotUtf8 => write!(
                f,
                "the file is not UTF-8 text; save it again as UTF-8 (in Notepad: Save as, Encoding UTF-8)"
            ),
            Self::Syntax { detail } => write!(f, "not valid TOML: {detail}"),
        }
    }
}

/// `"a", "b" or "c"`.
pub fn quoted_list(choices: &[&str]) -> String {
    let q: Vec<String> = choices.iter().map(|c| format!("\"{c}\"")).collect();
    match q.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => q.join(""),
    }
}

/// A line split into its key and raw value (comment removed), if it is `key = value`.
fn split_line(line: &str) -> Option<(String, String)> {
    let (k, v) = line.split_once('=')?;
    let key = k.trim().trim_matches(['"', '\'']).to_owned();
    if key.is_empty() || key.contains(char::is_whitespace) {
        return None;
    }
    Some((key, strip_comment(v.trim()).to_owned()))
}

/// `value  # comment` -> `value`, leaving a `#` inside quotes alone.
fn strip_comment(v: &str) -> &str {
    let mut quote = None;
    for (i, c) in v.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') => return v[..i].trim_end(),
            _ => {}
        }
    }
    v
}

/// The 1-based line holding byte `offset` of `text`.
pub fn line_of_offset(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    1 + text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

/// The 1-based line where `key` is set (the first one), if it is.
pub fn line_of_key(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| split_line(l).is_some_and(|(k, _)| k == key))
        .map(|i| i + 1)
}

/// The language a client.toml asks for, read line by line so that it is known even when another
/// line of the file is broken; Chinese when the `language` line is missing or itself wrong.
pub fn language_hint(text: &str) -> Language {
    let en = text.lines().any(|line| {
        split_line(line).is_some_and(|(k, v)| k == "language" && (v == "\"en\"" || v == "'en'"))
    });
    if en { Language::En } else { Language::Zh }
}

/// Find what is wrong on `line` (1-based) of `text`, given the file's fields; `detail` is
/// `toml`'s message, used when the line itself looks right.
pub fn diagnose(text: &str, line: usize, fields: &[Field], detail: &str) -> Mistake {
    let raw = text
        .lines()
        .nth(line.saturating_sub(1))
        .unwrap_or("")
        .trim();
    let raw = raw.trim_start_matches('\u{feff}');
    if let Some(name) = raw.strip_prefix('[') {
        return Mistake::Section {
            name: name.trim_end_matches(']').trim().to_owned(),
        };
    }
    let Some((key, value)) = split_line(raw) else {
        return Mistake::NotKeyValue {
            text: raw.chars().take(60).collect(),
        };
    };
    let Some(field) = fields.iter().find(|f| f.key == key) else {
        return unknown_key(&key, fields);
    };
    // The same key on an earlier line.
    if text
        .lines()
        .take(line.saturating_sub(1))
        .any(|l| split_line(l).is_some_and(|(k, _)| k == key))
    {
        return Mistake::Duplicate { key };
    }
    judge_value(field, &value).unwrap_or_else(|| Mistake::Syntax {
        detail: detail.to_owned(),
    })
}

/// What is wrong with the raw text `value` for `field`, if anything.
fn judge_value(field: &Field, value: &str) -> Option<Mistake> {
    let key = field.key.to_owned();
    if value.is_empty() {
        return Some(Mistake::Empty {
            key,
            fix: field.example_line(),
        });
    }
    let quote = value.chars().next().filter(|c| matches!(c, '"' | '\''));
    let inner = quote.map(|q| {
        let body = &value[1..];
        body.find(q).map(|end| &body[..end])
    });
    match field.kind {
        Kind::Text | Kind::Choice(_) => match inner {
            None => Some(Mistake::Unquoted {
                key,
                fix: field.line_with(value),
            }),
            Some(None) => Some(Mistake::Unclosed {
                fix: field.line_with(value.trim_start_matches(['"', '\''])),
                key,
            }),
            Some(Some(inner)) => match field.kind {
                Kind::Choice(choices) if !choices.contains(&inner) => Some(Mistake::BadChoice {
                    key,
                    value: inner.to_owned(),
                    choices,
                    fix: field.example_line(),
                }),
                _ => None,
            },
        },
        Kind::Duration { min, max } => {
            let fits = |t: &str| duration::parse(t).is_some_and(|d| (min..=max).contains(&d));
            match inner {
                Some(None) => Some(Mistake::Unclosed {
                    fix: field.line_with(value.trim_start_matches(['"', '\''])),
                    key,
                }),
                None if fits(value) => Some(Mistake::Unquoted {
                    key,
                    fix: field.line_with(value),
                }),
                Some(Some(inner)) if fits(inner) => None,
                _ => Some(Mistake::BadDuration {
                    key,
                    value: value.to_owned(),
                    min,
                    max,
                    fix: field.example_line(),
                }),
            }
        }
        Kind::Bool => judge_bool(field, value),
        Kind::Number { min, max } => {
            if let Some(Some(inner)) = inner
                && let Ok(n) = inner.trim().parse::<u64>()
                && (min..=max).contains(&n)
            {
                return Some(Mistake::QuotedNumber {
                    key,
                    fix: field.line_with(inner.trim()),
                });
            }
            match value.replace('_', "").parse::<i128>() {
                Ok(n) if n < i128::from(min) || n > i128::from(max) => Some(Mistake::OutOfRange {
                    key,
                    value: value.to_owned(),
                    min,
                    max,
                    fix: field.example_line(),
                }),
                Ok(_) => None,
                Err(_) => Some(Mistake::NotANumber {
                    key,
                    min,
                    max,
                    fix: field.example_line(),
                }),
            }
        }
    }
}

/// A switch: `true` or `false`. A value that plainly means one of them (`"true"`, `yes`, `1`,
/// `开`, any case) is fixed to it; anything else gets the default.
fn judge_bool(field: &Field, value: &str) -> Option<Mistake> {
    if value == "true" || value == "false" {
        return None;
    }
    let bare = value.trim_matches(['"', '\'']).trim().to_lowercase();
    let meant = match bare.as_str() {
        "true" | "yes" | "on" | "1" | "是" | "开" | "打开" => "true",
        "false" | "no" | "off" | "0" | "否" | "关" | "关闭" => "false",
        _ => field.example.as_str(),
    };
    Some(Mistake::NotBool {
        key: field.key.to_owned(),
        value: value.chars().take(40).collect(),
        fix: field.line_with(meant),
    })
}

/// [`Mistake::UnknownKey`] with the key probably meant.
fn unknown_key(key: &str, fields: &[Field]) -> Mistake {
    let norm = |s: &str| s.to_ascii_lowercase().replace('-', "_");
    let suggestion = fields
        .iter()
        .find(|f| norm(f.key) == norm(key))
        .or_else(|| fields.iter().find(|f| edit_distance(f.key, key) <= 2))
        .map(|f| f.key);
    Mistake::UnknownKey {
        key: key.to_owned(),
        suggestion,
        known: fields.iter().map(|f| f.key).collect(),
    }
}

/// Levenshtein distance (keys are short).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// `host` if it is a plausible host name or IP address; otherwise the mistake.
pub fn check_host(key: &str, host: &str) -> Result<(), Mistake> {
    let key_s = key.to_owned();
    let fix_with = |h: &str| format!("{key} = \"{h}\"");
    if host.trim().is_empty() {
        return Err(Mistake::Empty {
            key: key_s,
            fix: fix_with("127.0.0.1"),
        });
    }
    if let Some((_, rest)) = host.split_once("://") {
        let bare = rest.split(['/', ':']).next().unwrap_or("");
        return Err(Mistake::BadHost {
            key: key_s,
            value: host.to_owned(),
            fix: fix_with(if bare.is_empty() { "127.0.0.1" } else { bare }),
        });
    }
    // `1.2.3.4:8091`, `name:8091`, `[::1]:8091` (a bare IPv6 address has several colons).
    let split = if let Some(rest) = host.strip_prefix('[') {
        rest.split_once("]:")
    } else if host.matches(':').count() == 1 {
        host.split_once(':')
    } else {
        None
    };
    if let Some((h, port)) = split {
        return Err(Mistake::PortInHost {
            key: key_s,
            port: port.to_owned(),
            fix: fix_with(h),
        });
    }
    let ok = host
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
    if !ok {
        let cleaned: String = host
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
            .collect();
        return Err(Mistake::BadHost {
            key: key_s,
            value: host.to_owned(),
            fix: fix_with(if cleaned.is_empty() {
                "127.0.0.1"
            } else {
                &cleaned
            }),
        });
    }
    Ok(())
}

/// `listen` must be `ADDRESS:PORT`.
pub fn check_listen(key: &str, value: &str, default_port: u16) -> Result<(), Mistake> {
    let bad = |fix: String| Mistake::BadListen {
        key: key.to_owned(),
        value: value.to_owned(),
        fix,
    };
    let (host, port) = match value.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && !h.ends_with(':') => (h, p),
        _ => {
            let host = if value.trim().is_empty() {
                "0.0.0.0"
            } else {
                value.trim()
            };
            return Err(bad(format!("{key} = \"{host}:{default_port}\"")));
        }
    };
    if port.parse::<u16>().is_err() || host.contains(char::is_whitespace) {
        return Err(bad(format!("{key} = \"0.0.0.0:{default_port}\"")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting_lines() {
        assert_eq!(
            split_line("  server_host = \"a#b\" # c"),
            Some(("server_host".into(), "\"a#b\"".into()))
        );
        assert_eq!(split_line("# x = 1"), None);
        assert_eq!(split_line("plain text"), None);
        assert_eq!(line_of_offset("a\nb\nc", 2), 2);
        assert_eq!(line_of_offset("a\nb", 999), 2);
        assert_eq!(line_of_key("a = 1\n\nkey_port = 2\n", "key_port"), Some(3));
        assert_eq!(edit_distance("sever_host", "server_host"), 1);
    }

    #[test]
    fn language_is_read_even_from_a_broken_file() {
        assert_eq!(
            language_hint("server_host = 1.2.3.4\nlanguage = \"en\""),
            Language::En
        );
        assert_eq!(language_hint("language = 'en' # x"), Language::En);
        assert_eq!(language_hint("language = \"fr\""), Language::Zh);
        // The language line itself wrong: Chinese.
        assert_eq!(language_hint("language = \"en"), Language::Zh);
        assert_eq!(language_hint("language = en"), Language::Zh);
        assert_eq!(language_hint("language = \"EN\""), Language::Zh);
        assert_eq!(language_hint(""), Language::Zh);
    }

    /// Odd text never panics (the fuzz target covers `parse`; these are the slicing edges).
    #[test]
    fn odd_lines_are_diagnosed_without_panicking() {
        let fields = [
            Field::text("server_host", "x"),
            Field::port("chat_port", 8090),
        ];
        for text in [
            "server_host = \"é",
            "server_host = 'é",
            "= 1",
            "'",
            "\"server_host\" = 5",
            "chat_port = '8090'",
            "chat_port = \"",
            "chat_port = 99999999999999999999999999999999999999999",
            "chat_port = \"٣\"",
            "[",
            "\u{feff}[x",
            "server_host = \"a\" # \"b",
        ] {
            for line in 0..3 {
                let _ = diagnose(text, line, &fields, "detail").to_string();
            }
            let _ = language_hint(text);
        }
        assert!(matches!(
            diagnose("chat_port = '8090'", 1, &fields, ""),
            Mistake::QuotedNumber { .. }
        ));
        assert!(matches!(
            diagnose("\"server_host\" = 5", 1, &fields, ""),
            Mistake::Unquoted { .. }
        ));
    }

    #[test]
    fn hosts() {
        assert!(check_host("h", "192.168.1.10").is_ok());
        assert!(check_host("h", "teacher-pc.local").is_ok());
        assert!(check_host("h", "::1").is_ok());
        assert!(matches!(
            check_host("h", "127.0.0.1:38091"),
            Err(Mistake::PortInHost { ref port, ref fix, .. }) if port == "38091" && fix == "h = \"127.0.0.1\""
        ));
        assert!(matches!(
            check_host("h", "[::1]:8091"),
            Err(Mistake::PortInHost { .. })
        ));
        assert!(matches!(
            check_host("h", "http://10.0.0.1/"),
            Err(Mistake::BadHost { ref fix, .. }) if fix == "h = \"10.0.0.1\""
        ));
        assert!(matches!(
            check_host("h", "10.0.0.1 "),
            Err(Mistake::BadHost { .. })
        ));
    }

    #[test]
    fn listen_addresses() {
        assert!(check_listen("listen", "0.0.0.0:8090", 8090).is_ok());
        assert!(check_listen("listen", "[::]:8090", 8090).is_ok());
        assert!(check_listen("listen", "0.0.0.0", 8090).is_err());
        assert!(check_listen("listen", "0.0.0.0:80900", 8090).is_err());
        assert!(check_listen("listen", ":8090", 8090).is_err());
    }
}
