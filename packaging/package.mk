# packaging/package.mk -- the CMake package, `make install` and `make package`.
# Included by the top-level Makefile after it defines DIST, HOST and VITA
# (dist, dist/host, dist/vita):
#
#   host, vita     also stage the CMake package next to each build:
#                  dist/<platform>/lib/cmake/vitalloc/{vitallocConfig.cmake,
#                  vitallocConfigVersion.cmake (version from Cargo.toml),
#                  vitalloc_single_block.c, vitalloc_single_block.cpp}
#   host-debug, vita-debug  the same package next to the debug builds
#   install        dist/vita into $(PREFIX): lib/libvitalloc.a,
#                  lib/libvitalloc_debug.a (the debug build: vitalloc::debug),
#                  include/vitalloc.h, lib/cmake/vitalloc/*,
#                  share/licenses/vitalloc/LICENSE. PREFIX defaults to
#                  $VITASDK/arm-vita-eabi when VITASDK is set.
#   install-host   dist/host (with libvitalloc.so) into $(PREFIX), for host
#                  programs that find_package(vitalloc)
#   package        vitalloc-<version>-vita.tar.xz in the repository root, to
#                  be extracted into $VITASDK/arm-vita-eabi (what VITABUILD
#                  installs)

VITALLOC_VERSION := $(shell sed -n 's/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml | head -n1)
PREFIX ?= $(if $(VITASDK),$(VITASDK)/arm-vita-eabi)
CMAKE_PACKAGE_FILES := vitallocConfig.cmake vitallocConfigVersion.cmake vitalloc_single_block.c vitalloc_single_block.cpp
HOST_CMAKE_PACKAGE := $(addprefix $(HOST)/lib/cmake/vitalloc/,$(CMAKE_PACKAGE_FILES))
VITA_CMAKE_PACKAGE := $(addprefix $(VITA)/lib/cmake/vitalloc/,$(CMAKE_PACKAGE_FILES))

.PHONY: cmake-package install install-host package

host: $(HOST_CMAKE_PACKAGE)
vita: $(VITA_CMAKE_PACKAGE)
host-debug: $(addprefix $(HOST_DEBUG)/lib/cmake/vitalloc/,$(CMAKE_PACKAGE_FILES))
vita-debug: $(addprefix $(VITA_DEBUG)/lib/cmake/vitalloc/,$(CMAKE_PACKAGE_FILES))
cmake-package: $(HOST_CMAKE_PACKAGE) $(VITA_CMAKE_PACKAGE)

$(DIST)/%/lib/cmake/vitalloc/vitallocConfigVersion.cmake: cmake/vitallocConfigVersion.cmake.in Cargo.toml
	@mkdir -p $(@D)
	sed 's/@VITALLOC_VERSION@/$(VITALLOC_VERSION)/g' $< >$@
$(DIST)/%/lib/cmake/vitalloc/vitallocConfig.cmake: cmake/vitallocConfig.cmake
	@mkdir -p $(@D)
	cp $< $@
$(DIST)/%/lib/cmake/vitalloc/vitalloc_single_block.c: cmake/vitalloc_single_block.c
	@mkdir -p $(@D)
	cp $< $@
$(DIST)/%/lib/cmake/vitalloc/vitalloc_single_block.cpp: cmake/vitalloc_single_block.cpp
	@mkdir -p $(@D)
	cp $< $@

install: vita
	@test -n "$(PREFIX)" || { echo "make install: set VITASDK (installs into \$$VITASDK/arm-vita-eabi) or PREFIX=<dir>" >&2; exit 1; }
	packaging/install.sh --version $(VITALLOC_VERSION) $(VITA) "$(PREFIX)"

install-host: host
	@test -n "$(PREFIX)" || { echo "make install-host: set PREFIX=<dir>" >&2; exit 1; }
	packaging/install.sh --version $(VITALLOC_VERSION) $(HOST) "$(PREFIX)"

package: vita
	packaging/package.sh --version $(VITALLOC_VERSION) $(VITA) .
