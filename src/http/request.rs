//! Request heads (RFC 9112 §3): request line, headers, blank line.

use super::{Error, Url};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;

/// A request body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestBody {
    /// Bytes held in memory.
    Bytes(Vec<u8>),
    /// A file streamed from disk as it is sent (never loaded whole); its
    /// length at send time becomes the Content-Length, and the file is
    /// reopened if the request is retried or redirected.
    File(PathBuf),
}

impl From<Vec<u8>> for RequestBody {
    fn from(b: Vec<u8>) -> RequestBody {
        RequestBody::Bytes(b)
    }
}

impl From<&[u8]> for RequestBody {
    fn from(b: &[u8]) -> RequestBody {
        RequestBody::Bytes(b.to_vec())
    }
}

/// Bytes copied from a file body per `write` (a few full segments).
const FILE_CHUNK: usize = 64 * 1024;

/// An HTTP request to send.
#[derive(Clone, Debug)]
pub struct Request {
    /// Method token (GET, HEAD, POST, …).
    pub method: String,
    /// Target.
    pub url: Url,
    /// Extra headers; a name given here replaces the default of that name.
    pub headers: Vec<(String, String)>,
    /// Body sent with Content-Length.
    pub body: Option<RequestBody>,
    /// Default headers (`Host`, `User-Agent`, `Accept`, `Connection`) not
    /// to send at all, by name (curl's `-H 'Name:'`).
    pub omit: Vec<String>,
}

/// The `Authorization` value for HTTP Basic (RFC 7617 §2): `Basic ` and
/// the base64 of `user:password` (bytes as given: curl sends what the
/// URL or `-u` decodes to, UTF-8 or not).
pub fn basic_auth(user: &[u8], password: &[u8]) -> String {
    let mut pair = user.to_vec();
    pair.push(b':');
    pair.extend_from_slice(password);
    format!("Basic {}", base64(&pair))
}

/// RFC 4648 §4 base64 with padding.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sextet = |v: u32, shift: u32| {
        char::from(
            ALPHABET
                .get(((v >> shift) & 63) as usize)
                .copied()
                .unwrap_or(b'A'),
        )
    };
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let v = (b(0) << 16) | (b(1) << 8) | b(2);
        out.push(sextet(v, 18));
        out.push(sextet(v, 12));
        out.push(if chunk.len() > 1 { sextet(v, 6) } else { '=' });
        out.push(if chunk.len() > 2 { sextet(v, 0) } else { '=' });
    }
    out
}

