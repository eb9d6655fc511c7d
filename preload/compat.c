/*
 * compat.c - one function per OpenSSL call that differs between versions.
 */
#include "compat.h"

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
