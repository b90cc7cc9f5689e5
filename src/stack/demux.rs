//! The connection table: 4-tuple lookup, listeners with SYN and accept
//! queues (RFC 9293 §3.10.7.2 LISTEN), RST for segments to no connection
//! (§3.10.7.1 CLOSED), randomized ephemeral ports (RFC 6056 §3.3.1) and
//! the socket-management calls the `net` layer makes.
//!
//! Listen queues behave as Linux's: the accept queue holds at most the
//! listener's backlog (capped at [`MAX_BACKLOG`], Linux's `somaxconn`); a
//! SYN that finds it full is dropped, and a handshake-completing ACK that
//! finds it full is ignored, so the SYN-ACK is retransmitted and the ACK
//! that answers it tries again. A full SYN queue is answered with SYN
//! cookies (RFC 4987 §3.6, [`crate::tcp::syncookie`]).

use super::{Error, Interface, Reply};
use crate::tcp::syncookie::SynCookies;
use crate::tcp::{State, Tcb};
use crate::time::Instant;
use crate::wire::{Flags, SeqNumber, TcpHeader, TcpSegment};
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};

/// Names one TCP connection of an [`Interface`]. Stale handles (to a
/// connection since removed) are detected by a generation number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SocketHandle {
    index: u32,
    generation: u32,
}

#[derive(Debug)]
pub(super) struct Entry {
    pub(super) generation: u32,
    pub(super) tcb: Tcb,
    /// The listener port this connection was accepted on, until accepted.
    listener: Option<u16>,
    /// Reached ESTABLISHED and sits in the listener's accept queue.
    queued: bool,
    /// The connection's events so far (see `events.rs`).
    pub(super) events: super::events::SocketEvents,
    /// No user handle refers to it any more; free once closed.
    pub(super) orphaned: bool,
    /// Touched since the last poll (listed in `Interface::dirty`).
    pub(super) dirty: bool,
    /// The deadline of its live item in the timer heap.
    pub(super) scheduled: Option<Instant>,
    /// Listed in `Interface::time_waits`.
    pub(super) time_wait_listed: bool,
    /// The IPv6 flow label of the connection's packets (RFC 6437).
    pub(super) flow_label: u32,
}

/// Largest accept backlog a listener gets (Linux's `somaxconn`).
pub const MAX_BACKLOG: usize = 4096;

#[derive(Debug)]
pub(super) struct Listener {
    accept_queue: VecDeque<SocketHandle>,
    /// Most connections waiting in `accept_queue`.
    backlog: usize,
    /// The SYN-cookie codec, keyed per listener.
    cookies: SynCookies,
    /// Cookie ACKs are looked for until then: cookies were sent recently
    /// (Linux's `tcp_synq_no_recent_overflow`), so an unknown ACK is
    /// checked only while one may be in flight.
    cookies_until: Option<Instant>,
    events: u64,
    half_open: usize,
    /// Half-open connections, oldest first (handles of ones that since
    /// completed or died are skipped when met); bounded by pruning at
    /// twice the SYN backlog.
    syn_queue: VecDeque<SocketHandle>,
    /// Accept IPv6 peers only (`IPV6_V6ONLY`); by default a listener
    /// takes both families, as Linux's `[::]` does.
    only_v6: bool,
}

impl Interface {
    fn entry(&self, h: SocketHandle) -> Option<&Entry> {
        self.entries
            .get(h.index as usize)
            .and_then(|e| e.as_ref())
            .filter(|e| e.generation == h.generation)
    }

    /// The entry behind `h`, touched (see `sched`): whoever changes a
    /// connection may have given it something to send or a new deadline.
    pub(super) fn entry_mut(&mut self, h: SocketHandle) -> Option<&mut Entry> {
        if self.entry(h).is_some() {
            self.touch(h.index as usize);
        }
        self.entry_untouched_mut(h)
    }

    /// The entry behind `h`, for a change that gives the connection
    /// nothing to send and no new deadline (so the next poll need not
    /// visit it).
    pub(super) fn entry_untouched_mut(&mut self, h: SocketHandle) -> Option<&mut Entry> {
        self.entries
            .get_mut(h.index as usize)
            .and_then(|e| e.as_mut())
            .filter(|e| e.generation == h.generation)
    }

