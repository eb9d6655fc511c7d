#!/usr/bin/env bats
# staplectl refresh: a fleet of certificates, each in its own directory as
# Let's Encrypt lays them out (every one a fullchain.pem), whose AIA names a
# real `openssl ocsp` responder on loopback. Only what needs it is fetched,
# every staple gets a name of its own, failures keep the old staple.

load lib/common

# fleet_make DIR PORT N: N leaves issued by the test PKI's intermediate,
# DIR/leafI/fullchain.pem (leaf, then int), with an AIA OCSP URL on PORT;
# DIR/plain/fullchain.pem without one; DIR/index.txt the responder's database.
fleet_make() {
    local dir=$1 port=$2 n=$3 i serial end
    mkdir -p "$dir"
    printf 'authorityInfoAccess = OCSP;URI:http://127.0.0.1:%s/\nbasicConstraints = CA:false\n' \
        "$port" >"$dir/aia.ext"
    printf 'basicConstraints = CA:false\n' >"$dir/plain.ext"
    cp "$PKI/index.txt" "$dir/index.txt"
    cp "$PKI/index.txt.attr" "$dir/index.txt.attr"
    for i in $(seq "$n") plain; do
        mkdir -p "$dir/leaf$i"
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout "$dir/leaf$i/privkey.pem" -subj "/CN=leaf$i.test" \
            -out "$dir/leaf$i.csr" 2>/dev/null
        serial=$(openssl rand -hex 8 | tr a-f A-F | sed 's/^0/1/')
        openssl x509 -req -in "$dir/leaf$i.csr" -CA "$PKI/int.pem" \
            -CAkey "$PKI/int.key" -set_serial "0x$serial" -days 30 \
            -extfile "$dir/$([[ $i == plain ]] && echo plain || echo aia).ext" \
            -out "$dir/leaf$i/cert.pem" 2>/dev/null
        cat "$dir/leaf$i/cert.pem" "$PKI/int.pem" >"$dir/leaf$i/fullchain.pem"
        end=$(date -u -d "$(openssl x509 -in "$dir/leaf$i/cert.pem" -noout -enddate | cut -d= -f2)" +%y%m%d%H%M%SZ)
        printf 'V\t%s\t\t%s\tunknown\t/CN=leaf%s.test\n' "$end" "$serial" "$i" >>"$dir/index.txt"
    done
    mv "$dir/leafplain" "$dir/plain"
}

setup_file() {
    pki_shared
    export FLEET=$BATS_FILE_TMPDIR/fleet RPORT_FLEET
    RPORT_FLEET=$(free_port)
    fleet_make "$FLEET" "$RPORT_FLEET" 6
}

setup() {
    setup_test
    export RPORT=$RPORT_FLEET
    CTL=$TOP/staplectl
}

teardown() {
    kill_bg
}

responder() {
    ocsp_responder "$FLEET/index.txt" responder
}

@test "refresh: every certificate gets a staple of its own name; the one without OCSP is one line" {
    responder
    run "$CTL" refresh --dir "$T/staples" "$FLEET"/leaf*/fullchain.pem "$FLEET/plain/fullchain.pem"
    [ "$status" -eq 0 ]
    [ "$(grep -c ': fetched: good, stored ' <<<"$output")" -eq 6 ]
    [[ $output == *"$FLEET/plain/fullchain.pem: the certificate names no OCSP responder; nothing to do"* ]]
    [ "${lines[-1]}" = "refresh: 7 certificates: 6 fetched, 0 fresh, 1 without OCSP, 0 failed" ]
    # six files, none named after fullchain.pem, each the right certificate's
    [ "$(ls "$T/staples" | wc -l)" -eq 6 ]
    for i in 1 2 3 4 5 6; do
        serial=$(openssl x509 -in "$FLEET/leaf$i/cert.pem" -noout -serial | cut -d= -f2 | tr A-F a-f)
        f=$(ls "$T/staples" | grep -- "-$serial.der$")
        [ -n "$f" ]
        run "$CTL" verify --cert "$FLEET/leaf$i/fullchain.pem" "$T/staples/$f"
        [ "$output" = good ]
    done
}

@test "refresh: fresh staples are not asked about at all" {
    responder
    "$CTL" refresh --dir "$T/staples" "$FLEET"/leaf*/fullchain.pem >/dev/null
    kill_bg    # the responder is gone: a fetch would fail now
    run "$CTL" refresh --dir "$T/staples" "$FLEET"/leaf*/fullchain.pem
    [ "$status" -eq 0 ]
    [ "$(grep -c ': fresh: ' <<<"$output")" -eq 6 ]
    [ "${lines[-1]}" = "refresh: 6 certificates: 0 fetched, 6 fresh, 0 without OCSP, 0 failed" ]
}

