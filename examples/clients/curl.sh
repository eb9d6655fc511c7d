#!/bin/sh
# curl under libstaple: every HTTPS request asks for a staple, verifies it,
# and refuses a revoked certificate or a Must-Staple one without a valid
# staple (policy must-staple, the default). No curl option is needed;
# --cert-status is curl's own, stricter check and still works on top.
#
#   examples/clients/curl.sh https://mail.example.com/
exec env LD_PRELOAD="${LIBSTAPLE_SO:-/usr/lib/libstaple/libstaple.so}" \
    LIBSTAPLE_POLICY="${LIBSTAPLE_POLICY:-must-staple}" curl "$@"
