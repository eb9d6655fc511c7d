#!/usr/bin/env bats
# The staple directory's register (DIR/.wanted/) as staplectl reads it:
# `staplectl refresh` without arguments fetches a staple for every entry
# (untrusted input: strictly parsed, the leaf signed by the entry's issuer,
# only its own http:// OCSP URL asked), drops entries that expired or that
# no program saw for register_max_age, removes their staples once those
# expire; `show --wanted`, `--json` and `metrics` list every entry's state.
# Entries are written by hand here, in the register's format, as a server
# under the preload writes them. Also: `staplectl enable`/`disable`, and
# the packaged units.

load lib/common
load lib/mail

# mkleaf NAME URL [ISSUER [DAYS [FAKETIME]]]: $W/NAME.pem, a leaf issued by
# ISSUER (default the PKI's intermediate; "fake": a CA named as the
# intermediate with another key) whose AIA names URL (none: no AIA);
# known to the responder's index $W/index.txt.
# KEY=rsa: an RSA key (default ECDSA P-256); MUST=1: Must-Staple;
# CN=OTHER: the subject of OTHER.test (a renewal of OTHER's certificate).
mkleaf() {
    local name=$1 url=$2 issuer=${3:-int} days=${4:-30} fake=${5:-} serial end ca=$PKI/int
    local key=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
    [[ ${KEY:-} == rsa ]] && key=(-newkey rsa:2048)
    [[ $issuer == fake ]] && ca=$W/fake
    serial=$(openssl rand -hex 8 | tr a-f A-F | sed 's/^./4/')
    openssl req -new "${key[@]}" -nodes \
        -keyout "$W/$name.key" -subj "/CN=${CN:-$name}.test" -out "$W/$name.csr" 2>/dev/null
    {
        echo 'basicConstraints = CA:false'
        echo "subjectAltName = DNS:${CN:-$name}.test"
        [[ $url == none ]] || echo "authorityInfoAccess = OCSP;URI:$url"
        [[ -z ${MUST:-} ]] || echo 'tlsfeature = status_request'
    } >"$W/$name.ext"
    ${fake:+faketime -f "$fake"} openssl x509 -req -in "$W/$name.csr" -CA "$ca.pem" \
        -CAkey "$ca.key" -set_serial "0x$serial" -days "$days" \
        -extfile "$W/$name.ext" -out "$W/$name.pem" 2>/dev/null
    cat "$W/$name.pem" "$PKI/int.pem" >"$W/$name.full.pem"
    end=$(date -u -d "$(openssl x509 -in "$W/$name.pem" -noout -enddate | cut -d= -f2)" +%y%m%d%H%M%SZ)
    printf 'V\t%s\t\t%s\tunknown\t/CN=%s.test\n' "$end" "$serial" "${CN:-$name}" >>"$W/index.txt"
    echo "$serial" >"$W/$name.serial"
}

setup_file() {
    pki_shared
    export W=$BATS_FILE_TMPDIR/w RPORT_W DEADPORT
    RPORT_W=$(free_port)
    DEADPORT=$(free_port)
    mkdir -p "$W"
    cp "$PKI/index.txt" "$W/index.txt"
    cp "$PKI/index.txt.attr" "$W/index.txt.attr"
    # a CA that calls itself the intermediate, with a key of its own
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$W/fake.key" -subj "$(openssl x509 -in "$PKI/int.pem" -noout -subject -nameopt compat | sed 's/^subject=//')" \
        -days 30 -addext basicConstraints=critical,CA:true -out "$W/fake.pem" 2>/dev/null
    local url=http://127.0.0.1:$RPORT_W/
    mkleaf a "$url"
    mkleaf b "$url"
    mkleaf c "$url"
    CN=a mkleaf arenew "$url"
    mkleaf plain none
    mkleaf forged "$url" fake
    mkleaf filer file:///etc/passwd
    mkleaf https https://127.0.0.1:$RPORT_W/
    mkleaf dead http://127.0.0.1:$DEADPORT/
    mkleaf old "$url" int 30 -40d
    KEY=rsa mkleaf vrsa "$url"
    mkleaf vecdsa "$url"
    MUST=1 mkleaf vmust "$url"
    CN=vmust MUST=1 mkleaf vmust2 "$url"    # a renewal of vmust
    # a PKI directory as tests/lib/mail.bash wants one, of leaves with AIA
    mkdir -p "$W/pf"
    cp "$PKI/ca.pem" "$W/pf/"
    cp "$W/vrsa.full.pem" "$W/pf/rsa.full.pem"
    cp "$W/vrsa.key" "$W/pf/rsa.key"
    cp "$W/vecdsa.full.pem" "$W/pf/ecdsa.full.pem"
    cp "$W/vecdsa.key" "$W/pf/ecdsa.key"
    # Dovecot's SNI host: the shared PKI's, which names no responder
    cp "$PKI/vhost.full.pem" "$PKI/vhost.key" "$W/pf/"
    chmod -R go+rX "$W/pf"
}

setup() {
    setup_test
    export RPORT=$RPORT_W
    CTL=$TOP/staplectl
    REG=$T/staples/.wanted
    mkdir -p "$REG"
    chmod 0755 "$REG"
}

teardown() {
    if [[ -f $T/pgids ]]; then
        mail_teardown
    fi
    kill_bg
}