    /// The connection behind `h`.
    pub fn tcp(&self, h: SocketHandle) -> Option<&Tcb> {
        self.entry(h).map(|e| &e.tcb)
    }

    /// The connection behind `h`, for application calls.
    pub fn tcp_mut(&mut self, h: SocketHandle) -> Option<&mut Tcb> {
        self.entry_mut(h).map(|e| &mut e.tcb)
    }

    fn insert(&mut self, tcb: Tcb, listener: Option<u16>) -> SocketHandle {
        self.generation = self.generation.wrapping_add(1);
        let key = (tcb.remote(), tcb.local().port());
        let flow_label = if tcb.remote().is_ipv6() {
            self.isn.flow_label(tcb.local(), tcb.remote())
        } else {
            0
        };
        let entry = Entry {
            flow_label,
            generation: self.generation,
            tcb,
            listener,
            queued: false,
            events: super::events::SocketEvents::default(),
            orphaned: listener.is_some(),
            dirty: false,
            scheduled: None,
            time_wait_listed: false,
        };
        let index = match self.free.pop() {
            Some(i) => {
                self.entries[i] = Some(entry);
                i
            }
            None => {
                self.entries.push(Some(entry));
                self.entries.len() - 1
            }
        };
        self.conns.insert(key, index);
        self.touch(index);
        self.stats.tcp_connections_opened += 1;
        SocketHandle {
            index: index as u32,
            generation: self.generation,
        }
    }

    fn port_in_use(&self, port: u16, remote: Option<SocketAddr>) -> bool {
        self.listeners.contains_key(&port)
            || remote.is_some_and(|r| self.conns.contains_key(&(r, port)))
    }

    /// True if the kernel steers the flow between `local` and `remote`
    /// ports to this interface's queue (always, with one queue): the
    /// connections we open must be carried by our own queue.
    fn steered_here(&self, local: u16, remote: u16) -> bool {
        let queues = u16::try_from(self.cfg.queues).unwrap_or(u16::MAX);
        usize::from(crate::wire::steer::flow_queue(local, remote, queues)) == self.cfg.queue
    }

    /// RFC 6056 §3.3.1 (Algorithm 1), among the ports steered to our
    /// queue: start at a random port of the range
    /// and probe upward, so ports are unpredictable to an off-path attacker.
    fn ephemeral_port(&mut self, remote: Option<SocketAddr>) -> Result<u16, Error> {
        let (lo, hi) = (
            *self.cfg.ephemeral_ports.start(),
            *self.cfg.ephemeral_ports.end(),
        );
        if lo > hi || lo == 0 {
            return Err(Error::NoPortsAvailable);
        }
        let count = u32::from(hi - lo) + 1;
        let offset = (self.rng.next_u64() % u64::from(count)) as u32;
        for i in 0..count {
            let port = lo + ((offset + i) % count) as u16;
            if !self.port_in_use(port, remote)
                && remote.is_none_or(|r| self.steered_here(port, r.port()))
                && (remote.is_some() || !self.conns.keys().any(|k| k.1 == port))
            {
                return Ok(port);
            }
        }
        Err(Error::NoPortsAvailable)
    }

    /// OPEN, active: starts a connection to `remote` from a random
    /// ephemeral port. The SYN leaves on the next [`poll`](Self::poll).
    ///
    /// # Errors
    /// [`Error::TableFull`] or [`Error::NoPortsAvailable`].
    pub fn tcp_connect(
        &mut self,
        now: Instant,
        remote: impl Into<SocketAddr>,
    ) -> Result<SocketHandle, Error> {
        let remote = remote.into();
        // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4 peer,
        // as on a dual-stack Linux socket.
        let remote = SocketAddr::new(remote.ip().to_canonical(), remote.port());
        if !routable(remote.ip()) {
            return Err(Error::Unreachable);
        }
        if self.conns.len() >= self.cfg.max_connections && !self.recycle_time_wait() {
            self.stats.tcp_table_full += 1;
            return Err(Error::TableFull);
        }
        let port = self.ephemeral_port(Some(remote))?;
        let local = SocketAddr::new(self.local_ip_for(remote.ip()), port);
        let iss = self.isn.isn(now, local, remote);
        let mut tcb = Tcb::connect(self.tcp_config(remote.ip()), local, remote, iss);
        tcb.set_ts_offset(self.isn.ts_offset(local.ip(), remote.ip()));
        let h = self.insert(tcb, None);
        if let Some(e) = self.entry_mut(h) {
            e.orphaned = false;
        }
        Ok(h)
    }

