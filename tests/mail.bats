#!/usr/bin/env bats
# Mail servers under the preload, set up as examples/dovecot and
# examples/postfix say (their conf.d snippet, main.cf and master.cf lines,
# and the environment of their systemd drop-ins), as private instances on
# 127.0.0.1: Dovecot IMAPS and Postfix smtpd with STARTTLS.

load lib/common
load lib/mail

setup() {
    if ! command -v dovecot >/dev/null || ! command -v postfix >/dev/null; then
        # CI installs both (.ci/run); elsewhere they may be missing
        [[ -z ${CI:-} ]] || { echo "dovecot or postfix missing" >&2; return 1; }
        skip "needs dovecot-imapd and postfix"
    fi
    mail_setup
    PORT=$(free_port)
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
}

teardown() {
    mail_teardown
}

# ---------------------------------------------------------------- Dovecot

@test "dovecot: examples/dovecot (imap-login without chroot) staples each certificate" {
    pki_ocsp "$PKI" vhost revoked issuer now "$T/staples/vhost.der"
    dovecot_config "$PORT" "$EXAMPLES/dovecot/conf.d/99-libstaple.conf"
    mail_envs "$EXAMPLES/dovecot/dovecot.service.d/libstaple.conf"
    [ "${ENVS[0]}" = "LD_PRELOAD=$PRELOAD" ]
    dovecot_start "$PORT" "${ENVS[@]}"
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    [ "$(staple "$PORT" -tls1_2)" = "$(serial rsa) good" ]
    [ "$(staple "$PORT" -servername rsa.test)" = "$(serial rsa) good" ]
    # local_name blocks (SNI): vhost.test has its own staple, ecdsa.test none
    [ "$(staple "$PORT" -servername vhost.test)" = "$(serial vhost) revoked" ]
    [ "$(staple "$PORT" -servername vhost.test -tls1_2)" = "$(serial vhost) revoked" ]
    [ "$(staple "$PORT" -servername ecdsa.test)" = "none" ]
    [[ "$(imap_greeting "$PORT")" == "* OK "*"Dovecot"*"ready." ]]
    # the spare login process: preloaded, not chrooted
    pid=$(imap_login_pid)
    [ "$(preloaded "$pid")" = yes ]
    [ "$(readlink "/proc/$pid/root")" = "/" ]
}

@test "dovecot: without the preload, no staple" {
    dovecot_config "$PORT" "$EXAMPLES/dovecot/conf.d/99-libstaple.conf"
    dovecot_start "$PORT"
    [ "$(staple "$PORT")" = "none" ]
    [[ "$(imap_greeting "$PORT")" == "* OK "* ]]
}

@test "dovecot: each line of the example is needed (import_environment, chroot)" {
    mail_envs "$EXAMPLES/dovecot/dovecot.service.d/libstaple.conf"
    # Without import_environment the master drops LD_PRELOAD for imap-login.
    dovecot_config "$PORT"
    cp "$EXAMPLES/dovecot/conf.d/99-libstaple.conf" "$T/snippet.conf"
    sed -i '/^import_environment/d' "$T/snippet.conf"
    cp "$T/snippet.conf" "$DV/conf.d/99-libstaple.conf"
    dovecot_start "$PORT" "${ENVS[@]}"
    [ "$(staple "$PORT")" = "none" ]
    pid=$(imap_login_pid)
    [ "$(preloaded "$pid")" = no ]
    dovecot_stop
    # With the default chroot, imap-login is preloaded but sets up TLS (and
    # so opens the staple directory) inside /run/dovecot/login.
    dovecot_config "$PORT" "$EXAMPLES/dovecot/chroot/conf.d/99-libstaple.conf"
    dovecot_start "$PORT" "${ENVS[@]}"
    [ "$(staple "$PORT")" = "none" ]
    pid=$(imap_login_pid)
    [ "$(preloaded "$pid")" = yes ]
    [ "$(readlink "/proc/$pid/root")" = "$DV/run/login" ]
}

@test "dovecot: examples/dovecot/chroot (staples bind-mounted into the login chroot)" {
    if ! unshare -m true 2>/dev/null; then
        [[ -z ${CI:-} ]] || { echo "no mount namespaces (unshare -m)" >&2; return 1; }
        skip "no mount namespaces here (unshare -m)"
    fi
    dropin=$EXAMPLES/dovecot/chroot/dovecot.service.d/libstaple.conf
    dovecot_config "$PORT" "$EXAMPLES/dovecot/chroot/conf.d/99-libstaple.conf"
    mail_envs "$dropin"
    [ "$(mail_bind_mounts "$dropin")" = "$T/staples $DV/run/login/libstaple" ]
    dovecot_start_bound "$PORT" "$dropin" "${ENVS[@]}"
    [ "$(staple "$PORT")" = "$(serial rsa) good" ]
    [ "$(staple "$PORT" -tls1_2)" = "$(serial rsa) good" ]
    [ "$(staple "$PORT" -servername vhost.test)" = "none" ]
    [[ "$(imap_greeting "$PORT")" == "* OK "* ]]
    pid=$(imap_login_pid)
    [ "$(preloaded "$pid")" = yes ]
    [ "$(readlink "/proc/$pid/root")" = "$DV/run/login" ]
    # a new staple is seen through the mount (each connection: a new process)
    pki_ocsp "$PKI" rsa revoked issuer now "$T/staples/.rsa.new"
    mv "$T/staples/.rsa.new" "$T/staples/rsa.der"
    [ "$(staple "$PORT")" = "$(serial rsa) revoked" ]
    # LIBSTAPLE_LOG=stderr: libstaple's lines land in Dovecot's log
    rm "$T/staples/rsa.der"
    ln -s /nonexistent "$T/staples/broken.der"
    [ "$(staple "$PORT")" = "none" ]
    grep -q 'imap-login: Error: libstaple\[[0-9]*\]: ' "$DV/dovecot.log"
}

