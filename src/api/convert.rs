//! Conversions between the wire types (`pb`) and the domain. Inbound conversions check what the wire cannot:
//! decimals, enum values, dates, years and codes, and report every problem with its field path.

use prost_types::Timestamp;

use crate::service::consolidation;
use crate::service::registry::TreeNode;
use crate::service::review::{LockOutcome, PendingVersion, YearStatus};
use crate::{
    domain::{
        access::{PrincipalKind, Role, ServiceName},
        audit::{Event as AuditEvent, Verification},
        disclosure::{
            AmountUnit, CellDraft, Completeness, Cover, DisclosureDraft, NarrativeSection,
            ReportType, RowDraft, SectionFact, TableDraft,
        },
        error::{FieldViolation, Path},
        evaluation::{
            Comparator, DateSpec, Evaluation, FundsRow, FundsSource, Indicator, Measure,
            MeasureValue, ScoringRule,
        },
        ids::{FiscalYear, RegionCode, UnitCode},
        money::Value,
        submission::{StoredSubmission, SubmissionState},
        tokens::TokenRecord,
        unit::{BudgetLevel, Unit, UnitType},
        validation::{CellRef, Finding, Report, Severity},
    },
    pb,
};

/// Collects violations while converting, so that one answer lists every problem.
#[derive(Default)]
pub struct Violations(pub Vec<FieldViolation>);

impl Violations {
    pub fn push(&mut self, field: impl std::fmt::Display, description: impl Into<String>) {
        self.0
            .push(FieldViolation::new(field.to_string(), description));
    }

    pub fn finish<T>(self, value: T) -> Result<T, Vec<FieldViolation>> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self.0)
        }
    }
}

fn decimal(d: &Option<pb::Decimal>, path: Path<'_>, v: &mut Violations) -> Option<Value> {
    let d = d.as_ref()?;
    match d.value.parse::<Value>() {
        Ok(value) => Some(value),
        Err(e) => {
            v.push(path, e.to_string());
            None
        }
    }
}

fn year(value: u32, path: &str, v: &mut Violations) -> Option<FiscalYear> {
    FiscalYear::new(value)
        .map_err(|e| v.push(path, e.to_string()))
        .ok()
}

fn enum_value<E: TryFrom<i32>>(value: i32, path: Path<'_>, v: &mut Violations) -> Option<E> {
    match E::try_from(value) {
        Ok(e) => Some(e),
        Err(_) => {
            v.push(path, format!("{value} is not a known value of this enum"));
            None
        }
    }
}

pub fn budget_level(level: pb::BudgetLevel) -> Option<BudgetLevel> {
    Some(match level {
        pb::BudgetLevel::Unspecified => return None,
        pb::BudgetLevel::Central => BudgetLevel::Central,
        pb::BudgetLevel::Provincial => BudgetLevel::Provincial,
        pb::BudgetLevel::Prefecture => BudgetLevel::Prefecture,
        pb::BudgetLevel::County => BudgetLevel::County,
        pb::BudgetLevel::Township => BudgetLevel::Township,
    })
}

fn budget_level_to_pb(level: BudgetLevel) -> pb::BudgetLevel {
    match level {
        BudgetLevel::Central => pb::BudgetLevel::Central,
        BudgetLevel::Provincial => pb::BudgetLevel::Provincial,
        BudgetLevel::Prefecture => pb::BudgetLevel::Prefecture,
        BudgetLevel::County => pb::BudgetLevel::County,
        BudgetLevel::Township => pb::BudgetLevel::Township,
    }
}

pub fn unit_type(kind: pb::UnitType) -> Option<UnitType> {
    Some(match kind {
        pb::UnitType::Unspecified => return None,
        pb::UnitType::Administrative => UnitType::Administrative,
        pb::UnitType::PublicInstitutionClass1 => UnitType::PublicInstitutionClass1,
        pb::UnitType::PublicInstitutionClass2 => UnitType::PublicInstitutionClass2,
        pb::UnitType::PublicInstitutionCommercial => UnitType::PublicInstitutionCommercial,
        pb::UnitType::Enterprise => UnitType::Enterprise,
        pb::UnitType::Other => UnitType::Other,
    })
}

fn unit_type_to_pb(kind: Option<UnitType>) -> pb::UnitType {
    match kind {
        None => pb::UnitType::Unspecified,
        Some(UnitType::Administrative) => pb::UnitType::Administrative,
        Some(UnitType::PublicInstitutionClass1) => pb::UnitType::PublicInstitutionClass1,
        Some(UnitType::PublicInstitutionClass2) => pb::UnitType::PublicInstitutionClass2,
        Some(UnitType::PublicInstitutionCommercial) => pb::UnitType::PublicInstitutionCommercial,
        Some(UnitType::Enterprise) => pb::UnitType::Enterprise,
        Some(UnitType::Other) => pb::UnitType::Other,
    }
}

fn unit_code(text: &str, path: &str, v: &mut Violations) -> Option<UnitCode> {
    UnitCode::parse(text)
        .map_err(|e| v.push(path, e.to_string()))
        .ok()
}

fn optional_unit_code(text: &str, path: &str, v: &mut Violations) -> Option<UnitCode> {
    UnitCode::parse_optional(text)
        .map_err(|e| v.push(path, e.to_string()))
        .ok()
        .flatten()
}

