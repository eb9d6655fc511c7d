/*
 * check.c - staplectl check PROGRAM|PID: before anyone edits a unit file or
 * /etc/ld.so.preload, say whether libstaple can work for that program on
 * this host, and why not.
 *
 * Nothing of the program runs: its libraries are listed by the host's
 * program loader in trace mode (LD_TRACE_LOADED_OBJECTS, what ldd does:
 * the loader maps the objects, resolves versions and, with LD_BIND_NOW,
 * symbols, then exits before any constructor or main), or read off
 * /proc/PID/maps for a running process; versions are read from the files'
 * bytes. No OpenSSL is loaded into staplectl for this command.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <gnu/libc-version.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "../preload/config.h"
#include "check.h"
#include "ctlelf.h"

extern char **environ;

enum { CK_OK, CK_WARN, CK_FAIL, CK_SKIP };
static const char *const ck_words[] = { "ok", "warn", "fail", "skip" };

#define CK_MAX 12
#define CK_DEPS 96
#define CK_GROUPS 256
#define CK_OUT 65536

struct ck_result {
	const char *name;
	int verdict;
	char text[1536];
};

/* One library of the program: its name (soname) and file ("" if missing). */
struct ck_dep {
	char name[256];
	char path[PATH_MAX];
};

struct check {
	char exe[PATH_MAX];		/* the file: the program, /proc/PID/exe */
	char shown[PATH_MAX];		/* its name in the output */
	char argv0[PATH_MAX];		/* the base name it is started as */
	long pid;			/* 0 for a PROGRAM */
	struct ctl_elf elf;
	char interp[PATH_MAX];		/* its loader, when it is this host's */
	char interp_why[2 * PATH_MAX + 64];	/* why the loader is not used */

	char user[64];			/* whose permissions count */
	uid_t uid;			/* effective (file system) ids */
	gid_t gid, groups[CK_GROUPS];
	int ngroups;
	int secure;			/* secure execution */
	char secure_why[256];

	struct ck_dep deps[CK_DEPS];
	int ndeps, deps_known;
	char deps_why[2 * PATH_MAX + 64];
	int pid_env;			/* the process's environment was read */
	char ldpath[PATH_MAX];		/* its LD_LIBRARY_PATH */
	int has_ldpath;

	char lib[PATH_MAX];		/* libstaple.so */
	int lib_usable;
	struct ctl_elf libelf;

	struct ck_result r[CK_MAX];
	int nr;
};

static void ck_usage(void) __attribute__((noreturn));
static void
ck_usage(void)
{
	fprintf(stderr, "usage: staplectl check [--library FILE] [--user NAME]"
	    " [--json] PROGRAM|PID\n");
	exit(3);
}

static void ck_die(const char *what, const char *msg) __attribute__((noreturn));
static void
ck_die(const char *what, const char *msg)
{
	fprintf(stderr, "staplectl: %s: %s\n", what, msg);
	exit(3);
}

