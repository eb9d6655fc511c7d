/*
 * crlindex.c - index files beside verified CRLs: written by the refresher,
 * mapped read-only by client processes (format and rules: crlindex.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "compat.h"
#include "crlindex.h"
#include "crlstore.h"

#define ALIGN8(n) (((n) + 7) & ~(size_t)7)

/* Write all of buf to fd. */
static int
crlx_write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		p += n;
		len -= (size_t)n;
	}
	return 1;
}

/* The header, meta and index of a verified CRL into a new file `fd`. */
static int
crlx_emit(int fd, const struct staple_crl *c, const struct stat *st,
    const unsigned char *fp, int key_bits, int sig_bits,
    const struct staple_crl_index *ix, size_t ixlen)
{
	static const unsigned char zero[8];
	struct staple_crl_sidecar h;
	size_t meta = c->issuer.len;
	uint16_t ulen;

	for (int i = 0; i < c->nuris; i++)
		meta += 2 + c->uris[i].len;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, STAPLE_CRL_SIDECAR_MAGIC, 8);
	h.version = 1;
	h.flags = c->flags;
	h.crl_dev = st->st_dev;
	h.crl_ino = st->st_ino;
	h.crl_size = (uint64_t)st->st_size;
	h.crl_mtime_sec = st->st_mtim.tv_sec;
	h.crl_mtime_nsec = st->st_mtim.tv_nsec;
	h.this_update = c->this_update;
	h.next_update = c->next_update;
	memcpy(h.key_fp, fp, 20);
	h.key_bits = key_bits;
	h.sig_bits = sig_bits;
	h.issuer_len = (uint32_t)c->issuer.len;
	h.nuris = (uint32_t)c->nuris;
	h.index_off = ALIGN8(sizeof(h) + meta);
	h.index_len = ixlen;
	h.count = c->count;
	if (!crlx_write_all(fd, &h, sizeof(h)) ||
	    !crlx_write_all(fd, c->issuer.p, c->issuer.len))
		return 0;
	for (int i = 0; i < c->nuris; i++) {
		ulen = (uint16_t)c->uris[i].len;
		if (!crlx_write_all(fd, &ulen, 2) ||
		    !crlx_write_all(fd, c->uris[i].p, c->uris[i].len))
			return 0;
	}
	return crlx_write_all(fd, zero, h.index_off - sizeof(h) - meta) &&
	    crlx_write_all(fd, ix, ixlen);
}

/* Write the index file for `c` under CRLDIR/.index, atomically. */
static int
crlx_store(int dirfd, const char *name, const struct staple_crl *c,
    const struct stat *st, const unsigned char *fp, int key_bits,
    int sig_bits, const char **why)
{
	struct staple_crl_index *ix;
	char tmp[512], final[512];
	size_t ixlen;
	int fd, ok;

	if ((ix = staple_crl_index_build(c, &ixlen)) == NULL) {
		*why = "out of memory";
		return 0;
	}
	if ((mkdirat(dirfd, STAPLE_CRL_SIDECAR_DIR, 0755) != 0 && errno != EEXIST) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.%ld.tmp", STAPLE_CRL_SIDECAR_DIR,
	    name, (long)getpid()) >= (int)sizeof(tmp) ||
	    snprintf(final, sizeof(final), "%s/%s", STAPLE_CRL_SIDECAR_DIR,
	    name) >= (int)sizeof(final)) {
		free(ix);
		*why = "cannot create the index directory";
		return 0;
	}
	unlinkat(dirfd, tmp, 0);
	if ((fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644)) < 0) {
		free(ix);
		*why = "cannot create the index file";
		return 0;
	}
	ok = crlx_emit(fd, c, st, fp, key_bits, sig_bits, ix, ixlen) &&
	    fsync(fd) == 0;
	ok = close(fd) == 0 && ok && renameat(dirfd, tmp, dirfd, final) == 0;
	if (!ok) {
		unlinkat(dirfd, tmp, 0);
		*why = "cannot write the index file";
	}
	free(ix);
	return ok;
}

int
staple_crl_sidecar_write(int dirfd, const char *name, X509 *issuer,
    const char **why)
{
	unsigned char *der = NULL, fp[20];
	unsigned int fplen = 0;
	struct staple_crl c;
	struct stat st;
	size_t len = 0;
	int fd, ok = 0, key_bits = 0, sig_bits = 0;

	*why = "unreadable";
	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		der = staple_crl_read(fd, st.st_size, &len);
	close(fd);
	if (der == NULL)
		return 0;
	if (len == 0 || !staple_crl_parse(der, len, &c))
		*why = "not a DER or PEM CRL, or not strict DER";
	else if ((*why = staple_crl_unusable(&c)) != NULL)
		;
	else if (!ossl.X509_pubkey_digest(issuer, ossl.EVP_sha1(), fp, &fplen) ||
	    fplen != 20)
		*why = "the issuer's key is unreadable";
	else if (!staple_crl_signature(&c, staple_x509_key(issuer), &key_bits,
	    &sig_bits, why))
		;
	else
		ok = crlx_store(dirfd, name, &c, &st, fp, key_bits, sig_bits, why);
	free(der);
	return ok;
}

