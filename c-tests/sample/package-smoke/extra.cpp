// package-smoke/extra.cpp -- the C++ half of the smoke program: new/delete,
// std::vector and std::string allocations (libstdc++'s operator new calls
// malloc, which is vitalloc's).
#include <map>
#include <memory>
#include <string>
#include <vector>

extern "C" int smoke_cxx(void);

extern "C" int smoke_cxx(void)
{
	std::vector<std::string> words;
	for (int i = 0; i < 200; i++)
		words.push_back(std::string(20 + i % 30, static_cast<char>('a' + i % 26))); // past the inline buffer
	std::map<std::string, int> count;
	for (const auto &w : words)
		count[w]++;
	std::unique_ptr<int[]> ints(new int[1000]());
	ints[999] = static_cast<int>(count.size());
	return ints[999] > 0 ? static_cast<int>(words.size()) : 0;
}
