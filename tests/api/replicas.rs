//! Replicas on one PostgreSQL database: linear versions whichever replica a submission goes through, the same
//! consolidation read on any replica at once, and a database outage seen by probes and callers and recovered from
//! without a restart. Runs in `tests/api_postgres` only (on SQLite there is one server per file).

use std::time::Duration;

use juesuan::pb;
use tokio::net::TcpListener;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::{
    consolidation::{cell, consolidated, disclosure, tree, u1_figures, u2_figures, unit},
    helpers::{
        BinaryServer, TestApp, UNIT, database_for, reference, reference_submitter, store_i64,
        submit_request,
    },
};

/// Two `juesuan serve` processes on one database, 8 submissions through each at once: the versions are 1 to 16,
/// each once, and each replica lists all 16.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_through_two_replicas_get_linear_versions() {
    let data_dir = tempfile::tempdir().unwrap();
    let first = BinaryServer::start(data_dir.path()).await;
    let second = BinaryServer::start(data_dir.path()).await;
    let admin_token = std::fs::read_to_string(
        data_dir
            .path()
            .join(juesuan::domain::tokens::ADMIN_TOKEN_FILE),
    )
    .unwrap();
    let submitter = reference_submitter(first.as_token(admin_token.trim()).await).await;

    let mut calls = tokio::task::JoinSet::new();
    for (replica, server) in [&first, &second].into_iter().enumerate() {
        for n in 0..8 {
            let conn = server.as_token(&submitter).await;
            calls.spawn(async move {
                let mut disclosure = reference();
                disclosure.narrative[0]
                    .text
                    .push_str(&format!("（副本{replica}第{n}次）"));
                pb::submissions_client::SubmissionsClient::new(conn)
                    .submit(submit_request(
                        &format!("replica-{replica}-{n}"),
                        disclosure,
                    ))
                    .await
                    .expect("submitted")
                    .into_inner()
                    .submission
                    .unwrap()
                    .version
            });
        }
    }
    let mut versions = calls.join_all().await;
    versions.sort_unstable();
    assert_eq!(versions, (1..=16).collect::<Vec<u32>>());
    for server in [&first, &second] {
        let listed =
            pb::submissions_client::SubmissionsClient::new(server.as_token(&submitter).await)
                .list_submissions(pb::ListSubmissionsRequest {
                    unit_code: UNIT.into(),
                    fiscal_year: 2024,
                })
                .await
                .unwrap()
                .into_inner();
        assert_eq!(listed.submissions.len(), 16);
    }
}

/// A replica's consolidation reflects every change counted through the other before the read, with no wait: a
/// version accepted and a unit registered on one are in the next read on the other.
#[tokio::test]
async fn a_change_counted_on_one_replica_is_read_on_the_other_at_once() {
    let a = TestApp::spawn().await;
    let b = a.replica().await;
    tree(&a).await;
    // B builds its state now; every later change goes through A.
    let before = consolidated(&b, "R").await;
    assert_eq!(before.tables, consolidated(&a, "R").await.tables);
    assert_eq!(
        cell(&before.tables, "T01", "income_total", "amount"),
        Some("330.00")
    );

    // U2's second version, accepted on A: B's region's 其他收入 falls by 2 (see the consolidation tests for why).
    let resubmitted = a
        .submitter("U2")
        .await
        .submit(submit_request(
            "U2-2",
            disclosure(
                "U2",
                "D",
                pb::ReportType::Single,
                &u2_figures("12.00", "38.00"),
            ),
        ))
        .await
        .expect("resubmit")
        .into_inner()
        .submission
        .unwrap();
    a.accept("D", "U2", resubmitted.version).await;
    let after = consolidated(&b, "R").await;
    assert_eq!(
        cell(&after.tables, "T01", "income_other", "amount"),
        Some("48.00")
    );
    assert_eq!(after.tables, consolidated(&a, "R").await.tables);

    // A unit registered and accepted on B is counted on A.
    let mut registry = b.units().await;
    registry
        .register_unit(pb::RegisterUnitRequest {
            unit: Some(unit("U4", "D2", false, false)),
        })
        .await
        .expect("register U4 on B");
    let submitted = b
        .submitter("U4")
        .await
        .submit(submit_request(
            "U4-1",
            disclosure("U4", "D2", pb::ReportType::Single, &u1_figures()),
        ))
        .await
        .expect("submit U4 on B")
        .into_inner()
        .submission
        .unwrap();
    b.accept("D2", "U4", submitted.version).await;
    let on_a = consolidated(&a, "R").await;
    assert_ne!(on_a.tables, after.tables, "A counts U4");
    assert_eq!(on_a.tables, consolidated(&b, "R").await.tables);
}

