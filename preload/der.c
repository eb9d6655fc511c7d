/*
 * der.c - read the staple index's fields out of a DER OCSP response.
 *
 * RFC 6960 4.2.1, strict DER: a reader that finds anything else gives up
 * and lets OpenSSL decide. Skipped parts (the ResponderID, signature
 * algorithm, certificates) are still checked to be well-formed DER.
 */
#include <stdlib.h>
#include <string.h>

#include "der.h"
#include "tlv.h"
#include "when.h"

#define DER_DEPTH 16	/* nesting checked in skipped parts */

/* Whether `v` is a sequence of well-formed TLVs, `depth` levels deep. */
static int
der_wellformed(struct staple_tlv v, int depth)
{
	struct staple_tlv c;
	int tag;

	while (v.p < v.end) {
		if (!staple_tlv_next(&v, &tag, &c))
			return 0;
		if (tag == 0x06 && !staple_tlv_oid_ok(c))
			return 0;
		if (tag == 0x05 && c.p != c.end)
			return 0;
		if (tag == 0x03 && (c.p == c.end || *c.p > 7 ||
		    (c.end - c.p == 1 && *c.p != 0)))
			return 0;
		if ((tag & 0x20) && (depth == 0 || !der_wellformed(c, depth - 1)))
			return 0;
	}
	return 1;
}

/* Skip one well-formed TLV with tag `want`. */
static int
der_skip(struct staple_tlv *d, int want)
{
	struct staple_tlv v;

	return staple_tlv_take(d, want, &v) && (!(want & 0x20) ||
	    der_wellformed(v, DER_DEPTH)) && (want != 0x06 || staple_tlv_oid_ok(v));
}

/*
 * An Extensions SEQUENCE: well-formed, *critical set when one of them is.
 * BOOLEAN TRUE is 0xFF in DER, and a FALSE is never written out.
 */
static int
der_extensions(struct staple_tlv v, int *critical)
{
	struct staple_tlv ext, b;

	*critical = 0;
	if (v.p == v.end)
		return 0;	/* SEQUENCE SIZE (1..MAX) */
	while (v.p < v.end) {
		if (!staple_tlv_take(&v, 0x30, &ext) || !der_skip(&ext, 0x06))
			return 0;
		if (staple_tlv_peek(&ext, 0x01)) {
			if (!staple_tlv_take(&ext, 0x01, &b) || b.end - b.p != 1 ||
			    *b.p != 0xff)
				return 0;
			*critical = 1;
		}
		if (!der_skip(&ext, 0x04) || ext.p != ext.end)
			return 0;
	}
	return 1;
}

/* An INTEGER's magnitude into e->serial as OpenSSL's c2i gives it; 0 if not minimal DER. */
static int
der_serial(struct staple_tlv v, struct staple_entry *e, int *fits)
{
	size_t len = (size_t)(v.end - v.p);
	int neg, pad = 0;
	unsigned carry;

	if (len == 0 || (len > 1 && ((v.p[0] == 0 && !(v.p[1] & 0x80)) ||
	    (v.p[0] == 0xff && (v.p[1] & 0x80)))))
		return 0;
	neg = (v.p[0] & 0x80) != 0;
	if (len > 1 && v.p[0] == 0)
		pad = 1;
	else if (len > 1 && v.p[0] == 0xff)
		for (size_t i = 1; i < len; i++)
			pad |= v.p[i] != 0;
	v.p += pad;
	len -= pad;
	*fits = len <= STAPLE_SERIAL_MAX;
	if (!*fits)
		return 1;
	/* a negative number's magnitude: its two's complement */
	carry = neg;
	for (size_t i = len; i-- > 0;) {
		carry += (unsigned)(v.p[i] ^ (neg ? 0xff : 0));
		e->serial[i] = (unsigned char)carry;
		carry >>= 8;
	}
	e->serial_len = (unsigned char)len;
	e->serial_neg = (unsigned char)neg;
	return 1;
}

/* The CertID hash algorithms the library matches (staple_md_init's). */
static const struct {
	int nid;
	unsigned char len, oid[9];
} der_mds[] = {
	{ NID_sha1, 5, { 0x2b, 0x0e, 0x03, 0x02, 0x1a } },
	{ NID_sha256, 9, { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01 } },
	{ NID_sha384, 9, { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02 } },
	{ NID_sha512, 9, { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03 } },
	{ NID_sha224, 9, { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04 } },
	{ NID_md5, 8, { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x05 } },
};

