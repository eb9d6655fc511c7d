#!/usr/bin/env bats
# libstaple deployed system-wide: /etc/ld.so.preload names it, so every
# dynamically linked program loads it, with no LD_PRELOAD in its environment,
# setuid programs included. Each test runs its programs in a private mount
# namespace whose /etc is an overlay (tests/lib/systemwide.bash): the real
# /etc is never written. Servers run outside it, without the preload.

load lib/common
load lib/systemwide

setup() {
    sw_setup
    PORT=$(free_port)
}

teardown() {
    sw_teardown
}

# the first line the test client prints, per how it ran
as_suid() { echo "ruid=$NOBODY_UID euid=0 rgid=$NOBODY_GID egid=$NOBODY_GID secure=1"; }
as_nobody() { echo "ruid=$NOBODY_UID euid=$NOBODY_UID rgid=$NOBODY_GID egid=$NOBODY_GID secure=0"; }
as_root() { echo "ruid=0 euid=0 rgid=0 egid=0 secure=0"; }

# rejected_alerts PORT: how many bad_certificate_status_response alerts (the
# alert of libstaple's rejection: a handshake that failed on its staple, not
# on anything else) the server on PORT has received.
rejected_alerts() {
    sleep 0.2
    grep -c "bad certificate status response" "$T/native$1.err" || true
}

@test "setuid root: no LIBSTAPLE_* variable, no named config file, no log file" {
    native "$PORT" must
    printf 'policy = off\nlog = %s\nlog_level = debug\n' "$N/conf.log" >"$N/evil.conf"
    chown nobody "$N/evil.conf"
    hostile=(LIBSTAPLE_LOG="$R/env.log" LIBSTAPLE_CONF="$N/evil.conf"
        LIBSTAPLE_POLICY=off LIBSTAPLE_LOG_LEVEL=debug LIBSTAPLE_DIR="$N/staples")
    # the setuid client, run by nobody: the default policy is enforced
    run ns_nobody "${hostile[@]}" "$S/suid_client" must.test "$PORT" "$S/ca.pem"
    [ "$status" -eq 1 ]
    [ "$output" = "$(lines "$(as_suid)" "handshake failed")" ]
    [ "$(rejected_alerts "$PORT")" -eq 1 ]
    # neither log path was created (a privileged process could: see below)
    [ ! -e "$R/env.log" ]
    [ ! -e "$N/conf.log" ]
    # LIBSTAPLE_LOG=stderr is no way in either: nothing on stderr
    run ns_nobody LIBSTAPLE_LOG=stderr LIBSTAPLE_LOG_LEVEL=debug LIBSTAPLE_POLICY=off \
        "$S/suid_client" must.test "$PORT" "$S/ca.pem"
    [ "$status" -eq 1 ]
    [ "$output" = "$(lines "$(as_suid)" "handshake failed")" ]
    # a file nobody may read names no config file either
    run ns_nobody LIBSTAPLE_CONF=/etc/shadow LIBSTAPLE_LOG="$R/shadow.log" \
        LIBSTAPLE_LOG_LEVEL=debug "$S/suid_client" must.test "$PORT" "$S/ca.pem"
    [ "$status" -eq 1 ]
    [ "$output" = "$(lines "$(as_suid)" "handshake failed")" ]
    [ ! -e "$R/shadow.log" ]
    # nor does a root-owned 0644 file, which a privileged process would
    # trust: LIBSTAPLE_CONF itself is ignored
    printf 'policy = off\nlog = %s\nlog_level = debug\n' "$R/rootconf.log" >"$R/root.conf"
    run ns_nobody LIBSTAPLE_CONF="$R/root.conf" "$S/suid_client" must.test "$PORT" "$S/ca.pem"
    [ "$status" -eq 1 ]
    [ "$output" = "$(lines "$(as_suid)" "handshake failed")" ]
    [ ! -e "$R/rootconf.log" ]
    [ "$(rejected_alerts "$PORT")" -eq 4 ]

    # Controls. The same client without the setuid bit, run by nobody,
    # honours each variable, so the test above can fail:
    run ns_nobody LIBSTAPLE_POLICY=off "$S/client" must.test "$PORT" "$S/ca.pem"
    [ "$status" -eq 0 ]
    [ "$output" = "$(lines "$(as_nobody)" "handshake succeeded")" ]
    run ns_nobody LIBSTAPLE_CONF="$N/evil.conf" "$S/client" must.test "$PORT" "$S/ca.pem"
    [ "$status" -eq 0 ]
    [ "$output" = "$(lines "$(as_nobody)" "handshake succeeded")" ]
    [ -s "$N/conf.log" ]            # the named file was read: its log was written
    rm "$N/conf.log"
    run ns_nobody LIBSTAPLE_LOG=stderr "$S/client" must.test "$PORT" "$S/ca.pem"
    [ "$status" -eq 1 ]
    [[ $output == "$(as_nobody)"$'\n'"libstaple["*"]: error: must.test: rejected /CN=must.test [Must-Staple]: missing: no staple (policy must-staple)"$'\n'"handshake failed" ]]
    # and without any variable it is refused, like the setuid one
    run ns_nobody "$S/client" must.test "$PORT" "$S/ca.pem"
    [ "$status" -eq 1 ]
    [ "$output" = "$(lines "$(as_nobody)" "handshake failed")" ]
    # a privileged process that honours the variables (root, not setuid)
    # does create a log file in $R, and reads root's named file
    run ns LIBSTAPLE_LOG="$R/env.log" "$S/client" must.test "$PORT" "$S/ca.pem"
    [ "$status" -eq 1 ]
    [ "$(grep -c "error: must.test: rejected /CN=must.test \[Must-Staple\]: missing" "$R/env.log")" -eq 1 ]
    run ns LIBSTAPLE_CONF="$R/root.conf" "$S/client" must.test "$PORT" "$S/ca.pem"
    [ "$status" -eq 0 ]
    [ "$output" = "$(lines "$(as_root)" "handshake succeeded")" ]
    [ -s "$R/rootconf.log" ]
}

