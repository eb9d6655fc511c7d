/*
 * crl.h - staplectl's view of a CRL file: what refresh, show and metrics
 * need to judge one (issuer, times, number, entries, extensions), read from
 * its DER by tools/crlfile.c; the signature is OpenSSL's to check.
 */
#ifndef STAPLECTL_CRL_H
#define STAPLECTL_CRL_H

#include <stddef.h>
#include <time.h>

#include "staplectl.h"

#define CTL_CRL_NUMBER_MAX 20	/* RFC 5280: a crlNumber fits 20 octets */

struct ctl_crl {
	unsigned char *der;		/* the CertificateList, DER (malloc()ed) */
	size_t len;
	const unsigned char *issuer;	/* the issuer Name's DER, into der */
	size_t issuer_len;
	time_t this_update;
	time_t next_update;		/* 0: none */
	size_t entries;			/* revokedCertificates */
	unsigned char number[CTL_CRL_NUMBER_MAX];	/* crlNumber, big-endian */
	size_t number_len;		/* 0: none */
	int delta;			/* a deltaCRLIndicator */
	int partitioned;		/* an issuingDistributionPoint */
	int critical;			/* a critical extension not understood */
};

/* What a CRL comes to against the issuers staplectl knows. */
enum { CTL_CRL_OK, CTL_CRL_UNKNOWN_ISSUER, CTL_CRL_BAD_SIGNATURE };

/*
 * Parse `buf` (DER, or the first PEM "X509 CRL" block) into *c, c->der a
 * copy of its own. 1, or 0 with the reason in *why.
 */
int ctl_crl_parse(const unsigned char *buf, size_t len, struct ctl_crl *c,
    const char **why);

/* Free what ctl_crl_parse() allocated (NULL-safe). */
void ctl_crl_clear(struct ctl_crl *c);

/*
 * Read the file `path` (at most `max` bytes) and parse it. 1, or 0 with
 * the reason in *why.
 */
int ctl_crl_load(const char *path, size_t max, struct ctl_crl *c,
    const char **why);

/*
 * The certificate among `known` whose subject is the CRL's issuer (same
 * DER) and whose key verifies its signature, into *issuer (borrowed);
 * CTL_CRL_OK, CTL_CRL_UNKNOWN_ISSUER (no such subject) or
 * CTL_CRL_BAD_SIGNATURE (none of them signed it).
 */
int ctl_crl_issuer(const struct ctl_crl *c, STACK_OF(X509) *known,
    X509 **issuer);

/*
 * Compare two crlNumbers, or thisUpdates when either lacks one: <0 when
 * `a` is older than `b`, 0 the same, >0 newer.
 */
int ctl_crl_cmp(const struct ctl_crl *a, const struct ctl_crl *b);

/*
 * The http:// URLs of `x`'s CRL distribution points (fullName URIs of
 * points without a cRLIssuer: indirect CRLs are not fetched), each
 * malloc()ed, into urls[0..max); how many.
 */
size_t ctl_crl_dps(X509 *x, char **urls, size_t max);

/* The certificate's or CRL issuer's name as one line, into buf. */
void ctl_name_line(const unsigned char *der, size_t len, char *buf,
    size_t size);

/* The subject of `x` as one line (X509_NAME_oneline), into buf. */
void ctl_subject_line(X509 *x, char *buf, size_t size);

/*
 * The certificates of the system trust store's bundle file (SSL_CERT_FILE,
 * else OpenSSL's default), appended to `certs`; the file's name.
 */
const char *ctl_system_certs(STACK_OF(X509) *certs);

int ctl_crl(int argc, char **argv);

#endif
