//! The pages' words for sentences that come from below the surface in English: the account
//! rules (`Username::parse`, `Password::check_policy`, `AccountError`), zxcvbn's advice
//! (`StrengthFeedback`) and the passkey checks. Those sentences are also the JSON API's
//! protocol text, which stays English, so they are translated here, at the HTML edge, by a
//! table of every sentence they can be; one not in the table is shown as it is (a test renders
//! the refusals in Korean and would see it).

use std::sync::LazyLock;

use zxcvbn::feedback::{Suggestion, Warning};

use crate::accounts::AccountError;
use crate::auth::passkey::PasskeyError;
use crate::auth::password::StrengthFeedback;
use crate::domain::{MAX_PASSWORD_BYTES, MAX_USERNAME_CHARS};
use crate::i18n::{Arg, Lang, key};

/// Fixed English sentences and their keys.
static FIXED: LazyLock<Vec<(String, &'static str)>> = LazyLock::new(|| {
    let mut table: Vec<(String, &'static str)> = vec![
        ("Username is required.".into(), key("username-required")),
        (
            "Username may contain only letters (a–z, A–Z), digits, '.', '_', '-' and '@'.".into(),
            key("username-characters"),
        ),
        (
            format!("Username must be at most {MAX_USERNAME_CHARS} characters."),
            key("username-too-long"),
        ),
        (
            format!(
                "Password must be at most {MAX_PASSWORD_BYTES} bytes (bcrypt ignores the rest)."
            ),
            key("password-too-long"),
        ),
        ("Password must not contain NUL characters.".into(), key("password-nul")),
        ("That username is taken.".into(), key("register-taken")),
        ("Current password is incorrect.".into(), key("current-password-wrong")),
        (
            "Add another word or two. Uncommon words are better.".into(),
            key("zxcvbn-add-another-word"),
        ),
        (
            "No passkey answer arrived. Use the passkey button (it needs JavaScript).".into(),
            key("passkey-no-answer"),
        ),
        ("The browser's answer is too large.".into(), key("passkey-answer-too-large")),
        (
            "The browser's answer could not be read.".into(),
            key("passkey-answer-unreadable"),
        ),
        (
            "The passkey answered for another site.".into(),
            key("passkey-other-site"),
        ),
        (
            "The passkey's counter went backwards: it may have been copied.".into(),
            key("passkey-counter"),
        ),
        (
            "The passkey's answer did not verify.".into(),
            key("passkey-not-verified"),
        ),
        (
            "This passkey is not registered here (it may have been removed).".into(),
            key("passkey-unknown"),
        ),
        (
            "Too many passkey requests are waiting to be completed from here. Finish one, or wait a few minutes and try again.".into(),
            key("passkey-too-many-waiting"),
        ),
    ];
    let warnings = [
        (
            Warning::StraightRowsOfKeysAreEasyToGuess,
            key("zxcvbn-straight-rows"),
        ),
        (
            Warning::ShortKeyboardPatternsAreEasyToGuess,
            key("zxcvbn-short-keyboard-patterns"),
        ),
        (
            Warning::RepeatsLikeAaaAreEasyToGuess,
            key("zxcvbn-repeats-aaa"),
        ),
        (
            Warning::RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess,
            key("zxcvbn-repeats-abcabc"),
        ),
        (Warning::ThisIsATop10Password, key("zxcvbn-top10")),
        (Warning::ThisIsATop100Password, key("zxcvbn-top100")),
        (Warning::ThisIsACommonPassword, key("zxcvbn-common")),
        (
            Warning::ThisIsSimilarToACommonlyUsedPassword,
            key("zxcvbn-similar-to-common"),
        ),
        (
            Warning::SequencesLikeAbcAreEasyToGuess,
            key("zxcvbn-sequences"),
        ),
        (
            Warning::RecentYearsAreEasyToGuess,
            key("zxcvbn-recent-years"),
        ),
        (
            Warning::AWordByItselfIsEasyToGuess,
            key("zxcvbn-word-by-itself"),
        ),
        (Warning::DatesAreOftenEasyToGuess, key("zxcvbn-dates")),
        (
            Warning::NamesAndSurnamesByThemselvesAreEasyToGuess,
            key("zxcvbn-names-by-themselves"),
        ),
        (
            Warning::CommonNamesAndSurnamesAreEasyToGuess,
            key("zxcvbn-common-names"),
        ),
    ];
    table.extend(warnings.into_iter().map(|(w, k)| (w.to_string(), k)));
    let suggestions = [
        (
            Suggestion::UseAFewWordsAvoidCommonPhrases,
            key("zxcvbn-use-few-words"),
        ),
        (
            Suggestion::NoNeedForSymbolsDigitsOrUppercaseLetters,
            key("zxcvbn-no-need-for-symbols"),
        ),
        (
            Suggestion::AddAnotherWordOrTwo,
            key("zxcvbn-add-another-word"),
        ),
        (
            Suggestion::CapitalizationDoesntHelpVeryMuch,
            key("zxcvbn-capitalization"),
        ),
        (
            Suggestion::AllUppercaseIsAlmostAsEasyToGuessAsAllLowercase,
            key("zxcvbn-all-uppercase"),
        ),
        (
            Suggestion::ReversedWordsArentMuchHarderToGuess,
            key("zxcvbn-reversed-words"),
        ),
        (
            Suggestion::PredictableSubstitutionsDontHelpVeryMuch,
            key("zxcvbn-substitutions"),
        ),
        (
            Suggestion::UseALongerKeyboardPatternWithMoreTurns,
            key("zxcvbn-longer-keyboard-pattern"),
        ),
        (
            Suggestion::AvoidRepeatedWordsAndCharacters,
            key("zxcvbn-avoid-repeats"),
        ),
        (Suggestion::AvoidSequences, key("zxcvbn-avoid-sequences")),
        (
            Suggestion::AvoidRecentYears,
            key("zxcvbn-avoid-recent-years"),
        ),
        (
            Suggestion::AvoidYearsThatAreAssociatedWithYou,
            key("zxcvbn-avoid-your-years"),
        ),
        (
            Suggestion::AvoidDatesAndYearsThatAreAssociatedWithYou,
            key("zxcvbn-avoid-your-dates"),
        ),
    ];
    table.extend(suggestions.into_iter().map(|(s, k)| (s.to_string(), k)));
    table
});

