//! Cross-object rules, run on the linked cluster: what the API server cannot see because it
//! looks at one object at a time (`docs/reference/validation.md` §8).
//!
//! Every finding points at both ends: the primary span on the object at fault, a related span
//! on the other object (or the near miss). Findings that depend on objects possibly absent from
//! the input (workloads in another repository) are warnings; findings that make the cluster
//! refuse or misroute traffic are errors.

mod allocations;
mod endpoints;
mod objects;
mod selectors;
mod statefulsets;

use crate::check::Context;
use crate::diag::Diagnostic;
use crate::link::Links;
use crate::model::{Model, Object};

/// Cluster findings, each tagged with the index of the object it is about.
pub struct Findings {
    pub items: Vec<(usize, Diagnostic)>,
}

impl Findings {
    fn add(&mut self, object: usize, objects: &[Object], d: Diagnostic) {
        let d = d.object(objects[object].object_ref());
        self.items.push((object, d));
    }
}

pub fn check(ctx: &Context, model: &Model, links: &Links) -> Findings {
    let mut f = Findings { items: Vec::new() };
    selectors::check(model, links, &mut f);
    endpoints::check(model, links, &mut f);
    allocations::check(model, links, &mut f);
    statefulsets::check(model, links, &mut f);
    objects::check(ctx, model, links, &mut f);
    f
}

/// Levenshtein distance, for near misses.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Two names that look like a typo of each other. (The length check first: near-miss searches
/// compare every pair of two lists, and most pairs differ in length by more than the limit.)
pub fn is_near(a: &str, b: &str) -> bool {
    let limit = (a.len().max(b.len()) / 4).clamp(1, 3);
    a != b && a.chars().count().abs_diff(b.chars().count()) <= limit && edit_distance(a, b) <= limit
}

/// "Deployment `web`" or "Deployment `ns/web`".
pub fn describe(o: &Object) -> String {
    format!("{} `{}`", o.kind.value, o.name())
}
