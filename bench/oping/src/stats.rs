//! The oping client's bookkeeping and the summary it prints at the end.
//!
//! ```text
//! --- oping ping statistics ---
//! 10 packets transmitted, 9 received, 1 out-of-order, 10% packet loss, time: 9001.250 ms
//! rtt min/avg/max/mdev = 0.021/0.034/0.090/0.020 ms
//! rtt p50/p99 = 0.029/0.090 ms
//! ```
//!
//! | figure | how it is counted |
//! |---|---|
//! | transmitted | requests sent |
//! | received | replies with an id that was sent and not answered before |
//! | duplicates | replies to an id already answered; shown as `+N duplicates` only when there are some |
//! | out-of-order | received replies whose id is below the highest id answered so far |
//! | packet loss | `ceil(100 × (transmitted − received) / transmitted)` %, an integer, as the C tool prints it |
//! | time | from the start of the run to its end, set by the caller |
//! | min/avg/max/mdev | over the received replies; mdev is the sample standard deviation `sqrt(M2 / (n − 1))` kept with Welford's update, exactly as the C tool computes it (`NaN` for a single reply) |
//! | p50/p99 | from an HDR histogram of the RTTs in nanoseconds, 3 significant digits (the middle of the bucket, within min–max) |
//!
//! Differences from the C tool, all deliberate:
//! * The C client counts every reply as received, so a duplicated reply
//!   hides a lost one (and can push the loss below 0 %); here duplicates
//!   are counted apart and do not add to the RTT figures.
//! * The C summary switches to µs when the average is below 0.1 ms; here
//!   every time is in ms with three decimals, so the lines parse the same
//!   way at any speed (resolution 1 µs; the percentiles keep nanoseconds
//!   through [`Stats::rtt`]).
//! * The p50/p99 line is new.
//!
//! Duplicates are detected in a window of the 65 536 ids below the highest
//! id answered; a reply older than that is counted as received and out of
//! order (it cannot be told from a duplicate). Memory stays at 8 KiB
//! however long the run.

use core::fmt;
use core::time::Duration;

use hdrhistogram::Histogram;

/// How a reply counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplyKind {
    /// The first reply to its id, and no higher id was answered before.
    InOrder,
    /// The first reply to its id, but a higher id was answered before.
    OutOfOrder,
    /// Its id was answered before; not counted as received.
    Duplicate,
}

/// A reply to an id that was never sent (the C client's "Invalid id.").
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("reply to id {id}, but only ids below {transmitted} were sent")]
pub struct UnknownId {
    /// The id in the reply.
    pub id: u32,
    /// Requests sent so far.
    pub transmitted: u64,
}

/// The RTT figures of a run, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RttSummary {
    /// Smallest RTT.
    pub min: f64,
    /// Mean RTT.
    pub avg: f64,
    /// Largest RTT.
    pub max: f64,
    /// Sample standard deviation; `None` with a single reply (the C tool prints `NaN`).
    pub mdev: Option<f64>,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// What the client counts during a run.
#[derive(Debug, Clone)]
pub struct Stats {
    name: String,
    transmitted: u64,
    received: u64,
    out_of_order: u64,
    duplicates: u64,
    unknown: u64,
    elapsed: Duration,
    seen: SeenWindow,
    welford: Welford,
    histogram: Histogram<u64>,
    /// Exact smallest and largest RTT in ns (the histogram's are bucket edges).
    extremes: (u64, u64),
}

impl Stats {
    /// Empty statistics for a run against the server `name`.
    pub fn new(name: impl Into<String>) -> Stats {
        Stats {
            name: name.into(),
            transmitted: 0,
            received: 0,
            out_of_order: 0,
            duplicates: 0,
            unknown: 0,
            elapsed: Duration::ZERO,
            seen: SeenWindow::new(),
            welford: Welford::default(),
            // Three significant digits, auto-resizing: cannot refuse a value.
            histogram: Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant digits are valid")),
            extremes: (u64::MAX, 0),
        }
    }

    /// Counts one request sent; requests carry the ids 0, 1, 2, … in order.
    pub fn record_transmit(&mut self) {
        self.transmitted += 1;
    }

    /// Counts a reply to `id` that took `rtt`, and says how it counted.
    pub fn record_reply(&mut self, id: u32, rtt: Duration) -> Result<ReplyKind, UnknownId> {
        if u64::from(id) >= self.transmitted {
            self.unknown += 1;
            return Err(UnknownId {
                id,
                transmitted: self.transmitted,
            });
        }
        let kind = match self.seen.insert(id) {
            Seen::New { highest: true } => ReplyKind::InOrder,
            Seen::New { highest: false } | Seen::TooOld => ReplyKind::OutOfOrder,
            Seen::Again => ReplyKind::Duplicate,
        };
        match kind {
            ReplyKind::Duplicate => self.duplicates += 1,
            ReplyKind::OutOfOrder | ReplyKind::InOrder => {
                self.received += 1;
                if kind == ReplyKind::OutOfOrder {
                    self.out_of_order += 1;
                }
                self.welford.add(millis(rtt));
                let nanos = u64::try_from(rtt.as_nanos()).unwrap_or(u64::MAX);
                // The histogram resizes to any value; `saturating_record`
                // would clamp to its initial (tiny) range instead.
                let _ = self.histogram.record(nanos);
                self.extremes = (self.extremes.0.min(nanos), self.extremes.1.max(nanos));
            }
        }
        Ok(kind)
    }

    /// Sets the run's total time, shown on the summary's second line.
    pub fn set_elapsed(&mut self, elapsed: Duration) {
        self.elapsed = elapsed;
    }

    /// The server name the summary is headed with.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Requests sent.
    pub fn transmitted(&self) -> u64 {
        self.transmitted
    }

