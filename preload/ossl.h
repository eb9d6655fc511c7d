/*
 * ossl.h - the OpenSSL symbol table.
 *
 * libstaple has no load-time dependency on libssl or libcrypto: every
 * OpenSSL function it uses is looked up at run time in the libssl that the
 * host process itself loaded (linked, or dlopen()ed later as Python's _ssl
 * module does), and called through this table. The declarations are
 * libstaple's own (openssl-abi.h), so no OpenSSL headers are needed to
 * build; -Wl,-z,defs makes a direct call a link error.
 */
#ifndef STAPLE_OSSL_H
#define STAPLE_OSSL_H

#include "openssl-abi.h"

/*
 * X(name, required): every function libstaple calls. required 1: in every
 * version; 2: in 1.1.1 and later (1.0.2 lacks it: compat.c stands in);
 * 0: optional. A missing required function makes libstaple step aside.
 */
#define STAPLE_OSSL_FUNCS(X) \
	/* the functions libstaple interposes: their real versions */ \
	X(SSL_CTX_new, 1) \
	X(SSL_CTX_new_ex, 0) \
	X(SSL_CTX_ctrl, 1) \
	X(SSL_CTX_callback_ctrl, 1) \
	X(SSL_CTX_use_certificate, 1) \
	X(SSL_CTX_use_cert_and_key, 2) \
	X(SSL_CTX_use_certificate_file, 1) \
	X(SSL_CTX_use_certificate_chain_file, 1) \
	X(SSL_new, 1) \
	X(SSL_ctrl, 1) \
	X(SSL_set_connect_state, 1) \
	X(SSL_set_session, 1) \
	X(SSL_CTX_set_cert_verify_callback, 1) \
	/* libssl */ \
	X(SSL_get_ex_data, 1) \
	X(SSL_set_ex_data, 1) \
	X(SSL_get_session, 1) \
	X(SSL_SESSION_get0_peer, 1) \
	X(SSL_session_reused, 2) \
	X(SSL_get0_verified_chain, 2) \
	X(SSL_get_peer_cert_chain, 1) \
	X(SSL_get_verify_mode, 1) \
	X(SSL_get_verify_result, 1) \
	X(SSL_get0_param, 1) \
	X(SSL_get_security_level, 2) \
	X(SSL_get0_dane_authority, 0) \
	X(SSL_get0_dane_tlsa, 0) \
	X(SSL_CTX_get_cert_store, 1) \
	X(SSL_is_server, 1) \
	X(SSL_get_SSL_CTX, 1) \
	X(SSL_get_certificate, 1) \
	X(SSL_get_servername, 1) \
	X(SSL_CTX_get_ex_data, 1) \
	X(SSL_CTX_get_ssl_method, 1) \
	X(SSL_CTX_get0_certificate, 1) \
	X(SSL_CTX_set_ex_data, 1) \
	X(SSL_get_ex_data_X509_STORE_CTX_idx, 1) \
	/* libcrypto */ \
	X(CRYPTO_get_ex_new_index, 1) \
	X(CRYPTO_malloc, 1) \
	X(CRYPTO_free, 1) \
	X(ERR_set_mark, 1) \
	X(ERR_pop_to_mark, 1) \
	X(ASN1_STRING_length, 1) \
	X(ASN1_STRING_type, 1) \
	X(OBJ_obj2nid, 1) \
	X(OBJ_nid2sn, 1) \
	X(OBJ_find_sigid_algs, 1) \
	X(EVP_get_digestbyname, 1) \
	X(EVP_MD_fetch, 0) \
	X(EVP_Digest, 1) \
	X(EVP_sha1, 1) \
	X(X509_free, 1) \
	X(X509_up_ref, 2) \
	X(X509_digest, 1) \
	X(X509_verify, 1) \
	X(X509_get0_pubkey, 2) \
	X(X509_get_ext, 1) \
	X(X509_get_ext_by_OBJ, 1) \
	X(X509_EXTENSION_get_data, 1) \
	X(OBJ_txt2obj, 1) \
	X(X509_get_extension_flags, 2) \
	X(X509_get_key_usage, 2) \
	X(X509_get_extended_key_usage, 2) \
	X(X509_get0_notBefore, 2) \
	X(X509_get0_notAfter, 2) \
	X(X509_get_signature_nid, 1) \
	X(X509_get_signature_info, 0) \
	X(X509_ALGOR_get0, 1) \
	X(X509_STORE_new, 1) \
	X(X509_STORE_free, 1) \
	X(X509_STORE_load_locations, 1) \
	X(X509_STORE_CTX_new, 1) \
	X(X509_STORE_CTX_init, 1) \
	X(X509_STORE_CTX_get1_issuer, 1) \
	X(X509_STORE_CTX_free, 1) \
	X(X509_STORE_CTX_get_ex_data, 1) \
	X(X509_STORE_CTX_get_error, 1) \
	X(X509_STORE_CTX_set_error, 1) \
	X(X509_STORE_CTX_get1_chain, 1) \
	X(X509_verify_cert, 1) \
	X(X509_check_purpose, 1) \
	X(X509_VERIFY_PARAM_get_flags, 1) \
	X(X509_VERIFY_PARAM_get_time, 2) \
	X(X509_VERIFY_PARAM_get0_host, 0) \
	X(X509_VERIFY_PARAM_get0_peername, 0) \
	X(X509_verify_cert_error_string, 1) \
	X(X509_get_issuer_name, 1) \
	X(X509_get_subject_name, 1) \
	X(X509_NAME_cmp, 1) \
	X(X509_NAME_digest, 1) \
	X(X509_NAME_oneline, 1) \
	X(X509_check_issued, 1) \
	X(X509_pubkey_digest, 1) \
	X(X509_get1_ocsp, 1) \
	X(X509_email_free, 1) \
	X(i2d_X509, 1) \
	X(X509_EXTENSION_get_critical, 1) \
	X(BIO_new_file, 1) \
	X(BIO_free, 1) \
	X(PEM_read_bio_X509, 1) \
	X(d2i_OCSP_RESPONSE, 1) \
	X(OCSP_RESPONSE_free, 1) \
	X(OCSP_response_status, 1) \
	X(OCSP_response_get1_basic, 1) \
	X(OCSP_BASICRESP_free, 1) \
	X(OCSP_BASICRESP_get_ext_count, 1) \
	X(OCSP_BASICRESP_get_ext, 1) \
	X(OCSP_resp_count, 1) \
	X(OCSP_resp_get0, 1) \
	X(OCSP_resp_get0_id, 2) \
	X(OCSP_resp_get0_certs, 2) \
	X(OCSP_resp_get0_tbs_sigalg, 2) \
	X(OCSP_SINGLERESP_get0_id, 2) \
	X(OCSP_SINGLERESP_get_ext_count, 1) \
	X(OCSP_SINGLERESP_get_ext, 1) \
	X(OCSP_id_get0_info, 1) \
	X(OCSP_single_get0_status, 1) \
	X(OCSP_basic_verify, 1)

