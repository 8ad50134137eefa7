//! The HTML surface in English and Korean (README "Languages"): the catalogs are complete, the
//! language is negotiated (cookie > `Accept-Language` > `server.default_language`), the
//! switcher sets the cookie, and every page rendered in Korean shows no English words but
//! proper names.

use std::collections::BTreeSet;
use std::path::Path;

use gatehouse::i18n::{LANGUAGES, Lang};
use proptest::prelude::*;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT_LANGUAGE, HeaderMap, HeaderValue};

use crate::helpers::{
    Browser, TestApp, csrf_in, location, spawn_app, spawn_app_with, unescape_html,
};

const PASSWORD: &str = "correct horse battery";

// ---------------------------------------------------------------------------------------------
// The catalogs

/// The message ids of a Fluent file (lines `id = …` at the start of a line).
fn catalog_keys(path: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter_map(|line| {
            let (id, _) = line.split_once(" =")?;
            let first = id.chars().next()?;
            (first.is_ascii_lowercase()
                && id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
            .then(|| id.to_string())
        })
        .collect()
}

/// Every key the sources name: `.t("…")`, `.t1("…"`, `.t2("…"`, `.t_with("…"`,
/// `i18n::key("…")` (or `key("…")` where it is imported) and `error_page("…")`, in `src/` and
/// `templates/`.
fn keys_used() -> BTreeSet<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("readable dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("rs" | "html")
            ) {
                out.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    walk(&root.join("src"), &mut files);
    walk(&root.join("templates"), &mut files);
    let patterns = [
        ".t(\"",
        ".t1(\"",
        ".t2(\"",
        ".t_with(\"",
        "key(\"",
        "error_page(\"",
    ];
    let mut used = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable source");
        let imports_key = text
            .lines()
            .any(|l| l.starts_with("use crate::i18n::") && l.contains("key"));
        for pattern in patterns {
            let mut rest = text.as_str();
            while let Some(at) = rest.find(pattern) {
                // `key("…")` is the marker function, not a method such as `.key("…")`.
                let before = rest[..at].chars().next_back().unwrap_or(' ');
                let marker = !pattern.starts_with("key")
                    || rest[..at].ends_with("i18n::")
                    || (imports_key && " (,\n".contains(before));
                rest = &rest[at + pattern.len()..];
                if !marker {
                    continue;
                }
                let end = rest.find('"').unwrap_or(0);
                let key = &rest[..end];
                if !key.is_empty()
                    && key
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                {
                    used.insert((key.to_string(), file.display().to_string()));
                }
            }
        }
    }
    used
}

#[test]
fn every_catalog_has_every_key_and_every_key_used_is_in_them() {
    let locales = Path::new(env!("CARGO_MANIFEST_DIR")).join("locales");
    let folders: BTreeSet<String> = std::fs::read_dir(&locales)
        .expect("locales/")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let listed: BTreeSet<String> = LANGUAGES.iter().map(|c| (*c).to_string()).collect();
    assert_eq!(
        folders, listed,
        "one folder per language of i18n::LANGUAGES"
    );

    let english = catalog_keys(&locales.join("en/gatehouse.ftl"));
    assert!(english.len() > 300, "the English catalog was read");
    for code in LANGUAGES.iter() {
        let keys = catalog_keys(&locales.join(code).join("gatehouse.ftl"));
        let missing: Vec<_> = english.difference(&keys).collect();
        let extra: Vec<_> = keys.difference(&english).collect();
        assert!(missing.is_empty(), "{code} lacks {missing:?}");
        assert!(extra.is_empty(), "{code} has keys English lacks: {extra:?}");
    }

    let used = keys_used();
    assert!(used.len() > 300, "the sources were scanned");
    let absent: Vec<_> = used
        .iter()
        .filter(|(key, _)| !english.contains(key))
        .collect();
    assert!(absent.is_empty(), "used but in no catalog: {absent:#?}");
}

