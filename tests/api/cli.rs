//! The `gatehouse` command line (SPEC §4), run as a real process with its own working directory,
//! database and environment: user management, `migrate`, `config show`, exit codes and the
//! one-line error contract.

use std::path::Path;
use std::process::Output;

use gatehouse::db::{Database, users};
use serde_json::Value;
use tempfile::TempDir;

use crate::helpers::{TEST_COST, TestDatabase, run_gatehouse};

const PASSWORD: &str = "correct horse battery";
const NEW_PASSWORD: &str = "staple battery horse";

/// The `gatehouse` binary in a fresh temporary working directory, with its own database and no
/// `GATEHOUSE_*` variable inherited from the shell that runs the tests.
pub struct Cli {
    // Declared before `dir`: the database goes first, then the folder that may hold its file.
    pub db: TestDatabase,
    pub dir: TempDir,
}

impl Cli {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = TestDatabase::new(&dir);
        Self { db, dir }
    }

    /// Runs `gatehouse ARGS`, with `stdin` piped in (or no stdin at all, which is not a terminal).
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        self.run_with_env(args, &[], stdin)
    }

    /// Like [`Cli::run`], with extra environment variables set after (so over) the defaults.
    pub fn run_with_env(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
        let data_dir = self.dir.path().to_string_lossy().to_string();
        let cost = TEST_COST.to_string();
        let mut all = vec![
            ("GATEHOUSE_DATABASE__URL", self.db.url.as_str()),
            ("GATEHOUSE_SERVER__DATA_DIR", data_dir.as_str()),
            ("GATEHOUSE_PASSWORD__BCRYPT_COST", cost.as_str()),
        ];
        all.extend_from_slice(env);
        run_gatehouse(self.dir.path(), &all, args, stdin)
    }

    /// Path of a file in the working directory.
    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file in the working directory and returns its path.
    pub fn write_file(&self, name: &str, contents: &str) -> std::path::PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).expect("file written");
        path
    }

    /// `gatehouse user add NAME --password-stdin`, which must succeed.
    pub fn add_user(&self, name: &str, password: &str, admin: bool) {
        let mut args = vec!["user", "add", name, "--password-stdin"];
        if admin {
            args.push("--admin");
        }
        let out = self.run(&args, Some(&format!("{password}\n")));
        assert_success(&out);
    }

    /// The users as `gatehouse user list --json` prints them.
    pub fn list_users(&self) -> Vec<Value> {
        let out = self.run(&["user", "list", "--json"], None);
        assert_success(&out);
        match serde_json::from_slice(&out.stdout) {
            Ok(Value::Array(list)) => list,
            other => panic!("user list --json is not a JSON array: {other:?}"),
        }
    }

    /// The user of that name in `user list --json`, if any.
    pub fn listed_user(&self, name: &str) -> Option<Value> {
        self.list_users()
            .into_iter()
            .find(|u| u["username"] == name)
    }

    /// The stored password hash of a user, read straight from the database.
    pub fn password_hash(&self, name: &str) -> String {
        let db = Database::open(&self.db.url, 1).expect("test database opens");
        let mut conn = db.get().expect("connection");
        users::find_by_username(&mut conn, name)
            .expect("query")
            .unwrap_or_else(|| panic!("no user {name} in the database"))
            .password_hash
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit 0 and nothing on stderr.
pub fn assert_success(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "expected success; stdout: {}; stderr: {}",
        stdout(out),
        stderr(out)
    );
    assert_eq!(
        stderr(out),
        "",
        "a successful command writes nothing to stderr"
    );
}

/// Exit 1, nothing on stdout and exactly one line on stderr, which is returned.
pub fn assert_fails_with_one_line(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected exit 1; stdout: {}; stderr: {}",
        stdout(out),
        stderr(out)
    );
    assert_eq!(stdout(out), "", "a failed command prints nothing to stdout");
    let err = stderr(out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "expected one stderr line, got: {err:?}");
    assert!(!lines[0].trim().is_empty(), "the stderr line is empty");
    lines[0].to_string()
}

