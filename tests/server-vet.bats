#!/usr/bin/env bats
# Server role, vetting: every staple's signature is checked against the
# issuer this process knows (a server chain, or `issuers =`) when its file is
# read. A staple that fails is never served, and one log line says why; of
# several current staples for one certificate the newest valid one is served.

load lib/common
# shellcheck source=tests/lib/pki-hostile.sh
source "$TOP/tests/lib/pki-hostile.sh"

setup() {
    setup_test
    PORT=$(free_port)
}

teardown() {
    kill_bg
}

# The bad staples of bad_staples, as "FILE WHY" (WHY: the log line's reason).
BAD_CASES=(
    "rogue.der signer not authorised: not a certificate the issuer signed"
    "nosign.der signer not authorised: the responder certificate lacks the OCSPSigning extended key usage"
    "badsig.der bad signature"
    "sha1-sig.der the response is signed with SHA1, too weak for security level 2"
    "by-resp-512.der the signer's key (RSA, 512 bits) is too weak for security level 2"
)

# bad_staples LEAF: one staple of each BAD_CASES kind for LEAF in $T/staples.
bad_staples() {
    pki_ocsp "$PKI" "$1" good rogue now "$T/staples/rogue.der"
    pki_ocsp "$PKI" "$1" good nosign now "$T/staples/nosign.der"
    pki_ocsp "$PKI" "$1" badsig issuer now "$T/staples/badsig.der"
    pki_hostile_ocsp "$PKI" sha1-sig "$1" "$T/staples/sha1-sig.der"
    pki_hostile_ocsp "$PKI" by-resp-512 "$1" "$T/staples/by-resp-512.der"
}

