#!/usr/bin/env bash
# bench/arm/run.sh (make bench) -- vitalloc's speed on the Vita's CPU.
#
# Exact counts of the guest instructions executed inside the allocator's own
# code, for vitalloc (dist/vita/lib/libvitalloc.a, `make vita`) and for
# newlib's malloc (dlmalloc 2.6 from Debian's libnewlib-arm-none-eabi, the
# allocator VitaSDK ships), on the same call sequences, under
# `qemu-arm -cpu cortex-a9` with a TCG plugin of ours (plugin/vtb_plugin.c):
#   - the allocator's code ranges come from the linker map (map2ranges.py):
#     every code section of libvitalloc.a, or of newlib's malloc objects in
#     libc.a (never the simulated kernel, memcpy or memset); libgcc's
#     arithmetic helpers (division: the A9 has no divide instruction) count
#     when the allocator calls them;
#   - counting happens between vtb_begin() and vtb_end() (harness.c); the
#     plugin also counts the calls and the largest count of any one call;
#   - memory: the program's peak of live requested bytes, the simulated
#     kernel's memblock peak (what vitalloc held) and newlib's sbrk
#     high-water mark (newlib's build is linked with --wrap=_sbrk_r).
# Workloads: arm_bench.c, each at two heap sizes; plus one row per Lua
# script when bench/arm/lua/build.sh exists and works. Then the GPU-memory
# table: gpu_bench.c (texture streaming and small buffers) on a CDRAM and a phycont heap
# object, against an mspace of the dlmalloc crate over one memblock
# (bench/arm/mspace, built here with cargo +nightly; if that fails the
# table says so and the vitalloc rows still run).
#
# Writes the Markdown report to stdout and build/bench-arm/results.md; raw
# outputs in build/bench-arm/runs/. A benchmark, not a test: it fails only
# if something cannot be built or run, never because of a number.
#   JOBS=n  parallel qemu runs (default: the number of CPUs)
#   VITALLOC_LIB=<archive>  measure another build of libvitalloc.a, e.g.
#           dist/vita-debug/lib/libvitalloc.a (the debug build's cost; its
#           pattern fills run in newlib's memset, which is not counted)
#   ONLY=gpu   only the GPU-memory table (a few minutes less than all);
#   ONLY=main  only the workloads table (and Lua), no GPU table
#   PROFILE=1  also a per-function profile of every run: the plugin's pcs=
#           dump summed per function symbol by profile.py, in
#           build/bench-arm/runs/<run>.profile (vitalloc's own functions
#           are few after LTO: build with
#           CARGO_PROFILE_RELEASE_DEBUG=line-tables-only and the profile
#           also charges source lines of inlined code)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD
here=$root/bench/arm
out=$root/build/bench-arm
runs=$out/runs
jobs=${JOBS:-$(nproc)}
only=${ONLY:-}
case $only in '' | gpu | main) ;; *) echo "bench-arm: ONLY=gpu or ONLY=main" >&2; exit 1 ;; esac
flags=(-mcpu=cortex-a9 -mfpu=neon -mfloat-abi=hard -mthumb --specs=rdimon.specs -O2 -fno-builtin)
die() { echo "bench-arm: $*" >&2; exit 1; }
note() { echo "bench-arm: $*" >&2; }

for tool in arm-none-eabi-gcc arm-none-eabi-readelf qemu-arm gcc cmake python3; do
	command -v $tool >/dev/null || die "$tool not found (make deps installs it)"
done
lib=${VITALLOC_LIB:-$root/dist/vita/lib/libvitalloc.a}
[ -f "$lib" ] || die "run 'make vita' first ($lib is missing)"
mkdir -p "$out"
rm -rf "$runs"
mkdir -p "$runs"
: >"$out/ranges.log"

# newlib's malloc objects in Debian's libc.a (checked with the map: these
# are the members that define the malloc family and __malloc_lock/unlock).
newlib_malloc='libc\.a\(lib_a-(mallocr|freer|reallocr|callocr|cfreer|malignr|vallocr|pvallocr|mallinfor|mallstatsr|msizer|malloptr|malloc|calloc|realloc|reallocf|reallocarray|malign|valloc|msize|mstats|mtrim|aligned_alloc|mlock)\.o\)'
vitalloc_code='libvitalloc\.a\('
helpers='libgcc\.a\('

