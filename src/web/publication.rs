//! The public document in the console: a unit's page offers its 部门决算公开 written from the accepted version
//! (Word or HTML), and the bureau's and the departments' pages a checking upload whose result lists each check
//! with its evidence, and what could not be read apart.

use axum::{
    Router,
    extract::{DefaultBodyLimit, Multipart, Path, State},
    http::StatusCode,
    response::Response,
    routing::get,
};
use maud::html;

use super::{
    Console, SignedIn, Upload, WebError, page, pages::layout, unit::download, unit_and_year,
};
use crate::{
    domain::{
        access::{Ask, decide},
        ids::UnitCode,
    },
    publication::{
        check::{Aspect, Outcome},
        read::MAX_DOCUMENT_BYTES,
    },
    service::{error::ServiceError, publication::DocumentFormat},
};

/// A document upload with the form's few fields around it.
const MAX_CHECK_UPLOAD_BYTES: usize = MAX_DOCUMENT_BYTES + 64 * 1024;

pub fn routes() -> Router<Console> {
    Router::new()
        .route("/units/{code}/{year}/publication.docx", get(publish_docx))
        .route("/units/{code}/{year}/publication.html", get(publish_html))
        .route(
            "/region/{node}/{year}/check-publication",
            get(check_form)
                .post(check_upload)
                .layer(DefaultBodyLimit::max(MAX_CHECK_UPLOAD_BYTES)),
        )
}

async fn publish_docx(
    State(console): State<Console>,
    signed: SignedIn,
    Path((code, year)): Path<(String, String)>,
) -> Result<Response, WebError> {
    publish(&console, &signed, &code, &year, DocumentFormat::Docx).await
}

async fn publish_html(
    State(console): State<Console>,
    signed: SignedIn,
    Path((code, year)): Path<(String, String)>,
) -> Result<Response, WebError> {
    publish(&console, &signed, &code, &year, DocumentFormat::Html).await
}

async fn publish(
    console: &Console,
    signed: &SignedIn,
    code: &str,
    year: &str,
    format: DocumentFormat,
) -> Result<Response, WebError> {
    let (code, year) = unit_and_year(code, year)?;
    let published = console
        .services
        .publications
        .publish(&signed.session.principal, &code, year, format)
        .await?;
    Ok(download(
        published.bytes,
        format.content_type(),
        // Header values are ASCII: the unit's code names the file.
        format!("{code}-{year}-publication.{}", format.extension()),
    ))
}

/// The node's page for checking: readers of the node only (the bureau, the department).
async fn check_form(
    State(console): State<Console>,
    signed: SignedIn,
    Path((node, year)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let (node, year) = unit_and_year(&node, &year)?;
    let lineage = console.services.registry.lineage(&node, year).await?;
    decide(&signed.session.principal, &Ask::Read(&lineage)).map_err(ServiceError::from)?;
    let frame = signed.frame();
    let base = format!("/region/{node}/{year}");
    let markup = layout(
        "检查公开文档",
        Some(&frame),
        html! {
            h1 { "检查公开文档" }
            p { "上传单位公开的部门决算（.docx、.html、.txt 或有文字层的 .pdf），逐项检查：各部分和九张报表是否齐全、单位名称和年度是否一致、比较用词与数字是否相符、报表是否平衡、说明与报表是否一致。填写单位代码时，每个数字还与该单位已审核的决算核对。" }
            form method="post" action={ (base) "/check-publication" } enctype="multipart/form-data" {
                input type="hidden" name="csrf" value=(frame.csrf);
                label for="file" { "公开文档" }
                input #file type="file" name="file" required accept=".docx,.html,.htm,.txt,.pdf";
                label for="unit" { "对照单位代码（可不填）" }
                input #unit type="text" name="unit" maxlength="32";
                button type="submit" { "检查" }
            }
            p { a href=(base) { "返回" } }
        },
    );
    Ok(page(StatusCode::OK, markup))
}

async fn check_upload(
    State(console): State<Console>,
    signed: SignedIn,
    Path((node, year)): Path<(String, String)>,
    multipart: Multipart,
) -> Result<Response, WebError> {
    let (node, year) = unit_and_year(&node, &year)?;
    let upload = Upload::read(multipart).await?;
    signed.check_csrf(&upload.csrf)?;
    let actor = &signed.session.principal;
    // The policy first: nothing of an upload is read for someone who may not read the node.
    let lineage = console.services.registry.lineage(&node, year).await?;
    decide(actor, &Ask::Read(&lineage)).map_err(ServiceError::from)?;
    let unit = upload.field("unit");
    let against = if unit.is_empty() {
        None
    } else {
        let code =
            UnitCode::parse(unit).map_err(|_| WebError::field("unit", "is not a unit code"))?;
        Some((code, year))
    };
    let (name, bytes) = upload
        .file
        .filter(|(_, bytes)| !bytes.is_empty())
        .ok_or_else(|| WebError::field("file", "choose a document"))?;
    let checked = console
        .services
        .publications
        .check(actor, &name, &bytes, against)
        .await?;
    let report = checked.report;
    let frame = signed.frame();
    let base = format!("/region/{node}/{year}");
    let class = |outcome: Outcome| match outcome {
        Outcome::Pass => "sev-info",
        Outcome::Fail => "sev-error",
        Outcome::Uncertain => "sev-warning",
    };
    let (pass, fail, uncertain) = (
        report.count(Outcome::Pass),
        report.count(Outcome::Fail),
        report.count(Outcome::Uncertain),
    );
    let markup = layout(
        "公开文档检查结果",
        Some(&frame),
        html! {
            h1 { "公开文档检查结果" }
            p {
                (report.unit_name.as_deref().unwrap_or("（单位名称未知）")) " " (report.fiscal_year) "年度 · " (report.format.name())
                @if let Some(v) = checked.accepted_version { " · 对照已审核第" (v) "版" }
            }
            p.summary { "通过 " (pass) " · 不通过 " (fail) " · 不确定 " (uncertain) " · 未能检查 " (report.unchecked.len()) }
            table.findings {
                thead { tr { th { "结果" } th { "方面" } th { "检查" } th { "依据" } th { "位置" } } }
                tbody {
                    // Failures first, then what is uncertain, then what passed.
                    @for outcome in [Outcome::Fail, Outcome::Uncertain, Outcome::Pass] {
                        @for check in report.checks.iter().filter(|c| c.outcome == outcome) {
                            tr class=(class(check.outcome)) {
                                td { (check.outcome.name()) }
                                td { (Aspect::name(check.aspect)) }
                                td { (check.what) }
                                td { @if let Some(e) = &check.evidence { "「" (e) "」" } }
                                td { @if let Some(at) = &check.at { (at) } }
                            }
                        }
                    }
                }
            }
            @if !report.unchecked.is_empty() {
                h2 { "未能检查（不计为通过）" }
                ul { @for part in &report.unchecked { li { (part.what) "：" (part.why) } } }
            }
            p { a href={ (base) "/check-publication" } { "再检查一份" } " · " a href=(base) { "返回" } }
        },
    );
    Ok(page(StatusCode::OK, markup))
}
