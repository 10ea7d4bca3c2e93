# SPDX-License-Identifier: MIT
"""The project's yardsticks, built from ../shared/baselines at run time.

The baselines are the raw programs ringpool is measured against (their
README.md gives the build commands, results-2026-11-22.txt the figures last
measured there).  They are never copied into this tree: build() compiles
one from its own source with the command that README gives, into
BUILD_DIR/yardsticks/, and again only when its source or bench.h is newer
than the binary.  When it cannot (no compiler, a Debian package missing),
it raises Unavailable with the reason, so that a caller can report that
figure as missing and carry on.

Used by bench/ring_compare and tools/compare.
"""
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.realpath(__file__))))

# name: (compiler, source, flags, libraries, the Debian package it needs)
RECIPES = {
    "spsc_shm": ("gcc", "spsc_shm.c", [], [], "gcc"),
    "wake_pingpong": ("gcc", "wake_pingpong.c", [], ["-luring"],
                      "liburing-dev"),
    "pool_ring": ("gcc", "pool_ring.c", [], [], "gcc"),
    "omp_tasks": ("gcc", "omp_tasks.c", ["-fopenmp"], [], "gcc (libgomp)"),
    "tbb_tasks": ("g++", "tbb_tasks.cpp", ["-std=c++17"], ["-ltbb"],
                  "libtbb-dev"),
}

_built = {}


class Unavailable(Exception):
    """A yardstick that cannot be built here, and why."""


def baselines_dir():
    """../shared/baselines beside the work tree, or None."""
    cands = [os.path.join(ROOT, "..", "shared", "baselines")]
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"],
                             cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.strip()
        cands.append(os.path.join(top, "..", "shared", "baselines"))
    except (OSError, subprocess.CalledProcessError):
        pass
    for c in cands:
        if os.path.isdir(c):
            return os.path.realpath(c)
    return None


def _compile(name, build_dir):
    cc, src, flags, libs, package = RECIPES[name]
    base = baselines_dir()
    if base is None:
        raise Unavailable("../shared/baselines not found beside %s" % ROOT)
    src = os.path.join(base, src)
    if not os.path.isfile(src):
        raise Unavailable("%s not found" % src)
    out_dir = os.path.join(build_dir, "yardsticks")
    os.makedirs(out_dir, exist_ok=True)
    exe = os.path.join(out_dir, name)
    inputs = [p for p in (src, os.path.join(base, "bench.h"))
              if os.path.isfile(p)]
    if os.path.isfile(exe) and os.path.getmtime(exe) >= max(
            os.path.getmtime(p) for p in inputs):
        return exe
    # Built aside and renamed: two runs at once never see half a binary.
    tmp = "%s.tmp%d" % (exe, os.getpid())
    cmd = [cc, "-O2", "-march=native"] + flags + ["-o", tmp, src] + libs
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except FileNotFoundError:
        raise Unavailable("%s not found (Debian package %s)" % (cc, package))
    if p.returncode != 0:
        lines = p.stderr.strip().splitlines() or ["no output"]
        errs = [l for l in lines
                if "error" in l or "cannot find" in l] or lines
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise Unavailable("%s %s failed: %s (needs Debian package %s)" % (
            cc, os.path.basename(src), errs[0].strip(), package))
    os.replace(tmp, exe)
    return exe


def build(name, build_dir):
    """Path of the yardstick's binary, built if need be (once per process);
    raises Unavailable with the reason when it cannot be."""
    key = (name, os.path.realpath(build_dir))
    if key not in _built:
        try:
            _built[key] = _compile(name, build_dir)
        except Unavailable as e:
            _built[key] = e
    if isinstance(_built[key], Unavailable):
        raise _built[key]
    return _built[key]


def describe(name):
    """The build command, as the baselines' README gives it."""
    cc, src, flags, libs, _ = RECIPES[name]
    return " ".join([cc, "-O2", "-march=native"] + flags +
                    ["-o", name, src] + libs)
