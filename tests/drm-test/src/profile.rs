// SPDX-License-Identifier: GPL-2.0

//! `bench --profile <operation>` (`make profile`): ftrace's function profiler
//! (`CONFIG_FUNCTION_PROFILER`) on while that operation's rounds run, and only then. The
//! kernel's `trace_stat/function<cpu>` files then hold, per C function, its calls and its time
//! with its callees (the Rust code is not instrumented: its C callees are), which the scenario
//! saves and `scripts/profile-report.py` puts side by side for both drivers.
//!
//! Turning the profiler on resets its counts, so one measurement is profiled as a whole: both
//! operations of a pair (create and destroy) together.

use crate::{describe, Res};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::OnceLock;

const TRACING: &str = "/sys/kernel/tracing";

/// The operation to profile, if any.
static TARGET: OnceLock<String> = OnceLock::new();

/// Whether the profile counts the time functions slept (`--profile-sleep`): then a function's
/// time is how long it took, waits included, e.g. a commit's for the host.
static WITH_SLEEP: AtomicBool = AtomicBool::new(false);

/// Whether the operation to profile ran.
static PROFILED: AtomicBool = AtomicBool::new(false);

/// Profiles the operation `name` from now on (once), with the time functions slept if
/// `with_sleep`.
pub fn set_target(name: String, with_sleep: bool) -> Res<()> {
    WITH_SLEEP.store(with_sleep, Relaxed);
    TARGET
        .set(name)
        .map_err(|_| "only one operation can be profiled".into())
}

/// Whether any of `names` is the operation to profile.
fn wanted(names: &[&str]) -> bool {
    TARGET.get().is_some_and(|t| names.contains(&t.as_str()))
}

fn write(file: &str, value: &str) -> Res<()> {
    let path = format!("{TRACING}/{file}");
    std::fs::write(&path, value)
        .map_err(|e| format!("writing {value} to {path}: {}", describe(&e)).into())
}

/// Runs `measurement` of the operations `names`, `ops` of each, under the profiler if one of
/// them is the operation to profile; says so with a `profile:` line.
pub fn around<T>(names: &[&str], ops: u64, measurement: impl FnOnce() -> Res<T>) -> Res<T> {
    if !wanted(names) {
        return measurement();
    }
    // Time with the callees; without the time a function slept (idle under -icount) unless
    // asked for.
    write("options/graph-time", "1")?;
    let sleep = if WITH_SLEEP.load(Relaxed) { "1" } else { "0" };
    write("options/sleep-time", sleep)?;
    write("function_profile_enabled", "1")?;
    let result = measurement();
    write("function_profile_enabled", "0")?;
    PROFILED.store(true, Relaxed);
    let sleep = if WITH_SLEEP.load(Relaxed) {
        " with-sleep"
    } else {
        ""
    };
    println!("profile: {}{sleep} operations {ops}", names.join(" "));
    result
}

/// An error if an operation to profile was named and did not run (a misspelt name).
pub fn check_profiled() -> Res<()> {
    match TARGET.get() {
        Some(name) if !PROFILED.load(Relaxed) => {
            Err(format!("--profile {name}: no such operation was measured").into())
        }
        _ => Ok(()),
    }
}
