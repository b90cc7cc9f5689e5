//! SYN cookies (RFC 4987 §3.6): a listener whose SYN queue is full answers
//! a SYN with a SYN-ACK whose ISN encodes what the connection needs, and
//! keeps no state; the client's ACK (acknowledging ISN + 1) rebuilds the
//! connection. A flood then costs no memory, and a real client still
//! gets in.
//!
//! The encoding is Linux's (`net/ipv4/syncookies.c`):
//! - ISN = H₀ + peer ISN + (count << 24) + ((H₁(count) + MSS index) mod 2²⁴),
//!   where H₀ and H₁ are keyed hashes (SipHash-2-4) of the 4-tuple, the
//!   second also of `count`, a counter that ticks every [`TICK`]. A cookie
//!   is accepted while `count` is at most [`MAX_AGE`] − 1 ticks old (one
//!   to two minutes), and only if the MSS index is in [`MSS_TABLE`].
//! - The options that do not fit in the ISN ride in the low 6 bits of our
//!   TSval, which the client echoes in every segment (RFC 7323 §3): the
//!   peer's window-scale shift (4 bits, 0xf for none), SACK permitted
//!   (1 bit) and ECN (1 bit, never set: ECN is not negotiated). The TSval
//!   is moved back, never forward, to make room, so it stays monotonic.
//!   Without timestamps the SYN-ACK offers neither window scaling nor
//!   SACK, as Linux's (`tcp_clear_options` for a cookie without them).
//!
//! Sans-IO like the rest of `tcp`: time and the key come in as arguments.

use super::isn::siphash24;
use super::{Config, State, Tcb};
use crate::time::{Duration, Instant};
use crate::wire::{Flags, SeqNumber, TcpHeader, TcpOptions, TcpSegment};
use std::net::SocketAddr;

/// MSS values a cookie can carry (Linux's IPv4 `msstab`): the largest not
/// above the peer's MSS is chosen.
pub const MSS_TABLE: [u16; 4] = [536, 1300, 1440, 1460];
/// Bits of the cookie below the counter.
const COOKIE_BITS: u32 = 24;
const COOKIE_MASK: u32 = (1 << COOKIE_BITS) - 1;
/// How often the cookie counter ticks (Linux: every 60 s).
pub const TICK: Duration = Duration::from_secs(64);
/// Ticks a cookie stays valid for (Linux's `MAX_SYNCOOKIE_AGE`).
pub const MAX_AGE: u32 = 2;
/// Low TSval bits that carry options.
const TS_BITS: u32 = 6;
const TS_MASK: u32 = (1 << TS_BITS) - 1;
const TS_WSCALE_NONE: u32 = 0xf;
const TS_SACK: u32 = 1 << 4;
const TS_ECN: u32 = 1 << 5;

/// Why a cookie ACK was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CookieError {
    /// Not a bare ACK of a SYN-ACK (SYN, RST or FIN set, or no ACK).
    NotAnAck,
    /// The acknowledgment is no cookie of ours, or an expired one.
    Invalid,
    /// The echoed timestamp carries impossible options.
    BadTimestamp,
    /// The rebuilt connection did not accept the ACK.
    Rejected,
}

/// Keyed SYN-cookie codec of one listener.
#[derive(Clone, Debug)]
pub struct SynCookies {
    key: [u64; 2],
}

impl SynCookies {
    /// A codec with the given 128-bit secret (use a key of its own, not
    /// the ISN generator's).
    pub fn new(key: [u64; 2]) -> SynCookies {
        SynCookies { key }
    }

    fn hash(&self, local: SocketAddr, remote: SocketAddr, count: u32, which: u8) -> u32 {
        let mut msg = [0u8; 41];
        let mut n = super::isn::put_ip(&mut msg, 0, local.ip());
        msg[n..n + 2].copy_from_slice(&local.port().to_be_bytes());
        n = super::isn::put_ip(&mut msg, n + 2, remote.ip());
        msg[n..n + 2].copy_from_slice(&remote.port().to_be_bytes());
        msg[n + 2..n + 6].copy_from_slice(&count.to_be_bytes());
        msg[n + 6] = which;
        siphash24(self.key, &msg[..n + 7]) as u32
    }

