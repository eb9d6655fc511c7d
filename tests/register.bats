#!/usr/bin/env bats
# The register of wanted staples, DIR/.wanted/: a server that loads a
# certificate naming an OCSP responder records it there (the leaf and its
# issuer), at load time only, once, where the file system lets it; where it
# may not (not root's to write, read-only, missing, owned by another user, a
# symbolic link in the way), nothing is written, one line says what to list
# in `certs =` instead, and the server serves as before. The shared PKI's
# leaves name no responder: these tests issue their own from its
# intermediate, in $A (rsa, ecdsa, must: Must-Staple).

load lib/common

# aia_leaf NAME TYPE MUST: $A/NAME.{key,pem,full.pem,serial}, a leaf for
# NAME.test issued by the PKI's intermediate, naming an OCSP responder.
aia_leaf() {
    local name=$1 type=$2 must=$3 ku='digitalSignature, keyEncipherment' serial
    [[ $type == ec ]] && ku=digitalSignature
    _pki_genkey "$type" "$A/$name.key"
    {
        printf '[ext]\nbasicConstraints = critical, CA:false\n'
        printf 'keyUsage = critical, %s\nextendedKeyUsage = serverAuth\n' "$ku"
        printf 'subjectAltName = DNS:%s.test, DNS:localhost, IP:127.0.0.1\n' "$name"
        printf 'authorityKeyIdentifier = keyid:always\n'
        printf 'authorityInfoAccess = OCSP;URI:http://127.0.0.1:9/\n'
        [[ $must == yes ]] && printf 'tlsfeature = status_request\n'
    } >"$A/$name.ext"
    serial=4$(openssl rand -hex 8 | tr a-f A-F | cut -c2-)   # as s_client prints it
    openssl req -new -key "$A/$name.key" -subj "/CN=$name.test" -out "$A/$name.csr" 2>/dev/null
    openssl x509 -req -in "$A/$name.csr" -CA "$A/int.pem" -CAkey "$A/int.key" \
        -set_serial "0x$serial" -days 30 -sha256 -extfile "$A/$name.ext" -extensions ext \
        -out "$A/$name.pem" 2>/dev/null
    cat "$A/$name.pem" "$A/int.pem" >"$A/$name.full.pem"
    echo "$serial" >"$A/$name.serial"
}

