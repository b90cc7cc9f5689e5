//! Steps 1 and 2 of a page load for `tunstack get`: resolve the name
//! (--resolve, cache, hosts file, then DNS over tunstack's own UDP, and
//! TCP for truncated answers; AAAA and A) and open the TCP connection with
//! Happy Eyeballs (IPv6 first, IPv4 250 ms behind; `-4`/`-6` restrict it),
//! with the connect, read and overall timeouts.
//! Resolution and the handshake are the library's
//! [`StackConnector`](crate::connector::StackConnector); this module adds
//! what only the CLI needs: `-v` narration, connection numbers, timeouts
//! from the command line and `--stats` sampling.
//!
//! The HTTP layer never reads the clock (docs/architecture.md), so every
//! timeout lives here: [`Deadlines`] bounds each connect, and
//! [`Traced`] re-arms the socket's read/write timeout before each call so
//! that neither an idle peer (`--read-timeout`) nor a trickling one
//! (`--max-time`) can hold the CLI past its limits.

use super::exit::{staged, Stage};
use super::writeout::Shared;
use crate::connector::Note;
use crate::connector::DNS_TIMEOUT;
use crate::connector::{close_tls, drain_time, TlsEnd, DRAIN_BYTES};
use crate::dns::ResolveError;
use crate::http::{Connect, MaybeTls};
use crate::net::{TcpInfo, TcpStream};
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// `--max-time`'s deadline, shared by the connector and every connection
/// it opened, and moved for each transfer (kept-alive connections carry
/// several transfers, each with its own limit).
#[derive(Clone, Debug, Default)]
pub(super) struct Overall(Arc<Mutex<Option<Instant>>>);

impl Overall {
    pub fn get(&self) -> Option<Instant> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn set(&self, end: Option<Instant>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = end;
    }
}

/// How long `get` may wait, as given on the command line.
#[derive(Clone, Debug)]
pub(super) struct Deadlines {
    /// `--connect-timeout`: per TCP handshake.
    pub connect: Duration,
    /// `--read-timeout`: longest wait for the next byte.
    pub read: Option<Duration>,
    /// `--max-time`: the whole operation ends by then.
    pub overall: Overall,
}

impl Deadlines {
    /// `limit` capped by the time left before the overall deadline; a
    /// `TimedOut` error once it has passed.
    fn cap(&self, limit: Option<Duration>) -> io::Result<Option<Duration>> {
        let Some(end) = self.overall.get() else {
            return Ok(limit);
        };
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "operation timed out (--max-time)",
            ));
        }
        Ok(Some(limit.map_or(left, |l| l.min(left))))
    }
}

/// Resolves names and opens TCP connections through the library's
/// [`crate::connector::StackConnector`], narrating both under `-v` and
/// numbering the connections for the page waterfall. It is shared by the
/// threads of a parallel page load (`Connect` is implemented for
/// `&StackConnector`), so its counter is an atomic.
pub(super) struct StackConnector<'a> {
    pub base: crate::connector::StackConnector<'a>,
    pub deadlines: Deadlines,
    pub verbose: bool,
    /// Sample buffer fill and windows while reading (`--stats`).
    pub sample: bool,
    /// Numbers the connections opened (1, 2, …) for the page waterfall.
    pub opened: AtomicU64,
    /// Times and addresses for `-w`.
    pub observed: Shared,
}

impl StackConnector<'_> {
    /// Step 3 for https: the TLS handshake within the connect deadline,
    /// narrated under `-v` as curl does.
    fn secure(
        &self,
        host: &str,
        tcp: TcpStream,
    ) -> io::Result<crate::http::tls::TlsStream<TcpStream>> {
        let limit = self
            .deadlines
            .cap(Some(self.deadlines.connect))?
            .unwrap_or(self.deadlines.connect);
        tcp.set_read_timeout(Some(limit))?;
        tcp.set_write_timeout(Some(limit))?;
        if self.verbose {
            eprintln!("* TLS handshake with {host} (SNI {host}, ALPN offers http/1.1)");
        }
        let result = self.base.secure(host, tcp);
        match &result {
            Ok(t) if self.verbose => eprint!("{}", super::tls::narrate(host, t.info())),
            Err(e) if self.verbose => eprintln!("* TLS handshake failed: {e}"),
            _ => {}
        }
        result
    }

    /// Steps 1 and 2 together (RFC 8305 §3) within the DNS and connect
    /// deadlines, narrated under `-v`; for `-w`, the name lookup ends when
    /// connecting begins. Returns the stream and when connecting started.
    fn open(&self, host: &str, port: u16) -> io::Result<(TcpStream, Instant)> {
        let dns_timeout = self
            .deadlines
            .cap(Some(DNS_TIMEOUT))
            .map_err(|e| staged(Stage::Resolve, e))?
            .unwrap_or(DNS_TIMEOUT);
        let timeout = self
            .deadlines
            .cap(Some(self.deadlines.connect))
            .map_err(|e| staged(Stage::Connect, e))?
            .unwrap_or(self.deadlines.connect);
        let started = Instant::now();
        let verbose = self.verbose;
        let observed = &self.observed;
        let mut connecting = false;
        let s = self
            .base
            .connect_host(host, port, Some(dns_timeout), Some(timeout), &mut |note| {
                if matches!(note, Note::Release { .. }) && !connecting {
                    connecting = true;
                    observed.update(|o| o.namelookup = Some(Instant::now()));
                }
                if verbose {
                    eprintln!("* {note}");
                }
            })
            .map_err(|e| {
                // A host with no address fails at step 1 (curl's 6).
                let resolving = e.get_ref().is_some_and(|i| i.is::<ResolveError>());
                staged(
                    if resolving {
                        Stage::Resolve
                    } else {
                        Stage::Connect
                    },
                    e,
                )
            })?;
        Ok((s, started))
    }
}

