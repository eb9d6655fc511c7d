/*
 * store.c - the staple directory, its snapshots and the CertID index.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compat.h"
#include "config.h"
#include "issuers.h"
#include "log.h"
#include "shared.h"
#include "staple.h"
#include "store.h"
#include "vet.h"

/*
 * An immutable view of every staple, shared by the handshakes using it: the
 * shared index's files that are as it recorded them (`live`), and the files
 * the process read itself (`files`): those the index does not hold as they
 * are now, and the watched ones.
 */
struct staple_snapshot {
	int refs;			/* atomic */
	struct staple_shared *base;	/* the shared index, or NULL */
	unsigned char *live;		/* a bit per base file: served from it */
	size_t nfiles;
	struct staple_file **files;	/* sorted by name */
	size_t mask;			/* buckets - 1; buckets are by serial */
	uint32_t *start;		/* bucket b: slots[start[b] .. start[b+1]) */
	const struct staple_entry **slots;
};

/*
 * CERTFILE.ocsp paths, named as the program named the certificate (not
 * resolved: certbot's live/ links move to a new archive/ file at each
 * renewal). Grown and read by the thread holding the store's claim only.
 */
static char **watch;
static size_t watch_count, watch_cap;

/* Files the process no longer holds itself, from which heap is given back. */
#define TRIM_FILES 1024

/* Files stat()ed per check for changes in place, beyond those to recheck. */
#define SWEEP_FILES 4096

static struct {
	pthread_mutex_t lock;		/* guards `current` (a pointer swap) */
	struct staple_snapshot *current;
	int opened;			/* atomic: staple_store_open has run */
	int busy;			/* atomic: a thread is rebuilding */
	time_t next_check;		/* atomic */
	int dirfd;			/* the staple directory, or -1 */
	dev_t dir_dev;			/* what dirfd was when it was opened: */
	ino_t dir_ino;			/* the program may close and reuse it */
	unsigned issuers_gen;		/* issuers known at the last check */
	struct stat dir;		/* the directory as last scanned */
	int dir_errno;			/* last open error, logged on change */
	int dir_refused;		/* refused as not root's alone (logged) */
	size_t sweep;			/* where the next sweep starts */
	size_t base_sweep;		/* the same over the shared index's files */
	struct staple_shared *shared;	/* the newest shared index mapped */
	int shared_new;			/* it was mapped since the last scan */
} store = { PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0, 0, -1, 0, 0, 0, { 0 }, 0,
    0, 0, 0, NULL, 0 };

static int
staple_live(const unsigned char *live, size_t k)
{
	return live != NULL && (live[k / 8] >> (k % 8)) & 1;
}

static void
staple_live_set(unsigned char *live, size_t k, int on)
{
	if (on)
		live[k / 8] |= (unsigned char)(1u << (k % 8));
	else
		live[k / 8] &= (unsigned char)~(1u << (k % 8));
}

static struct staple_snapshot *
staple_snapshot_hold(void)
{
	struct staple_snapshot *s;

	pthread_mutex_lock(&store.lock);
	if ((s = store.current) != NULL)
		__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&store.lock);
	return s;
}

