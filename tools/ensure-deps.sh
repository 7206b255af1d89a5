#!/usr/bin/env bash
# Installs what `make` and `make test` need, saying what it does; installs
# nothing that is already there. Debian packages only when running as root.
set -euo pipefail
need_apt=()
have() { command -v "$1" >/dev/null 2>&1; }
want_pkg() { # command package
  have "$1" || need_apt+=("$2")
}
want_pkg cmake cmake
want_pkg arm-none-eabi-gcc gcc-arm-none-eabi
want_pkg qemu-arm qemu-user
want_pkg valgrind valgrind
want_pkg sqlite3 sqlite3
want_pkg python3 python3
want_pkg g++ g++
want_pkg xz xz-utils
want_deb() { # package: installed according to dpkg
  dpkg -s "$1" >/dev/null 2>&1 || need_apt+=("$1")
}
if command -v dpkg >/dev/null 2>&1; then
  want_deb libnewlib-arm-none-eabi
  want_deb libstdc++-arm-none-eabi-newlib   # the sample's C++ part on ARM
else
  [ -d /usr/lib/arm-none-eabi/newlib ] || need_apt+=(libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && have apt-get; then
    echo "ensure-deps: installing Debian packages: ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "ensure-deps: missing Debian packages (install them as root): ${need_apt[*]}" >&2
    exit 1
  fi
fi
if ! have rustup; then
  echo "ensure-deps: rustup is required (https://rustup.rs)" >&2
  exit 1
fi
for c in clippy rustfmt; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$c"; then
    echo "ensure-deps: rustup component add $c"
    rustup component add "$c"
  fi
done
if ! rustup toolchain list | grep -q '^nightly'; then
  echo "ensure-deps: rustup toolchain install nightly (builds core for the Vita target)"
  rustup toolchain install nightly --profile minimal
fi
for c in rust-src clippy; do
  if ! rustup component list --toolchain nightly --installed 2>/dev/null | grep -q "^$c"; then
    echo "ensure-deps: rustup component add $c --toolchain nightly (the Vita build and its lint)"
    rustup component add "$c" --toolchain nightly
  fi
done
# Miri runs the core's tests with undefined-behaviour checks (make miri).
# Its first run also builds a checked standard library (cargo miri setup).
if ! rustup component list --toolchain nightly --installed 2>/dev/null | grep -q "^miri"; then
  echo "ensure-deps: rustup component add miri --toolchain nightly (make miri)"
  rustup component add miri --toolchain nightly
fi
if ! have cbindgen; then
  echo "ensure-deps: cargo install cbindgen (generates include/vitalloc.h)"
  cargo install --locked cbindgen
fi
