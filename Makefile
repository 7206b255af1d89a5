# vitalloc: `make` builds everything into dist/, `make test` runs the tests
# (every change), `make verify` the deeper checks (Miri, ThreadSanitizer,
# longer fuzzing: before pushing a change to the lock-free protocol; CI runs
# both). They install what they need first (tools/ensure-deps.sh says what
# it does).

SHELL := /bin/bash
CARGO ?= cargo
DIST := dist
HOST := $(DIST)/host
HOST_TARGET := target/c-host/release
VITA := $(DIST)/vita
VITA_TRIPLE := armv7-sony-vita-newlibeabihf
VITA_TARGET := target/c-vita/$(VITA_TRIPLE)/release
# The debug builds (feature debug-heap, nightly; their own target dirs so a
# release build is never rebuilt with other features).
HOST_DEBUG := $(DIST)/host-debug
HOST_DEBUG_TARGET := target/c-host-debug/release
VITA_DEBUG := $(DIST)/vita-debug
VITA_DEBUG_TARGET := target/c-vita-debug/$(VITA_TRIPLE)/release
# A test-only Vita build (feature sim-preempt): the simulated kernel may
# switch threads at the allocator's preemption points. Never shipped.
VITA_PREEMPT := build/vita-preempt
VITA_PREEMPT_TARGET := target/c-vita-preempt/$(VITA_TRIPLE)/release
EXPORTS := src/ffi/exports.txt
SOURCES := $(shell find src -type f) Cargo.toml cbindgen.toml

.PHONY: all deps host vita vita-preempt debug host-debug vita-debug header check-header test test-rust test-c test-arm test-sample test-preload lint bench clean \
	fuzz fuzz-build fuzz-ops fuzz-heaps test-fuzz test-fuzz-seeds miri test-miri soak test-loom verify host-tsan test-tsan test-tsan-rust test-tsan-c

all: deps host vita debug

# The CMake package next to each build, `make install`, `make install-host`
# and `make package` (see packaging/package.mk).
include packaging/package.mk

deps:
	@tools/ensure-deps.sh

# ---- host (x86_64 Linux) C library ------------------------------------------

# With the debug archive next to the release one, as libvitalloc_debug.a
# (the package's vitalloc::debug target).
host: $(HOST)/lib/libvitalloc.a $(HOST)/lib/libvitalloc.so $(HOST)/include/vitalloc.h \
	$(HOST)/lib/libvitalloc_debug.a

$(HOST_TARGET)/libvitalloc.a $(HOST_TARGET)/libvitalloc.so &: $(SOURCES)
	$(CARGO) rustc --release --lib --features c-library --crate-type staticlib,cdylib --target-dir target/c-host

$(HOST)/lib/libvitalloc.a: $(HOST_TARGET)/libvitalloc.a $(EXPORTS)
	@mkdir -p $(@D)
	@# Only the documented API stays global: Rust's core and compiler_builtins
	@# symbols (memcpy, __udivti3...) must not replace the C library's.
	objcopy --keep-global-symbols=$(EXPORTS) $< $@

$(HOST)/lib/libvitalloc.so: $(HOST_TARGET)/libvitalloc.so
	@mkdir -p $(@D)
	cp $< $@

$(HOST)/include/vitalloc.h: include/vitalloc.h
	@mkdir -p $(@D)
	cp $< $@

# ---- Vita C library ----------------------------------------------------------

vita: $(VITA)/lib/libvitalloc.a $(VITA)/include/vitalloc.h $(VITA)/lib/libvitalloc_debug.a

# Tier-3 target: nightly builds `core` from source. One codegen unit and LTO
# (release profile) put every export in one object, so any one of them pulls
# in all the others (DESIGN.md §1).
$(VITA_TARGET)/libvitalloc.a: $(SOURCES)
	$(CARGO) +nightly rustc -Zbuild-std=core --target $(VITA_TRIPLE) --release --lib \
		--features c-library --crate-type staticlib --target-dir target/c-vita

$(VITA)/lib/libvitalloc.a: $(VITA_TARGET)/libvitalloc.a $(EXPORTS) src/ffi/exports-vita.txt
	@mkdir -p $(@D)
	@# compiler_builtins' weak memcpy, __aeabi_*, sqrt... would otherwise
	@# replace libgcc/libm/libc's in the whole program (DESIGN.md §6).
	arm-none-eabi-objcopy --keep-global-symbols=$(EXPORTS) --keep-global-symbols=src/ffi/exports-vita.txt $< $@

