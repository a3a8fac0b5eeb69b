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
}

impl ClientFolder {
    /// Find `client.toml`: `explicit`, else beside the executable, else the working directory,
    /// else `dev_dir` (the crate folder when run with `cargo run`).
    ///
    /// # Errors
    /// [`ConfigError`] naming where it looked or what is wrong.
    pub fn find(
        explicit: Option<&Path>,
        dev_dir: Option<&Path>,
        program: &str,
    ) -> Result<Self, ConfigError> {
        let extra: Vec<PathBuf> = dev_dir.map(|d| d.join("client.toml")).into_iter().collect();
        let loaded: Loaded<ClientConfig> = config::find(explicit, "client.toml", &extra)?;
        crate::protocol::check_username(&loaded.config.username).map_err(|message| {
            ConfigError::Invalid {
                path: loaded.path.clone().unwrap_or_default(),
                message,
            }
        })?;
        Ok(Self {
            config: loaded.config,
            dir: loaded.base_dir,
            program: program.to_owned(),
        })
    }

    /// A folder from parts (tests, load generators).
    pub fn new(config: ClientConfig, dir: PathBuf, program: &str) -> Self {
        Self {
            config,
            dir,
            program: program.to_owned(),
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

    pub fn key_addr(&self) -> String {
        format!("{}:{}", self.config.server_host, self.config.key_port)
    }

    pub fn chat_addr(&self) -> String {
        format!("{}:{}", self.config.server_host, self.config.chat_port)
    }
}
