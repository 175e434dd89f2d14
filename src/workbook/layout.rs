//! Where things are on the standard workbook's sheets — rows, columns, headers, the cover's fields, sheet names and
//! cell addresses — and how a cell reads as text: shared by reading and writing, depending on neither.

use calamine::{Data, Range};
use rust_xlsxwriter::XlsxError;

use crate::{
    domain::taxonomy::{ColumnKind, TableDef, Taxonomy},
    pb,
};

/// The cover sheet's name.
pub const COVER_SHEET: &str = "封面";
/// Largest workbook read, in bytes, and largest it may expand to: a filled workbook is well under a megabyte.
pub const MAX_WORKBOOK_BYTES: u64 = 32 * 1024 * 1024;
pub const MAX_EXPANDED_BYTES: u64 = 256 * 1024 * 1024;

/// Rows and columns of a table sheet (0-based).
pub(super) const TITLE_ROW: u32 = 0;
pub(super) const UNIT_ROW: u32 = 1;
pub(super) const AMOUNT_UNIT_ROW: u32 = 2;
pub(super) const HEADER_ROW: u32 = 3;
pub(super) const FIRST_DATA_ROW: u32 = 4;
pub(super) const CODE_COLUMN: u16 = 0;
pub(super) const NAME_COLUMN: u16 = 1;
pub(super) const FIRST_VALUE_COLUMN: u16 = 2;

/// Headers of the code and name columns.
pub(super) const CODE_HEADER: &str = "科目编码";
pub(super) const NAME_HEADER: &str = "项目";

/// Labels of the cover sheet's fields, in order, with their disclosure fields.
pub(super) const COVER_FIELDS: [(&str, &str); 12] = [
    ("单位代码", "unit_code"),
    ("单位名称", "unit_name"),
    ("年度", "fiscal_year"),
    ("预算级次", "budget_level"),
    ("单位类型", "unit_type"),
    ("主管部门代码", "supervising_department_code"),
    ("主管部门名称", "supervising_department_name"),
    ("上级单位代码", "parent_unit_code"),
    ("财政区划", "fiscal_region_code"),
    ("报表类型", "report_type"),
    ("金额单位", "amount_unit"),
    ("其他用车用途", "assets.other_vehicles_purpose"),
];
/// Where the cover's per-table flags start, and their headers.
pub(super) const COVER_TABLES_ROW: u32 = 14;
pub(super) const COVER_TABLES_HEADER: [&str; 3] = ["表", "空表（是/否）", "完整性（完整/部分）"];

/// The tables submitted as rows, each on its sheet and with its flags on the cover.
pub(super) fn workbook_tables(taxonomy: &Taxonomy) -> impl Iterator<Item = &TableDef> {
    taxonomy.tables.iter().filter(|t| t.section.is_none())
}

/// The tables of the typed sections (staffing, 三公 counts, …), each on its sheet: (table, section name).
pub(super) fn section_tables(taxonomy: &Taxonomy) -> impl Iterator<Item = (&TableDef, &str)> {
    taxonomy
        .tables
        .iter()
        .filter_map(|t| t.section.as_deref().map(|section| (t, section)))
}

/// A table's short name as users say it: its first alias ("公开05"), else its code.
pub(super) fn short_name(table: &TableDef) -> &str {
    table
        .aliases
        .first()
        .map_or(table.code.as_str(), String::as_str)
}

