/*
 * client.c - the client half of the status callback, and what surrounds it:
 * asking for a staple and keeping resumption from bypassing the check.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "accepted.h"
#include "client.h"
#include "compat.h"
#include "config.h"
#include "crl.h"
#include "crlstore.h"
#include "issuers.h"
#include "staple.h"
#include "log.h"
#include "verify.h"

static int ssl_index = -1;	/* SSL: &request_mark when libstaple asked */
static char request_mark;
static int staple_client_requires(SSL *s);
static int late_index = -1;	/* 1.0.2 SSL: &late_mark: decide when verified */
static char late_mark;

int
staple_client_init(void)
{
	/* static marks: a copy SSL_dup makes of one frees nothing */
	ssl_index = staple_ex_index_ssl(NULL, NULL);
	if (ossl.legacy)
		late_index = staple_ex_index_ssl(NULL, NULL);
	return ssl_index >= 0 && (!ossl.legacy || late_index >= 0);
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
	/* a program that does not verify the server risks nothing by resuming */
	if (staple_conf_host_policy(staple_client_host(s)) == STAPLE_POLICY_OFF ||
	    !staple_client_requires(s))
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

/*
 * Whether the program asked OpenSSL to hold the server to its chain: it
 * requires verification (SSL_VERIFY_PEER), or it named the host the
 * certificate must match (as Postfix's secure and verify levels do, under
 * SSL_VERIFY_NONE and a callback). A program that merely looks at the
 * result afterwards cannot be told from one that goes on regardless
 * (Postfix's may level, which then retries in plaintext), unless the
 * operator said this program is one that judges afterwards (verifies =
 * after-handshake): then its chain counts when it verified.
 */
static int
staple_client_requires(SSL *s)
{
	X509_VERIFY_PARAM *param;

	if (staple_conf.verifies_after ||
	    (ossl.SSL_get_verify_mode(s) & SSL_VERIFY_PEER))
		return 1;
	if ((param = ossl.SSL_get0_param(s)) == NULL)
		return 0;
	/* 3.x says which host was named; 1.1.1 which one matched (none: failed) */
	if (ossl.X509_VERIFY_PARAM_get0_host != NULL)
		return ossl.X509_VERIFY_PARAM_get0_host(param, 0) != NULL;
	return ossl.X509_VERIFY_PARAM_get0_peername != NULL &&
	    ossl.X509_VERIFY_PARAM_get0_peername(param) != NULL;
}

/*
 * Why the program did not authenticate the server, or NULL when it did:
 * it does not hold the server to its chain (staple_client_requires), the
 * verification failed (`result`) and it went on, or a DANE-TA / DANE-EE
 * record vouched for the server instead of the PKI (RFC 7671: revocation
 * is not part of those).
 */
static const char *
staple_client_unauthenticated(SSL *s, long result, char *buf, size_t size)
{
	uint8_t usage = 0;

	if (!staple_client_requires(s))
		return "the program does not verify the server";
	if (result != X509_V_OK) {
		snprintf(buf, size, "the program went on after a failed"
		    " verification: %s",
		    ossl.X509_verify_cert_error_string(result));
		return buf;
	}
	if (ossl.SSL_get0_dane_authority != NULL &&
	    ossl.SSL_get0_dane_authority(s, NULL, NULL) >= 0 &&
	    ossl.SSL_get0_dane_tlsa(s, &usage, NULL, NULL, NULL, NULL) >= 0 &&
	    usage >= 2 /* RFC 6698: 2 DANE-TA, 3 DANE-EE */) {
		snprintf(buf, size, "DANE-authenticated (TLSA usage %u)", usage);
		return buf;
	}
	return NULL;
}

/* The issuer of `leaf` that `store` holds (a new reference), or NULL. */
static X509 *
staple_client_store_issuer(X509_STORE *store, X509 *leaf)
{
	X509_STORE_CTX *ctx;
	X509 *x = NULL;

	if (store == NULL || (ctx = ossl.X509_STORE_CTX_new()) == NULL)
		return NULL;
	if (!ossl.X509_STORE_CTX_init(ctx, store, leaf, NULL) ||
	    ossl.X509_STORE_CTX_get1_issuer(&x, ctx, leaf) <= 0)
		x = NULL;
	ossl.X509_STORE_CTX_free(ctx);
	if (x != NULL && !staple_issued(x, leaf)) {
		ossl.X509_free(x);
		x = NULL;
	}
	return x;
}

/*
 * The issuer of `leaf`: the verified chain's when the program authenticated
 * the server, else the chain the server sent (*unproven: its key is still
 * to be checked against the leaf), else the program's trust store, else
 * the issuers this process knows. One from the store is a new reference,
 * also left in *owned for the caller to free.
 */
static X509 *
staple_client_issuer(SSL *s, X509 *leaf, STACK_OF(X509) *peer,
    int authenticated, X509 **owned, int *unproven)
{
	STACK_OF(X509) *chain = staple_verified_chain(s);
	X509 *x;

	*owned = NULL;
	*unproven = 0;
	if (authenticated && chain != NULL &&
	    ossl.OPENSSL_sk_num((OPENSSL_STACK *)chain) > 1)
		return ossl.OPENSSL_sk_value((OPENSSL_STACK *)chain, 1);
	/* the server's word: names agree; its key is checked unless cached */
	for (int i = 1; peer && i < ossl.OPENSSL_sk_num((OPENSSL_STACK *)peer); i++) {
		x = ossl.OPENSSL_sk_value((OPENSSL_STACK *)peer, i);
		if (ossl.X509_check_issued(x, leaf) == X509_V_OK) {
			*unproven = 1;
			return x;
		}
	}
	*owned = staple_client_store_issuer(ossl.SSL_CTX_get_cert_store(
	    ossl.SSL_get_SSL_CTX(s)), leaf);
	return *owned != NULL ? *owned : staple_issuers_find(leaf);
}

/* The judge for this connection: the program's time, flags and security level. */
static void
staple_client_judge(SSL *s, X509 *issuer, struct staple_judge *j)
{
	X509_VERIFY_PARAM *param = ossl.SSL_get0_param(s);

	memset(j, 0, sizeof(*j));
	j->issuer = issuer;
	j->flags = param ? ossl.X509_VERIFY_PARAM_get_flags(param) : 0;
	j->now = (j->flags & X509_V_FLAG_USE_CHECK_TIME) ?
	    staple_param_time(param) : time(NULL);
	j->level = staple_security_level(s);
}

/* A handshake's outcome, for the log line. */
struct staple_outcome {
	X509 *leaf;
	int policy, verdict, must;
	int reject;		/* the policy refuses this verdict */
	int crl_reject;		/* crl = require and no CRL covers the leaf */
	const char *why;	/* the verdict's reason */
	const char *unauth;	/* why it is not enforced, or NULL */
	const char *crl_note;	/* what the CRLs said, when they did not decide */
	char why_buf[256], unauth_buf[160], crl_buf[160];
};

/* One line per outcome, at a level that fits: rejections are errors. */
static void
staple_client_log(SSL *s, const struct staple_outcome *o)
{
	const char *host = staple_client_host(s);
	char subject[256] = "(no certificate)";
	int level = STAPLE_DEBUG;

	if (o->reject)
		level = o->unauth ? STAPLE_WARN : STAPLE_ERROR;
	else if (o->policy == STAPLE_POLICY_REQUEST ||
	    o->verdict == STAPLE_INVALID || o->verdict == STAPLE_REVOKED ||
	    (o->must && o->verdict == STAPLE_MISSING))
		level = STAPLE_WARN;
	if (!staple_log_enabled(level))
		return;
	if (o->leaf != NULL)
		ossl.X509_NAME_oneline(ossl.X509_get_subject_name(o->leaf),
		    subject, sizeof(subject));
	staple_log(level, "%s: %s %s%s: %s%s%s%s%s (policy %s%s%s)",
	    host ? host : "(no SNI)",
	    !o->reject ? "accepted" : o->unauth ? "not enforced:" : "rejected",
	    subject, o->must ? " [Must-Staple]" : "",
	    staple_verdict_name(o->verdict), o->why ? ": " : "",
	    o->why ? o->why : "", o->crl_note ? "; " : "",
	    o->crl_note ? o->crl_note : "", staple_policy_name(o->policy),
	    o->unauth ? "; " : "", o->unauth ? o->unauth : "");
}

/*
 * Whether `leaf` is short-lived: valid for 7 days or less (the Baseline
 * Requirements' definition), its notBefore and notAfter both counted.
 */
static int
staple_client_short_lived(X509 *leaf)
{
	time_t from, to;

	return staple_asn1_time(staple_x509_not_before(leaf), &from) &&
	    staple_asn1_time(staple_x509_not_after(leaf), &to) && to >= from &&
	    (int64_t)to - from + 1 <= 7 * 86400;
}

/*
 * When no valid staple decided the case (o->verdict neither good nor
 * revoked): what the CRLs of crl_dir say about o->leaf, judged by `j`.
 * Listed: the verdict becomes revoked, as a revoked staple's, with the
 * reason and date. crl = require and no current CRL covers the leaf:
 * o->crl_reject.
 */
static void
staple_client_crl(SSL *s, struct staple_outcome *o, const struct staple_judge *j)
{
	int crl = staple_conf_host_crl(staple_client_host(s));
	struct staple_crl_answer a;
	struct tm tm;
	char date[32] = "?";

	if (crl == STAPLE_CRL_OFF || o->leaf == NULL ||
	    o->verdict == STAPLE_GOOD || o->verdict == STAPLE_REVOKED)
		return;
	if (!staple_conf.crl_short_lived && staple_client_short_lived(o->leaf)) {
		o->crl_note = "short-lived certificate: exempt from CRLs";
		return;
	}
	staple_crls_check(o->leaf, j, &a);
	switch (a.state) {
	case STAPLE_CRL_LISTED:
		if (gmtime_r(&a.when, &tm) != NULL)
			strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S UTC", &tm);
		if (a.reason < 0)
			snprintf(o->why_buf, sizeof(o->why_buf), "listed in CRL"
			    " %s: no reason code, revoked %s", a.file, date);
		else
			snprintf(o->why_buf, sizeof(o->why_buf), "listed in CRL"
			    " %s: reason %s (%d), revoked %s", a.file,
			    staple_crl_reason_name(a.reason), a.reason, date);
		o->verdict = STAPLE_REVOKED;
		o->why = o->why_buf;
		break;
	case STAPLE_CRL_CLEAR:
		snprintf(o->crl_buf, sizeof(o->crl_buf), "not listed in CRL %s",
		    a.file);
		o->crl_note = o->crl_buf;
		break;
	default:
		/* under check, nothing known is the common case: no note */
		o->crl_reject = crl == STAPLE_CRL_REQUIRE;
		if (o->crl_reject)
			o->crl_note = "no current CRL covers it (crl = require)";
		break;
	}
}

/* The verdict for a full handshake's staple, in the program's trust context. */
static void
staple_client_verdict(SSL *s, struct staple_outcome *o)
{
	STACK_OF(X509) *peer = ossl.SSL_get_peer_cert_chain(s);
	struct staple_check c = { 0 };
	const unsigned char *der = NULL;
	X509 *owned;
	long len;

	o->unauth = staple_client_unauthenticated(s,
	    ossl.SSL_get_verify_result(s), o->unauth_buf, sizeof(o->unauth_buf));
	if (peer == NULL || ossl.OPENSSL_sk_num((OPENSSL_STACK *)peer) < 1) {
		o->why = "no server certificate";
		o->verdict = STAPLE_INVALID;
		return;
	}
	o->leaf = c.leaf = ossl.OPENSSL_sk_value((OPENSSL_STACK *)peer, 0);
	o->must = staple_must_staple(c.leaf);
	staple_client_judge(s, staple_client_issuer(s, c.leaf, peer,
	    o->unauth == NULL, &owned, &c.unproven), &c.judge);
	len = ossl.SSL_ctrl(s, SSL_CTRL_GET_TLSEXT_STATUS_REQ_OCSP_RESP, 0, &der);
	o->verdict = staple_verify(der, len, &c);
	/* c.why may point into c, which ends here */
	if (c.why != NULL) {
		snprintf(o->why_buf, sizeof(o->why_buf), "%s", c.why);
		o->why = o->why_buf;
	}
	/* an issuer the server sent must have signed the leaf for a CRL to count */
	if (c.unproven && c.judge.issuer != NULL &&
	    ossl.X509_verify(c.leaf, staple_x509_key(c.judge.issuer)) <= 0)
		c.judge.issuer = NULL;
	staple_client_crl(s, o, &c.judge);
	ossl.X509_free(owned);
}

int
staple_client_status(SSL *s, staple_status_fn app, void *arg)
{
	struct staple_outcome o = { .policy =
	    staple_conf_host_policy(staple_client_host(s)) };
	SSL_SESSION *sess = ossl.SSL_get_session(s);

	if (o.policy == STAPLE_POLICY_OFF)
		return app != NULL ? app(s, arg) : 1;
	ossl.ERR_set_mark();
	if (staple_session_reused(s)) {
		/* TLS 1.3 resumption: no staple; the session's verdict decides. */
		o.unauth = staple_client_unauthenticated(s,
		    ossl.SSL_get_verify_result(s), o.unauth_buf,
		    sizeof(o.unauth_buf));
		o.reject = o.unauth == NULL && (sess == NULL ||
		    !staple_accepted(ossl.SSL_SESSION_get0_peer(sess), time(NULL)));
		if (o.reject)
			staple_log(STAPLE_ERROR, "%s: rejected a resumed session"
			    " without an accepted staple (policy %s)",
			    staple_client_host(s) ? staple_client_host(s) :
			    "(no SNI)", staple_policy_name(o.policy));
	} else if (ossl.legacy && ossl.SSL_get_peer_cert_chain(s) == NULL) {
		/*
		 * 1.0.2 asks at ServerHello when the server will send no staple,
		 * before any certificate: decide once it is verified.
		 */
		ossl.SSL_set_ex_data(s, late_index, &late_mark);
	} else {
		staple_client_verdict(s, &o);
		o.reject = staple_policy_rejects(o.policy, o.verdict, o.must) ||
		    o.crl_reject;
		staple_client_log(s, &o);
		staple_accepted_set(o.leaf, !o.reject, time(NULL));
		/* never worse than without libstaple: see staple_client_unauthenticated */
		if (o.unauth != NULL)
			o.reject = 0;
	}
	ossl.ERR_pop_to_mark();
	if (o.reject)
		return 0;
	return app != NULL ? app(s, arg) : 1;
}

int
staple_client_late(SSL *s, X509_STORE_CTX *x, int ok)
{
	struct staple_outcome o = { .verdict = STAPLE_MISSING, .why = "no staple" };
	STACK_OF(X509) *chain;
	long result;

	if (late_index < 0 || ossl.SSL_get_ex_data(s, late_index) != &late_mark)
		return ok;
	ossl.SSL_set_ex_data(s, late_index, NULL);
	/* the program's own verification fails this handshake anyway */
	if (ok <= 0 && (ossl.SSL_get_verify_mode(s) & SSL_VERIFY_PEER))
		return ok;
	o.policy = staple_conf_host_policy(staple_client_host(s));
	chain = staple_verified_chain(s);
	if (o.policy == STAPLE_POLICY_OFF || chain == NULL ||
	    ossl.OPENSSL_sk_num((OPENSSL_STACK *)chain) < 1)
		return ok;
	ossl.ERR_set_mark();
	o.leaf = ossl.OPENSSL_sk_value((OPENSSL_STACK *)chain, 0);
	o.must = staple_must_staple(o.leaf);
	/* the verification's outcome: SSL_get_verify_result is set after this */
	result = ossl.X509_STORE_CTX_get_error(x);
	if (ok <= 0 && result == X509_V_OK)
		result = X509_V_ERR_APPLICATION_VERIFICATION;
	o.unauth = staple_client_unauthenticated(s, result, o.unauth_buf,
	    sizeof(o.unauth_buf));
	if (ossl.OPENSSL_sk_num((OPENSSL_STACK *)chain) > 1) {
		struct staple_judge j;

		staple_client_judge(s, ossl.OPENSSL_sk_value((OPENSSL_STACK *)chain,
		    1), &j);
		staple_client_crl(s, &o, &j);
	}
	o.reject = staple_policy_rejects(o.policy, o.verdict, o.must) ||
	    o.crl_reject;
	staple_client_log(s, &o);
	staple_accepted_set(o.leaf, !o.reject, time(NULL));
	ossl.ERR_pop_to_mark();
	if (!o.reject || o.unauth != NULL)
		return ok;
	ossl.X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
	return 0;
}
