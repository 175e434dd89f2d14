//! Reading a filled workbook into a disclosure. Tolerant of what real files carry — numbers stored as text,
//! thousands separators, blank cells, a dash for "nothing", blank rows, a workbook in 元 (its amount line or cover
//! says so) converted to 万元 — and strict about what would change a figure: a fraction in a count, a text that is
//! not a number, a row that names no line or code of its table. Every problem is reported once, by cell.

use std::io::{Cursor, Read as _};

use calamine::{Data, Range, Reader, Xlsx, open_workbook_from_rs};
use rust_decimal::Decimal;

use super::{
    evaluations,
    layout::{
        AMOUNT_UNIT_ROW, CODE_COLUMN, COVER_FIELDS, COVER_SHEET, COVER_TABLES_ROW, FIRST_DATA_ROW,
        FIRST_VALUE_COLUMN, HEADER_ROW, MAX_EXPANDED_BYTES, MAX_WORKBOOK_BYTES, NAME_COLUMN,
        address, is_money, section_tables, short_name, text_of, workbook_tables,
    },
    sections,
};
use crate::{
    domain::{
        ids::FiscalYear,
        money::excerpt,
        taxonomy::{ColumnKind, TableDef, Taxonomies, Taxonomy},
    },
    pb,
};

/// One thing wrong with a workbook: where (`公开05!D12`, or the file) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub at: String,
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.at, self.reason)
    }
}

/// Most problems listed: a workbook that wrong is wrong throughout.
const MAX_PROBLEMS: usize = 200;

struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, at: impl Into<String>, reason: impl Into<String>) {
        if self.0.len() < MAX_PROBLEMS {
            self.0.push(Problem {
                at: at.into(),
                reason: reason.into(),
            });
        }
    }
}

