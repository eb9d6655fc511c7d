# shellcheck shell=bash
# inroot.bash - running tests inside a whole root (tests/lib/roots.sh):
# a work directory inside the root for each test file, the test's scratch
# directory T inside it, and commands run with the root's own glibc and
# programs (chroot for amd64 roots; qemu-aarch64-static -L for arm64).
#
# Paths: T, W, PKI are host paths (the host's clients and helpers use them);
# `inner PATH` is the same file as the root's programs see it. Inside the
# root the test PKI is $W/pki (inner: $PKI_IN).
#
#   inroot_file_setup NAME      R (the root), W (a work dir in it, with the
#                               PKI and the Python test programs), PKI_IN
#   inroot_file_teardown        remove W, unmount what was mounted
#   inroot_setup                setup_test with T inside W
#   inroot_teardown             stop what the test started; fail when a
#                               process is left in the root
#   inner PATH                  PATH as seen inside the root
#   rr CMD...                   run CMD in the root (chroot), clean environment
#                               with the test's LIBSTAPLE_* settings (inner paths)
#   rrp LIB CMD...              rr CMD under LD_PRELOAD=LIB (an inner path)

load lib/common
load lib/roots.sh
load lib/mail

# inroot_file_setup NAME: the root NAME (made, or its failure reason in
# ROOT_SKIP), a fresh work directory W inside it.
inroot_file_setup() {
    pki_shared
    roots_ready ROOT_SKIP "$@" || return 1
    export R W PKI_IN ROOT_NAME=$1
    R=$(roots_dir "$1")
    [[ -z $ROOT_SKIP ]] || return 0
    W=$(mktemp -d "$R/tmp/staple-tests.XXXXXX") || return 1
    chmod 0755 "$W"
    cp -a "$PKI" "$W/pki" && chmod -R a+rX "$W/pki" || return 1
    mkdir -p "$W/lib" && cp "$TOP"/tests/lib/tls_*.py "$W/lib/" || return 1
    PKI_IN=$(inner "$W/pki")
}

# inroot_file_teardown: remove W (nothing may run in the root any more).
inroot_file_teardown() {
    [[ -n ${W:-} && -d $W ]] && rm -rf "$W"
    return 0
}

# need_root: skip (outside CI) when the root could not be made here.
need_root() {
    [[ -z $ROOT_SKIP ]] || skip "the $ROOT_NAME root: $ROOT_SKIP"
}

# inner PATH: PATH (a host path below R) as the root's programs see it.
inner() {
    printf '%s\n' "${1#"$R"}"
}

# inroot_setup: setup_test, with T a fresh directory inside W.
inroot_setup() {
    setup_test
    [[ -z $ROOT_SKIP ]] || return 0
    T=$W/t$BATS_SUITE_TEST_NUMBER
    rm -rf "$T" && mkdir -p "$T/staples" && chmod 0755 "$T" || return 1
    export LIBSTAPLE_DIR=$T/staples LIBSTAPLE_LOG=$T/staple.log
    export LIBSTAPLE_CONF=$T/libstaple.conf
    : >"$LIBSTAPLE_CONF"
    PORT=$(free_port)
}

# inroot_teardown: stop everything the test started; fail when something
# still listens on PORT or a process is left in the root.
inroot_teardown() {
    local left
    mail_teardown
    [[ -z ${ROOT_SKIP:-} && -n ${R:-} ]] || return 0
    if [[ -n ${PORT:-} ]] && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        echo "something still listens on port $PORT after the test" >&2
        return 1
    fi
    left=$(roots_leftovers "$ROOT_NAME")
    if [[ -n $left ]]; then
        echo "processes left in the root:" >&2
        echo "$left" >&2
        return 1
    fi
}

