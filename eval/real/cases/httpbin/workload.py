#!/usr/bin/env python3
"""httpbin workload: python-requests (httpbin has no client of its own) against httpbin.

    python3 workload.py --url http://127.0.0.1:PORT [--seed 8] [--n 700]

Every documented endpoint family with varied path values (status codes, byte counts, user
names, cookie names, base64 payloads, etags), static siblings beside templates
(`/cookies/set` beside `/cookies/set/{name}/{value}`, `/anything` beside `/anything/{anything}`),
query strings, JSON/form bodies, redirects (not followed), compressed responses. Seeded.
"""
import argparse
import base64
import random
import sys

import requests

WORDS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--n", type=int, default=700)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    s = requests.Session()
    u = a.url.rstrip("/")
    w = lambda: rnd.choice(WORDS)
    # credentials as a client testing auth sends them: each attempt its own password, the
    # digest algorithm varied; drawn from their own stream so every other draw of the
    # workload (and so the rest of the capture) is the one of the original seed
    cred = random.Random(a.seed * 1000 + 7)
    pw = lambda: "pw%d" % cred.randint(0, 99)

    def hidden_basic(user, _unused):
        # `_unused`: the draw the original workload spent on a (mismatched) auth user
        p = pw()
        return call("GET", "/hidden-basic-auth/%s/%s" % (user, p),
                    auth=(user, p) if cred.random() < 0.5 else (user, "wrong"))

    def call(method, path, **kw):
        kw.setdefault("allow_redirects", False)
        kw.setdefault("timeout", 30)
        sess = s if rnd.random() < 0.8 else requests
        try:
            return sess.request(method, u + path, **kw)
        except requests.RequestException as e:
            print("workload: %s %s: %s" % (method, path, e), file=sys.stderr)

    actions = [
        (8, lambda: call("GET", "/get", params={"q": w(), "page": rnd.randint(1, 9)})),
        (5, lambda: call("POST", "/post", json={"user": w(), "n": rnd.randint(0, 99), "tags": [w()]})),
        (3, lambda: call("POST", "/post", data={"name": w(), "age": str(rnd.randint(18, 90))})),
        (3, lambda: call("PUT", "/put", json={"id": rnd.randint(1, 999), "active": rnd.random() < 0.5})),
        (3, lambda: call("PATCH", "/patch", json={"note": w()})),
        (3, lambda: call("DELETE", "/delete", params={"id": rnd.randint(1, 999)})),
        (6, lambda: call(rnd.choice(["GET", "POST", "PUT", "DELETE", "PATCH"]), "/anything",
                         json={"k": w()})),
        (8, lambda: call(rnd.choice(["GET", "POST", "PUT", "DELETE", "PATCH"]),
                         "/anything/%s" % rnd.choice([w(), "%s-%d" % (w(), rnd.randint(1, 99)), str(rnd.randint(1, 9999))]))),
        (8, lambda: call(rnd.choice(["GET", "POST", "PUT", "DELETE", "PATCH"]),
                         "/status/%s" % rnd.choice(["200", "201", "204", "400", "404", "418", "500", "503", "200,201"]))),
        (4, lambda: call("GET", "/bytes/%d" % rnd.randint(1, 512), params={"seed": rnd.randint(0, 9)})),
        (2, lambda: call("GET", "/stream-bytes/%d" % rnd.randint(1, 512))),
        (3, lambda: call("GET", "/stream/%d" % rnd.randint(1, 5))),
        (3, lambda: call("GET", "/range/%d" % rnd.randint(1, 1024), headers={"Range": "bytes=0-%d" % rnd.randint(0, 50)})),
        (2, lambda: call("GET", "/delay/%s" % rnd.choice(["0", "0.1", "0.2"]))),
        (2, lambda: call("GET", "/drip", params={"numbytes": rnd.randint(1, 20), "duration": 0, "delay": 0})),
        (4, lambda: call("GET", "/base64/%s" % base64.urlsafe_b64encode(("hello %s" % w()).encode()).decode())),
        (4, lambda: call("GET", "/basic-auth/%s/%s" % (w(), "pw%d" % rnd.randint(0, 99)), auth=(w(), "pw"))),
        (2, lambda: hidden_basic(w(), w())),
        (2, lambda: call("GET", "/bearer", headers={"Authorization": "Bearer tok%d" % rnd.randint(0, 9)} if rnd.random() < 0.7 else {})),
        (3, lambda: call("GET", "/cache", headers={"If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"} if rnd.random() < 0.5 else {})),
        (3, lambda: call("GET", "/cache/%d" % rnd.randint(1, 3600))),
        (3, lambda: call("GET", "/etag/%s" % rnd.choice(["abc", "v%d" % rnd.randint(1, 9), w()]),
                         headers={"If-None-Match": "abc"} if rnd.random() < 0.4 else {})),
        (3, lambda: call("GET", "/links/%d/%d" % (rnd.randint(1, 10), rnd.randint(0, 9)))),
        (3, lambda: call("GET", "/redirect/%d" % rnd.randint(1, 6))),
        (2, lambda: call("GET", "/relative-redirect/%d" % rnd.randint(1, 6))),
        (2, lambda: call("GET", "/absolute-redirect/%d" % rnd.randint(1, 6))),
        (3, lambda: call(rnd.choice(["GET", "POST"]), "/redirect-to",
                         params={"url": "/get", "status_code": rnd.choice([302, 307])})),
        (3, lambda: call("GET", "/cookies")),
        (3, lambda: call("GET", "/cookies/set", params={w(): str(rnd.randint(0, 99))})),
        (4, lambda: call("GET", "/cookies/set/%s/%s" % (w(), rnd.randint(0, 999)))),
        (2, lambda: call("GET", "/cookies/delete", params={w(): ""})),
        (4, lambda: call("GET", "/headers")),
        (3, lambda: call("GET", "/ip")),
        (4, lambda: call("GET", "/uuid")),
        (3, lambda: call("GET", "/user-agent")),
        (2, lambda: call(rnd.choice(["GET", "POST"]), "/response-headers", params={"X-Team": w()})),
        (2, lambda: call("GET", "/json")),
        (1, lambda: call("GET", "/xml")),
        (1, lambda: call("GET", "/html")),
        (1, lambda: call("GET", "/robots.txt")),
        (1, lambda: call("GET", "/deny")),
        (1, lambda: call("GET", "/encoding/utf8")),
        (2, lambda: call("GET", "/gzip")),
        (2, lambda: call("GET", "/deflate")),
        (1, lambda: call("GET", "/image", headers={"Accept": "image/svg+xml"})),
        (1, lambda: call("GET", "/image/svg")),
        (2, lambda: call("GET", "/digest-auth/auth/%s/%s" % (w(), pw()))),
        (1, lambda: call("GET", "/digest-auth/auth/%s/%s/%s" % (w(), pw(), rnd.choice(["MD5", "SHA-256"])))),
    ]
    weights = [x[0] for x in actions]
    for _ in range(a.n):
        rnd.choices(actions, weights)[0][1]()
    print("workload: %d requests" % a.n, file=sys.stderr)


if __name__ == "__main__":
    main()
