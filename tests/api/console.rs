//! The console's pages against the same policy as the API: a table of every route × every kind of signed-in
//! principal (and no session), with the status each gets; a refused page says nothing of the unit. Then the
//! pages' content: findings in accountants' terms linking to the lit cell, an upload that submits, a decision, the
//! region's statuses and a drill-down that adds up.

use juesuan::pb;

use crate::{
    helpers::{DEPARTMENT, TestApp, UNIT, submit_request},
    submissions::corrected_reference,
    web_client::{Reply, encode, post_multipart, request, sign_in},
};

const SIBLING: &str = "652300102";
const GRANDPARENT: &str = "652300-G";
const REGION: &str = "652300";
const OTHER_REGION: &str = "652800";
const YEAR: u32 = 2024;

/// The principals a row's expectations are given for, in this order.
const CALLERS: [&str; 7] = [
    "own submitter",
    "sibling submitter",
    "parent reviewer",
    "grandparent reviewer",
    "other region reviewer",
    "admin",
    "signed out",
];

fn unit(code: &str, parent: &str, region: &str, kind: &str) -> pb::Unit {
    pb::Unit {
        code: code.into(),
        name: format!("单位{code}"),
        valid_from_year: YEAR,
        budget_level: pb::BudgetLevel::Prefecture as i32,
        unit_type: if kind == "region" {
            pb::UnitType::Unspecified
        } else {
            pb::UnitType::Administrative
        } as i32,
        parent_code: parent.into(),
        supervising_department_code: if kind == "unit" {
            parent.into()
        } else {
            String::new()
        },
        fiscal_region_code: region.into(),
        is_department: kind == "department",
        is_region: kind == "region",
        valid_to_year: 0,
    }
}

/// R (region) → G → D → U, S; and another prefecture's region. U has submitted the corrected reference (no
/// errors: it waits for review).
async fn world() -> (TestApp, pb::Submission) {
    let app = TestApp::spawn().await;
    let mut units = app.units().await;
    for u in [
        unit(REGION, "", REGION, "region"),
        unit(GRANDPARENT, REGION, REGION, "department"),
        unit(DEPARTMENT, GRANDPARENT, REGION, "department"),
        unit(UNIT, DEPARTMENT, REGION, "unit"),
        unit(SIBLING, DEPARTMENT, REGION, "unit"),
        unit(OTHER_REGION, "", OTHER_REGION, "region"),
    ] {
        units
            .register_unit(pb::RegisterUnitRequest { unit: Some(u) })
            .await
            .expect("the tree registers");
    }
    let submitted = app
        .submitter(UNIT)
        .await
        .submit(submit_request("console-1", corrected_reference()))
        .await
        .expect("the reference is submitted")
        .into_inner()
        .submission
        .unwrap();
    (app, submitted)
}

/// A session for each caller, in `CALLERS` order: (cookie, CSRF token of its pages); empty for "signed out".
async fn sessions(app: &TestApp) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for caller in CALLERS {
        let token = match caller {
            "own submitter" => app.token(UNIT, pb::Role::Submitter).await,
            "sibling submitter" => app.token(SIBLING, pb::Role::Submitter).await,
            "parent reviewer" => app.token(DEPARTMENT, pb::Role::Reviewer).await,
            "grandparent reviewer" => app.token(GRANDPARENT, pb::Role::Reviewer).await,
            "other region reviewer" => app.token(OTHER_REGION, pb::Role::Reviewer).await,
            "admin" => app.admin_token.clone(),
            _ => {
                out.push((String::new(), String::new()));
                continue;
            }
        };
        let (cookie, _) = sign_in(&app.web, &token).await;
        let cookie = cookie.unwrap_or_else(|| panic!("{caller} signs in"));
        let home = request(&app.web, "GET", "/", &cookie, "").await;
        assert_eq!(home.status, 200, "{caller}'s start page");
        out.push((cookie, home.csrf()));
    }
    out
}

