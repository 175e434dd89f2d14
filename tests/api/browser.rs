//! The console's day of work in a real browser: Debian's chromium driven over WebDriver (chromedriver) through
//! the pages a person clicks. A unit uploads a workbook with an error, reads the finding and the cell it points
//! at, uploads the fixed workbook and explains its warnings; its department's reviewer compares and accepts; the
//! region's reviewer sees the status, opens the 汇总表 and drills a cell down to the unit.
//!
//! Without /usr/bin/chromium and /usr/bin/chromedriver the test prints SKIPPED and returns; with
//! JUESUAN_REQUIRE_BROWSER set (`.ci/run` sets it after installing them) their absence fails it instead.
//! JUESUAN_SCREENSHOTS names a directory for the screenshots of the three main pages (README's pictures);
//! otherwise they go to target/screenshots.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use fantoccini::{Client, ClientBuilder, Locator};
use juesuan::pb;
use tempfile::TempDir;

use crate::{
    helpers::{DEPARTMENT, TestApp, UNIT},
    submissions::corrected_reference,
};

const REGION: &str = "652300";
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_driver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

/// A headless chromium session with a profile of its own and nothing fetched from the network.
async fn browser(driver: &Driver, profile: &Path) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--disable-quic", "--window-size=1360,1000",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a chromium session")
}

fn screenshots_dir() -> PathBuf {
    std::env::var_os("JUESUAN_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots"))
}

async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("a screenshot");
    let dir = screenshots_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

/// Clicks what leads to another page and waits until that page has replaced this one (a click returns before
/// the navigation it starts has finished, and a form may post back to the same address).
async fn click_and_load(client: &Client, element: fantoccini::elements::Element) {
    let old = client
        .find(Locator::Css("main"))
        .await
        .expect("a page with a main element");
    element.click().await.unwrap();
    for _ in 0..300 {
        if old.tag_name().await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        old.tag_name().await.is_err(),
        "the click led to no new page within 15 s"
    );
    client
        .wait()
        .for_element(Locator::Css("main"))
        .await
        .expect("the new page");
}

/// Finds the element of `locator` and clicks it, waiting for the page it leads to.
async fn navigate(client: &Client, locator: Locator<'_>) {
    let element = client
        .find(locator)
        .await
        .unwrap_or_else(|e| panic!("{locator:?}: {e}"));
    click_and_load(client, element).await;
}

async fn text_of(client: &Client) -> String {
    client
        .find(Locator::Css("main"))
        .await
        .expect("a page with a main element")
        .text()
        .await
        .unwrap()
}

async fn sign_in(client: &Client, web: &str, token: &str) {
    client.goto(&format!("http://{web}/signin")).await.unwrap();
    client
        .find(Locator::Css("#token"))
        .await
        .unwrap()
        .send_keys(token)
        .await
        .unwrap();
    navigate(client, Locator::Css("main form button")).await;
    let page = text_of(client).await;
    assert!(page.contains("欢迎"), "signed in: {page}");
}

async fn sign_out(client: &Client) {
    navigate(client, Locator::Css("form.signout button")).await;
    assert!(
        client
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/signin")
    );
}

async fn click_link(client: &Client, text: &str) {
    let link = client
        .find(Locator::LinkText(text))
        .await
        .unwrap_or_else(|e| panic!("a link \"{text}\": {e}"));
    click_and_load(client, link).await;
}

/// Uploads `file` from the unit's page.
async fn upload(client: &Client, file: &Path) -> String {
    client
        .find(Locator::Css("#file"))
        .await
        .unwrap()
        .send_keys(file.to_str().unwrap())
        .await
        .unwrap();
    navigate(client, Locator::Css("form[enctype] button")).await;
    text_of(client).await
}

