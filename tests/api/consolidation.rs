//! Consolidation through the server: a hand-built tree with transfers inside it, checked against figures
//! computed by hand.
//!
//!     R  昌吉州 (a fiscal region: no disclosure of its own)
//!     ├── D   宣传部 (a department with its own figures): pays its units 30 (对附属单位补助支出), receives 5 from U1
//!     │   ├── U1  receives 20 (上级补助收入), pays 5 up (上缴上级支出)
//!     │   └── U2  receives 10
//!     └── D2  文旅局: its own small figures; its unit U3 never submits

use std::collections::HashMap;

use juesuan::pb;

use crate::helpers::{TestApp, submit_request};

fn decimal(value: &str) -> Option<pb::Decimal> {
    Some(pb::Decimal {
        value: value.into(),
    })
}

fn table(code: &str, rows: &[(&str, &[(&str, &str)])]) -> pb::Table {
    pb::Table {
        code: code.into(),
        completeness: pb::TableCompleteness::Complete as i32,
        declared_empty: false,
        rows: rows
            .iter()
            .map(|(row, cells)| pb::Row {
                code: (*row).into(),
                label: String::new(),
                cells: cells
                    .iter()
                    .map(|(column, value)| pb::Cell {
                        column: (*column).into(),
                        value: decimal(value),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Figures of a unit's year, all under function 207 (万元).
pub(crate) struct Figures<'a> {
    gpb: &'a str,
    superior: &'a str,
    business: &'a str,
    affiliated: &'a str,
    other: &'a str,
    income: &'a str,
    basic: &'a str,
    project: &'a str,
    remit: &'a str,
    subsidy: &'a str,
    expenditure: &'a str,
    carry: &'a str,
}

pub(crate) fn disclosure(
    unit: &str,
    parent: &str,
    report: pb::ReportType,
    f: &Figures,
) -> pb::Disclosure {
    pb::Disclosure {
        cover: Some(pb::Cover {
            unit_code: unit.into(),
            unit_name: unit.into(),
            fiscal_year: 2024,
            parent_unit_code: parent.into(),
            report_type: report as i32,
            amount_unit: pb::AmountUnit::TenThousandYuan as i32,
            ..Default::default()
        }),
        tables: vec![
            table(
                "T01",
                &[
                    ("income_gpb", &[("amount", f.gpb)]),
                    ("income_superior_subsidy", &[("amount", f.superior)]),
                    ("income_business", &[("amount", f.business)]),
                    ("income_affiliated_remit", &[("amount", f.affiliated)]),
                    ("income_other", &[("amount", f.other)]),
                    ("income_total", &[("amount", f.income)]),
                    ("income_grand_total", &[("amount", f.income)]),
                    ("207", &[("amount", f.expenditure)]),
                    ("expenditure_total", &[("amount", f.expenditure)]),
                    ("carryover_end", &[("amount", f.carry)]),
                    ("expenditure_grand_total", &[("amount", f.income)]),
                ],
            ),
            table(
                "T02",
                &[
                    (
                        "207",
                        &[
                            ("total", f.income),
                            ("fiscal", f.gpb),
                            ("superior_subsidy", f.superior),
                            ("business", f.business),
                            ("affiliated_remit", f.affiliated),
                            ("other", f.other),
                        ],
                    ),
                    (
                        "total",
                        &[
                            ("total", f.income),
                            ("fiscal", f.gpb),
                            ("superior_subsidy", f.superior),
                            ("business", f.business),
                            ("affiliated_remit", f.affiliated),
                            ("other", f.other),
                        ],
                    ),
                ],
            ),
            table(
                "T03",
                &[
                    (
                        "207",
                        &[
                            ("total", f.expenditure),
                            ("basic", f.basic),
                            ("project", f.project),
                            ("remit_superior", f.remit),
                            ("subsidy_affiliated", f.subsidy),
                        ],
                    ),
                    (
                        "total",
                        &[
                            ("total", f.expenditure),
                            ("basic", f.basic),
                            ("project", f.project),
                            ("remit_superior", f.remit),
                            ("subsidy_affiliated", f.subsidy),
                        ],
                    ),
                ],
            ),
        ],
        ..Default::default()
    }
}

const ZERO: &str = "0.00";

fn d_figures() -> Figures<'static> {
    Figures {
        gpb: "200.00",
        superior: ZERO,
        business: ZERO,
        affiliated: "5.00",
        other: ZERO,
        income: "205.00",
        basic: "100.00",
        project: "75.00",
        remit: ZERO,
        subsidy: "30.00",
        expenditure: "205.00",
        carry: ZERO,
    }
}

pub(crate) fn u1_figures() -> Figures<'static> {
    Figures {
        gpb: ZERO,
        superior: "20.00",
        business: "80.00",
        affiliated: ZERO,
        other: ZERO,
        income: "100.00",
        basic: "60.00",
        project: "20.00",
        remit: "5.00",
        subsidy: ZERO,
        expenditure: "85.00",
        carry: "15.00",
    }
}

pub(crate) fn u2_figures(superior: &'static str, other: &'static str) -> Figures<'static> {
    Figures {
        gpb: ZERO,
        superior,
        business: ZERO,
        affiliated: ZERO,
        other,
        income: "50.00",
        basic: "50.00",
        project: ZERO,
        remit: ZERO,
        subsidy: ZERO,
        expenditure: "50.00",
        carry: ZERO,
    }
}

fn d2_figures() -> Figures<'static> {
    Figures {
        gpb: ZERO,
        superior: ZERO,
        business: ZERO,
        affiliated: ZERO,
        other: "10.00",
        income: "10.00",
        basic: "10.00",
        project: ZERO,
        remit: ZERO,
        subsidy: ZERO,
        expenditure: "10.00",
        carry: ZERO,
    }
}

pub(crate) fn unit(code: &str, parent: &str, department: bool, region: bool) -> pb::Unit {
    pb::Unit {
        code: code.into(),
        name: format!("单位{code}"),
        valid_from_year: 2024,
        budget_level: pb::BudgetLevel::Prefecture as i32,
        unit_type: if region {
            0
        } else {
            pb::UnitType::PublicInstitutionClass1 as i32
        },
        parent_code: parent.into(),
        fiscal_region_code: "652300".into(),
        is_department: department,
        is_region: region,
        ..Default::default()
    }
}

pub(crate) async fn tree(app: &TestApp) {
    build(
        app,
        vec![
            unit("R", "", false, true),
            unit("D", "R", true, false),
            unit("U1", "D", false, false),
            unit("U2", "D", false, false),
            unit("D2", "R", true, false),
            unit("U3", "D2", false, false),
        ],
        vec![
            ("D", "R", d_figures()),
            ("U1", "D", u1_figures()),
            ("U2", "D", u2_figures("10.00", "40.00")),
            ("D2", "R", d2_figures()),
        ],
    )
    .await;
}

/// Registers the units, then submits each disclosure (it must have no ERROR) and has its parent accept it: only
/// accepted versions count.
async fn build(
    app: &TestApp,
    records: Vec<pb::Unit>,
    submissions: Vec<(&str, &str, Figures<'static>)>,
) {
    let mut units = app.units().await;
    for record in records {
        units
            .register_unit(pb::RegisterUnitRequest { unit: Some(record) })
            .await
            .expect("register");
    }
    for (code, parent, figures) in submissions {
        let submission = app
            .submitter(code)
            .await
            .submit(submit_request(
                &format!("{code}-1"),
                disclosure(code, parent, pb::ReportType::Single, &figures),
            ))
            .await
            .expect("submit")
            .into_inner()
            .submission
            .unwrap();
        let report = submission.report.unwrap();
        assert_eq!(report.error_count, 0, "{code}: {:#?}", report.findings);
        app.accept(parent, code, submission.version).await;
    }
}

pub(crate) async fn consolidated(app: &TestApp, node: &str) -> pb::ConsolidatedReport {
    pb::consolidation_client::ConsolidationClient::new(app.channel().await)
        .get_consolidated(pb::GetConsolidatedRequest {
            node_code: node.into(),
            fiscal_year: 2024,
            ..Default::default()
        })
        .await
        .expect("consolidated")
        .into_inner()
}

pub(crate) fn cell<'t>(
    tables: &'t [pb::Table],
    table: &str,
    row: &str,
    column: &str,
) -> Option<&'t str> {
    tables
        .iter()
        .find(|t| t.code == table)?
        .rows
        .iter()
        .find(|r| r.code == row)?
        .cells
        .iter()
        .find(|c| c.column == column)
        .and_then(|c| c.value.as_ref().map(|v| v.value.as_str()))
}

