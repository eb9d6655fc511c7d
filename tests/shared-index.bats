#!/usr/bin/env bats
# The shared staple index (DIR/.index/staples, preload/shared.h): written by
# `staplectl index` and `staplectl refresh`, mapped read-only by every server
# process. It is a cache of the directory, never a source: a staple replaced,
# rewritten in place or removed after indexing is served as the directory has
# it, a refused or malformed index costs nothing but the sharing, and every
# fork model (nginx's master and workers, workers killed mid-reload,
# fork-per-connection, threads, independent processes) shares one copy.
#
# With log_level = debug the library logs "DIR/NAME: 1 certificate(s)" each
# time it reads a staple file itself: no such line means the staple came from
# the index.

load lib/common

setup_file() {
    # bench's probe (one handshake: "WORKERPID STATUS") and staple generator
    cc -o "$BATS_FILE_TMPDIR/probe" "$BATS_TEST_DIRNAME/../bench/probe.c" -lssl -lcrypto
    cc -o "$BATS_FILE_TMPDIR/gen" "$BATS_TEST_DIRNAME/../bench/gen_staples.c" -lssl -lcrypto
}

setup() {
    setup_test
    PORT=$(free_port)
    CTL=$TOP/staplectl
    IX=$T/staples/.index/staples
    printf 'log_level = debug\nreload_interval = 1\n' >"$LIBSTAPLE_CONF"
    pki_ocsp "$PKI" rsa good issuer now "$T/good.der"
    pki_ocsp "$PKI" rsa revoked issuer now "$T/revoked.der"
}

teardown() {
    kill_bg
}

# replace SRC DEST: the atomic way, a temporary name and a rename.
replace() {
    cp "$1" "$(dirname "$2")/.tmp.$$"
    mv "$(dirname "$2")/.tmp.$$" "$2"
}

# index: `staplectl index` of the staple directory, checked.
index() {
    run --separate-stderr "$CTL" index --dir "$T/staples"
    [ "$status" -eq 0 ]
    [[ $output =~ ^"index: $IX: "[0-9]+" files"$ ]]
}

# read_lines [NAME]: how many times the library read a staple file itself
# (NAME's only, with NAME).
read_lines() {
    log_count "$T/staples/${1:-[^ ]*}: [0-9]* certificate(s)"
}

# log_since LINE: the log from line LINE + 1 on.
log_since() {
    tail -n "+$(($1 + 1))" "$LIBSTAPLE_LOG"
}

# log_lines: how many lines the log has now.
log_lines() {
    if [[ -f $LIBSTAPLE_LOG ]]; then wc -l <"$LIBSTAPLE_LOG"; else echo 0; fi
}

# alive PID: the process is still running (not a zombie).
alive() {
    kill -0 "$1" 2>/dev/null && [[ $(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) == [^Z]* ]]
}

# ix_maps PID: the lines of PID's maps that map the staple directory's index.
ix_maps() {
    grep -F -- "$IX" "/proc/$1/maps" || true
}


@test "staplectl index writes .index/staples; a server started after it staples from the index" {
    cp "$T/good.der" "$T/staples/rsa.der"
    pki_ocsp "$PKI" ecdsa good issuer now "$T/staples/ecdsa.der"
    run --separate-stderr "$CTL" index --dir "$T/staples"
    [ "$status" -eq 0 ]
    [ "$output" = "index: $IX: 2 files" ]
    [ "$(stat -c '%u %a %F' "$T/staples/.index")" = "0 755 directory" ]
    [ "$(stat -c '%u %a %F' "$IX")" = "0 644 regular file" ]
    [ "$(ls -A "$T/staples/.index")" = staples ]    # no temporary file left
    s_server "$PORT" rsa
    [ "$(staple "$PORT" -servername rsa.test)" = "$(serial rsa) good" ]
    [ "$(log_count ": debug: $IX: 2 files shared$")" -eq 1 ]
    [ "$(read_lines)" -eq 0 ]
    [ "$(log_count ": debug: stapling rsa.der$")" -eq 1 ]
}