/// Exit 2 (a clap usage error); stderr is returned.
pub fn assert_usage_error(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(2),
        "expected a usage error; stdout: {}; stderr: {}",
        stdout(out),
        stderr(out)
    );
    stderr(out)
}

fn exists(path: &Path) -> bool {
    path.try_exists().expect("stat")
}

// ---- user add ------------------------------------------------------------------------------

#[test]
fn user_add_with_password_stdin_creates_a_user_that_user_list_shows() {
    let cli = Cli::new();

    let out = cli.run(
        &["user", "add", "alice", "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
    );

    assert_success(&out);
    assert!(
        stdout(&out).contains("created user 'alice'"),
        "{}",
        stdout(&out)
    );
    let users = cli.list_users();
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0]["username"], "alice");
    assert_eq!(users[0]["admin"], false);
    assert_eq!(users[0]["disabled"], false);
    assert!(users[0]["id"].is_i64(), "{users:?}");
    assert!(users[0]["created_at"].is_string(), "{users:?}");
    assert!(users[0]["last_login_at"].is_null(), "{users:?}");
    assert!(
        !stdout(&out).contains(PASSWORD) && !serde_json::to_string(&users).unwrap().contains("$2"),
        "neither the password nor its hash is printed"
    );
}

#[test]
fn user_add_with_admin_creates_an_administrator() {
    let cli = Cli::new();

    let out = cli.run(
        &["user", "add", "root", "--admin", "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
    );

    assert_success(&out);
    assert!(stdout(&out).contains("as admin"), "{}", stdout(&out));
    let root = cli.listed_user("root").expect("root is listed");
    assert_eq!(root["admin"], true);
    assert_eq!(root["disabled"], false);
}

#[test]
fn user_add_reads_only_the_first_line_of_stdin_without_its_line_ending() {
    let cli = Cli::new();

    let out = cli.run(
        &["user", "add", "alice", "--password-stdin"],
        Some(&format!("{PASSWORD}\r\nsecond line\n")),
    );

    assert_success(&out);
    let hash = cli.password_hash("alice");
    assert!(bcrypt::verify(PASSWORD, &hash).expect("valid hash"));
}

#[test]
fn user_add_of_a_name_taken_in_another_case_fails_saying_it_exists() {
    let cli = Cli::new();
    cli.add_user("Alice", PASSWORD, false);

    let out = cli.run(
        &["user", "add", "alice", "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
    );

    let line = assert_fails_with_one_line(&out);
    assert!(line.contains("already exists"), "{line}");
    assert!(line.contains("alice"), "{line}");
    let users = cli.list_users();
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0]["username"], "Alice");
}

#[test]
fn user_add_refuses_a_password_shorter_than_the_minimum() {
    let cli = Cli::new();

    let out = cli.run(
        &["user", "add", "alice", "--password-stdin"],
        Some("short\n"),
    );

    let line = assert_fails_with_one_line(&out);
    assert!(line.contains("at least 10 characters"), "{line}");
    assert!(cli.list_users().is_empty());
}

#[test]
fn user_add_refuses_a_password_longer_than_72_bytes() {
    let cli = Cli::new();
    let too_long = "a".repeat(73);

    let out = cli.run(
        &["user", "add", "alice", "--password-stdin"],
        Some(&format!("{too_long}\n")),
    );

    let line = assert_fails_with_one_line(&out);
    assert!(line.contains("72 bytes"), "{line}");
    assert!(cli.list_users().is_empty());
}

#[test]
fn user_add_accepts_a_password_of_exactly_72_bytes() {
    let cli = Cli::new();
    // Varied, so that it is also hard to guess (`password.min_score`): 72 × "a" is not.
    let longest: String = (0..72u32)
        .map(|i| char::from(b'!' + u8::try_from(i * 7 % 90).expect("small")))
        .collect();
    assert_eq!(longest.len(), 72);

    let out = cli.run(
        &["user", "add", "alice", "--password-stdin"],
        Some(&format!("{longest}\n")),
    );

    assert_success(&out);
    assert!(bcrypt::verify(&longest, &cli.password_hash("alice")).expect("valid hash"));
}