# ---------------------------------------------------------------- Postfix

@test "postfix: examples/postfix, smtpd in its chroot staples on STARTTLS" {
    pki_ocsp "$PKI" ecdsa revoked issuer now "$T/staples/ecdsa.der"
    SPORT=$(free_port)
    postfix_config "$PORT" "$SPORT"
    mail_envs "$EXAMPLES/postfix/postfix@.service.d/libstaple.conf"
    [ "${ENVS[0]}" = "LD_PRELOAD=$PRELOAD" ]
    postfix_start "$PORT" "${ENVS[@]}"
    [ "$(staple "$PORT" -starttls smtp -sigalgs rsa_pss_rsae_sha256)" = "$(serial rsa) good" ]
    [ "$(staple "$PORT" -starttls smtp -sigalgs ecdsa_secp256r1_sha256)" = "$(serial ecdsa) revoked" ]
    [ "$(staple "$PORT" -starttls smtp -tls1_2 -sigalgs RSA+SHA256)" = "$(serial rsa) good" ]
    [ "$(staple "$SPORT" -starttls smtp -sigalgs rsa_pss_rsae_sha256)" = "$(serial rsa) good" ]
    run smtp_session "$PORT"
    [[ "$output" == *"250-mail.test"*"221 2.0.0 Bye"* ]]
    # smtpd is preloaded and chrooted in the queue directory
    pid=$(smtpd_pid "$PORT")
    [ "$(preloaded "$pid")" = yes ]
    [ "$(readlink "/proc/$pid/root")" = "$PF/queue" ]
    # the same chrooted smtpd picks up a replaced staple (reload_interval 1)
    pki_ocsp "$PKI" rsa revoked issuer now "$T/staples/.rsa.new"
    mv "$T/staples/.rsa.new" "$T/staples/rsa.der"
    sleep 2
    [ "$(staple "$PORT" -starttls smtp -sigalgs rsa_pss_rsae_sha256)" = "$(serial rsa) revoked" ]
    [ "$(smtpd_pid "$PORT")" = "$pid" ]
}

@test "postfix: without LD_PRELOAD in import_environment, smtpd gets no preload and no staple" {
    postfix_config "$PORT" "$(free_port)"
    postfix_main_drop import_environment
    mail_envs "$EXAMPLES/postfix/postfix@.service.d/libstaple.conf"
    postfix_start "$PORT" "${ENVS[@]}"
    [ "$(staple "$PORT" -starttls smtp -sigalgs rsa_pss_rsae_sha256)" = "none" ]
    pid=$(smtpd_pid "$PORT")
    [ "$(preloaded "$pid")" = no ]
    [ "$(tr '\0' '\n' <"/proc/$pid/environ" | grep -c '^LD_PRELOAD=')" -eq 0 ]
    run smtp_session "$PORT"
    [[ "$output" == *"221 2.0.0 Bye"* ]]
}

@test "postfix: import_environment with LD_PRELOAD=PATH works without the drop-in" {
    postfix_config "$PORT" "$(free_port)"
    sed -i -e "/^import_environment =/s|LD_PRELOAD|LD_PRELOAD=${PRELOAD// /:}|" \
        -e "/^import_environment =/s|LIBSTAPLE_CONF|LIBSTAPLE_CONF=$LIBSTAPLE_CONF|" \
        "$PF/etc/main.cf"
    postfix_start "$PORT"
    [ "$(staple "$PORT" -starttls smtp -sigalgs rsa_pss_rsae_sha256)" = "$(serial rsa) good" ]
}

# postfix_chain_files_config: the example's Postfix, its certificate given
# as smtpd_tls_chain_files (loaded with SSL_CTX_use_cert_and_key) instead.
postfix_chain_files_config() {
    postfix_config "$PORT" "$(free_port)" \
        "smtpd_tls_chain_files = $PKI/rsa.key, $PKI/rsa.full.pem"
    postfix_main_drop smtpd_tls_cert_file
    postfix_main_drop smtpd_tls_key_file
    postfix_main_drop smtpd_tls_eccert_file
    postfix_main_drop smtpd_tls_eckey_file
}

@test "postfix: smtpd_tls_chain_files with smtpd not chrooted staples" {
    postfix_chain_files_config
    postfix_chroot_smtpd n
    mail_envs "$EXAMPLES/postfix/postfix@.service.d/libstaple.conf"
    postfix_start "$PORT" "${ENVS[@]}"
    [ "$(staple "$PORT" -starttls smtp)" = "$(serial rsa) good" ]
    [ "$(readlink "/proc/$(smtpd_pid "$PORT")/root")" = "/" ]
}

@test "postfix: smtpd_tls_chain_files with smtpd chrooted staples" {
    # Postfix loads chain files with SSL_CTX_use_cert_and_key, which libstaple
    # hooks to open the staple directory before the chroot.
    postfix_chain_files_config
    mail_envs "$EXAMPLES/postfix/postfix@.service.d/libstaple.conf"
    postfix_start "$PORT" "${ENVS[@]}"
    [ "$(staple "$PORT" -starttls smtp)" = "$(serial rsa) good" ]
    [ "$(readlink "/proc/$(smtpd_pid "$PORT")/root")" = "$PF/queue" ]
}
