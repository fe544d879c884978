#!/usr/bin/env python3
"""Scores learned specs of the real-world cases and checks them against thresholds.

    python3 score_cases.py --kit KIT --learned-dir DIR [--thresholds thresholds.tsv]
                           [--failures FAILURES.md] [--label apitap] CASE...

For every CASE, DIR/CASE.json (or .yaml) is scored with KIT/score.py against
eval/real/cases/CASE/spec.json. Prints one table row per case and, with --thresholds,
`ok`/`FAIL` lines, then `N passed, N failed`; exits 1 on any failure.

Metrics (all from score.py's report except `swallowed`):
  f1        operation F1 (method + path shape)
  spurious  concrete learned paths that are instances of a truth template
  swallowed truth operations on a path WITHOUT parameters that were not learned because a
            learned operation with the same method has a templated path of the same length
            matching it (a static route such as `POST /containers/create` learned only as
            `POST /containers/{id}`)
  resp_r    response property recall (matched operations)
  fmt_r     format recall (matched operations)
  status_r  status code recall (matched operations)
  composite score.py's composite
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
METRICS = ("f1", "spurious", "swallowed", "resp_r", "fmt_r", "status_r", "composite")
# direction of each metric: higher is better (floor) or lower is better (ceiling)
HIGHER = {"f1": True, "spurious": False, "swallowed": False, "resp_r": True, "fmt_r": True,
          "status_r": True, "composite": True}


def load_kit(kit):
    spec = importlib.util.spec_from_file_location("apitap_eval_score", os.path.join(kit, "score.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def learned_shapes(score_mod, learned_raw, prefix):
    doc = score_mod.Doc(learned_raw, "learned")
    pre = score_mod.shape_of(prefix) if prefix else ()
    return {(o["method"], pre + o["shape_rel"]) for o in doc.operations()}


def swallowed(score_mod, report, learned_raw):
    """Missing static truth operations matched by a learned templated path (same method)."""
    lops = learned_shapes(score_mod, learned_raw, report.get("prefix_applied") or "")
    out = []
    for m in report["operations"]["missing"]:
        method, path = m.split(" ", 1)
        gs = score_mod.shape_of(path)
        if "{}" in gs:
            continue
        for lm, ls in sorted(lops):
            if lm == method and len(ls) == len(gs) and "{}" in ls and \
                    all(l == g or l == "{}" for g, l in zip(gs, ls)):
                out.append(f"{m} swallowed by {score_mod.shape_str(ls)}")
                break
    return out


def score_case(kit, score_mod, case, learned_path):
    truth = os.path.join(HERE, "cases", case, "spec.json")
    res = subprocess.run([sys.executable, os.path.join(kit, "score.py"), learned_path, truth],
                         capture_output=True, text=True)
    text = res.stdout
    if "}" not in text:
        raise RuntimeError(f"score.py failed on {case}: {res.stderr[-500:]}")
    rep = json.loads(text[: text.rindex("}") + 1])
    if "error" in rep:
        raise RuntimeError(f"score.py: {rep['error']}")
    learned_raw = score_mod.load_any(learned_path)
    sw = swallowed(score_mod, rep, learned_raw)
    lops = sorted(learned_shapes(score_mod, learned_raw, rep.get("prefix_applied") or ""))
    truth_raw = score_mod.load_any(truth)
    tops = {(o["method"], o["shape_rel"]) for o in score_mod.Doc(truth_raw, "truth").operations()}
    extra = [f"{m} {score_mod.shape_str(s)}" for m, s in lops if (m, s) not in tops]

    def z(x):
        return 0.0 if x is None else x

    # recalls are None (n/a) when the truth has nothing of that kind on matched operations
    vals = {
        "f1": z(rep["operations"]["f1"]),
        "spurious": rep["templating"]["spurious_concrete_paths"],
        "swallowed": len(sw),
        "resp_r": rep["response_properties"]["recall"],
        "fmt_r": rep["formats"]["recall"],
        "status_r": rep["status_codes"]["recall"],
        "composite": z(rep["composite"]),
    }
    detail = {
        "ops": rep["operations"],
        "missing": rep["operations"]["missing"],
        "extra": extra,
        "spurious": rep["templating"]["spurious_examples"],
        "spurious_total": rep["templating"]["spurious_concrete_paths"],
        "swallowed": sw,
        "resp_missing": rep["response_properties"]["missing_examples"],
        "fmt_missing": rep["formats"]["missing_examples"],
    }
    return vals, detail


def na(x):
    return "n/a" if x is None else f"{x:.3f}"


def read_thresholds(path):
    th = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            case, metric, value = line.split()[:3]
            if metric not in HIGHER:
                raise ValueError(f"{path}: unknown metric {metric}")
            th.setdefault(case, {})[metric] = float(value)
    return th


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kit", required=True)
    ap.add_argument("--learned-dir", required=True)
    ap.add_argument("--thresholds")
    ap.add_argument("--failures", help="write the false positive/negative operations per case here (markdown)")
    ap.add_argument("--label", default="apitap")
    ap.add_argument("--json", help="write all metrics as JSON here")
    ap.add_argument("--write-thresholds", metavar="FILE",
                    help="write the measured scores as thresholds (floors rounded down to 0.01, "
                         "ceilings = the counts); review before committing")
    ap.add_argument("cases", nargs="+")
    a = ap.parse_args()
    score_mod = load_kit(a.kit)
    th = read_thresholds(a.thresholds) if a.thresholds else {}
    rows, details, errors = {}, {}, {}
    for case in a.cases:
        learned = None
        for ext in ("json", "yaml", "yml"):
            p = os.path.join(a.learned_dir, f"{case}.{ext}")
            if os.path.exists(p):
                learned = p
                break
        try:
            if learned is None:
                raise RuntimeError(f"no learned spec {a.learned_dir}/{case}.json")
            rows[case], details[case] = score_case(a.kit, score_mod, case, learned)
        except Exception as e:  # one broken case must not hide the others
            errors[case] = str(e)

    print(f"{a.label}: real-world cases")
    hdr = f"{'case':<14} {'opF1':>6} {'P':>6} {'R':>6} {'truth':>5} {'learned':>7} {'spurious':>8} {'swallowed':>9} " \
          f"{'respR':>6} {'fmtR':>6} {'statusR':>7} {'composite':>9}"
    print(hdr)
    for case in a.cases:
        if case in errors:
            print(f"{case:<14} ERROR {errors[case]}")
            continue
        v, d = rows[case], details[case]
        o = d["ops"]
        print(f"{case:<14} {v['f1']:6.3f} {o['precision'] or 0:6.3f} {o['recall'] or 0:6.3f} {o['ground_truth']:5d} "
              f"{o['learned']:7d} {v['spurious']:8d} {v['swallowed']:9d} {na(v['resp_r']):>6} {na(v['fmt_r']):>6} "
              f"{na(v['status_r']):>7} {v['composite']:9.3f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"label": a.label, "metrics": rows, "errors": errors}, f, indent=1, sort_keys=True)
    if a.failures:
        with open(a.failures, "w", encoding="utf-8") as f:
            f.write(f"# {a.label}: false positive / negative operations per real-world case\n\n")
            f.write("Generated by eval/real/score_cases.py. `missing` = truth operations not learned "
                    "(false negatives); `extra` = learned operations not in the truth (false positives).\n")
            for case in a.cases:
                if case in errors:
                    f.write(f"\n## {case}\n\nERROR: {errors[case]}\n")
                    continue
                d = details[case]
                f.write(f"\n## {case}\n\n")
                f.write(f"- swallowed static routes ({len(d['swallowed'])}):\n")
                for x in d["swallowed"]:
                    f.write(f"  - `{x}`\n")
                f.write(f"- spurious concrete paths ({d['spurious_total']}; first 25):\n")
                for x in d["spurious"]:
                    f.write(f"  - `{x}`\n")
                f.write(f"- missing operations ({len(d['missing'])}):\n")
                for x in d["missing"]:
                    f.write(f"  - `{x}`\n")
                f.write(f"- extra operations ({len(d['extra'])}):\n")
                for x in d["extra"]:
                    f.write(f"  - `{x}`\n")
                f.write(f"- response properties missing (first 25):\n")
                for x in d["resp_missing"]:
                    f.write(f"  - `{x}`\n")
                f.write(f"- formats missing (first 25):\n")
                for x in d["fmt_missing"]:
                    f.write(f"  - `{x}`\n")
    if a.write_thresholds:
        import math
        with open(a.write_thresholds, "w", encoding="utf-8") as f:
            f.write("# case  metric  bound   (floors for f1/resp_r/fmt_r/status_r/composite: measured, rounded\n"
                    "# down to 0.01; ceilings for spurious/swallowed: measured counts). A ratchet: raise the\n"
                    "# floors / lower the ceilings as the learner improves; never loosen them silently.\n")
            for case in a.cases:
                if case in errors:
                    continue
                for metric in METRICS:
                    v = rows[case][metric]
                    if v is None:
                        continue
                    bound = math.floor(v * 100 + 1e-9) / 100 if HIGHER[metric] else int(v)
                    f.write(f"{case}\t{metric}\t{bound:g}\n")
    if not a.thresholds:
        return 1 if errors else 0
    passed = failed = 0
    print()
    for case in a.cases:
        if case in errors:
            print(f"FAIL - {case}: {errors[case]}")
            failed += 1
            continue
        if case not in th:
            print(f"FAIL - {case}: no thresholds in {a.thresholds}")
            failed += 1
            continue
        for metric, bound in sorted(th[case].items()):
            got = rows[case][metric]
            if got is None:
                print(f"FAIL - {case}: {metric} is n/a (nothing of that kind in the truth); remove its threshold")
                failed += 1
                continue
            good = got >= bound - 1e-9 if HIGHER[metric] else got <= bound + 1e-9
            rel = ">=" if HIGHER[metric] else "<="
            if good:
                print(f"ok   - {case}: {metric} {got:g} {rel} {bound:g}")
                passed += 1
            else:
                print(f"FAIL - {case}: {metric} {got:g} not {rel} {bound:g}")
                failed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
