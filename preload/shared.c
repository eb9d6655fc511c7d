/*
 * shared.c - map the shared staple index and read it, checking every offset.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "shared.h"

/* Whether `st` is a regular file or directory that only root can change. */
static int
staple_shared_root_only(const struct stat *st)
{
	return st->st_uid == 0 && !(st->st_mode & (S_IWGRP | S_IWOTH));
}

/* Whether the area [off, off + n * size) lies inside the mapping. */
static int
staple_shared_fits(size_t map_len, uint64_t off, uint64_t n, uint64_t size)
{
	return off <= map_len && (size == 0 || n <= (map_len - off) / size);
}

/* Whether the header is one this build reads, its areas inside the file. */
static int
staple_shared_sound(const struct staple_shared_header *h, size_t len)
{
	if (len < sizeof(*h) || memcmp(h->magic, STAPLE_SHARED_MAGIC, 8) != 0 ||
	    h->version != STAPLE_SHARED_VERSION || h->order != 0x01020304 ||
	    h->size != len || h->nbuckets == 0 ||
	    (h->nbuckets & (h->nbuckets - 1)) != 0 ||
	    h->files % 8 || h->entries % 8 || h->start % 4 || h->slots % 4 ||
	    h->listing % 4)
		return 0;
	return staple_shared_fits(len, h->files, h->nfiles,
	    sizeof(struct staple_shared_file)) &&
	    staple_shared_fits(len, h->entries, h->nentries,
	    sizeof(struct staple_shared_entry)) &&
	    staple_shared_fits(len, h->start, (uint64_t)h->nbuckets + 1, 4) &&
	    staple_shared_fits(len, h->slots, h->nentries, 4) &&
	    staple_shared_fits(len, h->listing, h->nfiles, 4) &&
	    staple_shared_fits(len, h->names, h->names_len, 1) &&
	    staple_shared_fits(len, h->blobs, h->blobs_len, 1) &&
	    staple_shared_fits(len, h->der, h->der_len, 1) &&
	    h->names_len > 0 &&
	    ((const char *)h)[h->names + h->names_len - 1] == '\0';
}

/*
 * `n` zeroed words of this process's own, never touched until written: a
 * calloc() of less than malloc's mmap threshold would zero, and so make
 * resident, a table per process and worker for entries it never vets.
 */
