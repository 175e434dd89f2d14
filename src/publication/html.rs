//! The document as one HTML page: what a unit's website shows and the console offers. Self-contained: its style
//! is in the page, nothing is fetched.

use maud::{DOCTYPE, Markup, html};

use super::{Block, Document, PrintedTable};

const STYLE: &str = "body { font-family: 'Noto Serif CJK SC', 'SimSun', serif; max-width: 60rem; margin: 2rem auto; \
     line-height: 1.8; } h1 { text-align: center; } p { text-indent: 2em; margin: .4rem 0; } \
     table { border-collapse: collapse; margin: .6rem 0 1.4rem; } th, td { border: 1px solid #444; padding: .2rem .5rem; } \
     td.num { text-align: right; white-space: nowrap; } p.meta { text-indent: 0; display: flex; \
     justify-content: space-between; } p.empty { text-indent: 0; font-style: italic; }";

pub fn write(document: &Document) -> String {
    let markup = html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                title { (document.title) }
                style { (STYLE) }
            }
            body {
                h1 { (document.title) }
                @for part in &document.parts {
                    section {
                        h2 { (part.title) }
                        @for block in &part.blocks {
                            (write_block(block))
                        }
                    }
                }
            }
        }
    };
    markup.into_string()
}

fn write_block(block: &Block) -> Markup {
    match block {
        Block::Heading { level: 1, text } => html! { h3 { (text) } },
        Block::Heading { text, .. } => html! { h4 { (text) } },
        Block::Paragraph(text) => html! { p { (text) } },
        Block::Table(table) => write_table(table),
        Block::Grid(rows) => html! {
            table {
                tbody {
                    @for row in rows {
                        tr { @for cell in row { td { (cell) } } }
                    }
                }
            }
        },
    }
}

fn write_table(table: &PrintedTable) -> Markup {
    html! {
        h4.table { (table.title) }
        p.meta { span { "编制单位：" (table.unit_name) } span { "金额单位：" (table.amount_unit) } }
        @match &table.empty_statement {
            Some(statement) => p.empty { (statement) },
            None => table {
                thead {
                    tr {
                        @if table.coded { th { "科目编码" } }
                        th { "项目" }
                        @for column in &table.columns { th { (column) } }
                    }
                    tr {
                        th colspan=(if table.coded { 2 } else { 1 }) { "栏次" }
                        @for i in 1..=table.columns.len() { th { (i) } }
                    }
                }
                tbody {
                    @for row in &table.rows {
                        tr {
                            @if table.coded { td { (row.code.as_deref().unwrap_or("")) } }
                            td { (row.name) }
                            @for cell in &row.cells {
                                td.num { @if let Some(value) = cell { (super::figure(*value)) } }
                            }
                        }
                    }
                }
            },
        }
    }
}
