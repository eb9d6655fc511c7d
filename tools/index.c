/*
 * index.c - staplectl index: write the shared staple index of a staple
 * directory (preload/shared.h), which server processes map instead of each
 * reading and parsing every staple file.
 *
 * It holds what the directory holds when it is written: each regular file's
 * response, parsed, with the inode, size and time stamps it had, so that a
 * process takes a staple from the index only while the file is unchanged.
 * Files written in the last seconds are waited for (their time stamps could
 * be shared by a second write); files that are not usable responses, links
 * and other non-regular files are listed as skipped, so that processes read
 * them (and log why) as without an index. Subdirectories are left out.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../preload/config.h"
#include "../preload/log.h"
#include "../preload/shared.h"
#include "../preload/staple.h"
#include "staplectl.h"

/* One directory entry as it will be recorded. */
struct ix_file {
	char *name;
	int type;			/* d_type */
	uint32_t listed;		/* its place in readdir()'s order */
	struct stat st;
	unsigned char *der;
	size_t der_len;
	struct staple_entry *entries;
	size_t nentries;
	uint32_t flags;
};

struct ix {
	struct ix_file *files;
	size_t n, cap;
	size_t nentries, names_len, blobs_len, der_len;
};

static void
ix_free(struct ix *ix)
{
	for (size_t i = 0; i < ix->n; i++) {
		free(ix->files[i].name);
		free(ix->files[i].der);
		free(ix->files[i].entries);
	}
	free(ix->files);
	memset(ix, 0, sizeof(*ix));
}

static int
ix_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ix_file *)a)->name,
	    ((const struct ix_file *)b)->name);
}

