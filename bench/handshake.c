/*
 * handshake - count full TLS handshakes per second against one server.
 *
 *   handshake PORT SNI CAFILE SECONDS|COUNTx [tls1.2|tls1.3] [status]
 *
 * Connects to 127.0.0.1:PORT again and again for SECONDS (or COUNT times,
 * written with an x: "1000x"), each time a new
 * session (no resumption), verifying the chain against CAFILE; with
 * "status" it asks for a staple itself (without checking it). Prints
 * "RATE STAPLED FAILED": handshakes per second, how many of them carried a
 * staple, and how many failed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One full handshake; 1 with a staple, 0 without, -1 failed. */
static int
handshake(SSL_CTX *ctx, const struct sockaddr_in *sin, const char *sni,
    int status)
{
	const unsigned char *resp = NULL;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1, ret = -1;
	SSL *s;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)sin, sizeof(*sin)) != 0) {
		close(fd);
		return -1;
	}
	s = SSL_new(ctx);
	SSL_set_tlsext_host_name(s, sni);
	if (status)
		SSL_set_tlsext_status_type(s, TLSEXT_STATUSTYPE_ocsp);
	SSL_set_fd(s, fd);
	if (SSL_connect(s) == 1)
		ret = SSL_get_tlsext_status_ocsp_resp(s, &resp) > 0;
	SSL_free(s);
	close(fd);
	return ret;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	long done = 0, stapled = 0, failed = 0, count = 0;
	char *end;
	int status = 0, version = 0, r;
	double start, seconds;
	SSL_CTX *ctx;

	if (argc < 5) {
		fprintf(stderr, "usage: handshake PORT SNI CAFILE SECONDS"
		    " [tls1.2|tls1.3] [status]\n");
		return 2;
	}
	for (int i = 5; i < argc; i++) {
		if (strcmp(argv[i], "status") == 0)
			status = 1;
		else if (strcmp(argv[i], "tls1.2") == 0)
			version = TLS1_2_VERSION;
		else if (strcmp(argv[i], "tls1.3") == 0)
			version = TLS1_3_VERSION;
	}
	sin.sin_port = htons(atoi(argv[1]));
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	seconds = strtod(argv[4], &end);
	if (*end == 'x') {
		count = (long)seconds;
		seconds = 1e9;
	}
	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_load_verify_locations(ctx, argv[3], NULL);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (version) {
		SSL_CTX_set_min_proto_version(ctx, version);
		SSL_CTX_set_max_proto_version(ctx, version);
	}
	start = now();
	while (now() - start < seconds && (count == 0 || done < count)) {
		r = handshake(ctx, &sin, argv[2], status);
		done++;
		stapled += r > 0;
		failed += r < 0;
	}
	printf("%.1f %ld %ld\n", done / (now() - start), stapled, failed);
	SSL_CTX_free(ctx);
	return failed == done;
}
