#!/usr/bin/env bats
# Client role, revocation from CRLs (crl_dir): a server that staples
# nothing presents a revoked leaf; a client under the preload that
# authenticated the server refuses it when a current CRL of its issuer in
# crl_dir lists it, exactly as it refuses a revoked staple. Programs that do
# not authenticate the server connect and log "not enforced". Every CRL that
# cannot be used (stale, future, forged, another shard, critical extension,
# delta, indirect, garbage) is treated as absent, with its own log line.
#
# CRLs: `openssl ca -gencrl` from the test PKI's database (the PKI's
# "revoked" leaf is revoked there), and tests/lib/mkcrl for the shapes it
# cannot make (partitioned, delta, critical extensions, any times).
# Servers: openssl s_server WITHOUT the preload, stapling nothing (or a file).

load lib/common
load lib/programs

setup_file() {
    pki_shared
    [[ -x $TOP/tests/.work/mkcrl ]] || make -C "$TOP" tests/.work/mkcrl >/dev/null
    export CP=$BATS_FILE_TMPDIR/crlpki
    mkdir -p "$CP"
    # the PKI's database, with a reason code for the revoked leaf
    awk -F '\t' -v OFS='\t' '$1 == "R" { $3 = $3 ",keyCompromise" } { print }' \
        "$PKI/index.txt" >"$CP/index.txt"
    echo 01 >"$CP/crlnumber"
    cat >"$CP/ca.cnf" <<EOF
[ ca ]
default_ca = ca_int
[ ca_int ]
database = $CP/index.txt
crlnumber = $CP/crlnumber
default_md = sha256
default_crl_days = 2
crl_extensions = crl_ext
[ crl_ext ]
authorityKeyIdentifier = keyid:always
[ ext_shard ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:shard.test
crlDistributionPoints = URI:http://crl.test/shard-a.crl
[ ext_short ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:short.test
EOF
    openssl ca -batch -gencrl -config "$CP/ca.cnf" -keyfile "$PKI/int.key" \
        -cert "$PKI/int.pem" -out "$CP/int.crl" 2>"$CP/gencrl.err"
    # a leaf with a CRL distribution point, and a short-lived one (3 days)
    local name days
    for name in shard short; do
        days=365
        [[ $name == short ]] && days=3
        openssl req -new -newkey rsa:2048 -nodes -keyout "$CP/$name.key" \
            -subj "/CN=$name.test" -out "$CP/$name.csr" 2>/dev/null
        openssl x509 -req -in "$CP/$name.csr" -CA "$PKI/int.pem" \
            -CAkey "$PKI/int.key" -set_serial "0x$(_pki_serial)" -days "$days" \
            -sha256 -extfile "$CP/ca.cnf" -extensions "ext_$name" \
            -out "$CP/$name.pem" 2>/dev/null
        openssl x509 -in "$CP/$name.pem" -noout -serial | sed 's/^serial=//' \
            >"$CP/$name.serial"
    done
}

setup() {
    setup_test
    PORT=$(free_port)
    export CRLS=$T/crl
    mkdir -p "$CRLS"
    conf ""
}

teardown() {
    kill_bg
}

# conf LINES: the config file: crl_dir, debug logging, then LINES.
conf() {
    printf 'crl_dir = %s\nlog_level = debug\n%s\n' "$CRLS" "$1" >"$LIBSTAPLE_CONF"
}

# mkcrl ARGS...: tests/lib/mkcrl (ISSUER.pem ISSUER.key OUT last).
mkcrl() {
    "$TOP/tests/.work/mkcrl" "$@"
}

# serve CERT KEY [STAPLE]: openssl s_server without the preload, for CERT
# (issued by the test intermediate), stapling STAPLE or nothing.
serve() {
    local args=()
    [[ -z ${3:-} ]] || args=(-status_file "$3")
    bg native openssl s_server -www -accept "127.0.0.1:$PORT" \
        -cert "$1" -key "$2" -cert_chain "$PKI/int.pem" "${args[@]}"
    wait_port "$PORT"
}

# serve_revoked / serve_rsa: the PKI's revoked and good leaves.
serve_revoked() { serve "$PKI/revoked.pem" "$PKI/revoked.key" "$@"; }
serve_rsa() { serve "$PKI/rsa.pem" "$PKI/rsa.key" "$@"; }

# sclient NAME [ARGS...]: s_client under the preload, authenticating the
# server (-verify_return_error); 0 when the handshake succeeded.
sclient() {
    local name=$1
    shift
    printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 env LD_PRELOAD="$PRELOAD" \
        openssl s_client -connect "127.0.0.1:$PORT" -servername "$name" \
        -CAfile "$PKI/ca.pem" -verify_return_error -ign_eof "$@" \
        >"$T/client.out" 2>&1
}

@test "a revoked leaf without a staple is refused by s_client, curl and python3 (CRL from openssl ca -gencrl, PEM)" {
    cp "$CP/int.crl" "$CRLS/intermediate.pem"
    serve_revoked
    run -1 sclient revoked.test
    grep -q "invalid status response" "$T/client.out"
    local n=2
    run -1 timeout 60 env LD_PRELOAD="$PRELOAD" python3 "$TOP/tests/lib/tls_client.py" \
        "https://revoked.test:$PORT/" "$PKI/ca.pem" "revoked.test:$PORT:127.0.0.1"
    # under `make check-asan` curl hangs in setlocale (libasan alone does)
    if [[ -z $PRELOAD_BASE ]]; then
        n=3
        run -35 timeout 10 env LD_PRELOAD="$PRELOAD" curl -sS --cacert "$PKI/ca.pem" \
            --resolve "revoked.test:$PORT:127.0.0.1" "https://revoked.test:$PORT/"
    fi
    [ "$(log_count "error: revoked.test: rejected /CN=revoked.test: revoked: listed in CRL intermediate.pem: reason keyCompromise (1), revoked 20.* UTC (policy must-staple)")" -eq "$n" ]
}

@test "programs that do not authenticate the server connect, and log not enforced" {
    cp "$CP/int.crl" "$CRLS/int.crl"
    serve_revoked
    printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 env LD_PRELOAD="$PRELOAD" \
        openssl s_client -connect "127.0.0.1:$PORT" -servername revoked.test \
        -ign_eof >"$T/client.out" 2>&1
    grep -q "^New, " "$T/client.out"
    local n=1
    if [[ -z $PRELOAD_BASE ]]; then   # curl hangs under libasan alone
        n=2
        run -0 timeout 10 env LD_PRELOAD="$PRELOAD" curl -sSk \
            --resolve "revoked.test:$PORT:127.0.0.1" "https://revoked.test:$PORT/"
    fi
    [ "$(log_count "warn: revoked.test: not enforced: /CN=revoked.test: revoked: listed in CRL int.crl: reason keyCompromise (1).*the program does not verify the server")" -eq "$n" ]
    [ "$(log_count "rejected")" -eq 0 ]
}

@test "a leaf the CRL does not list is accepted; no CRL: accepted under check, refused under require" {
    cp "$CP/int.crl" "$CRLS/int.crl"
    serve_rsa
    run -0 sclient rsa.test
    [ "$(log_count "accepted /CN=rsa.test: missing: no staple; not listed in CRL int.crl")" -eq 1 ]
    rm "$CRLS/int.crl"
    run -0 sclient rsa.test
    [ "$(log_count "debug: rsa.test: accepted /CN=rsa.test: missing: no staple (policy must-staple)")" -eq 1 ]
    conf "crl = require"
    run -1 sclient rsa.test
    [ "$(log_count "error: rsa.test: rejected /CN=rsa.test: missing: no staple; no current CRL covers it (crl = require) (policy must-staple)")" -eq 1 ]
}

@test "crl = require for a [host] only; crl = off at the top, per host and per program" {
    serve_rsa
    conf $'[host rsa.test]\ncrl = require'
    run -1 sclient rsa.test
    conf $'crl = require\n[host rsa.test]\ncrl = check'
    run -0 sclient rsa.test
    kill_bg
    cp "$CP/int.crl" "$CRLS/int.crl"
    serve_revoked
    conf "crl = off"
    run -0 sclient revoked.test
    conf $'[host *.test]\ncrl = off'
    run -0 sclient revoked.test
    conf $'[program openssl]\ncrl = off'
    run -0 sclient revoked.test
    conf $'[program not-openssl]\ncrl = off'
    run -1 sclient revoked.test
    [ "$(log_count "rejected /CN=revoked.test: revoked: listed in CRL")" -eq 1 ]
}

@test "a bad crl value keeps the stricter default, logged" {
    conf $'crl = bogus\n[host a.test]\ncrl = nope'
    cp "$CP/int.crl" "$CRLS/int.crl"
    serve_revoked
    run -1 sclient revoked.test
    [ "$(log_count "error: $LIBSTAPLE_CONF:3: bad crl 'bogus' (off, check or require); keeping check")" -eq 1 ]
    [ "$(log_count "error: $LIBSTAPLE_CONF:5: bad crl 'nope' (off, check or require); keeping check")" -eq 1 ]
}

@test "a DER CRL from mkcrl works too; the stapled answer, when valid, wins" {
    mkcrl --revoke "$(cat "$PKI/revoked.serial")" "$PKI/int.pem" "$PKI/int.key" "$CRLS/a.der"
    serve_revoked
    run -1 sclient revoked.test
    [ "$(log_count "rejected /CN=revoked.test: revoked: listed in CRL a.der: reason keyCompromise (1)")" -eq 1 ]
    kill_bg
    pki_ocsp "$PKI" revoked good issuer now "$T/good.der"
    serve_revoked "$T/good.der"
    run -0 sclient revoked.test
    [ "$(log_count "accepted /CN=revoked.test: good (policy must-staple)")" -eq 1 ]
}

# twice NAME: two full handshakes in one Python process under the preload,
# each with its own context (no resumption), authenticating the server;
# prints each outcome ("ok" or the error).
twice() {
    timeout 60 env LD_PRELOAD="$PRELOAD" python3 -c '
import socket, ssl, sys
for i in range(2):
    ctx = ssl.create_default_context(cafile=sys.argv[1])
    try:
        with socket.create_connection(("127.0.0.1", int(sys.argv[2]))) as raw:
            with ctx.wrap_socket(raw, server_hostname=sys.argv[3]):
                print("ok")
    except Exception as e:
        print("failed:", e)
' "$PKI/ca.pem" "$PORT" "$1"
}

# ignored LINE ARGS...: a CRL made by mkcrl ARGS (revoking the revoked leaf)
# is not used: the revoked leaf connects, twice in one process, and LINE
# is logged once.
ignored() {
    local line=$1
    shift
    mkcrl --revoke "$(cat "$PKI/revoked.serial")" "$@" "$CRLS/bad.crl"
    serve_revoked
    run -0 twice revoked.test
    [ "$output" = $'ok\nok' ]
    [ "$(log_count "rejected")" -eq 0 ]
    [ "$(log_count "warn: CRL bad.crl: $line")" -eq 1 ]
    [ "$(log_count "debug: revoked.test: accepted /CN=revoked.test: missing: no staple (policy must-staple)")" -eq 2 ]
}

@test "a stale CRL is ignored (and used within crl_grace)" {
    ignored "not used: stale (nextUpdate passed .* ago, crl_grace 86400 s)" \
        --this -259200 --next -172800 "$PKI/int.pem" "$PKI/int.key"
    kill_bg
    conf "crl_grace = 3d"
    run -1 sclient revoked.test
}

@test "a CRL from the future is ignored" {
    ignored "not used: thisUpdate is in the future" --this 7200 --next 90000 \
        "$PKI/int.pem" "$PKI/int.key"
}

@test "a forged CRL (the issuer's name, another key) is ignored" {
    ignored "not used: bad signature (not signed by this issuer's key) /CN=libstaple test intermediate" \
        "$PKI/int.pem" "$PKI/rogue.key"
}

@test "a CRL of another issuer is not used for this one" {
    mkcrl --revoke "$(cat "$PKI/revoked.serial")" "$PKI/rogue.pem" "$PKI/rogue.key" "$CRLS/rogue.crl"
    serve_revoked
    run -0 sclient revoked.test
    [ "$(log_count "rejected")" -eq 0 ]
    [ "$(log_count "debug: revoked.test: accepted /CN=revoked.test: missing: no staple (policy must-staple)")" -eq 1 ]
}

@test "a CRL with an unknown critical extension, or entry extension, is ignored" {
    ignored "not used: a critical CRL extension it does not handle" --critical \
        "$PKI/int.pem" "$PKI/int.key"
    kill_bg
    rm -f "$T/staple.log"
    ignored "not used: a critical CRL entry extension it does not handle" \
        --entry-critical "$PKI/int.pem" "$PKI/int.key"
}

@test "delta and indirect CRLs are ignored" {
    ignored "not used: a delta CRL (delta CRLs are not used)" --delta 1 \
        "$PKI/int.pem" "$PKI/int.key"
    kill_bg
    rm -f "$T/staple.log"
    ignored "not used: an indirect CRL (indirect CRLs are not used)" --indirect \
        "$PKI/int.pem" "$PKI/int.key"
}

@test "garbage in crl_dir is ignored with one line; dot-entries are skipped silently" {
    head -c 600 /dev/urandom >"$CRLS/garbage.crl"
    head -c 600 /dev/urandom >"$CRLS/.partial.tmp"
    cp "$CP/int.crl" "$CRLS/int.crl"
    serve_revoked
    run -0 twice revoked.test
    [ "${lines[0]}" != ok ] && [ "${lines[1]}" != ok ]
    [ "$(log_count "warn: CRL garbage.crl: not used: not a DER or PEM CRL, or not strict DER")" -eq 1 ]
    [ "$(log_count "partial")" -eq 0 ]
    [ "$(log_count "rejected /CN=revoked.test: revoked: listed in CRL int.crl")" -eq 2 ]
}

@test "a partitioned CRL counts only for the leaves of its distribution point" {
    serve "$CP/shard.pem" "$CP/shard.key"
    mkcrl --idp http://crl.test/shard-b.crl --revoke "$(cat "$CP/shard.serial")" \
        "$PKI/int.pem" "$PKI/int.key" "$CRLS/shard-b.crl"
    run -0 sclient shard.test
    [ "$(log_count "info: CRL shard-b.crl: not for this certificate: a shard for another distribution point")" -eq 1 ]
    [ "$(log_count "info: no CRL in $CRLS for distribution point http://crl.test/shard-a.crl")" -eq 1 ]
    # no register directory (the library never makes one): said once, nothing written
    [ "$(log_count "warn: register $CRLS/.wanted: .*distribution points are not recorded")" -eq 1 ]
    [ ! -e "$CRLS/.wanted" ]
    # with one, the distribution point is recorded for staplectl crl refresh
    mkdir -m 0755 "$CRLS/.wanted"
    run -0 sclient shard.test
    local entry
    entry=$CRLS/.wanted/$(printf 'http://crl.test/shard-a.crl' | sha1sum | cut -c1-16).url
    [ "$(cat "$entry")" = $'# libstaple crl register entry\n# program: openssl\nhttp://crl.test/shard-a.crl' ]
    [ "$(log_count "info: registered distribution point http://crl.test/shard-a.crl in $CRLS/.wanted as ")" -eq 1 ]
    mkcrl --idp http://crl.test/shard-a.crl --revoke "$(cat "$CP/shard.serial")" \
        "$PKI/int.pem" "$PKI/int.key" "$CRLS/shard-a.crl"
    run -1 sclient shard.test
    [ "$(log_count "error: shard.test: rejected /CN=shard.test: revoked: listed in CRL shard-a.crl: reason keyCompromise (1)")" -eq 1 ]
}

@test "short-lived certificates are exempt, unless crl_short_lived = check" {
    serve "$CP/short.pem" "$CP/short.key"
    mkcrl --revoke "$(cat "$CP/short.serial")" "$PKI/int.pem" "$PKI/int.key" "$CRLS/int.crl"
    run -0 sclient short.test
    [ "$(log_count "accepted /CN=short.test: missing: no staple; short-lived certificate: exempt from CRLs")" -eq 1 ]
    conf "crl_short_lived = check"
    run -1 sclient short.test
    [ "$(log_count "rejected /CN=short.test: revoked: listed in CRL int.crl")" -eq 1 ]
}

@test "the refresher's index file is mapped instead of reading the CRL; one anybody can change is not" {
    [[ -x $TOP/tests/.work/crlindex ]] || make -C "$TOP" -s tests/.work/crlindex >/dev/null
    [ "$(id -u)" -eq 0 ] || skip "index files are root's: needs root"
    cp "$CP/int.crl" "$CRLS/int.crl"
    "$TOP/tests/.work/crlindex" "$CRLS" int.crl "$PKI/int.pem"
    [ -f "$CRLS/.index/int.crl" ]
    serve_revoked
    run -1 sclient revoked.test
    [ "$(log_count "debug: CRL int.crl: 1 entries, from its index file")" -eq 1 ]
    [ "$(log_count "rejected /CN=revoked.test: revoked: listed in CRL int.crl: reason keyCompromise (1)")" -eq 1 ]
    # writable by others: not mapped (logged), the CRL itself is read
    chmod 0666 "$CRLS/.index/int.crl"
    run -1 sclient revoked.test
    [ "$(log_count "warn: CRL int.crl: index file not used: it and its directory must be root's and writable by root alone")" -eq 1 ]
    [ "$(log_count "debug: CRL int.crl: 1 entries read")" -eq 1 ]
    chmod 0644 "$CRLS/.index/int.crl"
    # a newer CRL in place of the one indexed (and not listing the leaf):
    # the old index is not used
    mkcrl "$PKI/int.pem" "$PKI/int.key" "$CRLS/new.crl"
    mv "$CRLS/new.crl" "$CRLS/int.crl"
    run -0 sclient revoked.test
    [ "$(log_count "debug: CRL int.crl: 0 entries read")" -eq 1 ]
    [ "$(log_count "accepted /CN=revoked.test: missing: no staple; not listed in CRL int.crl")" -eq 1 ]
}

@test "the CRL directory in the staple directory (its default place is DIR/crl) is skipped silently by servers" {
    mkdir -p "$T/staples/crl" "$T/staples/other"
    conf "crl_dir = $T/staples/crl"
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
    s_server "$PORT" rsa
    [ "$(staple "$PORT" -servername rsa.test)" = "$(serial rsa) good" ]
    [ "$(log_count "crl")" -eq 0 ]
    # another directory is still reported
    [ "$(log_count "other: not a regular file; skipped")" -eq 1 ]
}

@test "psql sslmode=verify-full refuses a leaf a CRL lists; sslmode=require connects, not enforced" {
    [[ -x $PG_BIN/postgres ]] || skip "needs PostgreSQL (Debian package postgresql)"
    [[ -z $PRELOAD_BASE ]] || skip "psql and postgres hang in setlocale with libasan preloaded"
    local d=$T
    # postgres runs as its own user: it must reach the key and certificate
    while [[ $d == "${BATS_RUN_TMPDIR:-$T}"* && $d != / ]]; do
        chmod o+x "$d"
        d=$(dirname "$d")
    done
    # the Must-Staple leaf under policy soft: only a revocation refuses it
    mkcrl --revoke "$(cat "$PKI/must.serial")" "$PKI/int.pem" "$PKI/int.key" "$CRLS/int.crl"
    pg_start must
    local got
    got=$(pg_client verify-full LIBSTAPLE_POLICY=soft)
    [[ $got == "refused: "*"invalid status response"* ]]
    [ "$(log_count "error: must.test: rejected /CN=must.test \[Must-Staple\]: revoked: listed in CRL int.crl: reason keyCompromise (1)")" -eq 1 ]
    [[ $(pg_client require LIBSTAPLE_POLICY=soft) == "ssl TLSv1."* ]]
    [ "$(log_count "warn: must.test: not enforced: /CN=must.test \[Must-Staple\]: revoked: listed in CRL int.crl")" -eq 1 ]
    # the control: without the CRL, verify-full connects
    rm "$CRLS/int.crl"
    [[ $(pg_client verify-full LIBSTAPLE_POLICY=soft) == "ssl TLSv1."* ]]
    pg_stop
}
