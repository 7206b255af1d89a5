# vitallocConfig.cmake -- the CMake package of vitalloc, a memory allocator
# for PlayStation Vita homebrew (https://example.invalid/vitalloc).
#
# Installed as <prefix>/lib/cmake/vitalloc/ next to <prefix>/lib/libvitalloc.a
# and <prefix>/include/vitalloc.h; <prefix> is found from this file's own
# location, so the installed tree can be moved (VitaSDK: <prefix> is
# $VITASDK/arm-vita-eabi, which the VitaSDK toolchain file searches).
#
# Adoption is two lines, for C and C++ programs alike:
#
#   find_package(vitalloc REQUIRED)
#   target_link_libraries(app PRIVATE vitalloc::vitalloc)
#
# Targets:
#
#   vitalloc::vitalloc      libvitalloc.a, its include directory, and the link
#                           option -Wl,-u,vitalloc_malloc (below).
#   vitalloc::debug         the debug build, lib/libvitalloc_debug.a, with the
#                           same include directory and link option: a drop-in
#                           replacement for vitalloc::vitalloc that finds
#                           heap bugs (canaries after every block, poisoned
#                           and quarantined frees, fresh-memory pattern, the
#                           caller of every block, vitalloc_dump for leak
#                           reports, per-class statistics; see the README's
#                           "Debug build"). Link one of vitalloc::vitalloc and
#                           vitalloc::debug, not both. Defined when the
#                           archive is installed (make builds it).
#   vitalloc::single_block  what vitalloc::vitalloc gives, plus a one-line C
#                           source, vitalloc_single_block.c, compiled into the
#                           program:
#                           it defines
#                             unsigned int vitalloc_single_block_size
#                               = VITALLOC_SINGLE_BLOCK_SIZE;
#                           whose presence makes vitalloc reserve ONE memblock
#                           of that size on first use and serve every
#                           allocation from it (for vitaGL, which maps the
#                           memblock holding malloc(1) for the GPU and
#                           expects every later allocation to lie in it).
#                           The size is the cache variable
#                           VITALLOC_SINGLE_BLOCK_SIZE (bytes, a multiple of
#                           4 KiB; default 64 MiB), also visible to the
#                           program's sources as the macro of that name.
#
# Why -Wl,-u,vitalloc_malloc: every symbol vitalloc exports lives in one
# object of libvitalloc.a. Naming a symbol that only vitalloc defines as
# undefined forces that object into the link wherever the archive appears,
# so malloc & co. and newlib's _malloc_r family all come from vitalloc; if a
# project puts the C library before vitalloc on its link line, the link then
# fails with duplicate definitions instead of silently keeping newlib's heap.
# (Forcing `malloc` instead would be satisfied by libc's own malloc.o.)
# A program can check at start that vitalloc is its heap: after any
# allocation, vitalloc_stats() reports malloc_calls > 0.
#
# On the Vita, vitalloc calls the kernel (sceKernelAllocMemBlock & co. from
# SceSysmem, the LwMutex functions from SceLibKernel). Their stubs,
# SceSysmem_stub and SceLibKernel_stub, are on the default link line of
# VitaSDK's arm-vita-eabi-gcc (after -lc), so this package does not name
# them: it relies on that. A project linking with -nostdlib must add them
# itself.
#
# Variables set: vitalloc_FOUND, vitalloc_VERSION (from
# vitallocConfigVersion.cmake), vitalloc_INCLUDE_DIRS, vitalloc_LIBRARIES
# (= vitalloc::vitalloc), vitalloc_PREFIX.

if(CMAKE_VERSION VERSION_LESS 3.13)
  set(vitalloc_FOUND FALSE)
  set(vitalloc_NOT_FOUND_MESSAGE
    "vitalloc's CMake package needs CMake 3.13 or newer (INTERFACE_LINK_OPTIONS); this is ${CMAKE_VERSION}")
  return()
endif()

