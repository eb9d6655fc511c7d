/*
 * staplectl crl refresh: keep the CRL directory current.
 *
 * Sources (the arguments, or `crls =` in the config file): certificate or
 * issuer files and globs (each certificate's CRL distribution points),
 * `system` (the certificates of the system trust store's bundle file that
 * name one: its intermediates), and http:// URLs; plus the distribution
 * points clients recorded in CRLDIR/.wanted/ (untrusted). Each URL is asked
 * with a conditional GET (the ETag and Last-Modified it last answered with,
 * kept in CRLDIR/.state/), and what comes back replaces CRLDIR/HASH.crl
 * (HASH: 16 hex of the URL's SHA-1) only when it is a CRL signed by a known
 * issuer (the sources' certificates and the trust store's; for a
 * certificate's point, that certificate's issuer), current, no delta, no
 * unknown critical extension, and not older than the one it replaces
 * (crlNumber, else thisUpdate); written to a temporary file and renamed.
 * One line per URL, then a summary (or --json). Exit status 1 when any
 * fetch failed (the old CRL is kept), 3 on a usage error, else 0.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../preload/config.h"
#include "../preload/crlindex.h"
#include "crl.h"

#define CRL_MAX_DEFAULT (64L << 20)	/* a 1,000,000-entry CRL is ~30 MB */
#define DPS_MAX 16			/* distribution points per certificate */
#define ENTRY_MAX 8192			/* a register entry's size */

enum { C_FETCHED, C_NOT_MODIFIED, C_FAILED };
static const char *const result_names[] = {
	"fetched", "not-modified", "failed"
};

/* One URL to fetch, and what came of it. */
struct job {
	char *url;
	char *source;			/* a file, "url", "system" or ".wanted/NAME" */
	unsigned char *want;		/* the issuer's name (DER) it must have */
	size_t want_len;
	int result;
	char file[PATH_MAX];
	char issuer[256];
	size_t entries;
	time_t this_update, next_update;
	char reason[512];
};

struct refresh {
	const char *dir;
	int timeout, json;
	size_t max;
	STACK_OF(X509) *known;		/* every issuer a CRL may come from */
	struct job *jobs;
	size_t njobs, room;
	char **notes;			/* sources with nothing to fetch, skipped entries */
	size_t nnotes;
};

static void
note(struct refresh *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A line about a source that gives nothing to fetch, printed before the URLs. */
static void
note(struct refresh *r, const char *fmt, ...)
{
	va_list ap;
	char *line, **n;

	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0 ||
	    (n = realloc(r->notes, (r->nnotes + 1) * sizeof(*n))) == NULL)
		ctl_die("crl refresh", "out of memory");
	va_end(ap);
	r->notes = n;
	r->notes[r->nnotes++] = line;
}

/* The DER of `name` (malloc()ed), or NULL. */
static unsigned char *
name_der(X509_NAME *name, size_t *len)
{
	unsigned char *buf, *p;
	int n;

	if ((n = ossl.i2d_X509_NAME(name, NULL)) <= 0 ||
	    (buf = p = malloc(n)) == NULL)
		return NULL;
	ossl.i2d_X509_NAME(name, &p);
	*len = (size_t)n;
	return buf;
}

/* Add `url` (taken) from `source`; a URL already listed keeps its first source. */
static void
add_job(struct refresh *r, char *url, const char *source, X509 *cert)
{
	struct job *j;

	for (size_t i = 0; i < r->njobs; i++)
		if (strcmp(r->jobs[i].url, url) == 0) {
			free(url);
			return;
		}
	if (r->njobs == r->room) {
		r->room = r->room ? 2 * r->room : 16;
		if ((j = realloc(r->jobs, r->room * sizeof(*j))) == NULL)
			ctl_die("crl refresh", "out of memory");
		r->jobs = j;
	}
	j = &r->jobs[r->njobs++];
	memset(j, 0, sizeof(*j));
	j->url = url;
	if ((j->source = strdup(source)) == NULL)
		ctl_die("crl refresh", "out of memory");
	if (cert != NULL)
		j->want = name_der(ossl.X509_get_issuer_name(cert),
		    &j->want_len);
}