$(VITA)/include/vitalloc.h: include/vitalloc.h
	@mkdir -p $(@D)
	cp $< $@

# The preemption-point build for the ARM tests (build/, not dist/: not a
# product). Same localized symbols; sim_preempt_point stays undefined, the
# simulated kernel provides it.
vita-preempt: $(VITA_PREEMPT)/libvitalloc.a

$(VITA_PREEMPT_TARGET)/libvitalloc.a: $(SOURCES)
	$(CARGO) +nightly rustc -Zbuild-std=core --target $(VITA_TRIPLE) --release --lib \
		--features c-library,sim-preempt --crate-type staticlib --target-dir target/c-vita-preempt

$(VITA_PREEMPT)/libvitalloc.a: $(VITA_PREEMPT_TARGET)/libvitalloc.a $(EXPORTS) src/ffi/exports-vita.txt
	@mkdir -p $(@D)
	arm-none-eabi-objcopy --keep-global-symbols=$(EXPORTS) --keep-global-symbols=src/ffi/exports-vita.txt $< $@

# ---- debug builds (feature debug-heap: src/debug/) -----------------------------
# dist/host-debug and dist/vita-debug have the layout of dist/host and
# dist/vita, with the debug build as lib/libvitalloc.a (so the C tests can
# run against it unchanged); `host` and `vita` also copy it into their own
# lib/ as libvitalloc_debug.a, which the CMake package's vitalloc::debug
# links. The same objcopy filtering: the debug build exports the same names.

debug: host-debug vita-debug

host-debug: $(HOST_DEBUG)/lib/libvitalloc.a $(HOST_DEBUG)/lib/libvitalloc.so $(HOST_DEBUG)/include/vitalloc.h

vita-debug: $(VITA_DEBUG)/lib/libvitalloc.a $(VITA_DEBUG)/include/vitalloc.h

# Nightly: the caller of each block comes from core::arch::return_address!.
$(HOST_DEBUG_TARGET)/libvitalloc.a $(HOST_DEBUG_TARGET)/libvitalloc.so &: $(SOURCES)
	$(CARGO) +nightly rustc --release --lib --features c-library,debug-heap --crate-type staticlib,cdylib \
		--target-dir target/c-host-debug

$(HOST_DEBUG)/lib/libvitalloc.a: $(HOST_DEBUG_TARGET)/libvitalloc.a $(EXPORTS)
	@mkdir -p $(@D)
	objcopy --keep-global-symbols=$(EXPORTS) $< $@

$(HOST_DEBUG)/lib/libvitalloc.so: $(HOST_DEBUG_TARGET)/libvitalloc.so
	@mkdir -p $(@D)
	cp $< $@

$(HOST_DEBUG)/include/vitalloc.h: include/vitalloc.h
	@mkdir -p $(@D)
	cp $< $@

$(VITA_DEBUG_TARGET)/libvitalloc.a: $(SOURCES)
	$(CARGO) +nightly rustc -Zbuild-std=core --target $(VITA_TRIPLE) --release --lib \
		--features c-library,debug-heap --crate-type staticlib --target-dir target/c-vita-debug

$(VITA_DEBUG)/lib/libvitalloc.a: $(VITA_DEBUG_TARGET)/libvitalloc.a $(EXPORTS) src/ffi/exports-vita.txt
	@mkdir -p $(@D)
	arm-none-eabi-objcopy --keep-global-symbols=$(EXPORTS) --keep-global-symbols=src/ffi/exports-vita.txt $< $@

$(VITA_DEBUG)/include/vitalloc.h: include/vitalloc.h
	@mkdir -p $(@D)
	cp $< $@

$(HOST)/lib/libvitalloc_debug.a: $(HOST_DEBUG)/lib/libvitalloc.a
	@mkdir -p $(@D)
	cp $< $@

$(VITA)/lib/libvitalloc_debug.a: $(VITA_DEBUG)/lib/libvitalloc.a
	@mkdir -p $(@D)
	cp $< $@

# Regenerates the committed header from the Rust sources.
header:
	cbindgen -q --config cbindgen.toml --crate vitalloc --output include/vitalloc.h

check-header:
	@cbindgen -q --config cbindgen.toml --crate vitalloc --output target/vitalloc.h.new
	@diff -u include/vitalloc.h target/vitalloc.h.new || { echo "include/vitalloc.h is out of date: run 'make header' and commit it" >&2; exit 1; }
	@echo "header: include/vitalloc.h is up to date"

