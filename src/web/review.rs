//! The reviewer's queue: the versions of their subtree waiting for review, oldest first, with their warnings and
//! how long they have waited; each opens the side-by-side comparison where it is accepted or returned.

use axum::{
    Router,
    extract::{Path, Query, State, rejection::QueryRejection},
    http::StatusCode,
    response::Response,
    routing::get,
};
use maud::html;
use serde::Deserialize;

use super::{Console, SignedIn, WebError, page, pages::layout, query, render, unit_and_year};
use crate::domain::audit::now_ms;

pub fn routes() -> Router<Console> {
    Router::new().route("/review/{node}/{year}", get(queue))
}

#[derive(Deserialize, Default)]
struct PageQuery {
    page: Option<usize>,
}

/// How long a version has waited, in days or hours.
fn waited(since_ms: i64, now: i64) -> String {
    let hours = (now - since_ms).max(0) / 3_600_000;
    if hours >= 24 {
        format!("{} 天", hours / 24)
    } else {
        format!("{hours} 小时")
    }
}

async fn queue(
    State(console): State<Console>,
    signed: SignedIn,
    Path((node, year)): Path<(String, String)>,
    asked: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Response, WebError> {
    let (node, year) = unit_and_year(&node, &year)?;
    let asked = query(asked)?;
    let mut pending = console
        .services
        .reviews
        .pending(&signed.session.principal, &node, year)
        .await?;
    pending.sort_by_key(|p| p.submitted_at_ms);
    let (page_number, range) = render::page_range(pending.len(), asked.page);
    let now = now_ms();
    let frame = signed.frame();
    let markup = layout(
        "审核队列",
        Some(&frame),
        html! {
            h1 { "审核队列 · " (node) " · " (year) "年度" }
            p { "待审版本 " (pending.len()) " 个，等待最久的排在最前。" }
            @if pending.is_empty() {
                p.ok { "没有待审的版本。" }
            } @else {
                table.list.queue {
                    thead { tr { th { "单位" } th { "版本" } th { "警告" } th { "未解释" } th { "报送时间" } th { "已等待" } th { "审核人所在" } } }
                    tbody {
                        @for item in &pending[range] {
                            tr {
                                td { a href={ "/units/" (item.unit.code) "/" (year) "/compare?to=" (item.version) } { (item.unit.name) } " " span.hint { (item.unit.code) } }
                                td { "v" (item.version) }
                                td.num { (item.warnings) }
                                td.num { (item.unexplained_warnings) }
                                td { (render::when(item.submitted_at_ms)) }
                                td { (waited(item.submitted_at_ms, now)) }
                                td { @if let Some(reviewer) = &item.reviewer_node { (reviewer) } }
                            }
                        }
                    }
                }
                (render::pager(pending.len(), page_number, &format!("/review/{node}/{year}?")))
            }
            p { a href={ "/region/" (node) "/" (year) } { "报送进度与汇总" } }
        },
    );
    Ok(page(StatusCode::OK, markup))
}
