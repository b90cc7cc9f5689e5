//! Message body framing (RFC 9112 §6.3, §7.1): Content-Length, chunked
//! (with trailers) or close-delimited, read through `io::Read`.
//!
//! A framing error surfaces as an `io::Error` wrapping the matching
//! [`Error`] variant (downcast it, or convert with `Error::from`).

use super::{Error, Head};
use std::io::{self, Read};

/// Longest chunk-size line accepted (extensions included).
const MAX_CHUNK_LINE: usize = 4096;
/// Most bytes of trailer fields kept.
const MAX_TRAILERS: usize = 16 * 1024;

/// How the body of a response is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyMode {
    /// No body (HEAD, 1xx, 204, 304).
    NoBody,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Until the server closes the connection.
    CloseDelimited,
}

impl std::fmt::Display for BodyMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyMode::NoBody => f.write_str("no body"),
            BodyMode::Length(n) => write!(f, "Content-Length: {n}"),
            BodyMode::Chunked => f.write_str("chunked transfer coding"),
            BodyMode::CloseDelimited => f.write_str("until the server closes"),
        }
    }
}

impl BodyMode {
    /// RFC 9112 §6.3 for a response to `method`.
    ///
    /// # Errors
    /// [`Error::UnsupportedTransferEncoding`], [`Error::BadContentLength`],
    /// [`Error::ConflictingContentLength`].
    pub fn for_response(method: &str, head: &Head) -> Result<BodyMode, Error> {
        if method.eq_ignore_ascii_case("HEAD")
            || (100..200).contains(&head.status)
            || head.status == 204
            || head.status == 304
        {
            return Ok(BodyMode::NoBody);
        }
        let codings: Vec<String> = head
            .headers_named("transfer-encoding")
            .flat_map(|v| {
                String::from_utf8_lossy(v)
                    .split(',')
                    .map(|c| c.trim().to_ascii_lowercase())
                    .collect::<Vec<_>>()
            })
            .filter(|c| !c.is_empty())
            .collect();
        if let Some(last) = codings.last() {
            // Chunked must be last; it wins over Content-Length (§6.3 item 3).
            if last != "chunked" || codings.len() > 1 {
                return Err(Error::UnsupportedTransferEncoding(codings.join(", ")));
            }
            return Ok(BodyMode::Chunked);
        }
        let mut length: Option<u64> = None;
        for v in head.headers_named("content-length") {
            for part in String::from_utf8_lossy(v).split(',') {
                let part = part.trim();
                if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(Error::BadContentLength);
                }
                let n: u64 = part.parse().map_err(|_| Error::BadContentLength)?;
                match length {
                    Some(m) if m != n => return Err(Error::ConflictingContentLength),
                    _ => length = Some(n),
                }
            }
        }
        Ok(match length {
            Some(n) => BodyMode::Length(n),
            None => BodyMode::CloseDelimited,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size,
    Data(u64),
    DataEnd,
    Trailers,
}

/// A response body as a reader over the connection.
pub struct Body<S> {
    stream: S,
    /// Bytes already read from the stream but not yet consumed.
    buf: Vec<u8>,
    mode: BodyMode,
    /// Length mode: bytes still to come. Chunked: state.
    remaining: u64,
    received: u64,
    chunk: Chunk,
    done: bool,
    trailers: Vec<(String, Vec<u8>)>,
    trailer_bytes: usize,
}

fn framing(e: Error) -> io::Error {
    io::Error::from(e)
}

impl<S: Read> Body<S> {
    /// A body in `mode`, starting with the `leftover` bytes read past the head.
    pub fn new(stream: S, leftover: Vec<u8>, mode: BodyMode) -> Body<S> {
        let (remaining, done) = match mode {
            BodyMode::NoBody => (0, true),
            BodyMode::Length(n) => (n, n == 0),
            _ => (0, false),
        };
        Body {
            stream,
            buf: leftover,
            mode,
            remaining,
            received: 0,
            chunk: Chunk::Size,
            done,
            trailers: Vec::new(),
            trailer_bytes: 0,
        }
    }

    /// The framing in use.
    pub fn mode(&self) -> BodyMode {
        self.mode
    }

    /// Body bytes received so far (chunk data only, without chunk framing).
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Trailer fields of a chunked body (after it has been read to the end).
    pub fn trailers(&self) -> &[(String, Vec<u8>)] {
        &self.trailers
    }

    /// True once the whole body was read (for a close-delimited body: up
    /// to the connection's end).
    pub fn is_complete(&self) -> bool {
        self.done
    }

    /// True once the whole body was read and the connection sits at a
    /// message boundary (so it could carry another request).
    pub fn is_reusable(&self) -> bool {
        self.done && self.mode != BodyMode::CloseDelimited
    }

    /// The connection and any bytes already read past this body (the start
    /// of the next response on a kept-alive connection).
    pub fn into_parts(self) -> (S, Vec<u8>) {
        (self.stream, self.buf)
    }

    /// The connection, borrowed.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The connection, for reuse.
    pub fn into_inner(self) -> S {
        self.stream
    }

    /// Reads more from the stream into `buf`; Ok(false) on EOF.
    fn fill(&mut self) -> io::Result<bool> {
        let mut chunk = [0u8; 16 * 1024];
        let n = loop {
            match self.stream.read(&mut chunk) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r?,
            }
        };
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    /// Copies up to `limit` body bytes into `out` from the buffer or the stream.
    fn copy_data(&mut self, out: &mut [u8], limit: u64) -> io::Result<usize> {
        let want = out.len().min(usize::try_from(limit).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        if !self.buf.is_empty() {
            let n = want.min(self.buf.len());
            out[..n].copy_from_slice(&self.buf[..n]);
            self.buf.drain(..n);
            return Ok(n);
        }
        loop {
            match self.stream.read(&mut out[..want]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }

    /// Takes one CRLF-terminated line from the buffer, reading as needed.
    fn line(&mut self, max: usize, too_long: Error) -> io::Result<Vec<u8>> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = self.buf[..i].to_vec();
                self.buf.drain(..i + 2);
                return Ok(line);
            }
            if self.buf.len() > max {
                return Err(framing(too_long));
            }
            if !self.fill()? {
                return Err(framing(Error::UnexpectedEof));
            }
        }
    }

    fn read_chunked(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.chunk {
                Chunk::Size => {
                    let line = self.line(MAX_CHUNK_LINE, Error::BadChunkSize)?;
                    let size = line.split(|&b| b == b';').next().unwrap_or(&[]);
                    let size = trim(size);
                    if size.is_empty() || size.len() > 16 || !size.iter().all(u8::is_ascii_hexdigit)
                    {
                        return Err(framing(Error::BadChunkSize));
                    }
                    let text =
                        std::str::from_utf8(size).map_err(|_| framing(Error::BadChunkSize))?;
                    let n =
                        u64::from_str_radix(text, 16).map_err(|_| framing(Error::BadChunkSize))?;
                    self.chunk = if n == 0 {
                        Chunk::Trailers
                    } else {
                        Chunk::Data(n)
                    };
                }
                Chunk::Data(left) => {
                    let n = self.copy_data(out, left)?;
                    if n == 0 {
                        return Err(framing(Error::UnexpectedEof));
                    }
                    self.received += n as u64;
                    let left = left - n as u64;
                    self.chunk = if left == 0 {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(left)
                    };
                    return Ok(n);
                }
                Chunk::DataEnd => {
                    while self.buf.len() < 2 {
                        if !self.fill()? {
                            return Err(framing(Error::UnexpectedEof));
                        }
                    }
                    if &self.buf[..2] != b"\r\n" {
                        return Err(framing(Error::ChunkMissingCrlf));
                    }
                    self.buf.drain(..2);
                    self.chunk = Chunk::Size;
                }
                Chunk::Trailers => {
                    let line = self.line(MAX_TRAILERS, Error::TrailersTooLarge)?;
                    if line.is_empty() {
                        self.done = true;
                        return Ok(0);
                    }
                    self.trailer_bytes += line.len();
                    if self.trailer_bytes > MAX_TRAILERS {
                        return Err(framing(Error::TrailersTooLarge));
                    }
                    if let Some(i) = line.iter().position(|&b| b == b':') {
                        let name = String::from_utf8_lossy(&line[..i]).trim().to_string();
                        self.trailers.push((name, trim(&line[i + 1..]).to_vec()));
                    }
                }
            }
        }
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

impl<S: Read> Read for Body<S> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.done || out.is_empty() {
            return Ok(0);
        }
        match self.mode {
            BodyMode::NoBody => Ok(0),
            BodyMode::Length(total) => {
                let n = self.copy_data(out, self.remaining)?;
                if n == 0 {
                    return Err(framing(Error::BodyTruncated {
                        expected: total,
                        received: self.received,
                    }));
                }
                self.remaining -= n as u64;
                self.received += n as u64;
                self.done = self.remaining == 0;
                Ok(n)
            }
            BodyMode::CloseDelimited => {
                let n = self.copy_data(out, u64::MAX)?;
                self.received += n as u64;
                self.done = n == 0;
                Ok(n)
            }
            BodyMode::Chunked => self.read_chunked(out),
        }
    }
}
