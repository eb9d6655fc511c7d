/*
 * accepted.h - the servers whose staple this process accepted.
 *
 * A resumed TLS session skips the status check, so a session may be resumed
 * only when its server certificate was accepted by a full handshake in this
 * process, and has not been rejected since. Keyed by the certificate's
 * fingerprint, not by session object: programs serialise and copy sessions
 * (Python does, s_client -sess_out does), and the peer certificate is what
 * survives that.
 */
#ifndef STAPLE_ACCEPTED_H
#define STAPLE_ACCEPTED_H

#include <time.h>

#include "ossl.h"

/* Remember that `leaf` was accepted (1) or rejected (0) at `now`. */
void staple_accepted_set(X509 *leaf, int accepted, time_t now);

/* Whether `leaf` was accepted, and not rejected since, within a day. */
int staple_accepted(X509 *leaf, time_t now);

/* pthread_atfork handlers: the table lock must not be held across fork. */
void staple_accepted_fork_prepare(void);
void staple_accepted_fork_parent(void);
void staple_accepted_fork_child(void);

#endif
