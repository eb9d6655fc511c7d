#!/usr/bin/env bats
# The time rules (preload/when.c) as a unit: exact values for dates up to
# 9999, on the host's 64-bit time_t and on i386, with glibc's 32-bit time_t
# (older systems) and with _TIME_BITS=64. A 2050 date on a 32-bit time_t
# clamps to 2038-01-19T03:14:07Z: a nextUpdate then, a thisUpdate stays in
# the future; never current by overflow. And the DER reader's view of a
# response made in 2050.

load lib/common

setup() {
    setup_test
}

# made_2050 FILE: a response made at 2050-01-01T00:00:00Z (give or take the
# seconds openssl takes: faketime's clock runs on), valid a day; sets THIS
# to its thisUpdate as openssl reads it, in seconds.
made_2050() {
    faketime '2050-01-01 00:00:00' bash -c "source '$TOP/tests/lib/pki.sh' &&
        pki_ocsp '$PKI' rsa good issuer now '$1'"
    THIS=$(date -u -d "$(openssl ocsp -respin "$1" -noverify -resp_text |
        sed -n 's/^ *This Update: //p')" +%s)
    ((THIS >= 2524608000 && THIS < 2524608060))
}

# build OUT CC [FLAGS...]: the unit test program from the library's time code.
build() {
    local out=$1 cc=$2
    shift 2
    "$cc" -std=gnu99 -Wall -Wextra -Werror -O2 "$@" -o "$out" \
        "$TOP/tests/lib/when_test.c" "$TOP/preload/when.c"
}

# i386 PROGRAM: run an i386 binary natively, or under qemu-i386.
i386() {
    local rc=0
    "$1" >/dev/null 2>&1 || rc=$?
    if [[ $rc -ne 126 ]]; then
        "$@"
    elif command -v qemu-i386 >/dev/null; then
        qemu-i386 "$@"
    else
        qemu-i386-static "$@"
    fi
}

# need_i386: the i386 cross compiler and a way to run its programs, or
# skip (CI must have both).
need_i386() {
    local why= rc=0
    command -v i686-linux-gnu-gcc >/dev/null || why="no i686-linux-gnu-gcc"
    if [[ -z $why ]]; then
        build "$T/probe" i686-linux-gnu-gcc -static
        "$T/probe" >/dev/null 2>&1 || rc=$?
        if [[ $rc -eq 126 ]] && ! command -v qemu-i386 >/dev/null &&
            ! command -v qemu-i386-static >/dev/null; then
            why="i386 programs do not run here and there is no qemu-i386(-static)"
        fi
    fi
    [[ -z $why ]] && return 0
    [[ -z ${CI:-} ]] || { echo "$why" >&2; return 1; }
    skip "$why"
}

@test "time rules, host build: exact values from 0001 to 9999, 2050 included" {
    build "$T/when_test" "${CC:-cc}"
    run "$T/when_test"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ ${lines[0]} == "time_t: 8 bytes, long: 8 bytes" ]]
    [[ $output == *"ok 2050-01-01: got 2524608000, want 2524608000"* ]]
    [ "${lines[-1]}" = PASSED ]
    [ "$(grep -c '^ok ' <<<"$output")" -eq 26 ]
}

@test "time rules, i386 with a 32-bit time_t: 2050 clamps, never current by overflow" {
    need_i386
    build "$T/when_test32" i686-linux-gnu-gcc -static
    run i386 "$T/when_test32"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "time_t: 4 bytes, long: 4 bytes" ]
    [[ $output == *"ok 2050-01-01: got 2147483647, want 2147483647"* ]]
    [[ $output == *"ok thisUpdate 2050: not yet valid: got 2, want 2"* ]]
    [ "${lines[-1]}" = PASSED ]
    [ "$(grep -c '^ok ' <<<"$output")" -eq 26 ]
}

@test "time rules, i386 with _TIME_BITS=64: the same values as the host" {
    need_i386
    build "$T/when_test64" i686-linux-gnu-gcc -static -D_TIME_BITS=64 -D_FILE_OFFSET_BITS=64
    run i386 "$T/when_test64"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "time_t: 8 bytes, long: 4 bytes" ]
    [[ $output == *"ok 2050-01-01: got 2524608000, want 2524608000"* ]]
    [ "${lines[-1]}" = PASSED ]
}

@test "the DER reader reads a response made in 2050 to the second" {
    made_2050 "$T/2050.der"
    build "$T/when_der" "${CC:-cc}" -DWHEN_TEST_DER "$TOP/preload/der.c"
    run "$T/when_der" "$T/2050.der"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$output" = "$T/2050.der: this $THIS next $((THIS + 86400)) flags 1" ]
    # and staplectl, there and then, serves it
    run faketime "2050-01-01 12:00:00" "$TOP/staplectl" show --warn 1h "$T/2050.der"
    [ "$status" -eq 0 ]
    re='this 2050-01-01T00:00:[0-9]{2}Z next 2050-01-02T00:00:[0-9]{2}Z: serves it \(1[12]h[0-9]+m left\); signature not checked'
    [[ $output =~ $re ]]
}

@test "the DER reader on i386: a 2050 response to the second, or clamped on a 32-bit time_t" {
    need_i386
    made_2050 "$T/2050.der"
    build "$T/when_der64" i686-linux-gnu-gcc -static -D_TIME_BITS=64 -D_FILE_OFFSET_BITS=64 \
        -DWHEN_TEST_DER "$TOP/preload/der.c"
    run i386 "$T/when_der64" "$T/2050.der"
    [ "$status" -eq 0 ]
    [ "$output" = "$T/2050.der: this $THIS next $((THIS + 86400)) flags 1" ]
    # 32-bit time_t: both at its last second; the thisUpdate is in the
    # future of every moment before it, so the staple is never current early
    build "$T/when_der32" i686-linux-gnu-gcc -static -DWHEN_TEST_DER "$TOP/preload/der.c"
    run i386 "$T/when_der32" "$T/2050.der"
    [ "$status" -eq 0 ]
    [ "$output" = "$T/2050.der: this 2147483647 next 2147483647 flags 1" ]
}
