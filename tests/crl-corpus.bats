#!/usr/bin/env bats
# Public CRL test vectors (pyca/cryptography's, with NIST's PKITS CRLs, from
# Debian's python3-cryptography-vectors) through fuzz_crl: the CRL reader and
# OpenSSL's d2i_X509_CRL agree on every one of them.

load lib/common
source "$TOP/tests/lib/crlvectors.sh"

setup() {
    setup_test
    make -C "$TOP" -s tests/.work/fuzz_crl >/dev/null
}

@test "crl corpus: the reader and OpenSSL agree on every public CRL vector" {
    if [[ ! -d $CRL_VECTORS ]]; then
        [[ -z ${CI:-} ]] || { echo "no $CRL_VECTORS (Debian package python3-cryptography-vectors)" >&2; return 1; }
        skip "python3-cryptography-vectors is not installed"
    fi
    crl_vectors_der "$T/crl"
    # 197 in the package's 38.0.4: 173 PKITS, 21 PEM and 3 DER of pyca's own
    [ "$(find "$T/crl" -type f | wc -l)" -ge 197 ]
    # a disagreement aborts the target ("fuzz_crl: ..."), failing the run
    run env FUZZ_CRL_REPORT=1 "$TOP/tests/.work/fuzz_crl" -runs=0 "$T"/crl/*
    [ "$status" -eq 0 ]
    [ "$(grep -c '^fuzz_crl: ' <<<"$output")" -eq 0 ]
    # one word per input: the file it was said of
    awk '/^Running: / { f = $2; sub(".*/", "", f) }
        /^(same|reader-refused|indirect|name)$/ { print $0, f }' <<<"$output" >"$T/words"
    echo "# $(awk '{ print $1 }' "$T/words" | sort | uniq -c | xargs)" >&3
    [ "$(wc -l <"$T/words")" -eq "$(find "$T/crl" -type f | wc -l)" ]
    [ "$(grep -c '^same ' "$T/words")" -ge 186 ]
    # the vectors with a certificateIssuer entry extension (indirect CRLs,
    # which the library never uses) are told apart, not compared
    [ "$(grep -c '^indirect ' "$T/words")" -eq 7 ]
    grep -qx 'indirect indirectCRLCA5CRL.crl' "$T/words"
    # Refused by the reader, parsed by OpenSSL, each one outside RFC 5280
    # (the reader is stricter; such a CRL counts as absent, logged):
    # - BadCRLSignatureCACRL: signature BIT STRING with an unused bit, which
    #   no RSA signature has (PKITS 4.4.3 wants this CRL rejected)
    # - crl_bad_version: version 3 (5.1.2.1: 2, integer 1, when present)
    # - crl_dup_entry_ext: reasonCode twice in one entry (4.2 allows one
    #   instance of an extension per certificate; the reader holds a CRL
    #   entry to the same: which of two reasons would count?)
    # - crl_unrecognized_extension: an unknown extension whose extnValue is
    #   the bytes "abcdef", not the DER encoding 4.1 requires
    [ "$(grep '^reader-refused ' "$T/words" | sort | xargs)" = "$(printf '%s\n' \
        'reader-refused BadCRLSignatureCACRL.crl' 'reader-refused crl_bad_version.der' \
        'reader-refused crl_dup_entry_ext.der' 'reader-refused crl_unrecognized_extension.der' |
        sort | xargs)" ]
}
