//! Classification code lists as finance departments distribute them: an Excel (.xlsx, .xls, .ods) or CSV sheet
//! of 科目编码 and 科目名称, or the code split in 类 / 款 / 项 columns (the 类 and 款 often given only on their own
//! rows), names indented or marked "其中" — read into (where, code, name) lines; and a list written back in that
//! layout.

use std::path::Path;

use calamine::{Data, Reader};

use super::grid::decode_text;
use crate::domain::taxonomy::codes::CodeList;

/// Largest list file read: a full year's lists are well under a megabyte.
const MAX_LIST_BYTES: u64 = 16 * 1024 * 1024;
/// Rows looked at for the header.
const HEADER_SEARCH_ROWS: usize = 30;

/// A sheet's rows as text (numbers as Excel shows them: 2010101, not 2010101.0), with its name.
pub struct Sheet {
    pub name: String,
    pub rows: Vec<Vec<String>>,
}

/// The sheets of a list file: every sheet of a workbook, or the one table of a .csv/.tsv.
pub fn read_sheets(path: &Path) -> Result<Vec<Sheet>, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .len();
    if size > MAX_LIST_BYTES {
        return Err(format!(
            "{} is {size} bytes; a code list is at most {MAX_LIST_BYTES}",
            path.display()
        ));
    }
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match extension.as_str() {
        "csv" | "tsv" | "txt" => {
            let bytes =
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let text = decode_text(&bytes)
                .ok_or_else(|| format!("{} is neither UTF-8 nor GB18030 text", path.display()))?;
            let delimiter =
                if extension == "tsv" || text.lines().next().is_some_and(|l| l.contains('\t')) {
                    b'\t'
                } else {
                    b','
                };
            let mut reader = csv::ReaderBuilder::new()
                .delimiter(delimiter)
                .has_headers(false)
                .flexible(true)
                .from_reader(text.as_bytes());
            let mut rows = Vec::new();
            for record in reader.records() {
                let record = record.map_err(|e| format!("{}: {e}", path.display()))?;
                rows.push(record.iter().map(|c| c.trim().to_owned()).collect());
            }
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("csv")
                .to_owned();
            Ok(vec![Sheet { name, rows }])
        }
        "xlsx" | "xlsm" | "xls" | "ods" => {
            let mut workbook = calamine::open_workbook_auto(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let mut sheets = Vec::new();
            for name in workbook.sheet_names() {
                let range = workbook
                    .worksheet_range(&name)
                    .map_err(|e| format!("cannot read sheet {name}: {e}"))?;
                let rows = range
                    .rows()
                    .map(|row| row.iter().map(cell_text).collect())
                    .collect();
                sheets.push(Sheet { name, rows });
            }
            Ok(sheets)
        }
        other => Err(format!(
            "{}: .{other} is not a list format read here (.xlsx, .xls, .ods, .csv, .tsv)",
            path.display()
        )),
    }
}

fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Int(i) => i.to_string(),
        // A code typed as a number: its integer digits, as the cell shows it.
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::String(s) => s.trim().to_owned(),
        Data::Bool(b) => b.to_string(),
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

/// Where the code and the name are, in a sheet's header row.
enum Columns {
    Joined {
        code: usize,
        name: usize,
    },
    Split {
        levels: Vec<usize>,
        name: usize,
    },
    /// Code and name in one cell, as reporting software exports them: "2080101 行政运行", "[2080101]行政运行".
    Combined {
        column: usize,
    },
}