/// The disclosure a workbook holds (cover and tables), or every problem found.
pub fn read(taxonomies: &Taxonomies, bytes: &[u8]) -> Result<pb::Disclosure, Vec<Problem>> {
    let whole = |reason: String| {
        vec![Problem {
            at: "the workbook".to_owned(),
            reason,
        }]
    };
    if bytes.len() as u64 > MAX_WORKBOOK_BYTES {
        return Err(whole(format!("is larger than {MAX_WORKBOOK_BYTES} bytes")));
    }
    check_expansion(bytes).map_err(whole)?;
    let mut workbook: Xlsx<_> =
        open_workbook_from_rs(Cursor::new(bytes)).map_err(|e: calamine::XlsxError| {
            whole(format!(
                "is not an .xlsx workbook ({})",
                excerpt(&e.to_string())
            ))
        })?;
    let mut problems = Problems(Vec::new());
    let sheets = workbook.sheet_names();
    if !sheets.iter().any(|s| s == COVER_SHEET) {
        return Err(whole(format!("has no sheet named {COVER_SHEET}")));
    }
    let cover_range = workbook.worksheet_range(COVER_SHEET).map_err(|e| {
        whole(format!(
            "its cover cannot be read ({})",
            excerpt(&e.to_string())
        ))
    })?;
    let (cover, mut section_values) = read_cover(&cover_range, &mut problems);
    let year = FiscalYear::new(cover.fiscal_year).ok();
    let Some(taxonomy) = year.and_then(|y| taxonomies.get(y)) else {
        problems.add(
            format!("{COVER_SHEET}!B4"),
            format!(
                "the year {} has no taxonomy (years with one: {})",
                cover.fiscal_year,
                taxonomies.years_list()
            ),
        );
        return Err(problems.0);
    };
    let flags = read_table_flags(&cover_range, taxonomy, &mut problems);
    let mut tables = Vec::new();
    for table in workbook_tables(taxonomy) {
        let short = short_name(table);
        let Some(sheet) = sheets
            .iter()
            .find(|s| s.starts_with(short) || s.starts_with(&table.code))
        else {
            continue;
        };
        let range = match workbook.worksheet_range(sheet) {
            Ok(range) => range,
            Err(e) => {
                problems.add(
                    short,
                    format!("cannot be read ({})", excerpt(&e.to_string())),
                );
                continue;
            }
        };
        let (empty, completeness) = flags
            .iter()
            .find(|(code, _, _)| *code == table.code)
            .map_or((false, pb::TableCompleteness::Unspecified), |f| (f.1, f.2));
        let in_yuan = amount_in_yuan(&range, &cover, table);
        let rows = read_rows(&range, taxonomy, table, short, in_yuan, &mut problems);
        if empty && !rows.is_empty() {
            problems.add(
                short,
                format!("is declared empty on the cover ({COVER_SHEET}) but has figures"),
            );
        }
        tables.push(pb::Table {
            code: table.code.clone(),
            completeness: completeness as i32,
            declared_empty: empty,
            rows,
        });
    }
    for (table, section) in section_tables(taxonomy) {
        let short = short_name(table);
        let Some(sheet) = sheets.iter().find(|s| s.starts_with(short)) else {
            continue;
        };
        let range = match workbook.worksheet_range(sheet) {
            Ok(range) => range,
            Err(e) => {
                problems.add(
                    short,
                    format!("cannot be read ({})", excerpt(&e.to_string())),
                );
                continue;
            }
        };
        let in_yuan = amount_in_yuan(&range, &cover, table);
        for row in read_rows(&range, taxonomy, table, short, in_yuan, &mut problems) {
            let Some(line) = table.line(&row.code) else {
                continue;
            };
            for cell in row.cells {
                let column = table.column_index(&cell.column);
                let Some((_, path)) = line.fields.iter().find(|(c, _)| Some(*c) == column) else {
                    problems.add(
                        short,
                        format!("{} has no {} figure", line.name, cell.column),
                    );
                    continue;
                };
                let value = cell.value.map(|v| v.value).unwrap_or_default();
                section_values.push((section.to_owned(), path.clone(), value, short.to_owned()));
            }
        }
    }
    let mut found = Vec::new();
    let mut unit_evaluation = None;
    let mut project_evaluations = Vec::new();
    if sheets.iter().any(|s| s == evaluations::UNIT_SHEET)
        && let Ok(range) = workbook.worksheet_range(evaluations::UNIT_SHEET)
    {
        unit_evaluation = evaluations::read_unit(&range, &mut found);
    }
    if sheets.iter().any(|s| s == evaluations::PROJECTS_SHEET)
        && let Ok(range) = workbook.worksheet_range(evaluations::PROJECTS_SHEET)
    {
        project_evaluations = evaluations::read_projects(&range, &mut found);
    }
    for (at, reason) in found {
        problems.add(at, reason);
    }
    if !problems.0.is_empty() {
        return Err(problems.0);
    }
    let mut cover = cover;
    // The figures are in 万元 now, whatever unit the workbook was in.
    cover.amount_unit = pb::AmountUnit::TenThousandYuan as i32;
    let disclosure = pb::Disclosure {
        cover: Some(cover),
        tables,
        unit_evaluation,
        project_evaluations,
        ..Default::default()
    };
    let values: Vec<(String, String, String)> = section_values
        .iter()
        .map(|(section, path, value, _)| (section.clone(), path.clone(), value.clone()))
        .collect();
    sections::set(disclosure, &values).map_err(|failed| {
        failed
            .into_iter()
            .map(|(index, reason)| Problem {
                at: section_values
                    .get(index)
                    .map_or_else(|| "the workbook".to_owned(), |v| v.3.clone()),
                reason,
            })
            .collect()
    })
}

/// Refuses a workbook whose parts would expand beyond [`MAX_EXPANDED_BYTES`] before the workbook reader sees
/// it: first by the sizes its zip directory records, then by inflating every part into nothing while counting and
/// stopping at the bound, which costs at most the bound's worth of inflating and no memory. A directory that
/// understates a part (a zip bomb) is refused there: its data overruns the count, or fails the recorded size and
/// CRC the zip reader checks it against.
fn check_expansion(bytes: &[u8]) -> Result<(), String> {
    check_expansion_within(bytes, MAX_EXPANDED_BYTES)
}

fn check_expansion_within(bytes: &[u8], limit: u64) -> Result<(), String> {
    let too_large = || format!("would expand to more than {limit} bytes");
    let damaged = || "is not an .xlsx workbook (a damaged part)".to_owned();
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|_| "is not an .xlsx workbook (not a zip archive)".to_owned())?;
    let mut recorded: u64 = 0;
    for index in 0..archive.len() {
        let part = archive.by_index_raw(index).map_err(|_| damaged())?;
        recorded = recorded.saturating_add(part.size());
    }
    if recorded > limit {
        return Err(too_large());
    }
    let mut inflated: u64 = 0;
    for index in 0..archive.len() {
        let part = archive.by_index(index).map_err(|_| damaged())?;
        // One byte past what is left shows the bound is crossed without inflating further.
        let left = limit - inflated;
        let read =
            std::io::copy(&mut part.take(left + 1), &mut std::io::sink()).map_err(|_| damaged())?;
        if read > left {
            return Err(too_large());
        }
        inflated += read;
    }
    Ok(())
}

