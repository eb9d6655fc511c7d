/*
 * mkcrl - CRLs that `openssl ca -gencrl` makes slowly or not at all: a
 * million entries in a second (the DER is written directly and signed
 * once), partitioned CRLs (an issuingDistributionPoint), delta CRLs and
 * unknown critical extensions, any thisUpdate and nextUpdate.
 *
 *   mkcrl [options] ISSUER.pem ISSUER.key OUT
 *     --entries N      N generated entries (serials 40 + 8 bytes, spread)
 *     --revoke HEX     revoke this serial too (keyCompromise); repeatable
 *     --this SECONDS   thisUpdate, relative to now (default -3600)
 *     --next SECONDS   nextUpdate, relative to now (default 86400; "none")
 *     --number N       crlNumber (default 1)
 *     --idp URL        issuingDistributionPoint naming URL (critical)
 *     --delta N        a deltaCRLIndicator naming base CRL N (critical)
 *     --critical       an unknown critical extension
 *     --entry-critical an unknown critical extension in each --revoke entry
 *     --indirect       an issuingDistributionPoint with indirectCRL TRUE
 *     --pem            PEM instead of DER
 *
 * Generated serial i is 0x40 followed by the 8 bytes of i * an odd
 * constant (big-endian): distinct, unsorted. `mkcrl --serial I` prints it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

struct buf {
	unsigned char *p;
	size_t n, cap;
};

static void
die(const char *msg)
{
	fprintf(stderr, "mkcrl: %s\n", msg);
	exit(1);
}

static void
put(struct buf *b, const void *data, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 64;
		if ((b->p = realloc(b->p, b->cap)) == NULL)
			die("out of memory");
	}
	memcpy(b->p + b->n, data, n);
	b->n += n;
}

/* A tag and a definite length. */
static void
head(struct buf *b, int tag, size_t len)
{
	unsigned char h[6] = { (unsigned char)tag };
	size_t n = 1;

	if (len < 0x80) {
		h[n++] = (unsigned char)len;
	} else {
		int k = len > 0xffffff ? 4 : len > 0xffff ? 3 : len > 0xff ? 2 : 1;

		h[n++] = 0x80 | k;
		while (k-- > 0)
			h[n++] = (unsigned char)(len >> (8 * k));
	}
	put(b, h, n);
}

/* `inner` wrapped in tag: appended to b; inner freed. */
static void
wrap(struct buf *b, int tag, struct buf *inner)
{
	head(b, tag, inner->n);
	put(b, inner->p, inner->n);
	free(inner->p);
	memset(inner, 0, sizeof(*inner));
}

static void
tlv(struct buf *b, int tag, const void *v, size_t n)
{
	head(b, tag, n);
	put(b, v, n);
}

static void
utctime(struct buf *b, time_t t)
{
	char s[32];
	struct tm tm;

	gmtime_r(&t, &tm);
	if (tm.tm_year + 1900 >= 2050) {
		strftime(s, sizeof(s), "%Y%m%d%H%M%SZ", &tm);
		tlv(b, 0x18, s, strlen(s));
	} else {
		strftime(s, sizeof(s), "%y%m%d%H%M%SZ", &tm);
		tlv(b, 0x17, s, strlen(s));
	}
}

/* A non-negative INTEGER from big-endian magnitude bytes. */
static void
integer(struct buf *b, const unsigned char *v, size_t n)
{
	while (n > 1 && v[0] == 0)
		v++, n--;
	if (v[0] & 0x80) {
		head(b, 0x02, n + 1);
		put(b, "", 1);
		put(b, v, n);
	} else {
		tlv(b, 0x02, v, n);
	}
}

static void
integer_u64(struct buf *b, uint64_t x)
{
	unsigned char v[8];

	for (int i = 0; i < 8; i++)
		v[i] = (unsigned char)(x >> (56 - 8 * i));
	integer(b, v, 8);
}

/* One extension: OID content bytes, critical, value (DER, freed). */
static void
extension(struct buf *b, const unsigned char *oid, size_t oid_len,
    int critical, struct buf *value)
{
	struct buf e = { 0 };

	tlv(&e, 0x06, oid, oid_len);
	if (critical)
		tlv(&e, 0x01, "\xff", 1);
	wrap(&e, 0x04, value);
	wrap(b, 0x30, &e);
}

