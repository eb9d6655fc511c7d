/*
 * staplectl.h - what the staplectl commands share.
 */
#ifndef STAPLECTL_H
#define STAPLECTL_H

#include <time.h>

#include "../preload/compat.h"
#include "../preload/ossl.h"

/* Print `msg` about `what` on stderr and exit with status 3. */
void ctl_die(const char *what, const char *msg) __attribute__((noreturn));

/* Every PEM certificate in `file`, appended to `certs`; the first returned. */
X509 *ctl_read_certs(const char *file, STACK_OF(X509) *certs);

/*
 * A regular file's bytes (at most STAPLE_FILE_MAX), malloc()ed; NULL on
 * error (errno EINVAL: not a regular file).
 */
unsigned char *ctl_read_file(const char *file, long *len);

/* ctl_read_file of `file` relative to the directory open as `at`. */
unsigned char *ctl_read_file_at(int at, const char *file, long *len);

/* TIME: seconds since the epoch, or YYYY-MM-DD[THH:MM:SS][Z], UTC. */
time_t ctl_parse_time(const char *s);

/* A trust store: FILE, or the system's when NULL. Exits on failure. */
X509_STORE *ctl_store(const char *cafile);

/*
 * `s` on stdout as a JSON string, or (`label`) as a Prometheus label value:
 * the one escaper of show, metrics and refresh --json.
 */
void ctl_quoted(const char *s, int label);

/* `s` seconds as "1d2h", "3h4m", "5m" or "6s": the one duration format. */
void ctl_span(char *buf, size_t size, long long s);

/* `t` as YYYY-MM-DDTHH:MM:SSZ, or "-" for 0. */
void ctl_stamp(char *buf, size_t size, time_t t);

/* The security level a default client context has on this machine. */
int ctl_default_level(void);

/* A security level argument (0-5); exits on a bad one. */
int ctl_parse_level(const char *s);

/*
 * The whole number `s` given for `what` (an option), from min to max;
 * exits with a clear error (status 3) on anything else.
 */
long ctl_parse_number(const char *what, const char *s, long min, long max);

/* The first OCSP URL of the leaf's AIA, malloc()ed, or NULL. */
char *ctl_ocsp_url(X509 *leaf);

/* Whether `x` issued `leaf`: names and key identifiers agree, and its key signed it. */
int ctl_issued(X509 *x, X509 *leaf);

/*
 * The issuer of `leaf` (a new reference) among `certs`, else in `store`
 * (may be NULL): one whose names match and whose key signed the leaf.
 */
X509 *ctl_find_issuer(X509 *leaf, STACK_OF(X509) *certs, X509_STORE *store);

struct staple_judge;
/* A judge as the client role makes one: issuer, time and level, no SSL. */
void ctl_judge(struct staple_judge *j, X509 *issuer, time_t now, int level);

/* One certificate to keep a staple for. */
struct ctl_cert {
	const char *file;
	X509 *leaf, *issuer;		/* the issuer: a reference of its own */
	STACK_OF(X509) *certs;		/* everything the file held */
};

/* What fetching did. */
struct ctl_result {
	char staple[4096];		/* the staple's path */
	int verdict;			/* STAPLE_GOOD or STAPLE_REVOKED, stored */
	char reason[512];		/* why it failed */
};

enum { CTL_STORED, CTL_FAILED, CTL_NO_URL };

/*
 * Ask `url` (NULL: the leaf's AIA) about c, verify the answer as the client
 * role would, store it in `dir` under its unique name. CTL_STORED, CTL_NO_URL
 * (the certificate names no responder), or CTL_FAILED with r->reason; the
 * old staple stays unless one was stored.
 */
int ctl_fetch_one(const struct ctl_cert *c, const char *url, const char *dir,
    int timeout, struct ctl_result *r);

/*
 * POST `body` (Content-Type `type`) to the plain http:// `url` over
 * HTTP/1.0, over IPv4 or IPv6, `timeout` seconds for connecting and as
 * much for the exchange. 1 with the answer's body (status 200, at most
 * `max` bytes, by Content-Length or up to the close) in *out (malloc()ed)
 * and *out_len, or 0 with the reason in `err`.
 */
int ctl_http_post(const char *url, const char *type, const unsigned char *body,
    size_t body_len, int timeout, size_t max, unsigned char **out,
    size_t *out_len, char *err, size_t size);

/* A conditional GET's validators: sent when set, then the answer's. */
struct ctl_http_cond {
	char etag[256];			/* If-None-Match / ETag */
	char modified[64];		/* If-Modified-Since / Last-Modified */
};

/*
 * Whether `url` is a plain http:// URL staplectl would ask (printable,
 * no user info, a valid port); 0 with the reason in `err`.
 */
int ctl_http_url_ok(const char *url, char *err, size_t size);

/*
 * GET the plain http:// `url` over HTTP/1.0, sending cond's validators
 * (If-None-Match, If-Modified-Since) when set; `timeout` seconds for
 * connecting and as much for the exchange; a redirect is refused. 200 with
 * the body (at most `max` bytes) in *out (malloc()ed), 304 (not modified,
 * nothing in *out), the answer's validators in cond either way; or 0 with
 * the reason in `err`.
 */
int ctl_http_get(const char *url, struct ctl_http_cond *cond, int timeout,
    size_t max, unsigned char **out, size_t *out_len, char *err, size_t size);

int ctl_verify(int argc, char **argv);
int ctl_refresh(int argc, char **argv);
int ctl_metrics(int argc, char **argv);
int ctl_show(int argc, char **argv);
int ctl_fetch(int argc, char **argv);
/* staplectl index [--dir DIR] (index.c). */
int ctl_index(int argc, char **argv);
/*
 * Write DIR's shared staple index (preload/shared.h), as root only; 1 with
 * the number of files listed in *nfiles, or 0 with *why. Unless `force`,
 * an index that lists the directory as it is stays, and a directory without
 * staples gets none (*nfiles 0).
 */
int ctl_index_write(const char *dir, int force, size_t *nfiles,
    const char **why);
/* enable and disable SERVICE: the systemd drop-in (enable.c). */
int ctl_enable(int argc, char **argv);
/*
 * show --wanted (text or JSON) and the register's metrics for the staple
 * directories `dirs` (wanted_show.c); whether an entry needs attention.
 */
int ctl_wanted_show(char **dirs, int ndirs, int json, long warn);
int ctl_wanted_metrics(char **dirs, int ndirs, long warn);

#endif
