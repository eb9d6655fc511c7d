#!/usr/bin/env bats
# Threads: a threaded server answering parallel clients while its staple is
# replaced underneath it, and a threaded client verifying staples at once.

load lib/common

setup() {
    setup_test
    PORT=$(free_port)
}

teardown() {
    kill_bg
}

@test "threaded Python server, 8 parallel clients, staple replaced every 100 ms" {
    echo "reload_interval = 1" >"$LIBSTAPLE_CONF"
    pki_ocsp "$PKI" rsa good issuer now "$T/good.der"
    pki_ocsp "$PKI" rsa revoked issuer now "$T/revoked.der"
    cp "$T/good.der" "$T/staples/rsa.der"
    bg python env LD_PRELOAD="$PRELOAD" python3 "$TOP/tests/lib/tls_server.py" \
        "$PORT" "$PKI/rsa.full.pem" "$PKI/rsa.key" --threads
    local server=$BG_PID
    wait_port "$PORT"
    # the replacer: good and revoked in turn, by rename, for as long as it runs
    bg replacer bash -c "while :; do
        for f in good revoked; do
            cp '$T/'\$f.der '$T/staples/.tmp' && mv '$T/staples/.tmp' '$T/staples/rsa.der'
            sleep 0.1
        done
    done"
    # rounds of 8 parallel clients x 10 handshakes, until both staples were
    # seen (a loaded machine may fit a round into one reload interval)
    local clients=() round
    for round in 1 2 3 4 5; do
        clients=()
        for i in 1 2 3 4 5 6 7 8; do
            (for _ in 1 2 3 4 5 6 7 8 9 10; do staple "$PORT"; done >"$T/seen.$round.$i") &
            clients+=($!)
        done
        wait "${clients[@]}"
        grep -q -x "$(serial rsa) good" "$T"/seen.* &&
            grep -q -x "$(serial rsa) revoked" "$T"/seen.* && break
    done
    cat "$T"/seen.* | sort | uniq -c >&2
    # 80 handshakes a round, every one stapled with this certificate's response
    [ "$(cat "$T"/seen.* | wc -l)" -eq $((80 * round)) ]
    [ "$(grep -c -v -x -e "$(serial rsa) good" -e "$(serial rsa) revoked" \
        "$T"/seen.*  | awk -F: '{ n += $2 } END { print n }')" -eq 0 ]
    # both staples were seen: the reloads happened under load
    grep -q -x "$(serial rsa) good" "$T"/seen.*
    grep -q -x "$(serial rsa) revoked" "$T"/seen.*
    kill -0 "$server"
}

@test "threaded Python client, 8 threads, verifying staples concurrently" {
    pki_ocsp "$PKI" must good issuer now "$T/good.der"
    bg native openssl s_server -www -accept "127.0.0.1:$PORT" \
        -cert "$PKI/must.pem" -key "$PKI/must.key" -cert_chain "$PKI/int.pem" \
        -status_file "$T/good.der"
    wait_port "$PORT"
    run env LD_PRELOAD="$PRELOAD" LIBSTAPLE_POLICY=require python3 -c "
import socket, ssl, threading
ctx = ssl.create_default_context(cafile='$PKI/ca.pem')
results = []
def work():
    for _ in range(10):
        try:
            with ctx.wrap_socket(socket.create_connection(('127.0.0.1', $PORT)),
                                 server_hostname='must.test') as s:
                results.append('ok')
        except Exception as e:
            results.append(repr(e))
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print(len(results), sorted(set(results)))
"
    [ "$status" -eq 0 ]
    [ "$output" = "80 ['ok']" ]
}
