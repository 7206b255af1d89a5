#!/usr/bin/env bash
# Builds vitalloc-bench, measures throughput (one and two threads), game-frame
# call latency, heap efficiency and (with callgrind) instructions per call
# for every workload x allocator, all in this one run, and prints the
# Markdown report to stdout and to bench/results.md.
#
#   bench/run.sh            # everything (about 1-2 minutes on 2 cores)
#   JOBS=1 bench/run.sh     # callgrind runs one at a time
#   REPS=9 SCALE=8 bench/run.sh   # longer throughput runs (and more latency reps)
#
# A benchmark, not a test: it fails only if something cannot be built or
# run, never because a number is bad. Raw data (TSV, callgrind output,
# callgrind_annotate of every vitalloc run) is kept in bench/target/bench-results/.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out="$here/target/bench-results"
bin="$here/target/release/vitalloc-bench"
jobs=${JOBS:-$(nproc)}
reps=${REPS:-7}
scale=${SCALE:-4}
allocators="vitalloc glibc mimalloc dlmalloc talc rlsf"
workloads="pair pair-empty lifo random frame frag"

cd "$here"
cargo build --release --quiet
rm -rf "$out"
mkdir -p "$out"

{
    rev=$(git -C "$here/.." rev-parse --short HEAD 2> /dev/null || echo unknown)
    if [ -n "$(git -C "$here/.." status --porcelain -- src Cargo.toml 2> /dev/null)" ]; then
        rev="$rev + uncommitted changes"
    fi
    echo "vitalloc $rev; $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs, $(uname -m);" \
        "throughput best of $reps at scale $scale; latency lowest of $reps."
} > "$out/meta.txt"

echo "== throughput (best of $reps, scale $scale)" >&2
"$bin" throughput --reps "$reps" --scale "$scale" > "$out/throughput.tsv"

echo "== two threads (best of $reps, scale $scale)" >&2
"$bin" threads --reps "$reps" --scale "$scale" > "$out/threads.tsv"

echo "== game-frame call latency ($reps reps)" >&2
"$bin" latency --reps "$reps" > "$out/latency.tsv"

echo "== heap efficiency (one fresh process per combination)" >&2
for a in $allocators; do
    for w in $workloads; do
        "$bin" efficiency "$a" "$w" >> "$out/efficiency.tsv"
    done
done

valgrind=$(command -v valgrind || true)
if [ -n "$valgrind" ]; then
    echo "== callgrind ($jobs at a time)" >&2
    # Only the three call shims are measured; "null" is the baseline whose
    # count (the shims' own instructions) the report subtracts.
    for a in null $allocators; do
        for w in $workloads; do
            echo "$a $w"
        done
    done | xargs -P "$jobs" -L 1 sh -c '
        "$0" --tool=callgrind --collect-atstart=no \
            --toggle-collect="*cg_alloc*" --toggle-collect="*cg_dealloc*" --toggle-collect="*cg_realloc*" \
            --callgrind-out-file="$2/cg.$3.$4.out" --log-file="$2/cg.$3.$4.log" \
            "$1" --only "$3" "$4" > "$2/cg.$3.$4.ops"
    ' "$valgrind" "$bin" "$out"
    for a in null $allocators; do
        for w in $workloads; do
            ir=$(awk '/^totals:/ { print $2 }' "$out/cg.$a.$w.out")
            ops=$(awk '/^ops/ { print $2 }' "$out/cg.$a.$w.ops")
            echo "$a $w $ir $ops" >> "$out/callgrind.tsv"
        done
    done
    if command -v callgrind_annotate > /dev/null; then
        for w in $workloads; do
            callgrind_annotate "$out/cg.vitalloc.$w.out" > "$out/annotate.vitalloc.$w.txt" 2> /dev/null || true
        done
    fi
else
    echo "== valgrind not found: no instruction counts" >&2
fi

"$bin" report "$out" | tee "$here/results.md"