#[test]
fn user_add_refuses_an_invalid_username() {
    let cli = Cli::new();

    let out = cli.run(
        &["user", "add", "bad name!", "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
    );

    let line = assert_fails_with_one_line(&out);
    assert!(line.contains("Username may contain only"), "{line}");
    assert!(cli.list_users().is_empty());
}

#[test]
fn user_add_without_password_stdin_and_without_a_terminal_says_to_use_password_stdin() {
    let cli = Cli::new();

    let out = cli.run(&["user", "add", "alice"], None);

    let line = assert_fails_with_one_line(&out);
    assert!(line.contains("--password-stdin"), "{line}");
    assert!(cli.list_users().is_empty());
}

// ---- user passwd ---------------------------------------------------------------------------

#[test]
fn user_passwd_replaces_the_stored_password() {
    let cli = Cli::new();
    cli.add_user("alice", PASSWORD, false);
    let old_hash = cli.password_hash("alice");

    let out = cli.run(
        &["user", "passwd", "ALICE", "--password-stdin"],
        Some(&format!("{NEW_PASSWORD}\n")),
    );

    assert_success(&out);
    assert!(
        stdout(&out).contains("password of 'alice' changed"),
        "{}",
        stdout(&out)
    );
    let hash = cli.password_hash("alice");
    assert_ne!(hash, old_hash);
    assert!(bcrypt::verify(NEW_PASSWORD, &hash).expect("valid hash"));
    assert!(!bcrypt::verify(PASSWORD, &hash).expect("valid hash"));
}

#[test]
fn user_passwd_refuses_a_too_short_password_and_keeps_the_old_one() {
    let cli = Cli::new();
    cli.add_user("alice", PASSWORD, false);

    let out = cli.run(
        &["user", "passwd", "alice", "--password-stdin"],
        Some("short\n"),
    );

    let line = assert_fails_with_one_line(&out);
    assert!(line.contains("at least 10 characters"), "{line}");
    assert!(bcrypt::verify(PASSWORD, &cli.password_hash("alice")).expect("valid hash"));
}

#[test]
fn user_passwd_of_an_unknown_user_fails_naming_the_user() {
    let cli = Cli::new();

    let out = cli.run(
        &["user", "passwd", "ghost", "--password-stdin"],
        Some(&format!("{NEW_PASSWORD}\n")),
    );

    let line = assert_fails_with_one_line(&out);
    assert!(line.contains("ghost"), "{line}");
}

// ---- user disable / enable / delete / list -------------------------------------------------

#[test]
fn user_disable_then_enable_flip_the_disabled_flag() {
    let cli = Cli::new();
    cli.add_user("alice", PASSWORD, false);

    let disabled = cli.run(&["user", "disable", "alice"], None);

    assert_success(&disabled);
    assert!(
        stdout(&disabled).contains("'alice' disabled"),
        "{}",
        stdout(&disabled)
    );
    assert_eq!(cli.listed_user("alice").expect("listed")["disabled"], true);

    let enabled = cli.run(&["user", "enable", "alice"], None);

    assert_success(&enabled);
    assert!(
        stdout(&enabled).contains("'alice' enabled"),
        "{}",
        stdout(&enabled)
    );
    assert_eq!(cli.listed_user("alice").expect("listed")["disabled"], false);
}

#[test]
fn user_delete_removes_only_that_user() {
    let cli = Cli::new();
    cli.add_user("alice", PASSWORD, false);
    cli.add_user("bob", PASSWORD, false);

    let out = cli.run(&["user", "delete", "Alice"], None);

    assert_success(&out);
    assert!(stdout(&out).contains("'alice' deleted"), "{}", stdout(&out));
    let names: Vec<Value> = cli
        .list_users()
        .into_iter()
        .map(|u| u["username"].clone())
        .collect();
    assert_eq!(names, vec![Value::from("bob")]);
}

#[test]
fn user_disable_enable_and_delete_of_an_unknown_user_fail_naming_the_user() {
    let cli = Cli::new();

    for action in ["disable", "enable", "delete"] {
        let out = cli.run(&["user", action, "ghost"], None);

        let line = assert_fails_with_one_line(&out);
        assert!(line.contains("ghost"), "user {action}: {line}");
    }
}

#[test]
fn user_list_without_json_prints_a_table_of_users() {
    let cli = Cli::new();
    cli.add_user("alice", PASSWORD, true);
    cli.add_user("bob", PASSWORD, false);
    assert_success(&cli.run(&["user", "disable", "bob"], None));

    let out = cli.run(&["user", "list"], None);

    assert_success(&out);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].contains("USERNAME") && lines[0].contains("ADMIN"),
        "{text}"
    );
    let alice: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(alice[1..], ["alice", "yes", "active", "never"], "{text}");
    let bob: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(bob[1..], ["bob", "no", "disabled", "never"], "{text}");
}

