#!/usr/bin/env bats
# Debian 11 (bullseye) as it is: a whole root made with mmdebstrap
# (tests/lib/roots.sh), entered with chroot, so that every program runs
# with Debian 11's own glibc 2.31, OpenSSL 1.1.1, nginx 1.18, curl 7.74,
# Python 3.9 and Postfix 3.5. Two builds of the library are tried there:
# the one built on this machine (the release a legacy host gets) and one
# built inside the root by Debian 11's gcc 10 (`make libstaple.so` in a
# copy of the source tree). Clients that check a server use the host's
# s_client and the root's own; servers that staple natively for the client
# tests are the host's s_server without the preload (-status_file).
#
# setup_file makes the roots once (all of them at the same time, shared
# with tests/debian13.bats and tests/arm64.bats, cached in $STAPLE_ROOTS);
# under CI a root that cannot be made fails every test, elsewhere the tests
# skip with the reason. Every process started in the root is stopped in
# teardown, which fails when one is left.
# tests/run: lock deb
# (`make deb` builds the package into tests/.work/deb: one file at a time)

load lib/inroot

V111="OpenSSL 1.1.1w  11 Sep 2023"
SSL_VERSION=$V111
SSL_PATH=/usr/lib/x86_64-linux-gnu/libssl.so.1.1
CRYPTO_PATH=/usr/lib/x86_64-linux-gnu/libcrypto.so.1.1
PYTHON_EXE=/usr/bin/python3.9

setup_file() {
    inroot_file_setup bullseye trixie bookworm-arm64 || return 1
    [[ -z $ROOT_SKIP ]] || return 0
    # the library built here, and the source tree to build it in the root
    mkdir -p "$W/host" "$W/src" && cp "$LIBSTAPLE" "$W/host/libstaple.so" || return 1
    cp "$TOP/staplectl" "$W/host/staplectl" || return 1
    (cd "$TOP" && tar -c --exclude=./.git --exclude=./tests --exclude='*.o' \
        --exclude=./libstaple.so --exclude=./staplectl .) | tar -x -C "$W/src" || return 1
    # its status is a test of its own; the tests of that library fail with it
    local st=0
    rr make -C "$(inner "$W/src")" libstaple.so >"$W/build.log" 2>&1 || st=$?
    echo "$st" >"$W/build.status"
    export LIB12 LIB11
    LIB12=$(inner "$W/host/libstaple.so") LIB11=$(inner "$W/src/libstaple.so")
}

teardown_file() {
    inroot_file_teardown
}

setup() {
    inroot_setup
    export LIBSTAPLE_LOG_LEVEL=debug
}

teardown() {
    inroot_teardown
}

# lib WHICH: set LIB to the inner path of the library built on Debian 12
# (12) or in the root (11); the latter fails the test with the build's
# output when it did not build.
lib() {
    need_root
    case $1 in
        12) LIB=$LIB12 ;;
        11)
            if [[ $(cat "$W/build.status") != 0 ]]; then
                tail -n 20 "$W/build.log" >&2
                echo "make libstaple.so failed in Debian 11" >&2
                return 1
            fi
            LIB=$LIB11
            ;;
    esac
}

# ---------------------------------------------------------------- the root

@test "Debian 11 root: glibc 2.31, gcc 10, openssl 1.1.1w, nginx 1.18, curl 7.74, Python 3.9, Postfix 3.5" {
    need_root
    run rr ldd --version
    [[ ${lines[0]} == "ldd (Debian GLIBC 2.31-"*") 2.31" ]]
    run rr gcc -dumpversion
    [ "$output" = 10 ]
    run rr openssl version
    [ "$output" = "$V111" ]
    run rr nginx -v
    [ "$output" = "nginx version: nginx/1.18.0" ]
    run rr curl --version
    [[ ${lines[0]} == "curl 7.74.0 "*" OpenSSL/1.1.1w "* ]]
    run rr python3 -c 'import ssl, sys; print("%d.%d" % sys.version_info[:2], ssl.OPENSSL_VERSION)'
    [ "$output" = "3.9 $V111" ]
    run rr postconf -d -h mail_version
    [[ $output == 3.5.* ]]
}

@test "make libstaple.so builds in Debian 11 with its gcc 10" {
    need_root
    run cat "$W/build.log"
    [ "$(cat "$W/build.status")" -eq 0 ]
    [ -f "$R$LIB11" ]
    readelf -p .comment "$R$LIB11" | grep -q 'GCC: (Debian 10\.'
}

# ---------------------------------------------------------------- inert programs