#[tokio::test]
async fn a_department_adds_its_units_and_eliminates_their_transfers() {
    let app = TestApp::spawn().await;
    tree(&app).await;
    let d = consolidated(&app, "D").await;
    // 205 + 100 + 50, less 20 + 10 received from D and 5 D received from U1.
    assert_eq!(
        cell(&d.tables, "T01", "income_total", "amount"),
        Some("320.00")
    );
    // 205 + 85 + 50, less the 30 D paid its units and the 5 U1 paid up.
    assert_eq!(
        cell(&d.tables, "T01", "expenditure_total", "amount"),
        Some("305.00")
    );
    assert_eq!(cell(&d.tables, "T03", "207", "total"), Some("305.00"));
    assert_eq!(cell(&d.tables, "T02", "207", "total"), Some("320.00"));
    assert_eq!(
        cell(&d.tables, "T01", "income_business", "amount"),
        Some("80.00")
    );
    // Transfers inside the group are gone, not netted silently: they are in the adjustment layer.
    assert_eq!(
        cell(&d.tables, "T01", "income_superior_subsidy", "amount"),
        None
    );
    assert_eq!(cell(&d.tables, "T03", "207", "subsidy_affiliated"), None);
    assert_eq!(
        cell(&d.adjustments, "T01", "income_superior_subsidy", "amount"),
        Some("-30.00")
    );
    assert_eq!(
        cell(&d.adjustments, "T01", "income_total", "amount"),
        Some("-35.00")
    );
    assert_eq!(cell(&d.adjustments, "T03", "207", "total"), Some("-35.00"));
    assert!(
        d.elimination_findings.is_empty(),
        "{:#?}",
        d.elimination_findings
    );
    assert!(!d.partial);
    assert_eq!((d.units_expected, d.units_counted), (3, 3));

    // The region adds both departments; U3 never submitted, so it is partial.
    let r = consolidated(&app, "R").await;
    assert_eq!(
        cell(&r.tables, "T01", "income_total", "amount"),
        Some("330.00")
    );
    assert!(r.partial);
    assert_eq!((r.units_expected, r.units_counted), (5, 4));
}