/*
 * R(name, older, required): functions an older OpenSSL exports under
 * another name with the same calling convention; looked up as `name`, then
 * as `older`; `required` as for X().
 */
#define STAPLE_OSSL_RENAMED(R) \
	R(OpenSSL_version_num, SSLeay, 1) \
	R(OpenSSL_version, SSLeay_version, 1) \
	R(X509_get0_serialNumber, X509_get_serialNumber, 1) \
	R(OPENSSL_sk_pop_free, sk_pop_free, 1) \
	R(OPENSSL_sk_num, sk_num, 1) \
	R(OPENSSL_sk_value, sk_value, 1) \
	R(OPENSSL_sk_free, sk_free, 1) \
	R(OPENSSL_sk_new_null, sk_new_null, 1) \
	R(OPENSSL_sk_push, sk_push, 1) \
	R(ASN1_STRING_get0_data, ASN1_STRING_data, 1) \
	R(EVP_MD_get_size, EVP_MD_size, 1) \
	R(EVP_PKEY_eq, EVP_PKEY_cmp, 1) \
	R(EVP_PKEY_get_id, EVP_PKEY_id, 1) \
	R(EVP_PKEY_get_bits, EVP_PKEY_bits, 1) \
	R(EVP_PKEY_get_security_bits, EVP_PKEY_security_bits, 2) \
	R(TLS_client_method, SSLv23_client_method, 1)

/*
 * L(name, type): 1.0.2-only functions (no prototype in the 3.x headers),
 * looked up only in a 1.0.2 process.
 */
typedef int staple_ex_new_index_fn(long, void *, CRYPTO_EX_new *,
    CRYPTO_EX_dup *, CRYPTO_EX_free *);
typedef int staple_add_lock_fn(int *, int, int, const char *, int);
typedef EVP_PKEY *staple_get_pubkey_fn(X509 *);
typedef void staple_pkey_free_fn(EVP_PKEY *);
#define STAPLE_OSSL_LEGACY(L) \
	L(CRYPTO_add_lock, staple_add_lock_fn *) \
	L(X509_get_pubkey, staple_get_pubkey_fn *) \
	L(EVP_PKEY_free, staple_pkey_free_fn *) \
	L(SSL_get_ex_new_index, staple_ex_new_index_fn *) \
	L(SSL_CTX_get_ex_new_index, staple_ex_new_index_fn *)

/*
 * What staplectl calls besides (C: as X(), R: as R(), CL: as L()), looked
 * up only by staple_ossl_resolve_ctl(): a host process never pays for them.
 */
