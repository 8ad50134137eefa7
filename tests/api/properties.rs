//! Properties of the parsers that read untrusted input: the `next` redirect target, the client
//! address behind proxies, URL redaction for `config show`, and sizes and durations in the
//! configuration file.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use actix_web::http::header::HeaderValue;
use actix_web::test::TestRequest;
use gatehouse::config::ClientIpHeader;
use gatehouse::config::{Settings, redact_url};
use gatehouse::http::client_ip::{ClientAddr, OpaqueHop, client_ip};
use gatehouse::web::safe_next;
use proptest::prelude::*;

// ---- safe_next ---------------------------------------------------------------------------------

/// Starts that browsers read as another site (or that are not a path at all).
const TRICKY_PREFIXES: [&str; 11] = [
    "//",
    "/\\",
    "/\t/",
    "/\n/",
    "/\r/",
    "/ /",
    "\\\\",
    "https://",
    "http:/",
    "javascript:",
    " /",
];

fn any_next() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "/\\PC{0,40}",
        "/[ -~]{0,40}",
        (
            proptest::sample::select(&TRICKY_PREFIXES[..]),
            any::<String>()
        )
            .prop_map(|(prefix, rest)| format!("{prefix}{rest}")),
    ]
}

proptest! {
    #[test]
    fn safe_next_gives_back_its_input_or_the_root_and_only_keeps_local_paths(next in any_next()) {
        // Act
        let kept = safe_next(&next);

        // Assert
        prop_assert!(kept == next || kept == "/", "{:?} became {:?}", next, kept);
        if kept == next {
            let mut chars = next.chars();
            prop_assert_eq!(chars.next(), Some('/'), "kept {:?}", next);
            prop_assert!(!matches!(chars.next(), Some('/' | '\\')), "kept {:?}", next);
            prop_assert!(
                !next.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\'),
                "kept {:?}",
                next
            );
        }
    }

    #[test]
    fn a_next_with_a_prefix_that_leaves_the_site_goes_to_the_root(
        prefix in proptest::sample::select(&TRICKY_PREFIXES[..]),
        rest in any::<String>(),
    ) {
        // Arrange
        let next = format!("{prefix}{rest}");

        // Act
        let kept = safe_next(&next);

        // Assert
        prop_assert_eq!(kept, "/", "{:?} was kept", next);
    }

    #[test]
    fn an_ordinary_local_path_is_kept(next in "/([a-z0-9?=&._-][a-z0-9/?=&._-]{0,40})?") {
        // Act
        let kept = safe_next(&next);

        // Assert
        prop_assert_eq!(kept, next.as_str());
    }
}

// ---- client_ip ---------------------------------------------------------------------------------

const TRUSTED: [&str; 3] = ["10.0.0.1", "10.0.0.2", "fd00::1"];
const OTHERS: [&str; 3] = ["198.51.100.7", "203.0.113.9", "2001:db8::7"];
/// Entries that are not addresses.
const GARBAGE: [&str; 6] = ["", "unknown", "garbage", "1.2.3", "_hidden", "::g"];

const XFF: ClientIpHeader = ClientIpHeader::XForwardedFor;
const HEADERS: [ClientIpHeader; 3] = [
    ClientIpHeader::XForwardedFor,
    ClientIpHeader::Forwarded,
    ClientIpHeader::XRealIp,
];

fn trusted() -> Vec<IpAddr> {
    TRUSTED.iter().map(|ip| ip.parse().expect("ip")).collect()
}

/// The client an address names (IPv4-mapped IPv6 addresses are IPv4).
fn at(ip: IpAddr) -> ClientAddr {
    ClientAddr::Ip(ip.to_canonical())
}

/// An address that the chain may hold: a trusted proxy, a known client or any address.
fn chain_addr() -> impl Strategy<Value = IpAddr> {
    let known: Vec<IpAddr> = TRUSTED
        .iter()
        .chain(OTHERS.iter())
        .map(|ip| ip.parse().expect("ip"))
        .collect();
    prop_oneof![3 => proptest::sample::select(known), 1 => any::<IpAddr>()]
}