# responder: `openssl ocsp` for $W/index.txt on $RPORT, printing each
# request it answers (its serial: $T/responder.out, unbuffered).
responder() {
    bg responder stdbuf -o0 openssl ocsp -index "$W/index.txt" -port "$RPORT" \
        -rsigner "$PKI/responder.pem" -rkey "$PKI/responder.key" -CA "$PKI/int.pem" \
        -ndays 1 -text
    for _ in $(seq 50); do
        grep -q "waiting for OCSP client connections" "$T/responder.err" && return 0
        sleep 0.1
    done
    return 1
}

# asked: the serials the responder was asked about, one a line, sorted.
asked() {
    awk '/OCSP Request Data:/ { r = 1 } /OCSP Response Data:/ { r = 0 }
        r && /Serial Number:/ { print $3 }' "$T/responder.out" | sort
}

# name LEAF [ISSUERPEM]: the register name (and staple stem) of $W/LEAF.pem.
name() {
    local key serial
    key=$(openssl x509 -in "${2:-$PKI/int.pem}" -noout -ocspid | sed -n 's/.*Public key OCSP hash: //p' |
        tr A-F a-f | cut -c1-16)
    serial=$(tr A-F a-f <"$W/$1.serial")
    echo "$key-$serial"
}

# entry LEAF [PROGRAM [ISSUERPEM [NAME]]]: write LEAF's register entry as a
# server does: header, leaf, issuer; by rename. Its certfile line names
# $CERTFILE (default $W/LEAF.full.pem; none: no such line, as nginx,
# which reads its files itself).
entry() {
    local leaf=$1 program=${2:-nginx} issuer=${3:-$PKI/int.pem} n=${4:-}
    n=${n:-$(name "$leaf" "$issuer")}
    {
        echo '# libstaple register entry'
        echo "# program: $program"
        [[ ${CERTFILE:-} == none ]] || echo "# certfile: ${CERTFILE:-$W/$leaf.full.pem}"
        openssl x509 -in "$W/$leaf.pem"
        openssl x509 -in "$issuer"
    } >"$REG/.$n.$$.tmp"
    mv "$REG/.$n.$$.tmp" "$REG/$n.pem"
}

@test "refresh with no argument: every sound entry gets its staple; the one without OCSP is one line" {
    responder
    entry a nginx
    entry b postfix
    entry plain dovecot
    run "$CTL" refresh
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"$REG/$(name a).pem: fetched: good, stored $T/staples/$(name a).der (until "* ]]
    [[ $output == *"$REG/$(name b).pem: fetched: good, stored $T/staples/$(name b).der (until "* ]]
    [[ $output == *"$REG/$(name plain).pem: the certificate names no OCSP responder; nothing to do"* ]]
    [ "${lines[-1]}" = "refresh: 3 certificates: 2 fetched, 0 fresh, 1 without OCSP, 0 failed" ]
    [ "$(asked)" = "$(sort "$W/a.serial" "$W/b.serial")" ]
    for l in a b; do
        run "$CTL" verify --cert "$W/$l.full.pem" "$T/staples/$(name $l).der"
        [ "$output" = good ]
    done
    # the next run asks nobody
    kill_bg
    run "$CTL" refresh
    [ "$status" -eq 0 ]
    [ "${lines[-1]}" = "refresh: 3 certificates: 0 fetched, 2 fresh, 1 without OCSP, 0 failed" ]
}

@test "refresh creates the register (0755, whatever the umask) and runs green with nothing to do" {
    rmdir "$REG"
    run bash -c 'umask 077; exec "$1" refresh' - "$CTL"
    [ "$status" -eq 0 ]
    [ "$output" = "refresh: 0 certificates: 0 fetched, 0 fresh, 0 without OCSP, 0 failed" ]
    [ "$(stat -c %a "$REG")" = 755 ]
    [ -d "$REG" ] && [ ! -L "$REG" ]
    # no staple directory: nothing is created anywhere
    run "$CTL" refresh --dir "$T/none/staples"
    [ "$status" -eq 0 ]
    [ ! -e "$T/none" ]
    [[ $output == *"staplectl: $T/none/staples/.wanted: No such file or directory; the register is not read"* ]]
}

