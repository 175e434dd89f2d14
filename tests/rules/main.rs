//! The rules of every shipped year against data: each rule's examples (`taxonomy/<year>/examples.toml`, where it
//! holds, fires and must stay silent), the reference disclosure (what it is and is not flagged for) and generated
//! wordings of its narrative (what may and must fire). One test binary outside the library, because the reference
//! and the examples' base come as wire JSON: reading them takes the API's conversions, which the domain's own tests
//! do not reach up into.

mod examples;
mod reference;
mod wording;

mod support {
    use std::{path::Path, sync::Arc};

    use juesuan::domain::{
        disclosure::{
            AmountUnit, Cover, Disclosure, DisclosureDraft, NarrativeSection, ReportType,
        },
        ids::{FiscalYear, UnitCode},
        taxonomy::{Taxonomies, Taxonomy},
        unit::{BudgetLevel, UnitType},
    };

    /// The taxonomies shipped in `taxonomy/`.
    pub fn shipped() -> Taxonomies {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("taxonomy");
        Taxonomies::load(&root).unwrap_or_else(|e| panic!("shipped taxonomy does not load: {e}"))
    }

    pub fn year(year: u32) -> Arc<Taxonomy> {
        shipped()
            .get(FiscalYear::new(year).unwrap())
            .cloned()
            .unwrap_or_else(|| panic!("no shipped taxonomy for {year}"))
    }

    /// A disclosure with a cover and nothing else, for examples that set cells on it. Resolution refuses an
    /// empty draft, so it is resolved with one empty narrative section that is then taken away.
    pub fn empty_draft(taxonomy: &Taxonomy) -> Disclosure {
        let draft = DisclosureDraft {
            cover: Cover {
                unit_code: UnitCode::parse("U1").unwrap(),
                unit_name: "测试单位".into(),
                fiscal_year: taxonomy.fiscal_year,
                budget_level: Some(BudgetLevel::Prefecture),
                unit_type: Some(UnitType::PublicInstitutionClass2),
                supervising_department_code: None,
                supervising_department_name: String::new(),
                parent_unit_code: None,
                fiscal_region_code: None,
                report_type: ReportType::Single,
                amount_unit: AmountUnit::TenThousandYuan,
            },
            tables: Vec::new(),
            section_facts: Vec::new(),
            narrative: vec![NarrativeSection {
                key: taxonomy.narrative[0].key.clone(),
                title: String::new(),
                text: String::new(),
            }],
            unit_evaluation: None,
            project_evaluations: Vec::new(),
        };
        let mut disclosure = draft.resolve(taxonomy).expect("resolves");
        disclosure.narrative.clear();
        disclosure
    }

    /// Sets a cell of a wire disclosure (the reference's), which must have it.
    pub fn set_cell(
        disclosure: &mut juesuan::pb::Disclosure,
        table: &str,
        row: &str,
        column: &str,
        value: &str,
    ) {
        let cell = disclosure
            .tables
            .iter_mut()
            .find(|t| t.code == table)
            .and_then(|t| t.rows.iter_mut().find(|r| r.code == row))
            .and_then(|r| r.cells.iter_mut().find(|c| c.column == column))
            .unwrap_or_else(|| panic!("no cell {table}[{row}, {column}]"));
        cell.value = Some(juesuan::pb::Decimal {
            value: value.into(),
        });
    }
}
