/*
 * staplectl fetch: ask the certificate's OCSP responder, verify the answer
 * as the client role would, and only then put it into the staple directory
 * (a temporary file and a rename, so the library never sees half a file),
 * under a name unique to the certificate: ISSUERKEY-SERIAL.der. On any
 * failure the old staple stays. Exit status: 0 stored, 1 failed, 2 the
 * certificate names no responder (and none was given), 3 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../preload/config.h"
#include "../preload/staple.h"
#include "../preload/verify.h"
#include "staplectl.h"

/* The last OpenSSL error, readable. */
static const char *
ssl_reason(void)
{
	unsigned long e = ossl.ERR_peek_last_error();
	const char *r = e ? ossl.ERR_reason_error_string(e) : NULL;

	return r ? r : "no answer";
}

/*
 * POST an OCSP request for the leaf to `url`; the DER answer (malloc()ed),
 * or NULL with the reason in `err`.
 */
static unsigned char *
ask(const struct ctl_cert *c, const char *url, int timeout, long *len,
    char *err, size_t size)
{
	OCSP_REQUEST *req = ossl.OCSP_REQUEST_new();
	OCSP_CERTID *id = ossl.OCSP_cert_to_id(NULL, c->leaf, c->issuer);
	unsigned char *body = NULL, *der = NULL;
	size_t der_len = 0;
	int n;

	snprintf(err, size, "cannot make the request: %s", ssl_reason());
	if (req == NULL || id == NULL || !ossl.OCSP_request_add0_id(req, id))
		goto done;
	id = NULL;	/* the request owns it now */
	if ((n = ossl.i2d_OCSP_REQUEST(req, &body)) <= 0)
		goto done;
	if (ctl_http_post(url, "application/ocsp-request", body, n, timeout,
	    STAPLE_FILE_MAX, &der, &der_len, err, size))
		*len = (long)der_len;
done:
	ossl.CRYPTO_free(body, __FILE__, __LINE__);
	ossl.OCSP_CERTID_free(id);
	ossl.OCSP_REQUEST_free(req);
	return der;
}

/* Write `der` to `where` through a temporary dot file and a rename. */
static int
store(const char *dir, const char *where, const unsigned char *der, long len,
    struct ctl_result *r)
{
	char tmp[PATH_MAX];
	int fd, ok;

	snprintf(tmp, sizeof(tmp), "%s/.staplectl.XXXXXX", dir);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		snprintf(r->reason, sizeof(r->reason), "%.300s: %s", tmp,
		    strerror(errno));
		return 0;
	}
	ok = write(fd, der, len) == len && fchmod(fd, 0644) == 0 &&
	    fsync(fd) == 0;
	ok = close(fd) == 0 && ok && rename(tmp, where) == 0;
	if (!ok) {
		snprintf(r->reason, sizeof(r->reason), "%.300s: %s", where,
		    strerror(errno));
		unlink(tmp);
	}
	return ok;
}

char *
ctl_ocsp_url(X509 *leaf)
{
	STACK_OF(OPENSSL_STRING) *urls = ossl.X509_get1_ocsp(leaf);
	char *url = NULL;

	if (urls != NULL && sk_OPENSSL_STRING_num(urls) > 0)
		url = strdup(sk_OPENSSL_STRING_value(urls, 0));
	ossl.X509_email_free(urls);
	return url;
}

int
ctl_fetch_one(const struct ctl_cert *c, const char *url, const char *dir,
    int timeout, struct ctl_result *r)
{
	struct staple_check check = { 0 };
	char *aia = NULL, name[256], why[300];
	unsigned char *der = NULL;
	long len = 0;
	int rc = CTL_FAILED;

	if (!staple_cert_name(c->leaf, c->issuer, ".der", name, sizeof(name))) {
		snprintf(r->reason, sizeof(r->reason), "cannot name its staple");
		return CTL_FAILED;
	}
	snprintf(r->staple, sizeof(r->staple), "%s/%s", dir, name);
	if (url == NULL && (url = aia = ctl_ocsp_url(c->leaf)) == NULL)
		return CTL_NO_URL;
	if ((der = ask(c, url, timeout, &len, why, sizeof(why))) == NULL) {
		snprintf(r->reason, sizeof(r->reason), "%s: %s", url, why);
		goto done;
	}
	/* the issuer (the chain file's, or the one named) is the anchor */
	check.leaf = c->leaf;
	ctl_judge(&check.judge, c->issuer, time(NULL), ctl_default_level());
	r->verdict = staple_verify(der, len, &check);
	if (r->verdict != STAPLE_GOOD && r->verdict != STAPLE_REVOKED) {
		snprintf(r->reason, sizeof(r->reason), "%s answered with an %s"
		    " response (%s)", url, staple_verdict_name(r->verdict),
		    check.why);
		goto done;
	}
	if (store(dir, r->staple, der, len, r))
		rc = CTL_STORED;
done:
	ossl.ERR_clear_error();
	free(der);
	free(aia);
	return rc;
}

int
ctl_fetch(int argc, char **argv)
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
	struct ctl_cert c = { .certs = sk_X509_new_null() };
	struct ctl_result r = { .verdict = -1 };
	const char *url = NULL, *dir = staple_conf.dir, *cafile = NULL;
	X509 *issuer = NULL;
	int opt, timeout = 10, rc;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			c.file = optarg;
			c.leaf = ctl_read_certs(optarg, c.certs);
			break;
		case 'i': issuer = ctl_read_certs(optarg, c.certs); break;
		case 'u': url = optarg; break;
		case 'd': dir = optarg; break;
		case 'a': cafile = optarg; break;
		case 't':
			timeout = (int)ctl_parse_number("--timeout", optarg, 1,
			    86400);
			break;
		default: ctl_die("fetch", "unknown option");
		}
	}
	if (c.leaf == NULL || optind != argc)
		ctl_die("fetch", "needs --cert LEAF");
	/* the one named, else a chain file's next certificate, else --CAfile's */
	c.issuer = issuer ? staple_x509_up_ref(issuer), issuer :
	    ctl_find_issuer(c.leaf, c.certs, cafile ? ctl_store(cafile) : NULL);
	if (c.issuer == NULL)
		ctl_die(c.file, "no issuer: give --issuer, a chain file or"
		    " a --CAfile that holds it");
	rc = ctl_fetch_one(&c, url, dir, timeout, &r);
	if (rc == CTL_NO_URL)
		printf("%s: the certificate names no OCSP responder"
		    " (give --url); nothing fetched\n", c.file);
	else if (rc == CTL_FAILED)
		printf("%s: %s; the old staple is kept\n", c.file, r.reason);
	else
		printf("%s: %s: stored %s\n", c.file,
		    staple_verdict_name(r.verdict), r.staple);
	ossl.X509_free(c.issuer);
	sk_X509_pop_free(c.certs, ossl.X509_free);
	return rc == CTL_STORED ? 0 : rc == CTL_NO_URL ? 2 : 1;
}
