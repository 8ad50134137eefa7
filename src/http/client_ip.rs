//! The client's address (SPEC §3 `server.trusted_proxies`, `server.client_ip_header`): the
//! peer, or, when the peer is a trusted proxy, the right-most hop of the one configured
//! forwarding header that is not itself a trusted proxy. A hop that is not an address
//! (`unknown`, an obfuscated `Forwarded` identifier, garbage) is that client, never skipped:
//! skipping it would let a client name the entry to its left. Headers from anyone else, and
//! headers other than the configured one, are ignored, so clients cannot pick the address their
//! failures are counted against.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use actix_web::HttpRequest;

use crate::config::ClientIpHeader;
use crate::telemetry::quoted;

/// Longest text kept of a hop that is not an address, in bytes.
pub const MAX_OPAQUE_BYTES: usize = 64;

/// Who sent a request: an address, or the text of a forwarded hop that is not one.
///
/// `Copy`, like the `IpAddr` it stands in for, so it moves into blocking closures freely.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientAddr {
    Ip(IpAddr),
    Opaque(OpaqueHop),
}

impl ClientAddr {
    /// The key of the per-client failed-login counters: the address for IPv4, the /64 for
    /// IPv6 (one host usually holds a whole /64, so counting single addresses would let it
    /// rotate through 2^64 of them), the hop's text otherwise.
    pub fn lockout_key(&self) -> String {
        match self {
            Self::Ip(IpAddr::V4(v4)) => v4.to_string(),
            Self::Ip(IpAddr::V6(v6)) => {
                let prefix = u128::from(*v6) & !(u128::from(u64::MAX));
                format!("{}/64", Ipv6Addr::from(prefix))
            }
            Self::Opaque(hop) => hop.as_str().to_string(),
        }
    }
}

/// An address as is; a hop's text quoted and escaped, since the client wrote it.
impl fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ip(ip) => ip.fmt(f),
            Self::Opaque(hop) => quoted(hop.as_str()).fmt(f),
        }
    }
}

impl From<IpAddr> for ClientAddr {
    fn from(ip: IpAddr) -> Self {
        Self::Ip(ip.to_canonical())
    }
}

/// The text of a hop that is not an address: at most [`MAX_OPAQUE_BYTES`], control
/// characters replaced, kept inline so that [`ClientAddr`] stays `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct OpaqueHop {
    len: u8,
    bytes: [u8; MAX_OPAQUE_BYTES],
}

impl OpaqueHop {
    pub fn new(raw: &str) -> Self {
        let mut bytes = [0u8; MAX_OPAQUE_BYTES];
        let mut len = 0;
        let mut utf8 = [0u8; 4];
        for c in raw.chars() {
            // PostgreSQL text cannot hold NUL, and a log reader should not meet a raw escape.
            let c = if c.is_control() { '\u{fffd}' } else { c };
            let encoded = c.encode_utf8(&mut utf8).as_bytes();
            let Some(slot) = bytes.get_mut(len..len + encoded.len()) else {
                break;
            };
            slot.copy_from_slice(encoded);
            len += encoded.len();
        }
        Self {
            len: u8::try_from(len).unwrap_or(u8::MAX),
            bytes,
        }
    }

    pub fn as_str(&self) -> &str {
        let kept = self.bytes.get(..usize::from(self.len)).unwrap_or_default();
        // Only whole characters are ever copied in, so this is always the `Ok` case.
        std::str::from_utf8(kept).unwrap_or_default()
    }
}

impl fmt::Debug for OpaqueHop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// Whether the TCP peer of `req` is one of `trusted` (`server.trusted_proxies`): only then are
/// forwarding headers believed (here, and for forward-auth's original request).
pub fn peer_is_trusted(req: &HttpRequest, trusted: &[IpAddr]) -> bool {
    let peer = req
        .peer_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip())
        .to_canonical();
    trusted.iter().any(|t| t.to_canonical() == peer)
}

