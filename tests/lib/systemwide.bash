# shellcheck shell=bash
# systemwide.bash - libstaple deployed system-wide through /etc/ld.so.preload,
# for tests/systemwide.bats, without touching the real /etc.
#
# Every program of a test runs inside one private mount namespace (a holder
# process started by `unshare -m --propagation private`) in which /etc is an
# overlayfs over the real /etc (upper and work dirs in the test's $T). In it,
# /etc/ld.so.preload names a copy of libstaple.so in a world-readable scratch
# directory $S, and /etc/libstaple.conf is whatever the test writes (nothing
# at first: an existing real one is hidden). Writes to /etc go only through
# sw_etc, which refuses unless /etc in the namespace is that overlay; the
# real /etc/ld.so.preload and /etc/libstaple.conf are checked unchanged after
# every test.
#
#   sw_setup / sw_teardown        the scratch dir, the namespace, the checks
#   ns CMD...                     CMD as root in the namespace, clean env
#   ns_nobody CMD...              CMD as nobody in the namespace, clean env
#   ns_bg NAME CMD...             ns CMD in the background (bg in common.bash)
#   plain CMD...                  CMD as root outside it (no preload), clean env
#   sw_etc SCRIPT [ARGS...]       sh SCRIPT as root in the namespace, on the overlay only
#   sw_conf TEXT [OWNER [MODE]]   write /etc/libstaple.conf in the namespace
#   native PORT CERT [FILE]       openssl s_server, no preload, stapling FILE (or nothing)
#
# CMD for ns, ns_nobody and plain may start with VAR=VALUE words (env(1)):
# those and PATH/HOME are the whole environment; never LD_PRELOAD.

# the test client (tests/lib/suid_client.c)
SUID_CLIENT=${SUID_CLIENT:-$TOP/tests/.work/suid_client}
NOBODY_UID=$(id -u nobody)
NOBODY_GID=$(id -g nobody)
# the environment of every program the tests start (PATH as the tests have it)
SW_PATH=$PATH
# python3 as an absolute path: a pyenv shim is a shell script in /root
# shellcheck disable=SC2034  # used by tests/systemwide.bats
PY=$(command -v python3 >/dev/null && python3 -c 'import sys; print(sys.executable)')

# sw_need_root: skip unless root (fail under CI), and unless the machine can
# run these tests at all.
sw_need_root() {
    local why=
    if ((EUID != 0)); then
        why="needs root (setuid programs, mount namespaces, /etc overlay)"
    elif [[ -n $PRELOAD_BASE ]]; then
        # a sanitizer runtime cannot be preloaded into every process (and
        # a setuid one ignores ASAN_OPTIONS): these run the plain library only
        skip "system-wide tests run the plain library only (PRELOAD_BASE is set)"
    elif [[ -s /etc/ld.so.preload ]]; then
        why="the real /etc/ld.so.preload is not empty: no 'without the preload' baseline"
    elif ! unshare -m --propagation private true 2>/dev/null; then
        why="no mount namespaces here (unshare -m)"
    fi
    if [[ -n $why ]]; then
        [[ -z ${CI:-} ]] || { echo "$why" >&2; return 1; }
        skip "$why"
    fi
}

# sw_need PROGRAM...: fail (CI) or skip when one of the programs is missing.
sw_need() {
    local p missing=()
    for p in "$@"; do
        command -v "$p" >/dev/null || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    [[ -z ${CI:-} ]] || { echo "missing: ${missing[*]}" >&2; return 1; }
    skip "needs ${missing[*]}"
}

# _sw_etc_state: what the real /etc/ld.so.preload and /etc/libstaple.conf are.
_sw_etc_state() {
    local f
    for f in /etc/ld.so.preload /etc/libstaple.conf; do
        if [[ -e $f || -L $f ]]; then
            printf '%s %s\n' "$f" "$(stat -c '%i %s %Y %a %U' "$f") $(sha256sum <"$f")"
        else
            printf '%s absent\n' "$f"
        fi
    done
}

# _sw_scratch_base: a directory for $S on a mount without nosuid, that
# nobody can reach.
_sw_scratch_base() {
    local d
    for d in "${TMPDIR:-/tmp}" /tmp /var/tmp "$TOP/tests/.work"; do
        [[ -d $d ]] || continue
        findmnt -n -o OPTIONS -T "$d" | tr ',' '\n' | grep -qx nosuid && continue
        setpriv --reuid="$NOBODY_UID" --regid="$NOBODY_GID" --clear-groups \
            test -x "$d" || continue
        echo "$d"
        return 0
    done
    echo "no directory for setuid programs (all on nosuid mounts?)" >&2
    return 1
}

