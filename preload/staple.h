/*
 * staple.h - OCSP responses as plain data, shared by both roles: parsing a
 * DER response into entries, matching entries to a certificate by CertID,
 * and the time rules.
 *
 * Entries hold no OpenSSL objects, so snapshots can share them between
 * threads and free them without calling into OpenSSL.
 */
#ifndef STAPLE_STAPLE_H
#define STAPLE_STAPLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "ossl.h"
#include "when.h"

#define STAPLE_HASH_MAX 64	/* the largest CertID hash: SHA-512 */
#define STAPLE_SERIAL_MAX 32	/* RFC 5280 allows 20 octets; be lenient */
#define STAPLE_FILE_MAX (1 << 20) /* larger files are not OCSP responses */
#define STAPLE_MD_MAX 6		/* CertID hashes: SHA-1, SHA-2 and MD5 */

/* Entry flags. */
#define STAPLE_ENTRY_NEXT	1	/* it has a nextUpdate */
#define STAPLE_ENTRY_BADTIME	2	/* thisUpdate or nextUpdate unreadable */
#define STAPLE_ENTRY_BACKWARDS	4	/* nextUpdate before thisUpdate */
#define STAPLE_ENTRY_CRITICAL	8	/* a critical singleExtension */

/* One SingleResponse of a response. */
struct staple_entry {
	const struct staple_file *file;	/* the store's file; NULL elsewhere */
	int md_nid;		/* the CertID hash algorithm */
	unsigned char hash_len;
	unsigned char serial_len;
	unsigned char serial_neg;
	unsigned char flags;	/* STAPLE_ENTRY_* */
	unsigned char name_hash[STAPLE_HASH_MAX];
	unsigned char key_hash[STAPLE_HASH_MAX];
	unsigned char serial[STAPLE_SERIAL_MAX];
	int cert_status;	/* V_OCSP_CERTSTATUS_GOOD, _REVOKED, _UNKNOWN */
	time_t this_update;
	time_t next_update;	/* meaningful with STAPLE_ENTRY_NEXT only */
	uint64_t vetted;	/* atomic: vet.h's verdict on its signature */
};

/* A staple file as last seen on disk, parsed. */
struct staple_file {
	int refs;		/* snapshots holding it (atomic) */
	char *name;		/* relative to the staple directory, or absolute */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	struct timespec ctime;
	int recheck;		/* store: read it again at the next check */
	int nofollow;		/* store: readdir() called it a regular file */
	unsigned char *der;
	size_t der_len;
	size_t nentries;	/* 0: not a usable response (logged once) */
	struct staple_entry *entries;
	char *why;		/* atomic: the first vetting failure, or NULL */
	int unparsed;		/* atomic: that failure is OpenSSL's parse */
};

/* Fetch the CertID digests once, at setup, before any handshake. */
void staple_md_init(void);

/*
 * The CertID digest in slot `i` (0 <= i < STAPLE_MD_MAX) of the table
 * staple_md_init fills, its nid in *nid; NULL when it is not available
 * (or not fetched yet).
 */
const EVP_MD *staple_md_nth(int i, int *nid);

/*
 * Parse a DER OCSP response into *entries (malloc()ed; *n of them). Returns
 * 1, or 0 with *why set when it is not a usable response (not DER, not
 * successful, a critical response extension, no SingleResponse with a
 * CertID). Entries with unreadable times or critical extensions are kept,
 * flagged: a signed "revoked" must count even there. Leaves OpenSSL's
 * error queue as it found it.
 */
int staple_parse(const unsigned char *der, size_t len,
    struct staple_entry **entries, size_t *n, const char **why);

/*
 * The two halves of staple_parse: the BasicOCSPResponse of a DER response
 * (NULL with *why), and its entries. For callers that check the signature
 * too. Neither cleans OpenSSL's error queue.
 */
OCSP_BASICRESP *staple_basic(const unsigned char *der, size_t len,
    const char **why);
int staple_entries(OCSP_BASICRESP *bs, struct staple_entry **entries,
    size_t *n, const char **why);

/*
 * A staple file for `name` with content `der` (a malloc()ed buffer it takes
 * over), refs = 1, its entries not yet vetted (vet.h); NULL on allocation
 * failure. When it is not a usable response, nentries is 0 and *why says why.
 */
struct staple_file *staple_file_parse(const char *name, unsigned char *der,
    size_t len, const char **why);

/* Take another reference. */
void staple_file_hold(struct staple_file *f);

/* Drop a reference; frees the file with the last one. NULL-safe. */
void staple_file_release(struct staple_file *f);

/*
 * A certificate's CertID, hashed lazily per algorithm as entries ask for it.
 * Lives on the stack for one lookup.
 */
struct staple_certid {
	X509 *leaf, *issuer;	/* issuer NULL: nothing matches */
	const unsigned char *serial;
	size_t serial_len;
	int serial_neg;
	int nid[STAPLE_MD_MAX], state[STAPLE_MD_MAX];
	unsigned int len[STAPLE_MD_MAX];
	unsigned char name_hash[STAPLE_MD_MAX][STAPLE_HASH_MAX];
	unsigned char key_hash[STAPLE_MD_MAX][STAPLE_HASH_MAX];
};

/*
 * Start a CertID for `leaf` issued by `issuer`. Without the issuer nothing
 * matches: a CertID is never matched without its issuer key hash.
 */
void staple_certid_init(struct staple_certid *id, X509 *leaf, X509 *issuer);

/* Whether entry `e` is about that certificate. */
int staple_certid_match(struct staple_certid *id, const struct staple_entry *e);

/*
 * Where `e` stands at `now`: thisUpdate may be clock_skew in the future;
 * nextUpdate may have passed by `grace` seconds (the server allows none, the
 * client the skew); without nextUpdate, thisUpdate may be max_age old.
 * STAPLE_BADTIME: a time is unreadable, or nextUpdate precedes thisUpdate.
 */
int staple_entry_when(const struct staple_entry *e, time_t now, long grace);

/* When `e` stops being current (nextUpdate, or thisUpdate + max_age). */
time_t staple_entry_end(const struct staple_entry *e);

/*
 * An ASN.1 UTCTime or GeneralizedTime, read strictly (digits, a valid
 * date, "Z"; fractions of a second are ignored), as seconds since the
 * epoch in *t (staple_time_parse). 0 when it is missing or unreadable:
 * never a guess.
 */
int staple_asn1_time(const ASN1_STRING *s, time_t *t);

/*
 * The name of `leaf`'s staple file, unique per certificate, into `buf`: 16
 * hex digits of the SHA-1 of `issuer`'s public key, "-", the serial in hex
 * ("neg" before a negative one), then `ext` (".der" for the staple that
 * staplectl stores, ".pem" for the register entry that asks for it).
 * 0 when it cannot be made or does not fit.
 */
int staple_cert_name(X509 *leaf, X509 *issuer, const char *ext, char *buf,
    size_t size);

#endif
