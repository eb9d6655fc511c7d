# shellcheck shell=bash
# matrix.bash - the client-role matrix: servers that staple natively (no
# preload) x staple cases x policies x clients under the preload.
#
# Needs common.bash (PKI, T, PRELOAD, bg/kill_bg, free_port) loaded first.
#
#   matrix_responses DIR LEAF...      DIR/LEAF-CASE.der for every case
#   matrix_case_verdict CASE          the verdict the case's staple earns
#   matrix_expect POLICY MUST VERDICT accept | reject
#   matrix_start SERVER LEAF FILE PORT  start a native server; 1 if it exits
#   matrix_probe PORT HOST            what the server staples (plain s_client)
#   matrix_fingerprint FILE           what matrix_probe shows when FILE is sent
#   matrix_client CLIENT POLICY HOST PORT   one client run under the preload
#   matrix_run SERVER LEAF            the whole matrix for one server and leaf
#
# matrix_run reads:
#   MATRIX_RESP           directory made by matrix_responses
#   MATRIX_UNDELIVERABLE  "SERVER CASE STATE" entries (STATE no-start or
#                         handshake-failed): combinations the server cannot
#                         deliver; the probe must show exactly that state
#   MATRIX_CASES, MATRIX_POLICIES, MATRIX_CLIENTS   what to loop over
#   MATRIX_PRELOAD        LD_PRELOAD for the clients (default $PRELOAD)
#   MATRIX_SERVER_ARGS    extra arguments for the server (array, optional)
# and leaves every mismatch in MATRIX_MISMATCHES (also printed on stderr).
# Each client logs to its own $T/client-CLIENT.log, so the clients run side
# by side and each one's new log lines are its own.

MATRIX_CASES=(none good delegated revoked rogue nosign badsig expired future
    unknown other garbage)
MATRIX_POLICIES=(off request soft must-staple require)
MATRIX_CLIENTS=(curl python s_client)

# The real interpreter behind `python3` (a pyenv shim costs 0.3 s a start);
# the client runs it with -I -S (no site: 60 ms less, and only the standard
# library is needed).
MATRIX_PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) ||
    MATRIX_PY=python3

# matrix_make_case DIR LEAF CASE: write DIR/LEAF-CASE.der (nothing for none).
matrix_make_case() {
    local dir=$1 leaf=$2 case=$3 out=$1/$2-$3.der
    case $case in
        none)      return 0 ;;
        good)      pki_ocsp "$PKI" "$leaf" good issuer now "$out" ;;
        delegated) pki_ocsp "$PKI" "$leaf" good responder now "$out" ;;
        revoked)   pki_ocsp "$PKI" "$leaf" revoked issuer now "$out" ;;
        rogue)     pki_ocsp "$PKI" "$leaf" good rogue now "$out" ;;
        nosign)    pki_ocsp "$PKI" "$leaf" good nosign now "$out" ;;
        badsig)    pki_ocsp "$PKI" "$leaf" badsig issuer now "$out" ;;
        expired)   pki_ocsp "$PKI" "$leaf" good issuer expired "$out" ;;
        future)    pki_ocsp "$PKI" "$leaf" good issuer future "$out" ;;
        unknown)   pki_ocsp "$PKI" "$leaf" unknown issuer now "$out" ;;
        other)     pki_ocsp "$PKI" vhost good issuer now "$out" ;;
        garbage)   pki_garbage "$out" ;;
        *) echo "matrix: unknown case '$case'" >&2; return 1 ;;
    esac
}

# matrix_responses DIR LEAF...: every case's response for every LEAF.
matrix_responses() {
    local dir=$1 leaf case
    shift
    mkdir -p "$dir" || return 1
    for leaf in "$@"; do
        for case in "${MATRIX_CASES[@]}"; do
            matrix_make_case "$dir" "$leaf" "$case" || return 1
        done
    done
}

