//! The nine tables written as units publish them: a title, 编制单位 and the table's number, 金额单位, a header
//! over several rows with merged cells and a 栏次 row, 类/款/项 in three columns beside 科目名称, 合计 first, rows
//! in classification order; 公开01 and 公开04 two-sided (收入 | 支出), 公开06 as 人员经费 | 公用经费, 公开09 in one
//! row. Every figure cell, empty ones too, is formatted `#,##0.00`. What is written here reads back through
//! [`super::tables`] to the same figures.

use std::collections::HashMap;

use rust_decimal::Decimal;
use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Worksheet};

use crate::{
    domain::taxonomy::{ColumnKind, TableDef, Taxonomy},
    pb,
};

use super::layout::{WorkbookError, exact_double, figure_of};

/// Where each figure went: (row code, column code) → (row, column).
pub(super) type Placed = HashMap<(String, String), (u32, u16)>;

pub(super) struct Formats {
    pub title: Format,
    pub header: Format,
    pub text: Format,
    pub right: Format,
    pub money: Format,
    pub whole: Format,
}

impl Formats {
    pub fn new() -> Formats {
        let bordered = || Format::new().set_border(FormatBorder::Thin);
        Formats {
            title: Format::new()
                .set_bold()
                .set_font_size(16)
                .set_align(FormatAlign::Center),
            header: bordered()
                .set_bold()
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter)
                .set_text_wrap(),
            text: bordered(),
            right: Format::new().set_align(FormatAlign::Right),
            money: bordered().set_num_format("#,##0.00"),
            whole: bordered().set_num_format("0"),
        }
    }
}

/// What a table is written from: its rows (none for the template) and, for 公开04's class rows, the disclosure.
pub(super) struct Source<'a> {
    pub taxonomy: &'a Taxonomy,
    pub table: &'a TableDef,
    pub given: Option<&'a pb::Table>,
    pub disclosure: Option<&'a pb::Disclosure>,
    pub cover: Option<&'a pb::Cover>,
}

impl Source<'_> {
    fn value(&self, row: &str, column: &str) -> Option<&str> {
        figure_of(self.given?, row, column)
    }
}

struct Sheet<'s, 'f> {
    sheet: &'s mut Worksheet,
    formats: &'f Formats,
    placed: Placed,
}

impl Sheet<'_, '_> {
    fn header(&mut self, row: u32, column: u16, text: &str) -> Result<(), WorkbookError> {
        self.sheet
            .write_string_with_format(row, column, text, &self.formats.header)?;
        Ok(())
    }

    /// A header cell spanning rows and columns (written plainly when it spans one cell).
    fn span(
        &mut self,
        (top, left): (u32, u16),
        (bottom, right): (u32, u16),
        text: &str,
    ) -> Result<(), WorkbookError> {
        if top == bottom && left == right {
            return self.header(top, left, text);
        }
        self.sheet
            .merge_range(top, left, bottom, right, text, &self.formats.header)?;
        Ok(())
    }

    fn text(&mut self, row: u32, column: u16, text: &str) -> Result<(), WorkbookError> {
        self.sheet
            .write_string_with_format(row, column, text, &self.formats.text)?;
        Ok(())
    }

    /// A figure cell: the value when there is one, formatted either way; remembered for the findings' links.
    fn figure(
        &mut self,
        at: (u32, u16),
        value: Option<&str>,
        kind: ColumnKind,
        place: Option<(&str, &str)>,
    ) -> Result<(), WorkbookError> {
        let format = match kind {
            ColumnKind::Count | ColumnKind::Change => &self.formats.whole,
            _ => &self.formats.money,
        };
        match value {
            Some(value) => {
                self.sheet
                    .write_number_with_format(at.0, at.1, exact_double(value)?, format)?;
            }
            None => {
                self.sheet.write_blank(at.0, at.1, format)?;
            }
        }
        if let Some((row, column)) = place {
            self.placed.insert((row.to_owned(), column.to_owned()), at);
        }
        Ok(())
    }

