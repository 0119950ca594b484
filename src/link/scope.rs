//! What is applied together, and how near two objects of the input are.
//!
//! A repository is not one cluster: it holds alternatives side by side (`install.yaml` of two
//! releases, a plain and an OpenShift variant, documentation examples that all call their
//! Service `my-service`, kustomize overlays of one base). svcc therefore checks an input as a
//! set of **apply units**, each what one `kubectl apply` would take:
//! - by default (`svcc check`), each file or standard-input stream is a unit;
//! - a kustomize root is a unit of the files its `resources` list, and a root that includes
//!   another (an overlay and its base, a component) is applied with it;
//! - `[files] apply-together` globs (or `--apply-together`) declare a unit of all the files
//!   they match, `**` making the whole input one unit (the strict view);
//! - `svcc compile`, `apply`, `trace` and `diff` treat the whole input as one unit: it is what
//!   the node will run.
//!
//! What follows from units (see `check::cluster` and `link`):
//! - The same object twice in one unit is a warning (the later definition replaces the
//!   earlier); in two units it is an alternative and no finding.
//! - Cluster-wide allocations (nodePorts, clusterIPs, externalIPs) conflict only inside a unit.
//! - References (selectors, Endpoints, EndpointSlices, `serviceName`) are resolved to the
//!   nearest objects that match: same unit, else same directory, else anywhere in the input
//!   ([`Nearness`]). A finding that rests on objects outside the unit is a warning at most, as
//!   it depends on which of them are applied together.
//!
//! A kustomization's `namespace:` is set on the objects of its files, as `kustomize build`
//! does, when every kustomization that includes them agrees on it (two overlays of one base
//! with different namespaces leave the base's objects as written).

use crate::source::inputs::Globs;
use crate::source::repo::Kustomization;
use crate::source::{FileId, SourceMap};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// How the input is divided into apply units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Files (and kustomize roots, and declared groups) are units: `svcc check`.
    #[default]
    Files,
    /// The whole input is one unit: what a node compiles.
    Input,
}

/// How near the object a reference resolves to is to the object that refers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Nearness {
    /// Applied together.
    #[default]
    SameUnit,
    /// Another unit in the same directory.
    SameDirectory,
    /// Another unit elsewhere in the input.
    Elsewhere,
}

/// The units of one input.
#[derive(Clone, Debug, Default)]
pub struct Scopes {
    unit_of_file: Vec<u32>,
    dir_of_file: Vec<u32>,
    /// Per unit, the units it is applied with besides itself (sorted): kustomize roots it
    /// includes or that include it, transitively.
    related: Vec<Vec<u32>>,
    namespace_of_file: Vec<Option<String>>,
}

/// What the units are built from besides the files.
#[derive(Clone, Copy, Debug, Default)]
pub struct Declared<'a> {
    pub mode: Mode,
    /// Kustomizations of the input, their namespaces already validated.
    pub kustomizations: &'a [Kustomization],
    /// Globs naming files applied together, one unit per glob (a file matched by several
    /// goes with the last).
    pub together: Option<&'a Globs>,
}

impl Scopes {
    /// Every file its own unit, in the same directory (tests, tools).
    pub fn per_file(files: usize) -> Scopes {
        Scopes {
            unit_of_file: (0..files as u32).collect(),
            dir_of_file: vec![0; files],
            related: vec![Vec::new(); files],
            namespace_of_file: vec![None; files],
        }
    }

    /// The whole input as one unit.
    pub fn single(files: usize) -> Scopes {
        Scopes {
            unit_of_file: vec![0; files],
            dir_of_file: vec![0; files],
            related: vec![Vec::new()],
            namespace_of_file: vec![None; files],
        }
    }

