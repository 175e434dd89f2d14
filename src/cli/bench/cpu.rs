//! CPU time of a process, read from Linux's `/proc`: what `juesuan bench submit` reports a call costs the client
//! and, when the server runs on the same machine, the server. From these a run states how many calls a second the
//! machine's cores could serve at that cost, which says whether a throughput target is within its reach at all.

use std::time::Duration;

/// CPU time a process has used (every thread of it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTime {
    pub user: Duration,
    pub system: Duration,
}

/// proc(5) gives the times in clock ticks of `sysconf(_SC_CLK_TCK)`, which Linux fixes for user space at
/// `USER_HZ`, 100 on every architecture it runs on.
const TICKS_PER_SECOND: u64 = 100;

impl CpuTime {
    /// This process's CPU time; `None` where there is no `/proc` (not Linux).
    pub fn of_self() -> Option<CpuTime> {
        Self::read("/proc/self/stat")
    }

    /// Another process's CPU time; `None` when it does not exist (or there is no `/proc`).
    pub fn of_process(pid: u32) -> Option<CpuTime> {
        Self::read(&format!("/proc/{pid}/stat"))
    }

    fn read(path: &str) -> Option<CpuTime> {
        Self::parse(&std::fs::read_to_string(path).ok()?)
    }

    /// The times from the text of `/proc/<pid>/stat`. The command name (field 2) is in parentheses and may hold
    /// spaces and parentheses itself, so the fields are counted from the last ')'.
    fn parse(stat: &str) -> Option<CpuTime> {
        let after_name = &stat[stat.rfind(')')? + 1..];
        // Field 3 (the state) is the first after the name; utime and stime are fields 14 and 15.
        let mut fields = after_name.split_whitespace().skip(11);
        let ticks = |field: Option<&str>| -> Option<Duration> {
            let ticks: u64 = field?.parse().ok()?;
            Some(Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND))
        };
        Some(CpuTime {
            user: ticks(fields.next())?,
            system: ticks(fields.next())?,
        })
    }

    pub fn total(self) -> Duration {
        self.user + self.system
    }

    /// The time used since `earlier`.
    pub fn since(self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }

    /// The time a call, over `calls` calls; `None` when there were none.
    pub fn per_call(self, calls: usize) -> Option<CpuTime> {
        let calls = u32::try_from(calls).ok().filter(|&n| n > 0)?;
        Some(CpuTime {
            user: self.user / calls,
            system: self.system / calls,
        })
    }
}

/// The calls a second that `cores` could serve if each call took `cost` of CPU time and nothing else ran.
pub fn calls_per_second_allowed(cores: usize, cost: Duration) -> Option<f64> {
    (!cost.is_zero()).then(|| cores as f64 / cost.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_times_are_read_after_the_command_name_whatever_it_holds() {
        let stat = "4242 (tokio rt) (x)) S 1 4242 4242 0 -1 4194560 5123 0 0 0 1226 257 0 0 20 0 9 0 \
                    123456 1000000 2000 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(
            CpuTime::parse(stat),
            Some(CpuTime {
                user: Duration::from_millis(12_260),
                system: Duration::from_millis(2_570),
            })
        );
        assert_eq!(CpuTime::parse("4242 (cut short) S 1 2"), None);
        assert_eq!(CpuTime::parse("no name at all"), None);
    }

    #[test]
    fn this_process_uses_time_as_it_works() {
        let before = CpuTime::of_self().expect("Linux has /proc");
        // Work until at least two clock ticks of CPU time have passed.
        let mut x = 0u64;
        while CpuTime::of_self().unwrap().since(before).total() < Duration::from_millis(20) {
            for i in 0..100_000u64 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
            }
        }
        assert_ne!(x, 1);
        let used = CpuTime::of_self().unwrap().since(before);
        assert!(used.total() >= Duration::from_millis(20), "{used:?}");
        assert_eq!(
            CpuTime::of_process(std::process::id())
                .map(|now| now.since(before).total() >= used.total()),
            Some(true)
        );
    }

    #[test]
    fn the_calls_allowed_are_the_cores_over_the_cost() {
        let cost = CpuTime {
            user: Duration::from_micros(900),
            system: Duration::from_micros(100),
        }
        .total();
        assert_eq!(calls_per_second_allowed(2, cost), Some(2000.0));
        assert_eq!(calls_per_second_allowed(2, Duration::ZERO), None);
        assert_eq!(
            CpuTime {
                user: Duration::from_secs(3),
                system: Duration::from_secs(1),
            }
            .per_call(4)
            .map(CpuTime::total),
            Some(Duration::from_secs(1))
        );
        assert_eq!(CpuTime::default().per_call(0), None);
    }
}