/* Every certificate of `certs` from `source`: its distribution points. */
static void
add_certs(struct refresh *r, STACK_OF(X509) *certs, const char *source)
{
	char *urls[DPS_MAX];
	size_t n, total = 0;

	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);

		n = ctl_crl_dps(x, urls, DPS_MAX);
		for (size_t k = 0; k < n; k++)
			add_job(r, urls[k], source, x);
		total += n;
		staple_x509_up_ref(x);
		sk_X509_push(r->known, x);
	}
	if (total == 0)
		note(r, "%s: no certificate names an http:// CRL distribution"
		    " point; nothing to do", source);
}

/* One source: a URL, `system`, or a file or glob. */
static void
add_source(struct refresh *r, const char *src)
{
	STACK_OF(X509) *certs;
	char err[300];
	glob_t g;
	BIO *in;
	X509 *x;

	if (strncasecmp(src, "http://", 7) == 0) {
		char *url = strdup(src);

		if (url == NULL)
			ctl_die("crl refresh", "out of memory");
		if (!ctl_http_url_ok(url, err, sizeof(err)))
			ctl_die(src, err);
		add_job(r, url, "url", NULL);
		return;
	}
	certs = sk_X509_new_null();
	if (strcmp(src, "system") == 0) {
		const char *file = ctl_system_certs(certs);
		char label[PATH_MAX + 16];

		/* its roots name none: the intermediates it holds do */
		snprintf(label, sizeof(label), "system (%s)", file);
		add_certs(r, certs, label);
		sk_X509_pop_free(certs, ossl.X509_free);
		return;
	}
	memset(&g, 0, sizeof(g));
	glob(src, GLOB_NOCHECK, NULL, &g);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		in = ossl.BIO_new_file(g.gl_pathv[i], "r");
		while (in != NULL &&
		    (x = ossl.PEM_read_bio_X509(in, NULL, NULL, NULL)) != NULL)
			sk_X509_push(certs, x);
		ossl.BIO_free(in);
		ossl.ERR_clear_error();
		if (sk_X509_num(certs) == 0)
			note(r, "%s: no PEM certificate; nothing to do",
			    g.gl_pathv[i]);
		else
			add_certs(r, certs, g.gl_pathv[i]);
		sk_X509_pop_free(certs, ossl.X509_free);
		certs = sk_X509_new_null();
	}
	globfree(&g);
	sk_X509_pop_free(certs, ossl.X509_free);
}

/*
 * One register entry, read strictly: the comment line, a program line, the
 * URL, nothing else. The URL (malloc()ed), or NULL with the reason in *why.
 */
static char *
read_entry(int dirfd, const char *name, const char **why)
{
	static const char head[] = "# libstaple crl register entry\n";
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK);
	char buf[ENTRY_MAX + 1], *line, *end, *url = NULL;
	struct stat st;
	ssize_t n = -1;

	*why = "cannot be read";
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		*why = "not a regular file";
	else if ((n = read(fd, buf, ENTRY_MAX + 1)) > ENTRY_MAX)
		*why = "too large";
	close(fd);
	if (n < 0 || n > ENTRY_MAX)
		return NULL;
	buf[n] = '\0';
	*why = "not a crl register entry";
	if (strlen(buf) != (size_t)n || strncmp(buf, head, sizeof(head) - 1))
		return NULL;
	line = buf + sizeof(head) - 1;
	if (strncmp(line, "# program: ", 11) != 0 ||
	    (end = strchr(line, '\n')) == NULL)
		return NULL;
	line = end + 1;
	end = line + strcspn(line, "\n");
	if (end == line || (*end == '\n' && end[1] != '\0'))
		return NULL;
	*end = '\0';
	*why = "not an http:// URL of at most 4096 characters";
	if (end - line > 4096 || strncasecmp(line, "http://", 7) != 0)
		return NULL;
	*why = (url = strdup(line)) == NULL ? "out of memory" : NULL;
	return url;
}

