#!/usr/bin/env python3
"""Docker workload: the real `docker` CLI against the local Docker Engine (over DOCKER_HOST).

    DOCKER_HOST=tcp://127.0.0.1:PORT python3 workload.py [--seed 8] [--rounds 6]

Everything it creates is named `realeval-*` / `realeval/*` and labelled `realeval=1`; prunes are
filtered by that label, so other users of the engine are never touched. Images are made
locally with `docker import` (no registry here: pulls and pushes fail but still make
requests). Seeded: the same seed gives the same sequence of commands.
"""
import argparse
import os
import random
import subprocess
import sys
import tarfile
import tempfile

LOG = []


def docker(*args, ok=True, inp=None, timeout=60):
    cmd = ["docker"] + [str(a) for a in args]
    LOG.append(" ".join(cmd))
    r = subprocess.run(cmd, input=inp, capture_output=True, timeout=timeout)
    if ok and r.returncode != 0:
        print("workload: failed: %s: %s" % (" ".join(cmd), r.stderr.decode(errors="replace")[-300:]), file=sys.stderr)
    return r.stdout.decode(errors="replace").strip()


def rootfs_tar(path, binary="/bin/busybox"):
    with tarfile.open(path, "w") as t:
        for d in ("bin", "tmp", "etc", "data"):
            ti = tarfile.TarInfo(d)
            ti.type = tarfile.DIRTYPE
            ti.mode = 0o755
            t.addfile(ti)
        t.add(binary, arcname="bin/busybox")
        for tool in ("sh", "sleep", "echo", "cat", "ls", "true", "date", "hostname"):
            ti = tarfile.TarInfo("bin/" + tool)
            ti.type = tarfile.SYMTYPE
            ti.linkname = "busybox"
            t.addfile(ti)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--phase", choices=["setup", "run"], default="run")
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    work = tempfile.mkdtemp(prefix="realeval-docker-")
    tar = os.path.join(work, "rootfs.tar")

    if a.phase == "setup":
        # the one runnable image (busybox, ~2 MB) is imported before the capture starts so
        # the committed capture stays small; the run phase imports tiny tars instead
        rootfs_tar(tar)
        docker("import", "-c", "LABEL realeval=1", "-c", 'CMD ["/bin/sleep","300"]', tar, "realeval/tiny:edge")
        return
    small = os.path.join(work, "small.tar")
    with tarfile.open(small, "w") as t:
        ti = tarfile.TarInfo("etc/motd")
        data = b"realeval\n"
        ti.size = len(data)
        import io
        t.addfile(ti, io.BytesIO(data))
    docker("version")
    docker("info")
    # Images: names with a namespace, a registry host:port and tags.
    runnable = ["realeval/tiny:edge"]
    other = ["realeval/base:v1", "localhost:18650/realeval/app:1.2"]
    for name in other:
        docker("import", "-c", "LABEL realeval=1", small, name)
    words = ["web", "db", "cache", "worker", "api", "queue", "proxy", "batch", "auth", "search", "ml", "cron"]
    for i in range(12):
        dst = rnd.choice(["realeval/%s:%s" % (rnd.choice(words), rnd.choice(["latest", "v2", "1.0.%d" % i, "dev"])),
                          "realeval-%s" % rnd.choice(words),
                          "localhost:18650/team-%d/%s:%d" % (i % 3, rnd.choice(words), i)])
        if dst not in runnable + other:
            docker("tag", rnd.choice(runnable), dst)
            runnable.append(dst)
    images = runnable + other
    docker("images")
    docker("image", "ls", "--filter", "label=realeval=1")
    for name in rnd.sample(images, 8):
        docker("image", "inspect", name)
        docker("image", "history", name)
    docker("pull", "realeval/not-there:latest", ok=False, timeout=30)
    docker("pull", "quay.io/realeval/also-missing:1", ok=False, timeout=30)
    docker("push", "localhost:18650/realeval/app:1.2", ok=False, timeout=30)
    docker("search", "realeval", ok=False, timeout=30)

    # Networks and volumes with user-chosen names.
    nets, vols = [], []
    for i in range(6):
        n = "realeval-net-%s%d" % (rnd.choice(words), i)
        docker("network", "create", "--label", "realeval=1", n)
        nets.append(n)
    for i in range(6):
        v = "realeval-vol-%s-%d" % (rnd.choice(words), i)
        docker("volume", "create", "--label", "realeval=1", v)
        vols.append(v)
    docker("network", "ls")
    docker("volume", "ls")
    for n in nets:
        docker("network", "inspect", n)
    for v in vols:
        docker("volume", "inspect", v)

    containers = []  # (name, id)
    serial = 0
    for rnd_i in range(a.rounds):
        # create and run some containers
        for _ in range(rnd.randint(4, 7)):
            serial += 1
            name = "realeval-%s-%d" % (rnd.choice(words), serial)
            img = rnd.choice(runnable)
            args = ["create", "--name", name, "--label", "realeval=1"]
            if rnd.random() < 0.5:
                args += ["-v", "%s:/data" % rnd.choice(vols)]
            if rnd.random() < 0.5:
                args += ["--network", rnd.choice(nets)]
            if rnd.random() < 0.3:
                args += ["-e", "MODE=%s" % rnd.choice(words)]
            cid = docker(*args, img, "sleep", "300")
            if cid:
                containers.append((name, cid))
        docker("ps")
        docker("ps", "-a", "--filter", "label=realeval=1")
        live = list(containers)
        rnd.shuffle(live)

        def ref(c):
            name, cid = c
            return rnd.choice([name, cid, cid[:12]])

        for c in live:
            docker("start", ref(c))
        for c in live:
            for action in rnd.sample(["inspect", "logs", "top", "exec", "stats", "port", "diff",
                                      "pause", "cp", "update", "rename", "inspect"], 5):
                r = ref(c)
                if action == "inspect":
                    docker("container", "inspect", r)
                elif action == "logs":
                    docker("logs", "--tail", rnd.choice(["5", "all"]), r)
                elif action == "top":
                    docker("top", r)
                elif action == "exec":
                    docker("exec", r, "echo", rnd.choice(words))
                elif action == "stats":
                    docker("stats", "--no-stream", r)
                elif action == "port":
                    docker("port", r, ok=False)
                elif action == "diff":
                    docker("diff", r)
                elif action == "pause":
                    docker("pause", r)
                    docker("unpause", r)
                elif action == "cp":
                    src = os.path.join(work, "note.txt")
                    with open(src, "w") as f:
                        f.write("%d\n" % rnd.randint(0, 10**6))
                    docker("cp", src, "%s:/tmp/note.txt" % r)
                    docker("cp", "%s:/tmp/note.txt" % r, os.path.join(work, "back.txt"))
                elif action == "update":
                    docker("update", "--cpu-shares", str(rnd.choice([256, 512, 1024])), r)
                elif action == "rename" and not c[0].endswith("-r"):
                    name, cid = c
                    new = name + "-r"
                    docker("rename", r, new)
                    idx = containers.index(c)
                    containers[idx] = (new, cid)
                    c = (new, cid)
            if rnd.random() < 0.3 and nets:
                n = rnd.choice(nets)
                docker("network", "connect", n, c[1][:12], ok=False)
                docker("network", "disconnect", n, c[1][:12], ok=False)
        # stop / restart / kill / wait / remove some
        for c in list(containers):
            p = rnd.random()
            r = c[1][:12] if rnd.random() < 0.5 else c[0]
            if p < 0.25:
                docker("stop", "-t", "0", r)
                docker("rm", r)
                containers.remove(c)
            elif p < 0.4:
                docker("kill", r, ok=False)
                docker("wait", r, ok=False)
            elif p < 0.55:
                docker("restart", "-t", "0", r)
            elif p < 0.65:
                docker("rm", "-f", r)
                containers.remove(c)
        if rnd_i % 2 == 1:
            cid = rnd.choice(containers)[1] if containers else None
            if cid:
                tag = "realeval/snap:r%d" % rnd_i
                docker("commit", cid[:12], tag)
                images.append(tag)
                runnable.append(tag)
            docker("container", "prune", "-f", "--filter", "label=realeval=1")
            alive = set(docker("ps", "-a", "-q", "--no-trunc", "--filter", "label=realeval=1").split())
            containers[:] = [c for c in containers if c[1] in alive]
            docker("system", "df")
            docker("events", "--since", "1m", "--until", "0s", "--filter", "label=realeval=1")
    # teardown through the API (ids, names, prunes)
    for c in containers:
        docker("rm", "-f", rnd.choice([c[0], c[1]]), ok=False)
    docker("container", "prune", "-f", "--filter", "label=realeval=1")
    for n in nets:
        if rnd.random() < 0.5:
            docker("network", "rm", n, ok=False)
    docker("network", "prune", "-f", "--filter", "label=realeval=1")
    for v in vols:
        if rnd.random() < 0.5:
            docker("volume", "rm", v, ok=False)
    docker("volume", "prune", "-f", "--filter", "label=realeval=1")
    for name in images:
        docker("rmi", "-f", name, ok=False)
    docker("image", "prune", "-f", "--filter", "label=realeval=1")
    print("workload: %d docker commands" % len(LOG), file=sys.stderr)


if __name__ == "__main__":
    main()
