# shellcheck shell=bash
# crlvectors.sh - the public CRL test vectors of pyca/cryptography, read from
# Debian's python3-cryptography-vectors (never copied into this repository).
#
#   CRL_VECTORS                the package's x509 directory
#   crl_vectors_der OUT        every CRL of the package into OUT, as DER
#
# The package holds NIST's PKITS CRLs (DER, *.crl) and pyca's own (PEM and
# DER, custom/crl_*). Go's crypto/x509 testdata (golang-*-src) has no CRL
# file: its CRL vectors live inside Go source, so they are not used here.

CRL_VECTORS=${CRL_VECTORS:-/usr/lib/python3/dist-packages/cryptography_vectors/x509}

# crl_vectors_der OUT: each CRL file as DER in OUT (PEM bodies decoded by
# base64, not by OpenSSL, so that a CRL OpenSSL refuses is still there to
# compare); fails when the package is absent or a file does not decode.
crl_vectors_der() {
    local out=$1 f
    [[ -d $CRL_VECTORS/PKITS_data/crls ]] || {
        echo "crlvectors: no $CRL_VECTORS (Debian package python3-cryptography-vectors)" >&2
        return 1
    }
    mkdir -p "$out" || return 1
    for f in "$CRL_VECTORS"/PKITS_data/crls/*.crl "$CRL_VECTORS"/custom/crl_*.der; do
        cp "$f" "$out/" || return 1
    done
    while read -r f; do
        sed -n '/-----BEGIN X509 CRL-----/,/-----END X509 CRL-----/p' "$f" |
            grep -v -e '-----' | base64 -d >"$out/$(basename "$f" .pem).der" || {
            echo "crlvectors: $f does not decode" >&2
            return 1
        }
    done < <(grep -rl -e '-----BEGIN X509 CRL-----' "$CRL_VECTORS")
}
