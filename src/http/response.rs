//! Response heads (RFC 9112 §4): status line and headers, parsed with
//! httparse from a buffer that grows only up to a limit.

use super::Error;
use std::io::Read;

/// Limits on what a server may make us buffer.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Most bytes in a response head.
    pub max_head_bytes: usize,
    /// Most header fields.
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_head_bytes: 64 * 1024,
            max_headers: 100,
        }
    }
}

/// A response's status line and headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version_minor: u8,
    /// Status code.
    pub status: u16,
    /// Reason phrase.
    pub reason: String,
    /// Header fields in order (values as bytes: they need not be UTF-8).
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Head {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Header `name` as text, if present and UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header(name)
            .and_then(|v| std::str::from_utf8(v).ok())
            .map(str::trim)
    }

    /// All values of header `name`.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
}

/// Reads one response head (skipping interim 1xx responses other than
/// 101). Bytes read past the head stay in `buf` for the body.
///
/// # Errors
/// [`Error::ConnectionClosedBeforeResponse`], [`Error::UnexpectedEof`],
/// [`Error::HeadTooLarge`], [`Error::TooManyHeaders`],
/// [`Error::MalformedHead`], or the transport's error.
pub fn read_head<R: Read>(r: &mut R, buf: &mut Vec<u8>, limits: &Limits) -> Result<Head, Error> {
    let mut any = !buf.is_empty();
    // Where the search for the blank line ending the head resumes, so a
    // server trickling bytes costs linear, not quadratic, work.
    let mut scanned: usize = 0;
    loop {
        let from = scanned.saturating_sub(3);
        let complete = buf.get(from..).is_some_and(|b| {
            b.windows(2).any(|w| w == b"\n\n") || b.windows(4).any(|w| w == b"\r\n\r\n")
        });
        scanned = buf.len();
        if complete || buf.len() >= limits.max_head_bytes {
            if let Some((head, used)) = parse(buf, limits)? {
                buf.drain(..used);
                scanned = 0;
                if (100..200).contains(&head.status) && head.status != 101 {
                    // RFC 9110 §15.2: interim responses precede the final one.
                    continue;
                }
                return Ok(head);
            }
        }
        if buf.len() >= limits.max_head_bytes {
            return Err(Error::HeadTooLarge);
        }
        let mut chunk = [0u8; 4096];
        let want = chunk.len().min(limits.max_head_bytes - buf.len() + 1);
        let n = r.read(&mut chunk[..want])?;
        if n == 0 {
            if !any {
                return Err(Error::ConnectionClosedBeforeResponse);
            }
            // Report a malformed head as such rather than as truncation.
            parse(buf, limits)?;
            return Err(Error::UnexpectedEof);
        }
        any = true;
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn parse(buf: &[u8], limits: &Limits) -> Result<Option<(Head, usize)>, Error> {
    if buf.is_empty() {
        return Ok(None);
    }
    let mut headers = vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(buf) {
        Ok(httparse::Status::Complete(used)) => {
            if used > limits.max_head_bytes {
                return Err(Error::HeadTooLarge);
            }
            let head = Head {
                version_minor: resp.version.unwrap_or(1),
                status: resp.code.unwrap_or(0),
                reason: resp.reason.unwrap_or("").to_string(),
                headers: resp
                    .headers
                    .iter()
                    .map(|h| (h.name.to_string(), h.value.to_vec()))
                    .collect(),
            };
            Ok(Some((head, used)))
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(Error::TooManyHeaders),
        Err(e) => Err(Error::MalformedHead(e.to_string())),
    }
}
