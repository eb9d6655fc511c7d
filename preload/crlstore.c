/*
 * crlstore.c - the CRL directory of the client role.
 *
 * A set of CRL files, each read, parsed (crl.c) and indexed once per change
 * of its dev, inode, size or mtime; the directory itself is looked at no
 * more than once per reload_interval. A file's signature is checked on its
 * first use, once per issuer key, with OpenSSL over the signed bytes; the
 * DER is then dropped and only the serial index stays. The set is shared
 * by reference: the lock is held only to take or swap references and to
 * record a verification, never while reading files or calling OpenSSL.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compat.h"
#include "config.h"
#include "crl.h"
#include "crlindex.h"
#include "crlstore.h"
#include "log.h"
#include "register.h"
#include "staple.h"
#include "when.h"

#define CRL_MAX_FILES 4096
#define CRL_MAX_SIZE (512L << 20)	/* a CRL larger than this is refused */
#define FP_LEN 20

struct crl_file {
	int refs;			/* atomic */
	char name[64];			/* for log lines (truncated) */
	char *path_name;		/* the entry's name in crl_dir */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	unsigned char *der;		/* until a key verified it; under lock */
	int verifying;			/* threads using der; under lock */
	struct staple_crl crl;		/* spans into der (tbs, sig) or meta */
	unsigned char *meta;		/* copies of issuer, URIs */
	struct staple_crl_index *ix;	/* malloc()ed, or in `mapped` */
	struct staple_crl_mapped mapped; /* the refresher's index file */
	const char *bad;		/* unusable for every leaf, or NULL */
	/* verification, under lock */
	int good;
	unsigned char good_key[FP_LEN], bad_key[FP_LEN];
	int tried_bad, key_bits, sig_bits;
};

struct crl_set {
	int refs;			/* atomic */
	int n;
	struct crl_file **files;
};

static pthread_mutex_t crls_lock = PTHREAD_MUTEX_INITIALIZER;
static struct crl_set *current;		/* under crls_lock */
static time_t last_scan;
static int scanning;

void
staple_crls_fork_prepare(void)
{
	pthread_mutex_lock(&crls_lock);
}

void
staple_crls_fork_parent(void)
{
	pthread_mutex_unlock(&crls_lock);
}

void
staple_crls_fork_child(void)
{
	/* a scan in another thread died with the fork: the child may scan */
	scanning = 0;
	pthread_mutex_unlock(&crls_lock);
}

