//! Ladder (sequence) diagrams of TCP conversations from a pcap: the client
//! on the left, the server on the right, one arrow per segment with its
//! flags, sequence and acknowledgment numbers (relative to each side's ISN,
//! absolute in parentheses on the SYNs), payload length and time. The
//! handshake reads like the textbook: `seq=X`, `seq=Y ack=X+1`, `ack=Y+1`.
//! Windows are shown scaled (RFC 7323 §2.2: once both SYNs carried the
//! option, never on a SYN), as Wireshark shows them. Like Wireshark's flow
//! graph, each segment also says what it carries where that is readable:
//! the TLS records that start in it (Client Hello, Server Hello, Change
//! Cipher Spec, Application Data, …) or an HTTP request or status line.
//!
//! Part of the CLI layer (`tunstack ladder FILE.pcap [--svg OUT]`).

use crate::wire::tcp::TcpHeader;
use crate::wire::{AnyIp, TcpSegment, PROTO_TCP};
use pcap_file::pcap::PcapReader;
use std::fmt::Write as _;
use std::io::Read;
use std::net::SocketAddr;
use std::time::Duration;

/// One TCP segment of the conversation.
#[derive(Clone, Debug)]
pub struct Step {
    /// Time since the first packet.
    pub at: Duration,
    /// True if sent by the client (the side that sent the first SYN).
    pub from_client: bool,
    /// The TCP header.
    pub header: TcpHeader,
    /// Payload length.
    pub len: usize,
    /// What the payload carries, where readable: TLS record types or an
    /// HTTP request/status line.
    pub info: Option<String>,
    /// The payload (for decrypting TLS with a key log).
    pub payload: Vec<u8>,
}

/// A conversation between two endpoints.
#[derive(Clone, Debug)]
pub struct Ladder {
    /// The side that opened the connection.
    pub client: SocketAddr,
    /// The other side.
    pub server: SocketAddr,
    /// Segments in capture order.
    pub steps: Vec<Step>,
}

/// Reads the first TCP conversation in a pcap or pcapng capture
/// (LINKTYPE_RAW, as `--pcap` writes; IPv4 or IPv6). Other packets and other connections
/// are skipped.
///
/// # Errors
/// A message if the file is not a readable capture or holds no TCP.
pub fn from_pcap<R: Read>(mut r: R) -> Result<Ladder, String> {
    let mut bytes = Vec::new();
    r.read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    let packets = if bytes.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
        pcapng_packets(&bytes)?
    } else {
        pcap_packets(&bytes)?
    };
    let mut first: Option<Duration> = None;
    let mut ladder: Option<Ladder> = None;
    // Per direction (client, server): a Change Cipher Spec was seen, so
    // later handshake records are encrypted.
    let mut encrypted = [false, false];
    for (ts, data) in packets {
        let Ok(ip) = AnyIp::parse(&data) else {
            continue;
        };
        if ip.protocol != PROTO_TCP {
            continue;
        }
        let Ok(seg) = TcpSegment::parse(ip.src, ip.dst, ip.payload) else {
            continue;
        };
        let src = SocketAddr::new(ip.src, seg.header.src_port);
        let dst = SocketAddr::new(ip.dst, seg.header.dst_port);
        let l = ladder.get_or_insert_with(|| {
            // The client is whoever sent a bare SYN; else the first sender.
            let client_first = !(seg.header.flags.syn() && seg.header.flags.ack());
            let (client, server) = if client_first { (src, dst) } else { (dst, src) };
            Ladder {
                client,
                server,
                steps: Vec::new(),
            }
        });
        let from_client = src == l.client && dst == l.server;
        let from_server = src == l.server && dst == l.client;
        if !(from_client || from_server) {
            continue;
        }
        let t0 = *first.get_or_insert(ts);
        let after_ccs = &mut encrypted[usize::from(from_client)];
        let info = tls_records(seg.payload, after_ccs).or_else(|| http_line(seg.payload));
        l.steps.push(Step {
            at: ts.saturating_sub(t0),
            from_client,
            header: seg.header,
            len: seg.payload.len(),
            info,
            payload: seg.payload.to_vec(),
        });
    }
    ladder.ok_or_else(|| "no TCP segments in the capture".to_string())
}

