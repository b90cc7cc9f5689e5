//! curl's exit codes (the `EXIT CODES` section of curl(1)), so a script
//! that calls curl can call `tunstack get` instead, and the mapping from
//! each failure to its code.
//!
//! Errors reach the CLI as [`http::Error`]s or `io::Error`s; the connector
//! ([`super::connector`]) tags transport errors with the [`Stage`] they
//! happened in (name lookup, connect, send, receive), because an
//! `io::ErrorKind` alone cannot tell "could not connect" (7) from
//! "receive failure" (56).

use crate::http;
use std::fmt;
use std::io;

/// Success, and a non-2xx status without `-f`.
pub const OK: i32 = 0;
/// Unsupported protocol (a scheme other than http).
pub const UNSUPPORTED_PROTOCOL: i32 = 1;
/// Bad command line (clap's usage errors), as curl's CURLE_FAILED_INIT.
pub const USAGE: i32 = 2;
/// The URL is malformed.
pub const MALFORMED_URL: i32 = 3;
/// The host name could not be resolved.
pub const RESOLVE: i32 = 6;
/// The TCP connection could not be opened.
pub const CONNECT: i32 = 7;
/// The server's reply is not HTTP (a malformed status line or header).
pub const WEIRD_REPLY: i32 = 8;
/// The body ended before its announced length.
pub const PARTIAL_FILE: i32 = 18;
/// An HTTP status >= 400 with `-f` / `--fail-with-body`.
pub const HTTP_ERROR: i32 = 22;
/// Writing the output (stdout, `-o`, `-D`) failed.
pub const WRITE_ERROR: i32 = 23;
/// Reading the upload (`-d @FILE`, `--data-binary @FILE`) failed.
pub const READ_ERROR: i32 = 26;
/// A timeout (`--connect-timeout`, `--max-time`, `--read-timeout`).
pub const TIMEOUT: i32 = 28;
/// `-C`: the server ignored the range, so the file cannot be resumed.
pub const RANGE_ERROR: i32 = 33;
/// The TLS handshake failed.
pub const TLS_HANDSHAKE: i32 = 35;
/// More redirects than `--max-redirs`.
pub const TOO_MANY_REDIRECTS: i32 = 47;
/// The connection closed before any response byte.
pub const EMPTY_REPLY: i32 = 52;
/// Sending the request failed.
pub const SEND_ERROR: i32 = 55;
/// Receiving the response failed.
pub const RECV_ERROR: i32 = 56;
/// The server's certificate is not trusted.
pub const CERT_UNTRUSTED: i32 = 60;
/// A content or transfer coding we cannot decode.
pub const BAD_ENCODING: i32 = 61;
/// The --cacert file cannot be used (CURLE_SSL_CACERT_BADFILE).
pub const CACERT_BADFILE: i32 = 77;

/// Where a transport error happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    Resolve,
    Connect,
    Send,
    Receive,
}

/// An `io::Error` tagged with its [`Stage`]; it displays as the original.
#[derive(Debug)]
pub(crate) struct Staged {
    pub stage: Stage,
    pub error: io::Error,
}

impl fmt::Display for Staged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for Staged {}

/// Tags `e` with `stage` unless it already carries one (an inner stage is
/// the more precise).
pub(crate) fn staged(stage: Stage, e: io::Error) -> io::Error {
    if e.get_ref()
        .is_some_and(|i| i.is::<Staged>() || i.is::<http::Error>())
    {
        return e;
    }
    io::Error::new(e.kind(), Staged { stage, error: e })
}

