// SPDX-License-Identifier: GPL-2.0

//! `bench --profile <operation>` (`make profile`): a profile of that operation's rounds, and
//! only of them, by one of two methods ([`Method`]):
//!
//! - ftrace's function profiler (`CONFIG_FUNCTION_PROFILER`): the kernel's
//!   `trace_stat/function<cpu>` files then hold, per C function, its calls and its time with its
//!   callees (the Rust code is not instrumented: its C callees are);
//! - QEMU's instruction counts (`tests/insn-profile`, a TCG plugin): the guest executes a marker
//!   instruction before and after the operation, and the plugin counts the instructions in
//!   between per code address, which the host puts on the guest's symbols, Rust ones included.
//!
//! The scenario saves what the method left and `scripts/profile-report.py` puts both drivers
//! side by side. Either method profiles one span: ftrace's counts start afresh when it is
//! turned on, and the report of QEMU's counts wants exactly one pair of markers. So the
//! operations of a pair (create and destroy) are profiled apart, in a pass of their own after
//! their measurement, and so is the first scanout of an import, whose measurement has untimed
//! steps between its operations.

use crate::{describe, Res};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;

const TRACING: &str = "/sys/kernel/tracing";

/// How an operation is profiled.
#[derive(Clone, Copy, Debug)]
pub enum Method {
    /// ftrace's function profiler; with the time functions slept if `with_sleep` (then a
    /// function's time is how long it took, waits included, e.g. a commit's for the host).
    Ftrace { with_sleep: bool },
    /// The instructions the guest executes, counted by QEMU between two markers.
    Insns,
}

/// The operation to profile, and how.
static TARGET: OnceLock<(String, Method)> = OnceLock::new();

/// Whether the operation to profile ran.
static PROFILED: AtomicBool = AtomicBool::new(false);

/// Whether every measurement of the bench is a window of QEMU's instruction count
/// (`--insn-windows`, make bench): the plugin counts what the guest executes between each
/// pair of markers, and `bench-report.py` pairs its counts with the `insns:` lines.
static WINDOWS: AtomicBool = AtomicBool::new(false);

/// The windows opened so far.
static NEXT_WINDOW: AtomicU64 = AtomicU64::new(0);

/// Makes every measurement a window of QEMU's instruction count.
pub fn count_windows() {
    WINDOWS.store(true, Relaxed);
}

/// Whether every measurement is a window of QEMU's instruction count.
pub fn counts_windows() -> bool {
    WINDOWS.load(Relaxed)
}

/// Opens a window if windows are counted; returns its number (from 0, in order).
pub fn window_open() -> Option<u64> {
    if !WINDOWS.load(Relaxed) {
        return None;
    }
    insn_marker();
    Some(NEXT_WINDOW.fetch_add(1, Relaxed))
}

/// Closes the window `window_open` opened.
pub fn window_close(window: Option<u64>) {
    if window.is_some() {
        insn_marker();
    }
}

/// Profiles the operation `name` from now on (once), by `method`.
pub fn set_target(name: String, method: Method) -> Res<()> {
    TARGET
        .set((name, method))
        .map_err(|_| "only one operation can be profiled".into())
}

/// Whether any of `names` is the operation to profile.
pub fn wanted(names: &[&str]) -> bool {
    TARGET
        .get()
        .is_some_and(|(t, _)| names.contains(&t.as_str()))
}

fn write(file: &str, value: &str) -> Res<()> {
    let path = format!("{TRACING}/{file}");
    std::fs::write(&path, value)
        .map_err(|e| format!("writing {value} to {path}: {}", describe(&e)).into())
}

/// The instruction that turns QEMU's count (tests/insn-profile) on, and off again: an exchange
/// of a register with itself, which compilers do not emit.
#[inline(never)]
fn insn_marker() {
    // SAFETY: `xchg bx, bx` exchanges a register with itself: no register, flag or memory
    // changes, and nothing else is executed.
    unsafe { std::arch::asm!("xchg bx, bx", options(nomem, nostack, preserves_flags)) };
}

/// Runs `measurement` of the operations `names`, `ops` of each, under the profiler if one of
/// them is the operation to profile; says so with a `profile:` line.
pub fn around<T>(names: &[&str], ops: u64, measurement: impl FnOnce() -> Res<T>) -> Res<T> {
    let Some((_, method)) = TARGET.get().filter(|_| wanted(names)) else {
        return measurement();
    };
    let result = match *method {
        Method::Ftrace { with_sleep } => {
            // Time with the callees; without the time a function slept (idle under -icount)
            // unless asked for.
            write("options/graph-time", "1")?;
            write("options/sleep-time", if with_sleep { "1" } else { "0" })?;
            write("function_profile_enabled", "1")?;
            let result = measurement();
            write("function_profile_enabled", "0")?;
            result
        }
        Method::Insns => {
            insn_marker();
            let result = measurement();
            insn_marker();
            result
        }
    };
    PROFILED.store(true, Relaxed);
    let how = match method {
        Method::Ftrace { with_sleep: true } => " with-sleep",
        Method::Ftrace { with_sleep: false } => "",
        Method::Insns => " insns",
    };
    println!("profile: {}{how} operations {ops}", names.join(" "));
    result
}

/// An error if an operation to profile was named and did not run (a misspelt name).
pub fn check_profiled() -> Res<()> {
    match TARGET.get() {
        Some((name, _)) if !PROFILED.load(Relaxed) => {
            Err(format!("--profile {name}: no such operation was measured").into())
        }
        _ => Ok(()),
    }
}
