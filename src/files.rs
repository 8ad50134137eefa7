//! Files that hold secrets or private data (the SQLite database, key files) and the folder that
//! holds them (SPEC §8): never opened through a symbolic link, created and kept at mode 0600,
//! never overwritten; a folder that others may write to is refused.

use std::ffi::OsString;
use std::fs::{File, OpenOptions, Permissions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The permission bits of a private file.
const FILE_MODE: u32 = 0o600;
/// The permission bits of a private folder created here.
const DIR_MODE: u32 = 0o700;

/// Why a private file or folder cannot be used: names the path and, where one exists, the
/// command that fixes it.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot {action} {}: {source}", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is a symbolic link; refusing to follow it (put the file itself there)", .0.display())]
    Symlink(PathBuf),
    #[error("{} already exists; refusing to overwrite it", .0.display())]
    Exists(PathBuf),
    #[error("{} is not a regular file", .0.display())]
    NotAFile(PathBuf),
    #[error(
        "{} is open to group or others (mode {mode:03o}); run `chmod 600 {}`",
        .path.display(), shell_quote(.path)
    )]
    OpenFile { path: PathBuf, mode: u32 },
    #[error("{} is not a directory", .0.display())]
    NotADir(PathBuf),
    #[error(
        "{} is writable by group or others (mode {mode:03o}); run `chmod 700 {}`",
        .path.display(), shell_quote(.path)
    )]
    OpenDir { path: PathBuf, mode: u32 },
    #[error(
        "{} belongs to uid {owner}, not to uid {me} that runs gatehouse; run `chown {me} {}` \
         or start gatehouse as its owner",
        .path.display(), shell_quote(.path)
    )]
    DirOwner { path: PathBuf, owner: u32, me: u32 },
}

impl FileError {
    fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// Whether the file is missing (and nothing, not even a symlink, stands in its place).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// What to do with a file whose mode is wider than 0600.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wider {
    /// A secret that group or others could read (or replace) may be out already: refuse, and
    /// let the operator decide. Other stray bits (an owner's `x`) are dropped.
    RefuseOpenToOthers,
    /// Narrow it to 0600 and say so.
    Narrow,
}

/// Opens without following a symlink at the last component: `O_NOFOLLOW` makes the kernel
/// refuse it, so there is no window between a check and the open. `O_NONBLOCK` keeps a FIFO
/// put in a file's place from hanging start-up; it changes nothing for a regular file.
fn open_no_follow(path: &Path, options: &mut OpenOptions) -> Result<File, FileError> {
    options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    options.open(path).map_err(|e| {
        if e.raw_os_error() == Some(libc::ELOOP) {
            FileError::Symlink(path.to_path_buf())
        } else {
            FileError::io("open", path, e)
        }
    })
}

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Checks the opened file itself (not the name, which may have changed since): a regular file
/// at mode 0600, narrowed or refused as `wider` says.
fn check_mode(file: &File, path: &Path, wider: Wider) -> Result<(), FileError> {
    let meta = file
        .metadata()
        .map_err(|e| FileError::io("inspect", path, e))?;
    if !meta.is_file() {
        return Err(FileError::NotAFile(path.to_path_buf()));
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & !FILE_MODE == 0 {
        return Ok(());
    }
    if wider == Wider::RefuseOpenToOthers && mode & 0o077 != 0 {
        return Err(FileError::OpenFile {
            path: path.to_path_buf(),
            mode,
        });
    }
    file.set_permissions(Permissions::from_mode(FILE_MODE))
        .map_err(|e| FileError::io("narrow the mode of", path, e))?;
    tracing::warn!(
        "narrowed the mode of {} from {mode:03o} to 600: it holds private data",
        path.display()
    );
    Ok(())
}

fn read_checked(path: &Path, wider: Wider) -> Result<Vec<u8>, FileError> {
    let mut file = open_no_follow(path, OpenOptions::new().read(true))?;
    check_mode(&file, path, wider)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| FileError::io("read", path, e))?;
    Ok(bytes)
}

