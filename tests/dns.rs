//! DNS against dnsmasq in the test's namespace (issue 18): a name whose
//! answer exceeds the 1232-byte EDNS(0) payload comes back truncated over
//! UDP and is asked again over tunstack's own TCP (RFC 7766), arriving
//! whole; a name with A and AAAA records yields both, IPv6 first, and
//! `-4`/`-6` (the connector's `Family`) keep one family. `tunstack get`
//! reaches the dual-stack name over IPv4 with Happy Eyeballs narrated.
//! With a proxy in front of dnsmasq holding back one answer: the AAAA
//! and A queries leave together (AAAA first, RFC 8305 §3), a slow or
//! missing AAAA answer lets IPv4 start 50 ms after the A answer, a late
//! answer joins the running race, and the AAAA answer starts IPv6 without
//! waiting for A.

mod common;

use common::dns_proxy::{DnsProxy, Hold, A, AAAA};
use common::*;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;
use tunstack::connector::Family;
use tunstack::dns::{Hosts, Resolver, Source};
use tunstack::StackConnector;

/// Records of `big.test`: 100 A records of 16 bytes each (with name
/// compression) make an answer of about 1.6 KB.
const BIG: u8 = 100;

fn hosts_file() -> String {
    let mut h = String::from("10.0.0.1 dual.test\nfd00::1 dual.test\nfd00::1 v6only.test\n");
    for i in 1..=BIG {
        h.push_str(&format!("10.1.0.{i} big.test\n"));
    }
    h
}

/// The shared dnsmasq with this file's names, once it also serves TCP.
fn dns_server(dir: &TempDir) -> Daemon {
    let daemon = dnsmasq(dir.path(), &hosts_file());
    // dnsmasq also serves DNS over TCP: wait for that listener.
    wait_for_listener(SocketAddrV4::new(KERNEL, 53));
    daemon
}

fn server() -> Vec<SocketAddr> {
    vec![SocketAddr::V4(SocketAddrV4::new(KERNEL, 53))]
}

#[test]
fn an_answer_over_1232_bytes_is_retried_over_our_tcp_and_arrives_whole() {
    let stack = netns();
    let dir = TempDir::new("dns-big");
    let _dns = dns_server(&dir);
    let c = StackConnector::with_resolver(&stack, Resolver::new(Hosts::default(), server()))
        .family(Family::V4)
        .dns_timeout(Duration::from_secs(5));
    let opened = stack.stats().tcp_connections_opened;
    let found = c.resolve_all("big.test", None).expect("big.test resolves");
    let mut got: Vec<IpAddr> = found.iter().map(|(ip, _)| *ip).collect();
    got.sort();
    let want: Vec<IpAddr> = (1..=BIG)
        .map(|i| IpAddr::V4(Ipv4Addr::new(10, 1, 0, i)))
        .collect();
    assert_eq!(got, want, "every record arrives");
    assert!(
        found.iter().all(|(_, s)| *s == Source::DnsTcp(server()[0])),
        "{:?}",
        found.first()
    );
    assert_eq!(
        stack.stats().tcp_connections_opened,
        opened + 1,
        "one TCP query"
    );
    // A small answer stays on UDP.
    let found = c.resolve_all("dual.test", None).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].1, Source::Dns(server()[0]));
    assert_eq!(stack.stats().tcp_connections_opened, opened + 1);
}

#[test]
fn a_name_with_a_and_aaaa_gives_both_ipv6_first_and_families_filter() {
    let stack = netns();
    let dir = TempDir::new("dns-dual");
    let _dns = dns_server(&dir);
    let resolver = || Resolver::new(Hosts::default(), server());
    let v6: IpAddr = "fd00::1".parse().unwrap();
    let v4 = IpAddr::V4(KERNEL);
    let both = StackConnector::with_resolver(&stack, resolver());
    let found: Vec<IpAddr> = both
        .resolve_all("dual.test", None)
        .unwrap()
        .into_iter()
        .map(|(ip, _)| ip)
        .collect();
    assert_eq!(found, vec![v6, v4], "AAAA first (RFC 8305 §3)");
    let only4 = StackConnector::with_resolver(&stack, resolver()).family(Family::V4);
    let found = only4.resolve_all("dual.test", None).unwrap();
    assert_eq!(
        found.iter().map(|(ip, _)| *ip).collect::<Vec<_>>(),
        vec![v4]
    );
    let only6 = StackConnector::with_resolver(&stack, resolver()).family(Family::V6);
    let found = only6.resolve_all("dual.test", None).unwrap();
    assert_eq!(
        found.iter().map(|(ip, _)| *ip).collect::<Vec<_>>(),
        vec![v6]
    );
    // A name without an A record is not found over IPv4 only (dnsmasq,
    // with no upstream, refuses the A query for a name it knows only
    // with AAAA).
    let err = only4.resolve_all("v6only.test", None).unwrap_err();
    assert!(err.to_string().contains("could not resolve host"), "{err}");
    let found = both.resolve_all("v6only.test", None).unwrap();
    assert_eq!(
        found.iter().map(|(ip, _)| *ip).collect::<Vec<_>>(),
        vec![v6]
    );
}