    fn count(now: Instant) -> u32 {
        (now.total_micros() / TICK.as_micros() as u64) as u32
    }

    /// The cookie ISN for a SYN with sequence number `peer_isn` and MSS
    /// option `peer_mss` (536 if absent), and the MSS it encodes.
    pub fn isn(
        &self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        peer_isn: SeqNumber,
        peer_mss: u16,
    ) -> (SeqNumber, u16) {
        let index = MSS_TABLE.iter().rposition(|&m| m <= peer_mss).unwrap_or(0);
        let count = Self::count(now);
        let cookie = self
            .hash(local, remote, 0, 0)
            .wrapping_add(peer_isn.0)
            .wrapping_add(count << COOKIE_BITS)
            .wrapping_add(
                self.hash(local, remote, count, 1)
                    .wrapping_add(index as u32)
                    & COOKIE_MASK,
            );
        (
            SeqNumber(cookie),
            MSS_TABLE.get(index).copied().unwrap_or(536),
        )
    }

    /// The MSS encoded in `cookie` (our ISN, the ACK's number minus one),
    /// if it is ours for this 4-tuple and `peer_isn` and not expired.
    pub fn check(
        &self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        peer_isn: SeqNumber,
        cookie: SeqNumber,
    ) -> Option<u16> {
        let count = Self::count(now);
        let c = cookie
            .0
            .wrapping_sub(self.hash(local, remote, 0, 0).wrapping_add(peer_isn.0));
        // The counter's low 8 bits sit above the cookie bits.
        let age = count.wrapping_sub(c >> COOKIE_BITS) & (u32::MAX >> COOKIE_BITS);
        if age >= MAX_AGE {
            return None;
        }
        let made = count.wrapping_sub(age);
        let index = c.wrapping_sub(self.hash(local, remote, made, 1)) & COOKIE_MASK;
        MSS_TABLE.get(index as usize).copied()
    }

    /// The SYN-ACK for `syn` that keeps no state: built by a connection
    /// that is then dropped, with the cookie as ISN and the options in its
    /// TSval. `ts_offset` is the listener's timestamp offset for this peer.
    pub fn syn_ack(
        &self,
        cfg: &Config,
        local: SocketAddr,
        remote: SocketAddr,
        syn: &TcpSegment<'_>,
        ts_offset: u32,
        now: Instant,
    ) -> Option<TcpHeader> {
        let mut h = syn.header;
        let peer_mss = h.options.mss.unwrap_or(536);
        let (iss, mss) = self.isn(now, local, remote, h.seq, peer_mss);
        h.options.mss = Some(mss);
        let has_ts = cfg.timestamps && h.options.timestamp.is_some();
        if !has_ts {
            // Nowhere to keep them: offer neither.
            h.options.window_scale = None;
            h.options.sack_permitted = false;
        }
        let syn = TcpSegment {
            header: h,
            payload: &[],
        };
        let mut tcb = Tcb::accept(cfg, local, remote, iss, &syn, now);
        tcb.set_ts_offset(ts_offset);
        let mut out = tcb.poll_transmit(now)?.header;
        if let Some((val, ecr)) = out.options.timestamp {
            let wscale = h.options.window_scale.filter(|_| cfg.window_scaling);
            let sack = h.options.sack_permitted && cfg.sack;
            out.options.timestamp = Some((encode_ts(val, wscale, sack), ecr));
        }
        Some(out)
    }

