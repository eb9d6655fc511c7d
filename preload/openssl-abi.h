/*
 * openssl-abi.h - the part of OpenSSL's interface libstaple relies on,
 * declared by libstaple itself.
 *
 * libstaple calls OpenSSL only through the symbol table it fills at run
 * time (ossl.h), so it needs OpenSSL's declarations, not its headers: with
 * this file the library and staplectl build with a C compiler and libc
 * headers alone, and the same objects serve 1.0.2, 1.1.1 and 3.x. Nothing
 * here may include an OpenSSL header.
 *
 * What is declared, and why it is the same for every version served:
 * - Types are opaque (pointers only), under OpenSSL's own struct tags.
 *   libstaple reads no OpenSSL struct, except 1.0.2's, whose layouts are
 *   mirrored in compat.c and read only there.
 * - Prototypes are 3.x's. 1.1.1 has the same calling conventions; where
 *   1.0.2 differs (older names, int instead of size_t, a missing const)
 *   compat.h and the symbol table's R() and L() lists say how it is called.
 * - Constants have one value in 1.0.2, 1.1.1 and 3.x, checked against
 *   each version's headers, unless a comment names the versions a constant
 *   is for. 1.0.2-only values live in compat.c with the struct mirrors.
 */
#ifndef STAPLE_OPENSSL_ABI_H
#define STAPLE_OPENSSL_ABI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* Opaque types. */
typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_method_st SSL_METHOD;
typedef struct ssl_session_st SSL_SESSION;
typedef struct x509_st X509;
typedef struct X509_name_st X509_NAME;
typedef struct X509_extension_st X509_EXTENSION;
typedef struct X509_algor_st X509_ALGOR;
typedef struct x509_store_st X509_STORE;
typedef struct x509_store_ctx_st X509_STORE_CTX;
typedef struct X509_VERIFY_PARAM_st X509_VERIFY_PARAM;
typedef struct asn1_object_st ASN1_OBJECT;
typedef struct evp_md_st EVP_MD;
typedef struct evp_pkey_st EVP_PKEY;
typedef struct bio_st BIO;
typedef struct engine_st ENGINE;
typedef struct ossl_lib_ctx_st OSSL_LIB_CTX;	/* 3.x */
typedef struct crypto_ex_data_st CRYPTO_EX_DATA;
typedef struct ocsp_response_st OCSP_RESPONSE;
typedef struct ocsp_basic_response_st OCSP_BASICRESP;
typedef struct ocsp_single_response_st OCSP_SINGLERESP;
typedef struct ocsp_cert_id_st OCSP_CERTID;
typedef struct ocsp_request_st OCSP_REQUEST;
typedef struct ocsp_one_request_st OCSP_ONEREQ;

/* Every ASN1_STRING flavour is the one struct: functions take any of them. */
typedef struct asn1_string_st ASN1_STRING;
typedef struct asn1_string_st ASN1_INTEGER;
typedef struct asn1_string_st ASN1_OCTET_STRING;
typedef struct asn1_string_st ASN1_TIME;
typedef struct asn1_string_st ASN1_GENERALIZEDTIME;

/*
 * Stacks: STACK_OF(T) is a distinct pointer type per T, as in OpenSSL; all
 * are used through the generic OPENSSL_sk_* functions with a cast.
 */
#define STACK_OF(type) struct stack_st_##type
typedef struct stack_st OPENSSL_STACK;
typedef char *OPENSSL_STRING;
STACK_OF(X509);
STACK_OF(OPENSSL_STRING);

/* Callback types. */
typedef int pem_password_cb(char *buf, int size, int rwflag, void *userdata);
typedef void CRYPTO_EX_new(void *parent, void *ptr, CRYPTO_EX_DATA *ad,
    int idx, long argl, void *argp);
typedef void CRYPTO_EX_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad,
    int idx, long argl, void *argp);
typedef int CRYPTO_EX_dup(CRYPTO_EX_DATA *to, const CRYPTO_EX_DATA *from,
    void **from_d, int idx, long argl, void *argp);

/* Versions. */
#define OPENSSL_VERSION 0		/* OpenSSL_version(): the version text */

