#!/usr/bin/env bats
# `make dist`: the release tarball of each architecture holds exactly the
# files release/INSTALL lists, built for that architecture and within the
# glibc floor, with SHA-256 sums that verify (and fail when a file changed).
# The tarballs are built in tests/.work/dist/ and written to the top
# directory, as a release is.

# tests/run: lock deb
# (`make deb` builds the package into tests/.work/deb: one file at a time)

load lib/common
load lib/glibc-floor

setup() {
    T=$BATS_TEST_TMPDIR
}

# The paths every tarball holds, below libstaple-VERSION-linux-ARCH/.
DIST_LIST="INSTALL
README.md
SHA256SUMS
libstaple.conf
libstaple.so
man/libstaple.7
man/staplectl.1
staplectl
systemd/libstaple-refresh.path
systemd/libstaple-refresh.service
systemd/libstaple-refresh.timer"

# check_dist ARCH MACHINE CC: `make dist` for ARCH, and its tarball checked.
check_dist() {
    local arch=$1 machine=$2 cc=$3 version name f
    if ! command -v "$cc" >/dev/null; then
        [[ -z ${CI:-} ]] || { echo "$cc missing (Debian package gcc-${cc%-gcc})" >&2; return 1; }
        skip "$cc missing"
    fi
    version=$(sed -n 's/^VERSION = //p' "$TOP/Makefile")
    name=libstaple-$version-linux-$arch
    if ! make -C "$TOP" -s dist DIST_ARCHS="$arch" >"$T/dist.log" 2>&1; then
        # a cross build needs the library and staplectl to need no OpenSSL
        # of the target at build time
        if [[ -z ${CI:-} ]] && grep -qE 'openssl/.*No such file|cannot find -l(ssl|crypto)' "$T/dist.log"; then
            skip "$arch: the build still needs the target's OpenSSL"
        fi
        cat "$T/dist.log"
        return 1
    fi
    [[ -f $TOP/$name.tar.gz ]]
    (cd "$TOP" && sha256sum -c "$name.tar.gz.sha256")

    # exactly the listed files, owned by root, under one directory
    run tar -tzf "$TOP/$name.tar.gz"
    [[ $(printf '%s\n' "${lines[@]}" | grep -v '/$' | sed "s|^$name/||" | LC_ALL=C sort) == "$DIST_LIST" ]] ||
        { printf '%s\n' "${lines[@]}"; return 1; }
    [[ -z $(tar -tvzf "$TOP/$name.tar.gz" | awk '$2 != "0/0"') ]]
    tar -xzf "$TOP/$name.tar.gz" -C "$T"
    cd "$T/$name"

    # every file but SHA256SUMS is summed, and the sums verify
    [[ $(cut -d' ' -f3 SHA256SUMS | LC_ALL=C sort) == "$(grep -vx SHA256SUMS <<<"$DIST_LIST")" ]] ||
        { cat SHA256SUMS; return 1; }
    sha256sum --strict -c SHA256SUMS

    # built for ARCH, within the floor
    for f in libstaple.so staplectl; do
        readelf -h "$f" | grep -q "Machine: *$machine\$" || { readelf -h "$f"; return 1; }
        check_floor "$f"
    done
    [[ -x staplectl ]]
    # INSTALL names every file; the units name the staplectl it installs
    while read -r f; do
        grep -qF "${f#*/}" INSTALL || { echo "INSTALL does not name $f"; return 1; }
    done < <(grep -vx INSTALL <<<"$DIST_LIST")
    grep -qx 'ExecStart=/usr/local/bin/staplectl refresh' systemd/libstaple-refresh.service
    cmp man/staplectl.1 "$TOP/man/staplectl.1"
    cmp libstaple.conf "$TOP/config/libstaple.conf"

    # a changed file is caught
    echo '#' >>libstaple.conf
    run sha256sum -c SHA256SUMS
    [[ $status -ne 0 && $output == *"libstaple.conf: FAILED"* ]]
}

@test "make dist: the x86_64 tarball, its contents and their sums" {
    check_dist x86_64 'Advanced Micro Devices X86-64' x86_64-linux-gnu-gcc
    run ./staplectl --version
    [[ $status -eq 0 && $output == "staplectl $(sed -n 's/^VERSION = //p' "$TOP/Makefile")" ]]
}

@test "make dist: the aarch64 tarball, cross-built, its contents and their sums" {
    check_dist aarch64 AArch64 aarch64-linux-gnu-gcc
    if command -v qemu-aarch64-static >/dev/null && [[ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ]]; then
        run qemu-aarch64-static -L /usr/aarch64-linux-gnu ./staplectl --version
        [[ $status -eq 0 && $output == "staplectl "* ]]
    fi
}

@test "the .deb depends on glibc 2.17 at most, and on OpenSSL 3 or 1.1 as staplectl loads it" {
    command -v dpkg-buildpackage >/dev/null || {
        [[ -z ${CI:-} ]] || { echo "dpkg-buildpackage missing (Debian package dpkg-dev)" >&2; return 1; }
        skip "dpkg-buildpackage missing"
    }
    make -C "$TOP" -s deb >"$T/deb.log" 2>&1 || { tail -30 "$T/deb.log"; return 1; }
    local deb=$TOP/tests/.work/deb/libstaple.deb depends libc
    depends=$(dpkg-deb -f "$deb" Depends)
    echo "Depends: $depends"
    libc=$(sed -n 's/.*libc6 (>= \([0-9.]*\)).*/\1/p' <<<"$depends")
    [[ -n $libc && $(printf '%s\n' "$libc" 2.17 | sort -V | tail -1) == 2.17 ]]
    # OpenSSL 3 or 1.1, no one version, unless staplectl is linked with it
    # (then dpkg-gencontrol keeps only the stricter libssl3 (>= ...))
    dpkg-deb -x "$deb" "$T/x"
    if ! readelf -d "$T/x/usr/bin/staplectl" | grep -q 'NEEDED.*lib\(ssl\|crypto\)'; then
        [[ $depends == *"libssl3 | libssl1.1"* ]]
        [[ $(grep -o 'libssl[^ ,|]*' <<<"$depends" | sort -u | tr '\n' ' ') == "libssl1.1 libssl3 " ]]
    fi
    check_floor "$T/x/usr/lib/libstaple/libstaple.so"
    check_floor "$T/x/usr/bin/staplectl"
}
