/*
 * log.c - logging for a library that lives in other people's processes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

enum staple_dest { DEST_STDERR, DEST_SYSLOG, DEST_NONE, DEST_FILE };

static int log_dest = DEST_STDERR;
static int log_level = STAPLE_WARN;
static char log_path[PATH_MAX];

/*
 * The once-per-interval table: 4-way sets, so that a few conditions that
 * hash alike do not evict each other; a full set evicts its oldest.
 */
#define ONCE_SLOTS 1024
#define ONCE_WAYS 4
static struct {
	uint64_t key;
	time_t last;
} once_table[ONCE_SLOTS];
static pthread_mutex_t once_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

int
staple_log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcasecmp(name, level_names[i]) == 0)
			return (int)i;
	if (strcasecmp(name, "warning") == 0)
		return STAPLE_WARN;
	return -1;
}

void
staple_log_configure(const char *dest, int level)
{
	if (level >= STAPLE_ERROR && level <= STAPLE_DEBUG)
		log_level = level;
	if (dest == NULL || *dest == '\0')
		return;
	if (strcmp(dest, "stderr") == 0)
		log_dest = DEST_STDERR;
	else if (strcmp(dest, "syslog") == 0)
		log_dest = DEST_SYSLOG;
	else if (strcmp(dest, "none") == 0)
		log_dest = DEST_NONE;
	else if (snprintf(log_path, sizeof(log_path), "%s", dest) <
	    (int)sizeof(log_path))
		log_dest = DEST_FILE;
}

int
staple_log_enabled(int level)
{
	return level <= log_level && log_dest != DEST_NONE;
}

/*
 * Send one line to the syslog socket on a socket of its own, closed after:
 * syslog(3)'s kept socket is a number a daemonising program may close and
 * reuse for its own file or connection, which syslog(3) then writes to or
 * closes. 0 when the socket cannot be reached (a chroot without it); a
 * line a reachable but busy syslog daemon cannot take is dropped.
 */
static int
staple_log_syslog(int prio, const char *line, size_t len)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };
	char msg[1200], stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	int fd, n, reached;

	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
	/* what syslog(3) sends: <PRI>TIMESTAMP TAG: MESSAGE */
	n = snprintf(msg, sizeof(msg), "<%d>%s %s: %.*s", prio, stamp,
	    program_invocation_short_name, (int)len - 1, line);
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	if ((reached = connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0))
		(void)!send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
	return reached;
}

static void
staple_log_write(int level, const char *line, size_t len)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	int fd;

	switch (log_dest) {
	case DEST_STDERR:
		(void)!write(STDERR_FILENO, line, len);
		break;
	case DEST_SYSLOG:
		/*
		 * Unreachable (a chroot): syslog(3), whose socket then is the
		 * program's own, opened before the chroot, or none at all.
		 */
		if (!staple_log_syslog(LOG_DAEMON | prio[level], line, len))
			syslog(LOG_DAEMON | prio[level], "%.*s", (int)len - 1,
			    line);
		break;
	case DEST_FILE:
		fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
		    O_NOCTTY, 0640);
		if (fd >= 0) {
			(void)!write(fd, line, len);
			close(fd);
		}
		break;
	}
}

void
staple_log(int level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int saved = errno, n, m;

	if (!staple_log_enabled(level))
		return;
	n = snprintf(line, sizeof(line), "libstaple[%d]: %s: ", (int)getpid(),
	    level_names[level]);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	staple_log_write(level, line, n);
	errno = saved;
}

int
staple_log_once(uint64_t key, long interval)
{
	time_t now = time(NULL);
	size_t set = key % (ONCE_SLOTS / ONCE_WAYS) * ONCE_WAYS, slot = set;
	int first = 1;

	pthread_mutex_lock(&once_lock);
	for (size_t i = set; i < set + ONCE_WAYS; i++) {
		if (once_table[i].key == key && once_table[i].last != 0) {
			slot = i;
			first = now - once_table[i].last >= interval;
			break;
		}
		if (once_table[i].last < once_table[slot].last)
			slot = i;
	}
	if (first) {
		once_table[slot].key = key;
		once_table[slot].last = now;
	}
	pthread_mutex_unlock(&once_lock);
	return first;
}

uint64_t
staple_hash(uint64_t h, const void *p, size_t len)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

void
staple_log_fork_prepare(void)
{
	pthread_mutex_lock(&once_lock);
}

void
staple_log_fork_parent(void)
{
	pthread_mutex_unlock(&once_lock);
}

void
staple_log_fork_child(void)
{
	pthread_mutex_unlock(&once_lock);
}
