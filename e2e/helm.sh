#!/usr/bin/env bash
# Helm chart and `apitap inject` checks, offline:
#  - `helm lint --strict` of charts/apitap (Helm 4 SDK from the PyPI package helm-python-sdk:
#    libhelm_c through ctypes, no helm binary needed);
#  - `helm template` with several value sets, each manifest validated by
#    `kubernetes-validate --strict` against Kubernetes 1.32 schemas; the ServiceMonitor (a
#    CRD without a bundled schema) is checked structurally;
#  - values.schema.json rejects bad values;
#  - the Grafana dashboard is valid JSON and uses only metrics apitap exports;
#  - `apitap inject` output for a Deployment/StatefulSet/Pod/CronJob stream is validated the
#    same way, keeps other documents byte for byte and is idempotent.
# Skips when the Python tools are missing, unless CI is set (then it fails).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
. "$ROOT/e2e/lib.sh"
if [ -z "${APITAP:-}" ]; then  # always rebuild: never test a stale binary
  (cd "$ROOT" && cargo build -q -p apitap)
  APITAP="$ROOT/target/debug/apitap"
fi
KUBE_VERSION="${KUBE_VERSION:-1.32.0}"
python3 -c "import helm_python" 2>/dev/null || e2e_skip "python package helm-python-sdk not installed (pip install helm-python-sdk)"
command -v kubernetes-validate > /dev/null || e2e_skip "kubernetes-validate not installed (pip install kubernetes-validate)"

OUT="$E2E_TMP"
rc=0
python3 - "$ROOT/charts/apitap" "$OUT" <<'PY' || rc=$?
import json, os, sys, re
import helm_python as helm
chart, out = sys.argv[1], sys.argv[2]
fail = 0
def check(ok, msg):
    global fail
    print(("ok   " if ok else "FAIL ") + msg)
    if not ok:
        fail += 1

r = helm.lint(chart, strict=True)
errs = [m for m in r["messages"] if m["severity"] >= 2] + [{"error": e} for e in r["errors"]]
check(not errs, f"helm lint --strict: {errs or 'clean'}")