    /// Rebuilds the connection a cookie ACK completes: validates the
    /// cookie, recovers the MSS, window scale and SACK permission, and
    /// returns the connection in ESTABLISHED with the ACK (and any data
    /// it carries) processed. `ts_offset` must be the one `syn_ack` used.
    ///
    /// # Errors
    /// See [`CookieError`].
    pub fn rebuild(
        &self,
        cfg: &Config,
        local: SocketAddr,
        remote: SocketAddr,
        ack: &TcpSegment<'_>,
        ts_offset: u32,
        now: Instant,
    ) -> Result<Tcb, CookieError> {
        let a = &ack.header;
        if !a.flags.ack() || a.flags.syn() || a.flags.rst() || a.flags.fin() {
            return Err(CookieError::NotAnAck);
        }
        let peer_isn = a.seq - 1u32;
        let iss = a.ack - 1u32;
        let mss = self
            .check(now, local, remote, peer_isn, iss)
            .ok_or(CookieError::Invalid)?;
        let (window_scale, sack_permitted, timestamp) = match a.options.timestamp {
            Some((val, ecr)) if cfg.timestamps && ecr != 0 => {
                let (ws, sack) = decode_ts(ecr).ok_or(CookieError::BadTimestamp)?;
                (ws, sack, Some((val, 0)))
            }
            _ => (None, false, None),
        };
        // The SYN as the cookie remembers it.
        let syn = TcpSegment {
            header: TcpHeader {
                src_port: a.src_port,
                dst_port: a.dst_port,
                seq: peer_isn,
                ack: SeqNumber(0),
                flags: Flags::SYN,
                window: a.window,
                urgent: 0,
                options: TcpOptions {
                    mss: Some(mss),
                    window_scale,
                    sack_permitted,
                    timestamp,
                    ..TcpOptions::default()
                },
            },
            payload: &[],
        };
        let mut tcb = Tcb::accept(cfg, local, remote, iss, &syn, now);
        tcb.set_ts_offset(ts_offset);
        // Our SYN-ACK went out statelessly; this marks it sent.
        let _ = tcb.poll_transmit(now);
        tcb.on_segment(now, ack);
        if tcb.state() == State::Established || tcb.state() == State::CloseWait {
            Ok(tcb)
        } else {
            Err(CookieError::Rejected)
        }
    }
}

/// Our TSval `ts` with its low bits replaced by the options, moved back
/// (never forward) so it does not run ahead of our clock.
pub fn encode_ts(ts: u32, window_scale: Option<u8>, sack: bool) -> u32 {
    let mut options = window_scale.map_or(TS_WSCALE_NONE, |s| u32::from(s.min(14)));
    if sack {
        options |= TS_SACK;
    }
    let v = (ts & !TS_MASK) | options;
    if v > ts {
        (ts & !TS_MASK).wrapping_sub(TS_MASK + 1) | options
    } else {
        v
    }
}

