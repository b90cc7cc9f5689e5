//! The kernel's network around the test's namespace: nftables rules and
//! counters, and [`PeerNs`], a kernel peer one routed hop away.

use super::{run, Daemon, Family};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Loads an nftables ruleset from text (`nft -f -`).
pub fn nft(rules: &str) {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("nft");
    child
        .stdin
        .take()
        .expect("nft stdin")
        .write_all(rules.as_bytes())
        .expect("write to nft");
    assert!(
        child.wait().expect("nft").success(),
        "nft rejected:\n{rules}"
    );
}

/// Packets counted by the named counter `name` of table `table` in
/// nftables family `family`.
pub fn nft_counter(family: &str, table: &str, name: &str) -> u64 {
    let out = run("nft", &["list", "counter", family, table, name]);
    out.split("packets ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no packet count in {out}"))
}

/// A second, named namespace for a kernel peer one hop behind the test's
/// namespace, deleted (with whatever runs in it) on drop:
///
/// ```text
///  peer ns: 10.0.1.1 ──veth── 10.0.1.2 test ns 10.0.0.1 ──tun0── tunstack 10.0.0.2
///           fd00:1::1         fd00:1::2       fd00::1               fd00::2
/// ```
///
/// The test's namespace forwards both families between veth (`vt` on
/// its side, `vp` on the peer's) and tun0.
pub struct PeerNs(pub String);

impl PeerNs {
    /// The peer's address on the veth link.
    pub fn addr(family: Family) -> IpAddr {
        match family {
            Family::V4 => IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1)),
            Family::V6 => IpAddr::V6(Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, 1)),
        }
    }

    /// Creates the peer namespace `tunstack-TAG-PID-N` and the veth link,
    /// from a thread already in the test's namespace, with `mtu` on the
    /// test namespace's end (the kernel answers bigger packets from
    /// tunstack with "fragmentation needed" or Packet Too Big; the peer's
    /// own end stays at 1500, so its MSS does not shrink our segments
    /// first).
    pub fn create(tag: &str, mtu: u32) -> PeerNs {
        // N tells apart the peers of tests running in parallel.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let peer = PeerNs(format!("tunstack-{tag}-{}-{n}", std::process::id()));
        run("ip", &["netns", "add", &peer.0]);
        // No duplicate address detection on the veth link: addresses are
        // usable at once (a fresh namespace's defaults apply to links
        // created afterwards).
        run("sysctl", &["-qw", "net.ipv6.conf.default.accept_dad=0"]);
        peer.exec(&["sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"]);
        let mtu = mtu.to_string();
        run(
            "ip",
            &[
                "link", "add", "vt", "mtu", &mtu, "type", "veth", "peer", "name", "vp", "netns",
                &peer.0,
            ],
        );
        run("ip", &["addr", "add", "10.0.1.2/24", "dev", "vt"]);
        run("ip", &["addr", "add", "fd00:1::2/64", "dev", "vt", "nodad"]);
        run("ip", &["link", "set", "vt", "up"]);
        run("sysctl", &["-qw", "net.ipv4.ip_forward=1"]);
        run("sysctl", &["-qw", "net.ipv6.conf.all.forwarding=1"]);
        peer.exec(&["ip", "link", "set", "lo", "up"]);
        peer.exec(&["ip", "addr", "add", "10.0.1.1/24", "dev", "vp"]);
        peer.exec(&["ip", "addr", "add", "fd00:1::1/64", "dev", "vp", "nodad"]);
        peer.exec(&["ip", "link", "set", "vp", "up"]);
        peer.exec(&["ip", "route", "add", "10.0.0.0/24", "via", "10.0.1.2"]);
        peer.exec(&["ip", "-6", "route", "add", "fd00::/64", "via", "fd00:1::2"]);
        peer
    }

    /// Runs `args` in the peer namespace to completion.
    pub fn exec(&self, args: &[&str]) -> String {
        let mut v = vec!["netns", "exec", self.0.as_str()];
        v.extend_from_slice(args);
        run("ip", &v)
    }

    /// Starts python3 `script` with `args` in the peer namespace (its
    /// output logged under `dir`) and waits up to 10 s for the file
    /// `ready`, which the script creates once it listens.
    pub fn python(&self, dir: &Path, script: &Path, args: &[&str], ready: &Path) -> Daemon {
        let script = script.to_str().expect("utf-8 path");
        let mut v = vec!["netns", "exec", self.0.as_str(), "python3", script];
        v.extend_from_slice(args);
        let daemon = Daemon::spawn(dir, "ip", &v);
        for _ in 0..200 {
            if ready.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(ready.exists(), "the peer did not start");
        daemon
    }
}

impl Drop for PeerNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "pids", &self.0])
            .output()
            .map(|o| {
                for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                    let _ = Command::new("kill").arg(pid).status();
                }
            });
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}
