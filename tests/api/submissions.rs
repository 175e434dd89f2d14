use juesuan::pb;
use prost::Message;

use crate::helpers::{TestApp, UNIT, reference, submit_request};

fn rule_ids(report: &pb::ValidationReport, severity: pb::Severity) -> Vec<String> {
    report
        .findings
        .iter()
        .filter(|f| f.severity == severity as i32)
        .map(|f| f.rule_id.clone())
        .collect()
}

/// The reference with its genuine errors fixed: the 国密 project's 分值 of 74.56 set to 10, and the unit
/// evaluation's text stating 7974.18 where its table says 7973.18 (tests/fixtures/reference-2024-corrected.json,
/// which the README's walk submits).
pub fn corrected_reference() -> pb::Disclosure {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/reference-2024-corrected.json");
    let text = std::fs::read_to_string(path).expect("the corrected fixture is readable");
    juesuan::cli::json::from_json("Disclosure", &text).expect("the corrected fixture parses")
}

#[test]
fn the_corrected_fixture_differs_from_the_reference_only_where_the_errors_were() {
    let (published, corrected) = (reference(), corrected_reference());
    let project = |d: &pb::Disclosure| {
        d.project_evaluations
            .iter()
            .position(|p| p.name.contains("国密算法升级改造"))
            .unwrap()
    };
    let mut restored = corrected.clone();
    let index = project(&restored);
    for (row, original) in restored.project_evaluations[index]
        .funds
        .iter_mut()
        .zip(&published.project_evaluations[index].funds)
    {
        if row.weight != original.weight {
            assert_eq!(row.weight.as_ref().unwrap().value, "10");
            assert_eq!(original.weight.as_ref().unwrap().value, "74.56");
            row.weight = original.weight.clone();
        }
    }
    let unit = restored.unit_evaluation.as_mut().unwrap();
    unit.goal_actual = unit.goal_actual.replace("7973.18", "7974.18");
    assert_eq!(restored, published);
    assert_ne!(corrected, published);
}

#[tokio::test]
async fn the_reference_disclosure_is_stored_with_its_findings() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    let mut client = app.submitter(UNIT).await;
    let disclosure = reference();
    let response = client
        .submit(submit_request("reference-1", disclosure.clone()))
        .await
        .expect("submit")
        .into_inner();
    assert!(!response.replayed);
    let submission = response.submission.expect("submission");
    assert_eq!(
        (
            submission.unit_code.as_str(),
            submission.fiscal_year,
            submission.version
        ),
        (UNIT, 2024, 1)
    );
    assert!(submission.current);
    // The 国密 project states 74.56 where the execution weight 10 belongs (two errors), and the unit evaluation's
    // text states 7,974.18 where its table has 7,973.18.
    let report = submission.report.expect("report");
    assert_eq!(
        rule_ids(&report, pb::Severity::Error),
        ["EV-W-001", "EV-X-002", "NAR-AMOUNT"]
    );
    assert_eq!(
        submission.state,
        pb::SubmissionState::RejectedByRules as i32
    );
    // Rounding differences (8,190.84 against parts adding to 8,190.83) are not findings.
    assert!(
        !report
            .findings
            .iter()
            .any(|f| f.rule_id.starts_with("T01-BAL"))
    );
    // The digest is of the bytes as sent.
    assert_eq!(
        submission.content_sm3,
        juesuan::domain::submission::content_digest(&disclosure.encode_to_vec())
    );
    assert_eq!(submission.content_bytes as usize, disclosure.encoded_len());
}

#[tokio::test]
async fn a_retried_submit_returns_the_same_version() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    let mut client = app.submitter(UNIT).await;
    let first = client
        .submit(submit_request("retry-key", reference()))
        .await
        .expect("first")
        .into_inner();
    let second = client
        .submit(submit_request("retry-key", reference()))
        .await
        .expect("retry")
        .into_inner();
    assert!(!first.replayed);
    assert!(second.replayed);
    assert_eq!(
        first.submission.unwrap().version,
        second.submission.unwrap().version
    );
    assert_eq!(app.count_rows("submissions").await, 1);

    // The same key with another disclosure is a client bug, not a retry.
    refused_as_reused(&app, &mut client, "retry-key").await;
}

