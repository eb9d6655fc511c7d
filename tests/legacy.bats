#!/usr/bin/env bats
# Legacy OpenSSL under the preload: real, unmodified programs linked to
# OpenSSL 1.1.1 (Debian 11 packages: openssl 1.1.1w, nginx 1.18, curl 7.74,
# Python 3.9, Postfix 3.5) and OpenSSL 1.0.2k (openssl s_server/s_client,
# built from the vendored tarball), in both roles; and libstaple stepping
# aside for a libssl version it does not serve (a fake libssl built here).
#
# setup_file fetches the bullseye packages and builds 1.0.2k once
# (tests/lib/legacy.sh; cached in $STAPLE_LEGACY_WORK, by default
# tests/.work/legacy; `make clean` removes it). When that cannot work on
# this machine at all (the Debian archive cannot be reached, no vendored
# tarball), setup_file fails under CI (CI set), so that every test fails;
# elsewhere the tests that need that tree are skipped, with the reason. Any
# other failure of the fetch or the build fails setup_file.
#
# Servers that staple natively are the system's openssl s_server (3.x)
# WITHOUT the preload (-status_file). Every background process is stopped
# and waited for in teardown (nginx and Postfix as whole process groups),
# which then checks that nothing listens on the test's port and that no
# process naming the test's directory is left.

load lib/common
load lib/legacy.sh
load lib/mail

V111="OpenSSL 1.1.1w  11 Sep 2023"
V102="OpenSSL 1.0.2k  26 Jan 2017"

# legacy_ready VAR CMD...: run CMD (a fetch or build); when it fails because
# it cannot work here at all, set VAR (exported to the tests) to the reason,
# or fail under CI; any other failure fails.
legacy_ready() {
    local var=$1 err=$BATS_FILE_TMPDIR/legacy.err reason
    shift
    "$@" 2>"$err" && return 0
    cat "$err" >&2
    if ! reason=$(legacy_unreachable "$err"); then
        echo "legacy.bats: $* failed" >&2
        return 1
    fi
    if [[ -n ${CI:-} ]]; then
        echo "legacy.bats: $reason (CI is set: the legacy tests must run)" >&2
        return 1
    fi
    export "$var=$reason"
}

setup_file() {
    local work=${STAPLE_LEGACY_WORK:-$TOP/tests/.work/legacy}
    export LEGACY_B=$work/bullseye LEGACY_O=$work/openssl-1.0.2k
    export LEGACY_SKIP_B='' LEGACY_SKIP_O=''
    legacy_ready LEGACY_SKIP_B legacy_bullseye_fetch "$LEGACY_B"
    legacy_ready LEGACY_SKIP_O legacy_openssl102_build "$LEGACY_O"
}

setup() {
    setup_test
    PORT=$(free_port)
    export LIBSTAPLE_LOG_LEVEL=debug
    B=$LEGACY_B
    O=$LEGACY_O
}

teardown() {
    mail_teardown
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        echo "something still listens on port $PORT after the test" >&2
        return 1
    fi
    if [[ -n ${T:-} ]] && pgrep -f -- "$T/" >/dev/null; then
        echo "processes of this test are left over:" >&2
        pgrep -af -- "$T/" >&2
        return 1
    fi
}

# need_b / need_o: skip (outside CI) when the bullseye tree / the 1.0.2k
# build could not be made here.
need_b() {
    [[ -z $LEGACY_SKIP_B ]] || skip "bullseye packages: $LEGACY_SKIP_B"
}
need_o() {
    [[ -z $LEGACY_SKIP_O ]] || skip "OpenSSL 1.0.2k: $LEGACY_SKIP_O"
}

# logged TEXT: how many log lines are exactly "libstaple[PID]: TEXT".
logged() {
    sed -E 's/^libstaple\[[0-9]+\]: //' "$LIBSTAPLE_LOG" 2>/dev/null | grep -cxF -- "$1" || true
}

# bound DIR VERSION: libstaple logged that it uses DIR's libssl (OpenSSL
# VERSION), at least once, and never any other libssl.
bound() {
    local want
    want="debug: using $(legacy_libssl "$1") ($2)"
    [ "$(logged "$want")" -ge 1 ]
    [ "$(log_count ': debug: using ')" -eq "$(logged "$want")" ]
}

# maps_only DIR PID: process PID maps DIR's libssl and libcrypto and no
# other (no libssl.so.3, no libcrypto.so.3). /proc/PID/maps names files by
# their real paths.
maps_only() {
    local ssl
    ssl=$(readlink -f "$(legacy_libssl "$1")")
    [ "$(legacy_ssl_libs "$2")" = "$(printf '%s/%s\n%s' "$(dirname "$ssl")" \
        "$(basename "$ssl" | sed 's/^libssl/libcrypto/')" "$ssl")" ]
}

# proto TLSFLAG: the protocol name s_client prints for -tls1_3 / -tls1_2.
proto() {
    case $1 in -tls1_3) echo TLSv1.3 ;; -tls1_2) echo TLSv1.2 ;; esac
}

# next_update FILE: the nextUpdate of DER response FILE as libstaple logs it.
next_update() {
    date -u -d "$(openssl ocsp -respin "$1" -resp_text -noverify |
        sed -n 's/^ *Next Update: //p')" +'%Y-%m-%d %H:%M:%SZ'
}

