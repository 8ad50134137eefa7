//! Files that hold secrets (the SQLite database, key files): created readable only by their
//! owner, and never overwritten.

use std::io::Write;
use std::path::Path;

/// Why a secret file could not be written; names the file.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {path}: {source}")]
pub struct FileError {
    action: &'static str,
    path: String,
    source: std::io::Error,
}

impl FileError {
    fn new(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Self {
            action,
            path: path.display().to_string(),
            source,
        }
    }

    /// Whether the file existed already.
    pub fn already_exists(&self) -> bool {
        self.source.kind() == std::io::ErrorKind::AlreadyExists
    }
}

fn private_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Writes a new secret file readable only by its owner; refuses to overwrite one.
pub fn write_secret_file(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    let mut file = private_options()
        .open(path)
        .map_err(|e| FileError::new("create", path, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| FileError::new("write", path, e))
}

/// Creates an empty file readable only by its owner, unless it exists already.
pub fn create_private_file(path: &Path) -> Result<(), FileError> {
    match private_options().open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(FileError::new("create", path, e)),
    }
}
