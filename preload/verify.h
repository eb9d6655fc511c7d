/*
 * verify.h - the client role's verifier: what a stapled response says about
 * a certificate, checked the way RFC 6960 wants and curl's CVEs taught.
 */
#ifndef STAPLE_VERIFY_H
#define STAPLE_VERIFY_H

#include <time.h>

#include "ossl.h"

enum staple_verdict {
	STAPLE_GOOD,		/* a trusted, current response: good */
	STAPLE_REVOKED,		/* a trusted, current response: revoked */
	STAPLE_MISSING,		/* no staple */
	STAPLE_INVALID		/* anything else; `why` says what */
};

/* What a staple is checked against. */
struct staple_check {
	X509 *leaf;
	X509 *issuer;			/* the leaf's issuer; NULL if unknown */
	STACK_OF(X509) *untrusted;	/* the peer's chain: path building only */
	X509_STORE *store;		/* the program's trust store */
	time_t now;
	const char *why;		/* out: the reason, for log lines */
};

/*
 * Classify the DER response `der` (NULL or len <= 0: none) for c->leaf.
 * The signature must chain to c->store or to the configured extra anchors
 * and come from the issuer or its delegated OCSPSigning responder (never a
 * certificate trusted only because the server sent it). Any matching
 * current SingleResponse that says revoked wins; unknown is invalid.
 * Signature results are cached per (leaf, response, store) until the
 * response expires. Leaves OpenSSL's error queue as it found it.
 */
int staple_verify(const unsigned char *der, long len, struct staple_check *c);

/* The verdict's name, for log lines. */
const char *staple_verdict_name(int verdict);

/* Whether `leaf` carries the TLS Feature extension with status_request. */
int staple_must_staple(X509 *leaf);

/* pthread_atfork handlers: the cache lock must not be held across fork. */
void staple_verify_fork_prepare(void);
void staple_verify_fork_parent(void);
void staple_verify_fork_child(void);

#endif
