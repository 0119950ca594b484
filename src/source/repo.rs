//! Repository awareness: what a directory walk meets besides standalone manifests.
//!
//! A repository keeps its Kubernetes manifests next to files that are not manifests, or not
//! yet, or not on their own. This module recognises them; the pipeline decides what to do:
//! - **Helm charts**: a directory holding `Chart.yaml`. Its templates are manifests only once
//!   rendered, so the walk skips the chart whole ([`is_chart_dir`]).
//! - **kustomize roots**: a directory holding a `kustomization.yaml` ([`Kustomization`]). The
//!   resources it lists are applied together, its `namespace:` is set on them, and the patches
//!   and transformer configurations it lists are fragments, not objects.
//! - **third-party trees**: `node_modules` ([`is_vendored_dir`]).
//!
//! Paths are compared after lexical normalisation ([`normalize`]): `a/./b/../c` is `a/c`.
//! Symbolic links are not resolved, and remote resources (URLs) are ignored.

use super::tree::Node;
use super::{FileId, Span};
use std::path::{Component, Path, PathBuf};

/// File names kustomize reads as a kustomization.
pub const KUSTOMIZATION_FILES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Whether `name` is the file name of a kustomization.
pub fn is_kustomization_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| KUSTOMIZATION_FILES.contains(&n))
}

/// The file that marks `dir` as a Helm chart, if it is one: `Chart.yaml`, or, for charts
/// whose `Chart.yaml` is generated at release time, a `templates/` directory beside a
/// `values.yaml` or a `Chart.*.yaml`.
pub fn chart_file(dir: &Path) -> Option<PathBuf> {
    let file = dir.join("Chart.yaml");
    if file.is_file() {
        return Some(file);
    }
    if !dir.join("templates").is_dir() {
        return None;
    }
    let values = dir.join("values.yaml");
    if values.is_file() {
        return Some(values);
    }
    let mut generated: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("Chart.") && n.ends_with(".yaml"))
        })
        .collect();
    generated.sort();
    generated.into_iter().next()
}

/// Whether a directory is a Helm chart.
pub fn is_chart_dir(dir: &Path) -> bool {
    chart_file(dir).is_some()
}

/// Directories of third-party code that a walk does not enter.
pub fn is_vendored_dir(name: &std::ffi::OsStr) -> bool {
    name == "node_modules"
}

/// What a walk left out, for the summary and the notes.
#[derive(Clone, Debug, Default)]
pub struct Skipped {
    /// `Chart.yaml` of each Helm chart directory skipped.
    pub charts: Vec<PathBuf>,
    /// Third-party directories not entered.
    pub vendored: Vec<PathBuf>,
}

/// One kustomization as far as svcc needs it.
#[derive(Clone, Debug)]
pub struct Kustomization {
    /// The kustomization file.
    pub file: FileId,
    /// Its directory, normalised.
    pub dir: PathBuf,
    /// `namespace:` and the span of its value.
    pub namespace: Option<(String, Span)>,
    /// Files listed in `resources` (and `crds`), normalised.
    pub resources: Vec<PathBuf>,
    /// Directories listed in `resources`, `bases` or `components`: other kustomize roots.
    pub includes: Vec<PathBuf>,
    /// Files that are not standalone objects: patches, and the configuration files of
    /// transformers, generators, validators and replacements.
    pub fragments: Vec<PathBuf>,
    /// Labels it sets on what it builds (`commonLabels`, `labels`).
    pub labels: Vec<LabelSetting>,
}

/// One label a kustomization sets, and where it goes besides `metadata.labels`.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelSetting {
    pub key: String,
    pub value: String,
    pub key_span: Span,
    pub value_span: Span,
    /// Also on selectors (and pod templates): `commonLabels`, or `includeSelectors: true`.
    pub selectors: bool,
    /// Also on pod templates: `includeTemplates: true` (implied by `selectors`).
    pub templates: bool,
}

impl Kustomization {
    /// Reads a kustomization from its parsed document. `path` is the file's path as walked.
    /// Returns `None` for a document that is not a map (kustomize would refuse it; svcc leaves
    /// that to kustomize).
    pub fn read(file: FileId, path: &Path, root: &Node) -> Option<Kustomization> {
        if root.as_map().is_empty() {
            return None;
        }
        let dir = normalize(path.parent().unwrap_or(Path::new("")));
        let mut k = Kustomization {
            file,
            dir,
            namespace: root
                .get("namespace")
                .and_then(|n| n.as_str().map(|s| (s.to_owned(), n.span)))
                .filter(|(s, _)| !s.is_empty()),
            resources: Vec::new(),
            includes: Vec::new(),
            fragments: Vec::new(),
            labels: Vec::new(),
        };
        k.labels
            .extend(label_settings(root.get("commonLabels"), true, true));
        for item in root.get("labels").map_or(&[][..], Node::as_seq) {
            let flag = |key| item.get(key).and_then(Node::as_bool) == Some(true);
            let selectors = flag("includeSelectors");
            let templates = selectors || flag("includeTemplates");
            k.labels
                .extend(label_settings(item.get("pairs"), selectors, templates));
        }
        for key in ["resources", "bases", "components", "crds"] {
            for entry in strings(root.get(key)) {
                if is_remote(entry) {
                    continue;
                }
                let target = normalize(&k.dir.join(entry));
                if key != "crds" && looks_like_dir(&target) {
                    k.includes.push(target);
                } else {
                    k.resources.push(target);
                }
            }
        }
        // Lists of file names.
        for key in [
            "patchesStrategicMerge",
            "configurations",
            "transformers",
            "generators",
            "validators",
        ] {
            for entry in strings(root.get(key)) {
                // `patchesStrategicMerge` entries may also be inline patches (multi-line text).
                if !entry.contains('\n') && !is_remote(entry) {
                    k.fragments.push(normalize(&k.dir.join(entry)));
                }
            }
        }
        // Lists of maps with a `path`.
        for key in ["patches", "patchesJson6902", "replacements"] {
            for item in root.get(key).map_or(&[][..], Node::as_seq) {
                if let Some(p) = item.get("path").and_then(Node::as_str) {
                    k.fragments.push(normalize(&k.dir.join(p)));
                }
            }
        }
        // Generator inputs: `files` entries are `path` or `key=path`.
        for key in ["configMapGenerator", "secretGenerator"] {
            for item in root.get(key).map_or(&[][..], Node::as_seq) {
                let files =
                    strings(item.get("files")).map(|f| f.rsplit_once('=').map_or(f, |(_, p)| p));
                let envs = strings(item.get("envs")).chain(item.get("env").and_then(Node::as_str));
                for f in files.chain(envs) {
                    k.fragments.push(normalize(&k.dir.join(f)));
                }
            }
        }
        if let Some(p) = root
            .get("openapi")
            .and_then(|o| o.get("path"))
            .and_then(Node::as_str)
        {
            k.fragments.push(normalize(&k.dir.join(p)));
        }
        Some(k)
    }
}