@test "staplectl refresh writes the index at its end, listing the files it stored" {
    RPORT=$(free_port)
    leaf_with_ocsp_url fleet "http://127.0.0.1:$RPORT/"
    ocsp_responder "$T/index.txt" responder
    cp "$T/good.der" "$T/staples/rsa.der"
    run --separate-stderr "$CTL" refresh --dir "$T/staples" "$T/fleet.full.pem"
    [ "$status" -eq 0 ]
    [[ ${lines[-1]} == "refresh: 1 certificates: 1 fetched, 0 fresh, 0 without OCSP, 0 failed" ]]
    [[ $output != *index* ]]     # silently
    [ "$(stat -c '%u %a' "$IX")" = "0 644" ]
    [ "$(ls -A "$T/staples/.index")" = staples ]
    # both files are in it: a server maps it and reads neither file itself
    local f files=("$T"/staples/*)
    [ "${#files[@]}" -eq 2 ]
    for f in "${files[@]##*/}"; do [[ $f != rsa.der ]] && break; done
    [[ $f != rsa.der && -f $T/staples/$f ]]
    grep -a -q -F "$f" "$IX"
    grep -a -q -F rsa.der "$IX"
    bg fleet env LD_PRELOAD="$PRELOAD" openssl s_server -www -accept "127.0.0.1:$PORT" \
        -cert "$T/fleet.pem" -key "$T/fleet.key" -cert_chain "$PKI/int.pem"
    wait_port "$PORT"
    local want
    want="$(openssl x509 -in "$T/fleet.pem" -noout -serial | cut -d= -f2) good"
    [ "$(staple "$PORT")" = "$want" ]
    [ "$(log_count ": debug: $IX: 2 files shared$")" -eq 1 ]
    [ "$(read_lines)" -eq 0 ]
    # a second run with nothing to fetch leaves the index alone
    local ino
    ino=$(stat -c %i "$IX")
    run --separate-stderr "$CTL" refresh --dir "$T/staples" "$T/fleet.full.pem"
    [ "$status" -eq 0 ]
    [[ ${lines[-1]} == "refresh: 1 certificates: 0 fetched, 1 fresh, 0 without OCSP, 0 failed" ]]
    [ "$(stat -c %i "$IX")" = "$ino" ]
}

@test "a staple replaced by rename after indexing is served within the interval; only that file is read" {
    cp "$T/good.der" "$T/staples/rsa.der"
    pki_ocsp "$PKI" ecdsa good issuer now "$T/staples/ecdsa.der"
    index
    s_server "$PORT" rsa
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    [ "$(read_lines)" -eq 0 ]
    replace "$T/revoked.der" "$T/staples/rsa.der"
    staple_within 3 "$(serial rsa) revoked" "$PORT"
    sleep 1.1     # one more check: still that one file only, once
    [ "$(staple "$PORT")" = "$(serial rsa) revoked" ]
    [ "$(read_lines)" -eq 1 ]
    [ "$(read_lines rsa.der)" -eq 1 ]
    [ "$(log_count ": debug: $IX: 2 files shared$")" -eq 1 ]
}

@test "files the index skipped (a link, not a response) or lacks (added since) are read by the process" {
    ln -s "$T/good.der" "$T/staples/rsa.der"
    pki_garbage "$T/staples/bad.der"
    index
    [ "$output" = "index: $IX: 2 files" ]
    s_server "$PORT" rsa -dcert "$PKI/ecdsa.pem" -dkey "$PKI/ecdsa.key"
    [ "$(staple "$PORT" -sigalgs rsa_pss_rsae_sha256)" = "$(serial rsa) good" ]
    [ "$(staple "$PORT" -sigalgs ecdsa_secp256r1_sha256)" = none ]
    [ "$(log_count ": debug: $IX: 2 files shared$")" -eq 1 ]
    [ "$(read_lines rsa.der)" -eq 1 ]
    [ "$(log_count ": warn: $T/staples/bad.der: not a DER OCSP response; skipped$")" -eq 1 ]
    pki_ocsp "$PKI" ecdsa revoked issuer now "$T/ecdsa.der"
    replace "$T/ecdsa.der" "$T/staples/ecdsa.der"
    staple_within 3 "$(serial ecdsa) revoked" "$PORT" -sigalgs ecdsa_secp256r1_sha256
    [ "$(staple "$PORT" -sigalgs rsa_pss_rsae_sha256)" = "$(serial rsa) good" ]
    [ "$(read_lines ecdsa.der)" -eq 1 ]
    [ "$(read_lines)" -eq 2 ]
}

