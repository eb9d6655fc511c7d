/*
 * wanted.h - the staple directory's register (DIR/.wanted/), as staplectl
 * reads it: every entry is untrusted input, parsed strictly and judged.
 */
#ifndef STAPLECTL_WANTED_H
#define STAPLECTL_WANTED_H

#include <stddef.h>
#include <time.h>

#include "staplectl.h"

#define CTL_WANTED_DIR ".wanted"		/* in the staple directory */
#define CTL_WANTED_STATE ".wanted.state"	/* beside it: not watched */
#define CTL_WANTED_MAX 65536			/* an entry's size cap */

/* What an entry is, as read (before any fetch). */
enum {
	W_USABLE,	/* a leaf, signed by its issuer, with an http:// OCSP URL */
	W_NO_URL,	/* a sound entry whose leaf names no OCSP responder */
	W_EXPIRED,	/* its certificate expired: dropped */
	W_AGED,		/* not seen for register_max_age: dropped */
	W_BAD		/* not an entry to use: `why` */
};

struct ctl_entry {
	char name[256];		/* NAME.pem in the register */
	char program[128];	/* who registered it */
	char certfile[512];	/* the file it came from, when known */
	char subject[256];
	char staple[128];	/* its staple's name in the staple directory */
	char why[256];		/* W_BAD: why; W_EXPIRED, W_AGED: since when */
	int state;
	time_t seen;		/* the entry's mtime: last seen by a program */
	int unseen;		/* not seen for register_max_age, kept: no
				 * file to check, and nothing replaced it */
	time_t not_after;
	X509 *leaf, *issuer;	/* W_USABLE, W_NO_URL */
};

/*
 * The register of staple directory `dir`, opened without following links;
 * created (0755) when `create` and the staple directory exists. A
 * descriptor, or -1 with errno.
 */
int ctl_wanted_open(const char *dir, int create);

/* Why ctl_wanted_open failed, for a person (a link: not followed). */
const char *ctl_wanted_error(int err);

/*
 * Every entry of the register `fd`, sorted by name, judged at `now` with
 * entries older than `max_age` seconds aged; *n of them (malloc()ed).
 */
struct ctl_entry *ctl_wanted_read(int fd, time_t now, long max_age, size_t *n);

void ctl_wanted_free(struct ctl_entry *e, size_t n);

/* The register's age limit: register_max_age. */
long ctl_wanted_max_age(void);

/*
 * What the staple directory holds for leaf/issuer at `path`: 2 a current
 * staple not past half its validity, 1 current but past half, 0 none
 * (*why says why). *next: its end, *verdict: good or revoked.
 */
int ctl_staple_state(const char *path, X509 *leaf, X509 *issuer, time_t *next,
    int *verdict, const char **why);

/* The latest end of any entry of the staple file at `path`; 0 when none. */
time_t ctl_staple_end(const char *path);

/* The register's state file: why fetches failed, staples left to expire. */
struct ctl_failure {
	char name[256];		/* the entry */
	time_t when;
	char reason[512];
};
struct ctl_gone {
	char staple[128];	/* a staple of a dropped entry, in DIR */
	char entry[256];	/* the entry it was */
	time_t end;		/* removed once this has passed */
};
struct ctl_wstate {
	struct ctl_failure *failures;
	size_t nfailures;
	struct ctl_gone *gone;
	size_t ngone;
};

/* Read DIR/.wanted.state (a missing or unreadable one is empty). */
void ctl_wstate_read(const char *dir, struct ctl_wstate *s);

/* Write it by rename; 0 with errno on failure. */
int ctl_wstate_write(const char *dir, const struct ctl_wstate *s);

/* Record a failure or a gone staple (copies). */
void ctl_wstate_fail(struct ctl_wstate *s, const char *name, time_t when,
    const char *reason);
void ctl_wstate_gone(struct ctl_wstate *s, const char *staple,
    const char *entry, time_t end);

/* The failure recorded for entry `name`, or NULL. */
const struct ctl_failure *ctl_wstate_failure(const struct ctl_wstate *s,
    const char *name);

void ctl_wstate_free(struct ctl_wstate *s);

#endif
