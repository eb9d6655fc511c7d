#!/usr/bin/env bats
# The glibc floor: libstaple.so and staplectl, built on any newer glibc,
# need no GLIBC symbol version above 2.17, so that they load on glibc 2.17
# and later (preload/glibc_floor.h). The loader refuses an object that
# needs a version its libc lacks, so every version counted here is one a
# program on an older host would stop at.

load lib/common
load lib/glibc-floor

setup() {
    T=$BATS_TEST_TMPDIR
}

# cross_build CC: `make CC=... libstaple.so` in a copy of the tree; the
# library as $T/cross/libstaple.so.
cross_build() {
    local cc=$1
    if ! command -v "$cc" >/dev/null; then
        [[ -z ${CI:-} ]] || { echo "$cc missing (Debian package gcc-${cc%-gcc})" >&2; return 1; }
        skip "$cc missing"
    fi
    mkdir -p "$T/cross"
    cp -r "$TOP/Makefile" "$TOP/preload" "$T/cross/"
    rm -f "$T"/cross/preload/*.o
    # Until the library builds without OpenSSL headers, the host's stand in
    # for the target's: enough to compile and check the symbol versions.
    if ! make -C "$T/cross" -s CC="$cc" libstaple.so >"$T/cross.log" 2>&1; then
        grep -q 'openssl.*No such file' "$T/cross.log" || { cat "$T/cross.log"; return 1; }
        mkdir -p "$T/inc"
        cp -r "/usr/include/$(gcc -print-multiarch)/openssl" "$T/inc/"
        make -C "$T/cross" -s CC="$cc" CPPFLAGS="-I$T/inc" libstaple.so
    fi
}

@test "libstaple.so needs no glibc newer than 2.17" {
    check_floor "$TOP/libstaple.so"
}

@test "staplectl needs no glibc newer than 2.17" {
    check_floor "$TOP/staplectl"
}

@test "the library cross-built for aarch64 needs no glibc newer than 2.17" {
    cross_build aarch64-linux-gnu-gcc
    run readelf -h "$T/cross/libstaple.so"
    [[ $output == *AArch64* ]]
    check_floor "$T/cross/libstaple.so"
}

@test "the library cross-built for i386 needs no glibc newer than 2.17" {
    cross_build i686-linux-gnu-gcc
    run readelf -h "$T/cross/libstaple.so"
    [[ $output == *"Intel 80386"* ]]
    check_floor "$T/cross/libstaple.so"
}

@test "the check names the symbol that is too new" {
    # an object that calls dlopen as glibc 2.34+ binds it by default
    printf '#include <dlfcn.h>\nvoid *f(void) { return dlopen("x", RTLD_NOW); }\n' >"$T/new.c"
    cc -shared -fPIC -o "$T/new.so" "$T/new.c"
    if ! readelf --dyn-syms -W "$T/new.so" | grep -q 'dlopen@GLIBC_2.34'; then
        skip "this glibc binds dlopen at GLIBC_2.34 no longer or not yet"
    fi
    run over_floor "$T/new.so"
    [[ $output == *"new.so: dlopen@GLIBC_2.34"* ]]
    [[ $output == *"new.so: needs GLIBC_2.34"* ]]
}