/// A unit record from the wire; paths are relative to the `Unit` message.
pub fn unit_from_pb(unit: &pb::Unit) -> Result<Unit, Vec<FieldViolation>> {
    let mut v = Violations::default();
    let code = unit_code(&unit.code, "code", &mut v);
    let valid_from = year(unit.valid_from_year, "valid_from_year", &mut v);
    let valid_to = match unit.valid_to_year {
        0 => None,
        y => year(y, "valid_to_year", &mut v),
    };
    let level =
        enum_value::<pb::BudgetLevel>(unit.budget_level, Path::ROOT.field("budget_level"), &mut v)
            .and_then(budget_level);
    if level.is_none() && v.0.iter().all(|x| x.field != "budget_level") {
        v.push("budget_level", "is required");
    }
    let kind = enum_value::<pb::UnitType>(unit.unit_type, Path::ROOT.field("unit_type"), &mut v)
        .and_then(unit_type);
    let parent = optional_unit_code(&unit.parent_code, "parent_code", &mut v);
    let supervising = optional_unit_code(
        &unit.supervising_department_code,
        "supervising_department_code",
        &mut v,
    );
    let region = RegionCode::parse(&unit.fiscal_region_code)
        .map_err(|e| v.push("fiscal_region_code", e.to_string()))
        .ok();
    match (code, valid_from, level, region) {
        (Some(code), Some(valid_from), Some(budget_level), Some(fiscal_region))
            if v.0.is_empty() =>
        {
            Ok(Unit {
                code,
                name: unit.name.trim().to_owned(),
                valid_from,
                valid_to,
                budget_level,
                unit_type: kind,
                parent,
                supervising_department: supervising,
                fiscal_region,
                is_department: unit.is_department,
                is_region: unit.is_region,
            })
        }
        _ => Err(v.0),
    }
}

pub fn unit_to_pb(unit: &Unit) -> pb::Unit {
    pb::Unit {
        code: unit.code.to_string(),
        name: unit.name.clone(),
        valid_from_year: unit.valid_from.get(),
        valid_to_year: unit.valid_to.map_or(0, FiscalYear::get),
        budget_level: budget_level_to_pb(unit.budget_level) as i32,
        unit_type: unit_type_to_pb(unit.unit_type) as i32,
        parent_code: unit
            .parent
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        supervising_department_code: unit
            .supervising_department
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        fiscal_region_code: unit.fiscal_region.to_string(),
        is_department: unit.is_department,
        is_region: unit.is_region,
    }
}

pub fn tree_node_to_pb(node: &TreeNode) -> pb::UnitNode {
    pb::UnitNode {
        unit: Some(unit_to_pb(&node.unit)),
        depth: node.depth,
    }
}

/// A code and a year from a request, both required.
pub fn unit_and_year(
    code: &str,
    fiscal_year: u32,
) -> Result<(UnitCode, FiscalYear), Vec<FieldViolation>> {
    let mut v = Violations::default();
    let code = unit_code(code, "unit_code", &mut v);
    let year = year(fiscal_year, "fiscal_year", &mut v);
    match (code, year) {
        (Some(code), Some(year)) => Ok((code, year)),
        _ => Err(v.0),
    }
}

pub fn fiscal_year(value: u32, path: &str) -> Result<FiscalYear, Vec<FieldViolation>> {
    let mut v = Violations::default();
    let y = year(value, path, &mut v);
    v.finish(())?;
    Ok(y.expect("no violation means a year"))
}

pub fn optional_code(text: &str, path: &str) -> Result<Option<UnitCode>, Vec<FieldViolation>> {
    let mut v = Violations::default();
    let code = optional_unit_code(text, path, &mut v);
    v.finish(code)
}

pub fn code(text: &str, path: &str) -> Result<UnitCode, Vec<FieldViolation>> {
    let mut v = Violations::default();
    let code = unit_code(text, path, &mut v);
    v.finish(())?;
    Ok(code.expect("no violation means a code"))
}

fn cover(cover: pb::Cover, v: &mut Violations) -> Option<Cover> {
    let root = Path::ROOT.field("cover");
    let code = unit_code(&cover.unit_code, "cover.unit_code", v);
    let fiscal_year = year(cover.fiscal_year, "cover.fiscal_year", v);
    let budget_level =
        enum_value::<pb::BudgetLevel>(cover.budget_level, root.field("budget_level"), v)
            .and_then(budget_level);
    let unit_type =
        enum_value::<pb::UnitType>(cover.unit_type, root.field("unit_type"), v).and_then(unit_type);
    let supervising = optional_unit_code(
        &cover.supervising_department_code,
        "cover.supervising_department_code",
        v,
    );
    let parent = optional_unit_code(&cover.parent_unit_code, "cover.parent_unit_code", v);
    let region = if cover.fiscal_region_code.is_empty() {
        None
    } else {
        RegionCode::parse(&cover.fiscal_region_code)
            .map_err(|e| v.push("cover.fiscal_region_code", e.to_string()))
            .ok()
    };
    let report_type =
        match enum_value::<pb::ReportType>(cover.report_type, root.field("report_type"), v) {
            Some(pb::ReportType::Consolidated) => ReportType::Consolidated,
            Some(pb::ReportType::Adjustment) => ReportType::Adjustment,
            _ => ReportType::Single,
        };
    let amount_unit =
        match enum_value::<pb::AmountUnit>(cover.amount_unit, root.field("amount_unit"), v) {
            Some(pb::AmountUnit::Yuan) => Some(AmountUnit::Yuan),
            Some(pb::AmountUnit::TenThousandYuan) => Some(AmountUnit::TenThousandYuan),
            Some(pb::AmountUnit::Unspecified) => {
                v.push(
                    "cover.amount_unit",
                    "is required: AMOUNT_UNIT_YUAN or AMOUNT_UNIT_TEN_THOUSAND_YUAN",
                );
                None
            }
            None => None,
        };
    Some(Cover {
        unit_code: code?,
        unit_name: cover.unit_name.trim().to_owned(),
        fiscal_year: fiscal_year?,
        budget_level,
        unit_type,
        supervising_department_code: supervising,
        supervising_department_name: cover.supervising_department_name,
        parent_unit_code: parent,
        fiscal_region_code: region,
        report_type,
        amount_unit: amount_unit?,
    })
}

