#!/usr/bin/env python3
"""Seed 004's word hashing in CPython, timed the way rp-hashwords times it.

Usage: py_hashwords.py WORDS_FILE [WORKERS]   (prints one JSON object)

The program is the seed's own: readlines(), a set comprehension of
sha512(word.encode()).hexdigest() for the serial run, and
set(pool.map(hash_word, words)) inside `with Pool(n)` for the pool run.
tools/compare feeds it the list that rp-hashwords generates
(rp-hashwords --write-words), so both languages hash the same bytes.
pool_s covers map + set, as rp-hashwords' pool time does; the start and
stop of the pool are only in pool_incl_startup_s.
"""
import json
import sys
import time
from hashlib import sha512
from multiprocessing import Pool


def hash_word(word):
    hash_object = sha512()
    hash_object.update(word.encode('utf-8'))
    return hash_object.hexdigest()


def main():
    path = sys.argv[1]
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    with open(path, encoding='utf-8') as file:
        words = file.readlines()
    t0 = time.perf_counter()
    serial = {hash_word(word) for word in words}
    t1 = time.perf_counter()
    with Pool(workers) as pool:
        t2 = time.perf_counter()
        pooled = set(pool.map(hash_word, words))
        t3 = time.perf_counter()
    t4 = time.perf_counter()
    serial_s, pool_s, incl_s = t1 - t0, t3 - t2, t4 - t1
    print(json.dumps({
        "test": "hashwords", "words": len(words), "workers": workers,
        "serial_hashes": len(serial), "pool_hashes": len(pooled),
        "serial_s": serial_s, "pool_s": pool_s,
        "pool_incl_startup_s": incl_s,
        "speedup": serial_s / pool_s,
        "speedup_incl_startup": serial_s / incl_s,
        "py": sys.version.split()[0],
    }), flush=True)
    return 0 if serial == pooled else 1


if __name__ == '__main__':
    sys.exit(main())