fn unit(code: &str, parent: &str, kind: &str) -> pb::Unit {
    pb::Unit {
        code: code.into(),
        name: match kind {
            "region" => "昌吉州".into(),
            "department" => "昌吉州党委宣传部".into(),
            _ => "昌吉州融媒体中心".into(),
        },
        valid_from_year: 2024,
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
        fiscal_region_code: REGION.into(),
        is_department: kind == "department",
        is_region: kind == "region",
        valid_to_year: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_of_work_in_the_browser() {
    let present = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !present {
        assert!(
            std::env::var_os("JUESUAN_REQUIRE_BROWSER").is_none(),
            "JUESUAN_REQUIRE_BROWSER is set but {CHROMIUM} or {CHROMEDRIVER} is missing"
        );
        eprintln!(
            "SKIPPED: the browser test needs {CHROMIUM} and {CHROMEDRIVER} (Debian's chromium, chromium-driver)"
        );
        return;
    }
    let app = TestApp::spawn().await;
    let mut units = app.units().await;
    for u in [
        unit(REGION, "", "region"),
        unit(DEPARTMENT, REGION, "department"),
        unit(UNIT, DEPARTMENT, "unit"),
    ] {
        units
            .register_unit(pb::RegisterUnitRequest { unit: Some(u) })
            .await
            .expect("registers");
    }
    let submitter = app.token(UNIT, pb::Role::Submitter).await;
    let reviewer = app.token(DEPARTMENT, pb::Role::Reviewer).await;
    let bureau = app.token(REGION, pb::Role::Reviewer).await;

    // The unit's workbooks: the corrected reference, and a copy whose 本年收入合计 is 1 万元 off its parts.
    let files = TempDir::new().unwrap();
    let taxonomies = juesuan::domain::taxonomy::Taxonomies::built_in().unwrap();
    let taxonomy = taxonomies
        .get(juesuan::domain::ids::FiscalYear::new(2024).unwrap())
        .unwrap();
    let good = corrected_reference();
    let mut bad = good.clone();
    let total = bad.tables[0]
        .rows
        .iter_mut()
        .find(|r| r.code == "income_total")
        .unwrap();
    let value = total.cells[0].value.as_mut().unwrap();
    let wrong = value.value.parse::<rust_decimal::Decimal>().unwrap() + rust_decimal::Decimal::ONE;
    value.value = wrong.to_string();
    let (bad_path, good_path) = (
        files.path().join("决算-有误.xlsx"),
        files.path().join("决算.xlsx"),
    );
    std::fs::write(
        &bad_path,
        juesuan::workbook::write(taxonomy, Some(&bad)).unwrap(),
    )
    .unwrap();
    std::fs::write(
        &good_path,
        juesuan::workbook::write(taxonomy, Some(&good)).unwrap(),
    )
    .unwrap();

    let driver = start_driver().await;
    let profile = TempDir::new().unwrap();
    let client = browser(&driver, profile.path()).await;
    let web = app.web.clone();

    // The unit: uploads the workbook with the error; the version is rejected by the rules.
    sign_in(&client, &web, &submitter).await;
    click_link(&client, "本单位决算").await;
    let result = upload(&client, &bad_path).await;
    assert!(
        result.contains("已报送 v1") && result.contains("未通过校验"),
        "{result}"
    );
    click_link(&client, "查看审核发现").await;
    let page = text_of(&client).await;
    assert!(
        page.contains("错误") && page.contains("本年收入合计"),
        "{page}"
    );
    // The finding names the cell in accountants' terms and opens the table with it lit.
    let finding_link = client
        .find(Locator::Css("tr.sev-error td.where a"))
        .await
        .expect("the error's cell links to its table");
    let words = finding_link.text().await.unwrap();
    assert!(words.starts_with("公开01"), "{words}");
    click_and_load(&client, finding_link).await;
    let lit = client
        .find(Locator::Css("td.hl"))
        .await
        .expect("the table has the cell lit");
    let shown = lit.text().await.unwrap().replace(',', "");
    let row = client
        .find(Locator::XPath("//td[contains(@class,'hl')]/.."))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        row.contains("本年收入合计") || shown == wrong.to_string(),
        "lit cell {shown} in row {row}"
    );

    // Fixed and uploaded again: waits for review, its warnings explained in one form.
    client
        .goto(&format!("http://{web}/units/{UNIT}/2024"))
        .await
        .unwrap();
    let result = upload(&client, &good_path).await;
    assert!(
        result.contains("已报送 v2") && result.contains("待审"),
        "{result}"
    );
    click_link(&client, "查看审核发现").await;
    let fields = client
        .find_all(Locator::Css("form.explain textarea"))
        .await
        .unwrap();
    assert!(!fields.is_empty(), "warnings to explain");
    for field in &fields {
        field
            .send_keys("已核实：绩效目标按年中调整后的口径填报。")
            .await
            .unwrap();
    }
    navigate(&client, Locator::Css("form.explain > button")).await;
    let page = text_of(&client).await;
    assert!(page.contains("（未解释 0）"), "{page}");
    screenshot(&client, "console-unit.png").await;
    sign_out(&client).await;

    // The department's reviewer: the queue, the comparison with v1, acceptance.
    sign_in(&client, &web, &reviewer).await;
    click_link(&client, "审核队列").await;
    let queue = text_of(&client).await;
    assert!(queue.contains("待审版本 1 个"), "{queue}");
    click_link(&client, "昌吉州融媒体中心").await;
    let compare = text_of(&client).await;
    assert!(
        compare.contains("与 v1") && compare.contains("变动的单元格：1"),
        "{compare}"
    );
    screenshot(&client, "console-review.png").await;
    navigate(&client, Locator::Css("button[value=accept]")).await;
    let queue = text_of(&client).await;
    assert!(queue.contains("没有待审的版本"), "{queue}");
    sign_out(&client).await;

    // The finance bureau: the region's status, its 汇总表, one cell down to the unit.
    sign_in(&client, &web, &bureau).await;
    click_link(&client, "报送进度与汇总").await;
    let region = text_of(&client).await;
    assert!(region.contains("已计入汇总 1 户"), "{region}");
    assert!(region.contains("已审核 1"), "{region}");
    screenshot(&client, "console-region.png").await;
    click_link(&client, "查看汇总表").await;
    let total_cell = client
        .find(Locator::XPath(
            "//tr[td[contains(@class,'name') and text()='本年收入合计']]/td[contains(@class,'num')]/a",
        ))
        .await
        .expect("the consolidated 本年收入合计 links to its drill-down");
    let consolidated = total_cell.text().await.unwrap();
    click_and_load(&client, total_cell).await;
    let drill = text_of(&client).await;
    assert!(
        drill.contains(&consolidated) && drill.contains("下级合计（1 个）"),
        "{drill}"
    );
    click_link(&client, "昌吉州党委宣传部").await;
    let department = text_of(&client).await;
    assert!(department.contains("昌吉州融媒体中心"), "{department}");
    click_link(&client, "昌吉州融媒体中心").await;
    let lit = client
        .find(Locator::Css("td.hl"))
        .await
        .expect("the unit's own cell, lit");
    assert_eq!(lit.text().await.unwrap(), consolidated);
    client.close().await.unwrap();
}
