#!/usr/bin/env bats
# The build needs a C compiler and libc headers, nothing else: libstaple.so
# and staplectl declare what they use of OpenSSL themselves
# (preload/openssl-abi.h) and find OpenSSL at run time. Each build runs in a
# copy of the tree in the test's scratch directory, so the checkout's own
# objects are never touched.
#
# - No OpenSSL header is read: a directory of openssl/*.h files that #error
#   comes first on the include path.
# - OpenSSL 1.0.2k's (the vendored build, tests/lib/legacy.sh) and 1.1.1's
#   (Debian 11's libssl-dev) headers on the include path change nothing.
# - gcc and clang, and the aarch64 cross compiler when it is installed
#   (under CI it must be).
# - openssl-abi.h agrees with the real headers: every constant has the value
#   1.0.2k, 1.1.1 and 3.x give it (the few that differ or are absent in
#   1.0.2 are listed below), and every prototype is compatible with 3.x's.

load lib/common
load lib/legacy.sh

# Constants openssl-abi.h marks as 1.1.1 and 3.x only: 1.0.2k lacks them
# (its ex_data classes have other numbers, and libstaple uses its
# per-type index functions instead).
ABI_102_DIFFER="CRYPTO_EX_INDEX_SSL CRYPTO_EX_INDEX_SSL_CTX"
ABI_102_ABSENT="OPENSSL_VERSION SSL_CTRL_GET_TLSEXT_STATUS_REQ_TYPE SSL_CTRL_GET_TLSEXT_STATUS_REQ_CB X509_V_FLAG_NO_CHECK_TIME NID_ED25519 NID_ED448"

setup_file() {
    local work=${STAPLE_LEGACY_WORK:-$TOP/tests/.work/legacy}
    export LEGACY_O=$work/openssl-1.0.2k DEV111=$TOP/tests/.work/bullseye-dev
    export SKIP_O='' SKIP_111=''
    legacy_openssl102_build "$LEGACY_O" 2>"$BATS_FILE_TMPDIR/o.err" ||
        SKIP_O=$(legacy_unreachable "$BATS_FILE_TMPDIR/o.err") ||
        { cat "$BATS_FILE_TMPDIR/o.err" >&2; return 1; }
    legacy_bullseye_dev "$DEV111" 2>"$BATS_FILE_TMPDIR/d.err" ||
        SKIP_111=$(legacy_unreachable "$BATS_FILE_TMPDIR/d.err") ||
        { cat "$BATS_FILE_TMPDIR/d.err" >&2; return 1; }
    if [[ -n ${CI:-} && -n $SKIP_O$SKIP_111 ]]; then
        echo "build.bats: $SKIP_O $SKIP_111 (CI is set: these builds must run)" >&2
        return 1
    fi
}

setup() {
    T=$BATS_TEST_TMPDIR
}

# need WHAT REASON: skip with REASON when it is set, or fail under CI.
need() {
    [[ -z $2 ]] && return 0
    [[ -z ${CI:-} ]] || { echo "$1: $2 (CI is set)" >&2; return 1; }
    skip "$1: $2"
}

# need_cc CC: CC is installed, or skip (fail under CI).
need_cc() {
    command -v "$1" >/dev/null && return 0
    need "$1" "not installed"
}

# tree DIR: a copy of the sources that the build reads, without objects.
tree() {
    mkdir -p "$1"
    cp -r "$TOP/Makefile" "$TOP/preload" "$TOP/tools" "$1/"
    rm -f "$1"/preload/*.o
}

# poison DIR: DIR/openssl/NAME.h for every header an OpenSSL of any version
# installs (and any the machine has), each an #error naming itself.
poison() {
    local h
    mkdir -p "$1/openssl"
    for h in ssl ssl2 ssl3 tls1 dtls1 ocsp x509 x509v3 x509_vfy err pem pem2 \
        evp bio asn1 asn1t objects obj_mac crypto opensslv opensslconf \
        configuration e_os2 safestack stack lhash buffer bn rsa dsa dh ec \
        ecdsa ecdh sha md5 hmac rand conf engine http core types macros \
        symhacks ossl_typ cryptoerr sslerr x509err ocsperr pemerr evperr \
        asn1err bioerr objectserr cms pkcs7 pkcs12 comp srtp async kdf \
        params provider trace; do
        echo "#error \"openssl/$h.h was read\"" >"$1/openssl/$h.h"
    done
    for h in /usr/include/openssl/*.h /usr/include/*/openssl/*.h; do
        [[ -f $h ]] || continue
        echo "#error \"openssl/${h##*/} was read\"" >"$1/openssl/${h##*/}"
    done
}

