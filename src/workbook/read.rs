//! Reading a filled workbook into a disclosure: our template, a copy of the tables as units publish them, or
//! anything between. Each table is found by its title and headers ([`super::tables`]); every cell that holds a
//! figure becomes a figure or a problem named by its sheet and cell; the amount unit is the one the workbook
//! states (anywhere in a table's header, on the cover, or by `--amount-unit`), and a workbook that states two, or
//! none while it has figures, is refused. Tolerant of what real files carry — numbers stored as text, thousands
//! separators, a dash for nothing, blank rows, notes — and strict about anything that would change a figure.

use std::{collections::BTreeMap, io::Cursor, io::Read as _};

use calamine::{Data, Range};
use rust_decimal::Decimal;

use super::{
    evaluations,
    grid::{self, Format, Grid},
    layout::{
        BUDGET_LEVEL_NAMES, COVER_FIELDS, COVER_SHEET, COVER_TABLES_ROW, MAX_EXPANDED_BYTES,
        MAX_WORKBOOK_BYTES, REPORT_TYPE_NAMES, UNIT_TYPE_NAMES, address, enum_from, figure_of,
        is_money, short_name, text_of, workbook_tables,
    },
    problem::{Problem, Problems},
    sections,
    tables::{self, Block, NameIndex},
    words::{MoneyUnit, stated_year},
};
use crate::{
    domain::{
        ids::FiscalYear,
        money::excerpt,
        taxonomy::{ColumnKind, TableDef, Taxonomies, Taxonomy},
    },
    pb,
};

/// What the command line adds to a workbook that lacks it (a workbook without a 封面): the unit, the year and the
/// amount unit. Where the workbook states one too and they differ, the import stops.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub unit_code: Option<String>,
    pub fiscal_year: Option<u32>,
    pub amount_unit: Option<MoneyUnit>,
    /// Reading a published document's tables: a table it lacks is left out rather than refused (the document
    /// states an empty table in words), and a year in a title is left to the document's own naming check (a
    /// self-evaluation of a project carried over from last year names last year).
    pub from_document: bool,
}

/// Where a figure of the disclosure was read: its table, row and column, the value kept (in 万元 for money), the
/// cell and the text printed there.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Source {
    pub table: String,
    pub row: String,
    pub column: String,
    /// The same in accountants' terms: 公开05, the row's name, the column's name.
    pub table_name: String,
    pub row_name: String,
    pub column_name: String,
    pub value: String,
    pub at: String,
    pub printed: String,
}

/// A workbook read whole: the disclosure, where each figure came from, and the figures printed but not kept.
#[derive(Debug, Clone)]
pub struct Imported {
    pub disclosure: pb::Disclosure,
    pub format: Format,
    pub sources: Vec<Source>,
    /// (cell, why) for each printed figure not kept: a printed sum of kept lines, a class row of a table that keeps
    /// none.
    pub not_kept: Vec<(String, String)>,
    /// The amount unit the workbook was in.
    pub amount_unit: MoneyUnit,
    /// (cell, what) for each printed figure not kept that disagrees with the figures kept (公开04's class by fund
    /// against 公开05, 07 and 08): the workbook contradicts itself there, though nothing was read wrong.
    pub notices: Vec<(String, String)>,
}

/// The disclosure a workbook holds (cover and tables), or every problem found.
pub fn read(taxonomies: &Taxonomies, bytes: &[u8]) -> Result<pb::Disclosure, Vec<Problem>> {
    read_with(taxonomies, bytes, &ImportOptions::default()).map(|imported| imported.disclosure)
}

/// Sheets that are never tables: the cover, the self-evaluations and what an export adds.
fn is_other_sheet(name: &str) -> bool {
    name == COVER_SHEET
        || name == evaluations::UNIT_SHEET
        || name == evaluations::PROJECTS_SHEET
        || name == super::write::FINDINGS_SHEET
        || name.starts_with("调整表")
        || matches!(name, "核对问题" | "完成情况")
}

/// The workbook's disclosure with where each figure came from, or every problem found.
pub fn read_with(
    taxonomies: &Taxonomies,
    bytes: &[u8],
    options: &ImportOptions,
) -> Result<Imported, Vec<Problem>> {
    let whole = |reason: String| {
        vec![Problem {
            at: "the workbook".to_owned(),
            reason,
        }]
    };
    if bytes.len() as u64 > MAX_WORKBOOK_BYTES {
        return Err(whole(format!("is larger than {MAX_WORKBOOK_BYTES} bytes")));
    }
    if bytes.starts_with(b"PK") {
        check_expansion(bytes).map_err(whole)?;
    }
    let (format, grids) = grid::open(bytes).map_err(whole)?;
    read_grids(taxonomies, format, &grids, options)
}

