/*
 * vtb_plugin.c -- a QEMU TCG plugin (user mode, QEMU 7.2's plugin API,
 * version 1) that counts the guest instructions an allocator executes.
 *
 *   qemu-arm -cpu cortex-a9 -plugin build/.../vtb_plugin.so,ranges=FILE prog
 *
 * FILE (written by bench/arm/map2ranges.py from the linker map) has lines
 *   range  <start> <end>   allocator code, [start, end): counted
 *   helper <start> <end>   libgcc's arithmetic helpers (the Cortex-A9 has no
 *                          divide instruction): counted only when the
 *                          allocator itself jumped there, i.e. when the last
 *                          instruction outside helper code was allocator code
 *   entry  <addr> [name]   an allocator entry point (malloc, _free_r, ...)
 *   begin  <addr>          vtb_begin: counting starts when it is reached
 *   end    <addr>          vtb_end: counting stops when it is reached
 * (hexadecimal addresses; bit 0, the Thumb bit, is ignored; '#' comments).
 *
 * Between the markers it counts every instruction executed inside the
 * ranges (and the helper instructions above), the number of allocator calls
 * and the largest number of instructions one call executed. A call starts
 * when execution reaches an entry point and the instruction executed before
 * it (helpers aside) was outside the ranges; so the allocator calling itself
 * (malloc -> _malloc_r, realloc -> _free_r) is one call, and code outside
 * the ranges that the allocator calls (the simulated kernel, memcpy) neither
 * counts nor starts a call when it returns. A call lasts until the next one
 * starts or vtb_end is reached; only instructions inside the ranges add to
 * it. At exit it prints one line:
 *   vtb-plugin insns=<n> calls=<n> max_call=<n> helper=<n> max_at=0x<a> max_index=<i>
 * insns includes the helper instructions, also given apart; max_at is the
 * entry point where the largest call began, max_index its number (1 = the
 * first call after vtb_begin).
 * Option log=<path>: also writes "<entry address> <instructions>" for every
 * call (for tests and for looking at the slow calls).
 * Option pcs=<path>: at exit, writes "<address> <count>" for every
 * instruction counted between the markers (helpers included), a line per
 * address and translation; bench/arm/profile.py sums them per function
 * (with the ELF's symbols, local ones included) for a per-function
 * profile.
 *
 * How: at translation each block (TB) gets a descriptor saying which of its
 * instructions are allocator / helper / marker / entry-point instructions.
 * Blocks with none of them only bump a counter inline (no call into the
 * plugin); the others call tb_exec(), which tells from that counter whether
 * foreign code ran since the last described block. The exec callback runs
 * when a block starts; blocks end at every branch, so a block that starts
 * runs to its end (nothing here faults, and svc/bkpt end blocks).
 *
 * QEMU does not install qemu-plugin.h on Debian: the few declarations this
 * file needs are written below from QEMU's plugin API documentation.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------ QEMU plugin API (v1) -- */
#define VTB_EXPORT __attribute__((visibility("default")))
typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
typedef struct {
	const char *target_name;
	struct {
		int min;
		int cur;
	} version;
	bool system_emulation;
	union {
		struct {
			int smp_vcpus;
			int max_vcpus;
		} system;
	};
} qemu_info_t;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb,
					  enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op, void *ptr,
					      uint64_t imm);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
void qemu_plugin_outs(const char *string);

VTB_EXPORT int qemu_plugin_version = 1;
VTB_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv);

/* ------------------------------------------------------- address sets -- */
typedef struct {
	uint64_t lo, hi; /* [lo, hi) */
} span_t;
typedef struct {
	span_t *v;
	size_t n, cap;
} set_t;

static set_t ranges, helpers, entries; /* entries: [a, a+1) */
static uint64_t begin_addr = UINT64_MAX, end_addr = UINT64_MAX;

static void set_add(set_t *s, uint64_t lo, uint64_t hi)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->v = realloc(s->v, s->cap * sizeof *s->v);
		if (!s->v) {
			fprintf(stderr, "vtb-plugin: out of memory\n");
			exit(1);
		}
	}
	s->v[s->n].lo = lo;
	s->v[s->n].hi = hi;
	s->n++;
}

