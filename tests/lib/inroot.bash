# shellcheck shell=bash
# inroot.bash - running tests inside a whole root (tests/lib/roots.sh):
# a work directory inside the root for each test file, the test's scratch
# directory T inside it, and commands run with the root's own glibc and
# programs (chroot for amd64 roots; qemu-aarch64-static -L for arm64).
#
# Paths: T, W, PKI are host paths (the host's clients and helpers use them);
# `inner PATH` is the same file as the root's programs see it. Inside the
# root the test PKI is $W/pki (inner: $PKI_IN).
#
#   inroot_file_setup NAME      R (the root), W (a work dir in it, with the
#                               PKI and the Python test programs), PKI_IN
#   inroot_file_teardown        remove W
#   inroot_setup                setup_test with T inside W
#   inroot_teardown             stop what the test started; fail when a
#                               process is left in the root
#   inner PATH                  PATH as seen inside the root
#   rr CMD...                   run CMD in the root (chroot), clean environment
#                               with the test's LIBSTAPLE_* settings (inner paths)
#   rrp LIB CMD...              rr CMD under LD_PRELOAD=LIB (an inner path)

load lib/common
load lib/roots.sh
load lib/mail

# inroot_file_setup NAME: the root NAME (made, or its failure reason in
# ROOT_SKIP), a fresh work directory W inside it.
inroot_file_setup() {
    pki_shared
    export ROOT_NAME=$1
    # a sanitizer runtime built for this machine cannot be preloaded in
    # another system: these files test the systems, `make test` runs them
    if [[ -n $PRELOAD_BASE ]]; then
        export ROOT_SKIP="not under a sanitizer (make test runs these tests)"
        return 0
    fi
    roots_ready ROOT_SKIP "$@" || return 1
    export R W PKI_IN
    R=$(roots_dir "$1")
    [[ -z $ROOT_SKIP ]] || return 0
    W=$(mktemp -d "$R/tmp/staple-tests.XXXXXX") || return 1
    chmod 0755 "$W"
    cp -a "$PKI" "$W/pki" && chmod -R a+rX "$W/pki" || return 1
    mkdir -p "$W/lib" && cp "$TOP"/tests/lib/tls_*.py "$W/lib/" || return 1
    PKI_IN=$(inner "$W/pki")
}

# inroot_file_teardown: remove W (nothing may run in the root any more).
inroot_file_teardown() {
    [[ -n ${W:-} && -d $W ]] && rm -rf "$W"
    return 0
}

# need_root: skip (outside CI) when the root could not be made here.
need_root() {
    [[ -z $ROOT_SKIP ]] || skip "the $ROOT_NAME root: $ROOT_SKIP"
}

# inner PATH: PATH (a host path below R) as the root's programs see it.
inner() {
    printf '%s\n' "${1#"$R"}"
}

# inroot_setup: setup_test, with T a fresh directory inside W.
inroot_setup() {
    setup_test
    [[ -z $ROOT_SKIP ]] || return 0
    T=$W/t$BATS_SUITE_TEST_NUMBER
    rm -rf "$T" && mkdir -p "$T/staples" && chmod 0755 "$T" || return 1
    export LIBSTAPLE_DIR=$T/staples LIBSTAPLE_LOG=$T/staple.log
    export LIBSTAPLE_CONF=$T/libstaple.conf
    : >"$LIBSTAPLE_CONF"
    PORT=$(free_port)
}

# inroot_teardown: stop everything the test started; fail when something
# still listens on PORT or a process is left in the root.
inroot_teardown() {
    local left
    mail_teardown
    [[ -z ${ROOT_SKIP:-} && -n ${R:-} ]] || return 0
    # the package a test installed goes, whatever failed
    if [[ -f ${T:-}/deb.installed ]]; then
        rr dpkg -P libstaple >/dev/null 2>&1 || { echo "dpkg -P libstaple failed in the root" >&2; return 1; }
    fi
    if [[ -n ${PORT:-} ]] && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        echo "something still listens on port $PORT after the test" >&2
        return 1
    fi
    left=$(roots_leftovers "$ROOT_NAME")
    if [[ -n $left ]]; then
        echo "processes left in the root:" >&2
        echo "$left" >&2
        return 1
    fi
}