fn table(table: pb::Table, path: Path<'_>, v: &mut Violations) -> TableDraft {
    let completeness = match enum_value::<pb::TableCompleteness>(
        table.completeness,
        path.field("completeness"),
        v,
    ) {
        Some(pb::TableCompleteness::Partial) => Completeness::Partial,
        _ => Completeness::Complete,
    };
    let rows = table
        .rows
        .into_iter()
        .enumerate()
        .map(|(r, row)| {
            let row_path = path.item("rows", r);
            let cells = row
                .cells
                .into_iter()
                .enumerate()
                .filter_map(|(c, cell)| {
                    let cell_path = row_path.item("cells", c);
                    if cell.value.is_none() {
                        v.push(
                            cell_path.field("value"),
                            "is missing; give the cell's value, or leave the cell out",
                        );
                        return None;
                    }
                    decimal(&cell.value, cell_path.field("value"), v).map(|value| CellDraft {
                        column: cell.column,
                        value,
                    })
                })
                .collect();
            RowDraft {
                code: row.code,
                label: row.label,
                cells,
            }
        })
        .collect();
    TableDraft {
        code: table.code,
        completeness,
        declared_empty: table.declared_empty,
        rows,
    }
}

/// Collects a typed section's numbers as facts for the taxonomy's supplementary tables.
struct Facts<'v> {
    section: &'static str,
    out: Vec<SectionFact>,
    v: &'v mut Violations,
}

impl Facts<'_> {
    fn count<N: Into<i64> + Copy>(&mut self, field: &'static str, value: Option<N>) {
        if let Some(n) = value {
            self.out.push(SectionFact {
                section: self.section,
                field,
                value: Value::from_count(n.into()),
            });
        }
    }

    fn amount(&mut self, field: &'static str, value: &Option<pb::Decimal>) {
        let section = Path::ROOT.field(self.section);
        if let Some(value) = decimal(value, section.field(field), self.v) {
            self.out.push(SectionFact {
                section: self.section,
                field,
                value,
            });
        }
    }
}

fn section_facts(d: &pb::Disclosure, v: &mut Violations) -> Vec<SectionFact> {
    let mut out = Vec::new();
    if let Some(s) = &d.staffing {
        let mut f = Facts {
            section: "staffing",
            out: Vec::new(),
            v,
        };
        f.count("total", s.total);
        f.count("in_service", s.in_service);
        f.count("retired_cadres", s.retired_cadres);
        f.count("retirees", s.retirees);
        f.count("in_service_change", s.in_service_change);
        f.count("retired_cadres_change", s.retired_cadres_change);
        f.count("retirees_change", s.retirees_change);
        f.count("subordinate_units", s.subordinate_units);
        f.count("internal_offices", s.internal_offices);
        out.extend(f.out);
    }
    if let Some(c) = &d.three_public_counts {
        let mut f = Facts {
            section: "three_public_counts",
            out: Vec::new(),
            v,
        };
        f.count("delegations", c.delegations);
        f.count("delegation_trips", c.delegation_trips);
        f.count("vehicles_purchased", c.vehicles_purchased);
        f.count("vehicles_held", c.vehicles_held);
        f.count("receptions", c.receptions);
        f.count("reception_visitors", c.reception_visitors);
        out.extend(f.out);
    }
    if let Some(p) = &d.procurement {
        let mut f = Facts {
            section: "procurement",
            out: Vec::new(),
            v,
        };
        f.amount("total", &p.total);
        f.amount("goods", &p.goods);
        f.amount("works", &p.works);
        f.amount("services", &p.services);
        f.amount("sme_contracts", &p.sme_contracts);
        f.amount("sme_share", &p.sme_share);
        f.amount("small_micro_contracts", &p.small_micro_contracts);
        f.amount("small_micro_share", &p.small_micro_share);
        out.extend(f.out);
    }
    if let Some(a) = &d.assets {
        let mut f = Facts {
            section: "assets",
            out: Vec::new(),
            v,
        };
        f.amount("building_area_m2", &a.building_area_m2);
        f.amount("building_value", &a.building_value);
        f.count("vehicles", a.vehicles);
        f.amount("vehicle_value", &a.vehicle_value);
        if let Some(u) = &a.vehicles_by_use {
            f.count("vehicles_by_use.senior_officials", u.senior_officials);
            f.count("vehicles_by_use.principal", u.principal);
            f.count(
                "vehicles_by_use.confidential_communication",
                u.confidential_communication,
            );
            f.count("vehicles_by_use.emergency", u.emergency);
            f.count("vehicles_by_use.law_enforcement", u.law_enforcement);
            f.count("vehicles_by_use.special_technical", u.special_technical);
            f.count("vehicles_by_use.retiree_service", u.retiree_service);
            f.count("vehicles_by_use.other", u.other);
        }
        f.count("equipment_over_1m", a.equipment_over_1m);
        out.extend(f.out);
    }
    if let Some(o) = &d.operating_expenses {
        let mut f = Facts {
            section: "operating_expenses",
            out: Vec::new(),
            v,
        };
        f.amount("agency_operating", &o.agency_operating);
        f.amount("public_expenses", &o.public_expenses);
        out.extend(f.out);
    }
    out
}

fn funds_row(row: pb::FundsRow, path: Path<'_>, v: &mut Violations) -> Option<FundsRow> {
    let source = match enum_value::<pb::FundsSource>(row.source, path.field("source"), v)? {
        pb::FundsSource::Unspecified => {
            v.push(
                path.field("source"),
                "is required (TOTAL, CURRENT_APPROPRIATION, …)",
            );
            return None;
        }
        pb::FundsSource::Total => FundsSource::Total,
        pb::FundsSource::CurrentAppropriation => FundsSource::CurrentAppropriation,
        pb::FundsSource::PriorYearCarryover => FundsSource::PriorYearCarryover,
        pb::FundsSource::Other => FundsSource::Other,
        pb::FundsSource::Superior => FundsSource::Superior,
        pb::FundsSource::SameLevel => FundsSource::SameLevel,
    };
    Some(FundsRow {
        source,
        label: row.label,
        initial_budget: decimal(&row.initial_budget, path.field("initial_budget"), v),
        full_year_budget: decimal(&row.full_year_budget, path.field("full_year_budget"), v),
        executed: decimal(&row.executed, path.field("executed"), v),
        weight: decimal(&row.weight, path.field("weight"), v),
        execution_rate: decimal(&row.execution_rate, path.field("execution_rate"), v),
        score: decimal(&row.score, path.field("score"), v),
    })
}