# sw_setup: the PKI, the scratch dir $S (0755) holding the library copy
# ($S/lib/libstaple.so), the CA ($S/ca.pem) and the test clients, a
# root-owned 0755 dir $R and a nobody-owned dir $N; then the namespace.
sw_setup() {
    local base
    sw_need_root
    sw_need unshare nsenter setpriv findmnt openssl
    [[ -x $SUID_CLIENT ]] ||
        { echo "$SUID_CLIENT is not built (make tests/.work/suid_client)" >&2; return 1; }
    pki_shared
    T=$BATS_TEST_TMPDIR
    SW_ETC_BEFORE=$(_sw_etc_state)
    base=$(_sw_scratch_base)
    S=$(mktemp -d "$base/libstaple-sw.XXXXXX")
    chmod 755 "$S"
    install -d -m 0755 "$S/lib" "$S/work"
    install -m 0644 "$LIBSTAPLE" "$S/lib/libstaple.so"
    install -m 0644 "$PKI/ca.pem" "$S/ca.pem"
    # the test client twice: a plain copy and one that becomes setuid root
    install -m 0755 "$SUID_CLIENT" "$S/client"
    install -o root -g root -m 4755 "$SUID_CLIENT" "$S/suid_client"
    R=$S/rootdir N=$S/nobodydir
    install -d -o root -g root -m 0755 "$R"
    install -d -o "$NOBODY_UID" -g "$NOBODY_GID" -m 0755 "$N"
    sw_ns_start
}

# sw_ns_start: the namespace holder; NS_PID is its process.
sw_ns_start() {
    local i
    mkdir -p "$T/etc.upper" "$T/etc.work"
    # The overlay first; only when it is mounted (and is what /etc is) does
    # anything get written, and the holder sleep.
    bg ns unshare -m --propagation private sh -c '
        mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1,workdir=$2" /etc || exit 1
        [ "$(findmnt -n -o FSTYPE --mountpoint /etc)" = overlay ] || exit 1
        rm -f /etc/libstaple.conf || exit 1
        printf "%s\n" "$3" >/etc/ld.so.preload || exit 1
        : >"$4" && exec sleep 1000000' sh \
        "$T/etc.upper" "$T/etc.work" "$S/lib/libstaple.so" "$T/ns.ready"
    NS_PID=$BG_PID
    for ((i = 0; i < 100; i++)); do
        [[ -e $T/ns.ready ]] && break
        kill -0 "$NS_PID" 2>/dev/null || break
        sleep 0.05
    done
    [[ -e $T/ns.ready ]] || { echo "no namespace: $(cat "$T/ns.err")" >&2; return 1; }
    [[ $(readlink "/proc/$NS_PID/ns/mnt") != $(readlink /proc/self/ns/mnt) ]]
}

# sw_teardown: stop everything, check the real /etc, remove $S.
sw_teardown() {
    kill_bg
    if [[ -n ${S:-} && -d $S ]]; then
        rm -rf "$S"
    fi
    # (this test writes /etc only through the overlay; anything else that
    # changes these files meanwhile, such as a concurrent dpkg -i, shows too)
    if [[ -n ${SW_ETC_BEFORE:-} && $(_sw_etc_state) != "$SW_ETC_BEFORE" ]]; then
        echo "THE REAL /etc CHANGED during the test: was" >&2
        echo "$SW_ETC_BEFORE" >&2
        _sw_etc_state >&2
        return 1
    fi
}

# _sw_enter ARGS...: nsenter into the namespace, working directory $S/work.
_sw_enter() {
    if [[ ! -e $T/ns.ready ]] || ! kill -0 "$NS_PID" 2>/dev/null; then
        echo "the namespace is gone" >&2
        return 1
    fi
    nsenter --target "$NS_PID" --mount --wdns="$S/work" -- "$@"
}

ns() {
    _sw_enter env -i PATH="$SW_PATH" HOME="$HOME" "$@"
}

# ns_bg NAME CMD...: CMD as root in the namespace in the background (bg: one
# process, nsenter and env exec it, so kill_bg stops it).
ns_bg() {
    local name=$1
    shift
    _sw_enter true || return 1
    bg "$name" nsenter --target "$NS_PID" --mount --wdns="$S/work" -- \
        env -i PATH="$SW_PATH" HOME="$HOME" "$@"
}

ns_nobody() {
    _sw_enter setpriv --reuid="$NOBODY_UID" --regid="$NOBODY_GID" --clear-groups \
        env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/nonexistent "$@"
}

plain() {
    (cd "$S/work" && env -i PATH="$SW_PATH" HOME="$HOME" "$@")
}

sw_etc() {
    local script=$1
    shift
    _sw_enter sh -c '
        if [ "$(findmnt -n -o FSTYPE --mountpoint /etc)" != overlay ]; then
            echo "refusing: /etc here is not the overlay" >&2
            exit 99
        fi
        '"$script" sh "$@"
}

sw_conf() {
    sw_etc 'printf "%s\n" "$1" >/etc/libstaple.conf &&
        chown "$2" /etc/libstaple.conf && chmod "$3" /etc/libstaple.conf' \
        "$1" "${2:-root:root}" "${3:-0644}"
}

native() {
    local port=$1 cert=$2 args=()
    [[ -z ${3:-} ]] || args=(-status_file "$3")
    bg "native$port" env -u LD_PRELOAD openssl s_server -www \
        -accept "127.0.0.1:$port" -status_verbose -cert "$PKI/$cert.pem" \
        -key "$PKI/$cert.key" -cert_chain "$PKI/int.pem" "${args[@]}"
    wait_port "$port"
}

# lines TEXT...: the arguments as lines (what an exact $output is compared to).
lines() {
    printf '%s\n' "$@"
}
