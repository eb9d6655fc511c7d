#!/usr/bin/env bats
# staplectl on any host's OpenSSL: the one binary built here, linked to no
# libssl, runs refresh, fetch, show, verify and metrics against Debian 11's
# OpenSSL 1.1.1 (bullseye's libssl1.1) and the vendored 1.0.2k, chosen with
# STAPLECTL_LIBSSL, against a real `openssl ocsp` responder on loopback. And
# its own HTTP client (tools/http.c), against servers that misbehave.
#
# The legacy trees come from tests/lib/legacy.sh (cached in
# $STAPLE_LEGACY_WORK, as for tests/legacy.bats): when they cannot be made
# here at all, these tests are skipped, or fail under CI.

load lib/common
load lib/legacy.sh

V111="OpenSSL 1.1.1w  11 Sep 2023"
V102="OpenSSL 1.0.2k  26 Jan 2017"

setup_file() {
    local work=${STAPLE_LEGACY_WORK:-$TOP/tests/.work/legacy} err=$BATS_FILE_TMPDIR/legacy.err
    export LEGACY_B=$work/bullseye LEGACY_O=$work/openssl-1.0.2k
    export SKIP_B='' SKIP_O=''
    legacy_bullseye_fetch "$LEGACY_B" 2>"$err" ||
        SKIP_B=$(legacy_unreachable "$err") || { cat "$err" >&2; return 1; }
    legacy_openssl102_build "$LEGACY_O" 2>"$err" ||
        SKIP_O=$(legacy_unreachable "$err") || { cat "$err" >&2; return 1; }
    if [[ -n ${CI:-} && -n $SKIP_B$SKIP_O ]]; then
        echo "staplectl-hosts.bats: $SKIP_B $SKIP_O (CI is set: these tests must run)" >&2
        return 1
    fi
}

setup() {
    setup_test
    CTL=$TOP/staplectl
    RPORT=$(free_port)
    unset STAPLECTL_LIBSSL
}

teardown() {
    kill_bg
}

# use VERSION: run staplectl below against that OpenSSL (111 or 102): sets
# LIBDIR, STAPLECTL_LIBSSL and VERSION_TEXT, or skips (fails under CI).
use() {
    case $1 in
        111)
            [[ -z $SKIP_B ]] || skip "bullseye packages: $SKIP_B"
            LIBDIR=$(dirname "$(legacy_libssl "$LEGACY_B")")
            export STAPLECTL_LIBSSL=libssl.so.1.1
            VERSION_TEXT=$V111
            ;;
        102)
            [[ -z $SKIP_O ]] || skip "OpenSSL 1.0.2k: $SKIP_O"
            LIBDIR=$LEGACY_O/prefix/lib
            export STAPLECTL_LIBSSL=$LIBDIR/libssl.so.1.0.0
            VERSION_TEXT=$V102
            ;;
    esac
}

# ctl ARGS...: staplectl ARGS with the chosen OpenSSL's libraries first on
# the library path (where its libssl finds its libcrypto).
ctl() {
    LD_LIBRARY_PATH=$LIBDIR "$CTL" "$@"
}

# name_of LEAF: the staple file name staplectl gives LEAF (a PEM file
# issued by the PKI's intermediate): ISSUERKEY-SERIAL.der, the first 8
# bytes of the issuer key hash and the serial, in lower-case hex.
name_of() {
    local key serial
    openssl ocsp -issuer "$PKI/int.pem" -cert "$1" -no_nonce -reqout "$T/name.req" 2>/dev/null
    key=$(openssl ocsp -reqin "$T/name.req" -req_text |
        sed -n 's/^ *Issuer Key Hash: *//p' | tr A-F a-f | cut -c1-16)
    serial=$(openssl x509 -in "$1" -noout -serial | cut -d= -f2 | tr A-F a-f)
    echo "$key-$serial.der"
}

# binds_ok: staplectl says (debug) it uses the chosen libssl, and no other.
binds_ok() {
    run env LIBSTAPLE_LOG_LEVEL=debug LD_LIBRARY_PATH="$LIBDIR" "$CTL" verify \
        --cert "$PKI/must.full.pem" /dev/null
    [[ $output == *"debug: using $LIBDIR/"*" ($VERSION_TEXT)"* ]]
    [ "$(grep -c 'debug: using ' <<<"$output")" -eq 1 ]
}

