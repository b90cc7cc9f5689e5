//! Happy Eyeballs version 2 (RFC 8305), sans-IO: the order in which a
//! host's addresses are tried and when each attempt starts. The caller
//! runs the attempts (non-blocking connects through the stack) and feeds
//! their results and the time in; [`Race`] says what to start next, when
//! to wake up, and which attempt won.
//!
//! - §4: addresses are interleaved by family, IPv6 first (First Address
//!   Family Count 1).
//! - §5: a new attempt starts when the previous one has not connected
//!   within the Connection Attempt Delay (250 ms, the recommended value),
//!   or at once when the previous one failed. Earlier attempts keep
//!   running: whichever connects first wins and the others are abandoned.
//! - Each attempt is bounded by the connect timeout from its own start.
//! - §3, §4: addresses may still arrive while attempts run (the AAAA
//!   answer after the A answer's resolution delay, or the other way
//!   round): [`Race::add`] puts them among the addresses not yet tried,
//!   alternating families from the last one tried, and the race is not
//!   over while [`Race::expect_more`] says more may come.
//!
//! Every decision is recorded as a [`Note`], so `get -v` can say which
//! family won and why.

use crate::time::{Duration, Instant};
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};

/// RFC 8305 §5: the recommended Connection Attempt Delay.
pub const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// Which address families to use (curl's `-4` / `-6`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Family {
    /// Both, IPv6 first (Happy Eyeballs).
    #[default]
    Any,
    /// IPv4 only (`-4`).
    V4,
    /// IPv6 only (`-6`).
    V6,
}

impl Family {
    /// True if `addr` may be used.
    pub fn allows(self, addr: &IpAddr) -> bool {
        match self {
            Family::Any => true,
            Family::V4 => addr.is_ipv4(),
            Family::V6 => addr.is_ipv6(),
        }
    }
}

/// RFC 8305 §4: interleaves the families, starting with IPv6, keeping the
/// order within each family.
pub fn interleave(addrs: &[SocketAddr]) -> Vec<SocketAddr> {
    interleave_from(addrs, true)
}

/// [`interleave`], starting with IPv6 if `v6_first`, else IPv4.
fn interleave_from(addrs: &[SocketAddr], v6_first: bool) -> Vec<SocketAddr> {
    let (v6, v4): (Vec<SocketAddr>, Vec<SocketAddr>) = addrs.iter().partition(|a| a.is_ipv6());
    let mut out = Vec::with_capacity(addrs.len());
    let (first, second) = if v6_first { (v6, v4) } else { (v4, v6) };
    let (mut a, mut b) = (first.into_iter(), second.into_iter());
    loop {
        match (a.next(), b.next()) {
            (None, None) => return out,
            (x, y) => out.extend(x.into_iter().chain(y)),
        }
    }
}

/// What happened during a resolution and race, in order (for `-v`).
#[derive(Debug)]
pub enum Note {
    /// A lookup answered: `host` has `addr` (from `source`, a `record`
    /// answer `after` the lookups began).
    Resolved {
        host: String,
        addr: IpAddr,
        source: String,
        literal: bool,
        record: &'static str,
        after: Duration,
    },
    /// A lookup found no address (or failed).
    NoAddress {
        host: String,
        record: &'static str,
        error: String,
        after: Duration,
    },
    /// Why connecting starts now, or why late addresses join the race
    /// (RFC 8305 §3).
    Release {
        why: Release,
        addrs: Vec<IpAddr>,
        after: Duration,
    },
    /// An attempt started.
    Trying(SocketAddr),
    /// An attempt failed (refused, unreachable, timed out); `next` is the
    /// address tried next, if any.
    Failed {
        addr: SocketAddr,
        error: String,
        after: Duration,
        next: Option<SocketAddr>,
    },
    /// The attempt delay passed without a connection: `next` starts while
    /// `waiting` keeps trying.
    Stagger {
        waiting: SocketAddr,
        after: Duration,
        next: SocketAddr,
    },
    /// `addr` connected first; `others` attempts still running are closed.
    Won {
        addr: SocketAddr,
        after: Duration,
        others: usize,
    },
}

fn family(a: &SocketAddr) -> &'static str {
    if a.is_ipv6() {
        "IPv6"
    } else {
        "IPv4"
    }
}

/// Why addresses were handed to the race when they were (RFC 8305 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    /// The AAAA answer came (first, or with the A answer): connect now.
    AaaaFirst,
    /// The A answer came and the AAAA lookup had not answered 50 ms later
    /// (the Resolution Delay): connect over IPv4 meanwhile.
    ResolutionDelay,
    /// The AAAA lookup found nothing: IPv4 as soon as it answers.
    NoAaaa,
    /// Only one family was asked for (`-4`, `-6`, or a literal).
    OneFamily,
    /// An answer that came after connecting began: its addresses join
    /// the attempts.
    Late,
}

