/*
 * staplectl show: one line per staple, saying what the library does with it,
 * then one per CRL (the CRL directory's, and any file named that is a CRL
 * rather than a response): its issuer, age, next update, entries and state.
 * Staples are vetted as the library vets them, against the issuers it would
 * know: the configured issuers file and --issuer certificates.
 * Exit status 1 when a staple is stale, not yet valid, not a response, not
 * served for its signature, or served but expiring within --warn (default a
 * day): a monitoring check.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../preload/config.h"
#include "../preload/issuers.h"
#include "../preload/staple.h"
#include "../preload/vet.h"
#include "../preload/when.h"
#include "crl.h"
#include "staplectl.h"

struct row {
	char *file;			/* shared by the rows of one file */
	const char *why;		/* not a usable response: why */
	char *sig_why;			/* why vetting refused it (shared) */
	int unparsed;			/* that was OpenSSL's parse */
	int servable;			/* staple_entry_servable() at `now` */
	int superseded;
	struct staple_entry e;
};

static struct row *rows;
static size_t nrows;

/*
 * One file named on the command line or found in a directory, and the rows
 * it comes to: files are read, parsed and vetted by worker threads, each
 * taking the next files in turn; the rows are then put together in the
 * files' order, so the output is the same whatever thread read what.
 */
struct job {
	char *file;			/* the rows' file name, shared by them */
	int at;				/* its directory's descriptor, or AT_FDCWD */
	const char *name;		/* its name there: in `file` */
	struct row *rows;
	size_t nrows;
	int nomem;			/* out of memory: the main thread dies */
	int maybe_crl;			/* not a response: a CRL, maybe */
};

static struct job *jobs;
static size_t njobs, jobs_room;
static size_t jobs_next;		/* atomic: the next job to take */
static time_t jobs_now;

/* Files a worker takes at a time: few atomic operations, even shares. */
#define JOB_CHUNK 32
/* Worker threads at most, and files per thread at least. */
#define WORKERS_MAX 16
#define WORKER_FILES 256

/* A new row of `j` (room for every row of the file was made). */
static struct row *
add_row(struct job *j, const char *why)
{
	struct row *r = &j->rows[j->nrows++];

	memset(r, 0, sizeof(*r));
	r->file = j->file;
	r->why = why;
	return r;
}