static void
staple_snapshot_release(struct staple_snapshot *s)
{
	if (s == NULL || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (size_t i = 0; i < s->nfiles; i++)
		staple_file_release(s->files[i]);
	staple_shared_release(s->base);
	free(s->live);
	free(s->files);
	free(s->start);
	free(s->slots);
	free(s);
}

static size_t
staple_serial_bucket(const unsigned char *serial, size_t len, size_t mask)
{
	return staple_hash(STAPLE_HASH_INIT, serial, len) & mask;
}

static int
staple_file_cmp(const void *a, const void *b)
{
	return strcmp((*(struct staple_file *const *)a)->name,
	    (*(struct staple_file *const *)b)->name);
}

/* Build the serial index of `s` over its files; 0 on allocation failure. */
static int
staple_snapshot_index(struct staple_snapshot *s)
{
	size_t n = 0, buckets = 16, k;

	for (size_t i = 0; i < s->nfiles; i++)
		n += s->files[i]->nentries;
	while (buckets < 2 * n)
		buckets *= 2;
	s->mask = buckets - 1;
	s->start = calloc(buckets + 1, sizeof(*s->start));
	s->slots = calloc(n ? n : 1, sizeof(*s->slots));
	if (s->start == NULL || s->slots == NULL)
		return 0;
	for (size_t i = 0; i < s->nfiles; i++)
		for (size_t j = 0; j < s->files[i]->nentries; j++) {
			const struct staple_entry *e = &s->files[i]->entries[j];
			s->start[staple_serial_bucket(e->serial, e->serial_len,
			    s->mask) + 1]++;
		}
	for (size_t b = 0; b < buckets; b++)
		s->start[b + 1] += s->start[b];
	/* Fill each bucket from its end, counting the start offsets back down. */
	for (size_t i = 0; i < s->nfiles; i++)
		for (size_t j = 0; j < s->files[i]->nentries; j++) {
			const struct staple_entry *e = &s->files[i]->entries[j];
			k = staple_serial_bucket(e->serial, e->serial_len, s->mask);
			s->slots[--s->start[k + 1]] = e;
		}
	/* start[b + 1] now holds bucket b's first slot: shift back by one. */
	memmove(s->start, s->start + 1, buckets * sizeof(*s->start));
	s->start[buckets] = (uint32_t)n;
	return 1;
}

/* The file named `name` in the sorted snapshot `s`, or NULL. */
static struct staple_file *
staple_snapshot_file(const struct staple_snapshot *s, const char *name)
{
	size_t lo = 0, hi = s ? s->nfiles : 0;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(name, s->files[mid]->name);
		if (c == 0)
			return s->files[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Say once per log interval that file `label` is skipped, and why. */
static void
staple_skip(const char *label, const char *why)
{
	uint64_t key = staple_hash(STAPLE_HASH_INIT, label, strlen(label));

	if (staple_log_once(staple_hash(key, why, strlen(why)),
	    staple_conf.log_interval))
		staple_log(STAPLE_WARN, "%s: %s; skipped", label, why);
}

/*
 * Read the file `name` (relative to `at`) and stat it into *st, before the
 * read: a write after it changes what stat() says next time. `nofollow`:
 * readdir() called it a regular file, so a symbolic link found now was
 * swapped in since, and is not followed. NULL (logged) if it is not a
 * regular file of at most STAPLE_FILE_MAX bytes.
 */
static unsigned char *
staple_read(int at, const char *name, int nofollow, const char *label,
    size_t *len, struct stat *st)
{
	unsigned char *buf = NULL, *grown;
	size_t size, got = 0;
	ssize_t n = 0;
	int fd;

	/* O_NONBLOCK: a FIFO that slipped in must not hang a handshake. */
	fd = openat(at, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
	    (nofollow ? O_NOFOLLOW : 0));
	if (fd < 0) {
		/* A file removed since readdir() is no news; a broken link is. */
		if (nofollow && errno == ELOOP)
			staple_skip(label, "a symbolic link swapped in after the"
			    " directory was read");
		else if (errno != ENOENT)
			staple_skip(label, strerror(errno));
		else if (fstatat(at, name, st, AT_SYMLINK_NOFOLLOW) == 0)
			staple_skip(label, "broken symbolic link");
		return NULL;
	}
	/* what was opened, not what readdir() said: it may have been swapped */
	if (fstat(fd, st) != 0) {
		staple_skip(label, strerror(errno));
		goto done;
	}
	if (!S_ISREG(st->st_mode) || st->st_size > STAPLE_FILE_MAX) {
		staple_skip(label, S_ISREG(st->st_mode) ? "larger than 1 MiB" :
		    "not a regular file");
		goto done;
	}
	/* a byte more than stat() said, to see a file still growing as such */
	size = (size_t)st->st_size + 1;
	if ((buf = malloc(size)) == NULL)
		goto done;
	while ((n = read(fd, buf + got, size - got)) > 0) {
		got += (size_t)n;
		if (got < size)
			continue;
		if (size > STAPLE_FILE_MAX)
			break;
		if ((grown = realloc(buf, 2 * size)) == NULL) {
			n = -1;
			errno = ENOMEM;
			break;
		}
		buf = grown;
		size *= 2;
	}
	if (n < 0 || got > STAPLE_FILE_MAX) {
		staple_skip(label, n < 0 ? strerror(errno) : "larger than 1 MiB");
		free(buf);
		buf = NULL;
	}
	*len = got;
done:
	close(fd);
	return buf;
}

/* A snapshot being built, from the one it replaces. */
struct staple_scan {
	struct staple_file **files;
	size_t n, cap;
	const struct staple_snapshot *old;
	struct staple_shared *base;	/* the shared index it uses, or NULL */
	unsigned char *live;		/* its live bits, being set */
	size_t listed;			/* names readdir() gave so far (a hint) */
	int changed;		/* a file was read again, came or went */
};

/* Append `f` to the scan; 0 (and `f` released) on allocation failure. */
static int
staple_scan_add(struct staple_scan *sc, struct staple_file *f)
{
	struct staple_file **grown;

	if (sc->n == sc->cap) {
		if ((grown = realloc(sc->files, (sc->cap ? 2 * sc->cap : 64) *
		    sizeof(*sc->files))) == NULL) {
			staple_file_release(f);
			return 0;
		}
		sc->files = grown;
		sc->cap = sc->cap ? 2 * sc->cap : 64;
	}
	sc->files[sc->n++] = f;
	return 1;
}

/*
 * Eager vetting spends at most this much of a check (after a rebuild, or
 * when new issuers are known): a hundred files or more; the rest is vetted
 * by the handshakes that need them, once each (vet.h).
 */
#define VET_BUDGET_NS 20000000L
/*
 * A sanitizer build runs vetting several times slower; its test runs scale
 * the budget (the Makefile's check-asan), so that what the tests count (one
 * log line per bad staple, logged by the master) is what a plain build does.
 */
#ifndef STAPLE_VET_BUDGET_SCALE
#define STAPLE_VET_BUDGET_SCALE 1
#endif

static struct timespec vet_deadline;	/* the rebuilding thread's only */

static void
staple_vet_start(void)
{
	clock_gettime(CLOCK_MONOTONIC, &vet_deadline);
	vet_deadline.tv_nsec += VET_BUDGET_NS * STAPLE_VET_BUDGET_SCALE;
	while (vet_deadline.tv_nsec >= 1000000000L) {
		vet_deadline.tv_sec++;
		vet_deadline.tv_nsec -= 1000000000L;
	}
}

/* Whether the eager vetting budget is spent. */
static int
staple_vet_over(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > vet_deadline.tv_sec ||
	    (now.tv_sec == vet_deadline.tv_sec &&
	    now.tv_nsec >= vet_deadline.tv_nsec);
}

/*
 * Vet the live entries of the shared index whose issuer the process knows,
 * from where the last budget ran out, while the budget lasts.
 */
static void
staple_store_vet_shared(const struct staple_snapshot *s)
{
	struct staple_shared *sh = s->base;
	char label[PATH_MAX + 256];
	struct staple_pick p;
	time_t until;
	uint32_t file;
	X509 *issuer;

	for (; sh->vet_next < sh->hdr->nentries; sh->vet_next++) {
		if (!staple_pick_shared(&p, sh, (uint32_t)sh->vet_next, &file) ||
		    !staple_live(s->live, file) ||
		    staple_entry_sig(&p.e, &until) != STAPLE_SIG_UNCHECKED ||
		    (issuer = staple_issuers_for(p.e.md_nid, p.e.name_hash,
		    p.e.key_hash, p.e.hash_len)) == NULL)
			continue;
		if (staple_vet_over())
			return;
		snprintf(label, sizeof(label), "%s/%s", staple_conf.dir, p.f.name);
		staple_entry_vet(&p.e, issuer, label);
		staple_pick_keep(&p);
	}
}

/* Whether every entry of `f` has its verdict. */
static int
staple_file_vetted(const struct staple_file *f)
{
	time_t until;

	for (size_t i = 0; i < f->nentries; i++)
		if (staple_entry_sig(&f->entries[i], &until) == STAPLE_SIG_UNCHECKED)
			return 0;
	return 1;
}

/*
 * Vet what the current snapshot holds unvetted, while the budget lasts:
 * files just read, and files that waited for an issuer learned since.
 */
static void
staple_store_vet(void)
{
	struct staple_snapshot *s = staple_snapshot_hold();
	char label[PATH_MAX + 256];

	for (size_t i = 0; s != NULL && i < s->nfiles; i++) {
		if (staple_file_vetted(s->files[i]))
			continue;
		if (staple_vet_over())
			goto done;
		snprintf(label, sizeof(label), "%s/%s", staple_conf.dir,
		    s->files[i]->name);
		staple_file_vet(s->files[i], s->files[i]->name[0] == '/' ?
		    s->files[i]->name : label);
	}
	if (s != NULL && s->base != NULL)
		staple_store_vet_shared(s);
done:
	staple_snapshot_release(s);
}

/* Whether `f` was read from the file stat() describes as `st`, unchanged. */
static int
staple_file_same(const struct staple_file *f, const struct stat *st)
{
	return f->dev == st->st_dev && f->ino == st->st_ino &&
	    f->size == st->st_size &&
	    f->mtime.tv_sec == st->st_mtim.tv_sec &&
	    f->mtime.tv_nsec == st->st_mtim.tv_nsec &&
	    f->ctime.tv_sec == st->st_ctim.tv_sec &&
	    f->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

/*
 * Read and parse `name` (relative to `at`) as it is now; NULL if it cannot
 * be read (logged), with *nomem on allocation failure. `old`, the file as
 * read before, is kept (with its vetting) when the bytes are the same.
 */
static struct staple_file *
staple_load(int at, const char *name, int nofollow, const char *label,
    struct staple_file *old, int *nomem)
{
	struct staple_file *f = old;
	const char *why = NULL;
	struct stat st;
	unsigned char *der;
	size_t len = 0;

	if ((der = staple_read(at, name, nofollow, label, &len, &st)) == NULL)
		return NULL;
	if (old != NULL && old->der_len == len && memcmp(old->der, der, len) == 0) {
		free(der);
		staple_file_hold(f);
	} else if ((f = staple_file_parse(name, der, len, &why)) == NULL) {
		*nomem = 1;
		return NULL;
	} else if (why != NULL) {
		staple_skip(label, why);
	} else {
		staple_log(STAPLE_DEBUG, "%s: %zu certificate(s)", label,
		    f->nentries);
	}
	/* only the thread holding the store's claim reads these */
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->size = st.st_size;
	f->mtime = st.st_mtim;
	f->ctime = st.st_ctim;
	f->nofollow = nofollow;
	/*
	 * A failed parse is never kept as the file's verdict (a file caught
	 * half-written is complete at a later check), nor is a file written
	 * in the last seconds judged by its times alone: a second write in
	 * the same timestamp tick, at the same size, looks like none.
	 */
	f->recheck = f->nentries == 0 ||
	    time(NULL) - st.st_mtim.tv_sec <= 2 || time(NULL) - st.st_ctim.tv_sec <= 2;
	return f;
}

/*
 * Whether file `k` of the scan's index may be judged by its inode (or, when
 * the directory is as the index listed it, taken as it is) without a
 * stat(): not in a process's first scan (the index may be days older than
 * the process, and a file rewritten in place keeps its inode), nor when
 * this process found the file changed since the index was written; yes for
 * a new index (written from the files as they are) and for a file this
 * process served from the same index before (the sweep watches it).
 */
static int
staple_scan_trusts(const struct staple_scan *sc, size_t k)
{
	if (sc->old == NULL)
		return 0;
	return sc->old->base != sc->base || staple_live(sc->old->live, k);
}

/*
 * Whether `name` (relative to `at`) is served from the shared index, and
 * if so mark it live: its record there is of the file as it is now. With
 * `ino` (readdir() called it a regular file with that inode), the same
 * inode, as staple_scan_file judges files, when staple_scan_trusts; else
 * the same stat().
 */
static int
staple_scan_shared(struct staple_scan *sc, int at, const char *name, ino_t ino)
{
	const struct staple_shared_file *r;
	const char *n;
	struct stat st;
	long k = staple_shared_find_next(sc->base, sc->listed, name);
	int same;

	if (k < 0 || (r = staple_shared_file(sc->base, (size_t)k, &n)) == NULL ||
	    (r->flags & STAPLE_SHARED_SKIPPED))
		return 0;
	if (ino != 0 && staple_scan_trusts(sc, (size_t)k))
		same = r->ino == (uint64_t)ino;
	else if (fstatat(at, name, &st, 0) == 0)
		same = staple_shared_file_same(r, &st);
	else	/* as for files read: one the process may not look at stays */
		same = errno == EACCES && sc->old != NULL &&
		    sc->old->base == sc->base && staple_live(sc->old->live, (size_t)k);
	if (same)
		staple_live_set(sc->live, (size_t)k, 1);
	return same;
}

/*
 * Add the file `name` (relative to `at`) to the scan: the old snapshot's
 * parse when it is still the same file, else the file read again. The same
 * file: with `ino` (readdir() called it a regular file with that inode; no
 * system call), the same inode: staples replaced by rename are new inodes,
 * and changes in place are left to the sweep; without, the same device,
 * inode, size, mtime and ctime, to the nanosecond, as stat() says of what
 * the name leads to. A file marked to recheck is read again regardless.
 * Files of the shared index as it recorded them are only marked live.
 * Returns 0 on allocation failure only.
 */
static int
staple_scan_file(struct staple_scan *sc, int at, const char *name, ino_t ino,
    int nofollow)
{
	char label[PATH_MAX + 256];
	struct staple_file *f, *nf;
	struct stat st;
	int nomem = 0, r = 0;

	if (sc->base != NULL && name[0] != '/' &&
	    staple_scan_shared(sc, at, name, ino))
		return 1;
	f = staple_snapshot_file(sc->old, name);
	/*
	 * A file this process may no longer look at stays as it was read:
	 * nginx's workers, run as nobody, cannot see into the root-only
	 * directory of the certificate their master loaded.
	 */
	if (f != NULL && !f->recheck && (ino != 0 ? f->ino == ino :
	    ((r = fstatat(at, name, &st, 0)) == 0 && staple_file_same(f, &st)) ||
	    (r != 0 && errno == EACCES))) {
		staple_file_hold(f);
		return staple_scan_add(sc, f);
	}
	/* the name the operator knows: a watched file's is absolute */
	snprintf(label, sizeof(label), "%s%s%s", name[0] == '/' ? "" :
	    staple_conf.dir, name[0] == '/' ? "" : "/", name);
	nf = staple_load(at, name, nofollow, label, f, &nomem);
	if (nf != f)
		sc->changed = 1;
	if (nf == NULL)
		return !nomem;
	return staple_scan_add(sc, nf);
}

/* Every file of the staple directory open as `at` (libstaple's own). */
static int
staple_scan_dir(struct staple_scan *sc, int at)
{
	char label[PATH_MAX + 256];
	struct dirent *d;
	size_t listed = 0;
	DIR *dir;
	int fd, ok = 1;

	/* Its own offset: readdir() through `at` would move the caller's. */
	fd = openat(at, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || (dir = fdopendir(fd)) == NULL) {
		staple_log(STAPLE_WARN, "%s: %s", staple_conf.dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	while (ok && (d = readdir(dir)) != NULL) {
		/* Dot files are skipped: writers use them as temporary names. */
		if (d->d_name[0] == '.')
			continue;
		/* the shared index lists all but directories, in this order */
		sc->listed = d->d_type == DT_DIR ? (size_t)-1 : listed++;
		/* so is the CRL directory (its default place is DIR/crl) */
		if (d->d_type == DT_DIR) {
			snprintf(label, sizeof(label), "%s/%s", staple_conf.dir,
			    d->d_name);
			if (strcmp(label, staple_conf.crl_dir) == 0)
				continue;
		}
		/*
		 * A symbolic link is judged by what it points to: a Kubernetes
		 * Secret's files are links into a ..data directory that is
		 * replaced by rename, while the links stay as they were.
		 */
		ok = staple_scan_file(sc, at, d->d_name,
		    d->d_type == DT_REG ? d->d_ino : 0, d->d_type == DT_REG);
	}
	sc->listed = (size_t)-1;
	closedir(dir);
	return ok;
}

/*
 * The staple directory's files of the old snapshot, without readdir(): those
 * to recheck and this check's share of the others (SWEEP_FILES, in turn) are
 * stat()ed and read again if they changed in place; the rest are kept. With
 * `at` -1 (the directory cannot be opened now) all are kept.
 */
static int
staple_sweep_dir(struct staple_scan *sc, int at)
{
	const struct staple_snapshot *old = sc->old;
	size_t n = old != NULL ? old->nfiles : 0, first = n ? store.sweep % n : 0;
	struct staple_file *f;
	int ok = 1;

	for (size_t i = 0; ok && i < n; i++) {
		f = old->files[i];
		if (f->name[0] == '/')
			continue;	/* a watched file: staple_store_rebuild's */
		if (at < 0 || (!f->recheck && (i + n - first) % n >= SWEEP_FILES)) {
			staple_file_hold(f);
			ok = staple_scan_add(sc, f);
			continue;
		}
		ok = staple_scan_file(sc, at, f->name, 0, f->nofollow);
	}
	store.sweep = n ? (first + SWEEP_FILES) % n : 0;
	return ok;
}

/*
 * The shared index's files of the old snapshot (same index), without
 * readdir(): this check's share of the live ones (SWEEP_FILES, in turn) are
 * stat()ed, and one changed in place or gone is read by the process (or
 * dropped). With `at` -1 all stay as they were.
 */
static int
staple_sweep_shared(struct staple_scan *sc, int at)
{
	size_t n = staple_shared_nfiles(sc->base), first = n ? store.base_sweep % n : 0;
	const struct staple_shared_file *r;
	const char *name;
	struct stat st;
	int ok = 1;

	memcpy(sc->live, sc->old->live, (n + 7) / 8);
	for (size_t j = 0; ok && at >= 0 && j < n && j < SWEEP_FILES; j++) {
		size_t k = (first + j) % n;

		if (!staple_live(sc->live, k) ||
		    (r = staple_shared_file(sc->base, k, &name)) == NULL)
			continue;
		if (fstatat(at, name, &st, 0) == 0 ? staple_shared_file_same(r, &st) :
		    errno == EACCES)
			continue;
		staple_live_set(sc->live, k, 0);
		sc->changed = 1;
		ok = staple_scan_file(sc, at, name, 0, 0);
	}
	store.base_sweep = n ? (first + SWEEP_FILES) % n : 0;
	return ok;
}

/*
 * Every file of the staple directory, when it is as the shared index listed
 * it (staple_shared_dir_same): no readdir(); the files the index skipped
 * are read as readdir() would have found them, and those it may not take
 * as they are (staple_scan_trusts) are stat()ed. With a malformed record
 * the directory is listed instead: the record's file is then read, not lost.
 */
static int
staple_scan_index(struct staple_scan *sc, int at)
{
	size_t n = staple_shared_nfiles(sc->base);
	const struct staple_shared_file *r;
	const char *name;
	int ok = 1;

	for (size_t k = 0; k < n; k++)
		if (staple_shared_file(sc->base, k, &name) == NULL)
			return staple_scan_dir(sc, at);
	for (size_t k = 0; ok && k < n; k++) {
		if ((r = staple_shared_file(sc->base, k, &name)) == NULL)
			continue;
		if (!(r->flags & STAPLE_SHARED_SKIPPED) && staple_scan_trusts(sc, k)) {
			staple_live_set(sc->live, k, 1);
			continue;
		}
		ok = staple_scan_file(sc, at, name, 0, 0);
	}
	return ok;
}

/*
 * Map the staple directory's shared index (open as `at`) when it is new.
 * One that is gone or refused leaves the last one mapped in use: it is a
 * cache, checked against the directory, never a source.
 */
static void
staple_store_shared(int at)
{
	char label[PATH_MAX + 256];
	struct staple_shared *sh;
	const char *why;
	struct stat st;

	if (fstatat(at, STAPLE_SHARED_NAME, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    (store.shared != NULL && staple_shared_same(store.shared, &st)))
		return;
	if ((sh = staple_shared_map(at, &why)) == NULL) {
		snprintf(label, sizeof(label), "%s/%s", staple_conf.dir,
		    STAPLE_SHARED_NAME);
		if (why != NULL)
			staple_skip(label, why);
		return;
	}
	staple_log(STAPLE_DEBUG, "%s/%s: %zu files shared", staple_conf.dir,
	    STAPLE_SHARED_NAME, staple_shared_nfiles(sh));
	staple_shared_release(store.shared);
	store.shared = sh;
}

/*
 * Start a scan on the shared index (if any) from the old snapshot; whether
 * it must list the directory in full: the index is new to the snapshots.
 */
static int
staple_scan_start(struct staple_scan *sc, int at)
{
	size_t n;

	if (at >= 0)
		staple_store_shared(at);
	if (store.shared != NULL) {
		n = staple_shared_nfiles(store.shared);
		/* without memory for the bits, files are read instead */
		if ((sc->live = calloc((n + 7) / 8 + 1, 1)) != NULL) {
			sc->base = store.shared;
			staple_shared_hold(sc->base);
		}
	}
	return (sc->old != NULL ? sc->old->base : NULL) != sc->base;
}

static int staple_dir_dup(int *refused);

/*
 * Build the next snapshot, with a readdir() when `full`, else by a sweep,
 * and publish it if it differs from the current one; whether it did.
 */
static int
staple_store_rebuild(int full)
{
	struct staple_snapshot *s = NULL, *old = staple_snapshot_hold();
	struct staple_scan sc = { NULL, 0, 0, old, NULL, NULL, (size_t)-1, 0 };
	int ok = 1, at, refused = 0, published = 0, trim = 0;
	struct stat dir;

	at = staple_dir_dup(&refused);
	if (!refused && staple_scan_start(&sc, at))
		full = 1;	/* every file judged against the new index */
	if (refused)
		sc.changed = 1;		/* nothing from the directory */
	else if (full && at >= 0 && sc.base != NULL && fstat(at, &dir) == 0 &&
	    staple_shared_dir_same(sc.base, &dir))
		ok = staple_scan_index(&sc, at);
	else if (full && at >= 0)
		ok = staple_scan_dir(&sc, at);
	else if ((ok = staple_sweep_dir(&sc, at)) && sc.base != NULL)
		ok = staple_sweep_shared(&sc, at);
	for (size_t i = 0; ok && i < watch_count; i++)
		ok = staple_scan_file(&sc, AT_FDCWD, watch[i], 0, 0);
	if (at >= 0)
		close(at);
	if (ok && !full && !sc.changed && sc.n == (old ? old->nfiles : 0))
		goto done;	/* nothing changed: keep the current snapshot */
	if (ok && (s = calloc(1, sizeof(*s))) != NULL) {
		s->refs = 1;
		s->base = sc.base;
		s->live = sc.live;
		sc.base = NULL;
		sc.live = NULL;
		s->files = sc.files;
		s->nfiles = sc.n;
		sc.files = NULL;
		sc.n = 0;
		if (s->nfiles > 1)
			qsort(s->files, s->nfiles, sizeof(*s->files), staple_file_cmp);
	}
	if (s == NULL || !staple_snapshot_index(s)) {
		staple_log(STAPLE_ERROR, "out of memory loading staples");
		staple_snapshot_release(s);
		goto done;
	}
	pthread_mutex_lock(&store.lock);
	staple_snapshot_release(store.current);	/* drops the store's ref only */
	store.current = s;
	pthread_mutex_unlock(&store.lock);
	published = 1;
	/*
	 * A new shared index took over what the process had read itself (a
	 * refresh seen half-way): give those pages back rather than keep a
	 * heap the size of a copy of the directory.
	 */
	if (old != NULL && old->nfiles >= s->nfiles + TRIM_FILES)
		trim = 1;
done:
	for (size_t i = 0; i < sc.n; i++)
		staple_file_release(sc.files[i]);
	free(sc.files);
	staple_shared_release(sc.base);
	free(sc.live);
	staple_snapshot_release(old);
	if (trim)
		malloc_trim(0);
	return published;
}

/*
 * Whether store.dirfd is still the directory libstaple opened (its stat in
 * *st). A program that closes every descriptor (a daemon's sweep,
 * closefrom(3)) frees that number for its own next file: the descriptor is
 * then forgotten, never closed or read through.
 */
static int
staple_dir_mine(struct stat *st)
{
	if (store.dirfd < 0)
		return 0;
	if (fstat(store.dirfd, st) == 0 && S_ISDIR(st->st_mode) &&
	    st->st_dev == store.dir_dev && st->st_ino == store.dir_ino)
		return 1;
	staple_log(STAPLE_DEBUG, "descriptor %d is no longer the staple"
	    " directory: the program closed it; opening it again", store.dirfd);
	store.dirfd = -1;
	return 0;
}

/*
 * Whether this process may take staples from the directory `st`: one run by
 * root or in secure execution only from a directory that root owns and root
 * alone can write (the config file's rule), as whoever can write it
 * chooses what the process reads. Said once when it changes.
 */
static int
staple_dir_trusted(const struct stat *st)
{
	int trusted = (!staple_conf_secure() && geteuid() != 0) ||
	    (st->st_uid == 0 && !(st->st_mode & (S_IWGRP | S_IWOTH)));

	if (!trusted && !store.dir_refused)
		staple_log(STAPLE_ERROR, "staple directory %s: not used: a"
		    " privileged process takes staples only from a directory"
		    " owned by root and writable by root alone", staple_conf.dir);
	store.dir_refused = !trusted;
	return trusted;
}

/*
 * A new descriptor for the staple directory, opened through store.dirfd if
 * that is still libstaple's; -1 when there is none, with *refused set when
 * the directory is not trusted (staple_dir_trusted).
 */
static int
staple_dir_dup(int *refused)
{
	struct stat st;
	int fd;

	if (!staple_dir_mine(&st))
		return -1;
	if ((fd = openat(store.dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		staple_skip(staple_conf.dir, strerror(errno));
		return -1;
	}
	/* another thread of the program may have closed and reused it since */
	if (fstat(fd, &st) != 0 || st.st_dev != store.dir_dev ||
	    st.st_ino != store.dir_ino) {
		close(fd);
		return -1;
	}
	if (!staple_dir_trusted(&st)) {
		close(fd);
		*refused = 1;
		return -1;
	}
	return fd;
}

/* (Re)open the staple directory by path; whether it is open now. */
static int
staple_dir_open(void)
{
	int fd = open(staple_conf.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st, old;

	if (fd >= 0 && fstat(fd, &st) != 0) {
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		if (errno != store.dir_errno)
			staple_log(STAPLE_WARN, "staple directory %s: %s",
			    staple_conf.dir, strerror(errno));
		store.dir_errno = errno;
		return staple_dir_mine(&old);
	}
	if (staple_dir_mine(&old))
		close(store.dirfd);
	store.dirfd = fd;
	store.dir_dev = st.st_dev;
	store.dir_ino = st.st_ino;
	store.dir_errno = 0;
	memset(&store.dir, 0, sizeof(store.dir));
	return 1;
}

/*
 * Whether the directory changed since the last scan. The descriptor is kept
 * (it still works after a chroot); the path is checked too, so a directory
 * replaced wholesale is noticed.
 */
static int
staple_dir_changed(time_t now)
{
	struct stat fst, pst;

	if (!staple_dir_mine(&fst) || (stat(staple_conf.dir, &pst) == 0 &&
	    (pst.st_dev != fst.st_dev || pst.st_ino != fst.st_ino))) {
		if (!staple_dir_open() || !staple_dir_mine(&fst))
			return 0;
	}
	if (fst.st_ino == store.dir.st_ino && fst.st_dev == store.dir.st_dev &&
	    fst.st_mtim.tv_sec == store.dir.st_mtim.tv_sec &&
	    fst.st_mtim.tv_nsec == store.dir.st_mtim.tv_nsec &&
	    fst.st_ctim.tv_sec == store.dir.st_ctim.tv_sec &&
	    fst.st_ctim.tv_nsec == store.dir.st_ctim.tv_nsec &&
	    /* coarse timestamps: a change in the same tick looks like none */
	    now - fst.st_mtim.tv_sec > 2)
		return 0;
	store.dir = fst;
	return 1;
}

/*
 * Read again what changed: the whole directory when its entries changed (or
 * `force`), else the files due for a stat() (staple_sweep_dir), and the
 * watched files. One thread only.
 */
static void
staple_store_check(int force)
{
	time_t now = time(NULL);
	int full, changed, learned;

	__atomic_store_n(&store.next_check, now + staple_conf.reload_interval,
	    __ATOMIC_RELAXED);
	full = staple_dir_changed(now) || force;
	learned = store.issuers_gen != staple_issuers_generation();
	store.issuers_gen = staple_issuers_generation();
	if (learned && store.shared != NULL)
		store.shared->vet_next = 0;	/* its entries may be vetted now */
	ossl.ERR_set_mark();
	changed = staple_store_rebuild(full);
	if (changed || force || learned) {
		staple_vet_start();
		staple_store_vet();
	}
	staple_shared_forget(store.shared);
	ossl.ERR_pop_to_mark();
}

/* Claim the store for a check, or return 0 when another thread has it. */
static int
staple_store_claim(void)
{
	int idle = 0;

	return __atomic_compare_exchange_n(&store.busy, &idle, 1, 0,
	    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static void
staple_store_unclaim(void)
{
	__atomic_store_n(&store.busy, 0, __ATOMIC_RELEASE);
}

void
staple_store_open(void)
{
	int closed = 0;

	if (__atomic_load_n(&store.opened, __ATOMIC_ACQUIRE) ||
	    !__atomic_compare_exchange_n(&store.opened, &closed, 1, 0,
	    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return;
	while (!staple_store_claim())
		sched_yield();	/* another setup thread holds it briefly */
	staple_dir_open();
	staple_store_check(1);
	staple_store_unclaim();
}

void
staple_store_refresh(void)
{
	if (!__atomic_load_n(&store.opened, __ATOMIC_ACQUIRE)) {
		staple_store_open();
		return;
	}
	if (!staple_store_claim())
		return;		/* a check is running right now anyway */
	staple_store_check(0);
	staple_store_unclaim();
}

void
staple_store_reload(void)
{
	staple_store_open();
	while (!staple_store_claim())
		sched_yield();
	staple_store_check(1);
	staple_store_unclaim();
}

/*
 * Publish the current snapshot with the watched file `path` read now, if it
 * exists: read by the process loading the certificate (nginx's master, as
 * root), without a whole check per certificate. Holding the claim.
 */
static void
staple_store_add(const char *path)
{
	struct staple_snapshot *s = NULL, *old = staple_snapshot_hold();
	struct staple_file *f;
	size_t n = old != NULL ? old->nfiles : 0, at = 0;
	int nomem = 0;

	if (staple_snapshot_file(old, path) != NULL ||
	    (f = staple_load(AT_FDCWD, path, 0, path, NULL, &nomem)) == NULL)
		goto done;
	if ((s = calloc(1, sizeof(*s))) != NULL)
		s->refs = 1;
	if (s == NULL || (s->files = calloc(n + 1, sizeof(*s->files))) == NULL) {
		staple_file_release(f);
		goto fail;
	}
	if (old != NULL && old->base != NULL) {
		size_t bytes = (staple_shared_nfiles(old->base) + 7) / 8 + 1;

		if ((s->live = malloc(bytes)) == NULL) {
			staple_file_release(f);
			goto fail;
		}
		memcpy(s->live, old->live, bytes);
		s->base = old->base;
		staple_shared_hold(s->base);
	}
	/* in order: one pass, not a sort, per certificate a program loads */
	while (at < n && strcmp(old->files[at]->name, path) < 0)
		at++;
	for (size_t i = 0; i < n; i++) {
		staple_file_hold(old->files[i]);
		s->files[i < at ? i : i + 1] = old->files[i];
	}
	s->files[at] = f;
	s->nfiles = n + 1;
	if (!staple_snapshot_index(s))
		goto fail;
	pthread_mutex_lock(&store.lock);
	staple_snapshot_release(store.current);
	store.current = s;
	pthread_mutex_unlock(&store.lock);
	s = NULL;
	goto done;
fail:
	staple_log(STAPLE_ERROR, "out of memory loading staples");
done:
	staple_snapshot_release(s);
	staple_snapshot_release(old);
}

void
staple_store_watch(const char *certfile)
{
	char cwd[PATH_MAX], *ocsp, **grown;
	size_t i;
	int r;

	/*
	 * The name the program gave, made absolute (daemons change directory)
	 * but not resolved: with certbot's live/cert.pem, a link to
	 * archive/certN.pem, the staple beside live/cert.pem is the one meant,
	 * after each renewal too.
	 */
	while (certfile[0] == '.' && certfile[1] == '/')
		certfile += 2;
	if (certfile[0] == '/')
		r = asprintf(&ocsp, "%s.ocsp", certfile);
	else if (getcwd(cwd, sizeof(cwd)) != NULL)
		r = asprintf(&ocsp, "%s/%s.ocsp", strcmp(cwd, "/") ? cwd : "",
		    certfile);
	else
		return;
	if (r < 0)
		return;
	staple_store_open();
	while (!staple_store_claim())
		sched_yield();	/* setup time: a check in progress is short */
	for (i = 0; i < watch_count && strcmp(watch[i], ocsp) != 0; i++)
		;
	if (i < watch_count) {
		free(ocsp);
	} else if (watch_count == watch_cap && (grown = realloc(watch,
	    (watch_cap ? 2 * watch_cap : 16) * sizeof(*watch))) == NULL) {
		staple_log(STAPLE_ERROR, "%s: not watched: out of memory", ocsp);
		free(ocsp);
	} else {
		if (watch_count == watch_cap) {
			watch = grown;
			watch_cap = watch_cap ? 2 * watch_cap : 16;
		}
		watch[watch_count++] = ocsp;
		staple_store_add(ocsp);
	}
	staple_store_unclaim();
}

/* Check the directory if the reload interval has passed; never waits. */
static void
staple_store_tick(void)
{
	if (time(NULL) < __atomic_load_n(&store.next_check, __ATOMIC_RELAXED) ||
	    !staple_store_claim())
		return;
	staple_store_check(0);
	staple_store_unclaim();
}

/* Why entry `e` is not served, for a log line (`buf` has room for 48). */
static const char *
staple_store_why(const struct staple_entry *e, int future, char *buf)
{
	struct tm tm;
	time_t until;
	const char *why;

	if (staple_entry_sig(e, &until) == STAPLE_SIG_BAD) {
		why = __atomic_load_n(&e->file->why, __ATOMIC_ACQUIRE);
		return why ? why : "not verified";
	}
	if (e->flags & STAPLE_ENTRY_CRITICAL)
		return "a critical singleExtension it does not understand";
	if (e->flags & STAPLE_ENTRY_BADTIME)
		return "an unreadable thisUpdate or nextUpdate";
	if (e->flags & STAPLE_ENTRY_BACKWARDS)
		return "nextUpdate before thisUpdate";
	if (!future && staple_entry_sig(e, &until) == STAPLE_SIG_OK &&
	    time(NULL) > until)
		return "the responder certificate that signed it has expired";
	if (!future && !(e->flags & STAPLE_ENTRY_NEXT))
		return "no nextUpdate and older than max_age";
	gmtime_r(future ? &e->this_update : &e->next_update, &tm);
	strftime(buf, 48, future ? "not valid before %Y-%m-%d %H:%M:%SZ" :
	    "expired at %Y-%m-%d %H:%M:%SZ", &tm);
	return buf;
}

/*
 * Say once per log interval why the leaf gets no staple: the most telling
 * entry that matched (unusable, then future, then stale), or that none did.
 */
static void
staple_store_explain(X509 *leaf, X509 *issuer, const struct staple_entry *stale,
    const struct staple_entry *future, const struct staple_entry *unusable,
    const unsigned char *serial, size_t serial_len)
{
	char subject[256], hex[2 * STAPLE_SERIAL_MAX + 1], when[48];
	const struct staple_entry *e = unusable ? unusable : future ? future : stale;
	STACK_OF(OPENSSL_STRING) *urls;
	int level = STAPLE_INFO;
	uint64_t key;

	key = staple_hash(STAPLE_HASH_INIT, serial, serial_len);
	key = staple_hash(key, e ? e->file->name : "", e ? strlen(e->file->name) : 0);
	if (!staple_log_enabled(STAPLE_WARN) ||
	    !staple_log_once(key, staple_conf.log_interval))
		return;
	if (serial_len > STAPLE_SERIAL_MAX)
		serial_len = STAPLE_SERIAL_MAX;
	for (size_t i = 0; i < serial_len; i++)
		snprintf(hex + 2 * i, 3, "%02X", serial[i]);
	hex[2 * serial_len] = '\0';
	ossl.X509_NAME_oneline(ossl.X509_get_subject_name(leaf), subject,
	    sizeof(subject));
	if (e != NULL) {
		staple_log(STAPLE_WARN, "%s (serial %s): not stapling %s: %s",
		    subject, hex, e->file->name,
		    staple_store_why(e, e == future, when));
		return;
	}
	/* Silence for certificates that were never meant to have a staple. */
	urls = ossl.X509_get1_ocsp(leaf);
	if (urls != NULL ||
	    staple_x509_tls_feature(leaf) != NULL)
		level = STAPLE_WARN;
	ossl.X509_email_free(urls);
	if (issuer == NULL)
		staple_log(level, "%s (serial %s): no staple can be matched: its"
		    " issuer is neither in the chain the server sends nor among"
		    " the configured issuers", subject, hex);
	else
		staple_log(level, "%s (serial %s): no staple in %s", subject, hex,
		    staple_conf.dir);
}

/* A lookup's candidates: the newest servable, and others for the log line. */
struct staple_found {
	struct staple_pick best, stale, future, unusable;
	int has_best, has_stale, has_future, has_unusable;
};

/* Weigh candidate `p` (see staple_entry_servable) if it is about `id`. */
static void
staple_found_add(struct staple_found *fd, const struct staple_pick *p,
    struct staple_certid *id, time_t now)
{
	if (!staple_certid_match(id, &p->e))
		return;
	switch (staple_entry_servable(&p->e, now)) {
	case STAPLE_CURRENT:
		if (!fd->has_best || p->e.this_update > fd->best.e.this_update) {
			staple_pick_copy(&fd->best, p);
			fd->has_best = 1;
		}
		break;
	case STAPLE_EXPIRED:
		staple_pick_copy(&fd->stale, p);
		fd->has_stale = 1;
		break;
	case STAPLE_FUTURE:
		staple_pick_copy(&fd->future, p);
		fd->has_future = 1;
		break;
	default:
		staple_pick_copy(&fd->unusable, p);
		fd->has_unusable = 1;
	}
}

/*
 * The candidates for `id` in `s`: its serial's bucket of the files read,
 * and of the shared index's live files. Whether one is servable.
 */
static int
staple_store_best(const struct staple_snapshot *s, struct staple_certid *id,
    time_t now, struct staple_found *fd)
{
	size_t b = staple_serial_bucket(id->serial, id->serial_len, s->mask);
	uint32_t first, end, file;
	struct staple_pick p;

	fd->has_best = fd->has_stale = fd->has_future = fd->has_unusable = 0;
	for (uint32_t i = s->start[b]; i < s->start[b + 1]; i++) {
		if (!staple_certid_match(id, s->slots[i]))
			continue;
		staple_pick_entry(&p, s->slots[i]);
		staple_found_add(fd, &p, id, now);
	}
	if (s->base != NULL && staple_shared_bucket(s->base, id->serial,
	    id->serial_len, &first, &end))
		for (uint32_t i = first; i < end; i++)
			if (staple_pick_shared(&p, s->base,
			    staple_shared_slot(s->base, i), &file) &&
			    staple_live(s->live, file))
				staple_found_add(fd, &p, id, now);
	return fd->has_best;
}

size_t
staple_store_find(X509 *leaf, X509 *issuer, unsigned char **der)
{
	char label[PATH_MAX + 256];
	struct staple_certid id;
	struct staple_snapshot *s;
	struct staple_found fd;
	time_t now = time(NULL), until;
	size_t len = 0;
	int best;

	staple_store_open();
	staple_store_tick();
	if (issuer == NULL)
		issuer = staple_issuers_find(leaf);
	staple_certid_init(&id, leaf, issuer);
	if ((s = staple_snapshot_hold()) == NULL)
		return 0;
	/* the newest that vetting accepts: one the budget left is vetted now, once */
	while ((best = staple_store_best(s, &id, now, &fd)) &&
	    staple_entry_sig(&fd.best.e, &until) == STAPLE_SIG_UNCHECKED) {
		snprintf(label, sizeof(label), "%s/%s", staple_conf.dir,
		    fd.best.f.name);
		switch (staple_entry_vet(&fd.best.e, issuer,
		    fd.best.f.name[0] == '/' ? NULL : label)) {
		case STAPLE_SIG_BAD:
			staple_pick_keep(&fd.best);
			continue;	/* the next newest, if any */
		case STAPLE_SIG_UNCHECKED:
			best = 0;	/* cannot happen: it matched, so an issuer is known */
		}
		staple_pick_keep(&fd.best);
		break;
	}
	if (best &&
	    (*der = ossl.CRYPTO_malloc(fd.best.f.der_len, __FILE__, __LINE__))) {
		memcpy(*der, fd.best.f.der, fd.best.f.der_len);
		len = fd.best.f.der_len;
		staple_log(STAPLE_DEBUG, "stapling %s", fd.best.f.name);
	} else if (!best) {
		staple_store_explain(leaf, issuer,
		    fd.has_stale ? &fd.stale.e : NULL,
		    fd.has_future ? &fd.future.e : NULL,
		    fd.has_unusable ? &fd.unusable.e : NULL,
		    id.serial, id.serial_len);
	}
	staple_snapshot_release(s);
	return len;
}

void
staple_store_fork_prepare(void)
{
	pthread_mutex_lock(&store.lock);
}

void
staple_store_fork_parent(void)
{
	pthread_mutex_unlock(&store.lock);
}

void
staple_store_fork_child(void)
{
	pthread_mutex_unlock(&store.lock);
	/* A rebuild running in another thread did not come along. */
	store.busy = 0;
}
