//! The async ecosystem over tunstack, in private namespaces (root): the
//! real crates a user would point at the stack.
//!
//! - a hyper 1.x client (through hyper-util's `TokioIo`) fetches 10 MiB
//!   from nginx, sha-identical, naming the server by a host name that the
//!   library's resolver looks up over the stack (dnsmasq answers);
//! - a bare hyper server on a tunstack listener serves the kernel's curl;
//! - an axum app served by `axum::serve` over a tunstack listener answers
//!   the kernel's curl (several requests on one connection, 8 MiB down and
//!   3 MiB echoed, intact);
//! - tokio-rustls over `tunstack::tokio::TcpStream` fetches from nginx
//!   with TLS (certificates made at test time with openssl);
//! - 1,000 concurrent connections on a current-thread runtime are echoed
//!   intact by the kernel;
//! - the tokio resolver sends AAAA and A at once and `TcpStream::connect`
//!   starts on the first usable answer (RFC 8305 §3), checked with a DNS
//!   proxy dropping one record type; a truncated answer is asked again
//!   over the stack's TCP.

mod common;

use common::dns_proxy::{DnsProxy, Hold, A, AAAA};
use common::pki::{make_ca, make_leaf, make_server_key};
use common::{
    current_thread, dnsmasq, multi_thread, netns, nginx, random_bytes, sha256, wait_for_listener,
    TempDir, KERNEL, KERNEL6, US,
};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tunstack::dns::{Hosts, Resolver};
use tunstack::tokio::{TcpListener, TcpStream};
use tunstack::Stack;

/// GET `path` over one tunstack connection with hyper's client.
async fn hyper_get(stack: &Stack, addr: &str, path: &str) -> (u16, Bytes) {
    let tcp = TcpStream::connect(stack, addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .expect("handshake");
    let driver = tokio::spawn(conn);
    let req = Request::get(path)
        .header("host", "site.test")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let resp = sender.send_request(req).await.expect("request");
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    drop(sender);
    driver.await.unwrap().expect("connection");
    (status, body)
}

#[test]
fn hyper_client_fetches_10_mib_from_nginx_by_host_name() {
    let stack = netns();
    let dir = TempDir::new("async-hyper-client");
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    let data = random_bytes(10 << 20, 19);
    std::fs::write(www.join("big.bin"), &data).unwrap();
    let _nginx = nginx(
        dir.path(),
        64,
        &format!(
            "default_type application/octet-stream;\n\
             server {{ listen 8080; root {}; }}",
            www.display()
        ),
    );
    wait_for_listener(SocketAddrV4::new(KERNEL, 8080));
    let _dns = dnsmasq(dir.path(), "10.0.0.1 site.test\n");
    // The library's resolver, asking dnsmasq over the stack.
    tunstack::tokio::set_resolver(Resolver::new(
        Hosts::default(),
        vec![SocketAddrV4::new(KERNEL, 53).into()],
    ));
    let (status, body) = multi_thread().block_on(async {
        // AAAA (none: dnsmasq answers NODATA) then A.
        let ips = tunstack::tokio::lookup_host(&stack, "site.test")
            .await
            .expect("site.test resolves over the stack");
        assert_eq!(ips, vec![std::net::IpAddr::V4(KERNEL)]);
        hyper_get(&stack, "site.test:8080", "/big.bin").await
    });
    assert_eq!(status, 200);
    assert_eq!(body.len(), data.len());
    assert_eq!(sha256(&body), sha256(&data));
    eprintln!(
        "hyper client: 10 MiB from nginx, sha256 {}",
        &sha256(&body)[..16]
    );
}

/// Serves `/big` (1 MiB of a pattern) and echoes a POST body; anything
/// else gets a greeting.
async fn handler(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let body = match (req.method().as_str(), req.uri().path()) {
        ("GET", "/big") => Bytes::from(random_bytes(1 << 20, 7)),
        ("POST", _) => req.into_body().collect().await?.to_bytes(),
        _ => Bytes::from_static(b"hello from hyper on tunstack\n"),
    };
    Ok(Response::new(Full::new(body)))
}

#[test]
fn hyper_server_on_a_tunstack_listener_serves_the_kernels_curl() {
    let stack = netns();
    let dir = TempDir::new("async-hyper-server");
    let rt = multi_thread();
    let listener = rt
        .block_on(TcpListener::bind(&stack, "0.0.0.0:8000"))
        .expect("bind");
    rt.spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(handler);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    let url = |p: &str| format!("http://{US}:8000{p}");
    let big = dir.path().join("big");
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "60", "-o"])
        .arg(&big)
        .arg(url("/big"))
        .args(["-o", "-", &url("/hello")])
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"hello from hyper on tunstack\n");
    let got = std::fs::read(&big).unwrap();
    assert_eq!(sha256(&got), sha256(&random_bytes(1 << 20, 7)));
    let posted = dir.path().join("posted");
    std::fs::write(&posted, random_bytes(300_000, 3)).unwrap();
    let out = Command::new("curl")
        .args(["-sSf", "--max-time", "60", "--data-binary"])
        .arg(format!("@{}", posted.display()))
        .arg(url("/echo"))
        .output()
        .expect("run curl");
    assert!(out.status.success());
    assert_eq!(sha256(&out.stdout), sha256(&random_bytes(300_000, 3)));
    drop(rt);
}

