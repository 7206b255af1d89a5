// sample_cpp.cpp -- the C++ part of vitalloc's sample homebrew: operator
// new/delete, new[]/delete[], the standard containers, smart pointers and
// over-aligned new all get their memory from vitalloc (libstdc++'s operator
// new calls malloc, aligned new calls aligned_alloc / posix_memalign /
// memalign, and vitalloc defines them all). Portable: no Vita API.
#include "sample_logic.h"

#include <cstdint>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

namespace {

int live_objects = 0;

// An object whose constructor and destructor are counted, holding a string
// long enough to live on the heap (libstdc++ keeps up to 15 chars inline).
struct Tracked {
	explicit Tracked(int v) : value(v), payload(static_cast<std::size_t>(16 + v % 40), static_cast<char>('a' + v % 26))
	{
		++live_objects;
	}
	Tracked(const Tracked &o) : value(o.value), payload(o.payload) { ++live_objects; }
	Tracked(Tracked &&o) noexcept : value(o.value), payload(std::move(o.payload)) { ++live_objects; }
	Tracked &operator=(const Tracked &) = default;
	~Tracked() { --live_objects; }

	bool intact() const
	{
		if (payload.size() != static_cast<std::size_t>(16 + value % 40))
			return false;
		for (char c : payload)
			if (c != static_cast<char>('a' + value % 26))
				return false;
		return true;
	}

	int value;
	std::string payload;
};

// Over-aligned: `new Aligned` uses C++17's aligned operator new.
struct alignas(64) Aligned {
	unsigned char bytes[192];
};

unsigned long long calls(const vitalloc_stats_t &s)
{
	return s.malloc_calls + s.free_calls + s.realloc_calls;
}

} // namespace

extern "C" int sample_cpp_part(const sample_platform_t *pf, sample_report_t *rep)
{
	const int failures = rep->failures, checks = rep->checks;
	vitalloc_stats_t s0, s1;
	vitalloc_stats(&s0);
	{
		// new / delete of one object.
		Tracked *t = new Tracked(7);
		sample_sink = t;
		vitalloc_stats(&s1);
		sample_check(pf, rep, s1.allocations > s0.allocations, "new: the object is in vitalloc's heap");
		// vitalloc_usable_size ends the program on a pointer vitalloc never returned.
		sample_check(pf, rep, vitalloc_usable_size(t) >= sizeof(Tracked), "new: vitalloc knows the block");
		sample_check(pf, rep, t->intact() && live_objects == 1, "new: constructed");
		delete t;
		sample_check(pf, rep, live_objects == 0, "delete: destroyed");

		// new[] / delete[].
		const std::size_t n = 10000;
		std::uint32_t *ints = new std::uint32_t[n];
		sample_sink = ints;
		for (std::size_t i = 0; i < n; i++)
			ints[i] = static_cast<std::uint32_t>(i * 3u);
		std::uint64_t sum = 0;
		for (std::size_t i = 0; i < n; i++)
			sum += ints[i];
		sample_check(pf, rep, sum == 3ull * (n - 1) * n / 2, "new[]: contents");
		delete[] ints;

		// std::vector growing by reallocation, of integers and of objects
		// that own heap strings (moved on every growth).
		std::vector<std::uint32_t> v;
		for (std::uint32_t i = 0; i < 100000; i++)
			v.push_back(i ^ 0x5a5a5a5au);
		sample_sink = v.data();
		bool ok = v.size() == 100000;
		for (std::uint32_t i = 0; ok && i < 100000; i++)
			ok = v[i] == (i ^ 0x5a5a5a5au);
		sample_check(pf, rep, ok, "std::vector<uint32_t>: 100000 push_back");

		std::vector<Tracked> objs;
		for (int i = 0; i < 3000; i++)
			objs.emplace_back(i);
		sample_sink = objs.data();
		ok = live_objects == 3000;
		for (int i = 0; ok && i < 3000; i++)
			ok = objs[static_cast<std::size_t>(i)].value == i && objs[static_cast<std::size_t>(i)].intact();
		sample_check(pf, rep, ok, "std::vector<object with std::string>: 3000 emplace_back");
		objs.erase(objs.begin(), objs.begin() + 1000);
		objs.shrink_to_fit();
		sample_check(pf, rep, live_objects == 2000 && objs.front().value == 1000 && objs.back().intact(),
			     "std::vector: erase + shrink_to_fit");

		// std::string growing by appends.
		std::string text;
		for (int i = 0; i < 4000; i++) {
			text += "item ";
			text += static_cast<char>('0' + i % 10);
			text += ';';
		}
		sample_sink = &text[0];
		sample_check(pf, rep, text.size() == 4000u * 7u && text.compare(0, 7, "item 0;") == 0 &&
					      text.compare(text.size() - 7, 7, "item 9;") == 0,
			     "std::string: 4000 appends");

		// std::map: one node per entry.
		std::map<int, std::string> m;
		for (int i = 0; i < 2000; i++)
			m[(i * 7) % 2003] = std::string(static_cast<std::size_t>(16 + i % 40), 'x');
		ok = m.size() == 2000;
		for (int i = 0; ok && i < 2000; i += 13) {
			auto it = m.find((i * 7) % 2003);
			ok = it != m.end() && it->second.size() == static_cast<std::size_t>(16 + i % 40);
		}
		sample_check(pf, rep, ok, "std::map<int, std::string>: 2000 entries");

		// Smart pointers.
		{
			auto sp = std::make_shared<Tracked>(3);
			std::shared_ptr<Tracked> sp2 = sp;
			auto up = std::unique_ptr<Tracked>(new Tracked(4));
			sample_sink = up.get();
			sample_check(pf, rep, sp.use_count() == 2 && sp2->intact() && up->intact(),
				     "std::make_shared, std::unique_ptr");
		}

		// Over-aligned new (C++17).
		Aligned *one = new Aligned;
		Aligned *arr = new Aligned[5];
		sample_sink = arr;
		one->bytes[0] = 1;
		arr[4].bytes[191] = 2;
		sample_check(pf, rep,
			     reinterpret_cast<std::uintptr_t>(one) % 64 == 0 &&
				     reinterpret_cast<std::uintptr_t>(arr) % 64 == 0,
			     "aligned new: 64-byte alignment");
		delete one;
		delete[] arr;
	}
	vitalloc_stats(&s1);
	rep->cpp_allocator_calls = calls(s1) - calls(s0);
	sample_check(pf, rep, live_objects == 0, "C++: every destructor ran");
	sample_check(pf, rep, s1.allocations == s0.allocations, "C++: every block was freed");
	sample_check(pf, rep, rep->cpp_allocator_calls > 2 * 5000, "C++: operator new and the containers use vitalloc");
	sample_check(pf, rep, vitalloc_check() == 0, "C++: vitalloc_check()");
	sample_printf(pf, "[C++]   new, new[], vector, string, map, shared_ptr, aligned new: %d/%d ok",
		      (rep->checks - checks) - (rep->failures - failures), rep->checks - checks);
	sample_printf(pf, "        (%llu allocator calls, all reached vitalloc)", rep->cpp_allocator_calls);
	return rep->failures - failures;
}