# matrix_case_verdict CASE: good | revoked | missing | invalid.
matrix_case_verdict() {
    case $1 in
        none) echo missing ;;
        good | delegated) echo good ;;
        revoked) echo revoked ;;
        *) echo invalid ;;
    esac
}

# matrix_is_must LEAF: true if LEAF carries the TLS Feature (Must-Staple).
matrix_is_must() {
    [[ $1 == must || $1 == mustec ]]
}

# matrix_expect POLICY MUST(yes|no) VERDICT: accept | reject, per the policy
# table: off, request never reject; soft rejects revoked; must-staple rejects
# revoked, and missing or invalid on a Must-Staple certificate; require
# rejects all but good.
matrix_expect() {
    local policy=$1 must=$2 verdict=$3 reject=no
    case $policy in
        off | request) ;;
        soft) [[ $verdict == revoked ]] && reject=yes ;;
        must-staple)
            [[ $verdict == revoked ]] && reject=yes
            [[ $must == yes && $verdict =~ ^(missing|invalid)$ ]] && reject=yes
            ;;
        require) [[ $verdict != good ]] && reject=yes ;;
        *) echo "matrix: unknown policy '$policy'" >&2; return 1 ;;
    esac
    if [[ $reject == yes ]]; then echo reject; else echo accept; fi
}

# matrix_wait PORT PID: wait up to 10 s until PORT accepts (0), or until PID
# is gone, i.e. the server refused to start (1).
matrix_wait() {
    local port=$1 pid=$2 i
    for ((i = 0; i < 100; i++)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    echo "matrix: nothing listens on port $port after 10 s" >&2
    return 1
}

# matrix_nginx_conf DIR LEAF FILE PORT: an nginx.conf in DIR serving LEAF on
# PORT with ssl_stapling_file FILE (no stapling when FILE is empty).
matrix_nginx_conf() {
    local dir=$1 leaf=$2 file=$3 port=$4 stapling=''
    [[ -n $file ]] && stapling="ssl_stapling on; ssl_stapling_file $file;"
    mkdir -p "$dir/tmp" || return 1
    cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $dir/tmp;
    proxy_temp_path $dir/tmp;
    fastcgi_temp_path $dir/tmp;
    uwsgi_temp_path $dir/tmp;
    scgi_temp_path $dir/tmp;
    server {
        listen 127.0.0.1:$port ssl;
        server_name $leaf.test;
        ssl_certificate $PKI/$leaf.full.pem;
        ssl_certificate_key $PKI/$leaf.key;
        $stapling
        return 200 "ok\n";
    }
}
EOF
}

# matrix_start SERVER LEAF FILE PORT [ARGS...]: start SERVER (s_server,
# gnutls-serv, nginx) WITHOUT the preload, serving LEAF and stapling FILE
# with its own stapling (none when FILE is empty); extra ARGS go to the
# server's command line. 0 when it listens, 1 when it exited instead (its
# output in $T/SERVER.err, nginx's in $T/nginx-PORT/error.log).
matrix_start() {
    local server=$1 leaf=$2 file=$3 port=$4
    local -a status=()
    shift 4
    case $server in
        s_server)
            [[ -n $file ]] && status=(-status_file "$file")
            bg s_server openssl s_server -www -accept "127.0.0.1:$port" \
                -cert "$PKI/$leaf.pem" -key "$PKI/$leaf.key" \
                -cert_chain "$PKI/int.pem" "${status[@]}" "$@"
            ;;
        gnutls-serv)
            # gnutls-serv cannot bind one address: it listens on all of them.
            [[ -n $file ]] && status=(--ocsp-response "$file")
            bg gnutls-serv gnutls-serv --http -p "$port" \
                --x509certfile "$PKI/$leaf.full.pem" \
                --x509keyfile "$PKI/$leaf.key" "${status[@]}" "$@"
            ;;
        nginx)
            matrix_nginx_conf "$T/nginx-$port" "$leaf" "$file" "$port" || return 1
            bg nginx nginx -p "$T/nginx-$port" -c "$T/nginx-$port/nginx.conf" \
                -e "$T/nginx-$port/error.log" "$@"
            ;;
        *) echo "matrix: unknown server '$server'" >&2; return 1 ;;
    esac
    matrix_wait "$port" "$BG_PID"
}

