/*
 * staplectl enable|disable SERVICE: the systemd drop-in that runs a service
 * under libstaple, /etc/systemd/system/SERVICE.service.d/libstaple.conf,
 * setting LD_PRELOAD to the installed library and nothing else (a
 * service's own LD_PRELOAD, if it had one, is replaced: say it in a drop-in
 * of your own instead). Written by rename, so systemd never reads half of
 * it. Then `systemctl daemon-reload` when systemd runs; the service itself
 * is not restarted: that is the operator's moment to choose.
 *
 * --root DIR writes under DIR (an image being built, a test) and reloads
 * nothing. Exit status 0 done, 1 failed, 3 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "staplectl.h"

#define MARK "# Written by `staplectl enable"

/* SERVICE, without ".service": a unit name's characters only; 0 if not. */
static int
unit_name(const char *arg, char *out, size_t size)
{
	size_t n = strlen(arg);

	if (n > 8 && strcmp(arg + n - 8, ".service") == 0)
		n -= 8;
	if (n == 0 || n >= size || n > 200 || arg[0] == '.' || arg[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789:_.@-\\", arg[i]))
			return 0;
	memcpy(out, arg, n);
	out[n] = '\0';
	return strstr(out, "..") == NULL;
}

/* libstaple.so: beside staplectl (a build), else PREFIX/lib/libstaple/. */
static void
library_path(char *lib, size_t size)
{
	char self[PATH_MAX], *slash;
	ssize_t n;

	snprintf(lib, size, "/usr/lib/libstaple/libstaple.so");
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0)
		return;
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) != NULL)
		*slash = '\0';
	if (snprintf(lib, size, "%s/libstaple.so", self) < (int)size &&
	    access(lib, F_OK) == 0)
		return;
	if ((slash = strrchr(self, '/')) != NULL)
		*slash = '\0';
	if (snprintf(lib, size, "%s/lib/libstaple/libstaple.so", self) >=
	    (int)size)
		lib[0] = '\0';
}

/* mkdir -p `path` (0755), for the directories under --root too. */
static int
mkdirs(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			*p = '/';
			return 0;
		}
		*p = '/';
	}
	return mkdir(path, 0755) == 0 || errno == EEXIST;
}

/* `text` into `file` through a temporary file and a rename. */
static int
write_file(const char *file, const char *text)
{
	char tmp[PATH_MAX];
	size_t len = strlen(text);
	int fd, ok;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", file) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return 0;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
		return 0;
	ok = write(fd, text, len) == (ssize_t)len && fchmod(fd, 0644) == 0 &&
	    fsync(fd) == 0;
	ok = close(fd) == 0 && ok && rename(tmp, file) == 0;
	if (!ok)
		unlink(tmp);
	return ok;
}

/*
 * `systemctl daemon-reload` when systemd runs this machine (and not for
 * --root); else say what to run. Then what applies the change.
 */
static int
reload(const char *root, const char *unit, const char *verb)
{
	pid_t pid;
	int status = 1;

	if (root != NULL) {
		printf("under %s: its systemd reads it when it starts\n", root);
		return 0;
	}
	/* sd_booted()'s test: systemd is PID 1 */
	if (access("/run/systemd/system", F_OK) != 0) {
		printf("systemd is not running here: once it is, run"
		    " systemctl daemon-reload && systemctl restart %s\n", unit);
		return 0;
	}
	fflush(NULL);
	if ((pid = fork()) == 0) {
		execlp("systemctl", "systemctl", "daemon-reload", (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || status != 0) {
		printf("systemctl daemon-reload failed: run it, then systemctl"
		    " restart %s\n", unit);
		return 1;
	}
	printf("systemctl daemon-reload: done; %s takes effect when %s"
	    " restarts: systemctl restart %s\n", verb, unit, unit);
	return 0;
}

int
ctl_enable(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "library", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 }
	};
	char unit[256], dir[PATH_MAX], file[PATH_MAX], lib[PATH_MAX];
	char text[PATH_MAX + 1024];
	const char *root = NULL, *library = NULL;
	int opt, disable = strcmp(argv[0], "disable") == 0, fd;
	ssize_t n;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'r')
			root = optarg;
		else if (opt == 'l' && !disable)
			library = optarg;
		else
			ctl_die(argv[0], disable ? "usage: disable [--root DIR]"
			    " SERVICE" : "usage: enable [--root DIR]"
			    " [--library FILE] SERVICE");
	}
	if (optind != argc - 1 || !unit_name(argv[optind], unit, sizeof(unit)))
		ctl_die(argv[0], optind == argc - 1 ? "not a service name" :
		    "name one SERVICE");
	if (library != NULL)
		snprintf(lib, sizeof(lib), "%s", library);
	else
		library_path(lib, sizeof(lib));
	if (lib[0] != '/' || strpbrk(lib, " \t\n\"'\\%$") != NULL)
		ctl_die(lib, "the library must be an absolute path without"
		    " spaces, quotes or specials");
	if (snprintf(dir, sizeof(dir), "%s/etc/systemd/system/%s.service.d",
	    root ? root : "", unit) >= (int)sizeof(dir) ||
	    snprintf(file, sizeof(file), "%s/libstaple.conf", dir) >=
	    (int)sizeof(file))
		ctl_die(argv[optind], "too long");
	if (disable) {
		/* only ours: another drop-in of that name is left alone */
		if ((fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
			printf("%s: not there; nothing to do\n", file);
			return errno == ENOENT ? 0 : 1;
		}
		n = read(fd, text, strlen(MARK));
		close(fd);
		if (n != (ssize_t)strlen(MARK) ||
		    strncmp(text, MARK, strlen(MARK)) != 0) {
			printf("%s: not written by staplectl enable; left"
			    " alone\n", file);
			return 1;
		}
		if (unlink(file) != 0)
			ctl_die(file, strerror(errno));
		rmdir(dir);	/* when nothing else is in it */
		printf("removed %s\n", file);
		return reload(root, unit, "removing it");
	}
	if (snprintf(text, sizeof(text), MARK " %s`: %s.service runs under\n"
	    "# libstaple, which staples OCSP responses for the certificates it"
	    " loads.\n# `staplectl disable %s` removes this file.\n"
	    "[Service]\nEnvironment=LD_PRELOAD=%s\n", unit, unit, unit, lib) >=
	    (int)sizeof(text))
		ctl_die(lib, "too long");
	if (!mkdirs(dir) || !write_file(file, text))
		ctl_die(file, strerror(errno));
	printf("wrote %s: LD_PRELOAD=%s\n", file, lib);
	if (root == NULL && access(lib, R_OK) != 0)
		printf("warning: %s: %s\n", lib, strerror(errno));
	return reload(root, unit, "it");
}