# ---- tests ------------------------------------------------------------------

# `make test`: every change (about 4 minutes after `make` on 2 cores, before
# test-loom joined). Depth goes to `make verify`.
TEST_STEPS := lint check-header test-rust test-loom test-c test-arm test-sample test-preload test-fuzz-seeds
test: all $(TEST_STEPS)

# `make verify`: the deeper checks, after `make test` (CI runs both): Miri
# over the core's unit tests, ThreadSanitizer over the threaded Rust and C
# tests, VERIFY_FUZZ_SECONDS of fuzzing per target.
verify: test-miri test-tsan test-fuzz

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy --all-targets --features c-api -- -D warnings
	$(CARGO) clippy --features c-library --lib -- -D warnings
	RUSTFLAGS="--cfg loom" $(CARGO) clippy --release --lib --tests --target-dir target/loom -- -D warnings
	@# The core is no_std and platform-agnostic: it must build for a target
	@# with no OS at all (spin lock, arena source).
	$(CARGO) +nightly build -Zbuild-std=core --target thumbv7em-none-eabihf --lib --target-dir target/bare
	$(CARGO) +nightly clippy -Zbuild-std=core --target $(VITA_TRIPLE) --features c-library --lib \
		--target-dir target/c-vita-clippy -- -D warnings
	@# The test-only build with preemption points (make vita-preempt).
	$(CARGO) +nightly clippy -Zbuild-std=core --target $(VITA_TRIPLE) --features c-library,sim-preempt --lib \
		--target-dir target/c-vita-clippy -- -D warnings
	@# The debug build (nightly: return_address!), host and Vita.
	$(CARGO) +nightly clippy --features c-library,debug-heap --lib --target-dir target/c-host-debug-clippy -- -D warnings
	$(CARGO) +nightly clippy -Zbuild-std=core --target $(VITA_TRIPLE) --features c-library,debug-heap --lib \
		--target-dir target/c-vita-clippy -- -D warnings
	@# The fuzz crate is a workspace of its own (cargo-fuzz layout).
	cd fuzz && $(CARGO) fmt --check && $(CARGO) +nightly clippy --target $(FUZZ_TRIPLE) -- -D warnings

test-rust:
	$(CARGO) test --release --no-fail-fast

# The thread-heap protocol model-checked with loom (src/front/loom_tests.rs):
# every interleaving of each scenario up to LOOM_MAX_PREEMPTIONS preemptions.
LOOM_MAX_PREEMPTIONS ?= 3
test-loom:
	RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=$(LOOM_MAX_PREEMPTIONS) \
		$(CARGO) test --release --lib --target-dir target/loom -- loom_

test-c: host
	tools/test-c.sh

# The ARM suite: dist/vita/lib/libvitalloc.a linked by arm-none-eabi-gcc with
# newlib and the simulated Vita kernel, run under qemu-arm (and the
# preemption test against build/vita-preempt/libvitalloc.a).
test-arm: vita vita-preempt
	tools/test-arm.sh

# vitalloc installed into a prefix and used through find_package: two-line
# C/C++ projects, vitalloc::single_block, the sample's logic (host and ARM).
test-sample: host vita
	c-tests/sample/run.sh all

test-preload: host
	tools/test-preload.sh

# ---- verification beyond the unit tests ---------------------------------------

# Fuzzing (fuzz/fuzz_targets/ops.rs: random operation sequences against the
# shadow model of tests/model/mod.rs, check() after every step). Built with
# plain cargo and the flags cargo-fuzz passes (SanitizerCoverage for
# libFuzzer, `--cfg fuzzing`, debug assertions so the heap's own
# debug_assert!s run, AddressSanitizer for the model's and std's memory), so
# a fresh machine needs no cargo-fuzz; `cargo +nightly fuzz run ops` in
# this directory builds the same thing. `--target` keeps the flags off build
# scripts. New inputs go to fuzz/target/corpus/ops, crashes to
# fuzz/artifacts/ops/ (replay one: $(FUZZ_DIR)/ops <file>); the committed seeds
# in fuzz/corpus/ops are only read.
FUZZ_SECONDS ?= 300
FUZZ_TRIPLE := x86_64-unknown-linux-gnu
FUZZ_DIR := fuzz/target/$(FUZZ_TRIPLE)/release
FUZZ_RUSTFLAGS := -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
	-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
	-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing \
	-Cllvm-args=-simplifycfg-branch-fold-threshold=0 -Cdebug-assertions -Coverflow-checks \
	-Cforce-frame-pointers -Zsanitizer=address