@test "a staple rewritten in place after indexing (same size) is served; truncated to 0 bytes, none is" {
    # good and unknown: the same size, the same inode, different bytes
    pki_ocsp "$PKI" rsa unknown issuer now "$T/unknown.der"
    cp "$T/good.der" "$T/staples/rsa.der"
    [ "$(stat -c %s "$T/good.der")" = "$(stat -c %s "$T/unknown.der")" ]
    run cmp -s "$T/good.der" "$T/unknown.der"
    [ "$status" -eq 1 ]
    index
    s_server "$PORT" rsa
    local server=$BG_PID ino
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    ino=$(stat -c %i "$T/staples/rsa.der")
    cat "$T/unknown.der" >"$T/staples/rsa.der"
    [ "$(stat -c %i "$T/staples/rsa.der")" = "$ino" ]
    # the sweep runs once the directory has been still for 2 s
    staple_within 5 "$(serial rsa) unknown" "$PORT"
    [ "$(read_lines rsa.der)" -eq 1 ]
    # truncated in place: nothing to serve, and the index's record of
    # the file is not taken instead
    : >"$T/staples/rsa.der"
    staple_within 4 none "$PORT"
    for _ in 1 2 3; do
        [ "$(staple "$PORT")" = none ]
    done
    alive "$server"
    [ "$(log_count ": warn: $T/staples/rsa.der: not a DER OCSP response; skipped$")" -eq 1 ]
}

@test "a staple found rewritten in place stays served as the file is when the directory changes again" {
    # a later listing (a file added) must not take the index's record of a
    # file this process found changed: its inode is the same
    cp "$T/good.der" "$T/staples/rsa.der"
    index
    s_server "$PORT" rsa
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    cat "$T/revoked.der" >"$T/staples/rsa.der"
    staple_within 5 "$(serial rsa) revoked" "$PORT"
    replace "$T/good.der" "$T/staples/other.der"
    sleep 1.2
    for _ in 1 2 3 4; do
        [ "$(staple "$PORT")" = "$(serial rsa) revoked" ]
        sleep 0.5
    done
}

@test "a staple rewritten in place before the server starts is served as the file is, from the first handshake" {
    # the index may be days older than the process: its first scan stat()s
    # every file, and a file rewritten in place (same inode) is read
    pki_ocsp "$PKI" rsa unknown issuer now "$T/unknown.der"
    cp "$T/good.der" "$T/staples/rsa.der"
    index
    cat "$T/unknown.der" >"$T/staples/rsa.der"
    s_server "$PORT" rsa
    [ "$(staple "$PORT")" = "$(serial rsa) unknown" ]
    [ "$(read_lines rsa.der)" -eq 1 ]
    [ "$(log_count ": debug: $IX: 1 files shared$")" -eq 1 ]
}

@test "a staple removed after indexing is not served from the index any more" {
    cp "$T/good.der" "$T/staples/rsa.der"
    index
    s_server "$PORT" rsa
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    rm "$T/staples/rsa.der"
    staple_within 3 none "$PORT"
    sleep 1.1     # swept again: still none
    [ "$(staple "$PORT")" = none ]
    [ "$(read_lines)" -eq 0 ]
}

# refused_index HOW: an index that must not be used is logged once, and
# every staple is read from its file.
refused_index() {
    cp "$T/good.der" "$T/staples/rsa.der"
    index
    case $1 in
        group-writable) chmod 0775 "$T/staples/.index" ;;
        not-root) chown nobody "$IX" ;;
    esac
    s_server "$PORT" rsa
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    sleep 2.2     # more checks, each meeting the index
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    [ "$(log_count ": warn: $IX: not used: it and its directory must be root's and writable by root alone; skipped$")" -eq 1 ]
    [ "$(log_count "files shared")" -eq 0 ]
    [ "$(read_lines rsa.der)" -eq 1 ]
    # and a change is still followed
    replace "$T/revoked.der" "$T/staples/rsa.der"
    staple_within 3 "$(serial rsa) revoked" "$PORT"
}

@test "an index in a group-writable .index is refused once; staples come from the files" {
    refused_index group-writable
}

@test "an index owned by another user is refused once; staples come from the files" {
    refused_index not-root
}

