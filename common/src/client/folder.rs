//! A client folder: `client.toml` and, beside it, `client_private.pem`, `client_public.pem`,
//! the pinned `server_public.pem` and `session_key.txt`. The folder can be copied anywhere.

use std::path::{Path, PathBuf};

use crate::config::{self, ClientConfig, Loaded};
use crate::error::ConfigError;

/// A loaded client folder.
#[derive(Debug, Clone)]
pub struct ClientFolder {
    pub config: ClientConfig,
    /// The folder holding `client.toml` and the key files.
    pub dir: PathBuf,
    /// The executable name shown in hints (`client_wy`).
    pub program: String,
    /// The `client.toml` read, if any: texts about a setting name its file and line.
    pub config_file: Option<PathBuf>,
}

/// Which port of `client.toml` a text is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortKey {
    KeyPort,
    ChatPort,
}

impl PortKey {
    pub fn key(self) -> &'static str {
        match self {
            Self::KeyPort => "key_port",
            Self::ChatPort => "chat_port",
        }
    }
}

/// A port of `client.toml` that reached the other server (`key_port` answered by the chat server,
/// or the reverse): found from the first message, which each server sends unasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrongPort {
    /// The key that points at the wrong server.
    pub key: PortKey,
    /// Its value now.
    pub port: u16,
    /// The value it should have: the other key's port (the two were swapped; `check` refuses
    /// two equal ports).
    pub should_be: u16,
    /// The config file and the line of `key`, when known.
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
}

impl ClientFolder {
    /// Find `client.toml`: `explicit`, else beside the executable, else the working directory,
    /// else, only for a program run from the build tree (see [`config::runs_from_build_tree`]),
    /// `dev_dir` (the crate folder when run with `cargo run`).
    ///
    /// # Errors
    /// [`ConfigError`] naming where it looked or what is wrong (with the line and the fix).
    pub fn find(
        explicit: Option<&Path>,
        dev_dir: Option<&Path>,
        program: &str,
    ) -> Result<Self, ConfigError> {
        let extra: Vec<PathBuf> = dev_dir
            .map(|d| config::dev_candidates(d, "client.toml"))
            .unwrap_or_default();
        let loaded: Loaded<ClientConfig> = config::find(explicit, "client.toml", &extra)?;
        Ok(Self {
            config: loaded.config,
            dir: loaded.base_dir,
            program: program.to_owned(),
            config_file: loaded.path,
        })
    }

    /// The [`WrongPort`] for `key`, which reached the other server.
    pub fn wrong_port(&self, key: PortKey) -> WrongPort {
        let (port, should_be) = match key {
            PortKey::KeyPort => (self.config.key_port, self.config.chat_port),
            PortKey::ChatPort => (self.config.chat_port, self.config.key_port),
        };
        let line = self.config_file.as_deref().and_then(|f| {
            let text = std::fs::read_to_string(f).ok()?;
            config::mistake::line_of_key(&text, key.key())
        });
        WrongPort {
            key,
            port,
            should_be,
            file: self.config_file.clone(),
            line,
        }
    }

    /// A folder from parts (tests, load generators).
    pub fn new(config: ClientConfig, dir: PathBuf, program: &str) -> Self {
        Self {
            config,
            dir,
            program: program.to_owned(),
            config_file: None,
        }
    }

    pub fn private_key_path(&self) -> PathBuf {
        self.dir.join("client_private.pem")
    }

    pub fn public_key_path(&self) -> PathBuf {
        self.dir.join("client_public.pem")
    }

    pub fn server_key_path(&self) -> PathBuf {
        self.dir.join("server_public.pem")
    }

    pub fn session_key_path(&self) -> PathBuf {
        self.dir.join("session_key.txt")
    }

    /// Where received files go: `downloads` of client.toml, relative to this folder.
    pub fn downloads_dir(&self) -> PathBuf {
        self.dir.join(&self.config.downloads)
    }

    /// `host:key_port`. With `server_host = "auto"` only after [`crate::client::discover::resolve`]
    /// (the key step and the login resolve first).
    pub fn key_addr(&self) -> String {
        format!("{}:{}", self.config.server_host, self.config.key_port)
    }

    pub fn chat_addr(&self) -> String {
        format!("{}:{}", self.config.server_host, self.config.chat_port)
    }

    /// The chat server as shown before connecting: its address, or `auto (UDP 8092)` when it is
    /// yet to be found ([`crate::client::discover`]; the ports then come from the answer).
    pub fn server_label(&self) -> String {
        if self.config.auto_host() {
            format!(
                "{} (UDP {})",
                crate::protocol::consts::AUTO_HOST,
                self.config.discovery_port
            )
        } else {
            self.chat_addr()
        }
    }
}
