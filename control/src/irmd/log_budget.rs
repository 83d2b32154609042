//! Rate limits for log lines that peers can provoke (malformed messages,
//! refused connections, slow readers dropped): a flood must not turn into
//! a flood of log lines. Sans IO: time is passed in.

use std::time::{Duration, Instant};

/// At most `per_window` lines per `window` for one kind of complaint; the
/// first line after a window in which lines were held back says how many.
#[derive(Debug, Clone)]
pub struct LogBudget {
    per_window: u32,
    window: Duration,
    started: Option<Instant>,
    used: u32,
    held_back: u64,
}

impl LogBudget {
    /// `per_window` lines per `window`.
    pub const fn new(per_window: u32, window: Duration) -> LogBudget {
        LogBudget {
            per_window,
            window,
            started: None,
            used: 0,
            held_back: 0,
        }
    }

    /// Ten lines a second: what irmd allows each kind of complaint.
    pub const fn per_second() -> LogBudget {
        LogBudget::new(10, Duration::from_secs(1))
    }

    /// Whether a line may be written at `now`: `Some(n)` with the number
    /// of lines held back since the last one written (write it into the
    /// line), `None` to hold this one back.
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        let fresh = self
            .started
            .is_none_or(|s| now.saturating_duration_since(s) >= self.window);
        if fresh {
            self.started = Some(now);
            self.used = 0;
        }
        if self.used < self.per_window {
            self.used += 1;
            Some(std::mem::take(&mut self.held_back))
        } else {
            self.held_back += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_is_cut_to_the_budget_and_the_next_line_counts_what_was_held_back() {
        let t = Instant::now();
        let mut b = LogBudget::new(3, Duration::from_secs(1));
        let got: Vec<_> = (0..10).map(|i| b.allow(t + Duration::from_millis(i))).collect();
        assert_eq!(got[..3], [Some(0), Some(0), Some(0)]);
        assert!(got[3..].iter().all(Option::is_none));
        assert_eq!(b.allow(t + Duration::from_millis(999)), None);
        assert_eq!(b.allow(t + Duration::from_secs(1)), Some(8));
        assert_eq!(b.allow(t + Duration::from_millis(1001)), Some(0));
    }
}
