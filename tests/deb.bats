#!/usr/bin/env bats
# The Debian package (debian/, `make deb`): it builds, is lintian clean,
# installs with dpkg, works from the installed paths (staplectl, and the demo
# preloading /usr/lib/libstaple/libstaple.so), ships /etc/libstaple.conf as a
# conffile, the register directory and the refresh units with the timer and
# the path unit enabled, and goes away again with dpkg -r and dpkg -P.
#
# This installs a package on the machine: root only (CI runs as root on a
# throwaway VM). Not root: skipped, or a failure when CI is set. With the
# package already installed it is skipped outside CI (it would be removed).
# teardown_file purges the package whatever failed, and puts back files that
# were there before at the package's paths (from a `make install
# PREFIX=/usr`): the machine is left as it was.
#
# The package is built by `make deb` (tests/.work/deb/libstaple.deb), which
# rebuilds only when an input changed, so a package built earlier in the run
# is reused. Under `make check-asan` (a sanitizer runtime preloaded) the
# file is skipped: it tests the package, not the build, and `make test` ran it.
# dpkg -i writes /etc and /usr, which every other file's programs read:
# tests/run: alone

load lib/common

DEB=$TOP/tests/.work/deb/libstaple.deb

# deb_skip REASON: skip every test of the file (bats 1.8 cannot skip in
# setup_file): setup() skips while DEB_SKIP is set.
deb_skip() {
    export DEB_SKIP=$1
}

