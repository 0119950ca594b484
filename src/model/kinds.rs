//! The kinds svcc models, and how `apiVersion` + `kind` map onto them.

/// A kind svcc models (decodes, schema-checks and checks with API-server rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KindId {
    Service,
    Endpoints,
    EndpointSlice,
    Deployment,
    StatefulSet,
    DaemonSet,
    ReplicaSet,
    ReplicationController,
    Pod,
    Job,
    CronJob,
    Namespace,
}

pub const ALL: [KindId; 12] = [
    KindId::Service,
    KindId::Endpoints,
    KindId::EndpointSlice,
    KindId::Deployment,
    KindId::StatefulSet,
    KindId::DaemonSet,
    KindId::ReplicaSet,
    KindId::ReplicationController,
    KindId::Pod,
    KindId::Job,
    KindId::CronJob,
    KindId::Namespace,
];

impl KindId {
    pub fn name(self) -> &'static str {
        match self {
            KindId::Service => "Service",
            KindId::Endpoints => "Endpoints",
            KindId::EndpointSlice => "EndpointSlice",
            KindId::Deployment => "Deployment",
            KindId::StatefulSet => "StatefulSet",
            KindId::DaemonSet => "DaemonSet",
            KindId::ReplicaSet => "ReplicaSet",
            KindId::ReplicationController => "ReplicationController",
            KindId::Pod => "Pod",
            KindId::Job => "Job",
            KindId::CronJob => "CronJob",
            KindId::Namespace => "Namespace",
        }
    }

    /// The served `apiVersion`.
    pub fn api_version(self) -> &'static str {
        match self {
            KindId::Service
            | KindId::Endpoints
            | KindId::ReplicationController
            | KindId::Pod
            | KindId::Namespace => "v1",
            KindId::EndpointSlice => "discovery.k8s.io/v1",
            KindId::Deployment | KindId::StatefulSet | KindId::DaemonSet | KindId::ReplicaSet => {
                "apps/v1"
            }
            KindId::Job | KindId::CronJob => "batch/v1",
        }
    }

    /// File name of the root schema in `schemas/v1.N.0-strict/`.
    pub fn schema_file(self) -> &'static str {
        match self {
            KindId::Service => "service-v1.json",
            KindId::Endpoints => "endpoints-v1.json",
            KindId::EndpointSlice => "endpointslice-discovery-v1.json",
            KindId::Deployment => "deployment-apps-v1.json",
            KindId::StatefulSet => "statefulset-apps-v1.json",
            KindId::DaemonSet => "daemonset-apps-v1.json",
            KindId::ReplicaSet => "replicaset-apps-v1.json",
            KindId::ReplicationController => "replicationcontroller-v1.json",
            KindId::Pod => "pod-v1.json",
            KindId::Job => "job-batch-v1.json",
            KindId::CronJob => "cronjob-batch-v1.json",
            KindId::Namespace => "namespace-v1.json",
        }
    }

    fn group(self) -> &'static str {
        self.api_version()
            .rsplit_once('/')
            .map_or("", |(group, _)| group)
    }
}

/// What an `apiVersion` + `kind` pair means to svcc.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolution {
    Known(KindId),
    /// Not a kind svcc models (ConfigMap, a CRD, a Knative `Service`, …).
    Unmodelled,
    /// A modelled kind at a version the API server no longer serves.
    Removed {
        replacement: &'static str,
        removed_in: &'static str,
    },
    /// A modelled kind in its own group at a version that never existed.
    UnknownVersion {
        served: &'static str,
    },
}

/// Versions removed from the API server, with the release that removed them.
const REMOVED: &[(&str, &[KindId], &str)] = &[
    (
        "extensions/v1beta1",
        &[KindId::Deployment, KindId::DaemonSet, KindId::ReplicaSet],
        "1.16",
    ),
    (
        "apps/v1beta1",
        &[KindId::Deployment, KindId::StatefulSet],
        "1.16",
    ),
    (
        "apps/v1beta2",
        &[
            KindId::Deployment,
            KindId::StatefulSet,
            KindId::DaemonSet,
            KindId::ReplicaSet,
        ],
        "1.16",
    ),
    ("batch/v1beta1", &[KindId::CronJob], "1.25"),
    ("batch/v2alpha1", &[KindId::CronJob], "1.21"),
    ("discovery.k8s.io/v1beta1", &[KindId::EndpointSlice], "1.25"),
];

/// Resolves a type meta. `_minor` is the target Kubernetes minor; every supported minor (1.33+)
/// serves the same versions of these kinds.
pub fn resolve(api_version: &str, kind: &str, _minor: u32) -> Resolution {
    let Some(id) = ALL.iter().copied().find(|k| k.name() == kind) else {
        return Resolution::Unmodelled;
    };
    if api_version == id.api_version() {
        return Resolution::Known(id);
    }
    for (version, kinds, release) in REMOVED {
        if *version == api_version && kinds.contains(&id) {
            return Resolution::Removed {
                replacement: id.api_version(),
                removed_in: release,
            };
        }
    }
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    if group == id.group() {
        Resolution::UnknownVersion {
            served: id.api_version(),
        }
    } else {
        Resolution::Unmodelled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution() {
        assert_eq!(
            resolve("v1", "Service", 37),
            Resolution::Known(KindId::Service)
        );
        assert_eq!(
            resolve("serving.knative.dev/v1", "Service", 37),
            Resolution::Unmodelled
        );
        assert!(matches!(
            resolve("extensions/v1beta1", "Deployment", 37),
            Resolution::Removed { .. }
        ));
        assert!(matches!(
            resolve("v2", "Service", 37),
            Resolution::UnknownVersion { .. }
        ));
        assert_eq!(resolve("v1", "ConfigMap", 37), Resolution::Unmodelled);
    }
}
