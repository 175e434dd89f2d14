//! Reading a published document back into its paragraphs and tables, whatever it was saved as: Word (.docx: the
//! body's paragraphs and tables, merged cells repeated into every cell they cover), HTML (block elements and
//! tables with colspan/rowspan), plain text (a table as tab-separated lines, or one cell per tab-led line with a
//! blank line between rows, as Word saves text), and PDF with a text layer (lines whose fields stand two spaces
//! apart are table rows). A PDF without text (a scan) cannot be read, and says so.

use std::io::Read as _;

/// The largest document read: a public document with its nine tables is well under a megabyte.
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;
/// The largest `word/document.xml` inflated: a zip bomb stops here.
const MAX_XML_BYTES: u64 = 64 * 1024 * 1024;
/// Most paragraphs and table rows kept: more is not a public document.
const MAX_BLOCKS: usize = 200_000;
/// Most columns of a table row.
const MAX_COLUMNS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Format {
    Docx,
    Html,
    Text,
    Pdf,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Docx => "Word (.docx)",
            Format::Html => "HTML",
            Format::Text => "text",
            Format::Pdf => "PDF",
        }
    }
}

/// A document as read: its paragraphs and tables in order, each with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadDocument {
    pub format: Format,
    pub blocks: Vec<ReadBlock>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReadBlock {
    /// "第12段", "第3页", "第2个表格": what a reader looks for.
    pub at: String,
    pub content: Content,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Paragraph(String),
    /// Rows of cells' texts.
    Table(Vec<Vec<String>>),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReadError {
    #[error("is larger than {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge,
    #[error("is not a document this reads (.docx, .html, .txt or .pdf)")]
    UnknownFormat,
    #[error("cannot be read as {0}: {1}")]
    Unreadable(&'static str, String),
    #[error("is a PDF without a text layer (a scan?): it cannot be checked")]
    NoText,
}

/// The document in `bytes`, its format told by its signature, else by `name`'s extension.
pub fn read(name: &str, bytes: &[u8]) -> Result<ReadDocument, ReadError> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(ReadError::TooLarge);
    }
    let extension = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let format = if bytes.starts_with(b"%PDF") {
        Format::Pdf
    } else if bytes.starts_with(b"PK\x03\x04") {
        Format::Docx
    } else if matches!(extension.as_str(), "html" | "htm") || looks_like_html(bytes) {
        Format::Html
    } else if matches!(extension.as_str(), "txt" | "text" | "") {
        Format::Text
    } else {
        return Err(ReadError::UnknownFormat);
    };
    let blocks = match format {
        Format::Docx => docx(bytes)?,
        Format::Html => html(&decode(bytes).ok_or_else(|| not_text(Format::Html))?),
        Format::Text => text(&decode(bytes).ok_or_else(|| not_text(Format::Text))?, None),
        Format::Pdf => pdf(bytes)?,
    };
    Ok(ReadDocument { format, blocks })
}

fn not_text(format: Format) -> ReadError {
    ReadError::Unreadable(format.name(), "it is neither UTF-8 nor GB18030 text".into())
}

fn looks_like_html(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_ascii_lowercase();
    let head = head.trim_start_matches('\u{feff}').trim_start();
    head.starts_with("<!doctype html") || head.starts_with("<html")
}

/// UTF-8 (with or without a BOM), else GB18030 as Chinese Windows saves text.
fn decode(bytes: &[u8]) -> Option<String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Some(text.to_owned());
    }
    let (text, _, had_errors) = encoding_rs::GB18030.decode(bytes);
    (!had_errors).then(|| text.into_owned())
}

/// Collects blocks, numbering paragraphs and tables as a reader counts them.
#[derive(Default)]
struct Blocks {
    blocks: Vec<ReadBlock>,
    paragraphs: usize,
    tables: usize,
}

impl Blocks {
    fn paragraph(&mut self, text: &str) {
        let text = clean(text);
        if text.is_empty() || self.blocks.len() >= MAX_BLOCKS {
            return;
        }
        self.paragraphs += 1;
        self.blocks.push(ReadBlock {
            at: format!("第{}段", self.paragraphs),
            content: Content::Paragraph(text),
        });
    }

