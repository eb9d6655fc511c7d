/*
 * crlfile.c - a CRL's fields as staplectl judges them, read from its DER
 * (RFC 5280 section 5): the walk touches each entry's header only, so that
 * counting a million entries takes milliseconds, and OpenSSL parses the CRL
 * once, for its signature.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../preload/compat.h"
#include "../preload/when.h"
#include "crl.h"

/* One DER element: its tag and content. */
struct tlv {
	int tag;
	const unsigned char *v;
	size_t n;
};

/*
 * The element at *p (before `end`), *p moved past it. Definite lengths of
 * up to four octets, one-octet tags; 1, or 0 when it does not fit.
 */
static int
der_next(const unsigned char **p, const unsigned char *end, struct tlv *t)
{
	const unsigned char *q = *p;
	size_t n, k;

	if (end - q < 2)
		return 0;
	t->tag = *q++;
	n = *q++;
	if (n & 0x80) {
		k = n & 0x7f;
		if (k == 0 || k > 4 || (size_t)(end - q) < k)
			return 0;
		for (n = 0; k > 0; k--)
			n = n << 8 | *q++;
	}
	if ((size_t)(end - q) < n)
		return 0;
	t->v = q;
	t->n = n;
	*p = q + n;
	return 1;
}

/* A UTCTime or GeneralizedTime element's time; 0 when it is neither. */
static int
der_time(const struct tlv *t, time_t *when)
{
	if (t->tag != STAPLE_UTCTIME && t->tag != STAPLE_GENERALIZEDTIME)
		return 0;
	return staple_time_parse(t->tag, t->v, t->n, when);
}

/* The OIDs of the CRL extensions understood here (content octets). */
static const unsigned char oid_number[] = { 0x55, 0x1d, 0x14 };
static const unsigned char oid_delta[] = { 0x55, 0x1d, 0x1b };
static const unsigned char oid_idp[] = { 0x55, 0x1d, 0x1c };
static const unsigned char oid_aki[] = { 0x55, 0x1d, 0x23 };
static const unsigned char oid_ian[] = { 0x55, 0x1d, 0x12 };
static const unsigned char oid_freshest[] = { 0x55, 0x1d, 0x2e };
static const unsigned char oid_aia[] = { 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07,
	0x01, 0x01 };

#define OID_IS(t, oid) ((t)->n == sizeof(oid) && memcmp((t)->v, oid, \
	sizeof(oid)) == 0)

/* The crlExtensions [0] content into c; 0 when malformed. */
static int
crl_extensions(const unsigned char *p, const unsigned char *end,
    struct ctl_crl *c)
{
	struct tlv seq, ext, oid, f, val;
	const unsigned char *q, *qend;
	int critical;

	if (!der_next(&p, end, &seq) || seq.tag != 0x30 || p != end)
		return 0;
	for (p = seq.v, end = seq.v + seq.n; p < end;) {
		if (!der_next(&p, end, &ext) || ext.tag != 0x30)
			return 0;
		q = ext.v;
		qend = ext.v + ext.n;
		if (!der_next(&q, qend, &oid) || oid.tag != 0x06 ||
		    !der_next(&q, qend, &f))
			return 0;
		critical = 0;
		if (f.tag == 0x01) {
			critical = f.n == 1 && f.v[0] != 0;
			if (!der_next(&q, qend, &f))
				return 0;
		}
		if (f.tag != 0x04 || q != qend)
			return 0;
		if (OID_IS(&oid, oid_number)) {
			q = f.v;
			if (!der_next(&q, f.v + f.n, &val) || val.tag != 0x02 ||
			    val.n == 0 || (val.v[0] & 0x80))
				return 0;
			/* a leading zero octet keeps it positive: not counted */
			while (val.n > 1 && val.v[0] == 0)
				val.v++, val.n--;
			if (val.n > CTL_CRL_NUMBER_MAX)
				return 0;
			memcpy(c->number, val.v, val.n);
			c->number_len = val.n;
		} else if (OID_IS(&oid, oid_delta)) {
			c->delta = 1;
		} else if (OID_IS(&oid, oid_idp)) {
			c->partitioned = 1;
		} else if (!OID_IS(&oid, oid_aki) && !OID_IS(&oid, oid_ian) &&
		    !OID_IS(&oid, oid_freshest) && !OID_IS(&oid, oid_aia) &&
		    critical) {
			c->critical = 1;
		}
	}
	return 1;
}