#[test]
fn every_message_resolves_in_every_language() {
    let locales = Path::new(env!("CARGO_MANIFEST_DIR")).join("locales");
    // Every argument any message takes, so that each resolves in full.
    let args = || -> Vec<(&str, gatehouse::i18n::Arg)> {
        [
            "name", "when", "wait", "app", "scope", "device", "browser", "os", "span", "from",
            "to", "hour", "reason", "used", "expected", "action", "uri",
        ]
        .into_iter()
        .map(|n| (n, "x".into()))
        .chain(
            [
                "count", "min", "max", "enabled", "disabled", "sign_ins", "failures", "score",
            ]
            .into_iter()
            .map(|n| (n, 2.into())),
        )
        .collect()
    };
    for key in catalog_keys(&locales.join("en/gatehouse.ftl")) {
        for lang in Lang::all() {
            // A message that fails to parse or to resolve comes back as its key.
            assert_ne!(lang.t_with(&key, &args()), key, "{key} in {}", lang.code());
        }
    }
    let t = chrono::NaiveDate::from_ymd_opt(2026, 12, 7)
        .and_then(|d| d.and_hms_opt(20, 4, 0))
        .expect("a time");
    let ko = Lang::from_code("ko").expect("ko");
    assert_eq!(ko.datetime(t), "2026년 12월 7일 20:04 UTC");
    assert_eq!(
        ko.t_with("account-recovery-left", &[("count", 3.into())]),
        "사용하지 않은 복구 코드가 3개 있습니다."
    );
    let en = Lang::from_code("en").expect("en");
    assert_eq!(en.datetime(t), "2026-12-07 20:04 UTC");
    assert_eq!(
        en.t_with("account-recovery-left", &[("count", 1.into())]),
        "You have 1 unused recovery code."
    );
    assert_eq!(
        en.t_with("account-recovery-left", &[("count", 2.into())]),
        "You have 2 unused recovery codes."
    );
}

// ---------------------------------------------------------------------------------------------
// Negotiation

/// One entry of a generated header: a range and its quality in thousandths (`None`: no q).
fn entry() -> impl Strategy<Value = (String, Option<u16>)> {
    (
        prop_oneof![
            Just("en".to_string()),
            Just("ko".to_string()),
            Just("ko-KR".to_string()),
            Just("en-US".to_string()),
            Just("fr".to_string()),
            Just("*".to_string()),
            "[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})?",
        ],
        prop_oneof![Just(None), (0u16..=1000).prop_map(Some)],
    )
}