/// One sentence of the account rules or the passkey checks, in `lang`.
pub fn rule(lang: Lang, english: &str) -> String {
    if let Some((_, key)) = FIXED.iter().find(|(text, _)| text == english) {
        return lang.t(key);
    }
    // "Password must be at least N characters." (N is `password.min_length`).
    if let Some(n) = english
        .strip_prefix("Password must be at least ")
        .and_then(|rest| rest.strip_suffix(" characters."))
        .and_then(|n| n.parse::<u64>().ok())
    {
        return lang.t_with("password-too-short", &[("min", Arg::from(n))]);
    }
    // "This password is too easy to guess (strength S of 4; at least M is needed)."
    if let Some((score, min)) = english
        .strip_prefix("This password is too easy to guess (strength ")
        .and_then(|rest| rest.split_once(" of 4; at least "))
        .and_then(|(s, rest)| {
            Some((
                s.parse::<u64>().ok()?,
                rest.strip_suffix(" is needed).")?.parse::<u64>().ok()?,
            ))
        })
    {
        return lang.t_with(
            "password-guessable",
            &[("score", score.into()), ("min", min.into())],
        );
    }
    // "This page was opened at X, but passkeys work only at Y. Open Y/login and try again."
    if let Some((used, expected)) = english
        .strip_prefix("This page was opened at ")
        .and_then(|rest| rest.split_once(", but passkeys work only at "))
        .and_then(|(used, rest)| {
            rest.split_once(". Open ")
                .map(|(expected, _)| (used, expected))
        })
    {
        return lang.t_with(
            "passkey-wrong-origin",
            &[("used", used.into()), ("expected", expected.into())],
        );
    }
    english.to_string()
}

/// Every sentence of `problems`, in `lang`.
pub fn rules(lang: Lang, problems: &[String]) -> Vec<String> {
    problems.iter().map(|p| rule(lang, p)).collect()
}

