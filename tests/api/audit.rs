//! The audit trail: every change is an event in the SM3 chain, written with the change; a tampered event in the
//! database file is named by `audit verify`, through the service and by the CLI reading the file; the chain
//! survives a restart and continues from its head.

use juesuan::{domain::submission::Limits, pb};
use tonic::Code;

use crate::{
    helpers::{DEPARTMENT, TestApp, UNIT, submit_request},
    submissions::corrected_reference,
};

async fn events(app: &TestApp, request: pb::ListEventsRequest) -> pb::ListEventsResponse {
    pb::audit_client::AuditClient::new(app.channel().await)
        .list_events(request)
        .await
        .expect("events")
        .into_inner()
}

async fn verify(app: &TestApp) -> pb::VerifyChainResponse {
    pb::audit_client::AuditClient::new(app.channel().await)
        .verify_chain(pb::VerifyChainRequest {})
        .await
        .expect("verified")
        .into_inner()
}

fn actions(events: &[pb::AuditEvent]) -> Vec<&str> {
    events.iter().map(|e| e.action.as_str()).collect()
}

/// The first start's token, the two registrations, a token for the unit, a submission and a return.
async fn some_history(app: &TestApp) {
    app.register_reference_units().await;
    let version = app
        .submitter(UNIT)
        .await
        .submit(submit_request("audited", corrected_reference()))
        .await
        .unwrap()
        .into_inner()
        .submission
        .unwrap()
        .version;
    app.reviewer(DEPARTMENT)
        .await
        .r#return(pb::ReturnRequest {
            unit_code: UNIT.into(),
            fiscal_year: 2024,
            version,
            reason: "请补充说明".into(),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn every_change_is_an_event_and_the_chain_verifies() {
    let app = TestApp::spawn().await;
    some_history(&app).await;
    let all = events(&app, pb::ListEventsRequest::default()).await.events;
    assert_eq!(
        actions(&all),
        [
            "token.issue",
            "unit.register",
            "unit.register",
            "token.issue",
            "submission",
            "token.issue",
            "review.return"
        ]
    );
    assert_eq!(all[0].actor, "system");
    assert_eq!(all[4].version, 1);
    assert!(
        all[4]
            .actor
            .starts_with(&format!("unit:{UNIT}/submitter token:"))
    );
    assert!(all[4].detail.contains("sm3:"), "{}", all[4].detail);
    assert_eq!(all[6].reason, "请补充说明");
    assert_eq!(all[0].prev_hash, "0".repeat(64));
    for pair in all.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
        assert_eq!(pair[1].seq, pair[0].seq + 1);
    }
    let verdict = verify(&app).await;
    assert!(verdict.intact, "{verdict:?}");
    assert_eq!(verdict.events, 7);
    assert_eq!(verdict.head_hash, all[6].hash);

    // A department's reader sees its subtree's events only; paging goes on from a seq.
    let reader = app.token(DEPARTMENT, pb::Role::Reader).await;
    let subtree = pb::audit_client::AuditClient::new(app.as_token(&reader).await)
        .list_events(pb::ListEventsRequest {
            node_code: DEPARTMENT.into(),
            fiscal_year: 2024,
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(actions(&subtree.events), ["unit.register", "unit.register"]);
    assert_ne!(subtree.next_after_seq, 0);
    let rest = pb::audit_client::AuditClient::new(app.as_token(&reader).await)
        .list_events(pb::ListEventsRequest {
            node_code: DEPARTMENT.into(),
            fiscal_year: 2024,
            after_seq: subtree.next_after_seq,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(actions(&rest.events), ["submission", "review.return"]);
    assert_eq!(rest.next_after_seq, 0);
    // Everything (token events included) is the administrator's to read.
    let status = pb::audit_client::AuditClient::new(app.as_token(&reader).await)
        .list_events(pb::ListEventsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
}

/// Changes one stored event's reason in the database, as someone with access to it could.
async fn tamper(app: &TestApp, seq: i64) {
    let sql = format!("UPDATE audit_events SET reason = '同意' WHERE seq = {seq}");
    assert_eq!(
        crate::helpers::store_execute(app.data_dir.path(), &sql).await,
        1
    );
}

#[tokio::test]
async fn a_tampered_event_is_named_and_the_chain_survives_a_restart() {
    let app = TestApp::spawn().await;
    some_history(&app).await;

    // A restart keeps the chain, and new events continue it from its head.
    let before = verify(&app).await;
    let dir = app.stop().await;
    let app = TestApp::spawn_with(dir, Limits::default()).await;
    let after = verify(&app).await;
    assert!(after.intact);
    assert_eq!(after.head_hash, before.head_hash);
    app.token(DEPARTMENT, pb::Role::Reader).await;
    let continued = verify(&app).await;
    assert!(continued.intact);
    assert_eq!(continued.events, before.events + 1);

    tamper(&app, 7).await;
    let broken = verify(&app).await;
    assert!(!broken.intact);
    assert_eq!(broken.first_broken_seq, 7);
    assert!(broken.problem.contains("was changed"), "{}", broken.problem);

    // The CLI reads the file itself, with the service stopped: same verdict, exit 1.
    let dir = app.stop().await;
    let mut verify = tokio::process::Command::new(env!("CARGO_BIN_EXE_juesuan"));
    verify
        .args(["audit", "verify", "--data-dir"])
        .arg(dir.path())
        .env_remove("JUESUAN_DATABASE_URL");
    if let Some(url) = crate::helpers::database_for(dir.path()).await {
        verify.arg("--database-url").arg(url);
    }
    let output = verify.output().await.unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("the audit chain is BROKEN at event 7"),
        "{text}"
    );
}
