#!/usr/bin/env python3
"""Server and legitimate client for the live-agent flood (bench/flood.sh; outside CI).

    flood_live.py serve HOST PORT COUNT_FILE
        A keep-alive HTTP/1.1 server (asyncio): JSON for any path, 201 for POST, 204 for
        DELETE; it answers the flood and the legitimate traffic alike, and writes the number
        of requests answered to COUNT_FILE twice a second.
    flood_live.py legit HOST PORT ROUNDS SECONDS OUT.json
        The legitimate client: ROUNDS rounds of the ten operations below (with ids, UUIDs,
        query strings and JSON bodies), spread over SECONDS, on keep-alive connections
        (a new one every 50 requests); writes the exact count sent per operation to OUT.json.
"""
import asyncio
import http.client
import json
import os
import random
import sys
import time

# the same ten operations as the offline capture's legitimate client
from flood_capture import LEGIT  # noqa: E402


ANSWERED = 0


class Http(asyncio.Protocol):
    def connection_made(self, transport):
        self.t = transport
        self.buf = b""

    def data_received(self, data):
        self.buf += data
        out = []
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = self.buf[:end].decode("latin-1")
            lines = head.split("\r\n")
            parts = lines[0].split(" ")
            method = parts[0] if parts else ""
            length = 0
            for line in lines[1:]:
                k, _, v = line.partition(":")
                if k.strip().lower() == "content-length":
                    try:
                        length = int(v.strip())
                    except ValueError:
                        length = 0
            if len(self.buf) < end + 4 + length:
                break
            self.buf = self.buf[end + 4 + length:]
            if method == "DELETE":
                out.append(b"HTTP/1.1 204 No Content\r\n\r\n")
                continue
            status = b"201 Created" if method == "POST" else b"200 OK"
            body = b'{"id":42,"status":"active"}'
            out.append(b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
                       b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        if out:
            global ANSWERED
            ANSWERED += len(out)
            self.t.write(b"".join(out))


def serve(host, port, count_file):
    loop = asyncio.new_event_loop()
    srv = loop.run_until_complete(loop.create_server(Http, host, int(port), backlog=1024))
    print("listening", file=sys.stderr, flush=True)

    async def count():
        while True:
            with open(count_file + ".tmp", "w") as f:
                f.write(str(ANSWERED))
            os.replace(count_file + ".tmp", count_file)
            await asyncio.sleep(0.5)
    loop.create_task(count())
    loop.run_until_complete(srv.serve_forever())


def legit(host, port, rounds, seconds, out):
    rng = random.Random(7)
    sent = {"%s %s" % op: 0 for op in LEGIT}
    total = int(rounds) * len(LEGIT)
    gap = float(seconds) / max(total, 1)
    conn = None
    t0 = time.monotonic()
    for i in range(total):
        m, tpl = LEGIT[i % len(LEGIT)]
        path = tpl.replace("{id}", str(rng.randint(1, 10**6)))
        path = path.replace("{uuid}", "%08x-%04x-4%03x-a%03x-%012x" % (
            rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12), rng.getrandbits(12),
            rng.getrandbits(48)))
        if tpl == "/api/v1/products":
            path += "?page=%d" % rng.randint(1, 50)
        body = None
        headers = {"Host": "api.legit.test"}
        if m in ("POST", "PUT"):
            body = json.dumps({"name": "n%d" % rng.randint(1, 999), "age": rng.randint(1, 99)})
            headers["Content-Type"] = "application/json"
        if conn is None or i % 50 == 0:
            if conn is not None:
                conn.close()
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request(m, path, body=body, headers=headers)
        r = conn.getresponse()
        r.read()
        sent["%s %s" % (m, tpl)] += 1
        # spread over the flood: sleep until this request's slot
        wait = t0 + (i + 1) * gap - time.monotonic()
        if wait > 0:
            time.sleep(wait)
    if conn is not None:
        conn.close()
    json.dump(sent, open(out, "w"), indent=1)
    print("legit: %d requests in %.1f s" % (total, time.monotonic() - t0), file=sys.stderr)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        legit(*sys.argv[2:7])
