# shellcheck shell=bash
# legacy.sh - real legacy OpenSSL programs for tests/legacy.bats: Debian 11
# (bullseye) packages linked to OpenSSL 1.1.1, fetched and extracted into a
# private root without touching the system's apt configuration, and OpenSSL
# 1.0.2k built from the vendored tarball. Nothing is installed system-wide.
#
# Source this file (in bats: `load lib/legacy.sh`, the .sh is needed); it
# only defines functions (and the two settings below).
# Functions print nothing on success unless they say so, report problems on
# stderr and return non-zero.
#
#   legacy_bullseye_fetch DIR          bullseye packages extracted in DIR/root (cached)
#   legacy_bullseye_env DIR            print the NAME=VALUE lines to run them with
#   legacy_bullseye_dev DIR            bullseye's libssl-dev (1.1.1 headers) in DIR/root (cached)
#   legacy_cmd111 DIR PROGRAM          set LEGACY_CMD to run PROGRAM from DIR/root
#   legacy_run111 DIR PROGRAM ARGS...  run PROGRAM from DIR/root (foreground)
#   legacy_openssl102_build DIR        OpenSSL 1.0.2k in DIR/prefix (cached)
#   legacy_cmd102 DIR                  set LEGACY_CMD to run its `openssl`
#   legacy_run102 DIR ARGS...          run its `openssl ARGS` (foreground)
#   legacy_ssl_libs PID                print the libssl/libcrypto files PID maps
#   legacy_libssl DIR                  print the libssl file DIR's programs load
#   legacy_staple_parse                what `s_client -status` output (stdin)
#                                      says was stapled (as common.bash's staple)
#   legacy_staple DIR PORT [ARGS...]   common.bash's staple, with DIR's s_client
#   legacy_unreachable FILE            print why a failed fetch or build (its
#                                      stderr in FILE) cannot work here at all
#   legacy_fake_libssl DIR SONAME NUM TEXT
#                                      a fake libssl reporting version NUM, and
#                                      DIR/prog, a program linked to it
#
# The usual DIRs are $TOP/tests/.work/legacy/bullseye and
# $TOP/tests/.work/legacy/openssl-1.0.2k (git-ignored, kept between runs).
#
# Background programs: `bg NAME "${LEGACY_CMD[@]}" ARGS...` (common.bash),
# so that BG_PID is the program itself (env execs it); LD_PRELOAD goes in
# front: `bg NAME env LD_PRELOAD="$PRELOAD" "${LEGACY_CMD[@]}" ARGS...`.
# legacy_run111/legacy_run102 are for foreground commands only: in the
# background the shell running the function would be BG_PID, not the program.
#
# Notes on the programs (details in the comments of each function):
# - nginx 1.18 has no -e option and opens its compiled-in error log
#   /var/log/nginx/error.log before it reads the configuration. `nginx` here
#   is DIR/sbin/nginx, a copy of the package's binary with only that default
#   path changed to /dev/stderr (what `-e stderr` does in nginx >= 1.19.5);
#   "/usr/sbin/nginx" is the untouched binary. common.bash's nginx_conf
#   writes a configuration 1.18 reads; nginx_start (it passes -e) does not fit.
#   Its default ssl_protocols is TLSv1 TLSv1.1 TLSv1.2: TLS 1.3 only with
#   `ssl_protocols TLSv1.2 TLSv1.3;` in the configuration.
# - OpenSSL 1.0.2k s_server has no -status_file; it staples only what it gets
#   from an OCSP responder (-status -status_url URL, and -CAfile holding the
#   issuer), and only without -www.
#
# Requires: apt-get, dpkg-deb, grep -P, dd, flock (bullseye); tar, gcc, make,
# perl, sha256sum (1.0.2k); cc
# (legacy_fake_libssl); timeout (legacy_staple); network access
# to the Debian archive named in the machine's own apt sources.

