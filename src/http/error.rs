//! HTTP errors: one variant per malformation, lowercase messages.

use std::fmt;
use std::io;

/// Everything that can go wrong making a request or reading a response.
#[derive(Debug)]
pub enum Error {
    /// Transport failure.
    Io(io::Error),
    /// The URL could not be parsed.
    InvalidUrl(String),
    /// Only `http://` and `https://` are supported.
    UnsupportedScheme(String),
    /// TLS failed: an untrusted certificate or a failed handshake.
    Tls(super::TlsError),
    /// A header name or value contains forbidden characters.
    InvalidHeader(String),
    /// The response head exceeded the size limit.
    HeadTooLarge,
    /// The response head has more headers than allowed.
    TooManyHeaders,
    /// The status line or a header line is malformed.
    MalformedHead(String),
    /// The connection closed before any response byte.
    ConnectionClosedBeforeResponse,
    /// The connection closed in the middle of the response head.
    UnexpectedEof,
    /// A Content-Length value is not a valid number.
    BadContentLength,
    /// Several Content-Length values disagree (RFC 9112 §6.3 item 5).
    ConflictingContentLength,
    /// A transfer coding other than chunked.
    UnsupportedTransferEncoding(String),
    /// A chunk-size line is not valid hex or overflows.
    BadChunkSize,
    /// Chunk data is not followed by CRLF.
    ChunkMissingCrlf,
    /// The trailer section exceeded the size limit.
    TrailersTooLarge,
    /// The connection closed before the announced body length.
    BodyTruncated {
        /// Bytes announced.
        expected: u64,
        /// Bytes received.
        received: u64,
    },
    /// Too many redirects.
    TooManyRedirects,
    /// A content coding we cannot decode.
    UnsupportedContentEncoding(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::InvalidUrl(u) => write!(f, "invalid url: {u}"),
            Error::UnsupportedScheme(s) => {
                write!(f, "unsupported scheme {s:?} (only http and https)")
            }
            Error::Tls(e) => write!(f, "{e}"),
            Error::InvalidHeader(h) => write!(f, "invalid header {h:?}"),
            Error::HeadTooLarge => f.write_str("response head too large"),
            Error::TooManyHeaders => f.write_str("too many response headers"),
            Error::MalformedHead(m) => write!(f, "malformed response head: {m}"),
            Error::ConnectionClosedBeforeResponse => {
                f.write_str("connection closed before a response")
            }
            Error::UnexpectedEof => f.write_str("connection closed inside the response head"),
            Error::BadContentLength => f.write_str("invalid content-length"),
            Error::ConflictingContentLength => f.write_str("conflicting content-length values"),
            Error::UnsupportedTransferEncoding(t) => {
                write!(f, "unsupported transfer-encoding {t:?}")
            }
            Error::BadChunkSize => f.write_str("invalid chunk size"),
            Error::ChunkMissingCrlf => f.write_str("chunk expected crlf as next character"),
            Error::TrailersTooLarge => f.write_str("chunked trailers too large"),
            Error::BodyTruncated { expected, received } => {
                write!(
                    f,
                    "body truncated: expected {expected} bytes, got {received}"
                )
            }
            Error::TooManyRedirects => f.write_str("too many redirects"),
            Error::UnsupportedContentEncoding(c) => {
                write!(f, "unsupported content-encoding {c:?}")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        // A body-framing error travels through `Read` as an io::Error;
        // unwrap it back into its own variant.
        if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            if let Ok(inner) = e
                .into_inner()
                .unwrap_or_else(|| Box::new(Error::UnexpectedEof))
                .downcast::<Error>()
            {
                return *inner;
            }
            return Error::UnexpectedEof;
        }
        if let Some(t) = super::TlsError::from_io(&e) {
            return Error::Tls(t);
        }
        Error::Io(e)
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Io(e) => e,
            Error::BodyTruncated { .. } | Error::UnexpectedEof => {
                io::Error::new(io::ErrorKind::UnexpectedEof, e)
            }
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}
