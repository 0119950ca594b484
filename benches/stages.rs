//! Criterion benchmarks of each stage of svcc on generated clusters (`examples/gen-cluster.rs`):
//! load (read and parse, keeping the trees), decode, link, the cross-object checks, lower,
//! emit nft, emit dns, and the whole `check` and `compile --target nft` pipelines (in which
//! decoding and the per-object checks run inside the load, on the parsing threads).
//!
//! `cargo bench --bench stages` runs 1,000 and 10,000 Services × 10 endpoints (override with
//! `SVCC_BENCH_SERVICES=1000,30000`); samples are few (10) so the run takes a few minutes on
//! two cores. Under `cargo test` (no `--bench` argument) every benchmark runs once on a cluster
//! of 20 Services, which keeps CI fast while proving the benchmarks still work.

#[path = "../examples/gen-cluster.rs"]
#[allow(dead_code)]
mod gen_cluster;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;
use svcc::check::{self, RunOptions};
use svcc::emit::{dns, nft};
use svcc::pipeline::{self, Settings};
use svcc::plan::LowerOptions;
use svcc::source::inputs;

/// One generated cluster, written to a file, and its stages' outputs.
struct Cluster {
    services: usize,
    path: PathBuf,
    bytes: u64,
}

fn sizes() -> Vec<usize> {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    if !benchmarking {
        return vec![20];
    }
    match std::env::var("SVCC_BENCH_SERVICES") {
        Ok(v) => v
            .split(',')
            .map(|n| n.trim().parse().expect("SVCC_BENCH_SERVICES: numbers"))
            .collect(),
        Err(_) => vec![1_000, 10_000],
    }
}

fn clusters(dir: &std::path::Path) -> Vec<Cluster> {
    sizes()
        .into_iter()
        .map(|services| {
            let cfg = gen_cluster::Config {
                services,
                endpoints: 10,
                ..Default::default()
            };
            let (text, _) = gen_cluster::generate(&cfg).expect("generate");
            let path = dir.join(format!("cluster-{services}.yaml"));
            std::fs::write(&path, &text).expect("write the cluster");
            Cluster {
                services,
                path,
                bytes: text.len() as u64,
            }
        })
        .collect()
}

fn stages(c: &mut Criterion, clusters: &[Cluster]) {
    let settings = Settings::default();
    let profile = &settings.profile;
    let lower_options = LowerOptions::default();
    let nft_options = nft::Options::default();
    let dns_options = dns::Options::default();
    let load = |cl: &Cluster| {
        let found = inputs::discover(std::slice::from_ref(&cl.path), &Default::default());
        assert!(found.errors.is_empty());
        inputs::load(&found.inputs, &settings.limits, settings.max_file_bytes)
    };

    for cl in clusters {
        let id = |stage: &str| BenchmarkId::new(stage, cl.services);
        let mut g = c.benchmark_group(format!("{} services", cl.services));
        // Every stage's input, computed once outside the timed part.
        let loaded = load(cl);
        let documents: Vec<_> = loaded.pieces.iter().flatten().cloned().collect();
        let model = svcc::model::decode(documents.clone(), profile.kubernetes_minor);
        let links = svcc::link::link(&model, &profile.default_namespace);
        let (plan, _) = svcc::plan::lower(&model, &links, profile, &lower_options);

        g.throughput(Throughput::Bytes(cl.bytes));
        g.bench_function(id("load"), |b| b.iter(|| load(black_box(cl))));
        g.bench_function(id("check-pipeline"), |b| {
            b.iter(|| pipeline::check_paths(std::slice::from_ref(&cl.path), &settings))
        });
        g.bench_function(id("compile-nft-pipeline"), |b| {
            b.iter(|| {
                let compiled =
                    pipeline::compile(std::slice::from_ref(&cl.path), &settings, &lower_options)
                        .expect("schemas");
                let mut out = Vec::new();
                nft::write(
                    compiled.plan.as_ref().expect("a plan"),
                    &nft_options,
                    &mut out,
                )
                .expect("nft");
                out
            })
        });
        g.throughput(Throughput::Elements(cl.services as u64));
        g.bench_function(id("decode"), |b| {
            b.iter_batched(
                || documents.clone(),
                |docs| svcc::model::decode(docs, profile.kubernetes_minor),
                BatchSize::PerIteration,
            )
        });
        g.bench_function(id("link"), |b| {
            b.iter(|| svcc::link::link(black_box(&model), &profile.default_namespace))
        });
        g.bench_function(id("check-cluster"), |b| {
            b.iter(|| {
                let engine = check::Engine::new(&model, RunOptions::default());
                check::run(
                    black_box(&model),
                    &links,
                    profile,
                    Vec::new(),
                    Vec::new(),
                    engine,
                    None,
                )
            })
        });
        g.bench_function(id("lower"), |b| {
            b.iter(|| svcc::plan::lower(black_box(&model), &links, profile, &lower_options))
        });
        g.bench_function(id("emit-nft"), |b| {
            b.iter(|| {
                let mut out = Vec::new();
                nft::write(black_box(&plan), &nft_options, &mut out).expect("nft");
                out
            })
        });
        g.bench_function(id("emit-dns"), |b| {
            b.iter(|| dns::zones(black_box(&plan), &dns_options).expect("zones"))
        });
        g.finish();
    }
}

fn main() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let clusters = clusters(dir.path());
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    stages(&mut c, &clusters);
    c.final_summary();
}
