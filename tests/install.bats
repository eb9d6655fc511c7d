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
        jobs json version; do
        grep -q -- "--$opt\"\|\"$opt\"" "$TOP"/tools/*.c || { echo "code: $opt"; return 1; }
        grep -qF -- "\\-\\-${opt//-/\\-}" "$TOP/man/staplectl.1" || { echo "man: $opt"; return 1; }
    done
    for page in "$TOP/man/staplectl.1" "$TOP/man/libstaple.7"; do
        run bash -c "LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l '$page' 2>&1 >/dev/null"
        [ "$output" = "" ]
    done
}
