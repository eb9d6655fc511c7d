#!/usr/bin/env bats
# Client role: s_client -status under the preload, no bypass through
# resumption, the program's own status callback, per-host policy from the
# config file, bad config files, and the verified-staple cache.
# (The full client x server x case x policy matrix is client-matrix.bats.)

load lib/common

setup() {
    setup_test
    PORT=$(free_port)
}

teardown() {
    kill_bg
}

# native CERT [STATUS_FILE]: s_server WITHOUT the preload, stapling
# STATUS_FILE itself (or nothing).
native() {
    local args=()
    [[ -z ${2:-} ]] || args=(-status_file "$2")
    bg native openssl s_server -www -accept "127.0.0.1:$PORT" -status_verbose \
        -cert "$PKI/$1.pem" -key "$PKI/$1.key" -cert_chain "$PKI/int.pem" "${args[@]}"
    wait_port "$PORT"
}

# client NAME [ARGS...]: openssl s_client under the preload for SNI NAME,
# verifying the server against the test root (-verify_return_error: the
# program authenticates the server, so libstaple enforces); output in
# $T/client.out, exit status returned (0: handshake succeeded).
client() {
    local name=$1
    shift
    printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 env LD_PRELOAD="$PRELOAD" \
        openssl s_client -connect "127.0.0.1:$PORT" -servername "$name" \
        -CAfile "$PKI/ca.pem" -verify_return_error -ign_eof "$@" \
        >"$T/client.out" 2>&1
}

@test "s_client -status under the preload still prints a good staple" {
    pki_ocsp "$PKI" must good issuer now "$T/good.der"
    native must "$T/good.der"
    client must.test -status
    grep -q "Cert Status: good" "$T/client.out"
    grep -q "Serial Number: $(serial must)" "$T/client.out"
}

@test "s_client -status under the preload is rejected on a revoked staple" {
    pki_ocsp "$PKI" rsa revoked issuer now "$T/revoked.der"
    native rsa "$T/revoked.der"
    run client rsa.test -status
    [ "$status" -ne 0 ]
    grep -q "invalid status response" "$T/client.out"
    [ "$(log_count "error: rsa.test: rejected /CN=rsa.test: revoked (policy must-staple)")" -eq 1 ]
}

@test "the rejection sends bad_certificate_status_response to the server" {
    native must
    run client must.test
    [ "$status" -ne 0 ]
    sleep 0.2
    grep -q "bad certificate status response" "$T/native.err"
    [ "$(log_count "rejected /CN=must.test \[Must-Staple\]: missing: no staple")" -eq 1 ]
}

# resume TLSFLAG: a session saved WITHOUT the preload is not resumed under
# it: the handshake is a full one, and is rejected (no staple, Must-Staple).
resume_unverified() {
    native must
    printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client \
        -connect "127.0.0.1:$PORT" -servername must.test -CAfile "$PKI/ca.pem" \
        -ign_eof "$1" -sess_out "$T/sess.pem" >"$T/plain.out" 2>&1
    grep -q '^New, ' "$T/plain.out"
    # the saved session does resume without the preload ...
    printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client \
        -connect "127.0.0.1:$PORT" -servername must.test -CAfile "$PKI/ca.pem" \
        -ign_eof "$1" -sess_in "$T/sess.pem" >"$T/plain2.out" 2>&1
    grep -q '^Reused, ' "$T/plain2.out"
    # ... and not with it
    run client must.test "$1" -sess_in "$T/sess.pem"
    [ "$status" -ne 0 ]
    lacks '^Reused, ' "$T/client.out"
    [ "$(log_count "rejected /CN=must.test \[Must-Staple\]: missing")" -eq 1 ]
}

@test "resumption: a session without an accepted staple does not pass (TLS 1.3)" {
    resume_unverified -tls1_3
}

@test "resumption: a session without an accepted staple does not pass (TLS 1.2)" {
    resume_unverified -tls1_2
}

# resume_accepted TLSVERSION NAME: a session accepted under the preload
# resumes in the same process (Python copies session objects; the verdict
# is kept per server certificate, which survives that).
resume_accepted() {
    pki_ocsp "$PKI" must good issuer now "$T/good.der"
    native must "$T/good.der"
    run env LD_PRELOAD="$PRELOAD" python3 -c "
import socket, ssl
ctx = ssl.create_default_context(cafile='$PKI/ca.pem')
ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.$1
session = None
for _ in range(2):
    with ctx.wrap_socket(socket.create_connection(('127.0.0.1', $PORT)),
                         server_hostname='must.test', session=session) as s:
        s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n')
        while s.recv(4096):
            pass
        print(s.version(), 'reused' if s.session_reused else 'new')
        session = s.session
"
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf '%s new\n%s reused' "$2" "$2")" ]
}