NOT_READ="error: /etc/libstaple.conf: not read: a privileged process reads only a config file owned by root and writable by root alone"

@test "/etc/libstaple.conf is read by a privileged process only when root owns it and alone may write it" {
    native "$PORT" rsa
    # no config file: the default must-staple accepts a plain certificate
    # without a staple
    run ns_nobody "$S/suid_client" rsa.test "$PORT" "$S/ca.pem"
    [ "$status" -eq 0 ]
    [ "$output" = "$(lines "$(as_suid)" "handshake succeeded")" ]
    # root's, 0644: read by the setuid client, and by root
    sw_conf "policy = require" root:root 0644
    run ns_nobody "$S/suid_client" rsa.test "$PORT" "$S/ca.pem"
    [ "$status" -eq 1 ]
    [ "$output" = "$(lines "$(as_suid)" "handshake failed")" ]
    [ "$(rejected_alerts "$PORT")" -eq 1 ]
    run ns LIBSTAPLE_LOG="$T/root.log" "$S/client" rsa.test "$PORT" "$S/ca.pem"
    [ "$status" -eq 1 ]
    [ "$output" = "$(lines "$(as_root)" "handshake failed")" ]
    [ "$(grep -c "error: rsa.test: rejected /CN=rsa.test: missing: no staple (policy require)" "$T/root.log")" -eq 1 ]
    [ "$(wc -l <"$T/root.log")" -eq 1 ]
    rm "$T/root.log"
    # Each of these is not read by the setuid client (accepted), nor by a
    # root process (accepted, and it says why); an unprivileged process
    # reads any of them (refused).
    printf 'policy = require\n' >"$N/conf"
    chown nobody "$N/conf"
    for change in "chown nobody /etc/libstaple.conf" \
        "chmod 0666 /etc/libstaple.conf" \
        "chmod 0664 /etc/libstaple.conf" \
        "chmod 0646 /etc/libstaple.conf" \
        "rm /etc/libstaple.conf && ln -s $N/conf /etc/libstaple.conf"; do
        sw_conf "policy = require" root:root 0644
        sw_etc "$change"
        run ns_nobody "$S/suid_client" rsa.test "$PORT" "$S/ca.pem"
        [ "$status" -eq 0 ] || { echo "setuid, after $change: $output"; return 1; }
        [ "$output" = "$(lines "$(as_suid)" "handshake succeeded")" ]
        run ns LIBSTAPLE_LOG="$T/root.log" "$S/client" rsa.test "$PORT" "$S/ca.pem"
        [ "$status" -eq 0 ] || { echo "root, after $change: $output"; return 1; }
        [ "$output" = "$(lines "$(as_root)" "handshake succeeded")" ]
        [[ $(cat "$T/root.log") == "libstaple["*"]: $NOT_READ" ]] ||
            { echo "root, after $change:"; cat "$T/root.log"; return 1; }
        rm "$T/root.log"
        run ns_nobody "$S/client" rsa.test "$PORT" "$S/ca.pem"
        [ "$status" -eq 1 ] || { echo "nobody, after $change: $output"; return 1; }
        [ "$output" = "$(lines "$(as_nobody)" "handshake failed")" ]
    done
    # 0600 root's: read by both (only the mode bits for group and others
    # that allow writing matter)
    sw_conf "policy = require" root:root 0600
    run ns_nobody "$S/suid_client" rsa.test "$PORT" "$S/ca.pem"
    [ "$status" -eq 1 ]
    run ns "$S/client" rsa.test "$PORT" "$S/ca.pem"
    [ "$status" -eq 1 ]
}

