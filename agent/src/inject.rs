//! `apitap inject`: adds the apitap agent as a sidecar to Kubernetes workload manifests
//! (like `kube inject` of Postman's observability agent or `istioctl kube-inject`).
//!
//! Reads one or more YAML (or JSON) documents; for each Pod, Deployment, StatefulSet,
//! DaemonSet, ReplicaSet, Job, CronJob (and such objects inside a `List`), adds to the pod
//! spec:
//! - a container `apitap` running `apitap agent --listen 0.0.0.0:9464 [--upstream URL]
//!   --service NAME`, with `POD_NAME`/`POD_NAMESPACE` from the downward API, a port named
//!   `apitap-metrics`, a readiness probe on `/readyz`, resource requests and limits, and a
//!   locked-down security context: non-root, read-only root file system, no privilege
//!   escalation, all capabilities dropped except `NET_RAW` (needed to capture; the image
//!   grants it to the binary as a file capability, so the agent needs no root);
//! - an `emptyDir` volume `apitap-spool` for the upstream spool (it survives container
//!   restarts).
//!
//! Policy: documents of other kinds, and workloads that already have a container named
//! `apitap`, are printed exactly as read (byte for byte), so the command is idempotent and
//! can be applied to a whole manifest stream. Modified documents are re-serialised (key order
//! becomes alphabetical; YAML comments inside them are not kept). The service name is
//! `--service`, else the pod template's `app.kubernetes.io/name` or `app` label, else the
//! workload's name.

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::process::ExitCode;

/// Name of the injected container.
pub const CONTAINER: &str = "apitap";
/// Name of the injected spool volume.
pub const VOLUME: &str = "apitap-spool";

/// `apitap inject` options.
#[derive(Debug, Clone)]
pub struct InjectConfig {
    /// Manifest file (`-` for standard input).
    pub file: String,
    /// Agent image.
    pub image: String,
    /// Collector URL the agent pushes its model to.
    pub upstream: Option<String>,
    /// Prometheus remote-write URL for the agent's metrics.
    pub remote_write: Option<String>,
    /// Service name (default: the `app.kubernetes.io/name` or `app` label, else the name).
    pub service: Option<String>,
    /// Name of a Secret whose key `token` holds the collector token.
    pub token_secret: Option<String>,
    /// Metrics/admin port of the agent.
    pub port: u16,
    /// Extra argument for `apitap agent` (repeatable).
    pub agent_args: Vec<String>,
    /// CPU request.
    pub cpu_request: String,
    /// CPU limit.
    pub cpu_limit: String,
    /// Memory request.
    pub memory_request: String,
    /// Memory limit.
    pub memory_limit: String,
}

impl Default for InjectConfig {
    fn default() -> Self {
        InjectConfig {
            file: "-".into(),
            image: concat!("ghcr.io/apitap/apitap:", env!("CARGO_PKG_VERSION")).into(),
            upstream: None,
            remote_write: None,
            service: None,
            token_secret: None,
            port: 9464,
            agent_args: Vec::new(),
            cpu_request: "50m".into(),
            cpu_limit: "500m".into(),
            memory_request: "64Mi".into(),
            memory_limit: "256Mi".into(),
        }
    }
}

/// Splits a YAML stream into documents (on `---` lines), keeping each document's text.
fn split_documents(text: &str) -> Vec<&str> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let l = line.trim_end();
        if l == "---" || l.starts_with("--- ") || l.starts_with("---\t") || l == "..." {
            docs.push(&text[start..pos]);
            start = pos + line.len();
        }
        pos += line.len();
    }
    docs.push(&text[start..]);
    docs.into_iter()
        .filter(|d| {
            d.lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        })
        .collect()
}

fn sanitize_service(s: &str) -> String {
    let mut o: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(253)
        .collect();
    if o.is_empty() {
        o.push_str("unknown");
    }
    o
}

