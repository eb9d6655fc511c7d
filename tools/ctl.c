/*
 * ctl.c - what the staplectl commands share: reading certificates and
 * files, parsing arguments, trust stores, the issued-by rule, output
 * quoting. Called by the command files (show.c, refresh.c, crl.c...), which
 * main.c dispatches to; it calls none of them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../preload/config.h"
#include "../preload/issuers.h"
#include "../preload/log.h"
#include "../preload/ossl.h"
#include "../preload/signer.h"
#include "../preload/staple.h"
#include "staplectl.h"

void
ctl_die(const char *what, const char *msg)
{
	fprintf(stderr, "staplectl: %s: %s\n", what, msg);
	exit(3);
}

X509 *
ctl_read_certs(const char *file, STACK_OF(X509) *certs)
{
	FILE *f = fopen(file, "re");
	X509 *x, *first = NULL;

	if (f == NULL)
		ctl_die(file, "cannot open");
	while ((x = ossl.PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		if (first == NULL)
			first = x;
		sk_X509_push(certs, x);
	}
	fclose(f);
	ossl.ERR_clear_error();
	if (first == NULL)
		ctl_die(file, "no PEM certificate");
	return first;
}

unsigned char *
ctl_read_file(const char *file, long *len)
{
	return ctl_read_file_at(AT_FDCWD, file, len);
}

unsigned char *
ctl_read_file_at(int at, const char *file, long *len)
{
	/* O_NONBLOCK: a FIFO in its place must not hang the open */
	int fd = openat(at, file, O_RDONLY | O_CLOEXEC | O_NONBLOCK), err;
	unsigned char *buf = NULL;
	struct stat st;
	size_t size, got = 0;
	ssize_t n;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return NULL;
	}
	/*
	 * Its size (capped) and a byte more, so that one read() usually
	 * reaches the end: show reads many thousands of files.
	 */
	size = st.st_size < STAPLE_FILE_MAX ? (size_t)st.st_size + 1 :
	    STAPLE_FILE_MAX;
	if ((buf = malloc(size)) != NULL) {
		/* a short read of a regular file is its end */
		while (got < size && ((n = read(fd, buf + got, size - got)) > 0 ||
		    (n < 0 && errno == EINTR)))
			if (n > 0 && (got += (size_t)n) < size)
				break;
		*len = (long)got;
	}
	err = errno;
	close(fd);
	errno = err;
	return buf;
}

time_t
ctl_parse_time(const char *s)
{
	struct tm tm = { 0 };
	char *end;
	long long n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (*end == '\0' && end != s && errno == 0)
		return staple_time_clamp(n);
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end == NULL) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, "%Y-%m-%d", &tm);
	}
	if (end == NULL || (*end != '\0' && strcmp(end, "Z") != 0))
		ctl_die(s, "not a time (seconds, or YYYY-MM-DD[THH:MM:SS])");
	return timegm(&tm);
}

X509_STORE *
ctl_store(const char *cafile)
{
	X509_STORE *store = ossl.X509_STORE_new();

	if (store == NULL || (cafile ?
	    !ossl.X509_STORE_load_locations(store, cafile, NULL) :
	    !ossl.X509_STORE_set_default_paths(store)))
		ctl_die(cafile ? cafile : "(system trust store)",
		    "cannot load trust anchors");
	return store;
}

/* What ctl_quoted writes otherwise: quote, backslash, control characters. */
static const char quoted_special[] = "\"\\"
    "\001\002\003\004\005\006\007\010\011\012\013\014\015\016\017"
    "\020\021\022\023\024\025\026\027\030\031\032\033\034\035\036\037";

void
ctl_quoted(const char *s, int label)
{
	size_t n;

	/* one lock per string and plain runs whole: show quotes 100,000 names */
	flockfile(stdout);
	putchar_unlocked('"');
	for (; *s; s++) {
		if ((n = strcspn(s, quoted_special)) > 0) {
			fwrite_unlocked(s, 1, n, stdout);
			if (*(s += n) == '\0')
				break;
		}
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if (*s == '\n')
			printf("\\n");
		else
			printf(label ? " " : "\\u%04x", *s);
	}
	putchar_unlocked('"');
	funlockfile(stdout);
}

void
ctl_span(char *buf, size_t size, long long s)
{
	if (s >= 86400)
		snprintf(buf, size, "%lldd%lldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, size, "%lldh%lldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, size, "%lldm", s / 60);
	else
		snprintf(buf, size, "%llds", s);
}

void
ctl_stamp(char *buf, size_t size, time_t t)
{
	struct tm tm;

	if (t == 0) {
		snprintf(buf, size, "-");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
ctl_default_level(void)
{
	SSL_CTX *ctx = ossl.SSL_CTX_new(ossl.TLS_client_method());
	/* 1.0.2 has no levels: the library holds it to level 1 (compat.h) */
	int level = ctx && ossl.SSL_CTX_get_security_level ?
	    ossl.SSL_CTX_get_security_level(ctx) : 1;

	ossl.SSL_CTX_free(ctx);
	return level;
}

int
ctl_parse_level(const char *s)
{
	return (int)ctl_parse_number("--security-level", s, 0, 5);
}

long
ctl_parse_number(const char *what, const char *s, long min, long max)
{
	char msg[128];
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || n < min || n > max) {
		snprintf(msg, sizeof(msg), "'%.40s' is not a whole number from"
		    " %ld to %ld", s, min, max);
		ctl_die(what, msg);
	}
	return n;
}

int
ctl_issued(X509 *x, X509 *leaf)
{
	return staple_issued(x, leaf);	/* the library's one rule */
}

X509 *
ctl_find_issuer(X509 *leaf, STACK_OF(X509) *certs, X509_STORE *store)
{
	X509_STORE_CTX *ctx;
	X509 *x = NULL;

	for (int i = 0; i < sk_X509_num(certs); i++) {
		x = sk_X509_value(certs, i);
		if (x != leaf && ctl_issued(x, leaf) && staple_x509_up_ref(x))
			return x;
	}
	x = NULL;
	if (store != NULL && (ctx = ossl.X509_STORE_CTX_new()) != NULL) {
		if (!ossl.X509_STORE_CTX_init(ctx, store, leaf, NULL) ||
		    ossl.X509_STORE_CTX_get1_issuer(&x, ctx, leaf) <= 0)
			x = NULL;
		ossl.X509_STORE_CTX_free(ctx);
	}
	if (x != NULL && !ctl_issued(x, leaf)) {
		ossl.X509_free(x);
		x = NULL;
	}
	ossl.ERR_clear_error();
	return x;
}

void
ctl_judge(struct staple_judge *j, X509 *issuer, time_t now, int level)
{
	memset(j, 0, sizeof(*j));
	j->issuer = issuer;
	j->now = now;
	j->level = level;
	/* a verdict at a chosen time is not cached as one for now */
	if (now != time(NULL))
		j->flags = X509_V_FLAG_USE_CHECK_TIME;
}
