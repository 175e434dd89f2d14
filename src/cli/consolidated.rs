//! `juesuan consolidated`: a node's consolidated tables from a running service, one cell explained down the tree
//! (`--explain T:ROW:COLUMN --depth N`), the subtree's completeness (`--completeness`), or the differences from
//! the 汇总表 the node reported (`--compare-reported`).

use std::{collections::BTreeMap, fmt::Write as _, process::ExitCode};

use clap::Args;

use super::{Format, ServerArgs, TaxonomyArgs, json, output, say, sayln, status_message};
use crate::{domain::ids::FiscalYear, pb};

#[derive(Args)]
pub struct ConsolidatedArgs {
    /// The node: a fiscal region, a department, or any unit with children.
    #[arg(long)]
    node: String,
    /// The fiscal year.
    #[arg(long)]
    year: u32,
    /// Only this table (code or alias, e.g. T01 or 收入支出决算总表). Repeatable; all tables when not given.
    #[arg(long = "table", value_name = "TABLE")]
    tables: Vec<String>,
    /// Explain one cell instead: TABLE:ROW:COLUMN, e.g. T03:total:subsidy_affiliated.
    #[arg(
        long,
        value_name = "TABLE:ROW:COLUMN",
        value_parser = parse_cell,
        conflicts_with_all = ["completeness", "compare_reported"]
    )]
    explain: Option<CellArg>,
    /// How many levels an explanation goes down (1: the node's children; 3 reaches units under a region →
    /// county → department tree).
    #[arg(long, default_value_t = 1, requires = "explain")]
    depth: u32,
    /// List every unit of the subtree with where its disclosure stands, instead.
    #[arg(long, conflicts_with = "compare_reported")]
    completeness: bool,
    /// With --completeness: only the units whose figures do not count (never submitted, rejected, pending
    /// review, returned — no accepted version).
    #[arg(long, requires = "completeness")]
    missing: bool,
    /// Compare the 汇总表 the node reported with the computed consolidation, instead.
    #[arg(long)]
    compare_reported: bool,
    /// Show amounts in 元 instead of 万元.
    #[arg(long)]
    yuan: bool,
    #[command(flatten)]
    server: ServerArgs,
    /// Where table and column names come from (names are left out when it cannot be read).
    #[command(flatten)]
    taxonomy: TaxonomyArgs,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellArg {
    table: String,
    row: String,
    column: String,
}

fn parse_cell(text: &str) -> Result<CellArg, String> {
    let parts: Vec<&str> = text.split(':').map(str::trim).collect();
    match parts.as_slice() {
        [table, row, column] if !table.is_empty() && !row.is_empty() && !column.is_empty() => {
            Ok(CellArg {
                table: (*table).to_owned(),
                row: (*row).to_owned(),
                column: (*column).to_owned(),
            })
        }
        _ => Err("write TABLE:ROW:COLUMN, e.g. T03:total:subsidy_affiliated".to_owned()),
    }
}

/// Table and column names of a year, when the taxonomy can be read; codes alone otherwise.
#[derive(Default)]
struct Names {
    tables: BTreeMap<String, String>,
    /// The year's taxonomy, for row names.
    taxonomy: Option<std::sync::Arc<crate::domain::taxonomy::Taxonomy>>,
    /// (table, column) → the column's place in the table and its name.
    columns: BTreeMap<(String, String), (usize, String)>,
}

impl Names {
    fn load(taxonomy: &TaxonomyArgs, year: u32) -> Names {
        let mut names = Names::default();
        let Ok(taxonomies) = taxonomy.load() else {
            return names;
        };
        let Some(taxonomy) = FiscalYear::new(year).ok().and_then(|y| taxonomies.get(y)) else {
            return names;
        };
        names.taxonomy = Some(taxonomy.clone());
        for table in &taxonomy.tables {
            names.tables.insert(table.code.clone(), table.name.clone());
            for (place, column) in table.columns.iter().enumerate() {
                names.columns.insert(
                    (table.code.clone(), column.code.clone()),
                    (place, column.name.clone()),
                );
            }
        }
        names
    }

    fn table(&self, code: &str) -> String {
        match self.tables.get(code) {
            Some(name) => format!("{code} {name}"),
            None => code.to_owned(),
        }
    }

