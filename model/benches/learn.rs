//! Learning throughput on typical JSON API traffic (small JSON bodies).
use apitap_model::{ApiModel, LearnConfig, Observation};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

#[path = "../examples/traffic/mod.rs"]
mod traffic;

fn bench(c: &mut Criterion) {
    let obs: Vec<Observation> = traffic::generate(10_000, 1);
    let cfg = LearnConfig::default();
    let mut g = c.benchmark_group("learn");
    g.throughput(Throughput::Elements(obs.len() as u64));
    g.bench_with_input(BenchmarkId::new("observe", obs.len()), &obs, |b, obs| {
        b.iter(|| {
            let mut m = ApiModel::new();
            m.observe_all(obs, &cfg);
            m
        })
    });
    // the value-flow share of observing (baseline: `observe` above, same run)
    g.bench_with_input(BenchmarkId::new("value_flow", obs.len()), &obs, |b, obs| {
        b.iter(|| {
            let mut f = apitap_model::valueflow::ValueFlow::default();
            for o in obs {
                f.observe(o);
            }
            f
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