value_sets = {
    "defaults": {},
    "full": {"auth": {"tokens": ["0123456789abcdef-token-a", "0123456789abcdef-token-b"], "metricsToken": "0123456789abcdef-scrape"},
             "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus"}},
             "networkPolicy": {"enabled": True, "from": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"apitap.io/agent": "true"}}}]},
             "grafanaDashboard": {"enabled": True},
             "persistence": {"size": "5Gi", "storageClassName": "fast"},
             "podAnnotations": {"a": "b"}, "nodeSelector": {"kubernetes.io/os": "linux"}},
    "nopersist": {"persistence": {"enabled": False}, "auth": {"existingSecret": "my-tokens"}, "serviceMonitor": {"enabled": True}},
    "metrics-open": {"auth": {"tokens": ["0123456789abcdef-token-a"], "metricsOpen": True}, "serviceMonitor": {"enabled": True}},
    "replicas": {"collector": {"replicas": 3}, "store": {"url": "postgres://apitap:pw@pg:5432/apitap"},
                 "auth": {"tokens": ["0123456789abcdef-token-a"]}},
    "replicas-secret": {"collector": {"replicas": 2}, "store": {"existingSecret": "pg-url", "secretKey": "dsn"}},
}
with helm.Chart.load(chart) as c:
    for name, values in value_sets.items():
        rendered = c.render(values=values, name="demo", namespace="apitap")
        docs = [(k, v) for k, v in sorted(rendered.items()) if k.endswith(".yaml") and v.strip()]
        kinds = []
        with open(os.path.join(out, f"{name}.yaml"), "w") as f:
            for k, v in docs:
                f.write(f"---\n# Source: {k}\n{v}\n")
                kinds += re.findall(r"^kind: (\w+)", v, re.M)
        print(f"     {name}: {sorted(kinds)}")
        if name == "full":
            check(sorted(kinds) == ["ConfigMap", "Deployment", "NetworkPolicy", "PersistentVolumeClaim", "Secret", "Service", "ServiceMonitor"], "full render has every object")
            sm = rendered["apitap/templates/servicemonitor.yaml"]
            check("apiVersion: monitoring.coreos.com/v1" in sm and "port: http" in sm and "path: /metrics" in sm, "ServiceMonitor targets the http port's /metrics")
            check("type: Bearer" in sm and "key: metrics-token" in sm and "name: demo-apitap" in sm, "ServiceMonitor sends the scrape token from the Secret")
            sec = rendered["apitap/templates/secret.yaml"]
            check("metrics-token:" in sec, "the Secret holds the scrape token")
            dep0 = rendered["apitap/templates/deployment.yaml"]
            check("APITAP_COLLECTOR_METRICS_TOKENS" in dep0 and "optional: false" in dep0, "deployment wires the scrape token")
            dep = rendered["apitap/templates/deployment.yaml"]
            check("APITAP_COLLECTOR_TOKENS" in dep and "readOnlyRootFilesystem: true" in dep, "deployment wires tokens and a read-only root fs")
            cm = rendered["apitap/templates/dashboard.yaml"]
            check("apitap_upstream_spool_bytes" in cm, "dashboard ConfigMap carries the dashboard")
        if name.startswith("replicas"):
            dep = rendered["apitap/templates/deployment.yaml"]
            n = values["collector"]["replicas"]
            check("PodDisruptionBudget" in kinds and "PersistentVolumeClaim" not in kinds, f"{name}: a PodDisruptionBudget, no PVC")
            check(f"replicas: {n}" in dep and "APITAP_COLLECTOR_STORE" in dep and "path: /readyz" in dep, f"{name}: {n} replicas, store URL from a Secret, readiness checks the store")
            sec = "pg-url" if name == "replicas-secret" else "demo-apitap-store"
            check(f"name: {sec}" in dep, f"{name}: the store Secret is {sec}")
            if name == "replicas":
                check("postgres://" not in dep and "demo-apitap-store" in rendered.get("apitap/templates/store-secret.yaml", ""), "the URL is only in the Secret")
        if name == "nopersist":
            sm = rendered["apitap/templates/servicemonitor.yaml"]
            check("name: my-tokens" in sm and "key: metrics-token" in sm, "existingSecret: the ServiceMonitor's token comes from its metrics-token key")
            check("optional: true" in rendered["apitap/templates/deployment.yaml"], "existingSecret: its metrics-token key is optional")
        if name == "metrics-open":
            sm = rendered["apitap/templates/servicemonitor.yaml"]
            check("authorization" not in sm and "APITAP_COLLECTOR_METRICS_OPEN" in rendered["apitap/templates/deployment.yaml"], "metricsOpen: no scrape token, --metrics-open set")
        if name == "defaults":
            check(sorted(kinds) == ["Deployment", "PersistentVolumeClaim", "Service"], "default render: Deployment, PVC, Service")
            notes = rendered.get("apitap/templates/NOTES.txt", "")
            check("WARNING: no auth.tokens" in notes, "NOTES warn about missing auth")
    try:
        c.render(values={"auth": {"tokens": ["0123456789abcdef-token-a"]}, "serviceMonitor": {"enabled": True}}, name="demo", namespace="apitap")
        check(False, "a ServiceMonitor with tokens but no scrape token is refused")
    except helm.HelmError as e:
        check("metricsToken" in str(e), f"a ServiceMonitor with tokens but no scrape token is refused: {str(e).splitlines()[0][:90]}")
    try:
        c.render(values={"collector": {"replicas": 2}}, name="demo", namespace="apitap")
        check(False, "replicas > 1 without a shared store is refused")
    except helm.HelmError as e:
        check("shared store" in str(e), f"replicas > 1 without a shared store is refused: {str(e).splitlines()[0][:90]}")
    for bad in [{"collector": {"port": 70000}}, {"collector": {"replicas": 0}}, {"store": {"url": "mysql://x"}}, {"auth": {"tokens": ["short"]}}, {"auth": {"metricsToken": "short"}}, {"persistence": {"size": "lots"}}, {"unknownKey": 1}]:
        try:
            c.validate_schema(bad)
            check(False, f"values.schema.json rejects {bad}")
        except helm.HelmError as e:
            check(True, f"values.schema.json rejects {bad}: {str(e).splitlines()[0][:90]}")

