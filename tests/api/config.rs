//! Configuration loading (SPEC §3) as the binary sees it: file selection, precedence and the
//! one-line error that names a bad key. `config show` is the probe, so no server starts.

use crate::cli::{Cli, assert_fails_with_one_line, assert_success, config_show, stdout};

/// Runs `config show` with `args` before it and extra environment; for failures.
fn config_show_output(cli: &Cli, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut all = args.to_vec();
    all.extend(["config", "show"]);
    cli.run_with_env(&all, env, None)
}

// ---- keys and values that stop the binary ----------------------------------------------------

#[test]
fn an_unknown_key_in_the_config_file_stops_with_one_line_naming_the_full_key() {
    let cli = Cli::new();
    let file = cli.write_file("custom.toml", "[server]\nbindd = \"127.0.0.1:9000\"\n");
    let path = file.to_str().expect("utf-8 path");

    let out = config_show_output(&cli, &["--config", path], &[]);

    let line = assert_fails_with_one_line(&out);
    assert!(line.contains("`server.bindd`"), "{line}");
}

#[test]
fn an_unknown_section_in_the_config_file_is_named() {
    let cli = Cli::new();
    let file = cli.write_file("custom.toml", "[sever]\nbind = \"127.0.0.1:9000\"\n");
    let path = file.to_str().expect("utf-8 path");

    let out = config_show_output(&cli, &["--config", path], &[]);

    let line = assert_fails_with_one_line(&out);
    assert!(line.contains("`sever`"), "{line}");
}

#[test]
fn a_config_file_that_is_not_toml_stops_with_one_line() {
    let cli = Cli::new();
    let file = cli.write_file("custom.toml", "[server\nbind = \n");
    let path = file.to_str().expect("utf-8 path");

    let out = config_show_output(&cli, &["--config", path], &[]);

    let line = assert_fails_with_one_line(&out);
    assert!(line.contains("configuration"), "{line}");
}

#[test]
fn an_unknown_key_from_the_environment_is_named() {
    let cli = Cli::new();

    let out = config_show_output(&cli, &[], &[("GATEHOUSE_SERVER__BINDD", "127.0.0.1:9000")]);

    let line = assert_fails_with_one_line(&out);
    assert!(line.contains("`server.bindd`"), "{line}");
}

#[test]
fn a_bad_auth_mode_from_the_environment_names_auth_mode() {
    let cli = Cli::new();

    let out = config_show_output(&cli, &[], &[("GATEHOUSE_AUTH__MODE", "bogus")]);

    let line = assert_fails_with_one_line(&out);
    assert!(line.contains("auth.mode"), "{line}");
    assert!(line.contains("bogus"), "{line}");
}

#[test]
fn a_bad_duration_names_session_ttl() {
    let cli = Cli::new();

    let out = config_show_output(&cli, &[], &[("GATEHOUSE_SESSION__TTL", "soon")]);

    let line = assert_fails_with_one_line(&out);
    assert!(line.contains("session.ttl"), "{line}");
}

#[test]
fn a_bad_duration_in_the_config_file_names_its_key() {
    let cli = Cli::new();
    let file = cli.write_file("custom.toml", "[token]\naccess_ttl = \"a while\"\n");
    let path = file.to_str().expect("utf-8 path");

    let out = config_show_output(&cli, &["--config", path], &[]);

    let line = assert_fails_with_one_line(&out);
    assert!(line.contains("token.access_ttl"), "{line}");
}

#[test]
fn a_bcrypt_cost_below_4_names_password_bcrypt_cost() {
    let cli = Cli::new();

    let out = config_show_output(&cli, &[], &[("GATEHOUSE_PASSWORD__BCRYPT_COST", "3")]);

    let line = assert_fails_with_one_line(&out);
    assert!(line.contains("password.bcrypt_cost"), "{line}");
}

#[test]
fn a_bcrypt_cost_above_31_names_password_bcrypt_cost() {
    let cli = Cli::new();

    let out = config_show_output(&cli, &[], &[("GATEHOUSE_PASSWORD__BCRYPT_COST", "32")]);

    let line = assert_fails_with_one_line(&out);
    assert!(line.contains("password.bcrypt_cost"), "{line}");
}

#[test]
fn a_value_of_the_wrong_type_in_the_config_file_names_its_key() {
    let cli = Cli::new();
    let file = cli.write_file("custom.toml", "[database]\npool_size = \"many\"\n");
    let path = file.to_str().expect("utf-8 path");

    let out = config_show_output(&cli, &["--config", path], &[]);

    let line = assert_fails_with_one_line(&out);
    assert!(line.contains("database.pool_size"), "{line}");
}

#[test]
fn redis_sessions_without_a_redis_url_name_session_redis_url() {
    let cli = Cli::new();

    let out = config_show_output(&cli, &[], &[("GATEHOUSE_SESSION__STORE", "redis")]);

    let line = assert_fails_with_one_line(&out);
    assert!(line.contains("session.redis_url"), "{line}");
}

// ---- which file is read --------------------------------------------------------------------

