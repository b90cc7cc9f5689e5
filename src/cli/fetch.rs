//! Steps 3–5 of one fetch, shared by a single `get` and by every object
//! of a page load ([`super::page`]): send the request (following
//! redirects), print the head under `-v`, copy the body out with a
//! progress bar, then recycle or close the connection and say why.

use super::connector::{StackConnector, Traced};
use super::exit::{self, Stage};
use super::writeout::Shared;
use super::{failure, Failure};
use crate::http::{self, BodyMode, Client, Request, Response};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{self, Read, Write};
use std::time::Duration;

/// Downloads bigger than this get a progress bar (on a terminal).
const PROGRESS_THRESHOLD: u64 = 1024 * 1024;

/// How `fetch` presents one response.
pub(super) struct Options {
    pub verbose: bool,
    pub progress: bool,
    /// `-I`: the head is the output.
    pub head_to_output: bool,
    /// `--compressed`: decode gzip/deflate bodies.
    pub decode: bool,
    /// `-L`: follow up to this many redirects.
    pub follow: Option<usize>,
    /// `-f` / `--fail-with-body`.
    pub fail: Fail,
    /// `-i`: the response heads go to the output before the body.
    pub include: bool,
    /// Records status, final URL, heads and size for `-w` and `-D`.
    pub observed: Option<Shared>,
    /// `-C`: a Range was asked for to resume a partial file; only a 206
    /// may be appended to it.
    pub resume: bool,
}

/// What a status >= 400 does (curl's `-f` and `--fail-with-body`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fail {
    /// Write the body, exit 0.
    Never,
    /// Write no body, exit 22.
    NoBody,
    /// Write the body, exit 22.
    WithBody,
}

/// What a fetch produced.
pub(super) struct Fetched {
    pub status: u16,
    pub reason: String,
    /// Body bytes written out (after decoding).
    pub bytes: u64,
    /// The connection's final snapshot (`--stats`).
    pub info: Option<crate::net::TcpInfo>,
    pub series: Vec<(Duration, crate::net::TcpInfo)>,
    /// A failure found after the status (e.g. a missing page object).
    pub problem: Option<String>,
}

/// The client `get` uses; every thread of a parallel page load has its
/// own (its own kept-alive connection) over the one shared connector.
pub(super) type StackClient<'a> = Client<&'a StackConnector<'a>>;

/// Sends `req` and reads the head; `-v` shows each redirect followed.
/// With `observed`, records each head and the final URL.
pub(super) fn send(
    client: &StackClient<'_>,
    req: Request,
    verbose: bool,
    follow: Option<usize>,
    observed: Option<&Shared>,
) -> Result<Response<Traced>, Failure> {
    // `%{url_effective}` shows the userinfo as given (as curl does);
    // messages never do.
    let url = req.url.to_string();
    let shown = req.url.redacted();
    if verbose {
        if let Some(user) = basic_user(&req) {
            eprintln!("* Server auth using Basic with user '{user}'");
        }
    }
    let record = |f: &dyn Fn(&mut super::writeout::Observed)| {
        if let Some(o) = observed {
            o.update(|o| f(o));
        }
    };
    record(&|o| o.url = url.clone());
    let resp = match follow {
        Some(max) => client.send_following_with(req, max, |head, next| {
            let next_url = next.to_string();
            record(&|o| {
                o.heads.push(head.clone());
                o.url = next_url.clone();
            });
            if verbose {
                print_head(head);
                let next = next.redacted();
                eprintln!("* Following the {} redirect to {next}", head.status);
            }
        }),
        None => client.send(req),
    };
    let resp = resp.map_err(|e| {
        if exit::is_refused(&e) {
            record(&|o| o.refused = true);
        }
        failure(exit::for_http(&e), format!("{shown}: {e}"))
    })?;
    if observed.is_some() {
        // The connection's addresses, also when it was reused (no connect
        // recorded them for this transfer). Only when asked for: each
        // takes the stack's lock, which the driver may hold for a whole
        // batch of segments while the body starts to arrive.
        let stream = resp.connection().tcp();
        let remote = stream.peer_addr().ok();
        let local_port = stream.local_addr().ok().map(|a| a.port());
        record(&|o| {
            o.status = resp.head.status;
            o.heads.push(resp.head.clone());
            o.remote = remote.or(o.remote);
            o.local_port = local_port.or(o.local_port);
        });
    }
    if verbose {
        print_head(&resp.head);
    }
    Ok(resp)
}

/// The user named by Basic credentials `req` sends, for `-v` (curl's
/// "Server auth using Basic with user"): the URL's userinfo unless a
/// header (`-u`, `-H`) replaces it, else the user in that header.
fn basic_user(req: &Request) -> Option<String> {
    let header = req
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("authorization"));
    let user = match header {
        None => req.url.credentials()?.0,
        Some((_, v)) => {
            let pair = base64_decode(v.strip_prefix("Basic ")?)?;
            let end = pair.iter().position(|&b| b == b':').unwrap_or(pair.len());
            pair.get(..end)?.to_vec()
        }
    };
    Some(String::from_utf8_lossy(&user).into_owned())
}

