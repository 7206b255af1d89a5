//! vitalloc-bench: runs identical seeded workloads through vitalloc, glibc,
//! dlmalloc, talc and rlsf and compares throughput, instructions per call
//! and heap efficiency. `bench/run.sh` drives it; see `usage()` for the
//! sub-commands it uses.

mod allocators;
mod report;
mod workloads;

use allocators::{BenchAlloc, Kind};
use std::time::{Duration, Instant};
use workloads::{Driver, Workload};

/// Seed of every workload's PRNG (each workload also mixes in its index, so
/// the workloads differ from each other but never between allocators).
const SEED: u64 = 0x9e37_79b9_7f4a_7c15;

/// What one run of a workload produced.
pub struct RunResult {
    pub ops: u64,
    pub elapsed: Duration,
    /// Peak sum of requested sizes of live blocks.
    pub live_peak: usize,
    /// Peak bytes obtained from the source, when known.
    pub obtained_peak: Option<usize>,
}

/// One allocator instance, kept across repetitions (so later repetitions see
/// a warm heap, as a long-running program would).
trait Runner {
    /// `sample`: let the driver sample what the allocator holds (only for
    /// efficiency runs: sampling glibc costs time).
    fn run(&self, w: Workload, scale: usize, sample: bool) -> RunResult;
}

struct Inst<A: BenchAlloc>(Box<A>);

impl<A: BenchAlloc> Runner for Inst<A> {
    fn run(&self, w: Workload, scale: usize, sample: bool) -> RunResult {
        let seed = SEED ^ (w as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d);
        let mut d = Driver::new(&*self.0, seed, if sample { A::PROBE } else { None });
        let t = Instant::now();
        w.run(&mut d, scale);
        let elapsed = t.elapsed();
        let obtained_peak = self
            .0
            .obtained_peak()
            .or((d.probe_peak > 0).then_some(d.probe_peak));
        RunResult {
            ops: d.ops,
            elapsed,
            live_peak: d.live_peak,
            obtained_peak,
        }
    }
}

fn instance(kind: Kind) -> Box<dyn Runner> {
    use allocators::*;
    match kind {
        Kind::Null => Box::new(Inst(Box::new(NullAlloc))),
        Kind::Vitalloc => Box::new(Inst(Box::new(new_vitalloc()))),
        Kind::Glibc => Box::new(Inst(Box::new(Glibc))),
        Kind::Dlmalloc => Box::new(Inst(Box::new(DlAlloc::new()))),
        Kind::Talc => Box::new(Inst(Box::new(new_talc()))),
        Kind::Rlsf => Box::new(Inst(Box::new(RlsfAlloc::new()))),
    }
}

fn usage() -> ! {
    eprintln!(
        "usage:
  vitalloc-bench --only <allocator> <workload> [--scale N]
      one run of one combination (for callgrind); prints `ops N`
  vitalloc-bench throughput [--reps N] [--scale N]
      best-of-N wall time of every combination; TSV on stdout
  vitalloc-bench efficiency <allocator> <workload>
      one run on a fresh allocator; TSV: live peak and obtained peak
  vitalloc-bench report <dir>
      Markdown table from <dir>/throughput.tsv, efficiency.tsv, callgrind.tsv
allocators: null vitalloc glibc dlmalloc talc rlsf
workloads:  pair pair-empty lifo random frame frag"
    );
    std::process::exit(2)
}

fn flag(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .map(|i| {
            args.get(i + 1)
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| usage())
        })
        .unwrap_or(default)
}

fn kind_and_workload(a: Option<&String>, w: Option<&String>) -> (Kind, Workload) {
    match (
        a.and_then(|a| Kind::parse(a)),
        w.and_then(|w| Workload::parse(w)),
    ) {
        (Some(k), Some(w)) => (k, w),
        _ => usage(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--only") => {
            let (k, w) = kind_and_workload(args.get(1), args.get(2));
            let r = instance(k).run(w, flag(&args, "--scale", 1), false);
            println!("ops {}", r.ops);
        }
        Some("throughput") => throughput(flag(&args, "--reps", 5), flag(&args, "--scale", 1)),
        Some("efficiency") => {
            let (k, w) = kind_and_workload(args.get(1), args.get(2));
            let r = instance(k).run(w, 1, true);
            let obtained = r.obtained_peak.map_or("na".to_string(), |b| b.to_string());
            println!("{}\t{}\t{}\t{}", k.name(), w.name(), r.live_peak, obtained);
        }
        Some("report") => {
            report::print(std::path::Path::new(args.get(1).unwrap_or_else(|| usage())))
        }
        _ => usage(),
    }
}

/// For each workload, runs every allocator `reps` times, interleaved (so a
/// noisy moment hurts one repetition of each rather than all of one), and
/// prints the best time of each as `allocator workload ops nanoseconds`.
fn throughput(reps: usize, scale: usize) {
    for w in Workload::ALL {
        let runners: Vec<(Kind, Box<dyn Runner>)> =
            Kind::COMPARED.iter().map(|&k| (k, instance(k))).collect();
        let mut best = vec![(0u64, Duration::MAX); runners.len()];
        for _ in 0..reps {
            for (i, (_, r)) in runners.iter().enumerate() {
                let res = r.run(w, scale, false);
                best[i] = (res.ops, best[i].1.min(res.elapsed));
            }
        }
        for ((k, _), (ops, t)) in runners.iter().zip(&best) {
            println!("{}\t{}\t{}\t{}", k.name(), w.name(), ops, t.as_nanos());
        }
    }
}