# rr_cmd [LIB]: set the array RRC to the command that runs a program in
# the root (chroot) with a clean environment: PATH, HOME, LANG, the test's
# LIBSTAPLE_* settings translated to inner paths, and LD_PRELOAD=LIB (an
# inner path) when LIB is given. NAME=VALUE words may follow (env).
rr_cmd() {
    RRC=(chroot "$R" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
        HOME=/root LANG=C)
    [[ -z ${LIBSTAPLE_DIR:-} ]] || RRC+=("LIBSTAPLE_DIR=$(inner "$LIBSTAPLE_DIR")")
    [[ -z ${LIBSTAPLE_LOG:-} ]] || RRC+=("LIBSTAPLE_LOG=$(inner "$LIBSTAPLE_LOG")")
    [[ -z ${LIBSTAPLE_CONF:-} ]] || RRC+=("LIBSTAPLE_CONF=$(inner "$LIBSTAPLE_CONF")")
    [[ -z ${LIBSTAPLE_LOG_LEVEL:-} ]] || RRC+=("LIBSTAPLE_LOG_LEVEL=$LIBSTAPLE_LOG_LEVEL")
    [[ -z ${LIBSTAPLE_POLICY:-} ]] || RRC+=("LIBSTAPLE_POLICY=$LIBSTAPLE_POLICY")
    [[ -z ${1:-} ]] || RRC+=("LD_PRELOAD=$1")
}

# rr CMD...: run CMD in the root (rr_cmd, no preload).
rr() {
    rr_cmd
    "${RRC[@]}" "$@"
}

# rrp LIB CMD...: run CMD in the root under LD_PRELOAD=LIB (an inner path).
rrp() {
    rr_cmd "$1"
    shift
    "${RRC[@]}" "$@"
}

# logged TEXT: how many log lines are exactly "libstaple[PID]: TEXT".
logged() {
    sed -E 's/^libstaple\[[0-9]+\]: //' "$LIBSTAPLE_LOG" 2>/dev/null | grep -cxF -- "$1" || true
}

# ssl_libs PID: the libssl*/libcrypto* files process PID maps, as inner
# paths (the kernel names them from the reader's root), sorted, one a line.
ssl_libs() {
    local real
    real=$(cd "$R" && pwd -P)
    awk '$6 ~ /\/lib(ssl|crypto)\.so/ { print $6 }' "/proc/$1/maps" |
        sed "s|^$real/|/|" | sort -u
}

# root_staple PORT [ARGS...]: what the server on 127.0.0.1:PORT stapled,
# asked by the root's own openssl s_client (not preloaded), as `staple`.
root_staple() {
    local port=$1
    shift
    { timeout 10 chroot "$R" /usr/bin/env -i PATH=/usr/bin:/bin openssl s_client \
        -connect "127.0.0.1:$port" -status -CAfile "$PKI_IN/ca.pem" "$@" \
        </dev/null 2>&1 || true; } | staple_parse
}

# native CERT [STAPLE [TLSFLAG]]: the host's openssl s_server WITHOUT the
# preload on 127.0.0.1:PORT, serving CERT with its chain, stapling the file
# STAPLE ("" for nothing), only TLSFLAG's version when given.
native() {
    local args=()
    [[ -z ${2:-} ]] || args+=(-status_file "$2")
    [[ -z ${3:-} ]] || args+=("$3")
    bg native env -u LD_PRELOAD openssl s_server -www -accept "127.0.0.1:$PORT" \
        -cert "$PKI/$1.pem" -key "$PKI/$1.key" -cert_chain "$PKI/int.pem" "${args[@]}"
    wait_port "$PORT"
}

