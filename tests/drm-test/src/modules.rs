// SPDX-License-Identifier: GPL-2.0

//! Unloading kernel modules, as `rmmod` does: without waiting for their users.

use std::ffi::CString;
use std::thread;
use std::time::{Duration, Instant};

/// delete_module(2) of `name` with O_NONBLOCK: EAGAIN while something holds the module.
pub fn unload(name: &str) -> Result<(), i32> {
    let name = CString::new(name).map_err(|_| libc::EINVAL)?;
    // SAFETY: `name` is a NUL-terminated string that outlives the call.
    let r = unsafe { libc::syscall(libc::SYS_delete_module, name.as_ptr(), libc::O_NONBLOCK) };
    if r < 0 {
        return Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO));
    }
    Ok(())
}

/// [`unload`], retried while it answers EAGAIN for at most `limit`: a driver may drop its last
/// reference to the module from work that runs after the call that freed the user (a commit's
/// cleanup, the answer to a command). The result, and how long it took.
pub fn unload_within(name: &str, limit: Duration) -> (Result<(), i32>, Duration) {
    let t0 = Instant::now();
    loop {
        let r = unload(name);
        if r != Err(libc::EAGAIN) || t0.elapsed() >= limit {
            return (r, t0.elapsed());
        }
        thread::sleep(Duration::from_millis(20));
    }
}
