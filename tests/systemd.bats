#!/usr/bin/env bats
# The package's systemd units under a real systemd: Debian 12 (the
# bookworm-systemd root of tests/lib/roots.sh) booted with systemd-nspawn
# (tests/lib/systemd.sh), systemd 252 as its PID 1, a fresh boot for each
# test, and the .deb built here installed there with dpkg -i: its
# maintainer scripts enable and start the refresh timer and path unit for
# real. The refresh service runs `staplectl refresh` as systemd runs it, in
# its sandbox (ProtectSystem=strict, no capabilities, system-call
# filter...), and fetches from an `openssl ocsp` responder on this
# machine's loopback (the container shares its network); a certificate
# registered in /var/lib/libstaple/.wanted is stapled seconds later, the
# path unit starting the service; and an operator's whole setup (install,
# `staplectl enable SERVICE`, start it, no certificate list) ends with the
# server stapling its certificate seconds after it started.
#
# Booting needs root and systemd-nspawn (Debian package systemd-container):
# without them, or when the root cannot be made, the tests skip with the
# reason, and fail under CI. The root is booted over an overlay: the cached
# root is never changed. teardown halts the container and fails when a
# process of it is left.
# tests/run: lock deb
# (`make deb` builds the package into tests/.work/deb: one file at a time)

load lib/common
load lib/roots.sh
load lib/systemd.sh

# Where the test's files (the package, the certificates) are inside the
# container: a read-only bind of $SRV.
IN=/srv/staple-test

# sys_skip REASON: skip every test (setup skips while SYS_SKIP is set);
# under CI a failure instead.
sys_skip() {
    if [[ -n ${CI:-} ]]; then
        echo "systemd.bats: $1 (CI is set: it must run)" >&2
        return 1
    fi
    export SYS_SKIP=$1
}

# fleet_leaf NAME: a leaf NAME.test issued by the test intermediate, whose
# AIA names the responder on $RPORT: $SRV/NAME/fullchain.pem (leaf, then
# the intermediate), known to the responder's $SRV/index.txt.
fleet_leaf() {
    local name=$1 dir=$SRV/$1 serial end
    mkdir -p "$dir"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$dir/privkey.pem" -subj "/CN=$name.test" -out "$dir/req.csr" 2>/dev/null
    serial=$(openssl rand -hex 8 | tr a-f A-F | sed 's/^0/1/')
    openssl x509 -req -in "$dir/req.csr" -CA "$PKI/int.pem" -CAkey "$PKI/int.key" \
        -set_serial "0x$serial" -days 30 -extfile "$SRV/aia.ext" \
        -out "$dir/cert.pem" 2>/dev/null || return 1
    cat "$dir/cert.pem" "$PKI/int.pem" >"$dir/fullchain.pem"
    end=$(date -u -d "$(openssl x509 -in "$dir/cert.pem" -noout -enddate | cut -d= -f2)" +%y%m%d%H%M%SZ)
    printf 'V\t%s\t\t%s\tunknown\t/CN=%s.test\n' "$end" "$serial" "$name" >>"$SRV/index.txt"
    # the service reads it as root without CAP_DAC_OVERRIDE
    chmod -R a+rX "$dir"
}

setup_file() {
    export SYS_SKIP='' SYS_ROOT SRV RPORT_SYS
    pki_shared
    if [[ -n $PRELOAD_BASE ]]; then
        export SYS_SKIP="the package is tested by make test, not under a sanitizer"
        return 0
    fi
    local why
    if ! why=$(sd_usable 2>&1); then
        sys_skip "${why#systemd: }"
        return
    fi
    roots_ready SYS_SKIP bookworm-systemd || return 1
    [[ -z $SYS_SKIP ]] || return 0
    SYS_ROOT=$(roots_dir bookworm-systemd)
    if ! make -C "$TOP" deb >"$BATS_FILE_TMPDIR/make-deb.log" 2>&1; then
        tail -n 30 "$BATS_FILE_TMPDIR/make-deb.log" >&2
        echo "systemd.bats: make deb failed" >&2
        return 1
    fi
    SRV=$BATS_FILE_TMPDIR/srv
    mkdir -p "$SRV" && chmod 0755 "$SRV" "$BATS_FILE_TMPDIR"
    cp "$TOP/tests/.work/deb/libstaple.deb" "$SRV/libstaple.deb"
    RPORT_SYS=$(free_port)
    printf 'authorityInfoAccess = OCSP;URI:http://127.0.0.1:%s/\nbasicConstraints = CA:false\n' \
        "$RPORT_SYS" >"$SRV/aia.ext"
    cp "$PKI/index.txt" "$SRV/index.txt"
    cp "$PKI/index.txt.attr" "$SRV/index.txt.attr"
    fleet_leaf one && fleet_leaf two && fleet_leaf three || return 1
    cp "$PKI/int.pem" "$SRV/int.pem"
    chmod -R a+rX "$SRV"
}

