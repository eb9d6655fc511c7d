/*
 * config.h - libstaple's settings: defaults < config file < environment.
 *
 * The environment is read once at library load (daemons such as nginx and
 * Postfix clear it for the processes they start later); the config file is
 * read at the first TLS use, so a process that never touches TLS opens
 * nothing.
 */
#ifndef STAPLE_CONFIG_H
#define STAPLE_CONFIG_H

#include <limits.h>

/* Client policies, from the most permissive to the strictest. */
enum staple_policy {
	STAPLE_POLICY_OFF,
	STAPLE_POLICY_REQUEST,
	STAPLE_POLICY_SOFT,
	STAPLE_POLICY_MUST_STAPLE,
	STAPLE_POLICY_REQUIRE
};

struct staple_host {
	char *name;		/* "alt.example.com" or "*.example.com" */
	int policy;
};

struct staple_conf {
	char conf[PATH_MAX];	/* the config file read */
	char dir[PATH_MAX];	/* staple directory (server role) */
	char log[PATH_MAX];	/* stderr, syslog, none or a path */
	int log_level;
	int policy;		/* default client policy */
	long reload_interval;	/* seconds between staple directory checks */
	long clock_skew;	/* seconds of tolerance on thisUpdate/nextUpdate */
	long max_age;		/* seconds a response without nextUpdate lives */
	long log_interval;	/* seconds between repeats of one condition */
	long security_level;	/* a staple served must pass this level (0-5) */
	int enabled;		/* 0: step aside (enabled = no) */
	int registers;		/* 0: register = no (wanted.h) */
	long register_max_age;	/* staplectl: drop entries unseen this long */
	/*
	 * 1 (verifies = after-handshake): the program authenticates the
	 * server by its verification result after the handshake (nginx's
	 * proxy_ssl_verify), so a chain that verified is held to its staple
	 */
	int verifies_after;
	char issuers[PATH_MAX];	/* issuer certificates (PEM) chains may lack */
	char certs[PATH_MAX];	/* staplectl refresh: certificate files, globs */
	struct staple_host *hosts;
	int nhosts;
};

extern struct staple_conf staple_conf;

/*
 * Whether this is a secure-execution process (AT_SECURE: setuid, setgid,
 * file capabilities): no LIBSTAPLE_* variable counts, no log file is
 * opened, and only a root-owned config file writable by root alone is read
 * (the last rule holds for every process run by root, too).
 */
int staple_conf_secure(void);

/* Capture the LIBSTAPLE_* environment; called from the library constructor. */
void staple_conf_env(void);

/* Apply defaults, then the config file, then the captured environment. */
void staple_conf_load(void);

/*
 * How many number values (durations, counts) the last staple_conf_load()
 * refused, each logged, its default kept. The library runs on; staplectl,
 * which a person runs, refuses to.
 */
int staple_conf_bad_numbers(void);

/*
 * The client policy for SNI name `host` (NULL: none sent): the [host]
 * section naming it exactly, else the wildcard section with the longest
 * matching suffix, else the default policy.
 */
int staple_conf_host_policy(const char *host);

/* A duration: digits with an optional s, m, h or d suffix; -1 when bad. */
long staple_duration_parse(const char *v);

/* Parse a policy name; -1 when unknown. */
int staple_policy_parse(const char *name);

/* The policy's name, for log lines. */
const char *staple_policy_name(int policy);

#endif
