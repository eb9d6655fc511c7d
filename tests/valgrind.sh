#!/usr/bin/env bash
# tests/valgrind.sh [HANDSHAKES]: valgrind memcheck on an openssl s_server
# under the preload serving HANDSHAKES (default 1000) stapled full
# handshakes (TLS 1.3 and 1.2 alternating by halves), with the staple
# replaced halfway. Passes when memcheck reports no error and no definitely
# or indirectly lost block. `make check-valgrind`; minutes, not in `make test`.
set -u
cd "$(dirname "$0")/.." || exit 1
n=${1:-1000}
source tests/lib/common.bash
T=$(mktemp -d tests/.work/valgrind.XXXXXX)
T=$PWD/$T
pki_shared || exit 1
mkdir -p "$T/staples"
pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der" || exit 1
pki_ocsp "$PKI" rsa revoked issuer now "$T/revoked.der" || exit 1
echo "reload_interval = 1" >"$T/conf"
cc -std=gnu11 -O2 -o "$T/handshake" bench/handshake.c -lssl -lcrypto || exit 1
port=$(free_port)
LD_PRELOAD=$LIBSTAPLE LIBSTAPLE_DIR=$T/staples LIBSTAPLE_CONF=$T/conf \
    LIBSTAPLE_LOG=$T/staple.log valgrind --leak-check=full \
    --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
    --num-callers=30 --log-file="$T/memcheck.log" \
    openssl s_server -accept "127.0.0.1:$port" -www -cert "$PKI/rsa.pem" \
    -key "$PKI/rsa.key" -cert_chain "$PKI/int.pem" >/dev/null 2>&1 </dev/null &
server=$!
# fail: stop the server, say why, and fail the run.
fail() {
    kill -TERM "$server" 2>/dev/null
    wait "$server"
    echo "valgrind.sh: $*" >&2
    exit 1
}
up=
for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && { up=1; break; }
    sleep 0.2
done
[[ -n $up ]] || fail "the server under valgrind never listened on port $port"
# handshakes COUNT TLSV: COUNT handshakes that each carried a staple; the
# client prints "RATE STAPLED FAILED".
handshakes() {
    local got
    got=$("$T/handshake" "$port" rsa.test "$PKI/ca.pem" "${1}x" "$2" status) ||
        fail "$2: the handshake client failed: '$got'"
    echo "$2: $got"
    [[ $got =~ ^[0-9.]+\ $1\ 0$ ]] ||
        fail "$2: wanted $1 stapled handshakes and none failed, got '$got' (RATE STAPLED FAILED)"
}
handshakes "$((n / 2))" tls1.3
mv "$T/revoked.der" "$T/staples/rsa.der"
handshakes "$((n - n / 2))" tls1.2
kill -TERM "$server"
wait "$server"
grep -E 'ERROR SUMMARY|definitely lost|indirectly lost' "$T/memcheck.log"
grep -q 'ERROR SUMMARY: 0 errors' "$T/memcheck.log" &&
    grep -q 'definitely lost: 0 bytes' "$T/memcheck.log" &&
    grep -q 'indirectly lost: 0 bytes' "$T/memcheck.log"
