#!/usr/bin/env bats
# Client role in real programs (curl, Python, openssl s_client, nginx
# proxy_pass, psql, Postfix smtp, MariaDB) under the preload, each against a
# Must-Staple server (`must`) on 127.0.0.1, in TLS 1.3 and TLS 1.2.
#
# The rule: libstaple enforces its policy only when the program itself
# authenticated the server. A program that did not (curl -k, Python
# CERT_NONE, psql sslmode=prefer/require without a root certificate, nginx
# with proxy_ssl_verify off, Postfix smtp at "may", s_client without
# -verify) gets its staple checked and logged, but never a failed handshake
# because of it: refusing there protects nothing (the program would talk to
# anyone) and does harm (psql prefer and Postfix may then go on WITHOUT TLS).
#
#   client            staple   outcome      log line
#   unauthenticated   good     connects     "accepted ... [Must-Staple]: good" (debug)
#   unauthenticated   none     connects     one warn "not enforced: ... missing: no staple"
#   unauthenticated   revoked  connects     no "rejected" line
#   authenticated     good     connects     "accepted ... [Must-Staple]: good"
#   authenticated     none     refused      "rejected ... [Must-Staple]: missing: no staple"
#   authenticated     revoked  refused      "rejected ... [Must-Staple]: revoked"
#
# "Authenticated" includes s_client -partial_chain with the intermediate as
# its only trust anchor: the staple is judged against the anchors the
# program verified the server with.
#
# Servers: openssl s_server WITHOUT the preload stapling a file itself
# (-status_file) for the HTTPS clients; PostgreSQL, Postfix smtpd and
# mariadbd staple through libstaple's server role (server_env) and, for
# "none", run without the preload. Each test runs every case and reports
# all mismatches together at the end.

load lib/common
load lib/mail
load lib/programs

# Under `make check-asan`, curl, psql and postgres hang in setlocale with
# libasan preloaded (without libstaple too): they are left out there.
ASAN=${PRELOAD_BASE:+yes}

# need COMMAND PACKAGE: skip (fail under CI) when COMMAND is missing.
need() {
    command -v "$1" >/dev/null && return 0
    [[ -z ${CI:-} ]] || { echo "$1 missing (Debian package $2)" >&2; return 1; }
    skip "needs $1 (Debian package $2)"
}

setup_file() {
    pki_shared
    export STAPLES=$BATS_FILE_TMPDIR/staples
    mkdir -p "$STAPLES"
    pki_ocsp "$PKI" must good issuer now "$STAPLES/good.der"
    pki_ocsp "$PKI" must revoked issuer now "$STAPLES/revoked.der"
}

setup() {
    prog_setup
    MISMATCHES=()
}

teardown() {
    prog_teardown
}

# staple_file CASE: the staple file for good or revoked; "" for none.
staple_file() {
    [[ $1 == none ]] || echo "$STAPLES/$1.der"
}

# check WHAT WANT GOT KIND CASE [HOST]: one client run's outcome GOT against
# the glob WANT, and the log lines it added (since log_mark) against the
# table above; KIND auth or unauth, CASE good, none or revoked; HOST is the
# SNI name in the log lines (must.test).
check() {
    local what=$1 want=$2 got=$3 kind=$4 case=$5 host=${6:-must.test}
    local subj='/CN=must\.test \[Must-Staple\]'
    # shellcheck disable=SC2001 # three characters to escape
    host=$(sed 's/[.()]/\\&/g' <<<"$host")
    expect "$what" "$want" "$got"
    case $kind-$case in
        *-good)
            expect_log "$what" 1 "$host: accepted $subj: good"
            expect_log "$what" 0 rejected
            ;;
        unauth-none)
            expect_log "$what" 1 "warn: $host: not enforced: $subj: missing: no staple \(policy must-staple"
            expect_log "$what" 0 rejected
            ;;
        unauth-revoked)
            expect_log "$what" 0 rejected
            ;;
        auth-none)
            expect_log "$what" 1 "$host: rejected $subj: missing: no staple \(policy must-staple\)"
            ;;
        auth-revoked)
            expect_log "$what" 1 "$host: rejected $subj: revoked"
            ;;
    esac
}

