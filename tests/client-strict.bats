#!/usr/bin/env bats
# Client role, RFC 6960 / 5280 to the letter: every class of response that
# OpenSSL's own checks let through (unreadable or inconsistent times, weak
# algorithms, keyUsage, critical extensions, a same-named CA, a revoked entry
# beside a good one ...) gets the verdict it deserves, with a reason that
# names the problem: through staplectl verify, and through the client role
# of a real program (openssl s_client, which authenticates the server here)
# in TLS 1.3 and TLS 1.2. The responses come from tests/lib/mkocsp.c via
# tests/lib/pki-hostile.sh.

load lib/common
source "$TOP/tests/lib/pki-hostile.sh"

# CASE VERDICT: what the verifier says of each case's response for `must`,
# at security level 2 (Debian's default for TLS clients).
EXPECTED=(
    "good|good"
    "good-sha256|good"
    "next-garbage|invalid: an unreadable thisUpdate or nextUpdate"
    "next-month13|invalid: an unreadable thisUpdate or nextUpdate"
    "next-1970|invalid: nextUpdate before thisUpdate"
    "next-before-this|invalid: nextUpdate before thisUpdate"
    "next-before-this-skew|invalid: nextUpdate before thisUpdate"
    "this-garbage|invalid: an unreadable thisUpdate or nextUpdate"
    "md5-sig|invalid: the response is signed with MD5, too weak for security level 2"
    "sha1-sig|invalid: the response is signed with SHA1, too weak for security level 2"
    "by-resp-md5|invalid: the responder certificate is signed with MD5, too weak for security level 2"
    "by-resp-sha1|invalid: the responder certificate is signed with SHA1, too weak for security level 2"
    "by-resp-512|invalid: the signer's key (RSA, 512 bits) is too weak for security level 2"
    "by-resp-noku|invalid: signer not authorised: the responder certificate's keyUsage lacks digitalSignature"
    "by-resp-crit|invalid: the responder certificate has a critical extension it does not understand"
    "by-resp-short|good"
    "by-resp-expired|invalid: the responder certificate has expired"
    "resp-crit-ext|invalid: a critical responseExtension it does not understand"
    "single-crit-ext|invalid: a critical singleExtension it does not understand"
    "resp-ext-noncrit|good"
    "single-ext-noncrit|good"
    "twin-signed|invalid: the response is about another certificate"
    "twin-id|invalid: signer not authorised: not a certificate the issuer signed"
    "revoked-stale-plus-good|revoked"
    "revoked-future-plus-good|revoked"
    "revoked-sha256-plus-good|revoked"
    "revoked-md5-plus-good|revoked"
)

setup_file() {
    pki_shared
    pki_hostile_make "$PKI"
    pki_hostile_short_responder "$PKI" 600
    export RESP=$BATS_FILE_TMPDIR/resp
    mkdir -p "$RESP"
    local row
    for row in "${EXPECTED[@]}"; do
        pki_hostile_ocsp "$PKI" "${row%%|*}" must "$RESP/${row%%|*}.der"
    done
}

setup() {
    setup_test
    PORT=$(free_port)
    FAILURES=()
}

teardown() {
    kill_bg
}

report() {
    printf '%s\n' "${FAILURES[@]}" >&2
    [ "${#FAILURES[@]}" -eq 0 ]
}

@test "every case table row is one of the factory's cases, and every case is in the table" {
    diff <(printf '%s\n' "${EXPECTED[@]}" | cut -d'|' -f1 | sort) \
        <(pki_hostile_cases | sort)
}

