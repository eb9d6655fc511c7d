# shellcheck shell=bash
# programs.bash - real programs as TLS CLIENTS under the preload (psql,
# curl, Python, openssl s_client, nginx proxy_pass, Postfix smtp, MariaDB),
# each against a Must-Staple server on 127.0.0.1, and a one-line outcome for
# each, so tests can assert exactly what the program did. Load after
# lib/common; the Postfix functions also need lib/mail. Everything lives
# under $T and listens on 127.0.0.1 only; no system service or system
# configuration file is touched.
#
#   prog_setup                          setup_test + what unprivileged daemons need
#   prog_teardown                       stop everything started here
#   must_server PORT [STAPLE] [TLSV]    native s_server serving `must`, stapling STAPLE
#   server_env [STAPLE] [LEAF]          SERVER_ENV: a daemon's libstaple server role
#   pg_start LEAF [TLSV] [N=V...]       private PostgreSQL with ssl = on; sets PG_PORT
#   pg_stop                             stop it
#   pg_client SSLMODE [NAME=VALUE...]   psql under the preload: ssl TLSv1.x | plain | refused: ...
#   curl_client MODE PORT HOST [TLSV]   insecure | verify: ok | refused: ...
#   py_client MODE PORT HOST [TLSV]     none | default: TLSv1.x | refused: ...
#   sclient_partial PORT HOST [TLSV]    -partial_chain with int as the anchor: ok | refused
#   sclient_plain PORT HOST [TLSV]      no verification at all: ok | refused
#   nginx_proxy_start UPSTREAM VERIFY   nginx proxy_pass to https upstream; sets NGINX_PROXY_PORT
#   nginx_proxy_get                     HTTP status (first line) and body through it
#   smtp_receiver_start [STAPLE] [TLSV] [ANON]  private Postfix smtpd (STARTTLS, must); sets RCV_PORT
#   smtp_sender_start                   private Postfix whose smtp client runs under the preload
#   postfix_send LEVEL                  may | secure: delivered TLSv1.x | delivered plain | deferred: ...
#   postfix_retry                       the next attempt of a deferred message (same printout)
#   mariadb_start LEAF [TLSV] [N=V...]  private mariadbd with TLS; sets MDB_PORT
#   mariadb_stop                        stop it
#   mariadb_client MODE                 none | verify: TLSv1.x | plain | refused: ...
#   log_mark / log_new                  the libstaple log lines since the mark
#   expect WHAT WANT GOT                collect a mismatch (GOT must match glob WANT)
#   expect_log WHAT COUNT PATTERN       collect a mismatch unless COUNT new lines match
#   expect_report                       print every mismatch; fail if there was one
#
# TLSV is TLSv1.2 or TLSv1.3 (empty: whatever the two sides negotiate); a
# TLSV argument followed by NAME=VALUE settings may be "" but not left out.
# The clients get LD_PRELOAD=$CLIENT_PRELOAD, which is $PRELOAD unless set
# (set it empty for a baseline run without libstaple); servers started
# under libstaple's server role (server_env) always get $PRELOAD.
# Clients log libstaple's lines to $LIBSTAPLE_LOG (the test's $T/staple.log);
# servers run under the preload log to $T/server.log, never into the
# clients' log.

# The variables a server must not inherit from the test (it gets only what
# it is given): the clients' preload and log.
PROG_UNSET=(-u LD_PRELOAD -u LIBSTAPLE_CONF -u LIBSTAPLE_DIR -u LIBSTAPLE_LOG
    -u LIBSTAPLE_LOG_LEVEL -u LIBSTAPLE_POLICY)

# The real interpreter behind `python3` (a pyenv shim is a shell script that
# would run under the preload too, and costs 0.3 s a start).
PROG_PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) || PROG_PY=python3

# PostgreSQL's server binaries (Debian: /usr/lib/postgresql/VERSION/bin, the
# newest installed); psql is taken from there too, not the pg_wrapper.
PG_BIN=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)

# ---------------------------------------------------------------- common

# prog_setup: setup_test, plus what daemons running as other users (nginx
# workers as nobody, postgres, Postfix's smtp as postfix) need to reach
# $T: search permission on the directories down to $T, a client log
# ($LIBSTAPLE_LOG, debug level) and a server log anyone may append to, and
# a staple directory $T/server-staples for server_env.
prog_setup() {
    local d
    setup_test
    export LIBSTAPLE_LOG_LEVEL=debug
    d=$T
    while [[ $d == "${BATS_RUN_TMPDIR:-$T}"* && $d != / ]]; do
        chmod o+x "$d"
        d=$(dirname "$d")
    done
    : >"$LIBSTAPLE_LOG"
    : >"$T/server.log"
    chmod 0666 "$LIBSTAPLE_LOG" "$T/server.log"
    chmod 0644 "$LIBSTAPLE_CONF"
    mkdir -p "$T/server-staples"
    chmod 0755 "$T/server-staples"
}

