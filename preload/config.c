/*
 * config.c - defaults, the config file and the environment.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

#define DEFAULT_CONF "/etc/libstaple.conf"
#define DEFAULT_DIR "/var/lib/libstaple"

struct staple_conf staple_conf;

/* Number values the last load refused (staple_conf_bad_numbers). */
static int bad_numbers;

/* The environment as it was at load time; NULL where unset. */
static struct {
	char conf[PATH_MAX], dir[PATH_MAX], policy[32], log[PATH_MAX], level[16];
	int has_conf, has_dir, has_policy, has_log, has_level;
} env;

static const char *const policy_names[] = {
	"off", "request", "soft", "must-staple", "require"
};

int
staple_policy_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(policy_names) / sizeof(policy_names[0]); i++)
		if (strcasecmp(name, policy_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
staple_policy_name(int policy)
{
	return policy_names[policy];
}

int
staple_conf_secure(void)
{
	return getauxval(AT_SECURE) != 0;
}

/*
 * Copy variable `name` into buf; whether it was set and fitted. Never in a
 * secure-execution process: its environment is its invoker's to choose.
 */
static int
staple_conf_getenv(const char *name, char *buf, size_t size)
{
	const char *v = secure_getenv(name);

	return v != NULL && *v != '\0' && snprintf(buf, size, "%s", v) < (int)size;
}

void
staple_conf_env(void)
{
	env.has_conf = staple_conf_getenv("LIBSTAPLE_CONF", env.conf, sizeof(env.conf));
	env.has_dir = staple_conf_getenv("LIBSTAPLE_DIR", env.dir, sizeof(env.dir));
	env.has_policy = staple_conf_getenv("LIBSTAPLE_POLICY", env.policy,
	    sizeof(env.policy));
	env.has_log = staple_conf_getenv("LIBSTAPLE_LOG", env.log, sizeof(env.log));
	env.has_level = staple_conf_getenv("LIBSTAPLE_LOG_LEVEL", env.level,
	    sizeof(env.level));
}

int
staple_conf_bad_numbers(void)
{
	return bad_numbers;
}

long
staple_duration_parse(const char *v)
{
	long n, unit;
	char *end;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || n < 0)
		return -1;
	switch (*end) {
	case '\0': case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	default: return -1;
	}
	/* too large is bad too, not an overflow (found by fuzz_config) */
	if ((*end != '\0' && end[1] != '\0') || n > LONG_MAX / unit)
		return -1;
	return n * unit;
}

/* A bad policy never weakens enforcement: keep the stricter of the two. */
static int
staple_conf_policy(const char *where, int line, const char *v, int current)
{
	int p = staple_policy_parse(v);
	int kept = current > STAPLE_POLICY_MUST_STAPLE ? current :
	    STAPLE_POLICY_MUST_STAPLE;
	char at[PATH_MAX + 16];

	if (p >= 0)
		return p;
	/* line 0: the value came from the environment variable `where` */
	if (line > 0)
		snprintf(at, sizeof(at), "%s:%d", where, line);
	else
		snprintf(at, sizeof(at), "%s", where);
	staple_log(STAPLE_ERROR, "%s: bad policy '%s' (off, request, soft,"
	    " must-staple or require); keeping %s", at, v,
	    staple_policy_name(kept));
	return kept;
}

/* A number key: a duration (with an optional unit) or a plain count. */
struct conf_number {
	const char *key;
	long *value;
	long min, max;
	int duration;
};

/* A plain non-negative number; -1 when bad. */
static long
staple_number_parse(const char *v)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	return errno != 0 || end == v || *end != '\0' || n < 0 ? -1 : n;
}

