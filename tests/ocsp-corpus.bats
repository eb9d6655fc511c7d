#!/usr/bin/env bats
# OpenSSL's own OCSP verification corpus (test/ocsp-tests, kept beside the
# project in shared/vectors): libstaple's client verifier, run through
# `staplectl verify`, gives the outcome the corpus's CASES.txt states for
# every case.
#
# The corpus checks signatures and signer authorisation only; libstaple's
# verifier also binds the CertID to the certificate and checks the times.
# So each case names the certificate the response is about, and is checked
# at a moment between that response's thisUpdate and nextUpdate (the same
# moment is used for the signer's chain), as CASES.txt suggests. -partial_chain
# in the recipe needs nothing here (the issuer given is the anchor). The ISDOSC "-no_cert_checks"
# variants need no run of their own: libstaple never passes OCSP_NOCHECKS.

load lib/common

CORPUS=$TOP/../shared/vectors/openssl-ocsp-tests

setup() {
    if [[ ! -d $CORPUS ]]; then
        # CI always has it; a plain checkout may not.
        [[ -z ${CI:-} ]] || { echo "no OCSP corpus at $CORPUS" >&2; return 1; }
        skip "the OCSP corpus (shared/vectors) is not beside this checkout"
    fi
    T=$BATS_TEST_TMPDIR
    FAILURES=()
}

# about N KIND: the certificate a response of chain N (1, 2, 3) is about.
about() {
    case $1 in
        1|3) echo "$CORPUS/${2}${1}_Cert_EE.pem" ;;
        2) echo "$CORPUS/${2}${1}_Cert_ICA.pem" ;;
    esac
}