typedef int staple_library_init_fn(void);
typedef void staple_void_fn(void);
#define STAPLE_OSSL_CTL(C) \
	C(SSL_CTX_free, 1) \
	C(SSL_CTX_get_security_level, 2) \
	C(ERR_clear_error, 1) \
	C(ERR_peek_last_error, 1) \
	C(ERR_reason_error_string, 1) \
	C(X509_STORE_set_default_paths, 1) \
	C(PEM_read_X509, 1) \
	C(BIO_new_mem_buf, 1) \
	C(OCSP_REQUEST_new, 1) \
	C(OCSP_REQUEST_free, 1) \
	C(i2d_OCSP_REQUEST, 1) \
	C(OCSP_cert_to_id, 1) \
	C(OCSP_CERTID_free, 1) \
	C(OCSP_request_add0_id, 1)
/* none now: TLS_client_method, the last, is the host table's (wanted.c) */
#define STAPLE_OSSL_CTL_RENAMED(R)
#define STAPLE_OSSL_CTL_LEGACY(L) \
	L(SSL_library_init, staple_library_init_fn *) \
	L(SSL_load_error_strings, staple_void_fn *) \
	L(OPENSSL_add_all_algorithms_noconf, staple_void_fn *)

struct staple_ossl {
#define STAPLE_OSSL_MEMBER(name, required) __typeof__(&name) name;
#define STAPLE_OSSL_RENAMED_MEMBER(name, older, required) __typeof__(&name) name;
#define STAPLE_OSSL_LEGACY_MEMBER(name, type) type name;
	STAPLE_OSSL_FUNCS(STAPLE_OSSL_MEMBER)
	STAPLE_OSSL_RENAMED(STAPLE_OSSL_RENAMED_MEMBER)
	STAPLE_OSSL_LEGACY(STAPLE_OSSL_LEGACY_MEMBER)
	STAPLE_OSSL_CTL(STAPLE_OSSL_MEMBER)
	STAPLE_OSSL_CTL_RENAMED(STAPLE_OSSL_RENAMED_MEMBER)
	STAPLE_OSSL_CTL_LEGACY(STAPLE_OSSL_LEGACY_MEMBER)
#undef STAPLE_OSSL_MEMBER
#undef STAPLE_OSSL_RENAMED_MEMBER
#undef STAPLE_OSSL_LEGACY_MEMBER
	int legacy;		/* 1: OpenSSL 1.0.2 */
};

/*
 * The typed stack operations libstaple uses, through the table (OpenSSL's
 * own sk_X509_* are inline functions or macros over the generic ones).
 */
#define sk_X509_new_null() ((STACK_OF(X509) *)ossl.OPENSSL_sk_new_null())
#define sk_X509_num(sk) ossl.OPENSSL_sk_num((const OPENSSL_STACK *)(sk))
#define sk_X509_value(sk, i) \
	((X509 *)ossl.OPENSSL_sk_value((const OPENSSL_STACK *)(sk), (i)))
#define sk_X509_push(sk, x) ossl.OPENSSL_sk_push((OPENSSL_STACK *)(sk), (x))
#define sk_X509_pop_free(sk, fn) \
	ossl.OPENSSL_sk_pop_free((OPENSSL_STACK *)(sk), (void (*)(void *))(fn))
#define sk_OPENSSL_STRING_num(sk) ossl.OPENSSL_sk_num((const OPENSSL_STACK *)(sk))
#define sk_OPENSSL_STRING_value(sk, i) \
	((char *)ossl.OPENSSL_sk_value((const OPENSSL_STACK *)(sk), (i)))

/* The table; valid once staple_ossl_resolve() has returned 1. */
extern struct staple_ossl ossl;

/*
 * Fill the table from the libssl that `caller` (a code address in the
 * host program or one of its libraries) would bind to. Returns 1 when the
 * version is one libstaple serves (1.0.2, 1.1.1, 3.x) and every function it
 * needs there was found, 0 otherwise (after one log line that names the
 * version, or the missing function). Not thread-safe: call it once.
 */
int staple_ossl_resolve(const void *caller);

/*
 * After staple_ossl_resolve(): fill staplectl's part of the table (see
 * STAPLE_OSSL_CTL) from the same libssl, and on 1.0.2 load its digests and
 * error strings, which 1.1.1 and later load by themselves. 1 when every
 * function was found, else 0 after a log line naming the missing one.
 */
int staple_ossl_resolve_ctl(void);

/* Remember `caller` as the program's, unless it is libstaple itself. */
void staple_ossl_origin(const void *caller);

/*
 * The address of `name` in the libssl that `caller` binds to, or NULL (a
 * caller inside libstaple stands for the program's first, see above).
 * Slow (dladdr + dlopen): for rare calls and the step-aside mode only.
 */
void *staple_ossl_lookup(const void *caller, const char *name);

#endif
