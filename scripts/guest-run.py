#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Boot the test kernel under QEMU and run one guest scenario.

Runs inside the project's root (scripts/inroot.sh), where the checkout is at
/src and the cache at /cache.  The guest's root file system is this root over
9p (read-only, mount tag "rootfs"); the output folder is a second, writable 9p
share (mount tag "results").  The guest's PID 1 is tests/guest/init.sh, which
runs tests/scenarios/<scenario>.sh and writes the verdict and dmesg into the
results share before it powers the guest off.

Protocol on the serial console: a guest line "READY <tag>" makes the runner
take a QMP screendump to OUT/shot-<tag>.png (OUT/shot-<tag>-head<N>.png for
further heads) and then create OUT/<tag>.done ("ok" or "error: ...").
A guest line "MARK <tag>" makes it note where QEMU's command trace is (a line
"<tag> <byte offset>" in OUT/trace-marks.txt; the trace log is line-buffered)
and then create OUT/<tag>.done, so that the commands between two marks can be
counted (make bench).
With --vnc, a guest line "RESIZE <tag> <width> <height>" makes the runner ask
QEMU, as a VNC client would (SetDesktopSize), to resize the first head (0x0
unplugs it; QEMU then raises the device's display event), and then create
OUT/<tag>.done the same way.

The run passes only if the guest's verdict is PASS, every screendump worked,
the kernel logged no problem report (BUG, WARNING, Oops, lockdep, KASAN, ...)
and, with --kunit, every KUnit test that ran passed.  Exit status: 0 pass,
1 fail, 2 usage or setup error.
"""

import argparse
import ctypes
import json
import os
import re
import resource
import selectors
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time

# Paths inside the root (see scripts/inroot.sh).
KERNEL = "/cache/build/arch/x86/boot/bzImage"
MODROOT = "/cache/modroot"
# The sanitizer variant (scripts/build-variant.sh sanitizer).
SAN_KERNEL = "/cache/build-san/arch/x86/boot/bzImage"
SAN_MODROOT = "/cache/modroot-san"
SHIM = "/cache/harness/udmabuf-shim.so"
# make profile's instruction counter (tests/insn-profile, scripts/profile.sh).
INSN_PROFILE = "/cache/insn-profile/insn_profile.so"
KUNIT_PY = "/cache/tree/tools/testing/kunit/kunit.py"
SRC = "/src"
CACHE = "/cache"
INIT = SRC + "/tests/guest/init.sh"
SCENARIOS = SRC + "/tests/scenarios"
OUT_BASE = SRC + "/out"
RESULTS_MOUNTPOINT = "/results"    # created in the root if missing
STAGE = "/mnt"                     # covered by a tmpfs in our namespace
MARKER = ".guest-run"              # marks a folder this script may empty
QEMU = "qemu-system-x86_64"

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

# Kernel problem reports.  Any hit fails the run.
PROBLEM_RE = re.compile(
    r"BUG:|WARNING:|\bOops\b|Kernel panic|"
    r"possible circular locking|possible recursive locking|"
    r"inconsistent lock state|lock held when returning|"
    r"suspicious RCU usage|INFO: task .* blocked|"
    r"KASAN|UBSAN:|general protection fault|rcu: .*detected stall")

# "[    1.234567] " in front of kernel messages (CONFIG_PRINTK_TIME).
KTIME_RE = re.compile(r"^\[\s*\d+\.\d+\] ?")
# The runner's own "[  12.34] " in front of every serial.log line.
HTIME_RE = re.compile(r"^\[\s*\d+\.\d+\] ")

PR_SET_PDEATHSIG = 1


class SetupError(Exception):
    """Something is missing before a guest can start (exit status 2)."""


class Interrupted(Exception):
    """SIGTERM or SIGHUP arrived."""


class QmpError(Exception):
    pass


def log(msg):
    print(f"guest-run: {msg}", flush=True)


def run(cmd):
    """Run a helper command; raise SetupError with its message on failure."""
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if r.returncode != 0:
        raise SetupError(f"{shlex.join(cmd)}: {r.stdout.strip()}")


# --------------------------------------------------------------------------
# The guest's root: a non-recursive bind view of / with /src and /cache.

class RootView:
    """Builds, in this process's own mount namespace, the folder QEMU exports
    as the guest's root.  Binding / non-recursively leaves out the /proc,
    /sys and /dev that scripts/inroot.sh mounted (a 9p export would show the
    host's); /src and /cache are bound back in.  Everything is read-only.
    The folder is a tmpfs over the root's /mnt, visible only in this
    namespace, which dies with this process: even a killed runner leaves
    nothing behind, and concurrent runners do not see each other's."""

    def __init__(self):
        self.stage = None
        self.path = None

    def setup(self):
        if os.geteuid() != 0:
            raise SetupError("must run as root inside the project root "
                             "(scripts/inroot.sh python3 /src/scripts/guest-run.py ...)")
        os.unshare(os.CLONE_NEWNS)
        # Outside a chroot this makes the new namespace private; inside one
        # "/" is not a mount point and the call fails, so check instead that
        # nothing we mount can propagate out (inroot.sh mounts privately).
        if subprocess.run(["mount", "--make-rprivate", "/"],
                          stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode != 0:
            with open("/proc/self/mountinfo") as f:
                shared = [line.split()[4] for line in f
                          if " shared:" in line.split(" - ")[0]]
            if shared:
                raise SetupError("mounts with shared propagation ("
                                 + ", ".join(shared[:3]) + "): run through "
                                 "scripts/inroot.sh")
        try:
            os.makedirs(RESULTS_MOUNTPOINT, exist_ok=True)
        except OSError as e:
            log(f"note: cannot create {RESULTS_MOUNTPOINT} in the root ({e}); "
                "the guest falls back to /mnt")
        run(["mount", "-t", "tmpfs", "-o", "mode=0755,size=64k", "guest-run",
             STAGE])
        self.stage = STAGE
        run(["mount", "--make-private", self.stage])
        self.path = os.path.join(self.stage, "root")
        os.mkdir(self.path)
        self._bind("/", self.path)
        for sub in (SRC, CACHE):
            self._bind(sub, self.path + sub)

    @staticmethod
    def _bind(src, dst):
        run(["mount", "--bind", src, dst])
        run(["mount", "-o", "remount,bind,ro", dst])

    def cleanup(self):
        if not self.stage:
            return
        subprocess.run(["umount", "-R", "-l", self.stage],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.stage = None


# --------------------------------------------------------------------------
# QMP

class Qmp:
    def __init__(self, path, timeout=30):
        self.path = path
        self.timeout = timeout
        self.sock = None
        self.file = None

    def _connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s
        self.file = s.makefile("rwb")
        self._read()                        # greeting
        self.command("qmp_capabilities")

    def _read(self):
        line = self.file.readline()
        if not line:
            raise QmpError("QMP connection closed")
        return json.loads(line)

    def command(self, name, **arguments):
        if self.file is None:
            self._connect()
        msg = {"execute": name}
        if arguments:
            msg["arguments"] = arguments
        self.file.write(json.dumps(msg).encode() + b"\n")
        self.file.flush()
        while True:
            r = self._read()
            if "return" in r:
                return r["return"]
            if "error" in r:
                raise QmpError(r["error"].get("desc", str(r["error"])))
            # an asynchronous event: ignore

    def close(self):
        if self.sock:
            self.sock.close()
            self.sock = self.file = None


# --------------------------------------------------------------------------
# VNC: just enough of RFB 3.8 to ask for a new desktop size

class VncError(Exception):
    pass


class Vnc:
    ENCODING_EXT_DESKTOP_SIZE = -308
    MSG_SET_ENCODINGS = 2
    MSG_SET_DESKTOP_SIZE = 251

    def __init__(self, path, timeout=10):
        self.path = path
        self.timeout = timeout

    def _recv(self, sock, n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise VncError("VNC server closed the connection")
            data += chunk
        return data

    def _handshake(self, sock):
        version = self._recv(sock, 12)
        if not version.startswith(b"RFB 003."):
            raise VncError(f"not an RFB server: {version!r}")
        sock.sendall(b"RFB 003.008\n")
        count = self._recv(sock, 1)[0]
        if count == 0:
            raise VncError("VNC server refused the connection")
        types = self._recv(sock, count)
        if 1 not in types:
            raise VncError(f"VNC server wants authentication: {list(types)}")
        sock.sendall(bytes([1]))               # security type None
        if int.from_bytes(self._recv(sock, 4), "big") != 0:
            raise VncError("VNC security handshake failed")
        sock.sendall(bytes([1]))               # ClientInit: shared
        init = self._recv(sock, 24)            # size, pixel format, name length
        self._recv(sock, int.from_bytes(init[20:24], "big"))

    def resize(self, width, height):
        """Ask for a desktop of width x height (one screen)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(self.timeout)
            sock.connect(self.path)
            self._handshake(sock)
            encodings = self.ENCODING_EXT_DESKTOP_SIZE.to_bytes(4, "big", signed=True)
            sock.sendall(bytes([self.MSG_SET_ENCODINGS, 0]) + (1).to_bytes(2, "big")
                         + encodings)
            screen = ((0).to_bytes(4, "big") + (0).to_bytes(2, "big") * 2
                      + width.to_bytes(2, "big") + height.to_bytes(2, "big")
                      + (0).to_bytes(4, "big"))
            sock.sendall(bytes([self.MSG_SET_DESKTOP_SIZE, 0])
                         + width.to_bytes(2, "big") + height.to_bytes(2, "big")
                         + bytes([1, 0]) + screen)
            # The server answers with an ExtendedDesktopSize update whose
            # status says whether the request went to the display.
            self._await_resize_status(sock)

    def _await_resize_status(self, sock):
        while True:
            msg = self._recv(sock, 1)[0]
            if msg != 0:                       # only FramebufferUpdate is expected
                raise VncError(f"unexpected VNC server message {msg}")
            nrects = int.from_bytes(self._recv(sock, 3)[1:3], "big")
            for _ in range(nrects):
                rect = self._recv(sock, 12)
                encoding = int.from_bytes(rect[8:12], "big", signed=True)
                if encoding != self.ENCODING_EXT_DESKTOP_SIZE:
                    raise VncError(f"unexpected VNC rectangle encoding {encoding}")
                status = int.from_bytes(rect[2:4], "big")
                screens = self._recv(sock, 4)[0]
                self._recv(sock, 16 * screens)
                if int.from_bytes(rect[0:2], "big") == 1:   # answer to our request
                    if status not in (0, 4):   # 4: forwarded to the display
                        raise VncError(f"QEMU refused the new size (status {status})")
                    return


# --------------------------------------------------------------------------
# Output folder

def prepare_out(out):
    """Create OUT, or empty it if an earlier run of this script made it."""
    if os.path.isdir(out) and os.listdir(out):
        if not os.path.exists(os.path.join(out, MARKER)):
            raise SetupError(f"{out} exists and was not made by guest-run.py; "
                             "remove it or choose another --out")
        for name in os.listdir(out):
            p = os.path.join(out, name)
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p)
            else:
                os.unlink(p)
    os.makedirs(out, exist_ok=True)
    # The guest writes as root through 9p; keep the folder writable for it.
    open(os.path.join(out, MARKER), "w").close()


def tail(path, n):
    try:
        with open(path, errors="replace") as f:
            return f.read().splitlines()[-n:]
    except OSError:
        return []


# --------------------------------------------------------------------------
# Problem scan and KUnit

def kernel_lines_of_serial(lines):
    """Kernel messages among serial.log lines (those with a printk time)."""
    res = []
    for line in lines:
        line = HTIME_RE.sub("", line, count=1)
        if KTIME_RE.match(line):
            res.append(line)
    return res


def scan_problems(dmesg, serial_kernel, ignore):
    """Unique problem lines (printk time removed), dmesg first."""
    seen, hits = set(), []
    for line in dmesg + serial_kernel:
        if not PROBLEM_RE.search(line):
            continue
        if any(r.search(line) for r in ignore):
            continue
        key = KTIME_RE.sub("", line, count=1).strip()
        if key not in seen:
            seen.add(key)
            hits.append(line.strip())
    return hits


def ktap_blocks(lines):
    """Split kernel messages into top-level KTAP streams.  Built-in suites
    print one stream at boot, and each module with suites prints its own
    when it is loaded; kunit.py parses one stream at a time."""
    blocks, cur = [], None
    for line in lines:
        msg = KTIME_RE.sub("", line, count=1).rstrip()
        if re.match(r"^(KTAP|TAP) version \d+$", msg):
            cur = []
            blocks.append(cur)
        if cur is not None:
            cur.append(msg)
    return blocks


def run_kunit(out, dmesg, serial_kernel):
    """Returns (ok, reason).  Writes OUT/kunit.txt."""
    # Prefer dmesg.txt (no console interleaving) unless the ring buffer
    # wrapped (it then does not start at time 0) or the guest died before
    # writing it; take whichever has more streams.
    source, blocks = "dmesg.txt", ktap_blocks(dmesg)
    serial_blocks = ktap_blocks(serial_kernel)
    complete = bool(dmesg) and re.match(r"^\[\s*0\.0+\]", dmesg[0])
    if len(serial_blocks) > len(blocks) or (
            not complete and len(serial_blocks) == len(blocks)):
        source, blocks = "serial.log", serial_blocks
    report = [f"# KTAP taken from {source}: {len(blocks)} stream(s)"]
    total, failed, reasons = 0, False, []
    for i, block in enumerate(blocks):
        if "1..0" in block[1:3]:
            report.append(f"# stream {i}: no suites (1..0), skipped")
            continue
        path = os.path.join(out, f"ktap-{i}.txt")
        with open(path, "w") as f:
            f.write("\n".join(block) + "\n")
        r = subprocess.run([sys.executable, KUNIT_PY, "parse", path],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        report.append(f"# stream {i} ({path}), kunit.py exit {r.returncode}")
        report.append(r.stdout)
        m = re.findall(r"Ran (\d+) tests?", r.stdout)
        total += int(m[-1]) if m else 0
        if r.returncode != 0:
            failed = True
            s = re.findall(r"^.*(?:Ran \d+ tests.*|error.*)$", r.stdout,
                           re.M | re.I)
            why = s[-1].strip() if s else f"kunit.py exit {r.returncode}"
            reasons.append(f"stream {i}: " + re.sub(r"^\[[\d:]+\] ", "", why))
    if total == 0 and not failed:
        failed = True
        reasons.append("no KUnit tests ran")
    report.append(f"# total tests: {total}")
    with open(os.path.join(out, "kunit.txt"), "w") as f:
        f.write("\n".join(report) + "\n")
    if failed:
        return False, "KUnit: " + "; ".join(reasons)
    return True, f"KUnit: {total} tests"


def trace_summary(out):
    """Counts of each virtio_gpu_cmd_* event in trace.log, also written to
    OUT/trace-summary.txt (one "count command" per line)."""
    counts = {}
    try:
        with open(os.path.join(out, "trace.log"), errors="replace") as f:
            for line in f:
                m = re.search(r"\bvirtio_gpu_cmd_(\w+)", line)
                if m:
                    counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    except OSError:
        pass
    with open(os.path.join(out, "trace-summary.txt"), "w") as f:
        for name in sorted(counts):
            f.write(f"{counts[name]:8d} {name}\n")
    return counts


# --------------------------------------------------------------------------
# QEMU

def child_setup():
    """In the QEMU child: die with the runner, whatever kills it."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1:          # the runner is already gone
        os._exit(1)


def stop(proc, grace=3.0):
    """SIGTERM (QEMU flushes its trace log), then SIGKILL."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def probe_child_setup():
    child_setup()
    # QEMU aborts on some KVM flavours: no core file for that
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def kvm_probe(kernel):
    """Boot the kernel without a root under KVM; it must get as far as
    trying to start init.  Returns (ok, why)."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False, "no usable /dev/kvm"
    cmd = [QEMU, "-accel", "kvm", "-cpu", "host", "-nodefaults",
           "-no-user-config", "-no-reboot", "-m", "256M", "-display", "none",
           "-serial", "stdio", "-kernel", kernel,
           "-append", "console=ttyS0 panic=-1 root=/dev/nonexistent"]
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60, preexec_fn=probe_child_setup)
        text = r.stdout.decode(errors="replace")
    except subprocess.TimeoutExpired as e:
        text = (e.stdout or b"").decode(errors="replace")
    if re.search(r"Freeing unused kernel|Kernel panic - not syncing: (VFS|No working init)", text):
        return True, "kernel booted under KVM"
    last = [ln for ln in text.splitlines() if ln.strip()][-1:] or ["no output"]
    return False, "kernel did not boot under KVM: " + last[0]


def build_cmd(args, out, view, qmp_path, vnc_path):
    mem = args.mem
    if args.accel == "kvm":
        accel = ["-accel", "kvm", "-cpu", "host"]
    else:
        accel = ["-accel", "tcg", "-cpu", "max"]
    if args.icount:
        accel += ["-icount", "shift=0,sleep=off"]
    if args.insn_profile:
        # tests/insn-profile: instruction counts between the guest's markers,
        # per code address.
        accel += ["-plugin", f"{INSN_PROFILE},out={args.insn_profile},mode=blocks"]
    if args.insn_windows:
        # The same plugin: the instructions of each window between markers.
        accel += ["-plugin", f"{INSN_PROFILE},out={args.insn_windows},mode=windows"]
    gpu = f"{args.device},id=gpu0,max_outputs={args.max_outputs}"
    gpu += f",blob={'true' if args.blob else 'false'}"
    gpu += f",xres={args.xres},yres={args.yres}"
    if args.access_platform:
        gpu += ",iommu_platform=on"
    # The root is read-only and does not change during a run, so the guest
    # may cache it: with cache=loose, programs start several times faster
    # under TCG than with 9p's default (no cache: every page is a request).
    rootflags = "trans=virtio,version=9p2000.L,msize=262144"
    if args.root_cache != "none":
        rootflags += f",cache={args.root_cache}"
    append = [
        "console=ttyS0", "root=rootfs", "rootfstype=9p",
        f"rootflags={rootflags}", "ro",
        f"init={INIT}", "panic=-1", "loglevel=7",
        f"harness.scenario={args.scenario}", f"harness.driver={args.driver}",
        f"harness.modroot={args.modroot}",
        "kunit.enable=1" if args.kunit else "kunit.enable=0",
    ]
    if args.sanitizer:
        # kmemleak scans after the scenario; KASAN reports every error,
        # not only the first one.
        append += ["harness.kmemleak=1", "kasan.fault=report", "kasan_multi_shot"]
    if args.icount:
        # guest time races ahead while the guest idles: no guest-side timeouts
        append.append("harness.icount=1")
    else:
        append.append(f"harness.timeout={guest_timeout(args.timeout)}")
    if args.append:
        append.append(args.append)
    return [
        QEMU, *accel,
        "-nodefaults", "-no-user-config", "-no-reboot",
        "-machine", "q35,memory-backend=mem0",
        "-object", f"memory-backend-memfd,id=mem0,size={mem},share=on",
        "-m", mem, "-smp", str(args.smp),
        "-device", gpu,
        "-display", "none",
        "-serial", "stdio",
        "-qmp", f"unix:{qmp_path},server=on,wait=off",
        *(["-vnc", f"unix:{vnc_path}"] if args.vnc else []),
        "-virtfs", f"local,path={view},mount_tag=rootfs,security_model=none,"
                   "readonly=on,multidevs=remap",
        "-virtfs", f"local,path={out},mount_tag=results,security_model=none,"
                   "multidevs=remap",
        "-kernel", args.kernel,
        "-append", " ".join(append),
        "-trace", "virtio_gpu_cmd_*", "-trace", "virtio_gpu_update_cursor", "-trace", "virtio_gpu_features",
        "-D", os.path.join(out, "trace.log"),
    ]


def guest_timeout(timeout):
    """The guest gives up a little before the runner kills it, so that a
    hung scenario still leaves dmesg and a verdict."""
    return max(5, int(timeout - max(15, timeout * 0.1)))


class Run:
    def __init__(self, args, out):
        self.args = args
        self.out = out
        self.serial_lines = []
        self.shot_errors = []
        self.t0 = None

    def shot(self, qmp, tag):
        if not NAME_RE.match(tag):
            self.shot_errors.append(f"bad screendump tag {tag!r}")
            return
        time.sleep(self.args.shot_delay)   # let the last flush land
        status = "ok"
        try:
            for head in range(self.args.max_outputs):
                suffix = "" if head == 0 else f"-head{head}"
                path = os.path.join(self.out, f"shot-{tag}{suffix}.png")
                qmp.command("screendump", filename=path, format="png",
                            device="gpu0", head=head)
                if not os.path.getsize(path):
                    raise QmpError(f"{path} is empty")
        except (OSError, QmpError, ValueError) as e:
            status = f"error: {e}"
            self.shot_errors.append(f"screendump {tag}: {e}")
        self.note(f"screendump {tag}: {status}")
        with open(os.path.join(self.out, f"{tag}.done"), "w") as f:
            f.write(status + "\n")

    def mark(self, tag):
        if not NAME_RE.match(tag):
            self.shot_errors.append(f"bad trace mark tag {tag!r}")
            return
        status = "ok"
        try:
            size = os.path.getsize(os.path.join(self.out, "trace.log"))
            with open(os.path.join(self.out, "trace-marks.txt"), "a") as f:
                f.write(f"{tag} {size}\n")
        except OSError as e:
            status = f"error: {e}"
            self.shot_errors.append(f"trace mark {tag}: {e}")
        with open(os.path.join(self.out, f"{tag}.done"), "w") as f:
            f.write(status + "\n")

    def resize(self, tag, width, height):
        if not NAME_RE.match(tag):
            self.shot_errors.append(f"bad resize tag {tag!r}")
            return
        status = "ok"
        if not self.args.vnc:
            status = "error: the runner has no VNC server to resize with (--vnc)"
        else:
            try:
                Vnc(self.vnc_path).resize(width, height)
            except (OSError, VncError) as e:
                status = f"error: {e}"
        if status != "ok":
            self.shot_errors.append(f"resize {tag}: {status}")
        self.note(f"resize {tag} to {width}x{height}: {status}")
        with open(os.path.join(self.out, f"{tag}.done"), "w") as f:
            f.write(status + "\n")

    def last_screen(self):
        """Best effort: what the screen showed when time ran out."""
        path = os.path.join(self.out, "shot-timeout.png")
        qmp = self.qmp                  # QMP serves one client at a time
        qmp.timeout = 5
        try:
            if qmp.sock:
                qmp.sock.settimeout(5)
            qmp.command("screendump", filename=path, format="png")
            self.note(f"screen at timeout: {path}")
        except (OSError, QmpError, ValueError) as e:
            self.note(f"no screendump at timeout: {e}")

    def note(self, msg):
        """A runner line in serial.log (and on stdout)."""
        self.log_line(f"guest-run: {msg}", echo=True)

    def log_line(self, line, echo=False):
        stamp = f"[{time.monotonic() - self.t0:7.2f}] "
        self.serial.write(stamp + line + "\n")
        self.serial.flush()
        if echo or self.args.verbose:
            print(line, flush=True)

    def guest_line(self, qmp, line):
        self.serial_lines.append(line)
        self.log_line(line)
        if "harness: start" in line:
            self.init_started = True
        elif not getattr(self, "init_started", False) and re.search(EARLY_BOOT_RE, line):
            # The kernel broke while booting, before any driver or scenario ran:
            # stop now instead of waiting for the timeout (see main()).
            self.early_boot_failure = line
        m = re.match(r"^READY (\S+)\s*$", line)
        if m:
            self.shot(qmp, m.group(1))
        m = re.match(r"^MARK (\S+)\s*$", line)
        if m:
            self.mark(m.group(1))
        m = re.match(r"^RESIZE (\S+) (\d+) (\d+)\s*$", line)
        if m:
            self.resize(m.group(1), int(m.group(2)), int(m.group(3)))

    def execute(self, cmd, env):
        """Start QEMU, follow the console until it exits or the time is up.
        Returns (rc, timed_out)."""
        self.qmp = qmp = Qmp(self.qmp_path)
        self.serial = open(os.path.join(self.out, "serial.log"), "w")
        stderr = open(os.path.join(self.out, "qemu-stderr.log"), "w")
        self.t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=stderr,
                                env=env, preexec_fn=child_setup)
        timed_out = False
        try:
            deadline = self.t0 + self.args.timeout
            sel = selectors.DefaultSelector()
            sel.register(proc.stdout, selectors.EVENT_READ)
            fd = proc.stdout.fileno()
            buf = b""
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    timed_out = True
                    self.note(f"timeout after {self.args.timeout}s, stopping QEMU")
                    self.last_screen()
                    break
                if getattr(self, "early_boot_failure", None):
                    self.note("kernel report before the guest's init: stopping QEMU")
                    break
                if not sel.select(min(left, 1.0)):
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                buf += chunk
                while b"\n" in buf:
                    raw, buf = buf.split(b"\n", 1)
                    self.guest_line(qmp, raw.decode(errors="replace").rstrip("\r"))
            if buf:
                self.guest_line(qmp, buf.decode(errors="replace").rstrip("\r"))
            if not timed_out:
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.note("QEMU closed the console but did not exit")
        finally:
            qmp.close()
            stop(proc)
            self.elapsed = time.monotonic() - self.t0
            self.serial.write(f"[{self.elapsed:7.2f}] guest-run: QEMU exit "
                              f"status {proc.returncode}\n")
            self.serial.close()
            stderr.close()
            for path in (self.qmp_path, self.vnc_path):
                if os.path.exists(path):
                    os.unlink(path)
        return proc.returncode, timed_out

    def main(self):
        args, out = self.args, self.out
        env = dict(os.environ)
        if args.blob:
            if not os.path.exists(args.shim):
                raise SetupError(f"blob=true needs the udmabuf stand-in "
                                 f"{args.shim}, which is missing (build it first)")
            env["LD_PRELOAD"] = args.shim
        if args.accel == "auto":
            ok, why = kvm_probe(args.kernel)
            log(f"KVM probe: {why}")
            args.accel = "kvm" if ok and not args.icount else "tcg"

        view = RootView()
        try:
            view.setup()
            self.qmp_path = os.path.join(out, "qmp.sock")
            if len(self.qmp_path) > 100:
                self.qmp_path = os.path.join(view.stage, "qmp.sock")
            self.vnc_path = os.path.join(os.path.dirname(self.qmp_path), "vnc.sock")
            cmd = build_cmd(args, out, view.path, self.qmp_path, self.vnc_path)
            with open(os.path.join(out, "cmdline.txt"), "w") as f:
                f.write(f"# rootfs share: {view.path} = non-recursive read-only "
                        f"bind of / with {SRC} and {CACHE} bound in, built by "
                        "guest-run.py in a private mount namespace\n")
                pre = f"LD_PRELOAD={shlex.quote(args.shim)} " if args.blob else ""
                f.write(pre + shlex.join(cmd) + "\n")
            log(f"scenario {args.scenario} driver {args.driver}: starting QEMU "
                f"({args.accel}{', icount' if args.icount else ''}), "
                f"timeout {args.timeout}s")
            rc, timed_out = self.execute(cmd, env)
        finally:
            view.cleanup()
        return self.judge(rc, timed_out)

    def judge(self, rc, timed_out):
        out = self.out
        problems, reasons = [], []
        verdict = None
        try:
            with open(os.path.join(out, "verdict"), errors="replace") as f:
                verdict = f.read().strip()
        except OSError:
            pass
        try:
            with open(os.path.join(out, "dmesg.txt"), errors="replace") as f:
                dmesg = f.read().splitlines()
        except OSError:
            dmesg = []
        serial_kernel = kernel_lines_of_serial(self.serial_lines)

        if timed_out:
            reasons.append(f"timeout after {self.args.timeout}s")
        elif rc != 0:
            err = [ln for ln in tail(os.path.join(out, "qemu-stderr.log"), 5)
                   if ln.strip()]
            reasons.append(f"QEMU exit status {rc}"
                           + (f": {err[-1]}" if err else ""))
        elif not verdict:
            reasons.append("no verdict (guest crashed or init failed)")
        if verdict and verdict != "PASS":
            reasons.append(verdict[5:].strip() if verdict.startswith("FAIL:")
                           else f"verdict {verdict!r}")
        reasons.extend(self.shot_errors)
        ignore = [re.compile(r) for r in self.args.ignore_problem]
        problems = scan_problems(dmesg, serial_kernel, ignore)
        if problems:
            reasons.append(f"kernel problem report: {problems[0]}")
        if self.args.sanitizer:
            why = kmemleak_verdict(out, verdict, self.args.kernel)
            if why:
                reasons.append(why)
        counts = trace_summary(out)
        for name, least in self.args.expect_trace:
            if counts.get(name, 0) < least:
                reasons.append(f"{counts.get(name, 0)} virtio_gpu_cmd_{name} in "
                               f"trace.log, expected at least {least}")
        kunit_note = ""
        if self.args.kunit:
            ok, why = run_kunit(out, dmesg, serial_kernel)
            if ok:
                kunit_note = why
            else:
                reasons.append(why)

        passed = not reasons
        with open(os.path.join(out, "problems.txt"), "w") as f:
            f.write("".join(p + "\n" for p in problems))
        if problems:
            print(f"kernel problem reports ({len(problems)}):")
            for p in problems:
                print(f"  {p}")
        if not passed and (timed_out or not verdict):
            print("last lines of serial.log:")
            for line in tail(os.path.join(out, "serial.log"), 25):
                print(f"  {line}")
        if self.args.kunit:
            for line in tail(os.path.join(out, "kunit.txt"), 3):
                print(line)
        state = "PASS" if passed else f"FAIL ({'; '.join(reasons)})"
        if passed and kunit_note:
            state += f" ({kunit_note})"
        summary = (f"scenario {self.args.scenario} driver {self.args.driver}: "
                   f"{state} in {self.elapsed:.1f}s, logs in {out}")
        with open(os.path.join(out, "summary.txt"), "w") as f:
            f.write(summary + "\n")
        print(summary, flush=True)
        return 0 if passed else 1


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Run a guest scenario under QEMU (inside the project root).")
    p.add_argument("--scenario", required=True,
                   help="tests/scenarios/NAME.sh to run in the guest")
    p.add_argument("--driver", required=True,
                   choices=["virtio_rs", "virtio_gpu", "none"],
                   help="module loaded in the guest (none: load nothing)")
    p.add_argument("--out", help=f"output folder (default {OUT_BASE}/SCENARIO-DRIVER);"
                   " emptied first")
    p.add_argument("--device", default="virtio-vga",
                   choices=["virtio-vga", "virtio-gpu-pci"])
    p.add_argument("--max-outputs", type=int, default=1)
    p.add_argument("--access-platform", action="store_true",
                   help="offer VIRTIO_F_ACCESS_PLATFORM (iommu_platform=on): the guest "
                        "driver must use the DMA API (with --append swiotlb=force, through "
                        "bounce buffers)")
    p.add_argument("--blob", default="false", choices=["true", "false"],
                   help="blob resources (needs the udmabuf stand-in)")
    p.add_argument("--xres", type=int, default=1024)
    p.add_argument("--yres", type=int, default=768)
    p.add_argument("--timeout", type=int, default=300,
                   help="seconds before QEMU is killed (default 300)")
    p.add_argument("--mem", default="1G")
    p.add_argument("--smp", type=int, default=2)
    p.add_argument("--icount", action="store_true",
                   help="-icount shift=0,sleep=off: guest time follows executed "
                   "instructions (reproducible cost figures; single-threaded)")
    p.add_argument("--append", default="", help="extra kernel parameters")
    p.add_argument("--kunit", action="store_true",
                   help="enable KUnit and fail unless every test that ran passed")
    p.add_argument("--accel", default="tcg", choices=["tcg", "kvm", "auto"],
                   help="auto: use KVM if a probe boot works, else TCG")
    p.add_argument("--kernel", default=None,
                   help=f"the kernel to boot (default {KERNEL})")
    p.add_argument("--modroot", default=None,
                   help=f"where the guest finds the modules (default {MODROOT})")
    p.add_argument("--sanitizer", action="store_true",
                   help="boot the sanitizer kernel (KASAN, UBSAN, kmemleak) with "
                        "its modules; leaks kmemleak finds after the scenario fail the run")
    p.add_argument("--insn-profile", default=None, metavar="FILE",
                   help="count the guest's instructions between its profile markers "
                        f"per code address into FILE ({INSN_PROFILE}; with --icount)")
    p.add_argument("--insn-windows", default=None, metavar="FILE",
                   help="count the guest's instructions in each window between its markers "
                        f"into FILE ({INSN_PROFILE}; with --icount)")
    p.add_argument("--shim", default=SHIM, help="udmabuf stand-in for blob=true")
    p.add_argument("--root-cache", default="loose", choices=["loose", "none"],
                   help="9p cache mode of the guest's read-only root "
                   "(the results share is always uncached)")
    p.add_argument("--vnc", action="store_true",
                   help="serve the display over VNC (a socket in the output "
                        "folder), so that the guest may ask for resizes")
    p.add_argument("--shot-delay", type=float, default=0.5,
                   help="seconds between READY and the screendump")
    p.add_argument("--expect-trace", action="append", default=[],
                   metavar="CMD[=N]", help="fail unless QEMU traced virtio_gpu_cmd_CMD "
                   "(e.g. get_display_info) at least N times (default 1); repeatable")
    p.add_argument("--ignore-problem", action="append", default=[],
                   metavar="REGEX", help="kernel problem lines to tolerate")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="echo the serial console")
    args = p.parse_args(argv)
    args.blob = args.blob == "true"
    if not NAME_RE.match(args.scenario):
        p.error(f"bad scenario name {args.scenario!r}")
    if args.max_outputs < 1 or args.max_outputs > 16:
        p.error("--max-outputs must be 1..16")
    if args.icount and args.accel == "kvm":
        p.error("--icount needs TCG")
    if (args.insn_profile or args.insn_windows) and not args.icount:
        p.error("--insn-profile and --insn-windows need --icount "
                "(one vCPU thread: the counts do not race)")
    if args.insn_profile and args.insn_windows:
        p.error("--insn-profile and --insn-windows are exclusive")
    if not re.match(r"^\d+[KMGT]?$", args.mem):
        p.error(f"bad --mem {args.mem!r}")
    if args.timeout < 10:
        p.error("--timeout must be at least 10 s")
    expected = []
    for t in args.expect_trace:
        m = re.match(r"^(?:virtio_gpu_cmd_)?(\w+)(?:=(\d+))?$", t)
        if not m:
            p.error(f"bad --expect-trace {t!r}: a command name such as get_edid, "
                    "or get_edid=4")
        expected.append((m.group(1), int(m.group(2) or 1)))
    args.expect_trace = expected
    if args.kernel is None:
        args.kernel = SAN_KERNEL if args.sanitizer else KERNEL
    if args.modroot is None:
        args.modroot = SAN_MODROOT if args.sanitizer else MODROOT
    for r in args.ignore_problem:
        try:
            re.compile(r)
        except re.error as e:
            p.error(f"bad --ignore-problem regex {r!r}: {e}")
    return args


def kmemleak_verdict(out, verdict, kernel=KERNEL):
    """Why the guest's kmemleak scan (kmemleak.txt, written after the
    scenario) fails the run, or None."""
    path = os.path.join(out, "kmemleak.txt")
    try:
        with open(path, errors="replace") as f:
            text = f.read()
    except OSError:
        # A guest that died early wrote nothing; that failure is reported
        # already. A finished one must have scanned.
        return "no kmemleak scan (kmemleak.txt missing)" if verdict else None
    if text.startswith("kmemleak: unavailable"):
        return text.strip()
    records = ["unreferenced object" + r for r in text.split("unreferenced object")[1:]]
    windows = kmemleak_excused(out)
    hz = kernel_hz(kernel)
    counted = []
    for record in records:
        m = re.search(r"jiffies (\d+)", record)
        # Seconds since boot: jiffies start 300 s before wrapping 32 bits (INITIAL_JIFFIES).
        at = m and (int(m[1]) - (2**32 - 300 * hz)) / hz
        owner = m and next((tag for lo, hi, tag in windows if lo <= at <= hi), None)
        if owner:
            log(f"kmemleak: an object allocated while {owner} was bound, not counted: "
                f"{record.splitlines()[0].strip()}")
        else:
            counted.append(record)
    if counted:
        first = counted[0].splitlines()[0].strip()
        return f"kmemleak: {len(counted)} unreferenced object(s), first: {first}"
    return None


def kmemleak_excused(out):
    """The windows (from, to, tag), in seconds since boot, whose allocations belong to
    another driver (kmemleak-excused.txt, written by the guest's kmemleak_excuse)."""
    windows = []
    try:
        with open(os.path.join(out, "kmemleak-excused.txt"), errors="replace") as f:
            for line in f:
                parts = line.split()
                try:
                    windows.append((float(parts[0]), float(parts[1]), parts[2]))
                except (IndexError, ValueError):
                    continue
    except OSError:
        pass
    return windows


def kernel_hz(kernel):
    """CONFIG_HZ of the kernel image `kernel` (from the .config of its build folder,
    three levels up from arch/x86/boot/bzImage); 250 if it cannot be read."""
    config = os.path.join(os.path.dirname(kernel), "..", "..", "..", ".config")
    try:
        with open(config, errors="replace") as f:
            for line in f:
                if line.startswith("CONFIG_HZ="):
                    return int(line.split("=", 1)[1])
    except (OSError, ValueError):
        pass
    return 250


def qemu_death(out):
    """The last line QEMU wrote to stderr, or ''."""
    try:
        with open(os.path.join(out, "qemu-stderr.log"), errors="replace") as f:
            lines = [line.strip() for line in f if line.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


# A kernel report while the test kernel is still booting, before the guest's
# init (and with it any driver or scenario) ran.
EARLY_BOOT_RE = r"BUG: KASAN|Kernel panic"


def kernel_broke_before_init(out):
    """Whether the kernel reported a problem before the guest's init ran."""
    try:
        with open(os.path.join(out, "serial.log"), errors="replace") as f:
            serial = f.read()
    except OSError:
        return False
    head = serial.split("harness: start", 1)[0]
    return "harness: start" not in serial and re.search(EARLY_BOOT_RE, head) is not None


def qemu_died_before_init(out):
    """Whether QEMU aborted (killed by a signal it raised itself, e.g. an assertion) before
    the guest's init printed anything."""
    try:
        with open(os.path.join(out, "serial.log"), errors="replace") as f:
            serial = f.read()
    except OSError:
        return False
    return "harness: start" not in serial and "Assertion" in qemu_death(out)


def run_again(args, out, suffix, why):
    """A failed run said nothing about the scenario (`why`): keep its logs in
    OUT.SUFFIX, run the scenario once more, and say so."""
    kept = f"{out}.{suffix}"
    print(f"guest-run: {why}; running the scenario once more (logs kept in {kept})",
          flush=True)
    shutil.rmtree(kept, ignore_errors=True)
    os.rename(out, kept)
    prepare_out(out)
    return Run(args, out).main()


def main(argv):
    args = parse_args(argv)
    out = os.path.abspath(args.out or os.path.join(
        OUT_BASE, f"{args.scenario}-{args.driver}"))

    def on_signal(signum, _frame):
        raise Interrupted(signal.Signals(signum).name)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    try:
        if not shutil.which(QEMU):
            raise SetupError(f"{QEMU} not found (run inside the project root)")
        if not os.path.exists(args.kernel):
            raise SetupError(f"no kernel at {args.kernel} (build it first)")
        scen = os.path.join(SCENARIOS, args.scenario + ".sh")
        if not os.path.exists(scen):
            raise SetupError(f"no scenario {scen}")
        if not os.access(INIT, os.X_OK):
            raise SetupError(f"{INIT} missing or not executable")
        if args.kunit and not os.path.exists(KUNIT_PY):
            raise SetupError(f"--kunit needs {KUNIT_PY}")
        prepare_out(out)
        rc = Run(args, out).main()
        if rc != 0 and kernel_broke_before_init(out):
            # Seen once in the sanitizer kernel (a storm of KASAN wild-memory-access
            # reports in early boot interrupts, 0.007 s after start, under heavy
            # host load): before init, so before any code under test ran.
            rc = run_again(args, out, "boot-failure",
                           "the kernel broke before the guest's init ran")
        elif rc != 0 and qemu_died_before_init(out):
            # QEMU itself aborted while the guest was still booting (seen once: an
            # assertion in QEMU's MSI-X emulation during PCI enumeration under TCG).
            rc = run_again(args, out, "qemu-crash",
                           f"QEMU died before the guest's init ran ({qemu_death(out)})")
        return rc
    except SetupError as e:
        print(f"guest-run: error: {e}", file=sys.stderr)
        print(f"scenario {args.scenario} driver {args.driver}: FAIL ({e}) "
              f"in 0.0s, logs in {out}", flush=True)
        return 2
    except (Interrupted, KeyboardInterrupt) as e:
        name = str(e) or "SIGINT"
        print(f"scenario {args.scenario} driver {args.driver}: FAIL "
              f"(interrupted by {name}), logs in {out}", flush=True)
        return 130 if isinstance(e, KeyboardInterrupt) else 143


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
