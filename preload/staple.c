/*
 * staple.c - OCSP responses as plain data: parse, match by CertID, time rules.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "config.h"
#include "der.h"
#include "staple.h"

/* The CertID digests, fetched once at setup and read-only afterwards. */
static struct {
	int nid;
	const EVP_MD *md;
} md_table[STAPLE_MD_MAX];

void
staple_md_init(void)
{
	static const int nids[STAPLE_MD_MAX] = {
		NID_sha1, NID_sha256, NID_sha384, NID_sha512, NID_sha224, NID_md5
	};
	const EVP_MD *md;

	for (int i = 0; i < STAPLE_MD_MAX; i++) {
		const char *name = ossl.OBJ_nid2sn(nids[i]);

		/* A fetched digest (3.x) spares every handshake a lookup. */
		md = ossl.EVP_MD_fetch ? ossl.EVP_MD_fetch(NULL, name, NULL) : NULL;
		md_table[i].nid = nids[i];
		md_table[i].md = md ? md : ossl.EVP_get_digestbyname(name);
	}
}

const EVP_MD *
staple_md_nth(int i, int *nid)
{
	*nid = md_table[i].nid;
	return md_table[i].md;
}

static const EVP_MD *
staple_md(int nid)
{
	for (int i = 0; i < STAPLE_MD_MAX; i++)
		if (md_table[i].nid == nid)
			return md_table[i].md;
	return NULL;
}

/* The time reader (when.c) knows the two types by their universal tags. */
_Static_assert(V_ASN1_UTCTIME == STAPLE_UTCTIME &&
    V_ASN1_GENERALIZEDTIME == STAPLE_GENERALIZEDTIME, "ASN.1 time tags");

int
staple_asn1_time(const ASN1_STRING *s, time_t *t)
{
	const unsigned char *p;

	if (s == NULL || (p = ossl.ASN1_STRING_get0_data(s)) == NULL)
		return 0;
	return staple_time_parse(ossl.ASN1_STRING_type(s), p,
	    (size_t)ossl.ASN1_STRING_length(s), t);
}

/* Whether one of the extensions of `obj` (counted and got by `count`, `get`) is critical. */
#define STAPLE_ANY_CRITICAL(obj, count, get) __extension__ ({ \
	int critical_ = 0, n_ = ossl.count(obj); \
	for (int i_ = 0; i_ < n_ && !critical_; i_++) \
		critical_ = ossl.X509_EXTENSION_get_critical( \
		    ossl.get(obj, i_)) > 0; \
	critical_; })

/* Copy an OCTET STRING or INTEGER's bytes; 0 when it does not fit. */
static int
staple_copy(unsigned char *dst, unsigned char *len, size_t max,
    const ASN1_STRING *s)
{
	int n = ossl.ASN1_STRING_length(s);

	if (n <= 0 || (size_t)n > max)
		return 0;
	memcpy(dst, ossl.ASN1_STRING_get0_data(s), n);
	*len = (unsigned char)n;
	return 1;
}

/*
 * Fill `e` from one SingleResponse; 0 when it names no certificate this
 * library can match. Unreadable times and critical extensions are flags.
 */
static int
staple_entry_fill(struct staple_entry *e, OCSP_SINGLERESP *single)
{
	ASN1_OCTET_STRING *name_hash, *key_hash;
	ASN1_GENERALIZEDTIME *revoked, *this_update, *next_update;
	ASN1_OBJECT *md;
	ASN1_INTEGER *serial;
	unsigned char key_len;
	int reason;

	if (!ossl.OCSP_id_get0_info(&name_hash, &md, &key_hash, &serial,
	    (OCSP_CERTID *)staple_single_id(single)))
		return 0;
	e->md_nid = ossl.OBJ_obj2nid(md);
	if (staple_md(e->md_nid) == NULL ||
	    !staple_copy(e->name_hash, &e->hash_len, STAPLE_HASH_MAX, name_hash) ||
	    !staple_copy(e->key_hash, &key_len, STAPLE_HASH_MAX, key_hash) ||
	    key_len != e->hash_len ||
	    !staple_copy(e->serial, &e->serial_len, STAPLE_SERIAL_MAX, serial))
		return 0;
	e->serial_neg = ossl.ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER;
	e->cert_status = ossl.OCSP_single_get0_status(single, &reason, &revoked,
	    &this_update, &next_update);
	if (e->cert_status < 0)
		return 0;
	if (!staple_asn1_time(this_update, &e->this_update))
		e->flags |= STAPLE_ENTRY_BADTIME;
	if (next_update != NULL) {
		e->flags |= STAPLE_ENTRY_NEXT;
		if (!staple_asn1_time(next_update, &e->next_update))
			e->flags |= STAPLE_ENTRY_BADTIME;
		/* an order only between two readable times */
		else if (!(e->flags & STAPLE_ENTRY_BADTIME) &&
		    e->next_update < e->this_update)
			e->flags |= STAPLE_ENTRY_BACKWARDS;
	}
	if (STAPLE_ANY_CRITICAL(single, OCSP_SINGLERESP_get_ext_count,
	    OCSP_SINGLERESP_get_ext))
		e->flags |= STAPLE_ENTRY_CRITICAL;
	return 1;
}

