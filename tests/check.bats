#!/usr/bin/env bats
# staplectl check PROGRAM|PID: the verdict for each kind of program, one
# line per check, exit 0 only when libstaple can work for it.

load lib/common
load lib/legacy.sh

setup() {
    setup_test
    CTL=$TOP/staplectl
    # a directory every user can search, for the --user nobody cases
    D=$(mktemp -d /tmp/staple-check.XXXXXX)
    chmod 0755 "$D"
}

teardown() {
    kill_bg
    rm -rf "$D"
}

# line NAME: the output line of check NAME, verdict and all
line() {
    local l
    for l in "${lines[@]}"; do
        [[ $l =~ ^[a-z]+\ +$1\  ]] && { printf '%s\n' "$l"; return 0; }
    done
    echo "no $1 line in: $output" >&2
    return 1
}

TRIAL_OK="ok   trial   LD_PRELOAD=$LIBSTAPLE loads: versions and symbols resolve (the loader's trace mode: the program did not run)"

# legacy_or_skip FN DIR: a legacy fetch or build, skipped only where it
# cannot work at all (and never under CI), as in legacy.bats
legacy_or_skip() {
    local reason
    "$1" "$2" 2>"$T/legacy.err" && return 0
    cat "$T/legacy.err" >&2
    if reason=$(legacy_unreachable "$T/legacy.err") && [[ -z ${CI:-} ]]; then
        skip "$reason"
    fi
    return 1
}

@test "check /usr/bin/openssl: every check ok, OpenSSL 3 served, exit 0" {
    run "$CTL" check /usr/bin/openssl
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 8 ]
    [ "$(line library)" = "ok   library $LIBSTAPLE (x86-64), readable by root" ] ||
        [ "$(line library)" = "ok   library $LIBSTAPLE (aarch64), readable by root" ]
    [[ $(line libc) == "ok   libc    glibc $(getconf GNU_LIBC_VERSION | cut -d' ' -f2) ("*"/libc.so.6); the library needs GLIBC_2."*" at most" ]]
    [[ $(line tls) =~ ^ok\ \ \ tls\ \ \ \ \ OpenSSL\ 3\.[0-9]+\.[0-9]+\ .*\ \(.*/libssl\.so\.3\):\ served$ ]]
    [ "$(line secure)" = "ok   secure  no setuid, setgid or file capabilities: LIBSTAPLE_* variables apply" ]
    [ "$(line config)" = "ok   config  $LIBSTAPLE_CONF (owner 0, mode 0644): read" ]
    [ "$(line dir)" = "ok   dir     $T/staples: readable by root (0 files)" ]
    [ "$(line trial)" = "$TRIAL_OK" ]
    [ "${lines[7]}" = "libstaple can work for /usr/bin/openssl" ]
}

@test "check --json: the same verdicts as JSON" {
    run "$CTL" check --json /usr/bin/openssl
    [ "$status" -eq 0 ]
    run python3 -c '
import json, sys
d = json.loads(sys.argv[1])
print(d["target"], d["works"], " ".join(c["check"] + "=" + c["verdict"] for c in d["checks"]))
' "$output"
    [ "$output" = "/usr/bin/openssl True library=ok libc=ok tls=ok secure=ok config=ok dir=ok trial=ok" ]
}

@test "check gnutls-cli: another TLS library, exit 1" {
    run "$CTL" check gnutls-cli
    [ "$status" -eq 1 ]
    [[ $(line tls) == "fail tls     another TLS library: GnuTLS ("*"/libgnutls.so.30), not OpenSSL's libssl; libstaple serves OpenSSL programs only" ]]
    [ "$(line trial)" = "$TRIAL_OK" ]
    [ "${lines[-1]}" = "libstaple cannot work for $(command -v gnutls-cli): tls" ]
}

@test "check a program linked statically to OpenSSL: unreachable by a preload, exit 1" {
    cc -o "$T/static" "$TOP/tests/lib/suid_client.c" -Wl,-Bstatic -lssl -lcrypto -Wl,-Bdynamic
    # it is a dynamic program, but with no libssl
    run ldd "$T/static"
    [[ $output != *libssl* ]]
    run "$CTL" check "$T/static"
    [ "$status" -eq 1 ]
    [ "$(line tls)" = "fail tls     OpenSSL is linked statically (SSL_CTX_new is defined in the executable, no libssl): no preload can reach it" ]
    [ "${lines[-1]}" = "libstaple cannot work for $T/static: tls" ]
    # stripped of its symbol table, it is still recognised
    strip -o "$T/stripped" "$T/static"
    run "$CTL" check "$T/stripped"
    [ "$status" -eq 1 ]
    [ "$(line tls)" = "fail tls     OpenSSL is linked statically (no symbol table, but libssl's cipher suite names are in the executable, and no libssl): no preload can reach it" ]
}