d = json.load(open(os.path.join(chart, "files/grafana-dashboard.json")))
exprs = [t["expr"] for p in d["panels"] for t in p["targets"]]
check(len(d["panels"]) >= 8 and all(e.count("(") == e.count(")") for e in exprs), f"dashboard: {len(d['panels'])} panels, balanced PromQL")
# Every metric the dashboard queries must be one the agent, the pusher or the collector
# exports: families are declared by name in the code (apitap-exposition), histograms without
# `_bucket`/`_count`/`_sum`, counters without `_total`.
names = set(re.findall(r"\b((?:apitap|http_server|rpc_server)_[a-z_]+)", " ".join(exprs)))
families = {re.sub(r"_(bucket|count|sum|total)$", "", n) for n in names}
src = "".join(open(os.path.join(chart, "../..", f)).read() for f in (
    "agent/src/upstream/push.rs", "agent/src/upstream/remote_write.rs", "collector/src/lib.rs",
    "agent/src/metrics/mod.rs", "agent/src/metrics/rpc.rs"))
missing = sorted(n for n in families if f'"{n}"' not in src)
check(not missing and {"http_server_request_duration_seconds", "rpc_server_call_duration_seconds"} <= families,
      f"dashboard metrics exported by the agent/upstream/collector code (missing: {missing})")
sys.exit(1 if fail else 0)
PY

if [ $rc -eq 0 ]; then e2e_pass "chart lint, render, schema, dashboard"; else e2e_fail "chart lint, render, schema, dashboard"; fi

for f in defaults full nopersist replicas replicas-secret; do
  # The ServiceMonitor CRD has no bundled schema (a warning); everything else must validate.
  if kubernetes-validate --strict -k "$KUBE_VERSION" --no-warn "$OUT/$f.yaml" > "$OUT/$f.val" 2>&1; then
    e2e_pass "kubernetes-validate --strict ($KUBE_VERSION): chart with $f values"
  else
    cat "$OUT/$f.val" >&2; e2e_fail "kubernetes-validate --strict: chart with $f values"
  fi
done

cat > "$OUT/app.yaml" <<'YAML'
# An application with a config map between the workloads.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  labels: {app.kubernetes.io/name: shop}
spec:
  replicas: 2
  selector:
    matchLabels: {app.kubernetes.io/name: shop}
  template:
    metadata:
      labels: {app.kubernetes.io/name: shop}
    spec:
      containers:
        - name: web
          image: nginx:1.27
          ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: shop-config   # comment kept
data:
  A: "1"
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: pg, image: "postgres:16"}]
---
apiVersion: v1
kind: Pod
metadata: {name: debug}
spec:
  containers: [{name: sh, image: busybox}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: report}
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: r, image: busybox}]
YAML
"$APITAP" inject -f "$OUT/app.yaml" --upstream http://demo-apitap.apitap.svc:9470 --token-secret apitap-token > "$OUT/injected.yaml"
if kubernetes-validate --strict -k "$KUBE_VERSION" --no-warn "$OUT/injected.yaml" > "$OUT/inj.val" 2>&1; then
  e2e_pass "kubernetes-validate --strict: apitap inject output"
else
  cat "$OUT/inj.val" >&2; e2e_fail "kubernetes-validate --strict: apitap inject output"
fi
n=$(grep -c "name: apitap$" "$OUT/injected.yaml" || true)
e2e_check "sidecar added to the 4 workloads (found $n)" test "$n" -eq 4
e2e_check "ConfigMap kept byte for byte" grep -q "name: shop-config   # comment kept" "$OUT/injected.yaml"
e2e_check "service name from the app label" grep -q -- "- shop$" "$OUT/injected.yaml"
"$APITAP" inject -f - --upstream http://demo-apitap.apitap.svc:9470 --token-secret apitap-token < "$OUT/injected.yaml" > "$OUT/twice.yaml"
e2e_check "inject is idempotent" cmp -s "$OUT/injected.yaml" "$OUT/twice.yaml"
e2e_summary
