//! The whole path a request takes — guard, decode, convert, resolve and validate, count into a consolidation —
//! fed the reference disclosure with extreme and malformed parts: figures at and beyond the declared range,
//! malformed decimals, narrative texts with absurd numbers, counts at their maximum, rows dropped and doubled,
//! unknown codes and enums. Every case ends in a report or in INVALID_ARGUMENT naming fields, with a bounded
//! message — never a panic — and consolidating what was accepted never shows a wrapped figure.

use std::sync::{Arc, OnceLock};

use proptest::prelude::*;
use prost::Message;

use super::{convert, error::invalid_argument, guard::check_message};
use crate::service::consolidation::counted_figures;
use crate::{
    domain::{
        consolidation::{
            layout::CellLayout,
            state::{Removals, YearState},
        },
        facts::Facts,
        ids::UnitCode,
        submission::validate_offline,
        taxonomy::Taxonomies,
    },
    pb,
};

fn taxonomies() -> &'static Taxonomies {
    static TAXONOMIES: OnceLock<Taxonomies> = OnceLock::new();
    TAXONOMIES.get_or_init(|| {
        Taxonomies::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("taxonomy"))
            .expect("the shipped taxonomies load")
    })
}

fn reference() -> &'static pb::Disclosure {
    static REFERENCE: OnceLock<pb::Disclosure> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/reference-2024.json");
        crate::cli::json::from_json("Disclosure", &std::fs::read_to_string(path).unwrap()).unwrap()
    })
}

/// Decimal texts: ordinary, at the edge of the range, beyond it, and not decimals at all.
fn decimal_text() -> impl Strategy<Value = String> {
    prop_oneof![
        10 => (-100_000i64..100_000_000, 0u32..3).prop_map(|(n, s)| rust_decimal::Decimal::new(n, s).to_string()),
        1 => Just("999999999999999.99999999".to_owned()),
        1 => Just("-999999999999999.99999999".to_owned()),
        1 => Just("100000000000".to_owned()),
        1 => Just("0.00000001".to_owned()),
        1 => "[0-9]{16,40}",
        1 => "-?[0-9]{0,3}\\.?[0-9]{0,12}",
        1 => "\\PC{0,12}",
    ]
}

/// Narrative texts that state figures, some absurd, in the phrases the checks read.
fn narrative_text() -> impl Strategy<Value = String> {
    let label = prop::sample::select(vec![
        "本年收入",
        "本年支出",
        "财政拨款收入",
        "一般公共预算财政拨款支出",
        "三公经费",
        "全年执行数",
        "较上年增加",
        "占",
        "下降",
        "年初预算数",
        "机关运行经费",
        "政府采购支出总额",
    ]);
    let number = prop_oneof![
        decimal_text(),
        Just("99999999999999999999".to_owned()),
        Just("9,999,999,999,999,999,999.99".to_owned()),
    ];
    let unit = prop::sample::select(vec!["万元", "元", "%", "人", "辆", ""]);
    proptest::collection::vec((label, number, unit), 0..12).prop_map(|parts| {
        parts
            .into_iter()
            .map(|(l, n, u)| format!("{l}{n}{u}，"))
            .collect()
    })
}

#[derive(Debug, Clone)]
enum Change {
    Cell(usize, usize, usize, String),
    Narrative(usize, String),
    DropRow(usize, usize),
    DoubleRow(usize, usize),
    RowCode(usize, usize, String),
    Procurement(String),
    Funds(usize, usize, String),
    Measure(usize, usize, String, String),
    Staffing(u32),
    AmountUnit(i32),
    Year(u32),
    /// Empty narrative sections added: beyond 200 in all, the guard refuses before decoding.
    Sections(usize),
}

fn change() -> impl Strategy<Value = Change> {
    let i = any::<usize>();
    prop_oneof![
        6 => (i, any::<usize>(), any::<usize>(), decimal_text()).prop_map(|(t, r, c, v)| Change::Cell(t, r, c, v)),
        3 => (i, narrative_text()).prop_map(|(s, t)| Change::Narrative(s, t)),
        1 => (i, any::<usize>()).prop_map(|(t, r)| Change::DropRow(t, r)),
        1 => (i, any::<usize>()).prop_map(|(t, r)| Change::DoubleRow(t, r)),
        1 => (i, any::<usize>(), "[0-9a-z_]{0,8}").prop_map(|(t, r, c)| Change::RowCode(t, r, c)),
        1 => decimal_text().prop_map(Change::Procurement),
        2 => (i, any::<usize>(), decimal_text()).prop_map(|(p, r, v)| Change::Funds(p, r, v)),
        2 => (i, any::<usize>(), "\\PC{0,10}", decimal_text()).prop_map(|(p, n, raw, v)| Change::Measure(p, n, raw, v)),
        1 => prop_oneof![Just(u32::MAX), any::<u32>()].prop_map(Change::Staffing),
        1 => prop_oneof![Just(0), Just(1), Just(2), Just(99), Just(-1)].prop_map(Change::AmountUnit),
        1 => prop_oneof![Just(2024u32), Just(2025), Just(0), Just(u32::MAX)].prop_map(Change::Year),
        1 => (0usize..400).prop_map(Change::Sections),
    ]
}

