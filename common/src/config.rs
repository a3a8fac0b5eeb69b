//! Configuration files: `server_key.toml`, `server.toml` and `client.toml`.
//!
//! Every field has a default (documented on the field and in the README); relative paths resolve
//! against the folder of the config file itself, so a folder can be moved or copied anywhere.
//! A mistake in a file is one [`ConfigError::Mistake`] naming the file, the line, what is wrong
//! and the fix ([`mistake`]); every key of every file is listed in its [`ConfigFile::fields`].

pub mod duration;
pub mod mistake;

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::ConfigError;
use crate::protocol::consts::{
    AUTO_HOST, DEFAULT_CHAT_PORT, DEFAULT_DISCOVERY_PORT, DEFAULT_HISTORY_DAYS,
    DEFAULT_HISTORY_ON_JOIN, DEFAULT_KEY_PORT, DEFAULT_MAX_FILE_MB, DEFAULT_MAX_TRANSFERS_PER_USER,
    DEFAULT_RSA_BITS, DEFAULT_SESSION_TTL_HOURS, KEY_REQUESTS_PER_MINUTE_PER_ADDRESS,
    KEY_REQUESTS_PER_MINUTE_PER_USER, MAX_CLIENTS, MAX_KEY_EXCHANGES_PER_ADDRESS,
    MAX_SERVER_RSA_BITS, MAX_SESSION_TTL_SECS, MIN_RSA_BITS, MIN_SESSION_TTL_SECS,
};
pub use duration::SessionTtl;
pub use mistake::{Field, Kind, Mistake};

/// A config file: its keys and the checks its values need beyond their types.
pub trait ConfigFile: DeserializeOwned {
    /// Every key of the file, with what it holds (for diagnosing a mistake).
    fn fields() -> Vec<Field>;
    /// Check the values serde cannot; the error names the key whose line is at fault.
    ///
    /// # Errors
    /// The key and the [`Mistake`].
    fn check(&self) -> Result<(), (&'static str, Mistake)>;
}

/// A `u32`/`usize` count key that may be 0 (no limit).
fn count(key: &'static str, example: impl ToString) -> Field {
    Field::number(key, 0, u64::from(u32::MAX), example)
}

/// A value of `key` outside `min..=max`: the mistake, with `fix` as the line to write, or else
/// the example line of `key`'s field in `C`.
fn out_of_range<C: ConfigFile>(
    key: &'static str,
    value: u64,
    (min, max): (u64, u64),
    fix: Option<String>,
) -> (&'static str, Mistake) {
    let fix = fix.unwrap_or_else(|| {
        C::fields()
            .iter()
            .find(|f| f.key == key)
            .map(Field::example_line)
            .unwrap_or_default()
    });
    let value = value.to_string();
    (
        key,
        Mistake::OutOfRange {
            key: key.into(),
            value,
            min,
            max,
            fix,
        },
    )
}

/// `value` of `key` must lie in `min..=max` (the fix is the key's example line in `C`).
fn check_range<C: ConfigFile>(
    key: &'static str,
    value: u64,
    min: u64,
    max: u64,
) -> Result<(), (&'static str, Mistake)> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(out_of_range::<C>(key, value, (min, max), None))
    }
}

/// An empty path is a mistake (it would mean the config file's own folder by accident).
fn check_path(key: &'static str, p: &Path, example: &str) -> Result<(), (&'static str, Mistake)> {
    if p.as_os_str().is_empty() {
        return Err((
            key,
            Mistake::Empty {
                key: key.into(),
                fix: format!("{key} = \"{example}\""),
            },
        ));
    }
    Ok(())
}

/// How server_key decides which client public key may speak for a username.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Registration {
    /// Trust on first use: the first key seen for a username is bound to it.
    Tofu,
    /// Only keys an operator placed in `key_dir/clients/<username>.pem`.
    Strict,
}