# ---------------------------------------------------------------- HTTPS

# https_clients TLSV: curl, Python and s_client against an s_server that
# staples good, nothing, revoked.
https_clients() {
    local tlsv=$1 case port curl_want py_want sc_want
    for case in good none revoked; do
        port=$(free_port)
        must_server "$port" "$(staple_file "$case")" "$tlsv"
        # what the authenticating clients get
        curl_want='refused:*' py_want='refused:*' sc_want=refused
        [[ $case == good ]] && curl_want=ok py_want=$tlsv sc_want=ok

        if [[ -z $ASAN ]]; then
            log_mark
            check "curl -k, staple $case" ok "$(curl_client insecure "$port" must.test)" \
                unauth "$case"
            log_mark
            check "curl --cacert, staple $case" "$curl_want" \
                "$(curl_client verify "$port" must.test)" auth "$case"
        fi
        log_mark
        check "python CERT_NONE, staple $case" "$tlsv" \
            "$(py_client none "$port" must.test)" unauth "$case"
        log_mark
        check "python create_default_context, staple $case" "$py_want" \
            "$(py_client default "$port" must.test)" auth "$case"
        log_mark
        check "s_client (no -verify), staple $case" ok \
            "$(sclient_plain "$port" must.test)" unauth "$case"
        log_mark
        check "s_client -partial_chain -CAfile int.pem, staple $case" "$sc_want" \
            "$(sclient_partial "$port" must.test)" auth "$case"
        kill_bg
    done
}

@test "curl, python, s_client, TLS 1.3: unauthenticated never refused; authenticated enforced" {
    https_clients TLSv1.3
    expect_report
}

@test "curl, python, s_client, TLS 1.2: unauthenticated never refused; authenticated enforced" {
    https_clients TLSv1.2
    expect_report
}

# ---------------------------------------------------------------- nginx

# nginx_clients TLSV: nginx proxy_pass with proxy_ssl_verify off and on to
# an s_server that staples good, nothing, revoked. nginx verifies under
# SSL_VERIFY_NONE and judges the result after the handshake, which libssl
# cannot tell from a program that goes on regardless (Postfix's may level):
# libstaple never fails it, in both settings, and says so in the log.
nginx_clients() {
    local tlsv=$1 case port out verify
    for case in good none revoked; do
        port=$(free_port)
        must_server "$port" "$(staple_file "$case")" "$tlsv"
        for verify in off on; do
            nginx_proxy_start "$port" "$verify"
            log_mark
            out=$(nginx_proxy_get)
            check "nginx proxy_ssl_verify $verify, staple $case" 200 \
                "${out%%$'\n'*}" unauth "$case"
            [[ $case != revoked ]] || expect_log \
                "nginx proxy_ssl_verify $verify, staple revoked" 1 \
                "warn: must\.test: not enforced: /CN=must\.test \[Must-Staple\]: revoked \(policy must-staple; the program does not verify the server\)"
        done
        kill_bg
    done
}

@test "nginx proxy_pass, TLS 1.3: never a 502 for a staple, verify off or on (not enforced)" {
    need nginx nginx-light
    nginx_clients TLSv1.3
    expect_report
}

@test "nginx proxy_pass, TLS 1.2: never a 502 for a staple, verify off or on (not enforced)" {
    need nginx nginx-light
    nginx_clients TLSv1.2
    expect_report
}

# nginx_opt_in TLSV: the same nginx with `verifies = after-handshake` in
# [program nginx]: proxy_ssl_verify on is then enforced (a 502 for a revoked
# or missing staple on the Must-Staple upstream, a 200 for a good one); with
# proxy_ssl_verify off its chain does not verify (no trusted certificates),
# so nothing is enforced there still.
nginx_opt_in() {
    local tlsv=$1 case port out want
    printf '[program nginx]\nverifies = after-handshake\n' >"$LIBSTAPLE_CONF"
    for case in good none revoked; do
        port=$(free_port)
        must_server "$port" "$(staple_file "$case")" "$tlsv"
        want=502
        [[ $case != good ]] || want=200
        nginx_proxy_start "$port" on
        log_mark
        out=$(nginx_proxy_get)
        check "nginx verifies = after-handshake, proxy_ssl_verify on, staple $case" \
            "$want" "${out%%$'\n'*}" auth "$case"
        nginx_proxy_start "$port" off
        log_mark
        out=$(nginx_proxy_get)
        check "nginx verifies = after-handshake, proxy_ssl_verify off, staple $case" \
            200 "${out%%$'\n'*}" unauth "$case"
        kill_bg
    done
}

