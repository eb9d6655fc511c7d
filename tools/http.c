/*
 * http.c - the two HTTP exchanges staplectl needs, over HTTP/1.0 so that
 * the answer is never chunked: an OCSP request POSTed to a responder's plain
 * http:// URL (RFC 6960 appendix A), and a CRL fetched with a conditional
 * GET (If-None-Match, If-Modified-Since; 304 Not Modified). Redirects are
 * not followed: a distribution point names the CRL itself. Its own code rather than OpenSSL's,
 * whose HTTP client exists only in 3.x: staplectl runs on 1.0.2 and 1.1.1.
 *
 * Bounded in every direction: a connect timeout per address, a deadline
 * for the request and the answer, a cap on the header and on the body.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "staplectl.h"

#define HEAD_MAX 16384		/* a responder's status line and headers */

struct http_url {
	char host[256];		/* without the brackets of an IPv6 literal */
	char port[8];
	const char *path;	/* into the URL; "/" when it has none */
};

/* Print a reason into err; returns 0 for the callers' convenience. */
static int
http_fail(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
	return 0;
}

/* Milliseconds left until `deadline` (CLOCK_MONOTONIC seconds), at least 0. */
static int
http_left(const struct timespec *deadline)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(deadline->tv_sec - now.tv_sec) * 1000 +
	    (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms > 3600000 ? 3600000 : (int)ms;
}

static void
http_deadline(struct timespec *deadline, int seconds)
{
	clock_gettime(CLOCK_MONOTONIC, deadline);
	deadline->tv_sec += seconds;
}

/*
 * Split http://HOST[:PORT][/PATH]; HOST may be [IPv6]. 1, or 0 with a
 * reason: another scheme (https: a responder must not need TLS, since
 * checking its certificate would need a staple), user info, a bad port.
 */
static int
http_parse_url(const char *url, struct http_url *u, char *err, size_t size)
{
	const char *p, *end, *host;
	size_t n;

	if (strncasecmp(url, "http://", 7) != 0)
		return http_fail(err, size, "%.200s: only http:// URLs are"
		    " supported", url);
	host = url + 7;
	end = host + strcspn(host, "/?#");
	if (memchr(host, '@', end - host) != NULL)
		return http_fail(err, size, "%.200s: user info in the URL",
		    url);
	if (*host == '[') {
		if ((p = memchr(host, ']', end - host)) == NULL)
			return http_fail(err, size, "%.200s: bad IPv6 address",
			    url);
		n = p - host - 1;
		host++;
		p++;
	} else {
		p = memchr(host, ':', end - host);
		p = p ? p : end;
		n = p - host;
	}
	if (n == 0 || n >= sizeof(u->host))
		return http_fail(err, size, "%.200s: bad host", url);
	memcpy(u->host, host, n);
	u->host[n] = '\0';
	strcpy(u->port, "80");
	if (p < end && *p == ':') {
		n = end - p - 1;
		if (n == 0 || n > 5 || strspn(p + 1, "0123456789") < n ||
		    atoi(p + 1) < 1 || atoi(p + 1) > 65535)
			return http_fail(err, size, "%.200s: bad port", url);
		memcpy(u->port, p + 1, n);
		u->port[n] = '\0';
	} else if (p != end) {
		return http_fail(err, size, "%.200s: bad host", url);
	}
	u->path = *end == '/' ? end : "/";
	if (*end != '\0' && *end != '/')
		return http_fail(err, size, "%.200s: bad path", url);
	return 1;
}

