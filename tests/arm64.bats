#!/usr/bin/env bats
# arm64 (aarch64): the library cross-built here (`make
# CC=aarch64-linux-gnu-gcc libstaple.so`, in a copy of the source tree)
# under qemu-aarch64-static -L ROOT, in a Debian 12 arm64 root made with
# mmdebstrap --variant=extract (tests/lib/roots.sh): the root's own
# aarch64 glibc, OpenSSL 3.0, openssl and curl, no binfmt needed. s_server
# staples; s_client and curl enforce. And OpenSSL 1.0.2k cross-built for
# aarch64 from the vendored tarball: its s_server staples and its s_client
# enforces, so the 1.0.2 struct mirrors (preload/compat.c) hold on this ABI.
#
# Programs run as `qemu-aarch64-static -L ROOT -E NAME=VALUE... ROOT/PROG`:
# file names outside the root are the host's, so the test PKI and scratch
# directory are used as they are. Clients that check a server are the
# host's openssl s_client and the root's; servers stapling natively for the
# client tests are the host's s_server without the preload.

load lib/inroot

setup_file() {
    local st=0 tarball
    pki_shared
    export R ROOT_NAME=bookworm-arm64 XBUILD=$BATS_FILE_TMPDIR/xbuild O102A
    if [[ -n $PRELOAD_BASE ]]; then
        export ROOT_SKIP="not under a sanitizer (make test runs these tests)"
        return 0
    fi
    roots_ready ROOT_SKIP bookworm-arm64 bullseye trixie || return 1
    R=$(roots_dir bookworm-arm64)
    O102A=${R%/bookworm-arm64/root}/openssl-1.0.2k-arm64
    [[ -z $ROOT_SKIP ]] || return 0
    command -v qemu-aarch64-static >/dev/null || { echo "qemu-aarch64-static is needed" >&2; return 1; }
    # the cross build: its status is a test of its own
    mkdir -p "$XBUILD/src"
    (cd "$TOP" && tar -c --exclude=./.git --exclude=./tests --exclude='*.o' \
        --exclude=./libstaple.so --exclude=./staplectl .) | tar -x -C "$XBUILD/src" || return 1
    make -C "$XBUILD/src" CC=aarch64-linux-gnu-gcc libstaple.so >"$XBUILD/build.log" 2>&1 || st=$?
    echo "$st" >"$XBUILD/build.status"
    # OpenSSL 1.0.2k for aarch64, cached next to the roots
    tarball=${LEGACY_OPENSSL102_TARBALL:-$TOP/../shared/vendor/openssl-1.0.2k.tar.gz}
    st=0
    roots_openssl102_arm64 "$O102A" "$tarball" 2>"$XBUILD/o102.err" || st=$?
    echo "$st" >"$XBUILD/o102.status"
}

setup() {
    setup_test
    PORT=$(free_port)
    export LIBSTAPLE_LOG_LEVEL=debug
}

teardown() {
    kill_bg
    if [[ -n ${PORT:-} ]] && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        echo "something still listens on port $PORT after the test" >&2
        return 1
    fi
    if [[ -n ${T:-} ]] && pgrep -f -- "$T/" >/dev/null; then
        echo "processes of this test are left over:" >&2
        pgrep -af -- "$T/" >&2
        return 1
    fi
}

# xlib: LIB is the cross-built library (fails with the build's output when
# it did not build).
xlib() {
    need_root
    if [[ $(cat "$XBUILD/build.status") != 0 ]]; then
        tail -n 20 "$XBUILD/build.log" >&2
        echo "make CC=aarch64-linux-gnu-gcc libstaple.so failed" >&2
        return 1
    fi
    LIB=$XBUILD/src/libstaple.so
}

# need_o102: the aarch64 1.0.2k build (fails with its error when it did not
# build).
need_o102() {
    need_root
    if [[ $(cat "$XBUILD/o102.status") != 0 ]]; then
        cat "$XBUILD/o102.err" >&2
        return 1
    fi
}

# q_cmd [LIB]: set the array QC to run an aarch64 program of the root
# under qemu with the test's LIBSTAPLE_* settings, and LD_PRELOAD=LIB when
# given (set for the emulated program only: -E).
q_cmd() {
    QC=(env -u LD_PRELOAD qemu-aarch64-static -L "$R" -E "LIBSTAPLE_DIR=$LIBSTAPLE_DIR"
        -E "LIBSTAPLE_LOG=$LIBSTAPLE_LOG" -E "LIBSTAPLE_CONF=$LIBSTAPLE_CONF"
        -E "LIBSTAPLE_LOG_LEVEL=$LIBSTAPLE_LOG_LEVEL")
    [[ -z ${1:-} ]] || QC+=(-E "LD_PRELOAD=$1")
}