/// Reads a secret file (a private key, an HMAC secret, the cookie key): never through a
/// symlink, only a regular file, and refused when group or others have any access to it.
pub fn read_secret_file(path: &Path) -> Result<Vec<u8>, FileError> {
    read_checked(path, Wider::RefuseOpenToOthers)
}

/// Reads a file that is kept private though it is no secret (a public key): never through a
/// symlink, its mode narrowed to 0600 when wider.
pub fn read_private_file(path: &Path) -> Result<Vec<u8>, FileError> {
    read_checked(path, Wider::Narrow)
}

/// Whether anything stands at `path`, a symlink (dangling or not) included.
pub fn exists_no_follow(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// Refuses a path where anything stands already, naming a symlink as such.
pub fn ensure_absent(path: &Path) -> Result<(), FileError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(FileError::Symlink(path.to_path_buf())),
        Ok(_) => Err(FileError::Exists(path.to_path_buf())),
        Err(_) => Ok(()),
    }
}

/// Writes a new secret file at mode 0600; refuses to overwrite anything or to follow a symlink.
pub fn write_secret_file(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    ensure_absent(path)?;
    // `create_new` (O_EXCL) also fails on a symlink that appears after the check above.
    let mut file = open_no_follow(
        path,
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE),
    )
    .map_err(|e| match e {
        FileError::Io { source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists => {
            if is_symlink(path) {
                FileError::Symlink(path.to_path_buf())
            } else {
                FileError::Exists(path.to_path_buf())
            }
        }
        other => other,
    })?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| FileError::io("write", path, e))
}

/// Makes the SQLite database at `path` safe for SQLite to open by name: created at mode 0600
/// when missing; refused when it, or a companion file SQLite would open beside it (`-wal`,
/// `-shm`, `-journal`), is a symlink or not a regular file; each narrowed to 0600 when wider.
/// SQLite opens the name again afterwards (it has no `O_NOFOLLOW` through Diesel): only a
/// folder nobody else may write to, as `check_private_dir` makes `data_dir` at start-up, keeps
/// anyone from swapping the file in between.
///
/// Existing files are inspected by name, never opened: SQLite's locks are POSIX advisory locks,
/// which a process loses on a file as soon as it closes any descriptor of it, so opening and
/// closing the database beside a live connection of the same process (a second pool, the
/// tests) would silently drop that connection's locks.
pub fn prepare_database_file(path: &Path) -> Result<(), FileError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) => narrow_by_name(path, &meta)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A new file: nobody holds a lock on it yet.
            let file = open_no_follow(
                path,
                OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .mode(FILE_MODE),
            )?;
            check_mode(&file, path, Wider::Narrow)?;
        }
        Err(e) => return Err(FileError::io("inspect", path, e)),
    }
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut name = OsString::from(path.as_os_str());
        name.push(suffix);
        let companion = PathBuf::from(name);
        match std::fs::symlink_metadata(&companion) {
            Ok(meta) => narrow_by_name(&companion, &meta)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(FileError::io("inspect", &companion, e)),
        }
    }
    Ok(())
}

/// For a file inspected by name (see `prepare_database_file`): refuses a symlink or anything but
/// a regular file, and narrows a wider mode to 0600.
fn narrow_by_name(path: &Path, meta: &std::fs::Metadata) -> Result<(), FileError> {
    if meta.file_type().is_symlink() {
        return Err(FileError::Symlink(path.to_path_buf()));
    }
    if !meta.is_file() {
        return Err(FileError::NotAFile(path.to_path_buf()));
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & !FILE_MODE == 0 {
        return Ok(());
    }
    std::fs::set_permissions(path, Permissions::from_mode(FILE_MODE))
        .map_err(|e| FileError::io("narrow the mode of", path, e))?;
    tracing::warn!(
        "narrowed the mode of {} from {mode:03o} to 600: it holds private data",
        path.display()
    );
    Ok(())
}

/// Creates `dir` and any missing parents, each new one at mode 0700.
pub fn create_private_dir(dir: &Path) -> Result<(), FileError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(|e| FileError::io("create", dir, e))
}

