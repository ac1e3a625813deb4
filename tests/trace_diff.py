#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Compare the virtio-gpu command streams QEMU traced for two runs of a scenario.

    trace_diff.py C_RUN/trace.log RUST_RUN/trace.log

Prints a unified diff of the command sequences (command names only: resource ids and
fence ids differ between drivers by design) and the per-command counts of both runs.
Informational: the differences are explained in the project's notes, not judged here.
"""

import collections
import difflib
import sys


def commands(path):
    seq = []
    with open(path, errors="replace") as f:
        for line in f:
            word = line.split(" ", 1)[0]
            if word.startswith("virtio_gpu_cmd_"):
                seq.append(word[len("virtio_gpu_cmd_"):])
    return seq


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    a, b = commands(argv[1]), commands(argv[2])
    ca, cb = collections.Counter(a), collections.Counter(b)
    print(f"{'command':24} {'first':>8} {'second':>8}")
    for name in sorted(set(ca) | set(cb)):
        mark = "" if ca[name] == cb[name] else "  *"
        print(f"{name:24} {ca[name]:8} {cb[name]:8}{mark}")
    diff = list(difflib.unified_diff(a, b, argv[1], argv[2], n=2, lineterm=""))
    print("\n".join(diff) if diff else "identical command sequences")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
