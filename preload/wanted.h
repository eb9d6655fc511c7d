/*
 * wanted.h - the register of wanted staples: every certificate with an OCSP
 * URL that a server context is given is recorded as DIR/.wanted/NAME.pem
 * (NAME: its staple's name, staple_cert_name), with the issuer this process
 * knows for it, so that `staplectl refresh` fetches its staple with no
 * certificate list configured. `register = no` turns it off.
 *
 * Called where the program loads its certificates (interpose.c), never in a
 * handshake; a certificate is written at most once a day per process.
 */
#ifndef STAPLE_WANTED_H
#define STAPLE_WANTED_H

#include "ossl.h"

/*
 * A server context was given `leaf`, read from `certfile` (NULL: not from a
 * file, or not known): note it, if it names an OCSP responder and this
 * process has not handled it in the last day. Cheap; writes nothing.
 */
void staple_wanted_add(X509 *leaf, const char *certfile);

/*
 * Register every noted certificate whose issuer is known now (issuers.h):
 * call it after the issuers a load brought were learned. One that has none
 * yet waits for a later call that knows more.
 */
void staple_wanted_flush(void);

/* pthread_atfork handlers for its lock. */
void staple_wanted_fork_prepare(void);
void staple_wanted_fork_parent(void);
void staple_wanted_fork_child(void);

#endif