/// `server_key.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerKeyConfig {
    /// Address to listen on. Default `0.0.0.0:8091`.
    pub listen: String,
    /// Folder for the server key pair, client bindings and session keys. Default `keys`.
    pub key_dir: PathBuf,
    /// RSA size for the server key pair created on first start. Default 2048.
    pub rsa_bits: usize,
    /// Lifetime of a distributed session key: `"10m"`, `"2h"`, `"7d"` (1 minute to 366 days).
    /// Default 24 hours; read it with [`ServerKeyConfig::ttl`].
    pub session_ttl: Option<SessionTtl>,
    /// The older form of `session_ttl`, in whole hours (1 to 8784); still read.
    pub session_ttl_hours: Option<u64>,
    /// `"tofu"` (default) or `"strict"`.
    pub registration: Registration,
    /// Key exchanges one source address may start per minute (bursts up to as many). Default
    /// 120; 0 = no limit.
    pub key_requests_per_minute_per_address: u32,
    /// Key exchanges one username may complete per minute (bursts up to as many). Default 30;
    /// 0 = no limit.
    pub key_requests_per_minute_per_user: u32,
    /// Key exchanges from one source address running at once. Default 8; 0 = no limit.
    pub max_exchanges_per_address: usize,
    /// The chat server's user list (see [`crate::userlist`]); in `tofu` mode only its names
    /// get keys. Default `key_dir/chat_users.txt`.
    pub user_list: Option<PathBuf>,
    /// The chat server's port, announced to clients that discover the servers. Default 8090.
    pub chat_port: u16,
    /// UDP port answering discovery queries (clients with `server_host = "auto"`); 0 turns
    /// discovery off. Default 8092.
    pub discovery_port: u16,
    /// The name discovery announces (shown to students when several servers answer; `|` and
    /// control characters become `_`, cut to 64 bytes). Default: this computer's name.
    pub server_name: Option<String>,
}

impl Default for ServerKeyConfig {
    fn default() -> Self {
        Self {
            listen: format!("0.0.0.0:{DEFAULT_KEY_PORT}"),
            key_dir: PathBuf::from("keys"),
            rsa_bits: DEFAULT_RSA_BITS,
            session_ttl: None,
            session_ttl_hours: None,
            registration: Registration::Tofu,
            key_requests_per_minute_per_address: KEY_REQUESTS_PER_MINUTE_PER_ADDRESS,
            key_requests_per_minute_per_user: KEY_REQUESTS_PER_MINUTE_PER_USER,
            max_exchanges_per_address: MAX_KEY_EXCHANGES_PER_ADDRESS,
            user_list: None,
            chat_port: DEFAULT_CHAT_PORT,
            discovery_port: DEFAULT_DISCOVERY_PORT,
            server_name: None,
        }
    }
}

impl ServerKeyConfig {
    /// Longest accepted `session_ttl_hours`: [`MAX_SESSION_TTL_SECS`] in hours.
    pub const MAX_TTL_HOURS: u64 = MAX_SESSION_TTL_SECS / 3600;

    /// The lifetime of a session key: `session_ttl`, else `session_ttl_hours`, else 24 hours.
    pub fn ttl(&self) -> SessionTtl {
        self.session_ttl.unwrap_or_else(|| {
            SessionTtl::from_hours(self.session_ttl_hours.unwrap_or(DEFAULT_SESSION_TTL_HOURS))
        })
    }
}

impl ConfigFile for ServerKeyConfig {
    fn fields() -> Vec<Field> {
        let d = Self::default();
        vec![
            Field::text("listen", d.listen),
            Field::text("key_dir", "keys"),
            Field::number(
                "rsa_bits",
                MIN_RSA_BITS as u64,
                MAX_SERVER_RSA_BITS as u64,
                d.rsa_bits,
            ),
            Field::duration(
                "session_ttl",
                std::time::Duration::from_secs(MIN_SESSION_TTL_SECS),
                std::time::Duration::from_secs(MAX_SESSION_TTL_SECS),
                &format!("{DEFAULT_SESSION_TTL_HOURS}h"),
            ),
            Field::number(
                "session_ttl_hours",
                1,
                Self::MAX_TTL_HOURS,
                DEFAULT_SESSION_TTL_HOURS,
            ),
            Field::choice("registration", &["tofu", "strict"]),
            count(
                "key_requests_per_minute_per_address",
                d.key_requests_per_minute_per_address,
            ),
            count(
                "key_requests_per_minute_per_user",
                d.key_requests_per_minute_per_user,
            ),
            count("max_exchanges_per_address", d.max_exchanges_per_address),
            Field::text("user_list", "keys/chat_users.txt"),
            Field::port("chat_port", d.chat_port),
            Field::number("discovery_port", 0, u64::from(u16::MAX), d.discovery_port),
            Field::text("server_name", "teacher-pc"),
        ]
    }

