/*
 * mkocsp - make hostile OCSP responses for the libstaple tests.
 *
 * `openssl ocsp` only makes well-formed responses from a CA database; this
 * tool makes the ones it cannot: unreadable or out-of-order times, weak
 * signature digests, unknown (critical) extensions, CertIDs with any hash or
 * computed from another issuer, several SingleResponses for one certificate,
 * corrupted signatures.  Test-only: never use its output for anything real.
 *
 *   mkocsp --out FILE --signer-cert CERT.pem --signer-key KEY.pem
 *          [--md DIGEST] [--responder-id name|key] [--no-certs]
 *          [--include CERT.pem]... [--produced TIME]
 *          [--resp-crit-ext] [--resp-ext] [--corrupt-sig]
 *          --cert LEAF.pem --issuer ISSUER.pem [ENTRY OPTIONS]
 *          [--cert LEAF.pem --issuer ISSUER.pem [ENTRY OPTIONS]]...
 *
 * The output is a DER OCSPResponse with status successful(0) wrapping the
 * BasicOCSPResponse, written atomically (a temporary file in FILE's
 * directory, renamed over FILE).  On any failure: one line on stderr, exit
 * status 1, FILE untouched.  See usage() for every option.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* The unknown extension of --resp-ext / --single-ext (value: DER NULL). */
#define UNKNOWN_EXT_OID "1.3.6.1.4.1.55555.1"
#define MAX_ENTRIES 64
#define MAX_INCLUDES 16
/* |N| limit of "+N", "-N" and "@N": keeps time_t arithmetic far from overflow. */
#define MAX_SECONDS 100000000000LL

/* A TIME argument: an instant, or verbatim GeneralizedTime content bytes. */
struct when {
	int set;		/* given on the command line */
	int none;		/* "none" (only --next) */
	time_t t;		/* the instant, when raw == NULL */
	const char *raw;	/* "raw:STRING": STRING */
};

struct entry {
	const char *cert, *issuer, *id_issuer;
	int status;		/* V_OCSP_CERTSTATUS_* */
	struct when this, next;
	const char *idmd;
	int ext;		/* 0 none, 1 non-critical, 2 critical */
};

/* Everything the program holds, freed by cleanup() on every exit path. */
static struct {
	const char *out, *signer_cert, *signer_key, *md;
	int respid_key, no_certs, resp_ext, resp_crit_ext, corrupt_sig;
	struct when produced;
	const char *includes[MAX_INCLUDES];
	int n_includes;
	struct entry entries[MAX_ENTRIES];
	int n_entries;
	time_t now;

	X509 *signer;
	EVP_PKEY *key;
	OCSP_BASICRESP *bs;
	OCSP_RESPONSE *resp;
	unsigned char *der;
	char *tmp;		/* temporary output file, removed unless renamed */
} G;

static void
cleanup(void)
{
	if (G.tmp != NULL) {
		unlink(G.tmp);
		free(G.tmp);
		G.tmp = NULL;
	}
	OPENSSL_free(G.der);
	OCSP_RESPONSE_free(G.resp);
	OCSP_BASICRESP_free(G.bs);
	EVP_PKEY_free(G.key);
	X509_free(G.signer);
	G.der = NULL;
	G.resp = NULL;
	G.bs = NULL;
	G.key = NULL;
	G.signer = NULL;
}

/* die(FMT, ...): print "mkocsp: MESSAGE" (plus OpenSSL's reason, if any). */
static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	char reason[256] = "";
	unsigned long e, last = 0;
	va_list ap;

	while ((e = ERR_get_error()) != 0)
		last = e;
	if (last != 0)
		ERR_error_string_n(last, reason, sizeof(reason));
	fputs("mkocsp: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (reason[0] != '\0')
		fprintf(stderr, " (%s)", reason);
	fputc('\n', stderr);
	cleanup();
	exit(1);
}

