#!/usr/bin/env python3
"""Hostile-traffic capture generator for the memory-budget flood (outside CI).

Writes a classic pcap of keep-alive HTTP/1.1 traffic to ONE server socket: a flood of
`--requests` GETs spread over `--hosts` Host values and `--words`x`--words` word paths
(`/alpha/bravo`), with legitimate traffic interleaved (one legitimate exchange every
`--legit-every` flood exchanges, from the start), and a `OUT.truth.json` listing the
legitimate operations that must all be learned.

    python3 bench/flood_capture.py --out /tmp/flood.pcap
    /usr/bin/time -v apitap learn /tmp/flood.pcap -o /tmp/flood.json
    python3 bench/flood_check.py /tmp/flood.json /tmp/flood.pcap.truth.json

Frames: Ethernet/IPv4/TCP with correct checksums, a 3-way handshake and FIN per
connection, 100 exchanges per connection, one segment per message (messages are small).
"""
import argparse
import json
import random
import struct

WORDS = """alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november
oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu amber azure beige
black blue bronze brown coral cream cyan gold gray green indigo ivory jade khaki lemon lilac
lime linen magenta maroon mint navy olive orange peach pearl pink plum purple red rose ruby
salmon sand silver""".split()

LEGIT = [
    ("GET", "/api/v1/users/{id}"),
    ("PUT", "/api/v1/users/{id}"),
    ("DELETE", "/api/v1/users/{id}"),
    ("POST", "/api/v1/users"),
    ("GET", "/api/v1/users"),
    ("GET", "/api/v1/orders/{uuid}"),
    ("GET", "/api/v1/orders/{uuid}/items"),
    ("GET", "/api/v1/products"),
    ("GET", "/api/v1/products/{id}"),
    ("GET", "/health"),
]


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


class Writer:
    def __init__(self, f):
        self.f = f
        self.t = 1_700_000_000.0
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))

    def frame(self, src, dst, sport, dport, seq, ack, flags, payload=b""):
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                          5 << 4, flags, 65535, 0, 0) + payload
        pseudo = struct.pack("!4s4sBBH", src, dst, 0, 6, len(tcp))
        c = csum(pseudo + tcp)
        tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        eth = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00"
        pkt = eth + ip + tcp
        self.t += 0.00001
        sec = int(self.t)
        usec = int((self.t - sec) * 1e6)
        self.f.write(struct.pack("<IIII", sec, usec, len(pkt), len(pkt)) + pkt)


def legit_request(rng, i):
    m, tpl = LEGIT[i % len(LEGIT)]
    path = tpl.replace("{id}", str(rng.randint(1, 10**6)))
    path = path.replace("{uuid}", "%08x-%04x-4%03x-a%03x-%012x" % (
        rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12), rng.getrandbits(12),
        rng.getrandbits(48)))
    if tpl == "/api/v1/products":
        path += "?page=%d" % rng.randint(1, 50)
    body = b""
    if m in ("POST", "PUT"):
        body = json.dumps({"name": "n%d" % rng.randint(1, 999), "age": rng.randint(1, 99)}).encode()
    resp = json.dumps({"id": rng.randint(1, 10**6), "status": ["active", "closed"][i % 2]}).encode()
    return m, path, "api.legit.test", body, 200 if m != "DELETE" else 204, resp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--requests", type=int, default=200_000)
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--words", type=int, default=64)
    ap.add_argument("--legit-every", type=int, default=20)
    ap.add_argument("--per-conn", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    words = WORDS[: a.words]
    srv = bytes([10, 9, 0, 1])
    sport = 8080
    n_flood = 0
    n_legit = 0
    conn = 0
    with open(a.out, "wb") as f:
        w = Writer(f)
        while n_flood < a.requests:
            conn += 1
            cli = bytes([10, 8, (conn >> 8) & 0xFF, conn & 0xFF])
            cport = 20000 + conn % 40000
            cs, ss = rng.getrandbits(32), rng.getrandbits(32)
            w.frame(cli, srv, cport, sport, cs, 0, 0x02)
            w.frame(srv, cli, sport, cport, ss, cs + 1, 0x12)
            cs += 1
            ss += 1
            w.frame(cli, srv, cport, sport, cs, ss, 0x10)
            for _ in range(a.per_conn):
                if n_flood >= a.requests:
                    break
                if n_flood % a.legit_every == 0:
                    m, path, host, body, st, resp = legit_request(rng, n_legit)
                    n_legit += 1
                else:
                    m = "GET"
                    path = "/%s/%s" % (words[rng.randrange(len(words))], words[rng.randrange(len(words))])
                    host = "h%d.flood.test" % rng.randrange(a.hosts)
                    body, st, resp = b"", 200, b'{"ok":true}'
                n_flood += 1
                req = ("%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: flood\r\n" % (m, path, host)).encode()
                if body:
                    req += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
                req += b"\r\n" + body
                reason = b"OK" if st == 200 else b"No Content"
                if st == 204:
                    rsp = b"HTTP/1.1 204 No Content\r\n\r\n"
                else:
                    rsp = (b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                           % (st, reason, len(resp))) + resp
                w.frame(cli, srv, cport, sport, cs, ss, 0x18, req)
                cs += len(req)
                w.frame(srv, cli, sport, cport, ss, cs, 0x18, rsp)
                ss += len(rsp)
                w.frame(cli, srv, cport, sport, cs, ss, 0x10)
            w.frame(cli, srv, cport, sport, cs, ss, 0x11)
            w.frame(srv, cli, sport, cport, ss, cs + 1, 0x11)
            w.frame(cli, srv, cport, sport, cs + 1, ss + 1, 0x10)
    truth = {"requests": n_flood, "legit_exchanges": n_legit, "connections": conn,
             "legit_operations": ["%s %s" % op for op in LEGIT]}
    with open(a.out + ".truth.json", "w") as f:
        json.dump(truth, f, indent=1)
    print("wrote %s: %d requests (%d legitimate) on %d connections" % (a.out, n_flood, n_legit, conn))


if __name__ == "__main__":
    main()