/* Set `key` to `v`; 0 when the key is unknown. */
static int
staple_conf_set(const char *file, int line, const char *key, const char *v)
{
	struct conf_number numbers[] = {
		{ "reload_interval", &staple_conf.reload_interval, 1, 300, 1 },
		{ "clock_skew", &staple_conf.clock_skew, 0, 86400, 1 },
		{ "max_age", &staple_conf.max_age, 60, 365 * 86400L, 1 },
		{ "log_interval", &staple_conf.log_interval, 1, 86400, 1 },
		{ "security_level", &staple_conf.security_level, 0, 5, 0 },
		{ "register_max_age", &staple_conf.register_max_age, 86400, 365 * 86400L, 1 },
	};
	/* ca_file: the older name of issuers */
	char *paths[] = { staple_conf.dir, staple_conf.log, staple_conf.issuers,
	    staple_conf.issuers, staple_conf.certs };
	const char *path_keys[] = { "dir", "log", "issuers", "ca_file", "certs" };
	int level;
	long d;

	if (strcmp(key, "policy") == 0) {
		staple_conf.policy = staple_conf_policy(file, line, v,
		    staple_conf.policy);
		return 1;
	}
	if (strcmp(key, "enabled") == 0) {
		if (strcmp(v, "yes") == 0 || strcmp(v, "no") == 0)
			staple_conf.enabled = strcmp(v, "yes") == 0;
		else
			staple_log(STAPLE_ERROR, "%s:%d: bad enabled '%s' (yes or"
			    " no)", file, line, v);
		return 1;
	}
	if (strcmp(key, "register") == 0) {
		if (strcmp(v, "yes") == 0 || strcmp(v, "no") == 0)
			staple_conf.registers = strcmp(v, "yes") == 0;
		else
			staple_log(STAPLE_ERROR, "%s:%d: bad register '%s' (yes or"
			    " no)", file, line, v);
		return 1;
	}
	if (strcmp(key, "verifies") == 0) {
		if (strcmp(v, "after-handshake") == 0 ||
		    strcmp(v, "in-handshake") == 0)
			staple_conf.verifies_after =
			    strcmp(v, "after-handshake") == 0;
		else
			staple_log(STAPLE_ERROR, "%s:%d: bad verifies '%s'"
			    " (in-handshake or after-handshake)", file, line, v);
		return 1;
	}
	if (strcmp(key, "log_level") == 0) {
		if ((level = staple_log_level_parse(v)) < 0)
			staple_log(STAPLE_ERROR, "%s:%d: bad log_level '%s'",
			    file, line, v);
		else
			staple_conf.log_level = level;
		return 1;
	}
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (strcmp(key, path_keys[i]) != 0)
			continue;
		if (snprintf(paths[i], PATH_MAX, "%s", v) >= PATH_MAX)
			staple_log(STAPLE_ERROR, "%s:%d: %s is too long", file,
			    line, key);
		return 1;
	}
	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
		if (strcmp(key, numbers[i].key) != 0)
			continue;
		d = numbers[i].duration ? staple_duration_parse(v) :
		    staple_number_parse(v);
		if (d < numbers[i].min || d > numbers[i].max) {
			bad_numbers++;
			staple_log(STAPLE_ERROR, "%s:%d: bad %s '%s' (%ld to %ld%s);"
			    " keeping %ld", file, line, key, v, numbers[i].min,
			    numbers[i].max, numbers[i].duration ? " seconds" : "",
			    *numbers[i].value);
		} else {
			*numbers[i].value = d;
		}
		return 1;
	}
	return 0;
}

/* Strip leading and trailing white space in place. */
static char *
staple_conf_trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* Start a [host NAME] section for `name`; NULL on allocation failure. */
static struct staple_host *
staple_conf_host(const char *name)
{
	struct staple_host *hosts;
	char *copy;

	hosts = realloc(staple_conf.hosts,
	    (staple_conf.nhosts + 1) * sizeof(*hosts));
	if (hosts == NULL || (copy = strdup(name)) == NULL) {
		if (hosts != NULL)
			staple_conf.hosts = hosts;
		return NULL;
	}
	staple_conf.hosts = hosts;
	hosts[staple_conf.nhosts].name = copy;
	/* Until the section says otherwise, a host gets the default policy. */
	hosts[staple_conf.nhosts].policy = -1;
	return &hosts[staple_conf.nhosts++];
}

/*
 * Whether a [program NAME] section is about this process: NAME is the base
 * name it was started as (argv[0], what ps shows) or of its executable. In
 * a secure-execution process the executable's only: argv[0] is its
 * invoker's to choose (`exec -a`), like its environment.
 */
