#!/usr/bin/env python3
"""PowerDNS Authoritative workload: its HTTP API from python-requests (PowerDNS ships no HTTP
API client; pdnsutil talks to the backend directly).

    python3 workload.py --url http://127.0.0.1:PORT --key KEY [--seed 8]

Zones with user-chosen names (trailing dots; ids as the server hands them out, some
reverse zones), record set PATCHes, metadata kinds, cryptokeys with numeric ids, TSIG keys
with chosen names, the static actions beside ids (`/zones/{id}/rectify`, `/export`,
`/notify`, `/cache/flush`, `/search-data`, `/statistics`, `/config`), errors. Seeded.
"""
import argparse
import random
import sys

import requests

WORDS = ["acme", "blue", "cloud", "delta", "echo", "forge", "globex", "harbor", "initech", "jolt",
         "kilo", "lumen", "metro", "nova", "orbit", "pixel"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--seed", type=int, default=8)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    s = requests.Session()
    s.headers["X-API-Key"] = a.key
    base = a.url.rstrip("/") + "/api/v1"
    n = [0]

    def call(method, path, **kw):
        n[0] += 1
        try:
            return s.request(method, base + path, timeout=30, **kw)
        except requests.RequestException as e:
            print("workload: %s %s: %s" % (method, path, e), file=sys.stderr)

    call("GET", "/servers")
    call("GET", "/servers/localhost")
    call("GET", "/servers/localhost/config")
    call("GET", "/servers/localhost/statistics")
    zones = []
    for i in range(14):
        if rnd.random() < 0.2:
            name = "%d.%d.10.in-addr.arpa." % (rnd.randint(0, 255), i)
        else:
            name = "%s%s.%s." % (rnd.choice(WORDS), rnd.choice(["", "-labs", "-eu", str(i)]), rnd.choice(["com", "org", "net", "example"]))
        body = {"name": name, "kind": rnd.choice(["Native", "Master"]), "nameservers": ["ns1.%s" % name, "ns2.%s" % name],
                "soa_edit_api": "INCEPTION-INCREMENT"}
        r = call("POST", "/servers/localhost/zones", json=body)
        if r is not None and r.status_code == 201:
            zones.append(r.json()["id"])
    call("POST", "/servers/localhost/zones", json={"name": zones[0], "kind": "Native", "nameservers": []})  # 409
    call("GET", "/servers/localhost/zones")
    call("GET", "/servers/localhost/zones", params={"zone": zones[1]})
    for z in zones:
        call("GET", "/servers/localhost/zones/" + z)
        for _ in range(rnd.randint(1, 4)):
            host = "%s.%s" % (rnd.choice(["www", "api", "mail", "vpn", "db", "cdn"]), z)
            rrsets = [{"name": host, "type": "A", "ttl": rnd.choice([60, 300, 3600]), "changetype": "REPLACE",
                       "records": [{"content": "192.0.2.%d" % rnd.randint(1, 254), "disabled": False}]}]
            if rnd.random() < 0.4:
                rrsets.append({"name": z, "type": "TXT", "ttl": 300, "changetype": "REPLACE",
                               "records": [{"content": '"v=spf1 -all"', "disabled": False}],
                               "comments": [{"content": "spf", "account": rnd.choice(WORDS)}]})
            call("PATCH", "/servers/localhost/zones/" + z, json={"rrsets": rrsets})
        if rnd.random() < 0.5:
            call("PUT", "/servers/localhost/zones/" + z, json={"kind": "Native", "account": rnd.choice(WORDS)})
        for action in rnd.sample(["rectify", "export", "notify", "axfr-retrieve"], 3):
            call("PUT" if action in ("rectify", "notify", "axfr-retrieve") else "GET",
                 "/servers/localhost/zones/%s/%s" % (z, action))
        call("GET", "/servers/localhost/zones/%s/metadata" % z)
        for kind in rnd.sample(["ALLOW-AXFR-FROM", "X-REALEVAL-OWNER", "SOA-EDIT", "AXFR-SOURCE"], 2):
            call("POST", "/servers/localhost/zones/%s/metadata" % z, json={"kind": kind, "metadata": ["192.0.2.%d" % rnd.randint(1, 9)] if "AXFR" in kind else [rnd.choice(WORDS).upper() if kind == "SOA-EDIT" else rnd.choice(WORDS)]})
            call("GET", "/servers/localhost/zones/%s/metadata/%s" % (z, kind))
            if rnd.random() < 0.4:
                call("DELETE", "/servers/localhost/zones/%s/metadata/%s" % (z, kind))
        if rnd.random() < 0.5:
            r = call("POST", "/servers/localhost/zones/%s/cryptokeys" % z, json={"keytype": rnd.choice(["ksk", "zsk", "csk"]), "active": True})
            call("GET", "/servers/localhost/zones/%s/cryptokeys" % z)
            if r is not None and r.status_code == 201:
                kid = r.json()["id"]
                call("GET", "/servers/localhost/zones/%s/cryptokeys/%d" % (z, kid))
                call("PUT", "/servers/localhost/zones/%s/cryptokeys/%d" % (z, kid), json={"active": False})
                if rnd.random() < 0.5:
                    call("DELETE", "/servers/localhost/zones/%s/cryptokeys/%d" % (z, kid))
    tsig = []
    for i in range(5):
        r = call("POST", "/servers/localhost/tsigkeys", json={"name": "%s-xfr-%d" % (rnd.choice(WORDS), i), "algorithm": "hmac-sha256"})
        if r is not None and r.status_code == 201:
            tsig.append(r.json()["id"])
    call("GET", "/servers/localhost/tsigkeys")
    for t in tsig:
        call("GET", "/servers/localhost/tsigkeys/" + t)
        if rnd.random() < 0.5:
            call("PUT", "/servers/localhost/tsigkeys/" + t, json={"algorithm": "hmac-sha512"})
    for q in rnd.sample(WORDS, 6):
        call("GET", "/servers/localhost/search-data", params={"q": "*%s*" % q, "max": rnd.choice([10, 50]),
                                                              "object_type": rnd.choice(["all", "zone", "record"])})
    for z in rnd.sample(zones, 4):
        call("PUT", "/servers/localhost/cache/flush", params={"domain": z})
    call("GET", "/servers/localhost/statistics", params={"statistic": "uptime"})
    call("GET", "/servers/localhost/zones/nonexistent.invalid.")  # 404
    call("GET", "/servers/otherhost")  # 404
    for t in tsig:
        call("DELETE", "/servers/localhost/tsigkeys/" + t)
    for z in zones:
        if rnd.random() < 0.6:
            call("DELETE", "/servers/localhost/zones/" + z)
    call("GET", "/servers/localhost/zones")
    print("workload: %d requests" % n[0], file=sys.stderr)


if __name__ == "__main__":
    main()