    /// OPEN, passive: listens on `port` (0 picks an ephemeral port) with
    /// the configured accept backlog and returns the port.
    ///
    /// # Errors
    /// [`Error::AddrInUse`] if something already listens there.
    pub fn tcp_listen(&mut self, port: u16) -> Result<u16, Error> {
        self.tcp_listen_with_backlog(port, self.cfg.accept_backlog)
    }

    /// [`tcp_listen`](Self::tcp_listen) with an accept backlog of its own,
    /// as `listen(2)`'s: at least 1, at most [`MAX_BACKLOG`].
    ///
    /// # Errors
    /// [`Error::AddrInUse`] if something already listens there.
    pub fn tcp_listen_with_backlog(&mut self, port: u16, backlog: usize) -> Result<u16, Error> {
        let port = if port == 0 {
            self.ephemeral_port(None)?
        } else {
            port
        };
        if self.listeners.contains_key(&port) {
            return Err(Error::AddrInUse);
        }
        // A key of its own per listener, derived from the stack's secret.
        let key = |domain: u8| {
            let p = port.to_be_bytes();
            crate::tcp::isn::siphash24(self.cfg.secret, &[b'C', domain, p[0], p[1]])
        };
        let cookies = SynCookies::new([key(0), key(1)]);
        self.listeners.insert(
            port,
            Listener {
                accept_queue: VecDeque::new(),
                backlog: backlog.clamp(1, MAX_BACKLOG),
                cookies,
                cookies_until: None,
                half_open: 0,
                syn_queue: VecDeque::new(),
                events: 0,
                only_v6: false,
            },
        );
        Ok(port)
    }

    /// Makes the listener on `port` accept IPv6 peers only (`only` true),
    /// or both families (the default, as a Linux socket bound to `[::]`
    /// with `IPV6_V6ONLY` off). IPv4 SYNs to a v6-only port are answered
    /// as for a closed port.
    ///
    /// # Errors
    /// [`Error::NotListening`] if `port` has no listener.
    pub fn tcp_set_only_v6(&mut self, port: u16, only: bool) -> Result<(), Error> {
        let l = self.listeners.get_mut(&port).ok_or(Error::NotListening)?;
        l.only_v6 = only;
        Ok(())
    }

    /// Whether the listener on `port` is v6-only; None without a listener.
    pub fn tcp_only_v6(&self, port: u16) -> Option<bool> {
        self.listeners.get(&port).map(|l| l.only_v6)
    }

    /// True if a listener on `port` takes a SYN from `src`.
    fn listening_for(&self, port: u16, src: IpAddr) -> bool {
        self.listeners
            .get(&port)
            .is_some_and(|l| !(l.only_v6 && src.is_ipv4()))
    }

    /// Stops listening on `port`; connections not yet accepted are reset.
    pub fn tcp_unlisten(&mut self, port: u16) {
        if self.listeners.remove(&port).is_none() {
            return;
        }
        for i in 0..self.entries.len() {
            let Some(e) = self.entries.get_mut(i).and_then(Option::as_mut) else {
                continue;
            };
            if e.listener == Some(port) {
                e.tcb.abort();
                e.orphaned = true;
                self.touch(i);
            }
        }
    }