/// The axum app of [`axum_on_a_tunstack_listener_serves_the_kernels_curl`]:
/// a greeting naming the peer, `/bytes/N` of a seeded pattern, and an echo.
fn axum_app() -> axum::Router {
    use axum::extract::{ConnectInfo, Path};
    use axum::routing::{get, post};
    axum::Router::new()
        .route(
            "/",
            get(
                |ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>| async move {
                    format!("hello from axum on tunstack, {}\n", peer.ip())
                },
            ),
        )
        .route(
            "/bytes/{n}",
            get(|Path(n): Path<usize>| async move { random_bytes(n.min(64 << 20), 11) }),
        )
        .route("/echo", post(|body: Bytes| async move { body }))
        // axum refuses bodies over 2 MiB by default.
        .layer(axum::extract::DefaultBodyLimit::max(16 << 20))
}

#[test]
fn axum_on_a_tunstack_listener_serves_the_kernels_curl() {
    use axum::serve::ListenerExt;
    let stack = netns();
    let dir = TempDir::new("async-axum");
    let rt = multi_thread();
    let listener = rt
        .block_on(TcpListener::bind(&stack, "0.0.0.0:8080"))
        .expect("bind");
    // axum::serve takes the tunstack listener as it takes tokio's.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let app = axum_app().into_make_service_with_connect_info::<std::net::SocketAddr>();
    rt.spawn(async move { axum::serve(listener, app).await });
    let url = |p: &str| format!("http://{US}:8080{p}");
    // Several requests on one connection (curl reuses it): a greeting,
    // 8 MiB, and the greeting again.
    const BIG: usize = 8 << 20;
    let big = dir.path().join("big");
    let out = Command::new("curl")
        .args(["-sSf", "--max-time", "60", "-o", "-", &url("/"), "-o"])
        .arg(&big)
        .arg(url(&format!("/bytes/{BIG}")))
        .args(["-o", "-", &url("/")])
        .args(["-w", "%{num_connects} %{http_code}\n"])
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hello = format!("hello from axum on tunstack, {KERNEL}\n");
    assert!(
        out.stdout.len() < 1000,
        "{} bytes on stdout",
        out.stdout.len()
    );
    let text = String::from_utf8_lossy(&out.stdout);
    // -w reports after each URL: the first opened the one connection.
    assert_eq!(
        text,
        format!("{hello}1 200\n0 200\n{hello}0 200\n"),
        "greetings, one connection reused"
    );
    let got = std::fs::read(&big).unwrap();
    assert_eq!(got.len(), BIG);
    assert_eq!(sha256(&got), sha256(&random_bytes(BIG, 11)));
    // A large upload, echoed intact.
    let posted = dir.path().join("posted");
    std::fs::write(&posted, random_bytes(3 << 20, 4)).unwrap();
    let out = Command::new("curl")
        .args(["-sSf", "--max-time", "60", "--data-binary"])
        .arg(format!("@{}", posted.display()))
        .arg(url("/echo"))
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(sha256(&out.stdout), sha256(&random_bytes(3 << 20, 4)));
    drop(rt);
}

/// A CA (`ca.pem`) and a server certificate for `site.test` signed by it
/// (`server.pem`, key `server.key`).
fn make_pki(dir: &Path) {
    make_ca(dir, "ca");
    make_server_key(dir);
    make_leaf(dir, "server", "site.test", "ca", false);
}