    fn column(&self, table: &str, column: &str) -> Option<&str> {
        self.columns
            .get(&(table.to_owned(), column.to_owned()))
            .map(|(_, name)| name.as_str())
    }

    /// A row as people name it: a fixed line by its name ("本年收入合计"), a classification row by code and name
    /// ("208 文化旅游体育与传媒支出"); the code alone when the taxonomy does not know it.
    fn row(&self, table: &str, code: &str, label: &str) -> String {
        let known = self.taxonomy.as_ref().and_then(|taxonomy| {
            let def = taxonomy.table(table)?;
            let name = taxonomy.row_name(def, code)?;
            Some(if def.line(code).is_some() {
                name.to_owned()
            } else {
                format!("{code} {name}")
            })
        });
        match known {
            Some(name) => name,
            None if label.is_empty() => code.to_owned(),
            None => format!("{code} {label}"),
        }
    }

    /// Where a column goes: its place in the table's layout (columns not known go last).
    fn place(&self, table: &str, column: &str) -> usize {
        self.columns
            .get(&(table.to_owned(), column.to_owned()))
            .map_or(usize::MAX, |(place, _)| *place)
    }
}

fn unit_label(unit: &Option<pb::Unit>) -> String {
    unit.as_ref()
        .map(|u| format!("{} {}", u.code, u.name))
        .unwrap_or_default()
}

fn amount_unit_name(unit: i32) -> &'static str {
    match pb::AmountUnit::try_from(unit) {
        Ok(pb::AmountUnit::Yuan) => "元",
        _ => "万元",
    }
}

fn decimal(value: &Option<pb::Decimal>) -> &str {
    value.as_ref().map_or("0", |d| d.value.as_str())
}

/// A table as text: one line per row (its name, a classification row's code first, then its figures under the
/// columns' names).
fn table_text(table: &pb::Table, names: &Names) -> String {
    let mut columns: Vec<&str> = Vec::new();
    for row in &table.rows {
        for cell in &row.cells {
            if !columns.contains(&cell.column.as_str()) {
                columns.push(&cell.column);
            }
        }
    }
    // Rows need not give every column: order them as the table does.
    columns.sort_by_key(|c| names.place(&table.code, c));
    let labels: Vec<String> = table
        .rows
        .iter()
        .map(|r| names.row(&table.code, &r.code, &r.label))
        .collect();
    let headers: Vec<&str> = columns
        .iter()
        .map(|c| names.column(&table.code, c).unwrap_or(c))
        .collect();
    let label_width = labels
        .iter()
        .map(|l| output::display_width(l))
        .max()
        .unwrap_or(3)
        .clamp(3, 48);
    let widths: Vec<usize> = columns
        .iter()
        .zip(&headers)
        .map(|(column, header)| {
            table
                .rows
                .iter()
                .flat_map(|r| r.cells.iter().filter(|c| c.column == *column))
                .map(|c| decimal(&c.value).len())
                .chain([output::display_width(header)])
                .max()
                .unwrap_or(1)
        })
        .collect();
    let mut out = String::new();
    let _ = writeln!(out, "{}", names.table(&table.code));
    let _ = write!(out, "  {}", output::align("项目", label_width, false));
    for (header, width) in headers.iter().zip(&widths) {
        let _ = write!(out, "  {}", output::align(header, *width, true));
    }
    out.push('\n');
    for (row, label) in table.rows.iter().zip(&labels) {
        let _ = write!(out, "  {}", output::align(label, label_width, false));
        for (column, width) in columns.iter().zip(&widths) {
            let value = row
                .cells
                .iter()
                .find(|c| c.column == *column)
                .map_or("", |c| decimal(&c.value));
            let _ = write!(out, "  {}", output::align(value, *width, true));
        }
        out.push('\n');
    }
    out
}