    fn check(&self) -> Result<(), (&'static str, Mistake)> {
        mistake::check_listen("listen", &self.listen, DEFAULT_KEY_PORT)
            .map_err(|m| ("listen", m))?;
        check_path("key_dir", &self.key_dir, "keys")?;
        let range = check_range::<Self>;
        if let Some(hours) = self.session_ttl_hours {
            if self.session_ttl.is_some() {
                return Err((
                    "session_ttl_hours",
                    Mistake::Superseded {
                        old: "session_ttl_hours".into(),
                        new: "session_ttl".into(),
                    },
                ));
            }
            range("session_ttl_hours", hours, 1, Self::MAX_TTL_HOURS)?;
        }
        range(
            "rsa_bits",
            self.rsa_bits as u64,
            MIN_RSA_BITS as u64,
            MAX_SERVER_RSA_BITS as u64,
        )?;
        if let Some(p) = &self.user_list {
            check_path("user_list", p, "keys/chat_users.txt")?;
        }
        if self.chat_port == 0 {
            let fix = format!("chat_port = {DEFAULT_CHAT_PORT}");
            let range = (1, u64::from(u16::MAX));
            return Err(out_of_range::<Self>("chat_port", 0, range, Some(fix)));
        }
        Ok(())
    }
}

/// `server.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on. Default `0.0.0.0:8090`.
    pub listen: String,
    /// `sqlite://PATH` (default `sqlite://data/mini_chat.db`, created and seeded on first start;
    /// a relative PATH is relative to this file's folder), `sqlite::memory:`, or
    /// `mysql://user:pass@host:3306/mini_chat`.
    pub database: String,
    /// Where server_key leaves `<username>.txt` session keys. Default `../server_key/keys/sessions`.
    pub session_key_dir: PathBuf,
    /// Maximum simultaneous connections; more are refused with `SERVER_FULL`. Default 2000.
    pub max_connections: usize,
    /// Where to write the user list for server_key (see [`crate::userlist`]). Default
    /// `session_key_dir/../chat_users.txt`.
    pub user_list: Option<PathBuf>,
    /// Public messages a user receives at login (besides the private ones held for them).
    /// Default 100; 0 = none.
    pub history_on_join: usize,
    /// Stored messages older than this many days are deleted. Default 30; 0 = kept for ever.
    pub history_days: u32,
    /// Largest file the server relays, in MiB. Default 100.
    pub max_file_mb: u64,
    /// File transfers one user may send at once. Default 3.
    pub max_transfers_per_user: usize,
    /// File bytes one user may send per second, in KiB, all transfers together. Default 0 (no
    /// limit).
    pub file_kb_per_second_per_user: u64,
}

impl ServerConfig {
    /// Largest `history_on_join`: the login's pages stay a few frames.
    pub const MAX_HISTORY_ON_JOIN: usize = 1000;
    /// Largest `history_days` (ten years).
    pub const MAX_HISTORY_DAYS: u32 = 3660;
    /// Largest `max_file_mb` (100 GiB: the sizes travel as 64-bit numbers; this only catches
    /// typos).
    pub const MAX_FILE_MB: u64 = 100 * 1024;
    /// Largest `max_transfers_per_user`.
    pub const MAX_TRANSFERS_PER_USER: usize = 100;
    /// Largest `file_kb_per_second_per_user` (10 GiB/s, i.e. any real link).
    pub const MAX_FILE_KB_PER_SECOND: u64 = 10 * 1024 * 1024;
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: format!("0.0.0.0:{DEFAULT_CHAT_PORT}"),
            database: "sqlite://data/mini_chat.db".into(),
            session_key_dir: PathBuf::from("../server_key/keys/sessions"),
            max_connections: MAX_CLIENTS,
            user_list: None,
            history_on_join: DEFAULT_HISTORY_ON_JOIN,
            history_days: DEFAULT_HISTORY_DAYS,
            max_file_mb: DEFAULT_MAX_FILE_MB,
            max_transfers_per_user: DEFAULT_MAX_TRANSFERS_PER_USER,
            file_kb_per_second_per_user: 0,
        }
    }
}