# The verdict lines of the client role (debug level shows them all).
MUST_MISSING="error: must.test: rejected /CN=must.test [Must-Staple]: missing: no staple (policy must-staple)"
MUST_GOOD="debug: must.test: accepted /CN=must.test [Must-Staple]: good (policy must-staple)"
RSA_REVOKED="error: rsa.test: rejected /CN=rsa.test: revoked (policy must-staple)"
RSA_MISSING="debug: rsa.test: accepted /CN=rsa.test: missing: no staple (policy must-staple)"
MUST_UNVERIFIED="warn: must.test: not enforced: /CN=must.test [Must-Staple]: missing: no staple (policy must-staple; the program does not verify the server)"

# verdicts: how many accepted/rejected/not-enforced lines the log has.
verdicts() {
    log_count ': \(error\|warn\|debug\): [^ ]*: \(accepted\|rejected\|not enforced:\) '
}

# ---------------------------------------------------------------- both roles
# The scenarios the root tests share. The test file sets SSL_PATH and
# CRYPTO_PATH (the root's libssl and libcrypto as its dynamic linker names
# them), SSL_VERSION (OpenSSL_version's text), PYTHON_EXE (the real path of
# its python3) and defines `lib WHICH`, which sets LIB to the inner path of
# the library to try (and fails when it cannot).

# bound: libstaple used the root's libssl (SSL_PATH, SSL_VERSION), and no
# other.
bound() {
    local want="debug: using $SSL_PATH ($SSL_VERSION)"
    [ "$(logged "$want")" -ge 1 ]
    [ "$(log_count ': debug: using ')" -eq "$(logged "$want")" ]
}

# maps_only PID: PID maps the root's libssl and libcrypto (SSL_PATH,
# CRYPTO_PATH; the kernel names their real paths) and nothing else of OpenSSL's, and the library under test.
maps_only() {
    local ssl crypto
    ssl=$(rr readlink -f "$SSL_PATH") crypto=$(rr readlink -f "$CRYPTO_PATH")
    [ "$(ssl_libs "$1")" = "$(printf '%s\n%s' "$crypto" "$ssl")" ]
    grep -qF "$R$LIB" "/proc/$1/maps" || grep -qF " $LIB" "/proc/$1/maps"
}

# serves WHICH: the root's s_server -www under the preload staples the
# certificate's own staple (not another one's) over TLS 1.3 and 1.2, as
# the host's and the root's s_client see it; an expired one is not served.
serves() {
    local flag
    lib "$1"
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
    pki_ocsp "$PKI" vhost revoked issuer now "$T/staples/vhost.der"
    rr_cmd "$LIB"
    bg s_server "${RRC[@]}" openssl s_server -www -accept "127.0.0.1:$PORT" \
        -cert "$PKI_IN/rsa.pem" -key "$PKI_IN/rsa.key" -cert_chain "$PKI_IN/int.pem"
    wait_port "$PORT"
    for flag in -tls1_3 -tls1_2; do
        [ "$(staple "$PORT" "$flag")" = "$(serial rsa) good" ]
        [ "$(root_staple "$PORT" "$flag")" = "$(serial rsa) good" ]
    done
    [ "$(logged "debug: stapling rsa.der")" -eq 4 ]
    [ "$(log_count "stapling vhost.der")" -eq 0 ]
    bound
    maps_only "$BG_PID"
    # an expired staple is not served, and said so once
    pki_ocsp "$PKI" rsa good issuer expired "$T/staples/rsa.der.new"
    mv "$T/staples/rsa.der.new" "$T/staples/rsa.der"
    staple_within 10 none "$PORT" -tls1_3
    [ "$(root_staple "$PORT" -tls1_2)" = none ]
    [ "$(log_count "not stapling rsa.der: expired at")" -eq 1 ]
}

# nginx_get NAME TLSFLAG: one GET with the host's s_client -status to the
# nginx host NAME: "SERIAL STATUS | LEAF WORKERPID".
nginx_get() {
    local out
    out=$(printf 'GET / HTTP/1.0\r\nHost: %s\r\n\r\n' "$1" | timeout 10 env -u LD_PRELOAD \
        openssl s_client -connect "127.0.0.1:$PORT" -servername "$1" -status \
        -CAfile "$PKI/ca.pem" -ign_eof "$2" 2>&1) || true
    printf '%s | %s\n' "$(staple_parse <<<"$out")" \
        "$(grep -E '^[a-z]+ [0-9]+$' <<<"$out" | tail -n 1)"
}

