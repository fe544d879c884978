#!/usr/bin/env python3
"""Writes the small seed corpora under seeds/http and seeds/decode (run from engine/fuzz).

http: conversations in the `http` target's record encoding (op, len, bytes).
decode: the first packets of some corpus captures in the `decode` target's encoding
(link selector, mode 0, frame bytes), if /work/shared/corpus is present.
"""
import gzip, os, struct, zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def rec(conv):
    out = b""
    for who, data in conv:
        if who in ("gapc", "gaps", "finc", "fins"):
            op = 6 if who.startswith("gap") else 7
            n = data & ~1 if who.endswith("c") else data | 1
            out += bytes([op, n & 0xFF])
            continue
        op = 0 if who == "c" else 3
        for i in range(0, max(len(data), 1), 255):
            part = data[i : i + 255]
            out += bytes([op, len(part)]) + part
    return out


GZ = gzip.compress(b"hello hello hello hello")
CHUNKED = b"".join(b"%x\r\n%s\r\n" % (len(GZ[i : i + 9]), GZ[i : i + 9]) for i in range(0, len(GZ), 9)) + b"0\r\nX: y\r\n\r\n"
HTTP = {
    "get": [("c", b"GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"), ("s", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")],
    "chunked_gzip": [
        ("c", b"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"),
        ("s", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n" + CHUNKED),
    ],
    "pipeline_100": [
        ("c", b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nPUT /3 HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"),
        ("s", b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nAHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"),
        ("c", b"xy"),
        ("s", b"HTTP/1.1 201 Created\r\n\r\n"),
        ("fins", 0),
    ],
    "connect_tunnel": [
        ("c", b"CONNECT abc:443 HTTP/1.1\r\n\r\n"),
        ("s", b"HTTP/1.1 200 OK\r\n\r\n\n"),
        ("c", b"GE"),
        ("c", b"T / HTTP/1.1\r\n\r\n"),
        ("s", b"HTTP/1.1 200 OK\r\n\r\nbody"),
    ],
    "http09_gap": [
        ("c", b"GET /old\r\n"),
        ("s", b"<html>old</html>"),
        ("gapc", 10),
        ("c", b"GET /new HTTP/1.0\r\n\r\n"),
        ("gaps", 7),
        ("s", b"HTTP/1.0 404 Not Found\r\nContent-Length: 3\r\n\r\nnop"),
        ("finc", 0),
    ],
    "flip": [("s", b"GET / HTTP/1.1\r\n\r\n"), ("c", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")],
    "deflate_br_stack": [
        ("c", b"GET / HTTP/1.1\r\n\r\n"),
        ("s", b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip, deflate\r\nContent-Length: %d\r\n\r\n" % len(zlib.compress(GZ)) + zlib.compress(GZ)),
    ],
}

os.makedirs(os.path.join(HERE, "http"), exist_ok=True)
for name, conv in HTTP.items():
    with open(os.path.join(HERE, "http", name), "wb") as f:
        f.write(rec(conv))

# decode: link selector indexes the target's LINKS table (1 = Ethernet, 3 = RAW_14, ...).
LINK_INDEX = {1: 1, 0: 0, 101: 5, 104: 6, 113: 7, 228: 8, 229: 9, 239: 10, 276: 11}
CORPUS = "/work/shared/corpus"
if os.path.isdir(CORPUS):
    os.makedirs(os.path.join(HERE, "decode"), exist_ok=True)
    n = 0
    per_link = {}
    for root, _, files in sorted(os.walk(CORPUS)):
        for fn in sorted(files):
            if not fn.endswith(".pcap"):
                continue
            raw = open(os.path.join(root, fn), "rb").read()
            if len(raw) < 24 or raw[:4] not in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
                continue
            link = struct.unpack("<I", raw[20:24])[0] & 0xFFFF
            if link not in LINK_INDEX or per_link.get(link, 0) >= 6:
                continue
            off, k = 24, 0
            while off + 16 <= len(raw) and k < 4:
                incl = struct.unpack("<I", raw[off + 8 : off + 12])[0]
                pkt = raw[off + 16 : off + 16 + incl]
                off += 16 + incl
                if len(pkt) > 200 or k > 0 and len(pkt) < 60:
                    k += 1
                    continue
                with open(os.path.join(HERE, "decode", f"{link}-{n}"), "wb") as f:
                    f.write(bytes([LINK_INDEX[link], 0]) + pkt)
                n += 1
                k += 1
                per_link[link] = per_link.get(link, 0) + 1
