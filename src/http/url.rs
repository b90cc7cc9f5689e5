//! `http://` and `https://` URLs (RFC 3986 §3 subset) and reference resolution (§5.2).
//!
//! Hosts are registered names, IPv4 literals, or IPv6 literals in brackets
//! (§3.2.2 IP-literal: `http://[fd00::1]:8080/`), as curl takes them. The
//! hand-written parser is kept rather than the `url` crate: that crate
//! follows the WHATWG URL standard (which rewrites some inputs curl keeps
//! as given) and brings IDNA tables this client has no use for; what curl
//! accepts here (literals, ports, paths, queries) is covered below.

use super::Error;
use std::net::Ipv6Addr;

/// A parsed `http://` or `https://` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    /// `http` or `https`, lowercased.
    pub scheme: String,
    /// Host name, IPv4 literal or IPv6 literal (without its brackets,
    /// in canonical form), lowercased.
    pub host: String,
    /// Port (80 for http, 443 for https by default).
    pub port: u16,
    /// Path and query, at least `/`.
    pub path: String,
}

impl Url {
    /// Parses an absolute `http[s]://host[:port][/path][?query][#fragment]`.
    ///
    /// # Errors
    /// [`Error::UnsupportedScheme`] for other schemes, [`Error::InvalidUrl`]
    /// for anything malformed (empty host, bad port, userinfo, spaces).
    pub fn parse(s: &str) -> Result<Url, Error> {
        let bad = || Error::InvalidUrl(s.to_string());
        let (scheme, rest) = s.split_once("://").ok_or_else(bad)?;
        let scheme = scheme.to_ascii_lowercase();
        let Some(default_port) = default_port(&scheme) else {
            return Err(Error::UnsupportedScheme(scheme));
        };
        if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let rest = rest.split('#').next().unwrap_or("");
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return Err(bad());
        }
        // §3.2.2: an IPv6 literal is bracketed, so its colons are not the
        // port's. Zone identifiers (RFC 6874) name a host interface and are
        // refused.
        let (host, port_text) = match authority.strip_prefix('[') {
            Some(rest) => {
                let (literal, after) = rest.split_once(']').ok_or_else(bad)?;
                let ip: Ipv6Addr = literal.parse().map_err(|_| bad())?;
                let port = match after {
                    "" => None,
                    p => Some(p.strip_prefix(':').ok_or_else(bad)?),
                };
                (ip.to_string(), port)
            }
            None => {
                let (h, p) = match authority.rsplit_once(':') {
                    Some((h, p)) => (h, Some(p)),
                    None => (authority, None),
                };
                let valid_host = !h.is_empty()
                    && h.len() <= 253
                    && h.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
                if !valid_host {
                    return Err(bad());
                }
                (h.to_ascii_lowercase(), p)
            }
        };
        let port = match port_text {
            Some(p) => {
                let port: u16 = p.parse().map_err(|_| bad())?;
                if port == 0 {
                    return Err(bad());
                }
                port
            }
            None => default_port,
        };
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_string()
        };
        Ok(Url {
            scheme,
            host,
            port,
            path,
        })
    }

    /// True if the host is an IPv6 literal.
    pub fn host_is_ipv6(&self) -> bool {
        self.host.contains(':')
    }

    /// The `Host` header value (RFC 9110 §7.2): `host`, or `host:port`
    /// when not the scheme's default port; an IPv6 literal in brackets
    /// (`[fd00::1]:8080`).
    pub fn host_header(&self) -> String {
        let host = if self.host_is_ipv6() {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if Some(self.port) == default_port(&self.scheme) {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// Resolves `reference` against this URL (RFC 3986 §5.2): absolute
    /// URLs, `//host/x`, `/abs`, `rel/x`, `../x`, `?q`.
    ///
    /// # Errors
    /// As [`Url::parse`] for the result.
    pub fn join(&self, reference: &str) -> Result<Url, Error> {
        let reference = reference.trim();
        if reference.contains("://") {
            return Url::parse(reference);
        }
        if let Some(rest) = reference.strip_prefix("//") {
            return Url::parse(&format!("{}://{rest}", self.scheme));
        }
        let reference = reference.split('#').next().unwrap_or("");
        let (base_path, base_query) = split_query(&self.path);
        let path = if reference.is_empty() {
            self.path.clone()
        } else if let Some(q) = reference.strip_prefix('?') {
            format!("{base_path}?{q}")
        } else if reference.starts_with('/') {
            let (p, q) = split_query(reference);
            join_query(&remove_dot_segments(p), q)
        } else {
            // §5.2.3 merge: base path up to its last '/', then the reference.
            let dir = base_path.rfind('/').map_or("/", |i| &base_path[..=i]);
            let (p, q) = split_query(reference);
            join_query(&remove_dot_segments(&format!("{dir}{p}")), q)
        };
        let _ = base_query;
        Url::parse(&format!("{}://{}{}", self.scheme, self.host_header(), path))
    }
}

fn split_query(p: &str) -> (&str, Option<&str>) {
    match p.split_once('?') {
        Some((a, b)) => (a, Some(b)),
        None => (p, None),
    }
}

fn join_query(p: &str, q: Option<&str>) -> String {
    match q {
        Some(q) => format!("{p}?{q}"),
        None => p.to_string(),
    }
}

/// RFC 3986 §5.2.4.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len().saturating_sub(1);
    let mut trailing_slash = false;
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => trailing_slash = i == last,
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
                trailing_slash = i == last;
            }
            s => {
                out.push(s);
                trailing_slash = false;
            }
        }
    }
    let mut joined = out.join("/");
    if !joined.starts_with('/') {
        joined.insert(0, '/');
    }
    if trailing_slash && !joined.ends_with('/') {
        joined.push('/');
    }
    joined
}