/* Every name of the directory open as `dfd`, but dot files and directories. */
static int
ix_list(int dfd, struct ix *ix)
{
	struct dirent *d;
	struct ix_file *grown;
	DIR *dir;
	int fd;

	if ((fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (dir = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.' || d->d_type == DT_DIR)
			continue;
		if (ix->n == ix->cap) {
			ix->cap = ix->cap ? 2 * ix->cap : 256;
			if ((grown = realloc(ix->files, ix->cap *
			    sizeof(*grown))) == NULL)
				break;
			ix->files = grown;
		}
		memset(&ix->files[ix->n], 0, sizeof(ix->files[0]));
		ix->files[ix->n].type = d->d_type;
		ix->files[ix->n].listed = (uint32_t)ix->n;
		if ((ix->files[ix->n].name = strdup(d->d_name)) == NULL)
			break;
		ix->n++;
	}
	closedir(dir);
	if (d != NULL)
		return 0;
	qsort(ix->files, ix->n, sizeof(*ix->files), ix_cmp);
	return 1;
}

/* Whether a time stamp of `st` is too recent to tell a later change by. */
static int
ix_fresh(const struct stat *st)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return !staple_shared_settled(&st->st_mtim, &now) ||
	    !staple_shared_settled(&st->st_ctim, &now);
}

/* Wait until the directory's and its files' time stamps have settled. */
static void
ix_settle(int dfd, const struct ix *ix)
{
	struct stat st;

	for (int tries = 0; tries < 40; tries++) {
		size_t i = 0;

		if (fstat(dfd, &st) == 0 && !ix_fresh(&st))
			for (; i < ix->n; i++)
				if (fstatat(dfd, ix->files[i].name, &st,
				    AT_SYMLINK_NOFOLLOW) == 0 && ix_fresh(&st))
					break;
		if (i == ix->n && !ix_fresh(&st))
			return;
		usleep(tries < 10 ? 20000 : 100000);
	}
}

/* The `size` bytes of the file open as `fd`, malloc()ed; NULL if it has others. */
static unsigned char *
ix_read_fd(int fd, size_t size)
{
	unsigned char *buf = malloc(size + 1);
	size_t got = 0;
	ssize_t n = 0;

	while (buf != NULL && got <= size &&
	    (n = read(fd, buf + got, size + 1 - got)) > 0)
		got += (size_t)n;
	if (buf != NULL && (n < 0 || got != size)) {
		free(buf);
		buf = NULL;
	}
	return buf;
}

/* Read and parse file `f`, or mark it skipped. */
static void
ix_read(int dfd, dev_t dev, struct ix_file *f)
{
	struct stat after;
	const char *why;
	int fd;

	f->flags = STAPLE_SHARED_SKIPPED;
	if (f->type != DT_REG && f->type != DT_UNKNOWN)
		return;
	fd = openat(dfd, f->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return;
	if (fstat(fd, &f->st) == 0 && S_ISREG(f->st.st_mode) &&
	    f->st.st_dev == dev && f->st.st_size <= STAPLE_FILE_MAX &&
	    !ix_fresh(&f->st))
		f->der = ix_read_fd(fd, (size_t)f->st.st_size);
	/* the same file, unchanged while it was read */
	if (f->der != NULL && (fstat(fd, &after) != 0 ||
	    after.st_ino != f->st.st_ino || after.st_size != f->st.st_size ||
	    after.st_mtim.tv_nsec != f->st.st_mtim.tv_nsec ||
	    after.st_mtim.tv_sec != f->st.st_mtim.tv_sec ||
	    after.st_ctim.tv_nsec != f->st.st_ctim.tv_nsec ||
	    after.st_ctim.tv_sec != f->st.st_ctim.tv_sec)) {
		free(f->der);
		f->der = NULL;
	}
	close(fd);
	if (f->der == NULL)
		return;
	f->der_len = (size_t)f->st.st_size;
	if (!staple_parse(f->der, f->der_len, &f->entries, &f->nentries, &why) ||
	    f->nentries == 0 || f->nentries > UINT32_MAX) {
		free(f->der);
		f->der = NULL;
		f->der_len = 0;
		free(f->entries);
		f->entries = NULL;
		f->nentries = 0;
		return;
	}
	f->flags = 0;
}

/* Align `n` up to a multiple of 8. */
static uint64_t
ix_align(uint64_t n)
{
	return (n + 7) & ~(uint64_t)7;
}

/*
 * Lay the index out in one buffer (*out, *len): header, files, entries,
 * buckets, slots, names, blobs, DER. 0 on allocation failure or overflow.
 */
static int
ix_layout(struct ix *ix, const struct stat *dir, int dir_known,
    unsigned char **out, size_t *len)
{
	struct staple_shared_header h;
	uint32_t *start, *slots, *order, e = 0, nb = 16;
	struct timespec now;
	uint64_t size, names = 0, blobs = 0, der = 0;
	unsigned char *buf;

	for (size_t i = 0; i < ix->n; i++) {
		ix->nentries += ix->files[i].nentries;
		ix->names_len += strlen(ix->files[i].name) + 1;
		for (size_t j = 0; j < ix->files[i].nentries; j++)
			ix->blobs_len += 2u * ix->files[i].entries[j].hash_len +
			    ix->files[i].entries[j].serial_len;
		ix->der_len += ix->files[i].der_len;
	}
	while (nb < 2 * ix->nentries && nb < (1u << 30))
		nb *= 2;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, STAPLE_SHARED_MAGIC, 8);
	h.version = STAPLE_SHARED_VERSION;
	h.order = 0x01020304;
	h.nfiles = (uint32_t)ix->n;
	h.nentries = (uint32_t)ix->nentries;
	h.nbuckets = nb;
	h.files = ix_align(sizeof(h));
	h.entries = h.files + ix->n * sizeof(struct staple_shared_file);
	h.start = h.entries + ix->nentries * sizeof(struct staple_shared_entry);
	h.slots = h.start + ((uint64_t)nb + 1) * 4;
	h.listing = h.slots + ix->nentries * 4;
	h.names = h.listing + ix->n * 4;
	h.names_len = ix->names_len ? ix->names_len : 1;
	h.blobs = h.names + h.names_len;
	h.blobs_len = ix->blobs_len;
	h.der = h.blobs + h.blobs_len;
	h.der_len = ix->der_len;
	size = h.der + h.der_len;
	if (ix->n > UINT32_MAX || ix->nentries > UINT32_MAX - 1 ||
	    h.names_len > UINT32_MAX || h.blobs_len > UINT32_MAX ||
	    size > SIZE_MAX / 2 || (buf = calloc(1, size)) == NULL)
		return 0;
	h.size = size;
	if (dir_known) {
		h.dir_dev = dir->st_dev;
		h.dir_ino = dir->st_ino;
		h.dir_mtime_sec = dir->st_mtim.tv_sec;
		h.dir_mtime_nsec = dir->st_mtim.tv_nsec;
		h.dir_ctime_sec = dir->st_ctim.tv_sec;
		h.dir_ctime_nsec = dir->st_ctim.tv_nsec;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	h.built_sec = now.tv_sec;
	h.built_nsec = now.tv_nsec;
	start = (uint32_t *)(buf + h.start);
	slots = (uint32_t *)(buf + h.slots);
	order = (uint32_t *)(buf + h.listing);
	for (size_t i = 0; i < ix->n; i++) {
		struct ix_file *f = &ix->files[i];
		struct staple_shared_file *r =
		    (struct staple_shared_file *)(buf + h.files) + i;

		order[f->listed] = (uint32_t)i;
		r->ino = f->st.st_ino;
		r->size = (uint64_t)f->st.st_size;
		r->mtime_sec = f->st.st_mtim.tv_sec;
		r->mtime_nsec = (uint32_t)f->st.st_mtim.tv_nsec;
		r->ctime_sec = f->st.st_ctim.tv_sec;
		r->ctime_nsec = (uint32_t)f->st.st_ctim.tv_nsec;
		r->flags = f->flags;
		r->name = (uint32_t)names;
		memcpy(buf + h.names + names, f->name, strlen(f->name) + 1);
		names += strlen(f->name) + 1;
		r->der = der;
		r->der_len = (uint32_t)f->der_len;
		if (f->der_len)
			memcpy(buf + h.der + der, f->der, f->der_len);
		der += f->der_len;
		r->first = e;
		r->count = (uint32_t)f->nentries;
		for (size_t j = 0; j < f->nentries; j++, e++) {
			const struct staple_entry *s = &f->entries[j];
			struct staple_shared_entry *se =
			    (struct staple_shared_entry *)(buf + h.entries) + e;

			se->this_update = s->this_update;
			se->next_update = s->next_update;
			se->file = (uint32_t)i;
			se->blob = (uint32_t)blobs;
			se->md_nid = s->md_nid;
			se->cert_status = s->cert_status;
			se->hash_len = s->hash_len;
			se->serial_len = s->serial_len;
			se->serial_neg = s->serial_neg;
			se->flags = s->flags;
			memcpy(buf + h.blobs + blobs, s->name_hash, s->hash_len);
			memcpy(buf + h.blobs + blobs + s->hash_len, s->key_hash,
			    s->hash_len);
			memcpy(buf + h.blobs + blobs + 2 * s->hash_len, s->serial,
			    s->serial_len);
			blobs += 2u * s->hash_len + s->serial_len;
			start[(staple_hash(STAPLE_HASH_INIT, s->serial,
			    s->serial_len) & (nb - 1)) + 1]++;
		}
	}
	for (uint32_t b = 0; b < nb; b++)
		start[b + 1] += start[b];
	/* fill each bucket from its end, then shift the starts back by one */
	for (uint32_t k = ix->nentries; k-- > 0;) {
		const unsigned char *blob;
		struct staple_shared_entry *se =
		    (struct staple_shared_entry *)(buf + h.entries) + k;

		blob = buf + h.blobs + se->blob + 2 * se->hash_len;
		slots[--start[(staple_hash(STAPLE_HASH_INIT, blob,
		    se->serial_len) & (nb - 1)) + 1]] = k;
	}
	memmove(start, start + 1, (size_t)nb * 4);
	start[nb] = (uint32_t)ix->nentries;
	memcpy(buf, &h, sizeof(h));
	*out = buf;
	*len = size;
	return 1;
}

/*
 * A temporary file another run left when it was killed before its rename:
 * `.staples.PID.tmp`, a regular file not written to for LEFTOVER_AGE
 * seconds. An index is written in seconds; age, not the PID, says that its
 * writer is gone (a run in another PID namespace shares the directory).
 */
#define LEFTOVER_AGE 600
#define TMP_PREFIX ".staples."

static int
ix_leftover(int xfd, const char *name, time_t now)
{
	const char *p = name + strlen(TMP_PREFIX);
	struct stat st;

	if (strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX)) != 0 ||
	    *p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	return strcmp(p, ".tmp") == 0 &&
	    fstatat(xfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode) && now - st.st_mtime > LEFTOVER_AGE;
}

/* Remove the leftovers (ix_leftover) of killed runs from DIR/.index. */
static void
ix_sweep_leftovers(int dfd)
{
	time_t now = time(NULL);
	struct dirent *e;
	DIR *d;
	int xfd;

	if ((xfd = openat(dfd, STAPLE_SHARED_DIR, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) < 0)
		return;
	if ((d = fdopendir(xfd)) == NULL) {
		close(xfd);
		return;
	}
	while ((e = readdir(d)) != NULL)
		if (ix_leftover(xfd, e->d_name, now))
			unlinkat(xfd, e->d_name, 0);
	closedir(d);
}

/* Write `buf` as DIR/.index/staples by rename; 0 with *why. */
static int
ix_store(int dfd, const unsigned char *buf, size_t len, const char **why)
{
	char tmp[64];
	struct stat st;
	size_t off = 0;
	ssize_t w;
	int fd;

	if (fstatat(dfd, STAPLE_SHARED_DIR, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH))) {
		*why = STAPLE_SHARED_DIR " must be a directory of root's,"
		    " writable by root alone";
		return 0;
	}
	ix_sweep_leftovers(dfd);
	snprintf(tmp, sizeof(tmp), "%s/" TMP_PREFIX "%ld.tmp",
	    STAPLE_SHARED_DIR, (long)getpid());
	unlinkat(dfd, tmp, 0);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644);
	if (fd < 0) {
		*why = strerror(errno);
		return 0;
	}
	while (off < len && (w = write(fd, buf + off, len - off)) > 0)
		off += (size_t)w;
	if (off < len || fchmod(fd, 0644) != 0 || fdatasync(fd) != 0 ||
	    close(fd) != 0 || renameat(dfd, tmp, dfd, STAPLE_SHARED_NAME) != 0) {
		*why = strerror(errno ? errno : EIO);
		if (off < len)
			close(fd);
		unlinkat(dfd, tmp, 0);
		return 0;
	}
	return 1;
}

