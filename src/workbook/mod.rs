//! The standard Excel workbooks accountants fill and finance bureaus hand on: a cover sheet and one sheet per
//! public table (公开01 … 公开09), laid out from the year's taxonomy. [`write`] makes a blank template or a filled
//! copy of a disclosure's tables; [`read`] turns a filled workbook back into a disclosure, tolerant of what real
//! files carry and strict about anything that would change a figure, naming each problem by sheet and cell
//! (`公开05!D12`).
//!
//! Amounts cross the workbook as Excel numbers, which are binary doubles: a figure is written from its decimal text
//! (shortest round trip, exact for the at most 15 significant digits a figure has) and read back through the same
//! text, never through arithmetic on floats.
//!
//! The supplementary sections (staffing, 三公 counts, procurement, assets, operating expenses) have a sheet each,
//! laid out as the taxonomy's section tables; the self-evaluations have two (`evaluations`). Not here: the
//! narrative, which `juesuan narrative` drafts from the figures.

pub mod code_list;
pub mod evaluations;
mod grid;
mod layout;
mod problem;
mod published;
mod read;
mod sections;
mod tables;
mod words;
mod write;

pub use grid::Format;
pub use layout::{COVER_SHEET, MAX_EXPANDED_BYTES, MAX_WORKBOOK_BYTES};
pub use problem::Problem;
pub use read::{ImportOptions, Imported, Source, read, read_files, read_text_tables, read_with};
pub use words::MoneyUnit;
pub use write::{FINDINGS_SHEET, WorkbookError, write, write_consolidated, write_with_findings};

#[cfg(test)]
mod tests {
    use rust_xlsxwriter::Workbook;

    use super::{layout::*, *};
    use crate::{domain::taxonomy::test_support, pb};

    fn reference() -> pb::Disclosure {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/reference-2024.json");
        crate::cli::json::from_json("Disclosure", &std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn the_reference_goes_through_a_workbook_and_comes_back_the_same() {
        let taxonomies = test_support::shipped();
        let reference = reference();
        let taxonomy = taxonomies
            .get(crate::domain::ids::FiscalYear::new(2024).unwrap())
            .unwrap();
        let bytes = write(taxonomy, Some(&reference)).unwrap();
        let back = read(&taxonomies, &bytes).unwrap_or_else(|p| panic!("{p:#?}"));
        assert_eq!(back.cover, reference.cover);
        // The same tables, rows and figures; the rows come back in one order (lines, then codes).
        let ordered = |tables: &[pb::Table]| {
            let mut tables = tables.to_vec();
            for table in &mut tables {
                table.rows.sort_by(|a, b| a.code.cmp(&b.code));
            }
            tables
        };
        assert_eq!(ordered(&back.tables), ordered(&reference.tables));
        assert_eq!(back.staffing, reference.staffing);
        assert_eq!(back.three_public_counts, reference.three_public_counts);
        assert_eq!(back.procurement, reference.procurement);
        assert_eq!(back.assets, reference.assets);
        assert_eq!(back.operating_expenses, reference.operating_expenses);
        assert_eq!(back.unit_evaluation, reference.unit_evaluation);
        assert_eq!(
            back.project_evaluations.len(),
            reference.project_evaluations.len()
        );
        for (back, given) in back
            .project_evaluations
            .iter()
            .zip(&reference.project_evaluations)
        {
            assert_eq!(back, given);
        }
    }

    #[test]
    fn the_blank_template_reads_as_a_disclosure_without_figures() {
        let taxonomies = test_support::shipped();
        let taxonomy = taxonomies
            .get(crate::domain::ids::FiscalYear::new(2025).unwrap())
            .unwrap();
        let bytes = write(taxonomy, None).unwrap();
        // Every classification code of 公开05 is listed, by code and name, ready to be filled.
        {
            use calamine::Reader;
            let mut workbook: calamine::Xlsx<_> =
                calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.clone())).unwrap();
            let sheet = workbook
                .worksheet_range("公开05 一般公共预算财政拨款支出决算表")
                .unwrap();
            let functional = taxonomy.code_lists.get("functional").unwrap();
            // Below the header (3 rows), 栏次 and 合计: a code's row has its name under 科目名称.
            let listed = (FIRST_DATA_ROW + 4..sheet.height() as u32)
                .filter(|&row| {
                    sheet
                        .get_value((row, 3))
                        .is_some_and(|v| !v.to_string().is_empty())
                })
                .count();
            assert_eq!(listed, functional.entries().len());
        }
        // The template names no unit: that, and only that, is what is missing.
        let problems = read(&taxonomies, &bytes).unwrap_err();
        assert_eq!(
            problems,
            [Problem {
                at: "封面!B3".into(),
                reason: "the unit code is missing".into()
            }]
        );
    }

