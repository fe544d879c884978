#!/usr/bin/env python3
"""Check apitap's exchanges on h2c-upgraded connections against tshark's view.

usage: upgrade_check.py APITAP PCAP PORT

tshark decodes PORT as HTTP, so it follows each `101 Switching Protocols` into HTTP/2.
Truth per (client port, stream id): the HTTP/1.1 request that carried `Upgrade: h2c` is
stream 1 (RFC 7540 §3.2) with the status of the HTTP/2 response on stream 1; every later
stream has the method, :path and :status of its HEADERS frames. apitap must report each
of them once with the same values, streams other than 1 as version HTTP/2, and no
exchange with status 101. Prints the figures; exit 1 on any difference.
"""
import json
import subprocess
import sys
import xml.etree.ElementTree as ET


def tshark_truth(pcap, port):
    xml = subprocess.run(
        ["tshark", "-r", pcap, "-d", f"tcp.port=={port},http", "-Y", "http or http2.type==1",
         "-T", "pdml"], check=True, capture_output=True).stdout
    truth = {}
    for pkt in ET.fromstring(xml).iter("packet"):
        fields = {}
        for f in pkt.iter("field"):
            fields.setdefault(f.get("name"), f.get("show"))
        sport, dport = int(fields["tcp.srcport"]), int(fields["tcp.dstport"])
        client = dport if sport == port else sport
        if "http.request.method" in fields:
            truth.setdefault((client, 1), {}).update(
                method=fields["http.request.method"], path=fields["http.request.uri"])
        for st in pkt.iter("field"):
            if st.get("name") != "http2.stream":
                continue
            kind = sid = None
            hdrs = {}
            for f in st.iter("field"):
                n = f.get("name")
                if n == "http2.type":
                    kind = f.get("show")
                elif n == "http2.streamid":
                    sid = int(f.get("show"))
                elif n in ("http2.headers.method", "http2.headers.path", "http2.headers.status"):
                    hdrs.setdefault(n.rsplit(".", 1)[1], f.get("show"))
            if kind != "1" or not hdrs:
                continue
            cur = truth.setdefault((client, sid), {})
            for k, v in hdrs.items():
                cur.setdefault(k, v)
    return truth


def main():
    apitap, pcap, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    truth = tshark_truth(pcap, port)
    out = subprocess.run([apitap, "exchanges", pcap], check=True, capture_output=True,
                         text=True).stdout
    got, bad = {}, 0
    for line in out.splitlines():
        ex = json.loads(line)
        key = (int(ex["client"].rsplit(":", 1)[1]), ex.get("stream_id"))
        d = {}
        if ex.get("method") is not None:
            d.update(method=ex["method"], path=ex["uri"])
        if ex.get("status") is not None:
            d["status"] = str(ex["status"])
        if key in got or ex.get("status") == 101:
            print(f"  BAD: duplicate or 101 exchange {key}: {d}")
            bad += 1
        if key[1] not in (None, 1) and ex.get("version") != "HTTP/2":
            print(f"  BAD: stream {key} has version {ex.get('version')!r}")
            bad += 1
        got[key] = d
    for key in sorted(set(truth) | set(got), key=str):
        if truth.get(key) != got.get(key):
            print(f"  DIFF client port {key[0]} stream {key[1]}: "
                  f"tshark {truth.get(key)} apitap {got.get(key)}")
            bad += 1
    upgraded = sum(1 for k in truth if k[1] == 1)
    print(f"{pcap}: tshark streams {len(truth)} ({upgraded} upgraded requests), "
          f"apitap exchanges {len(got)}, differences {bad}")
    sys.exit(1 if bad or upgraded == 0 else 0)


if __name__ == "__main__":
    main()