@test "check a program on a 1.1.0 libssl: stepping aside, named, exit 1" {
    legacy_fake_libssl "$T/fake" libssl.so.1.1.0 0x1010007f "OpenSSL 1.1.0g  2 Nov 2017"
    LD_LIBRARY_PATH=$T/fake run "$CTL" check "$T/fake/prog"
    [ "$status" -eq 1 ]
    [ "$(line tls)" = "fail tls     OpenSSL 1.1.0g  2 Nov 2017 ($T/fake/libssl.so.1.1.0) is not a version libstaple serves (1.0.2, 1.1.1, 3.x): it steps aside" ]
    [ "$(line trial)" = "$TRIAL_OK" ]
    [ "${lines[-1]}" = "libstaple cannot work for $T/fake/prog: tls" ]
    # without the library path its libssl is not found: said so
    run env -u LD_LIBRARY_PATH "$CTL" check "$T/fake/prog"
    [ "$status" -eq 1 ]
    [ "$(line tls)" = "fail tls     libssl.so.1.1.0: not found (the program does not start here; LD_LIBRARY_PATH?)" ]
}

@test "check a setuid copy: secure execution explained, LD_PRELOAD paths ignored, exit 0" {
    mkdir "$D/bin"
    cp /usr/bin/openssl "$D/bin/openssl"
    chmod 4755 "$D/bin/openssl"
    if findmnt -n -o OPTIONS --target "$D" | grep -qw nosuid; then
        skip "$D is on a nosuid file system"
    fi
    run "$CTL" check --user nobody "$D/bin/openssl"
    [ "$status" -eq 0 ]
    [ "$(line secure)" = "warn secure  setuid root: secure execution: no LIBSTAPLE_* variable is honoured, no log file is opened (syslog instead), the config file is read only if root owns it and only root can write it, and the loader ignores an LD_PRELOAD path (with a slash): deploy through /etc/ld.so.preload" ]
    # LIBSTAPLE_CONF and LIBSTAPLE_DIR do not count for it
    [[ $(line config) == "ok   config  /etc/libstaple.conf"* ]]
    [[ $(line dir) == *" dir     /var/lib/libstaple"* ]]
    [ "$(line trial)" = "${TRIAL_OK}; run for real, this secure-execution program's loader ignores an LD_PRELOAD path: only /etc/ld.so.preload reaches it" ]
    [ "${lines[-1]}" = "libstaple can work for $D/bin/openssl" ]
    # the same file without the bit
    chmod 0755 "$D/bin/openssl"
    run "$CTL" check --user nobody "$D/bin/openssl"
    [ "$(line secure)" = "ok   secure  no setuid, setgid or file capabilities: LIBSTAPLE_* variables apply" ]
}

@test "check PID: a running openssl s_server, from /proc/PID/maps" {
    local port
    port=$(free_port)
    bg s_server openssl s_server -www -accept "127.0.0.1:$port" \
        -cert "$PKI/rsa.pem" -key "$PKI/rsa.key"
    wait_port "$port"
    run "$CTL" check "$BG_PID"
    [ "$status" -eq 0 ]
    [[ $(line tls) =~ ^ok\ \ \ tls\ \ \ \ \ OpenSSL\ 3\.[0-9]+\.[0-9]+\ .*\ \(.*/libssl\.so\.3\):\ served$ ]]
    [ "$(line config)" = "ok   config  $LIBSTAPLE_CONF (owner 0, mode 0644): read" ]
    [ "$(line trial)" = "$TRIAL_OK" ]
    [ "${lines[-1]}" = "libstaple can work for /usr/bin/openssl" ]
    run "$CTL" check --json "$BG_PID"
    [ "$status" -eq 0 ]
    run python3 -c 'import json, sys; d = json.loads(sys.argv[1]); print(d["pid"], d["works"])' "$output"
    [ "$output" = "$BG_PID True" ]
    # --user is the process's own
    run "$CTL" check --user nobody "$BG_PID"
    [ "$status" -eq 3 ]
}

