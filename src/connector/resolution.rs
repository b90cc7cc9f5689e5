//! RFC 8305 §3, sans-IO: when the answers of the AAAA and A lookups,
//! sent together (AAAA first), are handed to the connection race.
//!
//! - The AAAA answer (addresses or none) releases everything known at
//!   once: connecting starts as soon as it is in.
//! - An A answer with addresses, while AAAA is still out, waits the
//!   Resolution Delay (50 ms, the recommended value); if AAAA has not
//!   answered by then, IPv4 starts on its own.
//! - An answer that comes after connecting began is released as it
//!   comes, and its addresses join the race ([`Race::add`]).
//!
//! Time is an argument; the caller runs the lookups ([`dns::Lookup`]) and
//! feeds in their outcomes. Every decision is a [`Note`] for `-v`.
//!
//! [`Race::add`]: super::happy::Race::add
//! [`dns::Lookup`]: crate::dns::Lookup

use super::happy::{Note, Release};
use crate::dns::{ResolveError, Source};
use crate::time::{Duration, Instant};
use std::net::IpAddr;

/// RFC 8305 §3: the recommended Resolution Delay.
pub const RESOLUTION_DELAY: Duration = Duration::from_millis(50);

#[derive(Debug)]
enum State {
    /// Not asked (the family is excluded).
    Unasked,
    /// Asked, no outcome yet.
    Pending,
    /// Answered; `released` once its addresses went to the race.
    Answered { addrs: Vec<IpAddr>, released: bool },
    /// No address (or the lookup failed).
    Failed(ResolveError),
}

impl State {
    fn pending(&self) -> bool {
        matches!(self, State::Pending)
    }

    fn answered(&self) -> bool {
        matches!(self, State::Answered { .. })
    }

    /// The addresses not yet released, marking them released.
    fn take(&mut self) -> Vec<IpAddr> {
        match self {
            State::Answered { addrs, released } if !*released => {
                *released = true;
                addrs.clone()
            }
            _ => Vec::new(),
        }
    }
}

/// The two lookups of one host, and when their addresses may be used.
#[derive(Debug)]
pub struct Resolution {
    host: String,
    began: Instant,
    aaaa: State,
    a: State,
    /// When the A answer came (the resolution delay runs from it).
    a_at: Option<Instant>,
    /// Connecting has begun (the first addresses went to the race).
    started: bool,
    notes: Vec<Note>,
}

impl Resolution {
    /// Lookups of `host` for AAAA (if `aaaa`) and A (if `a`) began `now`.
    pub fn new(host: &str, aaaa: bool, a: bool, now: Instant) -> Resolution {
        let state = |asked: bool| {
            if asked {
                State::Pending
            } else {
                State::Unasked
            }
        };
        Resolution {
            host: host.to_string(),
            began: now,
            aaaa: state(aaaa),
            a: state(a),
            a_at: None,
            started: false,
            notes: Vec::new(),
        }
    }

    /// The outcome of the AAAA (`v6`) or A lookup.
    pub fn on_answer(
        &mut self,
        v6: bool,
        result: Result<(Vec<IpAddr>, Source), ResolveError>,
        now: Instant,
    ) {
        let after = now.saturating_duration_since(self.began);
        let record = if v6 { "AAAA" } else { "A" };
        let state = match result {
            Ok((addrs, source)) if !addrs.is_empty() => {
                for &addr in &addrs {
                    self.notes.push(Note::Resolved {
                        host: self.host.clone(),
                        addr,
                        source: source.to_string(),
                        literal: source == Source::Literal,
                        record,
                        after,
                    });
                }
                State::Answered {
                    addrs,
                    released: false,
                }
            }
            Ok(_) => State::Failed(ResolveError::NotFound(self.host.clone())),
            Err(e) => {
                self.notes.push(Note::NoAddress {
                    host: self.host.clone(),
                    record,
                    error: e.to_string(),
                    after,
                });
                State::Failed(e)
            }
        };
        if v6 {
            self.aaaa = state;
        } else {
            if state.answered() {
                self.a_at = Some(now);
            }
            self.a = state;
        }
    }

    /// The addresses to hand to the race now (empty if none), with the
    /// reason noted.
    pub fn release(&mut self, now: Instant) -> Vec<IpAddr> {
        let why = if self.started {
            Release::Late
        } else if matches!(self.aaaa, State::Unasked) || matches!(self.a, State::Unasked) {
            Release::OneFamily
        } else if self.aaaa.answered() {
            Release::AaaaFirst
        } else if !self.aaaa.pending() {
            Release::NoAaaa
        } else if self.a_at.is_some_and(|t| now >= t + RESOLUTION_DELAY) {
            Release::ResolutionDelay
        } else {
            return Vec::new();
        };
        let mut addrs = self.aaaa.take();
        addrs.extend(self.a.take());
        if addrs.is_empty() {
            return addrs;
        }
        self.started = true;
        self.notes.push(Note::Release {
            why,
            addrs: addrs.clone(),
            after: now.saturating_duration_since(self.began),
        });
        addrs
    }

    /// When [`release`](Self::release) has something to do without a new
    /// answer: the end of the resolution delay.
    pub fn deadline(&self) -> Option<Instant> {
        if self.started || !self.aaaa.pending() {
            return None;
        }
        self.a_at.map(|t| t + RESOLUTION_DELAY)
    }

    /// True once every lookup asked has an outcome.
    pub fn is_done(&self) -> bool {
        !self.aaaa.pending() && !self.a.pending()
    }

    /// True once some addresses went to the race.
    pub fn started(&self) -> bool {
        self.started
    }

    /// Why the host has no address, once [`is_done`](Self::is_done) and
    /// nothing was found: the A lookup's reason when both were asked, as
    /// getaddrinfo-based clients report it.
    pub fn error(&mut self) -> Option<ResolveError> {
        if !self.is_done() || self.aaaa.answered() || self.a.answered() {
            return None;
        }
        let take = |s: &mut State| match std::mem::replace(s, State::Unasked) {
            State::Failed(e) => Some(e),
            _ => None,
        };
        take(&mut self.a).or_else(|| take(&mut self.aaaa))
    }

    /// What happened, in order, taking the notes out.
    pub fn take_notes(&mut self) -> Vec<Note> {
        std::mem::take(&mut self.notes)
    }
}

#[cfg(test)]
#[path = "resolution_tests.rs"]
mod tests;