@test "resumption: a session accepted under the preload resumes (TLS 1.3)" {
    resume_accepted TLSv1_3 TLSv1.3
}

@test "resumption: a session accepted under the preload resumes (TLS 1.2)" {
    resume_accepted TLSv1_2 TLSv1.2
}

# own_callback STATUS VERDICT: tests/lib/statuscb (a client with its own
# status callback returning VERDICT) under the preload against a server
# stapling a STATUS response for `must`.
own_callback() {
    pki_ocsp "$PKI" must "$1" issuer now "$T/staple.der"
    native must "$T/staple.der"
    run env LD_PRELOAD="$PRELOAD" "$TOP/tests/.work/statuscb" must.test "$PORT" "$PKI/ca.pem" "$2"
}

@test "the program's own status callback runs after libstaple accepts" {
    own_callback good 1
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'get_status_cb returns own\nown callback ran\nhandshake succeeded')" ]
}

@test "the program's own callback's rejection stands after libstaple accepts" {
    own_callback good 0
    [ "$status" -eq 1 ]
    [ "$output" = "$(printf 'get_status_cb returns own\nown callback ran\nhandshake failed')" ]
}

@test "the program's own callback does not run when libstaple rejects" {
    own_callback revoked 1
    [ "$status" -eq 1 ]
    [ "$output" = "$(printf 'get_status_cb returns own\nhandshake failed')" ]
}

@test "per-host policy from the config file, exact and wildcard" {
    native must
    cat >"$LIBSTAPLE_CONF" <<EOF
policy = require
[host must.test]
policy = off
[host *.internal.example]
policy = request
[host *.example]
policy = require
EOF
    client must.test                      # off: accepted
    client a.b.internal.example           # request: accepted, logged
    [ "$(log_count "a.b.internal.example: accepted .*missing.*(policy request)")" -eq 1 ]
    run client other.test                 # default require: rejected
    [ "$status" -ne 0 ]
    run client x.example                  # *.example: require
    [ "$status" -ne 0 ]
    [ "$(log_count "x.example: rejected .*(policy require)")" -eq 1 ]
}

@test "LIBSTAPLE_POLICY overrides the file's default; [host] sections still apply" {
    native rsa
    printf 'policy = off\n[host keep.test]\npolicy = off\n' >"$LIBSTAPLE_CONF"
    export LIBSTAPLE_POLICY=require
    run client rsa.test
    [ "$status" -ne 0 ]
    client keep.test
}

@test "policy off: no staple is requested" {
    # The server is libstaple's own server role, which logs each staple it
    # sends; the server only staples when the client asked.
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
    LIBSTAPLE_LOG=$T/server.log LIBSTAPLE_LOG_LEVEL=debug s_server "$PORT" rsa
    LIBSTAPLE_POLICY=off client rsa.test
    [ "$(grep -c "stapling rsa.der" "$T/server.log")" -eq 0 ]
    client rsa.test
    [ "$(grep -c "stapling rsa.der" "$T/server.log")" -eq 1 ]
}

@test "a bad policy value is an error and never weakens enforcement" {
    native must
    printf 'policy = off\n[host must.test]\npolicy = bogus\n' >"$LIBSTAPLE_CONF"
    run client must.test
    [ "$status" -ne 0 ]
    [ "$(log_count "error: $LIBSTAPLE_CONF:3: bad policy 'bogus'.*keeping must-staple")" -eq 1 ]
    LIBSTAPLE_POLICY=sloppy run client other.test
    [ "$status" -ne 0 ]
    [ "$(log_count "error: LIBSTAPLE_POLICY: bad policy 'sloppy'.*keeping must-staple")" -eq 1 ]
}

# pinned ARGS...: s_client under the preload trusting the must leaf itself
# (-partial_chain), against a server that sends no chain: neither the
# verified chain nor the server's holds the issuer.
pinned() {
    printf '' | timeout 10 env LD_PRELOAD="$PRELOAD" openssl s_client \
        -connect "127.0.0.1:$PORT" -servername must.test -CAfile "$PKI/must.pem" \
        -partial_chain -verify_return_error "$@" >"$T/client.out" 2>&1
}