/* Record one check's verdict and its one-line explanation. */
static void ck_add(struct check *c, const char *name, int verdict,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void
ck_add(struct check *c, const char *name, int verdict, const char *fmt, ...)
{
	struct ck_result *r;
	va_list ap;

	if (c->nr == CK_MAX)
		return;
	r = &c->r[c->nr++];
	r->name = name;
	r->verdict = verdict;
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
}

static const char *
ck_base(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* ------------------------------------------------------------ permissions */

static int
ck_in_group(const struct check *c, gid_t g)
{
	if (g == c->gid)
		return 1;
	for (int i = 0; i < c->ngroups; i++)
		if (c->groups[i] == g)
			return 1;
	return 0;
}

/*
 * Whether the target's user may `want` (4 read, 2 write, 1 search/execute)
 * file `st`, by its mode bits (an ACL granting more is not looked at).
 */
static int
ck_may(const struct check *c, const struct stat *st, int want)
{
	int bits;

	if (c->uid == 0)
		return !(want & 1) || S_ISDIR(st->st_mode) || (st->st_mode & 0111);
	if (st->st_uid == c->uid)
		bits = (st->st_mode >> 6) & 7;
	else if (ck_in_group(c, st->st_gid))
		bits = (st->st_mode >> 3) & 7;
	else
		bits = st->st_mode & 7;
	return (bits & want) == want;
}

/*
 * Whether the target's user may `want` `path`: search permission on every
 * directory above it, then `want` on it. When not, why in `why`.
 */
static int
ck_path_may(const struct check *c, const char *path, int want, char *why,
    size_t size)
{
	char real[PATH_MAX], *slash;
	struct stat st;

	if (realpath(path, real) == NULL) {
		snprintf(why, size, "%s", strerror(errno));
		return 0;
	}
	for (slash = real; (slash = strchr(slash + 1, '/')) != NULL; ) {
		*slash = '\0';
		if (stat(real, &st) == 0 && !ck_may(c, &st, 1)) {
			snprintf(why, size, "no search permission on %s (%04o,"
			    " owner %ld)", real, (unsigned)st.st_mode & 07777,
			    (long)st.st_uid);
			return 0;
		}
		*slash = '/';
	}
	if (stat(real, &st) != 0) {
		snprintf(why, size, "%s", strerror(errno));
		return 0;
	}
	if (!ck_may(c, &st, want)) {
		snprintf(why, size, "mode %04o, owner %ld, group %ld",
		    (unsigned)st.st_mode & 07777, (long)st.st_uid, (long)st.st_gid);
		return 0;
	}
	return 1;
}

/* ------------------------------------------------------------ the target */

/* PROGRAM as the shell finds it: a path, or a name looked up in PATH. */
static int
ck_find_program(const char *arg, char *buf, size_t size)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save;
	int found = 0;

	if (strchr(arg, '/') != NULL)
		return snprintf(buf, size, "%s", arg) < (int)size &&
		    access(buf, F_OK) == 0;
	if ((copy = strdup(path ? path : "/usr/bin:/bin")) == NULL)
		return 0;
	for (dir = strtok_r(copy, ":", &save); dir && !found;
	    dir = strtok_r(NULL, ":", &save))
		found = snprintf(buf, size, "%s/%s", *dir ? dir : ".", arg) <
		    (int)size && access(buf, X_OK) == 0;
	free(copy);
	return found;
}

/* The user `name` (NULL: the invoking one) and the groups it is in. */
static void
ck_user(struct check *c, const char *name)
{
	struct passwd *pw = name ? getpwnam(name) : getpwuid(getuid());

	if (pw == NULL)
		ck_die(name ? name : "the invoking user", "no such user");
	snprintf(c->user, sizeof(c->user), "%s", pw->pw_name);
	c->uid = pw->pw_uid;
	c->gid = pw->pw_gid;
	c->ngroups = CK_GROUPS;
	if (getgrouplist(pw->pw_name, pw->pw_gid, c->groups, &c->ngroups) < 0)
		c->ngroups = 0;
}

/* The file system ids and groups of process c->pid (/proc/PID/status). */
static void
ck_pid_user(struct check *c)
{
	char path[64], line[4096], *p, *end;
	struct passwd *pw;
	unsigned long v[4];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", c->pid);
	if ((f = fopen(path, "re")) == NULL)
		ck_die(path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "Uid: %lu %lu %lu %lu", &v[0], &v[1], &v[2],
		    &v[3]) == 4)
			c->uid = (uid_t)v[3];
		else if (sscanf(line, "Gid: %lu %lu %lu %lu", &v[0], &v[1],
		    &v[2], &v[3]) == 4)
			c->gid = (gid_t)v[3];
		else if (strncmp(line, "Groups:", 7) == 0)
			for (p = line + 7; c->ngroups < CK_GROUPS; p = end) {
				v[0] = strtoul(p, &end, 10);
				if (end == p)
					break;
				c->groups[c->ngroups++] = (gid_t)v[0];
			}
	}
	fclose(f);
	if ((pw = getpwuid(c->uid)) != NULL)
		snprintf(c->user, sizeof(c->user), "%s", pw->pw_name);
	else
		snprintf(c->user, sizeof(c->user), "uid %ld", (long)c->uid);
}

/*
 * The process's LIBSTAPLE_CONF and LIBSTAPLE_DIR become staplectl's own (the
 * config code reads them from there), its LD_LIBRARY_PATH the loader's.
 */
static void
ck_pid_env(struct check *c)
{
	static char buf[256 * 1024];
	char path[64];
	size_t n = 0;
	ssize_t got;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/environ", c->pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	while (n < sizeof(buf) - 1 &&
	    (got = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)got;
	close(fd);
	buf[n] = '\0';
	c->pid_env = 1;
	unsetenv("LIBSTAPLE_CONF");
	unsetenv("LIBSTAPLE_DIR");
	for (char *p = buf; p < buf + n; p += strlen(p) + 1) {
		if (strncmp(p, "LIBSTAPLE_CONF=", 15) == 0)
			setenv("LIBSTAPLE_CONF", p + 15, 1);
		else if (strncmp(p, "LIBSTAPLE_DIR=", 14) == 0)
			setenv("LIBSTAPLE_DIR", p + 14, 1);
		else if (strncmp(p, "LD_LIBRARY_PATH=", 16) == 0)
			c->has_ldpath = snprintf(c->ldpath, sizeof(c->ldpath),
			    "%s", p + 16) < (int)sizeof(c->ldpath);
	}
}

/* The base name of the process's argv[0] (else of its executable). */
static void
ck_pid_argv0(struct check *c)
{
	char path[64], buf[PATH_MAX];
	ssize_t n = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", c->pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = '\0';
	snprintf(c->argv0, sizeof(c->argv0), "%s", ck_base(n > 0 && *buf ?
	    buf : c->shown));
}

/*
 * Use the program's loader only when it is the one staplectl itself runs
 * with: the host's glibc loader, whose trace mode never runs the program.
 * Any other (a static program has none) could run it.
 */
