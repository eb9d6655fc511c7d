#!/usr/bin/env bats
# The deployments in examples/ are run as they are written, with only the
# paths and ports of this test filled in.

load lib/common

setup() {
    setup_test
    PORT=$(free_port)
}

teardown() {
    kill_bg
}

# dropin_env: the Environment= settings of the systemd drop-in, as NAME=VALUE
# lines, pointed at this build and this test's staple directory.
dropin_env() {
    sed -n 's/^Environment=//p' "$TOP/examples/systemd/libstaple.conf" |
        sed -e "s|^LD_PRELOAD=.*|LD_PRELOAD=$PRELOAD|" \
            -e "s|^LIBSTAPLE_DIR=.*|LIBSTAPLE_DIR=$T/staples|" \
            -e "s|^LIBSTAPLE_LOG=.*|LIBSTAPLE_LOG=$T/staple.log|"
}

@test "examples/nginx + the systemd drop-in's environment: each host its staple" {
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
    pki_ocsp "$PKI" ecdsa revoked issuer now "$T/staples/ecdsa.der"
    mkdir -p "$T/nginx/tmp"
    sed -e "s|@PREFIX@|$T/nginx|g" -e "s|@PORT@|$PORT|g" -e "s|@PKI@|$PKI|g" \
        "$TOP/examples/nginx/nginx.conf" >"$T/nginx/nginx.conf"
    # no stapling directive (the comments at its top say there is none)
    [ "$(sed 's/#.*//' "$T/nginx/nginx.conf" | grep -c ssl_stapling)" -eq 0 ]
    mapfile -t envs < <(dropin_env)
    [ "${#envs[@]}" -ge 2 ]
    bg nginx env "${envs[@]}" nginx -p "$T/nginx" -c "$T/nginx/nginx.conf" \
        -e "$T/nginx/error.log"
    wait_port "$PORT"
    [ "$(staple "$PORT" -servername rsa.test)" = "$(serial rsa) good" ]
    [ "$(staple "$PORT" -servername ecdsa.test)" = "$(serial ecdsa) revoked" ]
}

# refresh_conf: the test's config naming the site's certificate (`certs =`),
# as /etc/libstaple.conf would for the units and the cron lines.
refresh_conf() {
    printf 'dir = %s\ncerts = %s\n' "$T/staples" "$T/site.test.full.pem" >"$LIBSTAPLE_CONF"
}

# site_staple: the name refresh gives the site's staple.
site_staple() {
    local serial
    serial=$(openssl x509 -in "$T/site.test.pem" -noout -serial | cut -d= -f2 | tr A-F a-f)
    ls "$T/staples" | grep -- "-$serial.der$"
}