# --- 1. the simulated kernel, the plugin, the harness -------------------------
cmake -S c-tests/vita-sim -B "$out/sim" -DCMAKE_BUILD_TYPE=Release -DVITA_SIM_SELFTEST=OFF \
	-DCMAKE_TOOLCHAIN_FILE="$root/c-tests/vita-sim/arm-none-eabi.toolchain.cmake" >"$out/sim.log" 2>&1 ||
	die "configuring c-tests/vita-sim failed: $out/sim.log"
cmake --build "$out/sim" >>"$out/sim.log" 2>&1 || die "building c-tests/vita-sim failed: $out/sim.log"
crt=$(find "$out/sim" -name 'sim_crt.c.o*' | head -n1)
[ -n "$crt" ] || die "no sim_crt object in $out/sim"
sim=("$out/sim/libsim_sbrk.a" "$out/sim/libsim_kernel.a")

plugin=$out/vtb_plugin.so
gcc -shared -fPIC -O2 -fvisibility=hidden -Wall -Wextra -Werror -o "$plugin" "$here/plugin/vtb_plugin.c" ||
	die "building the plugin failed"

cc_arm() { arm-none-eabi-gcc "${flags[@]}" -Wall -Wextra -I"$here" -Ic-tests/vita-sim "$@"; }
# The linker's notes about rdimon's stubs and the executable stack are noise.
link_arm() { arm-none-eabi-gcc "${flags[@]}" "$@" 2>&1 | { grep -v 'GNU-stack\|will be removed\|is not implemented and will always fail' || true; } ; }
cc_arm -c "$here/harness.c" -o "$out/harness.o"
cc_arm -c "$here/arm_bench.c" -o "$out/arm_bench.o"

# build <name> <objects and archives before the allocator...>: links
# <name>.vitalloc.elf and <name>.newlib.elf the same way (as the previous
# version of this script and c-tests/vita-sim's vita_sim_link do: sim_crt's
# object, libvitalloc.a in the user-library position, libsim_sbrk.a,
# libsim_kernel.a, then libc), newlib's with --wrap=_sbrk_r for the sbrk
# mark (harness.c), and writes the plugin's range file next to each ELF.
build() {
	local name=$1 a
	shift
	for a in vitalloc newlib; do
		local elf=$out/$name.$a.elf alloc=() code=$newlib_malloc extra=(-Wl,--wrap=_sbrk_r)
		if [ $a = vitalloc ]; then alloc=("$lib"); code=$vitalloc_code; extra=(); fi
		rm -f "$elf"
		link_arm "$@" "$crt" "${alloc[@]}" "${sim[@]}" -lm "${extra[@]}" -Wl,-Map="$elf.map" -o "$elf" >&2
		[ -f "$elf" ] || return 1
		python3 "$here/map2ranges.py" "$elf.map" "$elf" "$elf.ranges" --alloc "$code" --helper "$helpers" 2>>"$out/ranges.log" ||
			{ tail -n1 "$out/ranges.log" >&2; return 1; }
	done
}

# measure <elf> <tag> <args...>: one run under the plugin; outputs in $runs/<tag>.*
measure() {
	local elf=$1 tag=$2
	shift 2
	local pcs=
	[ -z "${PROFILE:-}" ] || pcs=",pcs=$runs/$tag.pcs"
	timeout 600 qemu-arm -cpu cortex-a9 -plugin "$plugin,ranges=$elf.ranges$pcs" -d plugin -D "$runs/$tag.plugin" \
		"$elf" "$@" </dev/null >"$runs/$tag.stdout" 2>"$runs/$tag.stderr" || return 1
	[ -z "$pcs" ] || python3 "$here/profile.py" "$elf" "$runs/$tag.pcs" --lines \
		--calls "$(sed -n 's/.* calls=\([0-9]*\).*/\1/p' "$runs/$tag.plugin")" >"$runs/$tag.profile"
}

# --- 2. the plugin's self-test: a hand-counted "allocator" ----------------------
st=$out/selftest
cc_arm -c "$here/plugin/test/fake_alloc.S" -o "$out/fake_alloc.o"
cc_arm -c "$here/plugin/test/fake_helper.S" -o "$out/fake_helper.o"
cc_arm -c "$here/plugin/test/selftest.c" -o "$out/selftest.o"
rm -f "$st.elf"
link_arm "$out/selftest.o" "$out/fake_alloc.o" "$out/fake_helper.o" "$out/harness.o" "$crt" "${sim[@]}" \
	-Wl,-Map="$st.map" -o "$st.elf" >&2
