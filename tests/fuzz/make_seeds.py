#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_drain (tests/fuzz/corpus/).

Usage: make_seeds.py [DIR]   (default: corpus/ beside this script)
Each seed is a well-formed session, laid out as fuzz_drain.c describes:
a 64-byte header (capacity, steps, the owner's slots) and the records a
worker writes, in order, with wrap markers where a real producer puts
them.  The fuzzer mutates from there.
"""
import os
import struct
import sys

KIND_FRAG, KIND_INIT, KIND_RESULT, KIND_FAIL = 2, 4, 5, 6
KIND_RESULT_FULL, KIND_RESULT_ITEM = 8, 9
KIND_WRAP = 0xffff
RESULT_BIG, RESULT_CANCELED = 0x1, 0x2
BUSY, APPLY, CANCELED, EACH = 0x1, 0x2, 0x4, 0x8
# Header byte 3: the sinks have chunks_done (a map's result does).
BATCHED = 0x1


class Worker:
    """A producer laying records out from head0, as ring.h specifies."""

    def __init__(self, cap, head0=0):
        self.cap, self.head0, self.t = cap, head0, head0
        self.out = bytearray()
        self.marks = []

    def rec(self, kind, payload):
        size = (len(payload) + 8 + 7) & ~7
        assert size - 8 <= self.cap // 2 - 8, 'record too long for the ring'
        pos = self.t % self.cap
        to_end = self.cap - pos
        if size > to_end:
            self.out += struct.pack('<IHH', to_end - 8, KIND_WRAP, 0)
            self.out += bytes(to_end - 8)
            self.t += to_end
        self.out += struct.pack('<IHH', len(payload), kind, 0) + payload
        self.out += bytes(size - 8 - len(payload))
        self.t += size

    def publish(self):
        self.marks.append(self.t - self.head0)

    def result(self, slot, data=b'', nfail=0, flags=0, result_len=None):
        if result_len is None:
            result_len = len(data)
        self.rec(KIND_RESULT,
                 struct.pack('<IIQII', slot, flags, result_len, nfail, 0) + data)

    def result_full(self, slot, data, nfail=0):
        self.rec(KIND_RESULT_FULL, struct.pack('<II', slot, nfail) + data)

    def result_item(self, slot, item, data):
        """One item of an EACH slot: data is exactly its result_size."""
        self.rec(KIND_RESULT_ITEM, struct.pack('<II', slot, item) + data)

    def fail(self, slot, item, code, msg=b''):
        self.rec(KIND_FAIL, struct.pack('<IIiI', slot, item, code, len(msg)) + msg)

    def init(self, code=0, msg=b''):
        self.rec(KIND_INIT, struct.pack('<IIiI', 0, 0, code, len(msg)) + msg)

    def frag(self, slot, offset, data):
        self.rec(KIND_FRAG, struct.pack('<IIQ', slot, 0, offset) + data)

    def seed(self, slots, sleeping=0, sinks=0):
        """slots: up to 4 of (flags, nitems, result_size); sinks: BATCHED."""
        if not self.marks or self.marks[-1] != self.t - self.head0:
            self.publish()
        assert 1 <= len(self.marks) <= 4
        cap_sel = {64 << i: i for i in range(7)}[self.cap]
        hdr = struct.pack('<BBBBIQ', cap_sel, len(self.marks) - 1, sleeping,
                          sinks, 0, self.head0 % 2**64)
        tails = self.marks + [self.marks[-1]] * (4 - len(self.marks))
        hdr += struct.pack('<4Q', *tails)
        for i in range(4):
            f, n, rs = slots[i] if i < len(slots) else (0, 1, 0)
            hdr += struct.pack('<BBH', f, (n - 1) % 256, rs)
        assert len(hdr) == 64
        return hdr + bytes(self.out)


def seeds():
    # A map chunk completes, inline.
    w = Worker(256)
    w.init()
    w.result(0, bytes(range(32)))
    yield 'map_inline', w.seed([(BUSY, 4, 8)])

    # Map chunks in the short form (all results, the header's 8 bytes),
    # one of them with a failed item.
    w = Worker(256)
    w.init()
    w.result_full(0, bytes(range(8)))
    w.result_full(1, b'q' * 16, nfail=1)
    w.fail(1, 1, 9, b'second item')
    yield 'map_full', w.seed([(BUSY, 1, 8), (BUSY, 2, 8)])

    # Two items fail: RESULT with nfail, then the FAIL records.
    w = Worker(512)
    w.init()
    w.result(1, b'r' * 24, nfail=2)
    w.fail(1, 0, 7, b'first item failed')
    w.fail(1, 2, -22, b'')
    yield 'map_fails', w.seed([(BUSY, 1, 0), (BUSY, 3, 8)])

    # A big result in FRAG pieces, published piece by piece.
    w = Worker(128)
    w.frag(0, 0, b'a' * 40)
    w.publish()
    w.frag(0, 40, b'b' * 40)
    w.publish()
    w.frag(0, 80, b'c' * 20)
    w.result(0, flags=RESULT_BIG, result_len=100)
    yield 'big_frags', w.seed([(BUSY, 1, 100)])

    # An apply result shorter than its cap; a cancelled chunk comes back.
    w = Worker(256)
    w.result(3, b'short')
    w.result(2, flags=RESULT_CANCELED)
    yield 'apply_cancel', w.seed([(0, 1, 0), (0, 1, 0), (BUSY | CANCELED, 2, 4),
                                  (BUSY | APPLY, 1, 64)])

    # The initializer failed, with its message; the producer slept.
    w = Worker(128)
    w.init(5, b'initializer: no such file')
    yield 'init_failed', w.seed([], sleeping=1)

    # Several laps of a small ring: wrap markers, four publications.
    w = Worker(128, head0=104)
    for s in range(4):
        w.result(s, bytes([s]) * 8)
        w.publish()
    yield 'wrap_laps', w.seed([(BUSY, 1, 8)] * 4, sleeping=0x5)

    # Counters far from 0 (fuzz_drain keeps them below 2^63).
    w = Worker(128, head0=2**63 - 48)
    w.init()
    w.publish()
    w.result(0, b'x' * 16, nfail=1)
    w.fail(0, 1, 3, b'overflow lap')
    yield 'high_counters', w.seed([(BUSY, 2, 8)])

    # Packed one-item chunks (EACH), as dispatch sends a map's chunksize 1
    # to a sink with chunks_done: every item in order, a plain map chunk
    # coming between them (its count and theirs told per sink).
    w = Worker(256)
    w.init()
    w.result_item(0, 0, bytes([0]) * 8)
    w.result_item(0, 1, bytes([1]) * 8)
    w.publish()
    w.result_full(1, b'm' * 16)
    w.result_item(0, 2, bytes([2]) * 8)
    w.result_item(0, 3, bytes([3]) * 8)
    yield 'each_clean', w.seed([(BUSY | EACH, 4, 8), (BUSY, 2, 8)],
                               sinks=BATCHED)

    # An item in the middle fails: its FAIL is its only record.  Sinks
    # without chunks_done, so every item is told with its index.
    w = Worker(256)
    w.init()
    w.result_item(0, 0, b'a' * 8)
    w.result_item(0, 1, b'b' * 8)
    w.fail(0, 2, 7, b'item two failed')
    w.result_item(0, 3, b'd' * 8)
    w.result_item(0, 4, b'e' * 8)
    yield 'each_fail_mid', w.seed([(BUSY | EACH, 5, 8)])

    # The worker dies after three of six items, across a wrap: the owner
    # fails the other three, each on its own.  Item 1 fails in the pass
    # whose count of item 0 is still deferred.
    w = Worker(128, head0=80)
    w.result_item(0, 0, b'x' * 16)
    w.fail(0, 1, -5)
    w.publish()
    w.result_item(0, 2, b'z' * 16)
    yield 'each_cut_short', w.seed([(BUSY | EACH, 6, 16)], sinks=BATCHED)

    # A packed chunk cancelled before it started comes back unrun; another
    # beside it runs, with results of 4 bytes (records padded to 8).
    w = Worker(256)
    w.result(0, flags=RESULT_CANCELED)
    w.result_item(1, 0, b'1234')
    w.result_item(1, 1, b'5678')
    yield 'each_cancel', w.seed([(BUSY | EACH | CANCELED, 3, 8),
                                 (BUSY | EACH, 2, 4)])


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, 'corpus')
    os.makedirs(out, exist_ok=True)
    for name, data in seeds():
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)


if __name__ == '__main__':
    main()
