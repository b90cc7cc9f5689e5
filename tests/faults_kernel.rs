//! Linux's TCP and tunstack over an impaired path, in private namespaces:
//! tunstack → kernel through our `FaultInjector` (loss, duplication,
//! reordering); kernel → tunstack through nftables rules (loss,
//! duplication) and [`RxReorder`] (reordering, which nftables cannot do
//! and netem is not available for). 10 MiB each way, at the same time,
//! must arrive SHA-256-identical.
//!
//! A drop on the sending host's own output path is reported back to its
//! TCP, which resends at once: no loss is ever seen. So the kernel peer
//! lives in a second namespace behind a veth pair, and the test's
//! namespace forwards between veth and tun0 and impairs the forwarded
//! packets, which the sender cannot see:
//!
//! ```text
//!  peer ns: 10.0.1.1 ──veth── 10.0.1.2 test ns 10.0.0.1 ──tun0── tunstack 10.0.0.2
//!           fd00:1::1         fd00:1::2       fd00::1               fd00::2
//!                                    (forward hook: drop 2%, dup 1%)
//! ```
//!
//! The test runs over each family (`NAME::v4`, `NAME::v6`).

mod common;

use common::*;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tunstack::device::{Device, FaultInjector, Faults, TunConfig, TunDevice};
use tunstack::net::Config;
use tunstack::{Stack, TcpStream};

/// Reorders what the kernel sends: with probability 1/`one_in` a packet
/// read from the device is held back and delivered after the next one (or
/// when the device has nothing more). Seeded, so a run is reproducible as
/// far as the kernel's timing allows.
struct RxReorder<D> {
    inner: D,
    one_in: u64,
    rng: u64,
    held: Option<Vec<u8>>,
    ready: Option<Vec<u8>>,
    reordered: Arc<AtomicU64>,
}

impl<D: Device> RxReorder<D> {
    fn next_random(&mut self) -> u64 {
        // SplitMix64.
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn deliver(buf: &mut [u8], p: &[u8]) -> usize {
        let n = p.len().min(buf.len());
        buf[..n].copy_from_slice(&p[..n]);
        n
    }
}

impl<D: Device> Device for RxReorder<D> {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(p) = self.ready.take() {
            return Ok(Self::deliver(buf, &p));
        }
        loop {
            match self.inner.recv(buf) {
                Ok(n) => {
                    if let Some(h) = self.held.take() {
                        // This packet overtakes the one held back.
                        self.ready = Some(h);
                        self.reordered.fetch_add(1, Ordering::Relaxed);
                        return Ok(n);
                    }
                    if self.next_random() % self.one_in == 0 {
                        self.held = Some(buf[..n].to_vec());
                        continue;
                    }
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return match self.held.take() {
                        Some(h) => Ok(Self::deliver(buf, &h)),
                        None => Err(e),
                    };
                }
                Err(e) => return Err(e),
            }
        }
    }
    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        self.inner.send(packet)
    }
    fn mtu(&self) -> usize {
        self.inner.mtu()
    }
    fn as_raw_fd(&self) -> Option<RawFd> {
        self.inner.as_raw_fd()
    }
}

/// The kernel peer: accepts one connection on ADDR:9100, sends FILE and
/// reads to EOF at the same time, then writes the SHA-256 of what it read
/// to OUT.
const PEER: &str = r#"
import hashlib, socket, sys, threading
srv = socket.socket(socket.AF_INET6 if ":" in sys.argv[3] else socket.AF_INET)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((sys.argv[3], 9100))
srv.listen(1)
open(sys.argv[2] + ".ready", "w").close()
c, _ = srv.accept()
def send():
    with open(sys.argv[1], "rb") as f:
        c.sendall(f.read())
    c.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send)
t.start()
h = hashlib.sha256()
while True:
    b = c.recv(1 << 16)
    if not b:
        break
    h.update(b)
t.join()
open(sys.argv[2], "w").write(h.hexdigest())
"#;

