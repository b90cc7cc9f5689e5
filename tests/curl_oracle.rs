//! curl is the oracle for `tunstack get`: the same command line, run by
//! real curl (the kernel's TCP, on loopback) and by `tunstack get` (our
//! TCP, on tun0), against the same servers in one private namespace.
//! Both name the site `site` (`--resolve`), so URLs, Host headers and
//! `%{url_effective}` are identical. Compared: exit codes, stdout (bodies,
//! `-i` heads, `-w` output), files written (`-o`, `-D`), whether
//! anything was said on stderr under `-s`/`-sS`, and how many retries
//! each announced (`Will retry`).
//!
//! Left out of the comparison, and why: `Date` (the clock), `Connection`
//! (a single `tunstack get` sends `Connection: close`, so nginx answers
//! `close` where curl's request gets `keep-alive`), the `-w` times and
//! `%{local_port}` (they differ from run to run for curl too), the text
//! of `%{errormsg}` and of stderr (each tool words its own messages), and
//! the remote address (127.0.0.1 for curl, 10.0.0.1 through tun0, the
//! same listening socket), and the name in the default User-Agent
//! (`curl/` against `tunstack/`; the versions follow either way).
//!
//! Two replies are answered differently on purpose (each case's `known`
//! says why, and the test checks that the difference is still exactly
//! that): a reply with no status line (curl: 1, HTTP/0.9 refused;
//! tunstack: 8, not HTTP) and a connection closed inside the head (curl
//! 7.88: 0 and no output; tunstack: 56).

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::path::Path;
use std::process::Command;

/// nginx with the paths the cases use: a page, redirects (one a loop, one
/// to another port where the Authorization header is echoed), a
/// reply-less close (444), headers echoed back, gzip.
fn nginx(dir: &Path) -> Daemon {
    let d = dir.display();
    let daemon = common::nginx(
        dir,
        64,
        &format!(
            "default_type application/octet-stream; server_tokens off;\n\
             types {{ text/plain txt; }}\n\
             server {{ listen 8080; root {d}/www;\n\
               location = /old {{ return 301 /page.txt; }}\n\
               location = /loop {{ return 302 /loop; }}\n\
               location = /empty {{ return 444; }}\n\
               location = /echo {{ default_type text/plain;\n\
                 return 200 \"$request_method|$http_user_agent|$http_referer|$http_authorization|$http_range|$http_x_a|$content_type|$content_length\\n\"; }}\n\
               location /gz/ {{ gzip on; gzip_types text/plain; gzip_min_length 1; }}\n\
               location = /to-echo {{ return 302 /echo; }}\n\
               location = /to-other-port {{ return 302 http://site:8007/; }}\n\
             }}\n\
             server {{ listen 8007; location / {{ default_type text/plain;\n\
               return 200 \"8007|$http_authorization\\n\"; }} }}"
        ),
    );
    wait_for_listener(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080));
    daemon
}

/// A server on `port` that reads the request, sends `reply` and closes.
fn canned_server(port: u16, reply: &'static [u8]) -> TcpListener {
    let l = TcpListener::bind(("0.0.0.0", port)).unwrap();
    let l2 = l.try_clone().unwrap();
    std::thread::spawn(move || {
        for mut s in l2.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(reply);
        }
    });
    l
}