# fleet_check VERSION: refresh, show, verify and metrics against VERSION.
fleet_check() {
    use "$1"
    binds_ok
    leaf_with_ocsp_url site.test "http://127.0.0.1:$RPORT/"
    ocsp_responder "$T/index.txt" responder
    want=$(name_of "$T/site.test.pem")

    # refresh: one certificate fetched, stored under its own name
    run ctl refresh --dir "$T/staples" "$T/site.test.full.pem"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ ${lines[0]} == "$T/site.test.full.pem: fetched: good, stored $T/staples/$want (until "*"; before: no staple yet)" ]]
    [ "${lines[-1]}" = "refresh: 1 certificates: 1 fetched, 0 fresh, 0 without OCSP, 0 failed" ]
    [ "$(ls "$T/staples")" = "$want" ]

    # verify: good for the certificate it was fetched for
    run ctl verify --cert "$T/site.test.full.pem" "$T/staples/$want"
    [ "$status" -eq 0 ]
    [ "$output" = good ]
    # and not for another one
    run ctl verify --cert "$PKI/must.full.pem" "$T/staples/$want"
    [ "$status" -eq 2 ]
    [[ $output == "invalid: "* || $output == missing* ]]

    # show: the library's verdict, signature checked against the issuer
    run ctl show --warn 1h --issuer "$PKI/int.pem" "$T/staples"
    [ "$status" -eq 0 ]
    [[ $output == "$T/staples/$want: serial "*" good this "*": serves it ("*" left)" ]]
    run ctl show --warn 2d --issuer "$PKI/int.pem" "$T/staples"
    echo "$output"
    [ "$status" -eq 1 ]    # a day left is less than --warn
    [[ $output == *": serves it ("*" left), expires within --warn" ]]

    # metrics: served, and the time left about a day
    run ctl metrics --warn 1h --issuer "$PKI/int.pem" "$T/staples"
    [ "$status" -eq 0 ]
    grep -qE "^libstaple_staple_served\\{file=\"$T/staples/$want\",.*state=\"served\"\\} 1\$" <<<"$output"
    left=$(sed -nE 's/^libstaple_staple_seconds_left\{.*\} ([0-9]+)$/\1/p' <<<"$output")
    [ "$left" -gt 86000 ] && [ "$left" -le 86400 ]
    grep -qx 'libstaple_staples_attention 0' <<<"$output"
}

@test "OpenSSL 1.1.1 (Debian 11): refresh, verify, show and metrics" {
    fleet_check 111
}

@test "OpenSSL 1.0.2k: refresh, verify, show and metrics" {
    fleet_check 102
}

# revoked_check VERSION: fetch stores a revoked answer; verify says so.
revoked_check() {
    use "$1"
    ocsp_responder "$PKI/index.txt" responder
    want=$(name_of "$PKI/revoked.pem")
    run ctl fetch --cert "$PKI/revoked.full.pem" --url "http://127.0.0.1:$RPORT/" --dir "$T/staples"
    [ "$status" -eq 0 ]
    [ "$output" = "$PKI/revoked.full.pem: revoked: stored $T/staples/$want" ]
    run ctl verify --cert "$PKI/revoked.full.pem" "$T/staples/$want"
    [ "$status" -eq 1 ]
    [ "$output" = revoked ]
    # a stopped responder: the staple stays, the reason is given
    kill_bg
    cp "$T/staples/$want" "$T/before.der"
    run ctl fetch --cert "$PKI/revoked.full.pem" --url "http://127.0.0.1:$RPORT/" --dir "$T/staples"
    [ "$status" -eq 1 ]
    [ "$output" = "$PKI/revoked.full.pem: http://127.0.0.1:$RPORT/: 127.0.0.1 port $RPORT: Connection refused; the old staple is kept" ]
    cmp "$T/before.der" "$T/staples/$want"
}

@test "OpenSSL 1.1.1 (Debian 11): fetch a revoked answer; a stopped responder keeps it" {
    revoked_check 111
}

@test "OpenSSL 1.0.2k: fetch a revoked answer; a stopped responder keeps it" {
    revoked_check 102
}

