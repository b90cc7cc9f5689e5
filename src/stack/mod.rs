//! The interface glue: one [`Interface`] owns every TCP connection and
//! listener of an IPv4 address and moves packets between a
//! [`Device`](crate::device::Device) and the sans-IO [`Tcb`]s.
//!
//! Owns IPv4 ingress validation and demultiplexing (RFC 791, RFC 1122
//! §3.2.1), the LISTEN and CLOSED states of RFC 9293 §3.10.7.1–2 (RST for a
//! segment to no connection, SYN and accept queues), ephemeral port
//! selection (RFC 6056 §3.3.1), ICMP echo replies and port unreachables
//! (RFC 792, RFC 1122 §3.2.2), and the per-stack [`Stats`].
//!
//! Deterministic: time arrives as an argument, randomness from a seed the
//! caller injects, and every table iterates in key order (no OS-seeded
//! hashing). No threads, locks or clocks here.

pub(crate) mod answer;
mod demux;
mod direct;
mod events;
mod frag;
mod ipv4;
mod ipv6;
mod sched;
mod stats;
mod udp;

#[cfg(test)]
mod address_tests;
#[cfg(test)]
mod direct_tests;
#[cfg(test)]
mod events_tests;
#[cfg(test)]
mod icmp_tests;
#[cfg(test)]
mod ipv6_tests;
#[cfg(test)]
mod listen_tests;
#[cfg(test)]
mod malformed_tests;
#[cfg(test)]
mod offload_tests;
#[cfg(test)]
mod paced_tests;
#[cfg(test)]
mod queue_tests;
#[cfg(test)]
mod sim;
#[cfg(test)]
mod sim_path_tests;
#[cfg(test)]
mod sim_tests;
#[cfg(test)]
mod sim_wan_tests;
#[cfg(test)]
mod tests;

pub use crate::wire::steer::MAX_QUEUES;
pub use demux::{SocketHandle, MAX_BACKLOG};
pub use events::SocketEvents;
pub use frag::{Expired, FragLimits, Fragment, Reassembled, Reassembler, QUOTE_V4, QUOTE_V6};
pub use stats::Stats;
pub use udp::UdpSendError;

use crate::device::Device;
use crate::tcp::{self, IsnGenerator};
use crate::time::Instant;
use crate::wire::{TcpHeader, IPV4_HEADER_LEN, IPV6_HEADER_LEN, PROTO_TCP, UDP_HEADER_LEN};
use demux::{Entry, Listener};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::RangeInclusive;

/// Packets read from the device per [`Interface::poll`] before output runs,
/// so ACKs keep flowing under a flood.
pub(crate) const RX_BATCH: usize = 64;
/// Bound on queued RST / ICMP replies.
const MAX_REPLIES: usize = 256;
/// Most stack-generated replies (RSTs for no connection, ICMP errors and
/// echo replies) per second: one forged packet never buys more than one
/// reply, and a flood of them cannot make us a traffic source beyond this
/// (Linux's `icmp_msgs_per_sec` is 1000 too).
const REPLIES_PER_SECOND: u32 = 1000;

