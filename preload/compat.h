/*
 * compat.h - the OpenSSL calls whose form differs between the versions
 * libstaple serves (1.0.2, 1.1.1, 3.x), each behind one function. Renames
 * with the same calling convention are the symbol table's business
 * (ossl.h, R()); everything else calls the table directly.
 *
 * Calls that need nothing here: CRYPTO_malloc takes an int size in 1.0.2
 * (libstaple's buffers are far below 2^31, and the x86-64 and aarch64
 * calling conventions pass it in the same register), CRYPTO_free takes one
 * argument there (the file and line passed besides are ignored).
 */
#ifndef STAPLE_COMPAT_H
#define STAPLE_COMPAT_H

#include <stdint.h>
#include <time.h>

#include "ossl.h"

/* A public key's type as a short name ("RSA", "EC"), for log lines. */
const char *staple_pkey_name(const EVP_PKEY *pkey);

/* A public key's security bits, as OpenSSL's security levels count them. */
int staple_pkey_security_bits(const EVP_PKEY *pkey);

/*
 * The security bits of a signature with algorithm `sig_nid` (an
 * X509_ALGOR's OID as a NID), counted as this OpenSSL's own certificate
 * check counts them (3.x: SHA-1 63, MD5 39; 1.x: the digest's size * 4);
 * -1 when unknown. *md_nid: the digest, NID_undef if none.
 */
int staple_sig_security_bits(int sig_nid, int *md_nid);

/* A certificate's signature security bits, per staple_sig_security_bits. */
int staple_cert_sig_security_bits(X509 *x, int *md_nid);

/*
 * The security level a connection's certificate check applies. 1.0.2 has
 * none: libstaple holds it to level 1 (no MD5, no key below 80 bits).
 */
int staple_security_level(SSL *s);

/* Whether `s` resumed a session. */
int staple_session_reused(SSL *s);

/*
 * The chain the program's verification built for the server (leaf first),
 * or NULL. 1.0.2 keeps none: libstaple's certificate-verify hook saves it
 * (staple_compat_keep_chain).
 */
STACK_OF(X509) *staple_verified_chain(SSL *s);

/* Save the chain `ctx` built for `s` (1.0.2 only; elsewhere a no-op). */
void staple_compat_keep_chain(SSL *s, X509_STORE_CTX *ctx);

/* A certificate's public key (borrowed), or NULL. */
EVP_PKEY *staple_x509_key(X509 *x);

/* Take a reference on `x`; 0 on failure. */
int staple_x509_up_ref(X509 *x);

/*
 * `x`'s SHA-1 fingerprint (OpenSSL caches it) into fp, STAPLE_SHA1_LEN
 * bytes: the one key of the tables that remember a certificate. 0 when
 * `x` is NULL or the digest fails; fp is then undefined.
 */
#define STAPLE_SHA1_LEN 20
int staple_x509_sha1(X509 *x, unsigned char *fp);

/* EXFLAG_*, and the keyUsage and extendedKeyUsage bits of `x`. */
uint32_t staple_x509_flags(X509 *x);
uint32_t staple_x509_key_usage(X509 *x);
uint32_t staple_x509_ext_key_usage(X509 *x);

/* A certificate's notBefore and notAfter. */
const ASN1_TIME *staple_x509_not_before(X509 *x);
const ASN1_TIME *staple_x509_not_after(X509 *x);

/* The verification time a parameter set holds (X509_V_FLAG_USE_CHECK_TIME). */
time_t staple_param_time(X509_VERIFY_PARAM *param);

/* A response's ResponderID (one of *key, *name set), its certificates and signature algorithm. */
int staple_resp_id(OCSP_BASICRESP *bs, const ASN1_OCTET_STRING **key,
    const X509_NAME **name);
const STACK_OF(X509) *staple_resp_certs(OCSP_BASICRESP *bs);
const X509_ALGOR *staple_resp_sigalg(OCSP_BASICRESP *bs);

/*
 * The leaf's TLS Feature extension (RFC 7633, 1.3.6.1.5.5.7.1.24), or
 * NULL; found by OID, since 1.0.2 has no NID for it.
 */
X509_EXTENSION *staple_x509_tls_feature(X509 *x);

/* A SingleResponse's CertID. */
const OCSP_CERTID *staple_single_id(OCSP_SINGLERESP *single);

/*
 * A new ex_data index for SSL objects or SSL_CTX objects, with `free_fn`
 * run on each object's value when it is freed; -1 on failure. Never index
 * 0 in 1.0.2, which SSL_get_app_data uses. SSL_dup copies every SSL value
 * after `dup_fn` (if any) had its say: a value that is freed needs one.
 */
int staple_ex_index_ssl(CRYPTO_EX_dup *dup_fn, CRYPTO_EX_free *free_fn);
int staple_ex_index_ctx(CRYPTO_EX_free *free_fn);

/* Set up what compat needs (the 1.0.2 chain slot); 0 on failure. */
int staple_compat_init(void);

#endif