    fn table(&mut self, rows: Vec<Vec<String>>) {
        let rows: Vec<Vec<String>> = rows
            .into_iter()
            .map(|row| row.iter().map(|c| clean(c)).collect::<Vec<_>>())
            .filter(|row: &Vec<String>| row.iter().any(|c| !c.is_empty()))
            .collect();
        if rows.is_empty() || self.blocks.len() >= MAX_BLOCKS {
            return;
        }
        self.tables += 1;
        self.blocks.push(ReadBlock {
            at: format!("第{}个表格", self.tables),
            content: Content::Table(rows),
        });
    }
}

/// Whitespace runs (non-breaking and full-width spaces too) as one space, trimmed.
fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() || c == '\u{a0}' || c == '\u{3000}' {
            space = true;
        } else {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c);
        }
    }
    out
}

fn docx(bytes: &[u8]) -> Result<Vec<ReadBlock>, ReadError> {
    let unreadable = |why: String| ReadError::Unreadable(Format::Docx.name(), why);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| unreadable(format!("not a zip archive ({e})")))?;
    let entry = archive
        .by_name("word/document.xml")
        .map_err(|_| unreadable("it has no word/document.xml".into()))?;
    let mut xml = Vec::new();
    entry
        .take(MAX_XML_BYTES + 1)
        .read_to_end(&mut xml)
        .map_err(|e| unreadable(format!("word/document.xml cannot be inflated ({e})")))?;
    if xml.len() as u64 > MAX_XML_BYTES {
        return Err(unreadable(format!(
            "word/document.xml inflates past {MAX_XML_BYTES} bytes"
        )));
    }
    docx_body(&xml).map_err(unreadable)
}

/// A cell of a Word table being read: its text, how many grid columns it spans, and whether it continues the
/// vertical merge of the cell above.
#[derive(Default)]
struct WordCell {
    text: String,
    span: usize,
    continues: bool,
}

fn docx_body(xml: &[u8]) -> Result<Vec<ReadBlock>, String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut blocks = Blocks::default();
    let mut paragraph = String::new();
    // Tables nest: an inner table's text is read into the outer cell.
    let mut depth = 0usize;
    let mut rows: Vec<Vec<WordCell>> = Vec::new();
    let mut cell: Option<WordCell> = None;
    let mut in_text = false;
    let mut buffer = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buffer)
            .map_err(|e| format!("word/document.xml is not well-formed ({e})"))?;
        match event {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => {
                let empty_vmerge = |e: &quick_xml::events::BytesStart| {
                    e.try_get_attribute("w:val")
                        .ok()
                        .flatten()
                        .is_none_or(|a| &*a.value == "continue")
                };
                match e.name().into_inner() {
                    "w:tbl" => depth += 1,
                    "w:tr" if depth == 1 => rows.push(Vec::new()),
                    "w:tc" if depth == 1 => {
                        cell = Some(WordCell {
                            span: 1,
                            ..Default::default()
                        })
                    }
                    "w:gridSpan" if depth == 1 => {
                        if let (Some(cell), Ok(Some(value))) =
                            (cell.as_mut(), e.try_get_attribute("w:val"))
                        {
                            cell.span = value.value.parse().ok().unwrap_or(1).clamp(1, MAX_COLUMNS);
                        }
                    }
                    "w:vMerge" if depth == 1 => {
                        if let Some(cell) = cell.as_mut() {
                            cell.continues = empty_vmerge(&e);
                        }
                    }
                    "w:t" => in_text = true,
                    "w:tab" => paragraph.push('\t'),
                    "w:br" | "w:cr" => paragraph.push(' '),
                    _ => {}
                }
            }
            Event::Text(t) if in_text => {
                let text: &str = t.as_ref();
                paragraph.push_str(text);
            }
            Event::GeneralRef(r) if in_text => {
                let name: &str = r.as_ref();
                if let Some(c) = entity(name) {
                    paragraph.push(c);
                }
            }
            Event::End(e) => match e.name().into_inner() {
                "w:t" => in_text = false,
                "w:p" => {
                    match cell.as_mut() {
                        Some(cell) if depth >= 1 => {
                            if !cell.text.is_empty() && !paragraph.trim().is_empty() {
                                cell.text.push(' ');
                            }
                            cell.text.push_str(paragraph.trim());
                        }
                        _ => blocks.paragraph(&paragraph),
                    }
                    paragraph.clear();
                }
                "w:tc" if depth == 1 => {
                    if let (Some(done), Some(row)) = (cell.take(), rows.last_mut())
                        && row.len() < MAX_COLUMNS
                    {
                        row.push(done);
                    }
                }
                "w:tbl" => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        blocks.table(word_grid(std::mem::take(&mut rows)));
                    }
                }
                _ => {}
            },
            _ => {}
        }
        buffer.clear();
    }
    Ok(blocks.blocks)
}

