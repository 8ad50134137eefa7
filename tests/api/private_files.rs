//! Files that stay private (SPEC §8): the SQLite database and the key files are never opened
//! through a symbolic link and are kept at mode 0600; a `data_dir` that others may write to, or
//! that belongs to someone else, stops start-up with the command that fixes it.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use gatehouse::config::{Settings, TokenAlgorithm};
use gatehouse::startup::Application;
use tempfile::TempDir;

use crate::cli::{Cli, assert_fails_with_one_line};
use crate::helpers::test_settings;

/// Settings whose data directory is `data_dir` and whose database is SQLite inside it,
/// whatever backend the rest of the suite runs on: these rules are about local files.
fn sqlite_settings(tmp: &TempDir, data_dir: &Path) -> Settings {
    let url = format!("sqlite://{}", data_dir.join("gatehouse.db").display());
    let mut settings = test_settings(tmp, &url);
    settings.server.data_dir = data_dir.to_path_buf();
    settings
}

/// `Application::build`, with the error as text.
async fn build(settings: Settings) -> Result<Application, String> {
    Application::build(settings)
        .await
        .map_err(|e| e.to_string())
}

async fn build_error(settings: Settings) -> String {
    match build(settings).await {
        Ok(_) => panic!("start-up was expected to be refused"),
        Err(e) => e,
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// A file written with mode 0600, as an operator who copies a key in place should.
fn write_private(path: &Path, contents: &[u8]) {
    std::fs::write(path, contents).unwrap();
    chmod(path, 0o600);
}

/// A private data directory inside the test's temporary directory.
fn data_dir(tmp: &TempDir) -> PathBuf {
    let dir = tmp.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    chmod(&dir, 0o700);
    dir
}

// ---- the database file -------------------------------------------------------------------------

#[tokio::test]
async fn a_dangling_symlink_at_the_database_path_is_refused_and_nothing_is_created_elsewhere() {
    // Arrange
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir(&tmp);
    let elsewhere = tmp.path().join("elsewhere.db");
    let db_path = data.join("gatehouse.db");
    symlink(&elsewhere, &db_path).unwrap();

    // Act
    let err = build_error(sqlite_settings(&tmp, &data)).await;

    // Assert
    assert!(err.contains(&db_path.display().to_string()), "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert!(!err.contains('\n'), "one line: {err}");
    assert!(
        !elsewhere.exists(),
        "the symlink's target was created (mode {:o})",
        mode(&elsewhere)
    );
}

#[tokio::test]
async fn a_symlink_to_an_existing_database_is_refused() {
    // Arrange
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir(&tmp);
    let real = tmp.path().join("real.db");
    write_private(&real, b"");
    symlink(&real, data.join("gatehouse.db")).unwrap();

    // Act
    let err = build_error(sqlite_settings(&tmp, &data)).await;

    // Assert
    assert!(err.contains("gatehouse.db"), "{err}");
    assert!(err.contains("symbolic link"), "{err}");
}

#[test]
fn the_cli_refuses_a_dangling_symlink_at_the_database_path_with_one_line_naming_it() {
    // Arrange
    let cli = Cli::new();
    let db_path = cli.path("linked.db");
    let elsewhere = cli.path("elsewhere.db");
    symlink(&elsewhere, &db_path).unwrap();
    let url = format!("sqlite://{}", db_path.display());

    // Act
    let out = cli.run_with_env(&["migrate"], &[("GATEHOUSE_DATABASE__URL", &url)], None);

    // Assert
    let line = assert_fails_with_one_line(&out);
    assert!(line.contains(&db_path.display().to_string()), "{line}");
    assert!(line.contains("symbolic link"), "{line}");
    assert!(!elsewhere.exists(), "the symlink's target was created");
}

#[tokio::test]
async fn a_database_and_its_wal_and_shm_files_with_a_wider_mode_are_narrowed_to_0600() {
    // Arrange: an open database, so that its -wal and -shm files exist.
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir(&tmp);
    let settings = sqlite_settings(&tmp, &data);
    let url = settings.database.url.clone();
    let first = tokio::task::spawn_blocking(move || gatehouse::db::Database::open(&url, 1))
        .await
        .unwrap()
        .unwrap();
    let files: Vec<PathBuf> = ["gatehouse.db", "gatehouse.db-wal", "gatehouse.db-shm"]
        .iter()
        .map(|name| data.join(name))
        .collect();
    for file in &files {
        chmod(file, 0o644);
    }

    // Act
    let app = build(settings).await;

    // Assert
    assert!(app.is_ok(), "{:?}", app.err());
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    drop(first);
}

// ---- the data directory ----------------------------------------------------------------------

#[tokio::test]
async fn a_data_dir_writable_by_group_or_others_is_refused_with_the_chmod_to_run_and_one_readable_is_not()
 {
    for wide in [0o777, 0o770, 0o702] {
        // Arrange
        let tmp = tempfile::tempdir().unwrap();
        let data = data_dir(&tmp);
        chmod(&data, wide);

        // Act
        let err = build_error(sqlite_settings(&tmp, &data)).await;

        // Assert
        assert!(
            err.contains(&format!("chmod 700 {}", data.display())),
            "{wide:o}: {err}"
        );
        assert!(!err.contains('\n'), "one line: {err}");
    }
    // Readable by others is not the danger: only writing lets them swap a file.
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir(&tmp);
    chmod(&data, 0o755);
    let app = build(sqlite_settings(&tmp, &data)).await;
    assert!(app.is_ok(), "0755: {:?}", app.err());
}

#[tokio::test]
async fn a_data_dir_created_at_start_up_is_private() {
    // Arrange
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("new").join("data");

    // Act
    let app = build(sqlite_settings(&tmp, &data)).await;

    // Assert
    assert!(app.is_ok(), "{:?}", app.err());
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("gatehouse.db")), 0o600);
    assert_eq!(mode(&data.join("master.key")), 0o600);
    assert!(
        !data.join("session.key").exists() && !data.join("signing.pem").exists(),
        "keys live in the database, not in files"
    );
}

#[tokio::test]
async fn a_data_dir_owned_by_another_user_is_refused() {
    // Arrange: only root can give a directory away; other users skip this test.
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir(&tmp);
    const NOBODY: u32 = 65534;
    if std::os::unix::fs::chown(&data, Some(NOBODY), None).is_err() {
        eprintln!("skipped: cannot chown as this user");
        return;
    }

    // Act
    let err = build_error(sqlite_settings(&tmp, &data)).await;

    // Assert
    assert!(err.contains(&data.display().to_string()), "{err}");
    assert!(err.contains("chown"), "{err}");
}

// ---- key files -------------------------------------------------------------------------------

#[tokio::test]
async fn an_hmac_secret_readable_by_group_or_others_is_refused_with_the_chmod_to_run() {
    for wide in [0o644, 0o640, 0o604] {
        // Arrange
        let tmp = tempfile::tempdir().unwrap();
        let data = data_dir(&tmp);
        let secret = tmp.path().join("hmac.key");
        write_private(&secret, "k".repeat(64).as_bytes());
        chmod(&secret, wide);
        let mut settings = sqlite_settings(&tmp, &data);
        settings.token.algorithm = TokenAlgorithm::HS256;
        settings.token.secret_file = Some(secret.clone());

        // Act
        let err = build_error(settings).await;

        // Assert
        assert!(
            err.contains(&format!("chmod 600 {}", secret.display())),
            "{wide:o}: {err}"
        );
    }
}

#[tokio::test]
async fn a_session_key_readable_by_others_is_refused_with_the_chmod_to_run() {
    // Arrange
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir(&tmp);
    let key = data.join("session.key");
    write_private(&key, &[7u8; 64]);
    chmod(&key, 0o644);

    // Act
    let err = build_error(sqlite_settings(&tmp, &data)).await;

    // Assert
    assert!(
        err.contains(&format!("chmod 600 {}", key.display())),
        "{err}"
    );
}

#[tokio::test]
async fn a_signing_key_behind_a_symlink_is_refused() {
    // Arrange: a valid key pair elsewhere, linked into the data directory.
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir(&tmp);
    let keys = tmp.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    gatehouse::auth::token::keys::generate_into(
        TokenAlgorithm::EdDSA,
        &keys.join("signing.pem"),
        Some(&keys.join("signing.pub.pem")),
    )
    .unwrap();
    symlink(keys.join("signing.pem"), data.join("signing.pem")).unwrap();
    std::fs::copy(keys.join("signing.pub.pem"), data.join("signing.pub.pem")).unwrap();

    // Act
    let err = build_error(sqlite_settings(&tmp, &data)).await;

    // Assert
    assert!(err.contains("signing.pem"), "{err}");
    assert!(err.contains("symbolic link"), "{err}");
}

#[tokio::test]
async fn a_master_secret_readable_by_others_or_behind_a_symlink_is_refused() {
    // Arrange: a first start creates the master secret.
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir(&tmp);
    let app = build(sqlite_settings(&tmp, &data)).await;
    assert!(app.is_ok(), "{:?}", app.err());
    drop(app);
    let master = data.join("master.key");
    chmod(&master, 0o644);

    // Act
    let err = build_error(sqlite_settings(&tmp, &data)).await;

    // Assert
    assert!(
        err.contains(&format!("chmod 600 {}", master.display())),
        "{err}"
    );

    // Arrange: the secret moved elsewhere and linked back.
    chmod(&master, 0o600);
    let elsewhere = tmp.path().join("elsewhere.key");
    std::fs::rename(&master, &elsewhere).unwrap();
    symlink(&elsewhere, &master).unwrap();

    // Act
    let err = build_error(sqlite_settings(&tmp, &data)).await;

    // Assert
    assert!(err.contains("master.key"), "{err}");
    assert!(err.contains("symbolic link"), "{err}");
}

#[tokio::test]
async fn a_dangling_symlink_at_the_session_key_is_refused_and_nothing_is_created_elsewhere() {
    // Arrange
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir(&tmp);
    let elsewhere = tmp.path().join("stolen.key");
    symlink(&elsewhere, data.join("session.key")).unwrap();

    // Act
    let err = build_error(sqlite_settings(&tmp, &data)).await;

    // Assert
    assert!(err.contains("session.key"), "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert!(!elsewhere.exists(), "the symlink's target was created");
}

#[tokio::test]
async fn a_public_key_with_a_wider_mode_is_narrowed_to_0600() {
    // Arrange: legacy key files (imported at start-up), the public key opened up.
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir(&tmp);
    gatehouse::auth::token::keys::generate_into(
        TokenAlgorithm::EdDSA,
        &data.join("signing.pem"),
        Some(&data.join("signing.pub.pem")),
    )
    .unwrap();
    let public = data.join("signing.pub.pem");
    chmod(&public, 0o644);

    // Act
    let again = build(sqlite_settings(&tmp, &data)).await;

    // Assert
    assert!(again.is_ok(), "{:?}", again.err());
    assert_eq!(mode(&public), 0o600);
}

#[test]
fn keys_generate_refuses_to_write_through_a_symlink() {
    // Arrange
    let cli = Cli::new();
    let out_dir = cli.path("keys");
    std::fs::create_dir(&out_dir).unwrap();
    let elsewhere = cli.path("elsewhere.key");
    symlink(&elsewhere, out_dir.join("hmac.key")).unwrap();

    // Act
    let out = cli.run(
        &[
            "keys",
            "generate",
            "--algorithm",
            "HS256",
            "--out",
            out_dir.to_str().unwrap(),
        ],
        None,
    );

    // Assert
    let line = assert_fails_with_one_line(&out);
    assert!(line.contains("hmac.key"), "{line}");
    assert!(line.contains("symbolic link"), "{line}");
    assert!(!elsewhere.exists(), "the symlink's target was created");
}
