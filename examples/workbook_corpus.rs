//! Writes the workbook corpus under `tests/workbooks/`: one unit's 2024 final accounts laid out the ways units
//! really print them (the ministry's published layout with multi-row headers and 栏次, two-sided 公开01/04/06, a
//! one-row 公开09, 类/款/项 in three columns or one, sheets named 表1 or by title or all tables on one sheet, 元,
//! 千元 or 万元, numbers as text, zeros blank, notes, hidden and extra sheets), and damaged copies of it, each with
//! what importing it must give (`expected.json`). The test suite imports every file.
//!
//! `cargo run --example workbook_corpus -- tests/workbooks` rewrites them, except two that nothing here can write:
//! `27-libreoffice.xls` and `28-libreoffice.ods` are `01-published-wan.xlsx` converted by LibreOffice
//! (`soffice --headless --convert-to xls|ods`), kept as they are and listed here with what they must give.

use std::io::{Cursor, Read, Write};

use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook, Worksheet};
use serde_json::json;

type Sheet = Worksheet;

/// Where a figure is in the truth: table, row, column, value in 万元 (two decimals).
struct Fig(&'static str, &'static str, &'static str, &'static str);

/// The unit's figures (万元). Zeros are not listed: a layout may print them as 0.00, a dash or nothing.
fn truth() -> Vec<Fig> {
    let mut f = vec![
        Fig("T01", "income_gpb", "amount", "1234.56"),
        Fig("T01", "income_business", "amount", "100.00"),
        Fig("T01", "income_other", "amount", "15.50"),
        Fig("T01", "income_total", "amount", "1350.06"),
        Fig("T01", "carryover_begin", "amount", "200.00"),
        Fig("T01", "income_grand_total", "amount", "1550.06"),
        Fig("T01", "201", "amount", "800.00"),
        Fig("T01", "208", "amount", "300.06"),
        Fig("T01", "210", "amount", "100.00"),
        Fig("T01", "221", "amount", "50.00"),
        Fig("T01", "expenditure_total", "amount", "1250.06"),
        Fig("T01", "carryover_end", "amount", "300.00"),
        Fig("T01", "expenditure_grand_total", "amount", "1550.06"),
    ];
    for (row, total, fiscal, business, other) in T02 {
        f.push(Fig("T02", row, "total", total));
        f.push(Fig("T02", row, "fiscal", fiscal));
        if !business.is_empty() {
            f.push(Fig("T02", row, "business", business));
        }
        if !other.is_empty() {
            f.push(Fig("T02", row, "other", other));
        }
    }
    for (table, rows) in [("T03", T03), ("T05", T05)] {
        for (row, total, basic, project) in rows {
            f.push(Fig(table, row, "total", total));
            if !basic.is_empty() {
                f.push(Fig(table, row, "basic", basic));
            }
            if !project.is_empty() {
                f.push(Fig(table, row, "project", project));
            }
        }
    }
    for (row, begin, income, spent, end) in [
        ("gpb", "150.00", "1234.56", "1134.56", "250.00"),
        ("total", "150.00", "1234.56", "1134.56", "250.00"),
    ] {
        f.push(Fig("T04", row, "carryover_begin", begin));
        f.push(Fig("T04", row, "income", income));
        f.push(Fig("T04", row, "expenditure", spent));
        f.push(Fig("T04", row, "carryover_end", end));
    }
    for (row, _, amount) in T06_PERSONNEL.iter().chain(T06_PUBLIC) {
        f.push(Fig("T06", row, "amount", amount));
    }
    f.push(Fig("T06", "personnel", "amount", "800.00"));
    f.push(Fig("T06", "public", "amount", "134.56"));
    f.push(Fig("T06", "total", "amount", "934.56"));
    for (row, _, budget, final_) in T09 {
        if *budget != "0.00" {
            f.push(Fig("T09", row, "budget", budget));
        }
        if *final_ != "0.00" {
            f.push(Fig("T09", row, "final", final_));
        }
    }
    f
}

/// 公开02: code, 本年收入合计, 财政拨款收入, 事业收入, 其他收入.
const T02: &[(&str, &str, &str, &str, &str)] = &[
    ("total", "1350.06", "1234.56", "100.00", "15.50"),
    ("201", "900.06", "784.56", "100.00", "15.50"),
    ("20101", "900.06", "784.56", "100.00", "15.50"),
    ("2010101", "700.06", "584.56", "100.00", "15.50"),
    ("2010102", "200.00", "200.00", "", ""),
    ("208", "300.00", "300.00", "", ""),
    ("20805", "300.00", "300.00", "", ""),
    ("2080505", "300.00", "300.00", "", ""),
    ("210", "100.00", "100.00", "", ""),
    ("21011", "100.00", "100.00", "", ""),
    ("2101101", "100.00", "100.00", "", ""),
    // A class with one 款 and one 项: each is read at its own level.
    ("221", "50.00", "50.00", "", ""),
    ("22102", "50.00", "50.00", "", ""),
    ("2210201", "50.00", "50.00", "", ""),
];
/// 公开03: code, 本年支出合计, 基本支出, 项目支出.
const T03: &[(&str, &str, &str, &str)] = &[
    ("total", "1250.06", "1000.06", "250.00"),
    ("201", "800.00", "600.00", "200.00"),
    ("20101", "800.00", "600.00", "200.00"),
    ("2010101", "600.00", "600.00", ""),
    ("2010102", "200.00", "", "200.00"),
    ("208", "300.06", "300.06", ""),
    ("20805", "300.06", "300.06", ""),
    ("2080505", "300.06", "300.06", ""),
    ("210", "100.00", "50.00", "50.00"),
    ("21011", "100.00", "50.00", "50.00"),
    ("2101101", "100.00", "50.00", "50.00"),
    ("221", "50.00", "50.00", ""),
    ("22102", "50.00", "50.00", ""),
    ("2210201", "50.00", "50.00", ""),
];
/// 公开05: code, 合计, 基本支出, 项目支出.
const T05: &[(&str, &str, &str, &str)] = &[
    ("total", "1134.56", "934.56", "200.00"),
    ("201", "700.00", "550.00", "150.00"),
    ("20101", "700.00", "550.00", "150.00"),
    ("2010101", "550.00", "550.00", ""),
    ("2010102", "150.00", "", "150.00"),
    ("208", "284.56", "284.56", ""),
    ("20805", "284.56", "284.56", ""),
    ("2080505", "284.56", "284.56", ""),
    ("210", "100.00", "50.00", "50.00"),
    ("21011", "100.00", "50.00", "50.00"),
    ("2101101", "100.00", "50.00", "50.00"),
    ("221", "50.00", "50.00", ""),
    ("22102", "50.00", "50.00", ""),
    ("2210201", "50.00", "50.00", ""),
];
const T06_PERSONNEL: &[(&str, &str, &str)] = &[
    ("301", "工资福利支出", "700.00"),
    ("30101", "基本工资", "400.00"),
    ("30102", "津贴补贴", "200.00"),
    ("30108", "机关事业单位基本养老保险缴费", "100.00"),
    ("303", "对个人和家庭的补助", "100.00"),
    ("30302", "退休费", "100.00"),
];
const T06_PUBLIC: &[(&str, &str, &str)] = &[
    ("302", "商品和服务支出", "134.56"),
    ("30201", "办公费", "80.00"),
    ("30211", "差旅费", "50.00"),
    ("30217", "公务接待费", "4.56"),
];
/// 公开09: line, label, 全年预算数, 决算数.
const T09: &[(&str, &str, &str, &str)] = &[
    ("total", "合计", "20.00", "16.56"),
    ("abroad", "1.因公出国（境）费", "0.00", "0.00"),
    ("vehicles", "2.公务用车购置及运行维护费", "15.00", "12.00"),
    ("vehicle_purchase", "（1）公务用车购置费", "0.00", "0.00"),
    (
        "vehicle_operation",
        "（2）公务用车运行维护费",
        "15.00",
        "12.00",
    ),
    ("reception", "3.公务接待费", "5.00", "4.56"),
];