setup() {
    [[ -z $SYS_SKIP ]] || skip "$SYS_SKIP"
    setup_test
    export RPORT=$RPORT_SYS
    sd_boot "$T/sd" "$SYS_ROOT" --bind-ro="$SRV:$IN"
}

teardown() {
    kill_bg
    sd_halt
}

# install_deb: dpkg -i the package in the booted system.
install_deb() {
    run sd_exec dpkg -i "$IN/libstaple.deb"
    [ "$status" -eq 0 ] || { echo "$output" >&2; return 1; }
}

# conf TEXT: /etc/libstaple.conf of the booted system is TEXT.
conf() {
    printf '%s\n' "$1" | sd_exec tee /etc/libstaple.conf >/dev/null
}

# unit_prop UNIT PROP: the value of systemctl show's PROP for UNIT.
unit_prop() {
    sd_exec systemctl show -P "$2" "$1"
}

# journal UNIT: what UNIT logged in this boot, message text only.
journal() {
    sd_exec journalctl --no-pager -b -o cat -u "$1"
}

# staple_of NAME: the path, in the booted system, of the staple the
# refresh stores for leaf NAME (the file whose name ends in its serial).
staple_of() {
    local serial
    serial=$(openssl x509 -in "$SRV/$1/cert.pem" -noout -serial | cut -d= -f2 | tr A-F a-f)
    sd_exec find /var/lib/libstaple -maxdepth 1 -name "*-$serial.der" -type f
}

# responder: the PKI's `openssl ocsp` on $RPORT, for the fleet's leaves.
responder() {
    ocsp_responder "$SRV/index.txt" responder
}

@test "systemd 252 is PID 1 of the booted Debian 12 root, started fully, and its sandboxing works" {
    [ "$(sd_exec systemctl is-system-running)" = running ]
    [ "$(sd_exec cat /proc/1/comm)" = systemd ]
    [[ $(sd_exec systemctl --version | head -n 1) == "systemd 252 (252."* ]]
    [ "$(sd_exec systemd-detect-virt --container)" = systemd-nspawn ]
    # a transient service with a dynamic user and a read-only system
    run sd_exec systemd-run --quiet --wait --pipe -p DynamicUser=yes -p ProtectSystem=strict \
        sh -c 'id -u; touch /etc/probe'
    [ "$status" -ne 0 ]
    [ "${lines[0]}" -ge 61184 ] && [ "${lines[0]}" -le 65519 ]
    [[ $output == *"touch: cannot touch '/etc/probe': Read-only file system"* ]]
}

@test "dpkg -i enables and starts the refresh timer and path unit; the service is static, and not failed" {
    install_deb
    [ "$(unit_prop libstaple-refresh.service LoadState)" = loaded ]
    [ "$(sd_exec systemctl is-enabled libstaple-refresh.service)" = static ]
    for unit in libstaple-refresh.timer libstaple-refresh.path; do
        [ "$(sd_exec systemctl is-enabled "$unit")" = enabled ]
        [ "$(sd_exec systemctl is-active "$unit")" = active ]
        [ "$(unit_prop "$unit" Triggers)" = libstaple-refresh.service ]
    done
    [ "$(unit_prop libstaple-refresh.path Paths)" = "/var/lib/libstaple/.wanted (PathChanged)" ]
    [[ $(unit_prop libstaple-refresh.timer NextElapseUSecMonotonic) =~ [0-9] ]]
    [ "$(sd_exec systemctl is-failed libstaple-refresh.service)" != failed ]
    [ "$(sd_exec stat -c '%U %G %a' /var/lib/libstaple/.wanted)" = "root root 755" ]
    [ "$(sd_exec systemctl is-system-running)" = running ]
    # dpkg -P stops and disables them again
    run sd_exec dpkg -P libstaple
    [ "$status" -eq 0 ]
    for unit in libstaple-refresh.timer libstaple-refresh.path; do
        [ "$(sd_exec systemctl is-active "$unit")" = inactive ]
        [ "$(unit_prop "$unit" LoadState)" = not-found ]
    done
}