/* ex_data classes (1.1.1, 3.x; 1.0.2 has per-type index functions). */
#define CRYPTO_EX_INDEX_SSL 0
#define CRYPTO_EX_INDEX_SSL_CTX 1

/* SSL_ctrl and SSL_CTX_ctrl commands. */
#define SSL_CTRL_EXTRA_CHAIN_CERT 14
#define SSL_CTRL_SET_TLSEXT_HOSTNAME 55
#define SSL_CTRL_SET_TLSEXT_STATUS_REQ_CB 63
#define SSL_CTRL_SET_TLSEXT_STATUS_REQ_TYPE 65
#define SSL_CTRL_GET_TLSEXT_STATUS_REQ_OCSP_RESP 70
#define SSL_CTRL_SET_TLSEXT_STATUS_REQ_OCSP_RESP 71
#define SSL_CTRL_GET_EXTRA_CHAIN_CERTS 82
#define SSL_CTRL_CHAIN 88
#define SSL_CTRL_CHAIN_CERT 89
#define SSL_CTRL_GET_CHAIN_CERTS 115
/* 1.1.1 and 3.x; 1.0.2 answers 0 to these, as to any command it lacks */
#define SSL_CTRL_GET_TLSEXT_STATUS_REQ_TYPE 127
#define SSL_CTRL_GET_TLSEXT_STATUS_REQ_CB 128

/* TLS extensions and verification. */
#define TLSEXT_NAMETYPE_host_name 0
#define TLSEXT_STATUSTYPE_ocsp 1
#define SSL_TLSEXT_ERR_OK 0
#define SSL_TLSEXT_ERR_NOACK 3
#define SSL_VERIFY_NONE 0x00
#define SSL_VERIFY_PEER 0x01
#define SSL_FILETYPE_PEM 1

/* Certificates. */
#define X509_V_OK 0
#define X509_V_ERR_APPLICATION_VERIFICATION 50
#define X509_V_FLAG_USE_CHECK_TIME 0x2
#define X509_V_FLAG_IGNORE_CRITICAL 0x10
#define X509_V_FLAG_NO_CHECK_TIME 0x200000	/* 1.1.1, 3.x */
#define EXFLAG_KUSAGE 0x2
#define EXFLAG_XKUSAGE 0x4
#define EXFLAG_CRITICAL 0x200
#define KU_DIGITAL_SIGNATURE 0x0080
#define XKU_OCSP_SIGN 0x20

/* OCSP. */
#define OCSP_NOINTERN 0x2
#define OCSP_NOVERIFY 0x10
#define OCSP_RESPONSE_STATUS_SUCCESSFUL 0
#define V_OCSP_CERTSTATUS_GOOD 0
#define V_OCSP_CERTSTATUS_REVOKED 1
#define V_OCSP_CERTSTATUS_UNKNOWN 2
#define V_OCSP_RESPID_NAME 0
#define V_OCSP_RESPID_KEY 1

/* ASN.1 string types. */
#define V_ASN1_UTCTIME 23
#define V_ASN1_GENERALIZEDTIME 24
#define V_ASN1_NEG_INTEGER (2 | 0x100)

/* Object and key identifiers, and sizes. */
#define NID_undef 0
#define NID_md5 4
#define NID_sha1 64
#define NID_sha256 672
#define NID_sha384 673
#define NID_sha512 674
#define NID_sha224 675
#define NID_ED25519 1087		/* 1.1.1, 3.x */
#define NID_ED448 1088			/* 1.1.1, 3.x */
#define EVP_PKEY_RSA 6
#define EVP_PKEY_DH 28
#define EVP_PKEY_DSA 116
#define EVP_PKEY_EC 408
#define EVP_MAX_MD_SIZE 64

/*
 * Prototypes, 3.x's: for the symbol table's member types
 * (__typeof__(&name)) and for the functions libstaple interposes.
 */

/* libssl */
SSL_CTX *SSL_CTX_new(const SSL_METHOD *meth);
SSL_CTX *SSL_CTX_new_ex(OSSL_LIB_CTX *libctx, const char *propq,
    const SSL_METHOD *meth);
