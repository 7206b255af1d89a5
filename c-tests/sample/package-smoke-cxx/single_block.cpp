// package-smoke-cxx/single_block.cpp -- linked with vitalloc::single_block:
// the package compiled vitalloc_single_block.c (here through its C++
// wrapper, C being disabled) into the program with the configured size.
#include <cstdio>
#include <vector>

#include "vitalloc.h"

// Defined by vitalloc_single_block.c. Declared without a linkage
// specification so that it matches vitalloc.h's own declaration, whichever
// linkage that one gives it (global variables are not mangled).
extern unsigned int vitalloc_single_block_size;

int main()
{
	std::vector<int> v(1000, 7);
	vitalloc_stats_t s;
	vitalloc_stats(&s);
	bool ok = vitalloc_single_block_size == 16u * 1024u * 1024u &&
		  VITALLOC_SINGLE_BLOCK_SIZE == 16777216u && // the macro the target defines
		  s.malloc_calls > 0 && vitalloc_usable_size(v.data()) >= 4000 && vitalloc_check() == 0;
	std::printf("package-smoke-cxx: %s (vitalloc::single_block: %u bytes)\n", ok ? "ok" : "FAILED",
		    vitalloc_single_block_size);
	return ok ? 0 : 1;
}
