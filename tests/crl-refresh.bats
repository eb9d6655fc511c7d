#!/usr/bin/env bats
# staplectl crl refresh: CRLs fetched from the distribution points of the
# certificates named (and from URLs, `system`, `crls =` and the clients'
# register), by conditional GET from a plain HTTP server on loopback
# (tests/lib/crl_server.py, which logs the validators each request sent and
# answers 304); a CRL replaces the one stored only when it is signed by a
# known issuer, current and not older; otherwise the good one stays.

load lib/common

setup_file() {
    pki_shared
    make -s -C "$TOP" tests/.work/mkcrl >/dev/null
}

setup() {
    setup_test
    CTL=$TOP/staplectl
    MKCRL=$TOP/tests/.work/mkcrl
    SRV=$T/srv
    CRLDIR=$T/crl
    mkdir -p "$SRV"
    PORT=$(free_port)
    bg crlsrv python3 "$TOP/tests/lib/crl_server.py" "$PORT" "$SRV" "$T/http.log"
    wait_port "$PORT"
    URL=http://127.0.0.1:$PORT/int.crl
    leaf_with_dp leaf "$URL"
    STORED=$CRLDIR/$(url_hash "$URL").crl
}

teardown() {
    kill_bg
}

# leaf_with_dp NAME URL...: $T/NAME.pem, issued by the test intermediate,
# whose CRL distribution points name the URLs; $T/NAME.full.pem with its chain.
leaf_with_dp() {
    local name=$1 dps
    shift
    dps=$(printf 'URI:%s,' "$@")
    printf 'crlDistributionPoints = %s\nbasicConstraints = CA:false\n' "${dps%,}" >"$T/$name.ext"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$T/$name.key" -subj "/CN=$name" -out "$T/$name.csr" 2>/dev/null
    openssl x509 -req -in "$T/$name.csr" -CA "$PKI/int.pem" -CAkey "$PKI/int.key" \
        -set_serial "0x$(openssl rand -hex 8)" -days 30 -extfile "$T/$name.ext" \
        -out "$T/$name.pem" 2>/dev/null
    cat "$T/$name.pem" "$PKI/int.pem" >"$T/$name.full.pem"
}

# index_of CRL COUNT: the index file of the stored CRL (CRLDIR/.index/NAME,
# preload/crlindex.h) is there, describes that file (inode, size) and
# counts COUNT entries.
index_of() {
    local ix
    ix=$(dirname "$1")/.index/$(basename "$1")
    [ "$(head -c 8 "$ix")" = LSCRLSC1 ]
    [ "$(od -An -t u8 -j 24 -N 8 "$ix" | tr -d ' ')" = "$(stat -c %i "$1")" ]
    [ "$(od -An -t u8 -j 32 -N 8 "$ix" | tr -d ' ')" = "$(stat -c %s "$1")" ]
    [ "$(od -An -t u8 -j 128 -N 8 "$ix" | tr -d ' ')" = "$2" ]
}

# url_hash URL: the stem of the CRL file staplectl stores URL's CRL under.
url_hash() {
    printf '%s' "$1" | sha1sum | cut -c1-16
}

# serve NAME MKCRL-ARGS...: $SRV/NAME, a CRL the intermediate signs, with a
# Last-Modified one second later than the previous one's (the server's
# validators change with the bytes and the mtime).
serve() {
    local name=$1
    shift
    "$MKCRL" "$@" "$PKI/int.pem" "$PKI/int.key" "$SRV/$name"
    touch -d "@$(($(date +%s) + ${SERVE_STEP:-0}))" "$SRV/$name"
    SERVE_STEP=$((${SERVE_STEP:-0} + 1))
}

# first: the intermediate's CRL number 2 fetched and stored for the leaf.
first() {
    serve int.crl --number 2
    run "$CTL" crl refresh --dir "$CRLDIR" "$T/leaf.full.pem"
    [ "$status" -eq 0 ]
    cmp "$SRV/int.crl" "$STORED"
    cp "$STORED" "$T/good.crl"
}

