# shellcheck shell=bash
# mail.bash - private Dovecot and Postfix instances for tests/mail.bats, set
# up from the files in examples/dovecot and examples/postfix with only the
# paths and ports of the test filled in. Everything lives under $T, listens
# on 127.0.0.1 only, and runs in its own process group, which teardown
# (mail_teardown) signals as a whole. Load after lib/common.

EXAMPLES=$TOP/examples

# The variables a daemon must get only through the example's own mechanism
# (drop-in, import_environment, config file), never from the test's setup.
MAIL_UNSET=(-u LD_PRELOAD -u LIBSTAPLE_CONF -u LIBSTAPLE_DIR -u LIBSTAPLE_LOG
    -u LIBSTAPLE_LOG_LEVEL -u LIBSTAPLE_POLICY)

# mail_setup: a test's scratch directory, staples in $T/staples and a
# libstaple config file $T/libstaple.conf pointing there, that the
# unprivileged daemon users can reach.
mail_setup() {
    local d
    setup_test
    cat >"$LIBSTAPLE_CONF" <<EOF
dir = $T/staples
log = $T/staple.log
reload_interval = 1
EOF
    : >"$T/staple.log"
    chmod 0666 "$T/staple.log"
    # dovenull reads the staples and writes the log: let it through the
    # bats run directory (mode 0700) to $T.
    d=$T
    while [[ $d == "${BATS_RUN_TMPDIR:-$T}"* && $d != / ]]; do
        chmod o+x "$d"
        d=$(dirname "$d")
    done
}

