//! Warnings are answered with written explanations; errors cannot be.

use std::collections::HashMap;

use juesuan::pb;

use crate::{
    helpers::{TestApp, UNIT, reference, submit_request, violated_fields},
    submissions::corrected_reference,
};

fn keys(report: &pb::ValidationReport, severity: pb::Severity) -> Vec<String> {
    report
        .findings
        .iter()
        .filter(|f| f.severity == severity as i32)
        .map(|f| f.key.clone())
        .collect()
}

#[tokio::test]
async fn a_warning_is_explained_after_the_fact_and_an_error_is_not() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    let mut client = app.submitter(UNIT).await;
    let submission = client
        .submit(submit_request("explain-1", reference()))
        .await
        .expect("submit")
        .into_inner()
        .submission
        .unwrap();
    let report = submission.report.unwrap();
    let warning = keys(&report, pb::Severity::Warning)[0].clone();
    let error = keys(&report, pb::Severity::Error)[0].clone();
    assert_eq!(report.unexplained_warning_count, report.warning_count);

    let explained = client
        .explain_findings(pb::ExplainFindingsRequest {
            unit_code: UNIT.into(),
            fiscal_year: 2024,
            version: 0,
            explanations: HashMap::from([(
                warning.clone(),
                "本单位执行率得分按州财政局口径计算。".into(),
            )]),
        })
        .await
        .expect("explain")
        .into_inner();
    let report = explained.report.unwrap();
    assert_eq!(report.unexplained_warning_count, report.warning_count - 1);
    let finding = report.findings.iter().find(|f| f.key == warning).unwrap();
    assert_eq!(finding.explanation, "本单位执行率得分按州财政局口径计算。");

    let refused = client
        .explain_findings(pb::ExplainFindingsRequest {
            unit_code: UNIT.into(),
            fiscal_year: 2024,
            version: 1,
            explanations: HashMap::from([
                (error.clone(), "请忽略".into()),
                ("0000000000000000".into(), "no such finding".into()),
            ]),
        })
        .await
        .unwrap_err();
    let mut fields = violated_fields(&refused);
    fields.sort();
    assert_eq!(
        fields,
        [
            "explanations[0000000000000000]".to_string(),
            format!("explanations[{error}]")
        ]
    );

    // The explanation is kept with the version, across reads.
    let again = client
        .get_submission(pb::GetSubmissionRequest {
            unit_code: UNIT.into(),
            fiscal_year: 2024,
            version: 1,
            include_disclosure: false,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        again.report.unwrap().unexplained_warning_count,
        report.unexplained_warning_count
    );
}

#[tokio::test]
async fn explanations_come_with_a_submission_and_keys_stay_stable_across_versions() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    let mut client = app.submitter(UNIT).await;
    // A dry run tells the keys.
    let dry = client
        .validate(pb::ValidateRequest {
            disclosure: Some(corrected_reference()),
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    assert_eq!(dry.error_count, 0);
    let explanations: HashMap<String, String> = keys(&dry, pb::Severity::Warning)
        .into_iter()
        .map(|k| (k, "已核实，原因见公开说明。".to_owned()))
        .collect();

    // A bad key refuses the whole submission.
    let mut bad = explanations.clone();
    bad.insert("ffffffffffffffff".into(), "x".into());
    let status = client
        .submit(pb::SubmitRequest {
            idempotency_key: "with-bad-explanations".into(),
            disclosure: Some(corrected_reference()),
            explanations: bad,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["explanations[ffffffffffffffff]"]);
    assert_eq!(app.count_rows("submissions").await, 0);

    let stored = client
        .submit(pb::SubmitRequest {
            idempotency_key: "with-explanations".into(),
            disclosure: Some(corrected_reference()),
            explanations: explanations.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .submission
        .unwrap();
    let report = stored.report.unwrap();
    assert_eq!(report.unexplained_warning_count, 0);
    assert_eq!(
        keys(&report, pb::Severity::Warning),
        keys(&dry, pb::Severity::Warning)
    );
}
