/*
 * crl.c - read a DER CRL strictly, and index its revoked serials.
 *
 * RFC 5280 5.1. The walk checks every byte it passes over to be strict DER
 * and reads only what the client role uses: the signed part's bounds, the
 * issuer, the times, the extensions it must understand (IDP, delta,
 * critical ones), and per entry the serial, date and reason.
 */
#include <stdlib.h>
#include <string.h>

#include "crl.h"
#include "tlv.h"
#include "when.h"

#define CRL_DEPTH 16	/* nesting checked in skipped parts */

/* Whether v is a sequence of well-formed TLVs, `depth` levels deep. */
static int
crl_wellformed(struct staple_tlv v, int depth)
{
	struct staple_tlv c;
	int tag;

	while (v.p < v.end) {
		if (!staple_tlv_next(&v, &tag, &c))
			return 0;
		if (tag == 0x06 && !staple_tlv_oid_ok(c))
			return 0;
		if ((tag == 0x05 && c.p != c.end) || (tag == 0x01 &&
		    (c.end - c.p != 1 || (*c.p != 0 && *c.p != 0xff))))
			return 0;
		if ((tag & 0x20) && (depth == 0 || !crl_wellformed(c, depth - 1)))
			return 0;
	}
	return 1;
}

/* Whether v is a minimal INTEGER's contents. */
static int
crl_int_ok(struct staple_tlv v)
{
	size_t len = (size_t)(v.end - v.p);

	return len > 0 && len < 128 && !(len > 1 &&
	    ((v.p[0] == 0 && !(v.p[1] & 0x80)) ||
	    (v.p[0] == 0xff && (v.p[1] & 0x80))));
}

/* An AlgorithmIdentifier: OID and at most one well-formed parameter. */
static int
crl_algorithm(struct staple_tlv *d, struct staple_tlv *whole)
{
	struct staple_tlv a, oid;
	const unsigned char *start = d->p;

	if (!staple_tlv_take(d, 0x30, &a) || !staple_tlv_take(&a, 0x06, &oid) ||
	    !staple_tlv_oid_ok(oid) || !crl_wellformed(a, CRL_DEPTH))
		return 0;
	if (a.p < a.end) {
		struct staple_tlv param;
		int tag;

		if (!staple_tlv_next(&a, &tag, &param) || a.p != a.end)
			return 0;
	}
	whole->p = start;
	whole->end = d->p;
	return 1;
}

/*
 * A Name: SEQUENCE OF non-empty SET OF SEQUENCE { OID, one primitive or
 * well-formed value }.
 */
static int
crl_name(struct staple_tlv *d, struct staple_span *whole)
{
	const unsigned char *start = d->p;
	struct staple_tlv name, rdn, atv, oid, v;
	int tag;

	if (!staple_tlv_take(d, 0x30, &name))
		return 0;
	while (name.p < name.end) {
		if (!staple_tlv_take(&name, 0x31, &rdn) || rdn.p == rdn.end)
			return 0;
		while (rdn.p < rdn.end)
			if (!staple_tlv_take(&rdn, 0x30, &atv) ||
			    !staple_tlv_take(&atv, 0x06, &oid) || !staple_tlv_oid_ok(oid) ||
			    !staple_tlv_next(&atv, &tag, &v) || atv.p != atv.end ||
			    ((tag & 0x20) && !crl_wellformed(v, CRL_DEPTH)))
				return 0;
	}
	whole->p = start;
	whole->len = (size_t)(d->p - start);
	return 1;
}

/* A Time (UTCTime or GeneralizedTime) into *t; *bad set when unreadable. */
static int
crl_time(struct staple_tlv *d, time_t *t, unsigned *flags)
{
	struct staple_tlv v;
	int tag;

	if (!staple_tlv_next(d, &tag, &v) || (tag != STAPLE_UTCTIME &&
	    tag != STAPLE_GENERALIZEDTIME))
		return 0;
	if (!staple_time_parse(tag, v.p, (size_t)(v.end - v.p), t))
		*flags |= STAPLE_CRL_BADTIME;
	return 1;
}

