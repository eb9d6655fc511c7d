/*
 * wanted.c - note the certificates a server process loads, and register the
 * ones that want a staple.
 *
 * Where and when (interpose.c calls it from the hooks that give a context
 * its certificate and chain, right after the program's own call): a program
 * loads its certificates when it reads its configuration, at start and on
 * reload, in the process that reads the certificate files: nginx's master,
 * Apache's parent, Postfix's smtpd before it enters its chroot. That process
 * runs as root, and root is who may write the register (root-owned, 0755).
 * The workers it forks later inherit what it did and load nothing. Never in
 * the status callback: a handshake must not wait on a disk for this, and a
 * worker, no longer root, could not write anyway.
 *
 * Once: a certificate is handled once per process. A load of the same
 * certificate more than a day later (nginx reloaded) handles it again, so
 * that the entry's mtime keeps saying that a process still serves it:
 * staplectl drops entries that no process saw for register_max_age.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "config.h"
#include "issuers.h"
#include "log.h"
#include "register.h"
#include "staple.h"
#include "wanted.h"

#define SHA1_LEN 20
/* Certificates remembered per process: more than any server loads. */
#define WANTED_MAX 65536

enum { W_PENDING, W_BUSY, W_DONE };

/* A certificate this process was given, by its SHA-1 fingerprint. */
struct wanted {
	unsigned char fp[SHA1_LEN];
	int state;
	int tried;		/* pending: its issuer was looked for... */
	unsigned gen;		/* ...with these issuers known */
	time_t done;		/* done: when it was handled */
	X509 *leaf;		/* pending: a reference */
	char *certfile;		/* pending: the file it came from, or NULL */
};

static struct wanted *list;	/* append-only: indexes stay valid */
static size_t count, cap;
static size_t pending;		/* atomic: entries in W_PENDING */
static pthread_mutex_t wanted_lock = PTHREAD_MUTEX_INITIALIZER;

/* A certificate taken out of the list to be registered, lock released. */
struct wanted_job {
	size_t index;
	X509 *leaf;
	char *certfile;
};

/*
 * `file` as an absolute path (daemons change directory), as the program
 * named it, not resolved; NULL when it holds a control character (it is
 * written on a line of its own) or on allocation failure.
 */
