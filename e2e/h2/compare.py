#!/usr/bin/env python3
"""Compare apitap's HTTP/2 exchanges with tshark's HTTP/2 dissector on one capture.

usage: compare.py APITAP PCAP PORT [--min-agreement F]
       compare.py APITAP PCAP PORT --truth FULL_PCAP

For every (client port, stream id) tshark decodes a request or response header block on,
the method, :path, :status and grpc-status apitap reports for that stream must match
tshark's. Prints one line of figures; exits 1 if the agreement is below the minimum
(default 1.0) or apitap reports a stream tshark does not.

With --truth, PCAP is a capture that starts mid-connection (cut from FULL_PCAP) and tshark
decodes FULL_PCAP for the truth: every value apitap reports on PCAP must be right (exit 1
otherwise: a picked-up connection must never invent a value); the figures say how much
of the truth for the streams that PCAP holds was recovered.
"""
import json
import subprocess
import sys
import xml.etree.ElementTree as ET


def tshark_streams(pcap, port):
    xml = subprocess.run(
        ["tshark", "-r", pcap, "-d", f"tcp.port=={port},http2", "-Y", "http2.type==1",
         "-T", "pdml"],
        check=True, capture_output=True).stdout
    streams = {}
    for pkt in ET.fromstring(xml).iter("packet"):
        sport = dport = None
        for f in pkt.iter("field"):
            if f.get("name") == "tcp.srcport":
                sport = int(f.get("show"))
            elif f.get("name") == "tcp.dstport":
                dport = int(f.get("show"))
        client = dport if sport == port else sport
        for st in pkt.iter("field"):
            if st.get("name") != "http2.stream":
                continue
            kind = sid = None
            hdrs = {}
            last_name = None
            for f in st.iter("field"):
                n = f.get("name")
                if n == "http2.header.name":
                    last_name = f.get("show")
                elif n == "http2.header.value" and last_name == "grpc-status":
                    hdrs.setdefault("grpc_status", f.get("show"))
                if n == "http2.type":
                    kind = f.get("show")
                elif n == "http2.streamid":
                    sid = int(f.get("show"))
                elif n in ("http2.headers.method", "http2.headers.path", "http2.headers.status"):
                    hdrs.setdefault(n.rsplit(".", 1)[1], f.get("show"))
            if kind != "1" or not hdrs:
                continue
            cur = streams.setdefault((client, sid), {})
            for k, v in hdrs.items():
                # the first request pseudo-headers count; a final status replaces a 1xx
                if k not in cur or (k == "status" and cur[k].startswith("1")):
                    cur[k] = v
    return streams


def apitap_streams(apitap, pcap):
    out = subprocess.run([apitap, "exchanges", pcap], check=True, capture_output=True,
                         text=True).stdout
    streams = {}
    for line in out.splitlines():
        ex = json.loads(line)
        if ex.get("stream_id") is None:
            continue
        client = int(ex["client"].rsplit(":", 1)[1])
        d = {}
        if ex.get("method") is not None:
            d["method"] = ex["method"]
            d["path"] = ex["uri"]
        if ex.get("status") is not None:
            d["status"] = str(ex["status"])
        for k, v in ex.get("response_headers") or []:
            if k == "grpc-status":
                d.setdefault("grpc_status", v)
        streams[(client, ex["stream_id"])] = d
    return streams


def pickup(apitap, pcap, port, full):
    truth = tshark_streams(full, port)
    seen = tshark_streams(pcap, port)  # streams with a header block inside the cut capture
    got = apitap_streams(apitap, pcap)
    wrong = right = 0
    for key, g in sorted(got.items()):
        t = truth.get(key, {})
        for k, v in g.items():
            if t.get(k) == v:
                right += 1
            else:
                wrong += 1
                print(f"  WRONG: client port {key[0]} stream {key[1]} {k}: "
                      f"truth {t.get(k)!r} apitap {v!r}")
    # what could have been recovered: fields of streams whose header blocks are in PCAP
    possible = sum(len(truth.get(key, {})) for key in seen)
    pseudo = {k: 0 for k in ("method", "path", "status")}
    for key in seen:
        for k in pseudo:
            if k in truth.get(key, {}) and got.get(key, {}).get(k) == truth[key][k]:
                pseudo[k] += 1
    total = {k: sum(1 for key in seen if k in truth.get(key, {})) for k in pseudo}
    recall = right / possible if possible else 0.0
    print(f"{pcap} (picked up): streams in cut {len(seen)}, apitap streams {len(got)}, "
          f"values right {right}, wrong {wrong}, recall {recall:.4f} "
          + ", ".join(f"{k} {pseudo[k]}/{total[k]}" for k in pseudo))
    sys.exit(0 if wrong == 0 and right > 0 else 1)


def main():
    apitap, pcap, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if "--truth" in sys.argv:
        pickup(apitap, pcap, port, sys.argv[sys.argv.index("--truth") + 1])
    minimum = 1.0
    if "--min-agreement" in sys.argv:
        minimum = float(sys.argv[sys.argv.index("--min-agreement") + 1])
    want = tshark_streams(pcap, port)
    got = apitap_streams(apitap, pcap)
    fields = agree = 0
    for key, w in sorted(want.items()):
        g = got.get(key, {})
        for k, v in w.items():
            fields += 1
            if g.get(k) == v:
                agree += 1
            else:
                print(f"  differs: client port {key[0]} stream {key[1]} {k}: "
                      f"tshark {v!r} apitap {g.get(k)!r}")
    extra = sorted(set(got) - set(want))
    for key in extra:
        print(f"  only in apitap: client port {key[0]} stream {key[1]}: {got[key]}")
    ratio = agree / fields if fields else 0.0
    print(f"{pcap}: tshark streams {len(want)}, apitap streams {len(got)}, "
          f"fields {fields}, agree {agree} ({ratio:.4f}), only in apitap {len(extra)}")
    sys.exit(0 if fields and ratio >= minimum and not extra else 1)


if __name__ == "__main__":
    main()