/// zxcvbn's verdict in `lang`: the summary, the warning, the suggestions.
pub fn strength(lang: Lang, feedback: &StrengthFeedback) -> Vec<String> {
    let mut out = vec![lang.t_with(
        "password-guessable",
        &[
            ("score", feedback.score.into()),
            ("min", feedback.min_score.into()),
        ],
    )];
    out.extend(feedback.warning.iter().map(|w| rule(lang, w)));
    out.extend(feedback.suggestions.iter().map(|s| rule(lang, s)));
    out
}

/// A passkey refusal in `lang`.
pub fn passkey(lang: Lang, e: &PasskeyError) -> String {
    use crate::auth::passkey::MAX_NAME_CHARS;
    match e {
        PasskeyError::Unavailable(reason) => {
            lang.t_with("passkey-unavailable", &[("reason", reason.into())])
        }
        PasskeyError::WrongOrigin { .. } | PasskeyError::TooMany | PasskeyError::Refused(_) => {
            rule(lang, &e.to_string())
        }
        PasskeyError::Expired => lang.t("passkey-expired"),
        PasskeyError::BadName => lang.t_with("passkey-bad-name", &[("max", MAX_NAME_CHARS.into())]),
        PasskeyError::NameTaken(name) => {
            lang.t_with("passkey-name-taken", &[("name", name.into())])
        }
        PasskeyError::AlreadyRegistered => lang.t("passkey-already-registered"),
        PasskeyError::NoPasskey => lang.t("passkey-none"),
        PasskeyError::NotFound => lang.t("passkey-not-found"),
        PasskeyError::Db(_) => lang.t("error-unexpected"),
    }
}

/// An account change's refusal in `lang` (every reason, one sentence each).
pub fn account(lang: Lang, e: &AccountError) -> Vec<String> {
    let one = |key: &str| vec![lang.t(key)];
    match e {
        AccountError::Invalid(problems) => rules(lang, problems),
        AccountError::Guessable(feedback) => strength(lang, feedback),
        AccountError::Passkey(e) => vec![passkey(lang, e)],
        AccountError::Taken => one("register-taken"),
        AccountError::WrongPassword => one("current-password-wrong"),
        AccountError::SamePassword => one("account-same-password"),
        AccountError::CallerRevoked => one("account-caller-revoked"),
        AccountError::NotAdmin => one("account-not-admin"),
        AccountError::LastAdmin => one("account-last-admin"),
        AccountError::ReauthRequired => one("account-reauth-required"),
        AccountError::WrongCode => one("account-wrong-code"),
        AccountError::AlreadyEnrolled => one("account-already-enrolled"),
        AccountError::NoEnrolment => one("account-no-enrolment"),
        AccountError::NoFactor => one("account-no-factor"),
        AccountError::Failed(_) => one("error-unexpected"),
    }
}

/// [`account`] as one sentence.
pub fn account_sentence(lang: Lang, e: &AccountError) -> String {
    account(lang, e).join(" ")
}

/// A refused redirect URI (`oidc::clients::validate_redirect_uri`, whose English the CLI
/// prints) in `lang`, as a sentence.
pub fn redirect_uri(lang: Lang, english: &str) -> String {
    let said = |key: &str, uri: &str| lang.t_with(key, &[("uri", uri.into())]);
    if let Some(rest) = english.strip_prefix("redirect URI longer than ") {
        let max = rest
            .trim_end_matches(" bytes")
            .parse::<u64>()
            .unwrap_or_default();
        return lang.t_with("client-uri-too-long", &[("max", max.into())]);
    }
    let Some(rest) = english.strip_prefix("redirect URI ") else {
        return english.to_string();
    };
    for (suffix, key) in [
        (
            " contains spaces or control characters",
            key("client-uri-spaces"),
        ),
        (" has a fragment", key("client-uri-fragment")),
        (" carries user information", key("client-uri-userinfo")),
        (
            " must use https (http only to localhost, 127.0.0.1 or [::1])",
            key("client-uri-https"),
        ),
    ] {
        if let Some(uri) = rest.strip_suffix(suffix) {
            return said(key, uri);
        }
    }
    if let Some((uri, _)) = rest.split_once(" is not an absolute URI (") {
        return said("client-uri-not-absolute", uri);
    }
    english.to_string()
}
