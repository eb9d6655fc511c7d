/*
 * crlindex INDEX SERIAL COUNT: a lookup in the serial index that
 * `staplectl crl refresh` writes beside each verified CRL (.NAME.index,
 * preload/crl.h's format), mapped read-only as a process would map it:
 * open, mmap, staple_crl_index_check (every slot), the first lookup, then
 * COUNT more. SERIAL: hex. Prints "FIRST_MS LATER_US VERDICT RSS_BYTES
 * PSS_BYTES": the mapping is the page cache's, shared by every process.
 * CRLINDEX_NOCHECK=1: without staple_crl_index_check, to show what the
 * whole-table check costs (a mapping the library trusts would not pay it).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../preload/crl.h"

static double
now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static long long
proc_kb(const char *file, const char *field)
{
	char line[256];
	long long kb = -1;
	FILE *f = fopen(file, "r");
	size_t n = strlen(field);

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			kb = atoll(line + n + 1);
	if (f != NULL)
		fclose(f);
	return kb * 1024;
}

int
main(int argc, char **argv)
{
	unsigned char serial[64];
	double t0 = now_s(), t1, t2;
	const struct staple_crl_index *ix;
	size_t len;
	struct stat st;
	time_t when;
	long count;
	int fd, reason, found;

	if (argc != 4 || (len = strlen(argv[2]) / 2) == 0 || len > sizeof(serial))
		return fprintf(stderr, "usage: crlindex INDEX SERIAL COUNT\n"), 2;
	for (size_t i = 0; i < len; i++)
		sscanf(argv[2] + 2 * i, "%2hhx", &serial[i]);
	count = atol(argv[3]);
	if ((fd = open(argv[1], O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0 ||
	    (ix = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED)
		return fprintf(stderr, "crlindex: cannot map %s\n", argv[1]), 1;
	close(fd);
	if (getenv("CRLINDEX_NOCHECK") == NULL &&
	    !staple_crl_index_check(ix, st.st_size))
		return fprintf(stderr, "crlindex: %s: not an index\n", argv[1]), 1;
	found = staple_crl_index_find(ix, serial, len, &when, &reason);
	t1 = now_s();
	for (long i = 0; i < count; i++)
		staple_crl_index_find(ix, serial, len, &when, &reason);
	t2 = now_s();
	printf("%.2f %.3f %s %lld %lld\n", (t1 - t0) * 1e3,
	    count ? (t2 - t1) * 1e6 / count : 0, found ? "revoked" : "clear",
	    proc_kb("/proc/self/smaps_rollup", "Rss"),
	    proc_kb("/proc/self/smaps_rollup", "Pss"));
	return 0;
}
