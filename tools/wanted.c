/*
 * wanted.c - reading the staple directory's register (DIR/.wanted/), which
 * servers under the preload fill with the certificates they load.
 *
 * Whoever may write the register may put anything there, so an entry is
 * untrusted input: its name means nothing until its content agrees; it is
 * read without following a link and at most CTL_WANTED_MAX bytes of it;
 * its text is parsed strictly (the header lines, then exactly two PEM
 * certificates and nothing else); the leaf must be signed by the issuer
 * beside it; and only the leaf's own AIA OCSP URL, plain http://, is ever
 * asked. What cannot be known from the entries (why the last fetch failed,
 * which dropped entries' staples wait to expire) is kept in one small
 * state file beside the register, DIR/.wanted.state, replaced by rename:
 * outside the register so that writing it never triggers the path unit
 * watching the register, one file per run however many entries there are.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../preload/config.h"
#include "../preload/issuers.h"
#include "../preload/staple.h"
#include "../preload/verify.h"
#include "../preload/vet.h"
#include "wanted.h"

#define PEM_BEGIN "-----BEGIN CERTIFICATE-----\n"
#define PEM_END "-----END CERTIFICATE-----\n"

int
ctl_wanted_open(const char *dir, int create)
{
	char path[PATH_MAX];
	struct stat st;
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", dir, CTL_WANTED_DIR) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	/* a link in its place: ELOOP, whatever it names (ENOTDIR otherwise) */
	if (fd < 0 && errno == ENOTDIR && lstat(path, &st) == 0 &&
	    S_ISLNK(st.st_mode))
		errno = ELOOP;
	if (fd >= 0 || errno != ENOENT || !create)
		return fd;
	/* only inside a staple directory that is there: never its parents */
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return -1;
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		return -1;
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) >= 0)
		fchmod(fd, 0755);	/* whatever the umask was */
	return fd;
}

const char *
ctl_wanted_error(int err)
{
	return err == ELOOP ? "a symbolic link: not followed" : strerror(err);
}

long
ctl_wanted_max_age(void)
{
	return staple_conf.register_max_age;
}

/* Whether `name` is NAME.pem as staple names go: 16 hex, "-", the serial. */
static int
entry_name_ok(const char *name)
{
	size_t len = strlen(name), i;
	const char *serial = name + 17;

	if (len < 17 + 2 + 4 || len >= 17 + 3 + 2 * STAPLE_SERIAL_MAX + 4 ||
	    strcmp(name + len - 4, ".pem") != 0 || name[16] != '-')
		return 0;
	for (i = 0; i < 16; i++)
		if (!strchr("0123456789abcdef", name[i]))
			return 0;
	if (strncmp(serial, "neg", 3) == 0)
		serial += 3;
	for (i = 0; serial + i < name + len - 4; i++)
		if (!strchr("0123456789abcdef", serial[i]))
			return 0;
	return i >= 2 && i % 2 == 0;
}

static int
entry_bad(struct ctl_entry *e, const char *why)
{
	e->state = W_BAD;
	snprintf(e->why, sizeof(e->why), "%s", why);
	return 0;
}

/*
 * A header line "# KEY: VALUE\n" at *p (within end) into `out`: printable
 * ASCII only. 1 and *p past it; 0 when the line is not that key's.
 */
static int
header(const char **p, const char *end, const char *key, char *out,
    size_t size)
{
	size_t klen = strlen(key), n;
	const char *v = *p + 2 + klen + 2, *nl;

	if ((size_t)(end - *p) < 2 + klen + 2 || strncmp(*p, "# ", 2) != 0 ||
	    strncmp(*p + 2, key, klen) != 0 || strncmp(*p + 2 + klen, ": ", 2))
		return 0;
	if ((nl = memchr(v, '\n', end - v)) == NULL || nl == v ||
	    (n = nl - v) >= size)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (v[i] < 0x20 || v[i] > 0x7e)
			return 0;
	memcpy(out, v, n);
	out[n] = '\0';
	*p = nl + 1;
	return 1;
}

