/* Fake VitaSDK (c-tests/sample/fake-vitasdk): just enough of vita-headers'
   types for main_vita.c, with the same sizes and signedness. */
#ifndef FAKE_PSP2_TYPES_H
#define FAKE_PSP2_TYPES_H
#include <stddef.h>
#include <stdint.h>
typedef int SceUID;
typedef unsigned int SceSize;
typedef int SceMode;
typedef int SceInt32;
typedef unsigned int SceUInt32;
typedef int64_t SceInt64;
typedef uint64_t SceUInt64;
typedef unsigned int SceUInt;
#endif