#[tokio::test]
async fn a_cell_is_explained_down_to_units_and_its_parts_add_up() {
    let app = TestApp::spawn().await;
    tree(&app).await;
    let mut client = pb::consolidation_client::ConsolidationClient::new(app.channel().await);
    let explanation = client
        .explain_cell(pb::ExplainCellRequest {
            node_code: "D".into(),
            fiscal_year: 2024,
            table: "T01".into(),
            row: "income_total".into(),
            column: "amount".into(),
            ..Default::default()
        })
        .await
        .expect("explain")
        .into_inner();
    let parse = |d: &Option<pb::Decimal>| {
        d.as_ref()
            .unwrap()
            .value
            .parse::<rust_decimal::Decimal>()
            .unwrap()
    };
    let children: Vec<(String, String)> = explanation
        .children
        .iter()
        .map(|c| {
            (
                c.unit.as_ref().unwrap().code.clone(),
                c.value.as_ref().unwrap().value.clone(),
            )
        })
        .collect();
    assert_eq!(
        children,
        [
            ("U1".to_owned(), "100.00".to_owned()),
            ("U2".to_owned(), "50.00".to_owned())
        ]
    );
    let eliminations: Vec<(String, String, String)> = explanation
        .eliminations
        .iter()
        .map(|e| {
            (
                e.pair_id.clone(),
                e.unit_code.clone(),
                e.amount.as_ref().unwrap().value.clone(),
            )
        })
        .collect();
    assert_eq!(
        eliminations,
        [
            ("EL-REMIT".to_owned(), "D".to_owned(), "-5.00".to_owned()),
            (
                "EL-SUBSIDY".to_owned(),
                "U1".to_owned(),
                "-20.00".to_owned()
            ),
            (
                "EL-SUBSIDY".to_owned(),
                "U2".to_owned(),
                "-10.00".to_owned()
            ),
        ]
    );
    let sum = parse(&explanation.own)
        + explanation
            .children
            .iter()
            .map(|c| parse(&c.value))
            .sum::<rust_decimal::Decimal>()
        + explanation
            .eliminations
            .iter()
            .map(|e| parse(&e.amount))
            .sum::<rust_decimal::Decimal>();
    assert_eq!(sum, parse(&explanation.value));
    assert_eq!(parse(&explanation.value).to_string(), "320.00");

    // One level up: the region's cell is D's and D2's.
    let up = client
        .explain_cell(pb::ExplainCellRequest {
            node_code: "R".into(),
            fiscal_year: 2024,
            table: "T01".into(),
            row: "income_total".into(),
            column: "amount".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(up.children.iter().all(|c| c.has_children));
    assert_eq!(parse(&up.value).to_string(), "330.00");
}

#[tokio::test]
async fn completeness_lists_exactly_the_missing_units() {
    let app = TestApp::spawn().await;
    tree(&app).await;
    let report = pb::consolidation_client::ConsolidationClient::new(app.channel().await)
        .get_completeness(pb::GetCompletenessRequest {
            node_code: "R".into(),
            fiscal_year: 2024,
        })
        .await
        .unwrap()
        .into_inner();
    let states: HashMap<String, i32> = report
        .units
        .iter()
        .map(|u| (u.unit.as_ref().unwrap().code.clone(), u.progress))
        .collect();
    let missing: Vec<&String> = states
        .iter()
        .filter(|(_, p)| **p == pb::Progress::NeverSubmitted as i32)
        .map(|(code, _)| code)
        .collect();
    assert_eq!(missing, ["U3"]);
    assert_eq!(states["R"], pb::Progress::NotExpected as i32);
    assert_eq!(states["U1"], pb::Progress::Accepted as i32);
    assert_eq!((report.expected, report.counted, report.missing), (5, 4, 1));
    assert_eq!(
        (report.pending, report.returned, report.accepted),
        (0, 0, 4)
    );
    assert!(
        report
            .units
            .iter()
            .filter(|u| u.unit.as_ref().unwrap().code == "U1")
            .all(|u| u.last_change.is_some() && u.counted_version == 1)
    );
}

#[tokio::test]
async fn a_resubmission_updates_the_ancestors_and_a_mismatch_names_both_sides() {
    let app = TestApp::spawn().await;
    tree(&app).await;
    let before = consolidated(&app, "R").await;
    // U2 now says it received 12 from D, which paid 30 in all: 20 + 12 ≠ 30.
    let resubmitted = app
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
    // A version counts once it is accepted: pending review, the region still sees the accepted one.
    let pending = consolidated(&app, "R").await;
    assert_eq!(pending.tables, before.tables);
    assert!(
        !consolidated(&app, "D")
            .await
            .elimination_findings
            .iter()
            .any(|f| f.rule_id == "EL-SUBSIDY")
    );
    app.accept("D", "U2", resubmitted.version).await;
    let d = consolidated(&app, "D").await;
    let finding = d
        .elimination_findings
        .iter()
        .find(|f| f.rule_id == "EL-SUBSIDY")
        .expect("a mismatch finding");
    assert_eq!(
        (
            finding.provided.as_ref().unwrap().value.as_str(),
            finding.expected.as_ref().unwrap().value.as_str()
        ),
        ("30.00", "32.00")
    );
    let units: Vec<&str> = finding.cells.iter().map(|c| c.unit_code.as_str()).collect();
    assert_eq!(units, ["D", "U1", "U2"]);
    assert_eq!(finding.cells[0].column, "subsidy_affiliated");
    // The region sees the change at once: U2's 其他收入 fell by 2. Of the 32 its units say they received, D
    // paid 30: 30 is eliminated from both sides, and the 2 no payment matches stays in the region's 上级补助收入
    // (未抵销差额), so the region's income is unchanged and still balances.
    let after = consolidated(&app, "R").await;
    assert_eq!(
        cell(&before.tables, "T01", "income_total", "amount"),
        Some("330.00")
    );
    assert_eq!(
        cell(&after.tables, "T01", "income_total", "amount"),
        Some("330.00")
    );
    assert_eq!(
        cell(&after.tables, "T01", "income_superior_subsidy", "amount"),
        Some("2.00")
    );
    assert_eq!(
        cell(&after.tables, "T01", "income_grand_total", "amount"),
        cell(&after.tables, "T01", "expenditure_grand_total", "amount")
    );
    let line = after
        .unmatched
        .iter()
        .find(|l| l.pair_id == "EL-SUBSIDY")
        .expect("a 未抵销差额 line");
    assert_eq!(line.payer.as_ref().unwrap().code, "D");
    assert_eq!(line.reason, pb::UnmatchedReason::AmountsDiffer as i32);
    assert_eq!(line.matched.as_ref().unwrap().value, "30.00");
    assert_eq!(line.payees_unmatched.as_ref().unwrap().value, "2.00");
    assert!(
        after
            .findings
            .iter()
            .any(|f| f.rule_id == "CONS-ELIM-001" && f.cells[0].unit_code == "D"),
        "{:?}",
        after.findings
    );
    assert_eq!(
        cell(&before.tables, "T01", "income_other", "amount"),
        Some("50.00")
    );
    assert_eq!(
        cell(&after.tables, "T01", "income_other", "amount"),
        Some("48.00")
    );
    // The consolidation survives a restart (rebuilt from the store).
    let dir = app.stop().await;
    let app = TestApp::spawn_with(dir, juesuan::service::submission::Limits::default()).await;
    let rebuilt = consolidated(&app, "R").await;
    assert_eq!(rebuilt.tables, after.tables);
}

#[tokio::test]
async fn a_reported_consolidation_is_compared_within_rounding() {
    let app = TestApp::spawn().await;
    tree(&app).await;
    let reported = |income: &'static str, business: &'static str, carry: &'static str| Figures {
        gpb: "200.00",
        superior: ZERO,
        business,
        affiliated: ZERO,
        other: "40.00",
        income,
        basic: "210.00",
        project: "95.00",
        remit: ZERO,
        subsidy: ZERO,
        expenditure: "305.00",
        carry,
    };
    let mut client = app.submitter("D").await;
    let mut compare = pb::consolidation_client::ConsolidationClient::new(app.channel().await);
    // Off by one cent in two cells: rounding of the units' figures explains it.
    let close = disclosure(
        "D",
        "R",
        pb::ReportType::Consolidated,
        &reported("320.01", "80.01", "15.00"),
    );
    let stored = client
        .submit(submit_request("D-sum-1", close))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stored.submission.unwrap().report.unwrap().error_count, 0);
    let result = compare
        .compare_reported(pb::CompareReportedRequest {
            node_code: "D".into(),
            fiscal_year: 2024,
        })
        .await
        .unwrap()
        .into_inner();
    let report = result.report.unwrap();
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    assert!(report.checks_evaluated > 10);

    // A whole unit off is not rounding.
    let far = disclosure(
        "D",
        "R",
        pb::ReportType::Consolidated,
        &reported("321.00", "81.00", "16.00"),
    );
    let stored = client
        .submit(submit_request("D-sum-2", far))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        stored.submission.unwrap().report.unwrap().error_count,
        0,
        "the 汇总表 itself balances"
    );
    let result = compare
        .compare_reported(pb::CompareReportedRequest {
            node_code: "D".into(),
            fiscal_year: 2024,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        result.reported_version, 3,
        "D's 单户表 is version 1, its 汇总表s 2 and 3"
    );
    let cells: Vec<String> = result
        .report
        .unwrap()
        .findings
        .iter()
        .map(|f| {
            format!(
                "{}[{}, {}]",
                f.cells[0].table, f.cells[0].row, f.cells[0].column
            )
        })
        .collect();
    assert!(
        cells.contains(&"T01[income_total, amount]".to_owned()),
        "{cells:?}"
    );
    assert!(
        cells.contains(&"T01[income_business, amount]".to_owned()),
        "{cells:?}"
    );
    // D's own 单户表 still counts in consolidation: the 汇总表 is not added to it.
    assert_eq!(
        cell(
            &consolidated(&app, "D").await.tables,
            "T01",
            "income_total",
            "amount"
        ),
        Some("320.00")
    );
}

