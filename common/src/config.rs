//! Configuration files: `server_key.toml`, `server.toml` and `client.toml`.
//!
//! Every field has a default (documented on the field and in the README); relative paths resolve
//! against the folder of the config file itself, so a folder can be moved or copied anywhere;
//! an unknown key is an error that names it.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::ConfigError;
use crate::protocol::consts::{
    DEFAULT_CHAT_PORT, DEFAULT_KEY_PORT, DEFAULT_RSA_BITS, DEFAULT_SESSION_TTL_HOURS,
    KEY_REQUESTS_PER_MINUTE_PER_ADDRESS, KEY_REQUESTS_PER_MINUTE_PER_USER, MAX_CLIENTS,
    MAX_KEY_EXCHANGES_PER_ADDRESS,
};

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
    /// Lifetime of a distributed session key in hours. Default 24.
    pub session_ttl_hours: u64,
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
}

impl Default for ServerKeyConfig {
    fn default() -> Self {
        Self {
            listen: format!("0.0.0.0:{DEFAULT_KEY_PORT}"),
            key_dir: PathBuf::from("keys"),
            rsa_bits: DEFAULT_RSA_BITS,
            session_ttl_hours: DEFAULT_SESSION_TTL_HOURS,
            registration: Registration::Tofu,
            key_requests_per_minute_per_address: KEY_REQUESTS_PER_MINUTE_PER_ADDRESS,
            key_requests_per_minute_per_user: KEY_REQUESTS_PER_MINUTE_PER_USER,
            max_exchanges_per_address: MAX_KEY_EXCHANGES_PER_ADDRESS,
            user_list: None,
        }
    }
}

impl ServerKeyConfig {
    /// Longest accepted `session_ttl_hours` (one year): a DES key should not live longer, and
    /// larger values would overflow expiry arithmetic.
    pub const MAX_TTL_HOURS: u64 = 24 * 366;

    /// Check values serde cannot.
    ///
    /// # Errors
    /// A message naming the key and the accepted range.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=Self::MAX_TTL_HOURS).contains(&self.session_ttl_hours) {
            return Err(format!(
                "session_ttl_hours = {} is outside 1..={}",
                self.session_ttl_hours,
                Self::MAX_TTL_HOURS
            ));
        }
        if self.rsa_bits < crate::protocol::consts::MIN_RSA_BITS || self.rsa_bits > 16384 {
            return Err(format!(
                "rsa_bits = {} is outside {}..=16384",
                self.rsa_bits,
                crate::protocol::consts::MIN_RSA_BITS
            ));
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
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: format!("0.0.0.0:{DEFAULT_CHAT_PORT}"),
            database: "sqlite://data/mini_chat.db".into(),
            session_key_dir: PathBuf::from("../server_key/keys/sessions"),
            max_connections: MAX_CLIENTS,
            user_list: None,
        }
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
    /// Server address. Default `127.0.0.1`.
    pub server_host: String,
    /// Chat server port. Default 8090.
    pub chat_port: u16,
    /// Key distribution port. Default 8091.
    pub key_port: u16,
    /// Login name. Default `user1`.
    pub username: String,
    /// `"zh"` (default) or `"en"`.
    pub language: Language,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            server_host: "127.0.0.1".into(),
            chat_port: DEFAULT_CHAT_PORT,
            key_port: DEFAULT_KEY_PORT,
            username: "user1".into(),
            language: Language::Zh,
        }
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

/// Parse TOML text.
///
/// # Errors
/// [`ConfigError::Parse`] naming `path` and the problem (including an unknown key's name).
pub fn parse<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string().trim().replace('\n', " "),
    })
}

/// Read and parse a config file.
///
/// # Errors
/// [`ConfigError::Read`] or [`ConfigError::Parse`].
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<Loaded<T>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
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

/// Where to look for `file_name` when no `--config` is given, in order: beside the executable,
/// the working directory, then each of `extra` (e.g. the crate folder in the source tree).
pub fn candidates(file_name: &str, extra: &[PathBuf]) -> Vec<PathBuf> {
    let mut c = Vec::new();
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        c.push(dir.join(file_name));
    }
    c.push(PathBuf::from(file_name));
    c.extend(extra.iter().cloned());
    c
}

/// Find and load a config: `explicit` if given (it must exist), else the first of
/// [`candidates`] that exists.
///
/// # Errors
/// [`ConfigError::NotFound`] listing where it looked, or a read/parse error.
pub fn find<T: DeserializeOwned>(
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
            looked: cands
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// Like [`find`], but fall back to the defaults (relative to the working directory) when no
/// file exists anywhere. For the servers, which can run without a config file.
///
/// # Errors
/// A read/parse error of a file that exists.
pub fn find_or_default<T: DeserializeOwned + Default>(
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
