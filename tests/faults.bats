#!/usr/bin/env bats
# Concurrency and faults: servers under load while staples change, fork-heavy
# servers, nginx reloads, descriptors and memory, and hostile staple
# directories (a 100 MB file, vanished, a symlink loop, unreadable). The host
# keeps serving in every case. (Missing, FIFO, symlink loops inside and
# replaced wholesale are in server-bad-staples.bats and server-reload.bats.)

load lib/common

setup() {
    setup_test
    PORT=$(free_port)
}

teardown() {
    kill_bg
}

# fds PID...: how many descriptors the processes hold together.
fds() {
    local n=0 pid
    for pid in "$@"; do
        n=$((n + $(ls "/proc/$pid/fd" | wc -l)))
    done
    echo "$n"
}

# rss PID: resident set size in kB.
rss() {
    awk '/VmRSS/ { print $2 }' "/proc/$1/status"
}

# replacer: swap good and revoked staples for rsa in and out by rename,
# every 100 ms, until killed.
replacer() {
    pki_ocsp "$PKI" rsa good issuer now "$T/good.der"
    pki_ocsp "$PKI" rsa revoked issuer now "$T/revoked.der"
    cp "$T/good.der" "$T/staples/rsa.der"
    bg replacer bash -c "while :; do
        for f in good revoked; do
            cp '$T/'\$f.der '$T/staples/.tmp' && mv '$T/staples/.tmp' '$T/staples/rsa.der'
            sleep 0.1
        done
    done"
}

# hammer N COUNT PORT [ARGS]: N parallel clients doing COUNT handshakes each;
# what each saw lands in $T/seen.*.
hammer() {
    local n=$1 count=$2 port=$3 clients=() i
    shift 3
    rm -f "$T"/seen.*
    for ((i = 0; i < n; i++)); do
        (for ((k = 0; k < count; k++)); do staple "$port" "$@"; done >"$T/seen.$i") &
        clients+=($!)
    done
    wait "${clients[@]}"
}

# only_rsa_staples TOTAL: every handshake stapled rsa's own response.
only_rsa_staples() {
    [ "$(cat "$T"/seen.* | wc -l)" -eq "$1" ]
    run grep -h -v -x -e "$(serial rsa) good" -e "$(serial rsa) revoked" "$T"/seen.*
    [ "$output" = "" ]
}

@test "nginx, 4 workers, 8 parallel clients, staples replaced every 100 ms: right staples, no fd or memory growth" {
    echo "reload_interval = 1" >"$LIBSTAPLE_CONF"
    replacer
    nginx_conf 4 rsa
    nginx_start
    local master=$BG_PID
    mapfile -t workers < <(pgrep -P "$master")
    [ "${#workers[@]}" -eq 4 ]
    hammer 8 5 "$PORT"    # warm up: every worker has loaded and reloaded
    local fd0 rss0=0 rss1=0 w
    fd0=$(fds "$master" "${workers[@]}")
    for w in "${workers[@]}"; do rss0=$((rss0 + $(rss "$w"))); done
    hammer 8 25 "$PORT"
    only_rsa_staples 200
    grep -q -x "$(serial rsa) revoked" "$T"/seen.*
    grep -q -x "$(serial rsa) good" "$T"/seen.*
    [ "$(fds "$master" "${workers[@]}")" -eq "$fd0" ]
    for w in "${workers[@]}"; do rss1=$((rss1 + $(rss "$w"))); done
    echo "workers' RSS: $rss0 kB before, $rss1 kB after 200 handshakes" >&2
    # (AddressSanitizer's quarantine holds freed memory on purpose: the
    # memory check means something only without it)
    [[ -n $PRELOAD_BASE ]] || [ "$rss1" -lt $((rss0 + 2048)) ]
    [ "$(pgrep -c -P "$master")" -eq 4 ]   # no worker died
}