fn measure(m: pb::Measure, path: Path<'_>, v: &mut Violations) -> Measure {
    let comparator = match enum_value::<pb::Comparator>(m.comparator, path.field("comparator"), v) {
        Some(pb::Comparator::Ge) => Some(Comparator::Ge),
        Some(pb::Comparator::Le) => Some(Comparator::Le),
        Some(pb::Comparator::Eq) => Some(Comparator::Eq),
        Some(pb::Comparator::Gt) => Some(Comparator::Gt),
        Some(pb::Comparator::Lt) => Some(Comparator::Lt),
        Some(pb::Comparator::Qualitative) => Some(Comparator::Qualitative),
        _ => None,
    };
    let number = |v: &mut Violations| {
        if m.number.is_none() {
            v.push(path.field("number"), "is required for this kind of measure");
        }
        decimal(&m.number, path.field("number"), v)
    };
    let value = match enum_value::<pb::MeasureKind>(m.kind, path.field("kind"), v) {
        Some(pb::MeasureKind::Number) => number(v).map(|value| MeasureValue::Number {
            value,
            unit: m.unit,
        }),
        Some(pb::MeasureKind::Percent) => number(v).map(MeasureValue::Percent),
        Some(pb::MeasureKind::Duration) => number(v).map(|value| MeasureValue::Duration {
            value,
            unit: m.unit,
        }),
        Some(pb::MeasureKind::Date) => match DateSpec::parse(&m.date) {
            Some(date) => Some(MeasureValue::Date(date)),
            None => {
                v.push(
                    path.field("date"),
                    format!("\"{}\" is not a date YYYY-MM-DD or a month YYYY-MM", m.date),
                );
                None
            }
        },
        Some(pb::MeasureKind::Text) => Some(MeasureValue::Text(if m.text.is_empty() {
            m.raw.clone()
        } else {
            m.text
        })),
        _ => None,
    };
    Measure {
        raw: m.raw,
        comparator,
        value,
    }
}

fn indicator(i: pb::Indicator, path: Path<'_>, v: &mut Violations) -> Indicator {
    let scoring_rule =
        match enum_value::<pb::ScoringRule>(i.scoring_rule, path.field("scoring_rule"), v) {
            Some(pb::ScoringRule::Proportional) => Some(ScoringRule::Proportional),
            Some(pb::ScoringRule::Graded) => Some(ScoringRule::Graded),
            Some(pb::ScoringRule::Direct) => Some(ScoringRule::Direct),
            Some(pb::ScoringRule::Satisfaction) => Some(ScoringRule::Satisfaction),
            _ => None,
        };
    Indicator {
        level1: i.level1,
        level2: i.level2,
        name: i.name,
        weight: decimal(&i.weight, path.field("weight"), v),
        target: i.target.map(|m| measure(m, path.field("target"), v)),
        actual: i.actual.map(|m| measure(m, path.field("actual"), v)),
        completion_rate: decimal(&i.completion_rate, path.field("completion_rate"), v),
        score: decimal(&i.score, path.field("score"), v),
        scoring_rule,
        deviation_reason: i.deviation_reason,
    }
}

/// The parts the unit's and a project's self-evaluation messages share.
struct EvaluationParts {
    project: Option<String>,
    goal_expected: String,
    goal_actual: String,
    funds: Vec<pb::FundsRow>,
    indicators: Vec<pb::Indicator>,
    total_weight: Option<pb::Decimal>,
    total_score: Option<pb::Decimal>,
}

fn evaluation(parts: EvaluationParts, path: Path<'_>, v: &mut Violations) -> Evaluation {
    Evaluation {
        project: parts.project,
        goal_expected: parts.goal_expected,
        goal_actual: parts.goal_actual,
        funds: parts
            .funds
            .into_iter()
            .enumerate()
            .filter_map(|(i, row)| funds_row(row, path.item("funds", i), v))
            .collect(),
        indicators: parts
            .indicators
            .into_iter()
            .enumerate()
            .map(|(i, ind)| indicator(ind, path.item("indicators", i), v))
            .collect(),
        total_weight: decimal(&parts.total_weight, path.field("total_weight"), v),
        total_score: decimal(&parts.total_score, path.field("total_score"), v),
    }
}

