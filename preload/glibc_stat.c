/*
 * glibc_stat.c - stat, fstat, fstatat and lstat on top of glibc's old
 * entry points (__xstat & co.), so that a build on glibc 2.33+ still loads
 * on glibc 2.17 (see glibc_floor.h). Until 2.33 these four were wrappers in
 * libc_nonshared.a, linked into each program, around __xstat, __fxstat,
 * __fxstatat and __lxstat, which take the layout of struct stat as a
 * leading version argument; 2.33 made them real functions at a new symbol
 * version and still exports the old entry points. These definitions are
 * hidden: they serve this library's (or staplectl's) own calls only.
 *
 * _STAT_VER, the layout of the struct stat of <sys/stat.h>, is no longer
 * in 2.33's headers; the values are those of glibc 2.31's bits/stat.h:
 * 1 on x86-64, 0 on aarch64, 3 on i386.
 */
#include <sys/stat.h>

#include "glibc_floor.h"

/* Before 2.33 the headers make these calls themselves. */
#if defined(STAPLE_GLIBC_OLD) && __GLIBC_PREREQ(2, 33)
#if defined(__x86_64__)
#define STAPLE_STAT_VER 1
#elif defined(__aarch64__)
#define STAPLE_STAT_VER 0
#elif defined(__i386__)
#define STAPLE_STAT_VER 3
#endif

/* With large-file or 64-bit time types on i386, struct stat is another
 * layout (__xstat64); only the default one is bound there. */
#if defined(__i386__) && (defined(__USE_FILE_OFFSET64) || defined(__USE_TIME_BITS64))
#undef STAPLE_STAT_VER
#endif
#endif

#ifdef STAPLE_STAT_VER
#define HIDDEN __attribute__((visibility("hidden")))

int __xstat(int ver, const char *path, struct stat *st);
int __lxstat(int ver, const char *path, struct stat *st);
int __fxstat(int ver, int fd, struct stat *st);
int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags);

/* stat(2) through __xstat. */
HIDDEN int
stat(const char *path, struct stat *st)
{
	return __xstat(STAPLE_STAT_VER, path, st);
}

/* lstat(2) through __lxstat. */
HIDDEN int
lstat(const char *path, struct stat *st)
{
	return __lxstat(STAPLE_STAT_VER, path, st);
}

/* fstat(2) through __fxstat. */
HIDDEN int
fstat(int fd, struct stat *st)
{
	return __fxstat(STAPLE_STAT_VER, fd, st);
}

/* fstatat(2) through __fxstatat. */
HIDDEN int
fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	return __fxstatat(STAPLE_STAT_VER, dirfd, path, st, flags);
}
#endif