/// The cover's fields, and those it holds for a section (section, field path, text).
fn read_cover(range: &Range<Data>, problems: &mut Problems) -> (pb::Cover, Vec<SectionValue>) {
    let mut cover = pb::Cover::default();
    let mut section_values = Vec::new();
    let end = range.end().map_or(0, |(row, _)| row).min(COVER_TABLES_ROW);
    for row in 0..=end {
        let label = text_of(range, row, 0);
        let Some((_, field)) = COVER_FIELDS.iter().find(|(l, _)| *l == label) else {
            continue;
        };
        let value = text_of(range, row, 1);
        let at = address(COVER_SHEET, row, 1);
        let enum_value =
            |prefix: &str, value: &str| format!("{prefix}{}", value.to_ascii_uppercase());
        match *field {
            dotted if dotted.contains('.') && !value.is_empty() => {
                let (section, path) = dotted.split_once('.').expect("a dotted field");
                section_values.push((section.to_owned(), path.to_owned(), value, at));
            }
            dotted if dotted.contains('.') => {}
            "unit_code" => cover.unit_code = value,
            "unit_name" => cover.unit_name = value,
            "fiscal_year" => match value.parse() {
                Ok(year) => cover.fiscal_year = year,
                Err(_) => problems.add(at, format!("{} is not a year", excerpt(&value))),
            },
            "budget_level" if !value.is_empty() => {
                match pb::BudgetLevel::from_str_name(&enum_value("BUDGET_LEVEL_", &value)) {
                    Some(level) => cover.budget_level = level as i32,
                    None => problems.add(at, format!("{} is not a budget level", excerpt(&value))),
                }
            }
            "unit_type" if !value.is_empty() => {
                match pb::UnitType::from_str_name(&enum_value("UNIT_TYPE_", &value)) {
                    Some(kind) => cover.unit_type = kind as i32,
                    None => problems.add(at, format!("{} is not a unit type", excerpt(&value))),
                }
            }
            "supervising_department_code" => cover.supervising_department_code = value,
            "supervising_department_name" => cover.supervising_department_name = value,
            "parent_unit_code" => cover.parent_unit_code = value,
            "fiscal_region_code" => cover.fiscal_region_code = value,
            "report_type" => {
                let value = if value.is_empty() {
                    "single".to_owned()
                } else {
                    value
                };
                match pb::ReportType::from_str_name(&enum_value("REPORT_TYPE_", &value)) {
                    Some(kind) => cover.report_type = kind as i32,
                    None => problems.add(at, format!("{} is not a report type", excerpt(&value))),
                }
            }
            "amount_unit" => {
                cover.amount_unit = match value.as_str() {
                    "元" => pb::AmountUnit::Yuan,
                    "" | "万元" => pb::AmountUnit::TenThousandYuan,
                    other => {
                        problems.add(at, format!("{} is neither 万元 nor 元", excerpt(other)));
                        pb::AmountUnit::TenThousandYuan
                    }
                } as i32;
            }
            _ => {}
        }
    }
    if cover.unit_code.is_empty() {
        problems.add(format!("{COVER_SHEET}!B3"), "the unit code is missing");
    }
    (cover, section_values)
}

/// A value for a section's field: (section, field path, text, the cell it came from).
type SectionValue = (String, String, String, String);

/// The cover's per-table flags: (table code, declared empty, completeness).
fn read_table_flags(
    range: &Range<Data>,
    taxonomy: &Taxonomy,
    problems: &mut Problems,
) -> Vec<(String, bool, pb::TableCompleteness)> {
    let mut flags = Vec::new();
    let end = range.end().map_or(0, |(row, _)| row);
    for row in COVER_TABLES_ROW + 1..=end {
        let name = text_of(range, row, 0);
        if name.is_empty() {
            continue;
        }
        let Some(table) =
            workbook_tables(taxonomy).find(|t| short_name(t) == name || t.code == name)
        else {
            problems.add(
                address(COVER_SHEET, row, 0),
                format!("{} is not a table", excerpt(&name)),
            );
            continue;
        };
        let empty = match text_of(range, row, 1).as_str() {
            "是" => true,
            "" | "否" => false,
            other => {
                problems.add(
                    address(COVER_SHEET, row, 1),
                    format!("{} is neither 是 nor 否", excerpt(other)),
                );
                false
            }
        };
        let completeness = match text_of(range, row, 2).as_str() {
            "完整" => pb::TableCompleteness::Complete,
            "部分" => pb::TableCompleteness::Partial,
            "" => pb::TableCompleteness::Unspecified,
            other => {
                problems.add(
                    address(COVER_SHEET, row, 2),
                    format!("{} is neither 完整 nor 部分", excerpt(other)),
                );
                pb::TableCompleteness::Unspecified
            }
        };
        flags.push((table.code.clone(), empty, completeness));
    }
    flags
}

