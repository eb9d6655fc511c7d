/*
 * crl.h - a strict DER reader for CRLs (RFC 5280 5.1) and the serial index
 * built from one. No OpenSSL here: a CRL of a million entries is walked
 * once, without an allocation per entry, and its signature is checked
 * elsewhere (crlstore.c) over the bytes this reader points at.
 *
 * The reader accepts strict DER only (definite minimal lengths, minimal
 * INTEGERs, BOOLEAN TRUE as 0xFF) and refuses anything else: a CRL it
 * refuses is treated as absent. Whatever it accepts, OpenSSL's
 * d2i_X509_CRL accepts too, with the same entries (fuzz/fuzz_crl.c holds it
 * to that).
 */
#ifndef STAPLE_CRL_H
#define STAPLE_CRL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* A span of bytes inside the CRL being read. */
struct staple_span {
	const unsigned char *p;
	size_t len;
};

/* What a CRL says about itself (staple_crl_parse). */
enum {
	STAPLE_CRL_NEXT = 1 << 0,	/* has a nextUpdate */
	STAPLE_CRL_BADTIME = 1 << 1,	/* an unreadable thisUpdate, nextUpdate or revocationDate */
	STAPLE_CRL_DELTA = 1 << 2,	/* deltaCRLIndicator: a delta CRL */
	STAPLE_CRL_INDIRECT = 1 << 3,	/* IDP indirectCRL, or an entry's certificateIssuer */
	STAPLE_CRL_CRITICAL = 1 << 4,	/* a critical CRL extension not handled here */
	STAPLE_CRL_ENTRY_CRITICAL = 1 << 5, /* a critical entry extension not handled here */
	STAPLE_CRL_IDP = 1 << 6,	/* has an issuingDistributionPoint */
	STAPLE_CRL_SOME_REASONS = 1 << 7, /* IDP onlySomeReasons */
	STAPLE_CRL_NOT_USERS = 1 << 8,	/* IDP onlyContainsCACerts or ...AttributeCerts */
	STAPLE_CRL_IDP_NAMES = 1 << 9	/* IDP names something other than URIs */
};

#define STAPLE_CRL_URIS 8	/* distribution point URIs kept per name list */

struct staple_crl {
	struct staple_span tbs;		/* the whole TBSCertList TLV: what is signed */
	struct staple_span sigalg;	/* signatureAlgorithm TLV (outer) */
	struct staple_span sig;		/* the signature's bytes (no unused-bits byte) */
	struct staple_span issuer;	/* the issuer Name TLV, as encoded */
	struct staple_span akid;	/* authorityKeyIdentifier keyIdentifier, or empty */
	struct staple_span entries;	/* revokedCertificates contents, or empty */
	struct staple_span uris[STAPLE_CRL_URIS]; /* IDP fullName URIs */
	int nuris;
	time_t this_update, next_update;
	unsigned flags;
	size_t count;			/* revoked entries */
};

/*
 * Read the DER CRL `der` into *c (spans point into der). 1, or 0 when it
 * is not a strict-DER CRL. Every entry is read: their count, unreadable
 * times and extensions are in *c.
 */
int staple_crl_parse(const unsigned char *der, size_t len, struct staple_crl *c);

/*
 * The URIs of the CRL distribution points of a certificate, from the DER
 * contents `ext` of its cRLDistributionPoints extension: up to `max` into
 * uris[]. Returns how many, or -1 when the extension is malformed.
 */
int staple_crl_dp_uris(const unsigned char *ext, size_t len,
    struct staple_span *uris, int max);

/* CRLReason names (RFC 5280 5.3.1), "unspecified" for unknown codes. */
const char *staple_crl_reason_name(int reason);

/*
 * The serial index of a CRL: a position-independent block, so that it can
 * live in memory or in a file beside the CRL (written by the refresher,
 * then renamed into place). Native byte order; all offsets from the block's
 * start.
 *
 *   struct staple_crl_index           the header below (64 bytes)
 *   records                           `count` records, packed, from
 *                                     offset sizeof(header):
 *       u8  serial_len                1 to 127
 *       u8  serial[serial_len]        the INTEGER's DER contents
 *       u8  when[8]                   revocationDate, int64 seconds (native)
 *       u8  reason                    CRLReason code, 255: none
 *   (padding to 4 bytes)
 *   u32 slots[nslots]                 at `slots_off`: open addressing with
 *                                     linear probing on
 *                                     staple_hash(serial); 0 empty, else
 *                                     the record's offset
 *
 * Lookups compare the whole serial: a hash collision costs a probe, never
 * a wrong answer. The index of a CRL of n entries takes about
 * n * (serial length + 16) bytes: less than the DER CRL it comes from.
 */
#define STAPLE_CRL_INDEX_MAGIC "LSCRLIX1"
struct staple_crl_index {
	char magic[8];
	uint32_t version;	/* 1 */
	uint32_t count;		/* records */
	uint32_t nslots;	/* table size: count * 3 / 2 + 1 or more */
	uint32_t slots_off;	/* offset of the table */
	uint64_t size;		/* the whole block's size */
	int64_t this_update, next_update;
	unsigned char reserved[16];
};

/*
 * Build the index of the parsed CRL `c` (its entries as staple_crl_parse
 * read them) into a malloc()ed block, *size bytes; NULL on failure.
 */
struct staple_crl_index *staple_crl_index_build(const struct staple_crl *c,
    size_t *size);

/*
 * Whether the block `ix` of `size` bytes is a well-formed index (header,
 * table bounds, every slot pointing at a record inside the block). A
 * block read from a file must pass this before any lookup.
 */
int staple_crl_index_check(const struct staple_crl_index *ix, size_t size);

/*
 * Look serial `s` (INTEGER DER contents, `len` bytes) up in `ix`: 1 with
 * *when and *reason (-1: none) when it is revoked, 0 when it is not.
 */
int staple_crl_index_find(const struct staple_crl_index *ix,
    const unsigned char *s, size_t len, time_t *when, int *reason);

#endif