/* The NID of a CertID hash OID, NID_undef for one the library does not match. */
static int
der_md(struct staple_tlv oid)
{
	for (size_t i = 0; i < sizeof(der_mds) / sizeof(der_mds[0]); i++)
		if ((size_t)(oid.end - oid.p) == der_mds[i].len &&
		    memcmp(oid.p, der_mds[i].oid, der_mds[i].len) == 0)
			return der_mds[i].nid;
	return NID_undef;
}

/* Copy an OCTET STRING's contents; whether it fits (1 to `max` bytes). */
static int
der_copy(struct staple_tlv v, unsigned char *dst, unsigned char *len, size_t max)
{
	size_t n = (size_t)(v.end - v.p);

	if (n == 0 || n > max)
		return 0;
	memcpy(dst, v.p, n);
	*len = (unsigned char)n;
	return 1;
}

/*
 * A CertID into e. 1: read (*usable: one the library can match, as
 * staple_entry_fill would keep it), 0: malformed.
 */
static int
der_certid(struct staple_tlv *d, struct staple_entry *e, int *usable)
{
	struct staple_tlv id, alg, oid, name, key, serial;
	unsigned char key_len = 0;
	int fits;

	if (!staple_tlv_take(d, 0x30, &id) || !staple_tlv_take(&id, 0x30, &alg) ||
	    !staple_tlv_take(&alg, 0x06, &oid) || !staple_tlv_oid_ok(oid) ||
	    !der_wellformed(alg, DER_DEPTH) || !staple_tlv_take(&id, 0x04, &name) ||
	    !staple_tlv_take(&id, 0x04, &key) || !staple_tlv_take(&id, 0x02, &serial) ||
	    id.p != id.end || !der_serial(serial, e, &fits))
		return 0;
	e->md_nid = der_md(oid);
	*usable = e->md_nid != NID_undef && fits &&
	    der_copy(name, e->name_hash, &e->hash_len, STAPLE_HASH_MAX) &&
	    der_copy(key, e->key_hash, &key_len, STAPLE_HASH_MAX) &&
	    key_len == e->hash_len;
	return 1;
}

/* A GeneralizedTime into *t, flagging an unreadable one; 0 if malformed. */
static int
der_time(struct staple_tlv *d, struct staple_entry *e, time_t *t)
{
	struct staple_tlv v;

	if (!staple_tlv_take(d, 0x18, &v))
		return 0;
	if (!staple_time_parse(V_ASN1_GENERALIZEDTIME, v.p,
	    (size_t)(v.end - v.p), t))
		e->flags |= STAPLE_ENTRY_BADTIME;
	return 1;
}

/* The certStatus CHOICE into e->cert_status; 0 if malformed. */
static int
der_status(struct staple_tlv *d, struct staple_entry *e)
{
	struct staple_tlv v, reason, code;
	int tag;

	if (!staple_tlv_next(d, &tag, &v))
		return 0;
	switch (tag) {
	case 0x80:	/* good [0] IMPLICIT NULL */
	case 0x82:	/* unknown [2] IMPLICIT NULL */
		e->cert_status = tag == 0x80 ? V_OCSP_CERTSTATUS_GOOD :
		    V_OCSP_CERTSTATUS_UNKNOWN;
		return v.p == v.end;
	case 0xa1:	/* revoked [1] IMPLICIT RevokedInfo */
		e->cert_status = V_OCSP_CERTSTATUS_REVOKED;
		if (!staple_tlv_take(&v, 0x18, &reason))
			return 0;
		if (staple_tlv_peek(&v, 0xa0) && (!staple_tlv_take(&v, 0xa0, &reason) ||
		    !staple_tlv_take(&reason, 0x0a, &code) || reason.p != reason.end ||
		    code.end - code.p != 1 || (*code.p & 0x80)))
			return 0;
		return v.p == v.end;
	}
	return 0;
}