static void *
staple_shared_table(size_t n)
{
	void *p = mmap(NULL, (n ? n : 1) * sizeof(uint64_t),
	    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void
staple_shared_table_free(void *p, size_t n)
{
	if (p != NULL)
		munmap(p, (n ? n : 1) * sizeof(uint64_t));
}

struct staple_shared *
staple_shared_wrap(const unsigned char *map, size_t len)
{
	const struct staple_shared_header *h = (const void *)map;
	struct staple_shared *sh;

	if (!staple_shared_sound(h, len) || (sh = calloc(1, sizeof(*sh))) == NULL)
		return NULL;
	_Static_assert(sizeof(char *) <= sizeof(uint64_t), "a why per word");
	if ((sh->vetted = staple_shared_table(h->nentries)) == NULL ||
	    (sh->why = staple_shared_table(h->nfiles)) == NULL) {
		staple_shared_table_free(sh->vetted, h->nentries);
		free(sh);
		return NULL;
	}
	sh->refs = 1;
	sh->map = map;
	sh->map_len = len;
	sh->hdr = h;
	return sh;
}

struct staple_shared *
staple_shared_map(int dirfd, const char **why)
{
	struct staple_shared *sh;
	struct stat dst, st;
	void *map;
	int dfd, fd = -1;

	*why = NULL;
	/* each step opened without following a link, then judged as opened */
	if ((dfd = openat(dirfd, STAPLE_SHARED_DIR, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) < 0)
		return NULL;
	fd = openat(dfd, STAPLE_SHARED_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK | O_NOCTTY);
	if (fd < 0 || fstat(dfd, &dst) != 0 || fstat(fd, &st) != 0) {
		close(dfd);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	close(dfd);
	if (!S_ISREG(st.st_mode) || !staple_shared_root_only(&st) ||
	    !staple_shared_root_only(&dst)) {
		*why = "not used: it and its directory must be root's and"
		    " writable by root alone";
		close(fd);
		return NULL;
	}
	if (st.st_size < (off_t)sizeof(struct staple_shared_header) ||
	    (uint64_t)st.st_size > SIZE_MAX / 2) {
		*why = "not used: malformed";
		close(fd);
		return NULL;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		*why = "not used: it cannot be mapped";
		return NULL;
	}
	if ((sh = staple_shared_wrap(map, (size_t)st.st_size)) == NULL) {
		*why = "not used: malformed";
		munmap(map, (size_t)st.st_size);
		return NULL;
	}
	sh->mapped = 1;
	sh->dev = st.st_dev;
	sh->ino = st.st_ino;
	sh->mtime = st.st_mtim;
	return sh;
}

void
staple_shared_forget(const struct staple_shared *sh)
{
	if (sh != NULL && sh->mapped)
		madvise((void *)sh->map, sh->map_len, MADV_DONTNEED);
}

int
staple_shared_same(const struct staple_shared *sh, const struct stat *st)
{
	return sh->dev == st->st_dev && sh->ino == st->st_ino &&
	    sh->map_len == (size_t)st->st_size &&
	    sh->mtime.tv_sec == st->st_mtim.tv_sec &&
	    sh->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

void
staple_shared_hold(struct staple_shared *sh)
{
	__atomic_add_fetch(&sh->refs, 1, __ATOMIC_RELAXED);
}

void
staple_shared_release(struct staple_shared *sh)
{
	if (sh == NULL || __atomic_sub_fetch(&sh->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	/* failures are few: the table is read, not made resident, to find them */
	for (size_t i = 0; i < sh->hdr->nfiles; i++)
		free(sh->why[i]);
	staple_shared_table_free(sh->why, sh->hdr->nfiles);
	staple_shared_table_free(sh->vetted, sh->hdr->nentries);
	if (sh->mapped)
		munmap((void *)sh->map, sh->map_len);
	free(sh);
}

int
staple_shared_settled(const struct timespec *t, const struct timespec *now)
{
	int64_t ns = ((int64_t)now->tv_sec - t->tv_sec) * 1000000000 +
	    (now->tv_nsec - t->tv_nsec);

	return ns > (t->tv_nsec == 0 ? 2000000000 : 50000000);
}

int
staple_shared_dir_same(const struct staple_shared *sh, const struct stat *st)
{
	const struct staple_shared_header *h = sh->hdr;
	struct timespec built;

	built.tv_sec = (time_t)h->built_sec;
	built.tv_nsec = (long)h->built_nsec;
	return h->dir_ino != 0 && h->dir_dev == (uint64_t)st->st_dev &&
	    h->dir_ino == (uint64_t)st->st_ino &&
	    h->dir_mtime_sec == (int64_t)st->st_mtim.tv_sec &&
	    h->dir_mtime_nsec == (int64_t)st->st_mtim.tv_nsec &&
	    h->dir_ctime_sec == (int64_t)st->st_ctim.tv_sec &&
	    h->dir_ctime_nsec == (int64_t)st->st_ctim.tv_nsec &&
	    staple_shared_settled(&st->st_mtim, &built) &&
	    staple_shared_settled(&st->st_ctim, &built);
}

size_t
staple_shared_nfiles(const struct staple_shared *sh)
{
	return sh->hdr->nfiles;
}

const struct staple_shared_file *
staple_shared_file(const struct staple_shared *sh, size_t k, const char **name)
{
	const struct staple_shared_header *h = sh->hdr;
	const struct staple_shared_file *r;

	if (k >= h->nfiles)
		return NULL;
	r = (const struct staple_shared_file *)(sh->map + h->files) + k;
	/* the names area ends with a NUL (checked when mapped) */
	if (r->name >= h->names_len || r->count > h->nentries ||
	    r->first > h->nentries - r->count || r->der > h->der_len ||
	    r->der_len > h->der_len - r->der)
		return NULL;
	*name = (const char *)sh->map + h->names + r->name;
	return r;
}

long
staple_shared_find(const struct staple_shared *sh, const char *name)
{
	size_t lo = 0, hi = sh->hdr->nfiles;
	const char *n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c;

		if (staple_shared_file(sh, mid, &n) == NULL)
			return -1;	/* malformed: every file is read instead */
		if ((c = strcmp(name, n)) == 0)
			return (long)mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

long
staple_shared_find_next(const struct staple_shared *sh, size_t i,
    const char *name)
{
	const uint32_t *order = (const uint32_t *)(sh->map + sh->hdr->listing);
	const char *n;

	if (i < sh->hdr->nfiles &&
	    staple_shared_file(sh, order[i], &n) != NULL && strcmp(name, n) == 0)
		return (long)order[i];
	return staple_shared_find(sh, name);
}

int
staple_shared_file_same(const struct staple_shared_file *r,
    const struct stat *st)
{
	return !(r->flags & STAPLE_SHARED_SKIPPED) && S_ISREG(st->st_mode) &&
	    r->ino == (uint64_t)st->st_ino && r->size == (uint64_t)st->st_size &&
	    r->mtime_sec == (int64_t)st->st_mtim.tv_sec &&
	    r->mtime_nsec == (uint32_t)st->st_mtim.tv_nsec &&
	    r->ctime_sec == (int64_t)st->st_ctim.tv_sec &&
	    r->ctime_nsec == (uint32_t)st->st_ctim.tv_nsec;
}

int
staple_shared_bucket(const struct staple_shared *sh,
    const unsigned char *serial, size_t len, uint32_t *first, uint32_t *end)
{
	const struct staple_shared_header *h = sh->hdr;
	const uint32_t *start = (const void *)(sh->map + h->start);
	size_t b = staple_hash(STAPLE_HASH_INIT, serial, len) & (h->nbuckets - 1);

	*first = start[b];
	*end = start[b + 1];
	return *first <= *end && *end <= h->nentries;
}

uint32_t
staple_shared_slot(const struct staple_shared *sh, uint32_t i)
{
	return ((const uint32_t *)(sh->map + sh->hdr->slots))[i];
}

int
staple_pick_shared(struct staple_pick *p, struct staple_shared *sh, uint32_t n,
    uint32_t *file)
{
	const struct staple_shared_header *h = sh->hdr;
	const struct staple_shared_entry *se;
	const struct staple_shared_file *r;
	const unsigned char *blob;
	const char *name;

	if (n >= h->nentries)
		return 0;
	se = (const struct staple_shared_entry *)(sh->map + h->entries) + n;
	if ((r = staple_shared_file(sh, se->file, &name)) == NULL ||
	    n < r->first || n - r->first >= r->count ||
	    se->hash_len > STAPLE_HASH_MAX || se->serial_len > STAPLE_SERIAL_MAX ||
	    se->blob > h->blobs_len ||
	    2u * se->hash_len + se->serial_len > h->blobs_len - se->blob)
		return 0;
	memset(p, 0, sizeof(*p));
	p->vetted_at = &sh->vetted[n];
	p->why_at = &sh->why[se->file];
	p->f.name = (char *)name;
	p->f.der = (unsigned char *)sh->map + h->der + r->der;
	p->f.der_len = r->der_len;
	p->f.nentries = r->count;
	p->f.why = __atomic_load_n(p->why_at, __ATOMIC_ACQUIRE);
	p->e.file = &p->f;
	p->e.md_nid = se->md_nid;
	p->e.hash_len = se->hash_len;
	p->e.serial_len = se->serial_len;
	p->e.serial_neg = se->serial_neg;
	p->e.flags = se->flags;
	p->e.cert_status = se->cert_status;
	p->e.this_update = (time_t)se->this_update;
	p->e.next_update = (time_t)se->next_update;
	blob = sh->map + h->blobs + se->blob;
	memcpy(p->e.name_hash, blob, se->hash_len);
	memcpy(p->e.key_hash, blob + se->hash_len, se->hash_len);
	memcpy(p->e.serial, blob + 2 * se->hash_len, se->serial_len);
	p->e.vetted = __atomic_load_n(p->vetted_at, __ATOMIC_ACQUIRE);
	*file = se->file;
	return 1;
}

void
staple_pick_entry(struct staple_pick *p, const struct staple_entry *e)
{
	struct staple_file *f = (struct staple_file *)e->file;

	/*
	 * Field by field: other threads write the verdict word (atomically)
	 * and the rebuilding thread a kept file's stat fields, which a lookup
	 * never reads.
	 */
	memset(p, 0, sizeof(*p));
	p->e.md_nid = e->md_nid;
	p->e.hash_len = e->hash_len;
	p->e.serial_len = e->serial_len;
	p->e.serial_neg = e->serial_neg;
	p->e.flags = e->flags;
	memcpy(p->e.name_hash, e->name_hash, e->hash_len);
	memcpy(p->e.key_hash, e->key_hash, e->hash_len);
	memcpy(p->e.serial, e->serial, e->serial_len);
	p->e.cert_status = e->cert_status;
	p->e.this_update = e->this_update;
	p->e.next_update = e->next_update;
	p->e.vetted = __atomic_load_n(&e->vetted, __ATOMIC_ACQUIRE);
	p->f.name = f->name;
	p->f.der = f->der;
	p->f.der_len = f->der_len;
	p->f.nentries = f->nentries;
	p->f.why = __atomic_load_n(&f->why, __ATOMIC_ACQUIRE);
	p->e.file = &p->f;
	p->vetted_at = &((struct staple_entry *)e)->vetted;
	p->why_at = &f->why;
}

void
staple_pick_copy(struct staple_pick *to, const struct staple_pick *from)
{
	*to = *from;
	to->e.file = &to->f;
}

void
staple_pick_keep(struct staple_pick *p)
{
	char *none = NULL, *why = __atomic_load_n(&p->f.why, __ATOMIC_ACQUIRE);

	__atomic_store_n(p->vetted_at,
	    __atomic_load_n(&p->e.vetted, __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
	if (why == NULL || why == __atomic_load_n(p->why_at, __ATOMIC_ACQUIRE))
		return;
	/* the first reason stays: another thread's may have come first */
	if (!__atomic_compare_exchange_n(p->why_at, &none, why, 0,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		free(why);
	p->f.why = NULL;
}
