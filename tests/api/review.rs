//! The review chain through the real server: 上报 → 审核 / 退回 → 锁定, every refused transition with its reason,
//! what consolidation counts before and after acceptance, locks, racing submissions, and SM2 signatures.

use std::collections::HashMap;

use juesuan::{domain::signing, pb};
use prost::Message;
use tonic::Code;

use crate::{
    helpers::{DEPARTMENT, TestApp, UNIT, reference, submit_request, violated_fields},
    submissions::corrected_reference,
};

async fn submit(app: &TestApp, key: &str, disclosure: pb::Disclosure) -> pb::Submission {
    app.submitter(UNIT)
        .await
        .submit(submit_request(key, disclosure))
        .await
        .unwrap_or_else(|s| panic!("submit {key}: {s:?}"))
        .into_inner()
        .submission
        .unwrap()
}

/// Explains every WARNING of a version as the unit.
pub(crate) async fn explain_all(app: &TestApp, submission: &pb::Submission) {
    let explanations: HashMap<String, String> = submission
        .report
        .as_ref()
        .unwrap()
        .findings
        .iter()
        .filter(|f| f.severity == pb::Severity::Warning as i32)
        .map(|f| (f.key.clone(), "已核实，原因见公开说明。".to_owned()))
        .collect();
    app.submitter(UNIT)
        .await
        .explain_findings(pb::ExplainFindingsRequest {
            unit_code: UNIT.into(),
            fiscal_year: 2024,
            version: submission.version,
            explanations,
        })
        .await
        .expect("explained");
}