# build DIR MAKEARGS...: `make MAKEARGS... libstaple.so staplectl` in DIR
# (output in DIR/build.log); its status.
build() {
    local dir=$1
    shift
    make -C "$dir" "$@" libstaple.so staplectl >"$dir/build.log" 2>&1 ||
        { cat "$dir/build.log" >&2; return 1; }
}

@test "no OpenSSL header is included anywhere in preload/ and tools/" {
    run grep -rn '#[[:space:]]*include[[:space:]]*[<"]openssl/' "$TOP/preload" "$TOP/tools"
    [ "$status" -eq 1 ]
    [ -z "$output" ]
}

@test "the poisoned headers stop any build that reads one" {
    poison "$T/poison"
    printf '#include <openssl/ssl.h>\nint main(void) { return 0; }\n' >"$T/uses.c"
    run cc -I"$T/poison" -c -o "$T/uses.o" "$T/uses.c"
    [ "$status" -ne 0 ]
    [[ $output == *'openssl/ssl.h was read'* ]]
}

@test "gcc builds libstaple.so and staplectl with no OpenSSL header readable" {
    need_cc gcc
    poison "$T/poison"
    tree "$T/src"
    build "$T/src" CC=gcc CPPFLAGS="-I$T/poison"
    [ -f "$T/src/libstaple.so" ] && [ -x "$T/src/staplectl" ]
    # and neither links libssl or libcrypto
    run readelf -d "$T/src/libstaple.so" "$T/src/staplectl"
    [ "$status" -eq 0 ]
    [[ $output != *libssl* && $output != *libcrypto* ]]
    run "$T/src/staplectl" --version
    [ "$status" -eq 0 ]
    [[ $output == "staplectl "* ]]
}

@test "clang builds libstaple.so and staplectl with no OpenSSL header readable" {
    need_cc clang
    poison "$T/poison"
    tree "$T/src"
    build "$T/src" CC=clang CPPFLAGS="-I$T/poison"
    [ -f "$T/src/libstaple.so" ] && [ -x "$T/src/staplectl" ]
}

@test "OpenSSL 1.0.2k's headers on the include path change nothing (gcc, clang)" {
    need "OpenSSL 1.0.2k" "$SKIP_O"
    local cc
    [ -f "$LEGACY_O/prefix/include/openssl/ssl.h" ]
    for cc in gcc clang; do
        command -v "$cc" >/dev/null || continue
        tree "$T/$cc"
        build "$T/$cc" CC="$cc" CPPFLAGS="-I$LEGACY_O/prefix/include"
        [ -f "$T/$cc/libstaple.so" ] && [ -x "$T/$cc/staplectl" ]
    done
}

@test "OpenSSL 1.1.1's headers on the include path change nothing (gcc, clang)" {
    need "bullseye libssl-dev" "$SKIP_111"
    local cc inc=$DEV111/root/usr/include
    [ -f "$inc/openssl/ssl.h" ]
    for cc in gcc clang; do
        command -v "$cc" >/dev/null || continue
        tree "$T/$cc"
        build "$T/$cc" CC="$cc" CPPFLAGS="-I$inc -I$inc/$(gcc -print-multiarch)"
        [ -f "$T/$cc/libstaple.so" ] && [ -x "$T/$cc/staplectl" ]
    done
}

@test "make CC=aarch64-linux-gnu-gcc: an arm64 libstaple.so and staplectl" {
    need_cc aarch64-linux-gnu-gcc
    poison "$T/poison"
    tree "$T/src"
    build "$T/src" CC=aarch64-linux-gnu-gcc CPPFLAGS="-I$T/poison"
    run readelf -h "$T/src/libstaple.so"
    [[ $output == *'Machine:'*'AArch64'* ]]
    run readelf -h "$T/src/staplectl"
    [[ $output == *'Machine:'*'AArch64'* ]]
    run readelf -d "$T/src/libstaple.so" "$T/src/staplectl"
    [[ $output != *libssl* && $output != *libcrypto* ]]
}

# abi_values FILE CPPFLAGS...: compile and run a program printing "NAME
# VALUE" for each constant openssl-abi.h defines, as the headers FILE
# includes define it (names they lack are left out).
abi_values() {
    local file=$1 name
    shift
    {
        cat "$file"
        echo '#include <stdio.h>'
        echo 'int main(void) {'
        for name in $(abi_names); do
            printf '#ifdef %s\nprintf("%s %%ld\\n", (long)(%s));\n#endif\n' "$name" "$name" "$name"
        done
        echo 'return 0; }'
    } >"$T/values.c"
    cc "$@" -o "$T/values" "$T/values.c" && "$T/values"
}