/// The TLS records (RFC 8446 §5.1, RFC 5246 §6.2) that start in
/// `payload`, named as Wireshark names them: `TLS: Client Hello, …`.
/// Records continuing from an earlier segment are not recognised (the
/// header check fails on ciphertext but for a ~1e-6 chance).
fn tls_records(payload: &[u8], after_ccs: &mut bool) -> Option<String> {
    let mut names: Vec<&str> = Vec::new();
    let mut rest = payload;
    while let [ct, 3, minor, hi, lo, body @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*hi, *lo]));
        // A record is at most 2^14 + 2048 bytes (RFC 5246 §6.2.3).
        if !(20..=23).contains(ct) || *minor > 4 || len == 0 || len > (1 << 14) + 2048 {
            break;
        }
        let name = match (ct, body.first(), *after_ccs) {
            (20, _, _) => {
                *after_ccs = true;
                "Change Cipher Spec"
            }
            (21, _, _) => "Alert",
            (22, _, true) => "Encrypted Handshake Message",
            (22, Some(1), _) => "Client Hello",
            (22, Some(2), _) => "Server Hello",
            (22, Some(4), _) => "New Session Ticket",
            (22, Some(11), _) => "Certificate",
            (22, Some(12), _) => "Server Key Exchange",
            (22, Some(14), _) => "Server Hello Done",
            (22, Some(16), _) => "Client Key Exchange",
            (22, Some(20), _) => "Finished",
            (22, _, _) => "Handshake",
            _ => "Application Data",
        };
        if names.last() != Some(&name) {
            names.push(name);
        }
        rest = body.get(len..).unwrap_or_default();
    }
    (!names.is_empty()).then(|| format!("TLS: {}", names.join(", ")))
}

/// An HTTP/1.x request line (`GET /x HTTP/1.1`) or status line
/// (`HTTP/1.1 200 OK`) at the start of `payload`.
pub(super) fn http_line(payload: &[u8]) -> Option<String> {
    let head = payload.get(..payload.len().min(256))?;
    let end = head.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(head.get(..end)?).ok()?;
    let method_ok = line
        .split(' ')
        .next()
        .is_some_and(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase()));
    let request = method_ok && (line.ends_with(" HTTP/1.1") || line.ends_with(" HTTP/1.0"));
    if !(request || line.starts_with("HTTP/1.")) {
        return None;
    }
    const MAX: usize = 60;
    Some(if line.chars().count() > MAX {
        format!("{}…", line.chars().take(MAX).collect::<String>())
    } else {
        line.to_string()
    })
}

type Packets = Vec<(Duration, Vec<u8>)>;

fn pcap_packets(bytes: &[u8]) -> Result<Packets, String> {
    let mut reader =
        PcapReader::new(bytes).map_err(|e| format!("not a pcap or pcapng file: {e}"))?;
    let mut out = Vec::new();
    while let Some(pkt) = reader.next_packet() {
        let pkt = pkt.map_err(|e| format!("bad pcap record: {e}"))?;
        out.push((pkt.timestamp, pkt.data.into_owned()));
    }
    Ok(out)
}

fn pcapng_packets(bytes: &[u8]) -> Result<Packets, String> {
    use pcap_file::pcapng::{Block, PcapNgReader};
    let mut reader = PcapNgReader::new(bytes).map_err(|e| format!("not a pcapng file: {e}"))?;
    let mut out = Vec::new();
    while let Some(block) = reader.next_block() {
        match block.map_err(|e| format!("bad pcapng block: {e}"))? {
            Block::EnhancedPacket(p) => out.push((p.timestamp, p.data.into_owned())),
            Block::SimplePacket(p) => out.push((Duration::ZERO, p.data.into_owned())),
            _ => {}
        }
    }
    Ok(out)
}