/* A connected socket to one of host's addresses (IPv4 or IPv6), or -1. */
static int
http_connect(const struct http_url *u, int timeout, char *err, size_t size)
{
	struct addrinfo hints = { 0 }, *res = NULL, *ai;
	struct timespec deadline;
	struct pollfd pfd;
	socklen_t len;
	int fd = -1, rc, soerr = 0;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	if ((rc = getaddrinfo(u->host, u->port, &hints, &res)) != 0) {
		http_fail(err, size, "%s: %s", u->host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, ai->ai_protocol);
		if (fd < 0) {
			soerr = errno;
			continue;
		}
		http_deadline(&deadline, timeout);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		soerr = errno;
		if (errno == EINPROGRESS) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			while ((rc = poll(&pfd, 1, http_left(&deadline))) < 0 &&
			    errno == EINTR)
				;
			len = sizeof(soerr);
			if (rc == 0)
				soerr = ETIMEDOUT;
			else if (rc > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR,
			    &soerr, &len) == 0 && soerr == 0)
				break;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		http_fail(err, size, "%s port %s: %s", u->host, u->port,
		    soerr == ETIMEDOUT ? "connection timed out" :
		    strerror(soerr));
	return fd;
}

/* Write all of buf before the deadline; 1, or 0 with a reason. */
static int
http_send(int fd, const void *buf, size_t len, const struct timespec *deadline,
    char *err, size_t size)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	const char *p = buf;
	ssize_t n;
	int rc;

	while (len > 0) {
		if ((rc = poll(&pfd, 1, http_left(deadline))) == 0)
			return http_fail(err, size, "timed out sending");
		if (rc < 0 && errno == EINTR)
			continue;
		n = rc < 0 ? -1 : send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0)
			return http_fail(err, size, "sending: %s",
			    strerror(errno));
		p += n;
		len -= n;
	}
	return 1;
}

/*
 * Read into buf[*len..cap) until the peer closes, `want` bytes are in, or
 * the buffer is full. 1 (closed: *eof set), or 0 with a reason.
 */
static int
http_recv(int fd, unsigned char *buf, size_t *len, size_t cap, size_t want,
    int *eof, const struct timespec *deadline, char *err, size_t size)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;
	int rc;

	while (*len < cap && *len < want) {
		if ((rc = poll(&pfd, 1, http_left(deadline))) == 0)
			return http_fail(err, size, "timed out waiting for the"
			    " answer");
		if (rc < 0 && errno == EINTR)
			continue;
		n = rc < 0 ? -1 : recv(fd, buf + *len, cap - *len, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0)
			return http_fail(err, size, "reading: %s",
			    strerror(errno));
		if (n == 0) {
			*eof = 1;
			return 1;
		}
		*len += n;
	}
	return 1;
}

/* The end of the header in buf[0..len) (past the blank line), or NULL. */
static unsigned char *
http_head_end(unsigned char *buf, size_t len)
{
	unsigned char *p = memmem(buf, len, "\r\n\r\n", 4);

	if (p != NULL)
		return p + 4;
	p = memmem(buf, len, "\n\n", 2);	/* bare newlines: tolerated */
	return p ? p + 2 : NULL;
}

/*
 * A header line's value (after "Name:"), printable ASCII only and shorter
 * than `size`, into buf; else buf stays empty (an ETag or date that cannot
 * be sent back as it came is not remembered).
 */
static void
http_header_value(const char *v, const char *nl, char *buf, size_t size)
{
	const char *end = nl;
	size_t n;

	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	n = end - v;
	buf[0] = '\0';
	if (n == 0 || n >= size)
		return;
	for (const char *p = v; p < end; p++)
		if (*p < ' ' || *p > '~')
			return;
	memcpy(buf, v, n);
	buf[n] = '\0';
}

/*
 * Check the status line (200, or 304 when `cond`), find Content-Length in
 * the header head[0..n) (*clen -1 when absent) and, into `cond`, ETag and
 * Last-Modified. The status, or 0 with a reason.
 */
static int
http_parse_head(const char *head, size_t n, long long *clen,
    struct ctl_http_cond *cond, char *err, size_t size)
{
	const char *line = head, *end = head + n, *nl, *v;
	char *stop;
	int status;