/// A server that answers 503 and 200 in turn (each tool's first try
/// gets the 503, as the cases run one tool after the other).
fn flaky_server() -> TcpListener {
    let l = TcpListener::bind("0.0.0.0:8002").unwrap();
    let l2 = l.try_clone().unwrap();
    std::thread::spawn(move || {
        for (i, mut s) in l2.incoming().flatten().enumerate() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let (status, body) = if i % 2 == 0 {
                ("503 Service Unavailable", "busy\n")
            } else {
                ("200 OK", "ok\n")
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    l
}

struct Case {
    name: &'static str,
    args: &'static [&'static str],
    /// Files (relative to the run's directory) to compare after the run.
    files: &'static [&'static str],
    /// A file to create before the run (`-C -`).
    pre: Option<(&'static str, &'static [u8])>,
    /// A difference kept on purpose: the exit codes (curl's, ours) and
    /// why; the test checks that both tools still answer so.
    known: Option<(i32, i32, &'static str)>,
    /// How many retries curl announces (checked, so that a case about
    /// retrying cannot pass by neither tool retrying).
    retries: usize,
}

const fn case(name: &'static str, args: &'static [&'static str]) -> Case {
    Case {
        name,
        args,
        files: &[],
        pre: None,
        known: None,
        retries: 0,
    }
}

const W: &str =
    "%{http_code} %{url_effective} %{size_download} %{num_connects} %{remote_port} %{exitcode}\\n";

fn cases() -> Vec<Case> {
    vec![
        case("plain GET", &["http://site:8080/page.txt"]),
        case("-i", &["-i", "http://site:8080/page.txt"]),
        case("-I", &["-I", "http://site:8080/page.txt"]),
        case("404 without -f", &["http://site:8080/missing"]),
        case("404 with -f", &["-f", "http://site:8080/missing"]),
        case(
            "404 with --fail-with-body",
            &["--fail-with-body", "http://site:8080/missing"],
        ),
        case("301 without -L", &["http://site:8080/old"]),
        case("-L", &["-L", "http://site:8080/old"]),
        case("-L -i", &["-L", "-i", "http://site:8080/old"]),
        case(
            "redirect loop",
            &["-L", "--max-redirs", "3", "http://site:8080/loop"],
        ),
        case("-w", &["-w", W, "http://site:8080/page.txt"]),
        case("-w -L", &["-L", "-w", W, "http://site:8080/old"]),
        case(
            "-w on a refused connect",
            &[
                "-w",
                "%{http_code} %{exitcode} %{num_connects}\\n",
                "http://site:9/",
            ],
        ),
        Case {
            files: &["h.txt"],
            ..case("-D", &["-D", "h.txt", "http://site:8080/page.txt"])
        },
        Case {
            files: &["h.txt"],
            ..case("-L -D", &["-L", "-D", "h.txt", "http://site:8080/old"])
        },
        case("-A", &["-A", "agent/1.0", "http://site:8080/echo"]),
        case("-e", &["-e", "http://ref.test/", "http://site:8080/echo"]),
        case("-u", &["-u", "user:pa:ss", "http://site:8080/echo"]),
        // Userinfo: Basic credentials, percent-decoded, the URL shown as
        // given by %{url_effective}.
        case(
            "userinfo",
            &[
                "-w",
                "%{url_effective}\\n",
                "http://user:pass@site:8080/echo",
            ],
        ),
        case(
            "userinfo percent-decoded",
            &["http://us%40er:p%3Ass%2F@site:8080/echo"],
        ),
        case("userinfo, no password", &["http://user@site:8080/echo"]),
        case("userinfo, two colons", &["http://a:b:c@site:8080/echo"]),
        case("userinfo, empty", &["http://@site:8080/echo"]),
        case(
            "userinfo, bad escape kept",
            &["http://us%zzer:p@site:8080/echo"],
        ),
        case("userinfo with a NUL", &["http://u:p%00@site:8080/echo"]),
        case("userinfo, two @", &["http://a@b:c@site:8080/echo"]),
        case(
            "-u wins over userinfo",
            &["-u", "x:y", "http://user:pass@site:8080/echo"],
        ),
        case(
            "-L keeps userinfo on the same server",
            &[
                "-L",
                "-w",
                "%{url_effective}\\n",
                "http://user:pass@site:8080/to-echo",
            ],
        ),
        case(
            "-L drops userinfo for another port",
            &["-L", "http://user:pass@site:8080/to-other-port"],
        ),
        case(
            "-L drops -u for another port",
            &["-L", "-u", "x:y", "http://site:8080/to-other-port"],
        ),
        case("-r", &["-r", "0-9", "http://site:8080/page.txt"]),
        case("-r on the echo", &["-r", "5-", "http://site:8080/echo"]),
        case(
            "-H adds, -A defers to -H",
            &[
                "-H",
                "X-A: 1",
                "-H",
                "User-Agent: h",
                "-A",
                "a",
                "http://site:8080/echo",
            ],
        ),
        case(
            "-H 'Name:' removes a default",
            &["-H", "User-Agent:", "http://site:8080/echo"],
        ),
        case(
            "-H 'Name;' sends it empty",
            &["-H", "X-A;", "http://site:8080/echo"],
        ),
        case("-d", &["-d", "a=1", "-d", "b=2", "http://site:8080/echo"]),
        case("-X DELETE", &["-X", "DELETE", "http://site:8080/echo"]),
        Case {
            files: &["p.txt"],
            pre: Some(("p.txt", b"0123456789")),
            ..case(
                "-C - resumes",
                &["-C", "-", "-o", "p.txt", "http://site:8080/page.txt"],
            )
        },
        Case {
            files: &["d/e/f.txt"],
            ..case(
                "--create-dirs",
                &[
                    "--create-dirs",
                    "-o",
                    "d/e/f.txt",
                    "http://site:8080/page.txt",
                ],
            )
        },
        Case {
            files: &["never.txt"],
            ..case(
                "-o after a refused connect",
                &["-o", "never.txt", "http://site:9/x"],
            )
        },
        case("empty reply", &["http://site:8080/empty"]),
        case("partial file", &["http://site:8001/"]),
        Case {
            known: Some((
                1,
                8,
                "curl takes a reply without a status line for HTTP/0.9 and refuses it as \
                 an unsupported protocol; tunstack calls it a reply that is not HTTP",
            )),
            ..case("not HTTP", &["http://site:8003/"])
        },
        Case {
            known: Some((
                0,
                56,
                "curl 7.88 exits 0 with no output when the connection closes inside the \
                 head; tunstack reports the receive failure",
            )),
            ..case("half a head", &["http://site:8004/"])
        },
        case("bad chunk size", &["http://site:8005/"]),
        case("chunked body cut short", &["http://site:8006/"]),
        case("timeout", &["--max-time", "1", "http://site:8090/"]),
        case("unsupported protocol", &["nosuch://site/"]),
        case("malformed URL", &["http://site:99999/"]),
        case("no scheme", &["site:8080/page.txt"]),
        case("-s hides the error", &["-s", "http://site:9/"]),
        case("-sS shows it", &["-sS", "http://site:9/"]),
        case(
            "--compressed",
            &["--compressed", "http://site:8080/gz/words.txt"],
        ),
        case("-6", &["-6", "http://site:8080/page.txt"]),
        case(
            "two URLs to stdout",
            &["http://site:8080/page.txt", "http://site:8080/echo"],
        ),
        case(
            "two URLs, -w shows the reuse",
            &[
                "-w",
                W,
                "http://site:8080/page.txt",
                "-L",
                "http://site:8080/old",
            ],
        ),
        Case {
            files: &["a.txt", "b.txt"],
            ..case(
                "two URLs, two -o",
                &[
                    "-o",
                    "a.txt",
                    "http://site:8080/page.txt",
                    "-o",
                    "b.txt",
                    "http://site:8080/echo",
                ],
            )
        },
        Case {
            files: &["page.txt", "words.txt"],
            ..case(
                "two URLs, two -O",
                &[
                    "-O",
                    "http://site:8080/page.txt",
                    "-O",
                    "http://site:8080/gz/words.txt",
                ],
            )
        },
        Case {
            files: &["page.txt", "b.txt"],
            ..case(
                "-O then -o pair by position",
                &[
                    "-O",
                    "http://site:8080/page.txt",
                    "-o",
                    "b.txt",
                    "http://site:8080/echo",
                ],
            )
        },
        Case {
            files: &["a.txt", "words.txt"],
            ..case(
                "URLs first, then -o and -O",
                &[
                    "http://site:8080/page.txt",
                    "http://site:8080/gz/words.txt",
                    "-o",
                    "a.txt",
                    "-O",
                ],
            )
        },
        Case {
            files: &["a.txt", "c.txt"],
            ..case(
                "three URLs, two -o: the third to stdout",
                &[
                    "-o",
                    "a.txt",
                    "http://site:8080/page.txt",
                    "http://site:8080/echo",
                    "-o",
                    "c.txt",
                    "http://site:8080/gz/words.txt",
                ],
            )
        },
        case(
            "--retry does not retry a refused connect",
            &["--retry", "2", "--retry-delay", "0", "http://site:9/"],
        ),
        Case {
            retries: 2,
            ..case(
                "--retry-connrefused does",
                &[
                    "--retry",
                    "2",
                    "--retry-delay",
                    "0",
                    "--retry-connrefused",
                    "http://site:9/",
                ],
            )
        },
        // curl retries while less than --retry-max-time has passed, even
        // if the wait then goes past it.
        Case {
            retries: 1,
            ..case(
                "--retry-max-time",
                &[
                    "--retry",
                    "3",
                    "--retry-delay",
                    "1",
                    "--retry-max-time",
                    "1",
                    "http://site:8002/",
                ],
            )
        },
        case("-4", &["-4", "http://site:8080/page.txt"]),
        case(
            "-o into a missing directory",
            &["-o", "no/such/dir/x", "http://site:8080/page.txt"],
        ),
        case(
            "-d @ a missing file",
            &["-d", "@no-such-file", "http://site:8080/echo"],
        ),
        case("-sSf on a 404", &["-sSf", "http://site:8080/missing"]),
        case(
            "a refused URL, then a good one",
            &["-w", W, "http://site:9/", "http://site:8080/page.txt"],
        ),
        case(
            "a good URL, then a 404 with -f",
            &[
                "-f",
                "http://site:8080/page.txt",
                "http://site:8080/missing",
            ],
        ),
        Case {
            retries: 1,
            ..case(
                "--retry after a 503",
                &["--retry", "2", "--retry-delay", "0", "http://site:8002/"],
            )
        },
        Case {
            retries: 1,
            ..case(
                "-f --retry after a 503",
                &[
                    "-f",
                    "--retry",
                    "1",
                    "--retry-delay",
                    "0",
                    "http://site:8002/",
                ],
            )
        },
    ]
}

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr_empty: bool,
    /// Lines announcing a retry ("Will retry in …" for both tools).
    retries: usize,
    files: Vec<Option<String>>,
}

/// Replaces each tool's default User-Agent (`curl/X.Y.Z`,
/// `tunstack/X.Y.Z`, which the echo shows) with `AGENT`.
fn agent(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = ["curl/", "tunstack/"]
        .iter()
        .filter_map(|p| rest.find(p).map(|i| (i, p.len())))
        .min()
        .map(|(i, n)| (i, i + n))
        .map(|(i, j)| {
            out.push_str(&rest[..i]);
            out.push_str("AGENT");
            let tail = &rest[j..];
            let version = tail
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(tail.len());
            j + version
        })
    {
        rest = &rest[i..];
    }
    out.push_str(rest);
    out
}

/// What may differ between the tools (see the module docs).
fn normalize(s: &str) -> String {
    agent(&s.replace("127.0.0.1", "10.0.0.1"))
        .split_inclusive('\n')
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            !l.starts_with("date:") && !l.starts_with("connection:")
        })
        .collect()
}

