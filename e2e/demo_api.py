#!/usr/bin/env python3
"""A small JSON REST API over HTTP/1.1 keep-alive, for apitap end-to-end tests.

Usage: demo_api.py HOST PORT

Deterministic bodies (so body lengths are reproducible), and on purpose a mix of framings:
  GET    /users/{id}             200 Content-Length JSON (404 if id > 1000)
  GET    /users?limit=N[&chunked=1]  200 list; chunked if asked
  POST   /users                  201, echoes the JSON body with an id
  PUT    /users/{id}             200, echoes the JSON body
  DELETE /users/{id}             204, no body
  GET    /orders/{uuid}          200; gzip (Content-Length) if Accept-Encoding has gzip
  GET    /orders/{uuid}/items    200 chunked (several chunks); gzip+chunked if accepted
  GET    /big                    200, ~200 KB JSON (many segments)
  HEAD   any GET route           headers only
  anything else                  404 JSON
HTTP/1.0 clients never get chunked responses (Content-Length instead).
"""
import gzip
import json
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def user(i):
    return {"id": i, "name": f"user{i}", "email": f"user{i}@example.com", "active": i % 3 != 0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "demo-api/1.0"

    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    def _read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status, obj=None, chunked=False, gz=False, chunk_size=700):
        body = b"" if obj is None else json.dumps(obj).encode()
        if gz and body:
            body = gzip.compress(body, mtime=0)
        if self.request_version == "HTTP/1.0":
            chunked = False
        self.send_response(status)
        if obj is not None:
            self.send_header("Content-Type", "application/json")
            if gz:
                self.send_header("Content-Encoding", "gzip")
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "HEAD" or obj is None:
            return
        if chunked:
            for i in range(0, len(body), chunk_size):
                c = body[i : i + chunk_size]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(c), c))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.wfile.write(body)

    def _gzip_ok(self):
        return "gzip" in (self.headers.get("Accept-Encoding") or "")

    def do_GET(self):
        u = urlsplit(self.path)
        q = parse_qs(u.query)
        p = u.path
        m = re.fullmatch(r"/users/(\d+)", p)
        if m:
            i = int(m.group(1))
            if i > 1000:
                return self._send(404, {"error": "not_found", "id": i})
            return self._send(200, user(i))
        if p == "/users":
            n = int((q.get("limit") or ["10"])[0])
            return self._send(200, {"data": [user(i) for i in range(1, n + 1)], "limit": n},
                              chunked=(q.get("chunked") or ["0"])[0] == "1")
        m = re.fullmatch(rf"/orders/({UUID})", p)
        if m:
            return self._send(200, {"id": m.group(1), "status": "paid", "total": 42.5,
                                    "lines": [{"sku": f"SKU-{k}", "qty": k} for k in range(20)]},
                              gz=self._gzip_ok())
        m = re.fullmatch(rf"/orders/({UUID})/items", p)
        if m:
            return self._send(200, {"order": m.group(1),
                                    "items": [{"sku": f"SKU-{k}", "title": f"item {k}", "qty": k % 4 + 1}
                                              for k in range(60)]},
                              chunked=True, gz=self._gzip_ok())
        if p == "/big":
            return self._send(200, {"data": [user(i) for i in range(1, 2500)]})
        return self._send(404, {"error": "not_found", "path": p})

    do_HEAD = do_GET

    def do_POST(self):
        body = self._read_body()
        if self.path == "/users":
            try:
                obj = json.loads(body or b"{}")
            except ValueError:
                return self._send(400, {"error": "bad_json"})
            obj["id"] = 1001
            return self._send(201, obj)
        return self._send(404, {"error": "not_found", "path": self.path})

    def do_PUT(self):
        body = self._read_body()
        m = re.fullmatch(r"/users/(\d+)", self.path)
        if m:
            try:
                obj = json.loads(body or b"{}")
            except ValueError:
                return self._send(400, {"error": "bad_json"})
            obj["id"] = int(m.group(1))
            return self._send(200, obj)
        return self._send(404, {"error": "not_found", "path": self.path})

    def do_DELETE(self):
        self._read_body()
        if re.fullmatch(r"/users/(\d+)", self.path):
            return self._send(204)
        return self._send(404, {"error": "not_found", "path": self.path})


if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer((host, port), Handler).serve_forever()