	*clen = -1;
	if (n < 12 || strncmp(head, "HTTP/1.", 7) != 0 || head[8] != ' ' ||
	    strspn(head + 9, "0123456789") != 3)
		return http_fail(err, size, "not an HTTP answer");
	status = atoi(head + 9);
	if (status != 200 && (status != 304 || cond == NULL)) {
		/* the status line without its line end, printable only */
		for (v = head + 9; v < end && *v >= ' ' && *v < 0x7f; v++)
			;
		return http_fail(err, size, "HTTP status %.*s%s",
		    (int)(v - head - 9 > 100 ? 100 : v - head - 9), head + 9,
		    status / 100 == 3 ? " (redirects are not followed)" : "");
	}
	if (cond != NULL)
		cond->etag[0] = cond->modified[0] = '\0';
	for (; line < end && (nl = memchr(line, '\n', end - line)) != NULL;
	    line = nl + 1) {
		if (strncasecmp(line, "Transfer-Encoding:", 18) == 0)
			return http_fail(err, size, "a Transfer-Encoding in an"
			    " HTTP/1.0 answer");
		if (cond != NULL && strncasecmp(line, "ETag:", 5) == 0)
			http_header_value(line + 5, nl, cond->etag,
			    sizeof(cond->etag));
		if (cond != NULL && strncasecmp(line, "Last-Modified:", 14) == 0)
			http_header_value(line + 14, nl, cond->modified,
			    sizeof(cond->modified));
		if (strncasecmp(line, "Content-Length:", 15) != 0)
			continue;
		for (v = line + 15; *v == ' ' || *v == '\t'; v++)
			;
		if (*v < '0' || *v > '9')
			return http_fail(err, size, "a bad Content-Length");
		errno = 0;
		*clen = strtoll(v, &stop, 10);
		while (*stop == ' ' || *stop == '\t' || *stop == '\r')
			stop++;
		if (errno != 0 || stop != nl)
			return http_fail(err, size, "a bad Content-Length");
	}
	return status;
}

/*
 * Send the request head[0..n) and body to `u`, read the answer: its status
 * (200, or 304 with `cond`), the body of a 200 in *out; 0 with a reason.
 */
static int
http_exchange(const struct http_url *u, const char *head, size_t n,
    const unsigned char *body, size_t body_len, int timeout, size_t max,
    struct ctl_http_cond *cond, unsigned char **out, size_t *out_len,
    char *err, size_t size)
{
	struct timespec deadline;
	unsigned char *buf = NULL, *start;
	size_t len = 0, cap = HEAD_MAX + max + 1, hlen;
	long long clen;
	int fd = -1, eof = 0, status = 0;

	*out = NULL;
	*out_len = 0;
	if ((fd = http_connect(u, timeout, err, size)) < 0)
		return 0;
	http_deadline(&deadline, timeout);
	if (!http_send(fd, head, n, &deadline, err, size) ||
	    !http_send(fd, body, body_len, &deadline, err, size))
		goto done;
	if ((buf = malloc(cap)) == NULL) {
		http_fail(err, size, "out of memory");
		goto done;
	}
	/* the header: up to HEAD_MAX bytes */
	while ((start = http_head_end(buf, len)) == NULL) {
		if (eof || len >= HEAD_MAX) {
			http_fail(err, size, eof ? "the answer ended in its"
			    " header" : "the answer's header is too long");
			goto done;
		}
		if (!http_recv(fd, buf, &len, HEAD_MAX, len + 1, &eof,
		    &deadline, err, size))
			goto done;
	}
	hlen = start - buf;
	if ((status = http_parse_head((const char *)buf, hlen, &clen, cond,
	    err, size)) == 304)
		goto done;	/* no body, whatever follows */
	if (status == 0)
		goto done;
	status = 0;
	if (clen > (long long)max) {
		http_fail(err, size, "the answer is too large (%lld bytes, at"
		    " most %zu)", clen, max);
		goto done;
	}
	/* the body: Content-Length bytes, or everything until the close */
	if (!http_recv(fd, buf, &len, hlen + (clen >= 0 ? (size_t)clen : max) +
	    1, clen >= 0 ? hlen + (size_t)clen : (size_t)-1, &eof, &deadline,
	    err, size))
		goto done;
	if (clen >= 0 && len < hlen + (size_t)clen) {
		http_fail(err, size, "the answer ended after %zu of %lld"
		    " bytes", len - hlen, clen);
		goto done;
	}
	if (clen < 0 && len > hlen + max) {
		http_fail(err, size, "the answer is too large (over %zu"
		    " bytes)", max);
		goto done;
	}
	*out_len = clen >= 0 ? (size_t)clen : len - hlen;
	memmove(buf, buf + hlen, *out_len);
	*out = buf;
	buf = NULL;
	status = 200;
done:
	free(buf);
	if (fd >= 0)
		close(fd);
	return status;
}

