#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Assemble the kernel build tree: pristine source + patches/*.patch + overlay.

Runs inside the root (the checkout at /src, the cache at /cache). Exact and
incremental:
  - a file is written only when its content changes, so kbuild rebuilds only
    what changed (mtimes of unchanged files are kept);
  - files the previous assembly placed (overlay files, patched upstream
    files) that the current checkout no longer places are restored to their
    pristine content, or removed when upstream has no such file;
  - the overlay is the checkout's own files (tracked, or untracked but not
    ignored), so nothing of another checkout can leak into a build.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

SRC = os.environ.get("VIRTIO_RS_SRC", "/src")
CACHE = os.environ.get("VIRTIO_RS_CACHE_IN", "/cache")
PRISTINE = os.path.join(CACHE, "pristine")
TREE = os.path.join(CACHE, "tree")
MANIFEST = os.path.join(TREE, ".virtio-rs-manifest")

# Checkout paths laid into the tree at the same path.
OVERLAY_DIRS = ("drivers/", "rust/", "Documentation/", "tools/")
# Checkout files laid into the tree under another name.
OVERLAY_RENAMES = {"Kconfig": "drivers/gpu/drm/virtio_rs.Kconfig"}


def die(msg):
    sys.stderr.write(f"[virtio_rs] error: {msg}\n")
    sys.exit(1)


def checkout_files():
    out = subprocess.run(
        ["git", "-c", "safe.directory=*", "-C", SRC, "ls-files", "-z",
         "--cached", "--others", "--exclude-standard"],
        check=True, capture_output=True).stdout.decode()
    files = {}
    for path in filter(None, out.split("\0")):
        src = os.path.join(SRC, path)
        if not os.path.isfile(src):  # deleted in the working tree
            continue
        if path in OVERLAY_RENAMES:
            files[OVERLAY_RENAMES[path]] = src
        elif path.startswith(OVERLAY_DIRS):
            files[path] = src
    return files


def patch_files():
    d = os.path.join(SRC, "patches")
    if not os.path.isdir(d):
        return []
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".patch"))


def patched_paths(patch):
    paths = []
    with open(patch, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("+++ "):
                p = line[4:].strip().split("\t")[0]
                if p != "/dev/null":
                    paths.append(p.split("/", 1)[1])
    return paths


def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.digest()


def place(src, rel):
    """Copy src to TREE/rel unless the content is already there."""
    dst = os.path.join(TREE, rel)
    if os.path.isfile(dst) and os.path.getsize(dst) == os.path.getsize(src) \
            and digest(dst) == digest(src):
        if (os.stat(src).st_mode & 0o111) == (os.stat(dst).st_mode & 0o111):
            return False
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    tmp = dst + ".virtio-rs-tmp"
    shutil.copyfile(src, tmp)
    shutil.copymode(src, tmp)
    os.replace(tmp, dst)
    return True


def unplace(rel):
    """Give TREE/rel back its pristine content, or remove it."""
    pristine = os.path.join(PRISTINE, rel)
    if os.path.isfile(pristine):
        return place(pristine, rel)
    dst = os.path.join(TREE, rel)
    if os.path.lexists(dst):
        os.unlink(dst)
        return True
    return False


def main():
    if not os.path.isdir(PRISTINE):
        die("no pristine source: run scripts/fetch-kernel.sh")
    if not os.path.isdir(TREE):
        print("[virtio_rs] creating the build tree", file=sys.stderr)
        subprocess.run(["cp", "-a", PRISTINE, TREE + ".tmp"], check=True)
        os.rename(TREE + ".tmp", TREE)

    previous = set()
    if os.path.isfile(MANIFEST):
        with open(MANIFEST) as f:
            previous = set(filter(None, f.read().split("\n")))

    overlay = checkout_files()
    patches = patch_files()
    changed = 0

    def write_manifest(paths):
        tmp = MANIFEST + ".tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(sorted(paths)) + "\n")
        os.replace(tmp, MANIFEST)

    # Record everything this run may place before placing it: an assembly
    # that fails half-way is still undone exactly by the next one.
    planned = set(overlay)
    for p in patches:
        planned.update(patched_paths(p))
    write_manifest(previous | planned)

    # Apply the patches to pristine copies in a scratch folder, then place
    # the results like overlay files.
    with tempfile.TemporaryDirectory(dir=CACHE) as stage:
        touched = set()
        for p in patches:
            for rel in patched_paths(p):
                if rel in overlay:
                    die(f"{rel} is both an overlay file and patched by {p}")
                if rel not in touched:
                    touched.add(rel)
                    pristine = os.path.join(PRISTINE, rel)
                    if os.path.isfile(pristine):
                        os.makedirs(os.path.dirname(os.path.join(stage, rel)), exist_ok=True)
                        shutil.copy2(pristine, os.path.join(stage, rel))
            r = subprocess.run(["patch", "-p1", "-s", "-N", "--no-backup-if-mismatch",
                                "-r", "-", "-d", stage, "-i", p],
                               capture_output=True, text=True)
            if r.returncode != 0:
                die(f"{os.path.basename(p)} does not apply:\n{r.stdout}{r.stderr}")
        for rel in sorted(touched):
            staged = os.path.join(stage, rel)
            if os.path.isfile(staged):
                changed += place(staged, rel)
            else:
                changed += unplace(rel)

        for rel, src in sorted(overlay.items()):
            changed += place(src, rel)

        current = set(overlay) | touched
        for rel in sorted(previous - current):
            changed += unplace(rel)

    write_manifest(current)
    print(f"[virtio_rs] tree assembled: {len(overlay)} overlay files, "
          f"{len(patches)} patches, {changed} files written", file=sys.stderr)


if __name__ == "__main__":
    main()
