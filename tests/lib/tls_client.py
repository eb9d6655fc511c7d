#!/usr/bin/env python3
"""tls_client.py URL CAFILE [HOST:PORT:ADDR]: fetch URL with Python's urllib.

The TLS context is ssl.create_default_context(cafile=CAFILE): certificate
and host name checks on, no OCSP of its own (Python has no stapling API), so
anything about staples comes from libstaple under LD_PRELOAD. The optional
HOST:PORT:ADDR works like curl's --resolve: connections to HOST:PORT go to
ADDR, while SNI and the host name check still use HOST.

Prints the body and exits 0, or prints the exception and exits 1.
"""
import socket
import ssl
import sys
import urllib.request


def resolve(rule):
    """Make getaddrinfo(HOST, PORT) answer ADDR, as curl --resolve does."""
    host, port, addr = rule.split(":", 2)
    real = socket.getaddrinfo

    def getaddrinfo(name, service, *args, **kwargs):
        if name == host and str(service) == port:
            name = addr
        return real(name, service, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    url, cafile = sys.argv[1], sys.argv[2]
    if len(sys.argv) == 4:
        resolve(sys.argv[3])
    ctx = ssl.create_default_context(cafile=cafile)
    try:
        with urllib.request.urlopen(url, context=ctx, timeout=8) as resp:
            body = resp.read()
    except Exception as exc:  # pylint: disable=broad-except
        print(f"{type(exc).__name__}: {exc}")
        return 1
    sys.stdout.write(body.decode("utf-8", "replace"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
