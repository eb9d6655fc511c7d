/*
 * check.c - staplectl check PROGRAM|PID: before anyone edits a unit file or
 * /etc/ld.so.preload, say whether libstaple can work for that program on
 * this host, and why not.
 *
 * Nothing of the program runs (target.c finds what it is made of); versions
 * are read from the files' bytes (ctlelf.c). No OpenSSL is loaded into
 * staplectl for this command.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <gnu/libc-version.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../preload/config.h"
#include "check.h"
#include "ctlelf.h"
#include "target.h"

enum { CK_OK, CK_WARN, CK_FAIL, CK_SKIP };
static const char *const ck_words[] = { "ok", "warn", "fail", "skip" };

#define CK_MAX 12

struct ck_result {
	const char *name;
	int verdict;
	char text[1536];
};

struct check {
	struct ctl_target t;		/* the program or process */
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

/* ------------------------------------------------------------ checks */

/* libstaple.so: --library, else beside staplectl (a build), else installed. */
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
	if (c->t.elf.machine != c->libelf.machine)
		ck_add(c, "library", CK_FAIL, "%s is built for %s, the program"
		    " for %s", c->lib, ctl_elf_machine_name(c->libelf.machine),
		    ctl_elf_machine_name(c->t.elf.machine));
	else if (strpbrk(c->lib, " :") != NULL)
		ck_add(c, "library", CK_FAIL, "%s: a space or colon in the path:"
		    " LD_PRELOAD and /etc/ld.so.preload cannot name it", c->lib);
	else if (!ctl_target_path_may(&c->t, c->lib, 4, why, sizeof(why)))
		ck_add(c, "library", CK_FAIL, "%s is not readable by %s (%s)",
		    c->lib, c->t.user, why);
	else
		ck_add(c, "library", CK_OK, "%s (%s), readable by %s", c->lib,
		    ctl_elf_machine_name(c->libelf.machine), c->t.user);
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
	const struct ctl_dep *libc = ctl_target_dep(&c->t, "libc.so.");
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
	const struct ctl_dep *d;
	size_t len = 0;

	*buf = '\0';
	for (size_t i = 0; i < sizeof(ck_others) / sizeof(ck_others[0]); i++)
		if ((d = ctl_target_dep(&c->t, ck_others[i].prefix)) != NULL && len < size)
			len += (size_t)snprintf(buf + len, size - len, "%s%s (%s)",
			    len ? ", " : "", ck_others[i].name,
			    d->path[0] ? d->path : d->name);
}