# kept: the good CRL is still the one stored, the run failed with LINE.
kept() {
    [ "$status" -eq 1 ]
    [ "${lines[0]}" = "$1" ]
    [ "${lines[1]}" = "crl refresh: 1 CRLs: 0 fetched, 0 not modified, 1 failed" ]
    cmp "$T/good.crl" "$STORED"
}

next_update() {
    date -u -d "$(openssl crl -inform DER -in "$1" -noout -nextupdate | cut -d= -f2)" +%Y-%m-%dT%H:%M:%SZ
}

this_update() {
    date -u -d "$(openssl crl -inform DER -in "$1" -noout -lastupdate | cut -d= -f2)" +%Y-%m-%dT%H:%M:%SZ
}

@test "crl refresh: a certificate's distribution point is fetched, verified and stored under its URL's name" {
    serve int.crl --number 2 --revoke 1234
    run "$CTL" crl refresh --dir "$CRLDIR" "$T/leaf.full.pem"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "$URL: fetched: $STORED (/CN=libstaple test intermediate, 1 entries, next update $(next_update "$SRV/int.crl"); from $T/leaf.full.pem)" ]
    [ "${lines[1]}" = "crl refresh: 1 CRLs: 1 fetched, 0 not modified, 0 failed" ]
    cmp "$SRV/int.crl" "$STORED"
    [ "$(stat -c %a "$STORED")" = 644 ]
    [ "$(cat "$T/http.log")" = "GET /int.crl inm=- ims=- 200" ]
    # beside it its index file (preload/crlindex.h) describing this very
    # file, and the state; nothing else
    [ "$(ls -A "$CRLDIR")" = "$(printf '.index\n.state\n%s' "$(basename "$STORED")")" ]
    [ "$(ls -A "$CRLDIR/.index")" = "$(basename "$STORED")" ]
    index_of "$STORED" 1
}

@test "crl refresh: a second run asks with If-None-Match and If-Modified-Since; the 304 rewrites nothing" {
    first
    etag=$(sed -n 2p "$CRLDIR/.state/$(url_hash "$URL")")
    modified=$(sed -n 3p "$CRLDIR/.state/$(url_hash "$URL")")
    [[ $etag == '"'*'"' ]]
    [ "$modified" = "$(date -u -R -d "@$(stat -c %Y "$SRV/int.crl")" | sed 's/+0000/GMT/')" ]
    before=$(stat -c '%i %Y' "$STORED")
    sleep 1
    run "$CTL" crl refresh --dir "$CRLDIR" "$T/leaf.full.pem"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "$URL: not modified: $STORED (/CN=libstaple test intermediate, 0 entries, next update $(next_update "$SRV/int.crl"))" ]
    [ "${lines[1]}" = "crl refresh: 1 CRLs: 0 fetched, 1 not modified, 0 failed" ]
    [ "$(sed -n 2p "$T/http.log")" = "GET /int.crl inm=$etag ims=$modified 304" ]
    [ "$(stat -c '%i %Y' "$STORED")" = "$before" ]
    # the index file kept as it was; written again when it is gone
    ix=$CRLDIR/.index/$(basename "$STORED")
    ix_before=$(stat -c '%i %Y' "$ix")
    "$CTL" crl refresh --dir "$CRLDIR" "$T/leaf.full.pem" >/dev/null
    [ "$(stat -c '%i %Y' "$ix")" = "$ix_before" ]
    rm "$ix"
    run "$CTL" crl refresh --dir "$CRLDIR" "$T/leaf.full.pem"
    [ "$status" -eq 0 ]
    [[ ${lines[0]} == "$URL: not modified: "* ]]
    index_of "$STORED" 0
}

@test "crl refresh: a newer CRL replaces the stored one" {
    first
    index_of "$STORED" 0
    serve int.crl --number 3 --revoke 1234
    run "$CTL" crl refresh --dir "$CRLDIR" "$T/leaf.full.pem"
    [ "$status" -eq 0 ]
    [[ ${lines[0]} == "$URL: fetched: $STORED (/CN=libstaple test intermediate, 1 entries, "* ]]
    cmp "$SRV/int.crl" "$STORED"
    index_of "$STORED" 1
    [[ $(sed -n 2p "$T/http.log") == 'GET /int.crl inm="'*'" ims='*' 200' ]]
}

