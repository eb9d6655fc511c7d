#!/usr/bin/env bats
# Legacy OpenSSL under the preload: OpenSSL 1.0.2k (openssl
# s_server/s_client, built from the vendored tarball) in both roles; the
# Debian 11 packages linked to OpenSSL 1.1.1 (openssl 1.1.1w, nginx 1.18,
# curl 7.74, Python 3.9, Postfix 3.5) in a private tree on this machine's
# glibc; and libstaple stepping aside for a libssl version it does not
# serve (a fake libssl built here). Debian 11's programs in both roles are
# tested in a whole Debian 11 root, with its own glibc: tests/debian11.bats.
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

# s_client102 NAME [ARGS...]: 1.0.2k's openssl s_client under the preload,
# SNI NAME, trusting the test root, sending GET /; output in
# $T/client.out, its exit status returned. The caller says whether it
# verifies (-verify 5 -verify_return_error).
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

# A plug-in on one libssl unloaded, and one on another loaded in its place
# (the loader gives it the same address): the call table must not hand the
# second the first one's libssl.
@test "two libssl in one process: a plug-in unloaded and another on the other libssl loaded at its address: no crash" {
    need_b
    twossl_build
    cc -std=gnu99 -Wall -Wextra -Werror -fPIC -shared -DTWOSSL_PLUGIN \
        -o "$T/plugin3.so" "$TOP/tests/lib/twossl.c" -Wl,--no-as-needed "$LIB3" \
        "$(dirname "$LIB3")/libcrypto.so.3"
    local a b args=("$PKI/must.full.pem" "$PKI/must.key" "$PKI/ca.pem" must.test)
    for a in plugin3 plugin; do
        b=plugin3; [ "$a" = plugin3 ] && b=plugin
        declare -A ver=([plugin3]=$V3 [plugin]=1.1)
        # without the preload the loader reuses the address: the case exists
        run env -u LD_PRELOAD "$TOP/tests/.work/twossl" swap "$T/$a.so" "$T/$b.so" "${args[@]}"
        [ "$status" -eq 0 ]
        [ "$output" = "$(printf 'plugin (%s): handshake succeeded, not stapled\nsame address\nplugin (%s): handshake succeeded, not stapled' \
            "${ver[$a]}" "${ver[$b]}")" ]
        # with it, the first plug-in stays loaded and is served; the second
        # lands elsewhere and is passed through
        rm -f "$LIBSTAPLE_LOG"
        run env LD_PRELOAD="$PRELOAD" "$TOP/tests/.work/twossl" swap "$T/$a.so" "$T/$b.so" "${args[@]}"
        [ "$status" -eq 0 ]
        [ "$output" = "$(printf 'plugin (%s): handshake succeeded, stapled\nanother address\nplugin (%s): handshake succeeded, not stapled' \
            "${ver[$a]}" "${ver[$b]}")" ]
        [ "$(log_count ': warn: ')" -eq 1 ]
        [ "$(log_count 'is a second libssl in this process')" -eq 1 ]
    done
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