@test "nginx reload (SIGHUP) picks up a changed staple directory at once" {
    echo "reload_interval = 300" >"$LIBSTAPLE_CONF"   # only the reload can do it
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
    pki_ocsp "$PKI" rsa revoked issuer now "$T/revoked.der"
    nginx_conf 2 rsa
    nginx_start
    local master=$BG_PID old new
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    mv "$T/revoked.der" "$T/staples/rsa.der"
    sleep 1
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]   # the interval has not passed
    old=$(pgrep -P "$master" | sort)
    kill -HUP "$master"
    for _ in $(seq 50); do   # wait for the new workers to replace the old
        new=$(pgrep -P "$master" | sort)
        [[ -n $new && -z $(comm -12 <(echo "$old") <(echo "$new")) ]] && break
        sleep 0.1
    done
    for _ in 1 2 3 4; do
        [ "$(staple "$PORT")" = "$(serial rsa) revoked" ]
    done
}

@test "a fork-per-connection server: every child staples right, descriptors stay flat" {
    echo "reload_interval = 1" >"$LIBSTAPLE_CONF"
    replacer
    bg python env LD_PRELOAD="$PRELOAD" python3 "$TOP/tests/lib/tls_server.py" \
        "$PORT" "$PKI/rsa.full.pem" "$PKI/rsa.key" --fork
    local server=$BG_PID fd0
    wait_port "$PORT"
    hammer 4 5 "$PORT"
    fd0=$(fds "$server")
    hammer 4 15 "$PORT"
    only_rsa_staples 60
    grep -q -x "$(serial rsa) revoked" "$T"/seen.*
    [ "$(fds "$server")" -eq "$fd0" ]
    kill -0 "$server"
}

@test "a 100 MB file in the staple directory is skipped at once, one log line" {
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
    truncate -s 100M "$T/staples/huge.der"
    local start=$SECONDS
    s_server "$PORT" rsa
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    [ $((SECONDS - start)) -lt 5 ]
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    [ "$(log_count "huge.der: larger than 1 MiB; skipped")" -eq 1 ]
    [ "$(log_count "huge.der")" -eq 1 ]
}

@test "a staple directory that cannot be opened any more: the last staples stay, one log line" {
    echo "reload_interval = 1" >"$LIBSTAPLE_CONF"
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
    s_server "$PORT" rsa
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    # a file where the directory was
    mv "$T/staples" "$T/gone"
    echo "not a directory" >"$T/staples"
    sleep 1.2
    for _ in 1 2 3; do
        [ "$(staple "$PORT")" = "$(serial rsa) good" ]   # still the one it had
        sleep 0.5
    done
    [ "$(log_count "staple directory $T/staples: Not a directory")" -eq 1 ]
    kill -0 "$BG_PID"
}

@test "a staple directory that is a symlink loop: the server serves, one log line" {
    ln -s loop-b "$T/loop-a"
    ln -s loop-a "$T/loop-b"
    export LIBSTAPLE_DIR=$T/loop-a
    s_server "$PORT" rsa
    for _ in 1 2 3; do
        [ "$(staple "$PORT")" = "none" ]
    done
    [ "$(log_count "staple directory $T/loop-a: Too many levels of symbolic links")" -eq 1 ]
    kill -0 "$BG_PID"
}

@test "an unreadable staple directory (server running as nobody): the server serves, one log line" {
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
    chmod 0700 "$T/staples"                     # root's; nobody cannot read it
    cp "$PKI/rsa.key" "$PKI/rsa.pem" "$PKI/int.pem" "$T/" && chmod 0644 "$T"/*.pem "$T/rsa.key"
    : >"$LIBSTAPLE_LOG" && chmod 0666 "$LIBSTAPLE_LOG"
    chmod 0644 "$LIBSTAPLE_CONF"
    local d=$T                                   # let nobody reach $T
    while [[ $d == "${BATS_RUN_TMPDIR:-$T}"* && $d != / ]]; do
        chmod o+x "$d"
        d=$(dirname "$d")
    done
    bg nobody env LD_PRELOAD="$PRELOAD" setpriv --reuid=65534 --regid=65534 \
        --clear-groups openssl s_server -www -accept "127.0.0.1:$PORT" \
        -cert "$T/rsa.pem" -key "$T/rsa.key" -cert_chain "$T/int.pem"
    wait_port "$PORT"
    for _ in 1 2 3; do
        [ "$(staple "$PORT")" = "none" ]
    done
    [ "$(log_count "staple directory $T/staples: Permission denied")" -eq 1 ]
    kill -0 "$BG_PID"
}