// ---- usage errors --------------------------------------------------------------------------

#[test]
fn an_unknown_subcommand_is_a_usage_error() {
    let cli = Cli::new();

    let out = cli.run(&["frobnicate"], None);

    let err = assert_usage_error(&out);
    assert!(err.contains("frobnicate"), "{err}");
    assert_eq!(stdout(&out), "");
}

#[test]
fn an_unknown_user_subcommand_is_a_usage_error() {
    let cli = Cli::new();

    let out = cli.run(&["user", "promote", "alice"], None);

    let err = assert_usage_error(&out);
    assert!(err.contains("promote"), "{err}");
}

#[test]
fn a_missing_argument_is_a_usage_error() {
    let cli = Cli::new();

    let out = cli.run(&["user", "add", "--password-stdin"], Some("x\n"));

    let err = assert_usage_error(&out);
    assert!(err.contains("<NAME>"), "{err}");
    assert_eq!(stdout(&out), "");
}

#[test]
fn an_unknown_flag_is_a_usage_error() {
    let cli = Cli::new();

    let out = cli.run(&["user", "list", "--yaml"], None);

    let err = assert_usage_error(&out);
    assert!(err.contains("--yaml"), "{err}");
}

// ---- migrate -------------------------------------------------------------------------------

#[test]
fn migrate_succeeds_on_a_fresh_database_and_again_on_a_migrated_one() {
    let cli = Cli::new();

    let first = cli.run(&["migrate"], None);

    assert_success(&first);
    assert!(stdout(&first).contains("up to date"), "{}", stdout(&first));

    let second = cli.run(&["migrate"], None);

    assert_success(&second);
    assert!(
        stdout(&second).contains("up to date"),
        "{}",
        stdout(&second)
    );
    assert!(cli.list_users().is_empty(), "migrate creates no user");
}

#[test]
fn migrate_on_sqlite_creates_the_database_file_and_its_folder() {
    let cli = Cli::new();
    let file = cli.path("nested/folder/gatehouse.db");
    let url = format!("sqlite://{}", file.display());

    let out = cli.run_with_env(&["migrate"], &[("GATEHOUSE_DATABASE__URL", &url)], None);

    assert_success(&out);
    assert!(stdout(&out).contains("sqlite"), "{}", stdout(&out));
    assert!(exists(&file), "{} was not created", file.display());
}

#[test]
fn migrate_against_a_database_that_does_not_answer_fails_with_one_line() {
    let cli = Cli::new();

    let out = cli.run_with_env(
        &["migrate"],
        &[(
            "GATEHOUSE_DATABASE__URL",
            "postgres://u:hunter2secret@127.0.0.1:1/db",
        )],
        None,
    );

    let line = assert_fails_with_one_line(&out);
    assert!(line.contains("cannot connect to the database"), "{line}");
    assert_eq!(
        line.matches("127.0.0.1").count(),
        1,
        "the cause is repeated: {line}"
    );
    assert!(
        !line.contains("hunter2secret"),
        "the password leaked: {line}"
    );
}

// ---- config show ---------------------------------------------------------------------------

/// Runs `config show` with extra environment and parses its TOML.
pub fn config_show(cli: &Cli, env: &[(&str, &str)]) -> toml::Table {
    let out = cli.run_with_env(&["config", "show"], env, None);
    assert_success(&out);
    stdout(&out)
        .parse::<toml::Table>()
        .unwrap_or_else(|e| panic!("config show is not TOML ({e}): {}", stdout(&out)))
}

