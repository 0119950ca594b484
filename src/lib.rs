//! svcc: a compiler for Kubernetes Service networking.
//!
//! The pipeline (docs/design.md, ARCHITECTURE.md): `source` (load, spans) → `model` (typed
//! objects) → `pipeline::sift` (what of a repository is checked) → `link` (apply units,
//! selectors, targetPorts, Endpoints) → `check` (schema, API-server rules, cross-object rules,
//! one settle step for every finding) → `plan` (every dataplane decision) → `emit` (nft,
//! iptables, DNS, plan JSON), with `report` rendering diagnostics, `explain` answering questions
//! (trace, diff, graph) and `apply` running a node. `pipeline` drives the stages; `cli` is the
//! command line. Imports go one way, down the layers of ARCHITECTURE.md.

pub mod apply;
pub mod catalogue;
pub mod check;
pub mod cli;
pub mod config;
pub mod diag;
pub mod emit;
pub mod explain;
pub mod link;
pub mod model;
pub mod pipeline;
pub mod plan;
pub mod report;
pub mod selector;
pub mod source;
pub mod span;
pub mod syntax;
pub mod timing;
