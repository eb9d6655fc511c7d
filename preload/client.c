/*
 * client.c - the client half of the status callback, and what surrounds it:
 * asking for a staple and keeping resumption from bypassing the check.
 */
#include "accepted.h"
#include "client.h"
#include "config.h"
#include "log.h"
#include "verify.h"

static int ssl_index = -1;	/* SSL: &request_mark when libstaple asked */
static char request_mark;

int
staple_client_init(void)
{
	ssl_index = ossl.CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_SSL, 0, NULL,
	    NULL, NULL, NULL);
	return ssl_index >= 0;
}

/* The SNI name this client sends, or NULL. */
static const char *
staple_client_host(const SSL *s)
{
	return ossl.SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);
}

void
staple_client_prepare(SSL *s)
{
	int policy = staple_conf_host_policy(staple_client_host(s));
	long type = ossl.SSL_ctrl(s, SSL_CTRL_GET_TLSEXT_STATUS_REQ_TYPE, 0, NULL);
	int mine = ossl.SSL_get_ex_data(s, ssl_index) == &request_mark;

	if (policy != STAPLE_POLICY_OFF && type != TLSEXT_STATUSTYPE_ocsp) {
		ossl.SSL_ctrl(s, SSL_CTRL_SET_TLSEXT_STATUS_REQ_TYPE,
		    TLSEXT_STATUSTYPE_ocsp, NULL);
		ossl.SSL_set_ex_data(s, ssl_index, &request_mark);
	} else if (policy == STAPLE_POLICY_OFF && mine) {
		ossl.SSL_ctrl(s, SSL_CTRL_SET_TLSEXT_STATUS_REQ_TYPE,
		    -1 /* nothing */, NULL);
		ossl.SSL_set_ex_data(s, ssl_index, NULL);
	}
}

int
staple_client_may_resume(SSL *s, SSL_SESSION *sess)
{
	if (staple_conf_host_policy(staple_client_host(s)) == STAPLE_POLICY_OFF)
		return 1;
	return staple_accepted(ossl.SSL_SESSION_get0_peer(sess), time(NULL));
}

/* Whether `policy` rejects `verdict` for a (Must-Staple or not) leaf. */
static int
staple_policy_rejects(int policy, int verdict, int must)
{
	switch (policy) {
	case STAPLE_POLICY_SOFT:
		return verdict == STAPLE_REVOKED;
	case STAPLE_POLICY_MUST_STAPLE:
		return verdict == STAPLE_REVOKED ||
		    (must && verdict != STAPLE_GOOD);
	case STAPLE_POLICY_REQUIRE:
		return verdict != STAPLE_GOOD;
	default:
		return 0;
	}
}

/* The issuer of `leaf`: from the verified chain, else from the peer's. */
static X509 *
staple_client_issuer(SSL *s, X509 *leaf, STACK_OF(X509) *peer)
{
	STACK_OF(X509) *chain = ossl.SSL_get0_verified_chain(s);
	X509 *x;

	if (chain != NULL && ossl.OPENSSL_sk_num((OPENSSL_STACK *)chain) > 1)
		return ossl.OPENSSL_sk_value((OPENSSL_STACK *)chain, 1);
	for (int i = 1; peer && i < ossl.OPENSSL_sk_num((OPENSSL_STACK *)peer); i++) {
		x = ossl.OPENSSL_sk_value((OPENSSL_STACK *)peer, i);
		if (ossl.X509_check_issued(x, leaf) == X509_V_OK)
			return x;
	}
	return NULL;
}

/* One line per outcome, at a level that fits: rejections are errors. */
static void
staple_client_log(SSL *s, X509 *leaf, int policy, int verdict, int must,
    int reject, const char *why)
{
	const char *host = staple_client_host(s);
	char subject[256] = "(no certificate)";
	int level = STAPLE_DEBUG;

	if (reject)
		level = STAPLE_ERROR;
	else if (policy == STAPLE_POLICY_REQUEST ||
	    verdict == STAPLE_INVALID || verdict == STAPLE_REVOKED ||
	    (must && verdict == STAPLE_MISSING))
		level = STAPLE_WARN;
	if (!staple_log_enabled(level))
		return;
	if (leaf != NULL)
		ossl.X509_NAME_oneline(ossl.X509_get_subject_name(leaf), subject,
		    sizeof(subject));
	staple_log(level, "%s: %s %s%s: %s%s%s (policy %s)",
	    host ? host : "(no SNI)", reject ? "rejected" : "accepted", subject,
	    must ? " [Must-Staple]" : "", staple_verdict_name(verdict),
	    why ? ": " : "", why ? why : "", staple_policy_name(policy));
}

/* The verdict for a full handshake's staple; sets *leaf, *must, *why. */
static int
staple_client_verdict(SSL *s, X509 **leaf, int *must, const char **why)
{
	STACK_OF(X509) *peer = ossl.SSL_get_peer_cert_chain(s);
	struct staple_check c = { 0 };
	const unsigned char *der = NULL;
	long len;
	int verdict;

	if (peer == NULL || ossl.OPENSSL_sk_num((OPENSSL_STACK *)peer) < 1) {
		*why = "no server certificate";
		return STAPLE_INVALID;
	}
	*leaf = c.leaf = ossl.OPENSSL_sk_value((OPENSSL_STACK *)peer, 0);
	*must = staple_must_staple(c.leaf);
	c.issuer = staple_client_issuer(s, c.leaf, peer);
	c.untrusted = peer;
	c.store = ossl.SSL_CTX_get_cert_store(ossl.SSL_get_SSL_CTX(s));
	c.now = time(NULL);
	len = ossl.SSL_ctrl(s, SSL_CTRL_GET_TLSEXT_STATUS_REQ_OCSP_RESP, 0, &der);
	verdict = staple_verify(der, len, &c);
	*why = c.why;
	return verdict;
}

int
staple_client_status(SSL *s, staple_status_fn app, void *arg)
{
	int policy = staple_conf_host_policy(staple_client_host(s));
	int verdict, must = 0, reject;
	SSL_SESSION *sess = ossl.SSL_get_session(s);
	const char *why = NULL;
	X509 *leaf = NULL;

	if (policy == STAPLE_POLICY_OFF)
		return app != NULL ? app(s, arg) : 1;
	ossl.ERR_set_mark();
	if (ossl.SSL_session_reused(s)) {
		/* TLS 1.3 resumption: no staple; the session's verdict decides. */
		reject = sess == NULL ||
		    !staple_accepted(ossl.SSL_SESSION_get0_peer(sess), time(NULL));
		if (reject)
			staple_log(STAPLE_ERROR, "%s: rejected a resumed session"
			    " without an accepted staple (policy %s)",
			    staple_client_host(s) ? staple_client_host(s) :
			    "(no SNI)", staple_policy_name(policy));
	} else {
		verdict = staple_client_verdict(s, &leaf, &must, &why);
		reject = staple_policy_rejects(policy, verdict, must);
		staple_client_log(s, leaf, policy, verdict, must, reject, why);
		staple_accepted_set(leaf, !reject, time(NULL));
	}
	ossl.ERR_pop_to_mark();
	if (reject)
		return 0;
	return app != NULL ? app(s, arg) : 1;
}