    /// Takes the oldest established connection from the accept queue.
    ///
    /// # Errors
    /// [`Error::NotListening`] if `port` has no listener.
    pub fn tcp_accept(&mut self, port: u16) -> Result<Option<SocketHandle>, Error> {
        let l = self.listeners.get_mut(&port).ok_or(Error::NotListening)?;
        let Some(h) = l.accept_queue.pop_front() else {
            return Ok(None);
        };
        if let Some(e) = self.entry_mut(h) {
            e.listener = None;
            e.queued = false;
            e.orphaned = false;
        }
        Ok(Some(h))
    }

    /// Readiness-change counter of a listener.
    pub fn listener_events(&self, port: u16) -> Option<u64> {
        self.listeners.get(&port).map(|l| l.events)
    }

    /// Applies an ICMP error to the connection `remote` ↔ `local_port` if
    /// `seq` is in flight there; returns whether it was applied.
    pub(super) fn tcp_icmp_error(
        &mut self,
        remote: SocketAddr,
        local_port: u16,
        seq: SeqNumber,
        error: crate::tcp::IcmpError,
    ) -> bool {
        let Some(&i) = self.conns.get(&(remote, local_port)) else {
            return false;
        };
        let Some(e) = self.entries.get_mut(i).and_then(|e| e.as_mut()) else {
            return false;
        };
        let applied = e.tcb.on_icmp_error(seq, error);
        if applied {
            self.touch(i);
        }
        applied
    }

    /// True if `port` has a connection waiting to be accepted.
    pub fn tcp_can_accept(&self, port: u16) -> bool {
        self.listeners
            .get(&port)
            .is_some_and(|l| !l.accept_queue.is_empty())
    }

    /// The user dropped its handle: close (CLOSE) and free the
    /// connection once it reaches CLOSED.
    pub fn tcp_release(&mut self, h: SocketHandle) {
        if let Some(e) = self.entry_mut(h) {
            // Unread data makes it a reset, as close(2) does on Linux.
            e.tcb.release();
            e.orphaned = true;
        }
    }

    /// Moves newly established passive connections to their accept queue
    /// and frees closed orphans, among the entries touched since the last
    /// poll (no other can have changed). Returns true if anything changed.
    pub(super) fn reap(&mut self) -> bool {
        let mut changed = false;
        let dirty = std::mem::take(&mut self.dirty);
        for &i in &dirty {
            let Some(e) = self.entries.get_mut(i).and_then(Option::as_mut) else {
                continue;
            };
            let h = SocketHandle {
                index: i as u32,
                generation: e.generation,
            };
            if let (Some(port), false) = (e.listener, e.queued) {
                match e.tcb.state() {
                    State::SynReceived => {}
                    State::Closed => {
                        if let Some(l) = self.listeners.get_mut(&port) {
                            l.half_open = l.half_open.saturating_sub(1);
                        }
                    }
                    _ => {
                        e.queued = true;
                        changed = true;
                        if let Some(l) = self.listeners.get_mut(&port) {
                            l.half_open = l.half_open.saturating_sub(1);
                            l.accept_queue.push_back(h);
                            l.events += 1;
                        }
                    }
                }
            }
            let Some(e) = self.entries[i].as_ref() else {
                continue;
            };
            if e.orphaned && e.tcb.is_closed() {
                let key = (e.tcb.remote(), e.tcb.local().port());
                self.stats.tcp_retransmits += e.tcb.stats().retransmits;
                if let Some(port) = e.listener {
                    if let Some(l) = self.listeners.get_mut(&port) {
                        l.accept_queue.retain(|q| *q != h);
                    }
                }
                self.conns.remove(&key);
                self.entries[i] = None;
                self.free.push(i);
                changed = true;
            }
        }
        self.dirty = dirty;
        changed
    }

