// SPDX-License-Identifier: GPL-2.0

//! Checks of errnos: one line per check (`ok NAME (RESULT)`, `FAIL NAME: got X, want Y` or
//! `skip NAME: WHY`), and the totals.

use crate::{errno_name, Res};
use std::io;

/// The outcome a check expects.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Want {
    Success,
    Errno(i32),
}

use Want::{Errno, Success};

fn show(r: &Result<(), i32>) -> String {
    match r {
        Ok(()) => "success".to_string(),
        Err(n) => errno_name(*n),
    }
}

fn want_text(w: Want) -> String {
    match w {
        Success => "success".to_string(),
        Errno(n) => errno_name(n),
    }
}

/// The errno of an `io::Error` (EIO for one without).
pub fn errno<T>(r: &io::Result<T>) -> Result<(), i32> {
    match r {
        Ok(_) => Ok(()),
        Err(e) => Err(e.raw_os_error().unwrap_or(libc::EIO)),
    }
}

pub struct Checks {
    pub driver: String,
    passed: u32,
    failed: u32,
}

impl Checks {
    pub fn new(driver: String) -> Self {
        Self {
            driver,
            passed: 0,
            failed: 0,
        }
    }

    /// Prints the totals; an error if any check failed.
    pub fn finish(&self) -> Res<()> {
        println!("{} passed, {} failed", self.passed, self.failed);
        if self.failed > 0 {
            return Err(format!(
                "{} of {} checks failed",
                self.failed,
                self.passed + self.failed
            )
            .into());
        }
        Ok(())
    }

    /// The expectation for this driver: `rs` for virtio_rs, `c` for virtio_gpu.
    pub fn per_driver(&self, rs: Want, c: Want) -> Res<Want> {
        match self.driver.as_str() {
            "virtio_rs" => Ok(rs),
            "virtio_gpu" => Ok(c),
            d => Err(format!("no expectations for driver '{d}' (virtio_rs or virtio_gpu)").into()),
        }
    }

    pub fn check(&mut self, name: &str, got: Result<(), i32>, want: Want) {
        let ok = match (got, want) {
            (Ok(()), Success) => true,
            (Err(n), Errno(w)) => n == w,
            _ => false,
        };
        if ok {
            self.passed += 1;
            println!("ok {name} ({})", show(&got));
        } else {
            self.failed += 1;
            println!("FAIL {name}: got {}, want {}", show(&got), want_text(want));
        }
    }

    pub fn skip(&self, name: &str, why: &str) {
        println!("skip {name}: {why}");
    }
}
