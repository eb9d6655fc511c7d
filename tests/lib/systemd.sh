# shellcheck shell=bash
# systemd.sh - a real systemd as PID 1 for the tests, on machines that do
# not run one themselves (CI's among them): a root made by tests/lib/roots.sh
# booted with systemd-nspawn, so that units run as systemd runs them, with
# their sandbox (ProtectSystem=, DynamicUser=, system-call filters...),
# timers and path units.
#
# Source this file (in bats: `load lib/systemd.sh`); it only defines
# functions. Functions report problems on stderr and return non-zero.
#
#   sd_usable                   true when a root can be booted here; else
#                               says why on stderr
#   sd_boot STATE ROOT [ARG...] boot ROOT in the background, wait until its
#                               systemd has finished starting; STATE is a
#                               new directory for what sd_* keep (exported
#                               as SD); ARGs go to systemd-nspawn
#                               (--bind=HOST:INNER, ...)
#   sd_exec CMD...              run CMD in the booted system (its mount, PID,
#                               UTS, IPC and cgroup namespaces, its root),
#                               clean environment; its systemctl, systemd-run
#                               and journalctl talk to the booted systemd
#   sd_halt                     shut the system down, wait for it, kill what
#                               would not stop; fails when a process of the
#                               container is left
#   sd_leftovers                print "PID COMMAND" for each process left in
#                               the container's PID namespace
#
# The container shares the machine's network namespace: servers on
# 127.0.0.1 are reached from both sides. The root is not changed: it is
# booted with --volatile=overlay (every write goes to a tmpfs that goes with
# the container), so one cached root serves every boot, several at a time.
#
# Without systemd on the machine nobody gives systemd-nspawn a cgroup of its
# own: sd_boot makes one (in the cgroup2 hierarchy, and in the name=systemd
# one of a hybrid layout) and moves systemd-nspawn there first, so that two
# containers never share their "payload" cgroup; sd_halt removes it. On a
# machine run by systemd, systemd-nspawn asks it for a scope as usual.

# _sd_err MSG...: print "systemd: MSG" on stderr and return 1.
_sd_err() {
    printf 'systemd: %s\n' "$*" >&2
    return 1
}

# sd_usable: this user can boot a root with systemd-nspawn here.
sd_usable() {
    ((EUID == 0)) || { _sd_err "booting a root with systemd-nspawn needs root"; return 1; }
    command -v systemd-nspawn >/dev/null ||
        { _sd_err "systemd-nspawn is needed (Debian package systemd-container)"; return 1; }
    command -v nsenter >/dev/null || { _sd_err "nsenter is needed (Debian package util-linux)"; return 1; }
}

# _sd_host_systemd: true when the machine itself runs systemd as PID 1.
_sd_host_systemd() {
    [[ -d /run/systemd/system ]]
}

# _sd_cgroup_bases: print the directories of this process's cgroups in the
# hierarchies systemd-nspawn uses: the cgroup2 one, and a hybrid layout's
# named v1 hierarchy (name=systemd).
_sd_cgroup_bases() {
    local mnt fs opts path
    while read -r _ mnt fs opts _; do
        if [[ $fs == cgroup2 ]]; then
            path=$(sed -n 's/^0:://p' /proc/self/cgroup)
        elif [[ $fs == cgroup && ,$opts, == *,name=systemd,* ]]; then
            path=$(sed -n 's/^[0-9]*:name=systemd://p' /proc/self/cgroup)
        else
            continue
        fi
        [[ -n $path ]] && printf '%s%s\n' "$mnt" "${path%/}"
    done </proc/self/mounts
}

# _sd_alive PID: PID exists and has not exited (a zombie has).
_sd_alive() {
    local state
    [[ -r /proc/$1/stat ]] || return 1
    state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
    [[ -n $state && $state != Z ]]
}

# _sd_wait_gone PID SECONDS: wait until PID has exited; false after SECONDS.
_sd_wait_gone() {
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        _sd_alive "$1" || return 0
        sleep 0.1
    done
    return 1
}

# _sd_leader NSPAWN: print the container's init (PID 1 in its namespace,
# running systemd), a child of systemd-nspawn; nothing before it runs.
_sd_leader() {
    local pid
    for pid in $(pgrep -P "$1"); do
        grep -q '^NSpid:.*[[:space:]]1$' "/proc/$pid/status" 2>/dev/null || continue
        [[ $(cat "/proc/$pid/comm" 2>/dev/null) == systemd ]] || continue
        echo "$pid"
        return 0
    done
    return 1
}