# prog_teardown: stop everything started here: the Postfix instances
# (lib/mail's mail_teardown, which stops every process group mail_track
# remembered, TERM then KILL after 5 s), then what bg started (servers,
# nginx, postgres, mariadbd), waiting for all of it.
prog_teardown() {
    if declare -F mail_teardown >/dev/null; then
        mail_teardown
    else
        kill_bg
    fi
}

# _prog_first_line TEXT: the first non-empty line of TEXT, trimmed.
_prog_first_line() {
    local line
    while IFS= read -r line; do
        line=${line%$'\r'}
        [[ -n ${line// /} ]] && { echo "$line"; return 0; }
    done <<<"$1"
}

# must_server PORT [STAPLE] [TLSV]: `openssl s_server -www` WITHOUT the
# preload on 127.0.0.1:PORT serving the PKI's `must` (Must-Staple) leaf with
# its chain, stapling the DER file STAPLE itself (-status_file; nothing when
# STAPLE is empty), only TLSV when given. Sets BG_PID; output in
# $T/must-PORT.{out,err}.
must_server() {
    local port=$1 staple=${2:-} tlsv=${3:-}
    local -a args=()
    [[ -n $staple ]] && args+=(-status_file "$staple")
    case $tlsv in
        TLSv1.2) args+=(-tls1_2) ;;
        TLSv1.3) args+=(-tls1_3) ;;
        '') ;;
        *) echo "must_server: bad TLS version '$tlsv'" >&2; return 1 ;;
    esac
    bg "must-$port" env "${PROG_UNSET[@]}" openssl s_server -www \
        -accept "127.0.0.1:$port" -cert "$PKI/must.pem" -key "$PKI/must.key" \
        -cert_chain "$PKI/int.pem" "${args[@]}"
    wait_port "$port"
}

# server_env [STAPLE] [LEAF]: SERVER_ENV, the environment that runs a daemon
# under libstaple's server role stapling the DER file STAPLE for LEAF (must
# unless given): STAPLE is copied to $T/server-staples/LEAF.der (world
# readable), the config $T/server.conf points there and logs to
# $T/server.log. Without STAPLE, SERVER_ENV is empty (no preload: the
# server staples nothing).
server_env() {
    local staple=${1:-} leaf=${2:-must}
    SERVER_ENV=()
    rm -f "$T/server-staples/"*
    [[ -n $staple ]] || return 0
    install -m 0644 "$staple" "$T/server-staples/$leaf.der"
    printf 'dir = %s\nlog = %s\nlog_level = debug\nreload_interval = 1\n' \
        "$T/server-staples" "$T/server.log" >"$T/server.conf"
    chmod 0644 "$T/server.conf"
    SERVER_ENV=(LD_PRELOAD="$PRELOAD" LIBSTAPLE_CONF="$T/server.conf")
}

# ---------------------------------------------------------------- PostgreSQL