@test "nginx proxy_pass, TLS 1.3, verifies = after-handshake: proxy_ssl_verify on is enforced (502), off is not" {
    need nginx nginx-light
    nginx_opt_in TLSv1.3
    expect_report
}

@test "nginx proxy_pass, TLS 1.2, verifies = after-handshake: proxy_ssl_verify on is enforced (502), off is not" {
    need nginx nginx-light
    nginx_opt_in TLSv1.2
    expect_report
}

# ---------------------------------------------------------------- psql

# psql_clients TLSV: psql sslmode=prefer, require and verify-full against a
# private PostgreSQL stapling good (server role), nothing (no preload),
# revoked (server role).
psql_clients() {
    local tlsv=$1 case mode want
    for case in good none revoked; do
        server_env "$(staple_file "$case")"
        pg_start must "$tlsv" "${SERVER_ENV[@]}"
        for mode in prefer require; do
            log_mark
            # never "plain": that would be the downgrade
            check "psql sslmode=$mode, staple $case" "ssl $tlsv" "$(pg_client "$mode")" \
                unauth "$case"
        done
        want='refused:*'
        [[ $case == good ]] && want="ssl $tlsv"
        log_mark
        check "psql sslmode=verify-full, staple $case" "$want" "$(pg_client verify-full)" \
            auth "$case"
        pg_stop
    done
}

@test "psql, TLS 1.3: prefer and require connect with TLS (no plaintext downgrade); verify-full enforced" {
    [[ -x $PG_BIN/postgres ]] || need postgres postgresql
    [[ -z $ASAN ]] || skip "psql and postgres hang in setlocale with libasan preloaded"
    psql_clients TLSv1.3
    expect_report
}

@test "psql, TLS 1.2: prefer and require connect with TLS (no plaintext downgrade); verify-full enforced" {
    [[ -x $PG_BIN/postgres ]] || need postgres postgresql
    [[ -z $ASAN ]] || skip "psql and postgres hang in setlocale with libasan preloaded"
    psql_clients TLSv1.2
    expect_report
}

# ---------------------------------------------------------------- Postfix

# postfix_clients TLSV: Postfix smtp at "may" and "secure" delivering to a
# private smtpd stapling good (server role) or nothing (no preload). A
# deferred "secure" message stays deferred on its next attempt (no
# plaintext fallback at that level).
postfix_clients() {
    local tlsv=$1 case want
    for case in good none; do
        smtp_receiver_start "$(staple_file "$case")" "$tlsv"
        smtp_sender_start
        log_mark
        check "postfix smtp may, staple $case" "delivered $tlsv" "$(postfix_send may)" \
            unauth "$case"
        want='deferred:*'
        [[ $case == good ]] && want="delivered $tlsv"
        log_mark
        check "postfix smtp secure, staple $case" "$want" "$(postfix_send secure)" \
            auth "$case"
        if [[ $case == none ]]; then
            log_mark
            check "postfix smtp secure, staple none, next attempt" "deferred:*" \
                "$(postfix_retry)" auth none
        fi
        prog_teardown
        rm -rf "$T/postfix" "$T/postfix-out"
    done
}

@test "postfix smtp, TLS 1.3: may delivers with TLS whatever the staple; secure enforced" {
    need postfix postfix
    postfix_clients TLSv1.3
    expect_report
}

@test "postfix smtp, TLS 1.2: may delivers with TLS whatever the staple; secure enforced" {
    need postfix postfix
    postfix_clients TLSv1.2
    expect_report
}