impl Ladder {
    /// The ISNs of both sides (from their SYNs), if captured.
    fn isns(&self) -> (Option<u32>, Option<u32>) {
        let isn = |client: bool| {
            self.steps
                .iter()
                .find(|s| s.from_client == client && s.header.flags.syn())
                .map(|s| s.header.seq.0)
        };
        (isn(true), isn(false))
    }

    /// The window shifts of (client, server): in effect only when both
    /// SYNs carried the option (RFC 7323 §2.2).
    fn shifts(&self) -> (u8, u8) {
        let ws = |client: bool| {
            self.steps
                .iter()
                .find(|s| s.from_client == client && s.header.flags.syn())
                .and_then(|s| s.header.options.window_scale)
        };
        match (ws(true), ws(false)) {
            (Some(c), Some(s)) => (c, s),
            _ => (0, 0),
        }
    }

    /// The label of one step: flags, then `seq=X+n ack=Y+m` relative to
    /// the ISNs named X (client) and Y (server), then the length.
    pub fn label(&self, s: &Step) -> String {
        let (x, y) = self.isns();
        let (own, own_name, peer, peer_name) = if s.from_client {
            (x, "X", y, "Y")
        } else {
            (y, "Y", x, "X")
        };
        let rel = |v: u32, base: Option<u32>, name: &str| match base {
            Some(b) => match v.wrapping_sub(b) {
                0 => name.to_string(),
                d => format!("{name}+{d}"),
            },
            None => v.to_string(),
        };
        let h = &s.header;
        let mut out = format!("[{}]", h.flags);
        let show_seq = h.flags.syn() || h.flags.fin() || h.flags.rst() || s.len > 0;
        if show_seq {
            let _ = write!(out, " seq={}", rel(h.seq.0, own, own_name));
            if h.flags.syn() {
                let _ = write!(out, " ({})", h.seq.0);
            }
        }
        if h.flags.ack() {
            let _ = write!(out, " ack={}", rel(h.ack.0, peer, peer_name));
        }
        if s.len > 0 {
            let _ = write!(out, " len={}", s.len);
        }
        // RFC 7323 §2.2: the window of a SYN is never scaled.
        let (cs, ss) = self.shifts();
        let shift = match (h.flags.syn(), s.from_client) {
            (true, _) => 0,
            (false, true) => cs,
            (false, false) => ss,
        };
        let _ = write!(out, " win={}", u32::from(h.window) << shift);
        out
    }

    /// The text diagram, at most `max` steps.
    pub fn text(&self, max: usize) -> String {
        const WIDTH: usize = 64;
        let mut out = String::new();
        let left = self.client.to_string();
        let right = self.server.to_string();
        let _ = writeln!(
            out,
            "{:<w$}{right}",
            format!("{left} (client)"),
            w = WIDTH + 2 - right.len().min(WIDTH)
        );
        let _ = writeln!(out, "{:>width$}", "(server)", width = WIDTH + 2);
        for s in self.steps.iter().take(max) {
            let label = self.label(s);
            let body = WIDTH.saturating_sub(4);
            let text = format!(" {label} ");
            let fill = body.saturating_sub(text.chars().count());
            let (l, r) = (fill / 2, fill - fill / 2);
            let arrow = if s.from_client {
                format!("|{}{}{}>|", "-".repeat(l + 1), text, "-".repeat(r + 1))
            } else {
                format!("|<{}{}{}|", "-".repeat(l + 1), text, "-".repeat(r + 1))
            };
            let _ = write!(out, "{arrow} {:>9.3} ms", s.at.as_secs_f64() * 1e3);
            match &s.info {
                Some(info) => {
                    let _ = writeln!(out, "  {info}");
                }
                None => out.push('\n'),
            }
        }
        if self.steps.len() > max {
            let _ = writeln!(out, "... {} more segments", self.steps.len() - max);
        }
        out
    }