static void
ck_interp(struct check *c)
{
	struct ctl_elf self;
	char mine[PATH_MAX], theirs[PATH_MAX];
	struct stat a, b;
	int have;

	if (ctl_elf_open("/proc/self/exe", &self) != 0)
		ck_die("/proc/self/exe", strerror(errno));
	have = ctl_elf_interp(&self, mine, sizeof(mine));
	ctl_elf_close(&self);
	if (!ctl_elf_interp(&c->elf, theirs, sizeof(theirs))) {
		snprintf(c->interp_why, sizeof(c->interp_why), "%s",
		    c->elf.machine == 0 ? "not an ELF program" : !c->elf.elf64 ?
		    "not a 64-bit program" : "a static executable (no program"
		    " loader, so no preload)");
		return;
	}
	if (!have || stat(mine, &a) != 0 || stat(theirs, &b) != 0 ||
	    a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
		snprintf(c->interp_why, sizeof(c->interp_why), "its program"
		    " loader %s is not this host's %s", theirs, have ? mine : "?");
		return;
	}
	snprintf(c->interp, sizeof(c->interp), "%s", theirs);
}

/* PROGRAM or PID, into c. */
static void
ck_target(struct check *c, const char *arg, const char *user)
{
	char *end;
	long pid = strtol(arg, &end, 10);

	if (*end == '\0' && end != arg && pid > 0 && !strchr(arg, '/')) {
		if (user != NULL)
			ck_die("--user", "not with a PID: the process's own ids count");
		c->pid = pid;
		snprintf(c->exe, sizeof(c->exe), "/proc/%ld/exe", pid);
		if (access(c->exe, F_OK) != 0 && errno == ENOENT)
			ck_die(arg, "no such process");
		if (readlink(c->exe, c->shown, sizeof(c->shown) - 1) <= 0)
			snprintf(c->shown, sizeof(c->shown), "process %ld", pid);
		ck_pid_user(c);
		ck_pid_env(c);
		ck_pid_argv0(c);
	} else {
		if (!ck_find_program(arg, c->exe, sizeof(c->exe)))
			ck_die(arg, "no such program");
		snprintf(c->shown, sizeof(c->shown), "%s", c->exe);
		snprintf(c->argv0, sizeof(c->argv0), "%s", ck_base(c->exe));
		ck_user(c, user);
	}
	if (ctl_elf_open(c->exe, &c->elf) != 0)
		ck_die(c->exe, strerror(errno));
	if (c->elf.machine == 0)
		ck_die(c->exe, c->elf.size > 2 && memcmp(c->elf.map, "#!", 2) == 0 ?
		    "a script: check its interpreter, or the running process by"
		    " PID" : "not an ELF program");
	ck_interp(c);
}

/* ------------------------------------------------------------ loader */

/*
 * The environment the loader runs in: staplectl's, without any preload,
 * trace or audit setting of its own, plus the trace settings, `preload`
 * (NULL: none) and, for a process, its LD_LIBRARY_PATH.
 */
static char **
ck_loader_env(const struct check *c, const char *preload, char *pre,
    size_t size, char *ldpath, size_t ldsize)
{
	static const char *const drop[] = { "LD_PRELOAD=", "LD_TRACE_",
	    "LD_BIND_NOW=", "LD_WARN=", "LD_AUDIT=", "LD_DEBUG", "LD_VERBOSE=",
	    "LD_LIBRARY_PATH=" };
	size_t n = 0, k = 0;
	char **env;
	int keep;

	while (environ[n] != NULL)
		n++;
	if ((env = calloc(n + 6, sizeof(*env))) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		keep = 1;
		for (size_t j = 0; j < sizeof(drop) / sizeof(drop[0]); j++)
			if (strncmp(environ[i], drop[j], strlen(drop[j])) == 0)
				keep = 0;
		/* a process's own library path replaces staplectl's */
		if (!keep && strncmp(environ[i], "LD_LIBRARY_PATH=", 16) == 0 &&
		    !c->pid_env)
			keep = 1;
		if (keep)
			env[k++] = environ[i];
	}
	env[k++] = "LD_TRACE_LOADED_OBJECTS=1";
	env[k++] = "LD_WARN=yes";
	env[k++] = "LD_BIND_NOW=1";
	if (preload != NULL) {
		snprintf(pre, size, "LD_PRELOAD=%s", preload);
		env[k++] = pre;
	}
	if (c->pid_env && c->has_ldpath) {
		snprintf(ldpath, ldsize, "LD_LIBRARY_PATH=%s", c->ldpath);
		env[k++] = ldpath;
	}
	return env;
}

/*
 * Run the program's loader in trace mode on the program, with `preload`;
 * its stdout and stderr together in `out`. Its exit status, -1 when it
 * could not run.
 */