static void
usage(void)
{
	fputs(
"usage: mkocsp --out FILE --signer-cert CERT.pem --signer-key KEY.pem\n"
"              [GLOBAL OPTIONS] ENTRY [ENTRY]...\n"
"  ENTRY: --cert LEAF.pem --issuer ISSUER.pem [ENTRY OPTIONS]\n"
"global options (anywhere on the line):\n"
"  --out FILE            DER OCSPResponse (successful) to write, atomically\n"
"  --signer-cert FILE    certificate of the signer (PEM)\n"
"  --signer-key FILE     its private key (PEM)\n"
"  --md DIGEST           signature digest (sha256; md5, sha1, sha384, ...)\n"
"  --responder-id name|key   ResponderID form (key)\n"
"  --no-certs            leave the signer certificate out of certs\n"
"  --include FILE        add FILE's certificate to certs (repeatable)\n"
"  --produced TIME       producedAt (now)\n"
"  --resp-ext            unknown extension " UNKNOWN_EXT_OID " in responseExtensions\n"
"  --resp-crit-ext       the same, marked critical\n"
"  --corrupt-sig         flip a byte of the signature after signing\n"
"entry options (apply to the latest --cert):\n"
"  --issuer FILE         the leaf's issuer: CertID hashes and serial from these two\n"
"  --id-issuer FILE      take the CertID name/key hashes from FILE instead\n"
"  --status good|revoked|unknown   (good; revoked: revocationTime =\n"
"                        thisUpdate - 1 hour, reason keyCompromise)\n"
"  --this TIME           thisUpdate (-60)\n"
"  --next TIME|none      nextUpdate (+86400); none leaves it out\n"
"  --idmd DIGEST         CertID hash (sha1; sha256, sha384, sha512, md5, ...)\n"
"  --single-ext          unknown extension " UNKNOWN_EXT_OID " in singleExtensions\n"
"  --single-crit-ext     the same, marked critical\n"
"TIME: now | +N | -N (seconds from now) | @N (seconds since the epoch)\n"
"      | raw:STRING (STRING verbatim as the GeneralizedTime content)\n",
	    stdout);
}

/* parse_seconds(S, WHAT): S as a decimal in [0, MAX_SECONDS], or die. */
static long long
parse_seconds(const char *s, const char *what)
{
	char *end;
	long long v;

	if (*s < '0' || *s > '9')
		die("bad TIME number '%s' for %s", s, what);
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > MAX_SECONDS)
		die("bad TIME number '%s' for %s", s, what);
	return v;
}

/* parse_when(S, OPT, ALLOW_NONE): the TIME argument S of option OPT. */
static struct when
parse_when(const char *s, const char *opt, int allow_none)
{
	struct when w = { .set = 1 };

	if (strcmp(s, "now") == 0)
		w.t = G.now;
	else if (allow_none && strcmp(s, "none") == 0)
		w.none = 1;
	else if (s[0] == '+')
		w.t = G.now + (time_t)parse_seconds(s + 1, opt);
	else if (s[0] == '-')
		w.t = G.now - (time_t)parse_seconds(s + 1, opt);
	else if (s[0] == '@')
		w.t = (time_t)parse_seconds(s + 1, opt);
	else if (strncmp(s, "raw:", 4) == 0)
		w.raw = s + 4;
	else
		die("bad TIME '%s' for %s (now, +N, -N, @N, raw:STRING%s)", s,
		    opt, allow_none ? ", none" : "");
	return w;
}

static const EVP_MD *
digest(const char *name, const char *opt)
{
	const EVP_MD *md = EVP_get_digestbyname(name);

	if (md == NULL)
		die("unknown digest '%s' for %s", name, opt);
	return md;
}

static X509 *
load_cert(const char *file)
{
	BIO *b = BIO_new_file(file, "r");
	X509 *x;

	if (b == NULL)
		die("cannot open certificate %s", file);
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	if (x == NULL)
		die("no PEM certificate in %s", file);
	return x;
}

static EVP_PKEY *
load_key(const char *file)
{
	BIO *b = BIO_new_file(file, "r");
	EVP_PKEY *k;

	if (b == NULL)
		die("cannot open key %s", file);
	k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	if (k == NULL)
		die("no PEM private key in %s", file);
	return k;
}

/* set_time(T, W): make the GeneralizedTime T hold W (an instant or raw bytes). */
static void
set_time(ASN1_GENERALIZEDTIME *t, const struct when *w, const char *what)
{
	if (w->raw != NULL) {
		if (!ASN1_STRING_set(t, w->raw, (int)strlen(w->raw)))
			die("cannot set raw %s", what);
	} else if (ASN1_GENERALIZEDTIME_set(t, w->t) == NULL) {
		die("cannot encode %s (%lld)", what, (long long)w->t);
	}
}

/* gentime(T): a new GeneralizedTime for instant T (the caller frees it). */
static ASN1_GENERALIZEDTIME *
gentime(time_t t, const char *what)
{
	ASN1_GENERALIZEDTIME *g = ASN1_GENERALIZEDTIME_set(NULL, t);

	if (g == NULL)
		die("cannot encode %s (%lld)", what, (long long)t);
	return g;
}