    /// The diagram as an SVG document, at most `max` steps.
    pub fn svg(&self, max: usize) -> String {
        let steps: Vec<&Step> = self.steps.iter().take(max).collect();
        let (w, row, top) = (760.0_f64, 28.0_f64, 60.0_f64);
        let (xl, xr) = (120.0_f64, w - 120.0);
        let h = top + row * (steps.len() as f64 + 1.0);
        let esc = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"monospace\" font-size=\"12\">"
        );
        let _ = writeln!(out, "<defs><marker id=\"a\" markerWidth=\"10\" markerHeight=\"7\" refX=\"10\" refY=\"3.5\" orient=\"auto\"><polygon points=\"0 0, 10 3.5, 0 7\"/></marker></defs>");
        let _ = writeln!(
            out,
            "<text x=\"{xl}\" y=\"20\" text-anchor=\"middle\">{} (client)</text>",
            esc(&self.client.to_string())
        );
        let _ = writeln!(
            out,
            "<text x=\"{xr}\" y=\"20\" text-anchor=\"middle\">{} (server)</text>",
            esc(&self.server.to_string())
        );
        let _ = writeln!(
            out,
            "<line x1=\"{xl}\" y1=\"30\" x2=\"{xl}\" y2=\"{h}\" stroke=\"black\"/>"
        );
        let _ = writeln!(
            out,
            "<line x1=\"{xr}\" y1=\"30\" x2=\"{xr}\" y2=\"{h}\" stroke=\"black\"/>"
        );
        for (i, s) in steps.iter().enumerate() {
            let y = top + row * i as f64;
            let (x1, x2) = if s.from_client { (xl, xr) } else { (xr, xl) };
            let _ = writeln!(
                out,
                "<line x1=\"{x1}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{}\" stroke=\"steelblue\" marker-end=\"url(#a)\"/>",
                y + row * 0.6
            );
            let _ = writeln!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                (xl + xr) / 2.0,
                y - 3.0,
                esc(&match &s.info {
                    Some(info) => format!("{}  {info}", self.label(s)),
                    None => self.label(s),
                })
            );
            let _ = writeln!(
                out,
                "<text x=\"{}\" y=\"{}\" font-size=\"10\">{:.3} ms</text>",
                xr + 8.0,
                y + 4.0,
                s.at.as_secs_f64() * 1e3
            );
        }
        out.push_str("</svg>\n");
        out
    }
}

#[cfg(test)]
mod payload_tests {
    use super::{http_line, tls_records};

    #[test]
    fn tls_records_are_named_and_encrypted_handshakes_follow_ccs() {
        let mut ccs = false;
        let hello = [22, 3, 1, 0, 4, 1, 0, 0, 0];
        assert_eq!(
            tls_records(&hello, &mut ccs).as_deref(),
            Some("TLS: Client Hello")
        );
        let flight = [
            22, 3, 3, 0, 1, 2, // Server Hello
            20, 3, 3, 0, 1, 1, // Change Cipher Spec
            22, 3, 3, 0, 1, 1, // encrypted: not a Client Hello
            23, 3, 3, 0, 2, 9, 9, // Application Data
        ];
        assert_eq!(
            tls_records(&flight, &mut ccs).as_deref(),
            Some("TLS: Server Hello, Change Cipher Spec, Encrypted Handshake Message, Application Data")
        );
        assert!(ccs);
        assert_eq!(tls_records(b"GET / HTTP/1.1\r\n", &mut ccs), None);
        assert_eq!(tls_records(&[23, 3, 9, 0, 1, 0], &mut ccs), None);
        assert_eq!(tls_records(&[23, 3], &mut ccs), None);
    }

    #[test]
    fn http_lines_are_requests_or_status_lines_only() {
        assert_eq!(
            http_line(b"GET /a?b HTTP/1.1\r\nHost: h\r\n").as_deref(),
            Some("GET /a?b HTTP/1.1")
        );
        assert_eq!(
            http_line(b"HTTP/1.1 404 Not Found\r\n").as_deref(),
            Some("HTTP/1.1 404 Not Found")
        );
        assert_eq!(http_line(b"body text\r\n"), None);
        assert_eq!(http_line(b"GET / HTTP/1.1"), None);
        assert_eq!(http_line(&[0xff, 0xfe, b'\r', b'\n']), None);
    }
}