/* Walk the CertificateList der[0..len) into c (c->der set by the caller). */
static int
crl_walk(struct ctl_crl *c, const char **why)
{
	const unsigned char *p = c->der, *end = c->der + c->len, *q;
	struct tlv list, tbs, t;

	*why = "not a CRL (not DER)";
	if (!der_next(&p, end, &list) || list.tag != 0x30 || p != end)
		return 0;
	p = list.v;
	end = list.v + list.n;
	if (!der_next(&p, end, &tbs) || tbs.tag != 0x30 ||
	    !der_next(&p, end, &t) || t.tag != 0x30 ||	/* signatureAlgorithm */
	    !der_next(&p, end, &t) || t.tag != 0x03 || p != end)
		return 0;
	p = tbs.v;
	end = tbs.v + tbs.n;
	if (!der_next(&p, end, &t))
		return 0;
	if (t.tag == 0x02 && !der_next(&p, end, &t))	/* version */
		return 0;
	if (t.tag != 0x30)		/* signature */
		return 0;
	q = p;
	if (!der_next(&p, end, &t) || t.tag != 0x30)	/* issuer */
		return 0;
	c->issuer = q;
	c->issuer_len = p - q;
	*why = "not a CRL (an unreadable thisUpdate)";
	if (!der_next(&p, end, &t) || !der_time(&t, &c->this_update))
		return 0;
	*why = "not a CRL (an unreadable nextUpdate)";
	if (p < end && (*p == STAPLE_UTCTIME || *p == STAPLE_GENERALIZEDTIME) &&
	    (!der_next(&p, end, &t) || !der_time(&t, &c->next_update)))
		return 0;
	*why = "not a CRL (unreadable entries)";
	if (p < end && *p == 0x30) {
		if (!der_next(&p, end, &t))
			return 0;
		for (q = t.v; q < t.v + t.n; c->entries++) {
			struct tlv e;

			if (!der_next(&q, t.v + t.n, &e) || e.tag != 0x30)
				return 0;
		}
	}
	*why = "not a CRL (unreadable extensions)";
	if (p < end) {
		if (!der_next(&p, end, &t) || t.tag != 0xa0 ||
		    !crl_extensions(t.v, t.v + t.n, c))
			return 0;
	}
	if (p != end)
		return 0;
	*why = NULL;
	return 1;
}

/* Base64 (RFC 4648, white space skipped) from s[0..n) into out; its length. */
static size_t
base64_decode(const char *s, size_t n, unsigned char *out)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned long acc = 0;
	size_t len = 0;
	int bits = 0;
	const char *k;

	for (size_t i = 0; i < n && s[i] != '='; i++) {
		if (s[i] == '\n' || s[i] == '\r' || s[i] == ' ' || s[i] == '\t')
			continue;
		if ((k = memchr(abc, s[i], 64)) == NULL || s[i] == '\0')
			return 0;
		acc = (acc << 6 | (unsigned long)(k - abc)) & 0xffffff;
		if ((bits += 6) >= 8) {
			bits -= 8;
			out[len++] = (unsigned char)(acc >> bits);
		}
	}
	return len;
}