@test "crl refresh: an older CRL (lower crlNumber) does not replace the stored one" {
    first
    serve int.crl --number 1
    run "$CTL" crl refresh --dir "$CRLDIR" "$T/leaf.full.pem"
    kept "$URL: failed: older than the CRL stored (crlNumber 1 < 2); the old CRL is kept"
}

@test "crl refresh: a forged, garbage, stale, future, delta, indirect or critical-extension CRL does not replace the good one" {
    first
    # the intermediate's name, another key's signature
    "$MKCRL" --number 9 "$PKI/int.pem" "$PKI/rogue.key" "$SRV/int.crl"
    run "$CTL" crl refresh --dir "$CRLDIR" "$T/leaf.full.pem"
    kept "$URL: failed: a bad signature (not by the key of /CN=libstaple test intermediate); the old CRL is kept"
    head -c 300 /dev/urandom >"$SRV/int.crl"
    run "$CTL" crl refresh --dir "$CRLDIR" "$T/leaf.full.pem"
    kept "$URL: failed: not a CRL (not DER); the old CRL is kept"
    serve int.crl --number 9 --this -7200 --next -3600
    run "$CTL" crl refresh --dir "$CRLDIR" "$T/leaf.full.pem"
    kept "$URL: failed: stale (nextUpdate $(next_update "$SRV/int.crl")); the old CRL is kept"
    serve int.crl --number 9 --this 3600
    run "$CTL" crl refresh --dir "$CRLDIR" "$T/leaf.full.pem"
    kept "$URL: failed: not yet valid (thisUpdate $(this_update "$SRV/int.crl")); the old CRL is kept"
    serve int.crl --number 9 --delta 2
    run "$CTL" crl refresh --dir "$CRLDIR" "$T/leaf.full.pem"
    kept "$URL: failed: a delta CRL (not used); the old CRL is kept"
    serve int.crl --number 9 --critical
    run "$CTL" crl refresh --dir "$CRLDIR" "$T/leaf.full.pem"
    kept "$URL: failed: an unknown critical extension; the old CRL is kept"
    # what only the library's own reader finds: left out as the client would
    serve int.crl --number 9 --revoke 99 --entry-critical
    run "$CTL" crl refresh --dir "$CRLDIR" "$T/leaf.full.pem"
    kept "$URL: failed: refused by the library's own check: a critical CRL entry extension it does not handle; the old CRL is kept"
    serve int.crl --number 9 --indirect
    run "$CTL" crl refresh --dir "$CRLDIR" "$T/leaf.full.pem"
    kept "$URL: failed: refused by the library's own check: an indirect CRL (indirect CRLs are not used); the old CRL is kept"
    [ "$(ls -A "$CRLDIR" "$CRLDIR/.index" | grep -c staplectl)" -eq 0 ]
}

@test "crl refresh: a CRL from another issuer, oversized, slow or redirected does not replace the good one" {
    first
    # the root's CRL at the leaf's point: not its issuer's
    "$MKCRL" --number 9 "$PKI/root.pem" "$PKI/root.key" "$SRV/int.crl"
    run "$CTL" crl refresh --dir "$CRLDIR" "$T/leaf.full.pem"
    kept "$URL: failed: issued by /CN=libstaple test root, not by the certificate's issuer; the old CRL is kept"
    serve int.crl --number 9 --entries 100
    size=$(stat -c %s "$SRV/int.crl")
    run "$CTL" crl refresh --dir "$CRLDIR" --max-size 2048 "$T/leaf.full.pem"
    kept "$URL: failed: the answer is too large ($size bytes, at most 2048); the old CRL is kept"
    # a URL whose good CRL is stored, which now stalls after its header
    slow=http://127.0.0.1:$PORT/slow/int.crl
    cp "$T/good.crl" "$CRLDIR/$(url_hash "$slow").crl"
    start=$(date +%s)
    run "$CTL" crl refresh --dir "$CRLDIR" --timeout 1 --CAfile "$PKI/chain.pem" "$slow"
    [ "$status" -eq 1 ]
    [ "${lines[0]}" = "$slow: failed: timed out waiting for the answer; the old CRL is kept" ]
    (($(date +%s) - start <= 4))
    cmp "$T/good.crl" "$CRLDIR/$(url_hash "$slow").crl"
    redirect=http://127.0.0.1:$PORT/redirect/int.crl
    run "$CTL" crl refresh --dir "$CRLDIR" --CAfile "$PKI/chain.pem" "$redirect"
    [ "$status" -eq 1 ]
    [ "${lines[0]}" = "$redirect: failed: HTTP status 302 Found (redirects are not followed); no CRL stored" ]
    [ ! -e "$CRLDIR/$(url_hash "$redirect").crl" ]
}