/*
 * One PEM certificate block starting exactly at *p: its certificate, and
 * *p past its END line; NULL when the block is not exactly that.
 */
static X509 *
pem_block(const char **p, const char *end)
{
	const char *b = *p, *e;
	X509 *x = NULL;
	BIO *bio;

	if ((size_t)(end - b) < strlen(PEM_BEGIN) ||
	    strncmp(b, PEM_BEGIN, strlen(PEM_BEGIN)) != 0 ||
	    (e = memmem(b, end - b, PEM_END, strlen(PEM_END))) == NULL)
		return NULL;
	e += strlen(PEM_END);
	/* between the lines: base64 and line ends, nothing else */
	for (const char *c = b + strlen(PEM_BEGIN);
	    c < e - strlen(PEM_END); c++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789+/=\n", *c))
			return NULL;
	if ((bio = ossl.BIO_new_mem_buf(b, (int)(e - b))) != NULL)
		x = ossl.PEM_read_bio_X509(bio, NULL, NULL, NULL);
	ossl.BIO_free(bio);
	ossl.ERR_clear_error();
	if (x != NULL)
		*p = e;
	return x;
}

/* Parse the text of an entry strictly into e; 0 (W_BAD) when it is not one. */
static int
entry_parse(struct ctl_entry *e, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	static const char first[] = "# libstaple register entry\n";

	if (memchr(buf, '\0', len) != NULL)
		return entry_bad(e, "not text (a NUL byte)");
	if (len < strlen(first) || strncmp(buf, first, strlen(first)) != 0)
		return entry_bad(e, "not a register entry (its first line)");
	p += strlen(first);
	if (!header(&p, end, "program", e->program, sizeof(e->program)))
		return entry_bad(e, "no '# program:' line");
	header(&p, end, "certfile", e->certfile, sizeof(e->certfile));
	if ((e->leaf = pem_block(&p, end)) == NULL)
		return entry_bad(e, "no PEM certificate where the leaf must be");
	if ((e->issuer = pem_block(&p, end)) == NULL)
		return entry_bad(e, "no PEM certificate where the issuer must be");
	while (p < end && (*p == '\n' || *p == ' ' || *p == '\t'))
		p++;
	if (p != end)
		return entry_bad(e, "more after the issuer's certificate");
	return 1;
}

/*
 * Judge a parsed entry at `now`: the leaf signed by the issuer, its name
 * the one its content gives, an http:// OCSP URL or none, not expired.
 */
static void
entry_judge(struct ctl_entry *e, time_t now)
{
	char name[sizeof(e->staple)], stamp[32], *url;
	size_t n;

	ossl.X509_NAME_oneline(ossl.X509_get_subject_name(e->leaf), e->subject,
	    sizeof(e->subject));
	if (!ctl_issued(e->issuer, e->leaf)) {
		entry_bad(e, "the leaf is not signed by the issuer in the entry");
		return;
	}
	if (!staple_cert_name(e->leaf, e->issuer, ".der", name, sizeof(name))) {
		entry_bad(e, "its staple cannot be named");
		return;
	}
	n = strlen(name) - 4;	/* without .der */
	if (strncmp(e->name, name, n) != 0 || strcmp(e->name + n, ".pem") != 0) {
		entry_bad(e, "its name is not its certificate's");
		return;
	}
	snprintf(e->staple, sizeof(e->staple), "%s", name);
	if (!staple_asn1_time(staple_x509_not_after(e->leaf), &e->not_after)) {
		entry_bad(e, "an unreadable notAfter");
		return;
	}
	if (e->not_after < now) {
		e->state = W_EXPIRED;
		ctl_stamp(stamp, sizeof(stamp), e->not_after);
		snprintf(e->why, sizeof(e->why), "the certificate expired %s",
		    stamp);
		return;
	}
	if ((url = ctl_ocsp_url(e->leaf)) == NULL) {
		e->state = W_NO_URL;
		return;
	}
	/* the only scheme asked: see http.c */
	if (strncmp(url, "http://", 7) != 0) {
		e->state = W_BAD;
		snprintf(e->why, sizeof(e->why), "its OCSP URL %.150s is not"
		    " http://: not asked", url);
	} else {
		e->state = W_USABLE;
	}
	free(url);
}

static void entry_load(int dfd, const char *name, time_t now,
    struct ctl_entry *e);

/*
 * Whether the file the entry names still holds its leaf. Only a load of
 * the certificate touches an entry, and a server that loaded it once and
 * never reloaded still serves it: aged by its mtime alone, its staple
 * would go while in use. The path comes from the entry, so it is read as
 * untrusted: a regular file (no FIFO, no device) of at most
 * STAPLE_FILE_MAX, certificates compared by fingerprint.
 */
static int
entry_installed(const struct ctl_entry *e)
{
	unsigned char want[20], fp[20], *buf;
	const char *p, *end;
	long len = 0;
	int found = 0;
	X509 *x;

	if (e->certfile[0] != '/' || e->leaf == NULL ||
	    !staple_x509_sha1(e->leaf, want) ||
	    (buf = ctl_read_file(e->certfile, &len)) == NULL)
		return 0;
	for (p = (const char *)buf, end = p + len; !found && p < end; ) {
		if ((p = memmem(p, end - p, PEM_BEGIN, strlen(PEM_BEGIN))) ==
		    NULL)
			break;
		if ((x = pem_block(&p, end)) == NULL) {
			p += strlen(PEM_BEGIN);
			continue;
		}
		found = staple_x509_sha1(x, fp) && memcmp(fp, want, 20) == 0;
		ossl.X509_free(x);
	}
	free(buf);
	return found;
}

/* Read and judge the entry `name` of the register `dfd`. */
static void
entry_read(int dfd, const char *name, time_t now, long max_age,
    struct ctl_entry *e)
{
	struct stat st;
	char stamp[32];

	e->state = W_BAD;
	snprintf(e->name, sizeof(e->name), "%s", name);
	/* the entry itself, never what a link names */
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		e->seen = st.st_mtime;
	entry_load(dfd, name, now, e);
	/*
	 * Any entry, a bad one too, leaves when no program saw it for long,
	 * unless the file it was loaded from still holds it. A sound entry
	 * with no such file (nginx reads its files itself) is kept until a
	 * newer one replaces it (entry_replaced): only a load touches an
	 * entry, and a server that never reloads still serves it.
	 */
	if (e->seen != 0 && now - e->seen > max_age && !entry_installed(e)) {
		if (e->leaf != NULL && e->certfile[0] == '\0') {
			e->unseen = 1;
		} else {
			e->state = W_AGED;
			ctl_stamp(stamp, sizeof(stamp), e->seen);
			snprintf(e->why, sizeof(e->why), "not seen by any"
			    " program since %s", stamp);
		}
	}
	/* one line each, whatever the entry held */
	for (char *c = e->why; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
			*c = '?';
}

/* Open, read, parse and judge the entry `name` of the register `dfd`. */
static void
entry_load(int dfd, const char *name, time_t now, struct ctl_entry *e)
{
	char *buf = NULL;
	struct stat st;
	ssize_t got = 0, r;
	int fd;

	if (!entry_name_ok(name)) {
		entry_bad(e, "not named as a register entry (ISSUERKEY-SERIAL.pem)");
		return;
	}
	/* O_NONBLOCK: a FIFO planted there must not hang the open */
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		entry_bad(e, errno == ELOOP ? "a symbolic link: not followed" :
		    strerror(errno));
		return;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		entry_bad(e, "not a regular file");
	else if (st.st_size > CTL_WANTED_MAX)
		entry_bad(e, "larger than 64 KiB");
	else if ((buf = malloc(CTL_WANTED_MAX + 1)) == NULL)
		entry_bad(e, "out of memory");
	else {
		while (got <= CTL_WANTED_MAX && ((r = read(fd, buf + got,
		    CTL_WANTED_MAX + 1 - got)) > 0 || (r < 0 && errno == EINTR)))
			got += r > 0 ? r : 0;
		if (got > CTL_WANTED_MAX)
			entry_bad(e, "larger than 64 KiB");
		else if (entry_parse(e, buf, (size_t)got))
			entry_judge(e, now);
	}
	free(buf);
	close(fd);
}

/*
 * Age the unseen entries that a newer one replaces: the same program's, for
 * the same subject from the same issuer key (a renewed certificate), seen
 * after it.
 */
static void
entry_replaced(struct ctl_entry *all, size_t n)
{
	char stamp[32];

	for (size_t i = 0; i < n; i++) {
		struct ctl_entry *e = &all[i];

		if (!e->unseen)
			continue;
		for (size_t j = 0; j < n; j++) {
			const struct ctl_entry *o = &all[j];

			if (o->leaf == NULL || o->seen <= e->seen ||
			    strcmp(o->program, e->program) != 0 ||
			    strcmp(o->subject, e->subject) != 0 ||
			    strncmp(o->name, e->name, 17) != 0)
				continue;
			e->state = W_AGED;
			e->unseen = 0;
			ctl_stamp(stamp, sizeof(stamp), e->seen);
			snprintf(e->why, sizeof(e->why), "not seen by any"
			    " program since %s; %.100s replaces it", stamp,
			    o->name);
			break;
		}
	}
}

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ctl_entry *)a)->name,
	    ((const struct ctl_entry *)b)->name);
}