# corrupt HOW: rewrite a copy of the index as HOW says, then rename it in.
corrupt() {
    python3 - "$IX" "$1" <<'EOF'
import os, struct, sys
path, how = sys.argv[1:]
b = bytearray(open(path, "rb").read())
# struct staple_shared_header (preload/shared.h), native order on x86-64
H = struct.Struct("=8sIIQQQqqqqqqIIIIQQQQQQQQQQ")
(magic, version, order, size, dev, ino, ms, mn, cs, cn, bs, bn, nfiles,
 nentries, nbuckets, flags, files, entries, start, slots, names, blobs, der,
 names_len, blobs_len, der_len) = H.unpack_from(b, 0)
F = struct.Struct("=QQqqIIIIQIIII")     # struct staple_shared_file, 72 bytes
E = struct.Struct("=qqIIiiBBBBI")       # struct staple_shared_entry, 40 bytes
assert H.size == 184 and F.size == 72 and E.size == 40 and nfiles == 2
if how == "truncated":
    b = b[:len(b) // 2]
elif how == "garbage":
    b = bytearray(os.urandom(len(b)))
elif how == "flipped":
    # every byte of the records, entries, buckets and slots inverted: a
    # sound header over garbage
    for i in range(files, names):
        b[i] ^= 0xFF
elif how == "swapped-der":
    # each file's record points at the other file's response
    r0, r1 = list(F.unpack_from(b, files)), list(F.unpack_from(b, files + F.size))
    r0[8:10], r1[8:10] = r1[8:10], r0[8:10]
    F.pack_into(b, files, *r0)
    F.pack_into(b, files + F.size, *r1)
elif how == "status":
    # every entry's status turned to revoked (1), the DER unchanged
    for k in range(nentries):
        e = list(E.unpack_from(b, entries + k * E.size))
        e[5] = 1
        E.pack_into(b, entries + k * E.size, *e)
elif how == "offsets":
    # every record's offsets past the end of the file
    for k in range(nfiles):
        r = list(F.unpack_from(b, files + k * F.size))
        r[6] = r[8] = r[10] = 0xFFFFFFF0
        F.pack_into(b, files + k * F.size, *r)
else:
    sys.exit("corrupt: " + how)
tmp = os.path.join(os.path.dirname(path), ".bad.tmp")
open(tmp, "wb").write(b)
os.chmod(tmp, 0o644)
os.rename(tmp, path)
EOF
}

# malformed_index HOW RSA ECDSA: with the index corrupted as HOW says, the
# server keeps answering, and staples RSA for its RSA certificate and ECDSA
# for its ECDSA one, all along ("good", "revoked" or "none": never another
# certificate's response or status).
malformed_index() {
    cp "$T/good.der" "$T/staples/rsa.der"
    pki_ocsp "$PKI" ecdsa revoked issuer now "$T/staples/ecdsa.der"
    index
    corrupt "$1"
    s_server "$PORT" rsa -dcert "$PKI/ecdsa.pem" -dkey "$PKI/ecdsa.key"
    local server=$BG_PID want_rsa=$2 want_ecdsa=$3
    [[ $want_rsa == none ]] || want_rsa="$(serial rsa) $want_rsa"
    [[ $want_ecdsa == none ]] || want_ecdsa="$(serial ecdsa) $want_ecdsa"
    for i in 1 2; do    # at start, and after a check
        ((i == 1)) || sleep 1.1
        [ "$(staple "$PORT" -sigalgs rsa_pss_rsae_sha256)" = "$want_rsa" ]
        [ "$(staple "$PORT" -sigalgs ecdsa_secp256r1_sha256)" = "$want_ecdsa" ]
    done
    alive "$server"
}

@test "a truncated index is refused as malformed; staples come from the files" {
    malformed_index truncated good revoked
    [ "$(log_count ": warn: $IX: not used: malformed; skipped$")" -eq 1 ]
    [ "$(log_count "files shared")" -eq 0 ]
}

@test "an index of random bytes is refused as malformed; staples come from the files" {
    malformed_index garbage good revoked
    [ "$(log_count ": warn: $IX: not used: malformed; skipped$")" -eq 1 ]
    [ "$(log_count "files shared")" -eq 0 ]
}

@test "an index with a sound header over inverted records: its records are not followed, the files are read" {
    malformed_index flipped good revoked
    [ "$(log_count ": debug: $IX: 2 files shared$")" -eq 1 ]
    [ "$(read_lines rsa.der)" -eq 1 ]
    [ "$(read_lines ecdsa.der)" -eq 1 ]
}

@test "an index whose records point at each other's response: vetting serves neither" {
    malformed_index swapped-der none none
    [ "$(log_count ": debug: $IX: 2 files shared$")" -eq 1 ]
    [ "$(log_count ": warn: $T/staples/rsa.der: OpenSSL reads this response otherwise; not served$")" -eq 1 ]
    [ "$(log_count ": warn: $T/staples/ecdsa.der: OpenSSL reads this response otherwise; not served$")" -eq 1 ]
    [ "$(read_lines)" -eq 0 ]
}

@test "an index whose entries say revoked over a good response: that one is not served" {
    malformed_index status none revoked
    [ "$(log_count ": warn: $T/staples/rsa.der: OpenSSL reads this response otherwise; not served$")" -eq 1 ]
    [ "$(read_lines)" -eq 0 ]
}

@test "an index whose records' offsets lie past its end: no crash, the files are read" {
    malformed_index offsets good revoked
    [ "$(log_count ": debug: $IX: 2 files shared$")" -eq 1 ]
    [ "$(read_lines rsa.der)" -eq 1 ]
    [ "$(read_lines ecdsa.der)" -eq 1 ]
}

# ------------------------------------------------------------ fork models

# ngx_start WORKERS: nginx under the preload with WORKERS workers, each
# listening with reuseport (each gets connections) and answering
# "worker=PID"; MASTER is its master.
ngx_start() {
    nobody_can_reach
    mkdir -p "$T/nginx/tmp"
    cat >"$T/nginx/nginx.conf" <<EOF
worker_processes $1;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log;
daemon off;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $T/nginx/tmp;
    proxy_temp_path $T/nginx/tmp;
    fastcgi_temp_path $T/nginx/tmp;
    uwsgi_temp_path $T/nginx/tmp;
    scgi_temp_path $T/nginx/tmp;
    server {
        listen 127.0.0.1:$PORT ssl reuseport;
        server_name rsa.test;
        ssl_certificate $PKI/rsa.full.pem;
        ssl_certificate_key $PKI/rsa.key;
        return 200 "worker=\$pid\n";
    }
}
EOF
    bg nginx env LD_PRELOAD="$PRELOAD" nginx -p "$T/nginx" -c "$T/nginx/nginx.conf" \
        -e "$T/nginx/error.log"
    MASTER=$BG_PID
    wait_workers "$1"
    wait_port "$PORT"
}