    /// A workbook with a cover for unit 652300101 in 2024 (every table but 公开01 declared empty, the amount unit
    /// `cover_unit`) and one sheet `name` with the given cells (row, column, text or number) under 公开01's
    /// headers.
    fn workbook(name: &str, amount_line: &str, cells: &[(u32, u16, Cell)]) -> Vec<u8> {
        workbook_in("万元", name, amount_line, cells)
    }

    fn workbook_in(
        cover_unit: &str,
        name: &str,
        amount_line: &str,
        cells: &[(u32, u16, Cell)],
    ) -> Vec<u8> {
        let mut workbook = Workbook::new();
        let cover = workbook.add_worksheet();
        cover.set_name(COVER_SHEET).unwrap();
        for (row, (label, value)) in [
            ("单位代码", "652300101"),
            ("年度", "2024"),
            ("金额单位", cover_unit),
        ]
        .iter()
        .enumerate()
        {
            cover.write_string(2 + row as u32, 0, *label).unwrap();
            cover.write_string(2 + row as u32, 1, *value).unwrap();
        }
        cover.write_string(COVER_TABLES_ROW, 0, "表").unwrap();
        for n in 2..=9u32 {
            cover
                .write_string(COVER_TABLES_ROW + n - 1, 0, format!("公开0{n}"))
                .unwrap();
            cover
                .write_string(COVER_TABLES_ROW + n - 1, 1, "是")
                .unwrap();
        }
        let sheet = workbook.add_worksheet();
        sheet.set_name(name).unwrap();
        sheet.write_string(AMOUNT_UNIT_ROW, 2, amount_line).unwrap();
        sheet.write_string(HEADER_ROW, 0, CODE_HEADER).unwrap();
        sheet.write_string(HEADER_ROW, 1, NAME_HEADER).unwrap();
        sheet.write_string(HEADER_ROW, 2, "决算数").unwrap();
        for (row, column, cell) in cells {
            match cell {
                Cell::Text(text) => sheet.write_string(*row, *column, *text).unwrap(),
                Cell::Number(number) => sheet.write_number(*row, *column, *number).unwrap(),
            };
        }
        workbook.save_to_buffer().unwrap()
    }

    enum Cell {
        Text(&'static str),
        Number(f64),
    }
    use Cell::{Number, Text};

    fn t01(back: &pb::Disclosure) -> Vec<(String, String)> {
        back.tables
            .iter()
            .find(|t| t.code == "T01")
            .unwrap()
            .rows
            .iter()
            .map(|r| {
                (
                    r.code.clone(),
                    r.cells
                        .first()
                        .map_or(String::new(), |c| c.value.clone().unwrap().value),
                )
            })
            .collect()
    }