/// Configuration of an [`Interface`].
#[derive(Clone, Debug)]
pub struct Config {
    /// Our IPv4 address (tunstack's side of the link).
    pub addr: Ipv4Addr,
    /// Our IPv6 address (tunstack's side of the link; the kernel's side
    /// is conventionally `fd00::1/64`).
    pub addr6: Ipv6Addr,
    /// Prefix length of our subnet, so its directed broadcast address is
    /// known and never accepted as a source; 32 (the default) when the
    /// subnet is unknown. [`Stack::open_tun`](crate::net::Stack::open_tun)
    /// sets it from the TUN configuration.
    pub prefix_len: u8,
    /// Link MTU; the advertised MSS is MTU − 40.
    pub mtu: usize,
    /// TTL of packets we send.
    pub ttl: u8,
    /// Per-connection TCP settings.
    pub tcp: tcp::Config,
    /// Most TCP connections held at once (all states).
    pub max_connections: usize,
    /// Half-open connections per listener (SYN queue). When full, a SYN is
    /// answered with a SYN cookie (or, with `syn_cookies` off, the oldest
    /// half-open connection makes room for it); a half-open connection
    /// holds no buffers (about 1 KiB), so the default is as deep as
    /// Linux's `tcp_max_syn_backlog`.
    pub syn_backlog: usize,
    /// Established, not yet accepted connections per listener, for
    /// listeners opened without a backlog of their own (std's 128).
    pub accept_backlog: usize,
    /// Answer SYNs with SYN cookies when the SYN queue is full (Linux's
    /// `tcp_syncookies = 1`).
    pub syn_cookies: bool,
    /// Ephemeral port range (Linux's default `ip_local_port_range`).
    pub ephemeral_ports: RangeInclusive<u16>,
    /// Secret for ISNs and port randomization (drawn from the OS by `net`).
    pub secret: [u64; 2],
    /// Datagrams queued per UDP socket and direction.
    pub udp_queue: usize,
    /// Fragment reassembly limits (memory caps, timeouts).
    pub frag: FragLimits,
    /// Queues of a multiqueue TUN device (`IFF_MULTI_QUEUE`), one stack
    /// shard and driver thread each; 1 (the default) is a plain TUN with
    /// one driver. Read by [`Stack::open_tun`](crate::net::Stack::open_tun);
    /// at most [`MAX_QUEUES`]. Every shard has the limits of this
    /// configuration (connections, backlogs, reassembly memory) for itself.
    pub queues: usize,
    /// Which of the `queues` shards this interface is (set by `net`): its
    /// connections use local ports whose flows the kernel steers to this
    /// queue ([`crate::wire::steer`]).
    pub queue: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            addr: Ipv4Addr::new(10, 0, 0, 2),
            addr6: Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2),
            prefix_len: 32,
            mtu: 1500,
            ttl: 64,
            // The MSS follows the MTU (MTU − 40, RFC 9293 §3.7.1): no
            // cap of our own beyond it.
            tcp: tcp::Config {
                mss: u16::MAX,
                ..tcp::Config::default()
            },
            max_connections: 16384,
            syn_backlog: 4096,
            accept_backlog: 128,
            syn_cookies: true,
            ephemeral_ports: 32768..=60999,
            secret: [0x5eed_0001, 0x5eed_0002],
            udp_queue: 256,
            frag: FragLimits::default(),
            queues: 1,
            queue: 0,
        }
    }
}

impl Config {
    /// The directed broadcast address of our subnet (RFC 919, RFC 1122
    /// §3.2.1.3 (c)): the host part all ones. None when the subnet is
    /// unknown or has no broadcast address (/31 and /32, RFC 3021).
    pub fn directed_broadcast(&self) -> Option<Ipv4Addr> {
        let host_bits = 32u32.checked_sub(u32::from(self.prefix_len))?;
        if host_bits < 2 {
            return None;
        }
        let host_mask = u32::MAX >> (32 - host_bits);
        Some(Ipv4Addr::from(u32::from(self.addr) | host_mask))
    }
}

/// Errors of the socket-management calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The port is taken.
    AddrInUse,
    /// No free ephemeral port for that destination.
    NoPortsAvailable,
    /// The connection table is full.
    TableFull,
    /// The handle does not name a live socket.
    InvalidHandle,
    /// No listener on that port.
    NotListening,
    /// No route to that destination from this interface: a loopback,
    /// unspecified, multicast or broadcast address (Linux answers
    /// `connect` to the latter two with `ENETUNREACH`; the loopback
    /// interface is not ours).
    Unreachable,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Error::AddrInUse => "address in use",
            Error::NoPortsAvailable => "no ephemeral port available",
            Error::TableFull => "connection table full",
            Error::InvalidHandle => "invalid socket handle",
            Error::NotListening => "not listening",
            Error::Unreachable => "network is unreachable",
        })
    }
}

impl std::error::Error for Error {}

/// A packet the demux answers with on its own (RST, ICMP, ICMPv6).
#[derive(Debug)]
enum Reply {
    Tcp { dst: IpAddr, header: TcpHeader },
    Icmp { dst: Ipv4Addr, message: Vec<u8> },
    Icmpv6 { dst: Ipv6Addr, message: Vec<u8> },
}

impl Reply {
    fn dst(&self) -> IpAddr {
        match self {
            Reply::Tcp { dst, .. } => *dst,
            Reply::Icmp { dst, .. } => IpAddr::V4(*dst),
            Reply::Icmpv6 { dst, .. } => IpAddr::V6(*dst),
        }
    }
}

/// Length of the IP header we put in front of a packet to `dst`.
fn ip_header_len(dst: IpAddr) -> usize {
    match dst {
        IpAddr::V4(_) => IPV4_HEADER_LEN,
        IpAddr::V6(_) => IPV6_HEADER_LEN,
    }
}

