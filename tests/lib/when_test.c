/*
 * when_test.c - the library's time rules (preload/when.c), unit by unit,
 * with exact expected values, on whatever time_t this build has: 64-bit,
 * or 32-bit (i386 on an older glibc), where a date from 2038 on must clamp
 * and never make a staple current by overflow.
 *
 *   when_test            run the table; "ok"/"FAIL" lines, exit 1 on a failure
 *   when_test FILE...    (built with -DWHEN_TEST_DER, preload/der.c linked)
 *                        each response's entries as the index reads them:
 *                        "this T next T" in seconds since the epoch
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../preload/when.h"
#ifdef WHEN_TEST_DER
#include "../../preload/der.h"
#endif

static int failures;

static void
check(const char *what, long long got, long long want)
{
	if (got != want)
		failures++;
	printf("%s %s: got %lld, want %lld\n", got == want ? "ok" : "FAIL",
	    what, got, want);
}

/* `s` as a GeneralizedTime (or UTCTime when utc), or -1 when unreadable. */
static long long
parse(const char *s, int utc)
{
	time_t t;

	if (!staple_time_parse(utc ? STAPLE_UTCTIME : STAPLE_GENERALIZEDTIME,
	    (const unsigned char *)s, strlen(s), &t))
		return -1;
	return (long long)t;
}

/* What a 64-bit moment is on this time_t: itself, or clamped. */
static long long
here(long long t)
{
	if (sizeof(time_t) == 4 && t > 2147483647LL)
		return 2147483647LL;
	if (sizeof(time_t) == 4 && t < -2147483648LL)
		return -2147483648LL;
	return t;
}

static void
run_table(void)
{
	/* a fixed "now": 2026-12-05T00:00:00Z */
	const time_t now = (time_t)1796428800LL;
	const time_t y2050 = (time_t)here(2524608000LL);

	printf("time_t: %zu bytes, long: %zu bytes\n", sizeof(time_t),
	    sizeof(long));
	check("2026-12-05", parse("20261205000000Z", 0), 1796428800LL);
	check("2038-01-19T03:14:07, the last 32-bit second",
	    parse("20380119031407Z", 0), 2147483647LL);
	check("2038-01-19T03:14:08", parse("20380119031408Z", 0),
	    here(2147483648LL));
	check("2050-01-01", parse("20500101000000Z", 0), here(2524608000LL));
	check("2050-01-02 as UTCTime", parse("500102000000Z", 1),
	    -631065600LL);	/* UTCTime 50 is 1950 (RFC 5280) */
	check("2049-01-02 as UTCTime", parse("490102000000Z", 1),
	    here(2493158400LL));
	check("2100-02-28T12:00:00", parse("21000228120000Z", 0),
	    here(4107499200LL));
	check("2100-02-29 is no date", parse("21000229000000Z", 0), -1);
	check("9999-12-31T23:59:59", parse("99991231235959Z", 0),
	    here(253402300799LL));
	check("0001-01-01", parse("00010101000000Z", 0), here(-62135596800LL));
	check("1950-01-01", parse("19500101000000Z", 0), -631152000LL);
	check("fractions ignored", parse("20500101000000.123Z", 0),
	    here(2524608000LL));
	check("no Z is unreadable", parse("20500101000000", 0), -1);

	/* saturating addition: never wraps */
	check("now + 7 days", (long long)staple_time_add(now, 7 * 86400),
	    1796428800LL + 7 * 86400);
	check("2050 + max_age", (long long)staple_time_add(y2050, 365 * 86400LL),
	    here(2524608000LL + 365 * 86400LL));
	check("2050 - skew", (long long)staple_time_add(y2050, -300),
	    here(2524608000LL) - 300);
	check("clamp above", (long long)staple_time_clamp(INT64_MAX),
	    sizeof(time_t) == 4 ? 2147483647LL : INT64_MAX);
	check("clamp below", (long long)staple_time_clamp(INT64_MIN),
	    sizeof(time_t) == 4 ? -2147483648LL : INT64_MIN);

	/* where staples stand now: never current by overflow */
	check("thisUpdate 2050: not yet valid",
	    staple_time_when(y2050, y2050 + 0, now, 300, 0), STAPLE_FUTURE);
	check("thisUpdate now, nextUpdate 2050: current",
	    staple_time_when(now, y2050, now, 300, 0), STAPLE_CURRENT);
	/* (a 32-bit time_t clamps both to its end: expired there too) */
	check("nextUpdate 2050, at 2050-01-02: expired",
	    staple_time_when(now, (time_t)here(2524608000LL),
	    (time_t)here(2524694400LL), 300, 0), STAPLE_EXPIRED);
	check("thisUpdate 2050, max_age end: not yet valid",
	    staple_time_when(y2050, staple_time_add(y2050, 7 * 86400), now,
	    300, 1), STAPLE_FUTURE);
	check("thisUpdate 1950, max_age 7d: expired",
	    staple_time_when((time_t)-631152000LL,
	    staple_time_add((time_t)-631152000LL, 7 * 86400), now, 300, 1),
	    STAPLE_EXPIRED);
	/* near the 32-bit end: now + skew must not wrap to the past */
	check("thisUpdate 2038-01-19T03:14:07, now 300 s before it",
	    staple_time_when((time_t)2147483647LL,
	    (time_t)2147483647LL, (time_t)(2147483647LL - 300), 300, 0),
	    STAPLE_CURRENT);
	check("thisUpdate at the end, now 301 s before it: not yet valid",
	    staple_time_when((time_t)2147483647LL, (time_t)2147483647LL,
	    (time_t)(2147483647LL - 301), 300, 0), STAPLE_FUTURE);
	check("no nextUpdate, thisUpdate at the end, max_age: current till then",
	    staple_time_when((time_t)2147483640LL,
	    staple_time_add((time_t)2147483640LL, 7 * 86400),
	    (time_t)2147483647LL, 300, 1),
	    STAPLE_CURRENT);
}

int
main(int argc, char **argv)
{
	if (argc == 1) {
		run_table();
		printf("%s\n", failures ? "FAILED" : "PASSED");
		return failures != 0;
	}
#ifdef WHEN_TEST_DER
	for (int i = 1; i < argc; i++) {
		static unsigned char buf[1 << 20];
		struct staple_entry *e;
		size_t len, n;
		FILE *f = fopen(argv[i], "rb");

		if (f == NULL)
			return 2;
		len = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		if (!staple_der_parse(buf, len, &e, &n)) {
			printf("%s: not read\n", argv[i]);
			continue;
		}
		for (size_t j = 0; j < n; j++)
			printf("%s: this %lld next %lld flags %d\n", argv[i],
			    (long long)e[j].this_update,
			    (long long)e[j].next_update, e[j].flags);
		free(e);
	}
	return 0;
#else
	(void)argv;
	fprintf(stderr, "when_test: built without the DER reader\n");
	return 2;
#endif
}