    #[test]
    fn what_real_files_carry_is_read_as_meant() {
        let taxonomies = test_support::shipped();
        // Numbers as text with separators, a blank row, a dash for nothing, a whole number.
        let bytes = workbook(
            "公开01 收入支出决算总表",
            "金额单位：万元",
            &[
                (4, 1, Text("一般公共预算财政拨款收入")),
                (4, 2, Text(" 7,070.64 ")),
                (6, 1, Text("事业收入")),
                (6, 2, Number(892.66)),
                (7, 1, Text("经营收入")),
                (7, 2, Text("—")),
                (8, 1, Text("其他收入")),
                (8, 2, Number(227.0)),
                (9, 0, Text("208")),
                (9, 2, Number(12.5)),
            ],
        );
        let back = read(&taxonomies, &bytes).unwrap_or_else(|p| panic!("{p:#?}"));
        assert_eq!(
            t01(&back),
            [
                ("income_gpb".to_owned(), "7070.64".to_owned()),
                ("income_business".to_owned(), "892.66".to_owned()),
                // 经营收入 with a dash says nothing, like a blank row.
                ("income_other".to_owned(), "227.00".to_owned()),
                ("208".to_owned(), "12.50".to_owned()),
            ]
        );
        let t07 = back.tables.iter().find(|t| t.code == "T07").unwrap();
        assert!(
            t07.declared_empty && t07.rows.is_empty(),
            "no sheet, and the cover says it is empty"
        );

        // A workbook in 元, as its amount line says: converted to 万元 exactly.
        let bytes = workbook_in(
            "",
            "公开01 收入支出决算总表",
            "金额单位：元",
            &[
                (4, 1, Text("一般公共预算财政拨款收入")),
                (4, 2, Number(70_706_412.0)),
            ],
        );
        let back = read(&taxonomies, &bytes).unwrap();
        assert_eq!(
            t01(&back),
            [("income_gpb".to_owned(), "7070.6412".to_owned())]
        );
        assert_eq!(
            back.cover.unwrap().amount_unit(),
            pb::AmountUnit::TenThousandYuan
        );
    }

    #[test]
    fn each_damaged_workbook_gives_its_message_once_with_its_cell() {
        let taxonomies = test_support::shipped();
        type Expected = Vec<(&'static str, &'static str)>;
        let cases: Vec<(Vec<u8>, Expected)> = vec![
            (
                b"PK not really".to_vec(),
                vec![(
                    "the workbook",
                    "is not an .xlsx workbook (not a zip archive)",
                )],
            ),
            (
                workbook(
                    "公开01 收入支出决算总表",
                    "金额单位：万元",
                    &[
                        (4, 1, Text("一般公共预算财政拨款收入")),
                        (4, 2, Text("12abc")),
                        (5, 1, Text("不存在的行")),
                        (5, 2, Number(1.0)),
                        (6, 0, Text("2O8")),
                        (6, 2, Number(1.0)),
                        (7, 0, Text("20801")),
                        (7, 2, Number(1.0)),
                        (8, 1, Text("其他收入")),
                        (8, 2, Number(1.0)),
                        (9, 1, Text("其他收入")),
                        (9, 2, Number(2.0)),
                        // A line without figures says nothing, whatever its name.
                        (10, 1, Text("不存在但没有数的行")),
                    ],
                ),
                vec![
                    ("公开01 收入支出决算总表!C5", "12abc is not a number"),
                    (
                        "公开01 收入支出决算总表!B6",
                        "不存在的行 is neither a line of 收入支出决算总表 nor a classification code it lists",
                    ),
                    (
                        "公开01 收入支出决算总表!A7",
                        "2O8 is not a classification code of 收入支出决算总表",
                    ),
                    (
                        "公开01 收入支出决算总表!A8",
                        "20801 is a level-2 code, which 收入支出决算总表 does not list",
                    ),
                    (
                        "公开01 收入支出决算总表!C10",
                        "其他收入 决算数 is given twice (also at 公开01 收入支出决算总表!C9)",
                    ),
                ],
            ),
            (
                workbook(
                    "公开07 政府性基金预算财政拨款收入支出决算表",
                    "金额单位：万元",
                    &[
                        (3, 3, Text("本年收入")),
                        (4, 0, Text("208")),
                        (4, 2, Number(1.0)),
                        (4, 3, Number(1.0)),
                    ],
                ),
                vec![
                    (
                        "公开07 政府性基金预算财政拨款收入支出决算表!C5",
                        "1 is under 决算数, which is not a column of 政府性基金预算财政拨款收入支出决算表",
                    ),
                    (
                        "公开07 政府性基金预算财政拨款收入支出决算表",
                        "is declared empty on the cover (封面) but has figures",
                    ),
                    (
                        "the workbook",
                        "has no 公开01 收入支出决算总表: no sheet has its title; add it, or mark it 空表 on the cover",
                    ),
                ],
            ),
        ];
        for (bytes, expected) in cases {
            let problems = read(&taxonomies, &bytes).unwrap_err();
            let got: Vec<(&str, &str)> = problems
                .iter()
                .map(|p| (p.at.as_str(), p.reason.as_str()))
                .collect();
            assert_eq!(got, expected);
        }
        // Too large to be a workbook: refused before it is opened.
        let huge = vec![0u8; MAX_WORKBOOK_BYTES as usize + 1];
        assert!(
            read(&taxonomies, &huge).unwrap_err()[0]
                .reason
                .starts_with("is larger than")
        );
    }

