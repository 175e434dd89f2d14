//! Every rule with an example where it holds and one where it fires, naming its cells — as data beside the
//! rules (`taxonomy/<year>/examples.toml`), so that whoever changes a rule changes its examples in the same
//! review. This test runs them, and fails when a rule of a year has no example.
//!
//! An example sets figures on a base — "empty" (a cover only; a table given a cell becomes a complete table)
//! or "reference" (the reference disclosure) — with addresses:
//! `T01[income_total]`, `T05[207, total]` (table cells); `LAST.T01[carryover_end]` (last year's accepted
//! figures); `BUDGET.T05[total, total]` (budget figures); `UNIT.FUNDS[total, executed]`,
//! `PROJ3.FUNDS[total, weight]`, `PROJ3.SUMMARY[score]`, `PROJ3.IND[2].score` (evaluations; `.target`/`.actual`
//! take a measure as printed, `.rule` a scoring rule, `.name`/`.level1`/`.deviation` text), `PROJ3.goal_expected`
//! and `PROJ3.goal_actual` (the goal texts); `NARRATIVE[income]` (a section's text);
//! `cover.unit_type` (a unit type code).

use std::{collections::BTreeMap, path::Path};

use serde::Deserialize;

use juesuan::{
    api::convert,
    domain::{
        budget::BudgetFigures,
        disclosure::{Completeness, Disclosure, NarrativeSection, RowData, TableData},
        evaluation::{Evaluation, FundsRow, FundsSource, Indicator, Measure, ScoringRule},
        money::Value,
        rules::Context,
        taxonomy::Taxonomy,
        unit::UnitType,
    },
    pb,
};

use crate::support::{self as taxonomies, empty_draft};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExamplesFile {
    example: Vec<Example>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Example {
    rule: String,
    #[serde(default = "empty_base")]
    base: String,
    /// What the example shows, when a rule has several (the narrative checks' wording corpus).
    #[serde(default)]
    variant: String,
    holds: BTreeMap<String, String>,
    fires: BTreeMap<String, String>,
    /// A case the rule must not read as a claim at all (wording it cannot be sure of, another line's name): no
    /// finding of the rule, whatever the figures.
    #[serde(default)]
    silent: BTreeMap<String, String>,
    /// Cells the finding names: "T01[income_total, amount]", "PROJ[funds.total, weight]",
    /// "NARRATIVE[income, 本年收入]".
    names: Vec<String>,
    /// Tables to make partial rather than complete.
    #[serde(default)]
    partial: Vec<String>,
}

fn empty_base() -> String {
    "empty".to_owned()
}

struct Case {
    disclosure: Disclosure,
    last_year: Option<Disclosure>,
    budget: Option<BudgetFigures>,
}

fn reference(taxonomy: &Taxonomy) -> Disclosure {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reference-2024.json");
    let text = std::fs::read_to_string(path).unwrap();
    let mut wire: pb::Disclosure = juesuan::cli::json::from_json("Disclosure", &text).unwrap();
    wire.cover.as_mut().unwrap().fiscal_year = taxonomy.fiscal_year.get();
    convert::disclosure_draft(wire)
        .unwrap()
        .resolve(taxonomy)
        .unwrap()
}

fn empty(taxonomy: &Taxonomy) -> Disclosure {
    empty_draft(taxonomy)
}

/// "T05[207, total]" → ("T05", "207", Some("total")); "T01[income_total]" → ("T01", "income_total", None).
fn cell_address(address: &str) -> (&str, &str, Option<&str>) {
    let (table, rest) = address
        .split_once('[')
        .unwrap_or_else(|| panic!("bad address {address}"));
    let inside = rest
        .strip_suffix(']')
        .unwrap_or_else(|| panic!("bad address {address}"));
    match inside.split_once(',') {
        Some((row, column)) => (table, row.trim(), Some(column.trim())),
        None => (table, inside.trim(), None),
    }
}

fn set_cell(
    taxonomy: &Taxonomy,
    disclosure: &mut Disclosure,
    address: &str,
    value: &str,
    partial: &[String],
) {
    let (table, row, column) = cell_address(address);
    let index = taxonomy
        .table_index(table)
        .unwrap_or_else(|| panic!("no table {table}"));
    let def = &taxonomy.tables[index];
    let column = match column {
        Some(code) => def
            .column_index(code)
            .unwrap_or_else(|| panic!("no column {code} in {table}")),
        None => 0,
    };
    assert!(
        taxonomy.check_row_code(def, row).is_ok(),
        "no row {row} in {table}"
    );
    let completeness = if def.section.is_some() || partial.iter().any(|p| p == table) {
        Completeness::Partial
    } else {
        Completeness::Complete
    };
    let data = disclosure.tables[index].get_or_insert_with(|| TableData {
        completeness,
        declared_empty: false,
        rows: BTreeMap::new(),
    });
    data.rows
        .entry(row.to_owned())
        .or_insert_with(|| RowData {
            label: String::new(),
            cells: vec![None; def.columns.len()],
        })
        .cells[column] = Some(
        value
            .parse()
            .unwrap_or_else(|e| panic!("{address} = {value}: {e}")),
    );
}

fn evaluation<'d>(disclosure: &'d mut Disclosure, scope: &str) -> &'d mut Evaluation {
    let blank = |project: Option<String>| Evaluation {
        project,
        goal_expected: String::new(),
        goal_actual: String::new(),
        funds: Vec::new(),
        indicators: Vec::new(),
        total_weight: None,
        total_score: None,
    };
    if scope == "UNIT" {
        return disclosure
            .unit_evaluation
            .get_or_insert_with(|| blank(None));
    }
    let n: usize = scope
        .strip_prefix("PROJ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("bad scope {scope}"));
    while disclosure.project_evaluations.len() < n {
        let name = format!("项目{}", disclosure.project_evaluations.len() + 1);
        disclosure.project_evaluations.push(blank(Some(name)));
    }
    &mut disclosure.project_evaluations[n - 1]
}

