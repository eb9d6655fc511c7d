/*
 * suid_client HOST PORT CAFILE: a plain TLS client, installed setuid (or
 * setgid, or with a file capability) by tests/systemwide.bats. It connects
 * to 127.0.0.1:PORT with SNI name HOST, verifies the server against CAFILE
 * (SSL_VERIFY_PEER: it authenticates the server, so libstaple enforces) and
 * prints
 *
 *     ruid=R euid=E rgid=G egid=F secure=S
 *     handshake succeeded            (or: handshake failed)
 *
 * where S is getauxval(AT_SECURE): 1 in a secure-execution process. Exit
 * status 0 when the handshake succeeded, 1 when it failed, 2 on a usage or
 * connection error. It sets no status callback and asks for no staple of its
 * own: whatever OCSP happens is libstaple's.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

int
main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	SSL_CTX *ctx;
	SSL *s;
	int fd, ok;

	if (argc != 4) {
		fprintf(stderr, "usage: suid_client HOST PORT CAFILE\n");
		return 2;
	}
	printf("ruid=%d euid=%d rgid=%d egid=%d secure=%lu\n", (int)getuid(),
	    (int)geteuid(), (int)getgid(), (int)getegid(), getauxval(AT_SECURE));
	fflush(stdout);
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL || SSL_CTX_load_verify_locations(ctx, argv[3], NULL) != 1) {
		fprintf(stderr, "suid_client: cannot load %s\n", argv[3]);
		return 2;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);

	sin.sin_port = htons(atoi(argv[2]));
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		fprintf(stderr, "suid_client: cannot connect to port %s\n", argv[2]);
		return 2;
	}
	s = SSL_new(ctx);
	SSL_set_tlsext_host_name(s, argv[1]);
	SSL_set1_host(s, argv[1]);
	SSL_set_fd(s, fd);
	ok = SSL_connect(s) == 1;
	printf("handshake %s\n", ok ? "succeeded" : "failed");
	if (ok)
		SSL_shutdown(s);
	SSL_free(s);
	close(fd);
	SSL_CTX_free(ctx);
	return ok ? 0 : 1;
}
