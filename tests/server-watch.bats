#!/usr/bin/env bats
# Server role, CERTFILE.ocsp: a program that loads its certificate from a
# file (here Python's load_cert_chain) is served the staple beside the file
# it named: for any number of certificate files, under certbot's layout
# (live/NAME/fullchain.pem, a link moved to a new archive/NAME/ file at each
# renewal), and for a relative name after the program changed directory.

load lib/common

setup() {
    setup_test
    PORT=$(free_port)
    echo "reload_interval = 1" >"$LIBSTAPLE_CONF"
    pki_ocsp "$PKI" rsa good issuer now "$T/good.der"
    pki_ocsp "$PKI" rsa revoked issuer now "$T/revoked.der"
}

teardown() {
    kill_bg
}

# sni_server CERTFILE...: tests/lib/sni_server.py under the preload, in $T.
sni_server() {
    bg sni bash -c 'cd "$1" && shift && exec "$@"' - "$T" \
        env LD_PRELOAD="$PRELOAD" python3 "$TOP/tests/lib/sni_server.py" "$PORT" \
        "$PKI/rsa.key" "$@"
    wait_port "$PORT"
}

@test "70 certificate files: the staple beside the 70th is served, and one beside the 1st that appears later" {
    mkdir "$T/certs"
    local certs=() i
    for i in $(seq 70); do
        cp "$PKI/rsa.full.pem" "$T/certs/site$i.pem"
        certs+=("$T/certs/site$i.pem")
    done
    cp "$T/good.der" "$T/certs/site70.pem.ocsp"
    sni_server "${certs[@]}"
    [ "$(staple "$PORT" -servername h70.test)" = "$(serial rsa) good" ]
    rm "$T/certs/site70.pem.ocsp"
    cp "$T/revoked.der" "$T/certs/site1.pem.ocsp"
    staple_within 3 "$(serial rsa) revoked" "$PORT" -servername h1.test
}

@test "certbot's layout: the staple beside live/NAME/fullchain.pem is served, after a renewal too" {
    local le=$T/letsencrypt
    mkdir -p "$le/archive/site" "$le/live/site"
    cp "$PKI/rsa.full.pem" "$le/archive/site/fullchain1.pem"
    ln -s ../../archive/site/fullchain1.pem "$le/live/site/fullchain.pem"
    # what a refresh hook writes beside the live name, and an old file
    # beside the archive one that nobody refreshes any more
    cp "$T/good.der" "$le/live/site/fullchain.pem.ocsp"
    cp "$T/revoked.der" "$le/archive/site/fullchain1.pem.ocsp"
    sni_server "$le/live/site/fullchain.pem"
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    # the renewal: a new archive file, the live link moved to it, and the
    # hook's new staple beside the live name
    cp "$PKI/rsa.full.pem" "$le/archive/site/fullchain2.pem"
    ln -sfn ../../archive/site/fullchain2.pem "$le/live/site/fullchain.pem"
    cp "$T/revoked.der" "$le/live/site/.tmp"
    mv "$le/live/site/.tmp" "$le/live/site/fullchain.pem.ocsp"
    staple_within 3 "$(serial rsa) revoked" "$PORT"
    cp "$T/good.der" "$le/live/site/.tmp"
    mv "$le/live/site/.tmp" "$le/live/site/fullchain.pem.ocsp"
    staple_within 3 "$(serial rsa) good" "$PORT"
}

@test "a relative certificate name: the staple beside it is followed after the program changed directory" {
    cp "$PKI/rsa.full.pem" "$T/cert.pem"
    cp "$T/good.der" "$T/cert.pem.ocsp"
    sni_server cert.pem
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    cp "$T/revoked.der" "$T/.tmp" && mv "$T/.tmp" "$T/cert.pem.ocsp"
    staple_within 3 "$(serial rsa) revoked" "$PORT"
}
