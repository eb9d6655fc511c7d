/*
 * staplectl refresh: keep every certificate's staple fresh in one run.
 *
 * For each certificate (the arguments; without any, `certs =` in the config
 * file and then every entry of the staple directory's register; globs
 * allowed; chain files: leaf first, issuer next) whose staple in the
 * directory is missing, unusable or past half its validity, fetch, verify
 * and store one as `fetch` does; a fresh one is not asked about. Certificates
 * are handled by up to --jobs child processes at once, each responder asked
 * with --timeout. One line per certificate in the order given, then a
 * summary (or --json).
 *
 * Exit status 1 when a fetch failed (the old staple is kept), 3 on a usage
 * error, else 0. A bad register entry, or one dropped, is a line and not a
 * failure: refreshing again cannot mend it (only its writer can, or time:
 * it ages out), so it must not keep the service red; a fetch that failed
 * for a sound entry is a certificate a server presents without a staple,
 * and fails the run as a certificate of `certs =` does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>


#include "../preload/config.h"
#include "../preload/issuers.h"
#include "../preload/staple.h"
#include "../preload/verify.h"
#include "../preload/vet.h"
#include "staplectl.h"
#include "wanted.h"

enum { R_FRESH, R_FETCHED, R_NO_URL, R_FAILED, R_BAD, R_DROPPED, R_REMOVED };
static const char *const result_names[] = {
	"fresh", "fetched", "no-ocsp", "failed", "bad-entry", "dropped",
	"removed"
};

/* One certificate's outcome: fixed size, sent whole from a child. */
struct outcome {
	int result;
	int verdict;		/* STAPLE_GOOD or STAPLE_REVOKED, when known */
	time_t next;		/* the staple's end (nextUpdate or max_age) */
	char staple[4096];
	char reason[512];	/* why it failed, or why it was fetched */
};

struct options {
	const char *dir, *cafile;
	int jobs, timeout, json;
	int printed;		/* --json: objects printed so far */
	size_t counts[7];
};

/*
 * One certificate to refresh: a file to read, or (a register entry) the
 * leaf and issuer already read and judged.
 */
struct item {
	const char *label;	/* what its line names */
	const char *file;	/* NULL: leaf and issuer given */
	X509 *leaf, *issuer;
	const char *program;	/* a register entry's writer */
};

/* Every PEM certificate of `file` into `certs`; the first, or NULL. */
static X509 *
load_certs(const char *file, STACK_OF(X509) *certs)
{
	BIO *in = ossl.BIO_new_file(file, "r");
	X509 *x, *first = NULL;

	while (in != NULL &&
	    (x = ossl.PEM_read_bio_X509(in, NULL, NULL, NULL)) != NULL) {
		if (first == NULL)
			first = x;
		sk_X509_push(certs, x);
	}
	ossl.BIO_free(in);
	ossl.ERR_clear_error();
	return first;
}

/* Whether the staple at `path` is fresh (ctl_staple_state). */
static int
staple_fresh(const char *path, X509 *leaf, X509 *issuer, time_t *next,
    int *verdict, const char **why)
{
	return ctl_staple_state(path, leaf, issuer, next, verdict, why) == 2;
}

/* The work for one certificate (in a child process). */
static void
refresh_one(const struct item *it, const struct options *o,
    struct outcome *out)
{
	struct ctl_cert c = { .file = it->label, .certs = sk_X509_new_null() };
	struct ctl_result r = { .verdict = -1 };
	X509_STORE *store = o->cafile ? ossl.X509_STORE_new() : NULL;
	const char *why;
	char name[256], *url = NULL;

