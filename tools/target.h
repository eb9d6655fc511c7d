/*
 * target.h - the program or process staplectl check looks at: its file,
 * its user, its libraries, as its own program loader or /proc sees them.
 */
#ifndef TARGET_H
#define TARGET_H

#include <limits.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "ctlelf.h"

#define CTL_DEPS 96
#define CTL_GROUPS 256
#define CTL_LOAD_OUT 65536

/* One library of the program: its name (soname) and file ("" if missing). */
struct ctl_dep {
	char name[256];
	char path[PATH_MAX];
};

struct ctl_target {
	char exe[PATH_MAX];		/* the file: the program, /proc/PID/exe */
	char shown[PATH_MAX];		/* its name in the output */
	char argv0[PATH_MAX];		/* the base name it is started as */
	long pid;			/* 0 for a PROGRAM */
	struct ctl_elf elf;
	char interp[PATH_MAX];		/* its loader, when it is this host's */
	char interp_why[2 * PATH_MAX + 64];	/* why the loader is not used */

	char user[64];			/* whose permissions count */
	uid_t uid;			/* effective (file system) ids */
	gid_t gid, groups[CTL_GROUPS];
	int ngroups;
	int secure;			/* secure execution */
	char secure_why[256];

	struct ctl_dep deps[CTL_DEPS];
	int ndeps, deps_known;
	char deps_why[2 * PATH_MAX + 64];
	int pid_env;			/* the process's environment was read */
	char ldpath[PATH_MAX];		/* its LD_LIBRARY_PATH */
	int has_ldpath;
};

/* Print `msg` about `what` on stderr and exit with status 3. */
void ctl_check_die(const char *what, const char *msg) __attribute__((noreturn));

/* The last component of `path`. */
const char *ctl_check_base(const char *path);

/*
 * PROGRAM (a path, or a name looked up in PATH) or PID `arg`, seen by
 * `user` (NULL: the invoking user; not with a PID, whose own ids count).
 * For a PID, its LIBSTAPLE_CONF and LIBSTAPLE_DIR become staplectl's own.
 * Exits with status 3 when there is no such program, process or user.
 */
void ctl_target_open(struct ctl_target *t, const char *arg, const char *user);

/* Unmap its file; NULL-safe. */
void ctl_target_close(struct ctl_target *t);

/*
 * Whether it runs in secure execution (AT_SECURE of a process; setuid,
 * setgid or file capabilities of a file): t->secure and t->secure_why. A
 * setuid or setgid file's owner or group become the user's effective ids.
 */
void ctl_target_secure(struct ctl_target *t);

/* Its libraries: what its loader lists (a PROGRAM), or /proc/PID/maps. */
void ctl_target_deps(struct ctl_target *t);

/* The first of its libraries whose name starts with `prefix`, or NULL. */
const struct ctl_dep *ctl_target_dep(const struct ctl_target *t,
    const char *prefix);

/*
 * Run its loader in trace mode on it with `preload` (NULL: none), its
 * stdout and stderr in `out`; the loader's exit status, -1 when it did not
 * run. Only when t->interp is set: the host's glibc loader, whose trace
 * mode never runs the program.
 */
int ctl_target_load(const struct ctl_target *t, const char *preload, char *out,
    size_t size);

/* Whether loader output line `s` reports an error rather than an object. */
int ctl_target_load_error(const char *s);

/*
 * Whether its user may `want` (4 read, 2 write, 1 search/execute) file
 * `st`, by the mode bits (an ACL granting more is not looked at).
 */
int ctl_target_may(const struct ctl_target *t, const struct stat *st, int want);

/*
 * Whether its user may `want` `path`: search on every directory above it,
 * then `want` on it; when not, why in `why`.
 */
int ctl_target_path_may(const struct ctl_target *t, const char *path, int want,
    char *why, size_t size);

#endif
