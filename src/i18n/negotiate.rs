//! Which of our languages an `Accept-Language` header asks for (RFC 9110 §12.5.4), as
//! browsers send it: `ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7`.
//!
//! Hand-written rather than taken from a crate: `fluent-langneg`'s `parse_accepted_languages`
//! drops the q-values (it trusts the order), and `accept-language` reads a q-value with
//! `f32::from_str` (so `q=NaN` and `q=inf` pass) and sorts with an ordering that is not total,
//! which the standard sort may answer with a panic. The header is untrusted input; this parser
//! takes only the RFC's grammar and a property test checks that it never panics.

/// The best of `supported` (lower-case primary language subtags) that `header` accepts: the
/// range of highest quality that matches one, the first listed among equals. A range matches
/// by its primary subtag (`ko-KR` → `ko`); `*`, ranges of quality 0 and entries that do not
/// parse are skipped. `None` when nothing matches.
pub fn best_match<'a>(header: &str, supported: &[&'a str]) -> Option<&'a str> {
    let mut best: Option<(u16, &'a str)> = None;
    // At most 64 entries are looked at: a browser sends a handful.
    for entry in header.split(',').take(64) {
        let Some((range, quality)) = parse_entry(entry) else {
            continue;
        };
        if quality == 0 || best.is_some_and(|(q, _)| q >= quality) {
            continue;
        }
        let primary = range.split('-').next().unwrap_or_default();
        if let Some(found) = supported
            .iter()
            .find(|code| code.eq_ignore_ascii_case(primary))
        {
            best = Some((quality, found));
        }
    }
    best.map(|(_, code)| code)
}

/// One `language-range [; q=qvalue]`, the quality in thousandths; `None` when it does not
/// parse or is the wildcard.
fn parse_entry(entry: &str) -> Option<(&str, u16)> {
    let mut parts = entry.split(';');
    let range = parts.next()?.trim();
    let valid_range = !range.is_empty()
        && range.len() <= 64
        && range.split('-').all(|sub| {
            (1..=8).contains(&sub.len()) && sub.bytes().all(|b| b.is_ascii_alphanumeric())
        })
        && range
            .split('-')
            .next()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_alphabetic()));
    if !valid_range {
        return None;
    }
    let mut quality = 1000;
    for param in parts {
        let (name, value) = param.split_once('=')?;
        if name.trim().eq_ignore_ascii_case("q") {
            quality = parse_qvalue(value.trim())?;
        }
    }
    Some((range, quality))
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in thousandths.
fn parse_qvalue(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths: u16 = format!("{fraction:0<3}").parse().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::best_match;

    const OURS: &[&str] = &["en", "ko"];

    #[test]
    fn a_region_matches_its_language_and_q_values_decide() {
        assert_eq!(best_match("ko-KR", OURS), Some("ko"));
        assert_eq!(best_match("ko;q=0.1, en;q=0.9", OURS), Some("en"));
        assert_eq!(best_match("fr, ko;q=0.5, en;q=0.4", OURS), Some("ko"));
        assert_eq!(
            best_match("ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7", OURS),
            Some("ko")
        );
        assert_eq!(best_match("EN-gb", OURS), Some("en"));
    }

    #[test]
    fn garbage_wildcards_and_refusals_match_nothing() {
        for header in [
            "",
            "*",
            "ko;q=0",
            "ko;q=0.000, *;q=1",
            "ko;q=NaN",
            "ko;q=inf",
            "ko;q=1.5",
            "ko;q=-1",
            ";;;,,,",
            "한국어",
            "fr-FR, de",
            "k o",
        ] {
            assert_eq!(best_match(header, OURS), None, "{header:?}");
        }
    }
}