fn run(tool: &str, dir: &Path, c: &Case) -> Ran {
    std::fs::create_dir_all(dir).unwrap();
    if let Some((name, content)) = c.pre {
        std::fs::write(dir.join(name), content).unwrap();
    }
    let mut cmd = if tool == "curl" {
        let mut cmd = Command::new("curl");
        for port in [8080, 8001, 8002, 8003, 8004, 8005, 8006, 8007, 8090, 9, 80] {
            cmd.arg("--resolve").arg(format!("site:{port}:127.0.0.1"));
        }
        cmd
    } else {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tunstack"));
        cmd.args(["get", "--resolve", "site:10.0.0.1"]);
        cmd
    };
    // No -s unless the case asks: both print a status or progress only
    // to stderr, which is not compared.
    let out = cmd.args(c.args).current_dir(dir).output().unwrap();
    Ran {
        code: out.status.code(),
        stdout: normalize(&String::from_utf8_lossy(&out.stdout)),
        stderr_empty: out.stderr.is_empty(),
        retries: String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| l.to_ascii_lowercase().contains("will retry"))
            .count(),
        files: c
            .files
            .iter()
            .map(|f| {
                std::fs::read(dir.join(f))
                    .ok()
                    .map(|b| normalize(&String::from_utf8_lossy(&b)))
            })
            .collect(),
    }
}