	memset(out, 0, sizeof(*out));
	out->result = R_FAILED;
	if (it->file == NULL) {
		/* a register entry: its own leaf and issuer, nothing else */
		c.leaf = it->leaf;
		c.issuer = it->issuer;
		staple_x509_up_ref(c.issuer);
	} else if ((c.leaf = load_certs(it->file, c.certs)) == NULL) {
		snprintf(out->reason, sizeof(out->reason), "no PEM certificate");
		goto done;
	}
	/* nothing to fetch for it: its issuer does not matter then */
	if ((url = ctl_ocsp_url(c.leaf)) == NULL) {
		out->result = R_NO_URL;
		goto done;
	}
	if (store != NULL)
		ossl.X509_STORE_load_locations(store, o->cafile, NULL);
	if (c.issuer == NULL &&
	    (c.issuer = ctl_find_issuer(c.leaf, c.certs, store)) == NULL) {
		snprintf(out->reason, sizeof(out->reason), "no issuer: the file"
		    " holds no certificate that issued the leaf%s",
		    o->cafile ? ", nor does --CAfile" : "; give --CAfile");
		goto done;
	}
	if (!staple_cert_name(c.leaf, c.issuer, ".der", name, sizeof(name)))
		goto done;
	snprintf(out->staple, sizeof(out->staple), "%.3800s/%s", o->dir, name);
	if (staple_fresh(out->staple, c.leaf, c.issuer, &out->next,
	    &out->verdict, &why)) {
		out->result = R_FRESH;
		goto done;
	}
	snprintf(out->reason, sizeof(out->reason), "%s", why);
	switch (ctl_fetch_one(&c, NULL, o->dir, o->timeout, &r)) {
	case CTL_NO_URL:
		out->result = R_NO_URL;
		break;
	case CTL_FAILED:
		snprintf(out->reason, sizeof(out->reason), "%s", r.reason);
		break;
	default:
		out->result = R_FETCHED;
		staple_fresh(out->staple, c.leaf, c.issuer, &out->next,
		    &out->verdict, &why);
	}
done:
	free(url);
	ossl.X509_STORE_free(store);
	ossl.X509_free(c.issuer);
	sk_X509_pop_free(c.certs, ossl.X509_free);
}

/* A running child: the certificate it works on and the pipe it answers on. */
struct job {
	pid_t pid;
	size_t index;
	int fd;
};

/* Read a finished child's outcome into outs[j->index]. */
static void
job_collect(struct job *j, struct outcome *outs, const struct item *items)
{
	struct outcome *out = &outs[j->index];
	size_t got = 0;
	ssize_t n;

	while (got < sizeof(*out) &&
	    (n = read(j->fd, (char *)out + got, sizeof(*out) - got)) > 0)
		got += n;
	close(j->fd);
	if (got != sizeof(*out)) {
		memset(out, 0, sizeof(*out));
		out->result = R_FAILED;
		snprintf(out->reason, sizeof(out->reason), "the worker for %s"
		    " died", items[j->index].label);
	}
}

/*
 * Wait for one child; collect it. Should wait() know of no child (ECHILD:
 * SIGCHLD ignored after all, the children reaped by the kernel), collect the
 * oldest: its pipe ends when it does, so every call still retires a job.
 */
static void
job_wait(struct job *jobs, int *running, struct outcome *outs,
    const struct item *items)
{
	pid_t pid;
	int i;

	while ((pid = wait(NULL)) < 0 && errno == EINTR)
		;
	for (i = 0; i < *running && jobs[i].pid != pid; i++)
		;
	if (i == *running)
		i = 0;
	job_collect(&jobs[i], outs, items);
	jobs[i] = jobs[--*running];
}

/*
 * A long run writes the index every INDEX_EVERY seconds too: until it is
 * written, each server process reads the staples the run replaced itself,
 * one copy per process.
 */
#define INDEX_EVERY 30
static time_t index_written;

/*
 * Write the directory's shared index when it changed, so that the servers'
 * processes share what this run wrote (root only: it is the only index
 * they map). Its failure is said, and fails nothing: they read the files.
 */
static void
refresh_index(const struct options *o)
{
	const char *why;
	size_t n;

	index_written = time(NULL);
	if (geteuid() == 0 && !ctl_index_write(o->dir, 0, &n, &why))
		fprintf(stderr, "staplectl: index of %s: not written: %s\n",
		    o->dir, why);
}

/* Run refresh_one for every item, at most o->jobs at a time. */
static void
refresh_all(const struct item *items, size_t n, const struct options *o,
    struct outcome *outs)
{
	struct job *jobs = calloc(o->jobs, sizeof(*jobs));
	struct outcome out;
	int running = 0, fds[2];

	if (jobs == NULL)
		ctl_die("refresh", "out of memory");
	/*
	 * Started with SIGCHLD ignored (a service manager's or shell's
	 * leftover), wait() would find no child: take the default back.
	 */
	signal(SIGCHLD, SIG_DFL);
	fflush(NULL);
	if (index_written == 0)
		index_written = time(NULL);
	for (size_t i = 0; i < n; i++) {
		if (running == o->jobs)
			job_wait(jobs, &running, outs, items);
		if (time(NULL) - index_written >= INDEX_EVERY)
			refresh_index(o);
		if (pipe(fds) != 0)
			ctl_die("refresh", strerror(errno));
		jobs[running].pid = fork();
		if (jobs[running].pid == 0) {
			close(fds[0]);
			refresh_one(&items[i], o, &out);
			_exit(write(fds[1], &out, sizeof(out)) == sizeof(out) ? 0 : 1);
		}
		close(fds[1]);
		if (jobs[running].pid < 0)
			ctl_die("refresh", strerror(errno));
		jobs[running].index = i;
		jobs[running].fd = fds[0];
		running++;
	}
	while (running > 0)
		job_wait(jobs, &running, outs, items);
	free(jobs);
}

