//! vitalloc-bench: runs identical seeded workloads through vitalloc, glibc,
//! mimalloc, dlmalloc, talc and rlsf and compares throughput (one and two
//! threads), instructions per call, call latency and heap efficiency.
//! `bench/run.sh` drives it; see `usage()` for the sub-commands it uses.

mod allocators;
mod report;
mod threads;
mod workloads;

use allocators::{BenchAlloc, Kind};
use std::time::{Duration, Instant};
use threads::ThreadWorkload;
use workloads::{Driver, Lat, Workload};

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
    /// One run of a two-thread workload: calls made by both threads, time.
    fn run_threads(&self, w: ThreadWorkload, scale: usize) -> (u64, Duration);
    /// One run with every call's duration recorded in `lat`; returns calls.
    fn run_timed(&self, w: Workload, scale: usize, lat: &mut Lat) -> u64;
}

struct Inst<A: BenchAlloc>(Box<A>);

fn seed_of(w: Workload) -> u64 {
    SEED ^ (w as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d)
}

impl<A: BenchAlloc> Runner for Inst<A> {
    fn run_threads(&self, w: ThreadWorkload, scale: usize) -> (u64, Duration) {
        let seed = SEED ^ (w as u64 + 101).wrapping_mul(0x2545_f491_4f6c_dd1d);
        w.run(&*self.0, seed, scale)
    }

    fn run_timed(&self, w: Workload, scale: usize, lat: &mut Lat) -> u64 {
        lat.clear();
        let mut d = Driver::timed(&*self.0, seed_of(w), lat);
        w.run(&mut d, scale);
        d.ops
    }

    fn run(&self, w: Workload, scale: usize, sample: bool) -> RunResult {
        let seed = seed_of(w);
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
        Kind::Mimalloc => Box::new(Inst(Box::new(Mimalloc))),
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
  vitalloc-bench threads [--reps N] [--scale N]
      best-of-N wall time of the two-thread workloads; TSV on stdout
  vitalloc-bench latency [--reps N] [--scale N]
      TSC ticks per call on the game frame: p50 p99 p99.9 max; TSV on stdout
  vitalloc-bench efficiency <allocator> <workload>
      one run on a fresh allocator; TSV: live peak and obtained peak
  vitalloc-bench report <dir>
      Markdown report from <dir>/throughput.tsv, threads.tsv, latency.tsv,
      efficiency.tsv, callgrind.tsv
allocators: null vitalloc glibc mimalloc dlmalloc talc rlsf
workloads:  pair pair-empty lifo random frame frag
two-thread: prodcons churn2"
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
        Some("threads") => two_threads(flag(&args, "--reps", 5), flag(&args, "--scale", 1)),
        Some("latency") => latency(flag(&args, "--reps", 5), flag(&args, "--scale", 1)),
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

/// The same for the two-thread workloads: for each, every allocator `reps`
/// times interleaved; prints `allocator workload ops nanoseconds` (best).
fn two_threads(reps: usize, scale: usize) {
    for w in ThreadWorkload::ALL {
        let runners: Vec<(Kind, Box<dyn Runner>)> =
            Kind::COMPARED.iter().map(|&k| (k, instance(k))).collect();
        let mut best = vec![(0u64, Duration::MAX); runners.len()];
        for _ in 0..reps {
            for (i, (_, r)) in runners.iter().enumerate() {
                let (ops, t) = r.run_threads(w, scale);
                best[i] = (ops, best[i].1.min(t));
            }
        }
        for ((k, _), (ops, t)) in runners.iter().zip(&best) {
            println!("{}\t{}\t{}\t{}", k.name(), w.name(), ops, t.as_nanos());
        }
    }
}

/// Latency of every call of the game-frame workload, in TSC ticks. Every
/// allocator (and the null baseline, the measurement's floor) runs `reps`
/// times, interleaved, its instance kept warm; each percentile printed is
/// the lowest that percentile was over the repetitions (a preemption or an
/// interrupt on the shared machine can only make a repetition look worse).
/// Prints `allocator frame calls p50 p99 p99.9 max`, then `tsc ghz F`.
fn latency(reps: usize, scale: usize) {
    let w = Workload::Frame;
    // The buffer is sized by a plain run of the null baseline (every
    // allocator makes the same calls), and made before anything is timed.
    let calls = instance(Kind::Null).run(w, scale, false).ops as usize;
    let mut lat = Lat::with_capacity(calls);
    let kinds: Vec<Kind> = std::iter::once(Kind::Null).chain(Kind::COMPARED).collect();
    let runners: Vec<Box<dyn Runner>> = kinds.iter().map(|&k| instance(k)).collect();
    let mut best = vec![[u32::MAX; 4]; runners.len()];
    for _ in 0..reps.max(1) {
        for (i, r) in runners.iter().enumerate() {
            let n = r.run_timed(w, scale, &mut lat);
            assert_eq!(
                n as usize, calls,
                "the latency run made a different number of calls"
            );
            let s = lat.samples();
            s.sort_unstable();
            let pct = |p: f64| s[((p * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1];
            let now = [pct(0.5), pct(0.99), pct(0.999), s[s.len() - 1]];
            for (b, v) in best[i].iter_mut().zip(now) {
                *b = (*b).min(v);
            }
        }
    }
    for (k, b) in kinds.iter().zip(&best) {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            k.name(),
            w.name(),
            calls,
            b[0],
            b[1],
            b[2],
            b[3]
        );
    }
    // TSC rate, to read ticks as time: ticks over a 50 ms sleep.
    let (t0, i0) = (workloads::ticks(), Instant::now());
    std::thread::sleep(Duration::from_millis(50));
    let (t1, e) = (workloads::ticks(), i0.elapsed());
    println!("tsc\tghz\t{:.3}", (t1 - t0) as f64 / e.as_nanos() as f64);
}