# sd_boot STATE ROOT [ARG...]: see above. Fails (after halting what it
# started) when systemd has not finished starting within 60 s.
sd_boot() {
    local state=$1 root=$2 name cg cgs=() leader st i
    shift 2
    [[ -d $root/etc ]] || { _sd_err "no root at $root"; return 1; }
    mkdir -p "$state" || return 1
    export SD=$state
    name=staple-test-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
    echo "$name" >"$SD/name"
    if ! _sd_host_systemd; then
        for cg in $(_sd_cgroup_bases); do
            mkdir "$cg/$name" || { sd_halt; return 1; }
            echo "$cg/$name" >>"$SD/cgroups"
            cgs+=("$cg/$name")
        done
        set -- --keep-unit "$@"
    fi
    # in the test's process group: a SIGTERM for the group (a test run
    # stopped) halts the container too
    (
        for cg in ${cgs[@]+"${cgs[@]}"}; do
            echo "$BASHPID" >"$cg/cgroup.procs" || exit 1
        done
        exec systemd-nspawn --directory="$root" --machine="$name" --register=no \
            --volatile=overlay --console=read-only --boot "$@"
    ) </dev/null >"$SD/console.log" 2>&1 3>&- &
    echo "$!" >"$SD/nspawn.pid"
    for ((i = 0; i < 600; i++)); do
        leader=$(_sd_leader "$!") && break
        _sd_alive "$!" || break
        sleep 0.1
    done
    if [[ -z $leader ]]; then
        tail -n 20 "$SD/console.log" >&2
        sd_halt
        _sd_err "systemd-nspawn did not start systemd in $root"
        return 1
    fi
    echo "$leader" >"$SD/leader.pid"
    readlink "/proc/$leader/ns/pid" >"$SD/pidns"
    # until its private socket answers, systemctl says nothing useful
    for ((i = 0; i < 600; i++)); do
        st=$(sd_exec systemctl is-system-running 2>/dev/null) || true
        [[ $st == running || $st == degraded ]] && return 0
        sleep 0.1
    done
    tail -n 20 "$SD/console.log" >&2
    sd_halt
    _sd_err "systemd in $root did not finish starting in 60 s (is-system-running: ${st:-no answer})"
    return 1
}

# sd_exec CMD...: see above.
sd_exec() {
    local leader
    leader=$(cat "$SD/leader.pid" 2>/dev/null) || { _sd_err "nothing is booted"; return 1; }
    nsenter --target="$leader" --mount --uts --ipc --pid --cgroup --root --wd \
        /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C SYSTEMD_PAGER= SYSTEMD_COLORS=0 "$@"
}

# sd_leftovers: see above. One ls for all the processes: a readlink each
# takes seconds on a busy machine.
sd_leftovers() {
    local ns pid
    ns=$(cat "$SD/pidns" 2>/dev/null) || return 0
    # shellcheck disable=SC2012 # /proc's names are numbers
    for pid in $(ls -l /proc/[0-9]*/ns/pid 2>/dev/null |
        awk -v ns="$ns" '$NF == ns { split($(NF - 2), p, "/"); print p[3] }'); do
        _sd_alive "$pid" || continue
        printf '%s %s\n' "$pid" "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
    done
    return 0
}

# sd_halt: see above. SIGTERM makes systemd-nspawn ask the container's
# systemd to halt (a clean shutdown, about 2 s); after 30 s the container's
# init is killed, which ends every process of its PID namespace.
sd_halt() {
    local nspawn leader left cg rc=0
    [[ -n ${SD:-} && -d $SD ]] || return 0
    nspawn=$(cat "$SD/nspawn.pid" 2>/dev/null) || nspawn=''
    leader=$(cat "$SD/leader.pid" 2>/dev/null) || leader=''
    if [[ -n $nspawn ]] && _sd_alive "$nspawn"; then
        kill -TERM "$nspawn" 2>/dev/null || true
        if ! _sd_wait_gone "$nspawn" 30; then
            _sd_err "the container did not halt in 30 s: killed"
            rc=1
            [[ -z $leader ]] || kill -KILL "$leader" 2>/dev/null || true
            _sd_wait_gone "$nspawn" 10 || kill -KILL "$nspawn" 2>/dev/null || true
            _sd_wait_gone "$nspawn" 10 || { _sd_err "systemd-nspawn $nspawn would not stop"; return 1; }
        fi
    fi
    # reap it when it is our child (a zombie holds nothing, but keeps its PID)
    [[ -z $nspawn ]] || wait "$nspawn" 2>/dev/null || true
    left=$(sd_leftovers)
    if [[ -n $left ]]; then
        _sd_err "processes left in the container:"
        echo "$left" >&2
        rc=1
    fi
    # the cgroups sd_boot made, deepest first (systemd-nspawn adds
    # "payload" and "supervisor", the container's systemd its own)
    if [[ -f $SD/cgroups ]]; then
        while read -r cg; do
            [[ -d $cg ]] || continue
            find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null ||
                { _sd_err "cannot remove the cgroup $cg"; rc=1; }
        done <"$SD/cgroups"
    fi
    # what systemd-nspawn leaves behind on a machine without systemd
    [[ ! -f $SD/name ]] || rmdir "/run/systemd/nspawn/propagate/$(cat "$SD/name")" 2>/dev/null || true
    rm -f "$SD/nspawn.pid" "$SD/leader.pid" "$SD/pidns" "$SD/cgroups"
    return $rc
}