# workers: the master's children.
workers() {
    ps -o pid= --ppid "$MASTER" | tr -d ' '
}

# wait_workers N: until the master has N children (10 s).
wait_workers() {
    for _ in $(seq 100); do
        [[ $(workers | wc -l) == "$1" ]] && return 0
        sleep 0.1
    done
    echo "nginx has $(workers | wc -l) workers, not $1" >&2
    return 1
}

# probe: one handshake with nginx: "WORKERPID STATUS".
probe() {
    "$BATS_FILE_TMPDIR/probe" "$PORT" rsa.test "$PKI/ca.pem" once
}

# serve_all STATUS SECONDS: rounds of 4 parallel handshakes until every
# worker has stapled STATUS, for at most SECONDS; every handshake must
# staple STATUS (or OLD, the status it replaces, if set).
serve_all() {
    local want=$1 limit=$2 start=$SECONDS k p st w hp
    local -A seen=()
    while ((SECONDS - start <= limit)); do
        hp=()
        for k in 1 2 3 4; do probe >"$T/hit.$k" & hp+=($!); done
        wait "${hp[@]}"
        for k in 1 2 3 4; do
            read -r p st <"$T/hit.$k"
            [[ $st == "$want" || $st == "${OLD:-$want}" ]] || {
                echo "worker $p stapled '$st'" >&2
                return 1
            }
            [[ $st == "$want" ]] && seen[$p]=1
        done
        for w in $(workers); do [[ -n ${seen[$w]:-} ]] || continue 2; done
        return 0
    done
    echo "after ${limit}s, not every worker stapled $want: ${!seen[*]} of $(workers | tr '\n' ' ')" >&2
    return 1
}

# maps_index PID INODE: PID maps the index file INODE, once, and no other.
maps_index() {
    local m
    m=$(ix_maps "$1")
    [[ -n $m ]] || { echo "$1 maps no index" >&2; return 1; }
    [[ $(wc -l <<<"$m") -eq 1 && $(awk '{ print $5 }' <<<"$m") == "$2" && $m != *deleted* ]] || {
        echo "$1 maps: $m (want inode $2)" >&2
        return 1
    }
}