    #[test]
    fn addresses_are_excels() {
        assert_eq!(address("公开05", 11, 3), "公开05!D12");
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(27), "AB");
        assert_eq!(column_letters(701), "ZZ");
        assert_eq!(column_letters(702), "AAA");
    }
}

#[cfg(test)]
mod findings_tests {
    use std::io::Read as _;

    use super::*;
    use crate::{domain::taxonomy::test_support, pb};

    #[test]
    fn every_finding_links_to_its_cell_in_the_tables_or_the_self_evaluation() {
        let taxonomies = test_support::shipped();
        let taxonomy = taxonomies
            .get(crate::domain::ids::FiscalYear::new(2024).unwrap())
            .unwrap();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/reference-2024.json");
        let reference: pb::Disclosure =
            crate::cli::json::from_json("Disclosure", &std::fs::read_to_string(path).unwrap())
                .unwrap();
        let source = reference.unit_evaluation.as_ref().unwrap().funds[0].source();
        let funds_row = format!(
            "funds.{}",
            source
                .as_str_name()
                .trim_start_matches("FUNDS_SOURCE_")
                .to_ascii_lowercase()
        );
        let finding = |table: &str, row: &str, column: &str| pb::Finding {
            rule_id: "TEST".into(),
            message: "m".into(),
            cells: vec![pb::CellRef {
                table: table.into(),
                row: row.into(),
                column: column.into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let findings = [
            finding("T05", "total", "basic"),
            finding("EVAL", &funds_row, "executed"),
            finding("NARRATIVE", "三公经费", "合计"),
        ];
        let bytes = write_with_findings(taxonomy, &reference, &findings).unwrap();
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        // The findings sheet is the last one written.
        let last = (1..=40)
            .rev()
            .find(|n| {
                archive
                    .by_name(&format!("xl/worksheets/sheet{n}.xml"))
                    .is_ok()
            })
            .unwrap();
        let mut xml = String::new();
        archive
            .by_name(&format!("xl/worksheets/sheet{last}.xml"))
            .unwrap()
            .read_to_string(&mut xml)
            .unwrap();
        // 公开05's 合计 row, 基本支出 (column F: 类, 款, 项, 科目名称, 合计, 基本支出).
        assert!(
            xml.contains("location=\"'公开05 一般公共预算财政拨款支出决算表'!F8\""),
            "{xml}"
        );
        // The unit's self-evaluation, 全年执行数 of its first funds row.
        assert!(xml.contains("location=\"'整体绩效自评'!D5\""), "{xml}");
        let mut strings = String::new();
        archive
            .by_name("xl/sharedStrings.xml")
            .unwrap()
            .read_to_string(&mut strings)
            .unwrap();
        assert!(strings.contains("公开05 合计 · 基本支出"));
        assert!(strings.contains("决算情况说明 三公经费 · 合计"));
    }
}