static void
print_text(const char *file, const struct outcome *o)
{
	char next[32];

	ctl_stamp(next, sizeof(next), o->next);
	switch (o->result) {
	case R_FRESH:
		printf("%s: fresh: %s (%s, until %s)\n", file, o->staple,
		    staple_verdict_name(o->verdict), next);
		break;
	case R_FETCHED:
		printf("%s: fetched: %s, stored %s (until %s; before: %s)\n", file,
		    staple_verdict_name(o->verdict), o->staple, next, o->reason);
		break;
	case R_NO_URL:
		printf("%s: the certificate names no OCSP responder; nothing"
		    " to do\n", file);
		break;
	case R_BAD:
		printf("%s: bad entry: %s; ignored\n", file, o->reason);
		break;
	case R_DROPPED:
		printf("%s: dropped: %s\n", file, o->reason);
		break;
	case R_REMOVED:
		printf("%s: removed: %s\n", file, o->reason);
		break;
	default:
		printf("%s: failed: %s; the old staple is kept\n", file, o->reason);
	}
}

static void
print_json(const char *file, const char *program, const struct outcome *o,
    int first)
{
	char next[32];

	printf("%s    {\"cert\": ", first ? "" : ",\n");
	ctl_quoted(file, 0);
	if (program != NULL) {
		printf(", \"register\": true, \"program\": ");
		ctl_quoted(program, 0);
	}
	printf(", \"result\": \"%s\"", result_names[o->result]);
	if (o->staple[0] != '\0') {
		printf(", \"staple\": ");
		ctl_quoted(o->staple, 0);
	}
	if (o->result == R_FRESH || o->result == R_FETCHED) {
		ctl_stamp(next, sizeof(next), o->next);
		printf(", \"status\": \"%s\", \"until\": \"%s\"",
		    staple_verdict_name(o->verdict), next);
	}
	if (o->result != R_FRESH && o->result != R_NO_URL) {
		printf(", \"reason\": ");
		ctl_quoted(o->reason, 0);
	}
	putchar('}');
}

/* Count an outcome and print its line (or --json object). */
static void
report(struct options *o, const char *label, const char *program,
    const struct outcome *out)
{
	o->counts[out->result]++;
	if (o->json)
		print_json(label, program, out, o->printed++ == 0);
	else
		print_text(label, out);
}

/* An outcome that needs no fetch: bad, dropped, removed. */
static void
report_note(struct options *o, const char *label, const char *program,
    int result, const char *reason)
{
	struct outcome out;

	memset(&out, 0, sizeof(out));
	out.result = result;
	snprintf(out.reason, sizeof(out.reason), "%s", reason);
	report(o, label, program, &out);
}

/* The certificate files: every glob's matches, or the glob itself. */
static size_t
collect(char **patterns, size_t npatterns, glob_t *g)
{
	int flags = GLOB_NOCHECK;

	memset(g, 0, sizeof(*g));
	for (size_t i = 0; i < npatterns; i++) {
		glob(patterns[i], flags, NULL, g);
		flags |= GLOB_APPEND;
	}
	return g->gl_pathc;
}

/* Refresh the certificate files (certs =, or the arguments). */
static void
refresh_files(char **files, size_t n, struct options *o)
{
	struct item *items = calloc(n ? n : 1, sizeof(*items));
	struct outcome *outs = calloc(n ? n : 1, sizeof(*outs));

	if (items == NULL || outs == NULL)
		ctl_die("refresh", "out of memory");
	for (size_t i = 0; i < n; i++)
		items[i].label = items[i].file = files[i];
	refresh_all(items, n, o, outs);
	for (size_t i = 0; i < n; i++)
		report(o, files[i], NULL, &outs[i]);
	free(items);
	free(outs);
}

/*
 * The staple of a dropped entry: removed now if it has expired already
 * (or is no staple at all), else remembered in `st` until it does.
 */
