//! A workbook's sheets as plain grids, whatever format it was saved in (.xlsx, .xls, .ods): each cell's cached
//! value, its formula when it has one (a formula without a saved value must be reported, never read as blank),
//! the merged regions (a header merged over three columns names all three) and whether the sheet is hidden.

use std::io::Cursor;

use calamine::{Data, Dimensions, Range, Reader, Sheets, open_workbook_auto_from_rs};

use crate::domain::money::excerpt;

/// Most sheets read: a real workbook has a dozen or two.
pub(super) const MAX_SHEETS: usize = 200;
/// Most rows and columns a sheet may span: the longest table (公开05 with every 项) is under 2,000 rows.
pub(super) const MAX_ROWS: u32 = 20_000;
pub(super) const MAX_COLUMNS: u32 = 200;

/// The format a workbook was saved in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xlsx,
    Xls,
    Ods,
    Csv,
}

impl Format {
    /// The format of `bytes` by its signature: a zip archive is .xlsx or .ods (told apart by their parts), an OLE
    /// compound file is .xls.
    pub fn sniff(bytes: &[u8]) -> Option<Format> {
        if bytes.starts_with(b"PK\x03\x04") {
            // An OpenDocument archive names its type in a first, stored part.
            let head = &bytes[..bytes.len().min(200)];
            let ods = head
                .windows(b"application/vnd.oasis.opendocument".len())
                .any(|w| w == b"application/vnd.oasis.opendocument");
            Some(if ods { Format::Ods } else { Format::Xlsx })
        } else if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
            Some(Format::Xls)
        } else {
            None
        }
    }
}

/// One sheet of a workbook.
pub(super) struct Grid {
    pub name: String,
    pub hidden: bool,
    values: Range<Data>,
    formulas: Range<String>,
    merges: Vec<Dimensions>,
}

impl Grid {
    /// A grid of the given cells (row, column, value).
    pub(super) fn of_cells(name: &str, cells: Vec<(u32, u32, Data)>) -> Grid {
        let end = cells.iter().fold((0, 0), |(r, c), (row, column, _)| {
            (r.max(*row), c.max(*column))
        });
        let mut values = Range::new((0, 0), end);
        for (row, column, value) in cells {
            values.set_value((row, column), value);
        }
        Grid {
            name: name.to_owned(),
            hidden: false,
            values,
            formulas: Range::empty(),
            merges: Vec::new(),
        }
    }

    /// The cells' values as calamine holds them.
    pub fn range(&self) -> &Range<Data> {
        &self.values
    }

    /// One past the last row and column with anything in them.
    pub fn size(&self) -> (u32, u32) {
        self.values.end().map_or((0, 0), |(r, c)| (r + 1, c + 1))
    }

    /// The cell's cached value.
    pub fn value(&self, row: u32, column: u32) -> &Data {
        static EMPTY: Data = Data::Empty;
        self.values.get_value((row, column)).unwrap_or(&EMPTY)
    }

    /// The cell's formula, when it has one.
    pub fn formula(&self, row: u32, column: u32) -> Option<&str> {
        self.formulas
            .get_value((row, column))
            .map(String::as_str)
            .filter(|f| !f.is_empty())
    }

    /// The cell as trimmed text; a cell inside a merged region reads as the region's first cell, so a header
    /// merged across columns or rows names each of them.
    pub fn text(&self, row: u32, column: u32) -> String {
        let (row, column) = self
            .merges
            .iter()
            .find(|m| {
                m.start.0 <= row && row <= m.end.0 && m.start.1 <= column && column <= m.end.1
            })
            .map_or((row, column), |m| m.start);
        cell_text(self.value(row, column))
    }

    /// Whether the file said which cells are merged (.xlsx and .xls do; .ods as calamine reads it and .csv do
    /// not, and a workbook may merge nothing).
    pub fn knows_merges(&self) -> bool {
        !self.merges.is_empty()
    }

    /// The cell as trimmed text, only where it is written (not spread from a merged region).
    pub fn own_text(&self, row: u32, column: u32) -> String {
        cell_text(self.value(row, column))
    }
}