# The bullseye packages: the programs, and every library they need that
# Debian 12 has not under the same soname (libldap-2.4-2, libicu67, libffi7,
# libmpdec3), or has only in a build linked to libcrypto.so.3 (libssh2-1), or
# does not install with the test dependencies (libpcre3).
LEGACY_BULLSEYE_PACKAGES="openssl libssl1.1 nginx-light libpcre3 curl libcurl4 libldap-2.4-2 libssh2-1 python3.9 python3.9-minimal libpython3.9-minimal libpython3.9-stdlib libffi7 libmpdec3 postfix libicu67"

# sha256 of the vendored OpenSSL 1.0.2k tarball (../shared/vendor/README.md).
LEGACY_OPENSSL102_SHA256=2ef72070d2a7b67b41f859c58ecdb12e5bd485dad047f6ef38458551548c3836

# ---------------------------------------------------------------- helpers

# _legacy_err MSG...: print "legacy: MSG" on stderr and return 1.
_legacy_err() {
    printf 'legacy: %s\n' "$*" >&2
    return 1
}

# _legacy_top: print the repository root ($TOP when set).
_legacy_top() {
    if [[ -n ${TOP:-} ]]; then
        printf '%s\n' "$TOP"
    else
        (cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    fi
}

# _legacy_locked LOCKFILE CMD...: run CMD holding an exclusive flock on
# LOCKFILE (so that parallel test files fetch or build only once).
_legacy_locked() {
    local lock=$1
    shift
    (
        flock 9 || exit 1
        "$@"
    ) 9>"$lock"
}

# ---------------------------------------------------------------- bullseye

# _legacy_codename: print the machine's Debian codename (e.g. bookworm).
_legacy_codename() {
    local VERSION_CODENAME=''
    # shellcheck disable=SC1091
    [[ -r /etc/os-release ]] && . /etc/os-release
    [[ -n $VERSION_CODENAME ]] || { _legacy_err "no VERSION_CODENAME in /etc/os-release"; return 1; }
    printf '%s\n' "$VERSION_CODENAME"
}

# _legacy_suites CODENAME SUITE...: print the bullseye counterparts of the
# machine's SUITEs (CODENAME, -updates, -security; others are dropped).
_legacy_suites() {
    local code=$1 s out=()
    shift
    for s in "$@"; do
        case $s in
            "$code") out+=(bullseye) ;;
            "$code"-updates) out+=(bullseye-updates) ;;
            "$code"-security) out+=(bullseye-security) ;;
        esac
    done
    printf '%s\n' "${out[*]}"
}

# _legacy_stanza URI SUITES SIGNEDBY: print one deb822 stanza (main only).
_legacy_stanza() {
    printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: %s\n\n' \
        "$1" "$2" "${3:-/usr/share/keyrings/debian-archive-keyring.gpg}"
}

