# check_archive_symbols.cmake -- checks the symbol table of the Vita archive
# (dist/vita/lib/libvitalloc.a) with readelf -sW (not nm: Debian's nm loads
# an old LLVM gold plugin and chokes on Rust's bitcode, DESIGN.md section 6).
#   cmake -DREADELF=<arm-none-eabi-readelf> -DARCHIVE=<libvitalloc.a>
#         -DEXPORTS=<exports.txt;exports-vita.txt> -P check_archive_symbols.cmake
# (EXPORTS items may also be separated by '|'.)
#
# Fails unless:
#  - the names the archive defines (GLOBAL or WEAK, not UND) are exactly
#    the names in the export lists (minus glibc-only mallinfo2 when the
#    archive does not define it): nothing else global -- no memcpy,
#    __aeabi_*, sqrt, rust_* from core/compiler_builtins -- and nothing
#    missing;
#  - every one of them is GLOBAL (a WEAK definition could silently lose to
#    newlib's), and all live in ONE archive member (any one pulls in all);
#  - __malloc_lock/__malloc_unlock are not defined (VitaSDK's mlock.o is
#    always linked: a second definition is a duplicate-symbol error);
#  - _newlib_heap_size_user appears, and only as a WEAK undefined reference
#    (the program's own definition, if any, is read; none is imposed);
#  - sceClibPrintf is referenced and newlib's output is not (write, _write_r,
#    stdio): messages go to the kernel's debug output, which a developer
#    sees on a retail Vita, and printing them never allocates.
cmake_minimum_required(VERSION 3.13)

foreach(v READELF ARCHIVE EXPORTS)
  if(NOT DEFINED ${v} OR "${${v}}" STREQUAL "")
    message(FATAL_ERROR "check_archive_symbols.cmake: -D${v}=... is required")
  endif()
endforeach()
if(NOT EXISTS "${ARCHIVE}")
  message(FATAL_ERROR "FAIL: ${ARCHIVE} does not exist")
endif()

# The expected names.
string(REPLACE "|" ";" export_files "${EXPORTS}")
set(expected "")
foreach(f IN LISTS export_files)
  file(STRINGS "${f}" names REGEX "^[A-Za-z_][A-Za-z0-9_]*$")
  list(APPEND expected ${names})
endforeach()
list(REMOVE_DUPLICATES expected)
list(LENGTH expected nexpected)
if(nexpected LESS 40)
  message(FATAL_ERROR "FAIL: only ${nexpected} names read from ${EXPORTS}")
endif()