# mail_path PATH: the test's stand-in for a path an example names.
mail_path() {
    case $1 in
        /etc/libstaple.conf) echo "$T/libstaple.conf" ;;
        /var/lib/libstaple) echo "$T/staples" ;;
        /run/dovecot/*) echo "$T/dovecot/run/${1#/run/dovecot/}" ;;
        /libstaple) echo "$1" ;; # as seen from inside Dovecot's login chroot
        /etc/ssl/mail/fullchain.pem) echo "$PKI/rsa.full.pem" ;;
        /etc/ssl/mail/privkey.pem) echo "$PKI/rsa.key" ;;
        /*) echo "unmapped path in an example: $1" >&2; return 1 ;;
        *) echo "$1" ;;
    esac
}

# mail_unit_env DROPIN: the Environment= settings of a systemd drop-in as
# NAME=VALUE lines, LD_PRELOAD being this build, paths mapped by mail_path.
mail_unit_env() {
    local kv name value
    sed -n 's/^Environment=//p' "$1" | while IFS= read -r kv; do
        name=${kv%%=*}
        value=${kv#*=}
        if [[ $name == LD_PRELOAD ]]; then
            value=$PRELOAD
        else
            value=$(mail_path "$value") || return 1
        fi
        printf '%s=%s\n' "$name" "$value"
    done
}

# mail_envs DROPIN: ENVS, the array of mail_unit_env's lines; fails when a
# setting could not be mapped.
mail_envs() {
    mapfile -t ENVS < <(mail_unit_env "$1")
    [[ ${#ENVS[@]} -eq $(grep -c '^Environment=' "$1") ]]
}

# mail_bind_mounts DROPIN: the BindReadOnlyPaths= of a drop-in as
# "SOURCE TARGET" lines, mapped by mail_path.
mail_bind_mounts() {
    local spec src dst
    # shellcheck disable=SC2013 # one line may hold several SOURCE:TARGET words
    for spec in $(sed -n 's/^BindReadOnlyPaths=//p' "$1"); do
        src=$(mail_path "${spec%%:*}") && dst=$(mail_path "${spec#*:}") || return 1
        echo "$src $dst"
    done
}

# mail_sanitizer_env: under `make check-asan` the sanitizer settings have to
# pass the daemons' environment cleaning too.
mail_sanitizer_env() {
    [[ -n $PRELOAD_BASE ]] && echo "ASAN_OPTIONS UBSAN_OPTIONS"
    return 0
}

# mail_track PGID: remember a process group for mail_teardown.
mail_track() {
    echo "$1" >>"$T/pgids"
}

# mail_teardown: stop every process group started by this test (TERM, then
# KILL after 5 s), then whatever bg started.
mail_teardown() {
    local pg i
    if [[ -f $T/pgids ]]; then
        while read -r pg; do
            kill -TERM -- "-$pg" 2>/dev/null || true
        done <"$T/pgids"
        while read -r pg; do
            for ((i = 0; i < 50; i++)); do
                pgrep -g "$pg" >/dev/null || break
                sleep 0.1
            done
            kill -KILL -- "-$pg" 2>/dev/null || true
        done <"$T/pgids"
        rm -f "$T/pgids"
    fi
    kill_bg
}

# mail_stop_group PGID: stop one process group now and wait until it is gone.
mail_stop_group() {
    local i
    kill -TERM -- "-$1" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        pgrep -g "$1" >/dev/null || return 0
        sleep 0.1
    done
    kill -KILL -- "-$1" 2>/dev/null || true
}

# children PID NAME: the PIDs of PID's children whose command is NAME.
children() {
    pgrep -P "$1" -x "$2" || true
}

# preloaded PID: "yes" or "no", whether libstaple is mapped into process
# PID; fails when there is no such process.
preloaded() {
    local maps
    maps=$(cat "/proc/$1/maps") && [[ -n $maps ]] || return 1
    if grep -qF "$(basename "$LIBSTAPLE")" <<<"$maps"; then echo yes; else echo no; fi
}

# ---------------------------------------------------------------- Dovecot

# dovecot_config PORT [SNIPPET]: $T/dovecot/dovecot.conf, an IMAPS-only
# private instance on 127.0.0.1:PORT serving rsa (and vhost and ecdsa for
# the SNI names vhost.test and ecdsa.test), laid out like Debian's (conf.d/*.conf included at the
# end); SNIPPET, an example conf.d file, is installed as
# conf.d/99-libstaple.conf. Sets DV.
dovecot_config() {
    local port=$1 snippet=${2:-} extra
    DV=$T/dovecot
    mkdir -p "$DV/conf.d"
    cat >"$DV/dovecot.conf" <<EOF
# private test instance (tests/lib/mail.bash)
instance_name = dovecot-test-$port
base_dir = $DV/run
state_dir = $DV/state
log_path = $DV/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <$PKI/rsa.full.pem
ssl_key = <$PKI/rsa.key
local_name vhost.test {
  ssl_cert = <$PKI/vhost.full.pem
  ssl_key = <$PKI/vhost.key
}
local_name ecdsa.test {
  ssl_cert = <$PKI/ecdsa.full.pem
  ssl_key = <$PKI/ecdsa.key
}
default_login_user = dovenull
default_internal_user = dovecot
mail_location = maildir:$DV/mail/%u
passdb {
  driver = static
  args = password=$(openssl rand -hex 16)
}
userdb {
  driver = static
  args = uid=dovecot gid=dovecot home=$DV/home/%u
}
service imap-login {
  process_min_avail = 1
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $port
  }
}
!include_try conf.d/*.conf
EOF
    if [[ -n $snippet ]]; then
        cp "$snippet" "$DV/conf.d/99-libstaple.conf"
    fi
    extra=$(mail_sanitizer_env)
    if [[ -n $extra ]]; then
        # and AddressSanitizer's shadow memory does not fit in vsz_limit
        # shellcheck disable=SC2016 # $import_environment is Dovecot's
        printf 'import_environment = $import_environment %s\ndefault_vsz_limit = 0\n' \
            "$extra" >"$DV/conf.d/99-zz-sanitizer.conf"
    fi
    doveconf -c "$DV/dovecot.conf" -n >"$DV/doveconf.out" 2>&1 || {
        cat "$DV/doveconf.out" >&2
        return 1
    }
}

# dovecot_start PORT [NAME=VALUE...]: start the instance of dovecot_config
# in the foreground in its own session, with only the given libstaple
# variables. Sets DV_PID.
dovecot_start() {
    local port=$1
    shift
    bg dovecot env "${MAIL_UNSET[@]}" "$@" setsid dovecot -F -c "$DV/dovecot.conf"
    DV_PID=$BG_PID
    mail_track "$DV_PID"
    wait_port "$port"
}

# dovecot_start_bound PORT DROPIN [NAME=VALUE...]: dovecot_start in a mount
# namespace of its own in which the drop-in's BindReadOnlyPaths= are
# mounted, as systemd does for the service.
dovecot_start_bound() {
    local port=$1 dropin=$2 script='set -e' src dst
    shift 2
    while read -r src dst; do
        mkdir -p "$dst"
        script+="; mount --bind '$src' '$dst'; mount -o remount,bind,ro '$dst'"
    done < <(mail_bind_mounts "$dropin")
    script+="; exec dovecot -F -c '$DV/dovecot.conf'"
    bg dovecot env "${MAIL_UNSET[@]}" "$@" setsid unshare -m sh -c "$script"
    DV_PID=$BG_PID
    mail_track "$DV_PID"
    wait_port "$port"
}

# dovecot_stop: stop the instance and wait for all of it.
dovecot_stop() {
    mail_stop_group "$DV_PID"
    wait "$DV_PID" 2>/dev/null || true
}

# imap_login_pid: the spare imap-login process (process_min_avail = 1).
imap_login_pid() {
    local i pid
    for ((i = 0; i < 50; i++)); do
        pid=$(children "$DV_PID" imap-login | head -n 1)
        [[ -n $pid ]] && { echo "$pid"; return 0; }
        sleep 0.1
    done
    return 1
}

# imap_greeting PORT [s_client ARGS...]: the server's greeting over TLS.
# When its auth process is slow to answer (a cold start), imap-login first
# sends a provisional "* OK Waiting for authentication ..." line and then
# the greeting; the provisional line is skipped.
imap_greeting() {
    local port=$1
    shift
    printf 'a1 LOGOUT\r\n' | timeout 10 openssl s_client -quiet \
        -connect "127.0.0.1:$port" -CAfile "$PKI/ca.pem" -verify_return_error \
        "$@" 2>/dev/null | tr -d '\r' |
        grep -v -m 1 '^\* OK Waiting for authentication'
}

# ---------------------------------------------------------------- Postfix

# postfix_config PORT SPORT [MAIN.CF LINES...]: a private instance in
# $T/postfix: main.cf is a base (paths, 127.0.0.1 only, an ECDSA certificate
# beside the RSA one) followed by examples/postfix/main.cf, then the given
# lines (the last setting of a parameter wins); master.cf is Debian's with
# its smtp line replaced by the example's smtp and submission services, on
# 127.0.0.1:PORT and 127.0.0.1:SPORT. Sets PF.
postfix_config() {
    local port=$1 sport=$2 dist line
    shift 2
    PF=$T/postfix
    mkdir -p "$PF/etc" "$PF/queue" "$PF/data"
    chown postfix "$PF/data"
    {
        cat <<EOF
# private test instance (tests/lib/mail.bash)
compatibility_level = 3.6
queue_directory = $PF/queue
data_directory = $PF/data
myhostname = mail.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
smtpd_peername_lookup = no
alias_maps =
alias_database =
maillog_file = $PF/maillog
maillog_file_prefixes = $PF
smtpd_tls_eccert_file = $PKI/ecdsa.full.pem
smtpd_tls_eckey_file = $PKI/ecdsa.key
EOF
        echo "# ---- examples/postfix/main.cf"
        while IFS= read -r line; do
            if [[ $line =~ ^(smtpd_tls_cert_file|smtpd_tls_key_file)\ =\ (.*)$ ]]; then
                line="${BASH_REMATCH[1]} = $(mail_path "${BASH_REMATCH[2]}")" || return 1
            elif [[ $line == import_environment\ =* ]]; then
                line+=" $(mail_sanitizer_env)"
            fi
            echo "$line"
        done <"$EXAMPLES/postfix/main.cf"
        echo "# ---- this test"
        printf '%s\n' "$@"
    } >"$PF/etc/main.cf"
    dist=/usr/share/postfix/master.cf.dist
    [[ -f $dist ]] || dist=/etc/postfix/master.cf
    {
        grep -Ev '^smtp[[:space:]]+inet[[:space:]]' "$dist"
        echo "# ---- examples/postfix/master.cf"
        sed -e '/^#/d' -e "s/^smtp /127.0.0.1:$port /" \
            -e "s/^submission /127.0.0.1:$sport /" "$EXAMPLES/postfix/master.cf"
    } >"$PF/etc/master.cf"
}

# postfix_main_drop PARAM: remove PARAM's line(s) from the instance's main.cf.
postfix_main_drop() {
    sed -i "/^$1 =/d" "$PF/etc/main.cf"
}

# postfix_chroot_smtpd y|n: set the chroot column of the smtpd services.
postfix_chroot_smtpd() {
    awk -v c="$1" '$1 ~ /^127\.0\.0\.1:/ && $2 == "inet" { $5 = c } { print }' \
        "$PF/etc/master.cf" >"$PF/etc/master.cf.new" &&
        mv "$PF/etc/master.cf.new" "$PF/etc/master.cf"
}

# postfix_start PORT [NAME=VALUE...]: `postfix start` for the instance with
# only the given libstaple variables in its environment. Sets PF_PID (the
# master, leader of the instance's process group).
postfix_start() {
    local port=$1
    shift
    if ! env "${MAIL_UNSET[@]}" "$@" postfix -c "$PF/etc" start >"$T/postfix.out" 2>&1; then
        cat "$T/postfix.out" "$PF/maillog" >&2
        return 1
    fi
    PF_PID=$(tr -d ' \n' <"$PF/queue/pid/master.pid")
    mail_track "$PF_PID"
    wait_port "$port"
}

# postfix_stop: stop the instance and wait for all of it.
postfix_stop() {
    mail_stop_group "$PF_PID"
}

# smtpd_pid PORT: the smtpd that serves 127.0.0.1:PORT (after a connection).
smtpd_pid() {
    local pid
    for pid in $(children "$PF_PID" smtpd); do
        if tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "-n 127.0.0.1:$1 "; then
            echo "$pid"
            return 0
        fi
    done
    return 1
}

# smtp_session PORT [s_client ARGS...]: EHLO and QUIT after STARTTLS; what
# the server said.
smtp_session() {
    local port=$1
    shift
    printf 'EHLO client.test\r\nQUIT\r\n' | timeout 10 openssl s_client -quiet \
        -starttls smtp -connect "127.0.0.1:$port" -CAfile "$PKI/ca.pem" \
        -verify_return_error "$@" 2>/dev/null | tr -d '\r'
}