/* The SingleResponses of `bs` with a usable CertID; 0 when there is none. */
static int
staple_parse_basic(OCSP_BASICRESP *bs, struct staple_entry **entries, size_t *n)
{
	int count = ossl.OCSP_resp_count(bs);

	if (count <= 0 || (*entries = calloc(count, sizeof(**entries))) == NULL)
		return 0;
	for (int i = 0; i < count; i++)
		if (staple_entry_fill(&(*entries)[*n], ossl.OCSP_resp_get0(bs, i)))
			(*n)++;
	if (*n == 0) {
		free(*entries);
		*entries = NULL;
	}
	return *n > 0;
}

OCSP_BASICRESP *
staple_basic(const unsigned char *der, size_t len, const char **why)
{
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs = NULL;
	const unsigned char *p = der;

	*why = NULL;
	resp = ossl.d2i_OCSP_RESPONSE(NULL, &p, (long)len);
	if (resp == NULL || p != der + len)
		*why = "not a DER OCSP response";
	else if (ossl.OCSP_response_status(resp) != OCSP_RESPONSE_STATUS_SUCCESSFUL)
		*why = "response status is not successful";
	else if ((bs = ossl.OCSP_response_get1_basic(resp)) == NULL)
		*why = "not a basic OCSP response";
	else if (STAPLE_ANY_CRITICAL(bs, OCSP_BASICRESP_get_ext_count,
	    OCSP_BASICRESP_get_ext))
		*why = "a critical responseExtension it does not understand";
	ossl.OCSP_RESPONSE_free(resp);
	if (*why != NULL) {
		ossl.OCSP_BASICRESP_free(bs);
		bs = NULL;
	}
	return bs;
}

int
staple_entries(OCSP_BASICRESP *bs, struct staple_entry **entries, size_t *n,
    const char **why)
{
	*entries = NULL;
	*n = 0;
	*why = NULL;
	if (!staple_parse_basic(bs, entries, n))
		*why = "no usable SingleResponse";
	return *why == NULL;
}

int
staple_parse(const unsigned char *der, size_t len,
    struct staple_entry **entries, size_t *n, const char **why)
{
	OCSP_BASICRESP *bs;

	*why = NULL;
	/* the fast reader for strict DER; OpenSSL for the rest, and for why */
	if (staple_der_parse(der, len, entries, n))
		return 1;
	ossl.ERR_set_mark();
	if ((bs = staple_basic(der, len, why)) != NULL)
		staple_entries(bs, entries, n, why);
	ossl.OCSP_BASICRESP_free(bs);
	ossl.ERR_pop_to_mark();
	return *why == NULL;
}

struct staple_file *
staple_file_parse(const char *name, unsigned char *der, size_t len,
    const char **why)
{
	struct staple_file *f;

	if ((f = calloc(1, sizeof(*f))) == NULL || (f->name = strdup(name)) == NULL) {
		free(f);
		free(der);
		return NULL;
	}
	f->refs = 1;
	f->der = der;
	f->der_len = len;
	if (staple_parse(der, len, &f->entries, &f->nentries, why))
		for (size_t i = 0; i < f->nentries; i++)
			f->entries[i].file = f;
	return f;
}

void
staple_file_hold(struct staple_file *f)
{
	__atomic_add_fetch(&f->refs, 1, __ATOMIC_RELAXED);
}

