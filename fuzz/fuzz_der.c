/*
 * fuzz_der.c - libFuzzer target holding the staple index's DER reader
 * (preload/der.c) to OpenSSL's parse: whatever bytes it is given, when both
 * accept them they give the very same entries in the same order. (When the
 * reader gives up, the library asks OpenSSL anyway.) The reader checks
 * parts the index does not use for well-formed DER only, so OpenSSL may
 * still refuse a response it accepts (a corrupt embedded certificate): then
 * vetting, which parses with OpenSSL, must refuse it, so it is never served.
 * With FUZZ_DER_REPORT set, each input's path is printed on stderr ("fast",
 * "fallback" or "vet-refused"), so a test can see which one was taken.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "../preload/der.h"
#include "../preload/vet.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_setup((const void *)LLVMFuzzerInitialize);
	return 0;
}

/* Whether two entries say the same (all but the store's pointers and verdicts). */
static int
fuzz_same(const struct staple_entry *a, const struct staple_entry *b)
{
	return a->md_nid == b->md_nid && a->hash_len == b->hash_len &&
	    a->serial_len == b->serial_len && a->serial_neg == b->serial_neg &&
	    a->flags == b->flags && a->cert_status == b->cert_status &&
	    a->this_update == b->this_update &&
	    a->next_update == b->next_update &&
	    memcmp(a->name_hash, b->name_hash, a->hash_len) == 0 &&
	    memcmp(a->key_hash, b->key_hash, a->hash_len) == 0 &&
	    memcmp(a->serial, b->serial, a->serial_len) == 0;
}

static void
fuzz_report(const char *path)
{
	if (getenv("FUZZ_DER_REPORT") != NULL)
		fprintf(stderr, "%s\n", path);
}

/* Vetting refuses every entry the reader found in a response OpenSSL refuses. */
static void
fuzz_vet_refuses(const uint8_t *data, size_t size, struct staple_entry *e,
    size_t n)
{
	struct staple_file f = { .der = (unsigned char *)data, .der_len = size };
	X509 *issuer = X509_new();	/* never reached: the parse fails first */

	for (size_t i = 0; i < n; i++) {
		e[i].file = &f;
		if (staple_entry_vet(&e[i], issuer, NULL) != STAPLE_SIG_BAD) {
			fprintf(stderr, "vetting took entry %zu of a response"
			    " OpenSSL refuses\n", i);
			abort();
		}
	}
	free(__atomic_load_n(&f.why, __ATOMIC_ACQUIRE));
	X509_free(issuer);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct staple_entry *fast, *slow = NULL;
	size_t nfast, nslow = 0;
	OCSP_BASICRESP *bs;
	const char *why;
	int ok;

	ok = staple_der_parse(data, size, &fast, &nfast);
	if (!ok) {
		fuzz_report("fallback");
		return 0;
	}
	if ((bs = staple_basic(data, size, &why)) == NULL ||
	    !staple_entries(bs, &slow, &nslow, &why)) {
		fuzz_vet_refuses(data, size, fast, nfast);
		fuzz_report("vet-refused");
		free(fast);
		free(slow);
		ossl.OCSP_BASICRESP_free(bs);
		ERR_clear_error();
		return 0;
	}
	fuzz_report("fast");
	if (nslow != nfast) {
		fprintf(stderr, "%zu entries, OpenSSL %zu\n", nfast, nslow);
		abort();
	}
	for (size_t i = 0; i < nfast; i++)
		if (!fuzz_same(&fast[i], &slow[i])) {
			fprintf(stderr, "entry %zu differs from OpenSSL's\n", i);
			abort();
		}
	free(fast);
	free(slow);
	ossl.OCSP_BASICRESP_free(bs);
	ERR_clear_error();
	return 0;
}