/// `-v`'s lines for connection `id` to `addr`, opened since `started`:
/// the addresses, the time, and the ISN exchange.
fn narrate_connected(s: &TcpStream, addr: SocketAddr, id: u64, started: Instant) {
    // One write per block: the lines of connections opened in parallel do
    // not interleave.
    let local = s
        .local_addr()
        .map_or_else(|_| "?".to_string(), |a| a.to_string());
    let mut text = format!(
        "* Connected to {addr} from {local} in {:.3} ms (connection #{id})\n",
        started.elapsed().as_secs_f64() * 1e3
    );
    if let Ok(i) = s.info() {
        // RFC 9293 §3.5: the ISN exchange, in the classic notation.
        let _ = write!(
            text,
            "*   SYN      seq=X            (our ISN X = {})\n\
             *   SYN-ACK  seq=Y ack=X+1    (the peer's ISN Y = {})\n\
             *   ACK      ack=Y+1          ({})\n\
             *   mss {} bytes, peer window {} bytes\n",
            i.iss, i.irs, i.state, i.mss, i.send_window
        );
    }
    eprint!("{text}");
}

impl Connect for &StackConnector<'_> {
    type Stream = Traced;

    fn connect(&self, host: &str, port: u16) -> io::Result<Traced> {
        self.connect_scheme("http", host, port)
    }

    /// Step 2: the three-way handshake, narrated with both ISNs; for
    /// https, step 3: the TLS handshake.
    fn connect_scheme(&self, scheme: &str, host: &str, port: u16) -> io::Result<Traced> {
        let (s, started) = self.open(host, port)?;
        let addr = s.peer_addr().map_err(|e| staged(Stage::Connect, e))?;
        let id = self.opened.fetch_add(1, Ordering::Relaxed) + 1;
        let local_port = s.local_addr().ok().map(|a| a.port());
        self.observed.update(|o| {
            o.connect = Some(Instant::now());
            o.remote = Some(addr);
            o.local_port = local_port;
            o.connects += 1;
        });
        if self.verbose {
            narrate_connected(&s, addr, id, started);
        }
        let inner = if scheme == "https" {
            let t = self.secure(host, s)?;
            self.observed
                .update(|o| o.appconnect = Some(Instant::now()));
            MaybeTls::Tls(Box::new(t))
        } else {
            MaybeTls::Plain(s)
        };
        let samples = self.sample.then(|| Samples {
            start: Instant::now(),
            last: None,
            rows: Vec::new(),
        });
        Ok(Traced {
            inner,
            id,
            first_byte: None,
            head: String::new(),
            deadlines: self.deadlines.clone(),
            verbose: self.verbose,
            head_done: false,
            reading: true,
            requests: 0,
            samples,
            observed: self.observed.clone(),
        })
    }

    /// A connection after a whole response, not to be reused: for TLS,
    /// `close_notify` traded with the server before the socket closes
    /// (see [`Traced::drain_tls`]).
    fn close_idle(&self, mut stream: Traced, peer_closes: bool) {
        stream.drain_tls(peer_closes);
    }
}

/// A connection as `get` uses it: echoes each request head to stderr
/// (`-v`) as it is sent, applies the read/overall timeouts to every call,
/// and samples buffers and windows while reading (`--stats`).
pub(super) struct Traced {
    pub inner: MaybeTls<TcpStream>,
    /// Which connection this is: 1 for the first one opened, and so on.
    pub id: u64,
    /// When the first byte of the current request's response arrived.
    pub first_byte: Option<Instant>,
    /// The request head echoed so far (`-v`), printed in one piece.
    head: String,
    deadlines: Deadlines,
    verbose: bool,
    head_done: bool,
    /// The last call was a read: the next write starts a new request.
    reading: bool,
    /// Requests sent on this connection so far.
    pub requests: u32,
    pub samples: Option<Samples>,
    observed: Shared,
}

/// Buffer fill and windows over time, bounded (oldest halves are thinned).
pub(super) struct Samples {
    start: Instant,
    last: Option<Instant>,
    pub rows: Vec<(Duration, TcpInfo)>,
}

