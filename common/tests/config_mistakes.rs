//! The table of config mistakes (issue 12): each mistake in each of the three config files gives
//! one message naming the file and the line, what is wrong and the fix. client.toml's messages
//! come from the client's own table in Chinese and English; the servers' are English.

use std::path::Path;

use common::client::config_texts::{config_error_text, language_of};
use common::config::{
    ClientConfig, ConfigFile, Language, ServerConfig, ServerKeyConfig, load, parse,
};
use common::error::ConfigError;

/// (client.toml text, Chinese message, English message).
const CLIENT: &[(&str, &str, &str)] = &[
    (
        "server_host = 192.168.1.10",
        "client.toml 第 1 行：server_host 的值要加引号：server_host = \"192.168.1.10\"",
        "client.toml, line 1: the value of server_host must be in quotes: server_host = \"192.168.1.10\"",
    ),
    (
        "# teacher's PC\nserver_host = \"127.0.0.1:38091\"",
        "client.toml 第 2 行：端口写在 key_port / chat_port 里，不要写在 server_host 里（删掉 :38091）：server_host = \"127.0.0.1\"",
        "client.toml, line 2: ports go in key_port / chat_port, not in server_host (remove :38091): server_host = \"127.0.0.1\"",
    ),
    (
        "server_host = \"http://10.0.0.5/\"",
        "client.toml 第 1 行：server_host 只写服务器的 IP 地址或电脑名（不要 http://、空格或路径），“http://10.0.0.5/”不对，例如：server_host = \"10.0.0.5\"",
        "client.toml, line 1: server_host is only the server's IP address or name (no http://, spaces or path); \"http://10.0.0.5/\" is wrong, for example: server_host = \"10.0.0.5\"",
    ),
    (
        "server_host = \"\"",
        "client.toml 第 1 行：server_host 没有写值，请写成：server_host = \"127.0.0.1\"",
        "client.toml, line 1: server_host has no value; write it as: server_host = \"127.0.0.1\"",
    ),
    (
        "server_host = \"192.168.1.10",
        "client.toml 第 1 行：server_host 的值少了后面的引号：server_host = \"192.168.1.10\"",
        "client.toml, line 1: the value of server_host lacks its closing quote: server_host = \"192.168.1.10\"",
    ),
    (
        "chat_port = \"8090\"",
        "client.toml 第 1 行：chat_port 是数字，不要加引号：chat_port = 8090",
        "client.toml, line 1: chat_port is a number and takes no quotes: chat_port = 8090",
    ),
    (
        "chat_port = 70000",
        "client.toml 第 1 行：chat_port = 70000 不在 1 到 65535 之间，例如：chat_port = 8090",
        "client.toml, line 1: chat_port = 70000 is not between 1 and 65535, for example: chat_port = 8090",
    ),
    (
        "chat_port = 80.5",
        "client.toml 第 1 行：chat_port 要写 1 到 65535 之间的整数，例如：chat_port = 8090",
        "client.toml, line 1: chat_port must be a whole number from 1 to 65535, for example: chat_port = 8090",
    ),
    (
        "key_port = abc",
        "client.toml 第 1 行：key_port 要写 1 到 65535 之间的整数，例如：key_port = 8091",
        "client.toml, line 1: key_port must be a whole number from 1 to 65535, for example: key_port = 8091",
    ),
    (
        "key_port = 0",
        "client.toml 第 1 行：key_port = 0 不在 1 到 65535 之间，例如：key_port = 8091",
        "client.toml, line 1: key_port = 0 is not between 1 and 65535, for example: key_port = 8091",
    ),
    (
        "chat_port = 8090\nkey_port = 8090",
        "client.toml 第 2 行：key_port 和 chat_port 都是 8090，其中一个指向了错误的服务器。密钥服务器和聊天服务器的端口不同（通常 key_port = 8091，chat_port = 8090）",
        "client.toml, line 2: key_port and chat_port are both 8090, so one points at the wrong server. The key server and the chat server use different ports (usually key_port = 8091, chat_port = 8090)",
    ),
    (
        "key_port = 8091\nkey_port = 8092",
        "client.toml 第 2 行：key_port 写了两次，请删掉其中一行",
        "client.toml, line 2: key_port is set twice; delete one of the two lines",
    ),
    (
        "username = user1",
        "client.toml 第 1 行：username 的值要加引号：username = \"user1\"",
        "client.toml, line 1: the value of username must be in quotes: username = \"user1\"",
    ),
    (
        "username = 123",
        "client.toml 第 1 行：username 的值要加引号：username = \"123\"",
        "client.toml, line 1: the value of username must be in quotes: username = \"123\"",
    ),
    (
        "username = \"张三\"",
        "client.toml 第 1 行：用户名 \"张三\" 不能用：只能用 1 到 30 个英文字母、数字、_、- 或 .，不能以 . 或 - 开头。请写老师给你的用户名，例如：username = \"user1\"",
        "client.toml, line 1: the username \"张三\" cannot be used: 1 to 30 ASCII letters, digits, _, - or ., not starting with . or -. Write the username the teacher gave you, for example: username = \"user1\"",
    ),
    (
        "language = \"cn\"",
        "client.toml 第 1 行：language 只能是 \"zh\" 或 \"en\"，不能是 \"cn\"，例如：language = \"zh\"",
        "client.toml, line 1: language must be \"zh\" or \"en\", not \"cn\", for example: language = \"zh\"",
    ),
    (
        "language = en",
        "client.toml 第 1 行：language 的值要加引号：language = \"en\"",
        "client.toml, line 1: the value of language must be in quotes: language = \"en\"",
    ),
    (
        "keep_history = yes",
        "client.toml 第 1 行：keep_history 只能是 true 或 false（不加引号），不能是 yes，请写成：keep_history = true",
        "client.toml, line 1: keep_history must be true or false (without quotes), not yes; write it as: keep_history = true",
    ),
    (
        "keep_history = \"true\"",
        "client.toml 第 1 行：keep_history 只能是 true 或 false（不加引号），不能是 \"true\"，请写成：keep_history = true",
        "client.toml, line 1: keep_history must be true or false (without quotes), not \"true\"; write it as: keep_history = true",
    ),
    (
        "keep_history = 0",
        "client.toml 第 1 行：keep_history 只能是 true 或 false（不加引号），不能是 0，请写成：keep_history = false",
        "client.toml, line 1: keep_history must be true or false (without quotes), not 0; write it as: keep_history = false",
    ),
    (
        "keep_history = 保存",
        "client.toml 第 1 行：keep_history 只能是 true 或 false（不加引号），不能是 保存，请写成：keep_history = false",
        "client.toml, line 1: keep_history must be true or false (without quotes), not 保存; write it as: keep_history = false",
    ),
    (
        "keep_history =",
        "client.toml 第 1 行：keep_history 没有写值，请写成：keep_history = false",
        "client.toml, line 1: keep_history has no value; write it as: keep_history = false",
    ),
    (
        "keep_history = True",
        "client.toml 第 1 行：keep_history 只能是 true 或 false（不加引号），不能是 True，请写成：keep_history = true",
        "client.toml, line 1: keep_history must be true or false (without quotes), not True; write it as: keep_history = true",
    ),
    (
        "sever_host = \"10.0.0.5\"",
        "client.toml 第 1 行：没有叫 sever_host 的设置，应该是 server_host（请改正名字）",
        "client.toml, line 1: there is no setting called sever_host; it should be server_host (fix the name)",
    ),
    (
        "colour = \"red\"",
        "client.toml 第 1 行：没有叫 colour 的设置。client.toml 只有这些设置：server_host、chat_port、key_port、username、language、discovery_port、keep_history、downloads；请删掉这一行或改正名字",
        "client.toml, line 1: there is no setting called colour. client.toml has only: server_host, chat_port, key_port, username, language, discovery_port, keep_history, downloads; delete the line or fix the name",
    ),
    (
        "downloads = \"\"",
        "client.toml 第 1 行：downloads 没有写值，请写成：downloads = \"downloads\"",
        "client.toml, line 1: downloads has no value; write it as: downloads = \"downloads\"",
    ),
    (
        "discovery_port = 0",
        "client.toml 第 1 行：discovery_port = 0 不在 1 到 65535 之间，例如：discovery_port = 8092",
        "client.toml, line 1: discovery_port = 0 is not between 1 and 65535, for example: discovery_port = 8092",
    ),
    (
        "server_host = auto",
        "client.toml 第 1 行：server_host 的值要加引号：server_host = \"auto\"",
        "client.toml, line 1: the value of server_host must be in quotes: server_host = \"auto\"",
    ),
    (
        "[client]\nusername = \"user2\"",
        "client.toml 第 1 行：client.toml 里没有 [client] 这样的分组，请删掉这一行",
        "client.toml, line 1: client.toml has no [client] section; delete this line",
    ),
    (
        "server_host \"10.0.0.5\"",
        "client.toml 第 1 行：“server_host \"10.0.0.5\"”不是一条设置。每行应写成 名字 = 值（文字加引号），例如 server_host = \"192.168.1.10\"；说明文字行要以 # 开头",
        "client.toml, line 1: \"server_host \"10.0.0.5\"\" is not a setting. Each line is name = value (text in quotes), e.g. server_host = \"192.168.1.10\"; comment lines start with #",
    ),
];