struct ctl_entry *
ctl_wanted_read(int fd, time_t now, long max_age, size_t *n)
{
	struct ctl_entry *all = NULL, *more;
	size_t room = 0;
	struct dirent *d;
	DIR *dir;
	int dup_fd;

	*n = 0;
	if ((dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0 ||
	    (dir = fdopendir(dup_fd)) == NULL) {
		if (dup_fd >= 0)
			close(dup_fd);
		return NULL;
	}
	rewinddir(dir);
	while ((d = readdir(dir)) != NULL) {
		/* dot names: ".", "..", a writer's temporary files */
		if (d->d_name[0] == '.')
			continue;
		if (*n == room) {
			room = room ? 2 * room : 64;
			if ((more = realloc(all, room * sizeof(*all))) == NULL)
				break;
			all = more;
		}
		memset(&all[*n], 0, sizeof(all[*n]));
		entry_read(fd, d->d_name, now, max_age, &all[*n]);
		(*n)++;
	}
	closedir(dir);
	if (*n > 0)
		qsort(all, *n, sizeof(*all), entry_cmp);
	entry_replaced(all, *n);
	return all;
}

void
ctl_wanted_free(struct ctl_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ossl.X509_free(e[i].leaf);
		ossl.X509_free(e[i].issuer);
	}
	free(e);
}

