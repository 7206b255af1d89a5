#!/usr/bin/env python3
"""The GPU-memory section of bench/arm/run.sh's report (Markdown, stdout).

    gpu_report.py --runs DIR [--note TEXT]

DIR holds, for each allocator A in (vitalloc, mspace) and heap type T in
(cdram, phycont), gpu.A.T.plugin (the TCG plugin's `vtb-plugin` line) and
gpu.A.T.stdout (gpu_bench.c's `gpu:` line). A run that is missing or did
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


def mib(n):
    return f"{n / MiB:.2f} MiB"


def row(runs, alloc, name, typ):
    base = os.path.join(runs, f"gpu.{alloc}.{typ}")
    plugin = fields(read(base + ".plugin"), "vtb-plugin ")
    gpu = fields(read(base + ".stdout"), f"gpu: {typ} ")
    if not plugin or not gpu or not plugin.get("calls"):
        return table_row(name, f"did not run (see build/bench-arm/runs/gpu.{alloc}.{typ}.*)", *[""] * 6), None
    held = gpu["peak_held"]
    ratio = held / gpu["peak_live"] if gpu["peak_live"] else 0
    fail = f" ({gpu['failed']} failed)" if gpu["failed"] else ""
    blocks = f"{gpu['peak_blocks']}" if alloc == "vitalloc" else f"1 ({mib(gpu['block'])})"
    return (
        table_row(name, f"{plugin['calls']}{fail}", f"{plugin['insns'] / plugin['calls']:.1f}", plugin["max_call"],
                  mib(gpu["peak_live"]), mib(held), blocks, f"{ratio:.2f}"),
        gpu,
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", required=True)
    ap.add_argument("--note", default="")
    a = ap.parse_args()
    print("## GPU memory: heap objects against an mspace (texture streaming)\n")
    print(
        "bench/arm/gpu_bench.c: 3000 frames of GPU buffers of 4 KiB–4 MiB (log-distributed: 70 % textures of "
        "16 KiB–1 MiB, 5 % of 1–4 MiB, 20 % vertex/index buffers of 4–256 KiB, 5 % render targets of "
        "256 KiB–2 MiB), aligned 256 B–4 KiB; each frame evicts 0–3 and streams in up to 4 while fewer than "
        "8 MiB are resident, every 250th frame evicts half; a fixed-seed PRNG. *vitalloc*: "
        "`vitalloc_heap_memalign`/`_free` on a heap object of the type (default growth); *held* is the peak "
        "of the bytes of memblocks of that type (its metadata, in `USER_RW`, is not counted), *memblocks* their "
        "peak number. *dlmalloc-mspace*: the same calls through an mspace (bench/arm/mspace: the `dlmalloc` "
        "crate 0.2.14, built for `armv7-sony-vita-newlibeabihf`) over one memblock of the type obtained "
        "before counting, as `sceClibMspaceCreate` is used; *held* is its high-water mark (highest byte "
        "handed out minus the block's base, its state included); dlmalloc also writes boundary tags into "
        "that memory, which the GPU heap never does. Instructions as above (the allocator's own code, "
        "libgcc's division helpers it calls; never the simulated kernel).\n"
    )
    if a.note:
        print(a.note + "\n")
    for typ, title in TYPES:
        print(f"### {title}\n")
        print("\n".join(table_head("allocator", "calls", "insns/call", "max insns in one call", "peak live",
                                    "peak held", "memblocks", "held ÷ live")))
        for alloc, name in ALLOCS:
            print(row(a.runs, alloc, name, typ)[0])
        print()


if __name__ == "__main__":
    main()
