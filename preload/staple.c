/*
 * staple.c - OCSP responses as plain data: parse, match by CertID, time rules.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "config.h"
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
		NID_sha1, NID_sha256, NID_sha384, NID_sha512, NID_sha224
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

static const EVP_MD *
staple_md(int nid)
{
	for (int i = 0; i < STAPLE_MD_MAX; i++)
		if (md_table[i].nid == nid)
			return md_table[i].md;
	return NULL;
}

/* An ASN1_TIME as seconds since the epoch; 0 when absent or unreadable. */
static time_t
staple_time(const ASN1_GENERALIZEDTIME *t)
{
	struct tm tm;

	if (t == NULL || !ossl.ASN1_TIME_to_tm(t, &tm))
		return 0;
	return timegm(&tm);
}

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

/* Fill `e` from one SingleResponse; 0 when it cannot be used. */
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
	    (OCSP_CERTID *)ossl.OCSP_SINGLERESP_get0_id(single)))
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
	e->this_update = staple_time(this_update);
	e->next_update = staple_time(next_update);
	return e->cert_status >= 0 && e->this_update != 0;
}

/* The usable SingleResponses of `bs`; 0 when there is none. */
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

int
staple_parse(const unsigned char *der, size_t len,
    struct staple_entry **entries, size_t *n, const char **why)
{
	OCSP_RESPONSE *resp = NULL;
	OCSP_BASICRESP *bs = NULL;
	const unsigned char *p = der;

	*entries = NULL;
	*n = 0;
	*why = NULL;
	ossl.ERR_set_mark();
	resp = ossl.d2i_OCSP_RESPONSE(NULL, &p, (long)len);
	if (resp == NULL || p != der + len)
		*why = "not a DER OCSP response";
	else if (ossl.OCSP_response_status(resp) != OCSP_RESPONSE_STATUS_SUCCESSFUL)
		*why = "response status is not successful";
	else if ((bs = ossl.OCSP_response_get1_basic(resp)) == NULL)
		*why = "not a basic OCSP response";
	else if (!staple_parse_basic(bs, entries, n))
		*why = "no usable SingleResponse";
	ossl.OCSP_BASICRESP_free(bs);
	ossl.OCSP_RESPONSE_free(resp);
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
	const unsigned char *der;
	size_t derlen;
	unsigned int klen;
	int i;

	for (i = 0; i < STAPLE_MD_MAX && md_table[i].nid != nid; i++)
		;
	if (md == NULL || i == STAPLE_MD_MAX)
		return -1;
	if (id->state[i] == HASH_TODO) {
		id->state[i] = HASH_FAILED;
		if (ossl.X509_NAME_get0_der(ossl.X509_get_issuer_name(id->leaf),
		    &der, &derlen) &&
		    ossl.EVP_Digest(der, derlen, id->name_hash[i], &id->len[i],
		    md, NULL) &&
		    (id->issuer == NULL || (ossl.X509_pubkey_digest(id->issuer,
		    md, id->key_hash[i], &klen) && klen == id->len[i])))
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
	    (id->issuer == NULL ||
	    memcmp(id->key_hash[i], e->key_hash, e->hash_len) == 0);
}

int
staple_entry_when(const struct staple_entry *e, time_t now, long grace)
{
	if (e->this_update > now + staple_conf.clock_skew)
		return STAPLE_FUTURE;
	if (e->next_update != 0 ? now >= e->next_update + grace :
	    now - e->this_update > staple_conf.max_age)
		return STAPLE_EXPIRED;
	return STAPLE_CURRENT;
}
