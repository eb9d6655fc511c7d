/*
 * log.h - one line per event, prefixed "libstaple[PID]:".
 *
 * Never writes to the host's stdout, never keeps a file descriptor open
 * (a log file is opened and closed per line, which also survives rotation),
 * and preserves errno.
 */
#ifndef STAPLE_LOG_H
#define STAPLE_LOG_H

#include <stddef.h>
#include <stdint.h>

enum staple_level { STAPLE_ERROR, STAPLE_WARN, STAPLE_INFO, STAPLE_DEBUG };

/* Where lines go: "stderr", "syslog", "none" or a file path; and how much. */
void staple_log_configure(const char *dest, int level);

/* Whether a line at `level` would be written (skip costly formatting). */
int staple_log_enabled(int level);

/* Write one line at `level`. */
void staple_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Whether a condition identified by `key` should be logged now: true the
 * first time, then at most once per `interval` seconds. For conditions that
 * repeat on every handshake (a stale staple, a certificate without one).
 */
int staple_log_once(uint64_t key, long interval);

/* pthread_atfork handlers: the once-table lock must not be held across fork. */
void staple_log_fork_prepare(void);
void staple_log_fork_parent(void);
void staple_log_fork_child(void);

/* FNV-1a over `len` bytes, continuing from `h` (start with STAPLE_HASH_INIT). */
#define STAPLE_HASH_INIT 0xcbf29ce484222325ULL
uint64_t staple_hash(uint64_t h, const void *p, size_t len);

/* Parse a level name; -1 when unknown. */
int staple_log_level_parse(const char *name);

#endif
