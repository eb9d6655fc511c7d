/*
 * tlv.h - the one strict DER TLV reader under both of libstaple's own
 * parsers: der.c (OCSP responses, for the staple index) and crl.c (CRLs).
 * Strict as those need it: no high tag numbers (neither format has any),
 * definite minimal lengths of at most 4 bytes, nothing past the end.
 * Inline: both readers call it once per field, in loops over every staple
 * and every revoked entry.
 */
#ifndef STAPLE_TLV_H
#define STAPLE_TLV_H

#include <stddef.h>

/* A span of DER bytes being read. */
struct staple_tlv {
	const unsigned char *p, *end;
};

/* Read one TLV from d into *tag and *v (its contents); 0 if malformed. */
static inline int
staple_tlv_next(struct staple_tlv *d, int *tag, struct staple_tlv *v)
{
	size_t len = 0, n;

	if (d->end - d->p < 2 || (d->p[0] & 0x1f) == 0x1f)
		return 0;
	*tag = *d->p++;
	if (*d->p < 0x80) {
		len = *d->p++;
	} else {
		/* long form, minimal: 1 to 4 length bytes, no leading zero */
		n = *d->p++ & 0x7f;
		if (n == 0 || n > 4 || (size_t)(d->end - d->p) < n || *d->p == 0)
			return 0;
		while (n-- > 0)
			len = len << 8 | *d->p++;
		if (len < 0x80)
			return 0;
	}
	if ((size_t)(d->end - d->p) < len)
		return 0;
	v->p = d->p;
	v->end = d->p + len;
	d->p += len;
	return 1;
}

/* Read one TLV that must have tag `want`. */
static inline int
staple_tlv_take(struct staple_tlv *d, int want, struct staple_tlv *v)
{
	int tag;

	return staple_tlv_next(d, &tag, v) && tag == want;
}

/* Whether the next TLV has tag `tag` (without reading it). */
static inline int
staple_tlv_peek(const struct staple_tlv *d, int tag)
{
	return d->p < d->end && *d->p == tag;
}

/* Whether `v` is a well-formed OBJECT IDENTIFIER's contents. */
static inline int
staple_tlv_oid_ok(struct staple_tlv v)
{
	if (v.p == v.end || (v.end[-1] & 0x80))
		return 0;
	for (const unsigned char *q = v.p; q < v.end; q++)
		if (*q == 0x80 && (q == v.p || !(q[-1] & 0x80)))
			return 0;	/* a subidentifier with a leading zero */
	return 1;
}

#endif