# rr_cmd [LIB]: set the array RRC to the command that runs a program in
# the root (chroot) with a clean environment: PATH, HOME, LANG, the test's
# LIBSTAPLE_* settings translated to inner paths, and LD_PRELOAD=LIB (an
# inner path) when LIB is given. NAME=VALUE words may follow (env).
rr_cmd() {
    RRC=(chroot "$R" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
        HOME=/root LANG=C)
    [[ -z ${LIBSTAPLE_DIR:-} ]] || RRC+=("LIBSTAPLE_DIR=$(inner "$LIBSTAPLE_DIR")")
    [[ -z ${LIBSTAPLE_LOG:-} ]] || RRC+=("LIBSTAPLE_LOG=$(inner "$LIBSTAPLE_LOG")")
    [[ -z ${LIBSTAPLE_CONF:-} ]] || RRC+=("LIBSTAPLE_CONF=$(inner "$LIBSTAPLE_CONF")")
    [[ -z ${LIBSTAPLE_LOG_LEVEL:-} ]] || RRC+=("LIBSTAPLE_LOG_LEVEL=$LIBSTAPLE_LOG_LEVEL")
    [[ -z ${LIBSTAPLE_POLICY:-} ]] || RRC+=("LIBSTAPLE_POLICY=$LIBSTAPLE_POLICY")
    [[ -z ${1:-} ]] || RRC+=("LD_PRELOAD=$1")
}

# rr CMD...: run CMD in the root (rr_cmd, no preload).
rr() {
    rr_cmd
    "${RRC[@]}" "$@"
}

# rrp LIB CMD...: run CMD in the root under LD_PRELOAD=LIB (an inner path).
rrp() {
    rr_cmd "$1"
    shift
    "${RRC[@]}" "$@"
}

# logged TEXT: how many log lines are exactly "libstaple[PID]: TEXT".
logged() {
    sed -E 's/^libstaple\[[0-9]+\]: //' "$LIBSTAPLE_LOG" 2>/dev/null | grep -cxF -- "$1" || true
}

# ssl_libs PID: the libssl*/libcrypto* files process PID maps, as inner
# paths (the kernel names them from the reader's root), sorted, one a line.
ssl_libs() {
    local real
    real=$(cd "$R" && pwd -P)
    awk '$6 ~ /\/lib(ssl|crypto)\.so/ { print $6 }' "/proc/$1/maps" |
        sed "s|^$real/|/|" | sort -u
}

# root_staple PORT [ARGS...]: what the server on 127.0.0.1:PORT stapled,
# asked by the root's own openssl s_client (not preloaded), as `staple`.
root_staple() {
    local port=$1
    shift
    { timeout 10 chroot "$R" /usr/bin/env -i PATH=/usr/bin:/bin openssl s_client \
        -connect "127.0.0.1:$port" -status -CAfile "$PKI_IN/ca.pem" "$@" \
        </dev/null 2>&1 || true; } | staple_parse
}

# native CERT [STAPLE [TLSFLAG]]: the host's openssl s_server WITHOUT the
# preload on 127.0.0.1:PORT, serving CERT with its chain, stapling the file
# STAPLE ("" for nothing), only TLSFLAG's version when given.
native() {
    local args=()
    [[ -z ${2:-} ]] || args+=(-status_file "$2")
    [[ -z ${3:-} ]] || args+=("$3")
    bg native env -u LD_PRELOAD openssl s_server -www -accept "127.0.0.1:$PORT" \
        -cert "$PKI/$1.pem" -key "$PKI/$1.key" -cert_chain "$PKI/int.pem" "${args[@]}"
    wait_port "$PORT"
}

# The verdict lines of the client role (debug level shows them all).
MUST_MISSING="error: must.test: rejected /CN=must.test [Must-Staple]: missing: no staple (policy must-staple)"
MUST_GOOD="debug: must.test: accepted /CN=must.test [Must-Staple]: good (policy must-staple)"
RSA_REVOKED="error: rsa.test: rejected /CN=rsa.test: revoked (policy must-staple)"

# verdicts: how many accepted/rejected/not-enforced lines the log has.
verdicts() {
    log_count ': \(error\|warn\|debug\): [^ ]*: \(accepted\|rejected\|not enforced:\) '
}
