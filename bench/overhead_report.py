"""Writes bench-out/overhead.md from overhead.sh's measurements."""
import statistics as st
import sys

rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
ro, po, rn, pn = ([float(x) for x in a.split()] for a in sys.argv[2:6])
hwm, dur, conns = int(sys.argv[6]), float(sys.argv[7]), sys.argv[8]
pk, kd, idr, qd, ex, cpu = (sum(r[i] for r in rows) for i in range(6))
peak = max(rn)
i = rn.index(peak)
pk_p, kd_p, qd_p = rows[i][0], rows[i][1], rows[i][3]
mo, mn, qo, qn = st.median(ro), st.median(rn), st.median(po), st.median(pn)
lines = [
    "# apitap agent overhead", "",
    f"wrk {dur:.0f} s per run, {conns} connections, nginx (1 worker) in a network namespace, "
    f"agent capturing the server's veth; {len(rn)} alternating rounds without/with the agent.", "",
    "| round | without: req/s | without: p99 ms | with: req/s | with: p99 ms |",
    "|---:|---:|---:|---:|---:|",
]
for k in range(len(rn)):
    lines.append(f"| {k + 1} | {ro[k]:.0f} | {po[k]:.3f} | {rn[k]:.0f} | {pn[k]:.3f} |")
lines += [
    "",
    f"- throughput ratio (median with / median without): **{mn / mo:.3f}** ({(1 - mn / mo) * 100:+.1f} % loss)",
    f"- p99 latency ratio (medians): **{qn / qo:.3f}**",
    f"- agent CPU: {cpu:.2f} s over {len(rn) * dur:.0f} s of load = **{cpu / (len(rn) * dur) * 100:.0f} % of one core**",
    f"- agent peak RSS (VmHWM, max over rounds): **{hwm / 1024:.1f} MiB**",
    f"- packets captured: {pk:.0f}; exchanges learned: {ex:.0f}",
    f"- drops over all rounds: kernel **{kd:.0f}**, interface {idr:.0f}, queue **{qd:.0f}**",
    f"- at the highest load ({peak:.0f} req/s, round {i + 1}): kernel drops {kd_p:.0f}, queue drops {qd_p:.0f} "
    f"of {pk_p + kd_p + qd_p:.0f} packets (drop rate {(kd_p + qd_p) / max(pk_p + kd_p + qd_p, 1) * 100:.3f} %)",
]
text = "\n".join(lines) + "\n"
open(sys.argv[9], "w").write(text)
print(text)
