/*
 * target.c - the program or process staplectl check looks at. Nothing of
 * it runs: a PROGRAM's libraries are what its program loader lists in trace
 * mode (LD_TRACE_LOADED_OBJECTS, what ldd does: the loader maps the
 * objects, resolves versions and, with LD_BIND_NOW, symbols, then exits
 * before any constructor or main), a process's what /proc/PID/maps shows.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "ctlelf.h"
#include "target.h"

extern char **environ;

void
ctl_check_die(const char *what, const char *msg)
{
	fprintf(stderr, "staplectl: %s: %s\n", what, msg);
	exit(3);
}

const char *
ctl_check_base(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* ------------------------------------------------------------ permissions */

static int
ck_in_group(const struct ctl_target *t, gid_t g)
{
	if (g == t->gid)
		return 1;
	for (int i = 0; i < t->ngroups; i++)
		if (t->groups[i] == g)
			return 1;
	return 0;
}

/*
 * Whether the target's user may `want` (4 read, 2 write, 1 search/execute)
 * file `st`, by its mode bits (an ACL granting more is not looked at).
 */
int
ctl_target_may(const struct ctl_target *t, const struct stat *st, int want)
{
	int bits;

	if (t->uid == 0)
		return !(want & 1) || S_ISDIR(st->st_mode) || (st->st_mode & 0111);
	if (st->st_uid == t->uid)
		bits = (st->st_mode >> 6) & 7;
	else if (ck_in_group(t, st->st_gid))
		bits = (st->st_mode >> 3) & 7;
	else
		bits = st->st_mode & 7;
	return (bits & want) == want;
}

/*
 * Whether the target's user may `want` `path`: search permission on every
 * directory above it, then `want` on it. When not, why in `why`.
 */
