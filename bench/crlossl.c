/*
 * crlossl CAFILE LEAF CRL COUNT: the same CRL check done by OpenSSL itself:
 * the CRL (DER) read with d2i_X509_CRL into an X509_STORE, the leaf
 * verified with X509_V_FLAG_CRL_CHECK. The first verification of a fresh
 * process (the CRL read and parsed first) and COUNT later ones (each a
 * whole X509_verify_cert, as a program makes per handshake), and COUNT
 * bare X509_CRL_get0_by_serial lookups. Prints "FIRST_MS LATER_US
 * LOOKUP_US VERDICT RSS_BYTES PSS_BYTES PEAK_BYTES".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

static double
now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

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

/* One verification of leaf against store; its X509_V_ error. */
static int
verify(X509_STORE *store, X509 *leaf)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int err;

	X509_STORE_CTX_init(ctx, store, leaf, NULL);
	X509_verify_cert(ctx);
	err = X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	return err;
}

int
main(int argc, char **argv)
{
	X509_STORE *store = X509_STORE_new();
	X509_REVOKED *rev;
	X509_CRL *crl;
	double t0 = now_s(), t1, t2, t3;
	FILE *f;
	X509 *leaf;
	long count;
	int err;

	if (argc != 5)
		return fprintf(stderr, "usage: crlossl CAFILE LEAF CRL COUNT\n"), 2;
	count = atol(argv[4]);
	if ((f = fopen(argv[2], "r")) == NULL ||
	    (leaf = PEM_read_X509(f, NULL, NULL, NULL)) == NULL)
		return fprintf(stderr, "crlossl: %s: no certificate\n", argv[2]), 1;
	fclose(f);
	if (!X509_STORE_load_locations(store, argv[1], NULL) ||
	    (f = fopen(argv[3], "rb")) == NULL ||
	    (crl = d2i_X509_CRL_fp(f, NULL)) == NULL ||
	    !X509_STORE_add_crl(store, crl))
		return fprintf(stderr, "crlossl: cannot load the CRL\n"), 1;
	fclose(f);
	X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
	err = verify(store, leaf);
	t1 = now_s();
	for (long i = 0; i < count; i++)
		verify(store, leaf);
	t2 = now_s();
	for (long i = 0; i < count; i++)
		X509_CRL_get0_by_serial(crl, &rev,
		    X509_get_serialNumber(leaf));
	t3 = now_s();
	printf("%.2f %.3f %.3f %s %lld %lld %lld\n", (t1 - t0) * 1e3,
	    count ? (t2 - t1) * 1e6 / count : 0,
	    count ? (t3 - t2) * 1e6 / count : 0,
	    err == X509_V_OK ? "clear" : err == X509_V_ERR_CERT_REVOKED ?
	    "revoked" : X509_verify_cert_error_string(err),
	    proc_kb("/proc/self/smaps_rollup", "Rss"),
	    proc_kb("/proc/self/smaps_rollup", "Pss"),
	    proc_kb("/proc/self/status", "VmHWM"));
	X509_CRL_free(crl);
	return 0;
}
