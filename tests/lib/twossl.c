/*
 * twossl.c - two OpenSSL libraries in one process, for tests/legacy.bats.
 *
 * Built twice. As the program (tests/.work/twossl, linked to the system's
 * libssl):
 *
 *     twossl main-first|plugin-first PLUGIN CERT KEY CAFILE NAME
 *     twossl swap PLUGIN PLUGIN2 CERT KEY CAFILE NAME
 *
 * dlopen()s PLUGIN (this file built with -DTWOSSL_PLUGIN, linked to another
 * libssl), and each side, the program's first or the plug-in's first, does
 * one TLS handshake with itself over a socket pair: a server with CERT (its
 * chain) and KEY, and a client that verifies it against CAFILE as NAME. Each
 * side prints one line,
 *
 *     main (3.0): handshake succeeded, stapled
 *     plugin (1.1): handshake succeeded, not stapled
 *
 * (its libssl's major.minor version; whether its client got a staple, which
 * it did not ask for: only libstaple asks), or "handshake failed". Exit
 * status 0 when both handshakes succeeded, 1 when one failed, 2 on a usage
 * or setup error.
 *
 * No OpenSSL header: the few functions it calls have the same calling
 * convention in 1.1.1 and 3.x, so the plug-in builds against any libssl
 * file without its headers.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

const void *TLS_method(void);
SSL_CTX *SSL_CTX_new(const void *method);
void SSL_CTX_free(SSL_CTX *ctx);
int SSL_CTX_use_certificate_chain_file(SSL_CTX *ctx, const char *file);
int SSL_CTX_use_PrivateKey_file(SSL_CTX *ctx, const char *file, int type);
int SSL_CTX_load_verify_locations(SSL_CTX *ctx, const char *file, const char *dir);
void SSL_CTX_set_verify(SSL_CTX *ctx, int mode, void *cb);
SSL *SSL_new(SSL_CTX *ctx);
void SSL_free(SSL *s);
int SSL_set_fd(SSL *s, int fd);
void SSL_set_connect_state(SSL *s);
void SSL_set_accept_state(SSL *s);
int SSL_do_handshake(SSL *s);
int SSL_get_error(const SSL *s, int ret);
long SSL_ctrl(SSL *s, int cmd, long larg, void *parg);
int SSL_set1_host(SSL *s, const char *name);
unsigned long OpenSSL_version_num(void);

#define PEM 1			/* SSL_FILETYPE_PEM */
#define VERIFY_PEER 1		/* SSL_VERIFY_PEER */
#define WANT_READ 2		/* SSL_ERROR_WANT_READ */
#define WANT_WRITE 3		/* SSL_ERROR_WANT_WRITE */
#define SET_HOSTNAME 55		/* SSL_CTRL_SET_TLSEXT_HOSTNAME */
#define GET_OCSP_RESP 70	/* SSL_CTRL_GET_TLSEXT_STATUS_REQ_OCSP_RESP */

/* One handshake step of `s`: 1 done, 0 to be continued, -1 failed. */
static int
twossl_step(SSL *s, int *done)
{
	int rc, err;

	if (*done)
		return 1;
	if ((rc = SSL_do_handshake(s)) == 1)
		return *done = 1;
	err = SSL_get_error(s, rc);
	return err == WANT_READ || err == WANT_WRITE ? 0 : -1;
}

/* Both ends of one handshake, in turn, until both are done: whether they are. */
static int
twossl_shake(SSL *client, SSL *server, int fds[2])
{
	struct pollfd p[2] = { { fds[0], POLLIN, 0 }, { fds[1], POLLIN, 0 } };
	int c = 0, s = 0, rc, i;

	for (i = 0; i < 1000; i++) {
		if ((rc = twossl_step(client, &c)) < 0 ||
		    (rc = twossl_step(server, &s)) < 0)
			return 0;
		if (c && s)
			return 1;
		poll(p, 2, 10);
	}
	return 0;
}