/// The client of `req`: see the module comment.
pub fn client_ip(req: &HttpRequest, trusted: &[IpAddr], header: ClientIpHeader) -> ClientAddr {
    let peer = req
        .peer_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip())
        .to_canonical();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|t| t.to_canonical() == ip);
    if !peer_is_trusted(req, trusted) {
        return ClientAddr::Ip(peer);
    }
    // Header bytes outside visible ASCII must not hide the header (the hop would be skipped).
    let lines: Vec<Cow<'_, str>> = req
        .headers()
        .get_all(header.name())
        .map(|v| String::from_utf8_lossy(v.as_bytes()))
        .collect();
    let hops: Vec<&str> = match header {
        ClientIpHeader::XForwardedFor | ClientIpHeader::XRealIp => {
            lines.iter().flat_map(|line| line.split(',')).collect()
        }
        ClientIpHeader::Forwarded => lines
            .iter()
            .flat_map(|line| split_unquoted(line, ','))
            .map(forwarded_for)
            .collect(),
    };
    // Walk back from the proxy nearest to us; the first hop it did not add is the client.
    hops.into_iter()
        .rev()
        .map(str::trim)
        // An empty list element is no hop (RFC 9110 §5.6.1).
        .filter(|hop| !hop.is_empty())
        .map(parse_hop)
        .find(|hop| !matches!(hop, ClientAddr::Ip(ip) if is_trusted(*ip)))
        .unwrap_or(ClientAddr::Ip(peer))
}

/// The `for=` value of one `Forwarded` element; `unknown` when the element has none (the
/// proxy did not say who sent it, and that proxy's hop must not be skipped). An empty element
/// stays empty, to be dropped as no hop.
fn forwarded_for(element: &str) -> &str {
    if element.trim().is_empty() {
        return "";
    }
    split_unquoted(element, ';')
        .into_iter()
        .find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            key.trim().eq_ignore_ascii_case("for").then_some(value)
        })
        .unwrap_or("unknown")
}

