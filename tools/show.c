/*
 * staplectl show: one line per staple, saying what the library does with it.
 * Staples are vetted as the library vets them, against the issuers it would
 * know: the configured issuers file and --issuer certificates.
 * Exit status 1 when a staple is stale, not yet valid, not a response, not
 * served for its signature, or served but expiring within --warn (default a
 * day): a monitoring check.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../preload/config.h"
#include "../preload/issuers.h"
#include "../preload/staple.h"
#include "staplectl.h"

struct row {
	char *file;
	const char *why;		/* not a usable response: why */
	char *sig_why;			/* why vetting refused it */
	struct staple_entry e;
	int superseded;
};

static struct row *rows;
static size_t nrows;

static void
add_row(const char *file, const char *why, const struct staple_entry *e,
    const char *sig_why)
{
	struct row *r;

	if ((r = realloc(rows, (nrows + 1) * sizeof(*rows))) == NULL)
		ctl_die(file, "out of memory");
	rows = r;
	r = &rows[nrows++];
	memset(r, 0, sizeof(*r));
	r->file = strdup(file);
	r->why = why;
	r->sig_why = sig_why ? strdup(sig_why) : NULL;
	if (e != NULL)
		r->e = *e;
}

/* Parse and vet one file into rows. */
static void
add_file(const char *path)
{
	struct staple_file *f;
	unsigned char *der;
	const char *why;
	struct stat st;
	long len = 0;

	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
		add_row(path, "not a regular file", NULL, NULL);
		return;
	}
	if ((der = ctl_read_file(path, &len)) == NULL) {
		add_row(path, "cannot be read", NULL, NULL);
		return;
	}
	if ((f = staple_file_parse(path, der, len, &why)) == NULL)
		ctl_die(path, "out of memory");
	if (f->nentries == 0)
		add_row(path, why, NULL, NULL);
	for (size_t i = 0; i < f->nentries; i++)
		add_row(path, NULL, &f->entries[i], f->why);
	staple_file_release(f);
}

static int
skip_dot(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Every file of a directory (as the library sees it: no dot files), or one file. */
static void
add_path(const char *path)
{
	struct dirent **names;
	struct stat st;
	char *file;
	int n;

	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		add_file(path);
		return;
	}
	if ((n = scandir(path, &names, skip_dot, alphasort)) < 0)
		ctl_die(path, "cannot read directory");
	for (int i = 0; i < n; i++) {
		if (asprintf(&file, "%s/%s", path, names[i]->d_name) >= 0) {
			add_file(file);
			free(file);
		}
		free(names[i]);
	}
	free(names);
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

/*
 * Where a row stands for the library (staple_entry_when), STAPLE_BADTIME
 * too for a critical extension or a signature it would not serve. A staple
 * whose issuer staplectl does not know counts as the server would have it.
 */
static int
row_servable(const struct row *r, time_t now)
{
	if ((r->e.flags & STAPLE_ENTRY_CRITICAL) || r->e.sig == STAPLE_SIG_BAD ||
	    (r->e.sig == STAPLE_SIG_OK && now > r->e.sig_until))
		return STAPLE_BADTIME;
	return staple_entry_when(&r->e, now, 0);
}

/* Why a row is not served (row_servable said STAPLE_BADTIME); into buf. */
static void
row_unservable(const struct row *r, char *buf, size_t size)
{
	if (r->e.sig == STAPLE_SIG_BAD)
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

/* Of several current staples for one certificate, the library serves the newest. */
static void
mark_superseded(time_t now)
{
	for (size_t i = 0; i < nrows; i++)
		for (size_t j = 0; j < nrows; j++) {
			struct row *a = &rows[i], *b = &rows[j];
			if (i == j || a->why || b->why || !same_certid(&a->e, &b->e) ||
			    row_servable(a, now) != STAPLE_CURRENT ||
			    row_servable(b, now) != STAPLE_CURRENT)
				continue;
			if (b->e.this_update > a->e.this_update ||
			    (b->e.this_update == a->e.this_update && j < i))
				a->superseded = 1;
		}
}

/* "1d2h", "3h4m", "5m", "6s" */
static void
span(char *buf, size_t size, long s)
{
	if (s >= 86400)
		snprintf(buf, size, "%ldd%ldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, size, "%ldh%ldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, size, "%ldm", s / 60);
	else
		snprintf(buf, size, "%lds", s);
}

static void
stamp(char *buf, size_t size, time_t t)
{
	struct tm tm;

	if (t == 0) {
		snprintf(buf, size, "-");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Print one staple's line; whether it needs attention. */
static int
print_row(const struct row *r, time_t now, long warn)
{
	static const char *const status[] = { "good", "revoked", "unknown" };
	char serial[2 * STAPLE_SERIAL_MAX + 1], key[17], this[32], next[32];
	char left[32], verdict[256];
	time_t end = staple_entry_end(&r->e);
	int bad = 0;

	if (r->why != NULL) {
		printf("%s: not a response: %s\n", r->file, r->why);
		return 1;
	}
	for (int i = 0; i < r->e.serial_len; i++)
		snprintf(serial + 2 * i, 3, "%02X", r->e.serial[i]);
	for (int i = 0; i < 8; i++)
		snprintf(key + 2 * i, 3, "%02X", r->e.key_hash[i]);
	stamp(this, sizeof(this), r->e.this_update);
	stamp(next, sizeof(next), r->e.flags & STAPLE_ENTRY_NEXT ?
	    r->e.next_update : 0);
	switch (row_servable(r, now)) {
	case STAPLE_BADTIME:
		row_unservable(r, verdict, sizeof(verdict));
		bad = 1;
		break;
	case STAPLE_EXPIRED:
		span(left, sizeof(left), now - end);
		snprintf(verdict, sizeof(verdict), "stale (expired %s ago)", left);
		bad = 1;
		break;
	case STAPLE_FUTURE:
		span(left, sizeof(left), r->e.this_update - now);
		snprintf(verdict, sizeof(verdict), "not yet valid (in %s)", left);
		bad = 1;
		break;
	default:
		span(left, sizeof(left), end - now);
		bad = !r->superseded && end - now < warn;
		snprintf(verdict, sizeof(verdict), "%s (%s left)%s%s",
		    r->superseded ? "duplicate superseded" : "serves it", left,
		    bad ? ", expires within --warn" : "",
		    r->e.sig == STAPLE_SIG_NOISSUER ? "; signature not checked:"
		    " issuer unknown here (give --issuer)" : "");
	}
	printf("%s: serial %s issuer-key %s %s this %s next %s: %s\n", r->file,
	    serial, key, status[r->e.cert_status < 3 ? r->e.cert_status : 2],
	    this, next, verdict);
	return bad;
}

int
ctl_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "warn", required_argument, NULL, 'w' },
		{ "issuer", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 }
	};
	STACK_OF(X509) *issuers = sk_X509_new_null();
	time_t now = time(NULL);
	long warn = 86400;
	int opt, bad = 0;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'i') {
			ctl_read_certs(optarg, issuers);
			continue;
		}
		if (opt != 'w' || (warn = staple_duration_parse(optarg)) < 0)
			ctl_die("show", "usage: show [--warn DURATION]"
			    " [--issuer CERT]... [DIR|FILE ...]");
	}
	staple_issuers_add_chain(issuers);
	if (optind == argc)
		add_path(staple_conf.dir);
	for (int i = optind; i < argc; i++)
		add_path(argv[i]);
	mark_superseded(now);
	for (size_t i = 0; i < nrows; i++)
		bad |= print_row(&rows[i], now, warn);
	if (nrows == 0)
		printf("no staples\n");
	return bad;
}