@test "refresh: a staple past half its validity is fetched anew, a fresher one is kept" {
    responder
    "$CTL" refresh --dir "$T/staples" "$FLEET/leaf1/fullchain.pem" "$FLEET/leaf2/fullchain.pem" >/dev/null
    # leaf1's staple: made 13 of its 24 hours ago, past half; leaf2's: fresh
    f1=$(ls "$T/staples" | grep -- "-$(openssl x509 -in "$FLEET/leaf1/cert.pem" -noout -serial | cut -d= -f2 | tr A-F a-f).der$")
    openssl ocsp -issuer "$PKI/int.pem" -cert "$FLEET/leaf1/cert.pem" -no_nonce -reqout "$T/req.der" 2>/dev/null
    faketime -f -13h openssl ocsp -index "$FLEET/index.txt" -CA "$PKI/int.pem" -rsigner "$PKI/responder.pem" \
        -rkey "$PKI/responder.key" -reqin "$T/req.der" -ndays 1 -respout "$T/staples/$f1" 2>/dev/null
    run "$CTL" refresh --dir "$T/staples" "$FLEET/leaf1/fullchain.pem" "$FLEET/leaf2/fullchain.pem"
    [ "$status" -eq 0 ]
    [[ ${lines[0]} == "$FLEET/leaf1/fullchain.pem: fetched: good, stored $T/staples/$f1 (until "*"; before: past half its validity)" ]]
    [[ ${lines[1]} == "$FLEET/leaf2/fullchain.pem: fresh: "* ]]
}

@test "refresh: a failed fetch keeps the old staple, says why, and fails the run; the next run retries" {
    responder
    "$CTL" refresh --dir "$T/staples" "$FLEET/leaf3/fullchain.pem" >/dev/null
    f=$(ls "$T/staples")
    # the kept staple goes stale (one made ten days ago), the responder away
    openssl ocsp -issuer "$PKI/int.pem" -cert "$FLEET/leaf3/cert.pem" -no_nonce -reqout "$T/req.der" 2>/dev/null
    faketime -f -10d openssl ocsp -index "$FLEET/index.txt" -CA "$PKI/int.pem" -rsigner "$PKI/responder.pem" \
        -rkey "$PKI/responder.key" -reqin "$T/req.der" -ndays 1 -respout "$T/staples/$f" 2>/dev/null
    cp "$T/staples/$f" "$T/old.der"
    kill_bg
    run "$CTL" refresh --dir "$T/staples" --timeout 2 "$FLEET/leaf3/fullchain.pem"
    [ "$status" -eq 1 ]
    [[ ${lines[0]} == "$FLEET/leaf3/fullchain.pem: failed: http://127.0.0.1:$RPORT/: "*"; the old staple is kept" ]]
    [ "${lines[-1]}" = "refresh: 1 certificates: 0 fetched, 0 fresh, 0 without OCSP, 1 failed" ]
    cmp "$T/staples/$f" "$T/old.der"
    # the responder is back: the next run fetches
    responder
    run "$CTL" refresh --dir "$T/staples" "$FLEET/leaf3/fullchain.pem"
    [ "$status" -eq 0 ]
    [[ ${lines[0]} == *": fetched: good, stored $T/staples/$f (until "*"; before: not usable)" ]]
}

@test "refresh --json: one object per certificate and a summary" {
    responder
    "$CTL" refresh --dir "$T/staples" "$FLEET/leaf4/fullchain.pem" >/dev/null
    run "$CTL" refresh --json --dir "$T/staples" "$FLEET/leaf4/fullchain.pem" \
        "$FLEET/leaf5/fullchain.pem" "$FLEET/plain/fullchain.pem" "$T/no-such.pem"
    [ "$status" -eq 1 ]
    python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
r = [c["result"] for c in d["certificates"]]
assert r == ["fresh", "fetched", "no-ocsp", "failed"], r
assert d["certificates"][0]["status"] == "good"
assert d["certificates"][3]["reason"] == "no PEM certificate"
assert d["summary"] == {"certificates": 4, "fetched": 1, "fresh": 1, "no_ocsp": 1, "failed": 1}, d["summary"]
' <<<"$output"
}