fn apply(d: &mut pb::Disclosure, change: &Change) {
    let decimal = |v: &str| {
        Some(pb::Decimal {
            value: v.to_owned(),
        })
    };
    match change {
        Change::Cell(t, r, c, v) => {
            if d.tables.is_empty() {
                return;
            }
            let n = d.tables.len();
            let table = &mut d.tables[t % n];
            if table.rows.is_empty() {
                return;
            }
            let n = table.rows.len();
            let row = &mut table.rows[r % n];
            if row.cells.is_empty() {
                return;
            }
            let n = row.cells.len();
            row.cells[c % n].value = decimal(v);
        }
        Change::Narrative(s, text) => {
            if !d.narrative.is_empty() {
                let n = d.narrative.len();
                d.narrative[s % n].text = text.clone();
            }
        }
        Change::DropRow(t, r) | Change::DoubleRow(t, r) => {
            if d.tables.is_empty() {
                return;
            }
            let n = d.tables.len();
            let table = &mut d.tables[t % n];
            if table.rows.is_empty() {
                return;
            }
            let at = r % table.rows.len();
            if matches!(change, Change::DropRow(..)) {
                table.rows.remove(at);
            } else {
                let row = table.rows[at].clone();
                table.rows.push(row);
            }
        }
        Change::RowCode(t, r, code) => {
            let tables = d.tables.len().max(1);
            if let Some(table) = d.tables.get_mut(t % tables)
                && !table.rows.is_empty()
            {
                let n = table.rows.len();
                table.rows[r % n].code = code.clone();
            }
        }
        Change::Procurement(v) => {
            if let Some(p) = &mut d.procurement {
                p.total = decimal(v);
                p.sme_share = decimal(v);
            }
        }
        Change::Funds(p, r, v) => {
            if d.project_evaluations.is_empty() {
                return;
            }
            let n = d.project_evaluations.len();
            let project = &mut d.project_evaluations[p % n];
            if project.funds.is_empty() {
                return;
            }
            let n = project.funds.len();
            let row = &mut project.funds[r % n];
            row.executed = decimal(v);
            row.full_year_budget = decimal(v);
        }
        Change::Measure(p, i, raw, v) => {
            if d.project_evaluations.is_empty() {
                return;
            }
            let n = d.project_evaluations.len();
            let project = &mut d.project_evaluations[p % n];
            if project.indicators.is_empty() {
                return;
            }
            let n = project.indicators.len();
            let indicator = &mut project.indicators[i % n];
            if let Some(actual) = &mut indicator.actual {
                actual.raw = raw.clone();
                actual.number = decimal(v);
            }
            indicator.score = decimal(v);
        }
        Change::Staffing(n) => {
            if let Some(staffing) = &mut d.staffing {
                staffing.total = Some(*n);
                staffing.in_service = Some(*n);
            }
        }
        Change::AmountUnit(unit) => {
            if let Some(cover) = &mut d.cover {
                cover.amount_unit = *unit;
            }
        }
        Change::Year(year) => {
            if let Some(cover) = &mut d.cover {
                cover.fiscal_year = *year;
            }
        }
        Change::Sections(n) => d
            .narrative
            .extend(std::iter::repeat_n(pb::NarrativeSection::default(), *n)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(96),
        ..ProptestConfig::default()
    })]

    #[test]
    fn extreme_disclosures_end_in_a_report_or_a_clear_refusal(
        changes in proptest::collection::vec(change(), 1..12),
    ) {
        let mut disclosure = reference().clone();
        for change in &changes {
            apply(&mut disclosure, change);
        }
        let descriptor = pb::descriptor_pool().get_message_by_name("juesuan.v1.Disclosure").unwrap();
        let bytes = disclosure.encode_to_vec();
        if let Err(violation) = check_message(&descriptor, &bytes) {
            let status = invalid_argument(vec![violation], "disclosure");
            prop_assert_eq!(status.code(), tonic::Code::InvalidArgument);
            return Ok(());
        }
        let decoded = pb::Disclosure::decode(bytes.as_slice()).expect("what the guard accepts decodes");
        let refusal = |violations: Vec<crate::domain::error::FieldViolation>| {
            assert!(!violations.is_empty());
            let status = invalid_argument(violations, "disclosure");
            assert_eq!(status.code(), tonic::Code::InvalidArgument);
            assert!(status.message().len() <= 400 && !status.message().contains('\n'));
        };
        let draft = match convert::disclosure_draft(decoded) {
            Ok(draft) => draft,
            Err(violations) => {
                refusal(violations);
                return Ok(());
            }
        };
        let (taxonomy, resolved, report) = match validate_offline(taxonomies(), draft) {
            Ok(validated) => validated,
            Err(violations) => {
                refusal(violations);
                return Ok(());
            }
        };
        // Every finding shows its figures, and the report converts to the wire.
        let wire = convert::report_to_pb(&report);
        prop_assert_eq!(wire.findings.len(), report.findings.len());
        // Counted into a department many times over: the figures add up or the cells are named, never wrapped.
        let layout = Arc::new(CellLayout::new(&taxonomy));
        let removals = Arc::new(Removals::new(&layout, taxonomy.eliminations.as_ref()));
        let mut state = YearState::new(layout.clone(), removals);
        let root = state.add_node(UnitCode::parse("D").unwrap(), None);
        let facts = Facts::from_disclosure(&resolved, &taxonomy);
        for i in 0..100 {
            let node = state.add_node(UnitCode::parse(&format!("U{i}")).unwrap(), Some(root));
            let own = counted_figures(&mut state, &taxonomy, 1, &facts);
            state.set_own(node, Some(own));
        }
        match state.check_range(root) {
            Ok(()) => {
                // Exact: each cell is a hundred times the unit's own figure (the department states no transfer,
                // so nothing is matched and nothing eliminated).
                let up = state.contributions(1).0;
                for (cell, value) in state.consolidated(root) {
                    let one = up.iter().find(|(c, _)| *c == cell).map_or(0, |(_, v)| *v);
                    prop_assert_eq!(i128::from(value), i128::from(one) * 100);
                }
            }
            Err(cells) => prop_assert!(!cells.is_empty()),
        }
    }
}