int
ctl_crl_parse(const unsigned char *buf, size_t len, struct ctl_crl *c,
    const char **why)
{
	static const char begin[] = "-----BEGIN X509 CRL-----";
	static const char stop[] = "-----END X509 CRL-----";
	const char *b, *e;

	memset(c, 0, sizeof(*c));
	*why = "out of memory";
	b = memmem(buf, len, begin, sizeof(begin) - 1);
	if (b != NULL) {
		b += sizeof(begin) - 1;
		e = memmem(b, len - ((const unsigned char *)b - buf), stop,
		    sizeof(stop) - 1);
		*why = "not a CRL (a PEM block without its end)";
		if (e == NULL)
			return 0;
		if ((c->der = malloc(e - b + 1)) == NULL)
			return 0;
		c->len = base64_decode(b, e - b, c->der);
	} else {
		if ((c->der = malloc(len ? len : 1)) == NULL)
			return 0;
		memcpy(c->der, buf, len);
		c->len = len;
	}
	if (!crl_walk(c, why)) {
		ctl_crl_clear(c);
		return 0;
	}
	return 1;
}

void
ctl_crl_clear(struct ctl_crl *c)
{
	free(c->der);
	memset(c, 0, sizeof(*c));
}

int
ctl_crl_load(const char *path, size_t max, struct ctl_crl *c,
    const char **why)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
	unsigned char *buf = NULL;
	struct stat st;
	size_t got = 0;
	ssize_t n;
	int ok = 0;

	memset(c, 0, sizeof(*c));
	*why = fd < 0 && errno == ENOENT ? "no such file" : "cannot be read";
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		*why = "not a regular file";
		goto done;
	}
	if ((size_t)st.st_size > max) {
		*why = "too large";
		goto done;
	}
	if ((buf = malloc(st.st_size + 1)) == NULL) {
		*why = "out of memory";
		goto done;
	}
	while (got < (size_t)st.st_size + 1 &&
	    ((n = read(fd, buf + got, st.st_size + 1 - got)) > 0 ||
	    (n < 0 && errno == EINTR)))
		got += n > 0 ? (size_t)n : 0;
	ok = ctl_crl_parse(buf, got, c, why);
done:
	free(buf);
	close(fd);
	return ok;
}

/* The subject of `x` as DER (malloc()ed), or NULL. */
static unsigned char *
subject_der(X509 *x, int *len)
{
	X509_NAME *name = ossl.X509_get_subject_name(x);
	unsigned char *buf, *p;

	if ((*len = ossl.i2d_X509_NAME(name, NULL)) <= 0 ||
	    (buf = p = malloc(*len)) == NULL)
		return NULL;
	if (ossl.i2d_X509_NAME(name, &p) != *len) {
		free(buf);
		return NULL;
	}
	return buf;
}

int
ctl_crl_issuer(const struct ctl_crl *c, STACK_OF(X509) *known, X509 **issuer)
{
	const unsigned char *p = c->der;
	X509_CRL *crl = NULL;
	unsigned char *name;
	int rc = CTL_CRL_UNKNOWN_ISSUER, len, same;
	EVP_PKEY *key;

	*issuer = NULL;
	for (int i = 0; i < sk_X509_num(known); i++) {
		X509 *x = sk_X509_value(known, i);

		if ((name = subject_der(x, &len)) == NULL)
			continue;
		same = (size_t)len == c->issuer_len &&
		    memcmp(name, c->issuer, len) == 0;
		free(name);
		if (!same)
			continue;
		rc = CTL_CRL_BAD_SIGNATURE;
		if (crl == NULL && (crl = ossl.d2i_X509_CRL(NULL, &p,
		    (long)c->len)) == NULL)
			break;		/* OpenSSL's parse refuses it */
		if ((key = staple_x509_key(x)) != NULL &&
		    ossl.X509_CRL_verify(crl, key) == 1) {
			*issuer = x;
			rc = CTL_CRL_OK;
			break;
		}
	}
	ossl.X509_CRL_free(crl);
	ossl.ERR_clear_error();
	return rc;
}

