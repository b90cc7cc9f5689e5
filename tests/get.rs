//! `tunstack get` with curl's flags against real servers in a private
//! namespace: nginx (keep-alive, chunked via SSI, gzip, redirects, a page
//! with many requisites, 50 MiB), a Python upload sink (methods and
//! streamed bodies), and servers that never answer (timeouts).

mod common;

use common::*;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// nginx on the wildcard address (10.0.0.1 exists only while a tunstack
/// process holds tun0), serving `www` with SSI (chunked bodies) under
/// /ssi/, gzip under /gz/ and a redirect at /old.
fn nginx(dir: &Path) -> Daemon {
    let d = dir.display();
    common::nginx_listening(
        dir,
        8080,
        &format!(
            "default_type application/octet-stream;\n\
             types {{ text/html html; text/css css; application/javascript js; image/png png; image/x-icon ico; text/plain txt; }}\n\
             keepalive_requests 1000; keepalive_timeout 60s;\n\
             server {{ listen 8080; root {d}/www;\n\
               location /ssi/ {{ ssi on; }}\n\
               location /gz/ {{ gzip on; gzip_types text/plain; gzip_min_length 1; }}\n\
               location = /old {{ return 301 /page/index.html; }}\n\
             }}"
        ),
    )
}

/// The page for --page-requisites: 13 same-origin objects besides the
/// HTML (one only reachable through a stylesheet's @import, one through
/// url()), a link that is not a requisite and a foreign-origin image.
fn write_site(www: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = vec![
        (
            "page/a.css".into(),
            b"@import \"b.css\"; body { background: url(img/bg.png) }\n".to_vec(),
        ),
        ("page/b.css".into(), b"p { color: red }\n".to_vec()),
        ("page/c.css".into(), b"h1 { color: blue }\n".to_vec()),
        ("page/app.js".into(), b"console.log('app');\n".to_vec()),
        ("page/lib.js".into(), b"console.log('lib');\n".to_vec()),
        ("page/img/bg.png".into(), random_bytes(3000, 1)),
        ("favicon.ico".into(), random_bytes(500, 2)),
    ];
    for i in 1..=6 {
        files.push((
            format!("page/img/{i}.png"),
            random_bytes(20_000 * i, i as u64),
        ));
    }
    let html = "<!doctype html><html><head><title>requisites</title>\n\
        <link rel=stylesheet href=a.css><link rel=\"stylesheet\" href=\"/page/c.css\">\n\
        <link rel=icon href=/favicon.ico><script src=app.js></script><script src=lib.js></script>\n\
        <script>document.write('<img src=\"never.png\">')</script>\n\
        </head><body><h1>page</h1><a href=/other.html>not fetched</a>\n\
        <img src=img/1.png><img src=img/2.png><img src=img/3.png>\n\
        <img src=img/4.png srcset=\"img/5.png 2x\"><picture><source srcset=img/6.png><img src=img/1.png></picture>\n\
        <img src=http://10.0.0.9/foreign.png>\n\
        </body></html>\n";
    files.push(("page/index.html".into(), html.as_bytes().to_vec()));
    for (p, data) in &files {
        let path = www.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
    }
    files
}