@test "refresh: 'certs =' in the config file, globs and all, when no argument is given; bounded jobs" {
    responder
    # leaf6's cert.pem holds the leaf alone: --CAfile names its issuer
    printf 'dir = %s\ncerts = %s/leaf[1-3]/fullchain.pem %s/leaf6/c*.pem\n' \
        "$T/staples" "$FLEET" "$FLEET" >"$LIBSTAPLE_CONF"
    run "$CTL" refresh --jobs 1 --CAfile "$PKI/chain.pem"
    [ "$status" -eq 0 ]
    [ "${lines[-1]}" = "refresh: 4 certificates: 4 fetched, 0 fresh, 0 without OCSP, 0 failed" ]
    [[ ${lines[3]} == "$FLEET/leaf6/cert.pem: fetched: good, "* ]]
    run "$CTL" refresh --jobs 8 --CAfile "$PKI/chain.pem"
    [ "$status" -eq 0 ]
    [ "$(grep -c ': fresh: ' <<<"$output")" -eq 4 ]
    # without --CAfile the lone leaf has no issuer: one failure, said plainly
    run "$CTL" refresh --jobs 8
    [ "$status" -eq 1 ]
    [[ $output == *"$FLEET/leaf6/cert.pem: failed: no issuer: the file holds no certificate that issued the leaf; give --CAfile; the old staple is kept"* ]]
}

@test "refresh, then the server staples what it fetched; fetch uses the same names" {
    responder
    "$CTL" refresh --dir "$T/staples" "$FLEET/leaf2/fullchain.pem" >/dev/null
    local port serial
    port=$(free_port)
    serial=$(openssl x509 -in "$FLEET/leaf2/cert.pem" -noout -serial | cut -d= -f2)
    bg server env LD_PRELOAD="$PRELOAD" openssl s_server -www -accept "127.0.0.1:$port" \
        -cert "$FLEET/leaf2/cert.pem" -key "$FLEET/leaf2/privkey.pem" -cert_chain "$PKI/int.pem"
    wait_port "$port"
    [ "$(staple "$port")" = "$serial good" ]
    # fetch stores the same certificate's staple under the same name
    before=$(ls "$T/staples")
    run "$CTL" fetch --cert "$FLEET/leaf2/fullchain.pem" --dir "$T/staples"
    [ "$status" -eq 0 ]
    [ "$output" = "$FLEET/leaf2/fullchain.pem: good: stored $T/staples/$before" ]
    [ "$(ls "$T/staples")" = "$before" ]
}

@test "refresh: 'certs =' with 70 patterns: the 70th is refreshed too" {
    responder
    mkdir "$T/many"
    local pats=() i
    for i in $(seq 69); do
        cp "$FLEET/plain/fullchain.pem" "$T/many/p$i.pem"
        pats+=("p$i.pem")
    done
    cp "$FLEET/leaf2/fullchain.pem" "$T/many/leaf.pem"
    printf 'dir = %s\ncerts = %s leaf.pem\n' "$T/staples" "${pats[*]}" >"$LIBSTAPLE_CONF"
    run bash -c 'cd "$1" && "$2" refresh --jobs 4' - "$T/many" "$CTL"
    [ "$status" -eq 0 ]
    [ "${lines[-1]}" = "refresh: 70 certificates: 1 fetched, 0 fresh, 69 without OCSP, 0 failed" ]
}

# unit_copy: the refresh unit, running this tree's staplectl, in $T/unit.
unit_copy() {
    mkdir -p "$T/unit"
    sed "s|^ExecStart=/usr/bin/staplectl|ExecStart=$CTL|" \
        "$TOP/examples/refresh/libstaple-refresh.service" >"$T/unit/libstaple-refresh.service"
}

@test "the refresh unit: systemd-analyze verify finds nothing to say" {
    command -v systemd-analyze >/dev/null || skip "no systemd-analyze"
    unit_copy
    run systemd-analyze verify --man=no "$T/unit/libstaple-refresh.service"
    [ "$status" -eq 0 ]
    [ "$output" = "" ]
    # it is sandboxed
    for key in NoNewPrivileges=yes ProtectSystem=strict ReadWritePaths=/var/lib/libstaple \
        CapabilityBoundingSet= SystemCallFilter=@system-service \
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"; do
        grep -qx -- "$key" "$T/unit/libstaple-refresh.service"
    done
}

@test "a refresh confined as the unit confines it: read-only system but the staple directory, no capabilities" {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    unshare -m true || skip "no mount namespaces here"
    responder
    # the unit's ProtectSystem=strict + ReadWritePaths= and its empty
    # capability set, as far as they can be had without systemd
    run unshare -m bash -c '
        mount --make-rprivate / &&
        mount --bind "$1" "$1" &&
        mount -o remount,bind,ro / &&
        mount -o remount,bind,rw "$1" &&
        if touch "$1/../outside" 2>/dev/null; then echo "not confined"; exit 9; fi &&
        exec setpriv --no-new-privs --bounding-set=-all --inh-caps=-all \
            "$2" refresh --dir "$1" "$3"' - "$T/staples" "$CTL" "$FLEET/leaf3/fullchain.pem"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "${lines[-1]}" = "refresh: 1 certificates: 1 fetched, 0 fresh, 0 without OCSP, 0 failed" ]
    [ "$(ls "$T/staples" | wc -l)" -eq 1 ]
}

