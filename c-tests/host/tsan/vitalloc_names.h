/*
 * vitalloc_names.h -- included before every line of the TSan test
 * programs (-include): their malloc family becomes vitalloc's prefixed
 * functions.
 *
 * The TSan build of libvitalloc.a exports only the vitalloc_* names (see
 * the Makefile's host-tsan): were its malloc the program's, the TSan
 * runtime would call it (from the dynamic loader, while setting up its
 * interceptors) before it could run instrumented code. The C library's own
 * allocations go to the runtime's allocator; every block of the program
 * comes from vitalloc, whose every access TSan sees.
 */
#ifndef VITALLOC_NAMES_H
#define VITALLOC_NAMES_H

#include <stdlib.h>
#include <string.h>

#include "vitalloc.h"

#define malloc vitalloc_malloc
#define free vitalloc_free
#define calloc vitalloc_calloc
#define realloc vitalloc_realloc
#define posix_memalign vitalloc_posix_memalign

#endif
