# vitalloc: `make` builds everything into dist/, `make test` runs every test.
# Both install what they need first (tools/ensure-deps.sh says what it does).

SHELL := /bin/bash
CARGO ?= cargo
DIST := dist
HOST := $(DIST)/host
HOST_TARGET := target/c-host/release
EXPORTS := src/ffi/exports.txt
SOURCES := $(shell find src -type f) Cargo.toml cbindgen.toml

.PHONY: all deps host header check-header test test-rust test-c test-preload lint bench clean

all: deps host

deps:
	@tools/ensure-deps.sh

# ---- host (x86_64 Linux) C library ------------------------------------------

host: $(HOST)/lib/libvitalloc.a $(HOST)/lib/libvitalloc.so $(HOST)/include/vitalloc.h

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

# Regenerates the committed header from the Rust sources.
header:
	cbindgen -q --config cbindgen.toml --crate vitalloc --output include/vitalloc.h

check-header:
	@cbindgen -q --config cbindgen.toml --crate vitalloc --output target/vitalloc.h.new
	@diff -u include/vitalloc.h target/vitalloc.h.new || { echo "include/vitalloc.h is out of date: run 'make header' and commit it" >&2; exit 1; }
	@echo "header: include/vitalloc.h is up to date"

# ---- tests ------------------------------------------------------------------

test: all lint check-header test-rust test-c test-preload

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy --features c-library --lib -- -D warnings

test-rust:
	$(CARGO) test --release

test-c: host
	tools/test-c.sh

test-preload: host
	tools/test-preload.sh

bench: host
	bench/run.sh

clean:
	rm -rf $(DIST) target