# native CERT [STAPLE [TLSFLAG]]: the system's openssl s_server WITHOUT the
# preload on 127.0.0.1:PORT, serving CERT with its chain, stapling the file
# STAPLE itself ("" or none: nothing), only TLSFLAG's version when given.
native() {
    local args=()
    [[ -z ${2:-} ]] || args+=(-status_file "$2")
    [[ -z ${3:-} ]] || args+=("$3")
    bg native env -u LD_PRELOAD openssl s_server -www -accept "127.0.0.1:$PORT" \
        -cert "$PKI/$1.pem" -key "$PKI/$1.key" -cert_chain "$PKI/int.pem" "${args[@]}"
    wait_port "$PORT"
}

# s_client111 NAME [ARGS...] / s_client102 NAME [ARGS...]: 1.1.1's / 1.0.2k's
# openssl s_client under the preload, SNI NAME, trusting the test root,
# sending GET /; output in $T/client.out, its exit status returned. The
# caller says whether it verifies (1.1.1: -verify_return_error; 1.0.2k:
# -verify 5 -verify_return_error).
s_client111() {
    local name=$1
    shift
    legacy_cmd111 "$B" openssl
    printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 env LD_PRELOAD="$PRELOAD" \
        "${LEGACY_CMD[@]}" s_client -connect "127.0.0.1:$PORT" -servername "$name" \
        -CAfile "$PKI/ca.pem" -ign_eof "$@" >"$T/client.out" 2>&1
}
s_client102() {
    local name=$1
    shift
    legacy_cmd102 "$O"
    printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 env LD_PRELOAD="$PRELOAD" \
        "${LEGACY_CMD[@]}" s_client -connect "127.0.0.1:$PORT" -servername "$name" \
        -CAfile "$PKI/ca.pem" -ign_eof "$@" >"$T/client.out" 2>&1
}

# got_page / no_page: the client's output holds (does not hold) s_server
# -www's answer: application data went through. (A bare `! CMD` never fails
# a bats test: errexit ignores it.)
got_page() {
    grep -q '^HTTP/1.0 200 ok' "$T/client.out"
}
no_page() {
    lacks '^HTTP/1.0 200 ok' "$T/client.out"
}

# The verdict lines of the client role (debug level shows them all).
MUST_MISSING="error: must.test: rejected /CN=must.test [Must-Staple]: missing: no staple (policy must-staple)"
MUST_GOOD="debug: must.test: accepted /CN=must.test [Must-Staple]: good (policy must-staple)"
MUST_EXPIRED="error: must.test: rejected /CN=must.test [Must-Staple]: invalid: expired (policy must-staple)"
MUST_UNVERIFIED="warn: must.test: not enforced: /CN=must.test [Must-Staple]: missing: no staple (policy must-staple; the program does not verify the server)"
RSA_REVOKED="error: rsa.test: rejected /CN=rsa.test: revoked (policy must-staple)"
RSA_MISSING="debug: rsa.test: accepted /CN=rsa.test: missing: no staple (policy must-staple)"

# verdicts: how many accepted/rejected/not-enforced lines the log has.
verdicts() {
    log_count ': \(error\|warn\|debug\): [^ ]*: \(accepted\|rejected\|not enforced:\) '
}

# ---------------------------------------------------------------- the trees

@test "bullseye tree: openssl 1.1.1w, nginx 1.18, curl 7.74 (OpenSSL/1.1.1w), Python 3.9 (OpenSSL 1.1.1w), Postfix 3.5" {
    need_b
    run legacy_run111 "$B" openssl version
    [ "$status" -eq 0 ]
    [ "$output" = "$V111" ]
    run legacy_run111 "$B" nginx -v
    [ "$output" = "nginx version: nginx/1.18.0" ]
    run legacy_run111 "$B" curl --version
    [[ ${lines[0]} == "curl 7.74.0 "*" OpenSSL/1.1.1w "* ]]
    run legacy_run111 "$B" python3.9 -c 'import ssl, sys; print("%d.%d" % sys.version_info[:2], ssl.OPENSSL_VERSION)'
    [ "$output" = "3.9 $V111" ]
    mkdir "$T/pfc" && : >"$T/pfc/main.cf" && : >"$T/pfc/master.cf"
    run legacy_run111 "$B" postconf -c "$T/pfc" -d -h mail_version
    [[ $output == 3.5.* ]]
}

@test "1.0.2k tree: openssl version is 1.0.2k, linked to its own libssl.so.1.0.0" {
    need_o
    run legacy_run102 "$O" version
    [ "$status" -eq 0 ]
    [ "$output" = "$V102" ]
    run env LD_LIBRARY_PATH="$O/prefix/lib" ldd "$O/prefix/bin/openssl"
    [[ $output == *"libssl.so.1.0.0 => $(legacy_libssl "$O") "* ]]
    [[ $output != *libssl.so.3* ]]
}

# ---------------------------------------------------------------- 1.1.1: s_server

# s_server111 LEAF [ARGS...]: 1.1.1's s_server -www under the preload,
# serving LEAF with its chain on 127.0.0.1:PORT.
s_server111() {
    local leaf=$1
    shift
    legacy_cmd111 "$B" openssl
    bg s_server env LD_PRELOAD="$PRELOAD" "${LEGACY_CMD[@]}" s_server -www \
        -accept "127.0.0.1:$PORT" -cert "$PKI/$leaf.pem" -key "$PKI/$leaf.key" \
        -cert_chain "$PKI/int.pem" "$@"
    wait_port "$PORT"
}

# serves111 TLSFLAG: the certificate's own staple, not another one's.
serves111() {
    need_b
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
    pki_ocsp "$PKI" vhost revoked issuer now "$T/staples/vhost.der"
    s_server111 rsa "$1"
    [ "$(staple "$PORT" "$1")" = "$(serial rsa) good" ]
    [ "$(legacy_staple "$B" "$PORT" "$1")" = "$(serial rsa) good" ]
    [ "$(logged "debug: stapling rsa.der")" -eq 2 ]
    [ "$(log_count "stapling vhost.der")" -eq 0 ]
    bound "$B" "$V111"
    maps_only "$B" "$BG_PID"
}

