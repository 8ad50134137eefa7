//! The client's IP address: the peer, or, when the peer is a trusted proxy, the nearest
//! untrusted address in `X-Forwarded-For` (or `Forwarded: for=`). Headers from anyone else are
//! ignored, so clients cannot pick the address their failures are counted against.

use std::net::{IpAddr, Ipv4Addr};

use actix_web::HttpRequest;

pub fn client_ip(req: &HttpRequest, trusted: &[IpAddr]) -> IpAddr {
    let peer = req
        .peer_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
    if !trusted.contains(&peer) {
        return peer;
    }
    let headers = req.headers();
    let mut chain: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(parse_addr)
        .collect();
    if chain.is_empty() {
        chain = headers
            .get_all("forwarded")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split([',', ';']))
            .filter_map(|part| {
                let (k, v) = part.split_once('=')?;
                k.trim().eq_ignore_ascii_case("for").then_some(v)
            })
            .filter_map(parse_addr)
            .collect();
    }
    // Walk back from the proxy nearest to us; the first address it did not add is the client.
    chain
        .into_iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(peer)
}

/// Parses `1.2.3.4`, `1.2.3.4:80`, `"[::1]:80"`, `2001:db8::1`.
fn parse_addr(raw: &str) -> Option<IpAddr> {
    let s = raw.trim().trim_matches('"');
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sock) = s.parse::<std::net::SocketAddr>() {
        return Some(sock.ip());
    }
    s.strip_prefix('[')
        .and_then(|r| r.split_once(']'))
        .and_then(|(ip, _)| ip.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn req(peer: &str, headers: &[(&str, &str)]) -> HttpRequest {
        let mut r = TestRequest::default().peer_addr(peer.parse().unwrap());
        for (k, v) in headers {
            r = r.insert_header((*k, *v));
        }
        r.to_http_request()
    }

    #[test]
    fn headers_from_untrusted_peers_are_ignored() {
        let r = req("203.0.113.9:5000", &[("x-forwarded-for", "1.1.1.1")]);
        assert_eq!(client_ip(&r, &[]), "203.0.113.9".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn a_trusted_proxy_names_the_client() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let r = req(
            "10.0.0.1:5000",
            &[("x-forwarded-for", "6.6.6.6, 198.51.100.7")],
        );
        assert_eq!(
            client_ip(&r, &[proxy]),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        let r = req(
            "10.0.0.1:5000",
            &[("forwarded", "for=\"[2001:db8::1]:4711\";proto=https")],
        );
        assert_eq!(
            client_ip(&r, &[proxy]),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
        let r = req("10.0.0.1:5000", &[("x-forwarded-for", "garbage")]);
        assert_eq!(client_ip(&r, &[proxy]), proxy);
    }
}
