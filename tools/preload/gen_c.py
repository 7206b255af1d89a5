"""Writes a deterministic C program of a few thousand lines for
tools/test-preload.sh: many functions, structs, a large switch, tables of
strings and numbers, macros and inline helpers -- enough to keep gcc -O2
busy allocating. The program prints checksums; gcc compiles it once under
glibc and once under vitalloc, and both the generated assembly and the
program's output must match."""

import sys


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    w = sys.stdout.write
    w("#include <stdio.h>\n#include <stdint.h>\n#include <string.h>\n\n")
    w("#define MIX(a, b) ((((a) << 5) | ((a) >> 27)) ^ (b))\n")
    w("typedef struct { uint32_t a, b; const char *name; double w; } rec_t;\n\n")
    w("static const char *const names[] = {\n")
    for i in range(n):
        w('  "name-%d-%s",\n' % (i, "xyz" * (i % 11)))
    w("};\n\n")
    w("static const uint32_t table[] = {\n")
    for i in range(0, n * 8, 8):
        w("  " + ", ".join("%du" % ((j * 2654435761) & 0xFFFFFFFF) for j in range(i, i + 8)) + ",\n")
    w("};\n\n")
    for i in range(n):
        w("""static uint32_t f%d(uint32_t x, rec_t *r)
{
  uint32_t acc = %du;
  for (uint32_t k = 0; k < %du; k++) {
    acc = MIX(acc, x + k * %du);
    if ((acc & %du) == 0)
      acc ^= table[(x + k) %% (sizeof table / sizeof table[0])];
  }
  r->a += acc;
  r->b ^= acc >> %d;
  r->w += (double)(acc %% 1000) / %d.0;
  return acc + (uint32_t)strlen(names[%d]);
}

""" % (i, i * 7919, 3 + i % 17, i + 1, (1 << (i % 5)) - 1 or 1, i % 31, i + 1, i))
    w("static uint32_t dispatch(uint32_t which, uint32_t x, rec_t *r)\n{\n  switch (which) {\n")
    for i in range(n):
        w("  case %d: return f%d(x, r);\n" % (i, i))
    w("  default: return 0;\n  }\n}\n\n")
    w("""int main(void)
{
  rec_t r = {0, 0, "acc", 0.0};
  uint32_t total = 0;
  for (uint32_t round = 0; round < 50; round++)
    for (uint32_t i = 0; i < %du; i++)
      total = MIX(total, dispatch(i, round * 131u + i, &r));
  printf("total %%u a %%u b %%u w %%.6f\\n", total, r.a, r.b, r.w);
  for (uint32_t i = 0; i < %du; i += %du)
    printf("%%s %%u\\n", names[i], dispatch(i, i, &r));
  return 0;
}
""" % (n, n, max(1, n // 10)))


if __name__ == "__main__":
    main()