/// The exit code for a transport error, given where it happened when the
/// error itself does not say.
pub(crate) fn for_io(e: &io::Error, default: Stage) -> i32 {
    if let Some(inner) = e.get_ref() {
        if let Some(h) = inner.downcast_ref::<http::Error>() {
            return for_http(h);
        }
    }
    let staged = e.get_ref().and_then(|i| i.downcast_ref::<Staged>());
    // An HTTP-layer error (a TLS failure, say) inside a tagged one keeps
    // its own code: the stage is only the fallback.
    if let Some(h) = staged
        .and_then(|s| s.error.get_ref())
        .and_then(|i| i.downcast_ref::<http::Error>())
    {
        return for_http(h);
    }
    let stage = staged.map_or(default, |s| s.stage);
    if matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    ) {
        return TIMEOUT;
    }
    match stage {
        Stage::Resolve => RESOLVE,
        Stage::Connect => CONNECT,
        Stage::Send => SEND_ERROR,
        Stage::Receive => RECV_ERROR,
    }
}

/// A connect that the server refused (RST to our SYN): curl's
/// ECONNREFUSED, which `--retry-connrefused` retries.
pub(crate) fn is_refused(e: &http::Error) -> bool {
    let http::Error::Io(io) = e else {
        return false;
    };
    let mut cur: &io::Error = io;
    // Through the stage tags and HTTP errors wrapped on the way up.
    for _ in 0..8 {
        let Some(inner) = cur.get_ref() else {
            break;
        };
        if let Some(s) = inner.downcast_ref::<Staged>() {
            if s.stage != Stage::Connect {
                return false;
            }
            cur = &s.error;
        } else if let Some(http::Error::Io(i)) = inner.downcast_ref::<http::Error>() {
            cur = i;
        } else {
            break;
        }
    }
    cur.kind() == io::ErrorKind::ConnectionRefused
}

/// The exit code for an HTTP-layer error, as curl reports the same fault.
pub(crate) fn for_http(e: &http::Error) -> i32 {
    use http::Error as E;
    match e {
        E::Io(io) => for_io(io, Stage::Receive),
        E::InvalidUrl(_) => MALFORMED_URL,
        E::UnsupportedScheme(_) => UNSUPPORTED_PROTOCOL,
        E::InvalidHeader(_) => USAGE,
        E::HeadTooLarge | E::TooManyHeaders | E::MalformedHead(_) => WEIRD_REPLY,
        E::ConnectionClosedBeforeResponse => EMPTY_REPLY,
        E::UnexpectedEof => RECV_ERROR,
        E::BadContentLength | E::ConflictingContentLength => WEIRD_REPLY,
        E::BadChunkSize | E::ChunkMissingCrlf | E::TrailersTooLarge => RECV_ERROR,
        E::BodyTruncated { .. } => PARTIAL_FILE,
        E::TooManyRedirects => TOO_MANY_REDIRECTS,
        E::UnsupportedTransferEncoding(_) | E::UnsupportedContentEncoding(_) => BAD_ENCODING,
        E::Tls(t) => match t.kind {
            http::TlsErrorKind::Certificate => CERT_UNTRUSTED,
            http::TlsErrorKind::Handshake => TLS_HANDSHAKE,
            http::TlsErrorKind::Config => CACERT_BADFILE,
        },
    }
}

/// Every code `get` can exit with (the TLS ones are for https URLs).
pub const CODES: [i32; 21] = [
    OK,
    UNSUPPORTED_PROTOCOL,
    USAGE,
    MALFORMED_URL,
    RESOLVE,
    CONNECT,
    WEIRD_REPLY,
    PARTIAL_FILE,
    HTTP_ERROR,
    WRITE_ERROR,
    READ_ERROR,
    TIMEOUT,
    RANGE_ERROR,
    TLS_HANDSHAKE,
    TOO_MANY_REDIRECTS,
    EMPTY_REPLY,
    SEND_ERROR,
    RECV_ERROR,
    CERT_UNTRUSTED,
    BAD_ENCODING,
    CACERT_BADFILE,
];