/* Drop a reference on f; the last one frees it. NULL-safe. */
static void
crls_file_free(struct crl_file *f)
{
	if (f == NULL || __atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	free(f->der);
	free(f->meta);
	if (f->mapped.hdr != NULL)
		staple_crl_sidecar_unmap(&f->mapped);
	else
		free(f->ix);
	free(f->path_name);
	free(f);
}

static void
crls_set_free(struct crl_set *s)
{
	if (s == NULL || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (int i = 0; i < s->n; i++)
		crls_file_free(s->files[i]);
	free(s->files);
	free(s);
}

/* Decode the first PEM "X509 CRL" block of buf in place; its DER length or 0. */
static size_t
crls_pem(unsigned char *buf, size_t len)
{
	static const char begin[] = "-----BEGIN X509 CRL-----";
	unsigned char *p = memmem(buf, len, begin, sizeof(begin) - 1), *out = buf;
	uint32_t acc = 0;
	int bits = 0, v;

	if (p == NULL)
		return 0;
	for (p += sizeof(begin) - 1; p < buf + len && *p != '-'; p++) {
		if (*p >= 'A' && *p <= 'Z')
			v = *p - 'A';
		else if (*p >= 'a' && *p <= 'z')
			v = *p - 'a' + 26;
		else if (*p >= '0' && *p <= '9')
			v = *p - '0' + 52;
		else if (*p == '+' || *p == '/')
			v = *p == '+' ? 62 : 63;
		else if (*p == '=' || *p == '\r' || *p == '\n' || *p == ' ' ||
		    *p == '\t')
			continue;
		else
			return 0;
		acc = acc << 6 | (uint32_t)v;
		if ((bits += 6) >= 8) {
			bits -= 8;
			*out++ = (unsigned char)(acc >> bits);
		}
	}
	/* the output never overtakes the input: 3 bytes per 4 characters */
	return p < buf + len ? (size_t)(out - buf) : 0;
}

unsigned char *
staple_crl_read(int fd, off_t size, size_t *len)
{
	unsigned char *buf = malloc(size > 0 ? (size_t)size : 1);
	size_t got = 0;
	ssize_t n;

	if (buf == NULL)
		return NULL;
	while (got < (size_t)size) {
		n = read(fd, buf + got, (size_t)size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got != (size_t)size) {
		free(buf);
		return NULL;
	}
	*len = got;
	if (got > 0 && buf[0] != 0x30)
		*len = crls_pem(buf, got);
	return buf;
}

/* Copy the spans the file keeps after its DER is dropped into f->meta. */
static int
crls_keep_meta(struct crl_file *f)
{
	struct staple_crl *c = &f->crl;
	size_t len = c->issuer.len, off;

	for (int i = 0; i < c->nuris; i++)
		len += c->uris[i].len;
	if ((f->meta = malloc(len + 1)) == NULL)
		return 0;
	memcpy(f->meta, c->issuer.p, c->issuer.len);
	c->issuer.p = f->meta;
	off = c->issuer.len;
	for (int i = 0; i < c->nuris; i++) {
		memcpy(f->meta + off, c->uris[i].p, c->uris[i].len);
		c->uris[i].p = f->meta + off;
		off += c->uris[i].len;
	}
	c->akid.p = NULL;
	c->akid.len = 0;
	c->entries.p = NULL;
	c->entries.len = 0;
	return 1;
}

const char *
staple_crl_unusable(const struct staple_crl *c)
{
	if (c->flags & STAPLE_CRL_DELTA)
		return "a delta CRL (delta CRLs are not used)";
	if (c->flags & STAPLE_CRL_INDIRECT)
		return "an indirect CRL (indirect CRLs are not used)";
	if (c->flags & STAPLE_CRL_SOME_REASONS)
		return "partitioned by reason (onlySomeReasons; not used)";
	if (c->flags & STAPLE_CRL_CRITICAL)
		return "a critical CRL extension it does not handle";
	if (c->flags & STAPLE_CRL_ENTRY_CRITICAL)
		return "a critical CRL entry extension it does not handle";
	if (c->flags & STAPLE_CRL_BADTIME)
		return "an unreadable or inconsistent thisUpdate, nextUpdate or"
		    " revocationDate";
	if ((c->flags & STAPLE_CRL_IDP) && (c->flags & STAPLE_CRL_IDP_NAMES) &&
	    c->nuris == 0)
		return "an issuingDistributionPoint without a URI";
	return NULL;
}

/*
 * Take f from the refresher's index file of `name`, when there is one it
 * may use (crlindex.h): nothing of the CRL itself is read then.
 */
static int
crls_mapped(int dirfd, const char *name, const struct stat *st,
    struct crl_file *f)
{
	struct staple_crl_mapped *m = &f->mapped;
	const char *why;

	if (!staple_crl_sidecar_map(dirfd, name, st, m, &why)) {
		if (why != NULL)
			staple_log(STAPLE_WARN, "CRL %s: %s", f->name, why);
		return 0;
	}
	f->crl.issuer.p = m->issuer;
	f->crl.issuer.len = m->hdr->issuer_len;
	memcpy(f->crl.uris, m->uris, sizeof(f->crl.uris));
	f->crl.nuris = m->nuris;
	f->crl.flags = m->hdr->flags;
	f->crl.this_update = staple_time_clamp(m->hdr->this_update);
	f->crl.next_update = staple_time_clamp(m->hdr->next_update);
	f->crl.count = (size_t)m->hdr->count;
	f->ix = (struct staple_crl_index *)m->ix;
	/* the refresher verified it with this key */
	f->good = 1;
	memcpy(f->good_key, m->hdr->key_fp, FP_LEN);
	f->key_bits = m->hdr->key_bits;
	f->sig_bits = m->hdr->sig_bits;
	if ((f->bad = staple_crl_unusable(&f->crl)) != NULL)
		staple_log(STAPLE_WARN, "CRL %s: not used: %s", f->name, f->bad);
	else
		staple_log(STAPLE_DEBUG, "CRL %s: %zu entries, from its index"
		    " file", f->name, f->crl.count);
	return 1;
}

/* Load directory entry `name` (stat `st`) as a new file object. */
static struct crl_file *
crls_load(int dirfd, const char *name, const struct stat *st)
{
	struct crl_file *f = calloc(1, sizeof(*f));
	size_t len = 0, ixlen;
	int fd;

	if (f == NULL || (f->path_name = strdup(name)) == NULL) {
		free(f);
		return NULL;
	}
	f->refs = 1;
	/* long names are cut for log lines */
	memcpy(f->name, name, strnlen(name, sizeof(f->name) - 1));
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->size = st->st_size;
	f->mtime = st->st_mtim;
	if (crls_mapped(dirfd, name, st, f))
		return f;
	if (st->st_size > CRL_MAX_SIZE) {
		f->bad = "larger than 512 MiB";
	} else if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK |
	    O_NOCTTY)) < 0) {
		f->bad = "unreadable";
	} else {
		f->der = staple_crl_read(fd, st->st_size, &len);
		close(fd);
		if (f->der == NULL)
			f->bad = "unreadable (changed while read)";
	}
	if (f->bad == NULL && (len == 0 ||
	    !staple_crl_parse(f->der, len, &f->crl)))
		f->bad = "not a DER or PEM CRL, or not strict DER";
	if (f->bad == NULL)
		f->bad = staple_crl_unusable(&f->crl);
	if (f->bad == NULL && ((f->ix = staple_crl_index_build(&f->crl,
	    &ixlen)) == NULL || !crls_keep_meta(f)))
		f->bad = "out of memory";
	if (f->bad != NULL) {
		staple_log(STAPLE_WARN, "CRL %s: not used: %s", f->name, f->bad);
		free(f->der);
		f->der = NULL;
	} else {
		staple_log(STAPLE_DEBUG, "CRL %s: %zu entries read", f->name,
		    f->crl.count);
	}
	return f;
}

