//! `get`'s TLS options (`--cacert`, `-k`, `--tlsv1.2`, `--tlsv1.3`), the
//! `-v` narration of a handshake (version, cipher suite, ALPN, and the
//! server certificate's subject, issuer, validity and matching SAN, as
//! curl prints them), and curl's exit codes for TLS failures (35, 60, 77).
//!
//! The certificate fields come from a small DER reader (X.690 §8.1 TLV,
//! RFC 5280 §4.1 layout) that only walks what it prints; the certificate
//! was already verified by rustls (or `-k` was given), and a field it
//! cannot read is shown as `?`, never a panic.

use super::Failure;
use crate::http::tls::TlsConfigBuilder;
use crate::http::{MinVersion, TlsConfig, TlsInfo};
use clap::Args;
use std::fmt::Write as _;
use std::path::PathBuf;

/// TLS options of `get` (curl's names).
#[derive(Args, Debug, Default, Clone)]
pub(crate) struct TlsArgs {
    /// https: trust the CA certificates of FILE (PEM) instead of the
    /// system's CA store.
    #[arg(long, value_name = "FILE")]
    cacert: Option<PathBuf>,
    /// https: do not verify the server's certificate (the handshake still
    /// runs; -v says what verification found).
    #[arg(short = 'k', long)]
    insecure: bool,
    /// https: TLS 1.2 or newer (the default).
    #[arg(long = "tlsv1.2")]
    tlsv1_2: bool,
    /// https: TLS 1.3 only.
    #[arg(long = "tlsv1.3")]
    tlsv1_3: bool,
}

impl TlsArgs {
    /// The TLS configuration these options ask for (built on the first
    /// https connection; a `--cacert` file is read now).
    pub(crate) fn builder(&self) -> Result<TlsConfigBuilder, Failure> {
        let mut b = TlsConfig::builder()
            .insecure(self.insecure)
            .min_version(if self.tlsv1_3 {
                MinVersion::Tls13
            } else {
                MinVersion::Tls12
            });
        if let Some(path) = &self.cacert {
            b = b.ca_file(path).map_err(|e| Failure {
                code: super::exit::CACERT_BADFILE,
                message: e.to_string(),
            })?;
        }
        Ok(b)
    }
}

/// The `-v` lines for a finished handshake with `host`.
pub(super) fn narrate(host: &str, info: &TlsInfo) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "* SSL connection using {} / {}",
        info.version, info.cipher_suite
    );
    match &info.alpn {
        Some(p) => {
            let _ = writeln!(t, "* ALPN: server accepted {p}");
        }
        None => t.push_str("* ALPN: server did not agree on a protocol\n"),
    }
    t.push_str("* Server certificate:\n");
    match info.peer_certificates.first().and_then(|c| parse(c)) {
        Some(c) => {
            let _ = writeln!(t, "*  subject: {}", c.subject);
            let _ = writeln!(t, "*  start date: {}", c.not_before);
            let _ = writeln!(t, "*  expire date: {}", c.not_after);
            match c.sans.iter().find(|n| name_matches(n, host)) {
                Some(n) => {
                    let _ = writeln!(
                        t,
                        "*  subjectAltName: host \"{host}\" matched cert's \"{n}\""
                    );
                }
                None => {
                    let _ = writeln!(
                        t,
                        "*  subjectAltName does not match {host} (names: {})",
                        c.sans.join(", ")
                    );
                }
            }
            let _ = writeln!(t, "*  issuer: {}", c.issuer);
        }
        None => t.push_str("*  (certificate not readable)\n"),
    }
    match &info.verify {
        Ok(()) => t.push_str("*  SSL certificate verify ok.\n"),
        Err(e) => {
            let _ = writeln!(
                t,
                "*  SSL certificate verify result: {e}, continuing anyway (-k)."
            );
        }
    }
    t
}

/// A certificate SAN (`*.example.test` wildcards one label) against a host.
fn name_matches(pattern: &str, host: &str) -> bool {
    if pattern.eq_ignore_ascii_case(host) {
        return true;
    }
    match (pattern.strip_prefix("*."), host.split_once('.')) {
        (Some(suffix), Some((label, rest))) => {
            !label.is_empty() && suffix.eq_ignore_ascii_case(rest)
        }
        _ => false,
    }
}

/// The fields `-v` prints.
#[derive(Debug, PartialEq, Eq)]
struct CertFields {
    subject: String,
    issuer: String,
    not_before: String,
    not_after: String,
    sans: Vec<String>,
}

/// One DER TLV: tag, content, what follows. `None` on anything malformed.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = rest.get(..n)?;
        let len = bytes.iter().fold(0usize, |a, &b| (a << 8) | usize::from(b));
        (len, rest.get(n..)?)
    };
    Some((tag, rest.get(..len)?, rest.get(len..)?))
}

/// RFC 5280 §4.1: the subject, issuer, validity and SAN of `der`.
fn parse(der: &[u8]) -> Option<CertFields> {
    let (_, cert, _) = tlv(der)?;
    let (_, tbs, _) = tlv(cert)?;
    let mut rest = tbs;
    let (tag, _, r) = tlv(rest)?;
    if tag == 0xa0 {
        rest = r; // explicit version
    }
    let (_, _, r) = tlv(rest)?; // serial
    let (_, _, r) = tlv(r)?; // signature algorithm
    let (_, issuer, r) = tlv(r)?;
    let (_, validity, r) = tlv(r)?;
    let (_, subject, mut r) = tlv(r)?;
    let (_, not_before, v) = tlv(validity)?;
    let (_, not_after, _) = tlv(v)?;
    let mut sans = Vec::new();
    while let Some((tag, content, next)) = tlv(r) {
        if tag == 0xa3 {
            sans = subject_alt_names(content).unwrap_or_default();
        }
        r = next;
    }
    Some(CertFields {
        subject: name(subject),
        issuer: name(issuer),
        not_before: time(not_before),
        not_after: time(not_after),
        sans,
    })
}

