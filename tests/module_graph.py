#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check that a Rust crate's modules form a layered, acyclic graph.

Usage: module_graph.py DIR [CRATE_ROOT]

Reads the `mod x;` lines of the crate root and, for each module file, the
modules it names through `use crate::{...}` or `crate::x::`. Prints the
graph (a module and what it uses), and exits 1 naming a cycle if there is
one.
"""

import os
import re
import sys


def modules(root_file):
    text = open(root_file).read()
    return re.findall(r"(?m)^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", text)


def uses(path, names):
    text = open(path).read()
    found = set()
    for block in re.findall(r"use\s+crate::\{(.*?)\};", text, re.S):
        for name in re.findall(r"(?m)^\s*(\w+)\b", block) + re.findall(r"\{\s*(\w+)", block):
            if name in names:
                found.add(name)
    for name in re.findall(r"\bcrate::(\w+)", text):
        if name in names:
            found.add(name)
    return found


def main():
    d = sys.argv[1]
    root = sys.argv[2] if len(sys.argv) > 2 else None
    if root is None:
        cands = [f for f in os.listdir(d) if f.endswith(".rs")
                 and re.search(r"(?m)^mod \w+;", open(os.path.join(d, f)).read())]
        if len(cands) != 1:
            sys.exit(f"module_graph: cannot tell the crate root in {d}: {cands}")
        root = os.path.join(d, cands[0])
    names = modules(root)
    graph = {}
    for m in names:
        path = os.path.join(d, m + ".rs")
        graph[m] = sorted(uses(path, set(names)) - {m})
    for m in names:
        print(f"{m}: {' '.join(graph[m]) or '-'}")
    state = {}

    def visit(m, stack):
        state[m] = "open"
        for n in graph[m]:
            if state.get(n) == "open":
                cycle = stack[stack.index(n):] + [n]
                sys.exit("module_graph: cycle: " + " -> ".join(cycle))
            if n not in state:
                visit(n, stack + [n])
        state[m] = "done"

    for m in names:
        if m not in state:
            visit(m, [m])
    print("module_graph: acyclic")


if __name__ == "__main__":
    main()
