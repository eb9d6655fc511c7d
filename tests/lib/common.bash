# shellcheck shell=bash
# common.bash - helpers shared by the bats files: the test PKI, free ports,
# background servers that are always cleaned up, and reading staples off
# `openssl s_client -status`.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# The system's programs first: the tests drive the distribution's packages
# (what .ci/run installs), not a per-user interpreter a version manager puts
# in front of python3, whose shim also costs half a second of shell per call.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
LIBSTAPLE=${LIBSTAPLE:-$TOP/libstaple.so}
# What LD_PRELOAD holds besides libstaple (a sanitizer runtime under
# `make check-asan`), and the whole LD_PRELOAD value the tests use.
PRELOAD_BASE=${STAPLE_PRELOAD_BASE:-}
PRELOAD="${PRELOAD_BASE:+$PRELOAD_BASE }$LIBSTAPLE"
# shellcheck source=tests/lib/pki.sh
source "$TOP/tests/lib/pki.sh"
# `run !` and `run -N` need bats 1.5 (and say so, silently, only when asked)
if declare -F bats_require_minimum_version >/dev/null; then
    bats_require_minimum_version 1.5.0
fi

# pki_shared: the PKI for this run, made once (tests/run makes it up front).
pki_shared() {
    PKI=${STAPLE_PKI:-$TOP/tests/.work/pki}
    if [[ ! -f $PKI/done ]]; then
        rm -rf "$PKI" && pki_make "$PKI" && touch "$PKI/done"
    fi
    export PKI
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_port PORT: wait up to 10 s until something accepts on 127.0.0.1:PORT.
wait_port() {
    local i
    for ((i = 0; i < 100; i++)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "nothing listens on port $1" >&2
    return 1
}

# bg NAME CMD...: run CMD in the background (output in $T/NAME.out/.err),
# remembered for kill_bg. Sets BG_PID.
bg() {
    local name=$1
    shift
    "$@" >"$T/$name.out" 2>"$T/$name.err" </dev/null &
    BG_PID=$!
    echo "$BG_PID" >>"$T/pids"
}

# kill_bg: stop everything bg started in this test, and wait for it.
kill_bg() {
    local pid
    [[ -f $T/pids ]] || return 0
    while read -r pid; do
        kill "$pid" 2>/dev/null || true
    done <"$T/pids"
    while read -r pid; do
        wait "$pid" 2>/dev/null || true
    done <"$T/pids"
    rm -f "$T/pids"
    return 0
}

# setup_test: a fresh scratch directory T and staple directory $T/staples.
setup_test() {
    pki_shared
    T=$BATS_TEST_TMPDIR
    # root's only, whatever the umask: a server run by root takes staples
    # from no other directory
    mkdir -p "$T/staples" && chmod 0755 "$T/staples"
    export LIBSTAPLE_DIR=$T/staples LIBSTAPLE_LOG=$T/staple.log
    export LIBSTAPLE_CONF=$T/libstaple.conf
    : >"$LIBSTAPLE_CONF"
}

# nobody_can_reach: for a server whose processes run as nobody (nginx's
# workers, a setpriv'd program): a log file they can write, on a path of
# the test's directories they can reach.
nobody_can_reach() {
    : >"$LIBSTAPLE_LOG" && chmod 0666 "$LIBSTAPLE_LOG"
    local d=$T
    while [[ $d == "${BATS_RUN_TMPDIR:-$T}"* && $d != / ]]; do
        chmod o+x "$d"
        d=$(dirname "$d")
    done
}

# s_server PORT CERT [ARGS...]: an unmodified openssl s_server under the
# preload, serving leaf CERT (a name from the PKI) with its chain.
s_server() {
    local port=$1 cert=$2
    shift 2
    bg s_server env LD_PRELOAD="$PRELOAD" openssl s_server -www \
        -accept "127.0.0.1:$port" -cert "$PKI/$cert.pem" \
        -key "$PKI/$cert.key" -cert_chain "$PKI/int.pem" "$@"
    wait_port "$port"
}

# staple PORT [s_client ARGS...]: what the server stapled, as
# "SERIAL STATUS" (e.g. "4D7D... good"; one pair per SingleResponse, joined
# by ", "), "none", or "handshake failed".
staple() {
    local port=$1 out
    shift
    # Not s_client's exit status: a server that closes without close_notify
    # makes it fail after a good handshake. A failed handshake prints
    # "New, (NONE), Cipher is (NONE)".
    timeout 10 openssl s_client -connect "127.0.0.1:$port" -status \
        -CAfile "$PKI/ca.pem" "$@" </dev/null 2>&1 | staple_parse
}

# staple_parse: read `openssl s_client -status` output (3.x, 1.1.1 or
# 1.0.2k's) on stdin; print what `staple` prints.
staple_parse() {
    local out
    out=$(cat)
    if ! grep -q '^New, TLS\|^Reused, TLS' <<<"$out"; then
        echo "handshake failed"
        return 0
    fi
    if grep -q 'OCSP response: no response sent' <<<"$out"; then
        echo none
        return 0
    fi
    awk '/OCSP Response Data:/ { in_resp = 1 }
         /^Certificate chain|^---/ { in_resp = 0 }
         in_resp && /Serial Number: [0-9A-F]+$/ { serial = $3 }
         in_resp && /Cert Status:/ { all = all sep serial " " $3; sep = ", " }
         END { print all }' <<<"$out"
}

# staple_within SECONDS EXPECTED PORT [ARGS...]: poll until the staple is
# EXPECTED; fail (showing the last one) after SECONDS.
staple_within() {
    local limit=$1 want=$2 port=$3 got start=$SECONDS
    shift 3
    while :; do
        got=$(staple "$port" "$@")
        [[ $got == "$want" ]] && return 0
        if ((SECONDS - start > limit)); then
            echo "after ${limit}s: '$got', wanted '$want'" >&2
            return 1
        fi
        sleep 0.2
    done
}

# leaf_with_ocsp_url NAME URL: a certificate NAME issued by the test
# intermediate whose AIA names URL as its OCSP responder; $T/NAME.full.pem
# is it with its chain; $T/index.txt is a responder index that knows it.
leaf_with_ocsp_url() {
    local name=$1 url=$2 serial
    serial=$(openssl rand -hex 8 | tr a-f A-F | sed 's/^./4/')
    openssl req -new -newkey rsa:2048 -nodes -keyout "$T/$name.key" \
        -subj "/CN=$name" -out "$T/$name.csr" 2>/dev/null
    printf 'authorityInfoAccess = OCSP;URI:%s\nsubjectAltName = DNS:%s\n' \
        "$url" "$name" >"$T/$name.ext"
    openssl x509 -req -in "$T/$name.csr" -CA "$PKI/int.pem" -CAkey "$PKI/int.key" \
        -set_serial "0x$serial" -days 30 -extfile "$T/$name.ext" \
        -out "$T/$name.pem" 2>/dev/null
    cat "$T/$name.pem" "$PKI/int.pem" >"$T/$name.full.pem"
    cp "$PKI/index.txt" "$T/index.txt"
    printf 'V\t%s\t\t%s\tunknown\t/CN=%s\n' "$(date -u -d '+30 days' +%y%m%d%H%M%SZ)" \
        "$serial" "$name" >>"$T/index.txt"
}

# serial LEAF: the leaf's serial as s_client prints it.
serial() {
    cat "$PKI/$1.serial"
}

# lacks PATTERN FILE...: every FILE can be read and no line of them matches
# the grep PATTERN (`! grep` passes when a file is missing, and in the middle
# of a bats test never fails it).
lacks() {
    local rc=0
    grep -q -- "$@" || rc=$?
    if ((rc != 1)); then
        ((rc == 0)) && echo "lacks: found '$1' in: ${*:2}" >&2
        return 1
    fi
}

# verdict_status VERDICT: the exit status `staplectl verify` gives with the
# verdict VERDICT ("good", "revoked", "invalid: ..."; see staplectl(1)).
verdict_status() {
    case $1 in
        good) echo 0 ;;
        revoked) echo 1 ;;
        *) echo 2 ;;
    esac
}

