//! The workbook corpus (`tests/workbooks/`, written by `cargo run --example workbook_corpus`): one unit's figures
//! in the layouts units really print, and damaged copies. Every good workbook must import to exactly the unit's
//! figures (a zero may be printed or left out), every damaged one must be refused naming its cell; none may be
//! read with a figure wrong.

use std::collections::BTreeSet;

use juesuan::workbook::{ImportOptions, MoneyUnit, read_files, read_with};

fn corpus() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workbooks")
}

fn options_of(value: &serde_json::Value) -> ImportOptions {
    ImportOptions {
        unit_code: value["unit"].as_str().map(str::to_owned),
        fiscal_year: value["year"].as_u64().map(|y| y as u32),
        amount_unit: value["amount_unit"].as_str().and_then(MoneyUnit::parse),
        ..Default::default()
    }
}

/// (table, row, column, value) of every figure but zeros.
type Figures = BTreeSet<(String, String, String, String)>;

fn figures_of(disclosure: &juesuan::pb::Disclosure) -> Figures {
    let mut figures = Figures::new();
    for table in &disclosure.tables {
        for row in &table.rows {
            for cell in &row.cells {
                let value = cell.value.clone().unwrap_or_default().value;
                let zero = value
                    .parse::<rust_decimal::Decimal>()
                    .is_ok_and(|v| v.is_zero());
                if !zero {
                    figures.insert((
                        table.code.clone(),
                        row.code.clone(),
                        cell.column.clone(),
                        value,
                    ));
                }
            }
        }
    }
    figures
}

