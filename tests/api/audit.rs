//! The audit trail: every change is an event in the SM3 chain, written with the change; a tampered event in the
//! database file is named by `audit verify`, through the service and by the CLI reading the file; the chain
//! survives a restart and continues from its head.

use juesuan::{pb, service::submission::Limits};
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
    verify_against(app, None).await
}

async fn verify_against(app: &TestApp, kept: Option<&pb::ChainHead>) -> pb::VerifyChainResponse {
    pb::audit_client::AuditClient::new(app.channel().await)
        .verify_chain(pb::VerifyChainRequest {
            kept_head_seq: kept.map_or(0, |h| h.seq),
            kept_head_hash: kept.map(|h| h.hash.clone()).unwrap_or_default(),
        })
        .await
        .expect("verified")
        .into_inner()
}

/// The CLI reading a data directory's store itself (the SQLite file, or the PostgreSQL database the test gave it).
async fn offline(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_juesuan"));
    command.args(args).env_remove("JUESUAN_DATABASE_URL");
    match crate::helpers::database_for(dir).await {
        Some(url) => command.arg("--database-url").arg(url),
        None => command.arg("--data-dir").arg(dir),
    };
    command.output().await.unwrap()
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
    let output = offline(dir.path(), &["audit", "verify"]).await;
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("the audit chain is BROKEN at event 7"),
        "{text}"
    );
}

/// A stored version whose bytes were replaced by another version's (its row's digest rewritten to match, as
/// someone with access to the database could): `audit verify` names it, and it is never served again.
#[tokio::test]
async fn a_version_whose_bytes_were_swapped_is_named_and_never_served() {
    let app = TestApp::spawn().await;
    some_history(&app).await;
    let mut changed = corrected_reference();
    changed.narrative.pop();
    let second = app
        .submitter(UNIT)
        .await
        .submit(submit_request("second", changed))
        .await
        .unwrap()
        .into_inner()
        .submission
        .unwrap();
    assert_eq!(second.version, 2);
    assert!(verify(&app).await.intact);
    let swapped = crate::helpers::store_execute(
        app.data_dir.path(),
        &format!(
            "UPDATE submissions SET \
               content = (SELECT s2.content FROM submissions s2 WHERE s2.unit_code = '{UNIT}' AND s2.version = 2), \
               content_encoding = (SELECT s2.content_encoding FROM submissions s2 WHERE s2.unit_code = '{UNIT}' AND s2.version = 2), \
               content_len = (SELECT s2.content_len FROM submissions s2 WHERE s2.unit_code = '{UNIT}' AND s2.version = 2), \
               content_sm3 = (SELECT s2.content_sm3 FROM submissions s2 WHERE s2.unit_code = '{UNIT}' AND s2.version = 2) \
             WHERE unit_code = '{UNIT}' AND version = 1"
        ),
    )
    .await;
    assert_eq!(swapped, 1);

    let verdict = verify(&app).await;
    assert!(!verdict.intact);
    assert_eq!(verdict.first_broken_seq, 0, "the chain itself holds");
    assert_eq!(verdict.versions_checked, 2);
    assert_eq!(verdict.damaged_versions.len(), 1, "{verdict:?}");
    let damaged = &verdict.damaged_versions[0];
    assert_eq!(
        (
            damaged.unit_code.as_str(),
            damaged.fiscal_year,
            damaged.version
        ),
        (UNIT, 2024, 1)
    );
    assert!(damaged.problem.contains("replaced"), "{}", damaged.problem);

    // Reading it back: DATA_LOSS, never the bytes; the untouched version still reads.
    let get = |version: u32| pb::GetSubmissionRequest {
        unit_code: UNIT.into(),
        fiscal_year: 2024,
        version,
        include_disclosure: true,
        ..Default::default()
    };
    let mut client = app.submissions().await;
    let refused = client.get_submission(get(1)).await.unwrap_err();
    assert_eq!(refused.code(), Code::DataLoss, "{refused:?}");
    assert!(refused.message().contains("version 1"), "{refused:?}");
    assert!(client.get_submission(get(2)).await.is_ok());

    // The CLI says the same, from the service and reading the store itself.
    let server = app.address.clone();
    let cli = tokio::process::Command::new(env!("CARGO_BIN_EXE_juesuan"))
        .args([
            "submissions",
            "get",
            "--unit",
            UNIT,
            "--year",
            "2024",
            "--version",
            "1",
            "--include-disclosure",
            "--server",
            &server,
        ])
        .env("JUESUAN_TOKEN", &app.admin_token)
        .output()
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&cli.stderr);
    assert!(!cli.status.success());
    assert!(said.contains("audit chain"), "{said}");
    let dir = app.stop().await;
    let output = offline(dir.path(), &["audit", "verify"]).await;
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains(&format!("{UNIT}/2024 version 1")), "{text}");
    assert!(text.contains("the audit chain is intact"), "{text}");
}

/// A head kept elsewhere shows a chain cut short after it, and one rewritten at it.
#[tokio::test]
async fn a_chain_cut_short_or_rewritten_after_a_kept_head_is_reported() {
    let app = TestApp::spawn().await;
    some_history(&app).await;
    let head = pb::audit_client::AuditClient::new(app.channel().await)
        .get_head(pb::GetHeadRequest {})
        .await
        .unwrap()
        .into_inner();
    // The head is signed with the server's SM2 key, over the documented bytes.
    let hash: [u8; 32] = hex::decode(&head.hash).unwrap().try_into().unwrap();
    juesuan::domain::signing::verify(
        &hex::decode(&head.public_key).unwrap(),
        &juesuan::domain::audit::head_message(head.seq, &hash),
        &hex::decode(&head.signature).unwrap(),
    )
    .expect("the signature verifies");
    let events_then = verify(&app).await.events;
    assert_eq!(head.seq, events_then);

    // Later events: the kept head still holds.
    app.token(DEPARTMENT, pb::Role::Reader).await;
    assert!(verify_against(&app, Some(&head)).await.intact);

    // The newest events cut off, the kept head's own among them.
    crate::helpers::store_execute(
        app.data_dir.path(),
        &format!("DELETE FROM audit_events WHERE seq >= {}", head.seq),
    )
    .await;
    let cut = verify_against(&app, Some(&head)).await;
    assert!(!cut.intact);
    assert_eq!(cut.first_broken_seq, 0, "what is left still links");
    assert!(cut.head_problem.contains("cut off"), "{}", cut.head_problem);

    // New events written where the old ones were: the chain links again, but not to the kept head.
    app.token(UNIT, pb::Role::Reader).await;
    let rewritten = verify_against(&app, Some(&head)).await;
    assert!(!rewritten.intact);
    assert!(
        rewritten.head_problem.contains("rewritten"),
        "{}",
        rewritten.head_problem
    );
    // The CLI: `audit head` prints SEQ:DIGEST, and `audit verify --head` exits 1 with the same finding.
    let dir = app.stop().await;
    let kept = format!("{}:{}", head.seq, head.hash);
    let output = offline(dir.path(), &["audit", "verify", "--head", &kept]).await;
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("kept head does NOT hold"), "{text}");
    let mut head_command = vec!["audit", "head"];
    let key = dir.path().join("audit-head.sm2");
    let key = key.to_str().unwrap().to_owned();
    head_command.extend(["--audit-key", key.as_str()]);
    let output = offline(dir.path(), &head_command).await;
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let first = text.lines().next().unwrap();
    assert!(
        juesuan::domain::audit::KeptHead::parse(first).is_ok(),
        "{text}"
    );
}