/// One `X-Forwarded-For` entry: what it says, and how it is written.
#[derive(Debug, Clone)]
enum Entry {
    Addr(IpAddr, Form),
    Garbage(&'static str),
}

#[derive(Debug, Clone, Copy)]
enum Form {
    Bare,
    WithPort(u16),
    Bracketed,
    Quoted,
    Padded,
}

impl Entry {
    /// The hop this entry is, as the server should read it; `None` for an empty list element.
    fn hop(&self) -> Option<ClientAddr> {
        match self {
            Self::Addr(ip, _) => Some(at(*ip)),
            Self::Garbage("") => None,
            Self::Garbage(text) => Some(ClientAddr::Opaque(OpaqueHop::new(text))),
        }
    }

    fn text(&self) -> String {
        match self {
            Self::Garbage(g) => (*g).to_string(),
            Self::Addr(ip, form) => match (form, ip) {
                (Form::Bare, _) => ip.to_string(),
                (Form::WithPort(port), _) => SocketAddr::new(*ip, *port).to_string(),
                (Form::Bracketed, IpAddr::V6(v6)) => format!("[{v6}]"),
                (Form::Bracketed, IpAddr::V4(v4)) => v4.to_string(),
                (Form::Quoted, _) => format!("\"{ip}\""),
                (Form::Padded, _) => format!("  {ip}\t"),
            },
        }
    }
}

fn entry() -> impl Strategy<Value = Entry> {
    let form = prop_oneof![
        Just(Form::Bare),
        any::<u16>().prop_map(Form::WithPort),
        Just(Form::Bracketed),
        Just(Form::Quoted),
        Just(Form::Padded),
    ];
    prop_oneof![
        4 => (chain_addr(), form).prop_map(|(ip, form)| Entry::Addr(ip, form)),
        1 => proptest::sample::select(&GARBAGE[..]).prop_map(Entry::Garbage),
    ]
}

/// `X-Forwarded-For` header lines (several lines read as one list, in order).
fn forwarded_for() -> impl Strategy<Value = Vec<Vec<Entry>>> {
    proptest::collection::vec(proptest::collection::vec(entry(), 1..5), 0..3)
}

/// Header bytes that `HeaderValue` accepts: anything but controls other than tab.
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            3 => any::<u8>().prop_filter("a byte allowed in a header", |b| {
                (*b >= 0x20 && *b != 0x7f) || *b == b'\t'
            }),
            1 => proptest::sample::select(b"0123456789.:[],;=\"abcdef for".to_vec()),
        ],
        0..80,
    )
}

fn request_with_chain(peer: IpAddr, lines: &[Vec<Entry>]) -> actix_web::HttpRequest {
    let mut req = TestRequest::default().peer_addr(SocketAddr::new(peer, 40000));
    for line in lines {
        let text = line.iter().map(Entry::text).collect::<Vec<_>>().join(",");
        req = req.append_header(("x-forwarded-for", text));
    }
    req.to_http_request()
}

/// A request with each forwarding header set to the given bytes (absent when `None`).
fn request_with_bytes(
    peer: IpAddr,
    xff: Option<&[u8]>,
    forwarded: Option<&[u8]>,
    real_ip: Option<&[u8]>,
) -> actix_web::HttpRequest {
    let mut req = TestRequest::default().peer_addr(SocketAddr::new(peer, 40000));
    for (name, value) in [
        ("x-forwarded-for", xff),
        ("forwarded", forwarded),
        ("x-real-ip", real_ip),
    ] {
        if let Some(bytes) = value {
            req = req.insert_header((
                name,
                HeaderValue::from_bytes(bytes).expect("valid header bytes"),
            ));
        }
    }
    req.to_http_request()
}

fn untrusted_peer() -> impl Strategy<Value = IpAddr> {
    let trusted = trusted();
    prop_oneof![
        proptest::sample::select(OTHERS.to_vec()).prop_map(|ip| ip.parse().expect("ip")),
        any::<IpAddr>(),
    ]
    .prop_filter("an untrusted peer", move |ip| {
        !trusted.contains(&ip.to_canonical())
    })
}

fn trusted_peer() -> impl Strategy<Value = IpAddr> {
    proptest::sample::select(trusted())
}