/* One SingleResponse; *usable as der_certid says. 0 if malformed. */
static int
der_single(struct staple_tlv *d, struct staple_entry *e, int *usable)
{
	struct staple_tlv s, v, exts;
	int critical;

	memset(e, 0, sizeof(*e));
	if (!staple_tlv_take(d, 0x30, &s) || !der_certid(&s, e, usable) ||
	    !der_status(&s, e) || !der_time(&s, e, &e->this_update))
		return 0;
	if (staple_tlv_peek(&s, 0xa0)) {
		if (!staple_tlv_take(&s, 0xa0, &v) || !der_time(&v, e, &e->next_update) ||
		    v.p != v.end)
			return 0;
		e->flags |= STAPLE_ENTRY_NEXT;
		if (!(e->flags & STAPLE_ENTRY_BADTIME) &&
		    e->next_update < e->this_update)
			e->flags |= STAPLE_ENTRY_BACKWARDS;
	}
	if (staple_tlv_peek(&s, 0xa1)) {
		if (!staple_tlv_take(&s, 0xa1, &v) || !staple_tlv_take(&v, 0x30, &exts) ||
		    v.p != v.end || !der_extensions(exts, &critical))
			return 0;
		if (critical)
			e->flags |= STAPLE_ENTRY_CRITICAL;
	}
	return s.p == s.end;
}

/* The ResponseData's SingleResponses into *entries (count them first). */
static int
der_responses(struct staple_tlv list, struct staple_entry **entries, size_t *n)
{
	struct staple_tlv scan = list, v;
	size_t count = 0;
	int usable;

	/* every element a SEQUENCE, or nothing: the fill below trusts the count */
	while (scan.p < scan.end) {
		if (!staple_tlv_take(&scan, 0x30, &v))
			return 0;
		count++;
	}
	if (count == 0 || (*entries = calloc(count, sizeof(**entries))) == NULL)
		return 0;
	while (list.p < list.end) {
		if (*n == count || !der_single(&list, &(*entries)[*n], &usable)) {
			free(*entries);
			*entries = NULL;
			*n = 0;
			return 0;
		}
		if (usable)
			(*n)++;
	}
	return 1;
}

/* The BasicOCSPResponse: its responses, checking the rest is well-formed. */
static int
der_basic(struct staple_tlv d, struct staple_entry **entries, size_t *n)
{
	struct staple_tlv basic, tbs, v, list, exts;
	int critical = 0;

	if (!staple_tlv_take(&d, 0x30, &basic) || d.p != d.end ||
	    !staple_tlv_take(&basic, 0x30, &tbs))
		return 0;
	if (staple_tlv_peek(&tbs, 0xa0) && (!staple_tlv_take(&tbs, 0xa0, &v) ||
	    !der_skip(&v, 0x02) || v.p != v.end))
		return 0;
	if (!(staple_tlv_peek(&tbs, 0xa1) ? der_skip(&tbs, 0xa1) : der_skip(&tbs, 0xa2)) ||
	    !der_skip(&tbs, 0x18) || !staple_tlv_take(&tbs, 0x30, &list))
		return 0;
	if (staple_tlv_peek(&tbs, 0xa1) && (!staple_tlv_take(&tbs, 0xa1, &v) ||
	    !staple_tlv_take(&v, 0x30, &exts) || v.p != v.end ||
	    !der_extensions(exts, &critical)))
		return 0;
	if (tbs.p != tbs.end || critical || !der_skip(&basic, 0x30) ||
	    !der_skip(&basic, 0x03) ||
	    (staple_tlv_peek(&basic, 0xa0) && !der_skip(&basic, 0xa0)) ||
	    basic.p != basic.end)
		return 0;
	if (!der_responses(list, entries, n))
		return 0;
	if (*n == 0) {
		free(*entries);
		*entries = NULL;
		return 0;
	}
	return 1;
}

int
staple_der_parse(const unsigned char *der, size_t len,
    struct staple_entry **entries, size_t *n)
{
	/* id-pkix-ocsp-basic, 1.3.6.1.5.5.7.48.1.1 */
	static const unsigned char basic_oid[] = {
		0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01
	};
	struct staple_tlv d = { der, der + len }, resp, status, bytes, rb, oid, octets;

	*entries = NULL;
	*n = 0;
	if (!staple_tlv_take(&d, 0x30, &resp) || d.p != d.end ||
	    !staple_tlv_take(&resp, 0x0a, &status) || status.end - status.p != 1 ||
	    *status.p != 0 ||
	    !staple_tlv_take(&resp, 0xa0, &bytes) || resp.p != resp.end ||
	    !staple_tlv_take(&bytes, 0x30, &rb) || bytes.p != bytes.end ||
	    !staple_tlv_take(&rb, 0x06, &oid) ||
	    oid.end - oid.p != (long)sizeof(basic_oid) ||
	    memcmp(oid.p, basic_oid, sizeof(basic_oid)) != 0 ||
	    !staple_tlv_take(&rb, 0x04, &octets) || rb.p != rb.end)
		return 0;
	return der_basic(octets, entries, n);
}
