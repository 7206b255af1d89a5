#!/usr/bin/env bash
# ARM instruction counts: vitalloc's dist/vita/lib/libvitalloc.a against
# newlib's own malloc (dlmalloc 2.6, what VitaSDK ships) on the same call
# sequence, both linked by arm-none-eabi-gcc for the Cortex-A9 and run under
# qemu-arm. Guest instructions are counted from qemu's execution trace
# (-singlestep -d exec: one trace line per instruction); each workload runs
# with N and 2N operations and the difference is divided by N, so start-up
# does not count. A benchmark, not a test: it fails only if something cannot
# be built or run.
#
# vitalloc takes the heap lock (the simulated kernel's LwMutex) twice per
# malloc+free; newlib's malloc in Debian's newlib takes none (VitaSDK's
# takes its own LwMutex, the same kind of lock). The table therefore also
# shows vitalloc's count without the simulated lock, measured separately.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD
out=$root/build/bench-arm
mkdir -p "$out"
N=${N:-2000}
flags=(-mcpu=cortex-a9 -mfpu=neon -mfloat-abi=hard -mthumb --specs=rdimon.specs -O2 -fno-builtin)

[ -f dist/vita/lib/libvitalloc.a ] || { echo "bench-arm: run 'make vita' first" >&2; exit 1; }
cmake -S c-tests/vita-sim -B "$out/sim" -DCMAKE_BUILD_TYPE=Release -DCMAKE_TOOLCHAIN_FILE="$root/c-tests/vita-sim/arm-none-eabi.toolchain.cmake" >"$out/sim.log" 2>&1
cmake --build "$out/sim" >>"$out/sim.log" 2>&1
crt=$(find "$out/sim" -name 'sim_crt.c.o*' | head -n1)
sim=("$out/sim/libsim_sbrk.a" "$out/sim/libsim_kernel.a")
link() { arm-none-eabi-gcc "${flags[@]}" "$@" 2>&1 | grep -v 'GNU-stack\|will be removed' || true; }
link bench/arm/arm_bench.c "$crt" dist/vita/lib/libvitalloc.a "${sim[@]}" -o "$out/vitalloc.elf"
link bench/arm/arm_bench.c "$crt" "${sim[@]}" -o "$out/newlib.elf"
link -Ic-tests/vita-sim bench/arm/lwmutex.c "$out/sim/libsim_kernel.a" -o "$out/lwmutex.elf"

count() { # elf workload n -> guest instructions executed
  qemu-arm -cpu cortex-a9 -singlestep -d nochain,exec -D "$out/trace.txt" "$1" "$2" "$3" >/dev/null
  grep -c '^Trace' "$out/trace.txt"
}
per_op() { # elf workload
  local a b
  a=$(count "$1" "$2" "$N")
  b=$(count "$1" "$2" $((2 * N)))
  echo $(((b - a) / N))
}

lock=$(per_op "$out/lwmutex.elf" lock)
echo "bench-arm: the simulated LwMutex lock+unlock costs $lock instructions" >&2
{
  echo "| workload (per operation) | newlib malloc | vitalloc | vitalloc without the simulated lock |"
  echo "|---|---:|---:|---:|"
  for w in pair small mixed; do
    n=$(per_op "$out/newlib.elf" "$w")
    v=$(per_op "$out/vitalloc.elf" "$w")
    locks=1
    [ "$w" = pair ] && locks=2 # a malloc and a free per operation
    echo "| $w | $n | $v | $((v - locks * lock)) |"
  done
} | tee "$out/results.md"
