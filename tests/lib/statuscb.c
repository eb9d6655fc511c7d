/*
 * statuscb HOST PORT CAFILE VERDICT: a TLS client with its own OCSP status
 * callback, which prints "own callback ran" and returns VERDICT (0 rejects,
 * 1 accepts). Exit status 0 when the handshake succeeded, 1 otherwise.
 *
 * It shows that under libstaple a program's own callback still runs after
 * libstaple accepts, that its verdict stands, and that
 * SSL_CTX_get_tlsext_status_cb returns the program's own callback.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static int verdict;

static int
own_status_cb(SSL *s, void *arg)
{
	(void)s;
	(void)arg;
	printf("own callback ran\n");
	fflush(stdout);
	return verdict;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int (*cb)(SSL *, void *) = NULL;
	SSL_CTX *ctx;
	SSL *s;
	int fd, ok;

	if (argc != 5)
		return 2;
	verdict = atoi(argv[4]);
	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_load_verify_locations(ctx, argv[3], NULL);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_tlsext_status_type(ctx, TLSEXT_STATUSTYPE_ocsp);
	SSL_CTX_set_tlsext_status_cb(ctx, own_status_cb);
	SSL_CTX_get_tlsext_status_cb(ctx, &cb);
	printf("get_status_cb returns %s\n", cb == own_status_cb ? "own" : "other");

	sin.sin_port = htons(atoi(argv[2]));
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0)
		return 2;
	s = SSL_new(ctx);
	SSL_set_tlsext_host_name(s, argv[1]);
	SSL_set_fd(s, fd);
	ok = SSL_connect(s) == 1;
	printf("handshake %s\n", ok ? "succeeded" : "failed");
	SSL_free(s);
	close(fd);
	SSL_CTX_free(ctx);
	return ok ? 0 : 1;
}