#[test]
fn tokio_rustls_over_a_tunstack_stream_fetches_from_nginx() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};

    let stack = netns();
    let dir = TempDir::new("async-rustls");
    make_pki(dir.path());
    let d = dir.path().display();
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    let data = random_bytes(2 << 20, 5);
    std::fs::write(www.join("secret.bin"), &data).unwrap();
    let _nginx = nginx(
        dir.path(),
        64,
        &format!(
            "default_type application/octet-stream;\n\
             server {{ listen 8443 ssl; root {d}/www; ssl_certificate {d}/server.pem;\n\
             ssl_certificate_key {d}/server.key; ssl_protocols TLSv1.2 TLSv1.3; }}"
        ),
    );
    wait_for_listener(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8443));
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(dir.path().join("ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let (head, body, version) = current_thread().block_on(async {
        let tcp = TcpStream::connect(&stack, (KERNEL, 8443)).await.unwrap();
        let name = ServerName::try_from("site.test").unwrap();
        let mut tls = connector.connect(name, tcp).await.expect("TLS handshake");
        let version = tls.get_ref().1.protocol_version();
        tls.write_all(b"GET /secret.bin HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut all = Vec::new();
        tls.read_to_end(&mut all).await.expect("read over TLS");
        let split = all
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("end of head");
        let head = String::from_utf8_lossy(&all[..split]).into_owned();
        (head, all[split + 4..].to_vec(), version)
    });
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(version, Some(rustls::ProtocolVersion::TLSv1_3));
    assert_eq!(sha256(&body), sha256(&data));
}

/// The namespace's TCP counters (`/proc/net/netstat`'s TcpExt line) named
/// in `keys`, as the kernel on tun0 counts them.
fn kernel_tcp_counters(keys: &[&str]) -> Vec<(String, u64)> {
    // thread-self: the test thread is the one inside the namespace.
    let text = std::fs::read_to_string("/proc/thread-self/net/netstat").expect("netstat");
    let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
    let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
        panic!("no TcpExt lines in netstat");
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .filter(|(n, _)| keys.contains(n))
        .map(|(n, v)| (n.to_string(), v.parse().expect("counter")))
        .collect()
}

#[test]
fn a_thousand_concurrent_connections_on_a_current_thread_runtime_echo_intact() {
    const CONNS: usize = 1000;
    const BYTES: usize = 16 * 1024;
    let stack = Arc::new(netns());
    // The kernel's echo server, on its own runtime, with room for every
    // handshake in its accept queue. tokio's `bind` (as std's) listens
    // with a backlog of 128: 1,000 SYNs at once then overflow it, the
    // kernel answers with SYN cookies and drops completing ACKs while
    // the queue is full (ListenOverflows), and a connection whose ACK and
    // first data segment were both dropped has its next segment fail the
    // cookie check (its sequence number is no longer ISN+1): the kernel
    // resets it (SyncookiesFailed). A Linux client does the same against
    // that backlog; a server expecting 1,000 clients asks for 1,024.
    let kernel = multi_thread();
    let listener = kernel
        .block_on(async {
            let s = tokio::net::TcpSocket::new_v4()?;
            s.set_reuseaddr(true)?;
            s.bind((KERNEL, 9000).into())?;
            s.listen(1024)
        })
        .unwrap();
    kernel.spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    let (ok, errors) = current_thread().block_on(async {
        // Every connection is opened at once, and open before any sends.
        let barrier = Arc::new(tokio::sync::Barrier::new(CONNS));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..CONNS {
            let (stack, barrier) = (Arc::clone(&stack), Arc::clone(&barrier));
            tasks.spawn(async move {
                let c = TcpStream::connect(&stack, (KERNEL, 9000)).await;
                barrier.wait().await;
                let data = random_bytes(BYTES, i as u64);
                let (mut r, mut w) = c?.into_split();
                let sent = data.clone();
                let writer = tokio::spawn(async move { w.write_all(&sent).await.map(|()| w) });
                let mut back = vec![0u8; BYTES];
                r.read_exact(&mut back).await?;
                let _w = writer.await.expect("writer task")?;
                std::io::Result::Ok(back == data)
            });
        }
        let (mut ok, mut errors) = (0, Vec::new());
        while let Some(r) = tasks.join_next().await {
            match r.expect("task") {
                Ok(intact) => ok += usize::from(intact),
                Err(e) => errors.push(e.to_string()),
            }
        }
        (ok, errors)
    });
    let counters = kernel_tcp_counters(&["ListenOverflows", "SyncookiesSent", "SyncookiesFailed"]);
    assert_eq!(
        ok,
        CONNS,
        "connections echoed intact; errors {:?}, tunstack {:?}, kernel {counters:?}",
        &errors[..errors.len().min(5)],
        stack.stats()
    );
    assert!(
        counters.iter().all(|(_, v)| *v == 0),
        "the accept queue held every handshake: {counters:?}"
    );
    drop(kernel);
}

