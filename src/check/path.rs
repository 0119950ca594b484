//! Field paths in API-server notation (`spec.ports[0].nodePort`, `metadata.labels[app]`).

use crate::source::tree::{Node, Value};

/// Fields whose keys are data (label keys, annotation keys), printed as `[key]`.
fn is_data_map(field: &str, child: &str) -> bool {
    match field {
        "labels" | "annotations" | "matchLabels" | "nodeSelector" | "data" | "stringData"
        | "deprecatedTopology" => true,
        // A Service's (or ReplicationController's) selector is a plain map; a LabelSelector
        // has `matchLabels`/`matchExpressions` under it.
        "selector" => !matches!(child, "matchLabels" | "matchExpressions"),
        _ => false,
    }
}

/// Converts a JSON pointer into a field path, using the tree to tell lists from maps.
pub fn field_path(root: &Node, pointer: &str) -> String {
    let mut out = String::new();
    let mut node = root;
    let mut parent_field = String::new();
    for raw in pointer.split('/').skip(1) {
        let token = raw.replace("~1", "/").replace("~0", "~");
        match &node.value {
            Value::Seq(items) => {
                out.push_str(&format!("[{token}]"));
                match token.parse::<usize>().ok().and_then(|i| items.get(i)) {
                    Some(n) => node = n,
                    None => break,
                }
            }
            Value::Map(entries) => {
                if is_data_map(&parent_field, &token) {
                    out.push_str(&format!("[{token}]"));
                } else {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(&token);
                }
                match entries.iter().find(|e| e.key == token) {
                    Some(e) => node = &e.value,
                    None => break,
                }
                parent_field = token;
            }
            _ => break,
        }
    }
    out
}

/// True when `path` is `prefix` or lies under it.
pub fn is_under(path: &str, prefix: &str) -> bool {
    path == prefix
        || (path.starts_with(prefix)
            && matches!(path.as_bytes().get(prefix.len()), Some(b'.' | b'[')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::yaml::parse_str;

    #[test]
    fn paths() {
        let doc = parse_str(
            "metadata:\n  labels:\n    app.kubernetes.io/name: x\nspec:\n  selector:\n    app: x\n  ports:\n  - port: 80\n",
        );
        let root = &doc.documents[0].root;
        assert_eq!(field_path(root, "/spec/ports/0/port"), "spec.ports[0].port");
        assert_eq!(
            field_path(root, "/metadata/labels/app.kubernetes.io~1name"),
            "metadata.labels[app.kubernetes.io/name]"
        );
        assert_eq!(field_path(root, "/spec/selector/app"), "spec.selector[app]");
        assert!(is_under("spec.ports[0].port", "spec.ports[0]"));
        assert!(is_under("spec.ports[0]", "spec.ports[0]"));
        assert!(!is_under("spec.ports[01]", "spec.ports[0]"));
    }
}