static void
drop_staple(struct options *o, int dfd, const char *staple,
    const char *entry, struct ctl_wstate *st)
{
	char path[PATH_MAX], label[PATH_MAX + 160];
	time_t end;
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", o->dir, staple);
	if (fstatat(dfd, staple, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !S_ISREG(sb.st_mode))
		return;
	if ((end = ctl_staple_end(path)) > time(NULL)) {
		ctl_wstate_gone(st, staple, entry, end);
		return;
	}
	if (unlinkat(dfd, staple, 0) == 0) {
		snprintf(label, sizeof(label), "%s", path);
		report_note(o, label, NULL, R_REMOVED, "the staple of a dropped"
		    " register entry, expired");
	}
}

/*
 * The staples of entries dropped in earlier runs: each removed once it has
 * expired, unless its entry is back; the others kept in `st`.
 */
static void
gone_staples(struct options *o, int dfd, const struct ctl_wstate *old,
    const struct ctl_entry *e, size_t n, struct ctl_wstate *st)
{
	const struct ctl_gone *g;
	size_t j;

	for (size_t i = 0; i < old->ngone; i++) {
		g = &old->gone[i];
		for (j = 0; j < n; j++)
			if (strcmp(e[j].name, g->entry) == 0 &&
			    (e[j].state == W_USABLE || e[j].state == W_NO_URL))
				break;
		if (j < n)
			continue;	/* registered again: its staple is wanted */
		if (g->end > time(NULL))
			ctl_wstate_gone(st, g->staple, g->entry, g->end);
		else
			drop_staple(o, dfd, g->staple, g->entry, st);
	}
}

/* Whether `name` is among the first `n` of `names`. */
static int
known(char **names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return 1;
	return 0;
}

/*
 * One pass over the register `rfd`: every entry not in `names` yet (added
 * to it) judged, dropped or refreshed; failures recorded in `st`.
 */
static void
register_pass(struct options *o, int rfd, int dfd, char ***names,
    size_t *nnames, const struct ctl_wstate *old, struct ctl_wstate *st,
    int first)
{
	struct ctl_entry *e;
	struct item *items;
	struct outcome *outs;
	char **label, **more;
	size_t n, nitems = 0;
	time_t now = time(NULL);

	e = ctl_wanted_read(rfd, now, ctl_wanted_max_age(), &n);
	items = calloc(n ? n : 1, sizeof(*items));
	outs = calloc(n ? n : 1, sizeof(*outs));
	label = calloc(n ? n : 1, sizeof(*label));
	more = realloc(*names, (*nnames + n + 1) * sizeof(**names));
	if ((n > 0 && e == NULL) || items == NULL || outs == NULL ||
	    label == NULL || more == NULL)
		ctl_die("refresh", "out of memory");
	*names = more;
	if (first)
		gone_staples(o, dfd, old, e, n, st);
	for (size_t i = 0; i < n; i++) {
		if (known(*names, *nnames, e[i].name))
			continue;
		if (((*names)[(*nnames)++] = strdup(e[i].name)) == NULL ||
		    asprintf(&label[i], "%s/%s/%s", o->dir, CTL_WANTED_DIR,
		    e[i].name) < 0)
			ctl_die("refresh", "out of memory");
		switch (e[i].state) {
		case W_BAD:
			report_note(o, label[i], NULL, R_BAD, e[i].why);
			break;
		case W_EXPIRED:
		case W_AGED:
			if (unlinkat(rfd, e[i].name, 0) != 0)
				break;
			report_note(o, label[i], e[i].program[0] ?
			    e[i].program : NULL, R_DROPPED, e[i].why);
			if (e[i].staple[0] != '\0')
				drop_staple(o, dfd, e[i].staple, e[i].name, st);
			break;
		default:
			items[nitems].label = label[i];
			items[nitems].leaf = e[i].leaf;
			items[nitems].issuer = e[i].issuer;
			items[nitems++].program = e[i].program;
		}
	}
	refresh_all(items, nitems, o, outs);
	for (size_t i = 0; i < nitems; i++) {
		report(o, items[i].label, items[i].program, &outs[i]);
		if (outs[i].result == R_FAILED)
			ctl_wstate_fail(st, strrchr(items[i].label, '/') + 1,
			    now, outs[i].reason);
	}
	for (size_t i = 0; i < n; i++)
		free(label[i]);
	free(label);
	free(items);
	free(outs);
	ctl_wanted_free(e, n);
}

/*
 * Refresh the register of o->dir (created when missing); record in its
 * state file why fetches failed and which staples wait to expire. Entries
 * that arrive while this runs (a path unit's trigger during the run is
 * merged into it) are picked up by up to two more passes.
 */
static void
refresh_register(struct options *o)
{
	struct ctl_wstate old, st = { 0 };
	char **names = NULL;
	size_t nnames = 0, before = (size_t)-1;
	int rfd, dfd;

	if ((dfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (rfd = ctl_wanted_open(o->dir, 1)) < 0) {
		fprintf(stderr, "staplectl: %s/%s: %s; the register is not"
		    " read\n", o->dir, CTL_WANTED_DIR, ctl_wanted_error(errno));
		if (dfd >= 0)
			close(dfd);
		return;
	}
	/*
	 * one run at a time (the path unit's and one by hand): the state
	 * file one writes must not lose what the other recorded
	 */
	while (flock(rfd, LOCK_EX) != 0 && errno == EINTR)
		;
	ctl_wstate_read(o->dir, &old);
	for (int pass = 0; pass < 3 && nnames != before; pass++) {
		before = nnames;
		register_pass(o, rfd, dfd, &names, &nnames, &old, &st, pass == 0);
	}
	if (!ctl_wstate_write(o->dir, &st))
		fprintf(stderr, "staplectl: %s/%s: %s\n", o->dir,
		    CTL_WANTED_STATE, strerror(errno));
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	ctl_wstate_free(&old);
	ctl_wstate_free(&st);
	close(rfd);
	close(dfd);
}

int
ctl_refresh(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "CAfile", required_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'J' },
		{ NULL, 0, NULL, 0 }
	};
	struct options o = { .dir = staple_conf.dir, .jobs = 4, .timeout = 10 };
	char **conf_certs = NULL, *copy = NULL, *tok, *save;
	size_t nconf = 0, n = 0, *c = o.counts;
	int opt, wanted;
	glob_t g;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': o.dir = optarg; break;
		case 'j':
			o.jobs = (int)ctl_parse_number("--jobs", optarg, 1, 64);
			break;
		case 't':
			o.timeout = (int)ctl_parse_number("--timeout", optarg,
			    1, 86400);
			break;
		case 'a': o.cafile = optarg; break;
		case 'J': o.json = 1; break;
		default: ctl_die("refresh", "usage: refresh [--dir DIR]"
		    " [--jobs N] [--timeout SECONDS] [--CAfile FILE] [--json]"
		    " [CERTFILE|GLOB ...]");
		}
	}
	memset(&g, 0, sizeof(g));
	if ((wanted = optind == argc)) {
		/* `certs =` in the config file: globs separated by white space */
		/* as many patterns as it has: at most one per two characters */
		copy = strdup(staple_conf.certs);
		conf_certs = calloc(strlen(staple_conf.certs) / 2 + 1,
		    sizeof(*conf_certs));
		if (copy == NULL || conf_certs == NULL)
			ctl_die("refresh", "out of memory");
		for (tok = strtok_r(copy, " \t", &save); tok != NULL;
		    tok = strtok_r(NULL, " \t", &save))
			conf_certs[nconf++] = tok;
		/* none: the register alone, which may be empty (a new install) */
		if (nconf > 0)
			n = collect(conf_certs, nconf, &g);
	} else {
		n = collect(argv + optind, argc - optind, &g);
	}
	if (o.json)
		printf("{\n  \"certificates\": [\n");
	/* files first: a certificate both name is then fresh for the register */
	refresh_files(g.gl_pathv, n, &o);
	if (wanted)
		refresh_register(&o);
	n = c[R_FETCHED] + c[R_FRESH] + c[R_NO_URL] + c[R_FAILED];
	if (o.json) {
		printf("%s  ],\n  \"summary\": {\"certificates\": %zu, \"fetched\":"
		    " %zu, \"fresh\": %zu, \"no_ocsp\": %zu, \"failed\": %zu",
		    o.printed ? "\n" : "", n, c[R_FETCHED], c[R_FRESH],
		    c[R_NO_URL], c[R_FAILED]);
		if (wanted)
			printf(", \"bad_entries\": %zu, \"dropped\": %zu,"
			    " \"staples_removed\": %zu", c[R_BAD], c[R_DROPPED],
			    c[R_REMOVED]);
		printf("}\n}\n");
	} else {
		printf("refresh: %zu certificates: %zu fetched, %zu fresh, %zu"
		    " without OCSP, %zu failed", n, c[R_FETCHED], c[R_FRESH],
		    c[R_NO_URL], c[R_FAILED]);
		if (c[R_BAD] + c[R_DROPPED] + c[R_REMOVED] > 0)
			printf("; register: %zu bad entries, %zu dropped, %zu"
			    " staples removed", c[R_BAD], c[R_DROPPED],
			    c[R_REMOVED]);
		printf("\n");
	}
	refresh_index(&o);
	free(copy);
	free(conf_certs);
	globfree(&g);
	return c[R_FAILED] ? 1 : 0;
}
