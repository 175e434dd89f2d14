//! deploy/ holds what runs the service in containers. No cluster or container engine is here, so its files are
//! parsed and held to what matters: probes reach the gRPC health port, images are pinned, nothing runs as root,
//! and the settings the manifests pass are flags the binary has.

use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

fn documents(relative: &str) -> Vec<Yaml> {
    let path = deploy_dir().join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{relative} is not YAML: {e}"))
}

fn one(relative: &str) -> Yaml {
    let mut docs = documents(relative);
    assert_eq!(docs.len(), 1, "{relative} holds one document");
    docs.remove(0)
}

/// A tag that names one release: not `latest`, not missing, or a digest.
fn is_pinned(image: &str) -> bool {
    if image.contains("@sha256:") {
        return true;
    }
    let name = image.rsplit('/').next().unwrap_or(image);
    match name.split_once(':') {
        Some((_, tag)) => tag != "latest" && tag.chars().next().is_some_and(|c| c.is_ascii_digit()),
        None => false,
    }
}

#[test]
fn the_pin_check_tells_pinned_images_from_floating_ones() {
    assert!(is_pinned("registry.example.org/juesuan/juesuan:0.1.0"));
    assert!(is_pinned("rust:1.95.0-slim-bookworm"));
    assert!(is_pinned("debian@sha256:0123"));
    assert!(!is_pinned("debian:latest"));
    assert!(!is_pinned("debian"));
    assert!(!is_pinned("debian:bookworm-slim"));
    assert!(!is_pinned("registry:5000/juesuan"));
}

#[test]
fn the_kustomization_lists_every_manifest() {
    let kustomization = one("kubernetes/kustomization.yaml");
    let mut listed: Vec<String> = kustomization["resources"]
        .as_vec()
        .expect("resources")
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect();
    listed.sort();
    let mut present: Vec<String> = std::fs::read_dir(deploy_dir().join("kubernetes"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml")
        .collect();
    present.sort();
    assert_eq!(listed, present);
    for name in &present {
        for doc in documents(&format!("kubernetes/{name}")) {
            assert!(doc["apiVersion"].as_str().is_some(), "{name}: apiVersion");
            assert!(doc["kind"].as_str().is_some(), "{name}: kind");
            assert!(
                doc["metadata"]["name"].as_str().is_some(),
                "{name}: metadata.name"
            );
        }
    }
}

#[test]
fn the_deployment_probes_the_grpc_health_port_and_runs_as_non_root() {
    let deployment = one("kubernetes/deployment.yaml");
    assert_eq!(deployment["kind"].as_str(), Some("Deployment"));
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    assert!(pod["securityContext"]["runAsUser"].as_i64().unwrap() > 0);
    let containers = pod["containers"].as_vec().expect("containers");
    assert_eq!(containers.len(), 1);
    let container = &containers[0];
    let image = container["image"].as_str().expect("image");
    assert!(is_pinned(image), "image {image} is not pinned");
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"].as_bool(),
        Some(false)
    );

    let ports: Vec<(String, i64)> = container["ports"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["containerPort"].as_i64().unwrap(),
            )
        })
        .collect();
    let port = |name: &str| ports.iter().find(|(n, _)| n == name).map(|(_, p)| *p);
    let health_port = port("grpc-health").expect("a grpc-health port");
    assert_eq!(port("grpc"), Some(50051));

    // The ports the container declares are those the configuration makes the binary listen on.
    let config = one("kubernetes/configmap.yaml");
    let listen_port = |key: &str| -> i64 {
        let value = config["data"][key]
            .as_str()
            .unwrap_or_else(|| panic!("{key}"));
        value.rsplit(':').next().unwrap().parse().unwrap()
    };
    assert_eq!(listen_port("JUESUAN_LISTEN"), 50051);
    assert_eq!(listen_port("JUESUAN_HEALTH_LISTEN"), health_port);
    assert_eq!(Some(listen_port("JUESUAN_METRICS_LISTEN")), port("metrics"));

    for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
        let grpc = &container[probe]["grpc"];
        assert_eq!(
            grpc["port"].as_i64(),
            Some(health_port),
            "{probe} probes the gRPC health port"
        );
    }
    // The configuration reaches the container.
    let env_from = container["envFrom"].as_vec().unwrap();
    assert!(
        env_from
            .iter()
            .any(|e| e["configMapRef"]["name"].as_str() == config["metadata"]["name"].as_str())
    );
    // The TLS files the configuration names are mounted from a Secret.
    let cert = config["data"]["JUESUAN_TLS_CERT"].as_str().unwrap();
    let mounts = container["volumeMounts"].as_vec().unwrap();
    let tls_mount = mounts
        .iter()
        .find(|m| cert.starts_with(m["mountPath"].as_str().unwrap()))
        .expect("the certificate's directory is mounted");
    let tls_volume = pod["volumes"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|v| v["name"] == tls_mount["name"])
        .unwrap();
    assert!(tls_volume["secret"]["secretName"].as_str().is_some());

    // Replicas on PostgreSQL: the URL (it holds a password) comes from a Secret, never the ConfigMap, and a
    // rollout never takes a replica away before its successor serves.
    assert!(config["data"]["JUESUAN_DATABASE_URL"].is_badvalue());
    assert_eq!(
        container["livenessProbe"]["grpc"]["service"].as_str(),
        Some(juesuan::api::health::LIVENESS_SERVICE),
        "liveness does not depend on the database"
    );
    let database = container["env"]
        .as_vec()
        .expect("env")
        .iter()
        .find(|e| e["name"].as_str() == Some("JUESUAN_DATABASE_URL"))
        .expect("JUESUAN_DATABASE_URL is set");
    assert!(
        database["valueFrom"]["secretKeyRef"]["name"]
            .as_str()
            .is_some()
    );
    assert!(deployment["spec"]["replicas"].as_i64().unwrap() >= 2);
    assert_eq!(
        deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"].as_i64(),
        Some(0)
    );
}

