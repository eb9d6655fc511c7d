/*
 * store.c - the staple directory, its snapshots and the CertID index.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
#include "staple.h"
#include "store.h"
#include "vet.h"

/* An immutable view of every staple, shared by the handshakes using it. */
struct staple_snapshot {
	int refs;			/* atomic */
	size_t nfiles;
	struct staple_file **files;	/* sorted by name */
	size_t mask;			/* buckets - 1; buckets are by serial */
	uint32_t *start;		/* bucket b: slots[start[b] .. start[b+1]) */
	const struct staple_entry **slots;
};

#define WATCH_MAX 64
static char *watch[WATCH_MAX];		/* CERTFILE.ocsp paths: append-only */
static int watch_count;			/* atomic */

static struct {
	pthread_mutex_t lock;		/* guards `current` (a pointer swap) */
	struct staple_snapshot *current;
	int opened;			/* atomic: staple_store_open has run */
	int busy;			/* atomic: a thread is rebuilding */
	time_t next_check;		/* atomic */
	int dirfd;
	unsigned issuers_gen;		/* issuers known at the last check */
	struct stat dir;		/* the directory as last scanned */
	int dir_errno;			/* last open error, logged on change */
} store = { PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0, 0, -1, 0, { 0 }, 0 };

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
 * Read a regular file of at most STAPLE_FILE_MAX bytes, and stat it into
 * *st; NULL (logged) if it is not one.
 */
static unsigned char *
staple_read(int at, const char *name, const char *label, size_t *len,
    struct stat *st)
{
	unsigned char *buf = NULL;
	ssize_t n;
	size_t got = 0;
	int fd;

	/* O_NONBLOCK: a FIFO that slipped in must not hang a handshake. */
	fd = openat(at, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		/* A file removed since readdir() is no news; a broken link is. */
		if (errno != ENOENT)
			staple_skip(label, strerror(errno));
		else if (fstatat(at, name, st, AT_SYMLINK_NOFOLLOW) == 0)
			staple_skip(label, "broken symbolic link");
		return NULL;
	}
	if (fstat(fd, st) != 0) {
		staple_skip(label, strerror(errno));
		goto done;
	}
	if (!S_ISREG(st->st_mode) || st->st_size > STAPLE_FILE_MAX) {
		staple_skip(label, S_ISREG(st->st_mode) ? "larger than 1 MiB" :
		    "not a regular file");
		goto done;
	}
	if ((buf = malloc(st->st_size ? st->st_size : 1)) == NULL)
		goto done;
	while (got < (size_t)st->st_size &&
	    (n = read(fd, buf + got, st->st_size - got)) > 0)
		got += n;
	*len = got;
done:
	close(fd);
	return buf;
}

/*
 * Read a file readdir() called regular: no fstat (it is the fourth system
 * call of each of 100,000 files), a short read is the end of the file.
 * NULL (logged) if it cannot be read or holds more than STAPLE_FILE_MAX.
 */