@test "setuid: a log path in the config file becomes syslog; stderr and none are kept" {
    native "$PORT" must
    sw_conf "$(printf 'log = %s\nlog_level = debug' "$R/conf.log")"
    run ns_nobody "$S/suid_client" must.test "$PORT" "$S/ca.pem"
    [ "$status" -eq 1 ]
    [ "$output" = "$(lines "$(as_suid)" "handshake failed")" ]
    [ ! -e "$R/conf.log" ]
    # control: root, not setuid, writes that file
    run ns "$S/client" must.test "$PORT" "$S/ca.pem"
    [ "$status" -eq 1 ]
    [ "$(grep -c "error: must.test: rejected /CN=must.test \[Must-Staple\]: missing" "$R/conf.log")" -eq 1 ]
    rm "$R/conf.log"
    # log = stderr: the setuid client's rejection line is on its stderr
    sw_conf "$(printf 'log = stderr\nlog_level = error')"
    run ns_nobody "$S/suid_client" must.test "$PORT" "$S/ca.pem"
    [ "$status" -eq 1 ]
    [[ $output == "$(as_suid)"$'\n'"libstaple["*"]: error: must.test: rejected /CN=must.test [Must-Staple]: missing: no staple (policy must-staple)"$'\n'"handshake failed" ]]
    sw_conf "$(printf 'log = none\nlog_level = debug')"
    run ns_nobody "$S/suid_client" must.test "$PORT" "$S/ca.pem"
    [ "$status" -eq 1 ]
    [ "$output" = "$(lines "$(as_suid)" "handshake failed")" ]
    [ "$(rejected_alerts "$PORT")" -eq 4 ]
}

