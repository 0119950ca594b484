//! Times each stage of `svcc check` on one input file: `cargo run --release --example stages -- FILE`.

use std::time::Instant;
use svcc::check::schema::SchemaSet;
use svcc::source::inputs;

fn main() {
    let path = std::env::args().nth(1).expect("usage: stages FILE");
    let settings = svcc::pipeline::Settings::default();
    let t = Instant::now();
    let (ins, _) = inputs::discover(&[path.into()], &Default::default());
    let loaded = inputs::load(&ins, &settings.limits, settings.max_file_bytes);
    println!(
        "load+parse {:>8.1} ms ({} documents)",
        t.elapsed().as_secs_f64() * 1e3,
        loaded.documents.len()
    );
    let t = Instant::now();
    let model = svcc::model::decode(loaded.documents, settings.profile.kubernetes_minor);
    println!(
        "decode     {:>8.1} ms ({} objects)",
        t.elapsed().as_secs_f64() * 1e3,
        model.objects.len()
    );
    let t = Instant::now();
    let schemas = SchemaSet::new(settings.profile.kubernetes_minor).expect("schemas");
    println!("schemas    {:>8.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let t = Instant::now();
    let links = svcc::link::link(&model, &settings.profile.default_namespace);
    println!("link       {:>8.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let t = Instant::now();
    let options = svcc::check::RunOptions::default();
    let d = svcc::check::run(&model, &links, &settings.profile, &schemas, &options);
    println!(
        "check      {:>8.1} ms ({} diagnostics)",
        t.elapsed().as_secs_f64() * 1e3,
        d.diagnostics.len()
    );
    let t = Instant::now();
    drop(model);
    drop(loaded.sources);
    println!("drop       {:>8.1} ms", t.elapsed().as_secs_f64() * 1e3);
}
