/*
 * accepted.c - a small table of accepted server certificates.
 */
#include <pthread.h>
#include <string.h>

#include "accepted.h"
#include "compat.h"
#include "log.h"

/* Direct-mapped: a collision only costs a full handshake instead of resumption. */
#define SLOTS 256
#define FP_LEN STAPLE_SHA1_LEN
#define LIFETIME 86400	/* longer than OpenSSL keeps a client session usable */

static struct {
	unsigned char fp[FP_LEN];
	time_t until;		/* 0: empty or rejected */
} table[SLOTS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

void
staple_accepted_set(X509 *leaf, int accepted, time_t now)
{
	unsigned char fp[FP_LEN];
	size_t i;

	if (!staple_x509_sha1(leaf, fp))
		return;
	i = staple_hash(STAPLE_HASH_INIT, fp, FP_LEN) % SLOTS;
	pthread_mutex_lock(&lock);
	if (accepted || memcmp(table[i].fp, fp, FP_LEN) == 0) {
		memcpy(table[i].fp, fp, FP_LEN);
		table[i].until = accepted ? now + LIFETIME : 0;
	}
	pthread_mutex_unlock(&lock);
}

int
staple_accepted(X509 *leaf, time_t now)
{
	unsigned char fp[FP_LEN];
	size_t i;
	int yes;

	if (!staple_x509_sha1(leaf, fp))
		return 0;
	i = staple_hash(STAPLE_HASH_INIT, fp, FP_LEN) % SLOTS;
	pthread_mutex_lock(&lock);
	yes = memcmp(table[i].fp, fp, FP_LEN) == 0 && now < table[i].until;
	pthread_mutex_unlock(&lock);
	return yes;
}

void
staple_accepted_fork_prepare(void)
{
	pthread_mutex_lock(&lock);
}

void
staple_accepted_fork_parent(void)
{
	pthread_mutex_unlock(&lock);
}

void
staple_accepted_fork_child(void)
{
	pthread_mutex_unlock(&lock);
}
