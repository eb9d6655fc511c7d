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
#include <unistd.h>

#include "config.h"
#include "log.h"

#define DEFAULT_CONF "/etc/libstaple.conf"
#define DEFAULT_DIR "/var/lib/libstaple"

struct staple_conf staple_conf;

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

/* Copy variable `name` into buf; whether it was set and fitted. */
static int
staple_conf_getenv(const char *name, char *buf, size_t size)
{
	const char *v = getenv(name);

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

struct conf_duration {
	const char *key;
	long *value;
	long min, max;
};

/* Set `key` to `v`; 0 when the key is unknown. */
static int
staple_conf_set(const char *file, int line, const char *key, const char *v)
{
	struct conf_duration durations[] = {
		{ "reload_interval", &staple_conf.reload_interval, 1, 300 },
		{ "clock_skew", &staple_conf.clock_skew, 0, 86400 },
		{ "max_age", &staple_conf.max_age, 60, 365 * 86400L },
		{ "log_interval", &staple_conf.log_interval, 1, 86400 },
	};
	char *paths[] = { staple_conf.dir, staple_conf.log, staple_conf.ca_file };
	const char *path_keys[] = { "dir", "log", "ca_file" };
	int level;
	long d;

	if (strcmp(key, "policy") == 0) {
		staple_conf.policy = staple_conf_policy(file, line, v,
		    staple_conf.policy);
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
	for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		if (strcmp(key, durations[i].key) != 0)
			continue;
		d = staple_duration_parse(v);
		if (d < durations[i].min || d > durations[i].max)
			staple_log(STAPLE_ERROR, "%s:%d: bad %s '%s' (%ld to %ld"
			    " seconds); keeping %ld", file, line, key, v,
			    durations[i].min, durations[i].max, *durations[i].value);
		else
			*durations[i].value = d;
		return 1;
	}
	return 0;
}

/* Start a [host NAME] section; NULL (and a log line) when malformed. */
static struct staple_host *
staple_conf_host(const char *file, int line, char *header)
{
	struct staple_host *hosts;
	char *name = header + strlen("host");

	if (strncmp(header, "host", 4) != 0 || !isspace((unsigned char)*name)) {
		staple_log(STAPLE_ERROR, "%s:%d: unknown section [%s]", file,
		    line, header);
		return NULL;
	}
	while (isspace((unsigned char)*name))
		name++;
	hosts = realloc(staple_conf.hosts,
	    (staple_conf.nhosts + 1) * sizeof(*hosts));
	if (hosts == NULL || (name = strdup(name)) == NULL) {
		if (hosts != NULL)
			staple_conf.hosts = hosts;
		return NULL;
	}
	staple_conf.hosts = hosts;
	hosts[staple_conf.nhosts].name = name;
	/* Until the section says otherwise, a host gets the default policy. */
	hosts[staple_conf.nhosts].policy = -1;
	return &hosts[staple_conf.nhosts++];
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

/* Handle one line of the file; `host` is the current section (or NULL). */
static void
staple_conf_line(const char *file, int line, char *s, struct staple_host **host,
    int *in_bad_section)
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
			*in_bad_section = 1;
			return;
		}
		s[strlen(s) - 1] = '\0';
		*host = staple_conf_host(file, line, staple_conf_trim(s + 1));
		*in_bad_section = *host == NULL;
		return;
	}
	if ((eq = strchr(s, '=')) == NULL) {
		staple_log(STAPLE_ERROR, "%s:%d: expected 'key = value'", file, line);
		return;
	}
	*eq = '\0';
	key = staple_conf_trim(s);
	v = staple_conf_trim(eq + 1);
	if (*in_bad_section)
		return;
	if (*host != NULL) {
		if (strcmp(key, "policy") == 0)
			(*host)->policy = staple_conf_policy(file, line, v,
			    staple_conf.policy);
		else
			staple_log(STAPLE_ERROR, "%s:%d: '%s' is not allowed in a"
			    " [host] section", file, line, key);
		return;
	}
	if (!staple_conf_set(file, line, key, v))
		staple_log(STAPLE_ERROR, "%s:%d: unknown key '%s'", file, line, key);
}

/* Read the config file; a missing default file is fine. */
static void
staple_conf_file(const char *file, int named)
{
	struct staple_host *host = NULL;
	int line = 0, bad_section = 0;
	char buf[PATH_MAX + 64];
	FILE *f;

	if ((f = fopen(file, "re")) == NULL) {
		if (errno != ENOENT || named)
			staple_log(STAPLE_ERROR, "%s: %s", file, strerror(errno));
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
		staple_conf_line(file, line, buf, &host, &bad_section);
	}
	fclose(f);
}

void
staple_conf_load(void)
{
	int level;

	staple_conf.log_level = STAPLE_WARN;
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
