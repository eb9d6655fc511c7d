/*
 * signer.h - who signed an OCSP response, and whether they may speak for
 * the certificate's issuer (RFC 6960 4.2.2.2), judged with the security
 * level of the program's own TLS certificate check.
 *
 * Shared by the client role (a staple the server sent) and the server role
 * (a staple before it is served); neither holds a lock while calling it.
 */
#ifndef STAPLE_SIGNER_H
#define STAPLE_SIGNER_H

#include <time.h>

#include "ossl.h"

/* What a response's signature is judged by. */
struct staple_judge {
	X509 *issuer;		/* the certificate's issuer: the trust anchor */
	time_t now;		/* the verification time */
	unsigned long flags;	/* X509_V_FLAG_NO_CHECK_TIME, _IGNORE_CRITICAL */
	int level;		/* security level for keys and digests (0-5) */
	const char *why;	/* out: the reason for a refusal */
	char buf[160];		/* room for a reason with details */
};

/*
 * Whether `bs` is signed by j->issuer itself, or by a responder that
 * j->issuer issued and signed, with the OCSPSigning EKU, digitalSignature
 * when it has a keyUsage, no critical extension it cannot handle, valid at
 * j->now; with a key and digests that j->level allows. Never trusts a certificate only because it was sent.
 * Returns 1 and sets *until to the signer's notAfter, or 0 with j->why.
 */
int staple_signer_verify(OCSP_BASICRESP *bs, struct staple_judge *j,
    time_t *until);

/*
 * Whether a key or digest of `bits` security bits is strong enough at
 * j->level: the minimum libssl's own peer-chain check applies there
 * (X509_VERIFY_PARAM auth_level), which no security callback changes.
 */
int staple_judge_allows(const struct staple_judge *j, int bits);

#endif