/// RFC 9110 §5.6.2 token characters.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl Request {
    /// A GET for `url`.
    pub fn get(url: Url) -> Request {
        Request {
            method: "GET".into(),
            url,
            headers: Vec::new(),
            body: None,
            omit: Vec::new(),
        }
    }

    /// A request with `method` for `url`.
    pub fn new(method: impl Into<String>, url: Url) -> Request {
        Request {
            method: method.into(),
            url,
            headers: Vec::new(),
            body: None,
            omit: Vec::new(),
        }
    }

    /// Builds the head: the request line, `Host`, `User-Agent`, `Accept`,
    /// `Connection: close` (unless `keep_alive`), user headers,
    /// `Content-Length: body_len` when there is a body, then the blank line.
    ///
    /// # Errors
    /// [`Error::InvalidHeader`] for a bad method, header name or value
    /// (CR/LF would allow request splitting).
    pub fn head_bytes(
        &self,
        user_agent: &str,
        keep_alive: bool,
        body_len: Option<u64>,
    ) -> Result<Vec<u8>, Error> {
        if !is_token(&self.method) {
            return Err(Error::InvalidHeader(self.method.clone()));
        }
        for (n, v) in &self.headers {
            if !is_token(n) || v.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                return Err(Error::InvalidHeader(format!("{n}: {v}")));
            }
        }
        let overridden = |name: &str| {
            self.headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
                || self.omit.iter().any(|n| n.eq_ignore_ascii_case(name))
        };
        let mut head = format!("{} {} HTTP/1.1\r\n", self.method, self.url.path);
        let host = self.url.host_header();
        // The URL's userinfo, as curl sends it: Basic, after Host.
        let auth = self
            .url
            .credentials()
            .map(|(user, password)| basic_auth(&user, &password))
            .unwrap_or_default();
        let mut defaults = vec![("Host", host.as_str())];
        if !auth.is_empty() {
            defaults.push(("Authorization", auth.as_str()));
        }
        defaults.extend([("User-Agent", user_agent), ("Accept", "*/*")]);
        if !keep_alive {
            defaults.push(("Connection", "close"));
        }
        for (n, v) in defaults {
            if !overridden(n) {
                head.push_str(&format!("{n}: {v}\r\n"));
            }
        }
        // RFC 9112 §6.2: a body is framed by Content-Length; we never send
        // a chunked request, so with a body a user-given length or transfer
        // coding is replaced by the real length rather than risking a
        // desynchronised connection.
        let framing = |n: &str| {
            n.eq_ignore_ascii_case("Content-Length") || n.eq_ignore_ascii_case("Transfer-Encoding")
        };
        for (n, v) in &self.headers {
            if body_len.is_none() || !framing(n) {
                head.push_str(&format!("{n}: {v}\r\n"));
            }
        }
        if let Some(len) = body_len {
            head.push_str(&format!("Content-Length: {len}\r\n"));
        }
        head.push_str("\r\n");
        Ok(head.into_bytes())
    }

    /// Writes the head and the body. A small in-memory body goes out with
    /// the head in one `write_all` (one TCP segment for a small request); a
    /// file body is streamed in 64 KiB pieces, so memory use does not grow
    /// with the upload.
    ///
    /// # Errors
    /// As [`head_bytes`](Self::head_bytes), the file's error, an
    /// `UnexpectedEof` if the file shrank while being sent, or the
    /// transport's error.
    pub fn write_to(
        &self,
        w: &mut impl Write,
        user_agent: &str,
        keep_alive: bool,
    ) -> Result<(), Error> {
        match &self.body {
            None => {
                w.write_all(&self.head_bytes(user_agent, keep_alive, None)?)?;
            }
            Some(RequestBody::Bytes(b)) => {
                let len = u64::try_from(b.len()).unwrap_or(u64::MAX);
                let mut bytes = self.head_bytes(user_agent, keep_alive, Some(len))?;
                bytes.extend_from_slice(b);
                w.write_all(&bytes)?;
            }
            Some(RequestBody::File(path)) => {
                let mut file = File::open(path)?;
                let len = file.metadata()?.len();
                w.write_all(&self.head_bytes(user_agent, keep_alive, Some(len))?)?;
                // Exactly `len` bytes, whatever the file does meanwhile: the
                // Content-Length already went out.
                let mut buf = vec![0u8; FILE_CHUNK];
                let mut left = len;
                while left > 0 {
                    let want = usize::try_from(left).unwrap_or(FILE_CHUNK).min(FILE_CHUNK);
                    let n = match file.read(&mut buf[..want]) {
                        Ok(0) => {
                            return Err(Error::Io(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                format!("{} shrank while being sent", path.display()),
                            )))
                        }
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(Error::Io(e)),
                    };
                    w.write_all(&buf[..n])?;
                    left -= n as u64;
                }
            }
        }
        w.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_head_is_exactly_the_classic_request() {
        let r = Request::get(Url::parse("http://10.0.0.1/index.html").unwrap());
        let head = r.head_bytes("tunstack/0.1.0", false, None).unwrap();
        assert_eq!(
            String::from_utf8(head).unwrap(),
            "GET /index.html HTTP/1.1\r\nHost: 10.0.0.1\r\nUser-Agent: tunstack/0.1.0\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn port_custom_headers_and_body() {
        let mut r = Request::get(Url::parse("http://h:8080/p?q=1").unwrap());
        r.method = "POST".into();
        r.headers.push(("accept".into(), "text/html".into()));
        r.headers.push(("X-Test".into(), "1".into()));
        r.body = Some(b"abc".to_vec().into());
        let head = String::from_utf8(r.head_bytes("ua", true, Some(3)).unwrap()).unwrap();
        assert_eq!(
            head,
            "POST /p?q=1 HTTP/1.1\r\nHost: h:8080\r\nUser-Agent: ua\r\naccept: text/html\r\nX-Test: 1\r\nContent-Length: 3\r\n\r\n"
        );
    }

    #[test]
    fn request_bytes_are_exact_for_each_method() {
        for (method, body) in [
            ("GET", None),
            ("HEAD", None),
            ("DELETE", None),
            ("POST", Some("a=1&b=2")),
            ("PUT", Some("{}")),
        ] {
            let mut r = Request::new(method, Url::parse("http://h/x").unwrap());
            r.body = body.map(|b| b.as_bytes().into());
            let mut out = Vec::new();
            r.write_to(&mut out, "ua", true).unwrap();
            let expected = match body {
                None => format!("{method} /x HTTP/1.1\r\nHost: h\r\nUser-Agent: ua\r\nAccept: */*\r\n\r\n"),
                Some(b) => format!(
                    "{method} /x HTTP/1.1\r\nHost: h\r\nUser-Agent: ua\r\nAccept: */*\r\nContent-Length: {}\r\n\r\n{b}",
                    b.len()
                ),
            };
            assert_eq!(String::from_utf8(out).unwrap(), expected, "{method}");
        }
    }

    #[test]
    fn file_body_is_streamed_with_its_length_and_replaces_user_framing() {
        let path = std::env::temp_dir().join(format!("tunstack-body-{}", std::process::id()));
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let mut r = Request::new("PUT", Url::parse("http://h/up").unwrap());
        r.headers.push(("Content-Length".into(), "5".into()));
        r.headers
            .push(("Transfer-Encoding".into(), "chunked".into()));
        r.body = Some(RequestBody::File(path.clone()));
        // A writer that takes at most 1000 bytes per call, like a socket.
        struct Trickle(Vec<u8>, usize);
        impl Write for Trickle {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                let n = b.len().min(1000);
                self.0.extend_from_slice(&b[..n]);
                self.1 += 1;
                Ok(n)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut w = Trickle(Vec::new(), 0);
        r.write_to(&mut w, "ua", false).unwrap();
        let _ = std::fs::remove_file(&path);
        let head = "PUT /up HTTP/1.1\r\nHost: h\r\nUser-Agent: ua\r\nAccept: */*\r\nConnection: close\r\nContent-Length: 200000\r\n\r\n";
        assert_eq!(&w.0[..head.len()], head.as_bytes());
        assert_eq!(&w.0[head.len()..], &data[..]);
    }

    #[test]
    fn missing_file_body_is_an_io_error() {
        let mut r = Request::new("POST", Url::parse("http://h/").unwrap());
        r.body = Some(RequestBody::File("/nonexistent/tunstack-upload".into()));
        let mut out = Vec::new();
        assert!(matches!(
            r.write_to(&mut out, "ua", false),
            Err(Error::Io(_))
        ));
        assert!(out.is_empty(), "nothing sent before the file is open");
    }

    #[test]
    fn header_injection_is_rejected() {
        let mut r = Request::get(Url::parse("http://h/").unwrap());
        r.headers.push(("X".into(), "a\r\nEvil: 1".into()));
        assert!(matches!(
            r.head_bytes("ua", false, None),
            Err(Error::InvalidHeader(_))
        ));
        let mut r = Request::get(Url::parse("http://h/").unwrap());
        r.headers.push(("Bad Name".into(), "v".into()));
        assert!(matches!(
            r.head_bytes("ua", false, None),
            Err(Error::InvalidHeader(_))
        ));
        let mut r = Request::get(Url::parse("http://h/").unwrap());
        r.method = "GE T".into();
        assert!(matches!(
            r.head_bytes("ua", false, None),
            Err(Error::InvalidHeader(_))
        ));
    }
}