# nginx_root WHICH: the root's nginx (master, 2 workers; reuseport,
# so that the kernel spreads the connections) under the preload with the
# SNI hosts rsa.test and ecdsa.test; 20 connections over TLS 1.3 and 1.2
# each get their host's staple, and both workers answered.
nginx_root() {
    local leaf got workers seen='' pid n=0 flag
    lib "$1"
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
    pki_ocsp "$PKI" ecdsa revoked issuer now "$T/staples/ecdsa.der"
    mkdir -p "$T/nginx/tmp"
    {
        printf 'worker_processes 2;\npid %s/nginx.pid;\nerror_log %s/error.log info;\ndaemon off;\n' \
            "$(inner "$T/nginx")" "$(inner "$T/nginx")"
        printf 'events { worker_connections 256; }\nhttp {\n    access_log off;\n'
        printf '    ssl_protocols TLSv1.2 TLSv1.3;\n'
        for dir in client_body proxy fastcgi uwsgi scgi; do
            printf '    %s_temp_path %s;\n' "$dir" "$(inner "$T/nginx/tmp")"
        done
        for leaf in rsa ecdsa; do
            printf '    server {\n        listen 127.0.0.1:%s ssl%s;\n' "$PORT" \
                "$([[ $leaf == rsa ]] && echo ' reuseport')"
            printf '        server_name %s.test;\n' "$leaf"
            printf '        ssl_certificate %s/%s.full.pem;\n' "$PKI_IN" "$leaf"
            printf '        ssl_certificate_key %s/%s.key;\n' "$PKI_IN" "$leaf"
            printf '        return 200 "%s $pid\\n";\n    }\n' "$leaf"
        done
        printf '}\n'
    } >"$T/nginx/nginx.conf"
    rr_cmd "$LIB"
    # its own process group, stopped as a whole in teardown
    bg nginx setsid "${RRC[@]}" nginx -p "$(inner "$T/nginx")/" -c "$(inner "$T/nginx/nginx.conf")"
    mail_track "$BG_PID"
    wait_port "$PORT"
    [ "$(cat "/proc/$BG_PID/comm")" = nginx ]
    for _ in $(seq 50); do
        workers=$(pgrep -P "$BG_PID" -x nginx | sort -n | tr '\n' ' ') || true
        [ "$(wc -w <<<"$workers")" -eq 2 ] && break
        sleep 0.1
    done
    [ "$(wc -w <<<"$workers")" -eq 2 ]
    for flag in -tls1_3 -tls1_2; do
        for _ in $(seq 5); do
            for leaf in rsa ecdsa; do
                got=$(nginx_get "$leaf.test" "$flag")
                if [[ $leaf == rsa ]]; then
                    [ "${got%% | *}" = "$(serial rsa) good" ]
                else
                    [ "${got%% | *}" = "$(serial ecdsa) revoked" ]
                fi
                [[ ${got#* | } =~ ^$leaf\ ([0-9]+)$ ]]
                pid=${BASH_REMATCH[1]}
                [[ " $workers" == *" $pid "* ]]
                [[ " $seen " == *" $pid "* ]] || seen+=" $pid"
                n=$((n + 1))
            done
        done
    done
    [ "$n" -eq 20 ]
    [ "$(wc -w <<<"$seen")" -eq 2 ]
    bound
    maps_only "$BG_PID"
    for pid in $workers; do
        maps_only "$pid"
    done
}

# py_server WHICH: tests/lib/tls_server.py on the root's Python (PYTHON_EXE) under
# the preload staples its certificate's staple (TLS 1.3, 1.2).
py_server() {
    local flag
    lib "$1"
    pki_ocsp "$PKI" ecdsa good issuer now "$T/staples/ecdsa.der"
    pki_ocsp "$PKI" rsa revoked issuer now "$T/staples/rsa.der"
    rr_cmd "$LIB"
    bg python "${RRC[@]}" python3 "$(inner "$W/lib/tls_server.py")" "$PORT" \
        "$PKI_IN/ecdsa.full.pem" "$PKI_IN/ecdsa.key"
    wait_port "$PORT"
    for flag in -tls1_3 -tls1_2; do
        [ "$(staple "$PORT" "$flag")" = "$(serial ecdsa) good" ]
        [ "$(root_staple "$PORT" "$flag")" = "$(serial ecdsa) good" ]
    done
    [ "$(logged "debug: stapling ecdsa.der")" -eq 4 ]
    [ "$(log_count "stapling rsa.der")" -eq 0 ]
    [ "$(readlink "/proc/$BG_PID/exe")" = "$R$PYTHON_EXE" ]
    bound
    maps_only "$BG_PID"
}

# against CASE TLSFLAG: the host's s_server (no preload) for CASE: missing
# (Must-Staple, nothing stapled), revoked (rsa, a revoked staple), good
# (Must-Staple, a good staple), plain (rsa, nothing stapled), unverified
# (as missing, for a client that does not verify); sets NAME (the host name to ask) and WANT
# (the verdict line the client's libstaple must log).
against() {
    kill_bg
    : >"$LIBSTAPLE_LOG"
    case $1 in
        missing) NAME=must.test WANT=$MUST_MISSING && native must "" "$2" ;;
        revoked)
            pki_ocsp "$PKI" rsa revoked issuer now "$T/revoked.der"
            NAME=rsa.test WANT=$RSA_REVOKED && native rsa "$T/revoked.der" "$2"
            ;;
        good)
            pki_ocsp "$PKI" must good issuer now "$T/good.der"
            NAME=must.test WANT=$MUST_GOOD && native must "$T/good.der" "$2"
            ;;
        plain) NAME=rsa.test WANT=$RSA_MISSING && native rsa "" "$2" ;;
        unverified) NAME=must.test WANT=$MUST_UNVERIFIED && native must "" "$2" ;;
    esac
}

