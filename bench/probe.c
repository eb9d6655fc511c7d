/*
 * probe - ask a server for a staple, fast enough to time a start or a
 * reload to the millisecond (openssl s_client costs most of a second under
 * load).
 *
 *   probe PORT SNI CAFILE once        one request; prints "WORKER STATUS"
 *   probe PORT SNI CAFILE until STATUS [SECONDS]
 *                                     requests until the staple's status is
 *                                     STATUS; prints the seconds it took
 *
 * Each request is a new connection: a full handshake asking for a staple,
 * then "GET / HTTP/1.0"; WORKER is what the body says after "worker="
 * (bench/scale's nginx answers with its $pid), STATUS the staple's first
 * certificate status (good, revoked, unknown), "none" without a staple, or
 * "failed". `until` exits 1 after SECONDS (default 60).
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

#include <openssl/ocsp.h>
#include <openssl/ssl.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The status of the first SingleResponse of the DER response, or "none". */
static const char *
status_of(const unsigned char *der, long len)
{
	OCSP_RESPONSE *r = d2i_OCSP_RESPONSE(NULL, &der, len);
	OCSP_BASICRESP *bs = r ? OCSP_response_get1_basic(r) : NULL;
	OCSP_SINGLERESP *one = bs ? OCSP_resp_get0(bs, 0) : NULL;
	int st = one ? OCSP_single_get0_status(one, NULL, NULL, NULL, NULL) : -1;

	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(r);
	return st < 0 ? "none" : OCSP_cert_status_str(st);
}

/* One request: the worker in `worker`, the staple's status returned. */
static const char *
request(SSL_CTX *ctx, const struct sockaddr_in *sin, const char *sni,
    char *worker, size_t size)
{
	static const char get[] = "GET / HTTP/1.0\r\n\r\n";
	const unsigned char *resp = NULL;
	const char *status = "failed", *w;
	char body[4096];
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1, n, got = 0;
	long len;
	SSL *s;

	snprintf(worker, size, "-");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)sin, sizeof(*sin)) != 0) {
		close(fd);
		return status;
	}
	s = SSL_new(ctx);
	SSL_set_tlsext_host_name(s, sni);
	SSL_set_tlsext_status_type(s, TLSEXT_STATUSTYPE_ocsp);
	SSL_set_fd(s, fd);
	if (SSL_connect(s) == 1) {
		len = SSL_get_tlsext_status_ocsp_resp(s, &resp);
		status = resp != NULL && len > 0 ? status_of(resp, len) : "none";
		SSL_write(s, get, sizeof(get) - 1);
		while (got < (int)sizeof(body) - 1 &&
		    (n = SSL_read(s, body + got, sizeof(body) - 1 - got)) > 0)
			got += n;
		body[got] = '\0';
		if ((w = strstr(body, "worker=")) != NULL)
			snprintf(worker, size, "%.*s", (int)strspn(w + 7,
			    "0123456789"), w + 7);
	}
	SSL_free(s);
	close(fd);
	return status;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin;
	double start = now(), limit;
	const char *status;
	char worker[32];
	SSL_CTX *ctx;

	if (argc < 5 || (strcmp(argv[4], "once") != 0 &&
	    (strcmp(argv[4], "until") != 0 || argc < 6))) {
		fprintf(stderr, "usage: probe PORT SNI CAFILE once|until STATUS [SECONDS]\n");
		return 2;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)atoi(argv[1]));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_load_verify_locations(ctx, argv[3], NULL);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (strcmp(argv[4], "once") == 0) {
		status = request(ctx, &sin, argv[2], worker, sizeof(worker));
		printf("%s %s\n", worker, status);
		return 0;
	}
	limit = argc > 6 ? atof(argv[6]) : 60;
	for (;;) {
		status = request(ctx, &sin, argv[2], worker, sizeof(worker));
		if (strcmp(status, argv[5]) == 0)
			break;
		if (now() - start > limit)
			return 1;
		usleep(2000);
	}
	printf("%.3f\n", now() - start);
	SSL_CTX_free(ctx);
	return 0;
}
