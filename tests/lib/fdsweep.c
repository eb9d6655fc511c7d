/*
 * fdsweep PORT CHAIN KEY DIR: a TLS server that daemonises the way many
 * do, for tests/server-descriptors.bats. It
 *
 *   1. loads CHAIN (the certificate, then its issuers) and KEY and serves one handshake on 127.0.0.1:PORT
 *      (a connection that does not complete one, such as a port probe, does
 *      not count);
 *   2. closes every descriptor from 3 up (closefrom(3));
 *   3. opens DIR/file.3, DIR/file.4 ... until one gets descriptor 40: its
 *      own files now hold every number a library might have kept;
 *   4. listens on PORT again and serves one more handshake;
 *   5. writes to and reads back each of its files through its descriptor.
 *
 * It prints "serving" before each handshake, then "files intact", or for
 * each file that is not: "fd N: closed behind our back" or "fd N: not our
 * file". Exit status 0 when every file is intact, 1 when not, 2 on an error
 * of its own.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/ssl.h>

#define LAST_FD 40

static int
listen_on(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd, one = 1;

	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(fd, 8) != 0) {
		perror("listen");
		exit(2);
	}
	return fd;
}

/* Serve connections on `lfd` until one completes a handshake. */
static void
serve_one(SSL_CTX *ctx, int lfd)
{
	static const char reply[] = "HTTP/1.0 200 OK\r\n\r\nok\n";
	char buf[1024];
	SSL *s;
	int c, done = 0;

	printf("serving\n");
	fflush(stdout);
	while (!done) {
		if ((c = accept(lfd, NULL, NULL)) < 0) {
			perror("accept");
			exit(2);
		}
		if ((s = SSL_new(ctx)) == NULL) {
			exit(2);
		}
		SSL_set_fd(s, c);
		if (SSL_accept(s) == 1) {
			done = 1;
			(void)SSL_read(s, buf, sizeof(buf));
			(void)SSL_write(s, reply, sizeof(reply) - 1);
			SSL_shutdown(s);
		}
		SSL_free(s);
		close(c);
	}
}

int
main(int argc, char **argv)
{
	char path[4096], line[4096], back[64];
	struct stat st[LAST_FD + 1];
	int port, fd, lfd, bad = 0;
	SSL_CTX *ctx;

	if (argc != 5) {
		fprintf(stderr, "usage: fdsweep PORT CHAIN KEY DIR\n");
		return 2;
	}
	port = atoi(argv[1]);
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_use_certificate_chain_file(ctx, argv[2]) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, argv[3], SSL_FILETYPE_PEM) != 1) {
		fprintf(stderr, "cannot set up the server\n");
		return 2;
	}
	lfd = listen_on(port);
	serve_one(ctx, lfd);

	/* the daemonising sweep */
	for (fd = 3; fd < 1024; fd++)
		close(fd);
	do {
		snprintf(path, sizeof(path), "%s/file.new", argv[4]);
		if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) < 0) {
			perror(path);
			return 2;
		}
		snprintf(line, sizeof(line), "%s/file.%d", argv[4], fd);
		if (rename(path, line) != 0 || fstat(fd, &st[fd]) != 0) {
			perror(line);
			return 2;
		}
	} while (fd < LAST_FD);

	lfd = listen_on(port);
	serve_one(ctx, lfd);

	for (fd = 3; fd <= LAST_FD; fd++) {
		struct stat now;
		ssize_t n;

		if (fstat(fd, &now) != 0) {
			printf("fd %d: closed behind our back\n", fd);
			bad = 1;
			continue;
		}
		if (now.st_dev != st[fd].st_dev || now.st_ino != st[fd].st_ino) {
			printf("fd %d: not our file\n", fd);
			bad = 1;
			continue;
		}
		n = snprintf(line, sizeof(line), "file %d\n", fd);
		if (pwrite(fd, line, (size_t)n, 0) != n ||
		    pread(fd, back, sizeof(back), 0) != n ||
		    memcmp(line, back, (size_t)n) != 0) {
			printf("fd %d: write or read back failed\n", fd);
			bad = 1;
		}
	}
	if (!bad)
		printf("files intact\n");
	SSL_CTX_free(ctx);
	return bad;
}
