#!/usr/bin/env bash
# Builds and runs vitalloc's C tests for the Vita's CPU: c-tests/ configured
# for 32-bit ARM newlib (arm-none-eabi-gcc, Cortex-A9 hard float, rdimon)
# with the simulated Vita kernel, against the Vita library in dist/vita
# (make vita builds it), in build/c-arm; ctest runs every program under
# qemu-arm -cpu cortex-a9. This is the portable suite (c-tests/common) plus
# the ARM-only tests (c-tests/arm: newlib's allocations in vitalloc
# memblocks, the 128 MiB reservation, _newlib_heap_size_user, fault
# injection, 32-bit limits, link maps, the archive's symbol table) and the
# simulator's self-tests.
# The whole suite runs twice: on the simulated kernel's usual TLS layout
# (the one the Vita's fast path expects: slots below TPIDRURO), then, in
# <build dir>-tls-above, on a layout the fast path must detect and work
# around (slots above TPIDRURO, garbage below: VITA_SIM_TLS_ABOVE).
# Prints ctest's summary lines; exits nonzero when anything fails.
#   VITALLOC_DIST=<dir>       test another dist directory (default: dist/vita)
#   VITALLOC_BUILD_DIR=<dir>  build directory (default: build/c-arm)
#   CTEST_ARGS="..."          extra ctest arguments (e.g. "-R fault")
#   TLS_LAYOUTS="..."         which passes to run (default: "below above")
#   VITALLOC_PREEMPT_LIB=<a>  the sim-preempt build for test_preempt*
#                             (default: build/vita-preempt/libvitalloc.a)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
dist=${VITALLOC_DIST:-$root/dist/vita}
build=${VITALLOC_BUILD_DIR:-$root/build/c-arm}

for tool in cmake ctest arm-none-eabi-gcc arm-none-eabi-readelf qemu-arm; do
  command -v "$tool" >/dev/null || {
    echo "test-arm: $tool is required (make deps installs cmake, gcc-arm-none-eabi, libnewlib-arm-none-eabi, qemu-user)" >&2
    exit 1
  }
done
if [ ! -f "$dist/lib/libvitalloc.a" ] || [ ! -f "$dist/include/vitalloc.h" ]; then
  echo "test-arm: $dist/lib/libvitalloc.a or $dist/include/vitalloc.h missing: run 'make vita' first" >&2
  exit 1
fi

# The same configure/build/ctest steps as the host suite, configured for
# ARM (test-c.sh runs them), once per TLS layout.
# The preemption test links the test-only build (make vita-preempt).
preempt_lib=${VITALLOC_PREEMPT_LIB:-$root/build/vita-preempt/libvitalloc.a}
[ -f "$preempt_lib" ] || echo "test-arm: $preempt_lib missing (make vita-preempt): test_preempt skipped" >&2
rc=0
for layout in ${TLS_LAYOUTS:-below above}; do
  case $layout in
    below) dir=$build; above=OFF ;;
    above) dir=$build-tls-above; above=ON ;;
    *) echo "test-arm: TLS_LAYOUTS takes 'below' and 'above'" >&2; exit 1 ;;
  esac
  TEST_C_NAME="test-arm ($layout TPIDRURO)" VITALLOC_DIST="$dist" VITALLOC_BUILD_DIR="$dir" \
    VITALLOC_CMAKE_ARGS="-DVITALLOC_ARM=ON -DVITA_SIM_TLS_ABOVE=$above -DVITALLOC_PREEMPT_LIB=$preempt_lib -DCMAKE_TOOLCHAIN_FILE=$root/c-tests/vita-sim/arm-none-eabi.toolchain.cmake" \
    "$root/tools/test-c.sh" || rc=1
done
exit $rc
