//! Where a webhook may be sent: a URL checked when it is saved, and the addresses its
//! host resolves to checked again each time it is sent (so a name that later resolves
//! to a private address is refused then too). Loopback, private, link-local, shared,
//! unspecified, multicast and documentation addresses are refused unless
//! `webhook_allow_private` is set.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use crate::error::{shown, Error, Result};

/// The longest webhook URL taken.
pub const MAX_URL: usize = 2_000;

/// Whether `ip` is one a webhook may not reach unless private addresses are allowed.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let [first, second, ..] = a.octets();
            a.is_loopback()
                || a.is_private()
                || a.is_link_local()
                || a.is_unspecified()
                || a.is_broadcast()
                || a.is_multicast()
                || a.is_documentation()
                || first == 0
                // 100.64.0.0/10, carrier-grade NAT; 198.18.0.0/15, benchmarking.
                || (first == 100 && (second & 0xc0) == 64)
                || (first == 198 && (second & 0xfe) == 18)
        }
        IpAddr::V6(a) => {
            if let Some(v4) = a.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let first = a.segments()[0];
            a.is_loopback()
                || a.is_unspecified()
                || a.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && a.segments()[1] == 0x0db8
        }
    }
}

/// A webhook URL's scheme, host and port, checked for shape: `http` or `https`, a host,
/// no user or password, at most [`MAX_URL`] characters.
pub struct Target {
    pub host: String,
    pub port: u16,
}

pub fn parse(field: &str, url: &str) -> Result<Target> {
    let bad = |why: &str| Error::bad(field, format!("'{}' {why}", shown(url)));
    if url.len() > MAX_URL {
        return Err(Error::bad(
            field,
            format!("is longer than {MAX_URL} characters"),
        ));
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad("holds spaces or control characters"));
    }
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("is not an http or https URL"))?;
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => 80,
        "https" => 443,
        _ => return Err(bad("is not an http or https URL")),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(bad("holds a user or password: give a header instead"));
    }
    let port_of = |p: &str| p.parse::<u16>().map_err(|_| bad("has a bad port"));
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| bad("has a bad IPv6 address"))?;
        match after.strip_prefix(':') {
            Some(p) => (h, port_of(p)?),
            None if after.is_empty() => (h, default_port),
            None => return Err(bad("has a bad IPv6 address")),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, port_of(p)?),
            None => (authority, default_port),
        }
    };
    if host.is_empty() {
        return Err(bad("has no host"));
    }
    Ok(Target {
        host: host.to_string(),
        port,
    })
}

/// The addresses `host:port` resolves to, refused (naming the address) when one is
/// private and private addresses are not allowed.
pub fn resolve(host: &str, port: u16, allow_private: bool) -> std::io::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
    check(host, addrs, allow_private)
}

/// [`resolve`] for a `host:port` as an HTTP client asks for it.
pub fn resolve_netloc(netloc: &str, allow_private: bool) -> std::io::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = netloc.to_socket_addrs()?.collect();
    check(netloc, addrs, allow_private)
}

fn check(
    host: &str,
    addrs: Vec<SocketAddr>,
    allow_private: bool,
) -> std::io::Result<Vec<SocketAddr>> {
    if addrs.is_empty() {
        return Err(std::io::Error::other(format!(
            "{host} resolves to no address"
        )));
    }
    if !allow_private {
        if let Some(private) = addrs.iter().find(|a| is_private(a.ip())) {
            return Err(std::io::Error::other(format!(
                "{host} resolves to {}, a private or loopback address: webhooks are not sent \
                 there unless webhook_allow_private = true",
                private.ip()
            )));
        }
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_known_and_urls_are_parsed() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "224.0.0.1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "100.128.0.1"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
        let t = parse("WebhookURI", "https://hooks.example.com/services/x?y=1").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("hooks.example.com", 443));
        let t = parse("WebhookURI", "http://127.0.0.1:8081/hook").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 8081));
        let t = parse("WebhookURI", "http://[::1]:9000/").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 9000));
        for bad in [
            "ftp://x/",
            "hooks.example.com",
            "https://user:pw@example.com/",
            "http://example.com:99999/",
            "http:///path",
            "https://exa mple.com/",
        ] {
            assert!(parse("WebhookURI", bad).is_err(), "{bad}");
        }
        assert!(resolve("127.0.0.1", 80, false).is_err());
        assert!(resolve("127.0.0.1", 80, true).is_ok());
    }
}
