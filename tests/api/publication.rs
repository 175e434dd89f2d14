//! `juesuan publish`: the public document of the reference, in the order and with the sections of the published
//! reference document; empty tables replaced by their statements; the same document as .html and .docx.

use std::io::Read;

/// The headings of the published 2024 reference document (昌吉州融媒体中心), in order: what a unit's document of
/// that year has. Its first part is titled 单位概况 there; the finance ministry's structure says 部门概况.
const PUBLISHED_OUTLINE: [&str; 26] = [
    "第一部分 部门概况",
    "一、主要职能",
    "二、机构设置及人员情况",
    "第二部分 部门决算情况说明",
    "一、收入支出决算总体情况说明",
    "二、收入决算情况说明",
    "三、支出决算情况说明",
    "四、财政拨款收入支出决算总体情况说明",
    "五、一般公共预算财政拨款支出决算情况说明",
    "六、一般公共预算财政拨款基本支出决算情况说明",
    "七、政府性基金预算财政拨款收入支出决算情况说明",
    "八、国有资本经营预算财政拨款收入支出决算情况说明",
    "九、财政拨款“三公”经费支出决算情况说明",
    "十、其他重要事项的情况说明",
    "（一）机关运行经费及公用经费支出情况",
    "（二）政府采购情况",
    "（三）国有资产占用情况说明",
    "十一、预算绩效的情况说明",
    "十二、其他需说明的事项",
    "第三部分 专业名词解释",
    "第四部分 部门决算报表",
    "一、《收入支出决算总表》",
    "二、《收入决算表》",
    "三、《支出决算表》",
    "四、《财政拨款收入支出决算总表》",
    "五、《一般公共预算财政拨款支出决算表》",
];

fn publish(output: &std::path::Path) -> String {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/reference-2024-corrected.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_juesuan"))
        .args([
            "publish",
            fixture.to_str().unwrap(),
            "-o",
            output.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The text of an HTML page's headings, in order.
fn headings(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find("<h") {
        let tag = &rest[at + 1..at + 3];
        rest = &rest[at + 3..];
        // Headings of parts and sections; a table's own title (h4 class="table") is not one.
        if !matches!(tag, "h2" | "h3" | "h4") || rest.starts_with(" class=\"table\"") {
            continue;
        }
        let start = rest.find('>').unwrap() + 1;
        let end = rest.find("</").unwrap();
        out.push(rest[start..end].to_owned());
    }
    out
}

#[test]
fn the_reference_publishes_to_the_published_structure_as_html_and_docx() {
    let dir = tempfile::TempDir::new().unwrap();
    let html_path = dir.path().join("公开.html");
    let said = publish(&html_path);
    assert!(said.contains("昌吉州融媒体中心2024年度部门决算"), "{said}");
    let html = std::fs::read_to_string(&html_path).unwrap();
    let outline = headings(&html);
    assert_eq!(
        &outline[..PUBLISHED_OUTLINE.len()],
        PUBLISHED_OUTLINE,
        "{outline:#?}"
    );
    assert_eq!(
        outline.len(),
        PUBLISHED_OUTLINE.len() + 5,
        "the last four tables follow, then the self-evaluations attached: {outline:#?}"
    );
    assert_eq!(outline.last().map(String::as_str), Some("附件 绩效自评表"));
    assert!(html.contains("单位整体支出绩效自评表") && html.contains("项目支出绩效自评表"));
    // Every table with its 编制单位 and 金额单位; the unit has no 政府性基金 or 国有资本经营 figures.
    assert_eq!(html.matches("编制单位：昌吉州融媒体中心").count(), 9);
    assert!(html.contains("本单位无政府性基金预算财政拨款收入、支出，故本表为空表。"));
    assert!(html.contains("本单位无国有资本经营预算财政拨款支出，故本表为空表。"));
    assert!(
        html.contains("8,190.84"),
        "figures with thousands separators"
    );
    // A section about an empty table says so instead of asking for text.
    assert!(!html.contains("【请填写：政府性基金预算财政拨款收入支出决算情况说明】"));
    assert_eq!(
        html.matches("本单位无政府性基金预算财政拨款收入、支出，故本表为空表。")
            .count(),
        2
    );
    // What only a person can write is marked, never made up.
    assert!(html.contains("【请填写：主要职能】"));
    assert!(html.contains("一、财政拨款收入：指同级财政当年拨付的资金。"));

    let docx_path = dir.path().join("公开.docx");
    publish(&docx_path);
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&docx_path).unwrap()).unwrap();
    let mut body = String::new();
    archive
        .by_name("word/document.xml")
        .unwrap()
        .read_to_string(&mut body)
        .unwrap();
    let mut last = 0;
    for heading in PUBLISHED_OUTLINE {
        let at = body[last..]
            .find(heading)
            .unwrap_or_else(|| panic!("{heading} in order in the .docx"));
        last += at + heading.len();
    }
    assert!(body.contains("本单位无政府性基金预算财政拨款收入、支出，故本表为空表。"));
}

#[test]
fn a_document_that_is_neither_html_nor_docx_is_refused() {
    let dir = tempfile::TempDir::new().unwrap();
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/reference-2024-corrected.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_juesuan"))
        .args(["publish", fixture.to_str().unwrap(), "-o"])
        .arg(dir.path().join("公开.pdf"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(".html or .docx"));
}
