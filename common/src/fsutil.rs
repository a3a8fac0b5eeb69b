//! Key-file reads, and atomic, private file writes for keys and key files.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::KeyFileError;

/// Read a key file as text: a missing file is [`KeyFileError::Missing`] (callers tell "run the
/// key step" apart from a real read error by it), anything else [`KeyFileError::Read`].
///
/// # Errors
/// As above, naming `path`.
pub fn read_key_text(path: &Path) -> Result<String, KeyFileError> {
    std::fs::read_to_string(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            KeyFileError::Missing {
                path: path.to_path_buf(),
            }
        } else {
            KeyFileError::Read {
                path: path.to_path_buf(),
                source,
            }
        }
    })
}

/// Write `data` to `path` atomically: a temporary file in the same folder, fsync, then rename,
/// so a reader (or a crash, or a full disk) sees either the old file or the new one, never half.
/// With `secret`, the file is created with mode 0600 on Unix before any byte is written.
///
/// # Errors
/// Any I/O error; the previous file at `path` is then left untouched.
pub fn write_atomic(path: &Path, data: &[u8], secret: bool) -> std::io::Result<()> {
    Staged::write(path, data, secret)?.commit()
}

/// The first half of [`write_atomic`]: the new content is written in full and fsynced to a
/// temporary file beside `path`, but not yet in place. [`Staged::commit`] renames it over `path`
/// (which needs no new disk space); dropping it uncommitted removes the temporary file. Used
/// when a write must not fail *after* a point of no return (the key step stages its key file
/// before confirming the key to the server, so a full disk is found while the old key is still
/// the valid one).
#[derive(Debug)]
pub struct Staged {
    tmp: PathBuf,
    path: PathBuf,
    committed: bool,
}

impl Staged {
    /// Write `data` to a temporary file beside `path`.
    ///
    /// # Errors
    /// Any I/O error (nothing is left behind).
    pub fn write(path: &Path, data: &[u8], secret: bool) -> std::io::Result<Self> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(dir)?;
        let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
        let tmp = dir.join(format!(
            ".{file_name}.{}.{}.tmp",
            std::process::id(),
            hex::encode(crate::crypto::random::bytes::<4>())
        ));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(if secret { 0o600 } else { 0o644 });
        }
        #[cfg(not(unix))]
        let _ = secret;
        let mut f = opts.open(&tmp)?;
        let staged = Self {
            tmp,
            path: path.to_path_buf(),
            committed: false,
        };
        f.write_all(data)?;
        f.sync_all()?;
        Ok(staged)
    }

    /// Put the staged file in place of `path`.
    ///
    /// # Errors
    /// The rename failed; the previous file at `path` is untouched.
    pub fn commit(mut self) -> std::io::Result<()> {
        std::fs::rename(&self.tmp, &self.path)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