/// Whether a sheet's amounts are in 元: its own amount line says so, else the cover does.
fn amount_in_yuan(range: &Range<Data>, cover: &pb::Cover, table: &TableDef) -> bool {
    let last = FIRST_VALUE_COLUMN + table.columns.len() as u16;
    for column in 0..=last {
        let text = text_of(range, AMOUNT_UNIT_ROW, column);
        if let Some(unit) = text.split(['：', ':']).nth(1) {
            return unit.trim() == "元";
        }
    }
    cover.amount_unit() == pb::AmountUnit::Yuan
}

fn read_rows(
    range: &Range<Data>,
    taxonomy: &Taxonomy,
    table: &TableDef,
    sheet: &str,
    in_yuan: bool,
    problems: &mut Problems,
) -> Vec<pb::Row> {
    let Some((last_row, last_column)) = range.end() else {
        return Vec::new();
    };
    // The value columns by their headers (in any order); a header that names no column is a problem if the
    // column holds anything.
    let mut columns: Vec<(u16, usize)> = Vec::new();
    for column in FIRST_VALUE_COLUMN..=last_column.min(u32::from(u16::MAX)) as u16 {
        let header = text_of(range, HEADER_ROW, column);
        if header.is_empty() {
            continue;
        }
        match table
            .columns
            .iter()
            .position(|c| c.name == header || c.code == header)
        {
            Some(index) => columns.push((column, index)),
            None => problems.add(
                address(sheet, HEADER_ROW, column),
                format!("{} is not a column of {}", excerpt(&header), table.name),
            ),
        }
    }
    let code_list = taxonomy.code_list_of(table);
    let mut rows: Vec<pb::Row> = Vec::new();
    for row in FIRST_DATA_ROW..=last_row {
        let code = text_of(range, row, CODE_COLUMN);
        let name = text_of(range, row, NAME_COLUMN);
        let values: Vec<(usize, Option<String>)> = columns
            .iter()
            .map(|&(column, index)| {
                (
                    index,
                    value_of(
                        range,
                        row,
                        column,
                        table.columns[index].kind,
                        in_yuan,
                        sheet,
                        problems,
                    ),
                )
            })
            .collect();
        // A row without figures says nothing (the template lists every line and code): not read, not checked.
        if values.iter().all(|(_, v)| v.is_none()) {
            continue;
        }
        let (row_code, label) = if !code.is_empty() {
            let Some(entry) = code_list.and_then(|list| list.get(&code)) else {
                problems.add(
                    address(sheet, row, CODE_COLUMN),
                    format!(
                        "{} is not a classification code of {}",
                        excerpt(&code),
                        table.name
                    ),
                );
                continue;
            };
            let allowed = table
                .codes
                .as_ref()
                .is_some_and(|c| c.levels.contains(&entry.level));
            if !allowed {
                problems.add(
                    address(sheet, row, CODE_COLUMN),
                    format!(
                        "{code} is a level-{} code, which {} does not list",
                        entry.level, table.name
                    ),
                );
                continue;
            }
            let label = if name.is_empty() || name == entry.name {
                String::new()
            } else {
                name
            };
            (code, label)
        } else {
            match table.lines.iter().find(|line| line.name == name) {
                Some(line) => (line.code.clone(), String::new()),
                None => {
                    problems.add(
                        address(sheet, row, NAME_COLUMN),
                        format!(
                            "{} is neither a line of {} nor has a classification code",
                            excerpt(&name),
                            table.name
                        ),
                    );
                    continue;
                }
            }
        };
        if rows.iter().any(|r| r.code == row_code) {
            problems.add(
                address(sheet, row, NAME_COLUMN),
                format!("{row_code} is given twice"),
            );
            continue;
        }
        let mut cells: Vec<pb::Cell> = values
            .into_iter()
            .filter_map(|(index, value)| {
                value.map(|value| pb::Cell {
                    column: table.columns[index].code.clone(),
                    value: Some(pb::Decimal { value }),
                })
            })
            .collect();
        cells.sort_by_key(|c| table.column_index(&c.column));
        rows.push(pb::Row {
            code: row_code,
            label,
            cells,
        });
    }
    rows
}

