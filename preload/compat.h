/*
 * compat.h - the OpenSSL calls whose name or form differs between the
 * versions libstaple serves, each behind one function. Everything else
 * calls the symbol table (ossl.h) directly.
 */
#ifndef STAPLE_COMPAT_H
#define STAPLE_COMPAT_H

#include "ossl.h"

/* A public key's type as a short name ("RSA", "EC"), for log lines. */
const char *staple_pkey_name(const EVP_PKEY *pkey);

/*
 * The security bits of a signature with algorithm `sig_nid` (an
 * X509_ALGOR's OID as a NID) made by `pkey`, counted as this OpenSSL's own
 * certificate check counts them (3.x: SHA-1 63, MD5 39; 1.1.1: the
 * digest's size * 4). *md_nid: the digest, NID_undef if none.
 */
int staple_sig_security_bits(int sig_nid, int *md_nid);

/* A certificate's signature security bits, per staple_sig_security_bits. */
int staple_cert_sig_security_bits(X509 *x, int *md_nid);

#endif