    /// 栏次 and the column numbers under the value columns.
    fn ordinals(&mut self, row: u32, label: u16, values: &[u16]) -> Result<(), WorkbookError> {
        self.header(row, label, "栏次")?;
        for (i, &column) in values.iter().enumerate() {
            self.sheet.write_number_with_format(
                row,
                column,
                (i + 1) as f64,
                &self.formats.header,
            )?;
        }
        Ok(())
    }
}

/// Writes one of the nine tables on `sheet`; returns where each figure went.
pub(super) fn write(
    sheet: &mut Worksheet,
    source: &Source<'_>,
    formats: &Formats,
) -> Result<Placed, WorkbookError> {
    // Printed as units print them: landscape, one page wide.
    sheet.set_landscape();
    sheet.set_print_fit_to_pages(1, 0);
    let mut out = Sheet {
        sheet,
        formats,
        placed: Placed::new(),
    };
    match source.table.code.as_str() {
        "T01" => two_sided_totals(&mut out, source)?,
        "T04" => fiscal_totals(&mut out, source)?,
        "T06" => basic_expenditure(&mut out, source)?,
        "T09" => one_row(&mut out, source)?,
        _ => coded(&mut out, source)?,
    }
    Ok(out.placed)
}

/// Title, 编制单位 with the table's number, 金额单位; returns the first header row.
fn preamble(
    out: &mut Sheet<'_, '_>,
    source: &Source<'_>,
    width: u16,
) -> Result<u32, WorkbookError> {
    let table = source.table;
    let last = width.saturating_sub(1);
    out.sheet
        .merge_range(0, 0, 0, last.max(1), &table.name, &out.formats.title)?;
    let unit_name = source.cover.map_or("", |c| c.unit_name.as_str());
    out.sheet
        .write_string(1, 0, format!("编制单位：{unit_name}"))?;
    let number = table
        .aliases
        .first()
        .map_or(table.code.as_str(), String::as_str);
    out.sheet.write_string_with_format(
        1,
        last.max(1),
        format!("{number}表"),
        &out.formats.right,
    )?;
    let unit = match source.cover.map(pb::Cover::amount_unit) {
        Some(pb::AmountUnit::Yuan) => "元",
        _ => "万元",
    };
    out.sheet.write_string_with_format(
        2,
        last.max(1),
        format!("金额单位：{unit}"),
        &out.formats.right,
    )?;
    out.sheet.set_column_width(0, 8)?;
    Ok(3)
}

/// 公开02, 03, 05, 07, 08: 项目 over 科目编码 (类 | 款 | 项) and 科目名称, the value columns (a column named
/// 本年支出·基本支出 under a 本年支出 group), 栏次, 合计, then the codes in order.
fn coded(out: &mut Sheet<'_, '_>, source: &Source<'_>) -> Result<(), WorkbookError> {
    let table = source.table;
    let values = table.columns.len() as u16;
    let top = preamble(out, source, 4 + values)?;
    out.span((top, 0), (top, 3), "项目")?;
    out.span((top + 1, 0), (top + 1, 2), "科目编码")?;
    out.span((top + 1, 3), (top + 2, 3), "科目名称")?;
    for (i, part) in ["类", "款", "项"].iter().enumerate() {
        out.header(top + 2, i as u16, part)?;
    }
    let groups = column_groups(table);
    let mut column = 4u16;
    while (column - 4) < values {
        let index = usize::from(column - 4);
        match &groups[index] {
            (Some(group), _) => {
                let width = groups[index..]
                    .iter()
                    .take_while(|(g, _)| g.as_deref() == Some(group.as_str()))
                    .count() as u16;
                out.span((top, column), (top, column + width - 1), group)?;
                for k in 0..width {
                    let sub = groups[index + usize::from(k)].1.clone();
                    out.span((top + 1, column + k), (top + 2, column + k), &sub)?;
                }
                column += width;
            }
            (None, name) => {
                out.span((top, column), (top + 2, column), name)?;
                column += 1;
            }
        }
    }
    let value_columns: Vec<u16> = (4..4 + values).collect();
    out.ordinals(top + 3, 0, &value_columns)?;
    out.sheet.set_column_width(3, 36)?;
    for &c in &value_columns {
        out.sheet.set_column_width(c, 14)?;
    }
    let mut row = top + 4;
    for line in &table.lines {
        out.sheet
            .merge_range(row, 0, row, 3, &line.name, &out.formats.header)?;
        figures_of_row(out, source, row, &line.code, 4)?;
        row += 1;
    }
    for (code, label) in coded_rows(source) {
        let parts = code_parts(source, &code);
        for i in 0..3 {
            out.text(row, i, parts.get(usize::from(i)).map_or("", String::as_str))?;
        }
        out.text(row, 3, &label)?;
        figures_of_row(out, source, row, &code, 4)?;
        row += 1;
    }
    out.sheet.set_freeze_panes(top + 4, 4)?;
    Ok(())
}