# verdict_is: the client logged WANT and no other verdict, and used
# the root's libssl.
verdict_is() {
    [ "$(logged "$WANT")" -eq 1 ] || { cat "$LIBSTAPLE_LOG" >&2; return 1; }
    [ "$(verdicts)" -eq 1 ]
    bound
}

# s_client_enforces WHICH: the root's s_client -verify_return_error under
# the preload refuses Must-Staple without a staple and a revoked staple,
# accepts a good one (and -status still prints it) and a plain certificate
# without one; not verifying, Must-Staple without a staple is let through
# (with a warning). TLS 1.3 and 1.2.
s_client_enforces() {
    local flag case st verify=()
    lib "$1"
    for flag in -tls1_3 -tls1_2; do
        for case in missing revoked good plain unverified; do
            against "$case" "$flag"
            verify=(-verify_return_error)
            [[ $case != unverified ]] || verify=()
            rr_cmd "$LIB"
            printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 "${RRC[@]}" openssl s_client \
                -connect "127.0.0.1:$PORT" -servername "$NAME" -CAfile "$PKI_IN/ca.pem" \
                -ign_eof "${verify[@]}" -status >"$T/client.out" 2>&1 && st=0 || st=$?
            case $case in
                missing | revoked)
                    [ "$st" -ne 0 ]
                    grep -q ':invalid status response' "$T/client.out"
                    [ "$(grep -c '^HTTP/1.0 200 ok' "$T/client.out")" -eq 0 ]
                    ;;
                *)
                    [ "$st" -eq 0 ]
                    grep -q "^New, TLSv1.${flag#-tls1_}, Cipher is" "$T/client.out"
                    grep -q '^HTTP/1.0 200 ok' "$T/client.out"
                    ;;
            esac
            # s_client's own -status printing still sees the staple
            [[ $case != good ]] || [ "$(staple_parse <"$T/client.out")" = "$(serial must) good" ]
            verdict_is
        done
    done
}