/* Whether oid is 2.5.29.`last` (id-ce). */
static int
crl_id_ce(struct staple_tlv oid, int last)
{
	return oid.end - oid.p == 3 && oid.p[0] == 0x55 && oid.p[1] == 0x1d &&
	    oid.p[2] == last;
}

/* One extension: its OID, criticality and value; 0 if malformed. */
static int
crl_extension(struct staple_tlv *list, struct staple_tlv *oid, int *critical,
    struct staple_tlv *value)
{
	struct staple_tlv ext, b;

	*critical = 0;
	if (!staple_tlv_take(list, 0x30, &ext) || !staple_tlv_take(&ext, 0x06, oid) ||
	    !staple_tlv_oid_ok(*oid))
		return 0;
	if (staple_tlv_peek(&ext, 0x01)) {
		/* DER writes no FALSE default */
		if (!staple_tlv_take(&ext, 0x01, &b) || b.end - b.p != 1 || *b.p != 0xff)
			return 0;
		*critical = 1;
	}
	return staple_tlv_take(&ext, 0x04, value) && ext.p == ext.end;
}

/* A BOOLEAN that DER writes only when TRUE: [n] IMPLICIT BOOLEAN = 0xFF. */
static int
crl_true(struct staple_tlv v)
{
	return v.end - v.p == 1 && *v.p == 0xff;
}

/* URIs of a GeneralNames into uris; *other set when it names anything else. */
static int
crl_general_uris(struct staple_tlv names, struct staple_span *uris, int *n,
    int max, int *other)
{
	struct staple_tlv v;
	int tag;

	if (names.p == names.end)
		return 0;
	while (names.p < names.end) {
		if (!staple_tlv_next(&names, &tag, &v) ||
		    ((tag & 0x20) && !crl_wellformed(v, CRL_DEPTH)))
			return 0;
		if (tag == 0x86 && *n < max) {
			uris[*n].p = v.p;
			uris[(*n)++].len = (size_t)(v.end - v.p);
		} else if (tag != 0x86) {
			*other = 1;
		}
	}
	return 1;
}

/* issuingDistributionPoint (RFC 5280 5.2.5) into c. */
static int
crl_idp(struct staple_tlv v, struct staple_crl *c)
{
	struct staple_tlv idp, dpn, names, x;
	int other = 0, last = -1, tag;

	if (!staple_tlv_take(&v, 0x30, &idp) || v.p != v.end)
		return 0;
	c->flags |= STAPLE_CRL_IDP;
	if (staple_tlv_peek(&idp, 0xa0)) {
		if (!staple_tlv_take(&idp, 0xa0, &dpn) || !staple_tlv_next(&dpn, &tag, &names) ||
		    dpn.p != dpn.end)
			return 0;
		if (tag == 0xa0) {
			if (!crl_general_uris(names, c->uris, &c->nuris,
			    STAPLE_CRL_URIS, &other))
				return 0;
		} else if (tag == 0xa1) {
			other = 1;	/* nameRelativeToCRLIssuer */
			if (!crl_wellformed(names, CRL_DEPTH))
				return 0;
		} else {
			return 0;
		}
		if (other)
			c->flags |= STAPLE_CRL_IDP_NAMES;
	}
	/* the rest, in tag order, each at most once */
	while (idp.p < idp.end) {
		if (!staple_tlv_next(&idp, &tag, &x) || tag < 0x81 || tag > 0x85 ||
		    tag <= last)
			return 0;
		last = tag;
		if (tag == 0x83) {
			/* a BIT STRING of reasons */
			if (x.p == x.end || *x.p > 7 || (x.end - x.p == 1 && *x.p))
				return 0;
			c->flags |= STAPLE_CRL_SOME_REASONS;
			continue;
		}
		if (!crl_true(x))
			return 0;
		if (tag == 0x82 || tag == 0x85)
			c->flags |= STAPLE_CRL_NOT_USERS;
		else if (tag == 0x84)
			c->flags |= STAPLE_CRL_INDIRECT;
	}
	return 1;
}

