//! The workloads, the driver that feeds them to an allocator, and the call
//! shims that callgrind measures.
//!
//! Every decision a workload makes comes from its own seeded PRNG and never
//! from what an allocator returned, so each allocator sees exactly the same
//! sequence of calls (sizes, alignments, order).

use crate::allocators::BenchAlloc;
use core::alloc::Layout;
use core::hint::black_box;
use core::ptr;

// ----- the measured calls -----------------------------------------------------------

// Callgrind counts instructions only inside these three functions
// (`--toggle-collect=*cg_alloc*` etc.): everything the allocator executes
// for a call, nothing of the harness. `inline(never)` keeps them real
// functions; `black_box` after the call keeps the call from becoming a tail
// jump (callgrind would treat the jump as leaving the function and stop
// counting). Their own few instructions are measured with the null
// allocator and subtracted.

#[inline(never)]
pub fn cg_alloc<A: BenchAlloc>(a: &A, l: Layout) -> *mut u8 {
    // SAFETY: every layout the workloads build has a non-zero size.
    black_box(unsafe { a.alloc(l) })
}

#[inline(never)]
pub fn cg_dealloc<A: BenchAlloc>(a: &A, p: *mut u8, l: Layout) {
    // SAFETY: the driver passes live blocks with the layout they were made with.
    unsafe { a.dealloc(p, l) };
    black_box(p);
}

#[inline(never)]
pub fn cg_realloc<A: BenchAlloc>(a: &A, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
    // SAFETY: as for `cg_dealloc`; `new_size` is non-zero.
    black_box(unsafe { a.realloc(p, l, new_size) })
}

// ----- PRNG -------------------------------------------------------------------------

/// Marsaglia's xorshift64: plenty for choosing sizes, and a few instructions.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }
    #[inline(always)]
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// Uniform in `0..n` (multiply-shift: no division).
    #[inline(always)]
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next() as u128 * n as u128) >> 64) as usize
    }
    /// Uniform in `lo..=hi`.
    #[inline(always)]
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    /// Roughly log-uniform in `lo..=hi` (`lo` a power of two): an octave is
    /// chosen uniformly, then a size uniformly inside it. Real programs ask
    /// for many small and few big blocks; this is the usual model of it.
    #[inline(always)]
    pub fn log_range(&mut self, lo: usize, hi: usize) -> usize {
        let octaves = (hi / lo).ilog2() as usize;
        let base = lo << self.below(octaves.max(1));
        self.range(base, (2 * base).min(hi))
    }
}

// ----- bookkeeping memory -------------------------------------------------------------

/// A fixed-capacity array in its own `mmap`, for the workloads' bookkeeping:
/// the process allocator (glibc) must not be used by the harness while a
/// workload runs, or glibc's heap would be measured with the harness in it.
pub struct MapBuf<T: Copy> {
    p: *mut T,
    cap: usize,
    len: usize,
}