fn set_evaluation(disclosure: &mut Disclosure, scope: &str, path: &str, value: &str) {
    let evaluation = evaluation(disclosure, scope);
    let number = || {
        value
            .parse::<Value>()
            .unwrap_or_else(|e| panic!("{scope}.{path} = {value}: {e}"))
    };
    if let Some(address) = path.strip_prefix("FUNDS") {
        let address = format!("F{address}");
        let (_, row, column) = cell_address(&address);
        let source = FundsSource::from_code(row).unwrap_or_else(|| panic!("no funds row {row}"));
        let position = evaluation
            .funds
            .iter()
            .position(|r| r.source == source)
            .unwrap_or_else(|| {
                evaluation.funds.push(FundsRow {
                    source,
                    label: row.to_owned(),
                    initial_budget: None,
                    full_year_budget: None,
                    executed: None,
                    weight: None,
                    execution_rate: None,
                    score: None,
                });
                evaluation.funds.len() - 1
            });
        let funds = &mut evaluation.funds[position];
        let slot = match column.expect("FUNDS[row, column]") {
            "initial_budget" => &mut funds.initial_budget,
            "full_year_budget" => &mut funds.full_year_budget,
            "executed" => &mut funds.executed,
            "weight" => &mut funds.weight,
            "execution_rate" => &mut funds.execution_rate,
            "score" => &mut funds.score,
            other => panic!("no funds column {other}"),
        };
        *slot = Some(number());
    } else if let Some(column) = path
        .strip_prefix("SUMMARY[")
        .and_then(|c| c.strip_suffix(']'))
    {
        match column {
            "weight" => evaluation.total_weight = Some(number()),
            "score" => evaluation.total_score = Some(number()),
            other => panic!("no summary column {other}"),
        }
    } else if let Some(rest) = path.strip_prefix("IND[") {
        let (index, field) = rest
            .split_once("].")
            .unwrap_or_else(|| panic!("bad indicator path {path}"));
        let index: usize = index.parse().unwrap();
        while evaluation.indicators.len() < index {
            let name = format!("指标{}", evaluation.indicators.len() + 1);
            evaluation.indicators.push(Indicator {
                level1: "产出指标".into(),
                level2: "数量指标".into(),
                name,
                weight: None,
                target: None,
                actual: None,
                completion_rate: None,
                score: None,
                scoring_rule: None,
                deviation_reason: String::new(),
            });
        }
        let indicator = &mut evaluation.indicators[index - 1];
        match field {
            "weight" => indicator.weight = Some(number()),
            "completion_rate" => indicator.completion_rate = Some(number()),
            "score" => indicator.score = Some(number()),
            "name" => indicator.name = value.to_owned(),
            "level1" => indicator.level1 = value.to_owned(),
            "deviation" => indicator.deviation_reason = value.to_owned(),
            "target" => indicator.target = Some(Measure::parse(value)),
            "actual" => indicator.actual = Some(Measure::parse(value)),
            "rule" => {
                indicator.scoring_rule = Some(match value {
                    "proportional" => ScoringRule::Proportional,
                    "graded" => ScoringRule::Graded,
                    "direct" => ScoringRule::Direct,
                    "satisfaction" => ScoringRule::Satisfaction,
                    other => panic!("no scoring rule {other}"),
                })
            }
            other => panic!("no indicator field {other}"),
        }
    } else if path == "goal_actual" {
        evaluation.goal_actual = value.to_owned();
    } else if path == "goal_expected" {
        evaluation.goal_expected = value.to_owned();
    } else {
        panic!("bad evaluation path {scope}.{path}");
    }
}

