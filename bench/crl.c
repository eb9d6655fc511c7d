/*
 * crl.c - the client role's CRL lookup, timed: the first lookup in a fresh
 * process (directory scan, read, DER walk, index, signature) and later
 * ones, beside OpenSSL's own X509_STORE check (X509_V_FLAG_CRL_CHECK) of
 * the same leaf against the same CRL.
 *
 *   bench/crl CRLDIR LEAF.pem ISSUER.pem ROOT.pem [LOOKUPS]
 *
 * Prints "libstaple first_ms later_us rss_mb state" and
 * "openssl first_ms later_us rss_mb result" lines. Linked with libstaple's
 * objects and the system's libssl.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../preload/config.h"
#include "../preload/crlstore.h"
#include "../preload/ossl.h"
#include "../preload/staple.h"

/* libcrypto, called directly (the rest is declared by openssl-abi.h) */
typedef struct x509_lookup_st X509_LOOKUP;
typedef struct x509_lookup_method_st X509_LOOKUP_METHOD;
X509_LOOKUP *X509_STORE_add_lookup(X509_STORE *v, X509_LOOKUP_METHOD *m);
X509_LOOKUP_METHOD *X509_LOOKUP_file(void);
int X509_load_crl_file(X509_LOOKUP *ctx, const char *file, int type);
int X509_STORE_set_flags(X509_STORE *ctx, unsigned long flags);
int X509_STORE_add_cert(X509_STORE *ctx, X509 *x);
#define X509_FILETYPE_ASN1 2
#define X509_V_FLAG_CRL_CHECK 0x4

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
rss_mb(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f != NULL) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * (double)sysconf(_SC_PAGESIZE) / (1 << 20);
}

static X509 *
cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

	if (f != NULL)
		fclose(f);
	if (x == NULL) {
		fprintf(stderr, "bench/crl: cannot read %s\n", path);
		exit(1);
	}
	return x;
}

static void
bench_libstaple(X509 *leaf, X509 *issuer, int n)
{
	struct staple_judge j = { .issuer = issuer, .now = time(NULL), .level = 1 };
	struct staple_crl_answer a;
	double t0, t1, t2, rss0 = rss_mb();

	t0 = now_s();
	staple_crls_check(leaf, &j, &a);
	t1 = now_s();
	for (int i = 0; i < n; i++)
		staple_crls_check(leaf, &j, &a);
	t2 = now_s();
	printf("libstaple first_ms %.1f later_us %.2f rss_mb %.1f state %d\n",
	    (t1 - t0) * 1e3, (t2 - t1) * 1e6 / n, rss_mb() - rss0, a.state);
}

static void
bench_openssl(const char *crl, X509 *leaf, X509 *issuer, X509 *root, int n)
{
	X509_STORE *st;
	X509_STORE_CTX *ctx;
	double t0, t1 = 0, t2, rss0 = rss_mb();
	int result = 0;

	t0 = now_s();
	st = X509_STORE_new();
	X509_STORE_add_cert(st, root);
	X509_STORE_add_cert(st, issuer);
	X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
	if (X509_load_crl_file(X509_STORE_add_lookup(st, X509_LOOKUP_file()),
	    crl, X509_FILETYPE_ASN1) != 1)
		fprintf(stderr, "bench/crl: OpenSSL cannot load %s\n", crl);
	for (int i = 0; i <= n; i++) {
		if (i == 1)
			t1 = now_s();
		ctx = X509_STORE_CTX_new();
		X509_STORE_CTX_init(ctx, st, leaf, NULL);
		X509_verify_cert(ctx);
		result = X509_STORE_CTX_get_error(ctx);
		X509_STORE_CTX_free(ctx);
	}
	t2 = now_s();
	printf("openssl first_ms %.1f later_us %.2f rss_mb %.1f result %d\n",
	    (t1 - t0) * 1e3, (t2 - t1) * 1e6 / n, rss_mb() - rss0, result);
	X509_STORE_free(st);
}

int
main(int argc, char **argv)
{
	int n = argc > 5 ? atoi(argv[5]) : 100000;
	X509 *leaf, *issuer, *root;
	char crl[4096];

	if (argc < 5) {
		fprintf(stderr, "usage: bench/crl CRLDIR LEAF ISSUER ROOT [LOOKUPS]\n");
		return 2;
	}
	setenv("LIBSTAPLE_LOG", "none", 1);
	staple_conf_env();
	staple_conf_load();
	snprintf(staple_conf.crl_dir, sizeof(staple_conf.crl_dir), "%s", argv[1]);
	staple_conf.reload_interval = 300;
	if (!staple_ossl_resolve((const void *)main))
		return 1;
	leaf = cert(argv[2]);
	issuer = cert(argv[3]);
	root = cert(argv[4]);
	if (getenv("BENCH_OPENSSL") != NULL) {
		snprintf(crl, sizeof(crl), "%s/%s", argv[1], getenv("BENCH_OPENSSL"));
		bench_openssl(crl, leaf, issuer, root, n > 1000 ? 1000 : n);
	} else {
		bench_libstaple(leaf, issuer, n);
	}
	return 0;
}
