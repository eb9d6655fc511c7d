/*
 * compat.c - one function per OpenSSL call that differs between versions.
 *
 * 1.1.1 and 3.x have accessor functions; 1.0.2 has public structs instead.
 * The legacy_* types mirror those structs as 1.0.2's headers declare them
 * (crypto/x509/x509.h, crypto/x509/x509_vfy.h, crypto/ocsp/ocsp.h), as far
 * as libstaple reads them: only leading members, which no build option of
 * 1.0.2 moves.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"

struct legacy_x509 {
	struct legacy_x509_cinf *cert_info;
	void *sig_alg, *signature;
	int valid, references;
	char *name;
	struct { void *sk; int dummy; } ex_data;
	long ex_pathlen, ex_pcpathlen;
	unsigned long ex_flags, ex_kusage, ex_xkusage;
};
struct legacy_x509_cinf {
	void *version, *serialNumber, *signature, *issuer;
	struct { ASN1_TIME *notBefore, *notAfter; } *validity;
};
struct legacy_verify_param {
	char *name;
	time_t check_time;
};
struct legacy_respid {
	int type;		/* V_OCSP_RESPID_NAME or _KEY */
	union { X509_NAME *byName; ASN1_OCTET_STRING *byKey; } value;
};
struct legacy_respdata {
	void *version;
	struct legacy_respid *responderId;
};
struct legacy_basicresp {
	struct legacy_respdata *tbsResponseData;
	X509_ALGOR *signatureAlgorithm;
	void *signature;
	STACK_OF(X509) *certs;
};
struct legacy_singleresp {
	OCSP_CERTID *certId;
};

#define LEGACY_LOCK_X509 3	/* CRYPTO_LOCK_X509 in 1.0.2's crypto.h */
#define LEGACY_GET_SESSION_REUSED 8	/* SSL_CTRL_GET_SESSION_REUSED */

static int chain_index = -1;	/* 1.0.2: SSL -> the verified chain */

const char *
staple_pkey_name(const EVP_PKEY *pkey)
{
	int id = ossl.EVP_PKEY_get_id(pkey);
	const char *name = ossl.OBJ_nid2sn(id);

	if (id == EVP_PKEY_RSA)
		return "RSA";
	if (id == EVP_PKEY_EC)
		return "EC";
	return name ? name : "unknown";
}

int
staple_pkey_security_bits(const EVP_PKEY *pkey)
{
	int bits = ossl.EVP_PKEY_get_bits(pkey), id;

	if (ossl.EVP_PKEY_get_security_bits != NULL)
		return ossl.EVP_PKEY_get_security_bits(pkey);
	/* 1.0.2: the table 1.1.1's BN_security_bits has, for factoring and DL keys */
	id = ossl.EVP_PKEY_get_id(pkey);
	if (id == EVP_PKEY_RSA || id == EVP_PKEY_DSA || id == EVP_PKEY_DH)
		return bits >= 15360 ? 256 : bits >= 7680 ? 192 :
		    bits >= 3072 ? 128 : bits >= 2048 ? 112 : bits >= 1024 ? 80 : 0;
	return bits / 2;
}

int
staple_sig_security_bits(int sig_nid, int *md_nid)
{
	int pk_nid = NID_undef, v3 = ossl.OpenSSL_version_num() >= 0x30000000UL;

	*md_nid = NID_undef;
	if (!ossl.OBJ_find_sigid_algs(sig_nid, md_nid, &pk_nid))
		return -1;
	switch (*md_nid) {
	case NID_undef:
		/* the digest is part of the algorithm (EdDSA) or its parameters */
		return pk_nid == NID_ED25519 ? 128 : pk_nid == NID_ED448 ? 224 : -1;
	case NID_md5:
		return v3 ? 39 : 64;
	case NID_sha1:
		return v3 ? 63 : 80;
	default:
		return ossl.EVP_MD_get_size(ossl.EVP_get_digestbyname(
		    ossl.OBJ_nid2sn(*md_nid))) * 4;
	}
}

int
staple_cert_sig_security_bits(X509 *x, int *md_nid)
{
	int pk_nid, bits;
	uint32_t flags;

	/* 1.1.1 and 3.x know RSA-PSS parameters too: ask them */
	if (ossl.X509_get_signature_info != NULL &&
	    ossl.X509_get_signature_info(x, md_nid, &pk_nid, &bits, &flags))
		return bits;
	return staple_sig_security_bits(ossl.X509_get_signature_nid(x), md_nid);
}

int
staple_security_level(SSL *s)
{
	return ossl.legacy ? 1 : ossl.SSL_get_security_level(s);
}