impl<T: Copy> MapBuf<T> {
    pub fn with_capacity(cap: usize) -> Self {
        let bytes = (cap * size_of::<T>()).max(1).next_multiple_of(4096);
        // SAFETY: anonymous private mapping, checked below.
        let p = unsafe {
            libc::mmap(
                ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert!(p != libc::MAP_FAILED, "bookkeeping mmap failed");
        MapBuf {
            p: p.cast(),
            cap,
            len: 0,
        }
    }
    #[inline(always)]
    pub fn push(&mut self, v: T) {
        assert!(self.len < self.cap, "MapBuf capacity {} exceeded", self.cap);
        // SAFETY: in bounds (checked above).
        unsafe { self.p.add(self.len).write(v) };
        self.len += 1;
    }
    #[inline(always)]
    pub fn pop(&mut self) -> Option<T> {
        (self.len > 0).then(|| {
            self.len -= 1;
            // SAFETY: `len` was in bounds and initialised.
            unsafe { self.p.add(self.len).read() }
        })
    }
    #[inline(always)]
    pub fn swap_remove(&mut self, i: usize) -> T {
        let last = self.pop().expect("swap_remove on empty MapBuf");
        if i == self.len {
            return last;
        }
        std::mem::replace(&mut self.as_mut()[i], last)
    }
    pub fn len(&self) -> usize {
        self.len
    }
    /// The first element's address.
    pub fn ptr(&self) -> *mut T {
        self.p
    }
    pub fn clear(&mut self) {
        self.len = 0;
    }
    pub fn as_mut(&mut self) -> &mut [T] {
        // SAFETY: the first `len` elements are initialised.
        unsafe { core::slice::from_raw_parts_mut(self.p, self.len) }
    }
}

impl<T: Copy> Drop for MapBuf<T> {
    fn drop(&mut self) {
        let bytes = (self.cap * size_of::<T>()).max(1).next_multiple_of(4096);
        // SAFETY: the mapping made in `with_capacity`, no longer used.
        unsafe { libc::munmap(self.p.cast(), bytes) };
    }
}

// ----- the driver -------------------------------------------------------------------------

/// A live block as the workloads see it.
#[derive(Clone, Copy)]
pub struct Blk {
    p: *mut u8,
    size: u32,
    align: u8,
    /// Written to the first and last byte; checked before the block is freed.
    tag: u8,
}

// SAFETY: a block is plain memory owned by whoever holds the `Blk`; the
// two-thread workloads hand blocks from one thread to another through a
// queue (so the other thread frees them), which is what this allows.
unsafe impl Send for Blk {}

impl Blk {
    pub const EMPTY: Blk = Blk {
        p: ptr::null_mut(),
        size: 0,
        align: 0,
        tag: 0,
    };
    pub fn is_empty(&self) -> bool {
        self.p.is_null()
    }
    fn layout(&self) -> Layout {
        // SAFETY: size and alignment were valid when the block was made.
        unsafe { Layout::from_size_align_unchecked(self.size as usize, self.align as usize) }
    }
}

/// Where a timed driver puts the duration of every call: a buffer made
/// (and every page of it written) before the measured run starts, from the
/// system allocator, so recording allocates nothing and faults no page in.
pub struct Lat {
    ticks: Vec<u32>,
    n: usize,
}

impl Lat {
    pub fn with_capacity(cap: usize) -> Self {
        // Non-zero fill: `vec![0; n]` would come from calloc, untouched.
        Lat {
            ticks: vec![u32::MAX; cap],
            n: 0,
        }
    }
    pub fn clear(&mut self) {
        self.n = 0;
    }
    /// The recorded durations (in TSC ticks), in call order.
    pub fn samples(&mut self) -> &mut [u32] {
        &mut self.ticks[..self.n]
    }
    #[inline(always)]
    fn record(&mut self, ticks: u64) {
        assert!(self.n < self.ticks.len(), "latency buffer too small");
        self.ticks[self.n] = ticks.min(u32::MAX as u64) as u32;
        self.n += 1;
    }
}

/// The time-stamp counter, after every earlier instruction has completed
/// (`lfence`), so a call's own instructions fall between two readings.
#[inline(always)]
pub fn ticks() -> u64 {
    // SAFETY: lfence and rdtsc exist on every x86-64 CPU.
    unsafe {
        core::arch::x86_64::_mm_lfence();
        core::arch::x86_64::_rdtsc()
    }
}

/// Issues the calls, touches every block, counts calls and live bytes.
/// `TIMED`: also reads the TSC around every allocator call and records the
/// difference in a [`Lat`] (the latency runs; otherwise compiled out).
pub struct Driver<'a, A: BenchAlloc, const TIMED: bool = false> {
    a: &'a A,
    rng: Rng,
    /// Allocator calls made (alloc, dealloc and realloc each count one).
    pub ops: u64,
    live: usize,
    /// Peak of the sum of requested sizes of live blocks.
    pub live_peak: usize,
    /// Optional sampler of bytes the allocator holds (glibc), called every
    /// [`SAMPLE_EVERY`] calls; its peak is kept in `probe_peak`.
    probe: Option<fn() -> usize>,
    countdown: u32,
    pub probe_peak: usize,
    lat: Option<&'a mut Lat>,
}

/// How often the probe samples: often enough to see glibc's peak within a
/// few blocks, rarely enough not to dominate the run.
const SAMPLE_EVERY: u32 = 16;

impl<'a, A: BenchAlloc> Driver<'a, A, false> {
    pub fn new(a: &'a A, seed: u64, probe: Option<fn() -> usize>) -> Self {
        Driver {
            a,
            rng: Rng::new(seed),
            ops: 0,
            live: 0,
            live_peak: 0,
            probe,
            countdown: SAMPLE_EVERY,
            probe_peak: 0,
            lat: None,
        }
    }
}

impl<'a, A: BenchAlloc> Driver<'a, A, true> {
    /// A driver that records the duration of every call in `lat`.
    pub fn timed(a: &'a A, seed: u64, lat: &'a mut Lat) -> Self {
        Driver {
            a,
            rng: Rng::new(seed),
            ops: 0,
            live: 0,
            live_peak: 0,
            probe: None,
            countdown: SAMPLE_EVERY,
            probe_peak: 0,
            lat: Some(lat),
        }
    }
}

impl<'a, A: BenchAlloc, const TIMED: bool> Driver<'a, A, TIMED> {
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// Makes one allocator call through `f`, timed if `TIMED`.
    #[inline(always)]
    fn call<R>(&mut self, f: impl FnOnce(&'a A) -> R) -> R {
        let a = self.a;
        if TIMED {
            let t0 = ticks();
            let r = f(a);
            let t1 = ticks();
            if let Some(lat) = self.lat.as_deref_mut() {
                lat.record(t1.wrapping_sub(t0));
            }
            r
        } else {
            f(a)
        }
    }

    #[inline(always)]
    fn tick(&mut self) {
        self.ops += 1;
        self.countdown -= 1;
        if self.countdown == 0 {
            self.countdown = SAMPLE_EVERY;
            if let Some(probe) = self.probe {
                self.probe_peak = self.probe_peak.max(probe());
            }
        }
    }

    /// Samples the probe now (at phase boundaries, where peaks tend to be).
    pub fn sample(&mut self) {
        if let Some(probe) = self.probe {
            self.probe_peak = self.probe_peak.max(probe());
        }
    }

    /// Allocates `size` bytes with alignment 8 or 16 (chosen at random).
    #[inline(always)]
    pub fn alloc(&mut self, size: usize) -> Blk {
        let align = if self.rng.next() & 1 == 0 { 8 } else { 16 };
        let tag = self.rng.next() as u8;
        // SAFETY: sizes are small and alignments powers of two.
        let l = unsafe { Layout::from_size_align_unchecked(size, align) };
        let p = self.call(|a| cg_alloc(a, l));
        if p.is_null() {
            out_of_memory(l);
        }
        let b = Blk {
            p,
            size: size as u32,
            align: align as u8,
            tag,
        };
        touch(b);
        self.live += size;
        self.live_peak = self.live_peak.max(self.live);
        self.tick();
        b
    }

    #[inline(always)]
    pub fn free(&mut self, b: Blk) {
        self.free_foreign(b);
        self.live -= b.size as usize;
    }

    /// Frees a block that another thread's driver made (so this driver's
    /// live count never had it).
    #[inline(always)]
    pub fn free_foreign(&mut self, b: Blk) {
        verify::<A>(b, b.size as usize);
        self.call(|a| cg_dealloc(a, b.p, b.layout()));
        self.tick();
    }

    #[inline(always)]
    pub fn realloc(&mut self, b: Blk, new_size: usize) -> Blk {
        verify::<A>(b, b.size as usize);
        let p = self.call(|a| cg_realloc(a, b.p, b.layout(), new_size));
        if p.is_null() {
            out_of_memory(Layout::from_size_align(new_size, b.align as usize).unwrap());
        }
        let nb = Blk {
            p,
            size: new_size as u32,
            ..b
        };
        // The first byte must have moved with the block; the last is new.
        // SAFETY: `p` has `new_size` bytes.
        if A::DISTINCT && unsafe { *p } != b.tag {
            panic!(
                "{}: realloc lost the block's contents",
                std::any::type_name::<A>()
            );
        }
        touch(nb);
        self.live = self.live + new_size - b.size as usize;
        self.live_peak = self.live_peak.max(self.live);
        self.tick();
        nb
    }
}

/// Writes the block's first and last byte: the memory is really used, and a
/// corrupted block is caught when it is freed.
#[inline(always)]
fn touch(b: Blk) {
    // SAFETY: the block has `size >= 1` bytes.
    unsafe {
        b.p.write_volatile(b.tag);
        b.p.add(b.size as usize - 1).write_volatile(b.tag);
    }
}

#[inline(always)]
fn verify<A: BenchAlloc>(b: Blk, size: usize) {
    // SAFETY: the block is live with `size` bytes.
    if A::DISTINCT
        && unsafe { b.p.read_volatile() != b.tag || b.p.add(size - 1).read_volatile() != b.tag }
    {
        panic!(
            "{}: block {:p} ({} bytes) was overwritten",
            std::any::type_name::<A>(),
            b.p,
            size
        );
    }
}

#[cold]
fn out_of_memory(l: Layout) -> ! {
    panic!("allocator returned null for {l:?}");
}

// ----- workloads --------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    Pair,
    PairEmpty,
    Lifo,
    Random,
    Frame,
    Frag,
}

impl Workload {
    pub const ALL: [Workload; 6] = [
        Workload::Pair,
        Workload::PairEmpty,
        Workload::Lifo,
        Workload::Random,
        Workload::Frame,
        Workload::Frag,
    ];

