#!/usr/bin/env python3
"""Collector measurements with real processes (outside CI; figures go into the issue notes).

  attack  APITAP            hostile pushes: peak RSS (VmHWM) and answer of a fresh collector per attack
                            (200k-endpoint crafted push; 57 MB unknown-field push as 57 KB gzip;
                            1,000 services: RSS after 100 and after 1,000)
  concurrency APITAP...     200 concurrent pushes (to 200 services, then to one service): wall time,
                            one line per binary given (e.g. a baseline build and this one)
  store APITAP PG_BIN_DIR [SETUPS [SERVICES [SOURCES]]]
                            pushes and merged observations per CPU-second for one replica on redb
                            (redb), one on PostgreSQL (pg1) and three on PostgreSQL (pg3); cost vs
                            services and sources; then the CPU of settling each service (a
                            versions read merges its sources and records the spec version)

Every collector is started by the script on 127.0.0.1 (ports 18830-18839, PostgreSQL on 18852) and
stopped at the end. Binaries are `apitap` builds (the `collector` subcommand is used).
"""
import concurrent.futures as cf
import gzip
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

PORT0 = 18830


def start(apitap, port, data, extra=()):
    log = open(os.path.join(data, f"collector-{port}.log"), "w")
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
        raise SystemExit(f"port {port} is already in use")
    except urllib.error.URLError:
        pass
    p = subprocess.Popen([apitap, "collector", "--listen", f"127.0.0.1:{port}", "--data-dir", data, *extra],
                         stdout=subprocess.DEVNULL, stderr=log)
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            if p.poll() is not None:
                raise SystemExit(f"collector on {port} exited")
            return p
        except Exception:
            time.sleep(0.05)
    p.kill()
    raise SystemExit(f"collector on {port} did not start")


def status_of(pid):
    out = {}
    for line in open(f"/proc/{pid}/status"):
        k, _, v = line.partition(":")
        if k in ("VmHWM", "VmRSS"):
            out[k] = int(v.split()[0]) // 1024
    return out


