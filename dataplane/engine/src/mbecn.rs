//! Multi-bit ECN congestion avoidance at a flow's ends (PROTOCOL.md §9),
//! sans IO: per-flow state the workers keep, packets and nanoseconds in,
//! updates to send and pacing out. The marking itself (ECN |= queue depth
//! >> 4 at every hop) is in [`forward`](crate::forward).
//!
//! ```text
//!  receiver: ECN of each DT packet ─► Receiver::on_packet ─► Some(level): send FLOW_UPDATE {ece: level}
//!  sender:   FLOW_UPDATE ─► Sender::on_update(ece)
//!            each SDU ─► Sender::on_send(now, len) ─► ns to wait before the next (0: none)
//! ```
//!
//! | receiver: ECN in | level before | level after | update sent |
//! |---|---|---|---|
//! | 0 | 0 | 0 | no |
//! | 0 | > 0 | level / 4 | when it reaches 0 |
//! | > 0 | 0 | ECN (counter reset) | yes |
//! | > 0 | > 0 | level − level/32 + ECN | every 8th packet (counter ≡ 1 mod 8 before it counts) |
//!
//! The sender budgets octets per time slot: 2^24 ns and 64 KiB at first,
//! the budget doubled each slot that used it up while in slow start; after
//! the first update, cut by level/8192 while congested and grown to what
//! the last slot sent + 64 KiB otherwise; the slot length halves or
//! doubles so that a slot holds 8 to 64 packets. A level is forgotten 32
//! packets after its update. Only the FLOW_UPDATE crosses the wire, so a
//! peer that ignores or never sends updates still interoperates.

/// Packets a congestion level is averaged over, and remembered for.
const WINDOW: u64 = 32;
/// An update every this many packets while congested.
const UPDATE_EVERY: u64 = 8;
/// Initial slot: 2^24 ns (~16.8 ms).
const FIRST_SLOT_SHIFT: u32 = 24;
/// Shortest slot the scaling goes to: 2^10 ns.
const MIN_SLOT_SHIFT: u32 = 10;
/// Longest: 2^34 ns (~17 s).
const MAX_SLOT_SHIFT: u32 = 34;
/// Initial budget and additive increase per slot, octets.
const FIRST_BUDGET: u64 = 1 << 16;
const INCREASE: u64 = 1 << 16;
/// Packets per slot the scaling keeps to.
const MIN_PER_SLOT: u64 = 8;
const MAX_PER_SLOT: u64 = 64;

/// The receiving end of a flow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Receiver {
    level: u16,
    counter: u64,
}

impl Receiver {
    /// The congestion level now.
    pub fn level(&self) -> u16 {
        self.level
    }

    /// A packet arrived marked `ecn`: the level to send back in a
    /// FLOW_UPDATE, when one is due.
    pub fn on_packet(&mut self, ecn: u8) -> Option<u16> {
        match (ecn, self.level) {
            (0, 0) => None,
            (0, level) => {
                self.level = level >> 2;
                (self.level == 0).then_some(0)
            }
            (ecn, 0) => {
                self.level = u16::from(ecn);
                self.counter = 0;
                Some(self.level)
            }
            (ecn, level) => {
                self.level = (level - level / WINDOW as u16).saturating_add(u16::from(ecn));
                let before = self.counter;
                self.counter += 1;
                (before % UPDATE_EVERY == 1).then_some(self.level)
            }
        }
    }
}

/// The sending end of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sender {
    /// The peer's last congestion level, 0 once forgotten.
    level: u16,
    /// Packets since that update.
    since_update: u64,
    /// Octets and packets in the current slot.
    slot_octets: u64,
    slot_packets: u64,
    /// Octets a slot may carry.
    budget: u64,
    /// Out of slow start (an update came).
    avoiding: bool,
    /// A slot is 2^shift ns.
    shift: u32,
    increase: u64,
    /// The current slot's number: time >> shift.
    slot: u64,
}

impl Sender {
    /// A flow that starts sending at `now_ns`.
    pub fn new(now_ns: u64) -> Sender {
        Sender {
            level: 0,
            since_update: 0,
            slot_octets: 0,
            slot_packets: 0,
            budget: FIRST_BUDGET,
            avoiding: false,
            shift: FIRST_SLOT_SHIFT,
            increase: INCREASE,
            slot: now_ns >> FIRST_SLOT_SHIFT,
        }
    }

    /// Octets a slot may carry now.
    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// A slot's length in ns.
    pub fn slot_ns(&self) -> u64 {
        1 << self.shift
    }

    /// Whether an update took the flow out of slow start.
    pub fn avoiding(&self) -> bool {
        self.avoiding
    }

    /// The peer reported congestion `level` (a FLOW_UPDATE).
    pub fn on_update(&mut self, level: u16) {
        self.level = level;
        self.since_update = 0;
        self.avoiding = true;
    }

    /// An SDU of `len` octets leaves at `now_ns`: how long the sender
    /// should wait before the next (0: at once).
    pub fn on_send(&mut self, now_ns: u64, len: usize) -> u64 {
        let slot = now_ns >> self.shift;
        self.since_update += 1;
        self.slot_packets += 1;
        self.slot_octets += len as u64;
        if self.since_update > WINDOW {
            self.level = 0;
        }
        if slot > self.slot {
            self.next_slot(slot);
        }
        if self.slot_octets > self.budget {
            ((self.slot + 1) << self.shift).saturating_sub(now_ns)
        } else {
            0
        }
    }