#[test]
fn tunstack_get_answers_as_curl_does() {
    enter_netns();
    let dir = TempDir::new("curl-oracle");
    let www = dir.path().join("www");
    std::fs::create_dir_all(www.join("gz")).unwrap();
    std::fs::write(
        www.join("page.txt"),
        "the page: 0123456789abcdef\n".repeat(40),
    )
    .unwrap();
    std::fs::write(www.join("gz/words.txt"), "words words words\n".repeat(500)).unwrap();
    let _nginx = nginx(dir.path());
    // Announces 100 bytes, sends 50 and closes: a partial file.
    let _partial = canned_server(
        8001,
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nContent-Type: text/plain\r\n\r\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    );
    let _garbage = canned_server(8003, b"HELLO THERE\r\n\r\n");
    let _half_head = canned_server(8004, b"HTTP/1.1 200 OK\r\nContent-Le");
    let _bad_chunk = canned_server(
        8005,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    );
    let _short_chunked = canned_server(
        8006,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
    );
    let _flaky = flaky_server();
    // Accepts nothing: the request is never answered.
    let _silent = TcpListener::bind("0.0.0.0:8090").unwrap();

    let all = cases();
    assert!(all.len() >= 25, "at least 25 combinations");
    let mut differences = Vec::new();
    for (i, c) in all.iter().enumerate() {
        let curl = run("curl", &dir.path().join(format!("curl{i}")), c);
        let ours = run("tunstack", &dir.path().join(format!("tun{i}")), c);
        let mut diff = Vec::new();
        if let Some((theirs, mine, why)) = c.known {
            assert_eq!(
                (curl.code, ours.code),
                (Some(theirs), Some(mine)),
                "{}: the known difference changed ({why})",
                c.name
            );
            eprintln!("{:<32} exit {theirs:>3} vs {mine}: known: {why}", c.name);
            continue;
        }
        if curl.code != ours.code {
            diff.push(format!("exit {:?} vs {:?}", curl.code, ours.code));
        }
        assert_eq!(curl.retries, c.retries, "{}: curl's retries", c.name);
        if curl.retries != ours.retries {
            diff.push(format!("retries {} vs {}", curl.retries, ours.retries));
        }
        if curl.stdout != ours.stdout {
            diff.push(format!(
                "stdout\n--- curl\n{}\n--- tunstack\n{}",
                curl.stdout, ours.stdout
            ));
        }
        for (f, (a, b)) in c.files.iter().zip(curl.files.iter().zip(&ours.files)) {
            if a != b {
                diff.push(format!("{f}\n--- curl\n{a:?}\n--- tunstack\n{b:?}"));
            }
        }
        let silent_case = c.args.first().is_some_and(|a| a.starts_with("-s"));
        if silent_case && curl.stderr_empty != ours.stderr_empty {
            diff.push(format!(
                "stderr empty: curl {} tunstack {}",
                curl.stderr_empty, ours.stderr_empty
            ));
        }
        eprintln!(
            "{:<32} exit {:>3?} {}",
            c.name,
            curl.code.unwrap_or(-1),
            if diff.is_empty() { "same" } else { "DIFFERENT" }
        );
        if !diff.is_empty() {
            differences.push(format!("{}: {}", c.name, diff.join("\n")));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} cases differ from curl:\n{}",
        differences.len(),
        all.len(),
        differences.join("\n\n")
    );
}
