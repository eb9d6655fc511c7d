/*
 * staplectl refresh: keep every certificate's staple fresh in one run.
 *
 * For each certificate (the arguments, or `certs =` in the config file;
 * globs allowed; chain files: leaf first, issuer next) whose staple in the
 * directory is missing, unusable or past half its validity, fetch, verify
 * and store one as `fetch` does; a fresh one is not asked about. Certificates
 * are handled by up to --jobs child processes at once, each responder asked
 * with --timeout. One line per certificate in the order given, then a
 * summary (or --json). Exit status 1 when any fetch failed (the old staple
 * is kept), 3 on a usage error, else 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>


#include "../preload/config.h"
#include "../preload/issuers.h"
#include "../preload/staple.h"
#include "../preload/verify.h"
#include "../preload/vet.h"
#include "staplectl.h"

enum { R_FRESH, R_FETCHED, R_NO_URL, R_FAILED };
static const char *const result_names[] = {
	"fresh", "fetched", "no-ocsp", "failed"
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

/*
 * Whether the staple at `path` serves `leaf` well for a while yet: vetted,
 * current, and not past half its validity. *next: its end; *why: otherwise.
 */
static int
staple_fresh(const char *path, X509 *leaf, X509 *issuer, time_t *next,
    int *verdict, const char **why)
{
	struct staple_certid id;
	struct staple_file *f;
	unsigned char *der;
	time_t now = time(NULL), until, half;
	const char *parse_why;
	long len = 0;
	int fresh = 0;

	*why = "no staple yet";
	if (access(path, F_OK) != 0 || (der = ctl_read_file(path, &len)) == NULL)
		return 0;
	if ((f = staple_file_parse(path, der, len, &parse_why)) == NULL)
		return 0;
	*why = "not usable";
	staple_issuers_add(issuer);
	staple_file_vet(f, NULL);
	staple_certid_init(&id, leaf, issuer);
	for (size_t i = 0; i < f->nentries; i++) {
		const struct staple_entry *e = &f->entries[i];

		if (!staple_certid_match(&id, e) ||
		    (e->flags & STAPLE_ENTRY_CRITICAL) ||
		    staple_entry_sig(e, &until) != STAPLE_SIG_OK || now > until ||
		    staple_entry_when(e, now, 0) != STAPLE_CURRENT)
			continue;
		*next = staple_entry_end(e);
		*verdict = e->cert_status == V_OCSP_CERTSTATUS_REVOKED ?
		    STAPLE_REVOKED : STAPLE_GOOD;
		half = e->this_update + (*next - e->this_update) / 2;
		fresh = now < half;
		*why = fresh ? NULL : "past half its validity";
		break;
	}
	staple_file_release(f);
	ossl.ERR_clear_error();
	return fresh;
}

/* The work for one certificate file (in a child process). */
static void
refresh_one(const char *file, const struct options *o, struct outcome *out)
{
	struct ctl_cert c = { .file = file, .certs = sk_X509_new_null() };
	struct ctl_result r = { .verdict = -1 };
	X509_STORE *store = o->cafile ? ossl.X509_STORE_new() : NULL;
	const char *why;
	char name[256], *url = NULL;

	memset(out, 0, sizeof(*out));
	out->result = R_FAILED;
	if ((c.leaf = load_certs(file, c.certs)) == NULL) {
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
	if ((c.issuer = ctl_find_issuer(c.leaf, c.certs, store)) == NULL) {
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
job_collect(struct job *j, struct outcome *outs, const char *const *files)
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
		    " died", files[j->index]);
	}
}

/*
 * Wait for one child; collect it. Should wait() know of no child (ECHILD:
 * SIGCHLD ignored after all, the children reaped by the kernel), collect the
 * oldest: its pipe ends when it does, so every call still retires a job.
 */
static void
job_wait(struct job *jobs, int *running, struct outcome *outs,
    const char *const *files)
{
	pid_t pid;
	int i;

	while ((pid = wait(NULL)) < 0 && errno == EINTR)
		;
	for (i = 0; i < *running && jobs[i].pid != pid; i++)
		;
	if (i == *running)
		i = 0;
	job_collect(&jobs[i], outs, files);
	jobs[i] = jobs[--*running];
}

/* Run refresh_one for every file, at most o->jobs at a time. */
static void
refresh_all(const char *const *files, size_t n, const struct options *o,
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
	for (size_t i = 0; i < n; i++) {
		if (running == o->jobs)
			job_wait(jobs, &running, outs, files);
		if (pipe(fds) != 0)
			ctl_die("refresh", strerror(errno));
		jobs[running].pid = fork();
		if (jobs[running].pid == 0) {
			close(fds[0]);
			refresh_one(files[i], o, &out);
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
		job_wait(jobs, &running, outs, files);
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
	default:
		printf("%s: failed: %s; the old staple is kept\n", file, o->reason);
	}
}

static void
print_json(const char *file, const struct outcome *o, int last)
{
	char next[32];

	printf("    {\"cert\": ");
	ctl_quoted(file, 0);
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
	if (o->result == R_FAILED || o->result == R_FETCHED) {
		printf(", \"reason\": ");
		ctl_quoted(o->reason, 0);
	}
	printf("}%s\n", last ? "" : ",");
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
	size_t nconf = 0, n, counts[4] = { 0 };
	struct outcome *outs;
	glob_t g;
	int opt;

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
	if (optind == argc) {
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
		if (nconf == 0)
			ctl_die("refresh", "no certificates: give CERTFILE or GLOB,"
			    " or `certs =` in the config file");
		n = collect(conf_certs, nconf, &g);
	} else {
		n = collect(argv + optind, argc - optind, &g);
	}
	if ((outs = calloc(n, sizeof(*outs))) == NULL)
		ctl_die("refresh", "out of memory");
	refresh_all((const char *const *)g.gl_pathv, n, &o, outs);
	if (o.json)
		printf("{\n  \"certificates\": [\n");
	for (size_t i = 0; i < n; i++) {
		counts[outs[i].result]++;
		if (o.json)
			print_json(g.gl_pathv[i], &outs[i], i + 1 == n);
		else
			print_text(g.gl_pathv[i], &outs[i]);
	}
	if (o.json)
		printf("  ],\n  \"summary\": {\"certificates\": %zu, \"fetched\":"
		    " %zu, \"fresh\": %zu, \"no_ocsp\": %zu, \"failed\": %zu}\n}\n",
		    n, counts[R_FETCHED], counts[R_FRESH], counts[R_NO_URL],
		    counts[R_FAILED]);
	else
		printf("refresh: %zu certificates: %zu fetched, %zu fresh, %zu"
		    " without OCSP, %zu failed\n", n, counts[R_FETCHED],
		    counts[R_FRESH], counts[R_NO_URL], counts[R_FAILED]);
	free(outs);
	free(copy);
	free(conf_certs);
	globfree(&g);
	return counts[R_FAILED] ? 1 : 0;
}
