/*
 * fuzz_crl.c - libFuzzer target holding the CRL reader (preload/crl.c) to
 * OpenSSL's d2i_X509_CRL: whatever bytes it is given, when the reader
 * accepts a CRL, OpenSSL accepts it too, with the same number of entries,
 * each of them found in the reader's index with the same serial, and the
 * same thisUpdate and nextUpdate. Two exceptions, where the reader accepts
 * more than OpenSSL decodes and the library never uses what it accepted:
 * an indirect CRL (never used), and an issuer Name whose string values
 * OpenSSL refuses to canonicalise (checked by d2i_X509_NAME of the very
 * bytes; such a name matches no certificate's). The leaf's distribution
 * point reader is run over the same bytes too.
 * With FUZZ_CRL_REPORT set, each input's outcome goes to stderr ("same",
 * "reader-refused", "indirect", "name").
 */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "fuzz.h"
#include "../preload/crl.h"

/* libcrypto, called directly */
typedef struct x509_revoked_st X509_REVOKED;


void *X509_CRL_get_REVOKED(X509_CRL *crl);
const ASN1_INTEGER *X509_REVOKED_get0_serialNumber(const X509_REVOKED *x);
const ASN1_TIME *X509_CRL_get0_lastUpdate(const X509_CRL *crl);
const ASN1_TIME *X509_CRL_get0_nextUpdate(const X509_CRL *crl);


void ERR_clear_error(void);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_setup((const void *)LLVMFuzzerInitialize);
	return 0;
}

static void
fuzz_report(const char *what)
{
	if (getenv("FUZZ_CRL_REPORT") != NULL)
		fprintf(stderr, "%s\n", what);
}

static void
fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz_crl: %s\n", what);
	abort();
}

/* Whether OpenSSL decodes the issuer Name bytes the reader accepted. */
static int
fuzz_name_ok(const struct staple_crl *c)
{
	const unsigned char *p = c->issuer.p;
	X509_NAME *n = d2i_X509_NAME(NULL, &p, (long)c->issuer.len);

	X509_NAME_free(n);
	return n != NULL && p == c->issuer.p + c->issuer.len;
}

/* OpenSSL's time `t` against the reader's `mine`. */
static void
fuzz_same_time(const ASN1_TIME *t, time_t mine, const char *what)
{
	time_t theirs;

	if (t == NULL || !staple_asn1_time(t, &theirs) || theirs != mine)
		fuzz_fail(what);
}

/* Every entry OpenSSL decoded is in the reader's index. */
static void
fuzz_same_entries(X509_CRL *crl, const struct staple_crl *c)
{
	OPENSSL_STACK *revoked = X509_CRL_get_REVOKED(crl);
	int n = revoked ? ossl.OPENSSL_sk_num(revoked) : 0, reason;
	struct staple_crl_index *ix;
	unsigned char der[200], *p;
	size_t size;
	time_t when;
	int len;

	if ((size_t)n != c->count)
		fuzz_fail("not the entry count OpenSSL gives");
	if ((ix = staple_crl_index_build(c, &size)) == NULL)
		fuzz_fail("no index for a CRL the reader accepted");
	if (!staple_crl_index_check(ix, size))
		fuzz_fail("the index fails its own check");
	for (int i = 0; i < n; i++) {
		const ASN1_INTEGER *s = X509_REVOKED_get0_serialNumber(
		    ossl.OPENSSL_sk_value(revoked, i));

		p = der;
		if (ossl.i2d_ASN1_INTEGER(s, NULL) > (int)sizeof(der) ||
		    (len = ossl.i2d_ASN1_INTEGER(s, &p)) < 3 || der[1] >= 0x80 ||
		    !staple_crl_index_find(ix, der + 2, (size_t)len - 2, &when,
		    &reason))
			fuzz_fail("an entry OpenSSL decodes is not in the index");
	}
	free(ix);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct staple_span uris[STAPLE_CRL_URIS];
	const unsigned char *p = data;
	struct staple_crl c;
	X509_CRL *crl;

	(void)staple_crl_dp_uris(data, size, uris, STAPLE_CRL_URIS);
	if (!staple_crl_parse(data, size, &c)) {
		fuzz_report("reader-refused");
		return 0;
	}
	if (c.flags & STAPLE_CRL_INDIRECT) {
		fuzz_report("indirect");
		return 0;
	}
	if (!fuzz_name_ok(&c)) {
		fuzz_report("name");
		ERR_clear_error();
		return 0;
	}
	if ((crl = d2i_X509_CRL(NULL, &p, (long)size)) == NULL)
		fuzz_fail("the reader accepts a CRL OpenSSL refuses");
	if (p != data + size)
		fuzz_fail("OpenSSL's CRL ends elsewhere");
	fuzz_same_entries(crl, &c);
	if (!(c.flags & STAPLE_CRL_BADTIME)) {
		fuzz_same_time(X509_CRL_get0_lastUpdate(crl), c.this_update,
		    "thisUpdate differs from OpenSSL's");
		if (c.flags & STAPLE_CRL_NEXT)
			fuzz_same_time(X509_CRL_get0_nextUpdate(crl),
			    c.next_update, "nextUpdate differs from OpenSSL's");
		else if (X509_CRL_get0_nextUpdate(crl) != NULL)
			fuzz_fail("OpenSSL sees a nextUpdate the reader does not");
	}
	fuzz_report("same");
	X509_CRL_free(crl);
	ERR_clear_error();
	return 0;
}