int
staple_session_reused(SSL *s)
{
	if (ossl.legacy)
		return ossl.SSL_ctrl(s, LEGACY_GET_SESSION_REUSED, 0, NULL) > 0;
	return ossl.SSL_session_reused(s);
}

STACK_OF(X509) *
staple_verified_chain(SSL *s)
{
	if (ossl.legacy)
		return chain_index < 0 ? NULL : ossl.SSL_get_ex_data(s, chain_index);
	return ossl.SSL_get0_verified_chain(s);
}

void
staple_compat_keep_chain(SSL *s, X509_STORE_CTX *ctx)
{
	STACK_OF(X509) *old;

	if (!ossl.legacy || chain_index < 0)
		return;
	old = ossl.SSL_get_ex_data(s, chain_index);
	if (!ossl.SSL_set_ex_data(s, chain_index, ossl.X509_STORE_CTX_get1_chain(ctx)))
		return;
	if (old != NULL)
		ossl.OPENSSL_sk_pop_free((OPENSSL_STACK *)old,
		    (void (*)(void *))ossl.X509_free);
}

/*
 * The dup callback of the 1.0.2 chain slot: SSL_dup copies every ex_data
 * pointer after calling this, so the copy gets its own stack (the same
 * certificates, one more reference each) or none, never the original's:
 * two SSL objects would free one stack.
 */
static int
staple_chain_dup(CRYPTO_EX_DATA *to, const CRYPTO_EX_DATA *from,
    void **from_d, int idx, long argl, void *argp)
{
	OPENSSL_STACK *copy = NULL;
	int i, n;

	(void)to, (void)from, (void)idx, (void)argl, (void)argp;
	if (*from_d == NULL || (copy = ossl.OPENSSL_sk_new_null()) == NULL)
		goto out;
	n = ossl.OPENSSL_sk_num(*from_d);
	for (i = 0; i < n; i++) {
		X509 *x = ossl.OPENSSL_sk_value(*from_d, i);

		if (!staple_x509_up_ref(x))
			break;
		if (!ossl.OPENSSL_sk_push(copy, x)) {
			ossl.X509_free(x);
			break;
		}
	}
	if (i < n) {
		ossl.OPENSSL_sk_pop_free(copy, (void (*)(void *))ossl.X509_free);
		copy = NULL;
	}
 out:
	*from_d = copy;
	return 1;
}

/* The free callback of the 1.0.2 chain slot. */
static void
staple_chain_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	if (ptr != NULL)
		ossl.OPENSSL_sk_pop_free(ptr, (void (*)(void *))ossl.X509_free);
}

EVP_PKEY *
staple_x509_key(X509 *x)
{
	EVP_PKEY *key;

	if (!ossl.legacy)
		return ossl.X509_get0_pubkey(x);
	/* 1.0.2 caches the key in the certificate: drop the reference it adds */
	if ((key = ossl.X509_get_pubkey(x)) != NULL)
		ossl.EVP_PKEY_free(key);
	return key;
}

int
staple_x509_up_ref(X509 *x)
{
	if (!ossl.legacy)
		return ossl.X509_up_ref(x);
	return ossl.CRYPTO_add_lock(&((struct legacy_x509 *)x)->references, 1,
	    LEGACY_LOCK_X509, __FILE__, __LINE__) > 1;
}

int
staple_x509_sha1(X509 *x, unsigned char *fp)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	/* into a buffer of the largest digest: X509_digest writes what it computes */
	if (x == NULL || !ossl.X509_digest(x, ossl.EVP_sha1(), md, &len) ||
	    len != STAPLE_SHA1_LEN)
		return 0;
	memcpy(fp, md, STAPLE_SHA1_LEN);
	return 1;
}

/* 1.0.2: the extension cache, filled (X509_check_purpose with -1 does only that). */
static struct legacy_x509 *
staple_legacy_x509(X509 *x)
{
	ossl.X509_check_purpose(x, -1, 0);
	return (struct legacy_x509 *)x;
}

uint32_t
staple_x509_flags(X509 *x)
{
	if (!ossl.legacy)
		return ossl.X509_get_extension_flags(x);
	return (uint32_t)staple_legacy_x509(x)->ex_flags;
}

uint32_t
staple_x509_key_usage(X509 *x)
{
	struct legacy_x509 *l;

	if (!ossl.legacy)
		return ossl.X509_get_key_usage(x);
	l = staple_legacy_x509(x);
	return l->ex_flags & EXFLAG_KUSAGE ? (uint32_t)l->ex_kusage : UINT32_MAX;
}

