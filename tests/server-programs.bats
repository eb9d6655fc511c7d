#!/usr/bin/env bats
# Server role in real programs: virtual hosts and key types in s_server,
# a program's own stapling, nginx (master + workers, SNI), Python (libssl
# loaded by dlopen) and CERTFILE.ocsp.

load lib/common

setup() {
    setup_test
    PORT=$(free_port)
    for leaf in rsa ecdsa vhost; do
        pki_ocsp "$PKI" "$leaf" good issuer now "$T/staples/$leaf.der"
    done
}

teardown() {
    kill_bg
}

@test "s_server with two SNI contexts: each name gets its certificate's staple" {
    s_server "$PORT" rsa -servername vhost.test \
        -cert2 "$PKI/vhost.pem" -key2 "$PKI/vhost.key"
    [ "$(staple "$PORT" -servername vhost.test)" = "$(serial vhost) good" ]
    [ "$(staple "$PORT" -servername other.test)" = "$(serial rsa) good" ]
    [ "$(staple "$PORT" -servername vhost.test -tls1_2)" = "$(serial vhost) good" ]
}

@test "s_server with an RSA and an ECDSA certificate: each key type its staple" {
    s_server "$PORT" rsa -dcert "$PKI/ecdsa.pem" -dkey "$PKI/ecdsa.key"
    [ "$(staple "$PORT" -sigalgs ecdsa_secp256r1_sha256)" = "$(serial ecdsa) good" ]
    [ "$(staple "$PORT" -sigalgs rsa_pss_rsae_sha256)" = "$(serial rsa) good" ]
    [ "$(staple "$PORT" -tls1_2 -sigalgs ECDSA+SHA256)" = "$(serial ecdsa) good" ]
    [ "$(staple "$PORT" -tls1_2 -sigalgs RSA+SHA256)" = "$(serial rsa) good" ]
}

@test "s_server -status_file X: the program's own staple wins over the directory's" {
    pki_ocsp "$PKI" rsa revoked issuer now "$T/own.der"
    s_server "$PORT" rsa -status_file "$T/own.der"
    [ "$(staple "$PORT" -tls1_3)" = "$(serial rsa) revoked" ]
    [ "$(staple "$PORT" -tls1_2)" = "$(serial rsa) revoked" ]
}

@test "nginx, master and 2 workers, two SNI hosts (RSA, ECDSA): each its own staple" {
    nginx_conf 2 rsa ecdsa
    nginx_start
    [ "$(pgrep -c -P "$BG_PID")" -ge 2 ]
    # several rounds, so that both workers answer
    for _ in 1 2 3 4; do
        [ "$(staple "$PORT" -servername rsa.test)" = "$(serial rsa) good" ]
        [ "$(staple "$PORT" -servername ecdsa.test)" = "$(serial ecdsa) good" ]
        [ "$(staple "$PORT" -servername ecdsa.test -tls1_2)" = "$(serial ecdsa) good" ]
    done
    run curl -sS --cacert "$PKI/ca.pem" --cert-status \
        --resolve "ecdsa.test:$PORT:127.0.0.1" "https://ecdsa.test:$PORT/"
    [ "$output" = "ecdsa" ]
}

@test "a Python ssl server (libssl loaded by dlopen) staples" {
    bg python env LD_PRELOAD="$PRELOAD" python3 "$TOP/tests/lib/tls_server.py" \
        "$PORT" "$PKI/ecdsa.full.pem" "$PKI/ecdsa.key"
    wait_port "$PORT"
    [ "$(staple "$PORT")" = "$(serial ecdsa) good" ]
    [ "$(staple "$PORT" -tls1_2)" = "$(serial ecdsa) good" ]
}

@test "CERTFILE.ocsp beside a certificate loaded from a file is served" {
    export LIBSTAPLE_DIR=$T/empty
    mkdir "$T/empty" "$T/certs"
    cp "$PKI/vhost.full.pem" "$T/certs/site.pem"
    pki_ocsp "$PKI" vhost revoked issuer now "$T/certs/site.pem.ocsp"
    bg python env LD_PRELOAD="$PRELOAD" python3 "$TOP/tests/lib/tls_server.py" \
        "$PORT" "$T/certs/site.pem" "$PKI/vhost.key"
    wait_port "$PORT"
    [ "$(staple "$PORT")" = "$(serial vhost) revoked" ]
}

@test "CERTFILE.ocsp is reloaded when replaced" {
    export LIBSTAPLE_DIR=$T/empty
    echo "reload_interval = 1" >"$LIBSTAPLE_CONF"
    mkdir "$T/empty" "$T/certs"
    cp "$PKI/vhost.full.pem" "$T/certs/site.pem"
    bg python env LD_PRELOAD="$PRELOAD" python3 "$TOP/tests/lib/tls_server.py" \
        "$PORT" "$T/certs/site.pem" "$PKI/vhost.key"
    wait_port "$PORT"
    [ "$(staple "$PORT")" = "none" ]
    pki_ocsp "$PKI" vhost good issuer now "$T/certs/.new"
    mv "$T/certs/.new" "$T/certs/site.pem.ocsp"
    sleep 1.5
    [ "$(staple "$PORT")" = "$(serial vhost) good" ]
}