static int
staple_conf_is_me(const char *name)
{
	char exe[PATH_MAX];
	const char *base;
	ssize_t n;

	if (!staple_conf_secure() &&
	    strcmp(name, program_invocation_short_name) == 0)
		return 1;
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0)
		return 0;
	exe[n] = '\0';
	base = strrchr(exe, '/');
	return strcmp(name, base ? base + 1 : exe) == 0;
}

/* The section the lines being read belong to. */
struct conf_section {
	struct staple_host *host;	/* a [host] section's host */
	int skip;			/* a bad one, or another program's */
};

/* Enter the section `header` ("host NAME", "program NAME") names. */
static void
staple_conf_section(const char *file, int line, char *header,
    struct conf_section *sec)
{
	char *name = header + strcspn(header, " \t");

	sec->host = NULL;
	sec->skip = 1;
	if (*name != '\0') {
		*name++ = '\0';
		name = staple_conf_trim(name);
	}
	if (*name == '\0' || (strcmp(header, "host") != 0 &&
	    strcmp(header, "program") != 0)) {
		staple_log(STAPLE_ERROR, "%s:%d: unknown section [%s%s%s]", file,
		    line, header, *name ? " " : "", name);
		return;
	}
	if (strcmp(header, "program") == 0) {
		/* its keys apply as if they were at the top, here only */
		sec->skip = !staple_conf_is_me(name);
		return;
	}
	sec->host = staple_conf_host(name);
	sec->skip = sec->host == NULL;
}

/* Handle one line of the file, in section `sec`. */
static void
staple_conf_line(const char *file, int line, char *s, struct conf_section *sec)
{
	char *eq, *key, *v, *hash;

	if ((hash = strstr(s, " #")) != NULL || (hash = strstr(s, "\t#")) != NULL)
		*hash = '\0';
	s = staple_conf_trim(s);
	if (*s == '\0' || *s == '#')
		return;
	if (*s == '[') {
		if (s[strlen(s) - 1] != ']') {
			staple_log(STAPLE_ERROR, "%s:%d: malformed section header",
			    file, line);
			sec->host = NULL;
			sec->skip = 1;
			return;
		}
		s[strlen(s) - 1] = '\0';
		staple_conf_section(file, line, staple_conf_trim(s + 1), sec);
		return;
	}
	if ((eq = strchr(s, '=')) == NULL) {
		staple_log(STAPLE_ERROR, "%s:%d: expected 'key = value'", file, line);
		return;
	}
	*eq = '\0';
	key = staple_conf_trim(s);
	v = staple_conf_trim(eq + 1);
	if (sec->skip)
		return;
	if (sec->host != NULL) {
		if (strcmp(key, "policy") == 0)
			sec->host->policy = staple_conf_policy(file, line, v,
			    staple_conf.policy);
		else
			staple_log(STAPLE_ERROR, "%s:%d: '%s' is not allowed in a"
			    " [host] section", file, line, key);
		return;
	}
	if (!staple_conf_set(file, line, key, v))
		staple_log(STAPLE_ERROR, "%s:%d: unknown key '%s'", file, line, key);
}

/*
 * Whether a privileged process may read config file `f` (open as `file`):
 * a setuid, setgid or capability-raised one, or one run by root, reads only
 * a file that root owns and that only root can write.
 */
static int
staple_conf_trusted(FILE *f, const char *file)
{
	struct stat st;

	if (!staple_conf_secure() && geteuid() != 0)
		return 1;
	if (fstat(fileno(f), &st) == 0 && st.st_uid == 0 &&
	    !(st.st_mode & (S_IWGRP | S_IWOTH)))
		return 1;
	staple_log(STAPLE_ERROR, "%s: not read: a privileged process reads only"
	    " a config file owned by root and writable by root alone", file);
	return 0;
}

