/*
 * crlindex - write the index file of a CRL as the refresher does
 * (staple_crl_sidecar_write, preload/crlindex.h), for the tests and the
 * benchmark until staplectl crl refresh writes them itself.
 *
 *   crlindex CRLDIR NAME ISSUER.pem
 *
 * Exit 0 when written; else one line on stderr, exit 1.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../preload/config.h"
#include "../../preload/crlindex.h"
#include "../../preload/ossl.h"

int
main(int argc, char **argv)
{
	const char *why = NULL;
	X509 *issuer;
	FILE *f;
	int dirfd;

	if (argc != 4) {
		fprintf(stderr, "usage: crlindex CRLDIR NAME ISSUER.pem\n");
		return 2;
	}
	setenv("LIBSTAPLE_LOG", "stderr", 1);
	staple_conf_env();
	staple_conf_load();
	if (!staple_ossl_resolve((const void *)main))
		return 1;
	if ((f = fopen(argv[3], "r")) == NULL ||
	    (issuer = PEM_read_X509(f, NULL, NULL, NULL)) == NULL) {
		fprintf(stderr, "crlindex: cannot read %s\n", argv[3]);
		return 1;
	}
	fclose(f);
	if ((dirfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    !staple_crl_sidecar_write(dirfd, argv[2], issuer, &why)) {
		fprintf(stderr, "crlindex: %s: %s\n", argv[2], why ? why : "cannot open");
		return 1;
	}
	close(dirfd);
	return 0;
}