/* The distribution points clients recorded in DIR/.wanted/NAME.url. */
static void
add_register(struct refresh *r)
{
	char path[PATH_MAX], source[PATH_MAX], err[300], *url;
	struct dirent **names;
	const char *why;
	int n, fd;

	snprintf(path, sizeof(path), "%s/.wanted", r->dir);
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return;
	if ((n = scandir(path, &names, NULL, alphasort)) < 0) {
		close(fd);
		return;
	}
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		size_t len = strlen(name);

		if (name[0] != '.' && len > 4 &&
		    strcmp(name + len - 4, ".url") == 0) {
			snprintf(source, sizeof(source), ".wanted/%s", name);
			if ((url = read_entry(fd, name, &why)) == NULL)
				note(r, "%s: skipped: %s", source, why);
			else if (!ctl_http_url_ok(url, err, sizeof(err))) {
				note(r, "%s: skipped: %s", source, err);
				free(url);
			} else
				add_job(r, url, source, NULL);
		}
		free(names[i]);
	}
	free(names);
	close(fd);
}

/* The file name of `url`'s CRL: 16 hex of its SHA-1. */
static void
url_hash(const char *url, char *buf)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	ossl.EVP_Digest(url, strlen(url), md, &len, ossl.EVP_sha1(), NULL);
	for (int i = 0; i < 8; i++)
		sprintf(buf + 2 * i, "%02x", md[i]);
}

/* The validators remembered for `url` (in DIR/.state/HASH), if any. */
static void
state_read(const char *path, const char *url, struct ctl_http_cond *cond)
{
	char buf[4096 + 400], *etag, *mod;
	FILE *f = fopen(path, "re");
	size_t n = 0;

	memset(cond, 0, sizeof(*cond));
	if (f != NULL) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	if ((etag = strchr(buf, '\n')) == NULL ||
	    (mod = strchr(etag + 1, '\n')) == NULL || strchr(mod + 1, '\n') ==
	    NULL)
		return;
	*etag++ = '\0';
	*mod++ = '\0';
	*strchr(mod, '\n') = '\0';
	if (strcmp(buf, url) != 0)
		return;		/* another URL's: a hash collision */
	snprintf(cond->etag, sizeof(cond->etag), "%s", etag);
	snprintf(cond->modified, sizeof(cond->modified), "%s", mod);
}

/* Write `len` bytes to `where` through a temporary dot file and a rename. */
static int
store(const char *dir, const char *where, const void *buf, size_t len,
    char *err, size_t size)
{
	char tmp[PATH_MAX];
	int fd, ok;

	snprintf(tmp, sizeof(tmp), "%.4000s/.staplectl.XXXXXX", dir);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		snprintf(err, size, "%.300s: %s", tmp, strerror(errno));
		return 0;
	}
	ok = write(fd, buf, len) == (ssize_t)len && fchmod(fd, 0644) == 0 &&
	    fsync(fd) == 0;
	ok = close(fd) == 0 && ok && rename(tmp, where) == 0;
	if (!ok) {
		snprintf(err, size, "%.300s: %s", where, strerror(errno));
		unlink(tmp);
	}
	return ok;
}

/* Remember the validators of `url`'s last answer. */
static void
state_write(const struct refresh *r, const char *hash, const char *url,
    const struct ctl_http_cond *cond)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], err[400], *text;
	int n;

	snprintf(dir, sizeof(dir), "%s/.state", r->dir);
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, hash);
	if ((n = asprintf(&text, "%s\n%s\n%s\n", url, cond->etag,
	    cond->modified)) < 0)
		return;
	store(dir, path, text, (size_t)n, err, sizeof(err));
	free(text);
}

/* A time for a line: YYYY-MM-DDTHH:MM:SSZ. */
static const char *
stamp(time_t t, char *buf, size_t size)
{
	ctl_stamp(buf, size, t);
	return buf;
}