int
ctl_crl_cmp(const struct ctl_crl *a, const struct ctl_crl *b)
{
	if (a->number_len > 0 && b->number_len > 0) {
		if (a->number_len != b->number_len)
			return a->number_len < b->number_len ? -1 : 1;
		return memcmp(a->number, b->number, a->number_len);
	}
	if (a->this_update != b->this_update)
		return a->this_update < b->this_update ? -1 : 1;
	return 0;
}

size_t
ctl_crl_dps(X509 *x, char **urls, size_t max)
{
	static ASN1_OBJECT *cdp;
	const ASN1_OCTET_STRING *data;
	const unsigned char *p, *end, *q, *qend, *r, *rend;
	struct tlv seq, dp, f, names, gn;
	size_t n = 0;
	int i;

	if (cdp == NULL && (cdp = ossl.OBJ_txt2obj("2.5.29.31", 1)) == NULL)
		return 0;
	if ((i = ossl.X509_get_ext_by_OBJ(x, cdp, -1)) < 0 ||
	    (data = ossl.X509_EXTENSION_get_data(ossl.X509_get_ext(x, i))) ==
	    NULL)
		return 0;
	p = ossl.ASN1_STRING_get0_data(data);
	end = p + ossl.ASN1_STRING_length(data);
	if (!der_next(&p, end, &seq) || seq.tag != 0x30)
		return 0;
	for (p = seq.v, end = seq.v + seq.n; p < end && n < max;) {
		if (!der_next(&p, end, &dp) || dp.tag != 0x30)
			break;
		/* distributionPoint [0] { fullName [0] GeneralNames }; no cRLIssuer [2] */
		q = dp.v;
		qend = dp.v + dp.n;
		if (!der_next(&q, qend, &f) || f.tag != 0xa0)
			continue;
		for (r = q; r < qend;) {
			struct tlv other;

			if (!der_next(&r, qend, &other) || other.tag == 0xa2)
				break;
		}
		if (r != qend)
			continue;	/* an indirect CRL's point: not fetched */
		r = f.v;
		rend = f.v + f.n;
		if (!der_next(&r, rend, &names) || names.tag != 0xa0)
			continue;
		for (r = names.v, rend = names.v + names.n; r < rend && n < max;) {
			if (!der_next(&r, rend, &gn))
				break;
			if (gn.tag != 0x86 || gn.n < 8 || gn.n > 4096 ||
			    strncasecmp((const char *)gn.v, "http://", 7) != 0)
				continue;
			if ((urls[n] = strndup((const char *)gn.v, gn.n)) != NULL &&
			    strlen(urls[n]) == gn.n)
				n++;
			else
				free(urls[n]);
		}
	}
	return n;
}

void
ctl_name_line(const unsigned char *der, size_t len, char *buf, size_t size)
{
	const unsigned char *p = der;
	X509_NAME *name = ossl.d2i_X509_NAME(NULL, &p, (long)len);

	snprintf(buf, size, "?");
	if (name != NULL)
		ossl.X509_NAME_oneline(name, buf, (int)size);
	ossl.X509_NAME_free(name);
	ossl.ERR_clear_error();
}

void
ctl_subject_line(X509 *x, char *buf, size_t size)
{
	ossl.X509_NAME_oneline(ossl.X509_get_subject_name(x), buf, (int)size);
}

const char *
ctl_system_certs(STACK_OF(X509) *certs)
{
	const char *file = getenv(ossl.X509_get_default_cert_file_env());
	BIO *in;
	X509 *x;

	if (file == NULL || *file == '\0')
		file = ossl.X509_get_default_cert_file();
	in = ossl.BIO_new_file(file, "r");
	while (in != NULL &&
	    (x = ossl.PEM_read_bio_X509(in, NULL, NULL, NULL)) != NULL)
		sk_X509_push(certs, x);
	ossl.BIO_free(in);
	ossl.ERR_clear_error();
	return file;
}
