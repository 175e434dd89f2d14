//! Classification codes through the server: every code of the year's list is accepted, a well-formed code the
//! list lacks is a warning and consolidates, and a code the next year's change list removed is an error naming its
//! replacement — with last year's figures compared under the replacement.

use std::{collections::BTreeMap, path::Path};

use juesuan::{
    domain::{ids::FiscalYear, taxonomy::Taxonomies},
    pb,
};

use crate::{
    consolidation::{cell, consolidated},
    helpers::{DEPARTMENT, TestApp, UNIT, submit_request, taxonomy_dir},
    submissions::corrected_reference,
};

fn amount(value: &str) -> Option<pb::Decimal> {
    Some(pb::Decimal {
        value: value.into(),
    })
}

fn t05(disclosure: &mut pb::Disclosure) -> &mut pb::Table {
    disclosure
        .tables
        .iter_mut()
        .find(|t| t.code == "T05")
        .expect("T05")
}

fn with_ids<'r>(report: &'r pb::ValidationReport, prefix: &str) -> Vec<&'r pb::Finding> {
    report
        .findings
        .iter()
        .filter(|f| f.rule_id.starts_with(prefix))
        .collect()
}

async fn validate(app: &TestApp, disclosure: pb::Disclosure) -> pb::ValidationReport {
    app.submitter(UNIT)
        .await
        .validate(pb::ValidateRequest {
            disclosure: Some(disclosure),
        })
        .await
        .expect("validates")
        .into_inner()
        .report
        .unwrap()
}

/// Submits, explains every warning, and has the department accept it.
async fn submit_and_accept(app: &TestApp, key: &str, disclosure: pb::Disclosure) -> pb::Submission {
    let year = disclosure.cover.as_ref().unwrap().fiscal_year;
    let mut client = app.submitter(UNIT).await;
    let submission = client
        .submit(submit_request(key, disclosure))
        .await
        .expect("submits")
        .into_inner()
        .submission
        .unwrap();
    let report = submission.report.clone().unwrap();
    assert_eq!(report.error_count, 0, "{:#?}", report.findings);
    let explanations = report
        .findings
        .iter()
        .filter(|f| f.severity == pb::Severity::Warning as i32)
        .map(|f| (f.key.clone(), "已核实".to_owned()))
        .collect();
    client
        .explain_findings(pb::ExplainFindingsRequest {
            unit_code: UNIT.into(),
            fiscal_year: year,
            version: submission.version,
            explanations,
        })
        .await
        .expect("explains");
    app.reviewer(DEPARTMENT)
        .await
        .accept(pb::AcceptRequest {
            unit_code: UNIT.into(),
            fiscal_year: year,
            version: submission.version,
            comment: String::new(),
        })
        .await
        .expect("accepts");
    submission
}

#[tokio::test]
async fn every_code_of_the_2024_list_is_accepted() {
    let taxonomies = Taxonomies::load(&taxonomy_dir()).unwrap();
    let taxonomy = taxonomies.get(FiscalYear::new(2024).unwrap()).unwrap();
    let list = &taxonomy.code_lists["functional"];
    // One yuan on every leaf, each parent the sum of its children: every hierarchy sum holds.
    let mut values: BTreeMap<&str, u64> = BTreeMap::new();
    for (code, _) in list.entries().iter().rev() {
        let children: u64 = list
            .entries()
            .range(code.clone()..)
            .skip(1)
            .take_while(|(c, _)| c.starts_with(code.as_str()))
            .filter(|(c, _)| list.parent_of(c) == Some(code.as_str()))
            .map(|(c, _)| values[c.as_str()])
            .sum();
        values.insert(code, children.max(1));
    }
    let total: u64 = list
        .entries()
        .iter()
        .filter(|(_, e)| e.level == 1)
        .map(|(c, _)| values[c.as_str()])
        .sum();
    let mut disclosure = corrected_reference();
    let table = t05(&mut disclosure);
    table.rows = values
        .iter()
        .map(|(code, value)| ((*code).to_owned(), *value))
        .chain([("total".to_owned(), total)])
        .map(|(code, value)| pb::Row {
            code,
            label: String::new(),
            cells: ["total", "basic"]
                .iter()
                .map(|column| pb::Cell {
                    column: (*column).into(),
                    value: amount(&format!("{value}.00")),
                })
                .collect(),
        })
        .collect();
    assert!(table.rows.len() > 1500, "{} rows", table.rows.len());

    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    let report = validate(&app, disclosure).await;
    assert!(
        with_ids(&report, "CODE-").is_empty(),
        "{:#?}",
        with_ids(&report, "CODE-")
    );
    assert!(
        with_ids(&report, "HIER").is_empty(),
        "{:#?}",
        with_ids(&report, "HIER")
    );
}