/* A crlNumber for a line: decimal up to 8 octets, else 0x and hex. */
static const char *
number(const struct ctl_crl *c, char *buf, size_t size)
{
	unsigned long long n = 0;
	size_t k = 0;

	if (c->number_len <= 8) {
		for (size_t i = 0; i < c->number_len; i++)
			n = n << 8 | c->number[i];
		snprintf(buf, size, "%llu", n);
		return buf;
	}
	k = snprintf(buf, size, "0x");
	for (size_t i = 0; i < c->number_len && k + 3 <= size; i++)
		k += snprintf(buf + k, size - k, "%02X", c->number[i]);
	return buf;
}

/*
 * Whether the fetched `c` may replace `old` (NULL: none good here) for job
 * j at `now`: *issuer the known certificate that signed it; the reason
 * into j->reason when not.
 */
static int
acceptable(struct refresh *r, struct job *j, const struct ctl_crl *c,
    const struct ctl_crl *old, time_t now, X509 **issuer)
{
	char a[32], b[256];

	ctl_name_line(c->issuer, c->issuer_len, b, sizeof(b));
	if (c->delta) {
		snprintf(j->reason, sizeof(j->reason), "a delta CRL (not used)");
		return 0;
	}
	if (c->critical) {
		snprintf(j->reason, sizeof(j->reason), "an unknown critical"
		    " extension");
		return 0;
	}
	if (j->want != NULL && (j->want_len != c->issuer_len ||
	    memcmp(j->want, c->issuer, j->want_len) != 0)) {
		snprintf(j->reason, sizeof(j->reason), "issued by %s, not by the"
		    " certificate's issuer", b);
		return 0;
	}
	switch (ctl_crl_issuer(c, r->known, issuer)) {
	case CTL_CRL_UNKNOWN_ISSUER:
		snprintf(j->reason, sizeof(j->reason), "issued by %s, not a"
		    " known issuer", b);
		return 0;
	case CTL_CRL_BAD_SIGNATURE:
		snprintf(j->reason, sizeof(j->reason), "a bad signature (not"
		    " by the key of %s)", b);
		return 0;
	}
	snprintf(j->issuer, sizeof(j->issuer), "%s", b);
	if (c->this_update > now + staple_conf.clock_skew) {
		snprintf(j->reason, sizeof(j->reason), "not yet valid"
		    " (thisUpdate %s)", stamp(c->this_update, a, sizeof(a)));
		return 0;
	}
	if (c->next_update != 0 &&
	    c->next_update < now - staple_conf.clock_skew) {
		snprintf(j->reason, sizeof(j->reason), "stale (nextUpdate %s)",
		    stamp(c->next_update, a, sizeof(a)));
		return 0;
	}
	if (old != NULL && ctl_crl_cmp(c, old) < 0) {
		char b2[32];

		if (c->number_len && old->number_len)
			snprintf(j->reason, sizeof(j->reason), "older than the"
			    " CRL stored (crlNumber %s < %s)", number(c, a,
			    sizeof(a)), number(old, b2, sizeof(b2)));
		else
			snprintf(j->reason, sizeof(j->reason), "older than the"
			    " CRL stored (thisUpdate %s < %s)", stamp(c->this_update,
			    a, sizeof(a)), stamp(old->this_update, b2, sizeof(b2)));
		return 0;
	}
	return 1;
}

/*
 * Store the verified CRL `c` of job j as j->file, with its index file
 * (preload/crlindex.h: written by the library's own code, which checks
 * once more that the client role would use the CRL with `issuer`): the CRL
 * goes to a temporary file, its index is written for that file and renamed
 * to .index/NAME, then the CRL is renamed over NAME. rename() keeps the
 * inode, size and mtime the index describes; in between, the index names
 * an inode that NAME is not yet, so a client does not use it. 1, or 0 with
 * the reason in j->reason; the old CRL stays then.
 */
