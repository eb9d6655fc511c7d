/*
 * verify.c - classify a stapled response: good, revoked, missing, invalid.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "staple.h"
#include "verify.h"

static const char *const verdict_names[] = {
	"good", "revoked", "missing", "invalid"
};

const char *
staple_verdict_name(int verdict)
{
	return verdict_names[verdict];
}

/*
 * Verdicts of staples whose signature checked out, so that repeated
 * connections to one server with one staple skip the parsing and the
 * public-key work. A verdict holds until the earliest moment one of the
 * entries it rests on expires (or a future one begins). Direct-mapped and
 * small: a collision only costs a verification.
 */
#define CACHE_SLOTS 64
#define FP_LEN 20
static struct {
	unsigned char fp[FP_LEN];	/* the leaf's SHA-1 fingerprint */
	const X509_STORE *store;
	unsigned char *der;
	size_t len;
	int verdict;			/* STAPLE_GOOD or STAPLE_REVOKED */
	time_t until;
} cache[CACHE_SLOTS];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t
staple_cache_slot(const unsigned char *fp, const unsigned char *der, size_t len)
{
	return staple_hash(staple_hash(STAPLE_HASH_INIT, fp, FP_LEN), der, len) %
	    CACHE_SLOTS;
}

/* The cached verdict for this staple, or -1. */
static int
staple_cache_get(const unsigned char *fp, const X509_STORE *store,
    const unsigned char *der, size_t len, time_t now)
{
	size_t i = staple_cache_slot(fp, der, len);
	int verdict = -1;

	pthread_mutex_lock(&cache_lock);
	if (cache[i].der != NULL && cache[i].store == store &&
	    cache[i].len == len && now < cache[i].until &&
	    memcmp(cache[i].fp, fp, FP_LEN) == 0 &&
	    memcmp(cache[i].der, der, len) == 0)
		verdict = cache[i].verdict;
	pthread_mutex_unlock(&cache_lock);
	return verdict;
}

static void
staple_cache_put(const unsigned char *fp, const X509_STORE *store,
    const unsigned char *der, size_t len, int verdict, time_t until)
{
	size_t i = staple_cache_slot(fp, der, len);
	unsigned char *copy = malloc(len), *old;

	if (copy == NULL)
		return;
	memcpy(copy, der, len);
	pthread_mutex_lock(&cache_lock);
	old = cache[i].der;
	memcpy(cache[i].fp, fp, FP_LEN);
	cache[i].store = store;
	cache[i].der = copy;
	cache[i].len = len;
	cache[i].verdict = verdict;
	cache[i].until = until;
	pthread_mutex_unlock(&cache_lock);
	free(old);
}

void
staple_verify_fork_prepare(void)
{
	pthread_mutex_lock(&cache_lock);
}

void
staple_verify_fork_parent(void)
{
	pthread_mutex_unlock(&cache_lock);
}

void
staple_verify_fork_child(void)
{
	pthread_mutex_unlock(&cache_lock);
}

/* The configured extra trust anchors (ca_file), loaded once; or NULL. */
static X509_STORE *extra_store;
static pthread_once_t extra_once = PTHREAD_ONCE_INIT;

static void
staple_extra_load(void)
{
	if (staple_conf.ca_file[0] == '\0' ||
	    (extra_store = ossl.X509_STORE_new()) == NULL)
		return;
	if (!ossl.X509_STORE_load_locations(extra_store, staple_conf.ca_file,
	    NULL)) {
		staple_log(STAPLE_ERROR, "ca_file %s: cannot load trust anchors",
		    staple_conf.ca_file);
		ossl.X509_STORE_free(extra_store);
		extra_store = NULL;
	}
}

/*
 * Whether the response is signed by someone the trust store vouches for and
 * who may speak for the CertID's issuer. Flags 0: never OCSP_TRUSTOTHER,
 * which would trust any certificate the server sent, its own leaf included.
 */
static int
staple_signature_ok(const unsigned char *der, long len, struct staple_check *c)
{
	const unsigned char *p = der;
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs = NULL;
	unsigned long err;
	int ok = 0;

	pthread_once(&extra_once, staple_extra_load);
	if ((resp = ossl.d2i_OCSP_RESPONSE(NULL, &p, len)) != NULL &&
	    (bs = ossl.OCSP_response_get1_basic(resp)) != NULL)
		ok = ossl.OCSP_basic_verify(bs, c->untrusted, c->store, 0) > 0 ||
		    (extra_store != NULL &&
		    ossl.OCSP_basic_verify(bs, c->untrusted, extra_store, 0) > 0);
	if (!ok) {
		err = ossl.ERR_peek_last_error();
		c->why = err ? ossl.ERR_reason_error_string(err) : NULL;
		if (c->why == NULL)
			c->why = "signature not trusted";
	}
	ossl.OCSP_BASICRESP_free(bs);
	ossl.OCSP_RESPONSE_free(resp);
	return ok;
}

