//! svcc: a compiler for Kubernetes Service networking.
//!
//! The pipeline (see DESIGN.md): `source` (load, spans) → `model` (typed objects) → `check`
//! (schema, API-server rules, cluster profile) → `report`. Later stages (`link`, `plan`, `emit`,
//! `apply`) read the same model.

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