static char *
staple_wanted_path(const char *file)
{
	char cwd[PATH_MAX], *path = NULL;

	for (const char *p = file; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return NULL;
	while (file[0] == '.' && file[1] == '/')
		file += 2;
	if (file[0] == '/')
		return strdup(file);
	if (getcwd(cwd, sizeof(cwd)) == NULL ||
	    asprintf(&path, "%s/%s", strcmp(cwd, "/") ? cwd : "", file) < 0)
		return NULL;
	return path;
}

/* Whether `leaf` names an OCSP responder (the only ones staplectl asks). */
static int
staple_wanted_has_url(X509 *leaf)
{
	STACK_OF(OPENSSL_STRING) *urls = ossl.X509_get1_ocsp(leaf);
	int has = urls != NULL && sk_OPENSSL_STRING_num(urls) > 0;

	ossl.X509_email_free(urls);
	return has;
}

/* The entry for fingerprint `fp`, added (pending) if new; NULL when full. */
static struct wanted *
staple_wanted_find(const unsigned char *fp)
{
	struct wanted *grown;

	for (size_t i = 0; i < count; i++)
		if (memcmp(list[i].fp, fp, SHA1_LEN) == 0)
			return &list[i];
	if (count == WANTED_MAX)
		return NULL;
	if (count == cap) {
		if ((grown = realloc(list, (cap ? 2 * cap : 64) *
		    sizeof(*list))) == NULL)
			return NULL;
		list = grown;
		cap = cap ? 2 * cap : 64;
	}
	memset(&list[count], 0, sizeof(*list));
	memcpy(list[count].fp, fp, SHA1_LEN);
	list[count].state = W_DONE;	/* armed by the caller */
	return &list[count++];
}

/*
 * Arm `w` with `*leaf` and `*file` (taken: set to NULL) when it has to be
 * handled: new, or handled more than a day ago; a pending one learns the
 * file it came from if it did not know it. Holding the lock.
 */
static void
staple_wanted_arm(struct wanted *w, X509 **leaf, char **file, time_t now)
{
	if (w->state == W_PENDING && w->certfile == NULL) {
		w->certfile = *file;
		*file = NULL;
		return;
	}
	if (w->state != W_DONE || (w->done != 0 &&
	    now - w->done < STAPLE_REGISTER_FRESH))
		return;
	w->state = W_PENDING;
	w->tried = 0;
	w->leaf = *leaf;
	w->certfile = *file;
	*leaf = NULL;
	*file = NULL;
	__atomic_add_fetch(&pending, 1, __ATOMIC_RELEASE);
}

void
staple_wanted_add(X509 *leaf, const char *certfile)
{
	unsigned char fp[SHA1_LEN];
	unsigned int len = 0;
	struct wanted *w;
	char *file = NULL;
	int saved = errno;

	if (!staple_conf.registers || leaf == NULL)
		return;
	ossl.ERR_set_mark();
	if (!ossl.X509_digest(leaf, ossl.EVP_sha1(), fp, &len) ||
	    len != SHA1_LEN || !staple_wanted_has_url(leaf) ||
	    !staple_x509_up_ref(leaf))
		goto done;
	if (certfile != NULL)
		file = staple_wanted_path(certfile);
	pthread_mutex_lock(&wanted_lock);
	if ((w = staple_wanted_find(fp)) != NULL)
		staple_wanted_arm(w, &leaf, &file, time(NULL));
	pthread_mutex_unlock(&wanted_lock);
	ossl.X509_free(leaf);	/* NULL when the list took it */
	free(file);
done:
	ossl.ERR_pop_to_mark();
	errno = saved;
}

/* Append `x` as PEM to `out`; the number of bytes written, 0 on failure. */
static size_t
staple_wanted_pem(X509 *x, char *out, size_t size)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char *der = NULL, *p;
	size_t n = 0, len, col = 0;
	int dlen;

	if ((dlen = ossl.i2d_X509(x, NULL)) <= 0 ||
	    (size_t)dlen * 2 + 64 > size ||
	    (der = p = malloc((size_t)dlen)) == NULL ||
	    ossl.i2d_X509(x, &p) != dlen) {
		free(der);
		return 0;
	}
	len = (size_t)dlen;
	n = (size_t)snprintf(out, size, "-----BEGIN CERTIFICATE-----\n");
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)der[i] << 16 |
		    (i + 1 < len ? (uint32_t)der[i + 1] << 8 : 0) |
		    (i + 2 < len ? der[i + 2] : 0);
		out[n++] = b64[v >> 18 & 63];
		out[n++] = b64[v >> 12 & 63];
		out[n++] = i + 1 < len ? b64[v >> 6 & 63] : '=';
		out[n++] = i + 2 < len ? b64[v & 63] : '=';
		if ((col += 4) == 64 || i + 3 >= len) {
			out[n++] = '\n';
			col = 0;
		}
	}
	n += (size_t)snprintf(out + n, size - n, "-----END CERTIFICATE-----\n");
	free(der);
	return n;
}

/*
 * The entry for `leaf`: its header (the program, and the file when known),
 * the leaf and its issuer as PEM, in `buf`; its length, 0 when it does not
 * fit (STAPLE_REGISTER_MAX).
 */
static size_t
staple_wanted_text(X509 *leaf, X509 *issuer, const char *certfile,
    char *buf, size_t size)
{
	char program[NAME_MAX + 1];
	size_t n, m;
	int h;

	staple_register_program(program, sizeof(program));
	h = snprintf(buf, size, "# libstaple register entry\n# program: %s\n",
	    program);
	if (h < 0 || (size_t)h >= size)
		return 0;
	n = (size_t)h;
	if (certfile != NULL) {
		h = snprintf(buf + n, size - n, "# certfile: %s\n", certfile);
		if (h < 0 || (size_t)h >= size - n)
			return 0;
		n += (size_t)h;
	}
	if ((m = staple_wanted_pem(leaf, buf + n, size - n)) == 0)
		return 0;
	n += m;
	if ((m = staple_wanted_pem(issuer, buf + n, size - n)) == 0)
		return 0;
	return n + m;
}

/*
 * Say once per process and reason that the register cannot be written, and
 * what to do instead: name the certificate in `certs =`.
 */
static void
staple_wanted_refused(const char *regdir, int reason, X509 *leaf,
    const char *certfile)
{
	char subject[256];

	if (!staple_register_first(regdir, reason))
		return;
	if (certfile == NULL)
		ossl.X509_NAME_oneline(ossl.X509_get_subject_name(leaf),
		    subject, sizeof(subject));
	staple_log(STAPLE_WARN, "register %s: %s: %s%s is not registered;"
	    " for staplectl refresh to fetch its staple, list it (and the"
	    " other certificates this process loads) in certs = in %s",
	    regdir, staple_register_why(reason),
	    certfile ? "" : "the certificate of ",
	    certfile ? certfile : subject, staple_conf.conf);
}