void SSL_CTX_free(SSL_CTX *ctx);
long SSL_CTX_ctrl(SSL_CTX *ctx, int cmd, long larg, void *parg);
long SSL_CTX_callback_ctrl(SSL_CTX *ctx, int cmd, void (*fp)(void));
int SSL_CTX_use_certificate(SSL_CTX *ctx, X509 *x);
int SSL_CTX_use_cert_and_key(SSL_CTX *ctx, X509 *x509, EVP_PKEY *privatekey,
    STACK_OF(X509) *chain, int override);
int SSL_CTX_use_certificate_file(SSL_CTX *ctx, const char *file, int type);
int SSL_CTX_use_certificate_chain_file(SSL_CTX *ctx, const char *file);
void SSL_CTX_set_cert_verify_callback(SSL_CTX *ctx,
    int (*cb)(X509_STORE_CTX *, void *), void *arg);
X509_STORE *SSL_CTX_get_cert_store(const SSL_CTX *ctx);
void *SSL_CTX_get_ex_data(const SSL_CTX *ctx, int idx);
int SSL_CTX_set_ex_data(SSL_CTX *ctx, int idx, void *data);
int SSL_CTX_get_security_level(const SSL_CTX *ctx);
const SSL_METHOD *TLS_client_method(void);
const SSL_METHOD *SSL_CTX_get_ssl_method(const SSL_CTX *ctx);
X509 *SSL_CTX_get0_certificate(const SSL_CTX *ctx);
SSL *SSL_new(SSL_CTX *ctx);
long SSL_ctrl(SSL *s, int cmd, long larg, void *parg);
void SSL_set_connect_state(SSL *s);
int SSL_set_session(SSL *s, SSL_SESSION *session);
void *SSL_get_ex_data(const SSL *s, int idx);
int SSL_set_ex_data(SSL *s, int idx, void *data);
SSL_SESSION *SSL_get_session(const SSL *s);
X509 *SSL_SESSION_get0_peer(SSL_SESSION *s);
int SSL_session_reused(const SSL *s);
STACK_OF(X509) *SSL_get0_verified_chain(const SSL *s);
STACK_OF(X509) *SSL_get_peer_cert_chain(const SSL *s);
int SSL_get_verify_mode(const SSL *s);
long SSL_get_verify_result(const SSL *s);
X509_VERIFY_PARAM *SSL_get0_param(SSL *s);
int SSL_get_security_level(const SSL *s);
int SSL_get0_dane_authority(SSL *s, X509 **mcert, EVP_PKEY **mspki);
int SSL_get0_dane_tlsa(SSL *s, uint8_t *usage, uint8_t *selector,
    uint8_t *mtype, const unsigned char **data, size_t *dlen);
int SSL_is_server(const SSL *s);
SSL_CTX *SSL_get_SSL_CTX(const SSL *s);
X509 *SSL_get_certificate(const SSL *s);
const char *SSL_get_servername(const SSL *s, const int type);
int SSL_get_ex_data_X509_STORE_CTX_idx(void);

/* libcrypto: versions, memory, errors, ex_data */
unsigned long OpenSSL_version_num(void);
const char *OpenSSL_version(int type);
void *CRYPTO_malloc(size_t num, const char *file, int line);
void CRYPTO_free(void *ptr, const char *file, int line);
int CRYPTO_get_ex_new_index(int class_index, long argl, void *argp,
    CRYPTO_EX_new *new_func, CRYPTO_EX_dup *dup_func,
    CRYPTO_EX_free *free_func);
int ERR_set_mark(void);
int ERR_pop_to_mark(void);
void ERR_clear_error(void);
unsigned long ERR_peek_last_error(void);
const char *ERR_reason_error_string(unsigned long e);

/* libcrypto: stacks */
OPENSSL_STACK *OPENSSL_sk_new_null(void);
int OPENSSL_sk_num(const OPENSSL_STACK *st);
void *OPENSSL_sk_value(const OPENSSL_STACK *st, int i);
int OPENSSL_sk_push(OPENSSL_STACK *st, const void *data);
void OPENSSL_sk_free(OPENSSL_STACK *st);
void OPENSSL_sk_pop_free(OPENSSL_STACK *st, void (*func)(void *));