fn find_header(rows: &[Vec<String>], levels: usize) -> Option<(usize, Columns)> {
    let clean = |cell: &str| cell.replace([' ', '\u{3000}', '\n'], "");
    for (index, row) in rows.iter().enumerate().take(HEADER_SEARCH_ROWS) {
        let cells: Vec<String> = row.iter().map(|c| clean(c)).collect();
        let name = cells.iter().position(|c| c.ends_with("名称"));
        let code = cells
            .iter()
            .position(|c| c.ends_with("编码") || c.ends_with("代码") || c == "科目编号");
        if let (Some(code), Some(name)) = (code, name) {
            return Some((index, Columns::Joined { code, name }));
        }
        let split: Vec<usize> = ["类", "款", "项", "目"]
            .iter()
            .take(levels)
            .filter_map(|word| cells.iter().position(|c| c == word))
            .collect();
        if let (Some(name), true) = (name, split.len() == levels) {
            return Some((
                index,
                Columns::Split {
                    levels: split,
                    name,
                },
            ));
        }
        // A single 科目 column ("科目", "功能分类科目", "科目编码及名称") whose cells hold the code and the name.
        if let Some(column) = cells.iter().position(|c| {
            c.ends_with("科目") || c.contains("编码及名称") || c.contains("编码和名称")
        }) {
            let sample = rows
                .iter()
                .skip(index + 1)
                .find_map(|r| r.get(column).filter(|c| !c.trim().is_empty()));
            if sample.is_some_and(|c| split_combined(c).is_some()) {
                return Some((index, Columns::Combined { column }));
            }
        }
    }
    None
}

/// "2080101 行政运行", "[2080101]行政运行", "2080101-行政运行": the code and the name.
fn split_combined(cell: &str) -> Option<(String, String)> {
    let text = cell.trim().trim_start_matches(['[', '【', '(', '（']);
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let name = text[digits..]
        .trim_start_matches([']', '】', ')', '）', '-', '－', ' ', '\u{3000}', '.', '、']);
    Some((text[..digits].to_owned(), name.to_owned()))
}

/// A name as printed, without indentation, list numbering or a leading "其中".
fn clean_name(name: &str) -> String {
    let mut name = name.trim_matches(|c: char| c.is_whitespace() || c == '\u{3000}');
    for lead in ["其中：", "其中:", "其中"] {
        if let Some(rest) = name.strip_prefix(lead) {
            name = rest.trim_start();
        }
    }
    name.to_owned()
}

/// The (where, code, name) lines of a list of `level_digits` ([3, 5, 7]) in a sheet with a header.
pub fn code_lines(
    sheet: &Sheet,
    level_digits: &[usize],
) -> Result<Vec<(String, String, String)>, String> {
    let (header, columns) = find_header(&sheet.rows, level_digits.len()).ok_or_else(|| {
        format!(
            "sheet {}: no header with a code column (科目编码) and a name column (科目名称), or 类/款/项 columns",
            sheet.name
        )
    })?;
    let get = |row: &[String], column: usize| row.get(column).map_or("", |c| c.as_str()).to_owned();
    let digits_of = |text: &str| -> String {
        text.chars()
            .filter(|c| !c.is_whitespace() && *c != '.' && *c != '\u{3000}')
            .collect()
    };
    let mut lines = Vec::new();
    let mut prefix: Vec<String> = Vec::new();
    for (index, row) in sheet.rows.iter().enumerate().skip(header + 1) {
        let at = format!("{}!{}", sheet.name, index + 1);
        let (code, name) = match &columns {
            Columns::Joined { code, name } => {
                (digits_of(&get(row, *code)), clean_name(&get(row, *name)))
            }
            Columns::Combined { column } => {
                let cell = get(row, *column);
                match split_combined(&cell) {
                    Some((code, name)) => (code, clean_name(&name)),
                    None if cell.trim().is_empty() => continue,
                    // A total or a note: read no further than the list.
                    None => (cell.trim().to_owned(), String::new()),
                }
            }
            Columns::Split { levels, name } => {
                // The deepest level given on the row; the levels above it carry over from the rows before.
                let given: Vec<String> = levels.iter().map(|c| digits_of(&get(row, *c))).collect();
                let Some(deepest) = given.iter().rposition(|c| !c.is_empty()) else {
                    continue;
                };
                let full = level_digits[deepest];
                let part = &given[deepest];
                let code = if part.len() == full {
                    part.clone()
                } else if deepest > 0 && prefix.len() >= deepest {
                    format!("{}{part}", prefix[deepest - 1])
                } else {
                    part.clone()
                };
                prefix.truncate(deepest);
                prefix.push(code.clone());
                (code, clean_name(&get(row, *name)))
            }
        };
        if code.is_empty() {
            continue;
        }
        if !code.bytes().all(|b| b.is_ascii_digit()) {
            // A note or a total line under the list.
            if name.is_empty() || lines.is_empty() {
                continue;
            }
            return Err(format!("{at}: \"{code}\" is not a code"));
        }
        lines.push((at, code, name));
    }
    Ok(lines)
}