#[test]
fn nginx_keep_alive_chunked_gzip_redirects_head_and_page_requisites() {
    enter_netns();
    let dir = TempDir::new("get-nginx");
    let www = dir.path().join("www");
    std::fs::create_dir_all(www.join("ssi")).unwrap();
    std::fs::create_dir_all(www.join("gz")).unwrap();
    let site = write_site(&www);
    std::fs::write(
        www.join("ssi/page.html"),
        "<p>served from <!--# echo var=\"DOCUMENT_URI\" --> in chunks</p>\n",
    )
    .unwrap();
    let words = b"tunstack moves bytes through tun0 ".repeat(4000);
    std::fs::write(www.join("gz/words.txt"), &words).unwrap();
    let _nginx = nginx(dir.path());

    // Chunked: SSI output has no Content-Length.
    let out = tunstack(&["get", "-v", "http://10.0.0.1:8080/ssi/page.html"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(
        text(&out.stdout),
        "<p>served from /ssi/page.html in chunks</p>\n"
    );
    assert!(err.contains("< Transfer-Encoding: chunked"), "{err}");
    assert!(err.contains("framed by chunked transfer coding"), "{err}");

    // gzip: decoded with --compressed, and the narration says so.
    let out = tunstack(&[
        "get",
        "-v",
        "--compressed",
        "http://10.0.0.1:8080/gz/words.txt",
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(out.stdout == words, "gzip body decoded to the original");
    assert!(err.contains("> Accept-Encoding: gzip, deflate"), "{err}");
    assert!(err.contains("< Content-Encoding: gzip"), "{err}");
    assert!(
        err.contains(&format!("{} bytes decoded", words.len())),
        "{err}"
    );

    // -I: the response head is the output.
    let out = tunstack(&["get", "-I", "http://10.0.0.1:8080/page/index.html"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let head = text(&out.stdout);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("Content-Type: text/html\r\n"), "{head}");
    assert!(head.ends_with("\r\n\r\n"), "{head}");

    // A redirect is not followed without -L (exit 0, as curl), followed (on
    // the same kept-alive connection) with it.
    let out = tunstack(&["get", "http://10.0.0.1:8080/old"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("301"));
    let out = tunstack(&["get", "-L", "-v", "http://10.0.0.1:8080/old"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let page = &site.iter().find(|(p, _)| p == "page/index.html").unwrap().1;
    assert_eq!(&out.stdout, page);
    assert!(
        err.contains("Following the 301 redirect to http://10.0.0.1:8080/page/index.html"),
        "{err}"
    );
    assert!(err.contains("(it carried 2 requests)"), "{err}");
    assert_eq!(err.matches("Connected to").count(), 1, "{err}");

    // The page and its 13 same-origin requisites, one after another, over
    // ≤ 2 connections (tests/page_parallel.rs loads pages in parallel).
    let saved = dir.path().join("saved");
    let out = tunstack(&[
        "get",
        "--page-requisites",
        "--parallel",
        "1",
        "-P",
        saved.to_str().unwrap(),
        "http://10.0.0.1:8080/page/index.html",
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("page: 14 objects (13 requisites)"), "{err}");
    let conns: u32 = err
        .split(" connection")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("connection count in {err}"));
    assert!((1..=2).contains(&conns), "{conns} connections: {err}");
    for (p, data) in &site {
        let got = std::fs::read(saved.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
        assert!(&got == data, "{p} saved intact");
    }
    assert!(
        !saved.join("other.html").exists(),
        "links are not requisites"
    );
    assert!(
        !saved.join("page/never.png").exists(),
        "script text is not markup"
    );
}

#[test]
fn fifty_mebibytes_to_a_file_and_a_progress_bar_only_on_a_terminal() {
    enter_netns();
    let dir = TempDir::new("get-50");
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    let data = random_bytes(50 << 20, 50);
    std::fs::write(www.join("big.bin"), &data).unwrap();
    let _nginx = nginx(dir.path());

    let file = dir.path().join("big.out");
    let out = tunstack(&[
        "get",
        "-o",
        file.to_str().unwrap(),
        "http://10.0.0.1:8080/big.bin",
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(sha256(&std::fs::read(&file).unwrap()), sha256(&data));
    assert!(
        !err.contains("MiB"),
        "no progress bar off a terminal: {err}"
    );

    // `script` gives the command a pseudo-terminal: now a bar is drawn.
    let cmd = format!(
        "{} get -O -P {} http://10.0.0.1:8080/big.bin",
        env!("CARGO_BIN_EXE_tunstack"),
        dir.path().display()
    );
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .output()
        .expect("script");
    let tty = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{tty}");
    assert!(tty.contains("MiB"), "progress bar on a terminal: {tty:?}");
    assert_eq!(
        sha256(&std::fs::read(dir.path().join("big.bin")).unwrap()),
        sha256(&data),
        "-O saves under the URL's file name"
    );
}

/// A server that reports what it received: "METHOD LENGTH SHA256 TYPE".
const SINK: &str = r#"
import hashlib, http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def handle_any(self):
        n = int(self.headers.get("Content-Length", "0"))
        h = hashlib.sha256()
        left = n
        while left:
            b = self.rfile.read(min(left, 1 << 16))
            if not b:
                break
            h.update(b)
            left -= len(b)
        body = ("%s %d %s %s\n" % (self.command, n - left, h.hexdigest(),
                self.headers.get("Content-Type", "-"))).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_POST = do_PUT = do_DELETE = do_GET = handle_any
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), H).serve_forever()
"#;

#[test]
fn methods_and_bodies_reach_the_server_and_uploads_are_streamed() {
    enter_netns();
    let dir = TempDir::new("get-upload");
    let script = dir.path().join("sink.py");
    std::fs::write(&script, SINK).unwrap();
    let _sink = Daemon::spawn(dir.path(), "python3", &[script.to_str().unwrap(), "8000"]);
    wait_for_listener(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8000));
    let url = "http://10.0.0.1:8000/upload";

    let out = tunstack(&["get", "-d", "a=1", "-d", "b=2", url]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!(
            "POST 7 {} application/x-www-form-urlencoded\n",
            sha256(b"a=1&b=2")
        )
    );
    let out = tunstack(&["get", "-X", "DELETE", url]);
    assert_eq!(text(&out.stdout), format!("DELETE 0 {} -\n", sha256(b"")));

    // 64 MiB streamed from disk: the upload costs tunstack far less memory
    // than the file. Measured against the same command with a 64 KiB
    // file, so the binary's own pages (a debug build maps ~9 MiB of them)
    // are not counted: the difference is the buffers the upload grew.
    let upload = |name: &str, len: usize| {
        let data = random_bytes(len, 64);
        let file = dir.path().join(name);
        std::fs::write(&file, &data).unwrap();
        let digest = sha256(&data);
        drop(data);
        let at = format!("@{}", file.display());
        let (out, peak) = tunstack_peak_rss(
            env!("CARGO_BIN_EXE_tunstack"),
            dir.path(),
            &[
                "get",
                "-X",
                "PUT",
                "--data-binary",
                &at,
                "-H",
                "Content-Type: application/octet-stream",
                url,
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(
            text(&out.stdout),
            format!("PUT {len} {digest} application/octet-stream\n")
        );
        assert!(peak > 0, "no RSS sample");
        peak
    };
    let small = upload("small.bin", 64 << 10);
    let peak = upload("upload.bin", 64 << 20);
    // The send buffer grows with the congestion window to at most 4 MiB,
    // and the file is read in chunks: 8 MiB covers both with room.
    assert!(
        peak.saturating_sub(small) < 8 * 1024,
        "peak RSS {peak} KiB while uploading 64 MiB against {small} KiB for 64 KiB: not streamed"
    );
}

#[test]
fn stats_are_printed_when_max_time_expires() {
    // curl's -w still reports on a timeout; --stats does the same with
    // what it has (the stack's counters), and the exit code stays 28.
    enter_netns();
    let silent = std::net::TcpListener::bind("0.0.0.0:8091").unwrap();
    let out = tunstack(&["get", "--stats", "--max-time", "1", "http://10.0.0.1:8091/"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(28), "{err}");
    assert!(err.contains("timed out (--max-time)"), "{err}");
    let stack = err.split("stack:\n").nth(1).expect("the stack's counters");
    let tx_packets = stack
        .lines()
        .find_map(|l| l.trim().strip_prefix("tx_packets"))
        .map(|v| v.trim().parse::<u64>());
    assert!(
        matches!(tx_packets, Some(Ok(n)) if n >= 2),
        "the SYN and the request went out: {err}"
    );
    drop(silent);
}

#[test]
fn timeouts_and_failures_exit_with_curls_codes_and_a_clear_message() {
    enter_netns();
    // A kernel listener that never accepts: the handshake completes, no
    // response ever comes.
    let silent = std::net::TcpListener::bind("0.0.0.0:8090").unwrap();

    let t = Instant::now();
    let out = tunstack(&["get", "--max-time", "1.5", "http://10.0.0.1:8090/"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(28), "{err}");
    assert!(err.contains("timed out (--max-time)"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(15));

    let out = tunstack(&["get", "--read-timeout", "1", "http://10.0.0.1:8090/"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(28), "{err}");
    assert!(
        err.contains("no data from the server for 1.0 s (--read-timeout)"),
        "{err}"
    );

    // Nobody owns 10.0.0.3 and the namespace does not forward: no answer.
    let out = tunstack(&["get", "--connect-timeout", "1", "http://10.0.0.3/"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(28), "{err}");
    assert!(
        err.contains("connection to 10.0.0.3:80 timed out after 1.0 s"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    drop(silent);

    // Usage errors are exit 2 with a message, before any network use.
    for bad in [
        vec!["get", "-H", "no colon", "http://10.0.0.1/"],
        vec!["get", "-X", "GE T", "http://10.0.0.1/"],
        vec!["get", "--max-time", "0", "http://10.0.0.1/"],
        vec!["get", "-p", "-o", "x", "http://10.0.0.1/"],
    ] {
        let out = tunstack(&bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", text(&out.stderr));
        assert!(text(&out.stderr).starts_with("tunstack: "), "{bad:?}");
    }
    // curl's code for -O without a file name (23), also before any
    // network use. (A missing `-d @file` is only a warning in curl: an
    // empty POST; tests/curl_oracle.rs compares that with curl.)
    let bad = ["get", "-O", "http://10.0.0.1/"];
    let out = tunstack(&bad);
    assert_eq!(
        out.status.code(),
        Some(23),
        "{bad:?}: {}",
        text(&out.stderr)
    );
    assert!(text(&out.stderr).starts_with("tunstack: "), "{bad:?}");
}

#[test]
fn url_credentials_are_sent_and_never_shown_in_the_clear() {
    // A server that answers with the Authorization header it got, on
    // the wildcard address (10.0.0.1 exists only while tunstack runs).
    enter_netns();
    let l = std::net::TcpListener::bind("0.0.0.0:8089").unwrap();
    std::thread::spawn(move || {
        use std::io::{BufRead, BufReader, Write};
        for s in l.incoming().flatten() {
            let mut r = BufReader::new(s);
            let mut auth = String::from("none");
            let mut line = String::new();
            while r.read_line(&mut line).is_ok_and(|n| n > 2) {
                if let Some(v) = line.strip_prefix("Authorization: ") {
                    auth = v.trim().to_string();
                }
                line.clear();
            }
            let body = format!("{auth}\n");
            let mut s = r.into_inner();
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let out = tunstack(&[
        "get",
        "-v",
        "http://alice:s3cr%65t%21@10.0.0.1:8089/private",
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    // base64("alice:s3cret!"), percent-decoded as curl does.
    assert_eq!(text(&out.stdout), "Basic YWxpY2U6czNjcmV0IQ==\n");
    // What curl -v shows: the user, and the header as sent.
    assert!(
        err.contains("* Server auth using Basic with user 'alice'"),
        "{err}"
    );
    assert!(
        err.contains("> Authorization: Basic YWxpY2U6czNjcmV0IQ=="),
        "{err}"
    );
    // The password never appears, decoded or as typed, and the final
    // status line names the URL without its userinfo.
    assert!(
        !err.contains("s3cret") && !err.contains("s3cr%65t"),
        "{err}"
    );
    assert!(err.contains("· http://10.0.0.1:8089/private"), "{err}");
}