/// RFC 4648 §4 base64 (padding optional); None for anything else.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    };
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        acc = (acc << 6) | value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn print_head(head: &http::Head) {
    use std::fmt::Write as _;
    // One write: heads received in parallel do not interleave.
    let mut text = format!(
        "< HTTP/1.{} {} {}\n",
        head.version_minor, head.status, head.reason
    );
    for (name, value) in &head.headers {
        let _ = writeln!(text, "< {name}: {}", String::from_utf8_lossy(value));
    }
    eprintln!("{text}<");
}

/// Steps 3–5 for one URL: request, response head, body into `out`, then
/// the connection goes back to the pool or is closed.
pub(super) fn fetch(
    client: &StackClient<'_>,
    req: Request,
    opts: &Options,
    out: &mut dyn Write,
) -> Result<Fetched, Failure> {
    let url = req.url.redacted();
    let mut resp = send(
        client,
        req,
        opts.verbose,
        opts.follow,
        opts.observed.as_ref(),
    )?;
    let status = resp.head.status;
    let failed = (status >= 400 && opts.fail != Fail::Never).then(|| {
        failure(
            exit::HTTP_ERROR,
            format!("{url}: the requested URL returned error: {status}"),
        )
    });
    if opts.fail == Fail::NoBody {
        if let Some(f) = failed {
            return Err(f);
        }
    }
    if opts.resume && status < 300 && status != 206 {
        return Err(failure(
            exit::RANGE_ERROR,
            format!("{url}: the server does not support byte ranges; cannot resume"),
        ));
    }
    // A resumed file that is already whole: the server says 416 and
    // the file stays as it is (curl exits 0 too).
    let mut sink = io::sink();
    let out: &mut dyn Write = if opts.resume && status == 416 {
        &mut sink
    } else {
        out
    };
    // The response has started: an -o file is created now.
    // (`write_all` would not call `write` for an empty slice.)
    let written = out.write(b"").and_then(|_empty| {
        if !(opts.head_to_output || opts.include) {
            return Ok(());
        }
        let heads = opts.observed.as_ref().map(|o| o.get().heads);
        match heads {
            Some(heads) => heads.iter().try_for_each(|h| write_head(h, out)),
            None => write_head(&resp.head, out),
        }
    });
    written.map_err(|e| failure(exit::WRITE_ERROR, format!("writing output: {e}")))?;
    let bytes = copy_body(&mut resp, opts, out).map_err(|f| Failure {
        message: format!("{url}: {}", f.message),
        ..f
    })?;
    let (status, reason) = (resp.head.status, resp.head.reason.clone());
    if let Some(o) = &opts.observed {
        o.update(|o| o.size_download = bytes);
    }
    let (info, series) = finish(client, resp, bytes, opts.verbose);
    if let Some(f) = failed {
        return Err(f);
    }
    Ok(Fetched {
        status,
        reason,
        bytes,
        info,
        series,
        problem: None,
    })
}

/// `-I`, `-i`, `-D`: the status line and headers as received.
pub(super) fn write_head(head: &http::Head, out: &mut dyn Write) -> io::Result<()> {
    write!(
        out,
        "HTTP/1.{} {} {}\r\n",
        head.version_minor, head.status, head.reason
    )?;
    for (name, value) in &head.headers {
        write!(out, "{name}: ")?;
        out.write_all(value)?;
        out.write_all(b"\r\n")?;
    }
    out.write_all(b"\r\n")
}

/// Copies the (decoded) body to `out` with a progress bar when asked;
/// returns the bytes written. A failure to read is curl's 18/56/28/61, a
/// failure to write is 23.
pub(super) fn copy_body(
    resp: &mut Response<Traced>,
    opts: &Options,
    out: &mut dyn Write,
) -> Result<u64, Failure> {
    let head = resp.head.clone();
    let total = match resp.body_mode() {
        BodyMode::Length(n) => Some(n),
        _ => None,
    };
    let mut reader: Box<dyn Read + '_> = if opts.decode {
        http::decoded(&head, &mut *resp).map_err(|e| failure(exit::for_http(&e), e.to_string()))?
    } else {
        Box::new(&mut *resp)
    };
    let mut progress = Progress::new(out, opts.progress, total);
    // Reads of up to 256 KiB (io::copy would take 8 KiB at a time): the
    // application drains the receive buffer in few calls, so the window
    // stays open while the sender speeds up.
    let mut buf = vec![0u8; 256 * 1024];
    let mut n = 0u64;
    loop {
        let k = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // The connection ended inside the body (chunked or
                // counted): curl's "partial file".
                let code = if e.kind() == io::ErrorKind::UnexpectedEof {
                    exit::PARTIAL_FILE
                } else {
                    exit::for_io(&e, Stage::Receive)
                };
                drop(reader);
                if opts.verbose {
                    narrate_tls_close(resp.connection());
                }
                return Err(failure(code, format!("reading body: {e}")));
            }
        };
        progress
            .write_all(buf.get(..k).unwrap_or(&buf))
            .map_err(|e| failure(exit::WRITE_ERROR, format!("writing output: {e}")))?;
        n += k as u64;
    }
    progress.finish();
    Ok(n)
}