/// 部门 D → 二级单位 P → 基层单位 U, U's supervising department D: U's transfers (20 received from D, 5 paid up to
/// D) are eliminated where they meet D's side — at D, two levels up — and not at P, whose consolidation keeps them.
/// (P is registered as a department so that it can review U.)
#[tokio::test]
async fn a_transfer_across_two_levels_is_eliminated_at_the_first_common_parent() {
    let app = TestApp::spawn().await;
    let mut u = unit("U", "P", false, false);
    u.supervising_department_code = "D".into();
    build(
        &app,
        vec![
            unit("R", "", false, true),
            unit("D", "R", true, false),
            unit("P", "D", true, false),
            u,
        ],
        vec![
            ("D", "R", d_figures()),
            ("P", "D", u2_figures("10.00", "40.00")),
            ("U", "P", u1_figures()),
        ],
    )
    .await;

    // P holds U, but D's side of U's transfers is not inside P: nothing is eliminated there.
    let p = consolidated(&app, "P").await;
    assert_eq!(
        cell(&p.tables, "T01", "income_superior_subsidy", "amount"),
        Some("30.00")
    );
    assert_eq!(
        cell(&p.tables, "T01", "income_total", "amount"),
        Some("150.00")
    );
    assert_eq!(
        cell(&p.tables, "T03", "207", "remit_superior"),
        Some("5.00")
    );
    assert_eq!(
        cell(&p.adjustments, "T01", "income_superior_subsidy", "amount"),
        None
    );

    // D holds both sides: the same figures as when U is D's own child, and the two sides agree.
    let d = consolidated(&app, "D").await;
    assert_eq!(
        cell(&d.tables, "T01", "income_total", "amount"),
        Some("320.00")
    );
    assert_eq!(
        cell(&d.tables, "T01", "expenditure_total", "amount"),
        Some("305.00")
    );
    assert_eq!(
        cell(&d.tables, "T01", "income_superior_subsidy", "amount"),
        None
    );
    assert!(
        d.elimination_findings.is_empty(),
        "{:#?}",
        d.elimination_findings
    );
    let explanation = pb::consolidation_client::ConsolidationClient::new(app.channel().await)
        .explain_cell(pb::ExplainCellRequest {
            node_code: "D".into(),
            fiscal_year: 2024,
            table: "T01".into(),
            row: "income_superior_subsidy".into(),
            column: "amount".into(),
            ..Default::default()
        })
        .await
        .expect("explain")
        .into_inner();
    let mut eliminated: Vec<(String, String)> = explanation
        .eliminations
        .iter()
        .map(|e| {
            (
                e.unit_code.clone(),
                e.amount.as_ref().unwrap().value.clone(),
            )
        })
        .collect();
    eliminated.sort();
    assert_eq!(
        eliminated,
        [
            ("P".to_owned(), "-10.00".to_owned()),
            ("U".to_owned(), "-20.00".to_owned())
        ]
    );
}

