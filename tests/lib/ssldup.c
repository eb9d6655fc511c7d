/*
 * ssldup HOST PORT CAFILE: a TLS client that verifies the server on
 * 127.0.0.1:PORT (SNI name HOST) against CAFILE, then copies the connection
 * with SSL_dup and frees both copies. Written to the API every OpenSSL
 * version has (tests/legacy.bats builds it against 1.0.2k). Prints
 *
 *     handshake succeeded
 *     dup freed
 *
 * and exits 0; 1 when the handshake or SSL_dup failed, 2 on a usage or
 * connection error. A library that puts one pointer in both copies' ex_data
 * and frees it in both makes this crash in the second SSL_free.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

int
main(int argc, char **argv)
{
	struct sockaddr_in sin;
	SSL_CTX *ctx;
	SSL *s, *dup;
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: ssldup HOST PORT CAFILE\n");
		return 2;
	}
	SSL_library_init();
	ctx = SSL_CTX_new(SSLv23_client_method());
	if (ctx == NULL || SSL_CTX_load_verify_locations(ctx, argv[3], NULL) != 1) {
		fprintf(stderr, "ssldup: cannot load %s\n", argv[3]);
		return 2;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(atoi(argv[2]));
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		fprintf(stderr, "ssldup: cannot connect to port %s\n", argv[2]);
		return 2;
	}
	s = SSL_new(ctx);
	SSL_set_tlsext_host_name(s, argv[1]);
	SSL_set_fd(s, fd);
	if (SSL_connect(s) != 1) {
		puts("handshake failed");
		return 1;
	}
	puts("handshake succeeded");
	fflush(stdout);
	if ((dup = SSL_dup(s)) == NULL) {
		puts("SSL_dup failed");
		return 1;
	}
	SSL_free(dup);
	SSL_shutdown(s);
	SSL_free(s);
	close(fd);
	SSL_CTX_free(ctx);
	puts("dup freed");
	return 0;
}
