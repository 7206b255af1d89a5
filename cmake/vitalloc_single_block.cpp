// vitalloc_single_block.cpp -- the same definition as vitalloc_single_block.c
// for projects that enable only C++ (the CMake package picks this file then).
#include "vitalloc_single_block.c"
