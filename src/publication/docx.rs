//! The document as a Word file (.docx): what units edit and publish. Headings bold, paragraphs indented two
//! characters, tables with their 栏次 row.

use docx_rs::{AlignmentType, Docx, Paragraph, Run, Table, TableCell, TableRow};

use super::{Block, Document, PrintedTable};

pub fn write(document: &Document) -> Result<Vec<u8>, String> {
    let mut docx = Docx::new().add_paragraph(
        Paragraph::new()
            .align(AlignmentType::Center)
            .add_run(Run::new().add_text(&document.title).bold().size(36)),
    );
    for part in &document.parts {
        docx = docx.add_paragraph(
            Paragraph::new().add_run(Run::new().add_text(&part.title).bold().size(32)),
        );
        for block in &part.blocks {
            docx = match block {
                Block::Heading { level, text } => docx.add_paragraph(
                    Paragraph::new().add_run(
                        Run::new()
                            .add_text(text)
                            .bold()
                            .size(if *level == 1 { 28 } else { 24 }),
                    ),
                ),
                // Two characters of first-line indent (in twentieths of a point, at 12 pt).
                Block::Paragraph(text) => docx.add_paragraph(
                    Paragraph::new()
                        .indent(
                            None,
                            Some(docx_rs::SpecialIndentType::FirstLine(480)),
                            None,
                            None,
                        )
                        .add_run(Run::new().add_text(text).size(24)),
                ),
                Block::Table(table) => write_table(docx, table),
                Block::Grid(rows) => docx.add_table(Table::new(
                    rows.iter()
                        .map(|row| TableRow::new(row.iter().map(|c| cell(c)).collect()))
                        .collect(),
                )),
            };
        }
    }
    let mut buffer = std::io::Cursor::new(Vec::new());
    docx.build()
        .pack(&mut buffer)
        .map_err(|e| format!("the document cannot be written: {e}"))?;
    Ok(buffer.into_inner())
}

fn cell(text: &str) -> TableCell {
    TableCell::new().add_paragraph(Paragraph::new().add_run(Run::new().add_text(text).size(20)))
}

fn write_table(docx: Docx, table: &PrintedTable) -> Docx {
    let docx = docx
        .add_paragraph(Paragraph::new().add_run(Run::new().add_text(&table.title).bold()))
        .add_paragraph(Paragraph::new().add_run(Run::new().add_text(format!(
            "编制单位：{}    金额单位：{}",
            table.unit_name, table.amount_unit
        ))));
    if let Some(statement) = &table.empty_statement {
        return docx.add_paragraph(Paragraph::new().add_run(Run::new().add_text(statement)));
    }
    let mut heads = Vec::new();
    let mut numbers = Vec::new();
    if table.coded {
        heads.push(cell("科目编码"));
        numbers.push(cell("栏次"));
        heads.push(cell("项目"));
        numbers.push(cell(""));
    } else {
        heads.push(cell("项目"));
        numbers.push(cell("栏次"));
    }
    for (i, column) in table.columns.iter().enumerate() {
        heads.push(cell(column));
        numbers.push(cell(&(i + 1).to_string()));
    }
    let mut rows = vec![TableRow::new(heads), TableRow::new(numbers)];
    for row in &table.rows {
        let mut cells = Vec::new();
        if table.coded {
            cells.push(cell(row.code.as_deref().unwrap_or("")));
        }
        cells.push(cell(&row.name));
        for value in &row.cells {
            cells.push(cell(&value.map(super::figure).unwrap_or_default()));
        }
        rows.push(TableRow::new(cells));
    }
    docx.add_table(Table::new(rows))
}
