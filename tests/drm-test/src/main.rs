// SPDX-License-Identifier: GPL-2.0

//! drm-test: KMS tests of a DRM device through the `drm` crate, run in the QEMU guest by
//! tests/scenarios/drm-*.sh.
//!
//! ```text
//! drm-test pattern  --device /dev/dri/cardN [--flips N]
//! drm-test badinput --device /dev/dri/cardN
//! drm-test badimport --device /dev/dri/cardN
//! drm-test bench    --device /dev/dri/cardN [--iterations N] [--rounds R] [--flips-only]
//!                   [--insn-windows] [--profile OPERATION [--profile-sleep | --profile-insns]]
//! drm-test import   --device /dev/dri/cardN [--exporter DRIVER] [--refused] [--unload-exporter]
//! drm-test moves    --device /dev/dri/cardN [--moves N] [--revokes N] [--race N]
//! ```
//!
//! Where the host must look at the screen, the program prints `WAIT <tag>` and reads one line
//! from stdin: the scenario takes the screendump (`shot TAG`) and then writes that line. Every
//! failure ends the program with a message on stderr and a non-zero exit status.

mod badimport;
mod badinput;
mod bench;
mod checks;
mod debugfs;
mod fault;
mod import;
mod kmemtrace;
mod kms;
mod modules;
mod mover;
mod moves;
mod pattern;
mod patterns;
mod profile;
mod schedstat;

use std::fmt;
use std::io::{self, BufRead, Write};
use std::process::ExitCode;

/// A failure, with what was being done when it happened.
#[derive(Debug)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for Error {
    fn from(s: String) -> Self {
        Error(s)
    }
}

impl From<&str> for Error {
    fn from(s: &str) -> Self {
        Error(s.to_string())
    }
}

pub type Res<T> = Result<T, Error>;

/// Adds what was being done to an `io::Error`, with the errno's name.
pub trait Context<T> {
    fn ctx(self, what: impl fmt::Display) -> Res<T>;
}

impl<T> Context<T> for io::Result<T> {
    fn ctx(self, what: impl fmt::Display) -> Res<T> {
        self.map_err(|e| Error(format!("{what}: {}", describe(&e))))
    }
}

/// `ENOENT (No such file or directory)` for an OS error, the error's text otherwise.
pub fn describe(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => {
            let text = e.to_string();
            let text = text
                .strip_suffix(&format!(" (os error {n})"))
                .unwrap_or(&text);
            format!("{} ({text})", errno_name(n))
        }
        None => e.to_string(),
    }
}

/// The symbolic name of the errno values the tests can meet.
pub fn errno_name(n: i32) -> String {
    let name = match n {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::E2BIG => "E2BIG",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        libc::ENOSPC => "ENOSPC",
        libc::ERANGE => "ERANGE",
        libc::EDEADLK => "EDEADLK",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::ETIMEDOUT => "ETIMEDOUT",
        _ => return format!("errno {n}"),
    };
    name.to_string()
}

/// Prints `WAIT <tag>` and blocks until the scenario writes a line on stdin (after its
/// screendump).
pub fn wait_for_host(tag: &str) -> Res<()> {
    println!("WAIT {tag}");
    io::stdout().flush().ctx("flushing stdout")?;
    let mut line = String::new();
    let n = io::stdin()
        .lock()
        .read_line(&mut line)
        .ctx(format!("reading stdin at WAIT {tag}"))?;
    if n == 0 {
        return Err(format!("stdin closed at WAIT {tag}: no go-ahead from the scenario").into());
    }
    Ok(())
}