/// A disclosure from the wire; paths are relative to the `Disclosure` message. Takes the message by value: its
/// strings (every cell's column, every row's code and label, the texts) move into the draft instead of being
/// copied, since the handlers drop the message afterwards anyway.
pub fn disclosure_draft(mut d: pb::Disclosure) -> Result<DisclosureDraft, Vec<FieldViolation>> {
    let mut v = Violations::default();
    let Some(pb_cover) = d.cover.take() else {
        v.push(
            "cover",
            "is required: a disclosure names its unit, year and amount unit",
        );
        return Err(v.0);
    };
    let cover = cover(pb_cover, &mut v);
    let tables = std::mem::take(&mut d.tables)
        .into_iter()
        .enumerate()
        .map(|(t, tb)| table(tb, Path::ROOT.item("tables", t), &mut v))
        .collect();
    // The typed sections stay in the message: their facts are read from it after the tables moved out.
    let section_facts = section_facts(&d, &mut v);
    let narrative = std::mem::take(&mut d.narrative)
        .into_iter()
        .map(|n| NarrativeSection {
            key: n.key,
            title: n.title,
            text: n.text,
        })
        .collect();
    let unit_evaluation = d.unit_evaluation.take().map(|u| {
        let parts = EvaluationParts {
            project: None,
            goal_expected: u.goal_expected,
            goal_actual: u.goal_actual,
            funds: u.funds,
            indicators: u.indicators,
            total_weight: None,
            total_score: u.total_score,
        };
        evaluation(parts, Path::ROOT.field("unit_evaluation"), &mut v)
    });
    let project_evaluations = std::mem::take(&mut d.project_evaluations)
        .into_iter()
        .enumerate()
        .map(|(p, pe)| {
            let path = Path::ROOT.item("project_evaluations", p);
            if pe.name.trim().is_empty() {
                v.push(path.field("name"), "is required");
            }
            let parts = EvaluationParts {
                project: Some(pe.name),
                goal_expected: pe.goal_expected,
                goal_actual: pe.goal_actual,
                funds: pe.funds,
                indicators: pe.indicators,
                total_weight: pe.total_weight,
                total_score: pe.total_score,
            };
            evaluation(parts, path, &mut v)
        })
        .collect();
    match cover {
        Some(cover) if v.0.is_empty() => Ok(DisclosureDraft {
            cover,
            tables,
            section_facts,
            narrative,
            unit_evaluation,
            project_evaluations,
        }),
        _ => Err(v.0),
    }
}

fn severity_to_pb(severity: Severity) -> pb::Severity {
    match severity {
        Severity::Error => pb::Severity::Error,
        Severity::Warning => pb::Severity::Warning,
        Severity::Info => pb::Severity::Info,
    }
}

fn decimal_to_pb(value: Option<rust_decimal::Decimal>) -> Option<pb::Decimal> {
    value.map(|d| pb::Decimal {
        value: d.to_string(),
    })
}

fn cell_to_pb(cell: &CellRef) -> pb::CellRef {
    pb::CellRef {
        table: cell.table.clone(),
        row: cell.row.clone(),
        column: cell.column.clone(),
        unit_code: cell.unit.clone().unwrap_or_default(),
    }
}

pub fn finding_to_pb(f: &Finding) -> pb::Finding {
    pb::Finding {
        rule_id: f.rule_id.clone(),
        severity: severity_to_pb(f.severity) as i32,
        message: f.message.clone(),
        cells: f.cells.iter().map(cell_to_pb).collect(),
        provided: decimal_to_pb(f.provided),
        expected: decimal_to_pb(f.expected),
        difference: decimal_to_pb(f.difference),
        project: f
            .project
            .as_ref()
            .map(|(_, name)| name.clone())
            .unwrap_or_default(),
        project_index: f.project.as_ref().map_or(0, |(i, _)| *i as u32),
        indicator: f.indicator.clone().unwrap_or_default(),
        key: f.key.clone(),
        explanation: f.explanation.clone().unwrap_or_default(),
    }
}

pub fn report_to_pb(report: &Report) -> pb::ValidationReport {
    pb::ValidationReport {
        fiscal_year: report.fiscal_year.get(),
        findings: report.findings.iter().map(finding_to_pb).collect(),
        error_count: report.count(Severity::Error) as u32,
        warning_count: report.count(Severity::Warning) as u32,
        info_count: report.count(Severity::Info) as u32,
        checks_evaluated: report.checks_evaluated,
        checks_not_evaluated: report.checks_not_evaluated,
        unexplained_warning_count: report.unexplained_warnings() as u32,
    }
}

