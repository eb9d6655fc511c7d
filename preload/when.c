/*
 * when.c - the time rules in 64-bit arithmetic.
 */
#include "when.h"

/* time_t's range, whatever its width (it is a signed integer type on Linux). */
#define TIME_T_MAX ((time_t)(sizeof(time_t) == 8 ? INT64_MAX : INT32_MAX))
#define TIME_T_MIN ((time_t)(sizeof(time_t) == 8 ? INT64_MIN : INT32_MIN))

time_t
staple_time_clamp(int64_t t)
{
	if (t > (int64_t)TIME_T_MAX)
		return TIME_T_MAX;
	if (t < (int64_t)TIME_T_MIN)
		return TIME_T_MIN;
	return (time_t)t;
}

time_t
staple_time_add(time_t t, int64_t secs)
{
	/* both far below 2^62 in practice; saturate rather than trust that */
	if (secs > 0 && (int64_t)t > INT64_MAX - secs)
		return TIME_T_MAX;
	if (secs < 0 && (int64_t)t < INT64_MIN - secs)
		return TIME_T_MIN;
	return staple_time_clamp((int64_t)t + secs);
}

int
staple_time_when(time_t this_update, time_t end, time_t now, int64_t skew,
    int64_t after)
{
	/* compared in 64 bits: now + skew must not wrap near 2038 */
	if ((int64_t)this_update > (int64_t)now + skew)
		return STAPLE_FUTURE;
	if ((int64_t)now >= (int64_t)end + after)
		return STAPLE_EXPIRED;
	return STAPLE_CURRENT;
}

/* Read `n` decimal digits at *p, advancing it; -1 if one is not a digit. */
static int
staple_digits(const unsigned char **p, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return -1;
		v = v * 10 + (**p - '0');
	}
	return v;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian calendar). */
static int64_t
staple_days(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
staple_time_parse(int type, const unsigned char *p, size_t len, time_t *t)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	const unsigned char *end = p + len;
	int y, mo, d, h, mi, sec, leap;

	if (type == STAPLE_UTCTIME && len == 13) {
		/* RFC 5280 4.1.2.5.1: YY below 50 is 20YY */
		y = staple_digits(&p, 2);
		y += y < 0 ? 0 : y < 50 ? 2000 : 1900;
	} else if (type == STAPLE_GENERALIZEDTIME && len >= 15) {
		y = staple_digits(&p, 4);
	} else {
		return 0;
	}
	mo = staple_digits(&p, 2);
	d = staple_digits(&p, 2);
	h = staple_digits(&p, 2);
	mi = staple_digits(&p, 2);
	sec = staple_digits(&p, 2);
	/* GeneralizedTime may carry fractions of a second: digits, ignored */
	if (type == STAPLE_GENERALIZEDTIME && p < end - 1 && *p == '.') {
		if (++p == end - 1)
			return 0;
		for (; p < end - 1; p++)
			if (*p < '0' || *p > '9')
				return 0;
	}
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 ||
	    mi < 0 || mi > 59 || sec < 0 || sec > 59 || p != end - 1 || *p != 'Z')
		return 0;
	leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
	if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap))
		return 0;
	/* 64-bit: days * 86400 passes 2^31 in 2038 */
	*t = staple_time_clamp(staple_days(y, mo, d) * 86400 + h * 3600 +
	    mi * 60 + sec);
	return 1;
}