/// A TCP relay between a server and PostgreSQL that can cut the database off: while down it closes every
/// connection it relays and every new one at once, as a database host that went away would look.
struct Relay {
    port: u16,
    up: tokio::sync::watch::Sender<bool>,
}

impl Relay {
    async fn to(target: std::net::SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (up, watch) = tokio::sync::watch::channel(true);
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let mut watch = watch.clone();
                if !*watch.borrow() {
                    continue; // dropped: closed at once
                }
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = watch.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Relay { port, up }
    }

    fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }
}

async fn health_of(app: &TestApp) -> ServingStatus {
    HealthClient::new(app.anonymous().await)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health answers whatever the store does")
        .into_inner()
        .status()
}

/// Waits up to 15 s for the server's health to become `wanted`.
async fn wait_for_health(app: &TestApp, wanted: ServingStatus) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while health_of(app).await != wanted {
        assert!(
            tokio::time::Instant::now() < deadline,
            "health never became {wanted:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// While PostgreSQL cannot be reached, health says NOT_SERVING and a call that needs the store gets UNAVAILABLE
/// (not INTERNAL); when it is back, the same server serves again by itself.
#[tokio::test]
async fn while_the_database_is_down_health_says_so_and_calls_are_unavailable() {
    let owner = TestApp::spawn().await;
    let url = owner.database_url.clone().expect("a PostgreSQL database");
    let (server, database) = url.rsplit_once('/').unwrap();
    let address = server.rsplit_once('@').map_or(server, |(_, host)| host);
    let target: std::net::SocketAddr = address.parse().expect("the test server's host:port");
    let relay = Relay::to(target).await;
    let relayed = format!(
        "{}@127.0.0.1:{}/{database}",
        server.rsplit_once('@').unwrap().0,
        relay.port
    );
    let mut app = TestApp::spawn_on(relayed).await;
    app.admin_token = owner.admin_token.clone();
    let units = || async {
        app.units()
            .await
            .get_unit(pb::GetUnitRequest {
                code: UNIT.into(),
                fiscal_year: 2024,
            })
            .await
    };
    app.register_reference_units().await;
    units().await.expect("served while the database is up");
    wait_for_health(&app, ServingStatus::Serving).await;

    relay.set_up(false);
    wait_for_health(&app, ServingStatus::NotServing).await;
    let alive = HealthClient::new(app.anonymous().await)
        .check(HealthCheckRequest {
            service: juesuan::api::health::LIVENESS_SERVICE.into(),
        })
        .await
        .expect("liveness answers")
        .into_inner();
    assert_eq!(
        alive.status(),
        ServingStatus::Serving,
        "the process is alive"
    );
    let refused = units().await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
    assert!(!refused.message().contains("127.0.0.1"), "{refused:?}");

    relay.set_up(true);
    wait_for_health(&app, ServingStatus::Serving).await;
    let unit = units().await.expect("served again").into_inner();
    assert_eq!(unit.code, UNIT);
}

/// Four servers starting at once on an empty database: one first administrator token between them, and the
/// replicas that did not issue it wrote no token file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_starting_together_on_an_empty_database_issue_one_admin_token() {
    let database = tempfile::tempdir().unwrap();
    let url = database_for(database.path())
        .await
        .expect("a PostgreSQL database");
    let (a, b, c, d) = tokio::join!(
        TestApp::spawn_on(url.clone()),
        TestApp::spawn_on(url.clone()),
        TestApp::spawn_on(url.clone()),
        TestApp::spawn_on(url.clone()),
    );
    let tokens = store_i64(database.path(), "SELECT count(*) FROM tokens").await;
    assert_eq!(tokens, 1);
    let written = [&a, &b, &c, &d]
        .iter()
        .filter(|app| !app.admin_token.is_empty())
        .count();
    assert_eq!(written, 1, "exactly one server wrote admin.token");
}
