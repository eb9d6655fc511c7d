/*
 * vet.c - verify a staple's signature before it is served.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "issuers.h"
#include "log.h"
#include "signer.h"
#include "vet.h"

/* The verdict word: the signer's notAfter << 2 | enum staple_sig. */
int
staple_entry_sig(const struct staple_entry *e, time_t *until)
{
	uint64_t v = __atomic_load_n(&e->vetted, __ATOMIC_ACQUIRE);

	*until = (time_t)(v >> 2);
	return (int)(v & 3);
}

static void
staple_entry_set(const struct staple_entry *e, int sig, time_t until)
{
	uint64_t v = (uint64_t)(until < 0 ? 0 : until) << 2 | (uint64_t)sig;

	/* entries are shared read-only, but for this one word */
	__atomic_store_n(&((struct staple_entry *)e)->vetted, v, __ATOMIC_RELEASE);
}

/*
 * Record why `f` failed (the first reason stays; `parse`: OpenSSL's parse
 * refused the file or read it otherwise) and log it once.
 */
static void
staple_vet_refuse(const struct staple_entry *e, const char *why, int parse,
    const char *label)
{
	struct staple_file *f = (struct staple_file *)e->file;
	char *copy = strdup(why), *none = NULL;
	uint64_t key;

	if (f != NULL && parse)
		__atomic_store_n(&f->unparsed, 1, __ATOMIC_RELEASE);
	if (f != NULL && copy != NULL &&
	    __atomic_compare_exchange_n(&f->why, &none, copy, 0,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		copy = NULL;
	free(copy);
	if (label == NULL)
		return;
	key = staple_hash(staple_hash(STAPLE_HASH_INIT, label, strlen(label)),
	    why, strlen(why));
	if (staple_log_once(key, staple_conf.log_interval))
		staple_log(STAPLE_WARN, "%s: %s; not served", label, why);
}

/* Whether OpenSSL's entries of the response hold one identical to `e`. */
static int
staple_vet_same(const struct staple_entry *e, const struct staple_entry *all,
    size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct staple_entry *o = &all[i];

		if (o->md_nid == e->md_nid && o->hash_len == e->hash_len &&
		    o->serial_len == e->serial_len &&
		    o->serial_neg == e->serial_neg && o->flags == e->flags &&
		    o->cert_status == e->cert_status &&
		    o->this_update == e->this_update &&
		    o->next_update == e->next_update &&
		    memcmp(o->name_hash, e->name_hash, e->hash_len) == 0 &&
		    memcmp(o->key_hash, e->key_hash, e->hash_len) == 0 &&
		    memcmp(o->serial, e->serial, e->serial_len) == 0)
			return 1;
	}
	return 0;
}

/*
 * Vet `e` against `issuer` with the parsed response `bs`; without an issuer,
 * only that OpenSSL reads the entry as the index did (else it stays unchecked).
 */
static int
staple_vet_with(const struct staple_entry *e, OCSP_BASICRESP *bs,
    const struct staple_entry *all, size_t n, X509 *issuer, const char *label)
{
	struct staple_judge j;
	time_t until = 0;

	if (!staple_vet_same(e, all, n)) {
		staple_entry_set(e, STAPLE_SIG_BAD, 0);
		staple_vet_refuse(e, "OpenSSL reads this response otherwise",
		    1, label);
		return STAPLE_SIG_BAD;
	}
	if (issuer == NULL)
		return STAPLE_SIG_UNCHECKED;
	memset(&j, 0, sizeof(j));
	j.issuer = issuer;
	j.now = time(NULL);
	j.level = (int)staple_conf.security_level;
	if (!staple_signer_verify(bs, &j, &until)) {
		staple_entry_set(e, STAPLE_SIG_BAD, 0);
		staple_vet_refuse(e, j.why, 0, label);
		return STAPLE_SIG_BAD;
	}
	staple_entry_set(e, STAPLE_SIG_OK, until);
	return STAPLE_SIG_OK;
}

/* The file's response as OpenSSL parses it, with its entries; NULL (logged) if none. */
static OCSP_BASICRESP *
staple_vet_parse(const struct staple_entry *e, struct staple_entry **all,
    size_t *n, const char *label)
{
	OCSP_BASICRESP *bs;
	const char *why = NULL;

	*all = NULL;
	*n = 0;
	if ((bs = staple_basic(e->file->der, e->file->der_len, &why)) == NULL ||
	    !staple_entries(bs, all, n, &why)) {
		ossl.OCSP_BASICRESP_free(bs);
		staple_entry_set(e, STAPLE_SIG_BAD, 0);
		staple_vet_refuse(e, why ? why : "not a response", 1, label);
		return NULL;
	}
	return bs;
}

int
staple_entry_vet(const struct staple_entry *e, X509 *issuer, const char *label)
{
	struct staple_entry *all;
	OCSP_BASICRESP *bs;
	time_t until;
	size_t n;
	int sig = staple_entry_sig(e, &until);

	if (sig != STAPLE_SIG_UNCHECKED || issuer == NULL || e->file == NULL)
		return sig;
	ossl.ERR_set_mark();
	if ((bs = staple_vet_parse(e, &all, &n, label)) != NULL)
		sig = staple_vet_with(e, bs, all, n, issuer, label);
	else
		sig = STAPLE_SIG_BAD;
	free(all);
	ossl.OCSP_BASICRESP_free(bs);
	ossl.ERR_pop_to_mark();
	return sig;
}

/* staple_file_vet and staple_file_vet_all: `all` parses every file. */
static void
staple_file_vet_some(struct staple_file *f, const char *label, int all)
{
	struct staple_entry *parsed = NULL;
	OCSP_BASICRESP *bs = NULL;
	time_t until;
	size_t n = 0;
	X509 *issuer;

	ossl.ERR_set_mark();
	for (size_t i = 0; i < f->nentries; i++) {
		const struct staple_entry *e = &f->entries[i];

		if (staple_entry_sig(e, &until) != STAPLE_SIG_UNCHECKED)
			continue;
		issuer = staple_issuers_for(e->md_nid, e->name_hash,
		    e->key_hash, e->hash_len);
		if (issuer == NULL && !all)
			continue;
		if (bs == NULL &&
		    (bs = staple_vet_parse(e, &parsed, &n, label)) == NULL) {
			/* OpenSSL refuses the file: every entry with it */
			for (size_t k = i + 1; all && k < f->nentries; k++)
				staple_entry_set(&f->entries[k], STAPLE_SIG_BAD, 0);
			break;
		}
		staple_vet_with(e, bs, parsed, n, issuer, label);
	}
	free(parsed);
	ossl.OCSP_BASICRESP_free(bs);
	ossl.ERR_pop_to_mark();
}

void
staple_file_vet(struct staple_file *f, const char *label)
{
	staple_file_vet_some(f, label, 0);
}

void
staple_file_vet_all(struct staple_file *f, const char *label)
{
	staple_file_vet_some(f, label, 1);
}

int
staple_entry_servable(const struct staple_entry *e, time_t now)
{
	time_t until;
	int sig = staple_entry_sig(e, &until);

	if ((e->flags & STAPLE_ENTRY_CRITICAL) || sig == STAPLE_SIG_BAD ||
	    (sig == STAPLE_SIG_OK && now > until))
		return STAPLE_BADTIME;
	return staple_entry_when(e, now, 0);
}
