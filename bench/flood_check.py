#!/usr/bin/env python3
"""Checks a spec learned from bench/flood_capture.py output (outside CI).

    python3 bench/flood_check.py learned.json flood.pcap.truth.json [--max-operations 1000]

Prints the operation count, x-apitap-other, and whether every legitimate operation (by
method and path shape, parameter names ignored) was learned; exit 1 if an operation is
missing or the operation cap is exceeded.
"""
import json
import re
import sys


def shape(p):
    return re.sub(r"\{[^}]*\}", "{}", p)


def main():
    spec = json.load(open(sys.argv[1]))
    truth = json.load(open(sys.argv[2]))
    cap = 1000
    if "--max-operations" in sys.argv:
        cap = int(sys.argv[sys.argv.index("--max-operations") + 1])
    ops = set()
    for p, item in spec.get("paths", {}).items():
        for m in item:
            if m in ("get", "put", "post", "delete", "patch", "head", "options", "trace"):
                ops.add("%s %s" % (m.upper(), shape(p)))
    missing = [o for o in truth["legit_operations"]
               if "%s %s" % (o.split()[0], shape(o.split()[1])) not in ops]
    print("operations exported: %d (cap %d)" % (len(ops), cap))
    print("x-apitap-other: %s" % spec.get("info", {}).get("x-apitap-other", 0))
    print("servers: %d" % len(spec.get("servers", [])))
    print("legitimate operations learned: %d/%d" % (len(truth["legit_operations"]) - len(missing),
                                                     len(truth["legit_operations"])))
    if missing:
        print("MISSING:", missing)
    sys.exit(1 if missing or len(ops) > cap else 0)


if __name__ == "__main__":
    main()