# q102_cmd [LIB]: q_cmd for the aarch64 1.0.2k openssl.
q102_cmd() {
    q_cmd "${1:-}"
    QC+=(-E "LD_LIBRARY_PATH=$O102A/prefix/lib" -E "OPENSSL_CONF=$O102A/prefix/ssl/openssl.cnf"
        "$O102A/prefix/bin/openssl")
}

# bound PATH VERSION: libstaple logged that it uses the libssl PATH
# (OpenSSL VERSION), and no other.
bound() {
    local want="debug: using $1 ($2)"
    [ "$(logged "$want")" -ge 1 ] || { cat "$LIBSTAPLE_LOG" >&2; return 1; }
    [ "$(log_count ': debug: using ')" -eq "$(logged "$want")" ]
}

# v3: what the root's OpenSSL_version() says.
v3() {
    q_cmd
    "${QC[@]}" "$R/usr/bin/openssl" version | sed 's/ (Library: .*//'
}

SSL3=/usr/lib/aarch64-linux-gnu/libssl.so.3

@test "make CC=aarch64-linux-gnu-gcc libstaple.so builds an aarch64 library" {
    need_root
    run cat "$XBUILD/build.log"
    [ "$(cat "$XBUILD/build.status")" -eq 0 ]
    [[ $(readelf -h "$XBUILD/src/libstaple.so") == *"Machine:"*"AArch64"* ]]
}

@test "the arm64 root: aarch64 openssl 3.0 and curl run under qemu" {
    need_root
    [[ $(readelf -h "$R/usr/bin/openssl") == *"Machine:"*"AArch64"* ]]
    [[ $(v3) == "OpenSSL 3.0."* ]]
    q_cmd
    run "${QC[@]}" "$R/usr/bin/curl" --version
    [[ ${lines[0]} == "curl 7.88."*"(aarch64-unknown-linux-gnu)"*"OpenSSL/3.0."* ]]
}

@test "arm64 openssl s_server under qemu and the preload staples the certificate's staple (TLS 1.3, 1.2), not an expired one" {
    local flag v
    xlib
    v=$(v3)
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
    pki_ocsp "$PKI" vhost revoked issuer now "$T/staples/vhost.der"
    q_cmd "$LIB"
    bg s_server "${QC[@]}" "$R/usr/bin/openssl" s_server -www -accept "127.0.0.1:$PORT" \
        -cert "$PKI/rsa.pem" -key "$PKI/rsa.key" -cert_chain "$PKI/int.pem"
    wait_port "$PORT"
    for flag in -tls1_3 -tls1_2; do
        [ "$(staple "$PORT" "$flag")" = "$(serial rsa) good" ]
    done
    [ "$(logged "debug: stapling rsa.der")" -eq 2 ]
    [ "$(log_count "stapling vhost.der")" -eq 0 ]
    bound "$SSL3" "$v"
    pki_ocsp "$PKI" rsa good issuer expired "$T/staples/rsa.der.new"
    mv "$T/staples/rsa.der.new" "$T/staples/rsa.der"
    staple_within 20 none "$PORT" -tls1_3
    [ "$(log_count "not stapling rsa.der: expired at")" -eq 1 ]
}

# native CERT [STAPLE]: the host's s_server WITHOUT the preload, stapling
# STAPLE ("" for nothing).
native() {
    local args=()
    [[ -z ${2:-} ]] || args+=(-status_file "$2")
    bg native env -u LD_PRELOAD openssl s_server -www -accept "127.0.0.1:$PORT" \
        -cert "$PKI/$1.pem" -key "$PKI/$1.key" -cert_chain "$PKI/int.pem" "${args[@]}"
    wait_port "$PORT"
}

# against_x CASE: the host's server for missing / revoked / good (as
# inroot.bash's against); sets NAME and WANT.
against_x() {
    kill_bg
    : >"$LIBSTAPLE_LOG"
    case $1 in
        missing) NAME=must.test WANT=$MUST_MISSING && native must "" ;;
        revoked)
            pki_ocsp "$PKI" rsa revoked issuer now "$T/revoked.der"
            NAME=rsa.test WANT=$RSA_REVOKED && native rsa "$T/revoked.der"
            ;;
        good)
            pki_ocsp "$PKI" must good issuer now "$T/good.der"
            NAME=must.test WANT=$MUST_GOOD && native must "$T/good.der"
            ;;
    esac
}

# verdict_x PATH VERSION: the client logged WANT and no other verdict, using
# libssl PATH.
verdict_x() {
    [ "$(logged "$WANT")" -eq 1 ] || { cat "$LIBSTAPLE_LOG" >&2; return 1; }
    [ "$(verdicts)" -eq 1 ]
    bound "$1" "$2"
}

