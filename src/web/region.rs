//! The finance bureau's and the supervising department's pages: a node's subtree with each unit's status and the
//! counts per department; the node's consolidated tables with the 调整表 and findings, every cell drilling down to
//! what makes it up; year over year and budget against final with one chart; and locking the year.

use axum::{
    Form, Router,
    extract::{Path, Query, State, rejection::QueryRejection},
    http::StatusCode,
    response::Response,
    routing::{get, post},
};
use maud::{Markup, html};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::{
    Console, SignedIn, WebError, page,
    pages::layout,
    query,
    render::{self, BarGroup, Row, TableLinks},
    see_other,
    unit::{consolidated_cell_link, url_part},
    unit_and_year,
};
use crate::{
    domain::{disclosure::AmountUnit, ids::FiscalYear, taxonomy::Taxonomy, validation::Finding},
    service::{
        consolidation::{CellAddress, ConsolidatedView, Progress, TableView, UnitProgress},
        error::ServiceError,
    },
};

pub fn routes() -> Router<Console> {
    Router::new()
        .route("/region/{node}/{year}", get(overview))
        .route(
            "/region/{node}/{year}/consolidated/{table}",
            get(consolidated),
        )
        .route(
            "/region/{node}/{year}/cell/{table}/{row}/{column}",
            get(cell),
        )
        .route("/region/{node}/{year}/lock", post(lock))
        .route("/region/{node}/{year}/unlock", post(unlock))
}

/// The status words of the review chain, and the filter each is asked for by.
const STATUSES: [(&str, &str); 6] = [
    ("missing", "未报"),
    ("rejected", "未通过校验"),
    ("pending", "待审"),
    ("returned", "已退回"),
    ("accepted", "已审核"),
    ("locked", "已锁定"),
];

/// A unit's status as the bureau says it; `None` for a node that reports nothing of its own.
fn status_of(unit: &UnitProgress) -> Option<usize> {
    if unit.locked && unit.progress != Progress::NotExpected {
        return Some(5);
    }
    match unit.progress {
        Progress::NotExpected => None,
        Progress::NeverSubmitted => Some(0),
        Progress::RejectedByRules => Some(1),
        Progress::PendingReview => Some(2),
        Progress::Returned => Some(3),
        Progress::Accepted => Some(4),
    }
}

#[derive(Deserialize, Default)]
struct OverviewQuery {
    page: Option<usize>,
    status: Option<String>,
}

/// Counts by status of one department's subtree.
struct DepartmentCounts<'a> {
    unit: &'a UnitProgress,
    counts: [u32; 6],
}

