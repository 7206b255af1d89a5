#!/usr/bin/env python3
"""The Markdown report of bench/arm/run.sh, from the outputs of its runs.

    report.py --rows ROWS --runs DIR [--meta TEXT] [--note TEXT]

ROWS has one line per row, `id|name|description|group|size|elf base|args`; DIR holds,
for each allocator A in (newlib, vitalloc), A.<id>.plugin (the plugin's
line), A.<id>.stdout (the harness's `vtb:` line, arm_bench's `vtb-ops:`)
and A.<id>.stderr (lua_driver's `lua-driver: <name> calls=`).
"""
import argparse
import os
import re

from report_lib import KiB, MiB, fields, read, table_head, table_row

# The goals (DESIGN.md section 4), as checked below.
RATIO_GOAL = 0.40
HELD_FACTOR = 1.05  # where peak live >= 1 MiB
HELD_SLACK = 256 * KiB  # otherwise: newlib's mark + this
GROWTH_TOLERANCE = 1.10  # max/call on the big heap <= this x the small heap's


def load(runs, alloc, rid):
    base = os.path.join(runs, f"{alloc}.{rid}")
    plugin = fields(read(base + ".plugin"), "vtb-plugin ")
    stdout = read(base + ".stdout")
    report = fields(stdout, "vtb: ")
    if not plugin or not report or not plugin.get("calls"):
        return None
    r = dict(plugin)
    r.update(report)
    m = re.search(r"^vtb-ops: (\d+)", stdout, re.M)
    if not m:
        m = re.search(r"^lua-driver: \S+ calls=(\d+)", read(base + ".stderr"), re.M)
    r["program_calls"] = int(m.group(1)) if m else None
    return r


def entry_names(ranges_path):
    """address -> the entry points' names there (from a plugin range file)."""
    names = {}
    for line in read(ranges_path).splitlines():
        f = line.split()
        if len(f) >= 3 and f[0] == "entry":
            a = int(f[1], 16) & ~1
            names[a] = f"{names[a]}/{f[2]}" if a in names else f[2]
    return names


def size(n):
    if n >= 10 * MiB:
        return f"{n / MiB:.0f} MiB"
    if n >= MiB:
        return f"{n / MiB:.1f} MiB"
    if n >= 10 * KiB:
        return f"{n / KiB:.0f} KiB"
    if n >= KiB:
        return f"{n / KiB:.1f} KiB"
    return f"{n} B"