fn consolidated_text(report: &pb::ConsolidatedReport, names: &Names) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}, fiscal year {}: consolidated tables (汇总表), amounts in {}",
        unit_label(&report.node),
        report.fiscal_year,
        amount_unit_name(report.amount_unit)
    );
    let _ = writeln!(
        out,
        "counted: {} of {} units expected to submit{}",
        report.units_counted,
        report.units_expected,
        if report.partial {
            " — PARTIAL (`--completeness --missing` lists who is missing)"
        } else {
            ""
        }
    );
    if !report.partial_tables.is_empty() {
        let _ = writeln!(
            out,
            "tables some counted version gives only partly: {}",
            report.partial_tables.join(", ")
        );
    }
    if report.inexact_figures > 0 {
        let _ = writeln!(
            out,
            "{} figure(s) finer than a fen were rounded to the fen when added",
            report.inexact_figures
        );
    }
    let _ = writeln!(out, "which version counts: {}", report.policy);
    if report.tables.is_empty() {
        out.push_str("\nno figures yet\n");
    }
    for table in &report.tables {
        out.push('\n');
        out.push_str(&table_text(table, names));
    }
    out.push_str("\n调整表 — eliminations made at this node (already in the figures above):\n");
    if report.adjustments.is_empty() {
        out.push_str("  none\n");
    }
    for table in &report.adjustments {
        out.push_str(&table_text(table, names));
    }
    if !report.unmatched.is_empty() {
        out.push_str(&unmatched_text(&report.unmatched));
    }
    let _ = writeln!(
        out,
        "\nelimination pairs whose two sides disagree in this subtree: {}",
        report.elimination_findings.len()
    );
    if !report.elimination_findings.is_empty() {
        out.push_str(&output::findings(&report.elimination_findings));
    }
    let _ = writeln!(
        out,
        "\nthe year's table and cross-table rules on these consolidated tables: {}",
        if report.findings.is_empty() {
            "no finding".to_owned()
        } else {
            format!("{} finding(s)", report.findings.len())
        }
    );
    if !report.findings.is_empty() {
        out.push_str(&output::findings(&report.findings));
    }
    out
}

/// The 未抵销差额 lines of the 调整表: each transfer not eliminated in full, both sides and why.
fn unmatched_text(lines: &[pb::UnmatchedElimination]) -> String {
    let mut out = String::from(
        "  未抵销差额 — transfers not eliminated in full (the matched part is removed from both sides, the rest stays above):\n",
    );
    for line in lines {
        let _ = writeln!(
            out,
            "  {} {}: payer {} states {}, counted payees {}; eliminated {}, stays {} (payer side) / {} (payees' side) — {}",
            line.pair_id,
            line.pair_name,
            unit_label(&line.payer),
            decimal(&line.payer_amount),
            decimal(&line.counted_amount),
            decimal(&line.matched),
            decimal(&line.payer_unmatched),
            decimal(&line.payees_unmatched),
            line.reason_text
        );
        for payee in &line.payees {
            let _ = writeln!(
                out,
                "      {} {}: {}",
                unit_label(&payee.unit),
                if payee.counted {
                    "counted"
                } else {
                    "not counted"
                },
                payee.amount.as_ref().map_or("—", |d| d.value.as_str())
            );
        }
    }
    out
}

fn explanation_text(e: &pb::CellExplanation, unit: &str, indent: usize) -> String {
    let pad = "  ".repeat(indent);
    let mut out = String::new();
    let cell = e.cell.clone().unwrap_or_default();
    let _ = writeln!(
        out,
        "{pad}{}[{}, {}] at {}: {} {unit}",
        cell.table,
        cell.row,
        cell.column,
        unit_label(&e.node),
        decimal(&e.value)
    );
    let _ = writeln!(
        out,
        "{pad}  own figure {}{}",
        decimal(&e.own),
        if e.own_version == 0 {
            " (no version of its own counts)".to_owned()
        } else {
            format!(" (version {})", e.own_version)
        }
    );
    out
}

fn child_text(child: &pb::ChildContribution, indent: usize) -> String {
    format!(
        "{}  + {} {}{}\n",
        "  ".repeat(indent),
        unit_label(&child.unit),
        decimal(&child.value),
        if !child.has_children && child.counted_version == 0 {
            "  (nothing counted: no valid version)"
        } else {
            ""
        }
    )
}

fn eliminations_text(e: &pb::CellExplanation, indent: usize) -> String {
    let mut out = String::new();
    for x in &e.eliminations {
        let _ = writeln!(
            out,
            "{}  + {} {} — {} ({} side): {}",
            "  ".repeat(indent),
            x.pair_id,
            x.pair_name,
            x.unit_code,
            x.side,
            decimal(&x.amount)
        );
    }
    out
}

