#!/usr/bin/env python3
"""sni_server.py PORT KEYFILE CERTFILE...: a Python `ssl` server with one
context per CERTFILE (all with KEYFILE's key), loaded with load_cert_chain
(SSL_CTX_use_certificate_chain_file: libstaple watches CERTFILE.ocsp). SNI
name hN.test selects the Nth; without SNI, the first. Each connection gets
one line, "hN", and is closed. CERTFILE names are used as given: relative
ones are read from the working directory, which the server then leaves.
"""
import os
import socket
import ssl
import sys


def main():
    port, keyfile, certs = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    ctxs = []
    for cert in certs:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, keyfile)
        ctxs.append(ctx)

    def pick(tls, name, _ctx):
        if name and name.startswith("h") and name.endswith(".test"):
            n = int(name[1:-5])
            if 1 <= n <= len(ctxs):
                tls.context = ctxs[n - 1]

    ctxs[0].sni_callback = pick
    os.chdir("/")
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(16)
    while True:
        conn, _ = srv.accept()
        conn.settimeout(5)
        try:
            with ctxs[0].wrap_socket(conn, server_side=True) as tls:
                tls.sendall(b"ok\n")
        except (OSError, ssl.SSLError):
            conn.close()


main()