static int
store_crl(const struct refresh *r, struct job *j, const struct ctl_crl *c,
    X509 *issuer)
{
	char tmp[PATH_MAX], ix_tmp[PATH_MAX], ix[PATH_MAX];
	const char *name = strrchr(j->file, '/') + 1, *tname, *why;
	int fd, dirfd = -1, ok = 0;

	snprintf(tmp, sizeof(tmp), "%s/.staplectl.XXXXXX", r->dir);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		snprintf(j->reason, sizeof(j->reason), "%.300s: %s", tmp,
		    strerror(errno));
		return 0;
	}
	tname = strrchr(tmp, '/') + 1;
	snprintf(ix_tmp, sizeof(ix_tmp), "%s/%s/%s", r->dir,
	    STAPLE_CRL_SIDECAR_DIR, tname);
	snprintf(ix, sizeof(ix), "%s/%s/%s", r->dir, STAPLE_CRL_SIDECAR_DIR,
	    name);
	ok = write(fd, c->der, c->len) == (ssize_t)c->len &&
	    fchmod(fd, 0644) == 0 && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	if (!ok) {
		snprintf(j->reason, sizeof(j->reason), "%.300s: %s", tmp,
		    strerror(errno));
		goto done;
	}
	ok = 0;
	if ((dirfd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    !staple_crl_sidecar_write(dirfd, tname, issuer, &why)) {
		snprintf(j->reason, sizeof(j->reason), "refused by the"
		    " library's own check: %s", dirfd < 0 ? strerror(errno) :
		    why);
		goto done;
	}
	if (rename(ix_tmp, ix) != 0 || rename(tmp, j->file) != 0) {
		snprintf(j->reason, sizeof(j->reason), "%.300s: %s", j->file,
		    strerror(errno));
		goto done;
	}
	ok = 1;
done:
	if (!ok) {
		unlink(tmp);
		unlink(ix_tmp);
	}
	if (dirfd >= 0)
		close(dirfd);
	return ok;
}

/*
 * The index file of the stored CRL j->file, written anew unless the one
 * there describes that file as it is. 1, or 0 with the reason in j->reason.
 */
static int
index_crl(const struct refresh *r, struct job *j, X509 *issuer)
{
	struct staple_crl_mapped m;
	const char *name = strrchr(j->file, '/') + 1, *why;
	struct stat st;
	int dirfd, ok = 1;

	if ((dirfd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(j->reason, sizeof(j->reason), "%.300s: %s", r->dir,
		    strerror(errno));
		return 0;
	}
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    staple_crl_sidecar_map(dirfd, name, &st, &m, &why))
		staple_crl_sidecar_unmap(&m);
	else if (!staple_crl_sidecar_write(dirfd, name, issuer, &why)) {
		snprintf(j->reason, sizeof(j->reason), "its index: %s", why);
		ok = 0;
	}
	close(dirfd);
	return ok;
}

