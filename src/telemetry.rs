//! Logging: `tracing` with an env filter (`RUST_LOG` when set, else `server.log_level`, default
//! `info`; libraries that log every request are kept quiet unless asked for, see
//! [`filter_directives`]), as text (ANSI colours only on a terminal) or as JSON lines when
//! `GATEHOUSE_LOG_FORMAT=json`; the filter can be replaced while running ([`set_log_filter`],
//! for a configuration reload); [`quoted`] for every client-controlled value in a log line
//! (SPEC §8).

use std::fmt;
use std::sync::OnceLock;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, reload};

/// Swaps the filter of the subscriber [`init`] installed. That subscriber is tracing's global
/// default, one per process, so its handle is kept beside it rather than threaded through
/// `Application::build` (which tests call many times in one process, without `init`).
static FILTER: OnceLock<reload::Handle<EnvFilter, Registry>> = OnceLock::new();

/// Libraries that log at INFO or WARN on ordinary requests, and the level below which they are
/// kept quiet: actix-session says "No session state has been found for a valid session key"
/// (INFO) for every expired or signed-out cookie and warns about every cookie that fails its
/// signature check (anyone can send one); actix-identity logs (INFO/WARN) each expired or
/// unreadable identity; webauthn-rs-core warns about malformed authenticator data a client sent.
/// Gatehouse answers all of these itself; they are shown again at `debug`, or when the filter
/// names the library.
const QUIET_LIBRARIES: [(&str, &str); 3] = [
    ("actix_session", "error"),
    ("actix_identity", "error"),
    ("webauthn_rs_core", "error"),
];

/// The filter put in force for `directives` (`RUST_LOG` or `server.log_level`): as written,
/// plus `library=error` for each of [`QUIET_LIBRARIES`] the directives do not name, unless
/// their default level is `debug` or `trace` (then everything is asked for).
pub fn filter_directives(directives: &str) -> String {
    let directives = directives.trim();
    let parts: Vec<&str> = directives
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let verbose = parts.iter().any(|p| {
        !p.contains('=')
            && !p.contains('[')
            && (p.eq_ignore_ascii_case("debug") || p.eq_ignore_ascii_case("trace"))
    });
    if verbose {
        return directives.to_string();
    }
    let mut out = parts.join(",");
    for (library, level) in QUIET_LIBRARIES {
        if !parts.iter().any(|p| p.contains(library)) {
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(library);
            out.push('=');
            out.push_str(level);
        }
    }
    out
}

/// Installs the process's subscriber: the filter of `RUST_LOG` when it is set, not empty and
/// valid, else `log_level` (`server.log_level`), each through [`filter_directives`].
pub fn init(log_level: &str) {
    let from_env = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| EnvFilter::builder().parse(filter_directives(&v)).ok());
    let filter = from_env.unwrap_or_else(|| {
        EnvFilter::builder()
            .parse(filter_directives(log_level))
            .unwrap_or_else(|_| EnvFilter::new(filter_directives("info")))
    });
    let (filter, handle) = reload::Layer::new(filter);
    let json = std::env::var("GATEHOUSE_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    // Colour codes only for a terminal (and not with NO_COLOR): in files, pipes and journals
    // they are noise.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let text = (!json).then(|| {
        tracing_subscriber::fmt::layer()
            .with_ansi(ansi)
            .with_writer(std::io::stderr)
    });
    let json = json.then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
    });
    // A second init (tests) is harmless: keep the first subscriber and its handle.
    if tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json)
        .try_init()
        .is_ok()
    {
        let _ = FILTER.set(handle);
    }
}

/// Puts the filter `directives` (a validated `server.log_level`) in force. Without a
/// subscriber installed by [`init`] (tests that build the app in-process) there is nothing to
/// change, and that is not an error.
pub fn set_log_filter(directives: &str) -> Result<(), String> {
    let Some(handle) = FILTER.get() else {
        return Ok(());
    };
    let filter = EnvFilter::builder()
        .parse(filter_directives(directives))
        .map_err(|e| e.to_string())?;
    handle.reload(filter).map_err(|e| e.to_string())
}

/// Longest client-controlled value written into a log line, in characters.
pub const MAX_LOGGED_CHARS: usize = 256;

/// A client-controlled value as a log line should hold it: in double quotes, with quotes,
/// backslashes and control characters escaped (Rust's `{:?}` escaping), and cut after
/// [`MAX_LOGGED_CHARS`] characters, the cut marked after the closing quote
/// (`"/aaa…"…(+99744 bytes)`), so that no value can forge a line, a field or a huge record.
pub fn quoted(value: &str) -> Quoted<'_> {
    Quoted(value)
}

/// See [`quoted`].
#[derive(Debug, Clone, Copy)]
pub struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kept = self
            .0
            .char_indices()
            .nth(MAX_LOGGED_CHARS)
            .map_or(self.0, |(cut, _)| &self.0[..cut]);
        write!(f, "{kept:?}")?;
        if kept.len() < self.0.len() {
            write!(f, "…(+{} bytes)", self.0.len() - kept.len())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chatty_libraries_are_quiet_unless_asked_for() {
        assert_eq!(
            filter_directives("info"),
            "info,actix_session=error,actix_identity=error,webauthn_rs_core=error"
        );
        assert_eq!(
            filter_directives(" warn , gatehouse=debug "),
            "warn,gatehouse=debug,actix_session=error,actix_identity=error,webauthn_rs_core=error"
        );
        // Named by the operator: as written.
        assert_eq!(
            filter_directives("info,actix_session=info"),
            "info,actix_session=info,actix_identity=error,webauthn_rs_core=error"
        );
        // Everything asked for.
        assert_eq!(filter_directives("debug"), "debug");
        assert_eq!(filter_directives("TRACE,hyper=info"), "TRACE,hyper=info");
        for level in ["info", "warn,gatehouse=debug", "debug", "error"] {
            EnvFilter::builder()
                .parse(filter_directives(level))
                .expect("a valid filter");
        }
    }

    #[test]
    fn quoted_values_cannot_break_a_log_line() {
        assert_eq!(quoted("/login").to_string(), r#""/login""#);
        assert_eq!(
            quoted("a\"b\\c\nd\re\u{1b}[31m").to_string(),
            r#""a\"b\\c\nd\re\u{1b}[31m""#
        );
        assert_eq!(quoted("").to_string(), r#""""#);
        assert_eq!(quoted("é🙂").to_string(), "\"é🙂\"");
    }

    #[test]
    fn long_values_are_cut_and_the_cut_is_marked() {
        let long = format!("/{}", "a".repeat(1000));

        let shown = quoted(&long).to_string();

        let kept = format!("\"/{}\"", "a".repeat(MAX_LOGGED_CHARS - 1));
        assert_eq!(
            shown,
            format!("{kept}…(+{} bytes)", 1001 - MAX_LOGGED_CHARS)
        );
        let exact = "b".repeat(MAX_LOGGED_CHARS);
        assert_eq!(quoted(&exact).to_string(), format!("\"{exact}\""));
        // Cut on a character boundary.
        let wide = "é".repeat(MAX_LOGGED_CHARS + 1);
        assert_eq!(
            quoted(&wide).to_string(),
            format!("\"{}\"…(+2 bytes)", "é".repeat(MAX_LOGGED_CHARS))
        );
    }
}