/* authorityKeyIdentifier: its keyIdentifier, if any, into c->akid. */
static int
crl_akid(struct staple_tlv v, struct staple_crl *c)
{
	struct staple_tlv akid, id;

	if (!staple_tlv_take(&v, 0x30, &akid) || v.p != v.end ||
	    !crl_wellformed(akid, CRL_DEPTH))
		return 0;
	if (staple_tlv_peek(&akid, 0x80)) {
		if (!staple_tlv_take(&akid, 0x80, &id))
			return 0;
		c->akid.p = id.p;
		c->akid.len = (size_t)(id.end - id.p);
	}
	return 1;
}

/* crlExtensions. */
static int
crl_extensions(struct staple_tlv list, struct staple_crl *c)
{
	struct staple_tlv oid, v, n;
	int critical, seen_idp = 0, seen_delta = 0, seen_akid = 0;

	if (list.p == list.end)
		return 0;
	while (list.p < list.end) {
		if (!crl_extension(&list, &oid, &critical, &v))
			return 0;
		if (crl_id_ce(oid, 28)) {		/* issuingDistributionPoint */
			if (seen_idp++ || !crl_idp(v, c))
				return 0;
		} else if (crl_id_ce(oid, 27)) {	/* deltaCRLIndicator */
			if (seen_delta++ || !staple_tlv_take(&v, 0x02, &n) ||
			    v.p != v.end || !crl_int_ok(n))
				return 0;
			c->flags |= STAPLE_CRL_DELTA;
		} else if (crl_id_ce(oid, 35)) {	/* authorityKeyIdentifier */
			if (seen_akid++ || !crl_akid(v, c))
				return 0;
		} else if (crl_id_ce(oid, 20)) {	/* cRLNumber */
			if (!staple_tlv_take(&v, 0x02, &n) || v.p != v.end ||
			    !crl_int_ok(n))
				return 0;
		} else {
			if (!crl_wellformed(v, CRL_DEPTH))
				return 0;
			if (critical)
				c->flags |= STAPLE_CRL_CRITICAL;
		}
	}
	return 1;
}

/* One revoked entry's parts. */
struct crl_entry {
	struct staple_tlv serial;
	time_t when;
	int reason;		/* -1: none */
};

/* crlEntryExtensions: reasonCode read, certificateIssuer flagged. */
static int
crl_entry_extensions(struct staple_tlv list, struct crl_entry *e,
    unsigned *flags)
{
	struct staple_tlv oid, v, code;
	int critical;

	if (list.p == list.end)
		return 0;
	while (list.p < list.end) {
		if (!crl_extension(&list, &oid, &critical, &v))
			return 0;
		if (crl_id_ce(oid, 21)) {		/* reasonCode */
			if (e->reason >= 0 || !staple_tlv_take(&v, 0x0a, &code) ||
			    v.p != v.end || code.end - code.p != 1 ||
			    (*code.p & 0x80))
				return 0;
			e->reason = *code.p;
		} else if (crl_id_ce(oid, 29)) {	/* certificateIssuer */
			if (!crl_wellformed(v, CRL_DEPTH))
				return 0;
			*flags |= STAPLE_CRL_INDIRECT;
		} else {
			/* invalidityDate, holdInstructionCode: not needed */
			if (!crl_wellformed(v, CRL_DEPTH))
				return 0;
			if (critical && !crl_id_ce(oid, 24) && !crl_id_ce(oid, 23))
				*flags |= STAPLE_CRL_ENTRY_CRITICAL;
		}
	}
	return 1;
}