static int
skip_dot(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* A CRL, as show and metrics judge it. */
struct crl_row {
	char *file;
	const char *why;		/* not a CRL: why */
	char issuer[256];
	time_t this_update, next_update;
	size_t entries;
	int sig;			/* CTL_CRL_OK, ..._UNKNOWN_ISSUER, ..._BAD_SIGNATURE */
	const char *unusable;		/* a delta CRL, a critical extension */
};

static struct crl_row *crl_rows;
static size_t ncrl_rows, crl_rows_room;
/* the issuers CRLs are checked against: --issuer, `issuers`, the trust store */
static STACK_OF(X509) *crl_known;

#define CRL_SHOW_MAX (512L << 20)	/* as the library: larger is not used */

/*
 * Read `path` as a CRL into a row. With `always`, a file that is not one
 * is a row too; else 0 then, and nothing is added.
 */
static int
add_crl(const char *path, int always)
{
	struct ctl_crl c;
	struct crl_row *r;
	const char *why;
	X509 *issuer;

	if (!ctl_crl_load(path, CRL_SHOW_MAX, &c, &why) && !always)
		return 0;
	if (ncrl_rows == crl_rows_room) {
		crl_rows_room = crl_rows_room ? 2 * crl_rows_room : 16;
		if ((r = realloc(crl_rows, crl_rows_room * sizeof(*r))) == NULL)
			ctl_die(path, "out of memory");
		crl_rows = r;
	}
	r = &crl_rows[ncrl_rows++];
	memset(r, 0, sizeof(*r));
	if ((r->file = strdup(path)) == NULL)
		ctl_die(path, "out of memory");
	if (c.der == NULL) {
		r->why = why;
		return 1;
	}
	ctl_name_line(c.issuer, c.issuer_len, r->issuer, sizeof(r->issuer));
	r->this_update = c.this_update;
	r->next_update = c.next_update;
	r->entries = c.entries;
	r->unusable = c.delta ? "a delta CRL" : c.critical ?
	    "an unknown critical extension" : NULL;
	r->sig = ctl_crl_issuer(&c, crl_known, &issuer);
	ctl_crl_clear(&c);
	return 1;
}

/* The PEM certificates of `file`, if any, appended to `certs`. */
static void
crl_add_certs(const char *file, STACK_OF(X509) *certs)
{
	BIO *in = ossl.BIO_new_file(file, "r");
	X509 *x;

	while (in != NULL &&
	    (x = ossl.PEM_read_bio_X509(in, NULL, NULL, NULL)) != NULL)
		sk_X509_push(certs, x);
	ossl.BIO_free(in);
	ossl.ERR_clear_error();
}

/* Every file of the CRL directory `dir` (no dot files: as the library). */
static void
add_crl_dir(const char *dir)
{
	struct dirent **names;
	char *file;
	int n;

	if ((n = scandir(dir, &names, skip_dot, alphasort)) < 0)
		return;
	for (int i = 0; i < n; i++) {
		if (asprintf(&file, "%s/%s", dir, names[i]->d_name) >= 0) {
			add_crl(file, 1);
			free(file);
		}
		free(names[i]);
	}
	free(names);
}

/*
 * Parse and vet one file into rows, at `now`: vetted as the server vets it,
 * OpenSSL's parse included even where no issuer is known here. Runs in a
 * worker thread: on allocation failure it sets j->nomem and leaves it at that.
 */
static void
add_file(struct job *j, time_t now)
{
	struct staple_file *f;
	unsigned char *der;
	const char *why;
	char *sig_why;
	struct row *r;
	long len = 0;

	if ((j->rows = malloc(sizeof(*j->rows))) == NULL) {
		j->nomem = 1;
		return;
	}
	if ((der = ctl_read_file_at(j->at, j->name, &len)) == NULL) {
		add_row(j, errno == EINVAL ? "not a regular file" :
		    "cannot be read");
		return;
	}
	if ((f = staple_file_parse(j->file, der, len, &why)) == NULL) {
		j->nomem = 1;
		return;
	}
	staple_file_vet_all(f, NULL);	/* its verdicts are the rows */
	/* not a response: a CRL, maybe (the main thread reads it as one) */
	if (f->nentries == 0) {
		j->maybe_crl = 1;
		add_row(j, why);
	}
	/* room for a row per entry (there is room for one) */
	r = f->nentries > 1 ? realloc(j->rows, f->nentries * sizeof(*r)) :
	    j->rows;
	if (r != NULL)
		j->rows = r;
	sig_why = __atomic_load_n(&f->why, __ATOMIC_ACQUIRE);
	if (r == NULL || (sig_why != NULL && (sig_why = strdup(sig_why)) == NULL)) {
		staple_file_release(f);
		j->nomem = 1;
		return;
	}
	for (size_t i = 0; i < f->nentries; i++) {
		r = add_row(j, NULL);
		r->e = f->entries[i];
		r->e.file = NULL;	/* the file is gone after this */
		r->sig_why = sig_why;
		r->unparsed = __atomic_load_n(&f->unparsed, __ATOMIC_ACQUIRE);
		r->servable = staple_entry_servable(&r->e, now);
	}
	staple_file_release(f);
}

/* A worker: the next JOB_CHUNK files, until none are left. */
static void *
run_jobs(void *unused)
{
	size_t i;

	(void)unused;
	while ((i = __atomic_fetch_add(&jobs_next, JOB_CHUNK,
	    __ATOMIC_RELAXED)) < njobs)
		for (size_t k = i; k < i + JOB_CHUNK && k < njobs; k++)
			add_file(&jobs[k], jobs_now);
	return NULL;
}

/*
 * Threads for `n` files: one per CPU this process may run on, none for a
 * few files. One thread (the main one) under OpenSSL 1.0.2, which is safe
 * in threads only with locking callbacks that staplectl does not install.
 */
static int
workers(size_t n)
{
	cpu_set_t set;
	size_t cpus = 1;

	if (ossl.legacy)
		return 1;
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 1)
		cpus = (size_t)CPU_COUNT(&set);
	if (cpus > WORKERS_MAX)
		cpus = WORKERS_MAX;
	if (cpus > n / WORKER_FILES)
		cpus = n / WORKER_FILES ? n / WORKER_FILES : 1;
	return (int)cpus;
}