@test "refresh: started with SIGCHLD ignored, it still finishes" {
    responder
    # a shell that ignores SIGCHLD passes that on through exec
    run timeout 30 bash -c 'trap "" CHLD; exec "$@"' - "$CTL" refresh --jobs 2 \
        --dir "$T/staples" "$FLEET/leaf1/fullchain.pem" "$FLEET/leaf2/fullchain.pem" \
        "$FLEET/plain/fullchain.pem"
    [ "$status" -eq 0 ]
    [ "$(grep -c ': fetched: good, stored ' <<<"$output")" -eq 2 ]
    [ "${lines[-1]}" = "refresh: 3 certificates: 2 fetched, 0 fresh, 1 without OCSP, 0 failed" ]
}

@test "refresh and fetch: bad numbers are refused, each with a clear error" {
    bad() { # bad MESSAGE CMD...: exit 3 and exactly that message, nothing done
        local msg=$1
        shift
        run "$@"
        [ "$status" -eq 3 ]
        [ "$output" = "$msg" ]
    }
    bad "staplectl: --timeout: 'x' is not a whole number from 1 to 86400" \
        "$CTL" refresh --dir "$T/staples" --timeout x "$FLEET/leaf1/fullchain.pem"
    bad "staplectl: --timeout: '5s' is not a whole number from 1 to 86400" \
        "$CTL" refresh --dir "$T/staples" --timeout 5s "$FLEET/leaf1/fullchain.pem"
    bad "staplectl: --jobs: '0' is not a whole number from 1 to 64" \
        "$CTL" refresh --dir "$T/staples" --jobs 0 "$FLEET/leaf1/fullchain.pem"
    bad "staplectl: --jobs: '99999999999999999999' is not a whole number from 1 to 64" \
        "$CTL" refresh --dir "$T/staples" --jobs 99999999999999999999 "$FLEET/leaf1/fullchain.pem"
    bad "staplectl: --timeout: '' is not a whole number from 1 to 86400" \
        "$CTL" fetch --cert "$FLEET/leaf1/fullchain.pem" --timeout ""
    bad "staplectl: --timeout: '-1' is not a whole number from 1 to 86400" \
        "$CTL" fetch --cert "$FLEET/leaf1/fullchain.pem" --timeout -1
    bad "staplectl: --security-level: '2x' is not a whole number from 0 to 5" \
        "$CTL" verify --cert "$FLEET/leaf1/fullchain.pem" --security-level 2x "$T/none.der"
    [ "$(ls -A "$T/staples")" = "" ]
    # numbers in the config file: the library's line, then staplectl stops
    printf 'max_age = 1x\n' >"$LIBSTAPLE_CONF"
    run "$CTL" refresh --dir "$T/staples" "$FLEET/leaf1/fullchain.pem"
    [ "$status" -eq 3 ]
    [[ ${lines[0]} == "libstaple["*"]: error: $LIBSTAPLE_CONF:1: bad max_age '1x' (60 to 31536000 seconds); keeping 604800" ]]
    [ "${lines[1]}" = "staplectl: $LIBSTAPLE_CONF: a bad number (above); fix it first" ]
    [ "${#lines[@]}" -eq 2 ]
    printf 'security_level = 9\nclock_skew = -5\n' >"$LIBSTAPLE_CONF"
    run "$CTL" show "$T/staples"
    [ "$status" -eq 3 ]
    [[ $output == *"$LIBSTAPLE_CONF:1: bad security_level '9' (0 to 5); keeping 2"* ]]
    [[ $output == *"$LIBSTAPLE_CONF:2: bad clock_skew '-5' (0 to 86400 seconds); keeping 300"* ]]
    [ "${lines[-1]}" = "staplectl: $LIBSTAPLE_CONF: a bad number (above); fix it first" ]
}

@test "refresh: a lone certificate without OCSP URL nor issuer in a 'certs =' glob is an info line" {
    responder
    mkdir -p "$T/certs"
    cp "$FLEET/plain/cert.pem" "$T/certs/a-plain.pem"    # the leaf alone, no AIA
    cp "$FLEET/leaf1/fullchain.pem" "$T/certs/b-leaf1.pem"
    printf 'dir = %s\ncerts = %s/*.pem\n' "$T/staples" "$T/certs" >"$LIBSTAPLE_CONF"
    run "$CTL" refresh
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "$T/certs/a-plain.pem: the certificate names no OCSP responder; nothing to do" ]
    [[ ${lines[1]} == "$T/certs/b-leaf1.pem: fetched: good, stored "* ]]
    [ "${lines[-1]}" = "refresh: 2 certificates: 1 fetched, 0 fresh, 1 without OCSP, 0 failed" ]
}