@test "crl refresh: a URL's CRL is kept only when a known issuer signed it" {
    serve other.crl --number 1
    other=http://127.0.0.1:$PORT/other.crl
    # the intermediate is known from --CAfile
    run "$CTL" crl refresh --dir "$CRLDIR" --CAfile "$PKI/chain.pem" "$other"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "$other: fetched: $CRLDIR/$(url_hash "$other").crl (/CN=libstaple test intermediate, 0 entries, next update $(next_update "$SRV/other.crl"); from url)" ]
    # a trust store without it: not known
    rm -r "$CRLDIR"
    run "$CTL" crl refresh --dir "$CRLDIR" --CAfile "$PKI/root.pem" "$other"
    [ "$status" -eq 1 ]
    [ "${lines[0]}" = "$other: failed: issued by /CN=libstaple test intermediate, not a known issuer; no CRL stored" ]
    [ ! -e "$CRLDIR/$(url_hash "$other").crl" ]
}

@test "crl refresh: register entries are fetched as untrusted input; bad ones are skipped with a line" {
    serve int.crl --number 1
    "$MKCRL" --number 1 "$PKI/rogue.pem" "$PKI/rogue.key" "$SRV/rogue.crl"
    mkdir -p "$CRLDIR/.wanted"
    rogue=http://127.0.0.1:$PORT/rogue.crl
    entry() { printf '# libstaple crl register entry\n# program: curl\n%s\n' "$1"; }
    entry "$URL" >"$CRLDIR/.wanted/$(url_hash "$URL").url"
    entry "$rogue" >"$CRLDIR/.wanted/$(url_hash "$rogue").url"
    entry "https://127.0.0.1:$PORT/int.crl" >"$CRLDIR/.wanted/a.url"
    printf '# something else\n# program: curl\n%s\n' "$URL" >"$CRLDIR/.wanted/b.url"
    { entry "$URL"; echo "$URL"; } >"$CRLDIR/.wanted/c.url"
    entry "http://127.0.0.1:$PORT/x y" >"$CRLDIR/.wanted/d.url"
    ln -s "$T/leaf.pem" "$CRLDIR/.wanted/e.url"
    run "$CTL" crl refresh --dir "$CRLDIR" --CAfile "$PKI/chain.pem"
    [ "$status" -eq 1 ]
    [ "${lines[0]}" = ".wanted/a.url: skipped: not an http:// URL of at most 4096 characters" ]
    [ "${lines[1]}" = ".wanted/b.url: skipped: not a crl register entry" ]
    [ "${lines[2]}" = ".wanted/c.url: skipped: not a crl register entry" ]
    [ "${lines[3]}" = ".wanted/d.url: skipped: a URL with a space or a control character" ]
    [ "${lines[4]}" = ".wanted/e.url: skipped: cannot be read" ]
    # scandir's order: the hashes sorted
    [ "${#lines[@]}" -eq 8 ]
    [[ $output == *"$URL: fetched: $STORED (/CN=libstaple test intermediate, 0 entries, next update $(next_update "$SRV/int.crl"); from .wanted/$(url_hash "$URL").url)"* ]]
    [[ $output == *"$rogue: failed: issued by /CN=libstaple rogue CA, not a known issuer; no CRL stored"* ]]
    [ "${lines[7]}" = "crl refresh: 2 CRLs: 1 fetched, 0 not modified, 1 failed" ]
    cmp "$SRV/int.crl" "$STORED"
}