impl Release {
    /// The line for `addrs` handed to the race `after` ms in.
    fn describe(self, f: &mut fmt::Formatter<'_>, after: u128, addrs: &[IpAddr]) -> fmt::Result {
        let list: Vec<String> = addrs.iter().map(ToString::to_string).collect();
        let list = list.join(", ");
        match self {
            Release::AaaaFirst => write!(
                f,
                "Connecting after {after} ms: the AAAA answer is in (RFC 8305 §3), to {list}"
            ),
            Release::ResolutionDelay => write!(
                f,
                "Connecting over IPv4 after {after} ms: no AAAA answer within the 50 ms \
                 resolution delay after the A answer (RFC 8305 §3), to {list}"
            ),
            Release::NoAaaa => write!(
                f,
                "Connecting over IPv4 after {after} ms: no IPv6 address, to {list}"
            ),
            Release::OneFamily => write!(f, "Connecting after {after} ms to {list}"),
            Release::Late => write!(
                f,
                "A late answer after {after} ms adds {list} to the attempts (RFC 8305 §4)"
            ),
        }
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: &Duration| d.as_millis();
        match self {
            Note::Resolved {
                host,
                literal: true,
                ..
            } => write!(f, "{host} is an IP address: no name to resolve"),
            Note::Resolved {
                host,
                addr,
                source,
                record,
                after,
                ..
            } => write!(
                f,
                "Resolved {host} to {addr} (from the {source}), {record} answer after {} ms",
                ms(after)
            ),
            Note::NoAddress {
                host,
                record,
                error,
                after,
            } => write!(
                f,
                "No {record} address for {host} after {} ms: {error}",
                ms(after)
            ),
            Note::Release { why, addrs, after } => why.describe(f, ms(after), addrs),
            Note::Trying(a) => write!(f, "  Trying {a}..."),
            Note::Failed {
                addr,
                error,
                after,
                next,
            } => {
                write!(
                    f,
                    "{} connect to {addr} failed after {} ms: {error}",
                    family(addr),
                    ms(after)
                )?;
                match next {
                    Some(n) => write!(f, ", trying {n}"),
                    None => Ok(()),
                }
            }
            Note::Stagger {
                waiting,
                after,
                next,
            } => write!(
                f,
                "{} connect to {waiting} timed out after {} ms, trying {next}",
                family(waiting),
                ms(after)
            ),
            Note::Won {
                addr,
                after,
                others,
            } => {
                write!(
                    f,
                    "{} won: {addr} connected first, after {} ms",
                    family(addr),
                    ms(after)
                )?;
                if *others > 0 {
                    write!(f, " ({others} other attempt(s) closed)")?;
                }
                Ok(())
            }
        }
    }
}

#[derive(Debug)]
struct Attempt {
    addr: SocketAddr,
    started: Instant,
    live: bool,
}

/// One Happy Eyeballs race over a list of addresses.
#[derive(Debug)]
pub struct Race {
    addrs: Vec<SocketAddr>,
    attempts: Vec<Attempt>,
    delay: Duration,
    timeout: Duration,
    /// When the next attempt may start (None: only after a failure).
    next_at: Option<Instant>,
    began: Instant,
    winner: Option<usize>,
    errors: Vec<(SocketAddr, io::Error)>,
    notes: Vec<Note>,
    /// More addresses may still come (a DNS answer outstanding).
    more: bool,
}

impl Race {
    /// A race over `addrs` (tried in this order; see [`interleave`]),
    /// starting the next attempt `delay` after the previous one, each
    /// attempt given up after `timeout`.
    pub fn new(addrs: Vec<SocketAddr>, delay: Duration, timeout: Duration, now: Instant) -> Race {
        Race {
            addrs,
            attempts: Vec::new(),
            delay,
            timeout,
            next_at: Some(now),
            began: now,
            winner: None,
            errors: Vec::new(),
            notes: Vec::new(),
            more: false,
        }
    }

    /// RFC 8305 §4: addresses that arrived after the race began join the
    /// ones not yet tried (duplicates dropped), the families alternating
    /// from the one tried last. They start as the attempt delay allows:
    /// at once if nothing is running.
    pub fn add(&mut self, addrs: &[SocketAddr]) {
        let tried = self.attempts.len().min(self.addrs.len());
        let mut rest = self.addrs.split_off(tried);
        for a in addrs {
            if !self.addrs.contains(a) && !rest.contains(a) {
                rest.push(*a);
            }
        }
        let v6_first = self.addrs.last().is_none_or(|a| a.is_ipv4());
        self.addrs.extend(interleave_from(&rest, v6_first));
    }

    /// Whether more addresses may still be [`add`](Self::add)ed: while
    /// they may, the race is not over even with every attempt failed.
    pub fn expect_more(&mut self, more: bool) {
        self.more = more;
    }

    fn next_addr(&self) -> Option<SocketAddr> {
        self.addrs.get(self.attempts.len()).copied()
    }

