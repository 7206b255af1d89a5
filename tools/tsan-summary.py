#!/usr/bin/env python3
"""Groups ThreadSanitizer reports by where the two racing accesses are.

Reads TSan output (files or stdin); prints one line per distinct pair of
accesses, most frequent first: the count, then each access as its kind and
size and its first frames in the project (src/, tests/, c-tests/), e.g.

  12  Write 8 src/heap/meta.rs:200 give < src/heap/pages.rs:304 free
      vs Read 8 src/heap/span.rs:88 owner < src/front/mod.rs:120 free_slow

    tools/tsan-summary.py build/c-host-tsan/Testing/Temporary/LastTest.log
"""
import os
import re
import sys
from collections import Counter

FRAMES = 2  # frames of the project shown per access
# The repository's root (paths in reports may be absolute).
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + "/"
access_re = re.compile(r"^\s*(?:(Previous|Atomic) )?(?:(atomic) )?(read|write|Read|Write)[^\n]*?of size (\d+)", re.I)
frame_re = re.compile(r"^\s*#\d+ (.*) (\S+?):(\d+)(?::\d+)? \(")
generics_re = re.compile(r"<[^<>]*>")


def frames_of(lines, i):
    out = []
    while i < len(lines) and lines[i].strip().startswith("#"):
        m = frame_re.match(lines[i])
        i += 1
        if not m:
            continue
        fn, path, line = m.groups()
        while generics_re.search(fn):
            fn = generics_re.sub("", fn)
        fn = re.sub(r"::h[0-9a-f]{16}$", "", fn)
        if path.startswith(ROOT):
            path = path[len(ROOT):]
        if path.split("/")[0] in ("src", "tests", "c-tests"):
            out.append(f"{path}:{line} {fn}")
    return out, i


def main():
    text = "".join(open(f, errors="replace").read() for f in sys.argv[1:]) if sys.argv[1:] else sys.stdin.read()
    lines = text.splitlines()
    pairs = Counter()
    kinds = Counter()
    i = 0
    while i < len(lines):
        m = re.match(r"WARNING: ThreadSanitizer: (.*?) \(pid", lines[i])
        if not m:
            i += 1
            continue
        kinds[m.group(1)] += 1
        accesses = []
        i += 1
        while i < len(lines) and not lines[i].startswith("SUMMARY:") and len(accesses) < 2:
            a = access_re.match(lines[i])
            if a:
                kind = ("Previous " if a.group(1) == "Previous" else "") + ("atomic " if a.group(2) or a.group(1) == "Atomic" else "") + a.group(3).capitalize()
                fr, i = frames_of(lines, i + 1)
                loc = " < ".join(fr[:FRAMES]) or "(no frame in the project)"
                accesses.append(f"{kind} {a.group(4)} {loc}")
            else:
                i += 1
        pairs[" \n      vs ".join(accesses) if accesses else "(no access lines)"] += 1
    for k, n in kinds.most_common():
        print(f"{n} reports: {k}")
    for p, n in pairs.most_common():
        print(f"{n:4}  {p}")


if __name__ == "__main__":
    main()
