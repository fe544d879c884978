#!/usr/bin/env bash
# apitap throughput benchmark: libpcap read baseline vs `apitap exchanges` vs tshark.
# Usage: bench/run.sh [--size-gb X] [--seed S] [--tshark-share F] [--no-build] [--regen]
# See bench/README.md. Results: bench-out/results.md.
set -euo pipefail

SIZE_GB=1.0
SEED=1
TSHARK_SHARE=0.05
BUILD=1
REGEN=0
while [ $# -gt 0 ]; do
    case "$1" in
        --size-gb) SIZE_GB="$2"; shift 2 ;;
        --seed) SEED="$2"; shift 2 ;;
        --tshark-share) TSHARK_SHARE="$2"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --regen) REGEN=1; shift ;;
        -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/bench-out"
mkdir -p "$OUT/runs"
APITAP="${APITAP:-$ROOT/target/release/apitap}"
GEN="$ROOT/target/release/gen-capture"
PCAP_READ="$OUT/pcap_read"
TIME=/usr/bin/time

die() { echo "run.sh: $*" >&2; exit 1; }
[ -x "$TIME" ] || die "/usr/bin/time not found (apt-get install time)"
command -v python3 >/dev/null || die "python3 is needed to print the table"

# --- build -------------------------------------------------------------------------
if [ "$BUILD" = 1 ]; then
    echo "== building release binaries" >&2
    (cd "$ROOT" && cargo build --release -q -p apitap-bench)
    if [ -z "${APITAP_NO_BUILD:-}" ] && [ "$APITAP" = "$ROOT/target/release/apitap" ]; then
        (cd "$ROOT" && cargo build --release -q -p apitap) || echo "run.sh: building apitap failed; continuing without it" >&2
    fi
fi
[ -x "$GEN" ] || die "$GEN missing: run without --no-build"
if [ ! -x "$PCAP_READ" ] || [ "$ROOT/bench/pcap_read.c" -nt "$PCAP_READ" ]; then
    cc -O2 -Wall -o "$PCAP_READ" "$ROOT/bench/pcap_read.c" -lpcap || die "compiling pcap_read.c (needs libpcap-dev)"
fi

# --- captures (cached) -------------------------------------------------------------
half_gb=$(python3 -c "print(f'{float(\"$SIZE_GB\")/2:g}')")
gen() { # gen SIZE -> path
    local f="$OUT/http-${1}gb-seed${SEED}.pcap"
    if [ "$REGEN" = 1 ] || [ ! -s "$f" ] || [ ! -s "$f.truth.json" ] || [ "$GEN" -nt "$f" ]; then
        echo "== generating $f" >&2
        "$GEN" --out "$f" --size-gb "$1" --seed "$SEED" >&2
    fi
    echo "$f"
}
FILE=$(gen "$SIZE_GB")
HALF=$(gen "$half_gb")

# Warm the page cache so every tool reads from memory, not disk.
cat "$FILE" "$HALF" > /dev/null

