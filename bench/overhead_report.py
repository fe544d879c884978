"""Writes bench-out/overhead.md from overhead.sh's rows.

Each row: mode round phase rps p99_ms requests cpu_s drops (phase: off, tcpdump, agent).
Ratios are taken within a round (its phases ran back to back), then the median over rounds,
so a load change on a shared machine between rounds cancels out.
"""
import statistics as st
import sys

rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
hwm, dur, conns, rate, version, out = (int(sys.argv[2]), float(sys.argv[3]), sys.argv[4],
                                       sys.argv[5], sys.argv[6], sys.argv[7])
data = {}
for mode, rnd, phase, rps, p99, n, cpu, drops in rows:
    data.setdefault(mode, {}).setdefault(int(rnd), {})[phase] = dict(
        rps=float(rps), p99=float(p99), n=int(n), cpu=float(cpu), drops=float(drops))

lines = ["# apitap agent overhead vs tcpdump", "",
         f"{version}; wrk {dur:.0f} s per phase, connections {conns} (unpaced/paced), paced at "
         f"~{rate} req/s; nginx (1 worker) in a network namespace, capture on the server's veth, "
         "`tcp port 8080`. CPU per request = the capturer's utime+stime during the wrk run / "
         "requests completed.", ""]
summary = []
for mode, rounds in data.items():
    lines += [f"## {mode}", "",
              "| round | off req/s | off p99 ms | tcpdump req/s | tcpdump p99 ms | tcpdump µs/req "
              "| agent req/s | agent p99 ms | agent µs/req | agent/tcpdump CPU | drops tcpdump/agent |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    ratios, thr, p99add, tdu, agu, drops = [], [], [], [], [], 0
    for r in sorted(rounds):
        p = rounds[r]
        o, t, a = p.get("off"), p.get("tcpdump"), p.get("agent")
        if not (o and t and a):
            continue
        tu = t["cpu"] / max(t["n"], 1) * 1e6
        au = a["cpu"] / max(a["n"], 1) * 1e6
        ratio = au / tu if tu > 0 else float("inf")
        ratios.append(ratio)
        tdu.append(tu)
        agu.append(au)
        thr.append(a["rps"] / t["rps"])
        p99add.append(a["p99"] - o["p99"])
        drops += t["drops"] + a["drops"]
        lines.append(f"| {r} | {o['rps']:.0f} | {o['p99']:.3f} | {t['rps']:.0f} | {t['p99']:.3f} | "
                     f"{tu:.2f} | {a['rps']:.0f} | {a['p99']:.3f} | {au:.2f} | {ratio:.2f} | "
                     f"{t['drops']:.0f}/{a['drops']:.0f} |")
    if not ratios:
        continue
    med = st.median
    lines += ["",
              f"- CPU per request: tcpdump **{med(tdu):.2f} µs**, agent **{med(agu):.2f} µs**; "
              f"agent/tcpdump (median of per-round ratios) **{med(ratios):.2f}x** (target <= 4x)",
              f"- app throughput with the agent / with tcpdump: **{med(thr):.3f}** (target >= 0.97 unpaced)",
              f"- p99 added by the agent vs no capture: **{med(p99add):+.3f} ms** (target <= 0.3 ms paced)",
              f"- drops (kernel + queue, all rounds, both capturers): **{drops:.0f}**", ""]
    summary.append(f"{mode}: tcpdump {med(tdu):.2f} us/req, agent {med(agu):.2f} us/req, "
                   f"ratio {med(ratios):.2f}x, throughput agent/tcpdump {med(thr):.3f}, "
                   f"p99 added {med(p99add):+.3f} ms, drops {drops:.0f}")
lines += [f"- agent peak RSS (VmHWM, max over rounds): **{hwm / 1024:.1f} MiB** (target <= 64 MB)", ""]
text = "\n".join(lines) + "\n"
open(out, "w").write(text)
print(text)
for s in summary:
    print(s)
