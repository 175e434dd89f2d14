//! Property: a disclosure whose figures satisfy every identity exactly, then rounded to 万元 with two decimals as
//! published, gets no ERROR and no recomputed-score finding — rounding alone is never an error.

use std::collections::BTreeMap;

use proptest::prelude::*;

use crate::domain::{
    disclosure::{
        CellDraft, Completeness, DisclosureDraft, NarrativeSection, RowDraft, TableDraft,
        test_support,
    },
    evaluation::{Evaluation, FundsRow, FundsSource, Indicator, Measure, ScoringRule},
    money::Value,
    rules::Context,
    taxonomy::test_support as taxonomies,
    validation::{Severity, validate},
};

/// 项 codes drawn on: several under the same 类 and 款, so that sums of many rounded parts are exercised.
const ITEMS: [&str; 12] = [
    "2013404", "2070111", "2070604", "2070605", "2070699", "2070808", "2079999", "2080501",
    "2080505", "2101101", "2210201", "2299999",
];
const ECONOMIC: [&str; 6] = ["30101", "30102", "30107", "30201", "30216", "30302"];

/// Figures of one 项, in fen (0.01 元).
#[derive(Debug, Clone)]
struct Item {
    code: &'static str,
    gpb_basic: i64,
    gpb_project: i64,
    other_basic: i64,
    other_project: i64,
    remit: i64,
    operating_exp: i64,
    subsidy: i64,
    fiscal_surplus: i64,
    superior: i64,
    business: i64,
    operating_inc: i64,
    affiliated: i64,
    other_inc: i64,
}

fn fen() -> impl Strategy<Value = i64> {
    // Up to 3,000 万元 per figure, with zeros common, as in real tables.
    prop_oneof![Just(0i64), 0i64..300_000_000_000i64 / 100]
}

fn item() -> impl Strategy<Value = Item> {
    (
        (fen(), fen(), fen(), fen(), fen(), fen(), fen()),
        (fen(), fen(), fen(), fen(), fen(), fen()),
    )
        .prop_map(|(a, b)| Item {
            code: "",
            gpb_basic: a.0,
            gpb_project: a.1,
            other_basic: a.2,
            other_project: a.3,
            remit: a.4,
            operating_exp: a.5,
            subsidy: a.6,
            fiscal_surplus: b.0,
            superior: b.1,
            business: b.2,
            operating_inc: b.3,
            affiliated: b.4,
            other_inc: b.5,
        })
}

/// fen → 万元 with two decimals, rounded half away from zero, as a disclosed figure.
fn wan(fen: i64) -> String {
    // 0.01 万元 = 100 元 = 10,000 fen.
    let hundredths = (fen.abs() + 5_000) / 10_000 * fen.signum();
    format!(
        "{}{}.{:02}",
        if hundredths < 0 { "-" } else { "" },
        hundredths.abs() / 100,
        hundredths.abs() % 100
    )
}

#[derive(Default)]
struct Table {
    rows: BTreeMap<String, BTreeMap<&'static str, i64>>,
}

impl Table {
    fn add(&mut self, row: &str, column: &'static str, fen: i64) {
        *self
            .rows
            .entry(row.to_owned())
            .or_default()
            .entry(column)
            .or_default() += fen;
    }

    /// Adds to a 项 row and to its 款, its 类 and the total line.
    fn add_coded(&mut self, code: &str, column: &'static str, fen: i64) {
        for row in [&code[..3], &code[..5], code, "total"] {
            self.add(row, column, fen);
        }
    }