/// A SplitMix64 generator: deterministic from the injected seed.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }
}

/// All TCP state of one IPv4 address, driven by [`poll`](Interface::poll).
pub struct Interface {
    cfg: Config,
    entries: Vec<Option<Entry>>,
    free: Vec<usize>,
    generation: u32,
    // Ordered maps, not `HashMap`: its OS-seeded hashing would make the
    // order in which sockets are served (UDP datagrams leave in the order
    // `udp` iterates) differ between runs with the same inputs.
    conns: BTreeMap<(SocketAddr, u16), usize>,
    listeners: BTreeMap<u16, Listener>,
    udp: BTreeMap<u16, udp::UdpSocket>,
    isn: IsnGenerator,
    /// `cfg.tcp` with the MSS of IPv6 (MTU − 60, RFC 8200 §8.3).
    tcp6: tcp::Config,
    rng: Rng,
    stats: Stats,
    replies: VecDeque<Reply>,
    /// Replies still allowed in the current one-second window, and when
    /// that window began.
    reply_budget: (u32, Instant),
    /// The time of the current poll or ingress (replies are rate-limited
    /// against it).
    now: Instant,
    idents: ipv4::Idents,
    frag: Reassembler,
    rx_buf: Vec<u8>,
    /// The last [`poll`](Interface::poll) read a whole batch without
    /// seeing the device empty.
    rx_more: bool,
    /// The earliest time a connection the last poll wrote for holds data
    /// back for pacing until (see [`Interface::paced_until`]).
    paced_until: Option<Instant>,
    /// The last poll changed something a user may wait on, not only sent
    /// segments (see [`Interface::poll_changed`]).
    changed: bool,
    tx_buf: Vec<u8>,
    /// Copy-once receive: the connection whose ring the next read places
    /// its payload in ([`direct`]).
    direct: Option<direct::Guess>,
    /// The connection entry the last segment with data went to, set by
    /// the demux, and the last such entry with how many in a row.
    rx_hint: Option<usize>,
    rx_streak: (Option<usize>, u32),
    /// Entries touched since the last poll (see `sched`).
    dirty: Vec<usize>,
    /// Connection deadlines, earliest first (lazy; see `sched`).
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Connections that entered TIME-WAIT, oldest first, with generation.
    time_waits: VecDeque<(usize, u32)>,
}

impl Interface {
    /// A new interface with no sockets.
    pub fn new(mut cfg: Config) -> Interface {
        cfg.mtu = cfg.mtu.clamp(576, 65535);
        let tcp_hdr = crate::wire::TCP_HEADER_LEN;
        let mss = (cfg.mtu - IPV4_HEADER_LEN - tcp_hdr).min(65535) as u16;
        let mss6 = (cfg.mtu - IPV6_HEADER_LEN - tcp_hdr).min(65535) as u16;
        // `tcp.mss` is an upper bound; the MTU sets the real value.
        let tcp6 = tcp::Config {
            mss: cfg.tcp.mss.min(mss6).max(64),
            ..cfg.tcp.clone()
        };
        cfg.tcp.mss = cfg.tcp.mss.min(mss).max(64);
        let secret = cfg.secret;
        let frag = Reassembler::new(cfg.frag.clone());
        Interface {
            tcp6,
            isn: IsnGenerator::new(secret),
            rng: Rng(secret[0] ^ secret[1].rotate_left(17)),
            // Room for a TSO segment (IPv4's 64 KiB limit) if the device
            // takes them.
            tx_buf: vec![0u8; 65535],
            // Room for the largest packet of either family: IPv6's payload
            // length excludes its 40-byte header, so a 64 KiB TSO batch
            // from the kernel is longer than any IPv4 packet.
            rx_buf: vec![0u8; 65535 + IPV6_HEADER_LEN],
            rx_more: false,
            paced_until: None,
            changed: false,
            cfg,
            entries: Vec::new(),
            free: Vec::new(),
            generation: 0,
            conns: BTreeMap::new(),
            listeners: BTreeMap::new(),
            udp: BTreeMap::new(),
            stats: Stats::default(),
            replies: VecDeque::new(),
            reply_budget: (REPLIES_PER_SECOND, Instant::ZERO),
            now: Instant::ZERO,
            idents: ipv4::Idents::default(),
            frag,
            direct: None,
            rx_hint: None,
            rx_streak: (None, 0),
            dirty: Vec::new(),
            timers: BinaryHeap::new(),
            time_waits: VecDeque::new(),
        }
    }