static int span_cmp(const void *a, const void *b)
{
	const span_t *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sorts and merges overlapping or touching spans. */
static void set_finish(set_t *s)
{
	size_t i, o = 0;
	if (!s->n)
		return;
	qsort(s->v, s->n, sizeof *s->v, span_cmp);
	for (i = 1; i < s->n; i++) {
		if (s->v[i].lo <= s->v[o].hi) {
			if (s->v[i].hi > s->v[o].hi)
				s->v[o].hi = s->v[i].hi;
		} else {
			s->v[++o] = s->v[i];
		}
	}
	s->n = o + 1;
}

static bool set_has(const set_t *s, uint64_t a)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a < s->v[mid].lo)
			hi = mid;
		else if (a >= s->v[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

/* --------------------------------------------------------- the counts -- */
enum { F_IN = 1, F_HELPER = 2, F_ENTRY = 4, F_BEGIN = 8, F_END = 16 };

typedef struct tbdesc {
	uint32_t n;
	uint8_t fast;      /* every instruction F_IN, F_ENTRY at most on the first */
	uint8_t entry0;    /* fast blocks: the first instruction is an entry point */
	uint64_t addr;     /* first instruction's address */
	uint64_t runs;     /* pcs=: counted executions of a fast block */
	struct tbdesc *all; /* pcs=: every described block, for the dump */
	struct {
		uint32_t addr;
		uint8_t flags;
		uint64_t hits; /* pcs=: times this instruction was counted (slow blocks) */
	} insn[];          /* slow blocks (every block with pcs=): one per instruction */
} tbdesc_t;

/* Blocks without a descriptor add 1 here, inline: "foreign code ran". */
static uint64_t foreign_tbs;
static uint64_t seen_foreign; /* foreign_tbs when the last described block ran */
static int last_in;           /* that block's last non-helper instruction was allocator code */
static int enabled, in_call;
static uint64_t insns, helper_insns, calls, cur, max_call, cur_entry, max_at, max_index;
static FILE *log_file, *pcs_file;
static tbdesc_t *all_tbs; /* pcs=: described blocks, newest first */

static void close_call(void)
{
	if (!in_call)
		return;
	if (cur > max_call) {
		max_call = cur;
		max_at = cur_entry;
		max_index = calls;
	}
	if (log_file)
		fprintf(log_file, "%" PRIx64 " %" PRIu64 "\n", cur_entry, cur);
	in_call = 0;
}

static void start_call(uint64_t at)
{
	close_call();
	calls++;
	cur = 0;
	cur_entry = at;
	in_call = 1;
}

static void tb_exec(unsigned int vcpu, void *ud)
{
	tbdesc_t *d = ud;
	int prev_in = last_in && seen_foreign == foreign_tbs;
	(void)vcpu;
	if (d->fast) {
		if (enabled) {
			if (d->entry0 && !prev_in)
				start_call(d->addr);
			cur += d->n;
			insns += d->n;
			d->runs++;
		}
		prev_in = 1;
	} else {
		for (uint32_t i = 0; i < d->n; i++) {
			uint8_t f = d->insn[i].flags;
			if (f & F_BEGIN) {
				enabled = 1;
				in_call = 0;
			}
			if (f & F_END) {
				close_call();
				enabled = 0;
			}
			if (f & F_HELPER) {
				if (enabled && prev_in) { /* reached from the allocator */
					cur++;
					insns++;
					helper_insns++;
					d->insn[i].hits++;
				}
				continue; /* helpers leave prev_in as it was */
			}
			if (f & F_IN) {
				if (enabled) {
					if ((f & F_ENTRY) && !prev_in)
						start_call(d->insn[i].addr);
					cur++;
					insns++;
					d->insn[i].hits++;
				}
				prev_in = 1;
			} else {
				prev_in = 0;
			}
		}
	}
	last_in = prev_in;
	seen_foreign = foreign_tbs;
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	size_t n = qemu_plugin_tb_n_insns(tb), i;
	uint8_t stackflags[512], *flags = n <= sizeof stackflags ? stackflags : malloc(n);
	int any = 0, fast = 1;
	tbdesc_t *d;
	(void)id;
	if (!flags || n == 0) {
		qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &foreign_tbs, 1);
		return;
	}
	for (i = 0; i < n; i++) {
		uint64_t a = qemu_plugin_insn_vaddr(qemu_plugin_tb_get_insn(tb, i));
		uint8_t f = 0;
		if (set_has(&ranges, a))
			f |= F_IN;
		else if (set_has(&helpers, a))
			f |= F_HELPER;
		if (set_has(&entries, a))
			f |= F_ENTRY;
		if (a == begin_addr)
			f |= F_BEGIN;
		if (a == end_addr)
			f |= F_END;
		flags[i] = f;
		any |= f & (F_IN | F_HELPER | F_BEGIN | F_END);
		if (!(f & F_IN) || (f & (F_BEGIN | F_END)) || (i > 0 && (f & F_ENTRY)))
			fast = 0;
	}
	if (!any) {
		qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &foreign_tbs, 1);
	} else {
		int keep = !fast || pcs_file; /* the per-instruction array */
		d = calloc(1, sizeof *d + (keep ? n * sizeof d->insn[0] : 0));
		if (!d) {
			fprintf(stderr, "vtb-plugin: out of memory\n");
			exit(1);
		}
		d->n = (uint32_t)n;
		d->fast = (uint8_t)fast;
		d->entry0 = (flags[0] & F_ENTRY) != 0;
		d->addr = qemu_plugin_insn_vaddr(qemu_plugin_tb_get_insn(tb, 0));
		for (i = 0; keep && i < n; i++) {
			d->insn[i].addr = (uint32_t)qemu_plugin_insn_vaddr(qemu_plugin_tb_get_insn(tb, i));
			d->insn[i].flags = flags[i];
		}
		if (pcs_file) {
			d->all = all_tbs;
			all_tbs = d;
		}
		qemu_plugin_register_vcpu_tb_exec_cb(tb, tb_exec, QEMU_PLUGIN_CB_NO_REGS, d);
	}
	if (flags != stackflags)
		free(flags);
}

