/*
 * vitalloc_single_block.c -- compiled into programs that link the CMake
 * target vitalloc::single_block (shipped in lib/cmake/vitalloc/).
 *
 * Defining vitalloc_single_block_size switches vitalloc to single-block
 * mode: on first use it reserves ONE memblock of this many bytes and serves
 * every allocation from it, so that code assuming a single heap block (vitaGL
 * maps the memblock holding malloc(1) for the GPU) keeps working. The CMake
 * target sets VITALLOC_SINGLE_BLOCK_SIZE from the cache variable of the same
 * name; a project built without CMake can compile this file itself, with
 * -DVITALLOC_SINGLE_BLOCK_SIZE=<bytes> or the 64 MiB default below.
 */
#ifndef VITALLOC_SINGLE_BLOCK_SIZE
#define VITALLOC_SINGLE_BLOCK_SIZE (64u * 1024u * 1024u)
#endif

#ifdef __cplusplus
extern "C" {
#endif

extern unsigned int vitalloc_single_block_size;
unsigned int vitalloc_single_block_size = VITALLOC_SINGLE_BLOCK_SIZE;

#ifdef __cplusplus
}
#endif
