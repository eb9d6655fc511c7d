/*
 * staplectl fetch: ask the certificate's OCSP responder, verify the answer
 * as the client role would, and only then put it into the staple directory
 * (a temporary file and a rename, so the library never sees half a file).
 * On any failure the old staple stays. Exit status: 0 stored, 1 failed,
 * 2 the certificate names no responder (and none was given), 3 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/http.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "../preload/config.h"
#include "../preload/staple.h"
#include "../preload/verify.h"
#include "staplectl.h"

struct fetch {
	const char *certfile, *url, *dir, *cafile;
	int timeout;
	X509 *leaf, *issuer;
	STACK_OF(X509) *certs;
};

/* The last OpenSSL error, readable. */
static const char *
ssl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	return r ? r : "no answer";
}

/* POST an OCSP request for the leaf to `url`; the DER answer, or NULL. */
static unsigned char *
ask(const struct fetch *f, const char *url, long *len)
{
	char *host = NULL, *port = NULL, *path = NULL;
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	OCSP_CERTID *id = OCSP_cert_to_id(NULL, f->leaf, f->issuer);
	BIO *out = NULL, *in = NULL;
	unsigned char *der = NULL;
	int tls, n;

	if (req == NULL || id == NULL || !OCSP_request_add0_id(req, id) ||
	    !OSSL_HTTP_parse_url(url, &tls, NULL, &host, &port, NULL, &path,
	    NULL, NULL) ||
	    (out = ASN1_item_i2d_mem_bio(ASN1_ITEM_rptr(OCSP_REQUEST),
	    (const ASN1_VALUE *)req)) == NULL)
		goto done;
	id = NULL;	/* the request owns it now */
	in = OSSL_HTTP_transfer(NULL, host, port, path, tls, NULL, NULL, NULL,
	    NULL, NULL, NULL, 0, NULL, "application/ocsp-request", out,
	    "application/ocsp-response", 1, STAPLE_FILE_MAX, f->timeout, 0);
	if (in == NULL || (der = malloc(STAPLE_FILE_MAX)) == NULL)
		goto done;
	*len = 0;
	while ((n = BIO_read(in, der + *len, STAPLE_FILE_MAX - *len)) > 0)
		*len += n;
done:
	BIO_free(in);
	BIO_free(out);
	OCSP_CERTID_free(id);
	OCSP_REQUEST_free(req);
	OPENSSL_free(host);
	OPENSSL_free(port);
	OPENSSL_free(path);
	return der;
}

/* Write `der` to DIR/NAME through a temporary file and a rename. */
static int
store(const struct fetch *f, const unsigned char *der, long len, char **where)
{
	char *copy = strdup(f->certfile), *base = basename(copy), *dot, *tmp;
	int fd, ok;

	if ((dot = strrchr(base, '.')) != NULL)
		*dot = '\0';
	if (asprintf(where, "%s/%s.der", f->dir, base) < 0 ||
	    asprintf(&tmp, "%s/.%s.XXXXXX", f->dir, base) < 0)
		return 0;
	free(copy);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		fprintf(stderr, "staplectl: %s: %s\n", tmp, strerror(errno));
		free(tmp);
		return 0;
	}
	ok = write(fd, der, len) == len && fchmod(fd, 0644) == 0 &&
	    fsync(fd) == 0;
	ok = close(fd) == 0 && ok && rename(tmp, *where) == 0;
	if (!ok) {
		fprintf(stderr, "staplectl: %s: %s\n", *where, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	return ok;
}

static void
parse_args(struct fetch *f, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cert", required_argument, NULL, 'c' },
		{ "issuer", required_argument, NULL, 'i' },
		{ "url", required_argument, NULL, 'u' },
		{ "dir", required_argument, NULL, 'd' },
		{ "CAfile", required_argument, NULL, 'a' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			f->certfile = optarg;
			f->leaf = ctl_read_certs(optarg, f->certs);
			/* a chain file: the certificate after the leaf issued it */
			if (sk_X509_num(f->certs) > 1 && f->issuer == NULL)
				f->issuer = sk_X509_value(f->certs, 1);
			break;
		case 'i': f->issuer = ctl_read_certs(optarg, f->certs); break;
		case 'u': f->url = optarg; break;
		case 'd': f->dir = optarg; break;
		case 'a': f->cafile = optarg; break;
		case 't': f->timeout = atoi(optarg); break;
		default: ctl_die("fetch", "unknown option");
		}
	}
	if (f->leaf == NULL || optind != argc)
		ctl_die("fetch", "needs --cert LEAF");
	if (f->issuer == NULL && f->cafile != NULL)
		f->issuer = ctl_find_issuer(f->leaf, f->certs, ctl_store(f->cafile));
	if (f->issuer == NULL)
		ctl_die(f->certfile, "no issuer: give --issuer, a chain file or"
		    " a --CAfile that holds it");
}

int
ctl_fetch(int argc, char **argv)
{
	struct fetch f = { .dir = staple_conf.dir, .timeout = 10,
	    .certs = sk_X509_new_null() };
	struct staple_check c = { 0 };
	STACK_OF(OPENSSL_STRING) *urls = NULL;
	unsigned char *der;
	const char *url;
	char *where = NULL;
	long len = 0;
	int verdict;

	parse_args(&f, argc, argv);
	if ((url = f.url) == NULL) {
		urls = X509_get1_ocsp(f.leaf);
		if (urls == NULL || sk_OPENSSL_STRING_num(urls) == 0) {
			printf("%s: the certificate names no OCSP responder"
			    " (give --url); nothing fetched\n", f.certfile);
			return 2;
		}
		url = sk_OPENSSL_STRING_value(urls, 0);
	}
	if ((der = ask(&f, url, &len)) == NULL) {
		printf("%s: %s: %s; the old staple is kept\n", f.certfile, url,
		    ssl_reason());
		return 1;
	}
	/* The issuer the operator named (or the chain file's) is the anchor. */
	c.leaf = f.leaf;
	ctl_judge(&c.judge, f.issuer, time(NULL), ctl_default_level());
	verdict = staple_verify(der, len, &c);
	if (verdict != STAPLE_GOOD && verdict != STAPLE_REVOKED) {
		printf("%s: %s answered with an %s response (%s); the old staple"
		    " is kept\n", f.certfile, url, staple_verdict_name(verdict),
		    c.why);
		return 1;
	}
	if (!store(&f, der, len, &where))
		return 1;
	printf("%s: %s: stored %s\n", f.certfile, staple_verdict_name(verdict),
	    where);
	X509_email_free(urls);
	free(der);
	free(where);
	return 0;
}