@test "1.1.1 s_server under the preload staples the certificate's staple (TLS 1.3)" {
    serves111 -tls1_3
}

@test "1.1.1 s_server under the preload staples the certificate's staple (TLS 1.2)" {
    serves111 -tls1_2
}

@test "1.1.1 s_server under the preload does not serve an expired staple, one log line" {
    need_b
    pki_ocsp "$PKI" rsa good issuer expired "$T/staples/rsa.der"
    s_server111 rsa
    [ "$(staple "$PORT" -tls1_3)" = none ]
    [ "$(staple "$PORT" -tls1_2)" = none ]
    [ "$(legacy_staple "$B" "$PORT" -tls1_3)" = none ]
    [ "$(legacy_staple "$B" "$PORT" -tls1_2)" = none ]
    [ "$(logged "warn: /CN=rsa.test (serial $(serial rsa)): not stapling rsa.der: expired at $(next_update "$T/staples/rsa.der")")" -eq 1 ]
    [ "$(log_count "not stapling")" -eq 1 ]
    [ "$(log_count "debug: stapling")" -eq 0 ]
}

# ---------------------------------------------------------------- 1.1.1: s_client

# client111_* TLSFLAG: 1.1.1's s_client under the preload against the native
# server restricted to TLSFLAG's version.
client111_must_missing() {
    need_b
    native must "" "$1"
    run s_client111 must.test -verify_return_error
    [ "$status" -ne 0 ]
    grep -q ':invalid status response' "$T/client.out"
    no_page
    [ "$(logged "$MUST_MISSING")" -eq 1 ]
    [ "$(verdicts)" -eq 1 ]
    bound "$B" "$V111"
}

client111_revoked() {
    need_b
    pki_ocsp "$PKI" rsa revoked issuer now "$T/revoked.der"
    native rsa "$T/revoked.der" "$1"
    run s_client111 rsa.test -verify_return_error
    [ "$status" -ne 0 ]
    grep -q ':invalid status response' "$T/client.out"
    no_page
    [ "$(logged "$RSA_REVOKED")" -eq 1 ]
    [ "$(verdicts)" -eq 1 ]
}

client111_good() {
    need_b
    pki_ocsp "$PKI" must good issuer now "$T/good.der"
    native must "$T/good.der" "$1"
    s_client111 must.test -verify_return_error -status
    grep -q "^New, $(proto "$1"), Cipher is" "$T/client.out"
    got_page
    # s_client's own -status printing still sees the staple
    [ "$(legacy_staple_parse <"$T/client.out")" = "$(serial must) good" ]
    grep -q '^    Cert Status: good$' "$T/client.out"
    [ "$(logged "$MUST_GOOD")" -eq 1 ]
    [ "$(verdicts)" -eq 1 ]
}

client111_plain() {
    need_b
    native rsa "" "$1"
    s_client111 rsa.test -verify_return_error
    grep -q "^New, $(proto "$1"), Cipher is" "$T/client.out"
    got_page
    [ "$(logged "$RSA_MISSING")" -eq 1 ]
    [ "$(verdicts)" -eq 1 ]
}

client111_unverified() {
    need_b
    native must "" "$1"
    s_client111 must.test
    got_page
    [ "$(logged "$MUST_UNVERIFIED")" -eq 1 ]
    [ "$(verdicts)" -eq 1 ]
}

@test "1.1.1 s_client under the preload: Must-Staple without a staple is refused (TLS 1.3)" {
    client111_must_missing -tls1_3
}

@test "1.1.1 s_client under the preload: Must-Staple without a staple is refused (TLS 1.2)" {
    client111_must_missing -tls1_2
}

@test "1.1.1 s_client under the preload: a revoked staple is refused (TLS 1.3)" {
    client111_revoked -tls1_3
}

@test "1.1.1 s_client under the preload: a revoked staple is refused (TLS 1.2)" {
    client111_revoked -tls1_2
}

@test "1.1.1 s_client under the preload: a good staple is accepted, -status still prints it (TLS 1.3)" {
    client111_good -tls1_3
}

@test "1.1.1 s_client under the preload: a good staple is accepted, -status still prints it (TLS 1.2)" {
    client111_good -tls1_2
}

@test "1.1.1 s_client under the preload: a plain certificate without a staple is accepted (TLS 1.3)" {
    client111_plain -tls1_3
}

@test "1.1.1 s_client under the preload: a plain certificate without a staple is accepted (TLS 1.2)" {
    client111_plain -tls1_2
}

@test "1.1.1 s_client under the preload, not verifying: Must-Staple without a staple is not enforced (TLS 1.3)" {
    client111_unverified -tls1_3
}

@test "1.1.1 s_client under the preload, not verifying: Must-Staple without a staple is not enforced (TLS 1.2)" {
    client111_unverified -tls1_2
}

# ---------------------------------------------------------------- 1.1.1: nginx 1.18

# nginx_get NAME TLSFLAG: one GET over the system's s_client -status to the
# nginx host NAME: "SERIAL STATUS | LEAF WORKERPID" (the body names the
# worker that answered).
nginx_get() {
    local out
    out=$(printf 'GET / HTTP/1.0\r\nHost: %s\r\n\r\n' "$1" | timeout 10 env -u LD_PRELOAD \
        openssl s_client -connect "127.0.0.1:$PORT" -servername "$1" -status \
        -CAfile "$PKI/ca.pem" -ign_eof "$2" 2>&1) || true
    printf '%s | %s\n' "$(legacy_staple_parse <<<"$out")" \
        "$(grep -E '^[a-z]+ [0-9]+$' <<<"$out" | tail -n 1)"
}

