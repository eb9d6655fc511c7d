/*
 * vet.c - verify a staple file's signature before it is served.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "issuers.h"
#include "signer.h"
#include "vet.h"

/* Verdicts per issuer within one file: one response, usually one issuer. */
#define VET_ISSUERS 4

void
staple_file_vet(struct staple_file *f, OCSP_BASICRESP *bs)
{
	struct { X509 *issuer; int ok; time_t until; } seen[VET_ISSUERS];
	struct staple_judge j;
	int nseen = 0, k;

	f->vetted_gen = staple_issuers_generation();
	for (size_t i = 0; i < f->nentries; i++) {
		struct staple_entry *e = &f->entries[i];
		X509 *issuer = staple_issuers_for(e->md_nid, e->name_hash,
		    e->key_hash, e->hash_len);

		if (issuer == NULL) {
			e->sig = STAPLE_SIG_NOISSUER;
			continue;
		}
		for (k = 0; k < nseen && seen[k].issuer != issuer; k++)
			;
		if (k == nseen) {
			memset(&j, 0, sizeof(j));
			j.issuer = issuer;
			j.now = time(NULL);
			j.level = (int)staple_conf.security_level;
			seen[k].issuer = issuer;
			seen[k].ok = staple_signer_verify(bs, &j, &seen[k].until);
			if (!seen[k].ok && f->why == NULL)
				f->why = strdup(j.why);
			if (nseen < VET_ISSUERS)
				nseen++;
		}
		e->sig = seen[k].ok ? STAPLE_SIG_OK : STAPLE_SIG_BAD;
		e->sig_until = seen[k].until;
	}
}