/* The verdict of the SingleResponses about c->leaf; *until: cache lifetime. */
static int
staple_verify_entries(const struct staple_entry *entries, size_t n,
    struct staple_check *c, time_t *until)
{
	int matched = 0, revoked = 0, good = 0, unknown = 0, expired = 0;
	struct staple_certid id;
	time_t end;

	staple_certid_init(&id, c->leaf, c->issuer);
	for (size_t i = 0; i < n; i++) {
		const struct staple_entry *e = &entries[i];

		if (!staple_certid_match(&id, e))
			continue;
		matched = 1;
		switch (staple_entry_when(e, c->now, staple_conf.clock_skew)) {
		case STAPLE_EXPIRED:
			expired = 1;
			continue;
		case STAPLE_FUTURE:
			/* it may say otherwise once it begins */
			end = e->this_update - staple_conf.clock_skew;
			if (*until == 0 || end < *until)
				*until = end;
			continue;
		}
		revoked |= e->cert_status == V_OCSP_CERTSTATUS_REVOKED;
		good |= e->cert_status == V_OCSP_CERTSTATUS_GOOD;
		unknown |= e->cert_status == V_OCSP_CERTSTATUS_UNKNOWN;
		end = e->next_update ? e->next_update + staple_conf.clock_skew :
		    e->this_update + staple_conf.max_age;
		if (*until == 0 || end < *until)
			*until = end;
	}
	if (revoked)
		return STAPLE_REVOKED;
	if (good)
		return STAPLE_GOOD;
	c->why = !matched ? "the response is about another certificate" :
	    unknown ? "status unknown" : expired ? "expired" : "not yet valid";
	return STAPLE_INVALID;
}

int
staple_verify(const unsigned char *der, long len, struct staple_check *c)
{
	struct staple_entry *entries;
	unsigned char fp[EVP_MAX_MD_SIZE];
	unsigned int fplen = 0;
	time_t until = 0;
	size_t n;
	int verdict;

	c->why = NULL;
	if (der == NULL || len <= 0) {
		c->why = "no staple";
		return STAPLE_MISSING;
	}
	ossl.ERR_set_mark();
	if (!ossl.X509_digest(c->leaf, ossl.EVP_sha1(), fp, &fplen) ||
	    fplen != FP_LEN)
		fplen = 0;
	if (fplen && (verdict = staple_cache_get(fp, c->store, der, len,
	    c->now)) >= 0) {
		staple_log(STAPLE_DEBUG, "staple verdict from cache");
		goto done;
	}
	if (!staple_parse(der, len, &entries, &n, &c->why)) {
		verdict = STAPLE_INVALID;
		goto done;
	}
	verdict = staple_verify_entries(entries, n, c, &until);
	free(entries);
	if (verdict == STAPLE_INVALID)
		goto done;
	staple_log(STAPLE_DEBUG, "staple signature verified");
	if (!staple_signature_ok(der, len, c))
		verdict = STAPLE_INVALID;
	else if (fplen)
		staple_cache_put(fp, c->store, der, len, verdict, until);
done:
	ossl.ERR_pop_to_mark();
	return verdict;
}

int
staple_must_staple(X509 *leaf)
{
	STACK_OF(ASN1_INTEGER) *features;
	ASN1_INTEGER *feature;
	int must = 0, n;

	ossl.ERR_set_mark();
	features = ossl.X509_get_ext_d2i(leaf, NID_tlsfeature, NULL, NULL);
	n = features ? ossl.OPENSSL_sk_num((OPENSSL_STACK *)features) : 0;
	for (int i = 0; i < n; i++) {
		feature = ossl.OPENSSL_sk_value((OPENSSL_STACK *)features, i);
		/* 5: status_request (RFC 7633) */
		must |= ossl.ASN1_INTEGER_get(feature) == 5;
		ossl.ASN1_INTEGER_free(feature);
	}
	ossl.OPENSSL_sk_free((OPENSSL_STACK *)features);
	ossl.ERR_pop_to_mark();
	return must;
}
