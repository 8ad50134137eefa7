//! The session cookie key in `data_dir`: created once (mode 0600) and kept, so sessions stay
//! valid across restarts and across instances that share it.

use std::path::Path;

use actix_web::cookie::Key;

use super::StartupError;
use crate::files::{read_secret_file, write_secret_file};

/// Reads the 64-byte cookie key (refused behind a symlink or open to others), or creates it
/// with mode 0600.
pub fn load_or_create_key(path: &Path) -> Result<Key, StartupError> {
    match read_secret_file(path) {
        Ok(bytes) if bytes.len() >= 64 => Ok(Key::from(&bytes)),
        Ok(_) => Err(StartupError::Io(format!(
            "{} is shorter than 64 bytes; delete it to have a new one made",
            path.display()
        ))),
        Err(e) if e.is_not_found() => {
            let mut bytes = [0u8; 64];
            rand::fill(&mut bytes[..]);
            write_secret_file(path, &bytes).map_err(|e| StartupError::Io(e.to_string()))?;
            Ok(Key::from(&bytes))
        }
        Err(e) => Err(StartupError::Io(e.to_string())),
    }
}
