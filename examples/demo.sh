#!/usr/bin/env bash
# demo.sh: libstaple's main job in one command (`make demo`).
#
# A throwaway PKI with a Must-Staple certificate and an OCSP response made by
# `openssl ocsp`; an unmodified `openssl s_server`, never told about stapling,
# run under the preload; `openssl s_client -status` seeing the staple; then
# the client role: curl under the preload refusing the same server run
# without the preload (no staple) and accepting the stapling one.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
# LIBSTAPLE_SO: the library to preload; this build by default
# (LIBSTAPLE_SO=/usr/lib/libstaple/libstaple.so: an installed one).
lib=${LIBSTAPLE_SO:-$top/libstaple.so}
source "$top/tests/lib/pki.sh"

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
server() { # server PORT [env...]: s_server for must.test on PORT
    local p=$1
    shift
    env "$@" openssl s_server -www -accept "127.0.0.1:$p" \
        -cert "$work/pki/must.pem" -key "$work/pki/must.key" \
        -cert_chain "$work/pki/int.pem" >/dev/null 2>&1 </dev/null &
    pids+=($!)
    wait_port "$p"
}

[[ -f $lib ]] || { echo "no $lib: build first (make), or set LIBSTAPLE_SO"; exit 1; }

step "1. A throwaway PKI: root, intermediate, a Must-Staple leaf (must.test)"
pki_make "$work/pki" || exit 1
openssl x509 -in "$work/pki/must.pem" -noout -subject -serial -ext tlsfeature

step "2. Its OCSP response from 'openssl ocsp', into the staple directory"
mkdir "$work/staples"
pki_ocsp "$work/pki" must good issuer now "$work/staples/must.der" || exit 1
openssl ocsp -respin "$work/staples/must.der" -noverify -resp_text |
    grep -E 'Serial Number: [0-9A-F]+$|Cert Status|This Update|Next Update'

step "3. Unmodified openssl s_server, no status options, under the preload"
p1=$(port)
echo "LD_PRELOAD=$lib LIBSTAPLE_DIR=$work/staples openssl s_server -accept $p1 ..."
server "$p1" LD_PRELOAD="$lib" LIBSTAPLE_DIR="$work/staples" LIBSTAPLE_LOG=stderr

step "4. openssl s_client -status sees the staple"
openssl s_client -connect "127.0.0.1:$p1" -status -CAfile "$work/pki/ca.pem" \
    </dev/null 2>/dev/null |
    grep -E 'OCSP Response Status|Serial Number: [0-9A-F]+$|Cert Status|Verify return code' |
    sed 's/^ */    /' | awk '!seen[$0]++'

p2=$(port)
server "$p2"
curl_to() { # curl_to PORT [env...]: fetch https://must.test:PORT/, say how it went
    local p=$1
    shift
    if env "$@" curl -sS -o /dev/null --cacert "$work/pki/ca.pem" \
        --resolve "must.test:$p:127.0.0.1" "https://must.test:$p/" 2>"$work/curl.err"; then
        echo "    curl: connected"
    else
        echo "    curl: refused: $(tail -1 "$work/curl.err")"
    fi
}

step "5. Client role: plain curl connects to the Must-Staple server WITHOUT a staple"
echo "    (the same s_server, run without the preload, staples nothing)"
curl_to "$p2"

step "6. curl under the preload refuses it (policy must-staple, the default)"
curl_to "$p2" LD_PRELOAD="$lib" LIBSTAPLE_LOG=stderr
sed 's/^/    /' "$work/curl.err" | grep libstaple

step "7. curl under the preload accepts the stapling server, after verifying the staple"
curl_to "$p1" LD_PRELOAD="$lib" LIBSTAPLE_LOG=stderr

if command -v gnutls-cli >/dev/null; then
    step "8. gnutls-cli (enforces Must-Staple on its own) agrees: refuses the first, accepts the second"
    gnutls-cli --x509cafile "$work/pki/ca.pem" --port "$p2" localhost </dev/null 2>&1 |
        grep -iE 'ocsp status.*missing' | sed 's/^ *- */    /'
    gnutls-cli --x509cafile "$work/pki/ca.pem" --port "$p1" localhost </dev/null 2>&1 |
        grep -iE 'handshake was completed' | sed 's/^ *- */    /'
fi
step "Done: s_server was never told about OCSP, curl never asked for a staple."