/* The OpenSSL version text of libssl `ssl`, else of a libcrypto beside it. */
static int
ck_ssl_text(const struct check *c, const struct ctl_dep *ssl, char *buf,
    size_t size)
{
	const struct ctl_dep *crypto = ctl_target_dep(&c->t, "libcrypto.so");
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
	if (ctl_elf_defines(&c->t.elf, "SSL_CTX_new"))
		ck_add(c, "tls", CK_FAIL, "OpenSSL is linked statically"
		    " (SSL_CTX_new is defined in the executable, no libssl):"
		    " no preload can reach it");
	else if (ctl_elf_contains(&c->t.elf, CK_SSL_MARK))
		ck_add(c, "tls", CK_FAIL, "OpenSSL is linked statically (no"
		    " symbol table, but libssl's cipher suite names are in the"
		    " executable, and no libssl): no preload can reach it");
	else if (*others != '\0')
		ck_add(c, "tls", CK_FAIL, "another TLS library: %s, not"
		    " OpenSSL's libssl; libstaple serves OpenSSL programs only",
		    others);
	else if (c->t.pid != 0)
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
	const struct ctl_dep *ssl = ctl_target_dep(&c->t, "libssl.so");
	char others[1024], text[128], also[1100] = "";

	if (!c->t.deps_known) {
		ck_add(c, "tls", CK_FAIL, "its libraries are unknown: %s",
		    c->t.deps_why);
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

/* Setuid, setgid, file capabilities: what secure execution means here. */
static void
ck_secure_line(struct check *c)
{
	if (!c->t.secure)
		ck_add(c, "secure", CK_OK, "no setuid, setgid or file"
		    " capabilities: LIBSTAPLE_* variables apply");
	else
		ck_add(c, "secure", CK_WARN, "%s: secure execution: no"
		    " LIBSTAPLE_* variable is honoured, no log file is opened"
		    " (syslog instead), the config file is read only if root"
		    " owns it and only root can write it, and the loader ignores"
		    " an LD_PRELOAD path (with a slash): deploy through"
		    " /etc/ld.so.preload", c->t.secure_why);
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
	gid_t groups[CTL_GROUPS], egid = getegid();
	int n = getgroups(CTL_GROUPS, groups);
	int as_user = geteuid() == 0 && c->t.uid != 0 && n >= 0;

	char *name = program_invocation_short_name;

	if (as_user && (setgroups((size_t)c->t.ngroups, c->t.groups) != 0 ||
	    setegid(c->t.gid) != 0 || seteuid(c->t.uid) != 0))
		ctl_check_die(c->t.user, "cannot take this user's ids to read the config");
	/* [program NAME] sections match the name it is started as */
	program_invocation_short_name = c->t.argv0;
	staple_conf_load();
	program_invocation_short_name = name;
	if (as_user && (seteuid(0) != 0 || setegid(egid) != 0 ||
	    setgroups((size_t)n, groups) != 0))
		ctl_check_die("root", "cannot take back staplectl's own ids");
}

/* The config file, as the program would see it (preload/config.c's rule). */
static void
ck_config(struct check *c)
{
	const char *file = staple_conf.conf;
	int named = !c->t.secure && getenv("LIBSTAPLE_CONF") != NULL;
	int privileged = c->t.secure || c->t.uid == 0;
	char why[PATH_MAX + 128];
	struct stat st;

	if (stat(file, &st) != 0 && errno == ENOENT && !named)
		ck_add(c, "config", CK_OK, "%s: none; the defaults apply", file);
	else if (stat(file, &st) != 0)
		ck_add(c, "config", CK_FAIL, "%s%s: %s; the defaults apply", file,
		    named ? " (LIBSTAPLE_CONF)" : "", strerror(errno));
	else if (!ctl_target_path_may(&c->t, file, 4, why, sizeof(why)))
		ck_add(c, "config", CK_FAIL, "%s is not readable by %s (%s); the"
		    " defaults apply", file, c->t.user, why);
	else if (privileged && (st.st_uid != 0 || (st.st_mode & 022)))
		ck_add(c, "config", CK_FAIL, "%s (owner %ld, mode %04o) is not"
		    " read: a privileged process (%s) reads only a config file"
		    " owned by root and writable by root alone", file,
		    (long)st.st_uid, (unsigned)st.st_mode & 07777,
		    c->t.secure ? "secure execution" : "run by root");
	else if (st.st_mode & 022)
		ck_add(c, "config", CK_WARN, "%s (owner %ld, mode %04o) is"
		    " writable by %s: they can change this program's settings",
		    file, (long)st.st_uid, (unsigned)st.st_mode & 07777,
		    (st.st_mode & 002) ? "every user" : "its group");
	else if (!staple_conf.enabled)
		ck_add(c, "config", CK_FAIL, "%s (owner %ld, mode %04o): read; it"
		    " says enabled = no for %s: libstaple steps aside", file,
		    (long)st.st_uid, (unsigned)st.st_mode & 07777, c->t.argv0);
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
	if (!ctl_target_path_may(&c->t, dir, 5, why, sizeof(why))) {
		ck_add(c, "dir", CK_FAIL, "%s is not readable by %s (%s): the"
		    " server role cannot serve staples", dir, c->t.user, why);
		return;
	}
	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			if (de->d_name[0] == '.' || stat(path, &st) != 0 ||
			    !S_ISREG(st.st_mode))
				continue;
			files++;
			unreadable += !ctl_target_may(&c->t, &st, 4);
		}
		closedir(d);
	}
	if (unreadable > 0)
		ck_add(c, "dir", CK_WARN, "%s: %d of its %d files are not"
		    " readable by %s", dir, unreadable, files, c->t.user);
	else
		ck_add(c, "dir", CK_OK, "%s: readable by %s (%d files)", dir,
		    c->t.user, files);
}

/*
 * A trial load: the program's loader maps the program with the library
 * preloaded, checks versions and binds every symbol, and exits; neither
 * the program's code nor the library's runs.
 *
 * Safe for a setuid program too: what is executed is the loader, as the
 * invoking user, so the file's setuid bit grants nothing, and the program
 * is only mapped. But not the same as its real start: there the kernel
 * sets AT_SECURE and the loader ignores an LD_PRELOAD entry with a slash
 * (and preloads a bare name only from the system directories, and only
 * if it is setuid itself), so the line says that only /etc/ld.so.preload
 * reaches it.
 */
static void
ck_trial(struct check *c)
{
	static char out[CTL_LOAD_OUT];
	const char *base = ctl_check_base(c->lib), *listed = NULL;
	char *line, *save, *s;
	const char *note = c->t.secure ? "; run for real, this secure-execution"
	    " program's loader ignores an LD_PRELOAD path: only"
	    " /etc/ld.so.preload reaches it" : "";

	if (!c->lib_usable) {
		ck_add(c, "trial", CK_SKIP, "no library to load");
		return;
	}
	if (c->t.interp[0] == '\0') {
		ck_add(c, "trial", CK_SKIP, "not done: %s", c->t.interp_why);
		return;
	}
	ctl_target_load(&c->t, c->lib, out, sizeof(out));
	for (line = strtok_r(out, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		for (s = line; isspace((unsigned char)*s); s++)
			;
		if (ctl_target_load_error(s) && strstr(s, base) != NULL) {
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
	ck_json_string(c->t.shown);
	if (c->t.pid)
		printf(",\n  \"pid\": %ld", c->t.pid);
	printf(",\n  \"user\": ");
	ck_json_string(c->t.user);
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
		printf("libstaple can work for %s\n", c->t.shown);
	else
		printf("libstaple cannot work for %s: %s\n", c->t.shown, failed);
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
	ctl_target_open(&c.t, argv[optind], user);
	ck_library_find(&c, library);
	ctl_target_secure(&c.t);
	ctl_target_deps(&c.t);
	/* the settings the program would have: none from the environment in
	 * secure execution; staplectl's own log stays quiet meanwhile */
	setenv("LIBSTAPLE_LOG", "none", 1);
	if (!c.t.secure)
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
	ctl_target_close(&c.t);
	ctl_elf_close(&c.libelf);
	return works ? 0 : 1;
}