#[tokio::test]
async fn an_unlisted_code_is_one_warning_and_consolidates_like_any_other() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    let mut disclosure = corrected_reference();
    // 2070698 is well formed, under 20706 新闻出版电影, and not in the 2024 list.
    let row = t05(&mut disclosure)
        .rows
        .iter_mut()
        .find(|r| r.code == "2070605")
        .unwrap();
    row.code = "2070698".into();
    row.label = "地方出版事务".into();

    let report = validate(&app, disclosure.clone()).await;
    let codes = with_ids(&report, "CODE-");
    assert_eq!(codes.len(), 1, "{codes:#?}");
    let finding = codes[0];
    assert_eq!(finding.rule_id, "CODE-UNLISTED");
    assert_eq!(finding.severity, pb::Severity::Warning as i32);
    for named in ["2070698", "地方出版事务", "20706"] {
        assert!(finding.message.contains(named), "{}", finding.message);
    }
    assert_eq!(report.error_count, 0, "{:#?}", report.findings);
    assert!(
        with_ids(&report, "HIER").is_empty(),
        "the hierarchy sums count it"
    );

    submit_and_accept(&app, "unlisted", disclosure).await;
    let department = consolidated(&app, DEPARTMENT).await;
    assert_eq!(
        cell(&department.tables, "T05", "2070698", "total"),
        Some("6588.51")
    );
    let label = &department
        .tables
        .iter()
        .find(|t| t.code == "T05")
        .unwrap()
        .rows
        .iter()
        .find(|r| r.code == "2070698")
        .unwrap()
        .label;
    assert_eq!(label, "（未列入当年科目表）");
    assert_eq!(
        cell(&department.tables, "T05", "207", "total"),
        Some("7057.75")
    );
}

#[tokio::test]
async fn a_malformed_code_or_one_without_its_class_is_an_error() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    // 209 is no 类 of the list: well formed, but nowhere to place it.
    let mut disclosure = corrected_reference();
    t05(&mut disclosure).rows.push(pb::Row {
        code: "2090101".into(),
        label: "某事务".into(),
        cells: vec![pb::Cell {
            column: "total".into(),
            value: amount("0.00"),
        }],
    });
    let report = validate(&app, disclosure).await;
    let codes = with_ids(&report, "CODE-");
    assert_eq!(codes.len(), 1, "{codes:#?}");
    assert_eq!(codes[0].rule_id, "CODE-UNKNOWN-CLASS");
    assert_eq!(codes[0].severity, pb::Severity::Error as i32);
    assert!(codes[0].message.contains("209"), "{}", codes[0].message);

    // Six digits is no level of the list: refused whole, naming the row.
    let mut malformed = corrected_reference();
    t05(&mut malformed).rows[2].code = "207069".into();
    let status = app
        .submitter(UNIT)
        .await
        .validate(pb::ValidateRequest {
            disclosure: Some(malformed),
        })
        .await
        .expect_err("refused");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        crate::helpers::violated_fields(&status),
        ["disclosure.tables[4].rows[2].code"]
    );
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The shipped taxonomy, with 2025 removing 2070605 出版发行 in favour of 2070699, and a 2025 rule comparing
/// 2070699 with last year's.
fn taxonomy_where_2025_removes_a_code() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    copy_tree(&taxonomy_dir(), root.path());
    std::fs::write(
        root.path().join("2025/codes/functional-changes.tsv"),
        "-\t2070605\t2070699\n",
    )
    .unwrap();
    std::fs::write(
        root.path().join("2025/rules/70-codes.rules"),
        "rule TEST-YOY-2070699 warning \"2070699 {provided} against last year's {expected}\"\n  \
         check T05[2070699, total] == last_year(T05[2070699, total])\n",
    )
    .unwrap();
    root
}