@test "postfix smtp may, TLS 1.2, anonymous cipher (Postfix's defaults): delivered, nothing rejected" {
    # No certificate at all: nothing to check, nothing to enforce.
    need postfix postfix
    smtp_receiver_start "" TLSv1.2 anon
    smtp_sender_start
    log_mark
    expect "postfix smtp may, aNULL" "delivered TLSv1.2" "$(postfix_send may)"
    expect_log "postfix smtp may, aNULL" 0 rejected
    expect_report
}

# ---------------------------------------------------------------- MariaDB

# mariadb_clients TLSV: the mariadb client without and with server
# certificate verification against a private mariadbd stapling good
# (server role), nothing (no preload), revoked (server role). The client
# sends no SNI: the log lines name "(no SNI)".
mariadb_clients() {
    local tlsv=$1 case want
    for case in good none revoked; do
        server_env "$(staple_file "$case")"
        mariadb_start must "$tlsv" "${SERVER_ENV[@]}"
        log_mark
        check "mariadb --ssl (no verification), staple $case" "$tlsv" \
            "$(mariadb_client none)" unauth "$case" "(no SNI)"
        want='refused:*'
        [[ $case == good ]] && want=$tlsv
        log_mark
        check "mariadb --ssl-verify-server-cert, staple $case" "$want" \
            "$(mariadb_client verify)" auth "$case" "(no SNI)"
        mariadb_stop
    done
}

@test "mariadb, TLS 1.3: unverified connects; --ssl-verify-server-cert enforced" {
    need mariadbd mariadb-server
    mariadb_clients TLSv1.3
    expect_report
}

@test "mariadb, TLS 1.2: unverified connects; --ssl-verify-server-cert enforced" {
    need mariadbd mariadb-server
    mariadb_clients TLSv1.2
    expect_report
}

# ---------------------------------------------------------------- baseline

@test "without the preload every program connects with TLS (the harness itself)" {
    local tlsv port out
    export CLIENT_PRELOAD=
    for tlsv in TLSv1.3 TLSv1.2; do
        port=$(free_port)
        must_server "$port" "" "$tlsv"
        expect "curl -k $tlsv" ok "$(curl_client insecure "$port" must.test)"
        expect "curl --cacert $tlsv" ok "$(curl_client verify "$port" must.test)"
        expect "python none $tlsv" "$tlsv" "$(py_client none "$port" must.test)"
        expect "python default $tlsv" "$tlsv" "$(py_client default "$port" must.test)"
        expect "s_client $tlsv" ok "$(sclient_plain "$port" must.test)"
        expect "s_client -partial_chain $tlsv" ok "$(sclient_partial "$port" must.test)"
        if command -v nginx >/dev/null; then
            for v in off on; do
                nginx_proxy_start "$port" "$v"
                out=$(nginx_proxy_get)
                expect "nginx verify $v $tlsv" 200 "${out%%$'\n'*}"
                [[ $out == *"s_server -www"* ]] || MISMATCHES+=("nginx verify $v $tlsv: not s_server's page")
            done
        fi
        if [[ -x $PG_BIN/postgres ]]; then
            pg_start must "$tlsv"
            for mode in prefer require verify-full; do
                expect "psql $mode $tlsv" "ssl $tlsv" "$(pg_client "$mode")"
            done
            pg_stop
        fi
        if command -v mariadbd >/dev/null; then
            mariadb_start must "$tlsv"
            expect "mariadb none $tlsv" "$tlsv" "$(mariadb_client none)"
            expect "mariadb verify $tlsv" "$tlsv" "$(mariadb_client verify)"
            mariadb_stop
        fi
        if command -v postfix >/dev/null; then
            smtp_receiver_start "" "$tlsv"
            smtp_sender_start
            expect "postfix may $tlsv" "delivered $tlsv" "$(postfix_send may)"
            expect "postfix secure $tlsv" "delivered $tlsv" "$(postfix_send secure)"
            prog_teardown
            rm -rf "$T/postfix" "$T/postfix-out"
        fi
        kill_bg
    done
    # and none of them loaded libstaple
    [[ ! -s $LIBSTAPLE_LOG ]] || MISMATCHES+=("libstaple logged: $(tr '\n' '~' <"$LIBSTAPLE_LOG")")
    expect_report
}