fn progress_name(progress: i32) -> &'static str {
    match pb::Progress::try_from(progress) {
        Ok(pb::Progress::NotExpected) => "not expected",
        Ok(pb::Progress::NeverSubmitted) => "never submitted",
        Ok(pb::Progress::RejectedByRules) => "rejected by rules",
        Ok(pb::Progress::PendingReview) => "pending review",
        Ok(pb::Progress::Returned) => "returned",
        Ok(pb::Progress::Accepted) => "accepted",
        _ => "unknown",
    }
}

fn completeness_text(report: &pb::CompletenessReport, missing_only: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}, fiscal year {}: {} of {} expected units counted (accepted); {} never submitted, {} pending review, \
         {} returned",
        unit_label(&report.node),
        report.fiscal_year,
        report.counted,
        report.expected,
        report.missing,
        report.pending,
        report.returned
    );
    let _ = writeln!(
        out,
        "  {}  {:>8}  {:>7}  {:<23}  UNIT",
        output::align("STATE", 17, false),
        "VERSIONS",
        "COUNTED",
        "LAST CHANGE"
    );
    let mut shown = 0;
    for u in &report.units {
        let counts = u.counted_version != 0;
        let expected = u.progress != pb::Progress::NotExpected as i32;
        if missing_only && (counts || !expected) {
            continue;
        }
        shown += 1;
        let _ = writeln!(
            out,
            "  {}  {:>8}  {:>7}  {:<23}  {}{}{}",
            output::align(progress_name(u.progress), 17, false),
            u.versions,
            if u.counted_version == 0 {
                "-".to_owned()
            } else {
                format!("v{}", u.counted_version)
            },
            u.last_change
                .as_ref()
                .map(output::timestamp)
                .unwrap_or_default(),
            if missing_only {
                String::new()
            } else {
                "  ".repeat(u.depth as usize)
            },
            unit_label(&u.unit),
            if u.locked { "  [locked]" } else { "" }
        );
    }
    if missing_only && shown == 0 {
        out.push_str("  every expected unit's figures count\n");
    }
    out
}