/// A cell as text: strings trimmed, whole numbers without ".0".
pub(super) fn cell_text(value: &Data) -> String {
    match value {
        Data::String(s) => s.trim().to_owned(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => format!("{f}"),
        Data::Bool(b) => b.to_string(),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::DateTime(d) => d.as_f64().to_string(),
        Data::Error(_) | Data::Empty => String::new(),
    }
}

/// Every sheet of the workbook in `bytes`, in order, or why it cannot be opened.
pub(super) fn open(bytes: &[u8]) -> Result<(Format, Vec<Grid>), String> {
    let format = Format::sniff(bytes)
        .ok_or("is not a workbook (.xlsx, .xls or .ods): its first bytes are neither")?;
    let mut workbook = open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(|e| {
        format!(
            "is not a readable {} workbook ({})",
            extension(format),
            excerpt(&e.to_string())
        )
    })?;
    let metadata = workbook.sheets_metadata().to_vec();
    // calamine gives a cell's value, not its format: a number shown as a percentage (100% typed into a cell is
    // stored as 1) is found in the archive's styles and read as it is shown.
    let percent = if format == Format::Xlsx {
        percent_cells(bytes)
    } else {
        Default::default()
    };
    if metadata.len() > MAX_SHEETS {
        return Err(format!(
            "has {} sheets; a workbook may have at most {MAX_SHEETS}",
            metadata.len()
        ));
    }
    let mut grids = Vec::with_capacity(metadata.len());
    for sheet in metadata {
        if sheet.typ != calamine::SheetType::WorkSheet {
            continue;
        }
        let values = workbook.worksheet_range(&sheet.name).map_err(|e| {
            format!(
                "its sheet {} cannot be read ({})",
                excerpt(&sheet.name),
                excerpt(&e.to_string())
            )
        })?;
        if let Some((rows, columns)) = values.end()
            && (rows >= MAX_ROWS || columns >= MAX_COLUMNS)
        {
            return Err(format!(
                "its sheet {} spans {} rows and {} columns; a sheet may span at most {MAX_ROWS} and {MAX_COLUMNS}",
                excerpt(&sheet.name),
                rows + 1,
                columns + 1
            ));
        }
        let formulas = workbook
            .worksheet_formula(&sheet.name)
            .unwrap_or_else(|_| Range::empty());
        let merges = match &mut workbook {
            Sheets::Xlsx(xlsx) => xlsx
                .merge_cells_by_sheet_name(&sheet.name)
                .unwrap_or_default(),
            Sheets::Xls(xls) => xls
                .merge_cells_by_sheet_name(&sheet.name)
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let mut values = values;
        for &(row, column) in percent.get(&sheet.name).map_or(&[][..], Vec::as_slice) {
            if let Some(shown) = shown_as_percent(values.get_value((row, column))) {
                values.set_value((row, column), Data::String(shown));
            }
        }
        grids.push(Grid {
            name: sheet.name,
            hidden: sheet.visible != calamine::SheetVisible::Visible,
            values,
            formulas,
            merges,
        });
    }
    Ok((format, grids))
}

fn extension(format: Format) -> &'static str {
    match format {
        Format::Xlsx => ".xlsx",
        Format::Xls => ".xls",
        Format::Ods => ".ods",
        Format::Csv => ".csv",
    }
}

/// One table saved as CSV (UTF-8, or GB18030 as Chinese Excel saves it) as a sheet named `name`; every cell is
/// text, which the table reader reads as it reads numbers typed as text.
pub(super) fn from_csv(name: &str, bytes: &[u8]) -> Result<Grid, String> {
    let text = decode_text(bytes).ok_or("is neither UTF-8 nor GB18030 text")?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut cells = Vec::new();
    for (row, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("is not CSV ({})", excerpt(&e.to_string())))?;
        if row as u32 >= MAX_ROWS || record.len() as u32 > MAX_COLUMNS {
            return Err(format!(
                "has more than {MAX_ROWS} rows or {MAX_COLUMNS} columns"
            ));
        }
        for (column, value) in record.iter().enumerate() {
            if !value.trim().is_empty() {
                cells.push((row as u32, column as u32, Data::String(value.to_owned())));
            }
        }
    }
    Ok(Grid::of_cells(name, cells))
}

/// UTF-8 (with or without a byte-order mark), or GB18030 as Chinese Excel saves CSV.
pub(super) fn decode_text(bytes: &[u8]) -> Option<String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Some(text.to_owned()),
        Err(_) => {
            let (text, _, errors) = encoding_rs::GB18030.decode(bytes);
            (!errors).then(|| text.into_owned())
        }
    }
}

/// A number as a percentage format shows it: 1 → "100%", 0.125 → "12.5%" (exact in decimal).
fn shown_as_percent(value: Option<&Data>) -> Option<String> {
    let number = match value? {
        Data::Float(f) => format!("{f}"),
        Data::Int(i) => i.to_string(),
        _ => return None,
    };
    let mut percent =
        number.parse::<rust_decimal::Decimal>().ok()? * rust_decimal::Decimal::ONE_HUNDRED;
    percent = percent.normalize();
    Some(format!("{percent}%"))
}

