/*
 * issuers.h - the issuer certificates this process knows: every chain
 * certificate a server context was given, and the ones the configuration
 * names (`issuers = FILE`, PEM). A staple's CertID is matched, and its
 * signature checked, against these when the chain a handshake sends does
 * not hold the issuer. They identify an issuer; they are not trust anchors.
 *
 * Append-only: a certificate added stays until exit, so pointers handed
 * out stay valid, and readers take no lock.
 */
#ifndef STAPLE_ISSUERS_H
#define STAPLE_ISSUERS_H

#include "ossl.h"

/* Load the configured file once (later calls do nothing). */
void staple_issuers_load(void);

/* Remember `x` (a new reference is taken) unless it is known already. */
void staple_issuers_add(X509 *x);

/* Remember every certificate of `chain` (NULL-safe). */
void staple_issuers_add_chain(STACK_OF(X509) *chain);

/*
 * Whether `x` issued `leaf`: names and key identifiers agree, and its key
 * signed it. The one "issued by" rule of the server, the client and
 * staplectl.
 */
int staple_issued(X509 *x, X509 *leaf);

/*
 * The known certificate that issued `leaf` (names and key identifiers agree
 * and its key signed the leaf), or NULL. Borrowed: valid until exit.
 */
X509 *staple_issuers_find(X509 *leaf);

/*
 * The known certificate whose subject name and key hash to `name_hash` and
 * `key_hash` under digest `md_nid` (a CertID's issuer), or NULL. Borrowed.
 */
X509 *staple_issuers_for(int md_nid, const unsigned char *name_hash,
    const unsigned char *key_hash, size_t len);

/* Counts additions: a staple whose issuer was unknown may be known now. */
unsigned staple_issuers_generation(void);

/* pthread_atfork handlers for the writers' lock. */
void staple_issuers_fork_prepare(void);
void staple_issuers_fork_parent(void);
void staple_issuers_fork_child(void);

#endif