# crl_check VERSION: crl refresh fetches a certificate's CRL (its issuer's
# signature checked through that OpenSSL), a second run gets 304, a forged
# one is refused, and show judges the CRL stored.
crl_check() {
    use "$1"
    make -s -C "$TOP" tests/.work/mkcrl >/dev/null
    mkdir -p "$T/srv"
    bg crlsrv python3 "$TOP/tests/lib/crl_server.py" "$RPORT" "$T/srv" "$T/http.log"
    wait_port "$RPORT"
    url=http://127.0.0.1:$RPORT/int.crl
    printf 'crlDistributionPoints = URI:%s\nbasicConstraints = CA:false\n' "$url" >"$T/dp.ext"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$T/dp.key" -subj /CN=dp -out "$T/dp.csr" 2>/dev/null
    openssl x509 -req -in "$T/dp.csr" -CA "$PKI/int.pem" -CAkey "$PKI/int.key" \
        -set_serial 0x51 -days 30 -extfile "$T/dp.ext" -out "$T/dp.pem" 2>/dev/null
    cat "$T/dp.pem" "$PKI/int.pem" >"$T/dp.full.pem"
    "$TOP/tests/.work/mkcrl" --number 2 --revoke 51 "$PKI/int.pem" "$PKI/int.key" "$T/srv/int.crl"
    stored=$T/crl/$(printf '%s' "$url" | sha1sum | cut -c1-16).crl
    next=$(date -u -d "$(openssl crl -inform DER -in "$T/srv/int.crl" -noout -nextupdate | cut -d= -f2)" +%Y-%m-%dT%H:%M:%SZ)
    run ctl crl refresh --dir "$T/crl" "$T/dp.full.pem"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "$url: fetched: $stored (/CN=libstaple test intermediate, 1 entries, next update $next; from $T/dp.full.pem)" ]
    cmp "$T/srv/int.crl" "$stored"
    run ctl crl refresh --dir "$T/crl" "$T/dp.full.pem"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "$url: not modified: $stored (/CN=libstaple test intermediate, 1 entries, next update $next)" ]
    [[ $(sed -n 2p "$T/http.log") == 'GET /int.crl inm="'*'" ims='*' 304' ]]
    cp "$stored" "$T/good.crl"
    "$TOP/tests/.work/mkcrl" --number 3 "$PKI/int.pem" "$PKI/rogue.key" "$T/srv/int.crl"
    run ctl crl refresh --dir "$T/crl" "$T/dp.full.pem"
    [ "$status" -eq 1 ]
    [ "${lines[0]}" = "$url: failed: a bad signature (not by the key of /CN=libstaple test intermediate); the old CRL is kept" ]
    cmp "$T/good.crl" "$stored"
    run ctl show --warn 1h --issuer "$PKI/int.pem" "$stored"
    [ "$status" -eq 0 ]
    [[ $output == "$stored: CRL issuer /CN=libstaple test intermediate entries 1 this "*" next $next: current ("*" left)" ]]
}

@test "OpenSSL 1.1.1 (Debian 11): crl refresh and show" {
    crl_check 111
}

@test "OpenSSL 1.0.2k: crl refresh and show" {
    crl_check 102
}

@test "STAPLECTL_LIBSSL that cannot be loaded, or is not a served OpenSSL: exit 3, said why" {
    STAPLECTL_LIBSSL=$T/nothing.so run "$CTL" verify --cert "$PKI/must.full.pem" /dev/null
    [ "$status" -eq 3 ]
    [[ ${lines[0]} == "staplectl: STAPLECTL_LIBSSL: $T/nothing.so: cannot open shared object file"* ]]
    [ "${lines[-1]}" = "staplectl: OpenSSL: cannot use this libssl" ]
    # a libssl reporting 1.1.0, which libstaple does not serve
    legacy_fake_libssl "$T/fake" libssl.so.1.1 0x1010008f "OpenSSL 1.1.0h  27 Mar 2018"
    STAPLECTL_LIBSSL=$T/fake/libssl.so.1.1 run "$CTL" verify --cert "$PKI/must.full.pem" /dev/null
    [ "$status" -eq 3 ]
    [[ $output == *"OpenSSL 1.1.0h  27 Mar 2018 (0x1010008f) in $T/fake/libssl.so.1.1 is not a version libstaple serves"* ]]
}

@test "without STAPLECTL_LIBSSL the newest libssl is used (here 3.x)" {
    run env LIBSTAPLE_LOG_LEVEL=debug "$CTL" verify --cert "$PKI/must.full.pem" /dev/null
    [[ $output == *"debug: using "*"/libssl.so.3 (OpenSSL 3."* ]]
}

# http_server MODE: a one-shot HTTP server on 127.0.0.1:$RPORT (or ::1 for
# MODE v6) that reads a request and answers as MODE says (see below).
http_server() {
    cat >"$T/http.py" <<'EOF'
import socket, sys, time
mode, port, body = sys.argv[1], int(sys.argv[2]), open(sys.argv[3], 'rb').read()
fam, host = (socket.AF_INET6, '::1') if mode == 'v6' else (socket.AF_INET, '127.0.0.1')
s = socket.socket(fam)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, port))
s.listen(1)
print('listening', flush=True)
c, _ = s.accept()
req = b''
while b'\r\n\r\n' not in req:
    req += c.recv(4096)
head, rest = req.split(b'\r\n\r\n', 1)
n = int([l.split(b':')[1] for l in head.split(b'\r\n') if l.lower().startswith(b'content-length:')][0])
while len(rest) < n:
    rest += c.recv(4096)
open(sys.argv[3] + '.request', 'wb').write(head + b'\r\n\r\n' + rest)
ok = b'HTTP/1.0 200 OK\r\nContent-Type: application/ocsp-response\r\n'
if mode in ('length', 'v6'):
    c.sendall(ok + b'Content-Length: %d\r\n\r\n' % len(body) + body)