pub fn timestamp(ms: i64) -> Timestamp {
    Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// A stored version for the wire; the disclosure is decoded from the stored bytes when asked for.
pub fn submission_to_pb(
    s: &StoredSubmission,
    include_disclosure: bool,
) -> Result<pb::Submission, prost::DecodeError> {
    let disclosure = match (&s.content, include_disclosure) {
        (Some(bytes), true) => Some(prost::Message::decode(bytes.as_slice())?),
        _ => None,
    };
    Ok(pb::Submission {
        unit_code: s.unit_code.to_string(),
        fiscal_year: s.fiscal_year.get(),
        version: s.version,
        state: state_to_pb(s.state) as i32,
        current: s.current,
        idempotency_key: s.idempotency_key.clone(),
        content_sm3: s.content_sm3.clone(),
        content_bytes: s.content_len,
        submitted_at: Some(timestamp(s.submitted_at_ms)),
        report: Some(report_to_pb(&s.report)),
        disclosure,
        report_type: report_type_to_pb(s.report_type) as i32,
        submitted_by: s.submitted_by.clone(),
        signature: s.signature.clone().unwrap_or_default(),
        review_reason: s.review_reason.clone().unwrap_or_default(),
    })
}

pub fn state_to_pb(state: SubmissionState) -> pb::SubmissionState {
    match state {
        SubmissionState::RejectedByRules => pb::SubmissionState::RejectedByRules,
        SubmissionState::PendingReview => pb::SubmissionState::PendingReview,
        SubmissionState::Returned => pb::SubmissionState::Returned,
        SubmissionState::Accepted => pb::SubmissionState::Accepted,
    }
}

pub fn report_type_to_pb(report_type: ReportType) -> pb::ReportType {
    match report_type {
        ReportType::Single => pb::ReportType::Single,
        ReportType::Consolidated => pb::ReportType::Consolidated,
        ReportType::Adjustment => pb::ReportType::Adjustment,
    }
}

/// A report type a request names: 单户表 when unspecified.
pub fn report_type(value: i32, path: &str) -> Result<ReportType, Vec<FieldViolation>> {
    match pb::ReportType::try_from(value) {
        Ok(pb::ReportType::Unspecified | pb::ReportType::Single) => Ok(ReportType::Single),
        Ok(pb::ReportType::Consolidated) => Ok(ReportType::Consolidated),
        Ok(pb::ReportType::Adjustment) => Ok(ReportType::Adjustment),
        Err(_) => Err(vec![FieldViolation::new(
            path,
            format!("{value} is not a known value of this enum"),
        )]),
    }
}

/// Milliseconds since the epoch from a timestamp at `field`, or what is wrong with it: nanos outside
/// 0..=999,999,999 (a timestamp's normal form; another value would be read as some other instant), or seconds too
/// large to count in milliseconds.
pub fn timestamp_ms(t: &Timestamp, field: &str) -> Result<i64, FieldViolation> {
    if !(0..=999_999_999).contains(&t.nanos) {
        return Err(FieldViolation::new(
            format!("{field}.nanos"),
            "must be from 0 to 999999999",
        ));
    }
    t.seconds
        .checked_mul(1000)
        .and_then(|ms| ms.checked_add(i64::from(t.nanos / 1_000_000)))
        .ok_or_else(|| FieldViolation::new(format!("{field}.seconds"), "is out of range"))
}

pub fn principal_kind_to_pb(kind: &PrincipalKind) -> pb::Principal {
    pb::Principal {
        kind: Some(match kind {
            PrincipalKind::Admin => pb::principal::Kind::Admin(true),
            PrincipalKind::Service { name } => pb::principal::Kind::ServiceName(name.to_string()),
            PrincipalKind::Unit { code, role } => pb::principal::Kind::Unit(pb::UnitPrincipal {
                unit_code: code.to_string(),
                role: match role {
                    Role::Submitter => pb::Role::Submitter,
                    Role::Reader => pb::Role::Reader,
                    Role::Reviewer => pb::Role::Reviewer,
                } as i32,
            }),
        }),
    }
}

/// A principal a request names; paths are under `principal`.
pub fn principal_kind(
    principal: Option<&pb::Principal>,
) -> Result<PrincipalKind, Vec<FieldViolation>> {
    let missing = || {
        vec![FieldViolation::new(
            "principal",
            "is required: a unit with a role, a service, or admin",
        )]
    };
    match principal
        .and_then(|p| p.kind.as_ref())
        .ok_or_else(missing)?
    {
        pb::principal::Kind::Admin(true) => Ok(PrincipalKind::Admin),
        pb::principal::Kind::Admin(false) => Err(missing()),
        pb::principal::Kind::ServiceName(name) => ServiceName::parse(name)
            .map(|name| PrincipalKind::Service { name })
            .map_err(|e| vec![FieldViolation::new("principal.service_name", e)]),
        pb::principal::Kind::Unit(unit) => {
            let code = UnitCode::parse(&unit.unit_code).map_err(|e| {
                vec![FieldViolation::new(
                    "principal.unit.unit_code",
                    e.to_string(),
                )]
            })?;
            let role = match pb::Role::try_from(unit.role) {
                Ok(pb::Role::Submitter) => Role::Submitter,
                Ok(pb::Role::Reader) => Role::Reader,
                Ok(pb::Role::Reviewer) => Role::Reviewer,
                _ => {
                    return Err(vec![FieldViolation::new(
                        "principal.unit.role",
                        "is required: SUBMITTER, READER or REVIEWER",
                    )]);
                }
            };
            Ok(PrincipalKind::Unit { code, role })
        }
    }
}

pub fn token_to_pb(t: &TokenRecord) -> pb::Token {
    pb::Token {
        id: t.id.clone(),
        principal: Some(principal_kind_to_pb(&t.principal)),
        label: t.label.clone(),
        issued_at: Some(timestamp(t.issued_at_ms)),
        issued_by: t.issued_by.clone(),
        expires_at: t.expires_at_ms.map(timestamp),
        revoked_at: t.revoked_at_ms.map(timestamp),
        revoked_by: t.revoked_by.clone().unwrap_or_default(),
    }
}

pub fn year_status_to_pb(status: &YearStatus) -> pb::YearStatus {
    pb::YearStatus {
        unit_code: status.unit.to_string(),
        fiscal_year: status.fiscal_year.get(),
        report_type: report_type_to_pb(status.report_type) as i32,
        current_version: status.current.map_or(0, |(v, _)| v),
        current_state: status
            .current
            .map_or(pb::SubmissionState::Unspecified, |(_, s)| state_to_pb(s))
            as i32,
        accepted_version: status.accepted.unwrap_or(0),
        locked: status.lock.is_some(),
        locked_at_node: status
            .lock
            .as_ref()
            .map(|l| l.node.to_string())
            .unwrap_or_default(),
    }
}

pub fn lock_outcome_to_pb(outcome: &LockOutcome) -> pb::LockResponse {
    pb::LockResponse {
        node_code: outcome.node.to_string(),
        fiscal_year: outcome.fiscal_year.get(),
        locked: outcome.lock.is_some(),
        locked_by_node: outcome
            .lock
            .as_ref()
            .map(|l| l.locked_by_node.to_string())
            .unwrap_or_default(),
        units: outcome.units,
        units_accepted: outcome.units_accepted,
        audit_seq: outcome.audit_seq,
    }
}

pub fn pending_to_pb(p: &PendingVersion) -> pb::PendingVersion {
    pb::PendingVersion {
        unit: Some(unit_to_pb(&p.unit)),
        version: p.version,
        report_type: report_type_to_pb(p.report_type) as i32,
        submitted_at: Some(timestamp(p.submitted_at_ms)),
        warning_count: p.warnings,
        unexplained_warning_count: p.unexplained_warnings,
        reviewer_node: p
            .reviewer_node
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
    }
}

pub fn verification_to_pb(v: &Verification) -> pb::VerifyChainResponse {
    pb::VerifyChainResponse {
        events: v.events,
        intact: v.intact(),
        first_broken_seq: v.broken.as_ref().map_or(0, |(seq, _)| *seq),
        problem: v
            .broken
            .as_ref()
            .map(|(_, problem)| problem.clone())
            .unwrap_or_default(),
        head_hash: hex::encode(v.head),
        damaged_versions: v
            .damaged
            .iter()
            .map(|d| pb::DamagedVersion {
                unit_code: d.unit.to_string(),
                fiscal_year: d.fiscal_year.get(),
                version: d.version,
                problem: d.problem.clone(),
            })
            .collect(),
        versions_checked: v.versions_checked,
        head_problem: v.head_problem.clone().unwrap_or_default(),
        head_seq: v.head_seq,
    }
}

pub fn head_to_pb(head: &crate::domain::audit::SignedHead) -> pb::ChainHead {
    pb::ChainHead {
        seq: head.seq,
        hash: hex::encode(head.hash),
        signature: hex::encode(&head.signature),
        public_key: hex::encode(&head.public_key),
        public_key_fingerprint: crate::domain::signing::fingerprint(&head.public_key),
    }
}

/// A kept head from a verify request: none when the seq is 0.
pub fn kept_head(
    seq: u64,
    hash: &str,
) -> Result<Option<crate::domain::audit::KeptHead>, Vec<FieldViolation>> {
    if seq == 0 {
        return Ok(None);
    }
    crate::domain::audit::KeptHead::parse(&format!("{seq}:{hash}"))
        .map(Some)
        .map_err(|_| vec![FieldViolation::new("kept_head_hash", "is 64 hex digits")])
}

pub fn event_to_pb(e: &AuditEvent) -> pb::AuditEvent {
    pb::AuditEvent {
        seq: e.seq,
        at: Some(timestamp(e.event.at_ms)),
        actor: e.event.actor.clone(),
        action: e.event.action.clone(),
        unit_code: e
            .event
            .unit
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        fiscal_year: e.event.fiscal_year.map_or(0, FiscalYear::get),
        version: e.event.version.unwrap_or(0),
        reason: e.event.reason.clone(),
        detail: e.event.detail.clone(),
        prev_hash: hex::encode(e.prev_hash),
        hash: hex::encode(e.hash),
    }
}

/// The unit a request asks amounts in: 万元 when unspecified.
pub fn amount_unit(value: i32) -> Result<AmountUnit, Vec<FieldViolation>> {
    match pb::AmountUnit::try_from(value) {
        Ok(pb::AmountUnit::Yuan) => Ok(AmountUnit::Yuan),
        Ok(pb::AmountUnit::TenThousandYuan | pb::AmountUnit::Unspecified) => {
            Ok(AmountUnit::TenThousandYuan)
        }
        Err(_) => Err(vec![FieldViolation::new(
            "amount_unit",
            format!("{value} is not a known amount unit"),
        )]),
    }
}

fn amount_unit_to_pb(unit: AmountUnit) -> pb::AmountUnit {
    match unit {
        AmountUnit::Yuan => pb::AmountUnit::Yuan,
        AmountUnit::TenThousandYuan => pb::AmountUnit::TenThousandYuan,
    }
}

fn table_view_to_pb(view: &consolidation::TableView) -> pb::Table {
    pb::Table {
        code: view.code.clone(),
        completeness: pb::TableCompleteness::Complete as i32,
        declared_empty: false,
        rows: view
            .rows
            .iter()
            .map(|(code, cells)| pb::Row {
                code: code.clone(),
                label: view.labels.get(code).cloned().unwrap_or_default(),
                cells: cells
                    .iter()
                    .map(|(column, value)| pb::Cell {
                        column: column.clone(),
                        value: Some(pb::Decimal {
                            value: value.to_string(),
                        }),
                    })
                    .collect(),
            })
            .collect(),
    }
}

pub fn consolidated_to_pb(view: &consolidation::ConsolidatedView) -> pb::ConsolidatedReport {
    pb::ConsolidatedReport {
        node: Some(unit_to_pb(&view.node)),
        fiscal_year: view.fiscal_year.get(),
        amount_unit: amount_unit_to_pb(view.amount_unit) as i32,
        tables: view.tables.iter().map(table_view_to_pb).collect(),
        adjustments: view.adjustments.iter().map(table_view_to_pb).collect(),
        elimination_findings: view.findings.iter().map(finding_to_pb).collect(),
        partial: view.partial,
        units_expected: view.units_expected,
        units_counted: view.units_counted,
        partial_tables: view.partial_tables.clone(),
        inexact_figures: view.inexact_figures,
        policy: view.policy.to_owned(),
        unmatched: view.unmatched.iter().map(unmatched_to_pb).collect(),
        findings: view.table_findings.iter().map(finding_to_pb).collect(),
    }
}

fn unmatched_to_pb(line: &consolidation::UnmatchedLine) -> pb::UnmatchedElimination {
    use consolidation::UnmatchedReason as R;
    let decimal = |d: rust_decimal::Decimal| {
        Some(pb::Decimal {
            value: d.to_string(),
        })
    };
    pb::UnmatchedElimination {
        pair_id: line.pair_id.clone(),
        pair_name: line.pair_name.clone(),
        payer: Some(unit_to_pb(&line.payer)),
        payer_amount: decimal(line.payer_amount),
        payees: line
            .payees
            .iter()
            .map(|p| pb::UnmatchedPayee {
                unit: Some(unit_to_pb(&p.unit)),
                counted: p.counted,
                amount: p.amount.and_then(decimal),
            })
            .collect(),
        counted_amount: decimal(line.counted_amount),
        matched: decimal(line.matched),
        payer_unmatched: decimal(line.payer_unmatched),
        payees_unmatched: decimal(line.payees_unmatched),
        reason: match line.reason {
            R::PayerNotCounted => pb::UnmatchedReason::PayerNotCounted,
            R::PayeeNotCounted => pb::UnmatchedReason::PayeeNotCounted,
            R::MeetsAbove => pb::UnmatchedReason::MeetsAbove,
            R::AmountsDiffer => pb::UnmatchedReason::AmountsDiffer,
        } as i32,
        reason_text: line.reason.describe().to_owned(),
        beyond_rounding: line.beyond_rounding,
    }
}

pub fn explanation_to_pb(e: &consolidation::CellExplanation) -> pb::CellExplanation {
    let decimal = |d: rust_decimal::Decimal| {
        Some(pb::Decimal {
            value: d.to_string(),
        })
    };
    pb::CellExplanation {
        node: Some(unit_to_pb(&e.node)),
        cell: Some(cell_to_pb(&e.cell)),
        value: decimal(e.value),
        own: decimal(e.own),
        own_version: e.own_version.unwrap_or(0),
        children: e
            .children
            .iter()
            .map(|c| pb::ChildContribution {
                unit: Some(unit_to_pb(&c.unit)),
                value: decimal(c.value),
                has_children: c.has_children,
                counted_version: c.counted_version.unwrap_or(0),
            })
            .collect(),
        eliminations: e
            .eliminations
            .iter()
            .map(|x| pb::EliminationEntry {
                pair_id: x.pair_id.clone(),
                pair_name: x.pair_name.clone(),
                unit_code: x.unit.to_string(),
                side: x.side.to_owned(),
                amount: decimal(x.amount),
            })
            .collect(),
    }
}

pub fn completeness_to_pb(view: &consolidation::CompletenessView) -> pb::CompletenessReport {
    pb::CompletenessReport {
        node: Some(unit_to_pb(&view.node)),
        fiscal_year: view.fiscal_year.get(),
        units: view
            .units
            .iter()
            .map(|u| pb::UnitProgress {
                unit: Some(unit_to_pb(&u.unit)),
                depth: u.depth,
                progress: match u.progress {
                    consolidation::Progress::NotExpected => pb::Progress::NotExpected,
                    consolidation::Progress::NeverSubmitted => pb::Progress::NeverSubmitted,
                    consolidation::Progress::RejectedByRules => pb::Progress::RejectedByRules,
                    consolidation::Progress::PendingReview => pb::Progress::PendingReview,
                    consolidation::Progress::Returned => pb::Progress::Returned,
                    consolidation::Progress::Accepted => pb::Progress::Accepted,
                } as i32,
                versions: u.versions,
                latest_version: u.latest_version.unwrap_or(0),
                counted_version: u.counted_version.unwrap_or(0),
                last_change: u.last_change_ms.map(timestamp),
                locked: u.locked,
            })
            .collect(),
        expected: view.expected,
        counted: view.counted,
        missing: view.missing,
        pending: view.pending,
        returned: view.returned,
        accepted: view.accepted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cover() -> pb::Cover {
        pb::Cover {
            unit_code: "652300101".into(),
            fiscal_year: 2024,
            amount_unit: pb::AmountUnit::TenThousandYuan as i32,
            ..Default::default()
        }
    }

    fn cell(column: &str, value: &str) -> pb::Cell {
        pb::Cell {
            column: column.into(),
            value: Some(pb::Decimal {
                value: value.into(),
            }),
        }
    }

    #[test]
    fn malformed_decimals_are_named_by_path() {
        let disclosure = pb::Disclosure {
            cover: Some(cover()),
            tables: vec![pb::Table {
                code: "T01".into(),
                rows: vec![pb::Row {
                    code: "income_total".into(),
                    cells: vec![
                        cell("amount", "1,2"),
                        cell("amount", "NaN"),
                        pb::Cell {
                            column: "x".into(),
                            value: None,
                        },
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            procurement: Some(pb::Procurement {
                total: Some(pb::Decimal {
                    value: "1e5".into(),
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let violations = disclosure_draft(disclosure).unwrap_err();
        let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "tables[0].rows[0].cells[0].value",
                "tables[0].rows[0].cells[1].value",
                "tables[0].rows[0].cells[2].value",
                "procurement.total"
            ]
        );
    }

    #[test]
    fn the_cover_is_required_and_checked() {
        let violations = disclosure_draft(pb::Disclosure::default()).unwrap_err();
        assert_eq!(violations[0].field, "cover");
        let mut bad = cover();
        bad.fiscal_year = 1999;
        bad.amount_unit = 0;
        bad.unit_code = "融媒体".into();
        let violations = disclosure_draft(pb::Disclosure {
            cover: Some(bad),
            ..Default::default()
        })
        .unwrap_err();
        let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            ["cover.unit_code", "cover.fiscal_year", "cover.amount_unit"]
        );
    }

    #[test]
    fn sections_become_facts() {
        let draft = disclosure_draft(pb::Disclosure {
            cover: Some(cover()),
            staffing: Some(pb::Staffing {
                total: Some(269),
                in_service_change: Some(-11),
                ..Default::default()
            }),
            ..Default::default()
        })
        .unwrap();
        let facts: Vec<(&str, String)> = draft
            .section_facts
            .iter()
            .map(|f| (f.field, f.value.to_string()))
            .collect();
        assert_eq!(
            facts,
            [
                ("total", "269".to_owned()),
                ("in_service_change", "-11".to_owned())
            ]
        );
    }

    #[test]
    fn units_round_trip() {
        let unit = pb::Unit {
            code: "652300101".into(),
            name: "昌吉州融媒体中心".into(),
            valid_from_year: 2024,
            budget_level: pb::BudgetLevel::Prefecture as i32,
            unit_type: pb::UnitType::PublicInstitutionClass2 as i32,
            parent_code: "652300001".into(),
            fiscal_region_code: "652300".into(),
            ..Default::default()
        };
        assert_eq!(unit_to_pb(&unit_from_pb(&unit).unwrap()), unit);
        let bad = pb::Unit {
            fiscal_region_code: "65".into(),
            ..unit
        };
        assert_eq!(
            unit_from_pb(&bad).unwrap_err()[0].field,
            "fiscal_region_code"
        );
    }
}