/* unknown_ext(CRIT): the extension UNKNOWN_EXT_OID = NULL (caller frees). */
static X509_EXTENSION *
unknown_ext(int crit)
{
	static const unsigned char der_null[] = { 0x05, 0x00 };
	ASN1_OBJECT *obj = OBJ_txt2obj(UNKNOWN_EXT_OID, 1);
	ASN1_OCTET_STRING *val = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext = NULL;

	if (obj != NULL && val != NULL &&
	    ASN1_OCTET_STRING_set(val, der_null, sizeof(der_null)))
		ext = X509_EXTENSION_create_by_OBJ(NULL, obj, crit, val);
	ASN1_OBJECT_free(obj);
	ASN1_OCTET_STRING_free(val);
	if (ext == NULL)
		die("cannot make extension " UNKNOWN_EXT_OID);
	return ext;
}

/* add_entry(E, N): append E's SingleResponse to G.bs (N: its position). */
static void
add_entry(const struct entry *e, int n)
{
	X509 *leaf = load_cert(e->cert);
	X509 *issuer = load_cert(e->id_issuer != NULL ? e->id_issuer : e->issuer);
	OCSP_CERTID *id = OCSP_cert_to_id(digest(e->idmd, "--idmd"), leaf, issuer);
	ASN1_GENERALIZEDTIME *thisupd, *nextupd = NULL, *revtime = NULL;
	ASN1_GENERALIZEDTIME *this_in, *next_in;
	OCSP_SINGLERESP *single;
	time_t base;

	X509_free(leaf);
	X509_free(issuer);
	if (id == NULL)
		die("cannot compute the CertID of entry %d (%s)", n, e->cert);
	/* Raw times get a placeholder here (OCSP_basic_add1_status parses
	 * what it is given) and their bytes once the entry exists. */
	base = e->this.raw != NULL ? G.now : e->this.t;
	thisupd = gentime(base, "--this");
	if (!e->next.none)
		nextupd = gentime(e->next.raw != NULL ? G.now : e->next.t, "--next");
	if (e->status == V_OCSP_CERTSTATUS_REVOKED)
		revtime = gentime(base - 3600, "revocationTime");
	single = OCSP_basic_add1_status(G.bs, id, e->status,
	    e->status == V_OCSP_CERTSTATUS_REVOKED ?
	    OCSP_REVOKED_STATUS_KEYCOMPROMISE : -1, revtime, thisupd, nextupd);
	OCSP_CERTID_free(id);
	ASN1_GENERALIZEDTIME_free(thisupd);
	ASN1_GENERALIZEDTIME_free(nextupd);
	ASN1_GENERALIZEDTIME_free(revtime);
	if (single == NULL)
		die("cannot add entry %d (%s)", n, e->cert);
	/* Returns the cert status (0 = good), -1 on failure. */
	if (OCSP_single_get0_status(single, NULL, NULL, &this_in, &next_in) < 0)
		die("cannot read back entry %d", n);
	if (e->this.raw != NULL)
		set_time(this_in, &e->this, "--this");
	if (e->next.raw != NULL)
		set_time(next_in, &e->next, "--next");
	if (e->ext != 0) {
		X509_EXTENSION *ext = unknown_ext(e->ext == 2);
		int ok = OCSP_SINGLERESP_add_ext(single, ext, -1);

		X509_EXTENSION_free(ext);
		if (!ok)
			die("cannot add the single extension of entry %d", n);
	}
}

/* takes_arg(OPT): whether OPT is a known option that takes an argument. */
static int
takes_arg(const char *opt)
{
	static const char *const with_arg[] = {
		"--out", "--signer-cert", "--signer-key", "--md",
		"--responder-id", "--include", "--produced", "--cert",
		"--issuer", "--id-issuer", "--status", "--this", "--next",
		"--idmd",
	};
	size_t i;

	for (i = 0; i < sizeof(with_arg) / sizeof(with_arg[0]); i++)
		if (strcmp(opt, with_arg[i]) == 0)
			return 1;
	return 0;
}

