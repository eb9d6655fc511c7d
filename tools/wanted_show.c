/*
 * wanted_show.c - staplectl show --wanted, and the register's part of
 * staplectl metrics: every certificate the servers registered, who
 * registered it, when a program last saw it, and where its staple stands.
 *
 * The state is worked out when asked, from the entries and the staple
 * directory as they are now (the staple's time left is never a stale
 * copy); only why the last fetch failed comes from the state file
 * refresh writes (wanted.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../preload/verify.h"
#include "wanted.h"

/* An entry's state, as shown. */
struct view {
	const char *state;	/* stapled failed no-ocsp expired aged bad waiting */
	char text[900];
	const char *status;	/* stapled: good or revoked */
	long long left;		/* stapled: seconds to the staple's end */
	int attention;
};

static const char *const states[] = {
	"stapled", "failed", "no-ocsp", "expired", "aged", "bad", "waiting"
};

/* Judge entry e of staple directory `dir` at `now`. */
static void
view_entry(const char *dir, const struct ctl_entry *e,
    const struct ctl_wstate *st, time_t now, long warn, struct view *v)
{
	const struct ctl_failure *f = ctl_wstate_failure(st, e->name);
	char path[PATH_MAX], left[32], when[32];
	const char *why;
	time_t next = 0;
	int verdict = STAPLE_GOOD;

	memset(v, 0, sizeof(*v));
	if (f != NULL)
		ctl_stamp(when, sizeof(when), f->when);
	switch (e->state) {
	case W_BAD:
		v->state = "bad";
		snprintf(v->text, sizeof(v->text), "bad entry: %s", e->why);
		return;
	case W_EXPIRED:
		v->state = "expired";
		snprintf(v->text, sizeof(v->text), "expired: %s; dropped at the"
		    " next refresh", e->why);
		return;
	case W_AGED:
		v->state = "aged";
		snprintf(v->text, sizeof(v->text), "aged: %s; dropped at the"
		    " next refresh", e->why);
		return;
	case W_NO_URL:
		v->state = "no-ocsp";
		snprintf(v->text, sizeof(v->text), "no OCSP URL: nothing to"
		    " fetch");
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, e->staple);
	if (ctl_staple_state(path, e->leaf, e->issuer, &next, &verdict,
	    &why) > 0) {
		v->state = "stapled";
		v->status = staple_verdict_name(verdict);
		v->left = (long long)next - (long long)now;
		v->attention = v->left < warn;
		ctl_span(left, sizeof(left), v->left);
		snprintf(v->text, sizeof(v->text), "stapled: %s, %s left%s%s%s%s",
		    v->status, left, v->attention ? ", expires within --warn" :
		    "", f ? "; the last fetch failed (" : "", f ? when : "",
		    f ? ")" : "");
	} else if (f != NULL) {
		v->state = "failed";
		v->attention = 1;
		snprintf(v->text, sizeof(v->text), "fetching failed (%s): %s",
		    when, f->reason);
	} else {
		v->state = "waiting";
		snprintf(v->text, sizeof(v->text), "not fetched yet");
	}
}

/* The register of `dir`: its entries and state; 0 when there is none. */
static int
load(const char *dir, struct ctl_entry **e, size_t *n, struct ctl_wstate *st)
{
	int fd;

	*e = NULL;
	*n = 0;
	memset(st, 0, sizeof(*st));
	if ((fd = ctl_wanted_open(dir, 0)) < 0)
		return 0;
	*e = ctl_wanted_read(fd, time(NULL), ctl_wanted_max_age(), n);
	close(fd);
	ctl_wstate_read(dir, st);
	return 1;
}

static void
print_line(const struct ctl_entry *e, const struct view *v, time_t now)
{
	char age[32];

	ctl_span(age, sizeof(age), (long long)now - e->seen);
	printf("%s: %s [%s, seen %s ago]: %s\n", e->name,
	    e->subject[0] ? e->subject : "-",
	    e->program[0] ? e->program : "-", age, v->text);
}

