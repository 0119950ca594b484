//! Explaining the cluster: `svcc graph` (what points at what). `trace` and `diff` read the plan.

pub mod diff;
pub mod graph;
pub mod packet;
pub mod trace;
