/*
 * server.c - the server half of the status callback.
 */
#include "compat.h"
#include "server.h"
#include "store.h"

/* The certificate in the chain this handshake sends that issued `leaf`. */
static X509 *
staple_server_issuer(SSL *s, X509 *leaf)
{
	STACK_OF(X509) *chain = NULL;
	X509 *x;

	ossl.SSL_ctrl(s, SSL_CTRL_GET_CHAIN_CERTS, 0, &chain);
	if (chain == NULL || ossl.OPENSSL_sk_num((OPENSSL_STACK *)chain) <= 0)
		ossl.SSL_CTX_ctrl(ossl.SSL_get_SSL_CTX(s),
		    SSL_CTRL_GET_EXTRA_CHAIN_CERTS, 0, &chain);
	for (int i = 0; chain != NULL &&
	    i < ossl.OPENSSL_sk_num((OPENSSL_STACK *)chain); i++) {
		x = ossl.OPENSSL_sk_value((OPENSSL_STACK *)chain, i);
		if (ossl.X509_check_issued(x, leaf) == X509_V_OK)
			return x;
	}
	return NULL;
}

/* Whether the program's callback left a staple on `s`. */
static int
staple_server_has_staple(SSL *s)
{
	const unsigned char *resp = NULL;

	return ossl.SSL_ctrl(s, SSL_CTRL_GET_TLSEXT_STATUS_REQ_OCSP_RESP, 0,
	    &resp) > 0 && resp != NULL;
}

int
staple_server_status(SSL *s, staple_status_fn app, void *arg)
{
	unsigned char *der = NULL;
	size_t len = 0;
	X509 *leaf;
	int ret;

	if (app != NULL) {
		/* libssl never clears the last response: start from none. */
		ossl.SSL_ctrl(s, SSL_CTRL_SET_TLSEXT_STATUS_REQ_OCSP_RESP, 0, NULL);
		ret = app(s, arg);
		if (ret != SSL_TLSEXT_ERR_OK && ret != SSL_TLSEXT_ERR_NOACK)
			return ret;
		if (ret == SSL_TLSEXT_ERR_OK && staple_server_has_staple(s))
			return ret;
	}
	/* 1.0.2 asks on resumption too, where no CertificateStatus goes out */
	if (staple_session_reused(s))
		return SSL_TLSEXT_ERR_NOACK;
	ossl.ERR_set_mark();
	if ((leaf = ossl.SSL_get_certificate(s)) != NULL)
		len = staple_store_find(leaf, staple_server_issuer(s, leaf), &der);
	if (len > 0 && !ossl.SSL_ctrl(s, SSL_CTRL_SET_TLSEXT_STATUS_REQ_OCSP_RESP,
	    (long)len, der)) {
		ossl.CRYPTO_free(der, __FILE__, __LINE__);
		len = 0;
	}
	ossl.ERR_pop_to_mark();
	return len > 0 ? SSL_TLSEXT_ERR_OK : SSL_TLSEXT_ERR_NOACK;
}
