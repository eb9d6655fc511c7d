#!/usr/bin/env bats
# Server role, a hostile staple directory: a file swapped for a FIFO or a
# symbolic link between readdir() and open() (tests/lib/swap_readdir.c wins
# that race on purpose) is not read, and a process run by root takes no
# staples from a directory that others own or can write.

load lib/common

setup() {
    setup_test
    PORT=$(free_port)
    [[ -f $TOP/tests/.work/swap_readdir.so ]] || make -s -C "$TOP" tests/.work/swap_readdir.so
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/x.der"
}

teardown() {
    kill_bg
}

# swapped_server FROM: s_server, with FROM renamed over staples/x.der right
# after readdir() says x.der is a regular file.
swapped_server() {
    # the shim before libstaple (a sanitizer runtime, if any, first of all)
    bg s_server env LD_PRELOAD="${PRELOAD_BASE:+$PRELOAD_BASE }$TOP/tests/.work/swap_readdir.so $LIBSTAPLE" \
        SWAP_NAME=x.der SWAP_FROM="$1" SWAP_TO="$T/staples/x.der" \
        openssl s_server -www -accept "127.0.0.1:$PORT" -cert "$PKI/rsa.pem" \
        -key "$PKI/rsa.key" -cert_chain "$PKI/int.pem"
    wait_port "$PORT"
}

@test "a FIFO swapped in after readdir(): opened without blocking, refused as not a regular file" {
    mkfifo "$T/fifo"
    swapped_server "$T/fifo"
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    [ -p "$T/staples/x.der" ]                       # the swap did happen
    [ "$(log_count "$T/staples/x.der: not a regular file; skipped")" -eq 1 ]
    [ "$(log_count "x.der")" -eq 1 ]
}

@test "a symbolic link to a device swapped in after readdir(): not followed" {
    ln -s /dev/zero "$T/link"
    swapped_server "$T/link"
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    [ -L "$T/staples/x.der" ]
    [ "$(log_count "$T/staples/x.der: a symbolic link swapped in after the directory was read; skipped")" -eq 1 ]
    [ "$(log_count "larger than 1 MiB")" -eq 0 ]
}

@test "root: a staple directory writable by others is not used; one log line" {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    chmod 0777 "$T/staples"
    s_server "$PORT" rsa
    for _ in 1 2 3; do
        [ "$(staple "$PORT")" = "none" ]
    done
    [ "$(log_count "error: staple directory $T/staples: not used: a privileged process takes staples only from a directory owned by root and writable by root alone")" -eq 1 ]
    [ "$(wc -l <"$LIBSTAPLE_LOG")" -eq 1 ]
}

@test "root: a staple directory writable by its group, or owned by another user, is not used" {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    chmod 0775 "$T/staples"
    s_server "$PORT" rsa
    [ "$(staple "$PORT")" = "none" ]
    kill_bg
    chmod 0755 "$T/staples"
    chown 65534 "$T/staples"
    s_server "$PORT" rsa
    [ "$(staple "$PORT")" = "none" ]
    [ "$(log_count "staple directory $T/staples: not used")" -eq 2 ]
}

@test "root: a directory made safe again is used at the next check" {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    echo "reload_interval = 1" >"$LIBSTAPLE_CONF"
    chmod 0777 "$T/staples"
    s_server "$PORT" rsa
    [ "$(staple "$PORT")" = "none" ]
    chmod 0755 "$T/staples"
    staple_within 3 "$(serial rsa) good" "$PORT"
}

@test "not root: a directory writable by others is used (the rule is for privileged processes)" {
    [ "$(id -u)" -eq 0 ] || skip "needs root to become nobody"
    chmod 0777 "$T/staples"
    chmod 0644 "$T/staples"/*.der "$LIBSTAPLE_CONF"
    cp "$PKI/rsa.key" "$PKI/rsa.pem" "$PKI/int.pem" "$T/" && chmod 0644 "$T"/*.pem "$T/rsa.key"
    nobody_can_reach
    bg nobody env LD_PRELOAD="$PRELOAD" setpriv --reuid=65534 --regid=65534 \
        --clear-groups openssl s_server -www -accept "127.0.0.1:$PORT" \
        -cert "$T/rsa.pem" -key "$T/rsa.key" -cert_chain "$T/int.pem"
    wait_port "$PORT"
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    [ "$(log_count "not used")" -eq 0 ]
}