# curl_enforces WHICH: the root's curl: error 35 "invalid status
# response" for missing and revoked, HTTP 200 for good.
curl_enforces() {
    local flag case
    lib "$1"
    for flag in -tls1_3 -tls1_2; do
        for case in missing revoked good; do
            against "$case" "$flag"
            run rrp "$LIB" timeout 10 curl -sS -o /dev/null -w '%{http_code}' \
                --cacert "$PKI_IN/ca.pem" --resolve "$NAME:$PORT:127.0.0.1" "https://$NAME:$PORT/"
            if [[ $case == good ]]; then
                [ "$status" -eq 0 ]
                [ "$output" = 200 ]
            else
                [ "$status" -eq 35 ]
                [[ $output == "curl: (35) "*":invalid status response"*000 ]]
            fi
            verdict_is
        done
    done
}

# py_client_enforces WHICH: tests/lib/tls_client.py on the root's Python
# 3.9: URLError "invalid status response" for missing and revoked, the
# page for good.
py_client_enforces() {
    local flag case
    lib "$1"
    for flag in -tls1_3 -tls1_2; do
        for case in missing revoked good; do
            against "$case" "$flag"
            run rrp "$LIB" timeout 20 python3 "$(inner "$W/lib/tls_client.py")" \
                "https://$NAME:$PORT/" "$PKI_IN/ca.pem" "$NAME:$PORT:127.0.0.1"
            if [[ $case == good ]]; then
                [ "$status" -eq 0 ]
                [ "${lines[0]}" = '<HTML><BODY BGCOLOR="#ffffff">' ]
            else
                [ "$status" -eq 1 ]
                [[ $output == "URLError: <urlopen error [SSL: INVALID_STATUS_RESPONSE] invalid status response ("*")>" ]]
            fi
            verdict_is
        done
    done
}


# ---------------------------------------------------------------- the package

# deb_works: the package `make deb` builds here installs with dpkg -i in
# the root (its Depends met by the root's packages), staplectl --version
# runs there, the installed library staples for the root's s_server, and
# dpkg -P removes it again (inroot_teardown purges it if the test fails).
deb_works() {
    local deb version
    need_root
    make -C "$TOP" deb >"$T/make-deb.log" 2>&1 || { tail -n 30 "$T/make-deb.log" >&2; return 1; }
    version=$(dpkg-parsechangelog -l "$TOP/debian/changelog" -S Version)
    deb=$T/libstaple_${version}.deb
    cp "$TOP/tests/.work/deb/libstaple.deb" "$deb"
    # a package left by an earlier run that was killed goes first
    if rr dpkg-query -W libstaple >/dev/null 2>&1; then
        rr dpkg -P libstaple >/dev/null
    fi
    touch "$T/deb.installed"
    run rr dpkg -i "$(inner "$deb")"
    [ "$status" -eq 0 ] || { echo "$output" >&2; return 1; }
    [ "$(rr dpkg-query -W -f '${Status} ${Version}' libstaple)" = "install ok installed $version" ]
    run rr staplectl --version
    [ "$status" -eq 0 ]
    [ "$output" = "staplectl ${version%%-*}" ]
    # the installed library, for the root's own s_server
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
    rr_cmd /usr/lib/libstaple/libstaple.so
    bg s_server "${RRC[@]}" openssl s_server -www -accept "127.0.0.1:$PORT" \
        -cert "$PKI_IN/rsa.pem" -key "$PKI_IN/rsa.key" -cert_chain "$PKI_IN/int.pem"
    wait_port "$PORT"
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    [ "$(root_staple "$PORT" -tls1_2)" = "$(serial rsa) good" ]
    grep -qF /usr/lib/libstaple/libstaple.so "/proc/$BG_PID/maps"
    kill_bg
    run rr dpkg -P libstaple
    [ "$status" -eq 0 ]
    rm -f "$T/deb.installed"
    [ ! -e "$R/usr/lib/libstaple/libstaple.so" ]
    run rr dpkg-query -W libstaple
    [ "$status" -ne 0 ]
}