fn name_of(code: &str) -> &'static str {
    match code {
        "201" => "一般公共服务支出",
        "20101" => "人大事务",
        "2010101" => "行政运行",
        "2010102" => "一般行政管理事务",
        "208" => "社会保障和就业支出",
        "20805" => "行政事业单位养老支出",
        "2080505" => "机关事业单位基本养老保险缴费支出",
        "210" => "卫生健康支出",
        "21011" => "行政事业单位医疗",
        "2101101" => "行政单位医疗",
        "221" => "住房保障支出",
        "22102" => "住房改革支出",
        "2210201" => "住房公积金",
        "total" => "合计",
        other => panic!("no name for {other}"),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Unit {
    Yuan,
    Thousand,
    Wan,
}

#[derive(Clone, Copy, PartialEq)]
enum Codes {
    /// 类 | 款 | 项 | 科目名称, each part printed alone.
    Three,
    /// The same, the class left blank on its 款 and 项 rows and the 款 on its 项 rows.
    ThreeCarried,
    /// 科目编码 | 科目名称.
    One,
    /// Names only, indented.
    Names,
}

#[derive(Clone, Copy, PartialEq)]
enum Zeros {
    Blank,
    Printed,
    Dash,
}

#[derive(Clone, Copy, PartialEq)]
enum T09Layout {
    OneRow,
    Lines,
    Interleaved,
}

#[derive(Clone, Copy, PartialEq)]
enum UnitLine {
    /// 金额单位：万元 on a row of its own, right.
    OwnRow,
    /// 编制单位：…      单位：元 in one cell.
    SameCellAsCompiler,
    /// 编制单位 left, 公开01表 and 单位：元 right on the same row.
    SameRowAsNumber,
    /// Only in the amount column's header: 金额（万元）.
    None,
}

#[derive(Clone)]
struct Style {
    unit: Unit,
    unit_line: UnitLine,
    codes: Codes,
    zeros: Zeros,
    ordinals: bool,
    numbers_as_text: bool,
    total_last: bool,
    notes: bool,
    t09: T09Layout,
    /// Table order (indices into the nine) and how sheets are named.
    order: Vec<usize>,
    sheets: Sheets,
    year_in_title: bool,
    cover: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Sheets {
    Standard,
    Numbered,
    Titles,
    OneSheet,
}

impl Default for Style {
    fn default() -> Style {
        Style {
            unit: Unit::Wan,
            unit_line: UnitLine::OwnRow,
            codes: Codes::Three,
            zeros: Zeros::Printed,
            ordinals: true,
            numbers_as_text: false,
            total_last: false,
            notes: false,
            t09: T09Layout::OneRow,
            order: vec![0, 1, 2, 3, 4, 5, 6, 7, 8],
            sheets: Sheets::Standard,
            year_in_title: true,
            cover: false,
        }
    }
}

const TITLES: [&str; 9] = [
    "收入支出决算总表",
    "收入决算表",
    "支出决算表",
    "财政拨款收入支出决算总表",
    "一般公共预算财政拨款支出决算表",
    "一般公共预算财政拨款基本支出决算表",
    "政府性基金预算财政拨款收入支出决算表",
    "国有资本经营预算财政拨款支出决算表",
    "财政拨款“三公”经费支出决算表",
];

struct Writer<'s> {
    style: &'s Style,
    fmt: Formats,
}

struct Formats {
    title: Format,
    header: Format,
    text: Format,
    money: Format,
    right: Format,
}

fn formats() -> Formats {
    let b = || Format::new().set_border(FormatBorder::Thin);
    Formats {
        title: Format::new()
            .set_bold()
            .set_font_size(16)
            .set_align(FormatAlign::Center),
        header: b()
            .set_bold()
            .set_align(FormatAlign::Center)
            .set_align(FormatAlign::VerticalCenter),
        text: b(),
        money: b().set_num_format("#,##0.00"),
        right: Format::new().set_align(FormatAlign::Right),
    }
}

impl Writer<'_> {
    /// A figure in the style's unit and form; `None` for a zero printed as nothing.
    fn write_value(&self, sheet: &mut Sheet, row: u32, col: u16, wan: &str) {
        let zero = wan.is_empty() || wan.trim_start_matches(['0', '.']).is_empty();
        if zero {
            match self.style.zeros {
                Zeros::Blank => {
                    sheet.write_blank(row, col, &self.fmt.money).unwrap();
                    return;
                }
                Zeros::Dash => {
                    sheet
                        .write_string_with_format(row, col, "-", &self.fmt.text)
                        .unwrap();
                    return;
                }
                Zeros::Printed => {}
            }
        }
        let wan = if wan.is_empty() { "0.00" } else { wan };
        let printed = scaled(wan, self.style.unit);
        if self.style.numbers_as_text {
            sheet
                .write_string_with_format(row, col, thousands(&printed), &self.fmt.text)
                .unwrap();
        } else {
            sheet
                .write_number_with_format(
                    row,
                    col,
                    printed.parse::<f64>().unwrap(),
                    &self.fmt.money,
                )
                .unwrap();
        }
    }

    fn unit_name(&self) -> &'static str {
        match self.style.unit {
            Unit::Yuan => "元",
            Unit::Thousand => "千元",
            Unit::Wan => "万元",
        }
    }

    /// Title, compiler line, unit line; returns the first header row.
    fn preamble(&self, sheet: &mut Sheet, top: u32, index: usize, width: u16) -> u32 {
        let title = if self.style.year_in_title {
            format!("2024年度{}", TITLES[index])
        } else {
            TITLES[index].to_owned()
        };
        sheet
            .merge_range(top, 0, top, width - 1, &title, &self.fmt.title)
            .unwrap();
        let number = format!("公开{:02}表", index + 1);
        let unit = format!("金额单位：{}", self.unit_name());
        match self.style.unit_line {
            UnitLine::OwnRow => {
                sheet
                    .write_string(top + 1, 0, "编制单位：某某县民政局")
                    .unwrap();
                sheet
                    .write_string_with_format(top + 1, width - 1, &number, &self.fmt.right)
                    .unwrap();
                sheet
                    .write_string_with_format(top + 2, width - 1, &unit, &self.fmt.right)
                    .unwrap();
                top + 3
            }
            UnitLine::SameCellAsCompiler => {
                sheet
                    .write_string(
                        top + 1,
                        0,
                        format!("编制单位：某某县民政局          单位：{}", self.unit_name()),
                    )
                    .unwrap();
                top + 2
            }
            UnitLine::SameRowAsNumber => {
                sheet
                    .write_string(top + 1, 0, "编制单位：元宝区民政局")
                    .unwrap();
                sheet
                    .write_string_with_format(
                        top + 1,
                        width - 1,
                        format!("{number}  {unit}"),
                        &self.fmt.right,
                    )
                    .unwrap();
                top + 2
            }
            UnitLine::None => top + 1,
        }
    }

    /// The value header of a one-amount column: 金额（万元） when the unit is stated nowhere else.
    fn amount_header(&self, plain: &str) -> String {
        if self.style.unit_line == UnitLine::None {
            format!("{plain}（{}）", self.unit_name())
        } else {
            plain.to_owned()
        }
    }

    /// The code columns' headers (two rows from `row`), returning how many columns they take before the values.
    fn code_headers(&self, sheet: &mut Sheet, row: u32) -> u16 {
        let h = &self.fmt.header;
        match self.style.codes {
            Codes::Three | Codes::ThreeCarried => {
                sheet.merge_range(row, 0, row, 3, "项目", h).unwrap();
                sheet
                    .merge_range(row + 1, 0, row + 1, 2, "科目编码", h)
                    .unwrap();
                sheet
                    .merge_range(row + 1, 3, row + 2, 3, "科目名称", h)
                    .unwrap();
                for (i, part) in ["类", "款", "项"].iter().enumerate() {
                    sheet
                        .write_string_with_format(row + 2, i as u16, *part, h)
                        .unwrap();
                }
                4
            }
            Codes::One => {
                sheet.merge_range(row, 0, row, 1, "项目", h).unwrap();
                sheet
                    .merge_range(row + 1, 0, row + 2, 0, "科目编码", h)
                    .unwrap();
                sheet
                    .merge_range(row + 1, 1, row + 2, 1, "科目名称", h)
                    .unwrap();
                2
            }
            Codes::Names => {
                sheet.merge_range(row, 0, row + 2, 0, "项目", h).unwrap();
                1
            }
        }
    }

    /// A coded row's code and name cells.
    fn code_cells(&self, sheet: &mut Sheet, row: u32, code: &str, previous: &str) {
        let t = &self.fmt.text;
        if code == "total" {
            let span = match self.style.codes {
                Codes::Three | Codes::ThreeCarried => 3,
                Codes::One => 1,
                Codes::Names => 0,
            };
            if span > 0 {
                sheet
                    .merge_range(row, 0, row, span, "合计", &self.fmt.header)
                    .unwrap();
            } else {
                sheet.write_string_with_format(row, 0, "合计", t).unwrap();
            }
            return;
        }
        let name = name_of(code);
        match self.style.codes {
            Codes::Three | Codes::ThreeCarried => {
                let carried = self.style.codes == Codes::ThreeCarried;
                let same_class =
                    previous.len() >= 3 && code.len() > 3 && previous[..3] == code[..3];
                let same_kuan = previous.len() >= 5 && code.len() > 5 && previous[..5] == code[..5];
                if !(carried && same_class) {
                    sheet
                        .write_string_with_format(row, 0, &code[..3], t)
                        .unwrap();
                }
                if code.len() >= 5 && !(carried && same_kuan) {
                    sheet
                        .write_string_with_format(row, 1, &code[3..5], t)
                        .unwrap();
                }
                if code.len() == 7 {
                    sheet
                        .write_string_with_format(row, 2, &code[5..], t)
                        .unwrap();
                }
                sheet.write_string_with_format(row, 3, name, t).unwrap();
            }
            Codes::One => {
                sheet.write_string_with_format(row, 0, code, t).unwrap();
                sheet.write_string_with_format(row, 1, name, t).unwrap();
            }
            Codes::Names => {
                let indent = "　".repeat((code.len() - 3) / 2);
                sheet
                    .write_string_with_format(row, 0, format!("{indent}{name}"), t)
                    .unwrap();
            }
        }
    }

    fn ordinal_row(&self, sheet: &mut Sheet, row: u32, label_columns: u16, values: u16) -> u32 {
        if !self.style.ordinals {
            return row;
        }
        sheet
            .write_string_with_format(row, 0, "栏次", &self.fmt.header)
            .unwrap();
        for i in 0..values {
            sheet
                .write_number_with_format(
                    row,
                    label_columns + i,
                    f64::from(i + 1),
                    &self.fmt.header,
                )
                .unwrap();
        }
        row + 1
    }

    /// A coded table (公开02, 03, 05): the rows with 合计 first or last.
    fn coded(
        &self,
        sheet: &mut Sheet,
        top: u32,
        index: usize,
        headers: &[&str],
        group: Option<&str>,
        rows: &[Vec<&str>],
    ) -> u32 {
        let width = 4 + headers.len() as u16;
        let row = self.preamble(sheet, top, index, width);
        let at = self.code_headers(sheet, row);
        let h = &self.fmt.header;
        for (i, header) in headers.iter().enumerate() {
            let col = at + i as u16;
            match group {
                Some(group) if i == 0 => {
                    sheet
                        .merge_range(row, at, row, at + headers.len() as u16 - 1, group, h)
                        .unwrap();
                    sheet
                        .merge_range(row + 1, col, row + 2, col, header, h)
                        .unwrap();
                }
                Some(_) => {
                    sheet
                        .merge_range(row + 1, col, row + 2, col, header, h)
                        .unwrap();
                }
                None => {
                    sheet
                        .merge_range(row, col, row + 2, col, header, h)
                        .unwrap();
                }
            }
        }
        let mut r = self.ordinal_row(sheet, row + 3, at, headers.len() as u16);
        let mut ordered: Vec<&Vec<&str>> = rows.iter().collect();
        if self.style.total_last {
            ordered.rotate_left(1);
        }
        let mut previous = "";
        for data in ordered {
            self.code_cells(sheet, r, data[0], previous);
            previous = data[0];
            for (i, value) in data[1..].iter().enumerate() {
                self.write_value(sheet, r, at + i as u16, value);
            }
            r += 1;
        }
        self.notes(sheet, r, index)
    }

    fn notes(&self, sheet: &mut Sheet, row: u32, index: usize) -> u32 {
        if !self.style.notes {
            return row;
        }
        sheet
            .write_string(
                row + 1,
                0,
                format!(
                    "注：本表反映部门本年度{}情况。",
                    &TITLES[index][..TITLES[index].len().min(12)]
                ),
            )
            .unwrap();
        sheet
            .write_string(row + 2, 0, "本表金额转换成万元时，因四舍五入可能存在尾差。")
            .unwrap();
        row + 3
    }

    fn t01(&self, sheet: &mut Sheet, top: u32) -> u32 {
        let row = self.preamble(sheet, top, 0, 6);
        let h = &self.fmt.header;
        sheet.merge_range(row, 0, row, 2, "收入", h).unwrap();
        sheet.merge_range(row, 3, row, 5, "支出", h).unwrap();
        let amount = self.amount_header("金额");
        for (col, text) in [
            (0, "项目"),
            (1, "行次"),
            (2, amount.as_str()),
            (3, "项目"),
            (4, "行次"),
            (5, amount.as_str()),
        ] {
            sheet
                .write_string_with_format(row + 1, col, text, h)
                .unwrap();
        }
        let mut r = row + 2;
        if self.style.ordinals {
            for (col, text) in [(0, "栏次"), (3, "栏次")] {
                sheet.write_string_with_format(r, col, text, h).unwrap();
            }
            sheet.write_number_with_format(r, 2, 1.0, h).unwrap();
            sheet.write_number_with_format(r, 5, 2.0, h).unwrap();
            r += 1;
        }
        let income = [
            ("一、一般公共预算财政拨款收入", "1234.56"),
            ("二、政府性基金预算财政拨款收入", ""),
            ("三、国有资本经营预算财政拨款收入", ""),
            ("四、上级补助收入", ""),
            ("五、事业收入", "100.00"),
            ("六、经营收入", ""),
            ("七、附属单位上缴收入", ""),
            ("八、其他收入", "15.50"),
            ("", ""),
            ("本年收入合计", "1350.06"),
            ("使用非财政拨款结余", ""),
            ("年初结转和结余", "200.00"),
            ("收入总计", "1550.06"),
        ];
        let spending = [
            ("一、一般公共服务支出", "800.00"),
            ("二、社会保障和就业支出", "300.06"),
            ("三、卫生健康支出", "100.00"),
            ("四、住房保障支出", "50.00"),
            ("", ""),
            ("", ""),
            ("", ""),
            ("", ""),
            ("", ""),
            ("本年支出合计", "1250.06"),
            ("结余分配", ""),
            ("年末结转和结余", "300.00"),
            ("支出总计", "1550.06"),
        ];
        for (i, ((in_label, in_value), (out_label, out_value))) in
            income.iter().zip(&spending).enumerate()
        {
            let line = i as f64 + 1.0;
            if !in_label.is_empty() {
                sheet
                    .write_string_with_format(r, 0, *in_label, &self.fmt.text)
                    .unwrap();
                sheet
                    .write_number_with_format(r, 1, line, &self.fmt.text)
                    .unwrap();
                self.write_value(sheet, r, 2, in_value);
            }
            if !out_label.is_empty() {
                sheet
                    .write_string_with_format(r, 3, *out_label, &self.fmt.text)
                    .unwrap();
                sheet
                    .write_number_with_format(r, 4, line + 30.0, &self.fmt.text)
                    .unwrap();
                self.write_value(sheet, r, 5, out_value);
            }
            r += 1;
        }
        self.notes(sheet, r, 0)
    }

    fn t04(&self, sheet: &mut Sheet, top: u32) -> u32 {
        let row = self.preamble(sheet, top, 3, 9);
        let h = &self.fmt.header;
        sheet.merge_range(row, 0, row, 2, "收入", h).unwrap();
        sheet.merge_range(row, 3, row, 8, "支出", h).unwrap();
        let amount = self.amount_header("金额");
        for (col, text) in [
            (0, "项目"),
            (1, "行次"),
            (2, amount.as_str()),
            (3, "项目"),
            (4, "行次"),
            (5, "合计"),
            (6, "一般公共预算财政拨款"),
            (7, "政府性基金预算财政拨款"),
            (8, "国有资本经营预算财政拨款"),
        ] {
            sheet
                .write_string_with_format(row + 1, col, text, h)
                .unwrap();
        }
        let mut r = row + 2;
        if self.style.ordinals {
            sheet.write_string_with_format(r, 0, "栏次", h).unwrap();
            sheet.write_number_with_format(r, 2, 1.0, h).unwrap();
            sheet.write_string_with_format(r, 3, "栏次", h).unwrap();
            for (i, col) in (5..=8).enumerate() {
                sheet
                    .write_number_with_format(r, col, (i + 2) as f64, h)
                    .unwrap();
            }
            r += 1;
        }
        let income: [(&str, &str); 9] = [
            ("一、一般公共预算财政拨款", "1234.56"),
            ("二、政府性基金预算财政拨款", ""),
            ("三、国有资本经营预算财政拨款", ""),
            ("本年收入合计", "1234.56"),
            ("年初财政拨款结转和结余", "150.00"),
            ("一般公共预算财政拨款", "150.00"),
            ("政府性基金预算财政拨款", ""),
            ("国有资本经营预算财政拨款", ""),
            ("收入总计", "1384.56"),
        ];
        // 支出: the classes by fund, then the totals; [合计, 一般公共预算, 政府性基金, 国有资本经营].
        let spending: [(&str, [&str; 4]); 9] = [
            ("一、一般公共服务支出", ["700.00", "700.00", "", ""]),
            ("二、社会保障和就业支出", ["284.56", "284.56", "", ""]),
            ("三、卫生健康支出", ["100.00", "100.00", "", ""]),
            ("四、住房保障支出", ["50.00", "50.00", "", ""]),
            ("本年支出合计", ["1134.56", "1134.56", "", ""]),
            ("年末财政拨款结转和结余", ["250.00", "250.00", "", ""]),
            ("", ["", "", "", ""]),
            ("", ["", "", "", ""]),
            ("支出总计", ["1384.56", "1384.56", "", ""]),
        ];
        for (i, ((in_label, in_value), (out_label, out_values))) in
            income.iter().zip(&spending).enumerate()
        {
            sheet
                .write_string_with_format(r, 0, *in_label, &self.fmt.text)
                .unwrap();
            sheet
                .write_number_with_format(r, 1, i as f64 + 1.0, &self.fmt.text)
                .unwrap();
            self.write_value(sheet, r, 2, in_value);
            if !out_label.is_empty() {
                sheet
                    .write_string_with_format(r, 3, *out_label, &self.fmt.text)
                    .unwrap();
                sheet
                    .write_number_with_format(r, 4, i as f64 + 30.0, &self.fmt.text)
                    .unwrap();
                for (k, value) in out_values.iter().enumerate() {
                    self.write_value(sheet, r, 5 + k as u16, value);
                }
            }
            r += 1;
        }
        self.notes(sheet, r, 3)
    }

    fn t06(&self, sheet: &mut Sheet, top: u32) -> u32 {
        let row = self.preamble(sheet, top, 5, 6);
        let h = &self.fmt.header;
        sheet.merge_range(row, 0, row, 2, "人员经费", h).unwrap();
        sheet.merge_range(row, 3, row, 5, "公用经费", h).unwrap();
        let amount = self.amount_header("决算数");
        for (col, text) in [
            (0, "科目编码"),
            (1, "科目名称"),
            (2, amount.as_str()),
            (3, "科目编码"),
            (4, "科目名称"),
            (5, amount.as_str()),
        ] {
            sheet
                .write_string_with_format(row + 1, col, text, h)
                .unwrap();
        }
        let mut r = row + 2;
        let rows = T06_PERSONNEL.len().max(T06_PUBLIC.len());
        for i in 0..rows {
            for (side, list) in [(0u16, T06_PERSONNEL), (3, T06_PUBLIC)] {
                if let Some((code, name, amount)) = list.get(i) {
                    sheet
                        .write_string_with_format(r, side, *code, &self.fmt.text)
                        .unwrap();
                    let name = if code.len() == 5 {
                        format!("　{name}")
                    } else {
                        (*name).to_owned()
                    };
                    sheet
                        .write_string_with_format(r, side + 1, name, &self.fmt.text)
                        .unwrap();
                    self.write_value(sheet, r, side + 2, amount);
                }
            }
            r += 1;
        }
        sheet.merge_range(r, 0, r, 1, "人员经费合计", h).unwrap();
        self.write_value(sheet, r, 2, "800.00");
        sheet.merge_range(r, 3, r, 4, "公用经费合计", h).unwrap();
        self.write_value(sheet, r, 5, "134.56");
        r += 1;
        sheet.merge_range(r, 0, r, 4, "合计", h).unwrap();
        self.write_value(sheet, r, 5, "934.56");
        self.notes(sheet, r + 1, 5)
    }

    fn empty(&self, sheet: &mut Sheet, top: u32, index: usize) -> u32 {
        let headers = [
            "年初结转和结余",
            "本年收入",
            "本年支出",
            "",
            "",
            "年末结转和结余",
        ];
        let width = 4 + headers.len() as u16;
        let row = self.preamble(sheet, top, index, width);
        let at = self.code_headers(sheet, row);
        let h = &self.fmt.header;
        sheet
            .merge_range(row, at, row + 2, at, "年初结转和结余", h)
            .unwrap();
        sheet
            .merge_range(row, at + 1, row + 2, at + 1, "本年收入", h)
            .unwrap();
        sheet
            .merge_range(row, at + 2, row, at + 4, "本年支出", h)
            .unwrap();
        sheet
            .merge_range(row + 1, at + 2, row + 2, at + 2, "小计", h)
            .unwrap();
        sheet
            .merge_range(row + 1, at + 3, row + 2, at + 3, "基本支出", h)
            .unwrap();
        sheet
            .merge_range(row + 1, at + 4, row + 2, at + 4, "项目支出", h)
            .unwrap();
        sheet
            .merge_range(row, at + 5, row + 2, at + 5, "年末结转和结余", h)
            .unwrap();
        let r = self.ordinal_row(sheet, row + 3, at, 6);
        self.code_cells(sheet, r, "total", "");
        let fund = if index == 6 {
            "政府性基金预算"
        } else {
            "国有资本经营预算"
        };
        sheet
            .write_string(r + 2, 0, format!("注：本单位2024年度无{fund}财政拨款收入，也没有使用{fund}财政拨款安排的支出，故本表无数据。"))
            .unwrap();
        r + 3
    }

    fn t09(&self, sheet: &mut Sheet, top: u32) -> u32 {
        let h = &self.fmt.header;
        match self.style.t09 {
            T09Layout::Lines => {
                let row = self.preamble(sheet, top, 8, 3);
                for (col, text) in [(0, "项目"), (1, "全年预算数"), (2, "决算数")] {
                    sheet.write_string_with_format(row, col, text, h).unwrap();
                }
                let mut r = self.ordinal_row(sheet, row + 1, 1, 2);
                for (_, label, budget, final_) in T09 {
                    sheet
                        .write_string_with_format(r, 0, *label, &self.fmt.text)
                        .unwrap();
                    self.write_value(sheet, r, 1, budget);
                    self.write_value(sheet, r, 2, final_);
                    r += 1;
                }
                self.notes(sheet, r, 8)
            }
            T09Layout::OneRow => {
                let row = self.preamble(sheet, top, 8, 12);
                for (group, at) in [("全年预算数", 0u16), ("决算数", 6)] {
                    sheet.merge_range(row, at, row, at + 5, group, h).unwrap();
                    sheet
                        .merge_range(row + 1, at, row + 2, at, "合计", h)
                        .unwrap();
                    sheet
                        .merge_range(row + 1, at + 1, row + 2, at + 1, "因公出国（境）费", h)
                        .unwrap();
                    sheet
                        .merge_range(
                            row + 1,
                            at + 2,
                            row + 1,
                            at + 4,
                            "公务用车购置及运行维护费",
                            h,
                        )
                        .unwrap();
                    sheet
                        .write_string_with_format(row + 2, at + 2, "小计", h)
                        .unwrap();
                    sheet
                        .write_string_with_format(row + 2, at + 3, "公务用车购置费", h)
                        .unwrap();
                    sheet
                        .write_string_with_format(row + 2, at + 4, "公务用车运行维护费", h)
                        .unwrap();
                    sheet
                        .merge_range(row + 1, at + 5, row + 2, at + 5, "公务接待费", h)
                        .unwrap();
                }
                let mut r = row + 3;
                if self.style.ordinals {
                    for i in 0..12u16 {
                        sheet
                            .write_number_with_format(r, i, f64::from(i + 1), h)
                            .unwrap();
                    }
                    sheet.write_string_with_format(r, 12, "栏次", h).unwrap();
                    r += 1;
                }
                for (k, (_, _, budget, final_)) in T09.iter().enumerate() {
                    self.write_value(sheet, r, k as u16, budget);
                    self.write_value(sheet, r, 6 + k as u16, final_);
                }
                self.notes(sheet, r + 1, 8)
            }
            T09Layout::Interleaved => {
                let row = self.preamble(sheet, top, 8, 12);
                for (k, (_, label, _, _)) in T09.iter().enumerate() {
                    let at = 2 * k as u16;
                    let label = label.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
                    sheet.merge_range(row, at, row, at + 1, label, h).unwrap();
                    sheet
                        .write_string_with_format(row + 1, at, "预算数", h)
                        .unwrap();
                    sheet
                        .write_string_with_format(row + 1, at + 1, "决算数", h)
                        .unwrap();
                }
                let r = row + 2;
                for (k, (_, _, budget, final_)) in T09.iter().enumerate() {
                    self.write_value(sheet, r, 2 * k as u16, budget);
                    self.write_value(sheet, r, 2 * k as u16 + 1, final_);
                }
                self.notes(sheet, r + 1, 8)
            }
        }
    }

    fn table(&self, sheet: &mut Sheet, top: u32, index: usize) -> u32 {
        let rows = |source: &[(&'static str, &'static str, &'static str, &'static str)]| -> Vec<Vec<&'static str>> {
            source.iter().map(|(a, b, c, d)| vec![*a, *b, *c, *d]).collect()
        };
        match index {
            0 => self.t01(sheet, top),
            1 => {
                let rows: Vec<Vec<&str>> = T02
                    .iter()
                    .map(|(code, total, fiscal, business, other)| {
                        vec![*code, *total, *fiscal, "", *business, "", "", *other]
                    })
                    .collect();
                self.coded(
                    sheet,
                    top,
                    1,
                    &[
                        "本年收入合计",
                        "财政拨款收入",
                        "上级补助收入",
                        "事业收入",
                        "经营收入",
                        "附属单位上缴收入",
                        "其他收入",
                    ],
                    None,
                    &rows,
                )
            }
            2 => self.coded(
                sheet,
                top,
                2,
                &[
                    "本年支出合计",
                    "基本支出",
                    "项目支出",
                    "上缴上级支出",
                    "经营支出",
                    "对附属单位补助支出",
                ],
                None,
                &rows(T03),
            ),
            3 => self.t04(sheet, top),
            4 => self.coded(
                sheet,
                top,
                4,
                &["合计", "基本支出", "项目支出"],
                Some("本年支出"),
                &rows(T05),
            ),
            5 => self.t06(sheet, top),
            6 | 7 => self.empty(sheet, top, index),
            _ => self.t09(sheet, top),
        }
    }
}