# nginx111 TLSFLAG: nginx 1.18 (master, 2 workers) under the preload with the
# SNI hosts rsa.test and ecdsa.test; 20 connections, each must get its host's
# staple, and both workers must have answered. TLS 1.3 needs ssl_protocols
# in 1.18; the first listen gets reuseport, so that the kernel spreads the
# connections over both workers.
nginx111() {
    local leaf got workers seen='' pid
    need_b
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
    pki_ocsp "$PKI" ecdsa good issuer now "$T/staples/ecdsa.der"
    nginx_conf 2 rsa ecdsa
    # shellcheck disable=SC2016 # $pid is nginx's variable
    sed -i -e 's|^http {$|http {\n    ssl_protocols TLSv1.2 TLSv1.3;|' \
        -e '0,/ ssl;$/s// ssl reuseport;/' \
        -e 's|return 200 "\([a-z]*\)\\n";|return 200 "\1 $pid\\n";|' "$T/nginx/nginx.conf"
    # shellcheck disable=SC2016
    [ "$(grep -c 'return 200 "[a-z]* $pid\\n";' "$T/nginx/nginx.conf")" -eq 2 ]
    legacy_cmd111 "$B" nginx
    # its own process group, stopped as a whole by mail_teardown
    bg nginx setsid env LD_PRELOAD="$PRELOAD" "${LEGACY_CMD[@]}" \
        -p "$T/nginx/" -c "$T/nginx/nginx.conf"
    mail_track "$BG_PID"
    wait_port "$PORT"
    [ "$(cat "/proc/$BG_PID/comm")" = nginx ]
    for _ in $(seq 50); do
        workers=$(pgrep -P "$BG_PID" -x nginx | sort -n | tr '\n' ' ') || true
        [ "$(wc -w <<<"$workers")" -eq 2 ] && break
        sleep 0.1
    done
    [ "$(wc -w <<<"$workers")" -eq 2 ]
    for _ in $(seq 10); do
        for leaf in rsa ecdsa; do
            got=$(nginx_get "$leaf.test" "$1")
            [ "${got%% | *}" = "$(serial "$leaf") good" ]
            [[ ${got#* | } =~ ^$leaf\ ([0-9]+)$ ]] # the body: "LEAF WORKERPID"
            pid=${BASH_REMATCH[1]}
            [[ " $workers" == *" $pid "* ]]
            [[ " $seen " == *" $pid "* ]] || seen+=" $pid"
        done
    done
    [ "$(wc -w <<<"$seen")" -eq 2 ]
    bound "$B" "$V111"
    maps_only "$B" "$BG_PID"
    for pid in $workers; do
        maps_only "$B" "$pid"
    done
}

@test "nginx 1.18, master and 2 workers, SNI hosts rsa and ecdsa, under the preload: each its own staple (TLS 1.3)" {
    nginx111 -tls1_3
}

@test "nginx 1.18, master and 2 workers, SNI hosts rsa and ecdsa, under the preload: each its own staple (TLS 1.2)" {
    nginx111 -tls1_2
}

# ---------------------------------------------------------------- 1.1.1: curl 7.74

# curl111 NAME [ARGS...]: curl 7.74 under the preload fetching
# https://NAME:PORT/ (to 127.0.0.1) with --cacert; prints the HTTP code
# (000 when the handshake failed) and curl's error.
curl111() {
    local name=$1
    shift
    legacy_cmd111 "$B" curl
    timeout 10 env LD_PRELOAD="$PRELOAD" "${LEGACY_CMD[@]}" -sS -o /dev/null \
        -w '%{http_code}' --cacert "$PKI/ca.pem" \
        --resolve "$name:$PORT:127.0.0.1" "https://$name:$PORT/" "$@"
}

curl111_must_missing() {
    need_b
    native must "" "$1"
    run curl111 must.test
    [ "$status" -eq 35 ]
    [[ $output == "curl: (35) "*":invalid status response"*000 ]]
    [ "$(logged "$MUST_MISSING")" -eq 1 ]
    [ "$(verdicts)" -eq 1 ]
    bound "$B" "$V111"
}

curl111_revoked() {
    need_b
    pki_ocsp "$PKI" rsa revoked issuer now "$T/revoked.der"
    native rsa "$T/revoked.der" "$1"
    run curl111 rsa.test
    [ "$status" -eq 35 ]
    [[ $output == "curl: (35) "*":invalid status response"*000 ]]
    [ "$(logged "$RSA_REVOKED")" -eq 1 ]
    [ "$(verdicts)" -eq 1 ]
}

curl111_good() {
    need_b
    pki_ocsp "$PKI" must good issuer now "$T/good.der"
    native must "$T/good.der" "$1"
    run curl111 must.test
    [ "$status" -eq 0 ]
    [ "$output" = 200 ]
    [ "$(logged "$MUST_GOOD")" -eq 1 ]
    [ "$(verdicts)" -eq 1 ]
    bound "$B" "$V111"
}

@test "curl 7.74 under the preload: Must-Staple without a staple is refused (TLS 1.3)" {
    curl111_must_missing -tls1_3
}

@test "curl 7.74 under the preload: Must-Staple without a staple is refused (TLS 1.2)" {
    curl111_must_missing -tls1_2
}

@test "curl 7.74 under the preload: a revoked staple is refused (TLS 1.3)" {
    curl111_revoked -tls1_3
}

@test "curl 7.74 under the preload: a revoked staple is refused (TLS 1.2)" {
    curl111_revoked -tls1_2
}

@test "curl 7.74 under the preload: a good staple is accepted (TLS 1.3)" {
    curl111_good -tls1_3
}

@test "curl 7.74 under the preload: a good staple is accepted (TLS 1.2)" {
    curl111_good -tls1_2
}

@test "curl 7.74 under the preload loads bullseye's libssl.so.1.1 and libcurl, never libssl.so.3" {
    need_b
    pki_ocsp "$PKI" must good issuer now "$T/good.der"
    native must "$T/good.der"
    mkdir "$T/ld"
    legacy_cmd111 "$B" curl
    run timeout 10 env LD_DEBUG=libs LD_DEBUG_OUTPUT="$T/ld/curl" LD_PRELOAD="$PRELOAD" \
        "${LEGACY_CMD[@]}" -sS -o /dev/null -w '%{http_code}' --cacert "$PKI/ca.pem" \
        --resolve "must.test:$PORT:127.0.0.1" "https://must.test:$PORT/"
    [ "$status" -eq 0 ]
    [ "$output" = 200 ]
    # one process (env execs env execs curl), one libssl: bullseye's
    [ "$(find "$T/ld" -type f | wc -l)" -eq 1 ]
    [ "$(grep -h 'calling init: .*/libssl\.so' "$T/ld"/* | sed 's/.*calling init: //')" = "$(legacy_libssl "$B")" ]
    [ "$(grep -h 'calling init: .*/libcurl\.so' "$T/ld"/* | sed 's/.*calling init: //')" = "$(dirname "$(legacy_libssl "$B")")/libcurl.so.4" ]
    grep -q "calling init: $LIBSTAPLE\$" "$T/ld"/*
    lacks 'lib\(ssl\|crypto\)\.so\.3' "$T/ld"/*
    bound "$B" "$V111"
}

# ---------------------------------------------------------------- 1.1.1: Python 3.9

# py_server111 TLSFLAG: tests/lib/tls_server.py on Python 3.9 (libssl from
# the _ssl module's dlopen) under the preload staples its certificate's.
py_server111() {
    need_b
    pki_ocsp "$PKI" ecdsa good issuer now "$T/staples/ecdsa.der"
    pki_ocsp "$PKI" rsa revoked issuer now "$T/staples/rsa.der"
    legacy_cmd111 "$B" python3.9
    bg python env LD_PRELOAD="$PRELOAD" "${LEGACY_CMD[@]}" "$TOP/tests/lib/tls_server.py" \
        "$PORT" "$PKI/ecdsa.full.pem" "$PKI/ecdsa.key"
    wait_port "$PORT"
    [ "$(staple "$PORT" "$1")" = "$(serial ecdsa) good" ]
    [ "$(legacy_staple "$B" "$PORT" "$1")" = "$(serial ecdsa) good" ]
    [ "$(logged "debug: stapling ecdsa.der")" -eq 2 ]
    [ "$(log_count "stapling rsa.der")" -eq 0 ]
    bound "$B" "$V111"
    maps_only "$B" "$BG_PID"
}

# py_client111 NAME: tests/lib/tls_client.py on Python 3.9 under the preload
# (create_default_context(cafile=ca.pem)) fetching https://NAME:PORT/.
py_client111() {
    legacy_cmd111 "$B" python3.9
    timeout 20 env LD_PRELOAD="$PRELOAD" "${LEGACY_CMD[@]}" "$TOP/tests/lib/tls_client.py" \
        "https://$1:$PORT/" "$PKI/ca.pem" "$1:$PORT:127.0.0.1"
}

py_client111_must_missing() {
    need_b
    native must "" "$1"
    run py_client111 must.test
    [ "$status" -eq 1 ]
    [[ $output == "URLError: <urlopen error [SSL: INVALID_STATUS_RESPONSE] invalid status response ("*")>" ]]
    [ "$(logged "$MUST_MISSING")" -eq 1 ]
    [ "$(verdicts)" -eq 1 ]
    bound "$B" "$V111"
}

py_client111_good() {
    need_b
    pki_ocsp "$PKI" must good issuer now "$T/good.der"
    native must "$T/good.der" "$1"
    run py_client111 must.test
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = '<HTML><BODY BGCOLOR="#ffffff">' ]
    [ "$(logged "$MUST_GOOD")" -eq 1 ]
    [ "$(verdicts)" -eq 1 ]
    bound "$B" "$V111"
}

@test "Python 3.9 ssl server under the preload staples (TLS 1.3)" {
    py_server111 -tls1_3
}

@test "Python 3.9 ssl server under the preload staples (TLS 1.2)" {
    py_server111 -tls1_2
}

@test "Python 3.9 client under the preload: Must-Staple without a staple is refused (TLS 1.3)" {
    py_client111_must_missing -tls1_3
}

@test "Python 3.9 client under the preload: Must-Staple without a staple is refused (TLS 1.2)" {
    py_client111_must_missing -tls1_2
}

@test "Python 3.9 client under the preload: a good staple is accepted (TLS 1.3)" {
    py_client111_good -tls1_3
}

@test "Python 3.9 client under the preload: a good staple is accepted (TLS 1.2)" {
    py_client111_good -tls1_2
}

# ---------------------------------------------------------------- 1.1.1: Postfix 3.5

@test "Postfix 3.5 smtpd under the preload (import_environment) staples on STARTTLS, RSA and ECDSA (TLS 1.3, 1.2)" {
    need_b
    mail_setup
    echo "log_level = debug" >>"$LIBSTAPLE_CONF"
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
    pki_ocsp "$PKI" ecdsa revoked issuer now "$T/staples/ecdsa.der"
    PF=$T/postfix
    legacy_postfix_conf "$B" "$PF" "$PORT" "$PKI/rsa.full.pem" "$PKI/rsa.key" \
        "smtpd_tls_eccert_file = $PKI/ecdsa.full.pem" "smtpd_tls_eckey_file = $PKI/ecdsa.key"
    # LD_PRELOAD and LIBSTAPLE_CONF reach the daemons through
    # import_environment, which keeps $legacy_environment (and, under
    # `make check-asan`, the sanitizer settings)
    sed -i "/^import_environment = /s/\$/ LD_PRELOAD LIBSTAPLE_CONF $(mail_sanitizer_env)/" \
        "$PF/etc/main.cf"
    # shellcheck disable=SC2016 # a literal $legacy_environment
    [ "$(grep -c '^import_environment = .* \$legacy_environment LD_PRELOAD LIBSTAPLE_CONF' "$PF/etc/main.cf")" -eq 1 ]
    (
        unset LIBSTAPLE_DIR LIBSTAPLE_LOG LIBSTAPLE_LOG_LEVEL LIBSTAPLE_POLICY
        export LD_PRELOAD=$PRELOAD LIBSTAPLE_CONF
        legacy_postfix "$B" "$PF" start
    ) >"$T/postfix.out" 2>&1 || { cat "$T/postfix.out" "$PF/maillog" >&2; return 1; }
    PF_PID=$(tr -d ' \n' <"$PF/queue/pid/master.pid")
    mail_track "$PF_PID"
    wait_port "$PORT"
    [ "$(staple "$PORT" -starttls smtp -tls1_3 -sigalgs rsa_pss_rsae_sha256)" = "$(serial rsa) good" ]
    [ "$(staple "$PORT" -starttls smtp -tls1_3 -sigalgs ecdsa_secp256r1_sha256)" = "$(serial ecdsa) revoked" ]
    [ "$(staple "$PORT" -starttls smtp -tls1_2 -sigalgs RSA+SHA256)" = "$(serial rsa) good" ]
    [ "$(staple "$PORT" -starttls smtp -tls1_2 -sigalgs ECDSA+SHA256)" = "$(serial ecdsa) revoked" ]
    [ "$(legacy_staple "$B" "$PORT" -starttls smtp -tls1_3 -sigalgs rsa_pss_rsae_sha256)" = "$(serial rsa) good" ]
    [ "$(legacy_staple "$B" "$PORT" -starttls smtp -tls1_2 -sigalgs ECDSA+SHA256)" = "$(serial ecdsa) revoked" ]
    run smtp_session "$PORT"
    [[ $output == *"250-mail.test"*"221 2.0.0 Bye"* ]]
    # smtpd: preloaded, chrooted in the queue directory, bullseye's libssl
    pid=$(smtpd_pid "$PORT")
    [ "$(preloaded "$pid")" = yes ]
    [ "$(readlink "/proc/$pid/root")" = "$PF/queue" ]
    maps_only "$B" "$pid"
    bound "$B" "$V111"
}

# ---------------------------------------------------------------- 1.0.2k: s_server

# s_server102 LEAF: 1.0.2k's s_server -www under the preload, serving LEAF
# with its chain (-accept takes a port only: all addresses).
s_server102() {
    legacy_cmd102 "$O"
    bg s_server env LD_PRELOAD="$PRELOAD" "${LEGACY_CMD[@]}" s_server -www \
        -accept "$PORT" -cert "$PKI/$1.pem" -key "$PKI/$1.key" -cert_chain "$PKI/int.pem"
    wait_port "$PORT"
}

# serves102 LEAF: the certificate's own staple (the other leaf's is there too).
serves102() {
    local other=must
    need_o
    [[ $1 == rsa ]] || other=rsa
    pki_ocsp "$PKI" "$1" good issuer now "$T/staples/$1.der"
    pki_ocsp "$PKI" "$other" good issuer now "$T/staples/$other.der"
    s_server102 "$1"
    [ "$(staple "$PORT")" = "$(serial "$1") good" ]
    [ "$(legacy_staple "$O" "$PORT")" = "$(serial "$1") good" ]
    [ "$(logged "debug: stapling $1.der")" -eq 2 ]
    [ "$(log_count "stapling $other.der")" -eq 0 ]
    bound "$O" "$V102"
    maps_only "$O" "$BG_PID"
}

@test "1.0.2k s_server -www under the preload staples the rsa certificate's staple (TLS 1.2)" {
    serves102 rsa
}

@test "1.0.2k s_server -www under the preload staples the Must-Staple certificate's staple (TLS 1.2)" {
    serves102 must
}

@test "1.0.2k s_server -www under the preload does not serve an expired staple, one log line" {
    need_o
    pki_ocsp "$PKI" rsa good issuer expired "$T/staples/rsa.der"
    s_server102 rsa
    [ "$(staple "$PORT")" = none ]
    [ "$(legacy_staple "$O" "$PORT")" = none ]
    [ "$(logged "warn: /CN=rsa.test (serial $(serial rsa)): not stapling rsa.der: expired at $(next_update "$T/staples/rsa.der")")" -eq 1 ]
    [ "$(log_count "not stapling")" -eq 1 ]
    [ "$(log_count "debug: stapling")" -eq 0 ]
    bound "$O" "$V102"
}

# ---------------------------------------------------------------- 1.0.2k: s_client

# 1.0.2k's s_client verifies only with -verify N (-verify_return_error alone
# leaves SSL_VERIFY_NONE); the native server offers TLS 1.2 at most to it.
VERIFY102=(-verify 5 -verify_return_error)

@test "1.0.2k s_client under the preload: Must-Staple without a staple is refused" {
    need_o
    native must
    run s_client102 must.test "${VERIFY102[@]}"
    [ "$status" -ne 0 ]
    # 1.0.2 decides once the chain is verified: the verification fails
    grep -q ':ssl3_get_server_certificate:certificate verify failed:' "$T/client.out"
    no_page
    [ "$(logged "$MUST_MISSING")" -eq 1 ]
    [ "$(verdicts)" -eq 1 ]
    bound "$O" "$V102"
}

@test "1.0.2k s_client under the preload: a revoked staple is refused" {
    need_o
    pki_ocsp "$PKI" rsa revoked issuer now "$T/revoked.der"
    native rsa "$T/revoked.der"
    run s_client102 rsa.test "${VERIFY102[@]}"
    [ "$status" -ne 0 ]
    grep -q ':ssl3_get_cert_status:invalid status response:' "$T/client.out"
    no_page
    [ "$(logged "$RSA_REVOKED")" -eq 1 ]
    [ "$(verdicts)" -eq 1 ]
}

@test "1.0.2k s_client under the preload: an expired staple on Must-Staple is refused" {
    need_o
    pki_ocsp "$PKI" must good issuer expired "$T/expired.der"
    native must "$T/expired.der"
    run s_client102 must.test "${VERIFY102[@]}"
    [ "$status" -ne 0 ]
    grep -q ':ssl3_get_cert_status:invalid status response:' "$T/client.out"
    no_page
    [ "$(logged "$MUST_EXPIRED")" -eq 1 ]
    [ "$(verdicts)" -eq 1 ]
}

@test "1.0.2k s_client under the preload: a good staple is accepted, -status still prints Cert Status: good" {
    need_o
    pki_ocsp "$PKI" must good issuer now "$T/good.der"
    native must "$T/good.der"
    s_client102 must.test "${VERIFY102[@]}" -status
    grep -q '^New, TLSv1/SSLv3, Cipher is ' "$T/client.out"
    got_page
    [ "$(legacy_staple_parse <"$T/client.out")" = "$(serial must) good" ]
    grep -q '^    Cert Status: good$' "$T/client.out"
    [ "$(logged "$MUST_GOOD")" -eq 1 ]
    [ "$(verdicts)" -eq 1 ]
    bound "$O" "$V102"
}

@test "1.0.2k s_client under the preload: a plain certificate without a staple is accepted" {
    need_o
    native rsa
    s_client102 rsa.test "${VERIFY102[@]}"
    grep -q '^New, TLSv1/SSLv3, Cipher is ' "$T/client.out"
    got_page
    [ "$(logged "$RSA_MISSING")" -eq 1 ]
    [ "$(verdicts)" -eq 1 ]
}

@test "1.0.2k s_client under the preload without -verify: Must-Staple without a staple is not enforced" {
    need_o
    native must
    s_client102 must.test
    grep -q '^New, TLSv1/SSLv3, Cipher is ' "$T/client.out"
    got_page
    [ "$(logged "$MUST_UNVERIFIED")" -eq 1 ]
    [ "$(verdicts)" -eq 1 ]
}

@test "1.0.2k resumption: a session saved without the preload is not resumed under it" {
    need_o
    native must
    legacy_cmd102 "$O"
    printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 "${LEGACY_CMD[@]}" s_client \
        -connect "127.0.0.1:$PORT" -servername must.test -CAfile "$PKI/ca.pem" \
        -ign_eof -sess_out "$T/sess.pem" >"$T/plain.out" 2>&1
    grep -q '^New, TLSv1/SSLv3, ' "$T/plain.out"
    # the saved session does resume without the preload ...
    printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 "${LEGACY_CMD[@]}" s_client \
        -connect "127.0.0.1:$PORT" -servername must.test -CAfile "$PKI/ca.pem" \
        -ign_eof -sess_in "$T/sess.pem" >"$T/plain2.out" 2>&1
    grep -q '^Reused, TLSv1/SSLv3, ' "$T/plain2.out"
    # ... and not with it: a full handshake, rejected (Must-Staple, no staple)
    run s_client102 must.test "${VERIFY102[@]}" -sess_in "$T/sess.pem"
    [ "$status" -ne 0 ]
    lacks '^Reused, ' "$T/client.out"
    no_page
    [ "$(logged "$MUST_MISSING")" -eq 1 ]
    [ "$(verdicts)" -eq 1 ]
}

@test "1.0.2k SSL_dup of a verified client connection under the preload: both copies freed, no crash" {
    need_o
    native rsa
    # tests/lib/ssldup.c, built against 1.0.2k's headers and libraries
    cc -std=gnu99 -Wall -Wextra -Werror -I"$O/prefix/include" -o "$T/ssldup" \
        "$TOP/tests/lib/ssldup.c" -L"$O/prefix/lib" -lssl -lcrypto
    legacy_cmd102 "$O"
    # LD_LIBRARY_PATH as LEGACY_CMD gives it
    run "${LEGACY_CMD[@]:0:2}" "$T/ssldup" rsa.test "$PORT" "$PKI/ca.pem"
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'handshake succeeded\ndup freed')" ]
    # libstaple keeps the verified chain in an ex_data slot SSL_dup copies
    run "${LEGACY_CMD[@]:0:2}" LD_PRELOAD="$PRELOAD" "$T/ssldup" rsa.test \
        "$PORT" "$PKI/ca.pem"
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'handshake succeeded\ndup freed')" ]
    bound "$O" "$V102"
    [ "$(logged "$RSA_MISSING")" -eq 1 ]
    [ "$(verdicts)" -eq 1 ]
}

# ---------------------------------------------------------------- two libssl

# twossl_build: tests/.work/twossl (linked to the system's libssl) and its
# plug-in $T/plugin.so, the same source linked to bullseye's libssl.so.1.1;
# sets LIB3 and LIB111 to the two libssl files, V3 to the system's version.
twossl_build() {
    local lib111
    lib111=$(legacy_libssl "$B")
    cc -std=gnu99 -Wall -Wextra -Werror -fPIC -shared -DTWOSSL_PLUGIN \
        -o "$T/plugin.so" "$TOP/tests/lib/twossl.c" -Wl,--no-as-needed "$lib111" \
        "$(dirname "$lib111")/libcrypto.so.1.1" -Wl,-rpath,"$(dirname "$lib111")"
    LIB111=$lib111
    LIB3=$(ldd "$TOP/tests/.work/twossl" | awk '$1 == "libssl.so.3" { print $3 }')
    [ -n "$LIB3" ]
    V3=$(openssl version | awk '{ split($2, v, "."); print v[1] "." v[2] }')
    # the served server staples the good staple of must.test
    pki_ocsp "$PKI" must good issuer now "$T/staples/must.der"
}

# twossl_args ORDER: set TWOSSL to the program's command: its handshakes
# and the plug-in's, a server with must.test's certificate and a client
# verifying it each.
twossl_args() {
    TWOSSL=("$TOP/tests/.work/twossl" "$1" "$T/plugin.so" "$PKI/must.full.pem"
        "$PKI/must.key" "$PKI/ca.pem" must.test)
}

# twossl_check ORDER FIRST SECOND: without the preload both sides work and
# nothing is stapled; with it, the side that used TLS first (FIRST: main or
# plugin) is served (its server staples, its client accepts the staple) and
# the other (SECOND) is passed through untouched, after one warning naming
# it; no crash.
twossl_check() {
    local order=$1 first=$2 second=$3 served other vother line
    twossl_build
    declare -A ver=([main]=$V3 [plugin]=1.1)
    declare -A lib=([main]=$LIB3 [plugin]=$LIB111)
    twossl_args "$order"
    run env -u LD_PRELOAD "${TWOSSL[@]}"
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf '%s (%s): handshake succeeded, not stapled\n%s (%s): handshake succeeded, not stapled' \
        "$first" "${ver[$first]}" "$second" "${ver[$second]}")" ]
    [ ! -e "$LIBSTAPLE_LOG" ]
    run env LD_PRELOAD="$PRELOAD" "${TWOSSL[@]}"
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf '%s (%s): handshake succeeded, stapled\n%s (%s): handshake succeeded, not stapled' \
        "$first" "${ver[$first]}" "$second" "${ver[$second]}")" ]
    served=${lib[$first]} other=${lib[$second]}
    [ "$(log_count ': debug: using ')" -eq 1 ]
    [ "$(log_count ": debug: using $served (")" -eq 1 ]
    [ "$(logged "debug: must.test: accepted /CN=must.test [Must-Staple]: good (policy must-staple)")" -eq 1 ]
    [ "$(verdicts)" -eq 1 ]
    [ "$(log_count ': warn: ')" -eq 1 ]
    line=$(grep ': warn: ' "$LIBSTAPLE_LOG")
    vother=$V111
    [[ $second == plugin ]] || vother="OpenSSL ${ver[main]}.*"
    [[ $line =~ ^libstaple\[[0-9]+\]:\ warn:\ ${vother}\ in\ ${other}\ is\ a\ second\ libssl\ in\ this\ process\ \(libstaple\ serves\ ${served}\):\ stepping\ aside\ for\ its\ callers$ ]] ||
        { echo "warn line: $line"; return 1; }
}

@test "two libssl in one process (3.x program, 1.1.1 plug-in), the program's first: it is served, the plug-in passed through; no crash" {
    need_b
    twossl_check main-first main plugin
}

@test "two libssl in one process (3.x program, 1.1.1 plug-in), the plug-in's first: it is served, the program passed through; no crash" {
    need_b
    twossl_check plugin-first plugin main
}

# ---------------------------------------------------------------- step aside

# step_aside SONAME NUM TEXT: a program linked to a fake libssl SONAME that
# says it is OpenSSL NUM (TEXT) works under the preload as without it, and
# the log has one line: the version named, libstaple stepping aside.
step_aside() {
    legacy_fake_libssl "$T/fake" "$1" "$2" "$3"
    run env LD_LIBRARY_PATH="$T/fake" "$T/fake/prog"
    [ "$status" -eq 0 ]
    [ "$output" = ok ]
    run env LD_LIBRARY_PATH="$T/fake" LD_PRELOAD="$PRELOAD" "$T/fake/prog"
    [ "$status" -eq 0 ]
    [ "$output" = ok ]
    [ -f "$LIBSTAPLE_LOG" ]
    [ "$(wc -l <"$LIBSTAPLE_LOG")" -eq 1 ]
    [ "$(grep -cF "$3" "$LIBSTAPLE_LOG")" -eq 1 ]
    [ "$(logged "warn: $3 ($2) in $T/fake/$1 is not a version libstaple serves (1.0.2, 1.1.1, 3.x); stepping aside")" -eq 1 ]
}

@test "an unsupported libssl (1.1.0g) makes libstaple step aside with one line; the program works" {
    step_aside libssl.so.1.1.0 0x1010007f "OpenSSL 1.1.0g  2 Nov 2017"
}

@test "an unsupported libssl (4.0.0) makes libstaple step aside with one line; the program works" {
    step_aside libssl.so.4 0x40000000 "OpenSSL 4.0.0"
}
