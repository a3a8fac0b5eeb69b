//! server_key's files under `key_dir`:
//!
//! ```text
//! key_dir/server_private.pem     long-term identity (PKCS#8, 0600), created on first start
//! key_dir/server_public.pem      its public half (SPKI), handed to clients for pinning
//! key_dir/clients/<user>.pem     the client public key bound to <user>
//! key_dir/sessions/<user>.txt    the session key the chat server reads (0600)
//! ```

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use common::config::Registration;
use common::crypto::{PrivateKey, PublicKey};
use common::keyfile::KeyFile;
use common::protocol::check_username;

/// Why a client key was not accepted for a username.
#[derive(Debug, thiserror::Error)]
pub enum BindingError {
    #[error(
        "{user} is registered with another client key ({bound}); this request used {got}. \
         If the client folder was re-created, ask the operator to run `server_key clients revoke {user}`"
    )]
    Mismatch {
        user: String,
        bound: String,
        got: String,
    },
    #[error(
        "{user} is not registered and this server only accepts registered keys (registration = \"strict\"); \
         ask the operator to run `server_key clients register {user} <client_public.pem>`"
    )]
    Unknown { user: String },
    #[error("{0}")]
    BadUsername(String),
    #[error(transparent)]
    Store(#[from] common::Error),
}

/// The key directory.
#[derive(Debug)]
pub struct KeyStore {
    dir: PathBuf,
    /// Serialises check-then-bind so two concurrent first requests for one name can't both win.
    bind_lock: Mutex<()>,
}

impl KeyStore {
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            bind_lock: Mutex::new(()),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn server_private_path(&self) -> PathBuf {
        self.dir.join("server_private.pem")
    }

    pub fn server_public_path(&self) -> PathBuf {
        self.dir.join("server_public.pem")
    }

    pub fn clients_dir(&self) -> PathBuf {
        self.dir.join("clients")
    }

    pub fn sessions_dir(&self) -> PathBuf {
        self.dir.join("sessions")
    }

    /// Create [`Self::sessions_dir`] if missing, at start and at `init`: the chat server refuses
    /// to start without it (a missing folder there means its `session_key_dir` is wrong).
    ///
    /// # Errors
    /// The folder cannot be created.
    pub fn create_sessions_dir(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(self.sessions_dir())
    }

    fn client_path(&self, user: &str) -> PathBuf {
        self.clients_dir().join(format!("{user}.pem"))
    }

    pub fn session_path(&self, user: &str) -> PathBuf {
        self.sessions_dir().join(format!("{user}.txt"))
    }

    /// Load the server identity, creating it (`bits` bits) on first start.
    ///
    /// # Errors
    /// A malformed existing key file, or a write failure.
    pub fn server_identity(&self, bits: usize) -> Result<(PrivateKey, bool), common::Error> {
        PrivateKey::load_or_create(
            &self.server_private_path(),
            &self.server_public_path(),
            bits,
        )
    }

    /// The key bound to `user`, if any.
    ///
    /// # Errors
    /// A bad username or an unreadable/malformed binding file.
    pub fn bound_key(&self, user: &str) -> Result<Option<PublicKey>, BindingError> {
        check_username(user).map_err(BindingError::BadUsername)?;
        let p = self.client_path(user);
        if !p.exists() {
            return Ok(None);
        }
        Ok(Some(PublicKey::load(&p).map_err(common::Error::from)?))
    }

    /// Accept `key` for `user` under `mode`, binding it on first use in TOFU mode.
    /// Returns true when a new binding was made.
    ///
    /// # Errors
    /// [`BindingError`].
    pub fn check_binding(
        &self,
        user: &str,
        key: &PublicKey,
        mode: Registration,
    ) -> Result<bool, BindingError> {
        let _guard = self.bind_lock.lock().unwrap_or_else(|e| e.into_inner());
        match self.bound_key(user)? {
            Some(bound) if bound == *key => Ok(false),
            Some(bound) => Err(BindingError::Mismatch {
                user: user.to_owned(),
                bound: bound.fingerprint(),
                got: key.fingerprint(),
            }),
            None if mode == Registration::Strict => Err(BindingError::Unknown {
                user: user.to_owned(),
            }),
            None => {
                key.save(&self.client_path(user))
                    .map_err(common::Error::from)?;
                Ok(true)
            }
        }
    }

    /// Register (or replace) the key for `user` (the `clients register` command).
    ///
    /// # Errors
    /// A bad username or a write failure.
    pub fn register(&self, user: &str, key: &PublicKey) -> Result<(), BindingError> {
        check_username(user).map_err(BindingError::BadUsername)?;
        let _guard = self.bind_lock.lock().unwrap_or_else(|e| e.into_inner());
        key.save(&self.client_path(user))
            .map_err(common::Error::from)?;
        Ok(())
    }

    /// Remove the binding and the session key of `user`. Returns whether a binding existed.
    ///
    /// # Errors
    /// A bad username or an I/O failure.
    pub fn revoke(&self, user: &str) -> Result<bool, BindingError> {
        check_username(user).map_err(BindingError::BadUsername)?;
        let _guard = self.bind_lock.lock().unwrap_or_else(|e| e.into_inner());
        let existed = self.client_path(user).exists();
        for p in [self.client_path(user), self.session_path(user)] {
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(common::Error::Io(e).into()),
            }
        }
        Ok(existed)
    }

    /// All bindings: `(username, fingerprint, session key expiry if any)`.
    ///
    /// # Errors
    /// I/O failures reading the folder.
    pub fn list(&self) -> Result<Vec<(String, String, Option<String>)>, common::Error> {
        let mut out = Vec::new();
        let dir = self.clients_dir();
        if !dir.exists() {
            return Ok(out);
        }
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            let Some(user) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
                continue;
            };
            if path.extension().and_then(|e| e.to_str()) != Some("pem")
                || check_username(&user).is_err()
            {
                continue;
            }
            let fp = PublicKey::load(&path)
                .map(|k| k.fingerprint())
                .unwrap_or_else(|e| format!("unreadable: {e}"));
            let expiry = KeyFile::load(&self.session_path(&user))
                .ok()
                .map(|k| k.key.expires_rfc3339());
            out.push((user, fp, expiry));
        }
        out.sort();
        Ok(out)
    }
}