/// The cells of each sheet (by name) whose number format shows a percentage, read from an .xlsx archive's parts:
/// the styles' cell formats (built-in 9 and 10, or a custom format with %), and each sheet's cells by their style.
/// Anything unreadable gives none: the cells then read as their stored numbers, as before.
fn percent_cells(bytes: &[u8]) -> std::collections::HashMap<String, Vec<(u32, u32)>> {
    use std::io::Read as _;
    let mut found = std::collections::HashMap::new();
    let Ok(mut archive) = zip::ZipArchive::new(Cursor::new(bytes)) else {
        return found;
    };
    let mut part = |name: &str| -> Option<String> {
        let mut text = String::new();
        archive.by_name(name).ok()?.read_to_string(&mut text).ok()?;
        Some(text)
    };
    let (Some(styles), Some(book), Some(rels)) = (
        part("xl/styles.xml"),
        part("xl/workbook.xml"),
        part("xl/_rels/workbook.xml.rels"),
    ) else {
        return found;
    };
    let custom: Vec<(String, bool)> = tags(&styles, "numFmt")
        .map(|tag| {
            (
                attribute(tag, "numFmtId").unwrap_or_default(),
                attribute(tag, "formatCode").is_some_and(|f| f.contains('%')),
            )
        })
        .collect();
    let Some(xfs) = styles
        .split_once("<cellXfs")
        .and_then(|(_, rest)| rest.split_once("</cellXfs>"))
        .map(|(xfs, _)| xfs)
    else {
        return found;
    };
    let percent_styles: Vec<bool> = tags(xfs, "xf")
        .map(|tag| {
            let id = attribute(tag, "numFmtId").unwrap_or_default();
            matches!(id.as_str(), "9" | "10")
                || custom
                    .iter()
                    .any(|(custom_id, percent)| *custom_id == id && *percent)
        })
        .collect();
    if !percent_styles.contains(&true) {
        return found;
    }
    for sheet in tags(&book, "sheet") {
        let (Some(name), Some(id)) = (attribute(sheet, "name"), attribute(sheet, "r:id")) else {
            continue;
        };
        let Some(target) = tags(&rels, "Relationship")
            .find(|r| attribute(r, "Id").as_deref() == Some(id.as_str()))
            .and_then(|r| attribute(r, "Target"))
        else {
            continue;
        };
        let path = match target.strip_prefix('/') {
            Some(absolute) => absolute.to_owned(),
            None => format!("xl/{target}"),
        };
        let Some(xml) = part(&path) else { continue };
        let cells: Vec<(u32, u32)> = tags(&xml, "c")
            .filter(|c| attribute(c, "t").is_none_or(|t| t == "n"))
            .filter(|c| {
                attribute(c, "s")
                    .and_then(|s| s.parse::<usize>().ok())
                    .is_some_and(|s| percent_styles.get(s).copied().unwrap_or(false))
            })
            .filter_map(|c| attribute(c, "r").and_then(|r| cell_position(&r)))
            .collect();
        if !cells.is_empty() {
            found.insert(unescape(&name), cells);
        }
    }
    found
}

/// The opening tags `<name …>` (or `<name …/>`) of an XML text, each as its text between `<` and `>`.
fn tags<'x>(xml: &'x str, name: &str) -> std::vec::IntoIter<&'x str> {
    let open = format!("<{name}");
    let mut found = Vec::new();
    for (at, _) in xml.match_indices(open.as_str()) {
        let rest = &xml[at + open.len()..];
        // <c and not <cellXfs: the name ends with a space, / or >.
        if !rest.starts_with([' ', '/', '>']) {
            continue;
        }
        if let Some(end) = rest.find('>') {
            found.push(&rest[..end]);
        }
    }
    found.into_iter()
}

/// An attribute's value in a tag's text.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')?;
    Some(tag[start..start + end].to_owned())
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// "B12" → (11, 1).
fn cell_position(reference: &str) -> Option<(u32, u32)> {
    let letters: String = reference
        .chars()
        .take_while(char::is_ascii_uppercase)
        .collect();
    let row: u32 = reference[letters.len()..].parse().ok()?;
    let column = letters.bytes().try_fold(0u32, |acc, b| {
        acc.checked_mul(26)?.checked_add(u32::from(b - b'A') + 1)
    })?;
    Some((row.checked_sub(1)?, column.checked_sub(1)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_shown_as_a_percentage_reads_as_it_is_shown() {
        let mut workbook = rust_xlsxwriter::Workbook::new();
        let sheet = workbook.add_worksheet();
        sheet.set_name("整体绩效自评").unwrap();
        let percent = rust_xlsxwriter::Format::new().set_num_format("0%");
        let two = rust_xlsxwriter::Format::new().set_num_format("0.00%");
        sheet.write_number_with_format(1, 1, 1.0, &percent).unwrap();
        sheet.write_number_with_format(2, 1, 0.125, &two).unwrap();
        sheet.write_number(3, 1, 1.0).unwrap();
        let bytes = workbook.save_to_buffer().unwrap();
        let (_, grids) = open(&bytes).unwrap();
        assert_eq!(grids[0].own_text(1, 1), "100%");
        assert_eq!(grids[0].own_text(2, 1), "12.5%");
        // A number without a percentage format stays the number.
        assert_eq!(grids[0].own_text(3, 1), "1");
        assert_eq!(cell_position("AB12"), Some((11, 27)));
    }
}
