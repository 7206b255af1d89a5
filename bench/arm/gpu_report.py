#!/usr/bin/env python3
"""The GPU-memory section of bench/arm/run.sh's report (Markdown, stdout).

    gpu_report.py --runs DIR [--note TEXT]

DIR holds, for each allocator A in (vitalloc, mspace), heap type T in
(cdram, phycont) and workload W in (textures, buffers), gpu.A.T.W.plugin
(the TCG plugin's `vtb-plugin` line) and gpu.A.T.W.stdout (gpu_bench.c's
`gpu:` line). A run that is missing or did
not finish becomes a row saying so: this is a benchmark, it reports and
never judges.
"""
import argparse
import os

from report_lib import MiB, fields, read, table_head, table_row

TYPES = [
    ("cdram", "CDRAM (`USER_CDRAM_RW` 0x09408060, 256 KiB granularity)"),
    ("phycont", "phycont (`USER_MAIN_PHYCONT_RW` 0x0C80D060, 1 MiB granularity)"),
]
ALLOCS = [("vitalloc", "vitalloc heap object"), ("mspace", "dlmalloc-mspace")]
WORKLOADS = [("textures", "texture streaming"), ("buffers", "small buffers")]


def mib(n):
    return f"{n / MiB:.2f} MiB"


def row(runs, alloc, name, typ, work):
    tag = f"gpu.{alloc}.{typ}.{work}"
    base = os.path.join(runs, tag)
    plugin = fields(read(base + ".plugin"), "vtb-plugin ")
    gpu = fields(read(base + ".stdout"), f"gpu: {typ} {work} ")
    if not plugin or not gpu or not plugin.get("calls"):
        return [name, f"did not run (see build/bench-arm/runs/{tag}.*)", *[""] * 8], None
    held = gpu["peak_held"]
    ratio = held / gpu["peak_live"] if gpu["peak_live"] else 0
    fail = f" ({gpu['failed']} failed)" if gpu["failed"] else ""
    if alloc == "vitalloc":
        blocks = f"{gpu['peak_blocks']}"
        frag = f"{gpu['frag_avg'] / 10:.1f} % ({gpu['frag_max'] / 10:.1f} %)"
        per = gpu["meta_peak"] / gpu["peak_allocs"] if gpu["peak_allocs"] else 0
        meta = f"{gpu['meta_peak'] / 1024:.0f} KiB ({per:.0f} B/block)"
    else:
        blocks, frag, meta = f"1 ({mib(gpu['block'])})", "—", "in the block"
    return (
        [name, f"{plugin['calls']}{fail}", f"{plugin['insns'] / plugin['calls']:.1f}", plugin["max_call"],
         mib(gpu["peak_live"]), mib(held), blocks, f"{ratio:.2f}", frag, meta],
        gpu,
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", required=True)
    ap.add_argument("--note", default="")
    a = ap.parse_args()
    print("## GPU memory: heap objects against an mspace\n")
    print(
        "bench/arm/gpu_bench.c: 3000 frames of GPU buffers of 4 KiB–4 MiB (log-distributed: 70 % textures of "
        "16 KiB–1 MiB, 5 % of 1–4 MiB, 20 % vertex/index buffers of 4–256 KiB, 5 % render targets of "
        "256 KiB–2 MiB), aligned 256 B–4 KiB; each frame evicts 0–3 and streams in up to 4 while fewer than "
        "8 MiB are resident, every 250th frame evicts half. *Small buffers*: 3000 frames of a renderer's "
        "16 B-aligned buffers (50 % uniform buffers of 16–256 B, 35 % vertex buffers of 64 B–8 KiB, 15 % index "
        "buffers of 32 B–1 KiB; each frame evicts 0–7 and loads up to 16 while fewer than 512 KiB are "
        "resident, every 250th frame evicts half) plus 4–15 per-frame uniform buffers of 64–256 B freed two "
        "frames later. A fixed-seed PRNG. *vitalloc*: "
        "`vitalloc_heap_memalign`/`_free` on a heap object of the type (default growth); *held* is the peak "
        "of the bytes of memblocks of that type (its metadata, in `USER_RW`, is not counted), *memblocks* their "
        "peak number. *dlmalloc-mspace*: the same calls through an mspace (bench/arm/mspace: the `dlmalloc` "
        "crate 0.2.14, built for `armv7-sony-vita-newlibeabihf`) over one memblock of the type obtained "
        "before counting, as `sceClibMspaceCreate` is used; *held* is its high-water mark (highest byte "
        "handed out minus the block's base, its state included); dlmalloc also writes boundary tags into "
        "that memory, which the GPU heap never does. Instructions as above (the allocator's own code, "
        "libgcc's division helpers it calls; never the simulated kernel). *Fragmentation* (vitalloc): at "
        "the end of each frame, 1 − `largest_free` / `free_bytes` of `vitalloc_heap_stats`, the share of its "
        "free pages a single block as large as all of them could not use; average (maximum). *Records*: the "
        "peak of the heap's metadata memblocks (`USER_RW`, all of its out-of-band records and page map), and "
        "that divided by the peak number of live blocks; the mspace keeps its records in the block.\n"
    )
    if a.note:
        print(a.note + "\n")
    for typ, title in TYPES:
        print(f"### {title}\n")
        print("\n".join(table_head("workload", "allocator", "calls", "insns/call", "max insns in one call",
                                    "peak live", "peak held", "memblocks", "held ÷ live", "fragmentation",
                                    "records")))
        for work, wname in WORKLOADS:
            for alloc, name in ALLOCS:
                print(table_row(wname, *row(a.runs, alloc, name, typ, work)[0]))
        print()


if __name__ == "__main__":
    main()
