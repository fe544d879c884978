"""Prints the increase of apitap's counters between two /metrics scrapes (for overhead.sh)."""
import sys


def load(path):
    d = {}
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        k, v = line.rsplit(" ", 1)
        name = k.split("{")[0]
        d[name] = d.get(name, 0.0) + float(v)
    return d


a, b = load(sys.argv[1]), load(sys.argv[2])
keys = ["apitap_packets_captured_total", "apitap_kernel_drops_total", "apitap_interface_drops_total",
        "apitap_queue_drops_total", "apitap_exchanges_total", "process_cpu_seconds_total"]
print(" ".join(f"{b.get(k, 0) - a.get(k, 0):.3f}" for k in keys))
