/*
 * signer.c - the signer of an OCSP response: found by its ResponderID,
 * authorised by the certificate's issuer, strong enough, and the signature
 * checked last.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "compat.h"
#include "signer.h"
#include "staple.h"

/* Minimum security bits per level (x509_vfy.c's table for auth_level). */
static const int level_bits[] = { 0, 80, 112, 128, 192, 256 };

int
staple_judge_allows(const struct staple_judge *j, int bits)
{
	int level = j->level < 0 ? 0 : j->level > 5 ? 5 : j->level;

	return bits >= level_bits[level];
}

/* Refuse with a formatted reason. */
__attribute__((format(printf, 2, 3))) static int
staple_refuse(struct staple_judge *j, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(j->buf, sizeof(j->buf), fmt, ap);
	va_end(ap);
	j->why = j->buf;
	return 0;
}

/* Whether `x` is the certificate the ResponderID names (by name or key hash). */
static int
staple_signer_named(X509 *x, const ASN1_OCTET_STRING *key,
    const X509_NAME *name)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (name != NULL)
		return ossl.X509_NAME_cmp(ossl.X509_get_subject_name(x), name) == 0;
	return key != NULL && ossl.ASN1_STRING_length(key) == 20 &&
	    ossl.X509_pubkey_digest(x, ossl.EVP_sha1(), md, &len) && len == 20 &&
	    memcmp(md, ossl.ASN1_STRING_get0_data(key), 20) == 0;
}

/* The certificate the ResponderID names: the issuer, or one the response carries. */
static X509 *
staple_signer_find(OCSP_BASICRESP *bs, X509 *issuer)
{
	const ASN1_OCTET_STRING *key = NULL;
	const X509_NAME *name = NULL;
	const STACK_OF(X509) *certs;
	X509 *x;

	if (!staple_resp_id(bs, &key, &name))
		return NULL;
	if (staple_signer_named(issuer, key, name))
		return issuer;
	certs = staple_resp_certs(bs);
	for (int i = 0; certs != NULL &&
	    i < ossl.OPENSSL_sk_num((const OPENSSL_STACK *)certs); i++) {
		x = ossl.OPENSSL_sk_value((const OPENSSL_STACK *)certs, i);
		if (staple_signer_named(x, key, name))
			return x;
	}
	return NULL;
}

/* Whether certificate `x` is valid at j->now; its notAfter in *until. */
static int
staple_signer_current(X509 *x, struct staple_judge *j, time_t *until)
{
	time_t from;

	if (!staple_asn1_time(staple_x509_not_before(x), &from) ||
	    !staple_asn1_time(staple_x509_not_after(x), until))
		return staple_refuse(j, "the responder certificate has an"
		    " unreadable validity");
	if (j->flags & X509_V_FLAG_NO_CHECK_TIME)
		return 1;
	if (j->now < from)
		return staple_refuse(j, "the responder certificate is not yet"
		    " valid");
	if (j->now > *until)
		return staple_refuse(j, "the responder certificate has expired");
	return 1;
}

/*
 * Whether the issuer authorised responder `x` (RFC 6960 4.2.2.2): issued
 * and signed by it, OCSPSigning, digitalSignature if it has a keyUsage,
 * nothing critical it cannot handle, current, and signed strongly enough.
 */
static int
staple_signer_delegated(X509 *x, struct staple_judge *j, time_t *until)
{
	uint32_t flags;
	int bits, md;

	if (ossl.X509_check_issued(j->issuer, x) != X509_V_OK ||
	    ossl.X509_verify(x, staple_x509_key(j->issuer)) <= 0)
		return staple_refuse(j, "signer not authorised: not a"
		    " certificate the issuer signed");
	flags = staple_x509_flags(x);
	if (!(flags & EXFLAG_XKUSAGE) ||
	    !(staple_x509_ext_key_usage(x) & XKU_OCSP_SIGN))
		return staple_refuse(j, "signer not authorised: the responder"
		    " certificate lacks the OCSPSigning extended key usage");
	if ((flags & EXFLAG_KUSAGE) &&
	    !(staple_x509_key_usage(x) & KU_DIGITAL_SIGNATURE))
		return staple_refuse(j, "signer not authorised: the responder"
		    " certificate's keyUsage lacks digitalSignature");
	if ((flags & EXFLAG_CRITICAL) &&
	    !(j->flags & X509_V_FLAG_IGNORE_CRITICAL))
		return staple_refuse(j, "the responder certificate has a critical"
		    " extension it does not understand");
	bits = staple_cert_sig_security_bits(x, &md);
	if (bits >= 0 && !staple_judge_allows(j, bits))
		return staple_refuse(j, "the responder certificate is signed"
		    " with %s, too weak for security level %d",
		    ossl.OBJ_nid2sn(md), j->level);
	return staple_signer_current(x, j, until);
}

