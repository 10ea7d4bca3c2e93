#!/usr/bin/env python3
"""Writes lib/ring.h with the one expression clang rejects rewritten.

Usage: ring_clang.py lib/ring.h OUTPUT  (see clang_compat.h for why)
Fails when the expression is not found exactly once, so that a change in
ring.h is noticed rather than fuzzed around.
"""
import sys

OLD = 'memcpy(rec, &v[0], RP_RING_HDR);'
NEW = 'memcpy(rec, (const void *)&v, RP_RING_HDR);'

src, out = sys.argv[1], sys.argv[2]
text = open(src).read()
if text.count(OLD) != 1:
    sys.exit(f'ring_clang.py: expected "{OLD}" once in {src}')
with open(out, 'w') as f:
    f.write(f'/* Generated from {src} by ring_clang.py: do not edit. */\n')
    f.write(text.replace(OLD, NEW))
