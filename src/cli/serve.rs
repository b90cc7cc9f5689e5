//! `tunstack serve`: the passive side without writing code — a static
//! HTTP/1.1 file server (GET/HEAD, Content-Length, keep-alive, 400/404/405,
//! no path escapes from the root) or an echo server, both single-threaded
//! and non-blocking on [`Poll`], until Ctrl-C closes every connection
//! gracefully.
//!
//! Part of the CLI layer: it uses the `net` API like any application.

use super::paths::{confined, percent_decode};
use crate::net::{Events, Interest, Poll, Stack, TcpListener, TcpStream, Token, MAX_BACKLOG};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Most bytes of request head buffered per connection.
const MAX_REQUEST_HEAD: usize = 16 * 1024;
/// Echo mode stops reading while this much output is waiting.
const MAX_PENDING_OUTPUT: usize = 1 << 20;
const LISTENER: Token = Token(0);
/// Bytes of a file body read per `read(2)`: a quarter of the send buffer
/// it starts with, so that a writer woken for a third of a full buffer
/// (`stack::events`) fills it in a few writes.
const FILE_CHUNK: usize = 64 * 1024;

/// What to serve.
#[derive(Clone, Debug)]
pub enum Mode {
    /// Static files under this directory.
    Files(PathBuf),
    /// Echo every byte back.
    Echo,
}

/// Counters printed when the server stops.
#[derive(Clone, Copy, Debug, Default)]
pub struct ServeStats {
    /// Connections accepted.
    pub connections: u64,
    /// Most connections open at once.
    pub peak_connections: usize,
    /// HTTP requests answered.
    pub requests: u64,
    /// Bytes written to clients.
    pub bytes_out: u64,
}

struct Conn {
    stream: TcpStream,
    input: Vec<u8>,
    output: Vec<u8>,
    /// Written prefix of `output`.
    sent: usize,
    /// A file body still to stream after `output`.
    file: Option<(File, u64)>,
    /// Close once everything queued is written.
    close_after: bool,
    /// The peer sent FIN.
    peer_done: bool,
}

/// Set by SIGINT/SIGTERM.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Makes SIGINT (Ctrl-C) and SIGTERM stop [`run`] gracefully. Called by
/// the CLI only; a library user passes its own stop flag instead.
pub fn install_signal_handlers() {
    let handler = on_signal as extern "C" fn(libc::c_int);
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, handler as *const () as libc::sighandler_t);
    }
}

/// Serves on `port` until `stop` is set (or, after
/// [`install_signal_handlers`], SIGINT/SIGTERM arrives); then closes
/// every connection gracefully.
///
/// # Errors
/// Binding the port failed.
pub fn run(
    stack: &Stack,
    port: u16,
    mode: &Mode,
    stop: Option<&AtomicBool>,
) -> io::Result<ServeStats> {
    // As nginx asks for a deep backlog (511), so a burst of clients
    // waits in the queue instead of retrying SYNs after a second. `[::]`:
    // both families, as a Linux socket with IPV6_V6ONLY off.
    let any = (std::net::Ipv6Addr::UNSPECIFIED, port);
    let listener = TcpListener::bind_with_backlog(stack, any, MAX_BACKLOG)?;
    run_listener(stack, listener, mode, stop)
}

/// Like [`run`] on a listener the caller bound already, so clients may
/// start the moment `bind` returns.
///
/// # Errors
/// Registering the listener failed.
pub fn run_listener(
    stack: &Stack,
    listener: TcpListener,
    mode: &Mode,
    stop: Option<&AtomicBool>,
) -> io::Result<ServeStats> {
    listener.set_nonblocking(true)?;
    let poll = Poll::new(stack);
    poll.register(&listener, LISTENER, Interest::READABLE)?;
    let mut conns: HashMap<Token, Conn> = HashMap::new();
    let mut next = 1usize;
    let mut events = Events::with_capacity(1024);
    let mut stats = ServeStats::default();
    let stopping = || STOP.load(Ordering::SeqCst) || stop.is_some_and(|s| s.load(Ordering::SeqCst));
    while !stopping() {
        poll.poll(&mut events, Some(Duration::from_millis(200)))?;
        for ev in &events {
            if ev.token() == LISTENER {
                accept_all(&listener, &poll, &mut conns, &mut next, &mut stats)?;
                continue;
            }
            let token = ev.token();
            let Some(c) = conns.get_mut(&token) else {
                continue;
            };
            let keep = service(c, mode, &mut stats);
            if !keep {
                let _ = poll.deregister(token);
                conns.remove(&token);
            }
        }
    }
    log::info!("stopping: closing {} connections", conns.len());
    drop(conns);
    Ok(stats)
}

