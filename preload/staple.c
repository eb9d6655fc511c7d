/*
 * staple.c - turn one DER OCSP response into indexable entries.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "ossl.h"
#include "staple.h"

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
	if (e->md_nid == NID_undef ||
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

/* Index every usable SingleResponse of `bs` into f->entries. */
static void
staple_file_index(struct staple_file *f, OCSP_BASICRESP *bs)
{
	int n = ossl.OCSP_resp_count(bs);

	if (n <= 0 || (f->entries = calloc(n, sizeof(*f->entries))) == NULL)
		return;
	for (int i = 0; i < n; i++) {
		struct staple_entry *e = &f->entries[f->nentries];

		if (staple_entry_fill(e, ossl.OCSP_resp_get0(bs, i))) {
			e->file = f;
			f->nentries++;
		}
	}
}

struct staple_file *
staple_file_parse(const char *name, const char *label, unsigned char *der,
    size_t len)
{
	struct staple_file *f;
	OCSP_RESPONSE *resp = NULL;
	OCSP_BASICRESP *bs = NULL;
	const unsigned char *p = der;
	const char *why = NULL;
	int status;

	if ((f = calloc(1, sizeof(*f))) == NULL || (f->name = strdup(name)) == NULL) {
		free(f);
		free(der);
		return NULL;
	}
	f->refs = 1;
	f->der = der;
	f->der_len = len;

	/* Whatever fails here must not leave errors in the host's queue. */
	ossl.ERR_set_mark();
	resp = ossl.d2i_OCSP_RESPONSE(NULL, &p, (long)len);
	if (resp == NULL || p != der + len)
		why = "not a DER OCSP response";
	else if ((status = ossl.OCSP_response_status(resp)) !=
	    OCSP_RESPONSE_STATUS_SUCCESSFUL)
		why = "response status is not successful";
	else if ((bs = ossl.OCSP_response_get1_basic(resp)) == NULL)
		why = "not a basic OCSP response";
	else {
		staple_file_index(f, bs);
		if (f->nentries == 0)
			why = "no usable SingleResponse";
	}
	if (why != NULL)
		staple_log(STAPLE_WARN, "%s: %s; skipped", label, why);
	else
		staple_log(STAPLE_DEBUG, "%s: %zu certificate(s)", label,
		    f->nentries);
	ossl.OCSP_BASICRESP_free(bs);
	ossl.OCSP_RESPONSE_free(resp);
	ossl.ERR_pop_to_mark();
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
