//! The public document of a unit's final accounts (部门决算公开): written from its figures — the parts and
//! sections of the year's `publication.toml` in order, the 决算情况说明 as prose ([`prose`]) with a person's
//! reasons left as visible 【请填写：…】 placeholders, the 名词解释, the nine tables in their published layout
//! (an empty table by its statement), and the self-evaluations attached ([`evaluations`]); [`compose`] builds the
//! document, [`html`] and [`docx`] write it. A published document is read back by [`read`] and checked by
//! [`check`].

pub mod check;
pub mod docx;
pub mod evaluations;
pub mod html;
pub mod prose;
pub mod read;

use rust_decimal::Decimal;

use crate::domain::{
    disclosure::Disclosure,
    facts::Facts,
    rules::{Context, draft::draft_narrative},
    taxonomy::{TableDef, Taxonomy},
};

/// A document, ready to be written in any format.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub title: String,
    pub unit_name: String,
    pub fiscal_year: u32,
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub title: String,
    pub blocks: Vec<Block>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A numbered heading: level 1 "一、…", level 2 "（一）…"; the text carries its number.
    Heading {
        level: u8,
        text: String,
    },
    Paragraph(String),
    Table(PrintedTable),
    /// A table of text, its title in its first rows (a self-evaluation sheet as units attach it).
    Grid(Vec<Vec<String>>),
}

/// A table as printed: its title, 编制单位 and 金额单位, column heads, and rows; or the statement an empty table
/// is replaced by.
#[derive(Debug, Clone, PartialEq)]
pub struct PrintedTable {
    pub code: String,
    pub title: String,
    pub unit_name: String,
    pub amount_unit: String,
    /// Whether the rows carry 科目编码.
    pub coded: bool,
    pub columns: Vec<String>,
    pub rows: Vec<PrintedRow>,
    /// Said instead of the rows when the table has nothing to show.
    pub empty_statement: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PrintedRow {
    /// The classification code; `None` for a fixed line.
    pub code: Option<String>,
    pub name: String,
    pub cells: Vec<Option<Decimal>>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PublishError {
    #[error(
        "the {0} taxonomy has no publication.toml: it does not say how the public document is laid out"
    )]
    NoStructure(u32),
    #[error("{0}")]
    Prose(String),
}

/// 1 → 一, 12 → 十二, 21 → 二十一 (sections never reach a hundred).
pub fn chinese_number(n: usize) -> String {
    const DIGITS: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    match n {
        0..=9 => DIGITS[n].to_owned(),
        10..=19 => format!("十{}", if n == 10 { "" } else { DIGITS[n - 10] }),
        20..=99 => format!(
            "{}十{}",
            DIGITS[n / 10],
            if n.is_multiple_of(10) {
                ""
            } else {
                DIGITS[n % 10]
            }
        ),
        _ => n.to_string(),
    }
}

/// The rows of a table from a version's figures: its fixed lines in layout order, then the codes in code order
/// (类 → 款 → 项 nested, as printed).
pub fn printed_rows(taxonomy: &Taxonomy, facts: &Facts, table: &TableDef) -> Vec<PrintedRow> {
    let Some(data) = facts.tables.get(&table.code) else {
        return Vec::new();
    };
    let row = |code: &str| -> Option<PrintedRow> {
        let values = data.rows.get(code)?;
        let is_line = table.line(code).is_some();
        Some(PrintedRow {
            code: (!is_line).then(|| code.to_owned()),
            name: taxonomy
                .row_name(table, code)
                .unwrap_or("（未列入当年科目表）")
                .to_owned(),
            cells: table
                .columns
                .iter()
                .map(|c| values.get(&c.code).map(|v| v.decimal()))
                .collect(),
        })
    };
    let lines = table.lines.iter().filter_map(|line| row(&line.code));
    let codes = data
        .rows
        .keys()
        .filter(|code| table.line(code).is_none())
        .filter_map(|code| row(code));
    lines.chain(codes).collect()
}

/// A figure as printed: thousands separators, two decimals (the published tables' format).
pub fn figure(value: Decimal) -> String {
    with_thousands(&format!("{:.2}", value.round_dp(2)))
}

/// A decimal's text with its whole part grouped by thousands: "-1234567.891" → "-1,234,567.891".
pub fn with_thousands(text: &str) -> String {
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    let (whole, fraction) = match digits.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (digits, None),
    };
    let mut out = String::with_capacity(text.len() + whole.len() / 3);
    out.push_str(sign);
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(fraction) = fraction {
        out.push('.');
        out.push_str(fraction);
    }
    out
}

/// A table's short and full name: "公开05 一般公共预算财政拨款支出决算表".
pub fn table_title(table: &TableDef) -> String {
    match table.aliases.first() {
        Some(short) if short != &table.name => format!("{short} {}", table.name),
        _ => table.name.clone(),
    }
}