# not_served_once: exactly one "not served" line per BAD_CASES file, with
# its reason, and no other "not served" line.
not_served_once() {
    local c
    for c in "${BAD_CASES[@]}"; do
        [ "$(log_count "warn: $T/staples/${c%% *}: ${c#* }; not served$")" -eq 1 ]
    done
    [ "$(log_count "; not served$")" -eq "${#BAD_CASES[@]}" ]
}

# not_served_line FILE WHY: the log line for a staple file that fails.
not_served_line() {
    echo "warn: $T/staples/$1: $2; not served"
}

# this_update FILE: the response's thisUpdate, seconds since the epoch.
this_update() {
    date -u -d "$(openssl ocsp -respin "$1" -resp_text -noverify 2>/dev/null |
        sed -n 's/^ *This Update: //p')" +%s
}

# s_server_nochain PORT LEAF [ARGS...]: s_server under the preload serving
# LEAF without any chain certificate.
s_server_nochain() {
    local port=$1 cert=$2
    shift 2
    bg s_server env LD_PRELOAD="$PRELOAD" openssl s_server -www \
        -accept "127.0.0.1:$port" -cert "$PKI/$cert.pem" \
        -key "$PKI/$cert.key" "$@"
    wait_port "$port"
}

# nginx_conf_tls13 WORKERS LEAF...: nginx_conf, with TLS 1.3 enabled too
# (nginx 1.22 offers only up to TLS 1.2 by default).
nginx_conf_tls13() {
    nginx_conf "$@"
    sed -i 's/^http {$/&\n    ssl_protocols TLSv1.2 TLSv1.3;/' "$T/nginx/nginx.conf"
    grep -q 'ssl_protocols TLSv1.2 TLSv1.3;' "$T/nginx/nginx.conf"
}

# good_then_newer_bad LEAF: $T/staples/a-good.der (good, by the issuer),
# then, a second later, $T/staples/b-bad.der (revoked, by the rogue CA),
# whose thisUpdate is checked to be the later one.
good_then_newer_bad() {
    pki_ocsp "$PKI" "$1" good issuer now "$T/staples/a-good.der"
    sleep 1
    pki_ocsp "$PKI" "$1" revoked rogue now "$T/staples/b-bad.der"
    (($(this_update "$T/staples/b-bad.der") > $(this_update "$T/staples/a-good.der")))
}

# show_line FILE STATUS: the start of `staplectl show`'s line for the
# single-response FILE, up to and including "next ...: ".
show_line() {
    local text this next key
    text=$(openssl ocsp -respin "$1" -resp_text -noverify 2>/dev/null)
    this=$(date -u -d "$(sed -n 's/^ *This Update: //p' <<<"$text")" +%Y-%m-%dT%H:%M:%SZ)
    next=$(date -u -d "$(sed -n 's/^ *Next Update: //p' <<<"$text")" +%Y-%m-%dT%H:%M:%SZ)
    key=$(sed -n 's/^ *Issuer Key Hash: //p' <<<"$text")
    echo "$1: serial $(serial rsa) issuer-key ${key:0:16} $2 this $this next $next: "
}

@test "s_server: rogue, nosign, badsig, SHA-1 and RSA-512 staples are not served; one line each" {
    bad_staples rsa
    s_server "$PORT" rsa
    for tls in -tls1_3 -tls1_2 -tls1_3 -tls1_2; do
        [ "$(staple "$PORT" "$tls")" = "none" ]
    done
    kill -0 "$BG_PID"
    not_served_once
    # and one line, not one per handshake, for the certificate left without
    [ "$(log_count "warn: /CN=rsa.test (serial $(serial rsa)): not stapling ")" -eq 1 ]
    [ "$(wc -l <"$LIBSTAPLE_LOG")" -eq $((${#BAD_CASES[@]} + 1)) ]
}

@test "nginx, master and 2 workers: the same bad staples are not served; one line each" {
    bad_staples rsa
    nginx_conf_tls13 2 rsa
    nginx_start
    [ "$(pgrep -c -P "$BG_PID")" -ge 2 ]
    for _ in 1 2 3; do
        [ "$(staple "$PORT" -servername rsa.test -tls1_3)" = "none" ]
        [ "$(staple "$PORT" -servername rsa.test -tls1_2)" = "none" ]
    done
    run curl -sS --cacert "$PKI/ca.pem" \
        --resolve "rsa.test:$PORT:127.0.0.1" "https://rsa.test:$PORT/"
    [ "$output" = "rsa" ]
    [ "$(pgrep -c -P "$BG_PID")" -ge 2 ]
    not_served_once
}

@test "s_server: a good staple beats a newer bad one for the same certificate" {
    # The newest staple used to be served whatever its signature: here the
    # rogue CA's "revoked".
    good_then_newer_bad rsa
    s_server "$PORT" rsa
    [ "$(staple "$PORT" -tls1_3)" = "$(serial rsa) good" ]
    [ "$(staple "$PORT" -tls1_2)" = "$(serial rsa) good" ]
    [ "$(log_count "$(not_served_line b-bad.der "signer not authorised: not a certificate the issuer signed")")" -eq 1 ]
    [ "$(wc -l <"$LIBSTAPLE_LOG")" -eq 1 ]
}

@test "nginx: a good staple beats a newer bad one for the same certificate" {
    good_then_newer_bad rsa
    nginx_conf_tls13 2 rsa
    nginx_start
    for _ in 1 2 3; do
        [ "$(staple "$PORT" -servername rsa.test -tls1_3)" = "$(serial rsa) good" ]
        [ "$(staple "$PORT" -servername rsa.test -tls1_2)" = "$(serial rsa) good" ]
    done
    [ "$(log_count "$(not_served_line b-bad.der "signer not authorised: not a certificate the issuer signed")")" -eq 1 ]
    [ "$(log_count "; not served$")" -eq 1 ]
}

@test "a delegated responder's staple is served" {
    pki_ocsp "$PKI" rsa revoked responder now "$T/staples/rsa.der"
    s_server "$PORT" rsa
    [ "$(staple "$PORT" -tls1_3)" = "$(serial rsa) revoked" ]
    [ "$(staple "$PORT" -tls1_2)" = "$(serial rsa) revoked" ]
    [ ! -s "$LIBSTAPLE_LOG" ]
}

@test "a staple signed by the issuer itself is served" {
    pki_ocsp "$PKI" rsa revoked issuer now "$T/staples/rsa.der"
    s_server "$PORT" rsa
    [ "$(staple "$PORT" -tls1_3)" = "$(serial rsa) revoked" ]
    [ "$(staple "$PORT" -tls1_2)" = "$(serial rsa) revoked" ]
    [ ! -s "$LIBSTAPLE_LOG" ]
}

@test "no chain and no issuers: nothing is stapled, one warning (Must-Staple)" {
    pki_ocsp "$PKI" must good issuer now "$T/staples/must.der"
    s_server_nochain "$PORT" must
    for tls in -tls1_3 -tls1_2 -tls1_3; do
        [ "$(staple "$PORT" "$tls")" = "none" ]
    done
    [ "$(log_count "^libstaple\[[0-9]*\]: warn: /CN=must.test (serial $(serial must)): no staple can be matched: its issuer is neither in the chain the server sends nor among the configured issuers$")" -eq 1 ]
    [ "$(wc -l <"$LIBSTAPLE_LOG")" -eq 1 ]
}

@test "no chain, a plain certificate: the unmatched staple is an info line" {
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
    export LIBSTAPLE_LOG_LEVEL=info
    s_server_nochain "$PORT" rsa
    [ "$(staple "$PORT")" = "none" ]
    [ "$(staple "$PORT")" = "none" ]
    [ "$(log_count "info: /CN=rsa.test (serial $(serial rsa)): no staple can be matched: ")" -eq 1 ]
    [ "$(log_count "warn: ")" -eq 0 ]
}

@test "no chain, the issuer in 'issuers = FILE' (or its old name ca_file): served" {
    pki_ocsp "$PKI" must good issuer now "$T/staples/must.der"
    for key in issuers ca_file; do
        echo "$key = $PKI/int.pem" >"$LIBSTAPLE_CONF"
        s_server_nochain "$PORT" must
        [ "$(staple "$PORT" -tls1_3)" = "$(serial must) good" ]
        [ "$(staple "$PORT" -tls1_2)" = "$(serial must) good" ]
        kill_bg
    done
    [ ! -s "$LIBSTAPLE_LOG" ]
}

@test "no chain, 'issuers' given: a rogue staple is still not served" {
    pki_ocsp "$PKI" must good rogue now "$T/staples/must.der"
    echo "issuers = $PKI/int.pem" >"$LIBSTAPLE_CONF"
    s_server_nochain "$PORT" must
    [ "$(staple "$PORT")" = "none" ]
    [ "$(log_count "$(not_served_line must.der "signer not authorised: not a certificate the issuer signed")")" -eq 1 ]
}

@test "a second SNI context without a chain: the first context's chain taught the issuer" {
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
    pki_ocsp "$PKI" vhost revoked issuer now "$T/staples/vhost.der"
    s_server "$PORT" rsa -servername vhost.test \
        -cert2 "$PKI/vhost.pem" -key2 "$PKI/vhost.key"
    # vhost.test's context really sends no chain
    run bash -c "openssl s_client -connect 127.0.0.1:$PORT -servername vhost.test \
        -showcerts </dev/null 2>/dev/null | grep -c 'BEGIN CERTIFICATE'"
    [ "$output" = 1 ]
    [ "$(staple "$PORT" -servername vhost.test -tls1_3)" = "$(serial vhost) revoked" ]
    [ "$(staple "$PORT" -servername vhost.test -tls1_2)" = "$(serial vhost) revoked" ]
    [ "$(staple "$PORT" -servername other.test)" = "$(serial rsa) good" ]
    [ ! -s "$LIBSTAPLE_LOG" ]
}

@test "a bad staple replaced by a good one while the server runs, and back" {
    echo "reload_interval = 1" >"$LIBSTAPLE_CONF"
    pki_ocsp "$PKI" rsa good rogue now "$T/staples/rsa.der"
    s_server "$PORT" rsa
    [ "$(staple "$PORT")" = "none" ]
    pki_ocsp "$PKI" rsa revoked issuer now "$T/staples/.new"
    mv "$T/staples/.new" "$T/staples/rsa.der"
    staple_within 3 "$(serial rsa) revoked" "$PORT"
    pki_ocsp "$PKI" rsa good nosign now "$T/staples/.new"
    mv "$T/staples/.new" "$T/staples/rsa.der"
    staple_within 3 "none" "$PORT"
    [ "$(log_count "$(not_served_line rsa.der "signer not authorised: not a certificate the issuer signed")")" -eq 1 ]
    [ "$(log_count "$(not_served_line rsa.der "signer not authorised: the responder certificate lacks the OCSPSigning extended key usage")")" -eq 1 ]
    [ "$(log_count "; not served$")" -eq 2 ]
}

# (--warn 1h: these staples live a day, so the default --warn 1d would flag
# them as expiring a second after they were made.)
@test "staplectl show --issuer: bad signatures are flagged, exit 1" {
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/good.der"
    pki_ocsp "$PKI" rsa good rogue now "$T/staples/rogue.der"
    pki_ocsp "$PKI" rsa badsig issuer now "$T/staples/badsig.der"
    run "$TOP/staplectl" show --warn 1h --issuer "$PKI/int.pem" "$T/staples"
    [ "$status" -eq 1 ]
    [ "${#lines[@]}" -eq 3 ]
    [ "${lines[0]}" = "$(show_line "$T/staples/badsig.der" good)bad signature: not served (bad signature)" ]
    [[ ${lines[1]} == "$(show_line "$T/staples/good.der" good)serves it ("*" left)" ]]
    [ "${lines[2]}" = "$(show_line "$T/staples/rogue.der" good)bad signature: not served (signer not authorised: not a certificate the issuer signed)" ]

    rm "$T/staples/rogue.der" "$T/staples/badsig.der"
    run "$TOP/staplectl" show --warn 1h --issuer "$PKI/int.pem" "$T/staples"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ ${lines[0]} == "$(show_line "$T/staples/good.der" good)serves it ("*" left)" ]]
}

@test "staplectl show: the issuer from 'issuers' in LIBSTAPLE_CONF, or a note without it" {
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/good.der"
    pki_ocsp "$PKI" rsa good nosign now "$T/staples/nosign.der"
    run "$TOP/staplectl" show --warn 1h "$T/staples"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 2 ]
    for line in "${lines[@]}"; do
        [[ $line == *" left); signature not checked: issuer unknown here (give --issuer)" ]]
    done

    echo "issuers = $PKI/int.pem" >"$LIBSTAPLE_CONF"
    run "$TOP/staplectl" show --warn 1h "$T/staples"
    [ "$status" -eq 1 ]
    [ "${#lines[@]}" -eq 2 ]
    [[ ${lines[0]} == "$(show_line "$T/staples/good.der" good)serves it ("*" left)" ]]
    [ "${lines[1]}" = "$(show_line "$T/staples/nosign.der" good)bad signature: not served (signer not authorised: the responder certificate lacks the OCSPSigning extended key usage)" ]
}

@test "security_level = 0 serves a SHA-1 signed staple; the default does not" {
    pki_hostile_ocsp "$PKI" sha1-sig rsa "$T/staples/sha1-sig.der"
    s_server "$PORT" rsa
    [ "$(staple "$PORT")" = "none" ]
    [ "$(log_count "$(not_served_line sha1-sig.der "the response is signed with SHA1, too weak for security level 2")")" -eq 1 ]
    kill_bg
    : >"$LIBSTAPLE_LOG"
    echo "security_level = 0" >"$LIBSTAPLE_CONF"
    s_server "$PORT" rsa
    [ "$(staple "$PORT" -tls1_3)" = "$(serial rsa) good" ]
    [ "$(staple "$PORT" -tls1_2)" = "$(serial rsa) good" ]
    [ ! -s "$LIBSTAPLE_LOG" ]
}