/// A clean stop writes a snapshot of the counted figures; the next start answers from it with the same figures,
/// and a change made after it (here, a new accepted version) is there too once the server has applied it — the
/// snapshot is used only while it is exact.
#[tokio::test]
async fn a_restart_answers_the_same_consolidation_from_the_snapshot_of_the_stop() {
    let app = TestApp::spawn().await;
    tree(&app).await;
    let before = consolidated(&app, "D").await;
    let data_dir = app.stop().await;
    assert!(
        snapshot_bytes(data_dir.path()).await.is_some(),
        "the clean stop wrote a snapshot"
    );

    let app = TestApp::spawn_with(data_dir, juesuan::service::submission::Limits::default()).await;
    let after = consolidated(&app, "D").await;
    assert_eq!(after.tables, before.tables);
    assert_eq!(after.adjustments, before.adjustments);

    // A damaged snapshot is not used: the figures are rebuilt from the store, the same.
    let data_dir = app.stop().await;
    damage_snapshot(data_dir.path()).await;
    let app = TestApp::spawn_with(data_dir, juesuan::service::submission::Limits::default()).await;
    let rebuilt = consolidated(&app, "D").await;
    assert_eq!(rebuilt.tables, before.tables);
    assert_eq!(rebuilt.adjustments, before.adjustments);
}