/// A row's figures from `first`, one per column of the table, blank where it has none.
fn figures_of_row(
    out: &mut Sheet<'_, '_>,
    source: &Source<'_>,
    row: u32,
    code: &str,
    first: u16,
) -> Result<(), WorkbookError> {
    for (i, column) in source.table.columns.iter().enumerate() {
        out.figure(
            (row, first + i as u16),
            source.value(code, &column.code),
            column.kind,
            Some((code, &column.code)),
        )?;
    }
    Ok(())
}

/// Each column's group and own header: 本年支出·基本支出 → (本年支出, 基本支出); 本年支出合计 beside columns of
/// the 本年支出 group → (本年支出, 合计); else (none, its name).
fn column_groups(table: &TableDef) -> Vec<(Option<String>, String)> {
    let dotted: Vec<Option<(String, String)>> = table
        .columns
        .iter()
        .map(|c| {
            c.name
                .split_once('·')
                .map(|(g, s)| (g.to_owned(), s.to_owned()))
        })
        .collect();
    table
        .columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            if let Some((group, sub)) = &dotted[i] {
                return (Some(group.clone()), sub.clone());
            }
            let next = dotted.get(i + 1).cloned().flatten();
            match next {
                Some((group, _)) if column.name.starts_with(&group) && column.name != group => {
                    (Some(group.clone()), column.name[group.len()..].to_owned())
                }
                _ => (None, column.name.clone()),
            }
        })
        .collect()
}