#[test]
fn every_corpus_workbook_imports_to_its_figures_or_is_refused_at_its_cell() {
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(corpus().join("expected.json")).unwrap())
            .unwrap();
    let truth: Figures = expected["truth"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let part = |i: usize| f[i].as_str().unwrap().to_owned();
            (part(0), part(1), part(2), part(3))
        })
        .collect();
    let empty: Vec<&str> = expected["empty"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let taxonomies = juesuan::domain::taxonomy::Taxonomies::built_in().unwrap();
    let cases = expected["cases"].as_array().unwrap();
    assert!(
        cases.len() >= 30,
        "the corpus has {} workbooks",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in cases {
        let file = case["file"].as_str().unwrap();
        // A case is one workbook, or several files read as one (a .csv per table).
        let parts: Vec<(String, Vec<u8>)> = case["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let path = f.as_str().unwrap();
                let name = path.rsplit('/').next().unwrap().to_owned();
                (name, std::fs::read(corpus().join(path)).unwrap())
            })
            .collect();
        let read = read_files(&taxonomies, &parts, &options_of(&case["options"]));
        match (read, case["refused"].as_array()) {
            (Ok(imported), None) => {
                let got = figures_of(&imported.disclosure);
                if got != truth {
                    let wrong: Vec<_> = got.difference(&truth).take(5).collect();
                    let missing: Vec<_> = truth.difference(&got).take(5).collect();
                    failures.push(format!("{file}: read wrong {wrong:?}; missing {missing:?}"));
                }
                for code in &empty {
                    let table = imported.disclosure.tables.iter().find(|t| t.code == *code);
                    if !table.is_some_and(|t| t.declared_empty && t.rows.is_empty()) {
                        failures.push(format!("{file}: {code} is not read as an empty table"));
                    }
                }
                // A printed figure not kept that disagrees with the kept ones is said, and only then.
                let wanted: Vec<(String, String)> = case["options"]["notices"]
                    .as_array()
                    .map(|n| {
                        n.iter()
                            .map(|p| {
                                (
                                    p[0].as_str().unwrap().to_owned(),
                                    p[1].as_str().unwrap().to_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let matches = imported.notices.len() == wanted.len()
                    && wanted.iter().all(|(at, part)| {
                        imported
                            .notices
                            .iter()
                            .any(|(a, what)| a == at && what.contains(part.as_str()))
                    });
                if !matches {
                    failures.push(format!(
                        "{file}: notices {:?}, wanted {wanted:?}",
                        imported.notices
                    ));
                }
                // Every figure kept says where it came from.
                if imported.sources.len() < truth.len() {
                    failures.push(format!(
                        "{file}: {} sources for {} figures",
                        imported.sources.len(),
                        truth.len()
                    ));
                }
            }
            (Err(problems), None) => failures.push(format!(
                "{file}: refused, but should read: {}",
                problems
                    .iter()
                    .take(6)
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(" | ")
            )),
            (Ok(_), Some(_)) => failures.push(format!("{file}: read, but must be refused")),
            (Err(problems), Some(wanted)) => {
                for want in wanted {
                    let (at, part) = (want[0].as_str().unwrap(), want[1].as_str().unwrap());
                    if !problems
                        .iter()
                        .any(|p| p.at == at && p.reason.contains(part))
                    {
                        failures.push(format!(
                            "{file}: no problem at {at} with \"{part}\"; got: {}",
                            problems
                                .iter()
                                .take(6)
                                .map(|p| p.to_string())
                                .collect::<Vec<_>>()
                                .join(" | ")
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Our own export in the published layout reads back to the same figures: the unit's figures written by
/// `juesuan::workbook::write` (two-sided 公开01/04/06, one-row 公开09, 类/款/项 in three columns) and read again.
#[test]
fn the_published_layout_we_write_reads_back_to_the_same_figures() {
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(corpus().join("expected.json")).unwrap())
            .unwrap();
    let mut tables: Vec<juesuan::pb::Table> = Vec::new();
    for figure in expected["truth"].as_array().unwrap() {
        let part = |i: usize| figure[i].as_str().unwrap().to_owned();
        let position = match tables.iter().position(|t| t.code == part(0)) {
            Some(position) => position,
            None => {
                tables.push(juesuan::pb::Table {
                    code: part(0),
                    ..Default::default()
                });
                tables.len() - 1
            }
        };
        let table = &mut tables[position];
        let cell = juesuan::pb::Cell {
            column: part(2),
            value: Some(juesuan::pb::Decimal { value: part(3) }),
        };
        match table.rows.iter_mut().find(|r| r.code == part(1)) {
            Some(row) => row.cells.push(cell),
            None => table.rows.push(juesuan::pb::Row {
                code: part(1),
                label: String::new(),
                cells: vec![cell],
            }),
        }
    }
    for code in ["T07", "T08"] {
        tables.push(juesuan::pb::Table {
            code: code.to_owned(),
            declared_empty: true,
            ..Default::default()
        });
    }
    let disclosure = juesuan::pb::Disclosure {
        cover: Some(juesuan::pb::Cover {
            unit_code: "652300101".to_owned(),
            unit_name: "某某县民政局".to_owned(),
            fiscal_year: 2024,
            amount_unit: juesuan::pb::AmountUnit::TenThousandYuan as i32,
            ..Default::default()
        }),
        tables,
        ..Default::default()
    };
    let taxonomies = juesuan::domain::taxonomy::Taxonomies::built_in().unwrap();
    let taxonomy = taxonomies
        .get(juesuan::domain::ids::FiscalYear::new(2024).unwrap())
        .unwrap();
    let bytes = juesuan::workbook::write(taxonomy, Some(&disclosure)).unwrap();
    let imported = read_with(&taxonomies, &bytes, &ImportOptions::default())
        .unwrap_or_else(|p| panic!("{p:#?}"));
    assert_eq!(figures_of(&imported.disclosure), figures_of(&disclosure));
    for code in ["T07", "T08"] {
        let table = imported
            .disclosure
            .tables
            .iter()
            .find(|t| t.code == code)
            .unwrap();
        assert!(table.declared_empty, "{code} stays declared empty");
    }
    // 公开04's class rows by fund are printed from 公开05 (700.00 for 201) and listed as not kept.
    assert!(
        imported
            .not_kept
            .iter()
            .any(|(at, why)| at.starts_with("公开04") && why.starts_with("700")),
        "{:?}",
        imported.not_kept
    );
}

/// The command line on the corpus: a directory imports each workbook with a summary line (the refused ones with
/// their first problem) and exits 1; one published-layout workbook with --report prints every figure's cell and
/// writes the same beside the output.
#[test]
fn the_corpus_directory_imports_with_a_summary_and_a_report_names_every_cell() {
    let out = tempfile::tempdir().unwrap();
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_juesuan"))
        .args(["import", "--unit", "652300101", "-o"])
        .arg(out.path().join("all"))
        .arg(corpus())
        .output()
        .unwrap();
    let summary = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{summary}");
    assert!(
        summary.contains("| 02-published-yuan.xlsx | 652300101 | 9 tables"),
        "{summary}"
    );
    assert!(
        summary.contains("| 43-two-units.xlsx |  | REFUSED: the workbook: states two amount units"),
        "{summary}"
    );
    // Every workbook of the directory has its line; the good ones are written, the refused ones are not.
    let written = std::fs::read_dir(out.path().join("all")).unwrap().count();
    let lines = summary
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| file"))
        .count();
    assert!(lines >= 40, "{summary}");
    assert!(
        written >= 20 && written < lines,
        "{written} written of {lines}"
    );

    let json = out.path().join("one.json");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_juesuan"))
        .args(["import", "--unit", "652300101", "--report", "-o"])
        .arg(&json)
        .arg(corpus().join("04-unit-with-number.xlsx"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // 单位：元 shares its row with 公开01表; 编制单位：元宝区… is not a unit.
    assert!(
        said.contains("公开01\t一般公共预算财政拨款收入\t决算数\t1234.56\t公开01!C6\t12345600"),
        "{said}"
    );
    assert!(said.contains("read in 元, kept in 万元"), "{said}");
    let sources: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("one.sources.json")).unwrap(),
    )
    .unwrap();
    assert!(sources.as_array().unwrap().len() >= 200);
}
