//! The newcomer's path through the real binary: `juesuan demo` fills a data directory, the service serves it, and
//! `juesuan consolidated` shows the region's tables, explains a cell down to units and lists who is missing.
//! Also `juesuan bench consolidation` at a small size: it runs and checks its own figures.

use std::{path::Path, process::Output};

use juesuan::{
    pb,
    service::submission::Limits,
    synthetic::{MISMATCH, Prefecture, Role, Spec, wan},
};
use rust_decimal::Decimal;
use tempfile::TempDir;

use crate::helpers::TestApp;

/// The size the tests give the demo: 2 counties, 2 departments each, 3 units per department, 8 项 rows.
const SIZE: [&str; 8] = [
    "--counties",
    "2",
    "--departments",
    "2",
    "--units",
    "3",
    "--items",
    "8",
];

fn spec() -> Spec {
    Spec {
        counties: 2,
        departments_per_county: 2,
        units_per_department: 3,
        items_per_unit: 8,
        ..Spec::demo()
    }
}

async fn juesuan(args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_juesuan"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("JUESUAN_SERVER")
        .output()
        .await
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn explain_sum(e: &pb::CellExplanation) -> (Decimal, Decimal) {
    let value = |d: &Option<pb::Decimal>| -> Decimal { d.as_ref().unwrap().value.parse().unwrap() };
    let parts = value(&e.own)
        + e.children.iter().map(|c| value(&c.value)).sum::<Decimal>()
        + e.eliminations
            .iter()
            .map(|x| value(&x.amount))
            .sum::<Decimal>();
    (value(&e.value), parts)
}

async fn run_demo(dir: &Path) -> Output {
    let data_dir = dir.to_str().unwrap();
    let mut args = vec![
        "demo",
        "--data-dir",
        data_dir,
        "--listen",
        "127.0.0.1:0",
        "--no-serve",
    ];
    args.extend(SIZE);
    juesuan(&args).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_runs_the_demo_and_sees_the_region_explained_and_who_is_missing() {
    let dir = TempDir::new().unwrap();
    let output = run_demo(dir.path()).await;
    let text = stdout(&output);
    assert!(
        output.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let prefecture = Prefecture::new(spec()).with_mistakes();
    let scenario = &prefecture.scenario;
    let code = |i: usize| prefecture.nodes[i].code.clone();
    for &i in &scenario.never_submitted {
        assert!(
            text.contains(&format!("{} ", code(i))) && text.contains("never submitted"),
            "{text}"
        );
    }
    assert!(
        text.contains("T01-BAL-001"),
        "the broken unit's rejection is shown: {text}"
    );
    assert!(
        text.contains("juesuan consolidated --node 652300"),
        "{text}"
    );
    // The review chain ran: one unit returned with a reason, one department locked, token files to use.
    let returned = code(scenario.returned.unwrap());
    assert!(text.contains(&format!("returned: {returned}")), "{text}");
    let locked = code(scenario.locked_department.unwrap());
    assert!(text.contains(&format!("locked (封账): {locked}")), "{text}");
    assert!(text.contains("export JUESUAN_TOKEN_FILE="), "{text}");

    // Running it again on the same directory refuses, and says what to do.
    let again = run_demo(dir.path()).await;
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds"));

    let app = TestApp::spawn_with(dir, Limits::default()).await;
    let mut client = pb::consolidation_client::ConsolidationClient::new(app.channel().await);
    let region = client
        .get_consolidated(pb::GetConsolidatedRequest {
            node_code: "652300".into(),
            fiscal_year: 2024,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let expected = prefecture.expected() as u32;
    assert_eq!(region.units_expected, expected);
    assert_eq!(
        region.units_counted,
        expected - 4,
        "two missing, one rejected, one returned"
    );
    assert!(region.partial);
    // The mismatched department is the one elimination finding (departments missing a unit are not compared).
    let department = code(scenario.mismatched_department.unwrap());
    assert_eq!(
        region.elimination_findings.len(),
        1,
        "{:?}",
        region.elimination_findings
    );
    let finding = &region.elimination_findings[0];
    assert_eq!(finding.rule_id, "EL-SUBSIDY");
    assert_eq!(finding.cells[0].unit_code, department);
    assert_eq!(
        finding.difference.as_ref().unwrap().value,
        wan(MISMATCH),
        "the difference is what the department over-reported"
    );

    // Every consolidated node balances, and its only findings are the 未抵销差额 its lines explain.
    let mut unmatched_seen = Vec::new();
    for node in prefecture.nodes.iter().filter(|n| n.role != Role::Unit) {
        let view = client
            .get_consolidated(pb::GetConsolidatedRequest {
                node_code: node.code.clone(),
                fiscal_year: 2024,
                tables: vec!["T01".into()],
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let t01 = view.tables.iter().find(|t| t.code == "T01").unwrap();
        let cell = |row: &str| -> Decimal {
            t01.rows
                .iter()
                .find(|r| r.code == row)
                .and_then(|r| r.cells.first())
                .map_or(Decimal::ZERO, |c| {
                    c.value.as_ref().unwrap().value.parse().unwrap()
                })
        };
        assert!(cell("income_grand_total") > Decimal::ZERO, "{}", node.code);
        assert_eq!(
            cell("income_grand_total"),
            cell("expenditure_grand_total"),
            "收入总计 = 支出总计 at {}",
            node.code
        );
        for finding in &view.findings {
            assert_eq!(
                finding.rule_id, "CONS-ELIM-001",
                "{}: {}",
                node.code, finding.message
            );
            let payer = &finding.cells[0].unit_code;
            assert!(
                view.unmatched
                    .iter()
                    .any(|l| &l.payer.as_ref().unwrap().code == payer && l.beyond_rounding),
                "{}: a line explains {}",
                node.code,
                finding.message
            );
        }
        for line in &view.unmatched {
            let amount =
                |d: &Option<pb::Decimal>| -> Decimal { d.as_ref().unwrap().value.parse().unwrap() };
            // What stays and what was eliminated add up to what each side states.
            assert_eq!(
                amount(&line.matched) + amount(&line.payer_unmatched),
                amount(&line.payer_amount)
            );
            assert_eq!(
                amount(&line.matched) + amount(&line.payees_unmatched),
                amount(&line.counted_amount)
            );
            unmatched_seen.push((line.payer.as_ref().unwrap().code.clone(), line.reason));
        }
    }
    // The over-reporting department differs in amount; a department with a unit not counted says so.
    assert!(unmatched_seen.contains(&(
        department.clone(),
        pb::UnmatchedReason::AmountsDiffer as i32
    )));
    assert!(
        unmatched_seen
            .iter()
            .any(|(_, reason)| *reason == pb::UnmatchedReason::PayeeNotCounted as i32),
        "{unmatched_seen:?}"
    );

    // A cell explained at every level adds up, and the department level shows eliminations by unit.
    let explain = |node: &str| pb::ExplainCellRequest {
        node_code: node.into(),
        fiscal_year: 2024,
        table: "T01".into(),
        row: "income_total".into(),
        column: "amount".into(),
        ..Default::default()
    };
    for node in ["652300", "652301", department.as_str()] {
        let e = client
            .explain_cell(explain(node))
            .await
            .unwrap()
            .into_inner();
        let (value, parts) = explain_sum(&e);
        assert_eq!(
            value, parts,
            "{node}: value = own + children + eliminations"
        );
        assert!(value > Decimal::ZERO);
        if node == department {
            assert!(
                e.eliminations
                    .iter()
                    .any(|x| x.pair_id == "EL-SUBSIDY" && x.side == "child")
            );
        }
    }

    // The CLI, against the served directory.
    let server = app.address.clone();
    let token = app
        .data_dir
        .path()
        .join("region-reviewer.token")
        .to_str()
        .unwrap()
        .to_owned();
    let cli = |extra: &[&str]| {
        let mut args = vec![
            "consolidated",
            "--node",
            "652300",
            "--year",
            "2024",
            "--token-file",
            &token,
            "--server",
        ];
        args.push(&server);
        args.extend_from_slice(extra);
        args.iter().map(|s| s.to_string()).collect::<Vec<String>>()
    };
    let run = |args: Vec<String>| async move {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        juesuan(&args).await
    };
    let tables = run(cli(&["--table", "T01"])).await;
    let tables_text = stdout(&tables);
    assert!(tables.status.success(), "{tables_text}");
    assert!(
        tables_text.contains("T01 收入支出决算总表"),
        "{tables_text}"
    );
    // Rows and columns by the names the tables give them, not internal keys.
    assert!(tables_text.contains("  本年收入合计"), "{tables_text}");
    assert!(tables_text.contains("决算数"), "{tables_text}");
    assert!(!tables_text.contains("income_total"), "{tables_text}");
    assert!(tables_text.contains("PARTIAL"), "{tables_text}");
    assert!(tables_text.contains("EL-SUBSIDY"), "{tables_text}");
    assert!(tables_text.contains("未抵销差额"), "{tables_text}");
    assert!(tables_text.contains("CONS-ELIM-001"), "{tables_text}");

    let explained = run(cli(&[
        "--explain",
        "T01:income_total:amount",
        "--depth",
        "3",
    ]))
    .await;
    let explained_text = stdout(&explained);
    assert!(explained.status.success(), "{explained_text}");
    // Down to units: every submitted unit appears, with the eliminations at its department.
    let a_unit = prefecture
        .nodes
        .iter()
        .find(|n| n.role == Role::Unit)
        .unwrap();
    assert!(explained_text.contains(&a_unit.code), "{explained_text}");
    assert!(explained_text.contains("EL-SUBSIDY"), "{explained_text}");

    let missing = run(cli(&["--completeness", "--missing"])).await;
    let missing_text = stdout(&missing);
    assert!(missing.status.success(), "{missing_text}");
    let mut listed: Vec<&str> = missing_text
        .lines()
        .skip(2)
        .filter_map(|line| line.split_whitespace().find(|w| w.starts_with("6523")))
        .collect();
    listed.sort();
    let mut expected_missing: Vec<String> = scenario
        .never_submitted
        .iter()
        .chain(scenario.rejected.iter())
        .chain(scenario.returned.iter())
        .map(|i| code(*i))
        .collect();
    expected_missing.sort();
    assert_eq!(listed, expected_missing, "{missing_text}");
    // The whole list marks the locked department and its units.
    let all = stdout(&run(cli(&["--completeness"])).await);
    let locked: Vec<&str> = all
        .lines()
        .filter(|l| l.contains("[locked]"))
        .filter_map(|line| line.split_whitespace().find(|w| w.starts_with("6523")))
        .collect();
    let department = scenario.locked_department.unwrap();
    let mut expected_locked: Vec<String> = prefecture
        .nodes
        .iter()
        .enumerate()
        .filter(|(i, n)| *i == department || n.parent == Some(department))
        .map(|(_, n)| n.code.clone())
        .collect();
    expected_locked.sort();
    let mut locked: Vec<String> = locked.into_iter().map(str::to_owned).collect();
    locked.sort();
    assert_eq!(locked, expected_locked, "{all}");
    app.stop().await;
}

#[tokio::test]
async fn the_consolidation_bench_runs_small_and_checks_its_own_figures() {
    let work = TempDir::new().unwrap();
    let output = juesuan(&[
        "bench",
        "consolidation",
        "--counties",
        "1",
        "--departments",
        "2",
        "--units",
        "3",
        "--items",
        "5",
        "--runs",
        "2",
        "--updates",
        "3",
        "--sql-runs",
        "1",
        "--work-dir",
        work.path().to_str().unwrap(),
    ])
    .await;
    let text = stdout(&output);
    let progress = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{text}\n{progress}");
    // Piped, progress comes as whole lines: no carriage return to redraw a bar.
    assert!(
        progress.contains("accepting versions after the checkpoint: 1,000/1,000\n"),
        "{progress}"
    );
    assert!(!progress.contains('\r'), "{progress:?}");
    for line in [
        "1 region → 1 county → 2 departments → 6 units; 8 disclosures",
        "incremental == full recompute: exact, 4 consolidated nodes compared",
        "SQL == in memory: exact, 4 consolidated nodes compared",
        "rebuilt == computed: exact",
        "ratio SQL / in memory",
        "restart after a crash (checkpoint + 1,000 accepted versions after it, ",
        "recovered == before the crash: exact",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
}

#[tokio::test]
async fn size_flags_out_of_range_are_refused_with_the_range() {
    let output = juesuan(&["bench", "consolidation", "--items", "61"]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("--items must be between 1 and 60, not 61")
    );
}
