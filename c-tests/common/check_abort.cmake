# check_abort.cmake -- runs one test_misuse program and checks that vitalloc
# ended it the documented way. Used by vitalloc_add_abort_test() as
#   cmake -DPROG=<program> -DCALL=<call name> -DWHAT=<regex> [-DHOOK=ON]
#         [-DEMULATOR=qemu-arm|-cpu|cortex-a9] -P check_abort.cmake
# (EMULATOR's list items are separated by '|', as ';' would split the
# argument on add_test's command line.)
#
# Passes when:
#  - the program did not exit normally (abort: a signal on Linux, a nonzero
#    status under qemu/semihosting);
#  - it printed VT_ADDR=0x<hex> on stdout (the pointer it misused);
#  - stderr holds exactly one line starting with "vitalloc:", and that line
#    is "vitalloc: <CALL>(<that address>): <text matching WHAT>; aborting"
#    (or, when it also printed VT_HEAP=0x<heap>, for the heap-object calls,
#    "vitalloc: <CALL>(<heap>, <address>): ...");
#  - (debug build) "@ADDR@" in WHAT stands for that address; with
#    -DANYCALLADDR=ON the call's own argument may be any address (a write
#    after free is found while freeing another block); when stdout holds
#    VT_FN=0x<hex> (the function that allocated and freed the block), every
#    "by 0x<hex>" in the line (allocated by, freed by) lies in the 1 KiB
#    after it: the recorded caller is the calling C function; with
#    -DEXACT=ON, WHAT is the whole rest of the line before "; aborting";
#  - with HOOK, stdout also holds "VT_HOOK:" followed by the very same line
#    (the error hook got the message before the program ended); without
#    HOOK, no VT_HOOK line.
cmake_minimum_required(VERSION 3.13)

foreach(v PROG CALL WHAT)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "check_abort.cmake: -D${v}=... is required")
  endif()
endforeach()
set(cmd)
if(EMULATOR)
  string(REPLACE "|" ";" cmd "${EMULATOR}")
endif()
list(APPEND cmd "${PROG}")

execute_process(COMMAND ${cmd}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
message("exit status: ${rc}\n--- stdout ---\n${out}--- stderr ---\n${err}--------------")

function(fail why)
  message(FATAL_ERROR "FAIL (${CALL}): ${why}")
endfunction()

if("${rc}" STREQUAL "0")
  fail("the program exited normally: the misuse was not detected")
endif()
if("${rc}" MATCHES "timeout|Process terminated due to timeout")
  fail("the program hung")
endif()

string(REGEX MATCH "VT_ADDR=(0x[0-9a-fA-F]+)" m "${out}")
if(NOT m)
  fail("the program did not print VT_ADDR=0x... (it died before the misuse?)")
endif()
set(addr "${CMAKE_MATCH_1}")

# ';' would split CMake lists: count and cut lines with it replaced.
string(REPLACE ";" "<semicolon>" err_s "${err}")
# The one line saying the TLS fast path is off (ARM tests on the simulated
# kernel's other TLS layout) is not a misuse report.
string(REGEX REPLACE "(^|\n)vitalloc: sceKernelGetTLSAddr does not match[^\n]*" "" err_s "${err_s}")
string(REGEX MATCHALL "(^|\n)vitalloc:[^\n]*" lines "${err_s}")
list(LENGTH lines nlines)
if(NOT nlines EQUAL 1)
  fail("expected exactly one line starting with 'vitalloc:' on stderr, found ${nlines}")
endif()
list(GET lines 0 line)
string(REGEX REPLACE "^\n" "" line "${line}")
string(REPLACE "<semicolon>" ";" line "${line}")

string(REPLACE "@ADDR@" "${addr}" WHAT "${WHAT}")
if(ANYCALLADDR)
  set(prefix_re "^vitalloc: ${CALL}\\(0x[0-9a-f]+\\): ")
  if(NOT line MATCHES "${prefix_re}")
    fail("the message does not start with 'vitalloc: ${CALL}(0x...): ':\n  ${line}")
  endif()
  string(REGEX REPLACE "${prefix_re}" "" rest "${line}")
else()
  # A heap object's calls name the heap first: VT_HEAP=0x... on stdout.
  string(REGEX MATCH "VT_HEAP=(0x[0-9a-fA-F]+)" hm "${out}")
  if(hm)
    set(prefix "vitalloc: ${CALL}(${CMAKE_MATCH_1}, ${addr}): ")
  else()
    set(prefix "vitalloc: ${CALL}(${addr}): ")
  endif()
  string(FIND "${line}" "${prefix}" pos)
  if(NOT pos EQUAL 0)
    fail("the message does not start with '${prefix}' (call name and the address ${addr}):\n  ${line}")
  endif()
  string(LENGTH "${prefix}" plen)
  string(SUBSTRING "${line}" ${plen} -1 rest)
endif()
if(NOT rest MATCHES "^(${WHAT})")
  fail("the message does not say '${WHAT}':\n  ${line}")
endif()
if(EXACT AND NOT rest MATCHES "^(${WHAT}); aborting$")
  fail("the message is not exactly '${WHAT}; aborting' after the call:\n  ${line}")
endif()
if(NOT rest MATCHES "; aborting$")
  fail("the message does not end with '; aborting':\n  ${line}")
endif()

string(REGEX MATCH "VT_FN=(0x[0-9a-fA-F]+)" m "${out}")
if(m)
  set(fn "${CMAKE_MATCH_1}")
  string(REGEX MATCHALL "by 0x[0-9a-f]+" bys "${line}")
  foreach(b IN LISTS bys)
    string(SUBSTRING "${b}" 3 -1 c)
    math(EXPR d "${c} - ${fn}")
    if(d LESS 0 OR d GREATER 1024)
      fail("${b} is not inside the calling function at ${fn} (offset ${d}):\n  ${line}")
    endif()
  endforeach()
endif()

string(FIND "${out}" "NOT DETECTED" nd)
if(NOT nd EQUAL -1)
  fail("the program went on after the misuse")
endif()

string(FIND "${out}" "VT_HOOK:${line}\n" hookpos)
string(FIND "${out}" "VT_HOOK:" anyhook)
if(HOOK)
  if(hookpos EQUAL -1)
    fail("the error hook did not receive the message (wanted 'VT_HOOK:${line}' on stdout)")
  endif()
elseif(NOT anyhook EQUAL -1)
  fail("the error hook was called although it had been removed")
endif()

message("ok: ${line}")