setup_file() {
    export DEB_SKIP=''
    if [[ -n $PRELOAD_BASE ]]; then
        deb_skip "the package is tested by make test, not under a sanitizer"
        return 0
    fi
    if ((EUID != 0)); then
        [[ -z ${CI:-} ]] || { echo "deb.bats: must run as root under CI" >&2; return 1; }
        deb_skip "installs a package: root only"
        return 0
    fi
    local tool
    for tool in dpkg-buildpackage:dpkg-dev dh:debhelper; do
        command -v "${tool%%:*}" >/dev/null && continue
        [[ -z ${CI:-} ]] || { echo "deb.bats: ${tool%%:*} missing (Debian package ${tool#*:})" >&2; return 1; }
        deb_skip "needs ${tool%%:*} (Debian package ${tool#*:})"
        return 0
    done
    if dpkg-query -W libstaple >/dev/null 2>&1; then
        if [[ -z ${CI:-} ]]; then
            deb_skip "libstaple is installed on this machine: this test would remove it"
            return 0
        fi
        dpkg -P libstaple >&2
    fi
    pki_shared
    export BUILD_LOG=$BATS_FILE_TMPDIR/build.log
    if ! make -C "$TOP" deb >"$BUILD_LOG" 2>&1; then
        tail -40 "$BUILD_LOG" >&2
        echo "deb.bats: make deb failed (whole log: $BUILD_LOG)" >&2
        return 1
    fi
    # what is at the package's paths now is saved, and removed so that the
    # install is the package's alone
    export BEFORE=$BATS_FILE_TMPDIR/before.tar
    dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ { print substr($6, 2) }' >"$BATS_FILE_TMPDIR/paths"
    local saved=()
    while read -r path; do
        if [[ -e $path || -L $path ]]; then
            saved+=("$path")
        fi
    done <"$BATS_FILE_TMPDIR/paths"
    if [[ -d /var/lib/libstaple ]]; then
        saved+=(/var/lib/libstaple)
    fi
    if ((${#saved[@]})); then
        tar -cpf "$BEFORE" -P "${saved[@]}" || return 1
        rm -rf "${saved[@]}"
    fi
    touch "$BATS_FILE_TMPDIR/installed"
    dpkg -i "$DEB" </dev/null >"$BATS_FILE_TMPDIR/install.log" 2>&1 || {
        cat "$BATS_FILE_TMPDIR/install.log" >&2
        return 1
    }
}

teardown_file() {
    [[ -f $BATS_FILE_TMPDIR/installed ]] || return 0
    if dpkg-query -W libstaple >/dev/null 2>&1; then
        dpkg -P libstaple >/dev/null
    fi
    [[ ! -f ${BEFORE:-/nonexistent} ]] || tar -xpf "$BEFORE" -P
}

setup() {
    [[ -z $DEB_SKIP ]] || skip "$DEB_SKIP"
    setup_test
}

teardown() {
    kill_bg
}

# version: the package's version, from debian/changelog.
version() {
    dpkg-parsechangelog -l "$TOP/debian/changelog" -S Version
}

@test "make deb builds the package, versioned as the Makefile says, hardened" {
    [ -f "$DEB" ]
    [ "$(dpkg-deb -f "$DEB" Package)" = libstaple ]
    [ "$(dpkg-deb -f "$DEB" Version)" = "$(version)" ]
    local made
    made=$(sed -n 's/^VERSION *[:?]*= *//p' "$TOP/Makefile")
    [ "$made" = "$(version)" ] || {
        echo "Makefile VERSION '$made', debian/changelog $(version)" >&2
        return 1
    }
    # dpkg-buildflags reached the compile and the link (hardening=+all):
    # stack protector, fortified calls, full RELRO, in both binaries
    dpkg-deb -x "$DEB" "$T/root"
    for bin in usr/lib/libstaple/libstaple.so usr/bin/staplectl; do
        run nm -D "$T/root/$bin"
        [[ $output == *" U __stack_chk_fail"* ]] || { echo "$bin: no stack protector" >&2; return 1; }
        grep -q ' U __[a-z0-9_]*_chk\(@\|$\)' <<<"$output" || { echo "$bin: not fortified" >&2; return 1; }
        readelf -lW "$T/root/$bin" | grep -q GNU_RELRO
        readelf -dW "$T/root/$bin" | grep -q 'FLAGS.*BIND_NOW\|(BIND_NOW)'
    done
    run dpkg-deb -f "$DEB" Depends
    [[ $output == *libssl3* ]]
}

@test "the package is lintian clean (no error, no warning)" {
    if ! command -v lintian >/dev/null; then
        [[ -z ${CI:-} ]] || { echo "lintian missing (Debian package lintian)" >&2; return 1; }
        skip "needs lintian (Debian package lintian)"
    fi
    run lintian --fail-on error,warning "$DEB"
    echo "$output"
    [ "$status" -eq 0 ]
    run ! grep '^[EW]: ' <<<"$output"
}

@test "dpkg -i installed it, and staplectl --version names the version" {
    [ "$(dpkg-query -W -f='${Status} ${Version}' libstaple)" = "install ok installed $(version)" ]
    run /usr/bin/staplectl --version
    [ "$status" -eq 0 ]
    [ "$output" = "staplectl $(version)" ]
}

@test "dpkg -L: the library, staplectl, the man pages, the config and the units" {
    run dpkg -L libstaple
    [ "$status" -eq 0 ]
    for path in /usr/lib/libstaple/libstaple.so /usr/bin/staplectl \
        /usr/share/man/man1/staplectl.1.gz /usr/share/man/man7/libstaple.7.gz \
        /etc/libstaple.conf /lib/systemd/system/libstaple-refresh.service \
        /lib/systemd/system/libstaple-refresh.timer /lib/systemd/system/libstaple-refresh.path \
        /var/lib/libstaple /var/lib/libstaple/.wanted /usr/share/doc/libstaple/copyright; do
        grep -qx -- "$path" <<<"$output" || { echo "not in dpkg -L: $path" >&2; return 1; }
        [ -e "$path" ] || { echo "listed, not there: $path" >&2; return 1; }
    done
    cmp "$TOP/config/libstaple.conf" /etc/libstaple.conf
    cmp "$TOP/examples/refresh/libstaple-refresh.service" /lib/systemd/system/libstaple-refresh.service
    cmp "$TOP/examples/refresh/libstaple-refresh.timer" /lib/systemd/system/libstaple-refresh.timer
    cmp "$TOP/examples/refresh/libstaple-refresh.path" /lib/systemd/system/libstaple-refresh.path
    [ -d /var/lib/libstaple ]
    # the register: root's, 0755 (servers loading certificates as root write it)
    [ "$(stat -c '%U %G %a' /var/lib/libstaple/.wanted)" = "root root 755" ]
    [ "$(stat -c %a /usr/lib/libstaple/libstaple.so)" = 644 ]
    man -w staplectl >/dev/null
    man -w 7 libstaple >/dev/null
}

@test "/etc/libstaple.conf is a conffile" {
    run dpkg-query -W -f='${Conffiles}\n' libstaple
    [ "$status" -eq 0 ]
    grep -q '^ /etc/libstaple.conf [0-9a-f]\{32\}$' <<<"$output"
}

@test "the refresh timer and path unit are enabled (and started where systemd runs); a first run is green" {
    # dh_installsystemd's postinst enabled them: the wants links are there
    [ "$(readlink /etc/systemd/system/timers.target.wants/libstaple-refresh.timer)" = /lib/systemd/system/libstaple-refresh.timer ]
    [ "$(readlink /etc/systemd/system/paths.target.wants/libstaple-refresh.path)" = /lib/systemd/system/libstaple-refresh.path ]
    # (deb-systemd-helper answers only when it believes dpkg called it)
    DPKG_MAINTSCRIPT_PACKAGE=libstaple deb-systemd-helper --quiet was-enabled libstaple-refresh.timer
    DPKG_MAINTSCRIPT_PACKAGE=libstaple deb-systemd-helper --quiet was-enabled libstaple-refresh.path
    if [[ -d /run/systemd/system ]]; then
        [ "$(systemctl is-enabled libstaple-refresh.timer)" = enabled ]
        [ "$(systemctl is-enabled libstaple-refresh.path)" = enabled ]
        systemctl is-active --quiet libstaple-refresh.timer
        systemctl is-active --quiet libstaple-refresh.path
    fi
    if command -v systemd-analyze >/dev/null; then
        run systemd-analyze verify /lib/systemd/system/libstaple-refresh.timer \
            /lib/systemd/system/libstaple-refresh.service /lib/systemd/system/libstaple-refresh.path
        echo "$output"
        [ "$status" -eq 0 ]
    fi
    # what the units run, on a fresh install with nothing configured:
    # nothing to do, exit 0 (so an enabled unit is never red for it)
    run env -u LIBSTAPLE_DIR -u LIBSTAPLE_CONF /usr/bin/staplectl refresh
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$output" = "refresh: 0 certificates: 0 fetched, 0 fresh, 0 without OCSP, 0 failed" ]
}

@test "the installed staplectl enable writes the drop-in naming the installed library" {
    run /usr/bin/staplectl enable --root "$T/root" nginx
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "wrote $T/root/etc/systemd/system/nginx.service.d/libstaple.conf: LD_PRELOAD=/usr/lib/libstaple/libstaple.so" ]
    grep -qx 'Environment=LD_PRELOAD=/usr/lib/libstaple/libstaple.so' "$T/root/etc/systemd/system/nginx.service.d/libstaple.conf"
}

@test "the installed staplectl verifies a staple with the system's libssl" {
    pki_ocsp "$PKI" rsa good issuer now "$T/rsa.der"
    run /usr/bin/staplectl verify --cert "$PKI/rsa.pem" --issuer "$PKI/int.pem" \
        --CAfile "$PKI/ca.pem" "$T/rsa.der"
    [ "$status" -eq 0 ]
    [ "$output" = good ]
}

# section N: the lines of step N of the demo's output ($output).
section() {
    awk -v n="$1" '/^== / { on = ($2 == n ".") } on' <<<"$output"
}

@test "the demo, with the installed library: the staple arrives, Must-Staple is enforced" {
    command -v curl >/dev/null
    LIBSTAPLE_SO=/usr/lib/libstaple/libstaple.so run "$TOP/examples/demo.sh"
    echo "$output"
    [ "$status" -eq 0 ]
    section 3 | grep -q '^LD_PRELOAD=/usr/lib/libstaple/libstaple.so '
    section 4 | grep -q '^ *OCSP Response Status: successful'
    section 4 | grep -q '^ *Cert Status: good$'
    section 5 | grep -q '^ *curl: connected$'
    section 6 | grep -q '^ *curl: refused: '
    section 6 | grep -q 'libstaple\[[0-9]*\]: error: must.test: rejected /CN=must.test \[Must-Staple\]: missing'
    section 7 | grep -q '^ *curl: connected$'
    # the installed /etc/libstaple.conf (read by the demo's programs) is fine
    [[ $output != *libstaple.conf* ]]
}

@test "dpkg -r removes the files and keeps the config; dpkg -P removes everything" {
    echo staple >/var/lib/libstaple/site.der
    run dpkg -r libstaple
    [ "$status" -eq 0 ]
    [ "$(dpkg-query -W -f='${Status}' libstaple)" = "deinstall ok config-files" ]
    for path in /usr/lib/libstaple/libstaple.so /usr/bin/staplectl \
        /usr/share/man/man1/staplectl.1.gz /usr/share/man/man7/libstaple.7.gz \
        /lib/systemd/system/libstaple-refresh.service /lib/systemd/system/libstaple-refresh.timer \
        /lib/systemd/system/libstaple-refresh.path /usr/share/doc/libstaple; do
        [ ! -e "$path" ] || { echo "left after dpkg -r: $path" >&2; return 1; }
    done
    [ -f /etc/libstaple.conf ]
    [ -f /var/lib/libstaple/site.der ]
    run dpkg -P libstaple
    [ "$status" -eq 0 ]
    if dpkg-query -W libstaple 2>/dev/null; then
        echo "dpkg still knows libstaple after dpkg -P" >&2
        return 1
    fi
    [ ! -e /etc/libstaple.conf ]
    [ ! -e /var/lib/libstaple ]
    [ ! -e /etc/systemd/system/timers.target.wants/libstaple-refresh.timer ]
    [ ! -e /etc/systemd/system/paths.target.wants/libstaple-refresh.path ]
    [ ! -e /usr/lib/libstaple ]
}