# pg_start LEAF [TLSV] [NAME=VALUE...]: a private PostgreSQL (the newest in
# /usr/lib/postgresql) in $T/pg, run as the `postgres` user: initdb on the
# first call (superuser role `staple`, trust authentication), then
# postgresql.conf's include file $T/pg/data/staple.conf is written anew:
# listen on 127.0.0.1:PG_PORT (a free port) only, unix socket in
# $T/pg/sock, ssl = on with the PKI's LEAF.full.pem (leaf + int) and
# LEAF.key (copied into the data directory, mode 0600, owned by postgres),
# ssl_min_protocol_version = ssl_max_protocol_version = TLSV when given.
# pg_hba.conf: trust for local, hostssl and host (so a failed TLS handshake
# under sslmode=prefer CAN retry in plaintext: the downgrade shows as
# "plain"). The server's environment is the NAME=VALUE settings only (e.g.
# "${SERVER_ENV[@]}": libstaple's server role; none: no preload). Waits
# until it accepts connections; sets PG_PORT, PG_PID. Returns 1 when it
# does not start (its output: $T/postgres.err).
pg_start() {
    local leaf=$1 tlsv=${2:-} pg=$T/pg
    shift $(($# < 2 ? $# : 2))
    [[ -x $PG_BIN/postgres ]] || { echo "pg_start: no PostgreSQL server" >&2; return 1; }
    if [[ ! -f $pg/data/PG_VERSION ]]; then
        mkdir -p "$pg/sock"
        chown postgres "$pg" "$pg/sock"
        setpriv --reuid=postgres --regid=postgres --clear-groups -- \
            "$PG_BIN/initdb" -D "$pg/data" -U staple --auth=trust -E UTF8 \
            --no-sync --no-instructions >"$T/initdb.out" 2>&1 ||
            { cat "$T/initdb.out" >&2; return 1; }
        echo "include_if_exists = 'staple.conf'" >>"$pg/data/postgresql.conf"
        printf '%s\n' 'local all all trust' \
            'hostssl all all 127.0.0.1/32 trust' \
            'host all all 127.0.0.1/32 trust' >"$pg/data/pg_hba.conf"
    fi
    install -o postgres -m 0600 "$PKI/$leaf.key" "$pg/data/server.key"
    install -o postgres -m 0644 "$PKI/$leaf.full.pem" "$pg/data/server.crt"
    PG_PORT=$(free_port)
    {
        echo "listen_addresses = '127.0.0.1'"
        echo "port = $PG_PORT"
        echo "unix_socket_directories = '$pg/sock'"
        echo "ssl = on"
        echo "ssl_cert_file = 'server.crt'"
        echo "ssl_key_file = 'server.key'"
        if [[ -n $tlsv ]]; then
            echo "ssl_min_protocol_version = '$tlsv'"
            echo "ssl_max_protocol_version = '$tlsv'"
        fi
        echo "fsync = off"
        echo "log_connections = on"
        echo "shared_buffers = 16MB"
    } >"$pg/data/staple.conf"
    chown postgres "$pg/data/staple.conf"
    : >"$T/postgres.err"
    bg postgres env "${PROG_UNSET[@]}" "$@" setpriv --reuid=postgres \
        --regid=postgres --clear-groups -- "$PG_BIN/postgres" -D "$pg/data"
    # shellcheck disable=SC2153 # BG_PID is set by bg (common.bash)
    PG_PID=$BG_PID
    local i
    for ((i = 0; i < 100; i++)); do
        grep -q 'database system is ready to accept connections' "$T/postgres.err" &&
            return 0
        kill -0 "$PG_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$T/postgres.err" >&2
    return 1
}

# pg_stop: stop the server pg_start started (fast shutdown) and wait for it.
pg_stop() {
    [[ -n ${PG_PID:-} ]] || return 0
    kill -INT "$PG_PID" 2>/dev/null || true
    wait "$PG_PID" 2>/dev/null || true
    PG_PID=
}

# pg_client SSLMODE [NAME=VALUE...]: psql under the preload (plus the
# NAME=VALUE settings, e.g. LIBSTAPLE_POLICY=...) to the pg_start server as
# host=must.test hostaddr=127.0.0.1 (SNI and the host name check use
# must.test), gssencmode=disable, sslmode=SSLMODE: prefer, require,
# verify-ca or verify-full (those two with sslrootcert=$PKI/ca.pem). HOME
# is an empty directory and PGSSLROOTCERT is unset, so prefer and require
# find no ~/.postgresql/root.crt and do not verify. Runs `SELECT ssl,
# version FROM pg_stat_ssl WHERE pid = pg_backend_pid()` and prints
#   ssl TLSv1.3 | ssl TLSv1.2   connected with TLS
#   plain                       connected WITHOUT TLS (the downgrade)
#   refused: MESSAGE            psql's error, first line, without "psql: error: "
pg_client() {
    local mode=$1 conn out rc=0
    shift
    conn="host=must.test hostaddr=127.0.0.1 port=$PG_PORT user=staple"
    conn+=" dbname=postgres gssencmode=disable connect_timeout=10 sslmode=$mode"
    [[ $mode == verify-* ]] && conn+=" sslrootcert=$PKI/ca.pem"
    mkdir -p "$T/pg-home"
    out=$(timeout 20 env -u PGSSLROOTCERT -u PGSSLMODE -u PGSSLCERT -u PGSSLKEY \
        -u PGHOST -u PGHOSTADDR -u PGPORT -u PGSERVICE -u PGSERVICEFILE \
        HOME="$T/pg-home" LD_PRELOAD="${CLIENT_PRELOAD-$PRELOAD}" "$@" \
        "$PG_BIN/psql" -X -w -At -c \
        'SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()' \
        "$conn" 2>&1 </dev/null) || rc=$?
    echo "pg_client $mode: rc=$rc: $out" >>"$T/clients.out"
    if ((rc != 0)); then
        out=$(_prog_first_line "$out")
        echo "refused: ${out#psql: error: }"
    elif [[ $out == "t|"* ]]; then
        echo "ssl ${out#t|}"
    elif [[ $out == "f|"* ]]; then
        echo plain
    else
        echo "refused: unexpected output: $(_prog_first_line "$out")"
    fi
}

# ---------------------------------------------------------------- curl

# curl_client MODE PORT HOST [TLSV]: curl under the preload fetching
# https://HOST:PORT/ from 127.0.0.1 (--resolve: SNI and the host name check
# use HOST). MODE insecure: -k and no CA bundle (--cacert /dev/null, which
# curl ignores when not verifying); verify: --cacert $PKI/ca.pem. TLSV pins
# the version (--tlsv1.x --tls-max 1.x). Prints "ok" (exit 0) or
# "refused: exit N: curl's message".
curl_client() {
    local mode=$1 port=$2 host=$3 tlsv=${4:-} out rc=0
    local -a args=(-sS -o /dev/null --max-time 10 --resolve "$host:$port:127.0.0.1")
    case $mode in
        insecure) args+=(-k --cacert /dev/null) ;;
        verify) args+=(--cacert "$PKI/ca.pem") ;;
        *) echo "curl_client: bad mode '$mode'" >&2; return 1 ;;
    esac
    [[ -n $tlsv ]] && args+=("--tlsv${tlsv#TLSv}" --tls-max "${tlsv#TLSv}")
    out=$(timeout 20 env LD_PRELOAD="${CLIENT_PRELOAD-$PRELOAD}" curl "${args[@]}" \
        "https://$host:$port/" 2>&1) || rc=$?
    echo "curl_client $mode $tlsv: rc=$rc: $out" >>"$T/clients.out"
    if ((rc == 0)); then
        echo ok
    else
        echo "refused: exit $rc: $(_prog_first_line "$out")"
    fi
}