    /// TCP demux for one validated segment addressed to us.
    pub(super) fn tcp_ingress(&mut self, now: Instant, src: IpAddr, seg: &TcpSegment<'_>) {
        if seg.header.options.malformed {
            self.stats.tcp_bad_option += 1;
        }
        let h = &seg.header;
        let remote = SocketAddr::new(src, h.src_port);
        let listening = self.listening_for(h.dst_port, src);
        if let Some(&i) = self.conns.get(&(remote, h.dst_port)) {
            if let Some(e) = self.entries.get_mut(i).and_then(|e| e.as_mut()) {
                if e.tcb.is_closed() {
                    // The connection is over; only the user's handle keeps
                    // the entry. CLOSED answers with RST (§3.10.7.1), so a
                    // peer whose last ACK or FIN was lost stops
                    // retransmitting instead of trying until it times out.
                    self.stats.tcp_no_socket += 1;
                    self.reset_for(src, seg);
                    return;
                }
                self.stats.tcp_segments_in += 1;
                if let (Some(port), false) = (e.listener, e.queued) {
                    if completes_handshake(&e.tcb, seg)
                        && self
                            .listeners
                            .get(&port)
                            .is_some_and(|l| l.accept_queue.len() >= l.backlog)
                    {
                        // Linux: the ACK is ignored and the SYN-ACK
                        // retransmitted, so the client's next ACK (or
                        // data) completes the handshake once there is room.
                        self.stats.tcp_listen_ack_dropped += 1;
                        return;
                    }
                }
                let reincarnate = e.orphaned && e.tcb.time_wait_accepts_syn(seg);
                if !(reincarnate && listening) {
                    e.tcb.on_segment(now, seg);
                    self.touch(i);
                    self.enqueue_if_established(i);
                    if !seg.payload.is_empty() {
                        self.rx_hint = Some(i);
                    }
                    return;
                }
                // RFC 6191: end TIME-WAIT early for a new incarnation whose
                // ISN is above anything the old one sent.
                let iss = e.tcb.successor_iss();
                self.stats.tcp_time_wait_reused += 1;
                self.conns.remove(&(remote, h.dst_port));
                self.entries[i] = None;
                self.free.push(i);
                self.listen_segment(now, src, seg, Some(iss));
                return;
            }
        }
        if listening {
            self.stats.tcp_segments_in += 1;
            self.listen_segment(now, src, seg, None);
            return;
        }
        self.stats.tcp_no_socket += 1;
        self.reset_for(src, seg);
    }

    /// RFC 9293 §3.10.7.2: a segment for a LISTEN port.
    fn listen_segment(
        &mut self,
        now: Instant,
        src: IpAddr,
        seg: &TcpSegment<'_>,
        iss: Option<SeqNumber>,
    ) {
        let h = &seg.header;
        if h.flags.rst() {
            return;
        }
        if h.flags.ack() {
            if !h.flags.syn() && self.cookie_ack(now, src, seg) {
                return;
            }
            self.reset_for(src, seg);
            return;
        }
        // A SYN with FIN is dropped silently, as Linux does in LISTEN
        // (`tcp_rcv_state_process`): no valid opening carries a FIN.
        if !h.flags.syn() || h.flags.fin() {
            return;
        }
        let syn_backlog = self.cfg.syn_backlog;
        let Some(l) = self.listeners.get(&h.dst_port) else {
            return;
        };
        if l.accept_queue.len() >= l.backlog {
            // The application is not accepting: new connections would only
            // pile up behind the ones already waiting (Linux drops the SYN
            // too, cookies or not).
            self.stats.tcp_listen_overflow += 1;
            return;
        }
        if l.half_open >= syn_backlog {
            if self.cfg.syn_cookies {
                self.send_cookie(now, src, seg);
                return;
            }
            if !self.evict_oldest_half_open(h.dst_port) {
                self.stats.tcp_syn_queue_dropped += 1;
                return;
            }
        }
        if self.conns.len() >= self.cfg.max_connections && !self.recycle_time_wait() {
            self.stats.tcp_table_full += 1;
            return;
        }
        let local = SocketAddr::new(self.local_ip_for(src), h.dst_port);
        let remote = SocketAddr::new(src, h.src_port);
        let iss = iss.unwrap_or_else(|| self.isn.isn(now, local, remote));
        let mut tcb = Tcb::accept(self.tcp_config(src), local, remote, iss, seg, now);
        tcb.set_ts_offset(self.isn.ts_offset(local.ip(), remote.ip()));
        let handle = self.insert(tcb, Some(h.dst_port));
        self.queue_half_open(h.dst_port, handle);
    }