    /// A new slot began: the budget follows the last one's use and the
    /// congestion; the slot length follows its packet count.
    fn next_slot(&mut self, slot: u64) {
        self.slot = slot;
        if !self.avoiding {
            if self.slot_octets > self.budget {
                self.budget <<= 1;
            }
        } else if self.level > 0 {
            // Cut by level / 8192.
            self.budget -= (self.budget * u64::from(self.level)) >> 13;
        } else {
            self.budget = self.slot_octets + self.increase;
        }
        let mut carry = false;
        if self.slot_packets < MIN_PER_SLOT && self.shift < MAX_SLOT_SHIFT {
            // Longer slots: doubled until they would have held 8 packets.
            let mut factor = 0;
            let mut packets = self.slot_packets.max(1);
            while packets < MIN_PER_SLOT && self.shift + factor < MAX_SLOT_SHIFT {
                packets <<= 1;
                factor += 1;
            }
            self.shift += factor;
            let low = self.slot & ((1 << factor) - 1);
            self.slot >>= factor;
            if low == 0 {
                // The new, longer slot has begun within this one: what was
                // counted stays in it.
                carry = true;
                self.slot += 1;
            }
            self.budget <<= factor;
            self.increase <<= factor;
        } else if self.slot_packets > MAX_PER_SLOT && self.shift > MIN_SLOT_SHIFT {
            let mut factor = 0;
            let mut packets = self.slot_packets;
            while packets > MAX_PER_SLOT && self.shift - factor > MIN_SLOT_SHIFT {
                packets >>= 1;
                factor += 1;
            }
            self.shift -= factor;
            self.slot <<= factor;
            self.budget = (self.budget >> factor).max(1);
            self.increase = (self.increase >> factor).max(1);
        }
        if !carry {
            self.slot_octets = 0;
            self.slot_packets = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_receiver_follows_the_table() {
        let mut r = Receiver::default();
        assert_eq!(r.on_packet(0), None, "no congestion, nothing");
        assert_eq!(r.on_packet(64), Some(64), "start: at once");
        // Counter 0 then 1: the second congested packet updates, and every
        // 8th after it.
        assert_eq!(r.on_packet(64), None, "counter 0 before it counts");
        assert_eq!(r.level(), 64 - 2 + 64);
        let third = r.on_packet(64);
        assert_eq!(third, Some(126 - 3 + 64), "counter 1: an update with the average");
        let updates = (0..64).filter(|_| r.on_packet(64).is_some()).count();
        assert_eq!(updates, 8, "one in 8");
        assert!(r.level() > 64 && r.level() <= 32 * 64, "averaged: {}", r.level());
        // The end: a quarter per clean packet, one update at 0.
        let mut ends = Vec::new();
        while r.level() > 0 {
            ends.push(r.on_packet(0));
        }
        assert_eq!(ends.last(), Some(&Some(0)));
        assert!(ends[..ends.len() - 1].iter().all(Option::is_none));
        assert_eq!(r.on_packet(0), None);
    }

    #[test]
    fn a_level_converges_to_32_times_the_mark_and_never_overflows() {
        let mut r = Receiver::default();
        for _ in 0..10_000 {
            r.on_packet(255);
        }
        assert!(
            (32 * 255 - 32..=32 * 255).contains(&u32::from(r.level())),
            "{}",
            r.level()
        );
    }

    #[test]
    fn slow_start_doubles_the_budget_each_slot_that_used_it_up() {
        let t0 = 1 << 40;
        let mut s = Sender::new(t0);
        let slot = s.slot_ns();
        let mut wait = 0;
        // 60 packets of 1500 octets in the first slot: over 64 KiB, and
        // few enough that the slot keeps its length.
        for i in 0..60 {
            wait = s.on_send(t0 + i, 1500);
        }
        assert!(
            wait > 0 && wait <= slot,
            "over budget: wait for the next slot ({wait} ns)"
        );
        s.on_send(t0 + slot, 1500);
        assert_eq!(s.budget(), 2 * FIRST_BUDGET);
        assert!(!s.avoiding());
    }

    #[test]
    fn congestion_cuts_the_budget_and_its_end_grows_it_additively() {
        let t0 = 1 << 40;
        let mut s = Sender::new(t0);
        let slot = s.slot_ns();
        for i in 0..20 {
            s.on_send(t0 + i, 1000);
        }
        s.on_update(4096);
        s.on_send(t0 + slot, 1000);
        assert_eq!(s.budget(), FIRST_BUDGET - FIRST_BUDGET / 2, "level 4096: halved");
        // 32 packets later the level is forgotten: the next slot grows.
        for i in 0..40 {
            s.on_send(t0 + slot + 1 + i, 1000);
        }
        let before = s.budget();
        s.on_send(t0 + 2 * slot + 10, 1000);
        assert!(s.budget() > before, "additive increase: {} > {before}", s.budget());
    }

    #[test]
    fn slots_scale_to_hold_8_to_64_packets() {
        let t0 = 1 << 40;
        let mut s = Sender::new(t0);
        let first = s.slot_ns();
        // Two packets a slot: the slot grows to hold 8.
        s.on_send(t0, 100);
        s.on_send(t0 + first, 100);
        assert!(s.slot_ns() > first, "{} > {first}", s.slot_ns());
        // 1000 packets in a slot: it shrinks.
        let mut s = Sender::new(t0);
        for i in 0..1000 {
            s.on_send(t0 + i, 100);
        }
        s.on_send(t0 + first, 100);
        assert!(s.slot_ns() < first, "{} < {first}", s.slot_ns());
        assert!(s.budget() < FIRST_BUDGET);
    }
}