fn scaled(wan: &str, unit: Unit) -> String {
    let (whole, fraction) = wan.split_once('.').unwrap_or((wan, ""));
    let fen: i64 = format!("{whole}{fraction:0<2}").parse().unwrap();
    match unit {
        Unit::Wan => format!("{}.{:02}", fen / 100, fen % 100),
        // 1 万元 = 10,000 元: fen × 100.
        Unit::Yuan => format!("{}.00", fen * 100),
        Unit::Thousand => format!("{}.{}", fen * 10 / 100, (fen * 10) % 100),
    }
}

fn thousands(number: &str) -> String {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let mut out = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if fraction.is_empty() {
        out
    } else {
        format!("{out}.{fraction}")
    }
}

fn cover(workbook: &mut Workbook, unit: &str) {
    let sheet = workbook.add_worksheet();
    sheet.set_name("封面").unwrap();
    sheet.write_string(0, 0, "2024年度部门决算").unwrap();
    for (i, (label, value)) in [
        ("单位代码", "652300101"),
        ("单位名称", "某某县民政局"),
        ("年度", "2024"),
        ("预算级次", "县级"),
        ("单位类型", "行政单位"),
        ("报表类型", "单户表"),
        ("金额单位", unit),
    ]
    .iter()
    .enumerate()
    {
        sheet.write_string(2 + i as u32, 0, *label).unwrap();
        sheet.write_string(2 + i as u32, 1, *value).unwrap();
    }
}

