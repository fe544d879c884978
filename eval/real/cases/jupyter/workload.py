#!/usr/bin/env python3
"""Jupyter Server workload: its REST API as JupyterLab's front end calls it, from python-requests
(the project ships no Python REST client of its own).

    python3 workload.py --url http://127.0.0.1:PORT --token TOKEN [--seed 8]

Contents with user-chosen names in nested directories (paths containing `/`, spaces and
non-ASCII letters, so percent-encoded), checkpoints, renames and copies; sessions, kernels
(interrupt/restart), terminals, config sections; `/api/me`, `/api/status` beside templates.
Seeded.
"""
import argparse
import random
import sys
import time
from urllib.parse import quote

import requests

WORDS = ["alpha", "analysis", "budget", "cleanup", "draft", "experiment", "figures", "ideas",
         "march", "model", "report", "results", "scratch", "summary", "thesis", "todo"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--seed", type=int, default=8)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    s = requests.Session()
    s.headers["Authorization"] = "token " + a.token
    base = a.url.rstrip("/")
    n = [0]

    def call(method, path, **kw):
        n[0] += 1
        try:
            return s.request(method, base + path, timeout=60, **kw)
        except requests.RequestException as e:
            print("workload: %s %s: %s" % (method, path, e), file=sys.stderr)

    def cp(path):
        return "/api/contents/" + quote(path)

    call("GET", "/api/")
    call("GET", "/api/status")
    call("GET", "/api/me")
    call("GET", "/api/kernelspecs")
    for section in ("notebook", "tree", "common", "terminal"):
        call("GET", "/api/config/" + section)
    call("PATCH", "/api/config/notebook", json={"Cell": {"cm_config": {"lineNumbers": rnd.random() < 0.5}}})

    dirs = []
    for i in range(5):
        d = "%s-%d" % (rnd.choice(WORDS), i)
        call("PUT", cp(d), json={"type": "directory"})
        dirs.append(d)
        for sub in rnd.sample(["data", "raw data", "notebooks", "out/figs", "ß-archiv"], 2):
            parts = sub.split("/")
            for k in range(1, len(parts) + 1):
                call("PUT", cp(d + "/" + "/".join(parts[:k])), json={"type": "directory"})
            dirs.append(d + "/" + sub)
    files = []
    for i in range(45):
        d = rnd.choice(dirs)
        kind = rnd.random()
        if kind < 0.5:
            name = "%s %s.md" % (rnd.choice(WORDS), rnd.randint(1, 99)) if rnd.random() < 0.4 else "%s_%d.txt" % (rnd.choice(WORDS), i)
            path = d + "/" + name
            call("PUT", cp(path), json={"type": "file", "format": "text", "content": "# %s\n" % rnd.choice(WORDS)})
        elif kind < 0.8:
            path = d + "/%s-%d.ipynb" % (rnd.choice(WORDS), i)
            nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# %s" % rnd.choice(WORDS)}],
                  "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
            call("PUT", cp(path), json={"type": "notebook", "format": "json", "content": nb})
        else:
            r = call("POST", cp(d), json={"type": rnd.choice(["notebook", "file"]), "ext": rnd.choice([".ipynb", ".py", ".txt"])})
            path = r.json()["path"] if r is not None and r.status_code == 201 else None
        if path:
            files.append(path)
    for d in dirs:
        call("GET", cp(d), params={"content": rnd.choice(["1", "0"])} if rnd.random() < 0.5 else None)
    for path in rnd.sample(files, 30):
        call("GET", cp(path), params={"content": "0"} if rnd.random() < 0.3 else None)
        op = rnd.random()
        if op < 0.35:
            r = call("POST", cp(path) + "/checkpoints")
            call("GET", cp(path) + "/checkpoints")
            if r is not None and r.status_code == 201:
                cid = r.json()["id"]
                call("POST", cp(path) + "/checkpoints/" + quote(cid))
                if rnd.random() < 0.5:
                    call("DELETE", cp(path) + "/checkpoints/" + quote(cid))
        elif op < 0.55:
            new = path.rsplit("/", 1)[0] + "/renamed-%d-%s" % (rnd.randint(1, 999), path.rsplit("/", 1)[1])
            r = call("PATCH", cp(path), json={"path": new})
            if r is not None and r.status_code == 200:
                files[files.index(path)] = new
        elif op < 0.7:
            r = call("POST", cp(rnd.choice(dirs)), json={"copy_from": path})
        elif op < 0.85:
            call("DELETE", cp(path))
            call("GET", cp(path))  # 404
            files.remove(path)
    call("GET", cp("does-not-exist/%s.txt" % rnd.choice(WORDS)))

    # kernels and sessions
    kernels = []
    for i in range(3):
        r = call("POST", "/api/kernels", json={"name": "python3"})
        if r is not None and r.status_code == 201:
            kernels.append(r.json()["id"])
    sessions = []
    for path in rnd.sample([f for f in files if f.endswith(".ipynb")] or files, 3):
        r = call("POST", "/api/sessions", json={"path": path, "name": path.rsplit("/", 1)[-1],
                                                "type": "notebook", "kernel": {"name": "python3"}})
        if r is not None and r.status_code == 201:
            sessions.append(r.json()["id"])
    time.sleep(2)
    for _ in range(3):
        call("GET", "/api/kernels")
        call("GET", "/api/sessions")
        for k in kernels:
            call("GET", "/api/kernels/" + k)
        for sid in sessions:
            call("GET", "/api/sessions/" + sid)
        call("GET", "/api/status")
        call("GET", "/api/me")
    for k in kernels:
        call("POST", "/api/kernels/%s/interrupt" % k)
    for k in rnd.sample(kernels, 2):
        call("POST", "/api/kernels/%s/restart" % k)
    for sid in sessions:
        call("PATCH", "/api/sessions/" + sid, json={"path": rnd.choice(files), "type": "notebook"})
    call("GET", "/api/kernels/00000000-0000-0000-0000-000000000000")  # 404
    # terminals
    terms = []
    for i in range(3):
        r = call("POST", "/api/terminals", json={"cwd": ""} if rnd.random() < 0.5 else None)
        if r is not None and r.status_code == 200:
            terms.append(r.json()["name"])
    call("GET", "/api/terminals")
    for t in terms:
        call("GET", "/api/terminals/" + t)
    # teardown
    for sid in sessions:
        call("DELETE", "/api/sessions/" + sid)
    for k in kernels:
        call("DELETE", "/api/kernels/" + k)
    for t in terms:
        call("DELETE", "/api/terminals/" + t)
    call("GET", "/api/kernels")
    call("GET", "/api/sessions")
    for path in rnd.sample(files, min(10, len(files))):
        call("DELETE", cp(path))
    print("workload: %d requests" % n[0], file=sys.stderr)


if __name__ == "__main__":
    main()