# inert WHICH: programs that use no TLS print byte for byte what they print
# without the library, with the same exit status, and log nothing.
inert() {
    local cmd plain pre
    lib "$1"
    mkdir -p "$T/inert"
    printf 'b\na\nc\n' >"$T/inert/in"
    for cmd in "ls -la /usr/bin /etc/ssl" "ls /nonexistent" "sort $(inner "$T/inert/in")" \
        "sh -c 'echo \$0 \$\$ >/dev/null; id -u; exit 3'" "python3 -c 'import sys; print(sys.version)'" \
        "openssl version -a" "find /etc/nginx -type f"; do
        plain=$(rr sh -c "$cmd" 2>&1; echo "status $?")
        pre=$(rrp "$LIB" sh -c "$cmd" 2>&1; echo "status $?")
        [ -n "$plain" ]
        [ "$pre" = "$plain" ] || { diff <(echo "$plain") <(echo "$pre") | head -n 20 >&2; return 1; }
    done
    [ ! -s "$LIBSTAPLE_LOG" ]
}

@test "built on Debian 12: LD_PRELOAD ls, sort, sh, python3, openssl version, find in Debian 11 print what they print without it" {
    inert 12
}

@test "built in Debian 11: LD_PRELOAD ls, sort, sh, python3, openssl version, find in Debian 11 print what they print without it" {
    inert 11
}

# ---------------------------------------------------------------- s_server

@test "built on Debian 12: Debian 11's openssl s_server staples the certificate's staple (TLS 1.3, 1.2), not an expired one" {
    serves 12
}

@test "built in Debian 11: Debian 11's openssl s_server staples the certificate's staple (TLS 1.3, 1.2), not an expired one" {
    serves 11
}

# ---------------------------------------------------------------- nginx 1.18

@test "built on Debian 12: Debian 11's nginx 1.18, master and 2 workers, SNI hosts rsa and ecdsa: each its own staple (TLS 1.3, 1.2)" {
    nginx_root 12
}

@test "built in Debian 11: Debian 11's nginx 1.18, master and 2 workers, SNI hosts rsa and ecdsa: each its own staple (TLS 1.3, 1.2)" {
    nginx_root 11
}

# ---------------------------------------------------------------- Python 3.9 server

@test "built on Debian 12: Debian 11's Python 3.9 ssl server staples (TLS 1.3, 1.2)" {
    py_server 12
}

@test "built in Debian 11: Debian 11's Python 3.9 ssl server staples (TLS 1.3, 1.2)" {
    py_server 11
}

# ---------------------------------------------------------------- Postfix 3.5

# postfix_root WHICH: a private instance of Debian 11's Postfix 3.5 (smtpd
# chrooted in its queue directory, as Debian ships it) under the preload,
# which reaches the daemons through import_environment; STARTTLS gets the
# RSA or the ECDSA certificate's own staple, over TLS 1.3 and 1.2.
postfix_root() {
    local pfi
    lib "$1"
    PF=$T/postfix pfi=$(inner "$T/postfix")
    mkdir -p "$PF/etc" "$PF/queue" "$PF/data"
    rr chown postfix "$pfi/data"
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
    pki_ocsp "$PKI" ecdsa revoked issuer now "$T/staples/ecdsa.der"
    printf 'dir = %s\nlog = %s\nreload_interval = 1\nlog_level = debug\n' \
        "$(inner "$T/staples")" "$(inner "$LIBSTAPLE_LOG")" >"$LIBSTAPLE_CONF"
    : >"$LIBSTAPLE_LOG" && chmod 0666 "$LIBSTAPLE_LOG"
    cat >"$PF/etc/main.cf" <<EOF
# private test instance of Debian 11's Postfix 3.5
compatibility_level = 2
queue_directory = $pfi/queue
data_directory = $pfi/data
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME LD_PRELOAD LIBSTAPLE_CONF
myhostname = mail.test
mydestination = mail.test
local_recipient_maps =
local_transport = discard:local
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
smtpd_peername_lookup = no
maillog_file = $pfi/maillog
maillog_file_prefixes = $pfi
smtpd_tls_security_level = may
smtpd_tls_cert_file = $PKI_IN/rsa.full.pem
smtpd_tls_key_file = $PKI_IN/rsa.key
smtpd_tls_eccert_file = $PKI_IN/ecdsa.full.pem
smtpd_tls_eckey_file = $PKI_IN/ecdsa.key
smtpd_tls_loglevel = 1
EOF
    {
        grep -Ev '^smtp[[:space:]]+inet[[:space:]]' "$R/usr/share/postfix/master.cf.dist"
        printf '127.0.0.1:%s inet  n       -       y       -       -       smtpd\n' "$PORT"
    } >"$PF/etc/master.cf"
    (
        unset LIBSTAPLE_DIR LIBSTAPLE_LOG LIBSTAPLE_LOG_LEVEL
        rrp "$LIB" "LIBSTAPLE_CONF=$(inner "$LIBSTAPLE_CONF")" postfix -c "$pfi/etc" start
    ) >"$T/postfix.out" 2>&1 || { cat "$T/postfix.out" "$PF/maillog" >&2; return 1; }
    PF_PID=$(tr -d ' \n' <"$PF/queue/pid/master.pid")
    mail_track "$PF_PID"
    wait_port "$PORT"
    [ "$(staple "$PORT" -starttls smtp -tls1_3 -sigalgs rsa_pss_rsae_sha256)" = "$(serial rsa) good" ]
    [ "$(staple "$PORT" -starttls smtp -tls1_3 -sigalgs ecdsa_secp256r1_sha256)" = "$(serial ecdsa) revoked" ]
    [ "$(staple "$PORT" -starttls smtp -tls1_2 -sigalgs RSA+SHA256)" = "$(serial rsa) good" ]
    [ "$(root_staple "$PORT" -starttls smtp -tls1_2 -sigalgs ECDSA+SHA256)" = "$(serial ecdsa) revoked" ]
    run smtp_session "$PORT"
    [[ $output == *"250-mail.test"*"221 2.0.0 Bye"* ]]
    # smtpd: Debian 11's, preloaded, chrooted in the queue directory
    pid=$(smtpd_pid "$PORT")
    [ "$(readlink "/proc/$pid/exe")" = "$R/usr/lib/postfix/sbin/smtpd" ]
    [ "$(readlink "/proc/$pid/root")" = "$PF/queue" ]
    maps_only "$pid"
    bound
}