#[test]
fn get_reaches_a_dual_stack_name_over_ipv4_and_says_which_family_won() {
    enter_netns();
    let dir = TempDir::new("dns-get");
    std::fs::write(dir.path().join("index.html"), "dual stack\n").unwrap();
    let _dns = dnsmasq(dir.path(), &hosts_file());
    // An IPv4-only server: whatever becomes of the IPv6 attempt (refused,
    // or no IPv6 at all), IPv4 must win.
    let _web = http_server(dir.path(), Ipv4Addr::UNSPECIFIED.into(), 8000);
    std::thread::sleep(Duration::from_millis(300));
    let get = |extra: &[&str]| get_by_dns(extra, "http://dual.test:8000/index.html");
    let out = get(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "dual stack\n");
    assert!(stderr.contains("Resolved dual.test to fd00::1"), "{stderr}");
    assert!(
        stderr.contains("Resolved dual.test to 10.0.0.1"),
        "{stderr}"
    );
    assert!(stderr.contains("*   Trying [fd00::1]:8000..."), "{stderr}");
    assert!(stderr.contains("*   Trying 10.0.0.1:8000..."), "{stderr}");
    assert!(
        stderr.contains("* IPv6 connect to [fd00::1]:8000 "),
        "{stderr}"
    );
    assert!(
        stderr.contains("* IPv4 won: 10.0.0.1:8000 connected first"),
        "{stderr}"
    );
    // -4: IPv6 is neither resolved nor tried.
    let out = get(&["-4"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("fd00::1"), "{stderr}");
    assert!(stderr.contains("* IPv4 won: 10.0.0.1:8000"), "{stderr}");
    // -6 to an IPv4-only server cannot connect: refused (curl's 7) where
    // IPv6 reaches the kernel, timed out (28) where it does not; IPv4 is
    // never tried.
    let out = get(&["-6", "--connect-timeout", "2"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(7 | 28)), "{stderr}");
    assert!(stderr.contains("*   Trying [fd00::1]:8000..."), "{stderr}");
    assert!(!stderr.contains("Trying 10.0.0.1"), "{stderr}");
}

/// Python's HTTP server on port 8000 of one family only (the other is
/// refused), serving `dir`. It binds the wildcard of its family: tun0
/// appears only once `get` runs.
fn web_on(dir: &TempDir, v6: bool) -> Daemon {
    std::fs::write(dir.path().join("index.html"), "either family\n").unwrap();
    let d = dir.path().to_str().unwrap().to_string();
    let script = r#"
import functools, http.server, socket, sys
v6 = sys.argv[2] == "6"
class S(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6 if v6 else socket.AF_INET
    def server_bind(self):
        if v6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        super().server_bind()
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
S(("::" if v6 else "0.0.0.0", 8000), h).serve_forever()
"#;
    let web = Daemon::spawn(
        dir.path(),
        "python3",
        &["-c", script, &d, if v6 { "6" } else { "4" }],
    );
    let lo: IpAddr = if v6 { "::1" } else { "127.0.0.1" }.parse().unwrap();
    wait_for_listener(SocketAddr::new(lo, 8000));
    web
}

fn get_slow(extra: &[&str]) -> (Option<i32>, String, String) {
    let out = get_by_dns(extra, "http://slow.test:8000/index.html");
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// The number right after `marker` in `text` (e.g. "after 53 ms").
fn number_after(text: &str, marker: &str) -> u64 {
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker:?} in {text}"));
    text[at + marker.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("no number after {marker:?} in {text}"))
}

const SLOW_HOSTS: &str = "10.0.0.1 slow.test\nfd00::1 slow.test\n";

#[test]
fn a_slow_aaaa_answer_lets_ipv4_start_after_50_ms_and_joins_the_race_when_it_comes() {
    // RFC 8305 §3: both queries leave together, AAAA first; the A answer
    // waits 50 ms for AAAA, then IPv4 starts alone. Nothing listens on
    // IPv4, so only the late AAAA answer, fed into the running race, can
    // connect.
    enter_netns();
    let dir = TempDir::new("dns-slow-aaaa");
    let proxy = DnsProxy::start(
        &dir,
        SLOW_HOSTS,
        Hold::Delay(AAAA, Duration::from_millis(400)),
    );
    let _web = web_on(&dir, true);
    let (code, body, err) = get_slow(&[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(body, "either family\n");
    assert_eq!(proxy.seen()[..2], [AAAA, A], "AAAA asked first, then A");
    let v4_start = number_after(&err, "* Connecting over IPv4 after ");
    assert!(v4_start >= 50, "IPv4 waited the resolution delay: {err}");
    assert!(
        err.contains("no AAAA answer within the 50 ms resolution delay"),
        "{err}"
    );
    assert!(err.contains("*   Trying 10.0.0.1:8000..."), "{err}");
    let late = number_after(&err, "* A late answer after ");
    assert!(late >= 400, "the AAAA answer was held 400 ms: {err}");
    assert!(err.contains("adds fd00::1 to the attempts"), "{err}");
    assert!(err.contains("* IPv6 won: [fd00::1]:8000"), "{err}");
    // The IPv4 attempt started before the AAAA answer came.
    assert!(
        err.find("Trying 10.0.0.1").unwrap() < err.find("A late answer").unwrap(),
        "{err}"
    );
}

#[test]
fn a_missing_aaaa_answer_never_holds_ipv4_up() {
    // AAAA queries go unanswered: IPv4 starts 50 ms after the A answer
    // and wins long before the AAAA lookup would give up (nothing about
    // it is ever reported: the race ended first).
    enter_netns();
    let dir = TempDir::new("dns-no-aaaa");
    let proxy = DnsProxy::start(&dir, SLOW_HOSTS, Hold::Drop(AAAA));
    let _web = web_on(&dir, false);
    let (code, body, err) = get_slow(&[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(body, "either family\n");
    assert_eq!(proxy.seen()[..2], [AAAA, A], "AAAA asked first, then A");
    assert!(
        number_after(&err, "* Connecting over IPv4 after ") >= 50,
        "{err}"
    );
    assert!(err.contains("* IPv4 won: 10.0.0.1:8000"), "{err}");
    assert!(!err.contains("No AAAA address"), "{err}");
    assert!(!err.contains("Trying [fd00::1]"), "{err}");
}

#[test]
fn the_aaaa_answer_starts_ipv6_without_waiting_for_a() {
    // The A answer is held 1 s (within the 2 s query timeout): connecting
    // starts on the AAAA answer and IPv6 wins before A ever arrives.
    enter_netns();
    let dir = TempDir::new("dns-slow-a");
    let proxy = DnsProxy::start(&dir, SLOW_HOSTS, Hold::Delay(A, Duration::from_secs(1)));
    let _web = web_on(&dir, true);
    let (code, body, err) = get_slow(&[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(body, "either family\n");
    assert_eq!(
        proxy.seen()[..2],
        [AAAA, A],
        "both asked at once, AAAA first"
    );
    assert!(err.contains("the AAAA answer is in"), "{err}");
    assert!(err.contains("* IPv6 won: [fd00::1]:8000"), "{err}");
    assert!(!err.contains("Resolved slow.test to 10.0.0.1"), "{err}");
    // -4 asks only for A, and waits for it.
    let (code, _, err) = get_slow(&["-4"]);
    assert_eq!(code, Some(7), "nothing listens on IPv4: {err}");
    assert!(err.contains("Resolved slow.test to 10.0.0.1"), "{err}");
    assert!(!err.contains("fd00::1"), "{err}");
}