/// The options [`encode_ts`] put in an echoed TSval: (window scale, SACK);
/// `None` if the ECN bit is set, which we never offer (Linux refuses such
/// a cookie too).
pub fn decode_ts(tsecr: u32) -> Option<(Option<u8>, bool)> {
    if tsecr & TS_ECN != 0 {
        return None;
    }
    let sack = tsecr & TS_SACK != 0;
    match tsecr & TS_WSCALE_NONE {
        TS_WSCALE_NONE => Some((None, sack)),
        ws => Some((Some(ws as u8), sack)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, SocketAddrV4};

    const LOCAL: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80));
    const REMOTE: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 40000));

    fn t(secs: u64) -> Instant {
        Instant::from_secs(secs)
    }

    #[test]
    fn cookie_round_trips_the_mss_index_for_two_ticks() {
        let c = SynCookies::new([7, 9]);
        for (peer_mss, want) in [
            (1460, 1460),
            (9000, 1460),
            (1450, 1440),
            (1300, 1300),
            (100, 536),
        ] {
            let (isn, mss) = c.isn(t(64 * 20), LOCAL, REMOTE, SeqNumber(0xffff_fff0), peer_mss);
            assert_eq!(mss, want, "peer MSS {peer_mss}");
            for later in [0, 10, 63, 64, 127] {
                assert_eq!(
                    c.check(
                        t(64 * 20 + later),
                        LOCAL,
                        REMOTE,
                        SeqNumber(0xffff_fff0),
                        isn
                    ),
                    Some(want),
                    "{later} s later"
                );
            }
        }
    }

    #[test]
    fn cookie_expires_after_max_age_ticks() {
        let c = SynCookies::new([7, 9]);
        let start = t(64 * 100);
        let (isn, _) = c.isn(start, LOCAL, REMOTE, SeqNumber(5), 1460);
        let last_valid = start + TICK * (MAX_AGE - 1) + Duration::from_secs(63);
        assert!(c
            .check(last_valid, LOCAL, REMOTE, SeqNumber(5), isn)
            .is_some());
        let expired = start + TICK * MAX_AGE;
        assert_eq!(c.check(expired, LOCAL, REMOTE, SeqNumber(5), isn), None);
        // Nor is a cookie from the future accepted (the counter wraps at
        // 8 bits: 255 ticks ahead reads as "1 ago" only after 255 ticks).
        assert_eq!(
            c.check(start - TICK, LOCAL, REMOTE, SeqNumber(5), isn),
            None
        );
    }

    #[test]
    fn cookie_is_bound_to_the_tuple_the_peer_isn_and_the_key() {
        let c = SynCookies::new([7, 9]);
        let (isn, _) = c.isn(t(500), LOCAL, REMOTE, SeqNumber(77), 1460);
        let other = SocketAddr::new(REMOTE.ip(), 40001);
        let mut valid = 0;
        for (k, r, p) in [
            ([7, 9], other, 77),
            ([7, 9], REMOTE, 77 + 0x1000),
            ([7, 10], REMOTE, 77),
        ] {
            if SynCookies::new(k)
                .check(t(500), LOCAL, r, SeqNumber(p), isn)
                .is_some()
            {
                valid += 1;
            }
        }
        // A wrong guess lands in the 4-entry table with chance 4 / 2^24.
        assert_eq!(valid, 0);
        // Guessing blindly: of 100,000 random ACK numbers almost none pass.
        let mut x = 0x1234_5678u32;
        let passed = (0..100_000)
            .filter(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                c.check(t(500), LOCAL, REMOTE, SeqNumber(77), SeqNumber(x))
                    .is_some()
            })
            .count();
        assert!(passed <= 2, "{passed} random cookies passed");
    }

    #[test]
    fn timestamp_carries_window_scale_and_sack_without_running_ahead() {
        for ts in [0u32, 1, 63, 64, 1000, 0xffff_ffc0, u32::MAX] {
            for (ws, sack) in [
                (None, false),
                (Some(0), true),
                (Some(7), false),
                (Some(14), true),
            ] {
                let e = encode_ts(ts, ws, sack);
                assert_eq!(decode_ts(e), Some((ws, sack)), "ts {ts}");
                // At most 2^7 behind, never ahead (mod 2^32).
                assert!(ts.wrapping_sub(e) < 128, "ts {ts} -> {e}");
            }
        }
        assert_eq!(decode_ts(0x4f), Some((None, false)));
        assert_eq!(decode_ts(0x0e), Some((Some(14), false)));
        assert_eq!(decode_ts(0x2f), None, "ECN is never offered");
    }

    fn syn(opts: TcpOptions) -> TcpHeader {
        TcpHeader {
            src_port: REMOTE.port(),
            dst_port: LOCAL.port(),
            seq: SeqNumber(1000),
            ack: SeqNumber(0),
            flags: Flags::SYN,
            window: 64240,
            urgent: 0,
            options: opts,
        }
    }

    fn ack_of(sa: &TcpHeader, ts: Option<(u32, u32)>) -> TcpHeader {
        TcpHeader {
            src_port: REMOTE.port(),
            dst_port: LOCAL.port(),
            seq: SeqNumber(1001),
            ack: sa.seq + 1u32,
            flags: Flags::ACK,
            window: 502,
            urgent: 0,
            options: TcpOptions {
                timestamp: ts,
                ..TcpOptions::default()
            },
        }
    }

    #[test]
    fn stateless_handshake_rebuilds_options_from_the_timestamp_echo() {
        let cfg = Config::default();
        let c = SynCookies::new([1, 2]);
        let h = syn(TcpOptions {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            timestamp: Some((555, 0)),
            ..TcpOptions::default()
        });
        let seg = TcpSegment {
            header: h,
            payload: &[],
        };
        let sa = c.syn_ack(&cfg, LOCAL, REMOTE, &seg, 99, t(10)).unwrap();
        assert_eq!(sa.flags, Flags::SYN | Flags::ACK);
        assert_eq!(sa.ack, SeqNumber(1001));
        assert_eq!(sa.options.mss, Some(cfg.mss));
        assert!(sa.options.window_scale.is_some() && sa.options.sack_permitted);
        let (tsval, tsecr) = sa.options.timestamp.unwrap();
        assert_eq!(tsecr, 555);
        assert_eq!(decode_ts(tsval), Some((Some(7), true)));
        // The client's ACK, with payload, a few ms later.
        let mut a = ack_of(&sa, Some((560, tsval)));
        a.flags = Flags::ACK | Flags::PSH;
        let ack = TcpSegment {
            header: a,
            payload: b"GET /",
        };
        let mut tcb = c
            .rebuild(
                &cfg,
                LOCAL,
                REMOTE,
                &ack,
                99,
                t(10) + Duration::from_millis(3),
            )
            .unwrap();
        assert_eq!(tcb.state(), State::Established);
        assert_eq!(tcb.irs(), SeqNumber(1000));
        assert_eq!(tcb.iss(), sa.seq);
        // MSS 1460 less the 12 bytes of timestamps; window scaled by 2^7.
        assert_eq!(tcb.mss(), 1448);
        assert_eq!(tcb.send_window(), 502 << 7);
        let mut buf = [0u8; 8];
        assert_eq!(tcb.recv(&mut buf), Ok(5));
        assert_eq!(&buf[..5], b"GET /");
    }

    #[test]
    fn without_timestamps_neither_window_scale_nor_sack_is_offered() {
        let cfg = Config::default();
        let c = SynCookies::new([1, 2]);
        let h = syn(TcpOptions {
            mss: Some(1400),
            window_scale: Some(7),
            sack_permitted: true,
            ..TcpOptions::default()
        });
        let seg = TcpSegment {
            header: h,
            payload: &[],
        };
        let sa = c.syn_ack(&cfg, LOCAL, REMOTE, &seg, 0, t(10)).unwrap();
        assert_eq!(sa.options.window_scale, None);
        assert!(!sa.options.sack_permitted);
        assert_eq!(sa.options.timestamp, None);
        let ack = TcpSegment {
            header: ack_of(&sa, None),
            payload: &[],
        };
        let tcb = c.rebuild(&cfg, LOCAL, REMOTE, &ack, 0, t(11)).unwrap();
        assert_eq!(tcb.mss(), 1300, "the table's value below the peer's 1400");
        assert_eq!(tcb.send_window(), 502, "no scaling");
    }

    #[test]
    fn forged_expired_or_malformed_acks_are_refused() {
        let cfg = Config::default();
        let c = SynCookies::new([1, 2]);
        let seg = TcpSegment {
            header: syn(TcpOptions {
                mss: Some(1460),
                timestamp: Some((1, 0)),
                ..TcpOptions::default()
            }),
            payload: &[],
        };
        let sa = c.syn_ack(&cfg, LOCAL, REMOTE, &seg, 0, t(10)).unwrap();
        let tsval = sa.options.timestamp.unwrap().0;
        let rebuild = |h: TcpHeader, at: Instant| {
            c.rebuild(
                &cfg,
                LOCAL,
                REMOTE,
                &TcpSegment {
                    header: h,
                    payload: &[],
                },
                0,
                at,
            )
            .map(|_| ())
        };
        let good = ack_of(&sa, Some((2, tsval)));
        assert_eq!(rebuild(good, t(11)), Ok(()));
        assert_eq!(
            rebuild(good, t(10) + TICK * MAX_AGE),
            Err(CookieError::Invalid)
        );
        let mut forged = good;
        forged.ack += 1u32;
        assert_eq!(rebuild(forged, t(11)), Err(CookieError::Invalid));
        let mut rst = good;
        rst.flags = Flags::RST | Flags::ACK;
        assert_eq!(rebuild(rst, t(11)), Err(CookieError::NotAnAck));
        // The ECN bit in the echo: never set by encode_ts.
        let bad_ts = ack_of(&sa, Some((2, tsval | TS_ECN)));
        assert_eq!(rebuild(bad_ts, t(11)), Err(CookieError::BadTimestamp));
    }
}
