/*
 * issuers.c - a small append-only pool of issuer certificates.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "config.h"
#include "issuers.h"
#include "log.h"
#include "staple.h"

/* Enough for every intermediate of a large hosting box; more are logged. */
#define POOL_MAX 512
#define SHA1_LEN STAPLE_SHA1_LEN

/* An issuer's subject name and key hashed with one CertID digest. */
struct staple_issuer_md {
	unsigned int len;	/* 0: not computed */
	unsigned char name[EVP_MAX_MD_SIZE], key[EVP_MAX_MD_SIZE];
};

static struct {
	X509 *x;
	unsigned char name_sha1[SHA1_LEN], key_sha1[SHA1_LEN];
	/*
	 * The same under every CertID digest (staple_md_nth's slots), made
	 * when added: a staple's issuer is looked up per staple, its hashes
	 * are made once per issuer. NULL: made at each lookup instead.
	 */
	struct staple_issuer_md *md;
} pool[POOL_MAX];
static int pool_count;		/* atomic: entries below it never change */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

/* The issuer found for a leaf, by the leaf's fingerprint: a miss costs a scan. */
#define FOUND_SLOTS 64
static struct {
	unsigned char fp[SHA1_LEN];
	int index;		/* pool index + 1; 0: empty */
} found[FOUND_SLOTS];

/* `x`'s subject name and key hashed with `md`; 0 on failure. */
static int
staple_issuer_hashes(X509 *x, const EVP_MD *md, unsigned char *name,
    unsigned char *key, unsigned int *len)
{
	unsigned int klen = 0;

	return ossl.X509_NAME_digest(ossl.X509_get_subject_name(x), md, name,
	    len) && ossl.X509_pubkey_digest(x, md, key, &klen) && klen == *len;
}

/* `x`'s hashes under every CertID digest available, or NULL. */
static struct staple_issuer_md *
staple_issuer_mds(X509 *x)
{
	struct staple_issuer_md *h = calloc(STAPLE_MD_MAX, sizeof(*h));
	const EVP_MD *md;
	int nid;

	for (int i = 0; h != NULL && i < STAPLE_MD_MAX; i++)
		if ((md = staple_md_nth(i, &nid)) == NULL ||
		    !staple_issuer_hashes(x, md, h[i].name, h[i].key, &h[i].len))
			h[i].len = 0;
	return h;
}

void
staple_issuers_add(X509 *x)
{
	unsigned char name[SHA1_LEN], key[SHA1_LEN];
	struct staple_issuer_md *mds;
	unsigned int len = 0;
	int n, known = 0;

	if (x == NULL || !staple_issuer_hashes(x, ossl.EVP_sha1(), name, key,
	    &len) || len != SHA1_LEN || !staple_x509_up_ref(x))
		return;
	mds = staple_issuer_mds(x);	/* before the lock: it calls OpenSSL */
	pthread_mutex_lock(&pool_lock);
	n = pool_count;
	for (int i = 0; i < n && !known; i++)
		known = memcmp(pool[i].name_sha1, name, SHA1_LEN) == 0 &&
		    memcmp(pool[i].key_sha1, key, SHA1_LEN) == 0;
	if (!known && n < POOL_MAX) {
		pool[n].x = x;
		memcpy(pool[n].name_sha1, name, SHA1_LEN);
		memcpy(pool[n].key_sha1, key, SHA1_LEN);
		pool[n].md = mds;
		__atomic_store_n(&pool_count, n + 1, __ATOMIC_RELEASE);
		x = NULL;	/* the pool keeps the reference */
		mds = NULL;
	}
	pthread_mutex_unlock(&pool_lock);
	ossl.X509_free(x);
	free(mds);
	if (!known && n == POOL_MAX && staple_log_once(0x15500e75, 86400))
		staple_log(STAPLE_WARN, "more than %d issuer certificates;"
		    " the rest are not used", POOL_MAX);
}

void
staple_issuers_add_chain(STACK_OF(X509) *chain)
{
	for (int i = 0; chain != NULL &&
	    i < ossl.OPENSSL_sk_num((OPENSSL_STACK *)chain); i++)
		staple_issuers_add(ossl.OPENSSL_sk_value((OPENSSL_STACK *)chain, i));
}