@test "examples/refresh: the timer's service refreshes every certificate of the config" {
    RPORT=$(free_port)
    leaf_with_ocsp_url site.test "http://127.0.0.1:$RPORT/"
    ocsp_responder "$T/index.txt" int
    refresh_conf
    cmd=$(sed -n 's/^ExecStart=//p' "$TOP/examples/refresh/libstaple-refresh.service")
    [ "$cmd" = "/usr/bin/staplectl refresh" ]
    run ${cmd//\/usr\/bin\/staplectl/$TOP/staplectl}
    [ "$status" -eq 0 ]
    [[ ${lines[0]} == "$T/site.test.full.pem: fetched: good, stored $T/staples/$(site_staple) "* ]]
    grep -q "^OnUnitActiveSec=" "$TOP/examples/refresh/libstaple-refresh.timer"
    grep -q "^WantedBy=timers.target" "$TOP/examples/refresh/libstaple-refresh.timer"
    # and the stored staple is what a server then staples
    bg server env LD_PRELOAD="$PRELOAD" openssl s_server -www \
        -accept "127.0.0.1:$PORT" -cert "$T/site.test.pem" -key "$T/site.test.key" \
        -cert_chain "$PKI/int.pem"
    wait_port "$PORT"
    serial=$(openssl x509 -in "$T/site.test.pem" -noout -serial | cut -d= -f2)
    [ "$(staple "$PORT")" = "$serial good" ]
}

@test "examples/refresh: the cron lines refresh, and check what is there" {
    RPORT=$(free_port)
    leaf_with_ocsp_url site.test "http://127.0.0.1:$RPORT/"
    ocsp_responder "$T/index.txt" int
    refresh_conf
    grep -v '^#' "$TOP/examples/refresh/crontab" | cut -d' ' -f7- |
        sed -e "s|/usr/bin/staplectl|$TOP/staplectl|g" -e "s|/var/lib/libstaple|$T/staples|g" >"$T/jobs"
    [ "$(wc -l <"$T/jobs")" -eq 3 ]
    run bash -c "$(sed -n 1p "$T/jobs")"
    [ "$status" -eq 0 ]
    [ -n "$(site_staple)" ]
    run "$TOP/staplectl" verify --cert "$T/site.test.full.pem" "$T/staples/$(site_staple)"
    [ "$output" = good ]
    # every minute: nothing while the register is as the last run left it
    run sh -c "$(sed -n 2p "$T/jobs")"
    [ "$output" = "" ]
    # a server registers another certificate: the next minute fetches its staple
    leaf_with_ocsp_url other.test "http://127.0.0.1:$RPORT/"
    kill_bg
    ocsp_responder "$T/index.txt" int
    local key serial
    key=$(openssl x509 -in "$PKI/int.pem" -noout -ocspid | sed -n 's/.*Public key OCSP hash: //p' | tr A-F a-f | cut -c1-16)
    serial=$(openssl x509 -in "$T/other.test.pem" -noout -serial | cut -d= -f2 | tr A-F a-f)
    sleep 1.1    # the register's time, a second past the state file's
    { printf '# libstaple register entry\n# program: nginx\n'; cat "$T/other.test.pem" "$PKI/int.pem"; } \
        >"$T/staples/.wanted/$key-$serial.pem"
    run sh -c "$(sed -n 2p "$T/jobs")"
    echo "$output"
    [[ $output == *"$T/staples/.wanted/$key-$serial.pem: fetched: good, stored $T/staples/$key-$serial.der "* ]]
    run sh -c "$(sed -n 2p "$T/jobs")"
    [ "$output" = "" ]
    # the check: a one-day staple expires within --warn 12h? no: it has ~24h
    run bash -c "$(sed -n 3p "$T/jobs")"
    [ "$status" -eq 0 ]
    [ "$output" = "" ]
}

@test "examples/clients: curl and python under the preload refuse an unstapled Must-Staple server" {
    bg native openssl s_server -www -accept "127.0.0.1:$PORT" \
        -cert "$PKI/must.pem" -key "$PKI/must.key" -cert_chain "$PKI/int.pem"
    wait_port "$PORT"
    url="https://must.test:$PORT/"
    # without libstaple, curl connects
    curl -sS -o /dev/null --cacert "$PKI/ca.pem" --resolve "must.test:$PORT:127.0.0.1" "$url"
    export LIBSTAPLE_SO=$LIBSTAPLE
    [[ -z $PRELOAD_BASE ]] || export LIBSTAPLE_SO=$PRELOAD
    if [[ -z $PRELOAD_BASE ]]; then   # curl hangs under libasan alone
        run "$TOP/examples/clients/curl.sh" -sS -o /dev/null --cacert "$PKI/ca.pem" \
            --resolve "must.test:$PORT:127.0.0.1" "$url"
        [ "$status" -eq 35 ]
    fi
    run "$TOP/examples/clients/python.sh" -c "
import socket, ssl
ctx = ssl.create_default_context(cafile='$PKI/ca.pem')
ctx.wrap_socket(socket.create_connection(('127.0.0.1', $PORT)), server_hostname='must.test')
"
    [ "$status" -ne 0 ]
    [[ $output == *"INVALID_STATUS_RESPONSE"* ]]
    [ "$(log_count "rejected /CN=must.test \[Must-Staple\]: missing")" -ge 1 ]
}