fn sidecar(a: &InjectConfig, service: &str) -> Value {
    let mut args = vec![
        "agent".to_string(),
        "--listen".into(),
        format!("0.0.0.0:{}", a.port),
    ];
    if let Some(u) = &a.upstream {
        args.push("--upstream".into());
        args.push(u.clone());
    }
    if let Some(r) = &a.remote_write {
        args.push("--remote-write".into());
        args.push(r.clone());
    }
    args.push("--service".into());
    args.push(service.to_string());
    args.extend(a.agent_args.iter().cloned());
    let mut env = vec![
        json!({"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}),
        json!({"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}),
        json!({"name": "APITAP_SERVICE", "value": service}),
        json!({"name": "APITAP_SPOOL_DIR", "value": "/var/lib/apitap"}),
    ];
    if let Some(s) = &a.token_secret {
        env.push(json!({"name": "APITAP_TOKEN", "valueFrom": {"secretKeyRef": {"name": s, "key": "token"}}}));
    }
    json!({
        "name": CONTAINER,
        "image": a.image,
        "imagePullPolicy": "IfNotPresent",
        "args": args,
        "env": env,
        "ports": [{"name": "apitap-metrics", "containerPort": a.port, "protocol": "TCP"}],
        "readinessProbe": {
            "httpGet": {"path": "/readyz", "port": "apitap-metrics"},
            "periodSeconds": 10,
            "failureThreshold": 3
        },
        "resources": {
            "requests": {"cpu": a.cpu_request, "memory": a.memory_request},
            "limits": {"cpu": a.cpu_limit, "memory": a.memory_limit}
        },
        "securityContext": {
            "runAsNonRoot": true,
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": true,
            "capabilities": {"add": ["NET_RAW"], "drop": ["ALL"]}
        },
        "volumeMounts": [{"name": VOLUME, "mountPath": "/var/lib/apitap"}]
    })
}

/// The pod spec and the labels of its pod template inside a workload object, by kind.
fn pod_spec_mut<'a>(obj: &'a mut Value, kind: &str) -> Option<&'a mut Value> {
    let path: &[&str] = match kind {
        "Pod" => &["spec"],
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => &["spec", "template", "spec"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        _ => return None,
    };
    let mut v = obj;
    for p in path {
        v = v.get_mut(*p)?;
    }
    v.is_object().then_some(v)
}

fn template_labels<'a>(obj: &'a Value, kind: &str) -> Option<&'a serde_json::Map<String, Value>> {
    let path: &[&str] = match kind {
        "Pod" => &["metadata", "labels"],
        "CronJob" => &[
            "spec",
            "jobTemplate",
            "spec",
            "template",
            "metadata",
            "labels",
        ],
        _ => &["spec", "template", "metadata", "labels"],
    };
    let mut v = obj;
    for p in path {
        v = v.get(*p)?;
    }
    v.as_object()
}

/// Injects into one object (recursing into `List` items). Returns whether it changed.
pub fn inject_object(obj: &mut Value, a: &InjectConfig) -> Result<bool> {
    let kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if kind == "List" || kind.ends_with("List") {
        let mut changed = false;
        if let Some(items) = obj.get_mut("items").and_then(Value::as_array_mut) {
            for it in items {
                changed |= inject_object(it, a)?;
            }
        }
        return Ok(changed);
    }
    let service = a.service.clone().unwrap_or_else(|| {
        let l = template_labels(obj, &kind);
        let from_label = l.and_then(|l| {
            l.get("app.kubernetes.io/name")
                .or_else(|| l.get("app"))
                .and_then(Value::as_str)
        });
        from_label
            .or_else(|| obj.pointer("/metadata/name").and_then(Value::as_str))
            .unwrap_or("unknown")
            .to_string()
    });
    let service = sanitize_service(&service);
    let Some(spec) = pod_spec_mut(obj, &kind) else {
        return Ok(false);
    };
    let Some(spec) = spec.as_object_mut() else {
        return Ok(false);
    };
    let containers = spec
        .entry("containers")
        .or_insert_with(|| Value::Array(Vec::new()));
    let Some(containers) = containers.as_array_mut() else {
        bail!("{kind}: spec.containers is not a list");
    };
    if containers
        .iter()
        .any(|c| c.get("name").and_then(Value::as_str) == Some(CONTAINER))
    {
        return Ok(false);
    }
    containers.push(sidecar(a, &service));
    let volumes = spec
        .entry("volumes")
        .or_insert_with(|| Value::Array(Vec::new()));
    let Some(volumes) = volumes.as_array_mut() else {
        bail!("{kind}: spec.volumes is not a list");
    };
    if !volumes
        .iter()
        .any(|v| v.get("name").and_then(Value::as_str) == Some(VOLUME))
    {
        volumes.push(json!({"name": VOLUME, "emptyDir": {"sizeLimit": "128Mi"}}));
    }
    Ok(true)
}

/// Injects into a YAML stream; unchanged documents are copied verbatim.
pub fn inject_text(text: &str, a: &InjectConfig) -> Result<String> {
    let mut out = String::with_capacity(text.len() + 2048);
    for (i, doc) in split_documents(text).into_iter().enumerate() {
        let mut v: Value = serde_norway::from_str(doc)
            .with_context(|| format!("document {} is not valid YAML", i + 1))?;
        if i > 0 {
            out.push_str("---\n");
        }
        if v.is_object() && inject_object(&mut v, a)? {
            out.push_str(&serde_norway::to_string(&v).context("cannot write YAML")?);
        } else {
            out.push_str(doc);
        }
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

/// Runs `apitap inject`.
pub fn run(a: InjectConfig) -> Result<ExitCode> {
    let mut text = String::new();
    if a.file == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read standard input")?;
    } else {
        text =
            std::fs::read_to_string(&a.file).with_context(|| format!("cannot read {}", a.file))?;
    }
    let out = inject_text(&text, &a)?;
    let mut so = std::io::stdout().lock();
    so.write_all(out.as_bytes())?;
    so.flush()?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\nspec:\n  selector:\n    matchLabels: {app: shop}\n  template:\n    metadata:\n      labels: {app: shop-api}\n    spec:\n      containers:\n      - name: web\n        image: nginx\n";
    const CM: &str = "# keep me\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c   # odd spacing\ndata: {a: b}\n";

    fn args() -> InjectConfig {
        InjectConfig {
            upstream: Some("http://collector:9470".into()),
            ..InjectConfig::default()
        }
    }

    #[test]
    fn adds_sidecar_and_keeps_other_documents() {
        let input = format!("{DEPLOY}---\n{CM}");
        let out = inject_text(&input, &args()).unwrap();
        let docs = split_documents(&out);
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1], CM, "ConfigMap must be byte-identical");
        let v: Value = serde_norway::from_str(docs[0]).unwrap();
        let cs = v.pointer("/spec/template/spec/containers").unwrap();
        assert_eq!(cs.as_array().unwrap().len(), 2);
        let c = &cs[1];
        assert_eq!(c["name"], "apitap");
        assert_eq!(
            c["args"],
            json!([
                "agent",
                "--listen",
                "0.0.0.0:9464",
                "--upstream",
                "http://collector:9470",
                "--service",
                "shop-api"
            ])
        );
        assert_eq!(
            c["securityContext"]["capabilities"],
            json!({"add": ["NET_RAW"], "drop": ["ALL"]})
        );
        assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
        assert_eq!(
            c["env"][0]["valueFrom"]["fieldRef"]["fieldPath"],
            "metadata.name"
        );
        assert_eq!(c["ports"][0]["name"], "apitap-metrics");
        assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
        assert_eq!(
            v.pointer("/spec/template/spec/volumes/0/name").unwrap(),
            "apitap-spool"
        );
        // the original container is untouched
        assert_eq!(cs[0], json!({"name": "web", "image": "nginx"}));
    }

    #[test]
    fn idempotent() {
        let once = inject_text(DEPLOY, &args()).unwrap();
        let twice = inject_text(&once, &args()).unwrap();
        assert_eq!(once, twice);
    }

    #[test]
    fn pods_lists_and_cronjobs() {
        let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p1}\nspec:\n  containers: [{name: a, image: x}]\n";
        let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p2}\n  spec:\n    containers: [{name: a, image: x}]\n";
        let cron = "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: cj}\nspec:\n  schedule: '* * * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{name: a, image: x}]\n";
        let out = inject_text(&format!("{pod}---\n{list}---\n{cron}"), &args()).unwrap();
        let docs: Vec<Value> = split_documents(&out)
            .iter()
            .map(|d| serde_norway::from_str(d).unwrap())
            .collect();
        assert_eq!(docs[0]["spec"]["containers"][1]["args"][6], "p1");
        assert_eq!(
            docs[1]["items"][0]["spec"]["containers"][1]["name"],
            "apitap"
        );
        assert_eq!(
            docs[2]
                .pointer("/spec/jobTemplate/spec/template/spec/containers/1/name")
                .unwrap(),
            "apitap"
        );
    }

    #[test]
    fn bad_yaml_is_an_error() {
        assert!(inject_text("kind: [unclosed", &args()).is_err());
    }
}
