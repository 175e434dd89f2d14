//! Markup the console's pages share: figures with thousands separators, a table in its published layout, findings
//! in accountants' terms, a pager and the one chart (inline SVG drawn here, so no script and no image request).

use maud::{Markup, PreEscaped, html};
use rust_decimal::Decimal;

use crate::domain::{
    submission::SubmissionState,
    taxonomy::{TableDef, Taxonomy},
    validation::{CellRef, Finding, Severity},
};

/// A figure as accountants print it: thousands separators, its own decimals kept (never rounded for display).
pub fn figure(value: Decimal) -> String {
    crate::publication::with_thousands(&value.to_string())
}

/// A time kept in milliseconds, in Beijing time (the service's users are in one time zone): 2025-03-01 09:30.
pub fn when(ms: i64) -> String {
    let seconds = ms.div_euclid(1000) + 8 * 3600;
    let days = seconds.div_euclid(86_400);
    let in_day = seconds.rem_euclid(86_400);
    let (year, month, day) = crate::domain::audit::civil_date(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        in_day / 3600,
        in_day % 3600 / 60
    )
}

/// A review state as the review chain says it.
pub fn state_name(state: SubmissionState) -> &'static str {
    match state {
        SubmissionState::RejectedByRules => "未通过校验",
        SubmissionState::PendingReview => "待审",
        SubmissionState::Returned => "已退回",
        SubmissionState::Accepted => "已审核",
    }
}

pub fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "错误",
        Severity::Warning => "警告",
        Severity::Info => "提示",
    }
}

fn severity_class(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "sev-error",
        Severity::Warning => "sev-warning",
        Severity::Info => "sev-info",
    }
}

/// A table's short and full name: "公开05 一般公共预算财政拨款支出决算表".
pub fn table_title(table: &TableDef) -> String {
    match table.aliases.first() {
        Some(short) if short != &table.name => format!("{short} {}", table.name),
        _ => table.name.clone(),
    }
}

/// A cell in accountants' terms: (table, row, column) names; codes where the taxonomy has no name.
pub fn cell_names(
    taxonomy: &Taxonomy,
    table: &str,
    row: &str,
    column: &str,
) -> (String, String, String) {
    let place = match table {
        "EVAL" => Some("部门整体支出绩效自评"),
        "PROJ" => Some("项目支出绩效自评"),
        "NARRATIVE" => Some("决算情况说明"),
        _ => None,
    };
    if let Some(place) = place {
        let (row, column) = evaluation_words(row, column);
        return (place.to_owned(), row, column);
    }
    let Some(def) = taxonomy.table(table) else {
        return (table.to_owned(), row.to_owned(), column.to_owned());
    };
    let row_name = match taxonomy.row_name(def, row) {
        Some(name) if def.line(row).is_none() => format!("{row} {name}"),
        Some(name) => name.to_owned(),
        None => row.to_owned(),
    };
    let column_name = def
        .columns
        .iter()
        .find(|c| c.code == column)
        .map_or_else(|| column.to_owned(), |c| c.name.clone());
    (
        def.aliases
            .first()
            .cloned()
            .unwrap_or_else(|| def.name.clone()),
        row_name,
        column_name,
    )
}

/// A self-evaluation's row and column as its printed form names them (资金 rows by source, indicators by number).
fn evaluation_words(row: &str, column: &str) -> (String, String) {
    let row = match row.split_once('.') {
        Some(("funds", source)) => match source {
            "total" => "年度资金总额".to_owned(),
            "current_appropriation" => "其中：当年财政拨款".to_owned(),
            "prior_year_carryover" => "上年结转资金".to_owned(),
            "other" => "其他资金".to_owned(),
            "superior" => "上级资金".to_owned(),
            "same_level" => "本级资金".to_owned(),
            other => format!("资金 {other}"),
        },
        Some(("indicator", number)) => format!("第 {number} 项绩效指标"),
        _ => match row {
            "goal" => "年度总体目标".to_owned(),
            "goal_expected" => "预期目标".to_owned(),
            "goal_actual" => "目标实际完成情况".to_owned(),
            "indicators" => "绩效指标".to_owned(),
            "summary" => "总分".to_owned(),
            other => other.to_owned(),
        },
    };
    let column = match column {
        "initial_budget" => "年初预算数",
        "full_year_budget" => "全年预算数",
        "executed" => "全年执行数",
        "weight" => "分值",
        "execution_rate" => "执行率",
        "completion_rate" => "完成率",
        "score" => "得分",
        "target" => "年度指标值",
        "actual" => "实际完成值",
        "expected" => "预期目标",
        other => other,
    };
    (row, column.to_owned())
}

/// One row of a rendered table: its code, and its figures by column in the table's column order.
pub struct Row<'a> {
    pub code: &'a str,
    pub cells: Vec<Option<Decimal>>,
}

/// How a rendered table's cells link and which one is highlighted.
pub struct TableLinks<'a> {
    /// The cell to highlight (row, column codes).
    pub highlight: Option<(&'a str, &'a str)>,
    /// Each figure links here with `/{row}/{column}` appended (a consolidated cell's drill-down).
    pub cell_base: Option<String>,
}

