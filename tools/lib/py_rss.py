#!/usr/bin/env python3
"""CPython's counterpart of rp-bench-pool rss_after_map: the resident
memory of each multiprocessing.Pool worker after a map of N items.

Usage: py_rss.py N   (prints one JSON object)

As ../shared/baselines/py_pool.py: Pool(2), f(x) = x + 1, a warm-up map
of 1000 items, then pool.map(f, range(N)) with the default chunksize.  The
workers' pids come from the pool's private _pool list (CPython has no
public call for them); RSS is /proc/PID/statm's resident pages, as
rp_pool_stats reads them for ringpool's workers.
"""
import json
import multiprocessing as mp
import os
import sys

NPROC = 2
MIB = 1024.0 * 1024.0


def f(x):
    return x + 1


def rss_bytes(pid):
    with open("/proc/%d/statm" % pid) as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main():
    n = int(float(sys.argv[1])) if len(sys.argv) > 1 else 1000000
    with mp.get_context("fork").Pool(NPROC) as p:
        p.map(f, range(1000))
        r = p.map(f, range(n))
        rss = [rss_bytes(w.pid) for w in p._pool]
        owner = rss_bytes(os.getpid())
    assert len(r) == n and r[-1] == n
    print(json.dumps({"test": "pool_rss_after_map", "n": n,
                      "nworkers": NPROC,
                      "rss_per_worker_mib": max(rss) / MIB,
                      "rss_per_worker_mean_mib": sum(rss) / len(rss) / MIB,
                      "owner_rss_mib": owner / MIB,
                      "py": sys.version.split()[0]}), flush=True)


if __name__ == "__main__":
    main()