# ---------------------------------------------------------------- Python

# py_client MODE PORT HOST [TLSV]: Python's ssl module under the preload,
# a TLS connection to 127.0.0.1:PORT with server_hostname HOST. MODE none:
# SSLContext(PROTOCOL_TLS_CLIENT) with check_hostname False and
# verify_mode CERT_NONE (no CA loaded); default:
# create_default_context(cafile=$PKI/ca.pem). TLSV pins minimum_version =
# maximum_version. Prints the negotiated version (TLSv1.3, TLSv1.2) or
# "refused: EXCEPTION: MESSAGE".
py_client() {
    local mode=$1 port=$2 host=$3 tlsv=${4:-} out
    out=$(timeout 20 env LD_PRELOAD="${CLIENT_PRELOAD-$PRELOAD}" "$PROG_PY" -I -S -c '
import socket, ssl, sys
mode, port, host, cafile, tlsv = sys.argv[1:6]
if mode == "none":
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
elif mode == "default":
    ctx = ssl.create_default_context(cafile=cafile)
else:
    sys.exit("py_client: bad mode " + mode)
if tlsv:
    ctx.minimum_version = ctx.maximum_version = getattr(
        ssl.TLSVersion, tlsv.replace(".", "_"))
try:
    with socket.create_connection(("127.0.0.1", int(port)), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as s:
            print(s.version())
except Exception as exc:
    print("refused: %s: %s" % (type(exc).__name__, exc))
' "$mode" "$port" "$host" "$PKI/ca.pem" "$tlsv" 2>&1)
    echo "py_client $mode $tlsv: $out" >>"$T/clients.out"
    _prog_first_line "$out"
}

# ---------------------------------------------------------------- s_client

# _sclient PORT HOST TLSV ARGS...: openssl s_client under the preload, no
# input; prints ok (exit 0: the handshake succeeded) or refused. s_client
# prints a "New, " line even after a failed handshake: only its exit status
# counts.
_sclient() {
    local port=$1 host=$2 tlsv=$3 rc=0
    local -a v=()
    shift 3
    case $tlsv in
        TLSv1.2) v=(-tls1_2) ;;
        TLSv1.3) v=(-tls1_3) ;;
    esac
    timeout 20 env LD_PRELOAD="${CLIENT_PRELOAD-$PRELOAD}" openssl s_client \
        -connect "127.0.0.1:$port" -servername "$host" "${v[@]}" "$@" \
        </dev/null >"$T/sclient.out" 2>&1 || rc=$?
    echo "s_client $* $tlsv: rc=$rc: $(grep -E '^Verify return code|error' "$T/sclient.out" | tr '\n' ' ')" \
        >>"$T/clients.out"
    if ((rc == 0)); then echo ok; else echo refused; fi
}

# sclient_partial PORT HOST [TLSV]: s_client -verify_return_error
# -partial_chain -CAfile $PKI/int.pem (the intermediate is the only trust
# anchor: not the root, no default store), i.e. a client that does
# authenticate the server. Prints ok or refused; s_client's output in
# $T/sclient.out.
sclient_partial() {
    _sclient "$1" "$2" "${3:-}" -verify_return_error -partial_chain \
        -CAfile "$PKI/int.pem" -no-CApath -no-CAstore
}

# sclient_plain PORT HOST [TLSV]: s_client without -verify or
# -verify_return_error (and no trust anchors), which does NOT authenticate
# the server. Prints ok or refused.
sclient_plain() {
    _sclient "$1" "$2" "${3:-}" -no-CAfile -no-CApath -no-CAstore
}

# ---------------------------------------------------------------- nginx

