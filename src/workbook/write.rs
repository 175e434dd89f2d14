//! Writing a workbook: the blank template of a year, or a disclosure's tables in the same layout.

use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError};

use super::{
    AMOUNT_UNIT_ROW, CODE_COLUMN, CODE_HEADER, COVER_FIELDS, COVER_SHEET, COVER_TABLES_HEADER,
    COVER_TABLES_ROW, FIRST_DATA_ROW, FIRST_VALUE_COLUMN, HEADER_ROW, NAME_COLUMN, NAME_HEADER,
    TITLE_ROW, UNIT_ROW, section_tables, sections, sheet_name, short_name, workbook_tables,
};
use crate::{
    domain::taxonomy::{ColumnKind, TableDef, Taxonomy},
    pb,
};

#[derive(Debug, thiserror::Error)]
pub enum WorkbookError {
    #[error("the workbook cannot be written")]
    Xlsx(#[from] XlsxError),
    #[error("{0} is not a figure a workbook can hold exactly")]
    Figure(String),
}

/// The workbook of `taxonomy`'s year: blank when `disclosure` is `None`, else with its cover and tables.
pub fn write(
    taxonomy: &Taxonomy,
    disclosure: Option<&pb::Disclosure>,
) -> Result<Vec<u8>, WorkbookError> {
    let mut workbook = Workbook::new();
    let formats = Formats::new();
    let cover = disclosure.and_then(|d| d.cover.as_ref());
    write_cover(
        workbook.add_worksheet(),
        taxonomy,
        disclosure,
        cover,
        &formats,
    )?;
    for table in workbook_tables(taxonomy) {
        let rows = disclosure.and_then(|d| d.tables.iter().find(|t| t.code == table.code));
        write_table(
            workbook.add_worksheet(),
            taxonomy,
            table,
            rows,
            cover,
            &formats,
        )?;
    }
    for (table, section) in section_tables(taxonomy) {
        let rows = disclosure.map(|d| section_rows(d, table, section));
        write_table(
            workbook.add_worksheet(),
            taxonomy,
            table,
            rows.as_ref(),
            cover,
            &formats,
        )?;
    }
    Ok(workbook.save_to_buffer()?)
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

struct Formats {
    title: Format,
    header: Format,
    text: Format,
    right: Format,
    money: Format,
    whole: Format,
}

impl Formats {
    fn new() -> Formats {
        let bordered = || Format::new().set_border(FormatBorder::Thin);
        Formats {
            title: Format::new()
                .set_bold()
                .set_font_size(16)
                .set_align(FormatAlign::Center),
            header: bordered()
                .set_bold()
                .set_align(FormatAlign::Center)
                .set_text_wrap(),
            text: bordered(),
            right: Format::new().set_align(FormatAlign::Right),
            money: bordered().set_num_format("#,##0.00"),
            whole: bordered().set_num_format("0"),
        }
    }
}

/// A pb enum's name as the CLI spells it: BUDGET_LEVEL_PREFECTURE → prefecture.
pub(super) fn enum_code(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix)
        .unwrap_or(name)
        .to_ascii_lowercase()
}

fn cover_value(cover: &pb::Cover, field: &str) -> String {
    match field {
        "unit_code" => cover.unit_code.clone(),
        "unit_name" => cover.unit_name.clone(),
        "fiscal_year" => cover.fiscal_year.to_string(),
        "budget_level" => enum_code(cover.budget_level().as_str_name(), "BUDGET_LEVEL_"),
        "unit_type" => enum_code(cover.unit_type().as_str_name(), "UNIT_TYPE_"),
        "supervising_department_code" => cover.supervising_department_code.clone(),
        "supervising_department_name" => cover.supervising_department_name.clone(),
        "parent_unit_code" => cover.parent_unit_code.clone(),
        "fiscal_region_code" => cover.fiscal_region_code.clone(),
        "report_type" => enum_code(cover.report_type().as_str_name(), "REPORT_TYPE_"),
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
        "central / provincial / prefecture / county / township",
        "administrative / public_institution_class_1 / public_institution_class_2 / \
         public_institution_commercial / enterprise / other",
        "",
        "",
        "",
        "六位",
        "single / consolidated / adjustment",
        "万元 / 元",
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
            (None, "report_type") => "single".to_owned(),
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
) -> Result<(), WorkbookError> {
    sheet.set_name(sheet_name(table))?;
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
        // The template: the table's fixed lines, to be filled, and room for the classification rows below.
        None => {
            for line in &table.lines {
                sheet.write_string_with_format(row, CODE_COLUMN, "", &formats.text)?;
                sheet.write_string_with_format(row, NAME_COLUMN, &line.name, &formats.text)?;
                row += 1;
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
    Ok(())
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