# abi_names: the object-like macros openssl-abi.h defines.
abi_names() {
    sed -nE 's/^#define ([A-Za-z_][A-Za-z0-9_]*)[ \t].*/\1/p' "$TOP/preload/openssl-abi.h" |
        grep -v '^STAPLE_'
}

# abi_compare VERSION DIFFER ABSENT REAL OURS: every constant of OURS has
# the same value in REAL, except the names in DIFFER (another value) and
# ABSENT (not in REAL); prints each disagreement.
abi_compare() {
    local version=$1 differ=" $2 " absent=" $3 " name value real bad=0
    while read -r name value; do
        real=$(awk -v n="$name" '$1 == n { print $2 }' "$4")
        if [[ -z $real ]]; then
            [[ $absent == *" $name "* ]] && continue
            echo "$version: $name is not in its headers"
            bad=1
        elif [[ $real != "$value" && $differ != *" $name "* ]]; then
            echo "$version: $name is $real, openssl-abi.h says $value"
            bad=1
        fi
    done <"$5"
    return $bad
}

# real_headers: a file including the OpenSSL headers libstaple used to.
real_headers() {
    printf '#include <openssl/%s.h>\n' ssl ocsp x509v3 err pem >"$T/real.h"
}

@test "openssl-abi.h: each constant has 3.x's value, each prototype 3.x's type" {
    [ -f /usr/include/openssl/ssl.h ] || need "OpenSSL 3 headers" "libssl-dev not installed"
    real_headers
    printf '#include "openssl-abi.h"\n' >"$T/ours.h"
    abi_values "$T/ours.h" -I"$TOP/preload" >"$T/ours.txt"
    [ "$(wc -l <"$T/ours.txt")" -eq "$(abi_names | wc -l)" ]
    abi_values "$T/real.h" >"$T/v3.txt"
    run abi_compare 3.x "" "" "$T/v3.txt" "$T/ours.txt"
    echo "$output"
    [ "$status" -eq 0 ]
    # a conflicting prototype or typedef is an error after the real ones
    printf '#include <openssl/ssl.h>\n#include <openssl/ocsp.h>\n#include <openssl/x509v3.h>\n#include <openssl/err.h>\n#include <openssl/pem.h>\n#include "openssl-abi.h"\n' >"$T/both.c"
    run cc -std=gnu11 -w -fsyntax-only -I"$TOP/preload" "$T/both.c"
    echo "$output"
    [ "$status" -eq 0 ]
    # which it would be: one const too few is caught
    sed 's/^int X509_NAME_cmp(const X509_NAME \*a,/int X509_NAME_cmp(X509_NAME *a,/' \
        "$TOP/preload/openssl-abi.h" >"$T/openssl-abi.h"
    run cmp -s "$T/openssl-abi.h" "$TOP/preload/openssl-abi.h"
    [ "$status" -eq 1 ]
    run cc -std=gnu11 -w -fsyntax-only -I"$T" "$T/both.c"
    [ "$status" -ne 0 ]
    [[ $output == *'conflicting types'*X509_NAME_cmp* ]]
}

@test "openssl-abi.h: each constant has 1.1.1's and 1.0.2k's value (or is marked as not theirs)" {
    need "OpenSSL 1.0.2k" "$SKIP_O"
    need "bullseye libssl-dev" "$SKIP_111"
    local inc=$DEV111/root/usr/include
    real_headers
    printf '#include "openssl-abi.h"\n' >"$T/ours.h"
    abi_values "$T/ours.h" -I"$TOP/preload" >"$T/ours.txt"
    abi_values "$T/real.h" -I"$inc" -I"$inc/$(gcc -print-multiarch)" >"$T/v111.txt"
    grep -qx 'SSL_CTRL_GET_CHAIN_CERTS 115' "$T/v111.txt"
    run abi_compare 1.1.1 "" "" "$T/v111.txt" "$T/ours.txt"
    echo "$output"
    [ "$status" -eq 0 ]
    abi_values "$T/real.h" -I"$LEGACY_O/prefix/include" >"$T/v102.txt"
    grep -qx 'CRYPTO_EX_INDEX_SSL 1' "$T/v102.txt"
    run abi_compare 1.0.2k "$ABI_102_DIFFER" "$ABI_102_ABSENT" "$T/v102.txt" "$T/ours.txt"
    echo "$output"
    [ "$status" -eq 0 ]
}
