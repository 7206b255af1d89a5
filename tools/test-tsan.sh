#!/usr/bin/env bash
# The threaded C tests under ThreadSanitizer (c-tests/host/tsan): built
# with gcc -fsanitize=thread and linked with the TSan build of the library
# in dist/host-tsan (make host-tsan), in build/c-host-tsan; ctest runs them.
# A test fails on any TSan report (its stderr is shown) or failed check.
# Prints ctest's summary line; exits nonzero when anything fails.
#   VITALLOC_DIST=<dir>  the TSan build's prefix (default: dist/host-tsan)
#   SOAK_OPS=<n>         the thread-exit programs' length (make verify: 300000)
#   CTEST_ARGS="..."     extra ctest arguments (e.g. "-R churn")
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
dist=${VITALLOC_DIST:-$root/dist/host-tsan}
build=$root/build/c-host-tsan
jobs=$(nproc 2>/dev/null || echo 2)

if [ ! -f "$dist/lib/libvitalloc.a" ]; then
  echo "test-tsan: $dist/lib/libvitalloc.a missing: run 'make host-tsan' first" >&2
  exit 1
fi
mkdir -p "$root/build"
echo "test-tsan: configuring $build (library: $dist)"
if ! cmake -S c-tests/host/tsan -B "$build" -DVITALLOC_DIST="$dist" >"$build.configure.log" 2>&1; then
  cat "$build.configure.log" >&2
  echo "test-tsan: cmake configure failed" >&2
  exit 1
fi
echo "test-tsan: building"
if ! cmake --build "$build" -j "$jobs" >"$build.build.log" 2>&1; then
  cat "$build.build.log" >&2
  echo "test-tsan: build failed" >&2
  exit 1
fi
echo "test-tsan: running ctest"
set +e
# shellcheck disable=SC2086
(cd "$build" && ctest --output-on-failure -j "$jobs" ${CTEST_ARGS:-})
rc=$?
set -e
[ $rc -eq 0 ] || echo "test-tsan: FAILED (ctest exit status $rc)" >&2
exit $rc
