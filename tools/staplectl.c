/*
 * staplectl - the operator's front end to libstaple's own code.
 *
 *   staplectl show [--warn DURATION] [--issuer CERT]... [--json] [DIR|FILE ...]
 *   staplectl show --wanted [--warn DURATION] [--json] [DIR ...]
 *   staplectl metrics [--warn DURATION] [--issuer CERT]... [DIR|FILE ...]
 *   staplectl verify --cert LEAF [--issuer CERT] [--CAfile FILE]
 *                    [--untrusted FILE] [--at TIME] [--security-level N] RESPONSE
 *   staplectl fetch --cert LEAF [--issuer CERT] [--url URL] [--dir DIR]
 *                   [--CAfile FILE] [--timeout SECONDS]
 *   staplectl refresh [--dir DIR] [--jobs N] [--timeout SECONDS]
 *                     [--CAfile FILE] [--json] [CERTFILE|GLOB ...]
 *   staplectl check [--library FILE] [--user NAME] [--json] PROGRAM|PID
 *   staplectl enable [--root DIR] [--library FILE] SERVICE
 *   staplectl disable [--root DIR] SERVICE
 *
 * The parsing, matching, time rules and verification are the library's own
 * (preload/staple.c, preload/verify.c), called through the same OpenSSL
 * symbol table; only files, arguments and output are staplectl's.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
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
#include "check.h"
#include "staplectl.h"

static void
usage(void)
{
	fprintf(stderr,
	    "usage: staplectl show [--warn DURATION] [--issuer CERT]... [--json] [DIR|FILE ...]\n"
	    "       staplectl show --wanted [--warn DURATION] [--json] [DIR ...]\n"
	    "       staplectl metrics [--warn DURATION] [--issuer CERT]... [DIR|FILE ...]\n"
	    "       staplectl verify --cert LEAF [--issuer CERT] [--CAfile FILE]\n"
	    "                 [--untrusted FILE] [--at TIME] [--security-level N] RESPONSE\n"
	    "       staplectl fetch --cert LEAF [--issuer CERT] [--url URL] [--dir DIR]\n"
	    "                 [--CAfile FILE] [--timeout SECONDS]\n"
	    "       staplectl refresh [--dir DIR] [--jobs N] [--timeout SECONDS]\n"
	    "                 [--CAfile FILE] [--json] [CERTFILE|GLOB ...]\n"
	    "       staplectl check [--library FILE] [--user NAME] [--json] PROGRAM|PID\n"
	    "       staplectl enable [--root DIR] [--library FILE] SERVICE\n"
	    "       staplectl disable [--root DIR] SERVICE\n"
	    "       staplectl --version\n");
	exit(3);
}

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

/*
 * The libssl sonames staplectl looks for, newest first: 3.x, 1.1.1, then
 * 1.0.2 as RHEL/CentOS 7 (libssl.so.10), a default build (1.0.2) and
 * Debian/Ubuntu (1.0.0) name it.
 */
static const char *const libssl_names[] = {
	"libssl.so.3", "libssl.so.1.1", "libssl.so.10", "libssl.so.1.0.2",
	"libssl.so.1.0.0",
};

/*
 * Load the host's libssl (STAPLECTL_LIBSSL: a file or soname to use
 * instead) and fill the symbol table from it, as the library does from a
 * process's. 1, or 0 after saying why on stderr.
 */
static int
ctl_open_libssl(void)
{
	const char *name = getenv("STAPLECTL_LIBSSL");
	void *handle = NULL, *sym;
	size_t i;

	if (name != NULL && *name != '\0') {
		if ((handle = dlopen(name, RTLD_NOW | RTLD_LOCAL)) == NULL)
			fprintf(stderr, "staplectl: STAPLECTL_LIBSSL: %s\n",
			    dlerror());
	} else {
		for (i = 0; handle == NULL && i < sizeof(libssl_names) /
		    sizeof(libssl_names[0]); i++)
			handle = dlopen(libssl_names[i], RTLD_NOW | RTLD_LOCAL);
		if (handle == NULL)
			fprintf(stderr, "staplectl: no libssl found (%s, %s,"
			    " %s, %s, %s); name one in STAPLECTL_LIBSSL\n",
			    libssl_names[0], libssl_names[1], libssl_names[2],
			    libssl_names[3], libssl_names[4]);
	}
	if (handle == NULL || (sym = dlsym(handle, "SSL_CTX_new")) == NULL)
		return 0;
	/* resolved as for a program whose call to SSL_CTX_new lands there */
	return staple_ossl_resolve(sym) && staple_ossl_resolve_ctl();
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "--version") == 0) {
		printf("staplectl %s\n", STAPLE_VERSION);
		return 0;
	}
	/* before OpenSSL: check looks at a program without loading any */
	if (strcmp(argv[1], "check") == 0)
		return ctl_check(argc - 1, argv + 1);
	/* a file for systemd: no OpenSSL, no config file needed */
	if (strcmp(argv[1], "enable") == 0 || strcmp(argv[1], "disable") == 0)
		return ctl_enable(argc - 1, argv + 1);
	/*
	 * staplectl talks to a person: its own diagnostics, the config file's
	 * included, go to stderr; a number it cannot read stops it rather than
	 * run with a default the person did not ask for
	 */
	setenv("LIBSTAPLE_LOG", "stderr", 1);
	staple_conf_env();
	staple_conf_load();
	staple_log_configure("stderr", -1);
	if (staple_conf_bad_numbers() > 0)
		ctl_die(staple_conf.conf, "a bad number (above); fix it first");
	if (!ctl_open_libssl())
		ctl_die("OpenSSL", "cannot use this libssl");
	staple_md_init();
	if (strcmp(argv[1], "verify") == 0)
		return ctl_verify(argc - 1, argv + 1);
	if (strcmp(argv[1], "show") == 0)
		return ctl_show(argc - 1, argv + 1);
	if (strcmp(argv[1], "fetch") == 0)
		return ctl_fetch(argc - 1, argv + 1);
	if (strcmp(argv[1], "refresh") == 0)
		return ctl_refresh(argc - 1, argv + 1);
	if (strcmp(argv[1], "metrics") == 0)
		return ctl_metrics(argc - 1, argv + 1);
	usage();
	return 3;
}