/* The next revoked entry of `list` into e; 0 if malformed. */
static int
crl_entry(struct staple_tlv *list, struct crl_entry *e, unsigned *flags)
{
	struct staple_tlv rc, exts;

	e->reason = -1;
	if (!staple_tlv_take(list, 0x30, &rc) || !staple_tlv_take(&rc, 0x02, &e->serial) ||
	    !crl_int_ok(e->serial) || !crl_time(&rc, &e->when, flags))
		return 0;
	if (rc.p < rc.end && (!staple_tlv_take(&rc, 0x30, &exts) ||
	    !crl_entry_extensions(exts, e, flags)))
		return 0;
	return rc.p == rc.end;
}

/* The TBSCertList's fields into c. */
static int
crl_tbs(struct staple_tlv tbs, struct staple_crl *c, struct staple_tlv *sigalg)
{
	struct staple_tlv v, list, exts;
	struct crl_entry e;
	int tag;

	if (staple_tlv_peek(&tbs, 0x02)) {
		if (!staple_tlv_take(&tbs, 0x02, &v) || v.end - v.p != 1 || *v.p > 1)
			return 0;
	}
	if (!crl_algorithm(&tbs, sigalg) || !crl_name(&tbs, &c->issuer) ||
	    !crl_time(&tbs, &c->this_update, &c->flags))
		return 0;
	if (tbs.p < tbs.end && (*tbs.p == STAPLE_UTCTIME ||
	    *tbs.p == STAPLE_GENERALIZEDTIME)) {
		if (!crl_time(&tbs, &c->next_update, &c->flags))
			return 0;
		c->flags |= STAPLE_CRL_NEXT;
	}
	if (staple_tlv_peek(&tbs, 0x30)) {
		if (!staple_tlv_take(&tbs, 0x30, &list) || list.p == list.end)
			return 0;
		c->entries.p = list.p;
		c->entries.len = (size_t)(list.end - list.p);
		while (list.p < list.end) {
			if (!crl_entry(&list, &e, &c->flags))
				return 0;
			c->count++;
		}
	}
	if (staple_tlv_peek(&tbs, 0xa0)) {
		if (!staple_tlv_next(&tbs, &tag, &v) || !staple_tlv_take(&v, 0x30, &exts) ||
		    v.p != v.end || !crl_extensions(exts, c))
			return 0;
	}
	return tbs.p == tbs.end;
}

int
staple_crl_parse(const unsigned char *der, size_t len, struct staple_crl *c)
{
	struct staple_tlv d = { der, der + len }, cl, tbs, inner, outer, bits;
	const unsigned char *start;

	memset(c, 0, sizeof(*c));
	if (!staple_tlv_take(&d, 0x30, &cl) || d.p != d.end)
		return 0;
	start = cl.p;
	if (!staple_tlv_take(&cl, 0x30, &tbs))
		return 0;
	c->tbs.p = start;
	c->tbs.len = (size_t)(cl.p - start);
	if (!crl_tbs(tbs, c, &inner) || !crl_algorithm(&cl, &outer) ||
	    !staple_tlv_take(&cl, 0x03, &bits) || cl.p != cl.end ||
	    bits.end - bits.p < 2 || *bits.p != 0)
		return 0;
	/* the algorithm signed must be the one announced (RFC 5280 5.1.1.2) */
	if (inner.end - inner.p != outer.end - outer.p ||
	    memcmp(inner.p, outer.p, (size_t)(inner.end - inner.p)) != 0)
		return 0;
	c->sigalg.p = outer.p;
	c->sigalg.len = (size_t)(outer.end - outer.p);
	c->sig.p = bits.p + 1;
	c->sig.len = (size_t)(bits.end - bits.p - 1);
	if ((c->flags & STAPLE_CRL_NEXT) && !(c->flags & STAPLE_CRL_BADTIME) &&
	    c->next_update < c->this_update)
		c->flags |= STAPLE_CRL_BADTIME;
	return 1;
}