/// (server.toml text, message).
const SERVER: &[(&str, &str)] = &[
    (
        "listen = 0.0.0.0:8090",
        "server.toml, line 1: the value of listen must be in quotes: listen = \"0.0.0.0:8090\"",
    ),
    (
        "listen = \"0.0.0.0\"",
        "server.toml, line 1: listen = \"0.0.0.0\" is not ADDRESS:PORT: for example listen = \"0.0.0.0:8090\"",
    ),
    (
        "database = \"postgres://u:pw@h/db\"",
        "server.toml, line 1: database = \"postgres://u:***@h/db\" is not sqlite://PATH, sqlite::memory: or mysql://USER:PASSWORD@HOST:3306/DATABASE: for example database = \"sqlite://data/mini_chat.db\"",
    ),
    (
        "database = sqlite://data/mini_chat.db",
        "server.toml, line 1: the value of database must be in quotes: database = \"sqlite://data/mini_chat.db\"",
    ),
    (
        "session_key_dir = \"\"",
        "server.toml, line 1: session_key_dir has no value after '=': session_key_dir = \"../server_key/keys/sessions\"",
    ),
    (
        "max_connections = 0",
        "server.toml, line 1: max_connections = 0 is outside 1..=1000000: for example max_connections = 2000",
    ),
    (
        "max_connections = \"2000\"",
        "server.toml, line 1: max_connections is a number and takes no quotes: max_connections = 2000",
    ),
    (
        "history_on_join = 5000",
        "server.toml, line 1: history_on_join = 5000 is outside 0..=1000: for example history_on_join = 100",
    ),
    (
        "max_file_mb = 0",
        "server.toml, line 1: max_file_mb = 0 is outside 1..=102400: for example max_file_mb = 100",
    ),
    (
        "max_transfers_per_user = 101",
        "server.toml, line 1: max_transfers_per_user = 101 is outside 1..=100: for example max_transfers_per_user = 3",
    ),
    (
        "file_kb_per_second_per_user = -5",
        "server.toml, line 1: file_kb_per_second_per_user = -5 is outside 0..=10485760: for example file_kb_per_second_per_user = 0",
    ),
    (
        "history_days = -1",
        "server.toml, line 1: history_days = -1 is outside 0..=3660: for example history_days = 30",
    ),
    (
        "user_list = 5",
        "server.toml, line 1: the value of user_list must be in quotes: user_list = \"5\"",
    ),
    (
        "listen = \"0.0.0.0:8090\"\ndatabse = \"sqlite://x.db\"",
        "server.toml, line 2: unknown key databse; did you mean database?",
    ),
];

