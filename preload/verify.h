/*
 * verify.h - the client role's verifier: what a stapled response says about
 * a certificate, checked the way RFC 6960 wants and curl's CVEs taught.
 */
#ifndef STAPLE_VERIFY_H
#define STAPLE_VERIFY_H

#include <time.h>

#include "ossl.h"
#include "signer.h"

enum staple_verdict {
	STAPLE_GOOD,		/* a trusted, current response: good */
	STAPLE_REVOKED,		/* a trusted response: revoked */
	STAPLE_MISSING,		/* no staple */
	STAPLE_INVALID		/* anything else; `why` says what */
};

/* What a staple is checked against. */
struct staple_check {
	X509 *leaf;
	struct staple_judge judge;	/* the issuer, time and security level */
	int unproven;			/* the issuer's key has yet to verify the leaf */
	const char *why;		/* out: the reason, for log lines */
};

/*
 * Classify the DER response `der` (NULL or len <= 0: none) for c->leaf,
 * issued by c->judge.issuer (NULL: invalid, a CertID is never matched
 * without its issuer key hash). The response must be signed as
 * staple_signer_verify() demands. Any matching SingleResponse that says
 * revoked wins, whatever its times or CertID hash; a good one counts only
 * when current, with readable times and no critical extension; unknown is
 * invalid. Verdicts are cached per (leaf, issuer, response, security
 * context) until an entry or the signer's certificate expires. With
 * c->unproven the issuer (one the server sent, whose names match) must
 * first have signed the leaf; a cached verdict says it did. Leaves
 * OpenSSL's error queue as it found it.
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