@test "staplectl verify: each class gets its verdict and a reason that names it" {
    local row case want got rc wrc
    for row in "${EXPECTED[@]}"; do
        case=${row%%|*} want=${row#*|} rc=0
        got=$("$TOP/staplectl" verify --cert "$PKI/must.pem" \
            --issuer "$PKI/int.pem" --security-level 2 "$RESP/$case.der" 2>&1) || rc=$?
        wrc=$(verdict_status "${want%%:*}")
        [[ $got == "$want" && $rc -eq $wrc ]] ||
            FAILURES+=("$case: expected '$want' (exit $wrc), got '$got' (exit $rc)")
    done
    report
}

@test "without an issuer no CertID matches, and at level 0 the weak ones pass" {
    run "$TOP/staplectl" verify --cert "$PKI/must.pem" "$RESP/good.der"
    [ "$status" -eq 2 ]
    [ "$output" = "invalid: the certificate's issuer is unknown" ]
    # the same responses are refused for their weakness only
    for case in md5-sig sha1-sig by-resp-md5 by-resp-sha1 by-resp-512; do
        run "$TOP/staplectl" verify --cert "$PKI/must.pem" --issuer "$PKI/int.pem" \
            --security-level 0 "$RESP/$case.der"
        [ "$output" = good ] || FAILURES+=("$case at level 0: $output")
    done
    report
}

# native FILE: s_server WITHOUT the preload, serving must and stapling FILE.
native() {
    bg native openssl s_server -www -accept "127.0.0.1:$PORT" \
        -cert "$PKI/must.pem" -key "$PKI/must.key" -cert_chain "$PKI/int.pem" \
        -status_file "$1"
    wait_port "$PORT"
}

# client TLSFLAG: s_client under the preload, authenticating the server.
client() {
    printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 env LD_PRELOAD="$PRELOAD" \
        openssl s_client -connect "127.0.0.1:$PORT" -servername must.test \
        -CAfile "$PKI/ca.pem" -verify_return_error -ign_eof "$1" \
        >"$T/client.out" 2>&1
}

# through_client TLSFLAG: every case through the client role of s_client;
# good is accepted, revoked and invalid rejected (must is Must-Staple), each
# with one log line carrying the verdict and the reason.
through_client() {
    local row case want rc line
    for row in "${EXPECTED[@]}"; do
        case=${row%%|*} want=${row#*|}
        : >"$LIBSTAPLE_LOG"
        native "$RESP/$case.der"
        rc=0
        client "$1" || rc=$?
        kill_bg
        line=$(grep 'must.test: ' "$LIBSTAPLE_LOG")
        if [[ $want == good ]]; then
            [[ $rc -eq 0 && $line == *"accepted /CN=must.test [Must-Staple]: good (policy must-staple)" ]] ||
                FAILURES+=("$case $1: expected accepted good; rc $rc, log '$line'")
        else
            [[ $rc -ne 0 && $line == *"error: must.test: rejected /CN=must.test [Must-Staple]: $want (policy must-staple)" ]] ||
                FAILURES+=("$case $1: expected rejected '$want'; rc $rc, log '$line'")
        fi
    done
    report
}

@test "the client role refuses every class (TLS 1.3)" {
    export LIBSTAPLE_LOG_LEVEL=debug
    through_client -tls1_3
}

@test "the client role refuses every class (TLS 1.2)" {
    export LIBSTAPLE_LOG_LEVEL=debug
    through_client -tls1_2
}

@test "'staple signature verified' is logged only for a signature that verified" {
    export LIBSTAPLE_LOG_LEVEL=debug
    pki_ocsp "$PKI" must badsig issuer now "$T/badsig.der"
    native "$T/badsig.der"
    run client -tls1_3
    [ "$status" -ne 0 ]
    [ "$(log_count "rejected /CN=must.test \[Must-Staple\]: invalid: bad signature")" -eq 1 ]
    [ "$(log_count "staple signature verified")" -eq 0 ]
    kill_bg
    native "$RESP/good.der"
    client -tls1_3
    [ "$(log_count "staple signature verified")" -eq 1 ]
}

@test "a cached verdict ends with the responder certificate that signed it" {
    # A responder valid for 15 more seconds signs a staple valid for a day:
    # the first connections are good (and cached); once the responder has
    # expired (the third waits for its notAfter, however long the set-up
    # took on a busy machine), the same staple is invalid, not served from
    # the cache.
    local end
    pki_hostile_short_responder "$PKI" 15
    end=$(date -u -d "$(openssl x509 -in "$PKI/resp-short.pem" -noout -enddate | cut -d= -f2)" +%s)
    pki_hostile_ocsp "$PKI" by-resp-short must "$T/short.der"
    native "$T/short.der"
    export LIBSTAPLE_LOG_LEVEL=debug
    run env LD_PRELOAD="$PRELOAD" python3 -c "
import socket, ssl, time
ctx = ssl.create_default_context(cafile='$PKI/ca.pem')
for until in (0, 0, $end + 2):
    time.sleep(max(0, until - time.time()))
    try:
        with ctx.wrap_socket(socket.create_connection(('127.0.0.1', $PORT)),
                             server_hostname='must.test'):
            print('ok')
    except ssl.SSLError as e:
        print('refused')
"
    pki_hostile_short_responder "$PKI" 600
    [ "$output" = "$(printf 'ok\nok\nrefused')" ]
    [ "$(log_count "staple verdict from cache")" -eq 1 ]
    [ "$(log_count "rejected /CN=must.test \[Must-Staple\]: invalid: the responder certificate has expired")" -eq 1 ]
}

@test "the server role serves none of the unreadable-time or critical-extension staples" {
    local case
    for case in next-garbage next-1970 next-before-this this-garbage single-crit-ext; do
        rm -f "$T"/staples/*
        cp "$RESP/$case.der" "$T/staples/$case.der"
        : >"$LIBSTAPLE_LOG"
        s_server "$PORT" must
        got=$(staple "$PORT")
        kill_bg
        [[ $got == none ]] || FAILURES+=("$case: served '$got'")
        grep -q "not stapling $case.der: " "$LIBSTAPLE_LOG" ||
            FAILURES+=("$case: no log line: $(cat "$LIBSTAPLE_LOG")")
        PORT=$(free_port)
    done
    report
}