/// The default port of a supported scheme.
fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}{}", self.scheme, self.host_header(), self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_port_path() {
        let u = Url::parse("http://10.0.0.1:8080/a/b?x=1#frag").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("10.0.0.1", 8080, "/a/b?x=1")
        );
        assert_eq!(u.host_header(), "10.0.0.1:8080");
        let u = Url::parse("HTTP://Example.COM").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("example.com", 80, "/")
        );
        assert_eq!(u.host_header(), "example.com");
        assert_eq!(Url::parse("http://h?q").unwrap().path, "/?q");
    }

    #[test]
    fn https_has_its_own_default_port_and_keeps_its_scheme_on_join() {
        let u = Url::parse("HTTPS://Site.test/a/b").unwrap();
        assert_eq!((u.scheme.as_str(), u.port), ("https", 443));
        assert_eq!(u.host_header(), "site.test");
        assert_eq!(u.to_string(), "https://site.test/a/b");
        let j = u.join("c?x").unwrap();
        assert_eq!(j.to_string(), "https://site.test/a/c?x");
        assert_eq!(u.join("//other/").unwrap().scheme, "https");
        let p = Url::parse("https://h:80/").unwrap();
        assert_eq!(p.host_header(), "h:80");
        assert_eq!(u.join("http://h/").unwrap().port, 80);
    }

    #[test]
    fn ipv6_literals_with_and_without_ports() {
        let u = Url::parse("http://[fd00::1]:8080/x?y").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("fd00::1", 8080, "/x?y")
        );
        assert!(u.host_is_ipv6());
        assert_eq!(u.host_header(), "[fd00::1]:8080");
        assert_eq!(u.to_string(), "http://[fd00::1]:8080/x?y");
        let u = Url::parse("https://[FD00:0:0::0002]").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("fd00::2", 443));
        assert_eq!(u.host_header(), "[fd00::2]");
        assert_eq!(u.to_string(), "https://[fd00::2]/");
        // Joins keep the literal.
        let j = Url::parse("http://[::1]:81/a/b")
            .unwrap()
            .join("../c")
            .unwrap();
        assert_eq!(j.to_string(), "http://[::1]:81/c");
        assert_eq!(
            Url::parse("http://[::ffff:10.0.0.1]/").unwrap().host,
            "::ffff:10.0.0.1"
        );
        for bad in [
            "http://[fd00::1/",
            "http://[fd00::1]x/",
            "http://[fd00::1]:/",
            "http://[fd00::1]:0/",
            "http://[10.0.0.1]/",
            "http://[fe80::1%25eth0]/",
            "http://fd00::1/",
            "http://[]/",
        ] {
            assert!(
                matches!(Url::parse(bad), Err(Error::InvalidUrl(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn rejects_bad_urls_each_with_a_reason() {
        assert!(matches!(
            Url::parse("ftp://x/"),
            Err(Error::UnsupportedScheme(_))
        ));
        for bad in [
            "x",
            "http://",
            "http://:80/",
            "http://h:0/",
            "http://h:99999/",
            "http://u@h/",
            "http://h/a b",
            "http://h:x/",
            "http://h_/",
        ] {
            assert!(
                matches!(Url::parse(bad), Err(Error::InvalidUrl(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn joins_references_like_rfc3986_examples() {
        // RFC 3986 §5.4.1 normal examples, base http://a/b/c/d;p?q.
        let base = Url::parse("http://a/b/c/d;p?q").unwrap();
        for (r, want) in [
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g/"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("g#s", "http://a/b/c/g"),
            (".", "http://a/b/c/"),
            ("./", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../g", "http://a/g"),
            ("../../../g", "http://a/g"),
            ("http://other:81/x", "http://other:81/x"),
        ] {
            let got = base.join(r).unwrap();
            let want = Url::parse(want).unwrap();
            assert_eq!(got, want, "{r}");
        }
    }
}
