#!/usr/bin/env python3
"""Per-function profile of one bench/arm run: the TCG plugin's pcs= dump
(bench/arm/plugin/vtb_plugin.c) summed per function symbol of the ELF.

    profile.py ELF PCS [--calls N] [--top N] [--lines]

Every counted instruction is charged to the function symbol (local ones
included: LTO leaves few) whose [value, value + size) holds it; with
--lines, to the innermost source function and line of addr2line -i (needs
a build with line tables, e.g. CARGO_PROFILE_RELEASE_DEBUG=line-tables-only).
--calls: the plugin's calls= count, to print instructions per call.
"""
import argparse
import bisect
import collections
import subprocess


def symbols(elf):
    out = subprocess.run(["arm-none-eabi-readelf", "-sW", elf], check=True, capture_output=True, text=True).stdout
    syms = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) < 8 or not f[0].endswith(":") or f[3] != "FUNC" or f[6] == "UND":
            continue
        addr, size = int(f[1], 16) & ~1, int(f[2], 0)
        if size and (addr not in syms or syms[addr][0] < size):
            syms[addr] = (size, f[7])
    starts = sorted(syms)
    return starts, syms


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("elf")
    ap.add_argument("pcs")
    ap.add_argument("--calls", type=int, default=0)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--lines", action="store_true")
    a = ap.parse_args()
    hits = collections.Counter()
    with open(a.pcs) as f:
        for line in f:
            addr, n = line.split()
            hits[int(addr, 16)] += int(n)
    total = sum(hits.values())
    starts, syms = symbols(a.elf)
    per = collections.Counter()
    for addr, n in hits.items():
        i = bisect.bisect_right(starts, addr) - 1
        name = "?"
        if i >= 0 and addr < starts[i] + syms[starts[i]][0]:
            name = syms[starts[i]][1]
        per[name] += n
    div = a.calls or 1
    unit = "insns/call" if a.calls else "insns"
    print(f"total {total} insns" + (f", {a.calls} calls, {total / a.calls:.1f}/call" if a.calls else ""))
    print(f"{unit:>10}  share  function")
    for name, n in per.most_common(a.top):
        print(f"{n / div:10.1f} {100 * n / total:5.1f}%  {name}")
    if a.lines:
        addrs = sorted(hits)
        out = subprocess.run(
            ["arm-none-eabi-addr2line", "-e", a.elf, "-a", "-i", "-f", "-C"] + [hex(x) for x in addrs],
            check=True, capture_output=True, text=True,
        ).stdout.splitlines()
        # -a: each address's line (0x...) comes first, then (function,
        # file:line) pairs from the innermost inlined frame outwards.
        per_line, cur, first = collections.Counter(), None, False
        i = 0
        while i < len(out):
            if out[i].startswith("0x"):
                cur, first = int(out[i], 16), True
                i += 1
                continue
            fn, loc = out[i], out[i + 1] if i + 1 < len(out) else "?"
            if first and cur is not None:
                per_line[f"{loc.split(' ')[0].rsplit('/', 1)[-1]} {fn}"] += hits[cur]
                first = False
            i += 2
        print(f"\n{unit:>10}  share  source line (innermost inlined frame)")
        for key, n in per_line.most_common(a.top * 2):
            print(f"{n / div:10.1f} {100 * n / total:5.1f}%  {key}")

if __name__ == "__main__":
    main()
