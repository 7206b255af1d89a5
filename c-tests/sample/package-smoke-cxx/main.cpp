// package-smoke-cxx/main.cpp -- a C++ program linked with vitalloc only
// through its CMake package: its allocations must reach vitalloc.
#include <cstdio>
#include <string>
#include <vector>

#include "vitalloc.h"

int main()
{
	vitalloc_stats_t s0, s1;
	vitalloc_stats(&s0);
	std::vector<std::string> v;
	for (int i = 0; i < 100; i++)
		v.emplace_back(32, static_cast<char>('a' + i % 26));
	int *one = new int(v.size());
	vitalloc_stats(&s1);
	// vitalloc_usable_size ends the program on a block vitalloc never made.
	bool ok = s1.malloc_calls >= s0.malloc_calls + 101 && vitalloc_usable_size(one) >= sizeof(int) &&
		  vitalloc_usable_size(&v[0][0]) >= 33 && *one == 100;
	delete one;
	ok = ok && vitalloc_check() == 0;
	std::printf("package-smoke-cxx: %s (malloc_calls %llu)\n", ok ? "ok" : "FAILED",
		    static_cast<unsigned long long>(s1.malloc_calls));
	return ok ? 0 : 1;
}