async fn overview(
    State(console): State<Console>,
    signed: SignedIn,
    Path((node, year)): Path<(String, String)>,
    asked: Result<Query<OverviewQuery>, QueryRejection>,
) -> Result<Response, WebError> {
    let (node, year) = unit_and_year(&node, &year)?;
    let asked = query(asked)?;
    let filter = match asked.status.as_deref() {
        None | Some("") => None,
        Some(code) => Some(
            STATUSES
                .iter()
                .position(|(c, _)| *c == code)
                .ok_or_else(|| WebError::field("status", "is not a status"))?,
        ),
    };
    let view = console
        .services
        .consolidations
        .completeness(&signed.session.principal, &node, year)
        .await?;
    let mut totals = [0u32; 6];
    let mut departments: Vec<DepartmentCounts<'_>> = Vec::new();
    for unit in &view.units {
        if unit.depth == 1 {
            departments.push(DepartmentCounts {
                unit,
                counts: [0; 6],
            });
        }
        if let Some(status) = status_of(unit) {
            totals[status] += 1;
            if unit.depth >= 1
                && let Some(department) = departments.last_mut()
            {
                department.counts[status] += 1;
            }
        }
    }
    let listed: Vec<&UnitProgress> = view
        .units
        .iter()
        .filter(|u| filter.is_none_or(|f| status_of(u) == Some(f)))
        .collect();
    let (page_number, range) = render::page_range(listed.len(), asked.page);
    let frame = signed.frame();
    let base = format!("/region/{node}/{year}");
    let lock_forms = matches!(
        &frame.principal.kind,
        crate::domain::access::PrincipalKind::Unit {
            role: crate::domain::access::Role::Reviewer,
            ..
        }
    );
    let root_locked = view.units.first().is_some_and(|u| u.locked);
    let markup = layout(
        "报送进度",
        Some(&frame),
        html! {
            h1 { (view.node.name) " · " (year) "年度报送进度" }
            p {
                "应报 " (view.expected) " 户，已计入汇总 " (view.counted) " 户"
                @if view.expected > 0 { "（" (percent(view.counted, view.expected)) "）" }
            }
            nav.statuses {
                a href=(base) { "全部 " (view.units.len()) }
                @for (i, (code, name)) in STATUSES.iter().enumerate() {
                    " · "
                    a href={ (base) "?status=" (code) } class={ "badge st-" (code) } { (name) " " (totals[i]) }
                }
            }
            p {
                a href={ (base) "/consolidated/T01" } { "查看汇总表" }
                " · "
                a href={ "/review/" (node) "/" (year) } { "审核队列" }
            }
            @if !departments.is_empty() {
                h2 { "下级单位" }
                table.list.departments {
                    thead { tr { th { "下级" } @for (_, name) in &STATUSES { th { (name) } } } }
                    tbody {
                        @for department in &departments {
                            tr {
                                td { a href={ "/region/" (department.unit.unit.code) "/" (year) } { (department.unit.unit.name) } }
                                @for count in department.counts { td.num { (count) } }
                            }
                        }
                    }
                }
            }
            h2 { "单位" @if let Some(f) = filter { "（" (STATUSES[f].1) "）" } }
            table.list.tree {
                thead { tr { th { "单位" } th { "编码" } th { "状态" } th { "版本" } th { "计入版本" } th { "最近变动" } } }
                tbody {
                    @for unit in &listed[range] {
                        tr {
                            td class={ "depth-" (unit.depth.min(6)) } {
                                @if unit.progress == Progress::NotExpected {
                                    a href={ "/region/" (unit.unit.code) "/" (year) } { (unit.unit.name) }
                                } @else {
                                    a href={ "/units/" (unit.unit.code) "/" (year) } { (unit.unit.name) }
                                }
                            }
                            td { (unit.unit.code) }
                            td {
                                @match status_of(unit) {
                                    Some(s) => span class={ "badge st-" (STATUSES[s].0) } { (STATUSES[s].1) },
                                    None => span.hint { "汇总节点" },
                                }
                            }
                            td { @if let Some(v) = unit.latest_version { "v" (v) } }
                            td { @if let Some(v) = unit.counted_version { "v" (v) } }
                            td { @if let Some(ms) = unit.last_change_ms { (render::when(ms)) } }
                        }
                    }
                }
            }
            (render::pager(listed.len(), page_number, &match &asked.status {
                Some(s) if filter.is_some() => format!("{base}?status={s}&"),
                _ => format!("{base}?"),
            }))
            p { a href={ (base) "/check-publication" } { "检查单位公开的部门决算文档" } }
            @if lock_forms {
                section.lock {
                    h2 { "封账" }
                    @if root_locked {
                        form method="post" action={ (base) "/unlock" } {
                            input type="hidden" name="csrf" value=(frame.csrf);
                            label for="comment" { "解锁原因（必填）" }
                            input #comment type="text" name="comment" maxlength="500" required;
                            button type="submit" { "解锁本年度" }
                        }
                    } @else {
                        form method="post" action={ (base) "/lock" } {
                            input type="hidden" name="csrf" value=(frame.csrf);
                            label for="comment" { "说明" }
                            input #comment type="text" name="comment" maxlength="500";
                            button type="submit" { "锁定本年度" }
                        }
                    }
                }
            }
        },
    );
    Ok(page(StatusCode::OK, markup))
}