static void at_exit(qemu_plugin_id_t id, void *ud)
{
	char line[256];
	(void)id;
	(void)ud;
	close_call();
	snprintf(line, sizeof line,
		 "vtb-plugin insns=%" PRIu64 " calls=%" PRIu64 " max_call=%" PRIu64 " helper=%" PRIu64 " max_at=0x%" PRIx64
		 " max_index=%" PRIu64 "\n",
		 insns, calls, max_call, helper_insns, max_at, max_index);
	qemu_plugin_outs(line);
	if (log_file)
		fclose(log_file);
	if (pcs_file) {
		for (const tbdesc_t *d = all_tbs; d; d = d->all)
			for (uint32_t i = 0; i < d->n; i++) {
				uint64_t h = d->fast ? d->runs : d->insn[i].hits;
				if (h)
					fprintf(pcs_file, "%" PRIx32 " %" PRIu64 "\n", d->insn[i].addr, h);
			}
		fclose(pcs_file);
	}
}

/* ---------------------------------------------------------- arguments -- */
static int load_ranges(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512];
	if (!f) {
		fprintf(stderr, "vtb-plugin: cannot open %s\n", path);
		return -1;
	}
	while (fgets(line, sizeof line, f)) {
		char kind[16];
		unsigned long long a, b;
		int k;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		k = sscanf(line, "%15s %llx %llx", kind, &a, &b);
		if (k >= 3 && !strcmp(kind, "range")) {
			set_add(&ranges, a & ~1ull, b);
		} else if (k >= 3 && !strcmp(kind, "helper")) {
			set_add(&helpers, a & ~1ull, b);
		} else if (k >= 2 && !strcmp(kind, "entry")) {
			set_add(&entries, a & ~1ull, (a & ~1ull) + 1);
		} else if (k >= 2 && !strcmp(kind, "begin")) {
			begin_addr = a & ~1ull;
		} else if (k >= 2 && !strcmp(kind, "end")) {
			end_addr = a & ~1ull;
		} else {
			fprintf(stderr, "vtb-plugin: %s: bad line: %s", path, line);
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	set_finish(&ranges);
	set_finish(&helpers);
	set_finish(&entries);
	if (!ranges.n || begin_addr == UINT64_MAX || end_addr == UINT64_MAX) {
		fprintf(stderr, "vtb-plugin: %s needs at least one range, a begin and an end\n", path);
		return -1;
	}
	return 0;
}

VTB_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
	const char *rpath = NULL;
	(void)info;
	for (int i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "ranges=", 7)) {
			rpath = argv[i] + 7;
		} else if (!strncmp(argv[i], "log=", 4)) {
			log_file = fopen(argv[i] + 4, "w");
			if (!log_file) {
				fprintf(stderr, "vtb-plugin: cannot write %s\n", argv[i] + 4);
				return -1;
			}
		} else if (!strncmp(argv[i], "pcs=", 4)) {
			pcs_file = fopen(argv[i] + 4, "w");
			if (!pcs_file) {
				fprintf(stderr, "vtb-plugin: cannot write %s\n", argv[i] + 4);
				return -1;
			}
		} else {
			fprintf(stderr, "vtb-plugin: unknown argument %s (ranges=FILE [log=FILE] [pcs=FILE])\n", argv[i]);
			return -1;
		}
	}
	if (!rpath) {
		fprintf(stderr, "vtb-plugin: ranges=FILE is required\n");
		return -1;
	}
	if (load_ranges(rpath))
		return -1;
	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
	qemu_plugin_register_atexit_cb(id, at_exit, NULL);
	return 0;
}
