# shellcheck shell=bash
# roots.sh - whole Debian systems for the tests that prove libstaple on
# other systems than the one it is built on (tests/debian11.bats,
# tests/debian13.bats, tests/arm64.bats, tests/systemd.bats): roots made
# with mmdebstrap from the Debian archive, entered with chroot (amd64),
# run under qemu-aarch64-static -L ROOT (arm64, no binfmt needed) or booted
# (systemd), so that every program runs with the root's own glibc, libssl
# and configuration.
#
# Source this file (in bats: `load lib/roots.sh`); it only defines
# functions and the settings below. Functions report problems on stderr
# and return non-zero.
#
#   roots_dir NAME                 print the root's directory (may not exist yet)
#   roots_build NAME...            make the roots (in parallel), or reuse them
#   roots_ready VAR NAME...        roots_build for setup_file: under CI a
#                                  failure fails; elsewhere VAR is set to why
#   roots_leftovers NAME           print the processes running in the root
#   roots_openssl102_arm64 DIR TARBALL
#                                  OpenSSL 1.0.2k cross-built for aarch64 (cached)
#
# Nothing is mounted in the roots: the programs the tests run need neither
# /proc nor more of /dev than the device nodes mmdebstrap makes. The
# bookworm-systemd root is booted instead (tests/lib/systemd.sh), over an
# overlay that leaves it as it was.
#
# The roots live in $STAPLE_ROOTS (default tests/.work/roots), one
# directory a root: NAME/root (the system) and NAME/stamp (what it was made
# from: suite, architecture, variant, mirror, packages). A root whose stamp
# matches is reused as it is; one whose package list changed is made anew.
# Each root is made under an flock, so that test files running at the same
# time make it once. About 2.5 minutes a root; roots_build makes all the
# roots it is given at the same time.

# The roots: suite, architecture, mmdebstrap variant, packages.
# bullseye: Debian 11 (glibc 2.31, OpenSSL 1.1.1, gcc 10, nginx 1.18,
#   curl 7.74, Python 3.9, Postfix 3.5), with a compiler to build the
#   library there.
# trixie: Debian 13 (OpenSSL 3.5, nginx 1.26, curl 8, Python 3.13).
# bookworm-arm64: Debian 12 for aarch64, extracted only (no maintainer
#   script can run on this machine): what qemu-aarch64-static needs to run
#   openssl and curl.
ROOTS_SPEC_bullseye="bullseye amd64 apt gcc,make,libc6-dev,openssl,ca-certificates,nginx-light,curl,python3,postfix,procps"
ROOTS_SPEC_trixie="trixie amd64 apt openssl,ca-certificates,nginx,curl,python3,procps"
ROOTS_SPEC_bookworm_arm64="bookworm arm64 extract libc6,openssl,libssl3,curl,libcurl4,ca-certificates"
# bookworm-systemd: Debian 12 to boot with systemd-nspawn (systemd 252 as
#   its PID 1, D-Bus), for the package's units (tests/systemd.bats).
ROOTS_SPEC_bookworm_systemd="bookworm amd64 apt systemd,systemd-sysv,dbus,openssl,ca-certificates,procps"

ROOTS_MIRROR=${STAPLE_ROOTS_MIRROR:-http://deb.debian.org/debian}

# _roots_err MSG...: print "roots: MSG" on stderr and return 1.
_roots_err() {
    printf 'roots: %s\n' "$*" >&2
    return 1
}

# _roots_spec NAME: print NAME's spec line (what its stamp holds).
_roots_spec() {
    local var="ROOTS_SPEC_${1//-/_}"
    [[ -n ${!var:-} ]] || { _roots_err "no root named $1"; return 1; }
    printf '%s %s\n' "${!var}" "$ROOTS_MIRROR"
}

# roots_dir NAME: print the directory of root NAME (NAME/root in the cache).
roots_dir() {
    local top
    top=${STAPLE_ROOTS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/tests/.work/roots}
    printf '%s/%s/root\n' "$top" "$1"
}

# _roots_complete NAME: true when NAME's root exists and was made from its
# current spec.
_roots_complete() {
    local dir spec
    dir=$(roots_dir "$1") && spec=$(_roots_spec "$1") || return 1
    [[ -d $dir && -f ${dir%/root}/stamp && $(cat "${dir%/root}/stamp") == "$spec" ]]
}

# _roots_fds_closed CMD...: run CMD with no descriptor above 2 open. Under
# bats (and our lock on descriptor 9) mmdebstrap's pipe to apt gets a number
# above 9, which apt hands to /bin/sh as `cat >&11`, and dash reads only one
# digit there ("Bad fd number"): apt's download then fails.
_roots_fds_closed() {
    (
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}
            ((fd > 2)) && eval "exec $fd>&-" 2>/dev/null
        done
        exec "$@"
    )
}

