#!/usr/bin/env bats
# Client role, the matrix: servers that staple natively (run WITHOUT the
# preload) x staple cases x policies x clients under the preload (curl,
# Python urllib, openssl s_client, none asking for a staple themselves).
#
# Every (server, certificate, case) gets one server, probed first with a
# plain `openssl s_client -status` (no preload) to see what it really
# staples; the expected verdict follows from that:
#   nothing stapled                        -> missing
#   the case's file, as it is              -> the case's verdict
#     (none: missing; good, delegated: good; revoked: revoked; rogue, nosign,
#      badsig, expired, future, unknown, other, garbage: invalid)
# and the expected outcome from the policy (see matrix_expect). Then every
# policy x client runs against it; a test collects all mismatches and prints
# them together at the end.
#
# What the native servers deliver (probed with OpenSSL 3.0, GnuTLS 3.7.9,
# nginx 1.22; the same for `rsa` and `must`):
#
#   case       s_server -status_file   gnutls-serv (*)       nginx ssl_stapling_file
#   none       nothing                 nothing               nothing
#   good       the file                the file              the file
#   delegated  the file                the file              the file
#   revoked    the file                the file              the file
#   rogue      the file                the file              the file
#   nosign     the file                the file              the file
#   badsig     the file                the file              the file
#   expired    the file                the file              the file
#   future     the file                the file              the file
#   unknown    the file                the file              the file
#   other      the file                the file              the file
#   garbage    HANDSHAKE FAILS         the bytes             DOES NOT START
#
# (*) with --ignore-ocsp-response-errors; without it gnutls-serv refuses to
#     start on revoked, expired, other and garbage (checked below).
# nginx 1.22 enables TLS 1.2 at most by default, so its rows test the TLS 1.2
# CertificateStatus message; s_server and gnutls-serv negotiate TLS 1.3.
#
# Not deliverable, so skipped, and checked (the probe must show exactly this
# state, and every other combination must be delivered):
#   s_server garbage: s_server cannot parse its status file and answers
#       every ClientHello with status_request by an internal_error alert, so
#       even a plain client's handshake fails.
#   nginx garbage: d2i_OCSP_RESPONSE_bio() fails on the file, nginx stops
#       with [emerg] at start-up.
# shellcheck disable=SC2034 # the MATRIX_* variables are read by lib/matrix.bash
MATRIX_UNDELIVERABLE=(
    "s_server garbage handshake-failed"
    "nginx garbage no-start"
)

load lib/common
load lib/matrix
# Under `make check-asan`, curl hangs in setlocale with libasan preloaded
# (without libstaple too); python and s_client carry the matrix there.
[[ -z $PRELOAD_BASE ]] || MATRIX_CLIENTS=(python s_client)

setup_file() {
    pki_shared
    export MATRIX_RESP=$BATS_FILE_TMPDIR/resp
    matrix_responses "$MATRIX_RESP" rsa must
}

setup() {
    setup_test
    # matrix_run gives each client its own $T/client-CLIENT.log; this one is
    # for the clients run by hand.
    export LIBSTAPLE_LOG=$T/client.log
}

teardown() {
    kill_bg
}

@test "matrix: s_server -status_file, rsa (no Must-Staple)" {
    matrix_run s_server rsa
}

@test "matrix: s_server -status_file, must (Must-Staple)" {
    matrix_run s_server must
}

@test "matrix: gnutls-serv --ocsp-response, rsa (no Must-Staple)" {
    MATRIX_SERVER_ARGS=(--ignore-ocsp-response-errors)
    matrix_run gnutls-serv rsa
}

@test "matrix: gnutls-serv --ocsp-response, must (Must-Staple)" {
    MATRIX_SERVER_ARGS=(--ignore-ocsp-response-errors)
    matrix_run gnutls-serv must
}

@test "matrix: nginx ssl_stapling_file, rsa (no Must-Staple)" {
    matrix_run nginx rsa
}

@test "matrix: nginx ssl_stapling_file, must (Must-Staple)" {
    matrix_run nginx must
}

@test "gnutls-serv without --ignore-ocsp-response-errors refuses revoked, expired, other, garbage" {
    local case port
    for case in "${MATRIX_CASES[@]}"; do
        [[ $case == none ]] && continue
        port=$(free_port)
        if matrix_start gnutls-serv rsa "$MATRIX_RESP/rsa-$case.der" "$port"; then
            [[ ! $case =~ ^(revoked|expired|other|garbage)$ ]] ||
                { echo "gnutls-serv started with $case" >&2; return 1; }
        else
            [[ $case =~ ^(revoked|expired|other|garbage)$ ]] ||
                { echo "gnutls-serv refused $case" >&2; return 1; }
        fi
        kill_bg
    done
}

@test "the matrix can fail: without the preload, curl accepts missing and revoked staples" {
    # A Must-Staple server that staples nothing, and one stapling "revoked":
    # plain curl (no --cert-status) takes both.
    local port
    MATRIX_PRELOAD=''
    port=$(free_port)
    matrix_start s_server must "" "$port"
    [ "$(matrix_probe "$port" must.test)" = none ]
    run matrix_client curl must-staple must.test "$port"
    [ "$status" -eq 0 ]
    kill_bg
    port=$(free_port)
    matrix_start s_server must "$MATRIX_RESP/must-revoked.der" "$port"
    [ "$(matrix_probe "$port" must.test)" = "$(serial must) revoked" ]
    run matrix_client curl soft must.test "$port"
    [ "$status" -eq 0 ]
    kill_bg
    # The same through the matrix: it reports both as mismatches.
    MATRIX_CASES=(none revoked) MATRIX_POLICIES=(must-staple)
    MATRIX_CLIENTS=(curl)
    run matrix_run s_server must
    [ "$status" -eq 1 ]
    [[ $output == *"MISMATCH server=s_server cert=must case=none policy=must-staple client=curl verdict=missing expected=reject got=accept"* ]]
    [[ $output == *"MISMATCH server=s_server cert=must case=revoked policy=must-staple client=curl verdict=revoked expected=reject got=accept"* ]]
}
