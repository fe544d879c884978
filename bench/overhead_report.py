"""Writes bench-out/overhead.md from overhead.sh's rows.

Each row: mode round phase rps p99_ms requests cpu_s drops [peak_rss_kb [switches]] (phase:
off, tcpdump, agent, and base when overhead.sh ran a base binary too). Ratios are taken within
a round (its phases ran back to back), then the median over rounds, so a load change on a
shared machine between rounds cancels out.
"""
import statistics as st
import sys

rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
dur, conns, rate, version, out = (float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5],
                                  sys.argv[6])
data = {}
hwm = {}
for row in rows:
    mode, rnd, phase, rps, p99, n, cpu, drops = row[:8]
    kb = int(row[8]) if len(row) > 8 else 0
    hwm[phase] = max(hwm.get(phase, 0), kb)
    data.setdefault(mode, {}).setdefault(int(rnd), {})[phase] = dict(
        rps=float(rps), p99=float(p99), n=int(n), cpu=float(cpu), drops=float(drops),
        switches=int(row[9]) if len(row) > 9 else None)

agents = [p for p in ("agent", "base") if p in hwm]
lines = ["# apitap agent overhead vs tcpdump", "",
         f"{version}; wrk {dur:.0f} s per phase, connections {conns} (unpaced/paced), paced at "
         f"~{rate} req/s; nginx (1 worker) in a network namespace, capture on the server's veth, "
         "`tcp port 8080`. CPU per request = the capturer's run time (all threads, "
         "/proc schedstat) during the wrk run / requests completed.", ""]
summary = []
for mode, rounds in data.items():
    head = "| round | off req/s | off p99 ms | tcpdump req/s | tcpdump p99 ms | tcpdump µs/req "
    for a in agents:
        head += f"| {a} req/s | {a} p99 ms | {a} µs/req | {a}/tcpdump CPU "
    head += "| drops tcpdump/" + "/".join(agents) + " |"
    lines += [f"## {mode}", "", head, "|" + "---:|" * (6 + 4 * len(agents) + 1)]
    res = {a: dict(ratios=[], thr=[], p99add=[], u=[], sw=[]) for a in agents}
    tdu, tdsw, drops = [], [], 0
    for r in sorted(rounds):
        p = rounds[r]
        o, t = p.get("off"), p.get("tcpdump")
        if not (o and t and all(p.get(a) for a in agents)):
            continue
        tu = t["cpu"] / max(t["n"], 1) * 1e6
        tdu.append(tu)
        if t["switches"] is not None:
            tdsw.append(t["switches"] / max(t["n"], 1) * 1000)
        drops += t["drops"]
        line = f"| {r} | {o['rps']:.0f} | {o['p99']:.3f} | {t['rps']:.0f} | {t['p99']:.3f} | {tu:.2f} "
        dl = [f"{t['drops']:.0f}"]
        for a in agents:
            x = p[a]
            au = x["cpu"] / max(x["n"], 1) * 1e6
            ratio = au / tu if tu > 0 else float("inf")
            res[a]["ratios"].append(ratio)
            res[a]["u"].append(au)
            res[a]["thr"].append(x["rps"] / t["rps"])
            res[a]["p99add"].append(x["p99"] - o["p99"])
            if x["switches"] is not None:
                res[a]["sw"].append(x["switches"] / max(x["n"], 1) * 1000)
            drops += x["drops"]
            dl.append(f"{x['drops']:.0f}")
            line += f"| {x['rps']:.0f} | {x['p99']:.3f} | {au:.2f} | {ratio:.2f} "
        lines.append(line + "| " + "/".join(dl) + " |")
    if not tdu:
        continue
    med = st.median
    lines += ["", f"- CPU per request: tcpdump **{med(tdu):.2f} µs**"]
    for a in agents:
        x = res[a]
        lines += [f"- {a}: **{med(x['u']):.2f} µs**/req; {a}/tcpdump (median of per-round ratios) "
                  f"**{med(x['ratios']):.2f}x** (target <= 4x); app throughput with {a} / with "
                  f"tcpdump **{med(x['thr']):.3f}** (target >= 0.97 unpaced); p99 added vs no "
                  f"capture **{med(x['p99add']):+.3f} ms** (target <= 0.3 ms paced)"]
        summary.append(f"{mode} {a}: tcpdump {med(tdu):.2f} us/req, {a} {med(x['u']):.2f} us/req, "
                       f"ratio {med(x['ratios']):.2f}x, throughput {a}/tcpdump {med(x['thr']):.3f}, "
                       f"p99 added {med(x['p99add']):+.3f} ms")
    if tdsw and all(res[a]["sw"] for a in agents):
        lines += ["- context switches (wake-ups and preemptions, all threads) per 1,000 requests, "
                  f"median: tcpdump **{med(tdsw):.1f}**"
                  + "".join(f", {a} **{med(res[a]['sw']):.1f}**" for a in agents)]
    lines += [f"- drops (kernel + queue, all rounds, all capturers): **{drops:.0f}**", ""]
    summary.append(f"{mode}: drops {drops:.0f}")
for a in agents:
    lines += [f"- {a} peak RSS (VmHWM, max over rounds): **{hwm[a] / 1024:.1f} MiB** (target <= 64 MB)"]
text = "\n".join(lines) + "\n"
open(out, "w").write(text)
print(text)
for s in summary:
    print(s)
