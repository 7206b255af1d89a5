//! Turns the measurements `run.sh` collected into the Markdown report.

use crate::allocators::Kind;
use crate::workloads::Workload;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

type Key = (String, String);

/// Reads a whitespace-separated table keyed by its first two columns
/// (allocator, workload); a missing file reads as empty.
fn read(dir: &Path, file: &str) -> HashMap<Key, Vec<String>> {
    let text = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3).then(|| {
                (
                    (f[0].into(), f[1].into()),
                    f[2..].iter().map(|s| s.to_string()).collect(),
                )
            })
        })
        .collect()
}

fn num(m: &HashMap<Key, Vec<String>>, k: Kind, w: Workload, col: usize) -> Option<f64> {
    m.get(&(k.name().into(), w.name().into()))?
        .get(col)?
        .parse()
        .ok()
}

/// Net instructions per call: the allocator's count minus the null
/// baseline's, over the number of calls.
fn instr_per_call(cg: &HashMap<Key, Vec<String>>, k: Kind, w: Workload) -> Option<f64> {
    let (ir, ops) = (num(cg, k, w, 0)?, num(cg, k, w, 1)?);
    let base = num(cg, Kind::Null, w, 0)?;
    Some((ir - base) / ops)
}

fn efficiency(eff: &HashMap<Key, Vec<String>>, k: Kind, w: Workload) -> Option<f64> {
    Some(num(eff, k, w, 0)? / num(eff, k, w, 1)?)
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or("n/a".into(), f)
}

pub fn print(dir: &Path) {
    let tp = read(dir, "throughput.tsv");
    let eff = read(dir, "efficiency.tsv");
    let cg = read(dir, "callgrind.tsv");
    let mut o = String::new();

    o += "# vitalloc benchmark\n\n";
    // What was measured: run.sh records the commit and machine.
    if let Ok(meta) = std::fs::read_to_string(dir.join("meta.txt")) {
        o += meta.trim_end();
        o += "\n\n";
    }
    o += "| workload | allocator | calls | throughput ÷ glibc | instructions / call | peak live | peak obtained | heap efficiency |\n";
    o += "|---|---|---:|---:|---:|---:|---:|---:|\n";
    for w in Workload::ALL {
        let glibc_ns = num(&tp, Kind::Glibc, w, 1);
        for k in Kind::COMPARED {
            // The callgrind run's count (scale 1); throughput runs are longer.
            let calls = num(&cg, k, w, 1).or(num(&tp, k, w, 0));
            let ratio = glibc_ns.zip(num(&tp, k, w, 1)).map(|(g, a)| g / a);
            let ipc = instr_per_call(&cg, k, w);
            let live = num(&eff, k, w, 0);
            let obtained = num(&eff, k, w, 1);
            let e = efficiency(&eff, k, w);
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                w.title(),
                k.name(),
                opt(calls, |c| format!("{c:.0}")),
                opt(ratio, |r| format!("{r:.2}×")),
                opt(ipc, |i| format!("{i:.1}")),
                opt(live, mib),
                opt(obtained, |b| format!(
                    "{}{}",
                    if k == Kind::Glibc { "~" } else { "" },
                    mib(b)
                )),
                opt(e, |e| format!(
                    "{}{:.1} %",
                    if k == Kind::Glibc { "~" } else { "" },
                    e * 100.0
                )),
            );
        }
    }

    o += "\n## Targets\n\n";
    let v = Kind::Vitalloc;
    let pair = instr_per_call(&cg, v, Workload::Pair).map(|i| 2.0 * i);
    let _ = writeln!(
        o,
        "- ≤ 60 x86-64 instructions per small malloc+free pair: {} ({} per pair, {} when nothing else is live; \
         glibc {}, dlmalloc {}, talc {}, rlsf {})",
        verdict(pair.map(|p| p <= 60.0)),
        opt(pair, |p| format!("{p:.1}")),
        opt(instr_per_call(&cg, v, Workload::PairEmpty), |i| format!(
            "{:.1}",
            2.0 * i
        )),
        opt(
            instr_per_call(&cg, Kind::Glibc, Workload::Pair),
            |i| format!("{:.1}", 2.0 * i)
        ),
        opt(
            instr_per_call(&cg, Kind::Dlmalloc, Workload::Pair),
            |i| format!("{:.1}", 2.0 * i)
        ),
        opt(
            instr_per_call(&cg, Kind::Talc, Workload::Pair),
            |i| format!("{:.1}", 2.0 * i)
        ),
        opt(
            instr_per_call(&cg, Kind::Rlsf, Workload::Pair),
            |i| format!("{:.1}", 2.0 * i)
        ),
    );
    for w in [Workload::Random, Workload::Frag] {
        let me = instr_per_call(&cg, v, w);
        let talc = instr_per_call(&cg, Kind::Talc, w);
        let rlsf = instr_per_call(&cg, Kind::Rlsf, w);
        let met = match (me, talc, rlsf) {
            (Some(m), Some(t), Some(r)) => Some(m < t && m < r),
            _ => None,
        };
        let _ = writeln!(
            o,
            "- fewer instructions than talc and rlsf on {}: {} (vitalloc {}, talc {}, rlsf {} per call)",
            w.title(),
            verdict(met),
            opt(me, |i| format!("{i:.1}")),
            opt(talc, |i| format!("{i:.1}")),
            opt(rlsf, |i| format!("{i:.1}")),
        );
    }
    for w in [Workload::Frame, Workload::Frag] {
        let e = efficiency(&eff, v, w);
        let _ = writeln!(
            o,
            "- heap efficiency ≥ 95 % on {}: {} ({})",
            w.title(),
            verdict(e.map(|e| e >= 0.95)),
            opt(e, |e| format!("{:.1} %", e * 100.0)),
        );
    }

    o += METHOD;
    print!("{o}");
}