@test "built on Debian 12: Debian 11's Postfix 3.5 smtpd staples on STARTTLS, RSA and ECDSA (TLS 1.3, 1.2)" {
    postfix_root 12
}

@test "built in Debian 11: Debian 11's Postfix 3.5 smtpd staples on STARTTLS, RSA and ECDSA (TLS 1.3, 1.2)" {
    postfix_root 11
}

# ---------------------------------------------------------------- clients

@test "built on Debian 12: Debian 11's s_client refuses Must-Staple without a staple and a revoked staple, accepts a good one and a plain one; not verifying, not enforced (TLS 1.3, 1.2)" {
    s_client_enforces 12
}

@test "built in Debian 11: Debian 11's s_client refuses Must-Staple without a staple and a revoked staple, accepts a good one and a plain one; not verifying, not enforced (TLS 1.3, 1.2)" {
    s_client_enforces 11
}

@test "built on Debian 12: Debian 11's curl 7.74 refuses Must-Staple without a staple and a revoked staple, accepts a good one (TLS 1.3, 1.2)" {
    curl_enforces 12
}

@test "built in Debian 11: Debian 11's curl 7.74 refuses Must-Staple without a staple and a revoked staple, accepts a good one (TLS 1.3, 1.2)" {
    curl_enforces 11
}

@test "built on Debian 12: Debian 11's Python 3.9 client refuses Must-Staple without a staple and a revoked staple, accepts a good one (TLS 1.3, 1.2)" {
    py_client_enforces 12
}

@test "built in Debian 11: Debian 11's Python 3.9 client refuses Must-Staple without a staple and a revoked staple, accepts a good one (TLS 1.3, 1.2)" {
    py_client_enforces 11
}

# crl_enforces WHICH: with a CRL of the test intermediate listing the
# PKI's revoked leaf in crl_dir and no staple sent, the root's s_client,
# curl and Python 3.9 (OpenSSL 1.1.1) refuse that leaf, and accept one the
# CRL does not list (TLS 1.3, 1.2).
crl_enforces() {
    local flag st
    lib "$1"
    [[ -x $TOP/tests/.work/mkcrl ]] || make -C "$TOP" -s tests/.work/mkcrl >/dev/null
    mkdir -p "$T/crl"
    "$TOP/tests/.work/mkcrl" --revoke "$(cat "$PKI/revoked.serial")" \
        "$PKI/int.pem" "$PKI/int.key" "$T/crl/int.crl"
    printf 'crl_dir = %s\n' "$(inner "$T/crl")" >"$LIBSTAPLE_CONF"
    for flag in -tls1_3 -tls1_2; do
        kill_bg
        : >"$LIBSTAPLE_LOG"
        native revoked "" "$flag"
        rr_cmd "$LIB"
        printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 "${RRC[@]}" openssl s_client \
            -connect "127.0.0.1:$PORT" -servername revoked.test -CAfile "$PKI_IN/ca.pem" \
            -ign_eof -verify_return_error >"$T/client.out" 2>&1 && st=0 || st=$?
        [ "$st" -ne 0 ]
        grep -q ':invalid status response' "$T/client.out"
        run rrp "$LIB" timeout 10 curl -sS -o /dev/null -w '%{http_code}' \
            --cacert "$PKI_IN/ca.pem" --resolve "revoked.test:$PORT:127.0.0.1" "https://revoked.test:$PORT/"
        [ "$status" -eq 35 ]
        run rrp "$LIB" timeout 20 python3 "$(inner "$W/lib/tls_client.py")" \
            "https://revoked.test:$PORT/" "$PKI_IN/ca.pem" "revoked.test:$PORT:127.0.0.1"
        [ "$status" -eq 1 ]
        [ "$(log_count "error: revoked.test: rejected /CN=revoked.test: revoked: listed in CRL int.crl: reason keyCompromise (1), revoked 20.* UTC (policy must-staple)")" -eq 3 ]
        bound
        kill_bg
        native rsa "" "$flag"
        run rrp "$LIB" timeout 10 curl -sS -o /dev/null -w '%{http_code}' \
            --cacert "$PKI_IN/ca.pem" --resolve "rsa.test:$PORT:127.0.0.1" "https://rsa.test:$PORT/"
        [ "$status" -eq 0 ]
        [ "$output" = 200 ]
        [ "$(logged "debug: rsa.test: accepted /CN=rsa.test: missing: no staple; not listed in CRL int.crl (policy must-staple)")" -eq 1 ]
    done
}