    /// Short name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Pair => "pair",
            Workload::PairEmpty => "pair-empty",
            Workload::Lifo => "lifo",
            Workload::Random => "random",
            Workload::Frame => "frame",
            Workload::Frag => "frag",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Workload::Pair => "small malloc(32)+free pair",
            Workload::PairEmpty => "pair, nothing else live",
            Workload::Lifo => "small LIFO churn 16–64 B",
            Workload::Random => "random 8–4096 B",
            Workload::Frame => "game frame",
            Workload::Frag => "fragmentation",
        }
    }

    pub fn parse(s: &str) -> Option<Workload> {
        Self::ALL.into_iter().find(|w| w.name() == s)
    }

    /// Runs the workload once at `scale` (1 = the callgrind size) through
    /// `d`; every block is freed at the end.
    pub fn run<A: BenchAlloc, const T: bool>(self, d: &mut Driver<'_, A, T>, scale: usize) {
        match self {
            Workload::Pair => pair(d, 200_000 * scale, 16),
            Workload::PairEmpty => pair(d, 200_000 * scale, 0),
            Workload::Lifo => lifo(d, 400_000 * scale as u64),
            Workload::Random => random(d, 300_000 * scale),
            Workload::Frame => frame(d, 400 * scale),
            Workload::Frag => {
                for _ in 0..scale {
                    frag(d)
                }
            }
        }
    }
}

