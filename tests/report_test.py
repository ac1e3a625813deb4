#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Unit tests of make bench's and make profile's reports (scripts/bench-report.py,
scripts/profile-report.py): the window counts, the trace slices, the symbol lookup."""

import importlib.util
import os
import tempfile
import unittest

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load(name):
    spec = importlib.util.spec_from_file_location(name.replace("-", "_"),
                                                  f"{TOP}/scripts/{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = load("bench-report")
profile = load("profile-report")


def write(folder, name, text):
    with open(os.path.join(folder, name), "w") as f:
        f.write(text)


class WindowCosts(unittest.TestCase):
    def test_overhead_is_taken_off_each_window(self):
        counts = [100, 110, 105, 1105, 1205, 1000, 1000, 2000, 2000]
        rounds = {"overhead": (1, [[0], [1], [2]]), "a": (10, [[3], [4]]),
                  "b": (2, [[5, 6], [7, 8]])}
        self.assertEqual(bench.window_costs(rounds, counts), {"a": (110, 100), "b": (1895, 895)})

    def test_a_window_that_was_not_counted_fails(self):
        with self.assertRaises(SystemExit):
            bench.window_costs({"a": (1, [[3]])}, [1, 2])

    def test_windows_nobody_measured_fail(self):
        with self.assertRaises(SystemExit):
            bench.window_costs({"a": (1, [[0], [1]])}, [1, 2, 3])

    def test_results_pair_windows_with_insns_lines(self):
        with tempfile.TemporaryDirectory() as d:
            write(d, "drm-test.txt", "insns: overhead per-round 1 windows 0 1 2\n"
                  "insns: flip per-round 2 windows 3 4\n"
                  "bench: flip ns/op 7 min 6 rounds 7 6\n")
            write(d, "insns.txt", "insn-windows 5\n10\n10\n10\n30\n50\n")
            r = bench.read_results(f"{d}/drm-test.txt")
            self.assertEqual(r["insns"], {"flip": (20, 10)})
            self.assertEqual(r["bench"], {"flip": (7, 6)})

    def test_a_truncated_count_file_fails(self):
        with tempfile.TemporaryDirectory() as d:
            write(d, "insns.txt", "insn-windows 3\n10\n")
            with self.assertRaises(SystemExit):
                bench.read_windows(f"{d}/insns.txt")


class FrameCommands(unittest.TestCase):
    def test_only_the_commands_between_the_marks_count(self):
        with tempfile.TemporaryDirectory() as d:
            before = "virtio_gpu_cmd_res_flush\n"
            inside = "virtio_gpu_cmd_res_flush\nvirtio_gpu_cmd_set_scanout_blob\n" * 2
            write(d, "trace.log", before + inside + "virtio_gpu_cmd_res_flush\n")
            write(d, "trace-marks.txt",
                  f"f-begin {len(before)}\nf-end {len(before) + len(inside)}\n")
            self.assertEqual(bench.frame_commands(d, "f", 2),
                             {"res_flush": 1.0, "set_scanout_blob": 1.0})
            self.assertIsNone(bench.frame_commands(d, "g", 2))


class Profile(unittest.TestCase):
    def test_generic_arguments_collapse(self):
        self.assertEqual(profile.shorten("<a::Arc<b::Q<c::R<d>, e>> as f::W<0>>::run"),
                         "<a::Arc<..> as f::W<..>>::run")
        self.assertEqual(profile.shorten("memcpy"), "memcpy")

    def test_addresses_fall_in_their_symbols(self):
        with tempfile.TemporaryDirectory() as d:
            write(d, "kallsyms.txt", "ffffffff81000000 T first\nffffffff81000100 t second\n"
                  "ffffffff81000200 D data\nffffffffa0000000 t mod_fn\t[virtio_rs]\n")
            write(d, "insns.txt", "insn-profile markers 2\nffffffff81000010 5\n"
                  "ffffffff81000180 7\nffffffffa0000004 3\n401000 2\n")
            functions, modules = profile.read_insns(d)
            self.assertEqual(functions, {"first": 5, "second": 7, "mod_fn": 3, "[user]": 2})
            self.assertEqual(modules, {"vmlinux": 12, "virtio_rs": 3, "user": 2})

    def test_an_unfinished_window_fails(self):
        with tempfile.TemporaryDirectory() as d:
            write(d, "kallsyms.txt", "ffffffff81000000 T first\n")
            write(d, "insns.txt", "insn-profile markers 1 (still counting at exit)\n")
            with self.assertRaises(SystemExit):
                profile.read_insns(d)


if __name__ == "__main__":
    unittest.main()