/// The five XML entities and numeric references; others are dropped.
fn entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

/// Word's rows as a grid: a cell spanning columns repeated into each, a vertically merged cell's text carried
/// down into the cells that continue it (a header merged over two rows names both).
fn word_grid(rows: Vec<Vec<WordCell>>) -> Vec<Vec<String>> {
    let mut grid: Vec<Vec<String>> = Vec::with_capacity(rows.len());
    for row in rows {
        let mut out = Vec::new();
        for cell in row {
            let column = out.len();
            let text = if cell.continues {
                grid.last()
                    .and_then(|above: &Vec<String>| above.get(column))
                    .cloned()
                    .unwrap_or_default()
            } else {
                cell.text
            };
            for _ in 0..cell.span {
                if out.len() < MAX_COLUMNS {
                    out.push(text.clone());
                }
            }
        }
        grid.push(out);
    }
    grid
}

fn html(source: &str) -> Vec<ReadBlock> {
    let document = scraper::Html::parse_document(source);
    let mut blocks = Blocks::default();
    let mut paragraph = String::new();
    walk_html(document.root_element(), &mut blocks, &mut paragraph);
    blocks.paragraph(&paragraph);
    blocks.blocks
}

/// Elements that end a paragraph before and after them.
const HTML_BLOCKS: [&str; 20] = [
    "p",
    "div",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "ul",
    "ol",
    "br",
    "section",
    "article",
    "header",
    "footer",
    "caption",
    "blockquote",
    "pre",
    "hr",
];

fn walk_html(element: scraper::ElementRef<'_>, blocks: &mut Blocks, paragraph: &mut String) {
    for child in element.children() {
        if let Some(text) = child.value().as_text() {
            paragraph.push_str(text);
            continue;
        }
        let Some(child) = scraper::ElementRef::wrap(child) else {
            continue;
        };
        let name = child.value().name();
        match name {
            "script" | "style" | "head" | "template" | "noscript" => {}
            "table" => {
                blocks.paragraph(paragraph);
                paragraph.clear();
                blocks.table(html_table(child));
            }
            _ if HTML_BLOCKS.contains(&name) => {
                blocks.paragraph(paragraph);
                paragraph.clear();
                walk_html(child, blocks, paragraph);
                blocks.paragraph(paragraph);
                paragraph.clear();
            }
            _ => walk_html(child, blocks, paragraph),
        }
    }
}

/// An HTML table's rows (of this table, not of tables inside it), colspan repeated and rowspan carried down.
fn html_table(table: scraper::ElementRef<'_>) -> Vec<Vec<String>> {
    let rows: Vec<scraper::ElementRef<'_>> = table
        .descendants()
        .filter_map(scraper::ElementRef::wrap)
        .filter(|e| e.value().name() == "tr")
        .filter(|tr| {
            // The row's nearest table is this one.
            tr.ancestors()
                .filter_map(scraper::ElementRef::wrap)
                .find(|a| a.value().name() == "table")
                .is_some_and(|a| a.id() == table.id())
        })
        .collect();
    // (column → (rows still covered, text)) from rowspans above.
    let mut carried: Vec<Option<(usize, String)>> = Vec::new();
    let mut grid = Vec::with_capacity(rows.len());
    for tr in rows {
        let mut out: Vec<String> = Vec::new();
        let take_carried = |out: &mut Vec<String>, carried: &mut Vec<Option<(usize, String)>>| {
            while let Some(Some((left, text))) = carried.get_mut(out.len()) {
                out.push(text.clone());
                *left -= 1;
                if *left == 0 {
                    carried[out.len() - 1] = None;
                }
                if out.len() >= MAX_COLUMNS {
                    break;
                }
            }
        };
        for cell in tr
            .children()
            .filter_map(scraper::ElementRef::wrap)
            .filter(|c| matches!(c.value().name(), "td" | "th"))
        {
            take_carried(&mut out, &mut carried);
            let text: String = cell.text().collect();
            let number = |name: &str| {
                cell.value()
                    .attr(name)
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(1)
                    .clamp(1, MAX_COLUMNS)
            };
            let (colspan, rowspan) = (number("colspan"), number("rowspan"));
            for _ in 0..colspan {
                if out.len() >= MAX_COLUMNS {
                    break;
                }
                if rowspan > 1 {
                    if carried.len() <= out.len() {
                        carried.resize(out.len() + 1, None);
                    }
                    carried[out.len()] = Some((rowspan - 1, text.clone()));
                }
                out.push(text.clone());
            }
        }
        take_carried(&mut out, &mut carried);
        grid.push(out);
    }
    grid
}