/// The autoscaler scales this Deployment and never below two; the disruption budget covers the same pods and
/// keeps at least two of them.
#[test]
fn the_autoscaler_and_the_disruption_budget_keep_two_replicas_of_the_deployment() {
    let deployment = one("kubernetes/deployment.yaml");
    let hpa = one("kubernetes/hpa.yaml");
    assert_eq!(hpa["kind"].as_str(), Some("HorizontalPodAutoscaler"));
    let target = &hpa["spec"]["scaleTargetRef"];
    assert_eq!(target["kind"].as_str(), Some("Deployment"));
    assert_eq!(target["name"], deployment["metadata"]["name"]);
    let min = hpa["spec"]["minReplicas"].as_i64().unwrap();
    assert!(min >= 2);
    assert!(hpa["spec"]["maxReplicas"].as_i64().unwrap() > min);
    // CPU utilisation is only defined against a request.
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_vec()
        .unwrap();
    assert!(
        containers[0]["resources"]["requests"]["cpu"]
            .as_str()
            .is_some()
    );

    let pdb = one("kubernetes/pdb.yaml");
    assert_eq!(pdb["kind"].as_str(), Some("PodDisruptionBudget"));
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        deployment["spec"]["selector"]["matchLabels"]
    );
    let kept = pdb["spec"]["minAvailable"].as_i64().unwrap();
    assert!((2..=min).contains(&kept), "minAvailable {kept}");
}

#[test]
fn the_service_routes_to_the_declared_grpc_port() {
    let service = one("kubernetes/service.yaml");
    let ports = service["spec"]["ports"].as_vec().unwrap();
    let grpc = ports
        .iter()
        .find(|p| p["name"].as_str() == Some("grpc"))
        .unwrap();
    assert_eq!(grpc["targetPort"].as_str(), Some("grpc"));
    assert_eq!(grpc["appProtocol"].as_str(), Some("grpc"));
}