proptest! {
    #[test]
    fn an_untrusted_peer_is_the_client_whatever_its_headers_say(
        peer in untrusted_peer(),
        lines in forwarded_for(),
        xff in header_bytes(),
        forwarded in header_bytes(),
    ) {
        // Arrange
        let chained = request_with_chain(peer, &lines);
        let raw = request_with_bytes(peer, Some(&xff), Some(&forwarded), Some(&xff));

        // Act
        let from_chain = client_ip(&chained, &trusted(), XFF);
        let from_raw: Vec<ClientAddr> =
            HEADERS.iter().map(|h| client_ip(&raw, &trusted(), *h)).collect();

        // Assert
        prop_assert_eq!(from_chain, at(peer));
        prop_assert_eq!(from_raw, vec![at(peer); 3]);
    }

    #[test]
    fn behind_a_trusted_proxy_the_client_is_the_right_most_hop_that_is_not_a_trusted_proxy(
        peer in trusted_peer(),
        lines in forwarded_for(),
    ) {
        // Arrange
        let req = request_with_chain(peer, &lines);
        let trusted = trusted();
        // Unparseable hops are clients too: only trusted addresses are walked past.
        let expected = lines
            .iter()
            .flatten()
            .filter_map(Entry::hop)
            .rev()
            .find(|hop| !matches!(hop, ClientAddr::Ip(ip) if trusted.contains(ip)))
            .unwrap_or(at(peer));

        // Act
        let client = client_ip(&req, &trusted, XFF);

        // Assert
        prop_assert_eq!(client, expected);
    }

    #[test]
    fn headers_other_than_the_configured_one_change_nothing(
        peer in prop_oneof![trusted_peer(), untrusted_peer()],
        chosen in proptest::sample::select(HEADERS.to_vec()),
        own in header_bytes(),
        others in header_bytes(),
    ) {
        // Arrange
        let pick = |h: ClientIpHeader, bytes: &[u8]| {
            if h == chosen { Some(own.clone()) } else { Some(bytes.to_vec()) }
        };
        let with_others = request_with_bytes(
            peer,
            pick(XFF, &others).as_deref(),
            pick(ClientIpHeader::Forwarded, &others).as_deref(),
            pick(ClientIpHeader::XRealIp, &others).as_deref(),
        );
        let alone = request_with_bytes(
            peer,
            (chosen == XFF).then_some(own.as_slice()),
            (chosen == ClientIpHeader::Forwarded).then_some(own.as_slice()),
            (chosen == ClientIpHeader::XRealIp).then_some(own.as_slice()),
        );

        // Act
        let client = client_ip(&with_others, &trusted(), chosen);

        // Assert
        prop_assert_eq!(client, client_ip(&alone, &trusted(), chosen));
    }

    #[test]
    fn arbitrary_forwarding_header_bytes_never_panic_and_never_name_a_trusted_proxy(
        peer in prop_oneof![trusted_peer(), untrusted_peer()],
        xff in header_bytes(),
        forwarded in header_bytes(),
    ) {
        // Arrange
        let req = request_with_bytes(peer, Some(&xff), Some(&forwarded), Some(&xff));
        let trusted = trusted();

        for header in HEADERS {
            // Act
            let client = client_ip(&req, &trusted, header);

            // Assert
            if let ClientAddr::Ip(ip) = client {
                prop_assert!(
                    ip == peer.to_canonical() || !trusted.contains(&ip),
                    "{} named, a trusted proxy other than the peer {}",
                    ip,
                    peer
                );
            }
            if !trusted.contains(&peer) {
                prop_assert_eq!(client, at(peer));
            }
            prop_assert!(client.lockout_key().len() <= 64, "{:?}", client);
        }
    }
}

// ---- redact_url --------------------------------------------------------------------------------

fn scheme() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(vec!["postgres", "postgresql", "redis", "rediss"])
}

/// Hosts, users and database names use lower-case letters only, so that a password (which
/// always holds an upper-case letter) can never appear in them by chance.
const USER: &str = "[a-z][a-z0-9_]{0,10}";
const HOST: &str = "[a-z][a-z0-9.-]{0,15}(:[0-9]{1,5})?";
const DB: &str = "[a-z0-9_]{0,10}";

/// A password of printable ASCII without `?`, always holding an upper-case letter, and half of
/// the time also an `@` and a `/` (which end the userinfo and start the path in a strict URL).
fn password_without_question_mark() -> impl Strategy<Value = String> {
    let part = "[!-~&&[^?]]{0,12}";
    prop_oneof![
        (part, "[A-Z]", part).prop_map(|(a, b, c)| format!("{a}{b}{c}")),
        (part, "[A-Z]", part, part).prop_map(|(a, b, c, d)| format!("{a}@{b}/{c}@{d}")),
    ]
}