static unsigned char *
staple_read_regular(int at, const char *name, const char *label, size_t *len)
{
	unsigned char first[16384], *buf = NULL, *grown;
	size_t size = sizeof(first), got = 0;
	ssize_t n;
	int fd;

	if ((fd = openat(at, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0) {
		if (errno != ENOENT)	/* removed since readdir(): no news */
			staple_skip(label, strerror(errno));
		return NULL;
	}
	/* most staples fit the stack buffer: one exact allocation each */
	if ((n = read(fd, first, sizeof(first))) >= 0 && (size_t)n < sizeof(first)) {
		close(fd);
		if ((buf = malloc(n ? (size_t)n : 1)) != NULL) {
			memcpy(buf, first, (size_t)n);
			*len = (size_t)n;
		}
		return buf;
	}
	if (n > 0 && (buf = malloc(size)) != NULL) {
		memcpy(buf, first, (size_t)n);
		got = (size_t)n;
		while (got == size && got <= STAPLE_FILE_MAX &&
		    (grown = realloc(buf, size * 2)) != NULL) {
			buf = grown;
			size *= 2;
			if ((n = read(fd, buf + got, size - got)) <= 0)
				break;
			got += (size_t)n;
		}
	}
	close(fd);
	if (n < 0 || buf == NULL || got > STAPLE_FILE_MAX) {
		staple_skip(label, n < 0 ? strerror(errno) : "larger than 1 MiB");
		free(buf);
		return NULL;
	}
	*len = got;
	return buf;
}

/* Append `f` to `files`; 0 (and `f` released) on allocation failure. */
static int
staple_files_add(struct staple_file ***files, size_t *n, size_t *cap,
    struct staple_file *f)
{
	struct staple_file **grown;

	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 64;
		if ((grown = realloc(*files, *cap * sizeof(**files))) == NULL) {
			staple_file_release(f);
			return 0;
		}
		*files = grown;
	}
	(*files)[(*n)++] = f;
	return 1;
}

/*
 * Eager vetting spends at most this much of a check (after a rebuild, or
 * when new issuers are known): a hundred files or more; the rest is vetted
 * by the handshakes that need them, once each (vet.h).
 */
#define VET_BUDGET_NS 20000000L

static struct timespec vet_deadline;	/* the rebuilding thread's only */

static void
staple_vet_start(void)
{
	clock_gettime(CLOCK_MONOTONIC, &vet_deadline);
	vet_deadline.tv_nsec += VET_BUDGET_NS;
	if (vet_deadline.tv_nsec >= 1000000000L) {
		vet_deadline.tv_sec++;
		vet_deadline.tv_nsec -= 1000000000L;
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
	struct timespec now;

	for (size_t i = 0; s != NULL && i < s->nfiles; i++) {
		if (staple_file_vetted(s->files[i]))
			continue;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > vet_deadline.tv_sec ||
		    (now.tv_sec == vet_deadline.tv_sec &&
		    now.tv_nsec >= vet_deadline.tv_nsec))
			break;
		snprintf(label, sizeof(label), "%s/%s", staple_conf.dir,
		    s->files[i]->name);
		staple_file_vet(s->files[i], s->files[i]->name[0] == '/' ?
		    s->files[i]->name : label);
	}
	staple_snapshot_release(s);
}

/*
 * Read and parse `name` (relative to `at`) as it is now; NULL if unusable.
 * `ino`: readdir() said it is a regular file with that inode (0: unknown).
 */
static struct staple_file *
staple_load(int at, const char *name, ino_t ino, const char *label, int *nomem)
{
	struct staple_file *f;
	const char *why;
	struct stat st;
	unsigned char *der;
	size_t len = 0;

	if ((der = ino != 0 ? staple_read_regular(at, name, label, &len) :
	    staple_read(at, name, label, &len, &st)) == NULL)
		return NULL;
	if (ino != 0) {
		memset(&st, 0, sizeof(st));
		st.st_ino = ino;
		st.st_size = (off_t)len;
	}
	if ((f = staple_file_parse(name, der, len, &why)) == NULL) {
		*nomem = 1;
		return NULL;
	}
	if (why != NULL) {
		staple_log(STAPLE_WARN, "%s: %s; skipped", label, why);
	} else {
		staple_log(STAPLE_DEBUG, "%s: %zu certificate(s)", label,
		    f->nentries);
	}
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->size = st.st_size;
	f->mtime = st.st_mtim;
	return f;
}

/*
 * Add the file `name` (relative to `at`) to `files`, reusing the parse from
 * `old` when it is the same file: the same inode as readdir() says (`ino`,
 * no system call: staples are replaced by rename, which makes a new inode),
 * or, for links and watched paths (`ino` 0), the same inode, size and time
 * as stat() says of what the name leads to. Returns 0 on allocation failure only.
 */
static int
staple_scan_file(struct staple_file ***files, size_t *n, size_t *cap,
    const struct staple_snapshot *old, int at, const char *name, ino_t ino,
    const char *label)
{
	struct staple_file *f = staple_snapshot_file(old, name);
	struct stat st;
	int nomem = 0;

	if (f != NULL && (ino != 0 ? f->ino == ino :
	    fstatat(at, name, &st, 0) == 0 && f->dev == st.st_dev &&
	    f->ino == st.st_ino &&
	    f->size == st.st_size && f->mtime.tv_sec == st.st_mtim.tv_sec &&
	    f->mtime.tv_nsec == st.st_mtim.tv_nsec)) {
		staple_file_hold(f);
		return staple_files_add(files, n, cap, f);
	}
	if ((f = staple_load(at, name, ino, label, &nomem)) == NULL)
		return !nomem;
	return staple_files_add(files, n, cap, f);
}

/* Every file of the staple directory, through a fresh open file description. */
static int
staple_scan_dir(struct staple_file ***files, size_t *n, size_t *cap,
    const struct staple_snapshot *old)
{
	char label[PATH_MAX + 256];
	struct dirent *d;
	DIR *dir;
	int fd, ok = 1;

	if (store.dirfd < 0)
		return 1;
	/* Not store.dirfd itself: its offset is shared with forked siblings. */
	fd = openat(store.dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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
		snprintf(label, sizeof(label), "%s/%s", staple_conf.dir, d->d_name);
		/*
		 * A symbolic link is judged by what it points to: a Kubernetes
		 * Secret's files are links into a ..data directory that is
		 * replaced by rename, while the links stay as they were.
		 */
		ok = staple_scan_file(files, n, cap, old, store.dirfd, d->d_name,
		    d->d_type == DT_REG ? d->d_ino : 0, label);
	}
	closedir(dir);
	return ok;
}

/* Build a snapshot from the directory and the watched files and publish it. */
static void
staple_store_rebuild(void)
{
	struct staple_snapshot *s, *old = staple_snapshot_hold();
	size_t cap = 0;
	int ok, nwatch = __atomic_load_n(&watch_count, __ATOMIC_ACQUIRE);

	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto done;
	s->refs = 1;
	ok = staple_scan_dir(&s->files, &s->nfiles, &cap, old);
	for (int i = 0; ok && i < nwatch; i++)
		ok = staple_scan_file(&s->files, &s->nfiles, &cap, old,
		    AT_FDCWD, watch[i], 0, watch[i]);
	if (s->nfiles > 1)
		qsort(s->files, s->nfiles, sizeof(*s->files), staple_file_cmp);
	if (!ok || !staple_snapshot_index(s)) {
		staple_log(STAPLE_ERROR, "out of memory loading staples");
		staple_snapshot_release(s);
		goto done;
	}
	pthread_mutex_lock(&store.lock);
	staple_snapshot_release(store.current);	/* drops the store's ref only */
	store.current = s;
	pthread_mutex_unlock(&store.lock);
done:
	staple_snapshot_release(old);
}

/* (Re)open the staple directory by path; whether it is open now. */
static int
staple_dir_open(void)
{
	int fd = open(staple_conf.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		if (errno != store.dir_errno)
			staple_log(STAPLE_WARN, "staple directory %s: %s",
			    staple_conf.dir, strerror(errno));
		store.dir_errno = errno;
		return store.dirfd >= 0;
	}
	if (store.dirfd >= 0)
		close(store.dirfd);
	store.dirfd = fd;
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

	if (store.dirfd < 0 || fstat(store.dirfd, &fst) != 0 ||
	    (stat(staple_conf.dir, &pst) == 0 &&
	    (pst.st_dev != fst.st_dev || pst.st_ino != fst.st_ino))) {
		if (!staple_dir_open() || fstat(store.dirfd, &fst) != 0)
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

/* Whether a watched CERTFILE.ocsp appeared, changed or went away. */
static int
staple_watch_changed(const struct staple_snapshot *s)
{
	int n = __atomic_load_n(&watch_count, __ATOMIC_ACQUIRE);
	const struct staple_file *f;
	struct stat st;

	for (int i = 0; i < n; i++) {
		f = staple_snapshot_file(s, watch[i]);
		if (stat(watch[i], &st) != 0) {
			if (f != NULL)
				return 1;
			continue;
		}
		if (f == NULL || f->ino != st.st_ino || f->dev != st.st_dev ||
		    f->size != st.st_size ||
		    f->mtime.tv_sec != st.st_mtim.tv_sec ||
		    f->mtime.tv_nsec != st.st_mtim.tv_nsec)
			return 1;
	}
	return 0;
}

/* Rebuild if anything changed; `force` rebuilds regardless. One thread only. */
static void
staple_store_check(int force)
{
	struct staple_snapshot *s;
	time_t now = time(NULL);
	int changed, learned;

	__atomic_store_n(&store.next_check, now + staple_conf.reload_interval,
	    __ATOMIC_RELAXED);
	changed = staple_dir_changed(now);
	s = staple_snapshot_hold();
	changed |= staple_watch_changed(s);
	staple_snapshot_release(s);
	learned = store.issuers_gen != staple_issuers_generation();
	store.issuers_gen = staple_issuers_generation();
	if (!changed && !force && !learned)
		return;
	ossl.ERR_set_mark();
	if (changed || force)
		staple_store_rebuild();
	staple_vet_start();
	staple_store_vet();
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

void
staple_store_watch(const char *certfile)
{
	char path[PATH_MAX], *ocsp;
	int n;

	if (realpath(certfile, path) == NULL ||
	    asprintf(&ocsp, "%s.ocsp", path) < 0)
		return;
	staple_store_open();
	while (!staple_store_claim())
		sched_yield();	/* setup time: a check in progress is short */
	n = __atomic_load_n(&watch_count, __ATOMIC_ACQUIRE);
	for (int i = 0; i < n; i++)
		if (strcmp(watch[i], ocsp) == 0)
			n = -1;
	if (n < 0 || n == WATCH_MAX) {
		free(ocsp);
	} else {
		watch[n] = ocsp;
		__atomic_store_n(&watch_count, n + 1, __ATOMIC_RELEASE);
		staple_store_check(0);
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

/*
 * The newest servable entry of bucket `b` for `id` (see staple_entry_servable);
 * *stale, *future and *unusable: the others, for the log line.
 */
static const struct staple_entry *
staple_store_best(const struct staple_snapshot *s, size_t b,
    struct staple_certid *id, time_t now, const struct staple_entry **stale,
    const struct staple_entry **future, const struct staple_entry **unusable)
{
	const struct staple_entry *e, *best = NULL;

	for (uint32_t i = s->start[b]; i < s->start[b + 1]; i++) {
		e = s->slots[i];
		if (!staple_certid_match(id, e))
			continue;
		switch (staple_entry_servable(e, now)) {
		case STAPLE_CURRENT:
			if (best == NULL || e->this_update > best->this_update)
				best = e;
			break;
		case STAPLE_EXPIRED:
			*stale = e;
			break;
		case STAPLE_FUTURE:
			*future = e;
			break;
		default:
			*unusable = e;
		}
	}
	return best;
}

size_t
staple_store_find(X509 *leaf, X509 *issuer, unsigned char **der)
{
	const struct staple_entry *best, *stale = NULL, *future = NULL;
	const struct staple_entry *unusable = NULL;
	char label[PATH_MAX + 256];
	struct staple_certid id;
	struct staple_snapshot *s;
	time_t now = time(NULL), until;
	size_t len = 0, b;

	staple_store_open();
	staple_store_tick();
	if (issuer == NULL)
		issuer = staple_issuers_find(leaf);
	staple_certid_init(&id, leaf, issuer);
	if ((s = staple_snapshot_hold()) == NULL)
		return 0;
	b = staple_serial_bucket(id.serial, id.serial_len, s->mask);
	/* the newest that vetting accepts: one the budget left is vetted now, once */
	while ((best = staple_store_best(s, b, &id, now, &stale, &future,
	    &unusable)) != NULL &&
	    staple_entry_sig(best, &until) == STAPLE_SIG_UNCHECKED) {
		snprintf(label, sizeof(label), "%s/%s", staple_conf.dir,
		    best->file->name);
		switch (staple_entry_vet(best, issuer, best->file->name[0] == '/' ?
		    NULL : label)) {
		case STAPLE_SIG_BAD:
			continue;	/* the next newest, if any */
		case STAPLE_SIG_UNCHECKED:
			best = NULL;	/* cannot happen: it matched, so an issuer is known */
		}
		break;
	}
	if (best != NULL &&
	    (*der = ossl.CRYPTO_malloc(best->file->der_len, __FILE__, __LINE__))) {
		memcpy(*der, best->file->der, best->file->der_len);
		len = best->file->der_len;
		staple_log(STAPLE_DEBUG, "stapling %s", best->file->name);
	} else if (best == NULL) {
		staple_store_explain(leaf, issuer, stale, future, unusable,
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