/*
 * Read, parse and vet every file listed, in parallel, then lay their rows
 * out in the files' order: linear in the rows.
 */
static void
add_jobs(time_t now)
{
	pthread_t threads[WORKERS_MAX];
	int n = workers(njobs), started = 0;
	size_t total = 0;

	jobs_now = now;
	/* the configured issuers are read once, before any thread asks */
	staple_issuers_load();
	while (started < n - 1 &&
	    pthread_create(&threads[started], NULL, run_jobs, NULL) == 0)
		started++;
	run_jobs(NULL);
	for (int i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	for (size_t i = 0; i < njobs; i++) {
		if (jobs[i].nomem)
			ctl_die(jobs[i].file, "out of memory");
		/* a CRL is its own row, in the CRL list (one thread) */
		if (jobs[i].maybe_crl && add_crl(jobs[i].file, 0)) {
			jobs[i].nrows = 0;
			free(jobs[i].file);
		}
		total += jobs[i].nrows;
	}
	/* every byte is copied over: no need to clear it first */
	if ((rows = malloc((total ? total : 1) * sizeof(*rows))) == NULL)
		ctl_die("show", "out of memory");
	for (size_t i = 0; i < njobs; i++) {
		memcpy(rows + nrows, jobs[i].rows, jobs[i].nrows * sizeof(*rows));
		nrows += jobs[i].nrows;
		free(jobs[i].rows);
	}
	free(jobs);
	jobs = NULL;
	njobs = 0;
}

/*
 * List `file` (a malloc()ed name it takes over) to be read, as `name` in the
 * directory open as `at`: one lookup of the name, not of the whole path.
 */
static void
add_job(char *file, int at, const char *name)
{
	struct job *grown;

	if (njobs == jobs_room) {
		jobs_room = jobs_room ? 2 * jobs_room : 256;
		if ((grown = realloc(jobs, jobs_room * sizeof(*jobs))) == NULL)
			ctl_die(file, "out of memory");
		jobs = grown;
	}
	memset(&jobs[njobs], 0, sizeof(*jobs));
	jobs[njobs].file = file;
	jobs[njobs].at = at;
	jobs[njobs++].name = name;
}

/* Whether paths a and b name one directory. */
static int
same_dir(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	    sa.st_ino == sb.st_ino;
}

/* 1: the staple directory is shown with the CRL directory after it */
static int skip_crl_dir;

/*
 * Every file of a directory (as the library sees it: no dot files), or one
 * file. A directory's descriptor is returned, to close once its files are
 * read; else -1.
 */
static int
add_path(const char *path)
{
	struct dirent **names;
	struct stat st;
	char *file;
	int n, at;

	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		if ((file = strdup(path)) == NULL)
			ctl_die(path, "out of memory");
		add_job(file, AT_FDCWD, file);
		return -1;
	}
	if ((n = scandir(path, &names, skip_dot, alphasort)) < 0 ||
	    (at = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		ctl_die(path, "cannot read directory");
	for (int i = 0; i < n; i++) {
		if (asprintf(&file, "%s/%s", path, names[i]->d_name) < 0)
			ctl_die(path, "out of memory");
		/* the CRL directory (inside by default): its own rows */
		if (skip_crl_dir && fstatat(at, names[i]->d_name, &st, 0) == 0 &&
		    S_ISDIR(st.st_mode) && same_dir(file, staple_conf.crl_dir))
			free(file);
		else
			add_job(file, at, file + strlen(path) + 1);
		free(names[i]);
	}
	free(names);
	return at;
}

/* Order rows by CertID, then newest thisUpdate first, then as listed. */
static int
cmp_certid(const void *pa, const void *pb)
{
	const struct row *a = *(struct row *const *)pa;
	const struct row *b = *(struct row *const *)pb;
	int c;

	if (a->e.md_nid != b->e.md_nid)
		return a->e.md_nid < b->e.md_nid ? -1 : 1;
	if ((c = (int)a->e.hash_len - (int)b->e.hash_len) != 0 ||
	    (c = (int)a->e.serial_len - (int)b->e.serial_len) != 0 ||
	    (c = memcmp(a->e.serial, b->e.serial, a->e.serial_len)) != 0 ||
	    (c = memcmp(a->e.name_hash, b->e.name_hash, a->e.hash_len)) != 0 ||
	    (c = memcmp(a->e.key_hash, b->e.key_hash, a->e.hash_len)) != 0)
		return c;
	if (a->e.this_update != b->e.this_update)
		return a->e.this_update > b->e.this_update ? -1 : 1;
	return a < b ? -1 : a > b;
}

static int
same_certid(const struct staple_entry *a, const struct staple_entry *b)
{
	return a->md_nid == b->md_nid && a->hash_len == b->hash_len &&
	    a->serial_len == b->serial_len &&
	    memcmp(a->name_hash, b->name_hash, a->hash_len) == 0 &&
	    memcmp(a->key_hash, b->key_hash, a->hash_len) == 0 &&
	    memcmp(a->serial, b->serial, a->serial_len) == 0;
}

/* Why a row is not served (its state is STAPLE_BADTIME); into buf. */
static void
row_unservable(const struct row *r, char *buf, size_t size)
{
	time_t until;

	if (staple_entry_sig(&r->e, &until) == STAPLE_SIG_BAD && r->unparsed)
		snprintf(buf, size, "not served: OpenSSL's parse refuses it (%s)",
		    r->sig_why ? r->sig_why : "not parsed");
	else if (staple_entry_sig(&r->e, &until) == STAPLE_SIG_BAD)
		snprintf(buf, size, "bad signature: not served (%s)",
		    r->sig_why ? r->sig_why : "not verified");
	else if (r->e.flags & STAPLE_ENTRY_CRITICAL)
		snprintf(buf, size, "not served: a critical singleExtension");
	else if (r->e.flags & STAPLE_ENTRY_BADTIME)
		snprintf(buf, size, "not served: an unreadable thisUpdate or"
		    " nextUpdate");
	else if (r->e.flags & STAPLE_ENTRY_BACKWARDS)
		snprintf(buf, size, "not served: nextUpdate before thisUpdate");
	else
		snprintf(buf, size, "not served: the responder certificate that"
		    " signed it has expired");
}

/*
 * Of several current staples for one certificate, the library serves the
 * newest (the first listed of equals): sorted by CertID, each run's first
 * is served, the rest superseded. n log n.
 */
static void
mark_superseded(void)
{
	struct row **cur;
	size_t n = 0;

	if ((cur = calloc(nrows ? nrows : 1, sizeof(*cur))) == NULL)
		ctl_die("show", "out of memory");
	for (size_t i = 0; i < nrows; i++)
		if (rows[i].why == NULL && rows[i].servable == STAPLE_CURRENT)
			cur[n++] = &rows[i];
	qsort(cur, n, sizeof(*cur), cmp_certid);
	for (size_t i = 1; i < n; i++)
		if (same_certid(&cur[i - 1]->e, &cur[i]->e))
			cur[i]->superseded = 1;
	free(cur);
}

/*
 * What a row comes to: its identity and times as printed, a state, a
 * sentence, and whether it needs attention.
 */
struct judged {
	char serial[2 * STAPLE_SERIAL_MAX + 1];	/* hex */
	char key[17];		/* first 8 issuer key hash bytes, hex */
	char this[32], next[32];
	const char *status;	/* good, revoked, unknown */
	const char *state;	/* served, superseded, expired, not-yet-valid, unusable */
	char text[256];
	long long left;		/* seconds to the staple's end; negative: past */
	int bad;
};

static const char *const status_names[] = { "good", "revoked", "unknown" };

/* `n` bytes in upper-case hex, as "%02X" each, into `out` (2n + 1). */
static void
hex(char *out, const unsigned char *p, size_t n)
{
	static const char digits[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* A time as ctl_stamp writes it, into buf[32]; the last one is remembered. */
struct stamp_memo {
	int set;
	time_t t;
	char text[32];
};

/* ctl_stamp through `m`: staples made together share their times. */
static void
stamp(struct stamp_memo *m, char *buf, time_t t)
{
	if (!m->set || m->t != t) {
		ctl_stamp(m->text, sizeof(m->text), t);
		m->t = t;
		m->set = 1;
	}
	memcpy(buf, m->text, sizeof(m->text));
}

/* The row's serial and first issuer key hash bytes in hex, and its times. */
static void
row_ids(const struct row *r, struct judged *j)
{
	/* printing is the main thread's alone */
	static struct stamp_memo this_memo, next_memo;

	hex(j->serial, r->e.serial, r->e.serial_len);
	hex(j->key, r->e.key_hash, 8);
	stamp(&this_memo, j->this, r->e.this_update);
	stamp(&next_memo, j->next, r->e.flags & STAPLE_ENTRY_NEXT ?
	    r->e.next_update : 0);
	j->status = status_names[r->e.cert_status < 3 ? r->e.cert_status : 2];
}

/* Judge a readable row (r->why == NULL) at `now`, `warn` seconds ahead. */
static void
judge_row(const struct row *r, time_t now, long warn, struct judged *j)
{
	time_t end = staple_entry_end(&r->e), signer_end;
	char left[32];

	row_ids(r, j);
	/* 64-bit: a nextUpdate in 9999 is far past a 32-bit long */
	j->left = (long long)end - (long long)now;
	j->bad = 1;
	switch (r->servable) {
	case STAPLE_BADTIME:
		j->state = "unusable";
		row_unservable(r, j->text, sizeof(j->text));
		break;
	case STAPLE_EXPIRED:
		j->state = "expired";
		ctl_span(left, sizeof(left), -j->left);
		snprintf(j->text, sizeof(j->text), "stale (expired %s ago)", left);
		break;
	case STAPLE_FUTURE:
		j->state = "not-yet-valid";
		ctl_span(left, sizeof(left), (long long)r->e.this_update - now);
		snprintf(j->text, sizeof(j->text), "not yet valid (in %s)", left);
		break;
	default:
		j->state = r->superseded ? "superseded" : "served";
		ctl_span(left, sizeof(left), j->left);
		j->bad = !r->superseded && j->left < warn;
		snprintf(j->text, sizeof(j->text), "%s (%s left)%s%s",
		    r->superseded ? "duplicate superseded" : "serves it", left,
		    j->bad ? ", expires within --warn" : "",
		    staple_entry_sig(&r->e, &signer_end) == STAPLE_SIG_UNCHECKED ?
		    "; signature not checked:"
		    " issuer unknown here (give --issuer)" : "");
	}
}

/* Print one staple's line; whether it needs attention. */
static int
print_row(const struct row *r, time_t now, long warn)
{
	struct judged j;

	if (r->why != NULL) {
		printf("%s: not a response: %s\n", r->file, r->why);
		return 1;
	}
	judge_row(r, now, warn, &j);
	printf("%s: serial %s issuer-key %s %s this %s next %s: %s\n", r->file,
	    j.serial, j.key, j.status, j.this, j.next, j.text);
	return j.bad;
}

static int
print_json(const struct row *r, time_t now, long warn, int last)
{
	struct judged j;

	printf("    {\"file\": ");
	ctl_quoted(r->file, 0);
	if (r->why != NULL) {
		printf(", \"state\": \"not-a-response\", \"served\": false,"
		    " \"reason\": ");
		ctl_quoted(r->why, 0);
		printf("}%s\n", last ? "" : ",");
		return 1;
	}
	judge_row(r, now, warn, &j);
	printf(", \"serial\": \"%s\", \"issuer_key\": \"%s\", \"status\": \"%s\","
	    " \"this_update\": \"%s\", \"next_update\": \"%s\", \"state\": \"%s\","
	    " \"served\": %s, \"seconds_left\": %lld, \"attention\": %s,"
	    " \"text\": ", j.serial, j.key, j.status, j.this, j.next, j.state, strcmp(j.state, "served") == 0 ? "true" : "false", j.left,
	    j.bad ? "true" : "false");
	ctl_quoted(j.text, 0);
	printf("}%s\n", last ? "" : ",");
	return j.bad;
}

/* The Prometheus text exposition of every row: two gauges per staple. */
static int
print_metrics(time_t now, long warn)
{
	struct judged j;
	int bad = 0;

	printf("# HELP libstaple_staple_seconds_left Seconds until the staple"
	    " stops being current (nextUpdate, or thisUpdate + max_age);"
	    " negative once it has.\n"
	    "# TYPE libstaple_staple_seconds_left gauge\n");
	for (size_t i = 0; i < nrows; i++) {
		if (rows[i].why != NULL)
			continue;
		judge_row(&rows[i], now, warn, &j);
		printf("libstaple_staple_seconds_left{file=");
		ctl_quoted(rows[i].file, 1);
		printf(",serial=\"%s\",issuer_key=\"%s\"} %lld\n", j.serial,
		    j.key, j.left);
	}
	printf("# HELP libstaple_staple_served Whether libstaple serves the"
	    " staple (1) or not (0); state says why.\n"
	    "# TYPE libstaple_staple_served gauge\n");
	for (size_t i = 0; i < nrows; i++) {
		printf("libstaple_staple_served{file=");
		ctl_quoted(rows[i].file, 1);
		if (rows[i].why != NULL) {
			printf(",state=\"not-a-response\"} 0\n");
			bad = 1;
			continue;
		}
		judge_row(&rows[i], now, warn, &j);
		bad |= j.bad;
		printf(",serial=\"%s\",issuer_key=\"%s\",state=\"%s\"} %d\n",
		    j.serial, j.key, j.state, strcmp(j.state, "served") == 0);
	}
	printf("# HELP libstaple_staples_attention Staples that need attention"
	    " (what staplectl show's exit status reports).\n"
	    "# TYPE libstaple_staples_attention gauge\n"
	    "libstaple_staples_attention %d\n", bad);
	return bad;
}

/* What a CRL row comes to at `now`, `warn` seconds ahead. */
struct crl_judged {
	char this[32], next[32], age[32];
	const char *state;	/* current, in-grace, stale, not-yet-valid,
				   bad-signature, unknown-issuer, unusable, not-a-crl */
	char text[256];
	long long left;		/* seconds to its end (nextUpdate, or
				   thisUpdate + max_age); negative: past */
	int used;		/* the library uses it (signature permitting) */
	int bad;
};

static void
judge_crl(const struct crl_row *r, time_t now, long warn, struct crl_judged *j)
{
	time_t end = r->next_update ? r->next_update :
	    staple_time_add(r->this_update, staple_conf.max_age);
	char left[32];

	memset(j, 0, sizeof(*j));
	j->bad = 1;
	ctl_stamp(j->this, sizeof(j->this), r->this_update);
	ctl_stamp(j->next, sizeof(j->next), r->next_update);
	ctl_span(j->age, sizeof(j->age), (long long)now - r->this_update < 0 ? 0 :
	    (long long)now - r->this_update);
	j->left = (long long)end - (long long)now;
	if (r->why != NULL) {
		j->state = "not-a-crl";
		snprintf(j->text, sizeof(j->text), "%s%s", strncmp(r->why,
		    "not a CRL", 9) ? "not a CRL: " : "", r->why);
	} else if (r->sig == CTL_CRL_UNKNOWN_ISSUER) {
		j->state = "unknown-issuer";
		snprintf(j->text, sizeof(j->text), "unknown issuer: signature not"
		    " checked (give --issuer)");
	} else if (r->sig == CTL_CRL_BAD_SIGNATURE) {
		j->state = "bad-signature";
		snprintf(j->text, sizeof(j->text), "bad signature: not used");
	} else if (r->unusable != NULL) {
		j->state = "unusable";
		snprintf(j->text, sizeof(j->text), "not used: %s", r->unusable);
	} else if (r->this_update > staple_time_add(now, staple_conf.clock_skew)) {
		j->state = "not-yet-valid";
		ctl_span(left, sizeof(left), (long long)r->this_update - now);
		snprintf(j->text, sizeof(j->text), "not yet valid (in %s)", left);
	} else if (staple_time_add(end, staple_conf.crl_grace) < now) {
		j->state = "stale";
		ctl_span(left, sizeof(left), -j->left);
		snprintf(j->text, sizeof(j->text), "stale (expired %s ago): not"
		    " used", left);
	} else if (end < now) {
		j->state = "in-grace";
		j->used = 1;
		ctl_span(left, sizeof(left), -j->left);
		snprintf(j->text, sizeof(j->text), "past its next update (%s"
		    " ago): used within crl_grace", left);
	} else {
		j->state = "current";
		j->used = 1;
		j->bad = j->left < warn;
		ctl_span(left, sizeof(left), j->left);
		snprintf(j->text, sizeof(j->text), "current (%s left)%s", left,
		    j->bad ? ", expires within --warn" : "");
	}
}

/* One CRL's line; whether it needs attention. */
static int
print_crl_row(const struct crl_row *r, time_t now, long warn)
{
	struct crl_judged j;

	judge_crl(r, now, warn, &j);
	if (r->why != NULL)
		printf("%s: %s\n", r->file, j.text);
	else
		printf("%s: CRL issuer %s entries %zu this %s (age %s) next %s:"
		    " %s\n", r->file, r->issuer, r->entries, j.this, j.age,
		    j.next, j.text);
	return j.bad;
}

static int
print_crl_json(const struct crl_row *r, time_t now, long warn, int last)
{
	struct crl_judged j;

	judge_crl(r, now, warn, &j);
	printf("    {\"file\": ");
	ctl_quoted(r->file, 0);
	if (r->why == NULL) {
		printf(", \"issuer\": ");
		ctl_quoted(r->issuer, 0);
		printf(", \"entries\": %zu, \"this_update\": \"%s\","
		    " \"age_seconds\": %lld, \"next_update\": \"%s\","
		    " \"seconds_left\": %lld", r->entries, j.this,
		    (long long)now - r->this_update, j.next, j.left);
	}
	printf(", \"state\": \"%s\", \"used\": %s, \"attention\": %s,"
	    " \"text\": ", j.state, j.used ? "true" : "false",
	    j.bad ? "true" : "false");
	ctl_quoted(j.text, 0);
	printf("}%s\n", last ? "" : ",");
	return j.bad;
}

/* The CRL gauges (only when there are CRLs: the staple-only output stays). */
static int
print_crl_metrics(time_t now, long warn)
{
	static const char *const gauges[][2] = {
		{ "libstaple_crl_seconds_left", "Seconds until the CRL's"
		    " nextUpdate (or thisUpdate + max_age); negative once past." },
		{ "libstaple_crl_age_seconds", "Seconds since the CRL's"
		    " thisUpdate." },
		{ "libstaple_crl_entries", "Revoked certificates the CRL lists." },
		{ "libstaple_crl_used", "Whether the library uses the CRL (1) or"
		    " not (0); state says why." },
	};
	struct crl_judged j;
	int bad = 0;

	if (ncrl_rows == 0)
		return 0;
	for (size_t g = 0; g < sizeof(gauges) / sizeof(gauges[0]); g++) {
		printf("# HELP %s %s\n# TYPE %s gauge\n", gauges[g][0],
		    gauges[g][1], gauges[g][0]);
		for (size_t i = 0; i < ncrl_rows; i++) {
			const struct crl_row *r = &crl_rows[i];

			judge_crl(r, now, warn, &j);
			if (g == 0)
				bad += j.bad;
			if (r->why != NULL && g < 3)
				continue;
			printf("%s{file=", gauges[g][0]);
			ctl_quoted(r->file, 1);
			if (r->why == NULL) {
				printf(",issuer=");
				ctl_quoted(r->issuer, 1);
			}
			if (g == 0)
				printf("} %lld\n", j.left);
			else if (g == 1)
				printf("} %lld\n", (long long)now - r->this_update);
			else if (g == 2)
				printf("} %zu\n", r->entries);
			else
				printf(",state=\"%s\"} %d\n", j.state, j.used);
		}
	}
	printf("# HELP libstaple_crls_attention CRLs that need attention.\n"
	    "# TYPE libstaple_crls_attention gauge\n"
	    "libstaple_crls_attention %d\n", bad);
	return bad > 0;
}

enum { SHOW_TEXT, SHOW_JSON, SHOW_METRICS };

/*
 * The staple directories among the arguments after the options (the
 * configured one when there are none): whose registers show --wanted and
 * metrics look at.
 */
static char **
register_dirs(int argc, char **argv, int *n)
{
	char **dirs = calloc(argc + 1, sizeof(*dirs));
	struct stat st;

	if (dirs == NULL)
		ctl_die(argv[0], "out of memory");
	*n = 0;
	for (int i = optind; i < argc; i++)
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			dirs[(*n)++] = argv[i];
	if (optind == argc)
		dirs[(*n)++] = staple_conf.dir;
	return dirs;
}

/* show and metrics: the rows of DIR|FILE... (the staple directory by default). */
static int
show(int argc, char **argv, int mode)
{
	static const struct option opts[] = {
		{ "warn", required_argument, NULL, 'w' },
		{ "issuer", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "wanted", no_argument, NULL, 'W' },
		{ NULL, 0, NULL, 0 }
	};
	int wanted = 0, json = 0, nregs = 0;	/* show --wanted, --json */
	char **regs;				/* staple directories: registers */

	STACK_OF(X509) *issuers = sk_X509_new_null();
	time_t now = time(NULL);
	long warn = 86400;
	int opt, bad = 0, ndirs, *dirs;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'i') {
			ctl_read_certs(optarg, issuers);
			continue;
		}
		if (opt == 'j' && mode == SHOW_TEXT) {
			json = 1;
			continue;
		}
		if (opt == 'W' && mode == SHOW_TEXT) {
			wanted = 1;
			continue;
		}
		if (opt != 'w' || (warn = staple_duration_parse(optarg)) < 0)
			ctl_die(argv[0], "usage: show|metrics [--warn DURATION]"
			    " [--issuer CERT]... [--json] [DIR|FILE ...];"
			    " show --wanted [--warn DURATION] [--json] [DIR ...]");
	}
	if (json)
		mode = SHOW_JSON;
	regs = register_dirs(argc, argv, &nregs);
	if (wanted)
		return ctl_wanted_show(regs, nregs, json, warn);

	staple_issuers_add_chain(issuers);
	/* CRLs are checked against --issuer, `issuers` and the trust store */
	crl_known = issuers;
	if (staple_conf.issuers[0] != '\0' && access(staple_conf.issuers, R_OK) == 0)
		crl_add_certs(staple_conf.issuers, crl_known);
	ctl_system_certs(crl_known);
	/* the directories stay open while their files are read */
	skip_crl_dir = optind == argc;
	ndirs = optind == argc ? 1 : argc - optind;
	if ((dirs = calloc(ndirs, sizeof(*dirs))) == NULL)
		ctl_die("show", "out of memory");
	for (int i = 0; i < ndirs; i++)
		dirs[i] = add_path(optind == argc ? staple_conf.dir : argv[optind + i]);
	add_jobs(now);
	for (int i = 0; i < ndirs; i++)
		if (dirs[i] >= 0)
			close(dirs[i]);
	free(dirs);
	if (optind == argc)
		add_crl_dir(staple_conf.crl_dir);
	mark_superseded();
	if (mode == SHOW_METRICS) {
		bad = print_metrics(now, warn);
		bad |= print_crl_metrics(now, warn);
		return ctl_wanted_metrics(regs, nregs, warn) | bad;
	}
	if (mode == SHOW_JSON)
		printf("{\n  \"staples\": [\n");
	for (size_t i = 0; i < nrows; i++)
		bad |= mode == SHOW_JSON ?
		    print_json(&rows[i], now, warn, i + 1 == nrows) :
		    print_row(&rows[i], now, warn);
	if (mode == SHOW_JSON)
		printf("  ],\n  \"crls\": [\n");
	for (size_t i = 0; i < ncrl_rows; i++)
		bad |= mode == SHOW_JSON ?
		    print_crl_json(&crl_rows[i], now, warn, i + 1 == ncrl_rows) :
		    print_crl_row(&crl_rows[i], now, warn);
	if (mode == SHOW_JSON)
		printf("  ],\n  \"attention\": %s\n}\n", bad ? "true" : "false");
	else if (nrows == 0 && ncrl_rows == 0)
		printf("no staples\n");
	return bad;
}

int
ctl_show(int argc, char **argv)
{
	return show(argc, argv, SHOW_TEXT);
}

int
ctl_metrics(int argc, char **argv)
{
	return show(argc, argv, SHOW_METRICS);
}