/* One side's handshake, and its line; 1 when it succeeded, -1 on setup errors. */
static int
twossl_run(const char *who, const char *cert, const char *key,
    const char *ca, const char *name)
{
	SSL_CTX *sctx = SSL_CTX_new(TLS_method()), *cctx = SSL_CTX_new(TLS_method());
	SSL *server = NULL, *client = NULL;
	unsigned char *resp = NULL;
	unsigned long v = OpenSSL_version_num();
	int fds[2] = { -1, -1 }, ok = -1;
	long len = -1;

	if (sctx == NULL || cctx == NULL ||
	    SSL_CTX_use_certificate_chain_file(sctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(sctx, key, PEM) != 1 ||
	    SSL_CTX_load_verify_locations(cctx, ca, NULL) != 1 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0 ||
	    fcntl(fds[0], F_SETFL, O_NONBLOCK) != 0 ||
	    fcntl(fds[1], F_SETFL, O_NONBLOCK) != 0 ||
	    (server = SSL_new(sctx)) == NULL || (client = SSL_new(cctx)) == NULL) {
		fprintf(stderr, "%s: setup failed\n", who);
		goto out;
	}
	SSL_CTX_set_verify(cctx, VERIFY_PEER, NULL);
	SSL_set_fd(server, fds[1]);
	SSL_set_accept_state(server);
	SSL_set_fd(client, fds[0]);
	SSL_ctrl(client, SET_HOSTNAME, 0, (void *)name);
	SSL_set1_host(client, name);
	SSL_set_connect_state(client);
	ok = twossl_shake(client, server, fds);
	if (ok)
		len = SSL_ctrl(client, GET_OCSP_RESP, 0, &resp);
	printf("%s (%lu.%lu): handshake %s%s\n", who, v >> 28, (v >> 20) & 0xff,
	    ok ? "succeeded" : "failed",
	    !ok ? "" : len > 0 && resp != NULL ? ", stapled" : ", not stapled");
	fflush(stdout);
 out:
	SSL_free(client);
	SSL_free(server);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	return ok;
}

#ifdef TWOSSL_PLUGIN
__attribute__((visibility("default"))) int
twossl_plugin(const char *cert, const char *key, const char *ca,
    const char *name)
{
	return twossl_run("plugin", cert, key, ca, name);
}
#else
typedef int (*twossl_plugin_fn)(const char *, const char *, const char *,
    const char *);

/*
 * swap A B: A's handshakes, A unloaded, then B's: a plug-in unloaded and
 * another loaded in its place. Prints whether B took A's address.
 */
static int
twossl_swap(char **argv)
{
	twossl_plugin_fn plugin;
	const void *base = NULL;
	Dl_info info;
	int rc[2], i;
	void *h;

	for (i = 0; i < 2; i++) {
		if ((h = dlopen(argv[2 + i], RTLD_NOW | RTLD_LOCAL)) == NULL ||
		    (*(void **)&plugin = dlsym(h, "twossl_plugin")) == NULL ||
		    !dladdr(*(void **)&plugin, &info)) {
			fprintf(stderr, "twossl: %s\n", dlerror());
			return 2;
		}
		if (i == 1)
			printf("%s address\n", info.dli_fbase == base ?
			    "same" : "another");
		base = info.dli_fbase;
		if ((rc[i] = plugin(argv[4], argv[5], argv[6], argv[7])) < 0)
			return 2;
		dlclose(h);
	}
	return rc[0] && rc[1] ? 0 : 1;
}

int
main(int argc, char **argv)
{
	twossl_plugin_fn plugin;
	int first, second, plugin_first;
	void *h;

	if (argc == 8 && strcmp(argv[1], "swap") == 0)
		return twossl_swap(argv);
	if (argc != 7 || (strcmp(argv[1], "main-first") != 0 &&
	    strcmp(argv[1], "plugin-first") != 0)) {
		fprintf(stderr, "usage: twossl main-first|plugin-first PLUGIN"
		    " CERT KEY CAFILE NAME\n"
		    "       twossl swap PLUGIN PLUGIN2 CERT KEY CAFILE NAME\n");
		return 2;
	}
	plugin_first = strcmp(argv[1], "plugin-first") == 0;
	if ((h = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL)) == NULL ||
	    (*(void **)&plugin = dlsym(h, "twossl_plugin")) == NULL) {
		fprintf(stderr, "twossl: %s\n", dlerror());
		return 2;
	}
	if (plugin_first) {
		first = plugin(argv[3], argv[4], argv[5], argv[6]);
		second = twossl_run("main", argv[3], argv[4], argv[5], argv[6]);
	} else {
		first = twossl_run("main", argv[3], argv[4], argv[5], argv[6]);
		second = plugin(argv[3], argv[4], argv[5], argv[6]);
	}
	if (first < 0 || second < 0)
		return 2;
	return first && second ? 0 : 1;
}
#endif
