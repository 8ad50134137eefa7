//! Loading settings: built-in defaults < TOML file < `GATEHOUSE_<SECTION>__<KEY>` environment,
//! and the one-line errors that name the key at fault.

use std::fmt;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};

use super::Settings;
use crate::domain::Password;

/// A configuration problem, in one line that names the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    pub(super) fn key(key: &str, problem: impl fmt::Display) -> Self {
        Self(format!("configuration: `{key}`: {problem}"))
    }

    fn from_figment(err: figment::Error) -> Self {
        use figment::error::Kind;
        // Figment yields one error per problem; the first one is enough to act on.
        // Array elements as `[n]`: `forward_auth.rules[2].policy`.
        let key = err.path.iter().fold(String::new(), |mut key, part| {
            if part.bytes().all(|b| b.is_ascii_digit()) && !key.is_empty() {
                key.push_str(&format!("[{part}]"));
            } else {
                if !key.is_empty() {
                    key.push('.');
                }
                key.push_str(part);
            }
            key
        });
        let origin = err
            .metadata
            .as_ref()
            .map(|m| match &m.source {
                // The file's path, so that a reload's log line and `config check` say which.
                Some(source @ figment::Source::File(_)) => format!(" (from {} {source})", m.name),
                _ => format!(" (from {})", m.name),
            })
            .unwrap_or_default();
        let problem = match &err.kind {
            Kind::UnknownField(field, _) => {
                // Figment's path usually ends with the unknown field already.
                let full = if err.path.last() == Some(field) {
                    key
                } else if key.is_empty() {
                    field.clone()
                } else {
                    format!("{key}.{field}")
                };
                return Self(format!("configuration: unknown key `{full}`{origin}"));
            }
            Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => {
                format!(
                    "expected {}, found {}",
                    plain_expected(expected),
                    plain_actual(actual)
                )
            }
            Kind::UnknownVariant(found, expected) => {
                format!(
                    "unknown value {found:?}, expected one of {}",
                    expected.join(", ")
                )
            }
            other => other.to_string(),
        };
        if key.is_empty() {
            Self(format!("configuration: {problem}{origin}"))
        } else {
            Self(format!("configuration: `{key}`: {problem}{origin}"))
        }
    }
}

/// What serde expected, in the words of a configuration file.
fn plain_expected(expected: &str) -> String {
    match expected {
        "a boolean" => "true or false".into(),
        "a string" => "text in quotes".into(),
        "a sequence" => "a list like [\"a\", \"b\"] (in the environment: [a, b])".into(),
        "u8" => "a whole number from 0 to 255".into(),
        "u16" | "u32" | "u64" | "usize" => "a whole number (0 or more)".into(),
        "i32" | "i64" | "isize" => "a whole number".into(),
        other => other.into(),
    }
}

/// What was found, as it would be written (`12`, `true`, `"abc"`).
fn plain_actual(actual: &figment::error::Actual) -> String {
    use figment::error::Actual;
    match actual {
        Actual::Bool(v) => v.to_string(),
        Actual::Unsigned(v) => v.to_string(),
        Actual::Signed(v) => v.to_string(),
        Actual::Float(v) => v.to_string(),
        Actual::Char(v) => format!("{:?}", v.to_string()),
        Actual::Str(v) => format!("{v:?}"),
        Actual::Seq => "a list".into(),
        Actual::Map => "a table".into(),
        other => other.to_string(),
    }
}

/// `GATEHOUSE_*` variables that are not settings.
const NOT_SETTINGS: [&str; 3] = [
    "GATEHOUSE_CONFIG",
    "GATEHOUSE_ADMIN_PASSWORD",
    "GATEHOUSE_LOG_FORMAT",
];

/// The environment name of every setting: `GATEHOUSE_<SECTION>__<KEY>`.
fn setting_variables() -> Vec<String> {
    let Ok(serde_json::Value::Object(sections)) = serde_json::to_value(Settings::default()) else {
        return Vec::new();
    };
    sections
        .iter()
        .flat_map(|(section, keys)| {
            keys.as_object()
                .into_iter()
                .flat_map(|keys| keys.keys())
                .map(move |key| format!("GATEHOUSE_{section}__{key}").to_ascii_uppercase())
        })
        .collect()
}

/// Refuses a `GATEHOUSE_*` variable that names no setting (a misspelt one would otherwise be
/// ignored without a word), suggesting the closest setting's name. `GATEHOUSE_CONFIG`,
/// `GATEHOUSE_ADMIN_PASSWORD`, `GATEHOUSE_LOG_FORMAT` and `GATEHOUSE_TEST_*` are not settings.
pub fn check_environment(
    vars: impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> Result<(), ConfigError> {
    let known = setting_variables();
    for (name, _) in vars {
        let Some(name) = name.to_str() else { continue };
        let upper = name.to_ascii_uppercase();
        if !upper.starts_with("GATEHOUSE_")
            || upper.starts_with("GATEHOUSE_TEST_")
            || NOT_SETTINGS.contains(&upper.as_str())
            || known.contains(&upper)
        {
            continue;
        }
        let closest = known
            .iter()
            .map(|k| (strsim::levenshtein(k, &upper), k))
            .min()
            .filter(|(distance, _)| *distance <= 4)
            .map(|(_, k)| format!("; did you mean {k}?"))
            .unwrap_or_else(|| {
                "; settings are named GATEHOUSE_<SECTION>__<KEY> (two underscores), \
                 e.g. GATEHOUSE_AUTH__MODE"
                    .into()
            });
        let key = upper["GATEHOUSE_".len()..]
            .to_ascii_lowercase()
            .replace("__", ".");
        return Err(ConfigError(format!(
            "configuration: `{key}` (environment variable {name}) names no setting{closest}"
        )));
    }
    Ok(())
}

/// The source of the TOML file, as chosen by SPEC §3.
pub fn config_file_path(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("GATEHOUSE_CONFIG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let default = PathBuf::from("gatehouse.toml");
    default.exists().then_some(default)
}

impl Settings {
    /// Loads defaults, then the TOML file (if any), then the environment; validates the result.
    pub fn load(explicit: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(config_file_path(explicit))
    }

    /// As [`Settings::load`], from a source already chosen (`None`: no file, even if
    /// `./gatehouse.toml` has appeared since): what a reload reads.
    pub fn load_from(file: Option<PathBuf>) -> Result<Self, ConfigError> {
        check_environment(std::env::vars_os())?;
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = &file {
            if !path.is_file() {
                return Err(ConfigError(format!(
                    "configuration: file {} not found",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        // Only `GATEHOUSE_<SECTION>__<KEY>` names settings: other GATEHOUSE_* variables
        // (GATEHOUSE_CONFIG, GATEHOUSE_ADMIN_PASSWORD, test variables) are not keys.
        figment = figment.merge(
            Env::prefixed("GATEHOUSE_")
                .filter(|k| k.as_str().contains("__"))
                .split("__"),
        );
        let mut settings = Self::from_figment(figment)?;
        settings.admin_password = std::env::var("GATEHOUSE_ADMIN_PASSWORD")
            .ok()
            .map(Password::new);
        settings.config_file = file;
        Ok(settings)
    }

    /// Extracts and validates settings from any figment (tests use this with in-memory sources).
    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let settings: Settings = figment.extract().map_err(ConfigError::from_figment)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Parses TOML text over the defaults, without the environment.
    pub fn from_toml_str(toml: &str) -> Result<Self, ConfigError> {
        Self::from_figment(
            Figment::from(Serialized::defaults(Settings::default())).merge(Toml::string(toml)),
        )
    }
}
