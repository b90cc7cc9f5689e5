//! The ladder diagram on a golden capture made by the deterministic core:
//! two interfaces with fixed secrets exchange a request and a response
//! over a virtual link; packets are written to a pcap with virtual-time
//! stamps, so the diagram is the same byte for byte on every run.

// The ladder is part of the binary, not the library: compiled here from
// its source, against the library's `wire` as in the binary.
#[path = "../src/cli/ladder.rs"]
mod ladder;

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::DataLink;
use std::collections::VecDeque;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use tunstack::device::Device;
use tunstack::stack::{Config, Interface};
use tunstack::time::{Duration, Instant};
use tunstack::wire;

#[derive(Default)]
struct Link {
    rx: VecDeque<Vec<u8>>,
    tx: Vec<Vec<u8>>,
}

impl Device for Link {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let p = self.rx.pop_front().ok_or(io::ErrorKind::WouldBlock)?;
        buf[..p.len()].copy_from_slice(&p);
        Ok(p.len())
    }
    fn send(&mut self, p: &[u8]) -> io::Result<()> {
        self.tx.push(p.to_vec());
        Ok(())
    }
    fn mtu(&self) -> usize {
        1500
    }
}

fn golden_pcap() -> Vec<u8> {
    let a_addr = Ipv4Addr::new(10, 0, 0, 2);
    let b_addr = Ipv4Addr::new(10, 0, 0, 1);
    let tcp = tunstack::tcp::Config {
        delayed_ack: Duration::ZERO,
        ..Default::default()
    };
    let mut a = Interface::new(Config {
        addr: a_addr,
        secret: [1, 2],
        tcp: tcp.clone(),
        ..Config::default()
    });
    let mut b = Interface::new(Config {
        addr: b_addr,
        secret: [3, 4],
        tcp,
        ..Config::default()
    });
    b.tcp_listen(80).unwrap();
    let mut now = Instant::from_millis(1000);
    let ca = a.tcp_connect(now, SocketAddrV4::new(b_addr, 80)).unwrap();
    let (mut da, mut db) = (Link::default(), Link::default());
    let header = PcapHeader {
        datalink: DataLink::RAW,
        ..PcapHeader::default()
    };
    let mut w = PcapWriter::with_header(Vec::new(), header).unwrap();
    let mut cb = None;
    let (mut sent_req, mut sent_resp, mut closed) = (false, false, false);
    for _ in 0..200 {
        a.poll(now, &mut da);
        b.poll(now, &mut db);
        let ts = std::time::Duration::from_micros(now.total_micros());
        for p in da.tx.drain(..) {
            w.write_packet(&PcapPacket::new(ts, p.len() as u32, &p))
                .unwrap();
            db.rx.push_back(p);
        }
        for p in db.tx.drain(..) {
            w.write_packet(&PcapPacket::new(ts, p.len() as u32, &p))
                .unwrap();
            da.rx.push_back(p);
        }
        if cb.is_none() {
            cb = b.tcp_accept(80).unwrap();
        }
        if let Some(t) = a.tcp_mut(ca) {
            if !sent_req && t.state() == tunstack::tcp::State::Established {
                t.send(b"GET / HTTP/1.1\r\nHost: 10.0.0.1\r\n\r\n").unwrap();
                sent_req = true;
            }
        }
        if let Some(t) = cb.and_then(|h| b.tcp_mut(h)) {
            let mut buf = [0u8; 256];
            if !sent_resp && t.recv(&mut buf).is_ok_and(|n| n > 0) {
                t.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    .unwrap();
                t.close();
                sent_resp = true;
            }
        }
        if let Some(t) = a.tcp_mut(ca) {
            let mut buf = [0u8; 256];
            while let Ok(n) = t.recv(&mut buf) {
                if n == 0 {
                    if !closed {
                        t.close();
                        closed = true;
                    }
                    break;
                }
            }
        }
        now += Duration::from_micros(250);
    }
    w.into_writer()
}

#[test]
fn ladder_of_a_request_and_response_matches_the_golden_file() {
    let pcap = golden_pcap();
    let ladder = ladder::from_pcap(&pcap[..]).unwrap();
    let text = ladder.text(100);
    let golden_path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/ladder.txt");
    if std::env::var_os("TUNSTACK_BLESS").is_some() {
        std::fs::write(golden_path, &text).unwrap();
    }
    let golden =
        std::fs::read_to_string(golden_path).expect("golden file (TUNSTACK_BLESS=1 writes it)");
    assert_eq!(
        text, golden,
        "ladder changed; review and re-bless with TUNSTACK_BLESS=1"
    );
    // The textbook handshake labels.
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[2].contains("[S] seq=X ("), "{}", lines[2]);
    assert!(
        lines[3].contains("[S.] seq=Y (") && lines[3].contains("ack=X+1"),
        "{}",
        lines[3]
    );
    assert!(lines[4].contains("[.] ack=Y+1"), "{}", lines[4]);
    // Each step keeps its payload (what `--keylog` decrypts).
    let request = ladder
        .steps
        .iter()
        .find(|s| s.from_client && s.len > 0)
        .expect("the request");
    assert!(request.payload.starts_with(b"GET / HTTP/1.1\r\n"));
    assert_eq!(request.payload.len(), request.len);
    let svg = ladder.svg(100);
    assert!(svg.starts_with("<svg") && svg.contains("seq=X") && svg.trim_end().ends_with("</svg>"));
}

#[test]
fn pcapng_captures_draw_the_same_ladder() {
    use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
    use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock;
    use pcap_file::pcapng::PcapNgWriter;
    let pcap = golden_pcap();
    let mut reader = pcap_file::pcap::PcapReader::new(&pcap[..]).unwrap();
    let mut ng = PcapNgWriter::new(Vec::new()).unwrap();
    ng.write_pcapng_block(InterfaceDescriptionBlock {
        linktype: DataLink::RAW,
        snaplen: 65535,
        options: vec![],
    })
    .unwrap();
    while let Some(p) = reader.next_packet() {
        let p = p.unwrap();
        let epb = EnhancedPacketBlock {
            interface_id: 0,
            timestamp: p.timestamp,
            original_len: p.orig_len,
            data: p.data.clone(),
            options: vec![],
        };
        ng.write_pcapng_block(epb).unwrap();
    }
    let ng = ng.into_inner();
    let a = ladder::from_pcap(&pcap[..]).unwrap().text(100);
    let b = ladder::from_pcap(&ng[..]).unwrap().text(100);
    assert_eq!(a, b);
    assert!(ladder::from_pcap(&b"not a capture"[..]).is_err());
}
