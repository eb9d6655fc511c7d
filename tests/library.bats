#!/usr/bin/env bats
# The library itself: what it links and exports, and what it does in a
# process that never uses TLS (nothing at all).

load lib/common

setup() {
    setup_test
}

@test "libstaple.so has no load-time dependency on libssl or libcrypto" {
    run readelf -d "$LIBSTAPLE"
    [ "$status" -eq 0 ]
    [[ $output == *"NEEDED"* ]]
    [[ $output != *"libssl"* ]]
    [[ $output != *"libcrypto"* ]]
}

@test "libstaple.so exports only the OpenSSL entry points it interposes" {
    run bash -c "nm -D --defined-only '$LIBSTAPLE' | awk '{ print \$3 }' | sort"
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf '%s\n' SSL_CTX_callback_ctrl SSL_CTX_ctrl \
        SSL_CTX_new SSL_CTX_new_ex SSL_CTX_set_cert_verify_callback \
        SSL_CTX_use_cert_and_key SSL_CTX_use_certificate \
        SSL_CTX_use_certificate_chain_file SSL_CTX_use_certificate_file \
        SSL_ctrl SSL_new SSL_set_connect_state SSL_set_session)" ]
}

@test "a program that never uses TLS: same output, silent, no libssl mapped" {
    run env LD_PRELOAD="$PRELOAD" LIBSTAPLE_LOG=stderr LIBSTAPLE_LOG_LEVEL=debug \
        bash -c 'echo hello; grep -c libssl /proc/self/maps'
    [ "$status" -eq 1 ]   # grep found no libssl
    [ "$output" = "$(printf 'hello\n0')" ]
}

@test "a program that never uses TLS opens no file of libstaple's" {
    # The same command with and without the preload opens the same files,
    # except libstaple.so itself.
    unset LIBSTAPLE_CONF
    strace -f -qq -e trace=%file -o "$T/plain" \
        env LD_PRELOAD="$PRELOAD_BASE" /usr/bin/sort /dev/null
    strace -f -qq -e trace=%file -o "$T/preload" \
        env LD_PRELOAD="$PRELOAD" /usr/bin/sort /dev/null
    # libstaple.so was loaded ...
    grep -q "\"$LIBSTAPLE\"" "$T/preload"
    # ... and apart from shared libraries being loaded, nothing else was opened
    grep -o '"[^"]*"' "$T/plain" | grep -v -e LD_PRELOAD= -E -e '\.so(\.[0-9]+)*"$' |
        sort -u >"$T/plain.files"
    grep -o '"[^"]*"' "$T/preload" | grep -v -e LD_PRELOAD= -E -e '\.so(\.[0-9]+)*"$' |
        sort -u >"$T/preload.files"
    run comm -13 "$T/plain.files" "$T/preload.files"
    [ "$output" = "" ]
}

@test "curl --version (links libssl, makes no connection) stays silent" {
    [[ -z $PRELOAD_BASE ]] || skip "curl hangs in setlocale under libasan alone"
    unset LIBSTAPLE_LOG
    run env LD_PRELOAD="$PRELOAD" curl --version
    [ "$status" -eq 0 ]
    [ "$output" = "$(curl --version)" ]
    strace -f -qq -e trace=%file -o "$T/trace" env LD_PRELOAD="$PRELOAD" \
        curl --version >/dev/null
    run grep -e libstaple.conf -e /var/lib/libstaple "$T/trace"
    [ "$output" = "" ]
}

@test "a client-only TLS program does not read the staple directory" {
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
    strace -f -qq -e trace=%file -o "$T/trace" env LD_PRELOAD="$PRELOAD" \
        openssl s_client -connect 127.0.0.1:1 </dev/null >/dev/null 2>&1 || true
    run grep -c "$T/staples" "$T/trace"
    [ "$output" = "0" ]
    # but it did read the config file: it used TLS
    [ "$(grep -c "$LIBSTAPLE_CONF" "$T/trace")" -ge 1 ]
}

@test "a missing named config file is an error that is logged; the host runs" {
    export LIBSTAPLE_CONF=$T/missing.conf
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
    PORT=$(free_port)
    s_server "$PORT" rsa
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    [ "$(log_count "error: $T/missing.conf: No such file or directory")" -eq 1 ]
    kill_bg
}

@test "config file: unknown keys and bad values are logged with file and line" {
    cat >"$LIBSTAPLE_CONF" <<EOF
# a comment
reload_intervall = 3
reload_interval = soon
log_level = loud
policy = maybe
[host a.example]
dir = /tmp
[nonsense]
EOF
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
    PORT=$(free_port)
    s_server "$PORT" rsa
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    kill_bg
    [ "$(log_count "$LIBSTAPLE_CONF:2: unknown key 'reload_intervall'")" -eq 1 ]
    [ "$(log_count "$LIBSTAPLE_CONF:3: bad reload_interval 'soon'")" -eq 1 ]
    [ "$(log_count "$LIBSTAPLE_CONF:4: bad log_level 'loud'")" -eq 1 ]
    [ "$(log_count "$LIBSTAPLE_CONF:5: bad policy 'maybe'.*keeping must-staple")" -eq 1 ]
    [ "$(log_count "$LIBSTAPLE_CONF:7: 'dir' is not allowed in a \[host\] section")" -eq 1 ]
    [ "$(log_count "$LIBSTAPLE_CONF:8: unknown section \[nonsense\]")" -eq 1 ]
}

@test "dir in the config file is used; LIBSTAPLE_DIR overrides it" {
    mkdir "$T/from-file" "$T/from-env"
    echo "dir = $T/from-file" >"$LIBSTAPLE_CONF"
    pki_ocsp "$PKI" rsa good issuer now "$T/from-file/rsa.der"
    pki_ocsp "$PKI" rsa revoked issuer now "$T/from-env/rsa.der"
    unset LIBSTAPLE_DIR
    PORT=$(free_port)
    s_server "$PORT" rsa
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    kill_bg
    export LIBSTAPLE_DIR=$T/from-env
    s_server "$PORT" rsa
    [ "$(staple "$PORT")" = "$(serial rsa) revoked" ]
    kill_bg
}