fn build(style: &Style, extra: impl FnOnce(&mut Workbook)) -> Vec<u8> {
    let mut workbook = Workbook::new();
    // A fixed creation time: the corpus is the same bytes every time it is written.
    let created = rust_xlsxwriter::ExcelDateTime::from_ymd(2025, 3, 31).unwrap();
    workbook.set_properties(&rust_xlsxwriter::DocProperties::new().set_creation_datetime(&created));
    let writer = Writer {
        style,
        fmt: formats(),
    };
    if style.cover {
        cover(&mut workbook, "");
    }
    if style.sheets == Sheets::OneSheet {
        let sheet = workbook.add_worksheet();
        sheet.set_name("部门决算公开表").unwrap();
        let mut top = 0;
        for &index in &style.order {
            top = writer.table(sheet, top, index) + 2;
        }
    } else {
        for (position, &index) in style.order.iter().enumerate() {
            let sheet = workbook.add_worksheet();
            let name = match style.sheets {
                Sheets::Standard => format!("公开{:02}", index + 1),
                Sheets::Numbered => format!("表{}", position + 1),
                _ => TITLES[index].replace(['“', '”'], ""),
            };
            sheet.set_name(name).unwrap();
            sheet.set_column_width(0, 30).unwrap();
            writer.table(sheet, 0, index);
        }
    }
    extra(&mut workbook);
    workbook.save_to_buffer().unwrap()
}