# Two targets with one input format: `ops` (the per-thread heap, as the C
# library uses it) and `heaps` (a heap object, vitalloc_heap_*); both read
# the seeds in fuzz/corpus/ops.
fuzz-build: deps
	cd fuzz && RUSTFLAGS="$(FUZZ_RUSTFLAGS)" $(CARGO) +nightly build --release \
		--target $(FUZZ_TRIPLE) --bin ops --bin heaps

# -max_len: 2 KiB is about 128 operations, enough to build every state the
# model reaches while keeping executions fast (measured: ~1000 per second).
# FUZZ_SECONDS is per target.
define run_fuzz
	@mkdir -p fuzz/target/corpus/$(1) fuzz/artifacts/$(1)
	$(FUZZ_DIR)/$(1) -max_total_time=$(FUZZ_SECONDS) -max_len=2048 -timeout=30 -rss_limit_mb=4096 \
		-print_final_stats=1 -artifact_prefix=fuzz/artifacts/$(1)/ fuzz/target/corpus/$(1) fuzz/corpus/ops
endef
fuzz-ops: fuzz-build
	$(call run_fuzz,ops)
fuzz-heaps: fuzz-build
	$(call run_fuzz,heaps)

fuzz: fuzz-ops fuzz-heaps

# In `make verify`: VERIFY_FUZZ_SECONDS per target (five minutes of
# fuzzing in all, five times what `make test` used to give it; `make fuzz`
# for longer), with the corpus grown by earlier runs on this machine. The
# two targets run at once (libFuzzer uses one core each): 150 s of wall time.
VERIFY_FUZZ_SECONDS ?= 150
test-fuzz:
	$(MAKE) -j2 fuzz FUZZ_SECONDS=$(VERIFY_FUZZ_SECONDS)

# In `make test`: each committed seed run once through both targets (every
# check of the fuzz build: the model, the heap's debug assertions,
# AddressSanitizer), no exploring.
test-fuzz-seeds: fuzz-build
	$(FUZZ_DIR)/ops -runs=0 -max_len=2048 fuzz/corpus/ops
	$(FUZZ_DIR)/heaps -runs=0 -max_len=2048 fuzz/corpus/ops

# Miri: the core's unit and property tests (src/**, `--lib`) interpreted
# with undefined-behaviour checks (Stacked Borrows, alignment, data races,
# leaks) and strict provenance: every pointer the heap hands out or follows
# is derived from a pointer, never made from an integer. Under `cfg(miri)`
# the tests use an arena source (no mmap) and shrink their case counts
# (about 5 minutes). The tests in tests/ are not run: they need the host's
# thread slot (inline assembly, which Miri cannot run).
# Two interpreters at once (the heap's tests, and the rest in a target
# directory of its own so neither waits on the other's lock): Miri runs
# one thread, and the machines have two cores.
miri: deps
	MIRIFLAGS="-Zmiri-strict-provenance" $(CARGO) +nightly miri test --lib -- heap:: & a=$$!; \
	MIRIFLAGS="-Zmiri-strict-provenance" $(CARGO) +nightly miri test --lib --target-dir target/miri-rest -- --skip heap:: & b=$$!; \
	wait $$a && wait $$b

test-miri: miri

# A long run: 10^8 random operations against the shadow model (release
# mode, check() every 65536), then 4 threads handing blocks to each other
# for SOAK_SECONDS with check() at barriers, then SOAK_OPS operations of
# each thread-exit test (tests/thread_exit*.rs, and the C programs with
# libvitalloc.so preloaded). Not part of `make test` or `make verify`
# (about 40 minutes with the defaults).
SOAK_OPS ?= 100000000
SOAK_SECONDS ?= 600
soak: deps host
	SOAK_OPS=$(SOAK_OPS) $(CARGO) test --release --test soak -- --nocapture
	SOAK_SECONDS=$(SOAK_SECONDS) $(CARGO) test --release --test soak_threads -- --nocapture
	SOAK_OPS=$(SOAK_OPS) $(CARGO) test --release --test thread_exit --test thread_exit_churn -- --nocapture
	SOAK_OPS=$(SOAK_OPS) VITALLOC_BUILD_DIR=build/c-host-soak VITALLOC_CMAKE_ARGS=-DVITALLOC_TEST_TIMEOUT=7200 \
		CTEST_ARGS="-R thread_.*_preload" tools/test-c.sh