/// Several files read as one workbook: a .csv per table (each a sheet named by its file name), or workbooks
/// whose sheets are taken together. `files` are (name, bytes).
pub fn read_files(
    taxonomies: &Taxonomies,
    files: &[(String, Vec<u8>)],
    options: &ImportOptions,
) -> Result<Imported, Vec<Problem>> {
    let total: u64 = files.iter().map(|(_, b)| b.len() as u64).sum();
    if total > MAX_WORKBOOK_BYTES {
        return Err(vec![Problem {
            at: "the files".to_owned(),
            reason: format!("are larger than {MAX_WORKBOOK_BYTES} bytes together"),
        }]);
    }
    let mut grids = Vec::new();
    let mut formats = Vec::new();
    let mut problems = Problems::default();
    for (name, bytes) in files {
        let opened = if Format::sniff(bytes).is_some() {
            if bytes.starts_with(b"PK") {
                check_expansion(bytes).and_then(|()| grid::open(bytes))
            } else {
                grid::open(bytes)
            }
        } else {
            let sheet = name
                .rsplit_once('.')
                .map_or(name.as_str(), |(stem, _)| stem);
            grid::from_csv(sheet, bytes).map(|grid| (Format::Csv, vec![grid]))
        };
        match opened {
            Ok((format, opened)) => {
                formats.push(format);
                grids.extend(opened);
            }
            Err(reason) => problems.add(name.clone(), reason),
        }
    }
    if grids.len() > grid::MAX_SHEETS {
        problems.add(
            "the files",
            format!("hold more than {} sheets", grid::MAX_SHEETS),
        );
    }
    if !problems.is_empty() {
        return Err(problems.0);
    }
    read_grids(
        taxonomies,
        formats.first().copied().unwrap_or(Format::Csv),
        &grids,
        options,
    )
}

/// Tables given as rows of cell texts (a document's tables, each with the lines printed above it), each read as
/// a sheet named by its `name`, as a workbook of those sheets with the options' unit and year.
pub fn read_text_tables(
    taxonomies: &Taxonomies,
    tables: &[(String, Vec<Vec<String>>)],
    options: &ImportOptions,
) -> Result<Imported, Vec<Problem>> {
    let grids: Vec<Grid> = tables
        .iter()
        .take(grid::MAX_SHEETS)
        .map(|(name, rows)| {
            let cells = rows
                .iter()
                .take(grid::MAX_ROWS as usize)
                .enumerate()
                .flat_map(|(r, row)| {
                    row.iter()
                        .take(grid::MAX_COLUMNS as usize)
                        .enumerate()
                        .filter(|(_, text)| !text.is_empty())
                        .map(move |(c, text)| (r as u32, c as u32, Data::String(text.clone())))
                })
                .collect();
            Grid::of_cells(name, cells)
        })
        .collect();
    read_grids(taxonomies, Format::Csv, &grids, options)
}