setup_file() {
    pki_shared
    A=$BATS_FILE_TMPDIR/aia
    mkdir -p "$A"
    cp "$PKI/int.pem" "$PKI/int.key" "$PKI/ca.pem" "$A/"
    : >"$A/index.txt"
    printf 'unique_subject = no\n' >"$A/index.txt.attr"
    aia_leaf rsa rsa no
    aia_leaf ecdsa ec no
    aia_leaf must rsa yes
    chmod 0644 "$A"/*
    export A
}

setup() {
    setup_test
    PORT=$(free_port)
    REG=$T/staples/.wanted
    mkdir "$REG" && chmod 0755 "$REG"
    export LIBSTAPLE_LOG_LEVEL=info
    # a server run as nobody reaches $T, $A, the config and the log
    local d
    for d in "$T" "$A"; do
        while [[ $d == "${BATS_RUN_TMPDIR:-$T}"* && $d != / ]]; do
            chmod o+x "$d"
            d=$(dirname "$d")
        done
    done
    : >"$LIBSTAPLE_LOG"
    chmod 0666 "$LIBSTAPLE_LOG"
    chmod 0644 "$LIBSTAPLE_CONF"
}

teardown() {
    kill_bg
}

# entry LEAF: the name of $A/LEAF.pem's register entry: its staple's name
# (16 hex digits of the issuer key hash, "-", the serial), with .pem.
entry() {
    local key
    key=$(openssl ocsp -issuer "$A/int.pem" -cert "$A/$1.pem" -no_nonce -req_text \
        -reqout /dev/null | sed -n 's/^ *Issuer Key Hash: //p')
    echo "${key:0:16}-$(cat "$A/$1.serial").pem" | tr A-F a-f
}

# expected PROGRAM LEAF [CERTFILE]: the exact content of LEAF's entry.
expected() {
    printf '# libstaple register entry\n# program: %s\n' "$1"
    [[ -z ${3:-} ]] || printf '# certfile: %s\n' "$3"
    cat "$A/$2.pem" "$A/int.pem"
}

# refused WHY SUBJECT: the one line a server logs when it cannot register.
refused() {
    echo "register $REG: $1: the certificate of $2 is not registered; for" \
        "staplectl refresh to fetch its staple, list it (and the other" \
        "certificates this process loads) in certs = in $LIBSTAPLE_CONF"
}

# log_lines: the log's lines about the register, without the PID prefix.
log_lines() {
    sed -n 's/^libstaple\[[0-9]*\]: [a-z]*: \(.*regist.*\)/\1/p' "$LIBSTAPLE_LOG"
}

# staples LEAF...: each LEAF's staple, good, in the staple directory.
staples() {
    local leaf
    for leaf in "$@"; do
        pki_ocsp "$A" "$leaf" good issuer now "$T/staples/$leaf.der"
    done
}

# server [-u USER] [-w WRAPPER...--] PORT LEAF [ARGS...]: openssl s_server
# under the preload serving $A/LEAF with its chain (as USER's uid and group
# with -u: 65534, nobody).
server() {
    local -a as=()
    if [[ $1 == -u ]]; then
        as=(setpriv --reuid="$2" --regid="$2" --clear-groups)
        shift 2
    fi
    local port=$1 leaf=$2
    shift 2
    bg s_server env LD_PRELOAD="$PRELOAD" "${as[@]}" openssl s_server -www \
        -accept "127.0.0.1:$port" -cert "$A/$leaf.pem" -key "$A/$leaf.key" \
        -cert_chain "$A/int.pem" "$@"
    wait_port "$port"
}

# mtime FILE: its modification time, in seconds.
mtime() {
    stat -c %Y "$1"
}

# both_staple: the RSA and the ECDSA certificate of a server that has both
# each get their own staple.
both_staple() {
    [ "$(staple "$PORT" -sigalgs rsa_pss_rsae_sha256)" = "$(cat "$A/rsa.serial") good" ]
    [ "$(staple "$PORT" -sigalgs ecdsa_secp256r1_sha256)" = "$(cat "$A/ecdsa.serial") good" ]
}

@test "nginx (master root): three vhosts (RSA, ECDSA, Must-Staple) registered exactly, once; handshakes unchanged" {
    staples rsa ecdsa must
    PKI=$A nginx_conf 2 rsa ecdsa must
    nginx_start
    local master=$BG_PID leaf old new times
    [ "$(ls -A "$REG" | sort)" = "$(for l in rsa ecdsa must; do entry $l; done | sort)" ]
    for leaf in rsa ecdsa must; do
        diff <(expected nginx "$leaf") "$REG/$(entry "$leaf")"
        [ "$(stat -c '%U %a' "$REG/$(entry "$leaf")")" = "root 644" ]
    done
    [ "$(log_lines | grep -c '^registered a certificate in ')" -eq 3 ]
    # the handshakes: each vhost its own staple; and nothing written meanwhile
    touch -d '3 days ago' "$REG"/*
    times=$(stat -c '%n %Y %s' "$REG"/*)
    for _ in 1 2 3; do
        for leaf in rsa ecdsa must; do
            [ "$(staple "$PORT" -servername "$leaf.test")" = "$(cat "$A/$leaf.serial") good" ]
        done
    done
    [ "$(stat -c '%n %Y %s' "$REG"/*)" = "$times" ]
    # a reload loads the certificates again: handled once, not again
    old=$(pgrep -P "$master" | sort)
    kill -HUP "$master"
    for _ in $(seq 50); do
        new=$(pgrep -P "$master" | sort)
        [[ -n $new && -z $(comm -12 <(echo "$old") <(echo "$new")) ]] && break
        sleep 0.1
    done
    [ "$(staple "$PORT" -servername must.test)" = "$(cat "$A/must.serial") good" ]
    [ "$(stat -c '%n %Y %s' "$REG"/*)" = "$times" ]
    [ "$(log_lines | grep -c '^registered ')" -eq 3 ]
    [ "$(log_lines | wc -l)" -eq 3 ]
}

@test "s_server as nobody, the register root's 0755: nothing written, one line for both certificates, staples as before" {
    staples rsa ecdsa
    server -u 65534 "$PORT" rsa -dcert "$A/ecdsa.pem" -dkey "$A/ecdsa.key"
    both_staple
    [ -z "$(ls -A "$REG")" ]
    [ "$(log_lines)" = "$(refused "Permission denied" /CN=rsa.test)" ]
    grep -qF "libstaple[$BG_PID]: warn: $(refused "Permission denied" /CN=rsa.test)" "$LIBSTAPLE_LOG"
}

@test "a register made read-only by its mode (nobody's, 0555, server as nobody): nothing written, one line" {
    chown 65534 "$REG" && chmod 0555 "$REG"
    staples rsa
    server -u 65534 "$PORT" rsa
    [ "$(staple "$PORT")" = "$(cat "$A/rsa.serial") good" ]
    [ -z "$(ls -A "$REG")" ]
    [ "$(log_lines)" = "$(refused "Permission denied" /CN=rsa.test)" ]
}

@test "a register on a read-only mount (server as root): nothing written, one line" {
    unshare -m true 2>/dev/null || skip "no mount namespace here"
    staples rsa ecdsa
    bg s_server unshare -m --propagation private sh -c \
        'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"' \
        sh "$REG" env LD_PRELOAD="$PRELOAD" openssl s_server -www \
        -accept "127.0.0.1:$PORT" -cert "$A/rsa.pem" -key "$A/rsa.key" \
        -cert_chain "$A/int.pem" -dcert "$A/ecdsa.pem" -dkey "$A/ecdsa.key"
    wait_port "$PORT"
    both_staple
    [ -z "$(ls -A "$REG")" ]
    [ "$(log_lines)" = "$(refused "Read-only file system" /CN=rsa.test)" ]
}

@test "a register on a full file system (server as root): nothing written, no temporary left, one line" {
    unshare -m true 2>/dev/null || skip "no mount namespace here"
    staples rsa ecdsa
    # a 64 KiB tmpfs over the register, filled up, in the server's own mount namespace
    bg s_server unshare -m --propagation private sh -c \
        'mount -t tmpfs -o size=64k,mode=0755 tmpfs "$1" &&
         { dd if=/dev/zero of="$1/fill" bs=4k 2>/dev/null; true; } && shift && exec "$@"' \
        sh "$REG" env LD_PRELOAD="$PRELOAD" openssl s_server -www \
        -accept "127.0.0.1:$PORT" -cert "$A/rsa.pem" -key "$A/rsa.key" \
        -cert_chain "$A/int.pem" -dcert "$A/ecdsa.pem" -dkey "$A/ecdsa.key"
    wait_port "$PORT"
    both_staple
    # what the server sees there: the filling, and nothing of libstaple's
    [ "$(ls -A "/proc/$BG_PID/root$REG")" = fill ]
    [ "$(log_lines)" = "$(refused "No space left on device" /CN=rsa.test)" ]
}

@test "a register owned by another user, or writable by others (server as root): not used, one line; writable by a group: used" {
    local why="not used: a privileged process writes only into a register owned by root that others cannot write"
    chown 65534 "$REG"
    staples rsa
    server "$PORT" rsa
    [ "$(staple "$PORT")" = "$(cat "$A/rsa.serial") good" ]
    [ -z "$(ls -A "$REG")" ]
    [ "$(log_lines)" = "$(refused "$why" /CN=rsa.test)" ]
    kill_bg
    : >"$LIBSTAPLE_LOG"
    chown 0:0 "$REG" && chmod 0777 "$REG"
    server "$PORT" rsa
    [ "$(staple "$PORT")" = "$(cat "$A/rsa.serial") good" ]
    [ -z "$(ls -A "$REG")" ]
    [ "$(log_lines)" = "$(refused "$why" /CN=rsa.test)" ]
    kill_bg
    : >"$LIBSTAPLE_LOG"
    # a group granted (for servers that do not run as root): root writes too
    chown 0:65534 "$REG" && chmod 0775 "$REG"
    server "$PORT" rsa
    [ "$(staple "$PORT")" = "$(cat "$A/rsa.serial") good" ]
    [ "$(ls -A "$REG")" = "$(entry rsa)" ]
}

@test "symbolic links planted as entry names: never followed, their targets unchanged, one line" {
    echo "not a register entry" >"$T/target"
    touch -d '3 days ago' "$T/target"
    ln -s "$T/target" "$REG/$(entry rsa)"
    ln -s "$T/created" "$REG/$(entry ecdsa)"    # leads to no file yet
    staples rsa ecdsa
    server "$PORT" rsa -dcert "$A/ecdsa.pem" -dkey "$A/ecdsa.key"
    both_staple
    [ "$(cat "$T/target")" = "not a register entry" ]
    [ "$(mtime "$T/target")" -lt $(($(date +%s) - 86400)) ]
    [ ! -e "$T/created" ]
    [ "$(ls -A "$REG" | sort)" = "$( (entry rsa; entry ecdsa) | sort)" ]
    [ -L "$REG/$(entry rsa)" ] && [ -L "$REG/$(entry ecdsa)" ]
    [ "$(log_lines)" = "$(refused "an entry's name is taken by something that is not a regular file (a symbolic link?)" /CN=rsa.test)" ]
}

@test "a register that is a symbolic link is not written through" {
    rmdir "$REG"
    mkdir "$T/elsewhere"
    ln -s "$T/elsewhere" "$REG"
    staples rsa
    server "$PORT" rsa
    [ "$(staple "$PORT")" = "$(cat "$A/rsa.serial") good" ]
    [ -z "$(ls -A "$T/elsewhere")" ]
    [ "$(log_lines)" = "$(refused "a symbolic link, not a directory" /CN=rsa.test)" ]
}

@test "a missing register directory: not made, nothing written, one line" {
    rmdir "$REG"
    staples rsa ecdsa
    server "$PORT" rsa -dcert "$A/ecdsa.pem" -dkey "$A/ecdsa.key"
    both_staple
    [ ! -e "$REG" ]
    [ "$(log_lines)" = "$(refused "No such file or directory" /CN=rsa.test)" ]
}

@test "register = no, at the top or in [program openssl]: nothing written, nothing logged" {
    staples rsa
    local conf
    for conf in 'register = no' $'[program openssl]\nregister = no'; do
        echo "$conf" >"$LIBSTAPLE_CONF"
        server "$PORT" rsa
        [ "$(staple "$PORT")" = "$(cat "$A/rsa.serial") good" ]
        [ -z "$(ls -A "$REG")" ]
        [ -z "$(log_lines)" ]
        kill_bg
    done
    # another program's section does not apply
    printf '[program nginx]\nregister = no\n' >"$LIBSTAPLE_CONF"
    server "$PORT" rsa
    diff <(expected openssl rsa) "$REG/$(entry rsa)"
}

@test "an entry older than a day is touched (not rewritten), a younger one left alone" {
    echo "an old entry" >"$REG/$(entry rsa)"
    echo "a young entry" >"$REG/$(entry ecdsa)"
    touch -d '2 days ago' "$REG/$(entry rsa)"
    touch -d '12 hours ago' "$REG/$(entry ecdsa)"
    local young
    young=$(mtime "$REG/$(entry ecdsa)")
    staples rsa ecdsa
    server "$PORT" rsa -dcert "$A/ecdsa.pem" -dkey "$A/ecdsa.key"
    both_staple
    [ "$(mtime "$REG/$(entry rsa)")" -ge $(($(date +%s) - 60)) ]
    [ "$(cat "$REG/$(entry rsa)")" = "an old entry" ]
    [ "$(mtime "$REG/$(entry ecdsa)")" -eq "$young" ]
    [ "$(cat "$REG/$(entry ecdsa)")" = "a young entry" ]
    [ "$(ls -A "$REG" | wc -l)" -eq 2 ]
    [ -z "$(log_lines)" ]
}

@test "a register its group may write, granted to the server's group (server as nobody): written" {
    chgrp 65534 "$REG" && chmod 0775 "$REG"
    staples rsa
    server -u 65534 "$PORT" rsa
    [ "$(staple "$PORT")" = "$(cat "$A/rsa.serial") good" ]
    diff <(expected openssl rsa) "$REG/$(entry rsa)"
    [ "$(stat -c '%u %a' "$REG/$(entry rsa)")" = "65534 644" ]
    [ "$(ls -A "$REG")" = "$(entry rsa)" ]
    [ "$(log_lines)" = "registered a certificate in $REG as $(entry rsa)" ]
}

@test "the register is written at load only: no file call on it during handshakes (strace)" {
    staples rsa ecdsa
    bg s_server strace -f -o "$T/trace" -e trace=open,openat,rename,renameat,renameat2,utimensat,unlinkat \
        env LD_PRELOAD="$PRELOAD" openssl s_server -www -accept "127.0.0.1:$PORT" \
        -cert "$A/rsa.pem" -key "$A/rsa.key" -cert_chain "$A/int.pem" \
        -dcert "$A/ecdsa.pem" -dkey "$A/ecdsa.key"
    wait_port "$PORT"
    local ossl pattern='\.wanted|\.pem\.[0-9]+\.tmp|rename|utimensat' load
    ossl=$(pgrep -P "$BG_PID")
    echo "$ossl" >>"$T/pids"    # openssl itself: strace outlives a kill
    load=$(grep -cE "$pattern" "$T/trace")
    # the register opened twice, a temporary file and a rename per entry
    [ "$(grep -cE 'rename' "$T/trace")" -eq 2 ]
    [ "$load" -ge 6 ]
    touch -d '3 days ago' "$REG"/*
    for _ in 1 2 3 4 5; do
        both_staple
    done
    [ "$(grep -cE "$pattern" "$T/trace")" -eq "$load" ]
    [ "$(find "$REG" -type f -newermt '1 day ago' | wc -l)" -eq 0 ]
    # no descriptor kept on the register or an entry
    [ -n "$ossl" ]
    ls -l "/proc/$ossl/fd/" >"$T/fds"
    grep -q "$T/staples" "$T/fds"     # the store's descriptor: the listing works
    lacks "$REG" "$T/fds"
    diff <(expected openssl rsa) "$REG/$(entry rsa)"
    diff <(expected openssl ecdsa) "$REG/$(entry ecdsa)"
}

@test "a certificate loaded from a file is registered with the file's name (Python, relative path)" {
    mkdir "$T/certs"
    cp "$A/rsa.full.pem" "$T/certs/site.pem"
    staples rsa
    local py
    py=$(python3 -c 'import os, sys; print(os.path.realpath(sys.executable))')
    bg python env -C "$T" LD_PRELOAD="$PRELOAD" "$py" "$TOP/tests/lib/tls_server.py" \
        "$PORT" certs/site.pem "$A/rsa.key"
    wait_port "$PORT"
    [ "$(staple "$PORT")" = "$(cat "$A/rsa.serial") good" ]
    diff <(expected "$(basename "$py")" rsa "$T/certs/site.pem") "$REG/$(entry rsa)"
    [ "$(log_lines)" = "registered $T/certs/site.pem in $REG as $(entry rsa)" ]
}

@test "a client's own certificate is not registered" {
    s_server "$PORT" rsa          # the shared PKI's rsa, no preload needed
    run env LD_PRELOAD="$PRELOAD" openssl s_client -connect "127.0.0.1:$PORT" \
        -CAfile "$PKI/ca.pem" -cert "$A/rsa.pem" -key "$A/rsa.key" \
        -cert_chain "$A/int.pem" </dev/null
    [[ $output == *"Verify return code: 0 (ok)"* ]]
    [ -z "$(ls -A "$REG")" ]
    [ -z "$(log_lines)" ]
}

@test "the store skips .wanted and the other dot entries of the staple directory, silently" {
    export LIBSTAPLE_LOG_LEVEL=debug
    staples rsa
    echo "not a staple" >"$T/staples/.staplectl.AbC123"
    mkdir "$T/staples/.other"
    expected openssl ecdsa >"$REG/$(entry ecdsa)"
    server "$PORT" rsa
    [ "$(staple "$PORT")" = "$(cat "$A/rsa.serial") good" ]
    # the register was looked at (rsa's entry written), the store read rsa.der only
    [ -f "$REG/$(entry rsa)" ]
    grep -v ': registered ' "$LIBSTAPLE_LOG" >"$T/store.log"
    lacks "$T/staples/\." "$T/store.log"
    [ "$(log_count "$T/staples/rsa.der: 1 certificate(s)")" -eq 1 ]
}