# log_count PATTERN: how many libstaple log lines match PATTERN.
log_count() {
    grep -c -- "$1" "$LIBSTAPLE_LOG" 2>/dev/null || true
}

# ocsp_responder INDEX SIGNER: `openssl ocsp` answering from the CA database
# INDEX on $RPORT (a free port unless set), signing as the PKI's SIGNER (int,
# responder or rogue). Not wait_port: this responder serves one connection
# at a time, and a probe that sends no request holds it up.
ocsp_responder() {
    RPORT=${RPORT:-$(free_port)}
    bg responder openssl ocsp -index "$1" -port "$RPORT" \
        -rsigner "$PKI/$2.pem" -rkey "$PKI/$2.key" -CA "$PKI/int.pem" -ndays 1
    for _ in $(seq 50); do
        grep -q "waiting for OCSP client connections" "$T/responder.err" && return 0
        sleep 0.1
    done
    return 1
}

# nginx_conf WORKERS LEAF...: $T/nginx/nginx.conf for an nginx with WORKERS
# workers serving, on 127.0.0.1:$PORT, one SNI host per LEAF (LEAF.test with
# the PKI's LEAF certificate and chain, answering "LEAF"). No stapling
# configuration: that is libstaple's job.
nginx_conf() {
    local workers=$1 leaf
    shift
    mkdir -p "$T/nginx/tmp"
    {
        printf 'worker_processes %s;\npid %s;\nerror_log %s info;\ndaemon off;\n' \
            "$workers" "$T/nginx/nginx.pid" "$T/nginx/error.log"
        printf 'events { worker_connections 256; }\nhttp {\n    access_log off;\n'
        for dir in client_body proxy fastcgi uwsgi scgi; do
            printf '    %s_temp_path %s;\n' "$dir" "$T/nginx/tmp"
        done
        for leaf in "$@"; do
            printf '    server {\n        listen 127.0.0.1:%s ssl;\n' "$PORT"
            printf '        server_name %s.test;\n' "$leaf"
            printf '        ssl_certificate %s;\n' "$PKI/$leaf.full.pem"
            printf '        ssl_certificate_key %s;\n' "$PKI/$leaf.key"
            printf '        return 200 "%s\\n";\n    }\n' "$leaf"
        done
        printf '}\n'
    } >"$T/nginx/nginx.conf"
}

# nginx_start: that nginx under the preload; BG_PID is its master.
nginx_start() {
    bg nginx env LD_PRELOAD="$PRELOAD" nginx -p "$T/nginx" -c "$T/nginx/nginx.conf" \
        -e "$T/nginx/error.log"
    wait_port "$PORT"
}
