//! The reference disclosure (昌吉州融媒体中心, 2024): what it does and does not get flagged for, and what one
//! changed cell makes fire.

use std::{collections::BTreeSet, path::Path};

use juesuan::{
    api::convert,
    domain::{
        rules::Context,
        submission::validate_offline,
        validation::{Report, Severity},
    },
    pb,
};

use crate::support as test_support;

fn reference() -> pb::Disclosure {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reference-2024.json");
    juesuan::cli::json::from_json("Disclosure", &std::fs::read_to_string(path).unwrap()).unwrap()
}

fn validate(disclosure: &pb::Disclosure) -> Report {
    let taxonomies = test_support::shipped();
    let draft = convert::disclosure_draft(disclosure.clone()).unwrap();
    validate_offline(&taxonomies, draft).unwrap().2
}

#[test]
fn the_reference_has_no_error_from_rounding_only() {
    let report = validate(&reference());
    let errors: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.rule_id.as_str())
        .collect();
    // 74.56 in the 国密 project's 分值 column (two rules), and 7,974.18 in the unit evaluation's text where its
    // table says 7,973.18. Nothing else: 8,190.84 against 8,190.83, 8,597.83 against 8,597.84 and 7,973.18 against
    // 7,973.19 are rounding.
    assert_eq!(errors, ["EV-W-001", "EV-X-002", "NAR-AMOUNT"]);
    let nar = report
        .findings
        .iter()
        .find(|f| f.rule_id == "NAR-AMOUNT")
        .unwrap();
    assert_eq!(nar.provided.unwrap().to_string(), "7974.18");
    assert_eq!(nar.expected.unwrap().to_string(), "7973.18");
    assert!(
        report.checks_evaluated > 1500,
        "{}",
        report.checks_evaluated
    );
}

/// Rule ids and keys of findings in `after` that are not in `before`.
fn new_findings<'r>(
    before: &Report,
    after: &'r Report,
) -> Vec<&'r juesuan::domain::validation::Finding> {
    let old: BTreeSet<(&str, &str, Option<String>)> = before
        .findings
        .iter()
        .map(|f| {
            (
                f.rule_id.as_str(),
                f.key.as_str(),
                f.provided.map(|p| p.to_string()),
            )
        })
        .collect();
    after
        .findings
        .iter()
        .filter(|f| {
            !old.contains(&(
                f.rule_id.as_str(),
                f.key.as_str(),
                f.provided.map(|p| p.to_string()),
            ))
        })
        .collect()
}

#[test]
fn one_changed_cell_fires_exactly_the_rules_that_read_it() {
    let base = validate(&reference());
    type Mutation = (
        &'static str,
        fn(&mut pb::Disclosure),
        &'static str,
        &'static [&'static str],
    );
    let mutations: [Mutation; 6] = [
        (
            "事业收入 892.66 → 893.66",
            |d| test_support::set_cell(d, "T01", "income_business", "amount", "893.66"),
            "T01[income_business, amount]",
            // Table 1's income identity, table 2's tie, and the narrative's figure and share.
            &["NAR-AMOUNT", "NAR-SHARE", "T01-BAL-001", "X-009"],
        ),
        (
            "出版发行 6,588.51 → 6,598.51",
            |d| test_support::set_cell(d, "T05", "2070605", "total", "6598.51"),
            "T05[2070605, total]",
            // 207 against its 项, the narrative's figure, and its stated change against its stated rate.
            &["HIER-T05", "NAR-AMOUNT", "NAR-CHANGE"],
        ),
        (
            "在职人员 170 → 171",
            |d| d.staffing.as_mut().unwrap().in_service = Some(171),
            "STAFF[in_service, count]",
            &["NAR-AMOUNT", "S-STAFF-001"],
        ),
        (
            "政府采购货物支出 785.78 → 786.78",
            |d| {
                d.procurement.as_mut().unwrap().goods = Some(pb::Decimal {
                    value: "786.78".into(),
                })
            },
            "PROC[goods, amount]",
            &["NAR-AMOUNT", "S-PROC-001"],
        ),
        (
            "项目1 访贫问苦成本 score 9.95 → 9.50",
            |d| {
                d.project_evaluations[0].indicators[4].score = Some(pb::Decimal {
                    value: "9.50".into(),
                })
            },
            "PROJ[indicator.5, score]",
            // The project's total no longer adds up, and the policy expects 9.95.
            &["EV-S-001", "EV-S-002"],
        ),
        (
            "人员经费 3,691.49 → 3,701.49",
            |d| test_support::set_cell(d, "T06", "personnel", "amount", "3701.49"),
            "T06[personnel, amount]",
            &["NAR-AMOUNT", "T06-TOT-001"],
        ),
    ];
    for (what, mutate, cell, expected) in mutations {
        let mut disclosure = reference();
        mutate(&mut disclosure);
        let after = validate(&disclosure);
        let fired = new_findings(&base, &after);
        let ids: BTreeSet<&str> = fired.iter().map(|f| f.rule_id.as_str()).collect();
        assert_eq!(
            ids,
            expected.iter().copied().collect(),
            "{what}: {fired:#?}"
        );
        for finding in &fired {
            assert!(
                finding.cells.iter().any(|c| c.to_string() == cell),
                "{what}: {} does not name {cell}: {:?}",
                finding.rule_id,
                finding.cells
            );
        }
    }
}

#[test]
fn without_a_store_there_is_no_year_over_year_guess() {
    // Offline validation has no last year: the year-over-year rules and the narrative's YoY check stay silent
    // rather than compare with zero.
    let report = validate(&reference());
    assert!(
        !report
            .findings
            .iter()
            .any(|f| f.rule_id.starts_with("Y-") || f.rule_id == "NAR-YOY")
    );
    let with_nothing = Context::default();
    assert!(with_nothing.last_year.is_none() && with_nothing.budget.is_none());
}
