/*
 * fuzz_store.c - libFuzzer target for the staple directory loader and
 * indexer: the input becomes up to four files in a staple directory (a
 * count byte, then a two-byte length and the bytes of each file); the store
 * rebuilds its snapshot from them and looks a certificate up. Nothing may
 * crash, leak or hang. FUZZ_LEAF and FUZZ_ISSUER name the certificate.
 */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "../preload/store.h"
#include "fuzz.h"

static char dir[] = "/tmp/libstaple-fuzz-store.XXXXXX";
static X509 *leaf, *issuer;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (mkdtemp(dir) == NULL)
		abort();
	setenv("LIBSTAPLE_DIR", dir, 1);
	fuzz_setup((const void *)LLVMFuzzerInitialize);
	leaf = fuzz_cert("FUZZ_LEAF");
	issuer = fuzz_cert("FUZZ_ISSUER");
	ERR_clear_error();
	return 0;
}

/* Write file `i` of the input; new inodes every time. */
static void
put_file(int i, const uint8_t *p, size_t len)
{
	char path[sizeof(dir) + 16];
	FILE *f;

	snprintf(path, sizeof(path), "%s/f%d", dir, i);
	unlink(path);
	if ((f = fopen(path, "w")) == NULL)
		abort();
	fwrite(p, 1, len, f);
	fclose(f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *der = NULL;
	size_t n = size ? data[0] % 5 : 0, at = 1, len;
	char path[sizeof(dir) + 16];

	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/f%d", dir, i);
		unlink(path);
	}
	for (size_t i = 0; i < n && at + 2 <= size; i++) {
		len = (size_t)data[at] << 8 | data[at + 1];
		at += 2;
		if (len > size - at)
			len = size - at;
		put_file((int)i, data + at, len);
		at += len;
	}
	staple_store_reload();
	if (leaf != NULL && staple_store_find(leaf, issuer, &der) > 0)
		OPENSSL_free(der);
	return 0;
}