#[test]
fn gatehouse_config_names_the_file_when_there_is_no_config_flag() {
    let cli = Cli::new();
    let file = cli.write_file("elsewhere.toml", "[auth]\nmode = \"session\"\n");
    let path = file.to_str().expect("utf-8 path");

    let shown = config_show(&cli, &[("GATEHOUSE_CONFIG", path)]);

    assert_eq!(shown["auth"]["mode"].as_str(), Some("session"));
}

#[test]
fn the_config_flag_wins_over_gatehouse_config() {
    let cli = Cli::new();
    let flagged = cli.write_file("flagged.toml", "[auth]\nmode = \"token\"\n");
    let from_env = cli.write_file("from-env.toml", "[auth]\nmode = \"session\"\n");

    let out = cli.run_with_env(
        &[
            "--config",
            flagged.to_str().expect("utf-8 path"),
            "config",
            "show",
        ],
        &[("GATEHOUSE_CONFIG", from_env.to_str().expect("utf-8 path"))],
        None,
    );

    assert_success(&out);
    let shown: toml::Table = stdout(&out).parse().expect("TOML");
    assert_eq!(shown["auth"]["mode"].as_str(), Some("token"));
}

#[test]
fn the_config_flag_may_follow_the_subcommand() {
    let cli = Cli::new();
    let file = cli.write_file("custom.toml", "[auth]\nbasic = true\n");

    let out = cli.run(
        &[
            "config",
            "show",
            "--config",
            file.to_str().expect("utf-8 path"),
        ],
        None,
    );

    assert_success(&out);
    let shown: toml::Table = stdout(&out).parse().expect("TOML");
    assert_eq!(shown["auth"]["basic"].as_bool(), Some(true));
}

#[test]
fn gatehouse_toml_in_the_working_directory_is_read_by_default() {
    let cli = Cli::new();
    cli.write_file("gatehouse.toml", "[auth]\nregistration = true\n");

    let shown = config_show(&cli, &[]);

    assert_eq!(shown["auth"]["registration"].as_bool(), Some(true));
}

#[test]
fn gatehouse_config_wins_over_gatehouse_toml_in_the_working_directory() {
    let cli = Cli::new();
    cli.write_file("gatehouse.toml", "[auth]\nmode = \"token\"\n");
    let file = cli.write_file("elsewhere.toml", "[auth]\nmode = \"session\"\n");

    let shown = config_show(
        &cli,
        &[("GATEHOUSE_CONFIG", file.to_str().expect("utf-8 path"))],
    );

    assert_eq!(shown["auth"]["mode"].as_str(), Some("session"));
}

#[test]
fn the_environment_overrides_the_config_file() {
    let cli = Cli::new();
    let file = cli.write_file(
        "elsewhere.toml",
        "[auth]\nmode = \"session\"\nbasic = true\n",
    );
    let path = file.to_str().expect("utf-8 path");

    let shown = config_show(
        &cli,
        &[
            ("GATEHOUSE_CONFIG", path),
            ("GATEHOUSE_AUTH__MODE", "token"),
        ],
    );

    assert_eq!(shown["auth"]["mode"].as_str(), Some("token"));
    // Keys the environment does not name keep the file's values.
    assert_eq!(shown["auth"]["basic"].as_bool(), Some(true));
}

#[test]
fn a_config_flag_path_that_does_not_exist_stops_naming_the_path() {
    let cli = Cli::new();
    let missing = cli.path("missing.toml");
    let path = missing.to_str().expect("utf-8 path");

    let out = config_show_output(&cli, &["--config", path], &[]);

    let line = assert_fails_with_one_line(&out);
    assert!(line.contains(path), "{line}");
}

#[test]
fn a_gatehouse_config_path_that_does_not_exist_stops_naming_the_path() {
    let cli = Cli::new();
    let missing = cli.path("missing.toml");
    let path = missing.to_str().expect("utf-8 path");

    let out = config_show_output(&cli, &[], &[("GATEHOUSE_CONFIG", path)]);

    let line = assert_fails_with_one_line(&out);
    assert!(line.contains(path), "{line}");
}

// ---- variables that are not keys -----------------------------------------------------------

#[test]
fn the_admin_password_and_test_variables_are_not_keys() {
    let cli = Cli::new();

    let out = config_show_output(
        &cli,
        &[],
        &[
            ("GATEHOUSE_ADMIN_PASSWORD", "first-admin-secret"),
            (
                "GATEHOUSE_TEST_POSTGRES_URL",
                "postgres://nobody@127.0.0.1:1/x",
            ),
        ],
    );

    assert_success(&out);
    let text = stdout(&out);
    assert!(
        !text.contains("first-admin-secret"),
        "the admin password leaked: {text}"
    );
    let shown: toml::Table = text.parse().expect("TOML");
    for key in ["admin_password", "admin", "test", "something"] {
        assert!(!shown.contains_key(key), "{key} became a key: {text}");
    }
}