/// The same 32-byte block allocated and freed `pairs` times: the fast path.
/// `background` blocks of 16–1024 bytes stay live meanwhile, as some always
/// do in a real program; with none, every free empties the heap, which some
/// allocators treat as a moment to give memory back.
fn pair<A: BenchAlloc, const T: bool>(d: &mut Driver<'_, A, T>, pairs: usize, background: usize) {
    let mut keep = MapBuf::<Blk>::with_capacity(background.max(1));
    for _ in 0..background {
        let size = d.rng().log_range(16, 1024);
        keep.push(d.alloc(size));
    }
    for _ in 0..pairs {
        let b = d.alloc(32);
        d.free(b);
    }
    while let Some(b) = keep.pop() {
        d.free(b);
    }
}

/// Batches of 1..=32 blocks of 16–64 bytes, freed newest first.
pub fn lifo<A: BenchAlloc, const T: bool>(d: &mut Driver<'_, A, T>, ops: u64) {
    let mut stack = MapBuf::<Blk>::with_capacity(32);
    while d.ops < ops {
        let n = d.rng().range(1, 32);
        for _ in 0..n {
            let size = d.rng().range(16, 64);
            stack.push(d.alloc(size));
        }
        while let Some(b) = stack.pop() {
            d.free(b);
        }
    }
}