/* parse_args(ARGC, ARGV): fill G from the command line, or die. */
static void
parse_args(int argc, char **argv)
{
	struct entry *e = NULL;
	int i;

	G.md = "sha256";
	G.respid_key = 1;
	for (i = 1; i < argc; i++) {
		const char *o = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		int takes = 1;	/* the option takes an argument */

		if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
			usage();
			cleanup();
			exit(0);
		}
		/* Options without an argument. */
		if (strcmp(o, "--no-certs") == 0) {
			G.no_certs = 1;
			takes = 0;
		} else if (strcmp(o, "--resp-ext") == 0) {
			G.resp_ext = 1;
			takes = 0;
		} else if (strcmp(o, "--resp-crit-ext") == 0) {
			G.resp_crit_ext = 1;
			takes = 0;
		} else if (strcmp(o, "--corrupt-sig") == 0) {
			G.corrupt_sig = 1;
			takes = 0;
		} else if (strcmp(o, "--single-ext") == 0 ||
		    strcmp(o, "--single-crit-ext") == 0) {
			if (e == NULL)
				die("%s before any --cert", o);
			e->ext = strcmp(o, "--single-ext") == 0 ? 1 : 2;
			takes = 0;
		}
		if (!takes)
			continue;
		if (strncmp(o, "--", 2) != 0)
			die("unexpected argument '%s' (see --help)", o);
		if (!takes_arg(o))
			die("unknown option '%s' (see --help)", o);
		if (v == NULL)
			die("%s needs an argument", o);
		i++;
		if (strcmp(o, "--out") == 0) {
			G.out = v;
		} else if (strcmp(o, "--signer-cert") == 0) {
			G.signer_cert = v;
		} else if (strcmp(o, "--signer-key") == 0) {
			G.signer_key = v;
		} else if (strcmp(o, "--md") == 0) {
			G.md = v;
		} else if (strcmp(o, "--responder-id") == 0) {
			if (strcmp(v, "key") == 0)
				G.respid_key = 1;
			else if (strcmp(v, "name") == 0)
				G.respid_key = 0;
			else
				die("bad --responder-id '%s' (name, key)", v);
		} else if (strcmp(o, "--include") == 0) {
			if (G.n_includes == MAX_INCLUDES)
				die("more than %d --include", MAX_INCLUDES);
			G.includes[G.n_includes++] = v;
		} else if (strcmp(o, "--produced") == 0) {
			G.produced = parse_when(v, o, 0);
		} else if (strcmp(o, "--cert") == 0) {
			if (G.n_entries == MAX_ENTRIES)
				die("more than %d entries", MAX_ENTRIES);
			e = &G.entries[G.n_entries++];
			e->cert = v;
			e->status = V_OCSP_CERTSTATUS_GOOD;
			e->this = parse_when("-60", "--this", 0);
			e->next = parse_when("+86400", "--next", 1);
			e->idmd = "sha1";
		} else if (e == NULL && (strcmp(o, "--issuer") == 0 ||
		    strcmp(o, "--id-issuer") == 0 || strcmp(o, "--status") == 0 ||
		    strcmp(o, "--this") == 0 || strcmp(o, "--next") == 0 ||
		    strcmp(o, "--idmd") == 0)) {
			die("%s before any --cert", o);
		} else if (strcmp(o, "--issuer") == 0) {
			e->issuer = v;
		} else if (strcmp(o, "--id-issuer") == 0) {
			e->id_issuer = v;
		} else if (strcmp(o, "--status") == 0) {
			if (strcmp(v, "good") == 0)
				e->status = V_OCSP_CERTSTATUS_GOOD;
			else if (strcmp(v, "revoked") == 0)
				e->status = V_OCSP_CERTSTATUS_REVOKED;
			else if (strcmp(v, "unknown") == 0)
				e->status = V_OCSP_CERTSTATUS_UNKNOWN;
			else
				die("bad --status '%s' (good, revoked, unknown)", v);
		} else if (strcmp(o, "--this") == 0) {
			e->this = parse_when(v, o, 0);
		} else if (strcmp(o, "--next") == 0) {
			e->next = parse_when(v, o, 1);
		} else if (strcmp(o, "--idmd") == 0) {
			e->idmd = v;
		}
	}
	if (G.out == NULL || G.signer_cert == NULL || G.signer_key == NULL)
		die("--out, --signer-cert and --signer-key are required (see --help)");
	if (G.n_entries == 0)
		die("no entry: give at least one --cert LEAF --issuer ISSUER");
	for (i = 0; i < G.n_entries; i++)
		if (G.entries[i].issuer == NULL)
			die("entry %d (--cert %s) has no --issuer", i + 1,
			    G.entries[i].cert);
}

