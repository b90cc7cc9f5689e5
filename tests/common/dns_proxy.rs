//! A DNS proxy for the resolver tests: on the kernel's port 53, in front
//! of dnsmasq (on 127.0.0.1:5353), holding back or dropping the answers of
//! one record type, so a test controls which answer tunstack sees first
//! (RFC 8305 §3 races).

use super::{Daemon, TempDir};
use std::time::Duration;

/// What the DNS proxy in front of dnsmasq does with answers of one type.
#[derive(Clone, Copy)]
pub enum Hold {
    /// Holds answers to queries of this type for this long.
    Delay(u16, Duration),
    /// Never answers queries of this type.
    Drop(u16),
}

/// A DNS proxy on the kernel's port 53 in front of dnsmasq (on
/// 127.0.0.1:5353), holding back or dropping the answers of one record
/// type, so a test controls which answer tunstack sees first. Records the
/// query types in the order they arrived.
pub struct DnsProxy {
    seen: std::sync::Arc<std::sync::Mutex<Vec<u16>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    _dnsmasq: Daemon,
}

impl DnsProxy {
    pub fn start(dir: &TempDir, hosts: &str, hold: Hold) -> DnsProxy {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        let dnsmasq = super::dnsmasq_with(
            dir.path(),
            hosts,
            &[
                "--port=5353",
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
            ],
        );
        // The wildcard: tun0 (with 10.0.0.1) appears only once `get` runs.
        let sock = std::net::UdpSocket::bind("0.0.0.0:53").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (Arc::clone(&seen), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !stop2.load(Ordering::Relaxed) {
                let Ok((n, client)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let query = buf[..n].to_vec();
                let qtype = query_type(&query);
                seen2.lock().unwrap().push(qtype);
                let reply = sock.try_clone().unwrap();
                std::thread::spawn(move || {
                    let wait = match hold {
                        Hold::Drop(t) if t == qtype => return,
                        Hold::Delay(t, d) if t == qtype => d,
                        _ => Duration::ZERO,
                    };
                    let up = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                    up.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    up.send_to(&query, "127.0.0.1:5353").unwrap();
                    let mut b = [0u8; 4096];
                    let Ok(m) = up.recv(&mut b) else { return };
                    std::thread::sleep(wait);
                    let _ = reply.send_to(&b[..m], client);
                });
            }
        });
        DnsProxy {
            seen,
            stop,
            _dnsmasq: dnsmasq,
        }
    }

    pub fn seen(&self) -> Vec<u16> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for DnsProxy {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The QTYPE of a query's first question (after the 12-byte header and
/// the name's labels).
fn query_type(q: &[u8]) -> u16 {
    let mut at = 12;
    while q[at] != 0 {
        at += usize::from(q[at]) + 1;
    }
    u16::from_be_bytes([q[at + 1], q[at + 2]])
}

/// The AAAA record type.
pub const AAAA: u16 = 28;
/// The A record type.
pub const A: u16 = 1;