@test "crl refresh: crls = in the config file, and system: the trust store's intermediates" {
    # an intermediate whose own distribution point names the root's CRL
    printf 'basicConstraints = critical, CA:true\nkeyUsage = critical, keyCertSign, cRLSign\ncrlDistributionPoints = URI:http://127.0.0.1:%s/root.crl\n' \
        "$PORT" >"$T/int2.ext"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$T/int2.key" -subj "/CN=second intermediate" -out "$T/int2.csr" 2>/dev/null
    openssl x509 -req -in "$T/int2.csr" -CA "$PKI/root.pem" -CAkey "$PKI/root.key" \
        -set_serial 0x77 -days 30 -extfile "$T/int2.ext" -out "$T/int2.pem" 2>/dev/null
    cat "$PKI/root.pem" "$T/int2.pem" >"$T/bundle.pem"
    "$MKCRL" --number 4 "$PKI/root.pem" "$PKI/root.key" "$SRV/root.crl"
    serve int.crl --number 1
    printf 'crl_dir = %s\ncrls = %s system\n' "$CRLDIR" "$T/leaf.full.pem" >"$LIBSTAPLE_CONF"
    SSL_CERT_FILE=$T/bundle.pem run "$CTL" crl refresh
    [ "$status" -eq 0 ]
    root=http://127.0.0.1:$PORT/root.crl
    [ "${lines[0]}" = "$URL: fetched: $STORED (/CN=libstaple test intermediate, 0 entries, next update $(next_update "$SRV/int.crl"); from $T/leaf.full.pem)" ]
    [ "${lines[1]}" = "$root: fetched: $CRLDIR/$(url_hash "$root").crl (/CN=libstaple test root, 0 entries, next update $(next_update "$SRV/root.crl"); from system ($T/bundle.pem))" ]
    [ "${lines[2]}" = "crl refresh: 2 CRLs: 2 fetched, 0 not modified, 0 failed" ]
}

@test "crl refresh --json: one object per URL and the summary" {
    first
    bad=http://127.0.0.1:$PORT/none.crl
    run "$CTL" crl refresh --dir "$CRLDIR" --json "$T/leaf.full.pem" "$bad"
    [ "$status" -eq 1 ]
    next=$(next_update "$SRV/int.crl")
    this=$(this_update "$SRV/int.crl")
    expected=$(cat <<EOF
{
  "crls": [
    {"url": "$URL", "source": "$T/leaf.full.pem", "result": "not-modified", "file": "$STORED", "issuer": "/CN=libstaple test intermediate", "entries": 0, "this_update": "$this", "next_update": "$next"},
    {"url": "$bad", "source": "url", "result": "failed", "file": "$CRLDIR/$(url_hash "$bad").crl", "reason": "HTTP status 404 Not Found"}
  ],
  "notes": [],
  "summary": {"crls": 2, "fetched": 0, "not_modified": 1, "failed": 1}
}
EOF
)
    [ "$output" = "$expected" ]
    python3 -c 'import json, sys; json.loads(sys.stdin.read())' <<<"$output"
}

@test "crl refresh: a certificate without a distribution point is one line; no source at all is a usage error" {
    run "$CTL" crl refresh --dir "$CRLDIR" "$PKI/rsa.pem"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "$PKI/rsa.pem: no certificate names an http:// CRL distribution point; nothing to do" ]
    [ "${lines[1]}" = "crl refresh: 0 CRLs: 0 fetched, 0 not modified, 0 failed" ]
    run "$CTL" crl refresh --dir "$CRLDIR"
    [ "$status" -eq 3 ]
    [ "$output" = "staplectl: crl refresh: no sources: give SOURCE (a certificate file, a glob, system or an http:// URL), or \`crls =\` in the config file" ]
}