@test "check Debian 11's OpenSSL 1.1.1 programs (openssl, curl, nginx): served" {
    local b=${STAPLE_LEGACY_WORK:-$TOP/tests/.work/legacy}/bullseye p
    legacy_or_skip legacy_bullseye_fetch "$b"
    for p in usr/bin/openssl usr/bin/curl usr/sbin/nginx; do
        run env $(legacy_bullseye_env "$b") "$CTL" check "$b/root/$p"
        [ "$status" -eq 0 ]
        [[ $(line tls) == "ok   tls     OpenSSL 1.1.1w  11 Sep 2023 ($b/root/usr/lib/"*"/libssl.so.1.1): served"* ]]
        [ "$(line trial)" = "$TRIAL_OK" ]
        [ "${lines[-1]}" = "libstaple can work for $b/root/$p" ]
    done
}

@test "check the vendored OpenSSL 1.0.2k: served" {
    local o=${STAPLE_LEGACY_WORK:-$TOP/tests/.work/legacy}/openssl-1.0.2k
    legacy_or_skip legacy_openssl102_build "$o"
    LD_LIBRARY_PATH=$o/prefix/lib run "$CTL" check "$o/prefix/bin/openssl"
    [ "$status" -eq 0 ]
    [ "$(line tls)" = "ok   tls     OpenSSL 1.0.2k  26 Jan 2017 ($o/prefix/lib/libssl.so.1.0.0): served" ]
}

@test "check /bin/true: no TLS library, exit 1" {
    run "$CTL" check /bin/true
    [ "$status" -eq 1 ]
    [ "$(line tls)" = "fail tls     no TLS library among its libraries: nothing for libstaple to do (a libssl loaded later with dlopen, as Python's ssl module is, is not seen here: check the running process by PID)" ]
    [ "${lines[-1]}" = "libstaple cannot work for /bin/true: tls" ]
}

@test "check --user nobody: a staple directory that user cannot read, exit 1" {
    cp "$LIBSTAPLE" "$D/libstaple.so"
    : >"$D/libstaple.conf"
    chmod 0644 "$D/libstaple.conf"
    mkdir -m 0700 "$D/staples"
    c() { LIBSTAPLE_CONF=$D/libstaple.conf LIBSTAPLE_DIR=$D/staples \
        "$CTL" check --library "$D/libstaple.so" --user nobody /usr/bin/openssl; }
    run c
    [ "$status" -eq 1 ]
    [ "$(line library)" = "ok   library $D/libstaple.so (x86-64), readable by nobody" ] ||
        [ "$(line library)" = "ok   library $D/libstaple.so (aarch64), readable by nobody" ]
    [ "$(line dir)" = "fail dir     $D/staples is not readable by nobody (mode 0700, owner 0, group 0): the server role cannot serve staples" ]
    [ "${lines[-1]}" = "libstaple cannot work for /usr/bin/openssl: dir" ]
    # readable, but one staple in it is not
    chmod 0755 "$D/staples"
    touch "$D/staples/a.der" "$D/staples/b.der"
    chmod 0600 "$D/staples/b.der"
    run c
    [ "$status" -eq 0 ]
    [ "$(line dir)" = "warn dir     $D/staples: 1 of its 2 files are not readable by nobody" ]
    chmod 0644 "$D/staples/b.der"
    run c
    [ "$status" -eq 0 ]
    [ "$(line dir)" = "ok   dir     $D/staples: readable by nobody (2 files)" ]
}

@test "check: a config file writable by others, refused for root, a warning for others" {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    cp "$LIBSTAPLE" "$D/libstaple.so"
    mkdir -m 0700 "$D/other"
    printf 'dir = %s\n' "$D/other" >"$D/libstaple.conf"
    chmod 0666 "$D/libstaple.conf"
    export LIBSTAPLE_CONF=$D/libstaple.conf
    unset LIBSTAPLE_DIR
    run "$CTL" check --library "$D/libstaple.so" /usr/bin/openssl
    [ "$status" -eq 1 ]
    [ "$(line config)" = "fail config  $D/libstaple.conf (owner 0, mode 0666) is not read: a privileged process (run by root) reads only a config file owned by root and writable by root alone" ]
    [ "${lines[-1]}" = "libstaple cannot work for /usr/bin/openssl: config" ]
    # a process of nobody reads it (and so gets its dir, which it cannot read)
    run "$CTL" check --library "$D/libstaple.so" --user nobody /usr/bin/openssl
    [ "$status" -eq 1 ]
    [ "$(line config)" = "warn config  $D/libstaple.conf (owner 0, mode 0666) is writable by every user: they can change this program's settings" ]
    [[ $(line dir) == "fail dir     $D/other is not readable by nobody "* ]]
    [ "${lines[-1]}" = "libstaple cannot work for /usr/bin/openssl: dir" ]
    # root-owned, written by root alone: read by both
    chmod 0644 "$D/libstaple.conf"
    chmod 0755 "$D/other"
    run "$CTL" check --library "$D/libstaple.so" /usr/bin/openssl
    [ "$status" -eq 0 ]
    [ "$(line config)" = "ok   config  $D/libstaple.conf (owner 0, mode 0644): read" ]
    [ "$(line dir)" = "ok   dir     $D/other: readable by root (0 files)" ]
}

