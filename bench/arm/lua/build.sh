#!/usr/bin/env bash
# bench/arm/lua/build.sh <outdir> -- Lua 5.4 for the ARM benchmark.
#
# Gets Lua's sources from the crates.io crate lua-src (through cargo: a
# throw-away Cargo project in <outdir>/crate depends on it, `cargo fetch`
# extracts it into cargo's registry, `cargo metadata` says where), then
# cross-compiles Lua's core and standard libraries (not lua.c/luac.c, which
# the crate does not ship) for the Cortex-A9 against newlib into
#   <outdir>/liblua.a
# and compiles bench/arm/lua/lua_driver.c into
#   <outdir>/lua_driver.o
# (it includes bench/arm/harness.h). The link is bench/arm/run.sh's:
#   lua_driver.o liblua.a harness.o <sim crt> [libvitalloc.a] \
#     libsim_sbrk.a libsim_kernel.a -lm
# Nothing of Lua's sources is kept in the repository. Re-runs only rebuild
# what changed (the flags and the crate version are part of the stamp).
#
# Lua configuration: plain ISO C (no LUA_USE_POSIX/LUA_USE_DLOPEN/
# LUA_USE_LINUX), which newlib + rdimon covers: io.popen and dynamic C
# modules just report "not supported". LUA_COMPAT_5_3 as lua-src sets it.
# The string-hash seed is a constant (luai_makeseed), instead of time(NULL)
# mixed with heap and stack addresses: with that, hash layouts and so the
# allocation stream would differ between runs and between allocators.
set -euo pipefail

