//! Work lists of the interface, so a poll costs what changed, not what is
//! held: connections touched since the last poll (a segment, a timer, an
//! application call) are the only ones whose output, accept-queue moves
//! and deadlines are looked at; deadlines wait in a min-heap; connections
//! in TIME-WAIT are remembered oldest first, so a full table can recycle
//! the oldest (as Linux drops TIME-WAIT sockets beyond
//! `tcp_max_tw_buckets`) instead of refusing new connections.
//!
//! The heap is lazy: when an entry's deadline moves, a new item is pushed
//! and the old one is recognized as stale when it reaches the top (its
//! entry is gone or is scheduled for another time), so the top is always
//! exact. Each entry has at most one live item; the heap is rebuilt when
//! stale items outnumber the entries.

use super::Interface;
use crate::tcp::State;
use crate::time::Instant;
use std::cmp::Reverse;

impl Interface {
    /// Marks entry `i` as touched: its output, queues and deadline are
    /// looked at by the next poll.
    pub(super) fn touch(&mut self, i: usize) {
        if let Some(e) = self.entries.get_mut(i).and_then(Option::as_mut) {
            if !e.dirty {
                e.dirty = true;
                self.dirty.push(i);
            }
        }
    }

    /// Runs the timers that are due at `now`, in table order, for the
    /// entries whose heap item is due and those touched since the last
    /// poll (a segment may have made a deadline due at once). Returns
    /// (any ran, any changed a connection's state): a timer that only
    /// lets segments leave (pacing, a retransmission, a delayed ACK)
    /// changes nothing a user waits on, while one that closes a
    /// connection (TIME-WAIT's end, a timeout giving up) does.
    pub(super) fn fire_timers(&mut self, now: Instant) -> (bool, bool) {
        while let Some(&Reverse((at, i))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(e) = self.entries.get_mut(i).and_then(Option::as_mut) else {
                continue;
            };
            if e.scheduled != Some(at) {
                continue; // stale: rescheduled, or a new entry in the slot
            }
            e.scheduled = None;
            self.touch(i);
        }
        self.dirty.sort_unstable();
        self.dirty.dedup();
        let (mut fired, mut changed) = (false, false);
        for &i in &self.dirty {
            let Some(e) = self.entries.get_mut(i).and_then(Option::as_mut) else {
                continue;
            };
            if e.tcb.poll_at().is_some_and(|t| t <= now) {
                let before = e.tcb.state();
                e.tcb.on_timeout(now);
                fired = true;
                changed |= e.tcb.state() != before;
            }
        }
        (fired, changed)
    }

    /// Ends a poll: schedules the deadline of every touched entry, notes
    /// those that entered TIME-WAIT, and clears the touched list.
    pub(super) fn reschedule(&mut self) {
        let dirty = std::mem::take(&mut self.dirty);
        for &i in &dirty {
            let Some(e) = self.entries.get_mut(i).and_then(Option::as_mut) else {
                continue;
            };
            // One live item per entry, at its exact deadline; the old one
            // (if any) turns stale.
            let t = e.tcb.poll_at();
            if t != e.scheduled {
                e.scheduled = t;
                if let Some(t) = t {
                    self.timers.push(Reverse((t, i)));
                }
            }
            if e.tcb.state() == State::TimeWait && !e.time_wait_listed {
                e.time_wait_listed = true;
                self.time_waits.push_back((i, e.generation));
            }
        }
        // The list's allocation is kept for the next poll. Connections
        // with bytes in flight or waiting stay on it: the next poll offers
        // them the chance to send again (pacing credit, a window opened by
        // an ACK to another), as a scan of the whole table would.
        self.dirty = dirty;
        let entries = &mut self.entries;
        self.dirty.retain(|&i| {
            entries
                .get_mut(i)
                .and_then(Option::as_mut)
                .is_some_and(|e| {
                    let keep = e.tcb.send_queue() > 0 && !e.tcb.is_closed();
                    e.dirty = keep;
                    keep
                })
        });
        if self.timers.len() > 4 * self.entries.len().max(64) {
            self.rebuild_timers();
        }
        // Stale items off the top, so `next_deadline` is exact.
        while let Some(&Reverse((at, i))) = self.timers.peek() {
            let live = self
                .entries
                .get(i)
                .and_then(Option::as_ref)
                .is_some_and(|e| e.scheduled == Some(at));
            if live {
                break;
            }
            self.timers.pop();
        }
        // Bounded like the table: entries recycled or closed are skipped
        // when met, and dropped here once they outnumber it.
        if self.time_waits.len() > 2 * self.cfg.max_connections.max(64) {
            let entries = &self.entries;
            self.time_waits.retain(|&(i, g)| {
                entries
                    .get(i)
                    .and_then(Option::as_ref)
                    .is_some_and(|e| e.generation == g && e.tcb.state() == State::TimeWait)
            });
        }
    }

    fn rebuild_timers(&mut self) {
        self.timers.clear();
        for (i, e) in self.entries.iter_mut().enumerate() {
            let Some(e) = e.as_mut() else { continue };
            e.scheduled = e.tcb.poll_at();
            if let Some(t) = e.scheduled {
                self.timers.push(Reverse((t, i)));
            }
        }
    }

    /// The earliest deadline of any connection not touched since the last
    /// poll.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((t, _))| *t)
    }

    /// With the table full: frees the oldest connection in TIME-WAIT, if
    /// any, to make room. Returns true if one was freed.
    pub(super) fn recycle_time_wait(&mut self) -> bool {
        while let Some((i, g)) = self.time_waits.pop_front() {
            let Some(e) = self.entries.get(i).and_then(Option::as_ref) else {
                continue;
            };
            if e.generation != g || e.tcb.state() != State::TimeWait || !e.orphaned {
                continue;
            }
            let key = (e.tcb.remote(), e.tcb.local().port());
            self.stats.tcp_retransmits += e.tcb.stats().retransmits;
            self.conns.remove(&key);
            self.entries[i] = None;
            self.free.push(i);
            self.stats.tcp_time_wait_recycled += 1;
            return true;
        }
        false
    }
}