/// Rewrites one part of an .xlsx archive.
fn rewrite(bytes: &[u8], part: &str, change: impl Fn(String) -> String) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).unwrap();
        let name = file.name().expect("a UTF-8 name").to_string();
        let mut content = Vec::new();
        file.read_to_end(&mut content).unwrap();
        if name == part {
            content = change(String::from_utf8(content).unwrap()).into_bytes();
        }
        out.start_file(name, options).unwrap();
        out.write_all(&content).unwrap();
    }
    out.finish().unwrap().into_inner()
}

struct Case {
    file: String,
    bytes: Vec<u8>,
    /// Files written beside it and read with it as one workbook (a .csv per table), under `file` as a directory.
    parts: Vec<(String, Vec<u8>)>,
    options: serde_json::Value,
    /// `None`: the truth; else (cell, reason part) each problem must include.
    refused: Option<Vec<(String, String)>>,
    about: String,
}

fn good(file: &str, about: &str, style: Style) -> Case {
    let options = if style.cover {
        json!({})
    } else {
        json!({"unit": "652300101"})
    };
    Case {
        file: file.to_owned(),
        bytes: build(&style, |_| {}),
        parts: Vec::new(),
        options,
        refused: None,
        about: about.to_owned(),
    }
}

fn refused(
    file: &str,
    about: &str,
    bytes: Vec<u8>,
    options: serde_json::Value,
    problems: &[(&str, &str)],
) -> Case {
    Case {
        file: file.to_owned(),
        bytes,
        parts: Vec::new(),
        options,
        refused: Some(
            problems
                .iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect(),
        ),
        about: about.to_owned(),
    }
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "tests/workbooks".to_owned());
    std::fs::create_dir_all(&dir).unwrap();
    let s = Style::default;
    let mut cases = vec![
        good(
            "01-published-wan.xlsx",
            "the published layout: 类/款/项 in three columns, 栏次, two-sided 公开01/04/06, one-row 公开09, 万元",
            s(),
        ),
        good(
            "02-published-yuan.xlsx",
            "in 元, the unit on a row of its own",
            Style {
                unit: Unit::Yuan,
                ..s()
            },
        ),
        good(
            "03-unit-with-compiler.xlsx",
            "单位：元 in the same cell as 编制单位",
            Style {
                unit: Unit::Yuan,
                unit_line: UnitLine::SameCellAsCompiler,
                ..s()
            },
        ),
        good(
            "04-unit-with-number.xlsx",
            "编制单位 of 元宝区 (not a unit) and 公开01表 单位：元 on one row",
            Style {
                unit: Unit::Yuan,
                unit_line: UnitLine::SameRowAsNumber,
                ..s()
            },
        ),
        good(
            "05-thousand-yuan.xlsx",
            "in 千元",
            Style {
                unit: Unit::Thousand,
                ..s()
            },
        ),
        good(
            "06-unit-in-header.xlsx",
            "the unit only in the amount headers, 金额（万元）; no 编制单位 line and no table numbers",
            Style {
                unit_line: UnitLine::None,
                codes: Codes::One,
                ..s()
            },
        ),
        good(
            "07-one-code-column.xlsx",
            "科目编码 in one column",
            Style {
                codes: Codes::One,
                ..s()
            },
        ),
        good(
            "08-codes-carried.xlsx",
            "类 left blank on 款 rows and 款 on 项 rows",
            Style {
                codes: Codes::ThreeCarried,
                ..s()
            },
        ),
        good(
            "09-names-only.xlsx",
            "no codes, names indented",
            Style {
                codes: Codes::Names,
                ..s()
            },
        ),
        good(
            "10-zeros-blank.xlsx",
            "zeros left blank",
            Style {
                zeros: Zeros::Blank,
                ..s()
            },
        ),
        good(
            "11-zeros-dash.xlsx",
            "zeros as dashes",
            Style {
                zeros: Zeros::Dash,
                ..s()
            },
        ),
        good(
            "12-text-numbers.xlsx",
            "numbers stored as text with thousands separators, in 元",
            Style {
                numbers_as_text: true,
                unit: Unit::Yuan,
                ..s()
            },
        ),
        good(
            "13-total-last.xlsx",
            "合计 at the bottom",
            Style {
                total_last: true,
                ..s()
            },
        ),
        good(
            "14-notes-below.xlsx",
            "notes under every table",
            Style { notes: true, ..s() },
        ),
        good(
            "15-numbered-sheets.xlsx",
            "sheets named 表1 … 表9",
            Style {
                sheets: Sheets::Numbered,
                ..s()
            },
        ),
        good(
            "16-title-sheets.xlsx",
            "sheets named by their titles, no 栏次",
            Style {
                sheets: Sheets::Titles,
                ordinals: false,
                ..s()
            },
        ),
        good(
            "17-one-sheet.xlsx",
            "all nine tables on one sheet",
            Style {
                sheets: Sheets::OneSheet,
                notes: true,
                ..s()
            },
        ),
        good(
            "18-other-order.xlsx",
            "三公 seventh, the fund tables last",
            Style {
                order: vec![0, 1, 2, 3, 4, 5, 8, 6, 7],
                sheets: Sheets::Numbered,
                ..s()
            },
        ),
        good(
            "19-t09-lines.xlsx",
            "公开09 as lines with numbering",
            Style {
                t09: T09Layout::Lines,
                ..s()
            },
        ),
        good(
            "20-t09-interleaved.xlsx",
            "公开09 with 预算数 and 决算数 item by item",
            Style {
                t09: T09Layout::Interleaved,
                ..s()
            },
        ),
        good(
            "21-with-cover.xlsx",
            "a 封面 with Chinese enumerations and no amount unit; the tables state it",
            Style { cover: true, ..s() },
        ),
        good(
            "22-no-year-in-title.xlsx",
            "no year in the titles: --year gives it",
            Style {
                year_in_title: false,
                ..s()
            },
        ),
    ];
    cases[21].options = json!({"unit": "652300101", "year": 2024});
    // Extra sheets: a 说明, a blank Sheet3 and a hidden stale copy of 公开01 in 元.
    cases.push(Case {
        parts: Vec::new(),
        file: "23-extra-and-hidden-sheets.xlsx".to_owned(),
        bytes: build(&s(), |workbook| {
            let sheet = workbook.add_worksheet();
            sheet.set_name("说明").unwrap();
            sheet
                .write_string(0, 0, "填报说明：本工作簿为2024年度部门决算公开表。")
                .unwrap();
            workbook.add_worksheet().set_name("Sheet3").unwrap();
            let stale = Style {
                unit: Unit::Yuan,
                ..s()
            };
            let writer = Writer {
                style: &stale,
                fmt: formats(),
            };
            let sheet = workbook.add_worksheet();
            sheet.set_name("旧表").unwrap();
            writer.t01(sheet, 0);
            sheet.set_hidden(true);
        }),
        options: json!({"unit": "652300101"}),
        refused: None,
        about:
            "a 说明 sheet, a blank Sheet3 and a hidden old copy of 公开01 (in 元) that is not read"
                .to_owned(),
    });
    let plain = build(&s(), |_| {});
    // The formats without merged regions: an .ods saved from the published workbook, and a .csv per table
    // (UTF-8, and GB18030 as Chinese Excel saves CSV).
    cases.push(Case {
        file: "24-published.ods".to_owned(),
        bytes: to_ods(&plain),
        parts: Vec::new(),
        options: json!({"unit": "652300101"}),
        refused: None,
        about: "the published workbook saved as .ods (merged headers written once, at their first cell)".to_owned(),
    });
    for (file, about) in [
        (
            "27-libreoffice.xls",
            "01 saved as .xls (BIFF8) by LibreOffice",
        ),
        (
            "28-libreoffice.ods",
            "01 saved as .ods by LibreOffice, with its merged cells",
        ),
    ] {
        cases.push(Case {
            file: file.to_owned(),
            bytes: Vec::new(),
            parts: Vec::new(),
            options: json!({"unit": "652300101"}),
            refused: None,
            about: about.to_owned(),
        });
    }
    for (dir, gb18030) in [("25-csv-per-table", false), ("26-csv-gb18030", true)] {
        cases.push(Case {
            file: dir.to_owned(),
            bytes: Vec::new(),
            parts: to_csv(
                &build(
                    &Style {
                        unit: Unit::Yuan,
                        ..s()
                    },
                    |_| {},
                ),
                gb18030,
            ),
            options: json!({"unit": "652300101"}),
            refused: None,
            about: format!(
                "a .csv per table in 元 ({})",
                if gb18030 { "GB18030" } else { "UTF-8" }
            ),
        });
    }
    // The cells below are those of 01's layout: 公开05's 201 合计 is C… — found by searching the sheet XML.
    cases.extend([
        Case {
            file: "29-t04-class-disagrees.xlsx".to_owned(),
            bytes: plain.clone().pipe(|b| replace_cell(&b, 4, "G7", "<c r=\"G7\"><v>710</v></c>")),
            parts: Vec::new(),
            options: json!({"unit": "652300101", "notices": [["公开04!G7", "differs from 700.00 in 公开05"]]}),
            refused: None,
            about: "公开04 prints 710 for 一般公共服务支出 by 一般公共预算 where 公开05 keeps 700: read, with a notice".to_owned(),
        },
        refused(
            "40-formula-without-value.xlsx",
            "a formula saved without its value (written by a program, never opened in Excel)",
            build(&s(), |_| {}).pipe(|b| strip_value(&b, 5, "E8", "SUM(E9:E10)")),
            json!({"unit": "652300101"}),
            &[("公开05!E8", "has no saved value")],
        ),
        refused(
            "41-error-value.xlsx",
            "an error value where a figure should be",
            plain.clone().pipe(|b| error_value(&b, 2, "E8", "#REF!")),
            json!({"unit": "652300101"}),
            &[("公开02!E8", "error value #REF!")],
        ),
        refused(
            "42-text-not-a-number.xlsx",
            "见附表 typed where a figure should be",
            plain.clone().pipe(|b| text_value(&b, 3, "F8", "见附表")),
            json!({"unit": "652300101"}),
            &[("公开03!F8", "见附表 is not a number")],
        ),
        refused(
            "43-two-units.xlsx",
            "公开01 in 元 and the rest in 万元",
            two_units(),
            json!({"unit": "652300101"}),
            &[("the workbook", "states two amount units")],
        ),
        refused(
            "44-no-unit.xlsx",
            "no amount unit anywhere",
            build(
                &Style {
                    unit_line: UnitLine::None,
                    ..s()
                },
                |_| {},
            )
            .pipe(|b| strip_units(&b)),
            json!({"unit": "652300101"}),
            &[("the workbook", "states no amount unit")],
        ),
        refused(
            "45-missing-table.xlsx",
            "公开09 left out",
            build(
                &Style {
                    order: vec![0, 1, 2, 3, 4, 5, 6, 7],
                    ..s()
                },
                |_| {},
            ),
            json!({"unit": "652300101"}),
            &[("the workbook", "has no 公开09")],
        ),
        refused(
            "46-unknown-sheet.xlsx",
            "a sheet of figures titled as none of the tables",
            build(&s(), |workbook| {
                let sheet = workbook.add_worksheet();
                sheet.set_name("Sheet1").unwrap();
                sheet.write_string(0, 0, "项目支出明细").unwrap();
                for r in 1..5 {
                    sheet.write_string(r, 0, format!("项目{r}")).unwrap();
                    sheet.write_number(r, 1, f64::from(r) * 10.0).unwrap();
                }
            }),
            json!({"unit": "652300101"}),
            &[("Sheet1", "none of the year's tables")],
        ),
        refused(
            "47-no-unit-code.xlsx",
            "no cover and no --unit",
            plain.clone(),
            json!({}),
            &[("the workbook", "--unit")],
        ),
        refused(
            "48-last-years-title.xlsx",
            "a title still saying 2023年度 in a 2024 workbook",
            plain.clone().pipe(|b| {
                replace_text(
                    &b,
                    "2024年度财政拨款收入支出决算总表",
                    "2023年度财政拨款收入支出决算总表",
                )
            }),
            json!({"unit": "652300101", "year": 2024}),
            &[("公开04!A1", "its title says 2023")],
        ),
        refused(
            "49-unknown-line.xlsx",
            "a line of 公开01 that is none of its lines",
            plain
                .clone()
                .pipe(|b| replace_text(&b, "八、其他收入", "八、利息收入")),
            json!({"unit": "652300101"}),
            &[("公开01!A14", "利息收入 is neither a line")],
        ),
        refused(
            "50-unknown-column.xlsx",
            "a column 调整数 that 公开05 does not have, with figures",
            plain
                .clone()
                .pipe(|b| replace_text(&b, "项目支出", "调整数")),
            json!({"unit": "652300101"}),
            &[(
                "公开05!G8",
                "not a column of 一般公共预算财政拨款支出决算表",
            )],
        ),
        refused(
            "51-ambiguous-name.xlsx",
            "行政运行 printed without its code and without its 款 above it",
            build(
                &Style {
                    codes: Codes::Names,
                    ..s()
                },
                |_| {},
            )
            .pipe(|b| replace_text(&b, "　人大事务", "　人大事务（合计）")),
            json!({"unit": "652300101"}),
            &[("公开02!A11", "names several codes")],
        ),
        refused(
            "52-flag-disagrees.xlsx",
            "a cover for 652300101 imported with --unit 652300102",
            build(&Style { cover: true, ..s() }, |_| {}),
            json!({"unit": "652300102"}),
            &[("封面!B3", "--unit says 652300102")],
        ),
        refused(
            "53-damaged.xlsx",
            "a workbook cut short (a broken download)",
            plain[..plain.len() / 2].to_vec(),
            json!({"unit": "652300101"}),
            &[("53-damaged.xlsx", "")],
        ),
        refused(
            "54-figure-below-notes.xlsx",
            "a figure typed under the notes",
            build(&Style { notes: true, ..s() }, |_| {})
                .pipe(|b| append_cell(&b, 9, 30, 2, "99.5")),
            json!({"unit": "652300101"}),
            &[("公开09!C31", "below the notes")],
        ),
        refused(
            "55-table-twice.xlsx",
            "公开03 on two sheets",
            build(&s(), |workbook| {
                let style = s();
                let writer = Writer {
                    style: &style,
                    fmt: formats(),
                };
                let sheet = workbook.add_worksheet();
                sheet.set_name("支出决算表（修改）").unwrap();
                writer.table(sheet, 0, 2);
            }),
            json!({"unit": "652300101"}),
            &[("支出决算表（修改）!A1", "also at 公开03!A1")],
        ),
        refused(
            "56-percent-formula.xlsx",
            "=100% typed into the self-evaluation, which Excel makes a formula worth 1",
            build(&s(), |workbook| {
                let sheet = workbook.add_worksheet();
                sheet.set_name("整体绩效自评").unwrap();
                sheet.write_string(0, 0, "指标").unwrap();
                sheet.write_formula(1, 1, "=100%").unwrap();
            }),
            json!({"unit": "652300101"}),
            &[("整体绩效自评!B2", "=100%")],
        ),
        refused(
            "58-a-percent-for-a-figure.xlsx",
            "12.50% typed into a figure cell (stored as 0.125, shown as a percentage)",
            plain.clone().pipe(|b| styled_value(&b, 5, "F9", 10, "0.125")),
            json!({"unit": "652300101"}),
            &[("公开05!F9", "12.5% is a percentage")],
        ),
        refused(
            "57-a-date-for-a-figure.xlsx",
            "a figure cell formatted as a date",
            plain.clone().pipe(|b| date_value(&b, 6, "C8")),
            json!({"unit": "652300101"}),
            &[("公开06!C8", "a date")],
        ),
    ]);
    let mut expected = Vec::new();
    for case in &cases {
        let files: Vec<String> = if case.parts.is_empty() {
            // A converted file is kept as LibreOffice wrote it.
            if !case.bytes.is_empty() {
                std::fs::write(format!("{dir}/{}", case.file), &case.bytes).unwrap();
            }
            assert!(
                std::path::Path::new(&format!("{dir}/{}", case.file)).exists(),
                "{} is missing",
                case.file
            );
            vec![case.file.clone()]
        } else {
            std::fs::create_dir_all(format!("{dir}/{}", case.file)).unwrap();
            case.parts
                .iter()
                .map(|(name, bytes)| {
                    std::fs::write(format!("{dir}/{}/{name}", case.file), bytes).unwrap();
                    format!("{}/{name}", case.file)
                })
                .collect()
        };
        expected.push(json!({
            "files": files,
            "file": case.file,
            "about": case.about,
            "options": case.options,
            "refused": case.refused.as_ref().map(|p| p.iter().map(|(a, b)| json!([a, b])).collect::<Vec<_>>()),
        }));
    }
    let truth: Vec<serde_json::Value> = truth()
        .iter()
        .map(|f| json!([f.0, f.1, f.2, f.3]))
        .collect();
    std::fs::write(
        format!("{dir}/expected.json"),
        serde_json::to_string_pretty(
            &json!({"truth": truth, "empty": ["T07", "T08"], "cases": expected}),
        )
        .unwrap()
            + "\n",
    )
    .unwrap();
    println!("{} workbooks written to {dir}", cases.len());
}

