/*
 * store.h - the staple store: every staple in the staple directory (and in
 * CERTFILE.ocsp files beside loaded certificates), indexed by CertID.
 *
 * Handshakes read an immutable snapshot (a reference count, no lock held
 * while looking up); at most one thread at a time rebuilds it, at most once
 * per reload interval, re-reading only the files that changed.
 */
#ifndef STAPLE_STORE_H
#define STAPLE_STORE_H

#include <stddef.h>

#include "ossl.h"

/* Open the staple directory and load it, once per process. Cheap after. */
void staple_store_open(void);

/*
 * Open the store, or, when it is open, check the directory now (re-reading
 * only what changed): a program (re)loading its certificates, as nginx does
 * on SIGHUP, gets the staples as they are.
 */
void staple_store_refresh(void);

/* Rebuild from the directory now, whatever the interval says (tools, tests). */
void staple_store_reload(void);

/* Also serve `certfile`.ocsp, if it exists now or appears later. */
void staple_store_watch(const char *certfile);

/*
 * The staple for `leaf`, issued by `issuer` (NULL when the chain does not
 * say): a CRYPTO_malloc()ed copy of the freshest current response, stored
 * in *der. Returns its length, or 0 when there is none, after logging why
 * (once per log interval). Checks the directory first when it is due.
 */
size_t staple_store_find(X509 *leaf, X509 *issuer, unsigned char **der);

/* pthread_atfork handlers: the store's lock must not be held across fork. */
void staple_store_fork_prepare(void);
void staple_store_fork_parent(void);
void staple_store_fork_child(void);

#endif
