//! `http://` and `https://` URLs (RFC 3986 §3 subset) and reference resolution (§5.2).
//!
//! Hosts are registered names, IPv4 literals, or IPv6 literals in brackets
//! (§3.2.2 IP-literal: `http://[fd00::1]:8080/`), as curl takes them.
//! Userinfo (§3.2.1, `http://user:pass@host/`) is kept as given and
//! becomes HTTP Basic credentials, percent-decoded, as curl sends them:
//! the user up to the first `:`, the password after it (empty when there
//! is none, also for `http://@host/`); a `%` not followed by two hex
//! digits stays as it is, and a decoded NUL makes the URL invalid.
//!
//! The hand-written parser is kept rather than the `url` crate: that crate
//! follows the WHATWG URL standard, which rewrites inputs curl keeps as
//! given (an empty userinfo is dropped, so `http://@host/` would send no
//! credentials where curl sends `Og==`; `%{url_effective}` must show the
//! URL as typed, not re-encoded), and its IDNA tables serve a host syntax
//! this client refuses anyway; what curl accepts here (literals, ports,
//! userinfo, paths, queries) is covered below and by tests/curl_oracle.rs.

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
    /// Userinfo as given (still percent-encoded), without its `@`; see
    /// [`Url::credentials`].
    pub userinfo: Option<String>,
}

impl Url {
    /// Parses an absolute `http[s]://host[:port][/path][?query][#fragment]`.
    ///
    /// # Errors
    /// [`Error::UnsupportedScheme`] for other schemes, [`Error::InvalidUrl`]
    /// for anything malformed (empty host, bad port, spaces, a userinfo
    /// that decodes to a NUL).
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
        // §3.2.1: userinfo ends at the first '@' (a second one is left in
        // the host, which refuses it, as curl does).
        let (userinfo, authority) = match authority.split_once('@') {
            Some((u, a)) => (Some(u.to_string()), a),
            None => (None, authority),
        };
        if userinfo
            .as_deref()
            .is_some_and(|u| percent_decode(u).contains(&0))
        {
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
            userinfo,
        })
    }

    /// The Basic credentials the userinfo carries, percent-decoded: the
    /// user up to the first `:` and the password after it (empty when
    /// there is no `:`). `None` without userinfo.
    pub fn credentials(&self) -> Option<(Vec<u8>, Vec<u8>)> {
        let u = self.userinfo.as_deref()?;
        let (user, password) = u.split_once(':').unwrap_or((u, ""));
        Some((percent_decode(user), percent_decode(password)))
    }

    /// True if `other` has the same scheme, host and port: credentials
    /// follow a redirect only there (as curl does since 7.83).
    pub fn same_origin(&self, other: &Url) -> bool {
        (&self.scheme, &self.host, self.port) == (&other.scheme, &other.host, other.port)
    }

    /// The URL without its userinfo, for messages that must not show a
    /// password.
    pub fn redacted(&self) -> String {
        format!("{}://{}{}", self.scheme, self.host_header(), self.path)
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
        // A reference without an authority keeps this URL's userinfo (its
        // credentials go on to the same server, as with curl).
        let userinfo = self
            .userinfo
            .as_deref()
            .map_or_else(String::new, |u| format!("{u}@"));
        Url::parse(&format!(
            "{}://{userinfo}{}{}",
            self.scheme,
            self.host_header(),
            path
        ))
    }
}

/// RFC 3986 §2.1 percent-decoding; a `%` not followed by two hex digits
/// is kept as it is (curl does the same).
pub fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hex = |j: usize| b.get(j).and_then(|&h| char::from(h).to_digit(16));
        match (c, hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
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

/// The URL as curl's `%{url_effective}` shows it: with the userinfo as
/// given. Use [`Url::redacted`] where a password must not appear.
impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let userinfo = self.userinfo.as_deref().unwrap_or_default();
        let at = if self.userinfo.is_some() { "@" } else { "" };
        write!(
            f,
            "{}://{userinfo}{at}{}{}",
            self.scheme,
            self.host_header(),
            self.path
        )
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
    fn userinfo_becomes_percent_decoded_credentials_as_curl_sends_them() {
        let creds = |s: &str| Url::parse(s).unwrap().credentials();
        let pair = |u: &[u8], p: &[u8]| Some((u.to_vec(), p.to_vec()));
        assert_eq!(creds("http://user:pass@h/"), pair(b"user", b"pass"));
        assert_eq!(creds("http://us%40er:p%3Ass@h/"), pair(b"us@er", b"p:ss"));
        assert_eq!(creds("http://a:b:c@h/"), pair(b"a", b"b:c"));
        assert_eq!(creds("http://user@h/"), pair(b"user", b""));
        assert_eq!(creds("http://:pass@h/"), pair(b"", b"pass"));
        assert_eq!(creds("http://@h/"), pair(b"", b""));
        assert_eq!(creds("http://us%zzer@h/"), pair(b"us%zzer", b""));
        assert_eq!(
            creds("http://u%C3%A9:%0a@h/"),
            pair("u\u{e9}".as_bytes(), b"\n")
        );
        assert_eq!(creds("http://h/"), None);
        let u = Url::parse("http://u:p@[fd00::1]:8080/x").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("fd00::1", 8080));
        // Shown as given (curl's %{url_effective}), or without it.
        assert_eq!(u.to_string(), "http://u:p@[fd00::1]:8080/x");
        assert_eq!(u.redacted(), "http://[fd00::1]:8080/x");
        assert_eq!(u.host_header(), "[fd00::1]:8080");
    }

    #[test]
    fn a_relative_reference_keeps_the_userinfo_and_an_absolute_one_its_own() {
        let base = Url::parse("http://u:p@h:8080/a/b").unwrap();
        assert_eq!(base.join("c").unwrap().to_string(), "http://u:p@h:8080/a/c");
        assert_eq!(base.join("/x").unwrap().to_string(), "http://u:p@h:8080/x");
        let abs = base.join("http://h:8080/x").unwrap();
        assert_eq!(abs.userinfo, None);
        assert!(abs.same_origin(&base));
        assert!(!base.same_origin(&Url::parse("http://h:8081/").unwrap()));
        assert!(!base.same_origin(&Url::parse("https://h:8080/").unwrap()));
        assert!(!base.same_origin(&Url::parse("http://g:8080/").unwrap()));
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
            "http://a@b:c@h/",
            "http://u:p%00@h/",
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