const MAX_SAMPLES: usize = 512;

impl Traced {
    /// The TCP connection under the (optional) TLS.
    pub fn tcp(&self) -> &TcpStream {
        self.inner.get_ref()
    }

    fn sample(&mut self) {
        let Some(s) = self.samples.as_mut() else {
            return;
        };
        let now = Instant::now();
        if s.last.is_some_and(|l| now - l < Duration::from_millis(10)) {
            return;
        }
        s.last = Some(now);
        if let Ok(info) = self.inner.get_ref().info() {
            if s.rows.len() >= MAX_SAMPLES {
                // Keep every other sample: bounded memory, whole span.
                let kept: Vec<_> = s.rows.iter().step_by(2).cloned().collect();
                s.rows = kept;
            }
            s.rows.push((now - s.start, info));
        }
    }

    /// The teardown of [`close_tls`] for a TLS connection after a whole
    /// response (no reset from either side), bounded by [`drain_time`]
    /// and never past `--max-time`; narrated under `-v`.
    fn drain_tls(&mut self, peer_closes: bool) {
        let MaybeTls::Tls(tls) = &mut self.inner else {
            return;
        };
        let srtt = tls.get_ref().info().ok().and_then(|i| i.srtt);
        let Ok(Some(bound)) = self.deadlines.cap(Some(drain_time(srtt))) else {
            // --max-time has run out: close at once, without close_notify
            // (dropping the stream sends none, as curl on a cut transfer).
            return;
        };
        let started = Instant::now();
        let how = close_tls(tls, bound, peer_closes);
        if !self.verbose {
            return;
        }
        let ms = started.elapsed().as_secs_f64() * 1e3;
        let text = match how {
            TlsEnd::TheirsOnly => format!(
                "the server sent close_notify and closed; not answering a closed socket ({ms:.1} ms)"
            ),
            TlsEnd::Answered => format!("sent close_notify, had the server's ({ms:.1} ms)"),
            TlsEnd::Closed => {
                format!("sent close_notify; the server closed without one ({ms:.1} ms)")
            }
            TlsEnd::TimedOut { ours_first: true } => format!(
                "sent close_notify; no answer from the server within {:.0} ms, closing anyway",
                bound.as_secs_f64() * 1e3
            ),
            TlsEnd::TimedOut { ours_first: false } => format!(
                "the server did not close within {:.0} ms; sent close_notify, closing anyway",
                bound.as_secs_f64() * 1e3
            ),
            TlsEnd::TooMuch => {
                format!("sent close_notify; the server sent over {DRAIN_BYTES} bytes more, closing")
            }
            TlsEnd::Failed => format!("the connection failed while closing ({ms:.1} ms)"),
        };
        eprintln!("* TLS close: {text}");
    }

    /// A timeout from the socket, reworded with the limit that caused it.
    fn timed_out(&self, e: io::Error) -> io::Error {
        if e.kind() != io::ErrorKind::WouldBlock {
            return e;
        }
        let which = match (self.deadlines.overall.get(), self.deadlines.read) {
            (Some(end), _) if Instant::now() >= end => "operation timed out (--max-time)".into(),
            (_, Some(r)) => format!(
                "no data from the server for {:.1} s (--read-timeout)",
                r.as_secs_f64()
            ),
            _ => "operation timed out".into(),
        };
        io::Error::new(io::ErrorKind::TimedOut, which)
    }
}

impl Read for Traced {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let limit = self.deadlines.cap(self.deadlines.read)?;
        self.inner.get_ref().set_read_timeout(limit)?;
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) => return Err(staged(Stage::Receive, self.timed_out(e))),
        };
        self.reading = true;
        if n > 0 && self.first_byte.is_none() {
            let now = Instant::now();
            self.first_byte = Some(now);
            self.observed.update(|o| o.first_byte = Some(now));
        }
        self.sample();
        Ok(n)
    }
}

impl Write for Traced {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.reading {
            // HTTP/1.1 without pipelining: a write after reading begins the
            // next request on this connection.
            self.reading = false;
            self.head_done = false;
            self.first_byte = None;
            self.requests += 1;
        }
        let limit = self.deadlines.cap(self.deadlines.read)?;
        self.inner.get_ref().set_write_timeout(limit)?;
        let n = match self.inner.write(buf) {
            Ok(n) => n,
            Err(e) => return Err(staged(Stage::Send, self.timed_out(e))),
        };
        if self.verbose && !self.head_done {
            let text = String::from_utf8_lossy(buf.get(..n).unwrap_or_default());
            for line in text.split("\r\n") {
                if line.is_empty() {
                    self.head_done = true;
                    break;
                }
                let _ = writeln!(self.head, "> {line}");
            }
            if self.head_done {
                // The whole head in one write, as a block.
                eprintln!("{}>", std::mem::take(&mut self.head));
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
