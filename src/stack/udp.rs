//! UDP sockets (RFC 768; RFC 1122 §4.1): a table of bound ports, each with
//! bounded receive and send queues. Datagrams to an unbound port get an
//! ICMP port unreachable (RFC 1122 §4.1.3.1). No fragmentation: a datagram
//! must fit the MTU.

use super::{Error, Interface};
use crate::tcp::IcmpError;
use crate::wire::{UdpDatagram, IPV4_HEADER_LEN, UDP_HEADER_LEN};
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};

/// A bound UDP port's queues.
#[derive(Debug, Default)]
pub(super) struct UdpSocket {
    rx: VecDeque<(SocketAddr, Vec<u8>)>,
    pub(super) tx: VecDeque<(SocketAddr, Vec<u8>)>,
    /// Readiness-change counter (see `net::Poll`).
    pub(super) events: u64,
    /// `IP_TTL` of this socket's datagrams; `None` = the stack's.
    pub(super) ttl: Option<u8>,
    /// The last ICMP error about a datagram we sent (`SO_ERROR`), with the
    /// destination it names.
    error: Option<(SocketAddr, IcmpError)>,
    /// Unbound with datagrams still queued: they leave on the next poll
    /// (as Linux sends what a closed socket queued), then the entry goes.
    pub(super) closing: bool,
}

/// Why a UDP send was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UdpSendError {
    /// The send queue is full; retry once the driver drained it.
    QueueFull,
    /// Larger than the MTU allows (no fragmentation).
    TooLarge,
    /// The port is not bound.
    NotBound,
}

impl Interface {
    /// Binds UDP `port` (0 picks a free ephemeral port) and returns it.
    ///
    /// # Errors
    /// [`Error::AddrInUse`] or [`Error::NoPortsAvailable`].
    pub fn udp_bind(&mut self, port: u16) -> Result<u16, Error> {
        let port = if port == 0 {
            let (lo, hi) = (
                *self.cfg.ephemeral_ports.start(),
                *self.cfg.ephemeral_ports.end(),
            );
            let count = u32::from(hi.saturating_sub(lo)) + 1;
            let start = (self.rng.next_u64() % u64::from(count)) as u32;
            (0..count)
                .map(|i| lo + ((start + i) % count) as u16)
                .find(|p| !self.udp.contains_key(p))
                .ok_or(Error::NoPortsAvailable)?
        } else {
            port
        };
        match self.udp.get_mut(&port) {
            // A closed socket whose last datagrams have not left yet: the
            // port is free; the new socket takes the entry over.
            Some(s) if s.closing => {
                s.closing = false;
                s.ttl = None;
                s.error = None;
            }
            Some(_) => return Err(Error::AddrInUse),
            None => {
                self.udp.insert(port, UdpSocket::default());
            }
        }
        Ok(port)
    }

    /// Releases a UDP port. Received datagrams are dropped; queued ones
    /// still leave on the next poll.
    pub fn udp_unbind(&mut self, port: u16) {
        let Some(s) = self.udp.get_mut(&port) else {
            return;
        };
        if s.tx.is_empty() {
            self.udp.remove(&port);
        } else {
            s.rx.clear();
            s.closing = true;
        }
    }

    /// The bound (not closing) socket on `port`.
    fn udp_open(&self, port: u16) -> Option<&UdpSocket> {
        self.udp.get(&port).filter(|s| !s.closing)
    }

    /// Largest UDP payload that fits one IPv4 packet.
    pub fn udp_max_payload(&self) -> usize {
        self.cfg.mtu - IPV4_HEADER_LEN - UDP_HEADER_LEN
    }

    /// Largest UDP payload that fits one packet to `dst`.
    pub fn udp_max_payload_to(&self, dst: IpAddr) -> usize {
        self.cfg.mtu - super::ip_header_len(dst) - UDP_HEADER_LEN
    }