fn mib(b: f64) -> String {
    if b < 1024.0 {
        format!("{b:.0} B")
    } else if b < (1 << 20) as f64 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{:.1} MiB", b / (1 << 20) as f64)
    }
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "**met**",
        Some(false) => "**not met**",
        None => "not measured",
    }
}

const METHOD: &str = "
## Method

- Every allocator runs the same call sequence: each workload draws sizes,
  alignments (8 or 16) and choices from its own xorshift64 PRNG with a fixed
  seed and never from what an allocator returned. All calls go through
  `GlobalAlloc` (`alloc`, `dealloc`, `realloc`). The first and last byte of
  every block are written when it is made and checked when it is freed.
- *calls*: allocator calls in the callgrind run (alloc, dealloc and realloc
  count one each); the throughput runs are `SCALE` times longer.
- *throughput ÷ glibc*: glibc's best wall time over this allocator's best
  wall time for the whole workload, best of several interleaved runs in one
  process, each allocator instance kept warm across runs. A workload ends
  with every block freed, so an allocator that gives memory back to the
  kernel when its heap empties pays for unmapping and faulting pages in
  again on the next run (kernel time, not in the instruction counts). The
  time includes the harness (PRNG, touching blocks), which is the same for
  all, so ratios are compressed towards 1 a little. Wall time on a shared
  machine is noisy: prefer the instruction counts.
- *instructions / call*: `valgrind --tool=callgrind --collect-atstart=no
  --toggle-collect=` on the three `#[inline(never)]` shims that make the
  calls (`cg_alloc`, `cg_dealloc`, `cg_realloc`), so only what the allocator
  executes for each call is counted (including its lock and whatever it
  calls: mmap wrappers, memcpy in realloc, glibc's PLT stubs). The same run
  with a null allocator (returns a static buffer, does nothing) measures
  the shims' own instructions; that count is subtracted, and the rest is
  divided by the number of calls. The pair target counts two calls.
- *peak live*: the highest sum of requested sizes of live blocks.
  *peak obtained*: the highest number of bytes the allocator held from its
  memory source, in a fresh process per combination. vitalloc:
  `stats().reserved_peak` (includes its page map and other metadata);
  dlmalloc: a counting copy of its mmap system allocator; talc and rlsf: an
  sbrk-like contiguous region they extend in 64 KiB steps (what was handed
  out); glibc: `mallinfo2()` arena + hblkhd sampled every 16 calls and at
  phase ends (so `~`: the true peak may be a little higher). *heap
  efficiency* = peak live ÷ peak obtained.
- Locks: vitalloc uses its default (futex) lock; dlmalloc, talc and rlsf
  the same minimal spinlock; all uncontended (single thread).
";
