/*
 * verify.c - classify a stapled response: good, revoked, missing, invalid.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
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

/* What a verdict depends on besides the response bytes. */
#define FP_LEN STAPLE_SHA1_LEN
struct staple_key {
	unsigned char leaf[FP_LEN], issuer[FP_LEN];	/* SHA-1 fingerprints */
	uint64_t context;	/* security level and verification flags */
};

/*
 * Verdicts of staples whose signature checked out, so that repeated
 * connections to one server with one staple skip the parsing and the
 * public-key work. A verdict holds until the earliest moment one of the
 * entries it rests on, or the signer's certificate, expires (or a future
 * entry begins). Direct-mapped and small: a collision costs a verification.
 */
#define CACHE_SLOTS 64
static struct {
	struct staple_key key;
	unsigned char *der;
	size_t len;
	int verdict;			/* STAPLE_GOOD or STAPLE_REVOKED */
	time_t until;
} cache[CACHE_SLOTS];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t
staple_cache_slot(const struct staple_key *k, const unsigned char *der,
    size_t len)
{
	return staple_hash(staple_hash(STAPLE_HASH_INIT, k, sizeof(*k)), der,
	    len) % CACHE_SLOTS;
}

/* The cached verdict for this staple, or -1. */
static int
staple_cache_get(const struct staple_key *k, const unsigned char *der,
    size_t len, time_t now)
{
	size_t i = staple_cache_slot(k, der, len);
	int verdict = -1;

	pthread_mutex_lock(&cache_lock);
	if (cache[i].der != NULL && cache[i].len == len && now < cache[i].until &&
	    memcmp(&cache[i].key, k, sizeof(*k)) == 0 &&
	    memcmp(cache[i].der, der, len) == 0)
		verdict = cache[i].verdict;
	pthread_mutex_unlock(&cache_lock);
	return verdict;
}