def pct(x):
    return f"{100 * x:.0f} %"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", required=True)
    ap.add_argument("--runs", required=True)
    ap.add_argument("--elfdir", help="where <base>.<allocator>.elf.ranges are (default: the parent of --runs)")
    ap.add_argument("--meta", default="")
    ap.add_argument("--note", default="")
    a = ap.parse_args()

    rows, bases = [], {}
    with open(a.rows, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                rid, label, desc, group, sz, base, _args = line.split("|", 6)
                rows.append((rid, label, desc, group, sz))
                bases[rid] = base

    out = []
    p = out.append
    p("# vitalloc vs newlib's malloc on the Cortex-A9 (qemu-arm, exact instruction counts)")
    p("")
    if a.meta:
        p(a.meta)
        p("")
    p("Instructions executed inside the allocator's own code (newlib: its malloc objects in libc.a; "
      "vitalloc: libvitalloc.a; both plus the libgcc division helpers they call), counted between "
      "the workload's start and end by a TCG plugin; never the simulated kernel, memcpy/memmove or "
      "memset. *Held*: vitalloc's simulated-kernel memblock peak; newlib's sbrk high-water mark "
      "(its 128 MiB VitaSDK block is reserved whatever the program does). *Efficiency* = peak live ÷ held.")
    p("")
    columns = ("workload", "calls", "newlib insns/call", "vitalloc insns/call", "vitalloc ÷ newlib",
               "max insns in one call newlib", "max vitalloc", "peak live", "vitalloc held", "newlib sbrk mark",
               "efficiency newlib", "efficiency vitalloc", "vitalloc held ÷ newlib mark")
    out.extend(table_head(*columns))

    results, notes, missing = {}, [], []
    for rid, label, _desc, group, sz in rows:
        n, v = load(a.runs, "newlib", rid), load(a.runs, "vitalloc", rid)
        if not n or not v:
            which = " and ".join(x for x, r in (("newlib", n), ("vitalloc", v)) if not r)
            missing.append(f"{label}: the {which} run did not finish (build/bench-arm/runs/*.{rid}.*)")
            p(table_row(label, *["—"] * (len(columns) - 1)))
            continue
        results[rid] = (label, group, sz, n, v)
        npc, vpc = n["insns"] / n["calls"], v["insns"] / v["calls"]
        calls = n["calls"]
        made = n["program_calls"] if group != "-" else None  # lua_driver also counts its set-up calls
        if v["calls"] != n["calls"] or (made is not None and made != n["calls"]):
            notes.append(f"{label}: calls counted newlib {n['calls']}, vitalloc {v['calls']}, "
                         f"made by the program {made}.")
        if v["peak_live"] != n["peak_live"]:
            notes.append(f"{label}: peak live differs (newlib run {n['peak_live']}, vitalloc run {v['peak_live']}).")
        held, mark, live = v["kernel_peak"], n["sbrk_peak"], n["peak_live"]
        eff_n = pct(live / mark) if mark else "—"
        eff_v = pct(live / held) if held else "—"
        rel = f"{held / mark:.2f}" if mark else "—"
        p(table_row(label, calls, f"{npc:.1f}", f"{vpc:.1f}", f"{vpc / npc:.2f}", n["max_call"], v["max_call"],
                    size(live), size(held), size(mark), eff_n, eff_v, rel))
    p("")

    p("Workloads (bench/arm/arm_bench.c; every size and decision from a fixed-seed PRNG, "
      "the first byte of every block written):")
    p("")
    for _rid, label, desc, _group, _sz in rows:
        p(f"- **{label}**: {desc}")
    p("")
    helper_v = [f"{r[0]} {100 * r[4]['helper'] / r[4]['insns']:.1f} %"
                for r in results.values() if r[4]["helper"]]
    helper_n = [f"{r[0]} {100 * r[3]['helper'] / r[3]['insns']:.1f} %"
                for r in results.values() if r[3]["helper"]]
    if helper_v or helper_n:
        p("Share of libgcc division helpers in the counts: vitalloc " + ("; ".join(helper_v) or "none")
          + "; newlib " + ("; ".join(helper_n) or "none") + ".")
        p("")
    elfdir = a.elfdir or os.path.dirname(os.path.abspath(a.runs))
    slow = []
    for rid, (label, _g, _s, n, v) in results.items():
        names = entry_names(os.path.join(elfdir, f"{bases[rid]}.vitalloc.elf.ranges"))
        at = names.get(v.get("max_at"), hex(v.get("max_at", 0)))
        slow.append(f"{label} {v['max_call']} ({at}, call {v.get('max_index')} of {v['calls']})")
    if slow:
        p("vitalloc's largest call per workload (instructions, entry point, which call): " + "; ".join(slow) + ".")
        p("")
    if notes or missing or a.note:
        p("Notes:")
        p("")
        for x in notes + missing + ([a.note] if a.note else []):
            p(f"- {x}")
        p("")

    # ---- targets
    p("## Targets")
    p("")
    miss = [f"{lab} {v['insns'] / v['calls'] / (n['insns'] / n['calls']):.2f}"
            for lab, _g, _s, n, v in results.values()
            if v["insns"] / v["calls"] > RATIO_GOAL * n["insns"] / n["calls"]]
    ok = "met" if not miss else f"missed on {len(miss)} of {len(results)}: " + "; ".join(miss)
    p(f"- instructions per call ≤ {RATIO_GOAL:.2f} × newlib's on every workload: **{ok}**.")

    miss = []
    for lab, _g, _s, n, v in results.values():
        held, mark, live = v["kernel_peak"], n["sbrk_peak"], n["peak_live"]
        limit = HELD_FACTOR * mark if live >= MiB else mark + HELD_SLACK
        if held > limit:
            miss.append(f"{lab} {size(held)} > {size(int(limit))}")
    ok = "met" if not miss else f"missed on {len(miss)} of {len(results)}: " + "; ".join(miss)
    p(f"- memory held ≤ {HELD_FACTOR:.2f} × newlib's sbrk mark where peak live ≥ 1 MiB, else ≤ newlib's mark "
      f"+ 256 KiB: **{ok}**.")

    groups = {}
    for lab, g, sz, n, v in results.values():
        if g != "-":
            groups.setdefault(g, {})[sz] = (n, v)
    parts, grew = [], []
    for g, d in groups.items():
        if "small" in d and "big" in d:
            (ns, vs), (nb, vb) = d["small"], d["big"]
            parts.append(f"{g} {vs['max_call']} → {vb['max_call']} (newlib {ns['max_call']} → {nb['max_call']})")
            if vb["max_call"] > GROWTH_TOLERANCE * vs["max_call"]:
                grew.append(g)
    ok = "met" if not grew else "missed on " + ", ".join(grew)
    p(f"- vitalloc's largest call does not grow with the heap (big heap ≤ {GROWTH_TOLERANCE:.2f} × small): "
      f"**{ok}**; small → big: " + "; ".join(parts) + ".")
    print("\n".join(out))


if __name__ == "__main__":
    main()