/// 1024 slots; each step picks one: an empty slot gets a new block, a full
/// one is freed or reallocated (even odds), sizes uniform in 8..=4096.
fn random<A: BenchAlloc, const T: bool>(d: &mut Driver<'_, A, T>, steps: usize) {
    const SLOTS: usize = 1024;
    let mut slots = MapBuf::<Blk>::with_capacity(SLOTS);
    for _ in 0..SLOTS {
        slots.push(Blk::EMPTY);
    }
    for _ in 0..steps {
        let i = d.rng().below(SLOTS);
        let size = d.rng().range(8, 4096);
        let b = slots.as_mut()[i];
        slots.as_mut()[i] = if b.is_empty() {
            d.alloc(size)
        } else if d.rng().next() & 1 == 0 {
            d.free(b);
            Blk::EMPTY
        } else {
            d.realloc(b, size)
        };
    }
    d.sample();
    for i in 0..SLOTS {
        let b = slots.as_mut()[i];
        if !b.is_empty() {
            d.free(b);
        }
    }
}

/// Long-lived assets plus per-frame temporaries: 2000 assets of 1 KiB–256 KiB
/// loaded up front; each frame allocates 100–500 temporaries of 16 B–8 KiB
/// and frees them all at its end (oldest first); every 60th frame streams in
/// 5 % new assets in place of old ones, midway through the frame, while
/// that frame's temporaries are live (as a game loading a level section
/// would).
fn frame<A: BenchAlloc, const T: bool>(d: &mut Driver<'_, A, T>, frames: usize) {
    const ASSETS: usize = 2000;
    const REPLACE: usize = ASSETS / 20;
    let mut assets = MapBuf::<Blk>::with_capacity(ASSETS);
    let mut temps = MapBuf::<Blk>::with_capacity(500);
    for _ in 0..ASSETS {
        let size = d.rng().log_range(1 << 10, 256 << 10);
        assets.push(d.alloc(size));
    }
    d.sample();
    for f in 0..frames {
        let n = d.rng().range(100, 500);
        for t in 0..n {
            let size = d.rng().log_range(16, 8 << 10);
            temps.push(d.alloc(size));
            if f % 60 == 59 && t == n / 2 {
                for _ in 0..REPLACE {
                    let i = d.rng().below(ASSETS);
                    let old = assets.as_mut()[i];
                    d.free(old);
                    let size = d.rng().log_range(1 << 10, 256 << 10);
                    assets.as_mut()[i] = d.alloc(size);
                }
            }
        }
        d.sample();
        for &b in temps.as_mut().iter() {
            d.free(b);
        }
        temps.clear();
    }
    while let Some(b) = assets.pop() {
        d.free(b);
    }
}

/// Rounds of: allocate 10 000 blocks from one size distribution, then free a
/// random half of everything live. The distributions alternate between
/// small and large sizes, so the holes the previous round left are the wrong
/// size for the next one.
fn frag<A: BenchAlloc, const T: bool>(d: &mut Driver<'_, A, T>) {
    const PER_ROUND: usize = 10_000;
    const DISTS: [(usize, usize); 4] = [(16, 1024), (1024, 16 << 10), (16, 256), (256, 4096)];
    let mut live = MapBuf::<Blk>::with_capacity(2 * PER_ROUND + 64);
    for round in 0..8 {
        let (lo, hi) = DISTS[round % DISTS.len()];
        for _ in 0..PER_ROUND {
            let size = d.rng().log_range(lo, hi);
            live.push(d.alloc(size));
        }
        d.sample();
        let mut i = 0;
        while i < live.len() {
            if d.rng().next() & 1 == 0 {
                let b = live.swap_remove(i);
                d.free(b);
            } else {
                i += 1;
            }
        }
    }
    while let Some(b) = live.pop() {
        d.free(b);
    }
}
