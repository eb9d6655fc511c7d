/*
 * register.c - write one entry of a register directory, safely and once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "register.h"

/*
 * Whether this process may write into the register `st`: any process where
 * the file system lets it, but one run by root or in secure execution only
 * into a directory that root owns and others cannot write. Its group may:
 * an operator grants one to servers that do not run as root (Dovecot's
 * login processes), and what a member could plant there buys nothing, for
 * nothing here goes through a name another may have made: a new entry is
 * an O_EXCL|O_NOFOLLOW temporary renamed into place, an old one is touched
 * without following a link, and nothing is read back. Entries are
 * untrusted input to the refresher, whoever wrote them.
 */
static int
staple_register_trusted(const struct stat *st)
{
	return (!staple_conf_secure() && geteuid() != 0) ||
	    (st->st_uid == 0 && !(st->st_mode & S_IWOTH));
}

/* Whether `name` is a plain name of the register itself, not a temporary's. */
static int
staple_register_name_ok(const char *name)
{
	size_t len = strlen(name);

	/* room for the temporary name: "." NAME "." PID ".tmp" */
	return len > 0 && len < NAME_MAX - 32 && name[0] != '.' &&
	    strchr(name, '/') == NULL;
}

/* Write all of `len` bytes to `fd`; 0 (errno set) when it could not. */
static int
staple_register_write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		if (n == 0) {
			errno = EIO;
			return 0;
		}
		p += n;
		len -= (size_t)n;
	}
	return 1;
}

/*
 * Create entry `name` in the register open as `dirfd`: written to the
 * temporary ".NAME.PID.tmp" (O_EXCL, O_NOFOLLOW: nothing planted there is
 * opened), then renamed over the name (a symbolic link planted meanwhile is
 * replaced, never followed). 0 with *reason when it could not be.
 */
static int
staple_register_create(int dirfd, const char *name, const void *text,
    size_t len, int *reason)
{
	char tmp[NAME_MAX + 1];
	struct rlimit fsize;
	int fd = -1, ok, err;

	/* a file size limit below the entry would kill the host (SIGXFSZ) */
	if (getrlimit(RLIMIT_FSIZE, &fsize) == 0 &&
	    fsize.rlim_cur != RLIM_INFINITY && fsize.rlim_cur < len) {
		*reason = EFBIG;
		return 0;
	}
	snprintf(tmp, sizeof(tmp), ".%s.%d.tmp", name, (int)getpid());
	for (int tries = 0; tries < 2 && fd < 0; tries++) {
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_NOCTTY | O_CLOEXEC, 0644);
		/* left by an earlier process of this PID that died writing it */
		if (fd < 0 && errno == EEXIST && tries == 0)
			unlinkat(dirfd, tmp, 0);
		else if (fd < 0)
			break;
	}
	if (fd < 0) {
		*reason = errno;
		return 0;
	}
	/* readable by staplectl whatever the host's umask */
	ok = staple_register_write_all(fd, text, len) && fchmod(fd, 0644) == 0;
	err = errno;
	if (close(fd) != 0 && ok) {
		ok = 0;
		err = errno;	/* a full disk may show only here (NFS) */
	}
	if (ok && renameat(dirfd, tmp, dirfd, name) == 0)
		return 1;
	*reason = ok ? errno : err;
	unlinkat(dirfd, tmp, 0);
	return 0;
}

/*
 * Entry `name` exists as `st`: leave it when it is younger than a day, else
 * set its mtime to now; written anew when this process may not change the
 * times of a file it does not own (a register its group may write).
 */