fn percent(part: u32, whole: u32) -> String {
    format!("{:.1}%", f64::from(part) * 100.0 / f64::from(whole.max(1)))
}

/// A consolidated figure, when the view has it.
fn figure_in(view: &ConsolidatedView, table: &str, row: &str, column: &str) -> Option<Decimal> {
    view.tables
        .iter()
        .find(|t| t.code == table)?
        .rows
        .iter()
        .find(|(code, _)| code == row)?
        .1
        .iter()
        .find(|(code, _)| code == column)
        .map(|(_, value)| *value)
}

/// The consolidated rows of a table, in its columns' order.
fn rows_of<'a>(taxonomy: &Taxonomy, view: &'a TableView) -> Vec<Row<'a>> {
    let Some(def) = taxonomy.table(&view.code) else {
        return Vec::new();
    };
    let mut rows: Vec<Row<'a>> = view
        .rows
        .iter()
        .map(|(code, cells)| Row {
            code,
            cells: def
                .columns
                .iter()
                .map(|c| cells.iter().find(|(k, _)| *k == c.code).map(|(_, v)| *v))
                .collect(),
        })
        .collect();
    // The view lists every 类, then every 款, then every 项; the published table nests them (201, 20101, 2010101,
    // …), which is the codes' own order. The fixed lines keep theirs, before the codes.
    rows.sort_by_key(|row| def.line(row.code).is_none().then_some(row.code));
    rows
}

/// The main totals compared with last year: (label, table, row, column).
const MAIN_TOTALS: [(&str, &str, &str, &str); 4] = [
    ("本年收入合计", "T01", "income_total", "amount"),
    ("本年支出合计", "T01", "expenditure_total", "amount"),
    ("一般公共预算财政拨款收入", "T01", "income_gpb", "amount"),
    ("“三公”经费", "T09", "total", "final"),
];

/// The 三公 lines whose budget is compared with their final figure.
const THREE_PUBLIC: [(&str, &str); 4] = [
    ("total", "合计"),
    ("abroad", "因公出国（境）费"),
    ("vehicles", "公务用车购置及运行维护费"),
    ("reception", "公务接待费"),
];

fn comparison(view: &ConsolidatedView, last_year: Option<&ConsolidatedView>) -> Markup {
    let totals: Vec<BarGroup> = MAIN_TOTALS
        .iter()
        .map(|(label, table, row, column)| BarGroup {
            label: (*label).to_owned(),
            bars: vec![
                (
                    "上年决算",
                    last_year.and_then(|l| figure_in(l, table, row, column)),
                ),
                ("本年决算", figure_in(view, table, row, column)),
            ],
        })
        .collect();
    let three: Vec<BarGroup> = THREE_PUBLIC
        .iter()
        .map(|(row, label)| BarGroup {
            label: (*label).to_owned(),
            bars: vec![
                ("全年预算数", figure_in(view, "T09", row, "budget")),
                ("决算数", figure_in(view, "T09", row, "final")),
            ],
        })
        .collect();
    html! {
        section.comparison {
            h2 { "年度对比（万元）" }
            (render::bar_chart("主要收支：上年与本年", &["上年决算", "本年决算"], &totals))
            table.list {
                thead { tr { th { "项目" } th { "上年决算" } th { "本年决算" } th { "增减" } th { "增减率" } } }
                tbody {
                    @for group in &totals {
                        @let (last, this) = (group.bars[0].1, group.bars[1].1);
                        tr {
                            td { (group.label) }
                            td.num { @if let Some(v) = last { (render::figure(v)) } @else { "—" } }
                            td.num { @if let Some(v) = this { (render::figure(v)) } }
                            td.num { @if let (Some(l), Some(t)) = (last, this) { (render::figure(t - l)) } }
                            td.num { (rate(last, this)) }
                        }
                    }
                }
            }
            @if last_year.is_none() { p.hint { "上年没有可比的汇总数（上年未登记或无当年科目表）。" } }
            h2 { "“三公”经费预决算对比（万元）" }
            (render::bar_chart("“三公”经费：预算与决算", &["全年预算数", "决算数"], &three))
            table.list {
                thead { tr { th { "项目" } th { "全年预算数" } th { "决算数" } th { "差异" } th { "差异率" } } }
                tbody {
                    @for group in &three {
                        @let (budget, final_) = (group.bars[0].1, group.bars[1].1);
                        tr {
                            td { (group.label) }
                            td.num { @if let Some(v) = budget { (render::figure(v)) } }
                            td.num { @if let Some(v) = final_ { (render::figure(v)) } }
                            td.num { @if let (Some(b), Some(f)) = (budget, final_) { (render::figure(f - b)) } }
                            td.num { (rate(budget, final_)) }
                        }
                    }
                }
            }
        }
    }
}