# check EXPECT RESPONSE TRUSTED [UNTRUSTED [ISSUER]]: run the verifier on
# RESPONSE.ors (about the certificate its name implies), trusting TRUSTED;
# record a failure unless the verdict is EXPECT (good or invalid).
check() {
    local expect=$1 resp=$2 trusted=$3 untrusted=${4:-} issuer=${5:-$3}
    local base=${resp#*_} kind n at out rc=0 args=()
    [[ $resp == *_* ]] || base=$resp
    kind=${base%[123]} n=${base: -1}
    base64 -d "$CORPUS/$resp.ors" >"$T/$resp.der"
    at=$(openssl ocsp -respin "$T/$resp.der" -noverify -resp_text |
        awk '/This Update:/ { sub(/.*This Update: /, ""); print; exit }')
    at=$(($(date -u -d "$at" +%s) + 60))
    [[ -z $untrusted ]] || args=(--untrusted "$CORPUS/$untrusted")
    out=$("$TOP/staplectl" verify --cert "$(about "$n" "$kind")" \
        --issuer "$CORPUS/$issuer" --CAfile "$CORPUS/$trusted" "${args[@]}" \
        --security-level 0 --at "$at" "$T/$resp.der" 2>&1) || rc=$?
    if [[ ${out%%:*} != "$expect" || $rc -ne $(verdict_status "$expect") ]]; then
        FAILURES+=("$resp with $trusted: expected $expect (exit $(verdict_status "$expect")), got '$out' (exit $rc)")
    fi
}

report() {
    printf '%s\n' "${FAILURES[@]}" >&2
    [ "${#FAILURES[@]}" -eq 0 ]
}

@test "corpus 1: valid responses verify (ND1-3, ND1 via a cross root, D1-3)" {
    check good ND1 ND1_Issuer_ICA.pem
    check good ND2 ND2_Issuer_Root.pem
    check good ND3 ND3_Issuer_Root.pem
    check good ND1 ND1_Cross_Root.pem ND1_Issuer_ICA-Cross.pem ND1_Issuer_ICA-Cross.pem
    check good D1 D1_Issuer_ICA.pem
    check good D2 D2_Issuer_Root.pem
    check good D3 D3_Issuer_Root.pem
    report
}

@test "corpus 2-5: bad signature, wrong responder ID, wrong issuer name or key hash fail" {
    for group in ISOP WRID WINH WIKH; do
        check invalid "${group}_ND1" ND1_Issuer_ICA.pem
        check invalid "${group}_ND2" ND2_Issuer_Root.pem
        check invalid "${group}_ND3" ND3_Issuer_Root.pem
        check invalid "${group}_D1" D1_Issuer_ICA.pem
        check invalid "${group}_D2" D2_Issuer_Root.pem
        check invalid "${group}_D3" D3_Issuer_Root.pem
    done
    report
}

@test "corpus 6-7: wrong key in, or bad signature on, the delegated responder cert fail" {
    for group in WKDOSC ISDOSC; do
        check invalid "${group}_D1" D1_Issuer_ICA.pem
        check invalid "${group}_D2" D2_Issuer_Root.pem
        check invalid "${group}_D3" D3_Issuer_Root.pem
    done
    report
}

@test "corpus 8-9: a trusted issuer with the wrong subject name or key fails" {
    for group in WSNIC WKIC; do
        check invalid ND1 "${group}_ND1_Issuer_ICA.pem"
        check invalid ND2 "${group}_ND2_Issuer_Root.pem"
        check invalid ND3 "${group}_ND3_Issuer_Root.pem"
        check invalid D1 "${group}_D1_Issuer_ICA.pem"
        check invalid D2 "${group}_D2_Issuer_Root.pem"
        check invalid D3 "${group}_D3_Issuer_Root.pem"
    done
    report
}

@test "corpus 10: a trusted issuer with a bad signature of its own still verifies" {
    check good ND1 ISIC_ND1_Issuer_ICA.pem
    check good ND2 ISIC_ND2_Issuer_Root.pem
    check good ND3 ISIC_ND3_Issuer_Root.pem
    check good D1 ISIC_D1_Issuer_ICA.pem
    check good D2 ISIC_D2_Issuer_Root.pem
    check good D3 ISIC_D3_Issuer_Root.pem
    report
}

@test "corpus, time and binding: a valid response outside its validity or for another certificate fails" {
    base64 -d "$CORPUS/ND1.ors" >"$T/ND1.der"
    run "$TOP/staplectl" verify --cert "$CORPUS/ND1_Cert_EE.pem" \
        --issuer "$CORPUS/ND1_Issuer_ICA.pem" --CAfile "$CORPUS/ND1_Issuer_ICA.pem" \
        --security-level 0 --at 2012-12-19 "$T/ND1.der"
    [ "$status" -eq 2 ]
    [ "$output" = "invalid: expired" ]
    # ND3's leaf with its own issuer: the response is about ND1's leaf
    run "$TOP/staplectl" verify --cert "$CORPUS/ND3_Cert_EE.pem" \
        --issuer "$CORPUS/ND3_Issuer_Root.pem" \
        --security-level 0 --at 2012-10-12 "$T/ND1.der"
    [ "$status" -eq 2 ]
    [ "$output" = "invalid: the response is about another certificate" ]
    # ND3's leaf with ND1's issuer: that issuer did not issue it
    run "$TOP/staplectl" verify --cert "$CORPUS/ND3_Cert_EE.pem" \
        --issuer "$CORPUS/ND1_Issuer_ICA.pem" \
        --security-level 0 --at 2012-10-12 "$T/ND1.der"
    [ "$status" -eq 2 ]
    [ "$output" = "invalid: the issuer given did not issue the certificate" ]
}

@test "corpus at the default security level: the 2012 SHA-1 responses are too weak" {
    base64 -d "$CORPUS/ND1.ors" >"$T/ND1.der"
    base64 -d "$CORPUS/D1.ors" >"$T/D1.der"
    run "$TOP/staplectl" verify --cert "$CORPUS/ND1_Cert_EE.pem" \
        --issuer "$CORPUS/ND1_Issuer_ICA.pem" --security-level 1 \
        --at 2012-10-12 "$T/ND1.der"
    [ "$status" -eq 2 ]
    [ "$output" = "invalid: the response is signed with SHA1, too weak for security level 1" ]
    run "$TOP/staplectl" verify --cert "$CORPUS/D1_Cert_EE.pem" \
        --issuer "$CORPUS/D1_Issuer_ICA.pem" --security-level 1 \
        --at 2012-10-24 "$T/D1.der"
    [ "$status" -eq 2 ]
    [[ $output == "invalid: the responder certificate is signed with SHA1, too weak for security level 1" ]]
}