int
ctl_staple_state(const char *path, X509 *leaf, X509 *issuer, time_t *next,
    int *verdict, const char **why)
{
	struct staple_certid id;
	struct staple_file *f;
	unsigned char *der;
	time_t now = time(NULL), until, half;
	const char *parse_why;
	long len = 0;
	int state = 0;

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
		state = now < half ? 2 : 1;
		*why = state == 2 ? NULL : "past half its validity";
		break;
	}
	staple_file_release(f);
	ossl.ERR_clear_error();
	return state;
}

time_t
ctl_staple_end(const char *path)
{
	struct staple_file *f;
	unsigned char *der;
	const char *why;
	time_t end = 0;
	long len = 0;

	if ((der = ctl_read_file(path, &len)) == NULL)
		return 0;
	if ((f = staple_file_parse(path, der, len, &why)) == NULL)
		return 0;
	for (size_t i = 0; i < f->nentries; i++)
		if (staple_entry_end(&f->entries[i]) > end)
			end = staple_entry_end(&f->entries[i]);
	staple_file_release(f);
	ossl.ERR_clear_error();
	return end;
}

/* --- the state file ---------------------------------------------------- */

void
ctl_wstate_fail(struct ctl_wstate *s, const char *name, time_t when,
    const char *reason)
{
	struct ctl_failure *f;

	if ((f = realloc(s->failures, (s->nfailures + 1) * sizeof(*f))) == NULL)
		return;
	s->failures = f;
	f = &f[s->nfailures++];
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->when = when;
	snprintf(f->reason, sizeof(f->reason), "%s", reason);
	/* one line each, whatever a responder's error said */
	for (char *c = f->reason; *c; c++)
		if ((unsigned char)*c < 0x20)
			*c = ' ';
}