/// The public document of `disclosure`, with last year's figures (resolved against this year's taxonomy) for the
/// changes when given.
pub fn compose(
    taxonomy: &Taxonomy,
    disclosure: &Disclosure,
    last_year: Option<&Disclosure>,
) -> Result<Document, PublishError> {
    let year = taxonomy.fiscal_year.get();
    let structure = taxonomy
        .publication
        .as_ref()
        .ok_or(PublishError::NoStructure(year))?;
    let unit_name = disclosure.cover.unit_name.clone();
    let drafted = draft_narrative(
        taxonomy,
        disclosure,
        Context {
            last_year,
            ..Default::default()
        },
    );
    let context = Context {
        last_year,
        ..Default::default()
    };
    let text_of = |key: Option<&str>, title: &str| -> Result<Vec<Block>, PublishError> {
        let placeholder = || vec![Block::Paragraph(format!("【请填写：{title}】"))];
        let Some(key) = key else {
            return Ok(placeholder());
        };
        if let Some(templates) = structure.prose.get(key) {
            let filler = prose::Filler {
                taxonomy,
                disclosure,
                context,
                section: key,
            };
            let paragraphs = filler.paragraphs(templates).map_err(PublishError::Prose)?;
            return Ok(if paragraphs.is_empty() {
                placeholder()
            } else {
                paragraphs.into_iter().map(Block::Paragraph).collect()
            });
        }
        Ok(match drafted.iter().find(|s| s.key == key) {
            Some(section) if !section.text.trim().is_empty() => section
                .text
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .map(|line| Block::Paragraph(line.to_owned()))
                .collect(),
            _ => placeholder(),
        })
    };
    let facts = Facts::from_disclosure(disclosure, taxonomy);
    let amount_unit = disclosure.cover.amount_unit.name().to_owned();
    // A table with no figure other than zero has nothing to show: its statement stands for it.
    let empty = |table: &TableDef| {
        printed_rows(taxonomy, &facts, table)
            .iter()
            .all(|r| r.cells.iter().all(|c| c.is_none_or(|v| v.is_zero())))
    };
    let section_blocks = |section: &crate::domain::taxonomy::publication::Section| -> Result<Vec<Block>, PublishError> {
        let empty_table = section
            .table
            .as_deref()
            .and_then(|code| taxonomy.table(code))
            .filter(|table| empty(table));
        match empty_table {
            Some(table) => Ok(vec![Block::Paragraph(
                structure.empty_statement(&table.code).to_owned(),
            )]),
            None => text_of(section.narrative.as_deref(), &section.title),
        }
    };
    let mut parts = Vec::new();
    for part in &structure.parts {
        let mut blocks = Vec::new();
        for (i, section) in part.sections.iter().enumerate() {
            blocks.push(Block::Heading {
                level: 1,
                text: format!("{}、{}", chinese_number(i + 1), section.title),
            });
            if section.subsections.is_empty() {
                blocks.extend(section_blocks(section)?);
            }
            for (j, sub) in section.subsections.iter().enumerate() {
                blocks.push(Block::Heading {
                    level: 2,
                    text: format!("（{}）{}", chinese_number(j + 1), sub.title),
                });
                blocks.extend(section_blocks(sub)?);
            }
        }
        if part.glossary {
            for (i, term) in structure.glossary.iter().enumerate() {
                blocks.push(Block::Paragraph(format!(
                    "{}、{}：{}",
                    chinese_number(i + 1),
                    term.term,
                    term.text
                )));
            }
        }
        if part.tables {
            let printed = taxonomy.tables.iter().filter(|t| t.section.is_none());
            for (i, table) in printed.enumerate() {
                blocks.push(Block::Heading {
                    level: 1,
                    text: format!("{}、《{}》", chinese_number(i + 1), table.name),
                });
                let rows = printed_rows(taxonomy, &facts, table);
                let empty = empty(table);
                blocks.push(Block::Table(PrintedTable {
                    code: table.code.clone(),
                    title: table_title(table),
                    unit_name: unit_name.clone(),
                    amount_unit: amount_unit.clone(),
                    coded: table.codes.is_some(),
                    columns: table.columns.iter().map(|c| c.name.clone()).collect(),
                    rows: if empty { Vec::new() } else { rows },
                    empty_statement: empty
                        .then(|| structure.empty_statement(&table.code).to_owned()),
                }));
            }
        }
        if part.evaluations {
            let sheets: Vec<Vec<Vec<String>>> = disclosure
                .evaluations()
                .map(|e| evaluations::sheet(e, &unit_name, year))
                .collect();
            if sheets.is_empty() {
                blocks.push(Block::Paragraph("本单位本年度无绩效自评表。".to_owned()));
            }
            blocks.extend(sheets.into_iter().map(Block::Grid));
        }
        parts.push(Part {
            title: part.title.clone(),
            blocks,
        });
    }
    Ok(Document {
        title: structure
            .title
            .replace("{unit}", &unit_name)
            .replace("{year}", &year.to_string()),
        unit_name,
        fiscal_year: year,
        parts,
    })
}

impl Document {
    /// Paragraphs with a 【请填写：…】 a person must still write.
    pub fn placeholders(&self) -> usize {
        self.parts
            .iter()
            .flat_map(|p| &p.blocks)
            .filter(|b| matches!(b, Block::Paragraph(t) if t.contains("【请填写")))
            .count()
    }

    /// The headings in order, parts and sections: what a reader scans, and what a test compares.
    pub fn outline(&self) -> Vec<String> {
        let mut out = Vec::new();
        for part in &self.parts {
            out.push(part.title.clone());
            for block in &part.blocks {
                if let Block::Heading { text, .. } = block {
                    out.push(text.clone());
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_as_in_headings() {
        let written: Vec<String> = [1, 9, 10, 11, 12, 20, 21, 99].map(chinese_number).to_vec();
        assert_eq!(
            written,
            ["一", "九", "十", "十一", "十二", "二十", "二十一", "九十九"]
        );
    }
}
