//! https through tunstack's own TCP against nginx with TLS in a private
//! namespace. Every certificate is made at test time with the `openssl`
//! CLI: a CA, a server certificate for `site.test`, and the bad variants
//! (wrong host name, expired, signed by an unknown CA); servers that speak
//! only TLS 1.2 or only TLS 1.3. Nothing is downloaded. The name
//! `site.test` reaches the kernel side through `--resolve`.
//!
//! The exit codes are curl's: 60 for a certificate that is not trusted,
//! 35 for a failed handshake.

mod common;

use common::pki::{make_ca, make_leaf, make_server_key};
use common::*;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use tunstack::dns::{Hosts, Resolver};
use tunstack::http;
use tunstack::http::tls::{CertificateDer, PemObject};
use tunstack::StackConnector;

const SITE: &str = "site.test";
const RESOLVE: &str = "site.test:10.0.0.1";

/// Ports of the nginx servers.
const GOOD: u16 = 8443;
const WRONG_HOST: u16 = 8444;
const EXPIRED: u16 = 8445;
const UNKNOWN_CA: u16 = 8446;
const TLS12_ONLY: u16 = 8447;
const TLS13_ONLY: u16 = 8448;
const PLAIN: u16 = 8080;

fn tunstack(args: &[&str]) -> Output {
    tunstack_env(args, &[])
}

fn tunstack_env(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut c = tunstack_cmd();
    c.args(args).env_remove("SSLKEYLOGFILE");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run tunstack")
}

fn url(port: u16, path: &str) -> String {
    format!("https://{SITE}:{port}{path}")
}

/// The CA and server certificates, as files under the test's directory.
struct Pki {
    ca: PathBuf,
}

fn make_pki(dir: &Path) -> Pki {
    make_ca(dir, "ca");
    make_ca(dir, "other-ca");
    make_server_key(dir);
    make_leaf(dir, "good", SITE, "ca", false);
    make_leaf(dir, "wrong-host", "wrong.test", "ca", false);
    make_leaf(dir, "expired", SITE, "ca", true);
    make_leaf(dir, "unknown-ca", SITE, "other-ca", false);
    Pki {
        ca: dir.join("ca.pem"),
    }
}

/// nginx with one TLS server per variant, and a plain one that redirects
/// to https. It listens on the wildcard address: 10.0.0.1 exists only
/// while a stack holds tun0.
fn nginx(dir: &Path) -> Daemon {
    let d = dir.display();
    let tls = |port: u16, cert: &str, protocols: &str| {
        format!(
            "server {{ listen {port} ssl; root {d}/www; ssl_certificate {d}/{cert}.pem;\n\
             ssl_certificate_key {d}/server.key; ssl_protocols {protocols}; }}\n"
        )
    };
    let servers = [
        tls(GOOD, "good", "TLSv1.2 TLSv1.3"),
        tls(WRONG_HOST, "wrong-host", "TLSv1.2 TLSv1.3"),
        tls(EXPIRED, "expired", "TLSv1.2 TLSv1.3"),
        tls(UNKNOWN_CA, "unknown-ca", "TLSv1.2 TLSv1.3"),
        tls(TLS12_ONLY, "good", "TLSv1.2"),
        tls(TLS13_ONLY, "good", "TLSv1.3"),
    ]
    .concat();
    let daemon = common::nginx(
        dir,
        64,
        &format!(
            "default_type application/octet-stream;\n\
             types {{ text/html html; text/css css; image/png png; }}\n\
             keepalive_requests 1000; keepalive_timeout 60s;\n\
             {servers}\
             server {{ listen {PLAIN}; root {d}/www;\n\
               location = /go {{ return 301 https://{SITE}:{GOOD}/page/index.html; }} }}"
        ),
    );
    for port in [
        GOOD, WRONG_HOST, EXPIRED, UNKNOWN_CA, TLS12_ONLY, TLS13_ONLY, PLAIN,
    ] {
        wait_for_listener(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port));
    }
    daemon
}

/// A namespace, the certificates, a site and nginx.
struct Lab {
    dir: TempDir,
    pki: Pki,
    _nginx: Daemon,
}

