/*
 * crlstore.h - the client role's CRL directory (crl_dir): CRLs read once
 * per change, their signatures checked once per issuer key, and a leaf
 * looked up in the current ones that cover it.
 */
#ifndef STAPLE_CRLSTORE_H
#define STAPLE_CRLSTORE_H

#include <time.h>

#include "ossl.h"
#include "signer.h"

enum staple_crl_state {
	STAPLE_CRL_NONE,	/* no current CRL of the issuer covers the leaf */
	STAPLE_CRL_LISTED,	/* revoked: listed in one */
	STAPLE_CRL_CLEAR	/* covered and not listed */
};

struct staple_crl_answer {
	int state;
	time_t when;		/* LISTED: the revocationDate */
	int reason;		/* LISTED: CRLReason, -1 when none given */
	char file[64];		/* the CRL's file name, for log lines */
};

/*
 * Look `leaf`, issued by j->issuer, up in the CRLs of crl_dir, judged at
 * j->now with j->level: only a CRL that j->issuer signed (name and key),
 * current (clock_skew, crl_grace), for this leaf's distribution point when
 * it is partitioned, complete (no delta, indirect or onlySomeReasons CRL)
 * and free of critical extensions this code does not handle. Of several,
 * the newest. Each CRL that is unusable is logged once. The directory is
 * looked at no more than once per reload_interval. Thread-safe; holds no
 * lock while OpenSSL runs.
 */
void staple_crls_check(X509 *leaf, const struct staple_judge *j,
    struct staple_crl_answer *a);

#include <sys/types.h>

struct staple_crl;

/*
 * The CRL file open as `fd`, `size` bytes, read whole: its DER (a PEM "X509
 * CRL" block decoded) in a malloc()ed buffer, *len bytes (0: PEM without a
 * CRL), or NULL when it could not be read whole.
 */
unsigned char *staple_crl_read(int fd, off_t size, size_t *len);

/* Why a parsed CRL is no use for any certificate, or NULL. */
const char *staple_crl_unusable(const struct staple_crl *c);

/*
 * Whether `key` verifies the signature of the parsed CRL c (over its
 * TBSCertList bytes, with the algorithm it names; RSA PKCS#1 v1.5, ECDSA,
 * EdDSA): 1, or 0 with *why. *key_bits and *sig_bits: the security bits
 * of the key and of the signature's digest (-1: unknown), for a security
 * level to judge.
 */
int staple_crl_signature(const struct staple_crl *c, EVP_PKEY *key,
    int *key_bits, int *sig_bits, const char **why);

/* pthread_atfork handlers. */
void staple_crls_fork_prepare(void);
void staple_crls_fork_parent(void);
void staple_crls_fork_child(void);

#endif