/* Fetch, check and store one URL's CRL at `now`. */
static void
refresh_one(struct refresh *r, struct job *j, time_t now)
{
	struct ctl_crl old, c;
	struct ctl_http_cond cond, sent;
	unsigned char *body = NULL;
	size_t len = 0;
	char hash[17], state[PATH_MAX + 32], err[400];
	const char *why;
	X509 *issuer;
	int old_good, status, same;

	url_hash(j->url, hash);
	snprintf(j->file, sizeof(j->file), "%.4000s/%s.crl", r->dir, hash);
	snprintf(state, sizeof(state), "%s/.state/%s", r->dir, hash);
	j->result = C_FAILED;
	/* the one here counts only if it is good: else it is replaced */
	old_good = ctl_crl_load(j->file, r->max, &old, &why) &&
	    ctl_crl_issuer(&old, r->known, &issuer) == CTL_CRL_OK;
	memset(&cond, 0, sizeof(cond));
	if (old_good)
		state_read(state, j->url, &cond);
	sent = cond;
	status = ctl_http_get(j->url, &cond, r->timeout, r->max, &body, &len,
	    err, sizeof(err));
	if (status == 0) {
		snprintf(j->reason, sizeof(j->reason), "%s", err);
		goto done;
	}
	if (status == 304) {
		if (!old_good) {
			snprintf(j->reason, sizeof(j->reason), "304 Not Modified,"
			    " but no good CRL is stored");
			goto done;
		}
		/* a 304 may omit the validators: the ones sent still hold */
		if (cond.etag[0] == '\0')
			memcpy(cond.etag, sent.etag, sizeof(cond.etag));
		if (cond.modified[0] == '\0')
			memcpy(cond.modified, sent.modified, sizeof(cond.modified));
		if (!index_crl(r, j, issuer))
			goto done;
		state_write(r, hash, j->url, &cond);
		j->result = C_NOT_MODIFIED;
		ctl_name_line(old.issuer, old.issuer_len, j->issuer,
		    sizeof(j->issuer));
		j->entries = old.entries;
		j->this_update = old.this_update;
		j->next_update = old.next_update;
		goto done;
	}
	if (!ctl_crl_parse(body, len, &c, &why)) {
		snprintf(j->reason, sizeof(j->reason), "%s", why);
		goto done;
	}
	if (acceptable(r, j, &c, old_good ? &old : NULL, now, &issuer)) {
		j->entries = c.entries;
		j->this_update = c.this_update;
		j->next_update = c.next_update;
		same = old_good && old.len == c.len &&
		    memcmp(old.der, c.der, c.len) == 0;
		if (same ? index_crl(r, j, issuer) : store_crl(r, j, &c, issuer))
			j->result = same ? C_NOT_MODIFIED : C_FETCHED;
		if (j->result != C_FAILED)
			state_write(r, hash, j->url, &cond);
	}
	ctl_crl_clear(&c);
done:
	free(body);
	ctl_crl_clear(&old);
}

static void
print_text(const struct refresh *r, const struct job *j)
{
	char next[32];

	ctl_stamp(next, sizeof(next), j->next_update);
	switch (j->result) {
	case C_FETCHED:
		printf("%s: fetched: %s (%s, %zu entries, next update %s;"
		    " from %s)\n", j->url, j->file, j->issuer, j->entries, next,
		    j->source);
		break;
	case C_NOT_MODIFIED:
		printf("%s: not modified: %s (%s, %zu entries, next update"
		    " %s)\n", j->url, j->file, j->issuer, j->entries, next);
		break;
	default:
		printf("%s: failed: %s; %s\n", j->url, j->reason,
		    access(j->file, F_OK) == 0 ? "the old CRL is kept" :
		    "no CRL stored");
	}
	(void)r;
}

static void
print_json(const struct job *j, int last)
{
	char this[32], next[32];

	printf("    {\"url\": ");
	ctl_quoted(j->url, 0);
	printf(", \"source\": ");
	ctl_quoted(j->source, 0);
	printf(", \"result\": \"%s\", \"file\": ", result_names[j->result]);
	ctl_quoted(j->file, 0);
	if (j->result != C_FAILED) {
		ctl_stamp(this, sizeof(this), j->this_update);
		ctl_stamp(next, sizeof(next), j->next_update);
		printf(", \"issuer\": ");
		ctl_quoted(j->issuer, 0);
		printf(", \"entries\": %zu, \"this_update\": \"%s\","
		    " \"next_update\": \"%s\"", j->entries, this, next);
	} else {
		printf(", \"reason\": ");
		ctl_quoted(j->reason, 0);
	}
	printf("}%s\n", last ? "" : ",");
}

/*
 * The directory: created (0755) when missing; run by root, only one that
 * root owns and root alone can write, as the library takes staples from.
 */
static void
check_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		ctl_die(dir, strerror(errno));
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		ctl_die(dir, "not a directory");
	if (geteuid() == 0 && (st.st_uid != 0 || (st.st_mode & 022)))
		ctl_die(dir, "not used: run by root, crl refresh writes only"
		    " into a directory owned by root and writable by root"
		    " alone");
}

