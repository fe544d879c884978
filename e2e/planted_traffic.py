#!/usr/bin/env python3
"""Planted-secret traffic for e2e/secrets.sh: a small HTTP server and a client that sends
secrets and PII in JSON and form bodies, query strings, headers, cookies and path segments.

    planted_traffic.py serve PORT            # the server (answers JSON that echoes PII)
    planted_traffic.py client PORT ROUNDS    # the client
    planted_traffic.py values                # the planted values, one per line

Each value is sent many times by each of three "users", so repetition alone would make a
letters-only secret look like an enum; the e2e asserts that none appears in any export.
"""
import http.client
import http.server
import json
import sys
import urllib.parse

USERS = [
    {"passphrase": "correcthorsebatterystaple", "maiden": "featherstonehaugh",
     "memorable": "bluebottlefly", "answer": "rosebudsledge", "email": "ann.lee@planted.example",
     "phone": "+14155550142", "ssn": "123-45-6789", "card": "4111111111111111",
     "iban": "GB82WEST12345698765432", "apikey": "AKIAPLANTEDKEY000001",
     "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwbGFudGVkMSJ9.cGxhbnRlZHNpZ25hdHVyZTE",
     "session": "sessplantedaaaaaaaaaa1", "otp": "plantedotpone", "ip": "192.168.77.101",
     "name": "Zebediah Quartermaine"},
    {"passphrase": "tangerinedreamscape", "maiden": "wolstenholme",
     "memorable": "greenfinchnest", "answer": "kestrelhover", "email": "bo.chen@planted.example",
     "phone": "+442079460958", "ssn": "234-56-7890", "card": "5555555555554444",
     "iban": "DE89370400440532013000", "apikey": "AKIAPLANTEDKEY000002",
     "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwbGFudGVkMiJ9.cGxhbnRlZHNpZ25hdHVyZTI",
     "session": "sessplantedbbbbbbbbbb2", "otp": "plantedotptwo", "ip": "192.168.77.102",
     "name": "Philippa Aldergrove"},
    {"passphrase": "marmaladeskies", "maiden": "cholmondeley",
     "memorable": "redkiteglide", "answer": "harrierswoop", "email": "cy.diaz@planted.example",
     "phone": "+33142685300", "ssn": "345-67-8901", "card": "378282246310005",
     "iban": "FR1420041010050500013M02606", "apikey": "AKIAPLANTEDKEY000003",
     "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwbGFudGVkMyJ9.cGxhbnRlZHNpZ25hdHVyZTM",
     "session": "sessplantedcccccccccc3", "otp": "plantedotpthree", "ip": "192.168.77.103",
     "name": "Montgomery Blackwood"},
]


def values():
    out = []
    for u in USERS:
        out.extend(u.values())
    return out


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        # the profile answer carries PII too (responses are captured as well)
        u = USERS[hash(self.path) % len(USERS)]
        body = json.dumps({"status": "active", "contact_email": u["email"],
                           "mobile": u["phone"], "full_name": u["name"],
                           "last_login_ip": u["ip"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Set-Cookie", "session=%s; HttpOnly" % u["session"])
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _answer


def client(port, rounds):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for r in range(rounds):
        for u in USERS:
            hdrs = {"Host": "planted.test", "X-Api-Key": u["apikey"],
                    "Authorization": "Bearer " + u["jwt"], "X-Memorable": u["memorable"],
                    "X-Forwarded-For": u["ip"],
                    "Cookie": "session=%s; otp=%s; theme=dark" % (u["session"], u["otp"])}
            body = json.dumps({"passphrase": u["passphrase"], "mothers_maiden": u["maiden"],
                               "memorable_word": u["memorable"], "email": u["email"],
                               "card_number": u["card"], "iban": u["iban"],
                               "phone": u["phone"], "status": ["active", "closed"][r % 2]})
            reqs = [
                ("POST", "/v1/login", body, "application/json"),
                ("POST", "/v1/recover", urllib.parse.urlencode(
                    {"security_answer": u["answer"], "email": u["email"],
                     "otp_code": u["otp"]}), "application/x-www-form-urlencoded"),
                ("GET", "/v1/search?" + urllib.parse.urlencode(
                    {"email": u["email"], "phone": u["phone"], "token": u["session"],
                     "q": u["memorable"]}), None, None),
                ("GET", "/v1/lookup/ssn/" + u["ssn"], None, None),
                ("GET", "/v1/users/" + urllib.parse.quote(u["phone"], safe="+") + "/profile",
                 None, None),
                ("GET", "/v1/users/" + urllib.parse.quote(u["email"]) + "/settings", None, None),
                ("GET", "/v1/cards/" + u["card"], None, None),
                ("GET", "/v1/accounts/" + u["iban"], None, None),
            ]
            for m, path, b, ct in reqs:
                h = dict(hdrs)
                if ct:
                    h["Content-Type"] = ct
                c.request(m, path, body=b.encode() if b else None, headers=h)
                resp = c.getresponse()
                resp.read()


def main():
    cmd = sys.argv[1]
    if cmd == "serve":
        http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Handler).serve_forever()
    elif cmd == "client":
        client(int(sys.argv[2]), int(sys.argv[3]))
    elif cmd == "values":
        for v in values():
            print(v)
            # the forms a value may take on the wire or in a spec
            q = urllib.parse.quote(v, safe="")
            if q != v:
                print(q)


if __name__ == "__main__":
    main()
