//! The unit's pages: its status in the review chain, the latest version's findings with the cells they name, the
//! nine tables in their published layout, upload (a workbook through the same import as the CLI, or a disclosure
//! JSON) that submits, explanations of warnings, the export workbook and the drafted narrative; and the reviewer's
//! side-by-side comparison of two versions with the accept and return forms. Each handler converts the request,
//! calls the use cases (which ask the policy), and renders.

use std::{collections::BTreeMap, sync::Arc};

use axum::{
    Form, Router,
    extract::{DefaultBodyLimit, Multipart, Path, Query, State, rejection::QueryRejection},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use maud::{Markup, html};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::{
    Console, SignedIn, Upload, WebError, page,
    pages::{Frame, layout},
    query,
    render::{self, Row, TableLinks},
    see_other, unit_and_year,
};
use crate::{
    api::convert,
    domain::{
        access::{Ask, PrincipalKind, Role, decide},
        disclosure::ReportType,
        facts::Facts,
        ids::{FiscalYear, IdempotencyKey, UnitCode},
        review::Decision,
        submission::{StoredSubmission, SubmissionState, content_digest},
        taxonomy::{TableDef, Taxonomy},
        validation::{CellRef, Finding, Severity},
    },
    pb,
    service::{error::ServiceError, submission::SubmitCall},
    workbook::{self, ImportOptions, MAX_WORKBOOK_BYTES},
};

/// An upload: a workbook (which the importer bounds at its own limit) with the form's few fields around it.
const MAX_UPLOAD_BYTES: usize = MAX_WORKBOOK_BYTES as usize + 64 * 1024;

pub fn routes() -> Router<Console> {
    Router::new()
        .route("/units/{code}/{year}", get(overview))
        .route("/units/{code}/{year}/tables/{table}", get(table))
        .route(
            "/units/{code}/{year}/upload",
            post(upload).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
        .route(
            "/units/{code}/{year}/explain",
            post(explain).layer(DefaultBodyLimit::max(MAX_EXPLAIN_FORM_BYTES)),
        )
        .route("/units/{code}/{year}/export.xlsx", get(export))
        .route("/units/{code}/{year}/narrative.md", get(narrative))
        .route("/units/{code}/{year}/compare", get(compare))
        .route("/units/{code}/{year}/decide", post(decide_version))
}

/// The taxonomy of a year the service keeps.
fn taxonomy_of(console: &Console, year: FiscalYear) -> Result<Arc<Taxonomy>, WebError> {
    console
        .services
        .taxonomies
        .get(year)
        .cloned()
        .ok_or_else(|| WebError::field("year", "has no taxonomy in this service"))
}

/// Whether the principal is this unit's own submitter: only then are upload and explanation offered.
fn is_own_submitter(frame: &Frame<'_>, code: &UnitCode) -> bool {
    matches!(&frame.principal.kind, PrincipalKind::Unit { code: own, role: Role::Submitter } if own == code)
}

fn is_reviewer(frame: &Frame<'_>) -> bool {
    matches!(
        &frame.principal.kind,
        PrincipalKind::Unit {
            role: Role::Reviewer,
            ..
        }
    )
}

#[derive(Deserialize, Default)]
struct VersionQuery {
    version: Option<u32>,
    row: Option<String>,
    col: Option<String>,
}

/// Where a finding's cell is shown: its table with the cell lit, for the nine tables; nothing for the others.
fn cell_link(
    code: &UnitCode,
    year: FiscalYear,
    version: u32,
) -> impl Fn(&CellRef) -> Option<String> {
    let base = format!("/units/{code}/{year}/tables");
    move |cell: &CellRef| {
        (!matches!(cell.table.as_str(), "EVAL" | "PROJ" | "NARRATIVE")).then(|| {
            format!(
                "{base}/{}?version={version}&row={}&col={}#hl",
                url_part(&cell.table),
                url_part(&cell.row),
                url_part(&cell.column)
            )
        })
    }
}

/// Where a consolidated finding's cell is shown: the unit's own table when the cell is a unit's, else the node's
/// drill-down.
pub(super) fn consolidated_cell_link(
    node: &UnitCode,
    year: FiscalYear,
) -> impl Fn(&CellRef) -> Option<String> {
    let node = node.clone();
    move |cell: &CellRef| {
        if matches!(cell.table.as_str(), "EVAL" | "PROJ" | "NARRATIVE") {
            return None;
        }
        let (table, row, column) = (
            url_part(&cell.table),
            url_part(&cell.row),
            url_part(&cell.column),
        );
        Some(match &cell.unit {
            Some(unit) => format!(
                "/units/{}/{year}/tables/{table}?row={row}&col={column}#hl",
                url_part(unit)
            ),
            None => format!("/region/{node}/{year}/cell/{table}/{row}/{column}"),
        })
    }
}

/// A code as part of a URL: codes are ASCII letters, digits and `_-.`; anything else is percent-encoded.
pub(super) fn url_part(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

async fn overview(
    State(console): State<Console>,
    signed: SignedIn,
    Path((code, year)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let (code, year) = unit_and_year(&code, &year)?;
    let actor = &signed.session.principal;
    let services = &console.services;
    // Listing the versions asks the policy (Read) before anything of the unit is read.
    let versions = services.submissions.list(actor, &code, year).await?;
    let lineage = services.registry.lineage(&code, year).await?;
    let unit = lineage
        .chain
        .first()
        .cloned()
        .ok_or(ServiceError::NotFound {
            what: "unit",
            key: format!("{code} ({year})"),
        })?;
    let status = services
        .reviews
        .status(&code, year, ReportType::Single, &lineage)
        .await?;
    let taxonomy = taxonomy_of(&console, year)?;
    let latest = match status.current {
        Some(_) => Some(
            services
                .submissions
                .get(actor, &code, year, None, ReportType::Single)
                .await?,
        ),
        None => None,
    };
    let frame = signed.frame();
    let own = is_own_submitter(&frame, &code) && status.lock.is_none();
    let base = format!("/units/{code}/{year}");
    let markup = layout(
        &unit.name,
        Some(&frame),
        html! {
            h1 { (unit.name) " · " (year) "年度决算" }
            p.meta { "单位编码 " (code) }
            section.status {
                h2 { "审核状态" }
                @match status.current {
                    None => p { span.badge.st-missing { "未报" } " 本年度尚未报送。" },
                    Some((version, state)) => p {
                        span class={ "badge st-" (state.code()) } { (render::state_name(state)) }
                        " 当前版本 v" (version)
                        @if let Some(accepted) = status.accepted { "；计入汇总的审核通过版本 v" (accepted) }
                    },
                }
                @if let Some(lock) = &status.lock {
                    p { span.badge.st-locked { "已锁定" } " 本年度已由 " (lock.locked_by_node) " 封账（" (render::when(lock.locked_at_ms)) "），不能再报送或解释。" }
                }
                @if let Some(reason) = latest.as_ref().and_then(|l| l.review_reason.as_deref()) {
                    p.returned { "退回原因：" (reason) }
                }
            }
            @if let Some(latest) = &latest {
                section {
                    h2 { "v" (latest.version) " 的审核发现" }
                    p {
                        "错误 " (latest.report.count(Severity::Error))
                        "，警告 " (latest.report.count(Severity::Warning))
                        "（未解释 " (latest.report.unexplained_warnings()) "）"
                        "，提示 " (latest.report.count(Severity::Info))
                    }
                    @let link = cell_link(&code, year, latest.version);
                    @if own && latest.report.findings.iter().any(|f| f.severity != Severity::Error) {
                        // One form for every explanation: a unit explains its warnings at one sitting.
                        form.explain method="post" action={ (base) "/explain" } {
                            input type="hidden" name="csrf" value=(frame.csrf);
                            input type="hidden" name="version" value=(latest.version);
                            (render::findings(&taxonomy, &latest.report.findings, &link, Some(&explanation_field)))
                            button type="submit" { "保存解释" }
                        }
                    } @else {
                        (render::findings(&taxonomy, &latest.report.findings, &link, None))
                    }
                }
                section {
                    h2 { "报表" }
                    (table_nav(&taxonomy, &base, latest.version, None))
                    p {
                        a href={ (base) "/export.xlsx?version=" (latest.version) } { "下载报表工作簿（含审核发现）" }
                        " · "
                        a href={ (base) "/narrative.md?version=" (latest.version) } { "下载决算情况说明草稿" }
                        " · "
                        a href={ (base) "/publication.docx" } { "部门决算公开（Word，按已审核版本）" }
                        " · "
                        a href={ (base) "/publication.html" } { "（HTML）" }
                    }
                }
            }
            @if own {
                section {
                    h2 { "报送" }
                    form method="post" action={ (base) "/upload" } enctype="multipart/form-data" {
                        input type="hidden" name="csrf" value=(frame.csrf);
                        label for="file" { "决算工作簿（.xlsx / .xls / .ods）或决算 JSON" }
                        input #file type="file" name="file" required accept=".xlsx,.xls,.ods,.json";
                        button type="submit" { "上传并报送" }
                    }
                    p.hint { "工作簿按报表标题和表头识别；无封面的工作簿按本单位和本年度读入。" }
                }
            }
            @if !versions.is_empty() {
                section {
                    h2 { "版本" }
                    table.list {
                        thead { tr { th { "版本" } th { "类型" } th { "状态" } th { "报送时间" } th { "报送人" } th { "错误/警告" } th {} } }
                        tbody {
                            @for v in versions.iter().rev() {
                                tr {
                                    td { "v" (v.version) @if v.current { "（当前）" } }
                                    td { (v.report_type.name()) }
                                    td { (render::state_name(v.state)) }
                                    td { (render::when(v.submitted_at_ms)) }
                                    td { (v.submitted_by) }
                                    td { (v.report.count(Severity::Error)) " / " (v.report.count(Severity::Warning)) }
                                    td {
                                        @if v.report_type == ReportType::Single {
                                            a href={ (base) "/compare?to=" (v.version) } { "对比" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    );
    Ok(page(StatusCode::OK, markup))
}

/// The field that writes (or rewrites) the explanation of a warning or a notice; errors cannot be explained.
fn explanation_field(finding: &Finding) -> Markup {
    html! {
        @if finding.severity != Severity::Error {
            textarea name={ (EXPLANATION_FIELD) (finding.key) } rows="2" maxlength="2000" aria-label="解释" {
                (finding.explanation.as_deref().unwrap_or(""))
            }
        }
    }
}

/// The explanation form's fields are this prefix and the finding's key.
const EXPLANATION_FIELD: &str = "explain.";
/// Largest explanation form: a version's warnings at a few hundred characters each.
const MAX_EXPLAIN_FORM_BYTES: usize = 512 * 1024;

/// Links to the tables of a version, the one shown marked.
fn table_nav(taxonomy: &Taxonomy, base: &str, version: u32, shown: Option<&str>) -> Markup {
    html! {
        nav.tables {
            @for table in taxonomy.tables.iter().filter(|t| t.section.is_none()) {
                @let label = table.aliases.first().unwrap_or(&table.name);
                @if shown == Some(table.code.as_str()) {
                    strong { (label) }
                } @else {
                    a href={ (base) "/tables/" (table.code) "?version=" (version) } { (label) }
                }
                " "
            }
        }
    }
}

/// A table's rows from a version's figures: the fixed lines in layout order, then the codes (类 → 款 → 项).
pub(super) fn rows_of<'a>(facts: &'a Facts, table: &'a TableDef) -> Vec<Row<'a>> {
    let Some(data) = facts.tables.get(&table.code) else {
        return Vec::new();
    };
    let cells = |values: &BTreeMap<String, crate::domain::money::Value>| -> Vec<Option<Decimal>> {
        table
            .columns
            .iter()
            .map(|c| values.get(&c.code).map(|v| v.decimal()))
            .collect()
    };
    let mut rows: Vec<Row<'a>> = table
        .lines
        .iter()
        .filter_map(|line| {
            data.rows
                .get_key_value(&line.code)
                .map(|(code, values)| Row {
                    code,
                    cells: cells(values),
                })
        })
        .collect();
    rows.extend(
        data.rows
            .iter()
            .filter(|(code, _)| table.line(code).is_none())
            .map(|(code, values)| Row {
                code,
                cells: cells(values),
            }),
    );
    rows
}

async fn table(
    State(console): State<Console>,
    signed: SignedIn,
    Path((code, year, table)): Path<(String, String, String)>,
    asked: Result<Query<VersionQuery>, QueryRejection>,
) -> Result<Response, WebError> {
    let (code, year) = unit_and_year(&code, &year)?;
    let asked = query(asked)?;
    let taxonomy = taxonomy_of(&console, year)?;
    let def = taxonomy
        .table(&table)
        .filter(|t| t.section.is_none())
        .ok_or_else(|| WebError::field("table", "is not a table of the year"))?;
    let stored = console
        .services
        .submissions
        .get(
            &signed.session.principal,
            &code,
            year,
            asked.version,
            ReportType::Single,
        )
        .await?;
    let facts = stored.facts.clone().unwrap_or_default();
    let name = unit_name(&console, &code, year).await?;
    let rows = rows_of(&facts, def);
    let base = format!("/units/{code}/{year}");
    let highlight = asked.row.as_deref().zip(asked.col.as_deref());
    let frame = signed.frame();
    let markup = layout(
        &render::table_title(def),
        Some(&frame),
        html! {
            p.crumbs { a href=(base) { (name) " · " (year) "年度" } " › v" (stored.version) }
            (table_nav(&taxonomy, &base, stored.version, Some(&def.code)))
            (render::report_table(&taxonomy, def, &name, facts.amount_unit.name(), &rows, &TableLinks { highlight, cell_base: None }))
        },
    );
    Ok(page(StatusCode::OK, markup))
}

async fn unit_name(
    console: &Console,
    code: &UnitCode,
    year: FiscalYear,
) -> Result<String, WebError> {
    let lineage = console.services.registry.lineage(code, year).await?;
    Ok(lineage
        .chain
        .first()
        .map_or_else(|| code.to_string(), |u| u.name.clone()))
}

async fn upload(
    State(console): State<Console>,
    signed: SignedIn,
    Path((code, year)): Path<(String, String)>,
    multipart: Multipart,
) -> Result<Response, WebError> {
    let (code, year) = unit_and_year(&code, &year)?;
    let upload = Upload::read(multipart).await?;
    signed.check_csrf(&upload.csrf)?;
    let actor = &signed.session.principal;
    // The policy first: nothing of an upload is read for someone who may not submit it.
    let lineage = console.services.registry.lineage(&code, year).await?;
    decide(actor, &Ask::Submit(&lineage)).map_err(ServiceError::from)?;
    let (name, bytes) = upload
        .file
        .filter(|(_, bytes)| !bytes.is_empty())
        .ok_or_else(|| WebError::field("file", "choose a workbook or a disclosure JSON file"))?;
    let frame = signed.frame();
    let base = format!("/units/{code}/{year}");
    // Reading a workbook or a large JSON file takes CPU for as long as the file is big: off the async workers.
    let taxonomies = console.services.taxonomies.clone();
    let options = ImportOptions {
        unit_code: Some(code.to_string()),
        fiscal_year: Some(year.get()),
        amount_unit: None,
        ..Default::default()
    };
    let json = name.ends_with(".json");
    let read = tokio::task::spawn_blocking(move || {
        if json {
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| "a disclosure JSON file must be UTF-8".to_owned())?;
            crate::cli::json::from_json("Disclosure", text)
                .map(|disclosure| Ok((disclosure, Vec::new())))
                .map_err(|e| format!("is not a disclosure: {e}"))
        } else {
            Ok(workbook::read_with(&taxonomies, &bytes, &options)
                .map(|imported| (imported.disclosure, imported.notices)))
        }
    })
    .await
    .map_err(|e| ServiceError::Internal(format!("the upload's reader failed: {e}")))?
    .map_err(|message| WebError::field("file", message))?;
    let (disclosure, notices): (pb::Disclosure, Vec<(String, String)>) = match read {
        Ok(read) => read,
        Err(problems) => {
            let markup = layout(
                "工作簿未能读入",
                Some(&frame),
                html! {
                    h1 { "工作簿未能读入" }
                    p { "以下单元格未能读入，未报送任何数据。请修改后重新上传。" }
                    table.findings {
                        thead { tr { th { "位置" } th { "原因" } } }
                        tbody {
                            @for problem in problems.iter().take(200) {
                                tr.sev-error { td { (problem.at) } td { (problem.reason) } }
                            }
                        }
                    }
                    @if problems.len() > 200 { p.hint { "另有 " (problems.len() - 200) " 处问题未列出。" } }
                    p { a href=(base) { "返回" } }
                },
            );
            return Ok(page(StatusCode::UNPROCESSABLE_ENTITY, markup));
        }
    };
    let cover = disclosure.cover.as_ref();
    if cover.map(|c| c.unit_code.as_str()) != Some(code.as_str()) {
        return Err(WebError::field("file", "is the disclosure of another unit"));
    }
    if cover.map(|c| c.fiscal_year) != Some(year.get()) {
        return Err(WebError::field("file", "is the disclosure of another year"));
    }
    let content = prost::Message::encode_to_vec(&disclosure);
    // The same bytes uploaded twice are one version: the key is their digest.
    let key = IdempotencyKey::parse(&format!("web-{}", &content_digest(&content)[..40]))
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    let draft = convert::disclosure_draft(disclosure).map_err(ServiceError::InvalidArgument)?;
    let (stored, replayed) = console
        .services
        .submissions
        .submit(
            actor,
            SubmitCall {
                key,
                draft,
                content,
                explanations: BTreeMap::new(),
                expected_current: None,
                signature: None,
            },
        )
        .await?;
    tracing::info!(unit = %code, year = %year, version = stored.version, replayed, actor = %actor, "console submission");
    let markup = layout(
        "已报送",
        Some(&frame),
        html! {
            h1 { "已报送 v" (stored.version) @if replayed { "（与已报送的版本相同）" } }
            p {
                span class={ "badge st-" (stored.state.code()) } { (render::state_name(stored.state)) }
                " 错误 " (stored.report.count(Severity::Error)) "，警告 " (stored.report.count(Severity::Warning))
            }
            @if stored.state == SubmissionState::RejectedByRules {
                p.error { "有错误：本版本不会进入审核。请查看审核发现，修改后重新上传。" }
            }
            @for (cell, what) in &notices {
                p.hint { "提示：" (cell) " " (what) }
            }
            p { a href=(base) { "查看审核发现" } }
        },
    );
    Ok(page(StatusCode::OK, markup))
}

async fn explain(
    State(console): State<Console>,
    signed: SignedIn,
    Path((code, year)): Path<(String, String)>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let (code, year) = unit_and_year(&code, &year)?;
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    signed.check_csrf(field("csrf").unwrap_or_default())?;
    let version = field("version")
        .and_then(|v| v.parse::<u32>().ok())
        .ok_or_else(|| WebError::field("version", "is a version number"))?;
    // The fields left blank are findings not explained now; the service asks the policy, then checks that there
    // is at least one and each key and text.
    let explanations: BTreeMap<String, String> = fields
        .iter()
        .filter_map(|(name, text)| {
            let key = name.strip_prefix(EXPLANATION_FIELD)?;
            (!text.trim().is_empty()).then(|| (key.to_owned(), text.clone()))
        })
        .collect();
    console
        .services
        .submissions
        .explain(
            &signed.session.principal,
            &code,
            year,
            Some(version),
            &explanations,
        )
        .await?;
    Ok(see_other(&format!("/units/{code}/{year}")))
}

/// A stored version's disclosure as the wire message.
fn disclosure_of(stored: &StoredSubmission) -> Result<pb::Disclosure, WebError> {
    let bytes = stored
        .content
        .as_deref()
        .ok_or_else(|| ServiceError::Internal("a version was read without its bytes".into()))?;
    prost::Message::decode(bytes).map_err(|e| {
        WebError::Service(ServiceError::Internal(format!(
            "stored version does not decode: {e}"
        )))
    })
}

pub(super) fn download(bytes: Vec<u8>, content_type: &'static str, file_name: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// The 单户表 version a download asks for (the current one without `?version=`), through the policy.
async fn asked_version(
    console: &Console,
    signed: &SignedIn,
    code: &str,
    year: &str,
    asked: Result<Query<VersionQuery>, QueryRejection>,
) -> Result<(UnitCode, FiscalYear, StoredSubmission), WebError> {
    let (code, year) = unit_and_year(code, year)?;
    let asked = query(asked)?;
    let stored = console
        .services
        .submissions
        .get(
            &signed.session.principal,
            &code,
            year,
            asked.version,
            ReportType::Single,
        )
        .await?;
    Ok((code, year, stored))
}

async fn export(
    State(console): State<Console>,
    signed: SignedIn,
    Path((code, year)): Path<(String, String)>,
    asked: Result<Query<VersionQuery>, QueryRejection>,
) -> Result<Response, WebError> {
    let (code, year, stored) = asked_version(&console, &signed, &code, &year, asked).await?;
    let taxonomy = taxonomy_of(&console, year)?;
    let disclosure = disclosure_of(&stored)?;
    let findings: Vec<pb::Finding> = stored
        .report
        .findings
        .iter()
        .map(convert::finding_to_pb)
        .collect();
    let bytes = workbook::write_with_findings(&taxonomy, &disclosure, &findings)
        .map_err(|e| ServiceError::Internal(format!("the workbook was not written: {e}")))?;
    Ok(download(
        bytes,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        format!("{code}-{year}-v{}.xlsx", stored.version),
    ))
}

async fn narrative(
    State(console): State<Console>,
    signed: SignedIn,
    Path((code, year)): Path<(String, String)>,
    asked: Result<Query<VersionQuery>, QueryRejection>,
) -> Result<Response, WebError> {
    let (code, year, stored) = asked_version(&console, &signed, &code, &year, asked).await?;
    let draft = convert::disclosure_draft(disclosure_of(&stored)?)
        .map_err(ServiceError::InvalidArgument)?;
    let (taxonomy, disclosure) =
        crate::domain::submission::resolve(&console.services.taxonomies, draft)
            .map_err(ServiceError::InvalidArgument)?;
    let sections =
        crate::domain::rules::draft::draft_narrative(&taxonomy, &disclosure, Default::default());
    let mut text = format!(
        "# {} {}年度部门决算公开说明（草稿）\n\n",
        disclosure.cover.unit_name, disclosure.cover.fiscal_year
    );
    for section in &sections {
        text.push_str(&format!("## {}\n\n{}\n\n", section.title, section.text));
    }
    Ok(download(
        text.into_bytes(),
        "text/markdown; charset=utf-8",
        format!("{code}-{year}-v{}-narrative.md", stored.version),
    ))
}

#[derive(Deserialize, Default)]
struct CompareQuery {
    from: Option<u32>,
    to: Option<u32>,
}

/// One changed cell between two versions.
struct Change {
    table: String,
    row: String,
    column: String,
    before: Option<Decimal>,
    after: Option<Decimal>,
}

/// The cells whose figures differ between two versions' facts (a cell only one of them has counts as changed).
fn changes(before: &Facts, after: &Facts) -> Vec<Change> {
    let mut keys: std::collections::BTreeSet<(&str, &str, &str)> = Default::default();
    for facts in [before, after] {
        for (table, data) in &facts.tables {
            for (row, cells) in &data.rows {
                for column in cells.keys() {
                    keys.insert((table, row, column));
                }
            }
        }
    }
    keys.into_iter()
        .filter_map(|(table, row, column)| {
            let old = before.get(table, row, column).map(|v| v.decimal());
            let new = after.get(table, row, column).map(|v| v.decimal());
            (old != new).then(|| Change {
                table: table.to_owned(),
                row: row.to_owned(),
                column: column.to_owned(),
                before: old,
                after: new,
            })
        })
        .collect()
}

async fn compare(
    State(console): State<Console>,
    signed: SignedIn,
    Path((code, year)): Path<(String, String)>,
    asked: Result<Query<CompareQuery>, QueryRejection>,
) -> Result<Response, WebError> {
    let (code, year) = unit_and_year(&code, &year)?;
    let asked = query(asked)?;
    let actor = &signed.session.principal;
    let submissions = &console.services.submissions;
    let versions = submissions.list(actor, &code, year).await?;
    let singles: Vec<&StoredSubmission> = versions
        .iter()
        .filter(|v| v.report_type == ReportType::Single)
        .collect();
    let Some(last) = singles.last() else {
        return Err(ServiceError::NotFound {
            what: "submission",
            key: format!("{code}/{year}"),
        }
        .into());
    };
    let to = asked.to.unwrap_or(last.version);
    // Against the last accepted version before it, else the one before it.
    let from = asked.from.or_else(|| {
        singles
            .iter()
            .rev()
            .filter(|v| v.version < to)
            .find(|v| v.state == SubmissionState::Accepted)
            .or_else(|| singles.iter().rev().find(|v| v.version < to))
            .map(|v| v.version)
    });
    let after = submissions
        .get(actor, &code, year, Some(to), ReportType::Single)
        .await?;
    let before = match from {
        Some(from) => Some(
            submissions
                .get(actor, &code, year, Some(from), ReportType::Single)
                .await?,
        ),
        None => None,
    };
    let taxonomy = taxonomy_of(&console, year)?;
    let empty = Facts::default();
    let after_facts = after.facts.as_ref().unwrap_or(&empty);
    let changed = match &before {
        Some(before) => changes(before.facts.as_ref().unwrap_or(&empty), after_facts),
        None => Vec::new(),
    };
    let name = unit_name(&console, &code, year).await?;
    let frame = signed.frame();
    let base = format!("/units/{code}/{year}");
    let may_decide =
        is_reviewer(&frame) && after.state == SubmissionState::PendingReview && after.current;
    let link = cell_link(&code, year, after.version);
    let markup = layout(
        "版本对比",
        Some(&frame),
        html! {
            p.crumbs { a href=(base) { (name) " · " (year) "年度" } }
            h1 { (name) " v" (after.version) " "
                span class={ "badge st-" (after.state.code()) } { (render::state_name(after.state)) } }
            p.meta { "报送于 " (render::when(after.submitted_at_ms)) "，报送人 " (after.submitted_by) }
            @match &before {
                Some(before) => h2 { "与 v" (before.version) "（" (render::state_name(before.state)) "）相比，变动的单元格：" (changed.len()) },
                None => h2 { "这是第一个版本，没有可对比的版本" },
            }
            @if !changed.is_empty() {
                table.list.changes {
                    thead { tr { th { "表" } th { "行" } th { "栏" }
                        th { "v" (before.as_ref().map_or(0, |b| b.version)) } th { "v" (after.version) } th { "差额" } } }
                    tbody {
                        @for change in changed.iter().take(500) {
                            @let (t, r, c) = render::cell_names(&taxonomy, &change.table, &change.row, &change.column);
                            tr.changed {
                                @let cell = CellRef { table: change.table.clone(), row: change.row.clone(), column: change.column.clone(), unit: None };
                                td { @if let Some(href) = link(&cell) { a href=(href) { (t) } } @else { (t) } }
                                td { (r) } td { (c) }
                                td.num { @if let Some(v) = change.before { (render::figure(v)) } }
                                td.num { @if let Some(v) = change.after { (render::figure(v)) } }
                                td.num { (render::figure(change.after.unwrap_or_default() - change.before.unwrap_or_default())) }
                            }
                        }
                    }
                }
                @if changed.len() > 500 { p.hint { "只列出前 500 处变动。" } }
            }
            @if may_decide {
                section.decide {
                    h2 { "审核" }
                    form method="post" action={ (base) "/decide" } {
                        input type="hidden" name="csrf" value=(frame.csrf);
                        input type="hidden" name="version" value=(after.version);
                        label for="reason" { "意见（退回时必填）" }
                        textarea #reason name="reason" rows="3" maxlength="2000" {}
                        button type="submit" name="decision" value="accept" { "审核通过" }
                        " "
                        button type="submit" name="decision" value="return" { "退回" }
                    }
                }
            }
            h2 { "v" (after.version) " 的审核发现与单位解释" }
            (render::findings(&taxonomy, &after.report.findings, &link, None))
        },
    );
    Ok(page(StatusCode::OK, markup))
}

#[derive(Deserialize)]
struct DecideForm {
    csrf: String,
    version: u32,
    decision: String,
    #[serde(default)]
    reason: String,
}

async fn decide_version(
    State(console): State<Console>,
    signed: SignedIn,
    Path((code, year)): Path<(String, String)>,
    Form(form): Form<DecideForm>,
) -> Result<Response, WebError> {
    let (code, year) = unit_and_year(&code, &year)?;
    signed.check_csrf(&form.csrf)?;
    let decision = match form.decision.as_str() {
        "accept" => Decision::Accept,
        "return" => Decision::Return {
            reason: &form.reason,
        },
        _ => return Err(WebError::field("decision", "is accept or return")),
    };
    let actor = &signed.session.principal;
    console
        .services
        .reviews
        .decide(actor, &code, year, form.version, decision, &form.reason)
        .await?;
    // Back to the reviewer's queue, where the next version waits.
    Ok(match actor.unit_code() {
        Some(node) => see_other(&format!("/review/{node}/{year}")),
        None => see_other(&format!("/units/{code}/{year}")),
    })
}
