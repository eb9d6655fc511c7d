/*
 * staplectl verify: the client role's verdict on a response file.
 * Exit status: 0 good, 1 revoked, 2 missing or invalid, 3 usage or I/O.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/x509.h>

#include "../preload/verify.h"
#include "staplectl.h"

int
ctl_verify(int argc, char **argv)
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
	struct staple_check c = { .now = time(NULL) };
	const char *cafile = NULL;
	unsigned char *der;
	long len = 0;
	int opt, partial = 0, verdict;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': c.leaf = ctl_read_certs(optarg, leafs); break;
		case 'i': c.issuer = ctl_read_certs(optarg, untrusted); break;
		case 'a': cafile = optarg; break;
		case 'u': ctl_read_certs(optarg, untrusted); break;
		case 't': c.now = ctl_parse_time(optarg); break;
		case 'p': partial = 1; break;
		default: ctl_die("verify", "unknown option");
		}
	}
	if (c.leaf == NULL || optind != argc - 1)
		ctl_die("verify", "needs --cert LEAF and one RESPONSE file");
	c.store = ctl_store(cafile);
	X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(c.store), c.now);
	if (partial)
		X509_STORE_set_flags(c.store, X509_V_FLAG_PARTIAL_CHAIN);
	c.untrusted = untrusted;
	if ((der = ctl_read_file(argv[optind], &len)) == NULL)
		ctl_die(argv[optind], "cannot read");

	verdict = staple_verify(der, len, &c);
	if (verdict == STAPLE_INVALID)
		printf("invalid: %s\n", c.why);
	else
		printf("%s\n", staple_verdict_name(verdict));
	free(der);
	X509_STORE_free(c.store);
	sk_X509_pop_free(untrusted, X509_free);
	sk_X509_pop_free(leafs, X509_free);
	return verdict == STAPLE_GOOD ? 0 : verdict == STAPLE_REVOKED ? 1 : 2;
}
