//! The client's texts for mistakes in `client.toml` and for a port that reached the other server,
//! in Chinese (the default) and English. Each names the file and the line, says what is wrong,
//! and shows the corrected line. The servers' config errors stay English (`Mistake`'s
//! `Display`): the teacher reads those.

use std::path::Path;

use crate::client::folder::{PortKey, WrongPort};
use crate::config::Language;
use crate::config::duration::show;
use crate::config::mistake::{Mistake, quoted_list};
use crate::error::ConfigError;
use crate::protocol::consts::{DEFAULT_CHAT_PORT, DEFAULT_KEY_PORT, MAX_USERNAME_LEN};

fn pick(lang: Language, zh: String, en: String) -> String {
    match lang {
        Language::Zh => zh,
        Language::En => en,
    }
}

/// `D:\client_wy\client.toml 第 3 行：` / `D:\client_wy\client.toml, line 3: `.
fn place(lang: Language, file: Option<&Path>, line: Option<usize>) -> String {
    let file = file.map_or_else(|| "client.toml".to_owned(), |f| f.display().to_string());
    match (lang, line) {
        (Language::Zh, Some(l)) => format!("{file} 第 {l} 行："),
        (Language::Zh, None) => format!("{file}："),
        (Language::En, Some(l)) => format!("{file}, line {l}: "),
        (Language::En, None) => format!("{file}: "),
    }
}