/// Reads sheets already opened (a workbook's, or one sheet per CSV file).
pub(super) fn read_grids(
    taxonomies: &Taxonomies,
    format: Format,
    grids: &[Grid],
    options: &ImportOptions,
) -> Result<Imported, Vec<Problem>> {
    let mut problems = Problems::default();
    let cover_grid = grids.iter().find(|g| g.name == COVER_SHEET);
    let (mut cover, mut section_values, cover_unit) = match cover_grid {
        Some(grid) => read_cover(grid.range(), &mut problems),
        None => (pb::Cover::default(), Vec::new(), None),
    };
    // The unit and the year: the cover's, else the command line's; both given and different stops the import.
    match (&options.unit_code, cover.unit_code.is_empty()) {
        (Some(flag), true) => cover.unit_code = flag.clone(),
        (Some(flag), false) if *flag != cover.unit_code => problems.add(
            format!("{COVER_SHEET}!B3"),
            format!(
                "the cover names unit {} but --unit says {}",
                excerpt(&cover.unit_code),
                excerpt(flag)
            ),
        ),
        _ => {}
    }
    let title_years: Vec<(u32, String)> = grids
        .iter()
        .filter(|g| !is_other_sheet(&g.name))
        .flat_map(|g| {
            let columns = g.size().1;
            (0..g.size().0.min(3)).flat_map(move |row| {
                (0..columns).filter_map(move |column| {
                    stated_year(&g.own_text(row, column))
                        .map(|year| (year, address(&g.name, row, column as u16)))
                })
            })
        })
        .collect();
    match (options.fiscal_year, cover.fiscal_year) {
        (Some(flag), 0) => cover.fiscal_year = flag,
        (Some(flag), stated) if flag != stated => problems.add(
            format!("{COVER_SHEET}!B4"),
            format!("the cover says {stated} but --year says {flag}"),
        ),
        (None, 0) => {
            if let Some((year, _)) = title_years.first() {
                cover.fiscal_year = *year;
            }
        }
        _ => {}
    }
    if cover.unit_code.is_empty() {
        let at = if cover_grid.is_some() {
            format!("{COVER_SHEET}!B3")
        } else {
            "the workbook".to_owned()
        };
        let reason = if cover_grid.is_some() {
            "the unit code is missing"
        } else {
            "has no cover (封面) naming the unit: give it with --unit"
        };
        problems.add(at, reason);
    }
    if cover.report_type == 0 {
        cover.report_type = pb::ReportType::Single as i32;
    }
    let year = FiscalYear::new(cover.fiscal_year).ok();
    let Some(taxonomy) = year.and_then(|y| taxonomies.get(y)) else {
        let at = if cover_grid.is_some() {
            format!("{COVER_SHEET}!B4")
        } else {
            "the workbook".to_owned()
        };
        problems.add(
            at,
            if cover.fiscal_year == 0 {
                "states no year (no cover and no 2024年 in a title): give it with --year".to_owned()
            } else {
                format!(
                    "the year {} has no taxonomy (years with one: {})",
                    cover.fiscal_year,
                    taxonomies.years_list()
                )
            },
        );
        return Err(problems.0);
    };
    for (year, at) in &title_years {
        if *year != cover.fiscal_year && !options.from_document {
            problems.add(
                at.clone(),
                format!(
                    "its title says {year}, but the workbook is of {}",
                    cover.fiscal_year
                ),
            );
        }
    }
    let flags = match cover_grid {
        Some(grid) => read_table_flags(grid.range(), taxonomy, &mut problems),
        None => Vec::new(),
    };
    let (found, unknown) = tables::find(grids, taxonomy, is_other_sheet);
    for name in unknown {
        problems.add(
            name,
            "holds figures but is none of the year's tables (its title and headers match none)",
        );
    }
    let mut names = NameIndex::default();
    let mut blocks: Vec<(&TableDef, Block, String)> = Vec::new();
    for found_table in &found {
        let grid = &grids[found_table.sheet];
        let place = match found_table.title_row {
            Some(row) => address(&grid.name, row, 0),
            None => grid.name.clone(),
        };
        if let Some((_, _, first)) = blocks
            .iter()
            .find(|(table, _, _)| table.code == found_table.table.code)
        {
            problems.add(
                place,
                format!(
                    "{} {} is here and also at {first}; keep one",
                    short_name(found_table.table),
                    found_table.table.name
                ),
            );
            continue;
        }
        let block = tables::read_block(grid, found_table, taxonomy, &mut names, &mut problems);
        blocks.push((found_table.table, block, place));
    }
    // One amount unit for the whole workbook, stated somewhere: two different ones, or none while there are
    // amounts, and nothing is converted.
    let mut stated: BTreeMap<MoneyUnit, Vec<String>> = BTreeMap::new();
    if let Some(unit) = cover_unit {
        stated
            .entry(unit)
            .or_default()
            .push(format!("{COVER_SHEET}!B13"));
    }
    for (_, block, _) in &blocks {
        for (unit, at) in &block.units {
            stated.entry(*unit).or_default().push(at.clone());
        }
    }
    let has_amounts = blocks.iter().any(|(table, block, _)| {
        block
            .figures
            .iter()
            .any(|f| is_money(table.columns[f.column].kind))
    });
    let amount_unit = match (options.amount_unit, stated.len()) {
        (Some(flag), 0) => flag,
        (Some(flag), _) if stated.contains_key(&flag) && stated.len() == 1 => flag,
        (Some(flag), _) => {
            let (unit, cells) = stated
                .iter()
                .find(|(u, _)| **u != flag)
                .expect("another unit");
            problems.add(
                cells[0].clone(),
                format!(
                    "states {} but --amount-unit says {}",
                    unit.name(),
                    flag.name()
                ),
            );
            flag
        }
        (None, 1) => *stated.keys().next().expect("one unit"),
        (None, 0) => {
            if has_amounts {
                problems.add(
                    "the workbook",
                    "states no amount unit (金额单位：万元 or 元 above a table, or on the cover): give it with --amount-unit",
                );
            }
            MoneyUnit::TenThousandYuan
        }
        (None, _) => {
            let listed: Vec<String> = stated
                .iter()
                .map(|(unit, cells)| {
                    format!(
                        "{} at {}",
                        unit.name(),
                        cells.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
                    )
                })
                .collect();
            problems.add(
                "the workbook",
                format!("states two amount units: {}", listed.join("; ")),
            );
            MoneyUnit::TenThousandYuan
        }
    };
    let mut sources = Vec::new();
    let mut not_kept = Vec::new();
    let mut class_rows = Vec::new();
    let mut tables_read = Vec::new();
    for (table, block, place) in blocks {
        not_kept.extend(block.not_kept.iter().cloned());
        for row in &block.class_rows {
            let value = kept_value(row.value, ColumnKind::Amount, amount_unit);
            class_rows.push((row.at.clone(), row.class.clone(), row.line.clone(), value));
        }
        let rows = rows_of(
            taxonomy,
            table,
            &block,
            amount_unit,
            &mut sources,
            &mut problems,
        );
        if let Some(section) = &table.section {
            for row in rows {
                let Some(line) = table.line(&row.code) else {
                    continue;
                };
                for cell in row.cells {
                    let column = table.column_index(&cell.column);
                    let Some((_, path)) = line.fields.iter().find(|(c, _)| Some(*c) == column)
                    else {
                        problems.add(
                            place.clone(),
                            format!(
                                "{} has no {} figure",
                                line.name,
                                column.map_or(cell.column.as_str(), |c| table.columns[c]
                                    .name
                                    .as_str())
                            ),
                        );
                        continue;
                    };
                    let value = cell.value.map(|v| v.value).unwrap_or_default();
                    section_values.push((section.clone(), path.clone(), value, place.clone()));
                }
            }
            continue;
        }
        let (declared, completeness) = flags
            .iter()
            .find(|(code, _, _)| *code == table.code)
            .map_or((false, pb::TableCompleteness::Unspecified), |f| (f.1, f.2));
        if declared && !rows.is_empty() {
            problems.add(
                place,
                format!("is declared empty on the cover ({COVER_SHEET}) but has figures"),
            );
        }
        tables_read.push(pb::Table {
            code: table.code.clone(),
            completeness: completeness as i32,
            declared_empty: rows.is_empty() && (declared || block.says_empty),
            rows,
        });
    }
    // Every table the year publishes is in the workbook, or declared empty on the cover.
    for table in workbook_tables(taxonomy) {
        if tables_read.iter().any(|t| t.code == table.code) {
            continue;
        }
        let declared = flags
            .iter()
            .any(|(code, empty, _)| *code == table.code && *empty);
        if declared {
            tables_read.push(pb::Table {
                code: table.code.clone(),
                declared_empty: true,
                ..Default::default()
            });
        } else if !options.from_document {
            problems.add(
                "the workbook",
                format!(
                    "has no {} {}: no sheet has its title; add it, or mark it 空表 on the cover",
                    short_name(table),
                    table.name
                ),
            );
        }
    }
    let notices = class_rows_against_kept(&tables_read, &class_rows);
    tables_read.sort_by_key(|t| {
        taxonomy
            .tables
            .iter()
            .position(|d| d.code == t.code)
            .unwrap_or(usize::MAX)
    });
    let mut found = Vec::new();
    let mut unit_evaluation = None;
    let mut project_evaluations = Vec::new();
    for (sheet, projects) in [
        (evaluations::UNIT_SHEET, false),
        (evaluations::PROJECTS_SHEET, true),
    ] {
        let Some(grid) = grids.iter().find(|g| g.name == sheet) else {
            continue;
        };
        // Excel turns "=100%" into a formula worth 1: a score or a rate typed so is not what the unit meant.
        let (rows, columns) = grid.size();
        for row in 0..rows {
            for column in 0..columns {
                if let Some(formula) = grid.formula(row, column) {
                    problems.add(
                        address(sheet, row, column as u16),
                        format!(
                            "holds the formula ={}, which Excel computes (\"=100%\" becomes 1): type the text as it should read",
                            excerpt(formula)
                        ),
                    );
                }
            }
        }
        if projects {
            project_evaluations = evaluations::read_projects(grid.range(), &mut found);
        } else {
            unit_evaluation = evaluations::read_unit(grid.range(), &mut found);
        }
    }
    for (at, reason) in found {
        problems.add(at, reason);
    }
    if !problems.is_empty() {
        return Err(problems.0);
    }
    // The figures are in 万元 now, whatever unit the workbook was in.
    cover.amount_unit = pb::AmountUnit::TenThousandYuan as i32;
    let disclosure = pb::Disclosure {
        cover: Some(cover),
        tables: tables_read,
        unit_evaluation,
        project_evaluations,
        ..Default::default()
    };
    let values: Vec<(String, String, String)> = section_values
        .iter()
        .map(|(section, path, value, _)| (section.clone(), path.clone(), value.clone()))
        .collect();
    let disclosure = sections::set(disclosure, &values).map_err(|failed| {
        failed
            .into_iter()
            .map(|(index, reason)| Problem {
                at: section_values
                    .get(index)
                    .map_or_else(|| "the workbook".to_owned(), |v| v.3.clone()),
                reason,
            })
            .collect::<Vec<_>>()
    })?;
    Ok(Imported {
        disclosure,
        format,
        sources,
        not_kept,
        amount_unit,
        notices,
    })
}