/* Whether st is a regular file or directory only root can change. */
static int
crlx_root_only(const struct stat *st)
{
	return st->st_uid == 0 && !(st->st_mode & (S_IWGRP | S_IWOTH));
}

/* The header and meta of a mapped file, checked against the file's size. */
static int
crlx_parse(const unsigned char *base, size_t len, struct staple_crl_mapped *m)
{
	const struct staple_crl_sidecar *h = (const void *)base;
	const struct staple_crl_index *ix;
	size_t off;
	uint16_t ulen;

	if (len < sizeof(*h) || memcmp(h->magic, STAPLE_CRL_SIDECAR_MAGIC, 8) ||
	    h->version != 1 || h->nuris > STAPLE_CRL_URIS ||
	    h->issuer_len > len - sizeof(*h) || (h->index_off & 7) ||
	    h->index_off > len || h->index_len != len - h->index_off ||
	    h->index_len < sizeof(*ix))
		return 0;
	m->hdr = h;
	m->issuer = base + sizeof(*h);
	off = sizeof(*h) + h->issuer_len;
	for (uint32_t i = 0; i < h->nuris; i++) {
		if (h->index_off - off < 2)
			return 0;
		memcpy(&ulen, base + off, 2);
		off += 2;
		if (h->index_off - off < ulen)
			return 0;
		m->uris[i].p = base + off;
		m->uris[i].len = ulen;
		off += ulen;
	}
	m->nuris = (int)h->nuris;
	ix = (const void *)(base + h->index_off);
	/*
	 * The header only: the table's slots are bounded on each lookup
	 * (staple_crl_index_find), so a first lookup touches a few pages.
	 */
	if (memcmp(ix->magic, STAPLE_CRL_INDEX_MAGIC, 8) || ix->version != 1 ||
	    ix->size != h->index_len || ix->count != h->count ||
	    ix->nslots <= ix->count || ix->slots_off < sizeof(*ix) ||
	    (ix->slots_off & 3) || ix->slots_off > ix->size ||
	    (ix->size - ix->slots_off) / 4 != ix->nslots)
		return 0;
	m->ix = ix;
	return 1;
}

int
staple_crl_sidecar_map(int dirfd, const char *name, const struct stat *crl,
    struct staple_crl_mapped *m, const char **why)
{
	char path[512];
	struct stat dst, st;
	void *base;
	int fd;

	memset(m, 0, sizeof(*m));
	*why = NULL;
	if (fstatat(dirfd, STAPLE_CRL_SIDECAR_DIR, &dst, AT_SYMLINK_NOFOLLOW) != 0 ||
	    snprintf(path, sizeof(path), "%s/%s", STAPLE_CRL_SIDECAR_DIR, name) >=
	    (int)sizeof(path))
		return 0;
	if ((fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK)) < 0)
		return 0;
	*why = "index file not used: it and its directory must be root's and"
	    " writable by root alone";
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !S_ISDIR(dst.st_mode) ||
	    !crlx_root_only(&st) || !crlx_root_only(&dst)) {
		close(fd);
		return 0;
	}
	*why = NULL;	/* an index of another CRL (an older one): not used */
	if (st.st_size <= 0) {
		close(fd);
		return 0;
	}
	base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (base == MAP_FAILED)
		return 0;
	m->map_len = (size_t)st.st_size;
	if (!crlx_parse(base, m->map_len, m)) {
		*why = "index file not used: malformed";
	} else if (m->hdr->crl_dev != (uint64_t)crl->st_dev ||
	    m->hdr->crl_ino != (uint64_t)crl->st_ino ||
	    m->hdr->crl_size != (uint64_t)crl->st_size ||
	    m->hdr->crl_mtime_sec != (int64_t)crl->st_mtim.tv_sec ||
	    m->hdr->crl_mtime_nsec != (int64_t)crl->st_mtim.tv_nsec) {
		*why = NULL;
	} else {
		return 1;
	}
	munmap(base, m->map_len);
	memset(m, 0, sizeof(*m));
	return 0;
}

void
staple_crl_sidecar_unmap(struct staple_crl_mapped *m)
{
	if (m != NULL && m->hdr != NULL)
		munmap((void *)m->hdr, m->map_len);
}