python3 "$here/map2ranges.py" "$st.map" "$st.elf" "$st.ranges" --alloc 'fake_alloc\.o' --helper 'fake_helper\.o' 2>/dev/null ||
	die "map2ranges failed on the plugin self-test"
qemu-arm -cpu cortex-a9 -plugin "$plugin,ranges=$st.ranges" -d plugin -D "$st.plugin" "$st.elf" >"$st.stdout" ||
	die "the plugin self-test did not run"
want=$(sed -n 's/^expect //p' "$st.stdout")
got=$(sed -n 's/^vtb-plugin //p' "$st.plugin")
[ -n "$want" ] && [ "$want" = "$got" ] || die "the plugin miscounts: expected '$want', got '$got'"
note "plugin self-test: $got"

# --- 3. the workloads ---------------------------------------------------------------
[ "$only" = gpu ] || build bench "$out/arm_bench.o" "$out/harness.o" || die "linking arm_bench failed"

# id|name in the table|description|group|size|elf base|args
# (group + size: the growth check compares a group's small and big heap)
rows=$out/rows.txt
cat >"$rows" <<'EOF'
pair|pair|malloc(32)+free, 64 blocks of 16 B–1 KiB live|pair|small|bench|pair 1
pair-big|pair-big|the same with 4096 blocks live|pair|big|bench|pair 64
churn|churn|LIFO batches of 1–16 blocks of 16–64 B, 64 blocks live|churn|small|bench|churn 1
churn-big|churn-big|the same with 4096 blocks live|churn|big|bench|churn 64
random|random-512|malloc/free/realloc of 8–4096 B over 512 slots|random|small|bench|random 1
random-big|random-8192|the same over 8192 slots|random|big|bench|random 16
frame|frame|game frames: 16 assets of 16 KiB–2 MiB, 1/8 replaced every 30th frame; 40–200 temporaries of 16 B–4 KiB and 3 realloc-doubled vectors per frame|frame|small|bench|frame 1
frame-big|frame-big|the same with 64 assets|frame|big|bench|frame 4
frag|frag|4 rounds: 2000 blocks of long-tailed sizes (16–512 B, then ×4 per round), every other live block freed|frag|small|bench|frag 1
frag-big|frag-big|the same with 8000 blocks per round|frag|big|bench|frag 4
EOF

# --- 4. Lua (bench/arm/lua, optional) -------------------------------------------------
lua_note=
if [ "$only" = gpu ]; then
	: >"$rows"