    /// Queues `data` from `port` to `dst`; it leaves on the next poll.
    ///
    /// # Errors
    /// [`UdpSendError`].
    pub fn udp_send(
        &mut self,
        port: u16,
        dst: impl Into<SocketAddr>,
        data: &[u8],
    ) -> Result<(), UdpSendError> {
        let dst = dst.into();
        if data.len() > self.udp_max_payload_to(dst.ip()) {
            return Err(UdpSendError::TooLarge);
        }
        let limit = self.cfg.udp_queue;
        let s = self.udp.get_mut(&port).ok_or(UdpSendError::NotBound)?;
        if s.tx.len() >= limit {
            return Err(UdpSendError::QueueFull);
        }
        s.tx.push_back((dst, data.to_vec()));
        Ok(())
    }

    /// True if `port` can queue another datagram.
    pub fn udp_can_send(&self, port: u16) -> bool {
        self.udp_open(port)
            .is_some_and(|s| s.tx.len() < self.cfg.udp_queue)
    }

    /// Takes the oldest received datagram: copies as much as fits into
    /// `buf` (the rest is discarded, as `recv_from` does) and returns the
    /// length copied and the sender.
    pub fn udp_recv(&mut self, port: u16, buf: &mut [u8]) -> Option<(usize, SocketAddr)> {
        let (from, data) = self.udp.get_mut(&port)?.rx.pop_front()?;
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        Some((n, from))
    }

    /// Like [`udp_recv`](Self::udp_recv) but leaves the datagram queued
    /// (`MSG_PEEK`).
    pub fn udp_peek(&self, port: u16, buf: &mut [u8]) -> Option<(usize, SocketAddr)> {
        let (from, data) = self.udp_open(port)?.rx.front()?;
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        Some((n, *from))
    }

    /// Drops the oldest received datagram (one a connected socket's peer
    /// did not send); true if there was one.
    pub fn udp_discard(&mut self, port: u16) -> bool {
        self.udp
            .get_mut(&port)
            .and_then(|s| s.rx.pop_front())
            .is_some()
    }

    /// Sets the TTL of `port`'s datagrams (`None`: the stack's).
    pub fn udp_set_ttl(&mut self, port: u16, ttl: Option<u8>) {
        if let Some(s) = self.udp.get_mut(&port) {
            s.ttl = ttl;
        }
    }

    /// The TTL of `port`'s datagrams.
    pub fn udp_ttl(&self, port: u16) -> Option<u8> {
        let s = self.udp_open(port)?;
        Some(s.ttl.unwrap_or(self.cfg.ttl))
    }

    /// Takes the pending ICMP error of `port` (`SO_ERROR` reads and clears).
    pub fn udp_take_error(&mut self, port: u16) -> Option<(SocketAddr, IcmpError)> {
        self.udp.get_mut(&port)?.error.take()
    }

    /// An ICMP error quoting a datagram `local_port` sent to `remote`:
    /// kept for the socket (RFC 1122 §4.1.3.3: UDP must pass ICMP errors to
    /// the application). False if no socket is bound there.
    pub(super) fn udp_icmp_error(
        &mut self,
        local_port: u16,
        remote: SocketAddr,
        error: IcmpError,
    ) -> bool {
        let Some(s) = self.udp.get_mut(&local_port).filter(|s| !s.closing) else {
            return false;
        };
        s.error = Some((remote, error));
        s.events += 1;
        true
    }

    /// Readiness-change counter of a UDP socket.
    pub fn udp_events(&self, port: u16) -> Option<u64> {
        self.udp_open(port).map(|s| s.events)
    }

    /// True if `port` has a datagram waiting.
    pub fn udp_can_recv(&self, port: u16) -> bool {
        self.udp_open(port).is_some_and(|s| !s.rx.is_empty())
    }

    /// Delivers an arriving datagram; false if no socket is bound.
    pub(super) fn udp_ingress(&mut self, src: IpAddr, d: &UdpDatagram<'_>) -> bool {
        let limit = self.cfg.udp_queue;
        let Some(s) = self.udp.get_mut(&d.dst_port).filter(|s| !s.closing) else {
            return false;
        };
        if s.rx.len() >= limit {
            self.stats.udp_queue_full += 1;
            return true;
        }
        s.rx.push_back((SocketAddr::new(src, d.src_port), d.payload.to_vec()));
        s.events += 1;
        self.stats.udp_delivered += 1;
        true
    }
}