# _matrix_statuses: read s_client -status or openssl ocsp -resp_text output
# on stdin, print "SERIAL STATUS" per SingleResponse, joined by ", " (the
# format of common.bash's `staple`).
_matrix_statuses() {
    awk '/OCSP Response Data:/ { in_resp = 1 }
         /^Certificate chain|^---|^Certificate:/ { in_resp = 0 }
         in_resp && /Serial Number: [0-9A-F]+$/ { serial = $3 }
         in_resp && /Cert Status:/ { all = all sep serial " " $3; sep = ", " }
         END { print all }'
}

# matrix_probe PORT HOST: what the server staples to a plain client (no
# preload): "SERIAL STATUS[, ...]", "none", "unparseable" (bytes that are no
# OCSP response: s_client's own status callback then fails the handshake) or
# "handshake failed". Unlike `staple`, it goes by s_client's exit status:
# a failed handshake still prints a "New, " line.
matrix_probe() {
    local port=$1 host=$2 out rc=0
    out=$(timeout 10 openssl s_client -connect "127.0.0.1:$port" \
        -servername "$host" -status -CAfile "$PKI/ca.pem" \
        -verify_return_error </dev/null 2>&1) || rc=$?
    if grep -q 'OCSP response: response parse error' <<<"$out"; then
        echo unparseable
    elif ((rc != 0)); then
        echo "handshake failed"
    elif grep -q 'OCSP response: no response sent' <<<"$out"; then
        echo none
    else
        _matrix_statuses <<<"$out"
    fi
}

# matrix_fingerprint FILE: what matrix_probe shows when a server staples
# FILE as it is: "SERIAL STATUS[, ...]", or "unparseable".
matrix_fingerprint() {
    local out
    if ! out=$(openssl ocsp -respin "$1" -resp_text -noverify 2>&1); then
        echo unparseable
        return 0
    fi
    _matrix_statuses <<<"$out"
}

# matrix_client CLIENT POLICY HOST PORT: run CLIENT (curl, python, s_client)
# under the preload with LIBSTAPLE_POLICY=POLICY against HOST:PORT on
# 127.0.0.1, logging to LIBSTAPLE_LOG. Returns its exit status (124: timed
# out); output in $T/client-CLIENT.out.
matrix_client() {
    local client=$1 policy=$2 host=$3 port=$4
    local -a run=(timeout 10 env LD_PRELOAD="${MATRIX_PRELOAD-$PRELOAD}"
        LIBSTAPLE_POLICY="$policy")
    case $client in
        curl)
            "${run[@]}" curl -sS --cacert "$PKI/ca.pem" \
                --resolve "$host:$port:127.0.0.1" "https://$host:$port/" ;;
        python)
            "${run[@]}" "$MATRIX_PY" -I -S "$TOP/tests/lib/tls_client.py" \
                "https://$host:$port/" "$PKI/ca.pem" "$host:$port:127.0.0.1" ;;
        s_client)
            "${run[@]}" openssl s_client -connect "127.0.0.1:$port" \
                -servername "$host" -CAfile "$PKI/ca.pem" -verify_return_error ;;
        *) echo "matrix: unknown client '$client'" >&2; return 2 ;;
    esac >"$T/client-$client.out" 2>&1 </dev/null
}

