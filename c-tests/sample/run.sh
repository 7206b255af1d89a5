#!/usr/bin/env bash
# c-tests/sample/run.sh -- builds and runs c-tests/sample (the sample
# homebrew's portable logic, main_vita.c on a fake VitaSDK, and vitalloc's
# CMake package) against vitalloc installed into a prefix, the way a user
# installs it:
#   host: dist/host installed into build/sample-host/vitalloc-prefix, tests
#         built natively;
#   arm:  dist/vita installed into build/sample-arm/vitalloc-prefix, tests
#         built with arm-none-eabi-gcc (c-tests/vita-sim's toolchain file)
#         and run under qemu-arm with the simulated Vita kernel.
# Prints ctest's summary line for each; exits nonzero when anything fails.
#
# usage: c-tests/sample/run.sh [host|arm|all]      (default: all)
#   VITALLOC_HOST_PREFIX / VITALLOC_VITA_PREFIX  test an existing installation
#       (e.g. from `make install PREFIX=...`) instead of installing dist/<platform>
#   VITALLOC_BUILD_ROOT  where the build trees go (default: build/)
#   CTEST_ARGS="..."     extra ctest arguments
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD
build_root=${VITALLOC_BUILD_ROOT:-$root/build}
jobs=$(nproc 2>/dev/null || echo 2)
which=${1:-all}

run() { # run <name> <prefix> [cmake args...]
  local name=$1 prefix=$2 build="$build_root/sample-$1"
  shift 2
  local args=("$@")
  if [ -n "$prefix" ]; then
    args+=("-DVITALLOC_PREFIX=$prefix")
  else
    args+=("-DVITALLOC_PREFIX=") # install dist/<platform> into the build tree
  fi
  mkdir -p "$build_root"
  echo "sample-$name: configuring $build"
  if ! cmake -S c-tests/sample -B "$build" "${args[@]}" >"$build.configure.log" 2>&1; then
    cat "$build.configure.log" >&2
    echo "sample-$name: cmake configure failed" >&2
    return 1
  fi
  echo "sample-$name: building"
  if ! cmake --build "$build" -j "$jobs" >"$build.build.log" 2>&1; then
    cat "$build.build.log" >&2
    echo "sample-$name: build failed" >&2
    return 1
  fi
  echo "sample-$name: running ctest"
  # shellcheck disable=SC2086
  (cd "$build" && ctest --output-on-failure -j "$jobs" ${CTEST_ARGS:-})
}

rc=0
case "$which" in
  host|all)
    run host "${VITALLOC_HOST_PREFIX:-}" || rc=1 ;;&
  arm|all)
    for tool in arm-none-eabi-gcc arm-none-eabi-g++ qemu-arm; do
      command -v "$tool" >/dev/null || { echo "sample-arm: $tool is required (make deps installs it)" >&2; exit 1; }
    done
    run arm "${VITALLOC_VITA_PREFIX:-}" \
      -DCMAKE_TOOLCHAIN_FILE="$root/c-tests/vita-sim/arm-none-eabi.toolchain.cmake" || rc=1 ;;
  host|arm|all) ;;
  *) echo "usage: c-tests/sample/run.sh [host|arm|all]" >&2; exit 2 ;;
esac
if [ $rc -ne 0 ]; then
  echo "c-tests/sample: FAILED" >&2
fi
exit $rc
