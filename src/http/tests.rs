//! Response parsing fed one byte at a time and split at every point; one
//! test per malformation (test layer 4).

use super::*;
use std::io::{self, Read, Write};

/// A reader handing out its data in the given pieces (then EOF).
struct Pieces {
    parts: Vec<Vec<u8>>,
}

impl Read for Pieces {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(first) = self.parts.first_mut() else {
                return Ok(0);
            };
            if first.is_empty() {
                self.parts.remove(0);
                continue;
            }
            let n = buf.len().min(first.len());
            buf[..n].copy_from_slice(&first[..n]);
            first.drain(..n);
            return Ok(n);
        }
    }
}

impl Write for Pieces {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn one_byte_at_a_time(data: &[u8]) -> Pieces {
    Pieces {
        parts: data.iter().map(|&b| vec![b]).collect(),
    }
}

fn split_at(data: &[u8], at: usize) -> Pieces {
    Pieces {
        parts: vec![data[..at].to_vec(), data[at..].to_vec()],
    }
}

/// Reads head + body as a GET (or `method`) response.
fn read_all(mut r: Pieces, method: &str) -> Result<(Head, Vec<u8>), Error> {
    let mut buf = Vec::new();
    let head = read_head(&mut r, &mut buf, &Limits::default())?;
    let mode = BodyMode::for_response(method, &head)?;
    let mut body = Body::new(r, buf, mode);
    let mut out = Vec::new();
    body.read_to_end(&mut out)?;
    Ok((head, out))
}

const CASES: &[(&str, &[u8], &[u8])] = &[
    ("GET", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", b"hello"),
    (
        "GET",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 1\r\n\r\n",
        b"hello world",
    ),
    ("GET", b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nuntil close", b"until close"),
    ("HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", b""),
    ("GET", b"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n", b""),
    ("GET", b"HTTP/1.1 304 Not Modified\r\n\r\n", b""),
    ("GET", b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", b"ok"),
];

#[test]
fn every_split_point_and_byte_at_a_time_give_the_same_result() {
    for (method, raw, body) in CASES {
        let (whole_head, whole_body) = read_all(
            Pieces {
                parts: vec![raw.to_vec()],
            },
            method,
        )
        .unwrap();
        assert_eq!(&whole_body, body, "{}", String::from_utf8_lossy(raw));
        let (h, b) = read_all(one_byte_at_a_time(raw), method).unwrap();
        assert_eq!((&h, &b), (&whole_head, &whole_body));
        for at in 0..=raw.len() {
            let (h, b) = read_all(split_at(raw, at), method).unwrap();
            assert_eq!((&h, &b), (&whole_head, &whole_body), "split at {at}");
        }
    }
}

#[test]
fn chunked_trailers_are_kept() {
    let raw =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-Sum: 42\r\n\r\n";
    let mut r = Pieces {
        parts: vec![raw.to_vec()],
    };
    let mut buf = Vec::new();
    let head = read_head(&mut r, &mut buf, &Limits::default()).unwrap();
    let mut body = Body::new(r, buf, BodyMode::for_response("GET", &head).unwrap());
    let mut out = Vec::new();
    body.read_to_end(&mut out).unwrap();
    assert_eq!(body.trailers(), &[("X-Sum".to_string(), b"42".to_vec())]);
    assert!(body.is_reusable());
}

fn err(raw: &[u8]) -> Error {
    read_all(
        Pieces {
            parts: vec![raw.to_vec()],
        },
        "GET",
    )
    .unwrap_err()
}

#[test]
fn each_malformation_has_its_own_error() {
    assert!(matches!(err(b""), Error::ConnectionClosedBeforeResponse));
    assert!(matches!(
        err(b"HTTP/1.1 200 OK\r\nContent-"),
        Error::UnexpectedEof
    ));
    assert!(matches!(
        err(b"HTTP/1.1 2x0 OK\r\n\r\n"),
        Error::MalformedHead(_)
    ));
    assert!(matches!(
        err(b"SMTP ready\r\n\r\n"),
        Error::MalformedHead(_)
    ));
    assert!(matches!(
        err(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
        Error::ConflictingContentLength
    ));
    assert!(matches!(
        err(b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n"),
        Error::ConflictingContentLength
    ));
    assert!(matches!(
        err(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
        Error::BadContentLength
    ));
    assert!(matches!(
        err(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
        Error::BadContentLength
    ));
    assert!(matches!(
        err(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"),
        Error::UnsupportedTransferEncoding(_)
    ));
    assert!(matches!(
        err(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
        Error::BadChunkSize
    ));
    assert!(matches!(
        err(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n11111111111111111\r\n"),
        Error::BadChunkSize
    ));
    assert!(matches!(
        err(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n"),
        Error::ChunkMissingCrlf
    ));
    assert!(matches!(
        err(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"),
        Error::UnexpectedEof
    ));
    assert!(matches!(
        err(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
        Error::BodyTruncated {
            expected: 10,
            received: 3
        }
    ));
}

#[test]
fn head_size_and_header_count_are_capped() {
    let mut big = b"HTTP/1.1 200 OK\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'x', 70 * 1024));
    let e = read_head(
        &mut Pieces { parts: vec![big] },
        &mut Vec::new(),
        &Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(e, Error::HeadTooLarge), "{e}");
    // A server trickling an endless head hits the same limit.
    let endless = Pieces {
        parts: (0..100_000).map(|_| b"X-A: b\r\n".to_vec()).collect(),
    };
    let mut r = endless;
    r.parts.insert(0, b"HTTP/1.1 200 OK\r\n".to_vec());
    let limits = Limits {
        max_head_bytes: 64 * 1024,
        max_headers: 100_000,
    };
    assert!(matches!(
        read_head(&mut r, &mut Vec::new(), &limits),
        Err(Error::HeadTooLarge)
    ));
    let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..101 {
        many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert!(matches!(
        read_head(
            &mut Pieces { parts: vec![many] },
            &mut Vec::new(),
            &Limits::default()
        ),
        Err(Error::TooManyHeaders)
    ));
}

/// A connector handing out an in-memory stream and recording what was sent.
struct Mock {
    response: Vec<u8>,
    sent: std::rc::Rc<std::cell::RefCell<Vec<u8>>>,
    seen: std::rc::Rc<std::cell::RefCell<Option<(String, u16)>>>,
}

struct MockStream {
    input: Pieces,
    sent: std::rc::Rc<std::cell::RefCell<Vec<u8>>>,
}

impl Read for MockStream {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        self.input.read(b)
    }
}

impl Write for MockStream {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.sent.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Connect for Mock {
    type Stream = MockStream;
    fn connect(&self, host: &str, port: u16) -> io::Result<MockStream> {
        *self.seen.borrow_mut() = Some((host.to_string(), port));
        Ok(MockStream {
            input: Pieces {
                parts: vec![self.response.clone()],
            },
            sent: self.sent.clone(),
        })
    }
}

#[test]
fn client_get_sends_the_request_and_reads_the_body() {
    let sent = Default::default();
    let seen = Default::default();
    let mock = Mock {
        response: b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 4\r\n\r\n<p/>"
            .to_vec(),
        sent: std::rc::Rc::clone(&sent),
        seen: std::rc::Rc::clone(&seen),
    };
    let client = Client::new(mock).keep_alive(false);
    let mut resp = client.get("http://10.0.0.1:8080/x").unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.header("content-type"), Some("text/html"));
    assert_eq!(resp.body_mode(), BodyMode::Length(4));
    let mut body = String::new();
    resp.read_to_string(&mut body).unwrap();
    assert_eq!(body, "<p/>");
    assert_eq!(seen.borrow().clone(), Some(("10.0.0.1".to_string(), 8080)));
    let request = String::from_utf8(sent.borrow().clone()).unwrap();
    assert_eq!(
        request,
        format!(
            "GET /x HTTP/1.1\r\nHost: 10.0.0.1:8080\r\nUser-Agent: tunstack/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
            env!("CARGO_PKG_VERSION")
        )
    );
}

#[test]
fn body_errors_convert_back_to_their_variant() {
    let mut r = Pieces {
        parts: vec![b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab".to_vec()],
    };
    let mut buf = Vec::new();
    let head = read_head(&mut r, &mut buf, &Limits::default()).unwrap();
    let mut body = Body::new(r, buf, BodyMode::for_response("GET", &head).unwrap());
    let e = body.read_to_end(&mut Vec::new()).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    assert!(matches!(
        Error::from(e),
        Error::BodyTruncated {
            expected: 9,
            received: 2
        }
    ));
}

/// A connector whose every connection serves `per_conn` (a byte stream
/// possibly holding several responses) and counts connects.
struct Scripted {
    per_conn: Vec<Vec<u8>>,
    connects: std::cell::Cell<usize>,
    sent: std::rc::Rc<std::cell::RefCell<Vec<u8>>>,
    /// `peer_closes` of each close_idle call, in order.
    closed: std::rc::Rc<std::cell::RefCell<Vec<bool>>>,
}

impl Connect for Scripted {
    type Stream = MockStream;
    fn close_idle(&self, _stream: MockStream, peer_closes: bool) {
        self.closed.borrow_mut().push(peer_closes);
    }
    fn connect(&self, _host: &str, _port: u16) -> io::Result<MockStream> {
        let i = self.connects.get();
        self.connects.set(i + 1);
        let data = self.per_conn.get(i).cloned().unwrap_or_default();
        Ok(MockStream {
            input: Pieces { parts: vec![data] },
            sent: self.sent.clone(),
        })
    }
}

fn scripted(per_conn: Vec<&[u8]>) -> Client<Scripted> {
    Client::new(Scripted {
        per_conn: per_conn.into_iter().map(<[u8]>::to_vec).collect(),
        connects: std::cell::Cell::new(0),
        sent: Default::default(),
        closed: Default::default(),
    })
}

#[test]
fn whole_responses_close_through_close_idle_and_cut_ones_are_dropped() {
    let closed = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let client = Client::new(Scripted {
        per_conn: vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab".to_vec(),
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nab".to_vec(),
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab".to_vec(),
        ],
        connects: std::cell::Cell::new(0),
        sent: Default::default(),
        closed: std::rc::Rc::clone(&closed),
    });
    // Kept alive: pooled, not closed yet.
    let mut resp = client.get("http://h.test:1/").unwrap();
    assert_eq!(body(&mut resp), "ab");
    assert!(client.recycle(resp));
    assert_eq!(*closed.borrow(), Vec::<bool>::new());
    // The server said close: it closes first (RFC 9112 §9.6).
    let mut resp = client.get("http://h.test:2/").unwrap();
    assert_eq!(body(&mut resp), "ab");
    assert!(!client.recycle(resp));
    assert_eq!(*closed.borrow(), [true]);
    // Left mid-body: dropped, no clean teardown.
    let resp = client.get("http://h.test:3/").unwrap();
    assert!(!client.recycle(resp));
    assert_eq!(*closed.borrow(), [true]);
    // The pooled one, when the client goes: we close it.
    drop(client);
    assert_eq!(*closed.borrow(), [true, false]);
}

fn body(resp: &mut Response<MockStream>) -> String {
    let mut s = String::new();
    resp.read_to_string(&mut s).unwrap();
    s
}

#[test]
fn keep_alive_reuses_one_connection_for_several_requests() {
    let two = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nb\r\n0\r\n\r\n";
    let client = scripted(vec![two]);
    let mut r1 = client.get("http://h/1").unwrap();
    assert!(!r1.reused);
    assert_eq!(body(&mut r1), "a");
    assert!(client.recycle(r1), "finished body: back to the pool");
    let mut r2 = client.get("http://h/2").unwrap();
    assert!(r2.reused);
    assert_eq!(body(&mut r2), "b");
    assert_eq!(
        client.pool_stats(),
        PoolStats {
            connects: 1,
            reused: 1,
            retries: 0
        }
    );
    let sent = String::from_utf8(client.connector().sent.borrow().clone()).unwrap();
    assert!(!sent.contains("Connection: close"), "{sent}");
}

#[test]
fn connection_close_and_http_1_0_are_not_reused() {
    let client = scripted(vec![
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
    ]);
    let r = client.get("http://h/").unwrap();
    assert!(!client.recycle(r));
    let r = client.get("http://h/").unwrap();
    assert!(!client.recycle(r));
    assert_eq!(client.pool_stats().connects, 2);
}

#[test]
fn a_pooled_connection_closed_by_the_server_is_retried_once_for_get() {
    // The first connection serves one response then EOF; the retry opens a second.
    let client = scripted(vec![
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb",
    ]);
    let mut r = client.get("http://h/").unwrap();
    body(&mut r);
    assert!(client.recycle(r));
    let mut r = client.get("http://h/").unwrap();
    assert_eq!(body(&mut r), "b");
    assert_eq!(
        client.pool_stats(),
        PoolStats {
            connects: 2,
            reused: 1,
            retries: 1
        }
    );
    // POST is not idempotent: no silent retry.
    let client = scripted(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"]);
    let r = client.get("http://h/").unwrap();
    assert!(client.recycle(r));
    let mut post = Request::get(Url::parse("http://h/").unwrap());
    post.method = "POST".into();
    post.body = Some(b"x".to_vec().into());
    assert!(matches!(
        client.send(post),
        Err(Error::ConnectionClosedBeforeResponse)
    ));
}

#[test]
fn redirects_follow_the_method_rules_and_the_limit() {
    let client = scripted(vec![
        b"HTTP/1.1 303 See Other\r\nLocation: /result\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ]);
    let mut post = Request::get(Url::parse("http://h/form").unwrap());
    post.method = "POST".into();
    post.body = Some(b"data".to_vec().into());
    let mut r = client.send_following(post, 5).unwrap();
    assert_eq!(body(&mut r), "ok");
    let sent = String::from_utf8(client.connector().sent.borrow().clone()).unwrap();
    assert!(
        sent.contains("POST /form HTTP/1.1") && sent.contains("GET /result HTTP/1.1"),
        "303 turns POST into GET: {sent}"
    );
    // 307 keeps the method and body.
    let client = scripted(vec![
        b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://h/new\r\nContent-Length: 0\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
    ]);
    let mut put = Request::get(Url::parse("http://h/old").unwrap());
    put.method = "PUT".into();
    put.body = Some(b"x".to_vec().into());
    assert_eq!(client.send_following(put, 5).unwrap().status(), 201);
    let sent = String::from_utf8(client.connector().sent.borrow().clone()).unwrap();
    assert_eq!(sent.matches("PUT ").count(), 2, "{sent}");
    // A loop hits the limit.
    let lp: &[u8] = b"HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n";
    let many: Vec<u8> = lp.iter().copied().cycle().take(lp.len() * 10).collect();
    let client = scripted(vec![&many]);
    assert!(matches!(
        client.send_following(Request::get(Url::parse("http://h/").unwrap()), 3),
        Err(Error::TooManyRedirects)
    ));
}