@test "untrusted entries: each bad one is one line, nothing is asked for it, the others are refreshed" {
    responder
    entry a
    # a leaf signed by a CA that only calls itself the issuer
    entry forged nginx "$PKI/int.pem" "$(name forged "$W/fake.pem")"
    entry filer
    entry https
    # garbage, an oversized one, a symbolic link to a sound entry elsewhere
    printf 'hello\n' >"$REG/0123456789abcdef-01.pem"
    { echo '# libstaple register entry'; echo '# program: x'; head -c 70000 /dev/zero | tr '\0' A; } \
        >"$REG/0123456789abcdef-02.pem"
    mkdir "$T/elsewhere"
    REG=$T/elsewhere entry b
    ln -s "$T/elsewhere/$(name b).pem" "$REG/$(name b).pem"
    sum=$(sha256sum <"$T/elsewhere/$(name b).pem")
    # two leaves, each in the other's entry name; and trailing junk
    entry c nginx "$PKI/int.pem" "$(name a | sed 's/-.*//')-0a0b"
    { cat "$REG/$(name a).pem"; echo junk; } >"$REG/$(name plain).pem"
    run "$CTL" refresh
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"$REG/$(name a).pem: fetched: good, "* ]]
    bad() { grep -qxF "$REG/$1: bad entry: $2; ignored" <<<"$output" || { echo "missing: $1: $2" >&2; return 1; }; }
    bad "$(name forged "$W/fake.pem").pem" "the leaf is not signed by the issuer in the entry"
    bad "$(name filer).pem" "its OCSP URL file:///etc/passwd is not http://: not asked"
    bad "$(name https).pem" "its OCSP URL https://127.0.0.1:$RPORT/ is not http://: not asked"
    bad 0123456789abcdef-01.pem "not a register entry (its first line)"
    bad 0123456789abcdef-02.pem "larger than 64 KiB"
    bad "$(name b).pem" "a symbolic link: not followed"
    bad "$(name a | sed 's/-.*//')-0a0b.pem" "its name is not its certificate's"
    bad "$(name plain).pem" "more after the issuer's certificate"
    [ "${lines[-1]}" = "refresh: 1 certificates: 1 fetched, 0 fresh, 0 without OCSP, 0 failed; register: 8 bad entries, 0 dropped, 0 staples removed" ]
    # the responder heard of the sound one only
    [ "$(asked)" = "$(cat "$W/a.serial")" ]
    [ "$(ls "$T/staples")" = "$(name a).der" ]
    # nothing outside was touched: the link's target is whole
    [ "$(sha256sum <"$T/elsewhere/$(name b).pem")" = "$sum" ]
    # aged, the link goes, never what it names
    touch -h -d '20 days ago' "$REG/$(name b).pem"
    run "$CTL" refresh
    [[ $output == *"$REG/$(name b).pem: dropped: not seen by any program since "* ]]
    [ ! -L "$REG/$(name b).pem" ]
    [ "$(sha256sum <"$T/elsewhere/$(name b).pem")" = "$sum" ]
}

@test "a failed fetch for a sound entry fails the run and is recorded; a bad entry alone does not" {
    entry dead
    run "$CTL" refresh --timeout 2
    [ "$status" -eq 1 ]
    [[ $output == "$REG/$(name dead).pem: failed: http://127.0.0.1:$DEADPORT/: "*"; the old staple is kept"* ]]
    grep -q "^failed $(name dead).pem [0-9]* http://127.0.0.1:$DEADPORT/: " "$T/staples/.wanted.state"
    rm "$REG/$(name dead).pem"
    printf 'hello\n' >"$REG/0123456789abcdef-01.pem"
    run "$CTL" refresh
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "$REG/0123456789abcdef-01.pem: bad entry: not a register entry (its first line); ignored" ]
    # the failure was the entry's, and the entry is gone
    run grep -c '^failed ' "$T/staples/.wanted.state"
    [ "$output" = 0 ]
}

@test "aging: an entry unseen for register_max_age is dropped; its staple stays until it expires, then goes" {
    responder
    printf 'register_max_age = 3d\n' >"$LIBSTAPLE_CONF"
    # loaded from files that no longer hold them
    CERTFILE=$W/gone.pem entry a
    CERTFILE=$W/gone.pem entry b
    "$CTL" refresh >/dev/null
    # a: last seen four days ago; b: two days ago (kept)
    touch -d '4 days ago' "$REG/$(name a).pem"
    touch -d '2 days ago' "$REG/$(name b).pem"
    run "$CTL" refresh
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"$REG/$(name b).pem: fresh: "* ]]
    [[ $output == *"$REG/$(name a).pem: dropped: not seen by any program since "* ]]
    [ "${lines[-1]}" = "refresh: 1 certificates: 0 fetched, 1 fresh, 0 without OCSP, 0 failed; register: 0 bad entries, 1 dropped, 0 staples removed" ]
    [ ! -e "$REG/$(name a).pem" ]
    # its staple is current: kept, and served meanwhile
    [ -f "$T/staples/$(name a).der" ]
    grep -q "^gone $(name a).der $(name a).pem [0-9]*$" "$T/staples/.wanted.state"
    run "$CTL" refresh
    [ "$status" -eq 0 ]
    [ -f "$T/staples/$(name a).der" ]
    # two days on, the one-day staple has expired: removed
    rm "$REG/$(name b).pem"
    run faketime -f +2d "$CTL" refresh
    echo "$output"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "$T/staples/$(name a).der: removed: the staple of a dropped register entry, expired" ]
    [ ! -e "$T/staples/$(name a).der" ]
    [ -f "$T/staples/$(name b).der" ]
    run grep -c '^gone ' "$T/staples/.wanted.state"
    [ "$output" = 0 ]
}

# Only a load touches an entry: a server that loaded its certificate once
# and never reloaded still serves it, so the file it came from counts.
@test "aging: an entry unseen for long whose certificate file still holds its leaf is kept; a FIFO there is not waited on" {
    responder
    printf 'register_max_age = 3d\n' >"$LIBSTAPLE_CONF"
    cp "$W/a.full.pem" "$W/site-a.pem"
    mkfifo "$W/fifo-$BATS_TEST_NUMBER"
    CERTFILE=$W/site-a.pem entry a
    CERTFILE=$W/fifo-$BATS_TEST_NUMBER entry b
    touch -d '4 days ago' "$REG/$(name a).pem" "$REG/$(name b).pem"
    run timeout 60 "$CTL" refresh
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"$REG/$(name a).pem: fetched: good, "* ]]
    [[ $output == *"$REG/$(name b).pem: dropped: not seen by any program since "* ]]
    [ -e "$REG/$(name a).pem" ]
    [ ! -e "$REG/$(name b).pem" ]
    # the file renewed to another certificate: a's entry now ages out
    cp "$W/c.full.pem" "$W/site-a.pem"
    run "$CTL" refresh
    [ "$status" -eq 0 ]
    [[ $output == *"$REG/$(name a).pem: dropped: not seen by any program since "* ]]
    [ ! -e "$REG/$(name a).pem" ]
}

