#!/usr/bin/env bash
# Real programs under LD_PRELOAD=<absolute path>/dist/host/lib/libvitalloc.so:
#   python3  tools/preload/alloc_heavy.py (dicts, lists, strings, big
#            bytearrays, JSON, threads), with PYTHONMALLOC=malloc so every
#            Python object goes through malloc; inside the process, ctypes
#            finds vitalloc_stats and checks malloc_calls > 0 and
#            vitalloc_check();
#   sqlite3  builds a database from tools/preload/gen_sql.py's script and
#            queries it (joins, GROUP BY, window functions...);
#   gcc      compiles tools/preload/gen_c.py's program (~7000 lines) with -O2
#            (assembly, then executable), then the program runs.
# Each runs twice, under glibc's malloc and under vitalloc; the outputs (and
# gcc's assembly) must be identical byte for byte. For sqlite3 and gcc,
# which cannot look inside themselves, LD_DEBUG=bindings (to a side file)
# must show malloc bound to libvitalloc.so.
# Prints "preload: <program> ... ok|FAILED" per program, then one line
# "N passed, M failed"; exits nonzero on any failure.
#   VITALLOC_SO=<path>  the library to preload (default dist/host/lib/libvitalloc.so)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
so=${VITALLOC_SO:-$root/dist/host/lib/libvitalloc.so}
work=$root/build/preload

die() { echo "test-preload: $*" >&2; echo "0 passed, 1 failed"; exit 1; }

[ -f "$so" ] || die "$so not found: run 'make host' first"
so=$(cd "$(dirname "$so")" && pwd)/$(basename "$so") # LD_PRELOAD wants an absolute path
for tool in python3 sqlite3 gcc diff timeout; do
  command -v "$tool" >/dev/null 2>&1 ||
    die "$tool is required and missing (make deps / tools/ensure-deps.sh installs it)"
done
# python3 may be a pyenv shim (a bash script that execs the interpreter):
# run the real interpreter, so the preloaded process is Python itself.
python=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) || python=
[ -n "$python" ] && [ -x "$python" ] || die "cannot find the real python3 interpreter"

rm -rf "$work"
mkdir -p "$work"
passed=0
failed=0

report() { # name ok|FAILED [detail]
  if [ "$2" = ok ]; then
    passed=$((passed + 1))
    echo "preload: $1 ... ok${3:+ ($3)}"
  else
    failed=$((failed + 1))
    echo "preload: $1 ... FAILED${3:+: $3}"
  fi
}

# run <tag> <mode glibc|vitalloc> <cmd...>: stdout to $work/<tag>.<mode>.out,
# stderr to .err; under vitalloc with LD_PRELOAD (and, for native programs,
# LD_DEBUG=bindings into $work/<tag>.ld.*).
run() {
  local tag=$1 mode=$2
  shift 2
  local out=$work/$tag.$mode.out err=$work/$tag.$mode.err
  # (timeout outside env: only the program and its children are preloaded.)
  if [ "$mode" = vitalloc ]; then
    if [ "${WANT_LD_DEBUG:-0}" = 1 ]; then
      timeout 900 env LD_PRELOAD="$so" LD_DEBUG=bindings LD_DEBUG_OUTPUT="$work/$tag.ld" \
        "$@" >"$out" 2>"$err"
    else
      timeout 900 env LD_PRELOAD="$so" "$@" >"$out" 2>"$err"
    fi
  else
    timeout 900 env -u LD_PRELOAD "$@" >"$out" 2>"$err"
  fi
}

# same <tag> <file suffix>: both runs produced identical files.
same() {
  local a=$work/$1.glibc.$2 b=$work/$1.vitalloc.$2
  if cmp -s "$a" "$b"; then
    return 0
  fi
  echo "--- $1: glibc and vitalloc runs differ ($2):" >&2
  diff -u "$a" "$b" | head -40 >&2
  return 1
}

# bound_to_vitalloc <tag>: LD_DEBUG shows malloc bound to libvitalloc.so.
bound_to_vitalloc() {
  grep -h "normal symbol \`malloc'" "$work/$1".ld.* 2>/dev/null | grep -qF "$so" && return 0
  echo "--- $1: LD_DEBUG=bindings never shows malloc bound to $so" >&2
  return 1
}