pub async fn run(args: ConsolidatedArgs) -> Result<ExitCode, String> {
    let channel = args.server.connect().await?;
    let amount_unit = if args.yuan {
        pb::AmountUnit::Yuan
    } else {
        pb::AmountUnit::TenThousandYuan
    } as i32;
    if let Some(cell) = &args.explain {
        return explain(channel, &args, cell, amount_unit).await;
    }
    let mut client = pb::consolidation_client::ConsolidationClient::new(channel);
    if args.completeness {
        let report = client
            .get_completeness(pb::GetCompletenessRequest {
                node_code: args.node.clone(),
                fiscal_year: args.year,
            })
            .await
            .map_err(status_message)?
            .into_inner();
        match args.format {
            Format::Table => say!("{}", completeness_text(&report, args.missing)),
            Format::Json => sayln!("{}", json::to_json("CompletenessReport", &report)),
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.compare_reported {
        let response = client
            .compare_reported(pb::CompareReportedRequest {
                node_code: args.node.clone(),
                fiscal_year: args.year,
            })
            .await
            .map_err(status_message)?
            .into_inner();
        let report = response.report.clone().unwrap_or_default();
        match args.format {
            Format::Table => {
                sayln!(
                    "{}'s reported 汇总表 (version {}) against the computed consolidation:",
                    args.node,
                    response.reported_version
                );
                say!("{}", output::findings(&report.findings));
            }
            Format::Json => sayln!("{}", json::to_json("CompareReportedResponse", &response)),
        }
        return Ok(if report.error_count > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }
    let report = client
        .get_consolidated(pb::GetConsolidatedRequest {
            node_code: args.node.clone(),
            fiscal_year: args.year,
            tables: args.tables.clone(),
            amount_unit,
        })
        .await
        .map_err(status_message)?
        .into_inner();
    match args.format {
        Format::Table => say!(
            "{}",
            consolidated_text(&report, &Names::load(&args.taxonomy, args.year))
        ),
        Format::Json => sayln!("{}", json::to_json("ConsolidatedReport", &report)),
    }
    Ok(ExitCode::SUCCESS)
}

/// Explains a cell at the node, then at each child that has children, down `--depth` levels.
async fn explain(
    channel: super::client::Conn,
    args: &ConsolidatedArgs,
    cell: &CellArg,
    amount_unit: i32,
) -> Result<ExitCode, String> {
    let mut client = pb::consolidation_client::ConsolidationClient::new(channel);
    let unit = amount_unit_name(amount_unit);
    let mut documents = Vec::new();
    let mut text = String::new();
    // Depth first, children in the order the service gives them (by code).
    let mut stack = vec![(args.node.clone(), 0u32)];
    while let Some((node, level)) = stack.pop() {
        let e = client
            .explain_cell(pb::ExplainCellRequest {
                node_code: node,
                fiscal_year: args.year,
                table: cell.table.clone(),
                row: cell.row.clone(),
                column: cell.column.clone(),
                amount_unit,
            })
            .await
            .map_err(status_message)?
            .into_inner();
        let indent = 2 * level as usize;
        text.push_str(&explanation_text(&e, unit, indent));
        let mut expand = Vec::new();
        for child in &e.children {
            text.push_str(&child_text(child, indent));
            if child.has_children && level + 1 < args.depth {
                expand.push(
                    child
                        .unit
                        .as_ref()
                        .map(|u| u.code.clone())
                        .unwrap_or_default(),
                );
            }
        }
        text.push_str(&eliminations_text(&e, indent));
        // The expanded children follow, indented under this block, in the order listed.
        for code in expand.into_iter().rev() {
            stack.push((code, level + 1));
        }
        documents.push(json::to_json("CellExplanation", &e));
    }
    match args.format {
        Format::Table => {
            say!("{text}");
            sayln!(
                "(value = own figure + Σ children + Σ eliminations; children with children of their own are \
                 expanded to --depth {})",
                args.depth
            );
        }
        Format::Json if documents.len() == 1 => sayln!("{}", documents[0]),
        Format::Json => sayln!("[\n{}\n]", documents.join(",\n")),
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_is_table_row_column() {
        assert_eq!(
            parse_cell("T03:total:subsidy_affiliated"),
            Ok(CellArg {
                table: "T03".into(),
                row: "total".into(),
                column: "subsidy_affiliated".into()
            })
        );
        assert!(parse_cell("T03:total").is_err());
        assert!(parse_cell("T03::amount").is_err());
    }

    #[test]
    fn a_table_prints_rows_in_order_with_aligned_figures() {
        let cell = |column: &str, value: &str| pb::Cell {
            column: column.into(),
            value: Some(pb::Decimal {
                value: value.into(),
            }),
        };
        let table = pb::Table {
            code: "T02".into(),
            rows: vec![
                pb::Row {
                    code: "total".into(),
                    label: "合计".into(),
                    // Given in another order than the table's: printed in the table's.
                    cells: vec![cell("fiscal", "1000.00"), cell("total", "1234.50")],
                },
                pb::Row {
                    code: "201".into(),
                    label: "一般公共服务支出".into(),
                    cells: vec![cell("total", "34.50")],
                },
            ],
            ..Default::default()
        };
        let mut names = Names {
            taxonomy: Some(crate::domain::taxonomy::test_support::year(2024)),
            ..Names::default()
        };
        names
            .columns
            .insert(("T02".into(), "fiscal".into()), (1, "财政拨款收入".into()));
        names
            .columns
            .insert(("T02".into(), "total".into()), (0, "本年收入合计".into()));
        let text = table_text(&table, &names);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "T02");
        // Columns by their names, rows by theirs: a fixed line by name alone, a classification row by code and
        // name; no internal key.
        assert!(
            lines[1].contains("项目") && lines[1].ends_with("  本年收入合计  财政拨款收入"),
            "{text}"
        );
        assert!(
            lines[2].starts_with("  合计 ") && lines[2].ends_with("1234.50       1000.00"),
            "{text}"
        );
        assert!(
            lines[3].starts_with("  201 一般公共服务支出") && lines[3].contains("34.50"),
            "{text}"
        );
        assert!(
            !text.contains("total") && !text.contains("fiscal"),
            "{text}"
        );
        assert_eq!(lines.len(), 4, "{text}");
    }
}
