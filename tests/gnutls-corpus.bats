#!/usr/bin/env bats
# GnuTLS's OCSP-response fuzz corpus (kept beside the project in
# shared/vectors): staplectl show and metrics judge each response as the
# server would. The staple index's DER reader accepts some responses that
# OpenSSL refuses to parse (malformed where the index never reads); the
# server's vetting parses with OpenSSL and never serves those, so show must
# not say "serves it", must name the parse failure as such, and metrics
# must count them as not served.

load lib/common

CORPUS=$TOP/../shared/vectors/gnutls-ocsp-resp-fuzz

setup() {
    if [[ ! -d $CORPUS ]]; then
        [[ -z ${CI:-} ]] || { echo "no GnuTLS OCSP corpus at $CORPUS" >&2; return 1; }
        skip "the GnuTLS OCSP corpus (shared/vectors) is not beside this checkout"
    fi
    setup_test
    export TZ=UTC
}

@test "gnutls corpus: show and metrics serve only what OpenSSL parses, and call a refusal a parse failure" {
    # the DER reader's view: every response it reads, with its thisUpdate
    "${CC:-cc}" -std=gnu99 -O2 -DWHEN_TEST_DER -o "$T/when_der" \
        "$TOP/tests/lib/when_test.c" "$TOP/preload/when.c" "$TOP/preload/der.c"
    "$T/when_der" "$CORPUS"/*.der | awk '$2 == "this" { sub(/:$/, "", $1); print $3, $1 }' |
        sort -u -k2,2 >"$T/read"
    # what OpenSSL (the server's vetting) refuses to parse at all
    : >"$T/refused"
    while read -r _ f; do
        openssl ocsp -respin "$f" -noverify -resp_text >/dev/null 2>&1 || echo "$f" >>"$T/refused"
    done <"$T/read"
    [ "$(wc -l <"$T/refused")" -eq 37 ]
    # each group of responses at a moment its thisUpdate makes them current
    # (most have no nextUpdate: max_age, 7 days, then applies)
    local failures=() this f line
    for this in $(cut -d' ' -f1 "$T/read" | sort -un); do
        ((this > 0 && this < 4000000000)) || continue
        mapfile -t files < <(awk -v t="$this" '$1 == t { print $2 }' "$T/read")
        at=$(date -u -d "@$((this + 60))" '+%Y-%m-%d %H:%M:%S')
        faketime "$at" "$TOP/staplectl" show --warn 1s "${files[@]}" >"$T/show" 2>&1 || true
        faketime "$at" "$TOP/staplectl" metrics --warn 1s "${files[@]}" >"$T/metrics" 2>&1 || true
        for f in "${files[@]}"; do
            if grep -qxF "$f" "$T/refused"; then
                # never served, and said to be OpenSSL's parse refusing it
                while read -r line; do
                    [[ $line == *"not served: OpenSSL's parse refuses it ("*")" ||
                       $line == *": not a response: "* ]] ||
                        failures+=("show, refused by OpenSSL: $line")
                done < <(grep -F "$f: " "$T/show")
                grep -q "^libstaple_staple_served{file=\"$f\".*} 1$" "$T/metrics" &&
                    failures+=("metrics count $f as served")
            else
                grep -F "$f: " "$T/show" | grep -q "OpenSSL's parse refuses it" &&
                    failures+=("show: $f is parsed by OpenSSL, yet refused")
            fi
        done
    done
    printf '%s\n' "${failures[@]}" | head -20 >&2
    [ "${#failures[@]}" -eq 0 ]
}

@test "gnutls corpus: a response OpenSSL refuses is named, not called a bad signature" {
    # one the reader reads without a nextUpdate: 'serves it' on an unfixed show
    "${CC:-cc}" -std=gnu99 -O2 -DWHEN_TEST_DER -o "$T/when_der" \
        "$TOP/tests/lib/when_test.c" "$TOP/preload/when.c" "$TOP/preload/der.c"
    for f in "$CORPUS"/*.der; do
        openssl ocsp -respin "$f" -noverify -resp_text >/dev/null 2>&1 && continue
        this=$("$T/when_der" "$f" | awk '$2 == "this" && $7 == 0 { print $3; exit }')
        [[ -n $this ]] && break
    done
    [ -n "$this" ]
    at=$(date -u -d "@$((this + 60))" '+%Y-%m-%d %H:%M:%S')
    run faketime "$at" "$TOP/staplectl" show --warn 1s "$f"
    [ "$status" -eq 1 ]
    [[ $output == "$f: serial "*": not served: OpenSSL's parse refuses it ("*")" ]]
    run faketime "$at" "$TOP/staplectl" show --json --warn 1s "$f"
    python3 -c '
import json, sys
s = json.loads(sys.stdin.read())["staples"][0]
assert s["state"] == "unusable" and s["served"] is False, s
assert s["text"].startswith("not served: OpenSSL\x27s parse refuses it ("), s
' <<<"$output"
}