/// The coded rows in classification order: the given ones with their labels, or for the template every code of
/// the table's list at the levels it reports.
fn coded_rows(source: &Source<'_>) -> Vec<(String, String)> {
    let table = source.table;
    let list = source.taxonomy.code_list_of(table);
    let name_of = |code: &str| list.and_then(|l| l.get(code)).map(|e| e.name.clone());
    let mut rows: Vec<(String, String)> = match source.given {
        Some(given) => given
            .rows
            .iter()
            .filter(|r| table.line(&r.code).is_none())
            .map(|r| {
                let label = if r.label.is_empty() {
                    name_of(&r.code).unwrap_or_default()
                } else {
                    r.label.clone()
                };
                (r.code.clone(), label)
            })
            .collect(),
        None => match (&table.codes, list) {
            (Some(rows), Some(list)) => list
                .entries()
                .iter()
                .filter(|(_, e)| rows.levels.contains(&e.level))
                .map(|(code, e)| (code.clone(), e.name.clone()))
                .collect(),
            _ => Vec::new(),
        },
    };
    // Parents are prefixes of their children: text order is classification order.
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

/// A code in its three columns: 201 | 01 | 01.
fn code_parts(source: &Source<'_>, code: &str) -> Vec<String> {
    let digits = source
        .taxonomy
        .code_list_of(source.table)
        .map_or(vec![3, 5, 7], |l| l.level_digits.clone());
    let mut parts = Vec::new();
    let mut from = 0;
    for &to in &digits {
        if code.len() >= to && to > from {
            parts.push(code[from..to].to_owned());
            from = to;
        }
    }
    if parts.is_empty() || from < code.len() {
        // Not shaped like the list's codes: the whole code in the first column.
        return vec![code.to_owned()];
    }
    parts
}

/// 公开01: 收入 | 支出, each 项目 | 行次 | 金额; the expenditure side lists the classes by name (with their codes
/// in a column of their own when one is not in the year's list or has its own label).
fn two_sided_totals(out: &mut Sheet<'_, '_>, source: &Source<'_>) -> Result<(), WorkbookError> {
    let table = source.table;
    let classes = coded_rows(source);
    let list = source.taxonomy.code_list_of(table);
    let coded = classes.iter().any(|(code, label)| {
        list.and_then(|l| l.get(code))
            .is_none_or(|entry| entry.name != *label)
    });
    let right = if coded { 4u16 } else { 3 };
    let top = preamble(out, source, right + 3)?;
    out.span((top, 0), (top, 2), "收入")?;
    out.span((top, right), (top, right + 2), "支出")?;
    for (column, text) in [(0u16, "项目"), (1, "行次"), (2, "金额")] {
        out.header(top + 1, column, text)?;
        out.header(top + 1, right + column, text)?;
    }
    if coded {
        out.header(top + 1, 3, "科目编码")?;
    }
    out.header(top + 2, 0, "栏次")?;
    out.header(top + 2, right, "栏次")?;
    out.sheet
        .write_number_with_format(top + 2, 2, 1.0, &out.formats.header)?;
    out.sheet
        .write_number_with_format(top + 2, right + 2, 2.0, &out.formats.header)?;
    out.sheet.set_column_width(0, 34)?;
    out.sheet.set_column_width(right, 34)?;
    out.sheet.set_column_width(2, 16)?;
    out.sheet.set_column_width(right + 2, 16)?;
    // The income lines before 本年收入合计 on the left, the classes on the right; then the totals side by side.
    let income: Vec<_> = table
        .lines
        .iter()
        .filter(|l| l.code.starts_with("income_") && !l.code.ends_with("total"))
        .collect();
    let tail_left = [
        "income_total",
        "nonfiscal_balance_used",
        "carryover_begin",
        "income_grand_total",
    ];
    let tail_right = [
        "expenditure_total",
        "surplus_distribution",
        "carryover_end",
        "expenditure_grand_total",
    ];
    let first = top + 3;
    let body = income.len().max(classes.len()) as u32;
    let mut ordinal = 1.0;
    for (i, line) in income.iter().enumerate() {
        let row = first + i as u32;
        out.text(row, 0, &line.name)?;
        out.sheet
            .write_number_with_format(row, 1, ordinal, &out.formats.text)?;
        ordinal += 1.0;
        out.figure(
            (row, 2),
            source.value(&line.code, "amount"),
            ColumnKind::Amount,
            Some((&line.code, "amount")),
        )?;
    }
    for (i, (code, label)) in classes.iter().enumerate() {
        let row = first + i as u32;
        out.text(row, right, label)?;
        if coded {
            out.text(row, 3, code)?;
        }
        out.figure(
            (row, right + 2),
            source.value(code, "amount"),
            ColumnKind::Amount,
            Some((code, "amount")),
        )?;
    }
    for (i, (left, right_line)) in tail_left.iter().zip(tail_right).enumerate() {
        let row = first + body + i as u32;
        for (column, code) in [(0u16, *left), (right, right_line)] {
            let Some(line) = table.line(code) else {
                continue;
            };
            out.text(row, column, &line.name)?;
            out.sheet.write_number_with_format(
                row,
                column + 1,
                f64::from(body) + i as f64 + 1.0,
                &out.formats.text,
            )?;
            out.figure(
                (row, column + 2),
                source.value(code, "amount"),
                ColumnKind::Amount,
                Some((code, "amount")),
            )?;
        }
    }
    Ok(())
}

/// 公开04 as published: 收入 (本年收入 by fund, 本年收入合计, 年初财政拨款结转和结余 by fund, 收入总计) | 支出 (the
/// classes by fund, 本年支出合计, 年末财政拨款结转和结余, 支出总计), the 支出 side in 合计 and one column per fund.
fn fiscal_totals(out: &mut Sheet<'_, '_>, source: &Source<'_>) -> Result<(), WorkbookError> {
    let table = source.table;
    let funds = ["gpb", "gov_fund", "state_capital"];
    let top = preamble(out, source, 9)?;
    out.span((top, 0), (top, 2), "收入")?;
    out.span((top, 3), (top, 8), "支出")?;
    let fund_name = |code: &str| table.line(code).map_or(code.to_owned(), |l| l.name.clone());
    let headers = [
        "项目".to_owned(),
        "行次".to_owned(),
        "金额".to_owned(),
        "项目".to_owned(),
        "行次".to_owned(),
        "合计".to_owned(),
        fund_name("gpb"),
        fund_name("gov_fund"),
        fund_name("state_capital"),
    ];
    for (column, text) in headers.iter().enumerate() {
        out.header(top + 1, column as u16, text)?;
    }
    out.header(top + 2, 0, "栏次")?;
    out.header(top + 2, 3, "栏次")?;
    for (i, column) in [2u16, 5, 6, 7, 8].iter().enumerate() {
        out.sheet.write_number_with_format(
            top + 2,
            *column,
            (i + 1) as f64,
            &out.formats.header,
        )?;
    }
    out.sheet.set_column_width(0, 30)?;
    out.sheet.set_column_width(3, 30)?;
    for column in [2u16, 5, 6, 7, 8] {
        out.sheet.set_column_width(column, 16)?;
    }
    out.sheet.set_row_height(top + 1, 30)?;
    let column_name = |code: &str| {
        table
            .columns
            .iter()
            .find(|c| c.code == code)
            .map_or(code.to_owned(), |c| c.name.clone())
    };
    // 收入: (label, row, column) — None for a printed sum.
    let mut left: Vec<(String, Option<(&str, &str)>)> = Vec::new();
    for fund in funds {
        left.push((fund_name(fund), Some((fund, "income"))));
    }
    left.push(("本年收入合计".to_owned(), Some(("total", "income"))));
    left.push((
        column_name("carryover_begin"),
        Some(("total", "carryover_begin")),
    ));
    for fund in funds {
        left.push((fund_name(fund), Some((fund, "carryover_begin"))));
    }
    left.push(("收入总计".to_owned(), None));
    // 支出: the classes by fund (from 公开05, 07 and 08), then the totals.
    let classes = class_rows_by_fund(source);
    let mut right: Vec<(String, RightRow)> = classes
        .into_iter()
        .map(|(name, values)| (name, RightRow::Class(values)))
        .collect();
    right.push(("本年支出合计".to_owned(), RightRow::Column("expenditure")));
    right.push((
        column_name("carryover_end"),
        RightRow::Column("carryover_end"),
    ));
    right.push(("支出总计".to_owned(), RightRow::Sum));
    // The 支出 side's totals and the 收入 side's 收入总计 share the bottom rows.
    let classes_count = right.len() - 3;
    let rows = left.len().max(right.len());
    let first = top + 3;
    let lines = ["total", "gpb", "gov_fund", "state_capital"];
    for i in 0..rows {
        let row = first + i as u32;
        let left_item = if i + 1 == rows {
            left.last()
        } else if i + 1 < left.len() {
            left.get(i)
        } else {
            None
        };
        if let Some((label, place)) = left_item {
            out.text(row, 0, label)?;
            out.sheet
                .write_number_with_format(row, 1, (i + 1) as f64, &out.formats.text)?;
            let value = match place {
                Some((line, column)) => source.value(line, column).map(str::to_owned),
                None => sum(&[
                    source.value("total", "income"),
                    source.value("total", "carryover_begin"),
                ]),
            };
            out.figure((row, 2), value.as_deref(), ColumnKind::Amount, *place)?;
        }
        let right_item = if i < classes_count {
            right.get(i)
        } else if i + 3 >= rows {
            right.get(classes_count + (i + 3 - rows))
        } else {
            None
        };
        let Some((label, kind)) = right_item else {
            continue;
        };
        out.text(row, 3, label)?;
        out.sheet
            .write_number_with_format(row, 4, (i + 1) as f64, &out.formats.text)?;
        for (k, line) in lines.iter().enumerate() {
            let column = 5 + k as u16;
            match kind {
                RightRow::Class(values) => {
                    out.figure(
                        (row, column),
                        values[k].as_deref(),
                        ColumnKind::Amount,
                        None,
                    )?;
                }
                RightRow::Column(code) => {
                    out.figure(
                        (row, column),
                        source.value(line, code),
                        ColumnKind::Amount,
                        Some((line, code)),
                    )?;
                }
                RightRow::Sum => {
                    let total = sum(&[
                        source.value(line, "expenditure"),
                        source.value(line, "carryover_end"),
                    ]);
                    out.figure((row, column), total.as_deref(), ColumnKind::Amount, None)?;
                }
            }
        }
    }
    Ok(())
}

enum RightRow {
    /// A class's figures by fund (合计, 一般公共预算, 政府性基金, 国有资本经营), from the tables that keep them.
    Class([Option<String>; 4]),
    /// The funds' figures of one column of the table.
    Column(&'static str),
    /// A printed sum (支出总计).
    Sum,
}

/// The sum of the figures present, when any is.
fn sum(values: &[Option<&str>]) -> Option<String> {
    let present: Vec<Decimal> = values
        .iter()
        .flatten()
        .filter_map(|v| v.parse::<Decimal>().ok())
        .collect();
    (!present.is_empty()).then(|| present.iter().sum::<Decimal>().to_string())
}

/// The classes of 公开05 (一般公共预算), 07 (政府性基金) and 08 (国有资本经营) with their totals by fund: what
/// 公开04 prints on its 支出 side.
fn class_rows_by_fund(source: &Source<'_>) -> Vec<(String, [Option<String>; 4])> {
    let Some(disclosure) = source.disclosure else {
        return Vec::new();
    };
    let list = source.taxonomy.code_lists.get("functional");
    let mut classes: std::collections::BTreeMap<String, [Option<String>; 4]> = Default::default();
    for (index, (table, column)) in [
        ("T05", "total"),
        ("T07", "expenditure_total"),
        ("T08", "expenditure_total"),
    ]
    .iter()
    .enumerate()
    {
        let Some(given) = disclosure.tables.iter().find(|t| t.code == *table) else {
            continue;
        };
        for row in &given.rows {
            if row.code.len() != 3 || !row.code.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let value = row
                .cells
                .iter()
                .find(|c| c.column == *column)
                .and_then(|c| c.value.as_ref())
                .map(|v| v.value.clone());
            classes.entry(row.code.clone()).or_default()[index + 1] = value;
        }
    }
    classes
        .into_iter()
        .map(|(code, mut values)| {
            values[0] = sum(&[
                values[1].as_deref(),
                values[2].as_deref(),
                values[3].as_deref(),
            ]);
            let name = list
                .and_then(|l| l.get(&code))
                .map_or(code.clone(), |e| e.name.clone());
            (name, values)
        })
        .collect()
}

/// 公开06: 人员经费 (工资福利支出, 对个人和家庭的补助) | 公用经费 (the rest), each 科目编码 | 科目名称 | 决算数; then
/// 人员经费合计 | 公用经费合计 and 合计.
fn basic_expenditure(out: &mut Sheet<'_, '_>, source: &Source<'_>) -> Result<(), WorkbookError> {
    let table = source.table;
    let top = preamble(out, source, 6)?;
    let line_name = |code: &str| table.line(code).map_or(code.to_owned(), |l| l.name.clone());
    out.span((top, 0), (top, 2), &line_name("personnel"))?;
    out.span((top, 3), (top, 5), &line_name("public"))?;
    let amount = table.columns[0].name.clone();
    for (column, text) in [(0u16, "科目编码"), (1, "科目名称"), (2, amount.as_str())] {
        out.header(top + 1, column, text)?;
        out.header(top + 1, column + 3, text)?;
    }
    out.sheet.set_column_width(1, 30)?;
    out.sheet.set_column_width(4, 30)?;
    let rows = coded_rows(source);
    let personnel = |code: &str| code.starts_with("301") || code.starts_with("303");
    let left: Vec<&(String, String)> = rows.iter().filter(|(c, _)| personnel(c)).collect();
    let right: Vec<&(String, String)> = rows.iter().filter(|(c, _)| !personnel(c)).collect();
    let column = table.columns[0].code.clone();
    let first = top + 2;
    let body = left.len().max(right.len()) as u32;
    for (side, list) in [(0u16, &left), (3, &right)] {
        for (i, (code, label)) in list.iter().enumerate() {
            let row = first + i as u32;
            out.text(row, side, code)?;
            out.text(row, side + 1, label)?;
            out.figure(
                (row, side + 2),
                source.value(code, &column),
                ColumnKind::Amount,
                Some((code, &column)),
            )?;
        }
    }
    let totals = first + body;
    out.sheet.merge_range(
        totals,
        0,
        totals,
        1,
        &format!("{}合计", line_name("personnel")),
        &out.formats.header,
    )?;
    out.figure(
        (totals, 2),
        source.value("personnel", &column),
        ColumnKind::Amount,
        Some(("personnel", &column)),
    )?;
    out.sheet.merge_range(
        totals,
        3,
        totals,
        4,
        &format!("{}合计", line_name("public")),
        &out.formats.header,
    )?;
    out.figure(
        (totals, 5),
        source.value("public", &column),
        ColumnKind::Amount,
        Some(("public", &column)),
    )?;
    out.sheet.merge_range(
        totals + 1,
        0,
        totals + 1,
        4,
        &line_name("total"),
        &out.formats.header,
    )?;
    out.figure(
        (totals + 1, 5),
        source.value("total", &column),
        ColumnKind::Amount,
        Some(("total", &column)),
    )?;
    Ok(())
}

/// 公开09 in one row: 全年预算数 and 决算数, each over 合计, 因公出国（境）费, 公务用车购置及运行维护费 (小计,
/// 购置费, 运行维护费) and 公务接待费; 栏次; the figures.
fn one_row(out: &mut Sheet<'_, '_>, source: &Source<'_>) -> Result<(), WorkbookError> {
    let table = source.table;
    let lines: Vec<_> = table.lines.iter().collect();
    let width = lines.len() as u16;
    let top = preamble(out, source, width * table.columns.len() as u16)?;
    let under_vehicles = |code: &str| code.starts_with("vehicle_");
    for (group, column) in table.columns.iter().enumerate() {
        let at = group as u16 * width;
        out.span((top, at), (top, at + width - 1), &column.name)?;
        let mut k = 0u16;
        while k < width {
            let line = lines[usize::from(k)];
            let children = lines[usize::from(k) + 1..]
                .iter()
                .take_while(|l| under_vehicles(&l.code) && line.code == "vehicles")
                .count() as u16;
            if children > 0 {
                out.span((top + 1, at + k), (top + 1, at + k + children), &line.name)?;
                out.header(top + 2, at + k, "小计")?;
                for c in 1..=children {
                    out.header(top + 2, at + k + c, &lines[usize::from(k + c)].name)?;
                }
                k += children + 1;
            } else {
                out.span((top + 1, at + k), (top + 2, at + k), &line.name)?;
                k += 1;
            }
        }
        for (k, line) in lines.iter().enumerate() {
            let c = at + k as u16;
            out.sheet.write_number_with_format(
                top + 3,
                c,
                f64::from(c + 1),
                &out.formats.header,
            )?;
            out.figure(
                (top + 4, c),
                source.value(&line.code, &column.code),
                column.kind,
                Some((&line.code, &column.code)),
            )?;
            out.sheet.set_column_width(c, 14)?;
        }
    }
    out.header(top + 3, width * table.columns.len() as u16, "栏次")?;
    Ok(())
}