int
staple_crl_dp_uris(const unsigned char *ext, size_t len,
    struct staple_span *uris, int max)
{
	struct staple_tlv d = { ext, ext + len }, list, dp, dpn, names;
	int n = 0, other = 0, tag;

	if (!staple_tlv_take(&d, 0x30, &list) || d.p != d.end || list.p == list.end)
		return -1;
	while (list.p < list.end) {
		if (!staple_tlv_take(&list, 0x30, &dp) || !crl_wellformed(dp, CRL_DEPTH))
			return -1;
		if (!staple_tlv_peek(&dp, 0xa0))
			continue;
		if (!staple_tlv_take(&dp, 0xa0, &dpn) || !staple_tlv_next(&dpn, &tag, &names))
			return -1;
		if (tag == 0xa0 && !crl_general_uris(names, uris, &n, max, &other))
			return -1;
	}
	return n;
}

const char *
staple_crl_reason_name(int reason)
{
	static const char *const names[] = {
		"unspecified", "keyCompromise", "cACompromise",
		"affiliationChanged", "superseded", "cessationOfOperation",
		"certificateHold", "unspecified", "removeFromCRL",
		"privilegeWithdrawn", "aACompromise"
	};

	return reason >= 0 && reason <= 10 ? names[reason] : "unspecified";
}

/*
 * A serial's hash: its last and first bytes mixed (fmix64). Cheap on a
 * million serials, and spread for random and sequential ones alike.
 */