/// A list as the ministry prints it: 科目编码 and 科目名称, names indented by level (or the code split in 类/款/项
/// columns with `split`).
pub fn write_list(list: &CodeList, split: bool) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name(list.name.chars().take(31).collect::<String>())?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    let text = rust_xlsxwriter::Format::new().set_num_format("@");
    let levels = list.level_digits.len();
    if split {
        for (column, word) in ["类", "款", "项"].iter().take(levels).enumerate() {
            sheet.write_string_with_format(0, column as u16, *word, &bold)?;
        }
        sheet.write_string_with_format(0, levels as u16, "科目名称", &bold)?;
    } else {
        sheet.write_string_with_format(0, 0, "科目编码", &bold)?;
        sheet.write_string_with_format(0, 1, "科目名称", &bold)?;
    }
    sheet.set_column_width(if split { levels as u16 } else { 1 }, 48)?;
    for (index, (code, entry)) in list.entries().iter().enumerate() {
        let row = index as u32 + 1;
        let level = usize::from(entry.level);
        if split {
            let start = if level == 1 {
                0
            } else {
                list.level_digits[level - 2]
            };
            sheet.write_string_with_format(row, (level - 1) as u16, &code[start..], &text)?;
            sheet.write_string(row, levels as u16, &entry.name)?;
        } else {
            sheet.write_string_with_format(row, 0, code, &text)?;
            sheet.write_string(
                row,
                1,
                format!("{}{}", "\u{3000}\u{3000}".repeat(level - 1), entry.name),
            )?;
        }
    }
    workbook.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheet(rows: &[&[&str]]) -> Sheet {
        Sheet {
            name: "科目".into(),
            rows: rows
                .iter()
                .map(|r| r.iter().map(|c| (*c).to_owned()).collect())
                .collect(),
        }
    }

    #[test]
    fn joined_and_split_layouts_read_alike() {
        let joined = sheet(&[
            &["2024年政府收支分类科目"],
            &["科目编码", "科目名称", "说明"],
            &["208", "社会保障和就业支出", ""],
            &["20801", "　　人力资源和社会保障管理事务", ""],
            &["2080101", "　　　　其中：行政运行", ""],
            &["", "注：本表…", ""],
        ]);
        let split = sheet(&[
            &["类", "款", "项", "科目名称"],
            &["208", "", "", "社会保障和就业支出"],
            &["", "01", "", "人力资源和社会保障管理事务"],
            &["", "", "01", "行政运行"],
        ]);
        let read = |s: &Sheet| -> Vec<(String, String)> {
            code_lines(s, &[3, 5, 7])
                .unwrap()
                .into_iter()
                .map(|(_, c, n)| (c, n))
                .collect()
        };
        let expected = vec![
            ("208".to_owned(), "社会保障和就业支出".to_owned()),
            ("20801".to_owned(), "人力资源和社会保障管理事务".to_owned()),
            ("2080101".to_owned(), "行政运行".to_owned()),
        ];
        assert_eq!(read(&joined), expected);
        assert_eq!(read(&split), expected);
        let lines = code_lines(&joined, &[3, 5, 7]).unwrap();
        assert_eq!(lines[2].0, "科目!5", "where each line came from");
        let combined = sheet(&[
            &["支出功能分类科目", "决算数"],
            &["[208]社会保障和就业支出", "1.00"],
            &["　[20801]人力资源和社会保障管理事务", "1.00"],
            &["　　2080101 行政运行", "1.00"],
            &["合计", "1.00"],
        ]);
        assert_eq!(read(&combined), expected);
        let headless = sheet(&[&["208", "社会保障和就业支出"]]);
        assert!(
            code_lines(&headless, &[3, 5, 7])
                .unwrap_err()
                .contains("header")
        );
    }
}
