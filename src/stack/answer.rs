//! Which packets a TCP peer answers at once, read from the packet bytes
//! without parsing them whole: the few header fields (IP version and
//! protocol, TCP data offset and flags, lengths) that `net`'s read after a
//! write (`net/poller_echo.rs`) decides by, on every packet it writes or
//! reads there. A packet that is not TCP over IPv4 or IPv6 without
//! extension headers, or is cut short, counts as neither.

/// True for a TCP segment over IPv4 or IPv6 (no extension headers) with
/// SYN, FIN or payload: the segments a peer answers at once.
pub fn occupies_sequence_space(p: &[u8]) -> bool {
    tcp_flags_and_payload(p).is_some_and(|(flags, len)| flags & 0x03 != 0 || len > 0)
}

/// True for a TCP segment with payload and neither SYN nor FIN: the next
/// request of a request/response exchange, after which its peer waits.
/// (A FIN is not: a client that closes connects again at once.)
pub fn is_request(p: &[u8]) -> bool {
    tcp_flags_and_payload(p).is_some_and(|(flags, len)| flags & 0x03 == 0 && len > 0)
}

/// The flags and payload length of a TCP segment over IPv4 or IPv6 (no
/// extension headers).
fn tcp_flags_and_payload(p: &[u8]) -> Option<(u8, usize)> {
    let (l4, len) = match p.first().map(|b| b >> 4) {
        Some(4) => {
            let ihl = usize::from(p.first().map_or(0, |b| b & 0x0f)) * 4;
            let total = p
                .get(2..4)
                .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])));
            if p.get(9) != Some(&6) {
                return None;
            }
            (ihl, total.saturating_sub(ihl))
        }
        Some(6) => {
            let payload = p
                .get(4..6)
                .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])));
            if p.get(6) != Some(&6) {
                return None;
            }
            (40, payload)
        }
        _ => return None,
    };
    let doff = p.get(l4 + 12).map_or(0, |b| usize::from(b >> 4) * 4);
    // SYN 0x02, FIN 0x01.
    let flags = p.get(l4 + 13).copied().unwrap_or(0);
    Some((flags, len.saturating_sub(doff)))
}

#[cfg(test)]
mod tests {
    use super::{is_request, occupies_sequence_space};

    /// An IPv4 TCP segment with `flags` and `payload` bytes of data.
    fn v4(flags: u8, payload: usize) -> Vec<u8> {
        let total = 20 + 20 + payload;
        let mut p = vec![0u8; total];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&u16::try_from(total).unwrap().to_be_bytes());
        p[9] = 6;
        p[20 + 12] = 5 << 4;
        p[20 + 13] = flags;
        p
    }

    /// The same over IPv6.
    fn v6(flags: u8, payload: usize) -> Vec<u8> {
        let mut p = vec![0u8; 40 + 20 + payload];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&u16::try_from(20 + payload).unwrap().to_be_bytes());
        p[6] = 6;
        p[40 + 12] = 5 << 4;
        p[40 + 13] = flags;
        p
    }

    #[test]
    fn only_segments_a_peer_answers_at_once_count() {
        const ACK: u8 = 0x10;
        for mk in [v4, v6] {
            assert!(!occupies_sequence_space(&mk(ACK, 0)), "a bare ACK");
            assert!(occupies_sequence_space(&mk(ACK | 0x02, 0)), "SYN-ACK");
            assert!(occupies_sequence_space(&mk(ACK | 0x01, 0)), "FIN");
            assert!(occupies_sequence_space(&mk(ACK, 1)), "one byte of data");
        }
        let mut udp = v4(0x02, 1);
        udp[9] = 17;
        assert!(!occupies_sequence_space(&udp), "not TCP");
        assert!(!occupies_sequence_space(&[0x45, 0, 0]), "truncated");
        assert!(!occupies_sequence_space(&[]), "empty");
    }

    #[test]
    fn only_data_without_syn_or_fin_is_a_request() {
        const ACK: u8 = 0x10;
        for mk in [v4, v6] {
            assert!(is_request(&mk(ACK, 1)), "one byte of data");
            assert!(!is_request(&mk(ACK, 0)), "a bare ACK");
            assert!(!is_request(&mk(ACK | 0x01, 1)), "data with FIN");
            assert!(!is_request(&mk(0x02, 0)), "SYN");
        }
        assert!(!is_request(&[0x45, 0, 0]), "truncated");
    }
}
