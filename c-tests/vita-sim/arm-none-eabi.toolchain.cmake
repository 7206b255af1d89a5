# arm-none-eabi.toolchain.cmake -- builds vitalloc's C tests for the Vita's
# CPU (Cortex-A9, Thumb-2, NEON, hard float) against Debian's newlib with
# rdimon semihosting, and makes ctest run them under qemu-arm. It simulates
# the Vita's compiler flags, not VitaSDK (no vita-elf-create, no stubs).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_CXX_COMPILER arm-none-eabi-g++)
set(CMAKE_ASM_COMPILER arm-none-eabi-gcc)

set(VITA_SIM_ARM_FLAGS "-mcpu=cortex-a9 -mfpu=neon -mfloat-abi=hard -mthumb --specs=rdimon.specs")
set(CMAKE_C_FLAGS_INIT "${VITA_SIM_ARM_FLAGS}")
set(CMAKE_CXX_FLAGS_INIT "${VITA_SIM_ARM_FLAGS}")
set(CMAKE_ASM_FLAGS_INIT "${VITA_SIM_ARM_FLAGS}")
# (CMAKE_C_FLAGS also reach the link line: --specs must appear only once.)

# A bare-metal link needs start-up code the compiler checks do not know of.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(CMAKE_CROSSCOMPILING_EMULATOR qemu-arm;-cpu;cortex-a9)

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
