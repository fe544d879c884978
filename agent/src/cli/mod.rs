//! Subcommand implementations.

pub mod args;

use anyhow::{Context, Result};
use apitap::output::{har::HarWriter, jsonl::JsonlWriter, ExchangeWriter, Reorderer};
use apitap::pipeline;
use apitap_engine::PipelineConfig;
use clap::{Args, ValueEnum};
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

/// Output format of `exchanges`.
#[derive(Copy, Clone, Debug, ValueEnum)]
pub enum ExchangeFormat {
    /// One JSON object per line.
    Jsonl,
    /// HAR 1.2.
    Har,
}

/// `apitap exchanges`.
#[derive(Args, Debug)]
pub struct ExchangesArgs {
    /// Capture files (.pcap, .pcapng, gzip-compressed); `-` reads standard input.
    #[arg(required = true)]
    pub files: Vec<String>,
    /// BPF filter, compiled by libpcap (e.g. `port 80 and host 172.16.0.1`).
    #[arg(long, short = 'f')]
    pub filter: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: ExchangeFormat,
    /// Include decoded bodies (UTF-8 text, else base64).
    #[arg(long)]
    pub bodies: bool,
    /// Keep at most this many bytes of each body (with --bodies).
    #[arg(long, default_value_t = 1 << 20)]
    pub body_cap: usize,
    /// Write to this file instead of standard output.
    #[arg(long, short = 'o')]
    pub output: Option<String>,
    /// Print pipeline counters to stderr at the end.
    #[arg(long)]
    pub stats: bool,
    /// Never show a progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

fn open_output(path: &Option<String>) -> Result<Box<dyn Write>> {
    Ok(match path {
        Some(p) if p != "-" => Box::new(io::BufWriter::with_capacity(
            1 << 16,
            std::fs::File::create(p).with_context(|| format!("cannot create {p}"))?,
        )),
        _ => Box::new(io::BufWriter::with_capacity(1 << 16, io::stdout().lock())),
    })
}

/// Runs `apitap exchanges`.
pub fn exchanges(a: ExchangesArgs) -> Result<ExitCode> {
    let out = open_output(&a.output)?;
    let mut writer: Box<dyn ExchangeWriter> = match a.format {
        ExchangeFormat::Jsonl => Box::new(JsonlWriter::new(out, a.bodies)),
        ExchangeFormat::Har => Box::new(HarWriter::new(out, a.bodies)),
    };
    let mut cfg = PipelineConfig {
        http2: Some(apitap_engine::protocol::http2_parser),
        ..Default::default()
    };
    cfg.http.keep_bodies = a.bodies;
    cfg.http.body_cap = a.body_cap;
    let progress = !a.no_progress && io::stderr().is_terminal();
    let mut reorder = Reorderer::new(100_000, 256 << 20);
    let mut emit = |ex: Box<apitap_engine::http::Exchange>| -> io::Result<()> { writer.write(&ex) };
    let stats = pipeline::run_files(
        &a.files,
        a.filter.as_deref(),
        &cfg,
        None,
        progress,
        &mut |ev| reorder.push(ev, &mut emit).context("cannot write output"),
    );
    let stats = match stats {
        Ok(s) => s,
        Err(e) => {
            // Print what was complete before the error, then fail.
            let _ = reorder.finish(&mut emit);
            let _ = writer.finish();
            return Err(e);
        }
    };
    reorder.finish(&mut emit).context("cannot write output")?;
    writer.finish().context("cannot write output")?;
    if let Some(why) = stats.why_empty() {
        eprintln!("apitap: {why}");
    }
    if a.stats {
        eprintln!("{}", stats.summary());
        let r = reorder.stats();
        eprintln!(
            "output: released {} exchanges, {} out of order to respect the buffer cap",
            r.released, r.forced
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Output format of `learn`.
#[derive(Copy, Clone, Debug, ValueEnum)]
pub enum SpecFormat {
    /// OpenAPI 3.1 as JSON.
    OpenapiJson,
    /// OpenAPI 3.1 as YAML.
    OpenapiYaml,
    /// apitap's native model JSON (mergeable).
    Model,
    /// A proto3 `.proto` file of the learned gRPC methods (fields named `field_N`).
    Proto,
}

/// `apitap learn`.
#[derive(Args, Debug)]
pub struct LearnArgs {
    /// Capture files (.pcap, .pcapng, gzip-compressed; `-` for stdin) or HAR files.
    #[arg(required = true)]
    pub files: Vec<String>,
    /// BPF filter for captures, compiled by libpcap.
    #[arg(long, short = 'f')]
    pub filter: Option<String>,
    /// Write the result here instead of standard output.
    #[arg(long, short = 'o')]
    pub output: Option<String>,
    /// What to write.
    #[arg(long, value_enum, default_value = "openapi-json")]
    pub format: SpecFormat,
    /// Pin a path template, e.g. `/v1/orgs/{org}/repos` (repeatable).
    #[arg(long = "path-template")]
    pub path_templates: Vec<String>,
    /// A reviewed templates file that wins over inference, one rule a line (`#` comments):
    /// `param /v1/images/{name}/json` makes segments parameters (merge), `static
    /// /v1/containers/json` keeps a literal route (split).
    #[arg(long)]
    pub templates: Option<String>,
    /// A `protoc --descriptor_set_out` file: names gRPC message fields in the exports.
    #[arg(long = "proto-descriptors", value_name = "FILE")]
    pub proto_descriptors: Option<String>,
    /// Source id of the learned evidence (default `local`): models learned from parts of
    /// the traffic with distinct source ids merge into the model of the whole.
    #[arg(long, default_value = "local")]
    pub source: String,
    /// Print to stderr, per template parameter and per literal kept static beside values,
    /// the evidence that decided it (value classes, folded values by rule, sibling counts,
    /// sub-routes). Values folded into a parameter are counted, never named.
    #[arg(long)]
    pub explain: bool,
    /// Keep one example per schema node, synthesised from type and format (never a value).
    #[arg(long)]
    pub examples: bool,
    /// Memory budget: max path nodes learned in all services; exchanges needing more are
    /// counted in the `_other` bucket (`x-apitap-other`).
    #[arg(long, default_value_t = apitap_model::model::DEFAULT_MAX_NODES)]
    pub max_nodes: u64,
    /// Max operations exported (the most used); the others' exchanges are summed into
    /// `x-apitap-other`.
    #[arg(long, default_value_t = apitap_model::DEFAULT_MAX_OPERATIONS)]
    pub max_operations: usize,
    /// Export only this service (its `ip:port`, or a Host seen for it).
    #[arg(long)]
    pub service: Option<String>,
    /// Leave out the x-apitap-* evidence extensions.
    #[arg(long)]
    pub no_evidence: bool,
    /// Bytes of each body kept for schema inference.
    #[arg(long, default_value_t = 1 << 20)]
    pub body_cap: usize,
    /// Decode and infer every body and every array element (audits): turns adaptive body
    /// sampling off (by default an endpoint's bodies are inspected always while they teach
    /// something new, then on a shrinking sample down to 1 in 64, `x-apitap-bodies-sampled`
    /// tells how many; and a long array's elements beyond the 16th on a sample of 1 in 8).
    #[arg(long)]
    pub learn_all: bool,
    /// Print pipeline counters to stderr at the end.
    #[arg(long)]
    pub stats: bool,
}

fn looks_like_har(path: &str) -> bool {
    use std::io::Read;
    if path == "-" {
        return false;
    }
    let mut buf = [0u8; 64];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut buf))
        .unwrap_or(0);
    buf.get(..n)
        .and_then(|b| b.iter().find(|c| !c.is_ascii_whitespace()))
        .is_some_and(|&c| c == b'{')
}

/// Runs `apitap learn`.
pub fn learn(a: LearnArgs) -> Result<ExitCode> {
    use apitap::learn::Learner;
    use apitap_model::har;
    use apitap_model::{ExportOptions, LearnConfig};
    let rules = apitap::learn::template_rules(a.templates.as_deref())?;
    let mut pinned = a.path_templates.clone();
    pinned.extend(rules.params);
    let mut learner = Learner::new(LearnConfig {
        source: a.source.clone(),
        examples: a.examples,
        pinned,
        statics: rules.statics,
        max_nodes: a.max_nodes,
        ..LearnConfig::default()
    })
    .learn_all(a.learn_all);
    let (hars, captures): (Vec<String>, Vec<String>) =
        a.files.iter().cloned().partition(|f| looks_like_har(f));
    for h in &hars {
        let bytes = std::fs::read(h).with_context(|| format!("cannot read {h}"))?;
        let obs = har::observations(&bytes).with_context(|| format!("cannot read HAR {h}"))?;
        for o in &obs {
            learner.observe(o);
        }
    }
    if !captures.is_empty() {
        let mut cfg = PipelineConfig {
            http2: Some(apitap_engine::protocol::http2_parser),
            ..Default::default()
        };
        cfg.http.keep_bodies = true;
        cfg.http.body_cap = a.body_cap;
        let progress = io::stderr().is_terminal();
        let gate = learner.gate();
        let stats = pipeline::run_files(
            &captures,
            a.filter.as_deref(),
            &cfg,
            gate,
            progress,
            &mut |ev| {
                if let apitap_engine::http::HttpEvent::Done(ex) = ev {
                    learner.observe_owned(*ex);
                }
                Ok(())
            },
        )?;
        if let Some(why) = stats.why_empty() {
            eprintln!("apitap: {why}");
        }
        if a.stats {
            eprintln!("{}", stats.summary());
        }
    }
    if a.stats {
        eprintln!("learn: {:?}", learner.stats);
        eprintln!("body sampling: {:?}", learner.sample_stats());
    }
    if a.explain {
        for (service, rows) in learner.model.explain() {
            if a.service.as_ref().is_some_and(|s| *s != service) {
                continue;
            }
            for e in rows {
                eprintln!("{service} {} {}: {}", e.kind, e.template, e.evidence);
            }
        }
    }
    let opts = ExportOptions {
        service: a.service.clone(),
        evidence: !a.no_evidence,
        max_operations: a.max_operations,
        ..ExportOptions::default()
    };
    let names = match &a.proto_descriptors {
        Some(p) => {
            let b = std::fs::read(p).with_context(|| format!("cannot read {p}"))?;
            let n = apitap_model::descriptors::ProtoNames::from_descriptor_set(&b)
                .with_context(|| format!("{p} is not a protobuf FileDescriptorSet"))?;
            Some(n)
        }
        None => None,
    };
    let m = &learner.model;
    let text = match (a.format, &names) {
        (SpecFormat::OpenapiJson, None) => m.to_openapi_json(&opts),
        (SpecFormat::OpenapiYaml, None) => m.to_yaml(&opts),
        (SpecFormat::OpenapiJson, Some(n)) => {
            serde_json::to_string_pretty(&m.to_openapi_named(&opts, n))?
        }
        (SpecFormat::OpenapiYaml, Some(n)) => {
            serde_norway::to_string(&m.to_openapi_named(&opts, n))?
        }
        (SpecFormat::Model, _) => m.to_json(),
        (SpecFormat::Proto, None) => m.to_proto(),
        (SpecFormat::Proto, Some(n)) => m.to_proto_named(n),
    };
    let mut out = open_output(&a.output)?;
    out.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `apitap diff`.
#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The old spec: OpenAPI (JSON or YAML) or an apitap model.
    pub old: String,
    /// The new spec: OpenAPI (JSON or YAML) or an apitap model.
    pub new: String,
    /// Print the diff as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Max size of a spec read by `diff` (the documents may be hostile).
pub const MAX_SPEC_BYTES: u64 = 64 << 20;
/// Max nesting (brackets or indentation levels) of a spec read by `diff`.
pub const MAX_SPEC_NESTING: usize = 128;

/// Max nesting of a JSON/YAML text, by a linear scan: flow brackets (`[`, `{`) outside
/// quoted strings, and YAML block indentation levels. An upper bound is enough: the parsers
/// (YAML's is quadratic in flow depth) only see texts under [`MAX_SPEC_NESTING`].
pub fn text_nesting(text: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let (mut in_str, mut esc) = (None::<u8>, false);
    // a quote opens a string only where a scalar may start (as in JSON and YAML), so an
    // apostrophe inside a plain word cannot hide brackets from the scan
    let mut prev = b'\n';
    for &c in text.as_bytes() {
        match in_str {
            Some(q) => {
                if esc {
                    esc = false;
                } else if c == b'\\' && q == b'"' {
                    esc = true;
                } else if c == q {
                    in_str = None;
                    prev = c;
                }
            }
            None => {
                match c {
                    b'"' | b'\'' if b"[{,:-\n".contains(&prev) => in_str = Some(c),
                    b'[' | b'{' => {
                        depth += 1;
                        max = max.max(depth);
                    }
                    b']' | b'}' => depth = depth.saturating_sub(1),
                    _ => {}
                }
                if c != b' ' && c != b'\t' && in_str.is_none() {
                    prev = c;
                }
            }
        }
    }
    // block indentation: a stack of the indents of the enclosing lines
    let mut stack: Vec<usize> = Vec::new();
    for line in text.lines() {
        let t = line.trim_start_matches([' ', '-']);
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let indent = line.len() - t.len();
        while stack.last().is_some_and(|&top| top >= indent) {
            stack.pop();
        }
        stack.push(indent);
        max = max.max(stack.len());
        if max > MAX_SPEC_NESTING {
            break;
        }
    }
    max
}

/// Reads an OpenAPI document (JSON or YAML) or a native model (exported to OpenAPI), at
/// most [`MAX_SPEC_BYTES`] and [`MAX_SPEC_NESTING`] levels deep.
pub fn read_spec(path: &str) -> Result<serde_json::Value> {
    use std::io::Read;
    let f = std::fs::File::open(path).with_context(|| format!("cannot read {path}"))?;
    let mut bytes = Vec::new();
    f.take(MAX_SPEC_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {path}"))?;
    if bytes.len() as u64 > MAX_SPEC_BYTES {
        anyhow::bail!(
            "{path} is larger than {} MiB; refusing to read it",
            MAX_SPEC_BYTES >> 20
        );
    }
    let text = String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{path} is not UTF-8 text"))?;
    if text_nesting(&text) > MAX_SPEC_NESTING {
        anyhow::bail!(
            "{path} is nested deeper than {MAX_SPEC_NESTING} levels; refusing to parse it"
        );
    }
    let value: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(_) => serde_norway::from_str(&text)
            .with_context(|| format!("{path} is neither JSON nor YAML"))?,
    };
    if value.get("apitap_model_version").is_some() {
        let model =
            apitap_model::ApiModel::from_json(&text).map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
        return Ok(model.to_openapi(&apitap_model::ExportOptions::default()));
    }
    if value.get("openapi").is_none() && value.get("swagger").is_none() {
        anyhow::bail!("{path} is not an OpenAPI document or apitap model");
    }
    Ok(value)
}

/// Runs `apitap diff`: exit 1 when anything breaks, 0 otherwise.
pub fn diff(a: DiffArgs) -> Result<ExitCode> {
    let old = read_spec(&a.old)?;
    let new = read_spec(&a.new)?;
    let d = apitap_model::diff::diff_checked(&old, &new)
        .map_err(|e| anyhow::anyhow!("cannot diff {} and {}: {e}", a.old, a.new))?;
    let mut out = io::stdout().lock();
    if a.json {
        serde_json::to_writer_pretty(&mut out, &d.to_json())?;
        writeln!(out)?;
    } else {
        write!(out, "{}", d.to_text())?;
    }
    Ok(if d.has_breaking() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `apitap push`.
#[derive(Args, Debug)]
pub struct PushArgs {
    /// Native model file (`apitap learn --format model`); `-` reads standard input.
    pub model: String,
    /// Collector base URL.
    #[arg(long, env = "APITAP_UPSTREAM")]
    pub upstream: String,
    /// Service name to push under.
    #[arg(long, env = "APITAP_SERVICE")]
    pub service: String,
    /// Bearer token.
    #[arg(long, env = "APITAP_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Give up after this long (the model is then left in `--spool-dir`, if given).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub timeout: std::time::Duration,
    /// Spool directory (a failed push leaves the model there; the next push resends it).
    #[arg(long)]
    pub spool_dir: Option<std::path::PathBuf>,
    /// Push the evidence under this source id (a model of one source is relabelled; sources
    /// of a multi-source model become `NAME/old`), so models of different runs merge side
    /// by side instead of as snapshots of one learner.
    #[arg(long)]
    pub source: Option<String>,
}

/// Runs `apitap push`: pushes one model with retries; exit 1 if it could not be delivered.
pub fn push(a: PushArgs) -> Result<ExitCode> {
    use apitap::upstream::{ModelPusher, UpstreamConfig};
    let text = if a.model == "-" {
        io::read_to_string(io::stdin()).context("cannot read standard input")?
    } else {
        std::fs::read_to_string(&a.model).with_context(|| format!("cannot read {}", a.model))?
    };
    let mut model = apitap_model::ApiModel::from_json(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.model))?;
    if let Some(name) = &a.source {
        anyhow::ensure!(!name.is_empty(), "--source must not be empty");
        let one = model.sources.len() == 1;
        model.sources = std::mem::take(&mut model.sources)
            .into_iter()
            .map(|(old, ev)| {
                let id = if one {
                    name.clone()
                } else {
                    format!("{name}/{old}")
                };
                (id, ev)
            })
            .collect();
    }
    let cfg = UpstreamConfig {
        upstream: Some(a.upstream.clone()),
        service: Some(a.service.clone()),
        token: a.token.clone(),
        spool_dir: a.spool_dir.clone(),
        push_max_backoff: std::time::Duration::from_secs(5),
        ..UpstreamConfig::default()
    };
    let snapshot: apitap::upstream::SnapshotFn = std::sync::Arc::new(move || model.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let deadline = std::time::Instant::now() + a.timeout;
    rt.block_on(async move {
        let mut p = ModelPusher::new(&cfg, &a.upstream, snapshot)?;
        match p.flush_now(deadline).await {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(e) => {
                eprintln!("apitap: push to {} failed: {e}", p.url());
                Ok(ExitCode::from(1))
            }
        }
    })
}

/// `apitap agent`: the agent's own options and the upstream (push) options.
#[derive(Args, Debug)]
pub struct AgentCommand {
    /// Capture, learning and admin server options.
    #[command(flatten)]
    pub agent: args::AgentArgs,
    /// Pushing the model to a collector and metrics by remote write.
    #[command(flatten)]
    pub upstream: args::UpstreamArgs,
}

/// Runs `apitap agent` until SIGTERM or SIGINT, then flushes, writes the final model and
/// makes a last push upstream.
pub fn agent(a: AgentCommand) -> Result<ExitCode> {
    use apitap::agent::Agent;
    let AgentCommand { agent: a, upstream } = a;
    let mut upstream = apitap::upstream::UpstreamConfig::from(upstream);
    let cfg = apitap::agent::AgentSettings::from(a).resolve()?;
    upstream.service = upstream.service.or_else(|| cfg.service.clone());
    let listen = cfg.listen.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(2)
        .thread_name("apitap-admin")
        .enable_all()
        .build()
        .context("cannot start the admin runtime")?;
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(&listen))
        .with_context(|| format!("cannot listen on {listen}"))?;
    let agent = Agent::start(cfg)?;
    tracing::info!(listen = %listen, interfaces = ?agent.shared().interfaces(), "agent running");
    let shared = std::sync::Arc::clone(agent.shared());
    // The last push must carry the final model, not the last published snapshot.
    let final_model: std::sync::Arc<std::sync::OnceLock<apitap_model::ApiModel>> =
        std::sync::Arc::default();
    let push = if upstream.enabled() {
        let (snap_shared, text_shared, fin) = (
            std::sync::Arc::clone(&shared),
            std::sync::Arc::clone(&shared),
            std::sync::Arc::clone(&final_model),
        );
        let handle = apitap::upstream::spawn(
            &upstream,
            std::sync::Arc::new(move || {
                fin.get()
                    .cloned()
                    .unwrap_or_else(|| (*snap_shared.model()).clone())
            }),
            std::sync::Arc::new(move || text_shared.metrics()),
        )?;
        let handle = std::sync::Arc::new(handle);
        let stats = std::sync::Arc::clone(&handle);
        shared.set_extra_metrics(Box::new(move || stats.families()));
        Some(handle)
    } else {
        None
    };
    let admin_shared = std::sync::Arc::clone(&shared);
    rt.block_on(async move {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(apitap::admin::serve(listener, admin_shared, async move {
            let _ = rx.await;
        }));
        let sig = shutdown_signal().await;
        tracing::info!("{sig}: shutting down");
        let _ = tx.send(());
        // Give in-flight admin requests a moment, never more.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), server).await;
    });
    rt.shutdown_background();
    let model = agent.stop()?;
    tracing::info!(observed = model.stats().observed, "agent stopped");
    if let Some(handle) = push {
        let _ = final_model.set(model);
        shared.clear_extra_metrics();
        match std::sync::Arc::try_unwrap(handle) {
            Ok(h) => h.shutdown(std::time::Duration::from_secs(5)),
            Err(_) => tracing::warn!("upstream still in use at shutdown; last push skipped"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut t), Ok(mut i)) => tokio::select! {
            _ = t.recv() => "SIGTERM",
            _ = i.recv() => "SIGINT",
        },
        _ => {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}

/// `apitap healthcheck`.
#[derive(Args, Debug)]
pub struct HealthcheckArgs {
    /// The agent's admin address.
    #[arg(
        long,
        env = "APITAP_HEALTHCHECK_ADDR",
        default_value = "127.0.0.1:9464"
    )]
    pub addr: String,
    /// Path to check.
    #[arg(long, default_value = "/healthz")]
    pub path: String,
}

/// Runs `apitap healthcheck`: exit 0 on HTTP 200, 1 otherwise.
pub fn healthcheck(a: HealthcheckArgs) -> Result<ExitCode> {
    match apitap::admin::http_get_status(&a.addr, &a.path, std::time::Duration::from_secs(3)) {
        Ok(200) => Ok(ExitCode::SUCCESS),
        Ok(code) => {
            eprintln!("apitap: {}{} answered {code}", a.addr, a.path);
            Ok(ExitCode::from(1))
        }
        Err(e) => {
            eprintln!("apitap: {}{}: {e}", a.addr, a.path);
            Ok(ExitCode::from(1))
        }
    }
}