die() { echo "bench/arm/lua/build.sh: $*" >&2; exit 1; }
[ $# -eq 1 ] || die "usage: build.sh <outdir>"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
arm=$(dirname "$here") # bench/arm
mkdir -p "$1"
out=$(cd "$1" && pwd)

# Exact version: the benchmark must measure the same Lua every time.
LUA_SRC_VERSION=547.1.0 # Lua 5.4.7
LUA_DIR=lua-5.4.7

CC=${ARM_CC:-arm-none-eabi-gcc}
AR=${ARM_AR:-arm-none-eabi-ar}
command -v "$CC" >/dev/null || die "$CC not found (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi)"
command -v "$AR" >/dev/null || die "$AR not found"
command -v cargo >/dev/null || die "cargo not found: it is needed to fetch the lua-src crate"

arch=(-mcpu=cortex-a9 -mfpu=neon -mfloat-abi=hard -mthumb --specs=rdimon.specs -O2)
lua_defs=(-DLUA_COMPAT_5_3 '-Dluai_makeseed(L)=0x2545F491u')
lua_flags=("${arch[@]}" -std=gnu99 -w -fno-common "${lua_defs[@]}")
driver_flags=("${arch[@]}" -std=gnu99 -Wall -Wextra -fno-builtin)

# --- 1. the lua-src crate, through cargo -----------------------------------
crate=$out/crate
mkdir -p "$crate/src"
manifest="[package]
name = \"vitalloc-bench-lua-src\"
version = \"0.0.0\"
edition = \"2021\"
publish = false

# not part of any enclosing workspace
[workspace]

[lib]
path = \"src/lib.rs\"

[dependencies]
lua-src = \"=$LUA_SRC_VERSION\"
"
if [ ! -f "$crate/Cargo.toml" ] || [ "$(cat "$crate/Cargo.toml")" != "$manifest" ]; then
	printf '%s' "$manifest" >"$crate/Cargo.toml"
	: >"$crate/src/lib.rs"
	rm -f "$crate/Cargo.lock" "$crate/srcdir"
fi

find_src() { # prints lua-src's directory from cargo metadata, offline
	cargo metadata --offline --format-version 1 --manifest-path "$crate/Cargo.toml" 2>/dev/null |
		grep -o '"manifest_path":"[^"]*/lua-src-'"$LUA_SRC_VERSION"'/Cargo.toml"' | head -n1 |
		sed 's/^"manifest_path":"//; s|/Cargo.toml"$||'
}

src=
if [ -f "$crate/srcdir" ]; then
	src=$(cat "$crate/srcdir")
	[ -f "$src/$LUA_DIR/lua.h" ] || src=
fi
if [ -z "$src" ]; then
	src=$(find_src || true)
	if [ -z "$src" ] || [ ! -f "$src/$LUA_DIR/lua.h" ]; then
		echo "bench/arm/lua/build.sh: fetching the lua-src $LUA_SRC_VERSION crate with cargo" >&2
		if ! cargo fetch --manifest-path "$crate/Cargo.toml" >"$out/cargo-fetch.log" 2>&1; then
			cat "$out/cargo-fetch.log" >&2
			die "'cargo fetch' of lua-src $LUA_SRC_VERSION failed (network or crates.io unreachable?); log: $out/cargo-fetch.log"
		fi
		src=$(find_src || true)
	fi
	[ -n "$src" ] && [ -f "$src/$LUA_DIR/lua.h" ] ||
		die "lua-src $LUA_SRC_VERSION fetched, but 'cargo metadata' gives no $LUA_DIR sources (got '${src}')"
	echo "$src" >"$crate/srcdir"
fi
lua=$src/$LUA_DIR

# --- 2. liblua.a ------------------------------------------------------------
# Rebuilt when the flags, the compiler or the crate version change; objects
# are rebuilt when their source or a header is newer.
stamp="$LUA_SRC_VERSION $lua $("$CC" --version | head -n1) ${lua_flags[*]}"
obj=$out/lua-obj
if [ ! -f "$obj/stamp" ] || [ "$(cat "$obj/stamp")" != "$stamp" ]; then
	rm -rf "$obj" "$out/liblua.a"
	mkdir -p "$obj"
	echo "$stamp" >"$obj/stamp"
fi
newest_h=$(ls -t "$lua"/*.h | head -n1)
objs=()
changed=0
pids=()
for c in "$lua"/*.c; do
	b=$(basename "$c" .c)
	case $b in lua | luac | onelua) continue ;; esac # programs, not library
	o=$obj/$b.o
	objs+=("$o")
	if [ ! -f "$o" ] || [ "$c" -nt "$o" ] || [ "$newest_h" -nt "$o" ]; then
		changed=1
		"$CC" "${lua_flags[@]}" -I"$lua" -c "$c" -o "$o.tmp" && mv "$o.tmp" "$o" &
		pids+=($!)
		if [ ${#pids[@]} -ge 4 ]; then
			wait "${pids[0]}" || die "compiling Lua failed"
			pids=("${pids[@]:1}")
		fi
	fi
done
for p in "${pids[@]}"; do wait "$p" || die "compiling Lua failed"; done
for o in "${objs[@]}"; do [ -f "$o" ] || die "compiling Lua failed: $o missing"; done
if [ $changed = 1 ] || [ ! -f "$out/liblua.a" ]; then
	rm -f "$out/liblua.a.tmp"
	"$AR" rcs "$out/liblua.a.tmp" "${objs[@]}"
	mv "$out/liblua.a.tmp" "$out/liblua.a"
fi

# --- 3. lua_driver.o --------------------------------------------------------
[ -f "$arm/harness.h" ] || die "$arm/harness.h is missing (lua_driver.c includes it)"
d=$out/lua_driver.o
dstamp="$stamp ${driver_flags[*]}"
if [ ! -f "$d" ] || [ "$here/lua_driver.c" -nt "$d" ] || [ "$arm/harness.h" -nt "$d" ] ||
	[ "$newest_h" -nt "$d" ] || [ "$(cat "$d.stamp" 2>/dev/null)" != "$dstamp" ]; then
	"$CC" "${driver_flags[@]}" -I"$arm" -I"$lua" -c "$here/lua_driver.c" -o "$d.tmp" ||
		die "compiling lua_driver.c failed"
	mv "$d.tmp" "$d"
	echo "$dstamp" >"$d.stamp"
fi
echo "bench/arm/lua/build.sh: $out/liblua.a $out/lua_driver.o (Lua from lua-src $LUA_SRC_VERSION)" >&2