# nginx reads its certificate files itself: its entries name no file. One
# unseen for long is kept (the server may never have reloaded) until a
# renewal of the same subject, by the same program, replaces it.
@test "aging: an unseen entry that names no file is kept until a newer one of the same program and subject replaces it" {
    responder
    printf 'register_max_age = 3d\n' >"$LIBSTAPLE_CONF"
    CERTFILE=none entry a nginx
    CERTFILE=none entry b nginx
    touch -d '4 days ago' "$REG/$(name a).pem" "$REG/$(name b).pem"
    run "$CTL" refresh
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"$REG/$(name a).pem: fetched: good, "* ]]
    [[ $output == *"$REG/$(name b).pem: fetched: good, "* ]]
    # a renewed (same subject, same issuer, nginx): a goes, b stays; a
    # renewal registered by another program replaces nothing
    CERTFILE=none entry arenew nginx
    run "$CTL" refresh
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"$REG/$(name a).pem: dropped: not seen by any program since "*"; $(name arenew).pem replaces it"* ]]
    [ ! -e "$REG/$(name a).pem" ]
    [ -e "$REG/$(name b).pem" ]
    [ -e "$REG/$(name arenew).pem" ]
}

@test "aging: a renewal registered by another program does not replace an unseen entry" {
    responder
    printf 'register_max_age = 3d\n' >"$LIBSTAPLE_CONF"
    CERTFILE=none entry a nginx
    touch -d '4 days ago' "$REG/$(name a).pem"
    CERTFILE=none entry arenew smtpd
    run "$CTL" refresh
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"$REG/$(name a).pem: fetched: good, "* ]]
    [ -e "$REG/$(name a).pem" ]
}

@test "an entry whose certificate expired is dropped; without a staple nothing else goes" {
    entry old
    entry plain
    run "$CTL" refresh
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"$REG/$(name old).pem: dropped: the certificate expired 20"* ]]
    [ ! -e "$REG/$(name old).pem" ]
    [ -e "$REG/$(name plain).pem" ]
    [ "$(ls -A "$T/staples")" = ".wanted
.wanted.state" ]
}

@test "a certificate renewed in place: the new entry is stapled, the old one ages out" {
    responder
    cp "$W/a.full.pem" "$W/site.pem"
    CERTFILE=$W/site.pem entry a
    "$CTL" refresh >/dev/null
    # renewed: the same file now holds c; the server registers it, and
    # stops touching a's entry
    cp "$W/c.full.pem" "$W/site.pem"
    entry c
    touch -d '15 days ago' "$REG/$(name a).pem"
    run "$CTL" refresh
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"$REG/$(name c).pem: fetched: good, "* ]]
    [[ $output == *"$REG/$(name a).pem: dropped: not seen by any program since "* ]]
    [ "$(ls "$REG")" = "$(name c).pem" ]
    run "$CTL" verify --cert "$W/c.full.pem" "$T/staples/$(name c).der"
    [ "$output" = good ]
}