/* Whether the signer's key and the response's signature digest are strong enough. */
static int
staple_signer_strong(OCSP_BASICRESP *bs, X509 *signer, struct staple_judge *j)
{
	const X509_ALGOR *alg = staple_resp_sigalg(bs);
	EVP_PKEY *key = staple_x509_key(signer);
	const ASN1_OBJECT *oid = NULL;
	int bits, md;

	if (key == NULL || alg == NULL)
		return staple_refuse(j, "the signer's key or algorithm is"
		    " unreadable");
	bits = staple_pkey_security_bits(key);
	if (!staple_judge_allows(j, bits))
		return staple_refuse(j, "the signer's key (%s, %d bits) is too"
		    " weak for security level %d", staple_pkey_name(key),
		    ossl.EVP_PKEY_get_bits(key), j->level);
	ossl.X509_ALGOR_get0(&oid, NULL, NULL, alg);
	bits = staple_sig_security_bits(ossl.OBJ_obj2nid(oid), &md);
	if (bits >= 0 && !staple_judge_allows(j, bits))
		return staple_refuse(j, "the response is signed with %s, too"
		    " weak for security level %d", ossl.OBJ_nid2sn(md), j->level);
	return 1;
}

/* An empty store: OCSP_basic_verify wants one even when it builds no chain. */
static X509_STORE *empty_store;
static pthread_once_t empty_once = PTHREAD_ONCE_INIT;

static void
staple_empty_store(void)
{
	empty_store = ossl.X509_STORE_new();
}

/* Whether `signer`'s key verifies the response's signature (and only that). */
static int
staple_signature_ok(OCSP_BASICRESP *bs, X509 *signer)
{
	OPENSSL_STACK *certs = ossl.OPENSSL_sk_new_null();
	int ok;

	pthread_once(&empty_once, staple_empty_store);
	ok = certs != NULL && empty_store != NULL &&
	    ossl.OPENSSL_sk_push(certs, signer) > 0 &&
	    ossl.OCSP_basic_verify(bs, (STACK_OF(X509) *)certs, empty_store,
	    OCSP_NOINTERN | OCSP_NOVERIFY) > 0;
	ossl.OPENSSL_sk_free(certs);
	return ok;
}

int
staple_signer_verify(OCSP_BASICRESP *bs, struct staple_judge *j, time_t *until)
{
	X509 *signer;

	j->why = NULL;
	if (j->issuer == NULL)
		return staple_refuse(j, "the certificate's issuer is unknown");
	if ((signer = staple_signer_find(bs, j->issuer)) == NULL)
		return staple_refuse(j, "no certificate matches the responder ID"
		    " (signer not found)");
	if (signer == j->issuer || ossl.EVP_PKEY_eq(staple_x509_key(signer),
	    staple_x509_key(j->issuer)) == 1) {
		/* the issuer's own key: the program's chain check vouched for it */
		if (!staple_asn1_time(staple_x509_not_after(j->issuer), until))
			return staple_refuse(j, "the issuer has an unreadable"
			    " notAfter");
	} else if (!staple_signer_delegated(signer, j, until)) {
		return 0;
	}
	if (!staple_signer_strong(bs, signer, j))
		return 0;
	if (!staple_signature_ok(bs, signer))
		return staple_refuse(j, "bad signature");
	return 1;
}
