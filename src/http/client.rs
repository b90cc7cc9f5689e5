//! The client: open a connection through a [`Connect`]or, send the request,
//! read the head, hand back the body as a reader.

use super::body::{Body, BodyMode};
use super::response::{read_head, Head, Limits};
use super::{Error, Request, Url};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io::{self, Read, Write};

/// Opens transport connections; the CLI implements it over tunstack's
/// sockets, tests over anything `Read + Write`.
pub trait Connect {
    /// The connection type.
    type Stream: Read + Write;
    /// Connects to `host:port`.
    ///
    /// # Errors
    /// The transport's error (refused, timed out, unknown host, …).
    fn connect(&self, host: &str, port: u16) -> io::Result<Self::Stream>;

    /// Connects to `host:port` for a URL of `scheme` (`http` or `https`).
    /// A connector that speaks TLS overrides this; the default speaks
    /// cleartext only.
    ///
    /// # Errors
    /// As [`Connect::connect`]; `Unsupported` for a scheme it cannot
    /// speak.
    fn connect_scheme(&self, scheme: &str, host: &str, port: u16) -> io::Result<Self::Stream> {
        if scheme == "http" {
            self.connect(host, port)
        } else {
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("this connector does not speak {scheme}"),
            ))
        }
    }

    /// Closes a connection whose last response was read whole and which
    /// will carry no more requests (not kept alive, or the client is going
    /// away). `peer_closes`: the exchange said `Connection: close` (or was
    /// HTTP/1.0 without keep-alive), so the server initiates closure
    /// after its response (RFC 9112 §9.6) and the client had best let it
    /// go first; else the client is the one closing.
    ///
    /// The default just drops it. A TLS connector overrides this to trade
    /// `close_notify` alerts with the server before the transport closes
    /// (see [`TlsStream::drain_once`](super::tls::TlsStream::drain_once)),
    /// within a bound of its own: this layer never reads the clock.
    fn close_idle(&self, stream: Self::Stream, peer_closes: bool) {
        let _ = peer_closes;
        drop(stream);
    }
}

/// Idle connections kept per origin (RFC 9112 §9.4 suggests a small
/// limit); the pool never grows past this.
const MAX_IDLE_PER_HOST: usize = 4;

/// Where a connection goes: scheme, host and port (an `http` and an
/// `https` connection to the same host:port are never interchangeable).
type Origin = (String, String, u16);

/// Idle kept-alive connections by origin, each with the bytes already
/// read from it.
type Pool<S> = HashMap<Origin, Vec<(S, Vec<u8>)>>;

/// An HTTP/1.1 client with a keep-alive connection pool.
pub struct Client<C: Connect> {
    connector: C,
    user_agent: String,
    limits: Limits,
    keep_alive: bool,
    pool: RefCell<Pool<C::Stream>>,
    stats: Cell<PoolStats>,
}

/// Connection-reuse counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// New connections opened.
    pub connects: u64,
    /// Requests sent on a pooled connection.
    pub reused: u64,
    /// Requests retried on a fresh connection after a pooled one failed.
    pub retries: u64,
}

/// A response whose body is read through `Read`.
pub struct Response<S> {
    /// Status line and headers.
    pub head: Head,
    body: Body<S>,
    /// Where the connection goes back to when the body is done.
    key: Origin,
    /// The server allows another request on this connection.
    keep_alive: bool,
    /// The request went out on a pooled connection.
    pub reused: bool,
}

impl<S: Read> Response<S> {
    /// Status code.
    pub fn status(&self) -> u16 {
        self.head.status
    }

    /// First value of header `name`, as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.header_str(name)
    }

    /// How the body is framed.
    pub fn body_mode(&self) -> BodyMode {
        self.body.mode()
    }

    /// The connection the response arrives on.
    pub fn connection(&self) -> &S {
        self.body.get_ref()
    }

    /// Body bytes received so far (without chunk framing).
    pub fn body_received(&self) -> u64 {
        self.body.received()
    }

    /// The server allows another request on this connection (and we
    /// asked for one): RFC 9112 §9.3.
    pub fn allows_reuse(&self) -> bool {
        self.keep_alive
    }

    /// The body reader.
    pub fn into_body(self) -> Body<S> {
        self.body
    }
}