void
staple_file_release(struct staple_file *f)
{
	if (f == NULL || __atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	free(f->entries);
	free(f->der);
	free(f->name);
	free(__atomic_load_n(&f->why, __ATOMIC_ACQUIRE));
	free(f);
}

void
staple_certid_init(struct staple_certid *id, X509 *leaf, X509 *issuer)
{
	const ASN1_INTEGER *sn = ossl.X509_get0_serialNumber(leaf);

	memset(id, 0, sizeof(*id));
	id->leaf = leaf;
	id->issuer = issuer;
	id->serial = ossl.ASN1_STRING_get0_data(sn);
	id->serial_len = ossl.ASN1_STRING_length(sn);
	id->serial_neg = ossl.ASN1_STRING_type(sn) == V_ASN1_NEG_INTEGER;
}

enum { HASH_TODO, HASH_DONE, HASH_FAILED };

/* The leaf's CertID hashes under `nid`, computed once; slot index or -1. */
static int
staple_certid_hash(struct staple_certid *id, int nid)
{
	const EVP_MD *md = staple_md(nid);
	unsigned int klen;
	int i;

	for (i = 0; i < STAPLE_MD_MAX && md_table[i].nid != nid; i++)
		;
	if (md == NULL || i == STAPLE_MD_MAX || id->issuer == NULL)
		return -1;
	if (id->state[i] == HASH_TODO) {
		id->state[i] = HASH_FAILED;
		if (ossl.X509_NAME_digest(ossl.X509_get_issuer_name(id->leaf),
		    md, id->name_hash[i], &id->len[i]) &&
		    ossl.X509_pubkey_digest(id->issuer, md, id->key_hash[i],
		    &klen) && klen == id->len[i])
			id->state[i] = HASH_DONE;
	}
	return id->state[i] == HASH_DONE ? i : -1;
}

int
staple_certid_match(struct staple_certid *id, const struct staple_entry *e)
{
	int i;

	if (e->serial_len != id->serial_len || e->serial_neg != id->serial_neg ||
	    memcmp(e->serial, id->serial, id->serial_len) != 0 ||
	    (i = staple_certid_hash(id, e->md_nid)) < 0)
		return 0;
	return id->len[i] == e->hash_len &&
	    memcmp(id->name_hash[i], e->name_hash, e->hash_len) == 0 &&
	    memcmp(id->key_hash[i], e->key_hash, e->hash_len) == 0;
}

int
staple_entry_when(const struct staple_entry *e, time_t now, long grace)
{
	if (e->flags & (STAPLE_ENTRY_BADTIME | STAPLE_ENTRY_BACKWARDS))
		return STAPLE_BADTIME;
	return staple_time_when(e->this_update, staple_entry_end(e), now,
	    staple_conf.clock_skew, e->flags & STAPLE_ENTRY_NEXT ? grace : 1);
}

time_t
staple_entry_end(const struct staple_entry *e)
{
	return e->flags & STAPLE_ENTRY_NEXT ? e->next_update :
	    staple_time_add(e->this_update, staple_conf.max_age);
}

int
staple_cert_name(X509 *leaf, X509 *issuer, const char *ext, char *buf,
    size_t size)
{
	unsigned char key[EVP_MAX_MD_SIZE];
	const ASN1_INTEGER *sn = ossl.X509_get0_serialNumber(leaf);
	const unsigned char *p = ossl.ASN1_STRING_get0_data(sn);
	unsigned int len = 0;
	int slen = ossl.ASN1_STRING_length(sn);
	size_t n = 0;

	if (!ossl.X509_pubkey_digest(issuer, ossl.EVP_sha1(), key, &len) ||
	    len < 8 || slen < 0 || p == NULL ||
	    size < 16 + 4 + 2 * (size_t)slen + strlen(ext) + 1)
		return 0;
	for (int i = 0; i < 8; i++)
		n += snprintf(buf + n, size - n, "%02x", key[i]);
	n += snprintf(buf + n, size - n, "-%s",
	    ossl.ASN1_STRING_type(sn) == V_ASN1_NEG_INTEGER ? "neg" : "");
	for (int i = 0; i < slen; i++)
		n += snprintf(buf + n, size - n, "%02x", p[i]);
	snprintf(buf + n, size - n, "%s", ext);
	return 1;
}
