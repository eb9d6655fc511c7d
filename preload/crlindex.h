/*
 * crlindex.h - the index file the refresher writes beside each CRL it has
 * verified, so that client processes map it read-only and share it instead
 * of reading, walking and verifying a large CRL each.
 *
 * Where: CRLDIR/.index/NAME for the CRL file CRLDIR/NAME. Written by
 * staple_crl_sidecar_write() (staplectl, as root): a temporary file
 * CRLDIR/.index/.NAME.PID.tmp, then rename() over the final name, so a
 * mapped file is never truncated or rewritten in place.
 *
 * Used by a client process only when all of these hold (otherwise the CRL
 * itself is read, as without an index): the .index directory and the file
 * are owned by root and writable by no one else (no one else can truncate
 * it under a mapping: no SIGBUS), the file is regular, its header is
 * well-formed, and the CRL it describes is the file CRLDIR/NAME as it is now
 * (device, inode, size, mtime). Its issuer key fingerprint must be the
 * handshake issuer's: the refresher's signature check then stands for the
 * process's own; the security level is judged on the bits it records.
 *
 * Format (native byte order, every part 8-byte aligned):
 *
 *   struct staple_crl_sidecar         the header below
 *   issuer Name DER                   issuer_len bytes
 *   URIs                              nuris times: u16 length, bytes
 *   (padding to 8)
 *   struct staple_crl_index block     at index_off, index_len bytes (crl.h)
 */
#ifndef STAPLE_CRLINDEX_H
#define STAPLE_CRLINDEX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "crl.h"
#include "ossl.h"

#define STAPLE_CRL_SIDECAR_MAGIC "LSCRLSC1"
#define STAPLE_CRL_SIDECAR_DIR ".index"

struct staple_crl_sidecar {
	char magic[8];
	uint32_t version;	/* 1 */
	uint32_t flags;		/* the CRL's STAPLE_CRL_* flags */
	uint64_t crl_dev, crl_ino, crl_size;	/* the CRL file described */
	int64_t crl_mtime_sec, crl_mtime_nsec;
	int64_t this_update, next_update;
	unsigned char key_fp[20];	/* SHA-1 of the verifying issuer key */
	int32_t key_bits, sig_bits;	/* as staple_crl_signature() gave them */
	uint32_t issuer_len, nuris;
	uint64_t index_off, index_len;
	uint64_t count;			/* revoked entries */
};

/*
 * Verify the CRL CRLDIR/NAME (`dirfd` open on CRLDIR) with `issuer`, and
 * write its index file (creating CRLDIR/.index 0755 when missing). 1, or 0
 * with *why when the CRL is not one the client role would use with this
 * issuer (not a CRL, unusable, not signed by it) or the file cannot be
 * written. For staplectl, after it stored a verified CRL.
 */
int staple_crl_sidecar_write(int dirfd, const char *name, X509 *issuer,
    const char **why);

/* A mapped index file. */
struct staple_crl_mapped {
	const struct staple_crl_sidecar *hdr;
	const unsigned char *issuer;
	struct staple_span uris[STAPLE_CRL_URIS];
	int nuris;
	const struct staple_crl_index *ix;
	size_t map_len;
};

/*
 * Map the index file of CRL `name` in the directory open as `dirfd`, if it
 * may be used for the CRL file whose stat is `crl` (see above): 1 and *m,
 * or 0 (*why set when an index file was there and refused).
 */
int staple_crl_sidecar_map(int dirfd, const char *name, const struct stat *crl,
    struct staple_crl_mapped *m, const char **why);

/* Unmap what staple_crl_sidecar_map() mapped. NULL-safe. */
void staple_crl_sidecar_unmap(struct staple_crl_mapped *m);

#endif