/// Checks a folder that holds private files: a directory (a symlink to one is fine), owned by
/// the user running gatehouse, and not writable by group or others — whoever may write to it
/// can put a symlink in a file's place between a check and SQLite's open, or replace a key.
pub fn check_private_dir(dir: &Path) -> Result<(), FileError> {
    let meta = std::fs::metadata(dir).map_err(|e| FileError::io("inspect", dir, e))?;
    if !meta.is_dir() {
        return Err(FileError::NotADir(dir.to_path_buf()));
    }
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(FileError::DirOwner {
            path: dir.to_path_buf(),
            owner: meta.uid(),
            me,
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(FileError::OpenDir {
            path: dir.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

/// `path` as one shell word, so that the command in a message can be pasted as it is.
fn shell_quote(path: &Path) -> String {
    let text = path.display().to_string();
    let plain = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+,:@%=".contains(&b));
    if plain {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    }

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn a_secret_is_read_only_when_group_and_others_have_no_access() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        write_secret_file(&path, b"s3cret").unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(read_secret_file(&path).unwrap(), b"s3cret");

        for open in [0o640, 0o604, 0o620, 0o602, 0o610] {
            chmod(&path, open);
            let err = read_secret_file(&path).unwrap_err();
            assert!(matches!(err, FileError::OpenFile { .. }), "{open:o}: {err}");
            assert!(err.to_string().contains("chmod 600"), "{err}");
        }
        chmod(&path, 0o700);
        assert_eq!(read_secret_file(&path).unwrap(), b"s3cret");
        assert_eq!(mode(&path), 0o600, "an owner's x bit is dropped");
    }

    #[test]
    fn a_private_file_with_a_wider_mode_is_narrowed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("public.pem");
        std::fs::write(&path, b"pem").unwrap();
        chmod(&path, 0o664);
        assert_eq!(read_private_file(&path).unwrap(), b"pem");
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn nothing_is_read_or_written_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, b"x").unwrap();
        chmod(&target, 0o600);
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();

        assert!(matches!(
            read_secret_file(&link),
            Err(FileError::Symlink(_))
        ));
        assert!(matches!(
            read_private_file(&dangling),
            Err(FileError::Symlink(_))
        ));
        assert!(matches!(
            write_secret_file(&dangling, b"k"),
            Err(FileError::Symlink(_))
        ));
        assert!(matches!(
            prepare_database_file(&dangling),
            Err(FileError::Symlink(_))
        ));
        assert!(!dir.path().join("nowhere").exists());
        assert!(matches!(
            write_secret_file(&target, b"k"),
            Err(FileError::Exists(_))
        ));
        assert!(
            read_secret_file(&dir.path().join("missing"))
                .unwrap_err()
                .is_not_found()
        );
    }

    #[test]
    fn a_database_companion_behind_a_symlink_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("g.db");
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), dir.path().join("g.db-wal"))
            .unwrap();
        let err = prepare_database_file(&db).unwrap_err();
        assert!(err.to_string().contains("g.db-wal"), "{err}");
        assert!(matches!(err, FileError::Symlink(_)), "{err}");
    }

    #[test]
    fn a_folder_writable_by_others_is_refused_and_a_new_one_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("a").join("b");
        create_private_dir(&new).unwrap();
        assert_eq!(mode(&new), 0o700);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        check_private_dir(&new).unwrap();
        chmod(&new, 0o755);
        check_private_dir(&new).unwrap();
        for open in [0o775, 0o757, 0o1777] {
            chmod(&new, open);
            let err = check_private_dir(&new).unwrap_err();
            assert!(err.to_string().contains("chmod 700"), "{open:o}: {err}");
        }
    }

    #[test]
    fn paths_in_commands_are_quoted_for_the_shell_only_when_needed() {
        assert_eq!(shell_quote(Path::new("./data")), "./data");
        assert_eq!(shell_quote(Path::new("/srv/my data")), "'/srv/my data'");
        assert_eq!(shell_quote(Path::new("/srv/it's")), r"'/srv/it'\''s'");
    }
}
