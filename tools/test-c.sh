#!/usr/bin/env bash
# Builds and runs vitalloc's C tests (c-tests/, CMake + ctest) against the
# host library in dist/host (make host builds it), in build/c-host.
# Prints ctest's summary line; exits nonzero when anything fails.
#   VITALLOC_DIST=<dir>  test another dist directory (default: dist/host)
#   VITALLOC_BUILD_DIR=<dir>  build directory (default: build/c-host)
#   CTEST_ARGS="..."     extra ctest arguments (e.g. "-R misuse")
#   VITALLOC_CMAKE_ARGS="..."  extra configure arguments (tools/test-arm.sh)
#   TEST_C_NAME=<name>   the name messages start with (default: test-c)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
dist=${VITALLOC_DIST:-$root/dist/host}
build=${VITALLOC_BUILD_DIR:-$root/build/c-host}
jobs=$(nproc 2>/dev/null || echo 2)

me=${TEST_C_NAME:-test-c}
for tool in cmake ctest; do
  command -v "$tool" >/dev/null || { echo "$me: $tool is required (make deps installs it)" >&2; exit 1; }
done
if [ ! -f "$dist/lib/libvitalloc.a" ] || [ ! -f "$dist/include/vitalloc.h" ]; then
  echo "$me: $dist/lib/libvitalloc.a or $dist/include/vitalloc.h missing: run 'make host' first" >&2
  exit 1
fi

mkdir -p "$root/build"
echo "$me: configuring $build (library: $dist)"
# shellcheck disable=SC2086
if ! cmake -S c-tests -B "$build" -DVITALLOC_DIST="$dist" ${VITALLOC_CMAKE_ARGS:-} >"$build.configure.log" 2>&1; then
  cat "$build.configure.log" >&2
  echo "$me: cmake configure failed" >&2
  exit 1
fi
echo "$me: building"
if ! cmake --build "$build" -j "$jobs" >"$build.build.log" 2>&1; then
  cat "$build.build.log" >&2
  echo "$me: build failed" >&2
  exit 1
fi
echo "$me: running ctest"
# ctest prints its summary ("100% tests passed, 0 tests failed out of N").
set +e
# shellcheck disable=SC2086
(cd "$build" && ctest --output-on-failure -j "$jobs" ${CTEST_ARGS:-})
rc=$?
set -e
if [ $rc -ne 0 ]; then
  echo "$me: FAILED (ctest exit status $rc)" >&2
fi
exit $rc