/* libcrypto: ASN.1, objects, digests, keys */
int ASN1_STRING_length(const ASN1_STRING *x);
int ASN1_STRING_type(const ASN1_STRING *x);
const unsigned char *ASN1_STRING_get0_data(const ASN1_STRING *x);
int OBJ_obj2nid(const ASN1_OBJECT *o);
const char *OBJ_nid2sn(int n);
ASN1_OBJECT *OBJ_txt2obj(const char *s, int no_name);
int OBJ_find_sigid_algs(int signid, int *pdig_nid, int *ppkey_nid);
const EVP_MD *EVP_get_digestbyname(const char *name);
EVP_MD *EVP_MD_fetch(OSSL_LIB_CTX *ctx, const char *algorithm,
    const char *properties);
int EVP_Digest(const void *data, size_t count, unsigned char *md,
    unsigned int *size, const EVP_MD *type, ENGINE *impl);
const EVP_MD *EVP_sha1(void);
int EVP_MD_get_size(const EVP_MD *md);
int EVP_PKEY_eq(const EVP_PKEY *a, const EVP_PKEY *b);
int EVP_PKEY_get_id(const EVP_PKEY *pkey);
int EVP_PKEY_get_bits(const EVP_PKEY *pkey);
int EVP_PKEY_get_security_bits(const EVP_PKEY *pkey);

/* libcrypto: certificates */
void X509_free(X509 *a);
int X509_up_ref(X509 *x);
int X509_digest(const X509 *data, const EVP_MD *type, unsigned char *md,
    unsigned int *len);
int X509_verify(X509 *a, EVP_PKEY *r);
EVP_PKEY *X509_get0_pubkey(const X509 *x);
X509_EXTENSION *X509_get_ext(const X509 *x, int loc);
int X509_get_ext_by_OBJ(const X509 *x, const ASN1_OBJECT *obj, int lastpos);
ASN1_OCTET_STRING *X509_EXTENSION_get_data(X509_EXTENSION *ne);
int X509_EXTENSION_get_critical(const X509_EXTENSION *ex);
uint32_t X509_get_extension_flags(X509 *x);
uint32_t X509_get_key_usage(X509 *x);
uint32_t X509_get_extended_key_usage(X509 *x);
const ASN1_TIME *X509_get0_notBefore(const X509 *x);
const ASN1_TIME *X509_get0_notAfter(const X509 *x);
const ASN1_INTEGER *X509_get0_serialNumber(const X509 *x);
int X509_get_signature_nid(const X509 *x);
int X509_get_signature_info(X509 *x, int *mdnid, int *pknid, int *secbits,
    uint32_t *flags);
void X509_ALGOR_get0(const ASN1_OBJECT **paobj, int *pptype,
    const void **ppval, const X509_ALGOR *algor);
X509_NAME *X509_get_issuer_name(const X509 *a);
X509_NAME *X509_get_subject_name(const X509 *a);
int X509_NAME_cmp(const X509_NAME *a, const X509_NAME *b);
int X509_NAME_digest(const X509_NAME *data, const EVP_MD *type,
    unsigned char *md, unsigned int *len);
char *X509_NAME_oneline(const X509_NAME *a, char *buf, int size);
int X509_check_issued(X509 *issuer, X509 *subject);
int X509_check_purpose(X509 *x, int id, int ca);
int X509_pubkey_digest(const X509 *data, const EVP_MD *type,
    unsigned char *md, unsigned int *len);
STACK_OF(OPENSSL_STRING) *X509_get1_ocsp(X509 *x);
void X509_email_free(STACK_OF(OPENSSL_STRING) *sk);
int i2d_X509(const X509 *a, unsigned char **out);
X509_STORE *X509_STORE_new(void);
void X509_STORE_free(X509_STORE *v);
int X509_STORE_load_locations(X509_STORE *ctx, const char *file,
    const char *dir);
int X509_STORE_set_default_paths(X509_STORE *ctx);
X509_STORE_CTX *X509_STORE_CTX_new(void);
int X509_STORE_CTX_init(X509_STORE_CTX *ctx, X509_STORE *trust_store,
    X509 *target, STACK_OF(X509) *untrusted);
