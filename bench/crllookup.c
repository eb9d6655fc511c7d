/*
 * crllookup LEAF ISSUER COUNT: what a CRL lookup costs under libstaple, in
 * the library's own code (preload/crlstore.c, linked here as in staplectl):
 * the first lookup of a fresh process (the CRL directory read, parsed,
 * indexed and its signature checked) and COUNT later ones, as the client
 * role makes them for each handshake. The CRL directory is the config's
 * crl_dir (LIBSTAPLE_CONF). Prints "FIRST_MS LATER_US VERDICT RSS_BYTES
 * PSS_BYTES PEAK_BYTES".
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../preload/config.h"
#include "../preload/crlstore.h"
#include "../preload/log.h"
#include "../preload/ossl.h"
#include "../preload/signer.h"
#include "../preload/staple.h"

static double
now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static X509 *
read_pem(const char *file)
{
	BIO *in = ossl.BIO_new_file(file, "r");
	X509 *x = in ? ossl.PEM_read_bio_X509(in, NULL, NULL, NULL) : NULL;

	ossl.BIO_free(in);
	if (x == NULL) {
		fprintf(stderr, "crllookup: %s: no certificate\n", file);
		exit(1);
	}
	return x;
}

/* A field of /proc/self/status or smaps_rollup, in bytes. */
static long long
proc_kb(const char *file, const char *field)
{
	char line[256];
	long long kb = -1;
	FILE *f = fopen(file, "r");
	size_t n = strlen(field);

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			kb = atoll(line + n + 1);
	if (f != NULL)
		fclose(f);
	return kb * 1024;
}

int
main(int argc, char **argv)
{
	static const char *const verdicts[] = { "none", "revoked", "clear" };
	struct staple_crl_answer a;
	struct staple_judge j;
	double t0, t1, t2;
	void *ssl;
	X509 *leaf, *issuer;
	long count;

	if (argc != 4)
		return fprintf(stderr, "usage: crllookup LEAF ISSUER COUNT\n"), 2;
	count = atol(argv[3]);
	staple_conf_env();
	staple_conf_load();
	staple_log_configure("stderr", -1);
	if ((ssl = dlopen("libssl.so.3", RTLD_NOW)) == NULL &&
	    (ssl = dlopen("libssl.so.1.1", RTLD_NOW)) == NULL)
		return fprintf(stderr, "crllookup: no libssl\n"), 1;
	if (!staple_ossl_resolve(dlsym(ssl, "SSL_CTX_new")))
		return fprintf(stderr, "crllookup: cannot use this libssl\n"), 1;
	staple_md_init();
	leaf = read_pem(argv[1]);
	issuer = read_pem(argv[2]);
	memset(&j, 0, sizeof(j));
	j.issuer = issuer;
	j.now = time(NULL);
	j.level = 2;
	t0 = now_s();
	staple_crls_check(leaf, &j, &a);
	t1 = now_s();
	for (long i = 0; i < count; i++)
		staple_crls_check(leaf, &j, &a);
	t2 = now_s();
	printf("%.2f %.3f %s %lld %lld %lld\n", (t1 - t0) * 1e3,
	    count ? (t2 - t1) * 1e6 / count : 0, verdicts[a.state],
	    proc_kb("/proc/self/smaps_rollup", "Rss"),
	    proc_kb("/proc/self/smaps_rollup", "Pss"),
	    proc_kb("/proc/self/status", "VmHWM"));
	return 0;
}
