/*
 * vet.h - the server role's check of a staple file before any of it is
 * served: each entry's signature, against the issuer this process knows
 * for the entry's CertID (issuers.h), by the client role's rules at the
 * configured security level. Runs once per file as it is read (at start-up
 * or in a reload), never per handshake.
 */
#ifndef STAPLE_VET_H
#define STAPLE_VET_H

#include "ossl.h"
#include "staple.h"

/*
 * Set each entry's `sig` (STAPLE_SIG_*) and `sig_until`, the file's
 * `vetted_gen`, and `why` (malloc()ed) on the first failure. `bs` is the
 * file's parsed response.
 */
void staple_file_vet(struct staple_file *f, OCSP_BASICRESP *bs);

#endif
