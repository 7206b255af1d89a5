"""An allocation-heavy, deterministic Python workload for tools/test-preload.sh.

Run once under glibc's malloc and once with LD_PRELOAD=libvitalloc.so; the
two stdouts must be identical byte for byte. It exercises many allocation
sizes and patterns: dicts and lists of hundreds of thousands of objects,
string building, big bytearrays (tens of MiB, grown and shrunk), a JSON
round trip, sorting, sets, deletion in bulk, and threads that allocate and
free concurrently (results combined in a fixed order).

stderr (not compared) gets one line naming the allocator in use, found
through ctypes in the running process: "allocator: vitalloc ..." when
vitalloc_stats is present, else "allocator: glibc". With --expect vitalloc
it also exits 3 unless vitalloc is in use, counted allocations, and
vitalloc_check() passes; with --expect glibc, unless it is absent.
"""

import ctypes
import hashlib
import json
import sys
import threading


def digest(obj):
    """A stable digest of a JSON-able object."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def lcg(seed):
    """A small deterministic pseudo-random generator (no `random` state)."""
    x = seed & 0xFFFFFFFF
    while True:
        x = (1103515245 * x + 12345) & 0x7FFFFFFF
        yield x


def dicts_and_lists():
    rng = lcg(1)
    d = {}
    for i in range(200_000):
        k = "key-%d-%d" % (i, next(rng) % 1000)
        d[k] = [i, str(i) * (i % 7), {"n": i % 13}]
    total = sum(v[0] for v in d.values())
    lens = sum(len(v[1]) for v in d.values())
    # Delete two thirds, then grow again (dict resizing both ways).
    for i, k in enumerate(list(d)):
        if i % 3:
            del d[k]
    for i in range(100_000):
        d["again-%d" % i] = bytes(i % 300)
    nested = [[j * i for j in range(i % 50)] for i in range(20_000)]
    flat = [x for row in nested for x in row]
    flat.sort(key=lambda v: (v % 1009, v))
    print("dicts: entries %d, total %d, string bytes %d" % (len(d), total, lens))
    print("lists: rows %d, flat %d, head %s, digest %s"
          % (len(nested), len(flat), flat[:5], digest(flat[::997])))


def strings():
    parts = []
    for i in range(100_000):
        parts.append("%06d:%s" % (i, "abcdefghij"[i % 10] * (i % 40)))
    s = "|".join(parts)
    words = s.split("|")
    upper = s.upper()
    replaced = s.replace("a", "AAAA")
    built = ""
    for i in range(5_000):
        built += chr(65 + i % 26) * (i % 9)
    print("strings: joined %d, words %d, upper %s, replaced %d, built %d %s"
          % (len(s), len(words), hashlib.md5(upper.encode()).hexdigest()[:12],
             len(replaced), len(built), hashlib.md5(built.encode()).hexdigest()[:12]))


def bytearrays():
    sizes = [1 << 20, 7 << 20, 32 << 20, 3 << 20, 64 << 20]
    out = []
    for n in sizes:
        b = bytearray(n)
        for i in range(0, n, 4093):
            b[i] = (i // 4093) & 0xFF
        b.extend(b[: n // 3])          # grow by a third
        del b[n // 2:]                 # shrink to half
        b += bytes(range(256)) * 1000  # grow again
        out.append((len(b), hashlib.sha256(b).hexdigest()[:16]))
    m = memoryview(bytearray(16 << 20))
    m[100:200] = bytes(100)
    chunks = [bytes(m[i:i + 65536]) for i in range(0, len(m), 65536)]
    print("bytearrays: %s; chunks %d" % (out, len(chunks)))


def json_round_trip():
    rng = lcg(7)
    doc = {
        "users": [
            {"id": i, "name": "user%d" % i, "tags": ["t%d" % (next(rng) % 50) for _ in range(i % 8)],
             "score": (next(rng) % 100000) / 100.0, "active": i % 3 == 0,
             "profile": {"bio": "x" * (i % 200), "langs": {"c": i % 5, "rust": i % 7}}}
            for i in range(30_000)
        ],
        "meta": {"version": 3, "note": "\u00e9\u00e8\u4e2d\u6587"},
    }
    text = json.dumps(doc, sort_keys=True, indent=1)
    back = json.loads(text)
    assert back == doc
    again = json.dumps(back, sort_keys=True, indent=1)
    assert again == text
    print("json: %d bytes, %d users, digest %s"
          % (len(text), len(back["users"]), hashlib.sha256(text.encode()).hexdigest()[:16]))


def sets_and_tuples():
    a = {(i, i * i % 1013) for i in range(150_000)}
    b = {(i, i * i % 1013) for i in range(50_000, 250_000)}
    inter, union = a & b, a | b
    fro = frozenset(x[1] for x in union)
    print("sets: a %d b %d inter %d union %d distinct %d sum %d"
          % (len(a), len(b), len(inter), len(union), len(fro), sum(fro)))


def threads():
    results = [None] * 4

    def work(t):
        rng = lcg(100 + t)
        keep = []
        acc = 0
        for i in range(60_000):
            r = next(rng)
            obj = bytearray(r % 5000) if r % 4 == 0 else ["s%d" % (r % 977)] * (r % 30)
            keep.append(obj)
            if len(keep) > 500:
                victim = keep.pop(r % len(keep))
                acc += len(victim)
        acc += sum(len(x) for x in keep)
        results[t] = acc

    ts = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("threads: %s" % results)


def vitalloc_in_process():
    """(name, stats) of the allocator serving this process."""
    me = ctypes.CDLL(None)
    try:
        stats_fn = me.vitalloc_stats
    except AttributeError:
        return "glibc", None

    class Stats(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in (
            "in_use", "in_use_peak", "reserved", "reserved_peak", "allocations",
            "segments", "large_blocks", "source_blocks", "slabs", "slab_bytes",
            "free_bytes", "limit")] + [(n, ctypes.c_uint64) for n in (
                "malloc_calls", "free_calls", "realloc_calls", "failed_calls")] + [
            ("thread_heaps", ctypes.c_size_t)]  # vitalloc.h's vitalloc_stats_t, in order

    s = Stats()
    stats_fn(ctypes.byref(s))
    check = me.vitalloc_check()
    figures = {f: getattr(s, f) for f, _ in Stats._fields_}
    figures["check"] = check
    return "vitalloc", figures


def main():
    expect = None
    if len(sys.argv) == 3 and sys.argv[1] == "--expect":
        expect = sys.argv[2]
    print("python %d.%d workload" % sys.version_info[:2])
    dicts_and_lists()
    strings()
    bytearrays()
    json_round_trip()
    sets_and_tuples()
    threads()
    print("done")
    sys.stdout.flush()

    name, stats = vitalloc_in_process()
    if stats:
        print("allocator: vitalloc malloc_calls=%d free_calls=%d realloc_calls=%d "
              "peak_in_use=%d peak_reserved=%d check=%d"
              % (stats["malloc_calls"], stats["free_calls"], stats["realloc_calls"],
                 stats["in_use_peak"], stats["reserved_peak"], stats["check"]),
              file=sys.stderr)
    else:
        print("allocator: glibc", file=sys.stderr)
    if expect == "vitalloc":
        if not stats:
            print("FAIL: vitalloc_stats not found in the process: LD_PRELOAD not in effect",
                  file=sys.stderr)
            return 3
        if stats["malloc_calls"] == 0 or stats["check"] != 0:
            print("FAIL: vitalloc in the process but malloc_calls=%d check=%d"
                  % (stats["malloc_calls"], stats["check"]), file=sys.stderr)
            return 3
    elif expect == "glibc" and stats:
        print("FAIL: vitalloc is in the baseline run", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