/// A table's sheet: "公开05 一般公共预算财政拨款支出决算表", cut to Excel's 31 characters.
pub(super) fn sheet_name(table: &TableDef) -> String {
    let full = format!("{} {}", short_name(table), table.name);
    full.chars()
        .filter(|c| !matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\'))
        .take(31)
        .collect()
}

/// Whether a column holds money, converted between 元 and 万元.
pub(super) fn is_money(kind: ColumnKind) -> bool {
    matches!(kind, ColumnKind::Amount)
}

/// Excel's name of a column: 0 → A, 27 → AB.
pub(super) fn column_letters(mut column: u16) -> String {
    let mut letters = Vec::new();
    loop {
        letters.push(b'A' + (column % 26) as u8);
        if column < 26 {
            break;
        }
        column = column / 26 - 1;
    }
    letters.reverse();
    String::from_utf8(letters).expect("ASCII")
}

/// A cell's address as users read it: `公开05!D12`.
pub(super) fn address(sheet: &str, row: u32, column: u16) -> String {
    format!("{sheet}!{}{}", column_letters(column), row + 1)
}

/// A cell as text: strings trimmed, whole numbers without ".0".
pub(super) fn text_of(range: &Range<Data>, row: u32, column: u16) -> String {
    match range.get_value((row, u32::from(column))) {
        Some(Data::String(s)) => s.trim().to_owned(),
        Some(Data::Int(i)) => i.to_string(),
        Some(Data::Float(f)) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Some(Data::Float(f)) => format!("{f}"),
        Some(Data::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// A table's figure at (row, column) as its decimal text, when the table gives one.
pub(super) fn figure_of<'t>(table: &'t pb::Table, row: &str, column: &str) -> Option<&'t str> {
    table
        .rows
        .iter()
        .find(|r| r.code == row)?
        .cells
        .iter()
        .find(|c| c.column == column)?
        .value
        .as_ref()
        .map(|v| v.value.as_str())
}

/// A pb enum's name as the CLI spells it: BUDGET_LEVEL_PREFECTURE → prefecture.
pub(super) fn enum_code(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix)
        .unwrap_or(name)
        .to_ascii_lowercase()
}

/// The cover's enumerations as accountants write them; the first name of each is the one written.
pub(super) const BUDGET_LEVEL_NAMES: [(pb::BudgetLevel, &[&str]); 5] = [
    (pb::BudgetLevel::Central, &["中央", "中央级"]),
    (pb::BudgetLevel::Provincial, &["省级", "省"]),
    (pb::BudgetLevel::Prefecture, &["市级", "地市级", "市", "州"]),
    (pb::BudgetLevel::County, &["县级", "县", "区县级"]),
    (pb::BudgetLevel::Township, &["乡级", "乡镇级", "乡镇"]),
];
pub(super) const UNIT_TYPE_NAMES: [(pb::UnitType, &[&str]); 6] = [
    (pb::UnitType::Administrative, &["行政单位", "行政"]),
    (
        pb::UnitType::PublicInstitutionClass1,
        &["公益一类事业单位", "公益一类"],
    ),
    (
        pb::UnitType::PublicInstitutionClass2,
        &["公益二类事业单位", "公益二类"],
    ),
    (
        pb::UnitType::PublicInstitutionCommercial,
        &["生产经营类事业单位", "生产经营类"],
    ),
    (pb::UnitType::Enterprise, &["企业"]),
    (pb::UnitType::Other, &["其他"]),
];
pub(super) const REPORT_TYPE_NAMES: [(pb::ReportType, &[&str]); 3] = [
    (pb::ReportType::Single, &["单户表", "单户"]),
    (pb::ReportType::Consolidated, &["汇总表", "汇总"]),
    (pb::ReportType::Adjustment, &["调整表", "调整"]),
];

pub(super) const FUNDS_SOURCE_NAMES: [(pb::FundsSource, &[&str]); 6] = [
    (pb::FundsSource::Total, &["年度资金总额", "合计"]),
    (
        pb::FundsSource::CurrentAppropriation,
        &["当年财政拨款", "财政拨款"],
    ),
    (
        pb::FundsSource::PriorYearCarryover,
        &["上年结转", "上年结转资金"],
    ),
    (pb::FundsSource::Other, &["其他资金"]),
    (pb::FundsSource::Superior, &["上级资金"]),
    (pb::FundsSource::SameLevel, &["本级资金"]),
];
pub(super) const SCORING_RULE_NAMES: [(pb::ScoringRule, &[&str]); 4] = [
    (
        pb::ScoringRule::Proportional,
        &["按照完成比例赋分", "按比例赋分"],
    ),
    (pb::ScoringRule::Graded, &["按评判等级赋分", "按等级赋分"]),
    (pb::ScoringRule::Direct, &["直接赋分"]),
    (pb::ScoringRule::Satisfaction, &["满意度赋分"]),
];

/// An enumeration's value from its Chinese name or the CLI's English one (prefecture, single …).
pub(super) fn enum_from<T: Copy>(
    names: &[(T, &[&str])],
    text: &str,
    from_str_name: impl Fn(&str) -> Option<T>,
    prefix: &str,
) -> Option<T> {
    names
        .iter()
        .find(|(_, words)| words.contains(&text))
        .map(|(value, _)| *value)
        .or_else(|| from_str_name(&format!("{prefix}{}", text.to_ascii_uppercase())))
}

/// An enumeration's Chinese name, empty when unset.
pub(super) fn enum_name<T: PartialEq>(names: &[(T, &[&'static str])], value: T) -> &'static str {
    names
        .iter()
        .find(|(v, _)| *v == value)
        .map_or("", |(_, words)| words[0])
}

#[derive(Debug, thiserror::Error)]
pub enum WorkbookError {
    #[error("the workbook cannot be written")]
    Xlsx(#[from] XlsxError),
    #[error("{0} is not a figure a workbook can hold exactly")]
    Figure(String),
}

/// The double whose shortest decimal text is `text`'s value: exact for figures of at most 15 significant digits,
/// refused otherwise (the workbook would change the figure).
pub(super) fn exact_double(text: &str) -> Result<f64, WorkbookError> {
    let number: f64 = text
        .parse()
        .map_err(|_| WorkbookError::Figure(text.to_owned()))?;
    let back: rust_decimal::Decimal = format!("{number}")
        .parse()
        .map_err(|_| WorkbookError::Figure(text.to_owned()))?;
    let given: rust_decimal::Decimal = text
        .parse()
        .map_err(|_| WorkbookError::Figure(text.to_owned()))?;
    if back != given {
        return Err(WorkbookError::Figure(text.to_owned()));
    }
    Ok(number)
}