/// RFC 8305 §3 through `tunstack::tokio::TcpStream::connect`, with a DNS
/// proxy in front of dnsmasq dropping one record type: `name` has
/// 10.0.0.1 and fd00::1, and a kernel listener on `listen` accepts the
/// connection. Returns the peer connected to, how long connect took and
/// the query types the proxy saw by the time it returned.
fn tokio_connect_with_one_answer_dropped(
    tag: &str,
    name: &str,
    drop: u16,
    listen: std::net::SocketAddr,
) -> (std::net::SocketAddr, std::time::Duration, Vec<u16>) {
    let stack = netns();
    let dir = TempDir::new(tag);
    let hosts = format!("10.0.0.1 {name}\nfd00::1 {name}\n");
    let proxy = DnsProxy::start(&dir, &hosts, Hold::Drop(drop));
    let server = std::net::TcpListener::bind(listen).expect("kernel listener");
    tunstack::tokio::set_resolver(Resolver::new(
        Hosts::default(),
        vec![SocketAddrV4::new(KERNEL, 53).into()],
    ));
    let (peer, took) = current_thread().block_on(async {
        let t0 = std::time::Instant::now();
        let tcp = TcpStream::connect(&stack, (name, listen.port()))
            .await
            .expect("connect by name");
        (tcp.peer_addr().unwrap(), t0.elapsed())
    });
    let seen = proxy.seen();
    let (_, from) = server.accept().expect("the connection reached the kernel");
    assert_eq!(
        from.ip(),
        peer_of(listen),
        "accepted from tunstack's address"
    );
    (peer, took, seen)
}

/// tunstack's address in `to`'s family.
fn peer_of(to: std::net::SocketAddr) -> std::net::IpAddr {
    if to.is_ipv4() {
        US.into()
    } else {
        common::US6.into()
    }
}

#[test]
fn tokio_connect_starts_ipv4_after_the_resolution_delay_when_aaaa_is_unanswered() {
    // Both queries leave at once, AAAA first: the A answer alone starts
    // IPv4 once the 50 ms resolution delay has passed. Asked in turn, the
    // A query would only follow the AAAA query's retry, 2 s later.
    let listen = std::net::SocketAddr::from((KERNEL, 8004));
    let (peer, took, seen) =
        tokio_connect_with_one_answer_dropped("async-dns-no-aaaa", "noaaaa.test", AAAA, listen);
    assert_eq!(peer, listen, "IPv4 connected");
    assert!(
        took >= std::time::Duration::from_millis(50),
        "IPv4 waited the resolution delay for AAAA: connected after {took:?}"
    );
    assert_eq!(seen, [AAAA, A], "both asked at once, AAAA first");
}

#[test]
fn tokio_connect_starts_ipv6_on_the_aaaa_answer_without_waiting_for_a() {
    // The A query is never answered: the AAAA answer starts IPv6 at once.
    // Asked in turn, connect would return only once the A lookup had
    // given up (after its retry, 2 s later, then 2 s more).
    let listen = std::net::SocketAddr::from((KERNEL6, 8006));
    let (peer, _, seen) =
        tokio_connect_with_one_answer_dropped("async-dns-no-a", "noa.test", A, listen);
    assert_eq!(peer, listen, "IPv6 connected");
    assert_eq!(
        seen,
        [AAAA, A],
        "both asked at once, AAAA first; A not yet retried"
    );
}

/// An answer over the 1232-byte EDNS(0) payload (100 A records) comes
/// back truncated over UDP; the tokio resolver asks again over the
/// stack's own TCP (RFC 7766 §5) and gets every record.
#[test]
fn tokio_lookup_retries_a_truncated_answer_over_our_tcp() {
    let stack = netns();
    let dir = TempDir::new("async-dns-big");
    let hosts: String = (1..=100)
        .map(|i| format!("10.1.0.{i} big.test\n"))
        .collect();
    let _dns = dnsmasq(dir.path(), &hosts);
    // dnsmasq also serves DNS over TCP: wait for that listener.
    wait_for_listener(SocketAddrV4::new(KERNEL, 53));
    tunstack::tokio::set_resolver(Resolver::new(
        Hosts::default(),
        vec![SocketAddrV4::new(KERNEL, 53).into()],
    ));
    let mut ips = current_thread()
        .block_on(tunstack::tokio::lookup_host(&stack, "big.test"))
        .expect("big.test resolves");
    ips.sort();
    let want: Vec<std::net::IpAddr> = (1..=100u8)
        .map(|i| Ipv4Addr::new(10, 1, 0, i).into())
        .collect();
    assert_eq!(ips, want, "every record, once");
}