uint32_t
staple_x509_ext_key_usage(X509 *x)
{
	struct legacy_x509 *l;

	if (!ossl.legacy)
		return ossl.X509_get_extended_key_usage(x);
	l = staple_legacy_x509(x);
	return l->ex_flags & EXFLAG_XKUSAGE ? (uint32_t)l->ex_xkusage : UINT32_MAX;
}

const ASN1_TIME *
staple_x509_not_before(X509 *x)
{
	if (!ossl.legacy)
		return ossl.X509_get0_notBefore(x);
	return ((struct legacy_x509 *)x)->cert_info->validity->notBefore;
}

const ASN1_TIME *
staple_x509_not_after(X509 *x)
{
	if (!ossl.legacy)
		return ossl.X509_get0_notAfter(x);
	return ((struct legacy_x509 *)x)->cert_info->validity->notAfter;
}

time_t
staple_param_time(X509_VERIFY_PARAM *param)
{
	if (!ossl.legacy)
		return ossl.X509_VERIFY_PARAM_get_time(param);
	return ((struct legacy_verify_param *)param)->check_time;
}

int
staple_resp_id(OCSP_BASICRESP *bs, const ASN1_OCTET_STRING **key,
    const X509_NAME **name)
{
	struct legacy_respid *rid;

	*key = NULL;
	*name = NULL;
	if (!ossl.legacy)
		return ossl.OCSP_resp_get0_id(bs, key, name);
	rid = ((struct legacy_basicresp *)bs)->tbsResponseData->responderId;
	if (rid->type == V_OCSP_RESPID_NAME)
		*name = rid->value.byName;
	else if (rid->type == V_OCSP_RESPID_KEY)
		*key = rid->value.byKey;
	return *key != NULL || *name != NULL;
}

const STACK_OF(X509) *
staple_resp_certs(OCSP_BASICRESP *bs)
{
	if (!ossl.legacy)
		return ossl.OCSP_resp_get0_certs(bs);
	return ((struct legacy_basicresp *)bs)->certs;
}

const X509_ALGOR *
staple_resp_sigalg(OCSP_BASICRESP *bs)
{
	if (!ossl.legacy)
		return ossl.OCSP_resp_get0_tbs_sigalg(bs);
	return ((struct legacy_basicresp *)bs)->signatureAlgorithm;
}

static ASN1_OBJECT *tls_feature;
static pthread_once_t tls_feature_once = PTHREAD_ONCE_INIT;

static void
staple_tls_feature_init(void)
{
	tls_feature = ossl.OBJ_txt2obj("1.3.6.1.5.5.7.1.24", 1);
}

X509_EXTENSION *
staple_x509_tls_feature(X509 *x)
{
	int i;

	pthread_once(&tls_feature_once, staple_tls_feature_init);
	if (tls_feature == NULL ||
	    (i = ossl.X509_get_ext_by_OBJ(x, tls_feature, -1)) < 0)
		return NULL;
	return ossl.X509_get_ext(x, i);
}

const OCSP_CERTID *
staple_single_id(OCSP_SINGLERESP *single)
{
	if (!ossl.legacy)
		return ossl.OCSP_SINGLERESP_get0_id(single);
	return ((struct legacy_singleresp *)single)->certId;
}

/* A 1.0.2 index from `fn`, never 0 (SSL_get_app_data's). */
static int
staple_legacy_index(staple_ex_new_index_fn *fn, CRYPTO_EX_dup *dup_fn,
    CRYPTO_EX_free *free_fn)
{
	int index = fn(0, NULL, NULL, NULL, NULL);

	/* the throwaway has no callbacks, so index 0 stays the program's */
	return index < 0 ? -1 : fn(0, NULL, NULL, dup_fn, free_fn);
}

int
staple_ex_index_ssl(CRYPTO_EX_dup *dup_fn, CRYPTO_EX_free *free_fn)
{
	if (ossl.legacy)
		return staple_legacy_index(ossl.SSL_get_ex_new_index, dup_fn,
		    free_fn);
	return ossl.CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_SSL, 0, NULL, NULL,
	    dup_fn, free_fn);
}

int
staple_ex_index_ctx(CRYPTO_EX_free *free_fn)
{
	if (ossl.legacy)
		return staple_legacy_index(ossl.SSL_CTX_get_ex_new_index, NULL,
		    free_fn);
	return ossl.CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_SSL_CTX, 0, NULL,
	    NULL, NULL, free_fn);
}

int
staple_compat_init(void)
{
	if (!ossl.legacy)
		return 1;
	chain_index = staple_ex_index_ssl(staple_chain_dup, staple_chain_free);
	return chain_index >= 0;
}