@test "the refresh service runs staplectl refresh in its sandbox and stores a good staple" {
    install_deb
    conf "certs = $IN/one/fullchain.pem"
    responder
    run sd_exec systemctl start libstaple-refresh.service
    [ "$status" -eq 0 ] || { journal libstaple-refresh.service >&2; return 1; }
    [ "$(unit_prop libstaple-refresh.service Result)" = success ]
    [ "$(unit_prop libstaple-refresh.service ExecMainStatus)" = 0 ]
    run journal libstaple-refresh.service
    [[ $output == *"$IN/one/fullchain.pem: fetched: good, stored /var/lib/libstaple/"* ]]
    [[ $output == *"refresh: 1 certificates: 1 fetched, 0 fresh, 0 without OCSP, 0 failed"* ]]
    # the staple is the certificate's own and verifies
    local f
    f=$(staple_of one)
    [ -n "$f" ]
    [ "$(sd_exec stat -c '%U %a' "$f")" = "root 644" ]
    run sd_exec staplectl verify --cert "$IN/one/fullchain.pem" "$f"
    [ "$status" -eq 0 ]
    [ "$output" = good ]
    [ -z "$(staple_of two)" ]
}

@test "the refresh service's sandbox is systemd's: a staple directory outside ReadWritePaths= is read-only to it, not to root" {
    install_deb
    sd_exec mkdir -m 0755 /etc/staples
    conf "certs = $IN/one/fullchain.pem
dir = /etc/staples"
    responder
    run sd_exec systemctl start libstaple-refresh.service
    [ "$status" -ne 0 ]
    [ "$(unit_prop libstaple-refresh.service Result)" = exit-code ]
    run journal libstaple-refresh.service
    [[ $output == *"Read-only file system"* ]] || { echo "$output" >&2; return 1; }
    [ -z "$(sd_exec ls -A /etc/staples)" ]
    # the same command as root outside the service writes it
    run sd_exec staplectl refresh
    [ "$status" -eq 0 ]
    [ "${lines[-1]}" = "refresh: 1 certificates: 1 fetched, 0 fresh, 0 without OCSP, 0 failed" ]
    [ "$(sd_exec ls -A /etc/staples | grep -c '\.der$')" -eq 1 ]
}

# register_name LEAF: the register name (and staple stem) of $SRV/LEAF:
# 16 hex of the SHA-1 of the issuer's key, "-", the serial in hex.
register_name() {
    local key serial
    key=$(openssl x509 -in "$PKI/int.pem" -noout -ocspid | sed -n 's/.*Public key OCSP hash: //p' |
        tr A-F a-f | cut -c1-16)
    serial=$(openssl x509 -in "$SRV/$1/cert.pem" -noout -serial | cut -d= -f2 | tr A-F a-f)
    echo "$key-$serial"
}