#[test]
fn config_show_prints_the_effective_settings_as_toml_with_environment_overrides() {
    let cli = Cli::new();

    let shown = config_show(&cli, &[("GATEHOUSE_AUTH__MODE", "token")]);

    assert_eq!(shown["auth"]["mode"].as_str(), Some("token"));
    assert_eq!(shown["password"]["bcrypt_cost"].as_integer(), Some(4));
    // Untouched keys keep the defaults of SPEC §3.
    assert_eq!(shown["server"]["bind"].as_str(), Some("127.0.0.1:8080"));
    assert_eq!(shown["session"]["ttl"].as_str(), Some("12h"));
    assert_eq!(
        shown["session"]["cookie_name"].as_str(),
        Some("gatehouse_session")
    );
    assert_eq!(shown["token"]["algorithm"].as_str(), Some("EdDSA"));
    assert_eq!(shown["lockout"]["max_failures"].as_integer(), Some(5));
}

#[test]
fn config_show_redacts_the_database_password_without_connecting() {
    let cli = Cli::new();
    let url = "postgres://u:hunter2secret@127.0.0.1:1/db";

    let out = cli.run_with_env(
        &["config", "show"],
        &[("GATEHOUSE_DATABASE__URL", url)],
        None,
    );

    assert_success(&out);
    let text = stdout(&out);
    assert!(
        !text.contains("hunter2secret"),
        "the password leaked: {text}"
    );
    let shown: toml::Table = text.parse().expect("config show prints TOML");
    let shown_url = shown["database"]["url"].as_str().expect("database.url");
    assert!(shown_url.starts_with("postgres://u:"), "{shown_url}");
    assert!(shown_url.ends_with("@127.0.0.1:1/db"), "{shown_url}");
}

#[test]
fn config_show_redacts_the_redis_password() {
    let cli = Cli::new();

    let out = cli.run_with_env(
        &["config", "show"],
        &[
            ("GATEHOUSE_SESSION__STORE", "redis"),
            (
                "GATEHOUSE_SESSION__REDIS_URL",
                "redis://:hunter2secret@127.0.0.1:1/0",
            ),
        ],
        None,
    );

    assert_success(&out);
    assert!(
        !stdout(&out).contains("hunter2secret"),
        "the password leaked: {}",
        stdout(&out)
    );
}

#[test]
fn config_show_redacts_a_database_password_given_as_a_query_parameter() {
    let cli = Cli::new();
    let url = "postgres://u@127.0.0.1:1/db?sslmode=disable&password=hunter2secret";

    let out = cli.run_with_env(
        &["config", "show"],
        &[("GATEHOUSE_DATABASE__URL", url)],
        None,
    );

    assert_success(&out);
    assert!(
        !stdout(&out).contains("hunter2secret"),
        "the password leaked: {}",
        stdout(&out)
    );
}

#[test]
fn config_show_redacts_every_secret_query_parameter_of_the_database_and_redis_urls() {
    let cli = Cli::new();
    let database = "postgres://u@127.0.0.1:1/db?sslmode=require&SSLPassword=hunter2key\
                    &oauth_client_secret=hunter2oauth&%70assword=hunter2encoded";
    let redis = "redis://127.0.0.1:1/0?pass=hunter2redis";

    let out = cli.run_with_env(
        &["config", "show"],
        &[
            ("GATEHOUSE_DATABASE__URL", database),
            ("GATEHOUSE_SESSION__STORE", "redis"),
            ("GATEHOUSE_SESSION__REDIS_URL", redis),
        ],
        None,
    );

    assert_success(&out);
    let text = stdout(&out);
    assert!(!text.contains("hunter2"), "a secret leaked: {text}");
    let shown: toml::Table = text.parse().expect("config show prints TOML");
    let shown_url = shown["database"]["url"].as_str().expect("database.url");
    assert!(shown_url.contains("sslmode=require"), "{shown_url}");
}