#[test]
fn the_configured_settings_are_flags_of_the_binary() {
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_juesuan"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let config = one("kubernetes/configmap.yaml");
    let compose = one("compose.yaml");
    let mut keys: Vec<String> = config["data"]
        .as_hash()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    keys.extend(
        compose["services"]["juesuan"]["environment"]
            .as_hash()
            .unwrap()
            .keys()
            .map(|k| k.as_str().unwrap().to_owned()),
    );
    for key in keys {
        // JUESUAN_LOG is the log filter, read by the logger rather than a flag.
        if key != "JUESUAN_LOG" {
            assert!(
                help.contains(&format!("env: {key}")),
                "serve has no setting {key}"
            );
        }
    }
}

#[test]
fn compose_checks_health_with_the_binary_and_runs_as_non_root() {
    let compose = one("compose.yaml");
    let service = &compose["services"]["juesuan"];
    let test: Vec<&str> = service["healthcheck"]["test"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(&test[..3], ["CMD", "/usr/local/bin/juesuan", "health"]);
    assert!(test.join(" ").contains(":8081"));
    assert_eq!(service["user"].as_str(), Some("10001:10001"));
    assert!(is_pinned(service["image"].as_str().unwrap()));

    // PostgreSQL, pinned and health-checked, started first; juesuan's URL names it.
    let postgres = &compose["services"]["postgres"];
    assert!(is_pinned(postgres["image"].as_str().unwrap()));
    assert_eq!(
        postgres["healthcheck"]["test"].as_vec().unwrap()[1].as_str(),
        Some("pg_isready")
    );
    assert_eq!(
        service["depends_on"]["postgres"]["condition"].as_str(),
        Some("service_healthy")
    );
    let url = service["environment"]["JUESUAN_DATABASE_URL"]
        .as_str()
        .unwrap();
    assert!(
        url.starts_with("postgres://") && url.contains("@postgres:5432/"),
        "{url}"
    );
}

#[test]
fn the_image_is_built_in_stages_from_pinned_bases_and_runs_the_binary_as_non_root() {
    let dockerfile = std::fs::read_to_string(deploy_dir().join("Dockerfile")).unwrap();
    let instructions: Vec<&str> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let froms: Vec<&str> = instructions
        .iter()
        .filter_map(|l| l.strip_prefix("FROM "))
        .collect();
    assert!(froms.len() >= 2, "multi-stage: {froms:?}");
    for from in &froms {
        let image = from.split_whitespace().next().unwrap();
        assert!(is_pinned(image), "base image {image} is not pinned");
    }
    let last_stage = dockerfile.rsplit("\nFROM ").next().unwrap();
    let user = last_stage
        .lines()
        .filter_map(|l| l.trim().strip_prefix("USER "))
        .next_back()
        .expect("the runtime stage sets a user");
    let uid: u32 = user
        .split(':')
        .next()
        .unwrap()
        .parse()
        .expect("a numeric user");
    assert!(uid > 0, "runs as root");
    let copies: Vec<&str> = last_stage
        .lines()
        .filter(|l| l.trim().starts_with("COPY"))
        .collect();
    assert_eq!(
        copies.len(),
        1,
        "the runtime stage copies the binary and nothing else: {copies:?}"
    );
    assert!(copies[0].contains("--from=build") && copies[0].ends_with("/usr/local/bin/juesuan"));
    assert!(last_stage.contains("ENTRYPOINT [\"/usr/local/bin/juesuan\"]"));
    let healthcheck = last_stage
        .lines()
        .find(|l| l.starts_with("HEALTHCHECK"))
        .expect("a health check");
    assert!(
        healthcheck.contains("\"health\"") && healthcheck.contains(":8081"),
        "{healthcheck}"
    );
}
