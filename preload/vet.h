/*
 * vet.h - the server role's check of a staple before any of it is served:
 * an entry's signature, against its issuer, by the client role's rules at
 * the configured security level; and that OpenSSL's own parse of the file
 * has the very entry the index read. Once per entry and issuer: the verdict
 * lives in the entry (lock-free), as long as the file is unchanged.
 *
 * The store vets the files it reads eagerly, while a rebuild's time budget
 * lasts, against the issuers the process knows; anything left (a very large
 * directory, an issuer only the handshake knows) is vetted by the first
 * handshake that needs it, once.
 */
#ifndef STAPLE_VET_H
#define STAPLE_VET_H

#include <time.h>

#include "ossl.h"
#include "staple.h"

enum staple_sig {
	STAPLE_SIG_UNCHECKED,	/* not vetted yet */
	STAPLE_SIG_OK,		/* signed by its issuer or an authorised responder */
	STAPLE_SIG_BAD		/* not: the file's `why` says why */
};

/* The verdict on `e`; with STAPLE_SIG_OK, *until: the signer's notAfter. */
int staple_entry_sig(const struct staple_entry *e, time_t *until);

/*
 * Vet `e` against `issuer` unless it is vetted already; its verdict. A
 * failure is logged once, as "LABEL: WHY; not served" (LABEL: the file's
 * name as the operator knows it; NULL: not logged, the caller reports).
 */
int staple_entry_vet(const struct staple_entry *e, X509 *issuer,
    const char *label);

/* Vet every entry of `f` whose issuer the process knows (issuers.h). */
void staple_file_vet(struct staple_file *f, const char *label);

/*
 * staple_file_vet, and OpenSSL's parse for the entries whose issuer the
 * process does not know: an entry it refuses or reads otherwise is refused
 * (STAPLE_SIG_BAD, f->unparsed set) as the handshake's vetting would refuse
 * it; the others stay unchecked. For staplectl, which must judge every file
 * as the server will, whatever issuers it was given.
 */
void staple_file_vet_all(struct staple_file *f, const char *label);

/*
 * Where `e` stands for serving at `now` (staple_entry_when), and
 * STAPLE_BADTIME too for a critical extension or a signature that vetting
 * did not accept, or whose signer has expired since. Not vetted yet counts
 * as servable: the server vets it before serving it. The one rule the
 * store and staplectl share.
 */
int staple_entry_servable(const struct staple_entry *e, time_t now);

#endif
