#!/usr/bin/env bats
# Server role: an unmodified `openssl s_server` with no status options staples
# from the staple directory under the preload.

load lib/common

setup() {
    setup_test
    PORT=$(free_port)
}

teardown() {
    kill_bg
}

@test "s_server staples the leaf's good response in TLS 1.3 and TLS 1.2" {
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/a-name-that-does-not-matter"
    s_server "$PORT" rsa
    [ "$(staple "$PORT" -tls1_3)" = "$(serial rsa) good" ]
    [ "$(staple "$PORT" -tls1_2)" = "$(serial rsa) good" ]
}

@test "without the preload, the same s_server staples nothing" {
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
    bg plain openssl s_server -www -accept "127.0.0.1:$PORT" \
        -cert "$PKI/rsa.pem" -key "$PKI/rsa.key" -cert_chain "$PKI/int.pem"
    wait_port "$PORT"
    [ "$(staple "$PORT")" = "none" ]
}

@test "a revoked response is served as it is" {
    pki_ocsp "$PKI" rsa revoked issuer now "$T/staples/rsa.der"
    s_server "$PORT" rsa
    [ "$(staple "$PORT")" = "$(serial rsa) revoked" ]
}

@test "an unknown response is served as it is" {
    pki_ocsp "$PKI" rsa unknown issuer now "$T/staples/rsa.der"
    s_server "$PORT" rsa
    [ "$(staple "$PORT")" = "$(serial rsa) unknown" ]
}

@test "ECDSA certificate, delegated responder: the right staple" {
    pki_ocsp "$PKI" ecdsa good responder now "$T/staples/ecdsa.der"
    pki_ocsp "$PKI" rsa revoked issuer now "$T/staples/rsa.der"
    s_server "$PORT" ecdsa
    [ "$(staple "$PORT" -tls1_3)" = "$(serial ecdsa) good" ]
    [ "$(staple "$PORT" -tls1_2)" = "$(serial ecdsa) good" ]
}

@test "one file with SingleResponses for two certificates serves both" {
    pki_multi "$PKI" "$T/staples/both.der" rsa vhost
    s_server "$PORT" vhost
    [ "$(staple "$PORT")" = "$(serial rsa) good, $(serial vhost) good" ]
}

@test "of two current staples for one certificate, the newer is served" {
    faketime -f '-2h' bash -c "source '$TOP/tests/lib/pki.sh' &&
        pki_ocsp '$PKI' rsa revoked issuer now '$T/staples/older.der'"
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/newer.der"
    s_server "$PORT" rsa
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
}

@test "curl --cert-status accepts the stapled handshake, and fails without it" {
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
    s_server "$PORT" rsa
    run curl -sS --cacert "$PKI/ca.pem" --cert-status \
        --resolve "rsa.test:$PORT:127.0.0.1" "https://rsa.test:$PORT/"
    [ "$status" -eq 0 ]
    [[ $output == *"s_server"* ]]
    rm "$T/staples/rsa.der"
    PORT2=$(free_port)
    s_server "$PORT2" rsa
    run curl -sS --cacert "$PKI/ca.pem" --cert-status \
        --resolve "rsa.test:$PORT2:127.0.0.1" "https://rsa.test:$PORT2/"
    [ "$status" -ne 0 ]
    [[ $output == *"OCSP"* ]]
}

@test "gnutls-cli enforces Must-Staple and accepts the stapled server" {
    pki_ocsp "$PKI" must good issuer now "$T/staples/must.der"
    s_server "$PORT" must
    run timeout 10 gnutls-cli --x509cafile "$PKI/ca.pem" --port "$PORT" \
        localhost </dev/null
    [ "$status" -eq 0 ]
    [[ $output == *"Handshake was completed"* ]]
}

@test "gnutls-cli refuses the same Must-Staple server without the preload" {
    bg plain openssl s_server -www -accept "127.0.0.1:$PORT" \
        -cert "$PKI/must.pem" -key "$PKI/must.key" -cert_chain "$PKI/int.pem"
    wait_port "$PORT"
    run timeout 10 gnutls-cli --x509cafile "$PKI/ca.pem" --port "$PORT" \
        localhost </dev/null
    [ "$status" -ne 0 ]
    [[ $output == *"OCSP"* ]]
}