/// What is wrong and the fix, without the place.
pub fn mistake_text(m: &Mistake, lang: Language) -> String {
    match m {
        Mistake::Unquoted { key, fix } => pick(
            lang,
            format!("{key} 的值要加引号：{fix}"),
            format!("the value of {key} must be in quotes: {fix}"),
        ),
        Mistake::Unclosed { key, fix } => pick(
            lang,
            format!("{key} 的值少了后面的引号：{fix}"),
            format!("the value of {key} lacks its closing quote: {fix}"),
        ),
        Mistake::Empty { key, fix } => pick(
            lang,
            format!("{key} 没有写值，请写成：{fix}"),
            format!("{key} has no value; write it as: {fix}"),
        ),
        Mistake::QuotedNumber { key, fix } => pick(
            lang,
            format!("{key} 是数字，不要加引号：{fix}"),
            format!("{key} is a number and takes no quotes: {fix}"),
        ),
        Mistake::NotANumber { key, min, max, fix } => pick(
            lang,
            format!("{key} 要写 {min} 到 {max} 之间的整数，例如：{fix}"),
            format!("{key} must be a whole number from {min} to {max}, for example: {fix}"),
        ),
        Mistake::OutOfRange {
            key,
            value,
            min,
            max,
            fix,
        } => pick(
            lang,
            format!("{key} = {value} 不在 {min} 到 {max} 之间，例如：{fix}"),
            format!("{key} = {value} is not between {min} and {max}, for example: {fix}"),
        ),
        Mistake::BadChoice {
            key,
            value,
            choices,
            fix,
        } => {
            let list = quoted_list(choices);
            pick(
                lang,
                format!(
                    "{key} 只能是 {}，不能是 \"{value}\"，例如：{fix}",
                    list.replace(" or ", " 或 ")
                ),
                format!("{key} must be {list}, not \"{value}\", for example: {fix}"),
            )
        }
        Mistake::NotBool { key, value, fix } => pick(
            lang,
            format!("{key} 只能是 true 或 false（不加引号），不能是 {value}，请写成：{fix}"),
            format!("{key} must be true or false (without quotes), not {value}; write it as: {fix}"),
        ),
        Mistake::UnknownKey {
            key,
            suggestion,
            known,
        } => match suggestion {
            Some(s) => pick(
                lang,
                format!("没有叫 {key} 的设置，应该是 {s}（请改正名字）"),
                format!("there is no setting called {key}; it should be {s} (fix the name)"),
            ),
            None => pick(
                lang,
                format!(
                    "没有叫 {key} 的设置。client.toml 只有这些设置：{}；请删掉这一行或改正名字",
                    known.join("、")
                ),
                format!(
                    "there is no setting called {key}. client.toml has only: {}; delete the line or fix the name",
                    known.join(", ")
                ),
            ),
        },
        Mistake::Section { name } => pick(
            lang,
            format!("client.toml 里没有 [{name}] 这样的分组，请删掉这一行"),
            format!("client.toml has no [{name}] section; delete this line"),
        ),
        Mistake::Duplicate { key } => pick(
            lang,
            format!("{key} 写了两次，请删掉其中一行"),
            format!("{key} is set twice; delete one of the two lines"),
        ),
        Mistake::NotKeyValue { text } => pick(
            lang,
            format!(
                "“{text}”不是一条设置。每行应写成 名字 = 值（文字加引号），例如 server_host = \"192.168.1.10\"；说明文字行要以 # 开头"
            ),
            format!(
                "\"{text}\" is not a setting. Each line is name = value (text in quotes), e.g. server_host = \"192.168.1.10\"; comment lines start with #"
            ),
        ),
        Mistake::PortInHost { key, port, fix } => pick(
            lang,
            format!(
                "端口写在 key_port / chat_port 里，不要写在 {key} 里（删掉 :{port}）：{fix}"
            ),
            format!("ports go in key_port / chat_port, not in {key} (remove :{port}): {fix}"),
        ),
        Mistake::BadHost { key, value, fix } => pick(
            lang,
            format!(
                "{key} 只写服务器的 IP 地址或电脑名（不要 http://、空格或路径），“{value}”不对，例如：{fix}"
            ),
            format!(
                "{key} is only the server's IP address or name (no http://, spaces or path); \"{value}\" is wrong, for example: {fix}"
            ),
        ),
        Mistake::BadUsername { value, fix } => pick(
            lang,
            format!(
                "用户名 \"{value}\" 不能用：只能用 1 到 {MAX_USERNAME_LEN} 个英文字母、数字、_、- 或 .，不能以 . 或 - 开头。请写老师给你的用户名，例如：{fix}"
            ),
            format!(
                "the username \"{value}\" cannot be used: 1 to {MAX_USERNAME_LEN} ASCII letters, digits, _, - or ., not starting with . or -. Write the username the teacher gave you, for example: {fix}"
            ),
        ),
        Mistake::SamePorts { port } => pick(
            lang,
            format!(
                "key_port 和 chat_port 都是 {port}，其中一个指向了错误的服务器。密钥服务器和聊天服务器的端口不同（通常 key_port = {DEFAULT_KEY_PORT}，chat_port = {DEFAULT_CHAT_PORT}）"
            ),
            format!(
                "key_port and chat_port are both {port}, so one points at the wrong server. The key server and the chat server use different ports (usually key_port = {DEFAULT_KEY_PORT}, chat_port = {DEFAULT_CHAT_PORT})"
            ),
        ),
        Mistake::BadDuration {
            key,
            value,
            min,
            max,
            fix,
        } => {
            let (min, max) = (show(*min), show(*max));
            pick(
                lang,
                format!(
                    "{key} = {value} 不是 {min} 到 {max} 之间的时长：写一个整数和单位（s 秒、m 分钟、h 小时、d 天），加引号，例如：{fix}"
                ),
                format!(
                    "{key} = {value} is not a duration from {min} to {max}: a whole number and a unit (s, m, h or d) in quotes, for example: {fix}"
                ),
            )
        }
        Mistake::Superseded { old, new } => pick(
            lang,
            format!("{new} 和 {old} 都写了，请删掉 {old} 这一行（{new} 代替了它）"),
            format!("{new} and {old} are both set; delete the {old} line ({new} replaces it)"),
        ),
        Mistake::BadListen { key, value, fix } => pick(
            lang,
            format!("{key} = \"{value}\" 要写成 地址:端口，例如：{fix}"),
            format!("{key} = \"{value}\" must be ADDRESS:PORT, for example: {fix}"),
        ),
        Mistake::BadDatabase { value } => pick(
            lang,
            format!("database = \"{value}\" 不是可用的数据库地址"),
            format!("database = \"{value}\" is not a database URL this program understands"),
        ),
        Mistake::NotUtf8 => pick(
            lang,
            "文件不是 UTF-8 编码。请用记事本打开，选“另存为”，编码选 UTF-8 后保存".to_owned(),
            "the file is not UTF-8 text. Open it in Notepad, choose Save as, pick the encoding UTF-8 and save"
                .to_owned(),
        ),
        Mistake::Syntax { detail } => pick(
            lang,
            format!(
                "这一行的写法不对。每行应写成 名字 = 值，文字要加引号，例如 server_host = \"192.168.1.10\"{}",
                crate::client::texts::quoted(lang, "TOML", "TOML", detail)
            ),
            format!(
                "this line is not written correctly. Each line is name = value, text in quotes, e.g. server_host = \"192.168.1.10\".{}",
                crate::client::texts::quoted(lang, "TOML", "TOML", detail)
            ),
        ),
    }
}

