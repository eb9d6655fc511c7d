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
    run "$CTL" show --warn 1h --issuer "$PKI/int.pem" "$T/staples"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 3 ]
    [[ ${lines[0]} == "$T/staples/a-good.der: serial $(serial rsa) "*" good "*": serves it ("*" left)" ]]
    [[ ${lines[1]} == "$T/staples/b-older.der: serial $(serial rsa) "*": duplicate superseded "* ]]
    [[ ${lines[2]} == "$T/staples/c-revoked.der: serial $(serial vhost) "*" revoked "*": serves it "* ]]
    # the default --warn is a day: a one-day staple made a minute ago
    # expires within it
    faketime -f '-1m' bash -c "source '$TOP/tests/lib/pki.sh' &&
        pki_ocsp '$PKI' rsa good issuer now '$T/minute.der'"
    run "$CTL" show --issuer "$PKI/int.pem" "$T/minute.der"
    [ "$status" -eq 1 ]
    [[ $output == *"serves it ("*" left), expires within --warn" ]]
    pki_ocsp "$PKI" rsa good issuer expired "$T/staples/d-stale.der"
    pki_garbage "$T/staples/e-garbage.der"
    run "$CTL" show --warn 1h --issuer "$PKI/int.pem" "$T/staples"
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
    # named by issuer key and serial, not by the certificate's file name
    name=$(ls -A "$T/staples")   # one file, no temporary file left
    [[ $name == ????????????????-$(serial rsa | tr A-F a-f).der ]]
    [ "$output" = "$PKI/rsa.full.pem: good: stored $T/staples/$name" ]
    PORT=$(free_port)
    s_server "$PORT" rsa
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
}