    /// The attempt to start now, if one is due: the first at once, the
    /// next one `delay` after the previous start or at once after a
    /// failure. Returns its index and address.
    pub fn start(&mut self, now: Instant) -> Option<(usize, SocketAddr)> {
        if self.winner.is_some() || self.next_at.is_none_or(|t| now < t) {
            return None;
        }
        let addr = self.next_addr()?;
        if let Some(waiting) = self.attempts.iter().rev().find(|a| a.live) {
            self.notes.push(Note::Stagger {
                waiting: waiting.addr,
                after: now.saturating_duration_since(waiting.started),
                next: addr,
            });
        }
        self.attempts.push(Attempt {
            addr,
            started: now,
            live: true,
        });
        self.notes.push(Note::Trying(addr));
        self.next_at = Some(now + self.delay);
        Some((self.attempts.len() - 1, addr))
    }

    /// Attempts that ran out of time by `now`: each is failed with
    /// `TimedOut`; the caller abandons them.
    pub fn expire(&mut self, now: Instant) -> Vec<usize> {
        let due: Vec<usize> = self
            .attempts
            .iter()
            .enumerate()
            .filter(|(_, a)| a.live && now >= a.started + self.timeout)
            .map(|(i, _)| i)
            .collect();
        for &i in &due {
            let secs = self.timeout.as_secs_f64();
            let addr = self.attempts.get(i).map(|a| a.addr);
            let e = io::Error::new(
                io::ErrorKind::TimedOut,
                match addr {
                    Some(a) => format!("connection to {a} timed out after {secs:.1} s"),
                    None => format!("connection timed out after {secs:.1} s"),
                },
            );
            self.failed(i, e, now);
        }
        due
    }

    /// Attempt `i` connected (true: it won) or failed.
    pub fn on_result(&mut self, i: usize, result: io::Result<()>, now: Instant) -> bool {
        match result {
            Ok(()) => {
                let Some(a) = self.attempts.get_mut(i).filter(|a| a.live) else {
                    return false;
                };
                if self.winner.is_some() {
                    return false;
                }
                a.live = false;
                self.winner = Some(i);
                let (addr, after) = (a.addr, now.saturating_duration_since(self.began));
                let others = self.attempts.iter().filter(|a| a.live).count();
                self.notes.push(Note::Won {
                    addr,
                    after,
                    others,
                });
                true
            }
            Err(e) => {
                self.failed(i, e, now);
                false
            }
        }
    }

    fn failed(&mut self, i: usize, e: io::Error, now: Instant) {
        let Some(a) = self.attempts.get_mut(i).filter(|a| a.live) else {
            return;
        };
        a.live = false;
        let (addr, after) = (a.addr, now.saturating_duration_since(a.started));
        // §5: a failure starts the next attempt without waiting.
        if self.winner.is_none() {
            self.next_at = Some(now);
        }
        let next = if self.winner.is_none() {
            self.next_addr()
        } else {
            None
        };
        self.notes.push(Note::Failed {
            addr,
            error: e.to_string(),
            after,
            next,
        });
        self.errors.push((addr, e));
    }

    /// When the caller must look again: the next start or the earliest
    /// attempt timeout. `None` once the race is over.
    pub fn deadline(&self) -> Option<Instant> {
        if self.is_over() {
            return None;
        }
        let start = self.next_addr().and(self.next_at);
        let timeouts = self
            .attempts
            .iter()
            .filter(|a| a.live)
            .map(|a| a.started + self.timeout);
        start.into_iter().chain(timeouts).min()
    }

    /// True once an attempt won, or every address failed.
    pub fn is_over(&self) -> bool {
        self.winner.is_some()
            || (!self.more && self.next_addr().is_none() && self.attempts.iter().all(|a| !a.live))
    }

    /// True once an attempt won.
    pub fn has_winner(&self) -> bool {
        self.winner.is_some()
    }

    /// The winning attempt's index.
    pub fn winner(&self) -> Option<usize> {
        self.winner
    }

    /// Attempts still running (to close once a winner is known).
    pub fn live(&self) -> Vec<usize> {
        (0..self.attempts.len())
            .filter(|&i| self.attempts.get(i).is_some_and(|a| a.live))
            .collect()
    }

    /// What happened, in order, taking the notes out.
    pub fn take_notes(&mut self) -> Vec<Note> {
        std::mem::take(&mut self.notes)
    }

    /// The error to report when every attempt failed: the last one's,
    /// naming every address tried.
    pub fn error(&mut self) -> io::Error {
        let Some((_, last)) = self.errors.pop() else {
            return io::Error::new(io::ErrorKind::NotFound, "no address to connect to");
        };
        if self.errors.is_empty() {
            return last;
        }
        let tried: Vec<String> = self
            .errors
            .iter()
            .map(|(a, e)| format!("{a}: {e}"))
            .collect();
        io::Error::new(
            last.kind(),
            format!("{last} (also tried {})", tried.join("; ")),
        )
    }
}

#[cfg(test)]
#[path = "happy_tests.rs"]
mod tests;
