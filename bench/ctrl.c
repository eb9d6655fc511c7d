/*
 * ctrl - what one interposed call costs: COUNT calls of
 * SSL_ctrl(s, SSL_CTRL_MODE, 0, NULL) (SSL_get_mode), a command libstaple
 * does nothing with, on one connection object.
 *
 *   ctrl COUNT [RUNS]
 *
 * Prints nanoseconds per call, the fastest of RUNS (default 7) runs of
 * COUNT calls (a busy machine only adds time). No OpenSSL header: bench/run links it to the
 * system's libssl and to a stand-in that reports a version libstaple does
 * not serve.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
const void *TLS_method(void);
SSL_CTX *SSL_CTX_new(const void *method);
SSL *SSL_new(SSL_CTX *ctx);
long SSL_ctrl(SSL *s, int cmd, long larg, void *parg);

#define CTRL_MODE 33		/* SSL_CTRL_MODE */

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	long count = argc >= 2 ? atol(argv[1]) : 0, i, sum = 0;
	int runs = argc >= 3 ? atoi(argv[2]) : 7;
	double best = 0, t;
	SSL_CTX *ctx;
	SSL *s;
	int run;

	if (count <= 0 || runs <= 0 || argc > 3) {
		fprintf(stderr, "usage: ctrl COUNT [RUNS]\n");
		return 2;
	}
	if ((ctx = SSL_CTX_new(TLS_method())) == NULL || (s = SSL_new(ctx)) == NULL) {
		fprintf(stderr, "ctrl: no SSL object\n");
		return 1;
	}
	for (run = 0; run < runs; run++) {
		t = now();
		for (i = 0; i < count; i++)
			sum += SSL_ctrl(s, CTRL_MODE, 0, NULL);
		t = now() - t;
		if (run == 0 || t < best)
			best = t;
	}
	printf("%.2f\n", best * 1e9 / count + (sum == -1 ? 1 : 0));
	return 0;
}