/// A figure of a cell as decimal text, or `None` when the cell is blank (or a dash).
fn value_of(
    range: &Range<Data>,
    row: u32,
    column: u16,
    kind: ColumnKind,
    in_yuan: bool,
    sheet: &str,
    problems: &mut Problems,
) -> Option<String> {
    let at = || address(sheet, row, column);
    let text = match range.get_value((row, u32::from(column))) {
        None | Some(Data::Empty) => return None,
        // The double's shortest text is the figure written; more than 15 significant digits cannot be exact.
        Some(Data::Float(f)) => format!("{f}"),
        Some(Data::Int(i)) => i.to_string(),
        Some(Data::String(s)) => {
            let cleaned: String = s
                .trim()
                .chars()
                .filter(|c| !matches!(c, ',' | '，' | ' ' | '\u{a0}'))
                .collect();
            if cleaned.is_empty() || matches!(cleaned.as_str(), "-" | "—" | "－" | "--") {
                return None;
            }
            cleaned
        }
        Some(other) => {
            problems.add(
                at(),
                format!("{} is not a number", excerpt(&other.to_string())),
            );
            return None;
        }
    };
    let Ok(mut value) = text
        .parse::<crate::domain::money::Value>()
        .map(|v| v.decimal())
    else {
        problems.add(at(), format!("{} is not a number", excerpt(&text)));
        return None;
    };
    match kind {
        ColumnKind::Count | ColumnKind::Change => {
            if !value.fract().is_zero() {
                problems.add(at(), format!("{text} is not a whole number"));
                return None;
            }
            if kind == ColumnKind::Count && value.is_sign_negative() {
                problems.add(at(), format!("{text} is negative"));
                return None;
            }
            value = value.trunc();
            value.rescale(0);
        }
        _ => {
            if in_yuan && is_money(kind) {
                value /= Decimal::from(10_000);
                value = value.normalize();
            }
            // Amounts are shown to the fen (two decimals) unless the figure says more.
            if value.scale() < 2 {
                value.rescale(2);
            }
        }
    }
    Some(value.to_string())
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    /// A zip of one part of `size` zero bytes, and where its two recorded uncompressed sizes are (local header,
    /// central directory).
    fn zeros(size: usize) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        writer
            .start_file("xl/worksheets/sheet1.xml", options)
            .unwrap();
        writer.write_all(&vec![0u8; size]).unwrap();
        writer.finish().unwrap().into_inner()
    }

    fn forge_sizes(bytes: &mut [u8], size: u32) {
        let find = |signature: [u8; 4]| {
            bytes
                .windows(4)
                .position(|w| w == signature)
                .expect("a zip header")
        };
        let local = find([0x50, 0x4b, 0x03, 0x04]);
        let central = find([0x50, 0x4b, 0x01, 0x02]);
        bytes[local + 22..local + 26].copy_from_slice(&size.to_le_bytes());
        bytes[central + 24..central + 28].copy_from_slice(&size.to_le_bytes());
    }

    #[test]
    fn parts_that_expand_past_the_bound_are_refused_whatever_the_directory_says() {
        let limit = 1 << 20;
        assert_eq!(check_expansion_within(&zeros(1000), limit), Ok(()));
        let honest = zeros(2 << 20);
        assert!(check_expansion_within(&honest, limit).is_err());
        let mut forged = honest.clone();
        forge_sizes(&mut forged, 100);
        // The directory now says 100 bytes: the count finds more, or the part's data fails its recorded size and
        // CRC; either way nothing of it reaches the workbook reader.
        let refused = check_expansion_within(&forged, limit).unwrap_err();
        assert!(
            refused.contains("expand") || refused.contains("damaged"),
            "{refused}"
        );
        assert_eq!(
            check_expansion_within(&forged, u64::MAX / 2).map_err(|e| e.contains("damaged")),
            Err(true),
            "a forged size is damage even under a generous bound"
        );
    }
}