# nginx_proxy_start UPSTREAM_PORT VERIFY: nginx under the preload (master +
# 1 worker, the worker as nobody) listening plain HTTP on 127.0.0.1:
# NGINX_PROXY_PORT (a free port), `location / { proxy_pass
# https://127.0.0.1:UPSTREAM_PORT; proxy_ssl_server_name on; proxy_ssl_name
# must.test; proxy_ssl_protocols TLSv1.2 TLSv1.3; }` (nginx 1.22's default
# stops at TLS 1.2); VERIFY off: nothing more (nginx's default, no
# verification); on: proxy_ssl_verify on and proxy_ssl_trusted_certificate
# $PKI/ca.pem. Its files in $T/nginx-proxy-PORT; sets NGINX_PROXY_PORT.
nginx_proxy_start() {
    local up=$1 verify=$2 dir verify_lines='' d
    NGINX_PROXY_PORT=$(free_port)
    dir=$T/nginx-proxy-$NGINX_PROXY_PORT
    case $verify in
        off) ;;
        on) verify_lines="proxy_ssl_verify on; proxy_ssl_trusted_certificate $PKI/ca.pem;" ;;
        *) echo "nginx_proxy_start: VERIFY is on or off, not '$verify'" >&2; return 1 ;;
    esac
    mkdir -p "$dir/tmp"
    {
        printf 'daemon off;\nmaster_process on;\nworker_processes 1;\n'
        printf 'pid %s/nginx.pid;\nerror_log %s/error.log info;\n' "$dir" "$dir"
        printf 'events { worker_connections 64; }\nhttp {\n    access_log off;\n'
        for d in client_body proxy fastcgi uwsgi scgi; do
            printf '    %s_temp_path %s/tmp;\n' "$d" "$dir"
        done
        printf '    server {\n        listen 127.0.0.1:%s;\n' "$NGINX_PROXY_PORT"
        printf '        location / {\n'
        printf '            proxy_pass https://127.0.0.1:%s;\n' "$up"
        printf '            proxy_ssl_server_name on;\n'
        printf '            proxy_ssl_name must.test;\n'
        printf '            proxy_ssl_protocols TLSv1.2 TLSv1.3;\n'
        [[ -n $verify_lines ]] && printf '            %s\n' "$verify_lines"
        printf '        }\n    }\n}\n'
    } >"$dir/nginx.conf"
    bg "nginx-proxy-$NGINX_PROXY_PORT" env LD_PRELOAD="${CLIENT_PRELOAD-$PRELOAD}" nginx -p "$dir" \
        -c "$dir/nginx.conf" -e "$dir/error.log"
    wait_port "$NGINX_PROXY_PORT"
}

# nginx_proxy_get: plain curl (no preload) to the nginx_proxy_start proxy;
# prints the HTTP status code on the first line (200: the upstream
# handshake succeeded, 502: it failed; 000: no answer), then the body.
nginx_proxy_get() {
    local code
    code=$(curl -sS --max-time 15 -o "$T/proxy.body" -w '%{http_code}' \
        "http://127.0.0.1:$NGINX_PROXY_PORT/" 2>>"$T/clients.out") || true
    echo "nginx_proxy_get: $code; error.log: $(grep -E 'SSL|upstream' \
        "$T/nginx-proxy-$NGINX_PROXY_PORT/error.log" | tail -n 1)" >>"$T/clients.out"
    echo "${code:-000}"
    cat "$T/proxy.body" 2>/dev/null
}

# ---------------------------------------------------------------- Postfix

# smtp_receiver_start [STAPLE] [TLSV] [ANON]: the receiving end, a real
# STARTTLS SMTP server: the private Postfix of lib/mail (postfix_config,
# $T/postfix) whose smtpd on 127.0.0.1:RCV_PORT (a free port) presents the
# PKI's `must` certificate only (no ECDSA one), accepts mail from
# 127.0.0.0/8 for any domain and discards it (default_transport = discard),
# logs its TLS sessions (smtpd_tls_loglevel 1) to $T/postfix/maillog, and
# speaks only TLSV when given. It offers no anonymous cipher suites
# (smtpd_tls_exclude_ciphers = aNULL), so that TLS 1.2 too shows the
# certificate, unless ANON is "anon": then Postfix's defaults stand, under
# which a Postfix "may" client and this server agree on an anonymous
# (certificate-less) suite in TLS 1.2. With STAPLE, it runs under
# libstaple's server role (server_env) and staples that file; without, no
# preload, no staple. Sets RCV_PORT, PF, PF_PID.
smtp_receiver_start() {
    local staple=${1:-} tlsv=${2:-} anon=${3:-} protocols='>=TLSv1.2'
    [[ -n $tlsv ]] && protocols=">=$tlsv, <=$tlsv"
    RCV_PORT=$(free_port)
    postfix_config "$RCV_PORT" "$(free_port)" \
        "smtpd_tls_cert_file = $PKI/must.full.pem" \
        "smtpd_tls_key_file = $PKI/must.key" \
        "smtpd_tls_protocols = $protocols" \
        "smtpd_tls_loglevel = 1" \
        "mynetworks = 127.0.0.0/8" \
        "default_transport = discard" \
        "smtpd_tls_received_header = yes" || return 1
    postfix_main_drop smtpd_tls_eccert_file
    postfix_main_drop smtpd_tls_eckey_file
    [[ $anon == anon ]] || echo "smtpd_tls_exclude_ciphers = aNULL" >>"$PF/etc/main.cf"
    server_env "$staple"
    postfix_start "$RCV_PORT" "${SERVER_ENV[@]}"
}