/// The DNS names and IPv4 addresses of the subjectAltName extension
/// (OID 2.5.29.17) in `[3] { SEQUENCE OF Extension }`.
fn subject_alt_names(explicit: &[u8]) -> Option<Vec<String>> {
    let (_, mut exts, _) = tlv(explicit)?;
    while let Some((_, ext, next)) = tlv(exts) {
        exts = next;
        let (_, oid, mut r) = tlv(ext)?;
        if oid != [0x55, 0x1d, 0x11] {
            continue;
        }
        let (tag, _, after) = tlv(r)?;
        if tag == 0x01 {
            r = after; // critical flag
        }
        let (_, octets, _) = tlv(r)?;
        let (_, mut names, _) = tlv(octets)?;
        let mut out = Vec::new();
        while let Some((tag, value, next)) = tlv(names) {
            names = next;
            match (tag, value) {
                (0x82, v) => out.push(String::from_utf8_lossy(v).into_owned()),
                (0x87, &[a, b, c, d]) => out.push(format!("{a}.{b}.{c}.{d}")),
                _ => {}
            }
        }
        return Some(out);
    }
    Some(Vec::new())
}

/// A distinguished name as `CN=…; O=…` (the attributes curl shows).
fn name(seq: &[u8]) -> String {
    let mut parts = Vec::new();
    let mut r = seq;
    while let Some((_, set, next)) = tlv(r) {
        r = next;
        let Some((_, atv, _)) = tlv(set) else {
            continue;
        };
        let Some((_, oid, rest)) = tlv(atv) else {
            continue;
        };
        let Some((_, value, _)) = tlv(rest) else {
            continue;
        };
        let key = match oid {
            [0x55, 0x04, 0x03] => "CN",
            [0x55, 0x04, 0x06] => "C",
            [0x55, 0x04, 0x07] => "L",
            [0x55, 0x04, 0x08] => "ST",
            [0x55, 0x04, 0x0a] => "O",
            [0x55, 0x04, 0x0b] => "OU",
            _ => continue,
        };
        parts.push(format!("{key}={}", String::from_utf8_lossy(value)));
    }
    if parts.is_empty() {
        "?".into()
    } else {
        parts.join("; ")
    }
}

/// UTCTime `YYMMDDHHMMSSZ` or GeneralizedTime `YYYYMMDDHHMMSSZ` as curl
/// prints it: `Nov 27 15:00:00 2026 GMT`.
fn time(t: &[u8]) -> String {
    let s = String::from_utf8_lossy(t);
    let digits = s.trim_end_matches('Z');
    let (year, rest) = match digits.len() {
        12 => {
            let yy: u32 = digits.get(..2).and_then(|y| y.parse().ok()).unwrap_or(0);
            // RFC 5280 §4.1.2.5.1: 50..99 are 19xx.
            (
                if yy >= 50 { 1900 + yy } else { 2000 + yy },
                digits.get(2..),
            )
        }
        14 => (
            digits.get(..4).and_then(|y| y.parse().ok()).unwrap_or(0),
            digits.get(4..),
        ),
        _ => return s.into_owned(),
    };
    let Some(rest) = rest else {
        return s.into_owned();
    };
    let field = |i: usize| rest.get(i..i + 2).unwrap_or("??");
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = field(0)
        .parse::<usize>()
        .ok()
        .and_then(|m| MONTHS.get(m.checked_sub(1)?))
        .unwrap_or(&"???");
    format!(
        "{month} {} {}:{}:{} {year} GMT",
        field(2),
        field(4),
        field(6),
        field(8)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_one_label_only() {
        assert!(name_matches("site.test", "SITE.test"));
        assert!(name_matches("*.site.test", "www.site.test"));
        assert!(!name_matches("*.site.test", "a.b.site.test"));
        assert!(!name_matches("*.site.test", "site.test"));
        assert!(!name_matches("other.test", "site.test"));
    }

    #[test]
    fn times_print_as_curl_does() {
        assert_eq!(time(b"261127150000Z"), "Nov 27 15:00:00 2026 GMT");
        assert_eq!(time(b"20500101000000Z"), "Jan 01 00:00:00 2050 GMT");
        assert_eq!(time(b"991231235959Z"), "Dec 31 23:59:59 1999 GMT");
        assert_eq!(time(b"junk"), "junk");
    }

    #[test]
    fn truncated_or_garbage_der_is_none_not_a_panic() {
        assert_eq!(tlv(&[]), None);
        assert_eq!(tlv(&[0x30, 0x85, 1, 1, 1, 1, 1]), None);
        assert_eq!(tlv(&[0x30, 0x05, 1]), None);
        for n in 0..64u8 {
            let junk: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37) ^ 0x30).collect();
            let _ = parse(&junk);
        }
        assert_eq!(parse(&[0x30, 0x03, 0x30, 0x01, 0x00]), None);
    }
}
