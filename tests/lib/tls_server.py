#!/usr/bin/env python3
"""tls_server.py PORT CERTFILE KEYFILE [--threads|--fork]: a Python `ssl` server.

It never asks for stapling: under the preload, libstaple adds it. Python
loads libssl by dlopen()ing its _ssl module, which is the case it covers.
Each connection gets one line, "python", and is closed. With --threads,
each connection is handled in a thread of its own (Python releases the GIL
during handshakes, so libstaple's callbacks run concurrently). With --fork,
each connection is handled by a child process (a prefork-style server that
forks all the time: libstaple's state must survive every fork).
"""
import os
import socket
import ssl
import sys
import threading


def serve(ctx, conn):
    conn.settimeout(5)
    try:
        with ctx.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(b"python\n")
    except (OSError, ssl.SSLError):
        conn.close()


def main():
    port, certfile, keyfile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    threads = "--threads" in sys.argv[4:]
    fork = "--fork" in sys.argv[4:]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certfile, keyfile)
    with socket.create_server(("127.0.0.1", port), backlog=64) as srv:
        while True:
            conn, _ = srv.accept()
            if threads:
                threading.Thread(target=serve, args=(ctx, conn), daemon=True).start()
            elif fork:
                if os.fork() == 0:
                    srv.close()
                    serve(ctx, conn)
                    os._exit(0)
                conn.close()
                while True:  # reap children that are done, without waiting
                    try:
                        if os.waitpid(-1, os.WNOHANG)[0] == 0:
                            break
                    except ChildProcessError:
                        break
            else:
                serve(ctx, conn)


if __name__ == "__main__":
    main()