/// The query parameters that carry a secret: libpq's `password`, `sslpassword` (the passphrase
/// of the client key) and `oauth_client_secret`, and redis-rs's `pass` (Unix-socket URLs).
const SECRET_PARAMS: [&str; 4] = ["password", "sslpassword", "oauth_client_secret", "pass"];

fn is_secret_param(param: &str) -> bool {
    let name = param.split('=').next().unwrap_or_default();
    SECRET_PARAMS.iter().any(|s| s.eq_ignore_ascii_case(name))
}

/// A secret parameter's name, each letter upper- or lower-case at random.
fn secret_param() -> impl Strategy<Value = String> {
    proptest::sample::select(SECRET_PARAMS.to_vec()).prop_flat_map(|name| {
        proptest::collection::vec(any::<bool>(), name.len()).prop_map(move |upper| {
            name.chars()
                .zip(upper)
                .map(|(c, up)| if up { c.to_ascii_uppercase() } else { c })
                .collect()
        })
    })
}

proptest! {
    #[test]
    fn a_password_in_a_url_never_shows_and_scheme_user_and_host_are_kept(
        scheme in scheme(),
        user in USER,
        password in password_without_question_mark(),
        host in HOST,
        db in DB,
    ) {
        // Arrange
        let url = format!("{scheme}://{user}:{password}@{host}/{db}");

        // Act
        let shown = redact_url(&url);

        // Assert
        prop_assert!(!shown.contains(&password), "{:?} shows the password", shown);
        prop_assert_eq!(shown, format!("{scheme}://{user}:***@{host}/{db}"));
    }

    #[test]
    fn a_password_holding_a_question_mark_never_shows(
        scheme in scheme(),
        user in USER,
        before in "[!-~&&[^@?]]{0,8}",
        after in "[A-Z][!-~&&[^@?]]{0,8}",
        host in HOST,
        db in DB,
    ) {
        // Arrange
        let password = format!("{before}?{after}");
        let url = format!("{scheme}://{user}:{password}@{host}/{db}");

        // Act
        let shown = redact_url(&url);

        // Assert
        prop_assert!(!shown.contains(&password), "{:?} shows the password", shown);
        prop_assert_eq!(shown, format!("{scheme}://{user}:***@{host}/{db}"));
    }

    #[test]
    fn a_password_query_parameter_is_redacted_and_other_parameters_are_kept(
        base in prop_oneof![
            (scheme(), USER, HOST, DB).prop_map(|(s, u, h, d)| format!("{s}://{u}@{h}/{d}")),
            (scheme(), HOST, DB).prop_map(|(s, h, d)| format!("{s}://{h}/{d}")),
        ],
        key in proptest::sample::select(vec!["password", "PASSWORD", "Password"]),
        // Always holds a sign that nothing else in the URL uses, so it cannot show by chance.
        secret in "[!-~&&[^&]]{0,10}[#$%^~|][!-~&&[^&]]{0,10}",
        before in proptest::collection::vec("[a-z_]{1,10}=[a-z0-9]{0,8}", 0..3),
        after in proptest::collection::vec("[a-z_]{1,10}=[a-z0-9]{0,8}", 0..3),
    ) {
        // Arrange
        prop_assume!(before.iter().chain(&after).all(|p| !is_secret_param(p)));
        let params = |password: &str| {
            before
                .iter()
                .cloned()
                .chain(std::iter::once(format!("{key}={password}")))
                .chain(after.iter().cloned())
                .collect::<Vec<_>>()
                .join("&")
        };
        let url = format!("{base}?{}", params(&secret));

        // Act
        let shown = redact_url(&url);

        // Assert
        prop_assert!(!shown.contains(&secret), "{:?} shows the password", shown);
        prop_assert_eq!(shown, format!("{base}?{}", params("***")));
    }

    #[test]
    fn every_secret_bearing_query_parameter_is_redacted_in_any_case_and_the_rest_is_kept(
        base in prop_oneof![
            (scheme(), USER, HOST, DB).prop_map(|(s, u, h, d)| format!("{s}://{u}@{h}/{d}")),
            (scheme(), HOST, DB).prop_map(|(s, h, d)| format!("{s}://{h}/{d}")),
        ],
        keys in proptest::collection::vec(secret_param(), 1..4),
        // Each holds a sign that nothing else in the URL uses, so it cannot show by chance.
        secrets in proptest::collection::vec("[!-~&&[^&]]{0,10}[#$%^~|][!-~&&[^&]]{0,10}", 3),
        before in proptest::collection::vec("[a-z_]{1,12}=[a-z0-9]{0,8}", 0..3),
        after in proptest::collection::vec("[a-z_]{1,12}=[a-z0-9]{0,8}", 0..3),
    ) {
        // Arrange
        prop_assume!(before.iter().chain(&after).all(|p| !is_secret_param(p)));
        let params = |shown: Option<&str>| {
            let secret = keys
                .iter()
                .zip(&secrets)
                .map(|(key, secret)| format!("{key}={}", shown.unwrap_or(secret)));
            before
                .iter()
                .cloned()
                .chain(secret)
                .chain(after.iter().cloned())
                .collect::<Vec<_>>()
                .join("&")
        };
        let url = format!("{base}?{}", params(None));

        // Act
        let shown = redact_url(&url);

        // Assert
        for secret in secrets.iter().take(keys.len()) {
            prop_assert!(!shown.contains(secret), "{:?} shows {:?}", shown, secret);
        }
        prop_assert_eq!(shown, format!("{base}?{}", params(Some("***"))));
    }

    #[test]
    fn a_url_without_credentials_comes_back_unchanged(
        url in prop_oneof![
            (scheme(), HOST, DB).prop_map(|(s, h, d)| format!("{s}://{h}/{d}")),
            (scheme(), USER, HOST, DB).prop_map(|(s, u, h, d)| format!("{s}://{u}@{h}/{d}")),
            (scheme(), HOST, DB, "x_[a-z_]{0,8}=[a-z0-9:/]{0,8}")
                .prop_map(|(s, h, d, q)| format!("{s}://{h}/{d}?{q}")),
            "sqlite://[./a-z0-9_-]{1,30}",
        ],
    ) {
        // Act
        let shown = redact_url(&url);

        // Assert
        prop_assert_eq!(shown, url);
    }
}

