/* test_stub.c -- for testing lua_driver.c WITHOUT bench/arm/harness.c:
 * the three harness entry points, doing nothing but print the report.
 * Not used by bench/arm/run.sh (which links the real harness.o). */
#include <stdio.h>

void vtb_begin(void);
void vtb_end(void);
void vtb_report(const char *name, unsigned long long peak_live);

void vtb_begin(void) {}
void vtb_end(void) {}
void vtb_report(const char *name, unsigned long long peak_live)
{
	printf("vtb-stub: %s peak_live=%llu\n", name, peak_live);
}