/// The tables that keep a class's expenditure by fund: 公开05 (一般公共预算), 07 (政府性基金), 08 (国有资本经营).
const CLASS_BY_FUND: [(&str, &str, &str); 3] = [
    ("gpb", "T05", "total"),
    ("gov_fund", "T07", "expenditure_total"),
    ("state_capital", "T08", "expenditure_total"),
];

/// Each printed class figure (cell, class, fund line, value in 万元) that differs from what the tables keeping
/// it say (合计: the three funds together; a table or row not given counts as nothing).
fn class_rows_against_kept(
    tables: &[pb::Table],
    class_rows: &[(String, String, Option<String>, String)],
) -> Vec<(String, String)> {
    let kept = |table: &str, row: &str, column: &str| -> Option<Decimal> {
        figure_of(tables.iter().find(|t| t.code == table)?, row, column)?
            .parse()
            .ok()
    };
    let mut notices = Vec::new();
    for (at, class, line, printed) in class_rows {
        let Ok(printed) = printed.parse::<Decimal>() else {
            continue;
        };
        let (expected, source) = match line.as_deref() {
            Some("total") | None => (
                CLASS_BY_FUND
                    .iter()
                    .filter_map(|(_, table, column)| kept(table, class, column))
                    .sum::<Decimal>(),
                "公开05, 07 and 08 together".to_owned(),
            ),
            Some(fund) => match CLASS_BY_FUND.iter().find(|(f, _, _)| *f == fund) {
                Some((_, table, column)) => (
                    kept(table, class, column).unwrap_or(Decimal::ZERO),
                    format!("公开{}", &table[1..]),
                ),
                None => continue,
            },
        };
        if printed != expected {
            notices.push((
                at.clone(),
                format!("{printed} for {class} differs from {expected} in {source}"),
            ));
        }
    }
    notices
}