static void
staple_cache_put(const struct staple_key *k, const unsigned char *der,
    size_t len, int verdict, time_t until)
{
	size_t i = staple_cache_slot(k, der, len);
	unsigned char *copy = malloc(len), *old;

	if (copy == NULL)
		return;
	memcpy(copy, der, len);
	pthread_mutex_lock(&cache_lock);
	old = cache[i].der;
	cache[i].key = *k;
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

/* The cache key for c; 0 when the verdict must not be cached. */
static int
staple_cache_key(const struct staple_check *c, struct staple_key *k)
{
	const struct staple_judge *j = &c->judge;
	uint64_t h = STAPLE_HASH_INIT;
	unsigned long flags = j->flags &
	    (X509_V_FLAG_NO_CHECK_TIME | X509_V_FLAG_IGNORE_CRITICAL);

	/* a verdict at a time the program chose is not one for now */
	if ((j->flags & X509_V_FLAG_USE_CHECK_TIME) || j->issuer == NULL)
		return 0;
	memset(k, 0, sizeof(*k));
	if (!staple_x509_sha1(c->leaf, k->leaf) ||
	    !staple_x509_sha1(j->issuer, k->issuer))
		return 0;
	h = staple_hash(h, &j->level, sizeof(j->level));
	k->context = staple_hash(h, &flags, sizeof(flags));
	return 1;
}

/* Lower *until to `t`. */
static void
staple_until(time_t *until, time_t t)
{
	if (t < *until)
		*until = t;
}

/*
 * The verdict of the SingleResponses about c->leaf, before the signature:
 * a revoked one wins outright; a good one must be current, readable and
 * free of critical extensions. *until: how long the verdict holds.
 */
static int
staple_verify_entries(const struct staple_entry *entries, size_t n,
    struct staple_check *c, time_t *until)
{
	int matched = 0, good = 0, unknown = 0, critical = 0;
	int expired = 0, future = 0, badtime = 0, backwards = 0;
	time_t now = c->judge.now;
	struct staple_certid id;

	staple_certid_init(&id, c->leaf, c->judge.issuer);
	for (size_t i = 0; i < n; i++) {
		const struct staple_entry *e = &entries[i];

		if (!staple_certid_match(&id, e))
			continue;
		matched = 1;
		/* a signed "revoked" is never outvoted, nor excused by its times */
		if (e->cert_status == V_OCSP_CERTSTATUS_REVOKED)
			return STAPLE_REVOKED;
		if (e->flags & STAPLE_ENTRY_CRITICAL) {
			critical = 1;
			continue;
		}
		switch (staple_entry_when(e, now, staple_conf.clock_skew)) {
		case STAPLE_BADTIME:
			badtime |= (e->flags & STAPLE_ENTRY_BADTIME) != 0;
			backwards |= (e->flags & STAPLE_ENTRY_BACKWARDS) != 0;
			continue;
		case STAPLE_EXPIRED:
			expired = 1;
			continue;
		case STAPLE_FUTURE:
			/* it may say otherwise once it begins */
			future = 1;
			staple_until(until, staple_time_add(e->this_update,
			    -(int64_t)staple_conf.clock_skew));
			continue;
		}
		good |= e->cert_status == V_OCSP_CERTSTATUS_GOOD;
		unknown |= e->cert_status == V_OCSP_CERTSTATUS_UNKNOWN;
		staple_until(until, staple_time_add(staple_entry_end(e),
		    e->flags & STAPLE_ENTRY_NEXT ? staple_conf.clock_skew : 0));
	}
	if (good)
		return STAPLE_GOOD;
	c->why = !matched ? "the response is about another certificate" :
	    unknown ? "status unknown" :
	    critical ? "a critical singleExtension it does not understand" :
	    badtime ? "an unreadable thisUpdate or nextUpdate" :
	    backwards ? "nextUpdate before thisUpdate" :
	    expired ? "expired" : future ? "not yet valid" : "unusable";
	return STAPLE_INVALID;
}

/* The verdict, from scratch: parse, match, then the signature. */
static int
staple_verify_fresh(const unsigned char *der, long len, struct staple_check *c,
    time_t *until)
{
	struct staple_entry *entries = NULL;
	OCSP_BASICRESP *bs;
	time_t signer_until;
	size_t n;
	int verdict = STAPLE_INVALID;

	if ((bs = staple_basic(der, len, &c->why)) == NULL ||
	    !staple_entries(bs, &entries, &n, &c->why))
		goto done;
	if (c->judge.issuer == NULL) {
		c->why = "the certificate's issuer is unknown";
		goto done;
	}
	if (c->unproven && ossl.X509_verify(c->leaf,
	    staple_x509_key(c->judge.issuer)) <= 0) {
		c->why = "the issuer the server sent did not sign its certificate";
		goto done;
	}
	if ((verdict = staple_verify_entries(entries, n, c, until)) ==
	    STAPLE_INVALID)
		goto done;
	if (!staple_signer_verify(bs, &c->judge, &signer_until)) {
		c->why = c->judge.why;
		verdict = STAPLE_INVALID;
		goto done;
	}
	staple_until(until, signer_until);
	staple_log(STAPLE_DEBUG, "staple signature verified");
done:
	free(entries);
	ossl.OCSP_BASICRESP_free(bs);
	return verdict;
}

int
staple_verify(const unsigned char *der, long len, struct staple_check *c)
{
	struct staple_key key;
	time_t until = staple_time_add(c->judge.now, staple_conf.max_age);
	int verdict, cacheable;

	c->why = NULL;
	if (der == NULL || len <= 0) {
		c->why = "no staple";
		return STAPLE_MISSING;
	}
	ossl.ERR_set_mark();
	cacheable = staple_cache_key(c, &key);
	if (cacheable && (verdict = staple_cache_get(&key, der, len,
	    c->judge.now)) >= 0) {
		staple_log(STAPLE_DEBUG, "staple verdict from cache");
	} else {
		verdict = staple_verify_fresh(der, len, c, &until);
		if (cacheable && verdict != STAPLE_INVALID)
			staple_cache_put(&key, der, len, verdict, until);
	}
	ossl.ERR_pop_to_mark();
	return verdict;
}

int
staple_must_staple(X509 *leaf)
{
	X509_EXTENSION *ext = staple_x509_tls_feature(leaf);
	const ASN1_OCTET_STRING *v = ext ? ossl.X509_EXTENSION_get_data(ext) : NULL;
	const unsigned char *p, *end;

	if (v == NULL)
		return 0;
	/* SEQUENCE OF INTEGER, short lengths: the features are small numbers */
	p = ossl.ASN1_STRING_get0_data(v);
	end = p + ossl.ASN1_STRING_length(v);
	if (end - p < 2 || p[0] != 0x30 || p[1] != end - p - 2)
		return 0;
	for (p += 2; end - p >= 3 && p[0] == 0x02 && p[1] <= end - p - 2;
	    p += 2 + p[1])
		if (p[1] == 1 && p[2] == 5)	/* 5: status_request */
			return 1;
	return 0;
}