/// `-v`: how a TLS server ended its side, once it has.
fn narrate_tls_close(conn: &Traced) {
    match conn.inner.peer_close() {
        Some(http::PeerClose::Notified) => eprintln!("* TLS: the server sent close_notify"),
        Some(http::PeerClose::Truncated) => eprintln!(
            "* TLS: the server closed without close_notify (only the body's framing says it is whole)"
        ),
        None => {}
    }
}

/// Step 5, narrated: body framing, then reuse or close.
pub(super) fn finish(
    client: &StackClient<'_>,
    resp: Response<Traced>,
    written: u64,
    verbose: bool,
) -> (
    Option<crate::net::TcpInfo>,
    Vec<(Duration, crate::net::TcpInfo)>,
) {
    let info = resp.connection().tcp().info().ok();
    let requests = resp.connection().requests;
    let id = resp.connection().id;
    if verbose {
        let wire = resp.body_received();
        let decoded = if wire == written {
            String::new()
        } else {
            format!(", {written} bytes decoded")
        };
        eprintln!(
            "* Body: {wire} bytes framed by {}{decoded}",
            resp.body_mode()
        );
        narrate_tls_close(resp.connection());
    }
    let why_close = close_reason(&resp);
    let series = resp.connection().samples.as_ref().map(|s| s.rows.clone());
    let kept = client.recycle(resp);
    if verbose {
        let nth = if requests > 1 {
            format!(" (it carried {requests} requests)")
        } else {
            String::new()
        };
        if kept {
            eprintln!("* Connection #{id} kept alive for the next request{nth}");
        } else {
            eprintln!("* Closing connection #{id}{nth}: {why_close}");
        }
    }
    (info, series.unwrap_or_default())
}

/// Why a connection cannot carry another request (RFC 9112 §9.3, §9.6).
fn close_reason(resp: &Response<Traced>) -> &'static str {
    let conn = resp
        .header("connection")
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if conn.split(',').any(|t| t.trim() == "close") {
        "the server said Connection: close"
    } else if resp.body_mode() == BodyMode::CloseDelimited {
        "the body ended with the connection"
    } else if resp.head.version_minor == 0 && !conn.contains("keep-alive") {
        "HTTP/1.0 without keep-alive"
    } else if !resp.allows_reuse() {
        "we sent Connection: close"
    } else {
        "the pool is full"
    }
}

/// A writer that draws a progress bar on stderr for big downloads.
struct Progress<'a> {
    inner: &'a mut dyn Write,
    enabled: bool,
    total: Option<u64>,
    written: u64,
    bar: Option<ProgressBar>,
}

impl<'a> Progress<'a> {
    fn new(inner: &'a mut dyn Write, enabled: bool, total: Option<u64>) -> Progress<'a> {
        let mut p = Progress {
            inner,
            enabled,
            total,
            written: 0,
            bar: None,
        };
        if total.is_some_and(|t| t > PROGRESS_THRESHOLD) {
            p.start();
        }
        p
    }

    fn start(&mut self) {
        if !self.enabled || self.bar.is_some() {
            return;
        }
        let bar = match self.total {
            Some(t) => ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::stderr())
                .with_style(
                    ProgressStyle::with_template(
                        "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                ),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
                ProgressStyle::with_template("{spinner} {bytes} {bytes_per_sec}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.set_position(self.written);
        self.bar = Some(bar);
    }

    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl Write for Progress<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        if self.written > PROGRESS_THRESHOLD {
            self.start();
        }
        if let Some(b) = &self.bar {
            b.set_position(self.written);
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{basic_auth, Url};

    #[test]
    fn the_verbose_user_comes_from_the_header_or_the_url() {
        let url = |s: &str| Url::parse(s).unwrap();
        let mut req = Request::get(url("http://us%40er:pw@h/"));
        assert_eq!(basic_user(&req).as_deref(), Some("us@er"));
        // -u replaces the URL's credentials, and names its own user.
        req.headers
            .push(("Authorization".into(), basic_auth(b"x", b"y:z")));
        assert_eq!(basic_user(&req).as_deref(), Some("x"));
        assert_eq!(basic_user(&Request::get(url("http://h/"))), None);
        let bearer = Request {
            headers: vec![("Authorization".into(), "Bearer t".into())],
            ..Request::get(url("http://h/"))
        };
        assert_eq!(basic_user(&bearer), None);
    }

    #[test]
    fn base64_decodes_what_basic_auth_encodes() {
        for pair in [
            &b""[..],
            b"a",
            b"ab",
            b"abc",
            b"user:pa:ss",
            &[0xff, 0, 0x80],
        ] {
            let header = basic_auth(pair, b"");
            let decoded = base64_decode(header.strip_prefix("Basic ").unwrap()).unwrap();
            assert_eq!(decoded, [pair, &b":"[..]].concat());
        }
        assert_eq!(base64_decode("a*b"), None);
    }
}