/// A table's rows from its block's figures, converted to 万元: each row once, its cells in the table's column
/// order; a cell given twice is a problem naming both places.
fn rows_of(
    taxonomy: &Taxonomy,
    table: &TableDef,
    block: &Block,
    unit: MoneyUnit,
    sources: &mut Vec<Source>,
    problems: &mut Problems,
) -> Vec<pb::Row> {
    let mut rows: Vec<pb::Row> = Vec::new();
    let mut seen: BTreeMap<(String, usize), String> = BTreeMap::new();
    for figure in &block.figures {
        if let Some(first) = seen.get(&(figure.row.clone(), figure.column)) {
            problems.add(
                figure.at.clone(),
                format!(
                    "{} {} is given twice (also at {first})",
                    row_words(taxonomy, table, &figure.row),
                    table.columns[figure.column].name
                ),
            );
            continue;
        }
        seen.insert((figure.row.clone(), figure.column), figure.at.clone());
        let column = &table.columns[figure.column];
        let value = kept_value(figure.value, column.kind, unit);
        sources.push(Source {
            table: table.code.clone(),
            row: figure.row.clone(),
            column: column.code.clone(),
            table_name: short_name(table).to_owned(),
            row_name: taxonomy
                .row_name(table, &figure.row)
                .unwrap_or(&figure.row)
                .to_owned(),
            column_name: column.name.clone(),
            value: value.clone(),
            at: figure.at.clone(),
            printed: figure.text.clone(),
        });
        let cell = pb::Cell {
            column: column.code.clone(),
            value: Some(pb::Decimal { value }),
        };
        match rows.iter_mut().find(|r| r.code == figure.row) {
            Some(row) => {
                row.cells.push(cell);
                if row.label.is_empty() {
                    row.label = figure.label.clone();
                }
            }
            None => rows.push(pb::Row {
                code: figure.row.clone(),
                label: figure.label.clone(),
                cells: vec![cell],
            }),
        }
    }
    for row in &mut rows {
        row.cells.sort_by_key(|c| table.column_index(&c.column));
    }
    // One order whatever the layout (合计 first or last, two sides): the table's lines, then the codes.
    rows.sort_by(|a, b| {
        let line = |code: &str| table.lines.iter().position(|l| l.code == code);
        match (line(&a.code), line(&b.code)) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.code.cmp(&b.code),
        }
    });
    rows
}