show_failure() { # tag mode status
  echo "--- $1 under $2 exited with status $3; stderr:" >&2
  tail -20 "$work/$1.$2.err" >&2
}

# ---- (a) python3 ---------------------------------------------------------
t=python3
ok=1
PYTHONHASHSEED=0 PYTHONMALLOC=malloc run $t glibc "$python" tools/preload/alloc_heavy.py --expect glibc ||
  { show_failure $t glibc $?; ok=0; }
PYTHONHASHSEED=0 PYTHONMALLOC=malloc run $t vitalloc "$python" tools/preload/alloc_heavy.py --expect vitalloc ||
  { show_failure $t vitalloc $?; ok=0; }
[ $ok = 1 ] && { same $t out || ok=0; }
detail=$(grep -h '^allocator: vitalloc' "$work/$t.vitalloc.err" 2>/dev/null | sed 's/^allocator: //')
if [ $ok = 1 ]; then report python3 ok "$python, $(wc -l <"$work/$t.glibc.out") output lines identical; $detail"
else report python3 FAILED "see above"; fi

# ---- (b) sqlite3 ---------------------------------------------------------
t=sqlite3
ok=1
"$python" tools/preload/gen_sql.py 3000 >"$work/build.sql" || die "gen_sql.py failed"
run $t glibc sqlite3 "$work/glibc.db" <"$work/build.sql" || { show_failure $t glibc $?; ok=0; }
WANT_LD_DEBUG=1 run $t vitalloc sqlite3 "$work/vitalloc.db" <"$work/build.sql" ||
  { show_failure $t vitalloc $?; ok=0; }
[ $ok = 1 ] && { same $t out || ok=0; }
# Read the database back (a second process per allocator), dump included.
for mode in glibc vitalloc; do
  run $t-dump $mode sqlite3 "$work/$mode.db" .dump || { show_failure $t-dump $mode $?; ok=0; }
done
[ $ok = 1 ] && { same $t-dump out || ok=0; }
[ $ok = 1 ] && { bound_to_vitalloc $t || ok=0; }
if [ $ok = 1 ]; then
  report sqlite3 ok "$(wc -l <"$work/build.sql")-line script; $(wc -l <"$work/$t.glibc.out") result lines and $(wc -l <"$work/$t-dump.glibc.out")-line dump identical; malloc bound to libvitalloc.so"
else report sqlite3 FAILED "see above"; fi

# ---- (c) gcc -------------------------------------------------------------
t=gcc
ok=1
"$python" tools/preload/gen_c.py 400 >"$work/prog.c" || die "gen_c.py failed"
for mode in glibc vitalloc; do
  WANT_LD_DEBUG=$([ $mode = vitalloc ] && echo 1 || echo 0) \
    run $t-S $mode gcc -O2 -S -o "$work/prog.$mode.s" "$work/prog.c" || { show_failure $t-S $mode $?; ok=0; }
  run $t $mode gcc -O2 -o "$work/prog.$mode" "$work/prog.c" || { show_failure $t $mode $?; ok=0; }
done
if [ $ok = 1 ]; then
  cmp -s "$work/prog.glibc.s" "$work/prog.vitalloc.s" ||
    { echo "--- gcc: the assembly differs between the glibc and vitalloc runs" >&2
      diff -u "$work/prog.glibc.s" "$work/prog.vitalloc.s" | head -40 >&2; ok=0; }
fi
if [ $ok = 1 ]; then
  cmp -s "$work/prog.glibc" "$work/prog.vitalloc" ||
    { echo "--- gcc: the executables differ between the glibc and vitalloc runs" >&2; ok=0; }
  # Each executable runs under the allocator that built it.
  run $t-run glibc "$work/prog.glibc" || { show_failure $t-run glibc $?; ok=0; }
  run $t-run vitalloc "$work/prog.vitalloc" || { show_failure $t-run vitalloc $?; ok=0; }
  [ $ok = 1 ] && { same $t-run out || ok=0; }
fi
[ $ok = 1 ] && { bound_to_vitalloc $t-S || ok=0; }
if [ $ok = 1 ]; then
  report gcc ok "-O2 on a $(wc -l <"$work/prog.c")-line program: assembly, executable and its output identical; malloc bound to libvitalloc.so"
else report gcc FAILED "see above"; fi

echo "$passed passed, $failed failed"
[ $failed = 0 ]