@test "crl refresh: run by root, only into a directory that root alone can write" {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    mkdir -p "$CRLDIR" && chmod 0777 "$CRLDIR"
    serve int.crl --number 1
    run "$CTL" crl refresh --dir "$CRLDIR" "$T/leaf.full.pem"
    [ "$status" -eq 3 ]
    [ "$output" = "staplectl: $CRLDIR: not used: run by root, crl refresh writes only into a directory owned by root and writable by root alone" ]
    [ "$(ls -A "$CRLDIR")" = "" ]
    chmod 0755 "$CRLDIR"
    run "$CTL" crl refresh --dir "$CRLDIR" "$T/leaf.full.pem"
    [ "$status" -eq 0 ]
}

# crl_dir_mixed: in $CRLDIR (the config's crl_dir, inside the staple
# directory as by default) a current CRL with one entry, one past its next
# update but within crl_grace, a stale one, one by an unknown issuer, a
# forged one, a delta and garbage.
crl_dir_mixed() {
    CRLDIR=$T/staples/crl
    mkdir -p "$CRLDIR"
    printf 'dir = %s\ncrl_dir = %s\n' "$T/staples" "$CRLDIR" >"$LIBSTAPLE_CONF"
    "$MKCRL" --number 3 --revoke 1234 "$PKI/int.pem" "$PKI/int.key" "$CRLDIR/a.crl"
    "$MKCRL" --this -90000 --next -3600 "$PKI/int.pem" "$PKI/int.key" "$CRLDIR/b.crl"
    "$MKCRL" --this -200000 --next -100000 "$PKI/int.pem" "$PKI/int.key" "$CRLDIR/c.crl"
    "$MKCRL" "$PKI/rogue.pem" "$PKI/rogue.key" "$CRLDIR/d.crl"
    "$MKCRL" "$PKI/int.pem" "$PKI/rogue.key" "$CRLDIR/e.crl"
    "$MKCRL" --delta 2 "$PKI/int.pem" "$PKI/int.key" "$CRLDIR/f.crl"
    echo junk >"$CRLDIR/g.crl"
    : >"$CRLDIR/.a.crl.index"    # dot files are not the library's: not shown
    # show runs at NOW, a clock stopped half a minute on: ages and times
    # left are the same to the second however fast the test runs
    NOW=$(($(date +%s) + 30))
}

# ctl_at_now ARGS: staplectl ARGS with the clock stopped at $NOW.
ctl_at_now() {
    TZ=UTC faketime -f "$(date -u -d "@$NOW" '+%Y-%m-%d %H:%M:%S')" "$CTL" "$@"
}

# crl_line FILE: "this T (age A) next T" of the CRL FILE, as show prints it.
crl_times() {
    local this next age
    this=$(date -u -d "$(openssl crl -inform DER -in "$1" -noout -lastupdate | cut -d= -f2)" +%s)
    next=$(date -u -d "$(openssl crl -inform DER -in "$1" -noout -nextupdate | cut -d= -f2)" +%s)
    age=$((NOW - this))
    printf 'this %s (age %s) next %s' "$(date -u -d "@$this" +%Y-%m-%dT%H:%M:%SZ)" \
        "$(span "$age")" "$(date -u -d "@$next" +%Y-%m-%dT%H:%M:%SZ)"
}

# span SECONDS: as show prints a duration.
span() {
    local s=$1
    if ((s >= 86400)); then echo "$((s / 86400))d$((s % 86400 / 3600))h"
    elif ((s >= 3600)); then echo "$((s / 3600))h$((s % 3600 / 60))m"
    elif ((s >= 60)); then echo "$((s / 60))m"
    else echo "${s}s"; fi
}

