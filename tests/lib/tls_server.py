#!/usr/bin/env python3
"""tls_server.py PORT CERTFILE KEYFILE: a plain Python `ssl` TLS server.

It never asks for stapling: under the preload, libstaple adds it. Python
loads libssl by dlopen()ing its _ssl module, which is the case it covers.
Each connection gets one line, "python", and is closed.
"""
import socket
import ssl
import sys


def main():
    port, certfile, keyfile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certfile, keyfile)
    with socket.create_server(("127.0.0.1", port)) as srv:
        while True:
            conn, _ = srv.accept()
            conn.settimeout(5)
            try:
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"python\n")
            except (OSError, ssl.SSLError):
                conn.close()


if __name__ == "__main__":
    main()
