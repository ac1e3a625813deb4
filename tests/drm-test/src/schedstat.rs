// SPDX-License-Identifier: GPL-2.0

//! The busy time of the guest's CPUs: how long tasks other than the idle task ran, summed over
//! every CPU (`/proc/schedstat`, `CONFIG_SCHEDSTATS`).
//!
//! Under QEMU's `-icount shift=0,sleep=off` a guest nanosecond is one guest instruction while a
//! CPU runs, and the clock jumps over the time every CPU idles (a vblank wait, a host's answer):
//! busy time counts the instructions an operation costs wherever they run (this program, the
//! commit worker, the driver's dequeue work), not the waits, which elapsed time would count.
//!
//! The scheduler adds a task's run time when the task leaves the CPU, so the running reader's
//! own time since it last got the CPU is not in the sum yet: [`busy_ns`] sleeps first, which
//! accounts for it and gives the CPU back before reading.

use crate::{Context, Res};
use std::thread;
use std::time::Duration;

/// The format of `/proc/schedstat` whose CPU lines carry the run time as their seventh value
/// (versions 15 to 17).
const VERSIONS: std::ops::RangeInclusive<u32> = 15..=17;

/// Nanoseconds every CPU has spent running tasks other than its idle task, from boot.
pub fn busy_ns() -> Res<u64> {
    // Any sleep makes this thread leave the CPU, which adds its run time so far.
    thread::sleep(Duration::from_micros(1));
    let text = std::fs::read_to_string("/proc/schedstat")
        .ctx("reading /proc/schedstat (CONFIG_SCHEDSTATS)")?;
    parse(&text)
}

/// The sum of the run times of the `cpuN` lines of `/proc/schedstat` text.
fn parse(text: &str) -> Res<u64> {
    let mut version = None;
    let mut total = 0u64;
    let mut cpus = 0;
    for line in text.lines() {
        let mut fields = line.split_ascii_whitespace();
        match fields.next() {
            Some("version") => version = fields.next().and_then(|v| v.parse::<u32>().ok()),
            Some(name) if name.starts_with("cpu") => {
                let ns: u64 = fields
                    .nth(6)
                    .and_then(|v| v.parse().ok())
                    .ok_or(format!("/proc/schedstat: no run time in '{line}'"))?;
                total = total
                    .checked_add(ns)
                    .ok_or("/proc/schedstat: run times overflow")?;
                cpus += 1;
            }
            _ => {}
        }
    }
    match version {
        Some(v) if VERSIONS.contains(&v) => {}
        Some(v) => {
            return Err(format!("/proc/schedstat version {v}, expected {VERSIONS:?}").into())
        }
        None => return Err("/proc/schedstat without a version line".into()),
    }
    if cpus == 0 {
        return Err("/proc/schedstat lists no CPU".into());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::parse;

    const SAMPLE: &str = "version 17\n\
        timestamp 4294968000\n\
        cpu0 0 0 812 301 420 210 1500000000 20000 511\n\
        domain0 MC 03 1 2 3 4 5 6 7 8 9 10\n\
        cpu1 0 0 90 40 60 30 250000000 1000 50\n\
        domain0 MC 03 1 2 3 4 5 6 7 8 9 10\n";

    #[test]
    fn run_times_of_every_cpu_add_up() {
        assert_eq!(parse(SAMPLE).unwrap(), 1_750_000_000);
    }

    #[test]
    fn other_formats_are_refused() {
        assert!(parse(&SAMPLE.replace("version 17", "version 14")).is_err());
        assert!(parse(&SAMPLE.replace("version 17\n", "")).is_err());
        assert!(parse("version 17\ntimestamp 1\n").is_err());
        assert!(parse("version 17\ncpu0 1 2 3\n").is_err());
    }
}
