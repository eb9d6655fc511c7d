/*
 * gen_staples - write N signed OCSP responses, one per made-up certificate.
 *
 *   gen_staples ISSUER_CERT ISSUER_KEY DIR N
 *
 * Response i (file DIR/staple-i.der) says "good" for serial 0x5000000000+i
 * issued by ISSUER_CERT, valid for a day, signed by ISSUER_KEY. The
 * openssl CLI takes ~0.1 s per response; this takes well under 1 ms.
 */
#include <stdio.h>
#include <stdlib.h>

#include <openssl/ocsp.h>
#include <openssl/pem.h>

static void
die(const char *what)
{
	fprintf(stderr, "gen_staples: %s\n", what);
	exit(1);
}

int
main(int argc, char **argv)
{
	FILE *f;
	X509 *issuer;
	EVP_PKEY *key;
	long n;

	if (argc != 5)
		die("usage: gen_staples ISSUER_CERT ISSUER_KEY DIR N");
	if ((f = fopen(argv[1], "r")) == NULL ||
	    (issuer = PEM_read_X509(f, NULL, NULL, NULL)) == NULL)
		die("cannot read the issuer certificate");
	fclose(f);
	if ((f = fopen(argv[2], "r")) == NULL ||
	    (key = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL)
		die("cannot read the issuer key");
	fclose(f);
	n = atol(argv[4]);
	for (long i = 0; i < n; i++) {
		ASN1_INTEGER *serial = ASN1_INTEGER_new();
		ASN1_TIME *now = X509_gmtime_adj(NULL, 0);
		ASN1_TIME *next = X509_gmtime_adj(NULL, 86400);
		OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
		OCSP_CERTID *id;
		OCSP_RESPONSE *resp;
		unsigned char *der = NULL;
		char path[4096];
		int len;

		ASN1_INTEGER_set_int64(serial, 0x5000000000LL + i);
		id = OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(issuer),
		    X509_get0_pubkey_bitstr(issuer), serial);
		if (id == NULL || !OCSP_basic_add1_status(bs, id,
		    V_OCSP_CERTSTATUS_GOOD, 0, NULL, now, next) ||
		    !OCSP_basic_sign(bs, issuer, key, EVP_sha256(), NULL,
		    OCSP_NOCERTS) ||
		    (resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL,
		    bs)) == NULL || (len = i2d_OCSP_RESPONSE(resp, &der)) <= 0)
			die("cannot make a response");
		snprintf(path, sizeof(path), "%s/staple-%ld.der", argv[3], i);
		if ((f = fopen(path, "w")) == NULL || fwrite(der, 1, len, f) !=
		    (size_t)len || fclose(f) != 0)
			die(path);
		OPENSSL_free(der);
		OCSP_RESPONSE_free(resp);
		OCSP_CERTID_free(id);
		OCSP_BASICRESP_free(bs);
		ASN1_TIME_free(now);
		ASN1_TIME_free(next);
		ASN1_INTEGER_free(serial);
	}
	return 0;
}