fn header_of(entries: &[(String, Option<u16>)]) -> String {
    entries
        .iter()
        .map(|(range, q)| match q {
            None => range.clone(),
            Some(q) if *q == 1000 => format!("{range};q=1"),
            Some(q) => format!("{range};q=0.{q:03}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

proptest! {
    #[test]
    fn accept_language_never_panics_and_answers_a_supported_language(header in "\\PC{0,200}") {
        if let Some(lang) = Lang::from_accept_language(&header) {
            prop_assert!(LANGUAGES.contains(&lang.code()));
        }
    }

    #[test]
    fn the_highest_quality_supported_language_wins_the_first_among_equals(
        entries in prop::collection::vec(entry(), 0..8)
    ) {
        let header = header_of(&entries);
        let mut best: Option<(u16, &str)> = None;
        for (range, q) in &entries {
            let q = q.unwrap_or(1000);
            let primary = range.split('-').next().unwrap_or_default().to_ascii_lowercase();
            let Some(code) = LANGUAGES.iter().find(|c| **c == primary) else { continue };
            if q > 0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, code));
            }
        }
        prop_assert_eq!(
            Lang::from_accept_language(&header).map(Lang::code),
            best.map(|(_, code)| code),
            "{}", header
        );
    }
}

async fn get_with(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = app.browser().client.get(app.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("request sent")
}

fn html_lang(page: &str) -> &str {
    let marker = "<html lang=\"";
    let start = page.find(marker).expect("an <html lang>") + marker.len();
    &page[start..start + page[start..].find('"').expect("quote")]
}

#[tokio::test]
async fn the_language_follows_the_cookie_then_accept_language_then_the_default() {
    let app = spawn_app().await;
    let cases: [(&[(&str, &str)], &str); 8] = [
        (&[], "en"),
        (&[("accept-language", "ko-KR")], "ko"),
        (
            &[("accept-language", "ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7")],
            "ko",
        ),
        (&[("accept-language", "ko;q=0.1, en;q=0.9")], "en"),
        (&[("accept-language", "fr, ko;q=0.5")], "ko"),
        (&[("accept-language", ";;q=zz, *, ko;q=0")], "en"),
        (&[("accept-language", "en"), ("cookie", "lang=ko")], "ko"),
        (&[("accept-language", "ko"), ("cookie", "lang=xx")], "ko"),
    ];
    for (headers, expected) in cases {
        let resp = get_with(&app, "/login", headers).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let vary = resp
            .headers()
            .get("vary")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(
            vary.contains("Accept-Language") && vary.contains("Cookie"),
            "{vary}"
        );
        let page = resp.text().await.expect("body");
        assert_eq!(html_lang(&page), expected, "{headers:?}");
        let title = if expected == "ko" {
            "<h1>로그인</h1>"
        } else {
            "<h1>Sign in</h1>"
        };
        assert!(page.contains(title), "{headers:?}: {page}");
    }

    // JSON stays English whatever the browser asks for.
    let resp = get_with(&app, "/api/me", &[("accept-language", "ko")]).await;
    assert!(
        resp.headers()
            .get("vary")
            .is_none_or(|v| !v.to_str().unwrap_or("").contains("Accept-Language"))
    );
    let body = resp.text().await.expect("body");
    assert!(body.is_ascii(), "{body}");
}

#[tokio::test]
async fn default_language_ko_serves_korean_to_a_browser_that_names_no_language() {
    let app = spawn_app_with(|s| s.server.default_language = "ko".into()).await;

    let page = get_with(&app, "/login", &[])
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(html_lang(&page), "ko");
    let page = get_with(&app, "/login", &[("accept-language", "de, fr;q=0.8")])
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(html_lang(&page), "ko");
    let page = get_with(&app, "/login", &[("accept-language", "en")])
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(html_lang(&page), "en");
}

#[test]
fn a_default_language_we_do_not_have_is_refused_naming_its_key() {
    for bad in ["fr", "", "english", "ko-KR"] {
        let err = gatehouse::config::Settings::from_toml_str(&format!(
            "[server]\ndefault_language = {bad:?}\n"
        ))
        .expect_err("refused");
        assert!(err.to_string().contains("server.default_language"), "{err}");
    }
    let ok = gatehouse::config::Settings::from_toml_str("[server]\ndefault_language = \"ko\"\n")
        .expect("ko is ours");
    assert_eq!(ok.server.default_lang().code(), "ko");
}

// ---------------------------------------------------------------------------------------------
// The switcher

#[tokio::test]
async fn the_switcher_sets_a_long_lived_cookie_and_goes_back_to_a_local_page_only() {
    let app = spawn_app().await;
    let browser = app.browser();

    let page = browser
        .get("/login?next=%2Faccount")
        .await
        .text()
        .await
        .expect("body");
    assert!(page.contains("action=\"/lang\""), "{page}");
    assert!(page.contains("<label for=\"lang-select\""), "{page}");
    assert!(page.contains("value=\"/login?next=%2Faccount\""), "{page}");

    let resp = browser
        .get("/lang?set=ko&next=%2Flogin%3Fnext%3D%252Faccount")
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/login?next=%2Faccount");
    let cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("lang="))
        .expect("a lang cookie")
        .to_string();
    for part in ["lang=ko", "Path=/", "HttpOnly", "SameSite=Lax", "Max-Age="] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "http public_url: no Secure ({cookie})"
    );
    let page = browser.get("/login").await.text().await.expect("body");
    assert_eq!(html_lang(&page), "ko");

    // Off-site or odd `next`: the start page. An unknown language: no cookie.
    for next in [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "",
    ] {
        let query = serde_urlencoded::to_string([("set", "en"), ("next", next)]).expect("query");
        let resp = browser.get(&format!("/lang?{query}")).await;
        assert_eq!(location(&resp), "/", "{next}");
    }
    let resp = browser.get("/lang?set=fr&next=/login").await;
    assert_eq!(location(&resp), "/login");
    assert!(resp.headers().get("set-cookie").is_none());
    let page = browser.get("/login").await.text().await.expect("body");
    assert_eq!(html_lang(&page), "en", "the last valid choice holds");
}

#[tokio::test]
async fn the_lang_cookie_is_secure_when_the_session_cookie_is() {
    let app = spawn_app_with(|s| {
        s.session.cookie_secure = gatehouse::config::CookieSecure::Always;
    })
    .await;
    let resp = app.browser().get("/lang?set=ko&next=/").await;
    let cookie = resp
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        cookie.starts_with("lang=ko") && cookie.contains("Secure"),
        "{cookie}"
    );
}