# lib/cmake/vitalloc -> the installation prefix.
get_filename_component(vitalloc_PREFIX "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
set(_vitalloc_library "${vitalloc_PREFIX}/lib/libvitalloc.a")
set(vitalloc_INCLUDE_DIRS "${vitalloc_PREFIX}/include")

foreach(_vitalloc_file IN ITEMS "${_vitalloc_library}" "${vitalloc_INCLUDE_DIRS}/vitalloc.h")
  if(NOT EXISTS "${_vitalloc_file}")
    set(vitalloc_FOUND FALSE)
    set(vitalloc_NOT_FOUND_MESSAGE
      "${_vitalloc_file} is missing: this vitalloc installation in ${vitalloc_PREFIX} is incomplete")
    unset(_vitalloc_file)
    unset(_vitalloc_library)
    return()
  endif()
endforeach()
unset(_vitalloc_file)

# The host (Linux) build calls pthread_atfork, in libpthread before glibc
# 2.34. The Vita build needs nothing beyond VitaSDK's default link line.
set(_vitalloc_deps "")
if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
  include(CMakeFindDependencyMacro)
  find_dependency(Threads)
  set(_vitalloc_deps Threads::Threads)
endif()

if(NOT TARGET vitalloc::vitalloc)
  add_library(vitalloc::vitalloc STATIC IMPORTED)
  set_target_properties(vitalloc::vitalloc PROPERTIES
    IMPORTED_LOCATION "${_vitalloc_library}"
    IMPORTED_LINK_INTERFACE_LANGUAGES "C"
    INTERFACE_INCLUDE_DIRECTORIES "${vitalloc_INCLUDE_DIRS}"
    INTERFACE_LINK_LIBRARIES "${_vitalloc_deps}"
    # -Wl,-u,vitalloc_malloc with GCC (arm-vita-eabi-gcc, gcc, g++...).
    INTERFACE_LINK_OPTIONS "LINKER:-u,vitalloc_malloc")
endif()
set(vitalloc_LIBRARIES vitalloc::vitalloc)

# ---- vitalloc::debug ---------------------------------------------------------
# Its own imported target over the debug archive, with vitalloc::vitalloc's
# usage requirements (the debug build exports the same symbols, so the same
# -u option forces its one object in).
set(_vitalloc_debug_library "${vitalloc_PREFIX}/lib/libvitalloc_debug.a")
if(NOT TARGET vitalloc::debug AND EXISTS "${_vitalloc_debug_library}")
  add_library(vitalloc::debug STATIC IMPORTED)
  set_target_properties(vitalloc::debug PROPERTIES
    IMPORTED_LOCATION "${_vitalloc_debug_library}"
    IMPORTED_LINK_INTERFACE_LANGUAGES "C"
    INTERFACE_INCLUDE_DIRECTORIES "${vitalloc_INCLUDE_DIRS}"
    INTERFACE_LINK_LIBRARIES "${_vitalloc_deps}"
    INTERFACE_LINK_OPTIONS "LINKER:-u,vitalloc_malloc")
endif()
unset(_vitalloc_debug_library)

# ---- vitalloc::single_block --------------------------------------------------
set(VITALLOC_SINGLE_BLOCK_SIZE 67108864 CACHE STRING
  "Bytes of the one memblock vitalloc reserves for programs linking vitalloc::single_block (a multiple of 4096; default 64 MiB)")

if(NOT TARGET vitalloc::single_block)
  # Accepts a number or an expression of math(EXPR): 67108864, 0x4000000,
  # 64*1024*1024.
  if(NOT VITALLOC_SINGLE_BLOCK_SIZE MATCHES "^[0-9xXa-fA-F*+() ]+$")
    message(FATAL_ERROR "VITALLOC_SINGLE_BLOCK_SIZE must be a number of bytes, not '${VITALLOC_SINGLE_BLOCK_SIZE}'")
  endif()
  math(EXPR _vitalloc_sb_size "${VITALLOC_SINGLE_BLOCK_SIZE}")
  math(EXPR _vitalloc_sb_rem "${_vitalloc_sb_size} % 4096")
  if(_vitalloc_sb_size LESS 4096 OR _vitalloc_sb_size GREATER 4294963200 OR NOT _vitalloc_sb_rem EQUAL 0)
    message(FATAL_ERROR "VITALLOC_SINGLE_BLOCK_SIZE (${VITALLOC_SINGLE_BLOCK_SIZE} = ${_vitalloc_sb_size}) "
      "must be a multiple of 4096 between 4096 and 4294963200 (main memory memblocks come in 4 KiB pages)")
  endif()

  # The definition is C; a project that enabled only C++ gets the same file
  # through a C++ wrapper (a .c file in a target without C enabled would be
  # left out of the build silently).
  get_property(_vitalloc_langs GLOBAL PROPERTY ENABLED_LANGUAGES)
  if(NOT "C" IN_LIST _vitalloc_langs AND "CXX" IN_LIST _vitalloc_langs)
    set(_vitalloc_sb_source "${CMAKE_CURRENT_LIST_DIR}/vitalloc_single_block.cpp")
  else()
    set(_vitalloc_sb_source "${CMAKE_CURRENT_LIST_DIR}/vitalloc_single_block.c")
  endif()

  # vitalloc::vitalloc's library and usage requirements, plus the source.
  # The same archive as its own imported target rather than an INTERFACE
  # target depending on vitalloc::vitalloc: CMake would then place
  # libvitalloc.a after every library the project lists next to
  # vitalloc::single_block, instead of where the project put it.
  add_library(vitalloc::single_block STATIC IMPORTED)
  set_target_properties(vitalloc::single_block PROPERTIES
    IMPORTED_LOCATION "${_vitalloc_library}"
    IMPORTED_LINK_INTERFACE_LANGUAGES "C"
    INTERFACE_INCLUDE_DIRECTORIES "${vitalloc_INCLUDE_DIRS}"
    INTERFACE_LINK_LIBRARIES "${_vitalloc_deps}"
    INTERFACE_LINK_OPTIONS "LINKER:-u,vitalloc_malloc"
    INTERFACE_SOURCES "${_vitalloc_sb_source}"
    INTERFACE_COMPILE_DEFINITIONS "VITALLOC_SINGLE_BLOCK_SIZE=${_vitalloc_sb_size}u")
  unset(_vitalloc_langs)
  unset(_vitalloc_sb_source)
  unset(_vitalloc_sb_rem)
  unset(_vitalloc_sb_size)
endif()

unset(_vitalloc_library)
unset(_vitalloc_deps)
set(vitalloc_FOUND TRUE)
