//! The console's pages as compile-time checked templates (maud): what each page shows, nothing of how it is
//! reached. Every page works without script; forms carry their CSRF token.

use maud::{DOCTYPE, Markup, html};

use crate::domain::{
    access::{Principal, PrincipalKind},
    ids::FiscalYear,
    unit::Unit,
};

/// Who is signed in, for the frame of a page.
#[derive(Clone, Copy)]
pub struct Frame<'a> {
    pub principal: &'a Principal,
    pub csrf: &'a str,
}

/// A unit and year the signed-in principal may open.
pub struct Place {
    pub unit: Unit,
    pub year: FiscalYear,
}

/// The frame of every page: title, the embedded stylesheet, the heading and the signed-in bar.
pub fn layout(title: &str, frame: Option<&Frame<'_>>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · juesuan 部门决算" }
                link rel="stylesheet" href="/console.css";
            }
            body {
                header {
                    a.brand href="/" { "juesuan 部门决算" }
                    @if let Some(frame) = frame {
                        span.who { (who(frame.principal)) }
                        form.signout method="post" action="/signout" {
                            input type="hidden" name="csrf" value=(frame.csrf);
                            button type="submit" { "退出" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// A principal as people say it: 652300101 的填报人, 系统管理员.
pub fn who(principal: &Principal) -> String {
    match &principal.kind {
        PrincipalKind::Unit { code, role } => {
            let role = match role.code() {
                "submitter" => "填报人",
                "reviewer" => "审核人",
                _ => "查阅人",
            };
            format!("{code} 的{role}")
        }
        PrincipalKind::Admin => "系统管理员".to_owned(),
        PrincipalKind::Service { name } => format!("系统 {name}"),
    }
}

/// The sign-in form: the same bearer token the gRPC API and the command line use.
pub fn sign_in(csrf: &str, message: Option<&str>) -> Markup {
    layout(
        "登录",
        None,
        html! {
            h1 { "登录" }
            @if let Some(message) = message {
                p.error role="alert" { (message) }
            }
            form method="post" action="/signin" {
                input type="hidden" name="csrf" value=(csrf);
                label for="token" { "令牌（token）" }
                input #token type="password" name="token" autocomplete="off" required maxlength="200";
                button type="submit" { "登录" }
            }
            p.hint { "令牌由管理员签发（juesuan tokens issue），或见 juesuan demo 的输出。" }
        },
    )
}

/// The signed-in start page: who the principal is and the pages of its work, per year.
pub fn home(frame: &Frame<'_>, places: &[Place]) -> Markup {
    let reviewer = matches!(
        &frame.principal.kind,
        PrincipalKind::Unit { role, .. } if role.code() == "reviewer"
    );
    let admin = matches!(frame.principal.kind, PrincipalKind::Admin);
    layout(
        "首页",
        Some(frame),
        html! {
            h1 { "欢迎，" (who(frame.principal)) }
            @if places.is_empty() {
                p { "您的单位在任何年度都没有登记，暂无可办理的事项。" }
            }
            ul.places {
                @for place in places {
                    @let code = place.unit.code.as_str();
                    @let year = place.year.get();
                    li {
                        strong { (year) "年度 · " (place.unit.name) " (" (code) ")" }
                        " "
                        @if !admin && !place.unit.is_region {
                            a href={ "/units/" (code) "/" (year) } { "本单位决算" }
                            " "
                        }
                        @if reviewer {
                            a href={ "/review/" (code) "/" (year) } { "审核队列" }
                            " "
                        }
                        @if reviewer || admin {
                            a href={ "/region/" (code) "/" (year) } { "报送进度与汇总" }
                        }
                    }
                }
            }
            p.hint { "本控制台与 gRPC 接口使用同一授权策略：只显示您有权查看的单位与数据。" }
        },
    )
}

/// A page that only says why the request was not served.
pub fn refusal(title: &str, message: &str) -> Markup {
    layout(
        title,
        None,
        html! {
            h1 { (title) }
            p.error role="alert" { (message) }
            p { a href="/" { "返回首页" } }
        },
    )
}

/// The console's stylesheet, embedded in the binary.
pub const STYLESHEET: &str = "
body { font-family: system-ui, 'Noto Sans CJK SC', sans-serif; margin: 0; color: #1d2329; }
header { display: flex; gap: 1rem; align-items: center; padding: .6rem 1.2rem; background: #8c1c13; color: #fff; }
header .brand { font-weight: bold; margin-right: auto; color: #fff; text-decoration: none; }
header form { margin: 0; }
header button { margin: 0; }
main { padding: 1.2rem; max-width: 90rem; }
a { color: #0b5cad; }
.error { color: #a40e0e; }
.ok { color: #1d6b2f; }
.hint { color: #5b6570; font-size: .9rem; }
.meta span { margin-right: 2rem; }
.crumbs { font-size: .9rem; }
label { display: block; margin: .8rem 0 .3rem; }
input[type=password], input[type=text] { width: 24rem; max-width: 100%; padding: .3rem; }
textarea { width: 100%; max-width: 40rem; }
button { margin-top: .8rem; padding: .3rem 1rem; }
table { border-collapse: collapse; margin: .6rem 0; }
th, td { border: 1px solid #c8ced4; padding: .25rem .5rem; vertical-align: top; }
th { background: #f1f3f5; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.report tr.lanci th { font-weight: normal; font-size: .8rem; }
table.report tr.line td.name { font-weight: 600; }
table.report td.code { font-family: monospace; }
td.hl { background: #ffe38a; outline: 3px solid #d9822b; }
td.where { min-width: 18rem; }
tr.sev-error td:first-child { color: #a40e0e; font-weight: bold; }
tr.sev-warning td:first-child { color: #9a5b00; font-weight: bold; }
tr.changed td.num { background: #fff4d6; }
tr.sum td { font-weight: bold; }
.explained { margin: 0 0 .3rem; color: #1d6b2f; }
form.explain textarea { width: 18rem; }
form.explain button { margin-top: .2rem; }
.badge { display: inline-block; padding: .05rem .5rem; border-radius: .6rem; font-size: .85rem; background: #e3e7eb; text-decoration: none; color: #1d2329; }
.st-accepted { background: #cdebd3; }
.st-pending_review, .st-pending { background: #fde8b4; }
.st-returned, .st-rejected_by_rules, .st-rejected { background: #f6c9c4; }
.st-missing { background: #e3e7eb; }
.st-locked { background: #c9d8f0; }
nav.tables, nav.statuses, nav.pager { margin: .6rem 0; }
nav.tables a, nav.tables strong { margin-right: .6rem; }
td.depth-1 { padding-left: 1.5rem; } td.depth-2 { padding-left: 2.5rem; } td.depth-3 { padding-left: 3.5rem; }
td.depth-4, td.depth-5, td.depth-6 { padding-left: 4.5rem; }
ul.places li { margin: .4rem 0; }
ul.places a { margin-left: .6rem; }
svg.chart { display: block; margin: .6rem 0; }
";