    pub fn build(sources: &SourceMap, declared: Declared) -> Scopes {
        let files = sources.len();
        let paths: Vec<Option<PathBuf>> = sources
            .iter()
            .map(|(_, f)| f.path.as_deref().map(crate::source::repo::normalize))
            .collect();
        let mut dirs: HashMap<PathBuf, u32> = HashMap::new();
        let dir_of_file = paths
            .iter()
            .map(|p| {
                let dir = p
                    .as_deref()
                    .and_then(Path::parent)
                    .map_or_else(PathBuf::new, Path::to_path_buf);
                let next = dirs.len() as u32;
                *dirs.entry(dir).or_insert(next)
            })
            .collect();
        let by_path: HashMap<&Path, usize> = paths
            .iter()
            .enumerate()
            .filter_map(|(i, p)| Some((p.as_deref()?, i)))
            .collect();

        let mut unit_of_file: Vec<u32> = match declared.mode {
            Mode::Input => vec![0; files],
            Mode::Files => (0..files as u32).collect(),
        };
        let mut next_unit = unit_of_file.iter().max().map_or(0, |m| m + 1);
        let mut related: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();

        // Kustomize roots: a unit each, for the files they list.
        let mut kustomize_unit: BTreeMap<&Path, u32> = BTreeMap::new();
        if declared.mode == Mode::Files {
            for k in declared.kustomizations {
                let unit = *kustomize_unit.entry(&k.dir).or_insert_with(|| {
                    next_unit += 1;
                    next_unit - 1
                });
                unit_of_file[k.file.0 as usize] = unit;
                for r in &k.resources {
                    if let Some(&f) = by_path.get(r.as_path()) {
                        unit_of_file[f] = unit;
                    }
                }
            }
            for k in declared.kustomizations {
                let from = kustomize_unit[k.dir.as_path()];
                for inc in &k.includes {
                    if let Some(&to) = kustomize_unit.get(inc.as_path()) {
                        related.entry(from).or_default().insert(to);
                    }
                }
            }
        }
        // Declared groups override the rest.
        if let Some(globs) = declared.together.filter(|_| declared.mode == Mode::Files) {
            let first = next_unit;
            next_unit += globs.len() as u32;
            for (i, p) in paths.iter().enumerate() {
                if let Some(g) = p.as_deref().and_then(|p| globs.last_match(p)) {
                    unit_of_file[i] = first + g as u32;
                }
            }
        }
        let units = next_unit.max(1) as usize;
        let reach = closure(&related, units);
        let mut related_units: Vec<Vec<u32>> = vec![Vec::new(); units];
        for (u, reached) in reach.iter().enumerate() {
            for &v in reached {
                related_units[u].push(v);
                related_units[v as usize].push(u as u32);
            }
        }
        for r in &mut related_units {
            r.sort_unstable();
            r.dedup();
        }

        let namespace_of_file = namespaces(declared.kustomizations, &by_path, files);
        Scopes {
            unit_of_file,
            dir_of_file,
            related: related_units,
            namespace_of_file,
        }
    }

    pub fn nearness(&self, a: FileId, b: FileId) -> Nearness {
        let (a, b) = (a.0 as usize, b.0 as usize);
        let (ua, ub) = (self.unit_of_file[a], self.unit_of_file[b]);
        if ua == ub || self.related[ua as usize].binary_search(&ub).is_ok() {
            Nearness::SameUnit
        } else if self.dir_of_file[a] == self.dir_of_file[b] {
            Nearness::SameDirectory
        } else {
            Nearness::Elsewhere
        }
    }

    /// Whether two files are applied together.
    pub fn together(&self, a: FileId, b: FileId) -> bool {
        self.nearness(a, b) == Nearness::SameUnit
    }

    /// The namespace a kustomization sets on the objects of a file.
    pub fn namespace_of(&self, file: FileId) -> Option<&str> {
        self.namespace_of_file
            .get(file.0 as usize)
            .and_then(|n| n.as_deref())
    }

