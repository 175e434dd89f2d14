//! What operators run the service by: the plain health port for probes, the metrics port, and request ids.

use std::net::SocketAddr;

use juesuan::{
    cli::client::{Conn, WithToken},
    configuration::Settings,
    domain::tokens::ADMIN_TOKEN_FILE,
    pb::{self, submissions_client::SubmissionsClient, unit_registry_client::UnitRegistryClient},
    service::submission::Limits,
    startup::{self, App, Listeners},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use tonic::{Code, transport::Channel};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::helpers::{department, reference, reference_unit, taxonomy_dir};

async fn port_zero() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.expect("bind port 0")
}

async fn channel(address: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{address}"))
        .expect("address")
        .connect()
        .await
        .expect("reachable")
}

/// `GET /metrics` over a plain HTTP/1.1 connection: the status line and the body.
async fn scrape(address: SocketAddr) -> (String, String) {
    let mut stream = TcpStream::connect(address)
        .await
        .expect("metrics reachable");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: juesuan\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("a header block");
    (
        head.lines().next().unwrap_or("").to_owned(),
        body.to_owned(),
    )
}

/// `juesuan health --server …`'s exit code.
async fn health_command(address: SocketAddr) -> Option<i32> {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_juesuan"))
            .args(["health", "--server", &format!("http://{address}")])
            .output()
            .expect("juesuan runs")
            .status
            .code()
    })
    .await
    .unwrap()
}

fn validate_request() -> pb::ValidateRequest {
    pb::ValidateRequest {
        disclosure: Some(reference()),
    }
}

