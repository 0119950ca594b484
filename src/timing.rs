//! Stage timings on request: with `SVCC_TIMINGS=1` in the environment, each pipeline stage
//! prints its wall time to stderr (`svcc: timing: load+decode+check-objects 412.3 ms`). Used
//! when profiling and by `benches/scale.sh`; off by default, and then it costs one lookup.

use std::sync::OnceLock;
use std::time::Instant;

fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("SVCC_TIMINGS").is_some_and(|v| v != "0"))
}

/// Runs `f`, reporting its wall time under `name` when timings are on.
pub fn stage<T>(name: &str, f: impl FnOnce() -> T) -> T {
    if !enabled() {
        return f();
    }
    let start = Instant::now();
    let out = f();
    eprintln!(
        "svcc: timing: {name} {:.1} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    out
}
