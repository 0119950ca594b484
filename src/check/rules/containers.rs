//! Container ports of a pod template: IANA port names unique per container, port numbers,
//! protocols, and host ports claimed twice (`validateContainerPorts`, host-port conflicts).

use super::{check_port_number, check_protocol, invalid};
use crate::check::Sink;
use crate::diag::Diagnostic;
use crate::model::workload::Workload;
use crate::syntax;
use std::collections::HashMap;

pub fn check(w: &Workload, sink: &mut Sink) {
    let spec = &w.template.spec;
    let mut host_ports: HashMap<(i64, String, String), crate::source::Span> = HashMap::new();
    let groups = [
        ("containers", &spec.containers),
        ("initContainers", &spec.init_containers),
    ];
    for (field, containers) in groups {
        for (c, container) in containers.iter().enumerate() {
            // Regular containers run together and share the pod's host ports; init containers
            // run one at a time, so each is checked on its own (`validateInitContainers`).
            if field == "initContainers" {
                host_ports.clear();
            }
            let mut names: HashMap<&str, crate::source::Span> = HashMap::new();
            for (p, port) in container.ports.iter().enumerate() {
                let path = format!("{}.{field}[{c}].ports[{p}]", w.spec_path);
                if let Some(name) = &port.name {
                    let problems = syntax::iana_svc_name(&name.value);
                    if !problems.is_empty() {
                        let mut d = invalid(
                            "invalid-container-port-name",
                            name.span,
                            format!("{path}.name"),
                            "container port name",
                            &name.value,
                            &problems,
                        );
                        if name.value.len() > 15 {
                            d = d.help("container port names are IANA service names: at most 15 characters (Service port names may be longer)");
                        }
                        sink.report(d);
                    }
                    if let Some(first) = names.get(name.value.as_str()) {
                        sink.report(
                            Diagnostic::new(
                                "duplicate-container-port-name",
                                name.span,
                                format!(
                                    "container port name `{}` is used twice in one container",
                                    name.value
                                ),
                            )
                            .label("used again here")
                            .related(*first, "first used here")
                            .path(format!("{path}.name")),
                        );
                    } else {
                        names.insert(&name.value, name.span);
                    }
                }
                if let Some(cp) = &port.container_port {
                    check_port_number(
                        sink,
                        cp.value,
                        cp.span,
                        format!("{path}.containerPort"),
                        "containerPort",
                    );
                }
                check_protocol(
                    sink,
                    &port.protocol.value,
                    port.protocol.span,
                    format!("{path}.protocol"),
                );
                if let Some(hp) = &port.host_port {
                    check_port_number(
                        sink,
                        hp.value,
                        hp.span,
                        format!("{path}.hostPort"),
                        "hostPort",
                    );
                    let host_ip = port
                        .host_ip
                        .as_ref()
                        .map_or(String::new(), |h| h.value.clone());
                    let key = (hp.value, port.protocol.value.clone(), host_ip);
                    if let Some(first) = host_ports.get(&key) {
                        sink.report(
                            Diagnostic::new(
                                "duplicate-host-port",
                                hp.span,
                                format!(
                                    "hostPort {}/{} is claimed twice in one pod",
                                    hp.value, port.protocol.value
                                ),
                            )
                            .label("claimed again here")
                            .related(*first, "first claimed here")
                            .path(format!("{path}.hostPort")),
                        );
                    } else {
                        host_ports.insert(key, hp.span);
                    }
                }
            }
        }
    }
}