fn lab(tag: &str) -> Lab {
    enter_netns();
    let dir = TempDir::new(tag);
    let pki = make_pki(dir.path());
    let www = dir.path().join("www");
    std::fs::create_dir_all(www.join("page")).unwrap();
    std::fs::write(www.join("hello.txt"), "hello over tls\n").unwrap();
    let nginx = nginx(dir.path());
    Lab {
        dir,
        pki,
        _nginx: nginx,
    }
}

impl Lab {
    fn cacert(&self) -> &str {
        self.pki.ca.to_str().unwrap()
    }

    /// curl's exit code for `curl -s --cacert CA ARGS… URL`, over the
    /// kernel's loopback to the same nginx (curl is the oracle).
    fn curl_code(&self, args: &[&str], port: u16, path: &str) -> Option<i32> {
        Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "--cacert",
                self.cacert(),
                "--resolve",
            ])
            .arg(format!("{SITE}:{port}:127.0.0.1"))
            .args(args)
            .arg(url(port, path))
            .status()
            .expect("run curl")
            .code()
    }

    /// `tunstack get --resolve … --cacert CA ARGS…`.
    fn get(&self, args: &[&str]) -> Output {
        let mut all = vec!["get", "--resolve", RESOLVE, "--cacert", self.cacert()];
        all.extend_from_slice(args);
        tunstack(&all)
    }
}

