#!/usr/bin/env python3
"""crl_server.py PORT DIR LOG: a plain HTTP server on 127.0.0.1:PORT that
serves DIR's files as CRL distribution points do, for tests/crl-refresh.bats.

Every answer carries an ETag (a digest of the bytes) and a Last-Modified
(the file's mtime); a request whose If-None-Match names the ETag, or (without
one) whose If-Modified-Since is not older than the mtime, gets 304. One line
per request in LOG: "GET PATH inm=VALUE ims=VALUE STATUS" ("-" when a header
was not sent). Special paths: /slow/NAME sends the header, then stalls;
/redirect/NAME answers 302 Found to /NAME.
"""
import email.utils
import hashlib
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, ROOT, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def record(self, status):
        with open(LOG, "a") as f:
            f.write("GET %s inm=%s ims=%s %d\n" % (
                self.path, self.headers.get("If-None-Match", "-"),
                self.headers.get("If-Modified-Since", "-"), status))

    def do_GET(self):
        path = self.path
        if path.startswith("/redirect/"):
            self.record(302)
            self.send_response(302)
            self.send_header("Location", "/" + path[len("/redirect/"):])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        slow = path.startswith("/slow/")
        name = os.path.basename(path)
        file = os.path.join(ROOT, name)
        if not name or not os.path.isfile(file):
            self.record(404)
            self.send_error(404)
            return
        with open(file, "rb") as f:
            body = f.read()
        mtime = int(os.stat(file).st_mtime)
        etag = '"%s"' % hashlib.sha1(body).hexdigest()[:16]
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        fresh = False
        if inm is not None:
            fresh = inm == etag
        elif ims is not None:
            try:
                fresh = email.utils.parsedate_to_datetime(ims).timestamp() >= mtime
            except (TypeError, ValueError):
                fresh = False
        status = 304 if fresh else 200
        self.record(status)
        self.send_response(status)
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", email.utils.formatdate(mtime, usegmt=True))
        if status == 200:
            self.send_header("Content-Type", "application/pkix-crl")
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if slow:
            self.wfile.flush()
            time.sleep(30)
            return
        if status == 200:
            self.wfile.write(body)


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
