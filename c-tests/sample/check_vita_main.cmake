# check_vita_main.cmake -- runs the sample's main_vita.c (built on the fake
# VitaSDK, under qemu) in a fresh directory standing for the memory card,
# and checks what it leaves: exit status 0, ux0/data/vitalloc/report.txt
# with every check passed, and a 960x544 screen.ppm.
#   cmake -DPROG=<exe> -DEMULATOR="qemu-arm|-cpu|cortex-a9" -DWORK=<dir> -P check_vita_main.cmake
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/ux0/data/vitalloc") # semihosting cannot mkdir
string(REPLACE "|" ";" emulator "${EMULATOR}")
execute_process(COMMAND ${emulator} "${PROG}" WORKING_DIRECTORY "${WORK}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")

set(failures "")
if(NOT rc EQUAL 0)
  list(APPEND failures "exit status ${rc}")
endif()
set(report "${WORK}/ux0/data/vitalloc/report.txt")
if(NOT EXISTS "${report}")
  list(APPEND failures "no ${report}")
else()
  file(READ "${report}" text)
  message("---- report.txt ----\n${text}--------------------")
  foreach(want "-- vitalloc [0-9]" "malloc is vitalloc's: yes" "\nRESULT: ok, [0-9]+ checks\n"
               "second run: 128.0 MiB held" "free main memory, lowest"
               "\nReport written to ux0:data/vitalloc/report.txt.\n")
    if(NOT text MATCHES "${want}")
      list(APPEND failures "report.txt lacks '${want}'")
    endif()
  endforeach()
  if(text MATCHES "FAIL")
    list(APPEND failures "report.txt has failures")
  endif()
endif()
set(screen "${WORK}/screen.ppm")
if(NOT EXISTS "${screen}")
  list(APPEND failures "no screen.ppm (the framebuffer was not set)")
else()
  file(SIZE "${screen}" size)
  if(NOT size EQUAL 1566735) # "P6 960 544 255\n" + 960 * 544 * 3
    list(APPEND failures "screen.ppm has ${size} bytes")
  endif()
endif()
if(failures)
  string(REPLACE ";" "\n  " failures "${failures}")
  message(FATAL_ERROR "vita_main: FAILED:\n  ${failures}")
endif()
message("vita_main: ok")