/// The `EXIT CODES` section of `tunstack get --help`.
pub const HELP: &str = "\
EXIT CODES (curl's):
   0  success (also a status >= 400 without -f)
   1  unsupported protocol (a scheme other than http or https)
   2  bad command line
   3  malformed URL
   6  could not resolve host
   7  could not connect
   8  the reply is not HTTP
  18  partial file: the body ended before its length
  22  HTTP status >= 400 with -f / --fail-with-body
  23  write error (output, -o, -D)
  26  read error (an upload file)
  28  timeout (--connect-timeout, --max-time, --read-timeout)
  33  -C: the server ignored the range, the file cannot be resumed
  35  TLS handshake failed
  47  too many redirects (--max-redirs)
  52  empty reply: the connection closed before any response byte
  55  failure sending the request
  56  failure receiving the response
  60  the server certificate is not trusted
  61  unsupported content or transfer encoding
  77  the --cacert file cannot be used";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_errors_map_by_stage_and_timeouts_win() {
        let refused = || io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(
            for_io(&staged(Stage::Connect, refused()), Stage::Receive),
            CONNECT
        );
        assert_eq!(
            for_io(&staged(Stage::Resolve, refused()), Stage::Receive),
            RESOLVE
        );
        assert_eq!(for_io(&refused(), Stage::Send), SEND_ERROR);
        let t = io::Error::from(io::ErrorKind::TimedOut);
        assert_eq!(for_io(&staged(Stage::Connect, t), Stage::Receive), TIMEOUT);
        // The first stage sticks.
        let twice = staged(Stage::Send, staged(Stage::Connect, refused()));
        assert_eq!(for_io(&twice, Stage::Receive), CONNECT);
        // A framing error travelling as io::Error keeps its own code.
        let framed = io::Error::new(
            io::ErrorKind::UnexpectedEof,
            http::Error::BodyTruncated {
                expected: 2,
                received: 1,
            },
        );
        assert_eq!(for_io(&framed, Stage::Receive), PARTIAL_FILE);
        assert_eq!(for_http(&http::Error::Io(framed)), PARTIAL_FILE);
        let inside = io::Error::other(http::Error::TooManyRedirects);
        let tagged = io::Error::other(Staged {
            stage: Stage::Connect,
            error: inside,
        });
        assert_eq!(for_io(&tagged, Stage::Receive), TOO_MANY_REDIRECTS);
    }

    #[test]
    fn only_a_refused_connect_counts_as_refused() {
        let refused = || io::Error::from(io::ErrorKind::ConnectionRefused);
        let e = http::Error::Io(staged(Stage::Connect, refused()));
        assert!(is_refused(&e));
        assert!(is_refused(&http::Error::Io(refused())));
        let e = http::Error::Io(staged(Stage::Send, refused()));
        assert!(
            !is_refused(&e),
            "a reset while sending is not a refused connect"
        );
        let t = http::Error::Io(staged(Stage::Connect, io::ErrorKind::TimedOut.into()));
        assert!(!is_refused(&t));
        assert!(!is_refused(&http::Error::TooManyRedirects));
    }

    #[test]
    fn help_lists_every_code() {
        for c in CODES {
            assert!(
                HELP.lines()
                    .any(|l| l.trim_start().starts_with(&format!("{c} "))),
                "{c} missing from --help"
            );
        }
    }

    #[test]
    fn http_errors_map_to_curls_codes() {
        assert_eq!(
            for_http(&http::Error::ConnectionClosedBeforeResponse),
            EMPTY_REPLY
        );
        assert_eq!(for_http(&http::Error::TooManyRedirects), TOO_MANY_REDIRECTS);
        assert_eq!(
            for_http(&http::Error::UnsupportedScheme("ftp".into())),
            UNSUPPORTED_PROTOCOL
        );
        assert_eq!(
            for_http(&http::Error::InvalidUrl("x".into())),
            MALFORMED_URL
        );
        assert_eq!(
            for_http(&http::Error::MalformedHead("x".into())),
            WEIRD_REPLY
        );
    }
}