static int
staple_register_renew(int dirfd, const char *name, const struct stat *st,
    const void *text, size_t len, int *reason)
{
	if (!S_ISREG(st->st_mode)) {
		*reason = STAPLE_REGISTER_NOT_REGULAR;
		return STAPLE_REGISTER_FAILED;
	}
	if (time(NULL) - st->st_mtime < STAPLE_REGISTER_FRESH)
		return STAPLE_REGISTER_PRESENT;
	if (utimensat(dirfd, name, NULL, AT_SYMLINK_NOFOLLOW) == 0)
		return STAPLE_REGISTER_TOUCHED;
	if (errno != EPERM && errno != EACCES) {
		*reason = errno;
		return STAPLE_REGISTER_FAILED;
	}
	return staple_register_create(dirfd, name, text, len, reason) ?
	    STAPLE_REGISTER_TOUCHED : STAPLE_REGISTER_FAILED;
}

int
staple_register_put(const char *dir, const char *name, const void *text,
    size_t len, int *reason)
{
	int saved = errno, dirfd, ret = STAPLE_REGISTER_FAILED;
	struct stat st;

	*reason = 0;
	if (!staple_register_name_ok(name) || len > STAPLE_REGISTER_MAX) {
		*reason = STAPLE_REGISTER_BAD_NAME;
		return ret;
	}
	/* O_NOFOLLOW: a register replaced by a link leads nowhere */
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0) {
		*reason = errno;
		/* Linux says ENOTDIR for a link with O_DIRECTORY, else ELOOP */
		if ((errno == ELOOP || errno == ENOTDIR) &&
		    lstat(dir, &st) == 0 && S_ISLNK(st.st_mode))
			*reason = STAPLE_REGISTER_DIR_LINK;
		goto done;
	}
	if (fstat(dirfd, &st) != 0)
		*reason = errno;
	else if (!staple_register_trusted(&st))
		*reason = STAPLE_REGISTER_UNTRUSTED;
	else if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		ret = staple_register_renew(dirfd, name, &st, text, len, reason);
	else if (errno != ENOENT)
		*reason = errno;
	else if (staple_register_create(dirfd, name, text, len, reason))
		ret = STAPLE_REGISTER_WRITTEN;
	close(dirfd);
done:
	errno = saved;
	return ret;
}

const char *
staple_register_why(int reason)
{
	switch (reason) {
	case STAPLE_REGISTER_UNTRUSTED:
		return "not used: a privileged process writes only into a"
		    " register owned by root that others cannot write";
	case STAPLE_REGISTER_NOT_REGULAR:
		return "an entry's name is taken by something that is not a"
		    " regular file (a symbolic link?)";
	case STAPLE_REGISTER_DIR_LINK:
		return "a symbolic link, not a directory";
	case STAPLE_REGISTER_BAD_NAME:
		return "not a valid entry";
	default:
		return strerror(reason);
	}
}

/* The reasons already met: 0 marks a free slot. Lock-free, fork-safe. */
#define FIRST_SLOTS 32
static uint64_t first_met[FIRST_SLOTS];

int
staple_register_first(const char *dir, int reason)
{
	uint64_t key = staple_hash(STAPLE_HASH_INIT, dir, strlen(dir)), none;

	key = staple_hash(key, &reason, sizeof(reason)) | 1;
	for (int i = 0; i < FIRST_SLOTS; i++) {
		none = 0;
		if (__atomic_compare_exchange_n(&first_met[i], &none, key, 0,
		    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return 1;
		if (none == key)
			return 0;
	}
	return 0;	/* a storm of distinct reasons: say no more */
}

void
staple_register_program(char *buf, size_t size)
{
	char exe[PATH_MAX], *base = exe, *cut;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n > 0) {
		exe[n] = '\0';
		if ((cut = strrchr(exe, '/')) != NULL)
			base = cut + 1;
		/* a binary replaced since it started (a package upgrade) */
		if ((cut = strstr(base, " (deleted)")) != NULL && cut[10] == '\0')
			*cut = '\0';
	} else {
		base = program_invocation_short_name;
	}
	if (snprintf(buf, size, "%s", base) >= (int)size)
		buf[size - 1] = '\0';	/* longer than a file name: cut */
	for (char *p = buf; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}
