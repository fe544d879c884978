"""Resident memory of a process by kind, from one /proc/PID/smaps (for overhead.sh SMAPS=1).

Kinds: the libpcap kernel ring (a `socket:[...]` mapping), the apitap binary, shared
libraries, the mimalloc heap (its arenas: anonymous mappings of 64 MiB or more), thread stacks
(anonymous mappings right after a guard page), the brk heap (glibc malloc: libpcap's own
buffers), other anonymous memory. Prints KiB per kind and the total.
"""
import re
import sys

head = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$")
maps = []
for line in open(sys.argv[1]):
    m = head.match(line)
    if m:
        maps.append(dict(lo=int(m[1], 16), hi=int(m[2], 16), perm=m[3], name=m[4].strip(), rss=0, thp=0))
    elif line.startswith("Rss:") and maps:
        maps[-1]["rss"] = int(line.split()[1])
    elif line.startswith("AnonHugePages:") and maps:
        maps[-1]["thp"] = int(line.split()[1])

kinds = {}
prev = None
for m in maps:
    n = m["name"]
    if n.startswith("socket:"):
        k = "kernel capture ring (libpcap, mmap)"
    elif "apitap" in n:
        k = "apitap binary (text, data)"
    elif n.startswith("/"):
        k = "shared libraries"
    elif n == "[heap]":
        k = "brk heap (glibc malloc: libpcap)"
    elif n == "[stack]":
        k = "thread stacks"
    elif n.startswith("["):
        k = "other " + n
    elif m["hi"] - m["lo"] >= 64 << 20:
        k = "mimalloc heap (arenas)"
    elif prev is not None and prev["perm"] == "---p" and prev["hi"] == m["lo"]:
        k = "thread stacks"
    else:
        k = "other anonymous"
    kinds.setdefault(k, [0, 0])
    kinds[k][0] += m["rss"]
    kinds[k][1] += m["thp"]
    prev = m
total = sum(v[0] for v in kinds.values())
for k, (rss, thp) in sorted(kinds.items(), key=lambda kv: -kv[1][0]):
    if rss == 0:
        continue
    extra = f" (of which {thp / 1024:.1f} MiB transparent huge pages)" if thp else ""
    print(f"{rss / 1024:7.1f} MiB  {k}{extra}")
print(f"{total / 1024:7.1f} MiB  total Rss")