# workers_map_index INODE: every worker maps the index INODE.
workers_map_index() {
    local w
    for w in $(workers); do maps_index "$w" "$1" || return 1; done
}

# all_map_index INODE SECONDS: rounds of handshakes, each of which must staple
# revoked (serve_all), until every worker maps the index INODE (at most
# SECONDS).
all_map_index() {
    local start=$SECONDS
    until workers_map_index "$1" 2>/dev/null; do
        ((SECONDS - start <= $2)) || { workers_map_index "$1"; return; }
        serve_all revoked 5
        sleep 0.2
    done
}

@test "nginx, master and 4 reuseport workers: every worker takes the new index, reading no staple file" {
    cp "$T/good.der" "$T/staples/rsa.der"
    index
    ngx_start 4
    serve_all good 20
    local mark ino
    mark=$(log_lines)
    # no handshake in between: no worker checks before the new index is there
    replace "$T/revoked.der" "$T/staples/rsa.der"
    index
    ino=$(stat -c %i "$IX")
    OLD=good serve_all revoked 10
    workers_map_index "$ino"
    [ "$(log_since "$mark" | grep -c "$T/staples/[^ ]*: [0-9]* certificate(s)")" -eq 0 ]
    # each worker mapped it once
    [ "$(log_since "$mark" | grep -c ": debug: $IX: 1 files shared$")" -eq 4 ]
    [ "$(log_since "$mark" | grep ": debug: $IX: 1 files shared$" | cut -d'[' -f2 | cut -d']' -f1 |
        sort -u | wc -l)" -eq 4 ]
    alive "$MASTER"
}

@test "nginx: workers killed with SIGKILL in the middle of reloads; every worker, old and new, serves the last staple" {
    cp "$T/good.der" "$T/staples/rsa.der"
    index
    ngx_start 4
    serve_all good 20
    local first w ino killed=0 hp
    first=$(workers | sort | tr '\n' ' ')
    # six reloads, good and revoked in turn, ending revoked; each a rename
    # and a new index
    bg reloader bash -c "for i in 1 2 3 4 5 6; do
        if ((i % 2)); then f=good; else f=revoked; fi
        cp '$T/'\$f.der '$T/staples/.tmp' && mv '$T/staples/.tmp' '$T/staples/rsa.der'
        '$CTL' index --dir '$T/staples' || exit 1
        sleep 0.4
    done"
    local reloader=$BG_PID
    while alive "$reloader"; do
        w=$(workers | shuf -n 1)
        [[ -n $w ]] && kill -KILL "$w" && killed=$((killed + 1))
        hp=()
        for _ in 1 2 3 4; do probe >/dev/null & hp+=($!); done
        wait "${hp[@]}"
        sleep 0.2
    done
    wait "$reloader"
    ((killed >= 3))
    alive "$MASTER"
    wait_workers 4
    OLD=good serve_all revoked 10
    # a worker that checked between the last rename and the last index read
    # the file itself; it takes the new index at its next check (1 s)
    all_map_index "$(stat -c %i "$IX")" 10
    # some workers are new ones, and the master stapled nothing wrong
    [ "$(workers | sort | tr '\n' ' ')" != "$first" ]
    alive "$MASTER"
}

