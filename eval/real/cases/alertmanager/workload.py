#!/usr/bin/env python3
"""Alertmanager workload: the real `amtool` CLI against a local Alertmanager (API v2).

    python3 workload.py --url http://127.0.0.1:PORT [--seed 8]

Fires alerts with varied labels, queries them with matchers, creates silences (by matchers,
by import), updates and expires them by their server-assigned UUIDs, reads status and the
config. Seeded.
"""
import argparse
import json
import random
import subprocess
import sys
import tempfile

SERVICES = ["checkout", "payments", "search", "auth", "billing", "inventory", "mailer", "gateway"]
ALERTS = ["HighLatency", "ErrorBudgetBurn", "DiskFull", "PodCrashLooping", "CertExpiring", "QueueBacklog"]
SEVS = ["critical", "warning", "info"]
N = [0]


def amtool(url, *args, ok=True):
    cmd = ["amtool", "--alertmanager.url=" + url] + [str(a) for a in args]
    N[0] += 1
    r = subprocess.run(cmd, capture_output=True, timeout=60)
    if ok and r.returncode != 0:
        print("workload: failed: %s: %s" % (" ".join(cmd), r.stderr.decode(errors="replace")[-200:]), file=sys.stderr)
    return r.stdout.decode(errors="replace")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--seed", type=int, default=8)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    u = a.url
    amtool(u, "config", "show")
    amtool(u, "cluster", "show")
    for i in range(60):
        labels = ["alertname=" + rnd.choice(ALERTS), "service=" + rnd.choice(SERVICES),
                  "severity=" + rnd.choice(SEVS), "instance=10.0.%d.%d:9100" % (rnd.randint(0, 9), rnd.randint(1, 250))]
        extra = []
        if rnd.random() < 0.5:
            extra += ["--annotation=summary=%s is degraded" % rnd.choice(SERVICES)]
        if rnd.random() < 0.3:
            extra += ["--generator-url=http://prometheus.example:9090/graph?g0.expr=up"]
        if rnd.random() < 0.2:
            extra += ["--end=2031-01-0%dT00:00:00Z" % rnd.randint(1, 9)]
        amtool(u, "alert", "add", *labels, *extra)
        if i % 4 == 0:
            q = rnd.choice([[], ["service=" + rnd.choice(SERVICES)], ["alertname=~" + rnd.choice(ALERTS)[:4] + ".*"],
                            ["severity=critical", "service!=" + rnd.choice(SERVICES)]])
            amtool(u, "-o", rnd.choice(["simple", "extended", "json"]), "alert", "query", *q)
    silences = []
    for i in range(40):
        m = ["service=" + rnd.choice(SERVICES)]
        if rnd.random() < 0.5:
            m.append("alertname=" + rnd.choice(ALERTS))
        out = amtool(u, "silence", "add", "--author=" + rnd.choice(["ana", "bo", "chen", "dev"]),
                     "--comment=maintenance %d" % i, "--duration=%dh" % rnd.randint(1, 48), *m).strip()
        if out:
            silences.append(out)
        if i % 5 == 0:
            amtool(u, "-o", rnd.choice(["simple", "extended", "json"]), "silence", "query",
                   *(["service=" + rnd.choice(SERVICES)] if rnd.random() < 0.5 else []))
    imports = [{"matchers": [{"name": "service", "value": s, "isRegex": False, "isEqual": True}],
                "startsAt": "2030-01-01T00:00:00Z", "endsAt": "2030-01-02T00:00:00Z",
                "createdBy": "import", "comment": "imported %s" % s} for s in rnd.sample(SERVICES, 5)]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(imports, f)
    amtool(u, "silence", "import", f.name)
    for sid in rnd.sample(silences, min(12, len(silences))):
        amtool(u, "silence", "update", "--comment=extended", "--duration=%dh" % rnd.randint(2, 72), sid)
    for sid in rnd.sample(silences, min(15, len(silences))):
        amtool(u, "silence", "expire", sid, ok=False)
    amtool(u, "silence", "expire", "00000000-0000-0000-0000-000000000000", ok=False)  # unknown id
    amtool(u, "-o", "json", "silence", "query", "--expired")
    amtool(u, "-o", "json", "alert", "query", "--active", "--silenced")
    amtool(u, "config", "routes", "test", "service=payments", "severity=critical")
    print("workload: %d amtool commands" % N[0], file=sys.stderr)


if __name__ == "__main__":
    main()
