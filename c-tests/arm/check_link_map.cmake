# check_link_map.cmake -- reads a GNU ld link map (-Wl,-Map=...) of an ARM
# test program and checks which archive members went into the program.
#   cmake -DMAP=<file.map> -DEXPECT=vitalloc|newlib -P check_link_map.cmake
#
# EXPECT=vitalloc (a program linked with libvitalloc.a, VitaSDK's order):
#   fails if any of newlib's malloc objects from libc.a (libg.a with
#   rdimon.specs) is in the map
#   (Debian newlib 3.3 member names: lib_a-malloc.o, lib_a-mallocr.o,
#   lib_a-freer.o, ... -- the core allocator, its public wrappers and the
#   sbrk glue), or any member of libsim_sbrk.a (the simulated VitaSDK
#   sbrk.o and its weak 128 MiB _newlib_heap_size_user default: vitalloc
#   defines the four sbrk globals, so crt0's reference must not extract
#   it); and fails unless a member of libvitalloc.a is in the map.
# EXPECT=newlib (the control: a program linked WITHOUT vitalloc): fails
#   unless lib_a-mallocr.o and libsim_sbrk.a's members ARE in the map --
#   this proves the patterns above match what the linker writes.
cmake_minimum_required(VERSION 3.13)

if(NOT DEFINED MAP OR NOT DEFINED EXPECT)
  message(FATAL_ERROR "check_link_map.cmake: -DMAP=<file> and -DEXPECT=vitalloc|newlib are required")
endif()
if(NOT EXISTS "${MAP}")
  message(FATAL_ERROR "FAIL: link map ${MAP} does not exist")
endif()
file(READ "${MAP}" map)

# Only the members the linker pulled in appear as "archive(member)" in a
# map (the "Archive member included to satisfy reference" section and the
# memory map); LOAD lines name archives without members.
set(newlib_malloc_members
  malloc mallocr freer calloc callocr cfreer realloc reallocr reallocf
  msize msizer mallinfor malloptr mallstatsr mstats mtrim valloc vallocr
  pvallocr sbrkr syssbrk
  # also newlib 3.3's memalign / aligned_alloc objects (vitalloc defines
  # memalign, _memalign_r and aligned_alloc)
  malign malignr aligned_alloc)
string(REPLACE ";" "|" alt "${newlib_malloc_members}")
# (rdimon.specs links libg.a, the same objects as libc.a built for debugging.)
set(newlib_re "lib[cg]\\.a\\(lib_a-(${alt})\\.o\\)")
set(sim_sbrk_re "libsim_sbrk\\.a\\(([^)]*)\\)")
set(vitalloc_re "libvitalloc\\.a\\(([^)]*)\\)")

# Unique members matching a regex, as a list.
function(members_matching re out)
  string(REGEX MATCHALL "${re}" hits "${map}")
  if(hits)
    list(REMOVE_DUPLICATES hits)
  endif()
  set(${out} "${hits}" PARENT_SCOPE)
endfunction()

members_matching("${newlib_re}" newlib_hits)
members_matching("${sim_sbrk_re}" sbrk_hits)
members_matching("${vitalloc_re}" vitalloc_hits)
string(REGEX MATCH "(^|\n)Archive member included[^\n]*\n" has_section "${map}")
if(NOT has_section)
  message(FATAL_ERROR "FAIL: ${MAP} has no 'Archive member included' section: not a GNU ld map?")
endif()

message("link map: ${MAP}")
message("  newlib malloc members: ${newlib_hits}")
message("  libsim_sbrk.a members: ${sbrk_hits}")
message("  libvitalloc.a members: ${vitalloc_hits}")

set(errors "")
if(EXPECT STREQUAL "vitalloc")
  if(newlib_hits)
    string(APPEND errors "newlib's malloc objects were linked: ${newlib_hits}\n")
  endif()
  if(sbrk_hits)
    string(APPEND errors "the simulated sbrk.o archive was extracted (the 128 MiB reservation is linked): ${sbrk_hits}\n")
  endif()
  if(NOT vitalloc_hits)
    string(APPEND errors "no member of libvitalloc.a was linked\n")
  endif()
elseif(EXPECT STREQUAL "newlib")
  if(NOT map MATCHES "lib[cg]\\.a\\(lib_a-mallocr\\.o\\)")
    string(APPEND errors "control: newlib's lib_a-mallocr.o is not in the map (the pattern would miss it)\n")
  endif()
  if(NOT map MATCHES "libsim_sbrk\\.a\\(sim_sbrk\\.c\\.o(bj)?\\)")
    string(APPEND errors "control: libsim_sbrk.a(sim_sbrk.c.obj) is not in the map\n")
  endif()
  if(vitalloc_hits)
    string(APPEND errors "control: libvitalloc.a members are linked: ${vitalloc_hits}\n")
  endif()
else()
  message(FATAL_ERROR "check_link_map.cmake: EXPECT must be vitalloc or newlib")
endif()

if(errors)
  message(FATAL_ERROR "FAIL (${EXPECT}):\n${errors}")
endif()
message("ok: ${EXPECT} link map as expected")
