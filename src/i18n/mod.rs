//! The languages of the HTML surface (SPEC §3 `server.default_language`, README "Languages"):
//! one Fluent catalog per language, `locales/<code>/gatehouse.ftl`, compiled into the binary,
//! and [`Lang`], the language one response is written in. JSON answers (`/api/*`, `/oauth/*`,
//! the OpenID Connect endpoints) are protocol text and stay English; nothing here is used there.
//!
//! Adding a language: a folder `locales/<code>/` holding `gatehouse.ftl` with every key of the
//! English catalog (a test compares them); [`LANGUAGES`] lists the folders it finds.

pub mod negotiate;

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::LazyLock;

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader};

/// The languages pages can be shown in, by their code (a primary language subtag): one per
/// folder of `locales/` (compiled in by [`CATALOGS`]), English first — the one a missing
/// translation falls back to — then the others in alphabetical order. A translator adds a
/// language by adding its folder; no code names the languages.
pub static LANGUAGES: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let mut codes: Vec<&'static str> = CATALOGS.locales().map(|id| id.language.as_str()).collect();
    codes.sort_by_key(|code| (*code != "en", *code));
    codes.dedup();
    codes
});

fluent_templates::static_loader! {
    static CATALOGS = {
        locales: "./locales",
        fallback_language: "en",
        // No Unicode bidi isolation marks around arguments: both languages are left-to-right,
        // and the marks would land in attribute values and copied text.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

static IDENTIFIERS: LazyLock<Vec<LanguageIdentifier>> = LazyLock::new(|| {
    LANGUAGES
        .iter()
        .map(|code| code.parse().unwrap_or_default())
        .collect()
});

/// Marks a catalog key named away from a lookup (a table, a `match`), so that the catalog
/// test finds it in the sources.
pub const fn key(key: &'static str) -> &'static str {
    key
}

/// One of [`LANGUAGES`]; the default is the first (the fallback).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Lang(usize);

/// A value given to a message: a name or a count (counts choose the plural form).
pub enum Arg {
    Text(String),
    Number(i64),
}

impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Self::Text(v.to_string())
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Self {
        Self::Text(v.clone())
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}
macro_rules! number_arg {
    ($($t:ty),*) => {$(
        impl From<$t> for Arg {
            fn from(v: $t) -> Self {
                Self::Number(i64::try_from(v).unwrap_or(i64::MAX))
            }
        }
        impl From<&$t> for Arg {
            fn from(v: &$t) -> Self {
                Self::from(*v)
            }
        }
    )*};
}
number_arg!(i32, i64, u8, u16, u32, u64, usize);

/// A value a template hands to a message (askama passes fields by reference, so references
/// of any depth convert too).
pub trait ToArg {
    fn to_arg(&self) -> Arg;
}

impl ToArg for str {
    fn to_arg(&self) -> Arg {
        Arg::Text(self.to_string())
    }
}
impl ToArg for String {
    fn to_arg(&self) -> Arg {
        Arg::Text(self.clone())
    }
}
impl<T: ToArg + ?Sized> ToArg for &T {
    fn to_arg(&self) -> Arg {
        (**self).to_arg()
    }
}
macro_rules! number_to_arg {
    ($($t:ty),*) => {$(
        impl ToArg for $t {
            fn to_arg(&self) -> Arg {
                Arg::from(*self)
            }
        }
    )*};
}
number_to_arg!(i32, i64, u8, u16, u32, u64, usize);

impl Lang {
    /// The language whose code is `code` (exactly, ignoring case).
    pub fn from_code(code: &str) -> Option<Self> {
        LANGUAGES
            .iter()
            .position(|c| c.eq_ignore_ascii_case(code))
            .map(Self)
    }

    /// Every language, in [`LANGUAGES`] order.
    pub fn all() -> impl Iterator<Item = Self> {
        (0..LANGUAGES.len()).map(Self)
    }

    /// The best language an `Accept-Language` header asks for, if it asks for one of ours.
    pub fn from_accept_language(header: &str) -> Option<Self> {
        negotiate::best_match(header, &LANGUAGES).and_then(Self::from_code)
    }

    /// The code, as `<html lang>` and the `lang` cookie carry it.
    pub fn code(self) -> &'static str {
        LANGUAGES.get(self.0).copied().unwrap_or("en")
    }

    fn identifier(self) -> &'static LanguageIdentifier {
        &IDENTIFIERS[self.0.min(IDENTIFIERS.len() - 1)]
    }

    /// The message `key` in this language. A key missing from every catalog (a test forbids
    /// it) shows as itself rather than failing the page.
    pub fn t(self, key: &str) -> String {
        self.lookup(key, None)
    }

    /// The message `key` with its arguments (`{ $name }`, plurals on `{ $count -> … }`).
    pub fn t_with(self, key: &str, args: &[(&str, Arg)]) -> String {
        let map: HashMap<Cow<'static, str>, FluentValue<'_>> = args
            .iter()
            .map(|(name, value)| {
                let value = match value {
                    Arg::Text(s) => FluentValue::from(s.clone()),
                    Arg::Number(n) => FluentValue::from(*n),
                };
                (Cow::Owned((*name).to_string()), value)
            })
            .collect();
        self.lookup(key, Some(&map))
    }

    fn lookup(
        self,
        key: &str,
        args: Option<&HashMap<Cow<'static, str>, FluentValue<'_>>>,
    ) -> String {
        CATALOGS
            .try_lookup_complete(self.identifier(), key, args)
            .unwrap_or_else(|| {
                tracing::warn!(key = ?key, lang = self.code(), "message missing from the catalogs");
                key.to_string()
            })
    }

    /// A moment (UTC) as people of this language write it, by the catalog's
    /// `format-datetime` (a `chrono` strftime pattern).
    pub fn datetime(self, t: chrono::NaiveDateTime) -> String {
        self.format_with("format-datetime", t)
    }

    /// A moment to the second (`format-datetime-seconds`).
    pub fn datetime_seconds(self, t: chrono::NaiveDateTime) -> String {
        self.format_with("format-datetime-seconds", t)
    }

    /// A date and hour without the zone, for ranges (`format-hour`).
    pub fn hour(self, t: &chrono::NaiveDateTime) -> String {
        self.format_with("format-hour", *t)
    }

    fn format_with(self, key: &str, t: chrono::NaiveDateTime) -> String {
        let pattern = self.t(key);
        let mut out = String::new();
        // A pattern chrono cannot read (a translator's slip) fails the write, not the page.
        if write!(out, "{}", t.format(&pattern)).is_err() {
            out.clear();
            let _ = write!(out, "{}", t.format("%Y-%m-%d %H:%M UTC"));
        }
        out
    }

    /// "N minutes" or "N seconds", for a wait (lockouts), in this language.
    pub fn wait(self, seconds: u64) -> String {
        if seconds >= 120 {
            self.t_with("wait-minutes", &[("count", seconds.div_ceil(60).into())])
        } else {
            self.t_with("wait-seconds", &[("count", seconds.into())])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Lang;

    #[test]
    fn every_language_formats_dates_and_counts() {
        let t = chrono::NaiveDate::from_ymd_opt(2026, 12, 7)
            .unwrap()
            .and_hms_opt(20, 4, 0)
            .unwrap();
        let en = Lang::from_code("en").unwrap();
        let ko = Lang::from_code("KO").unwrap();
        assert_eq!(en.datetime(t), "2026-12-07 20:04 UTC");
        assert_eq!(ko.datetime(t), "2026년 12월 7일 20:04 UTC");
        assert_eq!(en.wait(60), "60 seconds");
        assert_eq!(en.wait(900), "15 minutes");
        assert_eq!(ko.wait(900), "15분");
        assert_eq!(Lang::default().code(), "en");
        assert_eq!(Lang::from_code("fr"), None);
    }
}