/// (server_key.toml text, message).
const SERVER_KEY: &[(&str, &str)] = &[
    (
        "chat_port = 0",
        "server_key.toml, line 1: chat_port = 0 is outside 1..=65535: for example chat_port = 8090",
    ),
    (
        "discovery_port = 70000",
        "server_key.toml, line 1: discovery_port = 70000 is outside 0..=65535: for example discovery_port = 8092",
    ),
    (
        "server_name = teacher-pc",
        "server_key.toml, line 1: the value of server_name must be in quotes: server_name = \"teacher-pc\"",
    ),
    (
        "listen = \"0.0.0.0:99999\"",
        "server_key.toml, line 1: listen = \"0.0.0.0:99999\" is not ADDRESS:PORT: for example listen = \"0.0.0.0:8091\"",
    ),
    (
        "key_dir = keys",
        "server_key.toml, line 1: the value of key_dir must be in quotes: key_dir = \"keys\"",
    ),
    (
        "rsa_bits = 512",
        "server_key.toml, line 1: rsa_bits = 512 is outside 1024..=16384: for example rsa_bits = 2048",
    ),
    (
        "session_ttl_hours = 0",
        "server_key.toml, line 1: session_ttl_hours = 0 is outside 1..=8784: for example session_ttl_hours = 24",
    ),
    (
        "session_ttl = \"30s\"",
        "server_key.toml, line 1: session_ttl = \"30s\" is not a duration from 1m to 366d: a whole number and a unit (s, m, h or d) in quotes, for example session_ttl = \"24h\"",
    ),
    (
        "# a lesson\nsession_ttl = \"10 minutes\"",
        "server_key.toml, line 2: session_ttl = \"10 minutes\" is not a duration from 1m to 366d: a whole number and a unit (s, m, h or d) in quotes, for example session_ttl = \"24h\"",
    ),
    (
        "session_ttl = 10",
        "server_key.toml, line 1: session_ttl = 10 is not a duration from 1m to 366d: a whole number and a unit (s, m, h or d) in quotes, for example session_ttl = \"24h\"",
    ),
    (
        "session_ttl = 10m",
        "server_key.toml, line 1: the value of session_ttl must be in quotes: session_ttl = \"10m\"",
    ),
    (
        "session_ttl = \"2h\"\nsession_ttl_hours = 3",
        "server_key.toml, line 2: session_ttl and session_ttl_hours are both set; delete the session_ttl_hours line (session_ttl replaces it)",
    ),
    (
        "registration = \"open\"",
        "server_key.toml, line 1: registration must be \"tofu\" or \"strict\", not \"open\": for example registration = \"tofu\"",
    ),
    (
        "key_requests_per_minute_per_address = 1.5",
        "server_key.toml, line 1: key_requests_per_minute_per_address must be a whole number from 0 to 4294967295: key_requests_per_minute_per_address = 120",
    ),
    (
        "key_requests_per_minute_per_user = -1",
        "server_key.toml, line 1: key_requests_per_minute_per_user = -1 is outside 0..=4294967295: for example key_requests_per_minute_per_user = 30",
    ),
    (
        "max_exchanges_per_address = \"8\"",
        "server_key.toml, line 1: max_exchanges_per_address is a number and takes no quotes: max_exchanges_per_address = 8",
    ),
    (
        "user_list = \"\"",
        "server_key.toml, line 1: user_list has no value after '=': user_list = \"keys/chat_users.txt\"",
    ),
];