@test "a certificate registered in /var/lib/libstaple/.wanted is stapled within seconds: the path unit starts the refresh" {
    local name entry start f
    install_deb
    responder
    [ "$(sd_exec systemctl is-active libstaple-refresh.path)" = active ]
    # only the path unit may start the service now
    sd_exec systemctl stop libstaple-refresh.timer
    name=$(register_name two)
    [ -z "$(staple_of two)" ]
    # the entry, written as a server under the preload writes it: a
    # temporary file in the register, renamed into place at once by the
    # same process (the temporary file's creation already starts the
    # service, and systemd drops what the directory sees while it runs: a
    # rename a shell's mv made a moment later could come after the run's
    # last look at the register)
    entry=/var/lib/libstaple/.wanted/$name.pem
    {
        echo '# libstaple register entry'
        echo '# program: nginx'
        openssl x509 -in "$SRV/two/cert.pem"
        openssl x509 -in "$PKI/int.pem"
    } | sd_exec perl -e 'local $/; my $e = <STDIN>; open(my $f, ">", $ARGV[0]) or die "$ARGV[0]: $!";
        print $f $e; close($f) or die; rename($ARGV[0], $ARGV[1]) or die "$ARGV[1]: $!"' \
        "/var/lib/libstaple/.wanted/.$name.1.tmp" "$entry"
    [ "$(sd_exec head -n 1 "$entry")" = "# libstaple register entry" ]
    start=$SECONDS
    while [[ -z $(staple_of two) ]]; do
        if ((SECONDS - start > 20)); then
            journal libstaple-refresh.service >&2
            sd_exec ls -la --time-style=full-iso /var/lib/libstaple /var/lib/libstaple/.wanted >&2
            sd_exec systemctl status --no-pager libstaple-refresh.path >&2 || true
            echo "no staple 20 s after the entry was registered" >&2
            return 1
        fi
        sleep 0.2
    done
    echo "# stapled $((SECONDS - start)) s after the entry was registered" >&3
    # the run that stored it ends
    for _ in $(seq 100); do
        [[ $(sd_exec systemctl is-active libstaple-refresh.service) == activating ]] || break
        sleep 0.1
    done
    f=$(staple_of two)
    [ "$f" = "/var/lib/libstaple/$name.der" ]
    run sd_exec staplectl verify --cert "$IN/two/fullchain.pem" "$f"
    [ "$output" = good ]
    run journal libstaple-refresh.service
    [[ $output == *"$entry: fetched: good, stored $f (until "* ]]
    [[ $output == *"refresh: 1 certificates: 1 fetched, 0 fresh, 0 without OCSP, 0 failed"* ]]
    [ "$(unit_prop libstaple-refresh.service Result)" = success ]
    [ "$(sd_exec systemctl is-active libstaple-refresh.timer)" = inactive ]
}

@test "an operator's whole setup: install, staplectl enable SERVICE, start it: its certificate is stapled seconds later, listed nowhere" {
    local name serial start
    install_deb
    responder
    # the package's own configuration: no `certs =`
    run sd_exec grep -c '^certs' /etc/libstaple.conf
    [ "$output" = 0 ]
    PORT=$(free_port)
    printf '%s\n' '[Unit]' 'Description=a TLS server' '[Service]' \
        "ExecStart=/usr/bin/openssl s_server -www -accept 127.0.0.1:$PORT -cert $IN/three/cert.pem -key $IN/three/privkey.pem -cert_chain $IN/int.pem" |
        sd_exec tee /etc/systemd/system/tlsdemo.service >/dev/null
    run sd_exec staplectl enable tlsdemo
    [ "$status" -eq 0 ]
    [ "$(unit_prop tlsdemo.service Environment)" = LD_PRELOAD=/usr/lib/libstaple/libstaple.so ]
    # only the path unit may start the refresh
    sd_exec systemctl stop libstaple-refresh.timer
    run sd_exec systemctl start tlsdemo
    [ "$status" -eq 0 ]
    start=$SECONDS
    wait_port "$PORT"
    serial=$(openssl x509 -in "$SRV/three/cert.pem" -noout -serial | cut -d= -f2)
    staple_within 20 "$serial good" "$PORT" || { journal libstaple-refresh.service >&2; return 1; }
    echo "# stapled $((SECONDS - start)) s after the server was started" >&3
    name=$(register_name three)
    run sd_exec head -n 2 "/var/lib/libstaple/.wanted/$name.pem"
    [ "${lines[0]}" = "# libstaple register entry" ]
    [ "${lines[1]}" = "# program: openssl" ]
    run journal libstaple-refresh.service
    [[ $output == *"/var/lib/libstaple/.wanted/$name.pem: fetched: good, stored /var/lib/libstaple/$name.der (until "* ]]
    [ "$(sd_exec systemctl is-active tlsdemo)" = active ]
}