void
ctl_wstate_gone(struct ctl_wstate *s, const char *staple, const char *entry,
    time_t end)
{
	struct ctl_gone *g;

	if ((g = realloc(s->gone, (s->ngone + 1) * sizeof(*g))) == NULL)
		return;
	s->gone = g;
	g = &g[s->ngone++];
	snprintf(g->staple, sizeof(g->staple), "%s", staple);
	snprintf(g->entry, sizeof(g->entry), "%s", entry);
	g->end = end;
}

const struct ctl_failure *
ctl_wstate_failure(const struct ctl_wstate *s, const char *name)
{
	for (size_t i = 0; i < s->nfailures; i++)
		if (strcmp(s->failures[i].name, name) == 0)
			return &s->failures[i];
	return NULL;
}

void
ctl_wstate_free(struct ctl_wstate *s)
{
	free(s->failures);
	free(s->gone);
	memset(s, 0, sizeof(*s));
}

/* A staple name as refresh writes them: no slash, no dot first, .der. */
static int
staple_name_ok(const char *s)
{
	size_t len = strlen(s);

	return len > 4 && len < 128 && s[0] != '.' && strchr(s, '/') == NULL &&
	    strcmp(s + len - 4, ".der") == 0;
}

/*
 * Lines "failed NAME TIME REASON" and "gone STAPLE ENTRY END"; anything
 * else is skipped (the file is root's, but a reader is careful anyway).
 */
void
ctl_wstate_read(const char *dir, struct ctl_wstate *s)
{
	char path[PATH_MAX], name[256], staple[128], *line, *save;
	unsigned char *buf;
	long long when;
	long len = 0;
	int off;

	memset(s, 0, sizeof(*s));
	snprintf(path, sizeof(path), "%s/%s", dir, CTL_WANTED_STATE);
	if ((buf = ctl_read_file(path, &len)) == NULL)
		return;
	buf[len < STAPLE_FILE_MAX ? len : STAPLE_FILE_MAX - 1] = '\0';
	for (line = strtok_r((char *)buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "failed %255s %lld %n", name, &when, &off) == 2)
			ctl_wstate_fail(s, name, (time_t)when, line + off);
		else if (sscanf(line, "gone %127s %255s %lld", staple, name,
		    &when) == 3 && staple_name_ok(staple))
			ctl_wstate_gone(s, staple, name, (time_t)when);
	}
	free(buf);
}

int
ctl_wstate_write(const char *dir, const struct ctl_wstate *s)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	FILE *f;
	int fd, ok, err;

	snprintf(path, sizeof(path), "%s/%s", dir, CTL_WANTED_STATE);
	snprintf(tmp, sizeof(tmp), "%s/.wanted.state.XXXXXX", dir);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
		return 0;
	if ((f = fdopen(fd, "w")) == NULL) {
		err = errno;
		close(fd);
		unlink(tmp);
		errno = err;
		return 0;
	}
	fprintf(f, "# libstaple register state, written by staplectl refresh:"
	    " the last failed fetch of each entry, and the staples of dropped"
	    " entries, removed once they expire\n");
	for (size_t i = 0; i < s->nfailures; i++)
		fprintf(f, "failed %s %lld %s\n", s->failures[i].name,
		    (long long)s->failures[i].when, s->failures[i].reason);
	for (size_t i = 0; i < s->ngone; i++)
		fprintf(f, "gone %s %s %lld\n", s->gone[i].staple,
		    s->gone[i].entry, (long long)s->gone[i].end);
	ok = fflush(f) == 0 && fchmod(fd, 0644) == 0 && fsync(fd) == 0;
	err = errno;
	ok = fclose(f) == 0 && ok && rename(tmp, path) == 0;
	if (!ok) {
		err = errno ? errno : err;
		unlink(tmp);
		errno = err;
	}
	return ok;
}
