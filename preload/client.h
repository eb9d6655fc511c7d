/*
 * client.h - the client role: request a staple, verify it, apply the policy.
 */
#ifndef STAPLE_CLIENT_H
#define STAPLE_CLIENT_H

#include "ossl.h"
#include "server.h"

/* Allocate the SSL ex_data slot; 0 on failure. */
int staple_client_init(void);

/*
 * Ask for a staple in this client handshake, or stop asking, as the policy
 * for its SNI name says. Called whenever the SSL becomes a client or gets a
 * name. A request the program made itself is never withdrawn.
 */
void staple_client_prepare(SSL *s);

/*
 * Whether the program may resume `sess` on `s`: only a session with a server
 * certificate this process accepted (or any, when the policy is off).
 */
int staple_client_may_resume(SSL *s, SSL_SESSION *sess);

/*
 * The status callback's client half: classify the staple, apply the policy,
 * and on acceptance run the program's own callback `app` (whose verdict
 * stands). Returns 0 to fail the handshake with bad_certificate_status_response.
 */
int staple_client_status(SSL *s, staple_status_fn app, void *arg);

/*
 * 1.0.2, from libstaple's certificate-verify callback: the verdict on a
 * handshake whose server sends no staple, which 1.0.2 announces before the
 * certificate is known. `ok` is the verification's result; returns it, or 0
 * (with X509_V_ERR_APPLICATION_VERIFICATION) to fail the handshake.
 */
int staple_client_late(SSL *s, X509_STORE_CTX *x, int ok);

#endif