/// The rate of change from `base` to `value`; a zero base has no rate (it is said, not computed).
fn rate(base: Option<Decimal>, value: Option<Decimal>) -> String {
    match (base, value) {
        (Some(base), Some(value)) if !base.is_zero() => {
            let rate = ((value - base) / base * Decimal::from(100)).round_dp(2);
            format!("{rate}%")
        }
        (Some(_), Some(_)) => "上年为零".to_owned(),
        _ => String::new(),
    }
}

async fn consolidated(
    State(console): State<Console>,
    signed: SignedIn,
    Path((node, year, table)): Path<(String, String, String)>,
) -> Result<Response, WebError> {
    let (node, year) = unit_and_year(&node, &year)?;
    let services = &console.services;
    let taxonomy = services
        .taxonomies
        .get(year)
        .cloned()
        .ok_or_else(|| WebError::field("year", "has no taxonomy in this service"))?;
    let def = taxonomy
        .table(&table)
        .filter(|t| t.section.is_none())
        .ok_or_else(|| WebError::field("table", "is not a table of the year"))?;
    let actor = &signed.session.principal;
    let mut wanted = vec![def.code.clone()];
    for extra in ["T01", "T09"] {
        if !wanted.iter().any(|w| w == extra) && taxonomy.table(extra).is_some() {
            wanted.push(extra.to_owned());
        }
    }
    let view = services
        .consolidations
        .consolidated(actor, &node, year, &wanted, AmountUnit::TenThousandYuan)
        .await?;
    // Last year's figures for the comparison, when that year is kept and the node was registered in it.
    let last_year = match year
        .get()
        .checked_sub(1)
        .and_then(|y| FiscalYear::new(y).ok())
    {
        Some(last) if services.taxonomies.get(last).is_some() => services
            .consolidations
            .consolidated(
                actor,
                &node,
                last,
                &["T01".to_owned(), "T09".to_owned()],
                AmountUnit::TenThousandYuan,
            )
            .await
            .ok(),
        _ => None,
    };
    let shown = view.tables.iter().find(|t| t.code == def.code);
    let rows = shown.map(|t| rows_of(&taxonomy, t)).unwrap_or_default();
    let adjustments = view.adjustments.iter().find(|t| t.code == def.code);
    let adjustment_rows = adjustments
        .map(|t| rows_of(&taxonomy, t))
        .unwrap_or_default();
    let base = format!("/region/{node}/{year}");
    let frame = signed.frame();
    let node_name = format!("{}（汇总）", view.node.name);
    let findings: Vec<Finding> = view
        .findings
        .iter()
        .chain(&view.table_findings)
        .cloned()
        .collect();
    let link = consolidated_cell_link(&node, year);
    let markup = layout(
        "汇总表",
        Some(&frame),
        html! {
            p.crumbs { a href=(base) { (view.node.name) " · " (year) "年度报送进度" } }
            h1 { (view.node.name) " · " (year) "年度汇总表" }
            p {
                "计入 " (view.units_counted) " / " (view.units_expected) " 户"
                @if view.units_expected > 0 { "（" (percent(view.units_counted, view.units_expected)) "）" }
                @if view.partial { " " span.badge.st-pending { "不完整" } " 有单位尚未计入，汇总数只含已审核的单位。" }
            }
            nav.tables {
                @for t in taxonomy.tables.iter().filter(|t| t.section.is_none()) {
                    @let label = t.aliases.first().unwrap_or(&t.name);
                    @if t.code == def.code { strong { (label) } } @else { a href={ (base) "/consolidated/" (t.code) } { (label) } }
                    " "
                }
            }
            (render::report_table(&taxonomy, def, &node_name, view.amount_unit.name(), &rows,
                &TableLinks { highlight: None, cell_base: Some(format!("{base}/cell/{}", url_part(&def.code))) }))
            p.hint { "点击任一汇总数，查看它由哪些单位的数和哪些抵销组成。" }
            @if !adjustment_rows.is_empty() {
                (render::report_table(&taxonomy, def, &format!("{}（调整表：本级抵销）", view.node.name), view.amount_unit.name(), &adjustment_rows,
                    &TableLinks { highlight: None, cell_base: None }))
            }
            @if !view.unmatched.is_empty() {
                h2 { "未抵销差额" }
                table.list {
                    thead { tr { th { "内部往来" } th { "付款单位" } th { "付款方填报" } th { "收款方填报" } th { "已抵销" } th { "原因" } } }
                    tbody {
                        @for line in view.unmatched.iter().take(200) {
                            tr {
                                td { (line.pair_name) }
                                td { (line.payer.name) }
                                td.num { (render::figure(line.payer_amount)) }
                                td.num { (render::figure(line.counted_amount)) }
                                td.num { (render::figure(line.matched)) }
                                td { (line.reason.describe()) }
                            }
                        }
                    }
                }
            }
            h2 { "汇总审核发现" }
            (render::findings(&taxonomy, &findings, &link, None))
            (comparison(&view, last_year.as_ref()))
        },
    );
    Ok(page(StatusCode::OK, markup))
}

