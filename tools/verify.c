/*
 * staplectl verify: the client role's verdict on a response file, as for a
 * program that authenticated the server's chain LEAF, ISSUER.
 * Exit status: 0 good, 1 revoked, 2 missing or invalid, 3 usage or I/O.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>


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
		{ "security-level", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	STACK_OF(X509) *certs = sk_X509_new_null();
	struct staple_check c = { 0 };
	const char *cafile = NULL;
	X509 *issuer = NULL;
	X509_STORE *store = NULL;
	time_t now = time(NULL);
	unsigned char *der;
	long len = 0;
	int opt, level = ctl_default_level(), verdict;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': c.leaf = ctl_read_certs(optarg, certs); break;
		case 'i':
			issuer = ctl_read_certs(optarg, certs);
			staple_x509_up_ref(issuer);
			break;
		case 'a': cafile = optarg; break;
		case 'u': ctl_read_certs(optarg, certs); break;
		case 't': now = ctl_parse_time(optarg); break;
		case 's': level = ctl_parse_level(optarg); break;
		default: ctl_die("verify", "unknown option");
		}
	}
	if (c.leaf == NULL || optind != argc - 1)
		ctl_die("verify", "needs --cert LEAF and one RESPONSE file");
	if (issuer == NULL) {
		if (cafile != NULL)
			store = ctl_store(cafile);
		issuer = ctl_find_issuer(c.leaf, certs, store);
	}
	ctl_judge(&c.judge, issuer, now, level);
	if ((der = ctl_read_file(argv[optind], &len)) == NULL)
		ctl_die(argv[optind], "cannot read");

	if (issuer != NULL && !ctl_issued(issuer, c.leaf)) {
		verdict = STAPLE_INVALID;
		c.why = "the issuer given did not issue the certificate";
	} else {
		verdict = staple_verify(der, len, &c);
	}
	if (verdict == STAPLE_INVALID)
		printf("invalid: %s\n", c.why);
	else
		printf("%s\n", staple_verdict_name(verdict));
	free(der);
	ossl.X509_free(issuer);
	ossl.X509_STORE_free(store);
	sk_X509_pop_free(certs, ossl.X509_free);
	return verdict == STAPLE_GOOD ? 0 : verdict == STAPLE_REVOKED ? 1 : 2;
}