    /// Counts the new SYN-RECEIVED connection `handle` against the
    /// listener on `port` and queues it there; prunes the queue of the
    /// entries that left SYN-RECEIVED once it holds twice the backlog.
    fn queue_half_open(&mut self, port: u16, handle: SocketHandle) {
        let syn_backlog = self.cfg.syn_backlog;
        if let Some(l) = self.listeners.get_mut(&port) {
            l.half_open += 1;
            l.syn_queue.push_back(handle);
            if l.syn_queue.len() > 2 * syn_backlog.max(1) {
                let entries = &self.entries;
                l.syn_queue.retain(|q| {
                    entries
                        .get(q.index as usize)
                        .and_then(Option::as_ref)
                        .is_some_and(|e| {
                            e.generation == q.generation
                                && !e.queued
                                && e.tcb.state() == State::SynReceived
                        })
                });
            }
        }
    }

    /// Answers a SYN with a SYN cookie and keeps no state (RFC 4987 §3.6).
    fn send_cookie(&mut self, now: Instant, src: IpAddr, seg: &TcpSegment<'_>) {
        let local = SocketAddr::new(self.local_ip_for(src), seg.header.dst_port);
        let remote = SocketAddr::new(src, seg.header.src_port);
        let ts_offset = self.isn.ts_offset(local.ip(), remote.ip());
        // Field by field, not `tcp_config()`: the listener is borrowed.
        let cfg = match src {
            IpAddr::V4(_) => &self.cfg.tcp,
            IpAddr::V6(_) => &self.tcp6,
        };
        let Some(l) = self.listeners.get_mut(&local.port()) else {
            return;
        };
        let Some(header) = l.cookies.syn_ack(cfg, local, remote, seg, ts_offset, now) else {
            return;
        };
        l.cookies_until = Some(now + crate::tcp::syncookie::TICK * crate::tcp::syncookie::MAX_AGE);
        // Not under the stray-reply rate limit (a SYN-ACK is what a
        // listener owes every SYN), but bounded like every reply.
        if self.replies.len() >= super::MAX_REPLIES {
            self.stats.replies_dropped += 1;
            return;
        }
        self.stats.tcp_syncookies_sent += 1;
        self.replies.push_back(Reply::Tcp { dst: src, header });
    }

    /// An ACK to a listener from no known connection: if it carries a
    /// valid cookie, the connection is rebuilt and queued for accept.
    /// Returns false if the caller should answer with RST.
    fn cookie_ack(&mut self, now: Instant, src: IpAddr, seg: &TcpSegment<'_>) -> bool {
        let local = SocketAddr::new(self.local_ip_for(src), seg.header.dst_port);
        let remote = SocketAddr::new(src, seg.header.src_port);
        let ts_offset = self.isn.ts_offset(local.ip(), remote.ip());
        let Some(l) = self.listeners.get(&local.port()) else {
            return false;
        };
        if l.cookies_until.is_none_or(|t| now >= t) {
            return false;
        }
        let tcb = match l
            .cookies
            .rebuild(self.tcp_config(src), local, remote, seg, ts_offset, now)
        {
            Ok(tcb) => tcb,
            Err(e) => {
                log::debug!("cookie ACK from {remote} refused: {e:?}");
                self.stats.tcp_syncookies_failed += 1;
                return false;
            }
        };
        if l.accept_queue.len() >= l.backlog {
            // As for any completing ACK: ignored; the client retransmits.
            self.stats.tcp_listen_ack_dropped += 1;
            return true;
        }
        if self.conns.len() >= self.cfg.max_connections && !self.recycle_time_wait() {
            self.stats.tcp_table_full += 1;
            return true;
        }
        self.stats.tcp_syncookies_recv += 1;
        let h = self.insert(tcb, Some(local.port()));
        if let Some(l) = self.listeners.get_mut(&local.port()) {
            // Balanced by the move to the accept queue.
            l.half_open += 1;
        }
        self.enqueue_if_established(h.index as usize);
        true
    }

