//! Logging: `tracing` with an env filter (`RUST_LOG`, default `info`), as text or as JSON
//! lines when `GATEHOUSE_LOG_FORMAT=json`; [`quoted`] for every client-controlled value in a
//! log line (SPEC §8).

use std::fmt;

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("GATEHOUSE_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    // Colour codes only for a terminal: in files and journals they are noise.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    // A second init (tests) is harmless: keep the first subscriber.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
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