/* Every source of `list` (white space between them). */
static size_t
add_sources(struct refresh *r, const char *list)
{
	char *copy = strdup(list), *tok, *save;
	size_t n = 0;

	if (copy == NULL)
		ctl_die("crl refresh", "out of memory");
	for (tok = strtok_r(copy, " \t", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t", &save), n++)
		add_source(r, tok);
	free(copy);
	return n;
}

static int
crl_refresh(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "timeout", required_argument, NULL, 't' },
		{ "max-size", required_argument, NULL, 'm' },
		{ "CAfile", required_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'J' },
		{ NULL, 0, NULL, 0 }
	};
	struct refresh r = { .dir = staple_conf.crl_dir, .timeout = 30,
	    .max = CRL_MAX_DEFAULT };
	const char *cafile = NULL;
	size_t counts[3] = { 0 }, nsources = 0;
	time_t now = time(NULL);
	BIO *in;
	X509 *x;
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': r.dir = optarg; break;
		case 't':
			r.timeout = (int)ctl_parse_number("--timeout", optarg,
			    1, 86400);
			break;
		case 'm':
			r.max = (size_t)ctl_parse_number("--max-size", optarg,
			    1024, 1L << 30);
			break;
		case 'a': cafile = optarg; break;
		case 'J': r.json = 1; break;
		default: ctl_die("crl refresh", "usage: crl refresh [--dir DIR]"
		    " [--timeout SECONDS] [--max-size BYTES] [--CAfile FILE]"
		    " [--json] [SOURCE ...]");
		}
	}
	r.known = sk_X509_new_null();
	/* the trust store's certificates are known issuers too */
	if (cafile != NULL) {
		in = ossl.BIO_new_file(cafile, "r");
		if (in == NULL)
			ctl_die(cafile, "cannot open");
		while ((x = ossl.PEM_read_bio_X509(in, NULL, NULL, NULL)) != NULL)
			sk_X509_push(r.known, x);
		ossl.BIO_free(in);
		ossl.ERR_clear_error();
	} else {
		ctl_system_certs(r.known);
	}
	if (optind == argc)
		nsources = add_sources(&r, staple_conf.crls);
	for (int i = optind; i < argc; i++, nsources++)
		add_source(&r, argv[i]);
	check_dir(r.dir);
	add_register(&r);
	if (nsources == 0 && r.njobs == 0 && r.nnotes == 0)
		ctl_die("crl refresh", "no sources: give SOURCE (a certificate"
		    " file, a glob, system or an http:// URL), or `crls =` in"
		    " the config file");
	for (size_t i = 0; i < r.njobs; i++)
		refresh_one(&r, &r.jobs[i], now);
	if (r.json)
		printf("{\n  \"crls\": [\n");
	else
		for (size_t i = 0; i < r.nnotes; i++)
			printf("%s\n", r.notes[i]);
	for (size_t i = 0; i < r.njobs; i++) {
		counts[r.jobs[i].result]++;
		if (r.json)
			print_json(&r.jobs[i], i + 1 == r.njobs);
		else
			print_text(&r, &r.jobs[i]);
	}
	if (r.json) {
		printf("  ],\n  \"notes\": [");
		for (size_t i = 0; i < r.nnotes; i++) {
			printf("%s", i ? ", " : "");
			ctl_quoted(r.notes[i], 0);
		}
		printf("],\n  \"summary\": {\"crls\": %zu, \"fetched\": %zu,"
		    " \"not_modified\": %zu, \"failed\": %zu}\n}\n", r.njobs,
		    counts[C_FETCHED], counts[C_NOT_MODIFIED], counts[C_FAILED]);
	} else {
		printf("crl refresh: %zu CRLs: %zu fetched, %zu not modified,"
		    " %zu failed\n", r.njobs, counts[C_FETCHED],
		    counts[C_NOT_MODIFIED], counts[C_FAILED]);
	}
	return counts[C_FAILED] ? 1 : 0;
}

int
ctl_crl(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "refresh") == 0)
		return crl_refresh(argc - 1, argv + 1);
	ctl_die("crl", "usage: crl refresh [--dir DIR] [--timeout SECONDS]"
	    " [--max-size BYTES] [--CAfile FILE] [--json] [SOURCE ...]");
}