fn ten_mebibytes_each_way_survive_loss_duplication_and_reordering(f: Family) {
    enter_netns();
    let tun = TunDevice::open(&TunConfig::default()).expect("tun0");
    let faults = Faults {
        drop: 0.02,
        duplicate: 0.01,
        reorder: 0.02,
        ..Faults::default()
    };
    let reordered = Arc::new(AtomicU64::new(0));
    let dev = RxReorder {
        inner: FaultInjector::new(tun, faults, 9),
        one_in: 50,
        rng: 7,
        held: None,
        ready: None,
        reordered: Arc::clone(&reordered),
    };
    let stack = Stack::new(dev, Config::default()).unwrap();
    let dir = TempDir::new("faults");
    let down = random_bytes(10 << 20, 101);
    let up = random_bytes(10 << 20, 202);
    let (expect_down, expect_up) = (sha256(&down), sha256(&up));
    std::fs::write(dir.path().join("down.bin"), &down).unwrap();
    drop(down);
    std::fs::write(dir.path().join("peer.py"), PEER).unwrap();

    let peer = PeerNs::create("faults", 1500);
    let peer_addr = PeerNs::addr(f);
    // Segments from the peer to tunstack: 2% vanish, 1% arrive twice.
    let (fam, us) = (f.nft(), f.us());
    nft(&format!(
        "table {fam} impair {{\n\
           counter dropped {{}}\n\
           counter duplicated {{}}\n\
           chain impaired {{\n\
             type filter hook forward priority 0; policy accept;\n\
             {fam} saddr {peer_addr} numgen random mod 1000 < 20 counter name \"dropped\" drop\n\
             {fam} saddr {peer_addr} numgen random mod 1000 < 10 counter name \"duplicated\" dup to {us} device \"tun0\"\n\
           }}\n\
         }}\n"
    ));
    let result = dir.path().join("up.sha");
    let _peer_proc = peer.python(
        dir.path(),
        &dir.path().join("peer.py"),
        &[
            dir.path().join("down.bin").to_str().unwrap(),
            result.to_str().unwrap(),
            &peer_addr.to_string(),
        ],
        &dir.path().join("up.sha.ready"),
    );

    let ours = TcpStream::connect(&stack, SocketAddr::new(peer_addr, 9100)).unwrap();
    let ours_writer = ours.try_clone().unwrap();
    let ow = std::thread::spawn(move || {
        (&ours_writer).write_all(&up).unwrap();
        ours_writer.shutdown(std::net::Shutdown::Write).unwrap();
    });
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut &ours, &mut got).unwrap();
    ow.join().unwrap();
    assert_eq!(sha256(&got), expect_down, "kernel → tunstack intact");
    for _ in 0..200 {
        if result.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        std::fs::read_to_string(&result).unwrap_or_default(),
        expect_up,
        "tunstack → kernel intact"
    );

    // The impairments really happened, in both directions.
    let st = ours.tcp_stats().unwrap();
    let (dropped, duplicated) = (
        nft_counter(fam, "impair", "dropped"),
        nft_counter(fam, "impair", "duplicated"),
    );
    assert!(st.retransmits > 0, "our losses were repaired: {st:?}");
    assert!(
        st.out_of_order_queued > 0,
        "the kernel's losses left holes: {st:?}"
    );
    assert!(
        dropped > 0 && duplicated > 0,
        "nft: {dropped} dropped, {duplicated} duplicated"
    );
    let reordered = reordered.load(Ordering::Relaxed);
    assert!(reordered > 0, "no kernel packet was reordered");
    eprintln!(
        "{f:?}: impaired 10 MiB each way: nft dropped {dropped} and duplicated {duplicated} kernel packets, \
         {reordered} were reordered on arrival; tunstack retransmitted {}, queued {} out of order, \
         {} SACK recoveries",
        st.retransmits, st.out_of_order_queued, st.sack_recoveries
    );
    drop(ours);
    assert!(stack.shutdown(Duration::from_secs(10)));
}

per_family!(ten_mebibytes_each_way_survive_loss_duplication_and_reordering);
