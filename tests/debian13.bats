#!/usr/bin/env bats
# Debian 13 (trixie) as it is: a whole root made with mmdebstrap
# (tests/lib/roots.sh), entered with chroot: its own glibc 2.41, OpenSSL
# 3.5, nginx 1.26, curl 8 and Python 3.13, with the library built on this
# machine. Servers staple (s_server, nginx, Python), clients enforce (curl,
# Python), and the .deb built here installs there with dpkg -i and works.
# The scenarios are tests/lib/inroot.bash's, shared with tests/debian11.bats;
# setup_file makes (or reuses) all the roots at the same time.

load lib/inroot

SSL_PATH=/lib/x86_64-linux-gnu/libssl.so.3
CRYPTO_PATH=/lib/x86_64-linux-gnu/libcrypto.so.3
PYTHON_EXE=/usr/bin/python3.13

setup_file() {
    inroot_file_setup trixie bullseye bookworm-arm64 || return 1
    [[ -z $ROOT_SKIP ]] || return 0
    mkdir -p "$W/host" && cp "$LIBSTAPLE" "$W/host/libstaple.so" || return 1
    export LIB13
    LIB13=$(inner "$W/host/libstaple.so")
}

teardown_file() {
    inroot_file_teardown
}

setup() {
    inroot_setup
    export LIBSTAPLE_LOG_LEVEL=debug
    # what OpenSSL_version() says in the root (3.5.x moves with point releases)
    [[ -n ${ROOT_SKIP:-} ]] || SSL_VERSION=$(rr openssl version | sed 's/ (Library: .*//')
}

teardown() {
    inroot_teardown
}

# lib 13: LIB is the library built here, as the root sees it.
lib() {
    need_root
    LIB=$LIB13
}

@test "Debian 13 root: glibc 2.41, OpenSSL 3.5, nginx 1.26, curl 8, Python 3.13" {
    need_root
    run rr ldd --version
    [[ ${lines[0]} == "ldd (Debian GLIBC 2.41-"*") 2.41" ]]
    [[ $SSL_VERSION == "OpenSSL 3.5."* ]]
    run rr nginx -v
    [[ $output == "nginx version: nginx/1.26."* ]]
    run rr curl --version
    [[ ${lines[0]} == "curl 8."*" OpenSSL/3.5."* ]]
    run rr python3 -c 'import ssl, sys; print("%d.%d" % sys.version_info[:2], ssl.OPENSSL_VERSION)'
    [ "$output" = "3.13 $SSL_VERSION" ]
}

@test "Debian 13's openssl s_server staples the certificate's staple (TLS 1.3, 1.2), not an expired one" {
    serves 13
}

@test "Debian 13's nginx 1.26, master and 2 workers, SNI hosts rsa and ecdsa: each its own staple (TLS 1.3, 1.2)" {
    nginx_root 13
}

@test "Debian 13's Python 3.13 ssl server staples (TLS 1.3, 1.2)" {
    py_server 13
}

@test "Debian 13's curl 8 refuses Must-Staple without a staple and a revoked staple, accepts a good one (TLS 1.3, 1.2)" {
    curl_enforces 13
}

@test "Debian 13's Python 3.13 client refuses Must-Staple without a staple and a revoked staple, accepts a good one (TLS 1.3, 1.2)" {
    py_client_enforces 13
}

@test "the .deb built here installs in Debian 13 with dpkg -i: staplectl runs, the library staples for s_server; dpkg -P removes it" {
    deb_works
}