# smtp_sender_start: the sending end, a second private Postfix in
# $T/postfix-out (no listener: mail is injected with its sendmail) whose
# smtp client runs under the preload, passed on by import_environment =
# (the default list) LD_PRELOAD=$CLIENT_PRELOAD LIBSTAPLE_CONF=$LIBSTAPLE_CONF;
# $LIBSTAPLE_CONF is rewritten to say log = $LIBSTAPLE_LOG, log_level =
# $LIBSTAPLE_LOG_LEVEL and policy = $LIBSTAPLE_POLICY (those set), since
# Postfix passes on no other variable. Two
# transports to [127.0.0.1]:RCV_PORT, both sending SNI must.test
# (smtp_tls_servername) and logging TLS (smtp_tls_loglevel 1):
#   smtp-may     smtp_tls_security_level = may (opportunistic), no CAfile
#   smtp-secure  smtp_tls_security_level = secure, smtp_tls_CAfile =
#                $PKI/ca.pem, smtp_tls_secure_cert_match = must.test
# chosen by the recipient's domain (may.test, secure.test). The smtp
# processes run without chroot: libstaple opens its log file by name for
# each line, which a chroot would hide. Sets PFO, PFO_PID.
smtp_sender_start() {
    local dist=/usr/share/postfix/master.cf.dist preload=${CLIENT_PRELOAD-$PRELOAD}
    preload=${preload// /:}
    PFO=$T/postfix-out
    mkdir -p "$PFO/etc" "$PFO/queue" "$PFO/data"
    chown postfix "$PFO/data"
    [[ -f $dist ]] || dist=/etc/postfix/master.cf
    {
        printf 'log = %s\n' "$LIBSTAPLE_LOG"
        [[ -n ${LIBSTAPLE_LOG_LEVEL:-} ]] && printf 'log_level = %s\n' "$LIBSTAPLE_LOG_LEVEL"
        [[ -n ${LIBSTAPLE_POLICY:-} ]] && printf 'policy = %s\n' "$LIBSTAPLE_POLICY"
    } >"$LIBSTAPLE_CONF"
    cat >"$PFO/etc/main.cf" <<EOF
# private sending instance (tests/lib/programs.bash)
compatibility_level = 3.6
queue_directory = $PFO/queue
data_directory = $PFO/data
myhostname = client.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
alias_maps =
alias_database =
maillog_file = $PFO/maillog
maillog_file_prefixes = $PFO
smtp_host_lookup = native
minimal_backoff_time = 1s
maximal_backoff_time = 1s
queue_run_delay = 3600s
smtp_tls_loglevel = 1
smtp_tls_servername = must.test
smtp_tls_security_level = may
transport_maps = inline:{may.test=smtp-may:[127.0.0.1]:$RCV_PORT, secure.test=smtp-secure:[127.0.0.1]:$RCV_PORT}
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ XAUTHORITY DISPLAY LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME LD_PRELOAD=$preload LIBSTAPLE_CONF=$LIBSTAPLE_CONF $(mail_sanitizer_env)
EOF
    {
        grep -Ev '^smtp[[:space:]]+inet[[:space:]]' "$dist"
        cat <<EOF
# ---- tests/lib/programs.bash
smtp-may unix - - n - - smtp
  -o syslog_name=postfix/smtp-may
  -o smtp_tls_security_level=may
smtp-secure unix - - n - - smtp
  -o syslog_name=postfix/smtp-secure
  -o smtp_tls_security_level=secure
  -o smtp_tls_CAfile=$PKI/ca.pem
  -o smtp_tls_secure_cert_match=must.test
EOF
    } >"$PFO/etc/master.cf"
    if ! env "${MAIL_UNSET[@]}" postfix -c "$PFO/etc" start >"$T/postfix-out.out" 2>&1; then
        cat "$T/postfix-out.out" "$PFO/maillog" >&2
        return 1
    fi
    PFO_PID=$(tr -d ' \n' <"$PFO/queue/pid/master.pid")
    mail_track "$PFO_PID"
}

# postfix_send LEVEL: inject one message for a new recipient in LEVEL.test
# (may or secure) into the smtp_sender_start instance, wait (up to 30 s)
# for the smtp client's verdict in its maillog, and print
#   delivered TLSv1.x   status=sent, after "TLS connection established"
#   delivered plain     status=sent without TLS (an opportunistic fallback)
#   deferred: REASON    status=deferred (or bounced), with Postfix's reason
#   timeout             nothing logged
# A deferred message is not retried by itself (queue_run_delay = 1 h):
# only postfix_retry does.
postfix_send() {
    local rcpt="r$RANDOM$RANDOM@$1.test"
    echo "$rcpt" >"$PFO/last-rcpt"
    printf 'Subject: libstaple %s\n\ntest\n' "$1" |
        env "${MAIL_UNSET[@]}" sendmail -C "$PFO/etc" -f sender@client.test "$rcpt" ||
        { echo "deferred: sendmail failed"; return 0; }
    _postfix_outcome "$rcpt" 1
}

# postfix_retry: the next delivery attempt of postfix_send's last message,
# after it was deferred: waits out minimal_backoff_time (1 s here; 300 s by
# default), has it delivered now (postqueue -i QUEUEID) and prints that
# attempt's outcome as postfix_send does. This is where Postfix's "may"
# level falls back to plaintext after a failed TLS handshake: it does on
# any attempt of a message that has waited minimal_backoff_time.
postfix_retry() {
    local rcpt qid
    rcpt=$(cat "$PFO/last-rcpt") || return 1
    qid=$(grep -F "to=<$rcpt>" "$PFO/maillog" | grep -oE ' [0-9A-F]{6,}: to=' |
        head -n 1 | cut -d: -f1 | tr -d ' ')
    sleep 1.5
    env "${MAIL_UNSET[@]}" postqueue -c "$PFO/etc" -i "$qid"
    _postfix_outcome "$rcpt" 2
}

# _postfix_outcome RCPT N: the outcome of the Nth delivery attempt to RCPT.
_postfix_outcome() {
    local rcpt=$1 n=$2 i line pid status reason tls
    for ((i = 0; i < 300; i++)); do
        line=$(grep -F "to=<$rcpt>" "$PFO/maillog" 2>/dev/null | grep -E 'status=' |
            sed -n "${n}p")
        [[ -n $line ]] && break
        sleep 0.1
    done
    echo "postfix attempt $n for $rcpt: ${line:-(nothing)}" >>"$T/clients.out"
    if [[ -z $line ]]; then
        echo timeout
        return 0
    fi
    [[ $line =~ \[([0-9]+)\]: ]] && pid=${BASH_REMATCH[1]}
    [[ $line =~ status=([a-z]+)\ \((.*)\)$ ]] && status=${BASH_REMATCH[1]} reason=${BASH_REMATCH[2]}
    if [[ $status == sent ]]; then
        # The TLS session this delivery used: that smtp process's
        # "established" line after its previous delivery (a process makes
        # many), if any.
        tls=$(awk -v tag="[$pid]:" -v rcpt="to=<$rcpt>" -v n="$n" '
            index($0, tag) == 0 { next }
            /TLS connection established to/ {
                for (i = 1; i < NF; i++) if ($i ~ /^TLSv/) { tls = $i; break } }
            /SSL_connect error/ { tls = "" }
            / status=/ {
                if (index($0, rcpt) && ++seen == n) { print tls; exit }
                tls = "" }' "$PFO/maillog")
        echo "delivered ${tls:-plain}"
    else
        echo "deferred: $reason"
    fi
}

# ---------------------------------------------------------------- MariaDB

# mariadb_start LEAF [TLSV] [NAME=VALUE...]: a private mariadbd in $T/mdb
# (datadir made by mariadb-install-db on the first call, run as the `mysql`
# user) on 127.0.0.1:MDB_PORT (a free port), socket in $T/mdb, with
# ssl_cert = the PKI's LEAF.full.pem, ssl_key = LEAF.key (copied, 0600,
# owned by mysql), tls_version = TLSV (TLS 1.2 and 1.3 when empty). A user
# staple@127.0.0.1 without password. Its environment is the NAME=VALUE
# settings only (e.g. "${SERVER_ENV[@]}"; none: no preload, no staple).
# Sets MDB_PORT, MDB_PID.
mariadb_start() {
    local leaf=$1 tlsv=${2:-TLSv1.2,TLSv1.3} mdb=$T/mdb i
    shift $(($# < 2 ? $# : 2))
    command -v mariadbd >/dev/null || { echo "mariadb_start: no mariadbd" >&2; return 1; }
    mkdir -p "$mdb"
    chown mysql "$mdb"
    install -o mysql -m 0600 "$PKI/$leaf.key" "$mdb/server.key"
    install -o mysql -m 0644 "$PKI/$leaf.full.pem" "$mdb/server.crt"
    MDB_PORT=$(free_port)
    cat >"$mdb/my.cnf" <<EOF
[mariadbd]
datadir = $mdb/data
socket = $mdb/mysqld.sock
pid-file = $mdb/mysqld.pid
port = $MDB_PORT
bind-address = 127.0.0.1
skip-name-resolve
log-error = $mdb/error.log
ssl_cert = $mdb/server.crt
ssl_key = $mdb/server.key
tls_version = $tlsv
innodb_buffer_pool_size = 16M
innodb_log_file_size = 4M
skip-log-bin
EOF
    chmod 0644 "$mdb/my.cnf"
    if [[ ! -d $mdb/data/mysql ]]; then
        mariadb-install-db --defaults-file="$mdb/my.cnf" --user=mysql \
            --auth-root-authentication-method=normal --skip-test-db \
            >"$T/mariadb-install.out" 2>&1 || { cat "$T/mariadb-install.out" >&2; return 1; }
        printf '%s\n' "CREATE USER 'staple'@'127.0.0.1';" \
            "GRANT ALL ON *.* TO 'staple'@'127.0.0.1';" >"$mdb/init.sql"
        chmod 0644 "$mdb/init.sql"
        echo "init-file = $mdb/init.sql" >>"$mdb/my.cnf"
    fi
    : >"$mdb/error.log"
    chown mysql "$mdb/error.log"
    bg mariadbd env "${PROG_UNSET[@]}" "$@" mariadbd --defaults-file="$mdb/my.cnf" --user=mysql
    MDB_PID=$BG_PID
    for ((i = 0; i < 150; i++)); do
        grep -q 'ready for connections' "$mdb/error.log" && return 0
        kill -0 "$MDB_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$mdb/error.log" >&2
    return 1
}

# mariadb_stop: stop the mariadb_start server and wait for it.
mariadb_stop() {
    [[ -n ${MDB_PID:-} ]] || return 0
    kill -TERM "$MDB_PID" 2>/dev/null || true
    wait "$MDB_PID" 2>/dev/null || true
    MDB_PID=
}

# mariadb_client MODE: the mariadb command-line client under the preload to
# 127.0.0.1:MDB_PORT as staple, running SHOW STATUS LIKE 'Ssl_version'.
# MODE none: --ssl --disable-ssl-verify-server-cert, no CA (TLS, no
# authentication); verify: --ssl-ca=$PKI/ca.pem --ssl-verify-server-cert
# (the name checked is 127.0.0.1, in the leaf's SAN). Prints the version
# (TLSv1.3, TLSv1.2), "plain" (no TLS) or "refused: MESSAGE".
mariadb_client() {
    local mode=$1 out rc=0
    local -a args=(--no-defaults -h 127.0.0.1 -P "$MDB_PORT" -u staple
        --connect-timeout=10 -N -B -e "SHOW STATUS LIKE 'Ssl_version'")
    case $mode in
        none) args+=(--ssl --disable-ssl-verify-server-cert) ;;
        verify) args+=(--ssl --ssl-ca="$PKI/ca.pem" --ssl-verify-server-cert) ;;
        *) echo "mariadb_client: bad mode '$mode'" >&2; return 1 ;;
    esac
    out=$(timeout 20 env LD_PRELOAD="${CLIENT_PRELOAD-$PRELOAD}" mariadb "${args[@]}" 2>&1 </dev/null) || rc=$?
    echo "mariadb_client $mode: rc=$rc: $out" >>"$T/clients.out"
    if ((rc != 0)); then
        echo "refused: $(_prog_first_line "$out")"
    elif [[ $out =~ Ssl_version[[:space:]]+(TLSv[0-9.]+) ]]; then
        echo "${BASH_REMATCH[1]}"
    else
        echo plain
    fi
}

# ---------------------------------------------------------------- checking

# log_mark: remember how many lines $LIBSTAPLE_LOG has now (LOG_MARK).
log_mark() {
    LOG_MARK=$(wc -l <"$LIBSTAPLE_LOG" 2>/dev/null || echo 0)
}

# log_new: the $LIBSTAPLE_LOG lines after log_mark's.
log_new() {
    tail -n "+$((LOG_MARK + 1))" "$LIBSTAPLE_LOG" 2>/dev/null
}

# expect WHAT WANT GOT: when GOT does not match the glob WANT, add
# "WHAT: expected WANT, got GOT | log: ..." (with log_new) to MISMATCHES.
expect() {
    # shellcheck disable=SC2053 # WANT is a glob on purpose
    [[ $3 == $2 ]] && return 0
    MISMATCHES+=("$1: expected '$2', got '$3' | log: $(log_new | tr '\n' '~')")
}

# expect_log WHAT COUNT PATTERN: add a mismatch to MISMATCHES unless exactly
# COUNT of the log_new lines match the grep -E PATTERN.
expect_log() {
    local n
    n=$(log_new | grep -cE -- "$3" || true)
    ((n == $2)) && return 0
    MISMATCHES+=("$1: expected $2 log line(s) matching '$3', found $n | log: $(log_new | tr '\n' '~')")
}

# expect_report: print every collected mismatch on stderr (and how many);
# fail when there was one.
expect_report() {
    local m
    ((${#MISMATCHES[@]} == 0)) && return 0
    for m in "${MISMATCHES[@]}"; do
        echo "MISMATCH $m" >&2
    done
    echo "${#MISMATCHES[@]} mismatch(es)" >&2
    return 1
}