/* resign(): sign tbsResponseData again (after producedAt changed). */
static void
resign(const EVP_MD *md)
{
	X509_ALGOR *alg = (X509_ALGOR *)OCSP_resp_get0_tbs_sigalg(G.bs);
	ASN1_BIT_STRING *sig = (ASN1_BIT_STRING *)OCSP_resp_get0_signature(G.bs);

	if (ASN1_item_sign(ASN1_ITEM_rptr(OCSP_RESPDATA), alg, NULL, sig,
	    OCSP_resp_get0_respdata(G.bs), G.key, md) <= 0)
		die("cannot sign the response again");
}

/* write_out(): write G.der to G.out through a temporary file and rename. */
static void
write_out(int len)
{
	const char *slash = strrchr(G.out, '/');
	int dirlen = slash == NULL ? 0 : (int)(slash - G.out + 1);
	const char *base = G.out + dirlen;
	size_t size = strlen(G.out) + 16;
	FILE *f;
	int fd;

	G.tmp = malloc(size);
	if (G.tmp == NULL)
		die("out of memory");
	snprintf(G.tmp, size, "%.*s.%s.XXXXXX", dirlen, G.out, base);
	fd = mkstemp(G.tmp);
	if (fd < 0) {
		free(G.tmp);
		G.tmp = NULL;
		die("cannot create a temporary file for %s: %s", G.out,
		    strerror(errno));
	}
	f = fdopen(fd, "wb");
	if (f == NULL) {
		close(fd);
		die("cannot write %s: %s", G.tmp, strerror(errno));
	}
	if (fwrite(G.der, 1, (size_t)len, f) != (size_t)len) {
		fclose(f);
		die("cannot write %s: %s", G.tmp, strerror(errno));
	}
	if (fclose(f) != 0)
		die("cannot write %s: %s", G.tmp, strerror(errno));
	if (rename(G.tmp, G.out) != 0)
		die("cannot rename %s to %s: %s", G.tmp, G.out, strerror(errno));
	free(G.tmp);
	G.tmp = NULL;
}

int
main(int argc, char **argv)
{
	const EVP_MD *md;
	unsigned long flags = 0;
	int i, len;

	G.now = time(NULL);
	parse_args(argc, argv);
	md = digest(G.md, "--md");
	G.signer = load_cert(G.signer_cert);
	G.key = load_key(G.signer_key);
	if ((G.bs = OCSP_BASICRESP_new()) == NULL)
		die("out of memory");

	for (i = 0; i < G.n_entries; i++)
		add_entry(&G.entries[i], i + 1);
	for (i = 0; i < 2; i++) {
		int crit = i == 1;
		X509_EXTENSION *ext;
		int ok;

		if (!(crit ? G.resp_crit_ext : G.resp_ext))
			continue;
		ext = unknown_ext(crit);
		ok = OCSP_BASICRESP_add_ext(G.bs, ext, -1);
		X509_EXTENSION_free(ext);
		if (!ok)
			die("cannot add the response extension");
	}

	/* OCSP_basic_sign checks the key against the certificate, adds the
	 * signer certificate (unless OCSP_NOCERTS), sets the ResponderID,
	 * sets producedAt to now and signs. */
	if (G.no_certs)
		flags |= OCSP_NOCERTS;
	if (G.respid_key)
		flags |= OCSP_RESPID_KEY;
	if (!OCSP_basic_sign(G.bs, G.signer, G.key, md, NULL, flags))
		die("cannot sign with %s / %s", G.signer_cert, G.signer_key);
	if (G.produced.set) {
		set_time((ASN1_GENERALIZEDTIME *)OCSP_resp_get0_produced_at(G.bs),
		    &G.produced, "--produced");
		resign(md);
	}
	/* certs is outside tbsResponseData: no signing needed after this. */
	for (i = 0; i < G.n_includes; i++) {
		X509 *x = load_cert(G.includes[i]);
		int ok = OCSP_basic_add1_cert(G.bs, x);

		X509_free(x);
		if (!ok)
			die("cannot include %s", G.includes[i]);
	}
	if (G.corrupt_sig) {
		ASN1_BIT_STRING *sig =
		    (ASN1_BIT_STRING *)OCSP_resp_get0_signature(G.bs);
		int n = ASN1_STRING_length(sig);

		if (n <= 0)
			die("empty signature");
		((unsigned char *)ASN1_STRING_get0_data(sig))[n / 2] ^= 0xFF;
	}

	G.resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, G.bs);
	if (G.resp == NULL)
		die("cannot wrap the response");
	len = i2d_OCSP_RESPONSE(G.resp, &G.der);
	if (len <= 0)
		die("cannot encode the response");
	write_out(len);
	cleanup();
	return 0;
}
