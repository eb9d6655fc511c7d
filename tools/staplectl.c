/*
 * staplectl - the operator's front end to libstaple's own code.
 *
 *   staplectl verify --cert LEAF [--issuer CERT] [--CAfile FILE]
 *                    [--untrusted FILE] [--at TIME] [--partial-chain] RESPONSE
 *
 * prints the client role's verdict on the DER OCSP response RESPONSE for
 * the certificate LEAF, and why: "good", "revoked" or "invalid: REASON"
 * ("missing" for an empty file). Exit status: 0 good, 1 revoked, 2 missing
 * or invalid, 3 usage or I/O error.
 *
 * It runs the very verifier the library runs in client handshakes
 * (preload/verify.c); only reading files and arguments is its own.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>

#include "../preload/config.h"
#include "../preload/log.h"
#include "../preload/ossl.h"
#include "../preload/staple.h"
#include "../preload/verify.h"

static void
usage(void)
{
	fprintf(stderr, "usage: staplectl verify --cert LEAF [--issuer CERT]"
	    " [--CAfile FILE]\n                 [--untrusted FILE] [--at TIME]"
	    " [--partial-chain] RESPONSE\n");
	exit(3);
}

static void
die(const char *what, const char *file)
{
	fprintf(stderr, "staplectl: %s: %s\n", file, what);
	exit(3);
}

/* Every PEM certificate in `file`, appended to `certs`; the first returned. */
static X509 *
read_certs(const char *file, STACK_OF(X509) *certs)
{
	FILE *f = fopen(file, "re");
	X509 *x, *first = NULL;

	if (f == NULL)
		die("cannot open", file);
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		if (first == NULL)
			first = x;
		sk_X509_push(certs, x);
	}
	fclose(f);
	ERR_clear_error();
	if (first == NULL)
		die("no PEM certificate", file);
	return first;
}

/* A file's bytes. */
static unsigned char *
read_file(const char *file, long *len)
{
	FILE *f = fopen(file, "re");
	unsigned char *buf = malloc(STAPLE_FILE_MAX);

	if (f == NULL || buf == NULL)
		die("cannot open", file);
	*len = (long)fread(buf, 1, STAPLE_FILE_MAX, f);
	fclose(f);
	return buf;
}

/* TIME: seconds since the epoch, or YYYY-MM-DD[THH:MM:SS] in UTC. */
static time_t
parse_time(const char *s)
{
	struct tm tm = { 0 };
	char *end;
	long n = strtol(s, &end, 10);

	if (*end == '\0' && end != s)
		return (time_t)n;
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end == NULL || *end != '\0') {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, "%Y-%m-%d", &tm);
	}
	if (end == NULL || (*end != '\0' && strcmp(end, "Z") != 0))
		usage();
	return timegm(&tm);
}

static int
cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cert", required_argument, NULL, 'c' },
		{ "issuer", required_argument, NULL, 'i' },
		{ "CAfile", required_argument, NULL, 'a' },
		{ "untrusted", required_argument, NULL, 'u' },
		{ "at", required_argument, NULL, 't' },
		{ "partial-chain", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 }
	};
	STACK_OF(X509) *untrusted = sk_X509_new_null(), *leafs = sk_X509_new_null();
	const char *cafile = NULL;
	struct staple_check c = { 0 };
	X509_STORE *store = X509_STORE_new();
	unsigned char *der;
	long len;
	int opt, partial = 0, verdict;

	c.now = time(NULL);
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': c.leaf = read_certs(optarg, leafs); break;
		case 'i': c.issuer = read_certs(optarg, untrusted); break;
		case 'a': cafile = optarg; break;
		case 'u': read_certs(optarg, untrusted); break;
		case 't': c.now = parse_time(optarg); break;
		case 'p': partial = 1; break;
		default: usage();
		}
	}
	if (c.leaf == NULL || optind != argc - 1)
		usage();
	if (cafile ? !X509_STORE_load_locations(store, cafile, NULL) :
	    !X509_STORE_set_default_paths(store))
		die("cannot load trust anchors", cafile ? cafile : "(default)");
	X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store), c.now);
	if (partial)
		X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
	c.store = store;
	c.untrusted = untrusted;

	der = read_file(argv[optind], &len);
	verdict = staple_verify(der, len, &c);
	printf("%s%s%s\n", staple_verdict_name(verdict),
	    verdict == STAPLE_INVALID ? ": " : "",
	    verdict == STAPLE_INVALID ? c.why : "");
	free(der);
	X509_STORE_free(store);
	sk_X509_pop_free(untrusted, X509_free);
	sk_X509_pop_free(leafs, X509_free);
	return verdict == STAPLE_GOOD ? 0 : verdict == STAPLE_REVOKED ? 1 : 2;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	staple_conf_env();
	staple_conf_load();
	staple_log_configure("stderr", -1);
	if (!staple_ossl_resolve((const void *)main)) {
		fprintf(stderr, "staplectl: cannot use this OpenSSL\n");
		return 3;
	}
	staple_md_init();
	if (strcmp(argv[1], "verify") == 0)
		return cmd_verify(argc - 1, argv + 1);
	usage();
	return 3;
}
