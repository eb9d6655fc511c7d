/*
 * server.h - the server role: staple the right response in each handshake.
 */
#ifndef STAPLE_SERVER_H
#define STAPLE_SERVER_H

#include "ossl.h"

typedef int (*staple_status_fn)(SSL *, void *);

/*
 * The status callback's server half. The program's own callback `app`
 * (NULL when it has none) runs first with `arg`; when it staples nothing,
 * libstaple staples from the store. Returns what OpenSSL expects: OK when a
 * staple was set, NOACK when none was, or the program's own error verdict.
 */
int staple_server_status(SSL *s, staple_status_fn app, void *arg);

#endif