@test "staplectl index killed (SIGKILL) with its large temporary file written: the old index stays, the leftover is ignored, the next run succeeds; a run removes leftovers ten minutes old" {
    "$BATS_FILE_TMPDIR/gen" "$PKI/int.pem" "$PKI/int.key" "$T/staples" 3000
    cp "$T/good.der" "$T/staples/rsa.der"
    index
    [ "$output" = "index: $IX: 3001 files" ]
    cp "$IX" "$T/old.index"
    s_server "$PORT" rsa
    local server=$BG_PID
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    # the next run killed by SIGKILL as it syncs its full temporary file
    run strace -f -qq -o "$T/strace" -e trace=fdatasync \
        -e inject=fdatasync:signal=SIGKILL "$CTL" index --dir "$T/staples"
    [ "$status" -eq 137 ]
    grep -q '+++ killed by SIGKILL' "$T/strace"
    local left=("$T"/staples/.index/.staples.*.tmp) tmp
    [ "${#left[@]}" -eq 1 ] && [ -f "${left[0]}" ]
    tmp=${left[0]##*/}
    [ "$(stat -c %s "$T/staples/.index/$tmp")" -eq "$(stat -c %s "$T/old.index")" ]
    # the old index in place, intact; the leftover there too
    cmp "$IX" "$T/old.index"
    [ -f "$T/staples/.index/$tmp" ]
    # the server keeps serving from the index, and ignores the leftover
    sleep 1.1
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    [ "$(read_lines)" -eq 0 ]
    [ "$(log_count "\.staples\.")" -eq 0 ]
    [ "$(log_count ": debug: $IX: 3001 files shared$")" -eq 1 ]
    # the next run succeeds
    replace "$T/revoked.der" "$T/staples/rsa.der"
    index
    [ "$output" = "index: $IX: 3001 files" ]
    run cmp -s "$IX" "$T/old.index"
    [ "$status" -eq 1 ]
    staple_within 3 "$(serial rsa) revoked" "$PORT"
    [ "$(log_count ": debug: $IX: 3001 files shared$")" -eq 2 ]
    [ "$(read_lines)" -eq 0 ]
    # that run kept the young leftover (its writer may be alive, in another
    # PID namespace); one ten minutes old goes, the young and links stay
    [ -f "$T/staples/.index/$tmp" ]
    touch -d '-11 minutes' "$T/staples/.index/$tmp"
    : >"$T/staples/.index/.staples.4194304.tmp"
    ln -s "$T/old.index" "$T/staples/.index/.staples.1.tmp"
    touch -h -d '-1 hour' "$T/staples/.index/.staples.1.tmp"
    index
    [ ! -e "$T/staples/.index/$tmp" ]
    [ -f "$T/staples/.index/.staples.4194304.tmp" ]
    [ -L "$T/staples/.index/.staples.1.tmp" ] && [ -f "$T/old.index" ]
    [ "$(staple "$PORT")" = "$(serial rsa) revoked" ]
    alive "$server"
}

@test "fork per connection (Python): children forked from a stale parent take the new index" {
    cp "$T/good.der" "$T/staples/rsa.der"
    index
    bg python env LD_PRELOAD="$PRELOAD" python3 "$TOP/tests/lib/tls_server.py" \
        "$PORT" "$PKI/rsa.full.pem" "$PKI/rsa.key" --fork
    local server=$BG_PID mark
    wait_port "$PORT"
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    [ "$(read_lines)" -eq 0 ]
    mark=$(log_lines)
    replace "$T/revoked.der" "$T/staples/rsa.der"
    index
    staple_within 3 "$(serial rsa) revoked" "$PORT"
    for _ in 1 2 3; do
        [ "$(staple "$PORT")" = "$(serial rsa) revoked" ]
    done
    # every child after the reload mapped the new index and read no file;
    # the parent, which does no handshake, did nothing
    [ "$(log_since "$mark" | grep -c "$T/staples/[^ ]*: [0-9]* certificate(s)")" -eq 0 ]
    [ "$(log_since "$mark" | grep -c ": debug: $IX: 1 files shared$")" -ge 4 ]
    [ "$(log_since "$mark" | grep -c "libstaple\[$server\]")" -eq 0 ]
    alive "$server"
}

@test "threaded server (Python): 8 parallel clients, across a new index, from the index alone" {
    cp "$T/good.der" "$T/staples/rsa.der"
    index
    bg python env LD_PRELOAD="$PRELOAD" python3 "$TOP/tests/lib/tls_server.py" \
        "$PORT" "$PKI/rsa.full.pem" "$PKI/rsa.key" --threads
    local server=$BG_PID mark i
    wait_port "$PORT"
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    mark=$(log_lines)
    replace "$T/revoked.der" "$T/staples/rsa.der"
    index
    sleep 1.1   # the check is due: the next handshakes race to it
    local clients=()
    for i in 1 2 3 4 5 6 7 8; do
        (for _ in 1 2 3; do staple "$PORT"; done >"$T/seen.$i") &
        clients+=($!)
    done
    wait "${clients[@]}"
    cat "$T"/seen.* | sort | uniq -c >&2
    # 24 handshakes, each good (before the swap) or revoked, the last ones revoked
    [ "$(cat "$T"/seen.* | wc -l)" -eq 24 ]
    [ "$(cat "$T"/seen.* | grep -c -v -x -e "$(serial rsa) good" -e "$(serial rsa) revoked")" -eq 0 ]
    for i in 1 2 3 4 5 6 7 8; do
        [ "$(tail -1 "$T/seen.$i")" = "$(serial rsa) revoked" ]
    done
    [ "$(log_since "$mark" | grep -c ": debug: $IX: 1 files shared$")" -eq 1 ]
    [ "$(log_since "$mark" | grep -c "$T/staples/[^ ]*: [0-9]* certificate(s)")" -eq 0 ]
    [ "$(ix_maps "$server" | wc -l)" -eq 1 ]
    alive "$server"
}

@test "two processes started on their own (process per service) map the same index: one copy per host" {
    cp "$T/good.der" "$T/staples/rsa.der"
    index
    local port2 one two ino
    port2=$(free_port)
    s_server "$PORT" rsa
    one=$BG_PID
    s_server "$port2" rsa
    two=$BG_PID
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    [ "$(staple "$port2")" = "$(serial rsa) good" ]
    ino=$(stat -c %i "$IX")
    maps_index "$one" "$ino"
    maps_index "$two" "$ino"
    [ "$(log_count ": debug: $IX: 1 files shared$")" -eq 2 ]
    [ "$(read_lines)" -eq 0 ]
    # a new index: both move to it, the same new file
    replace "$T/revoked.der" "$T/staples/rsa.der"
    index
    ino=$(stat -c %i "$IX")
    staple_within 3 "$(serial rsa) revoked" "$PORT"
    staple_within 3 "$(serial rsa) revoked" "$port2"
    maps_index "$one" "$ino"
    maps_index "$two" "$ino"
    [ "$(read_lines)" -eq 0 ]
}

# ------------------------------------------------------------ memory

# ix_smaps PID: "PSS_KB PRIVATE_DIRTY_KB PATH" for each of PID's mappings of
# the index (PATH ends in " (deleted)" for a replaced one).
ix_smaps() {
    awk -v ix="$IX" '
        /^[0-9a-f]+-[0-9a-f]+ / {
            if (path != "") print pss, dirty, path
            path = ""
            if (index($0, ix) > 0) { path = substr($0, index($0, ix)); pss = dirty = "?" }
            next
        }
        path != "" && $1 == "Pss:" { pss = $2 }
        path != "" && $1 == "Private_Dirty:" { dirty = $2 }
        END { if (path != "") print pss, dirty, path }' "/proc/$1/smaps"
}

@test "memory: nginx, 4 workers, 2000 staples, a full refresh: the index is mapped shared, clean, at most once in all" {
    "$BATS_FILE_TMPDIR/gen" "$PKI/int.pem" "$PKI/int.key" "$T/staples" 2000
    cp "$T/good.der" "$T/staples/rsa.der"
    mkdir "$T/new"
    "$BATS_FILE_TMPDIR/gen" "$PKI/int.pem" "$PKI/int.key" "$T/new" 2000
    cp "$T/revoked.der" "$T/new/rsa.der"
    index
    [ "$output" = "index: $IX: 2001 files" ]
    ngx_start 4
    serve_all good 20
    # a full refresh: every file replaced by rename, rsa.der last, then indexed
    local f p ino size pss=0 line n=0
    mv "$T"/new/staple-*.der "$T/staples/"
    mv "$T/new/rsa.der" "$T/staples/"
    index
    [ "$output" = "index: $IX: 2001 files" ]
    ino=$(stat -c %i "$IX") size=$(stat -c %s "$IX")
    OLD=good serve_all revoked 20
    serve_all revoked 10     # each worker once more, after its swap
    [ "$(read_lines)" -eq 0 ]
    workers_map_index "$ino"
    for p in "$MASTER" $(workers); do
        ix_smaps "$p" >"$T/smaps.$p"
        cat "$T/smaps.$p" >&2
        while read -r line; do
            read -r kb dirty f <<<"$line"
            [ "$dirty" = 0 ]        # read-only and shared: never a private page
            n=$((n + 1))
            [[ $f == "$IX" ]] && pss=$((pss + kb))
        done <"$T/smaps.$p"
    done
    ((n >= 4))
    echo "index: $size bytes; Pss of its mappings, all processes: $pss kB" >&2
    ((pss > 0 && pss * 1024 <= size))
}
