/*
 * check.h - staplectl check: whether libstaple can work for a program.
 */
#ifndef CHECK_H
#define CHECK_H

/*
 * staplectl check [--library FILE] [--user NAME] [--json] PROGRAM|PID:
 * one line per check, exit 0 when libstaple can work for it, 1 when it
 * cannot, 3 on a usage error. Uses no OpenSSL: it reads files and asks the
 * program loader, never loading a libssl into staplectl.
 */
int ctl_check(int argc, char **argv);

#endif
