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
        let key = err.path.join(".");
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
            Kind::InvalidType(actual, expected) => {
                format!("expected {expected}, found {actual}")
            }
            Kind::InvalidValue(actual, expected) => {
                format!("expected {expected}, found {actual}")
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