@test "built on Debian 12: Debian 11's s_client, curl and Python 3.9 refuse a revoked leaf a CRL in crl_dir lists, and accept one it does not (TLS 1.3, 1.2)" {
    crl_enforces 12
}

@test "built in Debian 11: Debian 11's s_client, curl and Python 3.9 refuse a revoked leaf a CRL in crl_dir lists, and accept one it does not (TLS 1.3, 1.2)" {
    crl_enforces 11
}

# ---------------------------------------------------------------- staplectl

@test "staplectl built on Debian 12, in Debian 11: refresh from Debian 11's openssl ocsp responder, show, verify" {
    local ctl serial f
    need_root
    # staplectl's own output only, not the library's debug lines
    unset LIBSTAPLE_LOG_LEVEL
    ctl=$(inner "$W/host/staplectl")
    RPORT=$(free_port)
    leaf_with_ocsp_url leaf "http://127.0.0.1:$RPORT/"
    cp "$PKI/index.txt.attr" "$T/index.txt.attr"
    rr_cmd
    bg responder "${RRC[@]}" openssl ocsp -index "$(inner "$T/index.txt")" -port "$RPORT" \
        -rsigner "$PKI_IN/responder.pem" -rkey "$PKI_IN/responder.key" -CA "$PKI_IN/int.pem" -ndays 1
    for _ in $(seq 50); do
        grep -q "waiting for OCSP client connections" "$T/responder.err" && break
        sleep 0.1
    done
    grep -q "waiting for OCSP client connections" "$T/responder.err"
    [ "$(readlink "/proc/$BG_PID/exe")" = "$R/usr/bin/openssl" ]
    run rr "$ctl" --version
    [ "$status" -eq 0 ]
    [[ $output == "staplectl "* ]]
    run rr "$ctl" refresh --dir "$(inner "$T/staples")" "$(inner "$T/leaf.full.pem")"
    [ "$status" -eq 0 ]
    [ "$(grep -c ': fetched: good, stored ' <<<"$output")" -eq 1 ]
    [ "${lines[-1]}" = "refresh: 1 certificates: 1 fetched, 0 fresh, 0 without OCSP, 0 failed" ]
    serial=$(openssl x509 -in "$T/leaf.pem" -noout -serial | cut -d= -f2 | tr A-F a-f)
    f=$(ls "$T/staples")
    [[ $f == *"-$serial.der" ]]
    run rr "$ctl" verify --cert "$(inner "$T/leaf.full.pem")" --CAfile "$PKI_IN/ca.pem" \
        "$(inner "$T/staples/$f")"
    [ "$status" -eq 0 ]
    [ "$output" = good ] || { echo "verify: $status: $output" >&2; return 1; }
    # the responder's staples last a day, show's default --warn: a second
    # after the fetch, that one is due for attention
    run rr "$ctl" show --warn 1h "$(inner "$T/staples")"
    [ "$status" -eq 0 ]
    [[ $output == *"$f"*good* ]]
    # the same response, revoked in the responder's database: refused
    pki_ocsp "$PKI" rsa revoked issuer now "$T/revoked.der"
    run rr "$ctl" verify --cert "$PKI_IN/rsa.pem" --issuer "$PKI_IN/int.pem" \
        --CAfile "$PKI_IN/ca.pem" "$(inner "$T/revoked.der")"
    [ "$output" = revoked ]
    [ "$status" -ne 0 ]
}

@test "the .deb built here installs in Debian 11 with dpkg -i: staplectl runs, the library staples for s_server; dpkg -P removes it" {
    deb_works
}