trait Pipe: Sized {
    fn pipe<T>(self, f: impl FnOnce(Self) -> T) -> T {
        f(self)
    }
}
impl<T> Pipe for T {}

fn sheet_part(n: usize) -> String {
    format!("xl/worksheets/sheet{n}.xml")
}

/// The cell element `<c r="E8" …>…</c>` of a sheet, replaced.
fn replace_cell(bytes: &[u8], sheet: usize, cell: &str, with: &str) -> Vec<u8> {
    let cell = cell.to_owned();
    let with = with.to_owned();
    rewrite(bytes, &sheet_part(sheet), move |xml| {
        let start = xml
            .find(&format!("<c r=\"{cell}\""))
            .unwrap_or_else(|| panic!("no cell {cell}"));
        let end = if xml[start..].find("/>").unwrap() < xml[start..].find('>').unwrap() + 1 {
            start + xml[start..].find("/>").unwrap() + 2
        } else {
            start + xml[start..].find("</c>").unwrap() + 4
        };
        format!("{}{}{}", &xml[..start], with, &xml[end..])
    })
}

fn strip_value(bytes: &[u8], sheet: usize, cell: &str, formula: &str) -> Vec<u8> {
    replace_cell(
        bytes,
        sheet,
        cell,
        &format!("<c r=\"{cell}\"><f>{formula}</f></c>"),
    )
}