execute_process(COMMAND "${READELF}" -sW "${ARCHIVE}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "FAIL: ${READELF} -sW ${ARCHIVE} failed (${rc}): ${err}")
endif()
if(err)
  message("readelf stderr: ${err}")
endif()

# Walk the output: "File: archive(member)" lines, then symbol rows
#   Num: Value Size Type Bind Vis Ndx Name
# (';' and brackets would confuse CMake's lists: no symbol we look for
# contains them.)
string(REPLACE ";" "<semicolon>" out "${out}")
string(REPLACE "[" "<lb>" out "${out}")
string(REPLACE "]" "<rb>" out "${out}")
string(REPLACE "\n" ";" lines "${out}")
set(member "")
set(defined "")          # names defined GLOBAL or WEAK
set(defined_members "")  # members holding them
set(weak_defined "")
set(heap_size_refs "")
set(undefined "")        # names referenced, not defined
set(nrows 0)
foreach(line IN LISTS lines)
  if(line MATCHES "^File: .*\\(([^)]*)\\)$")
    set(member "${CMAKE_MATCH_1}")
  elseif(line MATCHES "^ *[0-9]+: +[0-9a-fA-F]+ +[0-9a-fx]+ +([A-Z_0-9]+) +([A-Z_0-9]+) +([A-Z_0-9]+) +([A-Z0-9]+) +(.+)$")
    math(EXPR nrows "${nrows} + 1")
    set(bind "${CMAKE_MATCH_2}")
    set(ndx "${CMAKE_MATCH_4}")
    set(name "${CMAKE_MATCH_5}")
    if(name STREQUAL "_newlib_heap_size_user")
      list(APPEND heap_size_refs "${bind}/${ndx}")
    endif()
    if(ndx STREQUAL "UND")
      list(APPEND undefined "${name}")
    endif()
    if((bind STREQUAL "GLOBAL" OR bind STREQUAL "WEAK") AND NOT ndx STREQUAL "UND")
      list(APPEND defined "${name}")
      list(APPEND defined_members "${member}")
      if(bind STREQUAL "WEAK")
        list(APPEND weak_defined "${name}")
      endif()
    endif()
  endif()
endforeach()
if(nrows LESS 50)
  message(FATAL_ERROR "FAIL: could not parse readelf's output (${nrows} symbol rows)")
endif()

set(errors "")
list(LENGTH defined ndefined)
set(unique_defined ${defined})
if(unique_defined)
  list(REMOVE_DUPLICATES unique_defined)
endif()
list(LENGTH unique_defined nunique)
if(NOT nunique EQUAL ndefined)
  string(APPEND errors "some names are defined more than once\n")
endif()

# Extra names (defined, not documented).
set(extra "")
foreach(n IN LISTS unique_defined)
  list(FIND expected "${n}" i)
  if(i EQUAL -1)
    list(APPEND extra "${n}")
  endif()
endforeach()
if(extra)
  list(LENGTH extra nextra)
  string(APPEND errors "${nextra} global/weak names defined that are not in the export lists: ${extra}\n")
endif()

# Missing names (documented, not defined); mallinfo2 is glibc's only.
set(missing "")
foreach(n IN LISTS expected)
  list(FIND unique_defined "${n}" i)
  if(i EQUAL -1 AND NOT n STREQUAL "mallinfo2")
    list(APPEND missing "${n}")
  endif()
endforeach()
if(missing)
  string(APPEND errors "exports not defined by the archive: ${missing}\n")
endif()

if(weak_defined)
  string(APPEND errors "names defined WEAK (exports must be GLOBAL, nothing else may be defined): ${weak_defined}\n")
endif()

set(members ${defined_members})
if(members)
  list(REMOVE_DUPLICATES members)
endif()
list(LENGTH members nmembers)
if(NOT nmembers EQUAL 1)
  string(APPEND errors "the exports live in ${nmembers} archive members, not one: ${members}\n")
endif()

foreach(n __malloc_lock __malloc_unlock)
  list(FIND unique_defined "${n}" i)
  if(NOT i EQUAL -1)
    string(APPEND errors "${n} is defined (VitaSDK's mlock.o defines it: duplicate symbol)\n")
  endif()
endforeach()

if(NOT heap_size_refs)
  string(APPEND errors "_newlib_heap_size_user is not referenced (a program's heap size would be ignored)\n")
endif()
foreach(r IN LISTS heap_size_refs)
  if(NOT r STREQUAL "WEAK/UND")
    string(APPEND errors "_newlib_heap_size_user appears as ${r} (only a WEAK undefined reference is allowed)\n")
  endif()
endforeach()

list(FIND undefined sceClibPrintf i)
if(i EQUAL -1)
  string(APPEND errors "sceClibPrintf is not referenced (messages must go to the kernel's debug output)\n")
endif()
foreach(n write _write_r fwrite _fwrite_r fputs _fputs_r fprintf _fprintf_r printf _printf_r puts
          vfprintf _vfprintf_r fiprintf _fiprintf_r iprintf)
  list(FIND undefined "${n}" i)
  if(NOT i EQUAL -1)
    string(APPEND errors "${n} is referenced: vitalloc must print through sceClibPrintf only\n")
  endif()
endforeach()

message("archive: ${ARCHIVE}")
message("  ${ndefined} names defined, in member(s): ${members}")
message("  _newlib_heap_size_user: ${heap_size_refs}")
if(errors)
  message(FATAL_ERROR "FAIL:\n${errors}")
endif()
message("ok: exactly the ${ndefined} documented exports, one member, no __malloc_lock, weak _newlib_heap_size_user, output through sceClibPrintf only")
