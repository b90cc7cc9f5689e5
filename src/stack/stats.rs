//! Per-stack counters: every packet dropped is counted under its reason.

use crate::wire;

/// Declares [`Stats`] from its one list of counters, so that the struct,
/// [`Stats::counters`] and the `+=` that totals a multiqueue stack's
/// shards cannot disagree: a counter is named once, in the struct.
macro_rules! stats {
    (
        $(#[$meta:meta])*
        pub struct Stats {
            $(
                $(#[$doc:meta])*
                pub $field:ident: u64,
            )*
        }
    ) => {
        $(#[$meta])*
        pub struct Stats {
            $(
                $(#[$doc])*
                pub $field: u64,
            )*
        }

        impl Stats {
            /// Every counter with its name, in declaration order.
            pub fn counters(&self) -> Vec<(&'static str, u64)> {
                vec![$((stringify!($field), self.$field)),*]
            }

            /// Counters 1, 2, 3, … in declaration order: each field told
            /// apart from the others.
            #[cfg(test)]
            fn numbered() -> Stats {
                let mut n = 0;
                Stats {
                    $($field: {
                        n += 1;
                        n
                    },)*
                }
            }
        }

        impl std::ops::AddAssign<&Stats> for Stats {
            /// Adds `other`'s counters: the totals of a stack whose shards
            /// (one per queue of a multiqueue device) count separately.
            fn add_assign(&mut self, other: &Stats) {
                $(self.$field += other.$field;)*
            }
        }
    };
}

stats! {
    /// Counters of one [`Interface`](super::Interface).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Stats {
        /// Packets read from the device.
        pub rx_packets: u64,
        /// Bytes read from the device.
        pub rx_bytes: u64,
        /// Packets written to the device.
        pub tx_packets: u64,
        /// Bytes written to the device.
        pub tx_bytes: u64,
        /// Device reads that failed (other than "nothing to read").
        pub rx_errors: u64,
        /// Device writes that failed (the packet is lost; TCP retransmits).
        pub tx_errors: u64,
        /// Zero-length reads.
        pub rx_empty: u64,
        /// Segments whose payload the device read straight into the receive
        /// buffer (copy-once receive).
        pub rx_direct: u64,
        /// Of those, segments read into the buffer of a reader waiting for
        /// them (its posted buffer) rather than into the receive ring.
        pub rx_posted: u64,
        /// Reads into a receive buffer whose packet turned out to be for
        /// another path, and was copied back out.
        pub rx_direct_missed: u64,
        /// Polls by the stack's driver thread (filled in by `Stack::stats`):
        /// each follows a wake-up of that thread, a timeout, or work left
        /// queued. Polls by application threads are not counted.
        pub driver_polls: u64,

        /// IPv4: shorter than the header or its total length.
        pub ip_truncated: u64,
        /// IPv4: version field is not 4.
        pub ip_bad_version: u64,
        /// IPv4: IHL below 5 or total length below the header.
        pub ip_bad_header_len: u64,
        /// IPv4: header checksum mismatch.
        pub ip_bad_checksum: u64,
        /// IPv4: fragments received (handed to reassembly; what became of
        /// each is in the `frag_*` counters).
        pub ip_fragments: u64,
        /// IPv4: destination is not our address (another host, broadcast,
        /// multicast): dropped without a reply.
        pub ip_not_for_us: u64,
        /// IPv4: a source address no host may send from (RFC 1122 §3.2.1.3,
        /// §4.2.3.10): broadcast, our subnet's directed broadcast, multicast,
        /// 0.0.0.0, or our own address. Dropped without a reply, so a forged
        /// packet cannot turn a RST or ICMP error into a broadcast (Linux's
        /// "martian source").
        pub ip_martian_source: u64,
        /// IPv4: protocol other than TCP, UDP, ICMP.
        pub ip_unsupported_protocol: u64,

        /// Fragments (IPv4 and IPv6) taken into reassembly.
        pub frag_received: u64,
        /// Datagrams reassembled from fragments and delivered.
        pub frag_reassembled: u64,
        /// IPv6 atomic fragments (offset 0, M clear), delivered on their own
        /// without touching any train (RFC 6946).
        pub frag_atomic: u64,
        /// Trains discarded because two of their fragments overlapped (RFC
        /// 5722); the overlapping fragment is dropped with them.
        pub frag_overlap: u64,
        /// Fragments dropped because their train had been discarded for an
        /// overlap and not yet timed out.
        pub frag_after_overlap: u64,
        /// Exact duplicates of a held fragment, ignored (RFC 5722 erratum).
        pub frag_duplicate: u64,
        /// First fragments too short to hold the transport header, and TCP
        /// fragments at offset 8 (RFC 1858 §3, RFC 7112); the train is freed.
        pub frag_tiny: u64,
        /// Fragments that contradict the datagram: a non-final one not a
        /// multiple of 8 bytes, data past the end, two different ends.
        pub frag_malformed: u64,
        /// Fragments that would make the datagram exceed 64 KiB.
        pub frag_oversize: u64,
        /// Fragments dropped because their source's reassembly memory cap
        /// was reached.
        pub frag_peer_limit: u64,
        /// Fragments dropped because the total reassembly memory cap was
        /// reached.
        pub frag_total_limit: u64,
        /// Trains freed for holding too many fragments.
        pub frag_too_many: u64,
        /// Trains that never completed, freed by the reassembly timeout.
        pub frag_timeout: u64,
        /// Of those, trains whose first fragment had arrived and whose source
        /// was sent an ICMP / ICMPv6 Time Exceeded (code 1); the others were
        /// refused by the reply rate limit (`replies_rate_limited`) or had no
        /// first fragment.
        pub frag_time_exceeded_sent: u64,

        /// TCP: segment shorter than 20 bytes or than the header its data
        /// offset claims.
        pub tcp_truncated: u64,
        /// TCP: data offset below 5.
        pub tcp_bad_header_len: u64,
        /// TCP: checksum mismatch.
        pub tcp_bad_checksum: u64,
        /// TCP: impossible flag combination.
        pub tcp_bad_flags: u64,
        /// TCP: segments whose options end in a malformed one. Not a drop:
        /// as Linux, parsing stops there and the segment is processed.
        pub tcp_bad_option: u64,
        /// TCP: segments delivered to a connection or listener.
        pub tcp_segments_in: u64,
        /// TCP: segments sent.
        pub tcp_segments_out: u64,
        /// TCP: of those, segments larger than the MTU handed to a TSO device
        /// (each counts once, however many MSS-sized segments it becomes).
        pub tcp_tso_out: u64,
        /// TCP: segments for no connection or listener (answered with RST).
        pub tcp_no_socket: u64,
        /// TCP: RSTs sent by the demux (no connection, bad ACK to a listener).
        pub tcp_rst_sent: u64,
        /// TCP: SYNs dropped because the listener's accept queue was full
        /// (Linux's `ListenOverflows` for a SYN).
        pub tcp_listen_overflow: u64,
        /// TCP: handshake-completing ACKs ignored because the accept queue was
        /// full; the SYN-ACK is retransmitted (Linux's `ListenOverflows` for
        /// the final ACK).
        pub tcp_listen_ack_dropped: u64,
        /// TCP: SYNs dropped with the SYN queue full, SYN cookies off and no
        /// half-open connection to evict.
        pub tcp_syn_queue_dropped: u64,
        /// Half-open connections evicted to make room for a new SYN (SYN
        /// queue full and SYN cookies off).
        pub tcp_syn_evicted: u64,
        /// TCP: SYN cookies sent (SYN queue full; Linux's `SyncookiesSent`).
        pub tcp_syncookies_sent: u64,
        /// TCP: connections rebuilt from a valid cookie (`SyncookiesRecv`).
        pub tcp_syncookies_recv: u64,
        /// TCP: ACKs to a listener that sent cookies whose cookie was invalid
        /// or expired (`SyncookiesFailed`); answered with RST.
        pub tcp_syncookies_failed: u64,
        /// TCP: connections refused because the connection table was full.
        pub tcp_table_full: u64,
        /// TCP: TIME-WAIT connections replaced by a new SYN (RFC 6191).
        pub tcp_time_wait_reused: u64,
        /// TCP: TIME-WAIT connections freed early to make room in a full
        /// table (Linux drops TIME-WAIT beyond `tcp_max_tw_buckets`).
        pub tcp_time_wait_recycled: u64,
        /// TCP: connections opened (active + passive).
        pub tcp_connections_opened: u64,
        /// TCP: retransmitted segments, summed over closed connections.
        pub tcp_retransmits: u64,

        /// ICMP: errors applied to a connection (RFC 5927).
        pub icmp_errors_applied: u64,
        /// ICMP: errors ignored (no such connection, or the quoted sequence
        /// number is not in flight).
        pub icmp_errors_ignored: u64,
        /// ICMP: echo requests answered.
        pub icmp_echo_replies: u64,
        /// ICMP: messages dropped (malformed or unhandled types).
        pub icmp_dropped: u64,
        /// UDP: datagrams to a closed port (answered with port unreachable).
        pub udp_no_socket: u64,
        /// UDP: datagrams delivered to a socket's queue.
        pub udp_delivered: u64,
        /// UDP: datagrams dropped because the socket's queue was full.
        pub udp_queue_full: u64,
        /// UDP: datagrams sent.
        pub udp_sent: u64,
        /// UDP: malformed datagrams.
        pub udp_malformed: u64,

        /// IPv6: shorter than the header, its payload length or an extension
        /// header.
        pub ip6_truncated: u64,
        /// IPv6: an impossible header (a jumbogram's zero payload length).
        pub ip6_bad_header: u64,
        /// IPv6: an extension header RFC 8200 answers with a Parameter
        /// Problem (hop-by-hop not first, routing with segments left, an
        /// unknown option whose type asks for an error).
        pub ip6_bad_ext_header: u64,
        /// IPv6: an unknown option whose type says "discard silently".
        pub ip6_unknown_option: u64,
        /// IPv6: a chain of more extension headers than any real packet has.
        pub ip6_too_many_ext_headers: u64,
        /// IPv6: destination is not our address (multicast included).
        pub ip6_not_for_us: u64,
        /// IPv6: a source no host may send from (unspecified, loopback,
        /// multicast, IPv4-mapped, our own).
        pub ip6_martian_source: u64,
        /// IPv6: an upper-layer protocol other than TCP, UDP, ICMPv6
        /// (answered with a Parameter Problem).
        pub ip6_unsupported_protocol: u64,
        /// IPv6: "no next header" packets (nothing to deliver).
        pub ip6_no_next_header: u64,
        /// IPv6: neighbour discovery and MLD messages, dropped quietly (the
        /// TUN link has no link layer to resolve).
        pub ip6_nd_mld_dropped: u64,
        /// ICMPv6: echo requests answered.
        pub icmp6_echo_replies: u64,
        /// ICMPv6: messages dropped (bad checksum, malformed, unhandled type).
        pub icmp6_dropped: u64,
        /// ICMPv6: errors applied to a connection (RFC 5927).
        pub icmp6_errors_applied: u64,
        /// ICMPv6: of those, Packet Too Big (path MTU lowered, RFC 8201).
        pub icmp6_packet_too_big: u64,
        /// ICMPv6: errors ignored (not about a TCP connection of ours, or
        /// the quoted sequence number is not in flight).
        pub icmp6_errors_ignored: u64,
        /// UDP over IPv6: a zero checksum (mandatory over IPv6, RFC 8200
        /// §8.1).
        pub udp6_zero_checksum: u64,

        /// Replies (RST, ICMP) dropped because the reply queue was full.
        pub replies_dropped: u64,
        /// Replies (RSTs, ICMP) not sent: over the per-second reply limit.
        pub replies_rate_limited: u64,
    }
}

impl Stats {
    pub(super) fn ip_error(&mut self, e: wire::Error) {
        let c = match e {
            wire::Error::Truncated => &mut self.ip_truncated,
            wire::Error::BadVersion => &mut self.ip_bad_version,
            wire::Error::BadChecksum => &mut self.ip_bad_checksum,
            wire::Error::Fragment => &mut self.ip_fragments,
            wire::Error::Unsupported => &mut self.ip_unsupported_protocol,
            wire::Error::BadHeaderLen | wire::Error::BadFlags => &mut self.ip_bad_header_len,
        };
        *c += 1;
    }

    pub(super) fn tcp_error(&mut self, e: wire::Error) {
        let c = match e {
            wire::Error::Truncated => &mut self.tcp_truncated,
            wire::Error::BadChecksum => &mut self.tcp_bad_checksum,
            wire::Error::BadFlags => &mut self.tcp_bad_flags,
            _ => &mut self.tcp_bad_header_len,
        };
        *c += 1;
    }

    /// Total packets dropped on ingress for any reason.
    pub fn dropped(&self) -> u64 {
        self.ip_truncated
            + self.ip_bad_version
            + self.ip_bad_header_len
            + self.ip_bad_checksum
            + self.frag_overlap
            + self.frag_after_overlap
            + self.frag_duplicate
            + self.frag_tiny
            + self.frag_malformed
            + self.frag_oversize
            + self.frag_peer_limit
            + self.frag_total_limit
            + self.frag_too_many
            + self.ip_not_for_us
            + self.ip_martian_source
            + self.ip_unsupported_protocol
            + self.tcp_truncated
            + self.tcp_bad_header_len
            + self.tcp_bad_checksum
            + self.tcp_bad_flags
            + self.icmp_dropped
            + self.udp_malformed
            + self.ip6_truncated
            + self.ip6_bad_header
            + self.ip6_bad_ext_header
            + self.ip6_unknown_option
            + self.ip6_too_many_ext_headers
            + self.ip6_not_for_us
            + self.ip6_martian_source
            + self.ip6_unsupported_protocol
            + self.ip6_no_next_header
            + self.ip6_nd_mld_dropped
            + self.icmp6_dropped
            + self.udp6_zero_checksum
    }
}

#[cfg(test)]
mod tests {
    use super::Stats;

    #[test]
    fn shard_totals_add_every_counter() {
        let one = Stats::numbered();
        let mut total = one;
        total += &one;
        let (once, twice) = (one.counters(), total.counters());
        assert_eq!(once.len(), twice.len());
        for ((name, v), (_, w)) in once.into_iter().zip(twice) {
            assert!(v > 0, "{name} is numbered");
            assert_eq!(w, 2 * v, "{name} is added");
        }
    }
}