/// Asks the host runner to note where QEMU's command trace is (`MARK <tag>` on the console,
/// answered by `<tag>.done` in the results folder), so that the commands the device got between
/// two marks can be counted. Polls for the answer every 20 ms, at most 60 s of guest time.
pub fn mark_trace(tag: &str) -> Res<()> {
    let results = std::env::var("RESULTS")
        .map_err(|_| "RESULTS (the results folder) is not set for a trace mark")?;
    let done = std::path::Path::new(&results).join(format!("{tag}.done"));
    match std::fs::remove_file(&done) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            return Err(format!("removing {}: {}", done.display(), describe(&e)).into())
        }
        _ => {}
    }
    let mut console = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/console")
        .ctx("opening /dev/console")?;
    writeln!(console, "MARK {tag}").ctx("writing the trace mark")?;
    for _ in 0..3000 {
        if let Ok(answer) = std::fs::read_to_string(&done) {
            return match answer.trim() {
                "ok" => Ok(()),
                other => Err(format!("trace mark {tag}: {other}").into()),
            };
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Err(format!("no answer from the host to trace mark {tag}").into())
}

struct Args {
    command: String,
    device: String,
    flips: u32,
    iterations: u32,
    rounds: u32,
    /// `bench` measures only what depends on the heads and the mode.
    flips_only: bool,
    /// `bench` profiles this operation.
    profile: Option<String>,
    /// How the operation is profiled.
    profile_method: profile::Method,
    exporter: String,
    /// `import` must fail with ENODEV (the device offers no blobs).
    refused: bool,
    /// `import` then closes and unloads the exporter.
    unload_exporter: bool,
    moves: u32,
    revokes: u32,
    race: u32,
}

const USAGE: &str = "usage: drm-test pattern --device /dev/dri/cardN [--flips N]\n       \
                     drm-test badinput --device /dev/dri/cardN\n       \
                     drm-test badimport --device /dev/dri/cardN\n       \
                     drm-test bench --device /dev/dri/cardN [--iterations N] [--rounds R] [--flips-only]\n       \
                                  [--insn-windows] [--profile OPERATION [--profile-sleep | --profile-insns]]\n       \
                     drm-test release-fault --device /dev/dri/cardN\n       \
                     drm-test import --device /dev/dri/cardN [--exporter DRIVER] [--refused]\n       \
                                   [--unload-exporter]\n       \
                     drm-test moves --device /dev/dri/cardN [--moves N] [--revokes N] [--race N]";

fn number(args: &mut impl Iterator<Item = String>, option: &str) -> Res<u32> {
    let v = args.next().ok_or(format!("{option} needs a number"))?;
    v.parse()
        .map_err(|_| format!("{option}: '{v}' is not a number").into())
}

fn parse_args() -> Res<Args> {
    let mut args = std::env::args().skip(1);
    let command = args.next().ok_or(USAGE)?;
    let commands = [
        "pattern",
        "badinput",
        "badimport",
        "bench",
        "release-fault",
        "import",
        "moves",
    ];
    if !commands.contains(&command.as_str()) {
        return Err(format!("unknown command '{command}'\n{USAGE}").into());
    }
    let mut device = None;
    let mut flips = 60;
    let mut iterations = 100;
    let mut rounds = 9;
    let mut flips_only = false;
    let mut profile = None;
    let mut profile_method = profile::Method::Ftrace { with_sleep: false };
    let mut exporter = "vgem".to_string();
    let mut refused = false;
    let mut unload_exporter = false;
    let mut moves = 50;
    let mut revokes = 0;
    let mut race = 0;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--device" => device = Some(args.next().ok_or("--device needs a path")?),
            "--flips" if command == "pattern" => flips = number(&mut args, "--flips")?,
            "--iterations" if command == "bench" => iterations = number(&mut args, "--iterations")?,
            "--rounds" if command == "bench" => rounds = number(&mut args, "--rounds")?,
            "--flips-only" if command == "bench" => flips_only = true,
            "--profile-sleep" if command == "bench" => {
                profile_method = profile::Method::Ftrace { with_sleep: true }
            }
            "--profile-insns" if command == "bench" => profile_method = profile::Method::Insns,
            "--insn-windows" if command == "bench" => profile::count_windows(),
            "--profile" if command == "bench" => {
                profile = Some(args.next().ok_or("--profile needs an operation")?)
            }
            "--moves" if command == "moves" => moves = number(&mut args, "--moves")?,
            "--revokes" if command == "moves" => revokes = number(&mut args, "--revokes")?,
            "--race" if command == "moves" => race = number(&mut args, "--race")?,
            "--refused" if command == "import" => refused = true,
            "--unload-exporter" if command == "import" => unload_exporter = true,
            "--exporter" if command == "import" => {
                exporter = args.next().ok_or("--exporter needs a driver name")?
            }
            _ => return Err(format!("unexpected argument '{a}'\n{USAGE}").into()),
        }
    }
    let device = device.ok_or(format!("--device is required\n{USAGE}"))?;
    // Both use the same markers: the profile's would shift every window.
    if profile::counts_windows() && matches!(profile_method, profile::Method::Insns) {
        return Err("--insn-windows and --profile-insns are exclusive".into());
    }
    Ok(Args {
        command,
        device,
        flips,
        iterations,
        rounds,
        flips_only,
        profile,
        profile_method,
        exporter,
        refused,
        unload_exporter,
        moves,
        revokes,
        race,
    })
}

fn run() -> Res<()> {
    let args = parse_args()?;
    match args.command.as_str() {
        "pattern" => pattern::run(&args.device, args.flips),
        "bench" => {
            if let Some(name) = args.profile {
                profile::set_target(name, args.profile_method)?;
            }
            bench::run(&args.device, args.iterations, args.rounds, args.flips_only)
        }
        "release-fault" => fault::run(&args.device),
        "import" => import::run(
            &args.device,
            &args.exporter,
            args.refused.then_some(libc::ENODEV),
            args.unload_exporter,
        ),
        "moves" => moves::run(&args.device, args.moves, args.revokes, args.race),
        "badimport" => badimport::run(&args.device),
        _ => badinput::run(&args.device),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = io::stdout().flush();
            eprintln!("drm-test: error: {e}");
            ExitCode::FAILURE
        }
    }
}
