#!/usr/bin/env bats
# The fuzz targets build, and every input kept in fuzz/regressions (each a
# crash once found and fixed), plus a few fresh responses, runs clean.

load lib/common

setup() {
    setup_test
    make -C "$TOP" -s fuzz-build >/dev/null
}

# replay TARGET FILES...: run the target once over each file.
replay() {
    local target=$1
    shift
    FUZZ_LEAF=$PKI/rsa.pem FUZZ_ISSUER=$PKI/int.pem \
        "$TOP/tests/.work/fuzz_$target" -runs=0 "$@" 2>&1
}

@test "fuzz_staple: kept regressions and fresh responses run clean" {
    pki_ocsp "$PKI" rsa good issuer now "$T/good"
    pki_ocsp "$PKI" rsa revoked responder expired "$T/revoked"
    pki_multi "$PKI" "$T/multi" rsa vhost
    pki_garbage "$T/garbage"
    pki_truncate "$T/good" "$T/truncated"
    run replay staple "$T"/good "$T"/revoked "$T"/multi "$T"/garbage "$T"/truncated \
        $(find "$TOP/fuzz/regressions/staple" -type f ! -name .gitkeep)
    [ "$status" -eq 0 ]
    [[ $output == *"Executed $T/truncated"* ]]
}

@test "fuzz_store: kept regressions and a directory of two staples run clean" {
    pki_ocsp "$PKI" rsa good issuer now "$T/good"
    pki_garbage "$T/garbage"
    python3 -c "
import sys
parts = [open(f, 'rb').read() for f in sys.argv[2:]]
open(sys.argv[1], 'wb').write(bytes([len(parts)]) + b''.join(len(p).to_bytes(2, 'big') + p for p in parts))
" "$T/input" "$T/good" "$T/garbage"
    run replay store "$T/input" $(find "$TOP/fuzz/regressions/store" -type f ! -name .gitkeep)
    [ "$status" -eq 0 ]
    [[ $output == *"Executed $T/input"* ]]
}

@test "fuzz_config: kept regressions and the example config run clean" {
    printf '[host x]\npolicy = nonsense\npolicy\n=\n[' >"$T/broken"
    run replay config "$TOP/config/libstaple.conf" "$T/broken" \
        $(find "$TOP/fuzz/regressions/config" -type f ! -name .gitkeep)
    [ "$status" -eq 0 ]
    [[ $output == *"Executed $T/broken"* ]]
}

@test "fuzz_der: the GnuTLS corpus runs clean; what OpenSSL refuses, vetting refuses" {
    corpus=$TOP/../shared/vectors/gnutls-ocsp-resp-fuzz
    if [[ ! -d $corpus ]]; then
        [[ -z ${CI:-} ]] || { echo "no GnuTLS OCSP corpus at $corpus" >&2; return 1; }
        skip "the GnuTLS OCSP corpus (shared/vectors) is not beside this checkout"
    fi
    run env FUZZ_DER_REPORT=1 FUZZ_LEAF=$PKI/rsa.pem FUZZ_ISSUER=$PKI/int.pem \
        "$TOP/tests/.work/fuzz_der" -runs=0 "$corpus"/*.der
    [ "$status" -eq 0 ]
    [ "$(grep -c "^Executed " <<<"$output")" -eq 386 ]
    # the 37 the reader reads and OpenSSL refuses: vetting refused each
    # (an input may report more than once: count the inputs)
    [ "$(awk '/^Running: / { f = $2 } $0 == "vet-refused" { r[f] = 1 }
        END { print length(r) }' <<<"$output")" -eq 37 ]
}

@test "fuzz_crl: CRLs of every shape agree with OpenSSL's parse; kept regressions run clean" {
    [[ -x $TOP/tests/.work/mkcrl ]] || make -C "$TOP" -s tests/.work/mkcrl >/dev/null
    local mk=$TOP/tests/.work/mkcrl r i=("$PKI/int.pem" "$PKI/int.key")
    r=$(cat "$PKI/revoked.serial")
    "$mk" --revoke "$r" "${i[@]}" "$T/plain"
    "$mk" --entries 50 --revoke "$r" --idp http://crl.test/a.crl "${i[@]}" "$T/idp"
    "$mk" --critical --entry-critical --revoke "$r" "${i[@]}" "$T/critical"
    "$mk" --indirect "${i[@]}" "$T/indirect"
    "$mk" --next none "${i[@]}" "$T/nonext"
    pki_garbage "$T/garbage"
    run env FUZZ_CRL_REPORT=1 "$TOP/tests/.work/fuzz_crl" -runs=0 "$T"/plain "$T"/idp \
        "$T"/critical "$T"/indirect "$T"/nonext "$T"/garbage \
        $(find "$TOP/fuzz/regressions/crl" -type f ! -name .gitkeep)
    [ "$status" -eq 0 ]
    # the reader and OpenSSL agree on each CRL; garbage is refused
    [ "$(grep -cx same <<<"$output")" -ge 4 ]
    [ "$(grep -cx indirect <<<"$output")" -eq 1 ]
    [ "$(grep -cx reader-refused <<<"$output")" -ge 1 ]
}

@test "fuzz_shared: a real shared index is read whole; cut short, flipped or kept regressions run clean" {
    pki_ocsp "$PKI" rsa good issuer now "$T/staples/rsa.der"
    pki_multi "$PKI" "$T/staples/multi.der" rsa vhost
    pki_garbage "$T/staples/garbage.der"
    "$TOP/staplectl" index --dir "$T/staples"
    cp "$T/staples/.index/staples" "$T/real"
    head -c 300 "$T/real" >"$T/short"
    # the header kept, every byte after it flipped in turn, one file each
    python3 - "$T/real" "$T/flipped" <<'PY'
import sys
b = bytearray(open(sys.argv[1], 'rb').read())
for i in range(184, len(b), 7):
    c = bytearray(b)
    c[i] ^= 0xff
    open('%s.%d' % (sys.argv[2], i), 'wb').write(c)
PY
    run env FUZZ_SHARED_REPORT=1 "$TOP/tests/.work/fuzz_shared" -runs=0 "$T/real" "$T/short" \
        "$T"/flipped.* $(find "$TOP/fuzz/regressions/shared" -type f ! -name .gitkeep)
    [ "$status" -eq 0 ]
    # three files (garbage listed as skipped), three entries, each found and
    # picked from its bucket
    [[ $output == *"files 3 entries 3 found 3 picked 3"* ]]
    [[ $output == *refused* ]]
    [[ $output == *"Executed $T/short"* ]]
}
