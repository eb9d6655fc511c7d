#!/usr/bin/env bats
# Server role, hot reload: staples added, replaced by rename and removed are
# picked up within the reload interval, without a restart, and handshakes in
# between do no file I/O.

load lib/common

setup() {
    setup_test
    PORT=$(free_port)
}

teardown() {
    kill_bg
}

# replace SRC DEST: the atomic way, a temporary name and a rename.
replace() {
    cp "$1" "$(dirname "$2")/.tmp.$$"
    mv "$(dirname "$2")/.tmp.$$" "$2"
}

@test "a staple replaced by rename is served within the default 5 s interval" {
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
    pki_ocsp "$PKI" rsa revoked issuer now "$T/revoked.der"
    s_server "$PORT" rsa
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    replace "$T/revoked.der" "$T/staples/rsa.der"
    staple_within 6 "$(serial rsa) revoked" "$PORT"
}

@test "with reload_interval = 1: replaced, removed and added staples" {
    echo "reload_interval = 1" >"$LIBSTAPLE_CONF"
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
    pki_ocsp "$PKI" rsa revoked issuer now "$T/revoked.der"
    s_server "$PORT" rsa
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]

    replace "$T/revoked.der" "$T/staples/rsa.der"
    staple_within 2 "$(serial rsa) revoked" "$PORT"

    rm "$T/staples/rsa.der"
    staple_within 2 "none" "$PORT"

    pki_ocsp "$PKI" rsa good issuer now "$T/new.der"
    replace "$T/new.der" "$T/staples/added.der"
    staple_within 2 "$(serial rsa) good" "$PORT"
}

@test "a staple directory created after the server started is picked up" {
    echo "reload_interval = 1" >"$LIBSTAPLE_CONF"
    export LIBSTAPLE_DIR=$T/later
    s_server "$PORT" rsa
    [ "$(staple "$PORT")" = "none" ]
    mkdir "$T/later.tmp"
    pki_ocsp "$PKI" rsa good issuer now "$T/later.tmp/rsa.der"
    mv "$T/later.tmp" "$T/later"
    staple_within 2 "$(serial rsa) good" "$PORT"
}

@test "a staple directory replaced wholesale is followed" {
    echo "reload_interval = 1" >"$LIBSTAPLE_CONF"
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
    s_server "$PORT" rsa
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    mkdir "$T/new"
    pki_ocsp "$PKI" rsa revoked issuer now "$T/new/rsa.der"
    mv "$T/staples" "$T/old"
    mv "$T/new" "$T/staples"
    staple_within 2 "$(serial rsa) revoked" "$PORT"
}

@test "handshakes within the interval touch no file" {
    command -v strace >/dev/null
    echo "reload_interval = 300" >"$LIBSTAPLE_CONF"
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
    s_server "$PORT" rsa
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    strace -f -qq -e trace=%file,getdents64,accept,accept4 -o "$T/strace" \
        -p "$BG_PID" &
    local tracer=$!
    # attached once it has written its output file (up to 5 s on a busy box)
    for _ in $(seq 50); do [[ -e $T/strace ]] && break; sleep 0.1; done
    sleep 0.5
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    done
    kill "$tracer"
    wait "$tracer" || true
    # the trace saw the 10 connections, and no file system call at all
    [ "$(grep -c 'accept' "$T/strace")" -ge 10 ]
    run grep -v -e 'accept' -e '+++ ' -e '--- ' "$T/strace"
    [ "$output" = "" ]
}