static void
staple_issuers_read(void)
{
	BIO *in;
	X509 *x;
	int n = 0;

	if (staple_conf.issuers[0] == '\0')
		return;
	ossl.ERR_set_mark();
	if ((in = ossl.BIO_new_file(staple_conf.issuers, "r")) != NULL) {
		while ((x = ossl.PEM_read_bio_X509(in, NULL, NULL, NULL)) != NULL) {
			staple_issuers_add(x);
			ossl.X509_free(x);
			n++;
		}
		ossl.BIO_free(in);
	}
	ossl.ERR_pop_to_mark();
	if (n == 0)
		staple_log(STAPLE_ERROR, "issuers %s: no PEM certificate can be"
		    " read", staple_conf.issuers);
}

void
staple_issuers_load(void)
{
	pthread_once(&load_once, staple_issuers_read);
}

int
staple_issued(X509 *x, X509 *leaf)
{
	return ossl.X509_check_issued(x, leaf) == X509_V_OK &&
	    ossl.X509_verify(leaf, staple_x509_key(x)) > 0;
}

X509 *
staple_issuers_find(X509 *leaf)
{
	unsigned char fp[SHA1_LEN];
	int n, index = 0, known;
	size_t slot = 0;

	staple_issuers_load();
	n = __atomic_load_n(&pool_count, __ATOMIC_ACQUIRE);
	if ((known = staple_x509_sha1(leaf, fp))) {
		slot = staple_hash(STAPLE_HASH_INIT, fp, SHA1_LEN) % FOUND_SLOTS;
		pthread_mutex_lock(&pool_lock);
		if (memcmp(found[slot].fp, fp, SHA1_LEN) == 0)
			index = found[slot].index;
		pthread_mutex_unlock(&pool_lock);
		if (index > 0)
			return pool[index - 1].x;
	}
	for (int i = 0; i < n; i++) {
		if (!staple_issued(pool[i].x, leaf))
			continue;
		if (known) {
			pthread_mutex_lock(&pool_lock);
			memcpy(found[slot].fp, fp, SHA1_LEN);
			found[slot].index = i + 1;
			pthread_mutex_unlock(&pool_lock);
		}
		return pool[i].x;
	}
	return NULL;
}

X509 *
staple_issuers_for(int md_nid, const unsigned char *name_hash,
    const unsigned char *key_hash, size_t len)
{
	unsigned char name[EVP_MAX_MD_SIZE], key[EVP_MAX_MD_SIZE];
	const struct staple_issuer_md *h;
	const EVP_MD *md;
	unsigned int mlen = 0;
	int n, slot, nid = 0;

	staple_issuers_load();
	n = __atomic_load_n(&pool_count, __ATOMIC_ACQUIRE);
	if (md_nid == NID_sha1 && len == SHA1_LEN) {
		for (int i = 0; i < n; i++)
			if (memcmp(pool[i].name_sha1, name_hash, len) == 0 &&
			    memcmp(pool[i].key_sha1, key_hash, len) == 0)
				return pool[i].x;
		return NULL;
	}
	if ((md = ossl.EVP_get_digestbyname(ossl.OBJ_nid2sn(md_nid))) == NULL)
		return NULL;
	for (slot = 0; slot < STAPLE_MD_MAX; slot++)
		if (staple_md_nth(slot, &nid) != NULL && nid == md_nid)
			break;
	for (int i = 0; i < n; i++) {
		h = pool[i].md && slot < STAPLE_MD_MAX && pool[i].md[slot].len ?
		    &pool[i].md[slot] : NULL;
		if (h != NULL ? h->len == len && memcmp(h->name, name_hash,
		    len) == 0 && memcmp(h->key, key_hash, len) == 0 :
		    staple_issuer_hashes(pool[i].x, md, name, key, &mlen) &&
		    mlen == len && memcmp(name, name_hash, len) == 0 &&
		    memcmp(key, key_hash, len) == 0)
			return pool[i].x;
	}
	return NULL;
}

unsigned
staple_issuers_generation(void)
{
	return (unsigned)__atomic_load_n(&pool_count, __ATOMIC_ACQUIRE);
}

void
staple_issuers_fork_prepare(void)
{
	pthread_mutex_lock(&pool_lock);
}

void
staple_issuers_fork_parent(void)
{
	pthread_mutex_unlock(&pool_lock);
}

void
staple_issuers_fork_child(void)
{
	pthread_mutex_unlock(&pool_lock);
}
