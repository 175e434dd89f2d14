//! Year over year and budget against final: checks that read the store.

use juesuan::pb;

use crate::{
    helpers::{DEPARTMENT, TestApp, UNIT, submit_request},
    submissions::corrected_reference,
};

fn rule_ids(report: &pb::ValidationReport) -> Vec<&str> {
    report.findings.iter().map(|f| f.rule_id.as_str()).collect()
}

/// The corrected reference, restated for 2025 with the given 三公 total.
fn next_year(three_public_final: &str) -> pb::Disclosure {
    let mut disclosure = corrected_reference();
    disclosure.cover.as_mut().unwrap().fiscal_year = 2025;
    let t09 = disclosure
        .tables
        .iter_mut()
        .find(|t| t.code == "T09")
        .unwrap();
    for row in &mut t09.rows {
        if ["total", "reception"].contains(&row.code.as_str()) {
            for cell in &mut row.cells {
                if cell.column == "final" || cell.column == "budget" {
                    cell.value = Some(pb::Decimal {
                        value: three_public_final.into(),
                    });
                }
            }
        }
    }
    disclosure
}

#[tokio::test]
async fn a_second_year_is_checked_against_the_first_years_accepted_figures() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    let mut client = app.submitter(UNIT).await;

    // Without 2024 in the store, the year-over-year checks cannot be evaluated.
    let alone = client
        .validate(pb::ValidateRequest {
            disclosure: Some(next_year("1.50")),
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    assert!(
        !rule_ids(&alone)
            .iter()
            .any(|r| r.starts_with("T09-YOY") || r.starts_with("Y-") || *r == "NAR-YOY")
    );

    let v2024 = client
        .submit(submit_request("y2024", corrected_reference()))
        .await
        .unwrap()
        .into_inner()
        .submission
        .unwrap();
    assert_eq!(v2024.state, pb::SubmissionState::PendingReview as i32);
    // Last year's figures count once they are accepted; until then, there is nothing to compare with.
    let pending = client
        .validate(pb::ValidateRequest {
            disclosure: Some(next_year("1.50")),
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    assert!(!rule_ids(&pending).contains(&"T09-YOY-001"));
    let warnings = v2024
        .report
        .unwrap()
        .findings
        .iter()
        .filter(|f| f.severity == pb::Severity::Warning as i32)
        .map(|f| (f.key.clone(), "已核实".to_owned()))
        .collect();
    client
        .explain_findings(pb::ExplainFindingsRequest {
            unit_code: UNIT.into(),
            fiscal_year: 2024,
            version: v2024.version,
            explanations: warnings,
        })
        .await
        .unwrap();
    app.accept(DEPARTMENT, UNIT, v2024.version).await;

    let report = client
        .validate(pb::ValidateRequest {
            disclosure: Some(next_year("1.50")),
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    let ids = rule_ids(&report);
    // 2025's "三公只减不增" rule: 1.50 against 2024's 0.00.
    let rise = report
        .findings
        .iter()
        .find(|f| f.rule_id == "T09-YOY-001")
        .expect("T09-YOY-001 fires");
    assert_eq!(
        (
            rise.provided.as_ref().unwrap().value.as_str(),
            rise.expected.as_ref().unwrap().value.as_str()
        ),
        ("1.50", "0.00")
    );
    // The narrative restated from 2024 claims 2024's changes: against 2024's own figures they are wrong now.
    assert!(ids.contains(&"NAR-YOY"), "{ids:?}");
    // 年初结转和结余 406.99 against 2024's 年末结转和结余 410.12.
    let carry = report
        .findings
        .iter()
        .find(|f| f.rule_id == "Y-CARRY-001")
        .expect("Y-CARRY-001 fires");
    assert_eq!(carry.cells[0].row, "carryover_begin");
    // And staffing changes: 2024 stated −11 against its (unknown) 2023; 2025 restates −11 against 2024's 170.
    assert!(ids.contains(&"Y-STAFF-001"), "{ids:?}");
}

#[tokio::test]
async fn budget_figures_in_the_store_are_checked_against_the_final_accounts() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    // The budget system's figure: 5,357.30 as the narrative says, then a different one.
    let budgets = app.budget_system().await;
    let put = |key: &'static str, amount: &'static str| {
        let figure = |table: &str, column: &str| pb::BudgetFigure {
            table: table.into(),
            row: "total".into(),
            column: column.into(),
            value: Some(pb::Decimal {
                value: amount.into(),
            }),
        };
        let request = pb::PutBudgetRequest {
            idempotency_key: key.into(),
            unit_code: UNIT.into(),
            fiscal_year: 2024,
            figures: vec![figure("T05", "total"), figure("T04", "expenditure")],
        };
        let mut budgets = budgets.clone();
        async move {
            budgets
                .put_budget(request)
                .await
                .expect("the budget system puts")
                .into_inner()
        }
    };
    let mut client = app.submitter(UNIT).await;
    let validate = |disclosure: pb::Disclosure| {
        let mut client = client.clone();
        async move {
            client
                .validate(pb::ValidateRequest {
                    disclosure: Some(disclosure),
                })
                .await
                .unwrap()
                .into_inner()
                .report
                .unwrap()
        }
    };

    // Before any budget, nothing to compare with; the store may remember that, and must forget it at the put.
    let before = validate(corrected_reference()).await;
    assert!(!rule_ids(&before).contains(&"BV-001"));
    assert_eq!(put("budget-1", "5357.30").await.budget.unwrap().version, 1);
    let agreeing = validate(corrected_reference()).await;
    assert!(
        !rule_ids(&agreeing).contains(&"NAR-BUDGET"),
        "{:?}",
        rule_ids(&agreeing)
    );
    // 7,070.64 is 132% of 5,357.30: outside 80–120%.
    let deviation = agreeing
        .findings
        .iter()
        .find(|f| f.rule_id == "BV-001")
        .expect("BV-001 fires");
    assert!(deviation.message.contains("31.98"), "{}", deviation.message);

    // The latest version counts.
    assert_eq!(put("budget-2", "6000.00").await.budget.unwrap().version, 2);
    let disagreeing = validate(corrected_reference()).await;
    let stated: Vec<&pb::Finding> = disagreeing
        .findings
        .iter()
        .filter(|f| f.rule_id == "NAR-BUDGET")
        .collect();
    assert_eq!(stated.len(), 2, "sections 四 and 五 both state 年初预算数");
    assert_eq!(stated[0].expected.as_ref().unwrap().value, "6000.00");
    let _ = client
        .list_submissions(pb::ListSubmissionsRequest {
            unit_code: UNIT.into(),
            fiscal_year: 2024,
        })
        .await;
}