int
ctl_target_path_may(const struct ctl_target *t, const char *path, int want,
    char *why, size_t size)
{
	char real[PATH_MAX], *slash;
	struct stat st;

	if (realpath(path, real) == NULL) {
		snprintf(why, size, "%s", strerror(errno));
		return 0;
	}
	for (slash = real; (slash = strchr(slash + 1, '/')) != NULL; ) {
		*slash = '\0';
		if (stat(real, &st) == 0 && !ctl_target_may(t, &st, 1)) {
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
	if (!ctl_target_may(t, &st, want)) {
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
ck_user(struct ctl_target *t, const char *name)
{
	struct passwd *pw = name ? getpwnam(name) : getpwuid(getuid());

	if (pw == NULL)
		ctl_check_die(name ? name : "the invoking user", "no such user");
	snprintf(t->user, sizeof(t->user), "%s", pw->pw_name);
	t->uid = pw->pw_uid;
	t->gid = pw->pw_gid;
	t->ngroups = CTL_GROUPS;
	if (getgrouplist(pw->pw_name, pw->pw_gid, t->groups, &t->ngroups) < 0)
		t->ngroups = 0;
}

/* The file system ids and groups of process t->pid (/proc/PID/status). */
static void
ck_pid_user(struct ctl_target *t)
{
	char path[64], line[4096], *p, *end;
	struct passwd *pw;
	unsigned long v[4];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", t->pid);
	if ((f = fopen(path, "re")) == NULL)
		ctl_check_die(path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "Uid: %lu %lu %lu %lu", &v[0], &v[1], &v[2],
		    &v[3]) == 4)
			t->uid = (uid_t)v[3];
		else if (sscanf(line, "Gid: %lu %lu %lu %lu", &v[0], &v[1],
		    &v[2], &v[3]) == 4)
			t->gid = (gid_t)v[3];
		else if (strncmp(line, "Groups:", 7) == 0)
			for (p = line + 7; t->ngroups < CTL_GROUPS; p = end) {
				v[0] = strtoul(p, &end, 10);
				if (end == p)
					break;
				t->groups[t->ngroups++] = (gid_t)v[0];
			}
	}
	fclose(f);
	if ((pw = getpwuid(t->uid)) != NULL)
		snprintf(t->user, sizeof(t->user), "%s", pw->pw_name);
	else
		snprintf(t->user, sizeof(t->user), "uid %ld", (long)t->uid);
}

/*
 * The process's LIBSTAPLE_CONF and LIBSTAPLE_DIR become staplectl's own (the
 * config code reads them from there), its LD_LIBRARY_PATH the loader's.
 */
static void
ck_pid_env(struct ctl_target *t)
{
	static char buf[256 * 1024];
	char path[64];
	size_t n = 0;
	ssize_t got;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/environ", t->pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	while (n < sizeof(buf) - 1 &&
	    (got = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)got;
	close(fd);
	buf[n] = '\0';
	t->pid_env = 1;
	unsetenv("LIBSTAPLE_CONF");
	unsetenv("LIBSTAPLE_DIR");
	for (char *p = buf; p < buf + n; p += strlen(p) + 1) {
		if (strncmp(p, "LIBSTAPLE_CONF=", 15) == 0)
			setenv("LIBSTAPLE_CONF", p + 15, 1);
		else if (strncmp(p, "LIBSTAPLE_DIR=", 14) == 0)
			setenv("LIBSTAPLE_DIR", p + 14, 1);
		else if (strncmp(p, "LD_LIBRARY_PATH=", 16) == 0)
			t->has_ldpath = snprintf(t->ldpath, sizeof(t->ldpath),
			    "%s", p + 16) < (int)sizeof(t->ldpath);
	}
}

/* The base name of the process's argv[0] (else of its executable). */
static void
ck_pid_argv0(struct ctl_target *t)
{
	char path[64], buf[PATH_MAX];
	ssize_t n = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", t->pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = '\0';
	snprintf(t->argv0, sizeof(t->argv0), "%s", ctl_check_base(n > 0 && *buf ?
	    buf : t->shown));
}

/*
 * Use the program's loader only when it is the one staplectl itself runs
 * with: the host's glibc loader, whose trace mode never runs the program.
 * Any other (a static program has none) could run it.
 */
static void
ck_interp(struct ctl_target *t)
{
	struct ctl_elf self;
	char mine[PATH_MAX], theirs[PATH_MAX];
	struct stat a, b;
	int have;

	if (ctl_elf_open("/proc/self/exe", &self) != 0)
		ctl_check_die("/proc/self/exe", strerror(errno));
	have = ctl_elf_interp(&self, mine, sizeof(mine));
	ctl_elf_close(&self);
	if (!ctl_elf_interp(&t->elf, theirs, sizeof(theirs))) {
		snprintf(t->interp_why, sizeof(t->interp_why), "%s",
		    t->elf.machine == 0 ? "not an ELF program" : !t->elf.elf64 ?
		    "not a 64-bit program" : "a static executable (no program"
		    " loader, so no preload)");
		return;
	}
	if (!have || stat(mine, &a) != 0 || stat(theirs, &b) != 0 ||
	    a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
		snprintf(t->interp_why, sizeof(t->interp_why), "its program"
		    " loader %s is not this host's %s", theirs, have ? mine : "?");
		return;
	}
	snprintf(t->interp, sizeof(t->interp), "%s", theirs);
}

/* PROGRAM or PID, into c. */
void
ctl_target_open(struct ctl_target *t, const char *arg, const char *user)
{
	char *end;
	long pid = strtol(arg, &end, 10);

	if (*end == '\0' && end != arg && pid > 0 && !strchr(arg, '/')) {
		if (user != NULL)
			ctl_check_die("--user", "not with a PID: the process's own ids count");
		t->pid = pid;
		snprintf(t->exe, sizeof(t->exe), "/proc/%ld/exe", pid);
		if (access(t->exe, F_OK) != 0 && errno == ENOENT)
			ctl_check_die(arg, "no such process");
		if (readlink(t->exe, t->shown, sizeof(t->shown) - 1) <= 0)
			snprintf(t->shown, sizeof(t->shown), "process %ld", pid);
		ck_pid_user(t);
		ck_pid_env(t);
		ck_pid_argv0(t);
	} else {
		if (!ck_find_program(arg, t->exe, sizeof(t->exe)))
			ctl_check_die(arg, "no such program");
		snprintf(t->shown, sizeof(t->shown), "%s", t->exe);
		snprintf(t->argv0, sizeof(t->argv0), "%s", ctl_check_base(t->exe));
		ck_user(t, user);
	}
	if (ctl_elf_open(t->exe, &t->elf) != 0)
		ctl_check_die(t->exe, strerror(errno));
	if (t->elf.machine == 0)
		ctl_check_die(t->exe, t->elf.size > 2 && memcmp(t->elf.map, "#!", 2) == 0 ?
		    "a script: check its interpreter, or the running process by"
		    " PID" : "not an ELF program");
	ck_interp(t);
}

/* ------------------------------------------------------------ loader */

/*
 * The environment the loader runs in: staplectl's, without any preload,
 * trace or audit setting of its own, plus the trace settings, `preload`
 * (NULL: none) and, for a process, its LD_LIBRARY_PATH.
 */
static char **
ck_loader_env(const struct ctl_target *t, const char *preload, char *pre,
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
		    !t->pid_env)
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
	if (t->pid_env && t->has_ldpath) {
		snprintf(ldpath, ldsize, "LD_LIBRARY_PATH=%s", t->ldpath);
		env[k++] = ldpath;
	}
	return env;
}

/*
 * Run the program's loader in trace mode on the program, with `preload`;
 * its stdout and stderr together in `out`. Its exit status, -1 when it
 * could not run.
 */
int
ctl_target_load(const struct ctl_target *t, const char *preload, char *out,
    size_t size)
{
	char pre[PATH_MAX + 16], ldpath[PATH_MAX + 32];
	char *argv[] = { (char *)t->interp, (char *)t->exe, NULL };
	char **env = ck_loader_env(t, preload, pre, sizeof(pre), ldpath,
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
		execve(t->interp, argv, env);
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
int
ctl_target_load_error(const char *s)
{
	return strstr(s, "not found (required by") != NULL ||
	    strstr(s, "undefined symbol") != NULL || strstr(s, "ERROR:") != NULL ||
	    strstr(s, "cannot be preloaded") != NULL ||
	    strstr(s, "error while loading") != NULL ||
	    strstr(s, "wrong ELF class") != NULL;
}

/* One line of the loader's listing ("NAME => PATH (0x...)") into t->deps. */
static void
ck_dep_line(struct ctl_target *t, char *s)
{
	char *arrow, *addr, *path = s, *name = s;
	struct ctl_dep *d;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0' || ctl_target_load_error(s) || t->ndeps == CTL_DEPS)
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
	d = &t->deps[t->ndeps++];
	snprintf(d->path, sizeof(d->path), "%s",
	    strncmp(path, "not found", 9) == 0 ? "" : path);
	snprintf(d->name, sizeof(d->name), "%s", ctl_check_base(name));
}

/* The program's libraries, as its loader would find them now. */
static void
ck_deps_program(struct ctl_target *t)
{
	static char out[CTL_LOAD_OUT];
	char *line, *save;
	int st;

	if (t->interp[0] == '\0') {
		/* a static executable has no libraries: known, and none */
		t->deps_known = strstr(t->interp_why, "static") != NULL;
		snprintf(t->deps_why, sizeof(t->deps_why), "%s", t->interp_why);
		return;
	}
	st = ctl_target_load(t, NULL, out, sizeof(out));
	if (st != 0) {
		line = strtok_r(out, "\n", &save);
		if (snprintf(t->deps_why, sizeof(t->deps_why), "its loader"
		    " says: %s", line ? line : "nothing") >= (int)sizeof(t->deps_why))
			t->deps_why[sizeof(t->deps_why) - 2] = '.';
		return;
	}
	for (line = strtok_r(out, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		ck_dep_line(t, line);
	t->deps_known = 1;
}

/* The files mapped into the process (/proc/PID/maps). */
static void
ck_deps_pid(struct ctl_target *t)
{
	char path[64], line[PATH_MAX + 256], *file;
	struct ctl_dep *d;
	int seen;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/maps", t->pid);
	if ((f = fopen(path, "re")) == NULL) {
		snprintf(t->deps_why, sizeof(t->deps_why), "%s: %s", path,
		    strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL && t->ndeps < CTL_DEPS) {
		line[strcspn(line, "\n")] = '\0';
		if ((file = strchr(line, '/')) == NULL)
			continue;
		seen = 0;
		for (int i = 0; i < t->ndeps && !seen; i++)
			seen = strcmp(t->deps[i].path, file) == 0;
		if (seen)
			continue;
		d = &t->deps[t->ndeps++];
		snprintf(d->path, sizeof(d->path), "%s", file);
		snprintf(d->name, sizeof(d->name), "%s", ctl_check_base(file));
	}
	fclose(f);
	t->deps_known = 1;
}

/* The first library whose name starts with `prefix` ("libssl.so"), or NULL. */
const struct ctl_dep *
ctl_target_dep(const struct ctl_target *t, const char *prefix)
{
	for (int i = 0; i < t->ndeps; i++)
		if (strncmp(t->deps[i].name, prefix, strlen(prefix)) == 0)
			return &t->deps[i];
	return NULL;
}

/* Secure execution for a PID: AT_SECURE in its auxiliary vector. */
static int
ck_secure_pid(struct ctl_target *t)
{
	unsigned long av[2];
	char path[64];
	int fd, secure = -1;

	snprintf(path, sizeof(path), "/proc/%ld/auxv", t->pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	while (read(fd, av, sizeof(av)) == (ssize_t)sizeof(av) && av[0] != 0)
		if (av[0] == 23 /* AT_SECURE */)
			secure = av[1] != 0;
	close(fd);
	if (secure > 0)
		snprintf(t->secure_why, sizeof(t->secure_why), "the process runs"
		    " in secure execution (AT_SECURE)");
	return secure;
}

/*
 * Secure execution for a file: setuid or setgid bits that change the
 * user's ids, or file capabilities, on a file system that honours them.
 * The user's effective ids become the file's.
 */
static int
ck_secure_file(struct ctl_target *t)
{
	struct statvfs vfs;
	struct passwd *pw;
	struct group *gr;
	struct stat st;
	size_t len = 0;
	char *w = t->secure_why;
	size_t size = sizeof(t->secure_why);

	if (stat(t->exe, &st) != 0 ||
	    (statvfs(t->exe, &vfs) == 0 && (vfs.f_flag & ST_NOSUID)))
		return 0;
	if ((st.st_mode & S_ISUID) && st.st_uid != t->uid) {
		pw = getpwuid(st.st_uid);
		len += (size_t)snprintf(w + len, size - len, "setuid %s",
		    pw ? pw->pw_name : "?");
		t->uid = st.st_uid;
	}
	if ((st.st_mode & S_ISGID) && st.st_gid != t->gid && len < size) {
		gr = getgrgid(st.st_gid);
		len += (size_t)snprintf(w + len, size - len, "%ssetgid %s",
		    len ? ", " : "", gr ? gr->gr_name : "?");
		t->gid = st.st_gid;
	}
	if (getxattr(t->exe, "security.capability", NULL, 0) > 0 && len < size)
		len += (size_t)snprintf(w + len, size - len, "%sfile"
		    " capabilities", len ? ", " : "");
	return len > 0;
}

/* Whether the program runs in secure execution, and as whom. */
void
ctl_target_secure(struct ctl_target *t)
{
	int secure = t->pid ? ck_secure_pid(t) : -1;

	if (secure < 0)
		secure = ck_secure_file(t);
	t->secure = secure;
}

void
ctl_target_deps(struct ctl_target *t)
{
	if (t->pid)
		ck_deps_pid(t);
	else
		ck_deps_program(t);
}

void
ctl_target_close(struct ctl_target *t)
{
	if (t != NULL)
		ctl_elf_close(&t->elf);
}