elif [ -f "$here/lua/build.sh" ]; then
	if bash "$here/lua/build.sh" "$out/lua" >"$out/lua-build.log" 2>&1 &&
		[ -f "$out/lua/lua_driver.o" ] && [ -f "$out/lua/liblua.a" ] &&
		build lua "$out/lua/lua_driver.o" "$out/lua/liblua.a" "$out/harness.o" 2>>"$out/lua-build.log"; then
		for s in "$here"/lua/*.lua; do
			[ -f "$s" ] || continue
			b=$(basename "$s" .lua)
			echo "lua-$b|lua: $b|bench/arm/lua/$b.lua run by lua_driver.c (Lua 5.4's allocation stream: realloc and free)|-|-|lua|$s" >>"$rows"
		done
	else
		lua_note="Lua rows skipped: bench/arm/lua/build.sh or the Lua link failed (log: build/bench-arm/lua-build.log)."
		note "$lua_note"
	fi
else
	lua_note="Lua rows skipped: bench/arm/lua/build.sh does not exist."
	note "$lua_note"
fi

# --- 4b. GPU memory: gpu_bench.c, vitalloc's heap objects and the mspace ----------
# The anchor's archive keeps only its msp_* functions global, as the Makefile
# does for libvitalloc.a: compiler_builtins' memcpy and __aeabi_* must not
# replace newlib's (nor land inside the counted ranges).
gpu_note=
gpu_allocs=(vitalloc)
[ "$only" = main ] && gpu_allocs=()
cc_arm -Iinclude -c "$here/gpu_bench.c" -o "$out/gpu_bench.vitalloc.o"
cc_arm -DGPU_MSPACE -c "$here/gpu_bench.c" -o "$out/gpu_bench.mspace.o"
gpu_link() { # <alloc> <archive> <regex of its code in the map>
	local elf=$out/gpu.$1.elf
	rm -f "$elf"
	link_arm "$out/gpu_bench.$1.o" "$out/harness.o" "$crt" "$2" "${sim[@]}" -lm -Wl,-Map="$elf.map" -o "$elf" >&2
	[ -f "$elf" ] && python3 "$here/map2ranges.py" "$elf.map" "$elf" "$elf.ranges" --alloc "$3" --helper "$helpers" 2>>"$out/ranges.log"
}
[ "$only" = main ] || gpu_link vitalloc "$lib" "$vitalloc_code" || die "linking gpu_bench with libvitalloc.a failed"
msp_target=$out/mspace-target/armv7-sony-vita-newlibeabihf/release
if [ "$only" = main ]; then
	:
elif cargo +nightly build -Zbuild-std=core --target armv7-sony-vita-newlibeabihf --release --locked \
	--manifest-path "$here/mspace/Cargo.toml" --target-dir "$out/mspace-target" >"$out/mspace-build.log" 2>&1 &&
	arm-none-eabi-objcopy -G msp_create -G msp_malloc -G msp_memalign -G msp_free \
		"$msp_target/libvtb_mspace.a" "$out/libvtb_mspace.a" 2>>"$out/mspace-build.log" &&
	gpu_link mspace "$out/libvtb_mspace.a" 'libvtb_mspace\.a\(' 2>>"$out/mspace-build.log"; then
	gpu_allocs+=(mspace)
else
	gpu_note="The dlmalloc-mspace rows did not run: building bench/arm/mspace failed (log: build/bench-arm/mspace-build.log)."
	note "$gpu_note"
fi

# --- 5. run everything, JOBS at a time ----------------------------------------------
# A failed workload run is an error; a failed Lua run only a note (the Lua
# rows are optional), shown in the report as a row that did not finish.
pids=()
failed=0
reap() { # pid:tag
	local tag=${1#*:}
	wait "${1%%:*}" && return 0
	note "run $tag failed: $runs/$tag.stderr"
	case $tag in *.lua-*) ;; *) failed=1 ;; esac
}
while IFS='|' read -r id _name _desc _group _size base args; do
	for a in newlib vitalloc; do
		# shellcheck disable=SC2086 # args are words
		measure "$out/$base.$a.elf" "$a.$id" $args &
		pids+=("$!:$a.$id")
		if [ ${#pids[@]} -ge "$jobs" ]; then
			reap "${pids[0]}"
			pids=("${pids[@]:1}")
		fi
	done
done <"$rows"
for p in "${pids[@]}"; do reap "$p"; done
# The GPU runs take a second each: one after the other. The mspace gets a
# 24 MiB block (the workload's peak need, about 19 MiB, rounded up
# generously; it must fit the simulated 26 MiB phycont budget).
for a in "${gpu_allocs[@]+"${gpu_allocs[@]}"}"; do
	for t in cdram phycont; do
		for w in textures buffers; do
			measure "$out/gpu.$a.elf" "gpu.$a.$t.$w" $t $w $((24 << 20)) ||
				{ note "run gpu.$a.$t.$w failed: $runs/gpu.$a.$t.$w.stderr"; failed=1; }
		done
	done
done

# --- 6. the report ---------------------------------------------------------------------
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git status --porcelain -- src 2>/dev/null)" ] || rev="$rev + uncommitted changes in src/"
meta="vitalloc $rev (${lib#"$root"/} of $(date -u -r "$lib" '+%Y-%m-%d %H:%M UTC')); $(qemu-arm --version | head -n1); run $(date -u '+%Y-%m-%d %H:%M UTC')."
# -B: the reports import report_lib.py; no __pycache__ in the tree.
: >"$out/results.md"
if [ "$only" != gpu ]; then
	python3 -B "$here/report.py" --rows "$rows" --runs "$runs" --meta "$meta" --note "$lua_note" >"$out/results.md" ||
		die "the report failed (a run that did not finish? see $runs)"
	echo >>"$out/results.md"
else
	echo "$meta" >>"$out/results.md"
	echo >>"$out/results.md"
fi
[ "$only" = main ] || python3 -B "$here/gpu_report.py" --runs "$runs" --note "$gpu_note" >>"$out/results.md" ||
	die "the GPU report failed"
cat "$out/results.md"
[ $failed = 0 ] || die "some runs failed (see above); the table shows what finished"
