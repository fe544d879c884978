#!/usr/bin/env python3
"""Regenerate the HTTP stream fixtures from the corpus (needs tshark).

Usage: make_fixtures.py CORPUS_DIR CASE...   e.g. make_fixtures.py /work/shared/corpus zeek/x-gzip

Writes <case>.stream (TCP payloads of every connection, capture order, from
`tshark -q -z follow,tcp,raw,N`; tshark's "[N bytes missing in capture file]" marker becomes
a gap record) and <case>.expected (the case's expected.tsv, unchanged) next to this script.
"""
import glob, os, re, subprocess, sys

OUT = os.path.dirname(os.path.abspath(__file__))


def streams(pcap):
    out = subprocess.run(["tshark", "-r", pcap, "-T", "fields", "-e", "tcp.stream", "-Y", "tcp.len>0"],
                         capture_output=True, text=True).stdout
    return sorted({int(x) for x in out.split() if x.strip().isdigit()})


def follow(pcap, n):
    out = subprocess.run(["tshark", "-r", pcap, "-q", "-z", f"follow,tcp,raw,{n}"],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        if not line.strip() or line.startswith(("===", "Follow", "Filter", "Node")):
            continue
        yield ("<" if line.startswith("\t") else ">"), bytes.fromhex(line.strip())


def make(corpus, case):
    d = os.path.join(corpus, case)
    pcap = [f for f in sorted(glob.glob(d + "/*")) if f.endswith((".pcap", ".pcapng", ".gz"))][0]
    name = case.replace("/", "__")
    with open(os.path.join(OUT, name + ".stream"), "wb") as f:
        f.write(f"# {case}: TCP payload streams extracted with tshark -z follow,tcp,raw (g: capture gap)\n".encode())
        for n in streams(pcap):
            f.write(f"= conn {n}\n".encode())
            for dirc, b in follow(pcap, n):
                m = re.fullmatch(rb"\[(\d+) bytes missing in capture file\]\x00?", b)
                if m:
                    f.write(f"g{dirc} {int(m.group(1))}\n".encode())
                    continue
                f.write(f"{dirc} {len(b)}\n".encode() + b + b"\n")
    exp = os.path.join(d, "expected.tsv")
    if os.path.exists(exp):
        with open(exp) as src, open(os.path.join(OUT, name + ".expected"), "w") as dst:
            dst.write(src.read())


if __name__ == "__main__":
    for c in sys.argv[2:]:
        make(sys.argv[1], c)