@test "check with a library that needs a newer glibc: libc and the trial load fail" {
    mkdir "$T/old"
    echo 'int stub_fn(void) { return 0; }' >"$T/old/stub.c"
    printf 'GLIBC_9.9 { global: stub_fn; local: *; };\n' >"$T/old/stub.map"
    cc -shared -fPIC -Wl,-soname,libc.so.6 -Wl,--version-script="$T/old/stub.map" \
        -o "$T/old/libc.so.6" "$T/old/stub.c"
    echo 'int stub_fn(void); int f(void) { return stub_fn(); }' >"$T/old/lib.c"
    cc -shared -fPIC -o "$T/old/libstaple.so" "$T/old/lib.c" "$T/old/libc.so.6"
    run "$CTL" check --library "$T/old/libstaple.so" /usr/bin/openssl
    [ "$status" -eq 1 ]
    [[ $(line libc) == "fail libc    glibc "*" ("*"/libc.so.6) is too old: the library needs GLIBC_9.9 (stub_fn); every program would fail to start with it" ]]
    [[ $(line trial) == "fail trial   the loader says: /usr/bin/openssl: "*"/libc.so.6: version \`GLIBC_9.9' not found (required by $T/old/libstaple.so)" ]]
    [ "${lines[-1]}" = "libstaple cannot work for /usr/bin/openssl: libc, trial" ]
}

@test "check: usage errors and unknown targets exit 3" {
    run "$CTL" check
    [ "$status" -eq 3 ]
    run "$CTL" check /nonexistent/program
    [ "$status" -eq 3 ]
    [ "$output" = "staplectl: /nonexistent/program: no such program" ]
    run "$CTL" check --user no-such-user-here /usr/bin/openssl
    [ "$status" -eq 3 ]
    [ "$output" = "staplectl: no-such-user-here: no such user" ]
    printf '#!/bin/sh\necho hi\n' >"$T/script"
    chmod +x "$T/script"
    run "$CTL" check "$T/script"
    [ "$status" -eq 3 ]
    [ "$output" = "staplectl: $T/script: a script: check its interpreter, or the running process by PID" ]
}

@test "check: a config file saying enabled = no for the program, exit 1" {
    printf '[program openssl]\nenabled = no\n' >"$LIBSTAPLE_CONF"
    run "$CTL" check /usr/bin/openssl
    [ "$status" -eq 1 ]
    [ "$(line config)" = "fail config  $LIBSTAPLE_CONF (owner 0, mode 0644): read; it says enabled = no for openssl: libstaple steps aside" ]
    [ "${lines[-1]}" = "libstaple cannot work for /usr/bin/openssl: config" ]
    # the section is about programs named openssl only
    cp /usr/bin/openssl "$T/other-client"
    run "$CTL" check "$T/other-client"
    [ "$status" -eq 0 ]
    [ "$(line config)" = "ok   config  $LIBSTAPLE_CONF (owner 0, mode 0644): read" ]
}

@test "check with a library built for another architecture: library and trial fail" {
    [ "$(uname -m)" = x86_64 ] || skip "the other architecture is aarch64 here"
    command -v aarch64-linux-gnu-gcc >/dev/null || skip "no aarch64-linux-gnu-gcc"
    mkdir "$T/arm"
    echo 'int f(void) { return 0; }' >"$T/arm/f.c"
    aarch64-linux-gnu-gcc -shared -fPIC -o "$T/arm/libstaple.so" "$T/arm/f.c"
    run "$CTL" check --library "$T/arm/libstaple.so" /usr/bin/openssl
    [ "$status" -eq 1 ]
    [ "$(line library)" = "fail library $T/arm/libstaple.so is built for aarch64, the program for x86-64" ]
    [ "$(line trial)" = "fail trial   the loader says: ERROR: ld.so: object '$T/arm/libstaple.so' from LD_PRELOAD cannot be preloaded (cannot open shared object file): ignored." ]
    [ "${lines[-1]}" = "libstaple cannot work for /usr/bin/openssl: library, trial" ]
}
