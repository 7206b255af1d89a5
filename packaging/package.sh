#!/usr/bin/env bash
# packaging/package.sh -- writes the release tarball of vitalloc's Vita build:
# vitalloc-<version>-vita.tar.xz, laid out to be extracted into
# $VITASDK/arm-vita-eabi the way vdpm installs packages:
#
#   lib/libvitalloc.a  include/vitalloc.h  lib/cmake/vitalloc/*
#   share/licenses/vitalloc/LICENSE
#
#   tar -C "$VITASDK/arm-vita-eabi" -xJf vitalloc-<version>-vita.tar.xz
#
# The VITABUILD at the repository root installs this tarball. The archive is
# reproducible: sorted names, owner 0:0, and every mtime set to
# SOURCE_DATE_EPOCH (default: the last commit's time, else 0).
#
# usage: packaging/package.sh [--version X.Y.Z] [<dist dir> [<output dir>]]
#   defaults: dist/vita, the current directory
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version_args=()
version=""
while [ $# -gt 0 ]; do
  case "$1" in
    --version) version=${2:?--version needs a value}; version_args=(--version "$version"); shift 2 ;;
    --version=*) version=${1#--version=}; version_args=(--version "$version"); shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    -*) echo "package.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
dist=${1:-$root/dist/vita}
out=${2:-.}
if [ -z "$version" ]; then
  version=$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' "$root/Cargo.toml" | head -n1)
fi
if [ -f "$dist/lib/libvitalloc.so" ]; then
  echo "package.sh: $dist holds a host build (libvitalloc.so): the tarball is for dist/vita" >&2
  exit 1
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
"$root/packaging/install.sh" "${version_args[@]}" "$dist" "$stage" >/dev/null

epoch=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 0)}
mkdir -p "$out"
tarball="$(cd "$out" && pwd)/vitalloc-$version-vita.tar.xz"
(cd "$stage" && find lib include share -print0 | LC_ALL=C sort -z |
  tar --null --no-recursion -T - --owner=0 --group=0 --numeric-owner \
      --mtime="@$epoch" --format=gnu -cf - | xz -9e -T1 >"$tarball")
echo "package.sh: wrote $tarball"
tar -tJvf "$tarball"