impl ConfigFile for ServerConfig {
    fn fields() -> Vec<Field> {
        let d = Self::default();
        vec![
            Field::text("listen", d.listen),
            Field::text("database", d.database),
            Field::text("session_key_dir", "../server_key/keys/sessions"),
            Field::number("max_connections", 1, 1_000_000, d.max_connections),
            Field::text("user_list", "../server_key/keys/chat_users.txt"),
            Field::number(
                "history_on_join",
                0,
                Self::MAX_HISTORY_ON_JOIN as u64,
                d.history_on_join,
            ),
            Field::number(
                "history_days",
                0,
                u64::from(Self::MAX_HISTORY_DAYS),
                d.history_days,
            ),
            Field::number("max_file_mb", 1, Self::MAX_FILE_MB, d.max_file_mb),
            Field::number(
                "max_transfers_per_user",
                1,
                Self::MAX_TRANSFERS_PER_USER as u64,
                d.max_transfers_per_user,
            ),
            Field::number(
                "file_kb_per_second_per_user",
                0,
                Self::MAX_FILE_KB_PER_SECOND,
                d.file_kb_per_second_per_user,
            ),
        ]
    }

    fn check(&self) -> Result<(), (&'static str, Mistake)> {
        for (key, value, min, max) in [
            ("max_file_mb", self.max_file_mb, 1, Self::MAX_FILE_MB),
            (
                "max_transfers_per_user",
                self.max_transfers_per_user as u64,
                1,
                Self::MAX_TRANSFERS_PER_USER as u64,
            ),
            (
                "file_kb_per_second_per_user",
                self.file_kb_per_second_per_user,
                0,
                Self::MAX_FILE_KB_PER_SECOND,
            ),
            (
                "history_on_join",
                self.history_on_join as u64,
                0,
                Self::MAX_HISTORY_ON_JOIN as u64,
            ),
            (
                "history_days",
                u64::from(self.history_days),
                0,
                u64::from(Self::MAX_HISTORY_DAYS),
            ),
        ] {
            check_range::<Self>(key, value, min, max)?;
        }
        mistake::check_listen("listen", &self.listen, DEFAULT_CHAT_PORT)
            .map_err(|m| ("listen", m))?;
        let db = self.database.as_str();
        let db_ok = db == "sqlite::memory:"
            || db.strip_prefix("sqlite://").is_some_and(|p| !p.is_empty())
            || db.strip_prefix("mysql://").is_some_and(|p| !p.is_empty());
        if !db_ok {
            return Err((
                "database",
                Mistake::BadDatabase {
                    value: redact_url(db),
                },
            ));
        }
        check_path(
            "session_key_dir",
            &self.session_key_dir,
            "../server_key/keys/sessions",
        )?;
        if self.max_connections == 0 {
            let fix = format!("max_connections = {MAX_CLIENTS}");
            let range = (1, 1_000_000);
            return Err(out_of_range::<Self>("max_connections", 0, range, Some(fix)));
        }
        if let Some(p) = &self.user_list {
            check_path("user_list", p, "../server_key/keys/chat_users.txt")?;
        }
        Ok(())
    }
}

/// `scheme://user:secret@host/...` -> `scheme://user:***@host/...`; other URLs unchanged. For
/// every message and log line that shows a database URL.
pub fn redact_url(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[start..];
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..auth_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &authority[..at];
    match userinfo.find(':') {
        Some(colon) => format!("{}{}:***{}", &url[..start], &userinfo[..colon], &rest[at..]),
        None => url.to_owned(),
    }
}

/// Client interface language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Chinese (default).
    #[default]
    Zh,
    /// English.
    En,
}

/// `client.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientConfig {
    /// Server address, or `"auto"`: find the teacher's servers on the local network (UDP
    /// `discovery_port`). Default `127.0.0.1`.
    pub server_host: String,
    /// Chat server port. Default 8090.
    pub chat_port: u16,
    /// Key distribution port. Default 8091.
    pub key_port: u16,
    /// Login name. Default `user1`.
    pub username: String,
    /// `"zh"` (default) or `"en"`.
    pub language: Language,
    /// UDP port of the discovery query when `server_host = "auto"`. Default 8092.
    pub discovery_port: u16,
    /// Keep the messages shown in this folder, sealed under a folder key
    /// ([`crate::client::kept`]), and show them at the next start. Default `false`: the client
    /// writes no message to disk.
    pub keep_history: bool,
    /// Where received files are saved (relative: to the client folder). Default `downloads`.
    pub downloads: PathBuf,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            server_host: "127.0.0.1".into(),
            chat_port: DEFAULT_CHAT_PORT,
            key_port: DEFAULT_KEY_PORT,
            username: "user1".into(),
            language: Language::Zh,
            discovery_port: DEFAULT_DISCOVERY_PORT,
            keep_history: false,
            downloads: PathBuf::from("downloads"),
        }
    }
}