# _legacy_sources: print a deb822 sources file for bullseye made from the
# machine's own Debian entries (/etc/apt/sources.list.d/*.sources and the
# one-line sources.list files): the same URIs and keyring, the suite renamed
# to bullseye (and bullseye-updates, bullseye-security where the machine has
# the bookworm ones), types deb, component main.
_legacy_sources() {
    local code f line key value uris suites signed types enabled mapped
    local type opts uri suite word
    code=$(_legacy_codename) || return 1
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        uris='' suites='' signed='' types='' enabled=yes
        while IFS= read -r line || [[ -n $line ]]; do
            if [[ -z ${line//[[:space:]]/} ]]; then
                if [[ -n $uris && $types == *deb* && ${enabled,,} != no ]]; then
                    # shellcheck disable=SC2086 # lists of words
                    mapped=$(_legacy_suites "$code" $suites)
                    for uri in $uris; do
                        [[ -n $mapped ]] && _legacy_stanza "$uri" "$mapped" "$signed"
                    done
                fi
                uris='' suites='' signed='' types='' enabled=yes
                continue
            fi
            [[ $line == \#* || $line == [[:space:]]* ]] && continue
            key=${line%%:*}
            value=${line#*:}
            value=${value#"${value%%[![:space:]]*}"}
            case ${key,,} in
                types) types=" $value " ;;
                uris) uris=$value ;;
                suites) suites=$value ;;
                signed-by) signed=$value ;;
                enabled) enabled=$value ;;
            esac
        done < <(cat "$f"; echo)
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        while read -r type line; do
            [[ $type == deb ]] || continue
            opts='' signed=''
            if [[ $line == \[* ]]; then
                opts=${line%%]*}
                line=${line#*]}
                for word in ${opts#[}; do
                    [[ $word == signed-by=* ]] && signed=${word#signed-by=}
                done
            fi
            read -r uri suite _ <<<"$line"
            mapped=$(_legacy_suites "$code" "$suite")
            [[ -n $mapped ]] && _legacy_stanza "$uri" "$mapped" "$signed"
        done <"$f"
    done
}

# _legacy_apt DIR ARGS...: apt-get ARGS with everything apt reads or writes
# under DIR/apt: its own config file (APT_CONFIG, read first, so that
# /etc/apt/apt.conf and apt.conf.d with their hooks are never read), sources,
# lists, cache, state and an empty dpkg status; no locks.
_legacy_apt() {
    local a=$1/apt arch
    shift
    arch=$(dpkg --print-architecture) || return 1
    APT_CONFIG=$a/apt.conf apt-get -q \
        -o Dir::Etc::sourcelist="$a/bullseye.sources" \
        -o Dir::Etc::sourceparts=/nonexistent \
        -o Dir::Etc::preferences=/nonexistent \
        -o Dir::Etc::preferencesparts="$a/empty" \
        -o Dir::State="$a/state" \
        -o Dir::State::Lists="$a/lists" \
        -o Dir::State::status="$a/state/status" \
        -o Dir::Cache="$a/cache" \
        -o Dir::Log="$a/log" \
        -o Debug::NoLocking=1 \
        -o APT::Sandbox::User="$(id -un)" \
        -o APT::Architecture="$arch" -o APT::Architectures="$arch" \
        -o Acquire::Languages=none \
        "$@"
}

# _legacy_apt_setup DIR: write DIR/apt: apt.conf (the machine's proxy and
# Check-Valid-Until/Check-Date settings carried over, nothing else), the
# bullseye sources, empty directories and status file.
_legacy_apt_setup() {
    local a=$1/apt
    rm -rf "$a" && mkdir -p "$a/empty" "$a/state" "$a/lists/partial" \
        "$a/cache/archives/partial" "$a/log" || return 1
    : >"$a/state/status" || return 1
    {
        printf '// private apt configuration (tests/lib/legacy.sh)\n'
        printf 'Dir::Etc::main "/nonexistent";\nDir::Etc::parts "%s";\n' "$a/empty"
        apt-config dump 2>/dev/null |
            grep -E '^Acquire::[A-Za-z]+::Proxy|^Acquire::Check-(Valid-Until|Date) ' || true
    } >"$a/apt.conf" || return 1
    _legacy_sources >"$a/bullseye.sources" || return 1
    [[ -s $a/bullseye.sources ]] ||
        { _legacy_err "no Debian $(_legacy_codename) entry in the apt sources to copy"; return 1; }
}

# _legacy_nginx_stderr_log SRC DST: copy nginx SRC to DST with its
# compiled-in default error log /var/log/nginx/error.log (opened before the
# configuration is read; 1.18 has no -e) replaced by /dev/stderr.
_legacy_nginx_stderr_log() {
    local off
    off=$(grep -obUaP '\x00/var/log/nginx/error\.log\x00' "$1" | cut -d: -f1) || true
    [[ -n $off && $off != *$'\n'* ]] ||
        { _legacy_err "$1: no single /var/log/nginx/error.log string"; return 1; }
    mkdir -p "$(dirname "$2")" && cp -p "$1" "$2" || return 1
    { printf '/dev/stderr'; head -c 13 /dev/zero; } |
        dd of="$2" bs=1 seek=$((off + 1)) conv=notrunc status=none || return 1
}

# _legacy_bullseye_fetch_locked DIR: the work of legacy_bullseye_fetch.
_legacy_bullseye_fetch_locked() {
    local dir=$1 start log deb bytes
    [[ -f $dir/done && $(<"$dir/done") == "$LEGACY_BULLSEYE_PACKAGES" ]] && return 0
    if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
        _legacy_err "apt-get and dpkg-deb are needed"
        return 1
    fi
    start=$(date +%s)
    log=$dir/fetch.log
    rm -f "$dir/done" && rm -rf "$dir/debs" "$dir/root" "$dir/sbin" || return 1
    mkdir -p "$dir/debs" "$dir/root" || return 1
    _legacy_apt_setup "$dir" || return 1
    if ! _legacy_apt "$dir" update >"$log" 2>&1; then
        cat "$log" >&2
        _legacy_err "apt-get update for bullseye failed"
        return 1
    fi
    # shellcheck disable=SC2086 # a list of package names
    if ! (cd "$dir/debs" && _legacy_apt "$dir" download $LEGACY_BULLSEYE_PACKAGES) >>"$log" 2>&1; then
        cat "$log" >&2
        _legacy_err "apt-get download failed"
        return 1
    fi
    for deb in "$dir"/debs/*.deb; do
        dpkg-deb -x "$deb" "$dir/root" || { _legacy_err "cannot extract $deb"; return 1; }
    done
    _legacy_nginx_stderr_log "$dir/root/usr/sbin/nginx" "$dir/sbin/nginx" || return 1
    bytes=$(cat "$dir"/debs/*.deb | wc -c)
    {
        printf 'seconds=%s deb_bytes=%s debs=%s\n' "$(($(date +%s) - start))" "$bytes" \
            "$(find "$dir/debs" -name '*.deb' | wc -l)"
        grep '^Fetched' "$log" || true # apt's own totals: the indexes, the debs
    } >"$dir/fetch.stats"
    # the indexes and apt's caches (about 110 MB) are not needed any more
    rm -rf "$dir/apt/lists" "$dir/apt/cache"
    printf '%s\n' "$LEGACY_BULLSEYE_PACKAGES" >"$dir/done"
}

# legacy_bullseye_fetch DIR: download LEGACY_BULLSEYE_PACKAGES from bullseye
# into DIR/debs and extract them all into DIR/root (nginx also as
# DIR/sbin/nginx, see the header). apt works only on DIR/apt (its indexes
# are removed afterwards). Cached: when DIR/done names the same package
# list, it returns at once. DIR/fetch.stats says how long the fetch took and
# how much it downloaded; DIR/fetch.log is apt's output.
legacy_bullseye_fetch() {
    local dir=$1
    [[ -n $dir ]] || { _legacy_err "usage: legacy_bullseye_fetch DIR"; return 1; }
    [[ -f $dir/done && $(<"$dir/done") == "$LEGACY_BULLSEYE_PACKAGES" ]] && return 0
    mkdir -p "$dir" || return 1
    dir=$(cd "$dir" && pwd) || return 1
    _legacy_locked "$dir/.lock" _legacy_bullseye_fetch_locked "$dir"
}

# _legacy_bullseye_dev_locked DIR: the work of legacy_bullseye_dev.
_legacy_bullseye_dev_locked() {
    local dir=$1 deb
    [[ -f $dir/done && -f $dir/root/usr/include/openssl/ssl.h ]] && return 0
    rm -rf "$dir/root" "$dir/debs" && mkdir -p "$dir/root" "$dir/debs" || return 1
    _legacy_apt_setup "$dir" || return 1
    if ! { _legacy_apt "$dir" update &&
        (cd "$dir/debs" && _legacy_apt "$dir" download libssl-dev); } >"$dir/fetch.log" 2>&1; then
        cat "$dir/fetch.log" >&2
        _legacy_err "cannot download bullseye's libssl-dev"
        return 1
    fi
    for deb in "$dir"/debs/*.deb; do
        dpkg-deb -x "$deb" "$dir/root" || { _legacy_err "cannot extract $deb"; return 1; }
    done
    rm -rf "$dir/apt/lists" "$dir/apt/cache"
    touch "$dir/done"
}

# legacy_bullseye_dev DIR: bullseye's libssl-dev (the OpenSSL 1.1.1
# headers) extracted in DIR/root; cached. Kept apart from
# legacy_bullseye_fetch's tree, which the programs' tests share.
legacy_bullseye_dev() {
    local dir=$1
    [[ -n $dir ]] || { _legacy_err "usage: legacy_bullseye_dev DIR"; return 1; }
    [[ -f $dir/done && -f $dir/root/usr/include/openssl/ssl.h ]] && return 0
    mkdir -p "$dir" || return 1
    dir=$(cd "$dir" && pwd) || return 1
    _legacy_locked "$dir/.lock" _legacy_bullseye_dev_locked "$dir"
}

# _legacy_triplet ROOT: print the multiarch directory name of ROOT's libssl.
_legacy_triplet() {
    local f
    for f in "$1"/usr/lib/*/libssl.so.1.1; do
        [[ -f $f ]] && { basename "$(dirname "$f")"; return 0; }
    done
    _legacy_err "no libssl.so.1.1 under $1 (run legacy_bullseye_fetch)"
}

# legacy_bullseye_env DIR: print, one a line, the NAME=VALUE settings that
# run the programs of DIR/root: LD_LIBRARY_PATH (bullseye's libraries and
# Postfix's; it beats the binaries' RUNPATH /usr/lib/postfix), the OpenSSL
# 1.1.1 config file and engines, Python's home (no user site).
legacy_bullseye_env() {
    local root=$1/root tri
    [[ -n $1 ]] || { _legacy_err "usage: legacy_bullseye_env DIR"; return 1; }
    tri=$(_legacy_triplet "$root") || return 1
    printf '%s\n' \
        "LD_LIBRARY_PATH=$root/usr/lib/$tri:$root/lib/$tri:$root/usr/lib/postfix" \
        "OPENSSL_CONF=$root/etc/ssl/openssl.cnf" \
        "OPENSSL_ENGINES=$root/usr/lib/$tri/engines-1.1" \
        "PYTHONHOME=$root/usr" \
        "PYTHONNOUSERSITE=1"
}

# legacy_cmd111 DIR PROGRAM: set the array LEGACY_CMD to `env SETTINGS...
# PATH-OF-PROGRAM`. PROGRAM is a name (nginx: DIR/sbin/nginx; else looked
# up in DIR/root's usr/bin, usr/sbin, bin, sbin) or a path inside DIR/root
# starting with / (e.g. /usr/sbin/nginx, /usr/lib/postfix/sbin/smtpd).
legacy_cmd111() {
    local dir=$1 prog=$2 path='' d
    local -a envs
    [[ $# -eq 2 ]] || { _legacy_err "usage: legacy_cmd111 DIR PROGRAM"; return 1; }
    if [[ $prog == /* ]]; then
        path=$dir/root$prog
    else
        for d in "$dir/sbin" "$dir/root/usr/bin" "$dir/root/usr/sbin" \
            "$dir/root/bin" "$dir/root/sbin"; do
            [[ -x $d/$prog && -f $d/$prog ]] && { path=$d/$prog; break; }
        done
    fi
    [[ -n $path && -x $path ]] || { _legacy_err "no program $prog in $dir"; return 1; }
    mapfile -t envs < <(legacy_bullseye_env "$dir")
    [[ ${#envs[@]} -gt 0 ]] || return 1
    LEGACY_CMD=(env "${envs[@]}" "$path")
}

# legacy_run111 DIR PROGRAM ARGS...: run PROGRAM of DIR/root with ARGS in
# the foreground (its exit status is returned).
legacy_run111() {
    local dir=$1 prog=$2
    shift 2 || { _legacy_err "usage: legacy_run111 DIR PROGRAM ARGS..."; return 1; }
    legacy_cmd111 "$dir" "$prog" || return 1
    "${LEGACY_CMD[@]}" "$@"
}

# ---------------------------------------------------------------- 1.0.2k

# _legacy_openssl102_build_locked DIR TARBALL: the work of
# legacy_openssl102_build.
_legacy_openssl102_build_locked() {
    local dir=$1 tarball=$2 sum log=$1/build.log start
    [[ -f $dir/done && -x $dir/prefix/bin/openssl ]] && return 0
    [[ -f $tarball ]] || { _legacy_err "no $tarball"; return 1; }
    sum=$(sha256sum "$tarball") || return 1
    [[ ${sum%% *} == "$LEGACY_OPENSSL102_SHA256" ]] ||
        { _legacy_err "$tarball: sha256 ${sum%% *}, expected $LEGACY_OPENSSL102_SHA256"; return 1; }
    start=$(date +%s)
    rm -f "$dir/done" && rm -rf "$dir/src" "$dir/prefix" && mkdir -p "$dir/src" || return 1
    tar -xzf "$tarball" -C "$dir/src" || { _legacy_err "cannot unpack $tarball"; return 1; }
    if ! (cd "$dir/src/openssl-1.0.2k" && ./config shared --prefix="$dir/prefix" &&
        make -j2 && make install_sw) >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        _legacy_err "the OpenSSL 1.0.2k build failed (log: $log)"
        return 1
    fi
    if ! LD_LIBRARY_PATH=$dir/prefix/lib "$dir/prefix/bin/openssl" version |
        grep -q '^OpenSSL 1\.0\.2k '; then
        _legacy_err "$dir/prefix/bin/openssl is not 1.0.2k"
        return 1
    fi
    rm -rf "$dir/src"
    printf 'seconds=%s\n' "$(($(date +%s) - start))" >"$dir/build.stats"
    touch "$dir/done"
}

# legacy_openssl102_build DIR: build OpenSSL 1.0.2k (shared) from
# $TOP/../shared/vendor/openssl-1.0.2k.tar.gz ($LEGACY_OPENSSL102_TARBALL if
# set; its sha256 checked first) and install it into DIR/prefix (libssl.so.1.0.0,
# libcrypto.so.1.0.0, bin/openssl, ssl/openssl.cnf). The build tree is
# DIR/src, removed after a good build; the log stays in DIR/build.log.
# Cached: once DIR/done exists it returns at once. About 100 s on 2 cores.
legacy_openssl102_build() {
    local dir=$1 tarball
    [[ -n $dir ]] || { _legacy_err "usage: legacy_openssl102_build DIR"; return 1; }
    [[ -f $dir/done && -x $dir/prefix/bin/openssl ]] && return 0
    tarball=${LEGACY_OPENSSL102_TARBALL:-$(_legacy_top)/../shared/vendor/openssl-1.0.2k.tar.gz}
    mkdir -p "$dir" || return 1
    dir=$(cd "$dir" && pwd) || return 1
    _legacy_locked "$dir/.lock" _legacy_openssl102_build_locked "$dir" "$tarball"
}

# legacy_cmd102 DIR: set the array LEGACY_CMD to `env LD_LIBRARY_PATH=...
# OPENSSL_CONF=... DIR/prefix/bin/openssl` (OpenSSL 1.0.2k).
legacy_cmd102() {
    local prefix=$1/prefix
    [[ $# -eq 1 ]] || { _legacy_err "usage: legacy_cmd102 DIR"; return 1; }
    [[ -x $prefix/bin/openssl ]] || { _legacy_err "no $prefix/bin/openssl (run legacy_openssl102_build)"; return 1; }
    LEGACY_CMD=(env "LD_LIBRARY_PATH=$prefix/lib" "OPENSSL_CONF=$prefix/ssl/openssl.cnf"
        "$prefix/bin/openssl")
}

# legacy_run102 DIR ARGS...: run OpenSSL 1.0.2k's `openssl ARGS` in the
# foreground. Its s_server: -accept takes a port only (it listens on all
# addresses); stapling needs -status -status_url URL and the issuer in
# -CAfile, and works only without -www (use -quiet; stdin may be /dev/null).
legacy_run102() {
    local dir=$1
    shift || { _legacy_err "usage: legacy_run102 DIR ARGS..."; return 1; }
    legacy_cmd102 "$dir" || return 1
    "${LEGACY_CMD[@]}" "$@"
}

# ---------------------------------------------------------------- checks

# legacy_ssl_libs PID: print, one a line and sorted, the libssl* and
# libcrypto* files mapped into process PID (fails when there is no PID).
legacy_ssl_libs() {
    local maps
    maps=$(cat "/proc/$1/maps" 2>/dev/null) || maps=''
    [[ -n $maps ]] || { _legacy_err "no process $1"; return 1; }
    awk '$6 ~ /\/lib(ssl|crypto)\.so/ { print $6 }' <<<"$maps" | sort -u
}

# legacy_libssl DIR: print the path of the libssl that the programs of DIR
# load, as the dynamic linker names it (and libstaple's "using" line):
# DIR/root/usr/lib/TRIPLET/libssl.so.1.1 for the bullseye tree,
# DIR/prefix/lib/libssl.so.1.0.0 for the 1.0.2k build.
legacy_libssl() {
    local tri
    [[ $# -eq 1 ]] || { _legacy_err "usage: legacy_libssl DIR"; return 1; }
    if [[ -x $1/prefix/bin/openssl ]]; then
        printf '%s\n' "$1/prefix/lib/libssl.so.1.0.0"
    else
        tri=$(_legacy_triplet "$1/root") || return 1
        printf '%s\n' "$1/root/usr/lib/$tri/libssl.so.1.1"
    fi
}

# ---------------------------------------------------------------- staples

# legacy_staple_parse: read the output of `s_client -status` (1.0.2k, 1.1.1
# or 3.x) on stdin and print what the server stapled, as common.bash's
# staple does: "SERIAL STATUS" (one pair per SingleResponse, joined by ", "),
# "none", or "handshake failed" (no "New, TLS..."/"Reused, TLS..." line;
# 1.0.2k prints "New, TLSv1/SSLv3, Cipher is ..." after a good handshake).
legacy_staple_parse() {
    staple_parse
}

# legacy_staple DIR PORT [ARGS...]: what the server on 127.0.0.1:PORT
# stapled (see legacy_staple_parse), asked by the `openssl s_client -status`
# of DIR (the bullseye tree: 1.1.1; the 1.0.2k build), trusting $PKI/ca.pem,
# never under the preload, sending nothing.
legacy_staple() {
    local dir=$1 port=$2
    shift 2 || { _legacy_err "usage: legacy_staple DIR PORT [ARGS...]"; return 1; }
    if [[ -x $dir/prefix/bin/openssl ]]; then
        legacy_cmd102 "$dir" || return 1
    else
        legacy_cmd111 "$dir" openssl || return 1
    fi
    # not s_client's exit status: see common.bash's staple
    { timeout 10 env -u LD_PRELOAD "${LEGACY_CMD[@]}" s_client \
        -connect "127.0.0.1:$port" -status -CAfile "$PKI/ca.pem" "$@" \
        </dev/null 2>&1 || true; } | legacy_staple_parse
}

# ---------------------------------------------------------------- offline

# legacy_unreachable FILE: FILE holds the stderr of a failed
# legacy_bullseye_fetch or legacy_openssl102_build. When it shows that the
# work cannot be done on this machine at all (the Debian archive cannot be
# reached, no apt-get/dpkg-deb or no Debian apt sources, no vendored
# tarball), print that reason in one line and return 0; for any other
# failure (a bad tarball, a failed build, a package missing from a
# reachable archive) return 1.
legacy_unreachable() {
    local f=$1 pat
    [[ $# -eq 1 && -f $f ]] || { _legacy_err "usage: legacy_unreachable FILE"; return 1; }
    pat='Could not resolve|Temporary failure resolving|Could not connect|Unable to connect'
    pat+='|Network is unreachable|No route to host|Connection timed out|Connection refused'
    pat+='|Failed to fetch|Some index files failed to download'
    if grep -Eq "$pat" "$f"; then
        printf 'the Debian archive cannot be reached: %s\n' \
            "$(grep -Em1 "$pat" "$f" | sed 's/^[[:space:]]*//' | cut -c1-160)"
    elif grep -Eq '^legacy: (apt-get and dpkg-deb are needed|no Debian .* entry in the apt sources)' "$f"; then
        grep -Em1 '^legacy: ' "$f" | sed 's/^legacy: //'
    elif grep -Eq '^legacy: no .*openssl-1\.0\.2k\.tar\.gz$' "$f"; then
        grep -Em1 '^legacy: no ' "$f" | sed 's/^legacy: no /no vendored tarball /'
    else
        return 1
    fi
}

# ---------------------------------------------------------------- fake libssl

# legacy_fake_libssl DIR SONAME NUM TEXT: build with cc, in DIR, a fake
# libssl DIR/SONAME (its soname SONAME) exporting SSL_CTX_new (counts its
# calls in fake_calls, returns one dummy non-NULL pointer),
# OpenSSL_version_num (returns NUM, hex without a suffix, e.g. 0x1010007f
# for 1.1.0g) and OpenSSL_version
# (returns TEXT), and DIR/prog, a program linked to it (DT_NEEDED SONAME)
# that calls SSL_CTX_new twice and prints "ok" (exit 0) when both calls
# reached the fake and returned its pointer, else "bad: ..." (exit 1).
# Run it with LD_LIBRARY_PATH=DIR.
legacy_fake_libssl() {
    local dir=$1 soname=$2 num=$3 text=$4
    [[ $# -eq 4 ]] || { _legacy_err "usage: legacy_fake_libssl DIR SONAME NUM TEXT"; return 1; }
    mkdir -p "$dir" || return 1
    cat >"$dir/fake.c" <<'EOF' || return 1
/* a fake libssl: just enough for libstaple to find it and judge its version */
int fake_calls;
static char fake_ctx[64];
void *SSL_CTX_new(const void *method) { (void)method; fake_calls++; return fake_ctx; }
unsigned long OpenSSL_version_num(void) { return FAKE_NUM; }
const char *OpenSSL_version(int type) { (void)type; return FAKE_TEXT; }
EOF
    cat >"$dir/prog.c" <<'EOF' || return 1
#include <stdio.h>
extern int fake_calls;
void *SSL_CTX_new(const void *method);
int main(void)
{
	void *a = SSL_CTX_new(NULL), *b = SSL_CTX_new(NULL);

	if (a == NULL || a != b || fake_calls != 2) {
		printf("bad: %p %p %d\n", a, b, fake_calls);
		return 1;
	}
	puts("ok");
	return 0;
}
EOF
    cc -shared -fPIC -Wall -Wextra -Werror -Wl,-soname,"$soname" \
        -DFAKE_NUM="${num}UL" -DFAKE_TEXT="\"$text\"" \
        -o "$dir/$soname" "$dir/fake.c" || return 1
    cc -Wall -Wextra -Werror -o "$dir/prog" "$dir/prog.c" "$dir/$soname" || return 1
}
