//! The client: open a connection through a [`Connect`]or, send the request,
//! read the head, hand back the body as a reader.

use super::body::{Body, BodyMode};
use super::response::{read_head, Head, Limits};
use super::{Error, Request, Url};
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
}

/// An HTTP/1.1 client.
pub struct Client<C: Connect> {
    connector: C,
    user_agent: String,
    limits: Limits,
}

/// A response whose body is read through `Read`.
pub struct Response<S> {
    /// Status line and headers.
    pub head: Head,
    body: Body<S>,
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
    pub fn new(connector: C) -> Client<C> {
        Client {
            connector,
            user_agent: concat!("tunstack/", env!("CARGO_PKG_VERSION")).into(),
            limits: Limits::default(),
        }
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

    /// Sends `req` on a new connection (`Connection: close`) and reads the
    /// response head.
    ///
    /// # Errors
    /// The connector's error as [`Error::Io`], or any head/framing error.
    pub fn send(&self, req: Request) -> Result<Response<C::Stream>, Error> {
        let mut stream = self.connector.connect(&req.url.host, req.url.port)?;
        req.write_to(&mut stream, &self.user_agent, false)?;
        let mut buf = Vec::new();
        let head = read_head(&mut stream, &mut buf, &self.limits)?;
        let mode = BodyMode::for_response(&req.method, &head)?;
        Ok(Response {
            head,
            body: Body::new(stream, buf, mode),
        })
    }
}
