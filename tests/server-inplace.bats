#!/usr/bin/env bats
# Server role, staples changed in place (the same inode): copied over,
# rewritten by a shell redirection, or caught half-written by a fetcher
# writing straight into the staple directory. Each is served as it is now
# within the reload interval (here 1 s; README.md, "What is noticed"), by
# s_server and by every nginx worker.

load lib/common

setup() {
    setup_test
    PORT=$(free_port)
    echo "reload_interval = 1" >"$LIBSTAPLE_CONF"
    pki_ocsp "$PKI" rsa good issuer now "$T/good.der"
    pki_ocsp "$PKI" rsa revoked issuer now "$T/revoked.der"
}

teardown() {
    kill_bg
}

# server KIND: s_server, or nginx with 2 workers, serving rsa. nginx's
# workers run as nobody: they get a log file they can write, on a path they
# can reach.
server() {
    case $1 in
        s_server) s_server "$PORT" rsa ;;
        nginx)
            nobody_can_reach
            nginx_conf 2 rsa && nginx_start ;;
    esac
}

# settled WANT: WANT within 3 s, then 6 handshakes in a row (every nginx
# worker has it, not just the first to answer).
settled() {
    staple_within 3 "$1" "$PORT"
    for _ in 1 2 3 4 5 6; do
        [ "$(staple "$PORT")" = "$1" ]
    done
}

# inode FILE
inode() {
    stat -c %i "$1"
}

copied_over() {
    cp "$T/good.der" "$T/staples/rsa.der"
    server "$1"
    settled "$(serial rsa) good"
    local ino
    ino=$(inode "$T/staples/rsa.der")
    cp "$T/revoked.der" "$T/staples/rsa.der"
    [ "$(inode "$T/staples/rsa.der")" = "$ino" ]     # in place indeed
    settled "$(serial rsa) revoked"
}

redirected_into() {
    cp "$T/good.der" "$T/staples/x.der"
    server "$1"
    settled "$(serial rsa) good"
    local ino
    ino=$(inode "$T/staples/x.der")
    cat "$T/revoked.der" >"$T/staples/x.der"
    [ "$(inode "$T/staples/x.der")" = "$ino" ]
    settled "$(serial rsa) revoked"
}

half_written() {
    local size
    size=$(wc -c <"$T/good.der")
    server "$1"
    [ "$(staple "$PORT")" = "none" ]
    # the first half, as a fetcher writing into the directory leaves it
    head -c $((size / 2)) "$T/good.der" >"$T/staples/rsa.der"
    # until both nginx workers have seen it (s_server: one process)
    for _ in $(seq 30); do
        (($(log_count "rsa.der: not a DER OCSP response; skipped") >= $2)) && break
        staple "$PORT" >/dev/null
        sleep 0.2
    done
    [ "$(log_count "rsa.der: not a DER OCSP response; skipped")" -eq "$2" ]
    [ "$(staple "$PORT")" = "none" ]
    # the rest
    tail -c +$((size / 2 + 1)) "$T/good.der" >>"$T/staples/rsa.der"
    cmp "$T/good.der" "$T/staples/rsa.der"
    settled "$(serial rsa) good"
}

@test "s_server: a staple copied over in place (cp new.der existing.der) is served" {
    copied_over s_server
}

@test "s_server: a staple rewritten in place (cat revoked.der > x.der) switches to revoked" {
    redirected_into s_server
}

@test "s_server: a staple caught half-written is served once complete" {
    half_written s_server 1
}

@test "nginx workers: a staple copied over in place is served" {
    copied_over nginx
}

@test "nginx workers: a staple rewritten in place switches to revoked" {
    redirected_into nginx
}

@test "nginx workers: a staple caught half-written is served once complete" {
    half_written nginx 2
}

@test "a garbage file is read again at each check, and logged once" {
    pki_garbage "$T/staples/garbage.der"
    server s_server
    for _ in 1 2 3 4; do
        [ "$(staple "$PORT")" = "none" ]
        sleep 0.6
    done
    [ "$(log_count "garbage.der: not a DER OCSP response; skipped")" -eq 1 ]
    # the same file, now a response: served
    cat "$T/good.der" >"$T/staples/garbage.der"
    settled "$(serial rsa) good"
}