@test "issuers: the issuer a chain lacks comes from the configured file" {
    pki_ocsp "$PKI" must good issuer now "$T/good.der"
    bg native openssl s_server -www -accept "127.0.0.1:$PORT" \
        -cert "$PKI/must.pem" -key "$PKI/must.key" -status_file "$T/good.der"
    wait_port "$PORT"
    run pinned
    [ "$status" -ne 0 ]
    [ "$(log_count "rejected /CN=must.test \[Must-Staple\]: invalid: the certificate's issuer is unknown")" -eq 1 ]
    echo "issuers = $PKI/int.pem" >"$LIBSTAPLE_CONF"
    pinned
    [ "$(log_count "rejected")" -eq 1 ]
    # the older name of the key still works
    echo "ca_file = $PKI/int.pem" >"$LIBSTAPLE_CONF"
    pinned
    [ "$(log_count "rejected")" -eq 1 ]
}

@test "issuers identify an issuer, they vouch for no signer: another CA's staple stays invalid" {
    pki_ocsp "$PKI" must good rogue now "$T/rogue.der"
    native must "$T/rogue.der"
    echo "issuers = $PKI/rogue.pem" >"$LIBSTAPLE_CONF"
    run client must.test
    [ "$status" -ne 0 ]
    [ "$(log_count "rejected /CN=must.test \[Must-Staple\]: invalid: signer not authorised")" -eq 1 ]
}

@test "repeated connections with the same staple skip the signature check" {
    pki_ocsp "$PKI" must good issuer now "$T/good.der"
    native must "$T/good.der"
    export LIBSTAPLE_LOG_LEVEL=debug
    run env LD_PRELOAD="$PRELOAD" python3 -c "
import socket, ssl
ctx = ssl.create_default_context(cafile='$PKI/ca.pem')
for _ in range(3):
    with ctx.wrap_socket(socket.create_connection(('127.0.0.1', $PORT)),
                         server_hostname='must.test') as s:
        print(s.version())
"
    [ "$status" -eq 0 ]
    [ "$(log_count "staple signature verified")" -eq 1 ]
    [ "$(log_count "staple verdict from cache")" -eq 2 ]
    [ "$(log_count "accepted /CN=must.test \[Must-Staple\]: good")" -eq 3 ]
}

# dane USAGE SELECTOR MTYPE CERT: s_client authenticating the server by one
# TLSA record (DANE) made from CERT, verifying (-verify_return_error).
dane() {
    local data
    if [[ $2 == 1 ]]; then   # selector 1: the key; 0: the whole certificate
        data=$(openssl x509 -in "$PKI/$4.pem" -noout -pubkey | openssl pkey -pubin -outform DER |
            openssl dgst -sha256 -binary | od -An -tx1 | tr -d ' \n')
    else
        data=$(openssl x509 -in "$PKI/$4.pem" -outform DER | openssl dgst -sha256 -binary |
            od -An -tx1 | tr -d ' \n')
    fi
    printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 env LD_PRELOAD="$PRELOAD" openssl s_client \
        -connect "127.0.0.1:$PORT" -servername must.test -CAfile "$PKI/ca.pem" \
        -dane_tlsa_domain must.test -dane_tlsa_rrdata "$1 $2 1 $data" \
        -verify_return_error -ign_eof >"$T/client.out" 2>&1
}

@test "DANE-EE and DANE-TA: not enforced (no PKIX revocation there); PKIX-EE: enforced" {
    native must
    # DANE-EE (3 1 1) on the leaf's key: the record vouches, revocation is not part of it
    dane 3 1 1 must
    grep -q "^DANE TLSA 3 1 1 .* matched EE certificate" "$T/client.out"
    [ "$(log_count "not enforced: /CN=must.test \[Must-Staple\]: missing: no staple (policy must-staple; DANE-authenticated (TLSA usage 3))")" -eq 1 ]
    # DANE-TA (2 0 1) on the intermediate
    dane 2 0 1 int
    [ "$(log_count "DANE-authenticated (TLSA usage 2)")" -eq 1 ]
    # PKIX-EE (1 0 1): the PKI chain still decides, and the policy holds
    run dane 1 0 1 must
    [ "$status" -ne 0 ]
    [ "$(log_count "rejected /CN=must.test \[Must-Staple\]: missing: no staple (policy must-staple)")" -eq 1 ]
    [ "$(log_count rejected)" -eq 1 ]
}