impl<S: Read> Read for Response<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.body.read(buf)
    }
}

impl<C: Connect> Client<C> {
    /// A client with default limits and `User-Agent: tunstack/<version>`.
    /// Connections are kept alive and reused (see [`Client::recycle`]).
    pub fn new(connector: C) -> Client<C> {
        Client {
            connector,
            user_agent: concat!("tunstack/", env!("CARGO_PKG_VERSION")).into(),
            limits: Limits::default(),
            keep_alive: true,
            pool: RefCell::new(HashMap::new()),
            stats: Cell::new(PoolStats::default()),
        }
    }

    /// Turns connection reuse off: every request says `Connection: close`.
    pub fn keep_alive(mut self, on: bool) -> Client<C> {
        self.keep_alive = on;
        self
    }

    /// Connection-reuse counters.
    pub fn pool_stats(&self) -> PoolStats {
        self.stats.get()
    }

    /// Sets the User-Agent.
    pub fn user_agent(mut self, ua: impl Into<String>) -> Client<C> {
        self.user_agent = ua.into();
        self
    }

    /// Sets the response-head limits.
    pub fn limits(mut self, limits: Limits) -> Client<C> {
        self.limits = limits;
        self
    }

    /// The connector.
    pub fn connector(&self) -> &C {
        &self.connector
    }

    /// GET `url`.
    ///
    /// # Errors
    /// See [`Client::send`].
    pub fn get(&self, url: &str) -> Result<Response<C::Stream>, Error> {
        self.send(Request::get(Url::parse(url)?))
    }

    /// Sends `req` — on a pooled connection to the same origin if one
    /// is idle, else a new one — and reads the response head. A pooled
    /// connection the server closed meanwhile is retried once on a fresh
    /// connection for idempotent methods (RFC 9110 §9.2.2).
    ///
    /// # Errors
    /// The connector's error as [`Error::Io`], or any head/framing error.
    pub fn send(&self, req: Request) -> Result<Response<C::Stream>, Error> {
        let key = (req.url.scheme.clone(), req.url.host.clone(), req.url.port);
        let pooled = self.pool.borrow_mut().get_mut(&key).and_then(Vec::pop);
        if let Some((stream, leftover)) = pooled {
            match self.exchange(&req, stream, leftover, key.clone(), true) {
                Ok(r) => return Ok(r),
                Err(e) if idempotent(&req.method) && stale(&e) => {
                    let mut st = self.stats.get();
                    st.retries += 1;
                    self.stats.set(st);
                }
                Err(e) => return Err(e),
            }
        }
        let stream = self
            .connector
            .connect_scheme(&req.url.scheme, &req.url.host, req.url.port)?;
        let mut st = self.stats.get();
        st.connects += 1;
        self.stats.set(st);
        self.exchange(&req, stream, Vec::new(), key, false)
    }

    fn exchange(
        &self,
        req: &Request,
        mut stream: C::Stream,
        leftover: Vec<u8>,
        key: Origin,
        reused: bool,
    ) -> Result<Response<C::Stream>, Error> {
        if reused {
            let mut st = self.stats.get();
            st.reused += 1;
            self.stats.set(st);
        }
        req.write_to(&mut stream, &self.user_agent, self.keep_alive)?;
        let mut buf = leftover;
        let head = read_head(&mut stream, &mut buf, &self.limits)?;
        let mode = BodyMode::for_response(&req.method, &head)?;
        let keep_alive = self.keep_alive && allows_reuse(&head);
        Ok(Response {
            head,
            body: Body::new(stream, buf, mode),
            key,
            keep_alive,
            reused,
        })
    }

    /// Hands a finished response's connection back to the pool, if its body
    /// was read to the end and the server allows reuse; otherwise the
    /// connection is dropped (closed). Returns whether it was kept.
    ///
    /// A connection closed after a whole response goes through
    /// [`Connect::close_idle`] (a clean teardown); one left mid-body is
    /// just dropped, as there is nothing clean about it.
    pub fn recycle(&self, resp: Response<C::Stream>) -> bool {
        if !resp.body.is_complete() {
            return false;
        }
        if !(resp.keep_alive && resp.body.is_reusable()) {
            // Not kept alive, or a close-delimited body: the server closes.
            self.connector.close_idle(resp.body.into_inner(), true);
            return false;
        }
        let mut pool = self.pool.borrow_mut();
        let idle = pool.entry(resp.key).or_default();
        if idle.len() >= MAX_IDLE_PER_HOST {
            drop(pool);
            self.connector.close_idle(resp.body.into_inner(), false);
            return false;
        }
        idle.push(resp.body.into_parts());
        true
    }

