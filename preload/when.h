/*
 * when.h - the time rules, as plain arithmetic: ASN.1 times read strictly,
 * and where a staple stands at a moment. No OpenSSL here, so the rules can
 * be built and tested alone, on any time_t.
 *
 * Arithmetic is 64-bit throughout. A moment time_t cannot hold (a 32-bit
 * time_t and a date from 2038 on) is clamped to time_t's range: a nextUpdate
 * in 2050 is then "after every moment this system can name", a thisUpdate in
 * 2050 stays in the future. Clamping never makes a staple current that is not.
 */
#ifndef STAPLE_WHEN_H
#define STAPLE_WHEN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The universal tags of the two ASN.1 time types (V_ASN1_UTCTIME, ...). */
#define STAPLE_UTCTIME		23
#define STAPLE_GENERALIZEDTIME	24

enum staple_when { STAPLE_CURRENT, STAPLE_EXPIRED, STAPLE_FUTURE,
	STAPLE_BADTIME };

/*
 * `len` content bytes at `p` of a UTCTime or GeneralizedTime (`type`), read
 * strictly (digits, a valid date, "Z"; fractions of a second are ignored),
 * as seconds since the epoch in *t, clamped to time_t's range. 0 when it is
 * unreadable: never a guess.
 */
int staple_time_parse(int type, const unsigned char *p, size_t len, time_t *t);

/* `t` (64-bit seconds) clamped to time_t's range. */
time_t staple_time_clamp(int64_t t);

/* t + secs, clamped to time_t's range: never wraps. */
time_t staple_time_add(time_t t, int64_t secs);

/*
 * Where a staple with thisUpdate `this_update`, ending at `end` (nextUpdate,
 * or thisUpdate + max_age) stands at `now`: thisUpdate may be `skew` seconds
 * in the future, and it is expired from end + `after` on. The caller flags
 * unreadable times (STAPLE_BADTIME) itself.
 */
int staple_time_when(time_t this_update, time_t end, time_t now, int64_t skew,
    int64_t after);

#endif