/// What a request got: "ok" (200), "see" (303 to a page other than the sign-in), "signin" (303 to it),
/// "denied" (403), or the status.
fn outcome(reply: &Reply) -> String {
    match reply.status {
        200 => "ok".into(),
        303 if reply.header("location") == Some("/signin") => "signin".into(),
        303 => "see".into(),
        403 => "denied".into(),
        other => other.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_each_principal_as_the_policy_says() {
    let (app, submitted) = world().await;
    let sessions = sessions(&app).await;
    let finding = submitted
        .report
        .as_ref()
        .unwrap()
        .findings
        .iter()
        .find(|f| f.severity != pb::Severity::Error as i32)
        .expect("the reference has a warning or a notice to explain")
        .key
        .clone();
    let unit = format!("/units/{UNIT}/{YEAR}");
    let grand = format!("/region/{GRANDPARENT}/{YEAR}");
    let read_unit = ["ok", "denied", "ok", "ok", "denied", "ok", "signin"];
    let read_grand = ["denied", "denied", "denied", "ok", "denied", "ok", "signin"];
    // (method, path, form after the CSRF token, outcome per caller). The POSTs that succeed change state, so
    // their order matters: the explanation before the return, the lock before the unlock.
    let rows: Vec<(&str, String, String, [&str; 7])> = vec![
        (
            "GET",
            "/".into(),
            String::new(),
            ["ok", "ok", "ok", "ok", "ok", "ok", "signin"],
        ),
        ("GET", unit.clone(), String::new(), read_unit),
        (
            "GET",
            format!("{unit}/tables/T01"),
            String::new(),
            read_unit,
        ),
        (
            "GET",
            format!("{unit}/tables/T05?version=1&row=201&col=total"),
            String::new(),
            read_unit,
        ),
        (
            "GET",
            format!("{unit}/export.xlsx"),
            String::new(),
            read_unit,
        ),
        (
            "GET",
            format!("{unit}/narrative.md"),
            String::new(),
            read_unit,
        ),
        ("GET", format!("{unit}/compare"), String::new(), read_unit),
        // The public document is written from the accepted version: its readers learn there is none yet.
        (
            "GET",
            format!("{unit}/publication.docx"),
            String::new(),
            read_unit.map(|o| if o == "ok" { "409" } else { o }),
        ),
        (
            "GET",
            format!("{unit}/publication.html"),
            String::new(),
            read_unit.map(|o| if o == "ok" { "409" } else { o }),
        ),
        (
            "GET",
            format!("{grand}/check-publication"),
            String::new(),
            read_grand,
        ),
        (
            "GET",
            format!("/review/{DEPARTMENT}/{YEAR}"),
            String::new(),
            ["denied", "denied", "ok", "ok", "denied", "ok", "signin"],
        ),
        ("GET", grand.clone(), String::new(), read_grand),
        (
            "GET",
            format!("{grand}?status=pending&page=1"),
            String::new(),
            read_grand,
        ),
        (
            "GET",
            format!("{grand}/consolidated/T01"),
            String::new(),
            read_grand,
        ),
        (
            "GET",
            format!("{grand}/cell/T01/income_total/amount"),
            String::new(),
            read_grand,
        ),
        (
            "POST",
            format!("{unit}/explain"),
            format!(
                "&version=1&explain.{finding}={}",
                encode("本年新增设备购置，已核实。")
            ),
            [
                "see", "denied", "denied", "denied", "denied", "denied", "signin",
            ],
        ),
        (
            "POST",
            format!("{unit}/decide"),
            format!("&version=1&decision=return&reason={}", encode("请补充说明")),
            [
                "denied", "denied", "see", "denied", "denied", "denied", "signin",
            ],
        ),
        (
            "POST",
            format!("{grand}/lock"),
            "&comment=".into(),
            [
                "denied", "denied", "denied", "see", "denied", "denied", "signin",
            ],
        ),
        (
            "POST",
            format!("{grand}/unlock"),
            format!("&comment={}", encode("更正")),
            [
                "denied", "denied", "denied", "see", "denied", "denied", "signin",
            ],
        ),
    ];
    let mut failures = Vec::new();
    for (method, path, form, expected) in &rows {
        for (i, caller) in CALLERS.iter().enumerate() {
            let (cookie, csrf) = &sessions[i];
            let form = format!("csrf={csrf}{form}");
            let reply = request(&app.web, method, path, cookie, &form).await;
            let got = outcome(&reply);
            if got != expected[i] {
                failures.push(format!(
                    "{method} {path} as {caller}: {got}, expected {}",
                    expected[i]
                ));
            }
            if reply.status == 403 {
                // A refusal says nothing of the unit: not its name, not its figures.
                assert!(
                    !reply.body.contains(&format!("单位{UNIT}"))
                        && !reply.body.contains("收入支出决算总表"),
                    "{method} {path} as {caller} leaked: {}",
                    reply.body
                );
            }
        }
    }
    // The upload, last: it makes a version.
    let json = juesuan::cli::json::to_json("Disclosure", &corrected_reference());
    let upload = format!("{unit}/upload");
    let expected = [
        "ok", "denied", "denied", "denied", "denied", "denied", "signin",
    ];
    for (i, caller) in CALLERS.iter().enumerate() {
        let (cookie, csrf) = &sessions[i];
        let reply = post_multipart(
            &app.web,
            &upload,
            cookie,
            &[("csrf", csrf)],
            ("reference.json", json.as_bytes()),
        )
        .await;
        let got = outcome(&reply);
        if got != expected[i] {
            failures.push(format!(
                "POST {upload} as {caller}: {got}, expected {}",
                expected[i]
            ));
        }
    }
    // A document checked on the node's page: its readers.
    let check = format!("{grand}/check-publication");
    let document =
        "<html><body><p>昌吉州融媒体中心2024年度部门决算</p><p>第一部分 部门概况</p></body></html>";
    for (i, caller) in CALLERS.iter().enumerate() {
        let (cookie, csrf) = &sessions[i];
        let reply = post_multipart(
            &app.web,
            &check,
            cookie,
            &[("csrf", csrf)],
            ("公开.html", document.as_bytes()),
        )
        .await;
        let got = outcome(&reply);
        if got != read_grand[i] {
            failures.push(format!(
                "POST {check} as {caller}: {got}, expected {}",
                read_grand[i]
            ));
        }
        if got == "ok" {
            // The result names what is missing, with FAIL.
            assert!(
                reply.body.contains("缺少“第二部分 部门决算情况说明”"),
                "{}",
                reply.body
            );
            assert!(reply.body.contains("FAIL"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Every route of the console has a row (a route added without one fails here).
    let covered: Vec<String> = rows
        .iter()
        .map(|(_, path, _, _)| path.split('?').next().unwrap().to_owned())
        .chain([upload, check])
        .collect();
    for route in [
        "/units/{u}",
        "/units/{u}/tables/",
        "/units/{u}/upload",
        "/units/{u}/explain",
        "/units/{u}/export.xlsx",
        "/units/{u}/narrative.md",
        "/units/{u}/compare",
        "/units/{u}/decide",
        "/units/{u}/publication.docx",
        "/units/{u}/publication.html",
        "/region/{g}/check-publication",
        "/review/",
        "/region/{g}",
        "/region/{g}/consolidated/",
        "/region/{g}/cell/",
        "/region/{g}/lock",
        "/region/{g}/unlock",
    ] {
        let route = route
            .replace("{u}", &format!("{UNIT}/{YEAR}"))
            .replace("{g}", &format!("{GRANDPARENT}/{YEAR}"));
        assert!(
            covered
                .iter()
                .any(|p| p == &route || (route.ends_with('/') && p.starts_with(&route))),
            "no matrix row for {route}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_post_is_refused_and_changes_nothing() {
    let (app, _) = world().await;
    let token = app.token(DEPARTMENT, pb::Role::Reviewer).await;
    let (cookie, _) = sign_in(&app.web, &token).await;
    let cookie = cookie.unwrap();
    let reply = request(
        &app.web,
        "POST",
        &format!("/units/{UNIT}/{YEAR}/decide"),
        &cookie,
        "csrf=0000&version=1&decision=accept",
    )
    .await;
    assert_eq!(reply.status, 403);
    assert!(reply.body.contains("CSRF"), "{}", reply.body);
    let queue = request(
        &app.web,
        "GET",
        &format!("/review/{DEPARTMENT}/{YEAR}"),
        &cookie,
        "",
    )
    .await;
    assert!(queue.body.contains("待审版本 1 个"), "{}", queue.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_workbook_is_refused_at_its_cell_and_nothing_is_submitted() {
    let (app, _) = world().await;
    let token = app.token(UNIT, pb::Role::Submitter).await;
    let (cookie, _) = sign_in(&app.web, &token).await;
    let cookie = cookie.unwrap();
    let page = request(
        &app.web,
        "GET",
        &format!("/units/{UNIT}/{YEAR}"),
        &cookie,
        "",
    )
    .await;
    let workbook = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/workbooks/42-text-not-a-number.xlsx"),
    )
    .unwrap();
    let reply = post_multipart(
        &app.web,
        &format!("/units/{UNIT}/{YEAR}/upload"),
        &cookie,
        &[("csrf", &page.csrf())],
        ("42-text-not-a-number.xlsx", &workbook),
    )
    .await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert!(
        reply.body.contains("公开03!F8") && reply.body.contains("见附表 is not a number"),
        "the problem names its cell: {}",
        reply.body
    );
    let after = request(
        &app.web,
        "GET",
        &format!("/units/{UNIT}/{YEAR}"),
        &cookie,
        "",
    )
    .await;
    assert!(
        after.body.contains("当前版本 v1"),
        "still one version: {}",
        after.body
    );
    assert!(!after.body.contains("v2"), "{}", after.body);
}