/// Lines of text: a run of tab-led lines is a table whose rows a blank line ends (Word's "one cell per line");
/// lines of tab-separated fields, or of fields two spaces apart, are table rows (blank lines between them do not
/// end the table); the rest are paragraphs. With `pages` (the page of each line), a block is placed by its page.
fn text(source: &str, pages: Option<&[usize]>) -> Vec<ReadBlock> {
    let mut blocks = Blocks::default();
    let lines: Vec<&str> = source.lines().collect();
    let mut i = 0;
    let mut table: Vec<Vec<String>> = Vec::new();
    // The line each block starts at, to place it on its page.
    let mut starts: Vec<usize> = Vec::new();
    let mut table_start = 0;
    let flush =
        |blocks: &mut Blocks, table: &mut Vec<Vec<String>>, starts: &mut Vec<usize>, at: usize| {
            if !table.is_empty() {
                let before = blocks.blocks.len();
                blocks.table(std::mem::take(table));
                if blocks.blocks.len() > before {
                    starts.push(at);
                }
            }
        };
    while i < lines.len() {
        let line = lines[i].trim_end_matches('\r');
        if line.starts_with('\t') && !line[1..].contains('\t') {
            // One cell per line: the row runs to the next blank line.
            if table.is_empty() {
                table_start = i;
            }
            let mut row = Vec::new();
            while i < lines.len() && lines[i].trim_end_matches('\r').starts_with('\t') {
                row.push(lines[i].trim().to_owned());
                i += 1;
            }
            table.push(row);
            // A blank line ends the row; two, or a paragraph, end the table.
            if i < lines.len() && lines[i].trim().is_empty() {
                i += 1;
                if i < lines.len() && lines[i].starts_with('\t') {
                    continue;
                }
            }
            flush(&mut blocks, &mut table, &mut starts, table_start);
            continue;
        }
        if line.trim().is_empty() {
            i += 1;
            continue;
        }
        let fields = split_fields(line);
        if fields.len() >= 2 {
            if table.is_empty() {
                table_start = i;
            }
            table.push(fields);
        } else {
            flush(&mut blocks, &mut table, &mut starts, table_start);
            let before = blocks.blocks.len();
            blocks.paragraph(line);
            if blocks.blocks.len() > before {
                starts.push(i);
            }
        }
        i += 1;
    }
    flush(&mut blocks, &mut table, &mut starts, table_start);
    let mut read = blocks.blocks;
    if let Some(pages) = pages {
        for (block, start) in read.iter_mut().zip(starts) {
            let page = pages.get(start).copied().unwrap_or(1);
            block.at = match block.content {
                Content::Paragraph(_) => format!("第{page}页"),
                Content::Table(_) => format!("第{page}页（{}）", block.at),
            };
        }
    }
    read
}

/// A line's table fields: split at tabs, else at runs of two or more spaces — three or more fields (a header row),
/// or two with a figure among them.
fn split_fields(line: &str) -> Vec<String> {
    let trimmed = line.trim();
    if trimmed.contains('\t') {
        return trimmed.split('\t').map(|f| f.trim().to_owned()).collect();
    }
    let fields: Vec<String> = trimmed
        .split("  ")
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect();
    let figure = |f: &String| {
        let f = f.replace(',', "");
        !f.is_empty() && f.parse::<f64>().is_ok()
    };
    if fields.len() >= 3 || (fields.len() == 2 && fields.iter().any(figure)) {
        fields
    } else {
        Vec::new()
    }
}