// ---------------------------------------------------------------------------------------------
// Security text

#[tokio::test]
async fn every_failed_sign_in_says_the_same_sentence_in_korean_and_a_lock_says_how_long() {
    let app = spawn_app_with(|s| s.lockout.max_failures = 3).await;
    app.create_user("alice", PASSWORD, false).await;
    let bob = app.create_user("bob", PASSWORD, false).await;
    app.state
        .accounts
        .set_disabled(gatehouse::accounts::By::Operator, bob.id, true)
        .await
        .expect("disabled");
    let browser = korean(&app);
    let invalid = "사용자 이름 또는 비밀번호가 올바르지 않습니다.";
    for (user, password) in [
        ("alice", "wrong password"),
        ("nobody", PASSWORD),
        ("bob", PASSWORD),
    ] {
        let resp = browser.login(user, password).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{user}");
        let page = resp.text().await.expect("body");
        assert!(page.contains(invalid), "{user}: {page}");
    }
    for _ in 0..3 {
        browser.login("alice", "wrong password").await;
    }
    let resp = browser.login("alice", "wrong password").await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    let page = resp.text().await.expect("body");
    assert!(page.contains("로그인 실패가 너무 많습니다."), "{page}");
    assert!(
        page.contains(&format!("{}분 후에 다시 시도하세요.", retry.div_ceil(60))),
        "{page}"
    );
}

// ---------------------------------------------------------------------------------------------
// Every page in Korean

/// A browser whose every request asks for Korean.
fn korean(app: &TestApp) -> Browser {
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT_LANGUAGE, HeaderValue::from_static("ko-KR,ko;q=0.9"));
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .expect("client");
    Browser {
        client,
        jar,
        base: app.address.clone(),
    }
}

/// Words in Latin letters a Korean page may show: names of things, not sentences.
const PROPER_NAMES: &[&str] = &[
    "Gatehouse",
    "English",
    "TOTP",
    "SHA-1",
    "QR",
    "PIN",
    "API",
    // "ID" is how Korean interfaces write it (계정 ID, 클라이언트 ID).
    "ID",
    "UTC",
    "URI",
    "OpenID",
    "Connect",
    "PKCE",
    "HTTP",
    "Basic",
    // URL schemes, as the redirect-URI rules name them.
    "http",
    "https",
    "Aegis",
    "Google",
    "Authenticator",
    "1Password",
    "YubiKey",
    "client_id",
    "redirect_uri",
    "localhost",
    // The shape of a recovery code, as its field's placeholder.
    "xxxx-xxxx-xxxx",
    // `auth.mode` on the admin page, as the configuration spells it.
    "both",
];

/// What a person reads on a page: text outside tags (scripts, styles and `<code>` left out:
/// commands and identifiers), and the attributes read aloud or shown (`aria-label`, `title`,
/// `placeholder`, `alt`, `data-label`, the script's `data-t-*` texts).
fn readable_text(html: &str) -> String {
    let mut html = html.to_string();
    for tag in ["script", "style", "code"] {
        while let Some(start) = html.find(&format!("<{tag}")) {
            let close = format!("</{tag}>");
            let end = html[start..]
                .find(&close)
                .map_or(html.len(), |e| start + e + close.len());
            html.replace_range(start..end, " ");
        }
    }
    let mut out = String::new();
    let mut rest = html.as_str();
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        out.push(' ');
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        let tag = &rest[open..open + close];
        let mut attrs = tag;
        while let Some(eq) = attrs.find("=\"") {
            let name = attrs[..eq]
                .rsplit(|c: char| c.is_whitespace())
                .next()
                .unwrap_or_default();
            let value_start = eq + 2;
            let value_end = attrs[value_start..]
                .find('"')
                .map_or(attrs.len(), |e| value_start + e);
            let value = &attrs[value_start..value_end];
            if matches!(
                name,
                "aria-label" | "title" | "placeholder" | "alt" | "data-label"
            ) {
                out.push(' ');
                out.push_str(value);
                out.push(' ');
            } else if name.starts_with("data-t-") {
                // The script's texts, without the `{name}` places it fills in.
                let mut text = value.to_string();
                while let (Some(open), Some(close)) = (text.find('{'), text.find('}')) {
                    if close < open {
                        break;
                    }
                    text.replace_range(open..=close, " ");
                }
                out.push(' ');
                out.push_str(&text);
                out.push(' ');
            }
            attrs = &attrs[(value_end + 1).min(attrs.len())..];
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    unescape_html(&out)
}

/// The Latin-letter words of `text` that are not proper names (nor `also_allowed`).
fn english_words(text: &str, also_allowed: &[&str]) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || "._@:/-".contains(c)))
        .map(|w| w.trim_matches(|c: char| ".:/-".contains(c)))
        // Words: a single letter is a range ("a–z") or a symbol, not English.
        .filter(|w| w.chars().filter(char::is_ascii_alphabetic).count() > 1)
        .filter(|w| !PROPER_NAMES.contains(w) && !also_allowed.contains(w))
        .filter(|w| !w.starts_with("http://127.0.0.1") && !w.starts_with("http://localhost"))
        .map(str::to_string)
        .collect()
}