#[test]
fn each_client_toml_mistake_has_its_message_in_both_languages() {
    let path = Path::new("client.toml");
    let mut wrong = Vec::new();
    for (text, zh, en) in CLIENT {
        let err = parse::<ClientConfig>(text, path).expect_err(text);
        for (lang, want) in [(Language::Zh, zh), (Language::En, en)] {
            let got = config_error_text(&err, lang, "client_wy");
            if got != *want {
                wrong.push(format!("{text:?} ({lang:?}):\n  got  {got}\n  want {want}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn each_server_config_mistake_has_its_message() {
    let mut wrong = Vec::new();
    for (text, want) in SERVER {
        let got = parse::<ServerConfig>(text, Path::new("server.toml"))
            .expect_err(text)
            .to_string();
        if got != *want {
            wrong.push(format!("{text:?}:\n  got  {got}\n  want {want}"));
        }
    }
    for (text, want) in SERVER_KEY {
        let got = parse::<ServerKeyConfig>(text, Path::new("server_key.toml"))
            .expect_err(text)
            .to_string();
        if got != *want {
            wrong.push(format!("{text:?}:\n  got  {got}\n  want {want}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Every key of every file has at least one mistake in the tables.
#[test]
fn the_tables_cover_every_field_of_every_file() {
    let covered = |fields: Vec<common::config::Field>, texts: Vec<&str>| {
        for f in fields {
            assert!(
                texts
                    .iter()
                    .any(|t| t.lines().any(|l| l.trim_start().starts_with(f.key))),
                "no mistake of {} in the table",
                f.key
            );
        }
    };
    covered(
        ClientConfig::fields(),
        CLIENT.iter().map(|(t, _, _)| *t).collect(),
    );
    covered(
        ServerConfig::fields(),
        SERVER.iter().map(|(t, _)| *t).collect(),
    );
    covered(
        ServerKeyConfig::fields(),
        SERVER_KEY.iter().map(|(t, _)| *t).collect(),
    );
}

#[test]
fn the_message_is_in_the_files_language_unless_that_line_is_the_broken_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("client.toml");
    let message = |text: &str| {
        std::fs::write(&file, text).unwrap();
        let err = load::<ClientConfig>(&file).unwrap_err();
        config_error_text(&err, language_of(&err), "client_wy")
    };
    let en = message("language = \"en\"\nserver_host = 10.0.0.5\n");
    assert!(
        en.ends_with("client.toml, line 2: the value of server_host must be in quotes: server_host = \"10.0.0.5\""),
        "{en}"
    );
    assert!(
        en.starts_with(&dir.path().display().to_string()),
        "names the file: {en}"
    );
    let zh = message("language = \"english\"\n");
    assert!(zh.contains("第 1 行：language 只能是"), "{zh}");
    let zh = message("server_host = 10.0.0.5\n");
    assert!(zh.contains("第 1 行：server_host 的值要加引号"), "{zh}");
}

#[test]
fn a_file_saved_as_gbk_is_named_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("client.toml");
    // "# 王远的客户端" in GBK on line 2.
    let mut bytes = b"username = \"user1\"\n# ".to_vec();
    bytes.extend_from_slice(&[0xcd, 0xf5, 0xd4, 0xb6]);
    std::fs::write(&file, &bytes).unwrap();
    let err = load::<ClientConfig>(&file).unwrap_err();
    assert!(
        matches!(err, ConfigError::Mistake { line: Some(2), .. }),
        "{err:?}"
    );
    let zh = config_error_text(&err, Language::Zh, "client_wy");
    assert!(zh.contains("第 2 行：文件不是 UTF-8 编码"), "{zh}");
}

#[test]
fn the_config_hint_appears_only_when_the_file_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("client.toml");
    std::fs::write(&file, "server_host = 10.0.0.5\n").unwrap();
    let err = load::<ClientConfig>(&file).unwrap_err();
    for lang in [Language::Zh, Language::En] {
        let t = config_error_text(&err, lang, "client_wy");
        assert!(!t.contains("--config"), "{t}");
    }
    let missing =
        common::config::find::<ClientConfig>(None, "client_toml_that_is_nowhere.toml", &[])
            .unwrap_err();
    let t = config_error_text(&missing, Language::Zh, "client_wy");
    assert!(
        t.contains("--config") && t.contains("里没有 client.toml"),
        "{t}"
    );
}

#[test]
fn keep_history_is_a_switch_off_by_default() {
    let path = Path::new("client.toml");
    assert!(!parse::<ClientConfig>("", path).unwrap().keep_history);
    assert!(
        parse::<ClientConfig>("keep_history = true # 保存", path)
            .unwrap()
            .keep_history
    );
    assert!(
        !parse::<ClientConfig>("keep_history = false", path)
            .unwrap()
            .keep_history
    );
}
