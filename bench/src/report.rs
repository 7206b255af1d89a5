//! Turns the measurements `run.sh` collected into the Markdown report.

use crate::allocators::Kind;
use crate::threads::ThreadWorkload;
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

    let thr = read(dir, "threads.tsv");
    let lat = read(dir, "latency.tsv");
    two_thread_table(&mut o, &thr);
    latency_table(&mut o, &lat);

    o += "\n## Targets\n\n";
    targets(&mut o, &cg, &thr, &lat);

    o += METHOD;
    print!("{o}");
}

/// Calls per second of a two-thread run (`ops`, `ns` in threads.tsv).
fn calls_per_sec(thr: &HashMap<Key, Vec<String>>, k: Kind, w: ThreadWorkload) -> Option<f64> {
    let (ops, ns) = (num2(thr, k, w.name(), 0)?, num2(thr, k, w.name(), 1)?);
    Some(ops / ns * 1e9)
}

fn num2(m: &HashMap<Key, Vec<String>>, k: Kind, w: &str, col: usize) -> Option<f64> {
    m.get(&(k.name().into(), w.into()))?.get(col)?.parse().ok()
}

fn two_thread_table(o: &mut String, thr: &HashMap<Key, Vec<String>>) {
    *o += "\n## Two threads\n\n";
    *o += "| workload | allocator | calls | calls / s | throughput ÷ glibc |\n";
    *o += "|---|---|---:|---:|---:|\n";
    for w in ThreadWorkload::ALL {
        let glibc = calls_per_sec(thr, Kind::Glibc, w);
        for k in Kind::COMPARED {
            let cps = calls_per_sec(thr, k, w);
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} |",
                w.title(),
                k.name(),
                opt(num2(thr, k, w.name(), 0), |c| format!("{c:.0}")),
                opt(cps, |c| format!("{:.1} M", c / 1e6)),
                opt(cps.zip(glibc).map(|(a, g)| a / g), |r| format!("{r:.2}×")),
            );
        }
    }
}

/// Latency percentiles: columns of latency.tsv after allocator and workload.
const P50: usize = 1;
const P99: usize = 2;
const P999: usize = 3;
const PMAX: usize = 4;

fn latency_table(o: &mut String, lat: &HashMap<Key, Vec<String>>) {
    let w = Workload::Frame;
    let ghz = lat
        .get(&("tsc".into(), "ghz".into()))
        .and_then(|v| v.first()?.parse::<f64>().ok());
    *o += "\n## Game-frame call latency\n\n";
    let _ = writeln!(
        o,
        "TSC ticks per allocator call{}; each percentile the lowest over the repetitions.\n",
        opt(ghz, |g| format!(" ({g:.2} ticks per ns)"))
    );
    *o += "| allocator | calls | p50 | p99 | p99.9 | max |\n";
    *o += "|---|---:|---:|---:|---:|---:|\n";
    for k in std::iter::once(Kind::Null).chain(Kind::COMPARED) {
        let cell = |c: usize| {
            opt(num2(lat, k, w.name(), c), |t| match ghz {
                Some(g) if t / g >= 1000.0 => format!("{t:.0} ({:.1} µs)", t / g / 1000.0),
                _ => format!("{t:.0}"),
            })
        };
        let name = if k == Kind::Null {
            "null (floor)"
        } else {
            k.name()
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} |",
            name,
            opt(num2(lat, k, w.name(), 0), |c| format!("{c:.0}")),
            cell(P50),
            cell(P99),
            cell(P999),
            cell(PMAX),
        );
    }
}

fn f1(v: Option<f64>) -> String {
    opt(v, |i| format!("{i:.1}"))
}

