#!/usr/bin/env bats
# Server role, bad input: nothing is stapled, the server keeps serving, and
# the condition is logged once, not once per handshake.

load lib/common

setup() {
    setup_test
    PORT=$(free_port)
}

teardown() {
    kill_bg
}

# three_handshakes_without_staple CERT: three handshakes all complete, none
# stapled, and the server is still running.
three_handshakes_without_staple() {
    s_server "$PORT" "$1"
    for tls in -tls1_3 -tls1_2 -tls1_3; do
        [ "$(staple "$PORT" "$tls")" = "none" ]
    done
    kill -0 "$BG_PID"
}

@test "an expired staple is not served; one log line" {
    pki_ocsp "$PKI" rsa good issuer expired "$T/staples/rsa.der"
    three_handshakes_without_staple rsa
    [ "$(log_count "serial $(serial rsa)): not stapling rsa.der: expired at")" -eq 1 ]
    [ "$(wc -l <"$LIBSTAPLE_LOG")" -eq 1 ]
}

@test "a staple from the future is not served; one log line" {
    pki_ocsp "$PKI" rsa good issuer future "$T/staples/rsa.der"
    three_handshakes_without_staple rsa
    [ "$(log_count "not stapling rsa.der: not valid before")" -eq 1 ]
    [ "$(wc -l <"$LIBSTAPLE_LOG")" -eq 1 ]
}

@test "a response without nextUpdate is served, until it is older than max_age" {
    pki_ocsp "$PKI" rsa good issuer nonext "$T/staples/fresh.der"
    s_server "$PORT" rsa
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    kill_bg
    rm "$T/staples/fresh.der"
    pki_ocsp "$PKI" rsa good issuer old-nonext "$T/staples/old.der"
    three_handshakes_without_staple rsa
    [ "$(log_count "not stapling old.der: no nextUpdate and older than max_age")" -eq 1 ]
}

@test "another certificate's staple is not served; one log line" {
    export LIBSTAPLE_LOG_LEVEL=info
    pki_ocsp "$PKI" vhost good issuer now "$T/staples/vhost.der"
    three_handshakes_without_staple rsa
    [ "$(log_count "serial $(serial rsa)): no staple in $T/staples")" -eq 1 ]
}

@test "a Must-Staple certificate without a staple is a warning, once" {
    three_handshakes_without_staple must
    [ "$(log_count "warn: .*serial $(serial must)): no staple in")" -eq 1 ]
}

@test "a certificate without any staple is silent at the default level" {
    three_handshakes_without_staple rsa
    [ ! -s "$LIBSTAPLE_LOG" ]
}

@test "a garbage file is skipped with one log line" {
    pki_garbage "$T/staples/garbage.der"
    three_handshakes_without_staple rsa
    [ "$(log_count "$T/staples/garbage.der: not a DER OCSP response; skipped")" -eq 1 ]
    [ "$(wc -l <"$LIBSTAPLE_LOG")" -eq 1 ]
}

@test "a truncated response is skipped with one log line" {
    pki_ocsp "$PKI" rsa good issuer now "$T/whole.der"
    pki_truncate "$T/whole.der" "$T/staples/rsa.der"
    three_handshakes_without_staple rsa
    [ "$(log_count "$T/staples/rsa.der: not a DER OCSP response; skipped")" -eq 1 ]
}

@test "a non-successful response (tryLater) is skipped with one log line" {
    pki_error_response "$T/staples/trylater.der"
    three_handshakes_without_staple rsa
    [ "$(log_count "trylater.der: response status is not successful; skipped")" -eq 1 ]
}

@test "a bad file beside a good one does not stop the good one" {
    pki_garbage "$T/staples/a-garbage.der"
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/b-good.der"
    pki_ocsp "$PKI" rsa good issuer expired "$T/staples/c-expired.der"
    s_server "$PORT" rsa
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
}

@test "a response for the same serial from another issuer is not served" {
    # Its CertID has the leaf's serial but the rogue CA's name and key hashes.
    openssl ocsp -issuer "$PKI/rogue.pem" -serial "0x$(serial rsa)" \
        -no_nonce -reqout "$T/req.der" 2>/dev/null
    : >"$T/index.txt"
    openssl ocsp -index "$T/index.txt" -CA "$PKI/rogue.pem" \
        -rsigner "$PKI/rogue.pem" -rkey "$PKI/rogue.key" -ndays 1 \
        -reqin "$T/req.der" -respout "$T/staples/rogue.der" 2>/dev/null
    openssl ocsp -respin "$T/staples/rogue.der" -resp_text -noverify >"$T/text"
    grep -q "Serial Number: $(serial rsa)" "$T/text"
    s_server "$PORT" rsa
    [ "$(staple "$PORT")" = "none" ]
}

@test "a missing staple directory: the server serves, one log line" {
    export LIBSTAPLE_DIR=$T/no-such-dir
    three_handshakes_without_staple rsa
    [ "$(log_count "staple directory $T/no-such-dir: No such file or directory")" -eq 1 ]
    [ "$(wc -l <"$LIBSTAPLE_LOG")" -eq 1 ]
}

@test "a FIFO, a directory and a dangling link in the staple directory are skipped" {
    mkfifo "$T/staples/fifo"
    mkdir "$T/staples/subdir"
    ln -s "$T/nowhere" "$T/staples/dangling"
    ln -s loop1 "$T/staples/loop2"
    ln -s loop2 "$T/staples/loop1"
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
    s_server "$PORT" rsa
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    [ "$(log_count "fifo: not a regular file; skipped")" -eq 1 ]
    [ "$(log_count "subdir: not a regular file; skipped")" -eq 1 ]
    [ "$(log_count "loop1: Too many levels of symbolic links; skipped")" -eq 1 ]
    [ "$(log_count "dangling: broken symbolic link; skipped")" -eq 1 ]
}
