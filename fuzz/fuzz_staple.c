/*
 * fuzz_staple.c - libFuzzer target for the staple loader: whatever bytes a
 * file in the staple directory holds, parsing it, matching its entries to a
 * certificate and judging their times must neither crash nor leak, and must
 * leave OpenSSL's error queue as it was. FUZZ_LEAF and FUZZ_ISSUER name
 * the certificate (PEM) that entries are matched against.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz.h"

static X509 *leaf, *issuer;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_setup((const void *)LLVMFuzzerInitialize);
	leaf = fuzz_cert("FUZZ_LEAF");
	issuer = fuzz_cert("FUZZ_ISSUER");
	ERR_clear_error();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct staple_entry *entries;
	struct staple_certid id;
	const char *why;
	size_t n;

	if (staple_parse(data, size, &entries, &n, &why)) {
		if (leaf != NULL)
			staple_certid_init(&id, leaf, issuer);
		for (size_t i = 0; i < n; i++) {
			if (leaf != NULL)
				(void)staple_certid_match(&id, &entries[i]);
			(void)staple_entry_when(&entries[i], time(NULL), 0);
		}
		free(entries);
	}
	if (ERR_peek_error() != 0)
		abort();	/* the parser must leave the error queue clean */
	return 0;
}
