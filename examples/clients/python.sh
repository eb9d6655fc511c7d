#!/bin/sh
# Python under libstaple: the ssl module (and urllib, requests, ...) get the
# same checks as curl, though Python loads libssl only when it imports ssl.
#
#   examples/clients/python.sh -c 'import urllib.request; urllib.request.urlopen("https://...")'
exec env LD_PRELOAD="${LIBSTAPLE_SO:-/usr/lib/libstaple/libstaple.so}" \
    LIBSTAPLE_POLICY="${LIBSTAPLE_POLICY:-must-staple}" python3 "$@"