fn accept_all(
    listener: &TcpListener,
    poll: &Poll,
    conns: &mut HashMap<Token, Conn>,
    next: &mut usize,
    stats: &mut ServeStats,
) -> io::Result<()> {
    loop {
        match listener.accept() {
            Ok((stream, peer)) => {
                stream.set_nonblocking(true)?;
                // Responses are written whole; don't let Nagle hold their tails.
                stream.set_nodelay(true)?;
                let token = Token(*next);
                *next += 1;
                poll.register(&stream, token, Interest::READABLE | Interest::WRITABLE)?;
                log::debug!("accepted {peer}");
                conns.insert(
                    token,
                    Conn {
                        stream,
                        input: Vec::new(),
                        output: Vec::new(),
                        sent: 0,
                        file: None,
                        close_after: false,
                        peer_done: false,
                    },
                );
                stats.connections += 1;
                stats.peak_connections = stats.peak_connections.max(conns.len());
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// Result of writing out what is queued.
enum Flush {
    /// Everything queued (and any file body) is written.
    Done,
    /// The send buffer is full: wait for a writable event.
    Blocked,
    /// The connection failed.
    Failed,
}

/// Reads and writes what the connection allows; false when it is done.
fn service(c: &mut Conn, mode: &Mode, stats: &mut ServeStats) -> bool {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let mut progressed = false;
        // Read until WouldBlock (mio's draining contract), with
        // back-pressure while output or a file body is pending.
        while !c.peer_done
            && !c.close_after
            && c.file.is_none()
            && c.output.len() - c.sent < MAX_PENDING_OUTPUT
        {
            match (&c.stream).read(&mut buf) {
                Ok(0) => {
                    c.peer_done = true;
                    progressed = true;
                }
                Ok(n) => {
                    progressed = true;
                    match mode {
                        Mode::Echo => c.output.extend_from_slice(&buf[..n]),
                        Mode::Files(_) => c.input.extend_from_slice(&buf[..n]),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => return false,
            }
            if let Mode::Files(root) = mode {
                if !handle_requests(c, root, stats) {
                    break;
                }
            }
        }
        if let Mode::Files(root) = mode {
            // Pipelined requests left over after a file body finished.
            if c.file.is_none() && !c.close_after && !c.input.is_empty() {
                let before = c.input.len();
                handle_requests(c, root, stats);
                progressed |= c.input.len() != before;
            }
        }
        match flush(c, stats) {
            Flush::Failed => return false,
            Flush::Blocked => return true,
            Flush::Done => {}
        }
        if c.close_after || (c.peer_done && c.input.is_empty()) {
            // Everything answered: FIN (dropping the stream closes gracefully).
            let _ = c.stream.shutdown(std::net::Shutdown::Write);
            return false;
        }
        if !progressed {
            return true;
        }
    }
}

/// Writes queued output and file data until done or WouldBlock.
fn flush(c: &mut Conn, stats: &mut ServeStats) -> Flush {
    loop {
        if c.sent == c.output.len() {
            c.output.clear();
            c.sent = 0;
            let Some((file, left)) = c.file.as_mut() else {
                return Flush::Done;
            };
            if *left == 0 {
                c.file = None;
                return Flush::Done;
            }
            // The next chunk of the body, read into `output`'s own
            // storage: no allocation, no zero-fill, no page faults per
            // chunk (a fresh 64 KiB buffer each time cost all three).
            let want = (*left).min(FILE_CHUNK as u64);
            c.output.reserve(want as usize);
            match Read::take(&mut *file, want).read_to_end(&mut c.output) {
                Ok(0) | Err(_) => return Flush::Failed,
                Ok(n) => *left -= n as u64,
            }
        }
        match (&c.stream).write(&c.output[c.sent..]) {
            Ok(n) => {
                c.sent += n;
                stats.bytes_out += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Flush::Blocked,
            Err(_) => return Flush::Failed,
        }
    }
}

/// Answers every complete request in `c.input`; false if the connection
/// must stop reading (closing, or a body is streaming).
fn handle_requests(c: &mut Conn, root: &Path, stats: &mut ServeStats) -> bool {
    loop {
        if c.file.is_some() || c.close_after {
            return false;
        }
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        let used = match req.parse(&c.input) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => {
                if c.input.len() > MAX_REQUEST_HEAD {
                    respond_error(c, 431, "Request Header Fields Too Large");
                    return false;
                }
                return true;
            }
            Err(_) => {
                respond_error(c, 400, "Bad Request");
                return false;
            }
        };
        stats.requests += 1;
        let method = req.method.unwrap_or("").to_string();
        let path = req.path.unwrap_or("/").to_string();
        let minor = req.version.unwrap_or(1);
        let connection = req
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("connection"))
            .map(|h| String::from_utf8_lossy(h.value).to_ascii_lowercase());
        let keep_alive = match connection.as_deref() {
            Some(v) if v.contains("close") => false,
            Some(v) if v.contains("keep-alive") => true,
            _ => minor >= 1,
        };
        let has_body = req.headers.iter().any(|h| {
            (h.name.eq_ignore_ascii_case("content-length") && h.value != b"0")
                || h.name.eq_ignore_ascii_case("transfer-encoding")
        });
        c.input.drain(..used);
        if has_body {
            // GET/HEAD with a body are not supported: answer and close.
            respond_error(c, 400, "Bad Request");
            return false;
        }
        match method.as_str() {
            "GET" | "HEAD" => serve_path(c, root, &path, method == "HEAD", keep_alive),
            _ => {
                respond_error(c, 405, "Method Not Allowed");
                return false;
            }
        }
        if !keep_alive {
            c.close_after = true;
        }
    }
}

fn respond_error(c: &mut Conn, code: u16, reason: &str) {
    let body = format!("{code} {reason}\n");
    let allow = if code == 405 {
        "Allow: GET, HEAD\r\n"
    } else {
        ""
    };
    c.output.extend_from_slice(
        format!(
            "HTTP/1.1 {code} {reason}\r\nServer: tunstack\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{allow}Connection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    c.close_after = true;
}

/// Maps a request target to a file under `root`, refusing anything that
/// could leave it (`..`, NUL, bad percent-encoding).
pub fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next().unwrap_or("/");
    if !path.starts_with('/') {
        return None;
    }
    let mut out = confined(root, &percent_decode(path)?)?;
    if out.is_dir() {
        out.push("index.html");
    }
    Some(out)
}

fn content_type(p: &Path) -> &'static str {
    match p
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("css") => "text/css",
        Some("js") => "text/javascript",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("svg") => "image/svg+xml",
        Some("txt") => "text/plain; charset=utf-8",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

fn serve_path(c: &mut Conn, root: &Path, target: &str, head_only: bool, keep_alive: bool) {
    let Some(path) = resolve(root, target) else {
        respond_error(c, 400, "Bad Request");
        return;
    };
    let file = File::open(&path).ok().and_then(|f| {
        let len = f.metadata().ok().filter(|m| m.is_file())?.len();
        Some((f, len))
    });
    let Some((file, len)) = file else {
        let body = "404 Not Found\n";
        let conn = if keep_alive { "keep-alive" } else { "close" };
        c.output.extend_from_slice(
            format!(
                "HTTP/1.1 404 Not Found\r\nServer: tunstack\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: {conn}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        );
        if !head_only {
            c.output.extend_from_slice(body.as_bytes());
        }
        return;
    };
    let conn = if keep_alive { "keep-alive" } else { "close" };
    c.output.extend_from_slice(
        format!(
            "HTTP/1.1 200 OK\r\nServer: tunstack\r\nContent-Type: {}\r\nContent-Length: {len}\r\nConnection: {conn}\r\n\r\n",
            content_type(&path)
        )
        .as_bytes(),
    );
    if head_only {
        return;
    }
    if len <= 64 * 1024 {
        // Small bodies go out with the head in one write: one segment, and
        // no head/body split for Nagle to hold against a delayed ACK.
        let mut file = file;
        let before = c.output.len();
        if file.read_to_end(&mut c.output).is_err() || (c.output.len() - before) as u64 != len {
            c.output.truncate(before);
            c.close_after = true;
        }
        return;
    }
    c.file = Some((file, len));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_never_leave_the_root() {
        let root = Path::new("/srv/www");
        assert_eq!(
            resolve(root, "/a/b.txt"),
            Some(PathBuf::from("/srv/www/a/b.txt"))
        );
        assert_eq!(
            resolve(root, "/a%20b.txt?x=1"),
            Some(PathBuf::from("/srv/www/a b.txt"))
        );
        for bad in [
            "/../etc/passwd",
            "/a/../../x",
            "/%2e%2e/etc/passwd",
            "relative",
            "/a%00b",
            "/%zz",
            "/%2",
        ] {
            assert_eq!(resolve(root, bad), None, "{bad}");
        }
        assert_eq!(resolve(root, "/./a"), Some(PathBuf::from("/srv/www/a")));
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(
            content_type(Path::new("x.HTML")),
            "text/html; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("x.bin")), "application/octet-stream");
    }
}