/// The text for any error loading `client.toml`, in `lang` (the caller passes the file's own
/// `language` as far as it can be read: [`crate::config::mistake::language_hint`]).
pub fn config_error_text(e: &ConfigError, lang: Language, program: &str) -> String {
    match e {
        ConfigError::Mistake {
            path,
            line,
            mistake,
        } => format!(
            "{}{}",
            place(lang, Some(path), *line),
            mistake_text(mistake, lang)
        ),
        ConfigError::Read { path, source } if source.kind() == std::io::ErrorKind::NotFound => {
            pick(
                lang,
                format!(
                    "找不到 {}。请检查 --config 后面的路径，或去掉 --config，在客户端文件夹里直接运行 {program}。",
                    path.display()
                ),
                format!(
                    "{} does not exist. Check the path after --config, or leave --config out and run {program} from its client folder.",
                    path.display()
                ),
            )
        }
        ConfigError::Read { path, source } => pick(
            lang,
            format!(
                "无法读取 {}（没有权限或文件损坏）。请把整个客户端文件夹复制到可以读写的地方（例如桌面）再运行。{}",
                path.display(),
                crate::client::texts::quoted(lang, "系统", "system", &source.to_string())
            ),
            format!(
                "{} cannot be read (no permission or a damaged file). Copy the whole client folder somewhere readable and writable (such as the desktop) and run it there.{}",
                path.display(),
                crate::client::texts::quoted(lang, "系统", "system", &source.to_string())
            ),
        ),
        ConfigError::NotFound { looked, .. } => {
            let folder = looked
                .first()
                .and_then(|p| p.parent())
                .map_or_else(|| ".".to_owned(), |d| d.display().to_string());
            let all: Vec<String> = looked.iter().map(|p| p.display().to_string()).collect();
            pick(
                lang,
                format!(
                    "文件夹 {folder} 里没有 client.toml（找过：{}）。client.toml 要和 {program} 放在同一个文件夹：请把老师给的客户端文件夹完整复制过来，或用 --config 指定 client.toml 的路径。",
                    all.join("；")
                ),
                format!(
                    "The folder {folder} has no client.toml (looked in: {}). client.toml must be beside {program}: copy the whole client folder the teacher gave you, or pass --config PATH/client.toml.",
                    all.join("; ")
                ),
            )
        }
    }
}

/// `key_port` reached the chat server, or `chat_port` the key server.
pub fn wrong_port_text(w: &WrongPort, lang: Language) -> String {
    let at = place(lang, w.file.as_deref(), w.line);
    let (key, other) = (w.key.key(), other_key(w.key));
    let (port, should) = (w.port, w.should_be);
    match (w.key, lang) {
        (PortKey::KeyPort, Language::Zh) => format!(
            "{at}key_port 指向了聊天服务器（{port}），应为 {should}。key_port 和 chat_port 写反了，请改成 {key} = {should}、{other} = {port}。"
        ),
        (PortKey::ChatPort, Language::Zh) => format!(
            "{at}chat_port 指向了密钥服务器（{port}），应为 {should}。key_port 和 chat_port 写反了，请改成 {key} = {should}、{other} = {port}。"
        ),
        (PortKey::KeyPort, Language::En) => format!(
            "{at}key_port points at the chat server ({port}); it should be {should}. key_port and chat_port are swapped: write {key} = {should} and {other} = {port}."
        ),
        (PortKey::ChatPort, Language::En) => format!(
            "{at}chat_port points at the key server ({port}); it should be {should}. key_port and chat_port are swapped: write {key} = {should} and {other} = {port}."
        ),
    }
}

fn other_key(k: PortKey) -> &'static str {
    match k {
        PortKey::KeyPort => PortKey::ChatPort.key(),
        PortKey::ChatPort => PortKey::KeyPort.key(),
    }
}

/// The language for a config error: the broken file's own `language` line as far as it can be
/// read, else Chinese.
pub fn language_of(e: &ConfigError) -> Language {
    let path = match e {
        ConfigError::Mistake { path, .. } | ConfigError::Read { path, .. } => path,
        ConfigError::NotFound { .. } => return Language::Zh,
    };
    std::fs::read(path).map_or(Language::Zh, |b| {
        crate::config::mistake::language_hint(&String::from_utf8_lossy(&b))
    })
}

#[cfg(test)]
mod tests {
    //! Every mistake and every config error has a text in both languages: the list is checked by
    //! an exhaustive `match`, so a new variant fails to compile here until it is listed.
    use super::*;
    use crate::client::texts::has_cjk;