void X509_STORE_CTX_free(X509_STORE_CTX *ctx);
int X509_STORE_CTX_get1_issuer(X509 **issuer, X509_STORE_CTX *ctx, X509 *x);
void *X509_STORE_CTX_get_ex_data(const X509_STORE_CTX *ctx, int idx);
int X509_STORE_CTX_get_error(const X509_STORE_CTX *ctx);
void X509_STORE_CTX_set_error(X509_STORE_CTX *ctx, int s);
STACK_OF(X509) *X509_STORE_CTX_get1_chain(const X509_STORE_CTX *ctx);
int X509_verify_cert(X509_STORE_CTX *ctx);
unsigned long X509_VERIFY_PARAM_get_flags(const X509_VERIFY_PARAM *param);
time_t X509_VERIFY_PARAM_get_time(const X509_VERIFY_PARAM *param);
char *X509_VERIFY_PARAM_get0_host(X509_VERIFY_PARAM *param, int idx);
char *X509_VERIFY_PARAM_get0_peername(const X509_VERIFY_PARAM *param);
const char *X509_verify_cert_error_string(long n);

/* libcrypto: files */
BIO *BIO_new_file(const char *filename, const char *mode);
BIO *BIO_new_mem_buf(const void *buf, int len);
int BIO_free(BIO *a);
X509 *PEM_read_bio_X509(BIO *bp, X509 **x, pem_password_cb *cb, void *u);
X509 *PEM_read_X509(FILE *fp, X509 **x, pem_password_cb *cb, void *u);

/* libcrypto: OCSP */
OCSP_RESPONSE *d2i_OCSP_RESPONSE(OCSP_RESPONSE **a, const unsigned char **in,
    long len);
void OCSP_RESPONSE_free(OCSP_RESPONSE *a);
int OCSP_response_status(OCSP_RESPONSE *resp);
OCSP_BASICRESP *OCSP_response_get1_basic(OCSP_RESPONSE *resp);
void OCSP_BASICRESP_free(OCSP_BASICRESP *a);
int OCSP_BASICRESP_get_ext_count(OCSP_BASICRESP *x);
X509_EXTENSION *OCSP_BASICRESP_get_ext(OCSP_BASICRESP *x, int loc);
int OCSP_resp_count(OCSP_BASICRESP *bs);
OCSP_SINGLERESP *OCSP_resp_get0(OCSP_BASICRESP *bs, int idx);
int OCSP_resp_get0_id(const OCSP_BASICRESP *bs,
    const ASN1_OCTET_STRING **pid, const X509_NAME **pname);
const STACK_OF(X509) *OCSP_resp_get0_certs(const OCSP_BASICRESP *bs);
const X509_ALGOR *OCSP_resp_get0_tbs_sigalg(const OCSP_BASICRESP *bs);
const OCSP_CERTID *OCSP_SINGLERESP_get0_id(const OCSP_SINGLERESP *x);
int OCSP_SINGLERESP_get_ext_count(OCSP_SINGLERESP *x);
X509_EXTENSION *OCSP_SINGLERESP_get_ext(OCSP_SINGLERESP *x, int loc);
int OCSP_id_get0_info(ASN1_OCTET_STRING **piNameHash, ASN1_OBJECT **pmd,
    ASN1_OCTET_STRING **pikeyHash, ASN1_INTEGER **pserial, OCSP_CERTID *cid);
int OCSP_single_get0_status(OCSP_SINGLERESP *single, int *reason,
    ASN1_GENERALIZEDTIME **revtime, ASN1_GENERALIZEDTIME **thisupd,
    ASN1_GENERALIZEDTIME **nextupd);
int OCSP_basic_verify(OCSP_BASICRESP *bs, STACK_OF(X509) *certs,
    X509_STORE *st, unsigned long flags);
OCSP_REQUEST *OCSP_REQUEST_new(void);
void OCSP_REQUEST_free(OCSP_REQUEST *a);
int i2d_OCSP_REQUEST(const OCSP_REQUEST *a, unsigned char **out);
OCSP_CERTID *OCSP_cert_to_id(const EVP_MD *dgst, const X509 *subject,
    const X509 *issuer);
void OCSP_CERTID_free(OCSP_CERTID *a);
OCSP_ONEREQ *OCSP_request_add0_id(OCSP_REQUEST *req, OCSP_CERTID *cid);

#endif
