//! Writing a workbook: the blank template of a year, or a disclosure's tables in the same layout.

use std::collections::HashMap;

use rust_xlsxwriter::{Url, Workbook, Worksheet};

pub use super::layout::WorkbookError;
use super::{
    evaluations,
    layout::exact_double,
    layout::{
        AMOUNT_UNIT_ROW, BUDGET_LEVEL_NAMES, CODE_COLUMN, CODE_HEADER, COVER_FIELDS, COVER_SHEET,
        COVER_TABLES_HEADER, COVER_TABLES_ROW, FIRST_DATA_ROW, FIRST_VALUE_COLUMN, HEADER_ROW,
        NAME_COLUMN, NAME_HEADER, REPORT_TYPE_NAMES, TITLE_ROW, UNIT_ROW, UNIT_TYPE_NAMES, address,
        enum_name, section_tables, sheet_name, short_name, workbook_tables,
    },
    published::{self, Formats},
    sections,
};
use crate::{
    domain::taxonomy::{ColumnKind, TableDef, Taxonomy},
    pb,
};

/// Where each figure went: (table code, row code, column code) → (sheet, row, column).
type Positions = HashMap<(String, String, String), (String, u32, u16)>;

/// The workbook of `taxonomy`'s year: blank when `disclosure` is `None`, else with its cover and tables.
pub fn write(
    taxonomy: &Taxonomy,
    disclosure: Option<&pb::Disclosure>,
) -> Result<Vec<u8>, WorkbookError> {
    let mut workbook = Workbook::new();
    write_into(&mut workbook, taxonomy, disclosure)?;
    Ok(workbook.save_to_buffer()?)
}

