/*
 * fuzz.h - what the fuzz targets share: libstaple's setup, quiet, with the
 * OpenSSL symbol table filled from the libssl the target links.
 */
#ifndef STAPLE_FUZZ_H
#define STAPLE_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

#include "../preload/config.h"
#include "../preload/ossl.h"
#include "../preload/staple.h"

/*
 * The targets link libssl and libcrypto and call these directly; the rest
 * of their declarations are the library's (openssl-abi.h).
 */
X509 *X509_new(void);
unsigned long ERR_peek_error(void);
#define OPENSSL_free(p) CRYPTO_free((p), __FILE__, __LINE__)

/* Configuration (environment first), symbols, digests; aborts if unusable. */
static inline void
fuzz_setup(const void *self)
{
	setenv("LIBSTAPLE_LOG", "none", 1);
	staple_conf_env();
	staple_conf_load();
	if (!staple_ossl_resolve(self))
		abort();
	staple_md_init();
}

/* The PEM certificate in the file the environment variable `name` names. */
static inline X509 *
fuzz_cert(const char *name)
{
	const char *path = getenv(name);
	FILE *f = path ? fopen(path, "r") : NULL;
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

	if (f != NULL)
		fclose(f);
	ERR_clear_error();
	return x;
}

#endif