@test "show --wanted: each entry's subject, program, age and state" {
    responder
    entry a nginx
    entry dead postfix
    entry plain dovecot
    entry filer nginx
    CERTFILE=$W/gone.pem entry b nginx
    "$CTL" refresh --timeout 2 >/dev/null || true
    entry c smtpd           # registered after the run
    touch -d '20 days ago' "$REG/$(name b).pem"
    run "$CTL" show --wanted --warn 1h
    echo "$output"
    [ "$status" -eq 1 ]     # a fetch failed and there is no staple
    line() { grep -F "$(name "$1").pem: " <<<"$output"; }
    [[ $(line a) =~ ^$(name a).pem:\ /CN=a.test\ \[nginx,\ seen\ [0-9]+[sm]\ ago\]:\ stapled:\ good,\ (23h5[0-9]m|1d0h)\ left$ ]]
    [[ $(line dead) == "$(name dead).pem: /CN=dead.test [postfix, seen "*" ago]: fetching failed ("*"): http://127.0.0.1:$DEADPORT/: "* ]]
    [[ $(line plain) == "$(name plain).pem: /CN=plain.test [dovecot, seen "*" ago]: no OCSP URL: nothing to fetch" ]]
    [[ $(line filer) == "$(name filer).pem: /CN=filer.test [nginx, seen "*" ago]: bad entry: its OCSP URL file:///etc/passwd is not http://: not asked" ]]
    [[ $(line b) == "$(name b).pem: /CN=b.test [nginx, seen 20d0h ago]: aged: not seen by any program since "*"; dropped at the next refresh" ]]
    [[ $(line c) == "$(name c).pem: /CN=c.test [smtpd, seen "*" ago]: not fetched yet" ]]
    [ "${#lines[@]}" -eq 6 ]
    run "$CTL" show --wanted --json --warn 1h
    [ "$status" -eq 1 ]
    python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
w = {e["subject"]: e for e in d["wanted"]}
st = {k: v["state"] for k, v in w.items()}
assert st == {"/CN=a.test": "stapled", "/CN=dead.test": "failed", "/CN=plain.test": "no-ocsp",
              "/CN=filer.test": "bad", "/CN=b.test": "aged", "/CN=c.test": "waiting"}, st
a = w["/CN=a.test"]
assert a["program"] == "nginx" and a["status"] == "good" and 80000 < a["seconds_left"] <= 86400, a
assert a["certfile"].endswith("/a.full.pem") and a["attention"] is False, a
assert w["/CN=dead.test"]["attention"] is True
assert 20 * 86400 <= w["/CN=b.test"]["age_seconds"] < 20 * 86400 + 60
assert d["attention"] is True
' <<<"$output"
    run "$CTL" metrics --warn 1h
    echo "$output"
    grep -qx "libstaple_register_entry{entry=\"$(name a).pem\",subject=\"/CN=a.test\",program=\"nginx\",state=\"stapled\"} 1" <<<"$output"
    grep -qx "libstaple_register_entry{entry=\"$(name dead).pem\",subject=\"/CN=dead.test\",program=\"postfix\",state=\"failed\"} 1" <<<"$output"
    grep -qx 'libstaple_register_entries{state="stapled"} 1' <<<"$output"
    grep -qx 'libstaple_register_entries{state="bad"} 1' <<<"$output"
    grep -qx 'libstaple_register_entries{state="waiting"} 1' <<<"$output"
    grep -qx 'libstaple_register_attention 1' <<<"$output"
    grep -qE "^libstaple_register_entry_age_seconds\\{entry=\"$(name b).pem\"\\} 172[0-9]{4}$" <<<"$output"
    run ! grep -v -E '^(# (HELP|TYPE) .*|libstaple_[a-z_]+(\{[^}]*\})? -?[0-9]+)$' <<<"$output"
}

@test "show --wanted with an empty register, and without one" {
    run "$CTL" show --wanted
    [ "$status" -eq 0 ]
    [ "$output" = "no registered certificates" ]
    rmdir "$REG"
    run "$CTL" show --wanted --json
    [ "$status" -eq 0 ]
    python3 -c 'import json, sys; d = json.load(sys.stdin); assert d == {"wanted": [], "attention": False}, d' <<<"$output"
}

# vhosts_conf: nginx on 127.0.0.1:$PORT with one SNI host per leaf (vrsa,
# vecdsa, vmust), no stapling directive and no certificate list anywhere.
vhosts_conf() {
    local leaf dir
    mkdir -p "$T/nginx/tmp"
    {
        printf 'worker_processes 2;\npid %s;\nerror_log %s info;\ndaemon off;\n' \
            "$T/nginx/nginx.pid" "$T/nginx/error.log"
        printf 'events { worker_connections 64; }\nhttp {\n    access_log off;\n'
        for dir in client_body proxy fastcgi uwsgi scgi; do
            printf '    %s_temp_path %s;\n' "$dir" "$T/nginx/tmp"
        done
        for leaf in vrsa vecdsa vmust; do
            printf '    server {\n        listen 127.0.0.1:%s ssl;\n' "$PORT"
            printf '        server_name %s.test;\n' "$leaf"
            printf '        ssl_certificate %s;\n' "$W/$leaf.full.pem"
            printf '        ssl_certificate_key %s;\n' "$W/$leaf.key"
            printf '        return 200 "%s\\n";\n    }\n' "$leaf"
        done
        printf '}\n'
    } >"$T/nginx/nginx.conf"
}

@test "nginx, three vhosts (RSA, ECDSA, Must-Staple), no certificate list: no staple, one refresh, every vhost staples" {
    responder
    PORT=$(free_port)
    vhosts_conf
    # the register as the servers' loading of these certificates leaves it
    for l in vrsa vecdsa vmust; do
        entry $l nginx
    done
    bg nginx env LD_PRELOAD="$PRELOAD" nginx -p "$T/nginx" -c "$T/nginx/nginx.conf" -e "$T/nginx/error.log"
    wait_port "$PORT"
    for l in vrsa vecdsa vmust; do
        [ "$(staple "$PORT" -servername $l.test)" = none ]
    done
    [ ! -s "$T/staples/.wanted.state" ]
    run "$CTL" refresh
    echo "$output"
    [ "$status" -eq 0 ]
    [ "${lines[-1]}" = "refresh: 3 certificates: 3 fetched, 0 fresh, 0 without OCSP, 0 failed" ]
    for l in vrsa vecdsa vmust; do
        staple_within 15 "$(cat "$W/$l.serial") good" "$PORT" -servername $l.test
        run "$CTL" verify --cert "$W/$l.full.pem" "$T/staples/$(name $l).der"
        [ "$output" = good ]
    done
    # a Must-Staple client under the preload now connects (not under
    # `make check-asan`: curl hangs in setlocale under libasan alone)
    if [[ -z $PRELOAD_BASE ]]; then
        run timeout 30 env LD_PRELOAD="$PRELOAD" LIBSTAPLE_POLICY=require curl -sS \
            --cacert "$PKI/ca.pem" --resolve "vmust.test:$PORT:127.0.0.1" "https://vmust.test:$PORT/"
        [ "$status" -eq 0 ]
        [ "$output" = vmust ]
    fi
}