fn error_value(bytes: &[u8], sheet: usize, cell: &str, error: &str) -> Vec<u8> {
    replace_cell(
        bytes,
        sheet,
        cell,
        &format!("<c r=\"{cell}\" t=\"e\"><v>{error}</v></c>"),
    )
}

fn text_value(bytes: &[u8], sheet: usize, cell: &str, text: &str) -> Vec<u8> {
    replace_cell(
        bytes,
        sheet,
        cell,
        &format!("<c r=\"{cell}\" t=\"inlineStr\"><is><t>{text}</t></is></c>"),
    )
}

fn date_value(bytes: &[u8], sheet: usize, cell: &str) -> Vec<u8> {
    styled_value(bytes, sheet, cell, 14, "45000")
}

/// A number in a cell whose style has the built-in format `format` (14 a date, 10 a percentage with two
/// decimals), as a new cellXfs entry.
fn styled_value(bytes: &[u8], sheet: usize, cell: &str, format: u32, number: &str) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut styles = String::new();
    archive
        .by_name("xl/styles.xml")
        .unwrap()
        .read_to_string(&mut styles)
        .unwrap();
    let open = "<cellXfs count=\"";
    let count_at = styles.find(open).unwrap() + open.len();
    let count_end = count_at + styles[count_at..].find('"').unwrap();
    let count: usize = styles[count_at..count_end].parse().unwrap();
    let bytes = rewrite(bytes, "xl/styles.xml", move |xml| {
        let at = xml.find("</cellXfs>").unwrap();
        format!(
            "{}{}{}<xf numFmtId=\"{format}\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\" applyNumberFormat=\"1\"/>{}",
            &xml[..count_at],
            count + 1,
            &xml[count_end..at],
            &xml[at..]
        )
    });
    replace_cell(
        &bytes,
        sheet,
        cell,
        &format!("<c r=\"{cell}\" s=\"{count}\"><v>{number}</v></c>"),
    )
}