    fn draft(&self, code: &str) -> TableDraft {
        TableDraft {
            code: code.to_owned(),
            completeness: Completeness::Complete,
            declared_empty: false,
            rows: self
                .rows
                .iter()
                .map(|(row, cells)| RowDraft {
                    code: row.clone(),
                    label: String::new(),
                    cells: cells
                        .iter()
                        .map(|(column, fen)| CellDraft {
                            column: (*column).to_owned(),
                            value: wan(*fen).parse().unwrap(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

fn value(text: &str) -> Option<Value> {
    Some(text.parse().unwrap())
}

/// A percentage or score, exact as a fraction, rounded to two decimals.
fn two_decimals(numerator: i128, denominator: i128) -> String {
    let hundredths = (2 * numerator * 100 + denominator) / (2 * denominator);
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

/// `three_public`: the four "三公" items in per mille of the general-budget basic expenditure they are paid from.
fn disclosure(
    items: &[Item],
    split: &[u8; 6],
    carry: i64,
    three_public: (u8, u8, u8, u8),
) -> DisclosureDraft {
    let (mut t01, mut t02, mut t03, mut t04, mut t05, mut t06, mut t09) = (
        Table::default(),
        Table::default(),
        Table::default(),
        Table::default(),
        Table::default(),
        Table::default(),
        Table::default(),
    );
    let mut gpb_expenditure = 0;
    let mut gpb_basic_total = 0;
    for item in items {
        let c = item.code;
        t05.add_coded(c, "total", item.gpb_basic + item.gpb_project);
        t05.add_coded(c, "basic", item.gpb_basic);
        t05.add_coded(c, "project", item.gpb_project);
        let basic = item.gpb_basic + item.other_basic;
        let project = item.gpb_project + item.other_project;
        t03.add_coded(
            c,
            "total",
            basic + project + item.remit + item.operating_exp + item.subsidy,
        );
        t03.add_coded(c, "basic", basic);
        t03.add_coded(c, "project", project);
        t03.add_coded(c, "remit_superior", item.remit);
        t03.add_coded(c, "operating", item.operating_exp);
        t03.add_coded(c, "subsidy_affiliated", item.subsidy);
        let fiscal = item.gpb_basic + item.gpb_project + item.fiscal_surplus;
        let income = fiscal
            + item.superior
            + item.business
            + item.operating_inc
            + item.affiliated
            + item.other_inc;
        t02.add_coded(c, "total", income);
        t02.add_coded(c, "fiscal", fiscal);
        t02.add_coded(c, "superior_subsidy", item.superior);
        t02.add_coded(c, "business", item.business);
        t02.add_coded(c, "operating", item.operating_inc);
        t02.add_coded(c, "affiliated_remit", item.affiliated);
        t02.add_coded(c, "other", item.other_inc);
        t01.add(
            &c[..3],
            "amount",
            basic + project + item.remit + item.operating_exp + item.subsidy,
        );
        gpb_expenditure += item.gpb_basic + item.gpb_project;
        gpb_basic_total += item.gpb_basic;
    }
    let income = |column| t02.rows["total"][column];
    for (line, column) in [
        ("income_gpb", "fiscal"),
        ("income_superior_subsidy", "superior_subsidy"),
        ("income_business", "business"),
        ("income_operating", "operating"),
        ("income_affiliated_remit", "affiliated_remit"),
        ("income_other", "other"),
        ("income_total", "total"),
    ] {
        t01.add(line, "amount", income(column));
    }
    let expenditure = t03.rows["total"]["total"];
    // Enough carried in that nothing carried out is negative.
    let carryover_begin = carry + (expenditure - income("total")).max(0);
    let grand = income("total") + carryover_begin;
    let surplus = carry / 3;
    for (line, fen) in [
        ("nonfiscal_balance_used", 0),
        ("carryover_begin", carryover_begin),
        ("income_grand_total", grand),
        ("expenditure_total", expenditure),
        ("surplus_distribution", surplus),
        ("carryover_end", grand - expenditure - surplus),
        ("expenditure_grand_total", grand),
    ] {
        t01.add(line, "amount", fen);
    }
    let fiscal_income = income("fiscal");
    for row in ["gpb", "total"] {
        t04.add(row, "carryover_begin", carry);
        t04.add(row, "income", fiscal_income);
        t04.add(row, "expenditure", gpb_expenditure);
        t04.add(
            row,
            "carryover_end",
            carry + fiscal_income - gpb_expenditure,
        );
    }
    // Basic expenditure by economic class, split in the given proportions.
    let weights: i64 = split.iter().map(|w| i64::from(*w) + 1).sum();
    let mut left = gpb_basic_total;
    for (i, code) in ECONOMIC.iter().enumerate() {
        let part = if i == ECONOMIC.len() - 1 {
            left
        } else {
            gpb_basic_total * (i64::from(split[i]) + 1) / weights
        };
        left -= part;
        for row in [&code[..3], code, "total"] {
            t06.add(row, "amount", part);
        }
        t06.add(
            if code.starts_with("302") {
                "public"
            } else {
                "personnel"
            },
            "amount",
            part,
        );
    }
    let per_mille = |p: u8| gpb_basic_total * i64::from(p) / 1000;
    let (abroad, purchase, operation, reception) = (
        per_mille(three_public.0),
        per_mille(three_public.1),
        per_mille(three_public.2),
        per_mille(three_public.3),
    );
    for (row, fen) in [
        ("abroad", abroad),
        ("vehicle_purchase", purchase),
        ("vehicle_operation", operation),
        ("reception", reception),
    ] {
        t09.add(row, "final", fen);
        t09.add(row, "budget", fen * 2);
    }
    for column in ["final", "budget"] {
        let factor = if column == "final" { 1 } else { 2 };
        t09.add("vehicles", column, (purchase + operation) * factor);
        t09.add(
            "total",
            column,
            (abroad + purchase + operation + reception) * factor,
        );
    }
    // A narrative that states table 1's income and the share of fiscal appropriations, rounded as published.
    let total = income("total");
    let text = if total > 0 {
        format!(
            "本年收入{}万元，其中：财政拨款收入{}万元，占{}%。",
            wan(total),
            wan(fiscal_income),
            two_decimals(i128::from(fiscal_income) * 100, i128::from(total))
        )
    } else {
        String::new()
    };
    let mut draft = test_support::draft(
        2024,
        vec![
            t01.draft("T01"),
            t02.draft("T02"),
            t03.draft("T03"),
            t04.draft("T04"),
            t05.draft("T05"),
            t06.draft("T06"),
            t09.draft("T09"),
        ],
    );
    draft.narrative.push(NarrativeSection {
        key: "income".into(),
        title: String::new(),
        text,
    });
    draft
}

/// One project evaluation, scored exactly under the shipped policy and then rounded to two decimals: execution
/// score (rate − 60%) ÷ 40% × 10, and three "≥" indicators of weight 30 scored 30 × min(actual, target) ÷ target,
/// their completion stated min(actual, target) ÷ target (a target exceeded counts as 100%).
fn project(budget: i64, executed_per_mille: u16, targets: [(u16, u16); 3]) -> Evaluation {
    let executed = budget * i64::from(executed_per_mille) / 1000;
    let (e, b) = (i128::from(executed), i128::from(budget));
    // 10 × (e/b − 0.6) / 0.4 = (25e − 15b) / b, between 0 and 10.
    let execution_score = (25 * e - 15 * b).clamp(0, 10 * b);
    let ts: Vec<i128> = targets.iter().map(|(t, _)| i128::from(*t)).collect();
    let indicators = targets
        .iter()
        .enumerate()
        .map(|(i, (target, actual))| {
            let (t, a) = (i128::from(*target), i128::from(*actual));
            Indicator {
                level1: "产出指标".into(),
                level2: "数量指标".into(),
                name: format!("指标{}", i + 1),
                weight: value("30"),
                target: Some(Measure::parse(&format!(">={t}件"))),
                actual: Some(Measure::parse(&format!("={a}件"))),
                // The shipped policy counts a target exceeded as 100% completed.
                completion_rate: Some(two_decimals(a.min(t) * 100, t).parse().unwrap()),
                score: Some(two_decimals(30 * a.min(t), t).parse().unwrap()),
                scoring_rule: Some(ScoringRule::Proportional),
                deviation_reason: String::new(),
            }
        })
        .collect();
    // The exact total over the common denominator b·t1·t2·t3.
    let denominator = b * ts.iter().product::<i128>();
    let mut numerator = execution_score * ts.iter().product::<i128>();
    for (i, (_, actual)) in targets.iter().enumerate() {
        let others: i128 = ts
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, t)| *t)
            .product();
        numerator += 30 * i128::from(*actual).min(ts[i]) * others * b;
    }
    let total_row = |weight: Option<Value>, rate: Option<Value>, score: Option<Value>| FundsRow {
        source: FundsSource::Total,
        label: "年度资金总额".into(),
        initial_budget: value(&wan(budget)),
        full_year_budget: value(&wan(budget)),
        executed: value(&wan(executed)),
        weight,
        execution_rate: rate,
        score,
    };
    Evaluation {
        project: Some("性质测试项目".into()),
        goal_expected: String::new(),
        goal_actual: String::new(),
        funds: vec![
            total_row(
                value("10"),
                Some(two_decimals(e * 100, b).parse().unwrap()),
                Some(two_decimals(execution_score, b).parse().unwrap()),
            ),
            FundsRow {
                source: FundsSource::CurrentAppropriation,
                label: "当年财政拨款".into(),
                ..total_row(None, None, None)
            },
        ],
        indicators,
        total_weight: value("100"),
        total_score: Some(two_decimals(numerator, denominator).parse().unwrap()),
    }
}

proptest! {
    // 48 cases in every test run; PROPTEST_CASES=N for a longer search.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(48),
        ..ProptestConfig::default()
    })]

    #[test]
    fn rounding_alone_is_never_an_error(
        items in proptest::collection::vec(item(), 1..8),
        picks in proptest::sample::subsequence(ITEMS.to_vec(), 1..8),
        split in any::<[u8; 6]>(),
        carry in 0i64..50_000_000_000,
        three_public in (0u8..50, 0u8..50, 0u8..50, 0u8..50),
        budget in 1_000_000i64..500_000_000_000,
        executed_per_mille in 500u16..=1000,
        targets in [(1u16..500, 0u16..600), (1u16..500, 0u16..600), (1u16..500, 0u16..600)],
    ) {
        let items: Vec<Item> = picks.iter().zip(items).map(|(code, item)| Item { code, ..item }).collect();
        let mut draft = disclosure(&items, &split, carry, three_public);
        draft.project_evaluations.push(project(budget, executed_per_mille, targets));
        let taxonomy = taxonomies::year(2024);
        let resolved = draft.resolve(&taxonomy).expect("a generated disclosure resolves");
        let report = validate(&taxonomy, &resolved, Context::default());
        let rounding_failures: Vec<String> = report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error || f.rule_id.starts_with("EV-S") || f.rule_id.starts_with("EV-C") || f.rule_id == "EV-X-003")
            .map(|f| format!("{} {} (provided {:?}, expected {:?})", f.rule_id, f.message, f.provided, f.expected))
            .collect();
        prop_assert!(rounding_failures.is_empty(), "{:#?}", rounding_failures);
        prop_assert!(report.checks_evaluated > 50, "only {} checks ran", report.checks_evaluated);
    }
}