@test "setgid and file-capability programs ignore LIBSTAPLE_* too" {
    sw_need setcap
    native "$PORT" must
    install -o root -g root -m 2755 "$S/client" "$S/sgid_client"
    install -m 0755 "$S/client" "$S/cap_client"
    setcap cap_net_bind_service=ep "$S/cap_client"
    # a log path nobody itself could create, if the variable were honoured
    hostile=(LIBSTAPLE_LOG="$N/env.log" LIBSTAPLE_POLICY=off LIBSTAPLE_LOG_LEVEL=debug)
    run ns_nobody "${hostile[@]}" "$S/sgid_client" must.test "$PORT" "$S/ca.pem"
    [ "$status" -eq 1 ]
    [ "$output" = "$(lines "ruid=$NOBODY_UID euid=$NOBODY_UID rgid=$NOBODY_GID egid=0 secure=1" "handshake failed")" ]
    run ns_nobody "${hostile[@]}" "$S/cap_client" must.test "$PORT" "$S/ca.pem"
    [ "$status" -eq 1 ]
    [ "$output" = "$(lines "ruid=$NOBODY_UID euid=$NOBODY_UID rgid=$NOBODY_GID egid=$NOBODY_GID secure=1" "handshake failed")" ]
    [ ! -e "$N/env.log" ]
    [ "$(rejected_alerts "$PORT")" -eq 2 ]
    # control: the plain copy honours them, and writes that log
    run ns_nobody "${hostile[@]}" "$S/client" must.test "$PORT" "$S/ca.pem"
    [ "$status" -eq 0 ]
    [ "$output" = "$(lines "$(as_nobody)" "handshake succeeded")" ]
    [ -s "$N/env.log" ]
    # Not running as root, they still read only a config file root owns:
    # a nobody-owned /etc/libstaple.conf saying require is not read by them
    # (a plain certificate without a staple is accepted) ...
    RSA=$(free_port)
    native "$RSA" rsa
    sw_conf "policy = require" nobody 0644
    for client in sgid_client cap_client; do
        run ns_nobody "$S/$client" rsa.test "$RSA" "$S/ca.pem"
        [ "$status" -eq 0 ] || { echo "$client: $output"; return 1; }
        [ "${lines[1]}" = "handshake succeeded" ]
    done
    # ... while the plain copy, run by nobody, reads it and is refused
    run ns_nobody "$S/client" rsa.test "$RSA" "$S/ca.pem"
    [ "$status" -eq 1 ]
    [ "$output" = "$(lines "$(as_nobody)" "handshake failed")" ]
    # and root's 0644 file is read by them too
    sw_conf "policy = require" root:root 0644
    for client in sgid_client cap_client; do
        run ns_nobody "$S/$client" rsa.test "$RSA" "$S/ca.pem"
        [ "$status" -eq 1 ] || { echo "$client: $output"; return 1; }
        [ "${lines[1]}" = "handshake failed" ]
    done
    [ "$(rejected_alerts "$RSA")" -eq 3 ]
}

@test "setuid: [program NAME] matches the executable only, never argv[0] (exec -a)" {
    native "$PORT" must
    # the caller chooses argv[0]: a section for another name must not apply
    sw_conf "$(printf '[program backup-agent]\npolicy = off')" root:root 0644
    run ns_nobody bash -c 'exec -a backup-agent "$@"' sh "$S/suid_client" \
        must.test "$PORT" "$S/ca.pem"
    [ "$status" -eq 1 ]
    [ "$output" = "$(lines "$(as_suid)" "handshake failed")" ]
    # control: not setuid, argv[0] still names the program (what ps shows)
    run ns_nobody bash -c 'exec -a backup-agent "$@"' sh "$S/client" \
        must.test "$PORT" "$S/ca.pem"
    [ "$status" -eq 0 ]
    [ "$output" = "$(lines "$(as_nobody)" "handshake succeeded")" ]
    # the executable's own name applies, whatever argv[0] says
    sw_conf "$(printf '[program suid_client]\npolicy = off')" root:root 0644
    run ns_nobody bash -c 'exec -a backup-agent "$@"' sh "$S/suid_client" \
        must.test "$PORT" "$S/ca.pem"
    [ "$status" -eq 0 ]
    [ "$output" = "$(lines "$(as_suid)" "handshake succeeded")" ]
    [ "$(rejected_alerts "$PORT")" -eq 1 ]
}

