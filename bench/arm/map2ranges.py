#!/usr/bin/env python3
"""Turns a GNU ld map (-Wl,-Map=...) and its ELF into the range file of the
TCG plugin (bench/arm/plugin/vtb_plugin.c).

    map2ranges.py MAP ELF OUT --alloc REGEX... [--helper REGEX...]

Every input section placed in a code output section (.text, .init, .fini)
whose input file (as the map prints it,
e.g. ".../libc.a(lib_a-mallocr.o)") matches an --alloc regex becomes a
`range`; one matching a --helper regex a `helper` range. Every global or
weak function symbol of ELF that lies in a range is an `entry`; vtb_begin
and vtb_end are the markers. A summary goes to stderr. Fails if nothing
matched, or if memcpy/memset/memmove or a simulated-kernel function landed
inside the allocator's ranges.
"""
import argparse
import re
import subprocess
import sys

SECTION = re.compile(r"^ (\.\S+)(?:\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)\s+(.+))?$")
CONTINUATION = re.compile(r"^\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)\s+(.+)$")
OUTPUT_SECTION = re.compile(r"^(\.\S+)")
CODE_OUTPUTS = {".text", ".init", ".fini"}
FORBIDDEN = re.compile(r"^(memcpy|memset|memmove|__aeabi_mem\w*|sceKernel\w+|sim_\w+|__wrap__sbrk_r|vtb_\w+)$")


def input_sections(map_path):
    """Yields (output section, input section, address, size, file)."""
    with open(map_path, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    try:
        start = lines.index("Linker script and memory map") + 1
    except ValueError:
        sys.exit(f"map2ranges: {map_path}: not a GNU ld map")
    out_sec = None
    pending = None  # an input section name whose numbers are on the next line
    for line in lines[start:]:
        if pending is not None:
            m = CONTINUATION.match(line)
            if m:
                yield out_sec, pending, int(m.group(1), 16), int(m.group(2), 16), m.group(3).strip()
            pending = None
            continue
        m = OUTPUT_SECTION.match(line)
        if m:
            out_sec = m.group(1)
            continue
        m = SECTION.match(line)
        if m and m.group(1) != "*fill*":
            if m.group(2) is None:
                pending = m.group(1)
            else:
                yield out_sec, m.group(1), int(m.group(2), 16), int(m.group(3), 16), m.group(4).strip()


def function_symbols(elf):
    """(address without the Thumb bit, name) of every global/weak FUNC."""
    text = subprocess.run(
        ["arm-none-eabi-readelf", "-sW", elf], check=True, capture_output=True, text=True
    ).stdout
    syms, all_syms = [], {}
    for line in text.splitlines():
        f = line.split()
        if len(f) < 8 or not f[0].endswith(":"):
            continue
        value, typ, bind, ndx, name = f[1], f[3], f[4], f[6], f[7]
        if ndx == "UND" or not re.fullmatch(r"[0-9a-fA-F]+", value):
            continue
        addr = int(value, 16) & ~1
        if typ == "FUNC":
            all_syms.setdefault(name, addr)
            if bind in ("GLOBAL", "WEAK"):
                syms.append((addr, name))
    return syms, all_syms


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("map")
    ap.add_argument("elf")
    ap.add_argument("out")
    ap.add_argument("--alloc", action="append", required=True, help="regex on the input file")
    ap.add_argument("--helper", action="append", default=[], help="regex on the input file")
    a = ap.parse_args()
    alloc_re = [re.compile(r) for r in a.alloc]
    helper_re = [re.compile(r) for r in a.helper]

    ranges, helpers, files = [], [], set()
    for out_sec, sec, addr, size, path in input_sections(a.map):
        if size == 0 or not out_sec or not (out_sec in CODE_OUTPUTS or out_sec.startswith(".text")):
            continue  # only code counts (data and debug sections never execute)
        if any(r.search(path) for r in alloc_re):
            ranges.append((addr, addr + size))
            files.add(path)
        elif any(r.search(path) for r in helper_re):
            helpers.append((addr, addr + size))
    if not ranges:
        sys.exit(f"map2ranges: {a.map}: no code section matched {a.alloc}")

    def inside(addr, spans):
        return any(lo <= addr < hi for lo, hi in spans)

    syms, all_syms = function_symbols(a.elf)
    entries = sorted({(addr, name) for addr, name in syms if inside(addr, ranges)})
    bad = sorted(name for addr, name in syms if FORBIDDEN.match(name) and inside(addr, ranges))
    if bad:
        sys.exit(f"map2ranges: outside code inside the allocator's ranges: {', '.join(bad)}")
    for marker in ("vtb_begin", "vtb_end"):
        if marker not in all_syms:
            sys.exit(f"map2ranges: {a.elf} has no {marker}")
        if inside(all_syms[marker], ranges):
            sys.exit(f"map2ranges: {marker} is inside the allocator's ranges")
    if not entries:
        sys.exit("map2ranges: no global function in the allocator's ranges")

    with open(a.out, "w") as f:
        f.write(f"# from {a.map}\n")
        for lo, hi in sorted(ranges):
            f.write(f"range 0x{lo:x} 0x{hi:x}\n")
        for lo, hi in sorted(helpers):
            f.write(f"helper 0x{lo:x} 0x{hi:x}\n")
        for addr, name in entries:
            f.write(f"entry 0x{addr:x} {name}\n")
        f.write(f"begin 0x{all_syms['vtb_begin']:x}\n")
        f.write(f"end 0x{all_syms['vtb_end']:x}\n")
    code = sum(hi - lo for lo, hi in ranges)
    short = sorted({re.sub(r"^.*/", "", p) for p in files})
    print(
        f"map2ranges: {a.out}: {len(ranges)} ranges ({code} bytes of code) from {', '.join(short)}; "
        f"{len(helpers)} helper ranges; {len(entries)} entry points",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