    /// Moves entry `i` to its listener's accept queue if its handshake has
    /// just completed, at once rather than at the end of the poll, so
    /// every ACK of a batch sees the queue's true length and the listener
    /// is woken once per batch.
    fn enqueue_if_established(&mut self, i: usize) {
        let Some(e) = self.entries.get_mut(i).and_then(Option::as_mut) else {
            return;
        };
        let (Some(port), false) = (e.listener, e.queued) else {
            return;
        };
        if matches!(e.tcb.state(), State::SynReceived | State::Closed) {
            return;
        }
        let h = SocketHandle {
            index: i as u32,
            generation: e.generation,
        };
        if let Some(l) = self.listeners.get_mut(&port) {
            e.queued = true;
            l.half_open = l.half_open.saturating_sub(1);
            l.accept_queue.push_back(h);
            l.events += 1;
        }
    }

    /// SYN flood defence: with the SYN queue full, the oldest half-open
    /// connection of `port` makes room for the new SYN (FreeBSD's syncache
    /// does the same). A flood of spoofed SYNs then only ages out other
    /// spoofed SYNs, while a real client's handshake completes within one
    /// round trip of its SYN. The evicted connection disappears silently:
    /// its peer, if real, retransmits its SYN. Returns false if nothing
    /// could be evicted.
    fn evict_oldest_half_open(&mut self, port: u16) -> bool {
        loop {
            let Some(h) = self
                .listeners
                .get_mut(&port)
                .and_then(|l| l.syn_queue.pop_front())
            else {
                return false;
            };
            let i = h.index as usize;
            let live = self
                .entries
                .get(i)
                .and_then(Option::as_ref)
                .is_some_and(|e| {
                    e.generation == h.generation
                        && e.listener == Some(port)
                        && !e.queued
                        && e.tcb.state() == State::SynReceived
                });
            if !live {
                continue;
            }
            if let Some(e) = self.entries.get_mut(i).and_then(Option::take) {
                self.conns.remove(&(e.tcb.remote(), e.tcb.local().port()));
                self.free.push(i);
            }
            if let Some(l) = self.listeners.get_mut(&port) {
                l.half_open = l.half_open.saturating_sub(1);
            }
            self.stats.tcp_syn_evicted += 1;
            return true;
        }
    }

    /// RFC 9293 §3.10.7.1: answer a segment for no connection with a RST,
    /// never a RST with a RST.
    pub(super) fn reset_for(&mut self, src: IpAddr, seg: &TcpSegment<'_>) {
        let h = &seg.header;
        if h.flags.rst() {
            return;
        }
        let header = if h.flags.ack() {
            TcpHeader {
                src_port: h.dst_port,
                dst_port: h.src_port,
                seq: h.ack,
                flags: Flags::RST,
                ..TcpHeader::default()
            }
        } else {
            TcpHeader {
                src_port: h.dst_port,
                dst_port: h.src_port,
                seq: SeqNumber(0),
                ack: h.seq + seg.seq_len(),
                flags: Flags::RST | Flags::ACK,
                ..TcpHeader::default()
            }
        };
        self.stats.tcp_rst_sent += 1;
        self.queue_reply(Reply::Tcp { dst: src, header });
    }
}

/// True if `seg` is the ACK that moves `tcb` from SYN-RECEIVED to
/// ESTABLISHED (RFC 9293 §3.10.7.4): it acknowledges our SYN.
fn completes_handshake(tcb: &Tcb, seg: &TcpSegment<'_>) -> bool {
    let h = &seg.header;
    tcb.state() == State::SynReceived
        && h.flags.ack()
        && !h.flags.syn()
        && !h.flags.rst()
        && h.ack == tcb.iss() + 1u32
}

/// Whether a connection to `ip` can leave through this interface: not a
/// loopback (that interface is not ours), unspecified, multicast or
/// broadcast address.
fn routable(ip: IpAddr) -> bool {
    let v4_broadcast = matches!(ip, IpAddr::V4(a) if a.is_broadcast());
    !(ip.is_loopback() || ip.is_unspecified() || ip.is_multicast() || v4_broadcast)
}