#[test]
fn https_download_is_sha_identical_and_redirects_and_page_requisites_work() {
    let lab = lab("https-dl");
    let www = lab.dir.path().join("www");
    const SIZE: usize = 64 << 20;
    let data = random_bytes(SIZE, 17);
    std::fs::write(www.join("blob.bin"), &data).unwrap();
    std::fs::write(
        www.join("page/index.html"),
        "<html><head><link rel=stylesheet href=style.css></head>\
         <body><img src=/page/a.png><img src=b.png></body></html>\n",
    )
    .unwrap();
    std::fs::write(
        www.join("page/style.css"),
        "body { background: url(c.png) }\n",
    )
    .unwrap();
    for (name, seed) in [("a.png", 1), ("b.png", 2), ("c.png", 3)] {
        std::fs::write(www.join("page").join(name), random_bytes(5000, seed)).unwrap();
    }

    let out_file = lab.dir.path().join("blob.out");
    let t = Instant::now();
    let out = lab.get(&[
        "-s",
        "-o",
        out_file.to_str().unwrap(),
        &url(GOOD, "/blob.bin"),
    ]);
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let got = std::fs::read(&out_file).unwrap();
    assert_eq!(got.len(), SIZE);
    assert_eq!(sha256(&got), sha256(&data));
    eprintln!(
        "64 MiB over https in {secs:.2} s ({:.0} Mbit/s)",
        SIZE as f64 * 8.0 / secs / 1e6
    );

    // -v narrates the handshake with the certificate's real values.
    let out = lab.get(&["-v", &url(GOOD, "/hello.txt")]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(text(&out.stdout), "hello over tls\n");
    for want in [
        "* SSL connection using TLSv1.3 / TLS_AES_256_GCM_SHA384",
        "* ALPN: server accepted http/1.1",
        "*  subject: CN=site.test",
        "*  issuer: O=tunstack tests; CN=ca",
        "*  subjectAltName: host \"site.test\" matched cert's \"site.test\"",
        "*  SSL certificate verify ok.",
        "> GET /hello.txt HTTP/1.1",
        "< HTTP/1.1 200 OK",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    let year = 1970
        + std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            / 31_556_952;
    assert!(
        err.lines()
            .any(|l| l.starts_with("*  expire date: ") && l.contains(" GMT")),
        "{err}"
    );
    assert!(
        err.lines().any(|l| l.starts_with("*  start date: ")
            && (l.contains(&year.to_string()) || l.contains(&(year - 1).to_string()))),
        "start date not around {year}: {err}"
    );

    // http -> https redirect with -L; the page and its requisites over
    // https on kept-alive connections.
    // Both captured: every connection, plain or TLS, kept alive or not,
    // ends without a reset.
    let redirect_pcap = lab.dir.path().join("redirect.pcap");
    let out = lab.get(&[
        "-L",
        "-v",
        "--pcap",
        redirect_pcap.to_str().unwrap(),
        &format!("http://{SITE}:{PLAIN}/go"),
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    check_capture_ends_cleanly(&redirect_pcap);
    assert!(
        err.contains("Following the 301 redirect to https://site.test:8443/page/index.html"),
        "{err}"
    );
    assert!(text(&out.stdout).contains("<img src=b.png>"));

    let saved = lab.dir.path().join("saved");
    let page_pcap = lab.dir.path().join("page.pcap");
    let out = lab.get(&[
        "-p",
        "-s",
        "-P",
        saved.to_str().unwrap(),
        "--pcap",
        page_pcap.to_str().unwrap(),
        &url(GOOD, "/page/index.html"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    check_capture_ends_cleanly(&page_pcap);
    for name in ["index.html", "style.css", "a.png", "b.png", "c.png"] {
        let want = std::fs::read(www.join("page").join(name)).unwrap();
        let got = std::fs::read(saved.join("page").join(name))
            .unwrap_or_else(|e| panic!("{name} not saved: {e}"));
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn bad_certificates_exit_60_with_a_reason_and_insecure_gets_through() {
    let lab = lab("https-bad");
    for (port, reason) in [
        (WRONG_HOST, "not valid for name"),
        (EXPIRED, "expired"),
        (UNKNOWN_CA, "unknown issuer"),
    ] {
        let out = lab.get(&[&url(port, "/hello.txt")]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(60), "{port}: {err}");
        assert_eq!(
            lab.curl_code(&[], port, "/hello.txt"),
            Some(60),
            "curl, {port}"
        );
        assert_eq!(
            lab.curl_code(&["-k"], port, "/hello.txt"),
            Some(0),
            "curl -k"
        );
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.starts_with("tunstack: https://site.test:"), "{err}");
        assert!(err.contains("TLS certificate problem"), "{err}");
        assert!(
            err.to_lowercase().contains(reason),
            "{port}: want {reason:?}: {err}"
        );
        assert!(out.stdout.is_empty());

        // -k: the handshake completes, -v says what verification found.
        let out = lab.get(&["-k", "-v", &url(port, "/hello.txt")]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{port} -k: {err}");
        assert_eq!(text(&out.stdout), "hello over tls\n");
        assert!(err.contains("SSL certificate verify result: "), "{err}");
        assert!(err.to_lowercase().contains(reason), "{err}");
        assert!(err.contains("continuing anyway"), "{err}");
    }
    // Without --cacert the system's store is used: our CA is not in it.
    let out = tunstack(&["get", "--resolve", RESOLVE, &url(GOOD, "/hello.txt")]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(60), "{err}");
    assert!(err.to_lowercase().contains("unknown issuer"), "{err}");
    // A --cacert that is not a certificate file is a clear error, curl's
    // 77, before any network use.
    let junk = lab.dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let out = tunstack(&[
        "get",
        "--resolve",
        RESOLVE,
        "--cacert",
        junk.to_str().unwrap(),
        &url(GOOD, "/hello.txt"),
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(77), "{err}");
    assert!(err.contains("no PEM certificate"), "{err}");
}

#[test]
fn minimum_versions_follow_tlsv1_2_and_tlsv1_3() {
    let lab = lab("https-ver");
    // A 1.3-only server with --tlsv1.2 (1.2 or newer): 1.3.
    let out = lab.get(&["-v", "--tlsv1.2", &url(TLS13_ONLY, "/hello.txt")]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("SSL connection using TLSv1.3"), "{err}");
    // A 1.2-only server by default: 1.2 with an ECDHE suite.
    let out = lab.get(&["-v", &url(TLS12_ONLY, "/hello.txt")]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("SSL connection using TLSv1.2 / TLS_ECDHE_"),
        "{err}"
    );
    assert_eq!(text(&out.stdout), "hello over tls\n");
    // A 1.2-only server with --tlsv1.3: the handshake fails, exit 35.
    let out = lab.get(&["--tlsv1.3", &url(TLS12_ONLY, "/hello.txt")]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(35), "{err}");
    // curl answers the same three cases so.
    assert_eq!(
        lab.curl_code(&["--tlsv1.2"], TLS13_ONLY, "/hello.txt"),
        Some(0)
    );
    assert_eq!(lab.curl_code(&[], TLS12_ONLY, "/hello.txt"), Some(0));
    assert_eq!(
        lab.curl_code(&["--tlsv1.3"], TLS12_ONLY, "/hello.txt"),
        Some(35)
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains("TLS handshake failed"), "{err}");
    assert!(err.to_lowercase().contains("protocolversion"), "{err}");
}

#[test]
fn library_client_speaks_https_with_a_custom_root_and_pools_by_scheme() {
    let lab = lab("https-lib");
    let stack = tunstack::Stack::open_tun(
        &tunstack::device::TunConfig::default(),
        tunstack::net::Config::default(),
    )
    .expect("open tun0");
    let root = CertificateDer::from_pem_file(&lab.pki.ca).expect("CA PEM");
    let mut resolver = Resolver::new(Hosts::default(), Vec::new());
    resolver.add_override(SITE, KERNEL);
    let connector = StackConnector::with_resolver(&stack, resolver)
        .with_root_certificates(vec![root])
        .expect("root accepted");
    let client = http::Client::new(connector);
    for _ in 0..2 {
        let mut resp = client
            .get(&url(GOOD, "/hello.txt"))
            .unwrap_or_else(|e| panic!("GET: {e}"));
        assert_eq!(resp.status(), 200);
        let info = resp.connection().tls_info().expect("a TLS connection");
        assert_eq!(info.alpn.as_deref(), Some("http/1.1"));
        assert_eq!(info.verify, Ok(()));
        let mut body = String::new();
        resp.read_to_string(&mut body).unwrap();
        assert_eq!(body, "hello over tls\n");
        assert!(client.recycle(resp));
    }
    // Same host, plain http on another port, and https with a bad
    // certificate: new connections, never the pooled TLS one.
    let mut resp = client
        .get(&format!("http://{SITE}:{PLAIN}/hello.txt"))
        .unwrap();
    assert!(resp.connection().tls_info().is_none());
    let mut body = String::new();
    resp.read_to_string(&mut body).unwrap();
    assert_eq!(body, "hello over tls\n");
    drop(resp);
    let st = client.pool_stats();
    assert_eq!((st.connects, st.reused), (2, 1), "{st:?}");
    match client.get(&url(WRONG_HOST, "/hello.txt")) {
        Err(http::Error::Tls(e)) => {
            assert_eq!(e.kind, http::TlsErrorKind::Certificate, "{e}");
        }
        Err(e) => panic!("expected a TLS certificate error, got {e}"),
        Ok(r) => panic!("wrong host accepted: {}", r.status()),
    }
    drop(client);
    assert!(stack.shutdown(Duration::from_secs(5)));
}

/// `get` of `/hello.txt` on `port`, captured to `pcap`, with the TLS
/// secrets written to `keylog` (`SSLKEYLOGFILE`).
fn get_logging_keys(lab: &Lab, port: u16, pcap: &Path, keylog: &Path) -> Output {
    tunstack_env(
        &[
            "get",
            "--resolve",
            RESOLVE,
            "--cacert",
            lab.cacert(),
            "--pcap",
            pcap.to_str().unwrap(),
            &url(port, "/hello.txt"),
        ],
        &[("SSLKEYLOGFILE", keylog)],
    )
}

#[test]
fn capture_and_sslkeylogfile_decrypt_our_get_in_tshark() {
    let lab = lab("https-keylog");
    let pcap = lab.dir.path().join("tls.pcap");
    let keylog = lab.dir.path().join("keys.log");
    let out = get_logging_keys(&lab, GOOD, &pcap, &keylog);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello over tls\n");
    let keys = std::fs::read_to_string(&keylog).expect("key log written");
    assert!(
        keys.lines()
            .any(|l| l.starts_with("CLIENT_TRAFFIC_SECRET_0 ")),
        "{keys}"
    );
    let p = pcap.to_str().unwrap();
    let keylog_opt = format!("tls.keylog_file:{}", keylog.display());
    let decode = format!("tcp.port=={GOOD},tls");
    let tshark = |filter: &str, field: &str, keys: bool| {
        let mut args = vec![
            "-r", p, "-d", &decode, "-Y", filter, "-T", "fields", "-e", field,
        ];
        if keys {
            args.extend_from_slice(&["-o", &keylog_opt]);
        }
        run("tshark", &args)
    };
    // Without the keys the request is only ciphertext...
    assert_eq!(tshark("http.request", "http.request.uri", false).trim(), "");
    // ...with them, tshark finds our GET and the server's answer inside our
    // own TCP segments.
    let uri = tshark("http.request", "http.request.uri", true);
    assert_eq!(uri.trim(), "/hello.txt", "decrypted requests: {uri:?}");
    let status = tshark("http.response", "http.response.code", true);
    assert_eq!(status.trim(), "200");
    let sni = tshark(
        "tls.handshake.type == 1",
        "tls.handshake.extensions_server_name",
        false,
    );
    assert_eq!(sni.trim(), SITE);
    check_capture_ends_cleanly(&pcap);

    // The ladder names the TLS records each segment starts, and shows
    // windows scaled as Wireshark does.
    let out = tunstack(&["ladder", p]);
    let ladder = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<&str> = ladder.lines().collect();
    let client_hello = lines
        .iter()
        .position(|l| l.ends_with("TLS: Client Hello") && l.contains("-->|"))
        .unwrap_or_else(|| panic!("no Client Hello:\n{ladder}"));
    let server_hello = lines
        .iter()
        .position(|l| l.contains("|<-") && l.contains("TLS: Server Hello"))
        .unwrap_or_else(|| panic!("no Server Hello:\n{ladder}"));
    assert!(client_hello < server_hello, "{ladder}");
    assert!(
        lines
            .iter()
            .skip(server_hello + 1)
            .any(|l| l.contains("-->|") && l.contains("Application Data")),
        "{ladder}"
    );
    // tunstack's own window scale is 7: a scaled window is a multiple
    // of 128 above the 16-bit field's range.
    let wins: Vec<u64> = lines
        .iter()
        .filter(|l| l.contains("-->|") && !l.contains("[S]"))
        .filter_map(|l| l.split(" win=").nth(1)?.split(' ').next()?.parse().ok())
        .collect();
    assert!(!wins.is_empty(), "{ladder}");
    assert!(
        wins.iter().all(|w| w % 128 == 0 && *w > 65535),
        "{wins:?}\n{ladder}"
    );

    // With the key log the ladder reads inside the records, as tshark
    // does: the handshake messages, our GET, the status line, and the
    // close_notify nginx sends after answering `Connection: close`
    // (tunstack then closes without its own: nginx's socket is gone, see
    // check_capture_ends_cleanly). (The GET may share a
    // segment with the client's Finished: its line is looked for, not
    // the whole label.)
    let keys = keylog.to_str().unwrap();
    let decrypted = ladder_with_keys(p, keys);
    for (dir, want) in [
        ("|<-", "Encrypted Extensions"),
        ("-->|", "Finished"),
        ("-->|", "GET /hello.txt HTTP/1.1"),
        ("|<-", "HTTP/1.1 200 OK"),
        ("|<-", "Alert (close_notify)"),
    ] {
        assert!(
            decrypted
                .lines()
                .any(|l| l.contains(dir) && l.contains(want)),
            "no {want:?} {dir} in:\n{decrypted}"
        );
    }
    // TLS 1.2 (a key block from the master secret) decrypts too.
    let pcap12 = lab.dir.path().join("tls12.pcap");
    let keylog12 = lab.dir.path().join("keys12.log");
    let out = get_logging_keys(&lab, TLS12_ONLY, &pcap12, &keylog12);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    check_capture_ends_cleanly(&pcap12);
    let decrypted = ladder_with_keys(pcap12.to_str().unwrap(), keylog12.to_str().unwrap());
    assert!(
        decrypted
            .lines()
            .any(|l| l.contains("-->|") && l.contains("Change Cipher Spec, Finished")),
        "{decrypted}"
    );
    assert!(
        decrypted
            .lines()
            .any(|l| l.contains("-->|") && l.contains("GET /hello.txt HTTP/1.1")),
        "{decrypted}"
    );
    assert!(
        decrypted
            .lines()
            .any(|l| l.contains("|<-") && l.contains("HTTP/1.1 200 OK")),
        "{decrypted}"
    );
    // A key log without this connection's secrets: said, and the ladder
    // keeps the encrypted names.
    let other = lab.dir.path().join("other.log");
    std::fs::write(
        &other,
        format!("CLIENT_RANDOM {} {}\n", "00".repeat(32), "11".repeat(48)),
    )
    .unwrap();
    let out = tunstack(&["ladder", p, "--keylog", other.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("has none that open"),
        "{}",
        text(&out.stderr)
    );
    assert!(!text(&out.stdout).contains("GET /hello.txt"));
}

/// `tunstack ladder PCAP --keylog KEYS`, checked to succeed quietly.
fn ladder_with_keys(pcap: &str, keys: &str) -> String {
    let out = tunstack(&["ladder", pcap, "--keylog", keys]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "", "decrypted without complaint");
    text(&out.stdout)
}

#[test]
fn dnsmasq_names_the_site_and_https_checks_that_name() {
    let lab = lab("https-dns");
    // dnsmasq binds the wildcard address: it answers on tun0 once a
    // tunstack process has created it.
    let _dns = dnsmasq(lab.dir.path(), "10.0.0.1 site.test\n10.0.0.1 alias.test\n");
    let dns = ["--dns", "10.0.0.1", "--hosts-file", "/dev/null"];
    let mut args = vec!["get", "-v", "--cacert", lab.cacert()];
    args.extend_from_slice(&dns);
    let good = url(GOOD, "/hello.txt");
    args.push(&good);
    let out = tunstack(&args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(text(&out.stdout), "hello over tls\n");
    assert!(
        err.contains("Resolved site.test to 10.0.0.1 (from the DNS server 10.0.0.1:53)"),
        "{err}"
    );
    // Another name for the same address: DNS answers, the certificate
    // does not name it.
    let alias = format!("https://alias.test:{GOOD}/hello.txt");
    let mut args = vec!["get", "--cacert", lab.cacert()];
    args.extend_from_slice(&dns);
    args.push(&alias);
    let out = tunstack(&args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(60), "{err}");
    assert!(err.contains("not valid for name"), "{err}");
}

/// A rustls server configuration with the lab's certificate and key
/// (`good.pem`, `server.key`, made at test time).
fn lab_server_config(lab: &Lab) -> std::sync::Arc<rustls::ServerConfig> {
    use rustls::pki_types::PrivateKeyDer;
    let dir = lab.dir.path();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("good.pem"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    std::sync::Arc::new(
        rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap(),
    )
}

/// A TLS server (rustls, the lab's `site.test` certificate) on `port`
/// that answers each connection's request with `reply`, then closes its
/// side with or without `close_notify` (or, if `stall`, neither: it
/// waits), and reports per connection whether the client's side ended
/// with `close_notify` (before its FIN).
fn truncating_server(
    lab: &Lab,
    port: u16,
    reply: &'static [u8],
    notify: bool,
    stall: bool,
) -> std::sync::mpsc::Receiver<bool> {
    use std::io::Write;
    let config = lab_server_config(lab);
    let listener = std::net::TcpListener::bind(("0.0.0.0", port)).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let _ = tcp.set_read_timeout(Some(Duration::from_secs(20)));
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match tls.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = tls.write_all(reply).and_then(|()| tls.flush());
            if notify && !stall {
                tls.conn.send_close_notify();
                let _ = tls.conn.write_tls(&mut tls.sock);
            }
            if !stall {
                let _ = tls.sock.shutdown(std::net::Shutdown::Write);
            }
            // rustls reads Ok(0) after the peer's close_notify, and an
            // UnexpectedEof error at a FIN without one.
            let clean = loop {
                match tls.read(&mut buf) {
                    Ok(0) => break true,
                    Ok(_) => continue,
                    Err(_) => break false,
                }
            };
            if tx.send(clean).is_err() {
                return;
            }
        }
    });
    rx
}

#[test]
fn close_notify_follows_whole_responses_only_and_a_truncated_body_is_a_partial_file_as_with_curl() {
    let lab = lab("https-trunc");
    const HALF: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n\
        xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
    const UNTIL_CLOSE: &[u8] = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n\
        yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy";
    const WHOLE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nwhole";
    /// One server behaviour and what tunstack must make of it.
    struct Case {
        port: u16,
        reply: &'static [u8],
        /// The server sends close_notify before its FIN.
        notify: bool,
        /// tunstack's exit code (curl's).
        code: i32,
        /// What -v says of the server's close ("" for nothing).
        says: &'static str,
        /// tunstack sends close_notify before its FIN.
        answers: bool,
        /// The server stalls after its reply (neither close_notify nor
        /// FIN); both clients run with a 1 s --max-time.
        stall: bool,
    }
    let case = |port, reply, notify, code, says, answers| Case {
        port,
        reply,
        notify,
        code,
        says,
        answers,
        stall: false,
    };
    let cases = [
        // A FIN without close_notify inside a counted body: truncated.
        // The transfer was cut (a partial file): tunstack abandons the
        // connection without close_notify, as curl (8.9+) does.
        case(9501, HALF, false, 18, "closed without close_notify", false),
        // The same cut after close_notify: the server really sent only
        // half, still a partial file, and still no close_notify back.
        case(9502, HALF, true, 18, "sent close_notify", false),
        // A server that stalls inside a counted body: --max-time cuts
        // the transfer (curl's 28), and no close_notify goes.
        Case {
            stall: true,
            ..case(9506, HALF, false, 28, "", false)
        },
        // A close-delimited body ended by a bare FIN: curl takes it whole
        // (only the framing decides), so does tunstack, and -v says so.
        case(
            9503,
            UNTIL_CLOSE,
            false,
            0,
            "closed without close_notify",
            true,
        ),
        // The server sent close_notify and its FIN after a whole
        // response: tunstack closes without answering, as curl (8.9+)
        // does; a server that closed its socket would answer the alert
        // with an RST.
        case(9504, UNTIL_CLOSE, true, 0, "sent close_notify", false),
        // A counted body that is whole is done before any close is read.
        case(9505, WHOLE, false, 0, "", true),
    ];
    for Case {
        port,
        reply,
        notify,
        code,
        says,
        answers,
        stall,
    } in cases
    {
        let closes = truncating_server(&lab, port, reply, notify, stall);
        let url = url(port, "/");
        let limit: &[&str] = if stall { &["--max-time", "1"] } else { &[] };
        let curl = Command::new("curl")
            .args(["-s", "--cacert", lab.cacert(), "--resolve"])
            .arg(format!("{SITE}:{port}:127.0.0.1"))
            .args(limit)
            .arg(&url)
            .output()
            .expect("run curl");
        let _ = closes.recv_timeout(Duration::from_secs(20));
        let mut args = vec!["-v"];
        args.extend_from_slice(limit);
        args.push(&url);
        let out = lab.get(&args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{port}: {err}");
        assert_eq!(
            curl.status.code(),
            out.status.code(),
            "{port}: curl and tunstack disagree"
        );
        assert_eq!(curl.stdout, out.stdout, "{port}: bodies differ from curl's");
        assert_eq!(
            err.contains(&format!("* TLS: the server {says}")),
            !says.is_empty(),
            "{port}: {err}"
        );
        // tunstack ended its side with close_notify before its FIN
        // after a whole response, unless the server had closed first.
        assert_eq!(
            closes.recv_timeout(Duration::from_secs(20)),
            Ok(answers),
            "{port}: close_notify from tunstack: {err}"
        );
    }
}

/// [`check_capture`] (no errors, no warnings on our packets), and every
/// connection torn down without any RST from either side: `get` reads
/// what the server still sends (its `close_notify`, its FIN) before its
/// socket closes. (Arriving after our close, it would be data after
/// close, answered with a bare RST, RFC 1122 §4.2.2.13; and our
/// `close_notify` sent to a server that already closed draws its RST.)
/// Per connection, both sides FIN and the server's last data comes
/// before our FIN.
fn check_capture_ends_cleanly(pcap: &Path) {
    check_capture(pcap);
    let p = pcap.to_str().unwrap();
    // (tcp.stream, frame.number) of the packets `filter` matches.
    let frames = |filter: &str| -> Vec<(u64, u64)> {
        run(
            "tshark",
            &[
                "-r",
                p,
                "-Y",
                filter,
                "-T",
                "fields",
                "-e",
                "tcp.stream",
                "-e",
                "frame.number",
            ],
        )
        .lines()
        .filter_map(|l| {
            let (s, f) = l.trim().split_once('\t')?;
            Some((s.parse().ok()?, f.parse().ok()?))
        })
        .collect()
    };
    let resets = frames("tcp.flags.reset==1");
    assert!(resets.is_empty(), "RSTs in {p}: (stream, frame) {resets:?}");
    // No warning on the server's packets either. A D-SACK of ours that
    // answers a real retransmission of the server's is right, and
    // check_capture has matched each one to the server's segments.
    let warns: Vec<String> = transport_items(&tshark_expert(pcap), "Warns")
        .into_iter()
        .filter(|w| !w.contains("D-SACK Sequence"))
        .collect();
    assert!(warns.is_empty(), "warnings in {p}: {warns:?}");
    let syns = frames("tcp.flags.syn==1 && tcp.flags.ack==0");
    assert!(!syns.is_empty(), "no connection in {p}");
    let ours = frames("ip.src==10.0.0.2 && tcp.flags.fin==1");
    let theirs = frames("ip.src==10.0.0.1 && tcp.flags.fin==1");
    let data = frames("ip.src==10.0.0.1 && tcp.len > 0");
    for &(stream, _) in &syns {
        let first = |v: &[(u64, u64)]| v.iter().find(|(s, _)| *s == stream).map(|&(_, f)| f);
        let (Some(our_fin), Some(_)) = (first(&ours), first(&theirs)) else {
            panic!(
                "stream {stream} in {p}: no FIN each way (ours {ours:?}, the server's {theirs:?})"
            );
        };
        let last = data
            .iter()
            .filter(|(s, _)| *s == stream)
            .map(|&(_, f)| f)
            .max();
        assert!(
            last.is_none_or(|f| f < our_fin),
            "stream {stream} in {p}: server data (frame {last:?}) after our FIN (frame {our_fin})"
        );
    }
}

/// A TLS server (rustls, the lab's certificate) on `port` that answers
/// each request with a whole 5-byte body (and keeps the connection for
/// more), sends `close_notify` after the first if `notify`, and never
/// closes: it reports per connection whether the client sent
/// `close_notify` and then its FIN, and holds the socket open until the
/// test ends.
fn never_closing_server(
    lab: &Lab,
    port: u16,
    notify: bool,
) -> std::sync::mpsc::Receiver<(bool, bool)> {
    use std::io::Write;
    let config = lab_server_config(lab);
    let listener = std::net::TcpListener::bind(("0.0.0.0", port)).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for tcp in listener.incoming().flatten() {
            let _ = tcp.set_read_timeout(Some(Duration::from_secs(30)));
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            let mut buf = [0u8; 4096];
            let mut head = Vec::new();
            // Requests until the client's close_notify (rustls: Ok(0)) or
            // an error (a FIN without it: UnexpectedEof).
            let notified = loop {
                match tls.read(&mut buf) {
                    Ok(0) => break true,
                    Err(_) => break false,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
                if head.windows(4).any(|w| w == b"\r\n\r\n") {
                    head.clear();
                    let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nwhole";
                    let _ = tls.write_all(reply).and_then(|()| tls.flush());
                    if notify {
                        tls.conn.send_close_notify();
                        let _ = tls.conn.write_tls(&mut tls.sock);
                    }
                }
            };
            // Then the client's FIN: the socket's own EOF.
            let fin = !notified || matches!(tls.sock.read(&mut buf), Ok(0));
            held.push(tls);
            if tx.send((notified, fin)).is_err() {
                return;
            }
        }
    });
    rx
}

#[test]
fn a_server_that_never_closes_holds_get_no_longer_than_the_drain_bound() {
    let lab = lab("https-linger");
    // (port, the server sends close_notify, URLs fetched, what -v says
    // of the close). One URL says `Connection: close`: the server is let
    // close first, and does not. Two share a kept-alive connection that
    // get closes at the end: its close_notify goes first, unanswered.
    for (port, notify, urls, says) in [
        (9511, true, 1, "the server did not close within "),
        (9512, false, 1, "the server did not close within "),
        (
            9513,
            false,
            2,
            "sent close_notify; no answer from the server within ",
        ),
    ] {
        let ends = never_closing_server(&lab, port, notify);
        let target = url(port, "/");
        let mut args = vec!["-v"];
        args.extend(std::iter::repeat_n(target.as_str(), urls));
        let started = Instant::now();
        let out = lab.get(&args);
        let secs = started.elapsed().as_secs_f64();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{port}: {err}");
        assert_eq!(text(&out.stdout), "whole".repeat(urls), "{port}");
        assert!(
            err.contains(&format!("* TLS close: {says}")),
            "{port}: {err}"
        );
        // The server, still holding its socket, saw our close_notify and
        // then our FIN: get closed without waiting for it.
        assert_eq!(
            ends.recv_timeout(Duration::from_secs(20)),
            Ok((true, true)),
            "{port}: {err}"
        );
        // Not a speed check: the drain is bounded at 1 s and the stack's
        // own teardown at 2 s; a drain that waited for this server would
        // take its 30 s read timeout.
        assert!(secs < 20.0, "{port}: get took {secs:.1} s: {err}");
    }
}