def cpu_seconds(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def post(url, body, enc=True, timeout=600):
    data = gzip.compress(body) if enc else body
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": "application/json", **({"Content-Encoding": "gzip"} if enc else {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()[:200]
    except urllib.error.HTTPError as e:
        return e.code, e.read()[:200]
    except Exception as e:  # the collector died (OOM) or reset
        return 0, str(e).encode()


def model(source, service, endpoints, width=8):
    """A native model with `endpoints` endpoints under /aN/bM (each a GET with a small body)."""
    lits = {}
    for i in range(endpoints):
        a, b = f"a{i // 64}", f"b{i % 64}"
        node = lits.setdefault(a, {"hits": 1, "lits": {}})
        node["lits"][b] = {"hits": 1, "eps": {"GET": {
            "n": 1, "first": 1700000000000, "last": 1700000000000,
            "resp": {"200": {"n": 1, "content": {"application/json": {"n": 1, "schema": {
                "n": 1, "t": {"object": 1}, "props": {f"f{k}": {"n": 1, "t": {"string": 1}} for k in range(width)}}}}}}}}}
    return json.dumps({"apitap_model_version": 1, "sources": {source: {
        "services": {service: {"root": {"hits": endpoints, "lits": lits}, "nodes": 1}},
        "stats": {"observed": endpoints}}}}).encode()


def attack(apitap):
    rows = []
    tmp = tempfile.mkdtemp(prefix="collector-bench-")
    try:
        # 1. crafted 200k endpoints (a body that claims "nodes": 1)
        d = os.path.join(tmp, "a1"); os.makedirs(d)
        p = start(apitap, PORT0, d)
        body = model("evil", "svc", 200_000, width=1)
        st, msg = post(f"http://127.0.0.1:{PORT0}/v1/services/evil/models", body)
        rows.append(("200k-endpoint push", f"{len(gzip.compress(body)) // 1024} KB gzip, {len(body) >> 20} MB JSON", st, msg.decode(errors="replace")[:80], status_of(p.pid)))
        p.kill(); p.wait()
        # 2. 57 MB of unknown fields (57 KB gzip)
        d = os.path.join(tmp, "a2"); os.makedirs(d)
        p = start(apitap, PORT0 + 1, d)
        good = model("a", "svc", 3)
        junk = b'{"junk":"' + b"x" * (57 << 20) + b'",' + good[1:]
        st, msg = post(f"http://127.0.0.1:{PORT0 + 1}/v1/services/junk/models", junk)
        rows.append(("57 MB unknown field", f"{len(gzip.compress(junk)) // 1024} KB gzip", st, msg.decode(errors="replace")[:80], status_of(p.pid)))
        p.kill(); p.wait()
        # 3. 1,000 services with a 300-endpoint model each
        d = os.path.join(tmp, "a3"); os.makedirs(d)
        p = start(apitap, PORT0 + 2, d)
        mids = {}
        for i in range(1000):
            st, _ = post(f"http://127.0.0.1:{PORT0 + 2}/v1/services/s{i}/models", model(f"src{i}", f"s{i}", 300))
            assert st == 200, st
            if i + 1 in (100, 1000):
                mids[i + 1] = status_of(p.pid)
        rows.append(("1,000 services × 300 endpoints", "", 200, f"RSS after 100: {mids[100]['VmRSS']} MB", mids[1000]))
        p.kill(); p.wait()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("| attack | body | answer | message | peak RSS (VmHWM) | RSS at end |")
    print("|---|---|---|---|---|---|")
    for name, size, st, msg, s in rows:
        print(f"| {name} | {size} | {st} | {msg} | {s.get('VmHWM')} MB | {s.get('VmRSS')} MB |")


def concurrency(apitaps):
    bodies = [model(f"pod{i}", "svc", 400) for i in range(200)]
    print("| binary | 200 pushes, 200 services | 200 pushes, 1 service | collector CPU s |")
    print("|---|---|---|---|")
    for n, apitap in enumerate(apitaps):
        tmp = tempfile.mkdtemp(prefix="collector-bench-")
        p = start(apitap, PORT0 + 3 + n, tmp)
        url = f"http://127.0.0.1:{PORT0 + 3 + n}/v1/services"
        times = []
        for same in (False, True):
            t0 = time.time()
            with cf.ThreadPoolExecutor(200) as ex:
                res = list(ex.map(lambda ib: post(f"{url}/{'one' if same else 'm' + str(ib[0])}/models", ib[1]), enumerate(bodies)))
            times.append(time.time() - t0)
            assert all(s == 200 for s, _ in res), [s for s, _ in res if s != 200][:5]
        cpu = cpu_seconds(p.pid)
        p.kill(); p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
        print(f"| {apitap} | {times[0]:.1f} s | {times[1]:.1f} s | {cpu:.1f} |")


def pg_start(pgbin, tmp, port=18852):
    data = os.path.join(tmp, "pg")
    os.makedirs(data)
    sock = os.path.join(tmp, "sock"); os.makedirs(sock)
    run = (lambda *a: ["runuser", "-u", "postgres", "--", *a]) if os.getuid() == 0 else (lambda *a: list(a))
    if os.getuid() == 0:
        shutil.chown(data, "postgres"); shutil.chown(sock, "postgres"); os.chmod(tmp, 0o755)
    subprocess.run(run(f"{pgbin}/initdb", "-D", f"{data}/d", "-U", "postgres", "--auth=trust"), check=True, capture_output=True)
    subprocess.run(run(f"{pgbin}/pg_ctl", "-D", f"{data}/d", "-l", f"{data}/log", "-w", "start", "-o",
                       f"-p {port} -k {sock} -c listen_addresses=127.0.0.1"), check=True, capture_output=True)
    stop = lambda: subprocess.run(run(f"{pgbin}/pg_ctl", "-D", f"{data}/d", "-m", "fast", "-w", "stop"), capture_output=True)
    return stop


def pg_cpu(tmp):
    """CPU seconds of this PostgreSQL: the postmaster (its own and its reaped children's, so
    backends that already exited count) plus the live backends. Only our instance's
    processes (by the postmaster pid in its data dir), never another PostgreSQL on the host."""
    pm = int(open(os.path.join(tmp, "pg", "d", "postmaster.pid")).readline())
    tck = os.sysconf("SC_CLK_TCK")
    f = open(f"/proc/{pm}/stat").read().rsplit(")", 1)[1].split()
    total = sum(int(x) for x in f[11:15]) / tck
    out = subprocess.run(["ps", "--ppid", str(pm), "-o", "pid="], capture_output=True, text=True).stdout
    for pid in out.split():
        try:
            total += cpu_seconds(int(pid))
        except OSError:
            pass
    return total


def store_bench(apitap, pgbin, setups=("redb", "pg1", "pg3"), services_list=(1, 10, 100), sources_list=(1, 10, 50)):
    """One row per (setup, services, sources/service). Push CPU: the collectors' and
    PostgreSQL's CPU while every push is sent (including any background settle that ran
    meanwhile). Settle CPU: then one `GET .../versions` per service, which settles it (merges
    its sources and records the spec version), divided by the services."""
    tmp = tempfile.mkdtemp(prefix="collector-bench-")
    stop = pg_start(pgbin, tmp)
    print("| setup | services | sources/service | pushes | collector CPU s | PostgreSQL CPU s | pushes per CPU-s | endpoints merged per CPU-s | CPU ms per push | settle CPU ms per service |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    names = {"redb": ("1 × redb", 0), "pg1": ("1 × PostgreSQL", 1), "pg3": ("3 × PostgreSQL", 3)}
    try:
        k = 0
        for setup, replicas in (names[x] for x in setups):
            for services in services_list:
                for sources in sources_list:
                    if services * sources > 1000:
                        continue
                    k += 1
                    db = f"b{k}"
                    subprocess.run(["psql", "-h", "127.0.0.1", "-p", "18852", "-U", "postgres", "-qc", f"CREATE DATABASE {db}"], check=True)
                    d = os.path.join(tmp, f"c{k}"); os.makedirs(d)
                    procs = []
                    for r in range(max(replicas, 1)):
                        extra = ["--store", f"postgres://postgres@127.0.0.1:18852/{db}"] if replicas else []
                        procs.append(start(apitap, PORT0 + 10 + r, d, extra))
                    # Each source pushes 3 growing snapshots (60, 120, 180 observations over 60 endpoints).
                    jobs = []
                    for s in range(services):
                        for src in range(sources):
                            for step in (1, 2, 3):
                                jobs.append((s, src, step))
                    random.seed(k)
                    bodies = {}
                    def body(s, src, step):
                        m = json.loads(model(f"agent{src}", "svc", 60))
                        ss = m["sources"][f"agent{src}"]
                        ss["stats"]["observed"] = 60 * step
                        ss["services"]["svc"]["root"]["hits"] = 60 * step
                        return gzip.compress(json.dumps(m).encode())
                    for j in jobs:
                        bodies[j] = body(*j)
                    c0 = sum(cpu_seconds(p.pid) for p in procs)
                    pg0 = pg_cpu(tmp)
                    t0 = time.time()
                    def send(i_j):
                        i, (s, src, step) = i_j
                        port = PORT0 + 10 + (i % max(replicas, 1))
                        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/services/s{s}/models", data=bodies[(s, src, step)],
                                                     method="POST", headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
                        return urllib.request.urlopen(req, timeout=120).status
                    # steps in order per source: send step 1 of everything, then 2, then 3
                    order = sorted(jobs, key=lambda j: j[2])
                    try:
                        with cf.ThreadPoolExecutor(16) as ex:
                            res = list(ex.map(send, enumerate(order)))
                    except BaseException:
                        for p in procs:
                            p.kill()
                        raise
                    wall = time.time() - t0
                    assert all(r == 200 for r in res)
                    c1 = sum(cpu_seconds(p.pid) for p in procs)
                    pg1 = pg_cpu(tmp)
                    # settle every service (one versions read each, round-robin)
                    for s in range(services):
                        port = PORT0 + 10 + (s % max(replicas, 1))
                        v = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/services/s{s}/versions"))
                        assert len(v) >= 1, v
                    c2 = sum(cpu_seconds(p.pid) for p in procs)
                    pg2 = pg_cpu(tmp)
                    ccpu = c1 - c0
                    pgcpu = max(pg1 - pg0, 0.0) if replicas else 0.0
                    settle = (c2 - c1) + (max(pg2 - pg1, 0.0) if replicas else 0.0)
                    # exact counts
                    got = json.load(urllib.request.urlopen(f"http://127.0.0.1:{PORT0 + 10}/v1/services"))
                    assert len(got) == services and all(g["observed"] == 180 * sources and g["endpoints"] >= 1 and g["latest_version"] >= 1 for g in got), got[:2]
                    n = len(jobs)
                    cpu = max(ccpu + pgcpu, 1e-9)
                    print(f"| {setup} | {services} | {sources} | {n:,} | {ccpu:.1f} | {pgcpu:.1f} | {n / cpu:,.0f} | {n * 60 / cpu:,.0f} | {1000 * cpu / n:.1f} | {1000 * settle / services:.0f} |", flush=True)
                    print(f"  (wall {wall:.1f} s)", file=sys.stderr, flush=True)
                    for p in procs:
                        p.kill(); p.wait()
                    time.sleep(0.5)  # their backends exit and are reaped before the next row
    finally:
        stop()
        shutil.rmtree(tmp, ignore_errors=True)


def store_main(argv):
    """store APITAP PG_BIN_DIR [SETUPS [SERVICES [SOURCES]]], lists comma-separated, e.g.
    `store target/release/apitap /usr/lib/postgresql/15/bin redb,pg1,pg3 1,10 1,10,50`."""
    ints = lambda a: tuple(int(x) for x in a.split(","))
    setups = tuple(argv[2].split(",")) if len(argv) > 2 else ("redb", "pg1", "pg3")
    services = ints(argv[3]) if len(argv) > 3 else (1, 10, 100)
    sources = ints(argv[4]) if len(argv) > 4 else (1, 10, 50)
    store_bench(argv[0], argv[1], setups, services, sources)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        print(__doc__); sys.exit(2)
    {"attack": lambda: attack(sys.argv[2]),
     "concurrency": lambda: concurrency(sys.argv[2:]),
     "store": lambda: store_main(sys.argv[2:])}[sys.argv[1]]()
