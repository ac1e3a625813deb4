// SPDX-License-Identifier: GPL-2.0

//! The kernel memory that a span of operations leaves allocated, from the `kmem` trace events
//! (tracefs): every allocation traced between [`KmemTrace::start`] and [`KmemTrace::stop`] and
//! not freed by then. Global counters (`/proc/meminfo`, `/proc/vmstat`) cannot tell a few KiB
//! apart: the per-CPU page lists and slabs move them by hundreds of pages. The events are per
//! allocation, so the count is exact for what the span did. Only allocations of this process
//! and of kernel threads (the drivers' workers) count: the scenario's shell forks meanwhile.
//! Pages for user space (`GFP_HIGHUSER`) are this process's own memory, not the kernel's.
//!
//! Two figures, which overlap:
//! - slab objects: `kmalloc` (up to 8 KiB, the largest kmalloc cache) and `kmem_cache_alloc`,
//!   their allocated size;
//! - pages: what the page allocator gave out (`mm_page_alloc`), including new slab pages, larger
//!   kmallocs and scatterlist chunks.

use crate::{Context, Res};
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The guest's page size.
pub const PAGE_SIZE: u64 = 4096;

/// The kmalloc sizes served by slab caches (two pages); larger ones come from the page allocator.
const KMALLOC_MAX_CACHE_SIZE: u64 = 2 * PAGE_SIZE;

const EVENTS: [&str; 7] = [
    "kmem:kmalloc",
    "kmem:kfree",
    "kmem:kmem_cache_alloc",
    "kmem:kmem_cache_free",
    "kmem:mm_page_alloc",
    "kmem:mm_page_free",
    "kmem:mm_page_free_batched",
];

/// Per-CPU trace buffer size, in KiB: room for the events of a few imports.
const BUFFER_KB: &str = "16384";

/// What a span left allocated.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Retained {
    /// Bytes of slab objects.
    pub slab_bytes: u64,
    /// Pages from the page allocator.
    pub pages: u64,
}

/// A running trace of the kernel's allocations.
pub struct KmemTrace {
    dir: PathBuf,
}

fn write(dir: &Path, file: &str, value: &str) -> Res<()> {
    let path = dir.join(file);
    fs::write(&path, value).ctx(format!("writing '{value}' to {}", path.display()))
}

fn tracefs() -> Res<PathBuf> {
    for dir in ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"] {
        if Path::new(dir).join("set_event").exists() {
            return Ok(PathBuf::from(dir));
        }
    }
    Err("no tracefs (mount it on /sys/kernel/tracing, or debugfs)".into())
}

impl KmemTrace {
    /// Empties the trace buffer and starts tracing the allocation events.
    pub fn start() -> Res<Self> {
        let dir = tracefs()?;
        write(&dir, "tracing_on", "0")?;
        write(&dir, "buffer_size_kb", BUFFER_KB)?;
        write(&dir, "set_event", &EVENTS.join("\n"))?;
        write(&dir, "trace", "")?;
        write(&dir, "tracing_on", "1")?;
        Ok(Self { dir })
    }

    /// Stops tracing; what the traced allocations left. An error if the buffer lost events.
    pub fn stop(self) -> Res<Retained> {
        let pid = std::process::id();
        write(&self.dir, "tracing_on", "0")?;
        let lost = self.overruns()?;
        let text = fs::read_to_string(self.dir.join("trace")).ctx("reading the trace")?;
        write(&self.dir, "set_event", "")?;
        write(&self.dir, "trace", "")?;
        if lost > 0 {
            return Err(format!("the trace buffer lost {lost} events").into());
        }
        Ok(retained(&text, pid))
    }

    /// The events lost because a CPU's buffer was full.
    fn overruns(&self) -> Res<u64> {
        let mut lost = 0u64;
        let cpus = fs::read_dir(self.dir.join("per_cpu")).ctx("listing per_cpu")?;
        for cpu in cpus {
            let stats = cpu.ctx("listing per_cpu")?.path().join("stats");
            let text = fs::read_to_string(&stats).ctx(format!("reading {}", stats.display()))?;
            for line in text.lines() {
                if let Some(n) = line.strip_prefix("overrun: ") {
                    // An unreadable count counts as everything lost.
                    lost = lost.saturating_add(n.trim().parse::<u64>().unwrap_or(u64::MAX));
                }
            }
        }
        Ok(lost)
    }
}

/// The value of `name=` in an event's fields.
fn field<'a>(fields: &'a str, name: &str) -> Option<&'a str> {
    fields
        .split_whitespace()
        .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
}