/// The length of the year's snapshot: a file beside the SQLite database, a row of PostgreSQL's `snapshots`.
async fn snapshot_bytes(dir: &std::path::Path) -> Option<u64> {
    match crate::helpers::backend() {
        crate::helpers::Backend::Sqlite => {
            std::fs::metadata(snapshot_file(dir)).ok().map(|m| m.len())
        }
        crate::helpers::Backend::Postgres => {
            let length = crate::helpers::store_i64(
                dir,
                "SELECT coalesce(max(CAST(length(bytes) AS BIGINT)), -1) FROM snapshots \
                 WHERE name = 'consolidation-2024.snapshot'",
            )
            .await;
            u64::try_from(length).ok()
        }
    }
}

fn snapshot_file(dir: &std::path::Path) -> std::path::PathBuf {
    dir.join("snapshots").join("consolidation-2024.snapshot")
}

/// Flips the bits of the snapshot's middle byte, where it is kept.
async fn damage_snapshot(dir: &std::path::Path) {
    match crate::helpers::backend() {
        crate::helpers::Backend::Sqlite => {
            let path = snapshot_file(dir);
            let mut bytes = std::fs::read(&path).unwrap();
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0xff;
            std::fs::write(&path, bytes).unwrap();
        }
        crate::helpers::Backend::Postgres => {
            let changed = crate::helpers::store_execute(
                dir,
                "UPDATE snapshots SET bytes = set_byte(bytes, length(bytes) / 2, \
                   get_byte(bytes, length(bytes) / 2) # 255) WHERE name = 'consolidation-2024.snapshot'",
            )
            .await;
            assert_eq!(changed, 1);
        }
    }
}