/// A table in its published layout: title, 编制单位 and 金额单位, the column heads with their 栏次, the fixed lines
/// and then the classification codes with their names.
pub fn report_table(
    taxonomy: &Taxonomy,
    table: &TableDef,
    unit_name: &str,
    amount_unit: &str,
    rows: &[Row<'_>],
    links: &TableLinks<'_>,
) -> Markup {
    let coded = table.codes.is_some();
    html! {
        section.report {
            h2 { (table_title(table)) }
            p.meta {
                span { "编制单位：" (unit_name) }
                span { "金额单位：" (amount_unit) }
            }
            table.report {
                thead {
                    tr {
                        @if coded { th { "科目编码" } }
                        th { "项目" }
                        @for column in &table.columns { th { (column.name) } }
                    }
                    tr.lanci {
                        th colspan=(if coded { 2 } else { 1 }) { "栏次" }
                        @for (i, _) in table.columns.iter().enumerate() { th { (i + 1) } }
                    }
                }
                tbody {
                    @if rows.is_empty() {
                        tr { td colspan=(table.columns.len() + 2) { "（本表无数据）" } }
                    }
                    @for row in rows {
                        @let is_line = table.line(row.code).is_some();
                        @let name = taxonomy.row_name(table, row.code).unwrap_or("（未列入当年科目表）");
                        tr.line[is_line] {
                            @if coded {
                                td.code { @if !is_line { (row.code) } }
                            }
                            td.name { (name) }
                            @for (column, value) in table.columns.iter().zip(&row.cells) {
                                @let lit = links.highlight == Some((row.code, column.code.as_str()));
                                td.num.hl[lit] id=[lit.then_some("hl")] {
                                    @match (value, &links.cell_base) {
                                        (Some(v), Some(base)) => a href={ (base) "/" (row.code) "/" (column.code) } { (figure(*v)) },
                                        (Some(v), None) => (figure(*v)),
                                        (None, _) => "",
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Links for a finding's cells: where a table shows the cell.
pub type CellLink<'a> = &'a dyn Fn(&CellRef) -> Option<String>;

/// Findings in accountants' terms: severity, the cells by name (each linking to its table with the cell lit), the
/// figures on both sides, the rule's explanation, and the unit's written explanation.
pub fn findings(
    taxonomy: &Taxonomy,
    list: &[Finding],
    link: CellLink<'_>,
    explain: Option<&dyn Fn(&Finding) -> Markup>,
) -> Markup {
    let explained = explain.is_some() || list.iter().any(|f| f.explanation.is_some());
    html! {
        @if list.is_empty() {
            p.ok { "未发现问题。" }
        } @else {
            table.findings {
                thead {
                    tr {
                        th { "级别" } th { "位置（表 · 行 · 栏）" } th { "填报数" } th { "应为" } th { "差额" }
                        th { "说明" } @if explained { th { "解释" } }
                    }
                }
                tbody {
                    @for finding in list {
                        tr class=(severity_class(finding.severity)) {
                            td { (severity_name(finding.severity)) }
                            td.where {
                                @for cell in finding.cells.iter().take(6) {
                                    @let (t, r, c) = cell_names(taxonomy, &cell.table, &cell.row, &cell.column);
                                    @let words = match &cell.unit {
                                        Some(unit) => format!("{unit} {t} · {r} · {c}"),
                                        None => format!("{t} · {r} · {c}"),
                                    };
                                    div {
                                        @match link(cell) {
                                            Some(href) => a href=(href) { (words) },
                                            None => (words),
                                        }
                                    }
                                }
                                @if finding.cells.len() > 6 { div.hint { "等 " (finding.cells.len()) " 个单元格" } }
                                @if let Some((_, project)) = &finding.project { div { "项目：" (project) } }
                                @if let Some(indicator) = &finding.indicator { div { "指标：" (indicator) } }
                            }
                            td.num { @if let Some(v) = finding.provided { (figure(v)) } }
                            td.num { @if let Some(v) = finding.expected { (figure(v)) } }
                            td.num { @if let Some(v) = finding.difference { (figure(v)) } }
                            td { (finding.message) }
                            @if explained {
                                td {
                                    @match explain {
                                        Some(explain) => (explain(finding)),
                                        None => @if let Some(text) = &finding.explanation { p.explained { (text) } },
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Rows per page of the long lists (a region's units, a queue).
pub const PAGE_ROWS: usize = 100;

/// The page of `total` rows asked for (from 1), clamped, and the range of rows it shows.
pub fn page_range(total: usize, asked: Option<usize>) -> (usize, std::ops::Range<usize>) {
    let pages = total.div_ceil(PAGE_ROWS).max(1);
    let page = asked.unwrap_or(1).clamp(1, pages);
    let start = (page - 1) * PAGE_ROWS;
    (page, start..(start + PAGE_ROWS).min(total))
}

/// Links to the other pages of a list; `base` is the list's address with its query so far (ending in ? or &).
pub fn pager(total: usize, page: usize, base: &str) -> Markup {
    let pages = total.div_ceil(PAGE_ROWS).max(1);
    html! {
        @if pages > 1 {
            nav.pager {
                "第 " (page) " / " (pages) " 页（共 " (total) " 条） "
                @if page > 1 { a href={ (base) "page=" (page - 1) } { "上一页" } " " }
                @if page < pages { a href={ (base) "page=" (page + 1) } { "下一页" } }
            }
        }
    }
}

/// One group of the chart: a label and its bars (series name, value); a missing value draws no bar.
pub struct BarGroup {
    pub label: String,
    pub bars: Vec<(&'static str, Option<Decimal>)>,
}

const BAR_COLOURS: [&str; 3] = ["#9aa5b1", "#d9822b", "#8c1c13"];

/// A horizontal bar chart as inline SVG: one group per label, one bar per series, scaled to the largest value.
pub fn bar_chart(title: &str, series: &[&'static str], groups: &[BarGroup]) -> Markup {
    let largest = groups
        .iter()
        .flat_map(|g| g.bars.iter().filter_map(|(_, v)| *v))
        .map(|v| v.abs())
        .max()
        .unwrap_or(Decimal::ZERO);
    let (label_width, bar_width, bar_height) = (180i64, 420i64, 16i64);
    let group_height = bar_height * series.len() as i64 + 14;
    let height = group_height * groups.len() as i64 + 40;
    let width = label_width + bar_width + 150;
    let length = |value: Decimal| -> i64 {
        if largest.is_zero() {
            return 0;
        }
        let ratio = value.abs() / largest * Decimal::from(bar_width);
        ratio.round().try_into().unwrap_or(0)
    };
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{}\">",
        maud::html! { (title) }.into_string()
    );
    for (i, name) in series.iter().enumerate() {
        let x = label_width + i as i64 * 130;
        svg.push_str(&format!(
            "<rect x=\"{x}\" y=\"4\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"15\" \
             font-size=\"12\">{}</text>",
            BAR_COLOURS[i % BAR_COLOURS.len()],
            x + 16,
            maud::html! { (name) }.into_string()
        ));
    }
    for (g, group) in groups.iter().enumerate() {
        let top = 30 + g as i64 * group_height;
        svg.push_str(&format!(
            "<text x=\"0\" y=\"{}\" font-size=\"13\">{}</text>",
            top + bar_height - 4,
            maud::html! { (group.label) }.into_string()
        ));
        // Bars of the values present, one under the other: a missing value leaves no gap.
        let present = group
            .bars
            .iter()
            .filter_map(|(name, value)| value.map(|v| (name, v)));
        for (b, (name, value)) in present.enumerate() {
            let colour = series
                .iter()
                .position(|s| s == name)
                .map_or(BAR_COLOURS[0], |i| BAR_COLOURS[i % BAR_COLOURS.len()]);
            let y = top + b as i64 * bar_height;
            let w = length(value);
            svg.push_str(&format!(
                "<rect x=\"{label_width}\" y=\"{y}\" width=\"{w}\" height=\"{}\" fill=\"{colour}\"/>\
                 <text x=\"{}\" y=\"{}\" font-size=\"11\">{}</text>",
                bar_height - 3,
                label_width + w + 4,
                y + bar_height - 5,
                figure(value)
            ));
        }
    }
    svg.push_str("</svg>");
    PreEscaped(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_keep_their_decimals_and_group_thousands() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(figure(d("1234567.891")), "1,234,567.891");
        assert_eq!(figure(d("-1000")), "-1,000");
        assert_eq!(figure(d("999.50")), "999.50");
        assert_eq!(figure(d("0")), "0");
    }

    #[test]
    fn times_are_in_beijing_time() {
        // 2024-12-31 16:00 UTC is 2025-01-01 00:00 in Beijing.
        assert_eq!(when(1_735_660_800_000), "2025-01-01 00:00");
        assert_eq!(when(0), "1970-01-01 08:00");
    }

    #[test]
    fn pages_are_clamped_to_the_list() {
        assert_eq!(page_range(250, Some(3)), (3, 200..250));
        assert_eq!(page_range(250, Some(9)), (3, 200..250));
        assert_eq!(page_range(0, None), (1, 0..0));
    }

    #[test]
    fn the_chart_scales_bars_to_the_largest_value() {
        let chart = bar_chart(
            "主要收支",
            &["上年", "本年"],
            &[BarGroup {
                label: "本年收入合计".into(),
                bars: vec![
                    ("上年", Some(Decimal::from(50))),
                    ("本年", Some(Decimal::from(100))),
                ],
            }],
        )
        .into_string();
        assert!(chart.contains("width=\"420\""), "{chart}");
        assert!(chart.contains("width=\"210\""), "{chart}");
        assert!(
            !chart.contains("style="),
            "inline styles are refused by the CSP: {chart}"
        );
    }
}