@test "arm64 openssl s_client under qemu and the preload refuses Must-Staple without a staple and a revoked staple, accepts a good one" {
    local case st v
    xlib
    v=$(v3)
    for case in missing revoked good; do
        against_x "$case"
        q_cmd "$LIB"
        printf 'GET / HTTP/1.0\r\n\r\n' | timeout 20 "${QC[@]}" "$R/usr/bin/openssl" s_client \
            -connect "127.0.0.1:$PORT" -servername "$NAME" -CAfile "$PKI/ca.pem" \
            -ign_eof -verify_return_error -status >"$T/client.out" 2>&1 && st=0 || st=$?
        if [[ $case == good ]]; then
            [ "$st" -eq 0 ]
            grep -q '^HTTP/1.0 200 ok' "$T/client.out"
            [ "$(staple_parse <"$T/client.out")" = "$(serial must) good" ]
        else
            [ "$st" -ne 0 ]
            grep -q ':invalid status response' "$T/client.out"
            [ "$(grep -c '^HTTP/1.0 200 ok' "$T/client.out")" -eq 0 ]
        fi
        verdict_x "$SSL3" "$v"
    done
}

@test "arm64 curl under qemu and the preload refuses Must-Staple without a staple and a revoked staple, accepts a good one" {
    local case v
    xlib
    v=$(v3)
    for case in missing revoked good; do
        against_x "$case"
        q_cmd "$LIB"
        run timeout 20 "${QC[@]}" "$R/usr/bin/curl" -sS -o /dev/null -w '%{http_code}' \
            --cacert "$PKI/ca.pem" --resolve "$NAME:$PORT:127.0.0.1" "https://$NAME:$PORT/"
        if [[ $case == good ]]; then
            [ "$status" -eq 0 ]
            [ "$output" = 200 ]
        else
            [ "$status" -eq 35 ]
            [[ $output == "curl: (35) "*":invalid status response"*000 ]]
        fi
        verdict_x "$SSL3" "$v"
    done
}

# ---------------------------------------------------------------- 1.0.2k

V102="OpenSSL 1.0.2k  26 Jan 2017"

@test "arm64 OpenSSL 1.0.2k (cross-built) runs under qemu, with its own libssl.so.1.0.0" {
    need_o102
    [[ $(readelf -h "$O102A/prefix/lib/libssl.so.1.0.0") == *"Machine:"*"AArch64"* ]]
    q102_cmd
    run "${QC[@]}" version
    [ "$status" -eq 0 ]
    [ "$output" = "$V102" ]
}

@test "arm64 1.0.2k s_server -www under qemu and the preload staples the certificate's staple (TLS 1.2)" {
    need_o102
    xlib
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
    pki_ocsp "$PKI" must revoked issuer now "$T/staples/must.der"
    q102_cmd "$LIB"
    # 1.0.2k's -accept takes a port only
    bg s_server "${QC[@]}" s_server -www -accept "$PORT" \
        -cert "$PKI/rsa.pem" -key "$PKI/rsa.key" -cert_chain "$PKI/int.pem"
    wait_port "$PORT"
    [ "$(staple "$PORT" -tls1_2)" = "$(serial rsa) good" ]
    [ "$(staple "$PORT" -tls1_2)" = "$(serial rsa) good" ]
    [ "$(logged "debug: stapling rsa.der")" -eq 2 ]
    [ "$(log_count "stapling must.der")" -eq 0 ]
    bound "$O102A/prefix/lib/libssl.so.1.0.0" "$V102"
}

@test "arm64 1.0.2k s_client under qemu and the preload refuses Must-Staple without a staple and a revoked staple, accepts a good one" {
    local case st
    need_o102
    xlib
    for case in missing revoked good; do
        against_x "$case"
        q102_cmd "$LIB"
        printf 'GET / HTTP/1.0\r\n\r\n' | timeout 20 "${QC[@]}" s_client \
            -connect "127.0.0.1:$PORT" -servername "$NAME" -CAfile "$PKI/ca.pem" \
            -ign_eof -verify 5 -verify_return_error -status >"$T/client.out" 2>&1 && st=0 || st=$?
        # 1.0.2 decides on Must-Staple once the chain is verified: the
        # verification fails; a revoked staple fails its status callback
        case $case in
            good)
                [ "$st" -eq 0 ]
                grep -q '^New, TLSv1/SSLv3, Cipher is ' "$T/client.out"
                grep -q '^HTTP/1.0 200 ok' "$T/client.out"
                [ "$(staple_parse <"$T/client.out")" = "$(serial must) good" ]
                ;;
            missing) grep -q ':ssl3_get_server_certificate:certificate verify failed:' "$T/client.out" ;;
            revoked) grep -q ':ssl3_get_cert_status:invalid status response:' "$T/client.out" ;;
        esac
        [[ $case == good ]] || {
            [ "$st" -ne 0 ]
            [ "$(grep -c '^HTTP/1.0 200 ok' "$T/client.out")" -eq 0 ]
        }
        verdict_x "$O102A/prefix/lib/libssl.so.1.0.0" "$V102"
    done
}