    /// The candidates nearest to `viewer`, and how near they are. `file` gives a candidate's
    /// file.
    pub fn nearest<T: Copy>(
        &self,
        viewer: FileId,
        candidates: &[T],
        file: impl Fn(T) -> FileId,
    ) -> (Vec<T>, Nearness) {
        let Some(best) = candidates
            .iter()
            .map(|&c| self.nearness(viewer, file(c)))
            .min()
        else {
            return (Vec::new(), Nearness::SameUnit);
        };
        (
            candidates
                .iter()
                .copied()
                .filter(|&c| self.nearness(viewer, file(c)) == best)
                .collect(),
            best,
        )
    }
}

/// For each unit, the units it reaches through `edges`, transitively (cycles allowed).
fn closure(edges: &BTreeMap<u32, BTreeSet<u32>>, units: usize) -> Vec<BTreeSet<u32>> {
    let mut reach = vec![BTreeSet::new(); units];
    for (&from, _) in edges.iter() {
        let mut stack: Vec<u32> = edges[&from].iter().copied().collect();
        while let Some(u) = stack.pop() {
            if u != from && reach[from as usize].insert(u) {
                stack.extend(edges.get(&u).into_iter().flatten().copied());
            }
        }
    }
    reach
}

/// The namespace each file's objects get from kustomizations: on every way from a root that
/// no other kustomization includes down to the kustomization listing the file, the outermost
/// `namespace:` wins (as in `kustomize build`); when the ways disagree, none is set.
fn namespaces(
    kustomizations: &[Kustomization],
    by_path: &HashMap<&Path, usize>,
    files: usize,
) -> Vec<Option<String>> {
    let by_dir: HashMap<&Path, usize> = kustomizations
        .iter()
        .enumerate()
        .map(|(i, k)| (k.dir.as_path(), i))
        .collect();
    let children: Vec<Vec<usize>> = kustomizations
        .iter()
        .map(|k| {
            k.includes
                .iter()
                .filter_map(|d| by_dir.get(d.as_path()).copied())
                .collect()
        })
        .collect();
    let included: BTreeSet<usize> = children.iter().flatten().copied().collect();
    // Per kustomization, the namespaces it ends up with on each way from a root.
    let mut seen: Vec<BTreeSet<Option<String>>> = vec![BTreeSet::new(); kustomizations.len()];
    let roots: Vec<usize> = (0..kustomizations.len())
        .filter(|i| !included.contains(i))
        .collect();
    for root in roots {
        let mut stack: Vec<(usize, Option<String>, usize)> = vec![(root, None, 0)];
        while let Some((k, inherited, depth)) = stack.pop() {
            // A cycle (kustomize refuses it) or a pathological depth ends the way.
            if depth > kustomizations.len() {
                continue;
            }
            let ns =
                inherited.or_else(|| kustomizations[k].namespace.as_ref().map(|n| n.0.clone()));
            if !seen[k].insert(ns.clone()) && depth > 0 {
                continue;
            }
            for &c in &children[k] {
                stack.push((c, ns.clone(), depth + 1));
            }
        }
    }
    let mut out = vec![None; files];
    for (k, ways) in kustomizations.iter().zip(&seen) {
        let agreed = match ways.iter().collect::<Vec<_>>().as_slice() {
            [Some(ns)] => Some(ns.clone()),
            _ => None,
        };
        let Some(ns) = agreed else { continue };
        for r in &k.resources {
            if let Some(&f) = by_path.get(r.as_path()) {
                out[f] = Some(ns.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{SourceFile, Span};

    fn sources(paths: &[&str]) -> SourceMap {
        let mut m = SourceMap::default();
        for p in paths {
            m.add(SourceFile::new(
                (*p).into(),
                Some(PathBuf::from(p)),
                String::new(),
            ));
        }
        m
    }

    fn kustomization(
        file: u32,
        dir: &str,
        ns: Option<&str>,
        resources: &[&str],
        includes: &[&str],
    ) -> Kustomization {
        Kustomization {
            file: FileId(file),
            dir: dir.into(),
            namespace: ns.map(|n| (n.to_owned(), Span::default())),
            resources: resources
                .iter()
                .map(|r| PathBuf::from(format!("{dir}/{r}")))
                .collect(),
            includes: includes.iter().map(PathBuf::from).collect(),
            fragments: Vec::new(),
            labels: Vec::new(),
        }
    }

    #[test]
    fn files_are_units_and_directories_are_near() {
        let s = Scopes::build(
            &sources(&["a/x.yaml", "a/y.yaml", "b/z.yaml"]),
            Declared::default(),
        );
        assert_eq!(s.nearness(FileId(0), FileId(0)), Nearness::SameUnit);
        assert_eq!(s.nearness(FileId(0), FileId(1)), Nearness::SameDirectory);
        assert_eq!(s.nearness(FileId(0), FileId(2)), Nearness::Elsewhere);
        let one = Scopes::build(
            &sources(&["a/x.yaml", "b/z.yaml"]),
            Declared {
                mode: Mode::Input,
                ..Declared::default()
            },
        );
        assert!(one.together(FileId(0), FileId(1)));
    }

    #[test]
    fn declared_groups_are_units() {
        let together = Globs::new(&["deploy/**", "deploy/b/**", "*.json"]).unwrap();
        let s = Scopes::build(
            &sources(&[
                "deploy/a/x.yaml",
                "deploy/a/w.yaml",
                "deploy/b/y.yaml",
                "docs/z.yaml",
                "docs/v.json",
                "deploy/a/u.json",
            ]),
            Declared {
                together: Some(&together),
                ..Declared::default()
            },
        );
        assert!(s.together(FileId(0), FileId(1)));
        assert!(!s.together(FileId(0), FileId(3)));
        // A file matched by several globs goes with the last.
        assert!(!s.together(FileId(0), FileId(2)));
        assert!(s.together(FileId(4), FileId(5)));
        assert!(!s.together(FileId(0), FileId(5)));
    }

    #[test]
    fn overlays_go_with_their_base_not_with_each_other() {
        let files = sources(&[
            "k/base/kustomization.yaml",
            "k/base/svc.yaml",
            "k/base/deploy.yaml",
            "k/overlays/dev/kustomization.yaml",
            "k/overlays/dev/extra.yaml",
            "k/overlays/prod/kustomization.yaml",
            "k/overlays/prod/extra.yaml",
        ]);
        let ks = [
            kustomization(0, "k/base", None, &["svc.yaml", "deploy.yaml"], &[]),
            kustomization(
                3,
                "k/overlays/dev",
                Some("dev"),
                &["extra.yaml"],
                &["k/base"],
            ),
            kustomization(
                5,
                "k/overlays/prod",
                Some("prod"),
                &["extra.yaml"],
                &["k/base"],
            ),
        ];
        let s = Scopes::build(
            &files,
            Declared {
                kustomizations: &ks,
                ..Declared::default()
            },
        );
        assert!(s.together(FileId(1), FileId(2)));
        assert!(s.together(FileId(4), FileId(1)), "overlay with its base");
        assert!(
            !s.together(FileId(4), FileId(6)),
            "two overlays are alternatives"
        );
        assert_eq!(s.namespace_of(FileId(4)), Some("dev"));
        assert_eq!(s.namespace_of(FileId(6)), Some("prod"));
        assert_eq!(s.namespace_of(FileId(1)), None, "the overlays disagree");
    }

    #[test]
    fn the_outermost_namespace_wins() {
        let files = sources(&["b/kustomization.yaml", "b/svc.yaml", "o/kustomization.yaml"]);
        let ks = [
            kustomization(0, "b", Some("inner"), &["svc.yaml"], &[]),
            kustomization(2, "o", Some("outer"), &[], &["b"]),
        ];
        let s = Scopes::build(
            &files,
            Declared {
                kustomizations: &ks,
                ..Declared::default()
            },
        );
        assert_eq!(s.namespace_of(FileId(1)), Some("outer"));
    }
}