#[tokio::test]
async fn a_code_removed_the_next_year_is_an_error_naming_its_replacement_and_last_year_is_read_under_it()
 {
    let taxonomy = taxonomy_where_2025_removes_a_code();
    let app = TestApp::spawn_with_taxonomy(taxonomy.path()).await;
    app.register_reference_units().await;
    // 2024: 2070605 6588.51, 2070699 0.00 — accepted.
    submit_and_accept(&app, "y2024", corrected_reference()).await;

    let restated = || {
        let mut d = corrected_reference();
        d.cover.as_mut().unwrap().fiscal_year = 2025;
        d
    };
    // 2025 still using 2070605.
    let report = validate(&app, restated()).await;
    let removed = with_ids(&report, "CODE-");
    assert_eq!(removed.len(), 1, "{removed:#?}");
    assert_eq!(removed[0].rule_id, "CODE-REMOVED");
    assert_eq!(removed[0].severity, pb::Severity::Error as i32);
    for named in ["2070605", "2070699"] {
        assert!(removed[0].message.contains(named), "{}", removed[0].message);
    }
    // Last year's 2070605 is read as 2070699: 0.00 this year against 6588.51.
    let compared = with_ids(&report, "TEST-YOY-2070699");
    assert_eq!(compared.len(), 1, "{:#?}", report.findings);
    assert_eq!(compared[0].provided.as_ref().unwrap().value, "0.00");
    assert_eq!(compared[0].expected.as_ref().unwrap().value, "6588.51");

    // Under the replacement, the code is right and the figures agree with last year's.
    let mut moved = restated();
    let rows = &mut t05(&mut moved).rows;
    rows.retain(|r| r.code != "2070699");
    rows.iter_mut().find(|r| r.code == "2070605").unwrap().code = "2070699".into();
    let report = validate(&app, moved).await;
    assert!(
        with_ids(&report, "CODE-").is_empty(),
        "{:#?}",
        report.findings
    );
    assert!(
        with_ids(&report, "TEST-YOY").is_empty(),
        "{:#?}",
        with_ids(&report, "TEST-YOY")
    );
}