// ---- sizes and durations -------------------------------------------------------------------------

/// Size units and the bytes in one of each.
const SIZE_UNITS: [(&str, u64); 10] = [
    ("B", 1),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("kib", 1 << 10),
    ("mb", 1_000_000),
    ("Ki", 1 << 10),
];

/// Duration units and the seconds in one of each.
const DURATION_UNITS: [(&str, u64); 4] = [("s", 1), ("m", 60), ("h", 3_600), ("d", 86_400)];

fn reparsed(settings: &Settings) -> Settings {
    let shown = settings.to_redacted_toml();
    Settings::from_toml_str(&shown)
        .unwrap_or_else(|e| panic!("the redacted TOML does not read back ({e}):\n{shown}"))
}

proptest! {
    #[test]
    fn a_body_limit_in_bytes_parses_and_survives_the_redacted_toml(n in 1..=i64::MAX as u64) {
        // Act
        let settings = Settings::from_toml_str(&format!("[server]\nmax_body = {n}\n"))
            .expect("a byte count parses");
        let again = reparsed(&settings);

        // Assert
        prop_assert_eq!(settings.server.max_body.0, n);
        prop_assert_eq!(again.server.max_body.0, n);
    }

    #[test]
    fn a_body_limit_with_a_unit_parses_and_survives_the_redacted_toml(
        n in 1u64..=1_000_000,
        (unit, bytes) in proptest::sample::select(SIZE_UNITS.to_vec()),
        space in proptest::sample::select(vec!["", " "]),
    ) {
        // Act
        let settings = Settings::from_toml_str(&format!("[server]\nmax_body = \"{n}{space}{unit}\"\n"))
            .expect("a size parses");
        let again = reparsed(&settings);

        // Assert
        prop_assert_eq!(settings.server.max_body.0, n * bytes);
        prop_assert_eq!(again.server.max_body.0, n * bytes);
    }

    #[test]
    fn a_whole_number_of_seconds_minutes_hours_or_days_parses_and_survives_the_redacted_toml(
        n in 1u64..=1_000_000_000,
        (unit, seconds) in proptest::sample::select(DURATION_UNITS.to_vec()),
    ) {
        // Act
        let settings = Settings::from_toml_str(&format!("[session]\nttl = \"{n}{unit}\"\n"))
            .expect("a duration parses");
        let again = reparsed(&settings);

        // Assert
        let expected = Duration::from_secs(n * seconds);
        prop_assert_eq!(settings.session.ttl.0, expected);
        prop_assert_eq!(again.session.ttl.0, expected);
    }
}