fn number(fields: &str, name: &str) -> Option<u64> {
    let v = field(fields, name)?;
    match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

/// Kernel threads, by the names tracefs gives their tasks.
const KERNEL_THREADS: [&str; 5] = ["kworker/", "ksoftirqd/", "irq/", "<idle>", "rcu"];

/// Whether the task of a trace line ("comm-pid ...") is process `pid` or a kernel thread.
fn counted(line: &str, pid: u32) -> bool {
    let Some((task, _)) = line.trim_start().split_once(" [") else {
        return false;
    };
    let Some((comm, id)) = task.trim_end().rsplit_once('-') else {
        return false;
    };
    id.parse() == Ok(pid) || KERNEL_THREADS.iter().any(|k| comm.starts_with(k))
}

/// What the allocations in `trace` (tracefs' text) by process `pid` and by kernel threads left:
/// each allocation is kept until a free of the same pointer (or page frame) follows it, by any
/// task.
fn retained(trace: &str, pid: u32) -> Retained {
    let mut objects: HashMap<&str, u64> = HashMap::new();
    let mut pages: HashMap<u64, u64> = HashMap::new();
    for line in trace.lines().filter(|l| !l.starts_with('#')) {
        // "task-pid [cpu] flags timestamp: event: fields"
        let Some((event, fields)) = line
            .split_once(": ")
            .and_then(|(_, rest)| rest.split_once(": "))
        else {
            continue;
        };
        let alloc = matches!(event, "kmalloc" | "kmem_cache_alloc" | "mm_page_alloc");
        if alloc && !counted(line, pid) {
            continue;
        }
        match event {
            "kmalloc" | "kmem_cache_alloc" => {
                if let (Some(ptr), Some(bytes)) =
                    (field(fields, "ptr"), number(fields, "bytes_alloc"))
                {
                    if event == "kmem_cache_alloc" || bytes <= KMALLOC_MAX_CACHE_SIZE {
                        objects.insert(ptr, bytes);
                    }
                }
            }
            "kfree" | "kmem_cache_free" => {
                if let Some(ptr) = field(fields, "ptr") {
                    objects.remove(ptr);
                }
            }
            "mm_page_alloc" if !fields.contains("GFP_HIGHUSER") => {
                if let (Some(pfn), Some(order)) = (number(fields, "pfn"), number(fields, "order")) {
                    if order < 64 {
                        pages.insert(pfn, 1 << order);
                    }
                }
            }
            "mm_page_free" | "mm_page_free_batched" => {
                if let Some(pfn) = number(fields, "pfn") {
                    pages.remove(&pfn);
                }
            }
            _ => {}
        }
    }
    Retained {
        slab_bytes: objects.values().sum(),
        pages: pages.values().sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "\
# tracer: nop
 drm-test-90 [001] ..... 10.1: kmalloc: call_site=f+0x1 ptr=0000000011 bytes_req=24 bytes_alloc=32 gfp_flags=GFP_KERNEL node=-1 accounted=false
 drm-test-90 [001] ..... 10.2: kmem_cache_alloc: call_site=g+0x2 ptr=0000000022 bytes_req=600 bytes_alloc=640 gfp_flags=GFP_KERNEL node=-1 accounted=false
 drm-test-90 [001] ..... 10.3: kmalloc: call_site=h+0x3 ptr=0000000033 bytes_req=16384 bytes_alloc=16384 gfp_flags=GFP_KERNEL node=-1 accounted=false
 drm-test-90 [001] ..... 10.4: mm_page_alloc: page=000000aa pfn=0x1000 order=2 migratetype=0 gfp_flags=GFP_KERNEL
 drm-test-90 [001] ..... 10.5: mm_page_alloc: page=000000bb pfn=0x2000 order=0 migratetype=0 gfp_flags=GFP_KERNEL
 kworker/0:1-9 [000] ..... 10.6: kfree: call_site=f+0x9 ptr=0000000011
 kworker/0:1-9 [000] ..... 10.7: mm_page_free_batched: page=000000bb pfn=0x2000 order=0
 kworker/0:1-9 [000] ..... 10.8: mm_page_free: page=000000cc pfn=0x3000 order=0
 kworker/0:1-9 [000] ..... 10.9: kmalloc: call_site=i+0x4 ptr=0000000044 bytes_req=8 bytes_alloc=8 gfp_flags=GFP_KERNEL node=-1 accounted=false
 drm-test-90 [001] ..... 11.0: mm_page_alloc: page=000000dd pfn=0x4000 order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_ZERO
 sleep-91 [001] ..... 11.1: kmem_cache_alloc: call_site=j+0x5 ptr=0000000055 bytes_req=200 bytes_alloc=256 gfp_flags=GFP_KERNEL node=-1 accounted=false
 sleep-91 [001] ..... 11.2: mm_page_alloc: page=000000ee pfn=0x5000 order=0 migratetype=0 gfp_flags=GFP_KERNEL
";

    #[test]
    fn what_is_not_freed_is_retained() {
        // Kept: the cache object of 640 bytes, the kworker's 8, the order-2 pages; not the
        // large kmalloc (pages), the user page, nor the other process' allocations.
        assert_eq!(
            retained(TRACE, 90),
            Retained {
                slab_bytes: 648,
                pages: 4
            }
        );
    }

    #[test]
    fn tasks_by_pid_and_kernel_threads() {
        assert!(counted(" drm-test-90 [001] ..... 10.1: kmalloc: x", 90));
        assert!(counted("  kworker/u8:2-51  [000] ..... 10.1: kfree: x", 90));
        assert!(counted(" <idle>-0 [000] d.h1. 10.1: kmalloc: x", 90));
        assert!(!counted(" sleep-91 [001] ..... 10.1: kmalloc: x", 90));
        assert!(!counted(" drm-test-900 [001] ..... 10.1: kmalloc: x", 90));
    }
}