/* Record `leaf`, issued by `issuer`, in the register. */
static void
staple_wanted_register(X509 *leaf, X509 *issuer, const char *certfile)
{
	char name[128], regdir[PATH_MAX + 16], *text;
	size_t len = 0;
	int reason = 0;

	if (!staple_cert_name(leaf, issuer, ".pem", name, sizeof(name)) ||
	    snprintf(regdir, sizeof(regdir), "%s/.wanted", staple_conf.dir) >=
	    (int)sizeof(regdir) ||
	    (text = malloc(STAPLE_REGISTER_MAX)) == NULL)
		return;
	if ((len = staple_wanted_text(leaf, issuer, certfile, text,
	    STAPLE_REGISTER_MAX)) == 0) {
		staple_log(STAPLE_DEBUG, "%s: larger than a register entry may"
		    " be; not registered", name);
		free(text);
		return;
	}
	switch (staple_register_put(regdir, name, text, len, &reason)) {
	case STAPLE_REGISTER_WRITTEN:
		staple_log(STAPLE_INFO, "registered %s in %s as %s",
		    certfile ? certfile : "a certificate", regdir, name);
		break;
	case STAPLE_REGISTER_TOUCHED:
		staple_log(STAPLE_DEBUG, "%s/%s: still wanted, touched", regdir,
		    name);
		break;
	case STAPLE_REGISTER_PRESENT:
		break;
	default:
		staple_wanted_refused(regdir, reason, leaf, certfile);
	}
	free(text);
}

/*
 * Take the pending certificates that were not tried with the issuers known
 * now (`gen`) out of the list, marked busy, into *jobs; how many.
 */
static size_t
staple_wanted_take(unsigned gen, struct wanted_job **jobs)
{
	size_t n = 0;

	*jobs = NULL;
	pthread_mutex_lock(&wanted_lock);
	if (pending > 0 && (*jobs = calloc(pending, sizeof(**jobs))) != NULL) {
		for (size_t i = 0; i < count; i++) {
			struct wanted *w = &list[i];
			if (w->state != W_PENDING || (w->tried && w->gen == gen))
				continue;
			w->state = W_BUSY;
			(*jobs)[n].index = i;
			(*jobs)[n].leaf = w->leaf;
			(*jobs)[n].certfile = w->certfile;
			w->leaf = NULL;
			w->certfile = NULL;
			n++;
		}
		__atomic_sub_fetch(&pending, n, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&wanted_lock);
	return n;
}

/*
 * Put job `j` back: done (its leaf and file freed), or pending again
 * until more issuers are known than `gen` counts.
 */
static void
staple_wanted_put(struct wanted_job *j, int done, unsigned gen)
{
	struct wanted *w;

	pthread_mutex_lock(&wanted_lock);
	w = &list[j->index];
	if (done) {
		w->state = W_DONE;
		w->done = time(NULL);
	} else {
		w->state = W_PENDING;
		w->tried = 1;
		w->gen = gen;
		w->leaf = j->leaf;
		w->certfile = j->certfile;
		j->leaf = NULL;
		j->certfile = NULL;
		__atomic_add_fetch(&pending, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&wanted_lock);
	ossl.X509_free(j->leaf);
	free(j->certfile);
}

void
staple_wanted_flush(void)
{
	struct wanted_job *jobs;
	unsigned gen;
	size_t n;
	X509 *issuer;
	int saved = errno;

	if (__atomic_load_n(&pending, __ATOMIC_ACQUIRE) == 0)
		return;
	ossl.ERR_set_mark();
	/* again while issuers were learned meanwhile (another thread's chain) */
	for (int round = 0; round < 3; round++) {
		gen = staple_issuers_generation();
		if ((n = staple_wanted_take(gen, &jobs)) == 0)
			break;
		for (size_t i = 0; i < n; i++) {
			issuer = staple_issuers_find(jobs[i].leaf);
			if (issuer != NULL)
				staple_wanted_register(jobs[i].leaf, issuer,
				    jobs[i].certfile);
			staple_wanted_put(&jobs[i], issuer != NULL, gen);
		}
		free(jobs);
		if (gen == staple_issuers_generation())
			break;
	}
	ossl.ERR_pop_to_mark();
	errno = saved;
}

void
staple_wanted_fork_prepare(void)
{
	pthread_mutex_lock(&wanted_lock);
}

void
staple_wanted_fork_parent(void)
{
	pthread_mutex_unlock(&wanted_lock);
}

void
staple_wanted_fork_child(void)
{
	pthread_mutex_unlock(&wanted_lock);
}