# matrix_logged_verdict TEXT: the verdict in the first libstaple client log
# line of TEXT ("...: HOST: accepted|rejected SUBJECT[ [Must-Staple]]:
# VERDICT[: why] (policy P)"), or nothing.
matrix_logged_verdict() {
    local line
    while IFS= read -r line; do
        [[ $line =~ :\ (accepted|rejected)\  ]] || continue
        [[ $line =~ :\ (good|revoked|missing|invalid)(:\ |\ \(policy\ ) ]] &&
            echo "${BASH_REMATCH[1]}"
        return 0
    done <<<"$1"
}

# _matrix_table SERVER CASE: the state MATRIX_UNDELIVERABLE gives, or "".
_matrix_table() {
    local entry
    for entry in "${MATRIX_UNDELIVERABLE[@]}"; do
        if [[ ${entry% *} == "$1 $2" ]]; then
            echo "${entry##* }"
            return 0
        fi
    done
}

# _matrix_one SERVER LEAF CASE VERDICT POLICY CLIENT PORT: one client run,
# checked against the expected outcome and the log (the lines it adds to
# LIBSTAPLE_LOG, which only this client writes to). Prints its mismatches.
# Builtins where it is cheap: it runs a thousand times.
_matrix_one() {
    local server=$1 leaf=$2 case=$3 verdict=$4 policy=$5 client=$6 port=$7
    local host=$2.test must=no expected got rc before new flat logged IFS=$'\n'
    local what="server=$server cert=$leaf case=$case policy=$policy client=$client"
    local -a log
    matrix_is_must "$leaf" && must=yes
    expected=$(matrix_expect "$policy" "$must" "$verdict")
    mapfile -t log <"$LIBSTAPLE_LOG"
    before=${#log[@]}
    rc=0
    matrix_client "$client" "$policy" "$host" "$port" || rc=$?
    mapfile -t log <"$LIBSTAPLE_LOG"
    new="${log[*]:before}"
    flat=${new//$'\n'/ ~ }
    case $rc in
        0) got=accept ;;
        124) got=timeout ;;
        *) got=reject ;;
    esac
    if [[ $got != "$expected" ]]; then
        echo "MISMATCH $what verdict=$verdict expected=$expected got=$got" \
            "| log: ${flat:-(nothing)}" \
            "| client: $(tail -n 2 "$T/client-$client.out" | tr '\n' ' ')"
        return 0
    fi
    if [[ $got == reject && $new != *rejected* ]]; then
        echo "MISMATCH $what expected=reject got=reject but no 'rejected'" \
            "log line | log: ${flat:-(nothing)}"
    elif [[ $got == accept && $new == *rejected* ]]; then
        echo "MISMATCH $what expected=accept got=accept but a 'rejected'" \
            "log line | log: $flat"
    elif [[ $got == accept && $client != s_client && ! -s $T/client-$client.out ]]; then
        echo "MISMATCH $what expected=accept got=accept but no body"
    fi
    # Every checked handshake logs its verdict (LIBSTAPLE_LOG_LEVEL=debug).
    if [[ $policy != off ]]; then
        logged=$(matrix_logged_verdict "$new")
        if [[ $logged != "$verdict" ]]; then
            echo "MISMATCH $what verdict expected=$verdict" \
                "logged=${logged:-(none)} | log: ${flat:-(nothing)}"
        fi
    elif [[ $new == *accepted* || $new == *rejected* ]]; then
        echo "MISMATCH $what policy off but checked | log: $flat"
    fi
}

# _matrix_stream SERVER LEAF CASE VERDICT PORT CLIENT: every policy in turn
# for one client, with its own log $T/client-CLIENT.log; prints mismatches
# and one "RUNS n" line.
_matrix_stream() {
    local server=$1 leaf=$2 case=$3 verdict=$4 port=$5 client=$6 policy n=0
    export LIBSTAPLE_LOG=$T/client-$client.log
    touch "$LIBSTAPLE_LOG" || return 1
    for policy in "${MATRIX_POLICIES[@]}"; do
        _matrix_one "$server" "$leaf" "$case" "$verdict" "$policy" \
            "$client" "$port"
        n=$((n + 1))
    done
    echo "RUNS $n"
}