# curl_must RUNNER PORT [VAR=VALUE...] [-- CURL ARGS...]: curl (RUNNER: ns,
# ns_nobody or plain; no LD_PRELOAD in its environment) fetching
# https://must.test:PORT/ against the test root; prints the HTTP code
# ("000": no response), curl's error on stderr.
curl_must() {
    local runner=$1 port=$2 envs=()
    shift 2
    while (($#)) && [[ $1 != -- ]]; do envs+=("$1"); shift; done
    (($#)) && shift
    "$runner" "${envs[@]}" curl -sS --max-time 10 --cacert "$S/ca.pem" \
        --resolve "must.test:$port:127.0.0.1" -o /dev/null -w '%{http_code}' \
        "$@" "https://must.test:$port/"
}

# py_must RUNNER PORT [VAR=VALUE...]: Python's urllib with an ssl context
# trusting the test root, fetching https://127.0.0.1:PORT/; prints the HTTP
# status or the error's class and reason.
py_must() {
    local runner=$1 port=$2
    shift 2
    cat >"$S/fetch.py" <<'PY'
import ssl, sys, urllib.error, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[2])
try:
    with urllib.request.urlopen(sys.argv[1], context=ctx, timeout=10) as r:
        print(r.status)
except urllib.error.URLError as e:
    print(type(e.reason).__name__, getattr(e.reason, "reason", e.reason))
    sys.exit(1)
PY
    "$runner" "$@" "$PY" "$S/fetch.py" "https://127.0.0.1:$port/" "$S/ca.pem"
}

# curl and python3 are refused (exact outcomes)
curl_refused() {
    [ "$status" -eq 35 ] || { echo "curl: status $status: $output"; return 1; }
    [[ $output == "curl: (35) "*"invalid status response"$'\n'"000" ]]
}
py_refused() {
    [ "$status" -eq 1 ] || { echo "python: status $status: $output"; return 1; }
    [ "$output" = "SSLError INVALID_STATUS_RESPONSE" ]
}

@test "[program NAME] sections and enabled = no, under /etc/ld.so.preload" {
    sw_need curl
    native "$PORT" must
    log=(LIBSTAPLE_LOG="$T/curl.log" LIBSTAPLE_LOG_LEVEL=debug)
    # no config: both refused
    run curl_must ns "$PORT" "${log[@]}"
    curl_refused
    run py_must ns "$PORT"
    py_refused
    [ "$(grep -c "enabled = no" "$T/curl.log")" -eq 0 ]
    rm "$T/curl.log"

    sw_conf "$(printf '[program curl]\nenabled = no')"
    run curl_must ns "$PORT" "${log[@]}"
    [ "$status" -eq 0 ]
    [ "$output" = 200 ]
    [ "$(grep -c "debug: enabled = no: stepping aside" "$T/curl.log")" -eq 1 ]
    [ "$(wc -l <"$T/curl.log")" -eq 1 ]
    rm "$T/curl.log"
    run py_must ns "$PORT" LIBSTAPLE_LOG="$T/py.log" LIBSTAPLE_LOG_LEVEL=debug
    py_refused
    [ "$(grep -c "enabled = no" "$T/py.log")" -eq 0 ]
    # for nobody too (curl is not setuid: an unprivileged process reads the file)
    run curl_must ns_nobody "$PORT"
    [ "$status" -eq 0 ]
    [ "$output" = 200 ]
    # the section matches the executable's name too: curl started as "fetch"
    ln -s "$(command -v curl)" "$S/fetch"
    run ns "$S/fetch" -sS --cacert "$S/ca.pem" --resolve "must.test:$PORT:127.0.0.1" \
        -o /dev/null -w '%{http_code}' "https://must.test:$PORT/"
    [ "$status" -eq 0 ]
    [ "$output" = 200 ]
    # ... and its argv[0] name: [program fetch] is that one, not curl
    sw_conf "$(printf '[program fetch]\nenabled = no')"
    run ns "$S/fetch" -sS --cacert "$S/ca.pem" --resolve "must.test:$PORT:127.0.0.1" \
        -o /dev/null -w '%{http_code}' "https://must.test:$PORT/"
    [ "$status" -eq 0 ]
    [ "$output" = 200 ]
    run curl_must ns "$PORT"
    curl_refused

    sw_conf "$(printf '[program curl]\npolicy = off')"
    run curl_must ns "$PORT"
    [ "$status" -eq 0 ]
    [ "$output" = 200 ]
    run py_must ns "$PORT"
    py_refused

    # another program's section, and keys after the next section header,
    # do not apply to curl
    sw_conf "$(printf '[program notcurl]\nenabled = no\npolicy = off')"
    run curl_must ns "$PORT"
    curl_refused
    sw_conf "$(printf '[program curl]\nlog_level = debug\n[program other]\nenabled = no\npolicy = off')"
    run curl_must ns "$PORT"
    curl_refused
    # top-level enabled = no: curl steps aside; a [program] section may
    # turn it back on
    sw_conf "enabled = no"
    run curl_must ns "$PORT"
    [ "$status" -eq 0 ]
    [ "$output" = 200 ]
    sw_conf "$(printf 'enabled = no\n[program curl]\nenabled = yes')"
    run curl_must ns "$PORT"
    curl_refused
}

@test "enabled = no steps aside in Python too (its libssl is dlopen()ed by _ssl)" {
    native "$PORT" must
    exe=$(basename "$(readlink -f "$PY")")
    for conf in "enabled = no" "$(printf '[program %s]\nenabled = no' "$exe")"; do
        sw_conf "$conf"
        run ns LIBSTAPLE_LOG="$T/py.log" LIBSTAPLE_LOG_LEVEL=debug "$PY" -c \
            'import ssl; ssl.create_default_context(); print("context made")'
        [ "$status" -eq 0 ] || { echo "$conf: $output"; return 1; }
        [ "$output" = "context made" ]
        run py_must ns "$PORT"
        [ "$status" -eq 0 ] || { echo "$conf: $output"; return 1; }
        [ "$output" = 200 ]
        [ "$(grep -c "debug: enabled = no: stepping aside" "$T/py.log")" -eq 1 ]
        rm "$T/py.log"
    done
}

@test "system-wide enforcement: curl and python3 with no LD_PRELOAD refuse an unstapled Must-Staple server, accept a stapling one" {
    sw_need curl
    pki_ocsp "$PKI" must good issuer now "$T/good.der"
    native "$PORT" must
    GOOD=$(free_port)
    native "$GOOD" must "$T/good.der"
    # without the system-wide preload (outside the namespace) both connect
    # to the unstapled server: the refusals below are libstaple's
    run curl_must plain "$PORT"
    [ "$status" -eq 0 ]
    [ "$output" = 200 ]
    run py_must plain "$PORT"
    [ "$status" -eq 0 ]
    [ "$output" = 200 ]
    # with it: refused, by root and by nobody
    run curl_must ns "$PORT" LIBSTAPLE_LOG="$T/curl.log"
    curl_refused
    [ "$(grep -c "error: must.test: rejected /CN=must.test \[Must-Staple\]: missing: no staple (policy must-staple)" "$T/curl.log")" -eq 1 ]
    run py_must ns "$PORT"
    py_refused
    run curl_must ns_nobody "$PORT"
    curl_refused
    [ "$(rejected_alerts "$PORT")" -eq 3 ]
    # the stapling server is accepted
    run curl_must ns "$GOOD" LIBSTAPLE_LOG="$T/good.log" LIBSTAPLE_LOG_LEVEL=debug
    [ "$status" -eq 0 ]
    [ "$output" = 200 ]
    # (curl asks for no staple itself: libstaple asked, and verified it)
    [ "$(grep -c "must.test: accepted /CN=must.test \[Must-Staple\]: good" "$T/good.log")" -eq 1 ]
    run py_must ns "$GOOD"
    [ "$status" -eq 0 ]
    [ "$output" = 200 ]
    run curl_must ns_nobody "$GOOD"
    [ "$status" -eq 0 ]
    [ "$output" = 200 ]
}

# same NAME CMD...: CMD under the system-wide preload (in the namespace) and
# without it (outside), same environment, same directory: stdout, stderr and
# exit status must be identical. Kept in $T/NAME.{ns,plain}.{out,err,rc}.
same() {
    local name=$1 side rc
    shift
    for side in ns plain; do
        rc=0
        "$side" "$@" >"$T/$name.$side.out" 2>"$T/$name.$side.err" </dev/null || rc=$?
        echo "$rc" >"$T/$name.$side.rc"
    done
    for part in out err rc; do
        if ! cmp -s "$T/$name.ns.$part" "$T/$name.plain.$part"; then
            echo "$name: $part differs (< preload, > none):"
            diff "$T/$name.ns.$part" "$T/$name.plain.$part" | head -20
            return 1
        fi
    done
}

@test "inert: ordinary programs behave byte-identically with and without the system-wide preload" {
    sw_need curl perl git ssh apt-get
    # the preload is there in the namespace, not outside it
    run ns grep -c "$S/lib/libstaple.so" /proc/self/maps
    [ "$status" -eq 0 ]
    [ "$output" -ge 1 ]
    run plain grep -c "$S/lib/libstaple.so" /proc/self/maps
    [ "$status" -eq 1 ]
    [ "$output" = 0 ]

    mkdir -p "$S/www"
    echo "hello from $BATS_TEST_NUMBER" >"$S/www/hello.txt"
    native "$PORT" must
    HTTP=$(free_port)
    bg http "$PY" -m http.server --bind 127.0.0.1 --directory "$S/www" "$HTTP"
    wait_port "$HTTP"
    pki_ocsp "$PKI" must good issuer now "$T/good.der"
    GOOD=$(free_port)
    bg www sh -c 'cd "$1" && shift && exec "$@"' sh "$S/www" env -u LD_PRELOAD \
        openssl s_server -WWW -accept "127.0.0.1:$GOOD" -cert "$PKI/must.pem" \
        -key "$PKI/must.key" -cert_chain "$PKI/int.pem" -status_file "$T/good.der"
    wait_port "$GOOD"

    same sh sh -c 'echo hi; echo oops >&2; exit 3'
    [ "$(cat "$T/sh.ns.out" "$T/sh.ns.err" "$T/sh.ns.rc")" = "$(lines hi oops 3)" ]
    same ls ls -la /etc/hostname
    same os-release cat /etc/os-release
    same python "$PY" -c 'import sys; print(sys.version)'
    same perl perl -e 'print 42'
    [ "$(cat "$T/perl.ns.out")" = 42 ]
    same git-version git --version
    same git sh -c 'rm -rf repo && mkdir repo && cd repo && git init && git status'
    grep -q "Initialized empty Git repository in $S/work/repo/.git/" "$T/git.ns.out"
    same ssh ssh -V
    same apt-get apt-get --version
    same openssl-version openssl version
    same x509 openssl x509 -in "$PKI/must.pem" -noout -subject
    [ "$(cat "$T/x509.ns.out")" = "subject=CN = must.test" ]
    same curl-version curl --version
    same curl-http curl -sS --max-time 10 -w ' %{http_code}\n' "http://127.0.0.1:$HTTP/hello.txt"
    [ "$(cat "$T/curl-http.ns.out")" = "$(lines "hello from $BATS_TEST_NUMBER" " 200")" ]
    same curl-https curl -sS --max-time 10 --cacert "$S/ca.pem" \
        --resolve "must.test:$GOOD:127.0.0.1" -w ' %{http_code}\n' "https://must.test:$GOOD/hello.txt"
    [ "$(cat "$T/curl-https.ns.out")" = "$(lines "hello from $BATS_TEST_NUMBER" " 200")" ]
    # control: where libstaple does act, the comparison sees it
    run same curl-must curl -sS --max-time 10 --cacert "$S/ca.pem" \
        --resolve "must.test:$PORT:127.0.0.1" -o /dev/null -w '%{http_code}' "https://must.test:$PORT/"
    [ "$status" -eq 1 ]
    [ "$(cat "$T/curl-must.ns.rc" "$T/curl-must.plain.rc")" = "$(lines 35 0)" ]
}

@test "inert: a program that never uses TLS opens nothing of libstaple's, even when told to log" {
    sw_need curl strace
    mkdir -p "$S/staples"
    tell=(LIBSTAPLE_LOG="$T/inert.log" LIBSTAPLE_LOG_LEVEL=debug
        LIBSTAPLE_CONF="$T/missing.conf" LIBSTAPLE_DIR="$S/staples")
    # a missing named config file is an error libstaple would log at once
    ns "${tell[@]}" sh -c true
    ns "${tell[@]}" ls -la /etc >/dev/null
    ns "${tell[@]}" curl --version >/dev/null   # links libssl, makes no connection
    [ ! -e "$T/inert.log" ]
    # control: a program that uses TLS reads the config file, and logs
    run ns "${tell[@]}" openssl s_client -connect 127.0.0.1:1
    [ "$(grep -c "error: $T/missing.conf: No such file or directory" "$T/inert.log")" -eq 1 ]
    rm "$T/inert.log"

    # under strace: ls opens neither /etc/libstaple.conf nor the staple
    # directory, though it loaded the library
    for cmd in "ls -la /etc" "sh -c true"; do
        # shellcheck disable=SC2086
        ns LIBSTAPLE_DIR="$S/staples" strace -f -qq -e trace=%file -o "$T/trace" $cmd >/dev/null
        [ "$(grep -c "\"$S/lib/libstaple.so\"" "$T/trace")" -ge 1 ] || { echo "$cmd: not preloaded"; return 1; }
        run grep -e libstaple.conf -e "$S/staples" "$T/trace"
        [ "$status" -eq 1 ] || { echo "$cmd: $output"; return 1; }
    done
    # control: a TLS server's context (a certificate loaded) opens both
    ns LIBSTAPLE_DIR="$S/staples" strace -f -qq -e trace=%file -o "$T/trace" "$PY" -c "
import ssl
ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain('$PKI/rsa.pem', '$PKI/rsa.key')"
    [ "$(grep -c '"/etc/libstaple.conf"' "$T/trace")" -ge 1 ]
    [ "$(grep -c "\"$S/staples\"" "$T/trace")" -ge 1 ]
}

@test "server role: a daemon started with no LD_PRELOAD staples from the dir in /etc/libstaple.conf" {
    mkdir -p "$S/staples"
    pki_ocsp "$PKI" rsa good issuer now "$S/staples/rsa.der"
    sw_conf "dir = $S/staples"
    ns_bg daemon openssl s_server -www -accept "127.0.0.1:$PORT" -cert "$PKI/rsa.pem" \
        -key "$PKI/rsa.key" -cert_chain "$PKI/int.pem"
    wait_port "$PORT"
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    [ "$(staple "$PORT" -tls1_2)" = "$(serial rsa) good" ]
    # control: the same server outside the namespace staples nothing
    PLAIN=$(free_port)
    bg plain-daemon env -u LD_PRELOAD openssl s_server -www -accept "127.0.0.1:$PLAIN" -cert "$PKI/rsa.pem" \
        -key "$PKI/rsa.key" -cert_chain "$PKI/int.pem"
    wait_port "$PLAIN"
    [ "$(staple "$PLAIN")" = "none" ]
}