#[derive(Deserialize, Default)]
struct PageQuery {
    page: Option<usize>,
}

async fn cell(
    State(console): State<Console>,
    signed: SignedIn,
    Path((node, year, table, row, column)): Path<(String, String, String, String, String)>,
    asked: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Response, WebError> {
    let (node, year) = unit_and_year(&node, &year)?;
    let asked = query(asked)?;
    for (field, text) in [("table", &table), ("row", &row), ("column", &column)] {
        if text.len() > 64 {
            return Err(WebError::field(field, "is longer than 64 characters"));
        }
    }
    let explanation = console
        .services
        .consolidations
        .explain(
            &signed.session.principal,
            &node,
            year,
            &CellAddress {
                table: &table,
                row: &row,
                column: &column,
            },
            AmountUnit::TenThousandYuan,
        )
        .await?;
    let taxonomy =
        console
            .services
            .taxonomies
            .get(year)
            .cloned()
            .ok_or(ServiceError::NotFound {
                what: "taxonomy",
                key: year.to_string(),
            })?;
    let (t, r, c) = render::cell_names(&taxonomy, &table, &row, &column);
    let (page_number, range) = render::page_range(explanation.children.len(), asked.page);
    let children_sum: Decimal = explanation.children.iter().map(|c| c.value).sum();
    let eliminated: Decimal = explanation.eliminations.iter().map(|e| e.amount).sum();
    let base = format!("/region/{node}/{year}");
    let tail = format!(
        "{}/{}/{}",
        url_part(&table),
        url_part(&row),
        url_part(&column)
    );
    let frame = signed.frame();
    let markup = layout(
        "汇总数构成",
        Some(&frame),
        html! {
            p.crumbs {
                a href={ (base) "/consolidated/" (url_part(&table)) } { (explanation.node.name) " · " (t) }
            }
            h1 { (t) " · " (r) " · " (c) }
            p.total { (explanation.node.name) " 汇总数 " strong { (render::figure(explanation.value)) } " 万元" }
            table.list.breakdown {
                tbody {
                    tr { td { "本级自身" @if let Some(v) = explanation.own_version { "（v" (v) "）" } } td.num { (render::figure(explanation.own)) } }
                    tr { td { "下级合计（" (explanation.children.len()) " 个）" } td.num { (render::figure(children_sum)) } }
                    tr { td { "本级抵销" } td.num { (render::figure(eliminated)) } }
                    tr.sum { td { "汇总数" } td.num { (render::figure(explanation.value)) } }
                }
            }
            h2 { "下级" }
            table.list.children {
                thead { tr { th { "单位" } th { "编码" } th { "数" } th { "计入版本" } } }
                tbody {
                    @for child in &explanation.children[range] {
                        tr {
                            td {
                                @if child.has_children {
                                    a href={ "/region/" (child.unit.code) "/" (year) "/cell/" (tail) } { (child.unit.name) }
                                } @else {
                                    a href={ "/units/" (child.unit.code) "/" (year) "/tables/" (url_part(&table))
                                        "?row=" (url_part(&row)) "&col=" (url_part(&column))
                                        @if let Some(v) = child.counted_version { "&version=" (v) } "#hl" } { (child.unit.name) }
                                }
                            }
                            td { (child.unit.code) }
                            td.num { (render::figure(child.value)) }
                            td {
                                @match (child.has_children, child.counted_version) {
                                    (true, _) => span.hint { "下级汇总" },
                                    (false, Some(v)) => { "v" (v) },
                                    (false, None) => span.hint { "未计入" },
                                }
                            }
                        }
                    }
                }
            }
            (render::pager(explanation.children.len(), page_number, &format!("{base}/cell/{tail}?")))
            @if !explanation.eliminations.is_empty() {
                h2 { "抵销" }
                table.list {
                    thead { tr { th { "内部往来" } th { "单位" } th { "方向" } th { "金额" } } }
                    tbody {
                        @for entry in explanation.eliminations.iter().take(500) {
                            tr {
                                td { (entry.pair_name) }
                                td { (entry.unit) }
                                td { (match entry.side { "parent" => "付款方", "child" => "收款方", _ => "未抵销差额" }) }
                                td.num { (render::figure(entry.amount)) }
                            }
                        }
                    }
                }
            }
        },
    );
    Ok(page(StatusCode::OK, markup))
}

#[derive(Deserialize)]
struct LockForm {
    csrf: String,
    #[serde(default)]
    comment: String,
}

async fn lock(
    State(console): State<Console>,
    signed: SignedIn,
    Path((node, year)): Path<(String, String)>,
    Form(form): Form<LockForm>,
) -> Result<Response, WebError> {
    let (node, year) = unit_and_year(&node, &year)?;
    signed.check_csrf(&form.csrf)?;
    console
        .services
        .reviews
        .lock(&signed.session.principal, &node, year, &form.comment)
        .await?;
    Ok(see_other(&format!("/region/{node}/{year}")))
}

async fn unlock(
    State(console): State<Console>,
    signed: SignedIn,
    Path((node, year)): Path<(String, String)>,
    Form(form): Form<LockForm>,
) -> Result<Response, WebError> {
    let (node, year) = unit_and_year(&node, &year)?;
    signed.check_csrf(&form.csrf)?;
    console
        .services
        .reviews
        .unlock(&signed.session.principal, &node, year, &form.comment)
        .await?;
    Ok(see_other(&format!("/region/{node}/{year}")))
}