fn replace_text(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    let (from, to) = (from.to_owned(), to.to_owned());
    rewrite(bytes, "xl/sharedStrings.xml", move |xml| {
        assert!(xml.contains(&from), "no text {from}");
        xml.replace(&from, &to)
    })
}

fn strip_units(bytes: &[u8]) -> Vec<u8> {
    rewrite(bytes, "xl/sharedStrings.xml", |xml| {
        xml.replace("（万元）", "")
    })
}

fn append_cell(bytes: &[u8], sheet: usize, row: u32, col: u16, number: &str) -> Vec<u8> {
    let number = number.to_owned();
    rewrite(bytes, &sheet_part(sheet), move |xml| {
        let letter = (b'A' + col as u8) as char;
        let at = xml.find("</sheetData>").unwrap();
        format!(
            "{}<row r=\"{}\"><c r=\"{letter}{}\"><v>{number}</v></c></row>{}",
            &xml[..at],
            row + 1,
            row + 1,
            &xml[at..]
        )
    })
}

fn two_units() -> Vec<u8> {
    let wan = build(&Style::default(), |_| {});
    // 公开01 says 元 on its unit line; its figures stay as they are (a workbook pasted together from two files).
    replace_cell(
        &wan,
        1,
        "F3",
        "<c r=\"F3\" t=\"inlineStr\"><is><t>金额单位：元</t></is></c>",
    )
}

/// Every sheet's cells as calamine reads them: (sheet, rows of (column, value)).
fn sheets_of(xlsx: &[u8]) -> Vec<(String, calamine::Range<calamine::Data>)> {
    use calamine::Reader;
    let mut workbook: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(Cursor::new(xlsx.to_vec())).unwrap();
    workbook
        .sheet_names()
        .into_iter()
        .map(|name| {
            let range = workbook.worksheet_range(&name).unwrap();
            (name, range)
        })
        .collect()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The workbook as an OpenDocument spreadsheet: values only, as a spreadsheet saves them.
fn to_ods(xlsx: &[u8]) -> Vec<u8> {
    let mut content = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet>"#,
    );
    for (name, range) in sheets_of(xlsx) {
        content.push_str(&format!(r#"<table:table table:name="{}">"#, escape(&name)));
        let (height, width) = range.end().map_or((0, 0), |(r, c)| (r + 1, c + 1));
        for row in 0..height {
            content.push_str("<table:table-row>");
            for column in 0..width {
                match range.get_value((row, column)) {
                    Some(calamine::Data::Float(f)) => content.push_str(&format!(
                        r#"<table:table-cell office:value-type="float" office:value="{f}"><text:p>{f}</text:p></table:table-cell>"#
                    )),
                    Some(calamine::Data::String(text)) => content.push_str(&format!(
                        r#"<table:table-cell office:value-type="string"><text:p>{}</text:p></table:table-cell>"#,
                        escape(text)
                    )),
                    _ => content.push_str("<table:table-cell/>"),
                }
            }
            content.push_str("</table:table-row>");
        }
        content.push_str("</table:table>");
    }
    content.push_str("</office:spreadsheet></office:body></office:document-content>");
    let manifest = r#"<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#;
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    out.start_file("mimetype", stored).unwrap();
    out.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
        .unwrap();
    out.start_file("META-INF/manifest.xml", deflated).unwrap();
    out.write_all(manifest.as_bytes()).unwrap();
    out.start_file("content.xml", deflated).unwrap();
    out.write_all(content.as_bytes()).unwrap();
    out.finish().unwrap().into_inner()
}

/// Each sheet as a .csv named by the sheet, as Excel saves "CSV" (UTF-8) or "CSV (逗号分隔)" (GB18030).
fn to_csv(xlsx: &[u8], gb18030: bool) -> Vec<(String, Vec<u8>)> {
    sheets_of(xlsx)
        .into_iter()
        .map(|(name, range)| {
            let mut writer = csv::Writer::from_writer(Vec::new());
            let (height, width) = range.end().map_or((0, 0), |(r, c)| (r + 1, c + 1));
            for row in 0..height {
                let record: Vec<String> = (0..width)
                    .map(|column| match range.get_value((row, column)) {
                        Some(calamine::Data::Float(f)) => format!("{f}"),
                        Some(calamine::Data::String(text)) => text.clone(),
                        _ => String::new(),
                    })
                    .collect();
                writer.write_record(&record).unwrap();
            }
            let text = String::from_utf8(writer.into_inner().unwrap()).unwrap();
            let bytes = if gb18030 {
                encoding_rs::GB18030.encode(&text).0.into_owned()
            } else {
                text.into_bytes()
            };
            (format!("{name}.csv"), bytes)
        })
        .collect()
}
