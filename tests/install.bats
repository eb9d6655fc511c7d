#!/usr/bin/env bats
# make install, and documentation that matches the code.

load lib/common

setup() {
    T=$BATS_TEST_TMPDIR
}

@test "make install puts everything in place and keeps an existing config" {
    make -C "$TOP" -s install DESTDIR="$T/root" PREFIX=/usr >/dev/null
    [ -f "$T/root/usr/lib/libstaple/libstaple.so" ]
    [ -x "$T/root/usr/bin/staplectl" ]
    [ -f "$T/root/usr/share/man/man1/staplectl.1" ]
    [ -f "$T/root/usr/share/man/man7/libstaple.7" ]
    cmp "$TOP/config/libstaple.conf" "$T/root/etc/libstaple.conf"
    [ -d "$T/root/var/lib/libstaple" ]
    echo "policy = require" >"$T/root/etc/libstaple.conf"
    make -C "$TOP" -s install DESTDIR="$T/root" PREFIX=/usr >/dev/null
    [ "$(cat "$T/root/etc/libstaple.conf")" = "policy = require" ]
}

@test "make install renames the new library into place, never writing it where programs load it" {
    if ! command -v strace >/dev/null; then
        [[ -z ${CI:-} ]] || { echo "strace missing (Debian package strace)" >&2; return 1; }
        skip "strace missing"
    fi
    local lib=$T/root/usr/lib/libstaple/libstaple.so ctl=$T/root/usr/bin/staplectl
    make -C "$TOP" -s install DESTDIR="$T/root" PREFIX=/usr >/dev/null
    # a program started before the update keeps the file it mapped
    local old
    exec {old}<"$lib"
    strace -f -qq -o "$T/trace" -e trace=open,openat,creat,truncate,unlink,unlinkat,rename,renameat,renameat2 \
        make -C "$TOP" -s install DESTDIR="$T/root" PREFIX=/usr >/dev/null
    for f in "$lib" "$ctl"; do
        # the final name is only ever the target of a rename from its directory
        grep -qE "rename(at2?)?\(.*\"${f%/*}/[^\"/]+\", .*\"$f\"" "$T/trace" ||
            { echo "$f not renamed into place"; grep -F "\"$f\"" "$T/trace"; return 1; }
        run grep -F "\"$f\"" "$T/trace"
        [[ ! $output =~ O_WRONLY|O_RDWR|O_TRUNC|O_CREAT|unlink|creat\(|truncate ]] ||
            { echo "$f written or removed in place:"; echo "$output"; return 1; }
    done
    cmp "$TOP/libstaple.so" "$lib"
    cmp "$TOP/staplectl" "$ctl"
    # the old file, still open, is whole and no longer the one installed
    [[ $(stat -L -c %i /proc/self/fd/$old) != $(stat -c %i "$lib") ]]
    cmp "/proc/self/fd/$old" "$TOP/libstaple.so"
    exec {old}<&-
    # no temporary file left behind
    [[ $(ls -A "${lib%/*}") == libstaple.so ]]
    [[ -z $(ls -A "${ctl%/*}" | grep -v '^staplectl$') ]]
}

@test "WERROR= builds without -Werror, and the Debian package build sets it" {
    run make -C "$TOP" -n -B libstaple.so staplectl
    [[ $output =~ (^|[[:space:]])-Werror([[:space:]]|$) ]]
    run make -C "$TOP" -n -B WERROR= libstaple.so staplectl
    [[ $output == *" -Wall -Wextra "* ]]
    [[ ! $output =~ (^|[[:space:]])-Werror([[:space:]]|$) ]]
    # what debian/rules passes to the Makefile (MAKE=echo prints it)
    run make -s -C "$TOP" -f debian/rules override_dh_auto_build override_dh_auto_install MAKE=echo
    [[ ${#lines[@]} -eq 2 ]]
    [[ ${lines[0]} == *" WERROR= all" && ${lines[1]} == *" WERROR= install "* ]]
}

@test "every config key is parsed by the code and documented in the man page and example config" {
    for key in dir policy log log_level reload_interval clock_skew max_age \
        log_interval issuers security_level certs enabled; do
        grep -q "\"$key\"" "$TOP/preload/config.c" || { echo "code: $key"; return 1; }
        grep -q "^\.B.* $key\|^\.B $key" "$TOP/man/libstaple.7" || { echo "man: $key"; return 1; }
        grep -q "^#$key = " "$TOP/config/libstaple.conf" || { echo "conf: $key"; return 1; }
    done
    # and no other key is accepted: a made-up one is reported
    echo "made_up_key = 1" >"$T/conf"
    LIBSTAPLE_CONF=$T/conf LIBSTAPLE_LOG=$T/log LD_PRELOAD="$PRELOAD" \
        openssl s_client -connect 127.0.0.1:1 </dev/null >/dev/null 2>&1 || true
    grep -q "unknown key 'made_up_key'" "$T/log"
}

@test "the example config, uncommented as it stands, is accepted without a complaint" {
    sed -n 's/^#\([a-z_]* = .*\)/\1/p' "$TOP/config/libstaple.conf" >"$T/conf"
    [ "$(wc -l <"$T/conf")" -ge 9 ]
    LIBSTAPLE_CONF=$T/conf LIBSTAPLE_LOG=$T/log LD_PRELOAD="$PRELOAD" \
        openssl s_client -connect 127.0.0.1:1 </dev/null >/dev/null 2>&1 || true
    [ ! -s "$T/log" ] || { cat "$T/log"; return 1; }
}

@test "every staplectl option is in its man page, and the pages render cleanly" {
    for opt in warn cert issuer CAfile untrusted at security-level url dir timeout \
        jobs json version wanted root library; do
        grep -q -- "--$opt\"\|\"$opt\"" "$TOP"/tools/*.c || { echo "code: $opt"; return 1; }
        grep -qF -- "\\-\\-${opt//-/\\-}" "$TOP/man/staplectl.1" || { echo "man: $opt"; return 1; }
    done
    for page in "$TOP/man/staplectl.1" "$TOP/man/libstaple.7"; do
        run bash -c "LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l '$page' 2>&1 >/dev/null"
        [ "$output" = "" ]
    done
}
