#!/usr/bin/env bash
# packaging/install.sh -- installs one of vitalloc's builds (dist/vita or
# dist/host) into a prefix with the layout of its CMake package:
#
#   <prefix>/lib/libvitalloc.a
#   <prefix>/lib/libvitalloc.so                 (host build only)
#   <prefix>/lib/libvitalloc_debug.a            (the debug build, when built)
#   <prefix>/include/vitalloc.h
#   <prefix>/lib/cmake/vitalloc/vitallocConfig.cmake
#   <prefix>/lib/cmake/vitalloc/vitallocConfigVersion.cmake
#   <prefix>/lib/cmake/vitalloc/vitalloc_single_block.c (+ .cpp wrapper)
#   <prefix>/share/licenses/vitalloc/LICENSE
#
# For the Vita the prefix is $VITASDK/arm-vita-eabi (what `make install`
# uses when VITASDK is set), where the VitaSDK toolchain file finds CMake
# packages. Only vitalloc's own files are written; nothing else in the
# prefix is touched.
#
# usage: packaging/install.sh [--version X.Y.Z] <dist dir> <prefix>
#   <dist dir>  dist/vita or dist/host (lib/libvitalloc.a, include/vitalloc.h
#               and, once `make` puts them there, lib/cmake/vitalloc/*)
#   --version   the version for vitallocConfigVersion.cmake when it has to
#               be generated from cmake/*.in (default: Cargo.toml's)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=""
while [ $# -gt 0 ]; do
  case "$1" in
    --version) version=${2:?--version needs a value}; shift 2 ;;
    --version=*) version=${1#--version=}; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    --) shift; break ;;
    -*) echo "install.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
if [ $# -ne 2 ]; then
  echo "usage: packaging/install.sh [--version X.Y.Z] <dist dir> <prefix>" >&2
  exit 2
fi
dist=$1
prefix=$2

for f in lib/libvitalloc.a include/vitalloc.h; do
  if [ ! -f "$dist/$f" ]; then
    echo "install.sh: $dist/$f is missing (run make first)" >&2
    exit 1
  fi
done
if [ -z "$version" ]; then
  version=$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' "$root/Cargo.toml" | head -n1)
fi
if ! [[ $version =~ ^[0-9]+\.[0-9]+(\.[0-9]+)?([-+][0-9A-Za-z.-]+)?$ ]]; then
  echo "install.sh: bad version '$version'" >&2
  exit 1
fi

cmake_dir="$prefix/lib/cmake/vitalloc"
mkdir -p "$prefix/lib" "$prefix/include" "$cmake_dir" "$prefix/share/licenses/vitalloc"
install -m 644 "$dist/lib/libvitalloc.a" "$prefix/lib/libvitalloc.a"
if [ -f "$dist/lib/libvitalloc_debug.a" ]; then
  install -m 644 "$dist/lib/libvitalloc_debug.a" "$prefix/lib/libvitalloc_debug.a"
fi
if [ -f "$dist/lib/libvitalloc.so" ]; then
  install -m 755 "$dist/lib/libvitalloc.so" "$prefix/lib/libvitalloc.so"
fi
install -m 644 "$dist/include/vitalloc.h" "$prefix/include/vitalloc.h"

if [ -f "$dist/lib/cmake/vitalloc/vitallocConfig.cmake" ] &&
   [ -f "$dist/lib/cmake/vitalloc/vitallocConfigVersion.cmake" ]; then
  # Already staged by make (dist/<platform>/lib/cmake/vitalloc/).
  for f in "$dist/lib/cmake/vitalloc/"*; do
    install -m 644 "$f" "$cmake_dir/"
  done
else
  install -m 644 "$root/cmake/vitallocConfig.cmake" "$root/cmake/vitalloc_single_block.c" \
    "$root/cmake/vitalloc_single_block.cpp" "$cmake_dir/"
  sed "s/@VITALLOC_VERSION@/$version/g" "$root/cmake/vitallocConfigVersion.cmake.in" \
    >"$cmake_dir/vitallocConfigVersion.cmake"
  chmod 644 "$cmake_dir/vitallocConfigVersion.cmake"
fi
install -m 644 "$root/LICENSE" "$prefix/share/licenses/vitalloc/LICENSE"
echo "install.sh: vitalloc $version ($dist) installed into $prefix"
