//! The `svcc` binary: glue only. Library errors become exit code 2; a closed pipe
//! (`svcc … | head`) is not an error.

use std::process::ExitCode;

/// mimalloc rather than the system allocator: a large input means millions of small, short-lived
/// allocations on several threads (trees built and dropped per document), where glibc's malloc
/// spends a quarter of the run and keeps freed memory in per-thread arenas.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match svcc::cli::run() {
        Ok(code) => code,
        Err(e) => {
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("svcc: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