/// Submits the corrected reference under a key the reference was stored with: ALREADY_EXISTS, nothing stored.
async fn refused_as_reused(
    app: &TestApp,
    client: &mut pb::submissions_client::SubmissionsClient<juesuan::cli::client::Conn>,
    key: &str,
) {
    let rows = app.count_rows("submissions").await;
    let conflict = client
        .submit(submit_request(key, corrected_reference()))
        .await
        .unwrap_err();
    assert_eq!(conflict.code(), tonic::Code::AlreadyExists, "{conflict:?}");
    assert_eq!(app.count_rows("submissions").await, rows);
}

#[tokio::test]
async fn a_retry_is_answered_with_its_version_even_when_it_would_now_be_refused() {
    use juesuan::domain::signing;
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    let mut client = app.submitter(UNIT).await;
    let first = client
        .submit(submit_request("before-signing", reference()))
        .await
        .expect("an unsigned submission before the unit signs")
        .into_inner();
    // The unit starts signing: an unsigned new submission is refused from now on.
    let key = signing::parse_private_key(&[0x17; 32]).unwrap();
    pb::unit_registry_client::UnitRegistryClient::new(
        app.as_token(&app.token(UNIT, pb::Role::Submitter).await)
            .await,
    )
    .set_signing_key(pb::SetSigningKeyRequest {
        unit_code: UNIT.into(),
        public_key: signing::public_key_of(&key),
    })
    .await
    .expect("the unit registers its key");
    let unsigned = client
        .submit(submit_request("after-signing", reference()))
        .await
        .unwrap_err();
    assert_eq!(crate::helpers::violated_fields(&unsigned), ["signature"]);

    // The first call's retry is still that call: it gets its version back, not the refusal.
    let retry = client
        .submit(submit_request("before-signing", reference()))
        .await
        .expect("the retry is answered")
        .into_inner();
    assert!(retry.replayed);
    assert_eq!(
        retry.submission.unwrap().version,
        first.submission.unwrap().version
    );
    // And the key reused for other content is a conflict, whatever else is wrong with the call.
    refused_as_reused(&app, &mut client, "before-signing").await;
    assert_eq!(app.count_rows("submissions").await, 1);
}

#[tokio::test]
async fn a_second_submission_is_version_two_and_version_one_stays_readable() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    let mut client = app.submitter(UNIT).await;
    client
        .submit(submit_request("v1", reference()))
        .await
        .expect("v1");
    let v2 = client
        .submit(submit_request("v2", corrected_reference()))
        .await
        .expect("v2")
        .into_inner()
        .submission
        .expect("submission");
    assert_eq!(v2.version, 2);
    assert_eq!(
        v2.state,
        pb::SubmissionState::PendingReview as i32,
        "the corrected disclosure has no ERROR"
    );
    assert!(rule_ids(v2.report.as_ref().unwrap(), pb::Severity::Error).is_empty());

    let listed = client
        .list_submissions(pb::ListSubmissionsRequest {
            unit_code: UNIT.into(),
            fiscal_year: 2024,
        })
        .await
        .expect("list")
        .into_inner();
    let versions: Vec<(u32, bool)> = listed
        .submissions
        .iter()
        .map(|s| (s.version, s.current))
        .collect();
    assert_eq!(versions, [(1, false), (2, true)]);

    let v1 = client
        .get_submission(pb::GetSubmissionRequest {
            unit_code: UNIT.into(),
            fiscal_year: 2024,
            version: 1,
            include_disclosure: true,
            ..Default::default()
        })
        .await
        .expect("get v1")
        .into_inner();
    assert_eq!(v1.disclosure.expect("disclosure"), reference());
    let current = client
        .get_submission(pb::GetSubmissionRequest {
            unit_code: UNIT.into(),
            fiscal_year: 2024,
            version: 0,
            include_disclosure: false,
            ..Default::default()
        })
        .await
        .expect("get current")
        .into_inner();
    assert_eq!(current.version, 2);
    assert!(current.disclosure.is_none());
}

#[tokio::test]
async fn validate_is_a_dry_run() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    let mut client = app.submitter(UNIT).await;
    let report = client
        .validate(pb::ValidateRequest {
            disclosure: Some(reference()),
        })
        .await
        .expect("validate")
        .into_inner()
        .report
        .expect("report");
    assert_eq!(report.error_count, 3);
    assert!(
        report.checks_evaluated > 1000,
        "{}",
        report.checks_evaluated
    );
    assert_eq!(app.count_rows("submissions").await, 0);
    let missing = client
        .get_submission(pb::GetSubmissionRequest {
            unit_code: UNIT.into(),
            fiscal_year: 2024,
            version: 0,
            include_disclosure: false,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);
}
