//! Request heads (RFC 9112 §3): request line, headers, blank line.

use super::{Error, Url};
use std::io::Write;

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
    pub body: Option<Vec<u8>>,
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
        }
    }

    /// Builds the head: the request line, `Host`, `User-Agent`, `Accept`,
    /// `Connection: close` (unless `keep_alive`), user headers,
    /// `Content-Length` for a body, then the blank line.
    ///
    /// # Errors
    /// [`Error::InvalidHeader`] for a bad method, header name or value
    /// (CR/LF would allow request splitting).
    pub fn head_bytes(&self, user_agent: &str, keep_alive: bool) -> Result<Vec<u8>, Error> {
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
        };
        let mut head = format!("{} {} HTTP/1.1\r\n", self.method, self.url.path);
        let host = self.url.host_header();
        let mut defaults = vec![
            ("Host", host.as_str()),
            ("User-Agent", user_agent),
            ("Accept", "*/*"),
        ];
        if !keep_alive {
            defaults.push(("Connection", "close"));
        }
        for (n, v) in defaults {
            if !overridden(n) {
                head.push_str(&format!("{n}: {v}\r\n"));
            }
        }
        for (n, v) in &self.headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        if let Some(b) = &self.body {
            if !overridden("Content-Length") {
                head.push_str(&format!("Content-Length: {}\r\n", b.len()));
            }
        }
        head.push_str("\r\n");
        Ok(head.into_bytes())
    }

    /// Writes head and body with one `write_all` each, so a small request
    /// leaves in one TCP segment.
    ///
    /// # Errors
    /// As [`head_bytes`](Self::head_bytes), or the transport's error.
    pub fn write_to(
        &self,
        w: &mut impl Write,
        user_agent: &str,
        keep_alive: bool,
    ) -> Result<(), Error> {
        let mut bytes = self.head_bytes(user_agent, keep_alive)?;
        if let Some(b) = &self.body {
            bytes.extend_from_slice(b);
        }
        w.write_all(&bytes)?;
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
        let head = r.head_bytes("tunstack/0.1.0", false).unwrap();
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
        r.body = Some(b"abc".to_vec());
        let head = String::from_utf8(r.head_bytes("ua", true).unwrap()).unwrap();
        assert_eq!(
            head,
            "POST /p?q=1 HTTP/1.1\r\nHost: h:8080\r\nUser-Agent: ua\r\naccept: text/html\r\nX-Test: 1\r\nContent-Length: 3\r\n\r\n"
        );
    }

    #[test]
    fn header_injection_is_rejected() {
        let mut r = Request::get(Url::parse("http://h/").unwrap());
        r.headers.push(("X".into(), "a\r\nEvil: 1".into()));
        assert!(matches!(
            r.head_bytes("ua", false),
            Err(Error::InvalidHeader(_))
        ));
        let mut r = Request::get(Url::parse("http://h/").unwrap());
        r.headers.push(("Bad Name".into(), "v".into()));
        assert!(matches!(
            r.head_bytes("ua", false),
            Err(Error::InvalidHeader(_))
        ));
        let mut r = Request::get(Url::parse("http://h/").unwrap());
        r.method = "GE T".into();
        assert!(matches!(
            r.head_bytes("ua", false),
            Err(Error::InvalidHeader(_))
        ));
    }
}
