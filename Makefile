# vitalloc: `make` builds everything into dist/, `make test` runs every test.
# Both install what they need first (tools/ensure-deps.sh says what it does).

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
EXPORTS := src/ffi/exports.txt
SOURCES := $(shell find src -type f) Cargo.toml cbindgen.toml

.PHONY: all deps host vita debug host-debug vita-debug header check-header test test-rust test-c test-arm test-sample test-preload lint bench clean

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

test: all lint check-header test-rust test-c test-arm test-sample test-preload

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy --all-targets --features c-api -- -D warnings
	$(CARGO) clippy --features c-library --lib -- -D warnings
	@# The core is no_std and platform-agnostic: it must build for a target
	@# with no OS at all (spin lock, arena source).
	$(CARGO) +nightly build -Zbuild-std=core --target thumbv7em-none-eabihf --lib --target-dir target/bare
	$(CARGO) +nightly clippy -Zbuild-std=core --target $(VITA_TRIPLE) --features c-library --lib \
		--target-dir target/c-vita-clippy -- -D warnings
	@# The debug build (nightly: return_address!), host and Vita.
	$(CARGO) +nightly clippy --features c-library,debug-heap --lib --target-dir target/c-host-debug-clippy -- -D warnings
	$(CARGO) +nightly clippy -Zbuild-std=core --target $(VITA_TRIPLE) --features c-library,debug-heap --lib \
		--target-dir target/c-vita-clippy -- -D warnings

test-rust:
	$(CARGO) test --release

test-c: host
	tools/test-c.sh

# The ARM suite: dist/vita/lib/libvitalloc.a linked by arm-none-eabi-gcc with
# newlib and the simulated Vita kernel, run under qemu-arm.
test-arm: vita
	tools/test-arm.sh

# vitalloc installed into a prefix and used through find_package: two-line
# C/C++ projects, vitalloc::single_block, the sample's logic (host and ARM).
test-sample: host vita
	c-tests/sample/run.sh all

test-preload: host
	tools/test-preload.sh

bench: host vita
	bench/run.sh
	bench/arm/run.sh

clean:
	rm -rf $(DIST) target build bench/target