fn build(taxonomy: &Taxonomy, example: &Example, assignments: &BTreeMap<String, String>) -> Case {
    let mut disclosure = match example.base.as_str() {
        "empty" => empty(taxonomy),
        "reference" => reference(taxonomy),
        other => panic!("unknown base {other}"),
    };
    let mut last_year: Option<Disclosure> = None;
    let mut budget: Option<BudgetFigures> = None;
    for (address, value) in assignments {
        if let Some(cell) = address.strip_prefix("LAST.") {
            let last = last_year.get_or_insert_with(|| empty(taxonomy));
            set_cell(taxonomy, last, cell, value, &example.partial);
        } else if let Some(cell) = address.strip_prefix("BUDGET.") {
            let (table, row, column) = cell_address(cell);
            let def = taxonomy.table(table).unwrap();
            let column = column.unwrap_or(&def.columns[0].code);
            budget.get_or_insert_with(BudgetFigures::default).insert(
                &def.code,
                row,
                column,
                value.parse().unwrap(),
            );
        } else if let Some(key) = address
            .strip_prefix("NARRATIVE[")
            .and_then(|k| k.strip_suffix(']'))
        {
            disclosure.narrative.retain(|s| s.key != key);
            disclosure.narrative.push(NarrativeSection {
                key: key.to_owned(),
                title: String::new(),
                text: value.clone(),
            });
        } else if address == "cover.unit_type" {
            disclosure.cover.unit_type = UnitType::from_code(value);
        } else if let Some((scope, path)) = address.split_once('.')
            && (scope == "UNIT" || scope.starts_with("PROJ"))
        {
            set_evaluation(&mut disclosure, scope, path, value);
        } else {
            set_cell(taxonomy, &mut disclosure, address, value, &example.partial);
        }
    }
    Case {
        disclosure,
        last_year,
        budget,
    }
}

fn names_all(finding: &juesuan::domain::validation::Finding, names: &[String]) -> bool {
    names
        .iter()
        .all(|name| finding.cells.iter().any(|c| c.to_string() == *name))
}

fn run_examples(year: u32) -> Vec<String> {
    let taxonomy = taxonomies::year(year);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("taxonomy/{year}/examples.toml"));
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Vec::new();
    };
    let file: ExamplesFile =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut failures = Vec::new();
    for example in &file.example {
        for (label, assignments, should_fire) in [
            ("holds", &example.holds, false),
            ("fires", &example.fires, true),
        ] {
            let case = build(&taxonomy, example, assignments);
            let context = Context {
                last_year: case.last_year.as_ref(),
                budget: case.budget.as_ref(),
                ..Default::default()
            };
            let Some(report) =
                taxonomy
                    .rules
                    .run_one(&example.rule, &taxonomy, &case.disclosure, context)
            else {
                failures.push(format!("{year} {}: no such rule", example.rule));
                continue;
            };
            let naming: Vec<_> = report
                .findings
                .iter()
                .filter(|f| names_all(f, &example.names))
                .collect();
            if should_fire && naming.is_empty() {
                failures.push(format!(
                    "{year} {} {label} ({}): no finding naming {:?}; findings: {:?}",
                    example.rule,
                    example.variant,
                    example.names,
                    report
                        .findings
                        .iter()
                        .map(|f| (&f.message, &f.cells))
                        .collect::<Vec<_>>()
                ));
            }
            if !should_fire {
                let first = &example.names[..1.min(example.names.len())];
                if let Some(f) = report.findings.iter().find(|f| names_all(f, first)) {
                    failures.push(format!(
                        "{year} {} {label} ({}): fired anyway: {}",
                        example.rule, example.variant, f.message
                    ));
                }
                if report.checks_evaluated == 0 {
                    failures.push(format!(
                        "{year} {} {label} ({}): not evaluated (the example gives too little)",
                        example.rule, example.variant
                    ));
                }
            }
        }
        if !example.silent.is_empty() {
            let case = build(&taxonomy, example, &example.silent);
            let context = Context {
                last_year: case.last_year.as_ref(),
                budget: case.budget.as_ref(),
                ..Default::default()
            };
            if let Some(report) =
                taxonomy
                    .rules
                    .run_one(&example.rule, &taxonomy, &case.disclosure, context)
                && let Some(f) = report.findings.first()
            {
                failures.push(format!(
                    "{year} {} silent ({}): fired anyway: {}",
                    example.rule, example.variant, f.message
                ));
            }
        }
    }
    failures
}

/// The rule ids a year's examples (and those of the years it extends) cover.
fn covered(taxonomy: &Taxonomy) -> Vec<String> {
    let mut ids = Vec::new();
    for dir in &taxonomy.sources {
        if let Ok(text) = std::fs::read_to_string(dir.join("examples.toml")) {
            let file: ExamplesFile = toml::from_str(&text).unwrap();
            ids.extend(file.example.into_iter().map(|e| e.rule));
        }
    }
    ids
}

#[test]
fn every_example_holds_and_fires_as_stated() {
    let mut failures = run_examples(2024);
    failures.extend(run_examples(2025));
    assert!(
        failures.is_empty(),
        "{} example(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_rule_has_an_example() {
    for year in [2024, 2025] {
        let taxonomy = taxonomies::year(year);
        let covered = covered(&taxonomy);
        let missing: Vec<&str> = taxonomy
            .rules
            .ids()
            .into_iter()
            .filter(|id| !covered.iter().any(|c| c == id))
            .collect();
        assert!(
            missing.is_empty(),
            "{year}: rules without an example: {missing:?}"
        );
    }
}