    /// Distinct ids answered.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Received replies whose id was below the highest id answered before.
    pub fn out_of_order(&self) -> u64 {
        self.out_of_order
    }

    /// Replies to an id already answered.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Replies to ids that were never sent; not in any other figure.
    pub fn unknown_ids(&self) -> u64 {
        self.unknown
    }

    /// The run's total time.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Requests that got no reply.
    pub fn lost(&self) -> u64 {
        self.transmitted.saturating_sub(self.received)
    }

    /// Loss as the C tool prints it: a whole percentage, rounded up, so
    /// that any loss at all shows as at least 1 %. 0 when nothing was sent.
    pub fn loss_percent(&self) -> u64 {
        if self.transmitted == 0 {
            0
        } else {
            (self.lost() * 100).div_ceil(self.transmitted)
        }
    }

    /// The RTT at `quantile` (0.0–1.0) from the histogram, exact to three
    /// significant digits; `None` before the first reply.
    pub fn rtt(&self, quantile: f64) -> Option<Duration> {
        (self.received > 0).then(|| Duration::from_nanos(self.quantile_nanos(quantile)))
    }

    /// The middle of the histogram bucket holding `quantile`, kept within
    /// the smallest and largest sample: a bucket's top value can lie just
    /// above the largest sample, and a p99 above max would read as a
    /// contradiction.
    fn quantile_nanos(&self, quantile: f64) -> u64 {
        let h = &self.histogram;
        let (min, max) = self.extremes;
        h.median_equivalent(h.value_at_quantile(quantile)).clamp(min, max)
    }

    /// The RTT figures; `None` before the first reply (the C tool then
    /// prints no rtt line).
    pub fn rtt_summary(&self) -> Option<RttSummary> {
        let w = &self.welford;
        if w.n == 0 {
            return None;
        }
        let quantile = |q: f64| self.quantile_nanos(q) as f64 / 1e6;
        Some(RttSummary {
            min: self.extremes.0 as f64 / 1e6,
            avg: w.mean,
            max: self.extremes.1 as f64 / 1e6,
            mdev: (w.n > 1).then(|| (w.m2 / (w.n - 1) as f64).sqrt()),
            p50: quantile(0.5),
            p99: quantile(0.99),
        })
    }
}

impl fmt::Display for Stats {
    /// The summary lines, each ended by a newline. The C tool prints an
    /// empty line before them; that is the caller's choice here.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "--- {} ping statistics ---", self.name)?;
        write!(
            f,
            "{} packets transmitted, {} received, ",
            self.transmitted, self.received
        )?;
        if self.duplicates > 0 {
            write!(f, "+{} duplicates, ", self.duplicates)?;
        }
        writeln!(
            f,
            "{} out-of-order, {}% packet loss, time: {:.3} ms",
            self.out_of_order,
            self.loss_percent(),
            millis(self.elapsed)
        )?;
        if let Some(rtt) = self.rtt_summary() {
            write!(
                f,
                "rtt min/avg/max/mdev = {:.3}/{:.3}/{:.3}/",
                rtt.min, rtt.avg, rtt.max
            )?;
            match rtt.mdev {
                Some(mdev) => writeln!(f, "{mdev:.3} ms")?,
                None => writeln!(f, "NaN ms")?,
            }
            writeln!(f, "rtt p50/p99 = {:.3}/{:.3} ms", rtt.p50, rtt.p99)?;
        }
        Ok(())
    }
}

fn millis(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1e6
}

/// Running mean and sum of squared deviations (Welford), the C tool's
/// `rtt_avg` and `rtt_m2`, in ms.
#[derive(Debug, Clone, Copy, Default)]
struct Welford {
    n: u64,
    mean: f64,
    m2: f64,
}

impl Welford {
    fn add(&mut self, ms: f64) {
        self.n += 1;
        let d = ms - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (ms - self.mean);
    }
}

/// Ids answered, over the last [`SeenWindow::SPAN`] ids below the highest.
#[derive(Debug, Clone)]
struct SeenWindow {
    highest: Option<u32>,
    /// Bit `id % SPAN` is set when `id` (within the window) was answered.
    bits: Box<[u64]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// First time; `highest` when no higher id was seen before.
    New { highest: bool },
    /// Seen before.
    Again,
    /// Below the window: cannot tell.
    TooOld,
}

impl SeenWindow {
    const SPAN: u32 = 1 << 16;

    fn new() -> SeenWindow {
        SeenWindow {
            highest: None,
            bits: vec![0; (Self::SPAN / 64) as usize].into_boxed_slice(),
        }
    }

    fn slot(id: u32) -> (usize, u64) {
        let bit = id % Self::SPAN;
        ((bit / 64) as usize, 1 << (bit % 64))
    }

    fn insert(&mut self, id: u32) -> Seen {
        match self.highest {
            Some(highest) if id <= highest => {
                if highest - id >= Self::SPAN {
                    return Seen::TooOld;
                }
                let (word, mask) = Self::slot(id);
                if self.bits[word] & mask != 0 {
                    Seen::Again
                } else {
                    self.bits[word] |= mask;
                    Seen::New { highest: false }
                }
            }
            _ => {
                // The window slides up to `id`: the slots of the ids that
                // leave it are reused by the ids that enter, which have not
                // been seen yet.
                let entering = self.highest.map_or(Self::SPAN, |h| (id - h).min(Self::SPAN));
                if entering >= Self::SPAN {
                    self.bits.fill(0);
                } else {
                    for step in 1..=entering {
                        let (word, mask) = Self::slot(id - entering + step);
                        self.bits[word] &= !mask;
                    }
                }
                let (word, mask) = Self::slot(id);
                self.bits[word] |= mask;
                self.highest = Some(id);
                Seen::New { highest: true }
            }
        }
    }
}
