/*
 * main.c - staplectl, the operator's front end to libstaple's own code:
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
 *   staplectl index [--dir DIR]
 *   staplectl crl refresh [--dir DIR] [--timeout SECONDS] [--max-size BYTES]
 *                         [--CAfile FILE] [--json] [SOURCE ...]
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../preload/config.h"
#include "../preload/log.h"
#include "../preload/ossl.h"
#include "../preload/staple.h"
#include "check.h"
#include "crl.h"
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
	    "       staplectl index [--dir DIR]\n"
	    "       staplectl crl refresh [--dir DIR] [--timeout SECONDS] [--max-size BYTES]\n"
	    "                 [--CAfile FILE] [--json] [SOURCE ...]\n"
	    "       staplectl check [--library FILE] [--user NAME] [--json] PROGRAM|PID\n"
	    "       staplectl enable [--root DIR] [--library FILE] SERVICE\n"
	    "       staplectl disable [--root DIR] SERVICE\n"
	    "       staplectl --version\n");
	exit(3);
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
	if (strcmp(argv[1], "index") == 0)
		return ctl_index(argc - 1, argv + 1);
	if (strcmp(argv[1], "metrics") == 0)
		return ctl_metrics(argc - 1, argv + 1);
	if (strcmp(argv[1], "crl") == 0)
		return ctl_crl(argc - 1, argv + 1);
	usage();
	return 3;
}
