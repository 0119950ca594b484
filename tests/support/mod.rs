//! Shared by the integration tests (each test crate includes it with `mod support;`):
//! [`require`], what a test needs from the machine and what happens when it is missing; the
//! end-to-end harness (`netns`, `traffic`: namespaces, servers and clients; the Python helpers
//! beside this file run inside the namespaces); and `dns_server`, a throwaway BIND.

pub mod dns_server;
pub mod netns;
pub mod oracle;
pub mod oracle_net;
mod require;
pub mod scenarios;
pub mod traffic;

// Each test crate uses part of these.
#[allow(unused_imports)]
pub use require::{
    cannot_run, find_on_path, package_of, require, rerun, skip_dir, skipping_allowed, test_name,
    Need, Skip, ALLOW_SKIP, PACKAGES, SKIP_DIR,
};