/* Read the config file; a missing default file is fine. */
static void
staple_conf_file(const char *file, int named)
{
	struct conf_section sec = { NULL, 0 };
	char buf[PATH_MAX + 64];
	int line = 0;
	FILE *f;

	if ((f = fopen(file, "re")) == NULL) {
		if (errno != ENOENT || named)
			staple_log(STAPLE_ERROR, "%s: %s", file, strerror(errno));
		return;
	}
	if (!staple_conf_trusted(f, file)) {
		fclose(f);
		return;
	}
	while (fgets(buf, sizeof(buf), f) != NULL) {
		line++;
		if (strchr(buf, '\n') == NULL && !feof(f)) {
			staple_log(STAPLE_ERROR, "%s:%d: line too long", file, line);
			while (fgets(buf, sizeof(buf), f) != NULL &&
			    strchr(buf, '\n') == NULL)
				;
			continue;
		}
		staple_conf_line(file, line, buf, &sec);
	}
	fclose(f);
}

/* A secure-execution process opens no log file: such a path means syslog. */
static void
staple_conf_secure_log(void)
{
	const char *l = staple_conf.log;

	if (!staple_conf_secure() || strcmp(l, "stderr") == 0 ||
	    strcmp(l, "syslog") == 0 || strcmp(l, "none") == 0)
		return;
	snprintf(staple_conf.log, sizeof(staple_conf.log), "syslog");
}

void
staple_conf_load(void)
{
	int level;

	staple_conf.log_level = STAPLE_WARN;
	bad_numbers = 0;
	snprintf(staple_conf.log, sizeof(staple_conf.log), "%s",
	    isatty(STDERR_FILENO) ? "stderr" : "syslog");
	snprintf(staple_conf.dir, sizeof(staple_conf.dir), "%s", DEFAULT_DIR);
	snprintf(staple_conf.conf, sizeof(staple_conf.conf), "%s",
	    env.has_conf ? env.conf : DEFAULT_CONF);
	staple_conf.policy = STAPLE_POLICY_MUST_STAPLE;
	staple_conf.reload_interval = 5;
	staple_conf.clock_skew = 300;
	staple_conf.max_age = 7 * 86400L;
	staple_conf.log_interval = 600;
	staple_conf.security_level = 2;
	staple_conf.enabled = 1;
	staple_conf.registers = 1;
	staple_conf.register_max_age = 14 * 86400L;
	staple_conf.verifies_after = 0;

	/* The environment's log settings apply while the file is read, too. */
	level = env.has_level ? staple_log_level_parse(env.level) : -1;
	staple_log_configure(env.has_log ? env.log : staple_conf.log,
	    level >= 0 ? level : staple_conf.log_level);
	staple_conf_file(staple_conf.conf, env.has_conf);

	if (env.has_dir)
		snprintf(staple_conf.dir, sizeof(staple_conf.dir), "%s", env.dir);
	if (env.has_log)
		snprintf(staple_conf.log, sizeof(staple_conf.log), "%s", env.log);
	if (env.has_level && level < 0)
		staple_log(STAPLE_ERROR, "LIBSTAPLE_LOG_LEVEL: bad level '%s'",
		    env.level);
	else if (env.has_level)
		staple_conf.log_level = level;
	if (env.has_policy)
		staple_conf.policy = staple_conf_policy("LIBSTAPLE_POLICY", 0,
		    env.policy, staple_conf.policy);
	staple_conf_secure_log();
	staple_log_configure(staple_conf.log, staple_conf.log_level);
}

/* How well section `pattern` matches `host`: 0 not at all, more is better. */
static size_t
staple_conf_host_match(const char *pattern, const char *host)
{
	size_t plen = strlen(pattern), hlen = strlen(host);

	if (strcasecmp(pattern, host) == 0)
		return (size_t)-1;
	/* "*.example.com" matches names ending in ".example.com" */
	if (plen > 2 && pattern[0] == '*' && pattern[1] == '.' && hlen > plen - 1 &&
	    strcasecmp(host + hlen - (plen - 1), pattern + 1) == 0)
		return plen;
	return 0;
}

int
staple_conf_host_policy(const char *host)
{
	size_t best = 0, score;
	int policy = staple_conf.policy;

	for (int i = 0; host != NULL && i < staple_conf.nhosts; i++) {
		score = staple_conf_host_match(staple_conf.hosts[i].name, host);
		if (score > best && staple_conf.hosts[i].policy >= 0) {
			best = score;
			policy = staple_conf.hosts[i].policy;
		}
	}
	return policy;
}