    /// Like [`send`](Self::send), following redirects (301, 302, 303, 307,
    /// 308) up to `max` times. 303 — and 301/302 after a POST, as browsers
    /// do — continue as GET without a body; 307/308 keep method and body
    /// (RFC 9110 §15.4).
    ///
    /// # Errors
    /// As `send`, plus [`Error::TooManyRedirects`].
    pub fn send_following(&self, req: Request, max: usize) -> Result<Response<C::Stream>, Error> {
        self.send_following_with(req, max, |_, _| {})
    }

    /// Like [`send_following`](Self::send_following), calling
    /// `on_redirect(head, next)` for each redirect response before it is
    /// followed (for `-v` narration).
    ///
    /// # Errors
    /// As `send_following`.
    pub fn send_following_with(
        &self,
        mut req: Request,
        max: usize,
        mut on_redirect: impl FnMut(&Head, &Url),
    ) -> Result<Response<C::Stream>, Error> {
        for _ in 0..=max {
            let resp = self.send(req.clone())?;
            let status = resp.head.status;
            let location = resp.head.header_str("location").map(str::to_string);
            let (true, Some(location)) = (matches!(status, 301 | 302 | 303 | 307 | 308), location)
            else {
                return Ok(resp);
            };
            let next = req.url.join(&location)?;
            credentials_across(&mut req, &next);
            on_redirect(&resp.head, &next);
            // Drain a small body so the connection can be reused.
            let mut resp = resp;
            let _ = io::copy(&mut (&mut resp).take(64 * 1024), &mut io::sink());
            self.recycle(resp);
            let to_get = status == 303 || (matches!(status, 301 | 302) && req.method == "POST");
            if to_get && req.method != "HEAD" {
                req.method = "GET".into();
                req.body = None;
            }
            req.url = next;
        }
        Err(Error::TooManyRedirects)
    }
}

impl<C: Connect> Drop for Client<C> {
    /// The pooled connections each sit after a whole response: each gets
    /// the connector's clean teardown.
    fn drop(&mut self) {
        let pool = std::mem::take(self.pool.get_mut());
        for (stream, _leftover) in pool.into_values().flatten() {
            self.connector.close_idle(stream, false);
        }
    }
}

/// Credentials on a redirect from `req` to `next`, as curl (7.83+)
/// handles them: to another scheme, host or port, no `Authorization`
/// goes (neither the URL's nor one set explicitly, e.g. `-u`); to the
/// same origin, the old URL's userinfo credentials go on even when
/// `next` (an absolute reference) carries none.
fn credentials_across(req: &mut Request, next: &Url) {
    let explicit = |r: &Request| {
        r.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("authorization"))
    };
    if !req.url.same_origin(next) {
        req.headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("authorization"));
    } else if next.userinfo.is_none() && !explicit(req) {
        if let Some((user, password)) = req.url.credentials() {
            req.headers.push((
                "Authorization".into(),
                super::request::basic_auth(&user, &password),
            ));
        }
    }
}

/// RFC 9110 §9.2.2.
fn idempotent(method: &str) -> bool {
    matches!(
        method,
        "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS" | "TRACE"
    )
}

/// The failure of a pooled connection the server had closed: nothing (or
/// a reset) came back before any response byte.
fn stale(e: &Error) -> bool {
    match e {
        Error::ConnectionClosedBeforeResponse => true,
        Error::Io(e) => matches!(
            e.kind(),
            io::ErrorKind::ConnectionReset
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::NotConnected
        ),
        _ => false,
    }
}

/// RFC 9112 §9.3: HTTP/1.1 persists unless `Connection: close`; HTTP/1.0
/// only with `Connection: keep-alive`.
fn allows_reuse(head: &Head) -> bool {
    let conn = head
        .header_str("connection")
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if conn.split(',').any(|t| t.trim() == "close") {
        return false;
    }
    head.version_minor >= 1 || conn.split(',').any(|t| t.trim() == "keep-alive")
}