/// A row as accountants say it: a line's name, or a code with its name (207 文化旅游体育与传媒支出).
fn row_words(taxonomy: &Taxonomy, table: &TableDef, code: &str) -> String {
    match (table.line(code), taxonomy.row_name(table, code)) {
        (Some(line), _) => line.name.clone(),
        (None, Some(name)) => format!("{code} {name}"),
        (None, None) => code.to_owned(),
    }
}

/// A figure as kept: money in 万元 (exactly: 元 are divided by 10,000), shown to the fen unless it says more;
/// counts as whole numbers.
fn kept_value(printed: Decimal, kind: ColumnKind, unit: MoneyUnit) -> String {
    let mut value = printed;
    match kind {
        ColumnKind::Count | ColumnKind::Change => {
            value = value.trunc();
            value.rescale(0);
        }
        _ => {
            if is_money(kind) && unit != MoneyUnit::TenThousandYuan {
                value /= unit.per_ten_thousand();
                value = value.normalize();
            }
            if value.scale() < 2 {
                value.rescale(2);
            }
        }
    }
    value.to_string()
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
fn read_cover(
    range: &Range<Data>,
    problems: &mut Problems,
) -> (pb::Cover, Vec<SectionValue>, Option<MoneyUnit>) {
    let mut cover = pb::Cover::default();
    let mut amount_unit = None;
    let mut section_values = Vec::new();
    let end = range.end().map_or(0, |(row, _)| row).min(COVER_TABLES_ROW);
    for row in 0..=end {
        let label = text_of(range, row, 0);
        let Some((_, field)) = COVER_FIELDS.iter().find(|(l, _)| *l == label) else {
            continue;
        };
        let value = text_of(range, row, 1);
        let at = address(COVER_SHEET, row, 1);
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
                match enum_from(
                    &BUDGET_LEVEL_NAMES,
                    &value,
                    pb::BudgetLevel::from_str_name,
                    "BUDGET_LEVEL_",
                ) {
                    Some(level) => cover.budget_level = level as i32,
                    None => problems.add(at, format!("{} is not a budget level", excerpt(&value))),
                }
            }
            "unit_type" if !value.is_empty() => {
                match enum_from(
                    &UNIT_TYPE_NAMES,
                    &value,
                    pb::UnitType::from_str_name,
                    "UNIT_TYPE_",
                ) {
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
                match enum_from(
                    &REPORT_TYPE_NAMES,
                    &value,
                    pb::ReportType::from_str_name,
                    "REPORT_TYPE_",
                ) {
                    Some(kind) => cover.report_type = kind as i32,
                    None => problems.add(at, format!("{} is not a report type", excerpt(&value))),
                }
            }
            "amount_unit" if !value.is_empty() => match MoneyUnit::parse(&value) {
                Some(unit) => amount_unit = Some(unit),
                None => problems.add(at, format!("{} is not 万元, 千元 or 元", excerpt(&value))),
            },
            _ => {}
        }
    }
    (cover, section_values, amount_unit)
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
