/*
 * staplectl.h - what the staplectl commands share.
 */
#ifndef STAPLECTL_H
#define STAPLECTL_H

#include <time.h>

#include <openssl/x509.h>

/* Print `msg` about `what` on stderr and exit with status 3. */
void ctl_die(const char *what, const char *msg) __attribute__((noreturn));

/* Every PEM certificate in `file`, appended to `certs`; the first returned. */
X509 *ctl_read_certs(const char *file, STACK_OF(X509) *certs);

/* A file's bytes (at most STAPLE_FILE_MAX), malloc()ed; NULL on error. */
unsigned char *ctl_read_file(const char *file, long *len);

/* TIME: seconds since the epoch, or YYYY-MM-DD[THH:MM:SS][Z], UTC. */
time_t ctl_parse_time(const char *s);

/* A trust store: FILE, or the system's when NULL. Exits on failure. */
X509_STORE *ctl_store(const char *cafile);

int ctl_verify(int argc, char **argv);
int ctl_show(int argc, char **argv);
int ctl_fetch(int argc, char **argv);

#endif