@test "show: the CRL directory after the staples, one line per CRL: issuer, entries, age, next update, state" {
    crl_dir_mixed
    int='CRL issuer /CN=libstaple test intermediate'
    run ctl_at_now show --warn 1h --issuer "$PKI/int.pem"
    [ "$status" -eq 1 ]
    [ "${lines[0]}" = "$CRLDIR/a.crl: $int entries 1 $(crl_times "$CRLDIR/a.crl"): current (23h59m left)" ]
    [ "${lines[1]}" = "$CRLDIR/b.crl: $int entries 0 $(crl_times "$CRLDIR/b.crl"): past its next update (1h0m ago): used within crl_grace" ]
    [ "${lines[2]}" = "$CRLDIR/c.crl: $int entries 0 $(crl_times "$CRLDIR/c.crl"): stale (expired 1d3h ago): not used" ]
    [ "${lines[3]}" = "$CRLDIR/d.crl: CRL issuer /CN=libstaple rogue CA entries 0 $(crl_times "$CRLDIR/d.crl"): unknown issuer: signature not checked (give --issuer)" ]
    [ "${lines[4]}" = "$CRLDIR/e.crl: $int entries 0 $(crl_times "$CRLDIR/e.crl"): bad signature: not used" ]
    [ "${lines[5]}" = "$CRLDIR/f.crl: $int entries 0 $(crl_times "$CRLDIR/f.crl"): not used: a delta CRL" ]
    [ "${lines[6]}" = "$CRLDIR/g.crl: not a CRL (not DER)" ]
    [ "${#lines[@]}" -eq 7 ]
    # only the current one: nothing needs attention
    rm "$CRLDIR"/[b-g].crl
    run ctl_at_now show --warn 1h --issuer "$PKI/int.pem"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 1 ]
    # a CRL file named is shown as one too
    run ctl_at_now show --warn 1d --issuer "$PKI/int.pem" "$CRLDIR/a.crl"
    [ "$status" -eq 1 ]
    [ "$output" = "$CRLDIR/a.crl: $int entries 1 $(crl_times "$CRLDIR/a.crl"): current (23h59m left), expires within --warn" ]
}

@test "show --json and metrics: the CRLs' gauges" {
    crl_dir_mixed
    rm "$CRLDIR"/[c-f].crl
    run ctl_at_now show --json --warn 1h --issuer "$PKI/int.pem"
    [ "$status" -eq 1 ]
    python3 - "$output" "$CRLDIR" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
crls = {c["file"].rsplit("/", 1)[1]: c for c in d["crls"]}
assert d["staples"] == [] and d["attention"] is True, d
assert [c["state"] for c in d["crls"]] == ["current", "in-grace", "not-a-crl"], d
a = crls["a.crl"]
assert a["issuer"] == "/CN=libstaple test intermediate" and a["entries"] == 1, a
assert a["used"] is True and a["attention"] is False and 86000 < a["seconds_left"] <= 86400, a
assert crls["b.crl"]["used"] is True and crls["b.crl"]["attention"] is True
assert crls["g.crl"]["text"] == "not a CRL (not DER)"
PY
    run ctl_at_now metrics --warn 1h --issuer "$PKI/int.pem"
    [ "$status" -eq 1 ]
    i='issuer="/CN=libstaple test intermediate"'
    left=$(($(date -u -d "$(openssl crl -inform DER -in "$CRLDIR/a.crl" -noout -nextupdate | cut -d= -f2)" +%s) - NOW))
    [[ $output == *"libstaple_crl_entries{file=\"$CRLDIR/a.crl\",$i} 1"* ]]
    [[ $output == *"libstaple_crl_used{file=\"$CRLDIR/a.crl\",$i,state=\"current\"} 1"* ]]
    [[ $output == *"libstaple_crl_used{file=\"$CRLDIR/b.crl\",$i,state=\"in-grace\"} 1"* ]]
    [[ $output == *"libstaple_crl_used{file=\"$CRLDIR/g.crl\",state=\"not-a-crl\"} 0"* ]]
    grep -qE "^libstaple_crl_age_seconds\{file=\"$CRLDIR/b.crl\",$i\} 900[0-9]{2}\$" <<<"$output"
    got=$(grep -F "libstaple_crl_seconds_left{file=\"$CRLDIR/a.crl\",$i} " <<<"$output" | awk '{ print $NF }')
    ((got <= left && got >= left - 60))
    [ "${lines[-1]}" = "libstaple_crls_attention 2" ]
    [ "$(grep -c '^libstaple_crl_entries{' <<<"$output")" -eq 2 ]
    # no CRL directory: the staple-only output, unchanged
    rm -r "$CRLDIR"
    run ctl_at_now metrics
    [ "$status" -eq 0 ]
    [[ $output != *libstaple_crl* ]]
    [ "${lines[-1]}" = "libstaple_staples_attention 0" ]
}