# ---- ThreadSanitizer (make verify) ---------------------------------------------
# The threaded Rust tests, and the threaded C tests linked with a TSan build
# of the C library (dist/host-tsan, layout of dist/host): nightly,
# -Zsanitizer=thread with the standard library rebuilt instrumented
# (-Zbuild-std), each in a target directory of its own. The tests unwind
# (the release profile's panic=abort would build a second core for the
# test harness: "duplicate lang item") and keep line tables (cargo strips
# a profile without debug info, whatever RUSTFLAGS say). Any report fails
# the step; c-tests/host/tsan/suppressions.txt holds only proven false
# positives. TSAN_SOAK_OPS: the thread-exit tests' length under TSan.
TSAN_TRIPLE := x86_64-unknown-linux-gnu
# Line tables and legacy mangling: the reports name Rust functions, files and
# lines (gcc's libtsan symbolizes the C library's frames itself).
TSAN_RUSTFLAGS := -Zsanitizer=thread -Cdebuginfo=line-tables-only -Zunstable-options -Csymbol-mangling-version=legacy
TSAN_RUST_TESTS := threads remote_queue soak_threads thread_exit thread_exit_churn
TSAN_SOAK_OPS ?= 300000
HOST_TSAN := $(DIST)/host-tsan
HOST_TSAN_TARGET := target/c-host-tsan/$(TSAN_TRIPLE)/release
# (allow_addr2line: Rust's TSan runtime symbolizes with binutils' addr2line
# when there is no llvm-symbolizer.)
TSAN_OPTIONS_RUST := halt_on_error=0 exitcode=66 second_deadlock_stack=1 history_size=4 allow_addr2line=1 \
	suppressions=$(CURDIR)/c-tests/host/tsan/suppressions.txt

host-tsan: $(HOST_TSAN)/lib/libvitalloc.a $(HOST_TSAN)/include/vitalloc.h \
	$(addprefix $(HOST_TSAN)/lib/cmake/vitalloc/,$(CMAKE_PACKAGE_FILES))

# A staticlib: the __tsan_* calls stay undefined until the C program's
# runtime (gcc -fsanitize=thread) resolves them.
$(HOST_TSAN_TARGET)/libvitalloc.a: $(SOURCES)
	RUSTFLAGS="$(TSAN_RUSTFLAGS)" $(CARGO) +nightly rustc -Zbuild-std=core --target $(TSAN_TRIPLE) --release --lib \
		--features c-library --crate-type staticlib --target-dir target/c-host-tsan

# Only the vitalloc_* names stay global: the standard names would replace
# the TSan runtime's malloc, which the runtime calls (through the dynamic
# loader) before it can run instrumented code. The tests call vitalloc_*
# (c-tests/host/tsan/vitalloc_names.h).
$(HOST_TSAN)/lib/libvitalloc.a: $(HOST_TSAN_TARGET)/libvitalloc.a $(EXPORTS)
	@mkdir -p $(@D)
	grep '^vitalloc_' $(EXPORTS) >$(HOST_TSAN_TARGET)/exports-tsan.txt
	objcopy --keep-global-symbols=$(HOST_TSAN_TARGET)/exports-tsan.txt $< $@

$(HOST_TSAN)/include/vitalloc.h: include/vitalloc.h
	@mkdir -p $(@D)
	cp $< $@

test-tsan: test-tsan-rust test-tsan-c

test-tsan-rust: deps
	SOAK_OPS=$(TSAN_SOAK_OPS) SOAK_SECONDS=2 TSAN_OPTIONS="$(TSAN_OPTIONS_RUST)" RUSTFLAGS="$(TSAN_RUSTFLAGS)" \
		$(CARGO) +nightly test -Zbuild-std --target $(TSAN_TRIPLE) --release --target-dir target/tsan \
		--config 'profile.release.panic="unwind"' --config 'profile.release.debug="line-tables-only"' \
		--no-fail-fast $(addprefix --test ,$(TSAN_RUST_TESTS))

test-tsan-c: host-tsan
	SOAK_OPS=$(TSAN_SOAK_OPS) tools/test-tsan.sh

bench: host vita
	bench/run.sh
	bench/arm/run.sh

clean:
	rm -rf $(DIST) target build bench/target