impl ClientConfig {
    /// Whether `server_host` asks for discovery (`"auto"`, any case).
    pub fn auto_host(&self) -> bool {
        self.server_host.eq_ignore_ascii_case(AUTO_HOST)
    }
}

impl ConfigFile for ClientConfig {
    fn fields() -> Vec<Field> {
        let d = Self::default();
        vec![
            Field::text("server_host", d.server_host),
            Field::port("chat_port", d.chat_port),
            Field::port("key_port", d.key_port),
            Field::text("username", d.username),
            Field::choice("language", &["zh", "en"]),
            Field::port("discovery_port", d.discovery_port),
            Field::boolean("keep_history", d.keep_history),
            Field::text("downloads", "downloads"),
        ]
    }

    fn check(&self) -> Result<(), (&'static str, Mistake)> {
        mistake::check_host("server_host", &self.server_host).map_err(|m| ("server_host", m))?;
        check_path("downloads", &self.downloads, "downloads")?;
        for (key, port, default) in [
            ("chat_port", self.chat_port, DEFAULT_CHAT_PORT),
            ("key_port", self.key_port, DEFAULT_KEY_PORT),
            (
                "discovery_port",
                self.discovery_port,
                DEFAULT_DISCOVERY_PORT,
            ),
        ] {
            if port == 0 {
                let fix = format!("{key} = {default}");
                let range = (1, u64::from(u16::MAX));
                return Err(out_of_range::<Self>(key, 0, range, Some(fix)));
            }
        }
        if self.chat_port == self.key_port {
            return Err((
                "key_port",
                Mistake::SamePorts {
                    port: self.key_port,
                },
            ));
        }
        if crate::protocol::check_username(&self.username).is_err() {
            return Err((
                "username",
                Mistake::BadUsername {
                    value: self.username.chars().take(40).collect(),
                    fix: "username = \"user1\"".into(),
                },
            ));
        }
        Ok(())
    }
}

/// A loaded config with the folder its relative paths resolve against.
#[derive(Debug, Clone)]
pub struct Loaded<T> {
    pub config: T,
    /// The config file, if one was read.
    pub path: Option<PathBuf>,
    /// Folder of the config file (or the working directory when defaults are used).
    pub base_dir: PathBuf,
}

impl<T> Loaded<T> {
    /// Resolve `p` against [`Self::base_dir`] (absolute paths stay as they are).
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }
}

impl Loaded<ServerKeyConfig> {
    /// The user list file server_key reads.
    pub fn user_list_path(&self) -> PathBuf {
        match &self.config.user_list {
            Some(p) => self.resolve(p),
            None => self
                .resolve(&self.config.key_dir)
                .join(crate::userlist::FILE_NAME),
        }
    }
}

impl Loaded<ServerConfig> {
    /// The user list file the chat server writes.
    pub fn user_list_path(&self) -> PathBuf {
        match &self.config.user_list {
            Some(p) => self.resolve(p),
            None => {
                let sessions = self.resolve(&self.config.session_key_dir);
                sessions
                    .parent()
                    .map_or_else(|| sessions.clone(), Path::to_path_buf)
                    .join(crate::userlist::FILE_NAME)
            }
        }
    }

    /// The database URL with a relative SQLite path made absolute.
    pub fn database_url(&self) -> String {
        let db = &self.config.database;
        match db.strip_prefix("sqlite://") {
            Some(p) if !Path::new(p).is_absolute() => {
                format!("sqlite://{}", self.resolve(Path::new(p)).display())
            }
            _ => db.clone(),
        }
    }
}