fn targets(
    o: &mut String,
    cg: &HashMap<Key, Vec<String>>,
    thr: &HashMap<Key, Vec<String>>,
    lat: &HashMap<Key, Vec<String>>,
) {
    let v = Kind::Vitalloc;
    let ipc = |k: Kind, w: Workload| instr_per_call(cg, k, w);

    // Small churn: at most mimalloc's instructions per call.
    for w in [Workload::Pair, Workload::Lifo] {
        let (me, mi) = (ipc(v, w), ipc(Kind::Mimalloc, w));
        let extra = if w == Workload::Pair {
            format!(
                "; {}: vitalloc {}, mimalloc {}",
                Workload::PairEmpty.title(),
                f1(ipc(v, Workload::PairEmpty)),
                f1(ipc(Kind::Mimalloc, Workload::PairEmpty)),
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            o,
            "- instructions per call ≤ mimalloc's on {}: {} (vitalloc {}, mimalloc {}, glibc {}{})",
            w.title(),
            verdict(me.zip(mi).map(|(m, x)| m <= x)),
            f1(me),
            f1(mi),
            f1(ipc(Kind::Glibc, w)),
            extra,
        );
    }
    // Mixed sizes: at most the lower of talc's and rlsf's.
    for w in [Workload::Random, Workload::Frame, Workload::Frag] {
        let (me, talc, rlsf) = (ipc(v, w), ipc(Kind::Talc, w), ipc(Kind::Rlsf, w));
        let met = match (me, talc, rlsf) {
            (Some(m), Some(t), Some(r)) => Some(m <= t.min(r)),
            _ => None,
        };
        let _ = writeln!(
            o,
            "- instructions per call ≤ the lower of talc's and rlsf's on {}: {} (vitalloc {}, talc {}, rlsf {})",
            w.title(),
            verdict(met),
            f1(me),
            f1(talc),
            f1(rlsf),
        );
    }
    // Two threads: at least glibc's throughput; the churners aim at mimalloc's.
    let cps = |k: Kind, w: ThreadWorkload| calls_per_sec(thr, k, w);
    let mcps = |c: Option<f64>| opt(c, |c| format!("{:.1} M", c / 1e6));
    for w in ThreadWorkload::ALL {
        let (me, g) = (cps(v, w), cps(Kind::Glibc, w));
        let _ = writeln!(
            o,
            "- {} at least as fast as glibc: {} (vitalloc {} calls/s = {} glibc's {}; wall time, noisy)",
            w.title(),
            verdict(me.zip(g).map(|(m, g)| m >= g)),
            mcps(me),
            opt(me.zip(g).map(|(m, g)| m / g), |r| format!("{r:.2}×")),
            mcps(g),
        );
    }
    let w = ThreadWorkload::Churn2;
    let (me, mi) = (cps(v, w), cps(Kind::Mimalloc, w));
    let _ = writeln!(
        o,
        "- aim: {} as fast as mimalloc: {} (vitalloc {} calls/s = {} mimalloc's {})",
        w.title(),
        verdict(me.zip(mi).map(|(m, x)| m >= x)),
        mcps(me),
        opt(me.zip(mi).map(|(m, x)| m / x), |r| format!("{r:.2}×")),
        mcps(mi),
    );
    // Latency: p99.9 no worse than talc's and mimalloc's.
    let p = |k: Kind| num2(lat, k, Workload::Frame.name(), P999);
    let (me, talc, mi) = (p(v), p(Kind::Talc), p(Kind::Mimalloc));
    let met = match (me, talc, mi) {
        (Some(m), Some(t), Some(x)) => Some(m <= t && m <= x),
        _ => None,
    };
    let ticks = |t: Option<f64>| opt(t, |t| format!("{t:.0}"));
    let _ = writeln!(
        o,
        "- game-frame p99.9 call latency ≤ talc's and mimalloc's: {} (vitalloc {}, talc {}, mimalloc {} TSC ticks)",
        verdict(met),
        ticks(me),
        ticks(talc),
        ticks(mi),
    );
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
  Everything in one table comes from one run of `bench/run.sh`: compare
  allocators within it, not across runs (wall time on the shared 2-core
  machine varies by 20–100 % from run to run).
- Allocators: vitalloc is `vitalloc::Allocator<MmapSource>` with its
  default lock; glibc is the system `malloc`; mimalloc is the `mimalloc`
  crate (default features: mimalloc v3, static, not overriding `malloc`),
  one process-wide allocator with a heap per thread; dlmalloc (the `dlmalloc`
  crate over a counting mmap source), talc (`TalcLock`) and rlsf
  (`FlexTlsf`) each sit behind the same minimal test-and-set spinlock,
  which makes them thread-safe but serialises every call. Every allocator
  here is used from two threads in the two-thread workloads.
- *calls*: allocator calls in the callgrind run (alloc, dealloc and realloc
  count one each); the throughput runs are `SCALE` times longer.
- *throughput ÷ glibc*: glibc's best wall time over this allocator's best
  wall time for the whole workload, best of several interleaved runs in one
  process, each allocator instance kept warm across runs (glibc and
  mimalloc are process-wide, so they stay warm across workloads too). A
  workload ends with every block freed, so an allocator that gives memory
  back to the kernel when its heap empties pays for unmapping and faulting
  pages in again on the next run (kernel time, not in the instruction
  counts). The time includes the harness (PRNG, touching blocks), which is
  the same for all, so ratios are compressed towards 1 a little. Wall time
  on a shared machine is noisy: prefer the instruction counts.
- *instructions / call*: `valgrind --tool=callgrind --collect-atstart=no
  --toggle-collect=` on the three `#[inline(never)]` shims that make the
  calls (`cg_alloc`, `cg_dealloc`, `cg_realloc`), so only what the allocator
  executes for each call is counted (including its lock and whatever it
  calls: mmap wrappers, memcpy in realloc, glibc's PLT stubs, mimalloc's
  one-time initialisation). The same run with a null allocator (returns a
  static buffer, does nothing) measures the shims' own instructions; that
  count is subtracted, and the rest is divided by the number of calls.
- *peak live*: the highest sum of requested sizes of live blocks.
  *peak obtained*: the highest number of bytes the allocator held from its
  memory source, in a fresh process per combination. vitalloc:
  `stats().reserved_peak` (includes its page map and other metadata);
  mimalloc: `mi_process_info`'s peak commit (its own exact count: on Linux
  a 64 KiB arena slice counts when first handed out, plus its metadata;
  freed memory counts until mimalloc purges it, by default 1 s later);
  dlmalloc: a counting copy of its mmap system allocator; talc and rlsf: an
  sbrk-like contiguous region they extend in 64 KiB steps (what was handed
  out); glibc: `mallinfo2()` arena + hblkhd sampled every 16 calls and at
  phase ends (so `~`: the true peak may be a little higher). *heap
  efficiency* = peak live ÷ peak obtained.
- *Two threads*: one allocator instance called from two threads at once.
  *producer/consumer*: 200 000 × `SCALE` blocks (15 in 16 log-uniform in
  16–512 B, 1 in 16 uniform in 513–4096 B) are allocated by one thread and
  passed through a 256-slot single-producer single-consumer ring (the same
  for every allocator; a side that finds it full or empty spins 128 times,
  then yields) to the other, which checks and frees them: every free is a
  cross-thread free. *two independent small-churn threads*: each thread
  runs the small LIFO churn workload (400 000 × `SCALE` calls) with its own
  seed. Threads are spawned for each run and released together by a
  barrier; the time runs from the release until both have finished. Best
  of `REPS` interleaved runs; calls/s counts both threads' calls.
- *Game-frame call latency*: the game-frame workload (scale 1) with the
  time-stamp counter read (`lfence; rdtsc`) just before and just after every
  allocator call; the durations go to a buffer allocated and written from
  the system allocator before any run is timed. Nearest-rank percentiles of
  all calls of one run; every allocator runs `REPS` times interleaved (warm
  instance), and each percentile shown is the lowest of the repetitions. The
  null row is the floor: the shim and the two counter reads with no
  allocator work. Ticks run at the TSC rate shown (on this virtual machine
  they may come in steps, such as 26). The max of a run also catches an
  interrupt or preemption that landed in a call.
";