/* Whether DIR/.index/staples (of `dfd`, now `dir`) lists the directory as it is. */
static int
ix_current(int dfd, const struct stat *dir)
{
	struct staple_shared *sh;
	const char *why;
	int same;

	if ((sh = staple_shared_map(dfd, &why)) == NULL)
		return 0;
	same = staple_shared_dir_same(sh, dir);
	staple_shared_release(sh);
	return same;
}

int
ctl_index_write(const char *dir, int force, size_t *nfiles, const char **why)
{
	struct stat before, after;
	struct ix ix = { NULL, 0, 0, 0, 0, 0, 0 };
	unsigned char *buf = NULL;
	size_t len = 0;
	int dfd, ok = 0;

	*why = "out of memory";
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		*why = strerror(errno);
		return 0;
	}
	if (geteuid() != 0 || fstat(dfd, &before) != 0 || before.st_uid != 0 ||
	    (before.st_mode & (S_IWGRP | S_IWOTH))) {
		*why = "only root writes an index, into a directory of root's"
		    " that root alone can write";
		goto done;
	}
	if (!force && ix_current(dfd, &before)) {
		*nfiles = 0;
		ok = 1;
		goto done;
	}
	if (!ix_list(dfd, &ix))
		goto done;
	if (!force && ix.n == 0) {
		*nfiles = 0;	/* nothing to share: nothing is made */
		ok = 1;
		goto done;
	}
	/*
	 * .index before the listing that is recorded: making it changes the
	 * directory, which must stay as the index records it for servers and
	 * the next refresh to trust it.
	 */
	if (mkdirat(dfd, STAPLE_SHARED_DIR, 0755) != 0 && errno != EEXIST) {
		*why = strerror(errno);
		goto done;
	}
	ix_settle(dfd, &ix);
	/* listed again after the wait: it is the listing that is recorded */
	ix_free(&ix);
	if (fstat(dfd, &before) != 0 || !ix_list(dfd, &ix))
		goto done;
	for (size_t i = 0; i < ix.n; i++)
		ix_read(dfd, before.st_dev, &ix.files[i]);
	if (fstat(dfd, &after) != 0)
		goto done;
	if (!ix_layout(&ix, &before, !ix_fresh(&before) &&
	    after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
	    after.st_mtim.tv_nsec == before.st_mtim.tv_nsec &&
	    after.st_ctim.tv_sec == before.st_ctim.tv_sec &&
	    after.st_ctim.tv_nsec == before.st_ctim.tv_nsec, &buf, &len))
		goto done;
	ok = ix_store(dfd, buf, len, why);
	*nfiles = ix.n;
done:
	free(buf);
	ix_free(&ix);
	close(dfd);
	return ok;
}

int
ctl_index(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	const char *dir = staple_conf.dir, *why;
	size_t n = 0;
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt != 'd')
			ctl_die("index", "usage: index [--dir DIR]");
		dir = optarg;
	}
	if (optind != argc)
		ctl_die("index", "usage: index [--dir DIR]");
	if (!ctl_index_write(dir, 1, &n, &why)) {
		fprintf(stderr, "staplectl: index of %s: not written: %s\n", dir,
		    why);
		return 1;
	}
	printf("index: %s/%s: %zu files\n", dir, STAPLE_SHARED_NAME, n);
	return 0;
}