static uint64_t
crl_serial_hash(const unsigned char *s, size_t len)
{
	uint64_t head = 0, tail = 0, h;
	size_t n = len < 8 ? len : 8;

	for (size_t i = 0; i < n; i++) {
		head = head << 8 | s[i];
		tail = tail << 8 | s[len - n + i];
	}
	h = tail ^ (head << 29 | head >> 35) ^ ((uint64_t)len << 56);
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* The slot a hash starts probing at. */
static uint32_t
crl_slot(uint64_t h, uint32_t nslots)
{
	return (uint32_t)(((h >> 32) * nslots) >> 32);
}

#define CRL_RECORD_FIXED (1 + 8 + 1)	/* serial length, date, reason */

struct staple_crl_index *
staple_crl_index_build(const struct staple_crl *c, size_t *size)
{
	struct staple_tlv list = { c->entries.p, c->entries.p };
	struct staple_crl_index *ix;
	struct crl_entry e;
	unsigned char *base, *r;
	uint32_t *slots, nslots, off, i;
	size_t records = 0, total;
	unsigned flags = 0;
	int64_t when;

	if (c->count > 0x3fffffff)
		return NULL;
	if (list.p != NULL)	/* no entries: no span (NULL + 0 is undefined) */
		list.end = c->entries.p + c->entries.len;
	/* records take at most what the entries took: serial + 10 < entry */
	records = c->entries.len;
	nslots = (uint32_t)(c->count + c->count / 2 + 1);
	total = sizeof(*ix) + ((records + 3) & ~(size_t)3) +
	    (size_t)nslots * sizeof(uint32_t);
	if (total > 0xffffffffUL || (base = malloc(total)) == NULL)
		return NULL;
	ix = (struct staple_crl_index *)base;
	memset(ix, 0, sizeof(*ix));
	r = base + sizeof(*ix);
	while (list.p < list.end) {
		if (!crl_entry(&list, &e, &flags)) {
			free(base);
			return NULL;
		}
		*r++ = (unsigned char)(e.serial.end - e.serial.p);
		memcpy(r, e.serial.p, (size_t)(e.serial.end - e.serial.p));
		r += e.serial.end - e.serial.p;
		when = e.when;
		memcpy(r, &when, 8);
		r[8] = (unsigned char)(e.reason < 0 ? 255 : e.reason);
		r += 9;
	}
	records = (size_t)(r - (base + sizeof(*ix)));
	ix->slots_off = (uint32_t)(sizeof(*ix) + ((records + 3) & ~(size_t)3));
	memset(base + sizeof(*ix) + records, 0, ix->slots_off - sizeof(*ix) -
	    records);
	slots = (uint32_t *)(base + ix->slots_off);
	memset(slots, 0, (size_t)nslots * sizeof(uint32_t));
	for (off = sizeof(*ix); off < sizeof(*ix) + records;
	    off += CRL_RECORD_FIXED + base[off]) {
		i = crl_slot(crl_serial_hash(base + off + 1, base[off]), nslots);
		while (slots[i] != 0)
			i = i + 1 == nslots ? 0 : i + 1;
		slots[i] = off;
	}
	memcpy(ix->magic, STAPLE_CRL_INDEX_MAGIC, 8);
	ix->version = 1;
	ix->count = (uint32_t)c->count;
	ix->nslots = nslots;
	ix->this_update = c->this_update;
	ix->next_update = c->next_update;
	*size = total = ix->slots_off + (size_t)nslots * sizeof(uint32_t);
	ix->size = total;
	/* give back what the DER's headers took */
	r = realloc(base, total);
	return (struct staple_crl_index *)(r != NULL ? r : base);
}

int
staple_crl_index_check(const struct staple_crl_index *ix, size_t size)
{
	const unsigned char *base = (const unsigned char *)ix;
	const uint32_t *slots;
	uint32_t used = 0;

	if (size < sizeof(*ix) || memcmp(ix->magic, STAPLE_CRL_INDEX_MAGIC, 8) ||
	    ix->version != 1 || ix->size != size || ix->nslots == 0 ||
	    ix->nslots <= ix->count || ix->slots_off < sizeof(*ix) ||
	    (ix->slots_off & 3) || ix->slots_off > size ||
	    (size - ix->slots_off) / sizeof(uint32_t) != ix->nslots ||
	    (size - ix->slots_off) % sizeof(uint32_t) != 0)
		return 0;
	slots = (const uint32_t *)(base + ix->slots_off);
	for (uint32_t i = 0; i < ix->nslots; i++) {
		if (slots[i] == 0)
			continue;
		used++;
		if (slots[i] < sizeof(*ix) || slots[i] >= ix->slots_off ||
		    base[slots[i]] == 0 || base[slots[i]] > 127 ||
		    ix->slots_off - slots[i] < (uint32_t)CRL_RECORD_FIXED +
		    base[slots[i]])
			return 0;
	}
	return used == ix->count;
}

int
staple_crl_index_find(const struct staple_crl_index *ix,
    const unsigned char *s, size_t len, time_t *when, int *reason)
{
	const unsigned char *base = (const unsigned char *)ix, *r;
	const uint32_t *slots = (const uint32_t *)(base + ix->slots_off);
	uint32_t i;
	int64_t t;

	if (len == 0 || len > 127 || ix->count == 0)
		return 0;
	i = crl_slot(crl_serial_hash(s, len), ix->nslots);
	/*
	 * An empty slot ends every probe (the table is never full); each slot
	 * is bounded, since a mapped index file is checked no further than
	 * its header.
	 */
	for (uint32_t n = 0; n < ix->nslots && slots[i] != 0; n++,
	    i = i + 1 == ix->nslots ? 0 : i + 1) {
		if (slots[i] < sizeof(*ix) || slots[i] >= ix->slots_off)
			return 0;
		r = base + slots[i];
		if (r[0] != len || ix->slots_off - slots[i] < CRL_RECORD_FIXED + len ||
		    memcmp(r + 1, s, len) != 0)
			continue;
		memcpy(&t, r + 1 + len, 8);
		*when = staple_time_clamp(t);
		*reason = r[1 + len + 8] == 255 ? -1 : r[1 + len + 8];
		return 1;
	}
	return 0;
}