static uint64_t
spread(uint64_t i)
{
	return i * 0x9e3779b97f4a7c15ULL;
}

/* The issuer's key's algorithm with SHA-256, DER. */
static void
sigalg(struct buf *b, EVP_PKEY *key)
{
	static const unsigned char rsa[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
		0x01, 0x01, 0x0b };
	static const unsigned char ec[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04,
		0x03, 0x02 };
	struct buf a = { 0 };

	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
		tlv(&a, 0x06, rsa, sizeof(rsa));
		tlv(&a, 0x05, "", 0);
	} else if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
		tlv(&a, 0x06, ec, sizeof(ec));
	} else {
		die("the issuer key is neither RSA nor EC");
	}
	wrap(b, 0x30, &a);
}

static void
usage(void)
{
	die("usage: mkcrl [--entries N] [--revoke HEX]... [--this S] [--next S|none]"
	    " [--number N] [--idp URL] [--delta N] [--critical] [--pem]"
	    " ISSUER.pem ISSUER.key OUT | mkcrl --serial I");
}

int
main(int argc, char **argv)
{
	static const unsigned char oid_number[] = { 0x55, 0x1d, 0x14 };
	static const unsigned char oid_delta[] = { 0x55, 0x1d, 0x1b };
	static const unsigned char oid_idp[] = { 0x55, 0x1d, 0x1c };
	static const unsigned char oid_aki[] = { 0x55, 0x1d, 0x23 };
	static const unsigned char oid_reason[] = { 0x55, 0x1d, 0x15 };
	static const unsigned char oid_odd[] = { 0x2b, 0x06, 0x01, 0x04, 0x01,
		0x82, 0x37, 0x7f, 0x01 };
	struct buf tbs = { 0 }, list = { 0 }, exts = { 0 }, v = { 0 }, w = { 0 },
	    out = { 0 }, entry = { 0 };
	long long entries = 0, this_off = -3600, next_off = 86400, number = 1,
	    delta = -1;
	const char *idp = NULL, *revoke[64];
	int nrevoke = 0, pem = 0, critical = 0, no_next = 0, i;
	int entry_critical = 0, indirect = 0;
	unsigned char *name = NULL, *sig = NULL;
	size_t siglen = 0;
	time_t now = time(NULL);
	EVP_PKEY *key;
	EVP_MD_CTX *md;
	X509 *issuer;
	FILE *f;
	int namelen;

	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		const char *o = argv[i], *a = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(o, "--pem") == 0) { pem = 1; continue; }
		if (strcmp(o, "--critical") == 0) { critical = 1; continue; }
		if (strcmp(o, "--entry-critical") == 0) { entry_critical = 1; continue; }
		if (strcmp(o, "--indirect") == 0) { indirect = 1; continue; }
		if (a == NULL)
			usage();
		i++;
		if (strcmp(o, "--serial") == 0) {
			printf("40%016llX\n", (unsigned long long)spread(strtoull(a,
			    NULL, 10)));
			return 0;
		} else if (strcmp(o, "--entries") == 0) entries = atoll(a);
		else if (strcmp(o, "--revoke") == 0 && nrevoke < 64) revoke[nrevoke++] = a;
		else if (strcmp(o, "--this") == 0) this_off = atoll(a);
		else if (strcmp(o, "--next") == 0) {
			no_next = strcmp(a, "none") == 0;
			next_off = atoll(a);
		} else if (strcmp(o, "--number") == 0) number = atoll(a);
		else if (strcmp(o, "--idp") == 0) idp = a;
		else if (strcmp(o, "--delta") == 0) delta = atoll(a);
		else usage();
	}
	if (argc - i != 3)
		usage();
	if ((f = fopen(argv[i], "r")) == NULL ||
	    (issuer = PEM_read_X509(f, NULL, NULL, NULL)) == NULL)
		die("cannot read the issuer certificate");
	fclose(f);
	if ((f = fopen(argv[i + 1], "r")) == NULL ||
	    (key = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL)
		die("cannot read the issuer key");
	fclose(f);

	/* revokedCertificates: generated entries (one date), then --revoke */
	for (long long k = 1; k <= entries; k++) {
		uint64_t s = spread((uint64_t)k);
		unsigned char v9[9] = { 0x40 };

		for (int b = 0; b < 8; b++)
			v9[1 + b] = (unsigned char)(s >> (56 - 8 * b));
		entry.n = 0;
		integer(&entry, v9, 9);
		utctime(&entry, now - 86400);
		head(&list, 0x30, entry.n);
		put(&list, entry.p, entry.n);
	}
	for (int k = 0; k < nrevoke; k++) {
		unsigned char bytes[64];
		size_t n = strlen(revoke[k]) / 2;
		struct buf reason = { 0 }, rext = { 0 };

		if (n == 0 || n > sizeof(bytes))
			die("bad --revoke serial");
		for (size_t b = 0; b < n; b++)
			sscanf(revoke[k] + 2 * b, "%2hhx", &bytes[b]);
		entry.n = 0;
		integer(&entry, bytes, n);
		utctime(&entry, now - 7200);
		tlv(&reason, 0x0a, "\x01", 1);	/* keyCompromise */
		extension(&rext, oid_reason, sizeof(oid_reason), 0, &reason);
		if (entry_critical) {
			tlv(&reason, 0x05, "", 0);
			extension(&rext, oid_odd, sizeof(oid_odd), 1, &reason);
		}
		wrap(&entry, 0x30, &rext);
		head(&list, 0x30, entry.n);
		put(&list, entry.p, entry.n);
	}

	/* crlExtensions */
	{
		const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(issuer);

		if (ski != NULL) {
			tlv(&w, 0x80, ASN1_STRING_get0_data(ski),
			    ASN1_STRING_length(ski));
			wrap(&v, 0x30, &w);
			extension(&exts, oid_aki, sizeof(oid_aki), 0, &v);
		}
	}
	integer_u64(&v, (uint64_t)number);
	extension(&exts, oid_number, sizeof(oid_number), 0, &v);
	if (idp != NULL || indirect) {
		struct buf full = { 0 }, dpn = { 0 };

		if (idp != NULL) {
			tlv(&w, 0x86, idp, strlen(idp));	/* uniformResourceIdentifier */
			wrap(&full, 0xa0, &w);		/* fullName */
			wrap(&dpn, 0xa0, &full);	/* distributionPoint */
		}
		if (indirect)
			tlv(&dpn, 0x84, "\xff", 1);	/* indirectCRL TRUE */
		wrap(&v, 0x30, &dpn);
		extension(&exts, oid_idp, sizeof(oid_idp), 1, &v);
	}
	if (delta >= 0) {
		integer_u64(&v, (uint64_t)delta);
		extension(&exts, oid_delta, sizeof(oid_delta), 1, &v);
	}
	if (critical) {
		tlv(&v, 0x05, "", 0);
		extension(&exts, oid_odd, sizeof(oid_odd), 1, &v);
	}

	/* TBSCertList */
	tlv(&tbs, 0x02, "\x01", 1);		/* v2 */
	sigalg(&tbs, key);
	if ((namelen = i2d_X509_NAME(X509_get_subject_name(issuer), &name)) <= 0)
		die("cannot encode the issuer name");
	put(&tbs, name, namelen);
	utctime(&tbs, now + this_off);
	if (!no_next)
		utctime(&tbs, now + next_off);
	if (list.n > 0)
		wrap(&tbs, 0x30, &list);
	wrap(&w, 0x30, &exts);
	wrap(&tbs, 0xa0, &w);
	wrap(&v, 0x30, &tbs);			/* v: the TBS, whole */

	/* signed once */
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, v.p, v.n) != 1 ||
	    (sig = malloc(siglen + 1)) == NULL ||
	    EVP_DigestSign(md, sig + 1, &siglen, v.p, v.n) != 1)
		die("cannot sign");
	sig[0] = 0;				/* no unused bits */
	put(&w, v.p, v.n);
	sigalg(&w, key);
	tlv(&w, 0x03, sig, siglen + 1);
	wrap(&out, 0x30, &w);

	if ((f = fopen(argv[i + 2], "wb")) == NULL)
		die("cannot write OUT");
	if (pem) {
		const unsigned char *p = out.p;
		X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)out.n);

		if (crl == NULL || !PEM_write_X509_CRL(f, crl))
			die("cannot write PEM");
		X509_CRL_free(crl);
	} else if (fwrite(out.p, 1, out.n, f) != out.n) {
		die("cannot write OUT");
	}
	if (fclose(f) != 0)
		die("cannot write OUT");
	return 0;
}