# units_copy: the refresh units in $T/unit, running this tree's staplectl.
units_copy() {
    mkdir -p "$T/unit"
    for u in service timer path; do
        sed "s|^ExecStart=/usr/bin/staplectl|ExecStart=$CTL|" \
            "$TOP/examples/refresh/libstaple-refresh.$u" >"$T/unit/libstaple-refresh.$u"
    done
}

@test "the units: the path unit watches the register, the service may write it; systemd-analyze verify is silent" {
    units_copy
    grep -qx 'PathChanged=/var/lib/libstaple/.wanted' "$T/unit/libstaple-refresh.path"
    grep -qx 'WantedBy=paths.target' "$T/unit/libstaple-refresh.path"
    # the path unit starts the service of its own name; so does the timer
    run grep -c '^Unit=' "$T/unit/libstaple-refresh.path" "$T/unit/libstaple-refresh.timer"
    [ "$output" = "$T/unit/libstaple-refresh.path:0
$T/unit/libstaple-refresh.timer:0" ]
    # the register and the state file are in the one writable directory
    grep -qx 'ReadWritePaths=/var/lib/libstaple' "$T/unit/libstaple-refresh.service"
    grep -qx 'ProtectSystem=strict' "$T/unit/libstaple-refresh.service"
    [ "$(sed -n 's/^ExecStart=//p' "$TOP/examples/refresh/libstaple-refresh.service")" = "/usr/bin/staplectl refresh" ]
    command -v systemd-analyze >/dev/null || skip "no systemd-analyze"
    run systemd-analyze verify --man=no "$T/unit/libstaple-refresh.path" \
        "$T/unit/libstaple-refresh.timer" "$T/unit/libstaple-refresh.service"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$output" = "" ]
}

@test "staplectl enable --root writes the exact drop-in; disable removes only its own" {
    run "$CTL" enable --root "$T/root" --library /usr/lib/libstaple/libstaple.so nginx
    [ "$status" -eq 0 ]
    f=$T/root/etc/systemd/system/nginx.service.d/libstaple.conf
    [ "$output" = "wrote $f: LD_PRELOAD=/usr/lib/libstaple/libstaple.so
under $T/root: its systemd reads it when it starts" ]
    [ "$(cat "$f")" = "# Written by \`staplectl enable nginx\`: nginx.service runs under
# libstaple, which staples OCSP responses for the certificates it loads.
# \`staplectl disable nginx\` removes this file.
[Service]
Environment=LD_PRELOAD=/usr/lib/libstaple/libstaple.so" ]
    [ "$(stat -c %a "$f")" = 644 ]
    # again, over a file someone changed: the same file, nothing else kept
    echo 'Environment=LD_PRELOAD=/other.so' >>"$f"
    run "$CTL" enable --root "$T/root" --library /usr/lib/libstaple/libstaple.so nginx.service
    [ "$status" -eq 0 ]
    run grep -c LD_PRELOAD "$f"
    [ "$output" = 1 ]
    [ "$(ls -A "${f%/*}")" = libstaple.conf ]
    # without --library: the library beside this staplectl (a build tree)
    run "$CTL" enable --root "$T/root" 'postfix@'
    [ "$status" -eq 0 ]
    grep -qx "Environment=LD_PRELOAD=$TOP/libstaple.so" "$T/root/etc/systemd/system/postfix@.service.d/libstaple.conf"
    # disable: only what enable wrote
    printf '[Service]\nEnvironment=LD_PRELOAD=/mine.so\n' >"$T/root/etc/systemd/system/postfix@.service.d/libstaple.conf"
    run "$CTL" disable --root "$T/root" 'postfix@'
    [ "$status" -eq 1 ]
    [ "$output" = "$T/root/etc/systemd/system/postfix@.service.d/libstaple.conf: not written by staplectl enable; left alone" ]
    grep -qx 'Environment=LD_PRELOAD=/mine.so' "$T/root/etc/systemd/system/postfix@.service.d/libstaple.conf"
    run "$CTL" disable --root "$T/root" nginx
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "removed $f" ]
    [ ! -e "${f%/*}" ]
    run "$CTL" disable --root "$T/root" nginx
    [ "$status" -eq 0 ]
    [ "$output" = "$f: not there; nothing to do" ]
    # names that are not a unit's, and a library systemd would mangle
    for bad in ../etc a/b "" .hidden -x; do
        run "$CTL" enable --root "$T/root" -- "$bad"
        [ "$status" -eq 3 ]
    done
    run "$CTL" enable --root "$T/root" --library '/opt/my lib/libstaple.so' nginx
    [ "$status" -eq 3 ]
    [ ! -e "${f%/*}" ]
}

@test "refresh --json without arguments: register entries are marked, with their program; bad and dropped ones too" {
    responder
    entry a postfix
    entry old
    printf 'hello\n' >"$REG/0123456789abcdef-01.pem"
    run "$CTL" refresh --json
    echo "$output"
    [ "$status" -eq 0 ]
    python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
c = {x["cert"].rsplit("/", 1)[1]: x for x in d["certificates"]}
a, old = sys.argv[1] + ".pem", sys.argv[2] + ".pem"
assert c[a]["register"] is True and c[a]["program"] == "postfix" and c[a]["result"] == "fetched", c[a]
assert c[a]["status"] == "good", c[a]
assert c[old]["result"] == "dropped" and c[old]["reason"].startswith("the certificate expired "), c[old]
bad = c["0123456789abcdef-01.pem"]
assert bad["result"] == "bad-entry" and bad["reason"] == "not a register entry (its first line)", bad
assert d["summary"] == {"certificates": 1, "fetched": 1, "fresh": 0, "no_ocsp": 0, "failed": 0,
                        "bad_entries": 1, "dropped": 1, "staples_removed": 0}, d["summary"]
' "$(name a)" "$(name old)" <<<"$output"
}

@test "two refreshes at once: one waits for the other; neither loses the other's record" {
    responder
    entry a
    entry dead
    "$CTL" refresh --timeout 3 >"$T/one" 2>&1 &
    local one=$!
    "$CTL" refresh --timeout 3 >"$T/two" 2>&1 &
    local two=$!
    wait $one || true
    wait $two || true
    cat "$T/one" "$T/two"
    # the responder was asked about a once: the second run found it fresh
    [ "$(asked)" = "$(cat "$W/a.serial")" ]
    grep -q "^failed $(name dead).pem " "$T/staples/.wanted.state"
}

@test "end to end: nginx registers its three vhosts itself; one refresh and every vhost staples; a renewal in place too" {
    responder
    PORT=$(free_port)
    vhosts_conf
    # vmust's file is renewed in place below: nginx loads a copy
    cp "$W/vmust.full.pem" "$T/site.pem"
    sed -i "s|$W/vmust.full.pem|$T/site.pem|" "$T/nginx/nginx.conf"
    bg nginx env LD_PRELOAD="$PRELOAD" nginx -p "$T/nginx" -c "$T/nginx/nginx.conf" -e "$T/nginx/error.log"
    local master=$BG_PID
    wait_port "$PORT"
    # the master registered each certificate, as the contract writes them
    [ "$(ls "$REG" | sort)" = "$(for l in vrsa vecdsa vmust; do echo "$(name $l).pem"; done | sort)" ]
    grep -qx '# program: nginx' "$REG/$(name vrsa).pem"
    for l in vrsa vecdsa vmust; do
        [ "$(staple "$PORT" -servername $l.test)" = none ]
    done
    run "$CTL" refresh
    echo "$output"
    [ "$status" -eq 0 ]
    [ "${lines[-1]}" = "refresh: 3 certificates: 3 fetched, 0 fresh, 0 without OCSP, 0 failed" ]
    for l in vrsa vecdsa vmust; do
        staple_within 15 "$(cat "$W/$l.serial") good" "$PORT" -servername $l.test
    done
    run "$CTL" show --wanted --warn 1h
    [ "$status" -eq 0 ]
    [ "$(grep -c ' \[nginx, seen [0-9]*s ago\]: stapled: good, 23h' <<<"$output")" -eq 3 ]
    # renewed in place: the same file, a new certificate (and its key)
    cp "$W/vmust2.full.pem" "$T/site.pem"
    sed -i "s|$W/vmust.key|$W/vmust2.key|" "$T/nginx/nginx.conf"
    kill -HUP "$master"
    for _ in $(seq 50); do
        [ -e "$REG/$(name vmust2).pem" ] && break
        sleep 0.1
    done
    [ -e "$REG/$(name vmust2).pem" ]
    run "$CTL" refresh
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"$REG/$(name vmust2).pem: fetched: good, "* ]]
    staple_within 15 "$(cat "$W/vmust2.serial") good" "$PORT" -servername vmust.test
    # the old entry: no process loads it any more; it ages out
    touch -d '15 days ago' "$REG/$(name vmust).pem"
    run "$CTL" refresh
    [[ $output == *"$REG/$(name vmust).pem: dropped: not seen by any program since "* ]]
    [ -f "$T/staples/$(name vmust).der" ]    # until it expires
}

@test "end to end: Postfix smtpd registers its RSA and ECDSA certificates; one refresh and both staple" {
    if ! command -v postfix >/dev/null; then
        [[ -z ${CI:-} ]] || { echo "postfix missing" >&2; return 1; }
        skip "needs postfix"
    fi
    responder
    mail_setup
    mkdir -p "$REG" && chmod 0755 "$REG"
    local SPORT
    PORT=$(free_port) SPORT=$(free_port)
    PKI=$W/pf postfix_config "$PORT" "$SPORT"
    mail_envs "$EXAMPLES/postfix/postfix@.service.d/libstaple.conf"
    postfix_start "$PORT" "${ENVS[@]}"
    # the first smtpd loads both certificates (and registers them): no staple yet
    [ "$(PKI=$W/pf staple "$PORT" -starttls smtp -sigalgs rsa_pss_rsae_sha256)" = none ]
    [ "$(ls "$REG" | sort)" = "$(for l in vrsa vecdsa; do echo "$(name $l).pem"; done | sort)" ]
    grep -qx '# program: smtpd' "$REG/$(name vrsa).pem"
    run "$CTL" refresh
    echo "$output"
    [ "$status" -eq 0 ]
    [ "${lines[-1]}" = "refresh: 2 certificates: 2 fetched, 0 fresh, 0 without OCSP, 0 failed" ]
    PKI=$W/pf staple_within 15 "$(cat "$W/vrsa.serial") good" "$PORT" -starttls smtp -sigalgs rsa_pss_rsae_sha256
    PKI=$W/pf staple_within 15 "$(cat "$W/vecdsa.serial") good" "$PORT" -starttls smtp -sigalgs ecdsa_secp256r1_sha256
}

# Dovecot loads its certificate in imap-login only, as dovenull (user and
# group, no other group), right at the start of each login process, before
# it accepts a connection: from the PEM text its config process (root) read
# out of ssl_cert's file, so the entry names no file. No other process (master,
# config, auth) registers it. imap-login serves one connection per process
# (service_count = 1), a new spare waiting meanwhile (process_min_avail), so
# every connection is a new process that loads the certificate again: each
# that may not write the register logs its one line. The local_name (SNI)
# certificates are loaded only when a client names them.
@test "end to end: Dovecot's imap-login registers its certificate in a register granted to dovenull; one refresh and it staples" {
    if ! command -v dovecot >/dev/null; then
        [[ -z ${CI:-} ]] || { echo "dovecot missing" >&2; return 1; }
        skip "needs dovecot-imapd"
    fi
    responder
    mail_setup
    mkdir -p "$REG" && chmod 0755 "$REG"
    PORT=$(free_port)
    PKI=$W/pf dovecot_config "$PORT" "$EXAMPLES/dovecot/conf.d/99-libstaple.conf"
    mail_envs "$EXAMPLES/dovecot/dovecot.service.d/libstaple.conf"
    # the register root's alone (0755): nothing written, each login process
    # one line, and Dovecot serves TLS as before
    dovecot_start "$PORT" "${ENVS[@]}"
    [ "$(PKI=$W/pf staple "$PORT")" = none ]
    [[ "$(PKI=$W/pf imap_greeting "$PORT")" == "* OK "*"Dovecot"*"ready." ]]
    dovecot_stop
    [ -z "$(ls -A "$REG")" ]
    local why pid
    why="register $REG: Permission denied: the certificate of /CN=vrsa.test is not"
    why+=" registered; for staplectl refresh to fetch its staple, list it (and the other"
    why+=" certificates this process loads) in certs = in $LIBSTAPLE_CONF"
    [ "$(sed -n 's/^libstaple\[[0-9]*\]: warn: \(.*regist.*\)/\1/p' "$T/staple.log" | sort -u)" = "$why" ]
    [ "$(grep -c 'regist' "$T/staple.log")" = "$(grep -c "^libstaple\[[0-9]*\]: warn: register $REG: " "$T/staple.log")" ]
    # the process that served the handshake logged it once
    pid=$(sed -n 's/^libstaple\[\([0-9]*\)\]: warn: \/CN=vrsa.test (serial .*): no staple in .*/\1/p' "$T/staple.log")
    [[ $pid =~ ^[0-9]+$ ]]
    [ "$(grep -c "^libstaple\[$pid\]: warn: register " "$T/staple.log")" -eq 1 ]
    # granted to dovenull: the first login process registers the certificate
    chgrp dovenull "$REG" && chmod 0775 "$REG"
    : >"$T/staple.log"
    dovecot_start "$PORT" "${ENVS[@]}"
    [ "$(PKI=$W/pf staple "$PORT")" = none ]
    [ "$(ls -A "$REG")" = "$(name vrsa).pem" ]
    diff <(printf '# libstaple register entry\n# program: imap-login\n'
        openssl x509 -in "$W/vrsa.pem"; openssl x509 -in "$PKI/int.pem") "$REG/$(name vrsa).pem"
    [ "$(stat -c '%U:%G %a' "$REG/$(name vrsa).pem")" = "dovenull:dovenull 644" ]
    run grep -c 'regist' "$T/staple.log"
    [ "$output" = 0 ]
    run "$CTL" refresh
    echo "$output"
    [ "$status" -eq 0 ]
    [ "${lines[-1]}" = "refresh: 1 certificates: 1 fetched, 0 fresh, 0 without OCSP, 0 failed" ]
    [ "$(asked)" = "$(cat "$W/vrsa.serial")" ]
    PKI=$W/pf staple_within 15 "$(cat "$W/vrsa.serial") good" "$PORT"
    run "$CTL" verify --cert "$W/vrsa.full.pem" "$T/staples/$(name vrsa).der"
    [ "$output" = good ]
    [[ "$(PKI=$W/pf imap_greeting "$PORT")" == "* OK "*"Dovecot"*"ready." ]]
}

@test "a register that is a symbolic link is not read through, and nothing is made in its place" {
    rmdir "$REG"
    mkdir "$T/other"
    REG=$T/other entry a
    ln -s "$T/other" "$REG"
    run "$CTL" refresh
    echo "$output"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "staplectl: $REG: a symbolic link: not followed; the register is not read" ]
    [ "${lines[-1]}" = "refresh: 0 certificates: 0 fetched, 0 fresh, 0 without OCSP, 0 failed" ]
    [ -L "$REG" ]
    [ "$(ls -A "$T/staples")" = .wanted ]
    run "$CTL" show --wanted
    [ "$output" = "$REG: a symbolic link: not followed
no registered certificates" ]
}