static int
ck_loader(const struct check *c, const char *preload, char *out, size_t size)
{
	char pre[PATH_MAX + 16], ldpath[PATH_MAX + 32];
	char *argv[] = { (char *)c->interp, (char *)c->exe, NULL };
	char **env = ck_loader_env(c, preload, pre, sizeof(pre), ldpath,
	    sizeof(ldpath));
	size_t len = 0;
	int fd[2], status, null;
	char drain[4096];
	ssize_t n;
	pid_t pid;

	*out = '\0';
	if (env == NULL || pipe2(fd, O_CLOEXEC) != 0) {
		free(env);
		return -1;
	}
	if ((pid = fork()) == 0) {
		/* the copies dup2 makes outlive execve; the originals do not */
		null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		dup2(null, 0);
		dup2(fd[1], 1);
		dup2(fd[1], 2);
		/* a loader that hangs is killed: the alarm survives execve */
		alarm(30);
		execve(c->interp, argv, env);
		_exit(127);
	}
	close(fd[1]);
	free(env);
	while ((n = read(fd[0], len + 1 < size ? out + len : drain,
	    len + 1 < size ? size - 1 - len : sizeof(drain))) > 0 ||
	    (n < 0 && errno == EINTR))
		if (n > 0 && len + 1 < size)
			len += (size_t)n;
	out[len] = '\0';
	close(fd[0]);
	if (pid < 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Whether loader output line `s` reports an error rather than an object. */
static int
ck_loader_error(const char *s)
{
	return strstr(s, "not found (required by") != NULL ||
	    strstr(s, "undefined symbol") != NULL || strstr(s, "ERROR:") != NULL ||
	    strstr(s, "cannot be preloaded") != NULL ||
	    strstr(s, "error while loading") != NULL ||
	    strstr(s, "wrong ELF class") != NULL;
}

/* One line of the loader's listing ("NAME => PATH (0x...)") into c->deps. */
static void
ck_dep_line(struct check *c, char *s)
{
	char *arrow, *addr, *path = s, *name = s;
	struct ck_dep *d;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0' || ck_loader_error(s) || c->ndeps == CK_DEPS)
		return;
	if ((arrow = strstr(s, " => ")) != NULL) {
		*arrow = '\0';
		name = s;
		path = arrow + 4;
	} else
		name = path = s;
	if ((addr = strstr(path, " (0x")) != NULL)
		*addr = '\0';
	else if (strncmp(path, "not found", 9) != 0)
		return;
	d = &c->deps[c->ndeps++];
	snprintf(d->path, sizeof(d->path), "%s",
	    strncmp(path, "not found", 9) == 0 ? "" : path);
	snprintf(d->name, sizeof(d->name), "%s", ck_base(name));
}

/* The program's libraries, as its loader would find them now. */
static void
ck_deps_program(struct check *c)
{
	static char out[CK_OUT];
	char *line, *save;
	int st;

	if (c->interp[0] == '\0') {
		/* a static executable has no libraries: known, and none */
		c->deps_known = strstr(c->interp_why, "static") != NULL;
		snprintf(c->deps_why, sizeof(c->deps_why), "%s", c->interp_why);
		return;
	}
	st = ck_loader(c, NULL, out, sizeof(out));
	if (st != 0) {
		line = strtok_r(out, "\n", &save);
		if (snprintf(c->deps_why, sizeof(c->deps_why), "its loader"
		    " says: %s", line ? line : "nothing") >= (int)sizeof(c->deps_why))
			c->deps_why[sizeof(c->deps_why) - 2] = '.';
		return;
	}
	for (line = strtok_r(out, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		ck_dep_line(c, line);
	c->deps_known = 1;
}

/* The files mapped into the process (/proc/PID/maps). */
static void
ck_deps_pid(struct check *c)
{
	char path[64], line[PATH_MAX + 256], *file;
	struct ck_dep *d;
	int seen;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/maps", c->pid);
	if ((f = fopen(path, "re")) == NULL) {
		snprintf(c->deps_why, sizeof(c->deps_why), "%s: %s", path,
		    strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL && c->ndeps < CK_DEPS) {
		line[strcspn(line, "\n")] = '\0';
		if ((file = strchr(line, '/')) == NULL)
			continue;
		seen = 0;
		for (int i = 0; i < c->ndeps && !seen; i++)
			seen = strcmp(c->deps[i].path, file) == 0;
		if (seen)
			continue;
		d = &c->deps[c->ndeps++];
		snprintf(d->path, sizeof(d->path), "%s", file);
		snprintf(d->name, sizeof(d->name), "%s", ck_base(file));
	}
	fclose(f);
	c->deps_known = 1;
}

/* The first library whose name starts with `prefix` ("libssl.so"), or NULL. */
static const struct ck_dep *
ck_dep(const struct check *c, const char *prefix)
{
	for (int i = 0; i < c->ndeps; i++)
		if (strncmp(c->deps[i].name, prefix, strlen(prefix)) == 0)
			return &c->deps[i];
	return NULL;
}

/* ------------------------------------------------------------ checks */

/* libstaple.so: --library, else beside staplectl (a build tree), else installed. */
static void
ck_library_find(struct check *c, const char *option)
{
	char self[PATH_MAX], *slash;
	ssize_t n;

	if (option != NULL) {
		snprintf(c->lib, sizeof(c->lib), "%s", option);
		return;
	}
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0)
		return;
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) != NULL)
		*slash = '\0';
	if (snprintf(c->lib, sizeof(c->lib), "%s/libstaple.so", self) <
	    (int)sizeof(c->lib) && access(c->lib, F_OK) == 0)
		return;
	/* PREFIX/bin/staplectl and PREFIX/lib/libstaple/libstaple.so */
	if ((slash = strrchr(self, '/')) != NULL)
		*slash = '\0';
	if (snprintf(c->lib, sizeof(c->lib), "%s/lib/libstaple/libstaple.so",
	    self) >= (int)sizeof(c->lib))
		c->lib[0] = '\0';
}

/* The library: there, readable by the user, for the program's architecture. */
static void
ck_library(struct check *c)
{
	char why[PATH_MAX + 128];

	if (ctl_elf_open(c->lib, &c->libelf) != 0) {
		ck_add(c, "library", CK_FAIL, "%s: %s (name the library with"
		    " --library FILE)", c->lib, strerror(errno));
		return;
	}
	if (!c->libelf.elf64 || c->libelf.type != 3 /* ET_DYN */) {
		ck_add(c, "library", CK_FAIL, "%s: not a shared library for this"
		    " host", c->lib);
		return;
	}
	c->lib_usable = 1;
	if (c->elf.machine != c->libelf.machine)
		ck_add(c, "library", CK_FAIL, "%s is built for %s, the program"
		    " for %s", c->lib, ctl_elf_machine_name(c->libelf.machine),
		    ctl_elf_machine_name(c->elf.machine));
	else if (strpbrk(c->lib, " :") != NULL)
		ck_add(c, "library", CK_FAIL, "%s: a space or colon in the path:"
		    " LD_PRELOAD and /etc/ld.so.preload cannot name it", c->lib);
	else if (!ck_path_may(c, c->lib, 4, why, sizeof(why)))
		ck_add(c, "library", CK_FAIL, "%s is not readable by %s (%s)",
		    c->lib, c->user, why);
	else
		ck_add(c, "library", CK_OK, "%s (%s), readable by %s", c->lib,
		    ctl_elf_machine_name(c->libelf.machine), c->user);
}

/* The version of the C library file `path` ("2.31"), from its banner. */
static int
ck_libc_file_version(const char *path, char *buf, size_t size)
{
	static const char banner[] = "release version ";
	struct ctl_elf e;
	const unsigned char *p;
	size_t n = 0;

	if (ctl_elf_open(path, &e) != 0)
		return 0;
	p = memmem(e.map, e.size, banner, sizeof(banner) - 1);
	if (p != NULL)
		for (p += sizeof(banner) - 1; p < e.map + e.size && n + 1 < size &&
		    (isdigit(*p) || *p == '.'); p++)
			buf[n++] = (char)*p;
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
	ctl_elf_close(&e);
	return n > 0;
}

/*
 * The newest GLIBC version the library's version-need table asks for,
 * against the C library the program runs with (the one its loader lists,
 * else this host's).
 */
static void
ck_libc(struct check *c)
{
	const struct ck_dep *libc = ck_dep(c, "libc.so.");
	char need[32], syms[256], have[32];
	const char *where = "this host's";

	if (!c->lib_usable) {
		ck_add(c, "libc", CK_SKIP, "no library to check");
		return;
	}
	if (libc != NULL && libc->path[0] != '\0' &&
	    ck_libc_file_version(libc->path, have, sizeof(have)))
		where = libc->path;
	else
		snprintf(have, sizeof(have), "%s", gnu_get_libc_version());
	if (!ctl_elf_glibc_need(&c->libelf, need, sizeof(need), syms,
	    sizeof(syms)))
		ck_add(c, "libc", CK_OK, "glibc %s (%s); the library needs no"
		    " GLIBC version", have, where);
	else if (ctl_version_cmp(need, have) > 0)
		ck_add(c, "libc", CK_FAIL, "glibc %s (%s) is too old: the library"
		    " needs GLIBC_%s (%s); every program would fail to start"
		    " with it", have, where, need, syms);
	else
		ck_add(c, "libc", CK_OK, "glibc %s (%s); the library needs"
		    " GLIBC_%s at most", have, where, need);
}

/*
 * Whether libstaple serves OpenSSL version `text` ("OpenSSL 1.1.1w ..."):
 * 1.0.2, 1.1.1 and 3.x, the rule of staple_ossl_supported (preload/ossl.c).
 */
static int
ck_served(const char *text)
{
	int major, minor, patch;

	if (sscanf(text, "OpenSSL %d.%d.%d", &major, &minor, &patch) != 3)
		return 0;
	return (major == 1 && minor == 0 && patch == 2) ||
	    (major == 1 && minor == 1 && patch == 1) || major == 3;
}

/* Other TLS libraries a program may use instead of OpenSSL. */
static const struct {
	const char *prefix, *name;
} ck_others[] = {
	{ "libgnutls.so", "GnuTLS" },
	{ "libnss3.so", "NSS" },
	{ "libwolfssl.so", "wolfSSL" },
	{ "libmbedtls.so", "Mbed TLS" },
};

/* The other TLS libraries among the program's, "GnuTLS (libgnutls.so.30)". */
static void
ck_other_tls(const struct check *c, char *buf, size_t size)
{
	const struct ck_dep *d;
	size_t len = 0;

	*buf = '\0';
	for (size_t i = 0; i < sizeof(ck_others) / sizeof(ck_others[0]); i++)
		if ((d = ck_dep(c, ck_others[i].prefix)) != NULL && len < size)
			len += (size_t)snprintf(buf + len, size - len, "%s%s (%s)",
			    len ? ", " : "", ck_others[i].name,
			    d->path[0] ? d->path : d->name);
}

/* The OpenSSL version text of libssl `ssl`, else of a libcrypto beside it. */
static int
ck_ssl_text(const struct check *c, const struct ck_dep *ssl, char *buf,
    size_t size)
{
	const struct ck_dep *crypto = ck_dep(c, "libcrypto.so");
	struct ctl_elf e;
	int found = 0;

	/* 3.x keeps the text in libcrypto only */
	if (ctl_elf_open(ssl->path, &e) == 0) {
		found = ctl_elf_ssl_text(&e, buf, size);
		ctl_elf_close(&e);
	}
	if (!found && crypto != NULL && crypto->path[0] != '\0' &&
	    ctl_elf_open(crypto->path, &e) == 0) {
		found = ctl_elf_ssl_text(&e, buf, size);
		ctl_elf_close(&e);
	}
	return found;
}

/*
 * A cipher suite name in OpenSSL's own spelling, in libssl's table of
 * every version: linked in with SSL_CTX_new even when the symbols are
 * stripped. GnuTLS and NSS spell them otherwise.
 */
#define CK_SSL_MARK "ECDHE-ECDSA-AES256-GCM-SHA384"

/* A program without libssl: static OpenSSL, another TLS library, or none. */
static void
ck_tls_none(struct check *c, const char *others)
{
	if (ctl_elf_defines(&c->elf, "SSL_CTX_new"))
		ck_add(c, "tls", CK_FAIL, "OpenSSL is linked statically"
		    " (SSL_CTX_new is defined in the executable, no libssl):"
		    " no preload can reach it");
	else if (ctl_elf_contains(&c->elf, CK_SSL_MARK))
		ck_add(c, "tls", CK_FAIL, "OpenSSL is linked statically (no"
		    " symbol table, but libssl's cipher suite names are in the"
		    " executable, and no libssl): no preload can reach it");
	else if (*others != '\0')
		ck_add(c, "tls", CK_FAIL, "another TLS library: %s, not"
		    " OpenSSL's libssl; libstaple serves OpenSSL programs only",
		    others);
	else if (c->pid != 0)
		ck_add(c, "tls", CK_FAIL, "no TLS library is mapped in the"
		    " process: nothing for libstaple to do");
	else
		ck_add(c, "tls", CK_FAIL, "no TLS library among its libraries:"
		    " nothing for libstaple to do (a libssl loaded later with"
		    " dlopen, as Python's ssl module is, is not seen here: check"
		    " the running process by PID)");
}

/* Which TLS library the program uses, and whether libstaple serves it. */
static void
ck_tls(struct check *c)
{
	const struct ck_dep *ssl = ck_dep(c, "libssl.so");
	char others[1024], text[128], also[1100] = "";

	if (!c->deps_known) {
		ck_add(c, "tls", CK_FAIL, "its libraries are unknown: %s",
		    c->deps_why);
		return;
	}
	ck_other_tls(c, others, sizeof(others));
	if (ssl == NULL) {
		ck_tls_none(c, others);
		return;
	}
	if (*others != '\0')
		snprintf(also, sizeof(also), "; %s is loaded too: TLS done"
		    " through it is not covered", others);
	if (ssl->path[0] == '\0')
		ck_add(c, "tls", CK_FAIL, "%s: not found (the program does not"
		    " start here; LD_LIBRARY_PATH?)", ssl->name);
	else if (!ck_ssl_text(c, ssl, text, sizeof(text)))
		ck_add(c, "tls", CK_WARN, "%s: no OpenSSL version text in it or"
		    " its libcrypto; libstaple judges the version when it"
		    " loads%s", ssl->path, also);
	else if (ck_served(text))
		ck_add(c, "tls", CK_OK, "%s (%s): served%s", text, ssl->path,
		    also);
	else
		ck_add(c, "tls", CK_FAIL, "%s (%s) is not a version libstaple"
		    " serves (1.0.2, 1.1.1, 3.x): it steps aside%s", text,
		    ssl->path, also);
}

/* Secure execution for a PID: AT_SECURE in its auxiliary vector. */
static int
ck_secure_pid(struct check *c)
{
	unsigned long av[2];
	char path[64];
	int fd, secure = -1;

	snprintf(path, sizeof(path), "/proc/%ld/auxv", c->pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	while (read(fd, av, sizeof(av)) == (ssize_t)sizeof(av) && av[0] != 0)
		if (av[0] == 23 /* AT_SECURE */)
			secure = av[1] != 0;
	close(fd);
	if (secure > 0)
		snprintf(c->secure_why, sizeof(c->secure_why), "the process runs"
		    " in secure execution (AT_SECURE)");
	return secure;
}

/*
 * Secure execution for a file: setuid or setgid bits that change the
 * user's ids, or file capabilities, on a file system that honours them.
 * The user's effective ids become the file's.
 */
static int
ck_secure_file(struct check *c)
{
	struct statvfs vfs;
	struct passwd *pw;
	struct group *gr;
	struct stat st;
	size_t len = 0;
	char *w = c->secure_why;
	size_t size = sizeof(c->secure_why);

	if (stat(c->exe, &st) != 0 ||
	    (statvfs(c->exe, &vfs) == 0 && (vfs.f_flag & ST_NOSUID)))
		return 0;
	if ((st.st_mode & S_ISUID) && st.st_uid != c->uid) {
		pw = getpwuid(st.st_uid);
		len += (size_t)snprintf(w + len, size - len, "setuid %s",
		    pw ? pw->pw_name : "?");
		c->uid = st.st_uid;
	}
	if ((st.st_mode & S_ISGID) && st.st_gid != c->gid && len < size) {
		gr = getgrgid(st.st_gid);
		len += (size_t)snprintf(w + len, size - len, "%ssetgid %s",
		    len ? ", " : "", gr ? gr->gr_name : "?");
		c->gid = st.st_gid;
	}
	if (getxattr(c->exe, "security.capability", NULL, 0) > 0 && len < size)
		len += (size_t)snprintf(w + len, size - len, "%sfile"
		    " capabilities", len ? ", " : "");
	return len > 0;
}

/* Whether the program runs in secure execution, and as whom. */
static void
ck_secure(struct check *c)
{
	int secure = c->pid ? ck_secure_pid(c) : -1;

	if (secure < 0)
		secure = ck_secure_file(c);
	c->secure = secure;
}

/* Setuid, setgid, file capabilities: what secure execution means here. */
static void
ck_secure_line(struct check *c)
{
	if (!c->secure)
		ck_add(c, "secure", CK_OK, "no setuid, setgid or file"
		    " capabilities: LIBSTAPLE_* variables apply");
	else
		ck_add(c, "secure", CK_WARN, "%s: secure execution: no"
		    " LIBSTAPLE_* variable is honoured, no log file is opened"
		    " (syslog instead), the config file is read only if root"
		    " owns it and only root can write it, and the loader ignores"
		    " an LD_PRELOAD path (with a slash): deploy through"
		    " /etc/ld.so.preload", c->secure_why);
}

/*
 * Load the settings as the program would: staplectl run by root reads the
 * config file with the ids of the program's user, so that a file that user
 * cannot read, or one root's rule refuses but the user's process reads
 * (preload/config.c), gives the program's settings, not root's.
 */
static void
ck_conf_load(struct check *c)
{
	gid_t groups[CK_GROUPS], egid = getegid();
	int n = getgroups(CK_GROUPS, groups);
	int as_user = geteuid() == 0 && c->uid != 0 && n >= 0;

	char *name = program_invocation_short_name;

	if (as_user && (setgroups((size_t)c->ngroups, c->groups) != 0 ||
	    setegid(c->gid) != 0 || seteuid(c->uid) != 0))
		ck_die(c->user, "cannot take this user's ids to read the config");
	/* [program NAME] sections match the name it is started as */
	program_invocation_short_name = c->argv0;
	staple_conf_load();
	program_invocation_short_name = name;
	if (as_user && (seteuid(0) != 0 || setegid(egid) != 0 ||
	    setgroups((size_t)n, groups) != 0))
		ck_die("root", "cannot take back staplectl's own ids");
}

/* The config file, as the program would see it (preload/config.c's rule). */
static void
ck_config(struct check *c)
{
	const char *file = staple_conf.conf;
	int named = !c->secure && getenv("LIBSTAPLE_CONF") != NULL;
	int privileged = c->secure || c->uid == 0;
	char why[PATH_MAX + 128];
	struct stat st;

	if (stat(file, &st) != 0 && errno == ENOENT && !named)
		ck_add(c, "config", CK_OK, "%s: none; the defaults apply", file);
	else if (stat(file, &st) != 0)
		ck_add(c, "config", CK_FAIL, "%s%s: %s; the defaults apply", file,
		    named ? " (LIBSTAPLE_CONF)" : "", strerror(errno));
	else if (!ck_path_may(c, file, 4, why, sizeof(why)))
		ck_add(c, "config", CK_FAIL, "%s is not readable by %s (%s); the"
		    " defaults apply", file, c->user, why);
	else if (privileged && (st.st_uid != 0 || (st.st_mode & 022)))
		ck_add(c, "config", CK_FAIL, "%s (owner %ld, mode %04o) is not"
		    " read: a privileged process (%s) reads only a config file"
		    " owned by root and writable by root alone", file,
		    (long)st.st_uid, (unsigned)st.st_mode & 07777,
		    c->secure ? "secure execution" : "run by root");
	else if (st.st_mode & 022)
		ck_add(c, "config", CK_WARN, "%s (owner %ld, mode %04o) is"
		    " writable by %s: they can change this program's settings",
		    file, (long)st.st_uid, (unsigned)st.st_mode & 07777,
		    (st.st_mode & 002) ? "every user" : "its group");
	else if (!staple_conf.enabled)
		ck_add(c, "config", CK_FAIL, "%s (owner %ld, mode %04o): read; it"
		    " says enabled = no for %s: libstaple steps aside", file,
		    (long)st.st_uid, (unsigned)st.st_mode & 07777, c->argv0);
	else
		ck_add(c, "config", CK_OK, "%s (owner %ld, mode %04o): read",
		    file, (long)st.st_uid, (unsigned)st.st_mode & 07777);
}

/* The staple directory (server role): there and readable by the user. */
static void
ck_dir(struct check *c)
{
	const char *dir = staple_conf.dir;
	char why[PATH_MAX + 128], path[PATH_MAX * 2];
	int files = 0, unreadable = 0;
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (stat(dir, &st) != 0) {
		ck_add(c, "dir", CK_WARN, "%s: %s: the server role has no"
		    " staples to serve (staplectl refresh stores them there)",
		    dir, strerror(errno));
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		ck_add(c, "dir", CK_FAIL, "%s: not a directory", dir);
		return;
	}
	if (!ck_path_may(c, dir, 5, why, sizeof(why))) {
		ck_add(c, "dir", CK_FAIL, "%s is not readable by %s (%s): the"
		    " server role cannot serve staples", dir, c->user, why);
		return;
	}
	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			if (de->d_name[0] == '.' || stat(path, &st) != 0 ||
			    !S_ISREG(st.st_mode))
				continue;
			files++;
			unreadable += !ck_may(c, &st, 4);
		}
		closedir(d);
	}
	if (unreadable > 0)
		ck_add(c, "dir", CK_WARN, "%s: %d of its %d files are not"
		    " readable by %s", dir, unreadable, files, c->user);
	else
		ck_add(c, "dir", CK_OK, "%s: readable by %s (%d files)", dir,
		    c->user, files);
}

/*
 * A trial load: the program's loader maps the program with the library
 * preloaded, checks versions and binds every symbol, and exits; neither
 * the program's code nor the library's runs.
 */
static void
ck_trial(struct check *c)
{
	static char out[CK_OUT];
	const char *base = ck_base(c->lib), *listed = NULL;
	char *line, *save, *s;
	const char *note = c->secure ? "; run for real, this secure-execution"
	    " program's loader ignores an LD_PRELOAD path: only"
	    " /etc/ld.so.preload reaches it" : "";

	if (!c->lib_usable) {
		ck_add(c, "trial", CK_SKIP, "no library to load");
		return;
	}
	if (c->interp[0] == '\0') {
		ck_add(c, "trial", CK_SKIP, "not done: %s", c->interp_why);
		return;
	}
	ck_loader(c, c->lib, out, sizeof(out));
	for (line = strtok_r(out, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		for (s = line; isspace((unsigned char)*s); s++)
			;
		if (ck_loader_error(s) && strstr(s, base) != NULL) {
			ck_add(c, "trial", CK_FAIL, "the loader says: %s", s);
			return;
		}
		if (strncmp(s, c->lib, strlen(c->lib)) == 0 ||
		    strstr(s, base) != NULL)
			listed = s;
	}
	if (listed == NULL)
		ck_add(c, "trial", CK_FAIL, "the library is not in the loader's"
		    " listing of the program");
	else
		ck_add(c, "trial", CK_OK, "LD_PRELOAD=%s loads: versions and"
		    " symbols resolve (the loader's trace mode: the program did"
		    " not run)%s", c->lib, note);
}

/* ------------------------------------------------------------ output */

static void
ck_json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void
ck_print_json(const struct check *c, int works)
{
	printf("{\n  \"target\": ");
	ck_json_string(c->shown);
	if (c->pid)
		printf(",\n  \"pid\": %ld", c->pid);
	printf(",\n  \"user\": ");
	ck_json_string(c->user);
	printf(",\n  \"library\": ");
	ck_json_string(c->lib);
	printf(",\n  \"works\": %s,\n  \"checks\": [\n", works ? "true" : "false");
	for (int i = 0; i < c->nr; i++) {
		printf("    {\"check\": \"%s\", \"verdict\": \"%s\", \"text\": ",
		    c->r[i].name, ck_words[c->r[i].verdict]);
		ck_json_string(c->r[i].text);
		printf("}%s\n", i + 1 < c->nr ? "," : "");
	}
	printf("  ]\n}\n");
}

static void
ck_print_text(const struct check *c, int works)
{
	char failed[256] = "";
	size_t len = 0;

	for (int i = 0; i < c->nr; i++) {
		printf("%-4s %-7s %s\n", ck_words[c->r[i].verdict], c->r[i].name,
		    c->r[i].text);
		if (c->r[i].verdict == CK_FAIL && len < sizeof(failed))
			len += (size_t)snprintf(failed + len, sizeof(failed) - len,
			    "%s%s", len ? ", " : "", c->r[i].name);
	}
	if (works)
		printf("libstaple can work for %s\n", c->shown);
	else
		printf("libstaple cannot work for %s: %s\n", c->shown, failed);
}

int
ctl_check(int argc, char **argv)
{
	static struct check c;
	static const struct option opts[] = {
		{ "library", required_argument, NULL, 'l' },
		{ "user", required_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char *library = NULL, *user = NULL;
	int json = 0, ch, works = 1;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'l': library = optarg; break;
		case 'u': user = optarg; break;
		case 'j': json = 1; break;
		default: ck_usage();
		}
	}
	if (optind != argc - 1)
		ck_usage();
	ck_target(&c, argv[optind], user);
	ck_library_find(&c, library);
	ck_secure(&c);
	if (c.pid)
		ck_deps_pid(&c);
	else
		ck_deps_program(&c);
	/* the settings the program would have: none from the environment in
	 * secure execution; staplectl's own log stays quiet meanwhile */
	setenv("LIBSTAPLE_LOG", "none", 1);
	if (!c.secure)
		staple_conf_env();
	ck_conf_load(&c);

	ck_library(&c);
	ck_libc(&c);
	ck_tls(&c);
	ck_secure_line(&c);
	ck_config(&c);
	ck_dir(&c);
	ck_trial(&c);
	for (int i = 0; i < c.nr; i++)
		if (c.r[i].verdict == CK_FAIL)
			works = 0;
	if (json)
		ck_print_json(&c, works);
	else
		ck_print_text(&c, works);
	ctl_elf_close(&c.elf);
	ctl_elf_close(&c.libelf);
	return works ? 0 : 1;
}
