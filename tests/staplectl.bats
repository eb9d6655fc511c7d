#!/usr/bin/env bats
# staplectl: show, verify and fetch against the test PKI and a real OCSP
# responder (`openssl ocsp -port` on loopback).

load lib/common

setup() {
    setup_test
    CTL=$TOP/staplectl
}

teardown() {
    kill_bg
}

@test "verify: good, revoked, invalid and missing, with exit codes" {
    pki_ocsp "$PKI" rsa good responder now "$T/good.der"
    pki_ocsp "$PKI" rsa revoked issuer now "$T/revoked.der"
    pki_ocsp "$PKI" rsa good nosign now "$T/nosign.der"
    pki_ocsp "$PKI" vhost good issuer now "$T/other.der"
    : >"$T/empty.der"
    v() { "$CTL" verify --cert "$PKI/rsa.pem" --issuer "$PKI/int.pem" --CAfile "$PKI/ca.pem" "$@"; }
    run v "$T/good.der"
    [ "$status" -eq 0 ] && [ "$output" = "good" ]
    run v "$T/revoked.der"
    [ "$status" -eq 1 ] && [ "$output" = "revoked" ]
    run v "$T/nosign.der"
    [ "$status" -eq 2 ] && [[ $output == "invalid: "* ]]
    run v "$T/other.der"
    [ "$status" -eq 2 ] && [ "$output" = "invalid: the response is about another certificate" ]
    run v "$T/empty.der"
    [ "$status" -eq 2 ] && [ "$output" = "missing" ]
    # --at: the good response is not valid two days from now
    run v --at "$(($(date +%s) + 2 * 86400))" "$T/good.der"
    [ "$status" -eq 2 ] && [ "$output" = "invalid: expired" ]
}

@test "show: what the library does with each staple, and a monitoring exit code" {
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/a-good.der"
    faketime -f '-1h' bash -c "source '$TOP/tests/lib/pki.sh' &&
        pki_ocsp '$PKI' rsa good issuer now '$T/staples/b-older.der'"
    pki_ocsp "$PKI" vhost revoked issuer now "$T/staples/c-revoked.der"
    run "$CTL" show --warn 1h "$T/staples"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 3 ]
    [[ ${lines[0]} == "$T/staples/a-good.der: serial $(serial rsa) "*" good "*": serves it ("*" left)" ]]
    [[ ${lines[1]} == "$T/staples/b-older.der: serial $(serial rsa) "*": duplicate superseded "* ]]
    [[ ${lines[2]} == "$T/staples/c-revoked.der: serial $(serial vhost) "*" revoked "*": serves it "* ]]
    # the default --warn is a day: a one-day staple made a minute ago
    # expires within it
    faketime -f '-1m' bash -c "source '$TOP/tests/lib/pki.sh' &&
        pki_ocsp '$PKI' rsa good issuer now '$T/minute.der'"
    run "$CTL" show "$T/minute.der"
    [ "$status" -eq 1 ]
    [[ $output == *"serves it ("*" left), expires within --warn" ]]
    pki_ocsp "$PKI" rsa good issuer expired "$T/staples/d-stale.der"
    pki_garbage "$T/staples/e-garbage.der"
    run "$CTL" show --warn 1h "$T/staples"
    [ "$status" -eq 1 ]
    [[ ${lines[3]} == "$T/staples/d-stale.der: "*": stale (expired 9d0h ago)" ]]
    [ "${lines[4]}" = "$T/staples/e-garbage.der: not a response: not a DER OCSP response" ]
}

@test "show: the configured staple directory by default" {
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
    run "$CTL" show --warn 1h
    [ "$status" -eq 0 ]
    [[ $output == "$T/staples/rsa.der: serial $(serial rsa) "* ]]
}

@test "fetch: a verified answer from a real responder is stored and then served" {
    ocsp_responder "$PKI/index.txt" responder
    run "$CTL" fetch --cert "$PKI/rsa.full.pem" --url "http://127.0.0.1:$RPORT/"
    [ "$status" -eq 0 ]
    [ "$output" = "$PKI/rsa.full.pem: good: stored $T/staples/rsa.full.der" ]
    [ "$(ls -A "$T/staples")" = "rsa.full.der" ]   # no temporary file left
    PORT=$(free_port)
    s_server "$PORT" rsa
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
}

@test "fetch: a revoked certificate's answer is stored (a staple says revoked)" {
    ocsp_responder "$PKI/index.txt" int
    run "$CTL" fetch --cert "$PKI/revoked.pem" --issuer "$PKI/int.pem" \
        --url "http://127.0.0.1:$RPORT/" --dir "$T/staples"
    [ "$status" -eq 0 ]
    [ "$output" = "$PKI/revoked.pem: revoked: stored $T/staples/revoked.der" ]
}

@test "fetch: a stopped responder leaves the old staple untouched" {
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.full.der"
    cp "$T/staples/rsa.full.der" "$T/before"
    port=$(free_port)
    run "$CTL" fetch --cert "$PKI/rsa.full.pem" --url "http://127.0.0.1:$port/" --timeout 3
    [ "$status" -eq 1 ]
    [[ $output == *"the old staple is kept" ]]
    cmp "$T/before" "$T/staples/rsa.full.der"
    [ "$(ls -A "$T/staples")" = "rsa.full.der" ]
}

@test "fetch: a bad answer (unauthorised signer) leaves the old staple untouched" {
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.full.der"
    cp "$T/staples/rsa.full.der" "$T/before"
    ocsp_responder "$PKI/index.txt" rogue
    run "$CTL" fetch --cert "$PKI/rsa.full.pem" --url "http://127.0.0.1:$RPORT/"
    [ "$status" -eq 1 ]
    [[ $output == *"answered with an invalid response"*"the old staple is kept" ]]
    cmp "$T/before" "$T/staples/rsa.full.der"
}

@test "fetch: a certificate without an OCSP URL is reported plainly" {
    run "$CTL" fetch --cert "$PKI/rsa.full.pem"
    [ "$status" -eq 2 ]
    [ "$output" = "$PKI/rsa.full.pem: the certificate names no OCSP responder (give --url); nothing fetched" ]
}