/* The file of `old` that is `name` unchanged, with a new reference, or NULL. */
static struct crl_file *
crls_unchanged(struct crl_set *old, const char *name, const struct stat *st)
{
	struct crl_file *f;

	for (int i = 0; old != NULL && i < old->n; i++) {
		f = old->files[i];
		if (strcmp(f->path_name, name) == 0 && f->dev == st->st_dev &&
		    f->ino == st->st_ino && f->size == st->st_size &&
		    f->mtime.tv_sec == st->st_mtim.tv_sec &&
		    f->mtime.tv_nsec == st->st_mtim.tv_nsec) {
			__atomic_add_fetch(&f->refs, 1, __ATOMIC_ACQ_REL);
			return f;
		}
	}
	return NULL;
}

/* A new set from crl_dir, reusing the unchanged files of `old`. */
static struct crl_set *
crls_scan(struct crl_set *old)
{
	struct crl_set *s = calloc(1, sizeof(*s));
	struct crl_file *f, **grown;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int cap = 0;

	if (s == NULL)
		return NULL;
	s->refs = 1;
	if ((d = opendir(staple_conf.crl_dir)) == NULL) {
		staple_log(STAPLE_DEBUG, "%s: %s", staple_conf.crl_dir,
		    strerror(errno));
		return s;
	}
	while ((de = readdir(d)) != NULL && s->n < CRL_MAX_FILES) {
		/* dot-entries: temporary files, the register */
		if (de->d_name[0] == '.' ||
		    fstatat(dirfd(d), de->d_name, &st, 0) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if ((f = crls_unchanged(old, de->d_name, &st)) == NULL &&
		    (f = crls_load(dirfd(d), de->d_name, &st)) == NULL)
			continue;
		if (s->n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((grown = realloc(s->files, cap * sizeof(*grown))) ==
			    NULL) {
				crls_file_free(f);
				break;
			}
			s->files = grown;
		}
		s->files[s->n++] = f;
	}
	closedir(d);
	return s;
}

/* The current set, rescanned first when reload_interval has passed; a reference. */
static struct crl_set *
crls_get(void)
{
	time_t now = time(NULL);
	struct crl_set *s, *old = NULL;
	int scan = 0;

	pthread_mutex_lock(&crls_lock);
	if (!scanning && (current == NULL || now < last_scan ||
	    now - last_scan >= staple_conf.reload_interval)) {
		scanning = scan = 1;
		last_scan = now;
		if ((old = current) != NULL)
			__atomic_add_fetch(&old->refs, 1, __ATOMIC_ACQ_REL);
	}
	pthread_mutex_unlock(&crls_lock);
	if (scan) {
		s = crls_scan(old);
		pthread_mutex_lock(&crls_lock);
		if (s != NULL) {
			crls_set_free(current);
			current = s;
		}
		scanning = 0;
		pthread_mutex_unlock(&crls_lock);
		crls_set_free(old);
	}
	pthread_mutex_lock(&crls_lock);
	if ((s = current) != NULL)
		__atomic_add_fetch(&s->refs, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_unlock(&crls_lock);
	/*
	 * The first scan is still under way in another thread: a set of this
	 * thread's own, rather than none (which crl = require would refuse).
	 */
	return s != NULL ? s : crls_scan(NULL);
}

int
staple_crl_signature(const struct staple_crl *c, EVP_PKEY *key, int *key_bits,
    int *sig_bits, const char **why)
{
	const unsigned char *p = c->sigalg.p;
	X509_ALGOR *alg = ossl.d2i_X509_ALGOR(NULL, &p, (long)c->sigalg.len);
	const ASN1_OBJECT *oid = NULL;
	const EVP_MD *md = NULL;
	EVP_MD_CTX *ctx = NULL;
	int nid, md_nid = NID_undef, pk_nid = NID_undef, ok = 0;

	*why = "an unsupported signature algorithm";
	if (alg == NULL || key == NULL)
		goto done;
	ossl.X509_ALGOR_get0(&oid, NULL, NULL, alg);
	nid = ossl.OBJ_obj2nid(oid);
	if (!ossl.OBJ_find_sigid_algs(nid, &md_nid, &pk_nid))
		goto done;
	/* the key must be of the kind the algorithm names (no RSA-PSS here) */
	if (pk_nid != ossl.EVP_PKEY_get_id(key))
		goto done;
	*sig_bits = staple_sig_security_bits(nid, &md_nid);
	*key_bits = staple_pkey_security_bits(key);
	if (md_nid != NID_undef && (md = ossl.EVP_get_digestbyname(
	    ossl.OBJ_nid2sn(md_nid))) == NULL)
		goto done;
	if ((ctx = ossl.EVP_MD_CTX_new()) == NULL ||
	    ossl.EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) != 1)
		goto done;
	*why = "bad signature (not signed by this issuer's key)";
	if (md == NULL)	/* EdDSA: one shot */
		ok = ossl.EVP_DigestVerify != NULL &&
		    ossl.EVP_DigestVerify(ctx, c->sig.p, c->sig.len, c->tbs.p,
		    c->tbs.len) == 1;
	else
		ok = ossl.EVP_DigestVerifyUpdate(ctx, c->tbs.p, c->tbs.len) == 1 &&
		    ossl.EVP_DigestVerifyFinal(ctx, c->sig.p, c->sig.len) == 1;
done:
	ossl.EVP_MD_CTX_free(ctx);
	ossl.X509_ALGOR_free(alg);
	return ok;
}

/* Log a per-file condition at `level` at most once per log_interval. */
__attribute__((format(printf, 4, 5))) static void
crls_log_once(int level, const struct crl_file *f, const char *what,
    const char *fmt, ...)
{
	uint64_t h = staple_hash(STAPLE_HASH_INIT, f->path_name,
	    strlen(f->path_name));
	char line[512];
	va_list ap;

	h = staple_hash(h, &f->ino, sizeof(f->ino));
	h = staple_hash(h, &f->mtime, sizeof(f->mtime));
	h = staple_hash(h, what, strlen(what));
	if (!staple_log_once(h, staple_conf.log_interval))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	staple_log(level, "CRL %s: %s", f->name, line);
}

/*
 * Whether f is signed by `issuer` (its SHA-1 key fingerprint `fp`) strongly
 * enough for j->level; checked once per key, the lock not held meanwhile.
 */
static int
crls_signed(struct crl_file *f, X509 *issuer, const unsigned char *fp,
    const struct staple_judge *j)
{
	int known = -1, key_bits = 0, sig_bits = 0, ok;
	const char *why = NULL;
	unsigned char *drop = NULL;

	pthread_mutex_lock(&crls_lock);
	if (f->good && memcmp(f->good_key, fp, FP_LEN) == 0)
		known = 1;
	else if (f->der == NULL || (f->tried_bad &&
	    memcmp(f->bad_key, fp, FP_LEN) == 0))
		known = 0;
	else
		f->verifying++;
	key_bits = f->key_bits;
	sig_bits = f->sig_bits;
	pthread_mutex_unlock(&crls_lock);
	if (known == 0)
		return 0;
	if (known < 0) {
		ok = staple_crl_signature(&f->crl, staple_x509_key(issuer),
		    &key_bits, &sig_bits, &why);
		pthread_mutex_lock(&crls_lock);
		f->verifying--;
		if (ok && !f->good) {
			f->good = 1;
			memcpy(f->good_key, fp, FP_LEN);
			f->key_bits = key_bits;
			f->sig_bits = sig_bits;
		} else if (!ok) {
			f->tried_bad = 1;
			memcpy(f->bad_key, fp, FP_LEN);
		}
		/* verified: the index is all that is needed from now on */
		if (f->good && f->verifying == 0) {
			drop = f->der;
			f->der = NULL;
		}
		pthread_mutex_unlock(&crls_lock);
		free(drop);
		if (!ok) {
			char subject[256];

			ossl.X509_NAME_oneline(ossl.X509_get_subject_name(issuer),
			    subject, sizeof(subject));
			crls_log_once(STAPLE_WARN, f, "signature", "not used: %s %s", why,
			    subject);
			return 0;
		}
		staple_log(STAPLE_DEBUG, "CRL %s: signature verified", f->name);
	}
	if (!staple_judge_allows(j, key_bits) ||
	    (sig_bits >= 0 && !staple_judge_allows(j, sig_bits))) {
		crls_log_once(STAPLE_WARN, f, "level", "not used: its signature (%d, %d"
		    " bits) is too weak for security level %d", key_bits,
		    sig_bits, j->level);
		return 0;
	}
	return 1;
}

/* Whether f is current at j->now; logs once when not. */
static int
crls_current(const struct crl_file *f, const struct staple_judge *j)
{
	const struct staple_crl *c = &f->crl;
	time_t end = (c->flags & STAPLE_CRL_NEXT) ? c->next_update :
	    staple_time_add(c->this_update, staple_conf.max_age);

	if (j->flags & X509_V_FLAG_NO_CHECK_TIME)
		return 1;
	if (c->this_update > staple_time_add(j->now, staple_conf.clock_skew)) {
		crls_log_once(STAPLE_WARN, f, "future", "not used: thisUpdate is in the"
		    " future");
		return 0;
	}
	if (staple_time_add(end, staple_conf.crl_grace) < j->now) {
		crls_log_once(STAPLE_WARN, f, "stale", "not used: stale (nextUpdate passed"
		    " %lld s ago, crl_grace %ld s)",
		    (long long)(j->now - end), staple_conf.crl_grace);
		return 0;
	}
	return 1;
}

/* Whether the partitioned CRL f names one of the leaf's distribution points. */
static int
crls_shard_matches(const struct staple_crl *c, const struct staple_span *dps,
    int ndps)
{
	for (int i = 0; i < c->nuris; i++)
		for (int k = 0; k < ndps; k++)
			if (c->uris[i].len == dps[k].len &&
			    memcmp(c->uris[i].p, dps[k].p, dps[k].len) == 0)
				return 1;
	return 0;
}

/* What the leaf is looked up by. */
struct crls_leaf {
	unsigned char *issuer;		/* issuer Name DER (OpenSSL's malloc) */
	int issuer_len;
	unsigned char serial[132];	/* INTEGER TLV */
	int serial_len;
	struct staple_span dps[STAPLE_CRL_URIS];
	int ndps;
	unsigned char fp[FP_LEN];	/* the issuer's key, SHA-1 */
};

/* Fill l from leaf and issuer; 0 when something cannot be read. */
static int
crls_leaf(X509 *leaf, X509 *issuer, struct crls_leaf *l)
{
	const ASN1_INTEGER *serial = ossl.X509_get0_serialNumber(leaf);
	const ASN1_OCTET_STRING *v;
	unsigned char *p = l->serial;
	unsigned int fplen = 0;
	int loc;

	memset(l, 0, sizeof(*l));
	if (serial == NULL || ossl.i2d_ASN1_INTEGER(serial, NULL) >
	    (int)sizeof(l->serial) || (l->serial_len =
	    ossl.i2d_ASN1_INTEGER(serial, &p)) < 3 ||
	    !ossl.X509_pubkey_digest(issuer, ossl.EVP_sha1(), l->fp, &fplen) ||
	    fplen != FP_LEN)
		return 0;
	l->issuer = NULL;
	if ((l->issuer_len = ossl.i2d_X509_NAME(ossl.X509_get_issuer_name(leaf),
	    &l->issuer)) <= 0)
		return 0;
	loc = ossl.X509_get_ext_by_NID(leaf, NID_crl_distribution_points, -1);
	if (loc >= 0 && (v = ossl.X509_EXTENSION_get_data(ossl.X509_get_ext(leaf,
	    loc))) != NULL)
		l->ndps = staple_crl_dp_uris(ossl.ASN1_STRING_get0_data(v),
		    (size_t)ossl.ASN1_STRING_length(v), l->dps, STAPLE_CRL_URIS);
	if (l->ndps < 0)
		l->ndps = 0;
	return 1;
}

/*
 * Record distribution point `uri` in CRLDIR/.wanted/ for the next
 * `staplectl crl refresh` (http:// URIs of at most 4 KiB, printable):
 * entry URLHASH.url, URLHASH the first 16 hex digits of its SHA-1.
 */
static void
crls_register(const struct staple_span *uri)
{
	static const char hex[] = "0123456789abcdef";
	char regdir[PATH_MAX + 16], name[32], program[NAME_MAX + 1], *text;
	unsigned char md[20];
	unsigned int mdlen = 0;
	int reason = 0, len;

	if (!staple_conf.registers || uri->len > 4096 || uri->len < 8 ||
	    strncmp((const char *)uri->p, "http://", 7) != 0)
		return;
	for (size_t i = 0; i < uri->len; i++)
		if (uri->p[i] <= 0x20 || uri->p[i] >= 0x7f)
			return;
	if (!ossl.EVP_Digest(uri->p, uri->len, md, &mdlen, ossl.EVP_sha1(), NULL) ||
	    mdlen != 20 || snprintf(regdir, sizeof(regdir), "%s/.wanted",
	    staple_conf.crl_dir) >= (int)sizeof(regdir) ||
	    (text = malloc(uri->len + NAME_MAX + 64)) == NULL)
		return;
	for (int i = 0; i < 8; i++) {
		name[2 * i] = hex[md[i] >> 4];
		name[2 * i + 1] = hex[md[i] & 15];
	}
	memcpy(name + 16, ".url", 5);
	staple_register_program(program, sizeof(program));
	len = snprintf(text, uri->len + NAME_MAX + 64, "# libstaple crl register"
	    " entry\n# program: %s\n%.*s\n", program, (int)uri->len,
	    (const char *)uri->p);
	switch (staple_register_put(regdir, name, text, (size_t)len, &reason)) {
	case STAPLE_REGISTER_WRITTEN:
		staple_log(STAPLE_INFO, "registered distribution point %.*s in"
		    " %s as %s", (int)uri->len, (const char *)uri->p, regdir, name);
		break;
	case STAPLE_REGISTER_FAILED:
		if (staple_register_first(regdir, reason))
			staple_log(STAPLE_WARN, "register %s: %s: distribution"
			    " points are not recorded; for staplectl crl refresh"
			    " to fetch their CRLs, list them in crls = in %s",
			    regdir, staple_register_why(reason), staple_conf.conf);
		break;
	default:
		break;
	}
	free(text);
}

/* Log and register, once per URL, a distribution point crl_dir has no CRL for. */
static void
crls_unknown_dps(const struct crls_leaf *l)
{
	for (int i = 0; i < l->ndps; i++) {
		uint64_t h = staple_hash(STAPLE_HASH_INIT, "crl-dp", 6);

		h = staple_hash(h, l->dps[i].p, l->dps[i].len);
		if (!staple_log_once(h, staple_conf.log_interval))
			continue;
		staple_log(STAPLE_INFO, "no CRL in %s for distribution point"
		    " %.*s", staple_conf.crl_dir,
		    (int)(l->dps[i].len > 300 ? 300 : l->dps[i].len),
		    (const char *)l->dps[i].p);
		crls_register(&l->dps[i]);
	}
}

void
staple_crls_check(X509 *leaf, const struct staple_judge *j,
    struct staple_crl_answer *a)
{
	struct crl_set *s;
	struct crl_file *f, *best = NULL;
	struct crls_leaf l;
	int known_dp = 0;

	memset(a, 0, sizeof(*a));
	memset(&l, 0, sizeof(l));
	a->state = STAPLE_CRL_NONE;
	if (j->issuer == NULL || !crls_leaf(leaf, j->issuer, &l)) {
		ossl.CRYPTO_free(l.issuer, __FILE__, __LINE__);
		return;
	}
	s = crls_get();
	for (int i = 0; s != NULL && i < s->n; i++) {
		f = s->files[i];
		if (f->bad != NULL || f->crl.issuer.len != (size_t)l.issuer_len ||
		    memcmp(f->crl.issuer.p, l.issuer, f->crl.issuer.len) != 0)
			continue;
		if (f->crl.flags & STAPLE_CRL_IDP) {
			if (f->crl.flags & STAPLE_CRL_NOT_USERS)
				continue;
			if (!crls_shard_matches(&f->crl, l.dps, l.ndps)) {
				if (staple_log_enabled(STAPLE_INFO))
					crls_log_once(STAPLE_INFO, f, "shard", "not for this"
					    " certificate: a shard for another"
					    " distribution point");
				continue;
			}
		}
		known_dp = 1;
		if (!crls_current(f, j) || !crls_signed(f, j->issuer, l.fp, j))
			continue;
		if (best == NULL || f->crl.this_update > best->crl.this_update)
			best = f;
	}
	if (!known_dp)
		crls_unknown_dps(&l);
	if (best != NULL) {
		snprintf(a->file, sizeof(a->file), "%s", best->name);
		/* the INTEGER's contents: after its two header bytes */
		a->state = staple_crl_index_find(best->ix, l.serial + 2,
		    (size_t)l.serial_len - 2, &a->when, &a->reason) ?
		    STAPLE_CRL_LISTED : STAPLE_CRL_CLEAR;
	}
	crls_set_free(s);
	ossl.CRYPTO_free(l.issuer, __FILE__, __LINE__);
}
