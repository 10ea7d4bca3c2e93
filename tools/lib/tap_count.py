#!/usr/bin/env python3
"""Counts test cases from meson test logs whose tests speak TAP.

Usage: tap_count.py LABEL=path/to/testlog.json [...]
Prints one line per log and, last, the line 'N passed, N failed, N skipped'.
A program that fails without reporting a failed case (a crash, a timeout, a
sanitizer or valgrind error at exit) counts as one failed case of its own;
one that passes without printing any TAP (the fuzz run) as one passed case.
"""
import json
import re
import sys

CASE = re.compile(r'^(not ok|ok)\b[^#]*(#\s*(\w+))?', re.IGNORECASE)


def count_log(path):
    passed = failed = skipped = 0
    broken = []
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            t = json.loads(line)
            p = fl = s = 0
            for out in (t.get('stdout') or '').splitlines():
                m = CASE.match(out.strip())
                if not m:
                    continue
                directive = (m.group(3) or '').upper()
                if directive == 'SKIP':
                    s += 1
                elif m.group(1).lower() == 'ok':
                    p += 1
                else:
                    fl += 1
            ok = t.get('result') in ('OK', 'SKIP', 'EXPECTEDFAIL')
            if t.get('result') == 'OK' and p + fl + s == 0:
                p = 1
            if not ok and fl == 0:
                fl = 1
                broken.append(f"{t.get('name')}: {t.get('result')}")
            elif not ok:
                broken.append(f"{t.get('name')}: {fl} failed")
            passed, failed, skipped = passed + p, failed + fl, skipped + s
    return passed, failed, skipped, broken


def main(args):
    total = [0, 0, 0]
    for arg in args:
        label, _, path = arg.partition('=')
        try:
            p, f, s, broken = count_log(path)
        except OSError as e:
            p, f, s, broken = 0, 1, 0, [f'no log: {e}']
        total = [total[0] + p, total[1] + f, total[2] + s]
        print(f'  {label}: {p} passed, {f} failed, {s} skipped')
        for b in broken:
            print(f'    FAILED {b}')
    print(f'{total[0]} passed, {total[1]} failed, {total[2]} skipped')
    return 1 if total[1] else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
