/*
 * staple.h - one staple file: a DER OCSP response and the CertIDs it covers.
 *
 * A parsed file holds plain data only (no OpenSSL objects), so snapshots
 * can share it between threads and free it without calling into OpenSSL.
 */
#ifndef STAPLE_STAPLE_H
#define STAPLE_STAPLE_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#define STAPLE_HASH_MAX 64	/* the largest CertID hash: SHA-512 */
#define STAPLE_SERIAL_MAX 32	/* RFC 5280 allows 20 octets; be lenient */
#define STAPLE_FILE_MAX (1 << 20) /* larger files are not OCSP responses */

/* One SingleResponse of a response. */
struct staple_entry {
	const struct staple_file *file;
	int md_nid;		/* the CertID hash algorithm */
	unsigned char hash_len;
	unsigned char serial_len;
	unsigned char serial_neg;
	unsigned char name_hash[STAPLE_HASH_MAX];
	unsigned char key_hash[STAPLE_HASH_MAX];
	unsigned char serial[STAPLE_SERIAL_MAX];
	int cert_status;	/* V_OCSP_CERTSTATUS_GOOD, _REVOKED, _UNKNOWN */
	time_t this_update;
	time_t next_update;	/* 0: the response has none */
};

/* A file as last seen on disk, parsed. */
struct staple_file {
	int refs;		/* snapshots holding it (atomic) */
	char *name;		/* relative to the staple directory, or absolute */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	unsigned char *der;
	size_t der_len;
	size_t nentries;	/* 0: not a usable response (logged once) */
	struct staple_entry *entries;
};

/*
 * Parse `der` (taking ownership of it, a malloc()ed buffer) as the content
 * of the file `name`; `label` names it in log lines. Returns a file with
 * refs = 1, or NULL on allocation failure. A file that is not a usable
 * response gets nentries = 0 and one log line saying why.
 */
struct staple_file *staple_file_parse(const char *name, const char *label,
    unsigned char *der, size_t len);

/* Take another reference. */
void staple_file_hold(struct staple_file *f);

/* Drop a reference; frees the file with the last one. NULL-safe. */
void staple_file_release(struct staple_file *f);

#endif
