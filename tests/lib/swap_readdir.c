/*
 * swap_readdir.so: an LD_PRELOAD shim (loaded before libstaple) that wins
 * the race between readdir() and open() on purpose, for
 * tests/server-hardening.bats. When readdir() returns the entry named
 * $SWAP_NAME as a regular file, the shim renames $SWAP_FROM over
 * $SWAP_TO (that entry's path) before returning it, once per process: the
 * caller then opens whatever was swapped in (a FIFO, a symbolic link).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int swapped;

static void
swap(const char *name, unsigned char type)
{
	const char *want = getenv("SWAP_NAME"), *from = getenv("SWAP_FROM"),
	    *to = getenv("SWAP_TO");

	if (swapped || want == NULL || from == NULL || to == NULL ||
	    type != DT_REG || strcmp(name, want) != 0)
		return;
	swapped = 1;
	if (rename(from, to) != 0)
		perror("swap_readdir: rename");
}

struct dirent *
readdir(DIR *d)
{
	static struct dirent *(*next)(DIR *);
	struct dirent *e;

	if (next == NULL)
		next = (struct dirent *(*)(DIR *))dlsym(RTLD_NEXT, "readdir");
	if ((e = next(d)) != NULL)
		swap(e->d_name, e->d_type);
	return e;
}

struct dirent64 *
readdir64(DIR *d)
{
	static struct dirent64 *(*next)(DIR *);
	struct dirent64 *e;

	if (next == NULL)
		next = (struct dirent64 *(*)(DIR *))dlsym(RTLD_NEXT, "readdir64");
	if ((e = next(d)) != NULL)
		swap(e->d_name, e->d_type);
	return e;
}