#[tokio::test]
async fn probes_metrics_and_request_ids_on_their_own_ports() {
    let data_dir = tempfile::tempdir().unwrap();
    let listeners = Listeners {
        grpc: port_zero().await,
        health: Some(port_zero().await),
        metrics: Some(port_zero().await),
        web: None,
    };
    let grpc = listeners.grpc.local_addr().unwrap();
    let health = listeners.health.as_ref().unwrap().local_addr().unwrap();
    let metrics = listeners.metrics.as_ref().unwrap().local_addr().unwrap();
    let settings = Settings {
        listen: grpc,
        data_dir: data_dir.path().to_owned(),
        database_url: None,
        taxonomy_dir: Some(taxonomy_dir()),
        health_listen: Some(health),
        metrics_listen: Some(metrics),
        web_listen: None,
        limits: Limits::default(),
        tls: None,
        insecure: false,
        audit_key: None,
        checkpoint: Default::default(),
    };
    let app = App::open(&settings).await.expect("app opens");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(startup::run_with(listeners, app, async {
        let _ = stopped.await;
    }));

    // The health port answers health, needs no token, and serves nothing else.
    let mut probe = HealthClient::new(channel(health).await);
    let status = probe
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health answers without a token")
        .into_inner()
        .status;
    assert_eq!(status, ServingStatus::Serving as i32);
    let elsewhere = SubmissionsClient::new(channel(health).await)
        .validate(validate_request())
        .await
        .unwrap_err();
    assert_eq!(elsewhere.code(), Code::Unimplemented);

    // A call with the caller's request id gets it back; an anonymous call is refused (and counted).
    let token = std::fs::read_to_string(data_dir.path().join(ADMIN_TOKEN_FILE)).unwrap();
    let admin = Conn::with_token(channel(grpc).await, &token).unwrap();
    let mut units = UnitRegistryClient::new(admin);
    for unit in [department(), reference_unit()] {
        units
            .register_unit(pb::RegisterUnitRequest { unit: Some(unit) })
            .await
            .expect("registers");
    }
    let mut request = tonic::Request::new(validate_request());
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", token.trim()).parse().unwrap(),
    );
    request
        .metadata_mut()
        .insert("x-request-id", "lb-1234".parse().unwrap());
    let response = SubmissionsClient::new(channel(grpc).await)
        .validate(request)
        .await
        .expect("validate");
    assert_eq!(response.metadata().get("x-request-id").unwrap(), "lb-1234");
    let errors = response
        .into_inner()
        .report
        .unwrap()
        .findings
        .iter()
        .filter(|f| f.severity == pb::Severity::Error as i32)
        .count();
    assert_eq!(errors, 3);
    let refused = SubmissionsClient::new(channel(grpc).await)
        .validate(validate_request())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(
        refused.metadata().get("x-request-id").is_some(),
        "a refused call has a request id too"
    );

    let (status_line, body) = scrape(metrics).await;
    assert!(status_line.contains("200"), "{status_line}");
    for expected in [
        r#"juesuan_rpc_calls_total{rpc="/juesuan.v1.Submissions/Validate",code="OK"} 1"#,
        r#"juesuan_rpc_calls_total{rpc="/juesuan.v1.Submissions/Validate",code="UNAUTHENTICATED"} 1"#,
        r#"juesuan_rpc_duration_seconds_count{rpc="/juesuan.v1.Submissions/Validate"} 2"#,
        "juesuan_consolidation_state_bytes ",
    ] {
        assert!(body.contains(expected), "missing {expected:?} in:\n{body}");
    }
    // The store's operations are timed: two units registered, each one upsert.
    assert!(
        body.contains(r#"juesuan_store_duration_seconds_count{operation="upsert_unit"} 2"#),
        "{body}"
    );
    // Every error finding of the validation is counted under its rule.
    let error_findings: u64 = body
        .lines()
        .filter(|l| l.starts_with("juesuan_findings_total{") && l.contains(r#"severity="error""#))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(error_findings, 3, "{body}");

    // The container health check.
    assert_eq!(health_command(health).await, Some(0));

    // One shutdown stops every port.
    let _ = stop.send(());
    server.await.unwrap().expect("stops cleanly");
    assert_eq!(
        health_command(health).await,
        Some(2),
        "an unreachable server fails the check"
    );
    assert!(
        TcpStream::connect(health).await.is_err(),
        "health port closed"
    );
    assert!(
        TcpStream::connect(metrics).await.is_err(),
        "metrics port closed"
    );
}

/// `juesuan bench submit` against the real server: each phase reports its calls, and the submissions it counted
/// are stored as versions of the units it made.
#[tokio::test]
async fn the_load_benchmark_counts_stored_submissions() {
    let app = crate::helpers::TestApp::spawn().await;
    let token_file = app.data_dir.path().join(ADMIN_TOKEN_FILE);
    let address = app.address.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_juesuan"))
            .args(["bench", "submit", "--server", &address, "--token-file"])
            .arg(token_file)
            .args([
                "--duration",
                "1",
                "--concurrency",
                "3",
                "--connections",
                "2",
            ])
            // The server runs in this process.
            .args(["--server-pid", &std::process::id().to_string()])
            .args([
                "--counties",
                "1",
                "--departments",
                "1",
                "--units",
                "3",
                "--items",
                "4",
            ])
            .output()
            .expect("juesuan runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The rows of a phase table, as their cells; the CPU table's rows are the ones with "ms (user + system)".
    let phase_rows = |cpu: bool| -> Vec<Vec<&str>> {
        stdout
            .lines()
            .filter(|l| l.starts_with("| Validate") || l.starts_with("| Submit"))
            .filter(|l| l.contains(" ms (") == cpu)
            .map(|l| {
                l.split('|')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .collect()
            })
            .collect()
    };
    // Four phases, each a table row: call, streams, calls, per second, p50, p99, max, failed (none).
    let rows = phase_rows(false);
    assert_eq!(rows.len(), 4, "{stdout}");
    let submitted: usize = rows
        .iter()
        .filter(|r| r[0] == "Submit")
        .map(|r| r[2].parse::<usize>().unwrap())
        .sum();
    for row in &rows {
        assert!(row[2].parse::<usize>().unwrap() > 0, "no calls in {row:?}");
        assert_eq!(row[7], "0", "failures in {row:?}");
    }
    // And each phase's CPU time a call: the server's (this process), the client's, and the calls a second the
    // machine's cores allow at that cost.
    let costs = phase_rows(true);
    assert_eq!(costs.len(), 4, "{stdout}");
    let millis = |cell: &str| -> f64 { cell.split(" ms").next().unwrap().parse().unwrap() };
    for cost in &costs {
        assert!(millis(cost[2]) > 0.0, "no server CPU time in {cost:?}");
        assert!(cost[4].parse::<f64>().unwrap() > 0.0, "{cost:?}");
    }

    // Every counted submission is a stored version of one of the three units.
    let mut versions = 0;
    let mut units = app.units().await;
    let listed = units
        .list_units(pb::ListUnitsRequest {
            fiscal_year: 2024,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .units;
    let mut submissions = app.submissions().await;
    let leaves: Vec<pb::Unit> = listed
        .into_iter()
        .filter_map(|node| node.unit)
        .filter(|u| !u.is_department && !u.is_region)
        .collect();
    assert_eq!(leaves.len(), 3);
    for unit in &leaves {
        versions += submissions
            .list_submissions(pb::ListSubmissionsRequest {
                unit_code: unit.code.clone(),
                fiscal_year: 2024,
            })
            .await
            .unwrap()
            .into_inner()
            .submissions
            .len();
    }
    assert_eq!(versions, submitted, "{stdout}");
}