# measure NAME CMD... : runs CMD under /usr/bin/time -v; stdout of CMD goes to
# $OUT/runs/NAME.out, the time report to $OUT/runs/NAME.time.
measure() {
    local name="$1"; shift
    echo "== $name: $*" >&2
    local out="$OUT/runs/$name.out"
    case "$name" in apitap*|tshark*) out=/dev/null ;; esac
    if ! "$TIME" -v -o "$OUT/runs/$name.time" "$@" > "$out" 2> "$OUT/runs/$name.err"; then
        echo "run.sh: $name failed; stderr:" >&2; tail -5 "$OUT/runs/$name.err" >&2
        return 1
    fi
}
rm -f "$OUT"/runs/*

# (a) libpcap baseline; a small file is read several times (>= ~1 GB in total) so the
# time is measurable; the table divides by the repeat count.
PCAP_REPEAT=$(python3 -c "import math; print(min(50, max(1, math.ceil(1.0 / float('$SIZE_GB')))))")
echo "$PCAP_REPEAT" > "$OUT/runs/libpcap.repeat"
measure libpcap "$PCAP_READ" "$FILE" "$PCAP_REPEAT"

# (b) apitap, full file and half file. Timed runs write to /dev/null; the exchange count
# is checked with a separate, untimed run.
HAVE_APITAP=0
if [ -x "$APITAP" ] && "$APITAP" exchanges --help 2>&1 | grep -q -- "--filter"; then
    HAVE_APITAP=1
    measure apitap "$APITAP" exchanges "$FILE" || HAVE_APITAP=0
    measure apitap-half "$APITAP" exchanges "$HALF" || HAVE_APITAP=0
    if [ "$HAVE_APITAP" = 1 ]; then
        "$APITAP" exchanges "$FILE" | wc -l > "$OUT/runs/apitap.count"
        "$APITAP" exchanges "$HALF" | wc -l > "$OUT/runs/apitap-half.count"
    fi
else
    echo "run.sh: $APITAP has no 'exchanges' subcommand yet; skipping apitap (set APITAP=...)" >&2
fi

# (c) tshark on a prefix of the file, extrapolated per packet
HAVE_TSHARK=0
if command -v tshark > /dev/null && command -v editcap > /dev/null; then
    total_pkts=$(cut -d' ' -f1 "$OUT/runs/libpcap.out")
    prefix_pkts=$(python3 -c "print(max(20000, int($total_pkts * float('$TSHARK_SHARE'))))")
    [ "$prefix_pkts" -gt "$total_pkts" ] && prefix_pkts=$total_pkts
    PREFIX="$OUT/prefix.pcap"
    editcap -r "$FILE" "$PREFIX" "1-$prefix_pkts" 2>/dev/null
    # tshark's start-up (loading every dissector) is measured on a 100-packet file and
    # subtracted, so the extrapolation is per packet.
    editcap -r "$FILE" "$OUT/tiny.pcap" "1-100" 2>/dev/null
    measure libpcap-prefix "$PCAP_READ" "$PREFIX"
    TS_ARGS=(-Y http.request -T fields -e http.request.method -e http.request.uri)
    measure tshark-startup tshark -r "$OUT/tiny.pcap" "${TS_ARGS[@]}" &&
        measure tshark tshark -r "$PREFIX" "${TS_ARGS[@]}" && HAVE_TSHARK=1
else
    echo "run.sh: tshark/editcap not installed; skipping tshark" >&2
fi

# --- table -------------------------------------------------------------------------
python3 - "$OUT" "$FILE" "$HALF" "$HAVE_APITAP" "$HAVE_TSHARK" "$TSHARK_SHARE" <<'PY'
import json, os, platform, re, subprocess, sys
out, file, half, have_apitap, have_tshark, share = sys.argv[1:7]
have_apitap, have_tshark = have_apitap == "1", have_tshark == "1"

def timing(name, repeat=1):
    t = open(f"{out}/runs/{name}.time").read()
    def num(label):
        m = re.search(re.escape(label) + r":\s*([0-9.:]+)", t)
        return m.group(1) if m else "0"
    wall = 0.0
    for part in num("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":"):
        wall = wall * 60 + float(part)
    return {"wall": wall / repeat,
            "cpu": (float(num("User time (seconds)")) + float(num("System time (seconds)"))) / repeat,
            "rss_mb": int(num("Maximum resident set size (kbytes)")) / 1024}

def pkts_bytes(name):
    p, b = open(f"{out}/runs/{name}.out").read().split()[:2]
    return int(p), int(b)

truth = json.load(open(file + ".truth.json"))
htruth = json.load(open(half + ".truth.json"))
pk, by = pkts_bytes("libpcap")
rows = []
rep = int(open(f"{out}/runs/libpcap.repeat").read())
base = dict(timing("libpcap", rep), name="libpcap read (C, pcap_next_ex)", pk=pk, by=by,
            rep=rep, note=f"file read {rep} times, time divided by {rep}" if rep > 1 else "")
rows.append(base)
problems = []
if have_apitap:
    a = dict(timing("apitap"), name="apitap exchanges", pk=pk, by=by, note="")
    lines = int(open(f"{out}/runs/apitap.count").read().split()[0])
    ok = lines == truth["exchanges"]
    a["note"] = f"{lines} lines, truth {truth['exchanges']}: " + ("OK" if ok else "MISMATCH")
    if not ok: problems.append(a["note"])
    rows.append(a)
    h = dict(timing("apitap-half"), name="apitap exchanges (half-size file)",
             pk=htruth["packets"], by=htruth["file_bytes"], note="")
    hl = int(open(f"{out}/runs/apitap-half.count").read().split()[0])
    hok = hl == htruth["exchanges"]
    h["note"] = f"{hl} lines, truth {htruth['exchanges']}: " + ("OK" if hok else "MISMATCH")
    if not hok: problems.append(h["note"])
    rows.append(h)
ts = None
if have_tshark:
    ppk, pby = pkts_bytes("libpcap-prefix")
    t = timing("tshark")
    s0 = timing("tshark-startup")
    f = (pk - 100) / max(ppk - 100, 1)  # extrapolation factor, start-up excluded
    ts = dict(name=f"tshark -Y http.request (extrapolated from first {ppk:,} packets)",
              pk=pk, by=by,
              wall=s0["wall"] + max(t["wall"] - s0["wall"], 0) * f,
              cpu=s0["cpu"] + max(t["cpu"] - s0["cpu"], 0) * f, rss_mb=t["rss_mb"],
              note=f"EXTRAPOLATED: measured {t['wall']:.2f}s wall / {t['cpu']:.2f}s CPU on the first "
                   f"{ppk:,} packets ({ppk/pk:.1%}); start-up ({s0['wall']:.2f}s wall / {s0['cpu']:.2f}s CPU, "
                   f"100-packet run) counted once, the rest scaled x{f:.1f}; RSS is the prefix run's "
                   f"(tshark's memory grows with the capture)")
    rows.append(ts)

SHORT = 0.05  # /usr/bin/time reports CPU in 10 ms steps: ratios below this are noise
def fmt_ratio(x, *rows):
    return "n/a (too short)" if any(r["cpu"] * r.get("rep", 1) < SHORT for r in rows) else f"{x:.1f}x"

def per_core(r):
    cpu = max(r["cpu"], 1e-9)
    return r["pk"] / cpu, r["by"] * 8 / cpu / 1e9

hdr = ("| tool | packets | bytes | wall s | CPU s | packets/s per core | Gbit/s per core "
       "| peak RSS MB | CPU vs libpcap | speed vs tshark |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
lines = [hdr]
for r in rows:
    pps, gbps = per_core(r)
    vs_pcap = r["cpu"] / max(base["cpu"] * r["pk"] / base["pk"], 1e-9)
    vs_ts = (ts["cpu"] / ts["pk"]) / max(r["cpu"] / r["pk"], 1e-12) if ts else None
    short = r["cpu"] * r.get("rep", 1) < SHORT
    lines.append(f"| {r['name']} | {r['pk']:,} | {r['by']:,} | {r['wall']:.2f} | {r['cpu']:.2f} | "
                 + ("too short | too short" if short else f"{pps:,.0f} | {gbps:.2f}")
                 + f" | {r['rss_mb']:.1f} | {fmt_ratio(vs_pcap, r, base)} | "
                 + (f"{fmt_ratio(vs_ts, r, ts)} |" if vs_ts else "n/a |"))
notes = [f"- {r['name']}: {r['note']}" for r in rows if r["note"]]
cpu = ""
try:
    for l in open("/proc/cpuinfo"):
        if l.startswith("model name"):
            cpu = l.split(":", 1)[1].strip(); break
except OSError:
    pass
md = [f"# apitap benchmark",
      "",
      f"Capture: `{os.path.basename(file)}` ({truth['file_bytes']:,} bytes, {truth['packets']:,} packets, "
      f"{truth['connections']:,} connections, {truth['exchanges']:,} exchanges; generated by gen-capture).",
      f"Half-size capture: `{os.path.basename(half)}` ({htruth['file_bytes']:,} bytes).",
      f"Machine: {cpu or platform.processor()}, {os.cpu_count()} CPUs (shared; numbers are indicative).",
      "Files were read from the page cache (pre-warmed). Per-core rates use CPU time (user+sys).",
      "`CPU vs libpcap`: CPU time relative to a bare libpcap read of the same packets (lower is better).",
      "`speed vs tshark`: tshark's CPU time per packet divided by this tool's (higher is better).",
      "", *lines, "", *notes, ""]
if have_apitap:
    a, h = rows[1], rows[2]
    md.append(f"Peak RSS: full file {a['rss_mb']:.1f} MB, half file {h['rss_mb']:.1f} MB "
              f"(ratio {a['rss_mb']/max(h['rss_mb'],1e-9):.2f}; ~1.0 means memory does not grow with file size).")
else:
    md.append("apitap: not measured (no `exchanges` subcommand at $APITAP).")
if not have_tshark:
    md.append("tshark: not measured (not installed).")
text = "\n".join(md) + "\n"
open(f"{out}/results.md", "w").write(text)
print(text)
if problems:
    print("COUNT MISMATCH: " + "; ".join(problems), file=sys.stderr)
    sys.exit(1)
PY