@test "fetch: a revoked certificate's answer is stored (a staple says revoked)" {
    ocsp_responder "$PKI/index.txt" int
    run "$CTL" fetch --cert "$PKI/revoked.pem" --issuer "$PKI/int.pem" \
        --url "http://127.0.0.1:$RPORT/" --dir "$T/staples"
    [ "$status" -eq 0 ]
    [ "$output" = "$PKI/revoked.pem: revoked: stored $T/staples/$(ls "$T/staples")" ]
    [[ $(ls "$T/staples") == *-$(serial revoked | tr A-F a-f).der ]]
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

@test "show --json: the same verdicts, for machines" {
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/a-good.der"
    pki_ocsp "$PKI" rsa good rogue now "$T/staples/b-rogue.der"
    pki_garbage "$T/staples/c-garbage.der"
    run "$CTL" show --json --warn 1h --issuer "$PKI/int.pem" "$T/staples"
    [ "$status" -eq 1 ]
    python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
s = d["staples"]
assert [x["state"] for x in s] == ["served", "unusable", "not-a-response"], s
assert s[0]["served"] is True and s[0]["status"] == "good" and s[0]["serial"] == sys.argv[1]
assert 80000 < s[0]["seconds_left"] <= 86400, s[0]
assert s[1]["served"] is False and "signer not authorised" in s[1]["text"], s[1]
assert s[2]["reason"] == "not a DER OCSP response", s[2]
assert d["attention"] is True
' "$(serial rsa)" <<<"$output"
}

@test "metrics: Prometheus text, one gauge each for time left and served" {
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/a-good.der"
    pki_ocsp "$PKI" rsa good issuer expired "$T/staples/b-stale.der"
    pki_ocsp "$PKI" vhost badsig issuer now "$T/staples/c-badsig.der"
    run "$CTL" metrics --warn 1h --issuer "$PKI/int.pem" "$T/staples"
    [ "$status" -eq 1 ]
    grep -qx "# TYPE libstaple_staple_seconds_left gauge" <<<"$output"
    grep -qx "# TYPE libstaple_staple_served gauge" <<<"$output"
    line=$(grep "^libstaple_staple_seconds_left{file=\"$T/staples/a-good.der\",serial=\"$(serial rsa)\"," <<<"$output")
    left=${line##* }
    ((left > 80000 && left <= 86400))
    grep -q "^libstaple_staple_seconds_left{file=\"$T/staples/b-stale.der\".*} -" <<<"$output"
    grep -q "^libstaple_staple_served{file=\"$T/staples/a-good.der\",.*,state=\"served\"} 1$" <<<"$output"
    grep -q "^libstaple_staple_served{file=\"$T/staples/b-stale.der\",.*,state=\"expired\"} 0$" <<<"$output"
    grep -q "^libstaple_staple_served{file=\"$T/staples/c-badsig.der\",.*,state=\"unusable\"} 0$" <<<"$output"
    grep -qx "libstaple_staples_attention 1" <<<"$output"
    # every line is a comment or NAME{LABELS} VALUE
    run ! grep -v -E '^(# (HELP|TYPE) .*|libstaple_[a-z_]+(\{[^}]*\})? -?[0-9]+)$' <<<"$output"
}

@test "show: 1,200 files read by one thread per core come out in order, each with its own verdict" {
    cc -std=gnu99 -O2 -o "$T/gen_staples" "$TOP/bench/gen_staples.c" -lssl -lcrypto
    "$T/gen_staples" "$PKI/int.pem" "$PKI/int.key" "$T/staples" 1200
    # every 7th not a response; every 11th with a bad signature: its last
    # byte (the signature's, as the response carries no certificates) flipped
    python3 -c '
import sys
d = sys.argv[1]
for i in range(0, 1200, 7):
    open(f"{d}/staple-{i}.der", "wb").write(b"\xff" + bytes(599))
for i in range(5, 1200, 11):
    if i % 7:
        b = bytearray(open(f"{d}/staple-{i}.der", "rb").read())
        b[-1] ^= 0xFF
        open(f"{d}/staple-{i}.der", "wb").write(b)
' "$T/staples"
    run "$CTL" show --warn 1h --issuer "$PKI/int.pem" "$T/staples"
    [ "$status" -eq 1 ]
    mapfile -t files < <(cd "$T/staples" && printf '%s\n' staple-*.der | LC_ALL=C sort)
    [ "${#lines[@]}" -eq 1200 ] && [ "${#files[@]}" -eq 1200 ]
    for ((k = 0; k < 1200; k++)); do
        f=${files[k]} i=${files[k]//[^0-9]/}
        printf -v serial %X $((0x5000000000 + i))
        if ((i % 7 == 0)); then
            want="$T/staples/$f: not a response: not a DER OCSP response"
        elif ((i % 11 == 5)); then
            want="$T/staples/$f: serial $serial *: bad signature: not served (bad signature)"
        else
            want="$T/staples/$f: serial $serial * good *: serves it (*"
        fi
        # shellcheck disable=SC2053 # want is a pattern
        [[ ${lines[k]} == $want ]] || { echo "line $k: ${lines[k]}; want $want"; false; }
    done
}

@test "examples/monitoring: the unit writes the metrics file by rename, the alert rules parse" {
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/a-good.der"
    mkdir -p "$T/textfile"
    cmd=$(sed -n "s/^ExecStart=\/bin\/sh -c '\(.*\)'$/\1/p" "$TOP/examples/monitoring/staple-metrics.service")
    cmd=${cmd//\/usr\/bin\/staplectl/$TOP/staplectl}
    cmd=${cmd//\/var\/lib\/node_exporter\/textfile_collector/$T/textfile}
    sh -c "$cmd"
    [ "$(ls -A "$T/textfile")" = libstaple.prom ]
    grep -q "^libstaple_staple_served{file=\"$T/staples/a-good.der\"" "$T/textfile/libstaple.prom"
    python3 -c 'import sys, yaml; r = yaml.safe_load(open(sys.argv[1])); assert [a["alert"] for a in r["groups"][0]["rules"]] == ["StapleExpiresSoon", "StapleNotServed"]' \
        "$TOP/examples/monitoring/alerts.yml"
}