/// Fetches `path` and checks it is Korean through and through.
async fn assert_korean(browser: &Browser, path: &str, allowed: &[&str]) -> String {
    let resp = browser.get(path).await;
    let status = resp.status();
    let page = resp.text().await.expect("body");
    assert_korean_page(path, status, &page, allowed);
    page
}

/// [`assert_korean_page`] of an answer already received.
async fn assert_korean_answer(what: &str, resp: reqwest::Response, allowed: &[&str]) {
    let status = resp.status();
    let page = resp.text().await.expect("body");
    assert_korean_page(what, status, &page, allowed);
}

fn assert_korean_page(what: &str, status: StatusCode, page: &str, allowed: &[&str]) {
    assert!(
        page.starts_with("<!doctype html>"),
        "{what} ({status}) is a page: {page}"
    );
    assert_eq!(html_lang(page), "ko", "{what}");
    let leftovers = english_words(&readable_text(page), allowed);
    assert!(
        leftovers.is_empty(),
        "{what} ({status}) shows English: {leftovers:?}\n{}",
        readable_text(page)
    );
}

#[tokio::test]
async fn every_page_reads_in_korean_without_english_but_proper_names() {
    let app = spawn_app_with(|s| s.auth.registration = true).await;
    let admin = app.create_user("minji", PASSWORD, true).await;
    let user = app.create_user("jisoo", PASSWORD, false).await;
    // Usernames (`admin` is the first administrator every test app has) and the app's name.
    let names = ["minji", "jisoo", "admin", "Grafana", "gatehouse"];

    // Signed out: sign-in, its refusal, registration and its refusals, a dead reset link.
    let anonymous = korean(&app);
    assert_korean(&anonymous, "/login", &names).await;
    let resp = anonymous.login("jisoo", "wrong password").await;
    assert_korean_answer("a refused sign-in", resp, &names).await;
    assert_korean(&anonymous, "/register", &names).await;
    for (username, password, confirm) in [
        (
            "jisoo",
            "correct horse battery staple",
            "correct horse battery staple",
        ),
        ("new user!", "short", "short"),
        ("hana", "password1234", "password1234"),
        (
            "hana",
            "correct horse battery staple",
            "something else entirely",
        ),
    ] {
        let resp = anonymous
            .submit(
                "/register",
                "/register",
                &[
                    ("username", username),
                    ("password", password),
                    ("password_confirm", confirm),
                ],
            )
            .await;
        let status = resp.status();
        assert!(status.is_client_error(), "{username}: {status}");
        assert_korean_page(
            "a refused registration",
            status,
            &resp.text().await.unwrap(),
            &names,
        );
    }
    assert_korean(&anonymous, "/reset/not-a-link", &names).await;
    let resp = anonymous.post_form("/logout", &[]).await;
    assert_korean_answer("a forged form", resp, &names).await;

    // Signed in: home, account (and its enrolment step), sign-out, apps, error pages.
    let browser = korean(&app);
    assert_eq!(
        browser.login("jisoo", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_korean(&browser, "/", &names).await;
    assert_korean(&browser, "/account", &names).await;
    assert_korean(&browser, "/logout", &names).await;
    assert_korean(&browser, "/account/apps", &names).await;
    assert_korean(&browser, "/admin", &names).await;
    assert_korean(&browser, "/account/passkeys/999/remove", &names).await;
    let resp = browser
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", "wrong"),
                ("new_password", "password1234"),
                ("new_password_confirm", "password1234"),
            ],
        )
        .await;
    assert_korean_answer("a refused password change", resp, &names).await;
    let resp = browser
        .submit(
            "/account",
            "/account/totp",
            &[("current_password", PASSWORD)],
        )
        .await;
    assert_korean_answer("the authenticator enrolment", resp, &names).await;

    // The consent page of an app, and the OpenID Connect sign-out.
    let client = crate::oidc::register(&app, false, false).await;
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", client.id.as_str()),
        ("redirect_uri", "http://localhost:8123/callback"),
        ("scope", "openid profile offline_access"),
        ("state", "st"),
        ("nonce", "n"),
    ])
    .expect("query");
    let page = assert_korean(
        &browser,
        &format!("/authorize?{query}"),
        &[&names[..], &["test"]].concat(),
    )
    .await;
    assert!(page.contains("허용"), "{page}");
    assert_korean(&browser, "/oidc/logout", &[&names[..], &["test"]].concat()).await;

    // A second step at sign-in, for a user with an authenticator app.
    crate::mfa::enrol(&app, "jisoo").await;
    let second = korean(&app);
    assert_eq!(
        location(&second.login("jisoo", PASSWORD).await),
        "/login/mfa"
    );
    assert_korean(&second, "/login/mfa", &names).await;
    let resp = second
        .submit("/login/mfa", "/login/mfa", &[("code", "000000")])
        .await;
    assert_korean_answer("a wrong code", resp, &names).await;

    // The administrator's pages.
    let root = korean(&app);
    assert_eq!(
        root.login("minji", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    let names = [&names[..], &["test"]].concat();
    assert_korean(&root, "/admin", &names).await;
    assert_korean(&root, "/admin/clients", &names).await;
    assert_korean(
        &root,
        &format!("/admin/clients/{}/delete", client.id),
        &names,
    )
    .await;
    let edit = format!("/admin/clients/{}/edit", client.id);
    assert_korean(&root, &edit, &names).await;
    let resp = root
        .submit(
            &edit,
            &edit,
            &[
                ("name", ""),
                ("redirect_uris", "http://example.com/cb#x"),
                ("post_logout_uris", ""),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = resp.text().await.expect("body");
    assert!(page.contains("프래그먼트(#)가 있습니다"), "{page}");
    // The refused URI is the admin's own input, shown as typed.
    let typed = [&names[..], &["http://example.com/cb"]].concat();
    assert_korean_page(
        "a refused client edit",
        StatusCode::UNPROCESSABLE_ENTITY,
        &page,
        &typed,
    );
    for action in [
        "disable",
        "delete",
        "revoke-admin",
        "logout",
        "mfa-reset",
        "reset-link",
    ] {
        assert_korean(&root, &format!("/admin/users/{}/{action}", user.id), &names).await;
    }
    let resp = root
        .get(&format!("/admin/users/{}/disable", admin.id))
        .await;
    assert_korean_answer("refusing to lock oneself out", resp, &names).await;
    let resp = root
        .submit(
            "/admin",
            &format!("/admin/users/{}/reset-link", user.id),
            &[("confirm", "yes")],
        )
        .await;
    let page = resp.text().await.expect("body");
    assert_korean_page("the reset link", StatusCode::OK, &page, &names);
    let link = page
        .split("value=\"")
        .find_map(|s| s.split('"').next().filter(|v| v.contains("/reset/")))
        .expect("a reset link")
        .to_string();
    let reset_path = link[link.find("/reset/").expect("path")..].to_string();
    assert_korean(&anonymous, &reset_path, &names).await;
    let resp = anonymous
        .submit(
            &reset_path,
            &reset_path,
            &[("password", "a"), ("password_confirm", "b")],
        )
        .await;
    assert_korean_answer("a refused reset", resp, &names).await;
    let resp = root
        .submit(
            "/admin",
            "/admin/users",
            &[("username", "x y"), ("password", "short")],
        )
        .await;
    assert_korean_answer("a refused new user", resp, &names).await;
    let resp = root
        .submit(
            "/admin",
            &format!("/admin/users/{}/disable", user.id),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_korean(&root, "/admin", &names).await;
    let page = assert_korean(&root, "/account", &names).await;
    assert!(csrf_in(&page).is_some());
}

#[tokio::test]
async fn english_pages_are_unchanged_for_a_browser_that_asks_for_nothing() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let browser = app.browser();
    let resp = browser.login("alice", "wrong").await;
    let page = resp.text().await.expect("body");
    assert_eq!(html_lang(&page), "en");
    assert!(page.contains("Invalid username or password."), "{page}");
    browser.login("alice", PASSWORD).await;
    let page = browser.get("/").await.text().await.expect("body");
    assert!(page.contains("Signed in as alice."), "{page}");
    let page = browser.get("/account").await.text().await.expect("body");
    assert!(
        page.contains("<option value=\"ko\" lang=\"ko\">한국어</option>"),
        "{page}"
    );
}

#[tokio::test]
async fn enrolment_and_recovery_codes_read_in_korean_too() {
    let app = spawn_app_with(|s| s.auth.require_mfa = gatehouse::config::RequireMfa::All).await;
    app.create_user("jisoo", PASSWORD, false).await;
    let names = ["jisoo", "admin"];
    let browser = korean(&app);

    // `auth.require_mfa`: the enrolment comes before any session.
    assert_eq!(
        location(&browser.login("jisoo", PASSWORD).await),
        "/login/mfa"
    );
    let page = assert_korean(&browser, "/login/mfa", &names).await;
    let secret_at = page.find("class=\"secret\">").expect("the key is shown") + 15;
    let secret = page[secret_at..page[secret_at..].find('<').expect("end") + secret_at].to_string();
    let resp = browser
        .submit("/login/mfa", "/login/mfa", &[("code", "000000")])
        .await;
    assert_korean_answer("a wrong enrolment code", resp, &names).await;
    let resp = browser
        .submit(
            "/login/mfa",
            "/login/mfa",
            &[("code", &crate::mfa::code(&secret, 0))],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK, "the recovery codes");
    let page = resp.text().await.expect("body");
    assert_korean_page("the recovery codes", StatusCode::OK, &page, &names);
    assert!(page.contains("2단계 인증이 켜졌습니다"), "{page}");

    // The account page with an authenticator app on, and a new set of codes.
    let page = assert_korean(&browser, "/account", &names).await;
    assert!(
        page.contains("사용하지 않은 복구 코드가 10개 있습니다."),
        "{page}"
    );
    let resp = browser
        .submit(
            "/account",
            "/account/recovery-codes",
            &[("current_password", PASSWORD)],
        )
        .await;
    assert_korean_answer("new recovery codes", resp, &names).await;
}

#[test]
fn no_template_holds_words_for_people_outside_the_catalogs() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let mut offences = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("templates/").flatten() {
        let path = entry.path();
        let mut text = std::fs::read_to_string(&path).expect("readable template");
        // Askama's comments, statements and expressions go; what is left is literal.
        for (open, close) in [("{#", "#}"), ("{%", "%}"), ("{{", "}}")] {
            while let Some(start) = text.find(open) {
                let end = text[start..]
                    .find(close)
                    .map_or(text.len(), |e| start + e + close.len());
                text.replace_range(start..end, " ");
            }
        }
        if !text.contains('<') {
            // A fragment of attributes (passkey_texts.html), included inside a tag.
            text = format!("<form {text}>");
        }
        let words = english_words(&readable_text(&text), &[]);
        if !words.is_empty() {
            offences.push(format!("{}: {words:?}", path.display()));
        }
    }
    assert!(
        offences.is_empty(),
        "literal text in templates: {offences:#?}"
    );
}

#[tokio::test]
async fn the_switcher_works_in_token_mode_where_only_the_reset_pages_are_served() {
    let app = spawn_app_with(|s| s.auth.mode = gatehouse::config::AuthMode::Token).await;
    let resp = app.browser().get("/lang?set=ko&next=/reset/x").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/reset/x");
    let page = get_with(&app, "/reset/x", &[("cookie", "lang=ko")]).await;
    assert_eq!(page.status(), StatusCode::GONE);
    assert_eq!(html_lang(&page.text().await.expect("body")), "ko");
}