async fn accept(app: &TestApp, version: u32) -> Result<pb::ReviewResponse, tonic::Status> {
    app.reviewer(DEPARTMENT)
        .await
        .accept(pb::AcceptRequest {
            unit_code: UNIT.into(),
            fiscal_year: 2024,
            version,
            comment: String::new(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn return_version(
    app: &TestApp,
    version: u32,
    reason: &str,
) -> Result<pb::ReviewResponse, tonic::Status> {
    app.reviewer(DEPARTMENT)
        .await
        .r#return(pb::ReturnRequest {
            unit_code: UNIT.into(),
            fiscal_year: 2024,
            version,
            reason: reason.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// The department's consolidated 本年收入合计, or none when nothing counts.
async fn department_income(app: &TestApp) -> Option<String> {
    let report = pb::consolidation_client::ConsolidationClient::new(app.channel().await)
        .get_consolidated(pb::GetConsolidatedRequest {
            node_code: DEPARTMENT.into(),
            fiscal_year: 2024,
            tables: vec!["T01".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    report
        .tables
        .iter()
        .flat_map(|t| t.rows.iter())
        .find(|r| r.code == "income_total")
        .and_then(|r| r.cells.first())
        .and_then(|c| c.value.as_ref())
        .map(|v| v.value.clone())
}

fn refused(result: Result<pb::ReviewResponse, tonic::Status>, code: Code, says: &str) {
    let status = result.expect_err("refused");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(status.message().contains(says), "{}", status.message());
}

#[tokio::test]
async fn the_chain_from_submission_to_acceptance_and_what_counts_at_each_step() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;

    // Errors block acceptance for good: the reference as published is rejected by the rules.
    let rejected = submit(&app, "v1", reference()).await;
    assert_eq!(rejected.state, pb::SubmissionState::RejectedByRules as i32);
    refused(
        accept(&app, 1).await,
        Code::FailedPrecondition,
        "rejected by the rules",
    );

    // Corrected, it waits for review; its unexplained warnings block acceptance, and the error says so.
    let v2 = submit(&app, "v2", corrected_reference()).await;
    assert_eq!(v2.state, pb::SubmissionState::PendingReview as i32);
    refused(
        accept(&app, 2).await,
        Code::FailedPrecondition,
        "without an explanation",
    );
    refused(
        accept(&app, 1).await,
        Code::FailedPrecondition,
        "not the current version (version 2 is)",
    );
    let pending = app
        .reviewer(DEPARTMENT)
        .await
        .list_pending(pb::ListPendingRequest {
            node_code: DEPARTMENT.into(),
            fiscal_year: 2024,
        })
        .await
        .unwrap()
        .into_inner()
        .pending;
    assert_eq!(pending.len(), 1);
    assert_eq!(
        (pending[0].version, pending[0].reviewer_node.as_str()),
        (2, DEPARTMENT)
    );
    assert!(pending[0].unexplained_warning_count > 0);
    // Nothing counts yet.
    assert_eq!(department_income(&app).await, None);

    explain_all(&app, &v2).await;
    let accepted = accept(&app, 2).await.expect("accepted");
    let status = accepted.status.unwrap();
    assert_eq!(
        (
            status.current_version,
            status.accepted_version,
            status.current_state
        ),
        (2, 2, pb::SubmissionState::Accepted as i32)
    );
    assert!(accepted.audit_seq > 0);
    assert_eq!(department_income(&app).await.as_deref(), Some("8190.84"));
    refused(
        accept(&app, 2).await,
        Code::FailedPrecondition,
        "already accepted",
    );

    // A new version waits for review; the accepted one still counts. Returned, it never counts.
    let mut changed = corrected_reference();
    changed.narrative.pop();
    let v3 = submit(&app, "v3", changed).await;
    assert_eq!(department_income(&app).await.as_deref(), Some("8190.84"));
    refused(
        return_version(&app, 3, "  ").await,
        Code::InvalidArgument,
        "reason",
    );
    let returned = return_version(&app, 3, "第三部分说明缺失，请补充后重新报送")
        .await
        .unwrap();
    assert_eq!(
        returned.status.unwrap().current_state,
        pb::SubmissionState::Returned as i32
    );
    let listed = app
        .submitter(UNIT)
        .await
        .get_submission(pb::GetSubmissionRequest {
            unit_code: UNIT.into(),
            fiscal_year: 2024,
            version: v3.version,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.review_reason, "第三部分说明缺失，请补充后重新报送");
    assert_eq!(listed.state, pb::SubmissionState::Returned as i32);
    refused(accept(&app, 3).await, Code::FailedPrecondition, "returned");

    // Revert: version 2 is current again (a new event; versions 3 stays as it was).
    let reverted = app
        .reviewer(DEPARTMENT)
        .await
        .revert(pb::RevertRequest {
            unit_code: UNIT.into(),
            fiscal_year: 2024,
            version: 2,
            reason: "恢复已审核版本".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status
        .unwrap();
    assert_eq!(
        (reverted.current_version, reverted.accepted_version),
        (2, 2)
    );
    let versions = app
        .submissions()
        .await
        .list_submissions(pb::ListSubmissionsRequest {
            unit_code: UNIT.into(),
            fiscal_year: 2024,
        })
        .await
        .unwrap()
        .into_inner()
        .submissions;
    assert_eq!(versions.len(), 3);
    assert!(versions[1].current && !versions[2].current);
    assert_eq!(versions[2].state, pb::SubmissionState::Returned as i32);
    let revert_returned = app
        .reviewer(DEPARTMENT)
        .await
        .revert(pb::RevertRequest {
            unit_code: UNIT.into(),
            fiscal_year: 2024,
            version: 3,
            reason: "x".into(),
        })
        .await;
    refused(
        revert_returned.map(tonic::Response::into_inner),
        Code::FailedPrecondition,
        "only an earlier accepted version",
    );

    // Returning the accepted version withdraws it: nothing counts any more.
    return_version(&app, 2, "审核有误，撤回").await.unwrap();
    assert_eq!(department_income(&app).await, None);
}

#[tokio::test]
async fn a_locked_year_refuses_submissions_explanations_and_decisions() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    let v1 = submit(&app, "v1", corrected_reference()).await;
    // Locking waits for what is pending.
    let lock = |comment: &'static str| {
        let app = &app;
        async move {
            app.reviewer(DEPARTMENT)
                .await
                .lock(pb::LockRequest {
                    node_code: DEPARTMENT.into(),
                    fiscal_year: 2024,
                    comment: comment.into(),
                })
                .await
        }
    };
    let status = lock("封账").await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains(UNIT), "{}", status.message());
    explain_all(&app, &v1).await;
    accept(&app, 1).await.unwrap();
    let locked = lock("封账").await.unwrap().into_inner();
    assert!(locked.locked);
    assert_eq!((locked.units, locked.units_accepted), (2, 1));

    let mut changed = corrected_reference();
    changed.narrative.pop();
    let status = app
        .submitter(UNIT)
        .await
        .submit(submit_request("after-lock", changed))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("locked"), "{}", status.message());
    assert_eq!(app.count_rows("submissions").await, 1);
    let key = v1
        .report
        .as_ref()
        .unwrap()
        .findings
        .iter()
        .find(|f| f.severity == pb::Severity::Warning as i32)
        .unwrap()
        .key
        .clone();
    let status = app
        .submitter(UNIT)
        .await
        .explain_findings(pb::ExplainFindingsRequest {
            unit_code: UNIT.into(),
            fiscal_year: 2024,
            version: 1,
            explanations: [(key, "改写说明".to_owned())].into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("locked"), "{}", status.message());
    refused(
        return_version(&app, 1, "再看看").await,
        Code::FailedPrecondition,
        "locked",
    );

    // Unlocking needs a reason, and the locker's level or above: the unit cannot, the department can.
    let unlock = |token: String, reason: &'static str| {
        let app = &app;
        async move {
            pb::review_client::ReviewClient::new(app.as_token(&token).await)
                .unlock(pb::UnlockRequest {
                    node_code: DEPARTMENT.into(),
                    fiscal_year: 2024,
                    reason: reason.into(),
                })
                .await
        }
    };
    let unit_reader = app.token(UNIT, pb::Role::Reader).await;
    assert_eq!(
        unlock(unit_reader, "x").await.unwrap_err().code(),
        Code::PermissionDenied
    );
    let reviewer = app.token(DEPARTMENT, pb::Role::Reviewer).await;
    assert_eq!(
        unlock(reviewer.clone(), "").await.unwrap_err().code(),
        Code::InvalidArgument
    );
    let unlocked = unlock(reviewer, "发现差错，重新打开")
        .await
        .unwrap()
        .into_inner();
    assert!(!unlocked.locked);
    let mut changed = corrected_reference();
    changed.narrative.pop();
    submit(&app, "after-unlock", changed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_32_concurrent_submissions_against_one_version_exactly_one_wins() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    submit(&app, "base", corrected_reference()).await;
    let client = app.submitter(UNIT).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..32 {
        let mut client = client.clone();
        tasks.spawn(async move {
            let mut disclosure = corrected_reference();
            disclosure.narrative[0]
                .text
                .push_str(&format!("（第{i}次修改）"));
            client
                .submit(pb::SubmitRequest {
                    expected_current_version: Some(1),
                    ..submit_request(&format!("race-{i}"), disclosure)
                })
                .await
        });
    }
    let (mut won, mut lost) = (Vec::new(), 0);
    while let Some(result) = tasks.join_next().await {
        match result.unwrap() {
            Ok(response) => won.push(response.into_inner().submission.unwrap().version),
            Err(status) => {
                assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
                assert!(status.message().contains("not 1 as expected"), "{status:?}");
                lost += 1;
            }
        }
    }
    assert_eq!(won, [2]);
    assert_eq!(lost, 31);
    assert_eq!(app.count_rows("submissions").await, 2);
}

#[tokio::test]
async fn a_signing_unit_must_sign_and_a_flipped_byte_is_refused() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    let key = signing::parse_private_key(&[0x42; 32]).unwrap();
    let mut own_units = pb::unit_registry_client::UnitRegistryClient::new(
        app.as_token(&app.token(UNIT, pb::Role::Submitter).await)
            .await,
    );
    // Before the key is registered a signature is refused; the store may remember there is no key, and must
    // forget it when one is set.
    let early = app
        .submitter(UNIT)
        .await
        .submit(pb::SubmitRequest {
            signature: signing::sign(&key, &corrected_reference().encode_to_vec()),
            ..submit_request("early", corrected_reference())
        })
        .await
        .unwrap_err();
    assert!(early.message().contains("no signing key"), "{early:?}");
    let registered = own_units
        .set_signing_key(pb::SetSigningKeyRequest {
            unit_code: UNIT.into(),
            public_key: signing::public_key_of(&key),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        registered.fingerprint,
        signing::fingerprint(&registered.public_key)
    );

    let disclosure = corrected_reference();
    let bytes = disclosure.encode_to_vec();
    let mut client = app.submitter(UNIT).await;
    let unsigned = client
        .submit(submit_request("unsigned", disclosure.clone()))
        .await
        .unwrap_err();
    assert_eq!(crate::helpers::violated_fields(&unsigned), ["signature"]);

    let mut flipped = signing::sign(&key, &bytes);
    flipped[10] ^= 1;
    let forged = client
        .submit(pb::SubmitRequest {
            signature: flipped,
            ..submit_request("forged", disclosure.clone())
        })
        .await
        .unwrap_err();
    assert_eq!(crate::helpers::violated_fields(&forged), ["signature"]);
    // A signature over other bytes (one changed byte of the disclosure) is refused too.
    let mut other = bytes.clone();
    other[100] ^= 1;
    let misplaced = client
        .submit(pb::SubmitRequest {
            signature: signing::sign(&key, &other),
            ..submit_request("misplaced", disclosure.clone())
        })
        .await
        .unwrap_err();
    assert_eq!(crate::helpers::violated_fields(&misplaced), ["signature"]);
    assert_eq!(app.count_rows("submissions").await, 0);

    let signature = signing::sign(&key, &bytes);
    let stored = client
        .submit(pb::SubmitRequest {
            signature: signature.clone(),
            ..submit_request("signed", disclosure)
        })
        .await
        .unwrap()
        .into_inner()
        .submission
        .unwrap();
    assert_eq!(stored.signature, signature);
    // Anyone who reads the version can check the signature against the stored bytes themselves.
    let read = app
        .submissions()
        .await
        .get_submission(pb::GetSubmissionRequest {
            unit_code: UNIT.into(),
            fiscal_year: 2024,
            version: stored.version,
            include_disclosure: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let content = read.disclosure.unwrap().encode_to_vec();
    assert!(signing::verify(&registered.public_key, &content, &read.signature).is_ok());

    // The unit cannot swap its key by itself; an administrator can.
    let other_key = signing::public_key_of(&signing::parse_private_key(&[0x43; 32]).unwrap());
    let status = own_units
        .set_signing_key(pb::SetSigningKeyRequest {
            unit_code: UNIT.into(),
            public_key: other_key.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    app.units()
        .await
        .set_signing_key(pb::SetSigningKeyRequest {
            unit_code: UNIT.into(),
            public_key: other_key,
        })
        .await
        .unwrap();
}

/// A lock of a year without a taxonomy says which year, as a precondition; a token whose expiry has nanos out of
/// range is refused naming the field, not read as another instant.
#[tokio::test]
async fn a_year_without_rules_cannot_be_locked_and_a_malformed_timestamp_is_named() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    let status = app
        .reviewer(DEPARTMENT)
        .await
        .lock(pb::LockRequest {
            node_code: DEPARTMENT.into(),
            fiscal_year: 2031,
            comment: "封账".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(status.message().contains("2031"), "{status:?}");
    assert!(status.message().contains("taxonomy"), "{status:?}");

    for nanos in [-1, 1_000_000_000] {
        let status = pb::tokens_client::TokensClient::new(app.channel().await)
            .issue_token(pb::IssueTokenRequest {
                principal: Some(pb::Principal {
                    kind: Some(pb::principal::Kind::Admin(true)),
                }),
                expires_at: Some(prost_types::Timestamp {
                    seconds: 4_000_000_000,
                    nanos,
                }),
                label: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert_eq!(violated_fields(&status), ["expires_at.nanos"], "{status:?}");
    }
}