    /// Our IPv4 address.
    pub fn addr(&self) -> Ipv4Addr {
        self.cfg.addr
    }

    /// Our IPv6 address.
    pub fn addr6(&self) -> Ipv6Addr {
        self.cfg.addr6
    }

    /// Our address of the family of `peer` (the one a packet to it leaves
    /// from).
    pub fn local_ip_for(&self, peer: IpAddr) -> IpAddr {
        match peer {
            IpAddr::V4(_) => IpAddr::V4(self.cfg.addr),
            IpAddr::V6(_) => IpAddr::V6(self.cfg.addr6),
        }
    }

    /// The TCP settings of a connection with `peer` (the MSS follows
    /// the family's header size).
    fn tcp_config(&self, peer: IpAddr) -> &tcp::Config {
        match peer {
            IpAddr::V4(_) => &self.cfg.tcp,
            IpAddr::V6(_) => &self.tcp6,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Number of TCP connections held (all states, listeners excluded).
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Number of connections not yet closed or in TIME-WAIT.
    pub fn active_connection_count(&self) -> usize {
        self.entries
            .iter()
            .flatten()
            .filter(|e| !matches!(e.tcb.state(), tcp::State::Closed | tcp::State::TimeWait))
            .count()
    }

    /// Reads what the device has (up to a batch), runs due timers, and
    /// writes every segment that is ready. Returns true if anything
    /// happened that a waiting user might care about.
    pub fn poll(&mut self, now: Instant, device: &mut dyn Device) -> bool {
        self.now = now;
        let mut activity = false;
        let mut rx = std::mem::take(&mut self.rx_buf);
        self.rx_more = true;
        for _ in 0..RX_BATCH {
            match self.recv_one(now, device, &mut rx) {
                Ok(0) => self.stats.rx_empty += 1,
                Ok(_) => activity = true,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.rx_more = false;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::warn!("device read failed: {e}");
                    self.stats.rx_errors += 1;
                    break;
                }
            }
        }
        self.rx_buf = rx;
        let read = activity;
        activity |= self.poll_output(now, device);
        self.changed |= read;
        activity
    }

    /// True if the last [`poll`](Self::poll) or
    /// [`poll_output`](Self::poll_output) did more than send TCP segments:
    /// it read a packet, a timer changed a connection's state, an entry
    /// was freed, or UDP or reply output left. A poll that only sent (a
    /// pacing step, a retransmission) changed nothing any blocked call or
    /// readiness waits on: whoever polled for a timer need not wake
    /// anyone for it. (A poll asked for by a user call's poke still wakes
    /// the others, as the call may have changed what they wait on.)
    pub fn poll_changed(&self) -> bool {
        self.changed
    }

    /// True if the last [`poll`](Self::poll) stopped reading at its batch
    /// limit (or on an error) rather than on an empty device: whoever
    /// polls next must read again without waiting for the device to
    /// signal, as it will not signal packets already queued.
    pub fn rx_more(&self) -> bool {
        self.rx_more
    }

    /// When the first connection the last poll held back for pacing
    /// may send again, if it held any back. Until then the device's input
    /// changes nothing that connection sends (only the release time does,
    /// a quantum at a time): a driver may read the ACKs in one batch at
    /// that time rather than be woken for each.
    pub fn paced_until(&self) -> Option<Instant> {
        self.paced_until
    }

    /// [`poll`](Self::poll) without reading the device: runs due timers and
    /// writes every segment that is ready. For a driver whose `poll(2)`
    /// said the device has nothing to read, which saves a `read(2)` that
    /// would only return `EAGAIN`.
    pub fn poll_output(&mut self, now: Instant, device: &mut dyn Device) -> bool {
        self.now = now;
        self.expire_fragments(now);
        // Leaves the touched entries in table order, as a scan of the
        // whole table would: output is deterministic whatever order they
        // were touched in.
        let (mut activity, changed) = self.fire_timers(now);
        let (tcp_sent, other_sent) = self.egress(now, device);
        let reaped = self.reap();
        self.reschedule();
        self.changed = changed || other_sent || reaped;
        activity |= tcp_sent || other_sent || reaped;
        activity
    }

    /// The earliest instant at which [`poll`](Self::poll) has timer work.
    pub fn poll_at(&self) -> Option<Instant> {
        // Entries touched since the last poll are not in the heap yet.
        let touched = self
            .dirty
            .iter()
            .filter_map(|&i| self.entries.get(i).and_then(Option::as_ref))
            .filter_map(|e| e.tcb.poll_at())
            .chain(self.frag.poll_at())
            .min();
        earliest(self.next_deadline(), touched)
    }

    /// Frees timed-out fragment trains and sends each source whose first
    /// fragment had arrived an ICMP Time Exceeded (code 1), as Linux does.
    fn expire_fragments(&mut self, now: Instant) {
        for e in self.frag.expire(now, &mut self.stats) {
            let queued = match e.src {
                IpAddr::V4(src) => ipv4::reassembly_time_exceeded(self, src, &e.quote),
                IpAddr::V6(src) => ipv6::reassembly_time_exceeded(self, src, &e.quote),
            };
            if queued {
                self.stats.frag_time_exceeded_sent += 1;
            }
        }
    }

    /// The fragment reassembler (memory held, trains pending).
    pub fn reassembler(&self) -> &Reassembler {
        &self.frag
    }

    /// Handles one packet from the device.
    pub fn ingress(&mut self, now: Instant, packet: &[u8]) {
        self.now = now;
        ip_ingress(self, now, packet, true);
        self.rx_hint = None;
    }

    /// Writes all ready segments and replies. Returns whether TCP
    /// segments were sent, and whether anything else was (UDP datagrams,
    /// which free room in a socket's queue, and replies).
    fn egress(&mut self, now: Instant, device: &mut dyn Device) -> (bool, bool) {
        let tcp_sent = self.egress_tcp(now, device);
        let mut sent = false;
        let mut buf = std::mem::take(&mut self.tx_buf);
        let ttl = self.cfg.ttl;
        let (src4, src6) = (self.cfg.addr, self.cfg.addr6);
        for (port, s) in self.udp.iter_mut() {
            if !s.tx.is_empty() {
                // Room in the send queue again.
                s.events += 1;
                sent = true;
            }
            while let Some((dst, data)) = s.tx.pop_front() {
                let d = crate::wire::UdpDatagram {
                    src_port: *port,
                    dst_port: dst.port(),
                    payload: &data,
                };
                let hlen = ip_header_len(dst.ip());
                let len = UDP_HEADER_LEN + data.len();
                let Some(pkt) = buf.get_mut(..hlen + len) else {
                    continue;
                };
                let udp = crate::wire::PROTO_UDP;
                let ttl = s.ttl.unwrap_or(ttl);
                let built = match dst.ip() {
                    IpAddr::V4(d4) => {
                        d.emit(&mut pkt[hlen..], src4, d4).is_ok()
                            && ipv4::build(pkt, src4, d4, udp, ttl, &mut self.idents).is_ok()
                    }
                    IpAddr::V6(d6) => {
                        d.emit(&mut pkt[hlen..], src6, d6).is_ok()
                            && ipv6::build(pkt, src6, d6, udp, ttl, 0).is_ok()
                    }
                };
                if built {
                    self.stats.udp_sent += 1;
                    send(&mut self.stats, device, pkt);
                    sent = true;
                }
            }
        }
        // Closed sockets whose last datagrams just left.
        self.udp.retain(|_, s| !(s.closing && s.tx.is_empty()));
        while let Some(r) = self.replies.pop_front() {
            let pkt = match r.dst() {
                IpAddr::V4(_) => ipv4::build_reply(&r, src4, ttl, &mut self.idents, &mut buf),
                IpAddr::V6(_) => ipv6::build_reply(&r, src6, ttl, &mut buf),
            };
            if let Some(pkt) = pkt {
                send(&mut self.stats, device, pkt);
                sent = true;
            }
        }
        self.tx_buf = buf;
        (tcp_sent, sent)
    }

    /// Writes every TCP segment the connections have ready.
    fn egress_tcp(&mut self, now: Instant, device: &mut dyn Device) -> bool {
        let mut sent = false;
        let (src4, src6) = (self.cfg.addr, self.cfg.addr6);
        let ttl = self.cfg.ttl;
        let mut buf = std::mem::take(&mut self.tx_buf);
        // With TSO a segment may carry up to 64 KiB less the largest
        // headers; the device cuts it at the MSS.
        let tso = device.offload().tso;
        let tso_max = |hlen: usize| {
            if tso {
                buf.len().min(65535) - hlen - crate::wire::TCP_MAX_HEADER_LEN
            } else {
                0
            }
        };
        let (tso_max4, tso_max6) = (tso_max(IPV4_HEADER_LEN), tso_max(IPV6_HEADER_LEN));
        self.paced_until = None;
        for &i in &self.dirty {
            let Some(e) = self.entries.get_mut(i).and_then(|e| e.as_mut()) else {
                continue;
            };
            let dst = e.tcb.remote().ip();
            let ip_len = ip_header_len(dst);
            e.tcb
                .set_tso_max(if dst.is_ipv6() { tso_max6 } else { tso_max4 });
            while let Some(t) = e.tcb.poll_transmit(now) {
                let hlen = t.header.header_len();
                let tcp_len = hlen + t.payload_len;
                let total = ip_len + tcp_len;
                let Some(pkt) = buf.get_mut(..total) else {
                    log::error!("segment of {total} bytes exceeds the MTU buffer");
                    break;
                };
                let copied = e.tcb.copy_payload(&t, &mut pkt[ip_len + hlen..]);
                let ttl = e.tcb.ttl().unwrap_or(ttl);
                let gso = if tso && t.gso_size > 0 {
                    u16::try_from(t.gso_size).ok()
                } else {
                    None
                };
                let src = match dst {
                    IpAddr::V4(_) => IpAddr::V4(src4),
                    IpAddr::V6(_) => IpAddr::V6(src6),
                };
                let tcp = &mut pkt[ip_len..];
                let emitted = if gso.is_some() {
                    t.header.emit_partial(tcp, src, dst)
                } else {
                    t.header.emit(tcp, src, dst)
                };
                if copied != t.payload_len || emitted.is_err() {
                    log::error!("could not build segment {:?}", t.header);
                    break;
                }
                let built = match dst {
                    IpAddr::V4(d) => ipv4::build(pkt, src4, d, PROTO_TCP, ttl, &mut self.idents),
                    IpAddr::V6(d) => ipv6::build(pkt, src6, d, PROTO_TCP, ttl, e.flow_label),
                };
                if built.is_err() {
                    break;
                }
                self.stats.tcp_segments_out += 1;
                if let Some(mss) = gso {
                    self.stats.tcp_tso_out += 1;
                    let r = device.send_tso(pkt, mss);
                    count_send(&mut self.stats, r, pkt.len());
                } else if device.wants_reasons() {
                    let reason = t.reason.to_string();
                    let r = device.send_with_reason(pkt, &reason);
                    count_send(&mut self.stats, r, pkt.len());
                } else {
                    send(&mut self.stats, device, pkt);
                }
                sent = true;
            }
            self.paced_until = earliest(self.paced_until, e.tcb.pacing_release());
        }
        self.tx_buf = buf;
        sent
    }

    /// Queues a reply unless the queue is full or the rate limit spent;
    /// returns true if it was queued.
    fn queue_reply(&mut self, r: Reply) -> bool {
        if self.replies.len() >= MAX_REPLIES {
            self.stats.replies_dropped += 1;
            return false;
        }
        let (left, since) = &mut self.reply_budget;
        if self.now.saturating_duration_since(*since) >= crate::time::Duration::from_secs(1) {
            *left = REPLIES_PER_SECOND;
            *since = self.now;
        }
        if *left == 0 {
            self.stats.replies_rate_limited += 1;
            return false;
        }
        *left -= 1;
        self.replies.push_back(r);
        true
    }
}

/// One packet from the device: the version nibble tells the families
/// apart (a TUN device without packet information carries both).
fn ip_ingress(iface: &mut Interface, now: Instant, packet: &[u8], verify: bool) {
    match packet.first().map(|b| b >> 4) {
        Some(6) => ipv6::ingress(iface, now, packet, verify),
        _ => ipv4::ingress(iface, now, packet, verify),
    }
}

fn send(stats: &mut Stats, device: &mut dyn Device, pkt: &[u8]) {
    let r = device.send(pkt);
    count_send(stats, r, pkt.len());
}

fn count_send(stats: &mut Stats, r: io::Result<()>, len: usize) {
    match r {
        Ok(()) => {
            stats.tx_packets += 1;
            stats.tx_bytes += len as u64;
        }
        Err(e) => {
            log::debug!("device write failed: {e}");
            stats.tx_errors += 1;
        }
    }
}

/// The earlier of two optional times.
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