/// Parse TOML text and check its values.
///
/// # Errors
/// [`ConfigError::Mistake`] naming `path`, the line and the mistake with its fix.
pub fn parse<T: ConfigFile>(text: &str, path: &Path) -> Result<T, ConfigError> {
    let at = |line: Option<usize>, mistake: Mistake| ConfigError::Mistake {
        path: path.to_path_buf(),
        line,
        mistake: Box::new(mistake),
    };
    let config: T = toml::from_str(text).map_err(|e| {
        let detail = e.message().trim().replace('\n', " ");
        match e.span() {
            Some(span) => {
                let line = mistake::line_of_offset(text, span.start);
                at(
                    Some(line),
                    mistake::diagnose(text, line, &T::fields(), &detail),
                )
            }
            None => at(None, Mistake::Syntax { detail }),
        }
    })?;
    config
        .check()
        .map_err(|(key, m)| at(mistake::line_of_key(text, key), m))?;
    Ok(config)
}

/// Read and parse a config file.
///
/// # Errors
/// [`ConfigError::Read`] or [`ConfigError::Mistake`] (including a file that is not UTF-8).
pub fn load<T: ConfigFile>(path: &Path) -> Result<Loaded<T>, ConfigError> {
    let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let valid = e.utf8_error().valid_up_to();
        ConfigError::Mistake {
            path: path.to_path_buf(),
            line: Some(1 + bytes[..valid].iter().filter(|&&b| b == b'\n').count()),
            mistake: Box::new(Mistake::NotUtf8),
        }
    })?;
    let config = parse(&text, path)?;
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let base_dir = abs
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    Ok(Loaded {
        config,
        path: Some(abs),
        base_dir,
    })
}

/// Whether a source-folder fallback may apply: only to a program run from the build tree, i.e.
/// an executable under `<workspace>/target/`. A copied program (a client folder on a USB stick,
/// a server folder from `dist.sh`, even on the build PC) never borrows the source tree's config,
/// so its key files and database are never read or written there.
pub fn runs_from_build_tree(exe: &Path, workspace: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    canon(exe).starts_with(canon(&workspace.join("target")))
}

/// The source-tree places of `file_name` for the crate at `manifest_dir` (its folder, and
/// `<crate>/<file_name>` under the working directory), or none when this program does not run
/// from the build tree ([`runs_from_build_tree`]).
pub fn dev_candidates(manifest_dir: &Path, file_name: &str) -> Vec<PathBuf> {
    let workspace = manifest_dir.parent().unwrap_or(manifest_dir);
    let from_build_tree = std::env::current_exe()
        .ok()
        .is_some_and(|exe| runs_from_build_tree(&exe, workspace));
    if !from_build_tree {
        return Vec::new();
    }
    let mut c = Vec::new();
    if let Some(name) = manifest_dir.file_name() {
        c.push(PathBuf::from(name).join(file_name));
    }
    c.push(manifest_dir.join(file_name));
    c
}

/// Where to look for `file_name` when no `--config` is given, in order: beside the executable,
/// the working directory, then each of `extra` (e.g. the crate folder in the source tree).
pub fn candidates(file_name: &str, extra: &[PathBuf]) -> Vec<PathBuf> {
    let mut c = Vec::new();
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        c.push(dir.join(file_name));
    }
    c.push(std::path::absolute(file_name).unwrap_or_else(|_| PathBuf::from(file_name)));
    c.extend(extra.iter().cloned());
    c
}

/// Find and load a config: `explicit` if given (it must exist), else the first of
/// [`candidates`] that exists.
///
/// # Errors
/// [`ConfigError::NotFound`] listing where it looked, or a read/parse error.
pub fn find<T: ConfigFile>(
    explicit: Option<&Path>,
    file_name: &str,
    extra: &[PathBuf],
) -> Result<Loaded<T>, ConfigError> {
    if let Some(p) = explicit {
        return load(p);
    }
    let cands = candidates(file_name, extra);
    match cands.iter().find(|p| p.is_file()) {
        Some(p) => load(p),
        None => Err(ConfigError::NotFound {
            name: file_name.to_owned(),
            looked: cands,
        }),
    }
}

/// Like [`find`], but fall back to the defaults (relative to the working directory) when no
/// file exists anywhere. For the servers, which can run without a config file.
///
/// # Errors
/// A read/parse error of a file that exists.
pub fn find_or_default<T: ConfigFile + Default>(
    explicit: Option<&Path>,
    file_name: &str,
    extra: &[PathBuf],
) -> Result<Loaded<T>, ConfigError> {
    match find(explicit, file_name, extra) {
        Err(ConfigError::NotFound { .. }) => Ok(Loaded {
            config: T::default(),
            path: None,
            base_dir: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        }),
        other => other,
    }
}