/// A stored version's workbook, with its findings on a sheet of their own, each linked to the first cell it
/// names.
pub fn write_with_findings(
    taxonomy: &Taxonomy,
    disclosure: &pb::Disclosure,
    findings: &[pb::Finding],
) -> Result<Vec<u8>, WorkbookError> {
    let mut workbook = Workbook::new();
    let positions = write_into(&mut workbook, taxonomy, Some(disclosure))?;
    let formats = Formats::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name(FINDINGS_SHEET)?;
    for (column, (header, width)) in [
        ("规则", 14.0),
        ("级别", 8.0),
        ("说明", 90.0),
        ("单元格", 40.0),
    ]
    .iter()
    .enumerate()
    {
        sheet.write_string_with_format(0, column as u16, *header, &formats.header)?;
        sheet.set_column_width(column as u16, *width)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    for (i, finding) in findings.iter().enumerate() {
        let row = 1 + i as u32;
        let severity = match finding.severity() {
            pb::Severity::Error => "错误",
            pb::Severity::Warning => "警告",
            _ => "提示",
        };
        sheet.write_string(row, 0, &finding.rule_id)?;
        sheet.write_string(row, 1, severity)?;
        sheet.write_string(row, 2, &finding.message)?;
        let target = finding.cells.iter().find_map(|cell| {
            let table = match cell.table.as_str() {
                "EVAL" => "EVAL".to_owned(),
                "PROJ" => format!("PROJ#{}", finding.project_index),
                other => taxonomy.table(other)?.code.clone(),
            };
            let (sheet_name, at_row, column) =
                positions.get(&(table, cell.row.clone(), cell.column.clone()))?;
            Some((sheet_name.clone(), *at_row, *column, cell))
        });
        match target {
            Some((sheet_name, at_row, column, cell)) => {
                let address = address(&format!("'{sheet_name}'"), at_row, column);
                sheet.write_url_with_text(
                    row,
                    3,
                    Url::new(format!("internal:{address}")),
                    cell_words(taxonomy, cell),
                )?;
            }
            None => {
                let cells: Vec<String> = finding
                    .cells
                    .iter()
                    .map(|c| cell_words(taxonomy, c))
                    .collect();
                sheet.write_string(row, 3, cells.join("；"))?;
            }
        }
    }
    Ok(workbook.save_to_buffer()?)
}

/// A node's consolidation as a workbook: the 汇总表 in the standard layout, a sheet per table of its 调整表 that
/// has eliminations, the elimination findings, and the completeness of its subtree.
pub fn write_consolidated(
    taxonomy: &Taxonomy,
    report: &pb::ConsolidatedReport,
    completeness: &pb::CompletenessReport,
) -> Result<Vec<u8>, WorkbookError> {
    let node = report.node.clone().unwrap_or_default();
    let disclosure = pb::Disclosure {
        cover: Some(pb::Cover {
            unit_code: node.code.clone(),
            unit_name: node.name.clone(),
            fiscal_year: report.fiscal_year,
            budget_level: node.budget_level,
            unit_type: node.unit_type,
            supervising_department_code: node.supervising_department_code.clone(),
            parent_unit_code: node.parent_code.clone(),
            report_type: pb::ReportType::Consolidated as i32,
            amount_unit: report.amount_unit,
            fiscal_region_code: node.fiscal_region_code.clone(),
            ..Default::default()
        }),
        tables: report.tables.clone(),
        ..Default::default()
    };
    let mut workbook = Workbook::new();
    write_into(&mut workbook, taxonomy, Some(&disclosure))?;
    let formats = Formats::new();
    // What the 汇总表 counts: the units of the subtree whose accepted version is in it, of those expected.
    {
        let cover_sheet = workbook.worksheet_from_index(0)?;
        // Beside 报表类型 (汇总表), right of the hints: the cover's fields are read from columns A and B only.
        let row = 2 + COVER_FIELDS
            .iter()
            .position(|(_, field)| *field == "report_type")
            .expect("the cover has a report type") as u32;
        cover_sheet.write_string_with_format(row, 3, "计入单位", &formats.header)?;
        let share = if report.units_expected == 0 {
            String::new()
        } else {
            let tenths = u64::from(report.units_counted) * 1000 / u64::from(report.units_expected);
            format!("（{}.{}%）", tenths / 10, tenths % 10)
        };
        cover_sheet.set_column_width(4, 48)?;
        cover_sheet.write_string_with_format(
            row,
            4,
            format!(
                "{} / {} 户{share}{}",
                report.units_counted,
                report.units_expected,
                if report.units_counted < report.units_expected {
                    "，未报或未审核的单位不在汇总数中"
                } else {
                    ""
                }
            ),
            &formats.text,
        )?;
    }
    let cover = disclosure.cover.as_ref();
    for adjustments in report.adjustments.iter().filter(|t| !t.rows.is_empty()) {
        let Some(table) = taxonomy.table(&adjustments.code) else {
            continue;
        };
        let sheet = workbook.add_worksheet();
        write_table(sheet, taxonomy, table, Some(adjustments), cover, &formats)?;
        let name: String = format!("调整表 {}", short_name(table))
            .chars()
            .take(31)
            .collect();
        sheet.set_name(name)?;
    }
    if !report.unmatched.is_empty() {
        write_unmatched(workbook.add_worksheet(), &report.unmatched, &formats)?;
    }
    let sheet = workbook.add_worksheet();
    sheet.set_name("核对问题")?;
    sheet.write_string_with_format(0, 0, "规则", &formats.header)?;
    sheet.write_string_with_format(0, 1, "说明", &formats.header)?;
    sheet.set_column_width(1, 100)?;
    for (i, finding) in report
        .elimination_findings
        .iter()
        .chain(&report.findings)
        .enumerate()
    {
        sheet.write_string(1 + i as u32, 0, &finding.rule_id)?;
        sheet.write_string(1 + i as u32, 1, &finding.message)?;
    }
    let sheet = workbook.add_worksheet();
    sheet.set_name("完成情况")?;
    let headers = [
        "单位代码",
        "单位名称",
        "层级",
        "状态",
        "版本数",
        "最新版本",
        "计入版本",
        "封账",
    ];
    for (column, header) in headers.iter().enumerate() {
        sheet.write_string_with_format(0, column as u16, *header, &formats.header)?;
    }
    sheet.set_column_width(1, 36)?;
    sheet.set_freeze_panes(1, 2)?;
    for (i, unit) in completeness.units.iter().enumerate() {
        let row = 1 + i as u32;
        let record = unit.unit.clone().unwrap_or_default();
        let progress = match unit.progress() {
            pb::Progress::NotExpected => "不报送（区划）",
            pb::Progress::NeverSubmitted => "未报送",
            pb::Progress::PendingReview => "待审核",
            pb::Progress::Returned => "已退回",
            pb::Progress::Accepted => "已接受",
            pb::Progress::RejectedByRules => "未通过校验",
            _ => "",
        };
        sheet.write_string(row, 0, &record.code)?;
        sheet.write_string(
            row,
            1,
            format!("{}{}", "　".repeat(unit.depth as usize), record.name),
        )?;
        sheet.write_number(row, 2, f64::from(unit.depth))?;
        sheet.write_string(row, 3, progress)?;
        sheet.write_number(row, 4, f64::from(unit.versions))?;
        sheet.write_number(row, 5, f64::from(unit.latest_version))?;
        sheet.write_number(row, 6, f64::from(unit.counted_version))?;
        sheet.write_string(row, 7, if unit.locked { "是" } else { "" })?;
    }
    Ok(workbook.save_to_buffer()?)
}

/// The 未抵销差额 lines of a consolidation's 调整表: per transfer not eliminated in full, both units, both amounts,
/// what was eliminated, what stays on each side, and why.
fn write_unmatched(
    sheet: &mut rust_xlsxwriter::Worksheet,
    lines: &[pb::UnmatchedElimination],
    formats: &Formats,
) -> Result<(), WorkbookError> {
    sheet.set_name("调整表 未抵销差额")?;
    let headers = [
        "抵销项目",
        "付款单位",
        "付款方金额",
        "收款单位",
        "收款方金额",
        "已计入收款方合计",
        "已抵销",
        "付款方未抵销",
        "收款方未抵销",
        "原因",
    ];
    for (column, header) in headers.iter().enumerate() {
        sheet.write_string_with_format(0, column as u16, *header, &formats.header)?;
    }
    sheet.set_column_width(1, 30)?;
    sheet.set_column_width(3, 30)?;
    sheet.set_column_width(9, 40)?;
    let mut row = 1u32;
    let amount = |d: &Option<pb::Decimal>| d.as_ref().map(|d| d.value.clone());
    for line in lines {
        let payer = line.payer.clone().unwrap_or_default();
        sheet.write_string(row, 0, &line.pair_name)?;
        sheet.write_string(row, 1, format!("{} {}", payer.code, payer.name))?;
        for (column, value) in [
            (2u16, amount(&line.payer_amount)),
            (5, amount(&line.counted_amount)),
            (6, amount(&line.matched)),
            (7, amount(&line.payer_unmatched)),
            (8, amount(&line.payees_unmatched)),
        ] {
            if let Some(value) = value {
                sheet.write_number_with_format(
                    row,
                    column,
                    exact_double(&value)?,
                    &formats.money,
                )?;
            }
        }
        sheet.write_string(row, 9, &line.reason_text)?;
        row += 1;
        for payee in &line.payees {
            let unit = payee.unit.clone().unwrap_or_default();
            sheet.write_string(
                row,
                3,
                format!(
                    "{} {}{}",
                    unit.code,
                    unit.name,
                    if payee.counted { "" } else { "（未计入）" }
                ),
            )?;
            if let Some(value) = amount(&payee.amount) {
                sheet.write_number_with_format(row, 4, exact_double(&value)?, &formats.money)?;
            }
            row += 1;
        }
    }
    Ok(())
}

/// The findings sheet of an export.
pub const FINDINGS_SHEET: &str = "审核发现";

/// The cover and every table sheet; where each row went.
fn write_into(
    workbook: &mut Workbook,
    taxonomy: &Taxonomy,
    disclosure: Option<&pb::Disclosure>,
) -> Result<Positions, WorkbookError> {
    let formats = Formats::new();
    let mut positions = Positions::new();
    let cover = disclosure.and_then(|d| d.cover.as_ref());
    write_cover(
        workbook.add_worksheet(),
        taxonomy,
        disclosure,
        cover,
        &formats,
    )?;
    for table in workbook_tables(taxonomy) {
        let given = disclosure.and_then(|d| d.tables.iter().find(|t| t.code == table.code));
        let sheet = workbook.add_worksheet();
        sheet.set_name(sheet_name(table))?;
        let source = published::Source {
            taxonomy,
            table,
            given,
            disclosure,
            cover,
        };
        for ((row, column), (at_row, at_column)) in published::write(sheet, &source, &formats)? {
            positions.insert(
                (table.code.clone(), row, column),
                (sheet_name(table), at_row, at_column),
            );
        }
    }
    for (table, section) in section_tables(taxonomy) {
        let rows = disclosure.map(|d| section_rows(d, table, section));
        let written = write_table(
            workbook.add_worksheet(),
            taxonomy,
            table,
            rows.as_ref(),
            cover,
            &formats,
        )?;
        for (row_code, row) in written {
            for (index, column) in table.columns.iter().enumerate() {
                positions.insert(
                    (table.code.clone(), row_code.clone(), column.code.clone()),
                    (sheet_name(table), row, FIRST_VALUE_COLUMN + index as u16),
                );
            }
        }
    }
    // The self-evaluations' cells as findings name them: table EVAL, or PROJ with the project's position.
    let unit = evaluations::write(workbook.add_worksheet(), disclosure, &formats.header)?;
    for ((row, column), (at_row, at_column)) in unit {
        positions.insert(
            ("EVAL".to_owned(), row, column),
            (evaluations::UNIT_SHEET.to_owned(), at_row, at_column),
        );
    }
    let projects =
        evaluations::write_projects(workbook.add_worksheet(), disclosure, &formats.header)?;
    for (index, placed) in projects.into_iter().enumerate() {
        for ((row, column), (at_row, at_column)) in placed {
            positions.insert(
                (format!("PROJ#{}", index + 1), row, column),
                (evaluations::PROJECTS_SHEET.to_owned(), at_row, at_column),
            );
        }
    }
    Ok(positions)
}

/// A section's figures as the rows of its table: each line with the fields it maps onto its columns.
fn section_rows(disclosure: &pb::Disclosure, table: &TableDef, section: &str) -> pb::Table {
    let rows = table
        .lines
        .iter()
        .map(|line| pb::Row {
            code: line.code.clone(),
            label: String::new(),
            cells: line
                .fields
                .iter()
                .filter_map(|(column, path)| {
                    let value = sections::get(disclosure, section, path)?;
                    Some(pb::Cell {
                        column: table.columns.get(*column)?.code.clone(),
                        value: Some(pb::Decimal { value }),
                    })
                })
                .collect(),
        })
        .collect();
    pb::Table {
        code: table.code.clone(),
        rows,
        ..Default::default()
    }
}

/// A finding's cell in accountants' terms: 公开05 一般公共服务支出 · 基本支出.
fn cell_words(taxonomy: &Taxonomy, cell: &pb::CellRef) -> String {
    let place = match cell.table.as_str() {
        "EVAL" => Some(evaluations::UNIT_SHEET),
        "PROJ" => Some(evaluations::PROJECTS_SHEET),
        "NARRATIVE" => Some("决算情况说明"),
        _ => None,
    };
    if let Some(place) = place {
        return format!("{place} {} · {}", cell.row, cell.column);
    }
    let Some(table) = taxonomy.table(&cell.table) else {
        return format!("{} {} {}", cell.table, cell.row, cell.column);
    };
    let row = taxonomy.row_name(table, &cell.row).unwrap_or(&cell.row);
    let column = table
        .columns
        .iter()
        .find(|c| c.code == cell.column)
        .map_or(cell.column.as_str(), |c| c.name.as_str());
    format!("{} {row} · {column}", short_name(table))
}

fn cover_value(cover: &pb::Cover, field: &str) -> String {
    match field {
        "unit_code" => cover.unit_code.clone(),
        "unit_name" => cover.unit_name.clone(),
        "fiscal_year" => cover.fiscal_year.to_string(),
        "budget_level" => enum_name(&BUDGET_LEVEL_NAMES, cover.budget_level()).to_owned(),
        "unit_type" => enum_name(&UNIT_TYPE_NAMES, cover.unit_type()).to_owned(),
        "supervising_department_code" => cover.supervising_department_code.clone(),
        "supervising_department_name" => cover.supervising_department_name.clone(),
        "parent_unit_code" => cover.parent_unit_code.clone(),
        "fiscal_region_code" => cover.fiscal_region_code.clone(),
        "report_type" => enum_name(&REPORT_TYPE_NAMES, cover.report_type()).to_owned(),
        "amount_unit" => match cover.amount_unit() {
            pb::AmountUnit::Yuan => "元".to_owned(),
            _ => "万元".to_owned(),
        },
        _ => String::new(),
    }
}

fn write_cover(
    sheet: &mut Worksheet,
    taxonomy: &Taxonomy,
    disclosure: Option<&pb::Disclosure>,
    cover: Option<&pb::Cover>,
    formats: &Formats,
) -> Result<(), WorkbookError> {
    sheet.set_name(COVER_SHEET)?;
    sheet.merge_range(
        0,
        0,
        0,
        2,
        &format!("{}年度部门决算", taxonomy.fiscal_year),
        &formats.title,
    )?;
    sheet.set_column_width(0, 16)?;
    sheet.set_column_width(1, 36)?;
    sheet.set_column_width(2, 24)?;
    let hints = [
        "",
        "",
        "",
        "中央 / 省级 / 市级 / 县级 / 乡级",
        "行政单位 / 公益一类事业单位 / 公益二类事业单位 / 生产经营类事业单位 / 企业 / 其他",
        "",
        "",
        "",
        "六位",
        "单户表 / 汇总表 / 调整表",
        "万元 / 千元 / 元",
        "",
    ];
    for (i, ((label, field), hint)) in COVER_FIELDS.iter().zip(hints).enumerate() {
        let row = 2 + i as u32;
        sheet.write_string_with_format(row, 0, *label, &formats.header)?;
        let value = match (cover, *field) {
            (Some(_), field) if field.contains('.') => {
                let (section, path) = field.split_once('.').expect("a dotted field");
                disclosure
                    .and_then(|d| sections::get(d, section, path))
                    .unwrap_or_default()
            }
            (Some(cover), field) => cover_value(cover, field),
            (None, "fiscal_year") => taxonomy.fiscal_year.to_string(),
            (None, "report_type") => "单户表".to_owned(),
            (None, "amount_unit") => "万元".to_owned(),
            (None, _) => String::new(),
        };
        sheet.write_string_with_format(row, 1, &value, &formats.text)?;
        sheet.write_string(row, 2, hint)?;
    }
    for (column, header) in COVER_TABLES_HEADER.iter().enumerate() {
        sheet.write_string_with_format(
            COVER_TABLES_ROW,
            column as u16,
            *header,
            &formats.header,
        )?;
    }
    for (i, table) in workbook_tables(taxonomy).enumerate() {
        let row = COVER_TABLES_ROW + 1 + i as u32;
        let given = disclosure.and_then(|d| d.tables.iter().find(|t| t.code == table.code));
        let empty = given.is_some_and(|t| t.declared_empty);
        let completeness = match given.map(pb::Table::completeness) {
            Some(pb::TableCompleteness::Complete) => "完整",
            Some(pb::TableCompleteness::Partial) => "部分",
            _ => "",
        };
        sheet.write_string_with_format(row, 0, short_name(table), &formats.text)?;
        sheet.write_string_with_format(row, 1, if empty { "是" } else { "否" }, &formats.text)?;
        sheet.write_string_with_format(row, 2, completeness, &formats.text)?;
    }
    Ok(())
}

fn write_table(
    sheet: &mut Worksheet,
    taxonomy: &Taxonomy,
    table: &TableDef,
    given: Option<&pb::Table>,
    cover: Option<&pb::Cover>,
    formats: &Formats,
) -> Result<Vec<(String, u32)>, WorkbookError> {
    sheet.set_name(sheet_name(table))?;
    let mut written = Vec::new();
    let last_column = FIRST_VALUE_COLUMN + table.columns.len().max(1) as u16 - 1;
    sheet.merge_range(
        TITLE_ROW,
        0,
        TITLE_ROW,
        last_column,
        &table.name,
        &formats.title,
    )?;
    let unit_name = cover.map_or("", |c| c.unit_name.as_str());
    sheet.write_string(UNIT_ROW, 0, format!("编制单位：{unit_name}"))?;
    sheet.write_string_with_format(
        UNIT_ROW,
        last_column,
        format!("{}表", short_name(table)),
        &formats.right,
    )?;
    let amount_unit = match cover.map(pb::Cover::amount_unit) {
        Some(pb::AmountUnit::Yuan) => "元",
        _ => "万元",
    };
    sheet.write_string_with_format(
        AMOUNT_UNIT_ROW,
        last_column,
        format!("金额单位：{amount_unit}"),
        &formats.right,
    )?;
    sheet.write_string_with_format(HEADER_ROW, CODE_COLUMN, CODE_HEADER, &formats.header)?;
    sheet.write_string_with_format(HEADER_ROW, NAME_COLUMN, NAME_HEADER, &formats.header)?;
    for (i, column) in table.columns.iter().enumerate() {
        let at = FIRST_VALUE_COLUMN + i as u16;
        sheet.write_string_with_format(HEADER_ROW, at, &column.name, &formats.header)?;
        sheet.set_column_width(at, 16)?;
    }
    sheet.set_column_width(CODE_COLUMN, 12)?;
    sheet.set_column_width(NAME_COLUMN, 40)?;
    sheet.set_row_height(HEADER_ROW, 32)?;
    sheet.set_freeze_panes(FIRST_DATA_ROW, FIRST_VALUE_COLUMN)?;

    let mut row = FIRST_DATA_ROW;
    match given {
        // The template: the table's fixed lines, then every code of its classification at the levels it lists
        // (类, 款, 项), to be filled; rows left blank are not read.
        None => {
            for line in &table.lines {
                sheet.write_string_with_format(row, CODE_COLUMN, "", &formats.text)?;
                sheet.write_string_with_format(row, NAME_COLUMN, &line.name, &formats.text)?;
                row += 1;
            }
            if let (Some(rows), Some(list)) = (&table.codes, taxonomy.code_list_of(table)) {
                for (code, entry) in list.entries() {
                    if !rows.levels.contains(&entry.level) {
                        continue;
                    }
                    sheet.write_string_with_format(row, CODE_COLUMN, code, &formats.text)?;
                    sheet.write_string_with_format(row, NAME_COLUMN, &entry.name, &formats.text)?;
                    row += 1;
                }
            }
        }
        Some(given) => {
            for data in &given.rows {
                let (code, name) = match table.line(&data.code) {
                    Some(line) => ("", line.name.as_str()),
                    None => (
                        data.code.as_str(),
                        taxonomy.row_name(table, &data.code).unwrap_or(""),
                    ),
                };
                let name = if data.label.is_empty() {
                    name
                } else {
                    &data.label
                };
                sheet.write_string_with_format(row, CODE_COLUMN, code, &formats.text)?;
                sheet.write_string_with_format(row, NAME_COLUMN, name, &formats.text)?;
                written.push((data.code.clone(), row));
                for cell in &data.cells {
                    let Some(index) = table.column_index(&cell.column) else {
                        continue;
                    };
                    let Some(value) = &cell.value else { continue };
                    let number = exact_double(&value.value)?;
                    let format = match table.columns[index].kind {
                        ColumnKind::Count | ColumnKind::Change => &formats.whole,
                        _ => &formats.money,
                    };
                    sheet.write_number_with_format(
                        row,
                        FIRST_VALUE_COLUMN + index as u16,
                        number,
                        format,
                    )?;
                }
                row += 1;
            }
        }
    }
    Ok(written)
}