    fn mistakes() -> Vec<Mistake> {
        let k = || "server_host".to_owned();
        let fix = || "server_host = \"10.0.0.5\"".to_owned();
        let all = vec![
            Mistake::Unquoted {
                key: k(),
                fix: fix(),
            },
            Mistake::Unclosed {
                key: k(),
                fix: fix(),
            },
            Mistake::Empty {
                key: k(),
                fix: fix(),
            },
            Mistake::QuotedNumber {
                key: k(),
                fix: fix(),
            },
            Mistake::NotANumber {
                key: k(),
                min: 1,
                max: 2,
                fix: fix(),
            },
            Mistake::OutOfRange {
                key: k(),
                value: "9".into(),
                min: 1,
                max: 2,
                fix: fix(),
            },
            Mistake::BadChoice {
                key: k(),
                value: "cn".into(),
                choices: &["zh", "en"],
                fix: fix(),
            },
            Mistake::NotBool {
                key: "keep_history".into(),
                value: "yes".into(),
                fix: "keep_history = true".into(),
            },
            Mistake::UnknownKey {
                key: "x".into(),
                suggestion: Some("server_host"),
                known: vec!["server_host"],
            },
            Mistake::UnknownKey {
                key: "x".into(),
                suggestion: None,
                known: vec!["server_host"],
            },
            Mistake::Section { name: "x".into() },
            Mistake::Duplicate { key: k() },
            Mistake::NotKeyValue { text: "x".into() },
            Mistake::PortInHost {
                key: k(),
                port: "1".into(),
                fix: fix(),
            },
            Mistake::BadHost {
                key: k(),
                value: "a b".into(),
                fix: fix(),
            },
            Mistake::BadUsername {
                value: "-x".into(),
                fix: fix(),
            },
            Mistake::SamePorts { port: 8090 },
            Mistake::BadDuration {
                key: "session_ttl".into(),
                value: "\"30s\"".into(),
                min: std::time::Duration::from_secs(60),
                max: std::time::Duration::from_secs(86_400),
                fix: "session_ttl = \"24h\"".into(),
            },
            Mistake::Superseded {
                old: "session_ttl_hours".into(),
                new: "session_ttl".into(),
            },
            Mistake::BadListen {
                key: "listen".into(),
                value: "x".into(),
                fix: fix(),
            },
            Mistake::BadDatabase { value: "x".into() },
            Mistake::NotUtf8,
            Mistake::Syntax {
                detail: "invalid".into(),
            },
        ];
        for m in &all {
            match m {
                Mistake::Unquoted { .. }
                | Mistake::Unclosed { .. }
                | Mistake::Empty { .. }
                | Mistake::QuotedNumber { .. }
                | Mistake::NotANumber { .. }
                | Mistake::OutOfRange { .. }
                | Mistake::BadChoice { .. }
                | Mistake::NotBool { .. }
                | Mistake::UnknownKey { .. }
                | Mistake::Section { .. }
                | Mistake::Duplicate { .. }
                | Mistake::NotKeyValue { .. }
                | Mistake::PortInHost { .. }
                | Mistake::BadHost { .. }
                | Mistake::BadUsername { .. }
                | Mistake::SamePorts { .. }
                | Mistake::BadDuration { .. }
                | Mistake::Superseded { .. }
                | Mistake::BadListen { .. }
                | Mistake::BadDatabase { .. }
                | Mistake::NotUtf8
                | Mistake::Syntax { .. } => {}
            }
        }
        all
    }

    fn errors() -> Vec<ConfigError> {
        let mut all: Vec<ConfigError> = mistakes()
            .into_iter()
            .map(|m| ConfigError::Mistake {
                path: "client.toml".into(),
                line: Some(1),
                mistake: Box::new(m),
            })
            .collect();
        all.push(ConfigError::Read {
            path: "client.toml".into(),
            source: std::io::ErrorKind::NotFound.into(),
        });
        all.push(ConfigError::Read {
            path: "client.toml".into(),
            source: std::io::ErrorKind::PermissionDenied.into(),
        });
        all.push(ConfigError::NotFound {
            name: "client.toml".into(),
            looked: vec!["/a/client.toml".into()],
        });
        all
    }

    #[test]
    fn every_mistake_and_config_error_has_both_languages() {
        for e in errors() {
            let zh = config_error_text(&e, Language::Zh, "client_wy");
            let en = config_error_text(&e, Language::En, "client_wy");
            assert!(has_cjk(&zh), "{e:?}: the zh text has no Chinese: {zh}");
            assert!(!has_cjk(&en), "{e:?}: the en text contains Chinese: {en}");
        }
        for key in [PortKey::KeyPort, PortKey::ChatPort] {
            let w = WrongPort {
                key,
                port: 8090,
                should_be: 8091,
                file: None,
                line: None,
            };
            assert!(has_cjk(&wrong_port_text(&w, Language::Zh)));
            assert!(!has_cjk(&wrong_port_text(&w, Language::En)));
        }
    }
}
