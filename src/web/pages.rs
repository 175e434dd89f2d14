//! The console's pages as compile-time checked templates (maud): what each page shows, nothing of how it is
//! reached. Every page works without script; forms carry their CSRF token.

use maud::{DOCTYPE, Markup, html};

use crate::domain::access::{Principal, PrincipalKind};

/// The frame of every page: title, the embedded stylesheet, the heading and the signed-in bar.
fn layout(title: &str, signed_in: Option<(&Principal, &str)>, body: Markup) -> Markup {
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
                    span.brand { "juesuan 部门决算" }
                    @if let Some((principal, csrf)) = signed_in {
                        span.who { (who(principal)) }
                        form.signout method="post" action="/signout" {
                            input type="hidden" name="csrf" value=(csrf);
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

/// The signed-in start page: who the principal is and what it may do here.
pub fn home(principal: &Principal, csrf: &str) -> Markup {
    layout(
        "首页",
        Some((principal, csrf)),
        html! {
            h1 { "欢迎，" (who(principal)) }
            p { "已登录。本控制台与 gRPC 接口使用同一授权策略：只显示您有权查看的单位与数据。" }
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
            p { a href="/signin" { "返回登录" } }
        },
    )
}

/// The console's stylesheet, embedded in the binary.
pub const STYLESHEET: &str = "
body { font-family: system-ui, 'Noto Sans CJK SC', sans-serif; margin: 0; color: #1d2329; }
header { display: flex; gap: 1rem; align-items: center; padding: .6rem 1.2rem; background: #8c1c13; color: #fff; }
header .brand { font-weight: bold; margin-right: auto; }
header form { margin: 0; }
main { padding: 1.2rem; max-width: 72rem; }
.error { color: #a40e0e; }
.hint { color: #5b6570; font-size: .9rem; }
label { display: block; margin: .8rem 0 .3rem; }
input[type=password] { width: 24rem; max-width: 100%; padding: .3rem; }
button { margin-top: .8rem; padding: .3rem 1rem; }
";