fn label_settings(
    map: Option<&Node>,
    selectors: bool,
    templates: bool,
) -> impl Iterator<Item = LabelSetting> + '_ {
    map.map_or(&[][..], Node::as_map)
        .iter()
        .filter_map(move |e| {
            Some(LabelSetting {
                key: e.key.to_string(),
                value: e.value.as_str()?.to_owned(),
                key_span: e.key_span,
                value_span: e.value.span,
                selectors,
                templates,
            })
        })
}

fn strings(node: Option<&Node>) -> impl Iterator<Item = &str> {
    node.map_or(&[][..], Node::as_seq)
        .iter()
        .filter_map(Node::as_str)
}

/// `https://…`, `github.com/…`, `git@…`: resources kustomize fetches.
fn is_remote(entry: &str) -> bool {
    entry.contains("://") || entry.starts_with("github.com/") || entry.starts_with("git@")
}

/// A resource entry names a directory (another kustomization) when it has no file extension
/// kustomize would read as a file, or when it is a directory on disk.
fn looks_like_dir(path: &Path) -> bool {
    path.is_dir()
        || !matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        )
}

/// Lexical normalisation: drops `.` components and resolves `..` against what precedes it
/// (a leading `..` stays).
pub fn normalize(path: &Path) -> PathBuf {
    let mut parts: Vec<Component> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match parts.last() {
                Some(Component::Normal(_)) => {
                    parts.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => parts.push(c),
            },
            _ => parts.push(c),
        }
    }
    parts.iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::yaml::parse_str;

    #[test]
    fn normalizes_lexically() {
        assert_eq!(normalize(Path::new("./a/b/../c")), PathBuf::from("a/c"));
        assert_eq!(normalize(Path::new("a/../../b")), PathBuf::from("../b"));
        assert_eq!(normalize(Path::new("/x/./y/..")), PathBuf::from("/x"));
    }

    #[test]
    fn reads_what_a_kustomization_lists() {
        let text = "\
namespace: shop
resources:
  - deploy.yaml
  - ../../base
  - https://github.com/org/repo//deploy?ref=v1
components: [../../components/monitoring]
crds: [crd.yaml]
patchesStrategicMerge:
  - replicas.yaml
  - |-
    apiVersion: v1
    kind: Service
patches:
  - path: patch-svc.yaml
    target: {kind: Service}
  - patch: |-
      - op: add
patchesJson6902:
  - path: ops.yaml
configurations: [names.yaml]
configMapGenerator:
  - name: conf
    files: [app.yaml, extra=more.yaml]
    envs: [vars.env]
commonLabels: {team: shop}
labels:
  - pairs: {tier: api}
    includeTemplates: true
  - pairs: {owner: me}
";
        let root = &parse_str(text).documents[0].root;
        let k = Kustomization::read(
            FileId(0),
            Path::new("deploy/overlays/prod/kustomization.yaml"),
            root,
        )
        .expect("a map");
        assert_eq!(k.dir, PathBuf::from("deploy/overlays/prod"));
        assert_eq!(k.namespace.as_ref().map(|n| n.0.as_str()), Some("shop"));
        assert_eq!(
            k.resources,
            vec![
                PathBuf::from("deploy/overlays/prod/deploy.yaml"),
                PathBuf::from("deploy/overlays/prod/crd.yaml")
            ]
        );
        assert_eq!(
            k.includes,
            vec![
                PathBuf::from("deploy/base"),
                PathBuf::from("deploy/components/monitoring")
            ]
        );
        let fragments: Vec<&str> = k.fragments.iter().filter_map(|p| p.to_str()).collect();
        assert_eq!(
            fragments,
            [
                "deploy/overlays/prod/replicas.yaml",
                "deploy/overlays/prod/names.yaml",
                "deploy/overlays/prod/patch-svc.yaml",
                "deploy/overlays/prod/ops.yaml",
                "deploy/overlays/prod/app.yaml",
                "deploy/overlays/prod/more.yaml",
                "deploy/overlays/prod/vars.env"
            ]
        );
        let labels: Vec<(&str, bool, bool)> = k
            .labels
            .iter()
            .map(|l| (l.key.as_str(), l.selectors, l.templates))
            .collect();
        assert_eq!(
            labels,
            [
                ("team", true, true),
                ("tier", false, true),
                ("owner", false, false)
            ]
        );
    }
}