/// Splits on `sep` outside double-quoted strings (a backslash escapes inside them).
fn split_unquoted(text: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut in_quotes, mut escaped) = (0, false, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            c if c == sep && !in_quotes => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// One hop: `1.2.3.4`, `1.2.3.4:80`, `"[::1]:80"`, `2001:db8::1`, `[2001:db8::1]`; anything
/// else is [`ClientAddr::Opaque`].
fn parse_hop(raw: &str) -> ClientAddr {
    let s = raw.trim().trim_matches('"').trim();
    let ip = s
        .parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            // `[v6]` or `[v6]:port`, the port possibly obfuscated (`[v6]:_a`).
            s.strip_prefix('[')
                .and_then(|r| r.split_once(']'))
                .and_then(|(ip, _)| ip.parse::<Ipv6Addr>().ok())
                .map(IpAddr::V6)
        })
        .or_else(|| {
            // `v4:port` with an obfuscated port.
            s.split_once(':')
                .and_then(|(ip, _)| ip.parse::<Ipv4Addr>().ok())
                .map(IpAddr::V4)
        });
    match ip {
        Some(ip) => ClientAddr::from(ip),
        None => ClientAddr::Opaque(OpaqueHop::new(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    const XFF: ClientIpHeader = ClientIpHeader::XForwardedFor;

    fn req(peer: &str, headers: &[(&str, &str)]) -> HttpRequest {
        let mut r = TestRequest::default().peer_addr(peer.parse().unwrap());
        for (k, v) in headers {
            r = r.append_header((*k, *v));
        }
        r.to_http_request()
    }

    fn ip(text: &str) -> ClientAddr {
        ClientAddr::Ip(text.parse().unwrap())
    }

    fn opaque(text: &str) -> ClientAddr {
        ClientAddr::Opaque(OpaqueHop::new(text))
    }

    fn proxy() -> Vec<IpAddr> {
        vec!["10.0.0.1".parse().unwrap()]
    }

    #[test]
    fn headers_from_untrusted_peers_are_ignored() {
        let r = req("203.0.113.9:5000", &[("x-forwarded-for", "1.1.1.1")]);
        assert_eq!(client_ip(&r, &[], XFF), ip("203.0.113.9"));
    }

    #[test]
    fn a_trusted_proxy_names_the_client() {
        let r = req(
            "10.0.0.1:5000",
            &[("x-forwarded-for", "6.6.6.6, 198.51.100.7")],
        );
        assert_eq!(client_ip(&r, &proxy(), XFF), ip("198.51.100.7"));
        let r = req(
            "10.0.0.1:5000",
            &[("forwarded", "for=\"[2001:db8::1]:4711\";proto=https")],
        );
        assert_eq!(
            client_ip(&r, &proxy(), ClientIpHeader::Forwarded),
            ip("2001:db8::1")
        );
        let r = req("10.0.0.1:5000", &[("x-real-ip", "198.51.100.8")]);
        assert_eq!(
            client_ip(&r, &proxy(), ClientIpHeader::XRealIp),
            ip("198.51.100.8")
        );
        let r = req("10.0.0.1:5000", &[]);
        assert_eq!(client_ip(&r, &proxy(), XFF), ip("10.0.0.1"));
    }

    #[test]
    fn only_the_configured_header_is_read() {
        let r = req(
            "10.0.0.1:5000",
            &[
                ("x-forwarded-for", "198.51.100.7"),
                ("forwarded", "for=203.0.113.5"),
                ("x-real-ip", "192.0.2.9"),
            ],
        );
        assert_eq!(client_ip(&r, &proxy(), XFF), ip("198.51.100.7"));
        assert_eq!(
            client_ip(&r, &proxy(), ClientIpHeader::Forwarded),
            ip("203.0.113.5")
        );
        assert_eq!(
            client_ip(&r, &proxy(), ClientIpHeader::XRealIp),
            ip("192.0.2.9")
        );
        let only_forwarded = req("10.0.0.1:5000", &[("forwarded", "for=203.0.113.5")]);
        assert_eq!(client_ip(&only_forwarded, &proxy(), XFF), ip("10.0.0.1"));
    }

    #[test]
    fn an_unparseable_hop_is_the_client_never_skipped() {
        for (header, value, client) in [
            (XFF, "6.6.6.6, unknown", "unknown"),
            (XFF, "6.6.6.6, garbage, 10.0.0.1", "garbage"),
            (
                ClientIpHeader::Forwarded,
                "for=6.6.6.6, for=_hidden",
                "_hidden",
            ),
            (
                ClientIpHeader::Forwarded,
                "for=6.6.6.6, for=unknown",
                "unknown",
            ),
            // A proxy that did not say whom it served.
            (
                ClientIpHeader::Forwarded,
                "for=6.6.6.6, proto=https",
                "unknown",
            ),
        ] {
            let r = req("10.0.0.1:5000", &[(header.name(), value)]);
            assert_eq!(client_ip(&r, &proxy(), header), opaque(client), "{value}");
        }
    }

    #[test]
    fn forwarded_values_with_separators_in_quotes_are_one_hop() {
        let r = req(
            "10.0.0.1:5000",
            &[("forwarded", "for=6.6.6.6, for=\"_a,b;c\";by=x")],
        );
        assert_eq!(
            client_ip(&r, &proxy(), ClientIpHeader::Forwarded),
            opaque("_a,b;c")
        );
    }

    #[test]
    fn ipv4_mapped_addresses_are_ipv4() {
        let r = req(
            "[::ffff:10.0.0.1]:5000",
            &[("x-forwarded-for", "::ffff:198.51.100.7")],
        );
        assert_eq!(client_ip(&r, &proxy(), XFF), ip("198.51.100.7"));
        assert_eq!(ip("198.51.100.7").lockout_key(), "198.51.100.7");
    }

    #[test]
    fn lockout_keys_group_ipv6_by_64() {
        let a = ip("2001:db8:1:2::1");
        let b = ip("2001:db8:1:2:ffff:ffff:ffff:ffff");
        let c = ip("2001:db8:1:3::1");

        assert_eq!(a.lockout_key(), "2001:db8:1:2::/64");
        assert_eq!(a.lockout_key(), b.lockout_key());
        assert_ne!(a.lockout_key(), c.lockout_key());
        assert_eq!(ip("192.0.2.1").lockout_key(), "192.0.2.1");
        assert_eq!(opaque("unknown").lockout_key(), "unknown");
    }

    #[test]
    fn opaque_hops_are_capped_cleaned_and_shown_quoted() {
        let long = opaque(&"é".repeat(100));
        assert_eq!(long.lockout_key(), "é".repeat(MAX_OPAQUE_BYTES / 2));
        assert_eq!(opaque("a\u{0}b").lockout_key(), "a\u{fffd}b");
        assert_eq!(opaque("x\"y").to_string(), r#""x\"y""#);
        assert_eq!(ip("2001:db8::1").to_string(), "2001:db8::1");
    }
}