/// `juesuan export --node` writes the region's 汇总表 in the standard layout, the completeness of its subtree
/// and its elimination findings, each on its sheet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_regions_consolidation_is_exported_as_a_workbook() {
    use calamine::Reader;

    let app = TestApp::spawn().await;
    tree(&app).await;
    // U2 says it received 12 where D paid its units 30 in all with U1's 20: 2 stays unmatched.
    let resubmitted = app
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
        .unwrap()
        .into_inner()
        .submission
        .unwrap();
    app.accept("D", "U2", resubmitted.version).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("region.xlsx");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_juesuan"))
        .args(["export", "--node", "R", "--year", "2024", "-o"])
        .arg(&path)
        .env("JUESUAN_SERVER", &app.address)
        .env("JUESUAN_TOKEN", &app.admin_token)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut workbook: calamine::Xlsx<_> = calamine::open_workbook(&path).unwrap();
    let names = workbook.sheet_names();
    for wanted in ["封面", "公开01 收入支出决算总表", "核对问题", "完成情况"] {
        assert!(names.iter().any(|n| n == wanted), "{wanted} in {names:?}");
    }
    // 本年收入合计 of the region: the figure the consolidation tests compute (330.00), read back as an import
    // reads it.
    let taxonomies = juesuan::domain::taxonomy::Taxonomies::built_in().unwrap();
    let back = juesuan::workbook::read(&taxonomies, &std::fs::read(&path).unwrap())
        .unwrap_or_else(|p| panic!("{p:?}"));
    let total = back
        .tables
        .iter()
        .find(|t| t.code == "T01")
        .and_then(|t| t.rows.iter().find(|r| r.code == "income_total"))
        .and_then(|r| r.cells.first())
        .and_then(|c| c.value.clone())
        .map(|v| v.value);
    assert_eq!(total.as_deref(), Some("330.00"));
    let cover = back.cover.unwrap();
    assert_eq!(cover.report_type(), pb::ReportType::Consolidated);
    // The cover says how much of the subtree the 汇总表 counts.
    let cover_sheet = workbook.worksheet_range("封面").unwrap();
    let counted = (0..cover_sheet.height() as u32)
        .find_map(|row| {
            (cover_sheet.get_value((row, 3))? == "计入单位")
                .then(|| cover_sheet.get_value((row, 4)).map(|v| v.to_string()))
                .flatten()
        })
        .expect("a 计入单位 line");
    assert!(counted.contains(" 户（"), "{counted}");
    // Every unit of the subtree has its row: R, D, U1, U2, D2, U3.
    let progress = workbook.worksheet_range("完成情况").unwrap();
    assert_eq!(progress.height(), 1 + 6);
    // The 未抵销差额 is its own sheet of the 调整表: D's line, 2 staying on the payees' side, and each payee.
    let unmatched = workbook.worksheet_range("调整表 未抵销差额").unwrap();
    let d_row = (1..unmatched.height() as u32)
        .find(|&row| {
            unmatched
                .get_value((row, 1))
                .is_some_and(|v| v.to_string().starts_with("D "))
        })
        .expect("D's line");
    assert_eq!(
        unmatched.get_value((d_row, 8)).map(|v| v.to_string()),
        Some("2".to_owned())
    );
    assert!(
        unmatched
            .get_value((d_row + 1, 3))
            .is_some_and(|v| v.to_string().starts_with("U1 "))
    );
    let problems = workbook.worksheet_range("核对问题").unwrap();
    assert!((1..problems.height() as u32).any(|row| {
        problems
            .get_value((row, 0))
            .is_some_and(|v| *v == "CONS-ELIM-001")
    }));
}