static void
print_object(const struct ctl_entry *e, const struct view *v, time_t now,
    int first)
{
	printf("%s    {\"entry\": ", first ? "" : ",\n");
	ctl_quoted(e->name, 0);
	printf(", \"subject\": ");
	ctl_quoted(e->subject, 0);
	printf(", \"program\": ");
	ctl_quoted(e->program, 0);
	if (e->certfile[0] != '\0') {
		printf(", \"certfile\": ");
		ctl_quoted(e->certfile, 0);
	}
	printf(", \"age_seconds\": %lld, \"state\": \"%s\"",
	    (long long)now - e->seen, v->state);
	if (e->staple[0] != '\0')
		printf(", \"staple\": \"%s\"", e->staple);
	if (v->status != NULL)
		printf(", \"status\": \"%s\", \"seconds_left\": %lld",
		    v->status, v->left);
	printf(", \"attention\": %s, \"text\": ", v->attention ? "true" :
	    "false");
	ctl_quoted(v->text, 0);
	putchar('}');
}

int
ctl_wanted_show(char **dirs, int ndirs, int json, long warn)
{
	struct ctl_entry *e;
	struct ctl_wstate st;
	struct view v;
	time_t now = time(NULL);
	size_t n, shown = 0;
	int bad = 0;

	if (json)
		printf("{\n  \"wanted\": [\n");
	for (int d = 0; d < ndirs; d++) {
		if (!load(dirs[d], &e, &n, &st) && !json)
			printf("%s/%s: %s\n", dirs[d], CTL_WANTED_DIR,
			    errno == ENOENT ? "no register" :
			    ctl_wanted_error(errno));
		for (size_t i = 0; i < n; i++, shown++) {
			view_entry(dirs[d], &e[i], &st, now, warn, &v);
			bad |= v.attention;
			if (json)
				print_object(&e[i], &v, now, shown == 0);
			else
				print_line(&e[i], &v, now);
		}
		ctl_wanted_free(e, n);
		ctl_wstate_free(&st);
	}
	if (json)
		printf("%s  ],\n  \"attention\": %s\n}\n", shown ? "\n" : "",
		    bad ? "true" : "false");
	else if (shown == 0)
		printf("no registered certificates\n");
	return bad;
}

int
ctl_wanted_metrics(char **dirs, int ndirs, long warn)
{
	struct ctl_entry *e[ndirs > 0 ? ndirs : 1];
	struct ctl_wstate st[ndirs > 0 ? ndirs : 1];
	size_t n[ndirs > 0 ? ndirs : 1], count[7] = { 0 }, any = 0;
	time_t now = time(NULL);
	struct view v;
	int bad = 0;

	for (int d = 0; d < ndirs; d++)
		any += load(dirs[d], &e[d], &n[d], &st[d]);
	if (any == 0)
		return 0;
	printf("# HELP libstaple_register_entry A certificate a server"
	    " registered: its state (stapled, failed, no-ocsp, expired, aged,"
	    " bad, waiting), subject and program.\n"
	    "# TYPE libstaple_register_entry gauge\n");
	for (int d = 0; d < ndirs; d++)
		for (size_t i = 0; i < n[d]; i++) {
			view_entry(dirs[d], &e[d][i], &st[d], now, warn, &v);
			bad |= v.attention;
			for (int s = 0; s < 7; s++)
				count[s] += strcmp(states[s], v.state) == 0;
			printf("libstaple_register_entry{entry=");
			ctl_quoted(e[d][i].name, 1);
			printf(",subject=");
			ctl_quoted(e[d][i].subject, 1);
			printf(",program=");
			ctl_quoted(e[d][i].program, 1);
			printf(",state=\"%s\"} 1\n", v.state);
		}
	printf("# HELP libstaple_register_entry_age_seconds Seconds since a"
	    " program last saw the entry's certificate.\n"
	    "# TYPE libstaple_register_entry_age_seconds gauge\n");
	for (int d = 0; d < ndirs; d++)
		for (size_t i = 0; i < n[d]; i++) {
			printf("libstaple_register_entry_age_seconds{entry=");
			ctl_quoted(e[d][i].name, 1);
			printf("} %lld\n", (long long)now - e[d][i].seen);
		}
	printf("# HELP libstaple_register_entries Registered certificates, by"
	    " state.\n# TYPE libstaple_register_entries gauge\n");
	for (int s = 0; s < 7; s++)
		printf("libstaple_register_entries{state=\"%s\"} %zu\n",
		    states[s], count[s]);
	printf("# HELP libstaple_register_attention Registered certificates"
	    " that need attention: a failed fetch and no staple, or one"
	    " expiring within --warn.\n"
	    "# TYPE libstaple_register_attention gauge\n"
	    "libstaple_register_attention %d\n", bad);
	for (int d = 0; d < ndirs; d++) {
		ctl_wanted_free(e[d], n[d]);
		ctl_wstate_free(&st[d]);
	}
	return bad;
}