fn juesuan(args: &[&str]) -> (bool, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_juesuan"))
        .args(args)
        .output()
        .expect("the binary runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_code_list_round_trips_through_the_ministrys_layouts() {
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let taxonomy = taxonomy_dir().to_str().unwrap().to_owned();
    let unchanged = "0 added, 0 removed, 0 renamed";

    // Written out as the ministry prints it, read back: nothing changes, in both layouts.
    for (file, split) in [("joined.xlsx", false), ("split.xlsx", true)] {
        let mut args = vec!["taxonomy", "codes", "export", "--year", "2024", "-o"];
        let path = at(file);
        args.push(&path);
        args.extend(["--taxonomy-dir", &taxonomy]);
        if split {
            args.push("--split");
        }
        let (ok, out, err) = juesuan(&args);
        assert!(ok, "{out}{err}");
        let tree = at(&format!("{file}.tree"));
        let (ok, out, err) = juesuan(&[
            "taxonomy",
            "codes",
            "import",
            &path,
            "--year",
            "2024",
            "-o",
            &tree,
            "--taxonomy-dir",
            &taxonomy,
        ]);
        assert!(ok, "{out}{err}");
        assert!(out.contains(unchanged), "{file}: {out}");
        assert_eq!(
            std::fs::read_to_string(format!("{tree}/2024/codes/functional.tsv"))
                .unwrap()
                .lines()
                .filter(|l| !l.starts_with('#'))
                .collect::<Vec<_>>(),
            std::fs::read_to_string(format!("{taxonomy}/2024/codes/functional.tsv"))
                .unwrap()
                .lines()
                .filter(|l| !l.starts_with('#') && !l.is_empty())
                .collect::<Vec<_>>(),
        );
    }

    // A provincial list as Chinese Excel saves CSV (GB18030): one 项 added, one renamed, one removed.
    let taxonomies = Taxonomies::load(&taxonomy_dir()).unwrap();
    let list = &taxonomies
        .get(FiscalYear::new(2024).unwrap())
        .unwrap()
        .code_lists["functional"];
    let mut csv = String::from("2024年支出功能分类科目\n科目编码,科目名称,说明\n");
    for (code, entry) in list.entries() {
        let name = match code.as_str() {
            "2070605" => "出版发行与印刷",
            "2070699" => continue,
            _ => &entry.name,
        };
        let indent = "　".repeat(usize::from(entry.level - 1) * 2);
        csv.push_str(&format!("{code},{indent}{name},\n"));
        if code == "2070607" {
            csv.push_str("2070608,　　　　其中：数字出版,\n");
        }
    }
    let (bytes, _, _) = encoding_rs::GB18030.encode(&csv);
    std::fs::write(at("province.csv"), &bytes).unwrap();
    let tree = at("province.tree");
    let (ok, out, err) = juesuan(&[
        "taxonomy",
        "codes",
        "import",
        &at("province.csv"),
        "--year",
        "2024",
        "-o",
        &tree,
        "--taxonomy-dir",
        &taxonomy,
    ]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("1 added, 1 removed, 1 renamed"), "{out}");
    for line in [
        "+ 2070608 数字出版",
        "- 2070699 其他新闻出版电影支出",
        "~ 2070605 出版发行 → 出版发行与印刷",
    ] {
        assert!(out.contains(line), "{line}: {out}");
    }
    // The tree written is usable: 2025 still extends it, and the two years compare.
    let (ok, out, err) = juesuan(&[
        "taxonomy",
        "codes",
        "diff",
        "2024",
        "2025",
        "--taxonomy-dir",
        &tree,
    ]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("+ 2170404 中央金融机构注资特别国债支出"),
        "{out}"
    );

    // A list with a problem writes nothing, and says where.
    std::fs::write(
        at("broken.csv"),
        "科目编码,科目名称\n207,文化旅游体育与传媒支出\n20706,新闻出版电影\n20706,新闻出版\n2079901,无上级\n",
    )
    .unwrap();
    let (ok, out, err) = juesuan(&[
        "taxonomy",
        "codes",
        "import",
        &at("broken.csv"),
        "--year",
        "2024",
        "-o",
        &at("broken.tree"),
        "--taxonomy-dir",
        &taxonomy,
    ]);
    assert!(!ok, "{out}");
    assert!(err.contains("broken!4") && err.contains("twice"), "{err}");
    assert!(
        err.contains("broken!5") && err.contains("parent 20799"),
        "{err}"
    );
    assert!(!Path::new(&at("broken.tree")).exists());
}

#[test]
fn the_shipped_years_compare() {
    let taxonomy = taxonomy_dir();
    let (ok, out, err) = juesuan(&[
        "taxonomy",
        "codes",
        "diff",
        "2024",
        "2025",
        "--taxonomy-dir",
        taxonomy.to_str().unwrap(),
    ]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("3 added, 0 removed, 0 renamed"), "{out}");
    assert!(
        out.contains("+ 22911 中央金融机构注资特别国债财务基金支出"),
        "{out}"
    );
}