/// SIGKILL costs a replay, not a rebuild, and loses no figure: the running server checkpoints its consolidation
/// state (here as soon as the tree's nine changes are applied); a version accepted after the checkpoint is
/// replayed at the next start, whose consolidated tables equal those before the kill and those of a rebuild from
/// every stored version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_restarts_from_the_checkpoint_and_replays_only_what_came_after() {
    use std::time::Duration;

    use crate::helpers::{Backend, BinaryServer, backend, store_execute};

    let data_dir = tempfile::tempdir().unwrap();
    let flags = ["--checkpoint-every", "3600", "--checkpoint-after", "9"];
    let mut served = BinaryServer::start_with(data_dir.path(), &flags).await;
    let admin_token = std::fs::read_to_string(
        data_dir
            .path()
            .join(juesuan::domain::tokens::ADMIN_TOKEN_FILE),
    )
    .unwrap();
    let admin = served.as_token(admin_token.trim()).await;
    let mut units = pb::unit_registry_client::UnitRegistryClient::new(admin.clone());
    for record in [
        unit("R", "", false, true),
        unit("D", "R", true, false),
        unit("U1", "D", false, false),
        unit("U2", "D", false, false),
        unit("D2", "R", true, false),
        unit("U3", "D2", false, false),
    ] {
        units
            .register_unit(pb::RegisterUnitRequest { unit: Some(record) })
            .await
            .expect("register");
    }
    let submit_and_accept = async |served: &BinaryServer, code: &str, parent: &str, figures| {
        let token = |unit: &str, role: pb::Role| {
            let admin = admin.clone();
            let unit = unit.to_owned();
            async move {
                pb::tokens_client::TokensClient::new(admin)
                    .issue_token(pb::IssueTokenRequest {
                        principal: Some(pb::Principal {
                            kind: Some(pb::principal::Kind::Unit(pb::UnitPrincipal {
                                unit_code: unit,
                                role: role as i32,
                            })),
                        }),
                        ..Default::default()
                    })
                    .await
                    .expect("a token")
                    .into_inner()
                    .secret
            }
        };
        let submitter = served
            .as_token(&token(code, pb::Role::Submitter).await)
            .await;
        let submission = pb::submissions_client::SubmissionsClient::new(submitter)
            .submit(submit_request(
                &format!("{code}-1"),
                disclosure(code, parent, pb::ReportType::Single, &figures),
            ))
            .await
            .expect("submit")
            .into_inner()
            .submission
            .unwrap();
        assert_eq!(submission.report.unwrap().error_count, 0, "{code}");
        let reviewer = served
            .as_token(&token(parent, pb::Role::Reviewer).await)
            .await;
        pb::review_client::ReviewClient::new(reviewer)
            .accept(pb::AcceptRequest {
                unit_code: code.into(),
                fiscal_year: 2024,
                version: submission.version,
                comment: String::new(),
            })
            .await
            .expect("accept");
    };
    let region = async |served: &BinaryServer| {
        let admin = served.as_token(admin_token.trim()).await;
        pb::consolidation_client::ConsolidationClient::new(admin)
            .get_consolidated(pb::GetConsolidatedRequest {
                node_code: "R".into(),
                fiscal_year: 2024,
                ..Default::default()
            })
            .await
            .expect("consolidated")
            .into_inner()
    };
    submit_and_accept(&served, "U1", "D", u1_figures()).await;
    submit_and_accept(&served, "U2", "D", u2_figures("10.00", "40.00")).await;
    submit_and_accept(&served, "D", "R", d_figures()).await;
    // Every built year is checkpointed (2025's tree changed with the registrations too); 2024's is the one read.
    let of_2024 = |log: &serde_json::Value| log["year"] == "2024";
    served
        .wait_for_log_where(
            "consolidation checkpoint written",
            of_2024,
            Duration::from_secs(60),
        )
        .await;
    // After the checkpoint: D2's version is accepted, and only the store and the running state know it.
    submit_and_accept(&served, "D2", "R", d2_figures()).await;
    let before = region(&served).await;
    assert_eq!(before.units_counted, 4);
    served.kill();

    let served = BinaryServer::start_with(data_dir.path(), &flags).await;
    let replayed = served
        .wait_for_log_where(
            "consolidation checkpoint loaded; the versions counted since replayed",
            of_2024,
            Duration::from_secs(60),
        )
        .await;
    assert_eq!(replayed["units"], 1, "{replayed}");
    let after = region(&served).await;
    assert_eq!(after.units_counted, 4);
    assert_eq!(after.tables, before.tables);
    assert_eq!(after.adjustments, before.adjustments);
    drop(served);

    // Without any checkpoint, the state is rebuilt from every stored version: the same figures.
    match backend() {
        Backend::Sqlite => std::fs::remove_dir_all(data_dir.path().join("snapshots")).unwrap(),
        Backend::Postgres => {
            store_execute(data_dir.path(), "DELETE FROM snapshots").await;
        }
    }
    let served = BinaryServer::start_with(data_dir.path(), &flags).await;
    served
        .wait_for_log(
            "no usable consolidation checkpoint; rebuilding from every counted version",
            Duration::from_secs(60),
        )
        .await;
    let rebuilt = region(&served).await;
    assert_eq!(rebuilt.tables, before.tables);
    assert_eq!(rebuilt.adjustments, before.adjustments);
}
