//! A disclosure as the domain sees it: what arrived (`DisclosureDraft`, already free of wire types and of
//! malformed numbers) and what it means once resolved against its fiscal year's taxonomy (`Disclosure`): every table,
//! row and column known, typed sections placed in the taxonomy's supplementary tables, nothing duplicated.

use std::collections::BTreeMap;

use crate::domain::{
    error::{FieldViolation, Path},
    evaluation::Evaluation,
    ids::{FiscalYear, RegionCode, UnitCode},
    money::{MAX_AMOUNT_YUAN, Value},
    taxonomy::{ColumnKind, RowCodeProblem, Taxonomy},
    unit::{BudgetLevel, UnitType},
};

/// A typed part of the disclosure whose numbers land in a supplementary table of the taxonomy.
pub struct Section {
    pub name: &'static str,
    pub fields: &'static [&'static str],
}

/// The typed sections and their numeric fields. The taxonomy maps each field to a cell (tables with `section`);
/// loading refuses a taxonomy that leaves a field unmapped.
pub const SECTIONS: &[Section] = &[
    Section {
        name: "staffing",
        fields: &[
            "total",
            "in_service",
            "retired_cadres",
            "retirees",
            "in_service_change",
            "retired_cadres_change",
            "retirees_change",
            "subordinate_units",
            "internal_offices",
        ],
    },
    Section {
        name: "three_public_counts",
        fields: &[
            "delegations",
            "delegation_trips",
            "vehicles_purchased",
            "vehicles_held",
            "receptions",
            "reception_visitors",
        ],
    },
    Section {
        name: "procurement",
        fields: &[
            "total",
            "goods",
            "works",
            "services",
            "sme_contracts",
            "sme_share",
            "small_micro_contracts",
            "small_micro_share",
        ],
    },
    Section {
        name: "assets",
        fields: &[
            "building_area_m2",
            "building_value",
            "vehicles",
            "vehicle_value",
            "vehicles_by_use.senior_officials",
            "vehicles_by_use.principal",
            "vehicles_by_use.confidential_communication",
            "vehicles_by_use.emergency",
            "vehicles_by_use.law_enforcement",
            "vehicles_by_use.special_technical",
            "vehicles_by_use.retiree_service",
            "vehicles_by_use.other",
            "equipment_over_1m",
        ],
    },
    Section {
        name: "operating_expenses",
        fields: &["agency_operating", "public_expenses"],
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ReportType {
    /// 单户表.
    Single,
    /// 汇总表.
    Consolidated,
    /// 调整表.
    Adjustment,
}

impl ReportType {
    /// Stable text used in storage.
    pub fn code(self) -> &'static str {
        match self {
            ReportType::Single => "single",
            ReportType::Consolidated => "consolidated",
            ReportType::Adjustment => "adjustment",
        }
    }

    pub fn from_code(code: &str) -> Option<ReportType> {
        [
            ReportType::Single,
            ReportType::Consolidated,
            ReportType::Adjustment,
        ]
        .into_iter()
        .find(|t| t.code() == code)
    }

    pub fn name(self) -> &'static str {
        match self {
            ReportType::Single => "单户表",
            ReportType::Consolidated => "汇总表",
            ReportType::Adjustment => "调整表",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum AmountUnit {
    Yuan,
    #[default]
    TenThousandYuan,
}

impl AmountUnit {
    pub fn name(self) -> &'static str {
        match self {
            AmountUnit::Yuan => "元",
            AmountUnit::TenThousandYuan => "万元",
        }
    }
}

/// 封面.
#[derive(Debug, Clone, PartialEq)]
pub struct Cover {
    pub unit_code: UnitCode,
    pub unit_name: String,
    pub fiscal_year: FiscalYear,
    pub budget_level: Option<BudgetLevel>,
    pub unit_type: Option<UnitType>,
    pub supervising_department_code: Option<UnitCode>,
    pub supervising_department_name: String,
    pub parent_unit_code: Option<UnitCode>,
    pub fiscal_region_code: Option<RegionCode>,
    pub report_type: ReportType,
    pub amount_unit: AmountUnit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completeness {
    /// A cell not given is zero.
    Complete,
    /// A cell not given is unknown.
    Partial,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CellDraft {
    pub column: String,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RowDraft {
    pub code: String,
    pub label: String,
    pub cells: Vec<CellDraft>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TableDraft {
    pub code: String,
    pub completeness: Completeness,
    pub declared_empty: bool,
    pub rows: Vec<RowDraft>,
}

/// A number of a typed section; `path` is the field's path for error messages (e.g. "staffing.total").
#[derive(Debug, Clone, PartialEq)]
pub struct SectionFact {
    pub section: &'static str,
    pub field: &'static str,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NarrativeSection {
    pub key: String,
    pub title: String,
    pub text: String,
}

/// A disclosure as it arrived: numbers parsed, codes not yet checked against the taxonomy.
#[derive(Debug, Clone, PartialEq)]
pub struct DisclosureDraft {
    pub cover: Cover,
    pub tables: Vec<TableDraft>,
    pub section_facts: Vec<SectionFact>,
    pub narrative: Vec<NarrativeSection>,
    pub unit_evaluation: Option<Evaluation>,
    pub project_evaluations: Vec<Evaluation>,
}

/// A row of a resolved table: its cells by column index.
#[derive(Debug, Clone, PartialEq)]
pub struct RowData {
    pub label: String,
    pub cells: Vec<Option<Value>>,
}

/// A resolved table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableData {
    pub completeness: Completeness,
    pub declared_empty: bool,
    /// Rows by code, in code order.
    pub rows: BTreeMap<String, RowData>,
}

impl TableData {
    /// What a rule reads from a column of one of this table's rows (`None`: a row the table does not list).
    pub fn cell_of(&self, row: Option<&RowData>, column: usize) -> CellState {
        match row.and_then(|r| r.cells.get(column).copied().flatten()) {
            Some(value) => CellState::Given(value),
            None if self.completeness == Completeness::Complete => CellState::Blank,
            None => CellState::Unknown,
        }
    }
}

/// What a rule reads from a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellState {
    /// The disclosure states the value.
    Given(Value),
    /// Not given, in a table where that means zero.
    Blank,
    /// Not given, and not knowable (a partial table, a table or section not reported).
    Unknown,
}

/// A disclosure resolved against its taxonomy.
#[derive(Debug, Clone, PartialEq)]
pub struct Disclosure {
    pub cover: Cover,
    /// By taxonomy table index; `None` when the table was not reported.
    pub tables: Vec<Option<TableData>>,
    pub narrative: Vec<NarrativeSection>,
    pub unit_evaluation: Option<Evaluation>,
    pub project_evaluations: Vec<Evaluation>,
}

impl Disclosure {
    pub fn table(&self, index: usize) -> Option<&TableData> {
        self.tables.get(index).and_then(Option::as_ref)
    }

    pub fn cell(&self, table: usize, row: &str, column: usize) -> CellState {
        let Some(data) = self.table(table) else {
            return CellState::Unknown;
        };
        data.cell_of(data.rows.get(row), column)
    }

    /// Every evaluation: the unit's overall one first, then the projects in order.
    pub fn evaluations(&self) -> impl Iterator<Item = &Evaluation> {
        self.unit_evaluation.iter().chain(&self.project_evaluations)
    }
}

impl DisclosureDraft {
    fn is_empty(&self) -> bool {
        self.tables.is_empty()
            && self.section_facts.is_empty()
            && self.narrative.is_empty()
            && self.unit_evaluation.is_none()
            && self.project_evaluations.is_empty()
    }

    /// Checks every code against the taxonomy and builds the resolved disclosure. All problems are reported at
    /// once, each with the path of the field at fault (relative to the disclosure).
    pub fn resolve(self, taxonomy: &Taxonomy) -> Result<Disclosure, Vec<FieldViolation>> {
        let mut violations = Vec::new();
        if self.is_empty() {
            violations.push(FieldViolation::new(
                "",
                "the disclosure is empty: it has no tables, sections, narrative or evaluations",
            ));
            return Err(violations);
        }
        let mut tables: Vec<Option<TableData>> = vec![None; taxonomy.tables.len()];
        let mut first_position: BTreeMap<usize, usize> = BTreeMap::new();
        let amount_unit = self.cover.amount_unit;

        for (t, table) in self.tables.into_iter().enumerate() {
            let root = Path::ROOT;
            let path = root.item("tables", t);
            let Some(index) = taxonomy.table_index(&table.code) else {
                let known: Vec<&str> = taxonomy
                    .tables
                    .iter()
                    .filter(|d| d.section.is_none())
                    .map(|d| d.code.as_str())
                    .collect();
                violations.push(FieldViolation::new(
                    path.field("code").to_string(),
                    format!(
                        "unknown table \"{}\" in the {} taxonomy (tables: {})",
                        table.code,
                        taxonomy.fiscal_year,
                        known.join(", ")
                    ),
                ));
                continue;
            };
            let def = &taxonomy.tables[index];
            if let Some(section) = &def.section {
                violations.push(FieldViolation::new(
                    path.field("code").to_string(),
                    format!("table {} is filled from the disclosure's {section} section, not sent as a table", def.code),
                ));
                continue;
            }
            if let Some(first) = first_position.insert(index, t) {
                violations.push(FieldViolation::new(
                    path.field("code").to_string(),
                    format!(
                        "table {} is given twice (first as tables[{first}])",
                        def.code
                    ),
                ));
                continue;
            }
            if table.declared_empty && !table.rows.is_empty() {
                violations.push(FieldViolation::new(
                    path.field("rows").to_string(),
                    format!(
                        "table {} is declared empty but has {} rows",
                        def.code,
                        table.rows.len()
                    ),
                ));
                continue;
            }
            if !table.declared_empty && table.rows.is_empty() {
                violations.push(FieldViolation::new(
                    path.field("rows").to_string(),
                    format!(
                        "table {} has no rows; to state an empty table (空表), set declared_empty",
                        def.code
                    ),
                ));
                continue;
            }
            // Rows nearly always come in code order, and then no code can repeat: only rows out of order need
            // the first position of each code (for the message), and rows in order build their map in one pass.
            let in_order = table
                .rows
                .windows(2)
                .all(|pair| pair[0].code < pair[1].code);
            let mut row_positions: Option<BTreeMap<String, usize>> =
                (!in_order).then(BTreeMap::new);
            let mut rows: Vec<(String, RowData)> = Vec::with_capacity(table.rows.len());
            for (r, row) in table.rows.into_iter().enumerate() {
                let row_path = path.item("rows", r);
                // A code the year's list lacks is read when it is well formed (the codes check names it);
                // anything else cannot be placed.
                if let Err(problem) = taxonomy.row_code_status(def, &row.code) {
                    let why = match problem {
                        RowCodeProblem::Unknown => match taxonomy.code_list_of(def) {
                            Some(list) if row.code.bytes().all(|b| b.is_ascii_digit()) => format!(
                                "code {} is malformed: a code of {} has {} digits",
                                row.code,
                                list.name,
                                list.level_digits
                                    .iter()
                                    .map(ToString::to_string)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                            _ => format!(
                                "\"{}\" is neither a line of table {} nor a code of its classification",
                                row.code, def.code
                            ),
                        },
                        RowCodeProblem::NotInCodeList => format!(
                            "code {} is not in the {} code list of {}",
                            row.code,
                            taxonomy.code_list_of(def).map_or("", |l| l.name.as_str()),
                            taxonomy.fiscal_year
                        ),
                        RowCodeProblem::LevelNotReported(level) => format!(
                            "code {} is at level {level}, which table {} does not report",
                            row.code, def.code
                        ),
                    };
                    violations.push(FieldViolation::new(row_path.field("code").to_string(), why));
                    continue;
                }
                if let Some(first) = row_positions
                    .as_mut()
                    .and_then(|positions| positions.insert(row.code.clone(), r))
                {
                    violations.push(FieldViolation::new(
                        row_path.field("code").to_string(),
                        format!(
                            "row {} is given twice in table {} (first as rows[{first}])",
                            row.code, def.code
                        ),
                    ));
                    continue;
                }
                let mut cells = vec![None; def.columns.len()];
                for (c, cell) in row.cells.into_iter().enumerate() {
                    let cell_path = row_path.item("cells", c);
                    let Some(column) = def.column_index(&cell.column) else {
                        let known: Vec<&str> =
                            def.columns.iter().map(|c| c.code.as_str()).collect();
                        violations.push(FieldViolation::new(
                            cell_path.field("column").to_string(),
                            format!(
                                "unknown column \"{}\" of table {} (columns: {})",
                                cell.column,
                                def.code,
                                known.join(", ")
                            ),
                        ));
                        continue;
                    };
                    if cells[column].is_some() {
                        violations.push(FieldViolation::new(
                            cell_path.field("column").to_string(),
                            format!("column {} is given twice in row {}", cell.column, row.code),
                        ));
                        continue;
                    }
                    let kind = def.columns[column].kind;
                    if kind.is_whole()
                        && cell.value.scale() > 0
                        && !cell.value.decimal().fract().is_zero()
                    {
                        violations.push(FieldViolation::new(
                            cell_path.field("value").to_string(),
                            format!(
                                "{} is a count and must be a whole number, not {}",
                                cell.column, cell.value
                            ),
                        ));
                        continue;
                    }
                    if let Some(problem) = beyond_range(kind, amount_unit, cell.value) {
                        violations.push(FieldViolation::new(
                            cell_path.field("value").to_string(),
                            problem,
                        ));
                        continue;
                    }
                    cells[column] = Some(cell.value);
                }
                rows.push((
                    row.code,
                    RowData {
                        label: row.label,
                        cells,
                    },
                ));
            }
            tables[index] = Some(TableData {
                completeness: table.completeness,
                declared_empty: table.declared_empty,
                // Each code once (a repeat was refused above); sorted already when the rows came in order.
                rows: rows.into_iter().collect(),
            });
        }

        for fact in self.section_facts {
            let placed = taxonomy.tables.iter().enumerate().find_map(|(index, def)| {
                (def.section.as_deref() == Some(fact.section))
                    .then(|| {
                        def.lines.iter().find_map(|line| {
                            line.fields
                                .iter()
                                .find(|(_, field)| field == fact.field)
                                .map(|(column, _)| {
                                    (index, line.code.clone(), *column, def.columns.len())
                                })
                        })
                    })
                    .flatten()
            });
            let Some((index, row, column, width)) = placed else {
                // The taxonomy check at load time guarantees every field is mapped; reaching this is a bug.
                violations.push(FieldViolation::new(
                    format!("{}.{}", fact.section, fact.field),
                    format!(
                        "the {} taxonomy has no cell for this field",
                        taxonomy.fiscal_year
                    ),
                ));
                continue;
            };
            let kind = taxonomy.tables[index].columns[column].kind;
            if let Some(problem) = beyond_range(kind, amount_unit, fact.value) {
                violations.push(FieldViolation::new(
                    format!("{}.{}", fact.section, fact.field),
                    problem,
                ));
                continue;
            }
            let table = tables[index].get_or_insert_with(|| TableData {
                // Section fields are optional: a field not given is not stated, so unknown rather than zero.
                completeness: Completeness::Partial,
                declared_empty: false,
                rows: BTreeMap::new(),
            });
            table
                .rows
                .entry(row)
                .or_insert_with(|| RowData {
                    label: String::new(),
                    cells: vec![None; width],
                })
                .cells[column] = Some(fact.value);
        }

        let mut narrative_seen: BTreeMap<String, usize> = BTreeMap::new();
        for (n, section) in self.narrative.iter().enumerate() {
            if taxonomy.narrative_section(&section.key).is_none() {
                let keys: Vec<&str> = taxonomy.narrative.iter().map(|d| d.key.as_str()).collect();
                violations.push(FieldViolation::new(
                    format!("narrative[{n}].key"),
                    format!(
                        "unknown narrative section \"{}\" (sections: {})",
                        section.key,
                        keys.join(", ")
                    ),
                ));
            } else if let Some(first) = narrative_seen.insert(section.key.clone(), n) {
                violations.push(FieldViolation::new(
                    format!("narrative[{n}].key"),
                    format!(
                        "narrative section \"{}\" is given twice (first as narrative[{first}])",
                        section.key
                    ),
                ));
            }
        }

        if !violations.is_empty() {
            return Err(violations);
        }
        Ok(Disclosure {
            cover: self.cover,
            tables,
            narrative: self.narrative,
            unit_evaluation: self.unit_evaluation,
            project_evaluations: self.project_evaluations,
        })
    }
}

/// Why a figure is beyond the range a disclosure may state: an amount above [`MAX_AMOUNT_YUAN`] 元 in the
/// disclosure's unit. (Every figure already has at most 15 digits before the point.)
fn beyond_range(kind: ColumnKind, unit: AmountUnit, value: Value) -> Option<String> {
    if kind != ColumnKind::Amount {
        return None;
    }
    let limit = match unit {
        AmountUnit::Yuan => MAX_AMOUNT_YUAN,
        AmountUnit::TenThousandYuan => MAX_AMOUNT_YUAN / 10_000,
    };
    value.magnitude_exceeds(limit).then(|| {
        format!(
            "{} {} is beyond the largest amount a disclosure may state ({limit} {}, that is 10^15 元)",
            value,
            unit.name(),
            unit.name()
        )
    })
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    impl DisclosureDraft {
        /// Resolution without the emptiness check, for tests that build a disclosure up from nothing.
        pub fn resolve_unchecked(mut self, taxonomy: &Taxonomy) -> Disclosure {
            if self.is_empty() {
                self.narrative.push(NarrativeSection {
                    key: taxonomy.narrative[0].key.clone(),
                    title: String::new(),
                    text: String::new(),
                });
            }
            let mut disclosure = self.resolve(taxonomy).expect("resolves");
            disclosure.narrative.clear();
            disclosure
        }
    }

    pub fn cover(year: u32) -> Cover {
        Cover {
            unit_code: UnitCode::parse("U1").unwrap(),
            unit_name: "测试单位".into(),
            fiscal_year: FiscalYear::new(year).unwrap(),
            budget_level: Some(BudgetLevel::Prefecture),
            unit_type: Some(UnitType::PublicInstitutionClass2),
            supervising_department_code: None,
            supervising_department_name: String::new(),
            parent_unit_code: None,
            fiscal_region_code: None,
            report_type: ReportType::Single,
            amount_unit: AmountUnit::TenThousandYuan,
        }
    }

    /// A draft table from (row, column, value) triples.
    pub fn table(
        code: &str,
        completeness: Completeness,
        cells: &[(&str, &str, &str)],
    ) -> TableDraft {
        let mut rows: Vec<RowDraft> = Vec::new();
        for (row, column, value) in cells {
            let cell = CellDraft {
                column: (*column).into(),
                value: value.parse().unwrap(),
            };
            match rows.iter_mut().find(|r| r.code == *row) {
                Some(existing) => existing.cells.push(cell),
                None => rows.push(RowDraft {
                    code: (*row).into(),
                    label: String::new(),
                    cells: vec![cell],
                }),
            }
        }
        TableDraft {
            code: code.into(),
            completeness,
            declared_empty: false,
            rows,
        }
    }

    pub fn draft(year: u32, tables: Vec<TableDraft>) -> DisclosureDraft {
        DisclosureDraft {
            cover: cover(year),
            tables,
            section_facts: Vec::new(),
            narrative: Vec::new(),
            unit_evaluation: None,
            project_evaluations: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;
    use crate::domain::taxonomy::test_support as taxonomy;

    fn fields(violations: &[FieldViolation]) -> Vec<&str> {
        violations.iter().map(|v| v.field.as_str()).collect()
    }

    #[test]
    fn resolves_aliases_and_reads_blank_and_unknown_cells() {
        let taxonomy = taxonomy::year(2024);
        let draft = draft(
            2024,
            vec![
                table(
                    "公开05",
                    Completeness::Complete,
                    &[("2070605", "total", "6588.51")],
                ),
                table(
                    "T06",
                    Completeness::Partial,
                    &[("total", "amount", "3740.26")],
                ),
            ],
        );
        let disclosure = draft.resolve(&taxonomy).unwrap();
        let t05 = taxonomy.table_index("T05").unwrap();
        let t06 = taxonomy.table_index("T06").unwrap();
        let t09 = taxonomy.table_index("T09").unwrap();
        assert_eq!(
            disclosure.cell(t05, "2070605", 0),
            CellState::Given("6588.51".parse().unwrap())
        );
        assert_eq!(disclosure.cell(t05, "2070605", 1), CellState::Blank);
        assert_eq!(disclosure.cell(t06, "personnel", 0), CellState::Unknown);
        assert_eq!(disclosure.cell(t09, "total", 0), CellState::Unknown);
    }

    #[test]
    fn unknown_codes_are_refused_with_their_paths() {
        let taxonomy = taxonomy::year(2024);
        let draft = draft(
            2024,
            vec![
                table("T99", Completeness::Complete, &[("total", "total", "1")]),
                table(
                    "T05",
                    Completeness::Complete,
                    &[
                        ("20706981", "total", "1"),
                        ("total", "totl", "1"),
                        ("income_total", "total", "1"),
                        // Well formed but not listed: read (the codes check names it), not refused.
                        ("2070698", "total", "1"),
                    ],
                ),
            ],
        );
        let violations = draft.resolve(&taxonomy).unwrap_err();
        assert_eq!(
            fields(&violations),
            [
                "tables[0].code",
                "tables[1].rows[0].code",
                "tables[1].rows[1].cells[0].column",
                "tables[1].rows[2].code"
            ]
        );
        assert!(
            violations[1].description.contains("malformed"),
            "{:?}",
            violations[1]
        );
    }

    #[test]
    fn duplicates_are_refused() {
        let taxonomy = taxonomy::year(2024);
        let mut t05 = table(
            "T05",
            Completeness::Complete,
            &[("207", "total", "1"), ("207", "basic", "1")],
        );
        // `table` merges cells of one row; split them into two rows with the same code.
        let extra = RowDraft {
            code: "207".into(),
            label: String::new(),
            cells: vec![t05.rows[0].cells.pop().unwrap()],
        };
        t05.rows.push(extra);
        let duplicate_cell = t05.rows[0].cells[0].clone();
        t05.rows[0].cells.push(duplicate_cell);
        let draft = draft(
            2024,
            vec![
                t05,
                table("公开05", Completeness::Complete, &[("207", "total", "1")]),
            ],
        );
        let violations = draft.resolve(&taxonomy).unwrap_err();
        assert_eq!(
            fields(&violations),
            [
                "tables[0].rows[0].cells[1].column",
                "tables[0].rows[1].code",
                "tables[1].code"
            ]
        );
    }

    #[test]
    fn rows_out_of_order_resolve_in_code_order_and_a_repeat_names_its_first() {
        let taxonomy = taxonomy::year(2024);
        let t05 = |codes: &[&str]| TableDraft {
            rows: codes
                .iter()
                .map(|code| RowDraft {
                    code: (*code).into(),
                    label: String::new(),
                    cells: table("T05", Completeness::Complete, &[(code, "total", "1")]).rows[0]
                        .cells
                        .clone(),
                })
                .collect(),
            ..table("T05", Completeness::Complete, &[])
        };
        for codes in [["201", "207", "208"], ["208", "201", "207"]] {
            let resolved = draft(2024, vec![t05(&codes)]).resolve(&taxonomy).unwrap();
            let index = taxonomy.table_index("T05").unwrap();
            let table = resolved.tables[index].as_ref().unwrap();
            assert_eq!(
                table.rows.keys().collect::<Vec<_>>(),
                ["201", "207", "208"],
                "{codes:?}"
            );
        }
        let violations = draft(2024, vec![t05(&["208", "207", "208"])])
            .resolve(&taxonomy)
            .unwrap_err();
        assert_eq!(fields(&violations), ["tables[0].rows[2].code"]);
        assert!(
            violations[0].description.contains("first as rows[0]"),
            "{violations:?}"
        );
    }

    #[test]
    fn empty_tables_must_be_declared_and_declared_ones_must_be_empty() {
        let taxonomy = taxonomy::year(2024);
        let mut declared = table("T07", Completeness::Complete, &[("total", "income", "1")]);
        declared.declared_empty = true;
        let undeclared = TableDraft {
            code: "T08".into(),
            completeness: Completeness::Complete,
            declared_empty: false,
            rows: Vec::new(),
        };
        let violations = draft(2024, vec![declared, undeclared])
            .resolve(&taxonomy)
            .unwrap_err();
        assert_eq!(fields(&violations), ["tables[0].rows", "tables[1].rows"]);
    }

    #[test]
    fn an_empty_disclosure_is_refused() {
        let violations = draft(2024, vec![])
            .resolve(&taxonomy::year(2024))
            .unwrap_err();
        assert_eq!(fields(&violations), [""]);
    }

    #[test]
    fn section_facts_land_in_their_tables_and_counts_must_be_whole() {
        let taxonomy = taxonomy::year(2024);
        let mut d = draft(
            2024,
            vec![table(
                "STAFF",
                Completeness::Complete,
                &[("total", "count", "1")],
            )],
        );
        let violations = d.clone().resolve(&taxonomy).unwrap_err();
        assert_eq!(fields(&violations), ["tables[0].code"]);

        d.tables.clear();
        d.section_facts.push(SectionFact {
            section: "staffing",
            field: "in_service",
            value: "170".parse().unwrap(),
        });
        let resolved = d.resolve(&taxonomy).unwrap();
        let staff = taxonomy.table_index("STAFF").unwrap();
        assert_eq!(
            resolved.cell(staff, "in_service", 0),
            CellState::Given("170".parse().unwrap())
        );
        assert_eq!(resolved.cell(staff, "retirees", 0), CellState::Unknown);

        let bad = draft(
            2024,
            vec![table(
                "T05",
                Completeness::Complete,
                &[("207", "total", "1.5")],
            )],
        );
        assert!(bad.resolve(&taxonomy).is_ok(), "amounts may have decimals");
    }
}
