#!/usr/bin/env bats
# Server role, descriptors: a program that closes every descriptor after
# setting up TLS (a daemonising sweep, closefrom(3)) and opens its own files
# in the freed numbers never has them closed, read or written by libstaple.
# tests/lib/fdsweep is that program: it checks its files itself.

load lib/common

setup() {
    setup_test
    PORT=$(free_port)
    [[ -x $TOP/tests/.work/fdsweep ]] || make -s -C "$TOP" tests/.work/fdsweep
    echo "reload_interval = 1" >"$LIBSTAPLE_CONF"
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
    mkdir "$T/files"
}

teardown() {
    kill_bg
}

# sweep_and_check: the first handshake, the sweep, a new staple file, the
# second handshake after the reload interval; fdsweep then says whether its
# files are intact. Both handshakes staple rsa's response.
sweep_and_check() {
    local pid=$BG_PID rc=0
    for _ in $(seq 100); do grep -q serving "$T/fdsweep.out" && break; sleep 0.1; done
    wait_port "$PORT"                   # a probe is not a handshake for fdsweep
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    for _ in $(seq 100); do
        [ "$(grep -c serving "$T/fdsweep.out")" -eq 2 ] && break
        sleep 0.1
    done
    [ "$(grep -c serving "$T/fdsweep.out")" -eq 2 ]
    pki_garbage "$T/staples/junk2.der"  # something to log after the sweep
    sleep 1.5                           # the reload interval passes
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    wait "$pid" || rc=$?
    cat "$T/fdsweep.out" "$T/fdsweep.err"
    [ "$(tail -n 1 "$T/fdsweep.out")" = "files intact" ]
    [ "$rc" -eq 0 ]
}

@test "a program that closes every descriptor: the staple directory's number, reused for its file, is left alone" {
    pki_garbage "$T/staples/junk1.der"
    bg fdsweep env LD_PRELOAD="$PRELOAD" "$TOP/tests/.work/fdsweep" "$PORT" \
        "$PKI/rsa.full.pem" "$PKI/rsa.key" "$T/files"
    sweep_and_check
    [ "$(log_count "junk1.der: not a DER OCSP response; skipped")" -eq 1 ]
    [ "$(log_count "junk2.der: not a DER OCSP response; skipped")" -eq 1 ]
}

@test "a program that closes every descriptor, logging to syslog: no syslog socket is kept for it to reuse" {
    command -v unshare >/dev/null
    unshare -m true || skip "no mount namespaces here"
    pki_garbage "$T/staples/junk1.der"
    # A private /dev with a syslog socket of the test's own, in a mount
    # namespace of fdsweep's own: glibc's syslog(3) keeps a socket to it.
    cat >"$T/in-ns.sh" <<SH
set -e
mkdir -p "$T/olddev"
mount --bind /dev "$T/olddev"
mount -t tmpfs tmpfs /dev
for n in null zero random urandom; do
    touch /dev/\$n && mount --bind "$T/olddev/\$n" /dev/\$n
done
timeout 60 python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
open(sys.argv[1] + ".ready", "w").close()
with open(sys.argv[1], "ab", buffering=0) as out:
    while True:
        out.write(s.recv(4096) + b"\n")
' "$T/syslog.txt" &
receiver=\$!
while [ ! -e "$T/syslog.txt.ready" ]; do sleep 0.1; done
rc=0
env LD_PRELOAD="$PRELOAD" LIBSTAPLE_LOG=syslog "$TOP/tests/.work/fdsweep" "$PORT" \
    "$PKI/rsa.full.pem" "$PKI/rsa.key" "$T/files" || rc=\$?
kill \$receiver
exit \$rc
SH
    bg fdsweep unshare -m bash "$T/in-ns.sh"
    sweep_and_check
    grep -q "fdsweep: libstaple\[[0-9]*\]: warn: $T/staples/junk1.der: not a DER OCSP response; skipped" "$T/syslog.txt"
    grep -q "fdsweep: libstaple\[[0-9]*\]: warn: $T/staples/junk2.der: not a DER OCSP response; skipped" "$T/syslog.txt"
}