# _roots_make NAME: the work of roots_build for one root, under its lock:
# mmdebstrap into NAME/root.new, then renamed NAME/root with its stamp.
_roots_make() {
    local name=$1 dir top spec suite arch variant pkgs log start try
    _roots_complete "$name" && return 0
    dir=$(roots_dir "$name") && spec=$(_roots_spec "$name") || return 1
    top=${dir%/root}
    read -r suite arch variant pkgs _ <<<"$spec"
    log=$top/build.log
    command -v mmdebstrap >/dev/null || { _roots_err "mmdebstrap is needed to make the $name root"; return 1; }
    start=$(date +%s)
    rm -rf "$dir" "$top/stamp" || return 1
    # a mirror busy with several downloads at once can fail one: try again
    # (three times in all), a little later each time
    for try in 1 2 3; do
        rm -rf "$top/root.new" || return 1
        _roots_fds_closed mmdebstrap --mode=root --arch="$arch" --variant="$variant" \
            --include="$pkgs" "$suite" "$top/root.new" "$ROOTS_MIRROR" >"$log" 2>&1 && break
        tail -n 30 "$log" >&2
        rm -rf "$top/root.new"
        _roots_err "mmdebstrap $suite ($arch) failed, try $try of 3 (log: $log)"
        ((try < 3)) || return 1
        sleep $((try * 20))
    done
    mv "$top/root.new" "$dir" || return 1
    printf 'seconds=%s\n' "$(($(date +%s) - start))" >"$top/build.stats"
    printf '%s\n' "$spec" >"$top/stamp"
}

# roots_build NAME...: make the roots NAME... (or reuse them when complete),
# all at the same time; fails when any of them could not be made.
roots_build() {
    local name top pids=() names=() i rc=0
    for name in "$@"; do
        _roots_spec "$name" >/dev/null || return 1
        _roots_complete "$name" && continue
        top=$(roots_dir "$name") && top=${top%/root}
        mkdir -p "$top" || return 1
        (
            flock 9 || exit 1
            _roots_make "$name"
        ) 9>"$top/.lock" &
        pids+=($!) names+=("$name")
    done
    for i in "${!pids[@]}"; do
        wait "${pids[$i]}" || { _roots_err "the ${names[$i]} root could not be made"; rc=1; }
    done
    return $rc
}

# roots_ready VAR NAME...: roots_build NAME... for a setup_file. When it
# fails: under CI (CI set) fail, so that every test of the file fails;
# elsewhere export VAR holding the reason (the tests skip with it).
roots_ready() {
    local var=$1 err
    shift
    err=$(mktemp) || return 1
    if roots_build "$@" 2>"$err"; then
        rm -f "$err"
        export "$var="
        return 0
    fi
    cat "$err" >&2
    if [[ -n ${CI:-} ]]; then
        rm -f "$err"
        echo "roots: CI is set: the roots must be made" >&2
        return 1
    fi
    export "$var=$(grep -m1 '^roots: ' "$err" | sed 's/^roots: //')"
    rm -f "$err"
}

# roots_leftovers NAME: print "PID COMMAND" for each process whose root
# directory is NAME's root (nothing when none is left).
roots_leftovers() {
    local dir p r
    dir=$(roots_dir "$1") || return 1
    dir=$(cd "$dir" && pwd -P) || return 1
    for p in /proc/[0-9]*; do
        r=$(readlink "$p/root" 2>/dev/null) || continue
        [[ $r == "$dir" ]] && printf '%s %s\n' "${p#/proc/}" "$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)"
    done
    return 0
}

# roots_openssl102_arm64 DIR TARBALL: OpenSSL 1.0.2k cross-built for
# aarch64 (aarch64-linux-gnu-gcc, shared) from TARBALL (the vendored
# source), installed in DIR/prefix (bin/openssl, lib/libssl.so.1.0.0,
# ssl/openssl.cnf); run it with qemu-aarch64-static -L ROOT and
# LD_LIBRARY_PATH=DIR/prefix/lib. Cached: DIR/done marks a complete build
# (its time in DIR/build.stats); made under an flock. A few minutes on 2
# cores.
roots_openssl102_arm64() {
    local dir=$1 tarball=$2
    mkdir -p "$dir" || return 1
    (
        flock 9 || exit 1
        _roots_openssl102_arm64 "$dir" "$tarball"
    ) 9>"$dir/.lock"
}

# _roots_openssl102_arm64 DIR TARBALL: the work of roots_openssl102_arm64.
_roots_openssl102_arm64() {
    local dir=$1 tarball=$2 log=$1/build.log start
    [[ -f $dir/done && -x $dir/prefix/bin/openssl ]] && return 0
    [[ -f $tarball ]] || { _roots_err "no $tarball"; return 1; }
    command -v aarch64-linux-gnu-gcc >/dev/null || { _roots_err "aarch64-linux-gnu-gcc is needed"; return 1; }
    start=$(date +%s)
    rm -rf "$dir/src" "$dir/prefix" && mkdir -p "$dir/src" || return 1
    tar -xzf "$tarball" -C "$dir/src" || { _roots_err "cannot unpack $tarball"; return 1; }
    # no `make depend` (only the dependencies of a rebuild); build_libs and
    # build_apps skip the tests, which could not run here anyway
    if ! (cd "$dir/src/openssl-1.0.2k" &&
        ./Configure linux-aarch64 --cross-compile-prefix=aarch64-linux-gnu- shared \
            --prefix="$dir/prefix" &&
        make -j2 build_libs && make -j2 build_apps && make install_sw) >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        _roots_err "the aarch64 OpenSSL 1.0.2k build failed (log: $log)"
        return 1
    fi
    rm -rf "$dir/src"
    printf 'seconds=%s\n' "$(($(date +%s) - start))" >"$dir/build.stats"
    touch "$dir/done"
}