/* The Host header's value for `u`: [IPv6] brackets, the port unless 80. */
static void
http_host(const struct http_url *u, char *buf, size_t size)
{
	int v6 = strchr(u->host, ':') != NULL;

	snprintf(buf, size, "%s%s%s%s%s", v6 ? "[" : "", u->host, v6 ? "]" : "",
	    strcmp(u->port, "80") ? ":" : "", strcmp(u->port, "80") ? u->port : "");
}

int
ctl_http_post(const char *url, const char *type, const unsigned char *body,
    size_t body_len, int timeout, size_t max, unsigned char **out,
    size_t *out_len, char *err, size_t size)
{
	struct http_url u;
	char head[1024], host[300];
	int n;

	*out = NULL;
	*out_len = 0;
	if (!http_parse_url(url, &u, err, size))
		return 0;
	http_host(&u, host, sizeof(host));
	n = snprintf(head, sizeof(head), "POST %s HTTP/1.0\r\n"
	    "Host: %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	    "Accept: application/ocsp-response\r\nConnection: close\r\n\r\n",
	    u.path, host, type, body_len);
	if (n < 0 || (size_t)n >= sizeof(head))
		return http_fail(err, size, "%.200s: URL too long", url);
	return http_exchange(&u, head, n, body, body_len, timeout, max, NULL,
	    out, out_len, err, size) == 200;
}

int
ctl_http_url_ok(const char *url, char *err, size_t size)
{
	struct http_url u;

	for (const char *p = url; *p; p++)
		if (*p <= ' ' || *p > '~')
			return http_fail(err, size, "a URL with a space or a"
			    " control character");
	return http_parse_url(url, &u, err, size);
}

int
ctl_http_get(const char *url, struct ctl_http_cond *cond, int timeout,
    size_t max, unsigned char **out, size_t *out_len, char *err, size_t size)
{
	struct http_url u;
	char head[2048], host[300], ims[128] = "", inm[300] = "";
	int n;

	*out = NULL;
	*out_len = 0;
	if (!ctl_http_url_ok(url, err, size) ||
	    !http_parse_url(url, &u, err, size))
		return 0;
	http_host(&u, host, sizeof(host));
	if (cond->etag[0] != '\0')
		snprintf(inm, sizeof(inm), "If-None-Match: %s\r\n", cond->etag);
	if (cond->modified[0] != '\0')
		snprintf(ims, sizeof(ims), "If-Modified-Since: %s\r\n",
		    cond->modified);
	n = snprintf(head, sizeof(head), "GET %s HTTP/1.0\r\nHost: %s\r\n"
	    "%s%sAccept: application/pkix-crl, */*\r\nConnection: close\r\n"
	    "\r\n", u.path, host, inm, ims);
	if (n < 0 || (size_t)n >= sizeof(head))
		return http_fail(err, size, "%.200s: URL too long", url);
	return http_exchange(&u, head, n, NULL, 0, timeout, max, cond, out,
	    out_len, err, size);
}
