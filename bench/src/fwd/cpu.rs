//! CPU used per core over a measurement window, from `/proc/stat` deltas.
//!
//! ```text
//!  cpuN  user nice system idle iowait irq softirq steal ...   (USER_HZ ticks)
//!  busy = user + nice + system + irq + softirq
//!  total = busy + idle + iowait + steal
//! ```
//!
//! `/proc/stat` is global (not per network namespace), so the figures are
//! the whole machine's: on a shared machine other work shows up too. To
//! say which thread used a core, [`thread_ticks`] reads one thread's own
//! counters (`/proc/<pid>/task/<tid>/stat`, same tick unit).

use std::io;

/// The tick counters of every CPU at one moment, indexed by CPU number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuTimes(Vec<Option<Ticks>>);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Ticks {
    busy: u64,
    total: u64,
}

impl CpuTimes {
    /// Reads `/proc/stat`.
    pub fn sample() -> io::Result<CpuTimes> {
        Ok(CpuTimes::parse(&std::fs::read_to_string("/proc/stat")?))
    }

    fn parse(text: &str) -> CpuTimes {
        let mut cpus = Vec::new();
        for line in text.lines() {
            let mut words = line.split_whitespace();
            let Some(id) = words
                .next()
                .and_then(|w| w.strip_prefix("cpu"))
                .and_then(|n| n.parse::<usize>().ok())
            else {
                continue;
            };
            let v: Vec<u64> = words.map(|w| w.parse().unwrap_or(0)).collect();
            let at = |i: usize| v.get(i).copied().unwrap_or(0);
            let (user, nice, system, idle, iowait, irq, softirq, steal) =
                (at(0), at(1), at(2), at(3), at(4), at(5), at(6), at(7));
            let busy = user + nice + system + irq + softirq;
            if cpus.len() <= id {
                cpus.resize(id + 1, None);
            }
            cpus[id] = Some(Ticks {
                busy,
                total: busy + idle + iowait + steal,
            });
        }
        CpuTimes(cpus)
    }

    /// The share of `cpu`'s time that was busy between `self` (earlier) and
    /// `later`, 0.0..=1.0; `None` if the CPU is unknown or no tick passed.
    pub fn busy_until(&self, later: &CpuTimes, cpu: usize) -> Option<f64> {
        let a = self.0.get(cpu).copied().flatten()?;
        let b = later.0.get(cpu).copied().flatten()?;
        let total = b.total.checked_sub(a.total).filter(|t| *t > 0)?;
        let busy = b.busy.saturating_sub(a.busy);
        Some((busy as f64 / total as f64).min(1.0))
    }
}

/// User + system ticks a thread has used, from its `stat` file (a kernel
/// thread's is `/proc/<pid>/stat`); `None` if it is gone.
pub fn thread_ticks(stat_path: &str) -> Option<u64> {
    parse_thread_ticks(&std::fs::read_to_string(stat_path).ok()?)
}

fn parse_thread_ticks(stat: &str) -> Option<u64> {
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so
    // count fields from the last ')'; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// The `stat` file of this process's thread named `name`, if there is one.
pub fn own_thread(name: &str) -> Option<String> {
    std::fs::read_dir("/proc/self/task").ok()?.find_map(|e| {
        let tid = e.ok()?.file_name().to_str()?.to_owned();
        let comm = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm")).ok()?;
        (comm.trim_end() == name).then(|| format!("/proc/self/task/{tid}/stat"))
    })
}

impl CpuTimes {
    /// Ticks that passed on `cpu` between `self` and `later` (busy or not).
    pub fn ticks_until(&self, later: &CpuTimes, cpu: usize) -> Option<u64> {
        let a = self.0.get(cpu).copied().flatten()?;
        let b = later.0.get(cpu).copied().flatten()?;
        b.total.checked_sub(a.total).filter(|t| *t > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "cpu  100 0 50 1000 0 0 0 0 0 0\n\
                          cpu0 10 0 10 500 0 0 0 0 0 0\n\
                          cpu1 90 0 40 500 0 0 0 0 0 0\n\
                          intr 12345\n";
    const AFTER: &str = "cpu  300 0 150 1000 0 0 0 0 0 0\n\
                         cpu0 30 5 10 570 0 0 0 0 0 0\n\
                         cpu1 90 0 40 500 10 20 70 0 0 0\n";

    #[test]
    fn busy_share_counts_user_nice_system_irq_softirq_against_all_ticks() {
        let (a, b) = (CpuTimes::parse(BEFORE), CpuTimes::parse(AFTER));
        // cpu0: busy 25 of 95 ticks.
        assert!((a.busy_until(&b, 0).unwrap() - 25.0 / 95.0).abs() < 1e-9);
        // cpu1: irq + softirq 90 busy, iowait 10 idle: 90 of 100.
        assert!((a.busy_until(&b, 1).unwrap() - 0.9).abs() < 1e-9);
        assert_eq!(a.busy_until(&b, 2), None, "no such CPU");
        assert_eq!(a.busy_until(&a, 0), None, "no tick passed");
        assert_eq!(a.ticks_until(&b, 0), Some(95));
    }

    #[test]
    fn thread_ticks_are_utime_plus_stime_whatever_the_name() {
        let stat = "4242 (o7s worker) 0) R 1 2 3 4 5 6 7 8 9 10 250 70 0 0 20 0 1 0 100 0 0";
        assert_eq!(parse_thread_ticks(stat), Some(320));
        assert_eq!(parse_thread_ticks("4242 (x) R 1"), None);
        assert!(thread_ticks("/proc/self/stat").is_some());
    }
}