# matrix_run SERVER LEAF: every case of MATRIX_CASES served natively by
# SERVER with certificate LEAF, each probed without the preload, then every
# policy x client under the preload: the clients side by side, each going
# through the policies in turn and logging to its own $T/client-CLIENT.log.
# Returns 1 on any mismatch, after printing them all on stderr. Sets
# MATRIX_MISMATCHES, MATRIX_RUNS (client runs) and MATRIX_SKIPPED (cases the
# table marks undeliverable).
matrix_run() {
    local server=$1 leaf=$2 case file port state table probe want verdict
    local client line
    local -a pids=()
    MATRIX_MISMATCHES=() MATRIX_RUNS=0 MATRIX_SKIPPED=0
    export LIBSTAPLE_LOG_LEVEL=debug
    for case in "${MATRIX_CASES[@]}"; do
        file=''
        [[ $case != none ]] && file=$MATRIX_RESP/$leaf-$case.der
        port=$(free_port)
        state=delivered probe=''
        if ! matrix_start "$server" "$leaf" "$file" "$port" \
            ${MATRIX_SERVER_ARGS[@]+"${MATRIX_SERVER_ARGS[@]}"}; then
            state=no-start
        else
            probe=$(matrix_probe "$port" "$leaf.test")
            [[ $probe == "handshake failed" ]] && state=handshake-failed
        fi
        table=$(_matrix_table "$server" "$case")
        if [[ $state != delivered || -n $table ]]; then
            [[ $state == "${table:-delivered}" ]] ||
                MATRIX_MISMATCHES+=("MISMATCH server=$server cert=$leaf case=$case table says ${table:-delivered}, probe shows $state")
            MATRIX_SKIPPED=$((MATRIX_SKIPPED + 1))
            kill_bg
            continue
        fi
        # The verdict follows what was really delivered.
        want=none
        [[ -n $file ]] && want=$(matrix_fingerprint "$file")
        if [[ $probe == none ]]; then
            verdict=missing
        elif [[ $probe == "$want" ]]; then
            verdict=$(matrix_case_verdict "$case")
        else
            MATRIX_MISMATCHES+=("MISMATCH server=$server cert=$leaf case=$case server staples '$probe', the file holds '$want'")
            kill_bg
            continue
        fi
        pids=()
        for client in "${MATRIX_CLIENTS[@]}"; do
            _matrix_stream "$server" "$leaf" "$case" "$verdict" "$port" \
                "$client" >"$T/stream-$client" 2>&1 &
            pids+=($!)
        done
        # every stream must end, well, after one run per policy: one that
        # died half-way reports no mismatch for the runs it never made
        local i runs
        for i in "${!pids[@]}"; do
            client=${MATRIX_CLIENTS[i]} runs=''
            wait "${pids[i]}" ||
                MATRIX_MISMATCHES+=("STREAM server=$server cert=$leaf case=$case client=$client exited $?")
            while IFS= read -r line; do
                case $line in
                    "RUNS "*) runs=${line#RUNS } MATRIX_RUNS=$((MATRIX_RUNS + ${line#RUNS })) ;;
                    *) MATRIX_MISMATCHES+=("$line") ;;
                esac
            done <"$T/stream-$client"
            [[ $runs == "${#MATRIX_POLICIES[@]}" ]] ||
                MATRIX_MISMATCHES+=("STREAM server=$server cert=$leaf case=$case client=$client made ${runs:-no} runs of ${#MATRIX_POLICIES[@]}")
        done
        kill_bg
    done
    if ((${#MATRIX_MISMATCHES[@]})); then
        printf '%s\n' "${MATRIX_MISMATCHES[@]}" >&2
        echo "$server $leaf: ${#MATRIX_MISMATCHES[@]} mismatches in" \
            "$MATRIX_RUNS client runs" >&2
        return 1
    fi
    return 0
}