fn pdf(bytes: &[u8]) -> Result<Vec<ReadBlock>, ReadError> {
    // The extractor panics on some malformed files: a panic is a document that cannot be read, not a crash.
    let pages = std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem_by_pages(bytes))
        .map_err(|_| ReadError::Unreadable(Format::Pdf.name(), "the PDF is malformed".into()))?
        .map_err(|e| ReadError::Unreadable(Format::Pdf.name(), e.to_string()))?;
    // One text, so that a table running over a page break stays one table; each line keeps its page.
    let mut whole = String::new();
    let mut page_of_line = Vec::new();
    for (i, page) in pages.iter().enumerate() {
        for line in page.lines() {
            whole.push_str(line);
            whole.push('\n');
            page_of_line.push(i + 1);
        }
    }
    let blocks = text(&whole, Some(&page_of_line));
    if blocks.is_empty() {
        return Err(ReadError::NoText);
    }
    Ok(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paragraphs(blocks: &[ReadBlock]) -> Vec<&str> {
        blocks
            .iter()
            .filter_map(|b| match &b.content {
                Content::Paragraph(p) => Some(p.as_str()),
                Content::Table(_) => None,
            })
            .collect()
    }

    fn tables(blocks: &[ReadBlock]) -> Vec<&Vec<Vec<String>>> {
        blocks
            .iter()
            .filter_map(|b| match &b.content {
                Content::Table(t) => Some(t),
                Content::Paragraph(_) => None,
            })
            .collect()
    }

    #[test]
    fn html_spans_are_repeated_into_every_cell_they_cover() {
        let read = read(
            "a.html",
            "<html><body><h2>一、收入</h2><p>本年收入<b>8,190.84</b>万元。</p>\
             <table><tr><th rowspan=2>项目</th><th colspan=2>本年</th></tr>\
             <tr><th>收入</th><th>支出</th></tr><tr><td>合计</td><td>1.00</td><td>2.00</td></tr></table>\
             <script>var x = '<p>不是正文</p>';</script></body></html>"
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(read.format, Format::Html);
        assert_eq!(
            paragraphs(&read.blocks),
            ["一、收入", "本年收入8,190.84万元。"]
        );
        assert_eq!(
            tables(&read.blocks)[0],
            &vec![
                vec!["项目", "本年", "本年"],
                vec!["项目", "收入", "支出"],
                vec!["合计", "1.00", "2.00"]
            ]
        );
    }

    #[test]
    fn word_saved_as_text_gives_one_cell_per_line_and_rows_by_blank_lines() {
        let source = "第一部分\n\t单位名称\n\t某单位\n\n\t合计\n\t1.00\n\t\n\n说明文字\n项目\t本年\t上年\n合计\t3.00\t2.00\n";
        let read = read("a.txt", source.as_bytes()).unwrap();
        assert_eq!(paragraphs(&read.blocks), ["第一部分", "说明文字"]);
        let tables = tables(&read.blocks);
        assert_eq!(
            tables[0],
            &vec![vec!["单位名称", "某单位"], vec!["合计", "1.00", ""]]
        );
        assert_eq!(
            tables[1],
            &vec![vec!["项目", "本年", "上年"], vec!["合计", "3.00", "2.00"]]
        );
    }

    #[test]
    fn gb18030_text_is_read_and_other_bytes_are_refused() {
        let (bytes, _, _) = encoding_rs::GB18030.encode("收入支出决算总表");
        let read = read("a.txt", &bytes).unwrap();
        assert_eq!(paragraphs(&read.blocks), ["收入支出决算总表"]);
        assert_eq!(
            super::read("a.xyz", b"\x00\x01").unwrap_err(),
            ReadError::UnknownFormat
        );
        assert!(matches!(
            super::read("a.docx", b"PK\x03\x04broken"),
            Err(ReadError::Unreadable(..))
        ));
    }

    #[test]
    fn fields_two_spaces_apart_are_a_row_only_with_a_figure() {
        assert_eq!(
            split_fields("本年收入合计   8,190.84   7,000.00"),
            ["本年收入合计", "8,190.84", "7,000.00"]
        );
        assert!(split_fields("第一部分  部门概况").is_empty());
        assert_eq!(
            split_fields("项目  本年收入  本年支出"),
            ["项目", "本年收入", "本年支出"]
        );
    }
}
