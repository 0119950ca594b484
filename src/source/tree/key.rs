//! Map keys ([`Key`]), interned: the keys of the objects svcc reads are shared static strings
//! from one table ([`KNOWN_KEYS`], looked up by [`known_key`]); any other key is stored on its
//! own.

/// A map key. Kubernetes objects repeat a small vocabulary of keys (`name`, `port`,
/// `protocol`, …) in every object: those keys are shared static strings, so a large input
/// does not allocate one string per key; any other key is stored on its own.
#[derive(Clone)]
pub struct Key(KeyText);

#[derive(Clone)]
enum KeyText {
    Known(&'static str),
    Other(Box<str>),
}

impl Key {
    pub fn new(text: String) -> Key {
        match known_key(&text) {
            Some(k) => Key(KeyText::Known(k)),
            None => Key(KeyText::Other(text.into_boxed_str())),
        }
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            KeyText::Known(k) => k,
            KeyText::Other(k) => k,
        }
    }
}

impl std::ops::Deref for Key {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<String> for Key {
    fn from(text: String) -> Key {
        Key::new(text)
    }
}

impl From<&str> for Key {
    fn from(text: &str) -> Key {
        match known_key(text) {
            Some(k) => Key(KeyText::Known(k)),
            None => Key(KeyText::Other(text.into())),
        }
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Key {}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl PartialEq<str> for Key {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Key {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Key {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Keys of the objects svcc reads (metadata, Services, workloads and their pod templates,
/// Endpoints, EndpointSlices, `kubectl get -o yaml` additions).
const KNOWN_KEYS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "spec",
    "status",
    "items",
    "name",
    "namespace",
    "generateName",
    "labels",
    "annotations",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "ownerReferences",
    "finalizers",
    "managedFields",
    "manager",
    "operation",
    "time",
    "fieldsType",
    "fieldsV1",
    "subresource",
    "controller",
    "blockOwnerDeletion",
    "app",
    "component",
    "version",
    "tier",
    "team",
    "release",
    "heritage",
    "chart",
    "type",
    "clusterIP",
    "clusterIPs",
    "externalIPs",
    "externalName",
    "externalTrafficPolicy",
    "internalTrafficPolicy",
    "healthCheckNodePort",
    "ipFamilies",
    "ipFamilyPolicy",
    "loadBalancerIP",
    "loadBalancerSourceRanges",
    "loadBalancerClass",
    "allocateLoadBalancerNodePorts",
    "publishNotReadyAddresses",
    "sessionAffinity",
    "sessionAffinityConfig",
    "clientIP",
    "timeoutSeconds",
    "trafficDistribution",
    "ports",
    "port",
    "targetPort",
    "nodePort",
    "protocol",
    "appProtocol",
    "selector",
    "matchLabels",
    "matchExpressions",
    "key",
    "operator",
    "values",
    "loadBalancer",
    "ingress",
    "ip",
    "ipMode",
    "hostname",
    "conditions",
    "replicas",
    "template",
    "strategy",
    "rollingUpdate",
    "maxSurge",
    "maxUnavailable",
    "minReadySeconds",
    "revisionHistoryLimit",
    "progressDeadlineSeconds",
    "paused",
    "serviceName",
    "podManagementPolicy",
    "updateStrategy",
    "volumeClaimTemplates",
    "persistentVolumeClaimRetentionPolicy",
    "ordinals",
    "schedule",
    "jobTemplate",
    "completions",
    "parallelism",
    "backoffLimit",
    "containers",
    "initContainers",
    "ephemeralContainers",
    "image",
    "imagePullPolicy",
    "command",
    "args",
    "workingDir",
    "env",
    "envFrom",
    "value",
    "valueFrom",
    "secretKeyRef",
    "configMapKeyRef",
    "fieldRef",
    "fieldPath",
    "resourceFieldRef",
    "containerPort",
    "hostPort",
    "hostIP",
    "resources",
    "limits",
    "requests",
    "cpu",
    "memory",
    "ephemeral-storage",
    "volumeMounts",
    "mountPath",
    "subPath",
    "readOnly",
    "volumes",
    "configMap",
    "secret",
    "secretName",
    "emptyDir",
    "persistentVolumeClaim",
    "claimName",
    "defaultMode",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "httpGet",
    "tcpSocket",
    "grpc",
    "exec",
    "path",
    "scheme",
    "httpHeaders",
    "initialDelaySeconds",
    "periodSeconds",
    "successThreshold",
    "failureThreshold",
    "terminationGracePeriodSeconds",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "securityContext",
    "runAsUser",
    "runAsGroup",
    "runAsNonRoot",
    "fsGroup",
    "readOnlyRootFilesystem",
    "allowPrivilegeEscalation",
    "privileged",
    "capabilities",
    "add",
    "drop",
    "seccompProfile",
    "restartPolicy",
    "dnsPolicy",
    "dnsConfig",
    "schedulerName",
    "serviceAccountName",
    "serviceAccount",
    "automountServiceAccountToken",
    "nodeSelector",
    "nodeName",
    "affinity",
    "nodeAffinity",
    "podAffinity",
    "podAntiAffinity",
    "tolerations",
    "effect",
    "tolerationSeconds",
    "topologySpreadConstraints",
    "maxSkew",
    "topologyKey",
    "whenUnsatisfiable",
    "labelSelector",
    "priorityClassName",
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "subdomain",
    "setHostnameAsFQDN",
    "imagePullSecrets",
    "lifecycle",
    "preStop",
    "postStart",
    "stdin",
    "tty",
    "addressType",
    "endpoints",
    "addresses",
    "notReadyAddresses",
    "subsets",
    "ready",
    "serving",
    "terminating",
    "targetRef",
    "zone",
    "hints",
    "forZones",
    "forNodes",
    "deprecatedTopology",
    "nodeNames",
    "observedGeneration",
    "availableReplicas",
    "readyReplicas",
    "updatedReplicas",
    "unavailableReplicas",
    "currentReplicas",
    "collisionCount",
    "lastTransitionTime",
    "lastUpdateTime",
    "reason",
    "message",
    "prometheus.io/scrape",
    "prometheus.io/port",
    "prometheus.io/path",
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
    "kubernetes.io/service-name",
    "endpointslice.kubernetes.io/managed-by",
    "service.kubernetes.io/headless",
    "endpoints.kubernetes.io/last-change-trigger-time",
    "deployment.kubernetes.io/revision",
    "kubectl.kubernetes.io/last-applied-configuration",
    "pod-template-hash",
    "k8s-app",
    "<<",
];

/// The shared copy of `text` when it is a known key: an open-addressing table, built once.
fn known_key(text: &str) -> Option<&'static str> {
    const SLOTS: usize = 1024; // a power of two, well above twice the number of keys
    static TABLE: std::sync::OnceLock<Vec<Option<&'static str>>> = std::sync::OnceLock::new();
    fn hash(text: &str) -> usize {
        // FNV-1a: keys are short.
        let mut h: u32 = 0x811c_9dc5;
        for b in text.bytes() {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        h as usize
    }
    let table = TABLE.get_or_init(|| {
        let mut table = vec![None; SLOTS];
        for &k in KNOWN_KEYS {
            let mut i = hash(k) & (SLOTS - 1);
            while let Some(other) = table[i] {
                if other == k {
                    break;
                }
                i = (i + 1) & (SLOTS - 1);
            }
            table[i] = Some(k);
        }
        table
    });
    let mut i = hash(text) & (SLOTS - 1);
    while let Some(k) = table[i] {
        if k == text {
            return Some(k);
        }
        i = (i + 1) & (SLOTS - 1);
    }
    None
}
