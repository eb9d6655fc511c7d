/*
 * register.h - registers: directories in which a process records, one small
 * file per wish, work that a tool run elsewhere (staplectl) should do for it:
 * a staple to fetch for a certificate it serves, a CRL to fetch for a
 * distribution point it met. The writer knows nothing of what the entries
 * mean: a register directory, an entry name and a text are all it is given.
 *
 * The file system decides who may write: an entry is written only where the
 * process may create files, never through a symbolic link, as a temporary
 * file renamed into place (a reader never sees half an entry), and never
 * read back. A process that runs as root or in secure execution writes only
 * into a directory that root owns and root alone may write (the staple
 * directory's rule, store.c). Nothing here fails, waits or logs: the caller
 * says once what went wrong (staple_register_first).
 */
#ifndef STAPLE_REGISTER_H
#define STAPLE_REGISTER_H

#include <stddef.h>

/* The largest entry written (a register entry is a few certificates at most). */
#define STAPLE_REGISTER_MAX (64 * 1024)

/* An entry younger than this is left alone; an older one is touched. */
#define STAPLE_REGISTER_FRESH 86400

enum staple_register_result {
	STAPLE_REGISTER_WRITTEN,	/* the entry was created */
	STAPLE_REGISTER_TOUCHED,	/* it was there, older than a day: mtime renewed */
	STAPLE_REGISTER_PRESENT,	/* it was there, younger: left alone */
	STAPLE_REGISTER_FAILED		/* nothing written; *reason says why */
};

/* Reasons beyond errno values (which are positive). */
#define STAPLE_REGISTER_UNTRUSTED (-1)	/* not root's alone, in a privileged process */
#define STAPLE_REGISTER_NOT_REGULAR (-2) /* the entry's name is not a regular file */
#define STAPLE_REGISTER_DIR_LINK (-3)	/* the register is a symbolic link */
#define STAPLE_REGISTER_BAD_NAME (-4)	/* an entry name with "/", a dot file... */

/*
 * Record entry `name` (a plain file name, not starting with ".") holding the
 * `len` bytes of `text` (at most STAPLE_REGISTER_MAX) in the register
 * directory `dir`, unless it is there: a younger entry than
 * STAPLE_REGISTER_FRESH is left as it is, an older one has its mtime set to
 * now (the time a process last wanted it). On STAPLE_REGISTER_FAILED,
 * *reason is an errno value or a STAPLE_REGISTER_* reason above. Preserves
 * errno; keeps no descriptor.
 */
int staple_register_put(const char *dir, const char *name, const void *text,
    size_t len, int *reason);

/* A reason (staple_register_put) in words, for a log line. */
const char *staple_register_why(int reason);

/*
 * Whether this is the first time this process meets `reason` for register
 * `dir`: one log line per process and reason, however many entries fail.
 */
int staple_register_first(const char *dir, int reason);

/*
 * The program's name for an entry's "# program:" line: its executable's
 * base name ("nginx", "smtpd"), control characters made '?'.
 */
void staple_register_program(char *buf, size_t size);

#endif
