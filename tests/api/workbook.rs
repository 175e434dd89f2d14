//! The standard workbook end to end, as a newcomer uses it: a filled workbook submitted with `juesuan submit`,
//! the stored version exported with `juesuan export`, and the export imported back to the same tables.

use std::process::Command;

use juesuan::pb;

use crate::{
    helpers::{DEPARTMENT, TestApp, UNIT},
    submissions::corrected_reference,
};

fn juesuan(app: &TestApp, token: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_juesuan"))
        .args(args)
        .env("JUESUAN_SERVER", &app.address)
        .env("JUESUAN_TOKEN", token)
        .env_remove("JUESUAN_TOKEN_FILE")
        .output()
        .expect("juesuan runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workbook_is_submitted_exported_and_imported_back_the_same() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    let dir = tempfile::tempdir().unwrap();
    let filled = dir.path().join("filled.xlsx");
    let disclosure = corrected_reference();
    let taxonomies = juesuan::domain::taxonomy::Taxonomies::built_in().unwrap();
    let taxonomy = taxonomies
        .get(juesuan::domain::ids::FiscalYear::new(2024).unwrap())
        .unwrap();
    std::fs::write(
        &filled,
        juesuan::workbook::write(taxonomy, Some(&disclosure)).unwrap(),
    )
    .unwrap();

    let submitter = app.token(UNIT, pb::Role::Submitter).await;
    let submitted = juesuan(&app, &submitter, &["submit", filled.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&submitted.stdout);
    assert!(
        submitted.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&submitted.stderr)
    );
    assert!(said.contains("version 1"), "{said}");

    let reviewer = app.token(DEPARTMENT, pb::Role::Reviewer).await;
    let exported = dir.path().join("exported.xlsx");
    let export = juesuan(
        &app,
        &reviewer,
        &[
            "export",
            "--unit",
            UNIT,
            "--year",
            "2024",
            "-o",
            exported.to_str().unwrap(),
        ],
    );
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    // The findings are on a sheet of their own, one row each under the headers.
    let findings = app
        .submissions()
        .await
        .get_submission(pb::GetSubmissionRequest {
            unit_code: UNIT.into(),
            fiscal_year: 2024,
            version: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap()
        .findings;
    {
        use calamine::Reader;
        let mut workbook: calamine::Xlsx<_> = calamine::open_workbook(&exported).unwrap();
        let sheet = workbook
            .worksheet_range(juesuan::workbook::FINDINGS_SHEET)
            .unwrap();
        assert_eq!(sheet.height(), findings.len() + 1);
        let first = sheet.get_value((1, 0)).unwrap().to_string();
        assert_eq!(first, findings[0].rule_id);
    }
    let imported = dir.path().join("back.json");
    let import = juesuan(
        &app,
        "",
        &[
            "import",
            exported.to_str().unwrap(),
            "-o",
            imported.to_str().unwrap(),
        ],
    );
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    let back: pb::Disclosure =
        juesuan::cli::json::from_json("Disclosure", &std::fs::read_to_string(&imported).unwrap())
            .unwrap();
    assert_eq!(back.cover, disclosure.cover);
    // The same rows and figures; an import gives the rows in one order (the table's lines, then the codes).
    let ordered = |tables: &[pb::Table]| {
        let mut tables = tables.to_vec();
        for table in &mut tables {
            table.rows.sort_by(|a, b| a.code.cmp(&b.code));
        }
        tables
    };
    assert_eq!(ordered(&back.tables), ordered(&disclosure.tables));
    assert_eq!(back.assets, disclosure.assets);
    assert_eq!(back.unit_evaluation, disclosure.unit_evaluation);
    assert_eq!(back.project_evaluations, disclosure.project_evaluations);

    // A damaged workbook is refused whole, with the cell, and nothing is submitted.
    let damaged = dir.path().join("damaged.xlsx");
    let mut broken = disclosure.clone();
    broken.tables[0].rows[0].code = "208".into();
    broken.tables[0].rows[1].code = "208".into();
    std::fs::write(
        &damaged,
        juesuan::workbook::write(taxonomy, Some(&broken)).unwrap(),
    )
    .unwrap();
    let refused = juesuan(&app, &submitter, &["submit", damaged.to_str().unwrap()]);
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        error.contains("公开01 收入支出决算总表!F8: 208 社会保障和就业支出 决算数 is given twice"),
        "{error}"
    );
    assert_eq!(app.count_rows("submissions").await, 1);
}

/// A directory at once: each unit's file with its own token from --token-dir, a summary line per file, the
/// damaged one refused with its cell while the others are taken; importing the directory writes a disclosure file
/// per workbook that reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_is_submitted_file_by_file_with_a_summary() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    let tokens = dir.path().join("tokens");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::create_dir_all(&tokens).unwrap();
    let taxonomies = juesuan::domain::taxonomy::Taxonomies::built_in().unwrap();
    let taxonomy = taxonomies
        .get(juesuan::domain::ids::FiscalYear::new(2024).unwrap())
        .unwrap();
    let good = corrected_reference();
    std::fs::write(
        inbox.join("a-good.xlsx"),
        juesuan::workbook::write(taxonomy, Some(&good)).unwrap(),
    )
    .unwrap();
    let mut second = good.clone();
    second.narrative.pop();
    std::fs::write(
        inbox.join("b-second.json"),
        juesuan::cli::json::to_json("Disclosure", &second),
    )
    .unwrap();
    // 公开05 with one code on two rows.
    let mut broken = good.clone();
    let t05 = broken.tables.iter_mut().find(|t| t.code == "T05").unwrap();
    t05.rows[1].code = t05.rows[0].code.clone();
    std::fs::write(
        inbox.join("c-damaged.xlsx"),
        juesuan::workbook::write(taxonomy, Some(&broken)).unwrap(),
    )
    .unwrap();
    std::fs::write(inbox.join("notes.txt"), "not a disclosure").unwrap();
    std::fs::write(
        tokens.join(format!("{UNIT}.token")),
        app.token(UNIT, pb::Role::Submitter).await,
    )
    .unwrap();

    // The caller's own token is not the unit's: only the token directory's can submit.
    let reader = app.token(DEPARTMENT, pb::Role::Reader).await;
    let run = juesuan(
        &app,
        &reader,
        &[
            "submit",
            inbox.to_str().unwrap(),
            "--token-dir",
            tokens.to_str().unwrap(),
        ],
    );
    let summary = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{summary}");
    assert!(
        summary.contains("| a-good.xlsx | 652300101 | version 1 (pending review)"),
        "{summary}"
    );
    assert!(
        summary.contains("| b-second.json | 652300101 | version 2 (pending review)"),
        "{summary}"
    );
    assert!(
        summary.contains(
            "| c-damaged.xlsx |  | REFUSED: 公开05 一般公共预算财政拨款支出决算表!E11: 207 "
        ),
        "{summary}"
    );
    assert!(
        summary.contains("2 submitted, 1 refused, of 3 files"),
        "{summary}"
    );
    assert!(!summary.contains("notes.txt"));
    assert_eq!(app.count_rows("submissions").await, 2);

    let out = dir.path().join("out");
    let import = juesuan(
        &app,
        "",
        &[
            "import",
            inbox.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
    );
    let summary = String::from_utf8_lossy(&import.stdout);
    assert_eq!(import.status.code(), Some(1), "{summary}");
    assert!(
        summary.contains("1 imported, 1 refused, of 2 files"),
        "{summary}"
    );
    let written: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(written, ["a-good.json"]);
}

/// `juesuan narrative` drafts the 公开说明 from the figures (and last year's, for the changes); submitted as drafted,
/// the narrative checks find nothing to say.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drafted_narrative_passes_the_narrative_checks() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    let dir = tempfile::tempdir().unwrap();
    let this_year = corrected_reference();
    // Last year: every amount of 公开01 a tenth lower, so that the draft states changes and rates.
    let mut last_year = this_year.clone();
    for row in &mut last_year.tables[0].rows {
        for cell in &mut row.cells {
            let value = cell.value.as_mut().unwrap();
            let amount: rust_decimal::Decimal = value.value.parse().unwrap();
            value.value = (amount * rust_decimal::Decimal::new(9, 1))
                .round_dp(2)
                .to_string();
        }
    }
    let file = dir.path().join("this.json");
    let last = dir.path().join("last.json");
    std::fs::write(&file, juesuan::cli::json::to_json("Disclosure", &this_year)).unwrap();
    std::fs::write(&last, juesuan::cli::json::to_json("Disclosure", &last_year)).unwrap();
    let drafted = juesuan(
        &app,
        "",
        &[
            "narrative",
            file.to_str().unwrap(),
            "--last-year",
            last.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert!(
        drafted.status.success(),
        "{}",
        String::from_utf8_lossy(&drafted.stderr)
    );
    let disclosure: pb::Disclosure =
        juesuan::cli::json::from_json("Disclosure", &String::from_utf8_lossy(&drafted.stdout))
            .unwrap();
    let text: String = disclosure
        .narrative
        .iter()
        .map(|s| s.text.as_str())
        .collect();
    assert!(
        text.contains("本年收入合计8190.84万元，比上年增加"),
        "{text}"
    );
    assert!(text.contains("【请填写"), "{text}");
    assert!(text.contains("实有人数269人"), "{text}");

    let report = submit_without_narrative_findings(&app, "drafted", disclosure, &text).await;
    assert_eq!(report.error_count, 0, "{:#?}", report.findings);

    // From the service, with the budget system's budget for the 预决算差异 sentences: submitted as drafted, still
    // nothing to say.
    let figure = |table: &str, column: &str| pb::BudgetFigure {
        table: table.into(),
        row: "total".into(),
        column: column.into(),
        value: Some(pb::Decimal {
            value: "6000.00".into(),
        }),
    };
    app.budget_system()
        .await
        .put_budget(pb::PutBudgetRequest {
            idempotency_key: "narrative-budget".into(),
            unit_code: UNIT.into(),
            fiscal_year: 2024,
            figures: vec![figure("T04", "expenditure"), figure("T05", "total")],
        })
        .await
        .expect("budget");
    let submitter = app.token(UNIT, pb::Role::Submitter).await;
    let with_budget = juesuan(
        &app,
        &submitter,
        &[
            "narrative",
            "--unit",
            UNIT,
            "--year",
            "2024",
            "--format",
            "json",
        ],
    );
    assert!(
        with_budget.status.success(),
        "{}",
        String::from_utf8_lossy(&with_budget.stderr)
    );
    let drafted: pb::Disclosure =
        juesuan::cli::json::from_json("Disclosure", &String::from_utf8_lossy(&with_budget.stdout))
            .unwrap();
    let budgeted: String = drafted.narrative.iter().map(|s| s.text.as_str()).collect();
    assert!(
        budgeted.contains("年初预算数6000.00万元，决算数7070.64万元，预决算差异率17.84%"),
        "{budgeted}"
    );
    submit_without_narrative_findings(&app, "drafted-with-budget", drafted, &budgeted).await;

    // The stored version drafted again as Markdown (no 2023 accepted version, so no change stated).
    let reviewer = app.token(DEPARTMENT, pb::Role::Reviewer).await;
    let stored = juesuan(
        &app,
        &reviewer,
        &["narrative", "--unit", UNIT, "--year", "2024"],
    );
    let markdown = String::from_utf8_lossy(&stored.stdout);
    assert!(
        stored.status.success(),
        "{}",
        String::from_utf8_lossy(&stored.stderr)
    );
    assert!(
        markdown.contains("## 收入支出决算总体情况说明"),
        "{markdown}"
    );
    assert!(markdown.contains("本年收入合计8190.84万元；"), "{markdown}");
    assert!(!markdown.contains("比上年"), "{markdown}");

    // A Word document of the same draft.
    let docx = dir.path().join("draft.docx");
    let written = juesuan(
        &app,
        "",
        &[
            "narrative",
            file.to_str().unwrap(),
            "--format",
            "docx",
            "-o",
            docx.to_str().unwrap(),
        ],
    );
    assert!(
        written.status.success(),
        "{}",
        String::from_utf8_lossy(&written.stderr)
    );
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&docx).unwrap()).unwrap();
    let mut body = String::new();
    std::io::Read::read_to_string(
        &mut archive.by_name("word/document.xml").unwrap(),
        &mut body,
    )
    .unwrap();
    assert!(body.contains("本年收入合计8190.84万元"), "{body}");
}

/// Submits a drafted disclosure as the unit and holds that no narrative check found anything; its report.
async fn submit_without_narrative_findings(
    app: &TestApp,
    key: &str,
    disclosure: pb::Disclosure,
    text: &str,
) -> pb::ValidationReport {
    let report = app
        .submitter(UNIT)
        .await
        .submit(crate::helpers::submit_request(key, disclosure))
        .await
        .expect("submitted")
        .into_inner()
        .submission
        .unwrap()
        .report
        .unwrap();
    let narrative: Vec<&pb::Finding> = report
        .findings
        .iter()
        .filter(|f| f.rule_id.starts_with("NAR-"))
        .collect();
    assert!(narrative.is_empty(), "{narrative:#?}\n{text}");
    report
}