#[test]
fn an_environment_variable_naming_no_setting_stops_with_the_closest_one_suggested() {
    let cli = Cli::new();

    // One underscore where two are meant: figment alone would ignore it without a word.
    let out = config_show_output(&cli, &[], &[("GATEHOUSE_AUTH_MODE", "token")]);

    let line = assert_fails_with_one_line(&out);
    assert!(line.contains("GATEHOUSE_AUTH_MODE"), "{line}");
    assert!(
        line.contains("did you mean GATEHOUSE_AUTH__MODE?"),
        "{line}"
    );

    let out = config_show_output(&cli, &[], &[("GATEHOUSE_NOTHING_LIKE_IT_AT_ALL", "1")]);
    let line = assert_fails_with_one_line(&out);
    assert!(line.contains("GATEHOUSE_<SECTION>__<KEY>"), "{line}");
}

#[test]
fn the_documented_variables_that_are_not_settings_are_accepted() {
    let cli = Cli::new();

    let out = config_show_output(
        &cli,
        &[],
        &[
            ("GATEHOUSE_LOG_FORMAT", "json"),
            ("GATEHOUSE_TEST_ANYTHING", "x"),
            ("GATEHOUSE_AUTH__MODE", "token"),
        ],
    );

    assert_success(&out);
    assert!(
        stdout(&out).contains("mode = \"token\""),
        "{}",
        stdout(&out)
    );
}

// ---- value errors in the configuration's own terms --------------------------------------------

#[test]
fn a_bare_number_for_a_duration_says_what_a_duration_looks_like() {
    let cli = Cli::new();

    let out = config_show_output(&cli, &[], &[("GATEHOUSE_SESSION__TTL", "12")]);

    let line = assert_fails_with_one_line(&out);
    assert!(
        line.contains(r#"`session.ttl`: expected a duration like "12h" or "30m""#),
        "{line}"
    );
    assert!(line.contains("found 12"), "{line}");
    assert!(
        line.contains("GATEHOUSE_"),
        "the environment is named: {line}"
    );
    assert!(!line.contains("unsigned int"), "{line}");
}

#[test]
fn a_value_error_in_the_config_file_names_the_file_and_what_was_expected() {
    let cli = Cli::new();
    let file = cli.write_file("custom.toml", "[session]\nidle_timeout = 30\n");
    let path = file.to_str().expect("utf-8 path");

    let out = config_show_output(&cli, &["--config", path], &[]);

    let line = assert_fails_with_one_line(&out);
    assert!(line.contains("`session.idle_timeout`"), "{line}");
    assert!(line.contains(r#"expected a duration like "12h""#), "{line}");
    assert!(line.contains("found 30"), "{line}");
    assert!(line.contains("custom.toml"), "the file is named: {line}");

    // `config check FILE` says the same.
    let out = cli.run_with_env(&["config", "check", path], &[], None);
    let line = assert_fails_with_one_line(&out);
    assert!(
        line.contains(r#"expected a duration like "12h""#) && line.contains("custom.toml"),
        "{line}"
    );
}

#[test]
fn sizes_booleans_numbers_and_lists_say_what_was_expected() {
    let cli = Cli::new();
    for (variable, value, key, expected) in [
        (
            "GATEHOUSE_SERVER__MAX_BODY",
            "lots",
            "server.max_body",
            r#"expected a size like "16KiB""#,
        ),
        (
            "GATEHOUSE_SERVER__MAX_BODY",
            "true",
            "server.max_body",
            r#"expected a size like "16KiB" or "1MiB", or a number of bytes, found true"#,
        ),
        (
            "GATEHOUSE_AUTH__BASIC",
            "yes",
            "auth.basic",
            r#"expected true or false, found "yes""#,
        ),
        (
            "GATEHOUSE_DATABASE__POOL_SIZE",
            "many",
            "database.pool_size",
            r#"expected a whole number (0 or more), found "many""#,
        ),
        (
            "GATEHOUSE_PASSWORD__MIN_SCORE",
            "5",
            "password.min_score",
            "5 is outside 0–4",
        ),
        (
            "GATEHOUSE_SERVER__TRUSTED_PROXIES",
            "10.0.0.1",
            "server.trusted_proxies",
            "expected a list like",
        ),
    ] {
        let out = config_show_output(&cli, &[], &[(variable, value)]);

        let line = assert_fails_with_one_line(&out);
        assert!(
            line.contains(&format!("`{key}`")),
            "{variable}={value}: {line}"
        );
        assert!(line.contains(expected), "{variable}={value}: {line}");
    }
    // Sizes may be a plain number of bytes; a list from the environment in brackets.
    let out = config_show_output(
        &cli,
        &[],
        &[
            ("GATEHOUSE_SERVER__MAX_BODY", "2048"),
            ("GATEHOUSE_SERVER__TRUSTED_PROXIES", "[10.0.0.1, 10.0.0.2]"),
        ],
    );
    assert_success(&out);
    let shown = stdout(&out);
    assert!(shown.contains("max_body = \"2KiB\""), "{shown}");
    assert!(shown.contains("\"10.0.0.2\""), "{shown}");
}