elif mode == 'close':
    c.sendall(ok + b'\r\n' + body)
elif mode == 'status':
    c.sendall(b'HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n')
elif mode == 'short':
    c.sendall(ok + b'Content-Length: %d\r\n\r\n' % (len(body) + 10) + body)
elif mode == 'huge':
    c.sendall(ok + b'Content-Length: 2000000\r\n\r\n')
elif mode == 'endless':
    c.sendall(ok + b'\r\n')
    try:
        while True:
            c.sendall(b'\0' * 65536)
    except OSError:
        pass
elif mode == 'silent':
    time.sleep(10)
elif mode == 'garbage':
    c.sendall(b'SSH-2.0-OpenSSH_9.2\r\n\r\n')
c.close()
EOF
    bg http python3 "$T/http.py" "$1" "$RPORT" "$T/good.der"
    for _ in $(seq 50); do
        grep -q listening "$T/http.out" && return 0
        sleep 0.1
    done
    return 1
}

# http_fetch MODE [URL]: staplectl fetch for must.test through http_server
# MODE; status and output as `run` leaves them.
http_fetch() {
    http_server "$1"
    SECONDS=0
    run "$CTL" fetch --cert "$PKI/must.full.pem" --url "${2:-http://127.0.0.1:$RPORT/ocsp}" \
        --dir "$T/staples" --timeout 2
}

@test "HTTP: an answer by Content-Length, by close, over IPv6; the request is HTTP/1.0 POST" {
    pki_ocsp "$PKI" must good responder now "$T/good.der"
    want=$(name_of "$PKI/must.pem")
    http_fetch length
    [ "$status" -eq 0 ]
    [ "$output" = "$PKI/must.full.pem: good: stored $T/staples/$want" ]
    cmp "$T/good.der" "$T/staples/$want"
    head -1 "$T/good.der.request" | grep -qx $'POST /ocsp HTTP/1.0\r'
    grep -qx $'Host: 127.0.0.1:'"$RPORT"$'\r' "$T/good.der.request"
    grep -qx $'Content-Type: application/ocsp-request\r' "$T/good.der.request"
    kill_bg
    rm -f "$T/staples/$want"
    http_fetch close
    [ "$status" -eq 0 ]
    cmp "$T/good.der" "$T/staples/$want"
    kill_bg
    rm -f "$T/staples/$want"
    if python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
        http_fetch v6 "http://[::1]:$RPORT/ocsp"
        [ "$status" -eq 0 ]
        cmp "$T/good.der" "$T/staples/$want"
        grep -qxF $'Host: [::1]:'"$RPORT"$'\r' "$T/good.der.request"
    fi
}

@test "HTTP: a failing status, a short body, a huge or endless one, silence, garbage: each said plainly" {
    pki_ocsp "$PKI" must good responder now "$T/good.der"
    local url=http://127.0.0.1:$RPORT/ocsp
    http_fetch status
    echo "$output"
    [ "$status" -eq 1 ]
    [ "$output" = "$PKI/must.full.pem: $url: HTTP status 503 Service Unavailable; the old staple is kept" ]
    kill_bg
    http_fetch short
    [ "$status" -eq 1 ]
    [[ $output == "$PKI/must.full.pem: $url: the answer ended after "*" of "*" bytes; the old staple is kept" ]]
    kill_bg
    http_fetch huge
    [ "$status" -eq 1 ]
    [ "$output" = "$PKI/must.full.pem: $url: the answer is too large (2000000 bytes, at most 1048576); the old staple is kept" ]
    kill_bg
    http_fetch endless
    [ "$status" -eq 1 ]
    [ "$output" = "$PKI/must.full.pem: $url: the answer is too large (over 1048576 bytes); the old staple is kept" ]
    kill_bg
    http_fetch silent
    [ "$status" -eq 1 ]
    [ "$output" = "$PKI/must.full.pem: $url: timed out waiting for the answer; the old staple is kept" ]
    [ "$SECONDS" -lt 8 ]    # --timeout 2; the server waits 10 s
    kill_bg
    http_fetch garbage
    [ "$status" -eq 1 ]
    [ "$output" = "$PKI/must.full.pem: $url: not an HTTP answer; the old staple is kept" ]
    [ -z "$(ls "$T/staples")" ]
}

@test "HTTP: only plain http:// URLs, with a host and a sane port" {
    local u
    for u in https://127.0.0.1/ ftp://x/ http:///x http://a@b/ http://h:0/ http://h:99999/ http://h:x/ 'http://[::1/'; do
        run "$CTL" fetch --cert "$PKI/must.full.pem" --url "$u" --dir "$T/staples"
        [ "$status" -eq 1 ]
        [[ $output == "$PKI/must.full.pem: $u: $u: "*"; the old staple is kept" ]]
    done
}
